"""Readers of published trial tables: hand-made files at the edges, then the real files.

Tests marked ``external`` read ``../shared/data/external`` from the repository root, or the copies
bundled in ``hpd_analysis/data`` when it is absent (OAK/POPLAR are not bundled: skipped then).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.errors import CohortError, HPDError
from hpd_analysis.external import (
    REFERENCE_DATE,
    read_laleh2022,
    read_oak_poplar,
    write_external_cohort,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
#: the project's shared data folder when present, else the copies bundled in the package (every
#: set but OAK/POPLAR, which is not redistributable: its tests skip without the shared folder)
EXTERNAL = (
    SHARED if SHARED.is_dir() else Path(__file__).resolve().parents[1] / "hpd_analysis" / "data"
)
needs_external = pytest.mark.skipif(
    not EXTERNAL.is_dir(), reason=f"external data folder absent: {EXTERNAL}"
)
needs_oak = pytest.mark.skipif(
    not (EXTERNAL / "oak_poplar_gandara2018").is_dir(),
    reason="OAK/POPLAR data absent (not bundled)",
)

LALEH_HEADER = "Patient_Anonmyized,Treatment_Day,TargetLesionLongDiam_mm,Study_Arm\n"


def _laleh(tmp_path: Path, body: str, name: str = "study4.csv") -> Path:
    p = tmp_path / name
    p.write_text(LALEH_HEADER + body)
    return p


def _rep(t: dict[str, pd.DataFrame], action: str) -> int:
    r = t["report"]
    return int(r.loc[r["action"] == action, "n_rows"].sum())


# --------------------------------------------------------------------------- Laleh 2022


def test_laleh_days_text_codes_and_sorting(tmp_path):
    body = (
        "11,84,TOO SMALL TO MEASURE,Study_4_Arm_2\n"
        "11,-3,42,Study_4_Arm_2\n"
        "11,1,40,Study_4_Arm_2\n"
        "11,42,NOT EVALUABLE,Study_4_Arm_2\n"
        "22,-10,30.5,Study_4_Arm_1\n"
        "22,36,,Study_4_Arm_1\n"
    )
    t = read_laleh2022(_laleh(tmp_path, body))
    a = t["assessments"].set_index(["patient_id", "treatment_day"])
    # day 1 = first dose = treatment start; day -3 three days before; day 84 = start + 83 days
    assert a.loc[("S4_11", 1), "assessment_date"] == REFERENCE_DATE
    assert a.loc[("S4_11", -3), "assessment_date"] == REFERENCE_DATE - pd.Timedelta(days=3)
    assert a.loc[("S4_11", 84), "assessment_date"] == REFERENCE_DATE + pd.Timedelta(days=83)
    assert a.loc[("S4_11", 84), "sld_mm"] == 5.0 and a.loc[("S4_11", 84), "too_small"]
    assert np.isnan(a.loc[("S4_11", 42), "sld_mm"]) and a.loc[("S4_11", 42), "not_evaluable"]
    assert np.isnan(a.loc[("S4_22", 36), "sld_mm"]) and a.loc[("S4_22", 36), "not_evaluable"]
    assert a.loc[("S4_22", -10), "sld_mm"] == 30.5
    assert list(t["assessments"]["treatment_day"][:4]) == [-3, 1, 42, 84]  # sorted
    assert _rep(t, "rows_sorted") == 1
    assert _rep(t, "too_small_to_measure") == 1 and _rep(t, "not_evaluable") == 1
    assert _rep(t, "missing_value") == 1
    p = t["patients"].set_index("patient_id")
    assert (
        p.loc["S4_11", "treatment"] == "atezolizumab" and p.loc["S4_22", "treatment"] == "docetaxel"
    )
    assert (p["treatment_start"] == REFERENCE_DATE).all()
    assert p.loc["S4_22", "source_patient_id"] == "22" and p.loc["S4_22", "study"] == 4


def test_laleh_duplicates_conflicts_and_missing_day(tmp_path):
    body = (
        "7,40,20,Study_2_Arm_1\n7,40,20,Study_2_Arm_1\n"  # identical: one kept
        "8,57,12,Study_2_Arm_1\n8,57,41,Study_2_Arm_1\n"  # conflict: NaN, flagged
        "9,,33,Study_2_Arm_1\n"
    )  # no day: dropped, patient kept
    t = read_laleh2022(_laleh(tmp_path, body, "study2.csv"))
    a = t["assessments"]
    assert len(a) == 2
    c = a[a.patient_id == "S2_8"].iloc[0]
    assert np.isnan(c.sld_mm) and c.conflict and c.not_evaluable
    assert set(t["patients"]["patient_id"]) == {"S2_7", "S2_8", "S2_9"}  # nobody lost
    assert _rep(t, "duplicate_row_dropped") == 1
    assert _rep(t, "conflicting_values_not_evaluable") == 2
    assert _rep(t, "row_without_day_dropped") == 1
    assert t["patients"]["treatment"].isna().all()  # only study 4 arms are named


def test_laleh_bad_values_are_errors(tmp_path):
    with pytest.raises(CohortError) as e:
        read_laleh2022(_laleh(tmp_path, "1,5,BIG,Study_1_Arm_1\n1,0,3,Study_1_Arm_1\n"))
    probs = {(p.row, p.column) for p in e.value.problems}
    assert probs == {(2, "TargetLesionLongDiam_mm"), (3, "Treatment_Day")}
    with pytest.raises(CohortError) as e:
        read_laleh2022(_laleh(tmp_path, "1,5,3,Arm one\n"))
    assert e.value.problems[0].column == "Study_Arm"
    with pytest.raises(CohortError, match="several arms"):
        read_laleh2022(_laleh(tmp_path, "1,5,3,Study_1_Arm_1\n1,9,3,Study_1_Arm_2\n"))
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(CohortError, match="required column"):
        read_laleh2022(tmp_path / "x.csv")


# --------------------------------------------------------------------------- OAK / POPLAR

OAK_HEADER = (
    "PtID,btmb,BAGE,race2,SEX,HIST,ECOGGR,PRIORTXC,TOBHX,blSLD,METSITES,PFS,PFS.CNSR,"
    "OS,OS.CNSR,TRT01P,BCOR,TC1IC1,TC3IC3\n"
)


def test_oak_event_inversion_and_missing_dot(tmp_path):
    p = tmp_path / "oak_clinical.csv"
    p.write_text(
        OAK_HEADER + "1,.,64,WHITE,M,SQUAMOUS,1,1,PREVIOUS,152,3,1.5,0,5.2,0,Docetaxel,PD,"
        "TC0 and IC0,TC0/1/2 and IC0/1/2\n"
        + "2,12,70,ASIAN,F,NON-SQUAMOUS,0,2,NEVER,.,1,9.0,1,20.1,1,MPDL3280A,.,"
        "UNKNOWN,UNKNOWN\n"
    )
    d = read_oak_poplar(p).set_index("patient_id")
    assert list(d["os_event"]) == [1, 0] and list(d["pfs_event"]) == [1, 0]
    assert d.loc["2", "os_months"] == pytest.approx(20.1)
    assert d.loc["1", "treatment"] == "docetaxel" and d.loc["2", "treatment"] == "atezolizumab"
    assert np.isnan(d.loc["1", "btmb"]) and np.isnan(d.loc["2", "sld_baseline_mm"])
    assert pd.isna(d.loc["2", "best_confirmed_response"])
    assert d["ecog_baseline"].dtype == "Int64" and d.loc["2", "n_prior_therapies"] == 2
    assert (d["trial"] == "OAK").all() and (d["treatment_start"] == REFERENCE_DATE).all()


def test_oak_bad_censoring_flag_is_an_error(tmp_path):
    p = tmp_path / "poplar_clinical.csv"
    p.write_text("PtID,OS,OS.CNSR,PFS,PFS.CNSR,TRT01P\n1,3,2,1,0,Docetaxel\n2,x,0,1,0,Docetaxel\n")
    with pytest.raises(CohortError) as e:
        read_oak_poplar(p)
    assert {(q.row, q.column) for q in e.value.problems} == {(2, "OS.CNSR"), (3, "OS")}
    with pytest.raises(FileNotFoundError):
        read_oak_poplar(tmp_path / "none.csv")


def test_write_external_cohort_rejects_unknown_name(tmp_path):
    with pytest.raises(HPDError, match="unknown external cohort"):
        write_external_cohort("nope", tmp_path / "x", external_dir=tmp_path)


# --------------------------------------------------------------------------- real files


@pytest.mark.external
@needs_external
def test_laleh_study4_is_oak_two_arms():
    t = read_laleh2022(EXTERNAL / "laleh2022" / "study4.csv.gz")
    p = t["patients"]
    assert len(p) == 701
    assert p.groupby("arm").size().to_dict() == {1: 325, 2: 376}
    assert p["treatment"].value_counts().to_dict() == {"atezolizumab": 376, "docetaxel": 325}
    a = t["assessments"]
    assert len(a) == 4126 and a["patient_id"].nunique() == 701
    # text codes of the file: 25 TOO SMALL TO MEASURE, 23 NOT EVALUABLE, 4 empty
    assert int(a["too_small"].sum()) == 25 and (a.loc[a["too_small"], "sld_mm"] == 5.0).all()
    assert int(a["not_evaluable"].sum()) == 27
    assert _rep(t, "rows_sorted") == 58
    assert a.groupby("patient_id")["treatment_day"].apply(lambda s: s.is_monotonic_increasing).all()
    # one value per patient and day (a per-scan sum, not one row per lesion)
    assert not a.duplicated(["patient_id", "treatment_day"]).any()


@pytest.mark.external
@needs_external
def test_laleh_all_studies():
    t = read_laleh2022(EXTERNAL / "laleh2022")
    p, a = t["patients"], t["assessments"]
    assert p.groupby("study").size().to_dict() == {1: 76, 2: 165, 3: 387, 4: 701, 5: 143}
    assert p["study_arm"].nunique() == 14
    # anonymised ids repeat across studies: qualified by study, all kept
    assert p["source_patient_id"].duplicated().any() and p["patient_id"].is_unique
    assert set(a["patient_id"]) == set(p["patient_id"])
    assert _rep(t, "too_small_to_measure") == 54 and _rep(t, "not_evaluable") == 62


@pytest.mark.external
@needs_external
@needs_oak
@pytest.mark.parametrize(
    "trial, n, n_os_events, n_pfs_events", [("oak", 850, 569, 755), ("poplar", 287, 200, 254)]
)
def test_oak_poplar_counts_and_event_inversion(trial, n, n_os_events, n_pfs_events):
    path = EXTERNAL / "oak_poplar_gandara2018" / f"{trial}_clinical.csv.gz"
    d = read_oak_poplar(path)
    raw = pd.read_csv(path, na_values=".")
    assert len(d) == n and d["patient_id"].is_unique
    assert (d["os_event"].to_numpy() == 1 - raw["OS.CNSR"].to_numpy()).all()
    assert (d["pfs_event"].to_numpy() == 1 - raw["PFS.CNSR"].to_numpy()).all()
    assert int(d["os_event"].sum()) == n_os_events and int(d["pfs_event"].sum()) == n_pfs_events
    assert d["arm"].value_counts().to_dict() == raw["TRT01P"].value_counts().to_dict()
    assert d["best_confirmed_response"].isna().sum() == raw["BCOR"].isna().sum()
    assert d["ecog_baseline"].isin([0, 1]).all()


@pytest.mark.external
@needs_external
@pytest.mark.parametrize(
    "name, n", [("laleh2022-study4", 701), pytest.param("oak", 850, marks=needs_oak)]
)
def test_write_external_cohort_loads(tmp_path, name, n):
    out = write_external_cohort(name, tmp_path / name, external_dir=EXTERNAL)
    again = write_external_cohort(name, tmp_path / "again", external_dir=EXTERNAL)
    assert (out / "patients.csv").read_bytes() == (again / "patients.csv").read_bytes()
    from hpd_analysis import load

    cohort = load.load_cohort(out)
    assert cohort.n_patients == n
    if name.startswith("laleh"):
        assert cohort.assessments is not None and len(cohort.assessments) == 4126
    else:
        assert not cohort.has_measurements
