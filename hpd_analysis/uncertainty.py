"""How far to trust a verdict: a seeded re-read model of the tumour measurements.

A second reader (or the same one, another day) would not measure the same diameters. The model
re-measures every diameter that enters the three sums of the kinetic analysis (pre-baseline,
baseline, first evaluation; :func:`hpd_analysis.timepoints.target_measurements`) as

    d' = d · exp(sd · z),   z ~ N(0, 1), independent per lesion and scan,

with ``sd`` the log-scale spread of :class:`hpd_analysis.params.Uncertainty` (default 0.121: the
pooled 95 % limits of agreement between observers for single-lesion longest diameters, Yoon et
al., Eur J Cancer 2016; lymph nodes by their short axis, optionally their own spread; optionally
one spread per organ; per-scan sums, when no lesion table is given, with the spread of a sum).
Everything else the reader recorded is kept: dates, new lesions, non-target progression, death,
ECOG, TTF, and which lesions are targets.

Each re-read is a pseudo-patient: the re-read SLDs replace the published ones, RECIST at the
first evaluation (target response from the re-read sums; new lesions and non-target progression
as recorded), the SLD change and the kinetics (:func:`hpd_analysis.kinetics.compute_kinetics`)
are recomputed, and the registry's definitions (:func:`hpd_analysis.definitions.verdict_columns`)
classify all re-reads at once, in blocks of pseudo-patients. The same seed gives the same
re-reads, hence byte-identical tables.

Outputs: per patient and definition ``hpd_<code>_prob`` (share of the N re-reads in which the
patient is HPD; NaN where no re-read is evaluable), and per definition the expected incidence with
its re-read interval and the self-agreement (Jaccard, Cohen's kappa) between the published
verdicts and each re-read (:func:`reread_summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cohort import Cohort
from .definitions import Definition, verdict_columns
from .errors import ParameterError
from .kinetics import SCAN_REASON_COLUMNS, ColumnValues, isna, kinetic_columns, to_numpy
from .params import Parameters, Uncertainty
from .recist import meets_pd

#: re-reads in the report when ``uncertainty.rereads`` is not set (None)
REPORT_REREADS = 200
#: pseudo-patients classified together (memory bound: about 1 kB per pseudo-patient)
BLOCK_ROWS = 400_000

_SLD_COLUMNS = ("sld_prebaseline_mm", "sld_baseline_mm", "sld_first_eval_mm")
#: what the kinetics read besides the SLDs (kinetics.compute_kinetics)
_KINETIC_INPUTS = (
    "days_pre_to_baseline",
    "days_baseline_to_first_eval",
    "prebaseline_date",
    "baseline_date",
    "first_eval_date",
    *SCAN_REASON_COLUMNS,
    "death_day",
    "pfs_event",
)
_RECIST_INPUTS = (
    "recist_first_eval",
    "recist_first_eval_reason",
    "target_response_first_eval",
    "non_target_pd_first_eval",
    "new_lesions_first_eval",
    "sld_change_first_eval_reason",
)


def rereads_in_force(params: Parameters, default: int = 0) -> int:
    """Number of re-reads to run: ``params.uncertainty.rereads``, or ``default`` when it is not set
    (0 in ``hpd classify``, :data:`REPORT_REREADS` in the report)."""
    n = params.uncertainty.rereads
    return int(default if n is None else n)


def measurement_spreads(meas: pd.DataFrame, unc: Uncertainty) -> np.ndarray:
    """Log-scale SD of each measurement row (:func:`~hpd_analysis.timepoints.target_measurements`):
    the organ's spread when ``organ_spread`` names its organ, else the node spread for a lymph
    node, else ``spread``; ``sum_spread`` for per-scan sums."""
    sd = np.full(len(meas), float(unc.spread))
    if unc.node_spread is not None:
        sd[meas["is_lymph_node"].to_numpy(dtype=bool)] = float(unc.node_spread)
    organs = unc.organ_spreads()
    if organs:
        org = meas["organ"].to_numpy(dtype=object)
        for name, value in organs.items():
            sd[org == name] = value
    sd[meas["is_sum"].to_numpy(dtype=bool)] = float(unc.sum_spread)
    return sd


def _columns_needed(defs: list[Definition], available: Iterable[str]) -> list[str]:
    """Feature columns the definitions (atoms, requirements, their reasons) and the kinetics
    read, among ``available``."""
    need: set[str] = set(_KINETIC_INPUTS) | set(_RECIST_INPUTS) | set(_SLD_COLUMNS)
    for d in defs:
        atoms, _, reqs = d.compile()
        for a in atoms + reqs:
            need.add(a.column)
            if a.reason_column:
                need.add(a.reason_column)
    avail = list(available)
    return [c for c in avail if c in need]


def _tile(values: Any, reps: int) -> Any:
    """``values`` repeated ``reps`` times end to end (numpy or pandas extension array)."""
    if isinstance(values, pd.Series):
        values = (
            values.array
            if isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
            else values.to_numpy()
        )
    if isinstance(values, np.ndarray):
        return np.tile(values, reps)
    n = len(values)
    return values.take(np.tile(np.arange(n), reps))


def _reread_recist(
    s0: np.ndarray,
    s1: np.ndarray,
    base: Mapping[str, Any],
    *,
    reps: int,
    new_unknown_is_ne: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """RECIST 1.1 at the first evaluation from re-read sums (mm) ``s0`` (baseline) and ``s1``
    (first evaluation), tiled over ``reps`` re-reads of the base features: PD when new lesions
    or non-target progression were recorded, or when the re-read target sum rises >= 20 % and
    >= 5 mm (nadir = baseline); else CR kept where the published target response was CR (0 mm
    stays 0 mm), PR at a >= 30 % decrease, else SD. Where either sum is unknown the published
    response and its reason stay. New lesions not recorded (``new_unknown_is_ne``, the default
    rule ``rules.new_lesions_when_unrecorded=unknown``): PD when the re-read sums give it, else
    NE. Returns (response, reason) object arrays."""
    rec = _tile(to_numpy(base["recist_first_eval"], object, None), reps)
    reason = _tile(to_numpy(base["recist_first_eval_reason"], object, None), reps)
    n = len(rec) // reps
    new_unknown = (
        isna(base["new_lesions_first_eval"])
        if "new_lesions_first_eval" in base
        else np.ones(n, dtype=bool)
    ) & new_unknown_is_ne
    new_unknown = _tile(new_unknown, reps)
    ok = ~np.isnan(s0) & ~np.isnan(s1) & ~isna(rec) & ((rec != "NE") | new_unknown)
    if not ok.any():
        return rec, reason
    ntpd = (
        to_numpy(base["non_target_pd_first_eval"], float, np.nan) == 1
        if "non_target_pd_first_eval" in base
        else np.zeros(len(rec) // reps, dtype=bool)
    )
    newl = (
        to_numpy(base["new_lesions_first_eval"], float, np.nan) > 0
        if "new_lesions_first_eval" in base
        else np.zeros(len(rec) // reps, dtype=bool)
    )
    other_pd = _tile(ntpd | newl, reps)
    tgt = base["target_response_first_eval"] if "target_response_first_eval" in base else None
    was_cr = (
        _tile(to_numpy(tgt, object, None) == "CR", reps)
        if tgt is not None
        else np.zeros(len(rec), dtype=bool)
    )
    size_pd = meets_pd(s1, s0)
    with np.errstate(invalid="ignore"):
        pr = s1 - s0 <= -0.3 * s0
    new = np.where(
        other_pd | size_pd,
        "PD",
        np.where(rec == "CR", "CR", np.where(was_cr, rec, np.where(pr, "PR", "SD"))),
    ).astype(object)
    new[new_unknown & (new != "PD")] = "NE"  # without new-lesion data only PD is known
    out = rec.copy()
    out[ok] = new[ok]
    changed = ok & (out != rec)
    reason = reason.copy()
    reason[changed] = "re-read"
    return out, reason


@dataclass(frozen=True)
class Rereads:
    """Verdicts of N re-reads: ``verdicts[code]`` int8 array (N, patients), 1 HPD, 0 not HPD,
    −1 not evaluable; ``published[code]`` the published verdicts (patients,)."""

    n_rereads: int
    seed: int
    verdicts: dict[str, np.ndarray]
    published: dict[str, np.ndarray]


def _codes_of(values: Any) -> np.ndarray:
    """Verdict codes (1 / 0 / −1) of an ``hpd_<code>`` column (nullable boolean)."""
    arr = pd.array(values, dtype="boolean")
    return np.where(
        np.asarray(arr.isna()), -1, arr.to_numpy(dtype=bool, na_value=False).astype(np.int8)
    ).astype(np.int8)


def simulate_rereads(
    cohort: Cohort,
    definitions: Iterable[Definition],
    params: Parameters,
    *,
    n_rereads: int | None = None,
    features: ColumnValues | pd.DataFrame | None = None,
) -> Rereads:
    """Classify ``n_rereads`` (default: ``params.uncertainty.rereads``) seeded re-reads of every
    patient under ``definitions``; see the module docstring. ``features``: the feature columns
    already built by :func:`hpd_analysis.classification.build_features` (else built here)."""
    from .classification import FeatureView, feature_values
    from .timepoints import target_measurements

    defs = list(definitions)
    unc = params.uncertainty
    n_r = rereads_in_force(params) if n_rereads is None else int(n_rereads)
    if n_r < 0:
        raise ParameterError(f"uncertainty.rereads={n_r}: expected >= 0")
    if features is None:
        features = feature_values(cohort, params)
    base = features if isinstance(features, ColumnValues) else ColumnValues(features)
    n = base.n_rows
    published = {
        d.code: _codes_of(verdict_columns(FeatureView(base), [d])[f"hpd_{d.code}"]) for d in defs
    }
    verdicts = {d.code: np.full((n_r, n), -1, dtype=np.int8) for d in defs}
    if n_r == 0 or n == 0:
        return Rereads(n_r, unc.seed, verdicts, published)
    meas = target_measurements(cohort, params)
    row = meas["row"].to_numpy(dtype=np.int64)
    slot = meas["slot"].to_numpy(dtype=np.int64)
    diam = meas["diameter_mm"].to_numpy(dtype=float)
    sd = measurement_spreads(meas, unc)
    pos = row * 3 + slot
    published_sld = np.stack([to_numpy(base[c], float, np.nan) for c in _SLD_COLUMNS], axis=1)
    known = ~np.isnan(published_sld)
    cols = _columns_needed(defs, base)
    rng = np.random.default_rng(unc.seed)
    block = max(1, min(n_r, BLOCK_ROWS // max(n, 1)))
    for start in range(0, n_r, block):
        reps = min(block, n_r - start)
        z = rng.standard_normal((reps, len(diam)))
        weights = diam * np.exp(sd * z)
        key = (np.arange(reps, dtype=np.int64)[:, None] * (3 * n) + pos).ravel()
        sld_rpn = np.bincount(key, weights=weights.ravel(), minlength=reps * n * 3)
        sld_rpn = sld_rpn.reshape(reps, n, 3)  # replicate x patient x (pre, baseline, first eval)
        del z, weights, key
        sld_rpn[:, ~known] = np.nan
        sld = sld_rpn.reshape(reps * n, 3)
        frame = {c: _tile(base[c], reps) for c in cols if c not in _SLD_COLUMNS}
        s_pre, s0, s1 = sld[:, 0].copy(), sld[:, 1].copy(), sld[:, 2].copy()
        frame.update({"sld_prebaseline_mm": s_pre, "sld_baseline_mm": s0, "sld_first_eval_mm": s1})
        chg = s1 - s0
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(s0 > 0, 100.0 * chg / s0, np.nan)
        frame["sld_change_first_eval_mm"] = chg
        frame["sld_pct_change_first_eval"] = pct
        frame["recist_first_eval"], frame["recist_first_eval_reason"] = _reread_recist(
            s0,
            s1,
            base,
            reps=reps,
            new_unknown_is_ne=params.rules.new_lesions_when_unrecorded == "unknown",
        )
        values = ColumnValues(pd.DataFrame(frame, copy=False))
        values = values.with_columns(kinetic_columns(values, params))
        res = verdict_columns(FeatureView(values), defs)
        for d in defs:
            verdicts[d.code][start : start + reps] = _codes_of(res[f"hpd_{d.code}"]).reshape(
                reps, n
            )
    return Rereads(n_r, unc.seed, verdicts, published)


def reread_probabilities(rereads: Rereads) -> pd.DataFrame:
    """``hpd_<code>_prob`` per definition: share of the N re-reads in which the patient is HPD
    (0–1; NaN where no re-read is evaluable), one row per patient."""
    out: dict[str, np.ndarray] = {}
    for code, v in rereads.verdicts.items():
        n_hpd = (v == 1).sum(axis=0)
        n_eval = (v >= 0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"hpd_{code}_prob"] = np.where(
                n_eval > 0, n_hpd / max(rereads.n_rereads, 1), np.nan
            )
    n = len(next(iter(rereads.published.values()))) if rereads.published else 0
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _agreement_counts(pub: np.ndarray, rr: np.ndarray) -> tuple[np.ndarray, ...]:
    """2 x 2 counts per re-read among the patients evaluable under both: (both HPD, published
    only, re-read only, neither)."""
    both_eval = (pub >= 0)[None, :] & (rr >= 0)
    p1 = (pub == 1)[None, :]
    r1 = rr == 1
    a = (both_eval & p1 & r1).sum(axis=1)
    b = (both_eval & p1 & ~r1).sum(axis=1)
    c = (both_eval & ~p1 & r1).sum(axis=1)
    d = (both_eval & ~p1 & ~r1).sum(axis=1)
    return a, b, c, d


def reread_summary(rereads: Rereads, level: float = 0.95) -> pd.DataFrame:
    """Per definition: the published incidence, the expected incidence over the re-reads with
    its re-read interval (central ``level`` share of the re-reads' incidences), and the
    self-agreement between the published verdicts and each re-read.

    Columns: ``definition, n_rereads, n_hpd, n_evaluable, percent`` (published), ``expected_percent``
    (mean over re-reads of 100 · HPD / evaluable), ``interval_low, interval_high`` (percentiles),
    ``jaccard`` (mean over re-reads of both HPD / either HPD, among patients evaluable in both
    the published read and the re-read; NaN for a re-read where nobody is HPD in either),
    ``jaccard_low, jaccard_high``, ``kappa`` (mean Cohen's kappa on the same patients),
    ``kappa_low, kappa_high``, ``changed_mean`` (mean number of evaluable-in-both patients whose
    verdict flips), ``n_uncertain`` (patients HPD in some re-reads and not HPD in others).
    """
    lo, hi = 50 * (1 - level), 50 * (1 + level)
    rows = []
    for code, rr in rereads.verdicts.items():
        pub = rereads.published[code]
        n_hpd = int((pub == 1).sum())
        n_eval = int((pub >= 0).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            inc = 100.0 * (rr == 1).sum(axis=1) / (rr >= 0).sum(axis=1)
            a, b, c, d = (x.astype(float) for x in _agreement_counts(pub, rr))
            jac = a / (a + b + c)
            tot = a + b + c + d
            po = (a + d) / tot
            pe = ((a + b) * (a + c) + (c + d) * (b + d)) / tot**2
            kappa = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)

        def stat(x: np.ndarray) -> tuple[float, float, float]:
            x = x[~np.isnan(x)]
            if not len(x):
                return np.nan, np.nan, np.nan
            return (float(x.mean()), float(np.percentile(x, lo)), float(np.percentile(x, hi)))

        e, e_lo, e_hi = stat(inc)
        j, j_lo, j_hi = stat(jac)
        k, k_lo, k_hi = stat(kappa)
        hpd_any = (rr == 1).any(axis=0)
        not_any = (rr == 0).any(axis=0)
        rows.append(
            {
                "definition": code,
                "n_rereads": rereads.n_rereads,
                "n_hpd": n_hpd,
                "n_evaluable": n_eval,
                "percent": 100.0 * n_hpd / n_eval if n_eval else np.nan,
                "expected_percent": e,
                "interval_low": e_lo,
                "interval_high": e_hi,
                "jaccard": j,
                "jaccard_low": j_lo,
                "jaccard_high": j_hi,
                "kappa": k,
                "kappa_low": k_lo,
                "kappa_high": k_hi,
                "changed_mean": float((b + c).mean()) if len(b) else np.nan,
                "n_uncertain": int((hpd_any & not_any).sum()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "definition",
            "n_rereads",
            "n_hpd",
            "n_evaluable",
            "percent",
            "expected_percent",
            "interval_low",
            "interval_high",
            "jaccard",
            "jaccard_low",
            "jaccard_high",
            "kappa",
            "kappa_low",
            "kappa_high",
            "changed_mean",
            "n_uncertain",
        ],
    )
