"""Report parameters: the schema (defaults, types, allowed values, help), their resolution
(defaults ← YAML file ← ``--set``) and what papermill injects into the notebooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import HPDError, ParameterError
from ..params import Parameters

#: report parameters (beyond the analysis parameters of :class:`Parameters`) and their defaults
REPORT_DEFAULTS: dict[str, Any] = {
    # definitions to apply (None = every registered definition)
    "definitions": None,
    # YAML file of user definitions, applied beside the registered ones
    "definitions_file": None,
    # thresholds of registered definitions: {code: {parameter: value}}; on the command line
    # `--set ferrara2018.delta_tgr_min=75` (a parameters file may nest `ferrara2018: {...}`)
    "definition_parameters": None,
    # the definition used for colours, Table 1, odds ratios and the default survival grouping:
    # Ferrara 2018 (RECIST PD + ΔTGR > 50) is the most widely used and validated definition
    "primary_definition": "ferrara2018",
    # survival grouping: None = HPD status under the primary definition; else a patient column
    "group_by": None,
    # survival time origin: "first_evaluation" (one common landmark for every patient: the
    # cohort's 90th percentile of first-evaluation times; off by default when group_by is a column
    # fixed at treatment start), "none" (treatment start) or a number of months
    # after treatment start
    "landmark": "first_evaluation",
    # patient column for incidence by stratum (skipped when absent from the cohort)
    "stratify_by": "tumor_type",
    # candidate risk factors for Table 1 / univariable odds ratios (None = the package's default
    # candidates)
    "risk_factors": None,
    # variables of the multivariable model (None = the short literature set MULTIVARIABLE_DEFAULT,
    # those present): a model with every candidate has far too few events per variable
    "multivariable_variables": None,
    # binomial CI of incidence: wilson, exact, jeffreys
    "ci_method": "wilson",
    # spider plot: at most this many patients (a reproducible random sample beyond)
    "spider_max_patients": 150,
    # seed of that sample
    "sample_seed": 0,
    # replace patient identifiers by keyed pseudonyms (HMAC-SHA-256) everywhere in the report;
    # the key comes from pseudonym_key_file, else the environment variable HPD_PSEUDONYM_KEY, and
    # is never written anywhere (parameters.json records only that pseudonymization was on)
    "pseudonymize": False,
    # file holding the pseudonymization key (its path is not written to the report either)
    "pseudonym_key_file": None,
    # small-cell rule: counts 1..k-1 in aggregate tables shown as "<k" (percentages and CIs
    # computed from them blanked); 0 = off
    "small_cell_threshold": 0,
}


#: report parameters never injected into the notebooks nor written as given (privacy)
PRIVATE_PARAMETERS = ("pseudonym_key_file",)


#: notebook parameters set by :func:`run_report` itself (not user-settable with --set)
RESERVED = ("cohort", "output_dir")


def default_parameters() -> dict[str, Any]:
    """Every report parameter with its default: :data:`REPORT_DEFAULTS` then the flat analysis
    parameters of :class:`Parameters` (``windows.<name>`` in days, ``days_per_month`` …)."""
    return {**REPORT_DEFAULTS, **Parameters().to_dict()}


def _flatten(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Flatten a nested ``windows:`` mapping into ``windows.<name>`` keys."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key).strip()
        if key == "windows" and isinstance(value, Mapping):
            out.update({f"windows.{k}": v for k, v in value.items()})
        elif key == "windows":
            raise ParameterError(f"{source}: 'windows' must be a mapping, e.g. windows: "
                                 "{{first_eval_min_days: 21}}")
        else:
            out[key] = value
    return out


def _read_parameters_file(path: str | Path) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise HPDError(f"parameters file {p}: not found (expected a YAML file of report parameters)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"parameters file {p}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ParameterError(f"parameters file {p}: expected a mapping of parameter: value, "
                             f"got {type(data).__name__}")
    if isinstance(data.get("parameters"), Mapping) and len(data) == 1:
        data = data["parameters"]
    return _flatten(data, str(p))


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
    raise ParameterError(f"{key}={value!r}: expected a list of names, a comma-separated string "
                         "or 'all'")


def _normalize(values: dict[str, Any]) -> dict[str, Any]:
    """Check and normalize the report parameters (not the analysis ones)."""
    out = dict(values)
    out["definitions"] = _as_list(out["definitions"], "definitions")
    out["risk_factors"] = _as_list(out["risk_factors"], "risk_factors")
    out["multivariable_variables"] = _as_list(out["multivariable_variables"],
                                              "multivariable_variables")
    for key in ("group_by", "definitions_file", "stratify_by", "pseudonym_key_file"):
        v = out[key]
        if isinstance(v, str) and v.strip().lower() in ("", "none", "null"):
            v = None
        if v is not None and not isinstance(v, str):
            raise ParameterError(f"{key}={v!r}: expected a column name / path or none")
        out[key] = v
    if out["definitions_file"] is not None:
        p = Path(out["definitions_file"]).expanduser()
        if not p.is_file():
            raise ParameterError(f"definitions_file={out['definitions_file']}: file not found")
        out["definitions_file"] = str(p.resolve())
    pd_ = out["primary_definition"]
    if not isinstance(pd_, str) or not pd_.strip():
        raise ParameterError(f"primary_definition={pd_!r}: expected a definition code, "
                             "e.g. ferrara2018")
    out["primary_definition"] = pd_.strip().removeprefix("hpd_")
    if out["definitions"] is not None and out["primary_definition"] not in out["definitions"]:
        raise ParameterError(
            f"primary_definition={out['primary_definition']} is not among definitions="
            f"{','.join(out['definitions'])} (add it, or choose one of those)")
    lm = out["landmark"]
    if lm is None or (isinstance(lm, str) and lm.strip().lower() in ("none", "null", "")):
        lm = "none"
    elif isinstance(lm, str) and lm.strip().lower() in ("first_evaluation", "first_eval"):
        lm = "first_evaluation"
    elif isinstance(lm, bool):
        raise ParameterError(f"landmark={lm!r}: expected first_evaluation, none or months (≥ 0)")
    else:
        try:
            lm = float(lm)
        except (TypeError, ValueError):
            raise ParameterError(
                f"landmark={lm!r}: expected first_evaluation, none or a number of months (≥ 0)"
            ) from None
        if not lm >= 0:
            raise ParameterError(f"landmark={lm!r}: expected a number of months ≥ 0")
    out["landmark"] = lm
    if out["ci_method"] not in ("wilson", "exact", "clopper-pearson", "jeffreys"):
        raise ParameterError(f"ci_method={out['ci_method']!r}: expected wilson, exact or jeffreys")
    pz = out["pseudonymize"]
    if isinstance(pz, str) and pz.strip().lower() in ("true", "yes", "on", "1", "false", "no",
                                                      "off", "0"):
        pz = pz.strip().lower() in ("true", "yes", "on", "1")
    if not isinstance(pz, bool):
        raise ParameterError(f"pseudonymize={pz!r}: expected true or false")
    out["pseudonymize"] = pz
    if out["pseudonym_key_file"] is not None:
        kf = Path(out["pseudonym_key_file"]).expanduser()
        if not kf.is_file():
            raise ParameterError("pseudonym_key_file: file not found (expected a file holding "
                                 "the pseudonymization key)")
        out["pseudonym_key_file"] = str(kf.resolve())
    k = out["small_cell_threshold"]
    if isinstance(k, str) and k.strip().isdigit():
        k = int(k.strip())
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ParameterError(f"small_cell_threshold={k!r}: expected a whole number ≥ 0 "
                             "(0 = off; e.g. 5 shows counts 1-4 as <5)")
    out["small_cell_threshold"] = k
    for key, low in (("spider_max_patients", 1), ("sample_seed", 0)):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ParameterError(f"{key}={v!r}: expected an integer ≥ {low}")
    return out


def resolve_parameters(
    overrides: Mapping[str, Any] | None = None,
    parameters_file: str | Path | None = None,
) -> dict[str, Any]:
    """Every report parameter: defaults ← YAML ``parameters_file`` ← ``overrides`` (``--set``).

    Keys are flat (``windows.first_eval_min_days``); a nested ``windows:`` mapping in the file is
    accepted. Unknown keys, reserved keys (``cohort``, ``output_dir``: use ``--cohort``/``--out``)
    and invalid values raise :class:`ParameterError` listing the valid keys.
    """
    defaults = default_parameters()
    merged = dict(defaults)
    layers = []
    if parameters_file is not None:
        layers.append((f"parameters file {parameters_file}", _read_parameters_file(parameters_file)))
    if overrides:
        layers.append(("--set", _flatten(dict(overrides), "--set")))
    for source, layer in layers:
        layer = _collect_definition_parameters(layer, source)
        reserved = sorted(k for k in layer if k in RESERVED)
        if reserved:
            raise ParameterError(f"{source}: {', '.join(reserved)} cannot be set as a parameter "
                                 "(use --cohort / --out)")
        unknown = sorted(k for k in layer if k not in defaults)
        if unknown:
            raise ParameterError(
                f"{source}: unknown parameter(s) {', '.join(unknown)}; valid keys: "
                + ", ".join(defaults)
            )
        if "definition_parameters" in layer:
            combined = {c: dict(v) for c, v in (merged.get("definition_parameters") or {}).items()}
            for code, values in (layer.pop("definition_parameters") or {}).items():
                combined.setdefault(code, {}).update(values)
            merged["definition_parameters"] = combined or None
        merged.update(layer)
    analysis = {k: merged[k] for k in Parameters().to_dict()}
    try:
        parsed = Parameters.from_dict(analysis)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"invalid analysis parameter: {exc}") from None
    _check_analysis_values(parsed)
    report = _normalize({k: merged[k] for k in REPORT_DEFAULTS})
    return {**report, **parsed.to_dict()}


def _collect_definition_parameters(layer: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Move ``<code>.<parameter>`` keys and nested ``<code>: {...}`` mappings of registered
    definitions into ``definition_parameters`` ({code: {parameter: value}}), checked against the
    registry (unknown parameters raise :class:`ParameterError` naming the valid ones)."""
    from ..definitions import REGISTRY, get_definitions

    out: dict[str, Any] = {}
    found: dict[str, dict[str, Any]] = {}
    given = layer.get("definition_parameters")
    if given is not None and not isinstance(given, Mapping):
        raise ParameterError(f"{source}: definition_parameters must map a definition code to "
                             "{parameter: value}")
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
        try:
            get_definitions(overrides=found)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None
        out["definition_parameters"] = found
    elif given is not None:
        out["definition_parameters"] = None
    return out


def _check_analysis_values(p: Parameters) -> None:
    w = p.windows
    for name in ("baseline_max_days_before", "prebaseline_max_days_before_baseline",
                 "prebaseline_min_days_before_baseline", "first_eval_min_days"):
        v = getattr(w, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParameterError(f"windows.{name}={v!r}: expected a whole number of days ≥ 0")
    if w.first_eval_max_days is not None and (
        isinstance(w.first_eval_max_days, bool) or not isinstance(w.first_eval_max_days, int)
        or w.first_eval_max_days < w.first_eval_min_days
    ):
        raise ParameterError(f"windows.first_eval_max_days={w.first_eval_max_days!r}: expected "
                             "none or a whole number of days ≥ windows.first_eval_min_days")
    if isinstance(p.days_per_month, bool) or not isinstance(p.days_per_month, (int, float)) \
            or not p.days_per_month > 0:
        raise ParameterError(f"days_per_month={p.days_per_month!r}: expected a positive number")
    if p.tgk_mode not in ("absolute", "relative"):
        raise ParameterError(f"tgk_mode={p.tgk_mode!r}: expected absolute or relative")
    if p.nonpositive_pre_growth not in ("not_evaluable", "ratio", "infinite_if_on_positive"):
        raise ParameterError(f"nonpositive_pre_growth={p.nonpositive_pre_growth!r}: expected "
                             "not_evaluable, ratio or infinite_if_on_positive")


def notebook_parameters(resolved: Mapping[str, Any], cohort: str, output_dir: str) -> dict[str, Any]:
    """What papermill injects into each notebook's ``parameters`` cell: the report parameters,
    ``cohort``/``output_dir`` (absolute paths) and the analysis parameters split into ``windows``
    (days) and ``analysis_parameters``."""
    analysis = {k: resolved[k] for k in Parameters().to_dict()}
    windows = {k.split(".", 1)[1]: v for k, v in analysis.items() if k.startswith("windows.")}
    other = {k: v for k, v in analysis.items() if not k.startswith("windows.")}
    return {
        "cohort": cohort,
        "output_dir": output_dir,
        **{k: resolved[k] for k in REPORT_DEFAULTS if k not in PRIVATE_PARAMETERS},
        "windows": windows,
        "analysis_parameters": other,
    }


def build_parameters(
    windows: Mapping[str, Any] | None = None,
    analysis_parameters: Mapping[str, Any] | None = None,
) -> Parameters:
    """:class:`Parameters` from a notebook's ``windows`` (days) and ``analysis_parameters``
    dicts; unknown keys raise :class:`ParameterError`."""
    values = dict(analysis_parameters or {})
    values["windows"] = dict(windows or {})
    try:
        return Parameters.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise ParameterError(str(exc)) from None


#: meaning and unit of each analysis parameter (for the windows table of the cohort section)
PARAMETER_DOCS: dict[str, tuple[str, str]] = {
    "windows.baseline_max_days_before": (
        "days", "baseline = last scan on or before treatment start, at most this many days before"),
    "windows.prebaseline_max_days_before_baseline": (
        "days", "pre-baseline = latest evaluable scan at most this many days before baseline"),
    "windows.prebaseline_min_days_before_baseline": (
        "days", "... and at least this many days before baseline"),
    "windows.first_eval_min_days": (
        "days", "first evaluation = first scan at least this many days after treatment start"),
    "windows.first_eval_max_days": (
        "days", "... and at most this many days after it (none = no limit)"),
    "days_per_month": ("days", "days in one month, for TGR/TGK and times to event"),
    "tgk_mode": ("", "TGK as mm/month (absolute) or % of the starting SLD per month (relative)"),
    "nonpositive_pre_growth": (
        "", "what a TGR/TGK ratio means when the pre-treatment growth is ≤ 0"),
    "too_small_to_measure_mm": ("mm", "diameter given to a lesion 'too small to measure'"),
    "death_without_cause_is_progression": (
        "", "a death without a recorded cause counts as death from progression"),
}


def parameters_table(params: Parameters) -> pd.DataFrame:
    """The analysis parameters used: ``parameter, value, unit, meaning`` (one row each)."""
    rows = []
    for key, value in params.to_dict().items():
        unit, meaning = PARAMETER_DOCS.get(key, ("", ""))
        rows.append({"parameter": key, "value": _fmt_value(value), "unit": unit,
                     "meaning": meaning})
    return pd.DataFrame(rows, columns=["parameter", "value", "unit", "meaning"])


def _fmt_value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if v else "none"
    return str(v)


def redact_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every :data:`PRIVATE_PARAMETERS` entry replaced by ``"given"`` (or left
    None): what parameters.json, index.html and the command line shown record."""
    return {k: ("given (not recorded)" if k in PRIVATE_PARAMETERS and v is not None else v)
            for k, v in values.items()}
