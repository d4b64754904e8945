"""Time points, per-scan sums and first-evaluation features, on tiny hand-made patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.cohort import Cohort
from hpd_analysis.errors import CohortError
from hpd_analysis.params import Parameters, Rules, Windows
from hpd_analysis.timepoints import (
    FEATURE_COLUMNS,
    SCAN_COLUMNS,
    first_evaluation_features,
    scan_table,
)

START = pd.Timestamp("2021-03-01")


def les(
    pid,
    day,
    lid,
    kind="target",
    diam=np.nan,
    organ="lung",
    status=None,
    node=False,
    not_evaluable=False,
):
    """One lesion row at ``day`` days from START."""
    return dict(
        patient_id=pid,
        assessment_date=START + pd.Timedelta(days=day),
        lesion_id=lid,
        lesion_type=kind,
        organ=organ,
        diameter_mm=float(diam),
        status=status,
        is_lymph_node=node,
        not_evaluable=not_evaluable,
    )


def targets(pid, day, *diams, organ="lung"):
    """Target lesions T1, T2 ... with the given diameters at ``day``."""
    return [les(pid, day, f"T{i + 1}", diam=d, organ=organ) for i, d in enumerate(diams)]


def make(rows, pids=None, **patient_cols):
    lesions = pd.DataFrame(rows)
    ids = pids or list(dict.fromkeys(lesions["patient_id"]))
    patients = pd.DataFrame({"patient_id": ids, "treatment_start": START})
    for k, v in patient_cols.items():
        patients[k] = v
    return Cohort(patients=patients, lesions=lesions)


def feat(cohort, **windows):
    return first_evaluation_features(cohort, Parameters(windows=Windows(**windows)))


def one(cohort, **windows):
    return feat(cohort, **windows).iloc[0]


# ---------------------------------------------------------------- worked example of the spec


def test_worked_example_67_98_171():
    rows = targets("A", -144, 40, 27) + targets("A", 0, 58, 40) + targets("A", 49, 100, 71)
    f = one(make(rows))
    assert (f.sld_prebaseline_mm, f.sld_baseline_mm, f.sld_first_eval_mm) == (67, 98, 171)
    assert f.days_pre_to_baseline == 144 and f.days_baseline_to_first_eval == 49
    assert f.first_eval_day == 49
    assert round(f.sld_pct_change_first_eval, 2) == 74.49
    assert f.sld_change_first_eval_mm == 73
    assert f.recist_first_eval == "PD" and f.target_response_first_eval == "PD"
    assert pd.isna(f.baseline_reason) and pd.isna(f.prebaseline_reason)
    st = scan_table(make(rows))
    assert list(st.columns) == SCAN_COLUMNS
    assert list(st.role) == ["prebaseline", "baseline", "on_treatment"]
    assert list(st.day) == [-144, 0, 49]
    assert st.is_first_eval.tolist() == [False, False, True]


# ---------------------------------------------------------------- baseline window


@pytest.mark.parametrize("day, found", [(0, True), (-42, True), (-43, False)])
def test_baseline_window_edges(day, found):
    rows = targets("A", day, 30) + targets("A", 56, 30)
    f = one(make(rows))
    if found:
        assert f.baseline_date == START + pd.Timedelta(days=day)
        assert f.sld_baseline_mm == 30 and pd.isna(f.baseline_reason)
        assert f.recist_first_eval == "SD"
    else:
        assert pd.isna(f.baseline_date)
        assert "baseline scan more than 42 days before treatment start" in f.baseline_reason
        assert f.recist_first_eval == "NE"
        assert "no baseline scan" in f.recist_first_eval_reason


def test_baseline_is_last_scan_on_or_before_start_and_window_is_a_parameter():
    rows = targets("A", -40, 30) + targets("A", -5, 32) + targets("A", 50, 33)
    f = one(make(rows))
    assert f.baseline_date == START - pd.Timedelta(days=5)
    assert f.prebaseline_date == START - pd.Timedelta(days=40)
    rows = targets("A", -50, 30) + targets("A", 50, 33)
    assert pd.isna(one(make(rows)).baseline_date)
    assert one(make(rows), baseline_max_days_before=60).baseline_date == START - pd.Timedelta(
        days=50
    )


def test_no_scan_before_start():
    f = one(make(targets("A", 30, 30)))
    assert f.baseline_reason == "no scan on or before treatment start"
    assert f.prebaseline_reason == "no baseline scan"
    assert f.first_eval_date == START + pd.Timedelta(days=30)
    assert np.isnan(f.sld_first_eval_mm) and f.sld_first_eval_reason == "no baseline scan"
    assert f.recist_first_eval == "NE"


# ---------------------------------------------------------------- pre-baseline


@pytest.mark.parametrize("gap, found", [(28, True), (183, True), (184, False)])
def test_prebaseline_window_edges(gap, found):
    rows = targets("A", -10 - gap, 20) + targets("A", -10, 25) + targets("A", 40, 30)
    f = one(make(rows))
    if found:
        assert f.days_pre_to_baseline == gap and f.sld_prebaseline_mm == 20
    else:
        assert pd.isna(f.prebaseline_date)
        assert f.prebaseline_reason == "pre-baseline scan more than 183 days before baseline"
        assert f.sld_prebaseline_reason == f.prebaseline_reason


def test_prebaseline_minimum_interval_default_28_days():
    """A scan 27 days before baseline is too close (default minimum 28 days): the earlier one in
    the window is used; with only the close one, no pre-baseline scan, with the window in the
    reason; windows.prebaseline_min_days_before_baseline=1 restores the former rule."""
    rows = (
        targets("A", -90, 18) + targets("A", -37, 20) + targets("A", -10, 25) + targets("A", 40, 30)
    )
    f = one(make(rows))
    assert f.days_pre_to_baseline == 80 and f.sld_prebaseline_mm == 18
    rows = targets("A", -11, 20) + targets("A", -10, 25) + targets("A", 40, 30)
    f = one(make(rows))
    assert pd.isna(f.prebaseline_date)
    assert f.prebaseline_reason == "no pre-baseline scan 28-183 days before baseline"
    f = one(make(rows), prebaseline_min_days_before_baseline=1)
    assert f.days_pre_to_baseline == 1 and f.sld_prebaseline_mm == 20


def test_no_prebaseline_scan():
    f = one(make(targets("A", -3, 25) + targets("A", 40, 30)))
    assert f.prebaseline_reason == "no pre-baseline scan"
    assert np.isnan(f.days_pre_to_baseline)


def test_prebaseline_with_missing_target_skipped_for_earlier_evaluable_scan():
    rows = (
        targets("A", -100, 20, 10)
        + targets("A", -30, 22)  # T2 missing at day -30
        + targets("A", -2, 25, 12)
        + targets("A", 40, 30, 14)
    )
    f = one(make(rows))
    assert f.prebaseline_date == START - pd.Timedelta(days=100)
    assert f.sld_prebaseline_mm == 30
    st = scan_table(make(rows))
    assert st.role.tolist() == ["prebaseline", "unused", "baseline", "on_treatment"]
    assert st.sld_reason.iloc[1] == "1 of 2 baseline target lesion(s) not measured"


def test_prebaseline_in_window_but_none_evaluable_keeps_date_and_says_so():
    rows = targets("A", -30, 22) + targets("A", -2, 25, 12) + targets("A", 40, 30, 14)
    f = one(make(rows))
    assert f.prebaseline_date == START - pd.Timedelta(days=30)
    assert pd.isna(f.prebaseline_reason) and np.isnan(f.sld_prebaseline_mm)
    assert "1 of 2 baseline target lesion(s) not measured" in f.sld_prebaseline_reason
    assert "no scan in the pre-baseline window" in f.sld_prebaseline_reason


def test_prebaseline_sld_is_over_baseline_targets_only():
    # T3 was a lesion before baseline but not chosen as target at baseline: ignored
    rows = (
        targets("A", -60, 20, 10)
        + [les("A", -60, "T3", diam=40)]
        + targets("A", -2, 25, 12)
        + targets("A", 40, 30, 14)
    )
    assert one(make(rows)).sld_prebaseline_mm == 30


# ---------------------------------------------------------------- first evaluation


@pytest.mark.parametrize("day, is_first", [(13, False), (14, True)])
def test_first_eval_min_days_edge(day, is_first):
    rows = targets("A", 0, 30) + targets("A", day, 31) + targets("A", 60, 32)
    f = one(make(rows))
    assert f.first_eval_day == (day if is_first else 60)
    st = scan_table(make(rows))
    assert st.role.iloc[1] == ("on_treatment" if is_first else "unused")
    # an ignored early scan is said in the reason of the first-evaluation response
    said = "1 on-treatment scan(s) before day 14 not used (windows.first_eval_min_days)"
    assert (said in f.recist_first_eval_reason) is (not is_first)
    if not is_first:  # windows.first_eval_min_days=1 counts it
        assert one(make(rows), first_eval_min_days=1).first_eval_day == day


def test_only_early_scans_and_max_window():
    f = one(make(targets("A", 0, 30) + targets("A", 10, 31)))
    assert f.first_eval_reason == "on-treatment scans only before day 14 (first_eval_min_days)"
    f = one(make(targets("A", 0, 30) + targets("A", 100, 31)), first_eval_max_days=84)
    assert f.first_eval_reason == "no scan between day 14 and day 84 after treatment start"
    assert f.recist_first_eval == "NE" and f.first_eval_reason in f.recist_first_eval_reason


def test_no_on_treatment_scan_and_death_before_first_evaluation():
    rows = targets("A", -1, 30) + targets("B", -1, 30)
    c = make(rows, death_date=[START + pd.Timedelta(days=35), pd.NaT])
    f = feat(c)
    assert f.first_eval_reason.tolist() == [
        "died before first evaluation (day 35)",
        "no on-treatment scan",
    ]
    assert (f.recist_first_eval == "NE").all()
    assert f.n_post_baseline_scans.tolist() == [0, 0]


def test_patients_without_measurements_keep_a_row_with_reasons():
    rows = targets("A", 0, 30) + targets("A", 42, 30)
    c = make(rows, pids=["Z", "A", "D"], death_date=[pd.NaT, pd.NaT, START + pd.Timedelta(days=20)])
    f = feat(c)
    assert f.patient_id.tolist() == ["Z", "A", "D"]
    assert list(f.columns) == FEATURE_COLUMNS
    assert f.baseline_reason.tolist()[0] == "no measurements"
    assert f.first_eval_reason.tolist()[0] == "no measurements"
    assert f.first_eval_reason.tolist()[2] == "died before first evaluation (day 20)"
    assert f.recist_first_eval.tolist() == ["NE", "SD", "NE"]
    assert scan_table(c).patient_id.unique().tolist() == ["A"]


def test_cohort_without_any_measurement_table():
    c = Cohort(patients=pd.DataFrame({"patient_id": ["A", "B"], "treatment_start": START}))
    f = first_evaluation_features(c)
    assert len(f) == 2 and (f.baseline_reason == "no measurements").all()
    assert len(scan_table(c)) == 0


# ---------------------------------------------------------------- RECIST at first evaluation


def test_missing_target_at_first_eval_is_NE_with_reason_unless_new_lesion():
    base = targets("A", 0, 30, 20)
    f = one(make(base + targets("A", 42, 35)))
    assert np.isnan(f.sld_first_eval_mm)
    assert f.sld_first_eval_reason == "1 of 2 baseline target lesion(s) not measured"
    assert f.recist_first_eval == "NE"
    assert "1 of 2 baseline target lesion(s) not measured" in f.recist_first_eval_reason
    f = one(make(base + targets("A", 42, 35) + [les("A", 42, "N1", "new", 8, organ="liver")]))
    assert f.recist_first_eval == "PD" and f.target_response_first_eval == "NE"


def test_not_evaluable_flag_makes_the_sld_missing():
    rows = targets("A", 0, 30, 20) + [
        les("A", 42, "T1", diam=31),
        les("A", 42, "T2", diam=18, not_evaluable=True),
    ]
    assert one(make(rows)).recist_first_eval == "NE"


@pytest.mark.parametrize(
    "b, e, expected",
    [
        ((20,), (24,), "SD"),  # +20 % but only +4 mm
        ((50,), (55,), "SD"),  # +5 mm but only +10 %
        ((25,), (30,), "PD"),  # exactly +20 % and +5 mm
        ((10, 10, 13), (7, 7, 9.1), "PR"),  # exactly -30 % (33 -> 23.1)
        ((20, 10), (14, 7.1), "SD"),  # -29.67 %
    ],
)
def test_target_thresholds(b, e, expected):
    f = one(make(targets("A", 0, *b) + targets("A", 42, *e)))
    assert f.recist_first_eval == expected


def test_lymph_node_under_10mm_counts_as_complete_response():
    def rows(node_mm):
        return [
            les("A", 0, "T1", diam=20),
            les("A", 0, "L1", diam=15, organ="lymph node", node=True),
            les("A", 42, "T1", diam=0),
            les("A", 42, "L1", diam=node_mm, organ="lymph node", node=True),
        ]

    f = one(make(rows(9)))
    assert f.recist_first_eval == "CR" and f.sld_first_eval_mm == 9
    assert one(make(rows(10))).recist_first_eval == "PR"


def test_target_cr_with_non_targets_present_or_gone():
    def rows(status):
        return (
            targets("A", 0, 20)
            + [les("A", 0, "NT1", "non_target", status="present", organ="bone")]
            + targets("A", 42, 0)
            + [les("A", 42, "NT1", "non_target", status=status, organ="bone")]
        )

    assert one(make(rows("absent"))).recist_first_eval == "CR"
    assert one(make(rows("present"))).recist_first_eval == "PR"
    f = one(make(rows("unequivocal_progression")))
    assert f.recist_first_eval == "PD" and bool(f.non_target_pd_first_eval)
    assert "unequivocal non-target progression" in f.recist_first_eval_reason


def test_new_lesion_gives_pd_and_new_organ_counts():
    rows = (
        targets("A", 0, 30)
        + [les("A", 0, "NT1", "non_target", organ="Liver", status="present")]
        + targets("A", 42, 20)
        + [
            les("A", 42, "N1", "new", 5, organ="bone"),
            les("A", 42, "N2", "new", 6, organ="brain"),
            les("A", 42, "N3", "new", 5, organ=" liver"),
            les("A", 42, "N4", "new", 5, organ="LIVER"),
            les("A", 42, "N5", "new", 5, organ="lung"),
        ]
    )
    f = one(make(rows))
    assert f.recist_first_eval == "PD" and f.target_response_first_eval == "PR"
    assert f.new_lesions_first_eval == 5
    assert f.new_organs_first_eval == 2  # bone, brain (liver and lung involved)
    assert f.max_new_lesions_in_involved_organ_first_eval == 2  # two in liver
    assert "new lesion(s)" in f.recist_first_eval_reason


def test_new_lesion_without_organ_makes_organ_counts_unknown():
    rows = targets("A", 0, 30) + targets("A", 42, 30) + [les("A", 42, "N1", "new", 5, organ=None)]
    f = one(make(rows))
    assert f.new_lesions_first_eval == 1 and pd.isna(f.new_organs_first_eval)
    assert pd.isna(f.max_new_lesions_in_involved_organ_first_eval)


def test_new_lesions_counted_at_each_scan_not_cumulatively():
    rows = (
        targets("A", 0, 30)
        + targets("A", 42, 30)
        + [les("A", 42, "N1", "new", 5)]
        + targets("A", 84, 30)
        + [les("A", 84, "N1", "new", 7), les("A", 84, "N2", "new", 4)]
    )
    st = scan_table(make(rows))
    assert st.new_lesions.tolist() == [0, 1, 2]
    assert st.new_lesions_first_seen.tolist() == [0, 1, 1]
    assert st.new_lesion_sum_mm.tolist() == [0, 5, 11]


def test_absent_target_without_diameter_counts_zero():
    rows = targets("A", 0, 30, 10) + [
        les("A", 42, "T1", diam=20),
        les("A", 42, "T2", status="absent"),
    ]
    f = one(make(rows))
    assert f.sld_first_eval_mm == 20 and f.recist_first_eval == "PR"


# ---------------------------------------------------------------- other shapes


def test_assessments_format():
    patients = pd.DataFrame({"patient_id": ["A", "B", "C"], "treatment_start": START})
    d = lambda k: START + pd.Timedelta(days=k)  # noqa: E731
    a = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "B", "B", "C"],
            "assessment_date": [d(49), d(0), d(-144), d(-3), d(40), d(42)],
            "sld_mm": [171, 98, 67, 50, 50, 40],
            "new_lesions": [0, 0, 0, 0, 1, 0],
            "new_organs": [0, 0, 0, 0, 1, 0],
            "non_target_pd": [False, False, False, False, False, False],
        }
    )
    f = first_evaluation_features(Cohort(patients=patients, assessments=a))
    assert f.sld_baseline_mm.tolist()[:2] == [98, 50]
    assert round(f.sld_pct_change_first_eval.iloc[0], 2) == 74.49
    assert f.recist_first_eval.tolist() == ["PD", "PD", "NE"]
    assert f.new_organs_first_eval.tolist()[:2] == [0, 1]
    assert f.baseline_reason.iloc[2] == "no scan on or before treatment start"
    st = scan_table(Cohort(patients=patients, assessments=a))
    assert st.day.tolist()[:3] == [-144, 0, 49]


def test_assessments_duplicate_scan_is_an_error():
    patients = pd.DataFrame({"patient_id": ["A"], "treatment_start": START})
    a = pd.DataFrame(
        {"patient_id": ["A", "A"], "assessment_date": [START, START], "sld_mm": [10, 11]}
    )
    with pytest.raises(CohortError, match="same patient and assessment date"):
        scan_table(Cohort(patients=patients, assessments=a))


def _wide(**extra):
    d = lambda k: START + pd.Timedelta(days=k)  # noqa: E731
    w = pd.DataFrame(
        {
            "patient_id": ["A", "B"],
            "sld_prebaseline_mm": [67.0, np.nan],
            "sld_baseline_mm": [98.0, 50.0],
            "sld_first_eval_mm": [171.0, 52.0],
            "date_prebaseline": [d(-144), pd.NaT],
            "date_baseline": [d(0), d(-70)],
            "date_first_eval": [d(49), d(30)],
        }
    )
    for k, v in extra.items():
        w[k] = v
    return w


def test_wide_format_without_new_lesion_columns():
    patients = pd.DataFrame({"patient_id": ["A", "B", "C"], "treatment_start": START})
    f = first_evaluation_features(Cohort(patients=patients, scans_wide=_wide()))
    a, b, c = f.iloc[0], f.iloc[1], f.iloc[2]
    assert round(a.sld_pct_change_first_eval, 2) == 74.49 and a.recist_first_eval == "PD"
    assert pd.isna(a.new_lesions_first_eval) and pd.isna(a.non_target_pd_first_eval)
    # no window in the wide format: a baseline 70 days before start is used as given; +4 % by
    # the SLD alone is SD, but without new-lesion data RECIST PD is unknown: NE
    assert b.baseline_date == START - pd.Timedelta(days=70) and b.recist_first_eval == "NE"
    assert b.recist_first_eval_reason.startswith(
        "new lesions not recorded: RECIST PD unknown unless the SLD alone gives PD "
        "(rules.new_lesions_when_unrecorded=unknown; the SLD alone gives SD)"
    )
    assert "new lesions not given" in b.recist_first_eval_reason
    assert b.prebaseline_reason == "no pre-baseline scan given (date_prebaseline empty)"
    assert c.baseline_reason == "no measurements" and c.recist_first_eval == "NE"
    # the user states there were no new lesions: the SLD alone decides (SD)
    p = Parameters(rules=Rules(new_lesions_when_unrecorded="none"))
    f = first_evaluation_features(Cohort(patients=patients, scans_wide=_wide()), p)
    assert f.recist_first_eval.tolist() == ["PD", "SD", "NE"]


def test_wide_file_size_only_sd_is_not_called_not_hpd_by_champiat():
    """The held-back patient of the issue: size-only SD (+10 %) with a TGR ratio >= 2 and no
    new-lesion column. Champiat needs RECIST PD: not evaluable (the SLD alone cannot exclude PD
    by a new lesion), unless the user states there were no new lesions (then not HPD)."""
    from hpd_analysis.classification import classify_table
    from hpd_analysis.definitions import REGISTRY

    d = lambda k: START + pd.Timedelta(days=k)  # noqa: E731
    # 90 -> 100 mm (+11 %) over 177 days, then 100 -> 110 (+10 %) over 42 days
    w = pd.DataFrame(
        {
            "patient_id": ["W"],
            "sld_prebaseline_mm": [90.0],
            "sld_baseline_mm": [100.0],
            "sld_first_eval_mm": [110.0],
            "date_prebaseline": [d(-180)],
            "date_baseline": [d(-3)],
            "date_first_eval": [d(39)],
        }
    )
    patients = pd.DataFrame({"patient_id": ["W"], "treatment_start": START})
    cohort = Cohort(patients=patients, scans_wide=w)
    # TGR by hand: 100·(exp(3·ln(S_b/S_a)/months) − 1), months = days / 30.4375
    tgr = lambda a, b, days: 100 * (np.exp(3 * np.log(b / a) / (days / 30.4375)) - 1)  # noqa: E731
    ratio = tgr(100, 110, 42) / tgr(90, 100, 177)
    assert ratio == pytest.approx(4.12, abs=0.01)
    t = classify_table(cohort, [REGISTRY["champiat2017"]])
    assert t.tgr_ratio.iloc[0] == pytest.approx(ratio)
    assert t.hpd_champiat2017_status.iloc[0] == "not_evaluable"
    assert "new lesions not recorded" in t.hpd_champiat2017_reason.iloc[0]
    t = classify_table(
        cohort, [REGISTRY["champiat2017"]], {"rules.new_lesions_when_unrecorded": None}
    )
    assert t.hpd_champiat2017_status.iloc[0] == "not_hpd"


def test_wide_format_with_new_lesion_columns():
    patients = pd.DataFrame({"patient_id": ["A", "B"], "treatment_start": START})
    w = _wide(new_lesions_first_eval=[0, 2], non_target_pd_first_eval=[False, False])
    f = first_evaluation_features(Cohort(patients=patients, scans_wide=w))
    assert f.recist_first_eval.tolist() == ["PD", "PD"]
    assert f.new_lesions_first_eval.tolist() == [0, 2]
    assert "SLD alone" not in f.recist_first_eval_reason.iloc[1]
    st = scan_table(Cohort(patients=patients, scans_wide=w))
    assert st.role.tolist() == [
        "prebaseline",
        "baseline",
        "on_treatment",
        "baseline",
        "on_treatment",
    ]


def test_baseline_measurability_recist_1_1():
    """A non-nodal baseline target < 10 mm or a nodal one < 15 mm short axis: the baseline has no
    measurable SLD (reason given), so every SLD-based quantity is missing; 0 relaxes the rule."""
    rows = (
        targets("A", 0, 30, 9.5)
        + targets("A", 42, 40, 12)  # 9.5 mm target
        + targets("B", 0, 30)
        + [les("B", 0, "N1", diam=14, node=True)]  # 14 mm node
        + targets("B", 42, 40)
        + [les("B", 42, "N1", diam=14, node=True)]
        + targets("C", 0, 30)
        + [les("C", 0, "N1", diam=15, node=True)]  # 15 mm node: ok
        + targets("C", 42, 40)
        + [les("C", 42, "N1", diam=15, node=True)]
        + targets("D", 0, 0.0)
        + targets("D", 42, 20)
    )  # 0 mm at baseline
    f = feat(make(rows))
    assert f.sld_baseline_mm.isna().tolist() == [True, True, False, True]
    assert f.sld_baseline_mm.iloc[2] == 45
    assert f.sld_baseline_reason.iloc[0].startswith(
        "a baseline target lesion below RECIST 1.1 measurability (< 10 mm; lymph node < 15 mm"
    )
    assert f.sld_pct_change_first_eval.isna().tolist() == [True, True, False, True]
    relaxed = first_evaluation_features(
        make(rows), Parameters(rules=Rules(baseline_target_min_mm=0, baseline_node_min_mm=0))
    )
    assert relaxed.sld_baseline_mm.tolist() == [39.5, 44.0, 45.0, 0.0]


# ---------------------------------------------------------------- robustness


def _mixed_cohort():
    rows = (
        targets("A", -144, 40, 27)
        + targets("A", 0, 58, 40)
        + targets("A", 49, 100, 71)
        + targets("B", -60, 20)
        + targets("B", -1, 22)
        + targets("B", 42, 15)
        + [
            les("B", 42, "N1", "new", 4, organ="liver"),
            les("B", 0 - 1, "NT1", "non_target", status="present"),
        ]
        + targets("C", -30, 30, 30)
        + targets("C", 56, 31)
    )
    return make(rows, pids=["A", "B", "C", "D"])


def test_row_order_invariance():
    c = _mixed_cohort()
    f0, s0 = first_evaluation_features(c), scan_table(c)
    shuffled = c.lesions.sample(frac=1.0, random_state=7).reset_index(drop=True)
    c2 = Cohort(patients=c.patients, lesions=shuffled)
    pd.testing.assert_frame_equal(first_evaluation_features(c2), f0)
    pd.testing.assert_frame_equal(scan_table(c2), s0)
    # patient order drives output order, values are unchanged
    c3 = Cohort(patients=c.patients.iloc[::-1].reset_index(drop=True), lesions=shuffled)
    f3 = first_evaluation_features(c3)
    assert f3.patient_id.tolist() == ["D", "C", "B", "A"]
    pd.testing.assert_frame_equal(f3.iloc[::-1].reset_index(drop=True), f0)


def test_unknown_patient_in_lesions_is_a_clear_error():
    c = make(targets("A", 0, 30) + targets("X", 0, 30), pids=["A"])
    with pytest.raises(CohortError, match="'X' is not in the patients table"):
        scan_table(c)


def test_feature_dtypes():
    f = first_evaluation_features(_mixed_cohort())
    assert str(f.baseline_date.dtype) == "datetime64[ns]"
    assert str(f.new_lesions_first_eval.dtype) == "Int64"
    assert str(f.non_target_pd_first_eval.dtype) == "boolean"
    assert str(f.n_post_baseline_scans.dtype) == "int64"
    assert f.recist_first_eval.tolist() == ["PD", "PD", "NE", "NE"]


def test_wide_format_death_before_first_evaluation_and_missing_date():
    patients = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "treatment_start": START,
            "death_date": [pd.NaT, START + pd.Timedelta(days=25), START + pd.Timedelta(days=10)],
        }
    )
    w = _wide()
    w.loc[1, "date_first_eval"] = pd.NaT
    f = first_evaluation_features(Cohort(patients=patients, scans_wide=w))
    assert f.first_eval_reason.tolist() == [
        None,
        "died before first evaluation (day 25)",
        "died before first evaluation (day 10)",
    ]
    assert f.recist_first_eval.tolist() == ["PD", "NE", "NE"]
    assert f.n_post_baseline_scans.tolist() == [1, 0, 0]


def test_missing_treatment_start_is_a_reason_not_a_crash():
    c = make(targets("A", 0, 30) + targets("A", 42, 30))
    c.patients["treatment_start"] = pd.NaT
    f = one(c)
    assert f.baseline_reason == "no treatment_start"
    assert f.first_eval_reason == "no treatment_start"
    assert f.recist_first_eval == "NE"
    st = scan_table(c)
    assert st.day.isna().all() and (st.role == "unused").all()


# ---------------------------------------------------------------- PD despite a missing target


@pytest.mark.parametrize(
    "base, t1, expected",
    [
        ((20, 10), 36, "PD"),  # measured T1 alone: exactly +20 % and +6 mm over 30 mm
        ((30, 20), 60, "PD"),  # +20 %, +10 mm
        ((30, 20), 59.95, "NE"),  # +19.9 % (+9.95 mm): the missing T2 could change it
        ((10, 10), 24, "NE"),  # +20 % but only +4 mm
    ],
)
def test_target_pd_on_measured_lesions_when_a_target_is_missing(base, t1, expected):
    rows = targets("A", 0, *base) + [les("A", 42, "T1", diam=t1)]  # T2 not measured
    f = one(make(rows))
    assert f.recist_first_eval == expected and f.target_response_first_eval == expected
    # the complete sum stays unknown: no SLD, no % change, no kinetics
    assert np.isnan(f.sld_first_eval_mm) and np.isnan(f.sld_pct_change_first_eval)
    assert f.sld_first_eval_reason == "1 of 2 baseline target lesion(s) not measured"
    if expected == "PD":
        assert f.recist_first_eval_reason == "target PD on measured lesions (1 target not assessed)"
    else:
        assert (
            "target not evaluable: 1 of 2 baseline target lesion(s) not measured"
            in f.recist_first_eval_reason
        )
    st = scan_table(make(rows))
    assert st.sld_measured_mm.tolist() == [sum(base), t1]


def test_measured_sum_excludes_not_evaluable_lesions_and_counts_missing_targets():
    rows = targets("A", 0, 20, 10, 10) + [
        les("A", 42, "T1", diam=50),
        les("A", 42, "T2", diam=30, not_evaluable=True),
    ]
    f = one(make(rows))
    assert f.recist_first_eval == "PD"
    assert f.recist_first_eval_reason == "target PD on measured lesions (2 targets not assessed)"
    st = scan_table(make(rows))
    assert st.sld_measured_mm.tolist() == [40, 50] and np.isnan(st.sld_mm.iloc[1])
    # nothing measured at all: no measured sum, NE
    rows = targets("A", 0, 20) + [les("A", 42, "T1", not_evaluable=True)]
    st = scan_table(make(rows))
    assert np.isnan(st.sld_measured_mm.iloc[1])
    assert one(make(rows)).recist_first_eval == "NE"


def test_measured_sum_equals_sld_in_sums_and_wide_formats():
    patients = pd.DataFrame({"patient_id": ["A"], "treatment_start": START})
    a = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "assessment_date": [START, START + pd.Timedelta(days=42)],
            "sld_mm": [50.0, np.nan],
            "new_lesions": [0, 0],
        }
    )
    st = scan_table(Cohort(patients=patients, assessments=a))
    np.testing.assert_array_equal(st.sld_measured_mm, st.sld_mm)
    st = scan_table(
        Cohort(
            patients=pd.DataFrame({"patient_id": ["A", "B"], "treatment_start": START}),
            scans_wide=_wide(),
        )
    )
    np.testing.assert_array_equal(st.sld_measured_mm, st.sld_mm)


# ---------------------------------------------------------------- non-target disease only


def _nt_only(pid, statuses, extra=()):
    """Baseline non-targets NT1, NT2 present; at day 42 the given statuses (None: not assessed)."""
    rows = [
        les(pid, 0, "NT1", "non_target", status="present", organ="bone"),
        les(pid, 0, "NT2", "non_target", status="present", organ="liver"),
    ]
    rows += [
        les(pid, 42, f"NT{i + 1}", "non_target", status=s, organ="bone")
        for i, s in enumerate(statuses)
        if s is not None
    ]
    return rows + list(extra)


def test_non_target_only_patients_get_table_2_responses():
    rows = (
        _nt_only("ncnp", ["present", "absent"])
        + _nt_only("cr", ["absent", "absent"])
        + _nt_only("nt_pd", ["unequivocal_progression", "present"])
        + _nt_only("new", ["present", "present"], [les("new", 42, "N1", "new", 6, organ="brain")])
        + _nt_only("nt_ne", ["present", None])
    )
    f = feat(make(rows)).set_index("patient_id")
    assert f.recist_first_eval.to_dict() == {
        "ncnp": "NON-CR/NON-PD",
        "cr": "CR",
        "nt_pd": "PD",
        "new": "PD",
        "nt_ne": "NE",
    }
    assert (f.target_response_first_eval == "none").all()
    assert f.loc["ncnp", "recist_first_eval_reason"] == (
        "no target lesion at baseline (non-target disease only); "
        "non-target lesion(s) present without unequivocal progression"
    )
    assert "all non-target lesions gone" in f.loc["cr", "recist_first_eval_reason"]
    assert "new lesion(s)" in f.loc["new", "recist_first_eval_reason"]
    assert "not all assessed" in f.loc["nt_ne", "recist_first_eval_reason"]
    # no target SLD: the kinetic quantities stay not evaluable, with the reason
    assert f.sld_baseline_mm.isna().all()
    assert (f.sld_baseline_reason == "no target lesion at baseline").all()


def test_categorical_text_columns_give_the_same_features():
    # the loader may give patient_id / lesion_id / organ as categoricals: same result
    c = _mixed_cohort()
    lesions = c.lesions.copy()
    for col in ("patient_id", "lesion_id", "organ", "lesion_type", "status"):
        lesions[col] = lesions[col].astype("category")
    c2 = Cohort(patients=c.patients, lesions=lesions)
    pd.testing.assert_frame_equal(first_evaluation_features(c2), first_evaluation_features(c))
    pd.testing.assert_frame_equal(scan_table(c2), scan_table(c))


def test_lesion_ids_unique_per_patient():
    # lesion ids unique across the cohort (e.g. "A-T1"): same measures as shared ids "T1"
    c = _mixed_cohort()
    lesions = c.lesions.assign(lesion_id=c.lesions["patient_id"] + "-" + c.lesions["lesion_id"])
    c2 = Cohort(patients=c.patients, lesions=lesions)
    pd.testing.assert_frame_equal(first_evaluation_features(c2), first_evaluation_features(c))
    s1, s2 = scan_table(c), scan_table(c2)
    pd.testing.assert_frame_equal(s2, s1)
    b = s1[s1.patient_id == "B"].set_index("role")
    assert b.loc["on_treatment", "new_lesions"] == 1 and b.loc["on_treatment", "new_organs"] == 1


def test_dense_and_hash_membership_agree():
    from hpd_analysis.timepoints_kernel import member_rows

    rng = np.random.default_rng(0)
    key = rng.integers(0, 50, 200)
    rows = rng.random(200) < 0.7
    members = key[rng.random(200) < 0.2]
    expected = rows & np.isin(key, members)
    np.testing.assert_array_equal(member_rows(key, rows, members, size=50), expected)  # dense
    np.testing.assert_array_equal(member_rows(key, rows, members, size=10**12), expected)  # hash


def _distinct_copies(values: list) -> np.ndarray:
    """An object array whose equal strings are *different* objects (as a CSV reader may give)."""
    out = np.empty(len(values), dtype=object)
    out[:] = [("".join(list(v)) if isinstance(v, str) else v) for v in values]
    return out


@pytest.mark.parametrize(
    "values",
    [
        ["T1", "T2", "T1", None, "T3", "T2", np.nan, "T1"],
        [],
        [None, None],
        ["a"] * 5,
        [1, "1", 1.0, None, 2, "x", 2],
    ],
)
def test_factorize_by_address_equals_pandas_factorize(values):
    from hpd_analysis.objectcodes import factorize as _factorize

    shared = np.empty(len(values), dtype=object)
    shared[:] = values
    for arr in (shared, _distinct_copies(values), shared[::-1].copy()):
        for given in (arr, pd.Series(arr, dtype=object)):
            codes, uniq = _factorize(given)
            want_codes, want_uniq = pd.factorize(given)
            np.testing.assert_array_equal(codes, want_codes)
            assert list(uniq) == list(want_uniq)
            for na in (True, False):
                codes, uniq = _factorize(given, use_na_sentinel=na)
                want_codes, want_uniq = pd.factorize(given, use_na_sentinel=na)
                np.testing.assert_array_equal(codes, want_codes)
                assert [str(u) for u in uniq] == [str(u) for u in want_uniq]
            rows = np.arange(len(arr))[::-2].copy()  # a subset of rows, in any order
            codes, uniq = _factorize(given, rows)
            want_codes, want_uniq = pd.factorize(np.asarray(given)[rows])
            np.testing.assert_array_equal(codes, want_codes)
            assert list(uniq) == list(want_uniq)
    # non-contiguous arrays, categoricals and numbers take pandas' own path
    cat = pd.Series(pd.Categorical(["b", "a", None, "b"]))
    np.testing.assert_array_equal(_factorize(cat)[0], pd.factorize(cat)[0])
    strided = shared[::2] if len(shared) else shared
    np.testing.assert_array_equal(_factorize(strided)[0], pd.factorize(strided)[0])


def test_same_features_whether_equal_ids_share_one_object_or_not():
    from hpd_analysis.simulate import simulate_cohort

    sim = simulate_cohort(60, seed=11)
    shared = Cohort(patients=sim["patients"], lesions=sim["lesions"])
    lesions = sim["lesions"].copy()
    for c in ("patient_id", "lesion_id", "organ"):
        lesions[c] = _distinct_copies(lesions[c].tolist())
    copies = Cohort(patients=sim["patients"], lesions=lesions)
    pd.testing.assert_frame_equal(
        first_evaluation_features(copies), first_evaluation_features(shared)
    )
    pd.testing.assert_frame_equal(scan_table(copies), scan_table(shared))


def test_factorize_by_address_when_a_value_first_appears_late():
    # the first rows of each code are looked for in the head of the array first; a value first
    # seen far down the table takes the whole-array path
    from hpd_analysis.objectcodes import factorize

    values = np.empty(10_001, dtype=object)
    values[:] = ["a"] * 5_000 + [None] + ["a"] * 4_999 + ["b"]
    for na in (True, False):
        codes, uniq = factorize(values, use_na_sentinel=na)
        want_codes, want_uniq = pd.factorize(values, use_na_sentinel=na)
        np.testing.assert_array_equal(codes, want_codes)
        assert [str(u) for u in uniq] == [str(u) for u in want_uniq]
    rows = np.array([10_000, 0, 5_000, 1])
    np.testing.assert_array_equal(factorize(values, rows)[0], pd.factorize(values[rows])[0])


def test_missing_sld_reasons_equal_a_per_scan_reading():
    """The vectorized reasons why a lesion-table scan has no SLD read, scan by scan, as RECIST
    states them (the first that applies)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hpd_analysis.timepoints import MissingTargetReasons

    def per_scan(has_baseline, expected, measured, below, min_mm):
        if not has_baseline:
            return "no baseline scan"
        if expected == 0:
            return "no target lesion at baseline"
        if measured < expected:
            return f"{expected - measured:g} of {expected:g} baseline target lesion(s) not measured"
        if measured > expected:
            return "a baseline target lesion is measured more than once on this date"
        if below:
            return (
                f"a baseline target lesion below RECIST 1.1 measurability (< {min_mm[0]:g} mm; "
                f"lymph node < {min_mm[1]:g} mm short axis; rules.baseline_target_min_mm, "
                "rules.baseline_node_min_mm)"
            )
        return None

    scan = st.tuples(st.booleans(), st.integers(0, 4), st.integers(0, 5), st.booleans())

    @settings(max_examples=60, deadline=None)
    @given(st.lists(scan, min_size=1, max_size=20), st.sampled_from([(10.0, 15.0), (0.0, 0.0)]))
    def check(scans, min_mm):
        reasons = MissingTargetReasons(
            has_baseline=np.array([s[0] for s in scans]),
            n_expected=np.array([s[1] if s[0] else 0 for s in scans]),
            n_measured=np.array([s[2] for s in scans]),
            below_measurability=np.array([s[3] for s in scans]),
            min_mm=min_mm,
        )
        asked = np.arange(len(scans))[::-1].copy()
        want = [per_scan(s[0], s[1] if s[0] else 0, s[2], s[3], min_mm) for s in scans]
        assert list(reasons.at(asked)) == [want[i] for i in asked]

    check()
