"""Resolution and checks of the report parameters against :mod:`.schema`: defaults ← YAML
parameters file ← ``--set``; definition thresholds; the cohort's columns named by parameters
(with a "did you mean"); what papermill injects into the notebooks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import HPDError, ParameterError
from ..params import Parameters
from .schema import (
    ANALYSIS_VARIABLE,
    PRIVATE_PARAMETERS,
    REPORT_DEFAULTS,
    REPORT_OPTIONS,
    RESERVED,
    analysis_options,
    default_parameters,
    parse_value,
)


def _flatten(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Flatten nested group mappings (``windows: {...}`` and every other group of
    :class:`Parameters`) into ``group.key`` keys."""
    groups = Parameters.groups()
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key).strip()
        if key in groups and isinstance(value, Mapping):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        elif key in groups:
            raise ParameterError(
                f"{source}: '{key}' must be a mapping, e.g. {key}: {{name: value}}"
            )
        else:
            out[key] = value
    return out


def _read_parameters_file(path: str | Path) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise HPDError(
            f"parameters file {p}: not found (expected a YAML file of report parameters)"
        )
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        from ..errors import yaml_error_text

        raise ParameterError(
            f"parameters file {p}: not valid YAML ({yaml_error_text(exc)})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ParameterError(
            f"parameters file {p}: expected a mapping of parameter: value, "
            f"got {type(data).__name__}"
        )
    if isinstance(data.get("parameters"), Mapping) and len(data) == 1:
        data = data["parameters"]
    return _flatten(data, str(p))


def _normalize(values: dict[str, Any]) -> dict[str, Any]:
    """Check and normalize the report parameters (not the analysis ones) against
    :data:`REPORT_OPTIONS`, then the checks between parameters."""
    out = {o.name: parse_value(o, values[o.name]) for o in REPORT_OPTIONS}
    if out["definitions_file"] is not None:
        p = Path(out["definitions_file"]).expanduser()
        if not p.is_file():
            raise ParameterError(f"definitions_file={out['definitions_file']}: file not found")
        out["definitions_file"] = str(p.resolve())
    if out["pseudonym_key_file"] is not None:
        kf = Path(out["pseudonym_key_file"]).expanduser()
        if not kf.is_file():
            raise ParameterError(
                "pseudonym_key_file: file not found (expected a file holding "
                "the pseudonymization key)"
            )
        out["pseudonym_key_file"] = str(kf.resolve())
    from ..privacy import check_key_options

    check_key_options(out["pseudonymize"], out["pseudonym_key_file"])
    if out["definitions"] is not None and out["primary_definition"] not in out["definitions"]:
        raise ParameterError(
            f"primary_definition={out['primary_definition']} is not among definitions="
            f"{','.join(out['definitions'])} (add it, or choose one of those)"
        )
    return out


def resolve_parameters(
    overrides: Mapping[str, Any] | None = None,
    parameters_file: str | Path | None = None,
) -> dict[str, Any]:
    """Every report parameter: defaults ← YAML ``parameters_file`` ← ``overrides`` (``--set``).

    Keys are flat (``windows.first_eval_min_days``); nested group mappings in the file are
    accepted. Unknown keys, reserved keys (``cohort``, ``output_dir``: use ``--cohort``/``--out``)
    and invalid values raise :class:`ParameterError` listing the valid keys. Definition codes
    (``primary_definition``, ``definitions``) are checked against the registry and the
    ``definitions_file``; patient columns are checked by :func:`check_columns` once the cohort
    is read.
    """
    defaults = default_parameters()
    merged = dict(defaults)
    layers = []
    if parameters_file is not None:
        layers.append(
            (f"parameters file {parameters_file}", _read_parameters_file(parameters_file))
        )
    if overrides:
        layers.append(("--set", _flatten(dict(overrides), "--set")))
    for source, layer in layers:
        layer = _collect_definition_parameters(layer, source)
        reserved = sorted(k for k in layer if k in RESERVED)
        if reserved:
            raise ParameterError(
                f"{source}: {', '.join(reserved)} cannot be set as a parameter "
                "(use --cohort / --out)"
            )
        unknown = sorted(k for k in layer if k not in defaults)
        if unknown:
            raise ParameterError(
                f"{source}: unknown parameter(s) {', '.join(unknown)}"
                + "".join(did_you_mean(k, defaults) for k in unknown[:1])
                + "; valid keys: "
                + ", ".join(defaults)
            )
        if "definition_parameters" in layer:
            combined = {c: dict(v) for c, v in (merged.get("definition_parameters") or {}).items()}
            for code, values in (layer.pop("definition_parameters") or {}).items():
                combined.setdefault(code, {}).update(values)
            merged["definition_parameters"] = combined or None
        merged.update(layer)
    analysis = check_analysis_parameters({k: merged[k] for k in Parameters().to_dict()})
    report = _normalize({k: merged[k] for k in REPORT_DEFAULTS})
    _check_definition_codes(report)
    return {**report, **analysis.to_dict()}


def check_analysis_parameters(values: Mapping[str, Any]) -> Parameters:
    """:class:`Parameters` from flat analysis values, each checked against its type in the
    dataclasses (whole numbers, finite numbers, allowed values) and then by the groups'
    own ``__post_init__`` checks; :class:`ParameterError` naming ``name=value`` otherwise."""
    opts = {o.name: o for o in analysis_options()}
    parsed = {k: (parse_value(opts[k], v) if k in opts else v) for k, v in values.items()}
    try:
        p = Parameters.from_dict(parsed)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"invalid analysis parameter: {exc}") from None
    _check_analysis_values(p)
    return p


def _check_analysis_values(p: Parameters) -> None:
    w = p.windows
    for name in (
        "baseline_max_days_before",
        "prebaseline_max_days_before_baseline",
        "prebaseline_min_days_before_baseline",
        "first_eval_min_days",
    ):
        v = getattr(w, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParameterError(f"windows.{name}={v!r}: expected a whole number of days ≥ 0")
    if w.first_eval_max_days is not None and (
        isinstance(w.first_eval_max_days, bool)
        or not isinstance(w.first_eval_max_days, int)
        or w.first_eval_max_days < w.first_eval_min_days
    ):
        raise ParameterError(
            f"windows.first_eval_max_days={w.first_eval_max_days!r}: expected "
            "none or a whole number of days ≥ windows.first_eval_min_days"
        )
    if (
        isinstance(p.days_per_month, bool)
        or not isinstance(p.days_per_month, (int, float))
        or not p.days_per_month > 0
    ):
        raise ParameterError(f"days_per_month={p.days_per_month!r}: expected a positive number")


def _collect_definition_parameters(layer: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Move ``<code>.<parameter>`` keys and nested ``<code>: {...}`` mappings of registered
    definitions into ``definition_parameters`` ({code: {parameter: value}}), checked against the
    registry (unknown parameters raise :class:`ParameterError` naming the valid ones)."""
    from ..definitions import REGISTRY, get_definitions

    out: dict[str, Any] = {}
    found: dict[str, dict[str, Any]] = {}
    given = layer.get("definition_parameters")
    if given is not None and not isinstance(given, Mapping):
        raise ParameterError(
            f"{source}: definition_parameters must map a definition code to {{parameter: value}}"
        )
    for code, values in (given or {}).items():
        if not isinstance(values, Mapping):
            raise ParameterError(f"{source}: definition_parameters.{code} must be a mapping")
        found.setdefault(str(code), {}).update(values)
    for key, value in layer.items():
        if key == "definition_parameters":
            continue
        code, dot, name = key.partition(".")
        if dot and code in REGISTRY:
            found.setdefault(code, {})[name] = value
        elif not dot and key in REGISTRY and isinstance(value, Mapping):
            found.setdefault(key, {}).update(value)
        else:
            out[key] = value
    if found:
        for code, values in found.items():
            for pname, v in values.items():
                if isinstance(v, float) and not math.isfinite(v):
                    raise ParameterError(
                        f"{source}: {code}.{pname}={v!r}: expected a finite number"
                    )
        try:
            get_definitions(overrides=found)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None
        out["definition_parameters"] = found
    elif given is not None:
        out["definition_parameters"] = None
    return out


def report_definition_codes(resolved: Mapping[str, Any]) -> list[str]:
    """Codes of the definitions a report applies (registered ones named in ``definitions``, all
    when None, plus those of ``definitions_file``)."""
    from .section import resolve_definitions

    return [
        d.code
        for d in resolve_definitions(
            resolved["definitions"], resolved["definitions_file"], resolved["definition_parameters"]
        )
    ]


def _check_definition_codes(report: Mapping[str, Any]) -> None:
    codes = report_definition_codes(report)
    unknown = [c for c in (report["definitions"] or []) if c not in codes]
    if unknown:
        raise ParameterError(
            f"definitions: {', '.join(unknown)} not registered"
            + did_you_mean(unknown[0], codes)
            + f" (registered: {', '.join(codes)})"
        )
    if report["primary_definition"] not in codes:
        raise ParameterError(
            f"primary_definition={report['primary_definition']}: not a "
            "definition of this report"
            + did_you_mean(report["primary_definition"], codes)
            + f" (expected one of: {', '.join(codes)})"
        )


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'sex'?)"`` for the nearest candidate (case-insensitive first), else
    an empty string."""
    import difflib

    cands = [str(c) for c in candidates]
    same_case = [c for c in cands if c.lower() == str(name).lower()]
    near = same_case or difflib.get_close_matches(str(name), cands, n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


#: report options naming patient columns, and whether a definition code is allowed instead
COLUMN_OPTIONS: dict[str, bool] = {
    "group_by": True,
    "table1_by": True,
    "stratify_by": False,
    "risk_factors": False,
    "multivariable_variables": False,
}


def check_columns(
    resolved: Mapping[str, Any], columns: Iterable[str], codes: Iterable[str] = ()
) -> None:
    """Raise :class:`ParameterError` (with a "did you mean" for near names such as ``Sex`` for
    ``sex``) when a column parameter names no patient column of the cohort. ``group_by`` and
    ``table1_by`` may also name a definition (``codes``); risk factors may name a derived factor
    whose source column is present (``age_ge_65``). ``stratify_by`` left at its default is
    skipped when the column is absent."""
    from ..riskfactors import DERIVED_FACTORS

    cols = [str(c) for c in columns]
    codes = list(codes)
    derived = [d for d, (src, _) in DERIVED_FACTORS.items() if src in cols]
    for key, code_ok in COLUMN_OPTIONS.items():
        value = resolved.get(key)
        if value is None or (key == "stratify_by" and value == REPORT_DEFAULTS[key]):
            continue
        names = [value] if isinstance(value, str) else list(value)
        valid = (
            cols
            + (codes + [f"hpd_{c}" for c in codes] if code_ok else [])
            + (derived if key in ("risk_factors", "multivariable_variables") else [])
        )
        for name in names:
            if name not in valid:
                what = "no such patient column" + (" or definition" if code_ok else "")
                raise ParameterError(
                    f"{key}={name}: {what}"
                    + did_you_mean(name, valid)
                    + f" (patient columns: {', '.join(cols)})"
                )


def notebook_parameters(
    resolved: Mapping[str, Any], cohort: str, output_dir: str
) -> dict[str, Any]:
    """What papermill injects into each notebook's ``parameters`` cell: ``cohort`` and
    ``output_dir`` (as given: :func:`run_report` passes paths relative to the report folder),
    every report parameter but the private ones, and :data:`ANALYSIS_VARIABLE` (the analysis
    parameters nested by group, e.g. ``{"windows": {...}, "tgk_mode": "absolute"}``)."""
    analysis = Parameters.from_dict({k: resolved[k] for k in Parameters().to_dict()})
    return {
        "cohort": cohort,
        "output_dir": output_dir,
        **{k: resolved[k] for k in REPORT_DEFAULTS if k not in PRIVATE_PARAMETERS},
        ANALYSIS_VARIABLE: nested_analysis(analysis),
    }


def nested_analysis(params: Parameters) -> dict[str, Any]:
    """The analysis parameters as a JSON-ready dict nested by group (what
    :meth:`Parameters.from_dict` reads back)."""
    out: dict[str, Any] = {}
    for key, value in params.to_dict().items():
        head, dot, tail = key.partition(".")
        if dot:
            out.setdefault(head, {})[tail] = value
        else:
            out[key] = value
    return out


def build_parameters(
    windows: Mapping[str, Any] | None = None,
    analysis_parameters: Mapping[str, Any] | None = None,
) -> Parameters:
    """:class:`Parameters` from a notebook's ``analysis_parameters`` (nested by group, or flat
    ``group.key``) and, for older notebooks, a separate ``windows`` dict (days); unknown keys and
    invalid values raise :class:`ParameterError`."""
    values = _flatten(dict(analysis_parameters or {}), ANALYSIS_VARIABLE)
    values.update({f"windows.{k}": v for k, v in (windows or {}).items()})
    unknown = sorted(set(values) - set(Parameters().to_dict()))
    if unknown:
        raise ParameterError(
            f"{ANALYSIS_VARIABLE}: unknown parameter(s) {', '.join(unknown)} "
            f"(expected one of: {', '.join(Parameters().to_dict())})"
        )
    return check_analysis_parameters({**Parameters().to_dict(), **values})
