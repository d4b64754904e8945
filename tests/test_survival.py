"""Kaplan–Meier, log-rank, Cox and landmark analysis on hand-made patients."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.statistics import logrank_test, multivariate_logrank_test  # noqa: E402

from hpd_analysis.errors import CohortError, ParameterError  # noqa: E402
from hpd_analysis.survival import (  # noqa: E402
    REASON_CENSORED_BEFORE,
    REASON_CLASSIFIED_AFTER,
    REASON_ENDPOINT_MISSING,
    REASON_EVENT_BEFORE,
    SURVIVAL_COLUMNS,
    SurvivalComparison,
    fit_km,
    resolve_landmark,
    survival_data,
    survival_table,
)


def patients(
    flags: list, os_months: list, os_event: list, first_eval: list | None = None, **cols: list
) -> pd.DataFrame:
    flag = pd.array(flags, dtype="boolean")
    out = pd.DataFrame({"patient_id": [f"P{i}" for i in range(len(flags))], "hpd_x": flag})
    out["hpd_x_status"] = np.where(
        flag.isna(), "not_evaluable", np.where(flag.fillna(False), "hpd", "not_hpd")
    )
    out["hpd_x_reason"] = np.where(flag.isna(), "no pre-baseline scan", "")
    out["os_months"] = np.asarray(os_months, dtype=float)
    out["os_event"] = pd.array(os_event, dtype="Int64")
    if first_eval is not None:
        out["first_eval_months"] = np.asarray(first_eval, dtype=float)
    for k, v in cols.items():
        out[k] = v
    return out


def hpd_worse() -> pd.DataFrame:
    """HPD patients die early, non-HPD patients late; two not evaluable."""
    hpd_t = [2.5, 3.0, 3.5, 4.0, 5.0, 6.0]
    non_t = [4.5, 6.5, 8.0, 9.0, 11.0, 12.0, 14.0, 15.0, 18.0, 20.0]
    return patients(
        [True] * 6 + [False] * 10 + [None] * 2,
        hpd_t + non_t + [1.0, 7.0],
        [1, 1, 1, 1, 0, 1] + [1, 0, 1, 1, 1, 0, 1, 1, 0, 1] + [1, 1],
        first_eval=[2.0] * 18,
    )


def test_km_median_hand_computed():
    # S(1)=5/6, S(2)=4/6, 3 censored, S(4)=4/6*2/3=0.444 <= 0.5 -> median 4
    tab = patients([False] * 6, [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0])
    out = survival_table(tab, "os", group_by=None, landmark=None)
    row = out.iloc[0]
    assert (row["group"], row["n"], row["events"]) == ("all", 6, 4)
    assert row["median_months"] == 4.0
    assert np.isnan(row["landmark_months"]) and np.isnan(row["logrank_p"])
    kmf = KaplanMeierFitter().fit([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0])
    from lifelines.utils import median_survival_times

    ci = median_survival_times(kmf.confidence_interval_)
    assert row["median_ci_low"] == ci.iloc[0, 0]
    assert row["median_ci_high"] == ci.iloc[0, 1]  # inf: upper limit not reached


def test_contract_columns_come_first():
    out = survival_table(hpd_worse(), "os", group_by="x", landmark=None)
    assert list(out.columns[: len(SURVIVAL_COLUMNS)]) == SURVIVAL_COLUMNS
    assert out["group"].tolist() == ["HPD", "non-HPD"]


def test_logrank_p_and_hr_match_lifelines_and_hpd_worse_gives_hr_above_1():
    tab = hpd_worse()
    out = survival_table(tab, "os", group_by="x", landmark=None).set_index("group")
    h, n = tab.iloc[:6], tab.iloc[6:16]
    lr = logrank_test(h["os_months"], n["os_months"], h["os_event"], n["os_event"])
    assert out.loc["HPD", "logrank_p"] == pytest.approx(lr.p_value)
    assert out.loc["non-HPD", "logrank_p"] == pytest.approx(lr.p_value)
    df = pd.DataFrame(
        {
            "T": tab["os_months"][:16],
            "E": tab["os_event"][:16].astype(int),
            "hpd": [1.0] * 6 + [0.0] * 10,
        }
    )
    cph = CoxPHFitter().fit(df, "T", "E")
    assert out.loc["HPD", "hazard_ratio"] == pytest.approx(cph.hazard_ratios_["hpd"], rel=1e-4)
    # R survival 3.5.3 (R 4.2.2): summary(coxph(Surv(t, e) ~ hpd, ties = "efron")) on the 16
    # evaluable patients: exp(coef) 18.31233267, 95% CI 2.020416105 .. 165.9764674,
    # Wald p 0.00972892711 (lifelines' default convergence: 18.31224, 5 digits)
    assert out.loc["HPD", "hazard_ratio"] == pytest.approx(18.31233267, rel=1e-8)
    assert out.loc["HPD", "hr_ci_low"] == pytest.approx(2.020416105, rel=1e-8)
    assert out.loc["HPD", "hr_ci_high"] == pytest.approx(165.9764674, rel=1e-8)
    assert out.loc["HPD", "hr_p_value"] == pytest.approx(0.00972892711, rel=1e-7)
    assert out.loc["HPD", "hazard_ratio"] > 1
    assert (
        out.loc["HPD", "hr_ci_low"] < out.loc["HPD", "hazard_ratio"] < out.loc["HPD", "hr_ci_high"]
    )
    assert out.loc["non-HPD", "hazard_ratio"] == 1.0
    assert out.loc["non-HPD", "reference_group"] == "non-HPD"
    assert out.loc["HPD", "median_months"] < out.loc["non-HPD", "median_months"]
    assert out.loc["HPD", "n_excluded"] == 2  # not evaluable, counted
    assert "log-rank" in out.loc["HPD", "logrank_test"]


def test_landmark_excludes_and_counts_early_events_and_shifts_time():
    tab = hpd_worse()
    tab["first_eval_months"] = [1.5] * 8 + [2.5] * 8 + [np.nan, np.nan]
    lm, rule = resolve_landmark(tab)
    assert lm == 2.5 and "90 % quantile" in rule  # 90th percentile over 16 patients
    # P0 dies at 2.5 (<= 2.5: before the landmark); add a death at 1.0 and a censoring at 2.0
    tab.loc[1, ["os_months", "os_event"]] = [1.0, 1]
    tab.loc[7, ["os_months", "os_event"]] = [2.0, 0]
    data, info = survival_data(tab, "os", "x")
    assert info.landmark_months == 2.5
    assert info.n_excluded == {
        REASON_EVENT_BEFORE: 2,
        "not evaluable under x": 2,
        REASON_CENSORED_BEFORE: 1,
    }
    assert info.n_analysed + sum(info.n_excluded.values()) == len(tab)
    assert set(info.excluded["patient_id"]) == {"P0", "P1", "P7", "P16", "P17"}
    assert data.loc[data["patient_id"] == "P2", "time_months"].item() == pytest.approx(
        1.0
    )  # 3.5 - 2.5
    row = survival_table(tab, "os", "x").iloc[0]
    assert row["landmark_months"] == 2.5 and row["n"] == 4  # HPD: P0 and P1 left out


def test_patients_classified_after_the_landmark_are_left_out_and_counted():
    """At the landmark the groups must be known: a first evaluation after it would let the
    future decide a patient's group."""
    tab = hpd_worse()
    tab["first_eval_months"] = [1.5] * 8 + [2.5] * 8 + [np.nan, np.nan]
    data, info = survival_data(tab, "os", "x", landmark=2.0)
    late = {f"P{i}" for i in range(8, 16)}
    assert info.n_excluded[REASON_CLASSIFIED_AFTER] == 8
    got = set(info.excluded.loc[info.excluded["reason"] == REASON_CLASSIFIED_AFTER, "patient_id"])
    assert got == late
    assert late.isdisjoint(set(data["patient_id"]))


def test_default_landmark_is_off_for_groupings_fixed_at_start():
    """Grouping by a randomised arm: the default landmark would drop early deaths from an
    intention-to-treat comparison, so it is not applied (an explicit number still is)."""
    tab = hpd_worse()
    tab["arm"] = ["A", "B"] * 9
    _, info = survival_data(tab, "os", "arm")
    assert info.landmark_months is None and "fixed at treatment start" in info.landmark_rule
    _, info2 = survival_data(tab, "os", "arm", landmark=2.0)
    assert info2.landmark_months == 2.0


def test_landmark_options():
    tab = hpd_worse()
    assert resolve_landmark(tab, None)[0] is None
    assert resolve_landmark(tab, "none")[0] is None
    assert resolve_landmark(tab, 3)[0] == 3.0
    assert resolve_landmark(tab, "first_evaluation")[0] == 2.0
    lm, rule = resolve_landmark(tab.drop(columns="first_eval_months"))
    assert lm is None and "absent" in rule
    with pytest.raises(ParameterError, match="landmark"):
        resolve_landmark(tab, "soon")
    with pytest.raises(ParameterError, match=">= 0"):
        resolve_landmark(tab, -1)
    data, _ = survival_data(tab, "os", "x", landmark=None)
    assert data["time_months"].tolist() == tab["os_months"].iloc[:16].tolist()


def test_missing_endpoint_counted_and_bad_values_rejected():
    tab = hpd_worse()
    tab.loc[3, "os_months"] = np.nan
    _, info = survival_data(tab, "os", "x", landmark=None)
    assert info.n_excluded[REASON_ENDPOINT_MISSING] == 1
    tab.loc[4, "os_months"] = -1.0
    with pytest.raises(CohortError, match="os_months: negative time"):
        survival_data(tab, "os", "x")
    with pytest.raises(ParameterError, match="pfs_months"):
        survival_data(hpd_worse(), "pfs")


def test_no_event_in_a_group_gives_a_note_not_a_crash():
    tab = patients([True, True, False, False, False], [1, 2, 3, 4, 5], [0, 0, 1, 1, 0])
    row = survival_table(tab, "os", "x", landmark=None).set_index("group").loc["HPD"]
    assert np.isnan(row["hazard_ratio"]) and "no event in HPD" in row["note"]
    assert np.isfinite(row["logrank_p"])


def test_three_groups_multivariate_logrank_and_reference():
    tab = hpd_worse()
    tab["arm"] = (["A", "B", "C"] * 6)[:18]
    out = survival_table(tab, "os", "arm", landmark=None, reference="B")
    ref = multivariate_logrank_test(tab["os_months"], tab["arm"], tab["os_event"])
    assert out["logrank_p"].iloc[0] == pytest.approx(ref.p_value)
    assert out["group"].tolist() == ["A", "B", "C"]
    assert out.set_index("group").loc["B", "hazard_ratio"] == 1.0
    assert "2 df" in out["logrank_test"].iloc[0]


def test_fitters_exposed_for_plots():
    comp = SurvivalComparison("os", "x", landmark=None).fit(hpd_worse())
    assert list(comp.fitters) == ["HPD", "non-HPD"]
    assert comp.fitters["HPD"].label == "HPD"
    assert comp.fitters["HPD"].event_observed.sum() == 5
    ax = comp.plot(at_risk_counts=True)
    assert ax.get_xlabel() == "months from treatment start"
    assert len(ax.get_lines()) >= 2  # one curve per group
    matplotlib.pyplot.close(ax.figure)
    km = fit_km(comp.data, levels=["non-HPD", "HPD"])
    assert list(km) == ["non-HPD", "HPD"]


def test_default_endpoints_are_those_present():
    tab = hpd_worse()
    tab["pfs_months"] = tab["os_months"] / 2
    tab["pfs_event"] = 1
    out = survival_table(tab, group_by="x", landmark=None)
    assert out["endpoint"].unique().tolist() == ["os", "pfs"]


# ------------------------------------------------ cohorts without endpoints, caveats, Cox failure


def test_available_endpoints_and_note_for_a_cohort_without_survival():
    from hpd_analysis.survival import available_endpoints, no_endpoint_note

    no_surv = pd.DataFrame({"patient_id": ["A", "B"], "tgr_on": [1.0, 2.0]})
    assert available_endpoints(no_surv) == []
    assert "No survival data" in no_endpoint_note(no_surv)
    empty_os = no_surv.assign(os_months=np.nan, os_event=pd.array([pd.NA, pd.NA], dtype="Int64"))
    assert available_endpoints(empty_os) == []  # columns present but no value
    with pytest.raises(ParameterError, match="no endpoint with values"):
        survival_table(empty_os)
    t = hpd_worse()
    assert available_endpoints(t) == ["os"]
    assert no_endpoint_note(t) == ""


def test_requires_recist_pd_follows_the_rule_not_the_name():
    from hpd_analysis.definitions import Definition, get_definitions

    got = {d.code: d.requires_recist_pd() for d in get_definitions()}
    # RECIST PD as a top-level AND criterion or a requirement (Lo Russo: require_recist_pd)
    for code in ("champiat2017", "ferrara2018", "kas2020", "matos2020", "lo_russo2019"):
        assert got[code], code
    for code in ("saada_bouzid2017", "kim2019", "gandara2018_fp", "kato2017"):
        assert not got[code], code
    lo = next(d for d in get_definitions() if d.code == "lo_russo2019")
    assert not lo.with_parameters(require_recist_pd=False).requires_recist_pd()
    # PD inside an OR does not make every HPD patient progress
    either = Definition(
        code="either",
        citation="test",
        rule="PD or fast growth",
        criteria={"any": ["recist_first_eval == PD", "tgr_on >= 100"]},
    )
    assert not either.requires_recist_pd()


def test_pfs_caveat_only_for_progression_endpoints_grouped_by_a_pd_definition():
    from hpd_analysis.definitions import get_definitions
    from hpd_analysis.survival import progression_tautology_note

    defs = get_definitions()
    note = progression_tautology_note("ferrara2018", defs, "pfs")
    assert "tautological" in note and "ferrara2018" in note
    assert "tautological" in progression_tautology_note("hpd_kas2020", defs, "ttf")
    assert progression_tautology_note("ferrara2018", defs, "os") == ""
    assert progression_tautology_note("saada_bouzid2017", defs, "pfs") == ""
    assert progression_tautology_note("arm", defs, "pfs") == ""
    assert progression_tautology_note(None, defs, "pfs") == ""


def test_non_convergent_cox_gives_a_note_not_a_blank_or_absurd_hr():
    """Monotone likelihood: every event of group B comes after all of group A's times except
    one: lifelines warns and the HR runs to 0 with a 0..inf CI -> no estimate, a note."""
    from hpd_analysis.survival import NOTE_COX_NOT_CONVERGED

    t = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(8)],
            "g": ["A"] * 4 + ["B"] * 4,
            "os_months": [1.0, 2, 3, 4, 10, 11, 12, 13],
            "os_event": pd.array([1, 1, 1, 1, 1, 0, 0, 0], dtype="Int64"),
        }
    )
    comp = SurvivalComparison("os", "g", None).fit(t)
    row = comp.summary.set_index("group").loc["B"]
    assert np.isnan(row["hazard_ratio"]) and np.isnan(row["hr_ci_low"])
    assert NOTE_COX_NOT_CONVERGED in row["note"]
    assert NOTE_COX_NOT_CONVERGED in comp.notes  # printed beside the figure
    assert comp.summary["logrank_p"].notna().all()  # the log-rank test still holds


def test_requires_recist_pd_in_nested_and():
    from hpd_analysis.definitions import Definition

    nested = Definition(
        code="nested",
        citation="test",
        rule="nested AND",
        criteria={"all": [{"all": ["recist_first_eval in [PD]", "tgr_on >= 50"]}, "tgk_on >= 1"]},
    )
    assert nested.requires_recist_pd()


def test_caveat_when_a_definition_reads_the_endpoint_itself():
    """Kato's TTF < 2 months makes a TTF comparison by kato2017 partly built in; the fast-
    progression death rule does the same for OS by gandara2018_fp."""
    from hpd_analysis.definitions import get_definitions
    from hpd_analysis.survival import progression_tautology_note

    defs = get_definitions()
    assert "TTF < 2 months" in progression_tautology_note("kato2017", defs, "ttf")
    assert "death by day 84" in progression_tautology_note("gandara2018_fp", defs, "os")
    assert progression_tautology_note("kato2017", defs, "os") == ""
    assert progression_tautology_note("gandara2018_fp", defs, "pfs") == ""


def _two_groups(crossing: bool) -> pd.DataFrame:
    """400 patients; HPD with crossing hazards (half die early, half live long) or with a
    constant hazard ratio of 2 against non-HPD."""
    rng = np.random.default_rng(3)
    n = 400
    g = np.repeat(["HPD", "non-HPD"], n // 2)
    if crossing:
        early = rng.random(n) < 0.5
        t = np.where(
            g == "HPD",
            np.where(early, rng.exponential(1.0, n), rng.exponential(40, n)),
            rng.exponential(8, n),
        )
    else:
        t = np.where(g == "HPD", rng.exponential(4, n), rng.exponential(8, n))
    return pd.DataFrame({"os_months": t, "os_event": (rng.random(n) < 0.9).astype(int), "grp": g})


@pytest.mark.parametrize("crossing", [True, False])
def test_proportional_hazards_test_flags_crossing_hazards_only(crossing):

    from hpd_analysis.survival import NOTE_NON_PROPORTIONAL

    tab = _two_groups(crossing)
    comp = SurvivalComparison("os", "grp", landmark=None, reference="non-HPD").fit(tab)
    row = comp.summary.set_index("group").loc["HPD"]
    flagged = NOTE_NON_PROPORTIONAL.split("(")[0]
    # R survival 3.5.3, cox.zph(coxph(Surv(os_months, os_event) ~ hpd, ties = "efron"),
    # transform = "km") on the same data: chisq 87.6, p 7.9e-21 (crossing); chisq 1.45,
    # p 0.229 (proportional); the package runs the same exact score test
    from scipy.stats import chi2

    assert chi2.isf(row["ph_p_value"], 1) == pytest.approx(87.6 if crossing else 1.45, abs=0.05)
    if crossing:
        assert row["ph_p_value"] < 1e-6
        assert flagged in row["note"] and "p < 0.001" in row["note"]
        assert any(flagged in n for n in comp.notes)
    else:
        assert row["ph_p_value"] == pytest.approx(0.229, abs=5e-4)
        assert flagged not in row["note"]
    assert np.isnan(comp.summary.set_index("group").loc["non-HPD", "ph_p_value"])


def test_format_p_never_says_zero():
    from hpd_analysis.survival import format_p

    assert format_p(0.0) == "p < 0.001"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0321) == "p = 0.032"
    assert format_p(0.5) == "p = 0.5"
