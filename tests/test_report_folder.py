"""The report folder and the checks before any kernel: early validation, --out refusals, the
lock, foreign files, interrupted runs, paths that do not depend on the machine, hpd verify."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hpd_analysis import report
from hpd_analysis.cli import main
from hpd_analysis.errors import HPDError, ParameterError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "example"


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if a notebook kernel would start."""
    from hpd_analysis.report import execute

    def _boom(*args, **kwargs):
        raise AssertionError("a notebook kernel was started")

    monkeypatch.setattr(execute, "_run_section", _boom)
    monkeypatch.setattr(execute.SectionKernel, "start", _boom)


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ checks before any kernel


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"group_by": "Sex"}, "group_by=Sex: no such patient column.*did you mean 'sex'"),
        ({"table1_by": "arms"}, "table1_by=arms.*did you mean 'arm'"),
        ({"stratify_by": "tumour_type"}, "stratify_by=tumour_type.*did you mean 'tumor_type'"),
        ({"risk_factors": "age, ECOG_baseline"}, "risk_factors=ECOG_baseline.*'ecog_baseline'"),
        ({"multivariable_variables": "age, nlrr"}, "multivariable_variables=nlrr"),
        ({"landmark": "inf"}, "landmark"),
        ({"primary_definition": "ferrara"}, "primary_definition"),
    ],
)
def test_bad_parameters_stop_before_any_kernel(tmp_path, no_kernel, overrides, match):
    with pytest.raises(ParameterError, match=match):
        report.run_report(EXAMPLE, tmp_path / "out", parameters=overrides, progress=None)
    assert list(tmp_path.iterdir()) == []  # no folder, no lock, nothing written


def test_valid_columns_and_definitions_pass_the_checks():
    resolved = report.resolve_parameters(
        {"group_by": "ferrara2018", "table1_by": "sex", "risk_factors": "age_ge_65, sex"}
    )
    report.check_columns(resolved, ["patient_id", "age", "sex"], ["ferrara2018"])
    with pytest.raises(ParameterError, match="age_ge_65"):  # derived only when age is there
        report.check_columns(resolved, ["patient_id", "sex"], ["ferrara2018"])
    # the default stratify_by is skipped when the cohort has no tumour type
    report.check_columns(report.resolve_parameters(), ["patient_id"], [])


def test_cli_bad_column_is_one_line_without_traceback(tmp_path, capsys):
    code = main(
        ["report", "--cohort", str(EXAMPLE), "--out", str(tmp_path / "r"), "--set", "group_by=Sex"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "did you mean 'sex'" in err


@pytest.mark.parametrize("where", ["inside", "same", "file", "under_file"])
def test_out_is_refused(tmp_path, small_cohort, no_kernel, capsys, where):
    target = {
        "inside": small_cohort / "report",
        "same": small_cohort,
        "file": small_cohort / "patients.csv",
        "under_file": small_cohort / "patients.csv" / "report",
    }[where]
    before = _tree(small_cohort)
    code = main(["report", "--cohort", str(small_cohort), "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "--out" in err
    assert _tree(small_cohort) == before


def test_a_second_run_into_a_locked_folder_stops_at_once(tmp_path, small_cohort, no_kernel):
    from hpd_analysis.report.folder import OutLock

    out = tmp_path / "report"
    with OutLock(out), pytest.raises(HPDError, match="another hpd report is writing"):
        report.run_report(small_cohort, out, progress=None)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # lock released, no staging


def test_publish_keeps_foreign_files_and_removes_only_what_it_wrote(tmp_path):
    from hpd_analysis.report.folder import publish, write_manifest

    out = tmp_path / "out"
    first = tmp_path / "b1"
    for name in ("index.html", "tables/a.csv", "tables/old.csv"):
        (first / name).parent.mkdir(parents=True, exist_ok=True)
        (first / name).write_text(f"run 1 {name}")
    write_manifest(first)
    publish(first, out)
    (out / "tables" / "mine.csv").write_text("the user's own table")
    second = tmp_path / "b2"
    for name in ("index.html", "tables/a.csv"):
        (second / name).parent.mkdir(parents=True, exist_ok=True)
        (second / name).write_text(f"run 2 {name}")
    write_manifest(second)
    removed = publish(second, out)
    assert removed == ["tables/old.csv"]
    assert (out / "tables" / "mine.csv").read_text() == "the user's own table"
    assert (out / "tables" / "a.csv").read_text() == "run 2 tables/a.csv"
    assert not first.exists() and not second.exists()


# ------------------------------------------------------------------ notebooks by hand


def test_a_notebook_run_by_hand_writes_to_the_scratch_folder(tmp_path, small_cohort, monkeypatch):
    from hpd_analysis.report import execute

    assert report.section.scratch_dir() == REPO / "notebooks" / "_scratch"
    assert "notebooks/_scratch/" in (REPO / ".gitignore").read_text().splitlines()
    monkeypatch.setattr(execute, "notebooks_dir", lambda: tmp_path / "notebooks")
    s = report.open_section(small_cohort)  # no output_dir, as in JupyterLab
    s.table(pd.DataFrame({"a": [1]}), "t")
    assert (tmp_path / "notebooks" / "_scratch" / "tables" / "t.csv").is_file()
    with pytest.raises(ParameterError, match="did you mean 'sex'"):
        report.open_section(small_cohort, tmp_path / "o", table1_by="Sex")
    with pytest.raises(ParameterError, match="landmark"):
        report.open_section(small_cohort, tmp_path / "o", landmark=float("inf"))
    with pytest.raises(ParameterError, match="unknown parameter.*did you mean 'group_by'"):
        report.open_section(small_cohort, tmp_path / "o", grop_by="arm")


def test_table1_grouping_follows_table1_by(small_cohort, tmp_path):
    s = report.open_section(small_cohort, tmp_path / "o")
    assert s.table1_grouping(None)[0] == "ferrara2018"
    group, why = s.table1_grouping("arm")
    assert group == "arm" and "table1_by" in why
    t1 = report.table1_by(s, group)
    arms = set(s.data["arm"].dropna().astype(str))
    assert arms <= set(t1.columns)


# ------------------------------------------------------------------ whole runs


@pytest.fixture(scope="module")
def made_report(tmp_path_factory, small_cohort):
    root = tmp_path_factory.mktemp("made")
    cohort = root / "data" / "cohort"
    shutil.copytree(small_cohort, cohort)
    out = report.run_report(
        cohort,
        root / "reports" / "r1",
        progress=None,
        parameters={"ferrara2018.delta_tgr_min": 75, "landmark": 2},
        sections=["cohort", "survival"],
    )
    return root, cohort, out


@pytest.mark.slow
def test_report_records_no_machine_path(made_report):
    root, cohort, out = made_report
    needles = [str(root).encode(), str(root.resolve()).encode()]
    hits = [
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]
    assert hits == []
    doc = json.loads((out / "parameters.json").read_text())
    assert doc["cohort"] == "../../data/cohort" and doc["cohort_name"] == "cohort"
    command = (out / "reproduce.sh").read_text().splitlines()[-1]
    assert command == (
        "hpd report --cohort ../data/cohort --out r1 "
        "--set ferrara2018.delta_tgr_min=75 --set landmark=2.0 "
        "--sections 01_cohort 05_survival"
    )
    assert command in (out / "index.html").read_text()


@pytest.mark.slow
def test_verify_passes_on_a_copied_report_and_fails_on_a_changed_value(
    made_report, tmp_path, capsys
):
    _, cohort, out = made_report
    copy_cohort = tmp_path / "elsewhere" / "cohort_copy"
    copy_report = tmp_path / "received" / "report"
    shutil.copytree(cohort, copy_cohort)
    shutil.copytree(out, copy_report)
    assert main(["verify", str(copy_report), "--cohort", str(copy_cohort)]) == 0
    assert "verified" in capsys.readouterr().out
    lesions = pd.read_csv(copy_cohort / "lesions.csv", dtype=str, keep_default_na=False)
    row = lesions.index[lesions["diameter_mm"].ne("")][0]  # one measurement, 7 mm larger
    lesions.loc[row, "diameter_mm"] = f"{float(lesions.loc[row, 'diameter_mm']) + 7:g}"
    lesions.to_csv(copy_cohort / "lesions.csv", index=False)
    assert main(["verify", str(copy_report), "--cohort", str(copy_cohort)]) == 1
    printed = capsys.readouterr().out
    assert "input lesions.csv: SHA-256 differs" in printed
    assert "DIFFERS: table " in printed


@pytest.mark.slow
def test_sigterm_leaves_the_previous_report_intact(made_report, tmp_path):
    """An interrupted run (SIGTERM a few seconds in) leaves the previous complete report as it
    was, and no staging folder or lock behind."""
    _, cohort, out = made_report
    target = tmp_path / "reports" / "r1"
    shutil.copytree(out, target)
    (target / "tables" / "mine.csv").write_text("the user's own table")
    before = _tree(target)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hpd_analysis.cli",
            "report",
            "--cohort",
            str(cohort),
            "--out",
            str(target),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list(tmp_path.glob("reports/.r1.building-*/.hpd-cache/*")):
            break  # checks passed, classification cached: the kernels are starting
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert _tree(target) == before
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["r1"]
