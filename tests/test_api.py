"""The user API (``import hpd_analysis as hpd``): classify's parameter vocabulary, the
Classification result's methods, explain, define, the registry display, a light import.

Expected counts are recomputed here from the table's own input columns with pandas (the rule as
the paper states it), not by the definitions engine."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import hpd_analysis as hpd  # noqa: E402
from hpd_analysis.agreement import agreement, upset_data  # noqa: E402
from hpd_analysis.classification import classify_table  # noqa: E402
from hpd_analysis.definitions import REGISTRY  # noqa: E402
from hpd_analysis.errors import ParameterError  # noqa: E402
from hpd_analysis.incidence import incidence  # noqa: E402
from hpd_analysis.params import Parameters, Windows  # noqa: E402


@pytest.fixture(scope="module")
def cohort(example_cohort):
    return example_cohort


@pytest.fixture(scope="module")
def res(cohort):
    return hpd.classify(cohort, **{"ferrara2018.delta_tgr_min": 75.0})


def _ferrara_by_hand(table: pd.DataFrame, delta_min: float) -> int:
    """Ferrara 2018 as the paper states it: RECIST PD at the first evaluation and ΔTGR > the
    threshold (% per month), among patients with a pre-baseline scan and measurable baseline."""
    ok = table["prebaseline_date"].notna() & (table["sld_baseline_mm"] > 0)
    return int((ok & table["recist_first_eval"].eq("PD") & (table["delta_tgr"] > delta_min)).sum())


def test_parameter_spellings_agree(cohort, res):
    dunder = hpd.classify(cohort, ferrara2018__delta_tgr_min=75.0)
    nested = hpd.classify(cohort, ferrara2018={"delta_tgr_min": 75.0})
    for other in (dunder, nested):
        pd.testing.assert_frame_equal(other.table, res.table)
    assert res.definitions["ferrara2018"].parameters["delta_tgr_min"] == 75.0
    assert res.n_hpd()["ferrara2018"] == _ferrara_by_hand(res.table, 75.0)
    published = hpd.classify(cohort, "ferrara2018")
    assert published.n_hpd()["ferrara2018"] == _ferrara_by_hand(published.table, 50.0)
    assert res.n_hpd()["ferrara2018"] < published.n_hpd()["ferrara2018"]


def test_windows_parameter_is_the_report_one(cohort):
    res = hpd.classify(cohort, ["ferrara2018"], **{"windows.first_eval_min_days": 42})
    assert res.params.windows.first_eval_min_days == 42
    expected = classify_table(
        cohort, ["ferrara2018"], Parameters(windows=Windows(first_eval_min_days=42))
    )
    pd.testing.assert_frame_equal(res.table, expected)
    assert (res.table["first_eval_day"].dropna() >= 42).all()


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"ferrara2018.delta_tgr": 1}, "delta_tgr"),
        ({"windows.first_eval": 3}, "windows.first_eval"),
        ({"no_such_key": 1}, "no_such_key"),
        ({"pseudonymize": True}, "report option"),
        ({"landmark": -1}, "landmark"),
    ],
)
def test_bad_parameters_one_clear_error(cohort, bad, words):
    with pytest.raises(ParameterError, match=words):
        hpd.classify(cohort, **bad)


def test_classify_a_path_and_settings(cohort):
    from hpd_analysis.datasets import example_path

    res = hpd.classify(example_path(), ["champiat2017", "kas2020"])
    assert res.primary == "champiat2017"  # ferrara2018 not classified: the first one
    assert len(res.table) == cohort.n_patients
    with pytest.raises(ParameterError, match="primary_definition"):
        hpd.classify(cohort, ["champiat2017"], primary_definition="kas2020")


def test_methods_call_the_domain_functions(res, cohort):
    codes = res.codes
    pd.testing.assert_frame_equal(res.incidence(), incidence(res.table, codes))
    pd.testing.assert_frame_equal(res.agreement(), agreement(res.table, codes))
    pd.testing.assert_series_equal(res.upset(), upset_data(res.table, codes))
    by = res.incidence(by="tumor_type")
    sub = by[(by["definition"] == "ferrara2018") & (by["stratum"] == "tumor_type=NSCLC")].iloc[0]
    nsclc = cohort.patients["tumor_type"].eq("NSCLC").to_numpy()
    assert sub["n_hpd"] == _ferrara_by_hand(res.table[nsclc], 75.0)
    assert sub["n_total"] == int(nsclc.sum())


def test_survival_table1_odds_ratios_sweep(res):
    comp = res.survival("os", landmark="none")
    groups = set(comp.summary["group"])
    assert groups == {"HPD", "non-HPD"}
    n_hpd = int(comp.summary.loc[comp.summary["group"] == "HPD", "n"].iloc[0])
    assert n_hpd == _ferrara_by_hand(res.table, 75.0)  # OS known for every simulated patient
    t1 = res.table1()
    assert "variable" in t1.columns and len(t1) > 5
    ors = res.odds_ratios()
    assert set(ors["model"]) >= {"univariable"}
    sw = res.sweep()
    assert sw["parameter"].iloc[0] == "delta_tgr_min"
    at75 = sw[sw["value"] == 75.0]
    assert int(at75["n_hpd"].iloc[0]) == _ferrara_by_hand(res.table, 75.0)


def test_plots_return_axes(res):
    for name in (
        "plot_incidence",
        "plot_attrition",
        "plot_agreement",
        "plot_upset",
        "plot_km",
        "plot_sweep",
        "plot_odds_ratios",
        "plot_tgr",
        "plot_waterfall",
        "plot_spider",
    ):
        ax = getattr(res, name)()
        assert isinstance(ax, Axes), name
        plt.close(ax.figure)
    fig, ax = plt.subplots()
    assert res.plot_km("pfs", ax=ax) is ax
    plt.close(fig)


def test_rich_display_is_the_summary(res):
    page = res._repr_html_()
    assert page.count("<tr") == len(res.codes) + 1  # header + one row per definition
    assert "ferrara2018.delta_tgr_min=75" in page
    assert not repr(res).splitlines()[0].endswith("published parameters")
    assert (
        repr(hpd.classify(res.cohort, "kas2020")).splitlines()[0].endswith("published parameters")
    )


def test_explain_one_patient(res):
    pid = res.table.loc[res.table["hpd_ferrara2018"].fillna(False).astype(bool), "patient_id"].iloc[
        0
    ]
    ex = res.explain(pid)
    assert list(ex.verdicts["definition"]) == res.codes
    row = res.table[res.table["patient_id"] == pid].iloc[0]
    for _, v in ex.verdicts.iterrows():
        assert v["status"] == row[f"hpd_{v['definition']}_status"]
        assert v["reason"] == str(row[f"hpd_{v['definition']}_reason"]).strip()
    assert ex.verdicts.set_index("definition").loc["ferrara2018", "status"] == "hpd"
    assert set(ex.scans["patient_id"]) == {pid}
    assert {"prebaseline", "baseline"} <= set(ex.scans["role"])
    from hpd_analysis.timepoints import scan_table

    full = scan_table(res.cohort, res.params)  # the scans of the whole cohort: same rows
    pd.testing.assert_frame_equal(
        ex.scans.reset_index(drop=True),
        full[full["patient_id"] == pid].reset_index(drop=True),
        check_dtype=False,  # a sum of zeros is int for one patient, float for the cohort
    )
    page = ex._repr_html_()
    assert "data:image/png;base64," in page and "delta_tgr_min=75" in page
    with pytest.raises(ParameterError, match="no such patient"):
        res.explain("nobody")


def test_with_parameters_reuses_features(res):
    stricter = res.with_parameters(ferrara2018__delta_tgr_min=100.0)
    assert stricter.features is res.features
    assert stricter.n_hpd()["ferrara2018"] == _ferrara_by_hand(res.table, 100.0)
    later = res.with_parameters(windows__first_eval_min_days=42)
    assert later.features is not res.features
    assert later.definitions["ferrara2018"].parameters["delta_tgr_min"] == 75.0


def test_define_and_the_registry_display(cohort):
    try:
        d = hpd.define(
            "pd_and_growth",
            ["recist_first_eval == PD", "delta_tgr > {delta_min}"],
            parameters={"delta_min": 75.0},
            requires=["prebaseline", "measurable_baseline"],
            rule="RECIST PD and ΔTGR > 75",
        )
        assert REGISTRY["pd_and_growth"] is d
        assert "pd_and_growth" in hpd.definitions and hpd.definitions["pd_and_growth"] is d
        assert "pd_and_growth" in repr(hpd.definitions)
        res = hpd.classify(cohort, ["pd_and_growth"])
        assert res.n_hpd()["pd_and_growth"] == _ferrara_by_hand(res.table, 75.0)
        with pytest.raises(ParameterError, match="already registered"):
            hpd.define("pd_and_growth", ["recist_first_eval == PD"])
    finally:
        REGISTRY.pop("pd_and_growth", None)
    assert list(hpd.definitions) == list(REGISTRY)
    table = hpd.definitions()
    assert list(table["code"]) == list(REGISTRY)
    assert "<table" in hpd.definitions._repr_html_()


def test_import_stays_light():
    code = (
        "import sys, hpd_analysis as hpd; hpd.__version__; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'ipywidgets', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_submodule_shadows_an_api_function():
    """The issue's bug: a module ``classify`` hid the function ``classify``. Import every
    submodule, then every exported name must still be what ``__getattr__`` gives."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(hpd.__path__):
        importlib.import_module(f"hpd_analysis.{info.name}")
    for name in ("classify", "explore", "define", "load_cohort", "classify_table"):
        assert callable(getattr(hpd, name)), name
        assert not isinstance(getattr(hpd, name), type(sys)), name


@pytest.mark.parametrize(
    "module", ["hpd_analysis.results", "hpd_analysis.datasets", "hpd_analysis.explorer"]
)
def test_docstring_examples_run(module):
    """The examples in the docstrings are what a user copies: they must hold."""
    import doctest
    import importlib

    try:
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    finally:
        REGISTRY.pop("tgr_doubling", None)  # registered by hpd.define's example
    assert result.attempted > 0 and result.failed == 0


def test_yaml_definitions_and_their_parameters(cohort, tmp_path):
    cfg = tmp_path / "ours.yaml"
    cfg.write_text(
        "parameters:\n  windows.first_eval_min_days: 21\n  our_pd.delta_min: 60\n"
        "definitions:\n  - code: our_pd\n    parameters: {delta_min: 75.0}\n"
        "    requires: [prebaseline, measurable_baseline]\n"
        "    criteria: [recist_first_eval == PD, 'delta_tgr > {delta_min}']\n"
    )
    res = hpd.classify(cohort, cfg)
    assert res.codes == ["our_pd"] and "our_pd" not in REGISTRY
    assert res.params.windows.first_eval_min_days == 21
    assert res.n_hpd()["our_pd"] == _ferrara_by_hand(res.table, 60.0)  # the file's value
    mine = hpd.classify(cohort, cfg, our_pd__delta_min=100.0)  # a keyword wins over the file
    assert mine.n_hpd()["our_pd"] == _ferrara_by_hand(mine.table, 100.0)


def test_load_cohort_from_frames_or_paths(cohort):
    """hpd.load_cohort(path_or_frames): a folder, or a dict of role -> DataFrame or file."""
    from hpd_analysis.datasets import example_path
    from hpd_analysis.errors import CohortError

    folder = example_path()
    frames = {
        "patients": pd.read_csv(folder / "patients.csv"),
        "lesions": pd.read_csv(folder / "lesions.csv"),
    }
    from_frames = hpd.load_cohort(frames)
    from_files = hpd.load_cohort({k: folder / f"{k}.csv" for k in frames})
    for other in (from_frames, from_files):
        pd.testing.assert_frame_equal(other.patients, cohort.patients)
        pd.testing.assert_frame_equal(other.lesions, cohort.lesions)
    with pytest.raises(CohortError, match="unknown table"):
        hpd.load_cohort({"patient": frames["patients"]})
