"""Each array helper of :mod:`hpd_analysis.timepoints_kernel` (and the address-based factorize of
:mod:`hpd_analysis.objectcodes`) equals a plain, readable loop version, on random inputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hpd_analysis import timepoints_kernel as k
from hpd_analysis.objectcodes import factorize, object_addresses
from hpd_analysis.params import NS_PER_DAY

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
SETTINGS = settings(max_examples=60, deadline=None)

small_ints = st.integers(min_value=0, max_value=6)


@st.composite
def sorted_groups(draw, max_rows=40):
    """A sorted group code per row, the number of groups, and a boolean mask."""
    n_groups = draw(st.integers(min_value=1, max_value=8))
    groups = sorted(draw(st.lists(st.integers(0, n_groups - 1), max_size=max_rows)))
    mask = draw(st.lists(st.booleans(), min_size=len(groups), max_size=len(groups)))
    return np.array(groups, dtype=np.int64), n_groups, np.array(mask, dtype=bool)


# --------------------------------------------------------------------------- dates


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.integers(-20_000, 40_000)), max_size=20))
def test_epoch_days_and_back(days):
    dates = pd.Series(
        [pd.NaT if d is None else pd.Timestamp("1970-01-01") + pd.Timedelta(days=d) for d in days],
        dtype="datetime64[ns]",
    )
    got = k.epoch_days(dates)
    want = [np.nan if d is None else float(d) for d in days]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))
    np.testing.assert_array_equal(k.dates_from_days(got), dates.to_numpy())
    ns = k.epoch_ns(dates)
    for d, v in zip(days, ns, strict=True):
        assert v == (np.iinfo(np.int64).min if d is None else d * NS_PER_DAY)


def test_epoch_days_ignores_the_time_of_day():
    got = k.epoch_days(pd.Series(pd.to_datetime(["2021-03-01 23:59", "1969-12-31 06:00"])))
    np.testing.assert_array_equal(got, [18687.0, -1.0])


# --------------------------------------------------------------------------- per group


@SETTINGS
@given(sorted_groups(), st.booleans())
def test_first_per_group_equals_a_loop(data, last):
    group, n_groups, mask = data
    want = np.full(n_groups, -1)
    for i in range(len(group)):
        if mask[i] and (last or want[group[i]] < 0):
            want[group[i]] = i
    np.testing.assert_array_equal(k.first_per_group(mask, group, n_groups, last=last), want)


@SETTINGS
@given(
    hnp.arrays(np.float64, st.integers(0, 10), elements=st.floats(-5, 5)),
    st.lists(st.integers(-1, 9), max_size=12),
)
def test_take_or_fill_equals_a_loop(values, idx):
    idx = np.array([i if i < len(values) else -1 for i in idx], dtype=np.int64)
    got = k.take_or_fill(values, idx)
    want = [values[i] if i >= 0 else np.nan for i in idx]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))
    got_none = k.take_or_fill(values, idx, None)
    assert got_none.dtype == object
    assert list(got_none) == [values[i] if i >= 0 else None for i in idx]


@SETTINGS
@given(st.lists(small_ints, max_size=30), st.booleans())
def test_count_per_group_equals_a_loop(group, weighted):
    group = np.array(group, dtype=np.int64)
    weights = np.arange(len(group), dtype=float) / 4 if weighted else None
    want = np.zeros(7)
    for i, g in enumerate(group):
        want[g] += weights[i] if weighted else 1
    np.testing.assert_array_equal(k.count_per_group(group, 7, weights), want)


@SETTINGS
@given(st.lists(st.tuples(small_ints, small_ints), max_size=30))
def test_first_appearance_counts_equals_a_loop(rows):
    # rows: (group = a scan, key = a lesion)
    group = np.array([g for g, _ in rows], dtype=np.intp)
    key = np.array([key for _, key in rows], dtype=np.int64)
    earliest: dict[int, int] = {}
    for g, key_ in rows:
        earliest[key_] = min(g, earliest.get(key_, g))
    want = np.zeros(7)
    for g, key_ in rows:
        if earliest[key_] == g:
            want[g] += 1
    np.testing.assert_array_equal(k.first_appearance_counts(group, key, 7), want)


@SETTINGS
@given(st.lists(st.tuples(small_ints, small_ints), max_size=30))
def test_pair_counts_and_max_per_group_equal_a_loop(rows):
    group = np.array([g for g, _ in rows], dtype=np.int64)
    value = np.array([v for _, v in rows], dtype=np.int64)
    counts = Counter(rows)
    pairs = sorted(counts)
    got_group, got_counts = k.pair_counts(group, value, 7)
    assert list(got_group) == [g for g, _ in pairs]
    assert list(got_counts) == [counts[p] for p in pairs]
    want_max = np.zeros(7)
    for (g, _), c in counts.items():
        want_max[g] = max(want_max[g], c)
    np.testing.assert_array_equal(k.max_per_group(got_group, got_counts, 7), want_max)


# --------------------------------------------------------------------------- text and codes


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6) | st.sampled_from([0.0, 1.0, 42.0, -3.5]), max_size=20))
def test_format_numbers_equals_a_loop(x):
    x = [v + 0.0 for v in x]  # -0.0 and 0.0 are one distinct value (either text): not asked
    got = k.format_numbers(np.array(x, dtype=float))
    assert list(got) == [f"{v:g}" for v in x]


@SETTINGS
@given(st.lists(st.booleans(), max_size=20))
def test_text_where_equals_a_loop(mask):
    got = k.text_where(np.array(mask, dtype=bool), "why")
    assert list(got) == [("why" if m else None) for m in mask]


def _as_objects(values: list, copies: bool) -> np.ndarray:
    """An object array; ``copies``: equal strings are distinct objects (as a CSV reader may
    give) instead of one shared object."""
    out = np.empty(len(values), dtype=object)
    out[:] = [("".join(list(v)) if copies and isinstance(v, str) else v) for v in values]
    return out


texts = st.lists(
    st.one_of(st.none(), st.sampled_from(["A", "B", "C", "lung", " Lung "])), max_size=25
)


@SETTINGS
@given(texts, st.booleans())
def test_factorize_by_address_equals_pandas(values, copies):
    arr = _as_objects(values, copies)
    for na in (True, False):
        codes, uniq = factorize(arr, use_na_sentinel=na)
        want_codes, want_uniq = pd.factorize(arr, use_na_sentinel=na)
        np.testing.assert_array_equal(codes, want_codes)
        assert [str(u) for u in uniq] == [str(u) for u in want_uniq]
    rows = np.arange(len(arr))[::-1].copy()
    np.testing.assert_array_equal(factorize(arr, rows)[0], pd.factorize(arr[rows])[0])


@SETTINGS
@given(st.lists(st.sampled_from(["P1", "P2", "P3", "P9"]), max_size=25), st.booleans())
def test_codes_in_equals_a_loop(values, copies):
    index = pd.Index(["P3", "P1", "P2"])
    want = [index.get_loc(v) if v in index else -1 for v in values]
    series = pd.Series(_as_objects(values, copies), dtype=object)
    np.testing.assert_array_equal(k.codes_in(series, index), want)
    np.testing.assert_array_equal(k.codes_in(series.astype("category"), index), want)


@SETTINGS
@given(texts, st.booleans())
def test_label_masks_equals_a_loop(values, copies):
    series = pd.Series(_as_objects(values, copies), dtype=object)
    labels = ("A", "C", "absent")
    for got, label in zip(k.label_masks(series, labels), labels, strict=True):
        np.testing.assert_array_equal(got, [v == label for v in values])
    for got, label in zip(k.label_masks(series.astype("category"), labels), labels, strict=True):
        np.testing.assert_array_equal(got, [v == label for v in values])


@SETTINGS
@given(texts, st.booleans(), st.booleans())
def test_normalized_codes_equals_a_loop(values, copies, subset):
    series = pd.Series(_as_objects(values, copies), dtype=object)
    rows = np.arange(len(values))[::2].copy() if subset else None
    picked = [values[i] for i in rows] if rows is not None else values
    seen: dict[str, int] = {}
    want = []
    for v in picked:  # codes in order of first appearance of the normalized name
        if v is None:
            want.append(-1)
        else:
            want.append(seen.setdefault(v.strip().lower(), len(seen)))
    codes, n = k.normalized_codes(series, rows)
    np.testing.assert_array_equal(codes, want)
    assert n == len(seen)


@SETTINGS
@given(st.lists(st.tuples(small_ints, st.integers(-3, 3)), max_size=30), st.booleans())
def test_scan_keys_equals_a_loop(rows, presorted):
    if presorted:
        rows = sorted(rows)
    patient = np.array([p for p, _ in rows], dtype=np.int64)
    day = np.array([d for _, d in rows], dtype=np.int64)
    pairs = sorted(set(rows))
    scan_patient, scan_day, scan = k.scan_keys(patient, day)
    assert list(scan_patient) == [p for p, _ in pairs]
    assert list(scan_day) == [float(d) for _, d in pairs]
    assert list(scan) == [pairs.index(r) for r in rows]


# --------------------------------------------------------------------------- membership


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=30),
    st.lists(st.integers(0, 20), max_size=8),
    st.lists(st.integers(0, 20), max_size=8),
    st.sampled_from([21, 10**12]),  # dense table, or hash look-up
)
def test_membership_equals_a_loop(rows, members_a, members_b, size):
    key = np.array([key for key, _ in rows], dtype=np.int64)
    selected = np.array([s for _, s in rows], dtype=bool)
    a, b = np.array(members_a, dtype=np.int64), np.array(members_b, dtype=np.int64)
    want_a = [s and key_ in set(members_a) for key_, s in rows]
    want_b = [not s and key_ in set(members_b) for key_, s in rows]
    np.testing.assert_array_equal(k.member_rows(key, selected, a, size=size), want_a)
    np.testing.assert_array_equal(k.isin_rows(key, selected, a), want_a)
    got_a, got_b = k.member_rows_of_two(
        key, rows_a=selected, members_a=a, rows_b=~selected, members_b=b, size=size
    )
    np.testing.assert_array_equal(got_a, want_a)
    np.testing.assert_array_equal(got_b, want_b)


# --------------------------------------------------------------------------- columns


@pytest.mark.parametrize(
    "values",
    [
        [True, False, True],
        [True, None, False],
        pd.array([True, pd.NA, False], dtype="boolean"),
        ["x", "y", "z"],
    ],
)
def test_bool_and_float_columns_equal_a_loop(values):
    table = pd.DataFrame({"flag": values, "num": ["1.5", "x", None]})
    if isinstance(values[0], str):
        table = table.drop(columns="flag")
        np.testing.assert_array_equal(k.bool_column(table, "flag"), [False] * 3)
    else:
        want = [bool(v) if v is not None and v is not pd.NA else False for v in values]
        np.testing.assert_array_equal(k.bool_column(table, "flag"), want)
    np.testing.assert_array_equal(k.float_column(table, "num"), [1.5, np.nan, np.nan])
    assert k.float_column(table, "absent") is None
    np.testing.assert_array_equal(k.float_column(pd.DataFrame({"x": [1.0, 2.0]}), "x"), [1.0, 2.0])


def test_nullable_conversions():
    got = k.int_na(np.array([1.0, np.nan, 3.0]))
    assert list(got.astype(object)) == [1, pd.NA, 3]
    assert k.all_na_bool(2).isna().all()
    flags = k.boolean_array(np.array([True, False]))
    assert list(flags) == [True, False]
    assert list(k.boolean_array([True, None]).isna()) == [False, True]


# --------------------------------------------------------------------------- the guarantee


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_loader_gives_one_object_per_distinct_text(tmp_path, fmt):
    """objectcodes' speed (not its result) relies on the loader sharing one str object per
    distinct text in the lesion table's text columns: check that it does, from CSV and Parquet."""
    from hpd_analysis.load import load_cohort

    src = load_cohort(EXAMPLE)
    if fmt == "parquet":
        src.patients.to_parquet(tmp_path / "patients.parquet")
        src.lesions.to_parquet(tmp_path / "lesions.parquet")
        cohort = load_cohort(tmp_path)
    else:
        cohort = src
    for col in ("patient_id", "lesion_id", "organ", "lesion_type", "status"):
        values = cohort.lesions[col].to_numpy()
        assert values.dtype == object
        n_objects = len(np.unique(object_addresses(values)))
        assert n_objects == cohort.lesions[col].nunique(dropna=False), col


@pytest.mark.parametrize("layout", ["shared", "copies", "shared_head_then_copies", "copies_head"])
def test_factorize_of_large_arrays_equals_pandas_whether_objects_are_shared(layout):
    # a large array whose rows mostly hold their own objects goes by value (fast path guard);
    # a large shared one by address; either way the result is pandas'
    rng = np.random.default_rng(3)
    values = [None if i % 97 == 0 else f"T{int(i)}" for i in rng.integers(0, 30, 6000)]
    shared = _as_objects(values, copies=False)
    copies = _as_objects(values, copies=True)
    arr = {
        "shared": shared,
        "copies": copies,
        "shared_head_then_copies": np.concatenate([shared[:5000], copies[5000:]]),
        "copies_head": np.concatenate([copies[:5000], shared[5000:]]),
    }[layout]
    rows = np.arange(len(arr))[::-3].copy()
    for na in (True, False):
        codes, uniq = factorize(arr, use_na_sentinel=na)
        want_codes, want_uniq = pd.factorize(arr, use_na_sentinel=na)
        np.testing.assert_array_equal(codes, want_codes)
        assert [str(u) for u in uniq] == [str(u) for u in want_uniq]
        codes, uniq = factorize(arr, rows, use_na_sentinel=na)
        want_codes, want_uniq = pd.factorize(arr[rows], use_na_sentinel=na)
        np.testing.assert_array_equal(codes, want_codes)
        assert [str(u) for u in uniq] == [str(u) for u in want_uniq]
