"""The bad-input catalogue: every malformed cohort we know of, and what the user sees.

Each :class:`Case` builds a small cohort in ``tmp_path`` from a valid base cohort with one thing
wrong, and states the documented outcome:

- ``error``: ``hpd validate`` exits 1 and prints one line per problem naming the file, the row and
  the column (``FILE:ROW: COLUMN: message``); ``hpd classify`` stops with exit 2;
- ``accepted``: the loader fixes or flags it in the load report (``hpd validate`` exits 0 and
  prints the note), and ``hpd classify`` succeeds;
- ``not_evaluable``: the cohort is valid, ``hpd classify`` succeeds and the patient carries the
  documented not-evaluable reason.

Never a traceback, never a silently dropped patient (the classification has one row per patient).
The case ids are listed in the catalogue table of ``docs/bad-input.md`` (checked below).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from test_validate_errors import edit  # one cell of a CSV text replaced

from hpd_analysis.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"

PATIENTS = """patient_id,treatment_start,death_date,last_contact,os_months,os_event
P1,2021-01-10,,2021-06-01,4.7,0
P2,2021-02-01,2021-05-01,2021-05-01,2.9,1
P3,2021-03-01,,2021-09-01,6.0,0
"""
# line numbers (spreadsheet rows) in the comments: the cases below edit these rows
LESIONS = """patient_id,assessment_date,lesion_id,lesion_type,organ,diameter_mm,status
P1,2020-11-20,L1,target,lung,18,
P1,2021-01-05,L1,target,lung,20,
P1,2021-03-01,L1,target,lung,25,
P2,2020-12-10,L1,target,liver,12,
P2,2021-01-20,L1,target,liver,15,
P2,2021-01-20,N1,non_target,bone,,present
P2,2021-03-20,L1,target,liver,18,
P2,2021-03-20,N1,non_target,bone,,absent
P3,2020-12-20,L1,target,lung,26,
P3,2021-02-25,L1,target,lung,30,
P3,2021-04-20,L1,target,lung,28,
"""  # rows: P1 2-4, P2 5-9, P3 10-12


def rename(text: str, old: str, new: str) -> str:
    """``text`` with one header cell renamed."""
    head, rest = text.split("\n", 1)
    return ",".join(new if h == old else h for h in head.split(",")) + "\n" + rest


def folder(tmp: Path, patients: str | bytes | None = PATIENTS,
           lesions: str | bytes | None = LESIONS, suffix: str = ".csv") -> Path:
    """A cohort folder with ``patients`` and ``lesions`` (text or bytes; None = absent)."""
    d = tmp / "cohort"
    d.mkdir(exist_ok=True)
    for name, content in (("patients", patients), ("lesions", lesions)):
        if content is None:
            continue
        p = d / f"{name}{suffix}"
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return d


def frame(text: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text), dtype=str)


@dataclass
class Case:
    """One malformed cohort and its documented outcome."""

    id: str
    build: Callable[[Path], Path]
    outcome: str  # "error" | "accepted" | "not_evaluable"
    #: error: (file name, row, column, text in the message) for each expected line
    problems: list[tuple[str, int | None, str | None, str]] = field(default_factory=list)
    #: accepted: a load-report action printed by ``hpd validate``
    note: str | None = None
    #: not_evaluable / accepted: (patient, output column, text in the value) to check
    checks: list[tuple[str, str, str]] = field(default_factory=list)


# ------------------------------------------------------------------------------- the builders

def _missing_file(tmp: Path) -> Path:
    return tmp / "no_such_cohort"


def _wrong_parquet_dtypes(tmp: Path) -> Path:
    d = tmp / "cohort"
    d.mkdir()
    pts = frame(PATIENTS)
    pts["treatment_start"] = pts["treatment_start"].str.replace("-", "").astype("int64")
    pts.to_parquet(d / "patients.parquet", index=False)
    les = frame(LESIONS)
    les["assessment_date"] = pd.to_datetime(les["assessment_date"])
    les.loc[6, "diameter_mm"] = "15 mm"  # diameter column stored as strings, one with a unit
    les.to_parquet(d / "lesions.parquet", index=False)
    return d


def _parquet_diameter_strings(tmp: Path) -> Path:
    d = tmp / "cohort"
    d.mkdir()
    pts = frame(PATIENTS)
    pts["treatment_start"] = pd.to_datetime(pts["treatment_start"])
    pts.to_parquet(d / "patients.parquet", index=False)
    frame(LESIONS).to_parquet(d / "lesions.parquet", index=False)  # every column a string
    return d


def _excel_unnamed_sheets(tmp: Path) -> Path:
    d = folder(tmp, lesions=None)
    with pd.ExcelWriter(d / "lesions.xlsx") as xl:
        frame(LESIONS).to_excel(xl, sheet_name="Sheet1", index=False)
        frame(LESIONS).head(3).to_excel(xl, sheet_name="old export", index=False)
    return d


def _excel_role_sheets(tmp: Path) -> Path:
    path = tmp / "cohort.xlsx"
    with pd.ExcelWriter(path) as xl:
        frame(PATIENTS).to_excel(xl, sheet_name="Patients", index=False)
        frame(LESIONS).to_excel(xl, sheet_name="Lesions", index=False)
        pd.DataFrame({"note": ["exported 2021-10-01"]}).to_excel(xl, sheet_name="README",
                                                                 index=False)
    return path


def _not_a_table(tmp: Path) -> Path:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    return folder(tmp, lesions=png)


def _latin1(tmp: Path) -> Path:
    text = PATIENTS.replace("os_months,os_event", "os_months,os_event,site") \
        .replace("4.7,0\n", "4.7,0,Paris\n").replace("2.9,1\n", "2.9,1,Müller\n") \
        .replace("6.0,0\n", "6.0,0,Lyon\n")
    return folder(tmp, patients=text.encode("latin-1"))


def _only_new_lesions(tmp: Path) -> Path:
    les = LESIONS + "P4,2021-03-25,X1,new,brain,,\nP4,2021-05-20,X1,new,brain,,\n"
    return folder(tmp, PATIENTS + "P4,2021-04-01,,2021-08-01,4.0,0\n", les)


def _baseline_after_start(tmp: Path) -> Path:
    les = LESIONS + "P4,2021-04-10,L1,target,liver,22,\nP4,2021-06-01,L1,target,liver,30,\n"
    return folder(tmp, PATIENTS + "P4,2021-04-01,,2021-08-01,4.0,0\n", les)


def _scan_on_start_day(tmp: Path) -> Path:
    # P3's baseline moved to the day of treatment start (2021-03-01)
    return folder(tmp, lesions=edit(LESIONS, 11, "assessment_date", "2021-03-01"))


def _lesion_id_reused(tmp: Path) -> Path:
    return folder(tmp, lesions=edit(LESIONS, 4, "organ", "liver"))


def _cm_and_mm_rows(tmp: Path) -> Path:
    les = rename(LESIONS, "status", "diameter_cm").replace(",18,\n", ",,1.8\n", 1)
    les = les.replace(",,present\n", ",,\n").replace(",,absent\n", ",,\n")
    return folder(tmp, lesions=les)


def _mixed_dates(tmp: Path) -> Path:
    les = edit(LESIONS, 3, "assessment_date", "05/01/2021")
    return folder(tmp, lesions=edit(les, 7, "assessment_date", "20.01.2021"))


def _time_without_event(tmp: Path) -> Path:
    return folder(tmp, patients=PATIENTS.replace("os_months,os_event\n", "os_months\n", 1))


CASES: list[Case] = [
    Case("missing_file", _missing_file, "error",
         [("no_such_cohort", None, None, "no such file or folder")]),
    Case("missing_required_column",
         lambda t: folder(t, rename(PATIENTS, "treatment_start", "start")), "error",
         [("patients.csv", 1, "treatment_start", "required column treatment_start is missing")]),
    Case("duplicate_patient",
         lambda t: folder(t, PATIENTS + "P2,2021-02-02,,2021-05-01,2.0,0\n"), "error",
         [("patients.csv", 5, "patient_id", "patient P2 appears again")]),
    Case("unknown_patient_in_lesions",
         lambda t: folder(t, lesions=LESIONS + "P9,2021-03-20,L1,target,liver,18,\n"), "error",
         [("lesions.csv", 13, "patient_id", "'P9' is not in the patients table")]),
    Case("unparseable_date",
         lambda t: folder(t, edit(PATIENTS, 3, "treatment_start", "early Feb")), "error",
         [("patients.csv", 3, "treatment_start", "'early Feb' is not an ISO 8601 date")]),
    Case("impossible_date",
         lambda t: folder(t, edit(PATIENTS, 3, "treatment_start", "2021-02-30")), "error",
         [("patients.csv", 3, "treatment_start", "'2021-02-30' is not a real calendar date")]),
    Case("mixed_date_formats", _mixed_dates, "error",
         [("lesions.csv", 3, "assessment_date", "'05/01/2021' is not an ISO 8601 date (the "
           "column mixes formats"),
          ("lesions.csv", 7, "assessment_date", "'20.01.2021' is not an ISO 8601 date")]),
    Case("excel_serial_date_in_parquet_ints", _wrong_parquet_dtypes, "error",
         [("patients.parquet", 2, "treatment_start", "'20210110' is a number, not a date"),
          ("patients.parquet", 4, "treatment_start", "is a number, not a date"),
          ("lesions.parquet", 8, "diameter_mm", "'15 mm' is not a number")]),
    Case("timestamps_with_time_zones",
         lambda t: folder(t, edit(edit(PATIENTS, 2, "treatment_start",
                                       "2021-01-10T23:30:00+02:00"),
                                  3, "treatment_start", "2021-02-01T00:15:00Z")),
         "accepted", note="stripped_time",
         checks=[("P1", "treatment_start", "2021-01-10"), ("P2", "treatment_start", "2021-02-01")]),
    Case("negative_diameter",
         lambda t: folder(t, lesions=edit(LESIONS, 4, "diameter_mm", "-4")), "error",
         [("lesions.csv", 4, "diameter_mm", "'-4' is below 0")]),
    Case("non_numeric_diameter",
         lambda t: folder(t, lesions=edit(edit(LESIONS, 4, "diameter_mm", "12mm"),
                                          6, "diameter_mm", "\"12,5\"")), "error",
         [("lesions.csv", 4, "diameter_mm", "'12mm' is not a number"),
          ("lesions.csv", 6, "diameter_mm", "'12,5' is not a number")]),
    Case("target_lesion_without_diameter",
         lambda t: folder(t, lesions=edit(LESIONS, 8, "diameter_mm", "")), "error",
         [("lesions.csv", 8, "diameter_mm", "target lesion without a diameter")]),
    Case("unknown_lesion_type",
         lambda t: folder(t, lesions=edit(LESIONS, 3, "lesion_type", "tumour")), "error",
         [("lesions.csv", 3, "lesion_type", "unknown value 'tumour'")]),
    Case("same_lesion_twice_different_values",
         lambda t: folder(t, lesions=LESIONS + "P1,2021-01-05,L1,target,lung,21,\n"), "error",
         [("lesions.csv", 13, "lesion_id", "lesion L1 of patient P1 on 2021-01-05 appears "
           "again with different values (first on row 3)")]),
    Case("death_before_treatment_start",
         lambda t: folder(t, edit(PATIENTS, 3, "death_date", "2021-01-15")), "error",
         [("patients.csv", 3, "death_date", "death 2021-01-15 is before treatment_start")]),
    Case("event_flag_not_0_1",
         lambda t: folder(t, edit(edit(PATIENTS, 2, "os_event", "2"), 4, "os_event", "yes")),
         "error",
         [("patients.csv", 2, "os_event", "'2' is not 0 or 1"),
          ("patients.csv", 4, "os_event", "'yes' is not 0 or 1")]),
    Case("empty_table", lambda t: folder(t, lesions=LESIONS.split("\n", 1)[0] + "\n"), "error",
         [("lesions.csv", None, None, "table has no data rows")]),
    Case("empty_file", lambda t: folder(t, patients=b""), "error",
         [("patients.csv", None, None, "file is empty")]),
    Case("not_a_table", _not_a_table, "error",
         [("lesions.csv", None, None, "contains binary data, not a text table")]),
    Case("html_page_as_csv",
         lambda t: folder(t, lesions="<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"),
         "error", [("lesions.csv", None, None, "looks like an HTML/XML page")]),
    Case("diameter_cm_and_mm_columns",
         lambda t: folder(t, lesions=LESIONS.replace("diameter_mm,status", "diameter_mm,diameter_cm")
                          .replace(",present\n", ",\n").replace(",absent\n", ",\n")), "error",
         [("lesions.csv", 1, "diameter_cm", "both diameter_mm and diameter_cm are given")]),
    Case("diameter_cm_and_mm_on_different_rows", _cm_and_mm_rows, "error",
         [("lesions.csv", 1, "diameter_cm", "both diameter_mm and diameter_cm are given")]),
    Case("lesion_id_reused_for_another_organ", _lesion_id_reused, "accepted",
         note="lesion_organ_changed"),
    Case("baseline_scan_after_start_only", _baseline_after_start, "not_evaluable",
         checks=[("P4", "baseline_reason", "no scan on or before treatment start"),
                 ("P4", "hpd_champiat2017_status", "not_evaluable"),
                 ("P4", "hpd_champiat2017_reason", "no scan on or before treatment start")]),
    Case("scan_on_treatment_start_day", _scan_on_start_day, "accepted",
         checks=[("P3", "baseline_date", "2021-03-01"), ("P3", "sld_baseline_mm", "30"),
                 ("P3", "hpd_champiat2017_status", "not_hpd")]),
    Case("only_new_lesions", _only_new_lesions, "not_evaluable",
         checks=[("P4", "sld_baseline_reason", "no target lesion at baseline"),
                 ("P4", "hpd_champiat2017_status", "not_evaluable"),
                 ("P4", "hpd_champiat2017_reason", "no target lesion at baseline")]),
    Case("excel_several_unnamed_sheets", _excel_unnamed_sheets, "error",
         [("lesions.xlsx", None, None, "workbook has several sheets ('Sheet1', 'old export')")]),
    Case("excel_workbook_with_role_sheets_and_extra_sheet", _excel_role_sheets, "accepted"),
    Case("parquet_diameters_as_strings", _parquet_diameter_strings, "accepted",
         checks=[("P1", "sld_baseline_mm", "20")]),
    Case("non_utf8_text", _latin1, "error",
         [("patients.csv", 3, None, "byte 0xfc is not valid UTF-8")]),
    Case("ragged_csv_line",
         lambda t: folder(t, lesions=LESIONS.replace("P2,2021-01-20,L1,target,liver,15,\n",
                                                     "P2,2021-01-20,L1,target,liver,15,,x\n")),
         "error", [("lesions.csv", 6, None, "has 8 fields but the header has 7")]),
    Case("time_without_event_column", _time_without_event, "error",
         [("patients.csv", 1, "os_event", "os_months is given without os_event")]),
    Case("missing_patient_id_in_lesions",
         lambda t: folder(t, lesions=edit(LESIONS, 5, "patient_id", "")), "error",
         [("lesions.csv", 5, "patient_id", "missing patient_id")]),
]


def _big_csv(tmp: Path) -> tuple[Path, int]:
    """~200 MB lesions CSV of valid rows with one bad diameter near the end; (folder, its row)."""
    d = tmp / "big"
    d.mkdir()
    n_pat, n_dates, n_les = 50, 4, 5  # one block: 50 patients x 4 scans x 5 lesions = 1000 rows
    dates = ["2020-12-01", "2021-01-05", "2021-03-01", "2021-05-01"]
    rows = [f"B@-{p},{dates[s]},L{k},target,{'lung' if k % 2 else 'liver'},{10 + p % 7 + s}.5,"
            for p in range(n_pat) for s in range(n_dates) for k in range(n_les)]
    block = "\n".join(rows) + "\n"
    pblock = "".join(f"B@-{p},2021-01-10,,2021-06-01,4.7,0\n" for p in range(n_pat))
    n_blocks = 200 * 1024 * 1024 // len(block) + 1
    bad_block, bad_in_block = n_blocks - 2, 437
    with (d / "lesions.csv").open("w") as fh, (d / "patients.csv").open("w") as fp:
        fh.write(LESIONS.split("\n", 1)[0] + "\n")
        fp.write(PATIENTS.split("\n", 1)[0] + "\n")
        for b in range(n_blocks):
            text = block.replace("@", str(b))
            if b == bad_block:
                lines = text.split("\n")
                lines[bad_in_block] = lines[bad_in_block].replace(".5,", ".5x,")
                text = "\n".join(lines)
            fh.write(text)
            fp.write(pblock.replace("@", str(b)))
    bad_row = 2 + bad_block * len(rows) + bad_in_block
    return d, bad_row


# --------------------------------------------------------------------------------- the tests

ALL_IDS = [c.id for c in CASES] + ["big_csv_bad_row_near_the_end"]


def _validate(path: Path, capsys) -> tuple[int, str, str]:
    rc = main(["validate", str(path)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _classify(path: Path, tmp: Path, capsys) -> tuple[int, pd.DataFrame | None, str]:
    out = tmp / "out" / "classification.csv"
    out.parent.mkdir(exist_ok=True)
    rc = main(["classify", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    table = pd.read_csv(out, dtype=str, keep_default_na=False) if rc == 0 else None
    return rc, table, err


def _line_for(err: str, path: Path, file: str, row: int | None, column: str | None) -> str:
    """The stderr line of the problem at (file, row, column), exactly located."""
    for line in err.splitlines():
        m = re.match(r"^(?P<file>.+?)(?::(?P<row>\d+))?:(?: (?P<col>[A-Za-z_0-9]+):)? ", line)
        if not m or Path(m["file"].split("[")[0]).name != file:
            continue
        if (int(m["row"]) if m["row"] else None) == row and m["col"] == column:
            return line
    raise AssertionError(f"no line for {file}:{row} {column} in:\n{err}")


def _input_patients(path: Path) -> int | None:
    files = list(path.glob("patients.*")) if path.is_dir() else []
    if len(files) == 1 and files[0].suffix == ".csv":
        return len(pd.read_csv(files[0], dtype=str))
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue_case(case: Case, tmp_path, capsys):
    path = case.build(tmp_path)
    rc, out, err = _validate(path, capsys)
    assert "Traceback" not in err and "Traceback" not in out
    if case.outcome == "error":
        assert rc == 1, out + err
        lines = err.strip().splitlines()
        assert lines[-1].endswith(f"problem(s) found in {path}")
        for file, row, column, text in case.problems:
            line = _line_for(err, path, file, row, column)
            assert text in line, line
            assert "(expected " in line  # every problem says what was expected
        # the other commands stop on the same problems, with exit code 2 and no traceback
        rc2, table, err2 = _classify(path, tmp_path, capsys)
        assert rc2 == 2 and table is None and "Traceback" not in err2
        assert err2.strip().splitlines() == lines[:-1]
        return
    assert rc == 0, err
    if case.note:
        assert f": {case.note} (" in out, out
    rc2, table, err2 = _classify(path, tmp_path, capsys)
    assert rc2 == 0 and "Traceback" not in err2, err2
    n = _input_patients(path)
    assert table["patient_id"].is_unique
    if n is not None:
        assert len(table) == n  # no patient silently dropped
    for pid, column, text in case.checks:
        value = table.loc[table["patient_id"] == pid, column]
        assert len(value) == 1, f"{pid} missing from the classification"
        assert text in value.iloc[0], f"{pid} {column}: {value.iloc[0]!r}"


@pytest.mark.slow
def test_catalogue_big_csv_bad_row_near_the_end(tmp_path, capsys):
    path, bad_row = _big_csv(tmp_path)
    assert (path / "lesions.csv").stat().st_size > 190 * 1024 * 1024
    rc, out, err = _validate(path, capsys)
    assert rc == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2, lines  # the one bad row, then the count
    line = _line_for(err, path, "lesions.csv", bad_row, "diameter_mm")
    assert "is not a number" in line and ".5x'" in line


def test_catalogue_is_documented():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Catalogue of tested bad inputs", 1)
    assert len(section) == 2, "docs/bad-input.md has no catalogue section"
    body = section[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", body, flags=re.M))
    assert documented == set(ALL_IDS)
    assert len(ALL_IDS) == len(set(ALL_IDS)) >= 25
    outcomes = {c.id: c.outcome for c in CASES}
    for cid, outcome in re.findall(r"^\| `([a-z0-9_]+)` \|[^|]*\| (\w+) \|", body, flags=re.M):
        if cid in outcomes:
            assert outcomes[cid] == outcome, cid

