"""Per-patient reference implementation of the HPD classification (the independent cross-check).

Written from the specification (``/work/shared/spec/hpd-definitions.md``, ``cohort-format.md``
"Time points") in the plainest possible style: one Python loop over the patients, scalar
arithmetic, one small function per clinical rule. It shares no code with the vectorized package
(``hpd_analysis.timepoints`` / ``kinetics`` / ``definitions`` / ``classify``); it only reads the
cohort-wide parameters from :class:`hpd_analysis.params.Parameters`. It is slow on purpose
(readability over speed): ``benchmarks/bench.py`` times it against ``classify`` and
``tests/test_reference.py`` checks that both give the same verdict for every patient.

Where the spec leaves a choice open, the reference follows the package's *documented* choice
(module docstrings, definition notes); every such choice is marked ``CHOICE:`` in a comment.

Public functions
----------------
- :func:`reference_classify` ``(cohort, params=None, thresholds=None) -> DataFrame``: one row per
  patient (``cohort.patients`` order): ``patient_id``, the intermediate quantities (dates, SLD in
  mm, TGR in %/month, TGK in mm/month, ratios, RECIST at first evaluation, ...) and
  ``hpd_<code>`` for the nine published definitions (True / False / None = not evaluable).
- :func:`reference_patient` ``(patient, lesion_rows, params, thresholds) -> dict``: the same for one
  patient (a dict of the patients row and a list of dicts, one per lesion row).
- :func:`compare_classifications` ``(fast, reference, codes=None) -> DataFrame``: every
  (patient, definition) whose verdicts differ (NA and None both mean "not evaluable").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from hpd_analysis.params import Parameters

#: the nine published definitions, in registry order
CODES = (
    "champiat2017",
    "saada_bouzid2017",
    "ferrara2018",
    "kato2017",
    "lo_russo2019",
    "kim2019",
    "matos2020",
    "gandara2018_fp",
    "kas2020",
)

#: default thresholds of each definition (hpd-definitions.md); overridable per call
DEFAULT_THRESHOLDS: dict[str, dict[str, Any]] = {
    "champiat2017": {"tgr_ratio_min": 2.0},
    "saada_bouzid2017": {"tgk_ratio_min": 2.0, "require_recist_pd": False},
    "ferrara2018": {"delta_tgr_min": 50.0},
    "kato2017": {
        "ttf_max_months": 2.0,
        "burden_increase_min_pct": 50.0,
        "pace_ratio_min": 2.0,
        "pace": "tgk",
    },
    "lo_russo2019": {
        "require_recist_pd": True,
        "min_criteria": 3,
        "ttf_max_months": 2.0,
        "sld_increase_min_pct": 50.0,
        "new_lesions_in_organ_min": 2,
        "new_organs_min": 1,
        "ecog_rule": "delta_ge_2",
        "ecog_worsening_min": 2,
    },
    "kim2019": {
        "tgk_ratio_min": 2.0,
        "tgr_ratio_min": 2.0,
        "reference_period_days": 84,
        "experimental_period_days": 84,
        "require_recist_pd": False,
    },
    "matos2020": {
        "first_eval_max_days": 56,
        "sld_increase_min_pct": 40.0,
        "sld_increase_with_new_organs_min_pct": 20.0,
        "new_lesion_organs_min": 2,
        "require_abs_increase": False,
        "abs_increase_min_mm": 10.0,
        "require_ttf": False,
        "ttf_max_months": 2.0,
    },
    "gandara2018_fp": {
        "sld_increase_min_pct": 50.0,
        "first_assessment_max_days": 42,
        "death_max_days": 84,
    },
    "kas2020": {"delta_tgr_min": 100.0},
}

#: tolerance of the RECIST thresholds (so that exactly +20 % / +5 mm / -30 % meet them)
RECIST_TOL = 1e-9

#: death causes read as "death from progression" (CHOICE: as documented in classify.py)
_DEATH_CAUSE_COLUMNS = ("death_cause", "cause_of_death")
_PROGRESSION_WORDS = ("progress", "tumor", "tumour", "cancer", "malignan")


# =============================================================================================
# small scalar helpers
# =============================================================================================


def _missing(x: Any) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _as_date(x: Any) -> date | None:
    """A calendar date (time of day dropped), or None."""
    if _missing(x):
        return None
    return pd.Timestamp(x).date()


def _num(x: Any) -> float | None:
    """A float, or None when missing."""
    return None if _missing(x) else float(x)


def _is_true(x: Any) -> bool:
    return (not _missing(x)) and bool(x)


def _norm_organ(x: Any) -> str | None:
    """Organ names compared case- and space-insensitively (CHOICE: timepoints docstring)."""
    if _missing(x):
        return None
    s = str(x).strip().lower()
    return s or None


# ---- three-valued (Kleene) logic: True / False / None (unknown) -----------------------------


def _all(*values: bool | None) -> bool | None:
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return None


def _any(*values: bool | None) -> bool | None:
    if any(v is True for v in values):
        return True
    if all(v is False for v in values):
        return False
    return None


def _at_least(k: int, values: list[bool | None]) -> bool | None:
    n_true = sum(1 for v in values if v is True)
    n_unknown = sum(1 for v in values if v is None)
    if n_true >= k:
        return True
    if n_true + n_unknown < k:
        return False
    return None


def _ge(x: float | None, threshold: float) -> bool | None:
    return None if x is None or math.isnan(x) else x >= threshold


def _gt(x: float | None, threshold: float) -> bool | None:
    return None if x is None or math.isnan(x) else x > threshold


def _le(x: float | None, threshold: float) -> bool | None:
    return None if x is None or math.isnan(x) else x <= threshold


def _is_pd(recist: str) -> bool | None:
    """RECIST PD at first evaluation; NE is unknown (CHOICE: architecture.md three-valued logic:
    an unknown criterion makes the definition not evaluable unless another one decides)."""
    return None if recist == "NE" else recist == "PD"


# =============================================================================================
# kinetics (hpd-definitions.md "Kinetic quantities")
# =============================================================================================


def tgr_scalar(
    s_a: float | None, s_b: float | None, days: float | None, days_per_month: float
) -> float | None:
    """TGR in % of tumour volume per month: ``100·(exp(3·ln(S_b/S_a)/t) − 1)``, t in months.

    None when an input is missing, ``S_a <= 0`` (log of 0), ``S_b < 0`` or ``days <= 0``.
    ``S_b = 0`` (the tumour vanished) gives −100 (CHOICE: kinetics docstring; the log limit).
    """
    if s_a is None or s_b is None or days is None:
        return None
    if s_a <= 0 or s_b < 0 or days <= 0:
        return None
    months = days / days_per_month
    if s_b == 0:
        return -100.0
    return 100.0 * math.expm1(3.0 * math.log(s_b / s_a) / months)


def tgk_scalar(
    s_a: float | None, s_b: float | None, days: float | None, days_per_month: float, mode: str
) -> float | None:
    """TGK: SLD slope in mm per month (``absolute``) or % of ``S_a`` per month (``relative``)."""
    if s_a is None or s_b is None or days is None:
        return None
    if s_a < 0 or s_b < 0 or days <= 0:
        return None
    months = days / days_per_month
    slope = (s_b - s_a) / months
    if mode == "relative":
        if s_a == 0:
            return None
        return 100.0 * slope / s_a
    return slope


def ratio_scalar(on: float | None, pre: float | None, policy: str) -> float | None:
    """``on / pre`` under the ``nonpositive_pre_growth`` policy (params.py)."""
    if on is None or pre is None:
        return None
    if pre > 0:
        return on / pre
    if policy == "not_evaluable":
        return None  # pre = 0: undefined; pre < 0: shrinking before treatment
    if policy == "ratio":
        return None if pre == 0 else on / pre
    # infinite_if_on_positive
    return math.inf if on > 0 else None


# =============================================================================================
# one patient
# =============================================================================================


def _sld_on(
    scan: date, rows_by_date: dict[date, list[dict]], target_ids: list[str]
) -> float | None:
    """Sum of the diameters of the baseline target lesions on ``scan`` (mm), or None.

    RECIST: every baseline target lesion must be measured exactly once on that scan, else the
    sum is not evaluable. CHOICE (timepoints docstring): lesions are matched by ``lesion_id``
    whatever their ``lesion_type`` on the later scan; a target recorded ``absent`` without a
    diameter counts as 0 mm; a row flagged ``not_evaluable`` is not measured.
    """
    if not target_ids:
        return None
    found: dict[str, list[float]] = {lid: [] for lid in target_ids}
    for r in rows_by_date.get(scan, []):
        lid = r["lesion_id"]
        if lid not in found:
            continue
        if _is_true(r.get("not_evaluable")):
            continue
        d = _num(r.get("diameter_mm"))
        if d is None and r.get("status") == "absent":
            d = 0.0
        if d is not None:
            found[lid].append(d)
    total = 0.0
    for lid in target_ids:
        if len(found[lid]) != 1:
            return None
        total += found[lid][0]
    return total


def _targets_gone(scan: date, rows_by_date: dict[date, list[dict]], target_ids: list[str]) -> bool:
    """RECIST target CR: every non-nodal target 0 mm and every nodal target < 10 mm."""
    for lid in target_ids:
        rows = [r for r in rows_by_date.get(scan, []) if r["lesion_id"] == lid]
        if len(rows) != 1:
            return False
        r = rows[0]
        d = _num(r.get("diameter_mm"))
        if d is None and r.get("status") == "absent":
            d = 0.0
        if d is None:
            return False
        if _is_true(r.get("is_lymph_node")):
            if d >= 10.0:
                return False
        elif d != 0.0:
            return False
    return True


def _recist_first_eval(
    s0: float | None,
    s1: float | None,
    has_fe: bool,
    gone: bool,
    new_lesion: bool,
    nt_progression: bool,
    nt_all_absent: bool,
) -> str:
    """RECIST 1.1 overall response at the first evaluation (nadir = baseline).

    PD: SLD +20 % and +5 mm over baseline, or any new lesion, or unequivocal non-target
    progression (CHOICE: a new lesion or non-target progression gives PD even when the target sum
    is not evaluable, as RECIST 1.1 table 1). Otherwise NE when the target sum is missing; CR
    (targets gone, non-targets gone or none, no new lesion); PR (-30 %); SD.
    """
    if not has_fe:
        return "NE"
    target_pd = False
    if s0 is not None and s1 is not None:
        rise = s1 - s0
        target_pd = rise >= 5.0 - RECIST_TOL and rise >= 0.20 * s0 - RECIST_TOL * max(s0, 1.0)
    if target_pd or new_lesion or nt_progression:
        return "PD"
    if s0 is None or s1 is None:
        return "NE"
    if gone:
        return "CR" if nt_all_absent else "PR"
    if s1 - s0 <= -0.30 * s0 + RECIST_TOL * max(s0, 1.0):
        return "PR"
    return "SD"


def _ttf(
    patient: Mapping[str, Any], start: date | None, dpm: float
) -> tuple[float | None, int | None]:
    """Time to treatment failure (months) and event flag (1 = failure, 0 = censored).

    Spec: t_start → discontinuation for any reason (death included). The failure date is the
    earlier of ``treatment_end`` and ``death_date``; without one the patient is censored at
    ``last_contact``. CHOICE (endpoints docstring): given ``ttf_months``/``ttf_event`` win over
    the dates; a time before ``treatment_start`` is unknown.
    """
    given_t, given_e = _num(patient.get("ttf_months")), _num(patient.get("ttf_event"))
    if given_t is not None and given_e is not None and given_t >= 0:
        return given_t, int(given_e)
    if start is None:
        return None, None
    ends = [
        d
        for d in (_as_date(patient.get("treatment_end")), _as_date(patient.get("death_date")))
        if d is not None
    ]
    if ends:
        days, event = (min(ends) - start).days, 1
    else:
        last = _as_date(patient.get("last_contact"))
        if last is None:
            return None, None
        days, event = (last - start).days, 0
    if days < 0:
        return None, None
    return days / dpm, event


def _ttf_below(ttf: float | None, event: int | None, limit: float) -> bool | None:
    """TTF < ``limit`` months, censoring-aware: a censored TTF below the limit is unknown.

    CHOICE (definitions docstring): a patient censored (still on treatment) at 1.5 months does
    not tell whether TTF < 2 months; one censored at 3 months does (it is not).
    """
    if ttf is None or event is None:
        return None
    if ttf >= limit:
        return False
    return True if event == 1 else None


def _death_day(patient: Mapping[str, Any], start: date | None, dpm: float) -> float | None:
    """Day of death from treatment start (``death_date``, else ``os_months`` with an event)."""
    d = _as_date(patient.get("death_date"))
    if d is not None and start is not None:
        return float((d - start).days)
    os_m, os_e = _num(patient.get("os_months")), _num(patient.get("os_event"))
    if d is None and os_m is not None and os_e == 1:
        return os_m * dpm
    return None


def _death_from_progression(patient: Mapping[str, Any], params: Parameters) -> bool:
    """Cause of death names progression; without a recorded cause, the parameter decides.

    CHOICE (classification.py): a coded ``death_from_progression`` (yes/no, true/false, 1/0)
    decides first; else a ``death_cause``/``cause_of_death`` text mentioning progression, PD,
    tumour, cancer or malignancy is death from progression, unless one of the negating words
    (non, not, no, without, unrelated, other than) stands at most three words before it ("non-cancer
    death"); any other text is not.
    """
    coded = patient.get("death_from_progression")
    if "death_from_progression" in patient and not _missing(coded):
        word = str(coded).strip().lower()
        if word in ("yes", "y", "true", "1", "1.0"):
            return True
        if word in ("no", "n", "false", "0", "0.0"):
            return False
    for col in _DEATH_CAUSE_COLUMNS:
        cause = patient.get(col)
        if col in patient and not _missing(cause) and str(cause).strip():
            text = str(cause).strip().lower()
            words = "".join(ch if ch.isalnum() else " " for ch in text).split()
            hits = [
                i
                for i, w in enumerate(words)
                if w == "pd"
                or any(w.startswith(p) for p in _PROGRESSION_WORDS)
                or any(p in w for p in _PROGRESSION_WORDS)
            ]
            if not hits:
                return False
            for i in hits:
                before = words[max(0, i - 4) : i]
                joined = " ".join(words[max(0, i - 5) : i])
                if not (
                    set(before) & {"non", "not", "no", "without", "unrelated"}
                    or "other than" in joined
                ):
                    return True
            return False
        if col in patient:
            break  # the first cause column present decides; empty -> the parameter
    return bool(params.death_without_cause_is_progression)


def reference_patient(
    patient: Mapping[str, Any],
    lesion_rows: list[dict[str, Any]],
    params: Parameters,
    thresholds: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Features and verdicts of one patient (see module docstring). Units: mm, days, months."""
    w = params.windows
    dpm = params.days_per_month
    start = _as_date(patient.get("treatment_start"))

    # ---- scans: every distinct assessment date with any lesion row (CHOICE: timepoints; a
    # date with only non-target or new-lesion rows is a scan too) ---------------------------
    rows_by_date: dict[date, list[dict]] = {}
    for r in lesion_rows:
        rows_by_date.setdefault(_as_date(r["assessment_date"]), []).append(r)
    scans = sorted(rows_by_date)

    def day_of(d: date) -> int:
        return (d - start).days

    baseline = prebaseline = first_eval = None
    if start is not None:
        # baseline: the last scan on or before treatment start, at most 42 days before it
        on_or_before = [d for d in scans if day_of(d) <= 0]
        if on_or_before and day_of(on_or_before[-1]) >= -w.baseline_max_days_before:
            baseline = on_or_before[-1]
        # first evaluation: the first scan after treatment start, on or after day 14
        for d in scans:
            dd = day_of(d)
            if (
                dd > 0
                and dd >= w.first_eval_min_days
                and (w.first_eval_max_days is None or dd <= w.first_eval_max_days)
            ):
                first_eval = d
                break

    # baseline target lesions (their ids, in order)
    target_ids: list[str] = []
    if baseline is not None:
        target_ids = [
            r["lesion_id"] for r in rows_by_date[baseline] if r["lesion_type"] == "target"
        ]

    s0 = _sld_on(baseline, rows_by_date, target_ids) if baseline is not None else None
    if s0 is not None:
        # RECIST 1.1 measurability (params.Rules): every non-nodal target >= 10 mm, every nodal
        # target >= 15 mm short axis at baseline, else the baseline has no measurable SLD
        rules = params.rules
        for r in rows_by_date[baseline]:
            if r["lesion_type"] != "target" or _is_true(r.get("not_evaluable")):
                continue
            d = _num(r.get("diameter_mm"))
            if d is None and r.get("status") == "absent":
                d = 0.0
            limit = (
                rules.baseline_node_min_mm
                if _is_true(r.get("is_lymph_node"))
                else rules.baseline_target_min_mm
            )
            if d is not None and d < limit:
                s0 = None
    if baseline is not None:
        # pre-baseline: scans 1-183 days before baseline; the latest one with every baseline
        # target measured (CHOICE: timepoints docstring); when none is, the latest one in the
        # window (its SLD is then not evaluable).
        window = [
            d
            for d in scans
            if w.prebaseline_min_days_before_baseline
            <= (baseline - d).days
            <= w.prebaseline_max_days_before_baseline
        ]
        evaluable = [d for d in window if _sld_on(d, rows_by_date, target_ids) is not None]
        if evaluable:
            prebaseline = evaluable[-1]
        elif window:
            prebaseline = window[-1]
    s_pre = _sld_on(prebaseline, rows_by_date, target_ids) if prebaseline is not None else None
    s1 = _sld_on(first_eval, rows_by_date, target_ids) if first_eval is not None else None

    # ---- first evaluation: RECIST, new lesions, organs ---------------------------------------
    fe_rows = rows_by_date.get(first_eval, []) if first_eval is not None else []
    base_rows = rows_by_date.get(baseline, []) if baseline is not None else []
    # CHOICE (timepoints docstring): a new lesion counts when its status is not 'absent'
    new_rows = [r for r in fe_rows if r["lesion_type"] == "new" and r.get("status") != "absent"]
    nt_progression = any(
        r["lesion_type"] == "non_target" and r.get("status") == "unequivocal_progression"
        for r in fe_rows
    )
    baseline_nt = {r["lesion_id"] for r in base_rows if r["lesion_type"] == "non_target"}
    nt_absent = {
        r["lesion_id"]
        for r in fe_rows
        if r["lesion_id"] in baseline_nt and r.get("status") == "absent"
    }
    nt_all_absent = nt_absent == baseline_nt  # True also when there is no non-target lesion
    gone = (
        first_eval is not None
        and bool(target_ids)
        and _targets_gone(first_eval, rows_by_date, target_ids)
    )
    recist = _recist_first_eval(
        s0, s1, first_eval is not None, gone, bool(new_rows), nt_progression, nt_all_absent
    )

    involved = {_norm_organ(r.get("organ")) for r in base_rows} - {None}
    new_organs = n_new_organ_sites = max_new_in_involved = None
    if first_eval is not None:
        organs = [_norm_organ(r.get("organ")) for r in new_rows]
        if all(o is not None for o in organs):  # an unknown organ makes the counts unknown
            per_organ: dict[str, int] = {}
            for o in organs:
                per_organ[o] = per_organ.get(o, 0) + 1
            new_organs = float(len([o for o in per_organ if o not in involved]))
            max_new_in_involved = float(
                max([c for o, c in per_organ.items() if o in involved], default=0)
            )
            # Matos: 'new lesions in >= 2 different organs' = distinct organs with a new lesion
            n_new_organ_sites = float(len(per_organ))

    # ---- changes and kinetics ---------------------------------------------------------------
    pct = chg = None
    if s0 is not None and s1 is not None:
        chg = s1 - s0
        pct = 100.0 * chg / s0 if s0 > 0 else None
    days_pre = (baseline - prebaseline).days if prebaseline is not None else None
    days_on = (
        (first_eval - baseline).days if first_eval is not None and baseline is not None else None
    )
    first_eval_day = float(day_of(first_eval)) if first_eval is not None else None
    days_pre_to_start = float((start - prebaseline).days) if prebaseline is not None else None

    tgr_pre = tgr_scalar(s_pre, s0, days_pre, dpm)
    if s0 == 0:  # CHOICE (kinetics docstring): S_0 = 0 is 'log of 0' for TGR_pre as well
        tgr_pre = None
    tgr_on = tgr_scalar(s0, s1, days_on, dpm)
    tgk_pre = tgk_scalar(s_pre, s0, days_pre, dpm, params.tgk_mode)
    tgk_on = tgk_scalar(s0, s1, days_on, dpm, params.tgk_mode)
    policy = params.nonpositive_pre_growth
    tgr_ratio = ratio_scalar(tgr_on, tgr_pre, policy)
    tgk_ratio = ratio_scalar(tgk_on, tgk_pre, policy)
    # noise floor (params.Guards): a pre-treatment change |S_0 / S_pre - 1| below the floor (%)
    # is measurement error: neither ratio is evaluable
    floor = params.guards.pre_change_floor_pct
    if (
        floor > 0
        and s_pre is not None
        and s0 is not None
        and s_pre > 0
        and abs(s0 / s_pre - 1.0) * 100.0 < floor
    ):
        tgr_ratio = tgk_ratio = None
    delta_tgr = tgr_on - tgr_pre if (tgr_on is not None and tgr_pre is not None) else None

    # ---- clinical inputs ----------------------------------------------------------------------
    ttf, ttf_event = _ttf(patient, start, dpm)
    death_day = _death_day(patient, start, dpm)
    died_of_progression = death_day is not None and _death_from_progression(patient, params)
    n_post = sum(1 for d in scans if start is not None and day_of(d) > 0)
    eb, ef = _num(patient.get("ecog_baseline")), _num(patient.get("ecog_first_eval"))
    ecog_delta = ef - eb if (eb is not None and ef is not None) else None

    feats = {
        "patient_id": patient["patient_id"],
        "prebaseline_date": prebaseline,
        "baseline_date": baseline,
        "first_eval_date": first_eval,
        "sld_prebaseline_mm": s_pre,
        "sld_baseline_mm": s0,
        "sld_first_eval_mm": s1,
        "sld_pct_change_first_eval": pct,
        "sld_change_first_eval_mm": chg,
        "first_eval_day": first_eval_day,
        "days_prebaseline_to_start": days_pre_to_start,
        "tgr_pre": tgr_pre,
        "tgr_on": tgr_on,
        "tgr_ratio": tgr_ratio,
        "delta_tgr": delta_tgr,
        "tgk_pre": tgk_pre,
        "tgk_on": tgk_on,
        "tgk_ratio": tgk_ratio,
        "recist_first_eval": recist,
        "new_lesions_first_eval": float(len(new_rows)) if first_eval is not None else None,
        "new_organs_first_eval": new_organs,
        "max_new_lesions_in_involved_organ_first_eval": max_new_in_involved,
        "n_organs_with_new_lesions_first_eval": n_new_organ_sites,
        "n_post_baseline_scans": n_post,
        "ttf_months": ttf,
        "ttf_event": ttf_event,
        "death_day": death_day,
        "ecog_delta": ecog_delta,
    }
    verdicts = _definitions(
        feats, prebaseline is not None, s0 is not None, died_of_progression, ef, thresholds
    )
    feats.update({f"hpd_{code}": v for code, v in verdicts.items()})
    return feats


# =============================================================================================
# the nine definitions (hpd-definitions.md table), each a plain function of the features
# =============================================================================================


def _definitions(
    f: Mapping[str, Any],
    has_pre: bool,
    measurable: bool,
    died_of_progression: bool,
    ecog_first_eval: float | None,
    th: Mapping[str, Mapping[str, Any]],
) -> dict[str, bool | None]:
    pd_first = _is_pd(f["recist_first_eval"])
    pct = f["sld_pct_change_first_eval"]
    out: dict[str, bool | None] = {}

    def kinetic(code: str, value: bool | None) -> None:
        # 'needs pre-baseline' is checked first: without the scan the patient is not evaluable
        out[code] = value if has_pre else None

    # Champiat 2017: RECIST PD at first evaluation and TGR ratio >= 2
    t = th["champiat2017"]
    kinetic("champiat2017", _all(pd_first, _ge(f["tgr_ratio"], t["tgr_ratio_min"])))

    # Saada-Bouzid 2017: TGK ratio >= 2 (no RECIST requirement)
    t = th["saada_bouzid2017"]
    kinetic(
        "saada_bouzid2017",
        _all(pd_first if t["require_recist_pd"] else True, _ge(f["tgk_ratio"], t["tgk_ratio_min"])),
    )

    # Ferrara 2018: RECIST PD and delta TGR > 50 (strictly)
    t = th["ferrara2018"]
    kinetic("ferrara2018", _all(pd_first, _gt(f["delta_tgr"], t["delta_tgr_min"])))

    # Kato 2017: TTF < 2 months and > 50 % SLD rise vs baseline (CHOICE: 'pre-treatment imaging'
    # is the baseline scan) and > 2-fold pace (CHOICE: pace = TGK ratio, strictly greater)
    t = th["kato2017"]
    pace = f["tgk_ratio"] if t["pace"] == "tgk" else f["tgr_ratio"]
    kinetic(
        "kato2017",
        _all(
            _ttf_below(f["ttf_months"], f["ttf_event"], t["ttf_max_months"]),
            _gt(pct, t["burden_increase_min_pct"]),
            _gt(pace, t["pace_ratio_min"]),
        ),
    )

    # Lo Russo 2019: RECIST PD (parameter, default on) and >= 3 of 5 criteria; no pre-baseline.
    # CHOICE (definition notes): 'ECOG worsening >= 2 within 2 months' is read on the ECOG at
    # the first evaluation (the cohort format has no ECOG date)
    t = th["lo_russo2019"]
    if t["ecog_rule"] == "delta_ge_2":
        ecog = _ge(f["ecog_delta"], t["ecog_worsening_min"])
    else:  # reaches_ge_2: ECOG >= 2 at first evaluation and worse than at baseline
        ecog = _all(_ge(ecog_first_eval, t["ecog_worsening_min"]), _ge(f["ecog_delta"], 1))
    five = [
        _ttf_below(f["ttf_months"], f["ttf_event"], t["ttf_max_months"]),
        _ge(pct, t["sld_increase_min_pct"]),
        _ge(f["max_new_lesions_in_involved_organ_first_eval"], t["new_lesions_in_organ_min"]),
        _ge(f["new_organs_first_eval"], t["new_organs_min"]),
        ecog,
    ]
    enough = _at_least(int(t["min_criteria"]), five)
    out["lo_russo2019"] = _all(pd_first, enough) if t["require_recist_pd"] else enough

    # Kim 2019: TGK ratio >= 2 and TGR ratio >= 2; CHOICE (definition notes): the 12-week
    # reference / on-treatment periods are eligibility windows (pre-baseline scan <= 84 days
    # before treatment start, first evaluation <= day 84), not evaluable outside them
    t = th["kim2019"]
    in_periods = (
        has_pre
        and f["days_prebaseline_to_start"] is not None
        and f["days_prebaseline_to_start"] <= t["reference_period_days"]
        and f["first_eval_day"] is not None
        and f["first_eval_day"] <= t["experimental_period_days"]
    )
    out["kim2019"] = (
        _all(
            pd_first if t["require_recist_pd"] else True,
            _ge(f["tgk_ratio"], t["tgk_ratio_min"]),
            _ge(f["tgr_ratio"], t["tgr_ratio_min"]),
        )
        if in_periods
        else None
    )

    # Matos 2020: RECIST PD at a first evaluation within 8 weeks, with SLD >= +40 %, or >= +20 %
    # plus new lesions in >= 2 different organs (CHOICE: a later first evaluation is 'not HPD')
    t = th["matos2020"]
    items = [
        pd_first,
        _le(f["first_eval_day"], t["first_eval_max_days"]),
        _any(
            _ge(pct, t["sld_increase_min_pct"]),
            _all(
                _ge(pct, t["sld_increase_with_new_organs_min_pct"]),
                _ge(f["n_organs_with_new_lesions_first_eval"], t["new_lesion_organs_min"]),
            ),
        ),
    ]
    if t["require_abs_increase"]:
        items.append(_ge(f["sld_change_first_eval_mm"], t["abs_increase_min_mm"]))
    if t["require_ttf"]:
        items.append(_ttf_below(f["ttf_months"], f["ttf_event"], t["ttf_max_months"]))
    out["matos2020"] = _all(*items)

    # Gandara 2018 (OAK) fast progression: >= 50 % SLD rise at a first assessment within 6 weeks,
    # or death from progression within 12 weeks without any post-baseline scan. CHOICE: a patient
    # with no recorded death did not die (the death branch is False, not unknown).
    t = th["gandara2018_fp"]
    death_branch = (
        f["n_post_baseline_scans"] == 0
        and f["death_day"] is not None
        and f["death_day"] <= t["death_max_days"]
        and died_of_progression
    )
    # CHOICE (registry notes): as OAK counted all treated patients, the imaging branch is False
    # (not unknown) without any post-baseline scan
    n_post = f["n_post_baseline_scans"]
    scanned = None if n_post is None else n_post >= 1
    out["gandara2018_fp"] = _any(
        _all(
            scanned,
            _le(f["first_eval_day"], t["first_assessment_max_days"]),
            _ge(pct, t["sld_increase_min_pct"]),
        ),
        death_branch,
    )

    # Kas 2020: RECIST PD and delta TGR > 100 (strictly)
    t = th["kas2020"]
    kinetic("kas2020", _all(pd_first, _gt(f["delta_tgr"], t["delta_tgr_min"])))

    # CHOICE (definitions registry, docs/definitions.md): the RECIST-based studies enrolled
    # patients with measurable disease, so every definition but the OAK fast-progression one
    # first requires an evaluable baseline target sum; without it the patient is not evaluable
    if not measurable:
        for code in CODES:
            if code != "gandara2018_fp":
                out[code] = None
    return {code: out[code] for code in CODES}


# =============================================================================================
# whole cohort
# =============================================================================================


def _thresholds(overrides: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    th = {code: dict(v) for code, v in DEFAULT_THRESHOLDS.items()}
    for code, values in (overrides or {}).items():
        unknown = set(values) - set(th[code])
        if unknown:
            raise ValueError(f"{code}: unknown threshold(s) {sorted(unknown)}")
        th[code].update(values)
    return th


def reference_classify(
    cohort: Any,
    params: Parameters | None = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Classify every patient of a canonical lesion-level cohort, one patient at a time.

    ``cohort``: a :class:`hpd_analysis.cohort.Cohort` (``patients`` + long ``lesions``; a cohort
    without lesions gives every kinetic verdict not evaluable). Returns one row per patient in
    ``cohort.patients`` order with the intermediate features and ``hpd_<code>`` (True / False /
    None) for the nine definitions. Units: SLD mm, TGR %/month, TGK mm/month, days, months.
    """
    params = params or Parameters()
    th = _thresholds(thresholds)
    lesions = cohort.lesions
    if (
        getattr(cohort, "assessments", None) is not None
        or getattr(cohort, "scans_wide", None) is not None
    ):
        if lesions is None:
            raise NotImplementedError("the reference handles lesion-level cohorts only")
    groups: dict[Any, list[dict[str, Any]]] = {}
    if lesions is not None and len(lesions):
        # the lesion rows as plain dicts (one conversion for the table: DataFrame.to_dict per
        # group would cost 90 % of the run), then each patient's rows from the groupby
        records = lesions.to_dict("records")
        for pid, positions in lesions.groupby("patient_id", sort=False).indices.items():
            groups[pid] = [records[i] for i in positions]
    out = []
    for patient in cohort.patients.to_dict("records"):
        out.append(reference_patient(patient, groups.get(patient["patient_id"], []), params, th))
    table = pd.DataFrame(out)
    for code in CODES:
        table[f"hpd_{code}"] = table[f"hpd_{code}"].astype(object)
    return table


def _verdicts(values: pd.Series) -> list[bool | None | str]:
    """Verdicts as plain True / False / None (any kind of missing value is None)."""
    return [None if _missing(v) else bool(v) for v in values.tolist()]


def compare_classifications(
    fast: pd.DataFrame, reference: pd.DataFrame, codes: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every (patient, definition) where ``fast`` and ``reference`` give different verdicts.

    Both tables need ``patient_id`` and ``hpd_<code>``; NA / None / NaN all mean not evaluable.
    Rows are matched by ``patient_id`` (a patient or a definition column missing on one side is a
    mismatch, shown as ``"missing"``). Returns ``patient_id, definition, fast, reference,
    fast_reason`` (empty when they agree).
    """
    codes = (
        list(codes)
        if codes is not None
        else [c for c in CODES if f"hpd_{c}" in fast.columns or f"hpd_{c}" in reference.columns]
    )
    f = fast.set_index("patient_id")
    r = reference.set_index("patient_id")
    ids = pd.Index(
        list(dict.fromkeys([*fast["patient_id"].tolist(), *reference["patient_id"].tolist()]))
    )
    in_f, in_r = ids.isin(f.index), ids.isin(r.index)
    rows = []
    for code in codes:
        col = f"hpd_{code}"
        fv = _verdicts(f[col].reindex(ids)) if col in f.columns else [None] * len(ids)
        rv = _verdicts(r[col].reindex(ids)) if col in r.columns else [None] * len(ids)
        fv = [v if ok and col in f.columns else "missing" for v, ok in zip(fv, in_f, strict=True)]
        rv = [v if ok and col in r.columns else "missing" for v, ok in zip(rv, in_r, strict=True)]
        reasons = (
            f[f"{col}_reason"].reindex(ids).tolist()
            if f"{col}_reason" in f.columns
            else [None] * len(ids)
        )
        for pid, a, b, why in zip(ids, fv, rv, reasons, strict=True):
            if a != b:
                rows.append(
                    {
                        "patient_id": pid,
                        "definition": code,
                        "fast": a,
                        "reference": b,
                        "fast_reason": why,
                    }
                )
    return pd.DataFrame(
        rows, columns=["patient_id", "definition", "fast", "reference", "fast_reason"]
    )
