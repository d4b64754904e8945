"""Properties of classification (hypothesis): verdicts don't depend on row order or patient-id
labels, TGR is scale-free, one output row per input patient, attrition sums to the cohort size,
and a patient's verdict depends only on its own rows.

The first tests work on feature rows (fast, 25 examples each); the ``random_cohorts`` tests at the
end run 1,000 random lesion-level cohorts through ``load_cohort`` and ``classify`` (DataFrames, no
files), four per call, and take most of this file's time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hpd_analysis.classification import add_rule_features, classify_features
from hpd_analysis.kinetics import compute_kinetics, tgk, tgr

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

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
        has_pre, has_fe = (
            s_pre is not None and d_pre is not None,
            s_1 is not None and d_on is not None,
        )
        pct = 100 * (s_1 - s_0) / s_0 if has_fe and s_0 > 0 else np.nan
        rows.append(
            {
                "patient_id": f"P{i}",
                "treatment_start": start,
                "prebaseline_date": start - pd.Timedelta(days=d_pre) if has_pre else pd.NaT,
                "baseline_date": start,
                "first_eval_date": start + pd.Timedelta(days=d_on) if has_fe else pd.NaT,
                "sld_prebaseline_mm": s_pre if has_pre else np.nan,
                "sld_baseline_mm": s_0,
                "sld_first_eval_mm": s_1 if has_fe else np.nan,
                "days_pre_to_baseline": float(d_pre) if has_pre else np.nan,
                "days_baseline_to_first_eval": float(d_on) if has_fe else np.nan,
                "first_eval_day": float(d_on) if has_fe else np.nan,
                "sld_change_first_eval_mm": s_1 - s_0 if has_fe else np.nan,
                "sld_pct_change_first_eval": pct,
                "recist_first_eval": draw(st.sampled_from(["PD", "SD", "PR", "NE"]))
                if has_fe
                else "NE",
                "new_lesions_first_eval": draw(st.integers(0, 3)),
                "new_organs_first_eval": draw(st.integers(0, 2)),
                "max_new_lesions_in_involved_organ_first_eval": draw(st.integers(0, 3)),
                "n_organs_with_new_lesions_first_eval": float(draw(st.integers(0, 3))),
                "n_post_baseline_scans": draw(st.integers(0, 3)) if has_fe else 0,
                "ttf_months": draw(st.floats(0.1, 10)),
                "ttf_event": draw(st.integers(0, 1)),
                "death_day": draw(st.one_of(st.none(), st.floats(1, 200))),
                "ecog_baseline": draw(st.one_of(st.none(), st.integers(0, 3))),
                "ecog_first_eval": draw(st.one_of(st.none(), st.integers(0, 4))),
            }
        )
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
    relabelled = [
        {**r, "patient_id": f"zz-{len(rows) - i}-{r['patient_id']}"} for i, r in enumerate(rows)
    ]
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
@given(a=st.floats(1, 500), b=st.floats(0, 500), d=st.floats(1, 400), k=st.floats(0.01, 100))
def test_tgr_unchanged_when_every_diameter_is_scaled(a, b, d, k):
    assert tgr(a * k, b * k, d) == pytest.approx(tgr(a, b, d), rel=1e-9, abs=1e-9)
    # TGK in absolute mode scales with the diameters, in relative mode it does not
    assert tgk(a * k, b * k, d) == pytest.approx(k * tgk(a, b, d), rel=1e-9, abs=1e-9)
    assert tgk(a * k, b * k, d, mode="relative") == pytest.approx(
        tgk(a, b, d, mode="relative"), rel=1e-9, abs=1e-9
    )


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
        offsets = sorted(
            draw(st.lists(st.integers(-200, 120), min_size=1, max_size=4, unique=True))
        )
        for off in offsets:
            for j in range(n_les):
                lesions.append(
                    {
                        "patient_id": pid,
                        "assessment_date": start + pd.Timedelta(days=off),
                        "lesion_id": f"L{j}",
                        "lesion_type": "target",
                        "organ": ["lung", "liver", "bone"][j],
                        "diameter_mm": draw(st.floats(1, 100).map(lambda x: round(x, 1))),
                        "status": None,
                    }
                )
    return pd.DataFrame(patients), pd.DataFrame(lesions)


def _classify_tables(
    patients: pd.DataFrame, lesions: pd.DataFrame, params: dict | None = None
) -> pd.DataFrame:
    from hpd_analysis.classification import classify_table
    from hpd_analysis.load import load_cohort

    return classify_table(load_cohort(patients=patients, lesions=lesions), params=params)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=lesion_cohorts(), seed=st.integers(0, 2**31 - 1), scale=st.floats(0.5, 3))
def test_pipeline_properties_from_lesions(tables, seed, scale):
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
    # every diameter scaled: TGR unchanged (without the RECIST size floor, not scale-free)
    no_size_floor = {"rules.baseline_target_min_mm": 0, "rules.baseline_node_min_mm": 0}
    unscaled = _classify_tables(patients, lesions, no_size_floor)
    l3 = lesions.assign(diameter_mm=lesions.diameter_mm * scale)
    scaled = _classify_tables(patients, l3, no_size_floor)
    np.testing.assert_allclose(
        scaled.tgr_pre.to_numpy(float), unscaled.tgr_pre.to_numpy(float), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        scaled.tgr_on.to_numpy(float), unscaled.tgr_on.to_numpy(float), rtol=1e-6, atol=1e-6
    )
    # dropping one patient's rows leaves every other verdict unchanged
    if len(patients) > 1:
        gone = patients.patient_id.iloc[0]
        rest = _classify_tables(
            patients[patients.patient_id != gone], lesions[lesions.patient_id != gone]
        )
        pd.testing.assert_frame_equal(verdicts(base).drop(index=gone), verdicts(rest))


# ------------------------------------------- random cohorts through the loader (≥ 1,000 total)
# Properties over random lesion-level cohorts of 1-8 patients run through
# ``load_cohort(patients=df, lesions=df)`` and ``classify`` (no files): 2 tests x 125 examples x
# BATCH = 4 cohorts = 1,000 random cohorts. The cohorts of one example are loaded and classified
# together (their ids kept apart by a prefix) and each is checked on its own rows: a call costs
# about the same for 1 or 30 patients, and the locality property below makes one call for the
# four the same as four calls (it is checked across the four too).

#: random cohorts per example, classified in one call
BATCH = 4

COHORT_SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
NON_NODAL = ["lung", "liver", "bone", "adrenal", "brain", "peritoneum"]


@st.composite
def random_cohorts(draw, n_min: int = 1, n_max: int = 8):
    """Random patients (input order and ids random) with 0-4 scans of 0-3 target lesions, some
    non-target and new lesions, scans before and after treatment start, optional death."""
    n = draw(st.integers(n_min, n_max))
    ids = draw(
        st.lists(
            st.text("ABCPXZ019-_", min_size=1, max_size=6), min_size=n, max_size=n, unique=True
        )
    )
    patients, lesions = [], []
    for pid in ids:
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=draw(st.integers(0, 900)))
        row = {"patient_id": pid, "treatment_start": start}
        if draw(st.booleans()):
            row["death_date"] = start + pd.Timedelta(days=draw(st.integers(0, 400)))
        patients.append(row)
        offsets = sorted(draw(st.lists(st.integers(-150, 200), max_size=4, unique=True)))
        if "death_date" in row and offsets:  # a scan after death is a documented error
            row["death_date"] = max(row["death_date"], start + pd.Timedelta(days=offsets[-1]))
        n_target = draw(st.integers(0, 3))
        n_nt = draw(st.integers(0, 1))
        for k, off in enumerate(offsets):
            date = start + pd.Timedelta(days=off)
            for j in range(n_target):
                lesions.append(
                    {
                        "patient_id": pid,
                        "assessment_date": date,
                        "lesion_id": f"T{j}",
                        "lesion_type": "target",
                        "organ": NON_NODAL[j],
                        "diameter_mm": draw(
                            st.one_of(st.just(0.0), st.floats(1, 150).map(lambda x: round(x, 1)))
                        ),
                        "status": None,
                    }
                )
            for j in range(n_nt):
                lesions.append(
                    {
                        "patient_id": pid,
                        "assessment_date": date,
                        "lesion_id": f"N{j}",
                        "lesion_type": "non_target",
                        "organ": "bone",
                        "diameter_mm": np.nan,
                        "status": draw(
                            st.sampled_from(["present", "absent", "unequivocal_progression"])
                        ),
                    }
                )
            if k and draw(st.integers(0, 4)) == 0:
                lesions.append(
                    {
                        "patient_id": pid,
                        "assessment_date": date,
                        "lesion_id": f"X{k}",
                        "lesion_type": "new",
                        "organ": draw(st.sampled_from(NON_NODAL)),
                        "diameter_mm": np.nan,
                        "status": None,
                    }
                )
    if not lesions:  # an empty lesion table is a documented error, not a property case
        lesions.append(
            {
                "patient_id": ids[0],
                "assessment_date": patients[0]["treatment_start"],
                "lesion_id": "T0",
                "lesion_type": "target",
                "organ": "lung",
                "diameter_mm": 10.0,
                "status": None,
            }
        )
    pts = pd.DataFrame(patients)
    if "death_date" not in pts.columns:
        pts["death_date"] = pd.NaT
    les = pd.DataFrame(
        lesions,
        columns=[
            "patient_id",
            "assessment_date",
            "lesion_id",
            "lesion_type",
            "organ",
            "diameter_mm",
            "status",
        ],
    )
    les["assessment_date"] = pd.to_datetime(les["assessment_date"])
    les["diameter_mm"] = les["diameter_mm"].astype(float)
    return pts, les


def _run(patients: pd.DataFrame, lesions: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
    from hpd_analysis.classification import classify_table
    from hpd_analysis.load import load_cohort

    return classify_table(load_cohort(patients=patients, lesions=lesions), params=params)


def _by_patient(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("patient_id").sort_index()


def _together(cohorts: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The patients and lesions of several random cohorts as one cohort: cohort ``i``'s ids
    prefixed ``i|`` (ids may repeat across cohorts), patients in cohort order."""
    tag = lambda d, i: d.assign(patient_id=f"{i}|" + d["patient_id"])  # noqa: E731
    return (
        pd.concat([tag(p, i) for i, (p, _) in enumerate(cohorts)], ignore_index=True),
        pd.concat([tag(les, i) for i, (_, les) in enumerate(cohorts)], ignore_index=True),
    )


@pytest.mark.slow
@settings(max_examples=125, **COHORT_SETTINGS)
@given(
    cohorts=st.lists(random_cohorts(), min_size=BATCH, max_size=BATCH),
    seed=st.integers(0, 2**31 - 1),
    pick=st.data(),
)
def test_random_cohorts_rows_order_labels_locality_and_attrition(cohorts, seed, pick):
    """Per cohort: one row per input patient (input order; a status, and a reason when not
    evaluable, per definition) and attrition counts that sum to the cohort size for every
    definition. Then any subset of each cohort's patients, all classified together with both
    tables' rows shuffled and every patient relabelled, gets for each patient exactly the row it
    had in its full cohort (row order, ids and the other patients' rows do not matter)."""
    from hpd_analysis.incidence import attrition

    patients, lesions = _together(cohorts)
    base = _run(patients, lesions)
    assert base["patient_id"].tolist() == patients["patient_id"].tolist()
    status = [c for c in base.columns if c.startswith("hpd_") and c.endswith("_status")]
    assert status
    for c in status:
        assert base[c].isin(["hpd", "not_hpd", "not_evaluable"]).all()
        not_eval = base[c].eq("not_evaluable")
        assert base.loc[not_eval, c.replace("_status", "_reason")].str.len().gt(0).all()
    start = 0
    for cohort, _ in cohorts:
        own = base.iloc[start : start + len(cohort)]
        start += len(cohort)
        sums = attrition(own).groupby("definition")["n"].sum()
        assert len(sums) == len(status) and (sums == len(cohort)).all()

    keep = []
    for i, (cohort, _) in enumerate(cohorts):
        ids = [f"{i}|{p}" for p in cohort["patient_id"]]
        keep += pick.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    assume(lesions["patient_id"].isin(keep).any())  # else no lesion table: another input shape
    rng = np.random.default_rng(seed)
    ids = patients["patient_id"].tolist()
    new_ids = {old: f"Q{i:03d}" for i, old in enumerate(rng.permutation(np.array(ids, object)))}
    p2 = patients[patients["patient_id"].isin(keep)]
    l2 = lesions[lesions["patient_id"].isin(keep)]
    p2 = (
        p2.iloc[rng.permutation(len(p2))]
        .assign(patient_id=lambda d: d["patient_id"].map(new_ids))
        .reset_index(drop=True)
    )
    l2 = (
        l2.iloc[rng.permutation(len(l2))]
        .assign(patient_id=lambda d: d["patient_id"].map(new_ids))
        .reset_index(drop=True)
    )
    moved = _run(p2, l2)
    assert moved["patient_id"].tolist() == p2["patient_id"].tolist()
    expected = _by_patient(base.assign(patient_id=base["patient_id"].map(new_ids)))
    got = _by_patient(moved)
    pd.testing.assert_frame_equal(got, expected.loc[got.index])


TGR_COLUMNS = ["tgr_pre", "tgr_on", "tgr_ratio", "delta_tgr", "tgk_ratio"]


@pytest.mark.slow
@settings(max_examples=125, **COHORT_SETTINGS)
@given(
    cohorts=st.lists(random_cohorts(), min_size=BATCH, max_size=BATCH),
    factors=st.lists(st.sampled_from([0.1, 0.5, 2.0, 3.7, 10.0]), min_size=BATCH, max_size=BATCH),
)
def test_random_cohorts_tgr_invariant_to_scaling_every_diameter(cohorts, factors):
    """TGR (a relative growth rate) and the TGK ratio do not change when every diameter is
    multiplied by the same factor; TGK (mm/month) scales with it. The scaled copy of each
    cohort (its diameters times that cohort's factor; ids prefixed ``scaled:``) is classified
    in the same call as the originals, which the locality property above makes equivalent to
    separate calls."""
    patients, lesions = _together(cohorts)
    lesion_factor = np.concatenate(
        [np.full(len(les), f) for (_, les), f in zip(cohorts, factors, strict=True)]
    )
    tag = lambda d: d.assign(patient_id="scaled:" + d["patient_id"])  # noqa: E731
    # RECIST measurability (>= 10 mm, nodes >= 15 mm) is a size threshold, not scale-free: off
    no_size_floor = {"rules.baseline_target_min_mm": 0, "rules.baseline_node_min_mm": 0}
    both = _run(
        pd.concat([patients, tag(patients)], ignore_index=True),
        pd.concat(
            [
                lesions,
                tag(lesions).assign(diameter_mm=lesions["diameter_mm"].to_numpy() * lesion_factor),
            ],
            ignore_index=True,
        ),
        no_size_floor,
    )
    patient_factor = np.concatenate(
        [np.full(len(p), f) for (p, _), f in zip(cohorts, factors, strict=True)]
    )
    n = len(patients)
    base, scaled = both.iloc[:n], both.iloc[n:]
    assert scaled["patient_id"].tolist() == ["scaled:" + p for p in base["patient_id"]]
    for c in TGR_COLUMNS:
        np.testing.assert_allclose(
            scaled[c].to_numpy(float), base[c].to_numpy(float), rtol=1e-7, atol=1e-9, err_msg=c
        )
    for c in ("tgk_pre", "tgk_on"):
        np.testing.assert_allclose(
            scaled[c].to_numpy(float),
            patient_factor * base[c].to_numpy(float),
            rtol=1e-7,
            atol=1e-9,
            err_msg=c,
        )
