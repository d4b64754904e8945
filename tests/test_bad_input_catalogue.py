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


def folder(
    tmp: Path,
    patients: str | bytes | None = PATIENTS,
    lesions: str | bytes | None = LESIONS,
    suffix: str = ".csv",
) -> Path:
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
    outcome: str  # "error" | "accepted" | "not_evaluable" | "warning" | "refused"
    #: error: (file name, row, column, text in the message) for each expected line
    problems: list[tuple[str, int | None, str | None, str]] = field(default_factory=list)
    #: accepted: a load-report action printed by ``hpd validate``
    note: str | None = None
    #: not_evaluable / accepted: (patient, output column, text in the value) to check
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    #: warning: text of the ``warning:`` line ``hpd validate`` prints (exit 0)
    warning: str | None = None
    #: refused: the command (argv from the built path and tmp) that must stop with exit 2 and
    #: one stderr line holding ``problems[0][3]``, instead of validate + classify
    command: Callable[[Path, Path], list[str]] | None = None
    #: more assertions after the run: ``extra(path, tmp, output)`` (output: the classification,
    #: or the command's stdout + stderr)
    extra: Callable[[Path, Path, object], None] | None = None


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
        pd.DataFrame({"note": ["exported 2021-10-01"]}).to_excel(
            xl, sheet_name="README", index=False
        )
    return path


def _not_a_table(tmp: Path) -> Path:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    return folder(tmp, lesions=png)


def _latin1(tmp: Path) -> Path:
    text = (
        PATIENTS.replace("os_months,os_event", "os_months,os_event,site")
        .replace("4.7,0\n", "4.7,0,Paris\n")
        .replace("2.9,1\n", "2.9,1,Müller\n")
        .replace("6.0,0\n", "6.0,0,Lyon\n")
    )
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
    Case(
        "missing_file",
        _missing_file,
        "error",
        [("no_such_cohort", None, None, "no such file or folder")],
    ),
    Case(
        "missing_required_column",
        lambda t: folder(t, rename(PATIENTS, "treatment_start", "start")),
        "error",
        [("patients.csv", 1, "treatment_start", "required column treatment_start is missing")],
    ),
    Case(
        "duplicate_patient",
        lambda t: folder(t, PATIENTS + "P2,2021-02-02,,2021-05-01,2.0,0\n"),
        "error",
        [("patients.csv", 5, "patient_id", "patient P2 appears again")],
    ),
    Case(
        "unknown_patient_in_lesions",
        lambda t: folder(t, lesions=LESIONS + "P9,2021-03-20,L1,target,liver,18,\n"),
        "error",
        [("lesions.csv", 13, "patient_id", "'P9' is not in the patients table")],
    ),
    Case(
        "unparseable_date",
        lambda t: folder(t, edit(PATIENTS, 3, "treatment_start", "early Feb")),
        "error",
        [("patients.csv", 3, "treatment_start", "'early Feb' is not an ISO 8601 date")],
    ),
    Case(
        "impossible_date",
        lambda t: folder(t, edit(PATIENTS, 3, "treatment_start", "2021-02-30")),
        "error",
        [("patients.csv", 3, "treatment_start", "'2021-02-30' is not a real calendar date")],
    ),
    Case(
        "mixed_date_formats",
        _mixed_dates,
        "error",
        [
            (
                "lesions.csv",
                3,
                "assessment_date",
                "'05/01/2021' is not an ISO 8601 date (the column mixes formats",
            ),
            ("lesions.csv", 7, "assessment_date", "'20.01.2021' is not an ISO 8601 date"),
        ],
    ),
    Case(
        "excel_serial_date_in_parquet_ints",
        _wrong_parquet_dtypes,
        "error",
        [
            ("patients.parquet", 2, "treatment_start", "'20210110' is a number, not a date"),
            ("patients.parquet", 4, "treatment_start", "is a number, not a date"),
            ("lesions.parquet", 8, "diameter_mm", "'15 mm' is not a number"),
        ],
    ),
    Case(
        "timestamps_with_time_zones",
        lambda t: folder(
            t,
            edit(
                edit(PATIENTS, 2, "treatment_start", "2021-01-10T23:30:00+02:00"),
                3,
                "treatment_start",
                "2021-02-01T00:15:00Z",
            ),
        ),
        "accepted",
        note="stripped_time",
        checks=[("P1", "treatment_start", "2021-01-10"), ("P2", "treatment_start", "2021-02-01")],
    ),
    Case(
        "negative_diameter",
        lambda t: folder(t, lesions=edit(LESIONS, 4, "diameter_mm", "-4")),
        "error",
        [("lesions.csv", 4, "diameter_mm", "'-4' is below 0")],
    ),
    Case(
        "non_numeric_diameter",
        lambda t: folder(
            t, lesions=edit(edit(LESIONS, 4, "diameter_mm", "12mm"), 6, "diameter_mm", '"12,5"')
        ),
        "error",
        [
            ("lesions.csv", 4, "diameter_mm", "'12mm' is not a number"),
            ("lesions.csv", 6, "diameter_mm", "'12,5' is not a number"),
        ],
    ),
    Case(
        "target_lesion_without_diameter",
        lambda t: folder(t, lesions=edit(LESIONS, 8, "diameter_mm", "")),
        "error",
        [("lesions.csv", 8, "diameter_mm", "target lesion without a diameter")],
    ),
    Case(
        "unknown_lesion_type",
        lambda t: folder(t, lesions=edit(LESIONS, 3, "lesion_type", "tumour")),
        "error",
        [("lesions.csv", 3, "lesion_type", "unknown value 'tumour'")],
    ),
    Case(
        "same_lesion_twice_different_values",
        lambda t: folder(t, lesions=LESIONS + "P1,2021-01-05,L1,target,lung,21,\n"),
        "error",
        [
            (
                "lesions.csv",
                13,
                "lesion_id",
                "lesion L1 of patient P1 on 2021-01-05 appears "
                "again with different values (first on row 3)",
            )
        ],
    ),
    Case(
        "death_before_treatment_start",
        lambda t: folder(t, edit(PATIENTS, 3, "death_date", "2021-01-15")),
        "error",
        [("patients.csv", 3, "death_date", "death 2021-01-15 is before treatment_start")],
    ),
    Case(
        "event_flag_not_0_1",
        lambda t: folder(t, edit(edit(PATIENTS, 2, "os_event", "2"), 4, "os_event", "yes")),
        "error",
        [
            ("patients.csv", 2, "os_event", "'2' is not 0 or 1"),
            ("patients.csv", 4, "os_event", "'yes' is not 0 or 1"),
        ],
    ),
    Case(
        "empty_table",
        lambda t: folder(t, lesions=LESIONS.split("\n", 1)[0] + "\n"),
        "error",
        [("lesions.csv", None, None, "table has no data rows")],
    ),
    Case(
        "empty_file",
        lambda t: folder(t, patients=b""),
        "error",
        [("patients.csv", None, None, "file is empty")],
    ),
    Case(
        "not_a_table",
        _not_a_table,
        "error",
        [("lesions.csv", None, None, "contains binary data, not a text table")],
    ),
    Case(
        "html_page_as_csv",
        lambda t: folder(t, lesions="<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"),
        "error",
        [("lesions.csv", None, None, "looks like an HTML/XML page")],
    ),
    Case(
        "diameter_cm_and_mm_columns",
        lambda t: folder(
            t,
            lesions=LESIONS.replace("diameter_mm,status", "diameter_mm,diameter_cm")
            .replace(",present\n", ",\n")
            .replace(",absent\n", ",\n"),
        ),
        "error",
        [("lesions.csv", 1, "diameter_cm", "both diameter_mm and diameter_cm are given")],
    ),
    Case(
        "diameter_cm_and_mm_on_different_rows",
        _cm_and_mm_rows,
        "error",
        [("lesions.csv", 1, "diameter_cm", "both diameter_mm and diameter_cm are given")],
    ),
    Case(
        "lesion_id_reused_for_another_organ",
        _lesion_id_reused,
        "accepted",
        note="lesion_organ_changed",
    ),
    Case(
        "baseline_scan_after_start_only",
        _baseline_after_start,
        "not_evaluable",
        checks=[
            ("P4", "baseline_reason", "no scan on or before treatment start"),
            ("P4", "hpd_champiat2017_status", "not_evaluable"),
            ("P4", "hpd_champiat2017_reason", "no scan on or before treatment start"),
        ],
    ),
    Case(
        "scan_on_treatment_start_day",
        _scan_on_start_day,
        "accepted",
        checks=[
            ("P3", "baseline_date", "2021-03-01"),
            ("P3", "sld_baseline_mm", "30"),
            ("P3", "hpd_champiat2017_status", "not_hpd"),
        ],
    ),
    Case(
        "only_new_lesions",
        _only_new_lesions,
        "not_evaluable",
        checks=[
            ("P4", "sld_baseline_reason", "no target lesion at baseline"),
            ("P4", "hpd_champiat2017_status", "not_evaluable"),
            ("P4", "hpd_champiat2017_reason", "no target lesion at baseline"),
        ],
    ),
    Case(
        "excel_several_unnamed_sheets",
        _excel_unnamed_sheets,
        "error",
        [("lesions.xlsx", None, None, "workbook has several sheets ('Sheet1', 'old export')")],
    ),
    Case("excel_workbook_with_role_sheets_and_extra_sheet", _excel_role_sheets, "accepted"),
    Case(
        "parquet_diameters_as_strings",
        _parquet_diameter_strings,
        "accepted",
        checks=[("P1", "sld_baseline_mm", "20")],
    ),
    Case(
        "non_utf8_text",
        _latin1,
        "error",
        [("patients.csv", 3, None, "byte 0xfc is not valid UTF-8")],
    ),
    Case(
        "ragged_csv_line",
        lambda t: folder(
            t,
            lesions=LESIONS.replace(
                "P2,2021-01-20,L1,target,liver,15,\n", "P2,2021-01-20,L1,target,liver,15,,x\n"
            ),
        ),
        "error",
        [("lesions.csv", 6, None, "has 8 fields but the header has 7")],
    ),
    Case(
        "time_without_event_column",
        _time_without_event,
        "error",
        [("patients.csv", 1, "os_event", "os_months is given without os_event")],
    ),
    Case(
        "missing_patient_id_in_lesions",
        lambda t: folder(t, lesions=edit(LESIONS, 5, "patient_id", "")),
        "error",
        [("lesions.csv", 5, "patient_id", "missing patient_id")],
    ),
]


# ------------------------------------------------------------ round two (issue 12) builders

KEY = b"catalogue-test-key-0123456789"


def _lines(text: str, pid: str, f: Callable[[str], str]) -> str:
    """``text`` with ``f`` applied to the lines of patient ``pid``."""
    return "".join(
        f(ln) if ln.startswith(pid + ",") else ln for ln in text.splitlines(keepends=True)
    )


def _embedded_lesion_ids(tmp: Path) -> Path:
    les = _lines(LESIONS, "P1", lambda ln: ln.replace(",L1,", ",MRN7700148-T1,"))
    les = edit(les, 4, "organ", "liver")  # a loader note quoting the lesion and patient ids
    return folder(tmp, PATIENTS.replace("P1,", "MRN7700148,"), les.replace("P1,", "MRN7700148,"))


def _no_raw_id_after_pseudonymization(path: Path, tmp: Path, _out: object) -> None:
    from hpd_analysis.load import load_cohort
    from hpd_analysis.report import pseudonymize_cohort

    c = pseudonymize_cohort(load_cohort(path), KEY)
    assert (c.load_report["action"] == "lesion_organ_changed").any()
    for name in ("patients", "lesions", "load_report"):
        text = getattr(c, name).astype(str).to_csv()
        assert "MRN7700148" not in text, (name, text)
    assert c.lesions["lesion_id"].str.endswith("-T1").any()  # the lesion part is kept


def _free_text(tmp: Path) -> Path:
    notes = [
        "seen with P2 at the clinic, partner of the patient in bed 4",
        "referred by Dr Martin after the visit of P3 and family",
        "declined the trial first, then consented on the second visit",
    ]
    lines = PATIENTS.splitlines()
    text = (
        lines[0]
        + ",comments,age\n"
        + "".join(
            f'{ln},"{n}",{60 + i}\n' for i, (ln, n) in enumerate(zip(lines[1:], notes, strict=True))
        )
    )
    return folder(tmp, text)


def _free_text_not_a_factor(path: Path, tmp: Path, _out: object) -> None:
    from hpd_analysis.load import load_cohort
    from hpd_analysis.riskfactors import table1

    data = load_cohort(path).patients.assign(g=["a", "b", "a"])
    assert "comments" not in set(table1(data, "g")["variable"])
    assert "age" in set(table1(data, "g")["variable"])
    assert "comments" in set(table1(data, "g", variables=["comments"])["variable"])  # named


def _formula_ids(tmp: Path) -> Path:
    ids = {"P1": "=1+2", "P2": "@SUM(A1)", "P3": "+cmd|' /C calc'!A0"}

    def swap(text: str) -> str:
        for old, new in ids.items():
            text = text.replace(old + ",", new + ",")
        return text

    return folder(tmp, swap(PATIENTS), swap(LESIONS.replace(",L1,", ",-L1,")))


def _no_formula_cell(path: Path, tmp: Path, _out: object) -> None:
    import csv

    text = (tmp / "out" / "classification.csv").read_text(encoding="utf-8")
    cells = [c for row in csv.reader(text.splitlines()) for c in row]
    bad = [
        c
        for c in cells
        if c.startswith(("=", "+", "@", "\t", "\r"))
        or c.startswith("-")
        and not re.fullmatch(r"-[0-9.e+-]+", c)
    ]
    assert not bad, bad
    assert "'=1+2" in cells and "'@SUM(A1)" in cells


def _config_file(tmp: Path, text: str) -> Path:
    (tmp / "shadow").write_text(text, encoding="utf-8")
    return folder(tmp)


def _system_file(tmp: Path) -> Path:
    path = tmp / "passwd.csv"
    path.write_text("root:x:0:0:root:/root:/bin/bash\nsecret:x:1:1::/:/bin/sh\n", encoding="utf-8")
    return path


def _nothing_echoed(_path: Path, _tmp: Path, output: object) -> None:
    assert "secret" not in str(output) and "$6$" not in str(output), output


def _misnamed(name: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        d = folder(tmp, lesions=None)
        (d / name).write_text(LESIONS, encoding="utf-8")
        return d

    return build


def _odd_lesions_entry(kind: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        import os

        d = folder(tmp, lesions=None)
        if kind == "folder":
            (d / "lesions.csv").mkdir()
        elif kind == "symlink":
            (d / "lesions.csv").symlink_to(tmp / "gone.csv")
        else:
            os.mkfifo(d / "lesions.csv")
        return d

    return build


def _unchanged(name: str) -> Callable[[Path, Path, object], None]:
    def check(path: Path, _tmp: Path, _out: object) -> None:
        d = path if path.is_dir() else path.parent
        assert (d / name).read_text(encoding="utf-8") == (
            PATIENTS if name == "patients.csv" else LESIONS
        )

    return check


def _sdtm(tmp: Path, case_of_p2: str | None = None) -> Path:
    from test_sdtm import _tr_rows, write_sdtm

    tr = _tr_rows()
    if case_of_p2 is not None:
        tr.loc[tr["USUBJID"] == "P2", "USUBJID"] = case_of_p2
    return write_sdtm(tmp / "sdtm", tr=tr)


def _cm_table(tmp: Path) -> Path:
    les = LESIONS
    for mm in ("18", "20", "25", "12", "15", "26", "30", "28"):
        les = les.replace(f",{mm},", f",{int(mm) / 10:g},")
    return folder(tmp, lesions=les)


def _many_targets(tmp: Path) -> Path:
    extra = "".join(f"P1,2021-01-05,L{k},target,lung,11,\n" for k in range(2, 13))
    return folder(tmp, lesions=LESIONS + extra)


def _with_progression(tmp: Path) -> Path:
    text = PATIENTS.replace("os_months,os_event", "os_months,os_event,progression_date")
    text = text.replace("4.7,0\n", "4.7,0,\n").replace("2.9,1\n", "2.9,1,2021-06-01\n")
    return folder(tmp, text.replace("6.0,0\n", "6.0,0,\n"))


def _covariates(tmp: Path, header: str, values: list[str], sep: str = ",") -> Path:
    lines = PATIENTS.replace(",", sep).splitlines()
    text = (
        lines[0]
        + sep
        + header
        + "\n"
        + "".join(f"{ln}{sep}{v}\n" for ln, v in zip(lines[1:], values, strict=True))
    )
    return folder(tmp, text)


def _patients_are(expected: dict[str, list[object]]) -> Callable[[Path, Path, object], None]:
    def check(path: Path, _tmp: Path, _out: object) -> None:
        from hpd_analysis.load import load_cohort

        p = load_cohort(path).patients
        for c, values in expected.items():
            assert p[c].tolist() == values, (c, p[c].tolist())

    return check


def _pd_without_date(tmp: Path) -> Path:
    return folder(tmp, lesions=edit(LESIONS, 4, "diameter_mm", "30"))  # P1: 20 -> 30 mm, PD


def _pfs_from_scans(path: Path, tmp: Path, _out: object) -> None:
    from hpd_analysis.cli import main as hpd

    out = tmp / "out" / "pfs.csv"
    assert (
        hpd(
            [
                "classify",
                str(path),
                "--out",
                str(out),
                "--set",
                "plausibility.progression_from_scans=true",
            ]
        )
        == 0
    )
    t = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("patient_id")
    assert t.loc["P1", "pfs_event"] == "1"
    # 2021-01-10 -> 2021-03-01: 50 days / 30.4375 (hand computation)
    assert abs(float(t.loc["P1", "pfs_months"]) - 50 / 30.4375) < 1e-6


def _ids(tmp: Path, mapping: dict[str, str], lesion_mapping: dict[str, str] | None = None) -> Path:
    def swap(text: str, m: dict[str, str]) -> str:
        return "".join(
            m.get(ln.split(",", 1)[0], ln.split(",", 1)[0]) + "," + ln.split(",", 1)[1]
            if "," in ln
            else ln
            for ln in text.splitlines(keepends=True)
        )

    return folder(tmp, swap(PATIENTS, mapping), swap(LESIONS, lesion_mapping or mapping))


def _dd_mm(tmp: Path) -> Path:
    # P1 gets a second target; its two on-treatment scans are written dd/mm/yyyy
    les = LESIONS + "P1,2020-11-20,L2,target,liver,10,\nP1,2021-01-05,L2,target,liver,11,\n"
    les += "P1,05/02/2021,L1,target,lung,22,\nP1,05/02/2021,L2,target,liver,12,\n"
    les = edit(les, 4, "assessment_date", "01/03/2021")
    return folder(tmp, lesions=les + "P1,01/03/2021,L2,target,liver,13,\n")


def _one_root_cause(_path: Path, _tmp: Path, output: object) -> None:
    assert "appears again" not in str(output), output


def _assessments_cm(tmp: Path) -> Path:
    d = folder(tmp, lesions=None)
    (d / "assessments.csv").write_text(
        "patient_id,assessment_date,sld_mm\nP1,2020-11-20,1.8\nP1,2021-01-05,2.0\n"
        "P1,2021-03-01,2.5\nP2,2020-12-10,1.2\nP2,2021-01-20,1.5\nP3,2020-12-20,2.6\n"
        "P3,2021-02-25,3.0\n",
        encoding="utf-8",
    )
    return d


def _wide_huge_sum(tmp: Path) -> Path:
    d = tmp / "wide"
    d.mkdir()
    (d / "scans.csv").write_text(
        "patient_id,treatment_start,RECIST_BEFORE,RECIST_BASELINE,RECIST_EVAL1,SCANDATE_BEFORE,"
        "SCANDATE_BASELINE,SCANDATE_EVAL1\n"
        "P1,2021-01-10,40,50,1e308,2020-11-20,2021-01-05,2021-03-01\n"
        "P2,2021-02-01,30,32,35,2020-12-10,2021-01-20,2021-03-20\n",
        encoding="utf-8",
    )
    return d


ROUND_TWO: list[Case] = [
    # privacy and security
    Case(
        "lesion_id_embeds_patient_id_pseudonymized",
        _embedded_lesion_ids,
        "accepted",
        note="lesion_organ_changed",
        extra=_no_raw_id_after_pseudonymization,
    ),
    Case(
        "free_text_column_not_a_risk_factor", _free_text, "accepted", extra=_free_text_not_a_factor
    ),
    Case(
        "formula_injection_in_ids",
        _formula_ids,
        "accepted",
        checks=[("'=1+2", "hpd_champiat2017_status", "not_hpd")],
        extra=_no_formula_cell,
    ),
    Case(
        "config_file_not_yaml_never_echoed",
        lambda t: _config_file(t, "root:$6$secretHASH:19000:0:99999:7:::\nsecret: [\n"),
        "refused",
        [("", None, None, "not valid YAML (line")],
        command=lambda d, t: [
            "classify",
            str(d),
            "--out",
            str(t / "o" / "c.csv"),
            "--config",
            str(t / "shadow"),
        ],
        extra=_nothing_echoed,
    ),
    Case(
        "config_file_not_a_workbench_file",
        lambda t: _config_file(t, "root: $6$secretHASH\nsecretuser: x\n"),
        "refused",
        [("", None, None, "not an HPD workbench configuration")],
        command=lambda d, t: [
            "classify",
            str(d),
            "--out",
            str(t / "o" / "c.csv"),
            "--config",
            str(t / "shadow"),
        ],
        extra=_nothing_echoed,
    ),
    # silent loss and overwritten inputs
    Case(
        "lesions_table_misnamed_v2",
        _misnamed("lesions_v2.csv"),
        "error",
        [("cohort", None, None, "found lesions_v2.csv but no lesions table")],
    ),
    Case(
        "lesions_table_copy_name",
        _misnamed("lesions (1).csv"),
        "error",
        [("cohort", None, None, "found lesions (1).csv but no lesions table")],
    ),
    Case(
        "lesions_table_xls",
        _misnamed("lesions.xls"),
        "error",
        [("lesions.xls", None, None, "has the unsupported file type '.xls'")],
    ),
    Case(
        "lesions_table_txt",
        _misnamed("lesions.txt"),
        "error",
        [("lesions.txt", None, None, "has the unsupported file type '.txt'")],
    ),
    Case(
        "lesions_table_is_a_folder",
        _odd_lesions_entry("folder"),
        "error",
        [("lesions.csv", None, None, "is a folder: the lesions table cannot be read")],
    ),
    Case(
        "lesions_table_broken_symlink",
        _odd_lesions_entry("symlink"),
        "error",
        [("lesions.csv", None, None, "is a broken symbolic link")],
    ),
    Case(
        "lesions_table_is_a_fifo",
        _odd_lesions_entry("fifo"),
        "error",
        [("lesions.csv", None, None, "is a FIFO (named pipe)")],
    ),
    Case(
        "patients_file_given_instead_of_folder",
        lambda t: folder(t) / "patients.csv",
        "accepted",
        note="read_folder_tables",
        checks=[("P1", "sld_baseline_mm", "20")],
    ),
    Case(
        "classify_out_over_an_input",
        folder,
        "refused",
        [("", None, None, "is inside the input")],
        command=lambda d, t: ["classify", str(d), "--out", str(d / "patients.csv")],
        extra=_unchanged("patients.csv"),
    ),
    Case(
        "simulate_out_existing_cohort",
        folder,
        "refused",
        [("", None, None, "the folder exists and is not empty")],
        command=lambda d, t: ["simulate", "--patients", "5", "--out", str(d)],
        extra=_unchanged("lesions.csv"),
    ),
    Case(
        "import_sdtm_out_into_the_sdtm_folder",
        _sdtm,
        "refused",
        [("", None, None, "is inside the input")],
        command=lambda d, t: ["import-sdtm", str(d), "--out", str(d / "cohort")],
    ),
    Case(
        "import_sdtm_subject_case_differs",
        lambda t: _sdtm(t, "p2 "),
        "refused",
        [("", None, None, "subject(s) not in dm.csv: 'p2' (dm.csv has 'P2'")],
        command=lambda d, t: ["import-sdtm", str(d), "--out", str(t / "cohort")],
    ),
    # plausibility
    Case(
        "diameters_in_centimetres", _cm_table, "warning", warning="the table looks like centimetres"
    ),
    Case(
        "diameter_1e308_or_a_metre",
        lambda t: folder(
            t, lesions=edit(edit(LESIONS, 4, "diameter_mm", "1e308"), 7, "diameter_mm", "1000000")
        ),
        "error",
        [
            ("lesions.csv", 4, "diameter_mm", "1e+308 mm is not a possible lesion diameter"),
            ("lesions.csv", 7, "diameter_mm", "1e+06 mm is not a possible lesion diameter"),
        ],
    ),
    Case(
        "assessment_sums_in_centimetres",
        _assessments_cm,
        "warning",
        warning="every sum of diameters is below 10 mm (largest 3): the table looks like "
        "centimetres",
    ),
    Case(
        "wide_scans_sum_1e308",
        _wide_huge_sum,
        "error",
        [("scans.csv", 2, "sld_first_eval_mm", "1e+308 mm is not a possible sum of diameters")],
    ),
    Case(
        "huge_lesion_diameter",
        lambda t: folder(t, lesions=edit(LESIONS, 4, "diameter_mm", "650")),
        "warning",
        warning="lesion diameters above 500 mm (row 4)",
    ),
    Case(
        "too_many_targets_per_scan",
        _many_targets,
        "warning",
        warning="1 scan(s) have more than 10 target lesions (most: 12 for patient P1",
    ),
    Case(
        "death_after_data_cutoff",
        lambda t: folder(
            t, edit(edit(PATIENTS, 3, "death_date", "2099-05-01"), 3, "last_contact", "2099-05-01")
        ),
        "error",
        [
            ("patients.csv", 3, "death_date", "death 2099-05-01 is after the data cut-off"),
            ("patients.csv", 3, "last_contact", "last contact 2099-05-01 is after the data"),
        ],
    ),
    Case(
        "progression_after_death",
        _with_progression,
        "error",
        [("patients.csv", 3, "progression_date", "progression 2021-06-01 is after death_date")],
    ),
    Case(
        "scan_after_death",
        lambda t: folder(t, lesions=LESIONS + "P2,2021-06-20,L1,target,liver,19,\n"),
        "error",
        [
            (
                "lesions.csv",
                13,
                "assessment_date",
                "scan 2021-06-20 is after the death of patient P2 (2021-05-01)",
            )
        ],
    ),
    Case(
        "scan_years_before_treatment",
        lambda t: folder(t, lesions=edit(LESIONS, 2, "assessment_date", "2017-11-20")),
        "warning",
        warning="scans more than 730 days before the patient's treatment_start (a wrong "
        "year?) (row 2)",
    ),
    Case(
        "treatment_start_before_2006",
        lambda t: folder(t, edit(PATIENTS, 4, "treatment_start", "1999-03-01")),
        "warning",
        warning="treatment_start before 2006",
    ),
    Case(
        "risk_factor_not_finite_or_impossible",
        lambda t: _covariates(t, "age,nlr", ["inf,2.1", "-40,1e308", "61,3.0"]),
        "error",
        [
            ("patients.csv", 2, "age", "'inf' is not a finite number"),
            ("patients.csv", 3, "age", "'-40' is not a possible age"),
            ("patients.csv", 3, "nlr", "'1e+308' is too large to be a measurement"),
        ],
    ),
    Case(
        "numeric_column_with_text_codes",
        lambda t: _covariates(t, "ldh", ["250", "ND", "310"]),
        "accepted",
        note="text_codes_missing",
        extra=_patients_are({"ldh": [250, pd.NA, 310]}),
    ),
    Case(
        "decimal_commas_in_semicolon_file",
        lambda t: _covariates(t, "nlr", ["2,3", "3,1", "1,5"], sep=";"),
        "accepted",
        note="decimal_comma",
        extra=_patients_are({"nlr": [2.3, 3.1, 1.5]}),
    ),
    Case(
        "sex_spellings",
        lambda t: _covariates(t, "sex", ["F", "female", "MALE"]),
        "accepted",
        note="merged_spellings",
        extra=_patients_are({"sex": ["F", "F", "MALE"]}),
    ),
    Case(
        "age_sex_ldh_column_names",
        lambda t: _covariates(t, "Age,Sex,LDH (U/L)", ["61,F,250", "70,M,300", "55,F,280"]),
        "accepted",
        note="renamed",
        extra=_patients_are({"age": [61, 70, 55], "sex": ["F", "M", "F"], "ldh": [250, 300, 280]}),
    ),
    Case(
        "pd_at_first_eval_without_progression_date",
        _pd_without_date,
        "warning",
        warning="1 patient(s) have a RECIST PD scan but no progression_date (P1)",
        extra=_pfs_from_scans,
    ),
    Case(
        "ids_na_none_nan",
        lambda t: _ids(t, {"P1": "NA", "P2": "None", "P3": "nan"}),
        "accepted",
        checks=[("NA", "sld_baseline_mm", "20"), ("nan", "sld_baseline_mm", "30")],
    ),
    Case(
        "ids_nfc_and_nfd_spellings",
        lambda t: _ids(t, {"P1": "Jos\u00e9"}, {"P1": "Jose\u0301"}),
        "accepted",
        note="normalized_ids",
        checks=[("Jos\u00e9", "sld_baseline_mm", "20")],
    ),
    Case(
        "near_duplicate_ids_case",
        lambda t: folder(t, PATIENTS + "p2,2021-02-01,,2021-05-01,2.9,0\n"),
        "warning",
        warning="'P2' (row 3) and 'p2' (row 5)",
    ),
    Case(
        "ids_lost_leading_zeros",
        lambda t: _ids(t, {"P1": "0012"}, {"P1": "12"}),
        "error",
        [
            (
                "lesions.csv",
                2,
                "patient_id",
                "patient '12' is not in the patients table "
                "(patients has '0012': the case or leading zeros differ",
            )
        ],
    ),
    Case(
        "excel_sep_line",
        lambda t: folder(t, "sep=,\n" + PATIENTS),
        "accepted",
        note="delimiter",
        checks=[("P1", "sld_baseline_mm", "20")],
    ),
    # command line
    Case(
        "simulate_out_existing_file",
        lambda t: folder(t) / "patients.csv",
        "refused",
        [("", None, None, "is an existing file")],
        command=lambda p, t: ["simulate", "--patients", "5", "--out", str(p)],
        extra=_unchanged("patients.csv"),
    ),
    Case(
        "simulate_negative_seed",
        lambda t: t / "sim",
        "refused",
        [("", None, None, "--seed -1: expected a whole number ≥ 0")],
        command=lambda p, t: ["simulate", "--seed", "-1", "--out", str(p)],
    ),
    Case(
        "validate_findings_on_stdout",
        lambda t: folder(t, lesions=edit(LESIONS, 4, "diameter_mm", "-4")),
        "error",
        [("lesions.csv", 4, "diameter_mm", "'-4' is below 0")],
    ),
    Case(
        "not_a_cohort_table_never_echoed",
        _system_file,
        "error",
        [("passwd.csv", 1, None, "no column of this file is a patients column")],
        extra=_nothing_echoed,
    ),
    Case(
        "dd_mm_yyyy_dates_one_root_cause",
        _dd_mm,
        "error",
        [
            ("lesions.csv", 4, "assessment_date", "'01/03/2021' is not an ISO 8601 date"),
            ("lesions.csv", 15, "assessment_date", "'05/02/2021' is not an ISO 8601 date"),
            ("lesions.csv", 17, "assessment_date", "'01/03/2021' is not an ISO 8601 date"),
        ],
        extra=_one_root_cause,
    ),
]
CASES += ROUND_TWO


def _big_csv(tmp: Path) -> tuple[Path, int]:
    """~200 MB lesions CSV of valid rows with one bad diameter near the end; (folder, its row)."""
    d = tmp / "big"
    d.mkdir()
    n_pat, n_dates, n_les = 50, 4, 5  # one block: 50 patients x 4 scans x 5 lesions = 1000 rows
    dates = ["2020-12-01", "2021-01-05", "2021-03-01", "2021-05-01"]
    rows = [
        f"B@-{p},{dates[s]},L{k},target,{'lung' if k % 2 else 'liver'},{10 + p % 7 + s}.5,"
        for p in range(n_pat)
        for s in range(n_dates)
        for k in range(n_les)
    ]
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
        return len(
            pd.read_csv(
                files[0],
                dtype=str,
                keep_default_na=False,
                skiprows=(1 if files[0].read_text(encoding="utf-8").startswith("sep=") else 0),
                sep=None,
                engine="python",
            )
        )
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue_case(case: Case, tmp_path, capsys):
    path = case.build(tmp_path)
    if case.outcome == "refused":
        rc = main(case.command(path, tmp_path))
        out = capsys.readouterr()
        assert rc == 2 and "Traceback" not in out.err + out.out, out
        lines = out.err.strip().splitlines()
        assert len(lines) == 1, lines  # one line, no traceback
        assert case.problems[0][3] in lines[0], lines[0]
        if case.extra:
            case.extra(path, tmp_path, out.out + out.err)
        return
    rc, out, err = _validate(path, capsys)
    assert "Traceback" not in err and "Traceback" not in out
    assert err == "", err  # findings on stdout: `hpd validate x > problems.txt` keeps them all
    if case.outcome == "error":
        assert rc == 1, out + err
        lines = out.strip().splitlines()
        assert lines[-1].endswith(f"problem(s) found in {path}")
        for file, row, column, text in case.problems:
            line = _line_for(out, path, file, row, column)
            assert text in line, line
            assert "(expected " in line  # every problem says what was expected
        # the other commands stop on the same problems, with exit code 2 and no traceback
        rc2, table, err2 = _classify(path, tmp_path, capsys)
        assert rc2 == 2 and table is None and "Traceback" not in err2
        assert err2.strip().splitlines() == lines[:-1]
        if case.extra:
            case.extra(path, tmp_path, out)
        return
    assert rc == 0, out
    warnings = [ln for ln in out.splitlines() if ln.startswith("warning: ")]
    if case.outcome == "warning":
        assert any(case.warning in ln for ln in warnings), out
    else:  # nothing implausible in the other cases (the base cohort has no progression_date
        # column while P1's first evaluation is RECIST PD: that warning is true of all of them)
        assert not [w for w in warnings if "no progression_date" not in w], out
    if case.note:
        assert f": {case.note} (" in out, out
    rc2, table, err2 = _classify(path, tmp_path, capsys)
    assert rc2 == 0 and "Traceback" not in err2, err2
    n = _input_patients(path)
    assert table["patient_id"].is_unique
    if n is not None:
        assert len(table) == n  # no patient silently lost
    for pid, column, text in case.checks:
        value = table.loc[table["patient_id"] == pid, column]
        assert len(value) == 1, f"{pid} missing from the classification"
        assert text in value.iloc[0], f"{pid} {column}: {value.iloc[0]!r}"
    if case.extra:
        case.extra(path, tmp_path, table)


@pytest.mark.slow
def test_catalogue_big_csv_bad_row_near_the_end(tmp_path, capsys):
    path, bad_row = _big_csv(tmp_path)
    assert (path / "lesions.csv").stat().st_size > 190 * 1024 * 1024
    rc, out, err = _validate(path, capsys)
    assert rc == 1 and "Traceback" not in err and err == ""  # findings on stdout
    lines = out.strip().splitlines()
    assert len(lines) == 2, lines  # the one bad row, then the count
    line = _line_for(out, path, "lesions.csv", bad_row, "diameter_mm")
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


# ------------------------------------------------- the validate output shown in docs/bad-input.md

ALL_WARNINGS_PATIENTS = """patient_id,treatment_start,progression_date,death_date,last_contact
P0001,2021-01-10,,,2021-09-01
p0001,2021-02-01,,,2021-09-01
P0002,2004-03-01,2004-09-01,,2005-01-01
P0003,2021-03-01,,,2021-09-01
"""


def _all_warnings(tmp: Path) -> Path:
    """A cohort with every plausibility warning at once (diameters in cm; one new lesion of
    65 cm; 11 targets on one scan; a scan 3 years before start; a start in 2004; ids P0001 and
    p0001; P0003's first evaluation is RECIST PD without a progression_date)."""
    rows = ["patient_id,assessment_date,lesion_id,lesion_type,diameter_mm"]
    for k in range(1, 12):
        rows += [
            f"P0001,2021-01-05,T{k},target,{1 + k / 10:g}",
            f"P0001,2021-03-01,T{k},target,{1 + k / 10:g}",
        ]
    rows += [
        "p0001,2021-01-20,T1,target,2.5",
        "p0001,2021-03-20,T1,target,2.4",
        "P0002,2001-02-01,T1,target,3.1",
        "P0002,2004-02-20,T1,target,3.0",
        "P0002,2004-05-01,T1,target,3.2",
        "P0003,2021-02-20,T1,target,2.0",
        "P0003,2021-04-20,T1,target,3.0",
        "P0003,2021-04-20,N1,new,650",
    ]
    return folder(tmp, ALL_WARNINGS_PATIENTS, "\n".join(rows) + "\n")


def test_all_warnings_output_is_documented(tmp_path, capsys):
    path = _all_warnings(tmp_path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.replace(str(path), "cohort")
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- all-warnings -->", 2)[1].split("```", 2)[1].strip("\n")
    assert block.splitlines()[0] == "$ hpd validate cohort"
    assert block.splitlines()[1:] == out.strip("\n").splitlines()
