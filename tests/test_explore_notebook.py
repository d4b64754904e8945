"""notebooks/00_explore.ipynb, the guided tour: executed with papermill on the project kernel (as
the report notebooks are), it runs without error and shows what it says. Slow (one kernel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from hpd_analysis.report import SECTIONS, kernel_name

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_explore.ipynb"


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", ""))
        data = o.get("data", {})
        out.append(
            data.get("text/plain", "")
            if isinstance(data.get("text/plain"), str)
            else "".join(data.get("text/plain", []))
        )
        out.append(
            data.get("text/html", "")
            if isinstance(data.get("text/html"), str)
            else "".join(data.get("text/html", []))
        )
    return "".join(out)


def test_tour_is_not_a_report_section():
    assert NOTEBOOK.stem not in SECTIONS
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.slow
def test_tour_runs_with_papermill(tmp_path):
    out = tmp_path / "00_explore.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name=kernel_name(),
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        extra_arguments=["--log-level=CRITICAL"],
    )
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in code for o in c.get("outputs", []))
    assert "500 patients" in _text(code[0])
    assert "Classification of 500 patients under 9 definition(s)" in _text(code[2])
    strict = next(c for c in code if 'delta_tgr_min": 100' in c.source)
    assert "ferrara2018.delta_tgr_min=100" in _text(strict)
    assert "windows.first_eval_min_days=21" in _text(strict)
    # the explorer is displayed as a widget, and driven from code gives classify's count
    widget = code[-2]
    assert any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        for o in widget.get("outputs", [])
    )
    a, b = (int(x) for x in re.findall(r"(?:explorer|classify): (\d+)", _text(code[-1])))
    assert a == b
    # the kernel stored the widgets' state (what a saved notebook shows without a kernel)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert json.dumps(state).count("FloatSlider") >= 1
