"""Report runner: parameter resolution, index/parameters.json, failing sections, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import FAST_PREDICTION

from hpd_analysis import report
from hpd_analysis.errors import HPDError, ParameterError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ parameter resolution


def test_defaults_cover_report_and_analysis_parameters():
    p = report.resolve_parameters()
    assert p["primary_definition"] == "ferrara2018"
    assert p["landmark"] == "first_evaluation"
    assert p["definitions"] is None and p["group_by"] is None
    assert p["windows.first_eval_min_days"] == 14
    assert p["days_per_month"] == pytest.approx(30.4375)


def test_file_then_set_overrides_in_that_order(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        "group_by: arm\nlandmark: 3\nwindows:\n  first_eval_min_days: 21\n"
        "  baseline_max_days_before: 28\n"
    )
    p = report.resolve_parameters({"windows.first_eval_min_days": 28, "landmark": "none"}, f)
    assert p["group_by"] == "arm"
    assert p["landmark"] is None  # --set wins over the file ("none": no landmark)
    assert p["windows.first_eval_min_days"] == 28
    assert p["windows.baseline_max_days_before"] == 28  # from the file


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ParameterError) as exc:
        report.resolve_parameters({"grup_by": "arm"})
    msg = str(exc.value)
    assert "grup_by" in msg and "group_by" in msg and "windows.first_eval_min_days" in msg


def test_unknown_key_in_file_names_the_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("windows:\n  first_eval_days: 21\n")
    with pytest.raises(ParameterError, match=r"p\.yaml.*windows\.first_eval_days"):
        report.resolve_parameters(None, f)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"cohort": "x"}, "--cohort"),
        ({"landmark": "soon"}, "landmark"),
        ({"landmark": -1}, "landmark"),
        ({"landmark": float("inf")}, "landmark=inf: expected .*finite"),
        ({"landmark": "nan"}, "landmark"),
        ({"days_per_month": float("nan")}, "days_per_month"),
        ({"ferrara2018.delta_tgr_min": float("inf")}, "delta_tgr_min"),
        ({"primary_definition": "ferara2018"}, "did you mean 'ferrara2018'"),
        ({"definitions": "ferrara2018, kas202"}, "kas202"),
        ({"table1_by": 3}, "table1_by"),
        ({"windows.first_eval_min_days": -3}, "first_eval_min_days"),
        ({"tgk_mode": "sideways"}, "tgk_mode"),
        (
            {"definitions": "champiat2017", "primary_definition": "ferrara2018"},
            "primary_definition",
        ),
        ({"ci_method": "bootstrap"}, "ci_method"),
        ({"spider_max_patients": 0}, "spider_max_patients"),
    ],
)
def test_invalid_values_raise_parameter_error(overrides, match):
    with pytest.raises(ParameterError, match=match):
        report.resolve_parameters(overrides)


def test_list_values_from_strings_and_none_words():
    p = report.resolve_parameters(
        {"definitions": "ferrara2018, kas2020", "group_by": "none", "landmark": 2}
    )
    assert p["definitions"] == ["ferrara2018", "kas2020"]
    assert p["group_by"] is None
    assert p["landmark"] == 2.0
    assert report.resolve_parameters({"definitions": "all"})["definitions"] is None


def test_missing_or_bad_parameters_file(tmp_path):
    with pytest.raises(HPDError, match="not found"):
        report.resolve_parameters(None, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="mapping"):
        report.resolve_parameters(None, bad)


def test_notebook_parameters_nest_every_analysis_group():
    nbp = report.notebook_parameters(report.resolve_parameters(), "../c", ".")
    assert nbp["cohort"] == "../c" and nbp["output_dir"] == "."
    analysis = nbp["analysis_parameters"]
    assert analysis["windows"]["first_eval_min_days"] == 14
    assert "windows" not in nbp  # one variable for every analysis parameter
    for group in report.Parameters.groups():  # groups added to Parameters reach the notebooks
        assert isinstance(analysis[group], dict), group
    assert report.build_parameters(None, analysis) == report.Parameters()
    assert report.build_parameters({"first_eval_min_days": 21}).windows.first_eval_min_days == 21
    with pytest.raises(ParameterError):
        report.build_parameters({"nope": 1})
    with pytest.raises(ParameterError, match="days_per_month"):
        report.build_parameters(None, {"days_per_month": float("inf")})


def test_select_sections_by_stem_short_name_or_number():
    avail = ["01_cohort", "02_kinetics", "05_survival"]
    assert report.select_sections(avail, None) == avail
    assert report.select_sections(avail, ["survival", "1"]) == ["01_cohort", "05_survival"]
    assert report.select_sections(avail, ["02_kinetics.ipynb"]) == ["02_kinetics"]
    with pytest.raises(ParameterError, match="cohort, kinetics, survival"):
        report.select_sections(avail, ["table1"])


def test_write_table_is_byte_stable(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"a": [1.5, None], "d": pd.to_datetime(["2021-01-02", None])})
    p1 = report.write_table(df, tmp_path / "x", "t")
    b1 = p1.read_bytes()
    report.write_table(df, tmp_path / "x", "t")
    assert p1.read_bytes() == b1 == b"a,d\n1.5,2021-01-02\n,\n"


# ------------------------------------------------------------------ running throwaway notebooks


def _notebook(path: Path, body: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'cohort = None\noutput_dir = "."\nlandmark = "first_evaluation"'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# test"),
        params,
        *[nbformat.v4.new_code_cell(src) for src in body],
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def cohort_dir(tmp_path):
    d = tmp_path / "cohort"
    d.mkdir()
    (d / "patients.csv").write_text("patient_id,treatment_start\np1,2020-01-01\n")
    (d / ".hidden").write_text("ignored")
    return d


@pytest.mark.slow
def test_run_report_writes_index_parameters_and_sections(tmp_path, cohort_dir):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "01_first.ipynb",
        [
            "from pathlib import Path\n(Path(output_dir) / 'tables' / 'x.csv').write_text('a\\n1\\n')",
            "print('landmark is', landmark)",
        ],
    )
    _notebook(nbs / "02_second.ipynb", ["print('second')"])
    foreign = tmp_path / "out" / "figures" / "my_own_figure.png"  # not written by hpd report
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"mine")
    lines: list[str] = []
    out = report.run_report(
        cohort_dir,
        tmp_path / "out",
        parameters={"landmark": "none"},
        notebooks=nbs,
        progress=lines.append,
        jobs=1,
    )
    assert [ln.split(" … ")[0] for ln in lines] == ["[1/2] first", "[2/2] second"]
    for name in (
        "index.html",
        "parameters.json",
        "01_first.ipynb",
        "01_first.html",
        "02_second.html",
        "tables/x.csv",
    ):
        assert (out / name).is_file(), name
    doc = json.loads((out / "parameters.json").read_text())
    assert doc["parameters"]["landmark"] is None
    assert doc["overrides"] == {"landmark": "none"}
    assert doc["package"]["version"] == report.__version__
    assert set(doc["input_checksums_sha256"]) == {"patients.csv"}
    assert doc["input_checksums_sha256"]["patients.csv"] == report.sha256_file(
        cohort_dir / "patients.csv"
    )
    assert {"pandas", "lifelines", "matplotlib"} <= set(doc["libraries"])
    assert foreign.read_bytes() == b"mine"  # a file the workbench did not write is kept
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    assert "tables/x.csv" in manifest and "figures/my_own_figure.png" not in manifest
    assert not list(tmp_path.glob(".out.*"))  # no staging folder, no lock file left
    index = (out / "index.html").read_text()
    assert 'href="01_first.html"' in index and 'href="02_second.html"' in index
    assert "tables/x.csv" in index and "windows.first_eval_min_days" in index
    assert doc["input_checksums_sha256"]["patients.csv"] in index
    executed = nbformat.read(out / "01_first.ipynb", as_version=4)
    assert any(
        "landmark is None" in o.get("text", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "start_time" not in executed.metadata["papermill"]  # rerun-stable record
    html = (out / "01_first.html").read_text()
    assert "cdn" not in html.lower() and "mathjax" not in html.lower()
    assert "In&nbsp;[" not in html  # no prompts
    assert 'href="index.html"' in html
    # rerun: the same bytes
    first = {p: (out / p).read_bytes() for p in ("index.html", "parameters.json", "01_first.html")}
    report.run_report(
        cohort_dir, tmp_path / "out", parameters={"landmark": "none"}, notebooks=nbs, progress=None
    )
    assert first == {p: (out / p).read_bytes() for p in first}


@pytest.mark.slow
def test_failing_cell_names_section_and_keeps_partial_output(tmp_path, cohort_dir):
    """A failed run leaves the previous report as it was; its own output goes to
    <out>.incomplete, whose index.html names the failed section."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_ok.ipynb", ["print('fine')"])
    _notebook(
        nbs / "02_broken.ipynb",
        ["print('before')", "raise ValueError('boom: bad column')", "print('never')"],
    )
    _notebook(nbs / "03_after.ipynb", ["print('after')"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("the previous complete report")
    with pytest.raises(HPDError) as exc:
        report.run_report(cohort_dir, out, notebooks=nbs, progress=None, jobs=1)
    msg = str(exc.value)
    assert "02_broken" in msg and "ValueError" in msg and "boom: bad column" in msg
    assert "out.incomplete" in msg
    assert (out / "index.html").read_text() == "the previous complete report"
    assert not (out / "02_broken.ipynb").exists()
    partial = tmp_path / "out.incomplete"
    assert (partial / "02_broken.ipynb").is_file() and (partial / "02_broken.html").is_file()
    assert "boom: bad column" in (partial / "02_broken.html").read_text()
    assert not (partial / "03_after.ipynb").exists()  # stopped at the failure
    doc = json.loads((partial / "parameters.json").read_text())
    assert doc["sections"]["02_broken"]["status"] == "failed"
    assert doc["sections"]["03_after"]["status"] == "not run"
    index = (partial / "index.html").read_text()
    assert "INCOMPLETE REPORT" in index and "02_broken.html" in index and "boom" in index


@pytest.mark.slow
def test_a_run_of_some_sections_keeps_the_others(tmp_path, cohort_dir):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "01_first.ipynb",
        [
            "from pathlib import Path\n(Path(output_dir) / 'tables' / 'x.csv').write_text('a\\n1\\n')"
        ],
    )
    _notebook(nbs / "02_second.ipynb", ["print('second')"])
    out = report.run_report(cohort_dir, tmp_path / "out", notebooks=nbs, progress=None)
    report.run_report(cohort_dir, out, notebooks=nbs, sections=["second"], progress=None)
    for name in ("01_first.html", "01_first.ipynb", "tables/x.csv", "02_second.html"):
        assert (out / name).is_file(), name
    assert "tables/x.csv" in json.loads((out / "manifest.json").read_text())["files"]


def test_missing_cohort_is_a_user_error(tmp_path):
    with pytest.raises(HPDError, match="no such file"):
        report.run_report(tmp_path / "nope", tmp_path / "out", progress=None)


def test_bad_parameters_fail_before_any_notebook_runs(tmp_path, cohort_dir):
    with pytest.raises(ParameterError):
        report.run_report(cohort_dir, tmp_path / "out", parameters={"bogus": 1}, progress=None)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the real notebooks


def test_real_notebooks_have_parameters_cell_and_no_outputs():
    """Every notebook's parameters cell is the one generated from the schema (python -m
    hpd_analysis.report rewrites them), and the opening cell passes them all on."""
    nb_dir = REPO / "notebooks"
    names = sorted(p.stem for p in nb_dir.glob("[0-9]*.ipynb") if not p.stem.startswith("00_"))
    assert names == list(report.SECTIONS)
    cell = report.parameters_cell()
    for o in report.REPORT_OPTIONS:
        assert (f"\n{o.name} = " in cell) is not o.private, o.name
    for name in names:
        nb = nbformat.read(nb_dir / f"{name}.ipynb", as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        assert tagged[0].source == cell, f"{name}: run python -m hpd_analysis.report"
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert "report.open_section(**report.parameters_from(globals()))" in code[1], name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), name
        assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_papermill_reads_every_parameter_of_the_cell():
    """papermill parses the generated cell without a warning (no second '=' on a line), so its
    unknown-parameter warnings stay meaningful."""
    from papermill.translators import PythonTranslator

    names = [
        p.name
        for p in PythonTranslator.inspect(nbformat.v4.new_code_cell(report.parameters_cell()))
    ]
    injected = report.notebook_parameters(report.resolve_parameters(), ".", ".")
    assert names == list(injected)


def test_schema_follows_the_parameter_groups(monkeypatch):
    """A group added to Parameters appears in the schema, in --set and in the notebooks'
    analysis_parameters without an edit of the schema."""
    import dataclasses

    from hpd_analysis import params as params_mod
    from hpd_analysis.report import resolve, schema

    @dataclasses.dataclass(frozen=True)
    class Extra:
        #: resamples of a test group (count)
        n_boot: int = 200
        #: confidence level
        level: float = 0.95

    Base = params_mod.Parameters
    Extended = dataclasses.make_dataclass(
        "Parameters",
        [("extra", Extra, dataclasses.field(default_factory=Extra))],
        bases=(Base,),
        frozen=True,
    )
    monkeypatch.setattr(schema, "Parameters", Extended)
    monkeypatch.setattr(resolve, "Parameters", Extended)
    opts = {o.name: o for o in schema.analysis_options()}
    assert opts["extra.n_boot"].kind == "int" and opts["extra.n_boot"].default == 200
    assert "resamples" in opts["extra.n_boot"].help
    p = resolve.resolve_parameters({"extra.n_boot": 50})
    assert p["extra.n_boot"] == 50
    with pytest.raises(ParameterError, match="extra.level"):
        resolve.resolve_parameters({"extra.level": float("inf")})
    with pytest.raises(ParameterError, match="extra.n_boot"):
        resolve.resolve_parameters({"extra.n_boot": 2.5})
    nbp = resolve.notebook_parameters(p, ".", ".")
    assert nbp["analysis_parameters"]["extra"] == {"n_boot": 50, "level": 0.95}


@pytest.fixture(scope="module")
def patients_only_report(tmp_path_factory) -> tuple[Path, str, Path]:
    """(report folder, grouping column, cohort folder) of the cohort, risk-factor and survival sections on a
    simulated cohort of 40 patients without tumour measurements (patients.csv only), grouped by
    arm (or treatment) with Table 1 by arm."""
    from hpd_analysis.simulate import simulate_cohort

    root = tmp_path_factory.mktemp("patients_only")
    tables = simulate_cohort(n_patients=40, seed=3)
    cohort = root / "cohort"
    cohort.mkdir()
    tables["patients"].to_csv(cohort / "patients.csv", index=False, date_format="%Y-%m-%d")
    group = "arm" if "arm" in tables["patients"].columns else "treatment"
    out = report.run_report(
        cohort,
        root / "report",
        parameters={"group_by": group, "table1_by": "arm", **FAST_PREDICTION},
        sections=["cohort", "risk_factors", "survival"],
        progress=None,
    )
    return out, group, cohort


@pytest.mark.slow
def test_report_without_tumour_measurements_still_runs(patients_only_report):
    """Patients only: the cohort, risk-factor and survival sections render (by group_by)."""
    import pandas as pd

    out, group, _ = patients_only_report
    for name in (
        "01_cohort.html",
        "04_risk_factors.html",
        "05_survival.html",
        "tables/attrition.csv",
        "tables/table1.csv",
        "tables/survival.csv",
        "figures/km_os.png",
    ):
        assert (out / name).is_file(), name
    doc = json.loads((out / "parameters.json").read_text())
    assert all(v["status"] == "ok" for v in doc["sections"].values())

    att = pd.read_csv(out / "tables" / "attrition.csv")
    assert (att.groupby("definition")["n"].sum() == 40).all()  # nobody lost, all not evaluable

    surv = pd.read_csv(out / "tables" / "survival.csv")
    assert set(surv["grouping"]) == {group} and surv["group"].nunique() >= 2


@pytest.mark.slow
def test_table1_by_arm_in_the_report(patients_only_report):
    """``table1_by=arm`` reaches the risk-factor notebook: Table 1 has one column per arm."""
    import pandas as pd

    out, _, cohort = patients_only_report
    t1 = pd.read_csv(out / "tables" / "table1.csv")
    arms = set(pd.read_csv(cohort / "patients.csv")["arm"].dropna().astype(str))
    assert arms and arms <= set(t1.columns)
    assert "grouped by arm (table1_by parameter)" in (out / "04_risk_factors.html").read_text()


# ------------------------------------------------------------------ privacy

KEY = "unit-test-key-7f3a9c-not-a-real-secret"


def test_privacy_parameters_are_checked():
    p = report.resolve_parameters({"pseudonymize": "yes", "small_cell_threshold": "5"})
    assert p["pseudonymize"] is True and p["small_cell_threshold"] == 5
    assert report.resolve_parameters()["pseudonymize"] is False
    assert report.resolve_parameters()["small_cell_threshold"] == 0
    for bad in (
        {"pseudonymize": "maybe"},
        {"small_cell_threshold": -1},
        {"small_cell_threshold": 2.5},
        {"pseudonym_key_file": "/no/such/key"},
    ):
        with pytest.raises(ParameterError):
            report.resolve_parameters(bad)


def test_pseudonymize_without_key_fails_before_running(tmp_path, cohort_dir, monkeypatch):
    monkeypatch.delenv("HPD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ParameterError, match="key"):
        report.run_report(
            cohort_dir, tmp_path / "out", parameters={"pseudonymize": True}, progress=None
        )
    assert not (tmp_path / "out").exists()


def test_key_file_is_neither_injected_nor_recorded(tmp_path):
    key = tmp_path / "secret.key"
    key.write_text(KEY)
    resolved = report.resolve_parameters({"pseudonymize": True, "pseudonym_key_file": str(key)})
    assert "pseudonym_key_file" not in report.notebook_parameters(resolved, "/c", "/o")
    red = report.redact_parameters(resolved)
    assert str(key) not in json.dumps(red) and red["pseudonymize"] is True
    assert report.redact_parameters({"pseudonym_key_file": None})["pseudonym_key_file"] is None


def test_suppress_table_masks_counts_and_what_is_computed_from_them():
    import pandas as pd

    inc = pd.DataFrame(
        {
            "definition": ["a", "a"],
            "stratum": ["all", "x"],
            "n_hpd": [12, 3],
            "n_evaluable": [40, 9],
            "n_total": [50, 10],
            "percent": [30.0, 33.3],
            "ci_low": [18.0, 12.1],
            "ci_high": [45.6, 64.6],
        }
    )
    out = report.suppress_table(inc, "incidence", 5)
    assert out["n_hpd"].tolist() == [12, "<5"]
    assert out["n_evaluable"].tolist() == [40, 9]
    assert out.loc[1, ["percent", "ci_low", "ci_high"]].isna().all()
    assert out.loc[0, "percent"] == 30.0
    assert report.suppress_table(inc, "incidence", 0).equals(inc)
    # zero discloses no one; Table 1 cells "n (%)" and the n row; patient tables untouched
    t1 = pd.DataFrame(
        {
            "variable": ["n", "sex", "sex", "age"],
            "level": ["", "F", "M", ""],
            "statistic": ["n", "n (%)", "n (%)", "mean (SD)"],
            "overall": ["30", "4 (13.3)", "26 (86.7)", "61.2 (9.9)"],
            "HPD": ["3", "0 (0.0)", "3 (100.0)", "60.0 (2.0)"],
            "missing": ["", 0, 0, 2],
            "p_value": [None, 1.0, 1.0, 0.4],
        }
    )
    m = report.suppress_table(t1, "table1", 5)
    assert m["overall"].tolist() == ["30", "<5", "26 (86.7)", "61.2 (9.9)"]
    assert m["HPD"].tolist() == ["<5", "0 (0.0)", "<5", "60.0 (2.0)"]
    assert m["missing"].tolist() == ["", 0, 0, "<5"]
    pat = pd.DataFrame({"patient_id": ["p1"], "n_scans": [2]})
    assert report.suppress_table(pat, "spider_data", 5).equals(pat)
    ov = pd.DataFrame(
        {
            "item": ["patients", "with a scan", "tumor type"],
            "value": ["30", "3 (10.0 %)", "NSCLC 27, melanoma 3"],
        }
    )
    assert report.suppress_table(ov, "cohort_overview", 5)["value"].tolist() == [
        "30",
        "<5",
        "NSCLC 27, melanoma <5",
    ]


def test_multivariable_set_defaults_to_the_literature_factors_present():
    import pandas as pd

    class _S:
        data = pd.DataFrame(
            {
                "patient_id": ["a"],
                "age": [70],
                "sex": ["F"],
                "nlr": [3.0],
                "liver_metastasis": [True],
                "pdl1_tps": [5],
            }
        )

    assert report.multivariable_set(_S()) == ["age_ge_65", "liver_metastasis", "nlr"]
    assert report.multivariable_set(_S(), multivariable_variables=["sex", "nlr"]) == ["sex", "nlr"]
    with pytest.raises(ParameterError, match="ecog"):
        report.multivariable_set(_S(), multivariable_variables=["ecog"])


def test_epv_table_per_model():
    import pandas as pd

    ors = pd.DataFrame(
        {
            "variable": ["age", "sex", "sex", "age", "sex"],
            "level": ["per 1 unit", "F", "M", "per 1 unit", "M"],
            "model": ["univariable"] * 3 + ["multivariable"] * 2,
            "n": [100, 100, 100, 100, 100],
            "n_events": [12, 12, 12, 12, 12],
            "note": ["", "reference level", "", "", ""],
        }
    )
    epv = report.epv_table(ors).set_index("model")
    assert epv.loc["multivariable", "epv"] == pytest.approx(6.0)
    assert epv.loc["univariable (smallest)", "epv"] == pytest.approx(12.0)
    html = report.warning_html(["3 events per variable < 10 <b>"], "Careful")
    assert "Careful" in html and "&lt;b&gt;" in html and "http" not in html
    assert report.warning_html([]) == ""


def test_definition_thresholds_resolve_from_set_and_nested_file(tmp_path):
    """`--set ferrara2018.delta_tgr_min=75` and a nested YAML mapping both reach the registry;
    unknown definition parameters are rejected with the valid names."""
    from hpd_analysis.errors import ParameterError
    from hpd_analysis.report import resolve_definitions, resolve_parameters

    r = resolve_parameters({"ferrara2018.delta_tgr_min": 75})
    assert r["definition_parameters"] == {"ferrara2018": {"delta_tgr_min": 75}}
    f = tmp_path / "p.yaml"
    f.write_text("kas2020:\n  delta_tgr_min: 150\n")
    r2 = resolve_parameters({"ferrara2018.delta_tgr_min": 75}, parameters_file=f)
    assert r2["definition_parameters"] == {
        "kas2020": {"delta_tgr_min": 150},
        "ferrara2018": {"delta_tgr_min": 75},
    }
    defs = {d.code: d for d in resolve_definitions(None, None, r2["definition_parameters"])}
    assert defs["ferrara2018"].parameters["delta_tgr_min"] == 75
    assert defs["kas2020"].parameters["delta_tgr_min"] == 150
    assert defs["champiat2017"].parameters["tgr_ratio_min"] == 2.0
    with pytest.raises(ParameterError, match="unknown parameter.*delta_tgr_min"):
        resolve_parameters({"ferrara2018.nope": 1})


def test_threshold_sweep_grid_contains_the_published_value(tmp_path, small_cohort):
    """The sensitivity curve is read at the published threshold: it must be on the grid, with the
    same CI label as the incidence table."""
    import pandas as pd

    s = report.open_section(small_cohort, tmp_path / "out")
    sweep = report.threshold_sweep_table(s)
    published = sweep["default"].iloc[0]
    assert (sweep["value"] == published).any()
    assert sweep["value"].is_monotonic_increasing
    assert set(sweep["ci_method"]) == {"Wilson score 95%"}
    assert isinstance(sweep, pd.DataFrame)
