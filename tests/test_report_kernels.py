"""The report's section kernels (:class:`hpd_analysis.report.execute.SectionPool`): one kernel
runs several sections, and each section starts as in a fresh kernel (empty namespace, cell
counter at 1, warnings shown again), the longest sections first."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from hpd_analysis.report import execute


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _outputs(nb_path: Path) -> tuple[list[int | None], str]:
    nb = nbformat.read(nb_path, as_version=4)
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code"]
    text = "".join(
        o.get("text", "") if o.get("output_type") == "stream" else str(o.get("data", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    )
    return counts, text


def test_sections_share_a_kernel_but_start_clean(tmp_path):
    nbs, build = tmp_path / "notebooks", tmp_path / "build"
    nbs.mkdir()
    build.mkdir()
    # a module that warns once per code location ("default" action): a second section in the
    # same kernel must see its warning again, as a fresh kernel would
    (build / "warner.py").write_text(
        "import warnings\n\ndef warn():\n    warnings.warn('threshold differs', UserWarning)\n"
    )
    body = (
        "import os, warner\nprint('pid', os.getpid())",
        "assert 'leaked' not in globals(), 'a variable of the previous section survived'\n"
        "leaked = 1\nwarner.warn()",
    )
    _notebook(nbs / "01_first.ipynb", *body)
    _notebook(nbs / "02_second.ipynb", *body)
    status: dict[str, dict[str, str]] = {}
    with execute.SectionPool(
        ["01_first", "02_second"], nbs, build, kernel="python3", jobs=1
    ) as pool:
        failure = pool.run({}, status, lambda _msg: None)
    assert failure is None, failure
    assert {s["status"] for s in status.values()} == {"ok"}
    counts1, out1 = _outputs(build / "01_first.ipynb")
    counts2, out2 = _outputs(build / "02_second.ipynb")
    assert counts1 == counts2 == [1, 2]
    pid1 = out1.split("pid ")[1].split()[0]
    pid2 = out2.split("pid ")[1].split()[0]
    assert pid1 == pid2, "the two sections ran in two kernels"
    assert "threshold differs" in out1 and "threshold differs" in out2
    assert (build / "02_second.html").is_file()


def test_a_failed_section_stops_the_queue_and_names_the_cell(tmp_path):
    nbs, build = tmp_path / "notebooks", tmp_path / "build"
    nbs.mkdir()
    build.mkdir()
    _notebook(nbs / "01_bad.ipynb", "x = 1", "raise ValueError('no such column: arm')")
    _notebook(nbs / "02_after.ipynb", "y = 2")
    status: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    with execute.SectionPool(["01_bad", "02_after"], nbs, build, kernel="python3", jobs=1) as pool:
        failure = pool.run({}, status, lines.append)
    assert failure is not None and "01_bad" in failure and "cell [2]" in failure
    assert "no such column: arm" in failure
    assert status["01_bad"]["status"] == "failed"
    assert "02_after" not in status  # never started
    assert not (build / "02_after.ipynb").exists()


def test_longest_sections_start_first():
    order = sorted(execute.SECTIONS, key=lambda n: -execute.SECTION_WEIGHTS.get(n, 1))
    assert order[0] == "04_risk_factors" and order[-1] == "01_cohort"
    assert set(execute.SECTION_WEIGHTS) == set(execute.SECTIONS)


def test_pool_left_unused_stops_its_kernels(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    with pytest.raises(RuntimeError, match="classification failed"):
        with execute.SectionPool(["01_x"], tmp_path, build, kernel="python3", jobs=1) as pool:
            raise RuntimeError("classification failed")
    assert all(k.km is None for k in pool.kernels)
    assert not any(t.is_alive() for t in pool.threads)


def test_warm_up_imports_what_the_chosen_notebooks_import(tmp_path):
    _notebook(
        tmp_path / "01_a.ipynb",
        "from hpd_analysis import plots, tables\nx = 1",
        "import hpd_analysis.scores\nfrom hpd_analysis.incidence import (attrition,\n    incidence)",
    )
    _notebook(tmp_path / "02_b.ipynb", "from hpd_analysis import growth as gm")
    code = execute.warm_up_code(tmp_path, ["01_a"])
    for module in ("plots", "tables", "scores", "incidence"):
        assert f"'hpd_analysis.{module}'" in code
    assert "growth" not in code  # only the chosen sections' modules
    assert "'hpd_analysis.growth'" in execute.warm_up_code(tmp_path, ["01_a", "02_b"])
    namespace: dict = {}
    exec(code, namespace)  # runs without error and leaves no name behind
    assert not [k for k in namespace if not k.startswith("__")]


def test_default_jobs_reads_the_environment(monkeypatch):
    from hpd_analysis.errors import ParameterError

    monkeypatch.setenv(execute.JOBS_ENV, "3")
    assert execute.default_jobs() == 3
    monkeypatch.setenv(execute.JOBS_ENV, "0")
    with pytest.raises(ParameterError, match="HPD_REPORT_JOBS=0: expected a whole number"):
        execute.default_jobs()
    monkeypatch.delenv(execute.JOBS_ENV)
    assert execute.default_jobs() in (1, 2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


@pytest.mark.slow
def test_kept_kernels_serve_the_next_run_clean_and_stop_with_the_block(tmp_path):
    """Inside ``keep_kernels`` a second report runs in the first one's kernel, from its own
    folder and with a clean namespace; a pseudonymized run starts a kernel of its own (the key
    reaches a kernel only at its start) and does not keep it, nor does a run inside
    ``keep_kernels(False)``; leaving the block stops the kept kernel."""
    from hpd_analysis import report

    cohort = tmp_path / "cohort"
    cohort.mkdir()
    (cohort / "patients.csv").write_text("patient_id,treatment_start\np1,2020-01-01\n")
    key = tmp_path / "pseudonym.key"
    key.write_text("unit-test-key-7f3a9c-not-a-real-secret\n")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    params = nbformat.v4.new_code_cell('cohort = None\noutput_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os\n"
            "assert 'leaked' not in globals(), 'a variable of the previous run survived'\n"
            "leaked = 1\n"
            "print('pid', os.getpid())\nprint('cwd', os.getcwd())"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, nbs / "01_only.ipynb")

    def run(name: str, **parameters: object) -> tuple[int, str]:
        out = report.run_report(
            cohort, tmp_path / name, parameters, notebooks=nbs, progress=None, jobs=1
        )
        _, text = _outputs(out / "01_only.ipynb")
        return int(text.split("pid ")[1].split()[0]), text.split("cwd ")[1].split()[0]

    with report.keep_kernels(False):  # the suite's own block (conftest.py) set aside
        with report.keep_kernels():
            pid1, _ = run("r1")
            pid2, cwd2 = run("r2")
            pid3, _ = run("r3", pseudonymize=True, pseudonym_key_file=str(key))
            with report.keep_kernels(False):
                pid4, _ = run("r4")
            assert _alive(pid1)
        assert pid1 == pid2, "the kept kernel was not reused"
        assert Path(cwd2).name.startswith(".r2.building-"), cwd2  # r2's staging folder
        assert len({pid1, pid3, pid4}) == 3
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in (pid1, pid3, pid4)):
            time.sleep(0.2)
        assert not any(_alive(p) for p in (pid1, pid3, pid4))
