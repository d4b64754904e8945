"""The report of a pseudonymized run (issue 12): one full report (``private_report``) on a
simulated cohort whose identifiers are embedded in lesion ids and in a free-text column, with
``pseudonymize=true`` and small cells masked; no file of it holds an identifier or the key.

(One report run: its own file, so that pytest-xdist's ``--dist loadfile`` runs it beside the
other report files.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_PREDICTION, SMALL_COHORT

from hpd_analysis import report

pytestmark = pytest.mark.slow

KEY = "unit-test-key-7f3a9c-not-a-real-secret"


def _privacy_cohort(root: Path) -> tuple[Path, list[str]]:
    """The small simulated cohort (conftest.SMALL_COHORT) with identifiers that look like nothing
    else in a report (no base64 or hex text can contain them by chance), lesion ids that embed
    the patient id (``<id>-T1``) and a free-text column naming other patients (issue 12)."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    n_patients, seed = SMALL_COHORT
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
    return write_cohort(tables, root / "cohort"), list(new.values())


@pytest.fixture(scope="module")
def private_report(tmp_path_factory):
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
            **FAST_PREDICTION,
        },
    )
    return out, ids, key


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
    for c in [
        c
        for c in t1.columns
        if c not in ("variable", "level", "statistic", "test", "p_value", "smd")
    ]:
        for v in t1[c]:
            m = re.match(r"^\s*(\d+)(\s*\([-\d.]+\))?\s*$", v)
            assert not (m and 1 <= int(m.group(1)) <= 4), ("table1", c, v)
    assert masked > 0  # a cohort of 60 has small cells: the rule did something
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
