"""Agreement between HPD definitions: Jaccard overlap and Cohen's kappa, and UpSet counts.

For each pair of definitions (A, B) the comparison uses only the patients **evaluable under both**
(a patient not evaluable under one definition says nothing about agreement). On those patients:

- ``n_both``: HPD under A and B; ``n_a_only`` / ``n_b_only``: HPD under one only;
  ``n_neither``: HPD under neither; ``n_either`` = n_both + n_a_only + n_b_only.
- **Jaccard index** = n_both / n_either, the overlap of the two sets of HPD patients (as in
  Kas et al., JAMA Oncol 2020: 27.6 %–69.3 % between five definitions). Undefined (NaN) when no
  patient is HPD under either definition. Reported as a fraction (0–1), with a Wilson interval
  for n_both out of n_either (:func:`statsmodels.stats.proportion.proportion_confint`; it treats
  the patients HPD under either definition as given, so it shows how precisely the overlap is
  known from that many patients).
- **Jaccard index over all patients** (``jaccard_all_patients`` = ``n_both_all`` /
  ``n_either_all``): the variant of Kas et al. 2020, on every patient, a patient not evaluable
  under a definition counting as not HPD under it. It is lower when a definition evaluates fewer
  patients (its HPD patients cannot overlap with patients it could not assess).
- **Cohen's kappa** (Cohen 1960) on the 2×2 table, chance-corrected agreement, with its asymptotic
  standard error and Wald confidence interval (Fleiss, Cohen & Everitt 1969) and the two-sided
  z-test of kappa = 0 (standard error under the null), all from
  :func:`statsmodels.stats.inter_rater.cohens_kappa`. Undefined (NaN, with a note) when both
  definitions give one and the same verdict to every patient (expected agreement = 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .errors import ParameterError
from .incidence import definition_codes, status_codes

#: counts of patients of a pair of definitions, among those evaluable under both
PAIR_COUNT_COLUMNS: tuple[str, ...] = (
    "n_both_evaluable",
    "n_both",
    "n_a_only",
    "n_b_only",
    "n_neither",
    "n_either",
)
AGREEMENT_COLUMNS = [
    "definition_a",
    "definition_b",
    *PAIR_COUNT_COLUMNS,
    "jaccard",
    "jaccard_ci_low",
    "jaccard_ci_high",
    "jaccard_ci_method",
    "percent_agreement",
    "kappa",
    "kappa_ci_low",
    "kappa_ci_high",
    "kappa_p_value",
    "kappa_test",
    "note",
    "jaccard_population",
    "n_both_all",
    "n_either_all",
    "jaccard_all_patients",
]
#: who the main Jaccard index (and kappa) is computed on
JACCARD_POPULATION = "patients evaluable under both definitions"


def _kappa(table: np.ndarray, alpha: float) -> tuple[float, float, float, float, str]:
    """Cohen's kappa, Wald CI and two-sided p (z-test of kappa = 0) of a 2x2 table."""
    from scipy import stats
    from statsmodels.stats.inter_rater import cohens_kappa

    n = table.sum()
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan, "no patient evaluable under both"
    p_row = table.sum(axis=1) / n
    p_col = table.sum(axis=0) / n
    if np.isclose((p_row * p_col).sum(), 1.0):
        return (
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            ("kappa undefined: both definitions give every patient the same verdict"),
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = cohens_kappa(table, return_results=True)
    kappa = float(res["kappa"])
    se = float(res["std_kappa"])
    z = stats.norm.ppf(1 - alpha / 2)
    low, high = kappa - z * se, kappa + z * se
    p = float(res["pvalue_two_sided"])
    note = ""
    if not np.isfinite(p):
        note = "kappa test undefined (zero variance under the null)"
    return kappa, max(low, -1.0), min(high, 1.0), p, note


def agreement(
    classification: pd.DataFrame, definitions: Any = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Pairwise agreement between definitions on the patients evaluable under both.

    Parameters
    ----------
    classification
        Per-patient classification table (``hpd_<code>`` / ``hpd_<code>_status`` columns).
    definitions
        Codes to compare (default: every definition in the table); pairs follow this order.
    alpha
        1 − confidence level of the kappa and Jaccard CIs.

    Returns
    -------
    One row per unordered pair, :data:`AGREEMENT_COLUMNS`: counts of patients (evaluable under
    both, said in ``jaccard_population``), ``jaccard`` with
    ``jaccard_ci_low/high`` (Wilson, n_both of n_either) and
    ``percent_agreement`` (observed agreement, %), ``kappa`` with ``kappa_ci_low/high`` (Wald,
    asymptotic SE), ``kappa_p_value`` and ``kappa_test`` naming the test, ``note`` when a value is
    undefined; then ``n_both_all``, ``n_either_all`` and ``jaccard_all_patients`` over every
    patient (not evaluable = not HPD; Kas et al. 2020).
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1")
    codes = definition_codes(classification, definitions)
    status = {c: status_codes(classification, c) for c in codes}
    test_name = (
        f"Cohen's kappa, z-test of kappa = 0 (two-sided); "
        f"{100 * (1 - alpha):g}% Wald CI, asymptotic SE"
    )
    rows = [
        {
            "definition_a": a,
            "definition_b": b,
            **_pair_agreement(_PairCounts.of(status[a], status[b]), alpha, test_name),
        }
        for a, b in combinations(codes, 2)
    ]
    out = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    for c in (*PAIR_COUNT_COLUMNS, "n_both_all", "n_either_all"):
        out[c] = out[c].astype("int64")
    return out


@dataclass(frozen=True)
class _PairCounts:
    """The 2x2 table of two definitions on the patients evaluable under both (``n`` of them):
    HPD under both (``n11``), under A only (``n10``), B only (``n01``), neither (``n00``); and
    over every patient (not evaluable = not HPD): HPD under both / either."""

    n: int
    n11: int
    n10: int
    n01: int
    n00: int
    both_all: int
    either_all: int

    @classmethod
    def of(cls, status_a: np.ndarray, status_b: np.ndarray) -> _PairCounts:
        """From the status codes (:func:`status_codes`: 0 hpd, 1 not_hpd, 2 not evaluable)."""
        both = (status_a < 2) & (status_b < 2)
        fa = status_a[both] == 0
        fb = status_b[both] == 0
        return cls(
            n=int(both.sum()),
            n11=int((fa & fb).sum()),
            n10=int((fa & ~fb).sum()),
            n01=int((~fa & fb).sum()),
            n00=int((~fa & ~fb).sum()),
            both_all=int(((status_a == 0) & (status_b == 0)).sum()),
            either_all=int(((status_a == 0) | (status_b == 0)).sum()),
        )


def _pair_agreement(c: _PairCounts, alpha: float, test_name: str) -> dict[str, Any]:
    """The :data:`AGREEMENT_COLUMNS` of one pair after its two codes: counts, Jaccard index
    with its Wilson CI, percent agreement, Cohen's kappa with its CI and test, notes."""
    from statsmodels.stats.proportion import proportion_confint

    either = c.n11 + c.n10 + c.n01
    table = np.array([[c.n11, c.n10], [c.n01, c.n00]], dtype=float)
    kappa, low, high, p, note = _kappa(table, alpha)
    notes = [note] if note else []
    if either == 0 and c.n > 0:
        notes.append("jaccard undefined: no patient HPD under either definition")
    j_low, j_high = (
        proportion_confint(c.n11, either, alpha=alpha, method="wilson")
        if either
        else (np.nan, np.nan)
    )
    return {
        "n_both_evaluable": c.n,
        "n_both": c.n11,
        "n_a_only": c.n10,
        "n_b_only": c.n01,
        "n_neither": c.n00,
        "n_either": either,
        "jaccard": c.n11 / either if either else np.nan,
        "jaccard_ci_low": j_low,
        "jaccard_ci_high": j_high,
        "jaccard_ci_method": f"Wilson score {100 * (1 - alpha):g}% (n_both of n_either)",
        "percent_agreement": 100.0 * (c.n11 + c.n00) / c.n if c.n else np.nan,
        "kappa": kappa,
        "kappa_ci_low": low,
        "kappa_ci_high": high,
        "kappa_p_value": p,
        "kappa_test": test_name,
        "note": "; ".join(notes),
        "jaccard_population": JACCARD_POPULATION,
        "n_both_all": c.both_all,
        "n_either_all": c.either_all,
        "jaccard_all_patients": c.both_all / c.either_all if c.either_all else np.nan,
    }


def agreement_matrix(table: pd.DataFrame, value: str = "jaccard") -> pd.DataFrame:
    """Square definitions × definitions matrix of ``value`` from :func:`agreement` (for a heatmap).

    The diagonal is 1 for ``jaccard`` and ``kappa``, 100 for ``percent_agreement``, and the
    per-definition maximum of the pair counts otherwise (NaN); the matrix is symmetric.
    """
    if value not in table.columns:
        raise ParameterError(f"value={value!r}: expected a column of the agreement table")
    codes = list(dict.fromkeys([*table["definition_a"], *table["definition_b"]]))
    m = pd.DataFrame(
        np.nan,
        index=pd.Index(codes, name="definition_a"),
        columns=pd.Index(codes, name="definition_b"),
    )
    for a, b, v in zip(table["definition_a"], table["definition_b"], table[value], strict=True):
        m.loc[a, b] = v
        m.loc[b, a] = v
    diag = {"jaccard": 1.0, "kappa": 1.0, "percent_agreement": 100.0}.get(value, np.nan)
    for c in codes:
        m.loc[c, c] = diag
    return m


def upset_data(classification: pd.DataFrame, definitions: Any = None) -> pd.Series:
    """Counts of each combination of HPD flags, for an UpSet plot.

    Only patients **evaluable under every listed definition** are counted (otherwise a missing
    flag would be read as "not HPD"); the number left out is in ``result.attrs["n_excluded"]``
    and the cohort size in ``attrs["n_total"]``. The result is a Series named ``n`` indexed by a
    boolean MultiIndex with one level per definition (the format of the ``upsetplot`` package),
    one entry per observed combination — including "HPD under none" — most frequent first,
    ties in index order.
    """
    codes = definition_codes(classification, definitions)
    if len(codes) > 62:
        raise ParameterError("upset_data: at most 62 definitions")
    st = np.column_stack([status_codes(classification, c) for c in codes])
    all_eval = (st < 2).all(axis=1)
    bits = (st[all_eval] == 0).astype(np.int64) @ (np.int64(1) << np.arange(len(codes)))
    combos, n = np.unique(bits, return_counts=True)
    flags = ((combos[:, None] >> np.arange(len(codes))) & 1).astype(bool)
    index = pd.MultiIndex.from_arrays([flags[:, k] for k in range(len(codes))], names=codes)
    counts = pd.Series(n.astype("int64"), index=index, name="n")
    counts = counts.sort_index(ascending=False)
    order = np.argsort(-counts.to_numpy(), kind="stable")
    counts = counts.iloc[order]
    counts.attrs["n_total"] = len(classification)
    counts.attrs["n_evaluable_all"] = int(all_eval.sum())
    counts.attrs["n_excluded"] = int((~all_eval).sum())
    counts.attrs["definitions"] = codes
    return counts
