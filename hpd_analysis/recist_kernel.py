"""Array helpers behind the RECIST rules of :mod:`hpd_analysis.recist`: how they run fast on
millions of scans, kept apart from what they compute.

Nothing here knows RECIST. Four groups:

- **Text columns that share their strings.** A response or reason column holds a few distinct
  texts over millions of rows; :func:`concat_text` and :func:`concat_coded` build each distinct
  row text once and index it, :func:`label_codes` turns a label column into small integer codes,
  :func:`level_values` turns codes back into labels.
- **Nullable inputs as plain numpy arrays**: :func:`bool_na`, :func:`float_na`,
  :func:`as_boolean`, :func:`as_text`.
- **Rules on codes**: :func:`first_match` (``np.select`` as small integers: the first condition
  that holds wins); :func:`combination_table` runs a rule once on every combination of a few
  small codes, :func:`combination_key` gives each row's position in that table (a mixed-radix
  number: the rule is then a table look-up per row).
- **Rows grouped by patient** (each patient's rows contiguous, in date order; a group is an
  integer code per row): :func:`patient_codes`, :func:`sorted_order`, :func:`group_starts`,
  :func:`min_before` (the nadir: smallest value over earlier rows of the group),
  :func:`min_after` (the next event: smallest value over later rows of the group),
  :func:`after_first` (rows after the group's first event), :func:`best_per_group` (the row of
  lowest rank per group, earliest on ties), :func:`first_at_or_after` (for each query, the first
  candidate row of the same group at or after a time).

Each helper is tested equal to a plain loop over rows or patients (``tests/test_recist_kernel.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

# ------------------------------------------------------------------ text columns


def concat_text(*parts: str | np.ndarray) -> np.ndarray:
    """Row-wise ``part_1 + part_2 + ...`` of str constants and object arrays (same length).

    Same result as the ``+`` of object arrays, but each distinct row text is built once and
    shared: no per-row string objects for millions of rows with a few distinct reasons.
    """
    arrays = [np.asarray(p, dtype=object) for p in parts if not isinstance(p, str)]
    if not arrays:
        raise ValueError("concat_text needs at least one array")
    if not len(arrays[0]):
        return np.empty(0, dtype=object)
    coded = iter([text_codes(a) for a in arrays])
    return concat_coded(*[p if isinstance(p, str) else next(coded) for p in parts])


def text_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, use_na_sentinel=False)`` of an object array: ``(codes, distinct
    values)`` (no missing-value pass when every value is a str, the common case: the codes are
    the same then)."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return pd.factorize(values)
    return pd.factorize(values, use_na_sentinel=False)


def concat_coded(*parts: str | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """:func:`concat_text` of str constants and coded object arrays ``(codes, values)`` (row
    ``i`` of such a part is ``values[codes[i]]``; codes >= 0, not necessarily all used)."""
    coded = [
        (c, np.asarray(u, dtype=object)) for c, u in (p for p in parts if not isinstance(p, str))
    ]
    n = len(coded[0][0])
    key = coded[0][0]
    for c, u in coded[1:]:
        # codes of the distinct combinations so far, in order of first appearance
        key = pd.factorize(key * max(len(u), 1) + c)[0]
    k = int(key.max()) + 1 if n else 0
    first = np.zeros(k, dtype=np.int64)
    first[key[::-1]] = np.arange(n - 1, -1, -1)
    # the k distinct row texts, concatenated part by part as object arrays of length k
    distinct = iter([u[c[first]] for c, u in coded])
    head = parts[0]
    text = np.full(k, head, dtype=object) if isinstance(head, str) else next(distinct)
    for p in parts[1:]:
        text = text + (p if isinstance(p, str) else next(distinct))
    return text[key]


def as_text(values: np.ndarray, na: str) -> np.ndarray:
    """Object array ``values`` as str (``Series.fillna(na).astype(str)``; no copy when every
    value is a str already)."""
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, na, values)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object)
    return values


def label_codes(values: object, labels: Sequence[str]) -> np.ndarray:
    """Position of each value in ``labels``; ``len(labels)`` for any other value (NA included).

    One hash pass over the rows (instead of one string comparison per row and label), then the
    few distinct values are looked up."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    lookup = np.append(pd.Index(labels).get_indexer(uniques), -1)  # code -1 (NA) -> last
    lookup[lookup < 0] = len(labels)
    return lookup[codes]


def level_values(labels: Sequence[str]) -> np.ndarray:
    """The value of each code of :func:`label_codes` (None standing for any other value), as a
    read-only object array: ``level_values(labels)[codes]`` gives label columns whose rows share
    the few label strings."""
    out = np.array([*labels, None], dtype=object)
    out.flags.writeable = False
    return out


# ------------------------------------------------------------------ nullable inputs


def _unwrap(values: object) -> object:
    """A Series' values without conversion (numpy array or extension array); others as given."""
    if isinstance(values, pd.Series):
        return (
            values.array
            if isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
            else values.to_numpy()
        )
    return values


def bool_na(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Nullable boolean values as ``(values with NA read as False, NA mask)`` numpy arrays
    (fast path for numpy bool arrays and BooleanArrays, as Series or not)."""
    values = _unwrap(values)
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return values, np.zeros(len(values), dtype=bool)
    array = values if isinstance(values, pd.arrays.BooleanArray) else pd.array(values, "boolean")
    return array.to_numpy(dtype=bool, na_value=False), np.asarray(array.isna())


def float_na(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Nullable numbers as ``(float values with NA read as 0, NA mask)`` numpy arrays; NaN of a
    numpy float array is NA (as ``pd.array(values, dtype="Float64")`` reads it)."""
    values = _unwrap(values)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        na = np.isnan(values)
        return np.where(na, 0.0, values), na
    array = (
        values
        if isinstance(values, pd.arrays.FloatingArray | pd.arrays.IntegerArray)
        else pd.array(values, dtype="Float64")
    )
    return array.to_numpy(dtype=float, na_value=0.0), np.asarray(array.isna())


def as_boolean(values: object) -> pd.arrays.BooleanArray:
    """Values as a nullable BooleanArray (fast path for numpy bool arrays)."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    if isinstance(values, pd.Series) and values.dtype == bool:
        v = values.to_numpy()
        return pd.arrays.BooleanArray(v, np.zeros(len(v), dtype=bool))
    return pd.array(values, dtype="boolean")


# ------------------------------------------------------------------ rules on codes


def first_match(conds: Sequence[np.ndarray], codes: Sequence[int], default: int) -> np.ndarray:
    """``np.select(conds, codes, default)`` as small integers (int8): row ``i`` gets
    ``codes[k]`` of the first ``conds[k]`` true at ``i``, ``default`` when none is."""
    out = np.full(len(conds[0]), default, dtype=np.int8)
    for k in range(len(conds) - 1, -1, -1):  # written last to first: the first match stays
        np.putmask(out, conds[k], codes[k])
    return out


def combination_table(rule: Callable[..., np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """``rule`` evaluated once on every combination of codes ``0 <= c_j < sizes[j]``.

    ``rule(c_1, c_2, ...)`` receives one integer array per code, listing the combinations in
    the order of :func:`combination_key` (the last code varying fastest), and returns one value
    per combination. The result, indexed by :func:`combination_key`, equals the rule applied row
    by row; it is read-only."""
    grid = np.indices(tuple(sizes)).reshape(len(sizes), -1)
    out = np.asarray(rule(*grid))
    out.flags.writeable = False
    return out


def combination_key(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """Position of each row's combination of codes in a :func:`combination_table` of
    ``sizes``: the mixed-radix number ``(..((c_1 * s_2 + c_2) * s_3 + c_3)..)``."""
    key = np.asarray(codes[0]).astype(np.intp)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        key = key * size + c
    return key


# ------------------------------------------------------------------ rows grouped by patient


def patient_codes(ids: np.ndarray) -> np.ndarray:
    """Integer code per patient in order of first appearance (fast path when rows are grouped)."""
    ids = np.asarray(ids)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    heads = np.r_[True, ids[1:] != ids[:-1]]
    if pd.Index(ids[heads]).is_unique:
        return np.cumsum(heads, dtype=np.int64) - 1
    return pd.factorize(ids)[0].astype(np.int64)


def sorted_order(*keys: np.ndarray) -> np.ndarray:
    """Stable order sorting by ``keys`` (first key most significant); identity when sorted."""
    n = len(keys[0])
    if n < 2:
        return np.arange(n)
    le = np.ones(n - 1, dtype=bool)
    eq = np.ones(n - 1, dtype=bool)
    for k in keys:
        a, b = k[:-1], k[1:]
        le &= ~(eq & (a > b))
        eq &= a == b
    if le.all():
        return np.arange(n)
    return np.lexsort(tuple(reversed(keys)))


def group_starts(group: np.ndarray) -> np.ndarray:
    """True at the first row of each run of equal ``group`` codes (contiguous groups)."""
    if not len(group):
        return np.zeros(0, dtype=bool)
    return np.r_[True, group[1:] != group[:-1]]


def min_before(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Smallest of ``values`` over the earlier rows of the same group (``inf`` at a group's
    first row). Groups are contiguous, ``starts`` marks their first rows (:func:`group_starts`);
    no NaN in ``values`` (give a value that must never be the minimum as ``inf``)."""
    group = np.cumsum(starts, dtype=np.intp) - 1
    running = pd.Series(values).groupby(group).cummin().to_numpy(dtype=float)
    before = np.r_[np.inf, running[:-1]] if len(running) else running
    before[starts] = np.inf
    return before


def min_after(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Smallest of ``values`` over the later rows of the same group (``inf`` at a group's last
    row): with ``values`` the day of each event (``inf`` elsewhere), the day of the next event
    strictly after each row."""
    at_or_after = pd.Series(values[::-1]).groupby(group[::-1]).cummin().to_numpy()[::-1]
    return pd.Series(at_or_after).groupby(group).shift(-1).fillna(np.inf).to_numpy()


def after_first(event: np.ndarray, group: np.ndarray) -> np.ndarray:
    """True at the rows that follow (in row order) the first ``event`` row of their group."""
    n_event = event.astype(np.int64)
    return (pd.Series(n_event).groupby(group).cumsum().to_numpy() - n_event) > 0


def best_per_group(rank: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Row of lowest ``rank`` of each group (the earliest row among equal ranks), one per group
    in increasing group code."""
    by_rank = np.lexsort((rank, group))  # stable: earliest row first among equal ranks
    return by_rank[group_starts(group[by_rank])]


def first_at_or_after(
    query_group: np.ndarray,
    query_time: np.ndarray,
    candidate_group: np.ndarray,
    *,
    candidate_time: np.ndarray,
) -> np.ndarray:
    """For each query, the position (in the candidate arrays) of the first candidate of the same
    group whose time is at or after the query time; -1 when there is none.

    ``pd.merge_asof(direction="forward", by=group)`` with stable sorts: among candidates of the
    same time the first one (in candidate order) is taken."""
    left = pd.DataFrame({"_g": query_group, "_t": query_time, "_q": np.arange(len(query_group))})
    right = pd.DataFrame(
        {"_g": candidate_group, "_t": candidate_time, "_c": np.arange(len(candidate_group))}
    )
    m = pd.merge_asof(
        left.sort_values("_t", kind="mergesort"),
        right.sort_values("_t", kind="mergesort"),
        on="_t",
        by="_g",
        direction="forward",
    )
    out = np.full(len(query_group), -1, dtype=np.int64)
    found = m["_c"].notna().to_numpy()
    out[m["_q"].to_numpy()[found]] = m["_c"].to_numpy()[found].astype(np.int64)
    return out


def join_flagged(flags: Sequence[np.ndarray], texts: Sequence[str], sep: str = "; ") -> np.ndarray:
    """Row-wise ``sep.join(texts[k] for each k whose flags[k] is true at the row)`` (an empty
    text when none is), as an object array: each of the ``2 ** len(texts)`` joined texts is
    built once (:func:`combination_table`) and shared by its rows."""
    sizes = [2] * len(texts)

    def joined(*bits: np.ndarray) -> np.ndarray:
        rows = zip(*bits, strict=True)
        return np.array(
            [sep.join(t for t, on in zip(texts, row, strict=True) if on) for row in rows],
            dtype=object,
        )

    table = combination_table(joined, sizes)
    return table[combination_key([np.asarray(f, dtype=bool) for f in flags], sizes)]
