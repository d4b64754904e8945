"""The report: parameters, papermill execution of ``notebooks/``, HTML, ``index.html`` and
``parameters.json`` (file names in the output contract of ``cohort-format.md``).

Two halves:

- :func:`run_report` (what ``hpd report`` / ``make report`` call) resolves the report parameters
  (defaults ← YAML file ← ``--set`` overrides), executes each notebook with papermill in a fresh
  kernel, renders it to self-contained HTML (no CDN, no MathJax download), and writes
  ``parameters.json`` (every parameter, versions, SHA-256 of every input file) and ``index.html``.
- :func:`open_section`, :meth:`Section.table` and :meth:`Section.figure` are what the notebooks
  call: load the cohort, classify it, and write every table to ``<out>/tables/<name>.csv`` and
  every figure to ``<out>/figures/<name>.png|svg``.

Outputs carry no timestamps or absolute paths where avoidable, so that a rerun on the same inputs
gives the same bytes (the executed notebooks' papermill timings are removed).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .errors import HPDError, ParameterError
from .params import Parameters

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

#: the multivariable model's default variables (those present in the cohort): the risk factors
#: most often reported for HPD (Lin et al., Transl Lung Cancer Res 2021) — age ≥ 65, ECOG
#: performance status, > 2 metastatic sites, liver metastases, LDH > ULN, NLR
MULTIVARIABLE_DEFAULT: tuple[str, ...] = (
    "age_ge_65", "ecog_baseline", "n_metastatic_sites_gt_2", "liver_metastasis", "ldh_above_uln",
    "nlr",
)

#: rows of a DataFrame a report notebook displays before pandas truncates it
DISPLAY_MAX_ROWS = 500

#: environment variables through which :func:`run_report` hands the privacy settings to every
#: notebook kernel (so that a notebook not passing them to :func:`open_section` still obeys them)
ENV_PSEUDONYMIZE = "HPD_REPORT_PSEUDONYMIZE"
ENV_KEY_FILE = "HPD_REPORT_PSEUDONYM_KEY_FILE"
ENV_SMALL_CELL = "HPD_REPORT_SMALL_CELL_THRESHOLD"

#: report parameters never injected into the notebooks nor written as given (privacy)
PRIVATE_PARAMETERS = ("pseudonym_key_file",)

#: notebook parameters set by :func:`run_report` itself (not user-settable with --set)
RESERVED = ("cohort", "output_dir")

#: libraries whose versions go into parameters.json and index.html
LIBRARIES = (
    "numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib", "seaborn",
    "tableone", "papermill", "nbconvert", "nbclient", "ipykernel", "pyarrow",
)

KERNEL_NAME = "hpd-workbench"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


# --------------------------------------------------------------------------------------------
# parameters


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
    from .definitions import REGISTRY, get_definitions

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


# --------------------------------------------------------------------------------------------
# notebook side


def write_table(df: pd.DataFrame, out_dir: str | Path, name: str, index: bool = False) -> Path:
    """Write ``df`` to ``<out_dir>/<name>.csv`` (UTF-8, ``\\n`` line ends, ISO dates, numbers
    with 10 significant digits) and return the path; the same DataFrame always gives the same
    bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    df.to_csv(path, index=index, lineterminator="\n", date_format="%Y-%m-%d",
              float_format="%.10g")
    return path


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


def resolve_definitions(names: Sequence[str] | None = None, definitions_file: str | None = None,
                        definition_parameters: Mapping[str, Mapping[str, Any]] | None = None,
                        ) -> list:
    """The :class:`~hpd_analysis.definitions.Definition` objects of a report: the registered ones
    named in ``names`` (all when None, with the thresholds of ``definition_parameters``) plus
    those of ``definitions_file`` (YAML)."""
    from .definitions import get_definitions, load_definitions_yaml

    user = load_definitions_yaml(definitions_file) if definitions_file else []
    user_codes = {_code(d) for d in user}
    registered = [n for n in names if n not in user_codes] if names is not None else None
    defs = (list(get_definitions(registered, overrides=definition_parameters))
            if registered != [] else [])
    if names is not None:
        user = [d for d in user if _code(d) in names]
    return defs + list(user)


def _code(definition: Any) -> str:
    for attr in ("code", "name"):
        v = getattr(definition, attr, None)
        if isinstance(v, str):
            return v
    return str(definition)


@dataclass
class Section:
    """What a notebook works with: the loaded cohort, its classification and the output folders.

    ``table`` and ``figure`` write every shown table/figure under ``output_dir`` so the report's
    files and the notebook never disagree.
    """

    cohort: Any
    params: Parameters
    definitions: list
    primary: str
    features: pd.DataFrame
    classification: pd.DataFrame
    output_dir: Path
    written: list[Path] = field(default_factory=list)
    _scans: pd.DataFrame | None = field(default=None, repr=False)
    #: True when patient identifiers were replaced by keyed pseudonyms at loading
    pseudonymized: bool = False
    #: small-cell rule of the exported aggregate tables (0 = off)
    small_cell_threshold: int = 0

    @property
    def codes(self) -> list[str]:
        """Definition codes in report order."""
        return [_code(d) for d in self.definitions]

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"

    @property
    def has_measurements(self) -> bool:
        """True when the cohort has tumour measurements (kinetic sections need them)."""
        return bool(self.cohort.has_measurements)

    @property
    def data(self) -> pd.DataFrame:
        """The classification plus every patient column it lacks (tumour type, arm, risk
        factors ...): one row per patient, input order."""
        pat = self.cohort.patients.reset_index(drop=True)
        extra = [c for c in pat.columns if c not in self.classification.columns]
        if not extra:
            return self.classification
        same = (len(pat) == len(self.classification) and
                pat["patient_id"].astype(str).tolist()
                == self.classification["patient_id"].astype(str).tolist())
        if same:
            return pd.concat([self.classification, pat[extra]], axis=1)
        return self.classification.merge(pat[["patient_id", *extra]].astype({"patient_id": str}),
                                         on="patient_id", how="left", validate="one_to_one")

    @property
    def status(self) -> pd.Series:
        """HPD status (hpd / not_hpd / not_evaluable) of every patient under the primary
        definition, indexed by patient id."""
        from .plots import hpd_status

        st = hpd_status(self.classification, self.primary)
        st.index = self.classification["patient_id"].astype(str)
        return st

    @property
    def scans(self) -> pd.DataFrame:
        """:func:`hpd_analysis.timepoints.scan_table` (empty without measurements), cached."""
        if self._scans is None:
            from .timepoints import SCAN_COLUMNS, scan_table

            self._scans = (scan_table(self.cohort, self.params) if self.has_measurements
                           else pd.DataFrame(columns=SCAN_COLUMNS))
        return self._scans

    def primary_evaluable(self) -> bool:
        """True when the primary definition finds both HPD and non-HPD patients (needed for
        Table 1 by HPD status and odds ratios)."""
        st = self.status
        return bool(st.eq("hpd").any() and st.eq("not_hpd").any())

    def grouping(self, group_by: str | None) -> tuple[str | None, str]:
        """The grouping of comparisons (survival, Table 1) and a sentence saying why.

        ``group_by`` None: HPD status under the primary definition when it has HPD and non-HPD
        patients, else no grouping (one group). A patient column must exist.
        """
        if group_by is not None:
            from .incidence import hpd_column_code

            data = self.data
            if group_by not in data.columns and hpd_column_code(data, group_by) is None:
                raise ParameterError(
                    f"group_by={group_by}: no such patient column or definition "
                    f"(patient columns: {', '.join(map(str, self.cohort.patients.columns))})")
            return group_by, f"grouped by {group_by} (group_by parameter)"
        if self.primary_evaluable():
            return self.primary, (f"grouped by HPD status under {self.primary} (the primary "
                                  "definition); patients not evaluable under it are left out")
        return None, (f"not grouped: no patient is evaluable as HPD and non-HPD under "
                      f"{self.primary} (no tumour measurements?); set group_by to a patient "
                      "column, e.g. group_by=treatment")

    def risk_grouping(self, group_by: str | None) -> tuple[str | None, str]:
        """Grouping of Table 1: HPD status under the primary definition whenever it has HPD and
        non-HPD patients (the contract's table1.csv), else ``group_by`` (e.g. an arm), else
        none; with a sentence saying why."""
        if self.primary_evaluable() or group_by is None:
            return self.grouping(None)
        group, why = self.grouping(group_by)
        return group, f"{why}: no patient is evaluable as HPD and non-HPD under {self.primary}"

    def group_name(self, group: str | None) -> str:
        """Words for a grouping in titles: ``HPD status (ferrara2018)``, a column, or
        ``all patients``."""
        from .incidence import hpd_column_code

        if group is None:
            return "all patients"
        code = hpd_column_code(self.classification, group)
        return f"HPD status ({code})" if code is not None else group

    def table(self, df: pd.DataFrame, name: str, index: bool = False) -> pd.DataFrame:
        """Write ``df`` to ``tables/<name>.csv`` and return what was written (for display). The
        classification is written exactly as ``hpd classify`` writes it.

        Privacy is applied here, to every exported table: patient identifiers are already
        pseudonyms when the section was opened with ``pseudonymize`` (a patient-level table
        holding an identifier that is not a pseudonym then raises rather than leak it), and the
        small-cell rule (:func:`suppress_table`) masks counts below ``small_cell_threshold`` in
        aggregate tables (tables without a ``patient_id`` column).
        """
        if self.pseudonymized:
            _check_pseudonymized(df, name)
        if self.small_cell_threshold > 1:
            df = suppress_table(df, name, self.small_cell_threshold)
        if name == "classification" and not index:
            from .classification import write_table as write_classification

            self.written.append(write_classification(df, self.tables_dir / f"{name}.csv"))
        else:
            self.written.append(write_table(df, self.tables_dir, name, index=index))
        return df

    def figure(self, fig: Any, name: str) -> None:
        """Write ``fig`` to ``figures/<name>.png`` and ``.svg`` (the notebook shows it)."""
        from .plots import save_figure

        self.written.extend(save_figure(fig, self.figures_dir, name))


def open_section(
    cohort: str | Path | None = None,
    output_dir: str | Path = "../reports",
    definitions: Sequence[str] | None = None,
    definitions_file: str | None = None,
    primary_definition: str = "ferrara2018",
    windows: Mapping[str, Any] | None = None,
    analysis_parameters: Mapping[str, Any] | None = None,
    pseudonymize: bool | None = None,
    small_cell_threshold: int | None = None,
    pseudonym_key_file: str | Path | None = None,
    definition_parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> Section:
    """Load ``cohort`` (a folder or file; None = the bundled example), classify it under the
    report's definitions and parameters, apply the figure style, and return a :class:`Section`.

    ``pseudonymize``: replace every patient identifier by its keyed pseudonym right after
    loading (key from ``pseudonym_key_file``, else ``$HPD_PSEUDONYM_KEY``), so that no table,
    figure or displayed frame of the section holds an original identifier.
    ``small_cell_threshold``: the small-cell rule of :meth:`Section.table` (0 = off).
    Both default (None) to the values :func:`run_report` hands to the kernel through
    ``$HPD_REPORT_PSEUDONYMIZE`` / ``$HPD_REPORT_SMALL_CELL_THRESHOLD``, else off.

    Raises :class:`ParameterError` when ``primary_definition`` is not among the definitions, or
    when pseudonymization is asked for without a usable key.
    """
    import os

    from .classification import build_features, classify_features
    from .load import load_cohort
    from .plots import apply_style

    if cohort is None:
        from .datasets import example_path

        cohort = example_path()
    params = build_parameters(windows, analysis_parameters)
    defs = resolve_definitions(definitions, definitions_file, definition_parameters)
    codes = [_code(d) for d in defs]
    primary = str(primary_definition).removeprefix("hpd_")
    if primary not in codes:
        raise ParameterError(f"primary_definition={primary}: not among the definitions "
                             f"({', '.join(codes)})")
    if pseudonymize is None:
        pseudonymize = os.environ.get(ENV_PSEUDONYMIZE, "") == "1"
    if small_cell_threshold is None:
        small_cell_threshold = int(os.environ.get(ENV_SMALL_CELL, "0") or 0)
    if pseudonym_key_file is None:
        pseudonym_key_file = os.environ.get(ENV_KEY_FILE) or None
    loaded = load_cohort(cohort)
    loaded = replace(loaded, load_report=portable_load_report(loaded.load_report, cohort))
    if pseudonymize:
        from .privacy import read_key

        loaded = pseudonymize_cohort(loaded, read_key(pseudonym_key_file))
    features = build_features(loaded, params)
    table = classify_features(features, defs)
    apply_style()
    # the notebooks display whole summary tables (incidence by stratum has definitions ×
    # strata rows): pandas' default of 60 rows would cut them to 10
    pd.set_option("display.max_rows", DISPLAY_MAX_ROWS)
    pd.set_option("display.max_columns", 60)  # survival.csv has 22 columns: none elided
    out = Path(output_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return Section(cohort=loaded, params=params, definitions=defs, primary=primary,
                   features=features, classification=table, output_dir=out,
                   pseudonymized=bool(pseudonymize), small_cell_threshold=int(small_cell_threshold))


# --------------------------------------------------------------------------------------------
# privacy: pseudonyms and the small-cell rule

#: prefix of the pseudonyms (:func:`hpd_analysis.privacy.pseudonymize`)
PSEUDONYM_PREFIX = "ID-"


def pseudonymize_cohort(cohort: Any, key: bytes) -> Any:
    """Copy of a loaded cohort whose ``patient_id`` columns (patients, lesions, assessments,
    wide scans) hold keyed pseudonyms (:func:`hpd_analysis.privacy.pseudonymize_table`); the
    loader's notes have any identifier they quote replaced as well."""
    import dataclasses

    from .privacy import pseudonymize, pseudonymize_table

    changes: dict[str, Any] = {}
    for name in ("patients", "lesions", "assessments", "scans_wide"):
        tab = getattr(cohort, name, None)
        if isinstance(tab, pd.DataFrame) and "patient_id" in tab.columns:
            changes[name] = pseudonymize_table(tab, key)
    ids = cohort.patients["patient_id"].dropna().astype(str).unique()
    rep = getattr(cohort, "load_report", None)
    if isinstance(rep, pd.DataFrame) and len(rep) and len(ids):
        mapping = dict(zip(ids, pseudonymize(pd.Series(ids), key), strict=True))
        pattern = re.compile(r"(?<![\w-])(" + "|".join(
            re.escape(i) for i in sorted(mapping, key=len, reverse=True)) + r")(?![\w-])")
        rep = rep.copy()
        for col in rep.columns:
            if rep[col].dtype == object:
                rep[col] = rep[col].map(lambda v: pattern.sub(lambda m: mapping[m.group(0)], v)
                                        if isinstance(v, str) else v)
        changes["load_report"] = rep
    return dataclasses.replace(cohort, **changes)


def _check_pseudonymized(df: pd.DataFrame, name: str) -> None:
    """Raise :class:`HPDError` when a ``patient_id`` column of a table to export holds a value
    that is not a pseudonym (it would leak an identifier)."""
    for col in ("patient_id",):
        if col in df.columns:
            v = df[col].dropna().astype(str)
            bad = ~v.str.startswith(PSEUDONYM_PREFIX)
            if bad.any():
                raise HPDError(f"table {name}: {int(bad.sum())} patient_id value(s) are not "
                               "pseudonyms although pseudonymize is on; not written")


#: per exported aggregate table: (count columns, columns computed from them). Tables not listed
#: use the default rule: numeric ``n``/``n_*``/``events`` columns, and percent / CI columns.
SMALL_CELL_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "incidence": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "threshold_sweep": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "attrition": (("n",), ("percent_of_cohort",)),
    "agreement": (("n_both_evaluable", "n_both", "n_a_only", "n_b_only", "n_neither",
                   "n_either"),
                  ("jaccard", "percent_agreement", "kappa", "kappa_ci_low", "kappa_ci_high",
                   "kappa_p_value")),
    "scans_per_patient": (("n_patients",), ()),
    "recist_first_eval": (("n", "n_hpd", "n_not_hpd", "n_not_evaluable"), ("percent",)),
    "upset": (("n",), ()),
    "survival": (("n", "events", "n_excluded"),
                 ("median_months", "median_ci_low", "median_ci_high", "hazard_ratio",
                  "hr_ci_low", "hr_ci_high")),
    "survival_excluded": (("n",), ()),
    "kinetics_summary": (("n", "n_missing"), ("median", "q1", "q3")),
    "odds_ratios": (("n", "n_events"), ()),
    # rows of the input files a loader action touched: not a count of patients
    "load_report": ((), ()),
}
_DEPENDENT_DEFAULT = ("percent", "pct", "ci_low", "ci_high")
_COUNT_PCT = re.compile(r"^\s*(\d+)(\s*\(\s*[-\d.]+\s*%?\s*\))?\s*$")


def _mask_count_text(value: Any, k: int) -> Any:
    """``"3 (7.5)"`` / ``"3"`` / ``3`` → ``"<k"`` when the count is 1..k-1; anything else as is."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<{k}" if 0 < value < k and float(value).is_integer() else value
    if isinstance(value, str):
        m = _COUNT_PCT.match(value)
        if m and 0 < int(m.group(1)) < k:
            return f"<{k}"
    return value


def _suppress_text_counts(table: pd.DataFrame, columns: Sequence[str], k: int) -> pd.DataFrame:
    out = table.copy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col].astype("object").map(lambda v: _mask_count_text(v, k))
    return out


def suppress_table(table: pd.DataFrame, name: str, k: int) -> pd.DataFrame:
    """The small-cell rule on one exported table: counts 1..k-1 → ``"<k"`` and the values
    computed from a masked count blanked (:func:`hpd_analysis.privacy.suppress_small_cells`).

    Patient-level tables (with a ``patient_id`` column) are not aggregates and are returned
    unchanged. ``table1``: every ``n (%)`` / count cell of the group columns and ``missing``.
    ``cohort_overview``: values that are a count, ``count (x %)`` or ``name count, ...`` lists.
    ``k <= 1`` returns the table unchanged.
    """
    from .privacy import suppress_small_cells

    if k <= 1 or "patient_id" in table.columns:
        return table
    if name == "table1":
        fixed = {"variable", "level", "statistic", "test", "p_value", "smd"}
        cols = [c for c in table.columns if c not in fixed]
        out = _suppress_text_counts(table, cols, k)
        out.attrs = dict(table.attrs)
        return out
    if name == "cohort_overview" and "value" in table.columns:
        out = _suppress_text_counts(table, ["value"], k)

        def _lists(v: Any) -> Any:
            if not isinstance(v, str) or "," not in v:
                return v
            parts = [re.sub(r"(\s)(\d+)$", lambda m: m.group(1) + (
                f"<{k}" if 0 < int(m.group(2)) < k else m.group(2)), p) for p in v.split(", ")]
            return ", ".join(parts)

        out["value"] = out["value"].map(_lists)
        return out
    counts, dependent = SMALL_CELL_COLUMNS.get(name, (None, _DEPENDENT_DEFAULT))
    count_cols = (None if counts is None else [c for c in counts if c in table.columns])
    out = suppress_small_cells(table, k, count_columns=count_cols,
                               dependent_columns=[c for c in dependent if c in table.columns])
    out.attrs = dict(table.attrs)
    return out


# --------------------------------------------------------------------------------------------
# summaries shown by the notebooks (computation lives here, not in the notebooks)

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


def cohort_overview(section: Section) -> pd.DataFrame:
    """Headline counts of the cohort: ``item, value`` rows (patients, input shape, scans per
    patient median [IQR], patients with each kinetic time point, endpoints available)."""
    c, cl = section.cohort, section.classification
    shape = ("lesions (one row per lesion per scan)" if c.lesions is not None and len(c.lesions)
             else "per-scan sums (assessments)" if c.assessments is not None and len(c.assessments)
             else "three-scan wide table" if c.scans_wide is not None and len(c.scans_wide)
             else "no tumour measurements")
    per = scans_per_patient(section)
    counts = per["n_scans"].repeat(per["n_patients"]).astype(float)
    rows: list[tuple[str, str]] = [
        ("patients", str(c.n_patients)),
        ("tumour measurements", shape),
    ]
    if len(counts):
        q1, med, q3 = counts.quantile([0.25, 0.5, 0.75]).tolist()
        rows.append(("scans per patient, median [IQR] (range)",
                     f"{med:g} [{q1:g}–{q3:g}] ({counts.min():g}–{counts.max():g})"))
    for col, label in (("prebaseline_date", "patients with a pre-baseline scan"),
                       ("baseline_date", "patients with a baseline scan"),
                       ("first_eval_date", "patients with a first evaluation")):
        if col in cl.columns:
            n = int(cl[col].notna().sum())
            rows.append((label, f"{n} ({100 * n / max(len(cl), 1):.1f} %)"))
    if "first_eval_day" in cl.columns:
        d = pd.to_numeric(cl["first_eval_day"], errors="coerce").dropna()
        if len(d):
            rows.append(("day of first evaluation, median [IQR]",
                         f"{d.median():g} [{d.quantile(0.25):g}–{d.quantile(0.75):g}]"))
    for ep in ("os", "pfs", "ttf"):
        col = f"{ep}_months"
        if col in cl.columns:
            n = int(pd.to_numeric(cl[col], errors="coerce").notna().sum())
            rows.append((f"patients with {ep.upper()} time", str(n)))
    for col in ("tumor_type", "treatment"):
        if col in c.patients.columns:
            vc = c.patients[col].astype("string").fillna("missing").value_counts()
            vc = vc.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
            rows.append((col.replace("_", " "), ", ".join(f"{k} {v}" for k, v in vc.items())))
    return pd.DataFrame(rows, columns=["item", "value"])


def scans_per_patient(section: Section) -> pd.DataFrame:
    """Distribution of the number of scans per patient: ``n_scans, n_patients`` (patients without
    any scan counted with 0)."""
    ids = section.cohort.patients["patient_id"].astype(str)
    scans = section.scans
    per = (scans["patient_id"].astype(str).value_counts() if len(scans)
           else pd.Series(dtype="int64"))
    n = per.reindex(ids.unique(), fill_value=0)
    dist = n.value_counts().sort_index()
    return pd.DataFrame({"n_scans": dist.index.astype("int64"),
                         "n_patients": dist.to_numpy(dtype="int64")})


def kinetics_summary(classification: pd.DataFrame) -> pd.DataFrame:
    """Median [IQR] of each kinetic quantity, with how many patients have it and the most
    frequent reason when they do not: ``quantity, unit, n, median, q1, q3, n_missing,
    main_reason_missing``."""
    units = {"tgr_pre": "% per month", "tgr_on": "% per month", "tgr_ratio": "ratio",
             "delta_tgr": "percentage points", "tgk_pre": "mm per month",
             "tgk_on": "mm per month", "tgk_ratio": "ratio",
             "sld_pct_change_first_eval": "% from baseline"}
    rows = []
    for col, unit in units.items():
        if col not in classification.columns:
            continue
        v = pd.to_numeric(classification[col], errors="coerce").astype(float)
        fin = v[v.abs() < float("inf")]
        miss = v.isna()
        reason = ""
        rcol = f"{col}_reason"
        if miss.any() and rcol in classification.columns:
            r = classification.loc[miss, rcol].astype("string").dropna()
            if len(r):
                vc = r.value_counts()
                reason = str(sorted(vc[vc == vc.max()].index)[0])
        rows.append({
            "quantity": col, "unit": unit, "n": int(fin.size),
            "median": fin.median() if len(fin) else float("nan"),
            "q1": fin.quantile(0.25) if len(fin) else float("nan"),
            "q3": fin.quantile(0.75) if len(fin) else float("nan"),
            "n_missing": int(miss.sum()), "main_reason_missing": reason,
        })
    return pd.DataFrame(rows, columns=["quantity", "unit", "n", "median", "q1", "q3",
                                       "n_missing", "main_reason_missing"])


def recist_counts(classification: pd.DataFrame, status: pd.Series | None = None) -> pd.DataFrame:
    """RECIST 1.1 response at first evaluation: ``response, n, percent`` (of all patients), and
    one column per HPD status when ``status`` (aligned with the rows) is given."""
    order = ["CR", "PR", "SD", "PD", "NE"]
    resp = classification["recist_first_eval"].astype("string").fillna("NE")
    counts = resp.value_counts().reindex(order, fill_value=0)
    extra = [r for r in resp.unique() if r not in order]
    counts = pd.concat([counts, resp.value_counts().reindex(sorted(extra))]) if extra else counts
    out = pd.DataFrame({"response": counts.index, "n": counts.to_numpy(dtype="int64")})
    out["percent"] = 100.0 * out["n"] / max(len(resp), 1)
    if status is not None:
        ct = pd.crosstab(resp.to_numpy(), pd.Series(status).astype(str).to_numpy())
        for st in ("hpd", "not_hpd", "not_evaluable"):
            out[f"n_{st}"] = ct[st].reindex(out["response"], fill_value=0).to_numpy(
                dtype="int64") if st in ct.columns else 0
    return out


def _sweep_parameter(definition: Any) -> str | None:
    for name, value in definition.parameters.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 \
                and name.endswith(("_min", "_min_pct", "_max_months")):
            return name
    return None


def threshold_sweep_table(section: Section, definition: str | None = None,
                          parameter: str | None = None, n_values: int = 21,
                          method: str = "wilson") -> pd.DataFrame:
    """HPD incidence as one threshold of a definition varies, with a binomial CI.

    Default: the primary definition's first threshold parameter (e.g. ``delta_tgr_min`` of
    ``ferrara2018``), over ``n_values`` evenly spaced values from 0 (ratio thresholds: 1) to 3 ×
    the published value. Columns of :func:`hpd_analysis.classification.threshold_sweep` plus
    ``default`` (the published value), ``ci_low``, ``ci_high`` (%), ``ci_method``.
    """
    import numpy as np
    from statsmodels.stats.proportion import proportion_confint

    from .classification import threshold_sweep

    code = definition or section.primary
    defn = next((d for d in section.definitions if _code(d) == code), None)
    if defn is None:
        raise ParameterError(f"threshold sweep: definition {code} is not in the report")
    name = parameter or _sweep_parameter(defn)
    cols = ["definition", "parameter", "value", "default", "n_hpd", "n_evaluable", "n_total",
            "percent", "ci_low", "ci_high", "ci_method"]
    if name is None:
        return pd.DataFrame(columns=cols)
    default = float(defn.parameters[name])
    low = 1.0 if "ratio" in name else 0.0
    values = np.round(np.linspace(low, max(3.0 * default, low + 1.0), n_values), 6)
    # the published threshold is always on the grid (the curve is read at that point)
    values = np.unique(np.append(values, round(float(default), 6)))
    sweep = threshold_sweep(section.features, defn, name, values)
    from .incidence import CI_METHODS

    sm, ci_label = CI_METHODS[method]
    n_e = sweep["n_evaluable"].to_numpy(dtype=float)
    ok = n_e > 0
    lo = np.full(len(sweep), np.nan)
    hi = np.full(len(sweep), np.nan)
    if ok.any():
        a, b = proportion_confint(sweep["n_hpd"].to_numpy(dtype=float)[ok], n_e[ok],
                                  alpha=0.05, method=sm)
        lo[ok], hi[ok] = 100.0 * np.asarray(a), 100.0 * np.asarray(b)
    sweep["default"] = default
    sweep["ci_low"], sweep["ci_high"] = lo, hi
    sweep["ci_method"] = f"{ci_label} 95%"
    return sweep[cols]


def table1_by(section: Section, group: str | None, variables: Sequence[str] | None = None
              ) -> pd.DataFrame:
    """Table 1 (:func:`hpd_analysis.riskfactors.table1`) of the section's patients by ``group``
    (an HPD definition or a patient column); ``None`` describes all patients in one column.
    Notes are in ``attrs["warnings"]``."""
    from .riskfactors import table1

    data = section.data
    if group is None:
        group = "all_patients"
        data = data.assign(all_patients="all patients")
    return table1(data, group, variables=variables, statistics=section.params.statistics)


def multivariable_set(section: Section, variables: Sequence[str] | None = None,
                      multivariable_variables: Sequence[str] | None = None) -> list[str]:
    """Variables of the multivariable model: ``multivariable_variables`` when given (each must
    be a patient column or a derived factor, else :class:`ParameterError`), else those of
    :data:`MULTIVARIABLE_DEFAULT` among the candidates (``variables``, default the package's
    default candidates)."""
    from .riskfactors import default_candidates

    cand = list(variables) if variables is not None else default_candidates(section.data.columns)
    if multivariable_variables is not None:
        wanted = ([multivariable_variables] if isinstance(multivariable_variables, str)
                  else list(multivariable_variables))
        unknown = [v for v in wanted if v not in cand]
        if unknown:
            raise ParameterError(
                f"multivariable_variables: {', '.join(unknown)} not among the candidate risk "
                f"factors ({', '.join(cand)})")
        return wanted
    return [v for v in MULTIVARIABLE_DEFAULT if v in cand]


def odds_ratios_for(section: Section, variables: Sequence[str] | None = None,
                    multivariable_variables: Sequence[str] | None = None) -> pd.DataFrame:
    """Odds ratios of HPD under the primary definition
    (:func:`hpd_analysis.riskfactors.odds_ratios`): univariable for every candidate in
    ``variables``, multivariable on :func:`multivariable_set` (default the short literature set
    :data:`MULTIVARIABLE_DEFAULT`). An empty table of the same columns, with the reason in
    ``attrs["warnings"]``, when no patient is evaluable as HPD and non-HPD."""
    from .riskfactors import OR_COLUMNS, odds_ratios

    if not section.primary_evaluable():
        out = pd.DataFrame(columns=OR_COLUMNS)
        out.attrs["warnings"] = [
            f"no odds ratios: no patient is evaluable as HPD and as non-HPD under "
            f"{section.primary}"]
        return out
    multi = multivariable_set(section, variables, multivariable_variables)
    if variables is not None:
        variables = list(dict.fromkeys([*variables, *multi]))
    return odds_ratios(section.data, section.primary, variables=variables,
                       multivariable_variables=multi, statistics=section.params.statistics)


def epv_table(odds_ratio_table: pd.DataFrame) -> pd.DataFrame:
    """Events per variable of each model of an odds-ratio table: ``model, n, n_events,
    n_parameters, epv`` (events of the rarer outcome per estimated coefficient; Peduzzi 1996
    asks for ≥ 10). Univariable models are summarised by their smallest EPV."""
    from .riskfactors import events_per_variable

    cols = ["model", "n", "n_events", "n_parameters", "epv"]
    t = odds_ratio_table
    if t.empty:
        return pd.DataFrame(columns=cols)
    est = t[t["note"].astype(str).ne("reference level")
            & pd.to_numeric(t["n"], errors="coerce").notna()].copy()
    rows = []
    for model, sub in est.groupby(est["model"].astype(str), sort=False):
        n = pd.to_numeric(sub["n"], errors="coerce")
        ev = pd.to_numeric(sub["n_events"], errors="coerce")
        if model == "multivariable":
            n0, e0 = int(n.iloc[0]), int(ev.iloc[0])
            k = int(len(sub))
            rows.append({"model": model, "n": n0, "n_events": e0, "n_parameters": k,
                         "epv": events_per_variable(min(e0, n0 - e0), k)})
        else:
            per = sub.assign(n_=n, ev_=ev).groupby("variable", sort=False).agg(
                n=("n_", "first"), n_events=("ev_", "first"), k=("variable", "size"))
            per = per.dropna()
            if per.empty:
                continue
            rare = per["n_events"].clip(upper=per["n"] - per["n_events"]).astype(float)
            epv = (rare / per["k"].astype(float)).reset_index(drop=True)
            i = int(epv.idxmin())
            rows.append({"model": "univariable (smallest)", "n": int(per["n"].iloc[i]),
                         "n_events": int(per["n_events"].iloc[i]),
                         "n_parameters": int(per["k"].iloc[i]), "epv": float(epv[i])})
    return pd.DataFrame(rows, columns=cols)


def warning_html(messages: Sequence[str], title: str = "Warning") -> str:
    """An HTML box (inline CSS, no external asset) listing ``messages``: how the notebooks
    show warnings a reader must not miss (low events per variable ...). Empty string when there
    is no message."""
    import html

    if not messages:
        return ""
    items = "".join(f"<li>{html.escape(str(m))}</li>" for m in messages)
    return ('<div style="border-left:6px solid #D55E00;background:#fff4ec;padding:0.6em 1em;'
            'margin:0.6em 0;font-family:sans-serif">'
            f"<strong>{html.escape(title)}</strong><ul style=\"margin:0.3em 0\">{items}</ul></div>")


def survival_exclusions(data: pd.DataFrame, group_by: str | None, landmark: Any,
                        endpoints: Sequence[str] = ("os", "pfs", "ttf"), **options: Any
                        ) -> pd.DataFrame:
    """Patients left out of each survival comparison, by reason: ``endpoint, reason, n``
    (:func:`hpd_analysis.survival.exclusion_table`; ``options``: its definitions, lookahead,
    days_per_month)."""
    from .survival import exclusion_table

    return exclusion_table(data, group_by, landmark, endpoints, **options)


# --------------------------------------------------------------------------------------------
# running the report


def notebooks_dir() -> Path:
    """The folder of the report notebooks: ``notebooks/`` of the source tree."""
    here = Path(__file__).resolve().parent
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


def portable_load_report(load_report: pd.DataFrame, cohort: str | Path) -> pd.DataFrame:
    """The load report with its ``file`` paths relative to the cohort folder (a cohort file: its
    name), so that load_report.csv does not depend on where the cohort sits: a reviewer who
    copies the cohort elsewhere gets the same bytes. Paths outside the cohort stay as they are."""
    if "file" not in load_report.columns or not len(load_report):
        return load_report
    base = Path(cohort).resolve()
    root = base if base.is_dir() else base.parent

    def relative(value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return Path(value).resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            return value

    out = load_report.copy()
    out["file"] = out["file"].map(relative)
    return out


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


def _clean_notebook(path: Path, notebook_source: str) -> None:
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


def render_html(ipynb: Path, html: Path, title: str) -> Path:
    """Render an executed notebook to self-contained HTML: no prompts, code folded, no network
    assets (no require.js / MathJax / mermaid from a CDN)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_TEMPLATES)],
        template_file="hpd_section.html.j2",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    html.write_text(body, encoding="utf-8")
    return html


def _render_index(out: Path, context: dict[str, Any]) -> Path:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=False,
                             keep_trailing_newline=True)
    text = env.get_template("index.html.j2").render(**context)
    path = out / "index.html"
    path.write_text(text, encoding="utf-8")
    return path


def _fmt_value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if v else "none"
    return str(v)


def _listing(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    tables = sorted(p.relative_to(out).as_posix() for p in (out / "tables").glob("*.csv"))
    names = sorted({p.stem for p in (out / "figures").glob("*.png")}
                   | {p.stem for p in (out / "figures").glob("*.svg")})
    figures = [{"name": n, "png": f"figures/{n}.png", "svg": f"figures/{n}.svg"} for n in names]
    return tables, figures


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
        from .privacy import read_key

        read_key(resolved["pseudonym_key_file"])  # no usable key: fail before any notebook runs
    from .definitions import describe_definitions

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


def redact_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every :data:`PRIVATE_PARAMETERS` entry replaced by ``"given"`` (or left
    None): what parameters.json, index.html and the command line shown record."""
    return {k: ("given (not recorded)" if k in PRIVATE_PARAMETERS and v is not None else v)
            for k, v in values.items()}


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
