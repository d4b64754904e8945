"""The habits of issue 18, checked on the package's source so that they keep holding: keyword
arguments past three, no function longer than 100 lines, no private name imported from another
module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hpd_analysis"

#: functions whose signature another library fixes (papermill calls its engines positionally)
FOREIGN_SIGNATURES = {"execute_managed_notebook"}


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((where, node))
    return out


def test_the_source_is_read():
    names = {node.name for _, node in _functions()}
    assert {"classify_table", "load_cohort", "run_report", "survival_data"} <= names


def test_parameters_past_the_third_are_keyword_only():
    offenders = []
    for where, node in _functions():
        positional = [a.arg for a in node.args.posonlyargs + node.args.args]
        if positional[:1] in (["self"], ["cls"]):
            positional = positional[1:]
        if len(positional) > 3 and node.name not in FOREIGN_SIGNATURES:
            offenders.append(f"{where}:{node.lineno} {node.name}({', '.join(positional)})")
    assert offenders == []


def test_no_function_is_longer_than_100_lines():
    long = [
        f"{where}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for where, node in _functions()
        if node.end_lineno is not None and node.end_lineno - node.lineno + 1 > 100
    ]
    assert long == []


def test_no_private_name_is_imported_from_another_module():
    imports = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            ours = node.level > 0 or (node.module or "").split(".")[0] == "hpd_analysis"
            for alias in node.names if ours else []:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    imports.append(f"{path.name}: from {node.module} import {alias.name}")
    assert imports == []
