import pandas as pd
import pytest

from hpd_analysis.errors import ParameterError
from hpd_analysis.privacy import pseudonymize, pseudonymize_table, read_key, suppress_small_cells

KEY = b"0123456789abcdef-secret"


def test_pseudonyms_are_keyed_deterministic_and_distinct():
    ids = pd.Series(["P001", "P002", "P001", None], name="patient_id")
    a = pseudonymize(ids, KEY)
    b = pseudonymize(ids, KEY)
    other = pseudonymize(ids, b"another-key-of-16-bytes")
    assert a.tolist() == b.tolist()
    assert a[0] == a[2] and a[0] != a[1]
    assert pd.isna(a[3])
    assert a[0].startswith("ID-") and len(a[0]) == 3 + 12
    assert "P001" not in a[0]
    assert other[0] != a[0]


def test_short_key_rejected(tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match="at least 16 bytes"):
        pseudonymize(["P1"], b"short")
    monkeypatch.delenv("HPD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ParameterError, match="too short or missing"):
        read_key()
    f = tmp_path / "key"
    f.write_bytes(KEY + b"\n")
    assert read_key(f) == KEY
    monkeypatch.setenv("HPD_PSEUDONYM_KEY", KEY.decode())
    assert read_key() == KEY


def test_pseudonymize_table_only_touches_id_columns():
    t = pd.DataFrame({"patient_id": ["A", "B"], "x": [1, 2]})
    out = pseudonymize_table(t, KEY)
    assert out["x"].tolist() == [1, 2]
    assert set(out["patient_id"]).isdisjoint({"A", "B"})
    assert t["patient_id"].tolist() == ["A", "B"]  # input untouched


def test_small_cells_masked_with_dependents():
    t = pd.DataFrame(
        {
            "definition": ["a", "b", "c"],
            "n_hpd": [0, 3, 12],
            "n_evaluable": [40, 40, 40],
            "percent": [0.0, 7.5, 30.0],
        }
    )
    out = suppress_small_cells(t, k=5, dependent_columns=["percent"])
    assert out["n_hpd"].tolist() == [0, "<5", 12]
    assert pd.isna(out.loc[1, "percent"])
    assert out.loc[2, "percent"] == 30.0
    assert out["n_evaluable"].tolist() == [40, 40, 40]
    pd.testing.assert_frame_equal(suppress_small_cells(t, k=1), t)


# ---- issue 12: one key rule, formula injection, ids inside other texts ----------------------


def test_key_of_spaces_refused_from_env_as_from_file(tmp_path, monkeypatch):
    from hpd_analysis.privacy import KEY_ENV

    monkeypatch.setenv(KEY_ENV, " " * 40)
    with pytest.raises(ParameterError, match="once surrounding spaces are removed"):
        read_key()
    f = tmp_path / "key"
    f.write_text(" " * 40)
    with pytest.raises(ParameterError, match="too short"):
        read_key(f)
    # the same key, padded, from either source gives the same bytes
    monkeypatch.setenv(KEY_ENV, "  0123456789abcdef0123  ")
    f.write_text("0123456789abcdef0123\n")
    assert read_key() == read_key(f) == b"0123456789abcdef0123"


def test_key_file_without_pseudonymize_is_an_error(tmp_path):
    from hpd_analysis.report import resolve_parameters

    f = tmp_path / "key"
    f.write_text("0123456789abcdef0123")
    with pytest.raises(ParameterError, match="pseudonymize is false"):
        resolve_parameters({"pseudonym_key_file": str(f)})
    assert resolve_parameters({"pseudonym_key_file": str(f), "pseudonymize": True})["pseudonymize"]


def test_neutralize_formulas_owasp_rule():
    from hpd_analysis.privacy import neutralize_formulas, unneutralize_text

    t = pd.DataFrame(
        {
            "id": ["=1+2", "+1", "-x", "@SUM(A1)", "\tA", "\rB", "P1", "-4.5", None],
            "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
            "c": pd.Categorical(["=a", "b"] * 4 + ["b"]),
        }
    )
    out = neutralize_formulas(t)
    assert out["id"].tolist() == [
        "'=1+2",
        "'+1",
        "'-x",
        "'@SUM(A1)",
        "'\tA",
        "'\rB",
        "P1",
        "-4.5",
        None,
    ]
    assert out["n"].tolist() == t["n"].tolist()  # numbers never change
    assert out["c"].tolist()[:2] == ["'=a", "b"]
    assert t["id"].iloc[0] == "=1+2"  # the input is not modified
    assert [unneutralize_text(v) for v in out["id"]] == t["id"].tolist()


def test_every_csv_writer_neutralizes(tmp_path):
    from hpd_analysis.classification import write_classification
    from hpd_analysis.report import write_table
    from hpd_analysis.sdtm import write_cohort_csv
    from hpd_analysis.simulate import write_cohort

    t = pd.DataFrame({"patient_id": ['=HYPERLINK("http://x")', "P2"], "v": [1.5, -2.0]})
    paths = [
        write_table(t, tmp_path, "r"),
        write_classification(t, tmp_path / "c.csv"),
        write_cohort({"patients": t, "lesions": t}, tmp_path / "sim") / "patients.csv",
    ]
    write_cohort_csv(t, tmp_path / "s.csv")
    paths.append(tmp_path / "s.csv")
    for p in paths:
        first = pd.read_csv(p, dtype=str)["patient_id"].iloc[0]
        assert first.startswith("'="), (p, first)


def test_pseudonymize_cohort_scrubs_embedded_ids():
    from types import SimpleNamespace

    from hpd_analysis.privacy import pseudonymize_cohort

    key = b"k" * 20
    cohort = SimpleNamespace(
        patients=pd.DataFrame(
            {"patient_id": ["MRN7700148", "MRN77001480"], "note": ["sibling of MRN77001480", None]}
        ),
        lesions=pd.DataFrame({"patient_id": ["MRN7700148"], "lesion_id": ["MRN7700148-T1"]}),
        assessments=None,
        scans_wide=None,
        load_report=pd.DataFrame({"detail": ["lesion MRN7700148-T1 of patient MRN7700148"]}),
    )
    import dataclasses

    @dataclasses.dataclass
    class C:
        patients: pd.DataFrame
        lesions: pd.DataFrame
        assessments: object
        scans_wide: object
        load_report: pd.DataFrame

    out = pseudonymize_cohort(C(**vars(cohort)), key)
    ids = pseudonymize(pd.Series(["MRN7700148", "MRN77001480"]), key).tolist()
    assert out.lesions["lesion_id"].iloc[0] == ids[0] + "-T1"
    assert out.patients["note"].iloc[0] == "sibling of " + ids[1]  # the longer id is not cut
    assert out.load_report["detail"].iloc[0] == f"lesion {ids[0]}-T1 of patient {ids[0]}"


def test_growth_writer_neutralizes_and_never_writes_into_the_cohort(tmp_path, capsys):
    """The growth command (issue 16) follows the same output rules (issue 12)."""
    from hpd_analysis.cli import main
    from hpd_analysis.growth import write_growth
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    p = write_growth(pd.DataFrame({"patient_id": ["=1+2"], "g": [-0.01]}), tmp_path / "g.csv")
    assert p.read_text().splitlines()[1] == "'=1+2,-0.01"
    d = write_cohort(simulate_cohort(n_patients=5, seed=1), tmp_path / "cohort")
    assert main(["growth", str(d), "--out", str(d / "growth.csv")]) == 2
    assert "is inside the input" in capsys.readouterr().err
    assert not (d / "growth.csv").exists()
