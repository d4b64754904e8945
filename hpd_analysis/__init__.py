"""HPD workbench: tumour kinetics and every published definition of hyperprogressive disease.

Quick start::

    from hpd_analysis import load_cohort, classify_table
    cohort = load_cohort("data/example")
    table = classify_table(cohort)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Lazy re-exports keep `import hpd_analysis` (and the CLI start-up) fast.
_EXPORTS = {
    "Parameters": "params",
    "Windows": "params",
    "Cohort": "cohort",
    "load_cohort": "load",
    "validate_cohort": "load",
    "classify_table": "classification",
    "build_features": "classification",
    "get_definitions": "definitions",
    "Definition": "definitions",
    "register": "definitions",
    "simulate_cohort": "simulate",
    "load_example": "datasets",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'hpd_analysis' has no attribute {name!r}")
