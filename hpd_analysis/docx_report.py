"""``tables.docx``: the report's main tables as a Word document a journal takes (python-docx).

Table 1, incidence, agreement, odds ratios and survival, read back from the CSV files the report
wrote under ``tables/`` and typeset by :mod:`hpd_analysis.tables` (the same display tables the
HTML pages show): a numbered title above each table, a rule above and below the column labels
and under the last row and no other gridlines (the "three-line table" of journal style), the
footnotes naming every test and CI method under it, 9-point text, landscape pages when a table
is wide. Epidemiologists paste these into manuscripts; the CSVs stay machine-readable.

The file is reproducible: the same CSVs give the same bytes (the core properties and the dates of
the zip members are fixed values).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import tables as tfmt

#: the tables of ``tables.docx`` in order: CSV stem → what is written when the CSV is missing
DOCX_TABLES: tuple[str, ...] = ("table1", "incidence", "agreement", "odds_ratios", "survival")

#: file name of the Word document beside index.html
DOCX_NAME = "tables.docx"

_FONT_PT = 9
_WIDE_COLUMNS = 6  # tables with more columns get a landscape section


def read_report_table(path: str | Path) -> pd.DataFrame:
    """A table the report wrote (``tables/<name>.csv``), every cell as text (empty cells as
    ``""``), so that what is typeset is exactly what the CSV holds."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _report_context(report_dir: Path) -> dict[str, Any]:
    """Definitions in force, primary definition and variable labels of a report folder, from
    its ``parameters.json`` (empty when absent or unreadable)."""
    path = report_dir / "parameters.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    params = doc.get("parameters", {}) or {}
    out: dict[str, Any] = {
        "primary": params.get("primary_definition"),
        "group_by": params.get("group_by"),
        "table1_by": params.get("table1_by"),
    }
    try:
        from .report import resolve_definitions

        out["definitions"] = resolve_definitions(
            params.get("definitions"),
            params.get("definitions_file"),
            params.get("definition_parameters"),
        )
    except Exception:  # a moved definitions file: labels fall back to the registry
        out["definitions"] = None
    return out


def report_display_tables(report_dir: str | Path) -> list[pd.DataFrame]:
    """The display tables of ``tables.docx``, in order (:data:`DOCX_TABLES`; a table whose CSV
    the report did not write is skipped), each with ``attrs["title"]`` and
    ``attrs["footnotes"]``."""
    report_dir = Path(report_dir)
    ctx = _report_context(report_dir)
    defs = ctx.get("definitions")
    out: list[pd.DataFrame] = []
    for name in DOCX_TABLES:
        path = report_dir / "tables" / f"{name}.csv"
        if not path.is_file():
            continue
        raw = read_report_table(path)
        if raw.empty:
            continue
        if name == "table1":
            group = _table1_group_name(raw, ctx, defs)
            shown = tfmt.format_table1(raw, group_name=group)
        elif name == "incidence":
            shown = tfmt.format_incidence(raw, defs)
        elif name == "agreement":
            shown = tfmt.format_agreement(raw, defs)
        elif name == "odds_ratios":
            primary = ctx.get("primary")
            outcome = None
            if primary:
                from .definitions import definition_labels

                outcome = f"HPD ({definition_labels([primary], defs)[primary]})"
            shown = tfmt.format_odds_ratios(raw, outcome=outcome)
        else:
            shown = tfmt.format_survival(raw, defs)
        out.append(shown)
    return out


def _table1_group_name(
    raw: pd.DataFrame, context: dict[str, Any], definitions: Sequence[Any] | None
) -> str | None:
    """The grouping of Table 1 in words: ``table1_by`` when the report sets it (a definition
    code: HPD status under it; else the label of the patient column), else the report's rule
    (``Section.risk_grouping``): HPD status under the primary definition when it has HPD and
    non-HPD patients, else ``group_by``; None for a single column."""
    from .definitions import definition_labels

    fixed = {"variable", "level", "statistic", "overall", "missing", "test", "p_value", "smd"}
    groups = [c for c in raw.columns if c not in fixed]
    primary, group_by, table1_by = (context.get(k) for k in ("primary", "group_by", "table1_by"))
    if len(groups) < 2:
        return None
    if table1_by:
        code = str(table1_by).removeprefix("hpd_")
        names = definition_labels([code], definitions)
        if names[code] != code or code == primary:  # a definition
            return f"HPD status ({names[code]})"
        return tfmt.variable_label(str(table1_by))
    if not primary:
        return None
    hpd = f"HPD status ({definition_labels([primary], definitions)[primary]})"
    if group_by is None:  # grouped at all: then by HPD status (no need to import the labels)
        return hpd
    from .incidence import HPD_LABEL, NON_HPD_LABEL

    return hpd if {HPD_LABEL, NON_HPD_LABEL} <= set(groups) else tfmt.variable_label(group_by)


def write_docx(
    display_tables: Sequence[pd.DataFrame], path: str | Path, heading: str = "HPD report: tables"
) -> Path:
    """Write display tables (from :mod:`hpd_analysis.tables`) into a Word document: one
    numbered title, the table and its footnotes each; return the path."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Pt

    doc = Document()
    _fixed_properties(doc)
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(_FONT_PT + 1)
    doc.add_heading(heading, level=1)
    for k, table in enumerate(display_tables, start=1):
        if k > 1 or table.shape[1] > _WIDE_COLUMNS:
            section = doc.add_section()
            wide = table.shape[1] > _WIDE_COLUMNS
            if (section.orientation == WD_ORIENT.LANDSCAPE) != wide:
                section.orientation = WD_ORIENT.LANDSCAPE if wide else WD_ORIENT.PORTRAIT
                section.page_width, section.page_height = section.page_height, section.page_width
        title = str(table.attrs.get("title", f"Table {k}"))
        if not title.lower().startswith("table "):
            title = f"Table {k}. {title}"
        p = doc.add_paragraph()
        run = p.add_run(title)
        run.bold = True
        data = table.reset_index(drop=True).astype(str)
        grid = doc.add_table(rows=1, cols=data.shape[1])
        grid.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, col in zip(grid.rows[0].cells, data.columns, strict=True):
            _cell_text(cell, str(col), bold=True)
        for row in data.itertuples(index=False):
            # one add_row per row: table.cell(i, j) walks the whole table each time
            for cell, value in zip(grid.add_row().cells, row, strict=True):
                text = "" if value in ("nan", "<NA>") else str(value)
                _cell_text(cell, text, indent=text.startswith("    "))
        _three_line_borders(grid)
        _column_widths(grid, doc.sections[-1], data.shape[1])
        for note in table.attrs.get("footnotes", []):
            fp = doc.add_paragraph()
            fr = fp.add_run(str(note))
            fr.font.size = Pt(_FONT_PT - 1)
    path = Path(path)
    doc.save(str(path))
    _fixed_zip_times(path)
    return path


#: the date written for every member of the document's zip archive (zip's earliest date)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _fixed_zip_times(path: Path) -> None:
    """Rewrite the .docx archive with the same members in the same order and a fixed date on
    each (python-docx stamps them with the time of writing), so that the same tables give the
    same bytes."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


def write_report_docx(report_dir: str | Path) -> Path:
    """Write ``<report_dir>/tables.docx`` from the tables the report wrote (Table 1, incidence,
    agreement, odds ratios, survival; see :func:`report_display_tables`); return its path."""
    report_dir = Path(report_dir)
    return write_docx(report_display_tables(report_dir), report_dir / DOCX_NAME)


def read_docx_tables(path: str | Path) -> list[pd.DataFrame]:
    """The tables of a Word document as DataFrames of text (first row = column labels); what
    a test or a reviewer reads back."""
    from docx import Document

    out = []
    for t in Document(str(path)).tables:
        rows = [[c.text for c in r.cells] for r in t.rows]
        out.append(pd.DataFrame(rows[1:], columns=rows[0]))
    return out


# --------------------------------------------------------------------------------------------
# python-docx helpers


def _fixed_properties(doc: Any) -> None:
    """Core properties with fixed values (no creation time, no author), for reproducible
    documents."""
    fixed = _dt.datetime(2000, 1, 1)
    props = doc.core_properties
    props.author = "hpd-analysis"
    props.last_modified_by = "hpd-analysis"
    props.created = fixed
    props.modified = fixed
    props.revision = 1
    props.title = "HPD report: tables"


def _cell_text(cell: Any, text: str, bold: bool = False, *, indent: bool = False) -> None:
    from docx.shared import Pt

    par = cell.paragraphs[0]
    if indent:
        par.paragraph_format.left_indent = Pt(10)
        text = text.lstrip()
    run = par.add_run(text)
    run.bold = bold
    run.font.size = Pt(_FONT_PT)
    par.paragraph_format.space_after = Pt(0)


def _column_widths(table: Any, section: Any, n_cols: int) -> None:
    """The first column (the labels) takes a third of the text width, the others share the
    rest (Word otherwise gives every column the same width)."""
    from docx.shared import Emu

    text_width = section.page_width - section.left_margin - section.right_margin
    first = int(text_width * (0.34 if n_cols > 2 else 0.5))
    other = int((text_width - first) / max(n_cols - 1, 1))
    table.autofit = False
    for j, column in enumerate(table.columns):  # the grid (what most readers use) ...
        column.width = Emu(first if j == 0 else other)
    for row in table.rows:  # ... and each cell (what Word uses)
        for j, cell in enumerate(row.cells):
            cell.width = Emu(first if j == 0 else other)


def _three_line_borders(table: Any) -> None:
    """No gridlines but a rule above and below the column labels and under the last row."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl = table._tbl
    tbl_pr = tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        on = edge in ("top", "bottom")
        el.set(qn("w:val"), "single" if on else "nil")
        if on:
            el.set(qn("w:sz"), "8")
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        borders.append(el)
    tbl_pr.append(borders)
    for cell in table.rows[0].cells:
        tc_pr = cell._tc.get_or_add_tcPr()
        tc_borders = OxmlElement("w:tcBorders")
        bottom = OxmlElement("w:bottom")
        bottom.set(qn("w:val"), "single")
        bottom.set(qn("w:sz"), "6")
        bottom.set(qn("w:space"), "0")
        bottom.set(qn("w:color"), "000000")
        tc_borders.append(bottom)
        tc_pr.append(tc_borders)
