"""The user API: ``hpd.classify(cohort, **parameters)`` and the :class:`Classification` it returns.

lifelines-style: one call returns a result object whose methods give the tables and figures of
the report, each by calling the package's domain functions (:mod:`~hpd_analysis.incidence`,
:mod:`~hpd_analysis.agreement`, :mod:`~hpd_analysis.riskfactors`,
:mod:`~hpd_analysis.survival`, :mod:`~hpd_analysis.plots`) exactly as the report does::

    import hpd_analysis as hpd
    cohort = hpd.datasets.load_example()
    res = hpd.classify(cohort, **{"ferrara2018.delta_tgr_min": 75})
    res                       # in Jupyter: the incidence summary, not 500 rows
    res.incidence(by="tumor_type")
    res.plot_km(endpoint="os")
    res.explain("P0001")      # every definition's verdict and reason for one patient

Parameter names are the report's (``hpd report --set KEY=VALUE``): analysis parameters
(``windows.first_eval_min_days``, ``tgk_mode`` ...), definition thresholds
(``<code>.<parameter>``) and the report keys that choose an analysis (``primary_definition``,
``group_by``, ``landmark``, ``stratify_by``, ``risk_factors``, ``multivariable_variables``,
``ci_method``). Python keyword names cannot hold a dot: pass ``**{"ferrara2018.delta_tgr_min":
75}``, or write the dot as a double underscore (``ferrara2018__delta_tgr_min=75``), or nest
(``ferrara2018={"delta_tgr_min": 75}``, ``windows={"first_eval_min_days": 21}``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import ParameterError
from .params import Parameters

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .cohort import Cohort
    from .definitions import Definition
    from .report import Section
    from .survival import SurvivalComparison, SurvivalInfo

__all__ = [
    "Classification",
    "Explanation",
    "RESULT_SETTINGS",
    "changed_parameters",
    "classify",
    "define",
    "KMLabels",
    "km_labels",
    "resolve_classify_parameters",
]

#: report parameters (``hpd report --set``) that choose an analysis of a classification; the other
#: report keys (output, privacy, sampling of figures) belong to the report only
RESULT_SETTINGS: tuple[str, ...] = (
    "primary_definition",
    "group_by",
    "landmark",
    "stratify_by",
    "risk_factors",
    "multivariable_variables",
    "ci_method",
)


def _flatten_keywords(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``a__b`` → ``a.b`` (Python keywords cannot hold a dot); nested mappings stay nested (the
    report's parser reads ``windows: {...}`` and ``<code>: {...}``)."""
    return {str(k).replace("__", "."): v for k, v in parameters.items()}


def resolve_classify_parameters(
    parameters: Mapping[str, Any] | None,
) -> tuple[Parameters, dict[str, dict[str, Any]], dict[str, Any]]:
    """Split ``**parameters`` of :func:`classify` with the report's own parser
    (:func:`hpd_analysis.report.resolve_parameters`): ``(Parameters, {code: {parameter: value}},
    settings)``, settings being the :data:`RESULT_SETTINGS` with the report's defaults.

    Keys the report knows but a classification does not use (output, privacy options) raise
    :class:`ParameterError`, as do unknown keys and invalid values (one line naming the key)."""
    from .report import default_parameters, resolve_parameters

    given = _flatten_keywords(parameters or {})
    resolved = resolve_parameters(given)
    known = set(RESULT_SETTINGS) | set(Parameters().to_dict()) | {"definition_parameters"}
    report_only = sorted(k for k in given if k in default_parameters() and k not in known)
    if report_only:
        raise ParameterError(
            f"{', '.join(report_only)}: report option(s), not used by classify (use "
            "`hpd report --set`); classify takes the analysis parameters, "
            "<definition>.<parameter> thresholds and " + ", ".join(RESULT_SETTINGS)
        )
    params = Parameters.from_dict({k: resolved[k] for k in Parameters().to_dict()})
    thresholds = {c: dict(v) for c, v in (resolved.get("definition_parameters") or {}).items()}
    settings = {k: resolved[k] for k in RESULT_SETTINGS}
    return params, thresholds, settings


def _is_yaml(definitions: Any) -> bool:
    return isinstance(definitions, str | Path) and str(definitions).lower().endswith(
        (".yaml", ".yml")
    )


def _own_thresholds(parameters: dict[str, Any], codes: set[str]) -> dict[str, dict[str, Any]]:
    """Pop the ``<code>.<parameter>`` keys (and nested ``<code>: {...}``) of the user definitions
    ``codes`` out of ``parameters`` (they are not in the registry the report's parser knows)."""
    out: dict[str, dict[str, Any]] = {}
    for key in list(parameters):
        head, dot, tail = key.partition(".")
        if dot and head in codes:
            out.setdefault(head, {})[tail] = parameters.pop(key)
        elif not dot and key in codes and isinstance(parameters[key], Mapping):
            out.setdefault(key, {}).update(parameters.pop(key))
    return out


def _chosen_definitions(
    definitions: Any, thresholds: Mapping[str, Mapping[str, Any]]
) -> list[Definition]:
    """Definitions to apply: codes (registry), :class:`Definition` objects or those of a YAML
    file, with the ``<code>.<parameter>`` thresholds applied."""
    from .definitions import resolve_definitions

    defs = resolve_definitions(definitions)
    by_code = {d.code: d for d in defs}
    for code, values in thresholds.items():
        if code in by_code:
            by_code[code] = by_code[code].with_parameters(**dict(values))
    return list(by_code.values())


def _primary(settings: Mapping[str, Any], codes: Sequence[str], given: bool) -> str:
    primary = str(settings["primary_definition"])
    if primary in codes:
        return primary
    if given or not codes:
        raise ParameterError(
            f"primary_definition={primary} is not among the definitions "
            f"classified ({', '.join(codes) or 'none'})"
        )
    return codes[0]


def classify(
    cohort: Cohort | str | Path,
    definitions: str | Definition | Iterable[str | Definition] | Path | None = None,
    **parameters: Any,
) -> Classification:
    """Classify every patient of ``cohort`` under every definition, with the reason of each verdict.

    Parameters
    ----------
    cohort
        A :class:`~hpd_analysis.cohort.Cohort` (:func:`hpd_analysis.load_cohort`,
        :mod:`hpd_analysis.datasets`) or a cohort folder/file path (loaded with the windows given).
    definitions
        Definition codes (``"ferrara2018"`` or a list), :class:`~hpd_analysis.definitions.Definition`
        objects, or a YAML file (``definitions:`` applied, its ``parameters:`` used unless given
        here, as ``hpd classify --config``); ``None``: every registered definition
        (``hpd.definitions``).
    **parameters
        The report's parameter vocabulary (``hpd report --set KEY=VALUE``): analysis parameters
        (``windows.first_eval_min_days`` in days, ``tgk_mode``, ``nonpositive_pre_growth`` ...),
        thresholds ``<code>.<parameter>`` (``ferrara2018.delta_tgr_min`` in % per month) and
        :data:`RESULT_SETTINGS` (``primary_definition``, ``group_by``, ``landmark``,
        ``stratify_by``, ``ci_method`` ...: defaults of the methods). A dot may be written
        ``__`` and a group or definition may be nested (``windows={"first_eval_min_days": 21}``).

    Returns
    -------
    :class:`Classification`: ``.table`` (one row per patient, ``hpd_<code>``,
    ``hpd_<code>_status``, ``hpd_<code>_reason`` ...) and the analysis methods.

    Examples
    --------
    >>> import hpd_analysis as hpd
    >>> res = hpd.classify(hpd.datasets.load_example(), ["ferrara2018", "champiat2017"],
    ...                    ferrara2018__delta_tgr_min=75, windows={"first_eval_min_days": 21})
    >>> res.definitions["ferrara2018"].parameters["delta_tgr_min"]
    75
    >>> res.params.windows.first_eval_min_days
    21
    >>> len(res.table) == res.cohort.n_patients
    True
    """
    from .classification import build_features, classify_features
    from .load import load_cohort

    given_keys = _flatten_keywords(parameters)
    own: dict[str, dict[str, Any]] = {}
    if isinstance(definitions, str | Path) and _is_yaml(definitions):
        # the YAML file's definitions, and its parameters (lower priority than the keywords)
        from .definitions import REGISTRY, read_yaml_config

        config, definitions = read_yaml_config(definitions)
        given_keys = {**_flatten_keywords(config), **given_keys}
        own = _own_thresholds(given_keys, {d.code for d in definitions} - set(REGISTRY))
    params, thresholds, settings = resolve_classify_parameters(given_keys)
    loaded: Cohort = (
        cohort if not isinstance(cohort, str | Path) else load_cohort(cohort, params=params)
    )
    defs = _chosen_definitions(definitions, {**thresholds, **own})
    given = "primary_definition" in given_keys
    settings["primary_definition"] = _primary(settings, [d.code for d in defs], given)
    features = build_features(loaded, params)
    table = classify_features(features, defs)
    return Classification(
        cohort=loaded,
        params=params,
        definition_list=defs,
        features=features,
        table=table,
        settings=settings,
    )


def define(
    code: str,
    criteria: Any,
    *,
    citation: str = "user-defined",
    rule: str = "",
    parameters: Mapping[str, Any] | None = None,
    requires: Sequence[Any] = (),
    notes: str = "",
    choices: Mapping[str, Sequence[Any]] | None = None,
    replace: bool = False,
) -> Definition:
    """Register a user definition of HPD (it then runs everywhere: ``classify``, the report, the CLI).

    The arguments are the fields of a ``definitions:`` item of a YAML file (docs/definitions.md):
    ``criteria`` in the criteria language (atoms ``"<column> <op> <value>"``, ``{name}`` for a
    parameter, lists = all, ``{"any": [...]}``, ``{"at_least": k, "of": [...]}``), ``parameters``
    with their values, ``requires`` (``prebaseline``, ``baseline``, ``first_eval``,
    ``measurable_baseline`` or atoms). ``replace=True`` overwrites a registered code. Returns the
    registered :class:`~hpd_analysis.definitions.Definition`.

    Examples
    --------
    >>> import hpd_analysis as hpd
    >>> d = hpd.define("tgr_doubling", ["recist_first_eval == PD", "tgr_ratio >= {ratio_min}"],
    ...                parameters={"ratio_min": 2.0}, requires=["prebaseline"],
    ...                rule="RECIST PD and TGR ratio >= 2", replace=True)
    >>> "tgr_doubling" in hpd.definitions
    True
    """
    from .definitions import definition_from_dict, register

    item = {
        "code": code,
        "criteria": criteria,
        "citation": citation,
        "rule": rule,
        "parameters": dict(parameters or {}),
        "requires": list(requires),
        "notes": notes,
        "choices": dict(choices or {}),
    }
    return register(definition_from_dict(item, source="hpd.define"), replace=replace)


class _DefinitionsView(Mapping):
    """Read-only ``code -> Definition`` of a classification, displayed as the registry table."""

    def __init__(self, definitions: Sequence[Definition]):
        self._d = {d.code: d for d in definitions}

    def __getitem__(self, code: str) -> Definition:
        return self._d[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def table(self) -> pd.DataFrame:
        """:func:`hpd_analysis.definitions.describe_definitions` of these definitions."""
        from .definitions import describe_definitions

        return describe_definitions(self._d.values())

    def __repr__(self) -> str:
        return self.table()[["code", "parameters"]].to_string(index=False)

    def _repr_html_(self) -> str:
        return self.table()[["code", "rule", "parameters"]].to_html(index=False)


@dataclass(eq=False)
class Classification:
    """The result of :func:`classify`: the per-patient table and every analysis of it.

    Attributes
    ----------
    table
        One row per patient (input order): kinetics (TGR % per month, TGK mm per month), RECIST,
        endpoints (months) and per definition ``hpd_<code>`` (True / False / NA),
        ``hpd_<code>_status`` (``hpd`` / ``not_hpd`` / ``not_evaluable``), ``hpd_<code>_reason``.
    features
        :func:`hpd_analysis.classification.build_features` (what the definitions read).
    params
        The :class:`~hpd_analysis.params.Parameters` in force.
    settings
        :data:`RESULT_SETTINGS` (``primary_definition``, ``landmark`` ...), the methods' defaults.
    """

    cohort: Cohort
    params: Parameters
    definition_list: list[Definition]
    features: pd.DataFrame
    table: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    _section_cache: Section | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def codes(self) -> list[str]:
        """Definition codes, in the order classified."""
        return [d.code for d in self.definition_list]

    @property
    def definitions(self) -> _DefinitionsView:
        """``code -> Definition`` with the thresholds in force (displays as a table)."""
        return _DefinitionsView(self.definition_list)

    @property
    def primary(self) -> str:
        """The primary definition (colours, Table 1, odds ratios, default survival groups)."""
        return str(self.settings.get("primary_definition") or self.codes[0])

    @property
    def _section(self) -> Section:
        """The report's :class:`~hpd_analysis.report.Section` over this result: the methods call
        the report's own helpers on it (nothing is written: no ``table``/``figure`` call)."""
        if self._section_cache is None:
            from .report import Section

            self._section_cache = Section(
                cohort=self.cohort,
                params=self.params,
                definitions=list(self.definition_list),
                primary=self.primary,
                features=self.features,
                classification=self.table,
                output_dir=Path("."),
            )
        return self._section_cache

    @property
    def data(self) -> pd.DataFrame:
        """:attr:`table` plus every patient column it lacks (tumour type, arm, risk factors)."""
        return self._section.data

    def status(self, definition: str | None = None) -> pd.Series:
        """``hpd`` / ``not_hpd`` / ``not_evaluable`` of every patient (indexed by patient id) under
        ``definition`` (default: the primary one)."""
        from .incidence import hpd_status

        st = hpd_status(self.table, definition or self.primary)
        st.index = self.table["patient_id"].astype(str)
        return st

    def with_parameters(self, **parameters: Any) -> Classification:
        """A new classification with some parameters changed (same vocabulary as :func:`classify`,
        starting from the values in force). The features are reused when only definition
        thresholds or settings change; new windows or kinetic options rebuild them.

        >>> import hpd_analysis as hpd
        >>> res = hpd.classify(hpd.datasets.load_example(), "ferrara2018")
        >>> strict = res.with_parameters(ferrara2018__delta_tgr_min=100)
        >>> strict.n_hpd()["ferrara2018"] <= res.n_hpd()["ferrara2018"]
        True
        """
        from .classification import build_features, classify_features

        current: dict[str, Any] = {**self.params.to_dict(), **self.settings}
        for d in self.definition_list:
            current.update({f"{d.code}.{k}": v for k, v in d.parameters.items()})
        new = _flatten_keywords(parameters)
        params, thresholds, settings = resolve_classify_parameters({**current, **new})
        defs = [
            d.with_parameters(**thresholds[d.code]) if d.code in thresholds else d
            for d in self.definition_list
        ]
        features = self.features if params == self.params else build_features(self.cohort, params)
        return Classification(
            cohort=self.cohort,
            params=params,
            definition_list=defs,
            features=features,
            table=classify_features(features, defs),
            settings=settings,
        )

    def n_hpd(self) -> dict[str, int]:
        """Number of HPD patients per definition: ``{code: count}`` (from :meth:`incidence`)."""
        inc = self.incidence()
        return {str(c): int(n) for c, n in zip(inc["definition"], inc["n_hpd"], strict=True)}

    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`table` exactly as ``hpd classify --out`` does (CSV, CSV.gz or Parquet)."""
        from .classification import write_classification

        return write_classification(self.table, path)

    # ------------------------------------------------------------------ tables
    def incidence(
        self, by: str | Sequence[str] | None = None, method: str | None = None, alpha: float = 0.05
    ) -> pd.DataFrame:
        """Incidence of HPD per definition (% of evaluable patients) with a binomial CI.

        :func:`hpd_analysis.incidence.incidence`; ``by`` a patient column (e.g. ``tumor_type``)
        adds one row per stratum; ``method`` defaults to the ``ci_method`` setting (Wilson).

        >>> import hpd_analysis as hpd
        >>> res = hpd.classify(hpd.datasets.load_example(), "ferrara2018")
        >>> list(res.incidence().columns[:5])
        ['definition', 'stratum', 'n_hpd', 'n_evaluable', 'n_total']
        """
        from .incidence import incidence

        data = self.table if by is None else self.data
        return incidence(
            data,
            self.codes,
            by=by,
            method=method or self.settings.get("ci_method") or "wilson",
            alpha=alpha,
        )

    def attrition(self) -> pd.DataFrame:
        """Every patient counted once per definition: HPD, not HPD, or not evaluable + reason
        (:func:`hpd_analysis.incidence.attrition`)."""
        from .incidence import attrition

        return attrition(self.table, self.codes)

    def agreement(self, alpha: float = 0.05) -> pd.DataFrame:
        """Pairwise agreement (Jaccard, % agreement, Cohen's kappa with CI) on the patients
        evaluable under both definitions (:func:`hpd_analysis.agreement.agreement`)."""
        from .agreement import agreement

        return agreement(self.table, self.codes, alpha=alpha)

    def agreement_matrix(self, value: str = "jaccard") -> pd.DataFrame:
        """Definitions × definitions matrix of ``value`` (``jaccard``, ``kappa``,
        ``percent_agreement``) from :meth:`agreement`."""
        from .agreement import agreement_matrix

        return agreement_matrix(self.agreement(), value)

    def upset(self) -> pd.Series:
        """Patients per combination of HPD flags among those evaluable under every definition
        (:func:`hpd_analysis.agreement.upset_data`; a Series with a boolean MultiIndex)."""
        from .agreement import upset_data

        return upset_data(self.table, self.codes)

    def _group(self, by: str | None) -> str | None:
        return self._section.grouping(by if by is not None else self.settings.get("group_by"))[0]

    def table1(self, by: str | None = None, variables: Sequence[str] | None = None) -> pd.DataFrame:
        """Table 1: patient characteristics by HPD status under the primary definition (or by
        ``by``: a patient column or a definition code), with a test and SMD per variable
        (:func:`hpd_analysis.report.table1_by` → :func:`hpd_analysis.riskfactors.table1`)."""
        from .report import table1_by

        return table1_by(
            self._section,
            self._group(by),
            variables if variables is not None else self.settings.get("risk_factors"),
        )

    def odds_ratios(
        self,
        variables: Sequence[str] | None = None,
        multivariable_variables: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Odds ratios of HPD under the primary definition, univariable and multivariable
        (:func:`hpd_analysis.report.odds_ratios_for` → :func:`hpd_analysis.riskfactors.odds_ratios`;
        warnings in ``attrs["warnings"]``)."""
        from .report import odds_ratios_for

        if variables is None:
            variables = self.settings.get("risk_factors")
        if multivariable_variables is None:
            multivariable_variables = self.settings.get("multivariable_variables")
        return odds_ratios_for(self._section, variables, multivariable_variables)

    def survival(
        self, endpoint: str = "os", landmark: str | float | None = None, by: str | None = None
    ) -> SurvivalComparison:
        """Kaplan–Meier, log-rank and Cox of ``endpoint`` (``os``, ``pfs``, ``ttf``; months) by HPD
        status under the primary definition (or ``by``), from ``landmark`` (default the
        ``landmark`` setting: ``first_evaluation``; ``"none"`` or months after start).

        Returns the fitted :class:`hpd_analysis.survival.SurvivalComparison` (``.summary``,
        ``.fitters``, ``.logrank``, ``.cox``, ``.notes``).
        """
        from .survival import SurvivalComparison

        lm = self.settings.get("landmark", "first_evaluation") if landmark is None else landmark
        return SurvivalComparison(endpoint, self._group(by), lm, **self._survival_options()).fit(
            self.data
        )

    def _survival_options(self) -> dict[str, Any]:
        """What the report's survival section passes besides the grouping: the definitions in
        force (a verdict's known day), the month length and the landmark look-ahead."""
        options: dict[str, Any] = {
            "definitions": list(self.definition_list),
            "days_per_month": self.params.days_per_month,
        }
        statistics = getattr(self.params, "statistics", None)
        if statistics is not None:
            options["lookahead"] = statistics.landmark_lookahead
        return options

    def survival_table(
        self,
        endpoints: str | Sequence[str] | None = None,
        landmark: str | float | None = None,
        by: str | None = None,
    ) -> pd.DataFrame:
        """The report's survival.csv: one row per endpoint × group
        (:func:`hpd_analysis.survival.survival_table`)."""
        from .survival import available_endpoints, survival_table

        lm = self.settings.get("landmark", "first_evaluation") if landmark is None else landmark
        eps = endpoints if endpoints is not None else available_endpoints(self.data)
        return survival_table(
            self.data, eps, group_by=self._group(by), landmark=lm, **self._survival_options()
        )

    def sweep(
        self,
        definition: str | None = None,
        parameter: str | None = None,
        n_values: int = 21,
        *,
        method: str | None = None,
    ) -> pd.DataFrame:
        """HPD incidence as one threshold varies (default: the primary definition's first
        threshold, from 0 — ratios: 1 — to 3 × the published value), with a binomial CI
        (:func:`hpd_analysis.report.threshold_sweep_table`)."""
        from .report import threshold_sweep_table

        return threshold_sweep_table(
            self._section,
            definition,
            parameter,
            n_values=n_values,
            method=method or self.settings.get("ci_method") or "wilson",
        )

    # ------------------------------------------------------------------ figures
    def plot_incidence(self, by: str | None = None, ax: Axes | None = None) -> Axes:
        """Forest plot of incidence (%) with CI per definition (by stratum when ``by``)."""
        from .plots import incidence_forest

        inc = self.incidence(by=by)
        strata = None if by is None else [s for s in inc["stratum"].unique() if s != "all"]
        return _ax(incidence_forest(inc, strata=strata or ["all"], ax=ax), ax)

    def plot_attrition(self, ax: Axes | None = None) -> Axes:
        """Where every patient ends up per definition: HPD, non-HPD, each not-evaluable reason."""
        from .plots import attrition_flow_plot

        return _ax(attrition_flow_plot(self.attrition(), ax=ax), ax)

    def plot_agreement(self, metric: str = "jaccard", ax: Axes | None = None) -> Axes:
        """Heat map of pairwise agreement (``jaccard`` or ``kappa``)."""
        from .plots import agreement_heatmap

        return _ax(agreement_heatmap(self.agreement(), metric, ax=ax), ax)

    def plot_upset(self) -> Axes:
        """UpSet plot of which definitions flag the same patients (returns the bar axes)."""
        from .plots import upset_plot

        return upset_plot(self.upset()).axes[0]

    def plot_km(
        self,
        endpoint: str = "os",
        landmark: str | float | None = None,
        by: str | None = None,
        *,
        ax: Axes | None = None,
    ) -> Axes:
        """Kaplan–Meier curves of ``endpoint`` by HPD status (or ``by``) with numbers at risk."""
        from .plots import km_plot

        comp = self.survival(endpoint, landmark, by)
        assert comp.info is not None  # .survival returns a fitted comparison
        labels = km_labels(endpoint, comp.info, self._section.group_name(comp.group_by))
        fig = km_plot(
            comp.fitters, ax=ax, xlabel=labels.xlabel, ylabel=labels.ylabel, title=labels.title
        )
        return _ax(fig, ax)

    def plot_sweep(
        self, definition: str | None = None, parameter: str | None = None, ax: Axes | None = None
    ) -> Axes:
        """Incidence (%) with CI band as one threshold varies (:meth:`sweep`)."""
        from .plots import threshold_curve

        return _ax(threshold_curve(self.sweep(definition, parameter), ax=ax), ax)

    def plot_odds_ratios(self, ax: Axes | None = None) -> Axes:
        """Forest plot of the odds ratios of :meth:`odds_ratios` (log scale)."""
        from .plots import or_forest

        return _ax(or_forest(self.odds_ratios(), ax=ax), ax)

    def plot_tgr(self, definition: str | None = None, ax: Axes | None = None) -> Axes:
        """TGR on treatment vs before (% per month), coloured by HPD status."""
        from .plots import tgr_scatter

        return _ax(tgr_scatter(self.table, f"hpd_{definition or self.primary}", ax=ax), ax)

    def plot_waterfall(self, definition: str | None = None, ax: Axes | None = None) -> Axes:
        """Waterfall of the % change of the target SLD at the first evaluation."""
        from .plots import waterfall_plot

        pct = pd.Series(
            self.table["sld_pct_change_first_eval"].to_numpy(),
            index=self.table["patient_id"].astype(str),
        )
        return _ax(waterfall_plot(pct, self.status(definition), ax=ax), ax)

    def plot_spider(
        self, definition: str | None = None, max_patients: int = 150, ax: Axes | None = None
    ) -> Axes:
        """% change of the target SLD over time, one line per patient, coloured by status."""
        from .plots import spider_data, spider_plot

        return _ax(
            spider_plot(
                spider_data(self._section.scans),
                self.status(definition),
                max_patients=max_patients,
                ax=ax,
            ),
            ax,
        )

    # ------------------------------------------------------------------ one patient
    def explain(self, patient_id: Any) -> Explanation:
        """Every definition's verdict and full reason for one patient, with its scans.

        Returns an :class:`Explanation`: ``.verdicts`` (one row per definition: status, reason,
        the rule with the thresholds in force, the thresholds), ``.kinetics`` (the patient's features), ``.scans``
        (:func:`hpd_analysis.timepoints.scan_table` rows) and ``.plot()``; in Jupyter it shows
        all of them, with the scans drawn.

        >>> import hpd_analysis as hpd
        >>> res = hpd.classify(hpd.datasets.load_example(), "ferrara2018")
        >>> ex = res.explain(res.table["patient_id"].iloc[0])
        >>> list(ex.verdicts.columns)
        ['definition', 'status', 'reason', 'criteria', 'parameters']
        """
        from dataclasses import replace

        from .incidence import hpd_reason, hpd_status
        from .timepoints import SCAN_COLUMNS, scan_table

        pid = str(patient_id)
        ids = self.table["patient_id"].astype(str)
        rows = ids.index[ids.to_numpy() == pid]
        if not len(rows):
            raise ParameterError(
                f"patient_id={pid!r}: no such patient in this cohort "
                f"({len(ids)} patients, e.g. {', '.join(ids.head(3))})"
            )
        i = rows[0]
        one = self.table.loc[[i]]
        verdicts = pd.DataFrame(
            [
                {
                    "definition": d.code,
                    "status": hpd_status(one, d.code).iloc[0],
                    "reason": hpd_reason(one, d.code).iloc[0],
                    "criteria": d.describe_criteria(),
                    "parameters": d.parameters_text(),
                }
                for d in self.definition_list
            ]
        )
        c = self.cohort
        keep = {}
        for name in ("lesions", "assessments", "scans_wide"):
            tab = getattr(c, name, None)
            if isinstance(tab, pd.DataFrame):
                keep[name] = tab[tab["patient_id"].astype(str).to_numpy() == pid]
        sub = replace(c, patients=c.patients[c.patients["patient_id"].astype(str) == pid], **keep)
        scans = (
            scan_table(sub, self.params)
            if sub.has_measurements
            else pd.DataFrame(columns=SCAN_COLUMNS)
        )
        return Explanation(
            patient_id=pid, verdicts=verdicts, kinetics=self.table.loc[i], scans=scans
        )

    # ------------------------------------------------------------------ display
    def _changed(self) -> list[str]:
        return changed_parameters(self.params, self.definition_list)

    def summary(self) -> pd.DataFrame:
        """Incidence of HPD per definition (all patients): what the result displays."""
        inc = self.incidence()
        return inc[
            ["definition", "n_hpd", "n_evaluable", "n_total", "percent", "ci_low", "ci_high"]
        ]

    def _title(self) -> str:
        changed = self._changed()
        return (
            f"Classification of {len(self.table)} patients under {len(self.codes)} "
            f"definition(s); primary: {self.primary}; "
            + (
                f"parameters changed from the published values: {', '.join(changed)}"
                if changed
                else "published parameters"
            )
        )

    def __repr__(self) -> str:
        return self._title() + "\n" + self.summary().to_string(index=False, float_format="%.1f")

    def _repr_html_(self) -> str:
        s = self.summary()
        return (
            f"<p><b>{html.escape(self._title())}</b></p>"
            + s.to_html(index=False, float_format=lambda v: f"{v:.1f}", na_rep="–")
            + "<p><small>percent and CI (%) of evaluable patients; <code>.table</code>: "
            "one row per patient; <code>.explain(patient_id)</code>: why</small></p>"
        )


def changed_parameters(params: Parameters, definitions: Iterable[Definition]) -> list[str]:
    """``key=value`` of every parameter in force that differs from its default (analysis
    parameters) or published value (thresholds of registered definitions), in the
    ``hpd report --set`` vocabulary."""
    from .definitions import REGISTRY

    default = Parameters().to_dict()
    out = [f"{k}={v}" for k, v in params.to_dict().items() if default[k] != v]
    for d in definitions:
        ref = REGISTRY.get(d.code)
        if ref is not None:
            out += [
                f"{d.code}.{k}={v}" for k, v in d.parameters.items() if ref.parameters.get(k) != v
            ]
    return out


@dataclass(frozen=True)
class KMLabels:
    """Axis labels and title of a Kaplan–Meier plot (:func:`km_labels`)."""

    xlabel: str
    ylabel: str
    title: str


def km_labels(endpoint: str, info: SurvivalInfo, groups: str) -> KMLabels:
    """Axis labels and title of a Kaplan–Meier plot of ``endpoint`` (``info`` of
    :func:`hpd_analysis.survival.survival_data`: months from the landmark when it has one, else
    from the treatment start) by ``groups`` (words)."""
    from .survival import ENDPOINT_NAMES

    origin = "landmark" if info.landmark_months is not None else "treatment start"
    name = ENDPOINT_NAMES.get(endpoint, endpoint)
    return KMLabels(
        xlabel=f"months from {origin}",
        ylabel=f"{name} probability",
        title=f"{name.capitalize()} by {groups}",
    )


def _ax(fig: Any, ax: Axes | None) -> Axes:
    """The axes a plot drew on: ``ax`` when given, else the figure's first axes."""
    return ax if ax is not None else fig.axes[0]


@dataclass(eq=False)
class Explanation:
    """Why one patient is (or is not, or cannot be said to be) HPD under each definition."""

    patient_id: str
    verdicts: pd.DataFrame
    kinetics: pd.Series
    scans: pd.DataFrame

    #: feature rows shown with an explanation (units in the labels)
    KINETIC_FIELDS: tuple[tuple[str, str], ...] = (
        ("prebaseline_date", "pre-baseline scan"),
        ("baseline_date", "baseline scan"),
        ("first_eval_date", "first evaluation scan"),
        ("sld_prebaseline_mm", "SLD pre-baseline (mm)"),
        ("sld_baseline_mm", "SLD baseline (mm)"),
        ("sld_first_eval_mm", "SLD first evaluation (mm)"),
        ("tgr_pre", "TGR before (% per month)"),
        ("tgr_on", "TGR on treatment (% per month)"),
        ("tgr_ratio", "TGR ratio"),
        ("delta_tgr", "ΔTGR (% per month)"),
        ("tgk_pre", "TGK before (per month)"),
        ("tgk_on", "TGK on treatment (per month)"),
        ("tgk_ratio", "TGK ratio"),
        ("recist_first_eval", "RECIST at first evaluation"),
        ("ttf_months", "TTF (months)"),
        ("os_months", "OS (months)"),
    )

    def kinetics_table(self) -> pd.DataFrame:
        """The patient's scans, SLD, kinetics and RECIST, with the reason of a missing value."""
        rows = []
        k = self.kinetics
        for col, label in self.KINETIC_FIELDS:
            if col not in k.index:
                continue
            v = k[col]
            reason = k.get(f"{col}_reason")
            missing = v is None or (not isinstance(v, str) and pd.isna(v))
            text = (
                f"missing: {reason}"
                if missing and isinstance(reason, str) and reason
                else "missing"
                if missing
                else f"{v:.4g}"
                if isinstance(v, float)
                else str(v)[:10]
                if isinstance(v, pd.Timestamp)
                else str(v)
            )
            rows.append({"quantity": label, "value": text})
        return pd.DataFrame(rows, columns=["quantity", "value"])

    def plot(self, ax: Axes | None = None) -> Axes:
        """The patient's target SLD (mm) at every scan (days from treatment start)."""
        from .plots import patient_scans_plot

        return patient_scans_plot(self.scans, self.kinetics, ax=ax)

    def __repr__(self) -> str:
        return f"patient {self.patient_id}\n" + self.verdicts[
            ["definition", "status", "reason"]
        ].to_string(index=False)

    def _repr_html_(self) -> str:
        import base64
        import io

        import matplotlib.pyplot as plt

        fig: Any = self.plot().figure
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        img = base64.b64encode(buf.getvalue()).decode("ascii")
        return (
            f"<h4>Patient {html.escape(self.patient_id)}</h4>"
            + self.verdicts.to_html(index=False)
            + "<div style='display:flex;gap:1em;align-items:flex-start'>"
            + self.kinetics_table().to_html(index=False)
            + f"<img alt='scans of {html.escape(self.patient_id)}' "
            f"src='data:image/png;base64,{img}'/></div>"
        )
