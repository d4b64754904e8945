"""Report outputs follow the parameters in force; publication formatting of tables and figures
(issue 11, outputs): rule texts from parameters, thresholds drawn from the definitions, typeset
HTML tables without network assets, tables.docx equal to the CSVs, 300 dpi PNGs, plain text on
figures (a ``$`` in any label), KMunicate survival figures, the forest plot's log axis and
columns, one colour per cause in the attrition figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import png_dpi  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402

from hpd_analysis import plots, tables  # noqa: E402
from hpd_analysis.definitions import (  # noqa: E402
    BUILTIN_DEFINITIONS,
    REGISTRY,
    Definition,
    author_year,
    describe_definitions,
    get_definitions,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ferrara75() -> list[Definition]:
    return get_definitions(
        ["champiat2017", "ferrara2018"], overrides={"ferrara2018": {"delta_tgr_min": 75.0}}
    )


# --------------------------------------------------------------------------------------------
# rule texts follow the parameters


def test_stale_threshold_rule_text_follows_the_parameters():
    ferrara = _ferrara75()[1]
    assert "ΔTGR (TGR_on − TGR_pre) > 75 percentage points" in ferrara.rule_text()
    assert ferrara.notes_text() == "Strictly greater than 75."
    assert "50" not in ferrara.rule_text() + ferrara.notes_text()
    assert ferrara.parameter_changes() == {"delta_tgr_min": (75.0, 50.0)}
    row = describe_definitions([ferrara]).iloc[0]
    assert row["label"] == "Ferrara 2018"
    assert "> 75" in row["rule"] and "> 75" in row["criteria"] and "ΔTGR > 50" not in row["rule"]
    assert row["differs_from_published"] == "delta_tgr_min = 75 (published: 50)"
    published = describe_definitions([REGISTRY["ferrara2018"]]).iloc[0]
    assert "> 50" in published["rule"] and published["differs_from_published"] == ""


@pytest.mark.parametrize("definition", BUILTIN_DEFINITIONS, ids=lambda d: d.code)
def test_every_numeric_threshold_is_written_from_its_parameter(definition):
    """Change each numeric parameter to an odd value: the rule or the notes show it."""
    for name, value in definition.parameters.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        odd = int(value) + 7 if isinstance(value, int) else float(value) + 0.37
        changed = definition.with_parameters(**{name: odd})
        text = changed.rule_text() + " " + changed.notes_text()
        assert f"{odd:g}" in text, (definition.code, name)


def test_author_year_labels():
    labels = {d.code: author_year(d) for d in BUILTIN_DEFINITIONS}
    assert labels["champiat2017"] == "Champiat 2017"
    assert labels["saada_bouzid2017"] == "Saâda-Bouzid 2017"
    assert labels["lo_russo2019"] == "Lo Russo 2019"
    assert labels["gandara2018_fp"] == "Gandara 2018 (fast progression)"
    assert len(set(labels.values())) == len(labels)  # no two definitions with one label
    mine = Definition(
        code="my_rule", citation="user-defined", rule="x", criteria=["tgr_ratio >= 3"]
    )
    assert author_year(mine) == "my_rule"


# --------------------------------------------------------------------------------------------
# figures draw the thresholds in force


def _classification() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["p1", "p2", "p3"],
            "tgr_pre": [10.0, 40.0, -10.0],
            "tgr_on": [150.0, 20.0, -50.0],
            "tgk_pre": [1.0, 3.0, -1.0],
            "tgk_on": [9.0, 1.0, -4.0],
            "hpd_ferrara2018": pd.array([True, False, False], dtype="boolean"),
            "hpd_ferrara2018_status": ["hpd", "not_hpd", "not_hpd"],
        }
    )


def test_tgr_scatter_draws_the_delta_threshold_in_force():
    ax = plots.tgr_scatter(_classification(), "ferrara2018", definitions=_ferrara75()).axes[0]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1
    x, y = dashed[0].get_xdata(), dashed[0].get_ydata()
    np.testing.assert_allclose(y - x, 75.0)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ΔTGR = 75 points (Ferrara 2018 †; published: 50)" in legend
    assert not any("= 50" in t for t in legend)
    assert "delta_tgr_min = 75 (published: 50)" in ax.get_title().replace("\n", " ")
    # without the report's definitions: the published thresholds, said as such
    ax = plots.tgr_scatter(_classification(), "ferrara2018").axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ΔTGR = 50 points (Ferrara 2018)" in legend


def test_tgr_scatter_coloured_by_kas_draws_kas_threshold():
    tab = _classification().rename(
        columns={"hpd_ferrara2018": "hpd_kas2020", "hpd_ferrara2018_status": "hpd_kas2020_status"}
    )
    ax = plots.tgr_scatter(tab, "kas2020", definitions=get_definitions(["kas2020"])).axes[0]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"][0]
    np.testing.assert_allclose(dashed.get_ydata() - dashed.get_xdata(), 100.0)


def test_threshold_sweep_never_calls_the_value_in_force_published():
    sweep = pd.DataFrame(
        {
            "definition": "ferrara2018",
            "parameter": "delta_tgr_min",
            "value": [25.0, 50.0, 75.0, 100.0],
            "default": 75.0,
            "percent": [20.0, 12.0, 8.0, 5.0],
            "ci_low": [15.0, 8.0, 5.0, 2.0],
            "ci_high": [25.0, 16.0, 11.0, 9.0],
        }
    )
    ax = plots.threshold_curve(sweep, definitions=_ferrara75()).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["threshold in force (75)", "published threshold (50)"]
    assert [ln.get_xdata()[0] for ln in ax.lines[1:]] == [75.0, 50.0]
    # even without the definitions, the registry knows the published value
    legend = [t.get_text() for t in plots.threshold_curve(sweep).axes[0].get_legend().get_texts()]
    assert "published threshold (75)" not in legend and "published threshold (50)" in legend


def test_definitions_labelled_by_author_and_year_with_the_change_marked():
    inc = pd.DataFrame(
        {
            "definition": ["champiat2017", "ferrara2018"],
            "stratum": "all",
            "n_hpd": [5, 6],
            "n_evaluable": [50, 60],
            "n_total": [70, 70],
            "percent": [10.0, 10.0],
            "ci_low": [4.0, 4.5],
            "ci_high": [21.0, 20.0],
        }
    )
    ax = plots.incidence_forest(inc, definitions=_ferrara75()).axes[0]
    names = sorted(t.get_text() for t in ax.get_yticklabels())
    assert names == ["Champiat 2017", "Ferrara 2018 †"]
    assert "Ferrara 2018 delta_tgr_min = 75 (published: 50)" in ax.get_title().replace("\n", " ")


def test_overall_and_stratified_incidence_figures_have_different_titles():
    inc = pd.DataFrame(
        {
            "definition": ["kas2020"] * 3,
            "stratum": ["all", "tumor_type=A", "tumor_type=B"],
            "n_hpd": [5, 2, 3],
            "n_evaluable": [50, 20, 30],
            "percent": [10.0, 10.0, 10.0],
            "ci_low": [4.0, 3.0, 3.0],
            "ci_high": [21.0, 30.0, 25.0],
        }
    )
    t_all = plots.incidence_forest(inc, strata=["all"]).axes[0].get_title()
    ax = plots.incidence_forest(inc, strata=["tumor_type=A", "tumor_type=B"], by="tumor_type").axes[
        0
    ]
    assert t_all != ax.get_title() and "tumour type" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]


# --------------------------------------------------------------------------------------------
# figures: 300 dpi, plain text


def test_png_is_300_dpi_and_svg_written(tmp_path):
    png, svg = plots.save_figure(
        plots.tgr_scatter(_classification(), "ferrara2018"), tmp_path, "tgr"
    )
    dpi = png_dpi(png)
    assert dpi == pytest.approx((300.0, 300.0), abs=0.1)
    assert svg.read_text().startswith("<?xml")


def _km(labels: tuple[str, str]) -> dict[str, KaplanMeierFitter]:
    rng = np.random.default_rng(7)
    out = {}
    for label, scale in zip(labels, (3.0, 10.0), strict=True):
        t = rng.exponential(scale, 30)
        e = rng.random(30) < 0.8
        out[label] = KaplanMeierFitter().fit(t, e, label=label)
    return out


def test_a_dollar_in_any_label_is_drawn_as_a_dollar(tmp_path, monkeypatch):
    """Tumour types, arms, definition codes and variable names with $ (matplotlib would read
    "$...$" as mathtext and fail on "$5 $x"): every figure draws them, and they are saved."""
    odd = "arm $5 $x^{"
    mpl = matplotlib
    # matplotlib's default, which the functions must survive (an earlier test may have applied
    # the report style, which turns mathtext off globally)
    monkeypatch.setitem(mpl.rcParams, "text.parse_math", True)
    inc = pd.DataFrame(
        {
            "definition": ["my$def", "my$def"],
            "stratum": ["all", f"t={odd}"],
            "n_hpd": [3, 1],
            "n_evaluable": [30, 10],
            "n_total": [30, 10],
            "percent": [10.0, 10.0],
            "ci_low": [3.0, 1.0],
            "ci_high": [25.0, 40.0],
        }
    )
    att = pd.DataFrame(
        {
            "definition": ["my$def"] * 3,
            "status": ["hpd", "not_hpd", "not_evaluable"],
            "reason": ["evaluable", "evaluable", f"no scan {odd}"],
            "n": [3, 27, 5],
        }
    )
    agr = pd.DataFrame(
        {"definition_a": ["a$"], "definition_b": [f"b{odd}"], "jaccard": [0.5], "kappa": [0.4]}
    )
    idx = pd.MultiIndex.from_tuples([(True, False), (True, True)], names=["a$", odd])
    ors = pd.DataFrame(
        {
            "variable": [odd, odd],
            "level": ["x$", "y$"],
            "reference": ["x$", "x$"],
            "model": ["univariable"] * 2,
            "odds_ratio": [1.0, 2.0],
            "ci_low": [np.nan, 1.1],
            "ci_high": [np.nan, 3.5],
            "p_value": [np.nan, 0.02],
        }
    )
    figures = [
        plots.incidence_forest(inc, strata=[f"t={odd}"], by="t"),
        plots.attrition_flow_plot(att),
        plots.agreement_heatmap(agr, "kappa"),
        plots.upset_plot(pd.Series([4, 2], index=idx, name="n")),
        plots.or_forest(ors),
        plots.km_plot(
            _km((odd, "$10 $y")), title=f"OS by {odd}", annotation=f"HR {odd} vs $10: 2.0"
        ),
        plots.threshold_curve(
            pd.DataFrame(
                {
                    "definition": "my$def",
                    "parameter": "x$",
                    "value": [1.0, 2.0],
                    "default": 2.0,
                    "percent": [5.0, 3.0],
                }
            ),
            group=None,
        ),
    ]
    for k, fig in enumerate(figures):
        plots.save_figure(fig, tmp_path, f"f{k}")
        fig.canvas.draw()  # drawn again outside any style context
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        assert any("$" in t for t in texts), k
    assert odd in (tmp_path / "f5.svg").read_text().replace("&lt;", "<")


def test_log_axes_tick_labels_are_plain_numbers():
    fig = plots.tgr_scatter(_classification(), "ferrara2018")
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert labels and not any("$" in t or "mathdefault" in t for t in labels)
    assert {"0", "10", "100", "−10"} <= set(labels)


def test_forest_plot_log_ticks_and_number_columns():
    ors = pd.DataFrame(
        {
            "variable": ["age", "liver_metastasis", "liver_metastasis"],
            "level": ["per 1 unit", "False", "True"],
            "reference": ["", "False", "False"],
            "model": ["univariable"] * 3,
            "odds_ratio": [1.02, 1.0, 2.5],
            "ci_low": [0.99, np.nan, 1.2],
            "ci_high": [1.05, np.nan, 5.2],
            "p_value": [0.2, np.nan, 0.0004],
            "note": ["", "reference level", ""],
        }
    )
    fig = plots.or_forest(ors, labels={"liver_metastasis": "Liver metastasis"})
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5", "1", "2", "5", "10"]
    texts = [t.get_text() for t in ax.texts]
    assert {"OR (95 % CI)", "p", "2.50 (1.20–5.20)", "<0.001", "1.02 (0.99–1.05)", "0.20"} <= set(
        texts
    )
    assert "Liver metastasis (yes vs no)" in [t.get_text() for t in ax.get_yticklabels()]


def test_km_figure_kmunicate_table_hr_and_time_origin():
    from hpd_analysis.survival import SurvivalComparison

    rng = np.random.default_rng(1)
    n = 60
    data = pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(n)],
            "arm": np.repeat(["A", "B"], n // 2),
            "os_months": np.r_[rng.exponential(4, n // 2), rng.exponential(12, n // 2)],
            "os_event": (rng.random(n) < 0.8).astype(int),
        }
    )
    comp = SurvivalComparison("os", "arm", landmark="none").fit(data)
    note = plots.km_annotation(comp.summary)
    hr = comp.summary.loc[comp.summary["group"] != comp.summary["reference_group"]].iloc[0]
    assert (
        f"{hr['hazard_ratio']:.2f} (95 % CI {hr['hr_ci_low']:.2f}–{hr['hr_ci_high']:.2f})" in note
    )
    assert "log-rank p" in note
    label = plots.km_time_label(56.0 / 30.4375, 30.4375)
    assert label == "Months from landmark (day 56 after treatment start)"
    assert plots.km_time_label(None) == "Months from treatment start"
    fig = plots.km_plot(comp.fitters, xlabel=label, annotation=note)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("median" in t for t in legend) and note.splitlines()[-1] in legend
    # the table under the plot (lifelines writes it as the tick labels of a twin axis)
    table = "\n".join(t.get_text() for a in fig.axes[1:] for t in a.get_xticklabels())
    rows = {line.strip().rsplit(" ", 1)[0].strip() for line in table.splitlines() if line.strip()}
    assert {"At risk", "Censored", "Events"} <= rows


def test_attrition_one_colour_per_cause():
    att = pd.DataFrame(
        {
            "definition": ["d1"] * 5 + ["d2"] * 4,
            "status": [
                "hpd",
                "not_hpd",
                "not_evaluable",
                "not_evaluable",
                "not_evaluable",
                "hpd",
                "not_hpd",
                "not_evaluable",
                "not_evaluable",
            ],
            "reason_category": [
                "evaluable",
                "evaluable",
                "no usable pre-baseline scan",
                "no usable pre-baseline scan",
                "died",
                "evaluable",
                "evaluable",
                "no usable pre-baseline scan",
                "died",
            ],
            "reason": [
                "evaluable",
                "evaluable",
                "no pre-baseline scan",
                "1 of 3 targets not measured; no scan in the window",
                "death before day 20",
                "evaluable",
                "evaluable",
                "no pre-baseline scan",
                "death before day 30",
            ],
            "n": [2, 10, 4, 3, 1, 1, 12, 6, 1],
        }
    )
    ax = plots.attrition_flow_plot(att).axes[0]
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["HPD", "non-HPD", "no usable pre-baseline scan", "died"]
    colours = [matplotlib.colors.to_hex(h.patches[0].get_facecolor()) for h in handles]
    assert len(set(colours)) == len(colours)
    widths: dict[float, float] = {}
    for p in ax.patches:
        widths[round(p.get_y(), 3)] = widths.get(round(p.get_y(), 3), 0) + p.get_width()
    assert sorted(widths.values()) == [20, 20]


# --------------------------------------------------------------------------------------------
# typeset tables


def test_p_value_and_number_formats():
    assert [tables.p_value_text(p) for p in (0.0004, 0.001, 0.01234, 0.5, 0.996, np.nan)] == [
        "<0.001",
        "0.0010",
        "0.012",
        "0.50",
        "1.0",
        "",
    ]
    assert tables.format_ci(1.234, 0.9, 2.5) == "1.23 (0.90–2.50)"
    assert tables.format_ci(-0.02, -0.1, 0.2) == "−0.02 (−0.10–0.20)"
    assert tables.format_number(float("inf")) == "NR"
    assert tables.format_count_percent(3, 12) == "3 (25.0 %)"


def _table1() -> pd.DataFrame:
    """A Table 1 as riskfactors.table1 returns it (values typed in by hand)."""
    return pd.DataFrame(
        {
            "variable": [
                "n",
                "age",
                "liver_metastasis",
                "liver_metastasis",
                "tumor_type",
                "tumor_type",
                "nlr",
            ],
            "level": ["", "", "False", "True", "A", "B", ""],
            "statistic": ["n", "mean (SD)", "n (%)", "n (%)", "n (%)", "n (%)", "median [Q1,Q3]"],
            "overall": [
                "40",
                "63.3 (9.9)",
                "30 (75.0)",
                "10 (25.0)",
                "25 (62.5)",
                "15 (37.5)",
                "4.1 [2.8,6.5]",
            ],
            "HPD": [
                "10",
                "66.2 (11.3)",
                "6 (60.0)",
                "4 (40.0)",
                "5 (50.0)",
                "5 (50.0)",
                "3.8 [2.4,9.5]",
            ],
            "non-HPD": [
                "30",
                "62.3 (9.0)",
                "24 (80.0)",
                "6 (20.0)",
                "20 (66.7)",
                "10 (33.3)",
                "4.2 [2.9,6.3]",
            ],
            "missing": pd.array([5, 0, 2, pd.NA, 0, pd.NA, 1], dtype="Int64"),
            "test": [
                "",
                "Welch's t-test",
                "Fisher's exact",
                "",
                "Chi-squared",
                "",
                "Kruskal-Wallis",
            ],
            "p_value": [np.nan, 0.1862, 0.0004, np.nan, 0.47, np.nan, 0.96],
            "smd": [np.nan] * 7,
        }
    )


def test_table1_typeset_like_a_journal():
    out = tables.format_table1(_table1(), {"nlr": "NLR"}, group_name="HPD status")
    assert list(out.columns) == [
        "Characteristic",
        "Overall (n = 40)",
        "HPD (n = 10)",
        "non-HPD (n = 30)",
        "Missing",
        "p",
    ]
    rows = out.set_index("Characteristic")
    # a binary variable: one row, the "yes" counts
    assert rows.loc["Liver metastasis, n (%)", "HPD (n = 10)"] == "4 (40.0 %)"
    assert rows.loc["Liver metastasis, n (%)", "Missing"] == "2"
    assert rows.loc["Liver metastasis, n (%)", "p"] == "<0.001ᵇ"
    assert rows.loc["Age, years, mean (SD)", "p"] == "0.19ᵃ"
    assert rows.loc["NLR, median [Q1, Q3]", "Overall (n = 40)"] == "4.1 [2.8, 6.5]"
    assert "    A" in rows.index and "    B" in rows.index  # a categorical: one row per level
    assert out.attrs["title"] == "Table 1. Patient characteristics by HPD status"
    notes = out.attrs["footnotes"]
    assert "ᵃ Welch's t-test." in notes and "ᵇ Fisher's exact." in notes
    assert any("5 patient(s) left out" in n for n in notes)


def test_html_tables_load_nothing_from_the_network_and_keep_long_texts():
    long = "a very long reason " * 20
    out = tables.format_generic(
        pd.DataFrame({"reason": [long], "p_value": [0.00001], "n": [3.0]}), "T"
    )
    text = tables.to_html(out)
    assert "@import" not in text and not re.search(r"(src|href)=\"https?://", text)
    assert "googleapis" not in text
    assert long.strip() in text and "&lt;0.001" in text and ">3<" in text
    assert "overflow-x:auto" in text
    assert text == tables.to_html(out)  # no random id: same bytes


def test_labels_file_overrides_the_built_in_labels(tmp_path):
    from hpd_analysis.errors import ParameterError

    (tmp_path / "labels.csv").write_text("variable,label\nnlr,NLR (ratio)\nmy_col,My $ column\n")
    (tmp_path / "labels.yaml").write_text("nlr: NLR from YAML\n")
    got = tables.read_labels("labels.csv", tmp_path / "patients.csv")
    assert got == {"nlr": "NLR (ratio)", "my_col": "My $ column"}
    assert tables.variable_labels(["nlr", "age", "bmi_kg"], got) == {
        "nlr": "NLR (ratio)",
        "age": "Age, years",
        "bmi_kg": "Bmi kg",
    }
    assert tables.read_labels(tmp_path / "labels.yaml") == {"nlr": "NLR from YAML"}
    with pytest.raises(ParameterError, match="labels.file=nope.csv: file not found"):
        tables.read_labels("nope.csv", tmp_path)
    (tmp_path / "bad.csv").write_text("name,text\nx,y\n")
    with pytest.raises(ParameterError, match="expected variable,label"):
        tables.read_labels(tmp_path / "bad.csv")
    from hpd_analysis.params import Parameters

    assert Parameters.from_dict({"labels.file": "labels.csv"}).labels.file == "labels.csv"
    with pytest.raises(ValueError, match="labels.file"):
        Parameters.from_dict({"labels.file": 3})


def test_docx_from_hand_made_tables(tmp_path):
    """tables.docx from CSVs written by hand: titles, footnotes, the values formatted."""
    from docx import Document

    from hpd_analysis.docx_report import read_docx_tables, write_report_docx

    (tmp_path / "tables").mkdir()
    _table1().to_csv(tmp_path / "tables" / "table1.csv", index=False)
    pd.DataFrame(
        {
            "definition": ["kas2020"],
            "stratum": ["all"],
            "n_hpd": [3],
            "n_evaluable": [30],
            "n_total": [40],
            "percent": [10.0],
            "ci_low": [3.46],
            "ci_high": [25.62],
            "ci_method": ["Wilson score 95%"],
        }
    ).to_csv(tmp_path / "tables" / "incidence.csv", index=False)
    path = write_report_docx(tmp_path)
    doc = Document(str(path))
    got = read_docx_tables(path)
    assert len(got) == 2  # the tables whose CSV exists
    assert got[1].iloc[0].tolist() == ["Kas 2020", "3 / 30", "10.0 (3.5–25.6)", "10"]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Table 1. Patient characteristics" in text and "Table 2. Incidence of HPD" in text
    assert "Wilson score interval" in text and "ᵇ Fisher's exact." in text
    # no gridlines: the table borders are the three rules of journal tables
    xml = doc.tables[0]._tbl.xml
    assert 'w:insideV w:val="nil"' in xml and 'w:insideH w:val="nil"' in xml
    # reproducible: fixed dates in the archive, the same bytes when written again
    import zipfile

    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    first = path.read_bytes()
    assert write_report_docx(tmp_path).read_bytes() == first


def test_km_annotation_empty_when_one_group_has_no_patient():
    summary = pd.DataFrame(
        {
            "group": ["HPD", "non-HPD"],
            "n": [0, 199],
            "reference_group": "non-HPD",
            "hazard_ratio": [np.nan, np.nan],
            "hr_ci_low": np.nan,
            "hr_ci_high": np.nan,
            "logrank_p": np.nan,
        }
    )
    assert plots.km_annotation(summary) == ""


def test_empty_tables_are_said_empty():
    """A cohort without HPD patients has no odds ratios: the display says so, without failing."""
    from hpd_analysis.riskfactors import OR_COLUMNS

    for shown in (
        tables.format_odds_ratios(pd.DataFrame(columns=OR_COLUMNS)),
        tables.format_generic(pd.DataFrame(columns=["model", "epv"]), "EPV"),
    ):
        assert "no rows" in tables.to_html(shown)


def test_docx_table1_title_names_the_grouping(tmp_path):
    """table1_by (a patient column) names the columns of Table 1 in tables.docx."""
    import json

    from hpd_analysis.docx_report import report_display_tables

    (tmp_path / "tables").mkdir()
    t1 = _table1().rename(columns={"HPD": "ICI alone", "non-HPD": "ICI + chemotherapy"})
    t1.to_csv(tmp_path / "tables" / "table1.csv", index=False)
    params = {"primary_definition": "ferrara2018", "group_by": None, "table1_by": "arm"}
    (tmp_path / "parameters.json").write_text(json.dumps({"parameters": params}))
    shown = report_display_tables(tmp_path)[0]
    assert shown.attrs["title"] == "Table 1. Patient characteristics by arm"
    params["table1_by"] = None
    (tmp_path / "parameters.json").write_text(json.dumps({"parameters": params}))
    shown = report_display_tables(tmp_path)[0]
    assert shown.attrs["title"] == "Table 1. Patient characteristics by HPD status (Ferrara 2018)"


def test_generic_tables_name_definitions_by_author_and_year():
    att = pd.DataFrame({"definition": ["ferrara2018", "kas2020"], "n": [3, 4]})
    out = tables.format_generic(att, "T", definitions=_ferrara75())
    assert out["definition"].tolist() == ["Ferrara 2018 †", "Kas 2020"]
    assert any("delta_tgr_min = 75 (published: 50)" in n for n in out.attrs["footnotes"])
    assert tables.format_generic(att)["definition"].tolist() == ["ferrara2018", "kas2020"]
