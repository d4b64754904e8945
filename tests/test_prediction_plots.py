"""Figures of the prediction part: what they print, the sample rule, the small-cell rule."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hpd_analysis import plots  # noqa: E402


def test_roc_plot_legend_reads_auc_ci_and_masks_small_counts():
    curves = {"a": pd.DataFrame({"fpr": [0, 0.5, 1], "tpr": [0, 0.8, 1]})}
    table = pd.DataFrame(
        {
            "outcome": ["a"],
            "auc": [0.7],
            "ci_low": [0.55],
            "ci_high": [0.81],
            "n_events": [3],
            "n": [40],
        }
    )
    fig = plots.roc_plot(curves, table, "ldh", min_count=5)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "a: 0.70 (0.55–0.81); <5/40 HPD" in texts
    # straight segments between the points (ties give the diagonal of their block)
    line = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("a:")][0]
    assert list(line.get_xdata()) == [0, 0.5, 1]


def test_calibration_plot_prints_apparent_and_corrected():
    rng = np.random.default_rng(1)
    lp = rng.normal(-1.5, 1, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-lp))).astype(int)
    perf = pd.DataFrame(
        {
            "measure": ["auc", "calibration_slope", "calibration_intercept"],
            "apparent": [0.71, 1.0, 0.0],
            "corrected": [0.66, 0.8, np.nan],
        }
    )
    fig = plots.calibration_plot(y, lp, perf)
    text = "\n".join(t.get_text() for t in fig.axes[0].texts)
    assert "AUC 0.71 / 0.66" in text and "slope 1.00 / 0.80" in text
    assert "intercept 0.00 / n/a" in text


def test_biomarker_spider_samples_reproducibly():
    d = pd.DataFrame(
        {
            "patient_id": np.repeat([f"P{i}" for i in range(300)], 2),
            "day": np.tile([-3, 21], 300),
            "pct_change_baseline": np.tile([0, 10.0], 300),
        }
    )
    st = pd.Series(["hpd"] * 300, index=[f"P{i}" for i in range(300)])
    a = plots.biomarker_spider_plot(d, st, "ldh", max_patients=50, seed=3)
    b = plots.biomarker_spider_plot(d, st, "ldh", max_patients=50, seed=3)
    assert "random sample of 50 of 300 (seed 3)" in a.axes[0].get_title()
    segs_a = a.axes[0].collections[0].get_segments()
    segs_b = b.axes[0].collections[0].get_segments()
    assert len(segs_a) == 50 and all(
        np.array_equal(x, y) for x, y in zip(segs_a, segs_b, strict=True)
    )
    empty = plots.biomarker_spider_plot(d.iloc[:0], None, "ldh")
    assert "no ldh values" in empty.axes[0].texts[0].get_text()
