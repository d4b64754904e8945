"""Measurement uncertainty: the seeded re-read model, on patients built by hand.

Expected probabilities are computed in the test from the model's formula (normal CDF via
``math.erf``), not by the package: with one target lesion, re-read sums s0·exp(sd·z0) and
s1·exp(sd·z1) give RECIST PD (+20 %, the +5 mm holding for these sizes) with probability
Φ((ln(s1/s0) − ln 1.2) / (sd·√2)).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.classification import classify_table
from hpd_analysis.definitions import Definition
from hpd_analysis.load import load_cohort
from hpd_analysis.params import Parameters, Uncertainty
from hpd_analysis.timepoints import target_measurements
from hpd_analysis.uncertainty import reread_probabilities, reread_summary, simulate_rereads

PD_ONLY = Definition(
    code="pd_only",
    citation="test",
    rule="RECIST PD at first evaluation",
    parameters={},
    requires=("measurable_baseline",),
    criteria=["recist_first_eval == PD"],
)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _cohort():
    """A: one lung target 50 → 60 mm (exactly +20 %: PD in half the re-reads).
    B: one lung target 50 → 66 mm (+32 %). C: one liver target 50 → 40 mm (−20 %).
    D: no scan at all (never evaluable). E: one lymph node 30 → 40 mm (+33 %)."""
    start = pd.Timestamp("2021-03-01")
    patients = pd.DataFrame({"patient_id": list("ABCDE"), "treatment_start": [start] * 5})
    b, f = start - pd.Timedelta(days=3), start + pd.Timedelta(days=42)
    rows = [
        ("A", b, "L1", 50.0, "lung", False),
        ("A", f, "L1", 60.0, "lung", False),
        ("B", b, "L1", 50.0, "lung", False),
        ("B", f, "L1", 66.0, "lung", False),
        ("C", b, "L1", 50.0, "liver", False),
        ("C", f, "L1", 40.0, "liver", False),
        ("E", b, "N1", 30.0, "lymph node", True),
        ("E", f, "N1", 40.0, "lymph node", True),
    ]
    lesions = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "assessment_date",
            "lesion_id",
            "diameter_mm",
            "organ",
            "is_lymph_node",
        ],
    )
    lesions["lesion_type"] = "target"
    return load_cohort(patients=patients, lesions=lesions)


def _params(**kw) -> Parameters:
    return replace(Parameters(), uncertainty=Uncertainty(**kw))


def test_target_measurements_are_the_summed_diameters():
    m = target_measurements(_cohort(), Parameters())
    assert m["row"].tolist() == [0, 0, 1, 1, 2, 2, 4, 4]
    assert m["slot"].tolist() == [1, 2] * 4
    assert m["diameter_mm"].tolist() == [50, 60, 50, 66, 50, 40, 30, 40]
    assert m["is_lymph_node"].tolist() == [False] * 6 + [True] * 2
    assert m["organ"].tolist()[-1] == "lymph node"


def test_probabilities_follow_the_lognormal_model():
    n = 4000
    sd = 0.121
    rr = simulate_rereads(_cohort(), [PD_ONLY], _params(seed=3, spread=sd), n_rereads=n)
    prob = reread_probabilities(rr)["hpd_pd_only_prob"].to_numpy()
    s = sd * math.sqrt(2.0)
    expected_a = 0.5  # ln(1.2/1.2) = 0
    expected_b = _phi((math.log(66 / 50) - math.log(1.2)) / s)  # 0.7117
    expected_c = _phi((math.log(40 / 50) - math.log(1.2)) / s)  # 0.0090
    se = math.sqrt(0.25 / n)
    assert prob[0] == pytest.approx(expected_a, abs=4 * se)
    assert prob[1] == pytest.approx(expected_b, abs=4 * se)
    assert prob[2] == pytest.approx(expected_c, abs=4 * se)
    assert np.isnan(prob[3])  # no scan: never evaluable
    # the published verdicts (A and B PD, C not, D not evaluable)
    assert rr.published["pd_only"].tolist() == [1, 1, 0, -1, 1]


def test_zero_spread_reproduces_the_published_verdicts():
    cohort = _cohort()
    rr = simulate_rereads(cohort, [PD_ONLY], _params(spread=0.0), n_rereads=5)
    assert (rr.verdicts["pd_only"] == rr.published["pd_only"][None, :]).all()
    summary = reread_summary(rr).iloc[0]
    assert summary.jaccard == 1.0 and summary.kappa == 1.0
    assert summary.expected_percent == pytest.approx(75.0)  # 3 HPD of 4 evaluable
    assert summary.n_uncertain == 0


def test_node_and_organ_spreads():
    cohort = _cohort()
    # nodes exact, everything else spread: E (node +33 %) always PD
    rr = simulate_rereads(
        cohort, [PD_ONLY], _params(spread=0.3, node_spread=0.0, seed=1), n_rereads=300
    )
    prob = reread_probabilities(rr)["hpd_pd_only_prob"]
    assert prob.iloc[4] == 1.0
    assert 0.0 < prob.iloc[0] < 1.0
    # a per-organ spread of 0 for the liver: C (liver −20 %) never PD
    rr = simulate_rereads(
        cohort, [PD_ONLY], _params(spread=0.5, organ_spread="Liver=0", seed=1), n_rereads=300
    )
    assert reread_probabilities(rr)["hpd_pd_only_prob"].iloc[2] == 0.0


def test_seeded_and_byte_identical():
    cohort = _cohort()
    a = simulate_rereads(cohort, [PD_ONLY], _params(seed=11), n_rereads=50).verdicts["pd_only"]
    b = simulate_rereads(cohort, [PD_ONLY], _params(seed=11), n_rereads=50).verdicts["pd_only"]
    c = simulate_rereads(cohort, [PD_ONLY], _params(seed=12), n_rereads=50).verdicts["pd_only"]
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_self_agreement_by_hand():
    """Jaccard and kappa of the published verdicts against one re-read, by hand: A, B published
    HPD; with A's re-read not HPD and B's HPD, Jaccard = 1/2 over the evaluable-in-both."""
    from hpd_analysis.uncertainty import Rereads

    pub = np.array([1, 1, 0, -1, 0], dtype=np.int8)
    rr = Rereads(1, 0, {"x": np.array([[0, 1, 0, -1, 1]], dtype=np.int8)}, {"x": pub})
    row = reread_summary(rr).iloc[0]
    assert row.jaccard == pytest.approx(1 / 3)  # both HPD: B; either: A, B, E
    # 2 x 2 on A B C E: a=1 (B), b=1 (A), c=1 (E), d=1 (C): po = 0.5, pe = 0.5 → kappa 0
    assert row.kappa == pytest.approx(0.0)
    assert row.expected_percent == pytest.approx(50.0)
    assert row.changed_mean == 2.0


def test_classify_adds_prob_columns_only_when_asked():
    cohort = _cohort()
    plain = classify_table(cohort, [PD_ONLY])
    assert "hpd_pd_only_prob" not in plain.columns
    table = classify_table(cohort, [PD_ONLY], {"uncertainty.rereads": 20, "uncertainty.seed": 5})
    assert table["hpd_pd_only_prob"].notna().tolist() == [True, True, True, False, True]
    assert table.drop(columns="hpd_pd_only_prob").equals(plain)


def test_sum_only_cohorts_use_the_sum_spread():
    start = pd.Timestamp("2021-03-01")
    patients = pd.DataFrame({"patient_id": ["S"], "treatment_start": [start]})
    assessments = pd.DataFrame(
        {
            "patient_id": ["S", "S"],
            "assessment_date": [start - pd.Timedelta(days=2), start + pd.Timedelta(days=40)],
            "sld_mm": [100.0, 120.0],
            "new_lesions": [0, 0],
        }
    )
    cohort = load_cohort(patients=patients, assessments=assessments)
    m = target_measurements(cohort, Parameters())
    assert m["is_sum"].all() and m["diameter_mm"].tolist() == [100.0, 120.0]
    rr = simulate_rereads(
        cohort, [PD_ONLY], _params(spread=0.0, sum_spread=0.099, seed=2), n_rereads=2000
    )
    assert reread_probabilities(rr)["hpd_pd_only_prob"].iloc[0] == pytest.approx(0.5, abs=0.045)


@pytest.mark.parametrize(
    "kw", [{"rereads": -1}, {"spread": -0.1}, {"organ_spread": "lung"}, {"seed": 1.5}]
)
def test_bad_values_are_named(kw):
    key = next(iter(kw))
    with pytest.raises(ValueError, match=f"uncertainty.{key}="):
        Uncertainty(**kw)


def test_reread_figure_draws_every_definition():
    from hpd_analysis.plots import reread_uncertainty

    rr = simulate_rereads(
        _cohort(), [PD_ONLY, replace(PD_ONLY, code="pd_two")], _params(seed=4), n_rereads=30
    )
    fig = reread_uncertainty(reread_summary(rr))
    ax1, ax2 = fig.axes
    assert [t.get_text() for t in ax1.get_yticklabels()] == ["pd_only", "pd_two"]
    assert "30 simulated re-reads" in fig._suptitle.get_text()


def test_rereads_of_a_three_scan_file_without_new_lesions():
    """Wide file, no new-lesion column: published +20 % exactly (50 -> 60 mm) is PD by the SLD
    alone; a re-read below +20 % is NE (new lesions unknown), never SD, so the PD-only rule is
    HPD in about half the re-reads and evaluable only there (Φ(0) = 0.5, per-scan sum spread)."""
    from hpd_analysis.cohort import Cohort

    d = lambda k: pd.Timestamp("2021-03-01") + pd.Timedelta(days=k)  # noqa: E731
    wide = pd.DataFrame(
        {
            "patient_id": ["W"],
            "sld_baseline_mm": [50.0],
            "sld_first_eval_mm": [60.0],
            "date_baseline": [d(-3)],
            "date_first_eval": [d(40)],
        }
    )
    patients = pd.DataFrame({"patient_id": ["W"], "treatment_start": [d(0)]})
    cohort = Cohort(patients=patients, scans_wide=wide)
    rr = simulate_rereads(cohort, [PD_ONLY], _params(seed=9), n_rereads=2000)
    v = rr.verdicts["pd_only"][:, 0]
    assert set(np.unique(v)) == {-1, 1}  # HPD or not evaluable, never "not HPD"
    assert (v == 1).mean() == pytest.approx(0.5, abs=0.045)
