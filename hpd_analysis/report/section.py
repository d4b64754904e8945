"""The section API of the notebooks: :func:`open_section` loads and classifies the cohort,
:class:`Section` writes every shown table and figure under the report folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..definitions import resolve_definitions as resolve_definitions
from ..errors import ParameterError
from ..params import Parameters
from ..privacy import check_pseudonymized, pseudonymize_cohort, suppress_table
from .resolve import build_parameters

#: rows of a DataFrame a report notebook displays before pandas truncates it
DISPLAY_MAX_ROWS = 500


def write_table(df: pd.DataFrame, out_dir: str | Path, name: str, *, index: bool = False) -> Path:
    """Write ``df`` to ``<out_dir>/<name>.csv`` (UTF-8, ``\\n`` line ends, ISO dates, numbers
    with 10 significant digits) and return the path; the same DataFrame always gives the same
    bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    from ..privacy import neutralize_formulas  # no cell a spreadsheet would run as a formula

    neutralize_formulas(df).to_csv(
        path, index=index, lineterminator="\n", date_format="%Y-%m-%d", float_format="%.10g"
    )
    return path


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
    #: the report parameters in force (schema names, validated and normalized)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        """Definition codes in report order."""
        return [d.code for d in self.definitions]

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
        same = (
            len(pat) == len(self.classification)
            and pat["patient_id"].astype(str).tolist()
            == self.classification["patient_id"].astype(str).tolist()
        )
        if same:
            return pd.concat([self.classification, pat[extra]], axis=1)
        return self.classification.merge(
            pat[["patient_id", *extra]].astype({"patient_id": str}),
            on="patient_id",
            how="left",
            validate="one_to_one",
        )

    @property
    def status(self) -> pd.Series:
        """HPD status (hpd / not_hpd / not_evaluable) of every patient under the primary
        definition, indexed by patient id."""
        from ..incidence import hpd_status

        st = hpd_status(self.classification, self.primary)
        st.index = self.classification["patient_id"].astype(str)
        return st

    @property
    def scans(self) -> pd.DataFrame:
        """:func:`hpd_analysis.timepoints.scan_table` (empty without measurements), cached."""
        if self._scans is None:
            from ..timepoints import SCAN_COLUMNS, scan_table

            self._scans = (
                scan_table(self.cohort, self.params)
                if self.has_measurements
                else pd.DataFrame(columns=SCAN_COLUMNS)
            )
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
            from ..incidence import hpd_column_code

            data = self.data
            if group_by not in data.columns and hpd_column_code(data, group_by) is None:
                raise ParameterError(
                    f"group_by={group_by}: no such patient column or definition "
                    f"(patient columns: {', '.join(map(str, self.cohort.patients.columns))})"
                )
            return group_by, f"grouped by {group_by} (group_by parameter)"
        if self.primary_evaluable():
            return self.primary, (
                f"grouped by HPD status under {self.primary} (the primary "
                "definition); patients not evaluable under it are left out"
            )
        return None, (
            f"not grouped: no patient is evaluable as HPD and non-HPD under "
            f"{self.primary} (no tumour measurements?); set group_by to a patient "
            "column, e.g. group_by=treatment"
        )

    def risk_grouping(self, group_by: str | None) -> tuple[str | None, str]:
        """Grouping of Table 1: HPD status under the primary definition whenever it has HPD and
        non-HPD patients (the contract's table1.csv), else ``group_by`` (e.g. an arm), else
        none; with a sentence saying why."""
        if self.primary_evaluable() or group_by is None:
            return self.grouping(None)
        group, why = self.grouping(group_by)
        return group, f"{why}: no patient is evaluable as HPD and non-HPD under {self.primary}"

    def table1_grouping(
        self, table1_by: str | None = None, group_by: str | None = None
    ) -> tuple[str | None, str]:
        """Columns of Table 1 and a sentence saying why: ``table1_by`` (a patient column such as
        arm or sex, or a definition) when given, else HPD status under the primary definition
        (:meth:`risk_grouping`, which falls back on ``group_by`` when no patient is evaluable as
        HPD and non-HPD)."""
        if table1_by is not None:
            group, _ = self.grouping(table1_by)
            return group, f"grouped by {self.group_name(group)} (table1_by parameter)"
        return self.risk_grouping(group_by)

    def group_name(self, group: str | None) -> str:
        """Words for a grouping in titles: ``HPD status (ferrara2018)``, a column, or
        ``all patients``."""
        from ..incidence import hpd_column_code

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
            check_pseudonymized(df, name)
        if self.small_cell_threshold > 1:
            df = suppress_table(df, name, self.small_cell_threshold)
        if name == "classification" and not index:
            from ..classification import write_classification

            self.written.append(write_classification(df, self.tables_dir / f"{name}.csv"))
        else:
            self.written.append(write_table(df, self.tables_dir, name, index=index))
        return df

    def figure(self, fig: Any, name: str) -> None:
        """Write ``fig`` to ``figures/<name>.png`` and ``.svg``, show that PNG in the notebook
        (at the figure's on-screen size) and close ``fig``: the page shows the very file a
        journal gets, and the figure is not drawn a third time for the notebook."""
        from ..plots import save_figure, show_png

        paths = save_figure(fig, self.figures_dir, name)
        self.written.extend(paths)
        show_png(fig, paths[0])


def open_section(
    cohort: str | Path | None = None,
    output_dir: str | Path | None = None,
    definitions: Sequence[str] | None = None,
    *,
    definitions_file: str | None = None,
    primary_definition: str = "ferrara2018",
    windows: Mapping[str, Any] | None = None,
    analysis_parameters: Mapping[str, Any] | None = None,
    pseudonymize: bool = False,
    small_cell_threshold: int = 0,
    pseudonym_key_file: str | Path | None = None,
    definition_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    **report_parameters: Any,
) -> Section:
    """Load ``cohort`` (a folder or file; None = the bundled example), classify it under the
    report's definitions and parameters, apply the figure style, and return a :class:`Section`.

    ``output_dir``: where tables/ and figures/ go; None (a notebook run by hand) =
    :func:`scratch_dir`, never the repository's ``reports/``.
    ``pseudonymize``: replace every patient identifier by its keyed pseudonym right after
    loading (key from ``pseudonym_key_file``, else ``$HPD_PSEUDONYM_KEY``), so that no table,
    figure or displayed frame of the section holds an original identifier.
    ``small_cell_threshold``: the small-cell rule of :meth:`Section.table` (0 = off).
    ``report_parameters``: the other report parameters of the schema (``group_by``,
    ``landmark`` ...), validated here as ``hpd report`` validates them (column names against the
    cohort) and kept, normalized, in :attr:`Section.options`.

    Raises :class:`ParameterError` for an unknown or invalid parameter, a
    ``primary_definition`` not among the definitions, a column parameter naming no patient
    column, or pseudonymization without a usable key.
    """
    from ..classification import build_features, classify_features
    from ..load import load_cohort
    from ..plots import apply_style
    from .resolve import check_columns

    if cohort is None:
        from ..datasets import example_path

        cohort = example_path()
    params = build_parameters(windows, analysis_parameters)
    options = _section_options(
        {
            "definitions": definitions,
            "definitions_file": definitions_file,
            "definition_parameters": definition_parameters,
            "primary_definition": primary_definition,
            "pseudonymize": pseudonymize,
            "small_cell_threshold": small_cell_threshold,
        },
        report_parameters,
    )
    defs = resolve_definitions(
        options["definitions"], options["definitions_file"], options["definition_parameters"]
    )
    codes = [d.code for d in defs]
    primary = options["primary_definition"]
    if primary not in codes:
        raise ParameterError(
            f"primary_definition={primary}: not among the definitions ({', '.join(codes)})"
        )
    out = Path(output_dir) if output_dir is not None else scratch_dir()
    cached = read_cache(out, cache_key(cohort, options, params))
    if cached is not None:
        loaded, features, table = cached
    else:
        loaded = load_cohort(cohort, params=params)  # the plausibility limits in force
        loaded = replace(loaded, load_report=portable_load_report(loaded.load_report, cohort))
        if options["pseudonymize"]:
            from ..privacy import read_key

            loaded = pseudonymize_cohort(loaded, read_key(pseudonym_key_file))
        features = build_features(loaded, params)
        table = classify_features(features, defs)
    check_columns(options, loaded.patients.columns, codes)
    apply_style()
    # the notebooks display whole summary tables (incidence by stratum has definitions ×
    # strata rows): pandas' default of 60 rows would cut them to 10
    pd.set_option("display.max_rows", DISPLAY_MAX_ROWS)
    pd.set_option("display.max_columns", 60)  # survival.csv has 22 columns: none elided
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return Section(
        cohort=loaded,
        params=params,
        definitions=defs,
        primary=primary,
        features=features,
        classification=table,
        output_dir=out,
        pseudonymized=bool(options["pseudonymize"]),
        small_cell_threshold=int(options["small_cell_threshold"]),
        options=options,
    )


def _section_options(
    named: Mapping[str, Any], report_parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Every public report option, parsed and with its default where not given, from the
    parameters :func:`open_section` names (``named``) and the other ones of the schema
    (``report_parameters``; an unknown name raises :class:`ParameterError`)."""
    from .resolve import did_you_mean
    from .schema import REPORT_OPTIONS, parse_value

    known = {o.name: o for o in REPORT_OPTIONS}
    unknown = sorted(set(report_parameters) - set(known))
    if unknown:
        raise ParameterError(
            f"open_section: unknown parameter(s) {', '.join(unknown)}"
            + did_you_mean(unknown[0], known)
        )
    given = {**named, **report_parameters}
    return {
        o.name: parse_value(o, given.get(o.name, o.default))
        for o in REPORT_OPTIONS
        if not o.private
    }


def parameters_from(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`open_section` taken from a notebook's variables (``globals()``):
    ``cohort``, ``output_dir``, every report parameter of the schema and
    ``analysis_parameters``; names absent from ``namespace`` keep their defaults."""
    from .schema import ANALYSIS_VARIABLE, NOTEBOOK_ONLY, REPORT_OPTIONS

    names = [n for n, _ in NOTEBOOK_ONLY] + [o.name for o in REPORT_OPTIONS if not o.private]
    names.append(ANALYSIS_VARIABLE)
    return {n: namespace[n] for n in names if n in namespace}


def scratch_dir() -> Path:
    """Output folder of a notebook run by hand (no ``output_dir``): ``notebooks/_scratch/`` of
    the source tree (git-ignored), else ``_scratch/`` in the current folder."""
    from .execute import notebooks_dir

    try:
        return notebooks_dir() / "_scratch"
    except Exception:  # installed without the notebooks
        return Path.cwd() / "_scratch"


#: folder of the report's staging area where :func:`run_report` leaves the loaded and classified
#: cohort once for every section (removed before the report is moved into place)
CACHE_DIR = ".hpd-cache"
_CACHE_FILE = "section.pkl"


def cache_key(cohort: str | Path, options: Mapping[str, Any], params: Parameters) -> str:
    """What the cached classification depends on: the cohort path, the definitions and their
    parameters, pseudonymization and the analysis parameters (a JSON text)."""
    import json

    keep = ("definitions", "definitions_file", "definition_parameters", "pseudonymize")
    return json.dumps(
        {"cohort": str(cohort), **{k: options.get(k) for k in keep}, "analysis": params.to_dict()},
        sort_keys=True,
        default=str,
    )


def write_cache(
    out: Path, key: str, loaded: Any, *, features: pd.DataFrame, table: pd.DataFrame
) -> Path:
    """Leave the loaded cohort, its features and its classification in ``out``'s cache for
    the sections of one report run (:func:`open_section` reads it when the key matches)."""
    import pickle

    path = Path(out) / CACHE_DIR / _CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(
            {"key": key, "data": (loaded, features, table)}, fh, protocol=pickle.HIGHEST_PROTOCOL
        )
    return path


def read_cache(out: Path, key: str) -> tuple[Any, pd.DataFrame, pd.DataFrame] | None:
    """The cached (cohort, features, classification) of ``out`` when written for ``key``."""
    import pickle

    path = Path(out) / CACHE_DIR / _CACHE_FILE
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        doc = pickle.load(fh)
    return doc["data"] if doc.get("key") == key else None


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


def warning_html(messages: Sequence[str], title: str = "Warning") -> str:
    """An HTML box (inline CSS, no external asset) listing ``messages``: how the notebooks
    show warnings a reader must not miss (low events per variable ...). Empty string when there
    is no message."""
    import html

    if not messages:
        return ""
    items = "".join(f"<li>{html.escape(str(m))}</li>" for m in messages)
    return (
        '<div style="border-left:6px solid #D55E00;background:#fff4ec;padding:0.6em 1em;'
        'margin:0.6em 0;font-family:sans-serif">'
        f'<strong>{html.escape(title)}</strong><ul style="margin:0.3em 0">{items}</ul></div>'
    )
