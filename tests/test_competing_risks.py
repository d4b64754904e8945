"""Cumulative incidence of progression with death as a competing event (Aalen–Johansen), pinned
against R cmprsk 2.2-11 and lifelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.survival import (
    CAUSE_DEATH,
    CAUSE_PROGRESSION,
    competing_risks_table,
    cumulative_incidence,
    progression_causes,
)

T = [
    0.8,
    1.3,
    3.1,
    4.2,
    7.3,
    8.0,
    1.5,
    1.0,
    3.0,
    3.5,
    11.1,
    2.1,
    5.6,
    6.4,
    2.7,
    16.7,
    9.9,
    17.0,
    0.4,
    0.9,
    0.5,
    3.7,
    11.0,
    9.2,
    4.7,
    6.6,
    5.8,
    6.9,
    3.3,
    3.0,
    1.3,
    2.3,
    8.4,
    5.1,
    11.5,
    4.3,
    2.2,
    6.4,
    21.1,
    5.7,
]
C = [
    2,
    1,
    2,
    1,
    1,
    1,
    1,
    0,
    0,
    0,
    1,
    1,
    2,
    2,
    1,
    2,
    1,
    1,
    1,
    0,
    0,
    0,
    1,
    0,
    0,
    2,
    0,
    1,
    1,
    1,
    1,
    2,
    1,
    1,
    1,
    1,
    2,
    0,
    1,
    1,
]


def test_cumulative_incidence_matches_r_cmprsk_cuminc_with_ties():
    """R 4.2.2, cmprsk 2.2-11: timepoints(cuminc(t, c, cencode = 0), c(2, 5, 10))$est
    cause 1: 0.1063721804511 0.277367566644 0.533143591173
    cause 2: 0.0256578947368 0.108073308271 0.212075621747"""
    prog = cumulative_incidence(T, C, [2, 5, 10], of=1)
    death = cumulative_incidence(T, C, [2, 5, 10], of=2)
    np.testing.assert_allclose(
        prog["cif"], [0.1063721804511, 0.277367566644, 0.533143591173], rtol=1e-11
    )
    np.testing.assert_allclose(
        death["cif"], [0.0256578947368, 0.108073308271, 0.212075621747], rtol=1e-11
    )


def test_cumulative_incidence_ci_matches_lifelines_without_ties():
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(6, 30), 4)
    c = rng.choice([0, 1, 2], 30, p=[0.3, 0.5, 0.2])
    assert len(np.unique(t)) == 30  # lifelines jitters tied times: none here
    ours = cumulative_incidence(t, c, [2, 5, 10])
    aj = AalenJohansenFitter(calculate_variance=True).fit(t, c, event_of_interest=1)
    for i, a in enumerate([2, 5, 10]):
        cif = aj.cumulative_density_[aj.cumulative_density_.index <= a].iloc[-1, 0]
        ci = aj.confidence_interval_[aj.confidence_interval_.index <= a].iloc[-1]
        assert ours.loc[i, "cif"] == pytest.approx(cif, rel=1e-12)
        assert sorted([ours.loc[i, "ci_low"], ours.loc[i, "ci_high"]]) == pytest.approx(
            sorted(ci.to_numpy()), rel=1e-9
        )


def test_competing_risks_table_by_group_beside_one_minus_km():
    n = len(T)
    prog_date = [pd.Timestamp("2021-01-01") if c == 1 else pd.NaT for c in C]
    tab = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "pfs_months": T,
            "pfs_event": [int(c > 0) for c in C],
            "progression_date": prog_date,
            "arm": ["A", "B"] * (n // 2),
        }
    )
    causes = progression_causes(tab)
    assert causes.tolist() == [c if c != 2 else CAUSE_DEATH for c in C]
    out = competing_risks_table(tab, "arm", landmark=None, at=[2.0, 5.0, 10.0])
    assert set(out["group"]) == {"A", "B"} and len(out) == 6
    a = out[out["group"] == "A"].reset_index(drop=True)
    ta, ca = np.array(T)[::2], np.array(C)[::2]
    want = cumulative_incidence(ta, ca, [2, 5, 10], of=CAUSE_PROGRESSION)
    np.testing.assert_allclose(a["cif_progression"], want["cif"], rtol=1e-12)
    # deaths censored by 1 - KM: never below the cumulative incidence
    assert (out["one_minus_km"] >= out["cif_progression"] - 1e-12).all()
    assert out["method"].str.contains("Aalen-Johansen").all()
    assert a.loc[2, "progressions"] == int(((ca == 1) & (ta <= 10)).sum())


def test_causes_without_a_progression_date_use_the_time_of_death():
    tab = pd.DataFrame(
        {
            "pfs_months": [2.0, 3.0, 4.0, 5.0],
            "pfs_event": [1, 1, 0, 1],
            "os_months": [2.0, 8.0, 9.0, 5.0],
            "os_event": [1, 1, 0, 1],
        }
    )
    assert progression_causes(tab).tolist() == [CAUSE_DEATH, CAUSE_PROGRESSION, 0, CAUSE_DEATH]
