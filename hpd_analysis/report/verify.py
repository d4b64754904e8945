"""``hpd verify REPORT_DIR --cohort COHORT``: a reviewer's check that a report folder is what its
cohort and recorded parameters give.

It compares the cohort's SHA-256 with those recorded in ``parameters.json``, reruns the report
into a temporary folder with the recorded parameters (and sections), and compares every table
byte for byte. Each difference is one line; no difference means the report is reproduced.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import HPDError
from .execute import DEFINITIONS_COPY, SECTIONS, input_checksums, run_report
from .schema import PRIVATE_PARAMETERS, default_parameters


def recorded_overrides(report_dir: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``parameters.json`` that differ from today's defaults (what a rerun
    must set); the copy of a definitions file is read from the report folder."""
    defaults = default_parameters()
    out: dict[str, Any] = {}
    for k, v in doc.get("parameters", {}).items():
        if k in PRIVATE_PARAMETERS or k not in defaults or v == defaults[k]:
            continue
        out[k] = str(report_dir / DEFINITIONS_COPY) if k == "definitions_file" else v
    return out


def _first_difference(a: bytes, b: bytes) -> str:
    la, lb = a.decode("utf-8", "replace").splitlines(), b.decode("utf-8", "replace").splitlines()
    for i, (x, y) in enumerate(zip(la, lb, strict=False), start=1):
        if x != y:
            return f"line {i}: report {x[:80]!r}, rerun {y[:80]!r}"
    return f"{len(la)} lines in the report, {len(lb)} in the rerun"


def verify_report(
    report_dir: str | Path, cohort: str | Path, progress: Callable[[str], None] | None = print
) -> list[str]:
    """Differences between the report in ``report_dir`` and a rerun on ``cohort`` with the
    recorded parameters: input files whose SHA-256 differ (or are missing / new), tables missing
    on one side or whose bytes differ. An empty list means the report is reproduced."""
    report_dir = Path(report_dir).expanduser().resolve()
    doc_path = report_dir / "parameters.json"
    if not doc_path.is_file():
        raise HPDError(f"{report_dir}: no parameters.json (not a report folder made by hpd report)")
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    say = progress or (lambda _msg: None)
    diffs: list[str] = []
    recorded = doc.get("input_checksums_sha256", {})
    now = input_checksums(Path(cohort).expanduser())
    for name in sorted(set(recorded) | set(now)):
        if name not in now:
            diffs.append(f"input {name}: recorded in the report, missing from {cohort}")
        elif name not in recorded:
            diffs.append(f"input {name}: in {cohort}, not an input of the report")
        elif now[name] != recorded[name]:
            diffs.append(
                f"input {name}: SHA-256 differs (report {recorded[name][:12]}…, "
                f"now {now[name][:12]}…)"
            )
    sections = list(doc.get("sections", {}))
    chosen = sections if sections and sorted(sections) != sorted(SECTIONS) else None
    with tempfile.TemporaryDirectory(prefix="hpd-verify-") as tmp:
        say(f"rerunning the report of {report_dir.name} on {Path(cohort).name} …")
        rerun = run_report(
            cohort,
            Path(tmp) / report_dir.name,
            recorded_overrides(report_dir, doc),
            sections=chosen,
            progress=say,
        )
        mine = {p.name: p for p in (report_dir / "tables").glob("*.csv")}
        theirs = {p.name: p for p in (rerun / "tables").glob("*.csv")}
        for name in sorted(set(mine) | set(theirs)):
            if name not in theirs:
                diffs.append(f"table {name}: in the report, not made by the rerun")
            elif name not in mine:
                diffs.append(f"table {name}: made by the rerun, missing from the report")
            else:
                a, b = mine[name].read_bytes(), theirs[name].read_bytes()
                if a != b:
                    diffs.append(f"table {name}: differs ({_first_difference(a, b)})")
        if not diffs:
            say(f"{len(mine)} tables identical byte for byte; {len(now)} input files match")
    return diffs
