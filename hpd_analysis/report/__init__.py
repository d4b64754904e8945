"""The report: parameters, papermill execution of ``notebooks/``, HTML, ``index.html`` and
``parameters.json`` (file names in the output contract of ``cohort-format.md``).

One module per job:

- :mod:`.schema`: the report parameters (defaults, types, allowed values, help) and the
  notebooks' generated ``parameters`` cell;
- :mod:`.resolve`: their resolution (defaults ← YAML file ← ``--set`` overrides), the checks
  against the cohort and what the notebooks receive;
- :mod:`.section`: what the notebooks call (:func:`open_section`, :class:`Section`, whose
  ``table`` and ``figure`` write every table to ``<out>/tables/<name>.csv`` and every figure to
  ``<out>/figures/<name>.png|svg``);
- :mod:`.execute`: :func:`run_report` (what ``hpd report`` / ``make report`` call) executes the
  notebooks with papermill on ``jobs`` kernels (:class:`.execute.SectionPool`: each kernel runs
  several sections, reset to a fresh namespace before each; :func:`.execute.keep_kernels` keeps
  them for the next run of a series) and writes ``parameters.json`` and ``index.html``;
- :mod:`.folder`: the report folder (staging beside ``--out``, lock, manifest, publishing);
- :mod:`.record`: ``parameters.json``, ``reproduce.sh``, ``index.html``, the manifest;
- :mod:`.render`: self-contained HTML (no CDN, no MathJax download) and the index page;
- :mod:`.verify`: ``hpd verify`` (rerun and compare every table byte for byte).

The tables the sections show are built in their domain modules (``cohort``, ``kinetics_summary``,
``incidence``, ``riskfactors``, ``survival``) and the privacy filters live in ``privacy``; they are
re-exported here so that notebooks can keep calling ``report.<name>``.

Outputs carry no timestamps or absolute paths where avoidable, so that a rerun on the same inputs
gives the same bytes (the executed notebooks' papermill timings are removed).
"""

from __future__ import annotations

from .. import __version__
from ..cohort import cohort_overview, scans_per_patient
from ..incidence import threshold_sweep_table
from ..kinetics_summary import kinetics_summary, recist_counts
from ..params import Parameters
from ..privacy import PSEUDONYM_PREFIX, SMALL_CELL_COLUMNS, pseudonymize_cohort, suppress_table
from ..riskfactors import (
    MULTIVARIABLE_DEFAULT,
    epv_table,
    multivariable_set,
    odds_ratios_for,
    table1_by,
)
from ..survival import survival_exclusions
from .execute import (
    KERNEL_NAME,
    LIBRARIES,
    SECTIONS,
    default_jobs,
    input_checksums,
    keep_kernels,
    kernel_name,
    library_versions,
    notebooks_dir,
    run_report,
    select_sections,
    sha256_file,
)
from .render import render_html
from .resolve import (
    build_parameters,
    check_columns,
    notebook_parameters,
    resolve_parameters,
)
from .schema import (
    PARAMETER_DOCS,
    PRIVATE_PARAMETERS,
    REPORT_DEFAULTS,
    REPORT_OPTIONS,
    RESERVED,
    Option,
    analysis_options,
    default_parameters,
    parameters_cell,
    parameters_table,
    parse_landmark,
    redact_parameters,
)
from .section import (
    DISPLAY_MAX_ROWS,
    Section,
    open_section,
    parameters_from,
    portable_load_report,
    resolve_definitions,
    warning_html,
    write_table,
)
from .verify import verify_report

__all__ = [
    "DISPLAY_MAX_ROWS",
    "REPORT_OPTIONS",
    "Option",
    "analysis_options",
    "check_columns",
    "default_jobs",
    "parameters_cell",
    "parameters_from",
    "parse_landmark",
    "verify_report",
    "KERNEL_NAME",
    "LIBRARIES",
    "MULTIVARIABLE_DEFAULT",
    "PARAMETER_DOCS",
    "PRIVATE_PARAMETERS",
    "PSEUDONYM_PREFIX",
    "REPORT_DEFAULTS",
    "RESERVED",
    "SECTIONS",
    "SMALL_CELL_COLUMNS",
    "Parameters",
    "Section",
    "__version__",
    "build_parameters",
    "cohort_overview",
    "default_parameters",
    "epv_table",
    "input_checksums",
    "keep_kernels",
    "kernel_name",
    "kinetics_summary",
    "library_versions",
    "multivariable_set",
    "notebook_parameters",
    "notebooks_dir",
    "odds_ratios_for",
    "open_section",
    "parameters_table",
    "portable_load_report",
    "pseudonymize_cohort",
    "recist_counts",
    "redact_parameters",
    "render_html",
    "resolve_definitions",
    "resolve_parameters",
    "run_report",
    "scans_per_patient",
    "select_sections",
    "sha256_file",
    "suppress_table",
    "survival_exclusions",
    "table1_by",
    "threshold_sweep_table",
    "warning_html",
    "write_table",
]
