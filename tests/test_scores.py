"""Clinical scores (RMH, LIPI) on hand-made patients; every expected value worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis import scores
from hpd_analysis.riskfactors import default_candidates, derive_risk_factors, table1


def _patients() -> pd.DataFrame:
    # p1: LDH 300/250 (ratio 1.2 > 1), albumin 30 < 35, 3 sites > 2 -> RMH 3 (poor);
    #     dNLR 6 / (8 - 6) = 3.0, not > 3 -> LIPI 0 + 1 = 1 (intermediate)
    # p2: LDH 250/250 (= ULN, not above), albumin 35 (not < 35), 2 sites -> RMH 0 (good);
    #     dNLR 7 / (9 - 7) = 3.5 > 3 -> LIPI 1 + 0 = 1 (intermediate)
    # p3: LDH 500/250 above, albumin 40, 5 sites -> RMH 2 (poor); dNLR 8 / (10 - 8) = 4 -> LIPI 2
    # p4: LDH 100/250 below, albumin 20 below, 0 sites -> RMH 1 (good);
    #     dNLR 2 / (6 - 2) = 0.5 -> LIPI 0 (good)
    # p5: albumin missing -> RMH missing (never a partial sum); LDH above + dNLR 1/(5-1) -> LIPI 1
    # p6: LDH missing -> both scores missing
    # p7: leukocytes < neutrophils (impossible) -> dNLR missing -> LIPI missing; RMH 1 (LDH)
    return pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(1, 8)],
            "ldh": [300.0, 250.0, 500.0, 100.0, 400.0, np.nan, 400.0],
            "ldh_uln": [250.0] * 7,
            "albumin_g_l": [30.0, 35.0, 40.0, 20.0, np.nan, 30.0, 40.0],
            "n_metastatic_sites": [3, 2, 5, 0, 1, 1, 1],
            "neutrophils": [6.0, 7.0, 8.0, 2.0, 1.0, 5.0, 6.0],
            "leukocytes": [8.0, 9.0, 10.0, 6.0, 5.0, 9.0, 5.0],
        }
    )


def test_rmh_score_by_hand():
    t = scores.rmh_score(_patients())
    assert t["rmh_score"].tolist()[:4] == [3, 0, 2, 1]
    assert t["rmh_score"].isna().tolist() == [False] * 4 + [True, True, False]
    assert t["rmh_score"].iloc[6] == 1
    assert t["rmh_group"].tolist()[:4] == ["poor (2-3)", "good (0-1)", "poor (2-3)", "good (0-1)"]
    assert t["rmh_group"].isna().tolist()[4:6] == [True, True]


def test_lipi_by_hand():
    w: list[str] = []
    t = scores.lipi(_patients(), w)
    assert t["lipi_score"].tolist()[:5] == [1, 1, 2, 0, 1]
    assert t["lipi_score"].isna().tolist()[5:] == [True, True]
    assert t["lipi_group"].tolist()[:5] == [
        "intermediate (1)",
        "intermediate (1)",
        "poor (2)",
        "good (0)",
        "intermediate (1)",
    ]
    assert any("leukocytes <= neutrophils" in m for m in w)


def test_dnlr_formula_by_hand():
    d = scores.derived_nlr(_patients())
    np.testing.assert_allclose(d.to_numpy()[:6], [3.0, 3.5, 4.0, 0.5, 0.25, 1.25])
    assert np.isnan(d.iloc[6])


def test_ldh_sources_in_order():
    # ratio first; a patient without a ratio falls back on ldh/ldh_uln, then on the boolean
    d = pd.DataFrame(
        {
            "ldh_uln_ratio": [1.01, 1.0, np.nan, np.nan, np.nan],
            "ldh": [100.0, 900.0, 300.0, np.nan, np.nan],
            "ldh_uln": [250.0] * 5,
            "ldh_above_uln": [False, True, False, True, np.nan],
        }
    )
    got = scores.ldh_above_uln(d)
    assert got.tolist()[:4] == [True, False, True, True]
    assert pd.isna(got.iloc[4])


def test_missing_inputs_give_no_column():
    d = pd.DataFrame({"ldh_uln_ratio": [2.0], "n_metastatic_sites": [3]})  # no albumin, no counts
    assert scores.rmh_score(d) is None and scores.lipi(d) is None
    out = scores.add_scores(d)
    assert "rmh_score" not in out and "lipi_score" not in out
    assert out["ldh_above_uln"].tolist() == [True]
    assert scores.derivable_columns(d.columns) == ["ldh_above_uln"]


def test_add_scores_never_overwrites_and_warns_on_units():
    d = _patients().assign(rmh_score=[9] * 7, albumin_g_l=[3.0, 3.5, 4.0, 2.0, np.nan, 3.0, 4.0])
    out = scores.add_scores(d)
    assert out["rmh_score"].tolist() == [9] * 7
    assert "rmh_score" in d and "lipi_score" not in d  # the input is not modified
    assert any("g/dL" in m for m in out.attrs["score_warnings"])


def test_scores_enter_table1_and_candidates():
    d = _patients().assign(hpd=[True, False, True, False, True, False, True])
    cand = default_candidates(d.columns)
    for c in ("ldh_above_uln", "rmh_score", "rmh_group", "lipi_score", "lipi_group", "dnlr"):
        assert c in cand
    assert "ldh_uln" not in cand
    derived = derive_risk_factors(d)
    assert derived["rmh_score"].iloc[0] == 3
    t1 = table1(d, "hpd", variables=["rmh_group"])
    assert "rmh_group" in set(t1["variable"])


def test_score_table_counts():
    t = scores.score_table(_patients())
    assert t.set_index("score").loc["rmh_score", "n_computed"] == 5
    assert t.set_index("score").loc["lipi_score", "n_missing"] == 2
    assert all("20" in c for c in t["citation"])


@pytest.mark.parametrize("albumin,expected", [(34.9, 1), (35.0, 0), (35.1, 0)])
def test_albumin_threshold_is_strict(albumin, expected):
    d = pd.DataFrame({"ldh_uln_ratio": [0.5], "albumin_g_l": [albumin], "n_metastatic_sites": [1]})
    assert scores.rmh_score(d)["rmh_score"].iloc[0] == expected
