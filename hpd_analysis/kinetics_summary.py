"""Kinetics, response and fast progression by group (e.g. trial arm), for the kinetics section.

The report's kinetics notebook shows these tables for the whole cohort or split by the report
parameter ``group_by`` (a patient column such as ``arm``, or an HPD definition). Every patient is
counted: a patient whose group value is missing forms the group ``"<column> missing"``, and a
patient without a kinetic value is counted in ``n_missing`` with the most frequent reason.

- :func:`kinetics_by_group`: median [IQR] (and range) of TGR, TGK and the % change in SLD,
  before and on treatment, per group;
- :func:`evaluability_notes`: sentences saying which kinetic quantities and HPD definitions are
  not evaluable for any patient, and why (e.g. per-scan sums without a pre-baseline scan:
  only on-treatment kinetics exist, and every ratio-based definition is not evaluable);
- :func:`response_by_group`: RECIST 1.1 response at the first evaluation, counts and % of each
  group's patients;
- :func:`incidence_by_group` / :func:`fast_progression_by_group`: HPD (e.g. Gandara 2018 fast
  progression) per group with n/N, % and a binomial 95 % CI (:func:`hpd_analysis.incidence.incidence`);
- :func:`on_treatment_values`: TGR_on and TGK_on by group, the data of
  :func:`hpd_analysis.plots.on_treatment_plot` (box plots with every patient).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import ParameterError
from .incidence import group_labels, incidence, status_codes


class Quantity(NamedTuple):
    """How a kinetic quantity is shown: its label, unit and period."""

    label: str
    unit: str
    period: str


#: kinetic quantities: column -> (label, unit, period)
QUANTITIES: dict[str, Quantity] = {
    "tgr_on": Quantity("TGR on treatment", "% per month", "on treatment"),
    "tgk_on": Quantity("TGK on treatment", "mm per month", "on treatment"),
    "sld_pct_change_first_eval": Quantity(
        "SLD change at first evaluation", "% from baseline", "on treatment"
    ),
    "tgr_pre": Quantity("TGR before treatment", "% per month", "before treatment"),
    "tgk_pre": Quantity("TGK before treatment", "mm per month", "before treatment"),
    "tgr_ratio": Quantity("TGR ratio (on / pre)", "ratio", "ratio"),
    "tgk_ratio": Quantity("TGK ratio (on / pre)", "ratio", "ratio"),
    "delta_tgr": Quantity("ΔTGR (on − pre)", "percentage points", "ratio"),
}

#: where the reason of a missing value is, when not in ``<column>_reason``
REASON_COLUMNS = {"sld_pct_change_first_eval": "sld_first_eval_reason"}

#: RECIST 1.1 responses in display order (others, if any, follow alphabetically)
RESPONSE_ORDER = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]

#: the fast-progression definition of the OAK trial analyses
FAST_PROGRESSION = "gandara2018_fp"

ALL_PATIENTS = "all"

KINETICS_COLUMNS = [
    "group",
    "quantity",
    "label",
    "unit",
    "period",
    "n_patients",
    "n",
    "median",
    "q1",
    "q3",
    "min",
    "max",
    "n_infinite",
    "n_missing",
    "main_reason_missing",
]
RESPONSE_COLUMNS = ["group", "response", "n", "n_patients", "percent"]
INCIDENCE_BY_GROUP_COLUMNS = [
    "definition",
    "group",
    "n_hpd",
    "n_evaluable",
    "n_total",
    "n_over_N",
    "percent",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_not_evaluable",
    "main_reason_not_evaluable",
]


def group_of(data: pd.DataFrame, group_by: str | None) -> tuple[pd.Series, list[str]]:
    """Group label of every patient (object Series aligned with ``data``) and the levels in
    display order.

    ``group_by`` None: every patient in ``"all"``. A patient column: its values as text, sorted;
    missing values form the last group ``"<column> missing"``. An HPD definition (``<code>`` or
    ``hpd_<code>``): ``HPD``, ``non-HPD`` and ``not evaluable under <code>``. Unknown names raise
    :class:`ParameterError`.
    """
    labels, levels, _ref, why = group_labels(data, group_by)
    if bool(labels.isna().any()):
        extra = pd.unique(why[labels.isna()].astype(str))
        labels = labels.where(labels.notna(), why)
        levels = [*levels, *sorted(map(str, extra))]
    return labels.astype(object), list(levels)


def _most_frequent(keys: pd.DataFrame, value: pd.Series) -> pd.Series:
    """Most frequent non-missing ``value`` per row of ``keys`` (ties: alphabetically first),
    indexed by the key columns."""
    df = keys.assign(_v=value.astype("string")).dropna(subset=["_v"])
    if df.empty:
        return pd.Series(dtype=object)
    by = list(keys.columns)
    counts = df.groupby([*by, "_v"], sort=True).size().rename("_n").reset_index()
    counts = counts.sort_values(
        [*by, "_n", "_v"], ascending=[True] * len(by) + [False, True], kind="mergesort"
    )
    top = counts.drop_duplicates(by)
    return top.set_index(by)["_v"].astype(object)


def kinetics_by_group(
    data: pd.DataFrame, group_by: str | None = None, quantities: Sequence[str] | None = None
) -> pd.DataFrame:
    """Summary of each kinetic quantity per group: one row per group × quantity.

    Columns :data:`KINETICS_COLUMNS`: ``n_patients`` in the group, ``n`` with a finite value,
    ``median``, ``q1``, ``q3``, ``min``, ``max`` over those (units in ``unit``: TGR in % per
    month, TGK in mm per month, SLD change in %), ``n_infinite`` (e.g. a ratio over a zero
    pre-treatment growth), ``n_missing`` and the most frequent reason (``<column>_reason``).
    ``quantities`` defaults to every column of :data:`QUANTITIES` present in ``data``. Groups in
    the order of :func:`group_of`; with ``group_by`` None one group ``"all"``.
    """
    cols = [q for q in (quantities or QUANTITIES) if q in data.columns]
    labels, levels = group_of(data, group_by)
    if not cols:
        return pd.DataFrame(columns=KINETICS_COLUMNS)
    values = data[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    long = values.assign(group=labels.to_numpy()).melt(id_vars="group", var_name="quantity")
    v = long["value"]
    finite = np.isfinite(v.to_numpy())
    long["finite"] = v.where(finite)
    long["is_inf"] = np.isinf(v.to_numpy())
    long["is_missing"] = v.isna()
    g = long.groupby(["group", "quantity"], sort=False)
    out = g.agg(
        n_patients=("value", "size"),
        n=("finite", "count"),
        median=("finite", "median"),
        min=("finite", "min"),
        max=("finite", "max"),
        n_infinite=("is_inf", "sum"),
        n_missing=("is_missing", "sum"),
    )
    q = g["finite"].quantile([0.25, 0.75]).unstack()
    out["q1"], out["q3"] = q[0.25], q[0.75]
    rcols = {c: REASON_COLUMNS.get(c, f"{c}_reason") for c in cols}
    reasons = pd.DataFrame(
        {
            c: data[r] if r in data.columns else pd.Series(pd.NA, index=data.index)
            for c, r in rcols.items()
        }
    )
    rlong = (
        reasons.where(values.isna())
        .assign(group=labels.to_numpy())
        .melt(id_vars="group", var_name="quantity")
    )
    main = _most_frequent(rlong[["group", "quantity"]], rlong["value"])
    out["main_reason_missing"] = main.reindex(out.index).fillna("").to_numpy()
    out = out.reset_index()
    out["group"] = pd.Categorical(out["group"], categories=levels, ordered=True)
    out["quantity"] = pd.Categorical(out["quantity"], categories=cols, ordered=True)
    out = out.sort_values(["group", "quantity"], kind="mergesort").reset_index(drop=True)
    out["group"] = out["group"].astype(str)
    out["quantity"] = out["quantity"].astype(str)
    out["label"] = out["quantity"].map(lambda c: QUANTITIES[c].label)
    out["unit"] = out["quantity"].map(lambda c: QUANTITIES[c].unit)
    out["period"] = out["quantity"].map(lambda c: QUANTITIES[c].period)
    for c in ("n_patients", "n", "n_infinite", "n_missing"):
        out[c] = out[c].astype("int64")
    return out[KINETICS_COLUMNS]


def _definition_codes(data: pd.DataFrame, definitions: Sequence[str] | None) -> list[str]:
    if definitions is not None:
        return [str(c).removeprefix("hpd_") for c in definitions]
    return [c[4:-7] for c in data.columns if c.startswith("hpd_") and c.endswith("_status")]


def evaluability_notes(
    data: pd.DataFrame, definitions: Sequence[str] | None = None, has_measurements: bool = True
) -> list[str]:
    """Sentences on what cannot be evaluated in this cohort and why (empty list when everything
    can be evaluated for some patient).

    - no tumour measurements: nothing kinetic is evaluable;
    - no patient with a pre-treatment value (``tgr_pre`` all missing, e.g. per-scan sums with one
      scan before treatment): TGR_pre, TGK_pre, the ratios and ΔTGR are not evaluable, only
      on-treatment kinetics are reported;
    - every definition (``definitions`` codes, default all ``hpd_<code>_status`` columns) under
      which no patient is evaluable, with the most frequent reason.
    """
    n = len(data)
    notes: list[str] = []
    if not has_measurements:
        notes.append(
            "No tumour measurements in this cohort: tumour kinetics (TGR, TGK), RECIST "
            "response and the kinetic HPD definitions cannot be computed; every "
            "patient is 'not evaluable' under them."
        )
    elif (
        "tgr_pre" in data.columns
        and n
        and not pd.to_numeric(data["tgr_pre"], errors="coerce").notna().any()
    ):
        reason = ""
        if "tgr_pre_reason" in data.columns:
            r = data["tgr_pre_reason"].astype("string").dropna()
            if len(r):
                reason = f" (reason: {r.value_counts().index[0]})"
        notes.append(
            f"No patient has a pre-treatment growth rate{reason}: TGR_pre, TGK_pre, the TGR and "
            "TGK ratios and ΔTGR are NOT EVALUABLE in this cohort, and so is every HPD "
            "definition that compares on- with pre-treatment kinetics. Only on-treatment "
            "kinetics are reported (TGR_on, TGK_on: baseline → first evaluation) and the % "
            "change in SLD at the first evaluation."
        )
    dead = []
    for code in _definition_codes(data, definitions):
        if f"hpd_{code}_status" not in data.columns and f"hpd_{code}" not in data.columns:
            continue
        st = status_codes(data, code)
        if n and (st == 2).all():
            reason = ""
            rcol = f"hpd_{code}_reason"
            if rcol in data.columns:
                r = data[rcol].astype("string").dropna()
                if len(r):
                    reason = str(r.value_counts().index[0]).removeprefix("not evaluable: ")
            dead.append(f"{code} ({reason})" if reason else code)
    if dead and has_measurements:
        notes.append(f"Not evaluable for any of the {n} patients: " + "; ".join(dead) + ".")
    return notes


def response_by_group(
    data: pd.DataFrame, group_by: str | None = None, column: str = "recist_first_eval"
) -> pd.DataFrame:
    """RECIST 1.1 response at the first evaluation per group: one row per group × response.

    Columns :data:`RESPONSE_COLUMNS`: ``n`` patients with that response, ``n_patients`` in the
    group and ``percent`` = 100 · n / n_patients (every patient counted: no response = ``NE``).
    Responses in :data:`RESPONSE_ORDER` (``NON-CR/NON-PD`` only when it occurs).
    """
    if column not in data.columns:
        raise ParameterError(f"response_by_group: no column {column!r} in the table")
    labels, levels = group_of(data, group_by)
    resp = data[column].astype("string").fillna("NE").to_numpy(dtype=object)
    seen = set(resp)
    order = [r for r in RESPONSE_ORDER if r != "NON-CR/NON-PD" or r in seen]
    order += sorted(seen - set(order))
    ct = pd.crosstab(
        pd.Categorical(labels.to_numpy(), categories=levels),
        pd.Categorical(resp, categories=order),
        dropna=False,
    )
    long = ct.stack().rename("n").reset_index()
    long.columns = ["group", "response", "n"]
    long["group"] = long["group"].astype(str)
    long["response"] = long["response"].astype(str)
    size = ct.sum(axis=1)
    size.index = size.index.astype(str)
    long["n_patients"] = long["group"].map(size).astype("int64")
    long["n"] = long["n"].astype("int64")
    long["percent"] = 100.0 * long["n"] / long["n_patients"].where(long["n_patients"] > 0)
    return long[RESPONSE_COLUMNS]


def incidence_by_group(
    data: pd.DataFrame,
    group_by: str | None = None,
    definitions: Sequence[str] | None = None,
    *,
    method: str = "wilson",
    alpha: float = 0.05,
    overall: bool = True,
) -> pd.DataFrame:
    """HPD incidence per definition and group with a binomial CI
    (:func:`hpd_analysis.incidence.incidence`).

    Columns :data:`INCIDENCE_BY_GROUP_COLUMNS`: ``n_hpd`` of ``n_evaluable`` (``n_over_N``
    text ``"17/374"``), ``percent`` and its CI ``ci_low``, ``ci_high`` in %, ``ci_method``
    (e.g. "Wilson score 95%"), ``n_not_evaluable`` = n_total − n_evaluable with the most
    frequent reason. ``overall`` adds the row ``group = "all"`` first (when grouped).
    """
    codes = _definition_codes(data, definitions)
    labels, levels = group_of(data, group_by)
    grouped = group_by is not None
    tab = data.assign(_group=labels.to_numpy())
    inc = incidence(tab, codes, by="_group" if grouped else None, method=method, alpha=alpha)
    inc = inc[inc["stratum"] != "_group=missing"].copy()
    inc["group"] = inc["stratum"].str.removeprefix("_group=")
    inc.loc[inc["stratum"] == "all", "group"] = ALL_PATIENTS
    if grouped and not overall:
        inc = inc[inc["stratum"] != "all"]
    inc["n_over_N"] = inc["n_hpd"].astype(str) + "/" + inc["n_evaluable"].astype(str)
    inc["n_not_evaluable"] = (inc["n_total"] - inc["n_evaluable"]).astype("int64")
    reasons = []
    for code in codes:
        rcol = f"hpd_{code}_reason"
        st = status_codes(data, code)
        r = data[rcol] if rcol in data.columns else pd.Series(pd.NA, index=data.index)
        r = r.astype("string").where(st == 2).str.removeprefix("not evaluable: ")
        allkeys = pd.DataFrame({"definition": code, "group": ALL_PATIENTS}, index=data.index)
        reasons.append(_most_frequent(allkeys, r))
        if grouped:
            keys = pd.DataFrame({"definition": code, "group": labels.to_numpy()}, index=data.index)
            reasons.append(_most_frequent(keys, r))
    main = pd.concat(reasons) if reasons else pd.Series(dtype=object)
    idx = pd.MultiIndex.from_frame(inc[["definition", "group"]])
    inc["main_reason_not_evaluable"] = main.reindex(idx).fillna("").to_numpy()
    inc.loc[inc["n_not_evaluable"] == 0, "main_reason_not_evaluable"] = ""
    return inc[INCIDENCE_BY_GROUP_COLUMNS].reset_index(drop=True)


def fast_progression_by_group(
    data: pd.DataFrame,
    group_by: str | None = None,
    definition: str = FAST_PROGRESSION,
    *,
    method: str = "wilson",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Fast progression (default Gandara 2018, ``gandara2018_fp``) per group with n/N, % and a
    95 % CI: :func:`incidence_by_group` for that one definition (overall row first). Raises
    :class:`ParameterError` when the definition is not in the table."""
    code = str(definition).removeprefix("hpd_")
    if f"hpd_{code}_status" not in data.columns and f"hpd_{code}" not in data.columns:
        raise ParameterError(
            f"fast progression: definition {code} is not in the "
            "classification (add it to the report's definitions)"
        )
    return incidence_by_group(data, group_by, [code], method=method, alpha=alpha)


def evaluable_definitions(
    data: pd.DataFrame, definitions: Sequence[str] | None = None
) -> list[str]:
    """Codes of the definitions under which at least one patient is evaluable."""
    return [
        c
        for c in _definition_codes(data, definitions)
        if (f"hpd_{c}_status" in data.columns or f"hpd_{c}" in data.columns)
        and (status_codes(data, c) < 2).any()
    ]


def on_treatment_values(
    data: pd.DataFrame,
    group_by: str | None = None,
    quantities: Sequence[str] = ("tgr_on", "tgk_on"),
) -> tuple[list[str], dict[str, list[np.ndarray]]]:
    """The data of :func:`hpd_analysis.plots.on_treatment_plot`: the group levels
    (:func:`group_of`) and, for each quantity present in ``data`` (default TGR_on in % per
    month, TGK_on in mm per month), its finite values per level, in level order."""
    labels, levels = group_of(data, group_by)
    values: dict[str, list[np.ndarray]] = {}
    for q in quantities:
        if q not in data.columns:
            continue
        v = pd.to_numeric(data[q], errors="coerce").astype(float).to_numpy()
        ok = np.isfinite(v)
        values[q] = [v[ok & (labels.to_numpy() == lv)] for lv in levels]
    return levels, values


def has_pretreatment_kinetics(data: pd.DataFrame) -> bool:
    """True when at least one patient has a pre-treatment growth rate (``tgr_pre`` or
    ``tgk_pre``), i.e. a pre-baseline scan: the before-vs-on comparisons can be shown."""
    cols = [c for c in ("tgr_pre", "tgk_pre") if c in data.columns]
    return any(pd.to_numeric(data[c], errors="coerce").notna().any() for c in cols)


def grouping_note(data: pd.DataFrame, group_by: str | None) -> str:
    """One sentence on how the kinetics tables are split: by ``group_by`` with each group's size,
    or not split (with a hint). Raises :class:`ParameterError` for an unknown column."""
    if group_by is None:
        return (
            "Not split by group (group_by is none): every table is over all patients; set "
            "group_by to a patient column (e.g. --set group_by=arm) for per-arm tables."
        )
    labels, levels = group_of(data, group_by)
    sizes = labels.value_counts()
    parts = ", ".join(f"{lv} (n={int(sizes.get(lv, 0))})" for lv in levels)
    return f"Split by {group_by} (group_by parameter): {parts}."


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)


def kinetics_summary(classification: pd.DataFrame) -> pd.DataFrame:
    """Median [IQR] of each kinetic quantity, with how many patients have it and the most
    frequent reason when they do not: ``quantity, unit, n, median, q1, q3, n_missing,
    main_reason_missing``."""
    units = {
        "tgr_pre": "% per month",
        "tgr_on": "% per month",
        "tgr_ratio": "ratio",
        "delta_tgr": "percentage points",
        "tgk_pre": "mm per month",
        "tgk_on": "mm per month",
        "tgk_ratio": "ratio",
        "sld_pct_change_first_eval": "% from baseline",
    }
    rows = []
    for col, unit in units.items():
        if col not in classification.columns:
            continue
        v = pd.to_numeric(classification[col], errors="coerce").astype(float)
        fin = v[v.abs() < float("inf")]
        miss = v.isna()
        reason = ""
        rcol = f"{col}_reason"
        if miss.any() and rcol in classification.columns:
            r = classification.loc[miss, rcol].astype("string").dropna()
            if len(r):
                vc = r.value_counts()
                reason = str(sorted(vc[vc == vc.max()].index)[0])
        rows.append(
            {
                "quantity": col,
                "unit": unit,
                "n": int(fin.size),
                "median": fin.median() if len(fin) else float("nan"),
                "q1": fin.quantile(0.25) if len(fin) else float("nan"),
                "q3": fin.quantile(0.75) if len(fin) else float("nan"),
                "n_missing": int(miss.sum()),
                "main_reason_missing": reason,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["quantity", "unit", "n", "median", "q1", "q3", "n_missing", "main_reason_missing"],
    )


def recist_counts(classification: pd.DataFrame, status: pd.Series | None = None) -> pd.DataFrame:
    """RECIST 1.1 response at first evaluation: ``response, n, percent`` (of all patients), and
    one column per HPD status when ``status`` (aligned with the rows) is given."""
    order = ["CR", "PR", "SD", "PD", "NE"]
    resp = classification["recist_first_eval"].astype("string").fillna("NE")
    counts = resp.value_counts().reindex(order, fill_value=0)
    extra = [r for r in resp.unique() if r not in order]
    counts = pd.concat([counts, resp.value_counts().reindex(sorted(extra))]) if extra else counts
    out = pd.DataFrame({"response": counts.index, "n": counts.to_numpy(dtype="int64")})
    out["percent"] = 100.0 * out["n"] / max(len(resp), 1)
    if status is not None:
        ct = pd.crosstab(resp.to_numpy(), pd.Series(status).astype(str).to_numpy())
        for st in ("hpd", "not_hpd", "not_evaluable"):
            out[f"n_{st}"] = (
                ct[st].reindex(out["response"], fill_value=0).to_numpy(dtype="int64")
                if st in ct.columns
                else 0
            )
    return out
