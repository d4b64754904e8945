"""Table 1 and odds ratios on hand-made patients."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import with_hpd
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2

from hpd_analysis.errors import ParameterError
from hpd_analysis.riskfactors import (
    default_candidates,
    derive_risk_factors,
    epv_warning,
    events_per_variable,
    odds_ratios,
    table1,
)


def two_by_two(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """a HPD exposed, b HPD unexposed, c non-HPD exposed, d non-HPD unexposed."""
    flags = [True] * (a + b) + [False] * (c + d)
    liver = [True] * a + [False] * b + [True] * c + [False] * d
    return with_hpd(flags, liver_metastasis=pd.array(liver, dtype="boolean"))


def test_default_candidates_literature_first_then_covariates():
    cols = [
        "patient_id",
        "treatment_start",
        "death_date",
        "os_months",
        "os_event",
        "hpd_ferrara2018",
        "hpd_ferrara2018_reason",
        "hpd_ferrara2018_status",
        "tgr_pre",
        "sld_baseline_mm",
        "recist_first_eval",
        "first_eval_months",
        "ecog_first_eval",
        "smoking",
        "liver_metastasis",
        "sex",
        "age",
        "n_metastatic_sites",
        "arm",
        "tumor_type",
    ]
    assert default_candidates(cols) == [
        "age",
        "age_ge_65",
        "sex",
        "n_metastatic_sites",
        "n_metastatic_sites_gt_2",
        "liver_metastasis",
        "smoking",
        "arm",
        "tumor_type",
    ]


def test_derived_factors_at_their_thresholds():
    d = derive_risk_factors(
        pd.DataFrame({"age": [64.9, 65, np.nan], "n_metastatic_sites": [2, 3, np.nan]})
    )
    assert d["age_ge_65"].tolist()[:2] == [False, True] and pd.isna(d["age_ge_65"].iloc[2])
    assert d["n_metastatic_sites_gt_2"].tolist()[:2] == [False, True]


def test_table1_uses_fisher_for_small_counts_and_names_it():
    data = two_by_two(3, 1, 4, 12)
    t = table1(data, "x", variables=["liver_metastasis"])
    row = t[(t["variable"] == "liver_metastasis") & (t["test"] != "")].iloc[0]
    assert row["test"] == "Fisher's exact"
    # rows of tableone's 2x2: liver False/True by HPD/non-HPD
    _, p = stats.fisher_exact([[1, 12], [3, 4]])
    assert row["p_value"] == pytest.approx(p)
    assert list(t.columns) == [
        "variable",
        "level",
        "statistic",
        "overall",
        "HPD",
        "non-HPD",
        "missing",
        "test",
        "p_value",
        "smd",
        "exact_test",
        "exact_p_value",
    ]
    n = t.iloc[0]
    assert (n["variable"], n["overall"], n["HPD"], n["non-HPD"]) == ("n", "20", "4", "16")


def test_table1_chi_squared_with_yates_for_large_2x2():
    data = two_by_two(20, 15, 30, 60)
    t = table1(data, "x", variables=["liver_metastasis"])
    row = t[t["test"] != ""].iloc[0]
    assert row["test"] == "Chi-squared with Yates' continuity correction"
    _, p, _, _ = stats.chi2_contingency([[15, 60], [20, 30]], correction=True)
    assert row["p_value"] == pytest.approx(p)
    assert row["smd"] > 0


def test_table1_continuous_tests_and_excluded_patients():
    rng = np.random.default_rng(7)
    age = np.round(rng.normal(60, 8, 30), 1)
    nlr = np.exp(rng.normal(1, 1, 30))
    flags = [True] * 10 + [False] * 17 + [None] * 3
    data = with_hpd(flags, age=age, nlr=nlr)
    data.loc[0, "age"] = np.nan
    t = table1(data, "hpd_x", variables=["age", "nlr"], nonnormal=["nlr"]).set_index("variable")
    hpd = data["hpd_x"].fillna(False).to_numpy(bool)
    non = data["hpd_x_status"].eq("not_hpd").to_numpy()
    p_t = stats.ttest_ind(age[hpd][1:], age[non], equal_var=False).pvalue
    assert t.loc["age", "test"] == "Welch’s T-test"
    assert t.loc["age", "p_value"] == pytest.approx(p_t)
    assert t.loc["age", "statistic"] == "mean (SD)" and t.loc["age", "missing"] == 1
    assert t.loc["nlr", "test"].startswith("Kruskal-Wallis")
    assert t.loc["nlr", "p_value"] == pytest.approx(stats.kruskal(nlr[hpd], nlr[non]).pvalue)
    assert t.loc["nlr", "statistic"] == "median [Q1,Q3]"
    assert t.loc["n", "missing"] == 3  # not evaluable: left out, counted


def test_table1_unknown_variable_is_a_clear_error():
    with pytest.raises(ParameterError, match="no column 'bmi'"):
        table1(two_by_two(1, 1, 1, 1), "x", variables=["bmi"])


def test_odds_ratio_of_a_2x2_is_ad_over_bc_with_woolf_ci():
    a, b, c, d = 6, 4, 10, 30
    out = odds_ratios(two_by_two(a, b, c, d), "x", ["liver_metastasis"])
    row = out[(out["level"] == "True") & (out["model"] == "univariable")].iloc[0]
    assert row["odds_ratio"] == pytest.approx(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = stats.norm.ppf(0.975)
    assert row["ci_low"] == pytest.approx(math.exp(math.log(4.5) - z * se), rel=1e-5)
    assert row["ci_high"] == pytest.approx(math.exp(math.log(4.5) + z * se), rel=1e-5)
    tab = Table2x2(np.array([[a, c], [b, d]]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tab.oddsratio_confint(), rel=1e-5)
    assert row["p_value"] == pytest.approx(tab.oddsratio_pvalue(), rel=1e-5)
    assert (row["n"], row["n_events"], row["reference"]) == (50, 10, "False")
    ref = out[(out["level"] == "False")].iloc[0]
    assert ref["odds_ratio"] == 1 and ref["note"] == "reference level"
    assert "Wald" in row["test"]


def test_separation_gives_a_note_not_a_crash():
    from hpd_analysis.params import Statistics

    data = two_by_two(5, 0, 0, 20)  # liver metastasis predicts HPD perfectly
    out = odds_ratios(data, "x", ["liver_metastasis"], statistics=Statistics(firth="never"))
    row = out[out["level"] == "True"].iloc[0]
    assert np.isnan(row["odds_ratio"])
    assert "separation" in row["note"]
    assert any("separation" in w for w in out.attrs["warnings"])


def test_events_per_variable_and_warning():
    assert events_per_variable(20, 4) == 5.0
    msg = epv_warning(20, 4)
    assert msg is not None and "5.0 events per variable" in msg
    assert epv_warning(40, 4) is None
    with pytest.raises(ParameterError):
        events_per_variable(10, 0)


def test_odds_ratios_multivariable_with_categories_and_epv_warning():
    rng = np.random.default_rng(3)
    n = 80
    hpd = rng.random(n) < 0.25
    flags = [bool(h) for h in hpd] + [None] * 4
    data = with_hpd(
        flags,
        age=np.r_[rng.normal(62, 9, n), [60] * 4],
        tumor_type=list(rng.choice(["NSCLC", "HNSCC", "melanoma"], n)) + ["NSCLC"] * 4,
    )
    out = odds_ratios(data, "x", ["age", "tumor_type"])
    multi = out[out["model"] == "multivariable"]
    assert multi["variable"].tolist() == ["age", "tumor_type", "tumor_type", "tumor_type"]
    # reference: the largest level among the evaluable patients (ties: sort order)
    largest = pd.Series(data["tumor_type"][:n]).value_counts()
    ref = sorted(largest[largest == largest.max()].index)[0]
    assert multi["level"].tolist()[1] == ref
    assert (multi.loc[multi["variable"] == "tumor_type", "reference"] == ref).all()
    assert (multi["n"] == n).all()  # the 4 not-evaluable patients are left out
    assert any("left out" in w for w in out.attrs["warnings"])
    events = int(hpd.sum())
    expected = f"{min(events, n - events) / 3:.1f} events per variable"
    assert any(expected in w for w in out.attrs["warnings"])
    assert multi["note"].str.contains("EPV").any()


def test_a_single_valued_variable_is_reported_not_estimable():
    data = two_by_two(3, 3, 5, 5)
    data["sex"] = "F"
    out = odds_ratios(data, "x", ["sex", "liver_metastasis"])
    sex = out[out["variable"] == "sex"].iloc[0]
    assert "single value" in sex["note"] and np.isnan(sex["odds_ratio"])
    assert "multivariable" not in out["model"].tolist()  # one estimable variable only


def test_a_separated_variable_is_left_out_of_the_multivariable_model():
    from hpd_analysis.params import Statistics

    data = two_by_two(5, 5, 0, 20)  # liver metastasis: no non-HPD patient exposed
    data["age"] = np.random.default_rng(2).normal(60, 8, len(data))
    data["sex"] = ["F", "M"] * (len(data) // 2)
    out = odds_ratios(
        data, "x", ["liver_metastasis", "age", "sex"], statistics=Statistics(firth="never")
    )
    multi = out[out["model"] == "multivariable"]
    assert set(multi["variable"]) == {"age", "sex"}
    assert np.isfinite(multi.loc[multi["variable"] == "age", "odds_ratio"]).all()
    assert any(
        "left out (not estimable alone): ['liver_metastasis']" in w for w in out.attrs["warnings"]
    )


def test_table1_by_a_patient_column_with_three_groups():
    rng = np.random.default_rng(5)
    data = pd.DataFrame(
        {
            "arm": ["A", "B", "C"] * 10,
            "age": rng.normal(60, 5, 30),
            "sex": ["F", "M", "M"] * 9 + [None] * 3,
        }
    )
    t = table1(data, "arm", variables=["age", "sex"], nonnormal=[]).set_index("variable")
    assert list(t.columns[2:6]) == ["overall", "A", "B", "C"]
    groups = [data.loc[data["arm"] == g, "age"] for g in "ABC"]
    assert t.loc["age", "test"] == "One-way ANOVA"
    assert t.loc["age", "p_value"] == pytest.approx(stats.f_oneway(*groups).pvalue)
    sex = t.loc["sex"].iloc[0]
    assert sex["missing"] == 3 and sex["test"].startswith("Chi-squared")


def test_collinear_variables_are_named_in_the_note():
    data = two_by_two(6, 6, 10, 10)
    data["treatment"] = ["nivolumab", "atezolizumab"] * 16
    data["arm"] = np.where(data["treatment"] == "nivolumab", "anti-PD-1", "anti-PD-L1")
    out = odds_ratios(data, "x", ["treatment", "arm"])
    multi = out[(out["model"] == "multivariable") & (out["note"] != "reference level")]
    assert multi["odds_ratio"].isna().all()
    assert multi["note"].str.contains(r"collinear design.*arm\[anti-PD-L1\]").all()


def test_univariable_p_values_are_also_given_holm_adjusted():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    n = 120
    hpd = rng.random(n) < 0.3
    data = with_hpd(
        [bool(h) for h in hpd],
        age=rng.normal(62, 9, n),
        liver_metastasis=pd.array(rng.random(n) < 0.3 + 0.3 * hpd, dtype="boolean"),
        tumor_type=list(rng.choice(["NSCLC", "HNSCC", "melanoma"], n)),
    )
    out = odds_ratios(data, "x", ["age", "liver_metastasis", "tumor_type"])
    uni = out[(out["model"] == "univariable") & out["p_value"].notna()]
    assert len(uni) == 4  # age, liver metastasis, two tumour types vs the reference
    want = multipletests(uni["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(uni["p_holm"].to_numpy(), want)
    assert (uni["p_holm"] >= uni["p_value"]).all()
    others = out[(out["model"] == "multivariable") | out["p_value"].isna()]
    assert len(others) and others["p_holm"].isna().all()


def _small_r_by_c() -> tuple[np.ndarray, np.ndarray]:
    """60 patients, a 4-level factor with rare levels, HPD more frequent in level 2."""
    rng = np.random.default_rng(1)
    x = rng.choice(4, 60, p=[0.6, 0.2, 0.15, 0.05])
    g = (rng.random(60) < 0.2 + 0.2 * (x == 2)).astype(int)
    return x, g


def test_monte_carlo_chi_squared_agrees_with_r():
    from hpd_analysis.riskfactors import chi2_monte_carlo

    x, g = _small_r_by_c()
    stat, p = chi2_monte_carlo(x, g)
    # R 4.x: chisq.test(table(x, g))$statistic 4.86529 ("approximation may be incorrect");
    # chisq.test(..., simulate.p.value = TRUE, B = 200000) p 0.1731-0.1736 over seeds 1-3
    assert stat == pytest.approx(4.86529, abs=1e-5)
    assert p == pytest.approx(0.1735, abs=0.015)  # 10 000 permutations: MC SE ~0.004
    assert chi2_monte_carlo(x, g) == (stat, p)  # seeded


def test_table1_r_by_c_with_small_expected_counts_uses_monte_carlo():
    from hpd_analysis.riskfactors import MC_PERMUTATIONS, chi2_monte_carlo

    x, g = _small_r_by_c()
    data = with_hpd([bool(v) for v in g], site=[f"site {v}" for v in x])
    t = table1(data, "x", variables=["site"])
    row = t[t["test"] != ""].iloc[0]
    assert row["test"].startswith("Chi-squared, Monte Carlo p")
    assert f"{MC_PERMUTATIONS:,} permutations" in row["test"]
    _, p = chi2_monte_carlo(
        pd.factorize(pd.Series([f"site {v}" for v in x]))[0],
        pd.factorize(pd.Series(np.where(g == 1, "HPD", "non-HPD")))[0],
    )
    assert row["p_value"] == pytest.approx(p, abs=0.02)
    # enough patients in every cell: the asymptotic test stays
    big = with_hpd(
        [bool(v) for v in np.tile(g, 10)], site=[f"site {v % 2}" for v in np.tile(x, 10)]
    )
    big["site3"] = [f"s{v}" for v in np.tile(np.arange(3), 200)]
    t = table1(big, "x", variables=["site3"])
    assert t[t["test"] != ""].iloc[0]["test"] == "Chi-squared"
