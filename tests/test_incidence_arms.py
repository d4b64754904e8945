"""HPD incidence per treatment arm against a randomized comparator (Li et al., Oncologist
2023), pinned against R 4.2.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.errors import ParameterError
from hpd_analysis.incidence import NO_ARM, incidence_by_arm


def two_arms() -> pd.DataFrame:
    """12 / 200 HPD under atezolizumab, 5 / 210 under docetaxel, 3 not evaluable."""
    flags = [True] * 12 + [False] * 188 + [True] * 5 + [False] * 205 + [None] * 3
    flag = pd.array(flags, dtype="boolean")
    status = np.where(flag.isna(), "not_evaluable", np.where(flag.fillna(False), "hpd", "not_hpd"))
    return pd.DataFrame(
        {
            "hpd_x": flag,
            "hpd_x_status": status,
            "treatment": ["atezolizumab"] * 200 + ["docetaxel"] * 213,
        }
    )


def test_difference_newcombe_ci_odds_ratio_and_fisher_match_r():
    """R 4.2.2:
    w1 <- prop.test(12, 200, correct = FALSE)$conf.int; w0 <- prop.test(5, 210, correct = FALSE)$conf.int
    p1 <- 12/200; p0 <- 5/210; d <- p1 - p0                                  # Newcombe 1998 (10)
    d - sqrt((p1 - w1[1])^2 + (w0[2] - p0)^2); d + sqrt((w1[2] - p1)^2 + (p0 - w0[1])^2)
    or <- 12 * 205 / (188 * 5); se <- sqrt(1/12 + 1/188 + 1/5 + 1/205)      # Woolf
    fisher.test(matrix(c(12, 5, 188, 205), 2))$p.value
    -> 100 d 3.61904761905, CI -0.362641009666 .. 8.02717891396; OR 2.6170212766,
       CI 0.90498083674 .. 7.56789545603; Fisher p 0.0833128255071; Wilson 3.46521942543 ..
       10.1931692958 %"""
    out = incidence_by_arm(two_arms(), "treatment").set_index("arm")
    atezo = out.loc["atezolizumab"]
    assert atezo["reference_arm"] == "docetaxel"  # the comparator, not the first sorted arm
    assert (atezo["n_hpd"], atezo["n_evaluable"]) == (12, 200)
    np.testing.assert_allclose(
        atezo[
            [
                "difference_pp",
                "diff_ci_low",
                "diff_ci_high",
                "odds_ratio",
                "or_ci_low",
                "or_ci_high",
                "fisher_p",
                "ci_low",
                "ci_high",
            ]
        ].to_numpy(float),
        [
            3.61904761905,
            -0.362641009666,
            8.02717891396,
            2.6170212766,
            0.90498083674,
            7.56789545603,
            0.0833128255071,
            3.46521942543,
            10.1931692958,
        ],
        rtol=1e-10,
    )
    assert "Newcombe" in atezo["diff_ci_method"] and "Wilson" in atezo["diff_ci_method"]
    assert "Woolf" in atezo["or_ci_method"]
    doc = out.loc["docetaxel"]
    assert doc["n_evaluable"] == 210 and np.isnan(doc["difference_pp"])


def test_zero_cell_gives_no_odds_ratio_and_a_named_reference_works():
    d = two_arms()
    d.loc[d["treatment"] == "docetaxel", ["hpd_x", "hpd_x_status"]] = [False, "not_hpd"]
    out = incidence_by_arm(d, "treatment").set_index("arm")
    assert np.isnan(out.loc["atezolizumab", "odds_ratio"])
    assert out.loc["atezolizumab", "or_ci_method"].startswith("not estimable")
    assert np.isfinite(out.loc["atezolizumab", "diff_ci_low"])
    rev = incidence_by_arm(two_arms(), "treatment", reference="atezolizumab").set_index("arm")
    assert rev.loc["docetaxel", "difference_pp"] == pytest.approx(-3.61904761905, rel=1e-10)
    with pytest.raises(ParameterError, match="not an arm"):
        incidence_by_arm(two_arms(), "treatment", reference="nivolumab")
    with pytest.raises(ParameterError, match="no such column"):
        incidence_by_arm(two_arms(), "study_arm")


def test_arm_column_prefers_a_comparator():
    from hpd_analysis.incidence import arm_column

    d = two_arms()
    assert arm_column(d) == "treatment"
    d["arm"] = ["A", "B"] * (len(d) // 2) + ["A"]
    assert arm_column(d) == "treatment"  # docetaxel named there
    assert arm_column(d.drop(columns="treatment")) == "arm"
    assert arm_column(d.drop(columns=["treatment", "arm"])) is None


def test_patients_without_an_arm_are_counted_not_dropped():
    # 3 patients without a treatment value (1 HPD, 2 not HPD): their own row, no comparison
    d = two_arms()
    extra = pd.DataFrame(
        {
            "hpd_x": pd.array([True, False, False], dtype="boolean"),
            "hpd_x_status": ["hpd", "not_hpd", "not_hpd"],
            "treatment": [None, None, None],
        }
    )
    out = incidence_by_arm(pd.concat([d, extra], ignore_index=True), "treatment")
    assert out["n_evaluable"].sum() == 413  # 200 + 210 + 3: nobody lost
    row = out.set_index("arm").loc[NO_ARM]
    assert (row["n_hpd"], row["n_evaluable"]) == (1, 3)
    assert row["percent"] == pytest.approx(100 / 3)
    assert np.isnan(row["difference_pp"]) and np.isnan(row["odds_ratio"])
    # the arms' own numbers do not change
    np.testing.assert_allclose(
        out.set_index("arm").loc["atezolizumab", "difference_pp"], 3.61904761905, rtol=1e-10
    )
    assert NO_ARM not in set(incidence_by_arm(d, "treatment")["arm"])
