"""A wheel install works: the notebooks and templates ship as package data, and ``hpd report``
runs from the installed package alone (no source tree on the path, another working folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources (no build files written in the checkout);
    the repository's data/ folder is left out, so the example must come from the package."""
    import setuptools

    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "_scratch", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "hpd_analysis", src / "hpd_analysis", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "notebooks", src / "notebooks", ignore=ignore)
    (src / "notebooks" / "_scratch").mkdir()  # developers' scratch notebooks must not ship
    (src / "notebooks" / "_scratch" / "99_try.ipynb").write_text("{}")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(tmp / "w")]
    if int(setuptools.__version__.split(".")[0]) >= 77:  # what pyproject's build-system needs
        cmd.insert(4, "--no-build-isolation")
    subprocess.run(cmd, check=True, cwd=tmp)
    (wheel,) = (tmp / "w").glob("hpd_analysis-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_ships_notebooks_and_templates_and_reports_without_the_source_tree(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    for nb in notebooks:
        assert f"hpd_analysis/notebooks/{nb}" in names
    for tpl in (ROOT / "hpd_analysis" / "templates").iterdir():
        assert f"hpd_analysis/templates/{tpl.name}" in names
    assert not [n for n in names if "_scratch" in n]

    site, run = tmp_path / "site", tmp_path / "run"
    zipfile.ZipFile(wheel).extractall(site)
    run.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}

    def hpd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hpd_analysis.cli", *args],
            cwd=run,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    env.pop("HPD_EXAMPLE_DIR", None)
    where = subprocess.run(  # the wheel's code, and the example cohort shipped in the package
        [
            sys.executable,
            "-c",
            "import hpd_analysis; from hpd_analysis import datasets; "
            "print(hpd_analysis.__file__); print(datasets.example_path())",
        ],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    code, example = where.stdout.splitlines()
    assert Path(code).is_relative_to(site)  # not the checkout's
    assert Path(example).is_relative_to(site)
    done = hpd("simulate", "--patients", "30", "--seed", "1", "--out", str(tmp_path / "cohort"))
    assert done.returncode == 0, done.stderr
    done = hpd(
        "report",
        "--cohort",
        str(tmp_path / "cohort"),
        "--out",
        str(tmp_path / "rep"),
        "--sections",
        "cohort",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rep" / "index.html").is_file()
    assert (tmp_path / "rep" / "01_cohort.html").is_file()
