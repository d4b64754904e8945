"""Times to event (OS, PFS, TTF) in months from ``treatment_start``.

Rules (dates are the patients table's; days are counted from ``treatment_start`` and divided by
``params.days_per_month``, 30.4375 by default):

- **OS**: event at ``death_date``; otherwise censored at the last date the patient is known alive,
  the latest of ``last_contact``, ``progression_date`` and ``treatment_end`` (a patient who
  progressed or stopped treatment and has no death date was alive then).
- **PFS**: event at the earlier of ``progression_date`` and ``death_date``; otherwise censored at
  ``last_contact``.
- **TTF** (discontinuation for any reason, including death): event at the earlier of
  ``treatment_end`` and ``death_date``; otherwise (still on treatment as far as known) censored at
  ``last_contact``.

When the patients table carries times (``os_months``/``os_event`` ...), a given (non-missing) time
and event are used as they are, in preference to the dates (they are the trial's own derivation);
``death_day`` is then ``os_months * days_per_month`` when ``os_event`` is 1 and no death date is
given. A time that cannot be derived is NaN with the reason in ``<endpoint>_reason``; a date before
``treatment_start`` is not used silently: the endpoint is NaN with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .params import SECONDS_PER_DAY, Parameters

_NS = np.dtype("datetime64[ns]")

#: the endpoints' times (months from treatment start) and events (1 event, 0 censored)
ENDPOINT_TIME_EVENT_COLUMNS: tuple[str, ...] = (
    "os_months",
    "os_event",
    "pfs_months",
    "pfs_event",
    "ttf_months",
    "ttf_event",
)
ENDPOINT_COLUMNS = [
    "patient_id",
    "os_months",
    "os_event",
    "os_reason",
    "pfs_months",
    "pfs_event",
    "pfs_reason",
    "ttf_months",
    "ttf_event",
    "ttf_reason",
    "death_day",
]


def _as_datetime(values: pd.Series) -> pd.Series:
    """``values`` as datetime64 (no copy and no element-wise cache probe when already one)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values)


def _days(patients: pd.DataFrame, col: str, start: pd.Series) -> np.ndarray:
    """Days from ``treatment_start`` to the date column ``col`` (float, NaN when absent)."""
    if col not in patients.columns:
        return np.full(len(patients), np.nan)
    d = _as_datetime(patients[col])
    if d.dtype == _NS and start.dtype == _NS:  # fast path: same arithmetic on the numpy values
        delta = d.to_numpy() - start.to_numpy()
        seconds = delta.view(np.int64) / 1_000_000_000  # as TimedeltaArray.total_seconds
        seconds[np.isnat(delta)] = np.nan
        seconds /= SECONDS_PER_DAY
        return seconds
    return ((d - start).dt.total_seconds() / SECONDS_PER_DAY).to_numpy(dtype=float)


def death_days(patients: pd.DataFrame, params: Parameters | None = None) -> np.ndarray:
    """Day of death counted from ``treatment_start`` (float days; NaN when not known).

    From ``death_date``; when absent and the cohort carries times, from ``os_months`` with
    ``os_event == 1``.
    """
    params = params or Parameters()
    start = _as_datetime(patients["treatment_start"])
    return _death_days(patients, _days(patients, "death_date", start), params)


def _death_days(patients: pd.DataFrame, dd: np.ndarray, params: Parameters) -> np.ndarray:
    """:func:`death_days` from the days to ``death_date`` (``dd``)."""
    if "os_months" in patients.columns and "os_event" in patients.columns:
        ev = pd.array(patients["os_event"], dtype="Float64").fillna(0).to_numpy(dtype=float) == 1
        om = pd.to_numeric(patients["os_months"], errors="coerce").to_numpy(dtype=float)
        dd = np.where(np.isnan(dd) & ev, om * params.days_per_month, dd)
    return dd


def _nanmin2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smaller of two day counts, ignoring NaN (NaN when both are; day counts of
    :func:`_days` are never -0.0, so no signed-zero tie)."""
    return np.fmin(a, b)


def _endpoint(
    ev_days: np.ndarray,
    cens_days: np.ndarray,
    no_start: np.ndarray,
    *,
    negative_msg: str,
    missing_msg: str,
    dpm: float,
) -> tuple[np.ndarray, pd.arrays.IntegerArray, np.ndarray]:
    has_ev = ~np.isnan(ev_days)
    t = np.where(has_ev, ev_days, cens_days)
    event = has_ev.astype(np.int64)
    missing = np.isnan(t)
    neg = t < 0  # False where missing
    reason = np.full(len(t), None, dtype=object)
    reason[missing] = missing_msg
    reason[neg] = negative_msg
    reason[no_start] = "no treatment_start"
    bad = missing | neg | no_start
    months = np.where(bad, np.nan, t / dpm)
    return months, pd.arrays.IntegerArray(event, bad), reason


def derive_endpoints(patients: pd.DataFrame, params: Parameters | None = None) -> pd.DataFrame:
    """OS, PFS and TTF per patient (months, event 1 / censored 0), in ``patients`` order.

    Columns :data:`ENDPOINT_COLUMNS`: ``os_months, os_event, os_reason, pfs_months, pfs_event,
    pfs_reason, ttf_months, ttf_event, ttf_reason, death_day`` (``death_day``: days from
    treatment start, NaN when alive or unknown). Reasons are NA when the endpoint is derived.
    See the module docstring for the rules.
    """
    params = params or Parameters()
    index = pd.RangeIndex(len(patients))
    cols = {
        "patient_id": patients["patient_id"].to_numpy().copy(),
        **endpoint_columns(patients, params, index),
    }
    # fresh arrays: no consolidation copy (copy=False)
    return pd.DataFrame({c: cols[c] for c in ENDPOINT_COLUMNS}, index=index, copy=False)


def endpoint_columns(patients: pd.DataFrame, params: Parameters, index: pd.Index) -> dict[str, Any]:
    """The columns of :func:`derive_endpoints` but ``patient_id``, in order, by name (reasons
    as object Series on ``index``, the others as arrays)."""
    dpm = params.days_per_month
    start = _as_datetime(patients["treatment_start"])
    no_start = np.asarray(start.array.isna())
    death = _days(patients, "death_date", start)
    prog = _days(patients, "progression_date", start)
    last = _days(patients, "last_contact", start)
    tend = _days(patients, "treatment_end", start)

    alive = np.fmax(np.fmax(last, prog), tend)
    os_m, os_e, os_r = _endpoint(
        death,
        alive,
        no_start,
        negative_msg="death_date or last known alive date before treatment_start",
        missing_msg="no death_date or last_contact",
        dpm=dpm,
    )
    pfs_m, pfs_e, pfs_r = _endpoint(
        _nanmin2(prog, death),
        last,
        no_start,
        negative_msg="progression/death date or last_contact before treatment_start",
        missing_msg="no progression_date, death_date or last_contact",
        dpm=dpm,
    )
    ttf_m, ttf_e, ttf_r = _endpoint(
        _nanmin2(tend, death),
        last,
        no_start,
        negative_msg="treatment_end/death date or last_contact before treatment_start",
        missing_msg="no treatment_end, death_date or last_contact",
        dpm=dpm,
    )

    derived = {"os": (os_m, os_e, os_r), "pfs": (pfs_m, pfs_e, pfs_r), "ttf": (ttf_m, ttf_e, ttf_r)}
    for ep, (months, event, reason) in derived.items():
        tcol, ecol = f"{ep}_months", f"{ep}_event"
        if tcol in patients.columns and ecol in patients.columns:
            gt = pd.to_numeric(patients[tcol], errors="coerce").to_numpy(dtype=float)
            ge = pd.array(patients[ecol], dtype="Float64")
            given = ~np.isnan(gt) & ~np.asarray(ge.isna(), dtype=bool)
            bad = given & (gt < 0)
            use = given & ~bad
            months[use] = gt[use]
            event[use] = ge[use].to_numpy(dtype=float).astype(np.int64)
            reason[use] = None
            reason[np.isnan(months) & bad] = f"{tcol} negative"
    cols: dict[str, Any] = {}
    for ep, (months, event, reason) in derived.items():
        cols.update(
            {
                f"{ep}_months": months,
                f"{ep}_event": event,
                # texts or None: object column without dtype inference
                f"{ep}_reason": pd.Series(reason, index=index, dtype=object, copy=False),
            }
        )
    cols["death_day"] = _death_days(patients, death, params)
    return cols


# --------------------------------------------------------------------------------------------
# progression_date against the scans


def first_pd_dates(cohort: Any, params: Parameters | None = None) -> pd.Series:
    """Date of each patient's first on-treatment scan with RECIST 1.1 overall response PD
    (:func:`hpd_analysis.recist.recist_responses` of :func:`hpd_analysis.timepoints.scan_table`),
    indexed by ``patient_id``; patients without such a scan are absent."""
    from .recist import recist_responses
    from .timepoints import scan_table

    resp = recist_responses(scan_table(cohort, params or Parameters()))
    pd_rows = resp[resp["overall_response"].astype(object) == "PD"]
    return pd_rows.groupby("patient_id", sort=False)["assessment_date"].min()


def _pd_without_date(patients: pd.DataFrame, first_pd: pd.Series) -> pd.Series:
    """The part of ``first_pd`` (patient -> first RECIST PD date) whose patients have no
    ``progression_date`` and no given ``pfs_months``."""
    if not len(first_pd):
        return first_pd
    p = patients.drop_duplicates("patient_id").set_index("patient_id")
    missing = (
        _as_datetime(p["progression_date"]).isna()
        if "progression_date" in p.columns
        else pd.Series(True, index=p.index)
    )
    if "pfs_months" in p.columns:
        missing &= pd.to_numeric(p["pfs_months"], errors="coerce").isna()
    keep = first_pd.index.map(missing).fillna(False).astype(bool)
    return first_pd[np.asarray(keep, dtype=bool)]


def progression_warnings(cohort: Any, params: Parameters | None = None) -> list[str]:
    """Warnings of ``hpd validate`` about ``progression_date`` against the scans.

    A patient with a RECIST PD scan but no ``progression_date`` (nor a given ``pfs_months``)
    gets a PFS censored although the scans show progression (the HPD group's PFS curve would
    stay flat). Names up to 5 patients and the parameter that derives the date from the scans
    (``plausibility.progression_from_scans=true``); none when that parameter is on or the
    cohort has no measurements.
    """
    params = params or Parameters()
    if params.plausibility.progression_from_scans or not cohort.has_measurements:
        return []
    found = _pd_without_date(cohort.patients, first_pd_dates(cohort, params))
    if not len(found):
        return []
    ids = ", ".join(map(str, found.index[:5])) + (" …" if len(found) > 5 else "")
    return [
        f"{len(found)} patient(s) have a RECIST PD scan but no progression_date ({ids}): "
        "their PFS is censored; set plausibility.progression_from_scans=true to take the "
        "date of the first PD scan as the progression date, or add the dates"
    ]


def progression_from_scans(patients: pd.DataFrame, first_pd: pd.Series) -> pd.DataFrame:
    """``patients`` with ``progression_date`` set to the first RECIST PD scan (``first_pd``:
    patient -> date, :func:`first_pd_dates`) where no ``progression_date`` (nor
    ``pfs_months``) is given (``plausibility.progression_from_scans=true``); a copy."""
    found = _pd_without_date(patients, first_pd)
    out = patients.copy()
    if "progression_date" not in out.columns:
        out["progression_date"] = pd.Series(pd.NaT, index=out.index, dtype=_NS)
    if len(found):
        fill = out["patient_id"].map(found)
        out["progression_date"] = _as_datetime(out["progression_date"]).fillna(fill)
    return out
