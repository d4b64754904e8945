"""Prediction: AUC, its CIs, calibration and Harrell's optimism against independent computations.

The expected values come from code written here (Mann–Whitney pair counting, DeLong's variance
from its pairwise definition) or from other libraries (scikit-learn's ``roc_auc_score``,
statsmodels' GLM), never from the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import roc_auc_score

from hpd_analysis import prediction
from hpd_analysis.errors import ParameterError
from hpd_analysis.params import Parameters, Prediction


def _sample(n: int = 240, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    # a rounded marker: many ties
    score = np.round(rng.normal(loc=0.8 * y, scale=1.0), 1)
    return y, score


def _pairs_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann–Whitney by counting every (case, non-case) pair: 1 if the case is higher, 1/2 tie."""
    pos, neg = s[y == 1], s[y == 0]
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return (gt + 0.5 * eq) / (len(pos) * len(neg))


def _delong_by_hand(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong et al. 1988, eqs. of the structural components: psi(X, Y) = 1 if X > Y, 1/2 if
    X = Y, 0 otherwise; V10(X_i) = mean_j psi(X_i, Y_j), V01(Y_j) = mean_i psi(X_i, Y_j);
    var = S10 / m + S01 / n with S the sample variances (denominator m - 1, n - 1)."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    return float(psi.mean()), float(np.sqrt(var))


def test_auc_is_mann_whitney_and_sklearn():
    y, s = _sample()
    a = prediction.auc(y, s)
    assert a == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert a == pytest.approx(_pairs_auc(y, s), abs=1e-12)
    # scipy's Mann-Whitney U of the cases / (n1 n0): a third route to the same number
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert a == pytest.approx(u / (y.sum() * (len(y) - y.sum())), abs=1e-12)


def test_auc_hand_example():
    # cases 3, 2 ; non-cases 1, 2: pairs (3>1) (3>2) (2>1) (2=2 -> 1/2): 3.5 / 4
    assert prediction.auc([1, 1, 0, 0], [3, 2, 1, 2]) == pytest.approx(0.875)


def test_delong_variance_by_hand():
    y, s = _sample()
    a, se = _delong_by_hand(y, s)
    got = prediction.auc_delong(y, s)
    assert got["auc"] == pytest.approx(a, abs=1e-12)
    assert got["se"] == pytest.approx(se, abs=1e-12)
    z = stats.norm.ppf(0.975)
    assert got["ci_low"] == pytest.approx(a - z * se, abs=1e-12)
    assert got["ci_high"] == pytest.approx(a + z * se, abs=1e-12)


def test_bootstrap_ci_matches_independent_bootstrap_and_delong():
    y, s = _sample()
    got = prediction.auc_bootstrap_ci(y, s, n_boot=400, seed=11)
    # the same stratified resampling written here, each replicate scored by scikit-learn
    rng = np.random.default_rng(11)
    pos, neg = s[y == 1], s[y == 0]
    bp = pos[rng.integers(0, len(pos), size=(400, len(pos)))]
    bn = neg[rng.integers(0, len(neg), size=(400, len(neg)))]
    lab = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    reps = [roc_auc_score(lab, np.r_[bp[i], bn[i]]) for i in range(400)]
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert got["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert got["ci_high"] == pytest.approx(hi, abs=1e-12)
    # and close to DeLong's asymptotic interval (different method, same target)
    a, se = _delong_by_hand(y, s)
    assert got["ci_low"] == pytest.approx(a - 1.96 * se, abs=0.02)
    assert got["ci_high"] == pytest.approx(a + 1.96 * se, abs=0.02)


def test_bootstrap_ci_reproducible_with_seed():
    y, s = _sample()
    a = prediction.auc_bootstrap_ci(y, s, n_boot=300, seed=3)
    b = prediction.auc_bootstrap_ci(y, s, n_boot=300, seed=3)
    c = prediction.auc_bootstrap_ci(y, s, n_boot=300, seed=4)
    assert a == b
    assert a["ci_low"] != c["ci_low"] or a["ci_high"] != c["ci_high"]


def test_calibration_against_statsmodels_glm():
    rng = np.random.default_rng(8)
    lp = rng.normal(-1.0, 1.2, size=300)
    # outcomes drawn from a miscalibrated truth: slope 0.6, shift +0.3
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.3 + 0.6 * lp)))).astype(int)
    got = prediction.calibration(y, lp)
    slope_fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    citl_fit = sm.GLM(y, np.ones((300, 1)), family=sm.families.Binomial(), offset=lp).fit()
    assert got["slope"] == pytest.approx(slope_fit.params[1], abs=1e-8)
    assert got["intercept"] == pytest.approx(citl_fit.params[0], abs=1e-8)
    p = 1 / (1 + np.exp(-lp))
    assert got["brier"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)


def _cohort(n: int = 160, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(63, 9, n).round()
    ldh = rng.random(n) < 0.4
    lp = -2.0 + 0.04 * (age - 63) + 0.9 * ldh
    hpd = rng.random(n) < 1 / (1 + np.exp(-lp))
    status = np.where(hpd, "hpd", "not_hpd").astype(object)
    status[:10] = "not_evaluable"
    d = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "age": age,
            "ldh_above_uln": ldh,
            "noise": rng.normal(size=n),
            "hpd_x": pd.array(np.where(status == "hpd", True, False), "boolean"),
            "hpd_x_status": status,
        }
    )
    d.loc[status == "not_evaluable", "hpd_x"] = pd.NA
    d.loc[10:14, "noise"] = np.nan
    return d


def test_model_reproducible_and_counts_exclusions():
    d = _cohort()
    pp = Prediction(optimism_replicates=40, auc_replicates=200, seed=7)
    m1 = prediction.prediction_model(d, "x", ["age", "ldh_above_uln", "noise"], params=pp)
    m2 = prediction.prediction_model(d, "x", ["age", "ldh_above_uln", "noise"], params=pp)
    pd.testing.assert_frame_equal(m1.performance, m2.performance)
    assert m1.excluded == {"not evaluable under x": 10, "a predictor missing": 5}
    assert m1.n == 145 and m1.n_parameters == 3
    assert m1.epv == pytest.approx(min(m1.n_events, m1.n - m1.n_events) / 3)
    perf = m1.performance.set_index("measure")
    assert perf.loc["auc", "corrected"] < perf.loc["auc", "apparent"]
    m3 = prediction.prediction_model(
        d,
        "x",
        ["age", "ldh_above_uln", "noise"],
        params=Prediction(optimism_replicates=40, auc_replicates=200, seed=8),
    )
    assert m3.performance.loc[0, "corrected"] != m1.performance.loc[0, "corrected"]


def test_harrell_optimism_of_auc_by_hand():
    """rms::validate's algorithm written out with firthmodels and scikit-learn's AUC."""
    from firthmodels import FirthLogisticRegression

    d = _cohort()
    dd = prediction.design(d, "x", ["age", "ldh_above_uln", "noise"])
    x, y = dd.x, dd.y
    got = prediction.harrell_validate(x, y, dd.columns, n_boot=25, seed=19).set_index("measure")
    full = FirthLogisticRegression(max_iter=200).fit(x, y)
    apparent = roc_auc_score(y, full.decision_function(x))
    rng = np.random.default_rng(19)
    opt = []
    for _ in range(25):
        i = rng.integers(0, len(y), size=len(y))
        mb = FirthLogisticRegression(max_iter=200).fit(x[i], y[i])
        opt.append(
            roc_auc_score(y[i], mb.decision_function(x[i]))
            - roc_auc_score(y, mb.decision_function(x))
        )
    assert got.loc["auc", "apparent"] == pytest.approx(apparent, abs=1e-9)
    assert got.loc["auc", "corrected"] == pytest.approx(apparent - np.mean(opt), abs=1e-9)


def test_ridge_coefficients_on_original_scale():
    d = _cohort()
    dd = prediction.design(d, "x", ["age", "noise"])
    m = prediction.fit_model(dd.x, dd.y, dd.columns, penalty="ridge", ridge_c=0.5)
    from sklearn.linear_model import LogisticRegression

    z = (dd.x - dd.x.mean(0)) / dd.x.std(0)
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(z, dd.y)
    np.testing.assert_allclose(m.linear_predictor(dd.x), ref.decision_function(z), atol=1e-8)


def test_marker_roc_per_definition():
    d = _cohort()
    t, curves = prediction.marker_roc(d, "age", ["x"], params=Prediction(auc_replicates=200))
    known = d["hpd_x"].notna()
    assert t.loc[0, "auc"] == pytest.approx(
        roc_auc_score(d.loc[known, "hpd_x"].astype(bool), d.loc[known, "age"]), abs=1e-12
    )
    assert t.loc[0, "n"] == 150 and set(curves) == {"x"}


def test_by_definition_table_side_by_side():
    d = _cohort()
    d["hpd_y"] = d["ldh_above_uln"].astype("boolean")
    d["hpd_y_status"] = np.where(d["ldh_above_uln"], "hpd", "not_hpd")
    long = prediction.predictors_by_definition(
        d, ["x", "y"], ["age"], params=Prediction(optimism_replicates=20, auc_replicates=200)
    )
    assert set(long["outcome"]) == {"x", "y"}
    assert list(long["predictor"].unique()) == [
        "age",
        "model (apparent)",
        "model (optimism-corrected)",
    ]
    wide = prediction.by_definition_wide(long)
    assert list(wide.columns) == ["predictor", "x", "y"]
    assert wide["predictor"].iloc[-1] == "HPD events / evaluable"


def test_single_outcome_is_a_clear_error():
    d = _cohort().assign(hpd_x=False, hpd_x_status="not_hpd")
    with pytest.raises(ParameterError, match="needs both outcomes"):
        prediction.prediction_model(d, "x", ["age"], params=Prediction(optimism_replicates=10))


def test_parameters_group_validates():
    p = Parameters.from_dict({"prediction.penalty": "ridge", "prediction.predictors": "a, b"})
    assert p.prediction.penalty == "ridge" and p.prediction.predictors == ("a", "b")
    assert p.to_dict()["prediction.seed"] == 2024
    with pytest.raises(ValueError, match="prediction.penalty='lasso'"):
        Parameters.from_dict({"prediction.penalty": "lasso"})
    with pytest.raises(ValueError, match="prediction.optimism_replicates"):
        Parameters.from_dict({"prediction.optimism_replicates": 2.5})


def test_methods_text_names_every_reference():
    text = prediction.methods_text(Prediction())
    for ref in (
        "Firth",
        "Hanley",
        "DeLong",
        "Harrell",
        "Peduzzi",
        "Van Calster",
        "Arkenau",
        "Mezquita",
        "TRIPOD",
        "Robin",
        "Cleveland",
        "Wilson",
        "Brier",
        "Heinze",
    ):
        assert ref in text


def test_predictor_lists_survive_text_round_trips():
    # a tuple reaches a notebook as its text: read back the same names
    for text in ("('age', 'ldh')", "['age', 'ldh']", "age, ldh", "age,ldh,"):
        assert Prediction(predictors=text).predictors == ("age", "ldh")
    assert Prediction(markers="none").markers is None


def test_collinear_and_constant_predictors_left_out_with_a_note():
    d = _cohort().assign(age2=lambda t: 2 * t["age"] + 1, const=1.0)
    dd = prediction.design(d, "x", ["age", "age2", "noise"])
    assert dd.columns == ["age", "noise"] and dd.predictors == ["age", "noise"]
    assert any("age2 left out" in n and "collinear" in n for n in dd.notes)
    m = prediction.prediction_model(
        d, "x", ["age", "age2"], params=Prediction(optimism_replicates=10, auc_replicates=100)
    )
    assert m.n_parameters == 1 and any("age2" in w for w in m.warnings)


def test_firth_singular_design_is_a_failed_fit_not_a_crash():
    x = np.column_stack([np.ones(20), np.arange(20.0)])
    y = np.r_[np.zeros(10), np.ones(10)].astype(int)
    assert prediction.fit_model(x, y, ["a", "b"], penalty="firth") is None


def test_wide_table_obeys_the_small_cell_rule():
    long = pd.DataFrame(
        {
            "predictor": ["age", "age"],
            "outcome": ["x", "y"],
            "n": [40, 60],
            "n_events": [3, 12],
            "auc": [0.7, 0.6],
            "ci_low": [0.5, 0.45],
            "ci_high": [0.9, 0.75],
            "epv": [np.nan, np.nan],
            "note": ["", ""],
        }
    )
    wide = prediction.by_definition_wide(long, small_cell_threshold=5).set_index("predictor")
    assert wide.loc["age", "x"] == "<5 events"
    assert wide.loc["age", "y"] == "0.60 (0.45–0.75)"
    assert wide.loc["HPD events / evaluable", "x"] == "<5 / 40"
    assert (
        prediction.by_definition_wide(long)
        .set_index("predictor")
        .loc["HPD events / evaluable", "x"]
        == "3 / 40"
    )


def test_marker_roc_warns_with_few_events():
    d = _cohort()
    d["hpd_z"] = pd.array([True] * 3 + [False] * (len(d) - 3), "boolean")
    t, _ = prediction.marker_roc(d, "age", ["z", "x"], params=Prediction(auc_replicates=100))
    t = t.set_index("outcome")
    assert "only 3 patient(s)" in t.loc["z", "note"]
    assert t.loc["x", "note"] == ""


def test_whole_parameters_carry_the_log2_choice():
    d = _cohort().assign(nlr=lambda t: np.exp(t["noise"]))  # positive and skewed
    on = prediction.design(d, "x", ["nlr"], log2_skewed=True)
    off = prediction.design(d, "x", ["nlr"], log2_skewed=False)
    assert on.columns == ["log2(nlr)"] and off.columns == ["nlr"]
    p = Parameters.from_dict(
        {
            "statistics.log2_skewed": False,
            "prediction.optimism_replicates": 10,
            "prediction.auc_replicates": 100,
        }
    )
    m = prediction.prediction_model(d, "x", ["nlr"], params=p)
    assert list(m.coefficients["term"]) == ["(intercept)", "nlr"]


def test_large_cohorts_use_delong_and_skip_the_optimism_bootstrap():
    d = _cohort()
    pp = Prediction(max_bootstrap_patients=100, optimism_replicates=10, auc_replicates=100)
    m = prediction.prediction_model(d, "x", ["age", "ldh_above_uln"], params=pp)
    assert m.n == 150 and m.performance["corrected"].isna().all()
    assert any("max_bootstrap_patients" in w for w in m.warnings)
    s = m.summary().iloc[0]
    assert s["auc_ci_method"].startswith("DeLong")
    dl = prediction.auc_delong(m.y, m.linear_predictor)
    assert s["auc_ci_low"] == pytest.approx(dl["ci_low"], abs=1e-12)
    t, _ = prediction.marker_roc(d, "age", ["x"], params=pp)
    assert t.loc[0, "ci_method"].startswith("DeLong")
    assert t.loc[0, "ci_low"] == t.loc[0, "delong_ci_low"]
    # the apparent-only table has the bootstrapped one's layout: no optimism, no sample
    perf = m.performance
    boot = prediction.prediction_model(
        d,
        "x",
        ["age", "ldh_above_uln"],
        params=Prediction(optimism_replicates=10, auc_replicates=100),
    ).performance
    assert list(perf.columns) == list(boot.columns) and list(perf.dtypes) == list(boot.dtypes)
    assert perf["optimism"].isna().all() and (perf[["n_boot", "n_failed"]] == 0).all().all()


# ---------------------------------------------------------------- batch kernels vs one by one
def _boot_designs(n: int = 120, b: int = 30, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``b`` bootstrap samples of a design with a rare binary predictor (some samples nearly
    separate) and a skewed number; the intercept last, as firthmodels."""
    rng = np.random.default_rng(seed)
    rare = (rng.random(n) < 0.08).astype(float)
    z = rng.lognormal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 2.5 * rare + 0.3 * np.log(z))))).astype(int)
    x1 = np.column_stack([rare, np.log2(z), np.ones(n)])
    idx = rng.integers(0, n, size=(b, n))
    return x1[idx], y[idx]


def test_batch_firth_equals_firthmodels_to_1e8():
    from firthmodels import FirthLogisticRegression

    xb, yb = _boot_designs()
    # plus one quasi-separated sample (every patient with the rare factor has the outcome):
    # the maximum-likelihood odds ratio is infinite, Firth's estimate stays finite
    sep_x = xb[0].copy()
    sep_y = np.where(sep_x[:, 0] == 1, 1, yb[0])
    xb, yb = np.concatenate([xb, sep_x[None]]), np.concatenate([yb, sep_y[None]])
    got = prediction._firth_many(xb, yb)
    compared = 0
    for j in range(len(yb)):
        ref = FirthLogisticRegression(max_iter=200, gtol=1e-10, xtol=1e-10)
        try:
            ref.fit(xb[j][:, :-1], yb[j])
        except (np.linalg.LinAlgError, ValueError):
            assert np.isnan(got[j]).all()  # singular: left to the one-by-one fit
            continue
        if ref.converged_ and np.isfinite(got[j]).all():
            np.testing.assert_allclose(got[j], [*ref.coef_, ref.intercept_], atol=1e-8)
            compared += 1
    assert compared >= 25
    assert np.isfinite(got[-1]).all() and abs(got[-1][1]) < 20


def test_batch_logistic_equals_irls_row_by_row():
    xb, yb = _boot_designs(b=20)
    lp = xb[:, :, 1] * 0.7 - 0.4
    yb = yb.copy()
    yb[3] = (lp[3] > 0).astype(int)  # separated: the one-by-one rule returns None
    ones = np.ones(yb.shape + (1,))
    icpt = prediction._logistic_many(ones, yb.astype(float), offset=lp)
    slope = prediction._logistic_many(
        np.concatenate([ones, lp[..., None]], axis=2), yb.astype(float)
    )
    for j in range(len(yb)):
        a = prediction._logistic_irls(ones[j], yb[j].astype(float), offset=lp[j])
        b = prediction._logistic_irls(
            ones[j, :, :1].repeat(2, axis=1) * np.c_[np.ones(len(lp[j])), lp[j]],
            yb[j].astype(float),
        )
        for got, ref in ((icpt[j], a), (slope[j], b)):
            if ref is None:
                assert np.isnan(got).all()
            else:
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert np.isnan(slope[3]).all()


def test_auc_from_codes_is_mann_whitney():
    rng = np.random.default_rng(4)
    levels = np.array([-1.0, 0.0, 0.5, 2.0, 3.0])
    pos = rng.integers(0, 5, size=(15, 9))
    neg = rng.integers(0, 5, size=(15, 23))
    got = prediction._auc_from_codes(pos, neg, len(levels))
    for j in range(15):
        y = np.r_[np.ones(9), np.zeros(23)].astype(int)
        assert got[j] == pytest.approx(_pairs_auc(y, levels[np.r_[pos[j], neg[j]]]), abs=1e-14)


def test_harrell_firth_batch_equals_the_readable_loop():
    """rms::validate's loop written out with the package's one-by-one pieces (firthmodels fits,
    calibration by Newton-Raphson): the batch path gives the same table."""
    d = _cohort()
    dd = prediction.design(d, "x", ["age", "ldh_above_uln", "noise"])
    x, y = dd.x, dd.y
    got = prediction.harrell_validate(x, y, dd.columns, n_boot=30, seed=3).set_index("measure")
    rng = np.random.default_rng(3)
    diffs = []
    for _ in range(30):
        i = rng.integers(0, len(y), size=len(y))
        mb = prediction.fit_model(x[i], y[i], dd.columns)
        a = prediction._performance(y[i], mb.linear_predictor(x[i]))
        t = prediction._performance(y, mb.linear_predictor(x))
        diffs.append({k: a[k] - t[k] for k in a})
    opt = pd.DataFrame(diffs).mean()
    for k in opt.index:
        assert got.loc[k, "optimism"] == pytest.approx(opt[k], abs=1e-7)
    assert (got["n_boot"] == 30).all() and (got["n_failed"] == 0).all()


def test_by_definition_tables_name_the_auc_ci_method():
    # above max_bootstrap_patients the CIs are DeLong's: the side-by-side tables must say so
    d = _cohort()
    pp = Prediction(max_bootstrap_patients=100, optimism_replicates=10, auc_replicates=100)
    long = prediction.predictors_by_definition(d, ["x"], ["age"], params=pp)
    with_ci = long[long["ci_low"].notna()]
    assert len(with_ci) == 2  # age and the apparent model
    assert with_ci["ci_method"].str.startswith("DeLong").all()
    wide = prediction.by_definition_wide(long).set_index("predictor")
    assert wide.loc["AUC 95 % CI method", "x"].startswith("DeLong")
    assert wide.index[-1] == "HPD events / evaluable"
    boot = prediction.predictors_by_definition(
        d, ["x"], ["age"], params=Prediction(optimism_replicates=10, auc_replicates=100)
    )
    assert (
        boot.loc[boot["ci_low"].notna(), "ci_method"]
        .str.startswith("stratified percentile bootstrap (100 replicates")
        .all()
    )


def test_named_reference_level_reaches_the_model():
    # statistics.reference_levels names the reference of a text predictor, as in the odds ratios
    d = _cohort()
    d["site"] = np.array(["lung", "lung", "skin", "kidney"] * 40)[: len(d)]
    base = {"prediction.optimism_replicates": 10, "prediction.auc_replicates": 100}
    largest = prediction.prediction_model(
        d, "x", ["age", "site"], params=Parameters.from_dict(base)
    )
    assert "site[lung]" not in set(largest.coefficients["term"])  # lung: the largest level
    named = prediction.prediction_model(
        d,
        "x",
        ["age", "site"],
        params=Parameters.from_dict({**base, "statistics.reference_levels": "largest,site=skin"}),
    )
    assert set(named.coefficients["term"]) == {"(intercept)", "age", "site[lung]", "site[kidney]"}
    first = prediction.prediction_model(
        d,
        "x",
        ["age", "site"],
        params=Parameters.from_dict({**base, "statistics.reference_levels": "first"}),
    )
    assert "site[kidney]" not in set(first.coefficients["term"])
