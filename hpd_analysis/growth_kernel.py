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


def batch_lm(
    model: ModelFn,
    t: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    theta0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
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
    rss = np.empty(b)
    converged = np.zeros(b, dtype=bool)
    n_iter = np.zeros(b, dtype=np.int64)
    budget = np.iinfo(np.int64).max if max_nfev is None else max_nfev
    eye = np.eye(p)

    with np.errstate(over="ignore", invalid="ignore"):
        # work arrays of the rows still running (idx: their rows in the output)
        idx = np.arange(b)
        ta, ya, ma = t, y, mask
        th = theta.copy()
        pred, ja = _masked(*model(ta, th), ma)
        ra = np.where(ma, ya - pred, 0.0)
        cost = np.einsum("bn,bn->b", ra, ra)
        rss[:] = cost
        la = np.full(b, lambda0)
        nu = np.full(b, 2.0)
        dn = np.sqrt(np.einsum("bni,bni->bi", ja, ja))  # MINPACK's scaling D (mode 1)
        dn = np.where(dn > 0, dn, 1.0)
        delta = factor * np.sqrt(np.einsum("bi,bi->b", dn * th, dn * th))
        delta = np.where(delta > 0, delta, factor)
        nf = np.full(b, 1 + p, dtype=np.int64)  # the start point and its Jacobian
        live = np.ones(b, dtype=bool)
        for it in range(max_iter):
            if not live.any():
                break
            if live.mean() < 0.8:  # compact the work arrays
                keep = np.flatnonzero(live)
                idx, ta, ya, ma, th, ja, ra = (
                    idx[keep],
                    ta[keep],
                    ya[keep],
                    ma[keep],
                    th[keep],
                    ja[keep],
                    ra[keep],
                )
                cost, la, nu, nf, live = cost[keep], la[keep], nu[keep], nf[keep], live[keep]
                dn, delta = dn[keep], delta[keep]
            jt = ja.transpose(0, 2, 1)
            jtj = jt @ ja
            jtr = (jt @ ra[..., None])[..., 0]  # = -gradient of RSS/2
            fixed = ((th <= lo) & (jtr < 0)) | ((th >= hi) & (jtr > 0))
            diag = np.maximum(np.einsum("bii->bi", jtj), 1e-300)
            a = jtj + (la[:, None] * diag)[:, :, None] * eye
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
            pnorm = np.sqrt(np.einsum("bi,bi->b", dn * step, dn * step))
            step = (
                step
                * np.where(pnorm > delta, delta / np.where(pnorm > 0, pnorm, 1.0), 1.0)[:, None]
            )
            trial = np.clip(th + step, lo, hi)
            step = trial - th
            tp, tj = _masked(*model(ta, trial), ma)
            tr = np.where(ma, ya - tp, 0.0)
            tcost = np.einsum("bn,bn->b", tr, tr)
            predicted = 2.0 * np.einsum("bi,bi->b", step, jtr) - np.einsum(
                "bi,bij,bj->b", step, jtj, step
            )
            rho = np.where(predicted > 0, (cost - tcost) / predicted, 0.0)
            # MINPACK's acceptance: the RSS falls by at least 1e-4 of the predicted fall (a step
            # clipped to a corner of the box can lower the RSS a little and strand the fit there)
            ok = live & np.isfinite(tcost) & (tcost < cost) & (rho >= 1e-4)
            small_f = (cost - tcost) <= ftol * cost
            small_x = np.all(np.abs(step) <= xtol * (np.abs(th) + xtol), axis=1)
            no_step = np.all(step == 0.0, axis=1)
            th = np.where(ok[:, None], trial, th)
            ra = np.where(ok[:, None], tr, ra)
            ja = np.where(ok[:, None, None], tj, ja)
            newcost = np.where(ok, tcost, cost)
            la = np.where(ok, la * np.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), la * nu)
            nu = np.where(ok, 2.0, nu * 2.0)
            taken = np.sqrt(np.einsum("bi,bi->b", dn * step, dn * step))
            delta = np.where(
                rho < 0.25,
                0.5 * np.minimum(delta, 10.0 * taken),
                np.where(rho > 0.75, np.maximum(delta, 2.0 * taken), delta),
            )
            delta = np.maximum(delta, 1e-300)
            dn = np.where(
                ok[:, None], np.maximum(dn, np.sqrt(np.einsum("bni,bni->bi", tj, tj))), dn
            )
            n_iter[idx[live]] = it + 1
            nf += live * (1 + p * ok)
            done = live & ((ok & (small_f | small_x)) | no_step | (la > 1e16))
            theta[idx[live]] = th[live]
            rss[idx[live]] = newcost[live]
            converged[idx[done]] = True
            cost = newcost
            live = live & ~done & (nf < budget)
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
