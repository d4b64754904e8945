"""The registry of HPD definitions: each rule at and around its thresholds, three-valued logic,
user definitions (Python and YAML), overrides and the CLI listing."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import NINE

from hpd_analysis.classification import add_rule_features
from hpd_analysis.definitions import (
    REGISTRY,
    Definition,
    describe_definitions,
    evaluate_definition,
    evaluate_definitions,
    get_definitions,
    load_definitions_yaml,
    register,
    resolve_definitions,
)
from hpd_analysis.errors import ParameterError
from hpd_analysis.kinetics import compute_kinetics
from hpd_analysis.params import Parameters

START = pd.Timestamp("2020-06-01")


def patient(**over) -> dict:
    """A hand-made patient: the spec's worked example (SLD 67 → 98 → 171 mm) by default.

    Pre-baseline 60 days before baseline (= treatment start), first evaluation on day 49.
    """
    row = {
        "patient_id": "P1",
        "treatment_start": START,
        "prebaseline_date": START - pd.Timedelta(days=60),
        "baseline_date": START,
        "first_eval_date": START + pd.Timedelta(days=49),
        "prebaseline_reason": None,
        "baseline_reason": None,
        "first_eval_reason": None,
        "sld_prebaseline_mm": 67.0,
        "sld_baseline_mm": 98.0,
        "sld_first_eval_mm": 171.0,
        "days_pre_to_baseline": 60.0,
        "days_baseline_to_first_eval": 49.0,
        "first_eval_day": 49.0,
        "sld_change_first_eval_mm": 73.0,
        "sld_pct_change_first_eval": 100 * 73 / 98,
        "recist_first_eval": "PD",
        "recist_first_eval_reason": "target PD",
        "non_target_pd_first_eval": False,
        "new_lesions_first_eval": 0,
        "new_organs_first_eval": 0,
        "max_new_lesions_in_involved_organ_first_eval": 0,
        "n_organs_with_new_lesions_first_eval": 0.0,
        "n_post_baseline_scans": 2,
        "ttf_months": 1.5,
        "ttf_event": 1,
        "os_months": 3.0,
        "os_event": 1,
        "death_day": np.nan,
        "ecog_baseline": 1,
        "ecog_first_eval": 1,
    }
    row.update({k: v for k, v in over.items() if not k.startswith("set_")})
    return row


def features(*rows: dict, params: Parameters | None = None, **set_cols) -> pd.DataFrame:
    """Feature table of hand-made patients (rule features + kinetics computed); ``set_cols``
    overwrite computed columns afterwards, e.g. ``tgr_ratio=[2.0]``."""
    rows = rows or (patient(),)
    df = pd.DataFrame(list(rows))
    for c in ("ttf_event", "os_event", "ecog_baseline", "ecog_first_eval"):
        df[c] = pd.array(df[c], dtype="Int64")
    f = compute_kinetics(add_rule_features(df, params=params), params)
    for c, v in set_cols.items():
        f[c] = v
    return f


def verdict(defn: str | Definition, f: pd.DataFrame, i: int = 0) -> tuple[object, str, str]:
    d = REGISTRY[defn] if isinstance(defn, str) else defn
    out = evaluate_definition(f, d)
    col = f"hpd_{d.code}"
    v = out[col].iloc[i]
    return (
        (None if pd.isna(v) else bool(v)),
        out[f"{col}_status"].iloc[i],
        out[f"{col}_reason"].iloc[i],
    )


# ------------------------------------------------------------------------------ the registry


def test_registry_holds_the_nine_published_definitions():
    assert [c for c in REGISTRY if c in NINE] == NINE
    for code in NINE:
        d = REGISTRY[code]
        assert d.citation and d.rule and d.parameters is not None
        assert d.code == code


def test_worked_example_is_hpd_by_the_four_kinetic_definitions():
    # spec: 144 days pre-baseline → baseline (outside kim2019's 12-week reference period)
    f = features(
        patient(prebaseline_date=START - pd.Timedelta(days=144), days_pre_to_baseline=144.0)
    )
    for code in ("champiat2017", "ferrara2018", "kas2020", "saada_bouzid2017"):
        assert verdict(code, f)[0] is True, code
    assert verdict("champiat2017", f)[2] == "HPD: RECIST PD at first evaluation; TGR ratio ≥ 2"
    v, status, reason = verdict("kim2019", f)
    assert v is None and status == "not_evaluable" and "reference period" in reason


# --------------------------------------------------------------------------- champiat2017


@pytest.mark.parametrize("ratio, expected", [(2.0, True), (1.999999, False), (5.0, True)])
def test_champiat_ratio_at_threshold(ratio, expected):
    f = features(tgr_ratio=[ratio])
    v, status, reason = verdict("champiat2017", f)
    assert v is expected
    assert status == ("hpd" if expected else "not_hpd")
    if not expected:
        assert reason == "not HPD: TGR ratio < 2"


def test_champiat_needs_recist_pd_and_prebaseline():
    assert (
        verdict("champiat2017", features(patient(recist_first_eval="SD")))[2]
        == "not HPD: no RECIST PD at first evaluation"
    )
    f = features(
        patient(
            prebaseline_date=pd.NaT,
            sld_prebaseline_mm=np.nan,
            days_pre_to_baseline=np.nan,
            prebaseline_reason="no scan 1-183 days before baseline",
        )
    )
    assert verdict("champiat2017", f) == (
        None,
        "not_evaluable",
        "not evaluable: no scan 1-183 days before baseline",
    )
    f = features(patient(recist_first_eval="NE", recist_first_eval_reason="target lesion NE"))
    assert verdict("champiat2017", f) == (None, "not_evaluable", "not evaluable: target lesion NE")


def test_champiat_negative_pre_growth_is_not_evaluable_by_default():
    f = features(patient(sld_prebaseline_mm=120.0, sld_first_eval_mm=90.0))
    v, status, reason = verdict("champiat2017", f)
    assert v is None and reason.startswith("not evaluable: TGR_pre < 0")
    f = features(
        patient(sld_prebaseline_mm=120.0, sld_first_eval_mm=50.0, recist_first_eval="PR"),
        params=Parameters(nonpositive_pre_growth="ratio"),
    )
    assert f.tgr_ratio[0] > 2  # ratio of two negatives reads as "≥ 2" while shrinking faster
    assert verdict("champiat2017", f)[2] == "not HPD: no RECIST PD at first evaluation"


# ------------------------------------------------------------------------ saada_bouzid2017


@pytest.mark.parametrize("ratio, expected", [(2.0, True), (1.99, False)])
def test_saada_bouzid_tgk_ratio(ratio, expected):
    f = features(patient(recist_first_eval="SD"), tgk_ratio=[ratio])
    assert verdict("saada_bouzid2017", f)[0] is expected  # no RECIST PD requirement


# ------------------------------------------------------------------ ferrara2018 / kas2020


@pytest.mark.parametrize("code, at", [("ferrara2018", 50.0), ("kas2020", 100.0)])
def test_delta_tgr_is_strictly_greater(code, at):
    assert verdict(code, features(delta_tgr=[at])) == (False, "not_hpd", f"not HPD: ΔTGR ≤ {at:g}")
    assert verdict(code, features(delta_tgr=[at + 1e-9]))[0] is True
    assert verdict(code, features(patient(recist_first_eval="SD"), delta_tgr=[at + 10]))[0] is False


# ------------------------------------------------------------------------------- kato2017


def test_kato_thresholds_are_strict():
    base = {"tgk_ratio": [3.0], "sld_pct_change_first_eval": [60.0]}
    assert verdict("kato2017", features(**base))[0] is True
    assert (
        verdict("kato2017", features(patient(ttf_months=2.0), **base))[2]
        == "not HPD: TTF ≥ 2 months"
    )
    assert (
        verdict("kato2017", features(tgk_ratio=[3.0], sld_pct_change_first_eval=[50.0]))[2]
        == "not HPD: SLD change baseline → first evaluation ≤ 50 %"
    )
    assert (
        verdict("kato2017", features(tgk_ratio=[2.0], sld_pct_change_first_eval=[60.0]))[2]
        == "not HPD: TGK ratio ≤ 2"
    )


def test_kato_ttf_is_censoring_aware():
    base = {"tgk_ratio": [3.0], "sld_pct_change_first_eval": [60.0]}
    v, status, reason = verdict("kato2017", features(patient(ttf_event=0, ttf_months=1.5), **base))
    assert v is None and "TTF censored" in reason
    assert verdict("kato2017", features(patient(ttf_event=0, ttf_months=3.0), **base))[0] is False


def test_kato_pace_parameter_switches_to_tgr():
    d = REGISTRY["kato2017"].with_parameters(pace="tgr")
    f = features(tgk_ratio=[1.0], tgr_ratio=[3.0], sld_pct_change_first_eval=[60.0])
    assert verdict(d, f)[0] is True
    assert verdict("kato2017", f)[0] is False
    with pytest.raises(ParameterError, match="pace"):
        Definition(
            **{
                **REGISTRY["kato2017"].__dict__,
                "parameters": {**REGISTRY["kato2017"].parameters, "pace": "speed"},
            }
        )


# --------------------------------------------------------------------------- lo_russo2019


def lo_russo_patient(n_criteria: int, **over) -> dict:
    """PD patient meeting the first ``n_criteria`` of Lo Russo's five."""
    crit = [
        {"ttf_months": 1.0},
        {"sld_pct_change_first_eval": 50.0},
        {"max_new_lesions_in_involved_organ_first_eval": 2},
        {"new_organs_first_eval": 1},
        {"ecog_baseline": 0, "ecog_first_eval": 2},
    ]
    row = patient(ttf_months=6.0, sld_pct_change_first_eval=30.0)
    for c in crit[:n_criteria]:
        row.update(c)
    row.update(over)
    return row


def test_lo_russo_three_of_five():
    f = features(lo_russo_patient(3), lo_russo_patient(2), lo_russo_patient(5))
    assert [verdict("lo_russo2019", f, i)[0] for i in range(3)] == [True, False, True]
    assert verdict("lo_russo2019", f, 0)[2] == (
        "HPD: RECIST PD at first evaluation; 3 of 5 criteria (TTF < 2 months; "
        "SLD change baseline → first evaluation ≥ 50 %; "
        "new lesions in an already involved organ ≥ 2)"
    )
    assert verdict("lo_russo2019", f, 1)[2].startswith("not HPD: 2 of 5 criteria, 3 needed")


def test_lo_russo_recist_pd_parameter():
    f = features(lo_russo_patient(3, recist_first_eval="SD"))
    assert verdict("lo_russo2019", f)[0] is False
    d = get_definitions(["lo_russo2019"], {"lo_russo2019": {"require_recist_pd": False}})[0]
    assert verdict(d, f)[0] is True


def test_lo_russo_unknown_criteria_make_it_not_evaluable_only_when_decisive():
    # 2 true + ECOG unknown: could reach 3 -> not evaluable
    f = features(lo_russo_patient(2, ecog_first_eval=None))
    v, status, reason = verdict("lo_russo2019", f)
    assert v is None and "ECOG at first evaluation not recorded" in reason
    # 3 true + ECOG unknown: HPD anyway
    assert verdict("lo_russo2019", features(lo_russo_patient(3, ecog_first_eval=None)))[0] is True
    # 0 true + only ECOG unknown: cannot reach 3 -> not HPD
    assert verdict("lo_russo2019", features(lo_russo_patient(0, ecog_first_eval=None)))[0] is False


@pytest.mark.parametrize(
    "eb, ef, delta_rule, reaches_rule",
    [
        (1, 3, True, True),  # +2 points, reaches 3
        (0, 2, True, True),  # +2 points, reaches 2
        (1, 2, False, True),  # +1 point only, but reaches 2
        (2, 2, False, False),  # already 2, not worse
        (0, 1, False, False),
    ],
)
def test_lo_russo_both_ecog_rules(eb, ef, delta_rule, reaches_rule):
    # two other criteria hold, so the ECOG criterion decides
    f = features(lo_russo_patient(2, ecog_baseline=eb, ecog_first_eval=ef))
    assert verdict("lo_russo2019", f)[0] is delta_rule
    d = REGISTRY["lo_russo2019"].with_parameters(ecog_rule="reaches_ge_2")
    assert verdict(d, f)[0] is reaches_rule


# -------------------------------------------------------------------------------- kim2019


def test_kim_both_ratios_at_threshold():
    assert verdict("kim2019", features(tgr_ratio=[2.0], tgk_ratio=[2.0]))[0] is True
    assert (
        verdict("kim2019", features(tgr_ratio=[2.0], tgk_ratio=[1.99]))[2]
        == "not HPD: TGK ratio < 2"
    )
    # no RECIST requirement
    assert verdict("kim2019", features(patient(recist_first_eval="SD")))[0] is True


@pytest.mark.parametrize(
    "pre_days, fe_day, evaluable", [(84, 84, True), (85, 49, False), (60, 85, False)]
)
def test_kim_twelve_week_periods(pre_days, fe_day, evaluable):
    f = features(
        patient(
            prebaseline_date=START - pd.Timedelta(days=pre_days),
            days_pre_to_baseline=float(pre_days),
            first_eval_date=START + pd.Timedelta(days=fe_day),
            first_eval_day=float(fe_day),
            days_baseline_to_first_eval=float(fe_day),
        )
    )
    v, status, reason = verdict("kim2019", f)
    assert (status != "not_evaluable") is evaluable
    if not evaluable:
        assert "outside kim2019" in reason


# ------------------------------------------------------------------------------ matos2020


@pytest.mark.parametrize(
    "pct, organs, day, expected",
    [
        (40.0, 0, 56, True),
        (39.9, 0, 56, False),
        (39.9, 2, 56, True),  # ≥ 20 % plus new lesions in 2 organs
        (39.9, 1, 56, False),
        (19.9, 2, 56, False),
        (40.0, 0, 57, False),  # first evaluation after 8 weeks
    ],
)
def test_matos_rule(pct, organs, day, expected):
    f = features(
        patient(first_eval_day=float(day)),
        sld_pct_change_first_eval=[pct],
        n_organs_with_new_lesions_first_eval=[float(organs)],
    )
    assert verdict("matos2020", f)[0] is expected


def test_matos_optional_abstract_criteria():
    f = features(sld_pct_change_first_eval=[45.0], sld_change_first_eval_mm=[9.0])
    assert verdict("matos2020", f)[0] is True
    d = REGISTRY["matos2020"].with_parameters(require_abs_increase=True)
    assert verdict(d, f)[2] == "not HPD: SLD change baseline → first evaluation < 10 mm"
    d = REGISTRY["matos2020"].with_parameters(require_ttf=True)
    assert verdict(d, features(patient(ttf_months=2.5)))[0] is False


def test_matos_organs_unknown_only_matters_between_20_and_40():
    rows = [patient(patient_id=p) for p in "ABC"]
    f = features(
        *rows,
        sld_pct_change_first_eval=[30.0, 45.0, 10.0],
        n_organs_with_new_lesions_first_eval=[np.nan] * 3,
        n_organs_with_new_lesions_first_eval_reason=["no organ data"] * 3,
    )
    assert [verdict("matos2020", f, i)[0] for i in range(3)] == [None, True, False]
    assert verdict("matos2020", f, 0)[2] == "not evaluable: no organ data"


# ------------------------------------------------------------------------- gandara2018_fp


def no_scan(death_day: float | None, **over) -> dict:
    return patient(
        first_eval_date=pd.NaT,
        first_eval_day=np.nan,
        sld_first_eval_mm=np.nan,
        days_baseline_to_first_eval=np.nan,
        sld_change_first_eval_mm=np.nan,
        sld_pct_change_first_eval=np.nan,
        recist_first_eval="NE",
        n_post_baseline_scans=0,
        death_day=death_day,
        first_eval_reason="died before first evaluation",
        **over,
    )


def test_gandara_death_day_84_vs_85():
    f = features(no_scan(84.0), no_scan(85.0, patient_id="P2"))
    assert verdict("gandara2018_fp", f, 0) == (
        True,
        "hpd",
        "HPD: no post-baseline scan; death by day 84; death from progression",
    )
    # no scan and no death by day 84: not fast progression (OAK counted all treated patients)
    assert verdict("gandara2018_fp", f, 1)[:2] == (False, "not_hpd")


def test_gandara_death_without_cause_parameter_and_cause_column():
    f = features(no_scan(60.0), params=Parameters(death_without_cause_is_progression=False))
    assert verdict("gandara2018_fp", f)[0] is False  # a death not from progression
    df = pd.DataFrame([no_scan(60.0), no_scan(60.0, patient_id="P2")])
    pts = pd.DataFrame(
        {"patient_id": ["P1", "P2"], "death_cause": ["cardiac arrest", "disease progression"]}
    )
    f = compute_kinetics(add_rule_features(df, pts))
    assert f.death_from_progression.tolist() == [False, True]
    assert verdict("gandara2018_fp", f, 1)[0] is True


@pytest.mark.parametrize(
    "pct, day, expected", [(50.0, 42, True), (49.9, 42, False), (50.0, 43, False)]
)
def test_gandara_sld_rise_at_first_assessment(pct, day, expected):
    f = features(patient(first_eval_day=float(day), sld_pct_change_first_eval=pct))
    assert verdict("gandara2018_fp", f)[0] is expected


# ------------------------------------------------------------------- three-valued logic


def kleene(criteria, **cols):
    d = Definition(code="k", citation="test", rule="test", criteria=criteria)
    f = pd.DataFrame({k: pd.array(v, dtype="Float64") for k, v in cols.items()})
    out = evaluate_definition(f, d)["hpd_k"]
    return [None if pd.isna(x) else bool(x) for x in out]


def test_kleene_all_any_at_least():
    a = [1.0, 1.0, 0.0, None, None, 0.0]
    b = [1.0, 0.0, 0.0, 1.0, 0.0, None]
    assert kleene(["a == 1", "b == 1"], a=a, b=b) == [True, False, False, None, False, False]
    assert kleene({"any": ["a == 1", "b == 1"]}, a=a, b=b) == [True, True, False, True, None, None]
    assert kleene({"at_least": 2, "of": ["a == 1", "b == 1", "a == 1"]}, a=a, b=b) == [
        True,
        True,
        False,
        None,
        None,
        False,
    ]


def test_na_in_an_object_column_compared_with_equals_is_missing():
    """pd.NA in ``recist_first_eval`` (object column) is read as missing, like "NE": not
    evaluable with the column's reason (or the default one), instead of raising."""
    d = Definition(code="pd_only", citation="t", rule="t", criteria=["recist_first_eval == PD"])
    f = pd.DataFrame(
        {
            "recist_first_eval": pd.array(["PD", pd.NA, "SD", "NE"], dtype=object),
            "recist_first_eval_reason": ["target PD", "no first evaluation scan", "SD", "NE"],
        }
    )
    out = evaluate_definition(f, d)
    assert out.hpd_pd_only.tolist() == [True, pd.NA, False, pd.NA]
    assert out.hpd_pd_only_status.tolist() == ["hpd", "not_evaluable", "not_hpd", "not_evaluable"]
    assert out.hpd_pd_only_reason[1] == "not evaluable: no first evaluation scan"
    without_reason = evaluate_definition(f.drop(columns="recist_first_eval_reason"), d)
    assert without_reason.hpd_pd_only_reason[1] == "not evaluable: recist_first_eval missing"


def test_requirement_unmet_is_not_evaluable_whatever_else_holds():
    d = Definition(code="r", citation="t", rule="t", criteria=["x > 0"], requires=("prebaseline",))
    f = pd.DataFrame(
        {
            "x": [5.0, 5.0],
            "prebaseline_date": pd.to_datetime(["2020-01-01", None]),
            "prebaseline_reason": [None, "no pre-baseline scan"],
        }
    )
    out = evaluate_definition(f, d)
    assert out.hpd_r_status.tolist() == ["hpd", "not_evaluable"]
    assert out.hpd_r_reason[1] == "not evaluable: no pre-baseline scan"


# --------------------------------------------------------- user definitions, overrides, YAML


def my_definition() -> Definition:
    return Definition(
        code="my_tgr3",
        citation="Our group, unpublished",
        rule="RECIST PD and TGR ratio ≥ 3",
        parameters={"ratio_min": 3.0},
        requires=("prebaseline",),
        criteria=["recist_first_eval == PD", "tgr_ratio >= {ratio_min}"],
    )


def test_user_definition_reported_exactly_like_published_ones():
    f = features(tgr_ratio=[3.0])
    mine = evaluate_definition(f, my_definition())
    pub = evaluate_definition(f, REGISTRY["champiat2017"])
    assert list(mine.columns) == ["hpd_my_tgr3", "hpd_my_tgr3_reason", "hpd_my_tgr3_status"]
    assert [str(t) for t in mine.dtypes] == [str(t) for t in pub.dtypes]
    assert mine.hpd_my_tgr3_reason[0] == "HPD: RECIST PD at first evaluation; TGR ratio ≥ 3"
    assert describe_definitions([my_definition()]).code.tolist() == ["my_tgr3"]


def test_register_and_replace():
    d = my_definition()
    try:
        register(d)
        assert get_definitions(["my_tgr3"])[0] is d
        with pytest.raises(ParameterError, match="already registered"):
            register(d)
        register(d.with_parameters(ratio_min=4.0), replace=True)
        assert REGISTRY["my_tgr3"].parameters["ratio_min"] == 4.0
    finally:
        REGISTRY.pop("my_tgr3", None)


def test_yaml_definitions(tmp_path):
    path = tmp_path / "defs.yaml"
    path.write_text(
        textwrap.dedent("""
        parameters:
          windows.first_eval_min_days: 21
        definitions:
          - code: my_tgr3
            citation: Our group, unpublished
            rule: RECIST PD and TGR ratio ≥ 3
            parameters: {ratio_min: 3}
            requires: [prebaseline]
            criteria:
              - recist_first_eval == PD
              - tgr_ratio ≥ {ratio_min}
          - code: fast_or_dead
            criteria:
              any:
                - sld_pct_change_first_eval >= 50
                - {criterion: "days_to_death <= 60", label: "death within 60 days"}
        """),
        encoding="utf-8",
    )
    defs = load_definitions_yaml(path)
    assert [d.code for d in defs] == ["my_tgr3", "fast_or_dead"]
    f = features(tgr_ratio=[3.0])
    out = evaluate_definitions(f, defs)
    py = evaluate_definition(f, my_definition())
    pd.testing.assert_series_equal(out.hpd_my_tgr3_reason, py.hpd_my_tgr3_reason)
    assert out.hpd_fast_or_dead[0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("definitions:\n  - code: x\n    criteria: [tgr_ratio >> 2]\n", "tgr_ratio >> 2"),
        ("definitions:\n  - code: x\n    criteria: [tgr_ratio]\n", "cannot read criterion"),
        ("definitions:\n  - code: x\n    criteria: ['tgr_ratio >= {nope}']\n", "unknown parameter"),
        ("definitions:\n  - code: Bad Code\n    criteria: [tgr_ratio >= 2]\n", "definition code"),
        ("definitions:\n  - code: x\n    critera: [tgr_ratio >= 2]\n", "unknown key"),
        ("stuff: 1\n", "unknown top-level"),
        ("definitions: [\n", "not valid YAML"),
    ],
)
def test_bad_yaml_gives_clear_error(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=match):
        load_definitions_yaml(path)


def test_unknown_column_is_a_clear_error():
    d = Definition(code="x", citation="t", rule="t", criteria=["nonexistent >= 2"])
    with pytest.raises(ParameterError, match="nonexistent"):
        evaluate_definition(features(), d)


def test_overrides():
    d = get_definitions(["champiat2017"], {"champiat2017": {"tgr_ratio_min": 10}})[0]
    assert verdict(d, features())[2] == "not HPD: TGR ratio < 10"
    assert REGISTRY["champiat2017"].parameters["tgr_ratio_min"] == 2.0  # registry untouched
    with pytest.raises(ParameterError, match="valid: tgr_ratio_min"):
        get_definitions(overrides={"champiat2017": {"ratio": 3}})
    with pytest.raises(ParameterError, match="unknown definition"):
        get_definitions(["champiat"])
    with pytest.raises(ParameterError, match="expected a bool"):
        REGISTRY["lo_russo2019"].with_parameters(require_recist_pd="yes")


def test_describe_definitions_and_cli_lists_all_nine(capsys):
    table = describe_definitions(get_definitions())
    assert table.code.tolist()[:9] == NINE
    assert {"code", "citation", "rule", "parameters", "requires"} <= set(table.columns)
    from hpd_analysis.cli import main

    assert main(["definitions", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    listed = pd.read_csv(__import__("io").StringIO(out)).code.tolist()
    assert all(code in listed for code in NINE)
    assert main(["definitions"]) == 0
    text = capsys.readouterr().out
    assert "Champiat" in text and "kas2020" in text


def test_many_patients_few_unique_reasons():
    # 10 000 patients spread over a handful of states: verdicts computed per state
    rng = np.random.default_rng(0)
    n = 10_000
    f = features(*[patient(patient_id=f"P{i}") for i in range(3)])
    f = f.iloc[np.zeros(n, dtype=int)].reset_index(drop=True)
    f["patient_id"] = [f"P{i}" for i in range(n)]
    f["tgr_ratio"] = rng.uniform(0, 4, n)
    out = evaluate_definition(f, REGISTRY["champiat2017"])
    assert (out.hpd_champiat2017.astype(bool) == (f.tgr_ratio >= 2)).all()
    assert out.hpd_champiat2017_reason.nunique() == 2


def test_yaml_example_of_the_docs_parses_and_evaluates():
    import re
    from pathlib import Path

    import yaml

    from hpd_analysis.definitions import definition_from_dict

    doc = Path(__file__).resolve().parents[1] / "docs" / "definitions.md"
    block = re.search(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S).group(1)
    defs = [definition_from_dict(x) for x in yaml.safe_load(block)["definitions"]]
    out = evaluate_definitions(features(tgr_ratio=[3.0]), defs)
    assert out.hpd_our_tgr3_reason[0] == "HPD: RECIST PD at first evaluation; TGR ratio ≥ 3"


def test_non_target_only_patient_is_not_evaluable_under_sld_definitions():
    """RECIST-based HPD studies enrolled measurable disease: no baseline target SLD -> not evaluable."""
    import pandas as pd

    from hpd_analysis.classification import classify_table
    from hpd_analysis.cohort import Cohort

    patients = pd.DataFrame(
        {"patient_id": ["NT1"], "treatment_start": pd.to_datetime(["2020-03-01"])}
    )
    dates = pd.to_datetime(["2019-12-01", "2020-02-25", "2020-04-15"])
    lesions = pd.DataFrame(
        {
            "patient_id": ["NT1"] * 3,
            "assessment_date": dates,
            "lesion_id": ["NT-A"] * 3,
            "lesion_type": ["non_target"] * 3,
            "organ": ["bone"] * 3,
            "diameter_mm": [float("nan")] * 3,
            "status": ["present"] * 3,
            "is_lymph_node": [False] * 3,
            "not_evaluable": [False] * 3,
        }
    )
    out = classify_table(Cohort(patients=patients, lesions=lesions)).iloc[0]
    assert out["recist_first_eval"] == "NON-CR/NON-PD"
    for code in [
        "champiat2017",
        "saada_bouzid2017",
        "ferrara2018",
        "kato2017",
        "lo_russo2019",
        "kim2019",
        "matos2020",
        "kas2020",
    ]:
        assert out[f"hpd_{code}_status"] == "not_evaluable", code
        assert "measurable" in out[f"hpd_{code}_reason"] or "target" in out[f"hpd_{code}_reason"], (
            code,
            out[f"hpd_{code}_reason"],
        )


def test_censored_ttf_reason_states_the_side_it_was_censored_on():
    """TTF censored at 1.1 months: 'TTF < 2 months' is unknown, and the reason must say the
    censoring happened below 2 months (not '≥ 2')."""
    import pandas as pd

    from hpd_analysis.classification import classify_table
    from hpd_analysis.cohort import Cohort

    start = pd.Timestamp("2020-03-01")
    patients = pd.DataFrame(
        {
            "patient_id": ["C1"],
            "treatment_start": [start],
            "last_contact": [start + pd.Timedelta(days=35)],
        }
    )
    days = [-120, -5, 30]
    lesions = pd.DataFrame(
        {
            "patient_id": ["C1"] * 3,
            "assessment_date": [start + pd.Timedelta(days=d) for d in days],
            "lesion_id": ["T1"] * 3,
            "lesion_type": ["target"] * 3,
            "organ": ["liver"] * 3,
            "diameter_mm": [30.0, 40.0, 80.0],
            "status": [None] * 3,
            "is_lymph_node": [False] * 3,
            "not_evaluable": [False] * 3,
        }
    )
    out = classify_table(Cohort(patients=patients, lesions=lesions)).iloc[0]
    assert out["hpd_kato2017_status"] == "not_evaluable"
    assert "TTF censored at < 2 months" in out["hpd_kato2017_reason"]


@pytest.mark.parametrize("code", ["kim2019", "saada_bouzid2017"])
def test_require_recist_pd_option_for_kim_and_saada_bouzid(code):
    """Both ratios >= 2 by hand (worked example: TGR ratio 6.68, TGK ratio 6.92 over 60 / 49
    days) but RECIST SD (set by hand): HPD by default (the spec's rules), not HPD with
    require_recist_pd (Kim as in the seed review's Table 2)."""
    f = features(patient(), recist_first_eval=["SD"])
    assert verdict(code, f)[:2] == (True, "hpd")
    strict = REGISTRY[code].with_parameters(require_recist_pd=True)
    v, status, reason = verdict(strict, f)
    assert (v, status) == (False, "not_hpd")
    assert "no RECIST PD at first evaluation" in reason
    f = features(patient())  # PD: HPD either way
    assert verdict(strict, f)[0] is True


def test_resolve_definitions_codes_objects_file_and_overrides(tmp_path):
    """One resolver for the classifier and the report: codes and objects in the order given
    (a code twice counts once), overrides on registered codes, file definitions after them."""
    path = tmp_path / "defs.yaml"
    path.write_text(
        textwrap.dedent("""\
        definitions:
          - code: ours_a
            citation: test
            rule: fast
            criteria: [tgr_on >= 100]
          - code: ours_b
            citation: test
            rule: faster
            criteria: [tgr_on >= 200]
        """),
        encoding="utf-8",
    )
    mine = Definition(code="mine", citation="test", rule="r", criteria=["tgr_on >= 50"])
    got = resolve_definitions(
        ["ours_b", "kas2020", mine, "ferrara2018", "kas2020"],
        path,
        {"kas2020": {"delta_tgr_min": 75}},
    )
    assert [d.code for d in got] == ["kas2020", "mine", "ferrara2018", "ours_b"]
    assert got[0].parameters["delta_tgr_min"] == 75 and got[1] is mine
    assert [d.code for d in resolve_definitions("kas2020")] == ["kas2020"]
    everything = [d.code for d in resolve_definitions(None, path)]
    assert everything == [*REGISTRY, "ours_a", "ours_b"]
    with pytest.raises(ParameterError, match="unknown definition"):
        resolve_definitions(["nope"])
    with pytest.raises(ParameterError, match="expected a code or a Definition"):
        resolve_definitions([3])


def test_criteria_reading_names_the_criteria_on_given_columns():
    # the registry answers "does this rule read the endpoint?" (survival's tautology caveat)
    assert REGISTRY["kato2017"].criteria_reading(["ttf_months"]) == ["TTF < 2 months"]
    assert REGISTRY["ferrara2018"].criteria_reading(["ttf_months", "os_months"]) == []
    gandara = REGISTRY["gandara2018_fp"].criteria_reading(["days_to_death", "os_months"])
    assert gandara and all(isinstance(label, str) for label in gandara)
    # requirements count too (kim2019's first evaluation window reads first_eval_day)
    assert REGISTRY["kim2019"].criteria_reading(["first_eval_day"])
