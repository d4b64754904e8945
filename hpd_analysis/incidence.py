"""Incidence of HPD under each definition, with confidence intervals, and patient attrition.

Every patient of the classification table counts once per definition: as HPD, not HPD, or not
evaluable with the reason given by the classifier. Incidence is the share of HPD among the
*evaluable* patients (the denominator of the source studies), in percent, with a binomial
confidence interval:

- ``wilson`` (default): Wilson score interval (Wilson, JASA 1927), good coverage for small counts
  and proportions near 0;
- ``exact``: Clopper–Pearson interval (Biometrika 1934), guaranteed coverage, conservative;
- ``jeffreys``: equal-tailed Jeffreys interval (Brown, Cai & DasGupta, Stat Sci 2001).

All three come from :func:`statsmodels.stats.proportion.proportion_confint`.

The helpers :func:`definition_codes` and :func:`hpd_status` are shared by the other statistics
modules (agreement, riskfactors, survival): they read the ``hpd_<code>``, ``hpd_<code>_status``
and ``hpd_<code>_reason`` columns of the classification table (docs/architecture.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import CohortError, ParameterError, Problem

#: the three verdicts of a definition, in reporting order
STATUSES: tuple[str, str, str] = ("hpd", "not_hpd", "not_evaluable")

#: ``method`` argument -> (statsmodels method, label written in the ``ci_method`` column)
CI_METHODS: dict[str, tuple[str, str]] = {
    "wilson": ("wilson", "Wilson score"),
    "exact": ("beta", "Clopper-Pearson exact"),
    "clopper-pearson": ("beta", "Clopper-Pearson exact"),
    "jeffreys": ("jeffreys", "Jeffreys"),
}

#: label of the stratum holding patients whose ``by`` value is missing
MISSING_STRATUM = "missing"
#: reason written for a not-evaluable patient whose reason column is empty
NO_REASON = "not evaluable (no reason given)"

_TABLE = "classification"


# --------------------------------------------------------------------------- shared helpers
def _code_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    for attr in ("code", "name"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    raise ParameterError(
        f"definition {item!r}: expected a definition code (str) or an object with a .code/.name"
    )


def definition_codes(classification: pd.DataFrame, definitions: Any = None) -> list[str]:
    """Definition codes to analyse, checked against the columns of ``classification``.

    ``definitions`` is ``None`` (every ``hpd_<code>`` column that has a ``hpd_<code>_status`` or
    ``hpd_<code>_reason`` companion, in column order), one code, or an iterable of codes or
    ``Definition`` objects (their ``code``/``name``). A code given as ``hpd_<code>`` is accepted.
    Raises :class:`ParameterError` naming the missing columns and the definitions available.
    """
    cols = list(classification.columns)
    available = [
        c[4:]
        for c in cols
        if c.startswith("hpd_")
        and not c.endswith(("_status", "_reason"))
        and (f"{c}_status" in cols or f"{c}_reason" in cols)
    ]
    if definitions is None:
        if not available:
            raise ParameterError(
                "classification table has no hpd_<code> column with its hpd_<code>_status or "
                "_reason companion (expected the output of hpd_analysis.classification.classify)"
            )
        return available
    items = [definitions] if isinstance(definitions, str) else list(definitions)
    codes = []
    for item in items:
        code = _code_of(item)
        if code.startswith("hpd_") and code not in available and code[4:] in available:
            code = code[4:]
        codes.append(code)
    missing = [c for c in codes if f"hpd_{c}" not in cols]
    if missing:
        raise ParameterError(
            "classification table has no column "
            + ", ".join(f"hpd_{c}" for c in missing)
            + f" (definitions available: {', '.join(available) or 'none'})"
        )
    if len(set(codes)) != len(codes):
        raise ParameterError(f"definitions listed twice: {codes}")
    return codes


_TRUE_TEXT = {"true", "1", "1.0", "yes", "hpd"}
_FALSE_TEXT = {"false", "0", "0.0", "no", "not_hpd"}
_NA_TEXT = {"", "na", "nan", "<na>", "none", "null", "not_evaluable"}


def _flag_codes(classification: pd.DataFrame, flag_col: str) -> np.ndarray:
    """``hpd_<code>`` as int8 codes 0 (True), 1 (False), 2 (NA); text flags read as in a CSV."""
    flag = classification[flag_col]
    if pd.api.types.is_bool_dtype(flag.dtype):
        arr = pd.array(flag, dtype="boolean")
        is_na = np.asarray(arr.isna())
        is_true = arr.to_numpy(dtype=bool, na_value=False)
        return np.where(is_na, 2, np.where(is_true, 0, 1)).astype(np.int8)
    codes, uniques = pd.factorize(flag, use_na_sentinel=True)
    lut = np.empty(len(uniques) + 1, dtype=np.int8)
    lut[-1] = 2
    problems = []
    for i, u in enumerate(uniques):
        text = str(u).strip().lower()
        if isinstance(u, (bool, np.bool_)):
            lut[i] = 0 if u else 1
        elif text in _TRUE_TEXT:
            lut[i] = 0
        elif text in _FALSE_TEXT:
            lut[i] = 1
        elif text in _NA_TEXT:
            lut[i] = 2
        else:
            pos = int(np.flatnonzero(codes == i)[0])
            problems.append(
                Problem(
                    _TABLE,
                    pos + 2,
                    flag_col,
                    f"value {u!r} is not a flag",
                    "true, false or empty (not evaluable)",
                )
            )
    if problems:
        raise CohortError(problems)
    return lut[codes]


def status_codes(classification: pd.DataFrame, code: str) -> np.ndarray:
    """Verdicts of :func:`hpd_status` as int8 codes: 0 hpd, 1 not_hpd, 2 not_evaluable (fast)."""
    flag_col, status_col = f"hpd_{code}", f"hpd_{code}_status"
    derived = _flag_codes(classification, flag_col)
    if status_col not in classification.columns:
        return derived
    raw = classification[status_col]
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    lut = np.full(len(uniques) + 1, -1, dtype=np.int8)
    for i, u in enumerate(uniques):
        text = str(u).strip().lower()
        if text in STATUSES:
            lut[i] = STATUSES.index(text)
    status = lut[codes]
    problems = []
    for pos in np.flatnonzero(status < 0)[:20]:
        problems.append(
            Problem(
                _TABLE,
                int(pos) + 2,
                status_col,
                f"value {raw.iloc[pos]!r} is not a verdict",
                "hpd, not_hpd or not_evaluable",
            )
        )
    clash = (status >= 0) & (status != derived)
    for pos in np.flatnonzero(clash)[:20]:
        problems.append(
            Problem(
                _TABLE,
                int(pos) + 2,
                status_col,
                f"status {STATUSES[status[pos]]!r} contradicts {flag_col}="
                f"{classification[flag_col].iloc[pos]!r}",
                "hpd with True, not_hpd with False, not_evaluable with an empty flag",
            )
        )
    if problems:
        raise CohortError(problems)
    return status


def hpd_status(classification: pd.DataFrame, code: str) -> pd.Series:
    """Verdict of every patient under definition ``code``: ``hpd``, ``not_hpd`` or ``not_evaluable``.

    ``code`` is a definition code (``ferrara2018``) or one of its columns (``hpd_ferrara2018``,
    ``hpd_ferrara2018_status``). Read from ``hpd_<code>_status`` when present, else derived from
    the nullable boolean ``hpd_<code>`` (True -> hpd, False -> not_hpd, NA -> not_evaluable). A
    status column with any other value, or that contradicts the flag, raises :class:`CohortError`
    naming the rows. The one status helper of the package (statistics, plots and the report).
    """
    from .definitions import definition_code

    code = definition_code(code)
    codes = status_codes(classification, code)
    return pd.Series(
        np.asarray(STATUSES, dtype=object)[codes],
        index=classification.index,
        name=f"hpd_{code}_status",
    )


def hpd_reason(classification: pd.DataFrame, code: str) -> pd.Series:
    """The classifier's reason text for ``code`` (stripped; empty string when absent or NA)."""
    col = f"hpd_{code}_reason"
    if col not in classification.columns:
        return pd.Series("", index=classification.index, name=col, dtype=object)
    codes, uniques = pd.factorize(classification[col], use_na_sentinel=True)
    lut = np.asarray([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(lut[codes], index=classification.index, name=col)


def _factorize_sorted(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1 when missing) and sorted unique values; mixed types sort by their text."""
    keys, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = list(uniques)
    try:
        order = sorted(range(len(uniq)), key=lambda i: uniq[i])
    except TypeError:
        order = sorted(range(len(uniq)), key=lambda i: str(uniq[i]))
    rank = np.empty(len(uniq) + 1, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(uniq))
    rank[-1] = -1
    return rank[keys], [uniq[i] for i in order]


def format_level(value: Any) -> str:
    """Text of a group level in tables: whole floats without ``.0`` (ECOG ``1``), timestamps as
    ISO dates, anything else ``str``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def _binomial_ci(
    n_hpd: np.ndarray, n_eval: np.ndarray, method: str, *, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent and CI bounds in %, NaN where there is no evaluable patient."""
    from statsmodels.stats.proportion import proportion_confint

    n_hpd = np.asarray(n_hpd, dtype=float)
    n_eval = np.asarray(n_eval, dtype=float)
    ok = n_eval > 0
    pct = np.full(n_hpd.shape, np.nan)
    low = np.full(n_hpd.shape, np.nan)
    high = np.full(n_hpd.shape, np.nan)
    if ok.any():
        lo, hi = proportion_confint(n_hpd[ok], n_eval[ok], alpha=alpha, method=method)
        pct[ok] = 100.0 * n_hpd[ok] / n_eval[ok]
        low[ok] = 100.0 * np.clip(np.asarray(lo, dtype=float), 0.0, 1.0)
        high[ok] = 100.0 * np.clip(np.asarray(hi, dtype=float), 0.0, 1.0)
        # every interval has bound exactly 0 at 0 events and 100 % at n events: drop rounding
        # noise such as 2.8e-15 so that tables read (and compare) cleanly
        low[ok & (n_hpd == 0)] = 0.0
        high[ok & (n_hpd == n_eval)] = 100.0
    return pct, low, high


# --------------------------------------------------------------------------- incidence
#: counts of HPD patients and the incidence (%) with its binomial CI
COUNT_CI_COLUMNS: tuple[str, ...] = (
    "n_hpd",
    "n_evaluable",
    "n_total",
    "percent",
    "ci_low",
    "ci_high",
    "ci_method",
)
INCIDENCE_COLUMNS = ["definition", "stratum", *COUNT_CI_COLUMNS, "n_died_before_first_eval"]
#: per-patient flag of a death before the first evaluation (classification column)
DIED_BEFORE_FIRST_EVAL = "died_before_first_eval"
#: attrition status of a patient not evaluable because of a death before the first evaluation
DIED_STATUS = "died_before_first_eval"


def _died_before_first_eval(classification: pd.DataFrame) -> np.ndarray:
    """The ``died_before_first_eval`` flag as bool (all False when the column is absent)."""
    if DIED_BEFORE_FIRST_EVAL not in classification.columns:
        return np.zeros(len(classification), dtype=bool)
    return np.asarray(
        pd.array(classification[DIED_BEFORE_FIRST_EVAL], dtype="boolean").fillna(False), dtype=bool
    )


def incidence(
    classification: pd.DataFrame,
    definitions: Any = None,
    by: str | Sequence[str] | None = None,
    *,
    method: str = "wilson",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Incidence of HPD per definition, overall and by stratum, with a binomial CI.

    Parameters
    ----------
    classification
        Per-patient classification table (``hpd_<code>``, ``hpd_<code>_status`` ...), plus the
        ``by`` columns when stratifying.
    definitions
        Codes to report (default: every definition in the table), see :func:`definition_codes`.
    by
        Column name(s) to stratify by. Each gives rows ``stratum = "<col>=<value>"`` (levels in
        sorted order) and ``"<col>=missing"`` for patients without a value, after the overall row
        ``stratum = "all"``.
    method
        ``wilson`` (default), ``exact`` (Clopper–Pearson) or ``jeffreys``.
    alpha
        1 − confidence level (0.05 gives 95 % intervals).

    Returns
    -------
    DataFrame with :data:`INCIDENCE_COLUMNS`: counts of patients, ``percent`` = 100 · n_hpd /
    n_evaluable and its CI bounds ``ci_low``/``ci_high`` **in percent** (NaN when no patient is
    evaluable), ``ci_method`` naming the interval and its level (e.g. "Wilson score 95%"), and
    ``n_died_before_first_eval``: patients of the stratum who died before any first evaluation
    (an outcome of its own, whatever the definition's verdict; 0 without the
    ``died_before_first_eval`` column).
    """
    sm_method, ci_label = _ci_method(method, alpha)
    codes = definition_codes(classification, definitions)
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [c for c in by_cols if c not in classification.columns]
    if missing:
        raise ParameterError(
            f"by={missing}: no such column in the classification table "
            f"(columns: {', '.join(map(str, classification.columns))})"
        )
    strata = {col: _factorize_sorted(classification[col]) for col in by_cols}
    died = _died_before_first_eval(classification)
    pieces = []
    for code in codes:
        st = status_codes(classification, code)
        pieces.append(_stratum_counts(code, st, died))
        for col, (keys, uniques) in strata.items():
            pieces.append(_stratum_counts(code, st, died, column=col, keys=keys, levels=uniques))
    out = pd.concat(pieces, ignore_index=True)
    pct, low, high = _binomial_ci(out["n_hpd"], out["n_evaluable"], sm_method, alpha=alpha)
    out["percent"], out["ci_low"], out["ci_high"] = pct, low, high
    out["ci_method"] = ci_label
    for c in ("n_hpd", "n_evaluable", "n_total", "n_died_before_first_eval"):
        out[c] = out[c].astype("int64")
    return out[INCIDENCE_COLUMNS]


def _ci_method(method: str, alpha: float) -> tuple[str, str]:
    """The statsmodels name of the binomial CI ``method`` and its label with the level
    ("Wilson score 95%"); :class:`ParameterError` for an unknown method or an alpha out of
    (0, 1)."""
    key = str(method).strip().lower()
    if key not in CI_METHODS:
        raise ParameterError(f"method={method!r}: expected one of {', '.join(CI_METHODS)}")
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1 (0.05 = 95% CI)")
    sm_method, label = CI_METHODS[key]
    return sm_method, f"{label} {_level_text(alpha)}"


def _stratum_counts(
    code: str,
    status: np.ndarray,
    died: np.ndarray,
    *,
    column: str | None = None,
    keys: np.ndarray | None = None,
    levels: Any = None,
) -> pd.DataFrame:
    """Counts of one definition (``status``: :func:`status_codes`): patients HPD, evaluable,
    in all, dead before the first evaluation; one row ``stratum = "all"`` without ``column``,
    else one row per level of ``column`` (``keys``: level codes, -1 missing) then its missing
    values."""
    is_hpd = status == 0
    is_eval = status < 2
    if column is None or keys is None:
        return pd.DataFrame(
            {
                "definition": code,
                "stratum": "all",
                "n_hpd": [int(is_hpd.sum())],
                "n_evaluable": [int(is_eval.sum())],
                "n_total": [len(status)],
                "n_died_before_first_eval": [int(died.sum())],
            }
        )
    k = len(levels) + 1  # last bin: missing value
    slot = np.where(keys < 0, k - 1, keys)
    return pd.DataFrame(
        {
            "definition": code,
            "stratum": [f"{column}={format_level(v)}" for v in levels]
            + [f"{column}={MISSING_STRATUM}"],
            "n_hpd": np.bincount(slot, weights=is_hpd, minlength=k).astype("int64"),
            "n_evaluable": np.bincount(slot, weights=is_eval, minlength=k).astype("int64"),
            "n_total": np.bincount(slot, minlength=k).astype("int64"),
            "n_died_before_first_eval": np.bincount(slot, weights=died, minlength=k).astype(
                "int64"
            ),
        }
    )


def _level_text(alpha: float) -> str:
    level = 100.0 * (1.0 - float(alpha))
    return f"{level:g}%"


# --------------------------------------------------------------------------- attrition
ATTRITION_COLUMNS = ["definition", "status", "reason_category", "reason", "n", "percent_of_cohort"]

#: canonical categories of not-evaluable reasons: (category, keywords); the first category
#: with a keyword found in the reason (case-insensitive) wins, so the order matters
REASON_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no measurable disease at baseline", ("no target lesion at baseline", "measurable")),
    (
        "died before first evaluation",
        ("died before first evaluation", "death before the first evaluation"),
    ),
    ("no measurements", ("no measurements",)),
    ("no usable pre-baseline scan", ("pre-baseline",)),
    (
        "no usable baseline scan",
        ("no scan on or before treatment start", "baseline scan more than", "no baseline"),
    ),
    ("no on-treatment evaluation", ("no on-treatment scan", "no first evaluation")),
    ("target lesion(s) not measured", ("not measured", "target not evaluable")),
    ("pre-treatment growth ≤ 0 (ratio undefined)", ("tgr_pre", "tgk_pre", "shrinking")),
    ("outside the definition's time window", ("outside", "after day")),
    ("follow-up too short (censored)", ("censored",)),
    (
        "clinical data missing (ECOG, dates, death)",
        ("ecog", "ttf", "death", "treatment_end", "last_contact"),
    ),
)
#: category of reasons matching no keyword
OTHER_REASON = "other"


def reason_category(reasons: pd.Series) -> pd.Series:
    """Canonical category of each not-evaluable reason (:data:`REASON_CATEGORIES`), computed
    once per distinct text; :data:`OTHER_REASON` when no keyword matches."""
    keys, uniques = pd.factorize(reasons.astype(object))
    cats = []
    for text in uniques:
        low = str(text).lower()
        cats.append(
            next(
                (c for c, words in REASON_CATEGORIES if any(w.lower() in low for w in words)),
                OTHER_REASON,
            )
        )
    arr = np.asarray(cats + [OTHER_REASON], dtype=object)
    return pd.Series(arr[np.where(keys < 0, len(cats), keys)], index=reasons.index, dtype=object)


#: a parenthesised, patient-specific detail holding a number, e.g. " (day 45)"
_DETAIL = r"\s*\([^()]*\d[^()]*\)"

#: ``reason`` written for the two evaluable verdicts in the attrition table
EVALUABLE_REASON = "evaluable"


def _reason_counts(reasons: np.ndarray, collapse_details: bool) -> list[tuple[str, int]]:
    """(reason, number of patients) of the not-evaluable patients of one definition, most
    frequent first, ties alphabetically: each distinct text counted once (``collapse_details``:
    without its patient-specific detail in parentheses), an empty text as :data:`NO_REASON`."""
    keys, uniques = pd.factorize(pd.Series(reasons, dtype=object))
    counts: dict[str, int] = {}
    for text, n in zip(uniques, np.bincount(keys, minlength=len(uniques)), strict=True):
        label = re.sub(_DETAIL, "", text).strip() if collapse_details else text
        label = label or NO_REASON
        counts[label] = counts.get(label, 0) + int(n)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def attrition(
    classification: pd.DataFrame, definitions: Any = None, collapse_details: bool = True
) -> pd.DataFrame:
    """Every patient counted exactly once per definition: HPD, not HPD, or not evaluable + reason.

    Rows per definition: ``status = "hpd"`` and ``"not_hpd"`` (``reason = "evaluable"``; present
    even when the count is 0), ``"died_before_first_eval"`` (not evaluable because the patient
    died before any first evaluation: an outcome of its own; present when the classification
    has the ``died_before_first_eval`` column), then one row per distinct not-evaluable reason (most frequent
    first, ties alphabetically; an empty reason becomes :data:`NO_REASON`). ``n`` sums to the
    number of patients for each definition; ``percent_of_cohort`` is ``n`` over that number,
    in % (not an incidence: see :func:`incidence`, whose denominator is the evaluable patients).

    ``reason_category`` groups the detailed reasons into a few canonical categories
    (:data:`REASON_CATEGORIES`: no pre-baseline scan, died before first evaluation, …) so that
    definitions can be compared; ``reason`` keeps the full text.

    ``collapse_details`` (default True) groups reasons that differ only by a patient-specific
    detail in parentheses holding a number, e.g. "died before first evaluation (day 45)" and
    "(day 18)" count together as "died before first evaluation"; the per-patient text stays in
    the classification table.
    """
    codes = definition_codes(classification, definitions)
    n_total = len(classification)
    died = _died_before_first_eval(classification)
    with_died_row = DIED_BEFORE_FIRST_EVAL in classification.columns
    rows: list[tuple[str, str, str, int]] = []  # definition, status, reason, n
    for code in codes:
        st = status_codes(classification, code)
        n_died = int(((st == 2) & died).sum())
        rows += [
            (code, "hpd", EVALUABLE_REASON, int((st == 0).sum())),
            (code, "not_hpd", EVALUABLE_REASON, int((st == 1).sum())),
        ]
        if n_died or with_died_row:
            rows.append((code, DIED_STATUS, "died before first evaluation", n_died))
        not_evaluable = (st == 2) & ~died
        reasons = hpd_reason(classification, code).to_numpy()[not_evaluable]
        rows += [
            (code, "not_evaluable", reason, n)
            for reason, n in _reason_counts(reasons, collapse_details)
        ]
    out = pd.DataFrame(rows, columns=["definition", "status", "reason", "n"])
    out["n"] = out["n"].astype("int64")
    out["reason_category"] = reason_category(out["reason"]).where(
        out["status"].isin(["not_evaluable", DIED_STATUS]), EVALUABLE_REASON
    )
    out["percent_of_cohort"] = 100.0 * out["n"] / n_total if n_total else np.nan
    return out[ATTRITION_COLUMNS]


FLOW_COLUMNS = ["definition", "node", "parent", "level", "n", "percent"]


def attrition_flow(classification: pd.DataFrame, definitions: Any = None) -> pd.DataFrame:
    """Nodes of a CONSORT-style flow diagram per definition (for the attrition figure).

    One row per box: ``cohort`` (level 0) → ``evaluable`` / ``not evaluable`` (level 1) →
    ``HPD`` / ``not HPD`` under evaluable and one box per reason under not evaluable (level 2).
    ``parent`` names the box above (NA for the cohort box); ``n`` patients; ``percent`` of the
    cohort. Children's ``n`` always add up to their parent's.
    """
    att = attrition(classification, definitions)
    n_total = len(classification)
    rows: list[dict[str, Any]] = []
    for code, part in att.groupby("definition", sort=False):
        n_hpd = int(part.loc[part["status"].eq("hpd"), "n"].sum())
        n_not = int(part.loc[part["status"].eq("not_hpd"), "n"].sum())
        ne = part[part["status"].eq("not_evaluable")]
        n_died = int(part.loc[part["status"].eq(DIED_STATUS), "n"].sum())
        rows += [
            {"definition": code, "node": "cohort", "parent": pd.NA, "level": 0, "n": n_total},
            {
                "definition": code,
                "node": "evaluable",
                "parent": "cohort",
                "level": 1,
                "n": n_hpd + n_not,
            },
            *(
                [
                    {
                        "definition": code,
                        "node": "died before first evaluation",
                        "parent": "cohort",
                        "level": 1,
                        "n": n_died,
                    }
                ]
                if n_died
                else []
            ),
            {
                "definition": code,
                "node": "not evaluable",
                "parent": "cohort",
                "level": 1,
                "n": int(ne["n"].sum()),
            },
            {"definition": code, "node": "HPD", "parent": "evaluable", "level": 2, "n": n_hpd},
            {"definition": code, "node": "not HPD", "parent": "evaluable", "level": 2, "n": n_not},
        ]
        rows += [
            {"definition": code, "node": r, "parent": "not evaluable", "level": 2, "n": int(n)}
            for r, n in zip(ne["reason"], ne["n"], strict=True)
        ]
    out = pd.DataFrame(rows, columns=FLOW_COLUMNS[:-1])
    out["n"] = out["n"].astype("int64")
    out["percent"] = 100.0 * out["n"] / n_total if n_total else np.nan
    return out[FLOW_COLUMNS]


# --------------------------------------------------------------------------- grouping
#: group labels of an HPD grouping, in display order, and its reference group
HPD_LABEL, NON_HPD_LABEL = "HPD", "non-HPD"


def hpd_column_code(data: pd.DataFrame, group: str) -> str | None:
    """The definition code when ``group`` names one (``<code>``, ``hpd_<code>`` or its status)."""
    cols = set(data.columns)
    name = group[: -len("_status")] if group.endswith("_status") else group
    if name.startswith("hpd_") and name in cols and not name.endswith("_reason"):
        return name[4:]
    if f"hpd_{name}" in cols:
        return name
    return None


def group_labels(
    data: pd.DataFrame, group: str | None, reference: str | None = None
) -> tuple[pd.Series, list[str], str | None, pd.Series]:
    """Group label of every patient for comparisons by ``group``.

    - ``None``: one group ``"all"``.
    - an HPD definition (``<code>``, ``hpd_<code>``): ``"HPD"`` / ``"non-HPD"``, reference
      ``"non-HPD"``; patients not evaluable get NA, with the reason ``"not evaluable under <code>"``.
    - any other column: its values as text (``1.0`` -> ``"1"``), levels sorted, reference the
      first level unless ``reference`` is given; missing values get NA, reason
      ``"<group> missing"``.

    Returns ``(labels, levels, reference, why_excluded)``: labels as object Series (NA when
    excluded), levels in display order, the reference level, and the exclusion reason per
    patient (NA when included).
    """
    idx = data.index
    if group is None:
        labels = pd.Series("all", index=idx, dtype=object)
        return labels, ["all"], None, pd.Series(pd.NA, index=idx, dtype=object)
    if not isinstance(group, str) or (
        group not in data.columns and hpd_column_code(data, group) is None
    ):
        raise ParameterError(
            f"group {group!r}: no such column (expected a patient column or an HPD definition "
            f"code; columns: {', '.join(map(str, data.columns))})"
        )
    code = hpd_column_code(data, group)
    if code is not None:
        st = status_codes(data, code)
        labels = pd.Series(
            np.asarray([HPD_LABEL, NON_HPD_LABEL, pd.NA], dtype=object)[st], index=idx
        )
        levels = [HPD_LABEL, NON_HPD_LABEL]
        ref: str | None = NON_HPD_LABEL if reference is None else reference
        why = pd.Series(
            np.asarray([pd.NA, pd.NA, f"not evaluable under {code}"], dtype=object)[st], index=idx
        )
    else:
        keys, uniques = _factorize_sorted(data[group])
        text = [format_level(v) for v in uniques]
        levels = list(dict.fromkeys(text))
        labels = pd.Series(np.asarray([*text, pd.NA], dtype=object)[keys], index=idx)
        ref = levels[0] if (reference is None and levels) else reference
        why = pd.Series(
            np.asarray([*([pd.NA] * len(text)), f"{group} missing"], dtype=object)[keys], index=idx
        )
    if ref is not None and ref not in levels:
        raise ParameterError(f"reference={ref!r}: not a level of {group} (levels: {levels})")
    return labels, levels, ref, why


PSEUDOPROGRESSION_COLUMNS = [
    "definition",
    "n_hpd",
    "n_hpd_icpd",
    "n_hpd_pseudoprogression",
    "n_hpd_unconfirmed",
    "n_hpd_later_response",
    "n_pseudoprogression",
    "n_total",
]


def hpd_and_pseudoprogression(
    classification: pd.DataFrame, course: pd.DataFrame, definitions: Any = None
) -> pd.DataFrame:
    """Pseudoprogression beside HPD: per definition, how its HPD patients fared under iRECIST.

    ``course``: :func:`hpd_analysis.classification.irecist_course` (same patients). Columns
    :data:`PSEUDOPROGRESSION_COLUMNS`: HPD patients whose progression was confirmed (iCPD), was a
    pseudoprogression, stayed unconfirmed, or who later responded (PR/CR after the first
    evaluation); ``n_pseudoprogression``: pseudoprogressions in the whole cohort.
    """
    codes = definition_codes(classification, definitions)
    c = course.set_index("patient_id").reindex(classification["patient_id"].to_numpy())
    kind = c["irecist_course"].to_numpy(dtype=object)
    pseudo = c["pseudoprogression"].fillna(False).to_numpy(dtype=bool)
    later = c["later_response"].fillna(False).to_numpy(dtype=bool)
    rows = []
    for code in codes:
        hpd = status_codes(classification, code) == 0
        rows.append(
            {
                "definition": code,
                "n_hpd": int(hpd.sum()),
                "n_hpd_icpd": int((hpd & (kind == "iCPD")).sum()),
                "n_hpd_pseudoprogression": int((hpd & pseudo).sum()),
                "n_hpd_unconfirmed": int((hpd & (kind == "unconfirmed")).sum()),
                "n_hpd_later_response": int((hpd & later).sum()),
                "n_pseudoprogression": int(pseudo.sum()),
                "n_total": len(hpd),
            }
        )
    return pd.DataFrame(rows, columns=PSEUDOPROGRESSION_COLUMNS)


# --------------------------------------------------------------------------- by treatment arm
ARM_COLUMNS = [
    "definition",
    "arm",
    "reference_arm",
    "n_hpd",
    "n_evaluable",
    "percent",
    "ci_low",
    "ci_high",
    "difference_pp",
    "diff_ci_low",
    "diff_ci_high",
    "odds_ratio",
    "or_ci_low",
    "or_ci_high",
    "fisher_p",
    "ci_method",
    "diff_ci_method",
    "or_ci_method",
]

#: the ``arm`` of the row that counts the patients without a treatment-arm value
NO_ARM = "(no arm recorded)"

#: words that name a comparator arm (the default reference of :func:`incidence_by_arm`)
COMPARATOR_WORDS: tuple[str, ...] = ("docetaxel", "placebo", "control", "comparator")


def incidence_by_arm(
    classification: pd.DataFrame,
    arm: str = "arm",
    definitions: Any = None,
    *,
    reference: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """HPD incidence per treatment arm, and each arm against the reference arm (a randomized
    comparator such as OAK's docetaxel), as Li et al. (Oncologist 2023; seven atezolizumab
    trials, n = 4,644) reported HPD under immunotherapy and under chemotherapy.

    Per definition and arm: HPD among the evaluable patients with the Wilson score CI (in %);
    against the reference arm: the difference in percentage points with Newcombe's hybrid score
    CI (Newcombe, Stat Med 1998, method 10: from the two Wilson intervals;
    :func:`statsmodels.stats.proportion.confint_proportions_2indep`, ``method="newcomb"``), the
    odds ratio with Woolf's logit CI (no CI when a cell is 0), and the two-sided Fisher exact
    p-value (as R's ``fisher.test``). ``reference``: default the first arm whose label names a
    comparator (:data:`COMPARATOR_WORDS`), else the first sorted arm. Patients without an arm
    are counted in a last row per definition (``arm`` = :data:`NO_ARM`), compared with no arm.
    Columns :data:`ARM_COLUMNS`; percentages and differences in %.
    """
    from scipy.stats import norm

    if arm not in classification.columns:
        raise ParameterError(
            f"arm={arm!r}: no such column (expected the treatment-arm column, "
            f"e.g. arm or treatment)"
        )
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1")
    keys, uniques = _factorize_sorted(classification[arm])
    labels = [format_level(u) for u in uniques]
    if len(labels) < 2:
        raise ParameterError(f"arm={arm!r}: needs at least two arms (found {labels})")
    ref_i = labels.index(_reference_arm(labels, reference))
    level = _level_text(alpha)
    z = float(norm.ppf(1 - alpha / 2))
    has_arm = keys >= 0
    rows = []
    for code in definition_codes(classification, definitions):
        st = status_codes(classification, code)
        n_hpd = np.bincount(
            keys[has_arm], weights=(st == 0)[has_arm], minlength=len(labels)
        ).astype(int)
        n_ev = np.bincount(keys[has_arm], weights=(st < 2)[has_arm], minlength=len(labels)).astype(
            int
        )
        pct, low, high = _binomial_ci(n_hpd, n_ev, "wilson", alpha=alpha)
        a0, n0 = int(n_hpd[ref_i]), int(n_ev[ref_i])
        for i, lv in enumerate(labels):
            row = _arm_row(
                code, lv, labels[ref_i], n_hpd=int(n_hpd[i]), n_evaluable=int(n_ev[i]), level=level
            )
            row.update(percent=pct[i], ci_low=low[i], ci_high=high[i])
            a1, n1 = int(n_hpd[i]), int(n_ev[i])
            if i != ref_i and n1 > 0 and n0 > 0:
                row.update(_arm_comparison((a1, n1), (a0, n0), alpha=alpha, z=z, level=level))
            rows.append(row)
        if not has_arm.all():  # no patient silently lost: those without an arm get their own row
            none = ~has_arm
            k_hpd, k_ev = int((st[none] == 0).sum()), int((st[none] < 2).sum())
            p_no, lo_no, hi_no = _binomial_ci(
                np.array([k_hpd]), np.array([k_ev]), "wilson", alpha=alpha
            )
            row = _arm_row(code, NO_ARM, labels[ref_i], n_hpd=k_hpd, n_evaluable=k_ev, level=level)
            row.update(percent=p_no[0], ci_low=lo_no[0], ci_high=hi_no[0])
            rows.append(row)
    out = pd.DataFrame(rows, columns=ARM_COLUMNS)
    for c in ("n_hpd", "n_evaluable"):
        out[c] = out[c].astype("int64")
    for c in ARM_COLUMNS[5:15]:
        out[c] = out[c].astype(float)
    return out


def _reference_arm(labels: list[str], reference: str | None) -> str:
    """The reference arm: ``reference`` (it must be one of ``labels``), else the first arm whose
    label names a comparator (:data:`COMPARATOR_WORDS`), else the first arm."""
    if reference is None:
        reference = next(
            (lv for lv in labels if any(w in lv.lower() for w in COMPARATOR_WORDS)), labels[0]
        )
    if str(reference) not in labels:
        raise ParameterError(f"reference={reference!r}: not an arm ({labels})")
    return str(reference)


def _arm_row(
    code: str, arm: str, reference: str, *, n_hpd: int, n_evaluable: int, level: str
) -> dict[str, Any]:
    """The counts of one arm (no comparison yet: empty method texts)."""
    return {
        "definition": code,
        "arm": arm,
        "reference_arm": reference,
        "n_hpd": n_hpd,
        "n_evaluable": n_evaluable,
        "ci_method": f"Wilson score {level}",
        "diff_ci_method": "",
        "or_ci_method": "",
    }


def _arm_comparison(
    arm: tuple[int, int], ref: tuple[int, int], *, alpha: float, z: float, level: str
) -> dict[str, Any]:
    """One arm against the reference (``(n_hpd, n_evaluable)`` each, both evaluable counts > 0):
    the difference in percentage points with Newcombe's hybrid score CI, the two-sided Fisher
    exact p-value and the odds ratio with Woolf's logit CI (``z``: its normal quantile; none
    when a cell is 0)."""
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import confint_proportions_2indep

    (a1, n1), (a0, n0) = arm, ref
    lo_d, hi_d = confint_proportions_2indep(
        a1, n1, a0, n0, method="newcomb", compare="diff", alpha=alpha
    )
    out: dict[str, Any] = {
        "difference_pp": 100.0 * (a1 / n1 - a0 / n0),
        "diff_ci_low": 100.0 * float(lo_d),
        "diff_ci_high": 100.0 * float(hi_d),
        "diff_ci_method": f"Newcombe hybrid score (Wilson) {level}",
    }
    cells = np.array([[a1, n1 - a1], [a0, n0 - a0]], dtype=float)
    out["fisher_p"] = float(fisher_exact(cells.astype(int)).pvalue)
    if (cells > 0).all():
        log_or = float(np.log(cells[0, 0] * cells[1, 1] / (cells[0, 1] * cells[1, 0])))
        se = float(np.sqrt((1.0 / cells).sum()))
        out.update(
            odds_ratio=float(np.exp(log_or)),
            or_ci_low=float(np.exp(log_or - z * se)),
            or_ci_high=float(np.exp(log_or + z * se)),
            or_ci_method=f"Woolf (logit) {level}",
        )
    else:
        out["or_ci_method"] = "not estimable: a cell is 0"
    return out


#: columns that may hold the treatment arm, in the order :func:`arm_column` looks at them
ARM_CANDIDATES: tuple[str, ...] = ("arm", "treatment_arm", "treatment")


def arm_column(table: pd.DataFrame) -> str | None:
    """The column to compare HPD between treatment arms (:func:`incidence_by_arm`): the first of
    :data:`ARM_CANDIDATES` with a comparator arm (:data:`COMPARATOR_WORDS`, e.g. OAK's
    docetaxel), else ``arm`` when it has at least two values, else None."""
    present = [c for c in ARM_CANDIDATES if c in table.columns]
    for c in present:
        values = table[c].dropna().astype(str).str.lower().unique()
        if len(values) >= 2 and any(w in v for v in values for w in COMPARATOR_WORDS):
            return c
    if "arm" in present and table["arm"].dropna().nunique() >= 2:
        return "arm"
    return None


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)


def _sweep_parameter(definition: Any) -> str | None:
    for name, value in definition.parameters.items():
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value > 0
            and name.endswith(("_min", "_min_pct", "_max_months"))
        ):
            return name
    return None


def threshold_sweep_table(
    section: Any,
    definition: str | None = None,
    parameter: str | None = None,
    *,
    n_values: int = 21,
    method: str = "wilson",
) -> pd.DataFrame:
    """HPD incidence as one threshold of a definition varies, with a binomial CI.

    Default: the primary definition's first threshold parameter (e.g. ``delta_tgr_min`` of
    ``ferrara2018``), over ``n_values`` evenly spaced values from 0 (ratio thresholds: 1) to 3 ×
    the published value. Columns of :func:`hpd_analysis.classification.threshold_sweep` plus
    ``default`` (the published value), ``ci_low``, ``ci_high`` (%), ``ci_method``.
    """
    import numpy as np
    from statsmodels.stats.proportion import proportion_confint

    from .classification import threshold_sweep

    code = definition or section.primary
    defn = next((d for d in section.definitions if _code_of(d) == code), None)
    if defn is None:
        raise ParameterError(f"threshold sweep: definition {code} is not in the report")
    name = parameter or _sweep_parameter(defn)
    cols = ["definition", "parameter", "value", "default", *COUNT_CI_COLUMNS]
    if name is None:
        return pd.DataFrame(columns=cols)
    default = float(defn.parameters[name])
    low = 1.0 if "ratio" in name else 0.0
    values = np.round(np.linspace(low, max(3.0 * default, low + 1.0), n_values), 6)
    # the published threshold is always on the grid (the curve is read at that point)
    values = np.unique(np.append(values, round(float(default), 6)))
    sweep = threshold_sweep(section.features, defn, name, values=values)
    sm, ci_label = CI_METHODS[method]
    n_e = sweep["n_evaluable"].to_numpy(dtype=float)
    ok = n_e > 0
    lo = np.full(len(sweep), np.nan)
    hi = np.full(len(sweep), np.nan)
    if ok.any():
        a, b = proportion_confint(
            sweep["n_hpd"].to_numpy(dtype=float)[ok], n_e[ok], alpha=0.05, method=sm
        )
        lo[ok], hi[ok] = 100.0 * np.asarray(a), 100.0 * np.asarray(b)
    sweep["default"] = default
    sweep["ci_low"], sweep["ci_high"] = lo, hi
    sweep["ci_method"] = f"{ci_label} 95%"
    return sweep[cols]
