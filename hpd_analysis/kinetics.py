r"""Tumour kinetics: tumour growth rate (TGR) and tumour growth kinetics (TGK).

Both compare how fast the sum of the longest diameters (SLD, mm) of the RECIST target lesions grows
during two periods:

- the **reference** (pre-treatment) period, from the pre-baseline scan (``S_pre``) to the baseline
  scan (``S_0``), giving ``TGR_pre`` / ``TGK_pre``;
- the **experimental** (on-treatment) period, from the baseline scan (``S_0``) to the first
  on-treatment evaluation (``S_1``), giving ``TGR_on`` / ``TGK_on``.

Months are ``days / days_per_month`` with ``days_per_month = 30.4375`` (= 365.25 / 12, as in
Ferté's reference calculator; :data:`hpd_analysis.params.DAYS_PER_MONTH`).

TGR — tumour growth rate (Gomez-Roca et al., Eur J Cancer 2011;47:2512; Ferté et al., Clin Cancer
Res 2014;20:246; Champiat et al., Clin Cancer Res 2017;23:1920)
    The tumour is approximated by a sphere whose diameter is the SLD, so its volume is
    ``V = π·SLD³/6``. Tumour growth is assumed exponential: ``V(t) = V_a·exp(TG·t)``. Between two
    scans ``a`` and ``b`` taken ``t`` months apart::

        V_b / V_a = (S_b / S_a)³            (sphere volume ∝ diameter³)
        TG        = ln(V_b / V_a) / t = 3·ln(S_b / S_a) / t          [per month]
        TGR       = 100 · (exp(TG) − 1)                              [% volume per month]

    In clinical words: TGR is the percentage by which the tumour volume grows in one month if it
    keeps growing exponentially at the pace observed between the two scans. ``TGR > 0`` means the
    tumour grows, ``TGR < 0`` that it shrinks (down to −100 % when it vanishes, ``S_b = 0``).
    It needs ``S_a > 0`` (log of 0) and ``t > 0``.

TGK — tumour growth kinetics (Le Tourneau et al., Br J Cancer 2012; Saâda-Bouzid et al., Ann Oncol
2017;28:1605)
    The slope of the SLD against time::

        TGK = (S_b − S_a) / t                  [mm per month]         (mode "absolute", default)
        TGK = 100 · (S_b − S_a) / S_a / t      [% of S_a per month]   (mode "relative")

    In clinical words: how many millimetres the sum of target diameters gains each month.

Ratios and differences (Champiat 2017; Ferrara et al., JAMA Oncol 2018;4:1543; Kas et al., JAMA Oncol
2020;6:1039; Saâda-Bouzid 2017)::

    TGR ratio = TGR_on / TGR_pre        (unitless)
    ΔTGR      = TGR_on − TGR_pre        (percentage points per month)
    TGK ratio = TGK_on / TGK_pre        (unitless)

Pitfalls: every undefined value comes with an explicit reason in ``<column>_reason`` (NA when the
value is defined): no pre-baseline scan, ``S = 0`` at pre-baseline or baseline, zero or negative
interval, ``TGR_pre = 0`` / ``TGK_pre = 0`` (ratio undefined), ``TGR_pre < 0`` (a ratio of two
negatives reads as "≥ 2" while the tumour shrinks faster; policy
``Parameters.nonpositive_pre_growth``), death or clinical progression before the first scan.

Worked check (hpd-definitions.md): SLD 67 → 98 → 171 mm, 144 then 49 days apart: TGR_pre 27.27,
TGR_on 182.19 %/month, ratio 6.68, ΔTGR 154.92, TGK ratio 6.92.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import ParameterError
from .params import DAYS_PER_MONTH, Parameters

#: the kinetic columns added by :func:`compute_kinetics` (each with a ``<col>_reason`` column)
KINETIC_COLUMNS = ["tgr_pre", "tgr_on", "tgr_ratio", "delta_tgr", "tgk_pre", "tgk_on", "tgk_ratio"]

_NONPOSITIVE_POLICIES = ("not_evaluable", "ratio", "infinite_if_on_positive")


def _as_float(x: Any) -> np.ndarray:
    """Float ndarray of ``x`` (nullable NA → NaN)."""
    if isinstance(x, pd.Series | pd.Index):
        return x.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(x, dtype=float)


def _wrap(result: np.ndarray, *inputs: Any) -> Any:
    """Return ``result`` shaped like the inputs: a Series (index of the first Series), or a float."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(result, index=x.index)
    if result.ndim == 0:
        return float(result)
    return result


def tgr(s_a: Any, s_b: Any, days: Any, *, days_per_month: float = DAYS_PER_MONTH) -> Any:
    """Tumour growth rate between two scans, in % of tumour volume per month (Ferté 2014).

    ``s_a``, ``s_b``: SLD in mm at the first and second scan; ``days``: days between them.
    ``TG = 3·ln(s_b/s_a)/t_months``, ``TGR = 100·(exp(TG) − 1)``. Vectorized over scalars, numpy
    arrays and pandas Series (a Series in gives a Series out). NaN when ``s_a <= 0``, ``s_b < 0``,
    ``days <= 0`` or any input is missing (:func:`compute_kinetics` says why).
    """
    a, b, d = _as_float(s_a), _as_float(s_b), _as_float(days)
    months = d / float(days_per_month)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tg = 3.0 * np.log(b / a) / months
        out = 100.0 * np.expm1(tg)
    bad = ~((a > 0) & (b >= 0) & (d > 0))
    out = np.where(bad, np.nan, out)
    return _wrap(out, s_a, s_b, days)


def tgk(
    s_a: Any,
    s_b: Any,
    days: Any,
    *,
    mode: str = "absolute",
    days_per_month: float = DAYS_PER_MONTH,
) -> Any:
    """Tumour growth kinetics: SLD slope between two scans (Le Tourneau; Saâda-Bouzid 2017).

    ``mode="absolute"``: ``(s_b − s_a)/t_months`` in mm per month; ``mode="relative"``:
    ``100·(s_b − s_a)/s_a/t_months`` in % of ``s_a`` per month. NaN when ``days <= 0``, an SLD is
    negative or missing, or (relative mode) ``s_a = 0``. Vectorized like :func:`tgr`.
    """
    if mode not in ("absolute", "relative"):
        raise ParameterError(f"tgk mode {mode!r}: expected 'absolute' or 'relative'")
    a, b, d = _as_float(s_a), _as_float(s_b), _as_float(days)
    months = d / float(days_per_month)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (b - a) / months
        if mode == "relative":
            slope = 100.0 * slope / a
    ok = (a >= 0) & (b >= 0) & (d > 0)
    if mode == "relative":
        ok &= a > 0
    out = np.where(ok, slope, np.nan)
    return _wrap(out, s_a, s_b, days)


# ---------------------------------------------------------------------------------------------
# compute_kinetics: values + explicit reasons
# ---------------------------------------------------------------------------------------------


class Reasons:
    """Why a value is missing, per row: the first reason set wins (``add(mask, text)`` sets the
    reason where none is set yet), so the reasons are added in the order the rule states them.

    ``text`` is a str; another builder (its reasons; ``not computable`` where it has none); a
    pair ``(per-row object array or None, default str)`` for reasons carried from upstream
    columns (default where the upstream reason is missing); or a per-row object array whose
    missing values are skipped (a later reason applies there). The rows share the reason strings
    (no per-row string objects).
    """

    def __init__(self, n: int):
        self.reasons = np.full(n, None, dtype=object)
        #: True where no reason is set (the value is defined)
        self.defined = np.ones(n, dtype=bool)

    @classmethod
    def of(cls, reasons: np.ndarray) -> Reasons:
        """A builder starting from a copy of ``reasons`` (any missing value: no reason yet)."""
        out = cls(0)
        out.defined = isna(reasons)
        out.reasons = reasons.copy()
        out.reasons[out.defined] = None
        return out

    def copy(self) -> Reasons:
        """An independent builder with the same reasons so far."""
        out = Reasons(0)
        out.reasons, out.defined = self.reasons.copy(), self.defined.copy()
        return out

    def add(self, mask: np.ndarray, text: Any) -> None:
        """Set ``text`` where ``mask`` and no reason is set yet."""
        idx = np.flatnonzero(mask & self.defined)
        if not len(idx):
            return
        if isinstance(text, Reasons):
            unset = text.defined[idx]
            text = text.reasons[idx]
            if unset.any():
                text = np.where(unset, "not computable", text)
        elif isinstance(text, tuple):  # (per-row upstream reasons or None, default)
            values, default = text
            text = default if values is None else _texts(values[idx], default)
        elif isinstance(text, np.ndarray):  # per-row reasons: the missing ones are skipped
            text = text[idx]
            if pd.api.types.infer_dtype(text, skipna=False) != "string":
                known = ~isna(text)
                idx, text = idx[known], text[known]
        self.reasons[idx] = text
        self.defined[idx] = False

    def array(self) -> np.ndarray:
        """Object array of reasons, ``None`` where unset (value defined)."""
        return self.reasons

    def column(self, index: pd.Index) -> Any:
        """The reasons as a column: the array, or an object Series on ``index`` when no reason
        is set (all None: no dtype inference pass over them by the DataFrame constructor)."""
        if self.defined.all():
            return pd.Series(self.reasons, index=index, dtype=object, copy=False)
        return self.reasons


def _texts(values: np.ndarray, default: str) -> np.ndarray:
    """Upstream reasons as str: ``default`` where missing, ``str(value)`` otherwise."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":  # the common case
        return values
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, default, values)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        inv, uniq = pd.factorize(values)
        values = np.array([str(u) for u in uniq], dtype=object)[inv]
    return values


def _reason_col(features: Mapping[str, Any], name: str, default: str) -> tuple[Any, str]:
    """Upstream reason column ``name`` as a lazy ``(object array or None, default)`` pair."""
    if name not in features:
        return None, default
    v = features[name]
    if isinstance(v, np.ndarray) and v.dtype == object:
        return v, default
    return to_numpy(v, object, None), default


def _missing_date(features: Mapping[str, Any], date_col: str, sld_col: str) -> np.ndarray:
    return isna(features[date_col] if date_col in features else features[sld_col])


def _ratio(
    pre_rate: tuple[np.ndarray, Reasons],
    on_rate: tuple[np.ndarray, Reasons],
    *,
    name: str,
    policy: str,
) -> tuple[np.ndarray, Reasons]:
    """Ratio ``on / pre`` of two rates (values, reasons) with the ``nonpositive_pre_growth``
    policy, and its reasons."""
    (pre, pre_reason), (on, on_reason) = pre_rate, on_rate
    n = len(pre)
    r = Reasons(n)
    r.add(np.isnan(pre), pre_reason)
    r.add(np.isnan(on), on_reason)
    both = ~np.isnan(pre) & ~np.isnan(on)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = on / pre
    zero, neg = both & (pre == 0), both & (pre < 0)
    if policy == "not_evaluable":
        r.add(zero, f"{name}_pre = 0 (ratio undefined)")
        r.add(
            neg,
            f"{name}_pre < 0: tumour shrinking before treatment "
            "(ratio not evaluable, nonpositive_pre_growth=not_evaluable)",
        )
    elif policy == "ratio":
        r.add(zero, f"{name}_pre = 0 (ratio undefined)")
    else:  # infinite_if_on_positive
        nonpos = zero | neg
        value = np.where(nonpos & (on > 0), np.inf, value)
        r.add(
            nonpos & ~(on > 0),
            f"{name}_pre ≤ 0 and {name}_on ≤ 0 (ratio not evaluable, "
            "nonpositive_pre_growth=infinite_if_on_positive)",
        )
    value = np.where(r.defined, value, np.nan)
    return value, r


def compute_kinetics(features: pd.DataFrame, params: Parameters | None = None) -> pd.DataFrame:
    """Add TGR / TGK columns and their reasons to the first-evaluation features.

    Reads ``sld_prebaseline_mm, sld_baseline_mm, sld_first_eval_mm`` (mm),
    ``days_pre_to_baseline, days_baseline_to_first_eval`` (days) and, when present, the scan dates,
    the upstream ``*_reason`` columns and ``death_day`` / ``pfs_event`` (death or clinical
    progression before the first scan). Returns a copy of ``features`` with ``tgr_pre, tgr_on``
    (% per month), ``tgr_ratio`` (unitless), ``delta_tgr`` (percentage points per month),
    ``tgk_pre, tgk_on`` (mm per month, or % of the starting SLD per month when
    ``params.tgk_mode == "relative"``), ``tgk_ratio`` and for each a ``<col>_reason`` (NA when the
    value is defined). One row per input row, same order.
    """
    return with_columns(features, kinetic_columns(ColumnValues(features), params))


#: the SLDs (mm) and intervals (days) the kinetics read
_KINETIC_INPUTS = (
    "sld_prebaseline_mm",
    "sld_baseline_mm",
    "sld_first_eval_mm",
    "days_pre_to_baseline",
    "days_baseline_to_first_eval",
)
#: the upstream reasons of missing scans and SLDs carried into the kinetic reasons
SCAN_REASON_COLUMNS = (
    "prebaseline_reason",
    "baseline_reason",
    "first_eval_reason",
    "sld_prebaseline_reason",
    "sld_baseline_reason",
    "sld_first_eval_reason",
)


@dataclass(frozen=True)
class _Scans:
    """The three scans of the kinetic analysis, as named arrays (one value per patient).

    ``s_pre``, ``s_0``, ``s_1``: SLD (mm) at pre-baseline, baseline and first evaluation;
    ``d_pre``, ``d_on``: days pre-baseline → baseline and baseline → first evaluation; ``no_*``:
    the scan is missing; ``died`` / ``progressed``: death / clinical progression (no death)
    recorded; ``reason``: upstream reason per :data:`SCAN_REASON_COLUMNS` name, as a lazy
    ``(object array or None, default)`` pair."""

    s_pre: np.ndarray
    s_0: np.ndarray
    s_1: np.ndarray
    d_pre: np.ndarray
    d_on: np.ndarray
    no_pre: np.ndarray
    no_base: np.ndarray
    no_first: np.ndarray
    died: np.ndarray
    progressed: np.ndarray
    reason: dict[str, tuple[Any, str]]


def _read_scans(features: Mapping[str, Any]) -> _Scans:
    """The named arrays of :class:`_Scans` from the feature columns."""
    missing = [c for c in _KINETIC_INPUTS if c not in features]
    if missing:
        raise ParameterError(f"compute_kinetics: features lack column(s) {', '.join(missing)}")
    s_pre, s_0, s_1, d_pre, d_on = (to_numpy(features[c], float, np.nan) for c in _KINETIC_INPUTS)
    n = len(s_pre)
    died = np.zeros(n, dtype=bool)
    if "death_day" in features:
        died = ~isna(features["death_day"])
    progressed = np.zeros(n, dtype=bool)
    if "pfs_event" in features:
        progressed = (_filled_float(features["pfs_event"], 0) == 1) & ~died
    defaults = (
        "no pre-baseline scan",
        "no baseline scan",
        "no first evaluation scan",
        "pre-baseline SLD not evaluable",
        "baseline SLD not evaluable",
        "first-evaluation SLD not evaluable",
    )
    return _Scans(
        s_pre=s_pre,
        s_0=s_0,
        s_1=s_1,
        d_pre=d_pre,
        d_on=d_on,
        no_pre=_missing_date(features, "prebaseline_date", "sld_prebaseline_mm"),
        no_base=_missing_date(features, "baseline_date", "sld_baseline_mm"),
        no_first=_missing_date(features, "first_eval_date", "sld_first_eval_mm"),
        died=died,
        progressed=progressed,
        reason={
            name: _reason_col(features, name, default)
            for name, default in zip(SCAN_REASON_COLUMNS, defaults, strict=True)
        },
    )


def _check_policy(params: Parameters) -> None:
    if params.nonpositive_pre_growth not in _NONPOSITIVE_POLICIES:
        raise ParameterError(
            f"nonpositive_pre_growth={params.nonpositive_pre_growth!r}: expected one of "
            f"{', '.join(_NONPOSITIVE_POLICIES)}"
        )


def _check_tgk_mode(params: Parameters) -> None:
    if params.tgk_mode not in ("absolute", "relative"):
        raise ParameterError(f"tgk_mode={params.tgk_mode!r}: expected 'absolute' or 'relative'")


def _reference_period_reasons(sc: _Scans) -> Reasons:
    """Why the reference (pre-treatment) period S_pre → S_0 has no growth value, the reasons
    TGR_pre and TGK_pre share: a missing scan or SLD."""
    r = Reasons(len(sc.s_pre))
    r.add(sc.no_pre, sc.reason["prebaseline_reason"])
    r.add(sc.no_base, sc.reason["baseline_reason"])
    r.add(np.isnan(sc.s_pre), sc.reason["sld_prebaseline_reason"])
    r.add(np.isnan(sc.s_0), sc.reason["sld_baseline_reason"])
    return r


def _experimental_period_reasons(sc: _Scans) -> Reasons:
    """Why the experimental (on-treatment) period S_0 → S_1 has no growth value, the reasons
    TGR_on and TGK_on share: a missing baseline, death or clinical progression before the first
    evaluation, a missing first evaluation or SLD."""
    r = Reasons(len(sc.s_0))
    r.add(sc.no_base, sc.reason["baseline_reason"])
    r.add(sc.no_first & sc.died, "death before the first evaluation scan")
    r.add(sc.no_first & sc.progressed, "clinical progression before the first evaluation scan")
    r.add(sc.no_first, sc.reason["first_eval_reason"])
    r.add(np.isnan(sc.s_0), sc.reason["sld_baseline_reason"])
    r.add(np.isnan(sc.s_1), sc.reason["sld_first_eval_reason"])
    return r


_NEGATIVE_REFERENCE_INTERVAL = "zero or negative interval between pre-baseline and baseline scans"
_NEGATIVE_EXPERIMENTAL_INTERVAL = (
    "zero or negative interval between baseline and first evaluation scans"
)


def _growth_rates(
    sc: _Scans, pre: Reasons, on: Reasons, *, params: Parameters
) -> dict[str, tuple[np.ndarray, Reasons]]:
    """TGR_pre, TGR_on (% volume per month; Ferté 2014) and TGK_pre, TGK_on (mm, or % of the
    starting SLD, per month; Le Tourneau 2012), each with its reasons (``pre`` / ``on``: the
    reasons the period's two rates share; the TGRs take copies, the TGKs the builders)."""
    dpm = params.days_per_month
    relative = params.tgk_mode == "relative"
    relative_zero = "relative TGK undefined"
    tgr_pre, tgr_on = pre.copy(), on.copy()
    # TGR: the log of S_a / S_b needs S_pre > 0 and S_0 > 0
    tgr_pre.add(sc.s_pre == 0, "SLD = 0 mm at pre-baseline (log of 0)")
    tgr_pre.add(sc.s_0 == 0, "SLD = 0 mm at baseline (log of 0)")
    tgr_pre.add(~(sc.d_pre > 0), _NEGATIVE_REFERENCE_INTERVAL)
    tgr_on.add(sc.s_0 == 0, "SLD = 0 mm at baseline (log of 0)")
    tgr_on.add(~(sc.d_on > 0), _NEGATIVE_EXPERIMENTAL_INTERVAL)
    # TGK: a slope; relative to S_a, it needs S_pre > 0 and S_0 > 0
    tgk_pre, tgk_on = pre, on
    if relative:
        tgk_pre.add(sc.s_pre == 0, f"SLD = 0 mm at pre-baseline ({relative_zero})")
    tgk_pre.add(~(sc.d_pre > 0), _NEGATIVE_REFERENCE_INTERVAL)
    if relative:
        tgk_on.add(sc.s_0 == 0, f"SLD = 0 mm at baseline ({relative_zero})")
    tgk_on.add(~(sc.d_on > 0), _NEGATIVE_EXPERIMENTAL_INTERVAL)
    mode = params.tgk_mode
    return {
        "tgr_pre": _defined(
            tgr(sc.s_pre, sc.s_0, sc.d_pre, days_per_month=dpm), tgr_pre, "tgr_pre"
        ),
        "tgr_on": _defined(tgr(sc.s_0, sc.s_1, sc.d_on, days_per_month=dpm), tgr_on, "tgr_on"),
        "tgk_pre": _defined(
            tgk(sc.s_pre, sc.s_0, sc.d_pre, mode=mode, days_per_month=dpm), tgk_pre, "tgk_pre"
        ),
        "tgk_on": _defined(
            tgk(sc.s_0, sc.s_1, sc.d_on, mode=mode, days_per_month=dpm), tgk_on, "tgk_on"
        ),
    }


def _defined(value: np.ndarray, r: Reasons, name: str) -> tuple[np.ndarray, Reasons]:
    """``value`` where no reason is set (NaN elsewhere); a value still undefined without a
    reason (e.g. a negative SLD) gets a generic one."""
    r.add(np.isnan(value), f"{name} not computable from the SLD values")
    return np.where(r.defined, value, np.nan), r


def _flat_reference_guard(
    sc: _Scans, ratios: dict[str, tuple[np.ndarray, Reasons]], floor: float
) -> None:
    """Ratios not evaluable where the pre-treatment SLD change is within measurement error
    (``|S_0 / S_pre − 1| < floor`` %, ``guards.pre_change_floor_pct``; off at 0)."""
    if not floor > 0:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        flat = np.abs(sc.s_0 / sc.s_pre - 1.0) * 100.0 < floor
    text = (
        f"pre-treatment SLD change within measurement error (< {floor:g} %, "
        "guards.pre_change_floor_pct): ratio not evaluable"
    )
    for name, (value, r) in list(ratios.items()):
        r.add(flat, text)
        ratios[name] = np.where(r.defined, value, np.nan), r


def kinetic_columns(features: ColumnValues, params: Parameters | None) -> dict[str, Any]:
    """The columns :func:`compute_kinetics` adds, from column values by name: the rates of the
    two periods, their ratios (on / pre) and ΔTGR (on − pre), each with its reasons."""
    params = params or Parameters()
    _check_policy(params)
    sc = _read_scans(features)
    pre, on = _reference_period_reasons(sc), _experimental_period_reasons(sc)
    _check_tgk_mode(params)
    rates = _growth_rates(sc, pre, on, params=params)
    ratios = {
        f"{kind}_ratio": _ratio(
            rates[f"{kind}_pre"],
            rates[f"{kind}_on"],
            name=kind.upper(),
            policy=params.nonpositive_pre_growth,
        )
        for kind in ("tgr", "tgk")
    }
    _flat_reference_guard(sc, ratios, params.guards.pre_change_floor_pct)
    (tgr_pre, why_pre), (tgr_on, why_on) = rates["tgr_pre"], rates["tgr_on"]
    why_delta = Reasons(len(tgr_pre))
    why_delta.add(np.isnan(tgr_pre), why_pre)
    why_delta.add(np.isnan(tgr_on), why_on)
    results = {**rates, **ratios, "delta_tgr": (tgr_on - tgr_pre, why_delta)}
    new: dict[str, Any] = {name: results[name][0] for name in KINETIC_COLUMNS}
    new.update(
        {f"{name}_reason": results[name][1].column(features.index) for name in KINETIC_COLUMNS}
    )
    return new


def with_columns(frame: pd.DataFrame, new: Mapping[str, Any]) -> pd.DataFrame:
    """``frame`` with columns added or replaced, built once without copying the others."""
    cols: dict[str, Any] = {c: frame[c] for c in frame.columns if c not in new}
    # arrays go to the constructor as they are (same dtype inference as ``pd.Series(v)``)
    cols.update(new)
    return pd.DataFrame(cols, index=frame.index, copy=False)


# ---------------------------------------------------------------------------------------------
# column values: the feature pipeline works on arrays and builds one DataFrame at the end
# ---------------------------------------------------------------------------------------------


def column_values(s: pd.Series) -> Any:
    """The column's values without conversion: numpy array, or the extension array."""
    return s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()


class ColumnValues(Mapping[str, Any]):
    """The columns of ``frame`` with columns added or replaced (as :func:`with_columns`), read as
    values (numpy or extension arrays, no copy) without building the DataFrame until
    :meth:`frame`. ``new`` values: arrays of the frame's length or Series on its index."""

    def __init__(
        self,
        frame: pd.DataFrame,
        new: Mapping[str, Any] | None = None,
        _series: dict[str, pd.Series] | None = None,
    ):
        self._frame = frame
        self._new = dict(new or {})
        self._series = {} if _series is None else _series  # frame columns read so far

    def __getitem__(self, name: str) -> Any:
        if name in self._new:
            v = self._new[name]
            return column_values(v) if isinstance(v, pd.Series) else v
        return column_values(self._column(name))

    def held(self, name: str) -> Any:
        """Column ``name`` as held: a Series (a frame column, or added as a Series), else the
        added values."""
        return self._new[name] if name in self._new else self._column(name)

    def series(self, name: str) -> pd.Series:
        """Column ``name`` as the Series :meth:`frame` would hold (on :attr:`index`), without
        building the frame."""
        v = self.held(name)
        return v if isinstance(v, pd.Series) else pd.Series(v, index=self.index, copy=False)

    def _column(self, name: str) -> pd.Series:
        """Column ``name`` of the frame (looked up once)."""
        if name not in self._series:
            self._series[name] = self._frame[name]
        return self._series[name]

    def __contains__(self, name: object) -> bool:
        return name in self._new or name in self._frame.columns

    def __iter__(self) -> Iterator[str]:
        yield from (c for c in self._frame.columns if c not in self._new)
        yield from self._new

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def n_rows(self) -> int:
        return len(self._frame)

    @property
    def index(self) -> pd.Index:
        """The index of the original frame (and of :meth:`frame`)."""
        return self._frame.index

    def with_columns(self, new: Mapping[str, Any]) -> ColumnValues:
        """These columns with ``new`` ones added or replaced (replaced ones move to the end)."""
        merged = {c: v for c, v in self._new.items() if c not in new}
        merged.update(new)
        return ColumnValues(self._frame, merged, self._series)

    def frame(self) -> pd.DataFrame:
        """The DataFrame (index of the original frame), built once (as :func:`with_columns`)."""
        cols: dict[str, Any] = {
            c: self._column(c) for c in self._frame.columns if c not in self._new
        }
        cols.update(self._new)
        return pd.DataFrame(cols, index=self._frame.index, copy=False)


def isna(values: Any) -> np.ndarray:
    """``Series(values).isna()`` as a numpy bool array (values: numpy or extension array)."""
    return np.asarray(pd.isna(values), dtype=bool)


def to_numpy(values: Any, dtype: Any, na_value: Any = pd.api.extensions.no_default) -> np.ndarray:
    """``Series(values).to_numpy(dtype, na_value=na_value)`` without building the Series (fast
    paths for extension arrays, float arrays to float and object arrays to object)."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=dtype, na_value=na_value)
    if isinstance(values, np.ndarray):
        if (
            values.dtype == np.float64
            and np.dtype(dtype) == np.float64
            and (na_value is np.nan or na_value is pd.api.extensions.no_default)
        ):
            return values
        if (
            values.dtype == object
            and np.dtype(dtype) == object
            and na_value is not pd.api.extensions.no_default
        ):
            out = values.copy()
            out[pd.isna(values)] = na_value
            return out
    return pd.Series(values, copy=False).to_numpy(dtype=dtype, na_value=na_value)


def _filled_float(values: Any, fill: float) -> np.ndarray:
    """``Series(values).fillna(fill).to_numpy(dtype=float)`` (fast paths as :func:`to_numpy`)."""
    if isinstance(
        values, pd.arrays.IntegerArray | pd.arrays.FloatingArray | pd.arrays.BooleanArray
    ):
        return values.to_numpy(dtype=float, na_value=fill)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return np.where(np.isnan(values), fill, values)
    return pd.Series(values, copy=False).fillna(fill).to_numpy(dtype=float)
