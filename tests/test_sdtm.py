"""SDTM import: tiny hand-made domains at the edges of each rule, then the pharmaverse reference.

The hand-made tests run everywhere. Tests marked ``external`` read
``/work/shared/data/external`` (``../shared/data/external`` from the repository root) and skip
when it is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.errors import CohortError, HPDError
from hpd_analysis.params import DAYS_PER_MONTH
from hpd_analysis.sdtm import ImportReport, find_domain, import_sdtm, import_sdtm_dir

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
#: the project's shared data folder when present, else the copies bundled in the package (every
#: set but OAK/POPLAR, which is not redistributable: its tests skip without the shared folder)
EXTERNAL = (
    SHARED if SHARED.is_dir() else Path(__file__).resolve().parents[1] / "hpd_analysis" / "data"
)
SDTM = EXTERNAL / "pharmaversesdtm"
ADAM = EXTERNAL / "pharmaverseadam"
needs_external = pytest.mark.skipif(
    not SDTM.is_dir() or not ADAM.is_dir(), reason=f"external data folder absent: {EXTERNAL}"
)

# --------------------------------------------------------------------------- hand-made SDTM

DM = pd.DataFrame(
    {
        "STUDYID": "S1",
        "DOMAIN": "DM",
        "USUBJID": ["P1", "P2", "SF1"],
        "RFXSTDTC": ["2020-01-10", "2020-02-01", ""],
        "RFXENDTC": ["2020-06-01", "2020-03-15", ""],
        "RFPENDTC": ["2020-07-01T10:00", "2020-04-01", "2020-01-05"],
        "DTHDTC": ["", "2020-04-01", ""],
        "AGE": ["61", "70", "55"],
        "SEX": ["F", "M", "M"],
        "ARM": ["Drug", "Drug", "Screen Failure"],
        "ACTARM": ["Drug", "Drug", ""],
    }
)

TU = pd.DataFrame(
    {
        "USUBJID": ["P1"] * 6 + ["P2", "P1"],
        "TULNKID": ["T01", "T02", "NT01", "T01", "T02", "NT01", "T01", "NEW03"],
        "TUSTRESC": ["TARGET", "TARGET", "NON-TARGET"] * 2 + ["TARGET", "NEW"],
        "TULOC": ["LIVER", "LYMPH NODE", "BONE"] * 2 + ["LUNG", "LIVER"],
        "TUEVAL": ["INVESTIGATOR"] * 3 + ["INDEPENDENT ASSESSOR"] * 3 + ["INVESTIGATOR"] * 2,
        "TUEVALID": [""] * 3 + ["RADIOLOGIST 1"] * 3 + ["", ""],
        "TUDTC": ["2020-01-08"] * 6 + ["2020-01-30", "2020-04"],
    }
)


def _tr_rows() -> pd.DataFrame:
    rows = []

    def add(subj, lnk, grp, test, res, unit, visitnum, dtc, ev, evid="", acc="", stat=""):
        num = res if isinstance(res, (int, float)) else ""
        rows.append(
            {
                "USUBJID": subj,
                "TRLNKID": lnk,
                "TRGRPID": grp,
                "TRTESTCD": test,
                "TRORRES": str(res),
                "TRSTRESC": str(res),
                "TRSTRESN": num,
                "TRSTRESU": unit,
                "TRSTAT": stat,
                "VISITNUM": visitnum,
                "VISIT": {1: "BASELINE", 2: "WEEK 6", 3: "WEEK 12"}[visitnum],
                "TRDTC": dtc,
                "TREVAL": ev,
                "TREVALID": evid,
                "TRACPTFL": acc,
            }
        )

    # P1 baseline: investigator only (no accepted flag) -> investigator fallback
    add("P1", "T01", "TARGET", "LDIAM", 30, "mm", 1, "2020-01-08", "INVESTIGATOR")
    add("P1", "T01", "TARGET", "LPERP", 20, "mm", 1, "2020-01-08", "INVESTIGATOR")
    add("P1", "T02", "TARGET", "LDIAM", 25, "mm", 1, "2020-01-08", "INVESTIGATOR")
    add("P1", "T02", "TARGET", "LPERP", 15, "mm", 1, "2020-01-08", "INVESTIGATOR")
    add("P1", "NT01", "NON-TARGET", "TUMSTATE", "PRESENT", "", 1, "2020-01-08", "INVESTIGATOR")
    # P1 week 6: investigator and radiologist 1; radiologist 1 accepted; T01 in cm
    add("P1", "T01", "TARGET", "LDIAM", 28, "mm", 2, "2020-02-21", "INVESTIGATOR")
    add("P1", "T02", "TARGET", "LPERP", 14, "mm", 2, "2020-02-21", "INVESTIGATOR")
    add("P1", "NT01", "NON-TARGET", "TUMSTATE", "PRESENT", "", 2, "2020-02-21", "INVESTIGATOR")
    add(
        "P1",
        "T01",
        "TARGET",
        "LDIAM",
        2.6,
        "cm",
        2,
        "2020-02-21",
        "INDEPENDENT ASSESSOR",
        "RADIOLOGIST 1",
        "Y",
    )
    add(
        "P1",
        "T02",
        "TARGET",
        "LDIAM",
        19,
        "mm",
        2,
        "2020-02-21",
        "INDEPENDENT ASSESSOR",
        "RADIOLOGIST 1",
        "Y",
    )
    add(
        "P1",
        "T02",
        "TARGET",
        "LPERP",
        12,
        "mm",
        2,
        "2020-02-21",
        "INDEPENDENT ASSESSOR",
        "RADIOLOGIST 1",
        "Y",
    )
    add(
        "P1",
        "NT01",
        "NON-TARGET",
        "TUMSTATE",
        "UNEQUIVOCAL",
        "",
        2,
        "2020-02-21",
        "INDEPENDENT ASSESSOR",
        "RADIOLOGIST 1",
        "Y",
    )
    # P1 week 12 (partial date): T02 not measured at all, T01 not done; a new lesion
    add("P1", "T01", "TARGET", "LDIAM", "", "", 3, "2020-04", "INVESTIGATOR", stat="NOT DONE")
    add("P1", "NT01", "NON-TARGET", "TUMSTATE", "ABSENT", "", 3, "2020-04", "INVESTIGATOR")
    add("P1", "NEW01", "NEW", "TUMSTATE", "UNEQUIVOCAL", "", 3, "2020-04", "INVESTIGATOR")
    add("P1", "NEW02", "NEW", "TUMSTATE", "EQUIVOCAL", "", 3, "2020-04", "INVESTIGATOR")
    # P2: one target, text code
    add("P2", "T01", "TARGET", "LDIAM", 40, "mm", 1, "2020-01-30", "INVESTIGATOR")
    add("P2", "T01", "TARGET", "LDIAM", "TOO SMALL TO MEASURE", "", 2, "2020-03-13", "INVESTIGATOR")
    # a summary row without TRLNKID is not a lesion
    add("P2", "", "TARGET", "SUMDIAM", 40, "mm", 1, "2020-01-30", "INVESTIGATOR")
    return pd.DataFrame(rows)


RS = pd.DataFrame(
    {
        "USUBJID": ["P1", "P1", "P1", "P2"],
        "RSTESTCD": ["OVRLRESP"] * 4,
        "RSSTRESC": ["PD", "SD", "PD", "CR"],
        "RSEVAL": ["INDEPENDENT ASSESSOR", "INVESTIGATOR", "INVESTIGATOR", "INVESTIGATOR"],
        "RSEVALID": ["RADIOLOGIST 1", "", "", ""],
        "RSACPTFL": ["Y", "", "", ""],
        "VISITNUM": [2, 2, 3, 2],
        "RSDTC": ["2020-02-21", "2020-02-21", "2020-04-02", "2020-03-13"],
    }
)


def write_sdtm(
    folder: Path, fmt: str = "csv", *, drop: tuple[str, ...] = (), tr: pd.DataFrame | None = None
) -> Path:
    """Write the hand-made domains as ``dm``, ``tu``, ``tr``, ``rs`` in ``fmt`` (csv or xpt)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"dm": DM, "tu": TU, "tr": _tr_rows() if tr is None else tr, "rs": RS}
    for name, df in tables.items():
        if name in drop:
            continue
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            import pyreadstat

            out = df.copy()
            for c in out.columns:
                if c in ("TRSTRESN", "VISITNUM"):
                    out[c] = pd.to_numeric(out[c], errors="coerce")
                else:
                    out[c] = out[c].astype(str)
            pyreadstat.write_xport(out, str(folder / f"{name}.xpt"), table_name=name.upper())
    return folder


@pytest.fixture(scope="module")
def sdtm_csv(tmp_path_factory) -> Path:
    return write_sdtm(tmp_path_factory.mktemp("sdtm"))


@pytest.fixture(scope="module")
def tiny(sdtm_csv) -> dict[str, pd.DataFrame]:
    """The hand-made SDTM imported with the default options (shared, read-only)."""
    return import_sdtm(sdtm_csv)


def _rep(tables, action, file=None) -> int:
    """Rows counted under ``action`` in the import report (optionally for one file)."""
    r = tables["report"]
    r = r[(r["action"] == action) & ((r["file"] == file) if file else True)]
    return int(r["n_rows"].sum())


def _les(tables, pid, lid, date):
    les = tables["lesions"]
    row = les[
        (les.patient_id == pid)
        & (les.lesion_id == lid)
        & (les.assessment_date == pd.Timestamp(date))
    ]
    assert len(row) == 1, f"expected one row for {pid} {lid} {date}, got {len(row)}"
    return row.iloc[0]


def test_accepted_reader_cm_units_and_node_short_axis(tiny):
    t = tiny
    # week 6: radiologist 1 is accepted (TRACPTFL = Y) -> 2.6 cm = 26 mm, not the investigator's 28
    assert _les(t, "P1", "T01", "2020-02-21").diameter_mm == pytest.approx(26.0)
    # lymph node target: short axis LPERP (12 mm), not its LDIAM (19 mm)
    node = _les(t, "P1", "T02", "2020-02-21")
    assert node.diameter_mm == pytest.approx(12.0) and bool(node.lymph_node)
    assert _les(t, "P1", "NT01", "2020-02-21").status == "unequivocal_progression"
    # baseline: no accepted flag at that visit -> investigator; nodal short axis 15, liver LDIAM 30
    assert _les(t, "P1", "T02", "2020-01-08").diameter_mm == pytest.approx(15.0)
    assert _les(t, "P1", "T01", "2020-01-08").diameter_mm == pytest.approx(30.0)
    assert not bool(_les(t, "P1", "T01", "2020-01-08").lymph_node)
    assert _rep(t, "converted_to_mm") == 1
    assert _rep(t, "reader_accepted_flag", "tr.csv") == 4  # the accepted TR records of week 6


def test_one_row_per_lesion_and_scan(tiny):
    les = tiny["lesions"]
    assert not les.duplicated(["patient_id", "assessment_date", "lesion_id"]).any()
    assert les["lesion_type"].isin(["target", "non_target", "new"]).all()
    assert list(les.sort_values(["patient_id", "assessment_date", "lesion_id"]).index) == list(
        les.index
    )


def test_reader_investigator_and_named_reader(sdtm_csv):
    inv = import_sdtm(sdtm_csv, reader="investigator")
    assert _les(inv, "P1", "T01", "2020-02-21").diameter_mm == pytest.approx(28.0)
    assert _les(inv, "P1", "NT01", "2020-02-21").status == "present"
    rad = import_sdtm(sdtm_csv, reader="RADIOLOGIST 1")
    assert set(rad["lesions"]["assessment_date"].dt.strftime("%Y-%m-%d")) == {"2020-02-21"}
    with pytest.raises(HPDError, match="no records of reader 'RADIOLOGIST 9'"):
        import_sdtm(sdtm_csv, reader="RADIOLOGIST 9")


def test_missing_and_not_done_targets_are_explicit_not_evaluable(tiny):
    t = tiny
    # week 12 (TRDTC 2020-04, imputed to the 1st): T01 NOT DONE, T02 without any record
    t01 = _les(t, "P1", "T01", "2020-04-01")
    t02 = _les(t, "P1", "T02", "2020-04-01")
    assert np.isnan(t01.diameter_mm) and bool(t01.not_evaluable)
    assert np.isnan(t02.diameter_mm) and bool(t02.not_evaluable)
    assert _rep(t, "missing_target_lesion_added") == 1
    assert _rep(t, "partial_date_imputed", "tr.csv") == 4  # the four week-12 records


def test_new_lesions_equivocal_excluded_by_default(sdtm_csv, tiny):
    t = tiny
    new = t["lesions"][t["lesions"].lesion_type == "new"]
    # NEW01 (TR, UNEQUIVOCAL) and NEW03 (identified in TU only, added at TUDTC); NEW02 equivocal
    assert list(new["lesion_id"]) == ["NEW01", "NEW03"]
    assert (new["status"] == "present").all()
    assert set(new["assessment_date"]) == {pd.Timestamp("2020-04-01")}
    assert new.set_index("lesion_id").loc["NEW03", "organ"] == "LIVER"
    assert _rep(t, "new_lesion_from_tu") == 1 and _rep(t, "equivocal_new_lesion_excluded") == 1
    both = import_sdtm(sdtm_csv, equivocal_new_lesions="include")["lesions"]
    assert set(both.loc[both.lesion_type == "new", "lesion_id"]) == {"NEW01", "NEW02", "NEW03"}


def test_too_small_to_measure_is_5_mm(sdtm_csv, tiny):
    t = tiny
    assert _les(t, "P2", "T01", "2020-03-13").diameter_mm == pytest.approx(5.0)
    assert import_sdtm(sdtm_csv, too_small_mm=3.0)["lesions"].query(
        "patient_id == 'P2'"
    ).diameter_mm.min() == pytest.approx(3.0)


def test_patients_from_dm_screen_failure_reported(tiny):
    t = tiny
    p = t["patients"].set_index("patient_id")
    assert list(p.index) == ["P1", "P2"]  # SF1 has no RFXSTDTC
    rep = t["report"].set_index("action")
    assert rep.loc["subject_not_exposed_dropped", "n_rows"] == 1
    assert "SF1" in rep.loc["subject_not_exposed_dropped", "detail"]
    assert p.loc["P1", "treatment_start"] == pd.Timestamp("2020-01-10")
    assert p.loc["P2", "death_date"] == pd.Timestamp("2020-04-01")
    # last contact: latest of RFPENDTC (time dropped), RFXENDTC and the last assessment
    assert p.loc["P1", "last_contact"] == pd.Timestamp("2020-07-01")
    # progression: first overall PD of the chosen (accepted) reader
    assert p.loc["P1", "progression_date"] == pd.Timestamp("2020-02-21")
    assert p.loc["P1", "age"] == 61 and p.loc["P1", "arm"] == "Drug"
    assert t["responses"]["overall_response"].tolist() == ["PD", "PD", "CR"]


def test_xpt_gives_the_same_tables_as_csv(tmp_path, tiny):
    pytest.importorskip("pyreadstat")
    a = tiny
    b = import_sdtm(write_sdtm(tmp_path / "xpt", fmt="xpt"))
    for k in ("patients", "lesions"):
        pd.testing.assert_frame_equal(a[k].astype(str), b[k].astype(str))


def test_missing_domain_and_variable_errors(tmp_path):
    with pytest.raises(HPDError, match="no TR domain"):
        import_sdtm(write_sdtm(tmp_path / "a", drop=("tr",)))
    with pytest.raises(HPDError, match="no DM domain"):
        import_sdtm(write_sdtm(tmp_path / "b", drop=("dm",)))
    bad = _tr_rows().drop(columns="TRTESTCD")
    with pytest.raises(CohortError) as e:
        import_sdtm(write_sdtm(tmp_path / "c", tr=bad))
    (p,) = e.value.problems
    assert p.file == "tr.csv" and p.column == "TRTESTCD" and "missing" in p.message
    with pytest.raises(HPDError, match="not a folder"):
        import_sdtm(tmp_path / "nope")


def test_conflicting_readings_of_one_reader_are_an_error(tmp_path):
    tr = _tr_rows()
    extra = tr.iloc[[0]].assign(TRSTRESN=31, TRSTRESC="31", TRORRES="31")
    with pytest.raises(CohortError) as e:
        import_sdtm(write_sdtm(tmp_path / "s", tr=pd.concat([tr, extra], ignore_index=True)))
    assert e.value.problems[0].column == "TRLNKID"
    assert "several records" in e.value.problems[0].message
    # an identical duplicate is dropped and counted
    t = import_sdtm(write_sdtm(tmp_path / "d", tr=pd.concat([tr, tr.iloc[[0]]])))
    assert _rep(t, "duplicate_record_dropped") == 1


def test_unknown_unit_and_bad_date_are_errors(tmp_path):
    tr = _tr_rows()
    tr.loc[0, "TRSTRESU"] = "inch"
    with pytest.raises(CohortError) as e:
        import_sdtm(write_sdtm(tmp_path / "u", tr=tr))
    assert e.value.problems[0].row == 2 and e.value.problems[0].column == "TRSTRESU"
    tr = _tr_rows()
    tr.loc[3, "TRDTC"] = "08/01/2020"
    with pytest.raises(CohortError) as e:
        import_sdtm(write_sdtm(tmp_path / "d", tr=tr))
    assert e.value.problems[0].row == 5 and e.value.problems[0].column == "TRDTC"


def test_domain_variant_choice(tmp_path):
    for stem in ("tu_onco", "tu_onco_recist", "dm"):
        (tmp_path / f"{stem}.csv").write_text("USUBJID\n")
    (tmp_path / "tu_onco.xpt").write_text("")
    assert find_domain(tmp_path, "tu").name == "tu_onco.csv"  # shortest name, csv before xpt
    assert find_domain(tmp_path, "tu", prefer="recist").name == "tu_onco_recist.csv"
    assert find_domain(tmp_path, "dm", prefer="recist").name == "dm.csv"  # no variant: fallback
    assert find_domain(tmp_path, "tu", prefer={"tu": "tu_onco_recist"}).name == "tu_onco_recist.csv"
    (tmp_path / "tu.csv").write_text("USUBJID\n")
    assert find_domain(tmp_path, "tu").name == "tu.csv"  # the exact name wins
    assert find_domain(tmp_path, "rs", required=False) is None


def test_adtte_cnsr_inverted_and_days_to_months(tmp_path):
    folder = write_sdtm(tmp_path / "s")
    pd.DataFrame(
        {
            "USUBJID": ["P1", "P1", "P2", "P2"],
            "PARAMCD": ["OS", "PFS", "OS", "PFS"],
            "AVAL": [100, 43, 61, 43],
            "CNSR": [1, 0, 0, 2],
            "STARTDT": ["2020-01-10", "2020-01-10", "2020-02-01", "2020-02-01"],
            "ADT": ["2020-04-18", "2020-02-21", "2020-04-01", "2020-03-14"],
            "EVNTDESC": ["Alive", "Disease Progression", "Death", "Last Tumor Assessment"],
        }
    ).to_csv(folder / "adtte.csv", index=False)
    p = import_sdtm(folder)["patients"].set_index("patient_id")
    assert p.loc["P1", "os_event"] == 0 and p.loc["P1", "pfs_event"] == 1
    assert p.loc["P2", "os_event"] == 1 and p.loc["P2", "pfs_event"] == 0  # CNSR 2: censored
    assert p.loc["P1", "os_months"] == pytest.approx(100 / DAYS_PER_MONTH)


def test_adtte_without_unit_and_inconsistent_days_is_an_error(tmp_path):
    folder = write_sdtm(tmp_path / "s")
    pd.DataFrame({"USUBJID": ["P1"], "PARAMCD": ["OS"], "AVAL": [3.2], "CNSR": [0]}).to_csv(
        folder / "adtte.csv", index=False
    )
    with pytest.raises(CohortError, match="AVALU"):
        import_sdtm(folder)


def test_import_sdtm_dir_is_deterministic_and_cli(tmp_path, sdtm_csv):
    from hpd_analysis.cli import main

    a = import_sdtm_dir(sdtm_csv, tmp_path / "a")
    b = import_sdtm_dir(sdtm_csv, tmp_path / "b")
    for f in ("patients.csv", "lesions.csv", "import_report.csv", "rs_responses.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    head = (a / "lesions.csv").read_text().splitlines()[0]
    assert head.startswith("patient_id,assessment_date,lesion_id,lesion_type,organ,diameter_mm")
    assert main(["import-sdtm", str(sdtm_csv), "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "patients.csv").read_bytes() == (a / "patients.csv").read_bytes()
    assert main(["import-sdtm", str(tmp_path / "missing"), "--out", str(tmp_path / "d")]) == 2


def test_imported_cohort_loads(tmp_path, sdtm_csv):
    from hpd_analysis import load

    out = import_sdtm_dir(sdtm_csv, tmp_path / "cohort")
    cohort = load.load_cohort(out)
    assert cohort.n_patients == 2
    les = cohort.lesions
    assert les.loc[les.lesion_id == "T02", "is_lymph_node"].all()
    assert les["not_evaluable"].sum() == 2


# --------------------------------------------------------------------------- pharmaverse


@pytest.fixture(scope="module")
def recist_set():
    """The pharmaverse RECIST set as the admiralonco ADTR template reads it: investigator."""
    return import_sdtm(SDTM, prefer="recist", reader="investigator", adam_dir=ADAM)


@pytest.fixture(scope="module")
def adtr_sdiam():
    ad = pd.read_csv(ADAM / "adtr_onco.csv.gz")
    sd = ad[ad["PARAMCD"] == "SDIAM"].copy()
    sd["ADT"] = pd.to_datetime(sd["ADT"])
    return sd.rename(columns={"USUBJID": "patient_id", "ADT": "assessment_date"})


@pytest.mark.external
@needs_external
def test_pharmaverse_full_set_counts_and_sumdiam():
    dm = pd.read_csv(SDTM / "dm.csv.gz")
    t = import_sdtm(SDTM, diameter_rule="diameter")
    p, les = t["patients"], t["lesions"]
    # every DM subject with an exposure start, no other
    assert len(p) == dm["RFXSTDTC"].notna().sum() == 254
    assert les["patient_id"].nunique() == 254
    assert not les.duplicated(["patient_id", "assessment_date", "lesion_id"]).any()
    # per scan: the same number of target lesions as at baseline (missing ones made explicit)
    tgt = les[les.lesion_type == "target"]
    per_scan = tgt.groupby(["patient_id", "assessment_date"]).size()
    per_patient = tgt.groupby("patient_id")["lesion_id"].nunique()
    assert (per_scan == per_patient.reindex(per_scan.index.get_level_values(0)).to_numpy()).all()
    # with the sponsor's DIAMETER test, the sums equal TR SUMDIAM of the accepted reader
    tr = pd.read_csv(SDTM / "tr_onco.csv.gz")
    s = tr[(tr.TRTESTCD == "SUMDIAM") & (tr.TRACPTFL == "Y")].assign(
        assessment_date=lambda d: pd.to_datetime(d.TRDTC.str[:10]), patient_id=tr.USUBJID
    )
    sums = tgt.groupby(["patient_id", "assessment_date"])["diameter_mm"].sum().rename("sld")
    m = s.merge(sums.reset_index(), on=["patient_id", "assessment_date"], how="left")
    assert len(m) == 887 and m["sld"].notna().all()
    np.testing.assert_allclose(m["sld"], m["TRSTRESN"].astype(float))


@pytest.mark.external
@needs_external
def test_pharmaverse_lymph_nodes_use_short_axis():
    t = import_sdtm(SDTM)  # diameter_rule="recist"
    les = t["lesions"]
    tr = pd.read_csv(SDTM / "tr_onco.csv.gz")
    tr = tr[tr.TRACPTFL.eq("Y") & tr.TRTESTCD.isin(["LDIAM", "LPERP"])].assign(
        assessment_date=lambda d: pd.to_datetime(d.TRDTC.str[:10])
    )
    w = tr.pivot_table(
        index=["USUBJID", "assessment_date", "TRLNKID"], columns="TRTESTCD", values="TRSTRESN"
    ).reset_index()
    m = les.merge(
        w,
        left_on=["patient_id", "assessment_date", "lesion_id"],
        right_on=["USUBJID", "assessment_date", "TRLNKID"],
    )
    nodes = m[m.lymph_node & m.diameter_mm.notna()]
    other = m[~m.lymph_node & m.diameter_mm.notna()]
    assert len(nodes) > 500 and len(other) > 2000
    np.testing.assert_allclose(nodes["diameter_mm"], nodes["LPERP"])
    np.testing.assert_allclose(other["diameter_mm"], other["LDIAM"])
    assert set(les.loc[les.lymph_node, "organ"]) == {"LYMPH NODE"}


@pytest.mark.external
@needs_external
def test_pharmaverse_recist_sums_equal_adtr(recist_set, adtr_sdiam):
    """Own check: sums, baseline, % change, nadir per visit equal ADTR (PARAMCD SDIAM).

    ADTR sums the lesions measured at a visit even when one is missing (AVAL 38 of 4 lesions
    for 01-701-1015 week 6) and flags complete visits ANL01FL = Y; the importer keeps the missing
    lesions as explicit not-evaluable rows, so the same partial sum is the sum of measured rows.
    ADTR NADIR is the minimum over earlier complete visits (baseline included) and its PCHGNAD
    is missing when that nadir is 0 (division by zero).
    """
    les = recist_set["lesions"]
    g = (
        les[les.lesion_type == "target"]
        .groupby(["patient_id", "assessment_date"])
        .agg(sld=("diameter_mm", "sum"), n_missing=("not_evaluable", "sum"))
        .reset_index()
    )
    m = adtr_sdiam.merge(g, on=["patient_id", "assessment_date"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all() and len(m) == 25
    np.testing.assert_allclose(m["sld"], m["AVAL"])
    assert ((m["n_missing"] == 0) == m["ANL01FL"].eq("Y")).all()
    m = m.sort_values(["patient_id", "assessment_date"])
    base = m.groupby("patient_id")["sld"].transform("first")
    np.testing.assert_allclose(base, m["BASE"])
    np.testing.assert_allclose(100 * (m["sld"] - base) / base, m["PCHG"])
    complete = m["sld"].where(m["n_missing"] == 0)
    nadir = (
        complete.groupby(m["patient_id"])
        .cummin()
        .groupby(m["patient_id"])
        .shift()
        .groupby(m["patient_id"])
        .ffill()
    )
    np.testing.assert_allclose(nadir, m["NADIR"])  # NaN at baseline on both sides
    with np.errstate(divide="ignore", invalid="ignore"):
        pchgnad = np.where(nadir > 0, 100 * (m["sld"] - nadir) / nadir, np.nan)
    np.testing.assert_allclose(pchgnad, m["PCHGNAD"])


@pytest.mark.external
@needs_external
def test_pharmaverse_recist_pipeline_matches_adtr_and_rs(tmp_path, adtr_sdiam):
    """load_cohort -> scan_table -> recist_responses on the imported RECIST set.

    Known, explained differences with ADTR:

    - Visits with a missing target lesion (01-701-1015 week 6, 01-701-1028 week 6, 01-701-1118
      week 9): ADTR AVAL is the partial sum (ANL01FL not Y); the pipeline gives SLD NaN (RECIST:
      not evaluable) and the same partial sum as ``sld_measured_mm``. SLD compared only on
      complete visits.
    - 01-701-1133 week 9 after a 0 mm nadir: ADTR PCHGNAD is missing, and so is the pipeline's
      ``pct_change_nadir`` (undefined), while the target response is PD (+5 mm).

    The derived overall response equals RS on every scan, including the two RECIST 1.1 rules that
    once made them differ: 01-701-1028 week 6 (T01 not measured, the measured lesions already sum
    to 110 mm, +20.9 % and +19 mm over the 91 mm nadir: PD on measured lesions) and 01-701-1034,
    01-701-1097 (non-target lesions only: NON-CR/NON-PD). The best overall response (unconfirmed
    and confirmed, reference window 28 days as in the admiralonco ADRS template) equals ADRS BOR
    and CBOR.
    """
    from hpd_analysis.load import load_cohort
    from hpd_analysis.params import Parameters
    from hpd_analysis.recist import best_overall_response, recist_responses
    from hpd_analysis.timepoints import scan_table

    out = import_sdtm_dir(
        SDTM,
        tmp_path / "cohort",
        prefer="recist",
        reader="investigator",
        adam_dir=ADAM,
        subjects="with_tumor_data",
    )
    cohort = load_cohort(out)
    scans = scan_table(cohort, Parameters())
    resp = recist_responses(scans)
    assert cohort.n_patients == 8

    ref = adtr_sdiam[adtr_sdiam["AVISIT"] != "BASELINE"]
    m = ref.merge(resp, on=["patient_id", "assessment_date"], how="left")
    assert len(m) == 19 and m["sld_mm"].notna().sum() == 16
    complete = m["ANL01FL"].eq("Y")
    assert m.loc[~complete, "sld_mm"].isna().all()
    c = m[complete]
    np.testing.assert_allclose(c["sld_mm"], c["AVAL"])
    np.testing.assert_allclose(c["baseline_sld_mm"], c["BASE"])
    np.testing.assert_allclose(c["pct_change_baseline"], c["PCHG"])
    np.testing.assert_allclose(c["nadir_mm"], c["NADIR"])
    zero = c["NADIR"] == 0
    np.testing.assert_allclose(c.loc[~zero, "pct_change_nadir"], c.loc[~zero, "PCHGNAD"])
    assert zero.sum() == 1 and c.loc[zero, "pct_change_nadir"].isna().all()
    assert c.loc[zero, "PCHGNAD"].isna().all() and (c.loc[zero, "target_response"] == "PD").all()
    # incomplete visits: the measured lesions' sum is ADTR's partial AVAL
    np.testing.assert_allclose(m.loc[~complete, "sld_measured_mm"], m.loc[~complete, "AVAL"])

    rs = pd.read_csv(out / "rs_responses.csv", parse_dates=["assessment_date"])
    r = rs.merge(
        resp,
        on=["patient_id", "assessment_date"],
        how="outer",
        suffixes=("_rs", ""),
        indicator=True,
    )
    assert (r["_merge"] == "both").all() and len(r) == 22
    differ = r[r["overall_response_rs"] != r["overall_response"]]
    assert differ.empty, differ[
        [
            "patient_id",
            "assessment_date",
            "overall_response_rs",
            "overall_response",
            "response_reason",
        ]
    ].to_string()
    by = r.set_index(["patient_id", r["assessment_date"].dt.strftime("%Y-%m-%d")])
    pd_measured = by.loc[("01-701-1028", "2013-08-30")]
    assert pd_measured["overall_response"] == "PD" and np.isnan(pd_measured["sld_mm"])
    assert pd_measured["sld_measured_mm"] == 110 and pd_measured["nadir_mm"] == 91
    assert "target PD on measured lesions (1 target not assessed)" in pd_measured["response_reason"]
    nt_only = r[r["patient_id"].isin(["01-701-1034", "01-701-1097"])]
    assert len(nt_only) == 3 and (nt_only["overall_response"] == "NON-CR/NON-PD").all()
    assert (nt_only["target_response"] == "none").all()

    # best overall response vs ADRS (admiralonco template: reference window 28 days)
    adrs = pd.read_csv(ADAM / "adrs_onco.csv.gz")
    ids = cohort.patients["patient_id"]
    for paramcd, confirm in (("BOR", False), ("CBOR", True)):
        bor = best_overall_response(
            resp, patient_ids=ids, sd_min_days=28, confirm=confirm, confirm_min_days=28
        )
        ref = (
            adrs[adrs["PARAMCD"].eq(paramcd) & adrs["ANL01FL"].eq("Y")]
            .set_index("USUBJID")
            .reindex(ids)
        )
        assert bor["bor"].tolist() == ref["AVALC"].tolist(), paramcd
        assert (bor["bor_date"].dt.strftime("%Y-%m-%d") == ref["ADT"].to_numpy()).all(), paramcd


@pytest.mark.external
@needs_external
def test_pharmaverse_adtte_cnsr_inversion(recist_set):
    adtte = pd.read_csv(ADAM / "adtte_onco.csv.gz")
    p = recist_set["patients"].set_index("patient_id")
    for par in ("OS", "PFS"):
        a = adtte[adtte.PARAMCD == par].set_index("USUBJID").reindex(p.index)
        assert (p[f"{par.lower()}_event"] == 1 - a["CNSR"]).all()
        np.testing.assert_allclose(p[f"{par.lower()}_months"] * DAYS_PER_MONTH, a["AVAL"])
    assert int(p["os_event"].sum()) == 3 and int(p["pfs_event"].sum()) == 6
    # the ADTTE progression events are the RS PDs of the investigator on the RECIST set
    rep = recist_set["report"].set_index("action")
    assert "adtte_progression_differs_from_rs" not in rep.index
    assert p["progression_date"].notna().sum() == 3


def test_unmatched_subjects_are_an_error_unless_allowed(tmp_path, capsys):
    """TR writes ``p2 `` where DM writes ``P2``: an error naming both, unless
    ``--allow-unmatched``, and then every dropped row count is printed (issue 12)."""
    from hpd_analysis.cli import main

    tr = _tr_rows()
    n_p2 = int((tr["USUBJID"] == "P2").sum())
    tr.loc[tr["USUBJID"] == "P2", "USUBJID"] = "p2 "
    d = write_sdtm(tmp_path / "sdtm", tr=tr)
    with pytest.raises(HPDError, match=r"subject\(s\) not in dm.csv: 'p2' \(dm.csv has 'P2'"):
        import_sdtm(d)
    assert main(["import-sdtm", str(d), "--out", str(tmp_path / "c1")]) == 2
    assert not (tmp_path / "c1").exists()
    capsys.readouterr()
    assert main(["import-sdtm", str(d), "--out", str(tmp_path / "c2"), "--allow-unmatched"]) == 0
    out = capsys.readouterr().out
    assert n_p2 and re.search(
        r"dropped [1-9]\d* row\(s\) of tr.csv "
        r"\(lesion_rows_without_patient_dropped\)",
        out,
    ), out
    assert "p2" in out


def test_import_never_writes_into_its_input_or_over_a_cohort(tmp_path, capsys):
    from hpd_analysis.cli import main

    d = write_sdtm(tmp_path / "sdtm")
    assert main(["import-sdtm", str(d), "--out", str(d)]) == 2
    assert main(["import-sdtm", str(d), "--out", str(tmp_path / "c")]) == 0
    before = (tmp_path / "c" / "lesions.csv").read_bytes()
    assert main(["import-sdtm", str(d), "--out", str(tmp_path / "c")]) == 2  # exists
    assert main(["import-sdtm", str(d), "--out", str(tmp_path / "c"), "--force"]) == 0
    assert (tmp_path / "c" / "lesions.csv").read_bytes() == before
    assert "Traceback" not in capsys.readouterr().err


def test_import_report_lists_actions_with_rows_and_drops_them():
    report = ImportReport()
    table = pd.DataFrame({"x": [1, 2, 3]})
    kept = report.drop(
        table, table["x"].eq(2), file="f.csv", column="x", action="two_dropped", detail="no 2"
    )
    report.add("f.csv", None, "nothing_done", n_rows=0, detail="not listed")
    assert kept["x"].tolist() == [1, 3]
    frame = report.frame()
    assert frame.to_dict("records") == [
        {"file": "f.csv", "column": "x", "action": "two_dropped", "n_rows": 1, "detail": "no 2"}
    ]
