"""classify: one row per input patient with the contract columns, end to end from a tiny
cohort; threshold sweep; classify_path byte-identical on rerun; overrides and config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import NINE

from hpd_analysis.classification import (
    CONTRACT_COLUMNS,
    add_rule_features,
    classify_features,
    threshold_sweep,
    write_classification,
)
from hpd_analysis.definitions import REGISTRY, Definition
from hpd_analysis.errors import ParameterError
from hpd_analysis.kinetics import compute_kinetics


def tiny_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three patients in canonical form.

    P1: the spec's worked example (SLD 67 → 98 → 171 mm, 144 then 49 days apart).
    P2: no pre-baseline scan, stable disease.
    P3: died on day 40 before any on-treatment scan.
    """
    patients = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "treatment_start": pd.to_datetime(["2020-06-01", "2020-06-01", "2020-06-01"]),
            "treatment_end": pd.to_datetime(["2020-07-25", "2021-01-10", "2020-07-11"]),
            "death_date": pd.to_datetime([None, None, "2020-07-11"]),
            "last_contact": pd.to_datetime(["2021-02-01", "2021-02-01", "2020-07-11"]),
            "ecog_baseline": pd.array([1, 0, 1], dtype="Int64"),
            "ecog_first_eval": pd.array([2, 0, pd.NA], dtype="Int64"),
        }
    )
    base = pd.Timestamp("2020-05-29")
    pre, fe = base - pd.Timedelta(days=144), base + pd.Timedelta(days=49)
    rows = [
        ("P1", pre, "L1", 40.0),
        ("P1", pre, "L2", 27.0),
        ("P1", base, "L1", 58.0),
        ("P1", base, "L2", 40.0),
        ("P1", fe, "L1", 100.0),
        ("P1", fe, "L2", 71.0),
        ("P2", base, "L1", 50.0),
        ("P2", fe + pd.Timedelta(days=7), "L1", 52.0),
        ("P3", base, "L1", 30.0),
    ]
    lesions = pd.DataFrame(
        rows, columns=["patient_id", "assessment_date", "lesion_id", "diameter_mm"]
    )
    lesions["lesion_type"] = "target"
    lesions["organ"] = np.where(lesions.lesion_id == "L1", "lung", "liver")
    lesions["status"] = None
    return patients, lesions


@pytest.fixture
def cohort():
    from hpd_analysis.load import load_cohort

    patients, lesions = tiny_tables()
    return load_cohort(patients=patients, lesions=lesions)


def test_classify_end_to_end(cohort):
    from hpd_analysis.classification import classify_table

    table = classify_table(cohort)
    assert table.patient_id.tolist() == ["P1", "P2", "P3"]
    assert list(table.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    for c in [
        "os_months",
        "os_event",
        "pfs_months",
        "pfs_event",
        "ttf_months",
        "ttf_event",
        "first_eval_months",
    ]:
        assert c in table.columns
    p1 = table.iloc[0]
    assert p1.tgr_pre == pytest.approx(27.27, abs=0.005)
    assert p1.tgr_on == pytest.approx(182.19, abs=0.005)
    assert p1.tgk_ratio == pytest.approx(6.92, abs=0.005)
    assert p1.recist_first_eval == "PD"
    assert p1.first_eval_months == pytest.approx((49 - 3) / 30.4375)
    for code in NINE:
        assert str(table[f"hpd_{code}"].dtype) == "boolean"
        assert table[f"hpd_{code}_status"].isin(["hpd", "not_hpd", "not_evaluable"]).all()
        assert table[f"hpd_{code}_reason"].notna().all()
    for code in ("champiat2017", "ferrara2018", "kas2020", "saada_bouzid2017"):
        assert table[f"hpd_{code}"][0], code
    # P2: no pre-baseline scan -> kinetic definitions not evaluable, with that reason
    assert pd.isna(table.hpd_champiat2017[1])
    assert "pre-baseline" in table.hpd_champiat2017_reason[1]
    # P3: died on day 40 without a scan -> fast progression by Gandara
    assert table.hpd_gandara2018_fp[2]
    assert "death" in table.tgr_on_reason[2]


def test_one_row_per_patient_in_input_order(cohort):
    from hpd_analysis.classification import classify_table
    from hpd_analysis.cohort import Cohort

    rev = Cohort(patients=cohort.patients.iloc[::-1].reset_index(drop=True), lesions=cohort.lesions)
    table = classify_table(rev, ["champiat2017"])
    assert table.patient_id.tolist() == ["P3", "P2", "P1"]
    assert (
        table.hpd_champiat2017_status.tolist()[::-1]
        == classify_table(cohort, ["champiat2017"]).hpd_champiat2017_status.tolist()
    )


def write_cohort(tmp_path):
    patients, lesions = tiny_tables()
    folder = tmp_path / "cohort"
    folder.mkdir()
    patients.to_csv(folder / "patients.csv", index=False, date_format="%Y-%m-%d")
    lesions.to_csv(folder / "lesions.csv", index=False, date_format="%Y-%m-%d")
    return folder


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_classify_path_byte_identical_on_rerun(tmp_path, name):
    from hpd_analysis.classification import classify_path

    folder = write_cohort(tmp_path)
    a = classify_path(folder, tmp_path / "a" / name)
    b = classify_path(folder, tmp_path / "b" / name)
    assert a.read_bytes() == b.read_bytes()
    back = pd.read_parquet(a) if name.endswith("parquet") else pd.read_csv(a)
    assert back.patient_id.tolist() == ["P1", "P2", "P3"]
    if name.endswith(".csv"):
        text = a.read_text(encoding="utf-8")
        assert "2020-05-29" in text and "true" in text and "00:00:00" not in text
        assert back.hpd_champiat2017[0] in (True, "true")


def test_classify_path_overrides_and_config(tmp_path):
    from hpd_analysis.classification import classify_path

    folder = write_cohort(tmp_path)
    out = classify_path(
        folder,
        tmp_path / "o.csv",
        definitions=["champiat2017"],
        overrides={"champiat2017.tgr_ratio_min": 10},
    )
    t = pd.read_csv(out)
    assert [c for c in t.columns if c.startswith("hpd_")] == [
        "hpd_champiat2017",
        "hpd_champiat2017_reason",
        "hpd_champiat2017_status",
    ]
    assert t.hpd_champiat2017_reason[0] == "not HPD: TGR ratio < 10"
    with pytest.raises(ParameterError, match="unknown parameter"):
        classify_path(folder, tmp_path / "x.csv", overrides={"nonsense": 1})
    with pytest.raises(ParameterError, match="valid: tgr_ratio_min"):
        classify_path(folder, tmp_path / "x.csv", overrides={"champiat2017.ratio": 1})
    with pytest.raises(ParameterError, match=r"\.csv"):
        classify_path(folder, tmp_path / "x.txt")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "parameters:\n  kas2020.delta_tgr_min: 500\n"
        "definitions:\n  - code: big_rise\n    criteria: "
        "[sld_pct_change_first_eval >= 70]\n",
        encoding="utf-8",
    )
    t = pd.read_csv(classify_path(folder, tmp_path / "c.csv", config=cfg))
    assert t.hpd_kas2020_reason[0] == "not HPD: ΔTGR ≤ 500"
    assert t.hpd_big_rise[0] in (True, "true")  # P1: +74.5 %
    from hpd_analysis.cli import main

    assert (
        main(
            ["classify", str(folder), "--out", str(tmp_path / "cli.csv"), "--set", "kas2020.nope=1"]
        )
        == 2
    )


# ----------------------------------------------------------------- feature-level helpers


def random_features(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-06-01")
    has_pre = rng.random(n) < 0.8
    s_pre = rng.uniform(20, 120, n)
    s_0 = s_pre * rng.uniform(0.8, 1.6, n)
    s_1 = s_0 * rng.uniform(0.5, 2.5, n)
    d_pre = rng.integers(20, 150, n).astype(float)
    d_on = rng.integers(30, 70, n).astype(float)
    pct = 100 * (s_1 - s_0) / s_0
    df = pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],
            "treatment_start": start,
            "prebaseline_date": np.where(has_pre, start - pd.to_timedelta(d_pre, "D"), pd.NaT),
            "baseline_date": start,
            "first_eval_date": start + pd.to_timedelta(d_on, "D"),
            "sld_prebaseline_mm": np.where(has_pre, s_pre, np.nan),
            "sld_baseline_mm": s_0,
            "sld_first_eval_mm": s_1,
            "days_pre_to_baseline": np.where(has_pre, d_pre, np.nan),
            "days_baseline_to_first_eval": d_on,
            "first_eval_day": d_on,
            "sld_change_first_eval_mm": s_1 - s_0,
            "sld_pct_change_first_eval": pct,
            "recist_first_eval": np.where(
                (pct >= 20) & (s_1 - s_0 >= 5), "PD", np.where(pct <= -30, "PR", "SD")
            ),
            "new_lesions_first_eval": rng.integers(0, 3, n),
            "new_organs_first_eval": rng.integers(0, 2, n),
            "max_new_lesions_in_involved_organ_first_eval": rng.integers(0, 3, n),
            "n_organs_with_new_lesions_first_eval": rng.integers(0, 3, n).astype(float),
            "n_post_baseline_scans": rng.integers(1, 4, n),
            "ttf_months": rng.uniform(0.5, 12, n),
            "ttf_event": pd.array(rng.integers(0, 2, n), dtype="Int64"),
            "death_day": np.where(rng.random(n) < 0.1, rng.uniform(20, 300, n), np.nan),
            "ecog_baseline": pd.array(rng.integers(0, 3, n), dtype="Int64"),
            "ecog_first_eval": pd.array(rng.integers(0, 4, n), dtype="Int64"),
        }
    )
    df["prebaseline_date"] = pd.to_datetime(df["prebaseline_date"])
    return compute_kinetics(add_rule_features(df))


def test_classify_features_contract_and_order():
    f = random_features(300)
    t = classify_features(f)
    assert len(t) == 300 and t.patient_id.tolist() == f.patient_id.tolist()
    assert list(t.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    for code in NINE:
        st = t[f"hpd_{code}_status"]
        flag = t[f"hpd_{code}"]
        assert ((st == "hpd") == flag.eq(True).fillna(False)).all()
        assert ((st == "not_evaluable") == flag.isna()).all()
        assert (
            t.loc[st == "not_evaluable", f"hpd_{code}_reason"]
            .str.startswith("not evaluable: ")
            .all()
        )
        assert t.loc[st == "hpd", f"hpd_{code}_reason"].str.startswith("HPD: ").all()


def test_threshold_sweep_is_monotone():
    f = random_features(500)
    values = np.arange(1.5, 4.01, 0.25)
    sweep = threshold_sweep(f, "champiat2017", "tgr_ratio_min", values=values)
    assert list(sweep.columns) == [
        "definition",
        "parameter",
        "value",
        "n_hpd",
        "n_evaluable",
        "n_total",
        "percent",
    ]
    assert sweep.value.tolist() == pytest.approx(values.tolist())
    assert (np.diff(sweep.n_hpd) <= 0).all() and sweep.n_hpd.iloc[0] > sweep.n_hpd.iloc[-1]
    assert sweep.n_evaluable.nunique() == 1  # the threshold does not change evaluability
    assert sweep.percent.iloc[0] == pytest.approx(100 * sweep.n_hpd[0] / sweep.n_evaluable[0])
    at2 = classify_features(f, ["champiat2017"]).hpd_champiat2017.sum()
    assert sweep.loc[sweep.value == 2.0, "n_hpd"].item() == at2
    d = Definition(
        code="mine", citation="x", rule="x", parameters={"m": 2.0}, criteria=["delta_tgr > {m}"]
    )
    s2 = threshold_sweep(f, d, "m", values=[0, 50, 100])
    assert (np.diff(s2.n_hpd) <= 0).all()
    with pytest.raises(ParameterError, match="valid: tgr_ratio_min"):
        threshold_sweep(f, "champiat2017", "ratio", values=[2])


def test_write_table_formats(tmp_path):
    t = classify_features(random_features(20), [REGISTRY["kas2020"]])
    a = write_classification(t, tmp_path / "t.csv")
    first = a.read_bytes()
    write_classification(t, a)
    assert a.read_bytes() == first
    back = pd.read_csv(a)
    assert len(back) == 20
    assert back.tgr_pre.round(6).equals(t.tgr_pre.round(6))


def test_patients_without_measurements_are_all_listed_not_evaluable():
    from hpd_analysis.classification import classify_table
    from hpd_analysis.cohort import Cohort

    patients, _ = tiny_tables()
    t = classify_table(Cohort(patients=patients))
    assert t.patient_id.tolist() == ["P1", "P2", "P3"]
    for code in NINE:
        assert (t[f"hpd_{code}_status"] == "not_evaluable").all(), code
        assert t[f"hpd_{code}_reason"].str.startswith("not evaluable: ").all()
    assert t.os_months.notna().all()  # endpoints are still there for survival analyses


def test_organs_with_new_lesions_from_lesion_rows():
    f = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "first_eval_date": pd.to_datetime(["2020-02-01", "2020-02-01", "2020-02-01", None]),
            "new_lesions_first_eval": [3, 1, 0, 0],
        }
    )
    day = pd.Timestamp("2020-02-01")
    lesions = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "A", "B", "B"],
            "assessment_date": [day, day, day, day + pd.Timedelta(days=30), day, day],
            "lesion_type": ["new", "new", "new", "new", "new", "target"],
            "organ": ["Liver", "liver ", "brain", "bone", None, "lung"],
            "status": [None, None, None, None, None, None],
        }
    )
    out = add_rule_features(f, lesions=lesions)
    # A: liver (twice, case/space-insensitive) + brain; the later bone lesion does not count
    # B: a new lesion without organ -> unknown; C: no new lesion -> 0; D: no first evaluation
    got = out.n_organs_with_new_lesions_first_eval.tolist()
    assert got[:1] == [2.0] and np.isnan(got[1]) and got[2] == 0.0 and np.isnan(got[3])
    assert out.n_organs_with_new_lesions_first_eval_reason[3] == "no first evaluation scan"
    absent = lesions.assign(status=["absent", "absent", None, None, None, None])
    assert add_rule_features(f, lesions=absent).n_organs_with_new_lesions_first_eval[0] == 1.0


@pytest.mark.parametrize("time_of_day", [pd.Timedelta(0), pd.Timedelta(hours=9, minutes=30)])
def test_organ_count_from_timepoints_matches_the_lesion_scan(time_of_day):
    # build_features takes the organ count of new lesions from timepoints (one pass over the
    # lesion rows) when every date is at midnight, else add_rule_features counts them from the
    # lesion rows itself; both must give the same counts
    from hpd_analysis.classification import _organs_with_new_lesions, build_features
    from hpd_analysis.cohort import Cohort

    start = pd.Timestamp("2020-01-01") + time_of_day
    rows = []
    for pid, new_organs in (
        ("A", ["Liver", " liver", "brain"]),
        ("B", ["bone", None]),
        ("C", []),
        ("D", ["lung"]),
    ):
        for day in (-30, 0, 42):
            rows.append((pid, start + pd.Timedelta(days=day), "T1", "target", "lung", 20.0))
        for i, organ in enumerate(new_organs):
            rows.append((pid, start + pd.Timedelta(days=42), f"N{i}", "new", organ, 5.0))
    rows.append(("E", start, "T1", "target", "lung", 20.0))  # no first evaluation
    lesions = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "assessment_date",
            "lesion_id",
            "lesion_type",
            "organ",
            "diameter_mm",
        ],
    )
    patients = pd.DataFrame({"patient_id": list("ABCDE"), "treatment_start": start})
    f = build_features(Cohort(patients=patients, lesions=lesions))
    got = f["n_organs_with_new_lesions_first_eval"].to_numpy()
    expected = _organs_with_new_lesions(f[["patient_id", "first_eval_date"]], lesions)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, [2.0, np.nan, 0.0, 1.0, np.nan])


def test_cohort_without_death_information_leaves_death_branch_unknown():
    """No death_date/os columns: 'no death by day 84' would be an invention; the death branch of
    the fast-progression rule is unknown and a patient without any scan is not evaluable."""
    import pandas as pd

    from hpd_analysis.classification import classify_table
    from hpd_analysis.cohort import Cohort

    patients = pd.DataFrame(
        {"patient_id": ["A", "B"], "treatment_start": pd.to_datetime(["2020-01-10", "2020-01-10"])}
    )
    lesions = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "assessment_date": pd.to_datetime(["2020-01-05", "2020-02-20"]),
            "lesion_id": ["T1", "T1"],
            "lesion_type": ["target", "target"],
            "organ": ["lung", "lung"],
            "diameter_mm": [40.0, 44.0],
            "status": [None, None],
            "is_lymph_node": [False, False],
            "not_evaluable": [False, False],
        }
    )
    out = classify_table(Cohort(patients=patients, lesions=lesions)).set_index("patient_id")
    assert out.loc["A", "hpd_gandara2018_fp_status"] == "not_hpd"
    assert "no death by day" not in out.loc["A", "hpd_gandara2018_fp_reason"]
    assert out.loc["B", "hpd_gandara2018_fp_status"] == "not_evaluable"
    assert "no death by day" not in out.loc["B", "hpd_gandara2018_fp_reason"]


def test_death_cause_negation_and_coded_column():
    """Fast progression by death (Gandara): each patient died on day 50 with no post-baseline
    scan. Causes read by hand: 'non-cancer death (sepsis)' is NOT progression (the negation
    guards the word cancer), 'death unrelated to the tumour' neither, 'cancer progression' is;
    a coded death_from_progression column wins over the text."""
    from hpd_analysis.classification import classify_table, death_cause_notes
    from hpd_analysis.load import load_cohort

    start = pd.Timestamp("2021-01-04")
    ids = ["neg", "unrel", "prog", "coded_no", "coded_yes", "blank"]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "treatment_start": start,
            "death_date": start + pd.Timedelta(days=50),
            "death_cause": [
                "non-cancer death (sepsis)",
                "death unrelated to the tumour",
                "cancer progression",
                "cancer progression",
                "sepsis",
                None,
            ],
            "death_from_progression": [None, None, None, "no", "Yes", None],
        }
    )
    lesions = pd.DataFrame(
        {
            "patient_id": ids,
            "assessment_date": start - pd.Timedelta(days=3),
            "lesion_id": "T1",
            "lesion_type": "target",
            "diameter_mm": 30.0,
            "organ": "lung",
        }
    )
    cohort = load_cohort(patients=patients, lesions=lesions)
    t = classify_table(cohort, ["gandara2018_fp"]).set_index("patient_id")
    assert t.death_from_progression.tolist() == [False, False, True, False, True, True]
    assert t.hpd_gandara2018_fp_status.tolist() == [
        "not_hpd",
        "not_hpd",
        "hpd",
        "not_hpd",
        "hpd",
        "hpd",
    ]
    notes = pd.DataFrame(death_cause_notes(cohort.patients))
    neg = notes[notes.detail.str.startswith("'non-cancer death (sepsis)'")].iloc[0]
    assert neg.detail.endswith("read as not death from progression (negated)")
    assert (cohort.load_report.action == "death_cause_read").sum() == 4
    assert (cohort.load_report.action == "death_from_progression_coded").sum() == 1


# ---------------------------------------------------------------------------------------------
# kernels: each equals a plain, readable version of what it computes
# ---------------------------------------------------------------------------------------------


def _random_dates(rng: np.random.Generator, n: int) -> pd.Series:
    """Dates with times of day, some missing (NaT), over two years."""
    ns = rng.integers(0, 730 * 86_400, n) * 10**9 + pd.Timestamp("2019-01-01").value
    out = pd.Series(pd.to_datetime(ns))
    out[rng.random(n) < 0.1] = pd.NaT
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_days_kernel_equals_timedelta_days(seed):
    from hpd_analysis.classification import _whole_days

    rng = np.random.default_rng(seed)
    end, start = _random_dates(rng, 500), _random_dates(rng, 500)
    # the plain version: whole days of the difference, floored as Timedelta.days
    plain = [
        np.nan if pd.isna(e) or pd.isna(s) else float((e - s).days)
        for e, s in zip(end, start, strict=True)
    ]
    fast = _whole_days(end.to_numpy(), start.to_numpy())  # the datetime64[ns] array path
    other = _whole_days(end, start)  # any other input: the pandas path
    np.testing.assert_array_equal(fast, np.array(plain))
    np.testing.assert_array_equal(other, np.array(plain))


def _plain_organ_count(features: pd.DataFrame, lesions: pd.DataFrame) -> list[float]:
    """Distinct organs of the new lesions (not recorded absent) on the day of each patient's
    first evaluation, one patient at a time; NaN without a first evaluation or when one of those
    lesions has no organ."""
    out = []
    for pid, fe in zip(features["patient_id"], features["first_eval_date"], strict=True):
        if pd.isna(fe):
            out.append(np.nan)
            continue
        organs = set()
        unknown = False
        for _, les in lesions[lesions["patient_id"] == pid].iterrows():
            if les["lesion_type"] != "new" or les["status"] == "absent":
                continue
            if les["assessment_date"].normalize() != fe.normalize():
                continue
            if pd.isna(les["organ"]):
                unknown = True
            else:
                organs.add(str(les["organ"]).strip().lower())
        out.append(np.nan if unknown else float(len(organs)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_organ_count_kernel_equals_plain_count(seed):
    from hpd_analysis.classification import _organs_with_new_lesions

    rng = np.random.default_rng(seed)
    n = 40
    day0 = pd.Timestamp("2020-03-02")
    features = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "first_eval_date": [
                pd.NaT if rng.random() < 0.15 else day0 + pd.Timedelta(days=int(d))
                for d in rng.integers(0, 3, n)
            ],
        }
    )
    m = 300
    organs = np.array(["Liver", "liver ", "LUNG", "bone", "Brain", None], dtype=object)
    lesions = pd.DataFrame(
        {
            # some lesion rows of patients not in the features
            "patient_id": [f"P{i}" for i in rng.integers(0, n + 5, m)],
            "assessment_date": [
                day0 + pd.Timedelta(days=int(d), hours=int(h))
                for d, h in zip(rng.integers(0, 3, m), rng.integers(0, 20, m), strict=True)
            ],
            "lesion_type": rng.choice(["new", "target", "non_target"], m, p=[0.5, 0.3, 0.2]),
            "organ": organs[rng.choice(len(organs), m, p=[0.2, 0.2, 0.2, 0.2, 0.17, 0.03])],
            "status": rng.choice(np.array(["present", "absent", None], dtype=object), m),
        }
    )
    got = _organs_with_new_lesions(features, lesions)
    want = np.array(_plain_organ_count(features, lesions))
    # not a vacuous comparison: counts of several organs, zeros and unknowns all occur
    assert (want >= 2).any() and (want == 0).any() and np.isnan(want).any()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_hpd_counts_equal_a_plain_count(seed):
    from hpd_analysis.classification import hpd_counts

    rng = np.random.default_rng(seed)
    raw = rng.choice(np.array([True, False, None], dtype=object), 200)
    verdicts = pd.array(raw, dtype="boolean")
    n_hpd = sum(1 for v in raw if v is True)
    n_eval = sum(1 for v in raw if v is not None)
    want = {"n_hpd": n_hpd, "n_evaluable": n_eval, "n_total": 200, "percent": 100 * n_hpd / n_eval}
    assert hpd_counts(verdicts) == want
    assert hpd_counts(pd.Series(verdicts)) == want
