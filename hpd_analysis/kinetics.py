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


def tgr(s_a: Any, s_b: Any, days: Any, days_per_month: float = DAYS_PER_MONTH) -> Any:
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


class _Reasons:
    """First-reason-wins builder: ``add(mask, text)`` sets the reason where none is set yet.

    ``text`` is a str, another builder (its reasons; ``not computable`` where it has none), or a
    pair ``(per-row object array or None, default str)`` for reasons carried from upstream
    columns (default where the upstream reason is missing). The rows share the reason strings
    (no per-row string objects).
    """

    def __init__(self, n: int):
        self.reasons = np.full(n, None, dtype=object)
        #: True where no reason is set (the value is defined)
        self.defined = np.ones(n, dtype=bool)

    def copy(self) -> _Reasons:
        """An independent builder with the same reasons so far."""
        out = _Reasons(0)
        out.reasons, out.defined = self.reasons.copy(), self.defined.copy()
        return out

    def add(self, mask: np.ndarray, text: Any) -> None:
        """Set ``text`` where ``mask`` and no reason is set yet."""
        idx = np.flatnonzero(mask & self.defined)
        if not len(idx):
            return
        if isinstance(text, _Reasons):
            unset = text.defined[idx]
            text = text.reasons[idx]
            if unset.any():
                text = np.where(unset, "not computable", text)
        elif isinstance(text, tuple):  # (per-row upstream reasons or None, default)
            values, default = text
            text = default if values is None else _texts(values[idx], default)
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
    pre: np.ndarray,
    on: np.ndarray,
    pre_reason: _Reasons,
    on_reason: _Reasons,
    name: str,
    policy: str,
) -> tuple[np.ndarray, _Reasons]:
    """Ratio ``on / pre`` with the ``nonpositive_pre_growth`` policy and its reasons."""
    n = len(pre)
    r = _Reasons(n)
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


def kinetic_columns(features: ColumnValues, params: Parameters | None) -> dict[str, Any]:
    """The columns :func:`compute_kinetics` adds, from column values by name."""
    params = params or Parameters()
    if params.nonpositive_pre_growth not in _NONPOSITIVE_POLICIES:
        raise ParameterError(
            f"nonpositive_pre_growth={params.nonpositive_pre_growth!r}: expected one of "
            f"{', '.join(_NONPOSITIVE_POLICIES)}"
        )
    needed = [
        "sld_prebaseline_mm",
        "sld_baseline_mm",
        "sld_first_eval_mm",
        "days_pre_to_baseline",
        "days_baseline_to_first_eval",
    ]
    missing = [c for c in needed if c not in features]
    if missing:
        raise ParameterError(f"compute_kinetics: features lack column(s) {', '.join(missing)}")
    dpm = params.days_per_month
    s_pre, s_0, s_1 = (to_numpy(features[c], float, np.nan) for c in needed[:3])
    d_pre, d_on = (
        to_numpy(features[needed[3]], float, np.nan),
        to_numpy(features[needed[4]], float, np.nan),
    )
    n = len(s_pre)

    no_pre = _missing_date(features, "prebaseline_date", "sld_prebaseline_mm")
    no_base = _missing_date(features, "baseline_date", "sld_baseline_mm")
    no_first = _missing_date(features, "first_eval_date", "sld_first_eval_mm")
    pre_reason = _reason_col(features, "prebaseline_reason", "no pre-baseline scan")
    base_reason = _reason_col(features, "baseline_reason", "no baseline scan")
    first_reason = _reason_col(features, "first_eval_reason", "no first evaluation scan")
    sld_pre_reason = _reason_col(
        features, "sld_prebaseline_reason", "pre-baseline SLD not evaluable"
    )
    sld_0_reason = _reason_col(features, "sld_baseline_reason", "baseline SLD not evaluable")
    sld_1_reason = _reason_col(
        features, "sld_first_eval_reason", "first-evaluation SLD not evaluable"
    )
    died = np.zeros(n, dtype=bool)
    if "death_day" in features:
        died = ~isna(features["death_day"])
    progressed = np.zeros(n, dtype=bool)
    if "pfs_event" in features:
        progressed = (_filled_float(features["pfs_event"], 0) == 1) & ~died

    # the first reasons of a period are the same for TGR and TGK: built once, then copied
    pre_common = _Reasons(n)
    pre_common.add(no_pre, pre_reason)
    pre_common.add(no_base, base_reason)
    pre_common.add(np.isnan(s_pre), sld_pre_reason)
    pre_common.add(np.isnan(s_0), sld_0_reason)
    on_common = _Reasons(n)
    on_common.add(no_base, base_reason)
    on_common.add(no_first & died, "death before the first evaluation scan")
    on_common.add(no_first & progressed, "clinical progression before the first evaluation scan")
    on_common.add(no_first, first_reason)
    on_common.add(np.isnan(s_0), sld_0_reason)
    on_common.add(np.isnan(s_1), sld_1_reason)

    def pre_period(r: _Reasons, relative_zero: bool, log_zero: bool) -> None:
        if log_zero or relative_zero:
            r.add(
                s_pre == 0,
                "SLD = 0 mm at pre-baseline (log of 0)"
                if log_zero
                else "SLD = 0 mm at pre-baseline (relative TGK undefined)",
            )
        if log_zero:
            r.add(s_0 == 0, "SLD = 0 mm at baseline (log of 0)")
        r.add(~(d_pre > 0), "zero or negative interval between pre-baseline and baseline scans")

    def on_period(r: _Reasons, zero_reason: str | None) -> None:
        if zero_reason:
            r.add(s_0 == 0, zero_reason)
        r.add(~(d_on > 0), "zero or negative interval between baseline and first evaluation scans")

    relative = params.tgk_mode == "relative"
    if params.tgk_mode not in ("absolute", "relative"):
        raise ParameterError(f"tgk_mode={params.tgk_mode!r}: expected 'absolute' or 'relative'")
    out: dict[str, np.ndarray] = {}
    builders: dict[str, _Reasons] = {}
    for name, fn, s_a, s_b, d, period in (
        ("tgr_pre", "tgr", s_pre, s_0, d_pre, "pre"),
        ("tgr_on", "tgr", s_0, s_1, d_on, "on"),
        ("tgk_pre", "tgk", s_pre, s_0, d_pre, "pre"),
        ("tgk_on", "tgk", s_0, s_1, d_on, "on"),
    ):
        common = pre_common if period == "pre" else on_common
        # TGK, the last of the period, takes the common reasons themselves (no copy)
        r = common if fn == "tgk" else common.copy()
        is_tgr = fn == "tgr"
        if period == "pre":
            pre_period(r, relative_zero=relative and not is_tgr, log_zero=is_tgr)
        else:
            zero = (
                "SLD = 0 mm at baseline (log of 0)"
                if is_tgr
                else "SLD = 0 mm at baseline (relative TGK undefined)"
                if relative
                else None
            )
            on_period(r, zero)
        value = tgr(s_a, s_b, d, dpm) if is_tgr else tgk(s_a, s_b, d, params.tgk_mode, dpm)
        # any value still undefined without a reason (e.g. negative SLD) gets a generic reason
        r.add(np.isnan(value), f"{name} not computable from the SLD values")
        out[name] = np.where(r.defined, value, np.nan)
        builders[name] = r

    policy = params.nonpositive_pre_growth
    for kind in ("tgr", "tgk"):
        out[f"{kind}_ratio"], builders[f"{kind}_ratio"] = _ratio(
            out[f"{kind}_pre"],
            out[f"{kind}_on"],
            builders[f"{kind}_pre"],
            builders[f"{kind}_on"],
            kind.upper(),
            policy,
        )
    floor = params.guards.pre_change_floor_pct
    if floor > 0:  # pre-treatment change within measurement error: ratios not evaluable
        with np.errstate(invalid="ignore", divide="ignore"):
            flat = np.abs(s_0 / s_pre - 1.0) * 100.0 < floor
        text = (
            f"pre-treatment SLD change within measurement error (< {floor:g} %, "
            "guards.pre_change_floor_pct): ratio not evaluable"
        )
        for kind in ("tgr", "tgk"):
            b = builders[f"{kind}_ratio"]
            b.add(flat, text)
            out[f"{kind}_ratio"] = np.where(b.defined, out[f"{kind}_ratio"], np.nan)
    r = _Reasons(n)
    r.add(np.isnan(out["tgr_pre"]), builders["tgr_pre"])
    r.add(np.isnan(out["tgr_on"]), builders["tgr_on"])
    builders["delta_tgr"] = r
    out["delta_tgr"] = out["tgr_on"] - out["tgr_pre"]
    reasons = {name: b.column(features.index) for name, b in builders.items()}

    new: dict[str, np.ndarray] = {name: out[name] for name in KINETIC_COLUMNS}
    new.update({f"{name}_reason": reasons[name] for name in KINETIC_COLUMNS})
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
