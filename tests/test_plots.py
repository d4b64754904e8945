"""Figures: files written, expected artists drawn, SVG bytes identical on rerun."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from hpd_analysis import plots  # noqa: E402
from hpd_analysis.incidence import hpd_status  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _classification() -> pd.DataFrame:
    """Five hand-made patients: HPD, non-HPD (two), not evaluable (two, one without TGR)."""
    return pd.DataFrame(
        {
            "patient_id": ["p1", "p2", "p3", "p4", "p5"],
            "tgr_pre": [27.27, 40.0, -10.0, np.nan, 5.0],
            "tgr_on": [182.19, 20.0, -50.0, 30.0, 300.0],
            "tgk_pre": [6.5, 3.0, -1.0, np.nan, 0.5],
            "tgk_on": [45.0, 1.0, -4.0, 2.0, 10.0],
            "hpd_ferrara2018": pd.array([True, False, False, pd.NA, pd.NA], dtype="boolean"),
            "hpd_ferrara2018_status": [
                "hpd",
                "not_hpd",
                "not_hpd",
                "not_evaluable",
                "not_evaluable",
            ],
        }
    )


def _scans(n_patients: int) -> pd.DataFrame:
    ids = np.repeat([f"p{i:03d}" for i in range(n_patients)], 3)
    days = np.tile([0.0, 56.0, 112.0], n_patients)
    pct = np.tile([0.0, 25.0, 60.0], n_patients) * np.repeat(np.linspace(-1, 1, n_patients), 3)
    return pd.DataFrame(
        {"patient_id": ids, "days_since_start": days, "sld_pct_change_baseline": pct}
    )


def _km_fitters() -> dict[str, KaplanMeierFitter]:
    rng = np.random.default_rng(3)
    out = {}
    for label, scale in (("HPD", 3.0), ("non-HPD", 12.0)):
        t = rng.exponential(scale, 40)
        e = rng.random(40) < 0.7
        out[label] = KaplanMeierFitter().fit(t, e, label=label)
    return out


def test_status_from_boolean_column_when_no_status_column():
    tab = _classification().drop(columns="hpd_ferrara2018_status")
    st = hpd_status(tab, "ferrara2018")
    assert list(st) == ["hpd", "not_hpd", "not_hpd", "not_evaluable", "not_evaluable"]
    assert list(hpd_status(_classification(), "hpd_ferrara2018")) == list(st)


def test_save_figure_writes_png_and_svg_byte_identical_on_rerun(tmp_path):
    paths_a = plots.save_figure(
        plots.tgr_scatter(_classification(), "hpd_ferrara2018"), tmp_path / "a", "tgr"
    )
    paths_b = plots.save_figure(
        plots.tgr_scatter(_classification(), "hpd_ferrara2018"), tmp_path / "b", "tgr"
    )
    assert [p.name for p in paths_a] == ["tgr.png", "tgr.svg"]
    for pa, pb in zip(paths_a, paths_b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    svg = paths_a[1].read_text()
    assert "<dc:date>" not in svg
    assert paths_a[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tgr_scatter_plots_only_patients_with_both_tgrs():
    fig = plots.tgr_scatter(_classification(), "ferrara2018")
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 4  # p4 has no TGR before treatment
    assert ax.get_xscale() == "symlog" and ax.get_yscale() == "symlog"
    assert "4 of 5" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("identity" in s for s in labels) and any("ratio ≥ 2" in s for s in labels)


def test_tgr_scatter_without_any_tgr_says_so():
    tab = _classification().assign(tgr_pre=np.nan)
    ax = plots.tgr_scatter(tab, "ferrara2018").axes[0]
    assert "0 of 5" in ax.get_title()


def test_spider_samples_large_cohorts_reproducibly_and_says_so():
    scans = _scans(30)
    status = pd.Series("not_hpd", index=[f"p{i:03d}" for i in range(30)])
    ax1 = plots.spider_plot(scans, status, max_patients=10, seed=1).axes[0]
    ax2 = plots.spider_plot(scans, status, max_patients=10, seed=1).axes[0]
    lines1 = [c for c in ax1.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in lines1) == 10
    assert "random sample of 10 of 30" in ax1.get_title()
    seg1 = np.concatenate(lines1[0].get_segments())
    seg2 = np.concatenate(
        [c for c in ax2.collections if isinstance(c, LineCollection)][0].get_segments()
    )
    np.testing.assert_array_equal(seg1, seg2)


def test_spider_small_cohort_draws_every_patient_in_weeks():
    ax = plots.spider_plot(_scans(3)).axes[0]
    segs = [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
    assert len(segs) == 3
    assert segs[0][:, 0].max() == pytest.approx(16.0)  # 112 days = 16 weeks
    assert "3 patients" in ax.get_title()


def test_waterfall_sorted_descending_and_clipped():
    pct = pd.Series([10.0, -40.0, 350.0, np.nan], index=["a", "b", "c", "d"])
    status = pd.Series(["not_hpd", "not_hpd", "hpd", "not_evaluable"], index=list("abcd"))
    ax = plots.waterfall_plot(pct, status, clip_pct=200).axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [200.0, 10.0, -40.0]
    assert "3 of 4" in ax.get_title()
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(plots.STATUS_COLORS["hpd"])
    )


def test_tgk_distributions_one_box_per_status_and_period():
    ax = plots.tgk_distributions(_classification(), "ferrara2018").axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # hpd: pre+on; not_hpd: pre+on; not evaluable: pre (p5) + on (p4, p5)
    assert len(labels) == 6
    assert labels[2:4] == ["before\nn=2", "on\nn=2"]  # non-HPD: p2, p3
    # the group name is written once under each pair, not in every tick label (no overlap)
    groups = [t.get_text() for t in ax.texts]
    assert groups == ["HPD", "non-HPD", "not evaluable"]


def test_incidence_forest_one_row_per_definition_with_counts():
    tab = pd.DataFrame(
        {
            "definition": ["champiat2017", "ferrara2018"],
            "stratum": ["all", "all"],
            "n_hpd": [12, 56],
            "n_evaluable": [131, 406],
            "n_total": [140, 410],
            "percent": [9.16, 13.79],
            "ci_low": [5.3, 10.8],
            "ci_high": [15.4, 17.5],
        }
    )
    ax = plots.incidence_forest(tab).axes[0]
    top_down = sorted(
        zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True),
        reverse=True,
    )
    # table order, labelled by first author and year
    assert [name for _, name in top_down] == ["Champiat 2017", "Ferrara 2018"]
    texts = [t.get_text() for t in ax.texts]
    assert "12/131" in texts and "56/406" in texts


def test_agreement_heatmap_symmetric_with_unit_diagonal():
    tab = pd.DataFrame(
        {
            "definition_a": ["a", "a", "b"],
            "definition_b": ["b", "c", "c"],
            "jaccard": [0.5, 0.25, np.nan],
            "kappa": [0.6, 0.1, np.nan],
        }
    )
    fig = plots.agreement_heatmap(tab, "jaccard")
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (3, 3)
    assert img[0, 1] == img[1, 0] == 0.5 and img[0, 0] == 1.0
    assert "n/a" in [t.get_text() for t in fig.axes[0].texts]


def test_upset_from_series_with_boolean_multiindex():
    idx = pd.MultiIndex.from_tuples(
        [(False, False), (True, True), (True, False), (False, True)], names=["a", "b"]
    )
    counts = pd.Series([50, 7, 3, 2], index=idx, name="n")
    counts.attrs["n_excluded"] = 4
    fig = plots.upset_plot(counts)
    ax_bar = fig.axes[0]
    assert [p.get_height() for p in ax_bar.patches] == [7, 3, 2]  # "none" left out
    title = ax_bar.get_title(loc="left").replace("\n", " ")
    # "at least one", not "every": a patient evaluable under some definitions only is left out
    assert "Among the 62 patients evaluable under every definition" in title
    assert "4 not evaluable under at least one are left out" in title
    ax_set = fig.axes[2]
    assert sorted(p.get_width() for p in ax_set.patches) == [9, 10]  # a: 7+3, b: 7+2
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["a", "b"]


def test_threshold_curve_with_ci_band_and_reference():
    sweep = pd.DataFrame(
        {
            "definition": "champiat2017",
            "parameter": "tgr_ratio_min",
            "value": [1.5, 2.0, 3.0],
            "default": 2.0,
            "percent": [20.0, 12.0, 5.0],
            "ci_low": [15.0, 8.0, 2.0],
            "ci_high": [25.0, 16.0, 9.0],
        }
    )
    ax = plots.threshold_curve(sweep).axes[0]
    assert len(ax.lines) == 2  # curve + reference line
    assert len(ax.collections) == 1  # CI band
    assert ax.lines[1].get_xdata()[0] == 2.0  # published threshold from the "default" column
    assert ax.get_xlabel() == "Champiat 2017: tgr_ratio_min"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["published threshold (2)"]


def test_attrition_flow_counts_add_up_per_definition():
    att = pd.DataFrame(
        {
            "definition": ["d1"] * 4 + ["d2"] * 3,
            "status": [
                "hpd",
                "not_hpd",
                "not_evaluable",
                "not_evaluable",
                "hpd",
                "not_hpd",
                "not_evaluable",
            ],
            "reason": [
                "evaluable",
                "evaluable",
                "no pre-baseline scan",
                "no first evaluation",
                "evaluable",
                "evaluable",
                "no first evaluation",
            ],
            "n": [3, 10, 5, 2, 1, 16, 3],
        }
    )
    ax = plots.attrition_flow_plot(att).axes[0]
    widths: dict[float, float] = {}
    for p in ax.patches:
        widths[round(p.get_y(), 3)] = widths.get(round(p.get_y(), 3), 0) + p.get_width()
    assert sorted(widths.values()) == [20, 20]
    assert "n=20" in ax.get_title()


def test_or_forest_is_compact_reference_in_the_label_and_log_scale():
    tab = pd.DataFrame(
        {
            "variable": ["age", "sex", "sex", "age"],
            "level": ["", "female", "male", ""],
            "model": ["univariable", "univariable", "univariable", "multivariable"],
            "odds_ratio": [1.02, np.nan, 1.8, 1.01],
            "ci_low": [0.99, np.nan, 0.9, 0.98],
            "ci_high": [1.05, np.nan, 3.6, 1.04],
            "p_value": [0.2, np.nan, 0.09, 0.5],
            "reference": ["", "female", "female", ""],
        }
    )
    ax = plots.or_forest(tab).axes[0]
    assert ax.get_xscale() == "log"
    top_down = sorted(
        zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True),
        reverse=True,
    )
    assert [name for _, name in top_down] == ["age", "sex (male vs female)"]
    assert sorted(ax.get_legend_handles_labels()[1]) == ["multivariable", "univariable"]


def test_or_forest_binary_and_multilevel_labels():
    tab = pd.DataFrame(
        {
            "variable": ["liver_metastasis", "liver_metastasis", "tumor", "tumor", "tumor", "age"],
            "level": ["False", "True", "HNSCC", "NSCLC", "melanoma", "per 1 unit"],
            "reference": ["False", "False", "HNSCC", "HNSCC", "HNSCC", ""],
            "model": ["univariable"] * 6,
            "odds_ratio": [1.0, 2.0, 1.0, 1.5, 0.7, 1.01],
            "ci_low": [np.nan, 1.1, np.nan, 0.8, 0.3, 0.99],
            "ci_high": [np.nan, 3.5, np.nan, 2.9, 1.6, 1.03],
            "p_value": [np.nan, 0.02, np.nan, 0.2, 0.4, 0.3],
            "note": ["reference level", "", "reference level", "", "", ""],
        }
    )
    ax = plots.or_forest(tab).axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == sorted(
        [
            "liver_metastasis (yes vs no)",
            "tumor: NSCLC vs HNSCC",
            "tumor: melanoma vs HNSCC",
            "age (per 1 unit)",
        ]
    )
    assert not any("reference" in n for n in names)


def test_group_labels_are_those_of_the_tables():
    from hpd_analysis.incidence import HPD_LABEL, NON_HPD_LABEL

    assert plots.STATUS_LABELS["hpd"] == HPD_LABEL
    assert plots.STATUS_LABELS["not_hpd"] == NON_HPD_LABEL == "non-HPD"


def test_count_label_small_cell_rule():
    assert plots.count_label(3) == "3"
    assert plots.count_label(3, min_count=5) == "<5"
    assert plots.count_label(0, min_count=5) == "0"
    assert plots.count_label(12.0, min_count=5) == "12"
    assert plots.count_label("<5", min_count=5) == "<5"


def test_incidence_forest_masks_small_printed_counts():
    tab = pd.DataFrame(
        {
            "definition": ["a"],
            "stratum": ["all"],
            "n_hpd": [3],
            "n_evaluable": [40],
            "percent": [7.5],
            "ci_low": [2.6],
            "ci_high": [19.9],
        }
    )
    ax = plots.incidence_forest(tab, min_count=5).axes[0]
    assert [t.get_text() for t in ax.texts] == ["<5/40"]
    ax = plots.incidence_forest(tab).axes[0]
    assert [t.get_text() for t in ax.texts] == ["3/40"]


def test_km_plot_medians_in_legend_censor_marks_and_at_risk_table(tmp_path):
    fitters = _km_fitters()
    fig = plots.km_plot(fitters, title="OS")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and all("median" in s and "n=40" in s for s in labels)
    assert len(fig.axes) >= 2  # at-risk table axis added by lifelines
    markers = {line.get_marker() for line in ax.lines}
    assert "|" in markers
    paths_a = plots.save_figure(fig, tmp_path, "km")
    paths_b = plots.save_figure(plots.km_plot(_km_fitters(), title="OS"), tmp_path / "b", "km")
    assert paths_a[1].read_bytes() == paths_b[1].read_bytes()


def test_figures_draw_on_a_given_axis():
    fig, ax = plt.subplots()
    assert plots.tgr_scatter(_classification(), "ferrara2018", ax=ax) is fig
    assert len(fig.axes) == 1


def test_spider_data_percent_change_from_baseline_only_on_treatment_scans():
    scans = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "a", "b", "b", "c", "c"],
            "day": [-60.0, -5.0, 42.0, 84.0, -3.0, 40.0, -2.0, 50.0],
            "role": [
                "prebaseline",
                "baseline",
                "on_treatment",
                "on_treatment",
                "baseline",
                "on_treatment",
                "baseline",
                "on_treatment",
            ],
            "sld_mm": [40.0, 50.0, 60.0, np.nan, 0.0, 10.0, 20.0, 10.0],
        }
    )
    out = plots.spider_data(scans)
    # a: baseline 0 %, +20 %; the NaN scan is dropped; b: baseline 0 mm (no %); c: 0, −50 %
    assert out["patient_id"].tolist() == ["a", "a", "c", "c"]
    assert out["sld_pct_change_baseline"].tolist() == [0.0, 20.0, 0.0, -50.0]
    assert out["days_since_start"].tolist() == [-5.0, 42.0, -2.0, 50.0]
    assert plots.spider_data(scans.iloc[:0]).empty


def test_km_plot_hpd_groups_get_status_colours():
    ax = plots.km_plot(_km_fitters(), at_risk=False).axes[0]
    colors = {matplotlib.colors.to_hex(h.get_color()) for h in ax.get_legend().legend_handles}
    assert colors == {plots.STATUS_COLORS["hpd"].lower(), plots.STATUS_COLORS["not_hpd"].lower()}


def test_attrition_flow_lumps_rare_reasons():
    att = pd.DataFrame(
        {
            "definition": "d",
            "status": ["hpd", "not_hpd"] + ["not_evaluable"] * 4,
            "reason": ["evaluable", "evaluable", "r1", "r2", "r3", "r4"],
            "n": [1, 2, 8, 4, 2, 1],
        }
    )
    ax = plots.attrition_flow_plot(att, max_reasons=2).axes[0]
    assert sum(p.get_width() for p in ax.patches) == 18
    assert "(n=18)" in ax.get_title()
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:3] == ["HPD", "non-HPD", "r1"] and labels[3].startswith("other reasons (3 kinds")


def test_use_style_restores_only_its_own_keys():
    import matplotlib as mpl

    before = mpl.rcParams["font.size"]
    with plots.use_style():
        assert mpl.rcParams["svg.hashsalt"] == "hpd-workbench"
        mpl.rcParams["interactive"] = True  # what the inline backend does on the first figure
    assert mpl.rcParams["interactive"] is True and mpl.rcParams["font.size"] == before
    mpl.rcParams["interactive"] = False


def test_dense_figures_stay_small_for_large_cohorts(tmp_path):
    """Above RASTERIZE_ABOVE patients the waterfall and TGR scatter are rasterized inside the
    SVG: every patient is still drawn, but the file does not grow with one vector mark each."""
    import numpy as np
    import pandas as pd

    from hpd_analysis import plots

    rng = np.random.default_rng(0)
    n = 3 * plots.RASTERIZE_ABOVE
    ids = [f"P{i}" for i in range(n)]
    status = pd.Series(rng.choice(["hpd", "not_hpd", "not_evaluable"], n), index=ids)
    fig = plots.waterfall_plot(pd.Series(rng.normal(0, 40, n), index=ids), status)
    svg = [p for p in plots.save_figure(fig, tmp_path, "wf") if p.suffix == ".svg"][0]
    assert svg.stat().st_size < 400_000
    assert f"of {n} patients" in fig.axes[0].get_title()


def test_every_figure_of_a_family_module_is_a_name_of_plots():
    """The figure families are modules of the plots package; notebooks and tests use
    ``plots.<name>``: every public function and constant of a family is re-exported."""
    import inspect

    from hpd_analysis.plots import growth, incidence, kinetics, risk, style, survival

    shared_helpers = {
        "new_axes",
        "style_axes",
        "with_note",
        "draw_empty",
        "scatter_by_status",
    }  # the families' drawing helpers: plots.style.<name>
    for module in (style, kinetics, growth, incidence, risk, survival):
        for name, obj in vars(module).items():
            if name.startswith("_") or name in shared_helpers or inspect.ismodule(obj):
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                if obj.__module__ != module.__name__:
                    continue  # imported from elsewhere
            elif not name.isupper() or (module is not style and name in vars(style)):
                continue  # not a constant, or the style's own
            assert getattr(plots, name) is obj, f"plots.{name}"
            assert name in plots.__all__, name
    for name in plots.__all__:
        assert hasattr(plots, name), name
