"""Kinetics, response and fast progression by group, on hand-made patients."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hpd_analysis import kinetics_summary as ks  # noqa: E402
from hpd_analysis import plots  # noqa: E402
from hpd_analysis.errors import ParameterError  # noqa: E402


def table() -> pd.DataFrame:
    """Five patients, two arms and one without arm; no pre-baseline scan for anyone (the
    situation of published per-scan sums); P4 has no first evaluation."""
    nan = np.nan
    fp = pd.array([False, True, False, None, False], dtype="boolean")
    st = np.where(fp.isna(), "not_evaluable", np.where(fp.fillna(False), "hpd", "not_hpd"))
    return pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3", "P4", "P5"],
            "arm": [1, 2, 2, 2, None],
            "tgr_on": [-10.0, 80.0, 20.0, nan, 0.0],
            "tgr_on_reason": [None, None, None, "no first evaluation", None],
            "tgk_on": [-1.0, 6.0, 2.0, nan, 0.0],
            "tgk_on_reason": [None, None, None, "no first evaluation", None],
            "sld_pct_change_first_eval": [-35.0, 60.0, 10.0, nan, 0.0],
            "sld_first_eval_reason": [None, None, None, "no first evaluation", None],
            "tgr_pre": [nan] * 5,
            "tgr_pre_reason": ["no pre-baseline scan"] * 5,
            "tgr_ratio": [nan] * 5,
            "tgr_ratio_reason": ["no pre-baseline scan"] * 5,
            "recist_first_eval": ["PR", "PD", "SD", None, "SD"],
            "hpd_fp": fp,
            "hpd_fp_status": st,
            "hpd_fp_reason": [
                "not HPD: <50 %",
                "HPD: ≥ 50 %",
                "not HPD: <50 %",
                "not evaluable: no first evaluation",
                "not HPD: <50 %",
            ],
            "hpd_ratio": pd.array([None] * 5, dtype="boolean"),
            "hpd_ratio_status": ["not_evaluable"] * 5,
            "hpd_ratio_reason": ["not evaluable: no pre-baseline scan"] * 5,
        }
    )


def test_group_of_keeps_patients_without_a_group():
    labels, levels = ks.group_of(table(), "arm")
    assert levels == ["1", "2", "arm missing"]
    assert labels.tolist() == ["1", "2", "2", "2", "arm missing"]
    labels, levels = ks.group_of(table(), None)
    assert levels == ["all"] and (labels == "all").all()
    with pytest.raises(ParameterError, match="nope"):
        ks.group_of(table(), "nope")


def test_kinetics_by_group_hand_computed():
    out = ks.kinetics_by_group(table(), "arm").set_index(["group", "quantity"])
    arm2 = out.loc[("2", "tgr_on")]
    assert arm2["n_patients"] == 3 and arm2["n"] == 2 and arm2["n_missing"] == 1
    assert arm2["median"] == pytest.approx(50.0)  # (80 + 20) / 2
    assert arm2["q1"] == pytest.approx(35.0) and arm2["q3"] == pytest.approx(65.0)
    assert arm2["min"] == 20.0 and arm2["max"] == 80.0
    assert arm2["main_reason_missing"] == "no first evaluation"
    assert arm2["unit"] == "% per month"
    # reason of a missing SLD change comes from sld_first_eval_reason
    assert (
        out.loc[("2", "sld_pct_change_first_eval"), "main_reason_missing"] == "no first evaluation"
    )
    pre = out.loc[("1", "tgr_pre")]
    assert pre["n"] == 0 and pre["n_missing"] == 1 and np.isnan(pre["median"])
    assert pre["main_reason_missing"] == "no pre-baseline scan"
    # every patient counted once per quantity
    assert out.xs("tgr_on", level="quantity")["n_patients"].sum() == 5
    assert list(out.index.get_level_values("group").unique()) == ["1", "2", "arm missing"]


def test_kinetics_infinite_values_counted_not_summarised():
    t = table()
    t.loc[0, "tgr_ratio"] = np.inf
    out = ks.kinetics_by_group(t, None).set_index("quantity")
    assert out.loc["tgr_ratio", "n_infinite"] == 1 and out.loc["tgr_ratio", "n"] == 0


def test_evaluability_notes_say_what_is_not_evaluable_and_why():
    notes = ks.evaluability_notes(table(), ["fp", "ratio"])
    text = " ".join(notes)
    assert "NOT EVALUABLE" in text and "no pre-baseline scan" in text and "TGR_on" in text
    assert "ratio (no pre-baseline scan)" in text
    assert "fp (" not in text  # fp is evaluable for some patients: not listed
    assert ks.evaluability_notes(table(), ["fp"], has_measurements=False)[0].startswith(
        "No tumour measurements"
    )
    t = table().assign(tgr_pre=1.0)
    assert not any("pre-treatment growth" in n for n in ks.evaluability_notes(t, ["fp"]))
    assert ks.has_pretreatment_kinetics(t) and not ks.has_pretreatment_kinetics(table())


def test_response_by_group_counts_and_percent_of_each_group():
    out = ks.response_by_group(table(), "arm").set_index(["group", "response"])
    assert out.loc[("2", "PD"), "n"] == 1 and out.loc[("2", "SD"), "n"] == 1
    assert out.loc[("2", "NE"), "n"] == 1  # no first evaluation -> NE, not dropped
    assert out.loc[("2", "PD"), "percent"] == pytest.approx(100 / 3)
    assert out.loc[("1", "PR"), "percent"] == 100.0
    assert out["n"].sum() == 5
    assert "NON-CR/NON-PD" not in out.index.get_level_values("response")
    with pytest.raises(ParameterError):
        ks.response_by_group(table().drop(columns="recist_first_eval"), "arm")


def test_fast_progression_by_group_n_over_N_and_wilson_ci():
    from statsmodels.stats.proportion import proportion_confint

    out = ks.fast_progression_by_group(table(), "arm", definition="fp").set_index("group")
    assert list(out.index) == ["all", "1", "2", "arm missing"]
    assert out.loc["2", "n_over_N"] == "1/2" and out.loc["2", "n_total"] == 3
    assert out.loc["2", "n_not_evaluable"] == 1
    assert out.loc["2", "main_reason_not_evaluable"] == "no first evaluation"
    assert out.loc["1", "main_reason_not_evaluable"] == ""
    lo, hi = proportion_confint(1, 2, method="wilson")
    assert out.loc["2", "ci_low"] == pytest.approx(100 * lo)
    assert out.loc["2", "ci_high"] == pytest.approx(100 * hi)
    assert out.loc["all", "n_over_N"] == "1/4" and out.loc["all", "percent"] == 25.0
    assert out["ci_method"].iloc[0].startswith("Wilson")
    with pytest.raises(ParameterError, match="not in the classification"):
        ks.fast_progression_by_group(table(), "arm", definition="gandara2018_fp")


def test_incidence_by_group_ungrouped_and_evaluable_definitions():
    assert ks.evaluable_definitions(table()) == ["fp"]
    out = ks.incidence_by_group(table(), None, ["fp", "ratio"])
    assert out["group"].tolist() == ["all", "all"]
    ratio = out.set_index("definition").loc["ratio"]
    assert ratio["n_evaluable"] == 0 and np.isnan(ratio["percent"])
    assert ratio["main_reason_not_evaluable"] == "no pre-baseline scan"


def test_grouping_note_and_plot():
    assert "1 (n=1), 2 (n=3), arm missing (n=1)" in ks.grouping_note(table(), "arm")
    assert ks.grouping_note(table(), None).startswith("Not split")
    fig = plots.on_treatment_plot(table(), "arm")
    assert len(fig.axes) == 2
    assert "1: n=1, 2: n=2" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)
