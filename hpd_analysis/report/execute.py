"""Execution of the report: papermill runs each notebook in a fresh kernel, then the folder gets
``parameters.json`` and ``index.html``; :func:`run_report` is what ``hpd report`` calls."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import HPDError, ParameterError
from .render import _clean_notebook, _listing, _render_index, render_html
from .schema import (
    _fmt_value,
    default_parameters,
    notebook_parameters,
    redact_parameters,
    resolve_parameters,
)
from .section import ENV_KEY_FILE, ENV_PSEUDONYMIZE, ENV_SMALL_CELL, resolve_definitions

#: the notebook sections in report order: file stem → (title, one-line summary)
SECTIONS: dict[str, tuple[str, str]] = {
    "01_cohort": ("Cohort", "patients, scans per patient, time-point windows, attrition per definition"),
    "02_kinetics": ("Tumour kinetics", "TGR before vs on treatment, spider and waterfall plots, TGK"),
    "03_incidence_agreement": (
        "Incidence and agreement",
        "HPD incidence with 95 % CIs, agreement between definitions (Jaccard, kappa), UpSet, "
        "threshold sweep",
    ),
    "04_risk_factors": ("Risk factors", "Table 1 by HPD status, univariable and multivariable odds ratios"),
    "05_survival": ("Survival", "Kaplan–Meier OS and PFS by group, landmark analysis, hazard ratios"),
}


#: libraries whose versions go into parameters.json and index.html
LIBRARIES = (
    "numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib", "seaborn",
    "tableone", "papermill", "nbconvert", "nbclient", "ipykernel", "pyarrow",
)


KERNEL_NAME = "hpd-workbench"


def notebooks_dir() -> Path:
    """The folder of the report notebooks: ``notebooks/`` of the source tree."""
    here = Path(__file__).resolve().parent.parent  # the package folder
    for cand in (here.parent / "notebooks", here / "notebooks"):
        if cand.is_dir():
            return cand
    raise HPDError(f"report notebooks not found (looked in {here.parent / 'notebooks'}); "
                   "install the workbench from its source tree (pip install -e .)")


def select_sections(available: Sequence[str], sections: Sequence[str] | None) -> list[str]:
    """Sections to run, in report order: all when ``sections`` is None; each name may be the
    stem (``02_kinetics``), the name without its number (``kinetics``) or the number (``2``)."""
    if not sections:
        return list(available)
    wanted: set[str] = set()
    for s in sections:
        key = str(s).strip().removesuffix(".ipynb")
        match = [a for a in available
                 if key in (a, a.split("_", 1)[-1]) or (key.isdigit() and int(a.split("_")[0]) == int(key))]
        if not match:
            short = ", ".join(a.split("_", 1)[-1] for a in available)
            raise ParameterError(f"--sections {s}: no such section (expected one of: {short})")
        wanted.update(match)
    return [a for a in available if a in wanted]


def kernel_name() -> str:
    """``hpd-workbench`` when that Jupyter kernel is installed (``make setup``), else ``python3``."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception:  # pragma: no cover - jupyter_client missing or broken
        return "python3"
    return KERNEL_NAME if KERNEL_NAME in specs else "python3"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_checksums(cohort: str | Path) -> dict[str, str]:
    """SHA-256 of every input file: the cohort file, or every non-hidden file of the cohort folder
    (keys are paths relative to that folder, sorted)."""
    p = Path(cohort)
    if p.is_file():
        return {p.name: sha256_file(p)}
    files = sorted(f for f in p.rglob("*") if f.is_file()
                   and not any(part.startswith(".") for part in f.relative_to(p).parts))
    return {f.relative_to(p).as_posix(): sha256_file(f) for f in files}


def library_versions() -> dict[str, str]:
    """Versions of ``hpd_analysis`` itself and of the installed :data:`LIBRARIES` (``not
    installed`` when absent)."""
    out = {"hpd_analysis": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _command(cohort_arg: str, parameters: Mapping[str, Any] | None,
             parameters_file: str | Path | None, sections: Sequence[str] | None) -> str:
    parts = ["hpd report", f"--cohort {cohort_arg}"]
    if parameters_file:
        parts.append(f"--parameters {parameters_file}")
    for k, v in (parameters or {}).items():
        parts.append(f"--set {k}={_fmt_value(v)}")
    if sections:
        parts.append("--sections " + " ".join(map(str, sections)))
    return " ".join(parts)


def _error_summary(exc: Exception) -> tuple[str, str]:
    """(where, what) of a papermill execution error."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = str(getattr(exc, "evalue", exc)).strip()
    evalue = re.sub(r"\x1b\[[0-9;]*m", "", evalue)
    count = getattr(exc, "exec_count", None)
    index = getattr(exc, "cell_index", None)
    where = f"cell [{count}]" if count is not None else (f"cell #{index}" if index is not None else "a cell")
    return where, f"{ename}: {evalue}" if evalue else ename


def run_report(
    cohort: str | Path,
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    parameters_file: str | Path | None = None,
    sections: Sequence[str] | None = None,
    *,
    notebooks: str | Path | None = None,
    progress: Callable[[str], None] | None = print,
) -> Path:
    """Execute the report notebooks on ``cohort`` and write the report to ``out``; return ``out``.

    ``parameters`` are ``--set`` overrides and ``parameters_file`` a YAML file of report
    parameters (see :func:`resolve_parameters`); ``sections`` selects notebooks (default all);
    ``notebooks`` overrides the notebook folder (tests). Prints one progress line per notebook.
    A run of every section first removes the ``tables/*.csv`` and ``figures/*.png|svg`` of a
    previous run in ``out``, so that the index lists only what this run wrote.
    A failing cell raises :class:`HPDError` naming the section, the cell and its error; the
    partially executed notebook, its HTML, ``parameters.json`` and ``index.html`` are kept.
    """
    import logging

    # papermill logs every parameter it cannot type-infer and each injected name: noise here
    logging.getLogger("papermill").setLevel(logging.ERROR)
    say = progress or (lambda _msg: None)
    cohort_arg = str(cohort)
    cohort_path = Path(cohort).expanduser()
    if not cohort_path.exists():
        raise HPDError(f"cohort {cohort_arg}: no such file or folder")
    cohort_path = cohort_path.resolve()
    resolved = resolve_parameters(parameters, parameters_file)
    if resolved["pseudonymize"]:
        from ..privacy import read_key

        read_key(resolved["pseudonym_key_file"])  # no usable key: fail before any notebook runs
    from ..definitions import describe_definitions

    definitions_used = describe_definitions(resolve_definitions(
        resolved["definitions"], resolved["definitions_file"], resolved["definition_parameters"]
    )).to_dict(orient="records")
    nb_dir = Path(notebooks) if notebooks is not None else notebooks_dir()
    available = sorted(p.stem for p in nb_dir.glob("[0-9]*.ipynb"))
    if not available:
        raise HPDError(f"no report notebooks (NN_name.ipynb) in {nb_dir}")
    chosen = select_sections(available, sections)

    out = Path(out).expanduser().resolve()
    for sub in ("", "tables", "figures"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if not sections:  # a full run replaces the previous one: no stale table or figure survives
        for pattern in ("tables/*.csv", "figures/*.png", "figures/*.svg"):
            for stale in out.glob(pattern):
                stale.unlink()
    checksums = input_checksums(cohort_path)
    kernel = kernel_name()
    nb_params = notebook_parameters(resolved, str(cohort_path), str(out))

    status: dict[str, dict[str, str]] = {s: {"status": "not run", "error": ""} for s in chosen}
    with _kernel_environment(resolved):
        failure = _execute_sections(chosen, nb_dir, out, nb_params, kernel, status, say)
    recorded = redact_parameters(resolved)
    overrides_recorded = redact_parameters(parameters or {})
    _write_parameters_json(out, recorded, overrides_recorded, cohort_arg, checksums, chosen,
                           status, kernel, definitions_used)
    tables, figures = _listing(out)
    defaults = default_parameters()
    _render_index(out, {
        "cohort_name": cohort_path.name,
        "n_files": len(checksums),
        "version": __version__,
        "primary": resolved["primary_definition"],
        "privacy": _privacy_notes(resolved),
        "sections": [
            {"html": f"{s}.html", "ipynb": f"{s}.ipynb",
             "title": SECTIONS.get(s, (s, ""))[0], "summary": SECTIONS.get(s, ("", ""))[1],
             **status[s]}
            for s in chosen
        ],
        "tables": tables,
        "figures": figures,
        "parameters": [
            {"name": k, "value": _fmt_value(v), "default": _fmt_value(defaults[k]),
             "changed": _fmt_value(v) != _fmt_value(defaults[k])}
            for k, v in recorded.items()
        ],
        "checksums": list(checksums.items()),
        "python": platform.python_version(),
        "libraries": list(library_versions().items()),
        "kernel": kernel,
        "command": _command(cohort_arg, overrides_recorded, parameters_file, sections),
    })
    if failure is not None:
        raise failure
    return out


def _privacy_notes(resolved: Mapping[str, Any]) -> list[str]:
    """Sentences for the index page saying which privacy options were on."""
    notes = []
    if resolved["pseudonymize"]:
        notes.append("patient identifiers replaced by keyed pseudonyms")
    k = int(resolved["small_cell_threshold"])
    if k > 1:
        notes.append(f"counts 1–{k - 1} in aggregate tables shown as &lt;{k}")
    return notes


class _kernel_environment:
    """Context manager: the privacy settings in the environment that notebook kernels inherit
    (``$HPD_REPORT_*``), restored on exit."""

    def __init__(self, resolved: Mapping[str, Any]) -> None:
        import os

        self._os = os
        self._values = {
            ENV_PSEUDONYMIZE: "1" if resolved["pseudonymize"] else "0",
            ENV_SMALL_CELL: str(int(resolved["small_cell_threshold"])),
            ENV_KEY_FILE: resolved["pseudonym_key_file"] or "",
        }
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for k, v in self._values.items():
            self._saved[k] = self._os.environ.get(k)
            self._os.environ[k] = v

    def __exit__(self, *exc: object) -> None:
        for k, v in self._saved.items():
            if v is None:
                self._os.environ.pop(k, None)
            else:
                self._os.environ[k] = v


def _execute_sections(chosen: Sequence[str], nb_dir: Path, out: Path, nb_params: dict[str, Any],
                      kernel: str, status: dict[str, dict[str, str]],
                      say: Callable[[str], None]) -> HPDError | None:
    """Execute the chosen notebooks in order (papermill), clean and render each; stop at the
    first failure and return it (None when every section ran)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    failure: HPDError | None = None
    for i, name in enumerate(chosen, start=1):
        src = nb_dir / f"{name}.ipynb"
        dst = out / f"{name}.ipynb"
        html = out / f"{name}.html"
        title = SECTIONS.get(name, (name.split("_", 1)[-1].replace("_", " "), ""))[0]
        start = time.perf_counter()
        error: Exception | None = None
        try:
            pm.execute_notebook(
                str(src), str(dst), parameters=nb_params, kernel_name=kernel, cwd=str(out),
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                # the kernel's own log (ipykernel's TCP warning, the interrupt at shutdown) is noise;
                # cell errors still reach papermill
                extra_arguments=["--log-level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            error = exc
        except Exception as exc:  # kernel failed to start, died, timed out ...
            error = exc
        elapsed = time.perf_counter() - start
        if dst.exists():
            _clean_notebook(dst, f"notebooks/{src.name}")
            render_html(dst, html, f"HPD report — {title}")
        if error is None:
            status[name] = {"status": "ok", "error": ""}
            say(f"[{i}/{len(chosen)}] {name.split('_', 1)[-1]} … {elapsed:.1f} s")
            continue
        where, what = _error_summary(error)
        status[name] = {"status": "failed", "error": f"{where}: {what}"}
        say(f"[{i}/{len(chosen)}] {name.split('_', 1)[-1]} … FAILED after {elapsed:.1f} s")
        kept = ", ".join(p.name for p in (dst, html) if p.exists()) or "nothing"
        failure = HPDError(
            f"section {name} failed in {where}: {what}\n"
            f"partial output kept in {out} ({kept})"
        )
        break
    return failure


def _write_parameters_json(out: Path, resolved: Mapping[str, Any], overrides: Mapping[str, Any] | None,
                           cohort_arg: str, checksums: Mapping[str, str], sections: Sequence[str],
                           status: Mapping[str, Mapping[str, str]], kernel: str,
                           definitions: Sequence[Mapping[str, Any]] = ()) -> Path:
    doc = {
        "package": {"name": "hpd-analysis", "version": __version__},
        "cohort": cohort_arg,
        "parameters": dict(resolved),
        # every definition applied, with its citation, rule and the thresholds used
        "definitions": [dict(d) for d in definitions],
        "overrides": {k: v for k, v in (overrides or {}).items()},
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
