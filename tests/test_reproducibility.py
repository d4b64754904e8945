"""Reviewers rerun the report and must get identical numbers: two runs of the report on the same
cohort give byte-identical tables and the same parameters.json, which records every library
version and the checksum of every input file."""

from __future__ import annotations

import json

import pytest
from test_report_numbers import shared_report

from hpd_analysis import report

pytestmark = pytest.mark.slow

#: keys of parameters.json allowed to differ between two runs (run-dependent, no result in them)
RUN_DEPENDENT = ("generated", "timestamp", "date", "time")

VERSIONED = (
    "python",
    "hpd_analysis",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "papermill",
)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    cohort, first = shared_report(tmp_path_factory, "a")
    _, second = shared_report(tmp_path_factory, "b")
    return cohort, first, second


def _parameters(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k not in RUN_DEPENDENT}


def test_every_table_is_byte_identical(two_runs):
    _, first, second = two_runs
    names = sorted(p.name for p in (first / "tables").glob("*.csv"))
    assert names == sorted(p.name for p in (second / "tables").glob("*.csv"))
    assert {"classification.csv", "incidence.csv", "survival.csv", "odds_ratios.csv"} <= set(names)
    differ = [
        n
        for n in names
        if (first / "tables" / n).read_bytes() != (second / "tables" / n).read_bytes()
    ]
    assert differ == []


def test_parameters_json_is_the_same_but_for_timestamps(two_runs):
    _, first, second = two_runs
    a, b = _parameters(first / "parameters.json"), _parameters(second / "parameters.json")
    assert a == b


def test_parameters_json_records_versions_and_input_checksums(two_runs):
    cohort, first, _ = two_runs
    doc = json.loads((first / "parameters.json").read_text(encoding="utf-8"))
    versions = {"python": doc["python"], **doc["libraries"]}
    for name in VERSIONED:
        assert name in versions, name
        assert versions[name] and versions[name] != "not installed", name
    assert versions["hpd_analysis"] == report.__version__ == doc["package"]["version"]
    files = sorted(p.relative_to(cohort).as_posix() for p in cohort.rglob("*") if p.is_file())
    assert sorted(doc["input_checksums_sha256"]) == files
    for name, digest in doc["input_checksums_sha256"].items():
        assert digest == report.sha256_file(cohort / name)
    # the parameters used, complete: a rerun from them needs nothing else
    assert set(doc["parameters"]) == set(report.default_parameters())


def test_load_report_paths_do_not_depend_on_where_the_cohort_sits(two_runs):
    cohort, first, _ = two_runs
    text = (first / "tables" / "load_report.csv").read_text(encoding="utf-8")
    assert str(cohort.resolve()) not in text and str(cohort) not in text


def test_portable_load_report_makes_paths_relative_to_the_cohort(tmp_path):
    import pandas as pd

    folder = tmp_path / "cohort"
    (folder / "sub").mkdir(parents=True)
    rep = pd.DataFrame(
        {
            "file": [
                str(folder / "lesions.csv"),
                str(folder / "sub" / "x.csv"),
                "/elsewhere/patients.csv",
                "<cohort>",
                None,
            ],
            "action": ["a", "b", "c", "d", "e"],
        }
    )
    out = report.portable_load_report(rep, folder)
    assert out["file"].tolist()[:4] == [
        "lesions.csv",
        "sub/x.csv",
        "/elsewhere/patients.csv",
        "<cohort>",
    ]
    assert out["file"].isna().iloc[4]
    one = report.portable_load_report(rep.iloc[:1], folder / "lesions.csv")  # a cohort file
    assert one["file"].tolist() == ["lesions.csv"]
    assert rep["file"].iloc[0] == str(folder / "lesions.csv")  # the input is not modified
