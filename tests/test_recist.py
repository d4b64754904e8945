"""RECIST 1.1 per-scan responses, best overall response and iRECIST, on hand-made patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.cohort import Cohort
from hpd_analysis.recist import (
    RESPONSE_COLUMNS,
    ReasonCase,
    ScanAssessment,
    best_overall_response,
    irecist,
    measured_pd_reason,
    non_target_response,
    overall_response,
    reason_parts,
    recist_responses,
    response_reason,
    scan_responses,
    target_response,
)
from hpd_analysis.recist_kernel import concat_text
from hpd_analysis.timepoints import first_evaluation_features, scan_table

START = pd.Timestamp("2021-03-01")


def cohort_from_sums(series: dict[str, list[tuple[int, float, int]]]) -> Cohort:
    """Patients given as ``{pid: [(day, sld_mm, new_lesions), ...]}`` (per-scan sums)."""
    rows = [
        dict(
            patient_id=p,
            assessment_date=START + pd.Timedelta(days=d),
            sld_mm=s,
            new_lesions=n,
            new_organs=0,
            non_target_pd=False,
        )
        for p, scans in series.items()
        for d, s, n in scans
    ]
    patients = pd.DataFrame({"patient_id": list(series), "treatment_start": START})
    return Cohort(patients=patients, assessments=pd.DataFrame(rows))


def responses(series):
    return recist_responses(scan_table(cohort_from_sums(series)))


# ---------------------------------------------------------------- building blocks


def test_target_response_boundaries():
    sld = np.array([24, 30, 55, 70, 70.1, np.nan, 0, 12])
    base = np.array([20, 25, 50, 100, 100, 100, 100, np.nan])
    cr = np.array([False] * 6 + [True, False])
    got = target_response(sld, base, base, targets_cr=cr)
    assert got.tolist() == ["SD", "PD", "SD", "PR", "SD", "NE", "CR", "NE"]


def test_overall_response_table():
    t = np.array(["CR", "CR", "CR", "PR", "SD", "NE", "NE", "SD", "CR"])
    nt = np.array(
        ["CR", "non-CR/non-PD", "NE", "NE", "non-CR/non-PD", "non-CR/non-PD", "PD", "none", "none"]
    )
    new = pd.array([False, False, False, False, False, False, False, True, False], dtype="boolean")
    assert overall_response(t, nt, new).tolist() == [
        "CR",
        "PR",
        "PR",
        "PR",
        "SD",
        "NE",
        "PD",
        "PD",
        "CR",
    ]


# ---------------------------------------------------------------- per-scan responses


def test_nadir_after_response_pd_relative_to_nadir_not_baseline():
    r = responses({"A": [(-5, 100, 0), (42, 60, 0), (84, 75, 0), (126, 70, 0)]})
    assert list(r.columns) == RESPONSE_COLUMNS
    assert r.nadir_mm.tolist() == [100, 60, 60]
    # day 126: 70 mm is -30 % vs baseline (PR) and +16.7 % vs the nadir (not PD)
    assert r.target_response.tolist() == ["PR", "PD", "PR"]
    assert r.pct_change_baseline.tolist() == [-40, -25, -30]
    assert r.pct_change_nadir.round(2).tolist() == [-40, 25, 16.67]
    assert r.overall_response.tolist() == ["PR", "PD", "PR"]
    assert r.day.tolist() == [42, 84, 126]


def test_pre_baseline_and_unevaluable_scans_never_set_the_nadir():
    r = responses({"A": [(-100, 40, 0), (-5, 100, 0), (42, np.nan, 0), (84, 118, 0)]})
    assert r.nadir_mm.tolist() == [100, 100]
    assert r.target_response.tolist() == ["NE", "SD"]
    assert "sld_mm not given" in r.response_reason.iloc[0]


def test_new_lesion_makes_overall_pd():
    r = responses({"A": [(-5, 100, 0), (42, 90, 1)]})
    assert r.target_response.iloc[0] == "SD" and r.overall_response.iloc[0] == "PD"
    assert bool(r.new_lesion.iloc[0])


def test_no_baseline_gives_ne_with_reason():
    r = responses({"A": [(-60, 100, 0), (42, 90, 0)]})
    assert r.overall_response.tolist() == ["NE"]
    assert "no baseline scan" in r.response_reason.iloc[0]


def test_first_eval_row_matches_first_evaluation_features():
    c = cohort_from_sums(
        {
            "A": [(-5, 98, 0), (49, 171, 0)],
            "B": [(-1, 50, 0), (45, 34, 0)],
            "C": [(0, 50, 0), (45, 54, 0)],
        }
    )
    r = recist_responses(scan_table(c))
    f = first_evaluation_features(c)
    fe = r[r.is_first_eval]
    assert fe.overall_response.tolist() == f.recist_first_eval.tolist() == ["PD", "PR", "SD"]
    assert fe.pct_change_baseline.round(4).tolist() == f.sld_pct_change_first_eval.round(4).tolist()


# ---------------------------------------------------------------- best overall response


def test_bor_sd_minimum_duration_and_missing_patients():
    r = responses(
        {
            "early_sd_then_pd": [(0, 100, 0), (30, 100, 0), (70, 130, 0)],
            "early_sd_only": [(0, 100, 0), (30, 100, 0)],
            "sd_at_42": [(0, 100, 0), (42, 100, 0)],
            "pr_then_pd": [(0, 100, 0), (42, 60, 0), (84, 80, 0)],
        }
    )
    b = best_overall_response(
        r,
        patient_ids=pd.Series(
            ["early_sd_then_pd", "early_sd_only", "sd_at_42", "pr_then_pd", "no_scan"]
        ),
    )
    assert b.bor.tolist() == ["PD", "NE", "SD", "PR", "NE"]
    assert "SD before day 42" in b.bor_reason.iloc[0]
    assert "SD minimum duration" in b.bor_reason.iloc[1]
    assert b.bor_reason.iloc[4] == "no on-treatment scan"
    assert b.n_on_treatment_scans.tolist() == [2, 1, 1, 2, 0]


def test_bor_confirmation_parameter():
    series = {
        "confirmed": [(0, 100, 0), (56, 60, 0), (84, 60, 0)],
        "too_soon": [(0, 100, 0), (56, 60, 0), (70, 60, 0)],
        "pd_between": [(0, 100, 0), (56, 60, 0), (70, 80, 0), (90, 60, 0)],
        "single": [(0, 100, 0), (56, 60, 0)],
    }
    r = responses(series)
    assert best_overall_response(r).bor.tolist() == ["PR", "PR", "PR", "PR"]
    assert best_overall_response(r, confirm=True).bor.tolist() == ["PR", "SD", "SD", "SD"]


# ---------------------------------------------------------------- iRECIST


def test_irecist_confirmed_not_confirmed_pseudoprogression_unconfirmable():
    r = responses(
        {
            "confirmed": [(0, 100, 0), (42, 130, 0), (77, 136, 0)],
            "not_confirmed": [(0, 100, 0), (42, 130, 0), (77, 132, 0)],
            "pseudo": [(0, 100, 0), (42, 130, 0), (77, 110, 0)],
            "late_scan": [(0, 100, 0), (42, 130, 0), (110, 150, 0)],
            "new_lesion": [(0, 100, 0), (42, 130, 0), (70, 131, 1)],
            "no_pd": [(0, 100, 0), (42, 100, 0)],
        }
    )
    i = irecist(r, patient_ids=pd.Series(list(r.patient_id.unique()) + ["nobody"]))
    i = i.set_index("patient_id")
    assert i.loc["confirmed", "icpd"] is True or bool(i.loc["confirmed", "icpd"])
    assert "target SLD +>=5 mm" in i.loc["confirmed", "irecist_reason"]
    assert i.loc["confirmed", "iupd_day"] == 42 and i.loc["confirmed", "confirm_day"] == 77
    assert not bool(i.loc["not_confirmed", "icpd"])
    assert not bool(i.loc["not_confirmed", "pseudoprogression"])
    assert not bool(i.loc["pseudo", "icpd"]) and bool(i.loc["pseudo", "pseudoprogression"])
    assert pd.isna(i.loc["late_scan", "icpd"])
    assert "unconfirmable" in i.loc["late_scan", "irecist_reason"]
    assert bool(i.loc["new_lesion", "icpd"])
    assert "another new lesion" in i.loc["new_lesion", "irecist_reason"]
    assert pd.isna(i.loc["no_pd", "iupd_date"]) and "no iUPD" in i.loc["no_pd", "irecist_reason"]
    assert i.loc["nobody", "irecist_reason"] == "no on-treatment scan"


@pytest.mark.parametrize("gap, confirmable", [(27, False), (28, True), (56, True), (57, False)])
def test_irecist_window_edges(gap, confirmable):
    r = responses({"A": [(0, 100, 0), (42, 130, 0), (42 + gap, 140, 0)]})
    i = irecist(r)
    assert pd.notna(i.icpd.iloc[0]) is confirmable


# ---------------------------------------------------------------- reference: pharmaverse ADaM

EXTERNAL = (
    __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
)
ADTR = EXTERNAL / "pharmaverseadam" / "adtr_onco.csv.gz"


@pytest.mark.external
@pytest.mark.skipif(not ADTR.exists(), reason="external pharmaverseadam data not available")
def test_sld_pct_change_and_nadir_match_pharmaverse_adtr():
    """Rebuild the lesion table from the per-lesion rows of ADTR (admiralonco templates) and
    compare our SLD, % change from baseline and nadir with its SDIAM parameter."""
    adtr = pd.read_csv(ADTR, low_memory=False)
    # RECIST diameter: longest diameter (LDIAMn) of non-nodal lesions, short axis (NLDIAMn, the
    # perpendicular) of lymph nodes
    nodal = adtr["TULOCGR1"] == "NODAL"
    lesion_rows = adtr[
        (adtr["PARAMCD"].str.fullmatch(r"LDIAM\d+") & ~nodal)
        | (adtr["PARAMCD"].str.fullmatch(r"NLDIAM\d+") & nodal)
    ]
    lesions = pd.DataFrame(
        {
            "patient_id": lesion_rows["USUBJID"].to_numpy(),
            "assessment_date": pd.to_datetime(lesion_rows["ADT"]).to_numpy(),
            "lesion_id": lesion_rows["TRLNKID"].to_numpy(),
            "lesion_type": "target",
            "organ": lesion_rows["TULOC"].to_numpy(),
            "diameter_mm": lesion_rows["AVAL"].to_numpy(dtype=float),
            "status": None,
            "is_lymph_node": (lesion_rows["TULOCGR1"] == "NODAL").to_numpy(),
            "not_evaluable": False,
        }
    )
    patients = (
        adtr[["USUBJID", "TRTSDT"]]
        .drop_duplicates()
        .rename(columns={"USUBJID": "patient_id", "TRTSDT": "treatment_start"})
    )
    patients["treatment_start"] = pd.to_datetime(patients["treatment_start"])
    scans = scan_table(Cohort(patients=patients.reset_index(drop=True), lesions=lesions))
    ref = adtr[adtr["PARAMCD"] == "SDIAM"].assign(
        assessment_date=lambda d: pd.to_datetime(d["ADT"]), patient_id=lambda d: d["USUBJID"]
    )
    m = ref.merge(scans, on=["patient_id", "assessment_date"], how="left", validate="one_to_one")
    assert m["role"].notna().all()
    evaluable = m["ANL01FL"] == "Y"
    np.testing.assert_allclose(m.loc[evaluable, "sld_mm"], m.loc[evaluable, "AVAL"], atol=1e-6)
    assert m.loc[~evaluable, "sld_mm"].isna().all()  # a target lesion is missing
    assert (m.loc[m["ABLFL"] == "Y", "role"] == "baseline").all()

    r = recist_responses(scans)
    m = ref.merge(r, on=["patient_id", "assessment_date"], how="inner")
    m = m[m["ANL01FL"] == "Y"]
    assert len(m) > 10
    np.testing.assert_allclose(m["pct_change_baseline"], m["PCHG"], atol=1e-6)
    np.testing.assert_allclose(m["nadir_mm"], m["NADIR"], atol=1e-6)
    np.testing.assert_allclose(m["pct_change_nadir"], m["PCHGNAD"], atol=1e-6)


def test_irecist_and_bor_work_without_treatment_start_days():
    r = responses({"A": [(0, 100, 0), (42, 130, 0), (77, 136, 0)]})
    r["day"] = np.nan  # e.g. a cohort without start dates
    i = irecist(r)
    assert bool(i.icpd.iloc[0]) and i.iupd_date.iloc[0] == START + pd.Timedelta(days=42)
    b = best_overall_response(r, confirm=True)
    assert b.bor.iloc[0] == "PD"


def test_patients_without_any_response_row_are_reported():
    empty = recist_responses(scan_table(cohort_from_sums({"A": [(-3, 50, 0)]})))
    assert len(empty) == 0
    ids = pd.Series(["A", "B"])
    b = best_overall_response(empty, patient_ids=ids)
    assert b.bor.tolist() == ["NE", "NE"] and (b.bor_reason == "no on-treatment scan").all()
    i = irecist(empty, patient_ids=ids)
    assert i.patient_id.tolist() == ["A", "B"] and not i.pseudoprogression.any()
    assert (i.irecist_reason == "no on-treatment scan").all()


# ---------------------------------------------------------------- missing target, no target


def test_target_response_pd_on_measured_lesions_and_no_targets():
    nan = np.nan
    sld = np.array([nan, nan, nan, nan, nan, 30.0])
    part = np.array([30.0, 29.9, 24.0, nan, 5.0, 30.0])
    base = np.array([25.0, 25.0, 20.0, 25.0, 25.0, nan])
    nadir = np.array([25.0, 25.0, 20.0, 25.0, 0.0, nan])
    no_tgt = np.array([False] * 5 + [True])
    got = target_response(
        sld, base, nadir, targets_cr=np.zeros(6, bool), sld_measured=part, no_targets=no_tgt
    )
    # +20 % & +5 mm: PD; +19.6 %: NE; +4 mm: NE; nothing measured: NE; +5 mm over a 0 nadir: PD
    assert got.tolist() == ["PD", "NE", "NE", "NE", "PD", "none"]
    # without the measured sums the old rule (NE) holds
    assert (
        target_response(sld, base, nadir, targets_cr=np.zeros(6, bool)).tolist()[:5] == ["NE"] * 5
    )


def test_overall_response_without_target_lesions():
    t = np.array(["none"] * 6)
    nt = np.array(["non-CR/non-PD", "CR", "PD", "non-CR/non-PD", "NE", "none"])
    new = pd.array([False, False, False, True, False, False], dtype="boolean")
    assert overall_response(t, nt, new).tolist() == ["NON-CR/NON-PD", "CR", "PD", "PD", "NE", "NE"]
    r = response_reason(
        t, nt, new, overall=overall_response(t, nt, new), sld_reason=np.full(6, None)
    )
    assert r[5] == "no target or non-target lesion at baseline"
    assert "response from target SLD alone" not in r[4]


def lesion_cohort(scans: dict[str, dict[int, dict[str, float | str]]]) -> Cohort:
    """``{pid: {day: {lesion_id: diameter_mm or non-target status}}}``; ids starting with ``NT``
    are non-target lesions; a lesion left out of a scan is not assessed."""
    rows = []
    for p, by_day in scans.items():
        for d, lesions in by_day.items():
            for lid, v in lesions.items():
                nt = lid.startswith("NT")
                rows.append(
                    dict(
                        patient_id=p,
                        assessment_date=START + pd.Timedelta(days=d),
                        lesion_id=lid,
                        lesion_type="non_target" if nt else "target",
                        organ="lung",
                        diameter_mm=np.nan if nt else float(v),
                        status=v if nt else None,
                        is_lymph_node=False,
                        not_evaluable=False,
                    )
                )
    patients = pd.DataFrame({"patient_id": list(scans), "treatment_start": START})
    return Cohort(patients=patients, lesions=pd.DataFrame(rows))


def test_incomplete_scan_pd_over_nadir_and_never_sets_the_nadir():
    c = lesion_cohort(
        {
            "pd": {0: {"T1": 50, "T2": 50}, 42: {"T1": 30, "T2": 30}, 84: {"T1": 72}},
            "ne": {
                0: {"T1": 50, "T2": 50},
                42: {"T1": 30, "T2": 30},
                84: {"T1": 40},
                126: {"T1": 35, "T2": 35},
            },
        }
    )
    r = recist_responses(scan_table(c))
    pd_, ne = r[r.patient_id == "pd"], r[r.patient_id == "ne"]
    # 72 mm measured vs the 60 mm nadir (+20 %, +12 mm): PD although the baseline was 100 mm
    assert pd_.overall_response.tolist() == ["PR", "PD"]
    assert np.isnan(pd_.sld_mm.iloc[1]) and pd_.sld_measured_mm.iloc[1] == 72
    assert np.isnan(pd_.pct_change_nadir.iloc[1])
    assert pd_.response_reason.iloc[1] == "target PD on measured lesions (1 target not assessed)"
    # 40 mm measured: NE; it does not become the nadir, so 70 mm at day 126 is +16.7 %: PR/SD
    assert ne.overall_response.tolist() == ["PR", "NE", "PR"]
    assert ne.nadir_mm.tolist() == [100, 60, 60]
    b = best_overall_response(r)
    assert b.bor.tolist() == ["PR", "PR"]


def test_non_target_only_per_scan_and_best_overall_response():
    present = {"NT1": "present", "NT2": "present"}
    c = lesion_cohort(
        {
            "ncnp_42": {0: present, 42: present},
            "ncnp_early": {0: present, 30: present},
            "ncnp_early_then_pd": {
                0: present,
                30: present,
                70: {"NT1": "unequivocal_progression", "NT2": "present"},
            },
            "ncnp_then_pd": {
                0: present,
                42: present,
                84: {"NT1": "unequivocal_progression", "NT2": "present"},
            },
            "cr_once": {0: present, 42: {"NT1": "absent", "NT2": "absent"}, 56: present},
        }
    )
    r = recist_responses(scan_table(c))
    assert (r.target_response == "none").all()
    assert r.overall_response.tolist() == [
        "NON-CR/NON-PD",
        "NON-CR/NON-PD",
        "NON-CR/NON-PD",
        "PD",
        "NON-CR/NON-PD",
        "PD",
        "CR",
        "NON-CR/NON-PD",
    ]
    b = best_overall_response(r).set_index("patient_id")
    assert b.bor.to_dict() == {
        "ncnp_42": "NON-CR/NON-PD",
        "ncnp_early": "NE",
        "ncnp_early_then_pd": "PD",
        "ncnp_then_pd": "NON-CR/NON-PD",
        "cr_once": "CR",
    }
    assert b.loc["ncnp_early", "bor_reason"] == (
        "NON-CR/NON-PD only before day 42 (SD minimum duration), no later response"
    )
    assert b.loc["ncnp_early_then_pd", "bor_reason"] == (
        "NON-CR/NON-PD before day 42 (SD minimum duration) followed by PD"
    )
    # confirmation: a CR not confirmed counts as NON-CR/NON-PD (not SD) without target lesions
    bc = best_overall_response(r, confirm=True).set_index("patient_id")
    assert bc.loc["cr_once", "bor"] == "NON-CR/NON-PD"


def test_bor_ignores_scans_after_the_first_pd():
    r = responses(
        {
            "pd_then_sd": [(0, 100, 0), (42, 130, 0), (84, 100, 0)],
            "pd_then_pr": [(0, 100, 0), (42, 100, 1), (84, 60, 0)],
            "sd_then_pd": [(0, 100, 0), (42, 100, 0), (84, 130, 0)],
        }
    )
    b = best_overall_response(r)
    assert b.bor.tolist() == ["PD", "PD", "SD"]
    assert b.bor_day.tolist() == [42, 42, 42]
    assert b.n_on_treatment_scans.tolist() == [2, 2, 2]


def test_irecist_later_non_cr_non_pd_is_pseudoprogression():
    present = {"NT1": "present"}
    c = lesion_cohort(
        {"A": {0: present, 42: {"NT1": "unequivocal_progression"}, 60: present, 90: present}}
    )
    i = irecist(recist_responses(scan_table(c)))
    # confirmatory scan (day 70-98 window: day 90) shows no further progression; later NCNP
    assert not bool(i.icpd.iloc[0]) and bool(i.pseudoprogression.iloc[0])


def test_concat_text_is_row_wise_plus_with_shared_strings():
    a = np.array(["no baseline", "late", "no baseline", ""], dtype=object)
    b = np.array(["1", "2", "1", "3"], dtype=object)
    out = concat_text("x (", a, ": ", b, ")")
    assert out.tolist() == (("x (" + a + ": " + b) + ")").tolist()
    assert out[0] is out[2]  # one string object per distinct text
    assert concat_text(np.array([], dtype=object), "!").tolist() == []
    with pytest.raises(TypeError):  # like "str" + None
        concat_text("a", np.array([None], dtype=object))


def test_responses_are_the_few_shared_labels():
    sld = np.array([50.0, 100.0, np.nan, 100.0])
    base = np.array([100.0, 100.0, 100.0, 100.0])
    tr = target_response(sld, base, base, targets_cr=np.zeros(4, dtype=bool))
    assert tr.dtype == object and tr.tolist() == ["PR", "SD", "NE", "SD"]
    assert tr[1] is tr[3]


def random_scans(seed: int, n: int = 3000) -> ScanAssessment:
    """Random scans reaching every response: boundary SLDs, missing values, no targets."""
    rng = np.random.default_rng(seed)

    def maybe_nan(x, p=0.15):
        return np.where(rng.random(n) < p, np.nan, x)

    base = maybe_nan(rng.choice([0.0, 10.0, 40.0, 80.0], n) + rng.integers(0, 5, n))
    sld = maybe_nan(base * rng.choice([0.0, 0.5, 0.72, 1.0, 1.19, 1.21, 2.0], n))
    part = np.where(np.isnan(sld), maybe_nan(base * rng.choice([0.5, 1.3], n), 0.5), sld)
    nt_exp = maybe_nan(rng.integers(0, 3, n).astype(float))
    t_exp = rng.integers(0, 4, n).astype(float)
    return ScanAssessment(
        sld_mm=sld,
        baseline_sld_mm=base,
        nadir_mm=base,
        targets_cr=rng.random(n) < 0.1,
        sld_measured_mm=part,
        n_targets_expected=t_exp,
        n_targets_measured=np.minimum(t_exp, rng.integers(0, 4, n)),
        no_targets=rng.random(n) < 0.1,
        non_target_pd=pd.array(
            np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.2), dtype="boolean"
        ),
        non_target_cr=pd.array(rng.random(n) < 0.2, dtype="boolean"),
        n_non_targets_expected=nt_exp,
        n_non_targets_assessed=np.minimum(nt_exp, rng.integers(0, 3, n)),
        new_lesion=pd.array(
            np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.15), dtype="boolean"
        ),
        sld_reason=np.where(
            np.isnan(sld),
            rng.choice(["1 of 2 baseline target lesion(s) not measured", "no baseline scan"], n),
            None,
        ).astype(object),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scan_responses_equals_the_public_functions(seed):
    """The code-level entry point timepoints uses gives what the four public functions give."""
    a = random_scans(seed)
    sld, base = a.sld_mm, a.baseline_sld_mm
    tr = target_response(
        sld,
        base,
        base,
        targets_cr=a.targets_cr,
        sld_measured=a.sld_measured_mm,
        no_targets=a.no_targets,
    )
    ntr = non_target_response(
        a.non_target_pd,
        a.non_target_cr,
        n_expected=a.n_non_targets_expected,
        n_assessed=a.n_non_targets_assessed,
    )
    ovr = overall_response(tr, ntr, a.new_lesion)
    own_pd = measured_pd_reason(
        tr, sld, n_expected=a.n_targets_expected, n_measured=a.n_targets_measured
    )
    reason = response_reason(
        tr, ntr, a.new_lesion, overall=ovr, sld_reason=a.sld_reason, target_pd_reason=own_pd
    )
    got = scan_responses(a)
    have_all = (
        got.target_response,
        got.non_target_response,
        got.overall_response,
        got.response_reason,
    )
    for want, have in zip((tr, ntr, ovr, reason), have_all, strict=True):
        assert have.dtype == object and have.flags.writeable
        assert want.tolist() == have.tolist()
    assert len(set(ovr.tolist())) >= 5  # the draw reaches most responses


def nullable(value):
    """A nullable value as Python: None for NA or NaN."""
    return None if pd.isna(value) else value


def target_response_of_scan(sld, base, nadir, cr, measured, no_targets):
    """RECIST 1.1 target response of one scan, written as the paper reads."""

    def progression(total):  # +20 % and +5 mm over the nadir (the baseline before any)
        ref = base if nadir is None else nadir
        rise = total - ref
        return rise >= 5.0 - 1e-9 and rise >= 0.2 * ref - 1e-9 * max(ref, 1.0)

    if no_targets:
        return "none"
    if sld is not None and base is not None and progression(sld):
        return "PD"
    if sld is None and base is not None and measured is not None and progression(measured):
        return "PD"  # a target not assessed can only add to the measured sum
    if sld is None or base is None:
        return "NE"
    if cr:
        return "CR"
    if sld - base <= -0.3 * base + 1e-9 * max(base, 1.0):
        return "PR"
    return "SD"


def non_target_response_of_scan(progression, all_gone, expected, assessed):
    if progression:
        return "PD"
    if expected is None:  # per-scan sums only
        return "non-PD" if progression is not None else "NE"
    if expected == 0:
        return "none"
    if all_gone:
        return "CR"
    if (assessed or 0) < expected:
        return "NE"
    return "non-CR/non-PD"


def overall_response_of_scan(target, non_target, new):
    if target == "PD" or non_target == "PD" or new:
        return "PD"
    if target == "NE":
        return "NE"
    if target == "none":  # table 2: non-target disease only
        return {"CR": "CR", "non-CR/non-PD": "NON-CR/NON-PD"}.get(non_target, "NE")
    if target == "CR":
        return "CR" if non_target in ("CR", "none") else "PR"
    return {"PR": "PR", "SD": "SD"}.get(target, "NE")


@pytest.mark.parametrize("seed", [3, 4])
def test_scan_responses_equal_the_rules_scan_by_scan(seed):
    """The table look-ups and codes give what the rules give one scan at a time (a plain loop
    over scans, the reason joined from REASON_PARTS)."""
    a = random_scans(seed, n=2000)
    got = scan_responses(a)
    new_lesion = [None if pd.isna(v) else bool(v) for v in a.new_lesion]
    for i in range(len(a.sld_mm)):
        sld = nullable(a.sld_mm[i])
        target = target_response_of_scan(
            sld,
            nullable(a.baseline_sld_mm[i]),
            nullable(a.nadir_mm[i]),
            a.targets_cr[i],
            nullable(a.sld_measured_mm[i]),
            a.no_targets[i],
        )
        non_target = non_target_response_of_scan(
            nullable(a.non_target_pd[i]),
            nullable(a.non_target_cr[i]),
            nullable(a.n_non_targets_expected[i]),
            nullable(a.n_non_targets_assessed[i]),
        )
        overall = overall_response_of_scan(target, non_target, new_lesion[i])
        parts = reason_parts(ReasonCase(target, non_target, overall == "PD", new_lesion[i]))
        if target == "PD" and sld is None:
            missing = a.n_targets_expected[i] - a.n_targets_measured[i]
            s = "" if missing == 1 else "s"
            parts[0] = f"target PD on measured lesions ({missing:g} target{s} not assessed)"
        if target == "NE":
            parts.append("target not evaluable: " + (a.sld_reason[i] or "SLD not evaluable"))
        assert (target, non_target, overall, "; ".join(parts)) == (
            got.target_response[i],
            got.non_target_response[i],
            got.overall_response[i],
            got.response_reason[i],
        ), i
