"""One test per class of bad input: the problem names the exact file, row and column.

Cohorts are tiny hand-made CSV files; the valid base cohort is edited one cell at a time.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.cli import main
from hpd_analysis.errors import CohortError, Problem
from hpd_analysis.load import load_cohort, read_table, validate_cohort

PATIENTS = """patient_id,treatment_start,death_date,last_contact,ecog_baseline,os_months,os_event
P1,2021-01-10,,2021-06-01,1,4.7,0
P2,2021-02-01,2021-05-01,2021-04-01,0,2.9,1
P3,2021-03-01,,2021-09-01,2,6.0,0
"""
LESIONS = """patient_id,assessment_date,lesion_id,lesion_type,organ,diameter_mm,status
P1,2021-01-05,L1,target,lung,20,
P1,2021-03-01,L1,target,lung,25,
P2,2021-01-20,L1,target,liver,15,
P2,2021-01-20,N1,non_target,bone,,present
P2,2021-03-20,L1,target,liver,18,
P2,2021-03-20,N1,non_target,bone,,absent
"""


def cohort(tmp_path: Path, patients: str = PATIENTS, lesions: str | None = LESIONS) -> Path:
    d = tmp_path / "cohort"
    d.mkdir(exist_ok=True)
    (d / "patients.csv").write_text(patients)
    if lesions is not None:
        (d / "lesions.csv").write_text(lesions)
    return d


def edit(text: str, line: int, column: str, value: str) -> str:
    """Replace one cell (``line`` is the spreadsheet row, header = 1)."""
    rows = text.splitlines()
    header = rows[0].split(",")
    cells = rows[line - 1].split(",")
    cells[header.index(column)] = value
    rows[line - 1] = ",".join(cells)
    return "\n".join(rows) + "\n"


def problems(path: Path) -> list[Problem]:
    found = validate_cohort(path)
    assert found, "expected at least one problem"
    return found


def one(found: list[Problem], file: str, row: int | None, column: str | None) -> Problem:
    hits = [p for p in found if Path(p.file).name == file and p.row == row and p.column == column]
    assert hits, f"no problem at {file}:{row} {column}; got: {[str(p) for p in found]}"
    return hits[0]


def test_valid_cohort_has_no_problems(tmp_path):
    assert validate_cohort(cohort(tmp_path)) == []


def test_missing_folder(tmp_path):
    p = one(problems(tmp_path / "nope"), "nope", None, None)
    assert "no such file or folder" in p.message


def test_folder_without_tables(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    p = one(problems(tmp_path), tmp_path.name, None, None)
    assert "no cohort tables" in p.message and "patients.csv" in p.expected


def test_lesions_without_patients(tmp_path):
    d = cohort(tmp_path)
    (d / "patients.csv").unlink()
    p = one(problems(d), "cohort", None, None)
    assert p.message == "no patients table"


def test_lesions_and_assessments_both(tmp_path):
    d = cohort(tmp_path)
    (d / "assessments.csv").write_text("patient_id,assessment_date,sld_mm\nP1,2021-01-05,20\n")
    p = one(problems(d), "cohort", None, None)
    assert "both a lesions and an assessments" in p.message


def test_two_files_for_one_role(tmp_path):
    d = cohort(tmp_path)
    pd.read_csv(d / "patients.csv").to_parquet(d / "patients.parquet")
    p = one(problems(d), "cohort", None, None)
    assert "several patients tables" in p.message


def test_missing_required_column(tmp_path):
    text = PATIENTS.replace("treatment_start", "start_of_something")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 1, "treatment_start")
    assert "required column treatment_start is missing" in p.message
    assert "start_of_something" in p.message  # the columns found are shown


def test_duplicate_patient(tmp_path):
    text = PATIENTS + "P2,2021-02-02,,2021-04-01,0,2.0,0\n"
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 5, "patient_id")
    assert "patient P2 appears again" in p.message and "first on row 3" in p.message


def test_identical_duplicate_patient_row_is_dropped_and_reported(tmp_path):
    text = PATIENTS + PATIENTS.splitlines()[2] + "\n"
    c = load_cohort(cohort(tmp_path, text))
    assert c.n_patients == 3
    rep = c.load_report
    assert (rep["action"] == "dropped_duplicate_rows").sum() == 1


def test_unknown_patient_in_lesions(tmp_path):
    text = LESIONS + "P9,2021-03-20,L1,target,liver,18,\n"
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 8, "patient_id")
    assert "'P9' is not in the patients table" in p.message


def test_impossible_date(tmp_path):
    text = edit(PATIENTS, 3, "treatment_start", "2021-02-30")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 3, "treatment_start")
    assert "'2021-02-30' is not a real calendar date" in p.message


def test_implausible_year(tmp_path):
    text = edit(LESIONS, 2, "assessment_date", "1900-01-05")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 2, "assessment_date")
    assert "implausible year" in p.message and "1950-01-01" in p.expected


def test_non_iso_and_mixed_date_formats(tmp_path):
    text = edit(LESIONS, 4, "assessment_date", "20/01/2021")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 4, "assessment_date")
    assert "'20/01/2021' is not an ISO 8601 date" in p.message
    assert "mixes formats" in p.message and "YYYY-MM-DD" in p.expected


def test_missing_required_date(tmp_path):
    text = edit(PATIENTS, 4, "treatment_start", "")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 4, "treatment_start")
    assert p.message == "missing treatment_start"


def test_timestamp_with_time_zone_is_cut_to_its_date(tmp_path):
    text = edit(PATIENTS, 2, "treatment_start", "2021-01-10T23:30:00+02:00")
    c = load_cohort(cohort(tmp_path, text))
    assert c.patients.loc[0, "treatment_start"] == pd.Timestamp("2021-01-10")
    note = c.load_report[c.load_report["action"] == "stripped_time"].iloc[0]
    assert note["column"] == "treatment_start" and "time zone" in note["detail"]


def test_negative_diameter(tmp_path):
    text = edit(LESIONS, 3, "diameter_mm", "-4")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 3, "diameter_mm")
    assert "'-4' is below 0" in p.message


def test_non_numeric_diameter(tmp_path):
    text = edit(LESIONS, 3, "diameter_mm", "12mm")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 3, "diameter_mm")
    assert "'12mm' is not a number" in p.message


def test_target_lesion_without_diameter(tmp_path):
    text = edit(LESIONS, 6, "diameter_mm", "")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 6, "diameter_mm")
    assert p.message == "target lesion without a diameter" and "NE" in p.expected


def test_unknown_lesion_type(tmp_path):
    text = edit(LESIONS, 2, "lesion_type", "tumour")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 2, "lesion_type")
    assert "unknown value 'tumour'" in p.message and "non_target" in p.expected


def test_unknown_status(tmp_path):
    text = edit(LESIONS, 5, "status", "bigger")
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 5, "status")
    assert "unknown value 'bigger'" in p.message


def test_same_lesion_twice_on_one_date_with_different_values(tmp_path):
    text = LESIONS + "P1,2021-03-01,L1,target,lung,26,\n"
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 8, "lesion_id")
    assert "lesion L1 of patient P1 on 2021-03-01 appears again" in p.message
    assert "first on row 3" in p.message


def test_identical_duplicate_lesion_row_is_dropped_and_reported(tmp_path):
    text = LESIONS + "P1,2021-03-01,L1,target,lung,25,\n"
    c = load_cohort(cohort(tmp_path, lesions=text))
    assert len(c.lesions) == 6
    note = c.load_report[c.load_report["action"] == "dropped_duplicate_rows"].iloc[0]
    assert note["n_rows"] == 1 and "8" in note["detail"]


def test_death_before_treatment_start(tmp_path):
    text = edit(PATIENTS, 3, "death_date", "2021-01-15")
    text = edit(text, 3, "last_contact", "2021-01-15")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 3, "death_date")
    assert "death 2021-01-15 is before treatment_start" in p.message


def test_last_contact_before_treatment_start(tmp_path):
    text = edit(PATIENTS, 4, "last_contact", "2021-02-01")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 4, "last_contact")
    assert "last contact 2021-02-01 is before treatment_start" in p.message


def test_last_contact_after_death(tmp_path):
    text = edit(PATIENTS, 3, "last_contact", "2021-06-01")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 3, "last_contact")
    assert "after death_date" in p.message


def test_event_flag_not_0_1(tmp_path):
    text = edit(PATIENTS, 2, "os_event", "2")
    text = edit(text, 4, "os_event", "yes")
    found = problems(cohort(tmp_path, text))
    assert "'2' is not 0 or 1" in one(found, "patients.csv", 2, "os_event").message
    assert "'yes' is not 0 or 1" in one(found, "patients.csv", 4, "os_event").message


def test_time_without_event(tmp_path):
    text = edit(PATIENTS, 2, "os_event", "")
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 2, "os_event")
    assert p.message == "missing os_event"


def test_ecog_outside_0_4(tmp_path):
    text = edit(PATIENTS, 2, "ecog_baseline", "5")
    text = edit(text, 3, "ecog_baseline", "1.5")
    found = problems(cohort(tmp_path, text))
    assert "'5' is above 4" in one(found, "patients.csv", 2, "ecog_baseline").message
    assert "not a whole number" in one(found, "patients.csv", 3, "ecog_baseline").message


def test_empty_table(tmp_path):
    p = one(
        problems(cohort(tmp_path, lesions=LESIONS.splitlines()[0] + "\n")),
        "lesions.csv",
        None,
        None,
    )
    assert p.message == "table has no data rows"


def test_empty_file(tmp_path):
    p = one(problems(cohort(tmp_path, lesions="")), "lesions.csv", None, None)
    assert p.message == "file is empty"


def test_binary_junk(tmp_path):
    d = cohort(tmp_path)
    (d / "lesions.csv").write_bytes(bytes(range(256)) * 4)
    p = one(problems(d), "lesions.csv", None, None)
    assert "binary data" in p.message


def test_html_page_instead_of_csv(tmp_path):
    d = cohort(tmp_path, lesions="<!DOCTYPE html>\n<html><body>Sign in</body></html>\n")
    p = one(problems(d), "lesions.csv", None, None)
    assert "HTML" in p.message


def test_excel_file_named_csv(tmp_path):
    d = cohort(tmp_path)
    pd.read_csv(d / "lesions.csv").to_excel(d / "x.xlsx", index=False)
    (d / "x.xlsx").rename(d / "lesions.csv")
    p = one(problems(d), "lesions.csv", None, None)
    assert "Excel" in p.message and ".xlsx" in p.expected


def test_corrupt_parquet(tmp_path):
    d = cohort(tmp_path, lesions=None)
    (d / "lesions.parquet").write_bytes(b"PAR1 this is not really parquet")
    p = one(problems(d), "lesions.parquet", None, None)
    assert "could not be read" in p.message


def test_latin1_file(tmp_path):
    d = cohort(tmp_path)
    text = PATIENTS.replace("patient_id,", "patient_id,comment,", 1)
    lines = text.splitlines()
    lines = [lines[0]] + [ln.replace(",", ",x,", 1) for ln in lines[1:]]
    lines[2] = lines[2].replace(",x,", ",Müller,", 1)
    (d / "patients.csv").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    p = one(problems(d), "patients.csv", 3, None)
    assert "not valid UTF-8" in p.message and "UTF-8" in p.expected


def test_ragged_csv_line(tmp_path):
    text = LESIONS + "P2,2021-03-20,L2,target,liver,18,,extra\n"
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 8, None)
    assert "has 8 fields but the header has 7" in p.message


def test_not_gzip(tmp_path):
    d = cohort(tmp_path, lesions=None)
    (d / "lesions.csv.gz").write_text(LESIONS)
    p = one(problems(d), "lesions.csv.gz", None, None)
    assert "not gzip" in p.message


def test_truncated_gzip(tmp_path):
    d = cohort(tmp_path, lesions=None)
    (d / "lesions.csv.gz").write_bytes(gzip.compress(LESIONS.encode())[:30])
    p = one(problems(d), "lesions.csv.gz", None, None)
    assert "gzip" in p.message


def test_excel_workbook_with_unnamed_sheets(tmp_path):
    d = cohort(tmp_path, lesions=None)
    with pd.ExcelWriter(d / "lesions.xlsx") as xw:
        pd.read_csv(pd.io.common.StringIO(LESIONS)).to_excel(xw, sheet_name="A", index=False)
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="B", index=False)
    p = one(problems(d), "lesions.xlsx", None, None)
    assert "'A', 'B'" in p.message and "'lesions'" in p.expected


def test_duplicate_column_names(tmp_path):
    text = PATIENTS.replace("ecog_baseline", "ECOG", 1).replace("os_months", "ecog", 1)
    found = problems(cohort(tmp_path, text))
    p = one(found, "patients.csv", 1, "ecog")
    assert "repeats 'ECOG'" in p.message


def test_unsupported_extension(tmp_path):
    f = tmp_path / "cohort.json"
    f.write_text("{}")
    p = one(problems(f), "cohort.json", None, None)
    assert "unsupported file type" in p.message


def test_all_problems_are_collected_and_capped(tmp_path):
    rows = "".join(f"P{i},2021-01-05,L1,target,lung,-1,\n" for i in range(100))
    pts = "patient_id,treatment_start\n" + "".join(f"P{i},2021-01-10\n" for i in range(100))
    text = LESIONS.splitlines()[0] + "\n" + rows
    text = edit(text, 2, "lesion_type", "weird")
    found = problems(cohort(tmp_path, pts, text))
    neg = [p for p in found if p.column == "diameter_mm"]
    assert len(neg) == 51 and neg[-1].row is None and "… and 50 more rows" in neg[-1].message
    assert one(found, "lesions.csv", 2, "lesion_type")  # a second check also reported


def test_read_table_raises_cohort_error_not_pandas_error(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("")
    with pytest.raises(CohortError) as exc:
        read_table(f)
    assert exc.value.problems[0].message == "file is empty"


def test_problem_string_format(tmp_path):
    text = edit(LESIONS, 3, "diameter_mm", "-4")
    found = problems(cohort(tmp_path, lesions=text))
    s = str(one(found, "lesions.csv", 3, "diameter_mm"))
    assert s.endswith(
        "lesions.csv:3: diameter_mm: '-4' is below 0 (expected a diameter ≥ 0 in "
        "mm, or TOO SMALL TO MEASURE / NOT EVALUABLE)"
    )


# ---- the command line ---------------------------------------------------------------------


def test_cli_validate_valid(tmp_path, capsys):
    assert main(["validate", str(cohort(tmp_path))]) == 0
    out = capsys.readouterr()
    assert "valid" in out.out and out.err == ""


def test_cli_validate_bad_one_line_per_problem(tmp_path, capsys):
    text = edit(LESIONS, 3, "diameter_mm", "-4")
    text = edit(text, 5, "lesion_type", "weird")
    code = main(["validate", str(cohort(tmp_path, lesions=text))])
    err = capsys.readouterr().out  # findings on stdout: `hpd validate x > problems.txt`
    assert code != 0
    lines = err.strip().splitlines()
    assert any(
        ln.endswith(
            "lesions.csv:3: diameter_mm: '-4' is below 0 (expected a diameter "
            "≥ 0 in mm, or TOO SMALL TO MEASURE / NOT EVALUABLE)"
        )
        for ln in lines
    )
    assert any("lesions.csv:5: lesion_type: unknown value 'weird'" in ln for ln in lines)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02junk", b"<html></html>", b"a,b\n1,2\n", "caf\xe9,x\n".encode("latin-1")],
)
def test_cli_validate_never_prints_a_traceback(tmp_path, capsys, content):
    d = cohort(tmp_path)
    (d / "lesions.csv").write_bytes(content)
    code = main(["validate", str(d)])
    out = capsys.readouterr()
    err = out.out  # findings on stdout
    assert code != 0 and "Traceback" not in err + out.err and "lesions.csv" in err


def test_two_aliases_of_one_column(tmp_path):
    text = PATIENTS.replace("patient_id,", "USUBJID,patient_id,", 1)
    lines = text.splitlines()
    text = "\n".join([lines[0]] + [ln.split(",")[0] + "," + ln for ln in lines[1:]]) + "\n"
    p = one(problems(cohort(tmp_path, text)), "patients.csv", 1, "patient_id")
    assert "both 'USUBJID' and 'patient_id' give patient_id" in p.message


def test_excel_number_where_a_date_belongs(tmp_path):
    d = cohort(tmp_path, lesions=None)
    (d / "patients.csv").unlink()
    pd.DataFrame(
        {"patient_id": ["P1", "P2"], "treatment_start": [pd.Timestamp("2021-01-10"), 44197]}
    ).to_excel(d / "patients.xlsx", index=False)
    p = one(problems(d), "patients.xlsx", 3, "treatment_start")
    assert p.message == "'44197' is a number, not a date"


def test_wide_sum_without_date_and_dates_out_of_order(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "scans.csv").write_text(
        "patient_id,sld_prebaseline_mm,sld_baseline_mm,sld_first_eval_mm,date_prebaseline,"
        "date_baseline,date_first_eval\n"
        "A,50,60,70,,2021-01-01,2021-02-15\n"
        "B,50,60,70,2021-01-01,2020-12-01,2021-02-15\n"
    )
    found = problems(d)
    assert (
        "sld_prebaseline_mm is given without a date"
        in one(found, "scans.csv", 2, "date_prebaseline").message
    )
    assert (
        "2020-12-01 is not after date_prebaseline"
        in one(found, "scans.csv", 3, "date_baseline").message
    )


def test_missing_diameter_column_with_target_lesions(tmp_path):
    text = (
        "\n".join(",".join(ln.split(",")[:5] + ln.split(",")[6:]) for ln in LESIONS.splitlines())
        + "\n"
    )
    p = one(problems(cohort(tmp_path, lesions=text)), "lesions.csv", 1, "diameter_mm")
    assert "required column diameter_mm is missing" in p.message


def test_summary_line_follows_its_check(tmp_path):
    pts = "patient_id,treatment_start\n" + "".join(f"P{i},2021-01-10\n" for i in range(60))
    pts = pts.replace("P0,2021-01-10", "P0,2021-99-10")
    rows = "".join(f"P{i},2021-01-05,L1,target,lung,x,\n" for i in range(60))
    found = validate_cohort(cohort(tmp_path, pts, LESIONS.splitlines()[0] + "\n" + rows))
    les = [p for p in found if Path(p.file).name == "lesions.csv"]
    assert [p.row for p in les[:50]] == list(range(2, 52))
    assert les[50].row is None and "… and 10 more rows" in les[50].message
    assert Path(found[0].file).name == "patients.csv"  # files in the order they were read


CELLS = [
    "",
    " ",
    "P1",
    "P2",
    "2021-01-05",
    "2021-02-30",
    "1900-01-01",
    "05/01/2021",
    "2021-01-05T10:00Z",
    "target",
    "non-target",
    "new",
    "NE",
    "TOO SMALL TO MEASURE",
    "-1",
    "0",
    "1",
    "12.5",
    "1e400",
    "abc",
    "true",
    "present",
    "Ünïcode",
    "nan",
    "NA",
]


@pytest.mark.parametrize("seed", range(12))
def test_random_garbage_never_crashes(tmp_path, seed):
    """Any mix of odd cells gives Problems or a cohort, never an internal error."""
    rng = np.random.default_rng(seed)
    pcols = [
        "patient_id",
        "treatment_start",
        "death_date",
        "last_contact",
        "ecog_baseline",
        "os_months",
        "os_event",
    ]
    lcols = [
        "patient_id",
        "assessment_date",
        "lesion_id",
        "lesion_type",
        "organ",
        "diameter_mm",
        "status",
        "lymph_node",
    ]
    n = int(rng.integers(0, 6))
    pts = pd.DataFrame({c: rng.choice(CELLS, n) for c in pcols})
    les = pd.DataFrame({c: rng.choice(CELLS, 8) for c in lcols})
    d = tmp_path / "g"
    d.mkdir()
    pts.to_csv(d / "patients.csv", index=False)
    les.to_parquet(d / "lesions.parquet", index=False)
    for found in (validate_cohort(d), _problems_of(pts, les)):
        assert all("could not be validated" not in p.message for p in found), found


def _problems_of(pts: pd.DataFrame, les: pd.DataFrame) -> list[Problem]:
    try:
        load_cohort(patients=pts, lesions=les)
    except CohortError as exc:
        return exc.problems
    return []
