"""Agreement between definitions: Jaccard and Cohen's kappa on hand-made flags."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_table
from statsmodels.stats.inter_rater import cohens_kappa

from hpd_analysis.agreement import agreement, agreement_matrix, upset_data

T, F, NA = True, False, None
# both evaluable on the first 8 patients: 2 both, 1 a only, 1 b only, 4 neither
A = [T, T, T, F, F, F, F, F, NA, T]
B = [T, T, F, T, F, F, F, F, T, NA]


def test_jaccard_and_kappa_hand_computed():
    row = agreement(make_table({"a": A, "b": B})).iloc[0]
    assert (row["definition_a"], row["definition_b"]) == ("a", "b")
    assert row[
        ["n_both_evaluable", "n_both", "n_a_only", "n_b_only", "n_neither", "n_either"]
    ].tolist() == [8, 2, 1, 1, 4, 4]
    assert row["jaccard"] == pytest.approx(2 / 4)
    # Wilson interval of 2 of 4, by hand: centre (p + z²/2n) / (1 + z²/n), half-width
    # z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)
    z, n, p = 1.959963984540054, 4, 0.5
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row["jaccard_ci_low"] == pytest.approx(centre - half)
    assert row["jaccard_ci_high"] == pytest.approx(centre + half)
    # po = 6/8; pe = (3/8)(3/8) + (5/8)(5/8) = 34/64; kappa = (po - pe) / (1 - pe) = 7/15
    assert row["kappa"] == pytest.approx(7 / 15)
    assert row["percent_agreement"] == pytest.approx(75.0)


def test_kappa_ci_and_test_from_statsmodels():
    row = agreement(make_table({"a": A, "b": B})).iloc[0]
    ref = cohens_kappa(np.array([[2, 1], [1, 4]]), return_results=True)
    assert row["kappa_ci_low"] == pytest.approx(max(ref["kappa_low"], -1))
    assert row["kappa_ci_high"] == pytest.approx(min(ref["kappa_upp"], 1))
    assert row["kappa_p_value"] == pytest.approx(ref["pvalue_two_sided"])
    assert row["kappa_ci_low"] < row["kappa"] < row["kappa_ci_high"]
    assert "Cohen's kappa" in row["kappa_test"] and "95%" in row["kappa_test"]


def test_not_evaluable_patients_do_not_count():
    base = agreement(make_table({"a": A, "b": B})).iloc[0]
    # change the verdict of patients not evaluable under the other definition: nothing moves
    a2, b2 = list(A), list(B)
    b2[8], a2[9] = False, False
    moved = agreement(make_table({"a": a2, "b": b2})).iloc[0]
    cols = ["n_both_evaluable", "n_both", "n_either", "jaccard", "kappa"]
    assert moved[cols].tolist() == base[cols].tolist()


def test_identical_and_degenerate_definitions():
    same = agreement(make_table({"a": [T, F, F, T], "b": [T, F, F, T]})).iloc[0]
    assert same["jaccard"] == 1 and same["kappa"] == pytest.approx(1)
    none = agreement(make_table({"a": [F, F, F], "b": [F, F, NA]})).iloc[0]
    assert np.isnan(none["jaccard"]) and np.isnan(none["kappa"])
    assert "kappa undefined" in none["note"] and "jaccard undefined" in none["note"]
    nobody = agreement(make_table({"a": [NA, T], "b": [F, NA]})).iloc[0]
    assert nobody["n_both_evaluable"] == 0 and np.isnan(nobody["kappa"])


def test_pairs_in_definition_order_and_matrix():
    tab = make_table({"a": A, "b": B, "c": [T, F, T, F, F, F, F, F, F, F]})
    out = agreement(tab)
    assert list(zip(out["definition_a"], out["definition_b"], strict=True)) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    m = agreement_matrix(out, "jaccard")
    assert (m.to_numpy() == m.to_numpy().T).all()
    assert np.diag(m.to_numpy()).tolist() == [1, 1, 1]
    assert m.loc["c", "a"] == pytest.approx(out.loc[1, "jaccard"])
    assert agreement(tab, ["c", "a"])["definition_a"].tolist() == ["c"]


def test_upset_counts_only_patients_evaluable_under_all():
    tab = make_table({"a": A, "b": B})
    counts = upset_data(tab)
    assert counts.sum() == 8 and counts.attrs["n_excluded"] == 2
    assert counts.index.names == ["a", "b"]
    assert counts[(True, True)] == 2 and counts[(True, False)] == 1
    assert counts[(False, True)] == 1 and counts[(False, False)] == 4
    assert counts.iloc[0] == 4  # most frequent combination first


def test_jaccard_population_and_all_patients_variant():
    """The main Jaccard is on the patients evaluable under both (2 of 4, said in the table);
    Kas et al.'s variant counts every patient, not evaluable = not HPD: HPD under both = P0, P1
    (2); under either = P0, P1, P2, P3, P8 (B only, A not evaluable), P9 (A only, B not
    evaluable) = 6, so 2 / 6."""
    row = agreement(make_table({"a": A, "b": B})).iloc[0]
    assert row["jaccard_population"] == "patients evaluable under both definitions"
    assert (row["n_both_all"], row["n_either_all"]) == (2, 6)
    assert row["jaccard_all_patients"] == pytest.approx(2 / 6)
