"""Each array helper of :mod:`hpd_analysis.recist_kernel` equals a plain loop over rows or
patients (hypothesis draws, ties and empty inputs included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpd_analysis import recist_kernel as k

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = ["CR", "PR", "SD", "PD", "NE", "none", "other", ""]
words = st.lists(st.sampled_from(WORDS), max_size=30)
maybe_words = st.lists(st.one_of(st.none(), st.sampled_from(WORDS)), max_size=30)


@st.composite
def grouped(draw, elements, max_size=30):
    """Sorted patient codes 0, 0, 1, ... (contiguous groups) and one element per row."""
    sizes = draw(st.lists(st.integers(1, 5), max_size=max_size // 3))
    group = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    values = draw(st.lists(elements, min_size=len(group), max_size=len(group)))
    return group, values


# ------------------------------------------------------------------ text columns


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)), max_size=30))
def test_concat_text_is_row_wise_plus(rows):
    a = np.array([r[0] for r in rows], dtype=object)
    b = np.array([r[1] for r in rows], dtype=object)
    got = k.concat_text("(", a, ": ", b, ")")
    assert got.tolist() == [f"({x}: {y})" for x, y in rows]
    assert k.concat_text(a, "!").tolist() == [x + "!" for x in a]


@SETTINGS
@given(st.data())
def test_concat_coded_reads_values_by_code(data):
    values = np.array(data.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6)), object)
    codes = np.array(
        data.draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=20)), np.int64
    )
    got = k.concat_coded("<", (codes, values), ">")
    assert got.tolist() == ["<" + values[c] + ">" for c in codes]


@SETTINGS
@given(maybe_words)
def test_label_codes_and_level_values(values):
    labels = ("CR", "PR", "SD", "PD")
    codes = k.label_codes(np.array(values, dtype=object), labels)
    assert codes.tolist() == [labels.index(v) if v in labels else len(labels) for v in values]
    levels = k.level_values(labels)
    assert levels[codes].tolist() == [v if v in labels else None for v in values]


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.sampled_from(WORDS), st.integers(0, 3)), max_size=20))
def test_as_text(values):
    got = k.as_text(np.array(values, dtype=object), "missing")
    assert got.tolist() == ["missing" if v is None else str(v) for v in values]


# ------------------------------------------------------------------ nullable inputs


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.booleans()), max_size=20), st.booleans())
def test_bool_na_and_as_boolean(values, as_series):
    arr = pd.array(values, dtype="boolean")
    given_values = pd.Series(arr) if as_series else arr
    got, na = k.bool_na(given_values)
    assert got.tolist() == [bool(v) if v is not None else False for v in values]
    assert na.tolist() == [v is None for v in values]
    plain = np.array([bool(v) for v in values], dtype=bool)
    assert k.bool_na(plain)[0].tolist() == plain.tolist()
    assert k.as_boolean(plain).tolist() == plain.tolist()
    assert list(k.as_boolean(values)) == list(arr)


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)), max_size=20))
def test_float_na(values):
    as_float = np.array([np.nan if v is None else v for v in values], dtype=float)
    for form in (as_float, pd.array(values, dtype="Float64"), pd.Series(as_float)):
        got, na = k.float_na(form)
        assert got.tolist() == [0.0 if v is None else v for v in values]
        assert na.tolist() == [v is None for v in values]


# ------------------------------------------------------------------ rules on codes


@SETTINGS
@given(st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=1, max_size=25))
def test_first_match_is_the_first_true_condition(rows):
    conds = [np.array(c, dtype=bool) for c in zip(*rows, strict=True)]
    codes = [3, 1, 4, 1]
    want = [next((codes[j] for j in range(4) if row[j]), 9) for row in rows]
    assert k.first_match(conds, codes, 9).tolist() == want
    np.testing.assert_array_equal(k.first_match(conds, codes, 9), np.select(conds, codes, 9))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4), st.booleans()), max_size=30))
def test_combination_table_look_up_equals_the_rule_per_row(rows):
    sizes = (3, 5, 2)

    def rule(a, b, c):
        return np.where(c.astype(bool), a * 10 + b, -b)

    table = k.combination_table(rule, sizes)
    codes = [np.array(col, dtype=np.int64) for col in zip(*rows, strict=True)] or [
        np.zeros(0, np.int64)
    ] * 3
    got = table[k.combination_key(codes, sizes)]
    assert got.tolist() == [a * 10 + b if c else -b for a, b, c in rows]


@SETTINGS
@given(st.lists(st.lists(st.booleans(), min_size=3, max_size=3), max_size=25))
def test_join_flagged_joins_the_texts_of_the_true_flags(rows):
    texts = ["one", "two", "three"]
    flags = [np.array([r[j] for r in rows], dtype=bool) for j in range(3)]
    got = k.join_flagged(flags, texts)
    assert got.tolist() == [
        "; ".join(t for t, on in zip(texts, r, strict=True) if on) for r in rows
    ]


# ------------------------------------------------------------------ rows grouped by patient


@SETTINGS
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=30))
def test_patient_codes_in_order_of_first_appearance(ids):
    first: dict[str, int] = {}
    want = [first.setdefault(i, len(first)) for i in ids]
    assert k.patient_codes(np.array(ids, dtype=object)).tolist() == want
    assert k.patient_codes(np.array(sorted(ids), dtype=object)).tolist() == [
        sorted(set(ids)).index(i) for i in sorted(ids)
    ]


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30))
def test_sorted_order_is_a_stable_sort(rows):
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    want = sorted(range(len(rows)), key=lambda i: rows[i])  # Python's sort is stable
    assert k.sorted_order(a, b).tolist() == want


@SETTINGS
@given(grouped(st.one_of(st.just(np.inf), st.floats(0, 100))))
def test_min_before_is_the_smallest_earlier_value_of_the_patient(data):
    group, values = data
    starts = k.group_starts(group)
    assert starts.tolist() == [i == 0 or group[i] != group[i - 1] for i in range(len(group))]
    want = [
        min([values[j] for j in range(i) if group[j] == group[i]], default=np.inf)
        for i in range(len(group))
    ]
    assert k.min_before(np.array(values, dtype=float), starts).tolist() == want


@SETTINGS
@given(grouped(st.one_of(st.just(np.inf), st.integers(0, 50).map(float))))
def test_min_after_is_the_smallest_later_value_of_the_patient(data):
    group, values = data
    want = [
        min([values[j] for j in range(i + 1, len(group)) if group[j] == group[i]], default=np.inf)
        for i in range(len(group))
    ]
    assert k.min_after(np.array(values, dtype=float), group).tolist() == want


@SETTINGS
@given(grouped(st.booleans()))
def test_after_first_marks_rows_after_the_patients_first_event(data):
    group, event = data
    want = [any(event[j] for j in range(i) if group[j] == group[i]) for i in range(len(group))]
    assert k.after_first(np.array(event, dtype=bool), group).tolist() == want


@SETTINGS
@given(grouped(st.one_of(st.integers(0, 4).map(float), st.just(np.nan))))
def test_best_per_group_is_the_earliest_row_of_lowest_rank(data):
    group, rank = data
    want = []
    for g in dict.fromkeys(group.tolist()):
        rows = [i for i in range(len(group)) if group[i] == g]
        ranked = [i for i in rows if not np.isnan(rank[i])]  # NaN ranks last
        want.append(min(ranked, key=lambda i: (rank[i], i)) if ranked else rows[0])
    assert k.best_per_group(np.array(rank, dtype=float), group).tolist() == want


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20).map(float)), max_size=20),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20).map(float)), max_size=20),
)
def test_first_at_or_after_is_the_first_candidate_of_the_patient_in_time(queries, candidates):
    candidates = sorted(candidates)  # patient, then time (as the callers give them)
    want = []
    for g, t in queries:
        later = [j for j, (cg, ct) in enumerate(candidates) if cg == g and ct >= t]
        want.append(min(later, key=lambda j: (candidates[j][1], j)) if later else -1)

    def cols(rows, j, dtype):
        return np.array([r[j] for r in rows], dtype=dtype)

    got = k.first_at_or_after(
        cols(queries, 0, np.int64),
        cols(queries, 1, float),
        cols(candidates, 0, np.int64),
        candidate_time=cols(candidates, 1, float),
    )
    assert got.tolist() == want
