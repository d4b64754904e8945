"""HPD workbench: tumour kinetics and every published definition of hyperprogressive disease.

Quick start (in Python or Jupyter)::

    import hpd_analysis as hpd
    cohort = hpd.datasets.load_example()          # or hpd.load_cohort("my_cohort/")
    res = hpd.classify(cohort)                    # every definition, with reasons
    res                                           # incidence summary (percent, 95 % CI)
    res.table                                     # one row per patient
    res.incidence(by="tumor_type"); res.agreement(); res.plot_km("os")
    res.explain("P0001")                          # why, for one patient
    hpd.classify(cohort, **{"ferrara2018.delta_tgr_min": 75, "windows.first_eval_min_days": 21})
    hpd.explore(cohort)                           # live explorer (ipywidgets)

``hpd.definitions`` lists the registry, ``hpd.define(...)`` adds a definition,
``hpd.datasets`` holds the bundled data sets (``load_example()``, ``load_laleh2022(study)`` ...).
The DataFrame function behind ``classify`` is :func:`hpd_analysis.classification.classify_table`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.3.0"

# Lazy re-exports keep `import hpd_analysis` (and the CLI start-up) fast: nothing heavy (pandas,
# matplotlib, ipywidgets) is imported until a name is used.
_EXPORTS = {
    "Parameters": "params",
    "Windows": "params",
    "Cohort": "cohort",
    "load_cohort": "load",
    "validate_cohort": "load",
    "classify": "results",
    "Classification": "results",
    "define": "results",
    "classify_table": "classification",
    "build_features": "classification",
    "get_definitions": "definitions",
    "Definition": "definitions",
    "register": "definitions",
    "explore": "explorer",
    "simulate_cohort": "simulate",
    "load_example": "datasets",
}
#: submodules reachable as attributes (``hpd.datasets.load_example()``, ``hpd.definitions``)
_SUBMODULES = ("datasets", "definitions")

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hpd_analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
