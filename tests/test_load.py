"""The loader on every input shape and format, with aliases, text codes, units and times.

Tiny hand-made cohorts written to tmp_path in each supported format.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpd_analysis.cohort import LOAD_REPORT_COLUMNS, Cohort
from hpd_analysis.errors import CohortError
from hpd_analysis.load import load_cohort, read_table, validate_cohort
from hpd_analysis.params import Parameters

PATIENTS = """patient_id,treatment_start,death_date,last_contact,ecog_baseline,age,sex
P2,2021-02-01,2021-05-01,2021-04-01,0,70,M
P1,2021-01-10,,2021-06-01,1,64,F
"""
LESIONS = """patient_id,assessment_date,lesion_id,lesion_type,organ,diameter_mm,status
P2,2021-03-20,L1,target,mediastinal lymph node,18,
P1,2021-01-05,L2,target,liver,20,
P1,2021-01-05,L1,target,lung,too small to measure,
P1,2021-03-01,L1,target,lung,12,
P1,2021-03-01,L2,TARGET,liver,  NOT EVALUABLE ,
P2,2021-01-20,L1,target,mediastinal lymph node,15,
P2,2021-01-20,N1,Non-Target,bone,,present
P2,2021-03-20,N1,non_target,bone,,Unequivocal Progression
P2,2021-03-20,X1,new,brain,,
"""


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.read_csv(StringIO(PATIENTS), dtype=str), pd.read_csv(StringIO(LESIONS), dtype=str))


def write(tmp_path: Path, fmt: str) -> Path:
    d = tmp_path / fmt.strip(".")
    d.mkdir()
    pts, les = frames()
    for name, df in (("patients", pts), ("lesions", les)):
        if fmt == "csv":
            df.to_csv(d / f"{name}.csv", index=False)
        elif fmt == "csv.gz":
            df.to_csv(d / f"{name}.csv.gz", index=False)
        elif fmt == "parquet":
            df.to_parquet(d / f"{name}.parquet", index=False)
        elif fmt == "xlsx":
            df.to_excel(d / f"{name}.xlsx", index=False)
    return d


def check_canonical(c: Cohort) -> None:
    """The canonical tables of docs/architecture.md for the PATIENTS/LESIONS cohort."""
    p, les = c.patients, c.lesions
    assert list(p["patient_id"]) == ["P2", "P1"]  # input order kept
    assert p["patient_id"].dtype == object and all(isinstance(v, str) for v in p["patient_id"])
    assert p["treatment_start"].dtype == "datetime64[ns]"
    assert p["death_date"].dtype == "datetime64[ns]" and pd.isna(p.loc[1, "death_date"])
    assert str(p["ecog_baseline"].dtype) == "Int64"
    assert list(les.columns[:9]) == [
        "patient_id",
        "assessment_date",
        "lesion_id",
        "lesion_type",
        "organ",
        "diameter_mm",
        "status",
        "is_lymph_node",
        "not_evaluable",
    ]
    assert les["assessment_date"].dtype == "datetime64[ns]"
    assert les["diameter_mm"].dtype == "float64"
    assert isinstance(les["lesion_type"].dtype, pd.CategoricalDtype)
    assert list(les["lesion_type"].cat.categories) == ["target", "non_target", "new"]
    assert list(les["status"].cat.categories) == ["present", "absent", "unequivocal_progression"]
    assert les["is_lymph_node"].dtype == bool and les["not_evaluable"].dtype == bool
    # sorted by patient, date, lesion
    keys = list(zip(les["patient_id"], les["assessment_date"], les["lesion_id"], strict=True))
    assert keys == sorted(keys)
    assert les.index.equals(pd.RangeIndex(len(les)))
    row = les[(les.patient_id == "P1") & (les.lesion_id == "L1")].iloc[0]
    assert row["diameter_mm"] == 5.0 and not row["not_evaluable"]  # TOO SMALL TO MEASURE
    row = les[(les.patient_id == "P1") & (les.lesion_id == "L2")].iloc[1]
    assert np.isnan(row["diameter_mm"]) and row["not_evaluable"] and row["lesion_type"] == "target"
    nt = les[les.lesion_id == "N1"]
    assert list(nt["lesion_type"]) == ["non_target"] * 2
    assert list(nt["status"]) == ["present", "unequivocal_progression"]
    assert les.loc[les.organ == "mediastinal lymph node", "is_lymph_node"].all()
    assert not les.loc[les.organ != "mediastinal lymph node", "is_lymph_node"].any()


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "xlsx"])
def test_folder_in_each_format(tmp_path, fmt):
    d = write(tmp_path, fmt)
    c = load_cohort(d)
    check_canonical(c)
    assert c.assessments is None and c.scans_wide is None
    assert set(c.sources) == {"patients", "lesions"}
    assert all(len(v) == 64 for v in c.checksums.values())
    assert list(c.load_report.columns) == LOAD_REPORT_COLUMNS
    actions = set(c.load_report["action"])
    assert {"mapped_text_code", "sorted"} <= actions
    assert validate_cohort(d) == []


def test_explicit_paths_and_dataframes(tmp_path):
    d = write(tmp_path, "csv")
    check_canonical(load_cohort(patients=d / "patients.csv", lesions=d / "lesions.csv"))
    pts, les = frames()
    c = load_cohort(patients=pts, lesions=les)
    check_canonical(c)
    assert c.sources == {"patients": "<patients DataFrame>", "lesions": "<lesions DataFrame>"}


def test_dataframe_rows_are_reported_as_spreadsheet_rows():
    pts, les = frames()
    les.loc[3, "diameter_mm"] = "-1"
    with pytest.raises(CohortError) as exc:
        load_cohort(patients=pts, lesions=les)
    (p,) = exc.value.problems
    assert (p.file, p.row, p.column) == ("<lesions DataFrame>", 5, "diameter_mm")


def test_excel_workbook_with_role_sheets(tmp_path):
    pts, les = frames()
    f = tmp_path / "cohort.xlsx"
    with pd.ExcelWriter(f) as xw:
        les.to_excel(xw, sheet_name="Lesions", index=False)
        pts.to_excel(xw, sheet_name="Patients", index=False)
        pd.DataFrame({"note": ["ignore me"]}).to_excel(xw, sheet_name="README", index=False)
    check_canonical(load_cohort(f))


def test_excel_typed_cells(tmp_path):
    """Excel stores numbers and real dates: ids lose '.0', dates are read, not mangled."""
    pts = pd.DataFrame(
        {
            "patient_id": [101, 102],
            "treatment_start": pd.to_datetime(["2021-01-10", "2021-02-01"]),
            "ecog_baseline": [0, 1],
        }
    )
    d = tmp_path / "x"
    d.mkdir()
    pts.to_excel(d / "patients.xlsx", index=False)
    c = load_cohort(d)
    assert list(c.patients["patient_id"]) == ["101", "102"]
    assert c.patients["treatment_start"].tolist() == list(
        pd.to_datetime(["2021-01-10", "2021-02-01"])
    )


def test_read_table_picks_the_sheet_of_the_role(tmp_path):
    pts, les = frames()
    f = tmp_path / "both.xlsx"
    with pd.ExcelWriter(f) as xw:
        pts.to_excel(xw, sheet_name="patients", index=False)
        les.to_excel(xw, sheet_name="lesions", index=False)
    assert len(read_table(f, role="lesions")) == len(les)
    with pytest.raises(CohortError):
        read_table(f)  # two sheets, no role


def test_sdtm_like_aliases_and_case_insensitive_columns(tmp_path):
    d = tmp_path / "sdtm"
    d.mkdir()
    (d / "patients.csv").write_text(
        "USUBJID,RFXSTDTC,DTHDTC,Last Contact,ECOG\nS-1,2021-01-10,2021-04-01,2021-04-01,1\n"
    )
    (d / "lesions.csv").write_text(
        "usubjid,TRDTC,TRLNKID,TRGRPID,Site,Diameter\n"
        "S-1,2021-01-05,T01,TARGET,LIVER,31\n"
        "S-1,2021-03-01,T01,TARGET,LIVER,40\n"
    )
    c = load_cohort(d)
    assert list(c.patients.columns[:5]) == [
        "patient_id",
        "treatment_start",
        "death_date",
        "last_contact",
        "ecog_baseline",
    ]
    assert c.patients.loc[0, "death_date"] == pd.Timestamp("2021-04-01")
    assert list(c.lesions["diameter_mm"]) == [31.0, 40.0]
    renamed = c.load_report[c.load_report["action"] == "renamed"]
    assert "USUBJID->patient_id" in " ".join(renamed["detail"])
    assert "TRGRPID->lesion_type" in " ".join(renamed["detail"])


def test_diameter_cm_converted_to_mm(tmp_path):
    d = tmp_path / "cm"
    d.mkdir()
    (d / "patients.csv").write_text("patient_id,treatment_start\nP1,2021-01-10\n")
    (d / "lesions.csv").write_text(
        "patient_id,assessment_date,lesion_id,lesion_type,diameter_cm\n"
        "P1,2021-01-05,L1,target,2.5\n"
        "P1,2021-03-01,L1,target,TOO SMALL TO MEASURE\n"
    )
    c = load_cohort(d, params=Parameters(too_small_to_measure_mm=4.0))
    assert list(c.lesions["diameter_mm"]) == [25.0, 4.0]  # the code is mm, not ×10
    conv = c.load_report[c.load_report["action"] == "converted_units"].iloc[0]
    assert conv["column"] == "diameter_cm" and conv["n_rows"] == 1


def test_explicit_lymph_node_and_not_evaluable_columns(tmp_path):
    les = pd.DataFrame(
        {
            "patient_id": ["P1"] * 3,
            "assessment_date": ["2021-01-05"] * 3,
            "lesion_id": ["A", "B", "C"],
            "lesion_type": ["target"] * 3,
            "organ": ["neck", "lymph node", "lung"],
            "diameter_mm": ["12", "8", ""],
            "lymph_node": ["1", "", "0"],
            "not_evaluable": ["0", "0", "1"],
        }
    )
    c = load_cohort(
        patients=pd.DataFrame({"patient_id": ["P1"], "treatment_start": ["2021-01-10"]}),
        lesions=les,
    )
    assert list(c.lesions["is_lymph_node"]) == [True, True, False]  # blank -> from organ
    assert list(c.lesions["not_evaluable"]) == [False, False, True]


def test_times_instead_of_dates_and_true_false_flags():
    pts = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "treatment_start": ["2021-01-10", "2021-01-11", "2021-01-12"],
            "os_months": ["12.5", "3", ""],
            "os_event": ["0", "TRUE", ""],
            "pfs_months": [2.0, 1.5, 4.0],
            "pfs_event": [1, 1, 0],
        }
    )
    c = load_cohort(patients=pts)
    p = c.patients
    assert p["os_months"].dtype == "float64" and str(p["os_event"].dtype) == "Int64"
    assert p["os_months"].tolist()[:2] == [12.5, 3.0] and pd.isna(p.loc[2, "os_months"])
    assert p["os_event"].tolist()[:2] == [0, 1] and pd.isna(p.loc[2, "os_event"])
    assert p["pfs_event"].tolist() == [1, 1, 0]
    note = c.load_report[c.load_report["action"] == "mapped_text_code"].iloc[0]
    assert note["column"] == "os_event"


def test_patients_only_cohort(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "patients.csv").write_text(PATIENTS)
    c = load_cohort(d)
    assert c.n_patients == 2 and not c.has_measurements and c.lesions is None
    # a patients file given directly is a patients-only cohort too
    assert load_cohort(d / "patients.csv").n_patients == 2


def test_other_columns_are_kept_with_their_types(tmp_path):
    d = write(tmp_path, "csv")
    p = load_cohort(d).patients
    assert p["age"].tolist() == [70, 64] and pd.api.types.is_integer_dtype(p["age"])
    assert p["sex"].tolist() == ["M", "F"]


WIDE = """ID,RECIST_BEFORE,RECIST_BASELINE,RECIST_EVAL1,SCANDATE_BEFORE,SCANDATE_BASELINE,SCANDATE_EVAL1
A,67,98,171,2020-06-01,2020-10-23,2020-12-11
B,50,52,NOT EVALUABLE,2020-05-01,2020-09-01,2020-10-20
C,,40,41,,2020-09-01,2020-10-20
"""


def test_wide_scans_file_given_directly_with_ferte_names(tmp_path):
    f = tmp_path / "ferte_export.csv"
    f.write_text(WIDE)
    c = load_cohort(f)
    w = c.scans_wide
    assert list(w.columns[:7]) == [
        "patient_id",
        "sld_prebaseline_mm",
        "sld_baseline_mm",
        "sld_first_eval_mm",
        "date_prebaseline",
        "date_baseline",
        "date_first_eval",
    ]
    assert w["sld_first_eval_mm"].tolist()[0] == 171.0 and np.isnan(w.loc[1, "sld_first_eval_mm"])
    assert w["date_baseline"].dtype == "datetime64[ns]"
    # patients synthesized from the scans table, treatment_start unknown and said so
    assert list(c.patients["patient_id"]) == ["A", "B", "C"]
    assert c.patients["treatment_start"].isna().all()
    assert "synthesized_patients" in set(c.load_report["action"])
    assert c.lesions is None and c.has_measurements


def test_wide_scans_beside_patients(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "scans.csv").write_text(WIDE)
    (d / "patients.csv").write_text(
        "patient_id,treatment_start\nA,2020-10-25\nB,2020-09-02\nC,2020-09-03\n"
    )
    c = load_cohort(d)
    assert c.patients["treatment_start"].notna().all() and len(c.scans_wide) == 3


def test_wide_scans_errors(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "scans.csv").write_text(WIDE.replace("2020-12-11", "2020-10-01").replace("A,67", "Z,67"))
    (d / "patients.csv").write_text(
        "patient_id,treatment_start\nA,2020-10-25\nB,2020-09-02\nC,2020-09-03\n"
    )
    found = {(p.row, p.column): p.message for p in validate_cohort(d)}
    assert "is not after date_baseline" in found[(2, "date_first_eval")]
    assert "'Z' is not in the patients table" in found[(2, "patient_id")]


def test_assessments_table():
    pts = pd.DataFrame({"patient_id": ["P1"], "treatment_start": ["2021-01-10"]})
    ass = pd.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "assessment_date": ["2021-03-01", "2021-01-05"],
            "sld_mm": ["55", "NE"],
            "new_lesions": ["1", "0"],
        }
    )
    c = load_cohort(patients=pts, assessments=ass)
    a = c.assessments
    assert a["assessment_date"].tolist() == list(pd.to_datetime(["2021-01-05", "2021-03-01"]))
    assert np.isnan(a.loc[0, "sld_mm"]) and a.loc[0, "not_evaluable"]
    assert str(a["new_lesions"].dtype) == "Int64" and a["new_lesions"].tolist() == [0, 1]
    assert str(a["non_target_pd"].dtype) == "boolean" and a["non_target_pd"].isna().all()


def test_semicolon_csv_with_bom_and_blank_lines(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    text = "\ufeffpatient_id;treatment_start\nP1;2021-01-10\n\nP2;2021-01-11\n"
    (d / "patients.csv").write_text(text, encoding="utf-8")
    c = load_cohort(d)
    assert list(c.patients["patient_id"]) == ["P1", "P2"]
    assert {"delimiter", "dropped_empty_rows"} <= set(c.load_report["action"])
    # a later error still points at the right physical line (blank line counted)
    (d / "patients.csv").write_text(text.replace("2021-01-11", "2021-13-11"), encoding="utf-8")
    (p,) = validate_cohort(d)
    assert (p.row, p.column) == (4, "treatment_start")


def test_parquet_timezone_aware_dates(tmp_path):
    d = tmp_path / "tz"
    d.mkdir()
    pd.DataFrame(
        {
            "patient_id": ["P1"],
            "treatment_start": pd.to_datetime(["2021-01-10 23:30"]).tz_localize("Europe/Paris"),
        }
    ).to_parquet(d / "patients.parquet")
    c = load_cohort(d)
    assert c.patients.loc[0, "treatment_start"] == pd.Timestamp("2021-01-10")
    assert {"stripped_timezone", "stripped_time"} <= set(c.load_report["action"])


def test_load_is_reproducible(tmp_path):
    d = write(tmp_path, "csv")
    a, b = load_cohort(d), load_cohort(d)
    pd.testing.assert_frame_equal(a.lesions, b.lesions)
    pd.testing.assert_frame_equal(a.load_report, b.load_report)


def test_laleh_style_text_codes_in_a_sums_column():
    """Real data writes codes in upper case with odd spacing (see laleh2022)."""
    pts = pd.DataFrame({"patient_id": ["1"], "treatment_start": ["2021-01-10"]})
    ass = pd.DataFrame(
        {
            "patient_id": ["1"] * 3,
            "assessment_date": ["2021-01-05", "2021-02-15", "2021-04-01"],
            "sld_mm": ["42", "TOO SMALL TO MEASURE", "NOT  EVALUABLE"],
        }
    )
    a = load_cohort(patients=pts, assessments=ass).assessments
    assert a["sld_mm"].tolist()[:2] == [42.0, 5.0] and np.isnan(a.loc[2, "sld_mm"])
    assert a["not_evaluable"].tolist() == [False, False, True]


def test_blank_cells_in_optional_flag_columns():
    les = pd.DataFrame(
        {
            "patient_id": ["P1"] * 2,
            "assessment_date": ["2021-01-05"] * 2,
            "lesion_id": ["A", "B"],
            "lesion_type": ["target"] * 2,
            "diameter_mm": ["12", "NE"],
            "not_evaluable": ["", None],
        }
    )
    c = load_cohort(
        patients=pd.DataFrame({"patient_id": ["P1"], "treatment_start": ["2021-01-10"]}),
        lesions=les,
    )
    assert list(c.lesions["not_evaluable"]) == [False, True]


def test_tsv_and_singular_sheet_name(tmp_path):
    pts, les = frames()
    d = tmp_path / "t"
    d.mkdir()
    pts.to_csv(d / "patients.tsv", sep="\t", index=False)
    les.to_csv(d / "lesions.tsv.gz", sep="\t", index=False)
    check_canonical(load_cohort(d))
    f = tmp_path / "book.xlsx"
    with pd.ExcelWriter(f) as xw:
        pts.to_excel(xw, sheet_name="Patient", index=False)
        les.to_excel(xw, sheet_name="Lesion", index=False)
    check_canonical(load_cohort(f))


def test_dataframe_inputs_are_neither_modified_nor_shared():
    """The loader takes a shallow copy of DataFrame inputs for speed: the canonical tables must
    still never share memory with them (an in-place edit of the cohort would leak back)."""
    p = pd.DataFrame(
        {
            "Patient ID": ["A", "B"],
            "treatment_start": pd.to_datetime(["2021-03-01"] * 2),
            "age": [50, 60],
        }
    )
    les = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "assessment_date": pd.to_datetime(["2021-02-01", "2021-04-01"]),
            "lesion_id": ["L1", "L1"],
            "lesion_type": ["target"] * 2,
            "organ": ["lung"] * 2,
            "diameter_mm": [10.0, 12.0],
            "extra": [1, 2],
        }
    )
    before = (p.copy(), les.copy())
    c = load_cohort(patients=p, lesions=les)
    pd.testing.assert_frame_equal(p, before[0])
    pd.testing.assert_frame_equal(les, before[1])
    canonical = {"Patient ID": "patient_id"}
    for src, out in ((p, c.patients), (les, c.lesions)):
        for name in src.columns:
            out_col = out[canonical.get(name, name)].to_numpy()
            assert not np.shares_memory(src[name].to_numpy(), out_col), name


def test_covariate_checks_spare_identifier_columns_and_check_integer_ages(tmp_path):
    """Issue 12: a huge number in an id-like column (``source_patient_id``, a hash) is a code,
    not a measurement; an integer age column is range-checked too."""
    d = tmp_path / "c"
    d.mkdir()
    (d / "patients.csv").write_text(
        "patient_id,treatment_start,source_patient_id,age\n"
        "P1,2021-01-10,-1.77996e+18,64\nP2,2021-01-11,2.5e18,70\n"
    )
    assert load_cohort(d).patients["source_patient_id"].abs().min() > 1e18
    (d / "patients.csv").write_text(
        "patient_id,treatment_start,age\nP1,2021-01-10,-40\nP2,2021-01-11,70\n"
    )
    with pytest.raises(CohortError, match="'-40' is not a possible age"):
        load_cohort(d)


# --------------------------------------------------------------------------------------------
# the loader's fast helpers equal their plain readable versions


def _same_shape_plain(ids: list[str]) -> bool:
    """Every id has one length and its digits at the same positions (plain Python)."""
    if not ids:
        return False
    first = [ch.isdigit() and ch.isascii() for ch in ids[0]]
    return all(len(i) == len(ids[0]) for i in ids) and all(
        [ch.isdigit() and ch.isascii() for ch in i] == first for i in ids
    )


@given(st.lists(st.text(alphabet="aB0129 é-_", max_size=5), max_size=6))
@settings(max_examples=300, deadline=None)
def test_same_shape_equals_the_plain_rule(ids):
    from hpd_analysis.plausibility import _same_shape

    assert _same_shape(pd.Series(ids, dtype=object)) == _same_shape_plain(ids)


def test_same_shape_is_false_for_ids_ending_in_nul():
    """NumPy drops trailing NULs: the fast check says False, which only sends the caller to its
    exact check (never a wrong "same shape")."""
    from hpd_analysis.plausibility import _same_shape

    assert not _same_shape(pd.Series(["a\x00", "ab"], dtype=object))


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab \t\u00a0\x1c", max_size=4)), max_size=8))
@settings(max_examples=300, deadline=None)
def test_raw_text_is_each_distinct_value_stripped(values):
    """``Raw.u_text``: each distinct value stripped, None when blank or missing; an unchanged
    text stays the same object (the loader's ids are one object per distinct text)."""
    from hpd_analysis.validate import Raw

    r = Raw(pd.Series(values, dtype=object))
    for v, t in zip(r.uniq.tolist(), r.u_text.tolist(), strict=True):
        assert t == (v.strip() or None if isinstance(v, str) else None)
        if isinstance(v, str) and v == v.strip() and v:
            assert t is v
    assert list(r.u_blank) == [isinstance(v, str) and not v.strip() for v in r.uniq.tolist()]


def test_differs_from_previous_finds_every_change_of_id():
    from hpd_analysis.plausibility import _differs_from_previous

    ids = np.array(["P1", "P1", "P2", "P2", "P2", "P1", None, None, "P3"], dtype=object)
    plain = np.array([a != b for a, b in zip(ids[1:], ids[:-1], strict=True)])
    fast = _differs_from_previous(ids)
    assert (fast | ~plain).all()  # every change found
    shared = np.array([{"P1": "P1", "P2": "P2", "P3": "P3"}.get(v) for v in ids], dtype=object)
    assert (_differs_from_previous(shared) == plain).all()  # one object per id: exactly


def test_describe_keys_names_a_row_by_its_key():
    from hpd_analysis.validate import describe_keys

    d = pd.DataFrame(
        {"lesion_id": ["L1"], "patient_id": ["P1"], "day": pd.to_datetime(["2021-03-04"])}
    )
    text = describe_keys(("lesion ", "lesion_id"), (" of patient ", "patient_id"), (" on ", "day"))
    assert text(d).tolist() == ["lesion L1 of patient P1 on 2021-03-04"]
