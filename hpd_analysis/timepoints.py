"""Scans and time points: per-scan sums of the baseline target lesions, the three scans of the
kinetic analysis (pre-baseline, baseline, first evaluation) and the first-evaluation features.

Time points (windows from :class:`hpd_analysis.params.Windows`, days):

- **baseline**: the last scan on or before ``treatment_start`` (a scan on the day of the first
  dose counts), at most ``baseline_max_days_before`` (42) days before it. Only the latest such
  scan is considered: if it is older than the window there is no baseline (an older scan cannot be
  closer).
- **pre-baseline**: among scans ``prebaseline_min_days_before_baseline`` (1) to
  ``prebaseline_max_days_before_baseline`` (183) days before baseline, the latest one whose SLD is
  evaluable (every baseline target lesion measured). When scans exist in that window but none is
  evaluable, the latest of them is kept (its date is known) with SLD NaN and a reason that says no
  scan in the window is evaluable.
- **first evaluation**: the first scan after treatment start at least ``first_eval_min_days`` (14)
  days after it (and at most ``first_eval_max_days`` when set).

Roles in :func:`scan_table`: ``prebaseline``, ``baseline``, ``on_treatment`` (after treatment
start, on or after day ``first_eval_min_days``: the first evaluation and every later scan) and
``unused`` (other pre-treatment scans and on-treatment scans earlier than the first-evaluation
window, which therefore never set the nadir).

Per-scan measures (lesion table):

- ``sld_mm``: sum of the diameters of the **baseline** target lesions (matched by ``lesion_id``;
  lymph nodes by short axis as given), on every scan, pre-baseline included. RECIST: a scan on
  which any baseline target lesion is missing or not evaluable has no SLD (NaN, ``sld_reason``).
  A target lesion with status ``absent`` and no diameter counts as 0 mm.
- ``sld_measured_mm``: sum over the baseline target lesions that *are* measured at that scan (mm;
  equals ``sld_mm`` on a complete scan; NaN when none is measured, without a baseline target, or
  when a lesion is measured twice). Only used for RECIST "PD despite a missing lesion" (the
  measured ones alone already +>=20 % and +>=5 mm over the nadir, see :mod:`hpd_analysis.recist`);
  the nadir and every kinetic quantity use ``sld_mm`` (complete scans) only.
- ``new_lesions``: number of ``new`` lesions recorded *at that scan* (status not ``absent``), not
  cumulative; ``new_lesions_first_seen``: those whose ``lesion_id`` appears for the first time
  (iRECIST "another new lesion"); ``new_lesion_sum_mm``: sum of their measured diameters.
- ``new_organs``: organs holding a new lesion at that scan that held no lesion (of any type) at
  baseline; ``max_new_lesions_in_involved_organ``: the largest number of new lesions at that scan in
  one organ already involved at baseline. Both are NA (unknown) when a new lesion at that scan has
  no organ. Organ names are compared case- and space-insensitively.
- ``non_target_pd``: a non-target lesion with status ``unequivocal_progression``;
  ``non_target_cr``: every baseline non-target lesion ``absent``; ``targets_cr``: every baseline
  non-nodal target at 0 mm and every nodal target < 10 mm.

Per-scan sums (``assessments``) give ``sld_mm`` (= ``sld_measured_mm``), ``new_lesions``,
``new_organs`` and ``non_target_pd`` directly (``targets_cr`` is ``sld_mm == 0``; non-target CR
unknown; ``new_lesions_first_seen`` is the rise of ``new_lesions`` over its running maximum). In the
three-scan wide table the scans are given: no window is applied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import Cohort
from .endpoints import death_days
from .errors import CohortError, Problem
from .objectcodes import factorize as _factorize
from .objectcodes import object_addresses, object_array
from .params import NS_PER_DAY, Parameters
from .recist import ScanAssessment, scan_responses
from .recist_kernel import concat_text

ROLES = ("prebaseline", "baseline", "on_treatment", "unused")

SCAN_COLUMNS = [
    "patient_id",
    "assessment_date",
    "day",
    "role",
    "is_first_eval",
    "sld_mm",
    "sld_reason",
    "sld_measured_mm",
    "n_targets_expected",
    "n_targets_measured",
    "targets_cr",
    "new_lesions",
    "new_lesions_first_seen",
    "new_lesion_sum_mm",
    "new_organs",
    "max_new_lesions_in_involved_organ",
    "non_target_pd",
    "non_target_cr",
    "n_non_targets_expected",
    "n_non_targets_assessed",
]

FEATURE_COLUMNS = [
    "patient_id",
    "treatment_start",
    "prebaseline_date",
    "baseline_date",
    "first_eval_date",
    "prebaseline_reason",
    "baseline_reason",
    "first_eval_reason",
    "sld_prebaseline_mm",
    "sld_baseline_mm",
    "sld_first_eval_mm",
    "sld_prebaseline_reason",
    "sld_baseline_reason",
    "sld_first_eval_reason",
    "days_pre_to_baseline",
    "days_baseline_to_first_eval",
    "first_eval_day",
    "sld_change_first_eval_mm",
    "sld_pct_change_first_eval",
    "recist_first_eval",
    "recist_first_eval_reason",
    "target_response_first_eval",
    "non_target_pd_first_eval",
    "new_lesions_first_eval",
    "new_organs_first_eval",
    "max_new_lesions_in_involved_organ_first_eval",
    "n_post_baseline_scans",
]

_EPOCH = np.datetime64("1970-01-01", "D")


# --------------------------------------------------------------------------- helpers


def _epoch_ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as int64 nanoseconds since 1970-01-01 (NaT: the int64 minimum)."""
    v = values if isinstance(values, pd.Series) else pd.Series(values)
    if v.dtype != "datetime64[ns]":
        v = pd.to_datetime(v)
        if v.dtype != "datetime64[ns]":
            v = v.astype("datetime64[ns]")
    return v.to_numpy().view("int64")


def _epoch_days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as float days since 1970-01-01 (NaN for NaT); the time of day is ignored."""
    ns = _epoch_ns(values)
    out = (ns // NS_PER_DAY).astype(float)
    out[ns == np.iinfo(np.int64).min] = np.nan
    return out


def _to_dates(days: np.ndarray) -> np.ndarray:
    """Float epoch days (NaN allowed) back to datetime64[ns] (NaT)."""
    days = np.asarray(days, dtype=float)
    missing = np.isnan(days)
    ns = np.where(missing, 0.0, days).astype(np.int64)  # whole days (truncated) since 1970
    ns *= NS_PER_DAY
    ns[missing] = np.iinfo(np.int64).min  # NaT
    return ns.view("datetime64[ns]")


def _index_per_group(
    mask: np.ndarray, grp: np.ndarray, n: int, *, last: bool = False
) -> np.ndarray:
    """Index of the first (``last=True``: the last) True of ``mask`` in each group (``grp``
    sorted); -1 when none."""
    out = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        g = grp[idx]
        change = g[1:] != g[:-1]
        edge = np.r_[change, True] if last else np.r_[True, change]
        out[g[edge]] = idx[edge]
    return out


def _take(arr: np.ndarray, idx: np.ndarray, fill: object = np.nan) -> np.ndarray:
    """``arr[idx]`` with ``fill`` where ``idx`` is -1."""
    arr = np.asarray(arr)
    dtype = (
        object
        if arr.dtype == object or fill is None
        else np.result_type(arr.dtype, np.asarray(fill).dtype)
    )
    if not len(arr):
        return np.full(len(idx), fill, dtype=dtype)
    # a plain take (-1 reads the last element) then the fill: no boolean-mask gathers
    out = arr.take(idx).astype(dtype, copy=False)
    out[idx < 0] = fill
    return out


def _gfmt(x: np.ndarray) -> np.ndarray:
    """Numbers as short text (``42``, ``-3.5``) for reasons (formats each distinct value once)."""
    uniq, inv = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    return np.array([f"{v:g}" for v in uniq], dtype=object)[inv.ravel()]


def _int_na(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Float array (NaN = unknown) as nullable Int64."""
    v = np.asarray(values, dtype=float)
    mask = np.isnan(v)
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np.int64), mask)


def _all_na_bool(n: int) -> pd.arrays.BooleanArray:
    """``n`` unknown booleans."""
    return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def _boolean_array(values: object) -> pd.arrays.BooleanArray:
    """Boolean / nullable boolean values as a pandas nullable BooleanArray (fast path for numpy
    bool). :func:`hpd_analysis.recist` kernels split such values into ``(values, NA mask)`` numpy
    arrays instead (``recist._bool_na``); this one keeps pandas' three-valued logic (``&``, ``|``
    with NA) that the timepoint rules use."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    return pd.array(values, dtype="boolean")


def _codes_in(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (unique; -1 when absent), looking up each run of
    equal consecutive values once (fast when rows are grouped by patient, fastest when the runs
    follow ``index``; correct in any order)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.dtype, pd.CategoricalDtype):  # look up each category once
        lut = np.append(index.get_indexer(values.cat.categories).astype(np.int64), -1)
        return lut[values.cat.codes.to_numpy()]
    v = values.to_numpy()
    obj = object_array(v)
    # runs of the same object (object columns: compared by address, an integer comparison; a
    # value split over several objects only starts more runs, each looked up by value)
    runs_of = object_addresses(obj) if obj is not None else v
    heads = np.flatnonzero(np.r_[True, runs_of[1:] != runs_of[:-1]])
    lengths = np.diff(np.r_[heads, len(v)])
    first = v[heads]
    if len(first) == len(index) and np.array_equal(first, index.to_numpy()):
        codes = np.arange(len(index), dtype=np.int64)  # one run per id, in the index's order
    else:
        codes = index.get_indexer(first).astype(np.int64)
    return np.repeat(codes, lengths)


def _patient_codes(cohort: Cohort, table: pd.DataFrame, name: str) -> np.ndarray:
    """Position of each row's patient in ``cohort.patients``; a clear error for unknown ids."""
    ids = pd.Index(cohort.patients["patient_id"])
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()[:5]
        raise CohortError(
            [
                Problem(
                    "patients",
                    None,
                    "patient_id",
                    f"duplicated patient_id: {', '.join(map(str, dup))}",
                    "one row per patient",
                )
            ]
        )
    codes = _codes_in(table["patient_id"], ids)
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        file = cohort.sources.get(name, name)
        raise CohortError(
            [
                Problem(
                    file,
                    int(i) + 2,
                    "patient_id",
                    f"patient_id {table['patient_id'].iloc[i]!r} is not in the patients table",
                    "a patient_id of the patients table",
                )
                for i in bad[:20]
            ]
        )
    return codes.astype(np.int64, copy=False)


def _check_dates(
    table: pd.DataFrame, col: str, name: str, cohort: Cohort
) -> tuple[np.ndarray, bool]:
    """Int64 days since 1970-01-01 of a date column (time of day ignored), and whether every
    date is at midnight; error on NaT."""
    ns = _epoch_ns(table[col])
    bad = np.flatnonzero(ns == np.iinfo(np.int64).min)
    if len(bad):
        file = cohort.sources.get(name, name)
        raise CohortError(
            [Problem(file, int(i) + 2, col, "missing date", "an ISO 8601 date") for i in bad[:20]]
        )
    days = ns // NS_PER_DAY
    return days, bool(np.array_equal(days * NS_PER_DAY, ns))  # (faster than ns % day == 0)


# --------------------------------------------------------------------------- long shapes


def _scan_keys(pcode: np.ndarray, dday: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (patient, date) scans sorted by patient then date; inverse index of each row.

    ``dday``: int64 days. Returns the scans' patient codes, float days and each row's scan."""
    dmin = int(dday.min()) if len(dday) else 0
    span = int(dday.max()) - dmin + 1 if len(dday) else 1
    key = pcode * span
    key += dday
    key -= dmin
    step = np.diff(key)
    if bool((step >= 0).all()):  # already sorted (the canonical row order): no sort needed
        heads = np.empty(len(key), dtype=bool)
        heads[:1] = True
        np.not_equal(step, 0, out=heads[1:])
        del step
        uniq = key[heads]
        inv = np.cumsum(heads, dtype=np.intp)  # (a bool cumsum without dtype is 8x slower)
        inv -= 1
    else:
        uniq, inv = np.unique(key, return_inverse=True)
    return uniq // span, (uniq % span + dmin).astype(float), inv.ravel()


def _isin_subset(key: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``key[i] in values`` for the rows selected by ``rows`` (False elsewhere)."""
    out = np.zeros(len(key), dtype=bool)
    idx = np.flatnonzero(rows)
    if len(idx):
        out[idx] = pd.Series(key[idx]).isin(values).to_numpy()
    return out


def _factor_masks(values: pd.Series, labels: tuple[str, ...]) -> list[np.ndarray]:
    """One boolean mask per label (``values == label``), factorizing the column once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, u = values.cat.codes.to_numpy(), np.asarray(values.cat.categories, dtype=object)
    else:
        codes, uniq = _factorize(values)
        u = np.asarray(uniq, dtype=object)
    out = []
    for label in labels:
        hit = np.flatnonzero(u == label)
        out.append(codes == hit[0] if len(hit) else np.zeros(len(values), dtype=bool))
    return out


def _bool_col(table: pd.DataFrame, col: str) -> np.ndarray:
    if col not in table.columns:
        return np.zeros(len(table), dtype=bool)
    v = table[col]
    if v.dtype == bool:
        return v.to_numpy()
    return np.asarray(pd.array(v, dtype="boolean").fillna(False), dtype=bool)


def _dense_table_ok(key: np.ndarray, size: int, *member_sets: np.ndarray) -> bool:
    """True when keys and members are non-negative ints below a ``size`` small enough for a
    dense look-up table (about a byte per row)."""
    if size > max(4 * len(key), 1 << 20):
        return False
    return not (len(key) and (key.min() < 0 or any(len(m) and m.min() < 0 for m in member_sets)))


def _dense_member(key: np.ndarray, rows: np.ndarray, members: np.ndarray, size: int) -> np.ndarray:
    """``key[i] in members`` for the rows selected by ``rows`` (False elsewhere).

    Keys are non-negative ints below ``size``: a dense lookup table when it is small, else a
    hash look-up on the selected rows only.
    """
    if _dense_table_ok(key, size, members):
        table = np.zeros(size, dtype=bool)
        table[members] = True
        return rows & table[key]
    return _isin_subset(key, rows, members)


def _baseline_members(
    key: np.ndarray,
    rows_a: np.ndarray,
    members_a: np.ndarray,
    rows_b: np.ndarray,
    members_b: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_dense_member` for two member sets over the same keys, with one look-up table
    (bit 1: in ``members_a``, bit 2: in ``members_b``) and one pass over the rows."""
    if _dense_table_ok(key, size, members_a, members_b):
        table = np.zeros(size, dtype=np.uint8)
        table[members_a] = 1
        table[members_b] |= 2
        flags = table[key]
        return rows_a & (flags & 1).astype(bool), rows_b & (flags & 2).astype(bool)
    return (_isin_subset(key, rows_a, members_a), _isin_subset(key, rows_b, members_b))


def _float_values(table: pd.DataFrame, col: str) -> np.ndarray | None:
    """A numeric column as a float array (text that is not a number: NaN); None when absent."""
    if col not in table.columns:
        return None
    v = table[col]
    if v.dtype == np.float64:
        return v.to_numpy()
    return pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)


def _normalized_codes(values: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Codes of text values compared case- and space-insensitively (-1 when missing) and the
    number of distinct normalized values (only the few unique names are normalised); ``rows``:
    only at those positions."""
    raw, uniq = _factorize(values, rows)
    norm = pd.Series(np.asarray(uniq, dtype=object)).astype(str).str.strip().str.lower()
    ncode = pd.factorize(norm)[0].astype(np.int64)
    lut = np.append(ncode, np.int64(-1))  # raw code -1 (missing) -> -1
    return lut[raw], (int(ncode.max()) + 1 if len(ncode) else 0)


def _lesion_measures(
    les: pd.DataFrame,
    rp: np.ndarray,
    inv: np.ndarray,
    scan_pid: np.ndarray,
    base_scan: np.ndarray,
    n_pat: int,
    midnight: bool,
    full: bool = True,
    min_mm: tuple[float, float] = (0.0, 0.0),
) -> dict[str, object]:
    """Per-scan measures from the long lesion table (see module docstring).

    ``midnight``: every assessment date is at midnight (a scan is one date: the distinct organs
    with a new lesion per scan are then counted too, ``_n_organs_new``).
    ``full=False`` skips the measures only :func:`scan_table` shows (``new_lesions_first_seen``,
    ``new_lesion_sum_mm``). ``sld_reason`` is a function of scan indices: reasons are text, built
    only for the scans asked for. Lesion-level temporaries are freed as soon as possible (a
    million patients have ~13 million lesion rows). ``min_mm``: RECIST 1.1 measurability at
    baseline (non-nodal, nodal short axis; mm): a baseline scan with a target below it has no SLD.
    """
    ns = len(scan_pid)
    is_t, is_nt, is_new = _factor_masks(les["lesion_type"], ("target", "non_target", "new"))
    if "status" in les.columns:
        absent, unequiv = _factor_masks(les["status"], ("absent", "unequivocal_progression"))
    else:
        absent = unequiv = np.zeros(len(les), dtype=bool)
    node = _bool_col(les, "is_lymph_node")
    not_eval = _bool_col(les, "not_evaluable")
    lcode = _factorize(les["lesion_id"])[0].astype(np.int64, copy=False)
    nl = int(lcode.max()) + 1 if len(lcode) else 1
    key = rp * nl
    key += lcode
    del lcode
    at_base = inv == base_scan[rp]  # base_scan -1 (no baseline) never equals a scan index

    # rows of the lesions that were targets / non-targets at baseline (on any scan)
    bt = at_base & is_t
    bnt = at_base & is_nt
    is_bt, is_bnt = _baseline_members(key, is_t, key[bt], is_nt, key[bnt], n_pat * nl)

    # baseline target lesions
    n_exp_p = np.bincount(rp[bt], minlength=n_pat)
    diam_all = _float_values(les, "diameter_mm")
    if diam_all is None:
        diam_all = np.full(len(les), np.nan)
    unmeasurable = np.zeros(ns, dtype=bool)  # baseline scans with a target below RECIST size
    if min_mm[0] > 0 or min_mm[1] > 0:
        bt_rows = np.flatnonzero(bt)
        d_bt = diam_all[bt_rows]
        d_bt = np.where(np.isnan(d_bt) & absent[bt_rows], 0.0, d_bt)
        with np.errstate(invalid="ignore"):
            small = np.where(node[bt_rows], d_bt < min_mm[1], d_bt < min_mm[0])
        unmeasurable[inv[bt_rows[small]]] = True
        del bt_rows, d_bt, small
    del bt
    no_diam = np.isnan(diam_all)
    # measured: a diameter, or recorded absent without one (0 mm); not flagged not evaluable
    tr = np.flatnonzero(is_bt & (~no_diam | absent) & ~not_eval)
    del is_bt, no_diam
    inv_m = inv[tr]
    dm = diam_all[tr]
    dm[np.isnan(dm)] = 0.0  # NaN left here only for targets recorded absent: 0 mm
    n_meas = np.bincount(inv_m, minlength=ns)
    ssum = np.bincount(inv_m, weights=dm, minlength=ns)
    gone = np.where(node[tr], dm < 10.0, dm == 0.0)
    n_gone = np.bincount(inv_m[gone], minlength=ns)
    del tr, inv_m, dm, gone
    has_base = base_scan[scan_pid] >= 0
    n_exp = np.where(has_base, n_exp_p[scan_pid], 0)
    ok = has_base & (n_exp > 0) & (n_meas == n_exp) & ~unmeasurable
    sld = np.where(ok, ssum, np.nan)
    part = np.where(
        has_base & (n_exp > 0) & (n_meas > 0) & (n_meas <= n_exp) & ~unmeasurable, ssum, np.nan
    )

    def sld_reason(idx: np.ndarray) -> np.ndarray:
        """Why ``sld_mm`` is missing at the scans ``idx`` (None where it is not)."""
        hb, ne, nm = has_base[idx], n_exp[idx], n_meas[idx]
        reason = np.full(len(idx), None, dtype=object)
        m = hb & (ne > 0) & (nm < ne)
        reason[m] = concat_text(
            _gfmt(ne[m] - nm[m]), " of ", _gfmt(ne[m]), " baseline target lesion(s) not measured"
        )
        reason[hb & (ne > 0) & (nm > ne)] = (
            "a baseline target lesion is measured more than once on this date"
        )
        reason[unmeasurable[idx] & hb & (ne > 0) & (nm == ne)] = (
            f"a baseline target lesion below RECIST 1.1 measurability (< {min_mm[0]:g} mm; lymph "
            f"node < {min_mm[1]:g} mm short axis; rules.baseline_target_min_mm, "
            "rules.baseline_node_min_mm)"
        )
        reason[hb & (ne == 0)] = "no target lesion at baseline"
        reason[~hb] = "no baseline scan"
        return reason

    # non-target lesions
    n_nt_p = np.bincount(rp[bnt], minlength=n_pat)
    del bnt
    n_nt_ass = np.bincount(inv[is_bnt], minlength=ns)
    n_nt_abs = np.bincount(inv[is_bnt & absent], minlength=ns)
    del is_bnt
    nt_pd = np.bincount(inv[is_nt & unequiv], minlength=ns) > 0
    n_nt = n_nt_p[scan_pid]
    nt_cr = has_base & (n_nt > 0) & (n_nt_abs >= n_nt)

    # new lesions
    newm = is_new & ~absent
    inv_new = inv[newm]
    n_new = np.bincount(inv_new, minlength=ns)
    extra: dict[str, np.ndarray] = {}
    if full:
        first_inv = pd.Series(inv_new).groupby(key[newm]).transform("min").to_numpy()
        extra["new_lesions_first_seen"] = np.bincount(
            inv_new[inv_new == first_inv], minlength=ns
        ).astype(float)
        if diam_all is not None:
            dn = diam_all[newm]
        else:
            dn = np.full(len(inv_new), np.nan)
        extra["new_lesion_sum_mm"] = np.bincount(
            inv_new, weights=np.nan_to_num(dn, nan=0.0), minlength=ns
        )
    del key

    # organs
    # organs per scan only when a scan is one assessment date (every date at midnight)
    organ_given = "organ" in les.columns and midnight
    # organ codes on the rows that need one only: baseline lesions and new lesions
    org_rows = np.flatnonzero(at_base | newm)
    if "organ" in les.columns:
        ocode, no = _normalized_codes(les["organ"], org_rows)
        no = max(no, 1)
    else:
        ocode = np.full(len(org_rows), -1, dtype=np.int64)
        no = 1
    has_org = ocode >= 0
    sub_base, sub_new = at_base[org_rows], newm[org_rows]
    del at_base
    base_org = sub_base & has_org
    new_known = sub_new & has_org
    involved_new = np.zeros(int(new_known.sum()), dtype=bool)
    if len(involved_new):
        okey_new = rp[org_rows[new_known]] * no + ocode[new_known]
        okey_base = rp[org_rows[base_org]] * no + ocode[base_org]
        involved_new = _dense_member(
            okey_new, np.ones(len(okey_new), dtype=bool), okey_base, n_pat * no
        )
    unknown_org = np.bincount(inv[org_rows[sub_new & ~has_org]], minlength=ns) > 0
    inv_nk, org_nk = inv[org_rows[new_known]], ocode[new_known]
    out_new = ~involved_new
    nk = np.unique(inv_nk[out_new] * no + org_nk[out_new])
    new_org = np.bincount(nk // no, minlength=ns).astype(float)
    ik, cnt = np.unique(inv_nk[involved_new] * no + org_nk[involved_new], return_counts=True)
    if organ_given:  # distinct organs holding a new lesion (for the classify rule features)
        # organ pairs not involved at baseline (nk) and involved ones (ik) are disjoint
        n_org_new = new_org + np.bincount(ik // no, minlength=ns)
        n_org_new[unknown_org] = np.nan
        extra["_n_organs_new"] = n_org_new
    max_inv = np.zeros(ns, dtype=float)
    np.maximum.at(max_inv, ik // no, cnt.astype(float))
    new_org[unknown_org] = np.nan
    max_inv[unknown_org] = np.nan

    return {
        "sld_mm": sld,
        "sld_reason": sld_reason,
        "sld_measured_mm": part,
        "n_targets_expected": np.where(has_base, n_exp, np.nan),
        # counts stay integers here: converted to float (NaN = unknown) where they are read
        "n_targets_measured": n_meas,
        "targets_cr": has_base & (n_exp > 0) & (n_gone == n_exp) & ok,
        "new_lesions": n_new,
        **extra,
        "new_organs": new_org,
        "max_new_lesions_in_involved_organ": max_inv,
        "non_target_pd": nt_pd,
        "non_target_cr": nt_cr,
        "n_non_targets_expected": np.where(has_base, n_nt, np.nan),
        "n_non_targets_assessed": n_nt_ass,
    }


def _assessment_measures(
    a: pd.DataFrame, order: np.ndarray, scan_pid: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-scan measures from per-scan sums (rows already in scan order via ``order``)."""
    ns = len(order)

    def col(name: str) -> np.ndarray:
        if name not in a.columns:
            return np.full(ns, np.nan)
        return pd.to_numeric(a[name], errors="coerce").to_numpy(dtype=float)[order]

    sld = col("sld_mm")
    newl = col("new_lesions")
    prev_max = pd.Series(np.nan_to_num(newl, nan=0.0)).groupby(scan_pid).cummax()
    prev_max = prev_max.groupby(scan_pid).shift(1).fillna(0.0).to_numpy()
    first = np.where(np.isnan(newl), np.nan, np.clip(newl - prev_max, 0, None))
    if "non_target_pd" in a.columns:
        ntpd = pd.array(a["non_target_pd"], dtype="boolean")[order]
    else:
        ntpd = _all_na_bool(ns)
    reason = np.where(np.isnan(sld), "sld_mm not given", None).astype(object)
    cr = _boolean_array(sld == 0)
    cr[np.isnan(sld)] = pd.NA
    return {
        "sld_mm": sld,
        "sld_reason": reason,
        "sld_measured_mm": sld,
        "n_targets_expected": np.full(ns, np.nan),
        "n_targets_measured": np.full(ns, np.nan),
        "targets_cr": cr,
        "new_lesions": newl,
        "new_lesions_first_seen": first,
        "new_lesion_sum_mm": np.full(ns, np.nan),
        "new_organs": col("new_organs"),
        "max_new_lesions_in_involved_organ": np.full(ns, np.nan),
        "non_target_pd": ntpd,
        "non_target_cr": _all_na_bool(ns),
        "n_non_targets_expected": np.full(ns, np.nan),
        "n_non_targets_assessed": np.full(ns, np.nan),
    }


def _build_long(
    cohort: Cohort, params: Parameters, start: np.ndarray, death: np.ndarray, full: bool = True
) -> tuple[dict, dict[str, np.ndarray]]:
    """Scan table and per-patient time-point indices for the lesions / assessments shapes
    (``full=False``: only what :func:`first_evaluation_features` reads)."""
    w = params.windows
    n = len(cohort.patients)
    use_lesions = cohort.lesions is not None and len(cohort.lesions) > 0
    tab = cohort.lesions if use_lesions else cohort.assessments
    name = "lesions" if use_lesions else "assessments"
    if tab is None:
        tab = pd.DataFrame(
            {
                "patient_id": pd.Series(dtype=object),
                "assessment_date": pd.Series(dtype="datetime64[ns]"),
            }
        )
    rp = _patient_codes(cohort, tab, name)
    dday, midnight = _check_dates(tab, "assessment_date", name, cohort)
    scan_pid, scan_date, inv = _scan_keys(rp, dday)
    ns = len(scan_pid)
    if not use_lesions and ns != len(tab):
        key = pd.Series(rp * 10**6 + dday)
        dup = np.flatnonzero(key.duplicated().to_numpy())
        raise CohortError(
            [
                Problem(
                    cohort.sources.get(name, name),
                    int(i) + 2,
                    "assessment_date",
                    "second row for the same patient and assessment date",
                    "one row per patient and scan date",
                )
                for i in dup[:20]
            ]
        )
    del dday  # row-level (millions of rows): no longer needed
    day = scan_date - start[scan_pid]
    n_scans = np.bincount(scan_pid, minlength=n)

    # baseline: the last scan on or before start, within the window
    last_pre = _index_per_group(day <= 0, scan_pid, n, last=True)
    last_pre_day = _take(day, last_pre)
    base_ok = (last_pre >= 0) & (last_pre_day >= -w.baseline_max_days_before)
    base = np.where(base_ok, last_pre, -1)
    base_reason = np.full(n, None, dtype=object)
    m = (last_pre >= 0) & ~base_ok
    base_reason[m] = concat_text(
        f"baseline scan more than {w.baseline_max_days_before} days before treatment start "
        "(latest on day ",
        _gfmt(last_pre_day[m]),
        ")",
    )
    base_reason[last_pre < 0] = "no scan on or before treatment start"
    base_reason[n_scans == 0] = "no measurements"
    base_reason[np.isnan(start)] = "no treatment_start"

    if use_lesions:
        meas = _lesion_measures(
            tab,
            rp,
            inv,
            scan_pid,
            base,
            n,
            midnight,
            full=full,
            min_mm=(
                float(params.rules.baseline_target_min_mm),
                float(params.rules.baseline_node_min_mm),
            ),
        )
    else:
        order = np.empty(ns, dtype=np.int64)
        order[inv] = np.arange(len(tab))
        meas = _assessment_measures(tab, order, scan_pid)
    sld = meas["sld_mm"]

    # pre-baseline: latest evaluable scan in the window before baseline
    bdate = _take(scan_date, base)
    has_b = base[scan_pid] >= 0
    gap = bdate[scan_pid] - scan_date
    before = has_b & (gap > 0)
    cand = (
        before
        & (gap >= w.prebaseline_min_days_before_baseline)
        & (gap <= w.prebaseline_max_days_before_baseline)
    )
    pre_ev = _index_per_group(cand & ~np.isnan(sld), scan_pid, n, last=True)
    pre_any = _index_per_group(cand, scan_pid, n, last=True)
    pre = np.where(pre_ev >= 0, pre_ev, pre_any)
    last_before = _index_per_group(before, scan_pid, n, last=True)
    lb_gap = bdate - _take(scan_date, last_before)
    pre_reason = np.full(n, None, dtype=object)
    m = (pre < 0) & (last_before >= 0)
    pre_reason[m] = np.where(
        lb_gap[m] > w.prebaseline_max_days_before_baseline,
        f"pre-baseline scan more than {w.prebaseline_max_days_before_baseline} days before "
        "baseline",
        f"no pre-baseline scan {w.prebaseline_min_days_before_baseline}-"
        f"{w.prebaseline_max_days_before_baseline} days before baseline",
    )
    pre_reason[(pre < 0) & (last_before < 0)] = "no pre-baseline scan"
    pre_reason[base < 0] = "no baseline scan"
    pre_reason[n_scans == 0] = "no measurements"
    pre_reason[np.isnan(start)] = "no treatment_start"

    # first evaluation
    post = day > 0
    ontr = post & (day >= w.first_eval_min_days)
    fe_cand = ontr & ((day <= w.first_eval_max_days) if w.first_eval_max_days is not None else True)
    fe = _index_per_group(fe_cand, scan_pid, n)
    n_post = np.bincount(scan_pid[post], minlength=n)
    n_ontr = np.bincount(scan_pid[ontr], minlength=n)
    fe_reason = np.full(n, None, dtype=object)
    none = fe < 0
    fe_reason[none] = "no on-treatment scan"
    fe_reason[none & (n_post > 0) & (n_ontr == 0)] = (
        f"on-treatment scans only before day {w.first_eval_min_days} (first_eval_min_days)"
    )
    if w.first_eval_max_days is not None:
        fe_reason[none & (n_ontr > 0)] = (
            f"no scan between day {w.first_eval_min_days} and day {w.first_eval_max_days} "
            "after treatment start"
        )
    died = none & ~np.isnan(death)
    fe_reason[died] = concat_text("died before first evaluation (day ", _gfmt(death[died]), ")")
    fe_reason[none & (n_scans == 0) & ~died] = "no measurements"
    fe_reason[np.isnan(start)] = "no treatment_start"

    scans = {"_pcode": scan_pid, "_date": scan_date, "day": day, **meas}
    if full:  # display columns of the scan table (first_evaluation_features needs none)
        role = np.full(ns, "unused", dtype=object)
        role[ontr] = "on_treatment"
        role[base[base >= 0]] = "baseline"
        role[pre[pre >= 0]] = "prebaseline"
        is_fe = np.zeros(ns, dtype=bool)
        is_fe[fe[fe >= 0]] = True
        scans.update(
            {
                "patient_id": cohort.patients["patient_id"].to_numpy()[scan_pid],
                "assessment_date": _to_dates(scan_date),
                "role": role,
                "is_first_eval": is_fe,
            }
        )
    pt = {
        "pre": pre,
        "base": base,
        "fe": fe,
        "pre_reason": pre_reason,
        "base_reason": base_reason,
        "fe_reason": fe_reason,
        "n_post": n_post,
        "pre_not_evaluable": (pre_ev < 0) & (pre_any >= 0),
        "n_early": n_post - n_ontr,
    }
    return scans, pt


# --------------------------------------------------------------------------- wide shape


_WIDE_ROLES = (
    ("prebaseline", "sld_prebaseline_mm", "date_prebaseline", "pre-baseline"),
    ("baseline", "sld_baseline_mm", "date_baseline", "baseline"),
    ("on_treatment", "sld_first_eval_mm", "date_first_eval", "first-evaluation"),
)


def _build_wide(
    cohort: Cohort, params: Parameters, start: np.ndarray, death: np.ndarray
) -> tuple[dict, dict[str, np.ndarray]]:
    """Scan table and per-patient indices for the three-scan wide table (no window applied)."""
    n = len(cohort.patients)
    wide = cohort.scans_wide
    pc = _patient_codes(cohort, wide, "scans")
    if pd.Series(pc).duplicated().any():
        i = int(np.flatnonzero(pd.Series(pc).duplicated().to_numpy())[0])
        raise CohortError(
            [
                Problem(
                    cohort.sources.get("scans", "scans"),
                    i + 2,
                    "patient_id",
                    "second row for the same patient",
                    "one row per patient",
                )
            ]
        )
    st = start.copy()
    if "treatment_start" in wide.columns:
        ws = _epoch_days(wide["treatment_start"])
        fill = np.isnan(st[pc])
        st[pc[fill]] = ws[fill]
    has_row = np.zeros(n, dtype=bool)
    has_row[pc] = True

    def per_patient(values: np.ndarray, fill: object = np.nan) -> np.ndarray:
        vals = np.asarray(values)
        out = np.full(n, fill, dtype=object if vals.dtype == object else float)
        out[pc] = vals
        return out

    frames = []
    idx: dict[str, np.ndarray] = {}
    reasons: dict[str, np.ndarray] = {}
    sld_vals: dict[str, np.ndarray] = {}
    newl = (
        per_patient(
            pd.to_numeric(wide["new_lesions_first_eval"], errors="coerce").to_numpy(dtype=float)
        )
        if "new_lesions_first_eval" in wide.columns
        else np.full(n, np.nan)
    )
    if "non_target_pd_first_eval" in wide.columns:
        ntv = pd.array(wide["non_target_pd_first_eval"], dtype="boolean")
        ntpd = _all_na_bool(n)
        ntpd[pc] = ntv
    else:
        ntpd = _all_na_bool(n)
    for role, scol, dcol, label in _WIDE_ROLES:
        s = (
            per_patient(pd.to_numeric(wide[scol], errors="coerce").to_numpy(dtype=float))
            if scol in wide.columns
            else np.full(n, np.nan)
        )
        d = per_patient(_epoch_days(wide[dcol])) if dcol in wide.columns else np.full(n, np.nan)
        sld_vals[role] = s
        r = np.full(n, None, dtype=object)
        r[np.isnan(d)] = f"no {label} scan given ({dcol} empty)"
        r[~has_row] = "no measurements"
        reasons[role] = r
        present = np.flatnonzero(~np.isnan(d))
        frames.append(
            pd.DataFrame(
                {
                    "_pcode": present,
                    "_rk": ROLES.index(role),
                    "_date": d[present],
                    "sld_mm": s[present],
                    "role": role,
                }
            )
        )
    sc = (
        pd.concat(frames, ignore_index=True)
        .sort_values(["_pcode", "_date", "_rk"], kind="mergesort")
        .reset_index(drop=True)
    )
    ns = len(sc)
    p = sc["_pcode"].to_numpy(dtype=np.int64)
    sld = sc["sld_mm"].to_numpy(dtype=float)
    is_fe = (sc["role"] == "on_treatment").to_numpy()
    for role in ("prebaseline", "baseline", "on_treatment"):
        idx[role] = _index_per_group((sc["role"] == role).to_numpy(), p, n)
    new_scan = np.where(is_fe, newl[p], np.nan)
    nt_scan = _all_na_bool(ns)
    nt_scan[is_fe] = ntpd[p[is_fe]]
    cr = _boolean_array(sld == 0)
    cr[np.isnan(sld)] = pd.NA
    sreason = np.where(np.isnan(sld), "SLD not given", None).astype(object)
    nan = np.full(ns, np.nan)
    day = sc["_date"].to_numpy(dtype=float) - st[p]
    scans = {
        "_pcode": p,
        "_date": sc["_date"].to_numpy(dtype=float),
        "patient_id": cohort.patients["patient_id"].to_numpy()[p],
        "assessment_date": _to_dates(sc["_date"].to_numpy(dtype=float)),
        "day": day,
        "role": sc["role"].to_numpy(dtype=object),
        "is_first_eval": is_fe,
        "sld_mm": sld,
        "sld_reason": sreason,
        "sld_measured_mm": sld,
        "n_targets_expected": nan,
        "n_targets_measured": nan,
        "targets_cr": cr,
        "new_lesions": new_scan,
        "new_lesions_first_seen": new_scan,
        "new_lesion_sum_mm": nan,
        "new_organs": nan,
        "max_new_lesions_in_involved_organ": nan,
        "non_target_pd": nt_scan,
        "non_target_cr": _all_na_bool(ns),
        "n_non_targets_expected": nan,
        "n_non_targets_assessed": nan,
    }
    fe_reason = reasons["on_treatment"]
    died = (idx["on_treatment"] < 0) & ~np.isnan(death)
    fe_reason[died] = concat_text("died before first evaluation (day ", _gfmt(death[died]), ")")
    pt = {
        "pre": idx["prebaseline"],
        "base": idx["baseline"],
        "fe": idx["on_treatment"],
        "pre_reason": reasons["prebaseline"],
        "base_reason": reasons["baseline"],
        "fe_reason": fe_reason,
        "n_post": (idx["on_treatment"] >= 0).astype(np.int64),
        "pre_not_evaluable": np.zeros(n, dtype=bool),
        "start": st,
    }
    return scans, pt


# --------------------------------------------------------------------------- public


def _build(
    cohort: Cohort, params: Parameters, full: bool = True
) -> tuple[dict, dict[str, np.ndarray]]:
    pat = cohort.patients
    start = _epoch_days(pat["treatment_start"])
    death = death_days(pat, params)
    if (
        cohort.scans_wide is not None
        and len(cohort.scans_wide)
        and not (cohort.lesions is not None and len(cohort.lesions))
        and not (cohort.assessments is not None and len(cohort.assessments))
    ):
        scans, pt = _build_wide(cohort, params, start, death)
    else:
        scans, pt = _build_long(cohort, params, start, death, full=full)
        pt["start"] = start
    pt["death"] = death
    return scans, pt


def _finish_scans(scans: dict) -> pd.DataFrame:
    """The internal column dict as the public scan table (nullable dtypes)."""
    cols: dict[str, object] = {}
    for c in SCAN_COLUMNS:
        v = scans[c]
        if c in (
            "n_targets_expected",
            "n_targets_measured",
            "new_lesions",
            "new_lesions_first_seen",
            "new_organs",
            "max_new_lesions_in_involved_organ",
            "n_non_targets_expected",
            "n_non_targets_assessed",
        ):
            v = _int_na(np.asarray(v, dtype=float))
        elif c in ("targets_cr", "non_target_pd", "non_target_cr"):
            v = _boolean_array(v)
        elif c == "sld_reason":
            v = v(np.arange(len(scans["day"]))) if callable(v) else np.asarray(v, dtype=object)
        cols[c] = v
    return pd.DataFrame(cols)


def scan_table(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """One row per patient × assessment date with its role and RECIST sums.

    Columns :data:`SCAN_COLUMNS`; ``day`` in days from ``treatment_start`` (float, NaN without a
    start date), SLD in mm, counts as nullable Int64 (NA = unknown), flags as nullable boolean.
    Rows are in ``cohort.patients`` order, then by date (the order of the input measurement rows
    does not matter). Patients without any scan have no row here (see
    :func:`first_evaluation_features`). Rules in the module docstring.
    """
    params = params or Parameters()
    scans, _ = _build(cohort, params)
    return _finish_scans(scans)


def first_evaluation_features(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """One row per patient (``cohort.patients`` order, never fewer): the three scans, their SLD,
    intervals and RECIST 1.1 at the first evaluation, with a reason for every missing value.

    Columns :data:`FEATURE_COLUMNS` (docs/architecture.md): dates datetime64 (NaT when none),
    SLD in mm, intervals and ``first_eval_day`` in days, ``sld_pct_change_first_eval`` in % of the
    baseline SLD, ``recist_first_eval`` CR/PR/SD/PD/NE, or NON-CR/NON-PD for a patient without
    target lesions at baseline (nadir = baseline at the first evaluation; the pre-baseline scan
    never counts; PD also when a target is not assessed but the measured ones already meet PD,
    while ``sld_first_eval_mm`` and the % change stay NaN; rules in :mod:`hpd_analysis.recist`),
    ``target_response_first_eval`` CR/PR/SD/PD/NE or ``none`` (no target lesion at baseline),
    counts nullable Int64, ``non_target_pd_first_eval`` nullable boolean. When new lesions /
    non-target progression are not given (three-scan wide table without those columns) they are
    NA and the response is from the SLD alone (the reason says so).
    """
    return first_evaluation_features_with_extras(cohort, params or Parameters())[0]


def first_evaluation_features_with_extras(
    cohort: Cohort, params: Parameters
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """:func:`first_evaluation_features` and per-patient extras computed on the way (lesion table
    with organs, dates without time of day: ``n_organs_with_new_lesions_first_eval``, distinct
    organs holding a new lesion at the first evaluation, NaN when unknown or no first evaluation)
    so that :mod:`hpd_analysis.classification` need not scan the lesion rows again."""
    scans, pt = _build(cohort, params, full=False)
    pat = cohort.patients
    pre, base, fe = pt["pre"], pt["base"], pt["fe"]
    date_days = np.asarray(scans["_date"], dtype=float)
    dayv = np.asarray(scans["day"], dtype=float)
    sld = np.asarray(scans["sld_mm"], dtype=float)
    sreason = scans["sld_reason"]

    def tdate(i: np.ndarray) -> np.ndarray:
        return _to_dates(_take(date_days, i))

    def treasons(*pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
        """SLD reasons at the scans ``i`` (None where ``i`` is -1) of each (``i``, its SLD)."""
        if not callable(sreason):
            return [_take(np.asarray(sreason, dtype=object), i, None) for i, _ in pairs]
        # the reason is None wherever the SLD is known: build texts for the other scans only,
        # in one call for the three time points
        where = [np.flatnonzero((i >= 0) & np.isnan(s)) for i, s in pairs]
        texts = sreason(np.concatenate([i[w] for (i, _), w in zip(pairs, where, strict=True)]))
        outs, start = [], 0
        for (i, _), w in zip(pairs, where, strict=True):
            out = np.full(len(i), None, dtype=object)
            out[w] = texts[start : start + len(w)]
            start += len(w)
            outs.append(out)
        return outs

    s_pre, s0, s1 = _take(sld, pre), _take(sld, base), _take(sld, fe)
    r_pre, r0, r1 = treasons((pre, s_pre), (base, s0), (fe, s1))
    r_pre = np.where(pre < 0, pt["pre_reason"], r_pre).astype(object)
    r0 = np.where(base < 0, pt["base_reason"], r0).astype(object)
    r1 = np.where(fe < 0, pt["fe_reason"], r1).astype(object)
    pne = pt["pre_not_evaluable"]
    r_pre[pne] = concat_text(
        r_pre[pne], "; no scan in the pre-baseline window has every baseline target measured"
    )
    d_pre, d0, d1 = tdate(pre), tdate(base), tdate(fe)
    with np.errstate(invalid="ignore", divide="ignore"):
        days_pre = (d0 - d_pre) / np.timedelta64(1, "D")
        days_on = (d1 - d0) / np.timedelta64(1, "D")
        chg = s1 - s0
        pct = np.where(s0 > 0, 100.0 * chg / s0, np.nan)

    # RECIST 1.1 at the first evaluation (nadir = baseline)
    cr = _take(
        np.asarray(_boolean_array(scans["targets_cr"]).fillna(False), dtype=bool), fe, False
    ).astype(bool)
    ntpd_s = _boolean_array(scans["non_target_pd"])
    ntcr_s = _boolean_array(scans["non_target_cr"])

    def take_bool(arr: pd.arrays.BooleanArray) -> pd.arrays.BooleanArray:
        return arr.take(fe, allow_fill=True)  # -1 (no first evaluation): NA

    ntpd, ntcr = take_bool(ntpd_s), take_bool(ntcr_s)
    nt_exp = np.asarray(_take(scans["n_non_targets_expected"], fe), dtype=float)
    nt_ass = np.asarray(_take(scans["n_non_targets_assessed"], fe), dtype=float)
    newl = np.asarray(_take(scans["new_lesions"], fe), dtype=float)
    new_org = np.asarray(_take(scans["new_organs"], fe), dtype=float)
    max_inv = np.asarray(_take(scans["max_new_lesions_in_involved_organ"], fe), dtype=float)
    new_flag = _boolean_array(np.nan_to_num(newl, nan=0.0) > 0)
    new_unknown = np.isnan(newl)
    if params.rules.new_lesions_when_unrecorded == "unknown":
        new_flag[new_unknown] = pd.NA

    s1_part = np.asarray(_take(scans["sld_measured_mm"], fe), dtype=float)
    t_exp = np.asarray(_take(scans["n_targets_expected"], fe), dtype=float)
    t_meas = np.asarray(_take(scans["n_targets_measured"], fe), dtype=float)
    no_targets = (fe >= 0) & (base >= 0) & (t_exp == 0)
    tgt_reason = r1.copy()
    nob = (fe >= 0) & (base < 0)
    tgt_reason[nob] = concat_text(
        "no baseline scan (",
        pd.Series(pt["base_reason"][nob], dtype=object)
        .fillna("")
        .astype(str)
        .to_numpy(dtype=object),
        ")",
    )
    badb = (fe >= 0) & (base >= 0) & np.isnan(s0)
    tgt_reason[badb] = concat_text(
        "baseline SLD not evaluable (",
        pd.Series(r0[badb], dtype=object).fillna("").astype(str).to_numpy(dtype=object),
        ")",
    )
    resp = scan_responses(
        ScanAssessment(
            sld_mm=s1,
            baseline_sld_mm=s0,
            nadir_mm=s0,
            targets_cr=cr,
            sld_measured_mm=s1_part,
            n_targets_expected=t_exp,
            n_targets_measured=t_meas,
            no_targets=no_targets,
            non_target_pd=ntpd,
            non_target_cr=ntcr,
            n_non_targets_expected=nt_exp,
            n_non_targets_assessed=nt_ass,
            new_lesion=new_flag,
            sld_reason=tgt_reason,
        )
    )
    tr, ovr, reason = resp.target_response, resp.overall_response, resp.response_reason
    ovr_before = ovr.copy()

    def ovr_was(idx: np.ndarray) -> np.ndarray:
        return ovr_before[idx].astype(object)

    nofe = fe < 0
    if params.rules.new_lesions_when_unrecorded == "unknown":
        # without new-lesion data RECIST PD is unknown unless the SLD alone (or non-target
        # progression) gives PD: a size-only SD/PR/CR would assume "no new lesion"
        unk = np.flatnonzero(new_unknown & ~nofe & (ovr != "PD") & (ovr != "NE"))
        if len(unk):
            ovr[unk] = "NE"
            reason[unk] = concat_text(
                "new lesions not recorded: RECIST PD unknown unless the SLD alone gives PD "
                "(rules.new_lesions_when_unrecorded=unknown; the SLD alone gives ",
                ovr_was(unk),
                "): ",
                pd.Series(reason[unk], dtype=object).fillna("").astype(str).to_numpy(dtype=object),
            )
    early = pt.get("n_early")
    if early is not None:  # on-treatment scans before the first-evaluation window: say so
        m = np.flatnonzero(~nofe & (early > 0))
        if len(m):
            reason[m] = concat_text(
                pd.Series(reason[m], dtype=object).fillna("").astype(str).to_numpy(dtype=object),
                "; ",
                _gfmt(early[m]),
                " on-treatment scan(s) before day "
                f"{params.windows.first_eval_min_days} not used (windows.first_eval_min_days)",
            )
    tr[nofe] = "NE"
    ovr[nofe] = "NE"
    reason[nofe] = concat_text(
        "no first evaluation: ",
        pd.Series(r1[nofe], dtype=object).astype(str).to_numpy(dtype=object),
    )

    st = pt["start"]
    fe_day = _take(dayv, fe)

    def text(values: np.ndarray, keep: np.ndarray | None = None) -> pd.Series:
        """Object column (None where ``keep`` is False), without dtype inference."""
        v = np.asarray(values, dtype=object)
        if keep is not None:
            v = np.where(keep, v, None)
        return pd.Series(v, dtype=object, copy=False)

    # copy=False: every column is a fresh array (no consolidation copy of ~30 columns)
    out = pd.DataFrame(
        {
            "patient_id": pat["patient_id"].to_numpy().copy(),
            "treatment_start": _to_dates(st),
            "prebaseline_date": d_pre,
            "baseline_date": d0,
            "first_eval_date": d1,
            "prebaseline_reason": text(pt["pre_reason"], pre < 0),
            "baseline_reason": text(pt["base_reason"], base < 0),
            "first_eval_reason": text(pt["fe_reason"], fe < 0),
            "sld_prebaseline_mm": s_pre,
            "sld_baseline_mm": s0,
            "sld_first_eval_mm": s1,
            "sld_prebaseline_reason": text(r_pre, np.isnan(s_pre)),
            "sld_baseline_reason": text(r0, np.isnan(s0)),
            "sld_first_eval_reason": text(r1, np.isnan(s1)),
            "days_pre_to_baseline": days_pre,
            "days_baseline_to_first_eval": days_on,
            "first_eval_day": fe_day,
            "sld_change_first_eval_mm": chg,
            "sld_pct_change_first_eval": pct,
            "recist_first_eval": text(ovr),
            "recist_first_eval_reason": text(reason),
            "target_response_first_eval": text(tr),
            "non_target_pd_first_eval": ntpd,
            "new_lesions_first_eval": _int_na(newl),
            "new_organs_first_eval": _int_na(new_org),
            "max_new_lesions_in_involved_organ_first_eval": _int_na(max_inv),
            "n_post_baseline_scans": np.array(pt["n_post"], dtype=np.int64),
        },
        copy=False,
    )
    extra = {}
    if "_n_organs_new" in scans:
        extra["n_organs_with_new_lesions_first_eval"] = _take(scans["_n_organs_new"], fe)
    return out, extra


#: the three scans of the kinetic analysis, by slot (see :func:`target_measurements`)
SLOTS = ("prebaseline", "baseline", "first_eval")


def target_measurements(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """The measurements that make the three SLDs of each patient (pre-baseline, baseline, first
    evaluation; :func:`first_evaluation_features`), one row per lesion and scan.

    Columns: ``row`` (position of the patient in ``cohort.patients``), ``slot`` (0 pre-baseline,
    1 baseline, 2 first evaluation: :data:`SLOTS`), ``diameter_mm`` (0 for a target recorded
    absent), ``is_lymph_node`` (bool; diameter = short axis), ``organ`` (lower case, stripped;
    None when not given) and ``is_sum`` (True: the row is a per-scan sum, when the cohort has no
    lesion table). Only the baseline target lesions measured at that scan, i.e. the rows summed
    into ``sld_*_mm``; for a scan whose SLD is missing (a target not measured) the rows of the
    measured targets are listed too. Used by the re-read model (:mod:`hpd_analysis.uncertainty`).
    """
    params = params or Parameters()
    scans, pt = _build(cohort, params, full=False)
    les = cohort.lesions
    cols = ["row", "slot", "diameter_mm", "is_lymph_node", "organ", "is_sum"]
    if les is None or not len(les):  # per-scan sums: one "measurement" per scan
        sld = np.asarray(scans["sld_mm"], dtype=float)
        rows, slots, vals = [], [], []
        for k, key in enumerate(("pre", "base", "fe")):
            idx = np.asarray(pt[key])
            v = _take(sld, idx)
            ok = np.flatnonzero(~np.isnan(v))
            rows.append(ok)
            slots.append(np.full(len(ok), k, dtype=np.int8))
            vals.append(v[ok])
        row = np.concatenate(rows)
        order = np.lexsort((np.concatenate(slots), row))
        m = len(row)
        return pd.DataFrame(
            {
                "row": row[order].astype(np.int64),
                "slot": np.concatenate(slots)[order],
                "diameter_mm": np.concatenate(vals)[order],
                "is_lymph_node": np.zeros(m, dtype=bool),
                "organ": np.full(m, None, dtype=object),
                "is_sum": np.ones(m, dtype=bool),
            },
            columns=cols,
        )
    rp = _patient_codes(cohort, les, "lesions")
    dday, _ = _check_dates(les, "assessment_date", "lesions", cohort)
    _, _, inv = _scan_keys(rp, dday)
    is_t = _factor_masks(les["lesion_type"], ("target",))[0]
    absent = (
        _factor_masks(les["status"], ("absent",))[0]
        if "status" in les.columns
        else np.zeros(len(les), dtype=bool)
    )
    lcode = _factorize(les["lesion_id"])[0].astype(np.int64, copy=False)
    nl = int(lcode.max()) + 1 if len(lcode) else 1
    key = rp * nl + lcode
    base = np.asarray(pt["base"])
    bt_keys = key[is_t & (inv == base[rp])]
    is_bt = is_t & pd.Series(key).isin(bt_keys).to_numpy()
    diam = _float_values(les, "diameter_mm")
    if diam is None:
        diam = np.full(len(les), np.nan)
    measured = is_bt & (~np.isnan(diam) | absent) & ~_bool_col(les, "not_evaluable")
    slot = np.full(len(les), -1, dtype=np.int8)
    for k, name in enumerate(("pre", "base", "fe")):
        at = np.asarray(pt[name])[rp]
        slot[measured & (at >= 0) & (inv == at)] = k
    keep = np.flatnonzero(slot >= 0)
    d = diam[keep]
    d[np.isnan(d)] = 0.0
    organ = np.full(len(keep), None, dtype=object)
    if "organ" in les.columns:
        o = les["organ"].to_numpy(dtype=object)[keep]
        known = ~pd.isna(o)
        organ[known] = pd.Index(o[known]).astype(str).str.strip().str.lower().to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "row": rp[keep],
            "slot": slot[keep],
            "diameter_mm": d,
            "is_lymph_node": _bool_col(les, "is_lymph_node")[keep],
            "organ": organ,
            "is_sum": np.zeros(len(keep), dtype=bool),
        },
        columns=cols,
    )
