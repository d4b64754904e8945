"""Tumour kinetics (TGR, TGK) and every pitfall of compute_kinetics as an explicit reason."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.errors import ParameterError
from hpd_analysis.kinetics import KINETIC_COLUMNS, Reasons, compute_kinetics, tgk, tgr
from hpd_analysis.params import Parameters

DPM = 30.4375


def ferte_tgr(s_a: float, s_b: float, days: float) -> float:
    """Ferté's reference formula written out by hand."""
    return 100.0 * (math.exp(3.0 * math.log(s_b / s_a) / (days / DPM)) - 1.0)


def features(**cols) -> pd.DataFrame:
    """One-row-per-patient first-evaluation features (worked example by default)."""
    base = {
        "patient_id": ["P1"],
        "prebaseline_date": pd.to_datetime(["2020-01-08"]),
        "baseline_date": pd.to_datetime(["2020-06-01"]),
        "first_eval_date": pd.to_datetime(["2020-07-20"]),
        "prebaseline_reason": [None],
        "baseline_reason": [None],
        "first_eval_reason": [None],
        "sld_prebaseline_mm": [67.0],
        "sld_baseline_mm": [98.0],
        "sld_first_eval_mm": [171.0],
        "days_pre_to_baseline": [144.0],
        "days_baseline_to_first_eval": [49.0],
    }
    base.update(cols)
    n = max(len(v) for v in base.values())
    return pd.DataFrame({k: (list(v) * n if len(v) == 1 else list(v)) for k, v in base.items()})


# ------------------------------------------------------------------------------ worked example


def test_worked_example_pinned_to_reference_formula():
    k = compute_kinetics(features()).iloc[0]
    tgr_pre, tgr_on = ferte_tgr(67, 98, 144), ferte_tgr(98, 171, 49)
    tgk_pre, tgk_on = (98 - 67) / (144 / DPM), (171 - 98) / (49 / DPM)
    assert k.tgr_pre == pytest.approx(tgr_pre, abs=1e-6)
    assert k.tgr_on == pytest.approx(tgr_on, abs=1e-6)
    assert k.tgr_ratio == pytest.approx(tgr_on / tgr_pre, abs=1e-6)
    assert k.delta_tgr == pytest.approx(tgr_on - tgr_pre, abs=1e-6)
    assert k.tgk_pre == pytest.approx(tgk_pre, abs=1e-6)
    assert k.tgk_on == pytest.approx(tgk_on, abs=1e-6)
    assert k.tgk_ratio == pytest.approx(tgk_on / tgk_pre, abs=1e-6)
    # the spec's two-decimal values
    assert k.tgr_pre == pytest.approx(27.27, abs=0.005)
    assert k.tgr_on == pytest.approx(182.19, abs=0.005)
    assert k.tgr_ratio == pytest.approx(6.68, abs=0.005)
    assert k.delta_tgr == pytest.approx(154.92, abs=0.005)
    assert k.tgk_ratio == pytest.approx(6.92, abs=0.005)
    for c in KINETIC_COLUMNS:
        assert pd.isna(k[f"{c}_reason"]), c


def test_tgr_and_tgk_scalars_arrays_series():
    assert tgr(67, 98, 144) == pytest.approx(27.2696, abs=1e-4)
    assert isinstance(tgr(67, 98, 144), float)
    arr = tgr(np.array([67.0, 98.0]), np.array([98.0, 171.0]), np.array([144.0, 49.0]))
    assert isinstance(arr, np.ndarray) and arr.shape == (2,)
    s = tgk(
        pd.Series([67.0], index=[7]), pd.Series([98.0], index=[7]), pd.Series([144.0], index=[7])
    )
    assert isinstance(s, pd.Series) and list(s.index) == [7]
    assert s.iloc[0] == pytest.approx(31 / (144 / DPM))


def test_tgk_relative_is_percent_of_start_per_month():
    assert tgk(50, 60, DPM, mode="relative") == pytest.approx(20.0)
    assert tgk(50, 60, DPM) == pytest.approx(10.0)  # mm per month
    with pytest.raises(ParameterError):
        tgk(50, 60, 30, mode="log")


def test_tgr_undefined_inputs_are_nan_and_vanishing_tumour_is_minus_100():
    assert math.isnan(tgr(0, 10, 30))
    assert math.isnan(tgr(10, 12, 0))
    assert math.isnan(tgr(10, 12, -5))
    assert math.isnan(tgr(np.nan, 12, 30))
    assert tgr(10, 0, 30) == -100.0


def test_days_per_month_parameter():
    k = compute_kinetics(features(), Parameters(days_per_month=30.0)).iloc[0]
    assert k.tgk_on == pytest.approx(73 / (49 / 30.0))


# ---------------------------------------------------------------------------------- pitfalls


def test_no_prebaseline_scan_carries_upstream_reason():
    k = compute_kinetics(
        features(
            prebaseline_date=[pd.NaT, pd.NaT],
            prebaseline_reason=["no scan 1-183 days before baseline", None],
            sld_prebaseline_mm=[np.nan],
            days_pre_to_baseline=[np.nan],
        )
    )
    assert k.tgr_pre_reason.tolist() == [
        "no scan 1-183 days before baseline",
        "no pre-baseline scan",
    ]
    for c in ("tgr_pre", "tgr_ratio", "delta_tgr", "tgk_pre", "tgk_ratio"):
        assert k[c].isna().all()
        assert k[f"{c}_reason"].notna().all()
    assert k.tgr_on.notna().all()  # the on-treatment period is still computed


def test_zero_sld_at_prebaseline_and_baseline():
    k = compute_kinetics(features(sld_prebaseline_mm=[0.0, 67.0], sld_baseline_mm=[98.0, 0.0]))
    assert k.tgr_pre_reason[0] == "SLD = 0 mm at pre-baseline (log of 0)"
    assert k.tgk_pre[0] == pytest.approx(98 / (144 / DPM))  # absolute slope is defined
    assert k.tgr_pre_reason[1] == "SLD = 0 mm at baseline (log of 0)"
    assert k.tgr_on_reason[1] == "SLD = 0 mm at baseline (log of 0)"
    assert k.tgr_ratio_reason[1].startswith("SLD = 0 mm at baseline")
    rel = compute_kinetics(features(sld_prebaseline_mm=[0.0]), Parameters(tgk_mode="relative"))
    assert rel.tgk_pre_reason[0] == "SLD = 0 mm at pre-baseline (relative TGK undefined)"


@pytest.mark.parametrize("days", [0.0, -10.0])
def test_zero_or_negative_interval(days):
    k = compute_kinetics(features(days_pre_to_baseline=[days], days_baseline_to_first_eval=[days]))
    assert (
        k.tgr_pre_reason[0] == "zero or negative interval between pre-baseline and baseline scans"
    )
    assert k.tgk_on_reason[0] == (
        "zero or negative interval between baseline and first evaluation scans"
    )
    assert k.tgr_pre.isna().all() and k.tgk_on.isna().all()


def test_zero_pre_growth_makes_ratio_undefined():
    k = compute_kinetics(features(sld_prebaseline_mm=[98.0]))
    assert k.tgr_pre[0] == 0.0 and k.tgk_pre[0] == 0.0
    assert np.isnan(k.tgr_ratio[0]) and k.tgr_ratio_reason[0] == "TGR_pre = 0 (ratio undefined)"
    assert k.tgk_ratio_reason[0] == "TGK_pre = 0 (ratio undefined)"
    assert k.delta_tgr[0] == pytest.approx(k.tgr_on[0])  # the difference is still defined


def test_negative_pre_growth_policies():
    shrinking = features(sld_prebaseline_mm=[120.0], sld_first_eval_mm=[90.0])  # both negative
    growing = features(sld_prebaseline_mm=[120.0])  # pre negative, on positive
    ne = compute_kinetics(shrinking)
    assert np.isnan(ne.tgr_ratio[0])
    assert ne.tgr_ratio_reason[0].startswith("TGR_pre < 0")
    ratio = compute_kinetics(shrinking, Parameters(nonpositive_pre_growth="ratio"))
    assert ratio.tgr_ratio[0] == pytest.approx(ratio.tgr_on[0] / ratio.tgr_pre[0])
    assert ratio.tgr_ratio[0] > 0 and pd.isna(ratio.tgr_ratio_reason[0])
    inf = Parameters(nonpositive_pre_growth="infinite_if_on_positive")
    assert compute_kinetics(growing, inf).tgr_ratio[0] == np.inf
    k = compute_kinetics(shrinking, inf)
    assert np.isnan(k.tgr_ratio[0]) and "infinite_if_on_positive" in k.tgr_ratio_reason[0]
    with pytest.raises(ParameterError):
        compute_kinetics(growing, Parameters(nonpositive_pre_growth="zero"))


def test_death_or_clinical_progression_before_first_scan():
    k = compute_kinetics(
        features(
            first_eval_date=[pd.NaT, pd.NaT, pd.NaT],
            sld_first_eval_mm=[np.nan],
            days_baseline_to_first_eval=[np.nan],
            first_eval_reason=[None, None, "no scan 14 days or more after treatment start"],
            death_day=[30.0, np.nan, np.nan],
            pfs_event=pd.array([1, 1, 0], dtype="Int64"),
        )
    )
    assert k.tgr_on_reason.tolist() == [
        "death before the first evaluation scan",
        "clinical progression before the first evaluation scan",
        "no scan 14 days or more after treatment start",
    ]
    assert k.tgr_ratio_reason[0] == "death before the first evaluation scan"
    assert k.tgr_pre.notna().all()


def test_missing_sld_with_upstream_reason():
    k = compute_kinetics(
        features(
            sld_first_eval_mm=[np.nan], sld_first_eval_reason=["1 of 2 target lesions not measured"]
        )
    )
    assert k.tgr_on_reason[0] == "1 of 2 target lesions not measured"


def test_one_row_per_input_row_same_order_and_input_untouched():
    f = features(patient_id=["B", "A", "C"], sld_first_eval_mm=[171.0, 100.0, 50.0])
    before = f.copy()
    k = compute_kinetics(f)
    assert k.patient_id.tolist() == ["B", "A", "C"]
    pd.testing.assert_frame_equal(f, before)
    assert k.tgr_on[2] < 0 < k.tgr_on[0]


def test_missing_columns_raise_a_clear_error():
    with pytest.raises(ParameterError, match="days_pre_to_baseline"):
        compute_kinetics(features().drop(columns="days_pre_to_baseline"))


def test_noise_floor_on_the_pre_treatment_change():
    """guards.pre_change_floor_pct (default 10 %): |S_0 / S_pre - 1| = |68.3 / 68.2 - 1| = 0.15 %
    is within measurement error: both ratios not evaluable with that reason, ΔTGR and the rates
    kept; 67 -> 98 (+46 %) is untouched; 90.9 -> 100 (+10.01 %) is just above the floor."""
    from hpd_analysis.params import Guards

    f = features(
        sld_prebaseline_mm=[68.2, 67.0, 90.9],
        sld_baseline_mm=[68.3, 98.0, 100.0],
        sld_first_eval_mm=[69.2, 171.0, 150.0],
    )
    k = compute_kinetics(f)
    assert np.isnan(k.tgr_ratio[0]) and np.isnan(k.tgk_ratio[0])
    assert "within measurement error (< 10 %" in k.tgk_ratio_reason[0]
    assert k.tgr_pre[0] == pytest.approx(ferte_tgr(68.2, 68.3, 144))
    assert not np.isnan(k.delta_tgr[0])
    assert k.tgr_ratio[1] == pytest.approx(6.68, abs=0.005)
    assert not np.isnan(k.tgk_ratio[2])
    off = compute_kinetics(f, Parameters(guards=Guards(pre_change_floor_pct=0)))
    # by hand: TGK_on / TGK_pre = (0.9 / 49) / (0.1 / 144)
    assert off.tgk_ratio[0] == pytest.approx((0.9 / 49) / (0.1 / 144))
    with pytest.raises(ValueError, match="guards.pre_change_floor_pct=-1"):
        Guards(pre_change_floor_pct=-1)


# ------------------------------------------------------- the vectorized columns vs a plain version


def _plain_kinetics(s_pre, s_0, s_1, d_pre, d_on, floor_pct=10.0):
    """One patient's TGR/TGK values written out from the paper's formulas (default parameters:
    TGK in mm per month, ratios not evaluable when the pre-treatment rate is ≤ 0 or the
    pre-treatment SLD change is within the noise floor); None where undefined."""

    def rate_tgr(a, b, d):
        return ferte_tgr(a, b, d) if a > 0 and b > 0 and d > 0 else None

    def rate_tgk(a, b, d):
        return (b - a) / (d / DPM) if a >= 0 and b >= 0 and d > 0 else None

    out = {
        "tgr_pre": rate_tgr(s_pre, s_0, d_pre),
        # S_1 = 0 (tumour vanished) is -100 %: only S_0 = 0 makes the log undefined
        "tgr_on": -100.0 if s_0 > 0 and s_1 == 0 and d_on > 0 else rate_tgr(s_0, s_1, d_on),
        "tgk_pre": rate_tgk(s_pre, s_0, d_pre),
        "tgk_on": rate_tgk(s_0, s_1, d_on),
    }
    flat = s_pre > 0 and abs(s_0 / s_pre - 1.0) * 100.0 < floor_pct
    for kind in ("tgr", "tgk"):
        pre, on = out[f"{kind}_pre"], out[f"{kind}_on"]
        ok = pre is not None and on is not None and pre > 0 and not flat
        out[f"{kind}_ratio"] = on / pre if ok else None
    pre, on = out["tgr_pre"], out["tgr_on"]
    out["delta_tgr"] = on - pre if pre is not None and on is not None else None
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kinetic_columns_equal_a_plain_per_patient_version(seed):
    rng = np.random.default_rng(seed)
    n = 300
    sld = rng.choice([0.0, 10.0, 35.0, 60.0, 61.0, 98.0, 171.0], size=(n, 3))
    days = rng.choice([-7.0, 0.0, 28.0, 49.0, 144.0], size=(n, 2))
    f = features(
        patient_id=[f"P{i}" for i in range(n)],
        sld_prebaseline_mm=sld[:, 0],
        sld_baseline_mm=sld[:, 1],
        sld_first_eval_mm=sld[:, 2],
        days_pre_to_baseline=days[:, 0],
        days_baseline_to_first_eval=days[:, 1],
    )
    got = compute_kinetics(f)
    for i in range(n):
        want = _plain_kinetics(*sld[i], *days[i])
        for col in KINETIC_COLUMNS:
            value = got[col].iloc[i]
            if want[col] is None:
                assert np.isnan(value) and isinstance(got[f"{col}_reason"].iloc[i], str), (i, col)
            else:
                assert value == pytest.approx(want[col], rel=1e-12), (i, col)
                assert pd.isna(got[f"{col}_reason"].iloc[i]), (i, col)


def test_reasons_first_set_wins_in_the_order_added():
    t, f = True, False
    r = Reasons(5)
    r.add(np.array([t, t, f, f, f]), "first")
    # per-row reasons: a missing one is skipped (a later reason applies there)
    r.add(np.array([t, t, t, t, f]), np.array(["x", None, None, "upstream", None], dtype=object))
    # upstream reasons with a default where the upstream one is missing
    r.add(
        np.array([f, f, t, f, f]),
        (np.array([None, None, None, None, None], dtype=object), "default"),
    )
    assert r.reasons.tolist() == ["first", "first", "default", "upstream", None]
    assert r.defined.tolist() == [f, f, f, f, t]
    # another builder: its reasons, "not computable" where it has none
    s = Reasons.of(np.array([None, "kept", None, None, np.nan], dtype=object))
    s.add(np.ones(5, dtype=bool), r)
    assert s.reasons.tolist() == ["first", "kept", "default", "upstream", "not computable"]
