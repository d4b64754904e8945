"""Incidence with binomial CIs, strata, attrition: tiny hand-made classification tables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_table
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hpd_analysis.errors import CohortError, ParameterError
from hpd_analysis.incidence import (
    INCIDENCE_COLUMNS,
    NO_REASON,
    attrition,
    attrition_flow,
    definition_codes,
    group_labels,
    hpd_status,
    incidence,
)


def wilson(k: int, n: int, z: float = stats.norm.ppf(0.975)) -> tuple[float, float]:
    """Wilson score interval written out (Wilson 1927), as a fraction."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def champiat_like() -> pd.DataFrame:
    """Champiat 2017: 12 HPD among 131 evaluable patients, plus 3 not evaluable."""
    return make_table({"champiat2017": [True] * 12 + [False] * 119 + [None] * 3})


def test_wilson_ci_of_12_of_131_matches_formula_and_scipy():
    row = incidence(champiat_like(), method="wilson").iloc[0]
    assert (row["n_hpd"], row["n_evaluable"], row["n_total"]) == (12, 131, 134)
    assert row["percent"] == pytest.approx(100 * 12 / 131)  # 9.16 %, as published
    lo, hi = wilson(12, 131)
    assert row["ci_low"] == pytest.approx(100 * lo, abs=1e-9)
    assert row["ci_high"] == pytest.approx(100 * hi, abs=1e-9)
    ci = stats.binomtest(12, 131).proportion_ci(method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * ci.low, 100 * ci.high))
    assert row["ci_low"] == pytest.approx(5.32, abs=0.01)
    assert row["ci_high"] == pytest.approx(15.33, abs=0.01)
    assert row["ci_method"] == "Wilson score 95%"


def test_exact_ci_is_clopper_pearson():
    row = incidence(champiat_like(), method="exact").iloc[0]
    ci = stats.binomtest(12, 131).proportion_ci(method="exact")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * ci.low, 100 * ci.high))
    # Clopper-Pearson is wider than Wilson here
    w = incidence(champiat_like(), method="wilson").iloc[0]
    assert row["ci_low"] < w["ci_low"] and row["ci_high"] > w["ci_high"]
    assert row["ci_method"].startswith("Clopper-Pearson")


def test_alpha_sets_the_level():
    row90 = incidence(champiat_like(), alpha=0.10).iloc[0]
    lo, hi = wilson(12, 131, z=stats.norm.ppf(0.95))
    assert (row90["ci_low"], row90["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    assert row90["ci_method"] == "Wilson score 90%"


def test_not_evaluable_patients_are_not_in_the_denominator():
    tab = make_table({"x": [True, True, True, False, False, False, False, False, None, None]})
    row = incidence(tab).iloc[0]
    assert list(incidence(tab).columns) == INCIDENCE_COLUMNS
    assert (row["n_hpd"], row["n_evaluable"], row["n_total"]) == (3, 8, 10)
    assert row["percent"] == pytest.approx(37.5)
    assert row["stratum"] == "all"


def test_strata_rows_include_missing_values_and_add_up():
    tab = make_table(
        {"x": [True, False, True, None, False, True, False]},
        sex=["F", "F", "M", "M", None, None, "F"],
    )
    out = incidence(tab, by="sex")
    assert out["stratum"].tolist() == ["all", "sex=F", "sex=M", "sex=missing"]
    by = out.set_index("stratum")
    assert by.loc["sex=F", ["n_hpd", "n_evaluable", "n_total"]].tolist() == [1, 3, 3]
    assert by.loc["sex=M", ["n_hpd", "n_evaluable", "n_total"]].tolist() == [1, 1, 2]
    assert by.loc["sex=missing", ["n_hpd", "n_evaluable", "n_total"]].tolist() == [1, 2, 2]
    strata = by.drop(index="all")
    for c in ("n_hpd", "n_evaluable", "n_total"):
        assert strata[c].sum() == by.loc["all", c]


def test_numeric_strata_read_as_integers_and_several_by_columns():
    tab = make_table(
        {"x": [True, False, False, True]},
        ecog_baseline=[0.0, 1.0, 1.0, np.nan],
        arm=["A", "B", "A", "B"],
    )
    out = incidence(tab, by=["ecog_baseline", "arm"])
    assert out["stratum"].tolist() == [
        "all",
        "ecog_baseline=0",
        "ecog_baseline=1",
        "ecog_baseline=missing",
        "arm=A",
        "arm=B",
        "arm=missing",
    ]
    assert out.loc[out["stratum"] == "arm=missing", "n_total"].item() == 0


def test_no_evaluable_patient_gives_nan_not_a_warning():
    tab = make_table({"x": [None, None]}, sex=["F", "M"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = incidence(tab, by="sex")
    assert out["percent"].isna().all() and out["ci_low"].isna().all()
    assert out["n_total"].tolist() == [2, 1, 1, 0]


def test_zero_hpd_has_ci_starting_at_zero():
    row = incidence(make_table({"x": [False] * 20})).iloc[0]
    assert row["percent"] == 0 and row["ci_low"] == 0
    assert row["ci_high"] == pytest.approx(100 * wilson(0, 20)[1])


def test_definitions_inferred_listed_or_rejected():
    tab = make_table({"a": [True, None], "b": [False, True]})
    assert definition_codes(tab) == ["a", "b"]
    assert incidence(tab, ["b"])["definition"].tolist() == ["b"]
    assert incidence(tab, "hpd_a")["definition"].tolist() == ["a"]

    class Def:
        code = "a"

    assert definition_codes(tab, [Def()]) == ["a"]
    with pytest.raises(ParameterError, match="hpd_zzz.*available: a, b"):
        incidence(tab, ["zzz"])
    with pytest.raises(ParameterError, match="method"):
        incidence(tab, method="normal-ish")


def test_status_read_from_flag_when_status_column_absent():
    tab = make_table({"x": [True, False, None]}, status=False)
    assert hpd_status(tab, "x").tolist() == ["hpd", "not_hpd", "not_evaluable"]
    assert incidence(tab)["n_evaluable"].item() == 2


def test_status_contradicting_flag_is_a_clear_error():
    tab = make_table({"x": [True, False, None]})
    tab.loc[1, "hpd_x_status"] = "hpd"
    with pytest.raises(CohortError, match=r"classification:3: hpd_x_status: status 'hpd'"):
        incidence(tab)
    tab.loc[1, "hpd_x_status"] = "maybe"
    with pytest.raises(CohortError, match="not a verdict"):
        incidence(tab)
    tab.loc[1, "hpd_x_status"] = "hpd"  # the one status helper: figures and report too
    with pytest.raises(CohortError, match="contradicts hpd_x"):
        hpd_status(tab, "hpd_x")


def test_status_takes_a_code_or_its_columns():
    tab = make_table({"x": [True, False, None]})
    want = ["hpd", "not_hpd", "not_evaluable"]
    for name in ("x", "hpd_x", "hpd_x_status"):
        assert hpd_status(tab, name).tolist() == want


def test_attrition_counts_every_patient_once_per_definition():
    reasons = ["", "", "no pre-baseline scan", "no pre-baseline scan", "TGR_pre <= 0", "", ""]
    tab = make_table(
        {
            "x": [True, False, None, None, None, None, False],
            "y": [True, True, True, True, True, True, True],
        },
        reasons={"x": reasons},
    )
    att = attrition(tab)
    assert list(att.columns[:5]) == ["definition", "status", "reason_category", "reason", "n"]
    assert att.groupby("definition")["n"].sum().tolist() == [7, 7]
    x = att[att["definition"] == "x"]
    assert x["status"].tolist() == [
        "hpd",
        "not_hpd",
        "not_evaluable",
        "not_evaluable",
        "not_evaluable",
    ]
    assert x["n"].tolist() == [1, 2, 2, 1, 1]
    ne = dict(zip(x["reason"].iloc[2:], x["n"].iloc[2:], strict=True))
    assert ne == {"no pre-baseline scan": 2, NO_REASON: 1, "TGR_pre <= 0": 1}
    y = att[att["definition"] == "y"]
    assert y["n"].tolist() == [7, 0]  # the empty verdict is still listed
    assert att.groupby("definition")["percent_of_cohort"].sum().tolist() == pytest.approx(
        [100, 100]
    )


def test_attrition_flow_children_add_up_to_parents():
    tab = make_table({"x": [True, False, None, None, False]})
    flow = attrition_flow(tab)
    n = dict(zip(flow["node"], flow["n"], strict=True))
    assert n["cohort"] == 5 and n["evaluable"] == 3 and n["not evaluable"] == 2
    for parent in ("cohort", "evaluable", "not evaluable"):
        assert flow.loc[flow["parent"] == parent, "n"].sum() == n[parent]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=40),
    st.lists(st.sampled_from(["no scan", "S=0", ""]), min_size=40, max_size=40),
)
def test_attrition_always_sums_to_cohort_size(flags, reasons):
    tab = make_table({"x": flags}, reasons={"x": reasons[: len(flags)]})
    att = attrition(tab)
    assert att["n"].sum() == len(flags)
    inc = incidence(tab).iloc[0]
    assert inc["n_evaluable"] == att.loc[att["status"] != "not_evaluable", "n"].sum()


def test_group_labels_for_hpd_and_patient_columns():
    tab = make_table({"x": [True, False, None]}, arm=["B", None, "A"])
    labels, levels, ref, why = group_labels(tab, "x")
    assert labels.tolist()[:2] == ["HPD", "non-HPD"] and pd.isna(labels.iloc[2])
    assert levels == ["HPD", "non-HPD"] and ref == "non-HPD"
    assert why.iloc[2] == "not evaluable under x"
    labels, levels, ref, why = group_labels(tab, "arm")
    assert levels == ["A", "B"] and ref == "A" and why.iloc[1] == "arm missing"
    with pytest.raises(ParameterError, match="no such column"):
        group_labels(tab, "nope")


def test_attrition_groups_reasons_differing_by_a_patient_detail():
    reasons = [
        "no first evaluation: died (day 45)",
        "no first evaluation: died (day 18)",
        "1 of 2 lesion(s) not measured",
        "",
    ]
    tab = make_table({"x": [None, None, None, True]}, reasons={"x": reasons})
    ne = attrition(tab).query("status == 'not_evaluable'")
    assert dict(zip(ne["reason"], ne["n"], strict=True)) == {
        "no first evaluation: died": 2,
        "1 of 2 lesion(s) not measured": 1,
    }
    raw = attrition(tab, collapse_details=False).query("status == 'not_evaluable'")
    assert len(raw) == 3 and raw["n"].sum() == 3


def test_classification_read_back_from_csv_gives_the_same_incidence(tmp_path):
    tab = make_table(
        {"x": [True, False, None, True], "y": [None, None, False, True]}, sex=["F", "M", None, "F"]
    )
    path = tmp_path / "classification.csv"
    tab.to_csv(path, index=False)
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(incidence(back, by="sex"), incidence(tab, by="sex"))
    pd.testing.assert_frame_equal(attrition(back), attrition(tab))
    bad = back.assign(hpd_x=["yes?", "False", None, "True"])
    with pytest.raises(CohortError, match="hpd_x: value 'yes\\?' is not a flag"):
        incidence(bad)


def test_bounds_are_exactly_0_and_100_at_the_extremes():
    for method in ("wilson", "exact", "jeffreys"):
        out = incidence(make_table({"x": [False] * 14, "y": [True] * 14}), method=method)
        assert out["ci_low"].tolist()[0] == 0.0 and out["ci_high"].tolist()[1] == 100.0


def test_reason_categories_group_detailed_reasons():
    from hpd_analysis.incidence import OTHER_REASON, reason_category

    reasons = pd.Series(
        [
            "not evaluable: no pre-baseline scan",
            "not evaluable: pre-baseline scan more than 84 days before treatment start",
            "not evaluable: no first evaluation: died before first evaluation (day 35)",
            "not evaluable: baseline scan more than 42 days before treatment start",
            "not evaluable: target not evaluable: 1 of 2 baseline target lesion(s) not measured",
            "not evaluable: TGR_pre < 0: tumour shrinking before treatment",
            "not evaluable: no target lesion at baseline",
            "something new",
        ]
    )
    assert reason_category(reasons).tolist() == [
        "no usable pre-baseline scan",
        "no usable pre-baseline scan",
        "died before first evaluation",
        "no usable baseline scan",
        "target lesion(s) not measured",
        "pre-treatment growth ≤ 0 (ratio undefined)",
        "no measurable disease at baseline",
        OTHER_REASON,
    ]


def test_death_before_first_evaluation_is_an_outcome_of_its_own():
    """5 patients: HPD, not HPD, two not evaluable who died before the first evaluation (one of
    them HPD under the fast-progression-like definition b), one not evaluable for another
    reason. Attrition: 'died_before_first_eval' counts the not-evaluable deaths (a: 2, b: 1);
    incidence: n_died_before_first_eval = 2 whatever the verdict."""
    tab = make_table(
        {"a": [True, False, None, None, None], "b": [True, False, True, None, None]},
        reasons={
            "a": [
                "",
                "",
                "died before first evaluation (day 20)",
                "died before first evaluation (day 30)",
                "no pre-baseline scan",
            ],
            "b": ["", "", "", "died before first evaluation (day 30)", "no pre-baseline scan"],
        },
        died_before_first_eval=[False, False, True, True, False],
    )
    att = attrition(tab).set_index(["definition", "status"])
    assert att.loc[("a", "died_before_first_eval"), "n"] == 2
    assert att.loc[("b", "died_before_first_eval"), "n"] == 1
    assert att.loc[("a", "not_evaluable"), "n"] == 1
    for code in ("a", "b"):
        assert att.loc[code, "n"].sum() == 5  # every patient once
    inc = incidence(tab).set_index("definition")
    assert inc.loc["a", "n_died_before_first_eval"] == 2
    assert (inc.loc["a", "n_hpd"], inc.loc["a", "n_evaluable"]) == (1, 2)
    flow = attrition_flow(tab).set_index(["definition", "node"])
    assert flow.loc[("a", "died before first evaluation"), "n"] == 2
    level1 = flow.reset_index().query("definition == 'a' and level == 1")
    assert level1.n.sum() == 5
