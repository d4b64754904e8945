"""The full report with the default parameters (but fewer prediction bootstrap replicates) on a
small simulated cohort (``default_report`` of conftest.py): the tests that read it live in this
file, so that it is rendered once per run of the suite (also under pytest-xdist's
``--dist loadfile``).

- The numbers a reader sees are the package's numbers: incidence (n_hpd, n_evaluable, percent,
  CI), Kaplan–Meier medians and hazard ratios in ``tables/*.csv`` equal the package functions
  called directly, and so do the numbers in the executed notebooks' displayed tables.
- Every file of the output contract (docs/cohort-format.md, "report outputs") exists, every
  figure is shown in its notebook, no page loads anything over the network.
- Reviewers rerun the report and must get identical numbers: two runs on the same cohort give
  byte-identical tables and the same parameters.json, which records every library version and
  the checksum of every input file.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import CONTRACT_FILES, stream_text

from hpd_analysis import report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(report_cohort: Path, default_report: Path) -> tuple[Path, Path]:
    """(cohort folder, report folder) of the shared default report (conftest.py)."""
    return report_cohort, default_report


@pytest.fixture(scope="module")
def direct(run: tuple[Path, Path]) -> dict[str, Any]:
    """The package functions called directly, with the report's default parameters."""
    from hpd_analysis.classification import classify_table
    from hpd_analysis.incidence import incidence
    from hpd_analysis.load import load_cohort
    from hpd_analysis.survival import survival_table

    cohort, _ = run
    loaded = load_cohort(cohort)
    cl = classify_table(loaded, None, report.Parameters())
    pat = loaded.patients.reset_index(drop=True)
    extra = [c for c in pat.columns if c not in cl.columns]
    data = pd.concat([cl, pat[extra]], axis=1)
    codes = [
        c[len("hpd_") : -len("_status")]
        for c in cl.columns
        if c.startswith("hpd_") and c.endswith("_status")
    ]
    return {
        "classification": cl,
        "incidence": incidence(data, codes, by="tumor_type", method="wilson"),
        "survival": survival_table(data, group_by="ferrara2018", landmark="first_evaluation"),
    }


# ------------------------------------------------------------------ helpers


class _Tables(HTMLParser):
    """Every <table> of an HTML text as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _num(text: Any) -> float:
    t = str(text).strip()
    if t in ("", "NaN", "nan", "<NA>", "None"):
        return math.nan
    return float(t)


def _same(a: Any, b: Any, rel: float = 1e-9, abs_: float = 1e-9) -> bool:
    x, y = _num(a), float(b) if b is not None and not pd.isna(b) else math.nan
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=rel, abs_tol=abs_)


# ------------------------------------------------------------------ the tests


def test_every_contract_output_exists(run):
    _, out = run
    for name in CONTRACT_FILES:
        assert (out / name).is_file(), name
    for section in report.SECTIONS:
        assert (out / f"{section}.ipynb").is_file() and (out / f"{section}.html").is_file()
    pngs = sorted((out / "figures").glob("*.png"))
    assert pngs and all(p.with_suffix(".svg").is_file() for p in pngs)


def test_incidence_csv_equals_package(run, direct):
    _, out = run
    csv = pd.read_csv(out / "tables" / "incidence.csv", keep_default_na=False)
    exp = direct["incidence"]
    assert list(csv["definition"]) == list(exp["definition"])
    assert list(csv["stratum"]) == list(exp["stratum"].astype(str))
    for col in ("n_hpd", "n_evaluable", "n_total"):
        assert csv[col].astype(int).tolist() == exp[col].astype(int).tolist(), col
    for col in ("percent", "ci_low", "ci_high"):
        assert all(_same(a, b) for a, b in zip(csv[col], exp[col], strict=True)), col
    # and the classification table is the package's, patient by patient
    cl = pd.read_csv(out / "tables" / "classification.csv", dtype={"patient_id": str})
    d = direct["classification"]
    assert cl["patient_id"].tolist() == d["patient_id"].astype(str).tolist()
    assert cl["hpd_ferrara2018_status"].tolist() == d["hpd_ferrara2018_status"].astype(str).tolist()


def test_survival_csv_equals_package(run, direct):
    _, out = run
    csv = pd.read_csv(out / "tables" / "survival.csv", keep_default_na=False)
    exp = direct["survival"]
    assert len(csv) == len(exp) and len(csv) >= 2
    assert csv["endpoint"].tolist() == exp["endpoint"].tolist()
    assert csv["group"].tolist() == exp["group"].astype(str).tolist()
    for col in ("n", "events"):
        assert csv[col].astype(int).tolist() == exp[col].astype(int).tolist(), col
    for col in (
        "median_months",
        "median_ci_low",
        "median_ci_high",
        "hazard_ratio",
        "hr_ci_low",
        "hr_ci_high",
        "logrank_p",
        "landmark_months",
    ):
        assert all(_same(a, b) for a, b in zip(csv[col], exp[col], strict=True)), col
    assert np.isfinite(pd.to_numeric(csv["hazard_ratio"], errors="coerce")).any()


def displayed_typeset_table(nb_path: Path, marker: str, columns: list[str]) -> pd.DataFrame:
    """The typeset table (hpd_analysis.tables: great_tables HTML) displayed by the first code cell
    whose source contains ``marker``: the body rows under its header row ``columns``."""
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or marker not in cell.source:
            continue
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html and "gt_table" in html:
                p = _Tables()
                p.feed(html)
                rows = p.tables[0]
                start = rows.index(columns) + 1
                body = [r for r in rows[start:] if len(r) == len(columns)]
                return pd.DataFrame(body, columns=columns)
    raise AssertionError(f"{nb_path.name}: no typeset table in a cell with {marker!r}")


def test_notebooks_display_the_incidence_of_the_table(run, direct):
    from hpd_analysis import tables

    _, out = run
    exp = direct["incidence"]
    expected = tables.format_incidence(exp, None, "Tumour type")
    shown = displayed_typeset_table(
        out / "03_incidence_agreement.ipynb", "incidence(", list(expected.columns)
    )
    # the whole table (strata without any patient left out), typeset by the package's rules
    pd.testing.assert_frame_equal(shown, expected.astype(str).reset_index(drop=True))
    exp = exp[exp["n_total"] > 0].reset_index(drop=True)
    assert len(shown) == len(exp)
    for (_, row), (_, e) in zip(shown.iterrows(), exp.iterrows(), strict=True):
        assert row["HPD / evaluable"] == f"{int(e['n_hpd'])} / {int(e['n_evaluable'])}"
        text = row["Incidence, % (95 % CI)"]
        if pd.isna(e["percent"]):
            assert text == ""
            continue
        pct, lo, hi = (
            float(v.replace("−", "-"))
            for v in text.replace("(", " ").replace(")", " ").replace("–", " ").split()
        )
        for shown_value, value in ((pct, e["percent"]), (lo, e["ci_low"]), (hi, e["ci_high"])):
            assert abs(shown_value - value) <= 0.05 + 1e-9, (e["definition"], e["stratum"])


def test_notebooks_display_the_survival_of_the_table(run, direct):
    from hpd_analysis import tables

    _, out = run
    exp = direct["survival"]
    expected = tables.format_survival(exp)
    shown = displayed_typeset_table(
        out / "05_survival.ipynb", "survival_table(", list(expected.columns)
    )
    pd.testing.assert_frame_equal(shown, expected.astype(str).reset_index(drop=True))
    assert len(shown) == len(exp)
    for (_, row), (_, e) in zip(shown.iterrows(), exp.iterrows(), strict=True):
        assert row["Group"] == str(e["group"])
        assert int(row["Patients"]) == int(e["n"]) and int(row["Events"]) == int(e["events"])
        median = row["Median, months (95 % CI)"].split(" ")[0]
        if np.isfinite(e["median_months"]):
            assert abs(float(median) - e["median_months"]) <= 0.05 + 1e-9
        hr = row["HR (95 % CI)"].split(" ")[0]
        if np.isfinite(e["hazard_ratio"]) and e["group"] != e["reference_group"]:
            assert abs(float(hr) - e["hazard_ratio"]) <= 0.005 + 1e-9


def test_odds_ratio_figure_and_table_agree_on_the_multivariable_set(run):
    _, out = run
    ors = pd.read_csv(out / "tables" / "odds_ratios.csv", keep_default_na=False)
    multi = set(ors.loc[ors["model"] == "multivariable", "variable"])
    assert multi and multi <= set(report.MULTIVARIABLE_DEFAULT)
    assert set(ors.loc[ors["model"] == "univariable", "variable"]) > multi  # every candidate
    epv = pd.read_csv(out / "tables" / "events_per_variable.csv")
    assert "multivariable" in set(epv["model"])
    html = (out / "04_risk_factors.html").read_text(encoding="utf-8")
    assert "events per variable" in html and "Read these odds ratios with care" in html


def test_pfs_by_a_definition_that_requires_recist_pd_carries_the_caveat(run):
    """Survival grouped by the primary definition (ferrara2018, which requires RECIST PD at the
    first evaluation): PFS carries the caveat that the comparison is partly built in, OS not."""
    _, out = run
    text = stream_text(out / "05_survival.ipynb")
    assert "grouped by HPD status under ferrara2018" in text
    assert "pfs: Caution: ferrara2018 requires RECIST progression" in text
    assert "os: Caution" not in text


# ------------------------------------------------------------------ the whole report


def test_full_report_on_simulated_cohort(default_report):
    """End to end: every figure is shown in its notebook, no section failed, no output left
    behind by a failing cell."""
    out = default_report
    for name in CONTRACT_FILES:
        assert (out / name).is_file(), name
    pngs = sorted((out / "figures").glob("*.png"))
    for fig in (
        "tgr_scatter",
        "spider",
        "waterfall",
        "km_os",
        "km_pfs",
        "incidence",
        "attrition",
        "agreement_kappa",
        "upset",
        "odds_ratios",
        "threshold_sweep",
    ):
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


def test_no_network_asset_in_any_page(default_report):
    """Every page opens offline: no script, stylesheet, image or font loaded over http(s)
    (links to papers in the text are fine)."""
    out = default_report
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(report.SECTIONS) + 1
    remote = re.compile(
        r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*"
        r"(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//",
        re.IGNORECASE,
    )
    css = re.compile(r"(?:@import\s+(?:url\()?|url\(\s*)[\"']?\s*(?:https?:)?//", re.IGNORECASE)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), (page.name, remote.search(text))
        assert not css.search(text), (page.name, css.search(text))


# ------------------------------------------------------------------ reproducibility

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
def two_runs(report_cohort, default_report, default_report_rerun):
    """The cohort and the two runs of the default report on it (conftest.py)."""
    return report_cohort, default_report, default_report_rerun


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
