"""The numbers a reader sees are the package's numbers.

One report run on a small simulated cohort (shared, see :func:`shared_report`) is compared with
the package functions called directly: incidence (n_hpd, n_evaluable, percent, CI), Kaplan–Meier
medians and hazard ratios in ``tables/*.csv``, and the same numbers in the executed notebooks'
displayed tables. Also: every file of the output contract (docs/cohort-format.md, "report
outputs") exists.
"""

from __future__ import annotations

import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

from hpd_analysis import report

N_PATIENTS, SEED = 120, 3

#: output folders of the report runs of this test session, by name (one run per name)
_RUNS: dict[str, tuple[Path, Path]] = {}

CONTRACT_FILES = (
    "index.html",
    "parameters.json",
    "tables/classification.csv",
    "tables/attrition.csv",
    "tables/incidence.csv",
    "tables/agreement.csv",
    "tables/table1.csv",
    "tables/odds_ratios.csv",
    "tables/survival.csv",
)


def simulated_cohort(root: Path) -> Path:
    """The simulated cohort of these tests (written once under ``root``)."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    folder = root / "cohort"
    if not folder.is_dir():
        write_cohort(simulate_cohort(n_patients=N_PATIENTS, seed=SEED), folder)
    return folder


def shared_report(tmp_path_factory: pytest.TempPathFactory, name: str = "a") -> tuple[Path, Path]:
    """(cohort folder, report folder) of the full default report on :func:`simulated_cohort`,
    run once per ``name`` per test session (test_reproducibility reuses run ``a`` and adds
    ``b``; test_report checks the contract on ``a``)."""
    if name not in _RUNS:
        root = tmp_path_factory.getbasetemp() / "shared_report"
        root.mkdir(exist_ok=True)
        cohort = simulated_cohort(root)
        out = report.run_report(cohort, root / f"report_{name}", progress=None)
        _RUNS[name] = (cohort, out)
    return _RUNS[name]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return shared_report(tmp_path_factory, "a")


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

pytestmark = pytest.mark.slow


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
