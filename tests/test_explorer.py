"""The live explorer (module ``hpd_analysis.explorer``: a module named ``explore`` would shadow the
function ``hpd.explore``). Set a widget's value as a user would, check that the displayed numbers
change as ``hpd.classify`` says (same table, same incidence, the new counts in the HTML)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402, F401  (a declared dependency: without it the tests fail)
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hpd_analysis as hpd  # noqa: E402
from hpd_analysis.explorer import NO_GROUP  # noqa: E402


@pytest.fixture(scope="module")
def cohort(example_cohort):
    return example_cohort


@pytest.fixture()
def ex(cohort):
    return hpd.explore(cohort)


def _shown_incidence(page: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(definition, stratum) -> (n_hpd, n_evaluable) as printed in the incidence HTML."""
    rows = re.findall(
        r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>\s*"
        r"<td>(\d+)</td>",
        page,
    )
    return {(d, s): (int(a), int(b)) for d, s, a, b in rows}


def test_threshold_slider_changes_the_numbers_as_classify(ex, cohort):
    before = _shown_incidence(ex.incidence_html.value)
    ex.thresholds[("ferrara2018", "delta_tgr_min")].value = 100.0
    expected = hpd.classify(cohort, ferrara2018__delta_tgr_min=100.0)
    pd.testing.assert_frame_equal(ex.result.table, expected.table)
    shown = _shown_incidence(ex.incidence_html.value)
    inc = expected.incidence()
    row = inc[inc["definition"] == "ferrara2018"].iloc[0]
    assert shown[("ferrara2018", "all")] == (row["n_hpd"], row["n_evaluable"])
    assert shown[("ferrara2018", "all")] != before[("ferrara2018", "all")]
    # Ferrara at 100 is Kas 2020: they now flag the same patients (Jaccard 1)
    assert ex.agreement_table().loc["ferrara2018", "kas2020"] == 1.0
    assert "ferrara2018.delta_tgr_min=100" in ex.status.value


def test_window_slider_recomputes_features_once(ex, cohort):
    ex.windows["first_eval_min_days"].value = 42
    expected = hpd.classify(cohort, windows__first_eval_min_days=42)
    pd.testing.assert_frame_equal(ex.result.table, expected.table)
    shown = _shown_incidence(ex.incidence_html.value)
    inc = expected.incidence().set_index("definition")
    for code in expected.codes:
        assert shown[(code, "all")] == (inc.loc[code, "n_hpd"], inc.loc[code, "n_evaluable"])
    feats = ex.features(ex.parameters())
    ex.windows["first_eval_min_days"].value = 14
    ex.windows["first_eval_min_days"].value = 42
    assert ex.features(ex.parameters()) is feats  # cached per window setting


def test_definition_picker_grouping_and_upset(ex, cohort):
    ex.definition_picker.value = ("champiat2017", "kas2020")
    assert ex.result.codes == ["champiat2017", "kas2020"]
    assert set(k[0] for k in _shown_incidence(ex.incidence_html.value)) == {
        "champiat2017",
        "kas2020",
    }
    ex.stratify_by.value = "sex"
    shown = _shown_incidence(ex.incidence_html.value)
    table = ex.result.table
    women = cohort.patients["sex"].eq("F").to_numpy()
    n_f = int(table.loc[women, "hpd_kas2020"].fillna(False).astype(bool).sum())
    assert shown[("kas2020", "sex=F")][0] == n_f
    ups = ex.upset_table()
    both = table["hpd_champiat2017"].notna() & table["hpd_kas2020"].notna()
    flags = table.loc[both, ["hpd_champiat2017", "hpd_kas2020"]].astype(bool)
    assert int(ups.loc[ups["HPD under"] == "none", "n"].iloc[0]) == int((~flags.any(axis=1)).sum())
    assert ups["n"].sum() == int(both.sum())
    ex.stratify_by.value = NO_GROUP
    assert {s for _, s in _shown_incidence(ex.incidence_html.value)} == {"all"}


def test_km_follows_the_primary_definition_only(ex):
    image = ex.km_image.value
    assert image[:4] == b"\x89PNG"
    ex.thresholds[("champiat2017", "tgr_ratio_min")].value = 3.0  # not the primary: same KM
    assert ex.km_image.value is image
    ex.thresholds[("ferrara2018", "delta_tgr_min")].value = 150.0
    assert ex.km_image.value != image
    before = ex.km_image.value
    ex.endpoint.value = "pfs"
    assert ex.km_image.value != before


def test_patient_picker_shows_explain(ex):
    assert ex.patient.options  # HPD patients under the primary definition first
    pid = ex.patient.options[0]
    status = ex.result.status().loc[pid]
    assert status == "hpd"
    ex.patient.value = pid
    page = ex.explain_html.value
    assert f"Patient {pid}" in page and "data:image/png;base64," in page
    reason = ex.result.explain(pid).verdicts.set_index("definition").loc["ferrara2018", "reason"]
    assert reason.split(":")[0] in page
    ex.patient.value = "nobody"
    assert "no such patient" in ex.explain_html.value


def test_sliders_start_at_the_values_classify_used(cohort):
    """A slider clips a value outside its range: every threshold widget must start at the value
    in force, so that the explorer shows what hpd.classify gives before any move."""
    ex = hpd.explore(cohort, ferrara2018__delta_tgr_min=-5.0, champiat2017__tgr_ratio_min=0.5)
    assert ex.thresholds[("ferrara2018", "delta_tgr_min")].value == -5.0
    assert ex.thresholds[("champiat2017", "tgr_ratio_min")].value == 0.5
    for (code, name), widget in ex.thresholds.items():
        assert widget.value == ex.result.definitions[code].parameters[name], (code, name)
    expected = hpd.classify(
        cohort, ferrara2018__delta_tgr_min=-5.0, champiat2017__tgr_ratio_min=0.5
    )
    pd.testing.assert_frame_equal(ex.result.table, expected.table)
