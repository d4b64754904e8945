"""The report on real data: Laleh et al. 2022 study 4 (OAK per-scan sums, no survival) and the
OAK clinical table (survival, no measurements), executed through the report notebooks.

The real-data tests read ``../shared/data/external`` and skip when it is absent; the last test
runs the same per-group tables on a simulated cohort with pre-baseline scans. Slow (papermill,
~1 min in all).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import stream_text

from hpd_analysis.external import write_external_cohort
from hpd_analysis.report import run_report

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
#: the project's shared data folder when present, else the copies bundled in the package (every
#: set but OAK/POPLAR, which is not redistributable: its tests skip without the shared folder)
EXTERNAL = (
    SHARED if SHARED.is_dir() else Path(__file__).resolve().parents[1] / "hpd_analysis" / "data"
)
needs_external = pytest.mark.skipif(
    not EXTERNAL.is_dir(), reason=f"external data folder absent: {EXTERNAL}"
)
needs_oak = pytest.mark.skipif(
    not (EXTERNAL / "oak_poplar_gandara2018").is_dir(),
    reason="OAK/POPLAR data absent (not bundled)",
)

# R reference for OAK by arm (os / pfs). Computed with R 4.x, survival 3.5.3, on the cohort
# written by write_external_cohort("oak", "cohorts/oak") (patients.csv):
#
#   library(survival)
#   d <- read.csv("cohorts/oak/patients.csv", stringsAsFactors = FALSE)
#   d$arm <- factor(d$arm, levels = c("Docetaxel", "MPDL3280A"))
#   for (ep in c("os", "pfs")) {
#     f <- as.formula(paste0("Surv(", ep, "_months, ", ep, "_event) ~ arm"))
#     km <- survfit(f, data = d, conf.type = "log-log")      # lifelines' CI
#     summary(km)$table[, c("records", "events", "median", "0.95LCL", "0.95UCL")]
#     lr <- survdiff(f, data = d); pchisq(lr$chisq, df = 1, lower.tail = FALSE)
#     summary(coxph(f, data = d, ties = "efron"))$conf.int   # HR MPDL3280A vs Docetaxel
#   }
#
# columns: n, events, median, median CI low, high (months); HR, HR CI low, high; log-rank p
R_OAK = {
    ("os", "Docetaxel"): (425, 298, 9.626283368, 8.607802875, 11.17043121),
    ("os", "MPDL3280A"): (425, 271, 13.76591376, 11.66324435, 15.67145791),
    ("pfs", "Docetaxel"): (425, 375, 4.041067762, 3.285420945, 4.1724846),
    ("pfs", "MPDL3280A"): (425, 380, 2.792607803, 2.562628337, 2.98973306),
}
R_OAK_HR = {
    "os": (0.7285747479, 0.617756941, 0.8592718721, 0.0001594015785),
    "pfs": (0.9375987381, 0.8116337456, 1.08311341, 0.359633561),
}


@pytest.mark.external
@pytest.mark.slow
@needs_external
def test_laleh_study4_kinetics_by_arm_and_survival_skipped(tmp_path):
    cohort = write_external_cohort("laleh2022-study4", tmp_path / "laleh4", external_dir=EXTERNAL)
    out = run_report(
        cohort,
        tmp_path / "report",
        {"group_by": "arm"},
        sections=["kinetics", "survival"],
        progress=None,
    )
    tables = out / "tables"
    # fast progression per arm: n/N, % and 95 % CI; arm 1 docetaxel, arm 2 atezolizumab
    fp = pd.read_csv(tables / "fast_progression_by_group.csv", dtype={"group": str})
    fp = fp.set_index("group")
    assert list(fp.index) == ["all", "1", "2"]
    assert fp.loc["all", "n_total"] == 701
    assert fp.loc["1", "n_total"] + fp.loc["2", "n_total"] == 701
    assert (fp["ci_low"] <= fp["percent"]).all() and (fp["percent"] <= fp["ci_high"]).all()
    assert fp.loc["all", "n_over_N"] == "18/700"  # as in docs/real-data.md
    assert fp.loc["2", "n_hpd"] > fp.loc["1", "n_hpd"]  # fast progression under atezolizumab
    # RECIST at first evaluation per arm: every patient of each arm counted, % of the arm
    resp = pd.read_csv(tables / "recist_first_eval_by_group.csv", dtype={"group": str})
    per_arm = resp.groupby("group")["n"].sum()
    assert per_arm.to_dict() == {"1": fp.loc["1", "n_total"], "2": fp.loc["2", "n_total"]}
    assert resp.groupby("group")["percent"].sum().round(6).eq(100).all()
    # on-treatment kinetics per arm; pre-treatment ones not evaluable, with the reason
    kin = pd.read_csv(tables / "kinetics_by_group.csv", dtype={"group": str})
    kin = kin.set_index(["group", "quantity"])
    for arm in ("1", "2"):
        assert kin.loc[(arm, "tgr_on"), "n"] > 300
        assert kin.loc[(arm, "tgr_pre"), "n"] == 0
        assert kin.loc[(arm, "tgr_pre"), "main_reason_missing"] == "no pre-baseline scan"
    assert (out / "figures" / "on_treatment_kinetics.png").is_file()
    text = stream_text(out / "02_kinetics.ipynb")
    assert "NOT EVALUABLE" in text and "ferrara2018 (no pre-baseline scan)" in text
    # survival: no data, a note, no failure and no survival table
    assert "No survival data in this cohort" in stream_text(out / "05_survival.ipynb")
    assert not (tables / "survival.csv").exists()


@pytest.mark.external
@pytest.mark.slow
@needs_external
@needs_oak
def test_oak_survival_by_arm_equals_r_survival(tmp_path):
    cohort = write_external_cohort("oak", tmp_path / "oak", external_dir=EXTERNAL)
    out = run_report(
        cohort,
        tmp_path / "report",
        {"group_by": "arm", "landmark": "none"},
        sections=["kinetics", "survival"],
        progress=None,
    )
    surv = pd.read_csv(out / "tables" / "survival.csv").set_index(["endpoint", "group"])
    assert set(surv.index) == set(R_OAK)
    for key, (n, events, med, lo, hi) in R_OAK.items():
        row = surv.loc[key]
        assert (row["n"], row["events"]) == (n, events), key
        assert row["median_months"] == pytest.approx(med, rel=1e-6), key
        assert row["median_ci_low"] == pytest.approx(lo, rel=1e-6), key
        assert row["median_ci_high"] == pytest.approx(hi, rel=1e-6), key
    for ep, (hr, lo, hi, p) in R_OAK_HR.items():
        row = surv.loc[(ep, "MPDL3280A")]
        assert row["hazard_ratio"] == pytest.approx(hr, rel=1e-6)
        assert row["hr_ci_low"] == pytest.approx(lo, rel=1e-6)
        assert row["hr_ci_high"] == pytest.approx(hi, rel=1e-6)
        assert row["logrank_p"] == pytest.approx(p, rel=1e-6)
        assert surv.loc[(ep, "Docetaxel"), "hazard_ratio"] == 1.0
    assert surv["landmark_months"].isna().all()
    # proportional hazards: the OAK PFS curves cross (atezolizumab below docetaxel early, above
    # later), OS is fine. R survival 3.5.3, cox.zph(coxph(Surv(pfs_months, pfs_event) ~ atezo,
    # ties = "efron"), transform = "km"): chisq 41.0, p 1.5e-10 (PFS); chisq 0.579, p 0.447 (OS).
    # lifelines' classic approximation: 4.7e-10 and 0.438.
    assert surv.loc[("pfs", "MPDL3280A"), "ph_p_value"] < 1e-6
    assert "hazards may not be proportional" in surv.loc[("pfs", "MPDL3280A"), "note"]
    assert 0.3 < surv.loc[("os", "MPDL3280A"), "ph_p_value"] < 0.6
    for ep in ("os", "pfs"):
        assert (out / "figures" / f"km_{ep}.png").is_file()
    assert "No tumour measurements" in stream_text(out / "02_kinetics.ipynb")


@pytest.mark.slow
def test_simulated_cohort_with_prebaseline_scans_split_by_tumour_type(tmp_path, report_cohort):
    """A cohort with pre-baseline scans (the simulated cohort of conftest.py): the before-vs-on
    figures are drawn and the per-group tables hold every patient. (PFS grouped by ferrara2018
    carries the caveat: test_report_numbers, on the default report of the same cohort.)"""
    n_patients = len(pd.read_csv(report_cohort / "patients.csv"))
    out = run_report(
        report_cohort,
        tmp_path / "report",
        {"group_by": "tumor_type"},
        sections=["kinetics"],
        progress=None,
    )
    kin = pd.read_csv(out / "tables" / "kinetics_by_group.csv")
    pre = kin[kin["quantity"] == "tgr_pre"]
    assert pre["n"].sum() > 0 and pre["n_patients"].sum() == n_patients
    fp = pd.read_csv(out / "tables" / "fast_progression_by_group.csv").set_index("group")
    assert fp.drop(index="all")["n_total"].sum() == fp.loc["all", "n_total"] == n_patients
    for fig in ("tgr_scatter", "tgk_distributions", "on_treatment_kinetics"):
        assert (out / "figures" / f"{fig}.png").is_file()
    assert "NOT EVALUABLE" not in stream_text(out / "02_kinetics.ipynb")
