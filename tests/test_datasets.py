"""Bundled data sets: every loader returns a cohort of the source's size, the copies are those of
the project's shared data folder, licences and citations are shipped, OAK/POPLAR are not.

Expected sizes are counted here from the raw files with pandas (or are the published sizes)."""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from hpd_analysis import datasets
from hpd_analysis.errors import HPDError

DATA = datasets.data_dir()
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "external"


def _raw(*parts: str) -> pd.DataFrame:
    return pd.read_csv(DATA.joinpath(*parts), dtype=str, keep_default_na=False)


def test_every_bundled_file_is_package_data_and_small():
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 3 * 2**20  # "a few MB at most"
    text = (ROOT / "pyproject.toml").read_text()
    globs = re.search(r"hpd_analysis = \[(.*?)\]", text).group(1)
    patterns = [g.strip().strip('"') for g in globs.split(",")]
    for p in files:
        rel = p.relative_to(DATA.parent).as_posix()
        assert any(Path(rel).match(g) for g in patterns), rel
    assert not (DATA / "oak_poplar_gandara2018").exists()  # not redistributable


def test_readme_gives_licence_and_citation_of_each_set():
    readme = (DATA / "README.md").read_text()
    for name, (_, licence, citation) in datasets.DATASETS.items():
        assert name.split("_")[0] in readme
        assert licence.split(" (")[0] in readme
        assert re.split(r"[,:]", citation)[0] in readme  # first author / package name
    assert "Apache License" in (DATA / "LICENSES" / "Apache-2.0.txt").read_text()
    assert "Permission is hereby granted" in readme  # the MIT notice travels with the data
    table = datasets.list_datasets()
    assert table.set_index("name")["bundled"].to_dict()["oak_poplar_gandara2018"] is False


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")
def test_bundled_copies_equal_the_shared_files():
    files = [*DATA.rglob("*.csv.gz"), *DATA.rglob("*.csv")]
    assert len(files) > 15
    for p in files:
        rel = p.relative_to(DATA)
        if rel.parts[0] == "example":  # ours, not from the shared folder
            continue
        src = SHARED / rel
        if not src.exists():  # plain CSV in the shared folder, gzip-compressed here
            src = SHARED / str(rel).removesuffix(".gz")
            assert gzip.decompress(p.read_bytes()) == src.read_bytes(), rel
        else:
            assert p.read_bytes() == src.read_bytes(), rel


def test_laleh2022_study4_and_all():
    raw = _raw("laleh2022", "study4.csv.gz")
    c = datasets.load_laleh2022(4)
    assert c.n_patients == raw["Patient_Anonmyized"].nunique() == 701
    assert set(c.patients["treatment"]) == {"atezolizumab", "docetaxel"}
    assert c.has_measurements
    assert (c.load_report["file"].astype(str).str.startswith("laleh2022/")).any()
    every = datasets.load_laleh2022(None)
    n = sum(
        _raw("laleh2022", f"study{k}.csv.gz")["Patient_Anonmyized"].nunique() for k in range(1, 6)
    )
    assert every.n_patients == n
    with pytest.raises(HPDError, match="expected 1, 2, 3, 4, 5"):
        datasets.load_laleh2022(6)


def test_pharmaverse_sdtm_and_cohort():
    sd = datasets.load_pharmaverse_sdtm()
    assert sorted(sd) == ["dm", "rs", "tr", "tu"]
    assert {"USUBJID", "TRTESTCD"} <= set(sd["tr"].columns)
    c = datasets.load_pharmaverse()
    exposed = sd["dm"]["RFXSTDTC"].astype("string").str.strip().replace("", pd.NA).notna()
    assert c.n_patients == int(exposed.sum()) == 254
    rec = datasets.load_pharmaverse("recist")
    assert {"os_months", "os_event"} <= set(rec.patients.columns)
    assert sorted(datasets.load_pharmaverse_sdtm("recist")) == [
        "adsl",
        "adtte",
        "dm",
        "rs",
        "tr",
        "tu",
    ]
    with pytest.raises(HPDError, match="onco"):
        datasets.load_pharmaverse("sas")


def test_tumgr_sample():
    raw = _raw("tumgr", "sampleData.csv.gz")
    c = datasets.load_tumgr_sample()
    assert c.n_patients == raw["name"].nunique() == 68
    assert len(c.assessments) == len(raw) == 453
    # treatment start = first evaluation (day number of the file), by hand for one patient
    days = raw.loc[raw["name"] == "10004", "date"].astype(float)
    start = c.patients.set_index("patient_id").loc["10004", "treatment_start"]
    assert start == pd.Timestamp("2000-01-01") + pd.Timedelta(days=days.min())


def test_inspire_sizes_derived_from_the_percent_change():
    raw = _raw("inspire", "pembrolizumab.csv")
    c = datasets.load_inspire()
    assert c.n_patients == len(raw) == 94
    assert {"os_months", "os_event", "pfs_months", "tumor_type"} <= set(c.patients.columns)
    a = c.assessments[c.assessments["patient_id"] == "INS-A-003"].sort_values("assessment_date")
    # l_size 108 mm, +41.7 % at 6.119 weeks (43 days): 108 × 1.417 = 153.036 mm (to 0.01 mm)
    assert a["sld_mm"].tolist()[:2] == pytest.approx([108.0, 153.036], abs=0.005)
    assert (a["assessment_date"].iloc[1] - a["assessment_date"].iloc[0]).days == 43


def test_oak_poplar_from_a_path_only(tmp_path, monkeypatch):
    monkeypatch.delenv(datasets.ENV_OAK_POPLAR_DIR, raising=False)
    src = SHARED / "oak_poplar_gandara2018" / "oak_clinical.csv.gz"
    if src.is_file():
        (tmp_path / "oak_clinical.csv.gz").write_bytes(src.read_bytes())
        c = datasets.load_oak_poplar("oak", path=tmp_path)
        assert c.n_patients == 850 and not c.has_measurements
        monkeypatch.setenv(datasets.ENV_OAK_POPLAR_DIR, str(tmp_path))
        assert datasets.load_oak_poplar().n_patients == 850
    monkeypatch.setenv("HPD_EXTERNAL_DATA", str(tmp_path / "nowhere"))
    monkeypatch.delenv(datasets.ENV_OAK_POPLAR_DIR, raising=False)
    with pytest.raises(HPDError, match="not bundled"):
        datasets.load_oak_poplar("poplar", path=tmp_path / "empty")


def test_write_dataset_and_the_make_helper(tmp_path, capsys):
    a = datasets.write_dataset("oak-laleh", tmp_path / "a")
    b = datasets.write_dataset("laleh2022-study4", tmp_path / "b")
    for f in ("patients.csv", "assessments.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    assert datasets._main(["inspire", "--into", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "inspire")
    assert (Path(printed) / "assessments.csv").is_file()
    assert datasets._main([str(tmp_path / "a")]) == 0  # an existing folder: as it is
    assert capsys.readouterr().out.strip() == str(tmp_path / "a")
    assert datasets._main(["nonsense"]) == 2
    assert "unknown data set" in capsys.readouterr().err


def test_loaders_have_source_and_citation_in_their_docstring():
    for name in (
        "load_example",
        "load_laleh2022",
        "load_pharmaverse_sdtm",
        "load_pharmaverse",
        "load_tumgr_sample",
        "load_inspire",
        "load_oak_poplar",
    ):
        doc = getattr(datasets, name).__doc__ or ""
        assert "Source" in doc or "source" in doc, name
    for name in ("load_laleh2022", "load_tumgr_sample", "load_inspire", "load_oak_poplar"):
        assert re.search(r"[Cc]ite|doi", getattr(datasets, name).__doc__), name


def test_module_runs_as_a_script(tmp_path):
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "hpd_analysis.datasets", "tumgr", "--into", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert Path(out.stdout.strip()) == tmp_path / "tumgr"


def test_packaged_example_is_the_repository_example(tmp_path, monkeypatch):
    """The gzip copy inside the package (for wheel installs) holds the bytes of data/example."""
    for name in ("patients.csv", "lesions.csv"):
        packaged = gzip.decompress((DATA / "example" / f"{name}.gz").read_bytes())
        assert packaged == (ROOT / "data" / "example" / name).read_bytes(), (
            f"hpd_analysis/data/example/{name}.gz differs from data/example/{name}: run "
            "`make example`"
        )
    # without the repository's data/ folder, load_example reads the packaged copy
    pkg = tmp_path / "site" / "hpd_analysis"
    (pkg / "data").mkdir(parents=True)
    (pkg / "data" / "example").symlink_to(DATA / "example")
    monkeypatch.delenv(datasets.ENV_EXAMPLE_DIR, raising=False)
    monkeypatch.setattr(datasets, "__file__", str(pkg / "datasets.py"))
    assert datasets.example_path() == pkg / "data" / "example"
    assert datasets.load_example().n_patients == datasets.EXAMPLE_N_PATIENTS


def test_tumgr_copy_reads_as_the_growth_models_input():
    """The bundled tumgr table is the growth model's input (the one copy of sampleData, read by
    tests/test_growth.py too): every row, numbers as numbers, patient names as text."""
    from hpd_analysis import growth

    table = growth.read_tumgr_table(DATA / "tumgr" / "sampleData.csv.gz")
    raw = _raw("tumgr", "sampleData.csv.gz")
    assert list(table.columns) == ["name", "date", "size"]
    assert table["name"].tolist() == raw["name"].tolist() and table["name"].nunique() == 68
    assert table["date"].tolist() == raw["date"].astype(float).tolist()
    assert table["size"].tolist() == raw["size"].astype(float).tolist()
