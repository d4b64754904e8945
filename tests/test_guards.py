"""Reference-period guards (minimum pre-baseline interval, noise floor) and the window sweep, on
patients built by hand (expected values computed in the test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.classification import guard_effects, window_sweep
from hpd_analysis.load import load_cohort

START = pd.Timestamp("2021-03-01")


def _cohort(scans: dict[str, dict[int, list[float]]]):
    """One lung target per patient (diameters by day from treatment start)."""
    rows = [
        (pid, START + pd.Timedelta(days=day), f"L{k}", mm, "lung")
        for pid, by_day in scans.items()
        for day, mms in by_day.items()
        for k, mm in enumerate(mms)
    ]
    lesions = pd.DataFrame(
        rows, columns=["patient_id", "assessment_date", "lesion_id", "diameter_mm", "organ"]
    )
    lesions["lesion_type"] = "target"
    patients = pd.DataFrame({"patient_id": list(scans), "treatment_start": START})
    return load_cohort(patients=patients, lesions=lesions)


def test_each_guard_counts_the_verdicts_it_changed():
    cohort = _cohort(
        {
            # +0.15 % before treatment, +1.3 % after: TGK ratio (0.9/43)/(0.1/57) = 11.9 without the
            # noise floor (Saâda-Bouzid HPD), not evaluable with it
            "noise": {-60: [68.2], -3: [68.3], 40: [69.2]},
            # only a scan 1 day before baseline: TGR_pre = 100·(exp(3·ln(65/50)·30.4375) − 1), huge,
            # so the ratio is tiny: Champiat 'not HPD' without the guard, not evaluable with it
            "one_day": {-4: [30, 20], -3: [40, 25], 40: [80, 60]},
            # a clean patient: 40 -> 50 -> 90 mm, untouched by both guards
            "clean": {-80: [40], -3: [50], 40: [90]},
        }
    )
    g = guard_effects(cohort, ["saada_bouzid2017", "champiat2017"]).set_index(
        ["guard", "definition"]
    )
    floor = g.loc[("noise floor on the pre-treatment change", "saada_bouzid2017")]
    assert (floor.n_changed, floor.hpd_to_not_evaluable) == (1, 1)
    assert (floor.n_hpd, floor.n_hpd_without_guard) == (1, 2)  # clean stays HPD
    gap = g.loc[("minimum pre-baseline interval", "champiat2017")]
    assert (gap.n_changed, gap.not_hpd_to_not_evaluable, gap.hpd_to_not_evaluable) == (1, 1, 0)
    assert gap.value == 28 and gap.off_value == 1
    assert g.loc[("minimum pre-baseline interval", "saada_bouzid2017")].n_changed == 1


def test_window_sweep_moves_gandara_at_49_days():
    # +60 % at day 45: Gandara fast progression only when the first assessment may be at day 45
    cohort = _cohort(
        {
            "late": {-3: [50], 45: [80]},
            "early": {-3: [50], 40: [80]},
            "stable": {-3: [50], 45: [52]},
        }
    )
    grid = [
        ("gandara2018_fp.first_assessment_max_days", (42, 49), 42),
        ("windows.first_eval_max_days", (42, None), None),
    ]
    w = window_sweep(cohort, ["gandara2018_fp", "matos2020"], grid=grid)
    g = w[w.parameter == "gandara2018_fp.first_assessment_max_days"].set_index("value")
    assert g.loc[42, "n_hpd"] == 1 and g.loc[49, "n_hpd"] == 2
    assert g.loc[42, "published"] and not g.loc[49, "published"]
    assert g.loc[49, "percent"] == pytest.approx(200 / 3)
    assert set(g.definition) == {"gandara2018_fp"}  # a definition's parameter moves it alone
    c = w[w.parameter == "windows.first_eval_max_days"]
    assert set(c.definition) == {"gandara2018_fp", "matos2020"}
    # windows.first_eval_max_days=42: the day-45 scans are not first evaluations any more
    m42 = c[(c.value == 42) & (c.definition == "matos2020")].iloc[0]
    assert m42.n_evaluable == 1  # only "early" keeps a first evaluation (matos: PD +60 % HPD)
    nolimit = c[c.value.isna() & (c.definition == "matos2020")].iloc[0]
    assert nolimit.published and nolimit.in_force and nolimit.n_hpd == 2
    assert np.isnan(c.value.astype(float)).sum() == 2


def test_window_sweep_figure_marks_the_published_value():
    from hpd_analysis.plots import window_sweep_plot

    cohort = _cohort({"a": {-3: [50], 45: [80]}})
    grid = [("gandara2018_fp.first_assessment_max_days", (42, 49), 42)]
    fig = window_sweep_plot(window_sweep(cohort, ["gandara2018_fp"], grid=grid))
    ax = fig.axes[0]
    assert ax.get_title() == "Gandara 2018 (fast progression): first assessment max days"
    assert any(list(line.get_xdata()) == [42, 42] for line in ax.get_lines())
