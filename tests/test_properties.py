"""Properties of classification (hypothesis): verdicts don't depend on row order or patient-id
labels, TGR is scale-free, one output row per input patient, and a patient's verdict depends only
on its own rows. ``max_examples`` kept moderate so this file runs in well under a minute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpd_analysis.classify import add_rule_features, classify_features
from hpd_analysis.kinetics import compute_kinetics, tgk, tgr

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

sld = st.one_of(st.just(0.0), st.floats(1.0, 400.0))
maybe_sld = st.one_of(st.none(), sld)
days = st.one_of(st.none(), st.integers(-5, 200))


@st.composite
def patient_rows(draw, n_min=1, n_max=12):
    """Feature rows of random patients, including missing scans, zero SLDs, odd intervals."""
    n = draw(st.integers(n_min, n_max))
    rows = []
    start = pd.Timestamp("2021-01-01")
    for i in range(n):
        s_pre, s_0, s_1 = draw(maybe_sld), draw(sld), draw(maybe_sld)
        d_pre, d_on = draw(days), draw(days)
        has_pre, has_fe = s_pre is not None and d_pre is not None, s_1 is not None and \
            d_on is not None
        pct = 100 * (s_1 - s_0) / s_0 if has_fe and s_0 > 0 else np.nan
        rows.append({
            "patient_id": f"P{i}",
            "treatment_start": start,
            "prebaseline_date": start - pd.Timedelta(days=d_pre) if has_pre else pd.NaT,
            "baseline_date": start,
            "first_eval_date": start + pd.Timedelta(days=d_on) if has_fe else pd.NaT,
            "sld_prebaseline_mm": s_pre if has_pre else np.nan, "sld_baseline_mm": s_0,
            "sld_first_eval_mm": s_1 if has_fe else np.nan,
            "days_pre_to_baseline": float(d_pre) if has_pre else np.nan,
            "days_baseline_to_first_eval": float(d_on) if has_fe else np.nan,
            "first_eval_day": float(d_on) if has_fe else np.nan,
            "sld_change_first_eval_mm": s_1 - s_0 if has_fe else np.nan,
            "sld_pct_change_first_eval": pct,
            "recist_first_eval": draw(st.sampled_from(["PD", "SD", "PR", "NE"])) if has_fe
            else "NE",
            "new_lesions_first_eval": draw(st.integers(0, 3)),
            "new_organs_first_eval": draw(st.integers(0, 2)),
            "max_new_lesions_in_involved_organ_first_eval": draw(st.integers(0, 3)),
            "n_organs_with_new_lesions_first_eval": float(draw(st.integers(0, 3))),
            "n_post_baseline_scans": draw(st.integers(0, 3)) if has_fe else 0,
            "ttf_months": draw(st.floats(0.1, 10)), "ttf_event": draw(st.integers(0, 1)),
            "death_day": draw(st.one_of(st.none(), st.floats(1, 200))),
            "ecog_baseline": draw(st.one_of(st.none(), st.integers(0, 3))),
            "ecog_first_eval": draw(st.one_of(st.none(), st.integers(0, 4))),
        })
    return rows


def to_features(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in ("ttf_event", "ecog_baseline", "ecog_first_eval"):
        df[c] = pd.array(df[c].astype(object).where(df[c].notna(), None), dtype="Int64")
    df["death_day"] = df["death_day"].astype(float)
    for c in ("prebaseline_date", "first_eval_date"):
        df[c] = pd.to_datetime(df[c])
    return compute_kinetics(add_rule_features(df))


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in table.columns if c.startswith("hpd_")]
    return table.set_index("patient_id")[cols].sort_index()


@SETTINGS
@given(rows=patient_rows(), seed=st.integers(0, 2**31 - 1))
def test_verdicts_do_not_depend_on_row_order(rows, seed):
    perm = np.random.default_rng(seed).permutation(len(rows))
    a = classify_features(to_features(rows))
    b = classify_features(to_features([rows[i] for i in perm]))
    assert b.patient_id.tolist() == [rows[i]["patient_id"] for i in perm]
    pd.testing.assert_frame_equal(verdicts(a), verdicts(b))


@SETTINGS
@given(rows=patient_rows())
def test_verdicts_do_not_depend_on_patient_labels(rows):
    relabelled = [{**r, "patient_id": f"zz-{len(rows) - i}-{r['patient_id']}"}
                  for i, r in enumerate(rows)]
    a = classify_features(to_features(rows)).drop(columns="patient_id")
    b = classify_features(to_features(relabelled)).drop(columns="patient_id")
    pd.testing.assert_frame_equal(a, b)


@SETTINGS
@given(rows=patient_rows(n_min=2), keep=st.data())
def test_a_patients_verdict_depends_only_on_its_own_row(rows, keep):
    idx = keep.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, unique=True))
    full = verdicts(classify_features(to_features(rows)))
    part = verdicts(classify_features(to_features([rows[i] for i in idx])))
    pd.testing.assert_frame_equal(full.loc[part.index], part)


@SETTINGS
@given(rows=patient_rows())
def test_one_output_row_per_input_patient(rows):
    t = classify_features(to_features(rows))
    assert len(t) == len(rows)
    assert t.patient_id.tolist() == [r["patient_id"] for r in rows]
    for c in [c for c in t.columns if c.endswith("_status") and c.startswith("hpd_")]:
        assert t[c].notna().all()
        assert t[c.replace("_status", "_reason")].notna().all()


@SETTINGS
@given(a=st.floats(1, 500), b=st.floats(0, 500), d=st.floats(1, 400),
       k=st.floats(0.01, 100))
def test_tgr_unchanged_when_every_diameter_is_scaled(a, b, d, k):
    assert tgr(a * k, b * k, d) == pytest.approx(tgr(a, b, d), rel=1e-9, abs=1e-9)
    # TGK in absolute mode scales with the diameters, in relative mode it does not
    assert tgk(a * k, b * k, d) == pytest.approx(k * tgk(a, b, d), rel=1e-9, abs=1e-9)
    assert tgk(a * k, b * k, d, mode="relative") == pytest.approx(
        tgk(a, b, d, mode="relative"), rel=1e-9, abs=1e-9)


# -------------------------------------------------------------- from lesions (whole pipeline)

@st.composite
def lesion_cohorts(draw):
    """Small canonical cohorts: per patient 1-3 target lesions on 1-4 scans."""
    n = draw(st.integers(1, 5))
    start = pd.Timestamp("2021-03-01")
    patients, lesions = [], []
    for i in range(n):
        pid = f"P{i}"
        patients.append({"patient_id": pid, "treatment_start": start})
        n_les = draw(st.integers(1, 3))
        offsets = sorted(draw(st.lists(st.integers(-200, 120), min_size=1, max_size=4,
                                       unique=True)))
        for off in offsets:
            for j in range(n_les):
                lesions.append({"patient_id": pid,
                                "assessment_date": start + pd.Timedelta(days=off),
                                "lesion_id": f"L{j}", "lesion_type": "target",
                                "organ": ["lung", "liver", "bone"][j],
                                "diameter_mm": draw(st.floats(1, 100).map(lambda x: round(x, 1))),
                                "status": None})
    return pd.DataFrame(patients), pd.DataFrame(lesions)


def _classify_tables(patients: pd.DataFrame, lesions: pd.DataFrame) -> pd.DataFrame:
    from hpd_analysis.classify import classify
    from hpd_analysis.load import load_cohort

    return classify(load_cohort(patients=patients, lesions=lesions))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=lesion_cohorts(), seed=st.integers(0, 2**31 - 1), scale=st.floats(0.5, 3))
def test_pipeline_properties_from_lesions(tables, seed, scale):
    pytest.importorskip("hpd_analysis.timepoints")
    patients, lesions = tables
    rng = np.random.default_rng(seed)
    base = _classify_tables(patients, lesions)
    assert base.patient_id.tolist() == patients.patient_id.tolist()
    # shuffled rows of both tables: same verdicts, output in the (new) patient order
    p2 = patients.iloc[rng.permutation(len(patients))].reset_index(drop=True)
    l2 = lesions.iloc[rng.permutation(len(lesions))].reset_index(drop=True)
    shuffled = _classify_tables(p2, l2)
    assert shuffled.patient_id.tolist() == p2.patient_id.tolist()
    pd.testing.assert_frame_equal(verdicts(base), verdicts(shuffled))
    # every diameter scaled: TGR unchanged
    l3 = lesions.assign(diameter_mm=lesions.diameter_mm * scale)
    scaled = _classify_tables(patients, l3)
    np.testing.assert_allclose(scaled.tgr_pre.to_numpy(float), base.tgr_pre.to_numpy(float),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scaled.tgr_on.to_numpy(float), base.tgr_on.to_numpy(float),
                               rtol=1e-6, atol=1e-6)
    # dropping one patient's rows leaves every other verdict unchanged
    if len(patients) > 1:
        gone = patients.patient_id.iloc[0]
        rest = _classify_tables(patients[patients.patient_id != gone],
                                lesions[lesions.patient_id != gone])
        pd.testing.assert_frame_equal(verdicts(base).drop(index=gone), verdicts(rest))
