"""INSPIRE (Bratman et al., Nat Cancer 2020) through the reader and the risk-factor section; the
prediction part of the section on a cohort with a biomarkers table.

Tests marked ``external`` read ``../shared/data/external/inspire`` and skip when it is absent.
Expected values are read from the source CSV with the ``csv`` module, not from the package.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from hpd_analysis.errors import CohortError
from hpd_analysis.external import read_inspire, write_external_cohort
from hpd_analysis.load import load_cohort
from hpd_analysis.report import run_report

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
INSPIRE = EXTERNAL / "inspire"
needs_inspire = pytest.mark.skipif(
    not INSPIRE.is_dir(), reason=f"external data folder absent: {INSPIRE}"
)
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
FAST = {"prediction.optimism_replicates": 20, "prediction.auc_replicates": 200}


def _rows(name: str) -> list[dict[str, str]]:
    with open(INSPIRE / name, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.external
@needs_inspire
def test_read_inspire_against_the_source():
    t = read_inspire(INSPIRE)
    p, a = t["patients"].set_index("patient_id"), t["assessments"]
    src, size = _rows("pembrolizumab.csv"), _rows("ctDNA.csv")
    assert len(p) == len(src) == 94
    assert len(a) == 94 + len(size)  # one synthesized baseline per patient + every size row
    assert int(a["not_evaluable"].sum()) == sum(r["size_change"] in ("", "NA") for r in size)
    assert int(p["os_event"].sum()) == sum(int(r["os_status"]) for r in src)
    assert int(p["ctdna_increase"].sum()) == sum(
        r["change_ctdna_group"].startswith("Increase") for r in src
    )
    assert int(p["ctdna_increase"].isna().sum()) == sum(
        r["change_ctdna_group"] in ("", "NA") for r in src
    )
    # first ctDNA.csv row by hand: INS-A-002, l_size 140 mm, +5.7 % at 8.119 weeks
    first = size[0]
    assert first["id"] == "INS-A-002"
    row = a[(a["patient_id"] == "INS-A-002") & (a["treatment_day"] > 0)].iloc[0]
    assert row["treatment_day"] == round(float(first["time"]) * 7) == 57
    assert row["sld_mm"] == pytest.approx(140 * (1 + 5.7 / 100), abs=0.005)
    assert p.loc["INS-A-002", "tumor_type"] == "SCCHN"
    assert set(p["tumor_type"]) == {"SCCHN", "TNBC", "HGSOC", "melanoma", "mixed solid tumour"}


@pytest.mark.external
@needs_inspire
def test_inspire_cohort_is_deterministic_and_classifies(tmp_path):
    from hpd_analysis.classification import classify_table

    out = write_external_cohort("inspire", tmp_path / "a", external_dir=EXTERNAL)
    again = write_external_cohort("inspire", tmp_path / "b", external_dir=EXTERNAL)
    for f in ("patients.csv", "assessments.csv", "import_report.csv"):
        assert (out / f).read_bytes() == (again / f).read_bytes()
    c = load_cohort(out)
    assert c.n_patients == 94
    cls = classify_table(c)
    # no scan before the treatment start: every ratio-based definition is not evaluable
    for code in ("champiat2017", "ferrara2018", "kas2020", "kim2019", "saada_bouzid2017"):
        assert cls[f"hpd_{code}_status"].eq("not_evaluable").all()
        assert cls[f"hpd_{code}_reason"].str.contains("pre-baseline").all()
    # RECIST-threshold definitions are evaluable for most patients
    assert cls["hpd_matos2020_status"].ne("not_evaluable").sum() > 50


@pytest.mark.external
@pytest.mark.slow
@needs_inspire
def test_risk_factor_section_renders_on_inspire(tmp_path):
    cohort = write_external_cohort("inspire", tmp_path / "inspire", external_dir=EXTERNAL)
    params = {
        "primary_definition": "gandara2018_fp",
        "prediction.predictors": "ctdna_baseline,log_tmb,pdl1_pct,tumor_size_baseline",
        "prediction.markers": "ctdna_baseline,ctdna_increase",
        **FAST,
    }
    out = run_report(cohort, tmp_path / "report", params, sections=["risk_factors"], progress=None)
    tables, figures = out / "tables", out / "figures"
    model = pd.read_csv(tables / "prediction_model.csv").iloc[0]
    assert model["outcome"] == "gandara2018_fp" and model["n_parameters"] == 4
    auc = pd.read_csv(tables / "marker_auc.csv").set_index(["marker", "outcome"])
    # the ROC AUC of baseline ctDNA for fast progression, from the cohort files and scikit-learn
    from hpd_analysis.classification import classify_table

    pts = pd.read_csv(cohort / "patients.csv")
    cls = classify_table(load_cohort(cohort))
    st = cls.set_index("patient_id")["hpd_gandara2018_fp_status"].reindex(pts["patient_id"])
    keep = st.isin(["hpd", "not_hpd"]).to_numpy()
    expected = roc_auc_score(st[keep].eq("hpd"), pts.loc[keep, "ctdna_baseline"])
    assert auc.loc[("ctdna_baseline", "gandara2018_fp"), "auc"] == pytest.approx(expected)
    for f in ("prediction_calibration", "roc_ctdna_baseline", "roc_ctdna_increase"):
        assert (figures / f"{f}.png").exists()
    assert (tables / "prediction_by_definition_wide.csv").exists()


def test_read_inspire_bad_input_one_line_each(tmp_path):
    (tmp_path / "pembrolizumab.csv").write_text(
        "id,age,sex,cohort,l_size,pdl1,tmb,baseline_ctdna,change_ctdna_group,orr,cbr,"
        "os_status,os_time,pfs_status,pfs_time\n"
        "P1,60,Male,Z,100,1,0.5,10,,SD/PD,PD,1,5,1,2\n"
        "P2,60,Male,A,lots,1,0.5,10,,SD/PD,PD,2,5,1,2\n"
    )
    (tmp_path / "ctDNA.csv").write_text(
        "id,cohort,ctdna_status,time,size_change\nP9,A,Clearance,8,10\n"
    )
    with pytest.raises(CohortError) as e:
        read_inspire(tmp_path)
    got = {(p.file, p.row, p.column) for p in e.value.problems}
    assert ("pembrolizumab.csv", 2, "cohort") in got
    assert ("pembrolizumab.csv", 3, "l_size") in got
    assert ("pembrolizumab.csv", 3, "os_status") in got
    assert ("ctDNA.csv", 2, "id") in got


@pytest.mark.slow
def test_prediction_part_with_biomarkers_renders(tmp_path):
    """The example cohort plus a hand-made biomarkers table: the spider plot and the early change
    (a marker rising by 50 % in every third patient) reach the section."""
    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLE, cohort)
    pts = pd.read_csv(cohort / "patients.csv")
    start = pd.to_datetime(pts["treatment_start"])
    rows = []
    for i, (pid, t0) in enumerate(zip(pts["patient_id"], start, strict=True)):
        if i % 2:
            continue
        base = 1.0 + (i % 7)
        rows.append((pid, (t0 - pd.Timedelta(days=3)).date(), "ctdna_vaf", base))
        rows.append(
            (
                pid,
                (t0 + pd.Timedelta(days=21)).date(),
                "ctdna_vaf",
                base * (1.5 if i % 3 == 0 else 0.8),
            )
        )
    pd.DataFrame(rows, columns=["patient_id", "date", "marker", "value"]).to_csv(
        cohort / "biomarkers.csv", index=False
    )
    params = {"prediction.markers": "ldh_above_uln,ctdna_vaf_early_change_pct", **FAST}
    out = run_report(cohort, tmp_path / "report", params, sections=["risk_factors"], progress=None)
    assert (out / "figures" / "biomarker_spider_ctdna_vaf.png").exists()
    auc = pd.read_csv(out / "tables" / "marker_auc.csv").set_index(["marker", "outcome"])
    # expected: +50 % for every third patient with samples (i % 6 == 0), -20 % otherwise
    from hpd_analysis.classification import classify_table

    cls = classify_table(load_cohort(cohort)).set_index("patient_id")
    idx = np.arange(len(pts))
    sampled = idx % 2 == 0
    change = pd.Series(
        np.where(idx % 3 == 0, 50.0, -20.0)[sampled], index=pts["patient_id"][sampled]
    )
    st = cls["hpd_ferrara2018_status"].reindex(change.index)
    keep = st.isin(["hpd", "not_hpd"])
    row = auc.loc[("ctdna_vaf_early_change_pct", "ferrara2018")]
    assert row["n"] == int(keep.sum())
    assert row["auc"] == pytest.approx(roc_auc_score(st[keep].eq("hpd"), change[keep]))
