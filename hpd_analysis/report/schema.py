"""Report parameters: ONE schema (defaults, types, allowed values, help) for ``hpd report``,
``--set``, parameters files, validation, ``parameters.json`` and the notebooks' ``parameters``
cells.

Two kinds of parameters:

- the report's own (:data:`REPORT_OPTIONS`: definitions, groupings, landmark, privacy ...);
- the analysis parameters, derived at import time from :class:`hpd_analysis.params.Parameters`:
  every field, and every field of every nested group (``windows``, and any dataclass-valued field
  another module adds), as flat ``group.key`` names with the field's type, default and comment.
  A new group in ``Parameters`` is therefore settable (``--set group.key=value``), validated,
  recorded and passed to the notebooks (``analysis_parameters``) without an edit here.

The notebooks' ``parameters`` cells are generated from this schema (:func:`parameters_cell`;
``python -m hpd_analysis.report`` rewrites them) and a test keeps them equal.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ParameterError
from ..params import Parameters
from ..survival import parse_landmark


@dataclass(frozen=True)
class Option:
    """One parameter of the report.

    ``kind``: ``names`` (list of names, or none = all), ``path`` (an existing file, or none),
    ``code`` (a definition code), ``column`` / ``columns`` (patient column(s), checked against
    the cohort before any notebook runs), ``landmark``, ``choice`` (one of ``choices``), ``int``,
    ``float``, ``bool``, ``mapping``; analysis parameters also ``text``.
    """

    name: str
    default: Any
    kind: str
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    #: None allowed (besides the kinds that always allow it)
    nullable: bool = False
    #: never injected into a notebook nor recorded as given (privacy)
    private: bool = False
    #: unit of an analysis parameter (days, mm ...)
    unit: str = ""


#: the report's own parameters, in the order of the notebooks' parameters cells
REPORT_OPTIONS: tuple[Option, ...] = (
    Option(
        "definitions",
        None,
        "names",
        'definition codes to apply, e.g. ["ferrara2018", "kas2020"]; None = all',
    ),
    Option("definitions_file", None, "path", "optional YAML file of your own definitions"),
    Option(
        "definition_parameters",
        None,
        "mapping",
        'thresholds of registered definitions, e.g. {"ferrara2018": {"delta_tgr_min": 75}}',
    ),
    # Ferrara 2018 (RECIST PD + ΔTGR > 50) is the most widely used and validated definition
    Option(
        "primary_definition",
        "ferrara2018",
        "code",
        "the definition of colours, Table 1, odds ratios and the default survival groups",
    ),
    Option(
        "group_by",
        None,
        "column",
        "survival / kinetics groups: None = HPD status under primary_definition; else a "
        "patient column (e.g. arm) or a definition code",
    ),
    Option(
        "table1_by",
        None,
        "column",
        "Table 1 columns: None = HPD status under primary_definition; else a patient column "
        "(e.g. arm, sex) or a definition code",
    ),
    Option(
        "landmark",
        "first_evaluation",
        "landmark",
        'survival time origin: "first_evaluation" (one common landmark: the cohort\'s 90th '
        'percentile of first-evaluation times), "none" (treatment start) or months after '
        "treatment start",
    ),
    Option(
        "stratify_by",
        "tumor_type",
        "column",
        "incidence by this patient column (the default is skipped when absent)",
    ),
    Option(
        "risk_factors",
        None,
        "columns",
        "patient columns for Table 1 / odds ratios; None = the default candidates",
    ),
    Option(
        "multivariable_variables",
        None,
        "columns",
        "multivariable model; None = the literature set present (age >= 65, ECOG, > 2 sites, "
        "liver, LDH, NLR)",
    ),
    Option(
        "ci_method",
        "wilson",
        "choice",
        "binomial CI of incidence",
        choices=("wilson", "exact", "clopper-pearson", "jeffreys"),
    ),
    Option(
        "spider_max_patients",
        150,
        "int",
        "spider plot: at most this many patients (a reproducible random sample beyond)",
        minimum=1,
    ),
    Option("sample_seed", 0, "int", "seed of that sample", minimum=0),
    Option(
        "pseudonymize",
        False,
        "bool",
        "patient ids -> keyed pseudonyms (HMAC-SHA-256; key: pseudonym_key_file or "
        "$HPD_PSEUDONYM_KEY, never written anywhere)",
    ),
    Option(
        "pseudonym_key_file",
        None,
        "path",
        "file holding that key (neither injected nor recorded by hpd report)",
        private=True,
    ),
    Option(
        "small_cell_threshold",
        0,
        "int",
        'counts 1..k-1 in aggregate tables shown as "<k" (and what is computed from them '
        "blanked); 0 = off",
        minimum=0,
    ),
)

#: report parameters (beyond the analysis parameters of :class:`Parameters`) and their defaults
REPORT_DEFAULTS: dict[str, Any] = {o.name: o.default for o in REPORT_OPTIONS}

#: report parameters never injected into the notebooks nor written as given (privacy)
PRIVATE_PARAMETERS = tuple(o.name for o in REPORT_OPTIONS if o.private)

#: notebook parameters set by :func:`run_report` itself (not user-settable with --set)
RESERVED = ("cohort", "output_dir")

#: help of the notebook-only parameters (first lines of every parameters cell)
NOTEBOOK_ONLY: tuple[tuple[str, str], ...] = (
    ("cohort", "cohort folder or file; None = the bundled example cohort"),
    (
        "output_dir",
        "report folder (hpd report sets it); None = notebooks/_scratch/ (runs by hand "
        "never write into reports/)",
    ),
)

#: the notebook variable holding every analysis parameter (nested by group)
ANALYSIS_VARIABLE = "analysis_parameters"

#: unit and meaning of analysis parameters whose dataclass documents them in its docstring only
#: (the windows); other fields take the comment above them in their dataclass
PARAMETER_DOCS: dict[str, tuple[str, str]] = {
    "windows.baseline_max_days_before": (
        "days",
        "baseline = last scan on or before treatment start, at most this many days before",
    ),
    "windows.prebaseline_max_days_before_baseline": (
        "days",
        "pre-baseline = latest evaluable scan at most this many days before baseline",
    ),
    "windows.prebaseline_min_days_before_baseline": (
        "days",
        "... and at least this many days before baseline",
    ),
    "windows.first_eval_min_days": (
        "days",
        "first evaluation = first scan at least this many days after treatment start",
    ),
    "windows.first_eval_max_days": (
        "days",
        "... and at most this many days after it (none = no limit)",
    ),
    "days_per_month": ("days", "days in one month, for TGR/TGK and times to event"),
    "tgk_mode": ("", "TGK as mm/month (absolute) or % of the starting SLD per month (relative)"),
    "nonpositive_pre_growth": (
        "",
        "what a TGR/TGK ratio means when the pre-treatment growth is ≤ 0",
    ),
    "too_small_to_measure_mm": ("mm", "diameter given to a lesion 'too small to measure'"),
    "death_without_cause_is_progression": (
        "",
        "a death without a recorded cause counts as death from progression",
    ),
}


# --------------------------------------------------------------------------------------------
# analysis parameters, derived from Parameters


@functools.cache
def _class_source_lines(module: str) -> dict[str, list[str]]:
    """Source lines of every class of ``module`` (by qualified name), from one parse of its
    file (``inspect.getsource`` parses the whole file again for each class)."""
    import ast
    import sys

    try:
        path = inspect.getsourcefile(sys.modules[module])
        text = Path(path).read_text(encoding="utf-8") if path else ""
    except (KeyError, OSError, TypeError):
        return {}
    lines = text.splitlines()
    out: dict[str, list[str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                out[name] = lines[first - 1 : child.end_lineno]
                visit(child, f"{name}.")

    visit(ast.parse(text), "")
    return out


@functools.cache
def _field_comments(cls: type) -> dict[str, str]:
    """Comment text of each field of a dataclass, from its source: the ``#:`` / ``#`` comment
    lines right above the field, else a trailing ``# comment`` on its line (read once per class
    and process: reading source is slow, and every section asks)."""
    lines = _class_source_lines(cls.__module__).get(cls.__qualname__)
    if lines is None:  # a class defined in a function (its qualified name has "<locals>")
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            return {}
    out: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        s = line.strip()
        if s.startswith("#"):
            pending.append(s.lstrip("#:").strip())
            continue
        m = re.match(r"^([A-Za-z_]\w*)\s*:[^=]*(?:=.*)?$", s)
        if m and not s.startswith(("def ", "class ", "return")):
            trailing = s.split("#", 1)[1].strip() if "#" in s else ""
            text = " ".join(pending) or trailing
            if text:
                out.setdefault(m.group(1), text)
        pending = []
    # fields documented in the class docstring as "- ``name``: text" bullets
    doc = inspect.getdoc(cls) or ""
    for m in re.finditer(r"^- ``(\w+)``:\s*(.*?)(?=^- ``|^\s*$|\Z)", doc, re.M | re.S):
        text = " ".join(m.group(2).split())
        out.setdefault(m.group(1), text.split(". ")[0].rstrip("."))
    return out


def _unit_of(name: str) -> str:
    """Unit of a field from its name's suffix (``_days``, ``_mm``, ``_months``, ``_pct``)."""
    for suffix, unit in (("_days", "days"), ("_mm", "mm"), ("_months", "months"), ("_pct", "%")):
        if name.endswith(suffix):
            return unit
    return ""


@functools.cache
def _type_hints(owner: type) -> dict[str, Any]:
    """``typing.get_type_hints(owner)``, once per class (it evaluates every annotation)."""
    return typing.get_type_hints(owner)


def _option_of(
    name: str, f: Any, owner: type, *, default: Any, comments: Mapping[str, str]
) -> Option:
    try:
        hint = _type_hints(owner).get(f.name, f.type)
    except Exception:  # an annotation that does not evaluate: fall back on the default's type
        hint = type(default)
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    nullable = type(None) in args or default is None
    base = (
        [a for a in args if a is not type(None)]
        if args and origin is not typing.Literal
        else [hint]
    )
    kind, choices = "text", ()
    if origin is typing.Literal:
        kind, choices = "choice", tuple(args)
    elif len(base) == 1 and typing.get_origin(base[0]) is typing.Literal:
        kind, choices = "choice", tuple(typing.get_args(base[0]))
    elif bool in base or isinstance(default, bool):
        kind = "bool"
    elif int in base and float not in base:
        kind = "int"
    elif float in base or isinstance(default, float):
        kind = "float"
    if name in PARAMETER_DOCS:
        unit, meaning = PARAMETER_DOCS[name]
    else:
        meaning = comments.get(f.name, "")
        unit = _unit_of(f.name)
    return Option(name, default, kind, meaning, choices=choices, nullable=nullable, unit=unit)


def analysis_options() -> tuple[Option, ...]:
    """Every analysis parameter of :class:`Parameters` as an :class:`Option`, flat names
    (``windows.first_eval_min_days``), in field order; read from the dataclasses each call, so
    that groups added to ``Parameters`` appear here."""
    inst = Parameters()
    out: list[Option] = []
    top_comments = _field_comments(Parameters)
    for f in fields(Parameters):
        value = getattr(inst, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            group_cls: type = type(value)
            comments = _field_comments(group_cls)
            for gf in fields(group_cls):
                out.append(
                    _option_of(
                        f"{f.name}.{gf.name}",
                        gf,
                        group_cls,
                        default=getattr(value, gf.name),
                        comments=comments,
                    )
                )
        else:
            out.append(_option_of(f.name, f, Parameters, default=value, comments=top_comments))
    return tuple(out)


def options() -> dict[str, Option]:
    """The whole schema: report options then analysis options, by name."""
    return {o.name: o for o in (*REPORT_OPTIONS, *analysis_options())}


def default_parameters() -> dict[str, Any]:
    """Every report parameter with its default: :data:`REPORT_DEFAULTS` then the flat analysis
    parameters of :class:`Parameters` (``windows.<name>`` in days, ``days_per_month`` …)."""
    return {**REPORT_DEFAULTS, **Parameters().to_dict()}


# --------------------------------------------------------------------------------------------
# parsing one value


_NONE_WORDS = ("", "none", "null", "~")


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS)


def _as_list(value: Any, key: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        if v.lower() in ("", "all", "none", "null"):
            return None
        return [s.strip() for s in v.strip("[]").split(",") if s.strip()]
    if isinstance(value, Iterable):
        items = [str(s).strip() for s in value]
        return items or None
    raise ParameterError(
        f"{key}={value!r}: expected a list of names, a comma-separated string or 'all'"
    )


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def parse_value(option: Option, value: Any) -> Any:
    """``value`` checked and normalized for ``option``; :class:`ParameterError` naming
    ``name=value`` and what was expected otherwise."""
    name, kind = option.name, option.kind
    if kind == "names" or kind == "columns":
        return _as_list(value, name)
    if kind == "landmark":
        return parse_landmark(value)
    if kind == "mapping":
        if value is None or (isinstance(value, Mapping) and not value):
            return None
        if not isinstance(value, Mapping):
            raise ParameterError(f"{name}={value!r}: expected a mapping")
        return {str(k): dict(v) for k, v in value.items()}
    if kind in ("path", "column", "code"):
        if _is_none(value):
            if kind == "code":
                raise ParameterError(f"{name}={value!r}: a definition code is required")
            return None
        if not isinstance(value, str):
            raise ParameterError(
                f"{name}={value!r}: expected a {'file path' if kind == 'path' else 'name'} or none"
            )
        value = value.strip()
        return value.removeprefix("hpd_") if kind == "code" else value
    if option.nullable and _is_none(value):
        return None
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            return value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise ParameterError(f"{name}={value!r}: expected true or false")
        return value
    if kind == "choice":
        if value not in option.choices:
            raise ParameterError(
                f"{name}={value!r}: expected one of " + ", ".join(map(str, option.choices))
            )
        return value
    if kind == "int":
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (option.minimum is not None and value < option.minimum)
        ):
            low = "" if option.minimum is None else f" ≥ {option.minimum:g}"
            raise ParameterError(f"{name}={value!r}: expected a whole number{low}")
        return value
    if kind == "float":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ParameterError(f"{name}={value!r}: expected a finite number")
        return value
    return value


def parameters_cell() -> str:
    """The source of every report notebook's ``parameters`` cell, generated from the schema."""
    rows: list[tuple[str, Any, str]] = [(name, None, text) for name, text in NOTEBOOK_ONLY]
    rows += [
        (o.name, o.default, o.help + (f" ({', '.join(map(str, o.choices))})" if o.choices else ""))
        for o in REPORT_OPTIONS
        if not o.private
    ]
    rows.append(
        (
            ANALYSIS_VARIABLE,
            {},
            'analysis parameters by group, e.g. {"windows": '
            '{"first_eval_min_days": 21}, "tgk_mode": "relative"} (see '
            "hpd_analysis.params.Parameters; {} = defaults)",
        )
    )
    width = max(len(f"{n} = {v!r}") for n, v, _ in rows) + 2
    lines = [
        "# Parameters, generated from hpd_analysis.report.schema (python -m hpd_analysis.report "
        "rewrites this cell).",
        "# `hpd report` injects its values in a cell right after this one.",
    ]
    for name, value, text in rows:
        # papermill reads `name = value  # help` and gives up on a line with a second "="
        text = re.sub(r"\s*=\s*", ": ", text.replace(">=", "≥").replace("<=", "≤"))
        value_text = (
            "None" if value is None else ("{}" if value == {} else repr(value)).replace("'", '"')
        )
        lines.append(f"{name} = {value_text}".ljust(width) + f"# {text}")
    return "\n".join(lines)


def write_parameters_cells(nb_dir: str | Path) -> list[Path]:
    """Rewrite the ``parameters`` cell of every report notebook in ``nb_dir`` from the schema;
    return the notebooks changed."""
    import nbformat

    changed = []
    for path in sorted(Path(nb_dir).glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if "parameters" in cell.metadata.get("tags", []) and cell.source != parameters_cell():
                cell.source = parameters_cell()
                nbformat.write(nb, path)
                changed.append(path)
    return changed


# --------------------------------------------------------------------------------------------
# records


def parameters_table(params: Parameters) -> pd.DataFrame:
    """The analysis parameters used: ``parameter, value, unit, meaning`` (one row each)."""
    opts = {o.name: o for o in analysis_options()}
    rows = []
    for key, value in params.to_dict().items():
        o = opts.get(key)
        rows.append(
            {
                "parameter": key,
                "value": parameter_text(value),
                "unit": o.unit if o else "",
                "meaning": o.help if o else "",
            }
        )
    return pd.DataFrame(rows, columns=["parameter", "value", "unit", "meaning"])


def parameter_text(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if v else "none"
    return str(v)


def redact_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every :data:`PRIVATE_PARAMETERS` entry replaced by ``"given"`` (or left
    None): what parameters.json, index.html and the command line shown record."""
    return {
        k: ("given (not recorded)" if k in PRIVATE_PARAMETERS and v is not None else v)
        for k, v in values.items()
    }
