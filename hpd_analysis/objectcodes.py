"""Fast factorization of text columns: the lesion table's ``lesion_id``, ``organ`` and
``patient_id`` (:mod:`hpd_analysis.timepoints`) and the feature table's reason columns
(:mod:`hpd_analysis.definitions`).

These columns repeat a few distinct values over many rows. :func:`factorize` factorizes the
objects' *addresses* first (an integer hash pass, 2-3 times faster than hashing the strings),
then only the few distinct objects by value, so that equal values held by different objects
still get one code.

What it relies on, and what it does not:

- **Results never depend on object identity.** Whatever the array holds (one object per distinct
  text, a fresh object per row, numbers, None / NaN), :func:`factorize` returns exactly
  ``pd.factorize``'s codes and uniques; equal texts in different objects only make more distinct
  addresses, each then compared by value. The same holds for the runs of
  :func:`hpd_analysis.timepoints_kernel.codes_in` (a run break by address is looked up by value)
  and for the cache of :mod:`hpd_analysis.definitions` keyed by the addresses of its feature
  table's objects (alive as long as the table that holds them, so an address names one value).
  ``tests/test_timepoints.py`` and ``tests/test_timepoints_kernel.py`` check this on arrays whose
  equal strings are distinct objects.
- **Speed relies on sharing.** It is fast because the package shares one ``str`` per distinct
  text: the loader expands each distinct value of a text column (CSV and Parquet;
  ``tests/test_timepoints_kernel.py::test_loader_gives_one_object_per_distinct_text``) and the
  reason builders (:func:`hpd_analysis.recist.concat_text`) build each distinct text once. A
  table made otherwise (e.g. by hand, one object per row) gives the same result: when more than
  a quarter of its first rows hold distinct objects, :func:`factorize` goes by value at once
  (``pd.factorize``'s speed; factorizing a million distinct addresses would be several times
  slower).
- Addresses are read from the array's own buffer: they are valid while the array is alive, and
  the array must not be modified meanwhile (:func:`object_addresses`).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd

#: rows of the sample :func:`_objects_shared` looks at, and the share of distinct objects in it
#: above which :func:`factorize` goes by value
_SAMPLE_ROWS = 4096
_MAX_DISTINCT_SHARE = 0.25


def object_addresses(values: np.ndarray) -> np.ndarray:
    """Memory addresses of the objects an object array refers to, as a ``uintp`` view of the
    array's own buffer (no copy; valid while ``values`` is alive; read only).

    An object array stores one pointer per element (NumPy C API), so rows that refer to the same
    Python object have the same address.
    """
    if values.dtype != object or not values.flags.c_contiguous:
        raise ValueError("object_addresses: expected a C-contiguous object array")
    if not len(values):
        return np.zeros(0, dtype=np.uintp)
    buf = (ctypes.c_void_p * len(values)).from_address(values.ctypes.data)
    return np.frombuffer(memoryview(buf).cast("B"), dtype=np.uintp)


def object_array(values: pd.Series | np.ndarray) -> np.ndarray | None:
    """The values as a C-contiguous object array when they are one already (no copy), else
    None (categoricals, numbers, strided views ...)."""
    if isinstance(values, pd.Series):
        if values.dtype != object:
            return None
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype == object and values.flags.c_contiguous:
        return values
    return None


def factorize(
    values: pd.Series | np.ndarray, rows: np.ndarray | None = None, use_na_sentinel: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, use_na_sentinel=...)``: same codes (order of first appearance,
    -1 for missing unless ``use_na_sentinel=False``), same uniques. ``rows`` (positions):
    factorize only those rows, i.e. ``values[rows]``, without copying the objects first.
    Object arrays go by address (see the module docstring); anything else to pandas."""
    v = object_array(values)
    if v is None:
        if rows is not None:
            values = (
                values.iloc[rows] if isinstance(values, pd.Series) else np.asarray(values)[rows]
            )
        return pd.factorize(values, use_na_sentinel=use_na_sentinel)
    addresses = object_addresses(v)
    if rows is not None:
        addresses = addresses[rows]
    if not _objects_shared(addresses):  # (a table not built by the package)
        return pd.factorize(v if rows is None else v[rows], use_na_sentinel=use_na_sentinel)
    addr_codes, addrs = pd.factorize(addresses)
    first = _first_rows(addr_codes, len(addrs))
    if rows is not None:
        first = rows[first]
    value_codes, uniq = pd.factorize(v[first], use_na_sentinel=use_na_sentinel)
    # value_codes follow the first appearance of each object, hence of each value: the codes
    # are those pd.factorize gives on the whole column
    if (
        len(value_codes)
        and value_codes[-1] == len(value_codes) - 1
        and (len(uniq) == len(value_codes))
    ):
        return addr_codes, uniq  # one object per value and no NA: the codes already
    return value_codes[addr_codes], uniq


def _objects_shared(addresses: np.ndarray) -> bool:
    """Whether rows share objects, judged on the first :data:`_SAMPLE_ROWS` rows: at most a
    quarter of them distinct objects (or a small array). When each row holds its own object,
    factorizing the addresses is much slower than by value (the addresses, spaced a fixed step
    apart, collide in pandas' integer hash table)."""
    sample = addresses[:_SAMPLE_ROWS]
    if len(sample) < 1024:
        return True
    return len(np.unique(sample)) <= _MAX_DISTINCT_SHARE * len(sample)


def _first_rows(codes: np.ndarray, k: int) -> np.ndarray:
    """Row of the first appearance of each code ``0..k-1`` (codes in order of first appearance).

    The codes of a sorted table usually all appear within its first rows (every lesion id of
    the cohort within the first patients): look there first, the whole array only if needed."""
    first = np.empty(k, dtype=np.intp)
    for head in (codes[: 64 * k + 64], codes):
        if len(head) and head.max() == k - 1 or k == 0:
            first[head[::-1]] = np.arange(len(head) - 1, -1, -1)
            return first
    raise AssertionError("codes are not 0..k-1")  # pd.factorize codes always are
