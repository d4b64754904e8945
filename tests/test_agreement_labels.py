"""The agreement table names the CI method of the Jaccard index (issue 14: labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from hpd_analysis.agreement import agreement


def test_jaccard_ci_method_is_named_and_is_wilson_of_n_both_over_n_either():
    a = [True] * 6 + [False] * 14 + [True] * 3
    b = [True] * 4 + [False] * 2 + [True] * 2 + [False] * 12 + [False] * 3
    tab = pd.DataFrame(
        {
            "hpd_a": pd.array(a, dtype="boolean"),
            "hpd_a_status": np.where(a, "hpd", "not_hpd"),
            "hpd_b": pd.array(b, dtype="boolean"),
            "hpd_b_status": np.where(b, "hpd", "not_hpd"),
        }
    )
    row = agreement(tab).iloc[0]
    assert row["jaccard_ci_method"] == "Wilson score 95% (n_both of n_either)"
    # n_both 4, n_either 4 + 5 (a only) + 2 (b only) = 11
    lo, hi = proportion_confint(4, 11, method="wilson")
    assert (row["jaccard_ci_low"], row["jaccard_ci_high"]) == pytest.approx((lo, hi))
