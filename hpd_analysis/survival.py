"""Survival by group: Kaplan–Meier, log-rank test, Cox hazard ratio, landmark analysis.

Curves, log-rank tests and Cox fits come from lifelines; medians and the proportional-hazards test
follow R survival 3.5.3 exactly:

- **Kaplan–Meier** (:class:`lifelines.KaplanMeierFitter` for the curves) per group; the median
  and its CI (:func:`km_median`) follow R's ``survfit`` exactly (survival 3.5.3,
  ``conf.type = "log-log"``): pointwise CI from Greenwood's variance on the log(−log) scale,
  the median where the curve reaches 0.5 — the **midpoint** of the interval where it sits exactly
  at 0.5 (R's convention; lifelines takes the start: 4 deaths at 1, 2, 3, 4 months give R 2.5,
  lifelines 2) — and the CI bounds where the bands reach 0.5. ``inf`` means "not reached"; an
  upper CI bound is NaN when it is not estimable (the log-log band does not exist at S = 0; R
  prints NA, lifelines the last event time). Medians are in months from the landmark (the
  ``median_method`` column names the method and the landmark day).
- **log-rank test** (:func:`lifelines.statistics.logrank_test` for two groups,
  :func:`~lifelines.statistics.multivariate_logrank_test` for more): one p-value per comparison.
- **hazard ratio**: Cox proportional-hazards model (:class:`lifelines.CoxPHFitter`, Efron ties)
  with the group as the only covariate, one HR per group **versus the reference group**, Wald CI.
  For an HPD grouping the reference is ``non-HPD``, so HPD doing worse gives HR > 1. Newton's
  iterations run to machine precision (:data:`COX_FIT_OPTIONS`): HR, CI and p equal R's
  ``coxph`` to 8 significant digits (lifelines' default stopping rule leaves 5).
- **proportional hazards check**: one HR summarises the comparison only if the hazard ratio is
  constant over time. ``ph_p_value`` is R survival 3.x's ``cox.zph(fit, transform = "km")``:
  the exact score test (Grambsch & Therneau, Biometrika 1994) of adding group × g(t), g = 1 −
  KM(t−) centred over the events (:func:`cox_zph_test`, equal to R to 8 digits; lifelines'
  ``proportional_hazard_test`` is the older approximation of R < 3.0 and differs). When it is
  below ``alpha`` the row gets a note (:data:`NOTE_NON_PROPORTIONAL`): read the Kaplan–Meier
  curves (they often cross), not the single HR.

Landmark analysis (Anderson, Cain & Gelber, J Clin Oncol 1983). HPD status is only known at the
first evaluation: comparing survival from treatment start would credit the patients classified
later with the time they had to survive to be classified (immortal-time / guarantee-time bias). A
landmark analysis uses ONE common time ``L`` for every patient:

- ``landmark="first_eval"`` (default): ``L`` = the **90th percentile**
  (:data:`LANDMARK_QUANTILE`) of ``first_eval_months`` over the patients of the table that have a
  first evaluation (all groups together, before any exclusion) — a time by which the HPD status of
  nearly every patient is known. When grouping by a patient column fixed at treatment start
  (e.g. a randomised arm) the default is **no landmark**: dropping early events there would
  break the comparison;
- ``landmark=<number>``: ``L`` in months, chosen by the analyst (e.g. 2);
- ``landmark=None`` (or ``"none"``): no landmark, time from treatment start
  (``landmark_months`` is NaN in the outputs).

Patients whose event or censoring time is ≤ ``L`` are left out (they were not followed beyond
the landmark) and counted by reason (event / censored before the landmark); the others are
followed from ``L``: time = endpoint time − ``L``. When ``first_eval_months`` is absent or empty
(a cohort without tumour measurements) the default falls back to no landmark, with a note.

**A verdict must be known at the landmark.** When grouping by an HPD definition, each patient's
verdict has a day it became known (:func:`verdict_known_months`): the first evaluation for a
RECIST or kinetic criterion, the death for Gandara's death branch, the treatment failure (or 2
months without one) for Kato's and Lo Russo's TTF < 2 months. A patient whose verdict became
known after ``L`` is left out and counted ("HPD status known only after the landmark"): at
``L`` the groups must be fixed, otherwise the analysis conditions on the future (a Gandara
death-branch HPD patient has no first evaluation and used to be kept).

**Rules that read beyond the landmark** (:func:`rule_horizon_months`: Kato 2017 and Lo Russo
2019 read TTF up to 2 months, Gandara's fast progression death up to day 84, Matos a first
evaluation up to day 56). ``lookahead="extend"`` (default, parameter
``statistics.landmark_lookahead``) raises the default landmark of that comparison to the latest
time the rule reads, so that every verdict is decidable at ``L``; ``"truncate"`` keeps ``L`` and
evaluates the rule with the information available at ``L``: the patients whose verdict was
decided later are left out, as above. An analyst's number is never moved (truncate applies). The
landmark sentence (``info.landmark_rule``, printed under each figure) says which, and gives
the landmark day.

Reporting helpers: :func:`available_endpoints` / :func:`no_endpoint_note` (a cohort without
survival data gets a note, not an error), :func:`progression_tautology_note` (PFS/TTF by an HPD
definition that requires RECIST PD at the first evaluation is partly tautological). A Cox model
that does not converge gives no HR and :data:`NOTE_COX_NOT_CONVERGED`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import CohortError, ParameterError, Problem
from .incidence import group_labels, hpd_column_code
from .params import DAYS_PER_MONTH

ENDPOINTS: tuple[str, ...] = ("os", "pfs", "ttf")
ENDPOINT_NAMES = {
    "os": "overall survival",
    "pfs": "progression-free survival",
    "ttf": "time to treatment failure",
}

#: the estimates of survival.csv: median survival (months) and hazard ratio, with their CIs
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "median_months",
    "median_ci_low",
    "median_ci_high",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
)
#: columns of survival.csv (the contract), then the extra columns that name tests and notes
SURVIVAL_COLUMNS = [
    "endpoint",
    "grouping",
    "group",
    "n",
    "events",
    *ESTIMATE_COLUMNS,
    "logrank_p",
    "landmark_months",
]
EXTRA_COLUMNS = [
    "reference_group",
    "hr_p_value",
    "ph_p_value",
    "hr_method",
    "logrank_test",
    "median_method",
    "ph_test",
    "n_excluded",
    "note",
]

REASON_EVENT_BEFORE = "event before the landmark"
REASON_CENSORED_BEFORE = "censored before the landmark"
REASON_ENDPOINT_MISSING = "endpoint time or event missing"

NOTE_COX_NOT_CONVERGED = (
    "hazard ratio not estimable: the Cox model did not converge (monotone likelihood: one "
    "group's events nearly all precede the other group's times, the HR tends to 0 or infinity); "
    "compare the groups with the Kaplan–Meier curves and the log-rank test"
)

#: note of a group whose proportional-hazards test is below ``alpha`` (``{p}``: its p-value,
#: as :func:`format_p` writes it)
NOTE_NON_PROPORTIONAL = (
    "hazards may not be proportional (cox.zph score test {p}): the hazard ratio "
    "averages a ratio that changes over time; read the Kaplan–Meier curves"
)


#: Newton–Raphson stopping rule of the Cox fit: lifelines stops on a Newton decrement or a relative
#: log-likelihood change (defaults 1e-7, 1e-9), which leaves the HR 5 digits from R; these run
#: Newton to the precision of the floating point numbers: HR, CI and p agree with R coxph to 8+ digits
COX_FIT_OPTIONS: dict[str, float] = {"precision": 1e-20, "r_precision": 0.0, "max_steps": 500}

#: name of the proportional-hazards test in the tables
PH_TEST_NAME = (
    "Grambsch–Therneau score test, time transform 1 − KM(t−) (R survival 3.x cox.zph, "
    'transform = "km", Efron ties), chi-squared 1 df'
)

#: R's tolerance of quantile.survfit: sqrt(.Machine$double.eps)
_R_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def format_p(p: float) -> str:
    """A p-value for a sentence: ``p = 0.032``, ``p < 0.001`` (never ``p = 0``)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


#: quantile of the first-evaluation times that sets the default landmark
LANDMARK_QUANTILE = 0.9
#: exclusion reason: the grouping (HPD status) was only known after the landmark
REASON_CLASSIFIED_AFTER = "HPD status known only after the landmark"


def parse_landmark(value: Any) -> str | float | None:
    """The landmark as a user gives it, parsed in this one place (the report's parameter checks
    call it too): ``"first_evaluation"`` (also spelled ``first_eval``), None (``none``,
    ``null``, empty, ``start``, ``treatment_start``: time from treatment start) or a finite
    number of months ≥ 0; :class:`ParameterError` otherwise."""
    if value is None or (
        isinstance(value, str)
        and value.strip().lower() in ("none", "null", "~", "", "start", "treatment_start")
    ):
        return None
    if isinstance(value, str) and value.strip().lower() in ("first_eval", "first_evaluation"):
        return "first_evaluation"
    expected = "expected first_evaluation, none or a finite number of months >= 0"
    if isinstance(value, bool):
        raise ParameterError(f"landmark={value!r}: {expected}")
    try:
        months = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"landmark={value!r}: {expected}") from None
    if not (np.isfinite(months) and months >= 0):
        raise ParameterError(f"landmark={value!r}: {expected}")
    return months


def resolve_landmark(
    classification: pd.DataFrame, landmark: str | float | None = "first_eval"
) -> tuple[float | None, str]:
    """Landmark time in months (None for no landmark) and a sentence saying how it was chosen.

    ``"first_eval"``: the :data:`LANDMARK_QUANTILE` quantile of ``first_eval_months`` over the
    patients that have one; falls back
    to None (with the reason in the sentence) when the column is absent or empty. A number ≥ 0
    (or numeric text) is used as is; ``None``/``"none"`` means time from treatment start.
    """
    landmark = parse_landmark(landmark)
    if landmark is None:
        return None, "no landmark: time from treatment start"
    if landmark == "first_evaluation":
        col = "first_eval_months"
        if col not in classification.columns:
            return None, "no landmark: first_eval_months absent (no tumour evaluation)"
        fe = pd.to_numeric(classification[col], errors="coerce").astype(float)
        fe = fe[np.isfinite(fe)]
        if fe.empty:
            return None, "no landmark: no patient has a first evaluation"
        value = float(np.quantile(fe.to_numpy(), LANDMARK_QUANTILE))
        return value, (
            f"landmark at the {100 * LANDMARK_QUANTILE:g} % quantile of first-evaluation times, "
            f"{value:.2f} months (over {len(fe)} patients with a first evaluation)"
        )
    value = float(landmark)
    return value, f"landmark at {value:g} months (set by the analyst)"


# --------------------------------------------------------------------------- verdict timing
#: exclusion reason: the day the verdict became known cannot be told (e.g. no first-evaluation
#: time for a verdict read at the first evaluation)
REASON_KNOWN_DAY_MISSING = "day the HPD status became known not recorded"

#: feature columns known at treatment start (pre-treatment scans and covariates)
START_COLUMNS: frozenset[str] = frozenset(
    {
        "prebaseline_date",
        "baseline_date",
        "sld_prebaseline_mm",
        "sld_baseline_mm",
        "tgr_pre",
        "tgk_pre",
        "days_prebaseline_to_start",
        "ecog_baseline",
    }
)
#: feature columns measured at the first evaluation scan (besides every ``*first_eval*`` one)
FIRST_EVAL_COLUMNS: frozenset[str] = frozenset(
    {
        "tgr_on",
        "tgr_ratio",
        "delta_tgr",
        "tgk_on",
        "tgk_ratio",
        "ecog_delta",
    }
)


def _num(data: pd.DataFrame, col: str) -> np.ndarray:
    if col not in data.columns:
        return np.full(len(data), np.nan)
    return pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _death_months(data: pd.DataFrame, days_per_month: float) -> np.ndarray:
    """Months from treatment start to death (inf when alive, NaN when unknown)."""
    dd = _num(data, "death_day") / days_per_month
    if "os_months" in data.columns and "os_event" in data.columns:
        os_t, os_e = _num(data, "os_months"), _num(data, "os_event")
        dd = np.where(np.isnan(dd) & (os_e == 1), os_t, dd)
        dd = np.where(np.isnan(dd) & (os_e == 0), np.inf, dd)
    elif "death_day" in data.columns:
        dd = np.where(np.isnan(dd), np.inf, dd)
    return dd


def atom_known_months(
    data: pd.DataFrame, atom: Any, days_per_month: float = DAYS_PER_MONTH
) -> np.ndarray:
    """Months from treatment start at which each patient's value of ``atom`` (a
    :class:`~hpd_analysis.definitions.Atom`) became known (inf: never).

    - a time to event compared with a threshold X (``ttf_months < 2``): at min(time, X) — the
      event when it came first, else X, when the patient passed X without it;
    - ``days_to_death <= D``: at min(death, D days); ``first_eval_day <= D``: at min(first
      evaluation, D days);
    - ``n_post_baseline_scans``: at the first evaluation when there is a scan, else at death or
      the end of follow-up; ``death_from_progression``: at death (end of follow-up if alive);
    - pre-treatment columns (:data:`START_COLUMNS`, other patient covariates): 0;
    - first-evaluation features (:data:`FIRST_EVAL_COLUMNS`, any ``*first_eval*``): at the first
      evaluation (``first_eval_months``).
    """
    col, op, value = atom.column, atom.op, atom.value
    fe = _num(data, "first_eval_months")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if (
        col in ("ttf_months", "os_months", "pfs_months")
        and numeric
        and op in ("<", "<=", ">", ">=")
    ):
        return np.fmin(_num(data, col), float(value))
    if col == "days_to_death" and numeric:
        return np.fmin(_death_months(data, days_per_month), float(value) / days_per_month)
    if col == "first_eval_day" and numeric and op in ("<", "<="):
        return np.fmin(fe, float(value) / days_per_month)
    end = np.fmin(_death_months(data, days_per_month), _num(data, "os_months"))
    if col == "n_post_baseline_scans":
        return np.where(_num(data, col) > 0, fe, end)
    if col == "death_from_progression":
        return end
    if col in START_COLUMNS:
        return np.zeros(len(data))
    if col in FIRST_EVAL_COLUMNS or "first_eval" in col:
        return fe
    return np.zeros(len(data))  # a patient covariate: known at treatment start


def rule_horizon_months(definition: Any, days_per_month: float = DAYS_PER_MONTH) -> float:
    """The latest time (months from treatment start) the rule of ``definition`` reads beyond the
    first evaluation: the threshold of every time-to-event criterion (Kato 2017 and Lo Russo
    2019: TTF < 2 months -> 2.0), of a death window (Gandara's death by day 84 -> 2.76) and of
    a first-evaluation window; 0 when the rule reads none."""
    out = 0.0
    for a in definition.atoms():
        numeric = isinstance(a.value, int | float) and not isinstance(a.value, bool)
        if not numeric:
            continue
        if a.column in ("ttf_months", "os_months", "pfs_months"):
            out = max(out, float(a.value))
        elif a.column in ("days_to_death", "first_eval_day"):
            out = max(out, float(a.value) / days_per_month)
    return out


def verdict_known_months(
    data: pd.DataFrame, definition: Any, days_per_month: float = DAYS_PER_MONTH
) -> np.ndarray:
    """Months from treatment start at which each patient's verdict under ``definition`` became
    known (inf or NaN: never / not recorded; NaN for patients not evaluable).

    The rule's three-valued logic, in time: an ``all`` is True once its last item is True and
    False once its first item is False; an ``any`` the reverse; ``at least k of m`` True at its
    k-th True item and False at its (m − k + 1)-th False one; the requirements must all hold.
    Each item's time is :func:`atom_known_months`. So a Gandara death-branch HPD is known at the
    death, Kato's TTF < 2 months at the treatment failure (or at 2 months when there is none), a
    RECIST verdict at the first evaluation."""
    from .definitions import atom_codes

    atoms, tree, reqs = definition.compile()
    frame = data
    if "days_to_death" not in data.columns and "death_day" in data.columns:
        frame = data.assign(
            days_to_death=np.where(
                np.isnan(_num(data, "death_day")), np.inf, _num(data, "death_day")
            )
        )
    codes_of = dict(zip(map(id, [*atoms, *reqs]), atom_codes([*atoms, *reqs], frame), strict=True))
    n = len(data)

    def leaf(atom: Any) -> tuple[np.ndarray, np.ndarray]:
        val = np.minimum(codes_of[id(atom)], 2)
        t = atom_known_months(frame, atom, days_per_month)
        t = np.where(np.isnan(t), np.inf, t)
        return val, np.where(val == 2, np.inf, t)

    def node(nd: Any) -> tuple[np.ndarray, np.ndarray]:
        if nd.kind == "atom":
            return leaf(atoms[nd.atom])
        parts = [node(c) for c in nd.children]
        vals = np.vstack([p[0] for p in parts])
        times = np.vstack([p[1] for p in parts])
        m = vals.shape[0]
        n_true, n_false = (vals == 1).sum(axis=0), (vals == 0).sum(axis=0)
        t_true = np.sort(np.where(vals == 1, times, np.inf), axis=0)
        t_false = np.sort(np.where(vals == 0, times, np.inf), axis=0)
        k = {"all": m, "any": 1}.get(nd.kind, nd.k)
        is_true = n_true >= k
        is_false = ~is_true & (m - n_false < k)
        val = np.where(is_true, 1, np.where(is_false, 0, 2))
        t = np.full(n, np.inf)
        if k >= 1:
            t = np.where(is_true, t_true[k - 1], t)
        f_needed = m - k + 1
        if 1 <= f_needed <= m:
            t = np.where(is_false, t_false[f_needed - 1], t)
        return val, t

    val, t = node(tree)
    for a in reqs:
        rv, rt = leaf(a)
        t = np.fmax(t, np.where(rv == 1, rt, np.nan))
        val = np.where(rv == 1, val, 2)
    return np.where(val == 2, np.nan, t)


def _definition_for(code: str, definitions: Sequence[Any] | None) -> Any:
    """The Definition of ``code`` among ``definitions`` (else the registry's; None when
    unknown, e.g. a table classified by a definition this session does not have)."""
    for d in definitions or ():
        if getattr(d, "code", None) == code:
            return d
    from .definitions import REGISTRY

    return REGISTRY.get(code)


def _endpoint_columns(classification: pd.DataFrame, endpoint: str) -> tuple[str, str]:
    key = str(endpoint).strip().lower()
    t, e = f"{key}_months", f"{key}_event"
    missing = [c for c in (t, e) if c not in classification.columns]
    if missing:
        raise ParameterError(
            f"endpoint {endpoint!r}: no column {', '.join(missing)} in the table "
            f"(expected <endpoint>_months and <endpoint>_event, e.g. os_months, os_event)"
        )
    return t, e


def _check_endpoint(
    classification: pd.DataFrame, tcol: str, ecol: str
) -> tuple[pd.Series, pd.Series]:
    time = pd.to_numeric(classification[tcol], errors="coerce").astype(float)
    event = pd.to_numeric(classification[ecol], errors="coerce").astype(float)
    problems = []
    for col, raw, num in ((tcol, classification[tcol], time), (ecol, classification[ecol], event)):
        bad = num.isna() & raw.notna()
        for pos in np.flatnonzero(bad.to_numpy())[:10]:
            problems.append(
                Problem(
                    "classification",
                    int(pos) + 2,
                    col,
                    f"value {raw.iloc[pos]!r} is not a number",
                    "a number",
                )
            )
    for pos in np.flatnonzero((time < 0).to_numpy())[:10]:
        problems.append(
            Problem(
                "classification",
                int(pos) + 2,
                tcol,
                f"negative time {time.iloc[pos]:g}",
                "months >= 0",
            )
        )
    bad_e = event.notna() & ~event.isin([0.0, 1.0])
    for pos in np.flatnonzero(bad_e.to_numpy())[:10]:
        problems.append(
            Problem(
                "classification",
                int(pos) + 2,
                ecol,
                f"event {event.iloc[pos]:g}",
                "0 (censored) or 1 (event)",
            )
        )
    if problems:
        raise CohortError(problems)
    return time, event


@dataclass(frozen=True)
class SurvivalInfo:
    """What :func:`survival_data` decided for one endpoint and grouping, beside its analysis
    table: the groups, the landmark and every patient left out (with the first reason that
    applies)."""

    endpoint: str  # os, pfs, ttf ...
    grouping: str  # "all", a definition code or a patient column
    levels: list[str]  # the groups, in plot order
    reference: str | None  # the hazard ratios' reference group
    landmark_months: float | None  # months from treatment start; None: no landmark
    landmark_rule: str  # the landmark sentence printed under each figure
    horizon_months: float  # latest time the grouping rule reads (0: a column)
    n_input: int  # patients in the input table
    n_analysed: int  # patients in the analysis table
    excluded: pd.DataFrame  # patient_id, reason: every patient left out
    n_excluded: dict[str, int]  # reason -> patients left out


def survival_data(
    classification: pd.DataFrame,
    endpoint: str = "os",
    group_by: str | None = None,
    *,
    landmark: str | float | None = "first_eval",
    reference: str | None = None,
    definitions: Sequence[Any] | None = None,
    lookahead: str = "extend",
    days_per_month: float = DAYS_PER_MONTH,
) -> tuple[pd.DataFrame, SurvivalInfo]:
    """Analysis table of one endpoint by group, with every left-out patient counted.

    Parameters
    ----------
    classification
        One row per patient with ``<endpoint>_months`` (float, months from treatment start),
        ``<endpoint>_event`` (1 event, 0 censored), ``first_eval_months`` for the default
        landmark, and the ``group_by`` column.
    endpoint
        ``os``, ``pfs`` or ``ttf`` (any ``<name>`` with ``<name>_months``/``<name>_event``).
    group_by
        None (one group), an HPD definition (``<code>`` or ``hpd_<code>``: groups ``HPD`` /
        ``non-HPD``, not-evaluable patients left out) or any patient column (values as labels).
    landmark
        ``"first_eval"`` (90th percentile of first-evaluation times; off when grouping by a
        column fixed at treatment start), a time in months, or None; see the
        module docstring.
    reference
        Reference group of the hazard ratios (default ``non-HPD``, else the first level).
    definitions
        The :class:`~hpd_analysis.definitions.Definition` objects the table was classified
        with (to time each verdict and read the rule's horizon; default: the registry's).
    lookahead
        ``extend`` (default) or ``truncate``: what to do when the grouping definition's rule
        reads beyond the default landmark (:func:`rule_horizon_months`), see the module
        docstring. An analyst's number is never moved: ``truncate`` applies.
    days_per_month
        Days per month of the time columns (:data:`~hpd_analysis.params.DAYS_PER_MONTH`).

    Returns
    -------
    ``(data, info)``: ``data`` has ``patient_id`` (when present), ``group``, ``time_months``
    (months from the landmark, or from treatment start) and ``event`` (int 0/1), one row per
    analysed patient in input order. ``info`` (:class:`SurvivalInfo`) holds ``endpoint``,
    ``grouping``, ``levels``, ``reference``, ``landmark_months`` (None when no landmark),
    ``landmark_rule`` (sentence), ``n_input``, ``n_analysed``, ``excluded`` (DataFrame
    ``patient_id, reason``: every patient left out, first reason that applies), ``n_excluded``
    (reason -> count), ``horizon_months`` (latest time the grouping rule reads; 0 for a column
    or an unknown definition).
    """
    lookahead = _lookahead(lookahead)
    tcol, ecol = _endpoint_columns(classification, endpoint)
    time, event = _check_endpoint(classification, tcol, ecol)
    labels, levels, ref, why = group_labels(classification, group_by, reference)
    code = hpd_column_code(classification, str(group_by)) if group_by is not None else None
    defn = _definition_for(code, definitions) if code is not None else None
    lm = _analysis_landmark(
        classification,
        group_by=group_by,
        code=code,
        landmark=landmark,
        definition=defn,
        lookahead=lookahead,
        days_per_month=days_per_month,
    )
    t, e = time.to_numpy(dtype=float), event.to_numpy(dtype=float)
    reason = _exclusion_reasons(
        classification,
        why.to_numpy(dtype=object).copy(),
        time=t,
        event=e,
        landmark=lm.months,
        by_hpd=code is not None,
        definition=defn,
        days_per_month=days_per_month,
    )
    data, excluded = _analysed_and_excluded(
        classification, labels, time=t, event=e, reason=reason, landmark=lm.months
    )
    info = SurvivalInfo(
        endpoint=str(endpoint).lower(),
        grouping="all" if group_by is None else str(group_by),
        levels=levels,
        reference=ref,
        landmark_months=lm.months,
        landmark_rule=lm.rule,
        horizon_months=lm.horizon,
        n_input=len(classification),
        n_analysed=len(data),
        excluded=excluded,
        n_excluded=_reason_counts(excluded["reason"]),
    )
    return data, info


def _analysed_and_excluded(
    classification: pd.DataFrame,
    labels: pd.Series,
    *,
    time: np.ndarray,
    event: np.ndarray,
    reason: np.ndarray,
    landmark: float | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analysis table (``patient_id, group, time_months`` from the landmark, ``event``) of
    the patients without an exclusion ``reason``, and the ``patient_id, reason`` of the others."""
    keep = pd.isna(reason)
    ids = np.asarray(_patient_ids(classification), dtype=object)
    data = pd.DataFrame(
        {
            "patient_id": ids[keep],
            "group": labels.to_numpy(dtype=object)[keep],
            "time_months": time[keep] - (landmark or 0.0),
            "event": event[keep].astype("int64"),
        }
    )
    return data, pd.DataFrame({"patient_id": ids[~keep], "reason": reason[~keep]})


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    """Patients per exclusion reason, the most frequent first (ties by reason)."""
    counts = reasons.value_counts()
    order = sorted(counts.index, key=lambda r: (-counts[r], str(r)))
    return {r: int(counts[r]) for r in order}


def _patient_ids(classification: pd.DataFrame) -> Any:
    """The patient ids as text: the ``patient_id`` column, else the row index."""
    if "patient_id" in classification.columns:
        return classification["patient_id"].astype(str).to_numpy()
    return classification.index.astype(str)


def _lookahead(lookahead: str) -> str:
    """``statistics.landmark_lookahead`` checked and normalised (``extend`` / ``truncate``)."""
    if str(lookahead).strip().lower() not in ("extend", "truncate"):
        raise ParameterError(
            f"statistics.landmark_lookahead={lookahead!r}: expected extend or truncate"
        )
    return str(lookahead).strip().lower()


@dataclass(frozen=True)
class _Landmark:
    """The landmark of a comparison: ``months`` from treatment start (None: no landmark), the
    sentence saying how it was chosen, and the grouping rule's horizon (months; 0 when none)."""

    months: float | None
    rule: str
    horizon: float


def _analysis_landmark(
    classification: pd.DataFrame,
    *,
    group_by: str | None,
    code: str | None,
    landmark: str | float | None,
    definition: Any,
    lookahead: str,
    days_per_month: float,
) -> _Landmark:
    """The landmark of :func:`survival_data`: none for a grouping fixed at treatment start
    (default landmark), else :func:`resolve_landmark`, raised to the horizon of the grouping
    definition's rule (``code``: None when not grouped by a definition; ``extend``, default
    landmark only) or kept with a note (``truncate``)."""
    default_landmark = isinstance(landmark, str) and landmark.strip().lower() in (
        "first_eval",
        "first_evaluation",
    )
    lm: float | None
    if default_landmark and group_by is not None and code is None:
        lm, rule = (
            None,
            (
                f"no landmark: {group_by} is fixed at treatment start (a landmark "
                "would drop early events from the comparison)"
            ),
        )
    else:
        lm, rule = resolve_landmark(classification, landmark)
    horizon = rule_horizon_months(definition, days_per_month) if definition is not None else 0.0
    if lm is not None and definition is not None and horizon > lm:
        if default_landmark and lookahead == "extend":
            rule += (
                f"; raised to {horizon:.2f} months (day {horizon * days_per_month:.0f}), "
                f"the latest time {code}'s rule reads, so that every verdict is decidable "
                "at the landmark (statistics.landmark_lookahead=extend)"
            )
            lm = horizon
        else:
            rule += (
                f"; {code}'s rule reads up to {horizon:.2f} months, beyond the landmark: "
                "it is evaluated with the information available at the landmark, and "
                "patients whose verdict became known only later are left out"
            )
    if lm is not None and "(day " not in rule:
        rule += f"; the landmark is day {lm * days_per_month:.0f} after treatment start"
    return _Landmark(lm, rule, horizon)


def _exclusion_reasons(
    classification: pd.DataFrame,
    reason: np.ndarray,
    *,
    time: np.ndarray,
    event: np.ndarray,
    landmark: float | None,
    by_hpd: bool,
    definition: Any,
    days_per_month: float,
) -> np.ndarray:
    """Why each patient is left out (None: analysed), the first reason that applies: the
    grouping's own (``reason``, filled in place), a missing endpoint (``time``: months from
    treatment start, ``event``: 1/0), an event or censoring before the landmark, a verdict known
    only after the landmark (or never dated)."""
    free = pd.isna(reason)
    missing = free & (np.isnan(time) | np.isnan(event))
    reason[missing] = REASON_ENDPOINT_MISSING
    free &= ~missing
    if landmark is None:
        return reason
    early = free & (time <= landmark)
    reason[early & (event == 1)] = REASON_EVENT_BEFORE
    reason[early & (event == 0)] = REASON_CENSORED_BEFORE
    if by_hpd:
        # a verdict must be known at the landmark: the day it became known (first evaluation,
        # death, treatment failure ...), per definition; without the definition (a table
        # classified elsewhere) the first evaluation
        if definition is not None:
            known = verdict_known_months(classification, definition, days_per_month)
        else:
            known = _num(classification, "first_eval_months")
        open_ = pd.isna(reason)
        reason[open_ & np.isnan(known)] = REASON_KNOWN_DAY_MISSING
        reason[open_ & ~np.isnan(known) & (known > landmark)] = REASON_CLASSIFIED_AFTER
    return reason


def fit_km(
    data: pd.DataFrame,
    group: str = "group",
    time: str = "time_months",
    *,
    event: str = "event",
    alpha: float = 0.05,
    levels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One fitted :class:`lifelines.KaplanMeierFitter` per group (label = group name).

    ``levels`` fixes the order (default: sorted labels); a level without patients is skipped.
    Times in the unit of ``time`` (months); CI level 1 − ``alpha``.
    """
    from lifelines import KaplanMeierFitter

    if levels is None:
        levels = sorted(pd.unique(data[group].dropna()), key=str)
    out: dict[str, Any] = {}
    for lv in levels:
        part = data[data[group] == lv]
        if part.empty:
            continue
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(part[time].to_numpy(dtype=float), part[event].to_numpy(dtype=int), label=str(lv))
        out[str(lv)] = kmf
    return out


def _risk_table(t: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times, the sum of ``weights`` (events) at each and the number at risk (time ≥
    it), in O(n log n)."""
    times, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=weights, minlength=len(times))
    n_at = np.bincount(inv, minlength=len(times))[::-1].cumsum()[::-1].astype(float)
    return times, d, n_at


def _r_quantile_time(x: np.ndarray, y: np.ndarray, p: float, *, tol: float = _R_TOLERANCE) -> float:
    """R survival's ``findq`` (survival 3.5.3, ``quantile.survfit``): the time at which the
    cumulative distribution ``y`` (= 1 − S, non-decreasing, NaN where undefined) reaches ``p``.

    ``x`` starts with the time origin (0) and ``y`` with 0. When ``y`` equals ``p`` (within
    ``tol``) over an interval, the midpoint of that interval; at the last point, the midpoint
    between it and the last time. NaN when ``y`` never reaches ``p`` (not reached, or the curve is
    undefined there, e.g. a log-log band at S = 0)."""
    xmax = float(x[-1])
    ok = ~np.isnan(y)
    if not ok.any() or np.nanmax(y) < p:
        return float("nan")
    # duplicated(y): keep the first time each value is taken (NaN counts as one value)
    _, first = np.unique(np.where(ok, y, np.inf), return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)
    pos = np.flatnonzero(ok)

    def first_at_least(level: float) -> int | None:
        hit = pos[y[pos] >= level]  # approx(..., method = "constant", f = 1) on the non-NaN
        return int(hit[0]) if len(hit) else None

    i1, i2 = first_at_least(p - tol), first_at_least(p + tol)
    if i1 is None:
        return float("nan")
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        return (float(x[i1]) + xmax) / 2
    if i2 is None:
        return float("nan")
    return (float(x[i1]) + float(x[i2])) / 2


def km_median(
    time: Sequence[float] | np.ndarray, event: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Kaplan–Meier median and its CI (months when ``time`` is in months), as R's
    ``survfit(Surv(time, event) ~ 1, conf.type = "log-log")`` prints them (survival 3.5.3).

    The curve and its pointwise CI (Greenwood's variance, log(−log) scale: Kalbfleisch &
    Prentice 1980) are read where they cross 0.5 by R's rule (:func:`_r_quantile_time`): when
    the curve sits exactly at 0.5 over an interval, the median is the midpoint of that interval
    (lifelines takes its start). The CI bounds are the times where the upper and lower bands
    reach 0.5. The median is ``inf`` when the curve stays above 0.5 (not reached), so is an upper
    CI bound when the upper band stays above 0.5 up to the last follow-up; an upper bound is
    NaN (not estimable, R's NA) when the band is undefined where it would cross: the log-log
    band does not exist at S = 0 (lifelines gives [0, 0] there, and the last event time as
    the bound)."""
    from scipy.stats import norm

    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if not len(t):
        return float("nan"), float("nan"), float("nan")
    times, d, n_at = _risk_table(t, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_at)
        var = np.cumsum(np.where(d > 0, d / (n_at * (n_at - d)), 0.0))
        z = float(norm.ppf(1 - alpha / 2))
        se = np.sqrt(var)
        inner = np.where((surv > 0) & (surv < 1), surv, np.nan)
        lg = np.log(inner)
        a = np.exp(-np.exp(np.log(-lg) + z * se / lg))
        b = np.exp(-np.exp(np.log(-lg) - z * se / lg))
    upper, lower = np.fmax(a, b), np.fmin(a, b)
    upper = np.where(surv == 1, 1.0, upper)
    lower = np.where(surv == 1, 1.0, lower)
    x = np.concatenate([[0.0], times])

    def q(curve: np.ndarray) -> float:
        return _r_quantile_time(x, np.concatenate([[0.0], 1.0 - curve]), 0.5)

    med, lo, hi = q(surv), q(lower), q(upper)
    if np.isnan(med) and surv[-1] > 0.5:
        med = float("inf")
    if np.isnan(hi) and not (np.isnan(upper) & (surv == 0)).any() and upper[-1] > 0.5:
        hi = float("inf")  # the upper band stays above 0.5: not reached
    if np.isnan(lo) and lower[-1] > 0.5:
        lo = float("inf")
    return float(med), float(lo), float(hi)


@dataclass
class _CoxResult:
    """The Cox model of a comparison: per group (not the reference) ``(HR, CI low, CI high,
    p)``, a note when the HR is not estimable or doubtful, the method, and the proportional
    hazards test p-value per group."""

    values: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    note: str = ""
    method: str = ""
    ph: dict[str, float] = field(default_factory=dict)


def _summary_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The summary rows of :meth:`SurvivalComparison.fit` as a frame of typed columns."""
    out = pd.DataFrame(rows, columns=SURVIVAL_COLUMNS + EXTRA_COLUMNS)
    for c in (*ESTIMATE_COLUMNS, "logrank_p", "landmark_months", "hr_p_value", "ph_p_value"):
        out[c] = out[c].astype(float)
    for c in ("n", "events", "n_excluded"):
        out[c] = out[c].astype("int64")
    return out


class SurvivalComparison:
    """Kaplan–Meier curves, log-rank test and Cox hazard ratios of one endpoint by group.

    lifelines style: ``SurvivalComparison(endpoint="os", group_by="champiat2017").fit(table)``
    returns itself; then ``.summary`` (survival.csv rows), ``.fitters`` (label ->
    ``KaplanMeierFitter``, for plots with ``lifelines.plotting.add_at_risk_counts``),
    ``.logrank`` (lifelines ``StatisticalResult`` or None), ``.cox`` (``CoxPHFitter`` or None),
    ``.data``/``.info`` (from :func:`survival_data`) and ``.plot(ax=)``.
    """

    def __init__(
        self,
        endpoint: str = "os",
        group_by: str | None = None,
        landmark: str | float | None = "first_eval",
        *,
        reference: str | None = None,
        alpha: float = 0.05,
        definitions: Sequence[Any] | None = None,
        lookahead: str = "extend",
        days_per_month: float = DAYS_PER_MONTH,
    ):
        if not 0.0 < float(alpha) < 1.0:
            raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1")
        self.endpoint, self.group_by, self.landmark = endpoint, group_by, landmark
        self.reference, self.alpha = reference, float(alpha)
        self.definitions, self.lookahead = definitions, lookahead
        self.days_per_month = float(days_per_month)
        self.data: pd.DataFrame | None = None
        self.info: SurvivalInfo | None = None
        self.fitters: dict[str, Any] = {}
        self.logrank: Any = None
        self.cox: Any = None
        self.summary: pd.DataFrame | None = None
        self.notes: list[str] = []

    def fit(self, classification: pd.DataFrame) -> SurvivalComparison:
        """Fit KM per group, the log-rank test and the Cox model; fill ``.summary``."""
        data, info = survival_data(
            classification,
            self.endpoint,
            self.group_by,
            landmark=self.landmark,
            reference=self.reference,
            definitions=self.definitions,
            lookahead=self.lookahead,
            days_per_month=self.days_per_month,
        )
        self.data, self.info = data, info
        levels, ref = info.levels, info.reference
        self.fitters = fit_km(data, alpha=self.alpha, levels=levels)
        present = [lv for lv in levels if lv in self.fitters]
        self.notes = [info.landmark_rule]
        if info.n_excluded:
            self.notes.append(
                "left out: " + ", ".join(f"{r} ({k})" for r, k in info.n_excluded.items())
            )
        self.logrank, lr_name = self._logrank(data, present)
        hr = self._cox(data, present, ref)
        if hr.note:
            self.notes.append(hr.note)
        for g, ph_p in hr.ph.items():
            if ph_p < self.alpha:
                self.notes.append(
                    f"{g} vs {ref}: " + NOTE_NON_PROPORTIONAL.format(p=format_p(ph_p))
                )
        common: dict[str, Any] = {
            "endpoint": info.endpoint,
            "grouping": info.grouping,
            "landmark_months": np.nan if info.landmark_months is None else info.landmark_months,
            "reference_group": ref if ref is not None else "",
            "logrank_p": np.nan if self.logrank is None else float(self.logrank.p_value),
            "logrank_test": lr_name,
            "hr_method": hr.method,
            "median_method": median_method_label(
                self.alpha, info.landmark_months, self.days_per_month
            ),
            "ph_test": PH_TEST_NAME if hr.ph else "",
            "n_excluded": int(sum(info.n_excluded.values())),
        }
        rows = [
            self._group_row(
                lv, data[data["group"] == lv], common, hr=hr, ref=ref, compared=len(present) >= 2
            )
            for lv in levels
        ]
        self.summary = _summary_frame(rows)
        return self

    def _group_row(
        self,
        level: str,
        part: pd.DataFrame,
        common: dict[str, Any],
        *,
        hr: _CoxResult,
        ref: str | None,
        compared: bool,
    ) -> dict[str, Any]:
        """The summary row of one group (``part``: its analysed patients): counts, the median
        with its CI, the hazard ratio vs ``ref`` (``compared``: at least two groups with
        patients) and the notes."""
        row: dict[str, Any] = {
            **common,
            "group": level,
            "n": len(part),
            "events": int(part["event"].sum()),
        }
        notes = []
        if self.fitters.get(level) is not None:
            med, lo, hi = km_median(part["time_months"], part["event"], self.alpha)
            row.update(median_months=med, median_ci_low=lo, median_ci_high=hi)
            if np.isinf(med):
                notes.append("median not reached")
            elif np.isnan(hi):
                notes.append(
                    "upper CI bound of the median not estimable (the log-log band "
                    "is undefined where the curve reaches 0)"
                )
        else:
            notes.append("no patient in this group")
        if level == ref and compared:
            row.update(hazard_ratio=1.0)
            notes.append("reference group")
        elif level in hr.values:
            est, lo, hi, p = hr.values[level]
            row.update(hazard_ratio=est, hr_ci_low=lo, hr_ci_high=hi, hr_p_value=p)
            ph_p = hr.ph.get(level, np.nan)
            row["ph_p_value"] = ph_p
            if ph_p < self.alpha:
                notes.append(NOTE_NON_PROPORTIONAL.format(p=format_p(ph_p)))
        if hr.note and level != ref and compared:
            notes.append(hr.note)
        row["note"] = "; ".join(notes)
        return row

    def _logrank(self, data: pd.DataFrame, present: list[str]) -> tuple[Any, str]:
        from lifelines.statistics import logrank_test, multivariate_logrank_test

        if len(present) < 2:
            return None, "not tested (fewer than two groups)"
        if int(data["event"].sum()) == 0:
            return None, "not tested (no event)"
        sub = data[data["group"].isin(present)]
        if len(present) == 2:
            a, b = (sub[sub["group"] == g] for g in present)
            res = logrank_test(a["time_months"], b["time_months"], a["event"], b["event"])
            return res, "log-rank test (chi-squared, 1 df)"
        res = multivariate_logrank_test(sub["time_months"], sub["group"], sub["event"])
        return res, f"log-rank test (chi-squared, {len(present) - 1} df)"

    def _cox(self, data: pd.DataFrame, present: list[str], ref: str | None) -> _CoxResult:
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError, ConvergenceWarning

        level = f"{100 * (1 - self.alpha):g}%"
        method = (
            f"Cox proportional hazards (Efron ties), HR vs {ref}, {level} Wald CI"
            if ref is not None
            else ""
        )
        out = _CoxResult(method=method)
        if len(present) < 2 or ref not in present:
            out.method = (
                "not estimated (fewer than two groups)"
                if len(present) < 2
                else (f"not estimated (no patient in the reference group {ref})")
            )
            return out
        others = [g for g in present if g != ref]
        sub = data[data["group"].isin(present)]
        events = sub.groupby("group")["event"].sum()
        if (events.reindex(present).fillna(0) == 0).any():
            empty = [g for g in present if events.get(g, 0) == 0]
            out.note = (
                f"hazard ratio not estimable: no event in {', '.join(empty)} "
                "(the estimate would be 0 or infinite)"
            )
            return out
        design = pd.DataFrame({"T": sub["time_months"].to_numpy(), "E": sub["event"].to_numpy()})
        cols = {}
        for i, g in enumerate(others):
            name = f"g{i}"
            cols[name] = g
            design[name] = (sub["group"].to_numpy() == g).astype(float)
        cph = CoxPHFitter(alpha=self.alpha)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cph.fit(design, duration_col="T", event_col="E", fit_options=COX_FIT_OPTIONS)
            except ConvergenceError:
                out.note = NOTE_COX_NOT_CONVERGED
                return out
        s = cph.summary
        lo_col = next(c for c in s.columns if c.startswith("exp(coef) lower"))
        hi_col = next(c for c in s.columns if c.startswith("exp(coef) upper"))
        if any(isinstance(w.message, ConvergenceWarning) for w in caught):
            bounds = s[[lo_col, hi_col]].to_numpy(dtype=float)
            if not (np.isfinite(bounds).all() and (bounds > 0).all()):
                # lifelines warns and returns a coefficient running off to +-infinity with a
                # 0..inf CI (monotone likelihood): no estimate, a note instead of a blank
                out.note = NOTE_COX_NOT_CONVERGED
                return out
            out.note = "warning: Cox model convergence warning (check the estimate)"
        for name, g in cols.items():
            out.values[g] = (
                float(s.loc[name, "exp(coef)"]),
                float(s.loc[name, lo_col]),
                float(s.loc[name, hi_col]),
                float(s.loc[name, "p"]),
            )
        out.ph = _ph_test(cph, design, cols)
        self.cox = cph
        return out

    def plot(
        self, ax: Any = None, ci_show: bool = True, at_risk_counts: bool = False, **kwargs: Any
    ) -> Any:
        """Kaplan–Meier curves of every group on ``ax`` (x: months), optional at-risk table."""
        import matplotlib.pyplot as plt

        if self.summary is None:
            raise ParameterError("SurvivalComparison.plot: call .fit(table) first")
        if ax is None:
            _, ax = plt.subplots()
        for kmf in self.fitters.values():
            kmf.plot_survival_function(ax=ax, ci_show=ci_show, **kwargs)
        info = self.info
        origin = "landmark" if info and info.landmark_months is not None else "treatment start"
        ax.set_xlabel(f"months from {origin}")
        ax.set_ylabel(ENDPOINT_NAMES.get(info.endpoint if info else "", "survival"))
        if at_risk_counts and self.fitters:
            from lifelines.plotting import add_at_risk_counts

            add_at_risk_counts(*self.fitters.values(), ax=ax)
        return ax


def median_method_label(
    alpha: float = 0.05,
    landmark_months: float | None = None,
    days_per_month: float = DAYS_PER_MONTH,
) -> str:
    """The ``median_method`` of survival.csv: the estimator, its CI and the time origin, e.g.
    "Kaplan–Meier median (R survfit convention), 95% CI log-log (Greenwood variance); months
    from the landmark at 1.84 months (day 56)"."""
    origin = (
        "months from treatment start"
        if landmark_months is None
        else f"months from the landmark at {landmark_months:.2f} months "
        f"(day {landmark_months * days_per_month:.0f})"
    )
    return (
        f"Kaplan–Meier median (R survfit convention: midpoint where the curve sits at 0.5), "
        f"{100 * (1 - alpha):g}% CI log-log (Greenwood variance), NaN upper bound = not "
        f"estimable; {origin}"
    )


def cox_zph_test(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    *,
    beta: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Proportional-hazards test of R survival 3.x ``cox.zph(fit, transform = "km")`` (the
    exact score test, Grambsch & Therneau, Biometrika 1994; survival ≥ 3.0): per covariate, the
    score test at (β̂, 0) of adding ``x · g(t)`` to the Cox model (Efron ties), where g(t) is
    1 − KM(t−) centred on its mean over the events. Returns (chi-squared per column of ``x``,
    1 df each; global chi-squared with ``x.shape[1]`` df).

    ``time`` months, ``event`` 0/1, ``x`` the n × p design, ``beta`` the fitted coefficients."""
    t = np.asarray(time, dtype=float)
    ev = np.asarray(event, dtype=float) == 1
    x = np.asarray(x, dtype=float).reshape(len(t), -1)
    p = x.shape[1]
    w = np.exp(x @ np.asarray(beta, dtype=float).reshape(-1))
    # km transform: 1 - S(t-) of the pooled Kaplan-Meier curve, centred over the events
    all_t, d_all, n_all = _risk_table(t, ev.astype(float))
    has = d_all > 0
    times, d, n_at = all_t[has], d_all[has], n_all[has]
    surv = np.cumprod(1.0 - d / n_at)
    left = np.concatenate([[1.0], surv])[np.searchsorted(times, t, side="left")]
    g_all = 1.0 - left
    g_all = g_all - g_all[ev].mean()
    # risk-set sums by reverse cumulative sums over the times (O(n p^2 + k p^2))
    _, inv = np.unique(t, return_inverse=True)
    m = len(all_t)
    wx = w[:, None] * x
    wxx = wx[:, :, None] * x[:, None, :]

    def at_or_after(values: np.ndarray) -> np.ndarray:
        per = np.zeros((m, *values.shape[1:]))
        np.add.at(per, inv, values)
        return per[::-1].cumsum(axis=0)[::-1]

    def at(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        per = np.zeros((m, *values.shape[1:]))
        np.add.at(per, inv[mask], values[mask])
        return per

    r0, r1, r2 = at_or_after(w), at_or_after(wx), at_or_after(wxx)
    e0, e1, e2 = at(w, ev), at(wx, ev), at(wxx, ev)
    xsum = at(x, ev)
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    g_time = np.zeros(m)
    g_time[inv[ev]] = g_all[ev]
    for jt in np.flatnonzero(has):
        j = int(jt)
        g = g_time[j]
        nd = int(d_all[j])
        u[:p] += xsum[j]
        u[p:] += g * xsum[j]
        f = np.arange(nd) / nd  # Efron's approximation of tied deaths, all at once
        a0 = r0[j] - f * e0[j]
        mean = (r1[j][None, :] - f[:, None] * e1[j][None, :]) / a0[:, None]
        a2 = (r2[j][None] - f[:, None, None] * e2[j][None]) / a0[:, None, None]
        cov = (a2 - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
        msum = mean.sum(axis=0)
        u[:p] -= msum
        u[p:] -= g * msum
        imat[:p, :p] += cov
        imat[:p, p:] += g * cov
        imat[p:, :p] += g * cov
        imat[p:, p:] += g * g * cov
    chisq = np.empty(p)
    for c in range(p):
        kk = [*range(p), p + c]
        uj = np.zeros(p + 1)
        uj[-1] = u[p + c]
        chisq[c] = float(uj @ np.linalg.solve(imat[np.ix_(kk, kk)], uj))
    ug = np.concatenate([np.zeros(p), u[p:]])
    return chisq, float(ug @ np.linalg.solve(imat, ug))


def _ph_test(cph: Any, design: pd.DataFrame, cols: dict[str, str]) -> dict[str, float]:
    """p-value of the proportional-hazards test of each group's coefficient (group -> p; NaN
    when the test cannot be computed, e.g. too few events): :func:`cox_zph_test`."""
    from scipy.stats import chi2

    names = list(cols)
    try:
        with np.errstate(all="ignore"):
            chisq, _ = cox_zph_test(
                design["T"].to_numpy(),
                design["E"].to_numpy(),
                design[names].to_numpy(),
                beta=cph.params_.reindex(names).to_numpy(dtype=float),
            )
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
        return {g: np.nan for g in cols.values()}
    return {
        g: float(chi2.sf(c, 1)) if np.isfinite(c) and c >= 0 else np.nan
        for g, c in zip(cols.values(), chisq, strict=True)
    }


def survival_table(
    classification: pd.DataFrame,
    endpoints: str | Sequence[str] | None = None,
    group_by: str | None = None,
    *,
    landmark: str | float | None = "first_eval",
    reference: str | None = None,
    alpha: float = 0.05,
    definitions: Sequence[Any] | None = None,
    lookahead: str = "extend",
    days_per_month: float = DAYS_PER_MONTH,
) -> pd.DataFrame:
    """The report's survival.csv: one row per endpoint × group.

    ``endpoints``: one or several of ``os``, ``pfs``, ``ttf`` (default: those whose
    ``<endpoint>_months`` column exists and has a value). Columns :data:`SURVIVAL_COLUMNS`
    (the contract) then :data:`EXTRA_COLUMNS` (reference group, HR p-value, proportional-hazards
    test p-value, the names of the tests, patients left out, notes). Medians and CIs in months
    (``inf`` = not reached), HR vs
    the reference group, ``logrank_p`` the same on every row of a comparison, ``landmark_months``
    NaN when there is no landmark. See :class:`SurvivalComparison`.
    """
    if endpoints is None:
        endpoints = available_endpoints(classification)
        if not endpoints:
            raise ParameterError(
                "survival_table: no endpoint with values (expected os_months/os_event, "
                "pfs_months/pfs_event or ttf_months/ttf_event)"
            )
    elif isinstance(endpoints, str):
        endpoints = [endpoints]
    tables = [
        SurvivalComparison(
            e,
            group_by,
            landmark,
            reference=reference,
            alpha=alpha,
            definitions=definitions,
            lookahead=lookahead,
            days_per_month=days_per_month,
        )
        .fit(classification)
        .summary
        for e in endpoints
    ]
    return pd.concat(tables, ignore_index=True)


def exclusion_table(
    data: pd.DataFrame,
    group_by: str | None,
    landmark: Any,
    *,
    endpoints: Sequence[str] = ENDPOINTS,
    definitions: Sequence[Any] | None = None,
    lookahead: str = "extend",
    days_per_month: float = DAYS_PER_MONTH,
) -> pd.DataFrame:
    """Patients left out of each survival comparison, by reason: ``endpoint, reason, n``
    (group not evaluable or missing, endpoint missing, event or censoring before the landmark,
    verdict known only after the landmark); the first row of each endpoint counts the patients
    analysed. Same arguments as :func:`survival_data`."""
    rows = []
    for ep in endpoints:
        if f"{ep}_months" not in data.columns or not data[f"{ep}_months"].notna().any():
            continue
        _, info = survival_data(
            data,
            ep,
            group_by,
            landmark=landmark,
            definitions=definitions,
            lookahead=lookahead,
            days_per_month=days_per_month,
        )
        rows.append({"endpoint": ep, "reason": "analysed", "n": int(info.n_analysed)})
        rows += [{"endpoint": ep, "reason": r, "n": int(n)} for r, n in info.n_excluded.items()]
    return pd.DataFrame(rows, columns=["endpoint", "reason", "n"])


# --------------------------------------------------------------------------- competing risks
#: causes of a progression-free survival event
CAUSE_PROGRESSION, CAUSE_DEATH = 1, 2
#: months after the landmark (or treatment start) at which the cumulative incidences are given
CIF_TIMES: tuple[float, ...] = (3.0, 6.0, 12.0)
CIF_COLUMNS = [
    "grouping",
    "group",
    "n",
    "months",
    "n_at_risk",
    "progressions",
    "deaths_without_progression",
    "cif_progression",
    "cif_ci_low",
    "cif_ci_high",
    "one_minus_km",
    "cif_death",
    "method",
    "landmark_months",
]


def progression_causes(table: pd.DataFrame) -> np.ndarray:
    """Cause of each patient's progression-free survival event: 0 censored,
    :data:`CAUSE_PROGRESSION` (progression, even if death followed) or :data:`CAUSE_DEATH` (death
    without a recorded progression). With a ``progression_date`` column a PFS event without a
    progression date is a death; without it, a PFS event at the time of death (``os_event`` 1,
    same month value) is."""
    ev = _num(table, "pfs_event")
    cause = np.where(ev == 1, CAUSE_PROGRESSION, 0)
    if "progression_date" in table.columns:
        died = (ev == 1) & table["progression_date"].isna().to_numpy()
    elif "os_event" in table.columns and "os_months" in table.columns:
        died = (
            (ev == 1)
            & (_num(table, "os_event") == 1)
            & np.isclose(_num(table, "os_months"), _num(table, "pfs_months"), rtol=0, atol=1e-9)
        )
    else:
        died = np.zeros(len(table), dtype=bool)
    return np.where(died, CAUSE_DEATH, cause)


def cumulative_incidence(
    time: Sequence[float] | np.ndarray,
    cause: Sequence[int] | np.ndarray,
    at: Sequence[float],
    *,
    of: int = CAUSE_PROGRESSION,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of cause ``of`` at the times ``at`` (months), the
    other causes competing: F(t) = Σ_{t_j ≤ t} S(t_j−) d_j / n_j, S the all-cause Kaplan–Meier
    curve (Kalbfleisch & Prentice 1980; the estimator of R cmprsk's ``cuminc`` and lifelines'
    ``AalenJohansenFitter``, here without lifelines' random jitter of tied times). Variance:
    the Greenwood-type delta-method formula (Collett 2015, p. 411, as lifelines); CI on the
    log(−log) scale. Columns ``months, n_at_risk, cif, ci_low, ci_high``."""
    from scipy.stats import norm

    t = np.asarray(time, dtype=float)
    c = np.asarray(cause, dtype=int)
    all_t, d_all, n_at = _risk_table(t, (c > 0).astype(float))
    _, d_k, _ = _risk_table(t, (c == of).astype(float))
    has = d_all > 0
    times, d_all, n_at, d_k = all_t[has], d_all[has], n_at[has], d_k[has]
    surv = np.cumprod(1 - d_all / n_at)
    lag = np.concatenate([[1.0], surv[:-1]])
    inc = lag * d_k / n_at
    cif = np.cumsum(inc)
    z = float(norm.ppf(1 - alpha / 2))
    rows = []
    for a in at:
        idx = np.flatnonzero(times <= a)
        f = float(cif[idx[-1]]) if len(idx) else 0.0
        var = 0.0
        if len(idx):
            j = idx
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(n_at[j] > d_all[j], d_all[j] / (n_at[j] * (n_at[j] - d_all[j])), 0.0)
            diff = f - cif[j]
            var = float(
                np.sum(diff**2 * g)
                + np.sum(lag[j] ** 2 * d_k[j] * (n_at[j] - d_k[j]) / n_at[j] ** 3)
                - 2 * np.sum(diff * lag[j] * d_k[j] / n_at[j] ** 2)
            )
        if 0 < f < 1 and var > 0:
            se = np.sqrt(var) / (f * abs(np.log(f)))
            lo, hi = f ** np.exp(z * se), f ** np.exp(-z * se)
        else:
            lo = hi = float("nan")
        rows.append(
            {
                "months": float(a),
                "n_at_risk": int((t > a).sum()),
                "cif": f,
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )
    return pd.DataFrame(rows, columns=["months", "n_at_risk", "cif", "ci_low", "ci_high"])


def competing_risks_table(
    classification: pd.DataFrame,
    group_by: str | None = None,
    landmark: str | float | None = "first_eval",
    *,
    at: Sequence[float] = CIF_TIMES,
    alpha: float = 0.05,
    definitions: Sequence[Any] | None = None,
    lookahead: str = "extend",
    days_per_month: float = DAYS_PER_MONTH,
) -> pd.DataFrame:
    """Cumulative incidence of progression with death as a competing event, by group, beside
    1 − Kaplan–Meier (which treats deaths as censored and so overstates the risk of progression
    when early deaths are frequent, as with HPD).

    Same patients, landmark and exclusions as the progression-free survival comparison
    (:func:`survival_data` on ``pfs``); causes from :func:`progression_causes`; estimates at
    ``at`` months after the landmark (:func:`cumulative_incidence`). Columns
    :data:`CIF_COLUMNS`; ``method`` names the estimators. No test between the groups: Gray's
    test and the Fine–Gray model have no maintained Python implementation among the project's
    dependencies (R: ``cmprsk::cuminc`` / ``crr``), so the table is descriptive."""
    from lifelines import KaplanMeierFitter

    data, info = survival_data(
        classification,
        "pfs",
        group_by,
        landmark=landmark,
        definitions=definitions,
        lookahead=lookahead,
        days_per_month=days_per_month,
    )
    cause_all = pd.Series(
        progression_causes(classification),
        index=_patient_ids(classification),
    )
    cause = cause_all.reindex(data["patient_id"].astype(str)).to_numpy(dtype=int)
    lm = info.landmark_months
    method = (
        f"Aalen-Johansen cumulative incidence of progression, death without progression "
        f"competing; {100 * (1 - alpha):g}% CI log(-log), Greenwood-type variance "
        f"(Collett); 1 - Kaplan-Meier with deaths censored; months from "
        + ("treatment start" if lm is None else f"the landmark ({lm:.2f} months)")
    )
    rows = []
    for lv in info.levels:
        part = data["group"].to_numpy() == lv
        if not part.any():
            continue
        t, c = data["time_months"].to_numpy()[part], cause[part]
        prog = cumulative_incidence(t, c, at, of=CAUSE_PROGRESSION, alpha=alpha)
        death = cumulative_incidence(t, c, at, of=CAUSE_DEATH, alpha=alpha)
        km = KaplanMeierFitter().fit(t, (c == CAUSE_PROGRESSION).astype(int))
        for i, a in enumerate(at):
            rows.append(
                {
                    "grouping": info.grouping,
                    "group": lv,
                    "n": int(part.sum()),
                    "months": a,
                    "n_at_risk": int(prog.loc[i, "n_at_risk"]),
                    "progressions": int(((c == CAUSE_PROGRESSION) & (t <= a)).sum()),
                    "deaths_without_progression": int(((c == CAUSE_DEATH) & (t <= a)).sum()),
                    "cif_progression": prog.loc[i, "cif"],
                    "cif_ci_low": prog.loc[i, "ci_low"],
                    "cif_ci_high": prog.loc[i, "ci_high"],
                    "one_minus_km": float(1 - km.survival_function_at_times(a).iloc[0]),
                    "cif_death": death.loc[i, "cif"],
                    "method": method,
                    "landmark_months": np.nan if lm is None else lm,
                }
            )
    return pd.DataFrame(rows, columns=CIF_COLUMNS)


def available_endpoints(table: pd.DataFrame) -> list[str]:
    """The endpoints of :data:`ENDPOINTS` that ``table`` can be analysed on: both
    ``<endpoint>_months`` and ``<endpoint>_event`` present and at least one time given.
    Empty for a cohort without survival data (e.g. tumour measurements only)."""
    return [
        e
        for e in ENDPOINTS
        if f"{e}_months" in table.columns
        and f"{e}_event" in table.columns
        and pd.to_numeric(table[f"{e}_months"], errors="coerce").notna().any()
    ]


def no_endpoint_note(table: pd.DataFrame) -> str:
    """The sentence a report prints instead of the survival section when ``table`` has no
    endpoint (:func:`available_endpoints` is empty); ``""`` when it has one."""
    if available_endpoints(table):
        return ""
    return (
        "No survival data in this cohort (no os_months/os_event, pfs_months/pfs_event or "
        "ttf_months/ttf_event with a value, and no dates of death, progression or last "
        "contact to derive them): the survival section is skipped. Add these columns to "
        "patients to get Kaplan–Meier curves, log-rank tests and hazard ratios."
    )


#: feature columns through which a definition reads each endpoint itself
ENDPOINT_INPUTS: dict[str, tuple[str, ...]] = {
    "os": ("os_months", "days_to_death", "death_day", "death_from_progression"),
    "pfs": ("pfs_months",),
    "ttf": ("ttf_months",),
}


def progression_tautology_note(
    group_by: str | None, definitions: Sequence[Any], endpoint: str
) -> str:
    """The caveat to print beside a comparison grouped by an HPD definition whose rule already
    contains the endpoint (``""`` otherwise): RECIST PD at the first evaluation (PFS, TTF), a
    criterion on the endpoint's own time (Kato's and Lo Russo's TTF < 2 months for TTF; the
    fast-progression death rule for OS). The difference between the groups is then partly built
    into the grouping."""
    ep = str(endpoint).lower()
    if group_by is None:
        return ""
    code = str(group_by).removesuffix("_status").removeprefix("hpd_")
    defn = next((d for d in definitions if getattr(d, "code", None) == code), None)
    if defn is None or ep not in ("os", "pfs", "ttf"):
        return ""
    name = ENDPOINT_NAMES[ep]
    uses = defn.criteria_reading(ENDPOINT_INPUTS.get(ep, ()))
    if ep in ("pfs", "ttf") and defn.requires_recist_pd():
        return (
            f"Caution: {code} requires RECIST progression (PD) at the first evaluation, so "
            f"every HPD patient has progressed by that scan: the shorter {name} of the HPD "
            f"group is partly tautological (built into the grouping), not evidence of a worse "
            f"prognosis. Overall survival is the informative comparison."
        )
    if uses:
        return (
            f"Caution: {code} uses {name} itself to define HPD ({'; '.join(uses)}): the "
            f"difference in {name} between the groups is partly built into the grouping, "
            f"not evidence of a worse prognosis; read the hazard ratio and p-value with that "
            f"in mind."
        )
    return ""


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)


def survival_exclusions(
    data: pd.DataFrame,
    group_by: str | None,
    landmark: Any,
    *,
    endpoints: Sequence[str] = ("os", "pfs", "ttf"),
    **options: Any,
) -> pd.DataFrame:
    """Patients left out of each survival comparison, by reason: ``endpoint, reason, n``
    (:func:`exclusion_table`; ``options``: its definitions, lookahead, days_per_month)."""
    return exclusion_table(data, group_by, landmark, endpoints=endpoints, **options)
