"""Longitudinal biomarkers: loading and validation in a cohort folder, early change by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis import biomarkers as bm
from hpd_analysis.errors import CohortError
from hpd_analysis.load import load_cohort, validate_cohort
from hpd_analysis.params import Parameters

PATIENTS = """patient_id,treatment_start
A,2021-01-10
B,2021-02-01
C,2021-03-01
"""


def _folder(tmp_path, rows: str, patients: str = PATIENTS):
    (tmp_path / "patients.csv").write_text(patients)
    (tmp_path / "biomarkers.csv").write_text("patient_id,date,marker,value,unit\n" + rows)
    return tmp_path


GOOD = """A,2021-01-03,ctdna_vaf,2.0,%
A,2021-01-31,ctdna_vaf,3.0,%
A,2021-03-01,ctdna_vaf,6.0,%
A,2021-01-10,ldh,200,U/L
B,2020-11-01,ctdna_vaf,5.0,%
B,2021-02-22,ctdna_vaf,1.0,%
C,2021-03-01,ctdna_vaf,0.0,%
C,2021-03-15,ctdna_vaf,0.5,%
"""


def test_folder_biomarkers_loaded(tmp_path):
    c = load_cohort(_folder(tmp_path, GOOD))
    assert c.biomarkers is not None and len(c.biomarkers) == 8
    assert list(c.biomarkers.columns) == ["patient_id", "date", "marker", "value", "unit"]
    assert c.biomarkers["date"].dtype == "datetime64[ns]"
    assert str(tmp_path / "biomarkers.csv") in c.checksums
    assert c.sources["biomarkers"].endswith("biomarkers.csv")


def test_no_biomarkers_file_gives_none(tmp_path):
    (tmp_path / "patients.csv").write_text(PATIENTS)
    assert load_cohort(tmp_path).biomarkers is None


def test_bad_rows_one_line_each(tmp_path):
    rows = (
        "A,2021-01-03,ctdna_vaf,2.0,%\n"
        "Z,2021-01-03,ctdna_vaf,2.0,%\n"  # row 3: unknown patient
        "A,03/01/2021,ctdna_vaf,2.0,%\n"  # row 4: not ISO
        "A,2021-01-04,ctdna_vaf,2.0 %,%\n"  # row 5: unit in the cell
        "A,2021-01-05,,2.0,%\n"  # row 6: no marker
        "A,2021-01-06,ctdna_vaf,,%\n"  # row 7: no value
        "A,2021-01-03,ctdna_vaf,2.5,%\n"  # row 8: conflicts with row 2
        "B,2021-01-03,ldh,200,U/L\n"
        "B,2021-01-04,ldh,3.3,ukat/L\n"
    )  # rows 9-10: two units for ldh
    problems = validate_cohort(_folder(tmp_path, rows))
    text = [str(p) for p in problems]
    where = {(p.row, p.column) for p in problems}
    assert (3, "patient_id") in where
    assert (4, "date") in where
    assert (5, "value") in where
    assert (6, "marker") in where
    assert (7, "value") in where
    assert any(p.column == "unit" and "several units" in p.message for p in problems)
    assert any(
        "ctdna_vaf" in t and "2021-01-03" in t
        for t in text
        if "duplicate" in t.lower() or "different" in t.lower() or "conflict" in t.lower()
    )
    assert all("biomarkers.csv" in p.file for p in problems)


def test_missing_column_is_reported(tmp_path):
    (tmp_path / "patients.csv").write_text(PATIENTS)
    (tmp_path / "biomarkers.csv").write_text("patient_id,date,value\nA,2021-01-03,1\n")
    with pytest.raises(CohortError) as e:
        load_cohort(tmp_path)
    assert any(p.column == "marker" and "required column" in p.message for p in e.value.problems)


def test_identical_duplicates_dropped_and_recorded(tmp_path):
    c = load_cohort(_folder(tmp_path, GOOD + "A,2021-01-03,ctdna_vaf,2.0,%\n"))
    assert len(c.biomarkers) == 8
    rep = c.load_report
    assert (rep["file"].str.endswith("biomarkers.csv") & (rep["n_rows"] == 1)).any()


def test_early_change_by_hand(tmp_path):
    c = load_cohort(_folder(tmp_path, GOOD))
    e = bm.early_change(c.biomarkers, c.patients, "ctdna_vaf").set_index("patient_id")
    # A: baseline day -7 (2.0), first on-treatment day 21 (3.0): +50 %
    assert e.loc["A", "ctdna_vaf_baseline"] == 2.0
    assert e.loc["A", "ctdna_vaf_baseline_day"] == -7
    assert e.loc["A", "ctdna_vaf_early_day"] == 21
    assert e.loc["A", "ctdna_vaf_early_change_pct"] == pytest.approx(50.0)
    # B: the only pre-treatment value is 92 days before (> 42): no baseline
    assert np.isnan(e.loc["B", "ctdna_vaf_early_change_pct"])
    assert "42 days before" in e.loc["B", "ctdna_vaf_early_change_reason"]
    # C: baseline 0 on the start day: relative change undefined
    assert "is 0" in e.loc["C", "ctdna_vaf_early_change_reason"]
    # a shorter window leaves A without an early value (day 21 > 14)
    p = Parameters.from_dict({"prediction.early_change_max_days": 14})
    e2 = bm.early_change(c.biomarkers, c.patients, "ctdna_vaf", params=p).set_index("patient_id")
    assert "1-14 days" in e2.loc["A", "ctdna_vaf_early_change_reason"]


def test_predictors_and_spider_data(tmp_path):
    c = load_cohort(_folder(tmp_path, GOOD))
    pr = bm.biomarker_predictors(c.biomarkers, c.patients)
    assert list(pr.columns) == [
        "patient_id",
        "ctdna_vaf_baseline",
        "ctdna_vaf_early_change_pct",
        "ldh_baseline",
        "ldh_early_change_pct",
    ]
    assert pr["patient_id"].tolist() == ["A", "B", "C"]
    sp = bm.biomarker_spider_data(c.biomarkers, c.patients, "ctdna_vaf")
    # only A has a usable baseline: days -7, 21, 50 -> 0 %, +50 %, +200 %
    assert sp["patient_id"].tolist() == ["A", "A", "A"]
    assert sp["day"].tolist() == [-7, 21, 50]
    np.testing.assert_allclose(sp["pct_change_baseline"], [0.0, 50.0, 200.0])


def test_read_biomarkers_from_dataframe():
    df = pd.DataFrame(
        {"USUBJID": ["A"], "LBDTC": ["2021-01-01"], "LBTESTCD": ["LDH"], "LBSTRESN": [180.0]}
    )
    out = bm.read_biomarkers(df, pd.Series(["A"]))
    assert out.loc[0, "marker"] == "LDH" and out.loc[0, "value"] == 180.0
    with pytest.raises(CohortError):
        bm.read_biomarkers(df, pd.Series(["B"]))
