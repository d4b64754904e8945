"""Per-patient HPD verdicts under every definition, with the reason for each verdict.

Data flow::

    cohort ─ timepoints.first_evaluation_features ─┐
           ─ endpoints.derive_endpoints ───────────┼─ build_features ─ classify_features ─ table
           ─ patients (ECOG, death cause, ...) ────┘   (+ kinetics)      (definitions)

The output has one row per input patient, in input order, never fewer: the contract columns of
``cohort-format.md`` ("per-patient classification table"), the reasons of every missing value, the
endpoints (``os_months`` ... in months), ``first_eval_months`` (landmark time, months from
treatment start to the first evaluation) and per definition ``hpd_<code>`` (nullable boolean),
``hpd_<code>_reason`` and ``hpd_<code>_status`` (``hpd`` / ``not_hpd`` / ``not_evaluable``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cohort import Cohort
from .definitions import (
    REGISTRY,
    Definition,
    evaluate_definition,
    read_yaml_config,
    resolve_definitions,
    verdict_columns,
)
from .endpoints import ENDPOINT_TIME_EVENT_COLUMNS
from .errors import HPDError, ParameterError
from .kinetics import (
    KINETIC_COLUMNS,
    SCAN_REASON_COLUMNS,
    ColumnValues,
    Reasons,
    column_values,
    isna,
    kinetic_columns,
    to_numpy,
)
from .params import NS_PER_DAY, Parameters

#: the contract's per-patient columns (cohort-format.md), in order
CONTRACT_COLUMNS = [
    "patient_id",
    "prebaseline_date",
    "baseline_date",
    "first_eval_date",
    "sld_prebaseline_mm",
    "sld_baseline_mm",
    "sld_first_eval_mm",
    "tgr_pre",
    "tgr_on",
    "tgr_ratio",
    "delta_tgr",
    "tgk_pre",
    "tgk_on",
    "tgk_ratio",
    "recist_first_eval",
]
#: why a contract value is missing
REASON_OUTPUT_COLUMNS = [
    *SCAN_REASON_COLUMNS,
    *[f"{c}_reason" for c in KINETIC_COLUMNS],
    "recist_first_eval_reason",
]
#: inputs of the built-in rules, shown so that every verdict can be checked from the table
SUPPORT_COLUMNS = [
    "treatment_start",
    "first_eval_day",
    "first_eval_months",
    "days_prebaseline_to_start",
    "sld_change_first_eval_mm",
    "sld_pct_change_first_eval",
    "non_target_pd_first_eval",
    "new_lesions_first_eval",
    "new_organs_first_eval",
    "max_new_lesions_in_involved_organ_first_eval",
    "n_organs_with_new_lesions_first_eval",
    "n_post_baseline_scans",
    "ecog_baseline",
    "ecog_first_eval",
    "ecog_delta",
    "death_day",
    "death_from_progression",
    "died_before_first_eval",
]
#: endpoint columns (months; event 1, censored 0)
ENDPOINT_OUTPUT_COLUMNS = [*ENDPOINT_TIME_EVENT_COLUMNS, "os_reason", "pfs_reason", "ttf_reason"]

#: death-cause columns read (when present) by ``death_from_progression``
DEATH_CAUSE_COLUMNS = ("death_cause", "cause_of_death")
#: a recorded cause of death matching this (case-insensitive) is death from progression ...
PROGRESSION_CAUSE_PATTERN = r"progress|\bpd\b|tumou?r|cancer|malignan"
#: ... unless a negation stands before the progression word ("non-cancer death (sepsis)", "not
#: related to the tumour", "unrelated to cancer", "no progression", "other than cancer")
NEGATED_CAUSE_PATTERN = (
    r"\b(?:non|not|no|without|unrelated(?:\s+to)?|other\s+than)\b[\s-]*"
    r"(?:\w+[\s-]+){0,3}?(?:progress|pd\b|tumou?r|cancer|malignan)"
)
#: coded ``death_from_progression`` values (patients column; case-insensitive)
_CODED_YES = {"yes", "y", "true", "1", "1.0"}
_CODED_NO = {"no", "n", "false", "0", "0.0"}

#: why death-based columns are unknown in a cohort without any death information
NO_DEATH_INFORMATION = "no death information in the cohort"

_FIRST_EVAL_COUNTS = [
    "new_lesions_first_eval",
    "new_organs_first_eval",
    "max_new_lesions_in_involved_organ_first_eval",
]


_values = column_values

_NS = np.dtype("datetime64[ns]")


def _params(params: Parameters | Mapping[str, Any] | None) -> Parameters:
    if params is None:
        return Parameters()
    if isinstance(params, Parameters):
        return params
    try:
        return Parameters.from_dict(dict(params))
    except (TypeError, ValueError) as exc:
        raise ParameterError(str(exc)) from None


def _fill_reason(values: np.ndarray, mask: np.ndarray, reason: Any) -> None:
    """Set ``reason`` (str or per-row object array) where ``mask`` and ``values`` is None."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return
    idx = idx[pd.isna(values[idx])]
    if len(idx):
        values[idx] = reason[idx] if isinstance(reason, np.ndarray) else reason


def _reason_array(df: pd.DataFrame, col: str) -> np.ndarray:
    if col in df.columns:
        return df[col].to_numpy(dtype=object, na_value=None).copy()
    return np.full(len(df), None, dtype=object)


def _reason_values(cols: ColumnValues, col: str) -> np.ndarray:
    """Reason column ``col`` as an object array, as it is (all None when absent); a source for
    :meth:`~hpd_analysis.kinetics.Reasons.add` (missing values are skipped there)."""
    if col not in cols:
        return np.full(cols.n_rows, None, dtype=object)
    v = cols[col]
    return v if isinstance(v, np.ndarray) and v.dtype == object else to_numpy(v, object, None)


def _whole_days(end: Any, start: Any) -> np.ndarray:
    """``(end - start).dt.days`` of two date columns, as float (NaN when a date is missing)."""
    if (
        isinstance(end, np.ndarray)
        and isinstance(start, np.ndarray)
        and end.dtype == _NS
        and start.dtype == _NS
    ):
        delta = end - start
        days = (delta.view(np.int64) // NS_PER_DAY).astype(float)  # floored, like Timedelta.days
        days[np.isnat(delta)] = np.nan
        return days
    return (
        (pd.Series(end, copy=False) - pd.Series(start, copy=False)).dt.days.astype(float).to_numpy()
    )


def cause_is_progression(causes: pd.Series) -> pd.Series:
    """How a recorded cause of death is read: True (progression word, not negated), False (no
    progression word, or a negated one: "non-cancer death (sepsis)"), NA (no text). Case- and
    space-insensitive; see :data:`PROGRESSION_CAUSE_PATTERN`, :data:`NEGATED_CAUSE_PATTERN`."""
    text = causes.astype("string").str.strip().str.lower()
    known = text.notna() & (text.fillna("") != "")
    prog = text.fillna("").str.contains(PROGRESSION_CAUSE_PATTERN, regex=True)
    negated = text.fillna("").str.contains(NEGATED_CAUSE_PATTERN, regex=True)
    out = pd.array((prog & ~negated).to_numpy(dtype=bool), dtype="boolean")
    out[~known.to_numpy(dtype=bool)] = pd.NA
    return pd.Series(out, index=causes.index)


def coded_flags(values: pd.Series) -> pd.arrays.BooleanArray:
    """A coded yes/no column (``yes/no``, ``true/false``, ``1/0``, booleans; any case) as a
    nullable boolean; other values and blanks are NA."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.array(values, dtype="boolean")
    text = values.astype("string").str.strip().str.lower()
    out = pd.array(np.zeros(len(values), dtype=bool), dtype="boolean")
    yes = text.isin(_CODED_YES).fillna(False).to_numpy(dtype=bool)
    no = text.isin(_CODED_NO).fillna(False).to_numpy(dtype=bool)
    out[yes] = True
    out[~yes & ~no] = pd.NA
    return out


def _death_from_progression(
    patients: pd.DataFrame, died: np.ndarray, params: Parameters
) -> pd.arrays.BooleanArray:
    """True when the patient died of progression, else False: a coded ``death_from_progression``
    column (yes/no) first, else a recorded cause of death (:func:`cause_is_progression`), else
    the parameter ``death_without_cause_is_progression``."""
    n = len(patients)
    cause_col = next((c for c in DEATH_CAUSE_COLUMNS if c in patients.columns), None)
    value = np.full(n, bool(params.death_without_cause_is_progression))
    if cause_col is not None:
        read = cause_is_progression(patients[cause_col]).array
        known = ~np.asarray(read.isna())
        value = np.where(known, read.to_numpy(dtype=bool, na_value=False), value)
    if "death_from_progression" in patients.columns:
        coded = coded_flags(patients["death_from_progression"])
        known = ~np.asarray(coded.isna())
        value = np.where(known, coded.to_numpy(dtype=bool, na_value=False), value)
    return pd.arrays.BooleanArray(value & died, np.zeros(n, dtype=bool))


def death_cause_notes(patients: pd.DataFrame) -> list[dict[str, Any]]:
    """Load-report rows saying how the death causes were read: one row per distinct recorded
    cause text (``action`` ``death_cause_read``: progression / not progression / negated), and
    one for a coded ``death_from_progression`` column (``death_from_progression_coded``)."""
    out: list[dict[str, Any]] = []
    cause_col = next((c for c in DEATH_CAUSE_COLUMNS if c in patients.columns), None)
    if cause_col is not None:
        raw = patients[cause_col].astype("string").str.strip()
        keep = raw.notna() & (raw.fillna("") != "")
        if keep.any():
            texts = raw[keep]
            read = cause_is_progression(texts).to_numpy(dtype=bool, na_value=False)
            negated = (
                texts.str.lower()
                .str.contains(NEGATED_CAUSE_PATTERN, regex=True)
                .to_numpy(dtype=bool)
            )
            table = pd.DataFrame(
                {"text": texts.to_numpy(dtype=object), "read": read, "negated": negated}
            )
            for (text, is_prog, neg), grp in table.groupby(["text", "read", "negated"], sort=True):
                how = (
                    "death from progression"
                    if is_prog
                    else "not death from progression (negated)"
                    if neg
                    else "not death from progression"
                )
                out.append(
                    {
                        "column": cause_col,
                        "action": "death_cause_read",
                        "n_rows": len(grp),
                        "detail": f"{text!r} read as {how}",
                    }
                )
    if "death_from_progression" in patients.columns:
        coded = coded_flags(patients["death_from_progression"])
        raw = patients["death_from_progression"]
        unread = np.asarray(coded.isna()) & raw.notna().to_numpy()
        out.append(
            {
                "column": "death_from_progression",
                "action": "death_from_progression_coded",
                "n_rows": int((~np.asarray(coded.isna())).sum()),
                "detail": "coded death_from_progression (yes/no) used before any cause text"
                + (
                    f"; {int(unread.sum())} value(s) not yes/no read as unknown"
                    if unread.any()
                    else ""
                ),
            }
        )
    return out


def _organs_with_new_lesions(features: pd.DataFrame, lesions: pd.DataFrame | None) -> np.ndarray:
    """Distinct organs holding a new lesion (status not ``absent``) at the first evaluation.

    Float count per patient; NaN when unknown (no lesion-level organs, or a new lesion without
    an organ); 0 with a first evaluation and no new lesion. Organ names compared ignoring case and
    surrounding spaces.
    """
    n = len(features)
    out = np.full(n, np.nan)
    if lesions is None or not len(lesions) or "organ" not in lesions.columns:
        return out
    fe_date = features["first_eval_date"].to_numpy(dtype="datetime64[ns]")
    out[~np.isnat(fe_date)] = 0.0
    # comparisons on the (categorical) columns themselves: no object copy of millions of rows
    is_new = lesions["lesion_type"].eq("new").fillna(False).to_numpy(dtype=bool)
    if "status" in lesions.columns:  # a 'new' lesion recorded absent is not a new lesion there
        is_new &= ~lesions["status"].eq("absent").fillna(False).to_numpy(dtype=bool)
    if not is_new.any():
        return out
    new = lesions.loc[is_new, ["patient_id", "assessment_date", "organ"]]
    # one hash pass over both id lists; each lesion row -> first feature row of its patient
    ids = features["patient_id"].to_numpy(dtype=object)
    codes = pd.factorize(np.concatenate([ids, new["patient_id"].to_numpy(dtype=object)]))[0]
    k = int(codes[:n].max()) + 1 if n else 0
    first = np.full(max(k, 1), -1, dtype=np.int64)
    first[codes[:n][::-1]] = np.arange(n - 1, -1, -1)
    c_new = codes[n:]
    row = np.where(c_new < k, first[np.minimum(c_new, max(k - 1, 0))], -1)
    date = new["assessment_date"].to_numpy(dtype="datetime64[ns]")
    keep = row >= 0
    # the same day (a scan is one assessment date, whatever the time of day recorded)
    keep[keep] = date[keep].astype("datetime64[D]") == fe_date[row[keep]].astype("datetime64[D]")
    if not keep.any():
        return out
    row = row[keep]
    raw_codes, raw_uniq = pd.factorize(new["organ"].to_numpy(dtype=object)[keep])
    # organ names compared case- and space-insensitively (normalise the few unique names only)
    norm_codes = pd.factorize(pd.Index(raw_uniq).astype(str).str.strip().str.lower())[0]
    no_organ = raw_codes < 0
    organ = np.where(no_organ, -1, norm_codes[np.maximum(raw_codes, 0)])
    n_org = int(organ.max()) + 2 if len(organ) else 1
    pair_key = pd.unique(row[~no_organ].astype(np.int64) * n_org + organ[~no_organ])
    counts = np.bincount(pair_key // n_org, minlength=n).astype(float)
    has = counts > 0
    out[has] = counts[has]
    out[np.unique(row[no_organ])] = np.nan  # a new lesion without an organ: count unknown
    return out


def add_rule_features(
    features: pd.DataFrame,
    patients: pd.DataFrame | None = None,
    lesions: pd.DataFrame | None = None,
    *,
    params: Parameters | None = None,
) -> pd.DataFrame:
    """Add the derived inputs the definitions read (pure; one row per input row, same order).

    Adds ``days_prebaseline_to_start`` (days), ``first_eval_months`` (months),
    ``sld_change_first_eval_reason``, ``ecog_baseline``/``ecog_first_eval`` (from ``patients``
    when absent), ``ecog_delta`` (points, first evaluation − baseline) with reasons,
    ``days_to_death`` (days from treatment start; +inf when no death is recorded in a cohort
    that records deaths; unknown, with ``days_to_death_reason``, when the cohort has no death
    information at all: no ``death_date``, ``os_event`` or ``os_months`` column),
    ``death_from_progression`` (bool), ``died_before_first_eval`` (bool: a recorded death and no
    first evaluation), ``n_organs_with_new_lesions_first_eval`` (from lesion-level
    ``lesions`` when not given) and masks the first-evaluation counts to NA when there is no
    first evaluation (a missing scan is not "0 new lesions").
    """
    return _add_rule_features(ColumnValues(features), patients, lesions, params=params).frame()


def _add_rule_features(
    f: ColumnValues,
    patients: pd.DataFrame | None,
    lesions: pd.DataFrame | None,
    *,
    params: Parameters | None,
) -> ColumnValues:
    """:func:`add_rule_features` on column values: each step adds the columns it computes."""
    params = params or Parameters()
    f = f.with_columns(_absent_scan_dates(f))
    no_fe = isna(f["first_eval_date"])
    fe = _first_eval_reasons(f, no_fe)
    f = f.with_columns({"first_eval_reason": fe.column(f.index)})
    f = f.with_columns(_scan_timing(f, params, fe_reason=fe.reasons, no_fe=no_fe))
    f = f.with_columns(_sld_change_reason(f, fe.reasons))
    f = f.with_columns(_first_eval_counts(f, no_fe))
    f = f.with_columns(_organ_count(f, lesions, fe_reason=fe.reasons, no_fe=no_fe))
    f = f.with_columns(_ecog_change(f, patients))
    return f.with_columns(_death_columns(f, patients, params, no_fe=no_fe))


def _absent_scan_dates(f: ColumnValues) -> dict[str, Any]:
    """Scan-date columns the features lack, all NaT."""
    return {
        c: np.full(f.n_rows, np.datetime64("NaT", "ns"))
        for c in ("prebaseline_date", "baseline_date", "first_eval_date")
        if c not in f
    }


def _first_eval_reasons(f: ColumnValues, no_fe: np.ndarray) -> Reasons:
    """Why there is no first evaluation: the upstream reason, else "no first evaluation scan"."""
    fe = Reasons.of(_reason_values(f, "first_eval_reason"))
    fe.add(no_fe, "no first evaluation scan")
    return fe


def _scan_timing(
    f: ColumnValues, params: Parameters, *, fe_reason: np.ndarray, no_fe: np.ndarray
) -> dict[str, Any]:
    """``first_eval_day`` (days from treatment start, when absent), ``first_eval_months``
    (months), ``days_prebaseline_to_start`` (days) and the reasons of the two day counts."""
    n = f.n_rows
    new: dict[str, Any] = {}
    if "first_eval_day" not in f and "treatment_start" in f:
        new["first_eval_day"] = _whole_days(f["first_eval_date"], f["treatment_start"])
        f = f.with_columns(new)
    if "first_eval_day" in f:
        day = f["first_eval_day"]
        if not (isinstance(day, np.ndarray) and day.dtype == np.float64):
            day = pd.Series(day, copy=False).astype(float).to_numpy()
        new["first_eval_months"] = day / params.days_per_month
    if "treatment_start" in f:
        new["days_prebaseline_to_start"] = _whole_days(f["treatment_start"], f["prebaseline_date"])
    f = f.with_columns(new)
    no_start = isna(f["treatment_start"]) if "treatment_start" in f else np.ones(n, dtype=bool)
    for day_col, scan_missing, scan_reason, what in (
        ("first_eval_day", no_fe, fe_reason, "day of the first evaluation"),
        (
            "days_prebaseline_to_start",
            isna(f["prebaseline_date"]),
            _reason_values(f, "prebaseline_reason"),
            "days from the pre-baseline scan to treatment start",
        ),
    ):
        miss = isna(f[day_col]) if day_col in f else np.ones(n, dtype=bool)
        new[f"{day_col}_reason"] = _day_count_reason(
            miss, scan_missing=scan_missing, scan_reason=scan_reason, no_start=no_start, what=what
        ).column(f.index)
    return new


def _day_count_reason(
    miss: np.ndarray,
    *,
    scan_missing: np.ndarray,
    scan_reason: np.ndarray,
    no_start: np.ndarray,
    what: str,
) -> Reasons:
    """Why a day count from treatment start is missing (``miss``): the scan's own reason, a
    missing scan, a missing treatment start, else unknown."""
    r = Reasons(len(miss))
    if miss.any():
        r.add(miss & scan_missing, scan_reason)
        r.add(miss & scan_missing, "scan not found")
        r.add(miss & no_start, f"no treatment_start: {what} unknown")
        r.add(miss, f"{what} unknown")
    return r


def _sld_change_reason(f: ColumnValues, fe_reason: np.ndarray) -> dict[str, Any]:
    """``sld_change_first_eval_reason``: why the SLD change at the first evaluation is missing
    (a scan, an SLD, SLD = 0 mm at baseline); nothing when the change is not a feature."""
    if "sld_pct_change_first_eval" not in f:
        return {}
    r = Reasons(f.n_rows)
    miss = isna(f["sld_pct_change_first_eval"])
    if miss.any():
        if "baseline_reason" in f:
            r.add(miss, _reason_values(f, "baseline_reason"))
        r.add(miss, fe_reason)
        for src in ("sld_baseline_reason", "sld_first_eval_reason"):
            if src in f:
                r.add(miss, _reason_values(f, src))
        if "sld_baseline_mm" in f:
            r.add(
                miss & (to_numpy(f["sld_baseline_mm"], float) == 0),
                "SLD = 0 mm at baseline (percent change undefined)",
            )
        r.add(miss, "SLD change at first evaluation not computable")
    return {"sld_change_first_eval_reason": r.column(f.index)}


def _first_eval_counts(f: ColumnValues, no_fe: np.ndarray) -> dict[str, Any]:
    """The new-lesion counts at the first evaluation as nullable integers, NA without a first
    evaluation (a missing scan is not "0 new lesions")."""
    new: dict[str, Any] = {}
    for c in _FIRST_EVAL_COUNTS:
        if c in f:
            v = f[c]
            if isinstance(v, pd.arrays.IntegerArray):  # the common case: no float round trip
                miss = np.asarray(v.isna()) | no_fe
                new[c] = pd.arrays.IntegerArray(
                    np.where(miss, 0, v.to_numpy(dtype=np.int64, na_value=0)), miss
                )
            else:
                x = to_numpy(v, float, np.nan)
                miss = np.isnan(x) | no_fe
                new[c] = pd.arrays.IntegerArray(np.where(miss, 0, x).astype(np.int64), miss)
    return new


def _organ_count(
    f: ColumnValues, lesions: pd.DataFrame | None, *, fe_reason: np.ndarray, no_fe: np.ndarray
) -> dict[str, Any]:
    """``n_organs_with_new_lesions_first_eval`` (given, else counted from ``lesions``; 0 when
    there is no new lesion) and its reason when unknown."""
    if "n_organs_with_new_lesions_first_eval" in f:
        cnt = to_numpy(f["n_organs_with_new_lesions_first_eval"], float, np.nan)
    else:
        cnt = _organs_with_new_lesions(
            pd.DataFrame({"patient_id": f["patient_id"], "first_eval_date": f["first_eval_date"]}),
            lesions,
        )
    if "new_lesions_first_eval" in f:  # no new lesion at all -> 0 organs, whatever the format
        zero_new = to_numpy(f["new_lesions_first_eval"], float, np.nan) == 0
        cnt = np.where(np.isnan(cnt) & zero_new, 0.0, cnt)
    r = Reasons(f.n_rows)
    miss = np.isnan(cnt)
    r.add(miss & no_fe, fe_reason)
    r.add(miss, "organs of new lesions unknown (no lesion-level organ data)")
    return {
        "n_organs_with_new_lesions_first_eval": cnt,
        "n_organs_with_new_lesions_first_eval_reason": r.column(f.index),
    }


def _ecog_change(f: ColumnValues, patients: pd.DataFrame | None) -> dict[str, Any]:
    """``ecog_baseline``/``ecog_first_eval`` (from ``patients`` when absent), ``ecog_delta``
    (points, first evaluation − baseline) and the reasons of the three (the baseline first)."""
    n = f.n_rows
    new: dict[str, Any] = {}
    for c in ("ecog_baseline", "ecog_first_eval"):
        if c not in f:
            if patients is not None and c in patients.columns:
                new[c] = pd.array(patients[c].to_numpy(), dtype="Int64")
            else:
                new[c] = pd.array(np.full(n, np.nan), dtype="Int64")
    f = f.with_columns(new)
    eb = to_numpy(f["ecog_baseline"], float, np.nan)
    ef = to_numpy(f["ecog_first_eval"], float, np.nan)
    delta = np.where(np.isnan(eb) | np.isnan(ef), np.nan, ef - eb)
    new["ecog_delta"] = pd.arrays.FloatingArray(delta, np.isnan(delta))
    eb_missing = (np.isnan(eb), "ECOG at baseline not recorded")
    ef_missing = (np.isnan(ef), "ECOG at first evaluation not recorded")
    for name, sources in (
        ("ecog_baseline", [eb_missing]),
        ("ecog_first_eval", [ef_missing]),
        ("ecog_delta", [eb_missing, ef_missing]),
    ):
        r = Reasons(n)
        for mask, text in sources:
            r.add(mask, text)
        new[f"{name}_reason"] = r.column(f.index)
    return new


def _where_reason(mask: np.ndarray, reason: str) -> np.ndarray:
    """Object array: ``reason`` where ``mask``, None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = reason
    return out


def _death_columns(
    f: ColumnValues, patients: pd.DataFrame | None, params: Parameters, *, no_fe: np.ndarray
) -> dict[str, Any]:
    """``death_day``, ``days_to_death`` (+inf without a recorded death; unknown, with a reason,
    in a cohort with no death information), ``death_from_progression``,
    ``n_post_baseline_scans`` (when absent) and ``died_before_first_eval``."""
    n = f.n_rows
    dd = to_numpy(f["death_day"], float, np.nan) if "death_day" in f else np.full(n, np.nan)
    no_death = np.isnan(dd)
    new: dict[str, Any] = {"death_day": dd}
    records_deaths = patients is None or any(
        c in patients.columns for c in ("death_date", "os_event", "os_months")
    )
    if records_deaths:
        new["days_to_death"] = np.where(no_death, np.inf, dd)
    else:
        new["days_to_death"] = dd
        new["days_to_death_reason"] = _where_reason(no_death, NO_DEATH_INFORMATION)
    if "death_from_progression" not in f or (
        patients is not None and "death_from_progression" in patients.columns
    ):
        pts = patients if patients is not None else pd.DataFrame(index=range(n))
        dfp = _death_from_progression(pts, ~no_death, params)
        if not records_deaths:  # no death information at all: unknown, not "no"
            dfp[no_death] = pd.NA
            new["death_from_progression_reason"] = _where_reason(no_death, NO_DEATH_INFORMATION)
        new["death_from_progression"] = dfp
    if "n_post_baseline_scans" not in f:
        new["n_post_baseline_scans"] = np.where(no_fe, 0, 1)
    # an outcome of its own in attrition and incidence (not just "not evaluable")
    new["died_before_first_eval"] = no_fe & ~no_death
    return new


def _same_patients(features: pd.DataFrame, patients: pd.DataFrame) -> bool:
    """True when ``features`` has the rows of ``patients``, in order (same patient ids)."""
    return len(features) == len(patients) and np.array_equal(
        features["patient_id"].to_numpy(dtype=object), patients["patient_id"].to_numpy(dtype=object)
    )


def _align_features(
    features: pd.DataFrame, patients: pd.DataFrame, same: bool | None = None
) -> pd.DataFrame:
    """Rows of ``features`` in ``patients`` order, one per patient (missing ones added, flagged).

    ``same``: :func:`_same_patients` of the two when known."""
    ids = patients["patient_id"].to_numpy(dtype=object)
    fid = features["patient_id"].to_numpy(dtype=object)
    if same is None:
        same = _same_patients(features, patients)
    if same:
        if (
            isinstance(features.index, pd.RangeIndex)
            and features.index.start == 0
            and features.index.step == 1
        ):
            return features
        return features.set_axis(pd.RangeIndex(len(features)), axis=0)
    if features["patient_id"].duplicated().any():
        raise HPDError(
            "first_evaluation_features returned a patient twice (expected one row per patient)"
        )
    out = features.set_index("patient_id").reindex(pd.Index(ids, name="patient_id"))
    out = out.reset_index()
    lost = ~pd.Index(ids).isin(pd.Index(fid))
    if lost.any():
        for c in ("prebaseline_reason", "baseline_reason", "first_eval_reason"):
            vals = _reason_array(out, c)
            _fill_reason(vals, lost, "no scans for this patient")
            out[c] = vals
    return out


def build_features(
    cohort: Cohort, params: Parameters | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Every per-patient input of the definitions, one row per patient in ``cohort.patients`` order.

    First-evaluation features (scans, SLD in mm, RECIST; :mod:`hpd_analysis.timepoints`) + the
    endpoints (months; :mod:`hpd_analysis.endpoints`) + rule features (:func:`add_rule_features`)
    + kinetics (TGR %/month, TGK mm/month; :func:`hpd_analysis.kinetics.compute_kinetics`) + the
    patients' own columns (for user definitions on risk factors).
    """
    return feature_values(cohort, params).frame()


def feature_values(cohort: Cohort, params: Parameters | Mapping[str, Any] | None) -> ColumnValues:
    """The columns of :func:`build_features`, read as values (the DataFrame not built yet)."""
    from .endpoints import endpoint_columns
    from .timepoints import first_evaluation_features_with_extras

    params = _params(params)
    patients = cohort.patients
    if not (isinstance(patients.index, pd.RangeIndex) and patients.index.start == 0):
        patients = patients.reset_index(drop=True)
    feats, extra = first_evaluation_features_with_extras(cohort, params)
    same_rows = _same_patients(feats, patients)
    feats = _align_features(feats, patients, same_rows)
    if params.plausibility.progression_from_scans:  # PFS from the first RECIST PD scan
        from .endpoints import first_pd_dates, progression_from_scans

        patients = progression_from_scans(patients, first_pd_dates(cohort, params))
    # the endpoint columns (derive_endpoints but patient_id) as they are: no DataFrame
    new: dict[str, Any] = endpoint_columns(patients, params, feats.index)
    new.update(
        {
            c: _values(patients[c])
            for c in patients.columns
            if c not in feats.columns and c not in new
        }
    )
    organs = "n_organs_with_new_lesions_first_eval"
    if same_rows and organs in extra and organs not in new and organs not in feats.columns:
        # counted from the lesion rows by timepoints already (else add_rule_features counts them)
        new[organs] = extra[organs]
    # the stages add columns to arrays; the DataFrame is built once at the end
    cols = ColumnValues(feats, new)
    if not cohort.has_measurements and "n_post_baseline_scans" in cols:
        # no imaging data at all: "no post-baseline scan" is unknown, not zero
        cols = cols.with_columns(
            {
                "n_post_baseline_scans": pd.array(np.full(len(feats), np.nan), dtype="Int64"),
                "n_post_baseline_scans_reason": np.full(
                    len(feats), "no tumour measurements in the cohort", dtype=object
                ),
            }
        )
    cols = _add_rule_features(cols, patients, cohort.lesions, params=params)
    return cols.with_columns(kinetic_columns(cols, params))


def classify_features(
    features: pd.DataFrame,
    definitions: str | Definition | Iterable[str | Definition] | None = None,
) -> pd.DataFrame:
    """Classification table from a feature table (see :func:`build_features`).

    One row per feature row, same order: contract columns, reasons, supporting features,
    endpoints, then ``hpd_<code>``, ``hpd_<code>_reason``, ``hpd_<code>_status`` per definition.
    Contract columns absent from ``features`` are added empty.
    """
    cols = ColumnValues(features)
    return _classification_table(
        cols,
        cols.__getitem__,
        features,
        index=pd.RangeIndex(len(features)),
        defs=resolve_definitions(definitions),
    )


def _classification_table(
    values: ColumnValues,
    read: Callable[[str], Any],
    features: pd.DataFrame | FeatureView,
    *,
    index: pd.Index,
    defs: list[Definition],
) -> pd.DataFrame:
    """:func:`classify_features` with the feature columns read by ``read`` from ``values`` (the
    columns of ``features``, e.g. the :class:`ColumnValues` it was built from) as arrays, or as
    Series on ``index`` (the index of the table); the definitions read ``features``."""
    n = len(features)
    cols: dict[str, Any] = {}
    for c in CONTRACT_COLUMNS:
        if c in values:
            cols[c] = read(c)
        elif c in ("patient_id", "recist_first_eval"):
            cols[c] = np.full(n, None, dtype=object)
        else:
            cols[c] = np.full(n, np.nan)
    for c in REASON_OUTPUT_COLUMNS + SUPPORT_COLUMNS + ENDPOINT_OUTPUT_COLUMNS:
        if c in values and c not in cols:
            cols[c] = read(c)
    cols.update(verdict_columns(features, defs))
    # arrays go to the constructor as they are (same dtype inference as ``pd.Series(v)``)
    return pd.DataFrame(cols, index=index, copy=False)


def classify_table(
    cohort: Cohort,
    definitions: str | Definition | Iterable[str | Definition] | None = None,
    params: Parameters | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Classify every patient of ``cohort`` under ``definitions`` (default: the whole registry).

    One row per input patient, in input order, never fewer; see the module docstring for the
    columns (TGR in % per month, TGK in mm per month, SLD in mm, times in months). With
    ``uncertainty.rereads`` = N > 0 also ``hpd_<code>_prob`` per definition: the share of N seeded
    re-reads in which the patient is HPD (:mod:`hpd_analysis.uncertainty`).
    """
    params = _params(params)
    values = feature_values(cohort, params)
    defs = resolve_definitions(definitions)
    features = FeatureView(values)  # what the definitions read, without building the table
    index = values.index
    if (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    ):
        # the table's columns as the features were built from them (not read back): the Series
        # (on this index) of the texts and reasons built as object columns, without dtype
        # inference of those again
        table = _classification_table(values, values.held, features, index=index, defs=defs)
    else:
        table = _classification_table(
            values, values.__getitem__, features, index=pd.RangeIndex(len(features)), defs=defs
        )
    if params.rules.irecist:  # iRECIST course after the first evaluation (off by default)
        course = irecist_course(cohort, params)
        table = pd.concat([table, course.drop(columns="patient_id").set_axis(table.index)], axis=1)
    if params.uncertainty.rereads:  # measurement uncertainty: hpd_<code>_prob (off by default)
        from .uncertainty import reread_probabilities, simulate_rereads

        probs = reread_probabilities(simulate_rereads(cohort, defs, params, features=values))
        table = pd.concat([table, probs.set_axis(table.index)], axis=1)
    return table


class FeatureView:
    """The feature table as :func:`hpd_analysis.definitions.verdict_columns` reads it (its
    length, ``columns`` and ``[name]`` as the Series the table would hold), over the column
    values: :func:`classify` never builds the table of :func:`build_features`."""

    def __init__(self, values: ColumnValues):
        self._values = values
        self.columns = values  # supports ``name in view.columns``
        self.index = values.index

    def __len__(self) -> int:
        return self._values.n_rows

    def __getitem__(self, name: str) -> pd.Series:
        return self._values.series(name)


def threshold_sweep(
    features: pd.DataFrame,
    definition: str | Definition,
    parameter: str,
    *,
    values: Sequence[float] | np.ndarray,
) -> pd.DataFrame:
    """How many patients are HPD as one parameter of a definition varies.

    ``features`` from :func:`build_features`; returns one row per value with ``definition,
    parameter, value, n_hpd, n_evaluable, n_total, percent`` (``percent`` = 100 · n_hpd /
    n_evaluable, NaN when none is evaluable). E.g. the TGR ratio of ``champiat2017`` from 1.5 to 4.
    """
    defn = resolve_definitions(definition)[0]
    if parameter not in defn.parameters:
        raise ParameterError(
            f"definition {defn.code}: unknown parameter {parameter!r} "
            f"(valid: {', '.join(sorted(defn.parameters))})"
        )
    rows = []
    col = f"hpd_{defn.code}"
    for v in values:
        value = v.item() if isinstance(v, np.generic) else v
        res = evaluate_definition(features, defn.with_parameters(**{parameter: value}))[col]
        rows.append(
            {"definition": defn.code, "parameter": parameter, "value": value, **hpd_counts(res)}
        )
    return pd.DataFrame(rows, columns=["definition", "parameter", "value", *HPD_COUNT_COLUMNS])


#: the counts of :func:`hpd_counts`, in the column order of the sweep tables
HPD_COUNT_COLUMNS = ["n_hpd", "n_evaluable", "n_total", "percent"]


def hpd_counts(verdicts: Any) -> dict[str, Any]:
    """Patients HPD (``n_hpd``), evaluable (``n_evaluable``, verdict not NA) and in all
    (``n_total``) of one ``hpd_<code>`` verdict column (nullable boolean Series or array), and
    ``percent`` = 100 · n_hpd / n_evaluable (NaN when none is evaluable)."""
    n_eval = int((~isna(verdicts)).sum())
    n_hpd = int(to_numpy(verdicts, bool, False).sum())
    return {
        "n_hpd": n_hpd,
        "n_evaluable": n_eval,
        "n_total": len(verdicts),
        "percent": 100.0 * n_hpd / n_eval if n_eval else np.nan,
    }


# ---------------------------------------------------------------------------------------------
# file edge: classify_path
# ---------------------------------------------------------------------------------------------

#: decimals kept in CSV outputs (values rounded, then written in shortest form: byte-identical)
CSV_DECIMALS = 6


def split_overrides(
    overrides: Mapping[str, Any] | None, definition_codes: Iterable[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Split ``KEY=VALUE`` overrides into Parameters keys and ``<definition>.<param>`` ones."""
    codes = set(definition_codes)
    params: dict[str, Any] = {}
    per_def: dict[str, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        head, _, tail = str(key).partition(".")
        if tail and head in codes:
            per_def.setdefault(head, {})[tail] = value
        else:
            params[str(key)] = value
    return params, per_def


def _arrow_table(table: pd.DataFrame) -> Any:
    """Arrow table for CSV: floats rounded to :data:`CSV_DECIMALS`, dates as ISO dates."""
    import pyarrow as pa

    arrays, names = [], []
    for c in table.columns:
        s = table[c]
        dt = s.dtype
        if pd.api.types.is_datetime64_any_dtype(dt):
            day = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
            arr = pa.array(day, type=pa.date32(), mask=np.isnat(day))
        elif pd.api.types.is_float_dtype(dt):
            x = np.round(s.to_numpy(dtype=float, na_value=np.nan), CSV_DECIMALS)
            arr = pa.array(x, mask=np.isnan(x))
        elif pd.api.types.is_bool_dtype(dt) or pd.api.types.is_integer_dtype(dt):
            arr = pa.array(s.array, from_pandas=True)
        else:
            vals = s.to_numpy(dtype=object, na_value=None)
            try:
                arr = pa.array(vals, type=pa.string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array(
                    [None if v is None or v is pd.NA else str(v) for v in vals], type=pa.string()
                )
        arrays.append(arr)
        names.append(str(c))
    return pa.Table.from_arrays(arrays, names=names)


def write_classification(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the classification ``table`` as CSV, gzip CSV or Parquet by extension;
    byte-identical on rerun (report tables: :func:`hpd_analysis.report.write_table`).

    CSV (UTF-8): numbers rounded to 6 decimals, dates ISO ``YYYY-MM-DD``, booleans
    ``true``/``false``, missing values empty, text quoted; ``.csv.gz`` without a timestamp.
    """
    import pyarrow.csv as pacsv

    from .load import table_output_path

    out = table_output_path(out)
    name = out.name.lower()
    if name.endswith(".parquet"):
        table.to_parquet(out, index=False)
        return out
    from .privacy import neutralize_formulas  # no cell a spreadsheet would run as a formula

    atable = _arrow_table(neutralize_formulas(table))
    if name.endswith(".gz"):
        import gzip
        import io

        buf = io.BytesIO()
        pacsv.write_csv(atable, buf)
        with (
            open(out, "wb") as fh,
            gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(buf.getvalue())
    else:
        pacsv.write_csv(atable, str(out))
    return out


def classify_path(
    cohort_path: str | Path,
    out: str | Path,
    definitions: Sequence[str] | None = None,
    *,
    config: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Load a cohort, classify it and write the table (the ``hpd classify`` command).

    ``config``: YAML with ``parameters:`` (Parameters keys or ``<definition>.<param>``) and/or
    ``definitions:`` (user definitions); ``overrides`` (``--set KEY=VALUE``) win over the config.
    ``definitions``: codes to apply (default: every registered one plus the config's).
    Returns the output path.
    """
    from .load import check_output, input_paths, load_cohort

    # never over or into the cohort (or the config): checked before anything is read
    check_output(out, input_paths(cohort_path) + input_paths(config), folder=False)
    cfg_params: dict[str, Any] = {}
    user_defs: list[Definition] = []
    if config is not None:
        cfg_params, user_defs = read_yaml_config(config)
    clash = [d.code for d in user_defs if d.code in REGISTRY]
    if clash:
        raise ParameterError(
            f"{config}: definition code(s) {', '.join(clash)} already exist "
            "in the registry; choose another name"
        )
    pool: dict[str, Definition] = {**REGISTRY, **{d.code: d for d in user_defs}}
    param_over, def_over = split_overrides({**cfg_params, **dict(overrides or {})}, pool)
    params = _params(param_over)
    if definitions:
        unknown = [c for c in definitions if c not in pool]
        if unknown:
            raise ParameterError(
                f"unknown definition(s): {', '.join(unknown)} (valid: {', '.join(pool)})"
            )
        chosen = {c: pool[c] for c in definitions}
    else:
        chosen = dict(pool)
    for code, vals in def_over.items():
        fixed = pool[code].with_parameters(**vals)
        if code in chosen:
            chosen[code] = fixed
    cohort = load_cohort(cohort_path, params=params)
    table = classify_table(cohort, list(chosen.values()), params)
    return write_classification(table, out)


# ---------------------------------------------------------------------------------------------
# reference-period guards and window sensitivity
# ---------------------------------------------------------------------------------------------

#: the reference-period guards: (name, parameter, value that turns the guard off)
GUARDS: tuple[tuple[str, str, Any], ...] = (
    ("minimum pre-baseline interval", "windows.prebaseline_min_days_before_baseline", 1),
    ("noise floor on the pre-treatment change", "guards.pre_change_floor_pct", 0.0),
)


def _with_setting(params: Parameters, key: str, value: Any) -> Parameters:
    """``params`` with one cohort-wide parameter (``group.key`` or a plain name) set."""
    return _params({**params.to_dict(), key: value})


def _verdict_codes(
    cohort: Cohort, defs: list[Definition], params: Parameters
) -> dict[str, np.ndarray]:
    """Verdict codes (1 HPD, 0 not HPD, -1 not evaluable) of every definition."""
    values = feature_values(cohort, params)
    res = verdict_columns(FeatureView(values), defs)
    out = {}
    for d in defs:
        v = res[f"hpd_{d.code}"]
        out[d.code] = np.where(
            np.asarray(v.isna()), -1, v.to_numpy(dtype=bool, na_value=False).astype(np.int8)
        )
    return out


def guard_effects(
    cohort: Cohort,
    definitions: str | Definition | Iterable[str | Definition] | None = None,
    params: Parameters | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """How many verdicts each reference-period guard (:data:`GUARDS`) changes.

    For each guard and definition: the verdicts with every parameter in force compared with the
    same parameters but that guard off. Columns ``guard, parameter, value, off_value,
    definition, n_changed, hpd_to_not_evaluable, not_hpd_to_not_evaluable, other_changes,
    n_hpd, n_hpd_without_guard, n_evaluable, n_evaluable_without_guard``.
    """
    params = _params(params)
    defs = resolve_definitions(definitions)
    now = _verdict_codes(cohort, defs, params)
    flat = params.to_dict()
    rows = []
    for name, key, off in GUARDS:
        before = _verdict_codes(cohort, defs, _with_setting(params, key, off))
        for d in defs:
            a, b = now[d.code], before[d.code]
            changed = a != b
            h2n = int(((b == 1) & (a == -1)).sum())
            n2n = int(((b == 0) & (a == -1)).sum())
            rows.append(
                {
                    "guard": name,
                    "parameter": key,
                    "value": flat[key],
                    "off_value": off,
                    "definition": d.code,
                    "n_changed": int(changed.sum()),
                    "hpd_to_not_evaluable": h2n,
                    "not_hpd_to_not_evaluable": n2n,
                    "other_changes": int(changed.sum()) - h2n - n2n,
                    "n_hpd": int((a == 1).sum()),
                    "n_hpd_without_guard": int((b == 1).sum()),
                    "n_evaluable": int((a >= 0).sum()),
                    "n_evaluable_without_guard": int((b >= 0).sum()),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "guard",
            "parameter",
            "value",
            "off_value",
            "definition",
            "n_changed",
            "hpd_to_not_evaluable",
            "not_hpd_to_not_evaluable",
            "other_changes",
            "n_hpd",
            "n_hpd_without_guard",
            "n_evaluable",
            "n_evaluable_without_guard",
        ],
    )


#: the window sweep: (parameter, values, published value); ``<definition>.<param>`` parameters
#: move that definition only, ``windows.*`` every definition
WINDOW_SWEEP: tuple[tuple[str, tuple[Any, ...], Any], ...] = (
    # Gandara (OAK): "first assessment within 6 weeks"; a 6-week schedule with a +-7-day visit
    # window puts scans at up to 49 days
    ("gandara2018_fp.first_assessment_max_days", (35, 42, 49, 56, 63), 42),
    # Matos 2020: PD "within 8 weeks"
    ("matos2020.first_eval_max_days", (42, 49, 56, 63, 70), 56),
    # the cohort-wide latest first-evaluation day (none: no limit)
    ("windows.first_eval_max_days", (42, 56, 70, 84, 112, None), None),
    # the 183-day (6-month) look-back for the pre-baseline scan
    ("windows.prebaseline_max_days_before_baseline", (60, 90, 120, 183, 270, 365), 183),
    # the minimum pre-baseline interval (guard; no source states one: 28 days by default, see
    # params.Windows; 1 = a distinct date only, the former default)
    ("windows.prebaseline_min_days_before_baseline", (1, 7, 14, 28, 42, 56), None),
)


def window_sweep(
    cohort: Cohort,
    definitions: str | Definition | Iterable[str | Definition] | None = None,
    params: Parameters | Mapping[str, Any] | None = None,
    *,
    grid: Sequence[tuple[str, Sequence[Any], Any]] = WINDOW_SWEEP,
) -> pd.DataFrame:
    """HPD incidence per definition as each time window varies (the threshold sweep's
    companion for the windows; days).

    ``grid``: ``(parameter, values, published value)``; a ``<definition>.<param>`` parameter
    moves that definition only, a cohort-wide one (``windows.*``) rebuilds the time points and
    moves every definition; the other parameters stay as in force. Columns ``parameter, value,
    published, in_force, definition, n_hpd, n_evaluable, n_total, percent`` (``percent`` =
    100 · n_hpd / n_evaluable; ``value`` NaN = no limit; ``published`` marks the source's value,
    none for the minimum pre-baseline interval, which no source states; ``in_force`` the value of
    the run's parameters).
    """
    params = _params(params)
    defs = resolve_definitions(definitions)
    by_code = {d.code: d for d in defs}
    flat = params.to_dict()
    rows = []
    base_values = None
    for key, values, published in grid:
        head, _, tail = key.partition(".")
        for value in values:
            if head in by_code:
                if base_values is None:
                    base_values = feature_values(cohort, params)
                d = by_code[head].with_parameters(**{tail: value})
                v = verdict_columns(FeatureView(base_values), [d])[f"hpd_{d.code}"]
                res = {d.code: v}
                in_force = by_code[head].parameters.get(tail)
            elif key in flat:
                values_p = feature_values(cohort, _with_setting(params, key, value))
                res = verdict_columns(FeatureView(values_p), defs)
                res = {d.code: res[f"hpd_{d.code}"] for d in defs}
                in_force = flat[key]
            else:
                continue  # a definition not in this run
            for code, v in res.items():
                rows.append(
                    {
                        "parameter": key,
                        "value": value,
                        "published": value == published,
                        "in_force": value == in_force,
                        "definition": code,
                        **hpd_counts(v),
                    }
                )
    return pd.DataFrame(
        rows,
        columns=["parameter", "value", "published", "in_force", "definition", *HPD_COUNT_COLUMNS],
    )


# ---------------------------------------------------------------------------------------------
# iRECIST course after the first evaluation (pseudoprogression)
# ---------------------------------------------------------------------------------------------

#: values of ``irecist_course``
IRECIST_COURSES = ("no iUPD", "iCPD", "pseudoprogression", "unconfirmed")
IRECIST_COLUMNS = [
    "patient_id",
    "irecist_course",
    "pseudoprogression",
    "iupd_day",
    "later_response",
    "irecist_reason",
]


def irecist_course(
    cohort: Cohort, params: Parameters | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The iRECIST course of every patient from the first evaluation on (Seymour et al., Lancet
    Oncol 2017; :func:`hpd_analysis.recist.irecist` on the on-treatment scans).

    One row per patient (``cohort.patients`` order): ``irecist_course`` — ``no iUPD`` (no RECIST
    progression), ``iCPD`` (progression confirmed 4–8 weeks later), ``pseudoprogression`` (not
    confirmed, and a later scan reads SD, PR, CR or non-CR/non-PD), ``unconfirmed`` (iUPD with no
    confirmatory scan, or not confirmed without a later response); ``pseudoprogression`` (bool);
    ``iupd_day`` (days from treatment start); ``later_response`` (bool: a scan after the first
    evaluation reads PR or CR); ``irecist_reason``.
    """
    from .recist import irecist, recist_responses
    from .timepoints import scan_table

    params = _params(params)
    ids = cohort.patients["patient_id"]
    n = len(ids)
    if not cohort.has_measurements:
        return pd.DataFrame(
            {
                "patient_id": ids.to_numpy(),
                "irecist_course": "no iUPD",
                "pseudoprogression": np.zeros(n, dtype=bool),
                "iupd_day": np.full(n, np.nan),
                "later_response": np.zeros(n, dtype=bool),
                "irecist_reason": "no tumour measurements",
            },
            columns=IRECIST_COLUMNS,
        )
    resp = recist_responses(scan_table(cohort, params))
    ir = irecist(resp, patient_ids=ids).set_index("patient_id").reindex(ids.to_numpy())
    icpd = np.asarray(pd.array(ir["icpd"], dtype="boolean").fillna(False), dtype=bool)
    pseudo = ir["pseudoprogression"].fillna(False).to_numpy(dtype=bool)
    has_iupd = ir["iupd_day"].notna().to_numpy()
    course = np.where(
        ~has_iupd,
        "no iUPD",
        np.where(icpd, "iCPD", np.where(pseudo, "pseudoprogression", "unconfirmed")),
    ).astype(object)
    later = resp["overall_response"].isin(["PR", "CR"]) & ~resp["is_first_eval"].astype(bool)
    responders = pd.Index(resp.loc[later.to_numpy(dtype=bool), "patient_id"].unique())
    return pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "irecist_course": course,
            "pseudoprogression": pseudo,
            "iupd_day": pd.to_numeric(ir["iupd_day"], errors="coerce").to_numpy(dtype=float),
            "later_response": ids.isin(responders).to_numpy(dtype=bool),
            "irecist_reason": ir["irecist_reason"].to_numpy(dtype=object),
        },
        columns=IRECIST_COLUMNS,
    )
