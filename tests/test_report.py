"""Report runner: parameter resolution, index/parameters.json, failing sections, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

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
    f.write_text("group_by: arm\nlandmark: 3\nwindows:\n  first_eval_min_days: 21\n"
                 "  baseline_max_days_before: 28\n")
    p = report.resolve_parameters({"windows.first_eval_min_days": 28, "landmark": "none"}, f)
    assert p["group_by"] == "arm"
    assert p["landmark"] == "none"  # --set wins over the file
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
        ({"windows.first_eval_min_days": -3}, "first_eval_min_days"),
        ({"tgk_mode": "sideways"}, "tgk_mode"),
        ({"definitions": "champiat2017", "primary_definition": "ferrara2018"}, "primary_definition"),
        ({"ci_method": "bootstrap"}, "ci_method"),
        ({"spider_max_patients": 0}, "spider_max_patients"),
    ],
)
def test_invalid_values_raise_parameter_error(overrides, match):
    with pytest.raises(ParameterError, match=match):
        report.resolve_parameters(overrides)


def test_list_values_from_strings_and_none_words():
    p = report.resolve_parameters({"definitions": "ferrara2018, kas2020", "group_by": "none",
                                   "landmark": 2})
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


def test_notebook_parameters_split_windows_and_analysis():
    nbp = report.notebook_parameters(report.resolve_parameters(), "/c", "/o")
    assert nbp["cohort"] == "/c" and nbp["output_dir"] == "/o"
    assert nbp["windows"]["first_eval_min_days"] == 14
    assert "windows.first_eval_min_days" not in nbp["analysis_parameters"]
    assert report.build_parameters(nbp["windows"], nbp["analysis_parameters"]) == report.Parameters()
    with pytest.raises(ParameterError):
        report.build_parameters({"nope": 1})


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
    params = nbformat.v4.new_code_cell('cohort = None\noutput_dir = "."\nlandmark = "first_evaluation"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params,
                *[nbformat.v4.new_code_cell(src) for src in body]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
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
    _notebook(nbs / "01_first.ipynb", [
        "from pathlib import Path\n(Path(output_dir) / 'tables' / 'x.csv').write_text('a\\n1\\n')",
        "print('landmark is', landmark)",
    ])
    _notebook(nbs / "02_second.ipynb", ["print('second')"])
    stale = tmp_path / "out" / "figures" / "old_cohort_km.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    lines: list[str] = []
    out = report.run_report(cohort_dir, tmp_path / "out", parameters={"landmark": "none"},
                            notebooks=nbs, progress=lines.append)
    assert [ln.split(" … ")[0] for ln in lines] == ["[1/2] first", "[2/2] second"]
    for name in ("index.html", "parameters.json", "01_first.ipynb", "01_first.html",
                 "02_second.html", "tables/x.csv"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "parameters.json").read_text())
    assert doc["parameters"]["landmark"] == "none"
    assert doc["overrides"] == {"landmark": "none"}
    assert doc["package"]["version"] == report.__version__
    assert set(doc["input_checksums_sha256"]) == {"patients.csv"}
    assert doc["input_checksums_sha256"]["patients.csv"] == report.sha256_file(
        cohort_dir / "patients.csv")
    assert {"pandas", "lifelines", "matplotlib"} <= set(doc["libraries"])
    assert not stale.exists()  # a full run leaves no figure of a previous run
    index = (out / "index.html").read_text()
    assert 'href="01_first.html"' in index and 'href="02_second.html"' in index
    assert "tables/x.csv" in index and "windows.first_eval_min_days" in index
    assert doc["input_checksums_sha256"]["patients.csv"] in index
    executed = nbformat.read(out / "01_first.ipynb", as_version=4)
    assert any("landmark is none" in o.get("text", "") for c in executed.cells
               if c.cell_type == "code" for o in c.get("outputs", []))
    assert "start_time" not in executed.metadata["papermill"]  # rerun-stable record
    html = (out / "01_first.html").read_text()
    assert "cdn" not in html.lower() and "mathjax" not in html.lower()
    assert "In&nbsp;[" not in html  # no prompts
    assert 'href="index.html"' in html
    # rerun: the same bytes
    first = {p: (out / p).read_bytes() for p in ("index.html", "parameters.json", "01_first.html")}
    report.run_report(cohort_dir, tmp_path / "out", parameters={"landmark": "none"},
                      notebooks=nbs, progress=None)
    assert first == {p: (out / p).read_bytes() for p in first}


@pytest.mark.slow
def test_failing_cell_names_section_and_keeps_partial_output(tmp_path, cohort_dir):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_ok.ipynb", ["print('fine')"])
    _notebook(nbs / "02_broken.ipynb", ["print('before')", "raise ValueError('boom: bad column')",
                                        "print('never')"])
    _notebook(nbs / "03_after.ipynb", ["print('after')"])
    with pytest.raises(HPDError) as exc:
        report.run_report(cohort_dir, tmp_path / "out", notebooks=nbs, progress=None)
    msg = str(exc.value)
    assert "02_broken" in msg and "ValueError" in msg and "boom: bad column" in msg
    out = tmp_path / "out"
    assert (out / "02_broken.ipynb").is_file() and (out / "02_broken.html").is_file()
    assert "boom: bad column" in (out / "02_broken.html").read_text()
    assert not (out / "03_after.ipynb").exists()  # stopped at the failure
    doc = json.loads((out / "parameters.json").read_text())
    assert doc["sections"]["02_broken"]["status"] == "failed"
    assert doc["sections"]["03_after"]["status"] == "not run"
    assert "failed" in (out / "index.html").read_text()


def test_missing_cohort_is_a_user_error(tmp_path):
    with pytest.raises(HPDError, match="no such file"):
        report.run_report(tmp_path / "nope", tmp_path / "out", progress=None)


def test_bad_parameters_fail_before_any_notebook_runs(tmp_path, cohort_dir):
    with pytest.raises(ParameterError):
        report.run_report(cohort_dir, tmp_path / "out", parameters={"bogus": 1}, progress=None)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the real notebooks


def test_real_notebooks_have_parameters_cell_and_no_outputs():
    nb_dir = REPO / "notebooks"
    names = sorted(p.stem for p in nb_dir.glob("[0-9]*.ipynb"))
    assert names == list(report.SECTIONS)
    for name in names:
        nb = nbformat.read(nb_dir / f"{name}.ipynb", as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        for key in ("cohort", "output_dir", "primary_definition", "group_by", "landmark",
                    "windows", "analysis_parameters"):
            assert f"{key} =" in tagged[0].source, (name, key)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), name
        assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_full_report_on_simulated_cohort(tmp_path):
    """End to end: every contract output file exists (needs every analysis module)."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    cohort = write_cohort(simulate_cohort(n_patients=60, seed=1), tmp_path / "cohort")
    out = report.run_report(cohort, tmp_path / "report", progress=None)
    for name in ("index.html", "parameters.json", "tables/classification.csv",
                 "tables/attrition.csv", "tables/incidence.csv", "tables/agreement.csv",
                 "tables/table1.csv", "tables/odds_ratios.csv", "tables/survival.csv"):
        assert (out / name).is_file(), name
    for section in report.SECTIONS:
        assert (out / f"{section}.ipynb").is_file() and (out / f"{section}.html").is_file()
    pngs = sorted((out / "figures").glob("*.png"))
    assert pngs and all(p.with_suffix(".svg").is_file() for p in pngs)
    for fig in ("tgr_scatter", "spider", "waterfall", "km_os", "km_pfs", "incidence",
                "attrition", "agreement_kappa", "upset", "odds_ratios", "threshold_sweep"):
        assert (out / "figures" / f"{fig}.png").is_file(), fig
    # every figure written is also shown in its notebook (and nothing failed silently)
    shown = 0
    for section in report.SECTIONS:
        nb = nbformat.read(out / f"{section}.ipynb", as_version=4)
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                assert o.get("output_type") != "error", (section, o)
                shown += "image/png" in o.get("data", {})
    assert shown == len(pngs)
    doc = json.loads((out / "parameters.json").read_text())
    assert all(v["status"] == "ok" for v in doc["sections"].values())


@pytest.mark.slow
def test_report_without_tumour_measurements_still_runs(tmp_path):
    """Patients only: kinetic sections print a note; risk factors and survival run by group_by."""
    from hpd_analysis.simulate import simulate_cohort

    tables = simulate_cohort(n_patients=40, seed=3)
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    tables["patients"].to_csv(cohort / "patients.csv", index=False, date_format="%Y-%m-%d")
    group = "arm" if "arm" in tables["patients"].columns else "treatment"
    out = report.run_report(cohort, tmp_path / "report", parameters={"group_by": group},
                            sections=["kinetics", "risk_factors", "survival"], progress=None)
    for name in ("tables/table1.csv", "tables/survival.csv", "figures/km_os.png"):
        assert (out / name).is_file(), name
    kinetics = (out / "02_kinetics.html").read_text()
    assert "No tumour measurements in this cohort" in kinetics
    import pandas as pd

    surv = pd.read_csv(out / "tables" / "survival.csv")
    assert set(surv["grouping"]) == {group} and surv["group"].nunique() >= 2
