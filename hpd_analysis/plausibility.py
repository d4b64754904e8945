"""Plausibility of a loaded cohort (``params.plausibility``,
:class:`~hpd_analysis.params.Plausibility`): the impossible (a 1e308 mm lesion, a death after the
data cut-off, a scan after death) is a problem; the implausible (diameters that look like
centimetres, more than 10 targets on a scan, a scan years before treatment, ids that differ only
in case or leading zeros) is a load-report row of action ``warning`` naming the rows and the
parameter that accepts it.

Checks run on the canonical tables, after every cell was parsed; dates are compared as int64
nanoseconds, and rows sorted by patient look their patient up once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import SCAN_DATES, SCAN_SLD
from .objectcodes import object_addresses, object_array
from .params import NS_PER_DAY, Parameters, Plausibility
from .validate import Collector, flag_date_after, iso_dates, shown_numbers, value_message

# --------------------------------------------------------------------------------------------
# near-duplicate identifiers


def id_key(values: pd.Series) -> pd.Series:
    """Comparison key of identifiers: case folded, leading zeros of every number dropped
    (``P0002``, ``p0002`` and ``P2`` share a key; so do ``0012`` and ``12``)."""
    return values.astype(str).str.casefold().str.replace(r"(?<!\d)0+(?=\d)", "", regex=True)


def near_id_hint(ids: pd.Series) -> Callable[[object], str]:
    """Message suffix for an unknown id that matches a known one but for case or leading
    zeros (``'12'`` vs ``'0012'``); built lazily, on the first call."""
    cache: dict[str, str] = {}

    def hint(value: object) -> str:
        if not cache:
            known = ids.dropna().astype(str)
            cache.update(dict(zip(id_key(known), known, strict=True)))
            cache.setdefault("\x00", "")
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        key = id_key(pd.Series([str(value).strip()])).iloc[0]
        near = cache.get(key)
        return (
            (
                f" (patients has {near!r}: the case or leading zeros differ; ids are compared "
                "exactly)"
            )
            if near
            else ""
        )

    return hint


def _same_shape(ids: pd.Series) -> bool:
    """True when every id has one length and its digits at the same positions (``P00001``
    ... ``P30000``): checked on a fixed-width code-point array, without Python loops.

    (NumPy drops trailing NUL characters: an id ending in one reads shorter than the array's
    width, so the answer is False, which only sends the caller to its exact check.)"""
    if not len(ids):
        return False
    text = np.array(ids.tolist(), dtype=str)  # fixed width: the longest id
    lengths = np.char.str_len(text)
    if bool((lengths != lengths[0]).any()):
        return False
    width = int(lengths[0])
    if width == 0:
        return True
    if text.dtype.itemsize != 4 * width:  # an id ending in NUL
        return False
    cps = text.view(np.uint32).reshape(len(ids), width)
    digit = (cps >= 48) & (cps <= 57)
    return bool((digit == digit[0]).all())


def near_duplicate_ids(pts: pd.DataFrame, label: str, col: Collector) -> None:
    """Warning naming patient ids that differ only in case or leading zeros, with their rows."""
    ids = pts["patient_id"]
    ok = ids.notna()
    if not ok.any():
        return
    low = ids[ok].astype(str).str.lower()
    if low.is_unique and _same_shape(low):
        # no case twins, and every id has its digits at the same places: digit runs of equal
        # length are equal numbers only when equal, so leading zeros cannot make twins
        return
    key = id_key(ids[ok])
    dup = key.duplicated(keep=False)
    if not dup.any():
        return
    groups = pd.DataFrame({"key": key[dup], "id": ids[ok][dup]}).groupby("key", sort=False)
    shown = []
    for _, g in list(groups)[:5]:
        shown.append(" and ".join(f"{v!r} (row {r})" for r, v in g["id"].items()))
    col.warn(
        label,
        "patient_id",
        None,
        message=f"{int(groups.ngroups)} group(s) of patient ids differ only in case or leading "
        f"zeros: {'; '.join(shown)}" + ("; …" if groups.ngroups > 5 else ""),
        accept="they are read as different patients: merge them if they are one patient",
        n_rows=int(dup.sum()),
    )


# --------------------------------------------------------------------------------------------
# plausibility (impossible: problems; implausible: warnings in the load report)


#: the int64 view of NaT
_I8_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class _CutOff:
    """The data cut-off (``plausibility.data_cutoff``, else today): no date may be after it."""

    date: pd.Timestamp
    #: the cut-off as the messages show it
    text: str
    #: the "expected" text of a date after it
    expected: str

    @classmethod
    def of(cls, data_cutoff: str | None) -> _CutOff:
        cutoff = pd.Timestamp(data_cutoff) if data_cutoff else pd.Timestamp.today().normalize()
        text = cutoff.strftime("%Y-%m-%d") + ("" if data_cutoff else " (today)")
        expected = (
            f"a date on or before the data cut-off {text} (a date in the future is "
            "a typo; set plausibility.data_cutoff=YYYY-MM-DD to check against another "
            "date)"
        )
        return cls(cutoff, text, expected)


@dataclass(frozen=True)
class _PatientDays:
    """Each patient's treatment start and death as int64 nanoseconds, with a NaT sentinel at
    the end (position -1 = unknown patient): one take per check, no float or timedelta
    temporaries on long tables."""

    ids: pd.Index
    start: np.ndarray
    #: None when the patients table has no death_date
    death: np.ndarray | None

    @classmethod
    def of(cls, pts: pd.DataFrame) -> _PatientDays:
        first = pts.drop_duplicates("patient_id")  # (duplicates are problems already)
        start = first["treatment_start"].to_numpy(dtype="datetime64[ns]")
        death = (
            first["death_date"].to_numpy(dtype="datetime64[ns]")
            if "death_date" in first.columns
            else None
        )
        return cls(
            pd.Index(first["patient_id"]),
            np.append(start.view(np.int64), _I8_NAT),
            np.append(death.view(np.int64), _I8_NAT) if death is not None else None,
        )


def check_plausibility(
    pts: pd.DataFrame,
    tables: dict[str, pd.DataFrame | None],
    labels: dict[str, str],
    *,
    col: Collector,
    params: Parameters,
) -> None:
    """Cross-table and range checks of the canonical tables (``params.plausibility``):
    diameters and sums, target lesions per scan, centimetre-looking tables, dates after the
    data cut-off, progression or scans after death, scans long before treatment start and
    treatment starts before immunotherapy existed."""
    pl = params.plausibility
    cut = _CutOff.of(pl.data_cutoff)
    if "patients" in labels:
        _patient_dates(pts, labels["patients"], col, pl=pl, cut=cut)
    days = _PatientDays.of(pts)
    les = tables.get("lesions")
    if les is not None:
        label = labels["lesions"]
        _scan_dates(les, label, ["assessment_date"], col=col, pl=pl, cut=cut, days=days)
        _lesion_diameters(les, label, col, pl=pl)
    ass = tables.get("assessments")
    if ass is not None:
        label = labels["assessments"]
        _scan_dates(ass, label, ["assessment_date"], col=col, pl=pl, cut=cut, days=days)
        _max_sum(
            ass, "sld_mm", label, col=col, limit=pl.max_sld_mm, cm_like_below=pl.cm_like_below_mm
        )
    sc = tables.get("scans")
    if sc is not None:
        label = labels["scans"]
        _scan_dates(sc, label, SCAN_DATES, col=col, pl=pl, cut=cut, days=days)
        for c in SCAN_SLD:
            _max_sum(sc, c, label, col=col, limit=pl.max_sld_mm, cm_like_below=pl.cm_like_below_mm)


def _patient_dates(
    pts: pd.DataFrame, label: str, col: Collector, *, pl: Plausibility, cut: _CutOff
) -> None:
    """Patients' dates after the data cut-off and progression after death (problems), treatment
    starts before immunotherapy existed and near-duplicate ids (warnings)."""
    for c, what in (
        ("treatment_start", "treatment start"),
        ("progression_date", "progression"),
        ("death_date", "death"),
        ("last_contact", "last contact"),
    ):
        if c in pts.columns:
            late = pts[c].notna() & (pts[c] > cut.date)
            col.add_rows(
                label,
                c,
                late,
                message=value_message(f"{what} ", f" is after the data cut-off {cut.text}"),
                expected=cut.expected,
                values=iso_dates(pts[c], late),
            )
    if "progression_date" in pts.columns and "death_date" in pts.columns:
        flag_date_after(
            col, label, pts, column="progression_date", bound="death_date", word="progression"
        )
    early = pts["treatment_start"].notna() & (
        pts["treatment_start"].dt.year < pl.warn_treatment_start_before_year
    )
    col.warn(
        label,
        "treatment_start",
        early,
        message=f"treatment_start before {pl.warn_treatment_start_before_year} (immune "
        "checkpoint inhibitors were first given in trials in 2006)",
        accept="accept with --set plausibility.warn_treatment_start_before_year=<year>",
    )
    near_duplicate_ids(pts, label, col)


def _scan_dates(
    t: pd.DataFrame,
    label: str,
    dcols: list[str],
    *,
    col: Collector,
    pl: Plausibility,
    cut: _CutOff,
    days: _PatientDays,
) -> None:
    """Scan dates after the data cut-off or after the patient's death (problems), and long
    before the patient's treatment start (a warning)."""
    pos = _patient_positions(t["patient_id"], days.ids)
    before_ns = np.int64(pl.warn_scan_days_before_start) * np.int64(NS_PER_DAY)
    for dc in dcols:
        if dc not in t.columns:
            continue
        d = t[dc]
        d_i8 = d.to_numpy(dtype="datetime64[ns]").view(np.int64)
        valid = d_i8 != _I8_NAT
        late = pd.Series(valid & (d_i8 > cut.date.value), index=t.index)
        col.add_rows(
            label,
            dc,
            late,
            message=value_message("scan ", f" is after the data cut-off {cut.text}"),
            expected=cut.expected,
            values=iso_dates(d, late),
        )
        if days.death is not None:
            _scans_after_death(
                t, dc, d_i8, valid=valid, death=days.death[pos], label=label, col=col
            )
        st = days.start[pos]
        long_before = valid & (st != _I8_NAT) & (st - d_i8 > before_ns)
        del st
        col.warn(
            label,
            dc,
            pd.Series(long_before, index=t.index),
            message=f"scans more than {pl.warn_scan_days_before_start} days before the "
            "patient's treatment_start (a wrong year?)",
            accept="accept with --set plausibility.warn_scan_days_before_start=<days>",
        )


def _scans_after_death(
    t: pd.DataFrame,
    dc: str,
    d_i8: np.ndarray,
    *,
    valid: np.ndarray,
    death: np.ndarray,
    label: str,
    col: Collector,
) -> None:
    """Scans (column ``dc``, int64 ns ``d_i8``) after the patient's death (``death``, int64 ns
    per row): problems naming the patient and the death date."""
    after_arr = valid & (death != _I8_NAT) & (d_i8 > death)
    if not after_arr.any():
        return
    d = t[dc]
    after = pd.Series(after_arr, index=t.index)
    msg = pd.Series(None, index=t.index, dtype=object)
    msg[after] = (
        "scan " + d[after].dt.strftime("%Y-%m-%d") + " is after the "
        "death of patient "
        + t["patient_id"][after].astype(str)
        + " ("
        + pd.Series(death[after_arr].view("datetime64[ns]"), index=t.index[after]).dt.strftime(
            "%Y-%m-%d"
        )
        + ")"
    )
    col.add_rows(
        label,
        dc,
        after,
        message=lambda v: str(v),
        expected="scans on or before the patient's death_date",
        values=msg,
    )


def _lesion_diameters(les: pd.DataFrame, label: str, col: Collector, *, pl: Plausibility) -> None:
    """Impossible diameters (problems), large ones, centimetre-looking tables and scans with
    too many target lesions (warnings)."""
    d = les["diameter_mm"]
    over = d > pl.max_diameter_mm
    col.add_rows(
        label,
        "diameter_mm",
        over,
        message=value_message("", " mm is not a possible lesion diameter"),
        expected=f"a diameter ≤ {pl.max_diameter_mm:g} mm (set "
        "plausibility.max_diameter_mm to accept larger ones)",
        values=shown_numbers(d, over),
    )
    col.warn(
        label,
        "diameter_mm",
        (d > pl.warn_diameter_mm) & ~over,
        message=f"lesion diameters above {pl.warn_diameter_mm:g} mm",
        accept="accept with --set plausibility.warn_diameter_mm=<mm>",
    )
    target = les["lesion_type"] == "target"
    d_arr = d.to_numpy()
    measured = d_arr[target.to_numpy() & ~np.isnan(d_arr) & ~les["not_evaluable"].to_numpy()]
    if len(measured) and pl.cm_like_below_mm > 0 and measured.max() < pl.cm_like_below_mm:
        col.warn(
            label,
            "diameter_mm",
            None,
            message=f"every measured target diameter is below {pl.cm_like_below_mm:g} mm "
            f"(largest {measured.max():g}): the table looks like centimetres "
            "(RECIST 1.1's smallest measurable lesion is 10 mm); if they are cm, name "
            "the column diameter_cm",
            accept="accept as mm with --set plausibility.cm_like_below_mm=0",
            n_rows=len(measured),
        )
    _targets_per_scan(les, target, label, col=col, limit=pl.warn_targets_per_scan)


def _patient_positions(pid: pd.Series, index: pd.Index) -> np.ndarray:
    """Position in ``index`` of each row's patient (-1 unknown). Rows sorted by patient (the
    lesion and assessment tables) are looked up once per run of equal ids."""
    ids = pid.to_numpy(object)
    if len(ids) < 2:
        return index.get_indexer(ids)
    change = np.flatnonzero(_differs_from_previous(ids)) + 1
    heads = np.concatenate([[0], change])
    if len(heads) * 4 > len(ids):  # not in runs: hash every row
        return index.get_indexer(ids)
    sizes = np.diff(np.concatenate([heads, [len(ids)]]))
    return np.repeat(
        index.get_indexer(ids[heads]).astype(np.int32 if len(index) < 2**31 else np.int64), sizes
    )


def _differs_from_previous(values: np.ndarray) -> np.ndarray:
    """``values[1:] != values[:-1]`` for an object array, or a superset of it: rows that refer
    to another Python object than the row before (the loader expands one object per distinct
    id, so this is the value change, compared as integers; an equal value held by another
    object only starts a run early, which run-wise look-ups do not mind)."""
    v = object_array(values)
    if v is None:
        return np.asarray(values[1:] != values[:-1], dtype=bool)
    addresses = object_addresses(v)
    return addresses[1:] != addresses[:-1]


def _max_sum(
    t: pd.DataFrame, c: str, label: str, *, col: Collector, limit: float, cm_like_below: float = 0.0
) -> None:
    """Sums above ``limit`` are problems; every measured sum below ``cm_like_below`` (mm) a
    warning (a table in centimetres: sums of lesions ≥ 10 mm each)."""
    measured = t[c][t[c] > 0]
    if len(measured) and cm_like_below > 0 and measured.max() < cm_like_below:
        col.warn(
            label,
            c,
            None,
            message=f"every sum of diameters is below {cm_like_below:g} mm (largest "
            f"{measured.max():g}): the table looks like centimetres",
            accept="accept as mm with --set plausibility.cm_like_below_mm=0",
            n_rows=len(measured),
        )
    over = t[c] > limit
    col.add_rows(
        label,
        c,
        over,
        message=lambda v: f"{v} mm is not a possible sum of diameters",
        expected=f"a sum ≤ {limit:g} mm (set plausibility.max_sld_mm to accept larger ones)",
        values=shown_numbers(t[c], over),
    )


def _targets_per_scan(
    les: pd.DataFrame, target: pd.Series, label: str, *, col: Collector, limit: int
) -> None:
    """Warning for scans with more than ``limit`` target lesions (rows sorted by patient and
    date: a scan is a run of rows; the dates alone bound the run lengths first, cheaply)."""
    if int(target.sum()) <= limit:
        return
    rows = np.flatnonzero(target.to_numpy())  # the target rows (only two columns are read)
    day = les["assessment_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)[rows]
    new_run = np.concatenate([[True], day[1:] != day[:-1]])
    if np.diff(np.flatnonzero(np.concatenate([new_run, [True]]))).max() <= limit:
        return
    pid = les["patient_id"].to_numpy(object)[rows]
    new_run[1:] |= pid[1:] != pid[:-1]
    starts = np.flatnonzero(np.concatenate([new_run, [True]]))
    sizes = np.diff(starts)
    big = np.flatnonzero(sizes > limit)
    if not len(big):
        return
    first = np.zeros(len(les), bool)
    first[rows[starts[big]]] = True
    mask = pd.Series(first, index=les.index)
    i = int(big[np.argmax(sizes[big])])
    col.warn(
        label,
        "lesion_type",
        mask,
        message=f"{len(big)} scan(s) have more than {limit} target lesions (most: "
        f"{int(sizes[i])} for patient {pid[starts[i]]} on "
        f"{pd.Timestamp(day[starts[i]]).strftime('%Y-%m-%d')}; RECIST 1.1 allows 5)",
        accept="accept with --set plausibility.warn_targets_per_scan=<n>",
    )
