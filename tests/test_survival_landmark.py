"""Landmark timing (a verdict must be known at the landmark), the look-ahead of rules that read
time beyond it, and Kaplan–Meier medians and Cox fits pinned against R survival 3.5.3."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.definitions import REGISTRY, evaluate_definition
from hpd_analysis.params import DAYS_PER_MONTH
from hpd_analysis.survival import (
    REASON_CLASSIFIED_AFTER,
    REASON_EVENT_BEFORE,
    SurvivalComparison,
    survival_data,
    survival_table,
)

DPM = DAYS_PER_MONTH


def _classified(features: pd.DataFrame, code: str) -> pd.DataFrame:
    """features + the verdict columns of the registered definition ``code``."""
    verdict = evaluate_definition(features, REGISTRY[code])
    return pd.concat([features, verdict], axis=1)


def gandara_table() -> pd.DataFrame:
    """P0: no post-baseline scan, died from progression on day 70 (fast progression by the
    death branch: known on day 70 = 2.30 months); P1-P9: first evaluation on day 42, alive or
    dead later; P1-P2 fast progressors by the scan branch."""
    n = 10
    fe_day = np.array([np.nan] + [42.0] * 9)
    death_day = np.array([70.0, 120, 200, 150, np.nan, 300, np.nan, 250, 400, np.nan])
    last = np.array([70.0, 120, 200, 150, 500, 300, 450, 250, 400, 380])
    f = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "first_eval_day": fe_day,
            "first_eval_months": fe_day / DPM,
            "sld_pct_change_first_eval": [np.nan, 60, 80, 10, -20, 5, 0, 30, -40, 12],
            "n_post_baseline_scans": [0] + [1] * 9,
            "death_day": death_day,
            "days_to_death": np.where(np.isnan(death_day), np.inf, death_day),
            "death_from_progression": [True] * n,
            "os_months": last / DPM,
            "os_event": (~np.isnan(death_day)).astype(int),
        }
    )
    return _classified(f, "gandara2018_fp")


def test_gandara_death_branch_verdict_is_known_at_death_not_at_a_missing_first_evaluation():
    tab = gandara_table()
    assert tab["hpd_gandara2018_fp_status"].tolist()[:3] == ["hpd"] * 3
    # landmark 1.84 months (day 56): P0 alive then, classified only on day 70 -> left out
    # (today's first_eval_months > landmark test is False for a NaN and kept P0 as HPD)
    data, info = survival_data(tab, "os", "gandara2018_fp", landmark=1.84)
    assert "P0" not in set(data["patient_id"])
    ex = info.excluded.set_index("patient_id")["reason"]
    assert ex["P0"] == REASON_CLASSIFIED_AFTER
    from hpd_analysis.survival import verdict_known_months

    known = verdict_known_months(tab, REGISTRY["gandara2018_fp"])
    assert known[0] == pytest.approx(70 / DPM)  # the death
    assert known[1] == pytest.approx(42 / DPM)  # the scan with a 60 % rise
    # not HPD by the scan branch on day 42, by the death branch: no death by day 84 (or a scan)
    assert known[3] == pytest.approx(42 / DPM)


def test_gandara_default_landmark_is_raised_to_day_84_or_kept_and_truncated():
    tab = gandara_table()
    _, info = survival_data(tab, "os", "gandara2018_fp")  # default: 90 % of day 42 = day 42
    assert info.landmark_months == pytest.approx(84 / DPM)
    assert "raised to 2.76 months (day 84)" in info.landmark_rule
    assert info.excluded.set_index("patient_id").loc["P0", "reason"] == REASON_EVENT_BEFORE
    from hpd_analysis.survival import rule_horizon_months

    assert rule_horizon_months(REGISTRY["gandara2018_fp"]) == pytest.approx(84 / DPM)
    _, info2 = survival_data(tab, "os", "gandara2018_fp", lookahead="truncate")
    assert info2.landmark_months == pytest.approx(42 / DPM)
    assert "information available at the landmark" in info2.landmark_rule
    # at day 42 the death branch of everyone without a death yet is undecided except where the
    # scan branch decided HPD already (P1, P2): the others are left out, P0 too
    reasons = info2.excluded.set_index("patient_id")["reason"]
    assert reasons["P0"] == REASON_CLASSIFIED_AFTER
    assert {"P1", "P2"} <= set(
        survival_data(tab, "os", "gandara2018_fp", lookahead="truncate")[0]["patient_id"]
    )


def kato_table() -> pd.DataFrame:
    """Kato 2017 (TTF < 2 months and SLD +50 % and TGK ratio > 2): first evaluation on day 50
    (1.64 months) for all; P0 and P1 meet the scan criteria and fail treatment at 1.87 and 1.91
    months (HPD, known only then); P2 meets them and fails at 1.5 (HPD known at the first
    evaluation, 1.64); P3 meets them and stays on treatment (not HPD, known at 2 months);
    P4-P9 fail the SLD criterion (not HPD at the first evaluation)."""
    n = 10
    ttf = np.array([1.87, 1.91, 1.5, 6.0, 3.0, 4.0, 5.0, 2.5, 7.0, 8.0])
    f = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "prebaseline_date": pd.Timestamp("2020-01-01"),
            "sld_baseline_mm": 50.0,
            "first_eval_day": 50.0,
            "first_eval_months": 50.0 / DPM,
            "sld_pct_change_first_eval": [80, 90, 70, 60, 10, 0, -10, 20, 5, -30],
            "tgk_ratio": [3.0] * 4 + [1.0] * 6,
            "ttf_months": ttf,
            "ttf_event": [1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
            "os_months": [3.0, 3.5, 2.6, 12.0, 9.0, 10.0, 14.0, 8.0, 15.0, 16.0],
            "os_event": [1, 1, 1, 0, 1, 1, 0, 1, 0, 1],
        }
    )
    return _classified(f, "kato2017")


def test_kato_ttf_look_ahead_is_not_read_beyond_the_landmark():
    tab = kato_table()
    assert tab["hpd_kato2017_status"].tolist()[:4] == ["hpd", "hpd", "hpd", "not_hpd"]
    # analyst's landmark 1.84: the two treatment failures at 1.87 and 1.91 are after it (their
    # HPD verdict reads the future), and so is P3's "no failure by 2 months": left out
    data, info = survival_data(tab, "os", "kato2017", landmark=1.84)
    late = set(info.excluded.loc[info.excluded["reason"] == REASON_CLASSIFIED_AFTER, "patient_id"])
    assert late == {"P0", "P1", "P3"}
    assert "reads up to 2.00 months" in info.landmark_rule
    # default landmark (90 % of first evaluations: 1.64 months) raised to 2 months
    data2, info2 = survival_data(tab, "os", "kato2017")
    assert info2.landmark_months == pytest.approx(2.0)
    assert {"P0", "P1", "P3"} <= set(data2["patient_id"])
    from hpd_analysis.survival import verdict_known_months

    known = verdict_known_months(tab, REGISTRY["kato2017"])
    np.testing.assert_allclose(known[:5], [1.87, 1.91, 50 / DPM, 2.0, 50 / DPM])


def test_landmark_day_is_named_in_the_rule_and_the_median_method():
    tab = kato_table()
    row = survival_table(tab, "os", "kato2017", landmark=1.84).iloc[0]
    assert "day 56" in row["median_method"] and "from the landmark" in row["median_method"]
    assert "log-log" in row["median_method"] and "Greenwood" in row["median_method"]
    assert "R survfit" in row["median_method"]


# R survival 3.5.3 (R 4.2.2):
#   f <- survfit(Surv(t, e) ~ 1, conf.type = "log-log"); quantile(f, 0.5)
# median, lower, upper (NA: not estimable / not reached)
R_MEDIANS = [
    ([1, 2, 3, 4], [1, 1, 1, 1], (2.5, 1.0, np.nan)),
    ([0.5, 1, 1.5, 2, 2.5, 3], [1] * 6, (1.75, 0.5, np.nan)),
    ([1, 2, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1], (6.0, 1.0, np.nan)),
    ([0.2, 0.4, 0.9, 1.3, 1.7, 2.2, 3.1], [1] * 7, (1.3, 0.2, 2.2)),
    ([1, 1, 2, 2, 3, 3, 4, 4, 5, 10], [1, 1, 1, 1, 1, 0, 1, 0, 0, 1], (3.5, 1.0, np.nan)),
]


@pytest.mark.parametrize("t, e, want", R_MEDIANS)
def test_km_median_and_ci_follow_r_survfit(t, e, want):
    tab = pd.DataFrame({"os_months": t, "os_event": e})
    row = survival_table(tab, "os", landmark=None).iloc[0]
    np.testing.assert_allclose(
        row[["median_months", "median_ci_low", "median_ci_high"]].to_numpy(float), want, rtol=1e-12
    )
    from hpd_analysis.survival import km_median

    np.testing.assert_allclose(km_median(t, e), want, rtol=1e-12)


def test_median_upper_bound_not_reached_stays_inf():
    # R prints NA for an upper band that stays above 0.5 to the end too; the table keeps inf
    # there ("not reached") and NaN for "not estimable"
    from hpd_analysis.survival import km_median

    assert km_median([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0]) == (4.0, 1.0, np.inf)


def test_cox_matches_r_coxph_to_8_digits():
    # R survival 3.5.3: summary(coxph(Surv(t, e) ~ g, ties = "efron")) with
    # t <- c(1.2,2.3,2.9,3.1,4.4,5.0,5.5,6.1,0.8,7.2,8.8,9.1,10.5,12.0,13.3,15.1)
    # e <- c(1,1,0,1,1,1,0,1,1,0,1,1,1,0,1,1); g <- rep(c(1,0), each = 8)
    t = [1.2, 2.3, 2.9, 3.1, 4.4, 5.0, 5.5, 6.1, 0.8, 7.2, 8.8, 9.1, 10.5, 12.0, 13.3, 15.1]
    e = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    tab = pd.DataFrame({"os_months": t, "os_event": e, "grp": ["HPD"] * 8 + ["non-HPD"] * 8})
    comp = SurvivalComparison("os", "grp", landmark=None, reference="non-HPD").fit(tab)
    row = comp.summary.set_index("group").loc["HPD"]
    want = (11.76903728, 1.294500875, 106.9989531, 0.02858518099)  # R, printed %.10g
    assert row["hazard_ratio"] == pytest.approx(want[0], rel=1e-8)
    assert row["hr_ci_low"] == pytest.approx(want[1], rel=1e-8)
    assert row["hr_ci_high"] == pytest.approx(want[2], rel=1e-8)
    assert row["hr_p_value"] == pytest.approx(want[3], rel=1e-7)


def test_proportional_hazards_test_is_r3_exact_cox_zph():
    """R survival 3.5.3:
    f <- coxph(Surv(t, e) ~ g, ties = "efron"); cox.zph(f, transform = "km")$table
    (data of test_cox_matches_r_coxph_to_8_digits): chisq 5.197510772, p 0.0226192572;
    t2 <- c(1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9,10,12,2,3,3,5)
    e2 <- c(1,1,1,0,1,1,1,0,1,1,0,1,1,1,0,1,1,0,1,1,1,1,0,1); g2 <- factor(rep(c("a","b","c"), 8))
    cox.zph(coxph(Surv(t2, e2) ~ g2, ties = "efron"), transform = "km", terms = FALSE):
    g2b 0.009488981384, g2c 0.414154034794, GLOBAL 0.543741409924 (lifelines' approximate
    Schoenfeld test gives other numbers)."""
    from hpd_analysis.survival import cox_zph_test

    t = [1.2, 2.3, 2.9, 3.1, 4.4, 5.0, 5.5, 6.1, 0.8, 7.2, 8.8, 9.1, 10.5, 12.0, 13.3, 15.1]
    e = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    tab = pd.DataFrame({"os_months": t, "os_event": e, "grp": ["HPD"] * 8 + ["non-HPD"] * 8})
    row = (
        SurvivalComparison("os", "grp", landmark=None, reference="non-HPD")
        .fit(tab)
        .summary.set_index("group")
        .loc["HPD"]
    )
    assert row["ph_p_value"] == pytest.approx(0.0226192572, rel=1e-7)
    assert "cox.zph" in row["ph_test"] and "KM" in row["ph_test"]
    t2 = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 12, 2, 3, 3, 5]
    e2 = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1]
    g2 = np.array(["a", "b", "c"] * 8)
    x = np.column_stack([(g2 == "b"), (g2 == "c")]).astype(float)
    chisq, glob = cox_zph_test(
        np.array(t2, float),
        np.array(e2, float),
        x,
        beta=np.array([-0.6654607005042, -0.0607698621874]),
    )
    np.testing.assert_allclose(chisq, [0.009488981384, 0.414154034794], rtol=1e-8)
    assert glob == pytest.approx(0.543741409924, rel=1e-8)
    tab3 = pd.DataFrame({"os_months": t2, "os_event": e2, "grp": g2})
    out = SurvivalComparison("os", "grp", landmark=None, reference="a").fit(tab3).summary
    from scipy.stats import chi2

    np.testing.assert_allclose(
        chi2.isf(out.set_index("group").loc[["b", "c"], "ph_p_value"], 1),
        [0.009488981384, 0.414154034794],
        rtol=1e-6,
    )


def test_the_issue_example_kato_hpd_medians_follow_r():
    """Kato 2017 HPD group of the bundled example, OS and TTF from the 1.84-month landmark as
    the report analysed them before this change (times rounded to 6 decimals). R 4.2.2, survival
    3.5.3: q <- quantile(survfit(Surv(t, e) ~ 1, conf.type = "log-log"), 0.5)
    OS: 1.3141685 0.525667 2.201232 (lifelines: median 1.281314, the start of the flat 0.5 step)
    TTF: 0.049281 0.032854 NA (lifelines: 0.032854, upper bound the last event time)."""
    from hpd_analysis.survival import km_median

    os_t = [
        1.708419,
        0.197125,
        1.281314,
        1.806982,
        0.525667,
        1.149897,
        2.201232,
        22.176591,
        10.151951,
        2.069815,
        0.525667,
        1.347023,
        0.328542,
        0.197125,
        3.712526,
        2.365503,
        19.712526,
        0.887064,
        0.394251,
        0.131417,
        3.909651,
        0.854209,
    ]
    np.testing.assert_allclose(
        km_median(os_t, [1] * 22), (1.3141685, 0.525667, 2.201232), rtol=1e-12
    )
    med, lo, hi = km_median([0.065708, 0.032854], [1, 1])
    assert (med, lo) == pytest.approx((0.049281, 0.032854), rel=1e-12) and np.isnan(hi)
