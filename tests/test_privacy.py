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
    t = pd.DataFrame({
        "definition": ["a", "b", "c"],
        "n_hpd": [0, 3, 12],
        "n_evaluable": [40, 40, 40],
        "percent": [0.0, 7.5, 30.0],
    })
    out = suppress_small_cells(t, k=5, dependent_columns=["percent"])
    assert out["n_hpd"].tolist() == [0, "<5", 12]
    assert pd.isna(out.loc[1, "percent"])
    assert out.loc[2, "percent"] == 30.0
    assert out["n_evaluable"].tolist() == [40, 40, 40]
    pd.testing.assert_frame_equal(suppress_small_cells(t, k=1), t)
