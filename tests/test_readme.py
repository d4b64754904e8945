"""The README's Python snippets run as written ("Bring your own cohort", "Explore
interactively"): every fenced ```python block, in order, in one namespace, from the repository
root (as a new user pastes them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    """The fenced ```python blocks of a Markdown text."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_python_blocks_are_found():
    blocks = python_blocks("x\n```python\na = 1\n```\n```bash\nls\n```\n```python\nb = 2\n```\n")
    assert blocks == ["a = 1\n", "b = 2\n"]


def test_readme_python_snippets_run(monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 2
    assert any("load_cohort(patients=" in b for b in blocks)  # Bring your own cohort
    assert any("hpd.explore(" in b for b in blocks)  # Explore interactively
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
    # what the snippets promise
    mine = namespace["mine"].table.iloc[0]
    assert mine["recist_first_eval"] == "PD"  # 24 -> 45 mm: +87.5 %
    assert mine["tgr_on"] > mine["tgr_pre"] > 0
    res = namespace["res"]
    assert res.params.windows.first_eval_min_days == 21
    assert namespace["explorer"].result.codes == res.codes
    assert os.path.isfile(ROOT / "docs" / "img" / "explorer.png")
