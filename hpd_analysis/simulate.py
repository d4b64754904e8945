"""Seeded simulation of immunotherapy cohorts in the contract format (patients + lesions).

``simulate_cohort(n_patients, seed)`` draws a synthetic cohort of patients treated with an immune
checkpoint inhibitor, with a known (latent) tumour-kinetic group per patient:

- ``hyperprogressor``: growth accelerates sharply after the first dose (diameter growth rate
  several times the pre-treatment rate), often with new lesions, worse ECOG, a short time to
  treatment failure and early death;
- ``progressor``: keeps growing at about the pre-treatment rate (slow progression);
- ``stable``: growth stops after the first dose, until acquired resistance;
- ``responder``: lesions shrink to a nadir, then plateau until acquired resistance;
- ``pseudoprogressor``: lesions rise at first, then shrink.

The hyperprogressor probability follows a logistic model in the risk factors the literature
reports (Lin et al., Transl Lung Cancer Res 2021, Table 2): age >= 65, > 2 metastatic sites, liver
metastasis, LDH above the upper limit of normal, high neutrophil-to-lymphocyte ratio, ECOG, MDM2
amplification, EGFR alteration, locoregional recurrence and prior radiotherapy. Sex and PD-L1 TPS
are simulated without any effect on HPD (PD-L1 raises the chance of response). Patients are
randomised 1:1 to ``arm`` "ICI monotherapy" or "ICI + chemotherapy"; the combination arm has
lower odds of hyperprogression and higher odds of response (a simulation choice, so that a report
grouped by arm shows a difference). ``treatment`` names the checkpoint inhibitor.

Tumour size model (per lesion, diameters in mm, time ``t`` in months from ``treatment_start``)::

    d_j(t) = d_j(t_baseline) * exp(f(t) - f(t_baseline) + h_j * (t - t_baseline) + e_jt)

``f`` is the patient's log-diameter trajectory: ``g_pre * t`` before the first dose, a piecewise
linear function of ``t`` with group-specific slopes after it; ``h_j`` a small lesion-specific rate;
``e_jt`` measurement noise. The sum of diameters therefore grows exponentially at rate ``g`` per
month and the TGR of Ferté et al. (``100 * (exp(3 g) - 1)`` % per month) of each period follows
from ``g``. RECIST progression, treatment end (TTF), progression date (PFS), death and last contact
(OS, administrative censoring at ``data_cutoff``) are derived from the simulated scans and the
latent group, so the endpoints are linked to the kinetics.

Scans: a pre-baseline scan 2 weeks to 6 months before baseline (missing for ``p_no_prebaseline``
of the patients), a baseline scan 0-6 weeks before the first dose, then on-treatment scans (first
at 6-8 weeks, every 6-9 weeks in the first year, less often later) while the patient is alive,
followed and not progressing (or until confirmed progression for those treated beyond it). The
lesion table records the first ``max_on_treatment_scans`` on-treatment scans (default 4, which
keeps a million-patient cohort near 12 lesion rows per patient); progression on a later scan is
still decided by the model (sum of diameters, new lesions, non-target progression) and gives
``progression_date`` and ``treatment_end``.

The latent truth is not part of the contract tables. ``simulate_cohort(..., include_truth=True)``
adds a third table ``truth`` (``patient_id, sim_latent_group, sim_g_pre_per_month,
sim_g_on_per_month``) for validating definitions; the same seed gives the same cohort with or
without it.

Everything is vectorized over patients, lesions and scans (numpy arrays, no per-patient Python
loop): a million patients simulate in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ParameterError
from .params import DAYS_PER_MONTH, NS_PER_DAY

__all__ = [
    "GROUPS",
    "ORGANS",
    "TUMOR_TYPES",
    "SimulationOptions",
    "simulate_cohort",
    "write_cohort",
]

#: latent tumour-kinetic groups (codes 0..4 in this order)
GROUPS: tuple[str, ...] = (
    "responder",
    "stable",
    "progressor",
    "hyperprogressor",
    "pseudoprogressor",
)
_RESP, _STAB, _PROG, _HYPER, _PSEUDO = range(5)

#: tumour types and their default share of the cohort
TUMOR_TYPES: dict[str, float] = {
    "NSCLC": 0.40,
    "melanoma": 0.15,
    "HNSCC": 0.12,
    "renal": 0.10,
    "urothelial": 0.13,
    "gastric": 0.10,
}

#: lesion sites; ``bone`` is only ever a non-target lesion (not measurable without soft tissue)
ORGANS: tuple[str, ...] = (
    "lung",
    "lymph node",
    "liver",
    "adrenal",
    "brain",
    "peritoneum",
    "soft tissue",
    "pleura",
    "kidney",
    "head and neck",
    "bladder",
    "stomach",
    "bone",
)
_LYMPH = ORGANS.index("lymph node")
_LIVER = ORGANS.index("liver")
_BONE = ORGANS.index("bone")

# relative frequency of each organ (order of ORGANS) for a lesion, by tumour type
_ORGAN_WEIGHTS: dict[str, list[float]] = {
    #             lung ln  liver adr brain perit soft pleu kid  h&n  blad stom bone
    "NSCLC": [40, 22, 8, 7, 4, 1, 2, 6, 1, 0, 0, 0, 9],
    "melanoma": [18, 25, 12, 3, 5, 3, 22, 1, 1, 2, 0, 0, 8],
    "HNSCC": [20, 30, 5, 1, 0, 0, 5, 1, 0, 33, 0, 0, 5],
    "renal": [30, 18, 8, 8, 3, 1, 3, 2, 15, 0, 0, 0, 12],
    "urothelial": [18, 28, 12, 2, 0, 5, 2, 1, 2, 0, 20, 0, 10],
    "gastric": [6, 28, 25, 2, 0, 18, 2, 2, 0, 0, 0, 12, 5],
}

#: randomised arms (1:1); the combination arm has fewer hyperprogressors and more responders
#: (a simulation choice so that ``group_by=arm`` shows a difference, not a published estimate)
_ARMS = ("ICI monotherapy", "ICI + chemotherapy")
#: checkpoint inhibitors and their shares, independent of the arm
_DRUGS = (
    ("nivolumab", 0.25),
    ("pembrolizumab", 0.30),
    ("atezolizumab", 0.25),
    ("durvalumab", 0.12),
    ("avelumab", 0.08),
)


@dataclass(frozen=True)
class SimulationOptions:
    """Options of :func:`simulate_cohort` (keyword arguments; units in the names).

    Defaults are calibrated so that HPD incidence under the common definitions (Champiat,
    Ferrara, Kas, Saâda-Bouzid) falls in the published 4-30 % range and HPD patients live much
    shorter than the others (median OS about 3 vs 7+ months).
    """

    #: treatment starts are uniform between these dates (ISO)
    accrual_start: str = "2015-01-01"
    accrual_end: str = "2020-12-31"
    #: administrative censoring date: nothing after it is observed (ISO)
    data_cutoff: str = "2021-12-31"
    #: expected share of latent hyperprogressors (the logistic intercept is solved for it)
    p_hyperprogressor: float = 0.12
    #: share of latent pseudoprogressors
    p_pseudoprogressor: float = 0.04
    #: share of patients without a pre-baseline scan
    p_no_prebaseline: float = 0.30
    #: share of baseline scans on the day of the first dose
    p_baseline_same_day: float = 0.05
    #: probability that one target measurement is missing at a non-baseline scan
    p_missing_measurement: float = 0.01
    #: at most this many on-treatment scans per patient (keeps cohorts compact)
    max_on_treatment_scans: int = 4
    #: standard deviation of the log measurement error of one diameter
    measurement_sd_log: float = 0.04
    #: median pre-treatment growth rate of the log sum of diameters, per month
    g_pre_median_per_month: float = 0.06
    #: tumour-type mix (shares are normalised); None for :data:`TUMOR_TYPES`
    tumor_types: dict[str, float] | None = None
    #: add a ``truth`` table with the latent group and growth rates
    include_truth: bool = False
    #: treatment stops at the latest after this many months (protocol maximum)
    max_treatment_months: float = 24.0
    #: loss to follow-up hazard, per month
    loss_to_follow_up_per_month: float = 0.004
    #: toxicity (or other non-progression) discontinuation hazard, per month
    toxicity_stop_per_month: float = 0.012

    def validate(self) -> None:
        """Raise :class:`ParameterError` naming the option when a value is out of range."""
        probs = {
            "p_hyperprogressor": self.p_hyperprogressor,
            "p_pseudoprogressor": self.p_pseudoprogressor,
            "p_no_prebaseline": self.p_no_prebaseline,
            "p_baseline_same_day": self.p_baseline_same_day,
            "p_missing_measurement": self.p_missing_measurement,
        }
        for name, value in probs.items():
            if not 0.0 <= float(value) <= 1.0:
                raise ParameterError(
                    f"simulate option {name}={value!r}: expected a probability in [0, 1]"
                )
        if self.p_hyperprogressor + self.p_pseudoprogressor >= 0.9:
            raise ParameterError(
                "simulate options p_hyperprogressor + p_pseudoprogressor: expected a sum < 0.9"
            )
        if int(self.max_on_treatment_scans) < 1:
            raise ParameterError(
                f"simulate option max_on_treatment_scans={self.max_on_treatment_scans!r}: "
                "expected an integer >= 1"
            )
        for name in (
            "measurement_sd_log",
            "g_pre_median_per_month",
            "max_treatment_months",
            "loss_to_follow_up_per_month",
            "toxicity_stop_per_month",
        ):
            if not float(getattr(self, name)) >= 0:
                raise ParameterError(f"simulate option {name}: expected a number >= 0")
        try:
            a, b, c = (
                np.datetime64(x, "D")
                for x in (self.accrual_start, self.accrual_end, self.data_cutoff)
            )
        except ValueError as exc:
            raise ParameterError(
                f"simulate options accrual_start/accrual_end/data_cutoff: "
                f"expected ISO dates YYYY-MM-DD ({exc})"
            ) from None
        if not a <= b < c:
            raise ParameterError(
                "simulate options: expected accrual_start <= accrual_end < data_cutoff"
            )
        types = self.tumor_types if self.tumor_types is not None else TUMOR_TYPES
        unknown = sorted(set(types) - set(_ORGAN_WEIGHTS))
        if (
            unknown
            or not types
            or any(float(w) < 0 for w in types.values())
            or sum(float(w) for w in types.values()) <= 0
        ):
            raise ParameterError(
                f"simulate option tumor_types={types!r}: expected non-negative weights over "
                f"{', '.join(_ORGAN_WEIGHTS)}"
            )


def _options(options: dict[str, Any]) -> SimulationOptions:
    known = {f.name for f in fields(SimulationOptions)}
    bad = sorted(set(options) - known)
    if bad:
        raise ParameterError(
            f"unknown simulate option(s): {', '.join(bad)} (expected one of: {', '.join(sorted(known))})"
        )
    opts = SimulationOptions(**options)
    opts.validate()
    return opts


# ------------------------------------------------------------------------------------------------
# small vectorized helpers
# ------------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _solve_intercept(lin: np.ndarray, target: float) -> float:
    """Intercept b such that mean(sigmoid(b + lin)) == target (bisection, deterministic)."""
    if target <= 0:
        return -np.inf
    if target >= 1:
        return np.inf
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _sigmoid(mid + lin).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _categorical_draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1): inverse-CDF on a uniform."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(size=(probs.shape[0],))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _draw_from_table(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One category per element of ``row``, drawn from ``table[row]`` (rows of ``table`` sum to 1).

    Same draw as :func:`_categorical_draw` on ``table[row]`` without materialising that matrix.
    """
    n_rows, k = table.shape
    cum = np.cumsum(table, axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    u = rng.random(row.shape[0])
    idx = np.searchsorted(flat, row + u, side="left") - row * k
    return np.clip(idx, 0, k - 1)


def _first_scan_at_or_after(scan_month: np.ndarray, t_month: np.ndarray) -> np.ndarray:
    """Per row, index of the first scan at or after each time (row-wise searchsorted).

    ``scan_month`` is n x K (increasing along rows), ``t_month`` n x m (inf allowed); returns an
    n x m int array, K where no scan is at or after the time.
    """
    n, k = scan_month.shape
    span = float(np.nanmax(scan_month, initial=0.0)) + 1.0
    offset = np.arange(n)[:, None] * (2.0 * span)
    flat = (scan_month + offset).ravel()
    t = np.minimum(t_month, span) + offset
    return np.searchsorted(flat, t, side="left") - np.arange(n)[:, None] * k


def _within_index(counts: np.ndarray) -> np.ndarray:
    """For counts [2, 3] return [0, 1, 0, 1, 2] (position inside each run)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


def _frame_by_columns(columns: dict[str, Any], n_rows: int) -> pd.DataFrame:
    """DataFrame built one column at a time (no block consolidation: fast for 10^7 rows).

    Values may be arrays or zero-argument callables (evaluated one at a time to save memory).
    """
    df = pd.DataFrame(index=pd.RangeIndex(n_rows))
    for name, make in columns.items():
        df[name] = make() if callable(make) else make
    return df


def _to_date(day_since_epoch: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Days since 1970-01-01 (int) to ``datetime64[ns]``; NaT where ``present`` is False."""
    ns = day_since_epoch.astype(np.int64) * NS_PER_DAY
    if present is not None:
        ns = np.where(present, ns, np.iinfo(np.int64).min)  # the NaT sentinel
    return ns.view("datetime64[ns]")


def _nullable_int(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    """``Int64`` array (NA where ``missing``)."""
    mask = np.zeros(values.shape, dtype=bool) if missing is None else missing.astype(bool)
    return pd.arrays.IntegerArray(values.astype(np.int64), mask)


def _nullable_bool(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    """``boolean`` array (NA where ``missing``)."""
    return pd.arrays.BooleanArray(values.astype(bool), missing.astype(bool))


def _padded_ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _piecewise(
    t: np.ndarray,
    *,
    a1: np.ndarray,
    b1: np.ndarray,
    a2: np.ndarray,
    b2: np.ndarray,
    a3: np.ndarray,
) -> np.ndarray:
    """Log-diameter change after the first dose: slope a1 until b1, a2 until b2, then a3 (months)."""
    tp = np.maximum(t, 0.0)
    return (
        a1 * np.minimum(tp, b1)
        + a2 * np.clip(tp - b1, 0.0, np.maximum(b2 - b1, 0.0))
        + a3 * np.maximum(tp - b2, 0.0)
    )


# ------------------------------------------------------------------------------------------------
# the simulator
# ------------------------------------------------------------------------------------------------


def simulate_cohort(n_patients: int, seed: int, **options: Any) -> dict[str, pd.DataFrame]:
    """Simulate a cohort of ``n_patients`` treated with an immune checkpoint inhibitor.

    Parameters
    ----------
    n_patients
        Number of patients (>= 1).
    seed
        Seed of ``numpy.random.default_rng``: the same seed and options give identical tables.
    **options
        Any field of :class:`SimulationOptions` (e.g. ``p_hyperprogressor=0.2``,
        ``include_truth=True``); an unknown name raises :class:`ParameterError`.

    Returns
    -------
    dict
        ``{"patients": ..., "lesions": ...}`` in the format of ``cohort-format.md``: patients one
        row each (``patient_id`` ``P0001``..., dates as ``datetime64[ns]``, ECOG as ``Int64``,
        risk factors); lesions one row per lesion per scan (``patient_id, assessment_date,
        lesion_id, lesion_type, organ, diameter_mm`` in mm rounded to 0.1, ``status``,
        ``not_evaluable``: True where a target lesion was deliberately left unmeasured, its
        ``diameter_mm`` NaN), sorted by patient, date and lesion id (as text). With
        ``include_truth=True`` also ``"truth"`` (one row per patient: ``sim_latent_group``,
        ``sim_g_pre_per_month``, ``sim_g_on_per_month``: growth rates of the log sum of
        diameters per month before and right after the first dose).

    The stages below draw from one generator in a fixed order (traits, baseline lesions, latent
    group, trajectories, scan schedule, death and follow-up, tumour sums, course of the disease,
    endpoints, baseline-lesion rows, new-lesion rows): the same seed gives the same cohort.
    """
    if isinstance(n_patients, bool) or int(n_patients) != n_patients or n_patients < 1:
        raise ParameterError(f"n_patients={n_patients!r}: expected an integer >= 1")
    n = int(n_patients)
    opts = _options(options)
    rng = np.random.default_rng(seed)

    traits = _draw_traits(rng, n, opts)
    lesions = _draw_baseline_lesions(rng, traits)
    group = _draw_latent_group(rng, traits, lesions, opts=opts)
    traj = _draw_trajectories(rng, group, opts)
    sched = _draw_schedule(rng, n, opts)
    follow = _draw_follow_up(rng, traits, lesions, group=group, traj=traj, opts=opts)
    sums = _draw_tumour_sums(rng, lesions, traj, sched=sched, opts=opts)
    course = _draw_course(rng, lesions, group, traj=traj, sched=sched, follow=follow, sums=sums)
    ends = _draw_endpoints(rng, traits, group, sched=sched, follow=follow, course=course, opts=opts)

    base_rows = _baseline_lesion_rows(
        rng, lesions, group, traj=traj, sched=sched, sums=sums, course=course, opts=opts
    )
    new_rows = _new_lesion_rows(
        rng, traits, lesions, traj=traj, sched=sched, course=course, opts=opts
    )

    pid = _padded_ids("P", n, max(4, len(str(n))))
    out = {
        "patients": _patients_table(pid, traits, lesions, follow=follow, course=course, ends=ends),
        "lesions": _lesions_table(pid, traits.start_day, base=base_rows, new=new_rows),
    }
    if opts.include_truth:
        out["truth"] = pd.DataFrame(
            {
                "patient_id": pid,
                "sim_latent_group": np.array(GROUPS, dtype=object)[group],
                "sim_g_pre_per_month": np.round(traj.g_pre, 6),
                # the rate right after the first dose
                "sim_g_on_per_month": np.round(traj.a1, 6),
            }
        )
    return out


# ------------------------------------------------------------------------------------------------
# the stages of simulate_cohort (each draws from the shared generator, in the order called)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Traits:
    """Baseline traits, one value per patient (days since 1970-01-01 for dates)."""

    type_names: np.ndarray  # tumour type names (index = code)
    ttype: np.ndarray  # tumour type code
    age: np.ndarray  # years
    male: np.ndarray
    ecog: np.ndarray  # ECOG performance status at baseline, 0-3
    ldh: np.ndarray  # LDH above the upper limit of normal
    nlr: np.ndarray  # neutrophil-to-lymphocyte ratio
    pdl1: np.ndarray  # PD-L1 tumour proportion score, %
    pdl1_missing: np.ndarray
    mdm2: np.ndarray  # MDM2 amplification
    egfr: np.ndarray  # EGFR alteration
    genomics_missing: np.ndarray
    locoreg: np.ndarray  # locoregional recurrence
    prior_rt: np.ndarray  # prior radiotherapy
    arm: np.ndarray  # 0 monotherapy, 1 combination
    drug_u: np.ndarray  # uniform draw that picks the checkpoint inhibitor
    start_day: np.ndarray  # first dose
    cutoff_day: int  # data cut-off


def _draw_traits(rng: np.random.Generator, n: int, opts: SimulationOptions) -> _Traits:
    """Tumour type, demographics, risk factors, arm and first-dose date of every patient."""
    types_w = opts.tumor_types if opts.tumor_types is not None else TUMOR_TYPES
    type_names = np.array(list(types_w), dtype=object)
    tw = np.array([float(types_w[k]) for k in type_names])
    ttype = rng.choice(len(type_names), size=n, p=tw / tw.sum())

    age = np.clip(np.round(rng.normal(64.0, 10.0, n)), 25, 90).astype(np.int64)
    male = rng.random(n) < 0.62
    ecog = _categorical_draw(rng, np.broadcast_to([0.35, 0.50, 0.13, 0.02], (n, 4))).astype(
        np.int64
    )
    ldh = rng.random(n) < 0.35
    nlr = np.round(np.clip(np.exp(rng.normal(np.log(4.0), 0.6, n)), 0.5, 60.0), 1)
    pdl1 = np.where(rng.random(n) < 0.35, 0.0, np.round(rng.uniform(1, 100, n)))
    pdl1_missing = rng.random(n) < 0.12
    mdm2 = rng.random(n) < 0.04
    is_nsclc = type_names[ttype] == "NSCLC"
    egfr = rng.random(n) < np.where(is_nsclc, 0.10, 0.03)
    genomics_missing = rng.random(n) < 0.25
    is_hn = type_names[ttype] == "HNSCC"
    locoreg = rng.random(n) < np.where(is_hn, 0.45, 0.12)
    prior_rt = rng.random(n) < np.where(is_hn, 0.75, 0.35)
    arm = (rng.random(n) < 0.5).astype(np.int64)
    drug_u = rng.random(n)

    start_lo = np.datetime64(opts.accrual_start, "D")
    span = int((np.datetime64(opts.accrual_end, "D") - start_lo).astype(np.int64))
    start_day = start_lo.astype(np.int64) + rng.integers(0, span + 1, n)
    cutoff_day = int(np.datetime64(opts.data_cutoff, "D").astype(np.int64))
    return _Traits(
        type_names,
        ttype,
        age,
        male,
        ecog,
        ldh,
        nlr,
        pdl1,
        pdl1_missing,
        mdm2,
        egfr,
        genomics_missing,
        locoreg,
        prior_rt,
        arm,
        drug_u,
        start_day,
        cutoff_day,
    )


@dataclass(frozen=True)
class _BaselineLesions:
    """The baseline lesions of every patient, one entry per lesion (``les_pat``: its patient)."""

    n_les: np.ndarray  # per patient: lesions
    n_nontarget: np.ndarray  # per patient: non-target lesions
    les_pat: np.ndarray  # patient of each lesion
    les_is_target: np.ndarray
    les_num: np.ndarray  # number in the lesion id (T1, NT2 ...)
    organ: np.ndarray  # organ code (index of ORGANS)
    organ_weights: np.ndarray  # per tumour type: organ probabilities of a (non-target) lesion
    is_node: np.ndarray
    base_d: np.ndarray  # baseline diameter, mm (short axis for nodes)
    h_rate: np.ndarray  # lesion-specific extra log-growth per month
    node_floor: np.ndarray  # mm: a responding node shrinks to a normal size
    nt_absent_u: np.ndarray  # uniform draw: a non-target lesion of a responder disappears
    n_sites: np.ndarray  # per patient: organs involved
    liver: np.ndarray  # per patient: liver metastasis


def _draw_baseline_lesions(rng: np.random.Generator, traits: _Traits) -> _BaselineLesions:
    """Target and non-target lesions at baseline: organ, RECIST's at most 2 targets per organ,
    measurable sizes (>= 10 mm, nodes >= 15 mm short axis), lesion-specific growth."""
    n = traits.ttype.size
    type_names = traits.type_names
    n_target = 1 + _categorical_draw(rng, np.broadcast_to([0.30, 0.30, 0.22, 0.11, 0.07], (n, 5)))
    n_nontarget = _categorical_draw(rng, np.broadcast_to([0.55, 0.33, 0.12], (n, 3)))
    n_les = n_target + n_nontarget
    n_l = int(n_les.sum())
    les_pat = np.repeat(np.arange(n), n_les)
    les_pos = _within_index(n_les)
    les_is_target = les_pos < n_target[les_pat]
    # organ per lesion, from the tumour type's weights (bone only for non-target lesions)
    ow = np.array([_ORGAN_WEIGHTS[str(t)] for t in type_names], dtype=float)
    ow_target = ow.copy()
    ow_target[:, _BONE] = 0.0
    ow /= ow.sum(axis=1, keepdims=True)
    ow_target /= ow_target.sum(axis=1, keepdims=True)
    organ_table = np.concatenate([ow, ow_target])  # rows: type (non-target), type (target)
    organ = _draw_from_table(
        rng, organ_table, traits.ttype[les_pat] + len(type_names) * les_is_target
    )
    # RECIST: at most 2 target lesions per organ; extra ones become non-target lesions
    key = les_pat.astype(np.int64) * 64 + organ
    order = np.argsort((key * 2 + ~les_is_target) * 16 + les_pos, kind="stable")
    ks = key[order]
    run_start = np.r_[True, ks[1:] != ks[:-1]]
    run_id = np.cumsum(run_start) - 1
    first_of_run = np.flatnonzero(run_start)
    rank = np.empty(n_l, dtype=np.int64)
    rank[order] = np.arange(n_l) - first_of_run[run_id]
    demote = les_is_target & (rank >= 2)
    les_is_target = les_is_target & ~demote
    # renumber in the order of the lesion ids as text (NT1.. before T1..), keeping draw order
    lt_order = np.argsort(
        (les_pat.astype(np.int64) * 2 + les_is_target) * 16 + les_pos, kind="stable"
    )
    organ = organ[lt_order]
    les_is_target = les_is_target[lt_order]
    n_target = np.bincount(les_pat, weights=les_is_target, minlength=n).astype(np.int64)
    n_nontarget = n_les - n_target
    les_pos = _within_index(n_les)
    les_num = np.where(les_is_target, les_pos - n_nontarget[les_pat] + 1, les_pos + 1)

    is_node = organ == _LYMPH
    # baseline diameters (mm): measurable >= 10 mm, nodes short axis >= 15 mm
    base_d = np.where(
        is_node,
        15.0 + np.exp(rng.normal(np.log(8.0), 0.6, n_l)),
        10.0 + np.exp(rng.normal(np.log(16.0), 0.6, n_l)),
    )
    base_d = np.round(np.minimum(base_d, 150.0), 1)
    h_rate = rng.normal(0.0, 0.015, n_l)
    node_floor = rng.uniform(4.0, 9.0, n_l)
    nt_absent_u = rng.random(n_l)

    # risk factors derived from the lesions
    site_mat = np.zeros((n, len(ORGANS)), dtype=bool)
    site_mat[les_pat, organ] = True
    n_sites = site_mat.sum(axis=1).astype(np.int64)
    liver = site_mat[:, _LIVER]
    return _BaselineLesions(
        n_les,
        n_nontarget,
        les_pat,
        les_is_target,
        les_num,
        organ,
        ow,
        is_node,
        base_d,
        h_rate,
        node_floor,
        nt_absent_u,
        n_sites,
        liver,
    )


def _draw_latent_group(
    rng: np.random.Generator, traits: _Traits, lesions: _BaselineLesions, *, opts: SimulationOptions
) -> np.ndarray:
    """Latent kinetic group per patient (codes of GROUPS): hyperprogression by a logistic model in
    the published risk factors, calibrated to ``p_hyperprogressor``; response by PD-L1, type,
    ECOG, liver and arm."""
    t, les = traits, lesions
    lin = (
        0.5 * (t.age >= 65)
        + 0.7 * (les.n_sites > 2)
        + 0.6 * les.liver
        + 0.5 * t.ldh
        + 0.5 * np.log(t.nlr / 4.0)
        + 0.35 * t.ecog
        + 1.8 * t.mdm2
        + 1.0 * t.egfr
        + 0.5 * t.locoreg
        + 0.2 * t.prior_rt
        - 0.6 * t.arm
    )
    p_ps = np.full(t.ttype.size, opts.p_pseudoprogressor)
    p_h = np.minimum(_sigmoid(_solve_intercept(lin, opts.p_hyperprogressor) + lin), 1.0 - p_ps)
    rest = 1.0 - p_h - p_ps
    type_name = t.type_names[t.ttype]
    resp_share = _sigmoid(
        -1.1
        + 1.0 * (t.pdl1 >= 50)
        + 0.6 * (type_name == "melanoma")
        + 0.3 * (type_name == "renal")
        - 0.4 * (t.ecog >= 2)
        - 0.3 * les.liver
        + 0.4 * t.arm
    )
    p_resp = rest * resp_share
    p_stab = rest * (1 - resp_share) * 0.40
    p_prog = rest * (1 - resp_share) * 0.60
    return _categorical_draw(rng, np.column_stack([p_resp, p_stab, p_prog, p_h, p_ps]))


@dataclass(frozen=True)
class _Trajectories:
    """Log-diameter trajectory per patient: ``g_pre * t`` before the first dose, then the
    piecewise-linear ``_piecewise(t, a1=, b1=, a2=, b2=, a3=)`` (rates per month, breaks in months)."""

    g_pre: np.ndarray
    a1: np.ndarray
    b1: np.ndarray
    a2: np.ndarray
    b2: np.ndarray
    a3: np.ndarray
    t_res: np.ndarray  # months to acquired resistance


def _draw_trajectories(
    rng: np.random.Generator, group: np.ndarray, opts: SimulationOptions
) -> _Trajectories:
    """Growth before treatment and the group's course after the first dose."""
    n = group.size
    g_pre = np.exp(rng.normal(np.log(opts.g_pre_median_per_month), 0.6, n))
    slowish = rng.random(n) < 0.07  # a few tumours barely grew before treatment
    g_pre = np.where(slowish, rng.normal(0.0, 0.01, n), g_pre)
    u1, u2, u3, u4 = (rng.random(n) for _ in range(4))
    t_res = np.exp(rng.normal(np.log(10.0), 0.7, n))  # months to acquired resistance
    g_late = np.maximum(g_pre, 0.02) * (0.8 + 0.8 * u4)
    big = 1e6
    a1 = np.zeros(n)
    b1 = np.full(n, big)
    a2 = np.zeros(n)
    b2 = np.full(n, big)
    a3 = np.zeros(n)
    # progressors: about the pre-treatment rate
    prog_rate = np.maximum(g_pre, 0.015) * np.exp(rng.normal(np.log(1.25), 0.35, n))
    m = group == _PROG
    a1[m] = a2[m] = a3[m] = prog_rate[m]
    # hyperprogressors: sharp acceleration after the first dose
    hyper_rate = np.maximum(np.maximum(g_pre, 0.01) * (3.0 + 5.0 * u1), g_pre + 0.12 + 0.35 * u2)
    m = group == _HYPER
    a1[m] = a2[m] = a3[m] = hyper_rate[m]
    # stable: growth stops, until resistance
    m = group == _STAB
    a1[m] = a2[m] = rng.normal(0.0, 0.012, n)[m]
    b1[m] = 0.5 * t_res[m]
    b2[m] = t_res[m]
    a3[m] = g_late[m]
    # responders: shrink to a nadir, plateau, then resistance
    m = group == _RESP
    shrink_months = 2.0 + 5.0 * u1
    a1[m] = -(0.08 + 0.25 * u2[m])
    b1[m] = shrink_months[m]
    a2[m] = 0.0
    b2[m] = shrink_months[m] + t_res[m] * 1.5
    a3[m] = g_late[m]
    # pseudoprogressors: rise first, then shrink
    m = group == _PSEUDO
    rise_months = 1.2 + 1.3 * u1
    a1[m] = 0.10 + 0.20 * u2[m]
    b1[m] = rise_months[m]
    a2[m] = -(0.10 + 0.20 * u3[m])
    b2[m] = rise_months[m] + 3.0 + 5.0 * u4[m]
    a3[m] = 0.0
    return _Trajectories(g_pre, a1, b1, a2, b2, a3, t_res)


@dataclass(frozen=True)
class _Schedule:
    """Scan days relative to the first dose (day 0)."""

    base_day: np.ndarray  # per patient, <= 0
    has_pre: np.ndarray  # per patient: a pre-baseline scan exists
    pre_day: np.ndarray  # per patient
    on_day: np.ndarray  # patients x k_ext on-treatment scan days
    k_max: int  # on-treatment scans written to the lesion table
    k_ext: int  # on-treatment scans that decide progression and treatment end

    @property
    def on_month(self) -> np.ndarray:
        return self.on_day / DAYS_PER_MONTH

    def day_at(self, k: np.ndarray) -> np.ndarray:
        """Day of on-treatment scan ``k`` of every patient (clipped to the schedule)."""
        return np.take_along_axis(self.on_day, np.clip(k, 0, self.k_ext - 1)[:, None], 1)[:, 0]


def _draw_schedule(rng: np.random.Generator, n: int, opts: SimulationOptions) -> _Schedule:
    """Pre-baseline, baseline and on-treatment scan days.

    On-treatment schedule: first scan at 6-8 weeks (with jitter), then every 6-9 weeks in the
    first year, every 11-13 weeks in the second and every 23-25 weeks after it. Only the first
    ``k_max`` scans are written to the lesion table; the later ones (``k_ext`` in all) still
    decide progression and treatment end.
    """
    same_day = rng.random(n) < opts.p_baseline_same_day
    base_day = np.where(same_day, 0, -rng.integers(1, 43, n))
    has_pre = rng.random(n) >= opts.p_no_prebaseline
    pre_gap = np.minimum(np.round(14 + rng.gamma(2.0, 25.0, n)), 180).astype(np.int64)
    pre_day = base_day - pre_gap
    k_max = int(opts.max_on_treatment_scans)
    k_ext = max(k_max, 22)
    first = np.maximum(np.round(rng.uniform(42, 56, n) + rng.normal(0, 3, n)), 28)
    lo_gap = np.select([np.arange(1, k_ext) < 7, np.arange(1, k_ext) < 15], [42, 77], 161)
    gaps = lo_gap + rng.integers(0, 22, (n, k_ext - 1)) * np.where(lo_gap == 42, 1, 0.7)
    on_day = np.cumsum(np.column_stack([first, np.round(gaps)]), axis=1).astype(np.int64)
    return _Schedule(base_day, has_pre, pre_day, on_day, k_max, k_ext)


@dataclass(frozen=True)
class _FollowUp:
    """Days from the first dose, per patient."""

    death_day: np.ndarray
    obs_end: np.ndarray  # last observable day (cut-off or loss to follow-up)
    cut_rel: np.ndarray  # data cut-off


def _draw_follow_up(
    rng: np.random.Generator,
    traits: _Traits,
    lesions: _BaselineLesions,
    *,
    group: np.ndarray,
    traj: _Trajectories,
    opts: SimulationOptions,
) -> _FollowUp:
    """Death (by group, worse with ECOG, LDH and liver metastasis), loss to follow-up, cut-off."""
    n = group.size
    dpm = DAYS_PER_MONTH
    ecog_eff = np.exp(-0.25 * traits.ecog - 0.2 * traits.ldh - 0.2 * lesions.liver)
    ecog_eff = ecog_eff / ecog_eff.mean()
    pps = np.exp(rng.normal(np.log(5.0), 0.8, n))  # survival after resistance, months
    z = rng.normal(0.0, 1.0, n)
    death_m = np.select(
        [group == _HYPER, group == _PROG, group == _RESP, group == _STAB],
        [
            np.exp(np.log(3.0) + 0.65 * z) * ecog_eff,
            np.exp(np.log(6.0) + 0.75 * z) * ecog_eff,
            traj.b2 + pps,
            0.5 * traj.t_res + pps,
        ],
        default=1.2 * traj.t_res + pps,
    )
    death_day = np.maximum(np.round(death_m * dpm), 1).astype(np.int64)
    ltfu_day = np.round(
        rng.exponential(1.0 / max(opts.loss_to_follow_up_per_month, 1e-12), n) * dpm
    ).astype(np.int64)
    cut_rel = traits.cutoff_day - traits.start_day
    obs_end = np.minimum(cut_rel, ltfu_day)
    return _FollowUp(death_day, obs_end, cut_rel)


@dataclass(frozen=True)
class _TumourSums:
    d_pre: np.ndarray  # per lesion: diameter at the pre-baseline scan, mm
    d_on: np.ndarray  # lesions x k_max: diameters at the recorded on-treatment scans
    sld_base: np.ndarray  # per patient: baseline sum of target diameters, mm
    sld_on: np.ndarray  # patients x k_ext: sums at every on-treatment scan, mm


def _draw_tumour_sums(
    rng: np.random.Generator,
    lesions: _BaselineLesions,
    traj: _Trajectories,
    *,
    sched: _Schedule,
    opts: SimulationOptions,
) -> _TumourSums:
    """Measured diameters at the recorded scans (model + noise) and the sums of target
    diameters; scans beyond ``k_max`` use the model's sum without noise."""
    les, les_pat = lesions, lesions.les_pat
    n = sched.base_day.size
    dpm = DAYS_PER_MONTH
    f_base = traj.g_pre * (sched.base_day / dpm)
    les_tb = sched.base_day[les_pat] / dpm
    sd = opts.measurement_sd_log
    on_month = sched.on_month

    def lesion_d(t_month: np.ndarray) -> np.ndarray:
        """Measured diameters (mm) of every baseline lesion at patient-specific months t_month."""
        f_t = np.where(
            t_month <= 0,
            traj.g_pre[les_pat] * t_month,
            _piecewise(
                t_month,
                a1=traj.a1[les_pat],
                b1=traj.b1[les_pat],
                a2=traj.a2[les_pat],
                b2=traj.b2[les_pat],
                a3=traj.a3[les_pat],
            ),
        )
        logc = f_t - f_base[les_pat] + les.h_rate * (t_month - les_tb)
        raw = les.base_d * np.exp(logc + rng.normal(0.0, sd, les_pat.size))
        raw = np.where(les.is_node, np.maximum(raw, les.node_floor), np.where(raw < 3.0, 0.0, raw))
        return np.round(np.minimum(raw, 400.0), 1)

    k_max, k_ext = sched.k_max, sched.k_ext
    d_pre = lesion_d(sched.pre_day[les_pat] / dpm)
    d_on = np.column_stack([lesion_d(on_month[les_pat, k]) for k in range(k_max)])
    tgt_w = les.les_is_target.astype(np.float64)
    sld_base = np.bincount(les_pat, weights=tgt_w * les.base_d, minlength=n)
    sld_on = np.empty((n, k_ext))
    for k in range(k_max):
        sld_on[:, k] = np.bincount(les_pat, weights=tgt_w * d_on[:, k], minlength=n)
    if k_ext > k_max:
        sld_on[:, k_max:] = sld_base[:, None] * np.exp(
            _piecewise(
                on_month[:, k_max:],
                a1=traj.a1[:, None],
                b1=traj.b1[:, None],
                a2=traj.a2[:, None],
                b2=traj.b2[:, None],
                a3=traj.a3[:, None],
            )
            - f_base[:, None]
        )
    return _TumourSums(d_pre, d_on, sld_base, sld_on)


@dataclass(frozen=True)
class _Course:
    """Course of the disease on treatment, per patient (scan indices k count from 0;
    ``k_ext`` = never)."""

    t_new: np.ndarray  # patients x 4: months at which new lesions appear
    new_first_scan: np.ndarray  # patients x 4: first scan showing each new lesion
    t_ntp: np.ndarray  # months to unequivocal non-target progression (inf = never)
    any_pd: np.ndarray  # RECIST progression on some scan
    first_pd: np.ndarray  # scan of the first progression
    stop_k: np.ndarray  # scan at which treatment stops for progression
    last_k: np.ndarray  # last scan done (-1: none)
    n_on: np.ndarray  # on-treatment scans written, 0..k_max


def _draw_course(
    rng: np.random.Generator,
    lesions: _BaselineLesions,
    group: np.ndarray,
    *,
    traj: _Trajectories,
    sched: _Schedule,
    follow: _FollowUp,
    sums: _TumourSums,
) -> _Course:
    """New lesions, non-target progression and RECIST 1.1 progression at every scan; treatment
    beyond progression (iRECIST) for most pseudoprogressors and a few others."""
    n = group.size
    on_month = sched.on_month
    k_ext = sched.k_ext
    # new lesions: up to 4 per patient, appearance times (months) by group
    n_slots = 4
    rate_new = np.select(
        [group == _HYPER, group == _PROG, group == _PSEUDO, group == _STAB],
        [0.16, 0.05, 0.03, 0.004],
        default=0.002,
    )
    t_new = rng.exponential(1.0, (n, n_slots)) / rate_new[:, None]
    late = (group == _RESP) | (group == _STAB)
    t_new = np.where(
        late[:, None],
        np.minimum(t_new, traj.b2[:, None] + rng.exponential(1 / 0.06, (n, n_slots))),
        t_new,
    )
    new_first_scan = _first_scan_at_or_after(on_month, t_new)
    # non-target unequivocal progression (months; inf = never)
    rate_ntp = np.select([group == _HYPER, group == _PROG], [0.12, 0.04], default=0.0)
    e_ntp = rng.exponential(1.0, n)
    e_late = rng.exponential(1 / 0.04, n)
    with np.errstate(divide="ignore"):
        t_ntp = np.where(
            rate_ntp > 0,
            e_ntp / np.where(rate_ntp > 0, rate_ntp, 1.0),
            np.where(late | (group == _PSEUDO), traj.b2 + e_late, np.inf),
        )
    t_ntp = np.where(lesions.n_nontarget > 0, t_ntp, np.inf)
    # RECIST 1.1 progression at each on-treatment scan: sum >= 20 % and >= 5 mm over the nadir,
    # a new lesion first seen, or non-target progression first seen
    sld_on = sums.sld_on
    nadir = np.minimum.accumulate(np.column_stack([sums.sld_base, sld_on]), axis=1)[:, :-1]
    is_pd = (sld_on >= 1.2 * nadir) & (sld_on - nadir >= 5.0)
    k_idx = np.arange(k_ext)
    for j in range(n_slots):
        is_pd |= new_first_scan[:, [j]] == k_idx[None, :]
    ntp_k = _first_scan_at_or_after(on_month, t_ntp[:, None])[:, 0]  # first scan showing it
    is_pd |= ntp_k[:, None] == k_idx[None, :]

    # a scan happens while the patient is alive and followed
    on_day = sched.on_day
    valid = (on_day < follow.death_day[:, None]) & (on_day <= follow.obs_end[:, None])
    n_valid = valid.sum(axis=1)  # valid is a prefix in k
    is_pd &= valid
    any_pd = np.asarray(is_pd.any(axis=1))
    first_pd = np.where(any_pd, is_pd.argmax(axis=1), k_ext)
    # treatment beyond progression (iRECIST); treatment then stops at the next progression
    beyond = any_pd & (rng.random(n) < np.where(group == _PSEUDO, 0.85, 0.10))
    is_pd &= k_idx[None, :] > first_pd[:, None]
    any_later = is_pd.any(axis=1)
    second_pd = np.where(any_later, is_pd.argmax(axis=1), k_ext)
    stop_k = np.where(beyond, second_pd, first_pd)  # k_ext: no PD stop
    last_k = np.minimum(stop_k, n_valid - 1)
    n_on = np.clip(last_k + 1, 0, sched.k_max)
    return _Course(t_new, new_first_scan, t_ntp, any_pd, first_pd, stop_k, last_k, n_on)


@dataclass(frozen=True)
class _Endpoints:
    """Days from the first dose, per patient."""

    pd_day: np.ndarray  # first RECIST progression (when ``prog_obs``)
    end_day: np.ndarray  # treatment end
    end_obs: np.ndarray  # treatment end observed by the last observable day
    died: np.ndarray  # death observed
    last_contact_day: np.ndarray
    ecog_fe: np.ndarray  # ECOG at the first evaluation
    ecog_fe_missing: np.ndarray


def _draw_endpoints(
    rng: np.random.Generator,
    traits: _Traits,
    group: np.ndarray,
    *,
    sched: _Schedule,
    follow: _FollowUp,
    course: _Course,
    opts: SimulationOptions,
) -> _Endpoints:
    """Treatment end (progression, toxicity, clinical decline, death, maximum duration), last
    contact and ECOG at the first evaluation."""
    n = group.size
    dpm = DAYS_PER_MONTH
    pd_day = sched.day_at(course.first_pd)
    never = np.iinfo(np.int64).max // 4
    stop_pd_day = np.where(
        course.stop_k < sched.k_ext, sched.day_at(course.stop_k) + rng.integers(0, 8, n), never
    )
    tox_day = np.round(rng.exponential(1.0 / max(opts.toxicity_stop_per_month, 1e-12), n) * dpm)
    hyper_clin = (group == _HYPER) & (rng.random(n) < 0.5)  # clinical deterioration stops early
    tox_day = np.where(hyper_clin, np.minimum(tox_day, np.round(rng.uniform(20, 55, n))), tox_day)
    max_day = round(opts.max_treatment_months * dpm)
    end_day = np.minimum.reduce(
        [
            stop_pd_day.astype(np.float64),
            tox_day,
            np.full(n, float(max_day)),
            (follow.death_day - rng.integers(0, 15, n)).astype(np.float64),
        ]
    )
    end_day = np.maximum(end_day, 1).astype(np.int64)
    end_obs = end_day <= follow.obs_end
    died = follow.death_day <= follow.obs_end
    last_scan_day = np.where(course.last_k >= 0, sched.day_at(course.last_k), sched.base_day)
    last_contact_day = np.where(died, follow.death_day, np.maximum(follow.obs_end, last_scan_day))
    last_contact_day = np.minimum(last_contact_day, follow.cut_rel)

    # ECOG at the first evaluation (missing without a first evaluation, and for 5 %)
    d_ecog = np.select(
        [group == _HYPER, group == _PROG, group == _RESP],
        [
            1 + _categorical_draw(rng, np.broadcast_to([0.40, 0.40, 0.20], (n, 3))),
            _categorical_draw(rng, np.broadcast_to([0.6, 0.35, 0.05], (n, 3))),
            -_categorical_draw(rng, np.broadcast_to([0.7, 0.3], (n, 2))),
        ],
        default=_categorical_draw(rng, np.broadcast_to([0.85, 0.15], (n, 2))),
    )
    ecog_fe = np.clip(traits.ecog + d_ecog, 0, 4)
    ecog_fe_missing = (course.n_on == 0) | (rng.random(n) < 0.05)
    return _Endpoints(pd_day, end_day, end_obs, died, last_contact_day, ecog_fe, ecog_fe_missing)


def _patients_table(
    pid: np.ndarray,
    traits: _Traits,
    lesions: _BaselineLesions,
    *,
    follow: _FollowUp,
    course: _Course,
    ends: _Endpoints,
) -> pd.DataFrame:
    """The contract's patients table (no random draws)."""
    t = traits
    n = pid.size
    drug_names = np.array([d for d, _ in _DRUGS], dtype=object)
    drug_cum = np.cumsum([w for _, w in _DRUGS])
    treatment = drug_names[
        np.minimum(np.searchsorted(drug_cum, t.drug_u, side="right"), len(drug_names) - 1)
    ]
    return _frame_by_columns(
        {
            "patient_id": pid,
            "treatment_start": _to_date(t.start_day),
            "tumor_type": t.type_names[t.ttype],
            "treatment": treatment,
            "arm": np.array(_ARMS, dtype=object)[t.arm],
            "treatment_end": _to_date(t.start_day + ends.end_day, ends.end_obs),
            "progression_date": _to_date(t.start_day + np.maximum(ends.pd_day, 0), course.any_pd),
            "death_date": _to_date(t.start_day + follow.death_day, ends.died),
            "last_contact": _to_date(t.start_day + ends.last_contact_day),
            "ecog_baseline": _nullable_int(t.ecog),
            "ecog_first_eval": _nullable_int(ends.ecog_fe, ends.ecog_fe_missing),
            "age": t.age,
            "sex": np.where(t.male, "M", "F").astype(object),
            "n_metastatic_sites": lesions.n_sites,
            "liver_metastasis": lesions.liver,
            "ldh_above_uln": t.ldh,
            "nlr": t.nlr,
            "pdl1_tps": _nullable_int(t.pdl1, t.pdl1_missing),
            "mdm2_amp": _nullable_bool(t.mdm2, t.genomics_missing),
            "egfr_alt": _nullable_bool(t.egfr, t.genomics_missing),
            "prior_radiotherapy": t.prior_rt,
            "locoregional_recurrence": t.locoreg,
        },
        n,
    )


@dataclass(frozen=True)
class _LesionRows:
    """Rows of the lesions table, one entry per lesion per kept scan, not yet in table order."""

    pat: np.ndarray  # patient (index)
    day: np.ndarray  # days from the first dose
    kind: np.ndarray  # 0 target, 1 non-target, 2 new (int8)
    num: np.ndarray  # number in the lesion id (T1, NT2, N3 ...)
    organ: np.ndarray  # organ code (index of ORGANS)
    diameter: np.ndarray  # mm; NaN for non-target lesions and missing measurements
    not_evaluable: np.ndarray  # a target measurement deliberately left out
    status: np.ndarray  # 0 none, 1 present, 2 absent, 3 unequivocal progression (int8)


def _baseline_lesion_rows(
    rng: np.random.Generator,
    lesions: _BaselineLesions,
    group: np.ndarray,
    *,
    traj: _Trajectories,
    sched: _Schedule,
    sums: _TumourSums,
    course: _Course,
    opts: SimulationOptions,
) -> _LesionRows:
    """The baseline lesions at every kept scan (pre-baseline, baseline, the first ``n_on``
    on-treatment scans), in table order: a target measurement missing with
    ``p_missing_measurement`` (never at baseline); a non-target lesion unequivocally progressing
    from ``t_ntp`` on, or absent for half of the responders' once they reach the nadir."""
    les = lesions
    n, k_max = course.n_on.size, sched.k_max
    # scans: (patient, slot) with slot 0 = pre-baseline, 1 = baseline, 2.. = on-treatment
    slot_kept = np.zeros((n, 2 + k_max), dtype=bool)
    slot_kept[:, 0] = sched.has_pre
    slot_kept[:, 1] = True
    slot_kept[:, 2:] = np.arange(k_max)[None, :] < course.n_on[:, None]
    slot_day = np.column_stack([sched.pre_day, sched.base_day, sched.on_day[:, :k_max]])
    sc_pat, sc_slot = np.nonzero(slot_kept)  # row-major: patient, then slot (date order)
    sc_pat, sc_slot = sc_pat.astype(np.int32), sc_slot.astype(np.int8)

    les_start = (np.cumsum(les.n_les) - les.n_les).astype(np.int32)
    reps = les.n_les[sc_pat]
    r_pat = np.repeat(sc_pat, reps)
    r_slot = np.repeat(sc_slot, reps)
    r_les = les_start[r_pat] + _within_index(reps)
    d_all = np.column_stack([sums.d_pre, les.base_d, sums.d_on])  # n_l x slots
    r_tgt = les.les_is_target[r_les]
    r_d = np.where(r_tgt, d_all[r_les, r_slot], np.nan)
    r_day = slot_day[r_pat, r_slot]
    r_month = r_day / DAYS_PER_MONTH
    miss = r_tgt & (r_slot != 1) & (rng.random(r_les.size) < opts.p_missing_measurement)
    r_d = np.where(miss, np.nan, r_d)
    t_after = r_month > 0
    ntp_row = ~r_tgt & t_after & (course.t_ntp[r_pat] <= r_month)
    absent_row = (
        ~r_tgt
        & t_after
        & (group[r_pat] == _RESP)
        & (les.nt_absent_u[r_les] < 0.5)
        & (r_month >= traj.b1[r_pat])
        & ~ntp_row
    )
    r_status = np.where(r_tgt, 0, np.where(ntp_row, 3, np.where(absent_row, 2, 1))).astype(np.int8)
    return _LesionRows(
        pat=r_pat,
        day=r_day,
        kind=(~r_tgt).astype(np.int8),
        num=les.les_num[r_les],
        organ=les.organ[r_les],
        diameter=r_d,
        not_evaluable=miss,
        status=r_status,
    )


def _new_lesion_rows(
    rng: np.random.Generator,
    traits: _Traits,
    lesions: _BaselineLesions,
    *,
    traj: _Trajectories,
    sched: _Schedule,
    course: _Course,
    opts: SimulationOptions,
) -> _LesionRows:
    """The new lesions from the scan where they appear through the last kept scan, numbered N1,
    N2 ... in order of appearance within a patient: half in an organ already involved, 5-20 mm
    when first seen, growing at the patient's on-treatment rate (at least 0.02 per month)."""
    les = lesions
    n = course.n_on.size
    ns_pat, ns_slot = np.nonzero(course.new_first_scan < course.n_on[:, None])
    ns_k0 = course.new_first_scan[ns_pat, ns_slot]
    o = np.argsort((ns_pat.astype(np.int64) * 64 + ns_k0) * 8 + ns_slot, kind="stable")
    ns_pat, ns_slot, ns_k0 = ns_pat[o], ns_slot[o], ns_k0[o]
    ns_num = _within_index(np.bincount(ns_pat, minlength=n)) + 1
    n_new = ns_pat.size
    # organ: half in an already-involved organ (one of the patient's lesions), else drawn afresh
    les_start = (np.cumsum(les.n_les) - les.n_les).astype(np.int32)
    pick_les = les_start[ns_pat] + np.floor(rng.random(n_new) * les.n_les[ns_pat]).astype(np.int64)
    fresh = _draw_from_table(rng, les.organ_weights, traits.ttype[ns_pat])
    ns_organ = np.where(rng.random(n_new) < 0.5, les.organ[pick_les], fresh)
    ns_d0 = rng.uniform(5.0, 20.0, n_new)
    ns_t0 = course.t_new[ns_pat, ns_slot]
    ns_rate = np.maximum(traj.a1[ns_pat], 0.02)
    nreps = course.n_on[ns_pat] - ns_k0
    q_pat = np.repeat(ns_pat, nreps)
    q_k = np.repeat(ns_k0, nreps) + _within_index(nreps)
    q_month = sched.on_month[q_pat, q_k]
    q_d = np.repeat(ns_d0, nreps) * np.exp(
        np.repeat(ns_rate, nreps) * (q_month - np.repeat(ns_t0, nreps))
        + rng.normal(0.0, opts.measurement_sd_log, q_pat.size)
    )
    return _LesionRows(
        pat=q_pat,
        day=sched.on_day[q_pat, q_k],
        kind=np.full(q_pat.size, 2, dtype=np.int8),
        num=np.repeat(ns_num, nreps),
        organ=np.repeat(ns_organ, nreps),
        diameter=np.round(np.clip(q_d, 3.0, 400.0), 1),
        not_evaluable=np.zeros(q_pat.size, dtype=bool),
        status=np.ones(q_pat.size, dtype=np.int8),
    )


def _lesions_table(
    pid: np.ndarray, start_day: np.ndarray, *, base: _LesionRows, new: _LesionRows
) -> pd.DataFrame:
    """The contract's lesions table (no random draws): the baseline-lesion rows ``base`` and the
    new-lesion rows ``new`` together, sorted by patient, date and lesion id as text. ``pid``:
    the patient ids; ``start_day``: each patient's first dose (days since 1970-01-01), the origin
    of the rows' days."""
    all_pat = np.concatenate([base.pat, new.pat])
    all_day = np.concatenate([base.day, new.day])
    all_kind = np.concatenate([base.kind, new.kind])
    all_num = np.concatenate([base.num, new.num])
    all_organ = np.concatenate([base.organ, new.organ])
    all_d = np.concatenate([base.diameter, new.diameter])
    all_ne = np.concatenate([base.not_evaluable, new.not_evaluable])
    all_status = np.concatenate([base.status, new.status])
    order = _merge_new_lesion_rows(
        all_pat, all_day, all_kind, all_num=all_num, n_baseline_rows=base.pat.size
    )

    kind_names = np.array(["target", "non_target", "new"], dtype=object)
    prefix = np.array(["T", "NT", "N"], dtype=object)
    max_num = int(max(all_num.max(initial=1), 1))
    id_table = np.array([[f"{p}{i}" for i in range(max_num + 1)] for p in prefix], dtype=object)
    status_names = np.array([None, "present", "absent", "unequivocal_progression"], dtype=object)
    organ_names = np.array(ORGANS, dtype=object)
    ak, an, ap = all_kind[order], all_num[order], all_pat[order]
    columns = {
        "patient_id": lambda: pid[ap],
        "assessment_date": lambda: _to_date(start_day[ap] + all_day[order]),
        "lesion_id": lambda: id_table[ak, an],
        "lesion_type": lambda: kind_names[ak],
        "organ": lambda: organ_names[all_organ[order]],
        "diameter_mm": lambda: all_d[order],
        "status": lambda: status_names[all_status[order]],
        "not_evaluable": lambda: all_ne[order],
    }
    return _frame_by_columns(columns, len(order))


def _merge_new_lesion_rows(
    all_pat: np.ndarray,
    all_day: np.ndarray,
    all_kind: np.ndarray,
    *,
    all_num: np.ndarray,
    n_baseline_rows: int,
) -> np.ndarray:
    """Row order: patient, date, lesion_id as text (N.. < NT.. < T..; numbers stay < 10), the
    order the loader expects. The baseline-lesion rows (the first ``n_baseline_rows``) are
    generated in that order already; the few new-lesion rows are merged in (O(rows), no full
    sort)."""
    day_off = all_day - all_day.min(initial=0)
    day_span = int(day_off.max(initial=0)) + 1
    key = ((all_pat.astype(np.int64) * day_span + day_off) * 4 + (2 - all_kind)) * 64 + all_num
    n_r = n_baseline_rows
    q_order = np.argsort(key[n_r:], kind="stable")
    q_pos = np.searchsorted(key[:n_r], key[n_r:][q_order]) + np.arange(q_order.size)
    is_q = np.zeros(key.size, dtype=bool)
    is_q[q_pos] = True
    order = np.empty(key.size, dtype=np.int64)
    order[is_q] = n_r + q_order
    order[~is_q] = np.arange(n_r)
    return order


# ------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO ``YYYY-MM-DD`` text (empty when missing); other columns unchanged."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            vals = out[col].to_numpy(dtype="datetime64[D]")
            text = np.datetime_as_string(vals, unit="D").astype(object)
            text[np.isnat(vals)] = None
            out[col] = text
    return out


def write_cohort(tables: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "csv") -> Path:
    """Write ``tables`` (``patients``, ``lesions``, optionally ``truth``) into ``out_dir``.

    Files are ``<name>.csv`` (ISO dates, floats as their shortest repr after rounding, ``\\n``
    line ends) or ``<name>.parquet``; the same tables always give byte-identical files. Rows are
    written in the order of the tables (simulate_cohort sorts them). Returns the folder.
    """
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"write_cohort fmt={fmt!r}: expected 'csv' or 'parquet'")
    missing = [k for k in ("patients", "lesions") if k not in tables]
    if missing:
        raise ParameterError(f"write_cohort: tables lack {', '.join(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            from .privacy import neutralize_formulas

            neutralize_formulas(_csv_ready(df)).to_csv(path, index=False, lineterminator="\n")
        else:
            df.reset_index(drop=True).to_parquet(path, index=False, engine="pyarrow")
    return out
