"""Regression–growth models of Stein and Wilkerson: growth rate g, decay rate d and phi per patient.

Sources: Stein et al., The Oncologist 2008;13:1046–1054 (the two-phase model of g and d) and
Clin Cancer Res 2011;17:907–917 (growth rate constant g as an indicator of efficacy); Wilkerson,
Fojo and Stein, R package ``tumgr`` 0.0.4 (CRAN, function ``gdrate``; MIT). The rules below
are tumgr's, re-implemented from its source; tumgr's own results on its ``sampleData`` and on
Laleh 2022 study 4 are pinned in ``tests/test_growth.py`` (docs/growth.md).

**Data.** Per patient the evaluations ``(date, size)``: date in days, size the sum of the lesion
measurements. For a cohort: the per-scan target sums (SLD, mm) of every scan from the baseline
scan on (pre-baseline scans left out), date = days since treatment start.

**Models** of the size relative to the first evaluation, ``f = size / size_first``, at
``time = date - date_first + 1`` days (tumgr's time origin: the first evaluation is day 1):

- ``gd``:    ``f = exp(-d·t) + exp(g·t) - 1``                      (regression and growth)
- ``dx``:    ``f = exp(-d·t)``                                     (decay only)
- ``gx``:    ``f = exp(g·t)``                                      (growth only)
- ``gdphi``: ``f = (1 - phi)·exp(g·t) + phi·exp(-d·t)``            (phi: fraction that regresses)

every rate in ``[0, 1]`` per day and phi in ``[0, 1]``; least squares from the start values
g = d = 0.00511 per day and phi = 0.9, in the order gd, dx, gx, gdphi.

**What counts as an evaluation.** A row with a date counts (even with a missing size); the fit uses
the rows with both date and size. Exclusion before fitting, first rule that applies:

1. ``No measurement data``: no measured size, or the first measured size is 0;
2. ``only 1 eval``: one evaluation;
3. ``error data``: more than two evaluations, all with the same size;
4. ``2 evals not 20% diff``: two evaluations, last / first size within (0.8, 1.2).

**Fit and selection.** A model is fitted only when the patient has more measured evaluations than
the model has parameters. A fitted model qualifies when the fit converged, the Jacobian at the
estimate has full rank (R's ``nls`` refuses a singular gradient) and *every* parameter has a t-test
p-value < ``alpha`` (0.05) with n - k degrees of freedom. Among qualifying models the lowest AIC
(``-2·logLik + 2k``, k parameters) is selected (ties: the first in the order above); no qualifying
model: excluded, ``not fit``.

**Reported values** (per day): gd → g, d; dx → d; gx → g; gdphi → ``g·sqrt(1 - phi)``, d, phi
(tumgr's reported g of the gdphi model). Plus ``g_per_month = g × days_per_month`` and the
doubling time ``ln 2 / g`` days (g > 0 only).

**Departures from tumgr** (none on its sampleData; docs/growth.md): a patient whose dated rows
all lack a size is dropped silently by tumgr; here it is excluded as ``No measurement data``. A
perfect fit (RSS 0) has no standard errors and does not qualify (tumgr drops such a patient or
stops with an R error). The solver is a batch Levenberg–Marquardt (:mod:`growth_kernel`) with
tumgr's budget of 1000 function evaluations, not MINPACK itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .growth_kernel import ModelFn, batch_inference, batch_lm
from .params import DAYS_PER_MONTH, Parameters

if TYPE_CHECKING:
    from .cohort import Cohort

#: Columns of :func:`fit_growth` and :func:`growth_table`.
GROWTH_COLUMNS = [
    "patient_id",
    "n_evaluations",
    "status",
    "reason",
    "selected_fit",
    "g",
    "d",
    "phi",
    "g_per_month",
    "doubling_time_days",
]

#: tumgr's exclusion reasons, in the order the rules are applied.
NO_DATA = "No measurement data"
ONE_EVAL = "only 1 eval"
ERROR_DATA = "error data"
TWO_EVALS_FLAT = "2 evals not 20% diff"
NOT_FIT = "not fit"


# --------------------------------------------------------------------------- the four models


def _gd(t: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, d = th[:, :1], th[:, 1:2]
    eg, ed = np.exp(g * t), np.exp(-d * t)
    return ed + eg - 1.0, np.stack([t * eg, -t * ed], axis=-1)


def _dx(t: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ed = np.exp(-th[:, :1] * t)
    return ed, (-t * ed)[..., None]


def _gx(t: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eg = np.exp(th[:, :1] * t)
    return eg, (t * eg)[..., None]


def _gdphi(t: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi, g, d = th[:, :1], th[:, 1:2], th[:, 2:3]
    eg, ed = np.exp(g * t), np.exp(-d * t)
    f = (1.0 - phi) * eg + phi * ed
    return f, np.stack([ed - eg, (1.0 - phi) * t * eg, -phi * t * ed], axis=-1)


@dataclass(frozen=True)
class GrowthModel:
    """One nested model of tumgr: name, parameters (in order), function, start values, bounds."""

    name: str
    parameters: tuple[str, ...]
    fn: ModelFn
    start: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


#: tumgr's models in the order it tries them (ties in AIC go to the earlier one).
MODELS: tuple[GrowthModel, ...] = (
    GrowthModel("gd", ("g", "d"), _gd, (0.00511, 0.00511), (0.0, 0.0), (1.0, 1.0)),
    GrowthModel("dx", ("d",), _dx, (0.00511,), (0.0,), (1.0,)),
    GrowthModel("gx", ("g",), _gx, (0.00511,), (0.0,), (1.0,)),
    GrowthModel(
        "gdphi",
        ("phi", "g", "d"),
        _gdphi,
        (0.9, 0.00511, 0.00511),
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
    ),
)


# --------------------------------------------------------------------------- data preparation


def prepare_evaluations(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply tumgr's exclusion rules to a ``name, date, size`` table.

    Returns ``(patients, points)``: ``patients`` has one row per name (order of first appearance)
    with ``n_evaluations`` (tumgr's N: measured evaluations when fitted, dated rows otherwise),
    ``reason`` (NA when the patient goes on to the fit); ``points`` has the measured evaluations of
    the patients to fit, sorted by date, with ``time`` (days since the first, + 1) and ``f``
    (size / first size).
    """
    tab = table[["name", "date", "size"]].copy()
    tab = tab[tab["name"].notna()]
    names = pd.unique(tab["name"])
    dated = tab[tab["date"].notna()]
    n_dated = dated.groupby("name", sort=False).size().reindex(names, fill_value=0)
    # distinct sizes among dated rows, a missing size counting as one value (tumgr's unique())
    n_unique = (
        dated["size"]
        .fillna(np.inf)
        .groupby(dated["name"], sort=False)
        .nunique()
        .reindex(names, fill_value=0)
    )
    pts = tab[tab["date"].notna() & tab["size"].notna()].sort_values(
        ["name", "date"], kind="stable"
    )
    first = pts.groupby("name", sort=False)["size"].first().reindex(names)
    last = pts.groupby("name", sort=False)["size"].last().reindex(names)
    n_meas = pts.groupby("name", sort=False).size().reindex(names, fill_value=0)
    ratio = last / first

    reason = pd.Series(pd.NA, index=names, dtype=object)
    rules = [
        (first.isna() | (first == 0), NO_DATA),
        (n_dated == 1, ONE_EVAL),
        ((n_unique == 1) & (n_dated > 2), ERROR_DATA),
        ((n_dated == 2) & (ratio > 0.8) & (ratio < 1.2), TWO_EVALS_FLAT),
    ]
    for cond, text in rules:
        reason[cond.to_numpy() & reason.isna().to_numpy()] = text
    fit = reason.isna()
    n_eval = np.where(fit, n_meas, n_dated)
    patients = pd.DataFrame(
        {"name": names, "n_evaluations": n_eval.astype(int), "reason": reason.to_numpy()}
    )
    pts = pts[pts["name"].isin(names[fit.to_numpy()])].copy()
    d0 = pts.groupby("name", sort=False)["date"].transform("first")
    s0 = pts.groupby("name", sort=False)["size"].transform("first")
    pts["time"] = pts["date"].astype(float) - d0.astype(float) + 1.0
    pts["f"] = pts["size"].astype(float) / s0.astype(float)
    return patients, pts.reset_index(drop=True)


def _padded(points: pd.DataFrame, names: np.ndarray) -> tuple[np.ndarray, ...]:
    """(B, N) arrays of time, f and mask for ``names`` (rows of ``points`` sorted by name, date)."""
    code = pd.Categorical(points["name"], categories=names).codes
    order = np.argsort(code, kind="stable")
    code = code[order]
    counts = np.bincount(code, minlength=len(names))
    width = int(counts.max()) if len(counts) else 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(len(code)) - starts[code]
    t = np.zeros((len(names), max(width, 1)))
    f = np.zeros_like(t)
    mask = np.zeros(t.shape, dtype=bool)
    t[code, col] = points["time"].to_numpy(float)[order]
    f[code, col] = points["f"].to_numpy(float)[order]
    mask[code, col] = True
    return t, f, mask, counts


def fit_models(points: pd.DataFrame, names: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Fit the four models to every patient of ``names`` at once; one row per patient × model.

    Columns ``name, model, fitted`` (enough points), ``converged``, ``full_rank``, ``n_sig``
    (parameters with p < ``alpha``), ``qualifies``, ``aic``, then ``est_<p>``, ``se_<p>``,
    ``p_<p>`` for p in g, d, phi (NaN when the model has no such parameter).
    """
    t, f, mask, counts = _padded(points, names)
    frames = []
    for m in MODELS:
        k = len(m.parameters)
        rows = np.flatnonzero(counts > k)
        out = pd.DataFrame(
            {
                "name": names,
                "model": m.name,
                "fitted": counts > k,
                "converged": False,
                "full_rank": False,
                "n_sig": 0,
                "aic": np.nan,
            }
        )
        for p in ("g", "d", "phi"):
            out[f"est_{p}"] = np.nan
            out[f"se_{p}"] = np.nan
            out[f"p_{p}"] = np.nan
        if rows.size:
            ta, fa, ma = t[rows], f[rows], mask[rows]
            lm = batch_lm(
                m.fn,
                ta,
                fa,
                mask=ma,
                theta0=np.array(m.start),
                lower=np.array(m.lower),
                upper=np.array(m.upper),
            )
            inf = batch_inference(m.fn, ta, fa, mask=ma, theta=lm.theta)
            out.loc[rows, "converged"] = lm.converged
            out.loc[rows, "full_rank"] = inf.full_rank
            out.loc[rows, "n_sig"] = np.sum(inf.p_value < alpha, axis=1)
            out.loc[rows, "aic"] = -2.0 * inf.loglik + 2.0 * k
            for j, p in enumerate(m.parameters):
                out.loc[rows, f"est_{p}"] = lm.theta[:, j]
                out.loc[rows, f"se_{p}"] = inf.se[:, j]
                out.loc[rows, f"p_{p}"] = inf.p_value[:, j]
        out["qualifies"] = out["fitted"] & out["converged"] & out["full_rank"] & (out["n_sig"] == k)
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


def select_models(fits: pd.DataFrame) -> pd.DataFrame:
    """tumgr's selection: among qualifying models the lowest AIC (first in model order on ties).

    One row per patient: ``name, selected_fit`` (NA: none qualifies), ``g, d, phi`` per day of the
    selected model (gdphi: ``g·sqrt(1 - phi)``).
    """
    order = {m.name: i for i, m in enumerate(MODELS)}
    q = fits[fits["qualifies"]].assign(_o=fits["model"].map(order))
    best = q.sort_values(["name", "aic", "_o"], kind="stable").drop_duplicates("name")
    g = best["est_g"].to_numpy(float)
    phi = best["est_phi"].to_numpy(float)
    g = np.where(best["model"].to_numpy() == "gdphi", g * np.sqrt(1.0 - phi), g)
    return pd.DataFrame(
        {
            "name": best["name"].to_numpy(),
            "selected_fit": best["model"].to_numpy(),
            "g": g,
            "d": best["est_d"].to_numpy(float),
            "phi": phi,
        }
    )


def fit_growth(table: pd.DataFrame, params: Parameters | None = None) -> pd.DataFrame:
    """Stein–Wilkerson growth model of every patient of a tumgr ``name, date, size`` table.

    ``date`` in days, ``size`` any unit (only ratios matter). Returns one row per name (order of
    first appearance), columns :data:`GROWTH_COLUMNS` (``patient_id`` = name): ``status``
    ``included`` (a model selected) or ``excluded`` with the ``reason`` (tumgr's text); rates ``g``,
    ``d`` per day, ``g_per_month`` per month (``params.days_per_month``), ``doubling_time_days``
    ``ln 2 / g`` when g > 0. Options: ``params.growth.alpha``.
    """
    params = params or Parameters()
    patients, points = prepare_evaluations(table)
    to_fit = patients.loc[patients["reason"].isna(), "name"].to_numpy()
    sel = select_models(fit_models(points, to_fit, params.growth.alpha)) if len(to_fit) else None
    out = patients.rename(columns={"name": "patient_id"})
    out["selected_fit"] = pd.Series(pd.NA, index=out.index, dtype=object)
    for c in ("g", "d", "phi"):
        out[c] = np.nan
    if sel is not None and len(sel):
        pos = pd.Index(out["patient_id"]).get_indexer(sel["name"])
        out.loc[pos, "selected_fit"] = sel["selected_fit"].to_numpy()
        for c in ("g", "d", "phi"):
            out.loc[pos, c] = sel[c].to_numpy()
    fitted_none = out["reason"].isna() & out["selected_fit"].isna()
    out.loc[fitted_none, "reason"] = NOT_FIT
    included = out["selected_fit"].notna()
    out["status"] = np.where(included, "included", "excluded")
    out.loc[included, "reason"] = (
        "selected "
        + out.loc[included, "selected_fit"].astype(str)
        + f": every parameter p < {params.growth.alpha:g}, lowest AIC"
    )
    g = out["g"].to_numpy(float)
    out["g_per_month"] = g * params.days_per_month
    with np.errstate(divide="ignore", invalid="ignore"):
        out["doubling_time_days"] = np.where(g > 0, np.log(2.0) / g, np.nan)
    return out[GROWTH_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- cohort input


def cohort_evaluations(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """tumgr's ``name, date, size`` table of a cohort, plus the reason of patients without one.

    One row per scan from the patient's baseline scan on (pre-baseline scans left out): ``name`` =
    ``patient_id``, ``date`` = days since treatment start, ``size`` = SLD of the baseline target
    lesions in mm (missing when a target is not measured). Column ``no_baseline_reason`` is set on a
    single row for patients without a baseline scan (the time-point rules of
    :mod:`hpd_analysis.timepoints`, e.g. "no baseline scan", "no measurements").
    """
    from .timepoints import first_evaluation_features, scan_table

    params = params or Parameters()
    ids = cohort.patients["patient_id"].astype(str).to_numpy()
    feats = first_evaluation_features(cohort, params).set_index("patient_id")
    base_day = (feats["baseline_date"] - feats["treatment_start"]).dt.days.astype(float)
    scans = (
        scan_table(cohort, params)
        if cohort.has_measurements
        else pd.DataFrame(columns=["patient_id", "day", "sld_mm"])
    )
    scans = scans[["patient_id", "day", "sld_mm"]].copy()
    scans["patient_id"] = scans["patient_id"].astype(str)
    bday = scans["patient_id"].map(base_day)
    keep = scans[(scans["day"] >= bday).to_numpy()]
    evals = pd.DataFrame(
        {
            "name": keep["patient_id"].to_numpy(),
            "date": keep["day"].to_numpy(float),
            "size": keep["sld_mm"].to_numpy(float),
            "no_baseline_reason": pd.NA,
        }
    )
    missing = [p for p in ids if p not in set(evals["name"])]
    reasons = feats["baseline_reason"].reindex(missing).fillna("no baseline scan")
    extra = pd.DataFrame(
        {
            "name": missing,
            "date": np.nan,
            "size": np.nan,
            "no_baseline_reason": reasons.to_numpy(dtype=object),
        }
    )
    out = pd.concat([evals, extra], ignore_index=True) if len(extra) else evals
    order = pd.Categorical(out["name"], categories=ids).codes
    return out.iloc[np.lexsort((out["date"].to_numpy(float), order))].reset_index(drop=True)


def growth_table(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """:func:`fit_growth` on a cohort's per-scan sums: one row per patient of ``cohort.patients``.

    Patients without a baseline scan are excluded with the time-point reason (e.g. "no baseline
    scan"); the others follow tumgr's rules (:func:`fit_growth`).
    """
    params = params or Parameters()
    ev = cohort_evaluations(cohort, params)
    no_base = ev.dropna(subset=["no_baseline_reason"]).set_index("name")["no_baseline_reason"]
    res = fit_growth(ev[ev["no_baseline_reason"].isna()], params).set_index("patient_id")
    ids = cohort.patients["patient_id"].astype(str)
    out = res.reindex(ids)
    out.index.name = "patient_id"
    nb = out.index.isin(no_base.index)
    out.loc[nb, "status"] = "excluded"
    out.loc[nb, "reason"] = no_base.reindex(out.index[nb]).to_numpy()
    out.loc[nb, "n_evaluations"] = 0
    out["n_evaluations"] = out["n_evaluations"].astype(int)
    return out.reset_index()[GROWTH_COLUMNS]


def read_tumgr_table(path: str | Path) -> pd.DataFrame:
    """Read tumgr's input table (CSV with columns ``name, date, size``; date in days).

    Raises :class:`hpd_analysis.errors.CohortError` with one line per problem (missing column,
    a row without name, non-numeric date or size). Missing dates and sizes are allowed (tumgr's
    rules say how they count).
    """
    from .errors import CohortError, Problem
    from .load import read_table

    tab = read_table(path)
    missing = [c for c in ("name", "date", "size") if c not in tab.columns]
    if missing:
        raise CohortError(
            [
                Problem(
                    str(path), None, c, "column missing", "tumgr's columns name, date (days), size"
                )
                for c in missing
            ]
        )
    problems = []
    no_name = np.flatnonzero(tab["name"].isna().to_numpy())
    if no_name.size:
        problems.append(
            Problem(
                str(path),
                int(no_name[0]) + 2,
                "name",
                "missing" + (f" (and {no_name.size - 1} more rows)" if no_name.size > 1 else ""),
                "a patient identifier on every row",
            )
        )
    for c in ("date", "size"):
        num = pd.to_numeric(tab[c], errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() & tab[c].notna().to_numpy())
        if bad.size:
            problems.append(
                Problem(
                    str(path),
                    int(bad[0]) + 2,
                    c,
                    f"not a number: {tab[c].iloc[bad[0]]!r}"
                    + (f" (and {bad.size - 1} more rows)" if bad.size > 1 else ""),
                    "a number" + (" of days" if c == "date" else ""),
                )
            )
        tab[c] = num
    if problems:
        raise CohortError(problems)
    tab["name"] = tab["name"].astype(str).where(tab["name"].notna())
    return tab


def write_growth(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the growth table as CSV (``.csv``, ``.csv.gz``) or Parquet by extension.

    CSV: UTF-8, ``\\n`` line ends, numbers with 10 significant digits (rates per day are small:
    fixed decimals would lose them), missing values empty; ``.csv.gz`` without a timestamp, so the
    same table always gives the same bytes.
    """
    from .load import table_output_path

    out = table_output_path(out)
    name = out.name.lower()
    if name.endswith(".parquet"):
        table.to_parquet(out, index=False)
    else:
        comp = {"method": "gzip", "mtime": 0} if name.endswith(".gz") else None
        from .privacy import neutralize_formulas  # no cell a spreadsheet would run as a formula

        neutralize_formulas(table).to_csv(
            out, index=False, lineterminator="\n", float_format="%.10g", compression=comp
        )
    return out


def growth_path(
    source: str | Path,
    out: str | Path,
    *,
    fmt: str = "cohort",
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """The ``hpd growth`` command: read a cohort (``fmt="cohort"``, any format ``hpd classify``
    reads) or a tumgr ``name, date, size`` table (``fmt="tumgr"``), fit, write ``out``.

    ``overrides``: parameters (``growth.alpha=0.1``, ``windows.…``). Refuses an ``out`` that is
    one of the input files (inputs are never overwritten). Returns the output path.
    """
    from .errors import ParameterError

    try:
        params = Parameters.from_dict(dict(overrides or {}))
    except (TypeError, ValueError) as exc:
        raise ParameterError(str(exc)) from None
    src = Path(source)
    if fmt == "tumgr":
        inputs = [src]
    else:
        from .load import load_cohort

        cohort = load_cohort(src, params=params)
        inputs = [Path(p) for p in cohort.sources.values()] + [src]
    target = Path(out).resolve()
    if any(target == p.resolve() for p in inputs) or target.is_dir():
        raise ParameterError(
            f"--out {out}: is an input of this run (or a folder); "
            "choose a new file name, inputs are never overwritten"
        )
    from .load import check_output, input_paths

    check_output(out, input_paths(src), folder=False)  # nor written into the cohort folder
    table = (
        fit_growth(read_tumgr_table(src), params)
        if fmt == "tumgr"
        else growth_table(cohort, params)
    )
    return write_growth(table, out)


# --------------------------------------------------------------------------- report views


def growth_attrition(growth: pd.DataFrame) -> pd.DataFrame:
    """Every patient counted once: status, selected model or exclusion reason, n and % of all.

    Columns ``status, outcome, n, percent``; included rows first (by model order), then the
    exclusions in the order tumgr applies them, then any other reason (e.g. no baseline scan).
    """
    total = len(growth)
    outcome = growth["selected_fit"].where(growth["status"] == "included", growth["reason"])
    counts = (
        pd.DataFrame({"status": growth["status"], "outcome": outcome.astype(str)})
        .value_counts()
        .rename("n")
        .reset_index()
    )
    rank = {m.name: i for i, m in enumerate(MODELS)}
    rank.update(
        {r: 10 + i for i, r in enumerate((NO_DATA, ONE_EVAL, ERROR_DATA, TWO_EVALS_FLAT, NOT_FIT))}
    )
    counts["_r"] = counts["outcome"].map(rank).fillna(99)
    counts = counts.sort_values(["_r", "outcome"], kind="stable").drop(columns="_r")
    counts["percent"] = 100.0 * counts["n"] / total if total else np.nan
    return counts.reset_index(drop=True)


def _median_iqr(v: pd.Series, scale: float = 1.0) -> str:
    v = pd.to_numeric(v, errors="coerce").dropna() * scale
    if v.empty:
        return ""
    q1, q2, q3 = np.quantile(v.to_numpy(float), [0.25, 0.5, 0.75])
    return f"{q2:.4g} ({q1:.4g} to {q3:.4g})"


def growth_by_group(
    growth: pd.DataFrame,
    group: pd.Series,
    days_per_month: float = DAYS_PER_MONTH,
    *,
    levels: list[str] | None = None,
    min_count: int = 0,
) -> pd.DataFrame:
    """Per group: patients, included (n, %), selected models, median (IQR) of g and d per month.

    ``group``: one label per row of ``growth`` (e.g. the HPD status under the primary
    definition; a missing label is the group ``(missing)``); ``levels`` fixes the row order
    (default: order of appearance). Rates per month = rate per day × ``days_per_month`` (g is
    ``g_per_month``). Columns ``group, n_patients, n_included, percent`` (included, % of the
    group), ``n_gd, n_dx, n_gx, n_gdphi`` (selected models), ``n_g``, ``g_per_month_median_iqr``,
    ``n_d``, ``d_per_month_median_iqr``. ``min_count`` = k > 1 (the report's small-cell rule):
    a median over 1..k-1 patients is left blank (the report masks the counts themselves).
    """
    rows = []
    lab = pd.Series(np.asarray(group, dtype=object), index=growth.index)
    g = growth.assign(_group=lab.where(lab.notna(), "(missing)"))
    labels = list(pd.unique(g["_group"]))
    if levels is not None:
        labels = [lv for lv in levels if lv in labels] + [lv for lv in labels if lv not in levels]

    def summary(values: pd.Series, scale: float = 1.0) -> str:
        n = int(values.notna().sum())
        return "" if 0 < n < min_count else _median_iqr(values, scale)

    for label in labels:
        part = g[g["_group"] == label]
        inc = part[part["status"] == "included"]
        models = inc["selected_fit"].value_counts()
        row: dict[str, Any] = {
            "group": label,
            "n_patients": len(part),
            "n_included": len(inc),
            "percent": 100.0 * len(inc) / len(part) if len(part) else np.nan,
        }
        row.update({f"n_{m.name}": int(models.get(m.name, 0)) for m in MODELS})
        row.update(
            {
                "n_g": int(inc["g"].notna().sum()),
                "g_per_month_median_iqr": summary(inc["g_per_month"]),
                "n_d": int(inc["d"].notna().sum()),
                "d_per_month_median_iqr": summary(inc["d"], days_per_month),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def g_tertiles(growth: pd.DataFrame) -> pd.Series:
    """Tertile label of g per month per patient (``"T1: g ≤ a"``, ``"T2: a < g ≤ b"``, ``"T3: g > b"``);
    NA for patients without an estimated g (excluded, or the dx model: no growth component)."""
    g = pd.to_numeric(growth["g_per_month"], errors="coerce")
    ok = g.notna()
    out = pd.Series(pd.NA, index=growth.index, dtype=object)
    if ok.sum() < 3:
        return out
    a, b = np.quantile(g[ok].to_numpy(float), [1 / 3, 2 / 3])
    out[ok & (g <= a)] = f"T1: g ≤ {a:.3g}"
    out[ok & (g > a) & (g <= b)] = f"T2: {a:.3g} < g ≤ {b:.3g}"
    out[ok & (g > b)] = f"T3: g > {b:.3g}"
    return out


def os_by_g_tertile(growth: pd.DataFrame, endpoints: pd.DataFrame) -> pd.DataFrame:
    """Overall survival (months from treatment start) of the patients with an estimated g, with
    their g tertile (:func:`g_tertiles`): columns ``patient_id, group, time_months, event``.

    ``endpoints``: :func:`hpd_analysis.endpoints.derive_endpoints` of the same patients (same
    order as ``growth``). Patients without g or without OS are left out (the attrition table
    counts the former). Exploratory: g is estimated from scans over the whole follow-up, so a
    patient needs to live long enough to have them (guarantee-time bias).
    """
    t = pd.DataFrame(
        {
            "patient_id": growth["patient_id"].to_numpy(),
            "group": g_tertiles(growth).to_numpy(),
            "time_months": pd.to_numeric(endpoints["os_months"], errors="coerce").to_numpy(float),
            "event": pd.to_numeric(endpoints["os_event"], errors="coerce").to_numpy(float),
        }
    )
    t = t[t["group"].notna() & t["time_months"].notna() & t["event"].notna()]
    return t.astype({"event": int}).reset_index(drop=True)
