"""Shared test helpers: the nine published definition codes, a classification-table builder,
the simulated cohorts and the report runs that several test files read.

Test modules import the constants and functions (``from conftest import NINE, make_table``):
pytest puts this folder on ``sys.path`` (rootdir-based ``prepend`` import mode, no
``__init__.py``). The fixtures need no import.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpd_analysis.cohort import Cohort

# Under pytest-xdist (``make test``) every core already runs a test worker: each report a test
# renders uses one kernel instead of two (the second kernel's start-up and imports would only
# compete with the other worker). Reports made outside the tests keep their default.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("HPD_REPORT_JOBS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most tests marked ``slow`` run first (a stable sort: the order within a
    file and among the other files is kept). ``make test`` schedules whole files on its workers
    (``--dist loadfile --no-loadscope-reorder``: files in this order, not by their number of
    tests), so a long file collected last would leave one worker running alone
    at the end."""
    slow: dict[str, int] = {}
    for item in items:
        slow[item.nodeid.split("::")[0]] = slow.get(item.nodeid.split("::")[0], 0) + int(
            item.get_closest_marker("slow") is not None
        )
    items.sort(key=lambda item: -slow[item.nodeid.split("::")[0]])


#: the registry's nine published definitions, in report order
NINE = [
    "champiat2017",
    "saada_bouzid2017",
    "ferrara2018",
    "kato2017",
    "lo_russo2019",
    "kim2019",
    "matos2020",
    "gandara2018_fp",
    "kas2020",
]


def make_table(
    flags: dict[str, list],
    reasons: dict[str, list] | None = None,
    status: bool = True,
    **extra: list,
) -> pd.DataFrame:
    """Classification table: hpd_<code> (nullable bool), _status, _reason, plus extra columns."""
    n = len(next(iter(flags.values())))
    out = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)]})
    for code, values in flags.items():
        flag = pd.array(values, dtype="boolean")
        out[f"hpd_{code}"] = flag
        if status:
            out[f"hpd_{code}_status"] = np.where(
                flag.isna(), "not_evaluable", np.where(flag.fillna(False), "hpd", "not_hpd")
            )
        default = np.where(flag.isna(), "no pre-baseline scan", "criteria evaluated")
        out[f"hpd_{code}_reason"] = (reasons or {}).get(code, default)
    for k, v in extra.items():
        out[k] = v
    return out


def with_hpd(flags: list, **cols: list) -> pd.DataFrame:
    """Classification table of one definition ``x`` (``hpd_x``, ``_status``, ``_reason``) with
    the patient columns ``cols``: the input of the risk-factor tests."""
    flag = pd.array(flags, dtype="boolean")
    out = pd.DataFrame({"patient_id": [f"P{i}" for i in range(len(flags))], "hpd_x": flag})
    out["hpd_x_status"] = np.where(
        flag.isna(), "not_evaluable", np.where(flag.fillna(False), "hpd", "not_hpd")
    )
    out["hpd_x_reason"] = np.where(flag.isna(), "no pre-baseline scan", "")
    for k, v in cols.items():
        out[k] = v
    return out


# ------------------------------------------------------------------ shared cohorts and reports
#
# A report run is the slow part of the suite. The tests that read a report share one run per
# parameter set: the session fixtures below, and module fixtures in the test files. `make test`
# runs the suite on every core with pytest-xdist's `--dist loadfile`: each file runs on one
# worker, and a session fixture is built once per worker that needs it, so the tests that read
# one run live in one file (the default report: all in test_report_numbers.py). The reports a
# worker renders in its own process share its kernel (`_kept_report_kernel`).


@pytest.fixture(scope="session", autouse=True)
def _kept_report_kernel() -> Iterator[None]:
    """The reports of one test process run on kernels kept from its previous report
    (:func:`hpd_analysis.report.keep_kernels`): each report after the first skips the kernel's
    start-up and imports. Each section still starts clean, and the reproducibility tests compare
    a run on kept kernels with one on fresh kernels (:func:`default_report_rerun`)."""
    from hpd_analysis.report import keep_kernels

    with keep_kernels():
        yield


#: the simulated cohort of the report tests: patients, seed
REPORT_COHORT = (120, 3)

#: the small simulated cohort of the report-folder and privacy tests: patients, seed
SMALL_COHORT = (60, 5)

#: fewer bootstrap replicates of the prediction tables (04_risk_factors), for report runs whose
#: tests do not read those tables' numbers (the defaults: 200 and 2000)
FAST_PREDICTION = {"prediction.optimism_replicates": 20, "prediction.auc_replicates": 200}

#: files every full report writes (the output contract of docs/cohort-format.md)
CONTRACT_FILES = (
    "index.html",
    "parameters.json",
    "tables/classification.csv",
    "tables/attrition.csv",
    "tables/incidence.csv",
    "tables/agreement.csv",
    "tables/table1.csv",
    "tables/odds_ratios.csv",
    "tables/survival.csv",
)


def stream_text(ipynb: Path) -> str:
    """The printed (stream) output of every code cell of an executed notebook, one text."""
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    return "\n".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def png_dpi(path: Path) -> tuple[float, float]:
    """Dots per inch from the PNG's pHYs chunk (read by hand: length, type, x, y, unit)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"pHYs":
            x, y, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            assert unit == 1  # pixels per metre
            return x * 0.0254, y * 0.0254
        pos += 12 + length
    raise AssertionError("no pHYs chunk")


def write_simulated_cohort(folder: Path, n_patients: int, seed: int) -> Path:
    """Write ``simulate_cohort(n_patients, seed)`` as a cohort folder; return the folder."""
    from hpd_analysis.simulate import simulate_cohort, write_cohort

    return write_cohort(simulate_cohort(n_patients=n_patients, seed=seed), folder)


@pytest.fixture(scope="session")
def example_cohort() -> Cohort:
    """The bundled example cohort (500 simulated patients), loaded once (read only)."""
    from hpd_analysis.datasets import load_example

    return load_example()


@pytest.fixture(scope="session")
def report_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated cohort (:data:`REPORT_COHORT`) of the shared report runs (read only)."""
    return write_simulated_cohort(
        tmp_path_factory.mktemp("report_cohort") / "cohort", *REPORT_COHORT
    )


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small simulated cohort (:data:`SMALL_COHORT`) of the report-folder tests (read only)."""
    return write_simulated_cohort(tmp_path_factory.mktemp("small_cohort") / "cohort", *SMALL_COHORT)


@pytest.fixture(scope="session")
def default_report(report_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full report on :func:`report_cohort` (read only), with the default parameters but
    for the prediction tables' bootstrap replicates (:data:`FAST_PREDICTION`: their tests are in
    test_prediction.py; at the defaults they take half the risk-factor section's time)."""
    from hpd_analysis.report import run_report

    return run_report(
        report_cohort,
        tmp_path_factory.mktemp("default_report") / "r",
        FAST_PREDICTION,
        progress=None,
    )


@pytest.fixture(scope="session")
def default_report_rerun(report_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second run of :func:`default_report`, into another folder, on fresh kernels (the
    reproducibility tests: the same bytes as the run on kernels kept from earlier reports)."""
    from hpd_analysis.report import keep_kernels, run_report

    with keep_kernels(False):
        return run_report(
            report_cohort,
            tmp_path_factory.mktemp("default_rerun") / "r",
            FAST_PREDICTION,
            progress=None,
        )
