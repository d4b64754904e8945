"""What a report folder records for its readers and reviewers: ``parameters.json`` (every
parameter, the definitions applied, versions, SHA-256 of every input file), ``reproduce.sh``
(the command line that rebuilds the report), ``index.html`` and the manifest of the files written.

Paths are relative to the report folder (the cohort also by its name and checksums): no
absolute path of the machine that made the report.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .folder import write_manifest
from .render import render_index, report_listing
from .schema import PRIVATE_PARAMETERS, default_parameters, parameter_text, redact_parameters

#: the file holding the command line that reproduces the report
REPRODUCE = "reproduce.sh"


def finalize(
    build: Path,
    out: Path,
    cohort: Path,
    *,
    resolved: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    sections: Sequence[str],
    status: Mapping[str, Mapping[str, str]],
    kernel: str,
    definitions: Sequence[Any],
    partial: bool = False,
) -> None:
    """The last step of a build, once every section ran (or one failed): files made from the
    whole report, then ``parameters.json``, ``reproduce.sh``, ``index.html`` and the manifest
    (last: it lists everything above)."""
    from ..definitions import describe_definitions
    from .execute import DEFINITIONS_COPY, SECTIONS, input_checksums, library_versions

    # --- outputs made from the whole report (tables, figures) go here ---

    recorded = redact_parameters(resolved)
    if resolved["definitions_file"] is not None:
        recorded["definitions_file"] = DEFINITIONS_COPY
    given = {
        k: (DEFINITIONS_COPY if k == "definitions_file" and v is not None else v)
        for k, v in redact_parameters(overrides or {}).items()
    }
    checksums = input_checksums(cohort)
    cohort_rel = portable_path(cohort, out)
    command = reproduce_command(cohort, out, recorded, sections=sections if partial else None)
    write_parameters_json(
        build,
        recorded,
        given,
        cohort_rel=cohort_rel,
        cohort_name=cohort.name,
        checksums=checksums,
        sections=sections,
        status=status,
        kernel=kernel,
        definitions=describe_definitions(definitions).to_dict(orient="records"),
    )
    write_reproduce_script(
        build, cohort, out, command=command, pseudonymized=bool(resolved["pseudonymize"])
    )
    failed = [s for s in sections if status[s]["status"] == "failed"]
    if not failed:  # Word tables for a manuscript, from the tables and parameters.json written
        from ..docx_report import write_report_docx

        write_report_docx(build)
    tables, figures = report_listing(build)
    defaults = default_parameters()
    render_index(
        build,
        {
            "cohort_name": cohort.name,
            "n_files": len(checksums),
            "version": __version__,
            "primary": resolved["primary_definition"],
            "privacy": _privacy_notes(resolved),
            "incomplete": [
                {"name": s, "title": SECTIONS.get(s, (s, ""))[0], "error": status[s]["error"]}
                for s in failed
            ],
            "sections": [
                {
                    "html": f"{s}.html",
                    "ipynb": f"{s}.ipynb",
                    "title": SECTIONS.get(s, (s, ""))[0],
                    "summary": SECTIONS.get(s, ("", ""))[1],
                    **status[s],
                }
                for s in sections
            ],
            "tables": tables,
            "docx": "tables.docx" if (build / "tables.docx").is_file() else None,
            "figures": figures,
            "parameters": [
                {
                    "name": k,
                    "value": parameter_text(v),
                    "default": parameter_text(defaults[k]),
                    "changed": parameter_text(v) != parameter_text(defaults[k]),
                }
                for k, v in recorded.items()
            ],
            "checksums": list(checksums.items()),
            "python": platform.python_version(),
            "libraries": list(library_versions().items()),
            "kernel": kernel,
            "command": command,
        },
    )
    write_manifest(build)


def write_reproduce_script(
    build: Path, cohort: Path, out: Path, *, command: str, pseudonymized: bool
) -> Path:
    """Write ``<build>/reproduce.sh``: ``command`` (the ``hpd report`` line that rebuilds the
    report ``out`` from ``cohort``) run from the report's parent folder, with what a reader must
    know first (the key of a pseudonymized report; a cohort recorded by name only)."""
    path = build / REPRODUCE
    path.write_text(
        "#!/bin/sh\n"
        "# Rebuilds this report with the parameters it was made with (parameters.json).\n"
        "# The cohort's files must have the SHA-256 listed there: `hpd verify` checks them and\n"
        "# compares every table byte for byte.\n"
        + (
            "# Pseudonymized report: set $HPD_PSEUDONYM_KEY to the same key first.\n"
            if pseudonymized
            else ""
        )
        + (
            ""
            if portable_path(cohort, out.parent) != cohort.name or cohort.parent == out.parent
            else f"# --cohort {cohort.name}: only the cohort's name is recorded; give its path.\n"
        )
        + 'cd "$(dirname "$0")/.." || exit 1\n'
        + command
        + "\n",
        encoding="utf-8",
    )
    return path


def portable_path(target: Path, base: Path) -> str:
    """``target`` relative to ``base`` (POSIX) when they share a folder below the file-system
    root; else ``target``'s name only (a path climbing to the root would spell out the
    machine's folders)."""
    common = Path(os.path.commonpath([target, base]))
    if common == Path(common.anchor):
        return target.name
    return Path(os.path.relpath(target, base)).as_posix()


def _set_value(v: Any) -> str:
    """A value as ``--set`` reads it back (YAML scalars; lists as ``[a, b]``)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v)


def reproduce_command(
    cohort: Path, out: Path, recorded: Mapping[str, Any], *, sections: Sequence[str] | None = None
) -> str:
    """``hpd report`` command line, run from the folder holding the report, that rebuilds it:
    the cohort relative to that folder, every parameter that differs from its default as
    ``--set`` (private ones left out), the sections when not all were run."""
    defaults = default_parameters()
    parts = ["hpd", "report", "--cohort", portable_path(cohort, out.parent), "--out", out.name]
    for k, v in recorded.items():
        if k in PRIVATE_PARAMETERS or v == defaults.get(k):
            continue
        if k == "definition_parameters":
            for code, values in (v or {}).items():
                for name, value in values.items():
                    parts += ["--set", f"{code}.{name}={_set_value(value)}"]
        elif k == "definitions_file":
            parts += ["--set", f"definitions_file={out.name}/{v}"]
        else:
            parts += ["--set", f"{k}={_set_value(v)}"]
    if sections:
        parts += ["--sections", *sections]
    return " ".join(shlex.quote(p) for p in parts)


def _privacy_notes(resolved: Mapping[str, Any]) -> list[str]:
    """Sentences for the index page saying which privacy options were on."""
    notes = []
    if resolved["pseudonymize"]:
        notes.append("patient identifiers replaced by keyed pseudonyms")
    k = int(resolved["small_cell_threshold"])
    if k > 1:
        notes.append(f"counts 1–{k - 1} in aggregate tables shown as &lt;{k}")
    return notes


def write_parameters_json(
    out: Path,
    resolved: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    *,
    cohort_rel: str,
    cohort_name: str,
    checksums: Mapping[str, str],
    sections: Sequence[str],
    status: Mapping[str, Mapping[str, str]],
    kernel: str,
    definitions: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """``parameters.json`` of a report folder (see the module docstring)."""
    from .execute import library_versions

    doc = {
        "package": {"name": "hpd-analysis", "version": __version__},
        # the cohort relative to the report folder, and its folder name
        "cohort": cohort_rel,
        "cohort_name": cohort_name,
        "parameters": dict(resolved),
        # every definition applied, with its citation, rule and the thresholds used
        "definitions": [dict(d) for d in definitions],
        "overrides": dict(overrides or {}),
        "input_checksums_sha256": dict(checksums),
        "sections": {s: dict(status[s]) for s in sections},
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sys.platform,
        "libraries": library_versions(),
        "kernel": kernel,
    }
    path = out / "parameters.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path
