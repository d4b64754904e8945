"""Array helpers of :mod:`hpd_analysis.timepoints`: what makes the time-point and per-scan rules
fast on millions of lesion rows, apart from the rules themselves.

Each helper computes one plain thing, documented by what it computes (a per-group first/last,
a membership test, a count per group, a factorization) rather than how. None of them knows a
clinical rule: :mod:`hpd_analysis.timepoints` states the rules on named arrays and calls these.
``tests/test_timepoints_kernel.py`` checks each helper against a plain loop version (property
tests on random inputs).

Conventions: a *group* is an integer code ``0..n-1`` (a patient, a scan); an *index* of -1 means
"none"; dates are days since 1970-01-01 (float, NaN when missing) unless said otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .objectcodes import factorize, object_addresses, object_array
from .params import NS_PER_DAY

_NAT = np.iinfo(np.int64).min

# --------------------------------------------------------------------------- dates


def epoch_ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as int64 nanoseconds since 1970-01-01 (NaT: the int64 minimum)."""
    v = values if isinstance(values, pd.Series) else pd.Series(values)
    if v.dtype != "datetime64[ns]":
        v = pd.to_datetime(v)
        if v.dtype != "datetime64[ns]":
            v = v.astype("datetime64[ns]")
    return v.to_numpy().view("int64")


def epoch_days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as float days since 1970-01-01 (NaN for NaT); the time of day is ignored."""
    ns = epoch_ns(values)
    out = (ns // NS_PER_DAY).astype(float)
    out[ns == _NAT] = np.nan
    return out


def dates_from_days(days: np.ndarray) -> np.ndarray:
    """Float days since 1970-01-01 (NaN allowed) back to datetime64[ns] (NaT); fractions of a
    day are truncated."""
    days = np.asarray(days, dtype=float)
    missing = np.isnan(days)
    ns = np.where(missing, 0.0, days).astype(np.int64)  # whole days (truncated) since 1970
    ns *= NS_PER_DAY
    ns[missing] = _NAT
    return ns.view("datetime64[ns]")


# --------------------------------------------------------------------------- per group


def first_per_group(
    mask: np.ndarray, group: np.ndarray, n_groups: int, *, last: bool = False
) -> np.ndarray:
    """Index of the first (``last=True``: the last) True of ``mask`` in each group; -1 when a
    group has none. ``group`` must be sorted (rows of a group contiguous)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        g = group[idx]
        change = g[1:] != g[:-1]
        edge = np.r_[change, True] if last else np.r_[True, change]
        out[g[edge]] = idx[edge]
    return out


def take_or_fill(values: np.ndarray, idx: np.ndarray, fill: object = np.nan) -> np.ndarray:
    """``values[idx]`` with ``fill`` where ``idx`` is -1 (object dtype when ``fill`` is None or
    ``values`` are objects, else the common dtype of both)."""
    arr = np.asarray(values)
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


def count_per_group(
    group: np.ndarray, n_groups: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Number of rows of each group ``0..n_groups-1`` (int64), or the sum of ``weights`` over
    them (float) when given."""
    return np.bincount(group, weights=weights, minlength=n_groups)


def first_appearance_counts(group: np.ndarray, key: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (a scan), the number of rows whose ``key`` (a lesion) has no row in an earlier
    group, i.e. rows of the earliest group where their key appears (float)."""
    first = pd.Series(group).groupby(key).transform("min").to_numpy()
    return np.bincount(group[group == first], minlength=n_groups).astype(float)


def pair_counts(
    group: np.ndarray, value: np.ndarray, n_values: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (group, value) pairs among the rows (``0 <= value < n_values``): each pair's
    group (sorted by group, then value) and its number of rows."""
    pairs, counts = np.unique(group * n_values + value, return_counts=True)
    return pairs // n_values, counts


def max_per_group(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Largest of ``values`` in each group (float; 0 for a group without rows)."""
    out = np.zeros(n_groups, dtype=float)
    np.maximum.at(out, group, values.astype(float))
    return out


# --------------------------------------------------------------------------- text and codes


def format_numbers(x: np.ndarray) -> np.ndarray:
    """Numbers as short text (``42``, ``-3.5``: ``f"{v:g}"``), one shared str per distinct value
    (each distinct value is formatted once; 0 and -0 count as one value)."""
    uniq, inv = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    return np.array([f"{v:g}" for v in uniq], dtype=object)[inv.ravel()]


def text_where(mask: np.ndarray, text: str) -> np.ndarray:
    """``text`` where ``mask`` is True, None elsewhere (object array; one shared str)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = text
    return out


def codes_in(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (unique; -1 when absent), looking up each run of
    equal consecutive values once (fast when rows are grouped by patient, fastest when the runs
    follow ``index``; correct in any order)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.dtype, pd.CategoricalDtype):  # look up each category once
        lut = np.append(index.get_indexer(values.cat.categories).astype(np.int64), -1)
        return np.asarray(lut[values.cat.codes.to_numpy()])
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


def label_masks(values: pd.Series, labels: tuple[str, ...]) -> list[np.ndarray]:
    """One boolean mask per label (``values == label``), factorizing the column once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, u = values.cat.codes.to_numpy(), np.asarray(values.cat.categories, dtype=object)
    else:
        codes, uniq = factorize(values)
        u = np.asarray(uniq, dtype=object)
    out = []
    for label in labels:
        hit = np.flatnonzero(u == label)
        out.append(codes == hit[0] if len(hit) else np.zeros(len(values), dtype=bool))
    return out


def normalized_codes(values: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Codes of text values compared case- and space-insensitively (-1 when missing) and the
    number of distinct normalized values (only the few unique names are normalised); ``rows``:
    only at those positions."""
    raw, uniq = factorize(values, rows)
    norm = pd.Series(np.asarray(uniq, dtype=object)).astype(str).str.strip().str.lower()
    ncode = pd.factorize(norm)[0].astype(np.int64)
    lut = np.append(ncode, np.int64(-1))  # raw code -1 (missing) -> -1
    return lut[raw], (int(ncode.max()) + 1 if len(ncode) else 0)


def scan_keys(patient: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (patient, day) pairs of the rows (int64 patient codes, int64 days), sorted
    by patient then day: their patient codes, their days (float) and each row's pair index."""
    dmin = int(day.min()) if len(day) else 0
    span = int(day.max()) - dmin + 1 if len(day) else 1
    key = patient * span
    key += day
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


# --------------------------------------------------------------------------- membership


def isin_rows(key: np.ndarray, rows: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``key[i] in members`` for the rows selected by the mask ``rows`` (False elsewhere), by a
    hash look-up of the selected rows only."""
    out = np.zeros(len(key), dtype=bool)
    idx = np.flatnonzero(rows)
    if len(idx):
        out[idx] = pd.Series(key[idx]).isin(members).to_numpy()
    return out


def _dense_table_ok(key: np.ndarray, size: int, *member_sets: np.ndarray) -> bool:
    """True when keys and members are non-negative ints below a ``size`` small enough for a
    dense look-up table (about a byte per row)."""
    if size > max(4 * len(key), 1 << 20):
        return False
    return not (len(key) and (key.min() < 0 or any(len(m) and m.min() < 0 for m in member_sets)))


def member_rows(key: np.ndarray, rows: np.ndarray, members: np.ndarray, *, size: int) -> np.ndarray:
    """``key[i] in members`` for the rows selected by ``rows`` (False elsewhere).

    Keys are non-negative ints below ``size``: a dense lookup table when it is small, else a
    hash look-up on the selected rows only (:func:`isin_rows`).
    """
    if _dense_table_ok(key, size, members):
        table = np.zeros(size, dtype=bool)
        table[members] = True
        return rows & table[key]
    return isin_rows(key, rows, members)


def member_rows_of_two(
    key: np.ndarray,
    *,
    rows_a: np.ndarray,
    members_a: np.ndarray,
    rows_b: np.ndarray,
    members_b: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`member_rows` for two member sets over the same keys, with one look-up table
    (bit 1: in ``members_a``, bit 2: in ``members_b``) and one pass over the rows."""
    if _dense_table_ok(key, size, members_a, members_b):
        table = np.zeros(size, dtype=np.uint8)
        table[members_a] = 1
        table[members_b] |= 2
        flags = table[key]
        return rows_a & (flags & 1).astype(bool), rows_b & (flags & 2).astype(bool)
    return (isin_rows(key, rows_a, members_a), isin_rows(key, rows_b, members_b))


# --------------------------------------------------------------------------- columns


def bool_column(table: pd.DataFrame, col: str) -> np.ndarray:
    """A boolean column as a numpy bool array (missing values and an absent column: False)."""
    if col not in table.columns:
        return np.zeros(len(table), dtype=bool)
    v = table[col]
    if v.dtype == bool:
        return np.asarray(v.to_numpy())
    return np.asarray(pd.array(v, dtype="boolean").fillna(False), dtype=bool)


def float_column(table: pd.DataFrame, col: str) -> np.ndarray | None:
    """A numeric column as a float array (text that is not a number: NaN); None when absent."""
    if col not in table.columns:
        return None
    v = table[col]
    if v.dtype == np.float64:
        return np.asarray(v.to_numpy())
    return pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)


def int_na(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Float array (NaN = unknown) as nullable Int64."""
    v = np.asarray(values, dtype=float)
    mask = np.isnan(v)
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np.int64), mask)


def all_na_bool(n: int) -> pd.arrays.BooleanArray:
    """``n`` unknown booleans."""
    return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def boolean_array(values: object) -> pd.arrays.BooleanArray:
    """Boolean / nullable boolean values as a pandas nullable BooleanArray (fast path for numpy
    bool). :func:`hpd_analysis.recist_kernel.bool_na` splits such values into ``(values, NA
    mask)`` numpy arrays instead; this one keeps pandas' three-valued logic (``&``, ``|`` with
    NA) that the timepoint rules use."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    return pd.array(values, dtype="boolean")
