"""Bundled example data, lifelines-style: one ``load_<name>()`` per data set, documented with its source.

The example cohort lives in ``data/example/`` at the root of the repository (``patients.csv``,
``lesions.csv`` and a ``README.md``). It is synthetic: 500 patients simulated by
:func:`hpd_analysis.simulate.simulate_cohort` with seed 2021 (``make example`` or
``hpd simulate --patients 500 --seed 2021 --out data/example`` regenerates it byte for byte).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HPDError

if TYPE_CHECKING:  # pragma: no cover
    from .cohort import Cohort

__all__ = ["EXAMPLE_N_PATIENTS", "EXAMPLE_SEED", "example_path", "load_example"]

#: how the bundled example was made (``hpd simulate --patients 500 --seed 2021``)
EXAMPLE_N_PATIENTS: int = 500
EXAMPLE_SEED: int = 2021

#: environment variable that points to another copy of the example folder
ENV_EXAMPLE_DIR = "HPD_EXAMPLE_DIR"


def example_path() -> Path:
    """Folder of the bundled example cohort (``data/example``, holding patients.csv, lesions.csv).

    Looked up in order: the folder named by the ``HPD_EXAMPLE_DIR`` environment variable, then
    ``data/example`` beside the package (a source checkout or an editable install). Raises
    :class:`HPDError` with what to do when it is not found (e.g. a wheel install without the
    repository's ``data/`` folder).
    """
    candidates: list[Path] = []
    env = os.environ.get(ENV_EXAMPLE_DIR)
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parent.parent / "data" / "example")
    for folder in candidates:
        if (folder / "patients.csv").is_file() and (folder / "lesions.csv").is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise HPDError(
        f"example cohort not found (looked in: {tried}); it ships in the repository's "
        f"data/example folder. Regenerate it with `hpd simulate --patients {EXAMPLE_N_PATIENTS} "
        f"--seed {EXAMPLE_SEED} --out DIR` and set {ENV_EXAMPLE_DIR}=DIR"
    )


def load_example() -> Cohort:
    """Load the bundled synthetic example cohort as a :class:`~hpd_analysis.cohort.Cohort`.

    Source: simulated by :func:`hpd_analysis.simulate.simulate_cohort` (500 patients, seed 2021);
    see ``data/example/README.md``. Patients treated with anti-PD-1/PD-L1 across NSCLC, melanoma,
    HNSCC, renal, urothelial and gastric cancer, with a pre-baseline, a baseline and up to four
    on-treatment scans (lesion diameters in mm), dates of treatment end, progression, death and
    last contact, and candidate risk factors (age, sex, ECOG, metastatic sites, liver metastasis,
    LDH, NLR, PD-L1 TPS, MDM2 amplification, EGFR alteration, prior radiotherapy, locoregional
    recurrence). The latent kinetic group is not in the files.

    Example
    -------
    >>> from hpd_analysis.datasets import load_example
    >>> cohort = load_example()
    >>> cohort.n_patients
    500
    """
    from .load import load_cohort  # lazy: keeps ``import hpd_analysis.datasets`` light

    return load_cohort(example_path())
