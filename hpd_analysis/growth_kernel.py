"""Batch kernels of the growth-model fits (:mod:`hpd_analysis.growth`): many patients at once.

Every patient's measurements sit in one row of a padded ``(B, N)`` array (``mask`` marks the real
points), so one numpy operation advances the fit of every patient. Two kernels:

- :func:`batch_lm`: bound-constrained Levenberg–Marquardt least squares (box ``[lower, upper]``),
  one damping factor per patient; a parameter sitting on a bound with the gradient pushing
  outwards is held fixed for that step (projected LM), every trial point is clipped to the box.
- :func:`batch_inference`: at the solution, the rank of the Jacobian (the QR rank rule of R's
  ``nls``: a column whose norm, after removing the earlier full-rank columns, is below ``1e-7`` of
  its own norm is deficient), the residual variance, standard errors, t statistics, two-sided
  p-values and the Gaussian log-likelihood of R's ``logLik.nls``.

They are tested equal to per-patient :func:`scipy.optimize.least_squares` fits (``tests/test_growth.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: A model: (t, theta) -> (prediction, Jacobian) with t (B, N), theta (B, P); returns (B, N) and
#: (B, N, P).
ModelFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LMResult:
    """Output of :func:`batch_lm` (one row per patient)."""

    theta: np.ndarray  #: (B, P) estimates
    rss: np.ndarray  #: (B,) residual sum of squares
    converged: np.ndarray  #: (B,) bool: a convergence test was met before ``max_iter``
    n_iter: np.ndarray  #: (B,) iterations used


def _masked(pred: np.ndarray, jac: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.where(mask, pred, 0.0)
    jac = np.where(mask[..., None], jac, 0.0)
    return pred, jac


@dataclass
class _LMRows:
    """Work arrays of the rows :func:`batch_lm` is still running (``idx``: their rows in the
    output): data, current estimate, its residuals, Jacobian and RSS, and the damping state."""

    idx: np.ndarray  #: (R,) rows of the output
    t: np.ndarray  #: (R, N) times
    y: np.ndarray  #: (R, N) data
    mask: np.ndarray  #: (R, N) real points
    theta: np.ndarray  #: (R, P) current estimate
    jac: np.ndarray  #: (R, N, P) Jacobian at theta (0 on padding)
    res: np.ndarray  #: (R, N) residuals y - prediction (0 on padding)
    cost: np.ndarray  #: (R,) RSS at theta
    lam: np.ndarray  #: (R,) Marquardt damping factor
    nu: np.ndarray  #: (R,) Nielsen's factor raising the damping after a rejected step
    scale: np.ndarray  #: (R, P) MINPACK's scaling D: largest column norms of J seen so far
    delta: np.ndarray  #: (R,) bound on the scaled step length |D·step|
    nfev: np.ndarray  #: (R,) model evaluations counted as MINPACK's lmdif counts them
    live: np.ndarray  #: (R,) bool: still running

    def compact(self) -> _LMRows:
        """The rows still running only."""
        keep = np.flatnonzero(self.live)
        return _LMRows(**{k: v[keep] for k, v in vars(self).items()})


def _lm_start(
    model: ModelFn,
    t: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray,
    theta: np.ndarray,
    lambda0: float,
    factor: float,
) -> _LMRows:
    """Every row at its start ``theta``: RSS, Jacobian, damping ``lambda0``, scaling D (column
    norms of J, 1 for a zero column) and step bound ``factor·|D·theta|`` (``factor`` when 0)."""
    b, p = theta.shape
    pred, jac = _masked(*model(t, theta), mask)
    res = np.where(mask, y - pred, 0.0)
    scale = np.sqrt(np.einsum("bni,bni->bi", jac, jac))  # MINPACK's scaling D (mode 1)
    scale = np.where(scale > 0, scale, 1.0)
    delta = factor * np.sqrt(np.einsum("bi,bi->b", scale * theta, scale * theta))
    return _LMRows(
        idx=np.arange(b),
        t=t,
        y=y,
        mask=mask,
        theta=theta,
        jac=jac,
        res=res,
        cost=np.einsum("bn,bn->b", res, res),
        lam=np.full(b, lambda0),
        nu=np.full(b, 2.0),
        scale=scale,
        delta=np.where(delta > 0, delta, factor),
        nfev=np.full(b, 1 + p, dtype=np.int64),  # the start point and its Jacobian
        live=np.ones(b, dtype=bool),
    )


def _lm_step(
    s: _LMRows, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The damped Gauss–Newton step of every row: solve ``(JᵀJ + λ·diag(JᵀJ)) step = Jᵀr`` with
    the parameters held on a bound (gradient pushing outwards) fixed, the step scaled down to the
    bound ``|D·step| ≤ delta`` (0 for rows no longer running). Returns ``(step, Jᵀr, JᵀJ)``."""
    p = lo.shape[0]
    eye = np.eye(p)
    th, live = s.theta, s.live
    jt = s.jac.transpose(0, 2, 1)
    jtj = jt @ s.jac
    jtr = (jt @ s.res[..., None])[..., 0]  # = -gradient of RSS/2
    fixed = ((th <= lo) & (jtr < 0)) | ((th >= hi) & (jtr > 0))
    diag = np.maximum(np.einsum("bii->bi", jtj), 1e-300)
    a = jtj + (s.lam[:, None] * diag)[:, :, None] * eye
    free = ~fixed
    a = a * (free[:, :, None] & free[:, None, :]) + fixed[:, :, None] * eye
    rhs = np.where(fixed, 0.0, jtr)
    bad = ~(np.isfinite(a).all(axis=(1, 2)) & np.isfinite(rhs).all(axis=1))
    a[bad], rhs[bad] = eye, 0.0
    try:
        step = np.linalg.solve(a, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a zero Jacobian column (exp underflow at a bound)
        step = (np.linalg.pinv(a) @ rhs[..., None])[..., 0]
    step = np.where(np.isfinite(step) & live[:, None], step, 0.0)
    dn, delta = s.scale, s.delta
    pnorm = np.sqrt(np.einsum("bi,bi->b", dn * step, dn * step))
    step = step * np.where(pnorm > delta, delta / np.where(pnorm > 0, pnorm, 1.0), 1.0)[:, None]
    return step, jtr, jtj


def _lm_iteration(
    model: ModelFn,
    s: _LMRows,
    lo: np.ndarray,
    *,
    hi: np.ndarray,
    ftol: float,
    xtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Levenberg–Marquardt iteration of every row of ``s`` (updated in place but ``cost``):
    the trial point (:func:`_lm_step`, clipped to the box) is accepted when it lowers the RSS by at
    least 1e-4 of the predicted fall (MINPACK); the damping follows Nielsen's update, the step
    bound MINPACK's. Returns ``(accepted, stop, new RSS)``, ``stop`` when an accepted step met
    ``ftol`` or ``xtol``, no step was possible, or the damping exceeds 1e16."""
    step, jtr, jtj = _lm_step(s, lo, hi)
    th, cost, dn = s.theta, s.cost, s.scale
    trial = np.clip(th + step, lo, hi)
    step = trial - th
    tp, tj = _masked(*model(s.t, trial), s.mask)
    tr = np.where(s.mask, s.y - tp, 0.0)
    tcost = np.einsum("bn,bn->b", tr, tr)
    predicted = 2.0 * np.einsum("bi,bi->b", step, jtr) - np.einsum("bi,bij,bj->b", step, jtj, step)
    rho = np.where(predicted > 0, (cost - tcost) / predicted, 0.0)
    # MINPACK's acceptance: the RSS falls by at least 1e-4 of the predicted fall (a step
    # clipped to a corner of the box can lower the RSS a little and strand the fit there)
    ok = s.live & np.isfinite(tcost) & (tcost < cost) & (rho >= 1e-4)
    small_f = (cost - tcost) <= ftol * cost
    small_x = np.all(np.abs(step) <= xtol * (np.abs(th) + xtol), axis=1)
    no_step = np.all(step == 0.0, axis=1)
    s.theta = np.where(ok[:, None], trial, th)
    s.res = np.where(ok[:, None], tr, s.res)
    s.jac = np.where(ok[:, None, None], tj, s.jac)
    newcost = np.where(ok, tcost, cost)
    s.lam = np.where(ok, s.lam * np.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), s.lam * s.nu)
    s.nu = np.where(ok, 2.0, s.nu * 2.0)
    taken = np.sqrt(np.einsum("bi,bi->b", dn * step, dn * step))
    delta = np.where(
        rho < 0.25,
        0.5 * np.minimum(s.delta, 10.0 * taken),
        np.where(rho > 0.75, np.maximum(s.delta, 2.0 * taken), s.delta),
    )
    s.delta = np.maximum(delta, 1e-300)
    s.scale = np.where(ok[:, None], np.maximum(dn, np.sqrt(np.einsum("bni,bni->bi", tj, tj))), dn)
    stop = (ok & (small_f | small_x)) | no_step | (s.lam > 1e16)
    return ok, stop, newcost


def batch_lm(
    model: ModelFn,
    t: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray,
    theta0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    max_iter: int = 1000,
    max_nfev: int | None = 1000,
    ftol: float = 1e-12,
    xtol: float = 1e-10,
    lambda0: float = 1e-3,
    factor: float = 0.01,
) -> LMResult:
    """Minimise ``sum(mask * (y - model(t, theta))**2)`` for every row, within ``[lower, upper]``.

    ``t``, ``y``: (B, N) padded arrays (padding ignored through ``mask``); ``theta0``: (B, P) or
    (P,) start; ``lower``/``upper``: (P,) bounds. Damping: Marquardt's scaled ``lambda·diag(JᵀJ)``
    with Nielsen's update (accepted step: ``lambda·max(1/3, 1 - (2ρ - 1)³)``, ρ = actual /
    predicted reduction; rejected: ``lambda·nu``, nu doubling). As in MINPACK's ``lmdif`` the
    step is also bounded: its scaled length ``|D·step|`` (D the largest column norms of J seen so
    far) is at most delta, first ``factor·|D·theta0|`` (tumgr's ``factor = 0.01``), halved after
    a poor step (ρ < 0.25) and raised to twice the step length after a good one (ρ > 0.75); a step
    is accepted when it lowers the RSS by at least 1e-4 of the predicted reduction. Without the
    bound a first long step clipped to a corner of the box can strand a fit there. A row stops
    when an accepted step lowers the RSS by at most ``ftol`` relatively or moves every parameter by at most ``xtol``
    relatively (the two tests of MINPACK's ``lmdif``), or when no step can lower the RSS any more
    (damping above 1e16). ``converged`` is False for rows still running after ``max_iter``
    iterations or ``max_nfev`` model evaluations, counted as MINPACK's ``lmdif`` counts them
    (tumgr's budget ``maxfev = 1000``): one per trial point, plus P per Jacobian (forward
    differences: one at the start and one after each accepted step). Finished rows leave the work
    arrays, so the cost follows the rows still running.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    b, _ = t.shape
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    p = lo.shape[0]
    theta = np.clip(np.broadcast_to(np.asarray(theta0, dtype=float), (b, p)).copy(), lo, hi)
    converged = np.zeros(b, dtype=bool)
    n_iter = np.zeros(b, dtype=np.int64)
    budget = np.iinfo(np.int64).max if max_nfev is None else max_nfev

    with np.errstate(over="ignore", invalid="ignore"):
        s = _lm_start(model, t, y, mask=mask, theta=theta.copy(), lambda0=lambda0, factor=factor)
        rss = s.cost.copy()
        for it in range(max_iter):
            if not s.live.any():
                break
            if s.live.mean() < 0.8:  # finished rows leave the work arrays
                s = s.compact()
            ok, stop, newcost = _lm_iteration(model, s, lo, hi=hi, ftol=ftol, xtol=xtol)
            live = s.live
            n_iter[s.idx[live]] = it + 1
            s.nfev += live * (1 + p * ok)
            done = live & stop
            theta[s.idx[live]] = s.theta[live]
            rss[s.idx[live]] = newcost[live]
            converged[s.idx[done]] = True
            s.cost = newcost
            s.live = live & ~done & (s.nfev < budget)
    return LMResult(theta=theta, rss=rss, converged=converged, n_iter=n_iter)


@dataclass(frozen=True)
class Inference:
    """Output of :func:`batch_inference` (one row per patient)."""

    full_rank: np.ndarray  #: (B,) bool: the Jacobian at the estimate has full column rank
    se: np.ndarray  #: (B, P) standard errors (NaN when rank deficient)
    t_value: np.ndarray  #: (B, P) estimate / standard error
    p_value: np.ndarray  #: (B, P) two-sided p-value of Student's t with n - P df
    loglik: np.ndarray  #: (B,) Gaussian log-likelihood at the estimate (R's logLik.nls)


#: relative RSS (RSS / sum of y²) at or below which a fit is perfect and has no standard errors
PERFECT_FIT_RSS: float = 1e-20


def _qr_rank_ok(jac: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Full column rank by R's ``qr`` rule (LINPACK dqrdc2, tolerance ``tol``), row by row.

    Columns are taken in order; each is orthogonalised against the earlier accepted columns and is
    deficient when its remaining norm is below ``tol`` times its original norm (a zero column is
    deficient). Returns (B,) bool: no deficient column.
    """
    b, _, p = jac.shape
    basis: list[np.ndarray] = []
    ok = np.ones(b, dtype=bool)
    for j in range(p):
        v = jac[:, :, j].copy()
        norm0 = np.sqrt(np.einsum("bn,bn->b", v, v))
        for q in basis:
            v = v - np.einsum("bn,bn->b", q, v)[:, None] * q
        norm = np.sqrt(np.einsum("bn,bn->b", v, v))
        good = (norm0 > 0) & (norm >= tol * norm0)
        ok &= good
        basis.append(np.where(good[:, None], v / np.where(norm > 0, norm, 1.0)[:, None], 0.0))
    return ok


def batch_inference(
    model: ModelFn,
    t: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray,
    theta: np.ndarray,
) -> Inference:
    """Standard errors, t and p-values and log-likelihood at ``theta`` (as R's ``summary.nls``).

    Residual variance ``s² = RSS / (n - P)``, covariance ``s² (JᵀJ)⁻¹`` with the analytic Jacobian
    ``J``, p-value ``2·P(T_{n-P} > |t|)``; log-likelihood ``-n/2·(log 2π + 1 - log n + log RSS)``.
    Rows whose Jacobian is rank deficient (see :func:`_qr_rank_ok`) get NaN statistics: R's
    ``nls`` refuses such a fit ("singular gradient"). So do perfect fits (RSS at most
    :data:`PERFECT_FIT_RSS` times the sum of squared data): their standard errors are 0 / 0.
    """
    from scipy.special import stdtr

    mask = np.asarray(mask, dtype=bool)
    b, p = theta.shape
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pred, jac = _masked(*model(t, theta), mask)
        res = np.where(mask, y - pred, 0.0)
        rss = np.einsum("bn,bn->b", res, res)
        n = mask.sum(axis=1).astype(float)
        df = n - p
        full = _qr_rank_ok(jac) & np.all(np.isfinite(jac), axis=(1, 2)) & (df > 0)
        jtj = np.einsum("bni,bnj->bij", jac, jac)
        jtj = np.where(full[:, None, None], jtj, np.eye(p))
        cov = np.linalg.inv(jtj) * (rss / np.where(df > 0, df, np.nan))[:, None, None]
        se = np.sqrt(np.einsum("bii->bi", cov))
        # a perfect fit (residual variance 0 up to rounding: constant data fitted by a zero rate)
        # has no standard errors; R gives NaN p-values there (0 / 0)
        perfect = rss <= PERFECT_FIT_RSS * np.einsum(
            "bn,bn->b", np.where(mask, y, 0.0), np.where(mask, y, 0.0)
        )
        se = np.where((full & ~perfect)[:, None], se, np.nan)
        tval = theta / se
        pval = 2.0 * stdtr(np.where(df > 0, df, np.nan)[:, None], -np.abs(tval))
        loglik = -0.5 * n * (np.log(2 * np.pi) + 1.0 - np.log(n) + np.log(rss))
    return Inference(full_rank=full, se=se, t_value=tval, p_value=pval, loglik=loglik)
