"""Risk factors of HPD: Table 1 by HPD status and logistic-regression odds ratios.

Candidate factors are those the literature links to HPD (Lin et al., Transl Lung Cancer Res 2021,
and the studies it reviews): age and age ≥ 65 years (Champiat 2017), sex (female, Saâda-Bouzid
2017), ECOG performance status, more than two metastatic sites (Kim 2019), liver metastasis,
LDH above the upper limit of normal, neutrophil-to-lymphocyte ratio (NLR, dNLR), PD-L1 tumour
proportion score, MDM2/MDM4 amplification and EGFR alterations (Kato 2017), prior radiotherapy
and locoregional recurrence (Saâda-Bouzid 2017), plus any other patient column that looks like a
baseline covariate.

- :func:`table1` — descriptive table by group with one test per variable, built with the
  ``tableone`` package: mean (SD) and Welch's t-test (two groups) or one-way ANOVA for roughly
  normal continuous variables; median [Q1,Q3] and Kruskal–Wallis (= Mann–Whitney U for two
  groups, normal approximation) for skewed ones; n (%) and chi-squared for categories, switched to
  Fisher's exact test for a 2×2 table with an expected (or observed) count < 5; absolute
  standardized mean difference (SMD).
  An r × c table with a small expected count gets a seeded Monte Carlo chi-squared p and,
  beside it, Fisher's exact test (:func:`fisher_exact_rx2`).
- :func:`odds_ratios` — univariable and multivariable logistic regression
  (statsmodels GLM, binomial family, logit link): odds ratio = exp(coefficient), Wald CI (or
  profile likelihood) and Wald z-test p-value. Variables are coded as in Table 1 (integer
  factors with ≤ 5 values categorical, against their largest level), skewed positive covariates
  on the log2 scale. Separation (perfect prediction) switches the model to Firth's penalized
  likelihood (firthmodels, as R logistf), or, with ``statistics.firth=never``, yields an
  explicit note row instead of an absurd estimate; an events-per-variable (EPV) below 10
  (Peduzzi et al., J Clin Epidemiol 1996) yields a warning. Missing covariates: complete cases,
  counted; multiple imputation with Rubin's rules as an option (:func:`mice_odds_ratios`).

Options: the ``statistics`` parameter group (:class:`~hpd_analysis.params.Statistics`); methods
and references: ``docs/statistics.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ParameterError
from .incidence import format_level, group_labels, hpd_column_code, hpd_status
from .params import DEFAULT_PREDICTORS, Statistics

#: literature risk factors in reporting order (derived ones right after their source)
LITERATURE_FACTORS: tuple[str, ...] = (
    "age",
    "age_ge_65",
    "sex",
    "ecog_baseline",
    "n_metastatic_sites",
    "n_metastatic_sites_gt_2",
    "liver_metastasis",
    "ldh_above_uln",
    "nlr",
    "dnlr",
    "pdl1_tps",
    "mdm2_amp",
    "egfr_alt",
    "prior_radiotherapy",
    "locoregional_recurrence",
)

#: derived factor -> (source column, rule text)
DERIVED_FACTORS: dict[str, tuple[str, str]] = {
    "age_ge_65": ("age", "age >= 65 years"),
    "n_metastatic_sites_gt_2": ("n_metastatic_sites", "more than 2 metastatic sites"),
}

_EXCLUDED_EXACT = {
    "patient_id",
    "treatment_start",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
    "death_day",
    "ecog_first_eval",
    "first_eval_months",
    "delta_tgr",
    "n_post_baseline_scans",
    "group",
    "ecog_delta",
    "death_from_progression",
    "death_cause",
    "bor",
    "pseudoprogression",
    "ldh_uln",
}
_EXCLUDED_PREFIXES = (
    "hpd_",
    "tgr_",
    "tgk_",
    "sld_",
    "recist_",
    "irecist",
    "bor_",
    "prebaseline_",
    "baseline_",
    "first_eval_",
    "days_",
    "os_",
    "pfs_",
    "ttf_",
    "new_lesions",
    "new_organs",
    "max_new_lesions",
    "target_response",
    "non_target_",
    "date_",
    "ecog_",
    "death_",
    "progression_",
    "best_overall",
    "icpd",
    "iupd",
)
_EXCLUDED_SUFFIXES = (
    "_id",
    "_date",
    "_reason",
    "_status",
    "_months",
    "_event",
    "_day",
    "_days",
    "_first_eval",
    "_mm",
    "_dt",
    "_dtc",
)


def default_candidates(columns: Iterable[str]) -> list[str]:
    """Candidate risk factors among ``columns``: literature factors first, then other covariates.

    Literature factors (:data:`LITERATURE_FACTORS`) present in ``columns`` come first in that
    order; ``age_ge_65`` and ``n_metastatic_sites_gt_2`` are listed when their source column is
    present (:func:`derive_risk_factors` computes them). Then every other column, in input order,
    except identifiers, dates, endpoints (``os_*``, ``*_months``, ``*_event`` ...), HPD verdicts
    and reasons (``hpd_*``), and kinetic / first-evaluation outputs (``tgr_*``, ``sld_*``,
    ``recist_*``, ``ecog_first_eval`` ...), which are not baseline covariates.
    """
    from .scores import derivable_columns

    cols = [str(c) for c in columns]
    cols += derivable_columns(cols)  # LDH > ULN, dNLR, RMH score, LIPI (scores.add_scores)
    present = set(cols)
    out = [
        f
        for f in LITERATURE_FACTORS
        if f in present or (f in DERIVED_FACTORS and DERIVED_FACTORS[f][0] in present)
    ]
    for c in cols:
        low = c.lower()
        if c in out or low in _EXCLUDED_EXACT or low.startswith(_EXCLUDED_PREFIXES):
            continue
        if low.endswith(_EXCLUDED_SUFFIXES) or low.startswith("__"):
            continue
        out.append(c)
    return out


def derive_risk_factors(data: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``data`` with the derived factors added when their source is present.

    ``age_ge_65`` = age ≥ 65 years; ``n_metastatic_sites_gt_2`` = more than 2 metastatic sites
    (nullable boolean, NA where the source is missing); the clinical scores and their parts
    (:func:`hpd_analysis.scores.add_scores`: LDH > ULN, albumin < 35 g/L, dNLR, RMH score,
    LIPI) when their inputs are columns. Existing columns are left untouched.
    """
    from .scores import add_scores

    out = add_scores(data)  # LDH > ULN, albumin < 35 g/L, dNLR, RMH score, LIPI when computable
    if "age" in out.columns and "age_ge_65" not in out.columns:
        age = pd.to_numeric(out["age"], errors="coerce").astype("Float64")
        out["age_ge_65"] = (age >= 65).astype("boolean")
    if "n_metastatic_sites" in out.columns and "n_metastatic_sites_gt_2" not in out.columns:
        sites = pd.to_numeric(out["n_metastatic_sites"], errors="coerce").astype("Float64")
        out["n_metastatic_sites_gt_2"] = (sites > 2).astype("boolean")
    return out


def _check_variables(data: pd.DataFrame, variables: Sequence[str], what: str) -> None:
    missing = [v for v in variables if v not in data.columns]
    if missing:
        raise ParameterError(
            f"{what}: no column {', '.join(map(repr, missing))} in the data "
            f"(columns: {', '.join(map(str, data.columns))})"
        )


def _is_bool(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    vals = s.dropna()
    return s.dtype == object and len(vals) > 0 and vals.map(type).isin([bool, np.bool_]).all()


def _is_categorical(s: pd.Series, max_int_levels: int = 5) -> bool:
    """Text, category and boolean columns; integer columns with at most 5 distinct values (ECOG)."""
    if _is_bool(s) or not pd.api.types.is_numeric_dtype(s.dtype):
        return True
    vals = pd.to_numeric(s.dropna(), errors="coerce").astype(float)
    return bool(len(vals) and np.all(np.mod(vals, 1) == 0) and vals.nunique() <= max_int_levels)


def _variables_for(
    data: pd.DataFrame, variables: Sequence[str] | None, exclude: Iterable[str]
) -> list[str]:
    skip = set(exclude)
    if variables is None:
        variables = candidate_risk_factors(data)
    else:
        variables = _as_list(variables)
    return [v for v in variables if v not in skip]


# --------------------------------------------------------------------------- Table 1
#: the grouping column of Table 1's working frame
_GROUP = "__group__"


def _definition_companions(data: pd.DataFrame, column: str) -> set[str]:
    """``column`` and, when it names an HPD definition, that definition's ``hpd_<code>``,
    ``hpd_<code>_status`` and ``hpd_<code>_reason`` columns (never candidate covariates)."""
    code = hpd_column_code(data, column)
    companions = {column}
    if code is not None:
        companions |= {f"hpd_{code}", f"hpd_{code}_status", f"hpd_{code}_reason"}
    return companions


def _left_out_note(why: pd.Series, what: str) -> str:
    """``"<n> patient(s) left out (<what>): <reason> (<n>), ..."`` for the reasons ``why``."""
    reasons = why.value_counts()
    return f"{len(why)} patient(s) left out ({what}): " + ", ".join(
        f"{r} ({n})" for r, n in reasons.items()
    )


@dataclass
class _Table1Frame:
    """Table 1's patients of known group with the variables coded as tableone reads them
    (categories as level text, the others as floats) and the group label in ``__group__``."""

    work: pd.DataFrame
    categorical: list[str]
    nonnormal: list[str]
    #: variables with at least one value (the others get a "not tested: no value" row)
    described: list[str]
    empty: list[str]
    #: every group level, and those with at least one patient
    levels: list[str]
    present: list[str]

    @property
    def compare(self) -> bool:
        """Tests and SMDs need two groups with patients."""
        return len(self.present) >= 2


def _table1_frame(
    data: pd.DataFrame,
    labels: pd.Series,
    levels: list[str],
    *,
    variables: list[str],
    categorical: Sequence[str] | None,
    nonnormal: Sequence[str] | None,
) -> _Table1Frame:
    """Code ``variables`` of the patients whose group label is known: categories (given, or by
    :func:`_is_categorical`) as level text, continuous variables as numbers (a non-numeric value
    raises :class:`ParameterError`); non-normal ones given or those with |skewness| > 1."""
    keep = labels.notna().to_numpy()
    work = pd.DataFrame(index=data.index[keep])
    cat_list = (
        list(categorical)
        if categorical is not None
        else [v for v in variables if _is_categorical(data[v])]
    )
    _check_variables(data, cat_list, "table1 categorical")
    cont_list = [v for v in variables if v not in cat_list]
    for v in variables:
        s = data.loc[keep, v]
        if v in cat_list:
            work[v] = s.map(format_level, na_action="ignore").astype(object).where(s.notna(), None)
        else:
            num = pd.to_numeric(s, errors="coerce")
            bad = num.isna() & s.notna()
            if bad.any():
                raise ParameterError(
                    f"table1: column {v!r} has non-numeric value {s[bad].iloc[0]!r}; list it in "
                    "categorical= or clean it (expected numbers)"
                )
            work[v] = num.astype(float)
    if nonnormal is None:
        skewed = [v for v in cont_list if _skewed(work[v])]
    else:
        skewed = _as_list(nonnormal)
    empty = [v for v in variables if work[v].notna().sum() == 0]
    work[_GROUP] = labels[keep].to_numpy()
    return _Table1Frame(
        work=work,
        categorical=cat_list,
        nonnormal=skewed,
        described=[v for v in variables if v not in empty],
        empty=empty,
        levels=levels,
        present=[lv for lv in levels if (work[_GROUP] == lv).any()],
    )


def _run_tableone(frame: _Table1Frame, decimals: int) -> tuple[Any, list[str]]:
    """The ``tableone.TableOne`` of the described variables by group (None when none is
    described) and the texts of its warnings (tableone's own notices left out)."""
    from tableone import TableOne

    compare = frame.compare
    described = frame.described
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = (
            TableOne(
                frame.work,
                columns=described or None,
                categorical=[v for v in frame.categorical if v in described],
                nonnormal=[v for v in frame.nonnormal if v in described],
                groupby=_GROUP,
                pval=compare,
                htest_name=compare,
                smd=compare,
                missing=True,
                overall=True,
                include_null=False,
                label_suffix=False,
                decimals=decimals,
                order={_GROUP: frame.present},
            )
            if described
            else None
        )
    return t, [str(w.message) for w in caught if "tableone" not in str(w.message).lower()]


def table1(
    data: pd.DataFrame,
    group: str,
    variables: Sequence[str] | None = None,
    *,
    categorical: Sequence[str] | None = None,
    nonnormal: Sequence[str] | None = None,
    decimals: int = 1,
    reference: str | None = None,
    statistics: Statistics | None = None,
) -> pd.DataFrame:
    """Table 1: patient characteristics by ``group`` with one test and SMD per variable.

    Parameters
    ----------
    data
        One row per patient (classification merged with patient columns).
    group
        Grouping column; an HPD definition (``<code>`` or ``hpd_<code>``) gives the columns
        ``HPD`` and ``non-HPD`` and leaves out patients not evaluable under it.
    variables
        Rows of the table (default :func:`default_candidates`; derived factors are computed).
    categorical
        Variables shown as n (%) (default: text, boolean, and integer columns with ≤ 5 values).
    nonnormal
        Continuous variables shown as median [Q1,Q3] and tested with Kruskal–Wallis (default: those
        with absolute sample skewness > 1); the others get mean (SD) and Welch's t-test (ANOVA for
        more than two groups).
    decimals
        Decimals of the summaries (p-values and SMD are full-precision numbers).

    Returns
    -------
    DataFrame with columns ``variable, level, statistic, overall, <group levels...>, missing,
    test, p_value, smd``. The first row (``variable = "n"``) gives the patients per column; its
    ``missing`` is the number of patients left out because their group is unknown (e.g. not
    evaluable). Other rows: ``missing`` = patients without a value of the variable (not in the
    percentages), ``test`` names the test behind ``p_value`` (categories: chi-squared; Fisher's
    exact for a 2 x 2 table with an expected count < 5; for larger tables with one, a seeded
    Monte Carlo chi-squared p, :func:`chi2_monte_carlo`), ``smd`` is the absolute
    standardized mean difference (two groups; the largest pairwise one for more). Notes and
    tableone warnings are in ``result.attrs["warnings"]``. With ``statistics.exact_fisher``
    (default) a table given the Monte Carlo chi-squared also gets Fisher's exact test in
    ``exact_test`` / ``exact_p_value`` (:func:`fisher_exact_rx2`: full enumeration, as R's
    ``fisher.test``, for two groups; a seeded Monte Carlo Fisher p for more).
    """
    data = derive_risk_factors(data)
    labels, levels, _, why = group_labels(data, group, reference)
    variables = _variables_for(data, variables, _definition_companions(data, group))
    _check_variables(data, variables, "table1 variables")
    if not variables:
        raise ParameterError("table1: no variable to describe")
    unknown = labels.isna().to_numpy()
    n_excluded = int(unknown.sum())
    notes = [_left_out_note(why[unknown], "group unknown")] if n_excluded else []
    frame = _table1_frame(
        data,
        labels,
        levels,
        variables=variables,
        categorical=categorical,
        nonnormal=nonnormal,
    )
    if frame.empty:
        notes.append(f"no value at all (not described): {', '.join(frame.empty)}")
    t, tableone_notes = _run_tableone(frame, decimals)
    out = _flatten_tableone(t, frame)
    _add_exact_fisher(
        out,
        frame.work,
        frame.present,
        enabled=(statistics if statistics is not None else Statistics()).exact_fisher,
    )
    # n row: patients left out because the group is unknown
    out.loc[out["variable"].eq("n"), "missing"] = n_excluded
    out = _with_undescribed_rows(out, frame.empty, n_patients=len(frame.work))
    text_cols = [c for c in out.columns if c not in ("missing", "p_value", "smd", "exact_p_value")]
    out[text_cols] = out[text_cols].fillna("").astype(str)
    out["missing"] = out["missing"].astype("Int64")
    out.attrs["warnings"] = notes + tableone_notes
    out.attrs["n_excluded"] = n_excluded
    out.attrs["group"] = group
    return out


def _with_undescribed_rows(out: pd.DataFrame, empty: list[str], n_patients: int) -> pd.DataFrame:
    """Table 1 with a "not tested: no value" row for each variable without any value."""
    for v in empty:
        row = {
            "variable": v,
            "level": "",
            "statistic": "",
            "missing": int(n_patients),
            "test": "not tested: no value",
        }
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    return out


def _skewed(s: pd.Series, threshold: float = 1.0) -> bool:
    vals = s.dropna().to_numpy(dtype=float)
    if len(vals) < 3 or np.ptp(vals) == 0:
        return False
    return bool(abs(stats.skew(vals)) > threshold)


def _statistic_name(var: str, frame: _Table1Frame) -> str:
    """What a Table 1 row shows: ``n``, ``n (%)``, ``median [Q1,Q3]`` or ``mean (SD)``."""
    if var == "n":
        return "n"
    if var in frame.categorical:
        return "n (%)"
    if var in frame.nonnormal:
        return "median [Q1,Q3]"
    return "mean (SD)"


def _flatten_tableone(t: Any, frame: _Table1Frame) -> pd.DataFrame:
    """tableone's table as one row per variable level with the test, its p-value and the SMD
    on the first row of each variable (an r x c table with a small expected count gets the
    Monte Carlo chi-squared p, :func:`_small_count_chi2`)."""
    work, levels, present = frame.work, frame.levels, frame.present
    cols = [
        "variable",
        "level",
        "statistic",
        "overall",
        *levels,
        "missing",
        "test",
        "p_value",
        "smd",
    ]
    if t is None:
        n_row = {"variable": "n", "level": "", "statistic": "n", "overall": str(len(work))}
        n_row.update({lv: str(int((work[_GROUP] == lv).sum())) for lv in levels})
        return pd.DataFrame([n_row], columns=cols)
    tab = t.tableone.copy()
    tab.columns = tab.columns.get_level_values(-1)
    htest = t.htest_table if frame.compare else None
    smd_tab = t.smd_table if frame.compare else None
    rows: list[dict[str, Any]] = []
    for (var, level), r in tab.iterrows():
        row: dict[str, Any] = {"variable": var, "level": level}
        row["overall"] = r.get("Overall", "")
        for lv in levels:
            row[lv] = r[lv] if lv in present else ("0" if var == "n" else "")
        miss = str(r.get("Missing", "")).strip()
        row["missing"] = int(float(miss)) if miss not in ("", "nan") else pd.NA
        row["statistic"] = _statistic_name(var, frame)
        first = var != "n" and (not rows or rows[-1]["variable"] != var)
        if first and htest is not None and var in htest.index:
            row.update(_variable_test(htest, var, frame))
        if first and smd_tab is not None and var in smd_tab.index:
            vals = pd.to_numeric(smd_tab.loc[var], errors="coerce").abs()
            row["smd"] = float(vals.max()) if vals.notna().any() else np.nan
        if not first and var != "n":
            row["missing"] = pd.NA
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    out["p_value"] = out["p_value"].astype(float)
    out["smd"] = out["smd"].astype(float)
    out["test"] = out["test"].fillna("")
    out[["overall", *levels]] = out[["overall", *levels]].fillna("").astype(str)
    return out


def _variable_test(htest: pd.DataFrame, var: str, frame: _Table1Frame) -> dict[str, Any]:
    """``p_value`` and ``test`` of one variable from tableone's test table, the test named
    exactly (:func:`_test_name`); an r x c chi-squared with an expected count < 5 replaced by
    its Monte Carlo p (:func:`_small_count_chi2`)."""
    p = htest.loc[var, "P-Value"]
    p_value = float(p) if p is not None and float(p) >= 0 else np.nan
    test = _test_name(
        str(htest.loc[var, "Test"]),
        frame.work,
        var,
        cat_list=frame.categorical,
        present=frame.present,
    )
    if test.startswith("Chi-squared") and "Yates" not in test:
        # an r x c table (2 x 2 ones get Fisher's exact or Yates): tableone names it
        # "Chi-squared (warning: expected count < 5)" when the approximation is poor
        mc = _small_count_chi2(frame.work, var, frame.present)
        if mc is not None:
            p_value, test = mc
    return {"p_value": p_value, "test": test}


#: permutations of the Monte Carlo chi-squared test, its seed, and the largest table it runs on
#: (beyond, the asymptotic chi-squared p-value is kept, with a note)
MC_PERMUTATIONS, MC_SEED, MC_MAX_N = 10_000, 0, 20_000


def chi2_monte_carlo(
    x: np.ndarray, g: np.ndarray, permutations: int = MC_PERMUTATIONS, *, seed: int = MC_SEED
) -> tuple[float, float]:
    """Pearson's chi-squared statistic of the table of ``x`` by ``g`` (category codes, no
    missing) and its Monte Carlo p-value with both margins fixed, as R's
    ``chisq.test(simulate.p.value = TRUE, B = permutations)``: (1 + number of permuted tables
    with a statistic ≥ the observed one) / (permutations + 1). Seeded: the same data give the same
    p-value."""
    x = np.asarray(x, dtype=np.int64)
    g = np.asarray(g, dtype=np.int64)
    n, r, c = len(x), int(x.max()) + 1, int(g.max()) + 1
    observed = np.bincount(x * c + g, minlength=r * c).reshape(r, c)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    stat = float(((observed - expected) ** 2 / expected).sum())
    rng = np.random.default_rng(seed)
    chunk = max(1, min(1000, 2_000_000 // max(n, 1)))  # permutations at once (bounded memory)
    hits, done = 0, 0
    while done < permutations:
        k = min(chunk, permutations - done)
        perm = rng.permuted(np.broadcast_to(g, (k, n)), axis=1)
        cells = (x * c + perm) + (np.arange(k) * (r * c))[:, None]
        counts = np.bincount(cells.ravel(), minlength=k * r * c).reshape(k, r, c)
        stats_ = ((counts - expected) ** 2 / expected).sum(axis=(1, 2))
        hits += int((stats_ >= (1 - 64 * np.finfo(float).eps) * stat).sum())  # R's tolerance
        done += k
    return stat, (1 + hits) / (permutations + 1)


#: largest number of partial tables :func:`fisher_exact_rx2` enumerates (beyond: NaN)
FISHER_MAX_TABLES = 5_000_000


def fisher_exact_rx2(table: np.ndarray) -> float:
    """Two-sided p-value of Fisher's exact test of an r × 2 table (rows: levels, columns: the two
    groups), by full enumeration of the tables with the observed margins: the sum of the
    probabilities of the tables no more probable than the observed one (relative tolerance
    1e-7, as R's ``fisher.test``). NaN when more than :data:`FISHER_MAX_TABLES` partial tables
    would be needed. (SciPy's ``fisher_exact`` on an r × c table returns a Monte Carlo p.)"""
    from scipy.special import gammaln

    t = np.asarray(table, dtype=np.int64)
    rows, col0, n = t.sum(axis=1), int(t[:, 0].sum()), int(t.sum())

    def log_choose(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return (
            gammaln(np.asarray(a) + 1.0)
            - gammaln(np.asarray(b) + 1.0)
            - gammaln(np.asarray(a) - np.asarray(b) + 1.0)
        )

    obs = float(np.sum(log_choose(rows, t[:, 0])))
    sums, logs = np.zeros(1, dtype=np.int64), np.zeros(1)
    left = int(rows.sum())
    for r in rows:
        left -= int(r)
        x = np.arange(int(r) + 1)
        s_new = (sums[:, None] + x[None, :]).ravel()
        l_new = (logs[:, None] + log_choose(int(r), x)[None, :]).ravel()
        keep = (s_new <= col0) & (s_new + left >= col0)
        sums, logs = s_new[keep], l_new[keep]
        if len(sums) > FISHER_MAX_TABLES:
            return float("nan")
    total = float(log_choose(n, col0))
    probs = np.exp(logs - total)
    return float(min(1.0, probs[logs <= obs + np.log1p(1e-7)].sum()))


def _tested_values(work: pd.DataFrame, var: str, present: list[str]) -> pd.DataFrame:
    """Columns ``var`` and the group of the patients a test of ``var`` reads: a value, and a
    group with patients."""
    return work.loc[work[var].notna() & work[_GROUP].isin(present), [var, _GROUP]]


def _add_exact_fisher(
    out: pd.DataFrame, work: pd.DataFrame, present: list[str], *, enabled: bool
) -> None:
    """Columns ``exact_test`` and ``exact_p_value`` of Table 1: Fisher's exact test beside each
    Monte Carlo chi-squared (empty elsewhere)."""
    out["exact_test"] = ""
    out["exact_p_value"] = np.nan
    if not enabled:
        return
    for i in np.flatnonzero(out["test"].astype(str).str.startswith("Chi-squared, Monte Carlo")):
        var = out.at[i, "variable"]
        sub = _tested_values(work, var, present)
        tab = pd.crosstab(sub[var], sub[_GROUP]).to_numpy()
        if tab.shape[1] == 2:
            p, name = fisher_exact_rx2(tab), "Fisher's exact test (full enumeration, r x 2)"
        else:
            from scipy.stats import MonteCarloMethod, fisher_exact

            p = float(
                fisher_exact(
                    tab,
                    method=MonteCarloMethod(
                        n_resamples=MC_PERMUTATIONS, rng=np.random.default_rng(MC_SEED)
                    ),
                ).pvalue
            )
            name = (
                f"Fisher's exact test, Monte Carlo p ({MC_PERMUTATIONS:,} tables, seed "
                f"{MC_SEED}; scipy)"
            )
        if np.isfinite(p):
            out.at[i, "exact_p_value"], out.at[i, "exact_test"] = p, name


def _small_count_chi2(work: pd.DataFrame, var: str, present: list[str]) -> tuple[float, str] | None:
    """Monte Carlo p-value and test name for an r x c table with an expected count < 5 (where
    the chi-squared approximation is poor, Cochran's rule); None when the counts are large
    enough. Tables of more than :data:`MC_MAX_N` patients keep the asymptotic p (tableone's
    name for it says an expected count is < 5)."""
    sub = _tested_values(work, var, present)
    x, _ = pd.factorize(sub[var])
    g, _ = pd.factorize(sub[_GROUP])
    if not len(sub) or x.max() < 1 or g.max() < 1:
        return None
    counts = np.bincount(x * (g.max() + 1) + g, minlength=(x.max() + 1) * (g.max() + 1))
    counts = counts.reshape(x.max() + 1, g.max() + 1)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / len(sub)
    if (expected >= 5).all():
        return None
    if len(sub) > MC_MAX_N:
        return None
    _, p = chi2_monte_carlo(x, g)
    return p, (
        f"Chi-squared, Monte Carlo p ({MC_PERMUTATIONS:,} permutations, seed {MC_SEED}; "
        "an expected count < 5)"
    )


def _test_name(
    name: str, work: pd.DataFrame, var: str, *, cat_list: list[str], present: list[str]
) -> str:
    """Name the test exactly: scipy's chi-squared applies Yates' correction to 2x2 tables."""
    if name == "Chi-squared" and var in cat_list:
        n_levels = work[var].dropna().nunique()
        if n_levels == 2 and len(present) == 2:
            return "Chi-squared with Yates' continuity correction"
    if name == "Kruskal-Wallis" and len(present) == 2:
        return "Kruskal-Wallis (2 groups: Mann-Whitney U, normal approximation)"
    if name == "Not tested":
        return "not tested (a group has no observation)"
    return name


# --------------------------------------------------------------------------- odds ratios
OR_COLUMNS = [
    "variable",
    "level",
    "reference",
    "model",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "test",
    "n",
    "n_events",
    "note",
    "ci_method",
    "coding",
    "n_missing",
]

#: |coefficient| or standard error beyond which a fit is read as (quasi-)separated
_SEPARATION_COEF, _SEPARATION_SE = 15.0, 1e3


def events_per_variable(n_events: int | float, n_params: int) -> float:
    """Events per variable: ``n_events / n_params`` (events of the rarer outcome, per parameter).

    ``n_params`` counts estimated coefficients besides the intercept (a categorical variable with
    k levels counts k − 1).
    """
    if n_params is None or int(n_params) < 1:
        raise ParameterError(f"n_params={n_params!r}: expected at least 1 model parameter")
    return float(n_events) / int(n_params)


def epv_warning(
    n_events: int | float, n_params: int, threshold: float = 10.0, *, model: str = "model"
) -> str | None:
    """Warning text when the events per variable fall below ``threshold`` (default 10), else None.

    Peduzzi et al. (J Clin Epidemiol 1996): below 10 events per variable, logistic regression
    coefficients are biased and their confidence intervals unreliable.
    """
    epv = events_per_variable(n_events, n_params)
    if epv < threshold:
        return (
            f"{model}: {epv:.1f} events per variable ({n_events:g} events, {n_params} "
            f"parameters) < {threshold:g}: estimates may be biased and CIs unreliable "
            "(Peduzzi 1996)"
        )
    return None


def binary_outcome(data: pd.DataFrame, outcome: str) -> tuple[pd.Series, str]:
    """0/1 float outcome (NaN when unknown) and a description of the excluded patients."""
    code = hpd_column_code(data, outcome)
    if code is not None:
        status = hpd_status(data, code)
        y = status.map({"hpd": 1.0, "not_hpd": 0.0})
        return y.astype(float), f"not evaluable under {code}"
    if outcome not in data.columns:
        raise ParameterError(f"outcome {outcome!r}: no such column")
    s = data[outcome]
    if _is_bool(s):
        return s.astype("boolean").astype("Float64").astype(float), f"{outcome} missing"
    num = pd.to_numeric(s, errors="coerce")
    ok = num.dropna().isin([0, 1]).all() and (num.isna() == s.isna()).all()
    if not ok:
        raise ParameterError(
            f"outcome {outcome!r}: expected a binary column (True/False or 0/1, empty when unknown)"
        )
    return num.astype(float), f"{outcome} missing"


#: continuous covariates entered on the log2 scale when positive (odds ratio per doubling):
#: ratios and enzyme levels whose distribution is right-skewed; any other positive continuous
#: covariate with sample skewness > 1 too (the rule of Table 1's median [Q1,Q3])
LOG2_FACTORS: tuple[str, ...] = ("nlr", "dnlr", "plr", "ldh", "crp", "ldh_uln_ratio")


@dataclass(frozen=True)
class ReferenceRows:
    """The level, reference level and reference-row flag of every row of an odds-ratio table
    (:func:`reference_rows`), aligned on its index."""

    #: the row's level as text ("" for a number or a binary variable without a level)
    level: pd.Series
    #: the variable's reference level as text ("" when none)
    reference: pd.Series
    #: True on the row of a reference level (OR 1 by construction, drawn or printed as such)
    is_reference: pd.Series


def reference_rows(odds_ratios: pd.DataFrame) -> ReferenceRows:
    """Which rows of an :func:`odds_ratios` table are reference levels: the row's ``level``
    equals its ``reference``, or its ``note`` says "reference level". What the forest plot
    leaves out and the typeset table prints as "reference"."""
    level = odds_ratios["level"].astype("string").fillna("")
    reference = (
        odds_ratios["reference"].astype("string").fillna("")
        if "reference" in odds_ratios
        else pd.Series("", index=odds_ratios.index, dtype="string")
    )
    note = (
        odds_ratios["note"].astype(str)
        if "note" in odds_ratios
        else pd.Series("", index=odds_ratios.index)
    )
    is_ref = (reference.eq(level) & level.ne("")) | note.eq("reference level")
    return ReferenceRows(level, reference, is_ref.astype(bool))


@dataclass
class ModelTerm:
    """Design columns of one variable of a logistic model (:func:`model_term`)."""

    variable: str
    #: one column per coefficient (NaN where the variable is missing)
    columns: pd.DataFrame
    #: what each column's odds ratio compares: a level, ``per 1 unit``, ``per doubling (log2)``
    levels: list[str]
    #: the reference level (binary and categorical variables), None for a continuous one
    reference: str | None
    #: ``binary``, ``categorical`` or ``continuous``
    kind: str
    #: the coding in words (the ``coding`` column of :func:`odds_ratios`)
    coding: str = ""


def _reference_level(s: pd.Series, levels: list[str], rule: str) -> str:
    """Reference level: ``largest`` (most frequent; ties by sort order) or ``first`` (first
    sorted level). A two-level numeric 0/1 variable keeps 0 (absence) whatever the rule."""
    if rule == "first" or len(levels) == 1 or levels == ["0", "1"]:
        return levels[0]
    counts = s.dropna().map(format_level).value_counts()
    return max(levels, key=lambda lv: (int(counts.get(lv, 0)), -levels.index(lv)))


def model_term(
    data: pd.DataFrame,
    v: str,
    *,
    categorical: Collection[str] = (),
    reference: Mapping[str, Any] | None = None,
    reference_rule: str = "largest",
    log2_skewed: bool = True,
    continuous: Collection[str] = (),
) -> ModelTerm | str:
    """Design of variable ``v`` or a reason why it cannot enter a model.

    Coded as in Table 1 (:func:`table1`): booleans binary; text, category and integer columns
    with at most 5 values (ECOG, number of metastatic sites) categorical, one odds ratio per
    level against the reference (named in ``reference``, else by ``reference_rule``,
    :func:`_reference_level`); other numbers continuous, per unit, or per doubling (log2) for a
    positive skewed covariate (:data:`LOG2_FACTORS`). ``categorical`` / ``continuous`` force the
    coding of the variables they name."""
    s = data[v]
    if s.dropna().nunique() < 2:
        return "not estimable: the variable takes a single value"
    if _is_bool(s) and v not in categorical:
        return _binary_term(v, s)
    as_category = (
        v in categorical
        or not pd.api.types.is_numeric_dtype(s.dtype)
        or (v not in continuous and _is_categorical(s))
    )
    if as_category:
        return _categorical_term(v, s, reference=reference or {}, reference_rule=reference_rule)
    return _continuous_term(v, s, log2_skewed=log2_skewed)


def _binary_term(v: str, s: pd.Series) -> ModelTerm:
    """A boolean: the odds ratio of True vs False."""
    col = s.astype("boolean").astype("Float64").astype(float)
    return ModelTerm(
        v, pd.DataFrame({f"{v}[True]": col}), ["True"], "False", "binary", "binary (True vs False)"
    )


def _categorical_term(
    v: str, s: pd.Series, *, reference: Mapping[str, Any], reference_rule: str
) -> ModelTerm:
    """One indicator per level of ``s`` but the reference (levels in sorted order, as text)."""
    text = s.map(format_level, na_action="ignore")
    uniq = pd.unique(s.dropna())
    try:
        uniq = sorted(uniq)
    except TypeError:
        uniq = sorted(uniq, key=str)
    lv = list(dict.fromkeys(format_level(u) for u in uniq))
    ref = format_level(reference[v]) if v in reference else _reference_level(s, lv, reference_rule)
    if ref not in lv:
        raise ParameterError(f"reference for {v!r}: {ref!r} is not a level ({lv})")
    others = [x for x in lv if x != ref]
    cols = pd.DataFrame(
        {f"{v}[{x}]": (text == x).astype(float).where(s.notna()) for x in others}, index=s.index
    )
    how = (
        "named"
        if v in reference
        else "first level"
        if reference_rule == "first" or lv == ["0", "1"]
        else "largest level"
    )
    return ModelTerm(v, cols, others, ref, "categorical", f"categorical, reference {ref} ({how})")


def _continuous_term(v: str, s: pd.Series, *, log2_skewed: bool) -> ModelTerm:
    """A number per 1 unit, or per doubling (log2) when positive and skewed (or a
    :data:`LOG2_FACTORS` marker) and ``log2_skewed``."""
    num = pd.to_numeric(s, errors="coerce").astype(float)
    vals = num.dropna()
    if (
        log2_skewed
        and len(vals)
        and (vals > 0).all()
        and (v.lower() in LOG2_FACTORS or _skewed(vals))
    ):
        return ModelTerm(
            v,
            pd.DataFrame({f"log2({v})": np.log2(num)}),
            ["per doubling (log2)"],
            None,
            "continuous",
            "continuous, log2 scale (odds ratio per doubling)",
        )
    return ModelTerm(
        v, pd.DataFrame({v: num}), ["per 1 unit"], None, "continuous", "continuous, per 1 unit"
    )


#: fit labels written in the ``test`` and ``ci_method`` columns
_ML_TEST = "logistic regression (GLM binomial), Wald z-test"
_FIRTH_TEST = (
    "Firth penalized logistic regression (firthmodels; Firth 1993, Heinze & Schemper "
    "2002, as R logistf), penalized likelihood-ratio test"
)
_SEPARATION_FIRTH_NOTE = (
    "separation: the maximum-likelihood odds ratio is infinite, Firth's penalized "
    "estimate is given instead (statistics.firth=auto)"
)
_SEPARATION_NOTE = (
    "not estimable: perfect or quasi-complete separation (a level or range "
    "predicts the outcome exactly); the maximum-likelihood odds ratio is "
    "infinite. Consider Firth's penalized or exact logistic regression "
    "(statistics.firth=auto)"
)


def _ci_label(alpha: float, method: str) -> str:
    level = f"{100 * (1 - alpha):g}%"
    return {
        "wald": f"{level} Wald CI",
        "profile": f"{level} profile-likelihood CI (Venzon-Moolgavkar)",
        "firth": f"{level} profile penalized-likelihood CI (as R logistf)",
    }[method]


@dataclass
class LogitFit:
    """One logistic fit: odds ratios, CIs and p-values by design column (None when the model
    cannot be estimated: ``note`` says why), the test and CI method in words."""

    note: str = ""
    odds_ratio: pd.Series | None = None
    ci_low: pd.Series | None = None
    ci_high: pd.Series | None = None
    p_value: pd.Series | None = None
    test: str = _ML_TEST
    ci_method: str = ""

    @property
    def estimated(self) -> bool:
        """True when the fit gave estimates."""
        return self.odds_ratio is not None

    def estimates(self, column: str) -> dict[str, float]:
        """``odds_ratio, ci_low, ci_high, p_value`` of one design column (empty when not
        estimated)."""
        if self.odds_ratio is None:
            return {}
        assert self.ci_low is not None and self.ci_high is not None and self.p_value is not None
        return {
            "odds_ratio": float(self.odds_ratio[column]),
            "ci_low": float(self.ci_low[column]),
            "ci_high": float(self.ci_high[column]),
            "p_value": float(self.p_value[column]),
        }


def _firth_fit(
    y: pd.Series, x: pd.DataFrame, alpha: float, *, penalty: float = 0.5, profile: bool = True
) -> LogitFit:
    """Firth-penalized (``penalty`` 0.5) or plain maximum-likelihood (0) logistic regression
    with firthmodels: odds ratios, profile (penalized) likelihood CIs, and the penalized
    likelihood-ratio test p (Firth) as R logistf reports them."""
    from firthmodels import FirthLogisticRegression

    # tolerances: 1e-8 on the gradient and the step (tighter ones make firthmodels' step
    # halving fail at rounding level); the constrained fits of the LRT from a cold start (the
    # warm start fails on some separated levels), warm where the cold one fails
    model = FirthLogisticRegression(
        backend="numpy", max_iter=100, gtol=1e-8, xtol=1e-8, penalty_weight=penalty
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x.to_numpy(dtype=float), y.to_numpy(dtype=float))
        k = x.shape[1]
        ci = (
            model.conf_int(
                alpha=alpha, method="pl", features=list(range(k)), max_iter=200, tol=1e-10
            )
            if profile
            else model.conf_int(alpha=alpha)
        )[:k]
        if penalty > 0:
            model.lrt(list(range(k)), warm_start=False)
            failed = [j for j in range(k) if not np.isfinite(model.lrt_pvalues_[j])]
            if failed:
                model.lrt(failed, warm_start=True)
            p = model.lrt_pvalues_[:k]
        else:
            p = model.pvalues_[:k]
    names = list(x.columns)
    return LogitFit(
        note="" if model.converged_ else "warning: the fit did not converge",
        odds_ratio=np.exp(pd.Series(model.coef_, index=names)),
        ci_low=pd.Series(np.exp(ci[:, 0]), index=names),
        ci_high=pd.Series(np.exp(ci[:, 1]), index=names),
        p_value=pd.Series(p, index=names),
        test=_FIRTH_TEST,
        ci_method=_ci_label(alpha, "firth"),
    )


def _collinear_columns(design: pd.DataFrame) -> list[str] | None:
    """Columns of ``design`` determined by the columns before them; None when the design has
    full column rank."""
    if np.linalg.matrix_rank(design.to_numpy()) >= design.shape[1]:
        return None
    kept: list[str] = []
    redundant: list[str] = []
    for col in design.columns:
        trial = design[[*kept, col]].to_numpy()
        (kept if np.linalg.matrix_rank(trial) == trial.shape[1] else redundant).append(col)
    return redundant


def _fit_logit(
    y: pd.Series, x: pd.DataFrame, alpha: float, *, firth: str = "auto", profile: bool = False
) -> LogitFit:
    """Logistic fit of ``y`` on ``x`` (an intercept added), or a note on separation / a
    singular design.

    Maximum likelihood (statsmodels GLM) with Wald CIs, or profile-likelihood CIs when
    ``profile``; Firth's penalized likelihood (firthmodels) when ``firth="always"``, or when
    ``"auto"`` and the maximum-likelihood fit separates (its odds ratio would be infinite)."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    design = sm.add_constant(x, has_constant="add")
    redundant = _collinear_columns(design)
    if redundant is not None:
        return LogitFit(
            note="not estimable: collinear design in these patients, "
            f"{', '.join(map(str, redundant))} determined by the other columns "
            "(drop one of the variables involved)"
        )
    if y.nunique() < 2:
        return LogitFit(note="not estimable: all patients have the same outcome")
    if firth == "always":
        return _firth_fit(y, x, alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, design, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=200)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return LogitFit(note=f"not estimable: fit failed ({exc})")
    kinds = {type(w.message) for w in caught}
    params, bse = res.params.drop("const"), res.bse.drop("const")
    separated = (
        PerfectSeparationWarning in kinds
        or not np.all(np.isfinite(bse))
        or bool((params.abs() > _SEPARATION_COEF).any())
        or bool((bse > _SEPARATION_SE).any())
    )
    if separated and firth == "auto":
        fit = _firth_fit(y, x, alpha)
        fit.note = "; ".join(filter(None, [_SEPARATION_FIRTH_NOTE, fit.note]))
        return fit
    if separated:
        return LogitFit(note=_SEPARATION_NOTE)
    note = ""
    if ConvergenceWarning in kinds or not getattr(res, "converged", True):
        note = "warning: the fit did not converge"
    if profile:
        prof = _firth_fit(y, x, alpha, penalty=0.0)
        low, high, method = prof.ci_low, prof.ci_high, "profile"
    else:
        ci = res.conf_int(alpha=alpha).drop("const")
        low, high, method = np.exp(ci[0]), np.exp(ci[1]), "wald"
    return LogitFit(
        note=note,
        odds_ratio=np.exp(params),
        ci_low=low,
        ci_high=high,
        p_value=res.pvalues.drop("const"),
        test=_ML_TEST,
        ci_method=_ci_label(alpha, method),
    )


@dataclass(frozen=True)
class ModelOptions:
    """How the models of :func:`odds_ratios` are fitted and checked."""

    #: 1 − confidence level of the CIs
    alpha: float = 0.05
    #: events per variable below which a warning is given (Peduzzi 1996)
    epv_threshold: float = 10.0
    #: ``auto`` (Firth's penalized likelihood when a model separates), ``always``, ``never``
    firth: str = "auto"
    #: profile-likelihood CIs instead of Wald ones (maximum-likelihood fits)
    profile: bool = False

    @classmethod
    def of(cls, statistics: Statistics, *, alpha: float, epv_threshold: float) -> ModelOptions:
        """``alpha`` (checked: between 0 and 1), ``epv_threshold`` and the fit options of
        ``statistics`` (``firth``, ``ci_profile``)."""
        if not 0.0 < float(alpha) < 1.0:
            raise ParameterError(f"alpha={alpha!r}: expected a number between 0 and 1")
        return cls(
            alpha=alpha,
            epv_threshold=epv_threshold,
            firth=statistics.firth,
            profile=statistics.ci_profile,
        )


@dataclass(frozen=True)
class Coding:
    """How the variables of :func:`odds_ratios` enter the models (:func:`model_term`)."""

    categorical: frozenset[str] = frozenset()
    continuous: frozenset[str] = frozenset()
    #: reference levels named by the caller or ``statistics.reference_levels``
    reference: Mapping[str, Any] = field(default_factory=dict)
    #: how other reference levels are chosen (``largest`` or ``first``)
    reference_rule: str = "largest"
    log2_skewed: bool = True

    @classmethod
    def of(
        cls,
        data: pd.DataFrame,
        statistics: Statistics,
        *,
        categorical: Sequence[str] | None,
        continuous: Sequence[str] | None,
        reference: Mapping[str, Any] | None,
    ) -> Coding:
        """The coding of :func:`odds_ratios`: its ``categorical``, ``continuous`` and
        ``reference`` arguments (variables of ``data``, else :class:`ParameterError`), then
        ``statistics.reference_levels`` and ``statistics.log2_skewed``."""
        rule, named = statistics.reference_map()
        coding = cls(
            categorical=frozenset(categorical or []),
            continuous=frozenset(continuous or []),
            reference={
                **{k: v for k, v in named.items() if k in data.columns},
                **dict(reference or {}),
            },
            reference_rule=rule,
            log2_skewed=statistics.log2_skewed,
        )
        _check_variables(
            data,
            sorted(coding.categorical | coding.continuous),
            "odds_ratios categorical/continuous",
        )
        return coding

    def term(self, data: pd.DataFrame, v: str) -> ModelTerm | str:
        """:func:`model_term` of ``v`` in ``data`` with this coding."""
        return model_term(
            data,
            v,
            categorical=self.categorical,
            reference=self.reference,
            reference_rule=self.reference_rule,
            log2_skewed=self.log2_skewed,
            continuous=self.continuous,
        )


def _as_list(names: str | Sequence[str]) -> list[str]:
    """One variable name or several, as a list."""
    return [names] if isinstance(names, str) else list(names)


def _source_in(v: str, variables: Collection[str]) -> bool:
    """True when ``v`` is a derived dichotomy (:data:`DERIVED_FACTORS`) whose continuous source
    is among ``variables`` too (``age_ge_65`` beside ``age``)."""
    return v in DERIVED_FACTORS and DERIVED_FACTORS[v][0] in variables


def odds_ratios(
    data: pd.DataFrame,
    outcome: str,
    variables: Sequence[str] | None = None,
    *,
    multivariable: bool = True,
    categorical: Sequence[str] | None = None,
    reference: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    epv_threshold: float = 10.0,
    multivariable_variables: Sequence[str] | None = None,
    statistics: Statistics | None = None,
    continuous: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Odds ratios of ``outcome`` (e.g. HPD) for each variable, univariable and multivariable.

    Logistic regression on complete cases: one model per variable (``model = "univariable"``)
    and, when ``multivariable`` and there are at least two estimable variables, one model with all
    of them (``"multivariable"``). Maximum likelihood (statsmodels GLM, binomial family, logit
    link) with Wald CIs and Wald z-test p-values by default; profile-likelihood CIs with
    ``statistics.ci_profile``; Firth's penalized likelihood (firthmodels, as R logistf: profile
    penalized-likelihood CIs, penalized likelihood-ratio p) when a model separates
    (``statistics.firth=auto``, default) or always (``always``). ``test`` and ``ci_method`` name
    the method of every row. With ``statistics.missing=mice`` the multivariable model is also
    fitted after multiple imputation (rows ``model = "multivariable (MICE ...)"``,
    :func:`mice_odds_ratios`) beside the complete-case one.

    Parameters
    ----------
    outcome
        An HPD definition (``<code>``/``hpd_<code>``: HPD = 1, not HPD = 0, not evaluable left
        out) or a binary column (True/False or 0/1; missing left out).
    variables
        Default :func:`default_candidates` (derived factors computed).
    categorical, continuous
        Variables to code as categories / as numbers, overriding the rule shared with Table 1:
        booleans give the odds ratio of True vs False; text, category and integer columns with at
        most 5 values (ECOG, number of metastatic sites) one row per level vs the reference
        level; other numbers the odds ratio per 1-unit increase in the column's own unit (years
        for age ...), or per doubling for positive skewed covariates (NLR, LDH: log2 scale,
        ``statistics.log2_skewed``). ``coding`` says which, per row.
    reference
        ``{variable: level}``: reference levels named by the caller (before
        ``statistics.reference_levels``, whose default rule is the largest level).
    alpha
        1 − confidence level of the CIs.
    epv_threshold
        Events per variable below which a warning is given (default 10).
    multivariable_variables
        Variables of the multivariable model (default: every variable whose univariable model
        could be estimated — a separated variable would make the whole model inestimable —
        except a derived dichotomy such as ``age_ge_65`` when its continuous source ``age`` is in
        the model too — both together would estimate nothing interpretable).
    statistics
        The options of :class:`~hpd_analysis.params.Statistics` (default: its defaults).

    Returns
    -------
    DataFrame with :data:`OR_COLUMNS`. ``p_holm``: the univariable p-values adjusted together
    for multiple testing (Holm, :func:`holm_adjusted`; one test per estimated level; NaN on
    multivariable and reference rows, and on a derived dichotomy whose source is screened too —
    ``age_ge_65`` beside ``age`` — which would count one hypothesis twice). A reference row
    (odds ratio 1, no CI) is listed for each categorical/binary variable.
    ``n``/``n_events``: complete cases and HPD events in that model; ``n_missing``: patients of
    known outcome left out of that model for a missing covariate. A model that cannot be
    estimated (a single value, collinearity; separation with ``firth=never``) gives rows with
    NaN estimates and the reason in ``note`` — never an exception. Warnings (EPV < threshold,
    patients left out) are in ``result.attrs["warnings"]`` and in ``note``.
    """
    stats_opts = statistics if statistics is not None else Statistics()
    options = ModelOptions.of(stats_opts, alpha=alpha, epv_threshold=epv_threshold)
    data = derive_risk_factors(data)
    y_all, excluded_why = binary_outcome(data, outcome)
    variables = _variables_for(data, variables, _definition_companions(data, outcome))
    _check_variables(data, variables, "odds_ratios variables")
    coding = Coding.of(
        data, stats_opts, categorical=categorical, continuous=continuous, reference=reference
    )
    n_out = int(y_all.isna().sum())
    warn = [f"{n_out} patient(s) left out: {excluded_why}"] if n_out else []
    screen = _univariable_screen(data, y_all, variables, coding=coding, options=options, warn=warn)
    multi = _multivariable_terms(
        screen,
        variables=variables,
        chosen=multivariable_variables,
        fitted=multivariable,
        warn=warn,
    )
    rows = screen.rows
    if multivariable and len(multi) >= 2:
        rows += _multivariable_rows(
            multi, screen.y, options=options, statistics=stats_opts, warn=warn
        )
    out = _odds_ratio_table(rows, estimable=screen.terms)
    out.attrs["warnings"] = warn
    out.attrs["outcome"] = outcome
    return out


@dataclass
class _Screen:
    """The univariable models of :func:`odds_ratios`: the outcome of the patients it is known
    for, the models' rows, the terms of the variables that could be estimated alone (in
    screening order), and those that could not be fitted."""

    y: pd.Series
    rows: list[dict[str, Any]]
    terms: dict[str, ModelTerm]
    unfit: list[str]


def _univariable_screen(
    data: pd.DataFrame,
    y_all: pd.Series,
    variables: list[str],
    *,
    coding: Coding,
    options: ModelOptions,
    warn: list[str],
) -> _Screen:
    """One logistic model per variable on the patients of known outcome (``y_all`` not NaN): a
    variable that cannot enter a model (:func:`model_term`) gives one row with the reason."""
    known, y = data.loc[y_all.notna()], y_all[y_all.notna()]
    screen = _Screen(y=y, rows=[], terms={}, unfit=[])
    for v in variables:
        term = coding.term(known, v)
        if isinstance(term, str):
            screen.rows.append(
                {
                    "variable": v,
                    "level": "",
                    "model": "univariable",
                    "note": term,
                    "n": int(known[v].notna().sum()),
                    "test": _ML_TEST,
                    "n_missing": int(known[v].isna().sum()),
                }
            )
            continue
        rows, ok = _model_rows([term], y, model="univariable", options=options, warn=warn)
        screen.rows += rows
        if ok:
            screen.terms[v] = term
        else:
            screen.unfit.append(v)
    return screen


def _multivariable_terms(
    screen: _Screen,
    *,
    variables: list[str],
    chosen: Sequence[str] | None,
    fitted: bool,
    warn: list[str],
) -> list[ModelTerm]:
    """Terms of the multivariable model: the ``chosen`` variables (each among ``variables``,
    else :class:`ParameterError`) that could be estimated alone, by default every one of them
    but a derived dichotomy whose source is in the model too; a warning names those left
    out."""
    terms = screen.terms
    if chosen is None:
        multi = [v for v in terms if not _source_in(v, terms)]
        if screen.unfit and fitted and len(multi) >= 2:
            warn.append(f"multivariable model: left out (not estimable alone): {screen.unfit}")
        return [terms[v] for v in multi]
    multi = _as_list(chosen)
    unknown = [v for v in multi if v not in variables]
    if unknown:
        raise ParameterError(
            f"multivariable_variables {unknown}: expected variables among {variables}"
        )
    dropped = [v for v in multi if v not in terms or v in screen.unfit]
    if dropped:
        warn.append(f"multivariable model: left out (not estimable alone): {dropped}")
    return [terms[v] for v in multi if v in terms]


def _multivariable_rows(
    terms: list[ModelTerm],
    y: pd.Series,
    *,
    options: ModelOptions,
    statistics: Statistics,
    warn: list[str],
) -> list[dict[str, Any]]:
    """The multivariable model on complete cases and, with ``statistics.missing=mice``, the
    same model after multiple imputation (:func:`mice_odds_ratios`)."""
    rows, _ = _model_rows(terms, y, model="multivariable", options=options, warn=warn)
    if statistics.missing == "mice":
        rows += mice_odds_ratios(
            terms,
            y,
            options.alpha,
            m=statistics.mice_imputations,
            seed=statistics.mice_seed,
            warn=warn,
        )
    return rows


def _odds_ratio_table(rows: list[dict[str, Any]], *, estimable: Mapping[str, Any]) -> pd.DataFrame:
    """The rows as :data:`OR_COLUMNS` with Holm's adjustment of the univariable p-values
    (a derived dichotomy whose source was screened too is left out of the family, with a
    note)."""
    out = pd.DataFrame(rows, columns=OR_COLUMNS)
    for c in ("odds_ratio", "ci_low", "ci_high", "p_value"):
        out[c] = out[c].astype(float)
    in_family = (out["model"] == "univariable") & ~out["variable"].map(
        lambda v: _source_in(v, estimable) and v in estimable
    )
    out["p_holm"] = holm_adjusted(out["p_value"].where(in_family))
    redundant = (out["model"] == "univariable") & ~in_family & out["p_value"].notna()
    if redundant.any():
        out.loc[redundant, "note"] = [
            "; ".join(
                filter(
                    None,
                    [
                        str(n) if isinstance(n, str) else "",
                        f"not in the Holm family: derived from "
                        f"{DERIVED_FACTORS[v][0]}, screened already",
                    ],
                )
            )
            for n, v in zip(out.loc[redundant, "note"], out.loc[redundant, "variable"], strict=True)
        ]
    for c in ("n", "n_events", "n_missing"):
        out[c] = out[c].astype("Int64")
    for c in ("level", "reference", "note", "ci_method", "coding"):
        out[c] = out[c].fillna("").astype(str)
    return out


def holm_adjusted(p_values: pd.Series) -> pd.Series:
    """Holm's step-down adjustment of the p-values that are not NaN (NaN stays NaN): controls the
    family-wise error rate over the whole screen of candidate factors
    (:func:`statsmodels.stats.multitest.multipletests`, ``method="holm"``)."""
    from statsmodels.stats.multitest import multipletests

    out = pd.Series(np.nan, index=p_values.index, dtype=float)
    known = p_values.notna()
    if known.any():
        out[known] = multipletests(p_values[known].to_numpy(dtype=float), method="holm")[1]
    return out


def _term_rows(
    term: ModelTerm,
    base: Mapping[str, Any],
    *,
    estimates: Callable[[str], Mapping[str, float]],
    note: str,
) -> list[dict[str, Any]]:
    """Rows of one variable in a model: its reference level (odds ratio 1, when it has one),
    then one row per design column with ``estimates(column)`` and ``note``."""
    rows: list[dict[str, Any]] = []
    if term.reference is not None:
        rows.append(
            {
                **base,
                "level": term.reference,
                "reference": term.reference,
                "odds_ratio": 1.0,
                "note": "reference level",
                "ci_method": "",
            }
        )
    for col, lv in zip(term.columns.columns, term.levels, strict=True):
        rows.append(
            {
                **base,
                "level": lv,
                "reference": term.reference or "",
                **estimates(col),
                "note": note,
            }
        )
    return rows


def _model_rows(
    terms: list[ModelTerm],
    y: pd.Series,
    *,
    model: str,
    options: ModelOptions,
    warn: list[str],
) -> tuple[list[dict[str, Any]], bool]:
    """One logistic model of ``y`` on ``terms`` (complete cases, :func:`_fit_logit`): its rows
    and whether it was estimated. The events per variable (Peduzzi 1996), patients left out and
    a model that cannot be estimated are noted in the rows and in ``warn``."""
    x = pd.concat([t.columns for t in terms], axis=1)
    complete = x.notna().all(axis=1) & y.notna()
    xc, yc = x.loc[complete], y.loc[complete]
    n, n_events = int(complete.sum()), int(yc.sum())
    n_missing = int((y.notna() & ~x.notna().all(axis=1)).sum())
    label = model if model == "multivariable" else f"univariable {terms[0].variable}"
    fit = (
        _fit_logit(yc, xc, options.alpha, firth=options.firth, profile=options.profile)
        if n
        else LogitFit(note="not estimable: no complete case")
    )
    notes = [fit.note] if fit.note else []
    limiting = min(n_events, n - n_events)
    msg = epv_warning(limiting, x.shape[1], options.epv_threshold, model=label) if n else None
    if msg:
        warn.append(msg)
        notes.append(
            f"EPV {events_per_variable(limiting, x.shape[1]):.1f} < {options.epv_threshold:g}"
        )
    if n_missing:
        notes.append(f"{n_missing} patient(s) left out: a covariate missing (complete cases)")
    if fit.note.startswith(("not estimable", "separation")):
        warn.append(f"{label}: {fit.note}")
    rows = []
    for t in terms:
        base = {
            "variable": t.variable,
            "model": model,
            "test": fit.test,
            "n": n,
            "n_events": n_events,
            "coding": t.coding,
            "n_missing": n_missing,
            "ci_method": fit.ci_method,
        }
        rows += _term_rows(t, base, estimates=fit.estimates, note="; ".join(notes))
    return rows, fit.estimated


def rubin_pool(
    estimates: np.ndarray, variances: np.ndarray, n: int, *, k: int
) -> tuple[float, float, float]:
    """Rubin's rules (Rubin 1987) for one coefficient over m imputations: pooled estimate
    (mean), total variance T = Ū + (1 + 1/m) B, and the degrees of freedom of Barnard & Rubin
    (Biometrika 1999) for ``n`` patients and ``k`` parameters (as R mice's ``pool``).
    Returns ``(estimate, T, df)``."""
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    qbar, ubar = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1)) if m > 1 else 0.0
    t = ubar + (1 + 1 / m) * b
    if b == 0:
        return qbar, t, float(n - k)
    lam = (1 + 1 / m) * b / t
    df_old = (m - 1) / lam**2
    df_com = n - k
    df_obs = (df_com + 1) / (df_com + 3) * df_com * (1 - lam)
    return qbar, t, float(df_old * df_obs / (df_old + df_obs))


def _imputed_fits(
    frame: pd.DataFrame, *, m: int, seed: int, burn_in: int, impute: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their variances (m × design columns, intercept left out) of the
    logistic model of ``outcome`` on the columns ``c0, c1 ...`` of ``frame`` in each of ``m``
    data sets imputed by chained equations (statsmodels ``MICEData``, predictive mean matching,
    ``burn_in`` cycles before the first, one between the next; ``impute=False``: the complete
    frame m times)."""
    import statsmodels.api as sm
    from statsmodels.imputation.mice import MICEData

    columns = [c for c in frame.columns if c != "outcome"]
    est = np.empty((m, len(columns)))
    var = np.empty((m, len(columns)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = MICEData(frame, rng=np.random.default_rng(seed)) if impute else None
        for i in range(m):
            if imp is not None:
                imp.update_all(burn_in if i == 0 else 1)
                data_i = imp.data
            else:
                data_i = frame
            design = sm.add_constant(data_i[columns], has_constant="add")
            res = sm.GLM(data_i["outcome"], design, family=sm.families.Binomial()).fit(
                tol=1e-14, maxiter=200
            )
            est[i] = res.params.to_numpy()[1:]
            var[i] = np.diag(res.cov_params().to_numpy())[1:]
    return est, var


def _rubin_estimates(
    est: np.ndarray, var: np.ndarray, *, n: int, alpha: float
) -> list[dict[str, float]]:
    """Per design column: the odds ratio, t-based CI and p of the pooled coefficient
    (:func:`rubin_pool`, Barnard–Rubin degrees of freedom, ``n`` patients)."""
    from scipy.stats import t as t_dist

    k = est.shape[1] + 1
    out = []
    for j in range(est.shape[1]):
        q, tvar, df = rubin_pool(est[:, j], var[:, j], n, k=k)
        se = float(np.sqrt(tvar))
        crit = float(t_dist.ppf(1 - alpha / 2, df))
        out.append(
            {
                "odds_ratio": float(np.exp(q)),
                "ci_low": float(np.exp(q - crit * se)),
                "ci_high": float(np.exp(q + crit * se)),
                "p_value": float(2 * t_dist.sf(abs(q / se), df)),
            }
        )
    return out


def mice_odds_ratios(
    terms: list[ModelTerm],
    y: pd.Series,
    alpha: float,
    *,
    m: int = 20,
    seed: int = 0,
    warn: list[str] | None = None,
    burn_in: int = 10,
) -> list[dict[str, Any]]:
    """Multivariable odds ratios after multiple imputation by chained equations (van Buuren
    2011; statsmodels :class:`~statsmodels.imputation.mice.MICEData`, predictive mean matching,
    seeded), pooled with Rubin's rules (:func:`rubin_pool`; t-based CI and p with Barnard–Rubin
    degrees of freedom). The imputation model holds the outcome and every design column (each
    dummy of a categorical variable imputed as a 0/1 column). Rows ``model = "multivariable
    (MICE, m imputations)"`` over every patient of known outcome."""
    x = pd.concat([tm.columns for tm in terms], axis=1)
    known = y.notna()
    x, yk = x.loc[known], y.loc[known]
    names = list(x.columns)
    frame = pd.DataFrame(x.to_numpy(dtype=float), columns=[f"c{i}" for i in range(len(names))])
    frame["outcome"] = yk.to_numpy(dtype=float)
    n_miss = int(x.isna().any(axis=1).sum())
    est, var = _imputed_fits(frame, m=m, seed=seed, burn_in=burn_in, impute=bool(n_miss))
    pooled = dict(zip(names, _rubin_estimates(est, var, n=len(frame), alpha=alpha), strict=True))
    base = {
        "model": f"multivariable (MICE, {m} imputations, seed {seed})",
        "test": f"logistic regression (GLM binomial) on {m} imputed data sets (MICE, predictive "
        "mean matching), pooled by Rubin's rules, t-test (Barnard-Rubin df)",
        "n": len(frame),
        "n_events": int(yk.sum()),
        "n_missing": 0,
        "ci_method": f"{100 * (1 - alpha):g}% CI, Rubin's rules (t, Barnard-Rubin df)",
    }
    rows: list[dict[str, Any]] = []
    for tm in terms:
        rows += _term_rows(
            tm,
            {"variable": tm.variable, **base, "coding": tm.coding},
            estimates=pooled.__getitem__,
            note=f"{n_miss} patient(s) with a missing covariate imputed",
        )
    if warn is not None and n_miss:
        warn.append(
            f"multivariable model: {n_miss} patient(s) with a missing covariate, "
            f"imputed {m} times (MICE, seed {seed}); pooled odds ratios shown beside "
            "the complete-case ones"
        )
    return rows


# --------------------------------------------------------------------------- free text
#: a text column is free text (never a default risk factor) when its values are long on average
#: (characters) ...
FREE_TEXT_MEAN_LENGTH = 30
#: ... or when it has more than this many levels, most of them unique
FREE_TEXT_MIN_LEVELS = 10


def is_free_text(values: pd.Series) -> bool:
    """True for a free-text column: text (not boolean) whose values average more than
    :data:`FREE_TEXT_MEAN_LENGTH` characters, or have more than :data:`FREE_TEXT_MIN_LEVELS`
    levels with more levels than half the non-missing values (comments, notes, names: a
    Table 1 row of them would print every value, identifiers of other patients included)."""
    if (
        _is_bool(values)
        or pd.api.types.is_numeric_dtype(values.dtype)
        or pd.api.types.is_datetime64_any_dtype(values.dtype)
    ):
        return False
    v = values.dropna().astype(str)
    if not len(v):
        return False
    levels = v.nunique()
    return bool(
        v.str.len().mean() > FREE_TEXT_MEAN_LENGTH
        or (levels > FREE_TEXT_MIN_LEVELS and levels > 0.5 * len(v))
    )


def candidate_risk_factors(data: pd.DataFrame) -> list[str]:
    """:func:`default_candidates` of ``data`` without its free-text columns
    (:func:`is_free_text`): free text is a risk factor only when the user names it."""
    return [
        c
        for c in default_candidates(data.columns)
        if c not in data.columns or not is_free_text(data[c])
    ]


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)

#: the multivariable model's default variables (those present in the cohort): the risk factors
#: most often reported for HPD (Lin et al., Transl Lung Cancer Res 2021) — age ≥ 65, ECOG
#: performance status, > 2 metastatic sites, liver metastases, LDH > ULN, NLR (the same set as
#: the prediction model's default predictors, :data:`hpd_analysis.params.DEFAULT_PREDICTORS`)
MULTIVARIABLE_DEFAULT: tuple[str, ...] = DEFAULT_PREDICTORS


def table1_by(
    section: Any, group: str | None, variables: Sequence[str] | None = None
) -> pd.DataFrame:
    """Table 1 (:func:`hpd_analysis.riskfactors.table1`) of the section's patients by ``group``
    (an HPD definition or a patient column); ``None`` describes all patients in one column.
    Notes are in ``attrs["warnings"]``."""
    data = section.data
    if group is None:
        group = "all_patients"
        data = data.assign(all_patients="all patients")
    return table1(data, group, variables=variables, statistics=section.params.statistics)


def multivariable_set(
    section: Any,
    variables: Sequence[str] | None = None,
    multivariable_variables: Sequence[str] | None = None,
) -> list[str]:
    """Variables of the multivariable model: ``multivariable_variables`` when given (each must
    be a patient column or a derived factor, else :class:`ParameterError`), else those of
    :data:`MULTIVARIABLE_DEFAULT` among the candidates (``variables``, default the package's
    default candidates)."""
    cand = list(variables) if variables is not None else candidate_risk_factors(section.data)
    if multivariable_variables is not None:
        wanted = _as_list(multivariable_variables)
        unknown = [v for v in wanted if v not in cand]
        if unknown:
            raise ParameterError(
                f"multivariable_variables: {', '.join(unknown)} not among the candidate risk "
                f"factors ({', '.join(cand)})"
            )
        return wanted
    return [v for v in MULTIVARIABLE_DEFAULT if v in cand]


def odds_ratios_for(
    section: Any,
    variables: Sequence[str] | None = None,
    multivariable_variables: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Odds ratios of HPD under the primary definition
    (:func:`hpd_analysis.riskfactors.odds_ratios`): univariable for every candidate in
    ``variables``, multivariable on :func:`multivariable_set` (default the short literature set
    :data:`MULTIVARIABLE_DEFAULT`). An empty table of the same columns, with the reason in
    ``attrs["warnings"]``, when no patient is evaluable as HPD and non-HPD."""
    if not section.primary_evaluable():
        out = pd.DataFrame(columns=OR_COLUMNS)
        out.attrs["warnings"] = [
            f"no odds ratios: no patient is evaluable as HPD and as non-HPD under {section.primary}"
        ]
        return out
    multi = multivariable_set(section, variables, multivariable_variables)
    if variables is not None:
        variables = list(dict.fromkeys([*variables, *multi]))
    return odds_ratios(
        section.data,
        section.primary,
        variables=variables,
        multivariable_variables=multi,
        statistics=section.params.statistics,
    )


def epv_table(odds_ratio_table: pd.DataFrame) -> pd.DataFrame:
    """Events per variable of each model of an odds-ratio table: ``model, n, n_events,
    n_parameters, epv`` (events of the rarer outcome per estimated coefficient; Peduzzi 1996
    asks for ≥ 10). Univariable models are summarised by their smallest EPV."""
    cols = ["model", "n", "n_events", "n_parameters", "epv"]
    t = odds_ratio_table
    if t.empty:
        return pd.DataFrame(columns=cols)
    est = t[
        t["note"].astype(str).ne("reference level") & pd.to_numeric(t["n"], errors="coerce").notna()
    ].copy()
    rows = []
    for model, sub in est.groupby(est["model"].astype(str), sort=False):
        n = pd.to_numeric(sub["n"], errors="coerce")
        ev = pd.to_numeric(sub["n_events"], errors="coerce")
        if model == "multivariable":
            n0, e0 = int(n.iloc[0]), int(ev.iloc[0])
            k = int(len(sub))
            rows.append(
                {
                    "model": model,
                    "n": n0,
                    "n_events": e0,
                    "n_parameters": k,
                    "epv": events_per_variable(min(e0, n0 - e0), k),
                }
            )
        else:
            per = (
                sub.assign(n_=n, ev_=ev)
                .groupby("variable", sort=False)
                .agg(n=("n_", "first"), n_events=("ev_", "first"), k=("variable", "size"))
            )
            per = per.dropna()
            if per.empty:
                continue
            rare = per["n_events"].clip(upper=per["n"] - per["n_events"]).astype(float)
            epv = (rare / per["k"].astype(float)).reset_index(drop=True)
            i = int(epv.idxmin())
            rows.append(
                {
                    "model": "univariable (smallest)",
                    "n": int(per["n"].iloc[i]),
                    "n_events": int(per["n_events"].iloc[i]),
                    "n_parameters": int(per["k"].iloc[i]),
                    "epv": float(epv[i]),
                }
            )
    return pd.DataFrame(rows, columns=cols)
