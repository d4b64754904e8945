"""OS, PFS and TTF from dates and from given times, on hand-made patients."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hpd_analysis.endpoints import ENDPOINT_COLUMNS, death_days, derive_endpoints
from hpd_analysis.params import DAYS_PER_MONTH, Parameters

START = pd.Timestamp("2021-03-01")


def d(k):
    return START + pd.Timedelta(days=k) if k is not None else pd.NaT


def patients(**cols):
    n = len(next(iter(cols.values())))
    out = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "treatment_start": START})
    for k, v in cols.items():
        out[k] = [d(x) for x in v] if k.endswith(("_date", "_contact", "_end")) else v
    return out


def test_os_event_and_censoring():
    p = patients(
        death_date=[100, None, None, None],
        last_contact=[90, 200, 50, None],
        progression_date=[None, None, 80, None],
        treatment_end=[None, None, 70, None],
    )
    e = derive_endpoints(p)
    assert list(e.columns) == ENDPOINT_COLUMNS
    np.testing.assert_allclose(e.os_months[:3], np.array([100, 200, 80]) / DAYS_PER_MONTH)
    assert e.os_event.tolist()[:3] == [1, 0, 0]
    # third patient: censored at the progression date, the latest date known alive
    assert np.isnan(e.os_months[3]) and pd.isna(e.os_event[3])
    assert e.os_reason.tolist() == [None, None, None, "no death_date or last_contact"]
    assert e.death_day.tolist()[0] == 100 and np.isnan(e.death_day[1])


def test_pfs_first_of_progression_and_death():
    p = patients(
        progression_date=[60, None, 60, None],
        death_date=[None, 45, 30, None],
        last_contact=[100, 40, 30, None],
    )
    e = derive_endpoints(p)
    np.testing.assert_allclose(e.pfs_months[:3], np.array([60, 45, 30]) / DAYS_PER_MONTH)
    assert e.pfs_event.tolist()[:3] == [1, 1, 1]
    assert e.pfs_reason.iloc[3] == "no progression_date, death_date or last_contact"
    p = patients(last_contact=[120])
    e = derive_endpoints(p)
    assert e.pfs_event.tolist() == [0] and e.pfs_months.iloc[0] == 120 / DAYS_PER_MONTH


def test_ttf_discontinuation_for_any_reason():
    p = patients(
        treatment_end=[30, None, None, None],
        death_date=[None, 20, None, None],
        last_contact=[100, 20, 200, None],
    )
    e = derive_endpoints(p)
    np.testing.assert_allclose(e.ttf_months[:3], np.array([30, 20, 200]) / DAYS_PER_MONTH)
    assert e.ttf_event.tolist()[:3] == [1, 1, 0]
    assert e.ttf_reason.iloc[3] == "no treatment_end, death_date or last_contact"


def test_dates_before_start_are_reported_not_used():
    p = patients(death_date=[-5], last_contact=[-5])
    e = derive_endpoints(p)
    assert np.isnan(e.os_months[0]) and "before treatment_start" in e.os_reason[0]


def test_given_times_are_used_and_give_death_day():
    p = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "treatment_start": START,
            "os_months": [2.5, 10.0, np.nan],
            "os_event": pd.array([1, 0, pd.NA], dtype="Int64"),
            "last_contact": [pd.NaT, pd.NaT, d(61)],
        }
    )
    e = derive_endpoints(p)
    assert e.os_months.tolist()[:2] == [2.5, 10.0]
    assert e.os_event.tolist()[:2] == [1, 0]
    assert e.os_months.iloc[2] == 61 / DAYS_PER_MONTH  # falls back to dates
    assert e.os_reason.isna().all()
    assert e.death_day.iloc[0] == 2.5 * DAYS_PER_MONTH and np.isnan(e.death_day.iloc[1])
    np.testing.assert_allclose(death_days(p), e.death_day)


def test_days_per_month_parameter_and_order():
    p = patients(death_date=[30, 60])
    e = derive_endpoints(p.iloc[::-1].reset_index(drop=True), Parameters(days_per_month=30.0))
    assert e.patient_id.tolist() == ["P1", "P0"]
    assert e.os_months.tolist() == [2.0, 1.0]


def test_progression_from_scans_takes_the_first_recist_pd_scan():
    """Issue 12: P1 is SD at the first evaluation and PD at the second (30 -> 31 -> 40 mm:
    +29 % from the nadir 30, ≥ 5 mm), without progression_date: a warning; with
    plausibility.progression_from_scans=true its PFS is an event at the second scan
    (2021-01-10 -> 2021-04-20: 100 days / 30.4375 = 3.2854 months, by hand)."""
    import pandas as pd

    from hpd_analysis.classification import classify_table
    from hpd_analysis.endpoints import progression_warnings
    from hpd_analysis.load import load_cohort
    from hpd_analysis.params import Parameters

    pts = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "treatment_start": ["2021-01-10"] * 2,
            "progression_date": ["", "2021-05-01"],
            "last_contact": ["2021-09-01", "2021-09-01"],
        }
    )
    les = pd.DataFrame(
        {
            "patient_id": ["P1"] * 3 + ["P2"] * 3,
            "assessment_date": ["2021-01-05", "2021-02-25", "2021-04-20"] * 2,
            "lesion_id": ["L1"] * 6,
            "lesion_type": ["target"] * 6,
            "diameter_mm": ["30", "31", "40", "30", "31", "40"],
        }
    )
    cohort = load_cohort(patients=pts, lesions=les)
    warn = progression_warnings(cohort)
    assert len(warn) == 1 and "1 patient(s) have a RECIST PD scan" in warn[0] and "(P1)" in warn[0]
    on = Parameters.from_dict({"plausibility.progression_from_scans": True})
    assert progression_warnings(cohort, on) == []
    off = classify_table(cohort, params=Parameters()).set_index("patient_id")
    table = classify_table(cohort, params=on).set_index("patient_id")
    assert off.loc["P1", "pfs_event"] == 0
    assert table.loc["P1", "pfs_event"] == 1
    assert abs(table.loc["P1", "pfs_months"] - 100 / 30.4375) < 1e-9
    # a given progression_date is never replaced
    assert table.loc["P2", "pfs_months"] == off.loc["P2", "pfs_months"]
    assert abs(table.loc["P2", "pfs_months"] - 111 / 30.4375) < 1e-9
