"""Predicting HPD from baseline factors: a penalized logistic model, its discrimination and
calibration, and Harrell's bootstrap optimism correction.

The literature reports HPD classifiers with AUCs of 0.8-0.96 on a few dozen events; this module
gives the honest numbers for a cohort: the apparent performance, what a bootstrap says is
optimism, and the events per parameter beside them.

Methods (each named in the report's methods paragraph, :func:`methods_text`):

- **Model**: logistic regression with Firth's bias-reducing penalty (Firth, Biometrika 1993;
  Heinze & Schemper, Stat Med 2002; ``firthmodels``) — finite estimates under separation, no
  tuning — or ridge (L2) regression (le Cessie & van Houwelingen, Appl Stat 1992; scikit-learn
  ``LogisticRegression``) on predictors standardized to mean 0 and SD 1 with a fixed inverse
  penalty ``C``. Complete cases; booleans are 0/1, text columns one indicator per level but the
  reference (as :func:`hpd_analysis.riskfactors.odds_ratios`), numbers per unit (integer scores
  such as ECOG as one ordinal trend, where Table 1 and the odds-ratio section use categories:
  one parameter instead of one per level), skewed positive markers (NLR, LDH ...) per doubling
  (log2), as the odds-ratio section codes them.
- **Discrimination**: AUC (c-statistic) = the Mann–Whitney probability that a patient with HPD
  has a higher score than one without (ties count one half; Hanley & McNeil, Radiology 1982);
  95 % CI by the stratified percentile bootstrap (cases and non-cases resampled separately, as
  pROC's ``ci.auc(method = "bootstrap")``; Robin et al., BMC Bioinformatics 2011), and DeLong's
  variance (DeLong et al., Biometrics 1988) in :func:`auc_delong`.
- **Calibration** (Van Calster et al., J Clin Epidemiol 2016; Steyerberg, Clinical Prediction
  Models 2019): slope = coefficient of the linear predictor in a logistic regression of the
  outcome on it; intercept (calibration-in-the-large) = the intercept of that regression with the
  linear predictor as an offset (slope fixed at 1). Ideal: slope 1, intercept 0. Brier score =
  mean squared error of the predicted probabilities.
- **Optimism** (Harrell, Lee & Mark, Stat Med 1996; Harrell, Regression Modeling Strategies 2015,
  as R's ``rms::validate``): B bootstrap samples of the patients; in each, the whole model is
  refitted and its performance measured on the bootstrap sample (apparent) and on the original
  patients (test); optimism = mean(apparent − test); corrected = original apparent − optimism.
  The corrected slope is the shrinkage the model needs. Samples where the model cannot be fitted
  (one outcome only) are skipped and counted, as ``rms::validate`` does.
- **Events per parameter** (EPV; Peduzzi et al., J Clin Epidemiol 1996; Riley et al., BMJ 2020):
  events of the rarer outcome per estimated coefficient.

Every bootstrap uses ``numpy.random.default_rng(seed)``: the same data, parameters and seed give
the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ParameterError
from .params import DEFAULT_MARKERS, DEFAULT_PREDICTORS, Parameters, Prediction

__all__ = [
    "auc",
    "auc_delong",
    "auc_bootstrap_ci",
    "auc_ci",
    "calibration",
    "fit_model",
    "harrell_validate",
    "design",
    "PredictionModel",
    "prediction_model",
    "marker_roc",
    "predictors_by_definition",
    "default_predictors",
    "default_markers",
    "TRIPOD_ITEMS",
    "methods_text",
]

#: TRIPOD 2015 checklist items (Collins et al., BMJ 2015;350:g7594) the prediction part reports
TRIPOD_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("4a", "source of data", "the cohort folder and its checksums (index.html)"),
    (
        "5a",
        "participants: eligibility",
        "every patient of the cohort; not evaluable under a definition left out and counted",
    ),
    (
        "6a",
        "outcome: definition",
        "HPD under each registered definition (citation and rule in the definitions table)",
    ),
    (
        "7a",
        "predictors: definition",
        "the predictor list, with the score definitions and their citations",
    ),
    ("8", "sample size", "n, events and events per parameter beside every model"),
    ("9", "missing data", "complete cases; patients left out for a missing predictor counted"),
    (
        "10a",
        "handling of predictors",
        "booleans 0/1, numbers per unit (skewed positive markers "
        "per doubling, log2), text one indicator per level but the reference",
    ),
    ("10b", "model type and fitting", "penalized logistic regression (Firth or ridge)"),
    (
        "10d",
        "performance measures",
        "AUC with bootstrap CI, calibration slope and intercept, Brier score",
    ),
    ("13a", "flow of participants", "n, events and exclusions per model"),
    ("14a", "number of events", "events per definition and model"),
    ("15a", "full model", "coefficients (odds ratios) of the penalized model"),
    ("16", "model performance", "apparent and optimism-corrected performance, calibration plot"),
    (
        "10e/17",
        "internal validation / updating",
        "Harrell's bootstrap optimism correction; the "
        "corrected slope is the shrinkage factor (no external validation: TRIPOD type 1b)",
    ),
    ("18", "limitations", "events per parameter and the optimism are printed beside the AUC"),
)


# --------------------------------------------------------------------------- AUC
def _clean(y: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float)
    ss = np.asarray(score, dtype=float)
    if yy.shape != ss.shape:
        raise ParameterError(f"outcome ({yy.shape}) and score ({ss.shape}) differ in length")
    ok = np.isfinite(yy) & np.isfinite(ss)
    yy, ss = yy[ok], ss[ok]
    if not np.isin(yy, (0.0, 1.0)).all():
        raise ParameterError("outcome: expected 0/1 values")
    return yy.astype(int), ss


def auc(y: Any, score: Any) -> float:
    """AUC (c-statistic) of ``score`` for the 0/1 outcome ``y``: the Mann–Whitney U of the
    positives divided by n1·n0 (ties count one half). Higher scores are read as higher risk
    (an AUC < 0.5 says the marker goes the other way). NaN without both outcomes."""
    yy, ss = _clean(y, score)
    n1 = int(yy.sum())
    n0 = len(yy) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(ss)
    return float((ranks[yy == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auc_delong(y: Any, score: Any, alpha: float = 0.05) -> dict[str, float]:
    """AUC with DeLong's variance (DeLong, DeLong & Clarke-Pearson, Biometrics 1988) and the
    Wald CI ``auc ± z·se`` clipped to [0, 1]: ``{"auc", "se", "ci_low", "ci_high"}``."""
    yy, ss = _clean(y, score)
    pos, neg = ss[yy == 1], ss[yy == 0]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        return {
            "auc": auc(yy, ss),
            "se": float("nan"),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
        }
    # structural components from mid-ranks (Sun & Xu, IEEE Signal Process Lett 2014)
    r_all = stats.rankdata(np.r_[pos, neg])
    r_pos, r_neg = stats.rankdata(pos), stats.rankdata(neg)
    v10 = (r_all[:m] - r_pos) / n
    v01 = 1.0 - (r_all[m:] - r_neg) / m
    a = float(v10.mean())
    var = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"auc": a, "se": se, "ci_low": max(0.0, a - z * se), "ci_high": min(1.0, a + z * se)}


def _auc_many(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of ``scores`` (replicates × patients) against the rows of ``y``."""
    ranks = stats.rankdata(scores, axis=1)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def _auc_from_codes(pos: np.ndarray, neg: np.ndarray, n_levels: int) -> np.ndarray:
    """AUC of each row of ``pos`` (replicates × cases) against the same row of ``neg``
    (replicates × non-cases), both holding codes 0 … ``n_levels`` − 1 of ordered distinct
    values: Σ over levels of cases × (non-cases below + ½ non-cases equal) / (n1·n0), the
    Mann–Whitney count of :func:`auc` without sorting (tested equal to it)."""
    k = pos.shape[0]
    offs = (np.arange(k) * n_levels)[:, None]
    cp = np.bincount((pos + offs).ravel(), minlength=k * n_levels).reshape(k, n_levels)
    cn = np.bincount((neg + offs).ravel(), minlength=k * n_levels).reshape(k, n_levels)
    below = np.cumsum(cn, axis=1) - cn
    wins = (cp * (below + 0.5 * cn)).sum(axis=1)
    return wins / (pos.shape[1] * neg.shape[1])


def auc_bootstrap_ci(
    y: Any, score: Any, *, n_boot: int = 2000, seed: int = 2024, alpha: float = 0.05
) -> dict[str, float]:
    """AUC and its percentile bootstrap CI, cases and non-cases resampled separately (stratified,
    as pROC's default, so every replicate has both outcomes): ``{"auc", "ci_low", "ci_high",
    "n_boot"}``. Reproducible with ``seed``."""
    yy, ss = _clean(y, score)
    a = auc(yy, ss)
    pos, neg = ss[yy == 1], ss[yy == 0]
    if len(pos) == 0 or len(neg) == 0:
        return {"auc": a, "ci_low": float("nan"), "ci_high": float("nan"), "n_boot": 0}
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(1, len(ss)))
    # the replicates' values are the patients' values: AUCs from counts per distinct value
    levels, codes = np.unique(ss, return_inverse=True)
    pos_c, neg_c = codes[yy == 1], codes[yy == 0]
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        bp = pos_c[rng.integers(0, len(pos), size=(k, len(pos)))]
        bn = neg_c[rng.integers(0, len(neg), size=(k, len(neg)))]
        out[start : start + k] = _auc_from_codes(bp, bn, len(levels))
    lo, hi = np.quantile(out, [alpha / 2, 1 - alpha / 2])
    return {"auc": a, "ci_low": float(lo), "ci_high": float(hi), "n_boot": int(n_boot)}


def auc_ci(y: Any, score: Any, params: Prediction | None = None) -> dict[str, Any]:
    """AUC with the report's 95 % CI: the stratified bootstrap (``auc_replicates``, ``seed``) up
    to ``max_bootstrap_patients`` patients, DeLong's interval beyond (its asymptotic equivalent,
    O(n log n)); ``ci_method`` names which."""
    pp = params or Prediction()
    yy, ss = _clean(y, score)
    if len(yy) > pp.max_bootstrap_patients:
        d = auc_delong(yy, ss)
        return {
            "auc": d["auc"],
            "ci_low": d["ci_low"],
            "ci_high": d["ci_high"],
            "ci_method": f"DeLong (n = {len(yy)} > max_bootstrap_patients "
            f"{pp.max_bootstrap_patients})",
        }
    b = auc_bootstrap_ci(yy, ss, n_boot=pp.auc_replicates, seed=pp.seed)
    return {
        "auc": b["auc"],
        "ci_low": b["ci_low"],
        "ci_high": b["ci_high"],
        "ci_method": f"stratified percentile bootstrap ({pp.auc_replicates} replicates, "
        f"seed {pp.seed})",
    }


# --------------------------------------------------------------------------- calibration
def _logistic_irls(
    x: np.ndarray,
    y: np.ndarray,
    *,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> np.ndarray | None:
    """Maximum-likelihood logistic coefficients of design ``x`` (with its own intercept column)
    by Newton–Raphson; None when it does not converge (separation)."""
    off = np.zeros(len(y)) if offset is None else offset
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        eta = np.clip(x @ beta + off, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1 - p)
        grad = x.T @ (y - p)
        hess = x.T @ (x * w[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            return beta if np.all(np.abs(beta) < 50) else None
    return None


def calibration(y: Any, lp: Any) -> dict[str, float]:
    """Calibration of predictions given as linear predictors ``lp`` (log odds) for the 0/1
    outcome ``y``: ``slope`` (logit P(y) = a + b·lp, b), ``intercept`` (calibration-in-the-large:
    logit P(y) = a + lp, a), ``brier`` (mean of (p − y)²) and ``mean_predicted`` /
    ``observed_rate``. NaN where a fit does not exist (a single outcome, a constant lp)."""
    yy, ll = _clean(y, lp)
    p = 1.0 / (1.0 + np.exp(-np.clip(ll, -30, 30)))
    out = {
        "slope": float("nan"),
        "intercept": float("nan"),
        "brier": float(np.mean((p - yy) ** 2)) if len(yy) else float("nan"),
        "mean_predicted": float(p.mean()) if len(yy) else float("nan"),
        "observed_rate": float(yy.mean()) if len(yy) else float("nan"),
    }
    if len(yy) == 0 or yy.min() == yy.max():
        return out
    ones = np.ones((len(yy), 1))
    b = _logistic_irls(ones, yy.astype(float), offset=ll)
    if b is not None:
        out["intercept"] = float(b[0])
    if np.ptp(ll) > 0:
        b2 = _logistic_irls(np.column_stack([ones, ll]), yy.astype(float))
        if b2 is not None:
            out["slope"] = float(b2[1])
    return out


# --------------------------------------------------------------------------- the model
@dataclass
class FittedModel:
    """A fitted penalized logistic model: coefficients on the original predictor scale."""

    columns: list[str]
    intercept: float
    coef: np.ndarray
    penalty: str
    converged: bool = True

    def linear_predictor(self, x: np.ndarray) -> np.ndarray:
        """Log odds of HPD for the rows of ``x`` (columns in :attr:`columns` order)."""
        return self.intercept + np.asarray(x, dtype=float) @ self.coef


def fit_model(
    x: np.ndarray,
    y: np.ndarray,
    columns: Sequence[str],
    *,
    penalty: str = "firth",
    ridge_c: float = 1.0,
) -> FittedModel | None:
    """Fit ``penalty`` = ``firth`` (firthmodels ``FirthLogisticRegression``, penalty weight 0.5,
    converged when the largest score and step are below 1e-8)
    or ``ridge`` (scikit-learn ``LogisticRegression(l1_ratio=0 / penalty="l2", C=ridge_c)`` on
    columns standardized to mean 0 / SD 1, coefficients transformed back). None when ``y`` has a
    single value or the design is singular (Firth)."""
    y = np.asarray(y, dtype=int)
    x = np.asarray(x, dtype=float)
    if y.min() == y.max():
        return None
    if penalty == "firth":
        import warnings

        from firthmodels import FirthLogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                m = FirthLogisticRegression(max_iter=200, gtol=1e-8, xtol=1e-8).fit(x, y)
            except (np.linalg.LinAlgError, ValueError):
                return None  # singular design (e.g. a constant column in a bootstrap sample)
        if not np.all(np.isfinite(m.coef_)) or not np.isfinite(m.intercept_):
            return None
        return FittedModel(
            list(columns),
            float(m.intercept_),
            np.asarray(m.coef_, float),
            "firth",
            bool(m.converged_),
        )
    if penalty == "ridge":
        from sklearn.linear_model import LogisticRegression

        mu = x.mean(axis=0)
        sd = x.std(axis=0)
        sd[sd == 0] = 1.0
        m = LogisticRegression(C=float(ridge_c), max_iter=1000).fit((x - mu) / sd, y)
        coef = m.coef_.ravel() / sd
        return FittedModel(list(columns), float(m.intercept_[0] - coef @ mu), coef, "ridge")
    raise ParameterError(f"prediction.penalty={penalty!r}: expected firth or ridge")


def _performance(y: np.ndarray, lp: np.ndarray) -> dict[str, float]:
    cal = calibration(y, lp)
    return {
        "auc": auc(y, lp),
        "calibration_slope": cal["slope"],
        "calibration_intercept": cal["intercept"],
        "brier": cal["brier"],
    }


#: rows of the validation table, in order, with their words
PERFORMANCE_LABELS: dict[str, str] = {
    "auc": "AUC (c-statistic)",
    "calibration_slope": "calibration slope",
    "calibration_intercept": "calibration intercept (in the large)",
    "brier": "Brier score",
}


def harrell_validate(
    x: np.ndarray,
    y: np.ndarray,
    columns: Sequence[str],
    *,
    penalty: str = "firth",
    ridge_c: float = 1.0,
    n_boot: int = 200,
    seed: int = 2024,
) -> pd.DataFrame:
    """Harrell's bootstrap optimism correction (as ``rms::validate(method = "boot")``).

    Returns one row per measure (``auc, calibration_slope, calibration_intercept, brier``):
    ``measure, label, apparent, optimism, corrected, n_boot`` (bootstrap samples used),
    ``n_failed`` (samples skipped: one outcome only). Reproducible with ``seed``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=int)
    model = fit_model(x, y, columns, penalty=penalty, ridge_c=ridge_c)
    if model is None:
        raise ParameterError(
            "harrell_validate: the model cannot be fitted (a single outcome "
            "value or a singular design)"
        )
    apparent = _performance(y, model.linear_predictor(x))
    rng = np.random.default_rng(seed)
    n = len(y)
    if penalty == "firth":
        # all samples at once (the same draws as the loop below; _firth_many fits them as
        # firthmodels does, one by one)
        idx = np.stack([rng.integers(0, n, size=n) for _ in range(int(n_boot))])
        return _harrell_table(apparent, *_firth_optimism(x, y, idx, columns=columns))
    diffs: dict[str, list[float]] = {k: [] for k in apparent}
    failed = 0  # samples with one outcome only or a singular design: skipped, counted
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, size=n)
        mb = fit_model(x[idx], y[idx], columns, penalty=penalty, ridge_c=ridge_c)
        if mb is None:
            failed += 1
            continue
        app_b = _performance(y[idx], mb.linear_predictor(x[idx]))
        test_b = _performance(y, mb.linear_predictor(x))
        for k in diffs:
            diffs[k].append(app_b[k] - test_b[k])
    return _harrell_table(
        apparent, {k: np.asarray(v, dtype=float) for k, v in diffs.items()}, failed
    )


def _firth_optimism(
    x: np.ndarray, y: np.ndarray, idx: np.ndarray, *, columns: Sequence[str]
) -> tuple[dict[str, np.ndarray], int]:
    """Harrell's apparent − test differences of Firth models refitted in the bootstrap samples
    ``idx`` (B × n row numbers), all samples at once (:func:`_firth_many`; a sample the batch
    cannot settle is fitted alone by :func:`fit_model`), and the number of samples skipped."""
    n, k = x.shape
    x1 = np.column_stack([x, np.ones(n)])  # intercept last, as firthmodels
    yb = y[idx]
    beta = np.full((len(idx), k + 1), np.nan)
    has_both = yb.min(axis=1) != yb.max(axis=1)  # samples with both outcomes: fitted
    with_both = np.flatnonzero(has_both)
    chunk = max(1, 4_000_000 // (n * (k + 1)))  # samples per batch: ~32 MB per work array
    for start in range(0, len(with_both), chunk):
        j = with_both[start : start + chunk]
        beta[j] = _firth_many(x1[idx[j]], yb[j])
    for i in np.flatnonzero(has_both & np.isnan(beta).any(axis=1)):
        mb = fit_model(x[idx[i]], y[idx[i]], columns, penalty="firth")
        if mb is not None:
            beta[i] = [*mb.coef, mb.intercept]
    fitted = np.isfinite(beta).all(axis=1)
    beta, ib = beta[fitted], idx[fitted]
    lp_app = np.einsum("bnk,bk->bn", x1[ib], beta)
    lp_test = beta @ x1.T
    app = _performance_many(yb[fitted], lp_app)
    test = _performance_many(np.broadcast_to(y, lp_test.shape), lp_test)
    return {m: app[m] - test[m] for m in app}, int((~fitted).sum())


def _harrell_table(
    apparent: dict[str, float], diffs: Mapping[str, np.ndarray], failed: int
) -> pd.DataFrame:
    rows = []
    for k, v in apparent.items():
        d = np.asarray(diffs[k], dtype=float)
        d = d[np.isfinite(d)]
        opt = float(d.mean()) if len(d) else float("nan")
        rows.append(
            {
                "measure": k,
                "label": PERFORMANCE_LABELS[k],
                "apparent": v,
                "optimism": opt,
                "corrected": v - opt,
                "n_boot": int(len(d)),
                "n_failed": int(failed),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- batch kernels
def _firth_many(
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_iter: int = 200,
    max_step: float = 5.0,
    max_halfstep: int = 25,
    tol: float = 1e-8,
) -> np.ndarray:
    """Firth-penalized logistic coefficients (Jeffreys penalty weight 0.5) of many data sets at
    once: ``x`` (B × n × k, the intercept column included), ``y`` (B × n, 0/1) → B × k.

    The Newton–Raphson of firthmodels / R's logistf, per data set: modified score
    ``X'(y − p + h(1/2 − p))`` (h the diagonal of the weighted hat matrix), step
    ``(X'WX)⁻¹ U*`` clipped to ``max_step``, halved (up to ``max_halfstep`` times) while the
    penalized log-likelihood ``Σ(y·η − log(1 + e^η)) + ½ log det X'WX`` decreases; converged
    when the largest score and step are below ``tol``. Rows that are singular (Cholesky pivot
    below firthmodels' tolerance) or do not converge are NaN: the caller fits them one by one
    with :func:`fit_model`. Tested equal to firthmodels to 1e-8."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    b, n, k = x.shape
    beta = np.zeros((b, k))
    bad = np.zeros(b, dtype=bool)
    done = np.zeros(b, dtype=bool)
    pivot_tol = np.sqrt(max(n, k) * np.finfo(float).eps)

    def quantities(
        xs: np.ndarray, ys: np.ndarray, bs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        eta = (xs @ bs[..., None])[..., 0]
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        xt = np.swapaxes(xs, 1, 2)
        info = (xt * w[:, None, :]) @ xs
        eig = np.linalg.eigvalsh(info)
        # Cholesky pivots are square roots of the eigenvalues' scale: firthmodels' test squared
        singular = ~(eig[:, 0] > (pivot_tol**2) * eig[:, -1])
        safe = np.where(singular[:, None, None], np.eye(k), info)
        inv = np.linalg.inv(safe)
        logdet = np.linalg.slogdet(safe)[1]
        loglik = (ys * eta - np.logaddexp(0.0, eta)).sum(axis=1) + 0.5 * logdet
        h = w * ((xs @ inv) * xs).sum(axis=2)
        score = (xt @ (ys - p + h * (0.5 - p))[..., None])[..., 0]
        delta = (inv @ score[..., None])[..., 0]
        return loglik, score, delta, singular

    for _ in range(max_iter + 1):
        act = np.flatnonzero(~done & ~bad)
        if not len(act):
            break
        xs, ys = x[act], y[act]
        ll, score, delta, singular = quantities(xs, ys, beta[act])
        bad[act[singular]] = True
        conv = (np.abs(score).max(axis=1) < tol) & (np.abs(delta).max(axis=1) < tol)
        done[act[conv & ~singular]] = True
        go = ~conv & ~singular
        act, xs, ys, ll, delta = act[go], xs[go], ys[go], ll[go], delta[go]
        if not len(act):
            continue
        big = np.abs(delta).max(axis=1)
        # firthmodels: no halving when the step cannot change the log-likelihood in float64
        gain = 0.5 * (score[go] * delta).sum(axis=1)
        skip = (big < tol) & (gain > 0) & (ll + gain == ll)
        delta = delta * np.minimum(1.0, max_step / big)[:, None]
        factor = np.ones(len(act))
        pending = np.ones(len(act), dtype=bool)
        for _h in range(max_halfstep + 1):
            i = np.flatnonzero(pending)
            trial = beta[act[i]] + factor[i, None] * delta[i]
            ll_new = quantities(xs[i], ys[i], trial)[0]
            ok = (ll_new >= ll[i]) | skip[i]
            beta[act[i[ok]]] = trial[ok]
            pending[i[ok]] = False
            factor[i[~ok]] *= 0.5
            if not pending.any():
                break
        if pending.any():  # step halving failed: left to the one-by-one fit
            bad[act[pending]] = True
    beta[bad | ~done] = np.nan
    return beta


def _logistic_many(
    x: np.ndarray,
    y: np.ndarray,
    *,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> np.ndarray:
    """:func:`_logistic_irls` of many data sets at once: ``x`` (B × n × k), ``y`` and
    ``offset`` (B × n) → B × k coefficients, NaN where the one-by-one rule returns None (no
    convergence in ``max_iter`` steps, a singular Hessian, a coefficient ≥ 50 in absolute value:
    separation). Same iterations, row by row, as :func:`_logistic_irls`."""
    b, _, k = x.shape
    off = np.zeros(y.shape) if offset is None else offset
    beta = np.zeros((b, k))
    out = np.full((b, k), np.nan)
    live = np.ones(b, dtype=bool)
    for _ in range(max_iter):
        i = np.flatnonzero(live)
        if not len(i):
            break
        xs = x[i]
        eta = np.clip((xs @ beta[i][..., None])[..., 0] + off[i], -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        xt = np.swapaxes(xs, 1, 2)
        grad = (xt @ (y[i] - p)[..., None])[..., 0]
        hess = (xt * (p * (1 - p))[:, None, :]) @ xs
        det_ok = np.abs(np.linalg.det(hess)) > 0
        hess = np.where(det_ok[:, None, None], hess, np.eye(k))
        try:
            step = np.linalg.solve(hess, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:  # pragma: no cover - det checked above
            step = np.full_like(grad, np.nan)
        live[i[~det_ok]] = False
        beta[i] = beta[i] + step
        conv = det_ok & (np.abs(step).max(axis=1) < tol)
        fine = conv & (np.abs(beta[i]) < 50).all(axis=1)
        out[i[fine]] = beta[i[fine]]
        live[i[conv]] = False
    return out


def _performance_many(y: np.ndarray, lp: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`_performance` of each row of ``lp`` (B × n) against the rows of ``y`` (B × n)."""
    b, n = lp.shape
    yf = y.astype(float)
    p = 1.0 / (1.0 + np.exp(-np.clip(lp, -30, 30)))
    both = y.min(axis=1) != y.max(axis=1)
    ones = np.ones((b, n, 1))
    icpt = _logistic_many(ones, yf, offset=lp)[:, 0]
    varies = np.ptp(lp, axis=1) > 0
    slope = _logistic_many(np.concatenate([ones, lp[..., None]], axis=2), yf)[:, 1]
    return {
        "auc": _auc_many(y, lp),
        "calibration_slope": np.where(both & varies, slope, np.nan),
        "calibration_intercept": np.where(both, icpt, np.nan),
        "brier": np.mean((p - yf) ** 2, axis=1),
    }


# --------------------------------------------------------------------------- data
def default_predictors(columns: Sequence[str]) -> list[str]:
    """:data:`hpd_analysis.params.DEFAULT_PREDICTORS` present in ``columns`` (derived factors
    and scores count as present when their inputs are)."""
    from .riskfactors import default_candidates

    have = set(default_candidates(list(columns)))
    return [p for p in DEFAULT_PREDICTORS if p in have]


def default_markers(columns: Sequence[str]) -> list[str]:
    """:data:`hpd_analysis.params.DEFAULT_MARKERS` present in ``columns`` (or derivable), plus
    the biomarker early changes (``*_early_change_pct``) among them."""
    from .riskfactors import default_candidates

    have = set(default_candidates(list(columns))) | set(map(str, columns))
    out = [m for m in DEFAULT_MARKERS if m in have]
    return out + [str(c) for c in columns if str(c).endswith("_early_change_pct")]


def _prepared(data: pd.DataFrame) -> pd.DataFrame:
    from .riskfactors import derive_risk_factors

    return derive_risk_factors(data)


@dataclass
class Design:
    """Complete-case design of an outcome and predictors."""

    x: np.ndarray
    y: np.ndarray
    columns: list[str]
    predictors: list[str]
    patient_ids: list[str]
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def design(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    log2_skewed: bool = True,
    references: tuple[str, Mapping[str, str]] = ("largest", {}),
) -> Design:
    """Design matrix of ``predictors`` for ``outcome`` (an HPD definition, HPD = 1, or a 0/1
    column) on complete cases. ``excluded`` counts the patients left out by reason (outcome not
    evaluable; a predictor missing); a predictor with a single value is dropped with a note.
    ``log2_skewed``: skewed positive numbers per doubling (``statistics.log2_skewed``);
    ``references``: reference level rule and named levels of text predictors
    (:meth:`hpd_analysis.params.Statistics.reference_map`, ``statistics.reference_levels``)."""
    from .riskfactors import binary_outcome, model_term

    data = _prepared(data)
    missing = [p for p in predictors if p not in data.columns]
    if missing:
        raise ParameterError(
            f"prediction.predictors: no column {', '.join(missing)} "
            f"(columns: {', '.join(map(str, data.columns))})"
        )
    y_all, why = binary_outcome(data, outcome)
    excluded: dict[str, int] = {}
    n_out = int(y_all.isna().sum())
    if n_out:
        excluded[why] = n_out
    known = data.loc[y_all.notna()]
    cols = []
    used = []
    notes = []
    for p in predictors:
        # numbers stay numbers (ECOG, site counts: one ordinal trend, not one coefficient per
        # level: fewer parameters per event); skewed positive markers on the log2 scale
        t = model_term(
            known,
            p,
            reference=references[1],
            reference_rule=references[0],
            continuous={p},
            log2_skewed=log2_skewed,
        )
        if isinstance(t, str):
            notes.append(f"{p} left out: {t}")
            continue
        cols.append(t.columns)
        used.append(p)
    x = pd.concat(cols, axis=1) if cols else pd.DataFrame(index=known.index)
    complete = x.notna().all(axis=1)
    n_miss = int((~complete).sum())
    if n_miss:
        excluded["a predictor missing"] = n_miss
    ids = (
        known.loc[complete, "patient_id"].astype(str).tolist()
        if "patient_id" in known
        else [str(i) for i in known.index[complete]]
    )
    x = _independent_columns(x.loc[complete], notes)
    used = [p for p in used if any(c == p or c.startswith(f"{p}[") for c in x.columns)]
    return Design(
        x=x.to_numpy(float),
        y=y_all[y_all.notna()][complete].to_numpy(int),
        columns=[str(c) for c in x.columns],
        predictors=used,
        patient_ids=ids,
        excluded=excluded,
        notes=notes,
    )


def _independent_columns(x: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Columns of ``x`` that are not constant and not determined by the columns before them
    (with an intercept); each column dropped gets a note."""
    kept: list[str] = []
    base = np.ones((len(x), 1))
    for c in x.columns:
        col = x[c].to_numpy(float)
        if len(col) and np.ptp(col) == 0:
            notes.append(f"{c} left out: a single value among the complete cases")
            continue
        trial = (
            np.column_stack([base, x[kept].to_numpy(float), col])
            if kept
            else np.column_stack([base, col])
        )
        if np.linalg.matrix_rank(trial) < trial.shape[1]:
            notes.append(f"{c} left out: determined by the other predictors (collinear)")
            continue
        kept.append(c)
    return x[kept]


@dataclass
class PredictionModel:
    """Everything the report shows of one prediction model."""

    outcome: str
    penalty: str
    predictors: list[str]
    n: int
    n_events: int
    n_parameters: int
    epv: float
    excluded: dict[str, int]
    performance: pd.DataFrame
    coefficients: pd.DataFrame
    y: np.ndarray
    linear_predictor: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """One row: ``outcome, n, n_events, n_parameters, epv, excluded, auc, auc_ci_low,
        auc_ci_high, auc_ci_method, auc_corrected, slope, slope_corrected, intercept, intercept_corrected,
        brier, brier_corrected, n_boot``."""
        perf = self.performance.set_index("measure")

        def g(m: str, c: str) -> float:
            return float(perf.loc[m, c]) if m in perf.index else float("nan")

        return pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "n": self.n,
                    "n_events": self.n_events,
                    "n_parameters": self.n_parameters,
                    "epv": self.epv,
                    "excluded": "; ".join(f"{k}: {v}" for k, v in self.excluded.items()),
                    "auc": g("auc", "apparent"),
                    "auc_ci_low": g("auc", "ci_low"),
                    "auc_ci_high": g("auc", "ci_high"),
                    "auc_ci_method": str(perf.loc["auc", "ci_method"])
                    if "auc" in perf.index
                    else "",
                    "auc_corrected": g("auc", "corrected"),
                    "slope": g("calibration_slope", "apparent"),
                    "slope_corrected": g("calibration_slope", "corrected"),
                    "intercept": g("calibration_intercept", "apparent"),
                    "intercept_corrected": g("calibration_intercept", "corrected"),
                    "brier": g("brier", "apparent"),
                    "brier_corrected": g("brier", "corrected"),
                    "n_boot": int(perf["n_boot"].iloc[0]) if len(perf) else 0,
                }
            ]
        )


def _params(params: Prediction | Parameters | Mapping[str, Any] | None) -> Prediction:
    if params is None:
        return Prediction()
    if isinstance(params, Parameters):
        return params.prediction
    if isinstance(params, Prediction):
        return params
    return Prediction(**dict(params))


def _log2(params: Prediction | Parameters | Mapping[str, Any] | None) -> bool:
    """``statistics.log2_skewed`` when ``params`` is a whole :class:`Parameters`, else True."""
    return bool(params.statistics.log2_skewed) if isinstance(params, Parameters) else True


def prediction_model(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str] | None = None,
    *,
    params: Prediction | Parameters | Mapping[str, Any] | None = None,
) -> PredictionModel:
    """Fit the penalized model of ``outcome`` on ``predictors`` (default
    :func:`default_predictors`) and validate it.

    ``params`` (:class:`hpd_analysis.params.Prediction`, or the whole
    :class:`~hpd_analysis.params.Parameters`, whose ``statistics.log2_skewed`` and
    ``statistics.reference_levels`` then apply):
    ``penalty``, ``ridge_c``, ``optimism_replicates``, ``auc_replicates``, ``seed``. ``performance`` has the columns of
    :func:`harrell_validate` plus ``ci_low``/``ci_high`` (the AUC's stratified bootstrap 95 % CI
    of the apparent AUC). ``coefficients``: ``term, coefficient, odds_ratio`` (per unit of the
    predictor's column; penalized estimates, no p-values). Raises :class:`ParameterError` when
    the outcome has a single value among the complete cases.
    """
    pp = _params(params)
    d = _model_design(data, outcome, predictors, params=params)
    n, ev, k = len(d.y), int(d.y.sum()), len(d.columns)
    model = fit_model(d.x, d.y, d.columns, penalty=pp.penalty, ridge_c=pp.ridge_c)
    if model is None:
        raise ParameterError(
            f"prediction of {outcome}: the model cannot be fitted (singular "
            f"design: {', '.join(d.columns)})"
        )
    warn = list(d.notes)
    lp = model.linear_predictor(d.x)
    perf = _validated_performance(d, model, pp, warn=warn)
    rare = min(ev, n - ev)
    epv = rare / k
    if epv < 10:
        warn.append(
            f"{epv:.1f} events per parameter ({rare} events, {k} parameters) < 10 "
            "(Peduzzi 1996): expect optimism; read the corrected values"
        )
    if not model.converged:
        warn.append("the fit did not converge")
    return PredictionModel(
        outcome=outcome,
        penalty=pp.penalty,
        predictors=d.predictors,
        n=n,
        n_events=ev,
        n_parameters=k,
        epv=epv,
        excluded=d.excluded,
        performance=perf,
        coefficients=_coefficient_table(model),
        y=d.y,
        linear_predictor=lp,
        warnings=warn,
    )


def _model_design(
    data: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str] | None,
    *,
    params: Prediction | Parameters | Mapping[str, Any] | None,
) -> Design:
    """:func:`design` of the model of ``outcome`` on ``predictors`` (default
    ``prediction.predictors``, else :func:`default_predictors`) with the coding options of
    ``params``; :class:`ParameterError` without a predictor, without both outcomes among the
    complete cases, or without an estimable predictor."""
    pp = _params(params)
    preds = list(
        predictors
        if predictors is not None
        else (pp.predictors or default_predictors(_prepared(data).columns))
    )
    if not preds:
        raise ParameterError(
            "prediction: no predictor (none of the default predictors is a "
            "column; set prediction.predictors)"
        )
    refs = params.statistics.reference_map() if isinstance(params, Parameters) else ("largest", {})
    d = design(data, outcome, preds, log2_skewed=_log2(params), references=refs)
    n, ev = len(d.y), int(d.y.sum()) if len(d.y) else 0
    if n == 0 or ev == 0 or ev == n:
        raise ParameterError(
            f"prediction of {outcome}: {n} complete case(s) with {ev} event(s): needs both outcomes"
        )
    if len(d.columns) == 0:
        raise ParameterError(f"prediction of {outcome}: no estimable predictor ({d.notes})")
    return d


def _validated_performance(
    d: Design, model: FittedModel, pp: Prediction, *, warn: list[str]
) -> pd.DataFrame:
    """The model's apparent performance, optimism and corrected values (Harrell's bootstrap,
    :func:`harrell_validate`; apparent only, with a warning, above ``max_bootstrap_patients``)
    and the AUC's 95 % CI (:func:`auc_ci`) in ``ci_low, ci_high, ci_method``."""
    n = len(d.y)
    lp = model.linear_predictor(d.x)
    if n > pp.max_bootstrap_patients:
        apparent = _performance(d.y, lp)
        perf = _harrell_table(apparent, {m: np.empty(0) for m in apparent}, 0)
        warn.append(
            f"optimism not estimated: {n} complete cases > max_bootstrap_patients "
            f"{pp.max_bootstrap_patients} (set prediction.max_bootstrap_patients to "
            "bootstrap them)"
        )
    else:
        perf = harrell_validate(
            d.x,
            d.y,
            d.columns,
            penalty=pp.penalty,
            ridge_c=pp.ridge_c,
            n_boot=pp.optimism_replicates,
            seed=pp.seed,
        )
    ci = auc_ci(d.y, lp, pp)
    is_auc = perf["measure"] == "auc"
    perf["ci_low"] = np.where(is_auc, ci["ci_low"], np.nan)
    perf["ci_high"] = np.where(is_auc, ci["ci_high"], np.nan)
    perf["ci_method"] = np.where(is_auc, ci["ci_method"], "")
    return perf


def _coefficient_table(model: FittedModel) -> pd.DataFrame:
    """``term, coefficient, odds_ratio`` of the model (the intercept first, its odds ratio
    NaN)."""
    coefs = pd.DataFrame(
        {"term": ["(intercept)", *model.columns], "coefficient": [model.intercept, *model.coef]}
    )
    coefs["odds_ratio"] = np.exp(coefs["coefficient"])
    coefs.loc[0, "odds_ratio"] = np.nan
    return coefs


# --------------------------------------------------------------------------- single markers
#: below this many patients in the smaller outcome group, a marker's AUC CI gets a warning note
FEW_EVENTS = 10


def _marker_values(data: pd.DataFrame, marker: str) -> pd.Series | str:
    """A marker as numbers (booleans 0/1; one indicator for a two-level text column), or why
    it cannot be a single ordered marker."""
    from .riskfactors import model_term

    t = model_term(data, marker, continuous={marker})
    if isinstance(t, str):
        return t
    if t.columns.shape[1] != 1:
        return f"{t.columns.shape[1] + 1} unordered levels: not a single marker"
    return t.columns.iloc[:, 0]


#: columns an AUC row shares in :func:`marker_roc` and :func:`predictors_by_definition`
_AUC_COLUMNS: tuple[str, ...] = (
    "outcome",
    "n",
    "n_events",
    "auc",
    "ci_low",
    "ci_high",
    "ci_method",
)
#: columns of :func:`marker_roc`'s table
ROC_COLUMNS: tuple[str, ...] = ("marker", *_AUC_COLUMNS, "delong_ci_low", "delong_ci_high", "note")
#: columns of :func:`predictors_by_definition`
BY_DEFINITION_COLUMNS: tuple[str, ...] = ("predictor", *_AUC_COLUMNS, "epv", "note")


def _counted_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """``rows`` as a table of ``columns`` (missing cells NaN), the counts ``n`` and
    ``n_events`` as nullable integers."""
    out = pd.DataFrame(rows).reindex(columns=list(columns))
    for c in ("n", "n_events"):
        out[c] = pd.to_numeric(out[c]).astype("Int64")
    return out


def marker_roc(
    data: pd.DataFrame,
    marker: str,
    outcomes: Sequence[str],
    *,
    params: Prediction | Parameters | Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """ROC of one ``marker`` (higher = higher risk of HPD) under each outcome (definition).

    Returns ``(table, curves)``: ``table`` one row per outcome — ``marker, outcome, n,
    n_events, auc, ci_low, ci_high`` (stratified bootstrap 95 % CI, ``auc_replicates`` and
    ``seed`` of ``params``), ``delong_ci_low``, ``delong_ci_high``, ``note`` (a warning when the
    smaller outcome group has fewer than :data:`FEW_EVENTS` patients); ``curves`` outcome →
    ``fpr, tpr, threshold`` (scikit-learn ``roc_curve``).
    """
    from sklearn.metrics import roc_curve

    from .riskfactors import binary_outcome

    pp = _params(params)
    data = _prepared(data)
    if marker not in data.columns:
        raise ParameterError(f"prediction.markers: no column {marker!r}")
    rows = []
    curves: dict[str, pd.DataFrame] = {}
    values = _marker_values(data, marker)
    for oc in outcomes:
        y, _ = binary_outcome(data, oc)
        row: dict[str, Any] = {"marker": marker, "outcome": oc}
        if isinstance(values, str):
            rows.append({**row, "note": values})
            continue
        ok = y.notna() & values.notna()
        yy, ss = y[ok].to_numpy(int), values[ok].to_numpy(float)
        ev = int(yy.sum())
        row.update(n=int(ok.sum()), n_events=ev)
        if ev == 0 or ev == len(yy):
            rows.append({**row, "note": "needs patients with and without HPD"})
            continue
        rows.append({**row, **_marker_auc(yy, ss, pp)})
        fpr, tpr, thr = roc_curve(yy, ss)
        curves[oc] = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})
    out = _counted_table(rows, ROC_COLUMNS)
    out["note"] = out["note"].fillna("")
    out["ci_method"] = out["ci_method"].fillna("")
    return out, curves


def _marker_auc(y: np.ndarray, score: np.ndarray, pp: Prediction) -> dict[str, Any]:
    """``auc, ci_low, ci_high`` (:func:`auc_ci`), ``delong_ci_low, delong_ci_high``
    (:func:`auc_delong`), ``ci_method`` and a ``note`` when the smaller outcome group has fewer
    than :data:`FEW_EVENTS` patients."""
    ci = auc_ci(y, score, pp)
    dl = auc_delong(y, score)
    ev = int(y.sum())
    rare = min(ev, len(y) - ev)
    note = (
        f"only {rare} patient(s) in the smaller group: the CIs are unreliable (a "
        "bootstrap of a few cases cannot show their variability)"
        if rare < FEW_EVENTS
        else ""
    )
    return {
        "auc": ci["auc"],
        "ci_low": ci["ci_low"],
        "ci_high": ci["ci_high"],
        "delong_ci_low": dl["ci_low"],
        "delong_ci_high": dl["ci_high"],
        "ci_method": ci["ci_method"],
        "note": note,
    }


def predictors_by_definition(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    predictors: Sequence[str] | None = None,
    *,
    params: Prediction | Parameters | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Does a predictor predict HPD under every definition alike? One long table:
    ``predictor, outcome, n, n_events, auc, ci_low, ci_high, ci_method, epv, note`` — one row
    per single predictor (its own AUC, :func:`marker_roc`) and per outcome, then the model of
    all of them (``predictor = "model (apparent)"`` with its CI, and ``"model
    (optimism-corrected)"``), with the events per parameter in ``epv``."""
    pp = _params(params)
    prepared = _prepared(data)
    preds = list(
        predictors
        if predictors is not None
        else (pp.predictors or default_predictors(prepared.columns))
    )
    rows = []
    for p in preds:
        t, _ = marker_roc(prepared, p, outcomes, params=params)
        for r in t.to_dict("records"):
            rows.append(
                {
                    "predictor": p,
                    **{c: r[c] for c in _AUC_COLUMNS},
                    "epv": np.nan,
                    "note": r["note"],
                }
            )
    for oc in outcomes:
        rows += _model_auc_rows(prepared, oc, preds, params=params)
    out = _counted_table(rows, BY_DEFINITION_COLUMNS)
    out["note"] = out["note"].fillna("").astype(str)
    out["ci_method"] = out["ci_method"].where(out["ci_low"].notna(), "").fillna("").astype(str)
    return out


def _model_auc_rows(
    prepared: pd.DataFrame,
    outcome: str,
    predictors: list[str],
    *,
    params: Prediction | Parameters | Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Rows ``model (apparent)`` (AUC with its CI) and ``model (optimism-corrected)`` of the
    model of ``outcome`` on ``predictors`` (:func:`prediction_model`), or one row with the
    reason it cannot be fitted."""
    try:
        m = prediction_model(prepared, outcome, predictors, params=params)
    except ParameterError as exc:
        return [{"predictor": "model (apparent)", "outcome": outcome, "note": str(exc)}]
    s = m.summary().iloc[0]
    base = {"outcome": outcome, "n": m.n, "n_events": m.n_events, "epv": m.epv}
    corrected = (
        f"Harrell bootstrap, {s['n_boot']} samples; corrected slope {s['slope_corrected']:.2f}"
        if s["n_boot"]
        else "not estimated (more than max_bootstrap_patients)"
    )
    return [
        {
            **base,
            "predictor": "model (apparent)",
            "auc": s["auc"],
            "ci_low": s["auc_ci_low"],
            "ci_high": s["auc_ci_high"],
            "ci_method": s["auc_ci_method"],
            "note": "; ".join(m.warnings[:1]),
        },
        {
            **base,
            "predictor": "model (optimism-corrected)",
            "auc": s["auc_corrected"],
            "ci_low": np.nan,
            "ci_high": np.nan,
            "note": corrected,
        },
    ]


def by_definition_wide(
    long: pd.DataFrame, digits: int = 2, small_cell_threshold: int = 0
) -> pd.DataFrame:
    """:func:`predictors_by_definition` side by side: one row per predictor, one column per
    outcome holding ``AUC (95 % CI)`` text (``—`` when not estimable), then the CI method per
    outcome (when ``long`` has ``ci_method``) and ``HPD events / evaluable`` in the last row.

    ``small_cell_threshold`` k > 1 (the report's small-cell rule): event counts 1 to k − 1 are
    shown as ``<k`` and the AUCs computed from them as ``<k events``."""
    from .plots import count_label

    k = int(small_cell_threshold or 0)

    def small(e: Any) -> bool:
        return k > 1 and pd.notna(e) and 0 < int(e) < k

    def cell(r: pd.Series) -> str:
        if small(r["n_events"]):
            return f"<{k} events"
        if pd.isna(r["auc"]):
            return "—"
        if pd.isna(r["ci_low"]):
            return f"{r['auc']:.{digits}f}"
        return f"{r['auc']:.{digits}f} ({r['ci_low']:.{digits}f}–{r['ci_high']:.{digits}f})"

    if long.empty:
        return pd.DataFrame(columns=["predictor"])
    t = long.assign(cell=long.apply(cell, axis=1))
    order_p = list(dict.fromkeys(t["predictor"]))
    order_o = list(dict.fromkeys(t["outcome"]))
    wide = (
        t.pivot(index="predictor", columns="outcome", values="cell")
        .reindex(index=order_p, columns=order_o)
        .fillna("—")
    )
    if "ci_method" in t.columns:  # which CI the cells hold (bootstrap, or DeLong's when large)
        wide.loc["AUC 95 % CI method"] = [
            "; ".join(dict.fromkeys(m for m in t.loc[t["outcome"] == o, "ci_method"] if m)) or "—"
            for o in order_o
        ]
    ev = t.groupby("outcome", sort=False)[["n", "n_events"]].max().reindex(order_o)
    wide.loc["HPD events / evaluable"] = [
        "—" if pd.isna(e) else f"{count_label(int(e), k)} / {count_label(int(n), k)}"
        for n, e in zip(ev["n"], ev["n_events"], strict=True)
    ]
    wide = wide.reset_index()
    wide.columns.name = None
    return wide


def methods_text(params: Prediction | Parameters | Mapping[str, Any] | None = None) -> str:
    """The methods paragraph of the prediction part (Markdown), with every reference, in the
    parameters in force."""
    pp = _params(params)
    model = (
        "logistic regression with Firth's penalized likelihood (Firth, Biometrika 1993; "
        "Heinze & Schemper, Stat Med 2002), which keeps estimates finite under separation "
        "and reduces their small-sample bias"
        if pp.penalty == "firth"
        else f"ridge (L2-penalized) logistic regression (le Cessie & van Houwelingen, Appl Stat "
        f"1992; scikit-learn) on standardized predictors, inverse penalty C = {pp.ridge_c:g}"
    )
    return (
        f"**Methods.** The baseline predictors enter a {model}, fitted on complete cases (the "
        "patients left out are counted beside each model); booleans are 0/1, numbers enter per "
        "unit (integer scores such as ECOG as one trend) and skewed positive markers per "
        "doubling (log2), text columns as one indicator per level. Discrimination is the area under the "
        "ROC curve (AUC, c-statistic; the Mann–Whitney probability that a patient with HPD "
        "scores higher than one without, Hanley & McNeil, Radiology 1982) with a 95 % "
        f"percentile bootstrap CI ({pp.auc_replicates} stratified replicates, as pROC, Robin et "
        "al., BMC Bioinformatics 2011; DeLong's variance, Biometrics 1988, is given for single "
        f"markers, and replaces the bootstrap above {pp.max_bootstrap_patients} patients, where "
        "the optimism is not bootstrapped either). Calibration is the calibration slope and the calibration intercept "
        "(calibration-in-the-large) of a logistic recalibration on the linear predictor, and "
        "the Brier score (Brier, Mon Weather Rev 1950; Van Calster et al., J Clin Epidemiol "
        "2016; Steyerberg, Clinical Prediction Models 2019), with a calibration plot of grouped "
        "observed proportions (Wilson score CIs, Wilson, J Am Stat Assoc 1927) and a lowess "
        "smoother (Cleveland, J Am Stat Assoc 1979). Optimism is estimated by Harrell's bootstrap "
        f"({pp.optimism_replicates} replicates: refit in each bootstrap sample, optimism = "
        "performance in the sample minus performance on the original patients; Harrell, Lee & "
        "Mark, Stat Med 1996; as R's rms::validate) and subtracted from the apparent values; "
        "the corrected slope is the shrinkage the model would need. Events per parameter are "
        "shown beside each model (at least 10 advised: Peduzzi et al., J Clin Epidemiol 1996; "
        "Riley et al., BMJ 2020). Clinical scores: Royal Marsden Hospital score (Arkenau et al., "
        "Br J Cancer 2008; J Clin Oncol 2009) and Lung Immune Prognostic Index (Mezquita et al., "
        "JAMA Oncol 2018). Reporting follows TRIPOD (Collins et al., BMJ 2015) where it applies "
        "to an internally validated model (type 1b). "
        f"All bootstraps use seed {pp.seed}."
    )


def tripod_table() -> pd.DataFrame:
    """:data:`TRIPOD_ITEMS` as a table: ``item, topic, where``."""
    return pd.DataFrame(TRIPOD_ITEMS, columns=["item", "topic", "where in this section"])


# --------------------------------------------------------------------------- report glue
def section_data(section: Any) -> pd.DataFrame:
    """The risk-factor section's patients (``section.data``: classification + patient columns)
    with the derived factors and scores (:func:`hpd_analysis.riskfactors.derive_risk_factors`)
    and, when the cohort has a biomarkers table, each marker's baseline value and early change
    (:func:`hpd_analysis.biomarkers.biomarker_predictors`, markers
    ``prediction.early_change_markers``). One row per patient, input order."""
    from .biomarkers import biomarker_predictors
    from .riskfactors import derive_risk_factors

    data = derive_risk_factors(section.data)
    bio = getattr(section.cohort, "biomarkers", None)
    if bio is not None and len(bio):
        pp = section.params.prediction
        extra = biomarker_predictors(
            bio, section.cohort.patients, pp.early_change_markers, params=section.params
        )
        extra = extra[
            [
                "patient_id",
                *[c for c in extra.columns if c != "patient_id" and c not in data.columns],
            ]
        ]
        data = data.astype({"patient_id": str}).merge(
            extra, on="patient_id", how="left", validate="one_to_one"
        )
    return data


def evaluable_outcomes(section: Any) -> list[str]:
    """Definitions of the section (report order) with patients both with and without HPD."""
    from .incidence import hpd_status

    out = []
    for code in section.codes:
        st = hpd_status(section.classification, code)
        if st.eq("hpd").any() and st.eq("not_hpd").any():
            out.append(code)
    return out
