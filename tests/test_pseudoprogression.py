"""iRECIST course after the first evaluation and pseudoprogression beside HPD, on patients built by
hand (one 50 mm lung target at baseline, day -3; first evaluation day 42; next scan day 84)."""

from __future__ import annotations

import pandas as pd

from hpd_analysis.classification import classify_table, irecist_course
from hpd_analysis.incidence import hpd_and_pseudoprogression
from hpd_analysis.load import load_cohort

START = pd.Timestamp("2021-03-01")


def _cohort():
    # A: 50 -> 65 (+30 %: iUPD) -> 55 (+10 % vs baseline: SD, not +5 mm over 65): pseudoprogression
    # B: 50 -> 65 -> 72 (+7 mm over the iUPD sum, 42 days later): iCPD
    # C: 50 -> 65, no later scan: unconfirmed
    # D: 50 -> 40 (SD) -> 30 (-40 %: PR): no iUPD, later response
    scans = {
        "A": {-3: 50, 42: 65, 84: 55},
        "B": {-3: 50, 42: 65, 84: 72},
        "C": {-3: 50, 42: 65},
        "D": {-3: 50, 42: 40, 84: 30},
    }
    rows = [
        (p, START + pd.Timedelta(days=d), "T1", mm) for p, s in scans.items() for d, mm in s.items()
    ]
    lesions = pd.DataFrame(
        rows, columns=["patient_id", "assessment_date", "lesion_id", "diameter_mm"]
    )
    lesions["lesion_type"] = "target"
    lesions["organ"] = "lung"
    patients = pd.DataFrame({"patient_id": list(scans), "treatment_start": START})
    return load_cohort(patients=patients, lesions=lesions)


def test_irecist_course_by_hand():
    c = irecist_course(_cohort())
    assert c.irecist_course.tolist() == ["pseudoprogression", "iCPD", "unconfirmed", "no iUPD"]
    assert c.pseudoprogression.tolist() == [True, False, False, False]
    assert c.iupd_day.tolist()[:3] == [42.0, 42.0, 42.0]
    assert c.later_response.tolist() == [False, False, False, True]


def test_pseudoprogression_beside_hpd():
    """Matos (PD within 8 weeks with +>= 40 %; here +30 %) flags nobody; a user rule 'RECIST PD
    at first evaluation' flags A, B, C: one (A) a pseudoprogression, one (B) confirmed, one (C)
    unconfirmed, none later responded; 1 pseudoprogression in the cohort of 4."""
    from hpd_analysis.definitions import Definition

    pd_rule = Definition(
        code="pd_first",
        citation="test",
        rule="RECIST PD",
        parameters={},
        requires=("measurable_baseline",),
        criteria=["recist_first_eval == PD"],
    )
    cohort = _cohort()
    table = classify_table(cohort, [pd_rule, "matos2020"], {"rules.irecist": True})
    assert table.irecist_course.tolist()[0] == "pseudoprogression"
    s = hpd_and_pseudoprogression(table, irecist_course(cohort)).set_index("definition")
    assert s.loc["pd_first"].tolist() == [3, 1, 1, 1, 0, 1, 4]
    assert s.loc["matos2020", "n_hpd"] == 0
