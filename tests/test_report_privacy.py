"""One full report run with the options that change what a report may show (issues 11 and 12):
``pseudonymize=true`` with small cells masked, on the simulated report cohort whose identifiers
are embedded in lesion ids and in a free-text column, with Ferrara 2018's ΔTGR threshold set to
75 and a "$" in a tumour type and an arm.

- Privacy: no file of the report holds an identifier or the key; small cells are masked.
- Outputs follow the parameters: rule texts, figures and tables.docx say 75 (and that the
  published value is 50); 300 dpi PNGs; offline, typeset HTML; a "$" in data labels drawn as
  plain text.

(One report run: the tests that read it live in this file, so that pytest-xdist's
``--dist loadfile`` renders it once, beside the other report files.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_PREDICTION, REPORT_COHORT, png_dpi

from hpd_analysis import report, tables

pytestmark = pytest.mark.slow

KEY = "unit-test-key-7f3a9c-not-a-real-secret"


#: a tumour type and an arm with "$" (mathtext would read "$5 $" as a formula): the report run
#: draws them as plain text
DOLLAR_TUMOUR, DOLLAR_ARM = "renal $5 $x^{", "ICI $ monotherapy"


def _privacy_cohort(root: Path) -> tuple[Path, list[str]]:
    """The simulated report cohort (conftest.REPORT_COHORT) with identifiers that look like
    nothing else in a report (no base64 or hex text can contain them by chance), lesion ids that
    embed the patient id (``<id>-T1``), a free-text column naming other patients (issue 12) and
    a "$" in the tumour type "renal" and the arm "ICI monotherapy"."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    n_patients, seed = REPORT_COHORT
    tables = simulate_cohort(n_patients=n_patients, seed=seed)
    ids = tables["patients"]["patient_id"].astype(str)
    new = {old: f"Pt~{i:03d}~Mrs.Smith" for i, old in enumerate(ids)}
    for t in tables.values():
        if "patient_id" in t.columns:
            t["patient_id"] = t["patient_id"].astype(str).map(new)
    les = tables["lesions"]
    les["lesion_id"] = les["patient_id"] + "-" + les["lesion_id"].astype(str)
    pts = tables["patients"]
    pts["comments"] = [
        f"seen on ward {i % 7} with {new[ids.iloc[(i + 1) % len(ids)]]}, family informed"
        for i in range(len(pts))
    ]
    pts["tumor_type"] = pts["tumor_type"].replace({"renal": DOLLAR_TUMOUR})
    pts["arm"] = pts["arm"].replace({"ICI monotherapy": DOLLAR_ARM})
    return write_cohort(tables, root / "cohort"), list(new.values())


@pytest.fixture(scope="module")
def private_report(tmp_path_factory):
    """(report folder, input patient ids, key file) of the report on :func:`_privacy_cohort`:
    pseudonymized, cells under 5 masked, Ferrara 2018's ΔTGR threshold 75."""
    root = tmp_path_factory.mktemp("private")
    cohort, ids = _privacy_cohort(root)
    key = root / "pseudonym.key"
    key.write_text(KEY + "\n")
    out = report.run_report(
        cohort,
        root / "report",
        progress=None,
        parameters={
            "pseudonymize": True,
            "pseudonym_key_file": str(key),
            "small_cell_threshold": 5,
            "ferrara2018.delta_tgr_min": 75,
            **FAST_PREDICTION,
        },
    )
    return out, ids, key


@pytest.fixture(scope="module")
def report_75(private_report):
    """The report folder of :func:`private_report` (the tests of outputs that follow the
    parameters)."""
    return private_report[0]


def test_pseudonymized_report_holds_no_identifier_nor_key(private_report):
    out, ids, key = private_report
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 30
    needles = [i.encode() for i in ids] + [KEY.encode(), str(key).encode()]
    leaks = [
        (p.relative_to(out).as_posix(), n.decode())
        for p in files
        for n in needles
        if n in p.read_bytes()
    ]
    assert leaks == []
    cl = pd.read_csv(out / "tables" / "classification.csv")
    assert len(cl) == len(ids) and cl["patient_id"].str.match(r"^ID-[0-9a-f]{12}$").all()
    doc = json.loads((out / "parameters.json").read_text())
    assert doc["parameters"]["pseudonymize"] is True
    assert doc["parameters"]["pseudonym_key_file"] == "given (not recorded)"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "keyed pseudonyms" in index and "shown as &lt;5" in index
    assert all(v["status"] == "ok" for v in doc["sections"].values())


def test_small_cells_are_masked_in_aggregate_tables(private_report):
    out, _, _ = private_report
    count_cols = {
        "incidence": ["n_hpd", "n_evaluable", "n_total"],
        "attrition": ["n"],
        "agreement": [
            "n_both_evaluable",
            "n_both",
            "n_a_only",
            "n_b_only",
            "n_neither",
            "n_either",
        ],
    }
    masked = 0
    for name, cols in count_cols.items():
        t = pd.read_csv(out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
        for c in cols:
            vals = t[c].tolist()
            assert not any(v.isdigit() and 1 <= int(v) <= 4 for v in vals), (name, c)
            masked += sum(v == "<5" for v in vals)
    t1 = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    tests = ("test", "p_value", "smd", "exact_test", "exact_p_value")  # no counts there
    for c in [c for c in t1.columns if c not in ("variable", "level", "statistic", *tests)]:
        for v in t1[c]:
            m = re.match(r"^\s*(\d+)(\s*\([-\d.]+\))?\s*$", v)
            assert not (m and 1 <= int(m.group(1)) <= 4), ("table1", c, v)
    assert masked > 0  # a cohort of 120 has small cells: the rule did something
    inc = pd.read_csv(out / "tables" / "incidence.csv", dtype=str, keep_default_na=False)
    small = inc["n_hpd"].eq("<5")
    assert small.any() and inc.loc[small, ["percent", "ci_low", "ci_high"]].eq("").all().all()


def test_pseudonymized_report_has_no_embedded_id_nor_free_text(private_report):
    """End to end (issue 12): lesion ids that embed the patient id (``Pt~…-T1``) and a
    free-text column naming other patients; with pseudonymize=true no file of the report
    (CSV, HTML, ipynb, SVG ...) holds an input patient id, and the free text is no risk
    factor of Table 1."""
    out, ids, _ = private_report
    needles = [i.encode() for i in ids]
    leaks = sorted(
        {
            (p.relative_to(out).as_posix(), n.decode())
            for p in out.rglob("*")
            if p.is_file()
            for n in needles
            if n in p.read_bytes()
        }
    )
    assert leaks == []
    t1 = [p for p in (out / "tables").glob("*.csv") if "table1" in p.name]
    assert t1 and all(b"comments" not in p.read_bytes() for p in t1)


# ------------------------------------------------------------------ outputs follow the parameters


def test_report_draws_a_dollar_in_data_labels_as_plain_text(report_75):
    import json

    doc = json.loads((report_75 / "parameters.json").read_text())
    assert all(v["status"] == "ok" for v in doc["sections"].values())
    svg = (report_75 / "figures" / "incidence_by_tumor_type.svg").read_text()
    assert DOLLAR_TUMOUR.replace("^{", "") in svg.replace("^{", "")
    forest = (report_75 / "figures" / "odds_ratios.svg").read_text()
    assert DOLLAR_ARM in forest


def test_report_definitions_csv_follows_the_parameters(report_75):
    defs = pd.read_csv(report_75 / "tables" / "definitions.csv", keep_default_na=False)
    row = defs.set_index("code").loc["ferrara2018"]
    assert "> 75 percentage points" in row["rule"] and row["notes"] == "Strictly greater than 75."
    assert "ΔTGR > 75" in row["criteria"]
    assert row["differs_from_published"] == "delta_tgr_min = 75 (published: 50)"
    assert defs.set_index("code").loc["kas2020", "differs_from_published"] == ""


def test_report_figures_follow_the_parameters(report_75):
    fig = report_75 / "figures"
    scatter = fig.joinpath("tgr_scatter.svg").read_text()
    assert "ΔTGR = 75 points" in scatter and "ΔTGR = 50" not in scatter
    sweep = fig.joinpath("threshold_sweep.svg").read_text()
    assert "threshold in force (75)" in sweep and "published threshold (50)" in sweep
    assert "published threshold (75)" not in sweep
    for png in fig.glob("*.png"):
        assert png_dpi(png) == pytest.approx((300.0, 300.0), abs=0.1), png.name
    assert {p.stem for p in fig.glob("*.svg")} == {p.stem for p in fig.glob("*.png")}


def test_report_html_pages_are_offline_and_typeset(report_75):
    for page in report_75.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)\s*=\s*[\"']https?://", text), page.name
        assert not re.search(r"@import\s+url\(\s*[\"']?https?://", text), page.name
    risk = (report_75 / "04_risk_factors.html").read_text(encoding="utf-8")
    assert "Table 1. Patient characteristics by HPD status (Ferrara 2018 †)" in risk
    assert "gt_table" in risk


def test_report_tables_docx_table1_equals_table1_csv(report_75):
    from docx import Document

    from hpd_analysis.docx_report import read_docx_tables, read_report_table

    path = report_75 / "tables.docx"
    assert path.is_file()
    doc = Document(str(path))
    titles = [p.text for p in doc.paragraphs if p.runs and p.runs[0].bold]
    assert titles[0].startswith("Table 1. Patient characteristics")
    assert len(doc.tables) == 5  # Table 1, incidence, agreement, odds ratios, survival
    got = read_docx_tables(path)[0]
    want = tables.format_table1(read_report_table(report_75 / "tables" / "table1.csv"))
    want = want.astype(str).map(str.strip)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got.map(str.strip), want.reset_index(drop=True))
    # and the numbers are those of the CSV: the HPD column's first count row
    raw = pd.read_csv(report_75 / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    n_hpd = raw.loc[raw["variable"] == "n", "HPD"].iloc[0]
    assert f"HPD (n = {n_hpd})" in got.columns
    footnotes = " ".join(p.text for p in doc.paragraphs)
    assert "Welch" in footnotes and "Wilson" in footnotes and "Cox" in footnotes
