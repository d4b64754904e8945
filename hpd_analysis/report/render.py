"""HTML of the report: executed notebooks cleaned of run-dependent metadata and rendered to
self-contained pages, and the ``index.html`` of the report folder."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def clean_notebook(path: Path, notebook_source: str) -> None:
    """Remove run-dependent metadata (timings, absolute paths) from an executed notebook."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "output_path"):
        pm.pop(key, None)
    if "input_path" in pm:
        pm["input_path"] = notebook_source
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cpm = cell.metadata.get("papermill")
        if cpm is not None:
            for key in ("start_time", "end_time", "duration"):
                cpm.pop(key, None)
    nbformat.write(nb, path)


_EXPORTER_LOCK = threading.Lock()


@functools.cache
def _section_exporter() -> Any:
    """The nbconvert exporter of the section pages (JupyterLab template with the workbench's
    ``hpd_section.html.j2``), built once per process: sections finishing on two threads share it
    under :data:`_EXPORTER_LOCK`."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_TEMPLATES)],
        template_file="hpd_section.html.j2",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def render_html(ipynb: Path, html: Path, title: str) -> Path:
    """Render an executed notebook to self-contained HTML: no prompts, code folded, no network
    assets (no require.js / MathJax / mermaid from a CDN)."""
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    nb.metadata["title"] = title
    with _EXPORTER_LOCK:  # one exporter (its templates compiled once), one page at a time
        body, _ = _section_exporter().from_notebook_node(
            nb, resources={"metadata": {"name": title}}
        )
    html.write_text(body, encoding="utf-8")
    return html


def render_index(out: Path, context: dict[str, Any]) -> Path:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,
        keep_trailing_newline=True,
    )
    text = env.get_template("index.html.j2").render(**context)
    path = out / "index.html"
    path.write_text(text, encoding="utf-8")
    return path


def report_listing(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    tables = sorted(p.relative_to(out).as_posix() for p in (out / "tables").glob("*.csv"))
    names = sorted(
        {p.stem for p in (out / "figures").glob("*.png")}
        | {p.stem for p in (out / "figures").glob("*.svg")}
    )
    figures = [{"name": n, "png": f"figures/{n}.png", "svg": f"figures/{n}.svg"} for n in names]
    return tables, figures
