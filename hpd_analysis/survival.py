"""Survival by group: Kaplan–Meier, log-rank test, Cox hazard ratio, landmark analysis.

Everything is computed with lifelines:

- **Kaplan–Meier** (:class:`lifelines.KaplanMeierFitter`) per group; pointwise CI from
  Greenwood's variance on the log(−log) scale (lifelines' default; R ``survfit`` needs
  ``conf.type = "log-log"`` to match). The median and its CI are read off the curve and its CI
  bands (:func:`lifelines.utils.median_survival_times`): ``inf`` means "not reached". The median
  is the first time the curve reaches ≤ 0.5; when it sits exactly at 0.5 over an interval, R's
  ``survfit`` prints the interval's midpoint instead (e.g. 4 deaths at 1, 2, 3, 4 months:
  lifelines 2, R 2.5). Cross-checked against R survival 3.5 (log-log CI, Efron ties): same
  medians and CIs, same log-rank p, HR equal to 6 significant digits.
- **log-rank test** (:func:`lifelines.statistics.logrank_test` for two groups,
  :func:`~lifelines.statistics.multivariate_logrank_test` for more): one p-value per comparison.
- **hazard ratio**: Cox proportional-hazards model (:class:`lifelines.CoxPHFitter`, Efron ties)
  with the group as the only covariate, one HR per group **versus the reference group**, Wald CI.
  For an HPD grouping the reference is ``non-HPD``, so HPD doing worse gives HR > 1.
- **proportional hazards check**: one HR summarises the comparison only if the hazard ratio is
  constant over time. ``ph_p_value`` is the Grambsch–Therneau test of the scaled Schoenfeld
  residuals of each group's coefficient against the Kaplan–Meier time scale
  (:func:`lifelines.statistics.proportional_hazard_test`, ``time_transform="km"``); when it is
  below ``alpha`` the row gets a note (:data:`NOTE_NON_PROPORTIONAL`): read the Kaplan–Meier
  curves (they often cross), not the single HR. lifelines computes the classic approximation
  (R survival < 3.0); R survival 3.x ``cox.zph(fit, transform = "km")`` uses the exact score test
  and gives chi-squared values a few percent apart (same conclusion in the tests).

Landmark analysis (Anderson, Cain & Gelber, J Clin Oncol 1983). HPD status is only known at the
first evaluation: comparing survival from treatment start would credit the patients classified
later with the time they had to survive to be classified (immortal-time / guarantee-time bias). A
landmark analysis uses ONE common time ``L`` for every patient:

- ``landmark="first_eval"`` (default): ``L`` = the **90th percentile**
  (:data:`LANDMARK_QUANTILE`) of ``first_eval_months`` over the patients of the table that have a
  first evaluation (all groups together, before any exclusion) — a time by which the HPD status of
  nearly every patient is known. When grouping by an HPD definition, a patient whose first
  evaluation came after ``L`` is left out and counted ("HPD status known only after the
  landmark"): at ``L`` the groups must be fixed, otherwise the analysis conditions on the future.
  When grouping by a patient column fixed at treatment start (e.g. a randomised arm) the default
  is **no landmark**: dropping early events there would break the comparison;
- ``landmark=<number>``: ``L`` in months, chosen by the analyst (e.g. 2);
- ``landmark=None`` (or ``"none"``): no landmark, time from treatment start
  (``landmark_months`` is NaN in the outputs).

Patients whose event or censoring time is ≤ ``L`` are left out (they were not followed beyond
the landmark) and counted by reason (event / censored before the landmark); the others are
followed from ``L``: time = endpoint time − ``L``. When ``first_eval_months`` is absent or empty
(a cohort without tumour measurements) the default falls back to no landmark, with a note.

Reporting helpers: :func:`available_endpoints` / :func:`no_endpoint_note` (a cohort without
survival data gets a note, not an error), :func:`progression_tautology_note` (PFS/TTF by an HPD
definition that requires RECIST PD at the first evaluation is partly tautological). A Cox model
that does not converge gives no HR and :data:`NOTE_COX_NOT_CONVERGED`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import CohortError, ParameterError, Problem
from .incidence import group_labels, hpd_column_code

ENDPOINTS: tuple[str, ...] = ("os", "pfs", "ttf")
ENDPOINT_NAMES = {"os": "overall survival", "pfs": "progression-free survival",
                  "ttf": "time to treatment failure"}

#: columns of survival.csv (the contract), then the extra columns that name tests and notes
SURVIVAL_COLUMNS = [
    "endpoint", "grouping", "group", "n", "events", "median_months", "median_ci_low",
    "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high", "logrank_p", "landmark_months",
]
EXTRA_COLUMNS = ["reference_group", "hr_p_value", "ph_p_value", "hr_method", "logrank_test",
                 "n_excluded", "note"]

REASON_EVENT_BEFORE = "event before the landmark"
REASON_CENSORED_BEFORE = "censored before the landmark"
REASON_ENDPOINT_MISSING = "endpoint time or event missing"

NOTE_COX_NOT_CONVERGED = (
    "hazard ratio not estimable: the Cox model did not converge (monotone likelihood: one "
    "group's events nearly all precede the other group's times, the HR tends to 0 or infinity); "
    "compare the groups with the Kaplan–Meier curves and the log-rank test")

#: note of a group whose proportional-hazards test is below ``alpha`` (``{p}``: its p-value,
#: as :func:`format_p` writes it)
NOTE_NON_PROPORTIONAL = (
    "hazards may not be proportional (Schoenfeld residual test {p}): the hazard ratio "
    "averages a ratio that changes over time; read the Kaplan–Meier curves")


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
    if value is None or (isinstance(value, str) and value.strip().lower() in
                         ("none", "null", "~", "", "start", "treatment_start")):
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


def _check_endpoint(classification: pd.DataFrame, tcol: str, ecol: str
                    ) -> tuple[pd.Series, pd.Series]:
    time = pd.to_numeric(classification[tcol], errors="coerce").astype(float)
    event = pd.to_numeric(classification[ecol], errors="coerce").astype(float)
    problems = []
    for col, raw, num in ((tcol, classification[tcol], time), (ecol, classification[ecol], event)):
        bad = num.isna() & raw.notna()
        for pos in np.flatnonzero(bad.to_numpy())[:10]:
            problems.append(Problem("classification", int(pos) + 2, col,
                                    f"value {raw.iloc[pos]!r} is not a number", "a number"))
    for pos in np.flatnonzero((time < 0).to_numpy())[:10]:
        problems.append(Problem("classification", int(pos) + 2, tcol,
                                f"negative time {time.iloc[pos]:g}", "months >= 0"))
    bad_e = event.notna() & ~event.isin([0.0, 1.0])
    for pos in np.flatnonzero(bad_e.to_numpy())[:10]:
        problems.append(Problem("classification", int(pos) + 2, ecol,
                                f"event {event.iloc[pos]:g}", "0 (censored) or 1 (event)"))
    if problems:
        raise CohortError(problems)
    return time, event


def survival_data(
    classification: pd.DataFrame,
    endpoint: str = "os",
    group_by: str | None = None,
    landmark: str | float | None = "first_eval",
    reference: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
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

    Returns
    -------
    ``(data, info)``: ``data`` has ``patient_id`` (when present), ``group``, ``time_months``
    (months from the landmark, or from treatment start) and ``event`` (int 0/1), one row per
    analysed patient in input order. ``info`` holds ``endpoint``, ``grouping``, ``levels``,
    ``reference``, ``landmark_months`` (None when no landmark), ``landmark_rule`` (sentence),
    ``n_input``, ``n_analysed``, ``excluded`` (DataFrame ``patient_id, reason``: every patient
    left out, first reason that applies), ``n_excluded`` (reason -> count).
    """
    tcol, ecol = _endpoint_columns(classification, endpoint)
    time, event = _check_endpoint(classification, tcol, ecol)
    labels, levels, ref, why = group_labels(classification, group_by, reference)
    by_hpd = group_by is not None and hpd_column_code(classification, str(group_by)) is not None
    default_landmark = isinstance(landmark, str) and landmark.strip().lower() in (
        "first_eval", "first_evaluation")
    if default_landmark and group_by is not None and not by_hpd:
        lm, rule = None, (f"no landmark: {group_by} is fixed at treatment start (a landmark "
                          "would drop early events from the comparison)")
    else:
        lm, rule = resolve_landmark(classification, landmark)
    n = len(classification)
    t = time.to_numpy(dtype=float)
    e = event.to_numpy(dtype=float)
    reason = why.to_numpy(dtype=object).copy()
    free = pd.isna(reason)
    missing = free & (np.isnan(t) | np.isnan(e))
    reason[missing] = REASON_ENDPOINT_MISSING
    free &= ~missing
    if lm is not None:
        early = free & (t <= lm)
        reason[early & (e == 1)] = REASON_EVENT_BEFORE
        reason[early & (e == 0)] = REASON_CENSORED_BEFORE
        if by_hpd and "first_eval_months" in classification.columns:
            fe = pd.to_numeric(classification["first_eval_months"], errors="coerce").to_numpy(float)
            late = pd.isna(reason) & (fe > lm)
            reason[late] = REASON_CLASSIFIED_AFTER
    keep = pd.isna(reason)
    ids = (classification["patient_id"].astype(str).to_numpy()
           if "patient_id" in classification.columns else classification.index.astype(str))
    ids = np.asarray(ids, dtype=object)
    data = pd.DataFrame({
        "patient_id": ids[keep],
        "group": labels.to_numpy(dtype=object)[keep],
        "time_months": t[keep] - (lm or 0.0),
        "event": e[keep].astype("int64"),
    })
    excluded = pd.DataFrame({"patient_id": ids[~keep], "reason": reason[~keep]})
    counts = excluded["reason"].value_counts()
    order = sorted(counts.index, key=lambda r: (-counts[r], str(r)))
    info: dict[str, Any] = {
        "endpoint": str(endpoint).lower(),
        "grouping": "all" if group_by is None else str(group_by),
        "levels": levels, "reference": ref,
        "landmark_months": lm, "landmark_rule": rule,
        "n_input": n, "n_analysed": int(keep.sum()),
        "excluded": excluded,
        "n_excluded": {r: int(counts[r]) for r in order},
    }
    return data, info


def fit_km(
    data: pd.DataFrame,
    group: str = "group",
    time: str = "time_months",
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
        kmf.fit(part[time].to_numpy(dtype=float), part[event].to_numpy(dtype=int),
                label=str(lv))
        out[str(lv)] = kmf
    return out


def _median_ci(kmf: Any) -> tuple[float, float, float]:
    from lifelines.utils import median_survival_times

    ci = median_survival_times(kmf.confidence_interval_)
    return float(kmf.median_survival_time_), float(ci.iloc[0, 0]), float(ci.iloc[0, 1])


class SurvivalComparison:
    """Kaplan–Meier curves, log-rank test and Cox hazard ratios of one endpoint by group.

    lifelines style: ``SurvivalComparison(endpoint="os", group_by="champiat2017").fit(table)``
    returns itself; then ``.summary`` (survival.csv rows), ``.fitters`` (label ->
    ``KaplanMeierFitter``, for plots with ``lifelines.plotting.add_at_risk_counts``),
    ``.logrank`` (lifelines ``StatisticalResult`` or None), ``.cox`` (``CoxPHFitter`` or None),
    ``.data``/``.info`` (from :func:`survival_data`) and ``.plot(ax=)``.
    """

    def __init__(self, endpoint: str = "os", group_by: str | None = None,
                 landmark: str | float | None = "first_eval", reference: str | None = None,
                 alpha: float = 0.05):
        if not 0.0 < float(alpha) < 1.0:
            raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1")
        self.endpoint, self.group_by, self.landmark = endpoint, group_by, landmark
        self.reference, self.alpha = reference, float(alpha)
        self.data: pd.DataFrame | None = None
        self.info: dict[str, Any] = {}
        self.fitters: dict[str, Any] = {}
        self.logrank: Any = None
        self.cox: Any = None
        self.summary: pd.DataFrame | None = None
        self.notes: list[str] = []

    def fit(self, classification: pd.DataFrame) -> SurvivalComparison:
        """Fit KM per group, the log-rank test and the Cox model; fill ``.summary``."""
        data, info = survival_data(classification, self.endpoint, self.group_by,
                                   self.landmark, self.reference)
        self.data, self.info = data, info
        levels, ref = info["levels"], info["reference"]
        self.fitters = fit_km(data, alpha=self.alpha, levels=levels)
        present = [lv for lv in levels if lv in self.fitters]
        self.notes = [info["landmark_rule"]]
        if info["n_excluded"]:
            self.notes.append("left out: " + ", ".join(
                f"{r} ({k})" for r, k in info["n_excluded"].items()))
        self.logrank, lr_name = self._logrank(data, present)
        hr = self._cox(data, present, ref)
        if hr["note"]:
            self.notes.append(hr["note"])
        for g, ph_p in hr["ph"].items():
            if ph_p < self.alpha:
                self.notes.append(f"{g} vs {ref}: " + NOTE_NON_PROPORTIONAL.format(p=format_p(ph_p)))
        rows = []
        lm = info["landmark_months"]
        for lv in levels:
            kmf = self.fitters.get(lv)
            part = data[data["group"] == lv]
            row: dict[str, Any] = {
                "endpoint": info["endpoint"], "grouping": info["grouping"], "group": lv,
                "n": len(part), "events": int(part["event"].sum()),
                "landmark_months": np.nan if lm is None else lm,
                "reference_group": ref if ref is not None else "",
                "logrank_p": np.nan if self.logrank is None else float(self.logrank.p_value),
                "logrank_test": lr_name,
                "hr_method": hr["method"],
                "n_excluded": int(sum(info["n_excluded"].values())),
            }
            notes = []
            if kmf is not None:
                med, lo, hi = _median_ci(kmf)
                row.update(median_months=med, median_ci_low=lo, median_ci_high=hi)
                if np.isinf(med):
                    notes.append("median not reached")
            else:
                notes.append("no patient in this group")
            if lv == ref and len(present) >= 2:
                row.update(hazard_ratio=1.0)
                notes.append("reference group")
            elif lv in hr["values"]:
                est, lo, hi, p = hr["values"][lv]
                row.update(hazard_ratio=est, hr_ci_low=lo, hr_ci_high=hi, hr_p_value=p)
                ph_p = hr["ph"].get(lv, np.nan)
                row["ph_p_value"] = ph_p
                if ph_p < self.alpha:
                    notes.append(NOTE_NON_PROPORTIONAL.format(p=format_p(ph_p)))
            if hr["note"] and lv != ref and len(present) >= 2:
                notes.append(hr["note"])
            row["note"] = "; ".join(notes)
            rows.append(row)
        out = pd.DataFrame(rows, columns=SURVIVAL_COLUMNS + EXTRA_COLUMNS)
        for c in ("median_months", "median_ci_low", "median_ci_high", "hazard_ratio",
                  "hr_ci_low", "hr_ci_high", "logrank_p", "landmark_months", "hr_p_value",
                  "ph_p_value"):
            out[c] = out[c].astype(float)
        for c in ("n", "events", "n_excluded"):
            out[c] = out[c].astype("int64")
        self.summary = out
        return self

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

    def _cox(self, data: pd.DataFrame, present: list[str], ref: str | None) -> dict[str, Any]:
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError, ConvergenceWarning

        level = f"{100 * (1 - self.alpha):g}%"
        method = (f"Cox proportional hazards (Efron ties), HR vs {ref}, {level} Wald CI"
                  if ref is not None else "")
        out: dict[str, Any] = {"values": {}, "note": "", "method": method, "ph": {}}
        if len(present) < 2 or ref not in present:
            out["method"] = "not estimated (fewer than two groups)" if len(present) < 2 else (
                f"not estimated (no patient in the reference group {ref})")
            return out
        others = [g for g in present if g != ref]
        sub = data[data["group"].isin(present)]
        events = sub.groupby("group")["event"].sum()
        if (events.reindex(present).fillna(0) == 0).any():
            empty = [g for g in present if events.get(g, 0) == 0]
            out["note"] = (f"hazard ratio not estimable: no event in {', '.join(empty)} "
                           "(the estimate would be 0 or infinite)")
            return out
        design = pd.DataFrame({"T": sub["time_months"].to_numpy(),
                               "E": sub["event"].to_numpy()})
        cols = {}
        for i, g in enumerate(others):
            name = f"g{i}"
            cols[name] = g
            design[name] = (sub["group"].to_numpy() == g).astype(float)
        cph = CoxPHFitter(alpha=self.alpha)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cph.fit(design, duration_col="T", event_col="E")
            except ConvergenceError:
                out["note"] = NOTE_COX_NOT_CONVERGED
                return out
        s = cph.summary
        lo_col = next(c for c in s.columns if c.startswith("exp(coef) lower"))
        hi_col = next(c for c in s.columns if c.startswith("exp(coef) upper"))
        if any(isinstance(w.message, ConvergenceWarning) for w in caught):
            bounds = s[[lo_col, hi_col]].to_numpy(dtype=float)
            if not (np.isfinite(bounds).all() and (bounds > 0).all()):
                # lifelines warns and returns a coefficient running off to +-infinity with a
                # 0..inf CI (monotone likelihood): no estimate, a note instead of a blank
                out["note"] = NOTE_COX_NOT_CONVERGED
                return out
            out["note"] = "warning: Cox model convergence warning (check the estimate)"
        for name, g in cols.items():
            out["values"][g] = (float(s.loc[name, "exp(coef)"]), float(s.loc[name, lo_col]),
                                float(s.loc[name, hi_col]), float(s.loc[name, "p"]))
        out["ph"] = _ph_test(cph, design, cols)
        self.cox = cph
        return out

    def plot(self, ax: Any = None, ci_show: bool = True, at_risk_counts: bool = False,
             **kwargs: Any) -> Any:
        """Kaplan–Meier curves of every group on ``ax`` (x: months), optional at-risk table."""
        import matplotlib.pyplot as plt

        if self.summary is None:
            raise ParameterError("SurvivalComparison.plot: call .fit(table) first")
        if ax is None:
            _, ax = plt.subplots()
        for kmf in self.fitters.values():
            kmf.plot_survival_function(ax=ax, ci_show=ci_show, **kwargs)
        origin = ("landmark" if self.info.get("landmark_months") is not None
                  else "treatment start")
        ax.set_xlabel(f"months from {origin}")
        ax.set_ylabel(ENDPOINT_NAMES.get(self.info.get("endpoint", ""), "survival"))
        if at_risk_counts and self.fitters:
            from lifelines.plotting import add_at_risk_counts

            add_at_risk_counts(*self.fitters.values(), ax=ax)
        return ax


def _ph_test(cph: Any, design: pd.DataFrame, cols: dict[str, str]) -> dict[str, float]:
    """p-value of the proportional-hazards test of each group's coefficient (group -> p; NaN
    when the test cannot be computed, e.g. too few events)."""
    from lifelines.statistics import proportional_hazard_test

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = proportional_hazard_test(cph, design, time_transform="km")
        p = res.summary["p"]
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
        return {g: np.nan for g in cols.values()}
    index = [i[0] if isinstance(i, tuple) else i for i in p.index]
    pv = dict(zip(index, p.to_numpy(dtype=float), strict=True))
    return {g: float(pv.get(name, np.nan)) for name, g in cols.items()}


def survival_table(
    classification: pd.DataFrame,
    endpoints: str | Sequence[str] | None = None,
    group_by: str | None = None,
    landmark: str | float | None = "first_eval",
    reference: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The report's survival.csv: one row per endpoint × group.

    ``endpoints``: one or several of ``os``, ``pfs``, ``ttf`` (default: those whose
    ``<endpoint>_months`` column exists and has a value). Columns :data:`SURVIVAL_COLUMNS`
    (the contract) then :data:`EXTRA_COLUMNS` (reference group, HR p-value, proportional-hazards
    test p-value, the names of the tests, patients left out, notes). Medians and CIs in months (``inf`` = not reached), HR vs
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
        SurvivalComparison(e, group_by, landmark, reference, alpha).fit(classification).summary
        for e in endpoints
    ]
    return pd.concat(tables, ignore_index=True)


def available_endpoints(table: pd.DataFrame) -> list[str]:
    """The endpoints of :data:`ENDPOINTS` that ``table`` can be analysed on: both
    ``<endpoint>_months`` and ``<endpoint>_event`` present and at least one time given.
    Empty for a cohort without survival data (e.g. tumour measurements only)."""
    return [e for e in ENDPOINTS
            if f"{e}_months" in table.columns and f"{e}_event" in table.columns
            and pd.to_numeric(table[f"{e}_months"], errors="coerce").notna().any()]


def no_endpoint_note(table: pd.DataFrame) -> str:
    """The sentence a report prints instead of the survival section when ``table`` has no
    endpoint (:func:`available_endpoints` is empty); ``""`` when it has one."""
    if available_endpoints(table):
        return ""
    return ("No survival data in this cohort (no os_months/os_event, pfs_months/pfs_event or "
            "ttf_months/ttf_event with a value, and no dates of death, progression or last "
            "contact to derive them): the survival section is skipped. Add these columns to "
            "patients to get Kaplan–Meier curves, log-rank tests and hazard ratios.")


def _is_pd_atom(atom: Any) -> bool:
    if atom.column != "recist_first_eval":
        return False
    if atom.op == "==":
        return str(atom.value).upper() == "PD"
    if atom.op == "in":
        return [str(v).upper() for v in atom.value] == ["PD"]
    return False


def requires_recist_pd(definition: Any) -> bool:
    """True when every HPD patient of ``definition`` (a
    :class:`~hpd_analysis.definitions.Definition`) has RECIST PD at the first evaluation: a
    requirement, or a top-level AND criterion, ``recist_first_eval == PD``."""
    atoms, tree, reqs = definition.compile()
    if any(_is_pd_atom(a) for a in reqs):
        return True

    def required(node: Any) -> bool:  # PD an AND-ed condition at any depth of nested ANDs
        if node.kind == "atom":
            return _is_pd_atom(atoms[node.atom])
        return node.kind == "all" and any(required(c) for c in node.children)

    return required(tree)


#: feature columns through which a definition reads each endpoint itself
ENDPOINT_INPUTS: dict[str, tuple[str, ...]] = {
    "os": ("os_months", "days_to_death", "death_day", "death_from_progression"),
    "pfs": ("pfs_months",),
    "ttf": ("ttf_months",),
}


def progression_tautology_note(group_by: str | None, definitions: Sequence[Any],
                               endpoint: str) -> str:
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
    atoms, _, reqs = defn.compile()
    uses = sorted({a.label for a in list(atoms) + list(reqs)
                   if a.column in ENDPOINT_INPUTS.get(ep, ())})
    if ep in ("pfs", "ttf") and requires_recist_pd(defn):
        return (f"Caution: {code} requires RECIST progression (PD) at the first evaluation, so "
                f"every HPD patient has progressed by that scan: the shorter {name} of the HPD "
                f"group is partly tautological (built into the grouping), not evidence of a worse "
                f"prognosis. Overall survival is the informative comparison.")
    if uses:
        return (f"Caution: {code} uses {name} itself to define HPD ({'; '.join(uses)}): the "
                f"difference in {name} between the groups is partly built into the grouping, "
                f"not evidence of a worse prognosis; read the hazard ratio and p-value with that "
                f"in mind.")
    return ""


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)

def survival_exclusions(data: pd.DataFrame, group_by: str | None, landmark: Any,
                        endpoints: Sequence[str] = ("os", "pfs", "ttf")) -> pd.DataFrame:
    """Patients left out of each survival comparison, by reason: ``endpoint, reason, n``
    (group not evaluable or missing, endpoint missing, event or censoring before the landmark)."""
    rows = []
    for ep in endpoints:
        if f"{ep}_months" not in data.columns or not data[f"{ep}_months"].notna().any():
            continue
        _, info = survival_data(data, ep, group_by, landmark)
        rows.append({"endpoint": ep, "reason": "analysed", "n": int(info["n_analysed"])})
        rows += [{"endpoint": ep, "reason": r, "n": int(n)} for r, n in info["n_excluded"].items()]
    return pd.DataFrame(rows, columns=["endpoint", "reason", "n"])
