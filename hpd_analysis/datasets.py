"""Bundled data sets, lifelines-style: one ``load_<name>()`` per data set, documented with its source.

- :func:`load_example`: the synthetic example cohort, in ``data/example/`` at the root of the
  repository (500 patients simulated by :func:`hpd_analysis.simulate.simulate_cohort` with seed
  2021; ``make example`` regenerates it byte for byte).
- Real data, shipped inside the package under ``hpd_analysis/data/`` (:func:`data_dir`; licences
  and citations in its ``README.md``, :func:`list_datasets`): :func:`load_laleh2022` (CC BY 4.0),
  :func:`load_pharmaverse_sdtm` / :func:`load_pharmaverse` (Apache-2.0),
  :func:`load_tumgr_sample` and :func:`load_inspire` (MIT).
- :func:`load_oak_poplar`: OAK / POPLAR (Gandara et al., Nat Med 2018) are *not* bundled (a journal
  supplement without a licence that allows redistribution): read from a path you give.

Each loader returns a validated :class:`~hpd_analysis.cohort.Cohort` whose ``load_report`` also
lists what the reader changed; :func:`write_dataset` (``python -m hpd_analysis.datasets NAME``)
writes one as a cohort folder for ``hpd report`` (``make report COHORT=oak-laleh``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HPDError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .cohort import Cohort

__all__ = [
    "EXAMPLE_N_PATIENTS",
    "EXAMPLE_SEED",
    "DATASETS",
    "data_dir",
    "example_path",
    "list_datasets",
    "load_example",
    "load_inspire",
    "load_laleh2022",
    "load_oak_poplar",
    "load_pharmaverse",
    "load_pharmaverse_sdtm",
    "load_tumgr_sample",
    "write_dataset",
]

#: how the bundled example was made (``hpd simulate --patients 500 --seed 2021``)
EXAMPLE_N_PATIENTS: int = 500
EXAMPLE_SEED: int = 2021

#: environment variable that points to another copy of the example folder
ENV_EXAMPLE_DIR = "HPD_EXAMPLE_DIR"


def example_path() -> Path:
    """Folder of the bundled example cohort (``data/example``, holding patients.csv, lesions.csv).

    Looked up in order: the folder named by the ``HPD_EXAMPLE_DIR`` environment variable, then
    ``data/example`` beside the package (a source checkout or an editable install), then the
    gzip-compressed copy inside the package (``hpd_analysis/data/example``, for a wheel install;
    ``make example`` writes both). Raises :class:`HPDError` with what to do when none is found.
    """
    candidates: list[Path] = []
    env = os.environ.get(ENV_EXAMPLE_DIR)
    if env:
        candidates.append(Path(env))
    here = Path(__file__).resolve().parent
    candidates += [here.parent / "data" / "example", here / "data" / "example"]
    for folder in candidates:
        for ext in (".csv", ".csv.gz"):
            if (folder / f"patients{ext}").is_file() and (folder / f"lesions{ext}").is_file():
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


# ---------------------------------------------------------------------------------------------
# real data sets bundled in the package (hpd_analysis/data, README.md there)
# ---------------------------------------------------------------------------------------------

#: name -> (what, licence, citation); the folders of :func:`data_dir` hold the files
DATASETS: dict[str, tuple[str, str, str]] = {
    "laleh2022": (
        "per-scan target-lesion sums (mm) of five atezolizumab trials (study 4 = OAK), "
        "1,400+ patients",
        "CC BY 4.0",
        "Ghaffari Laleh N, Loeffler CML, Grajek J, et al. Classical mathematical models for "
        "prediction of response to chemotherapy and immunotherapy. PLOS Comput Biol "
        "2022;18(2):e1009822. doi:10.1371/journal.pcbi.1009822 (supplement S1)",
    ),
    "pharmaversesdtm": (
        "CDISC SDTM oncology domains DM, TU, TR, RS (254 simulated subjects) and the small "
        "RECIST 1.1 set",
        "Apache-2.0",
        "pharmaversesdtm: SDTM test data for the pharmaverse family of packages, R package, "
        "https://github.com/pharmaverse/pharmaversesdtm (commit 530a5ea)",
    ),
    "pharmaverseadam": (
        "ADaM ADSL, ADRS, ADTR, ADTTE derived from the SDTM set above",
        "Apache-2.0",
        "pharmaverseadam: ADaM test data for the pharmaverse family of packages, R package, "
        "https://github.com/pharmaverse/pharmaverseadam (commit 2c7db61)",
    ),
    "tumgr": (
        "68 patients, 453 evaluations (day, sum of lesion measurements), control arm of a "
        "prostate cancer trial",
        "MIT",
        "Wilkerson J, Abdallah K, Hugh-Jones C, et al. Estimation of tumour regression and "
        "growth rates during treatment in patients with advanced prostate cancer. Lancet Oncol "
        "2017;18:143-154; R package tumgr 0.0.4 (CRAN), sampleData",
    ),
    "inspire": (
        "94 patients of the INSPIRE pembrolizumab trial: age, sex, cohort, baseline tumour size, "
        "PD-L1, TMB, ctDNA, response, OS/PFS; % change in tumour size over time",
        "MIT",
        "Bratman SV, Yang SYC, Iafolla MAJ, et al. Personalized circulating tumor DNA analysis "
        "as a predictive biomarker in solid tumor patients treated with pembrolizumab. Nat "
        "Cancer 2020;1:873-881. doi:10.1038/s43018-020-0096-5 (data via R package reportRmd)",
    ),
    "oak_poplar_gandara2018": (
        "OAK (850) and POPLAR (287) per-patient clinical data, atezolizumab vs docetaxel: "
        "NOT bundled, read from a path you give",
        "journal supplement (no redistribution licence)",
        "Gandara DR, Paul SM, Kowanetz M, et al. Blood-based tumor mutational burden as a "
        "predictor of clinical benefit in non-small-cell lung cancer patients treated with "
        "atezolizumab. Nat Med 2018;24:1441-1448. doi:10.1038/s41591-018-0134-3",
    ),
}


def data_dir() -> Path:
    """Folder of the data sets shipped in the package (``hpd_analysis/data``)."""
    return Path(__file__).resolve().parent / "data"


def list_datasets() -> pd.DataFrame:
    """The data sets: ``name, what, licence, citation, bundled`` (one row each)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "name": k,
                "what": w,
                "licence": lic,
                "citation": cit,
                "bundled": (data_dir() / k).is_dir(),
            }
            for k, (w, lic, cit) in DATASETS.items()
        ]
    )


def _cohort(tables: dict[str, pd.DataFrame], source: str) -> Cohort:
    """Load reader output (``patients`` + ``assessments``/``lesions``) as a validated Cohort,
    the reader's own changes (``report``) first in its load report."""
    from dataclasses import replace

    import pandas as pd

    from .load import load_cohort

    cohort = load_cohort(
        patients=tables["patients"],
        assessments=tables.get("assessments"),
        lesions=tables.get("lesions"),
    )
    rep = tables.get("report")
    if rep is not None and len(rep):
        rep = rep.assign(file=[f"{source}/{f}" for f in rep["file"]]) if "file" in rep else rep
        cohort = replace(
            cohort, load_report=pd.concat([rep, cohort.load_report], ignore_index=True)
        )
    return replace(cohort, sources={**cohort.sources, "dataset": source})


def load_laleh2022(study: int | None = 4) -> Cohort:
    """Real per-scan tumour sizes of five atezolizumab trials (Laleh 2022), as a cohort.

    ``study``: 1-5 (4, the default, is the OAK trial: arm 1 docetaxel, arm 2 atezolizumab,
    ``treatment`` set), or ``None`` for all five (ids qualified by study). One row per scan: the
    sum of the target-lesion diameters (mm); "TOO SMALL TO MEASURE" read as 5 mm, "NOT
    EVALUABLE" as missing (counted in ``cohort.load_report``). The source has no calendar dates:
    every patient starts on 2000-01-01, scans follow the study days. Target sums only (no new
    lesions, no survival): RECIST from the target sum and on-treatment kinetics; the kinetic HPD
    definitions that need a pre-baseline scan are not evaluable. Read by
    :func:`hpd_analysis.external.read_laleh2022`.

    Source: Ghaffari Laleh et al., PLOS Comput Biol 2022;18:e1009822, supplement S1 (via GitHub
    Genentech/jmpost). Licence CC BY 4.0 (cite the paper; the copy is converted to CSV, values
    unchanged).

    >>> from hpd_analysis.datasets import load_laleh2022
    >>> load_laleh2022(4).n_patients > 600
    True
    """
    from .external import read_laleh2022

    if study is not None and study not in (1, 2, 3, 4, 5):
        raise HPDError(f"load_laleh2022(study={study!r}): expected 1, 2, 3, 4, 5 or None (all)")
    folder = data_dir() / "laleh2022"
    path = folder if study is None else folder / f"study{study}.csv.gz"
    return _cohort(read_laleh2022(path), "laleh2022")


def load_pharmaverse_sdtm(variant: str = "onco") -> dict[str, pd.DataFrame]:
    """CDISC SDTM oncology domains of the pharmaverse project, as DataFrames by domain.

    ``variant="onco"``: ``dm``, ``tu``, ``tr``, ``rs`` (254 simulated subjects, several
    evaluators); ``"recist"``: the small RECIST 1.1 set (``dm`` and ``tu``/``tr``/``rs`` of the
    ``*_recist`` files) plus the ADaM ``adsl`` and ``adtte`` (OS, PFS). Columns as in SDTM
    (``USUBJID``, ``TRTESTCD`` ...), read by :func:`hpd_analysis.sdtm.read_domain`. For a cohort:
    :func:`load_pharmaverse`.

    Source: pharmaversesdtm (GitHub pharmaverse/pharmaversesdtm @530a5ea) and pharmaverseadam
    (@2c7db61), converted from ``.rda`` to CSV. Licence Apache-2.0 (copy in
    ``hpd_analysis/data/LICENSES``). Nobody in it is real.

    >>> from hpd_analysis.datasets import load_pharmaverse_sdtm
    >>> sorted(load_pharmaverse_sdtm())
    ['dm', 'rs', 'tr', 'tu']
    """
    from .sdtm import read_domain

    sd, ad = data_dir() / "pharmaversesdtm", data_dir() / "pharmaverseadam"
    if variant == "onco":
        files = _oncology_domain_files(sd, tu="tu_onco", tr="tr_onco", rs="rs_onco")
    elif variant == "recist":
        files = _oncology_domain_files(
            sd, tu="tu_onco_recist", tr="tr_onco_recist", rs="rs_onco_recist"
        )
        files.update(adsl=ad / "adsl.csv.gz", adtte=ad / "adtte_onco.csv.gz")
    else:
        raise HPDError(f"load_pharmaverse_sdtm(variant={variant!r}): expected 'onco' or 'recist'")
    return {k: read_domain(v) for k, v in files.items()}


def _oncology_domain_files(folder: Path, *, tu: str, tr: str, rs: str) -> dict[str, Path]:
    """DM and the named TU, TR, RS files (``<stem>.csv.gz``) of ``folder``, by domain."""
    return {
        "dm": folder / "dm.csv.gz",
        "tu": folder / f"{tu}.csv.gz",
        "tr": folder / f"{tr}.csv.gz",
        "rs": folder / f"{rs}.csv.gz",
    }


def load_pharmaverse(variant: str = "onco") -> Cohort:
    """The pharmaverse SDTM set imported as a cohort (:func:`hpd_analysis.sdtm.import_sdtm`).

    ``variant="onco"``: the full oncology set with the accepted evaluator's reads (254 subjects,
    lesions in mm, no survival); ``"recist"``: the RECIST 1.1 set with the investigator's reads
    and OS/PFS from the ADaM ADTTE. Source, licence and citation: :func:`load_pharmaverse_sdtm`.
    """
    from .sdtm import import_sdtm

    if variant == "onco":
        tables = import_sdtm(data_dir() / "pharmaversesdtm")
    elif variant == "recist":
        tables = import_sdtm(
            data_dir() / "pharmaversesdtm",
            prefer="recist",
            reader="investigator",
            adam_dir=data_dir() / "pharmaverseadam",
        )
    else:
        raise HPDError(f"load_pharmaverse(variant={variant!r}): expected 'onco' or 'recist'")
    return _cohort(tables, f"pharmaverse-{variant}")


def load_tumgr_sample() -> Cohort:
    """tumgr's sample data: 68 patients, 453 evaluations of the sum of lesion measurements.

    Control arm of a prostate cancer trial (no immunotherapy; the data set of the Stein /
    Wilkerson regression-growth model). ``date`` is a day number; the cohort puts each patient's
    treatment start on the first evaluation (the baseline scan), so the first scan after it is
    the first evaluation; sizes are kept as given (unit not stated by tumgr). The tumgr-format
    table itself (``name, date, size``) is ``data_dir() / "tumgr" / "sampleData.csv.gz"``, for the
    growth model: ``hpd_analysis.growth.fit_growth(hpd_analysis.growth.read_tumgr_table(path))``.
    Read by :func:`hpd_analysis.external.read_tumgr_sample`.

    Source: R package tumgr 0.0.4 (CRAN; GitHub cran/tumgr @7d88838), ``sampleData``. Licence
    MIT (copyright 2015 Julia Wilkerson). Cite Wilkerson et al., Lancet Oncol 2017;18:143-154.
    """
    from .external import read_tumgr_sample

    return _cohort(read_tumgr_sample(data_dir() / "tumgr" / "sampleData.csv.gz"), "tumgr")


def load_inspire() -> Cohort:
    """The INSPIRE pembrolizumab trial: 94 patients with survival, biomarkers and tumour sizes.

    Per patient: cohort and ``tumor_type`` (A SCCHN, B TNBC, C HGSOC, D melanoma, E mixed solid
    tumours), age, sex, baseline target-lesion size (``tumor_size_baseline``, mm), PD-L1 (%),
    log TMB, ctDNA at baseline and its early change, best response, OS and PFS (months). Scans: a
    baseline on the treatment start and one per ``ctDNA.csv`` row (% change in tumour size from
    baseline, at a week on treatment), so sizes are derived (baseline × (1 + change / 100)).
    No calendar dates (every start 2000-01-01) and no pre-baseline scan: the kinetic definitions
    are not evaluable, the RECIST ones are. Read by :func:`hpd_analysis.external.read_inspire`
    (the changes it made are in ``cohort.load_report``).

    Source: Bratman et al., Nat Cancer 2020;1:873-881, data as distributed in the R package
    reportRmd (GitHub biostatsPMH/reportRmd @80fbb3f). Licence MIT (copyright the reportRmd
    authors). Cite the paper.
    """
    from .external import read_inspire

    return _cohort(read_inspire(data_dir() / "inspire"), "inspire")


#: environment variable naming the folder that holds ``oak_clinical.csv.gz`` /
#: ``poplar_clinical.csv.gz`` (OAK / POPLAR are not bundled)
ENV_OAK_POPLAR_DIR = "HPD_OAK_POPLAR_DIR"


def load_oak_poplar(trial: str = "oak", path: str | Path | None = None) -> Cohort:
    """Per-patient clinical data of the OAK or POPLAR trial (atezolizumab vs docetaxel, NSCLC).

    Not bundled: Supplementary Table 8 of Gandara et al. (Nat Med 2018) has no licence that
    allows redistribution (the copy on GitHub, Genentech/jmpost, is in an Apache-2.0 repository,
    but the repository's licence does not cover the journal's supplement). Give ``path``: the
    ``oak_clinical.csv[.gz]`` / ``poplar_clinical.csv[.gz]`` file or the folder holding it (sheets
    ``OAK_Clinical_Data`` / ``POPLAR_Clinical_Data`` of the supplement saved as CSV), or set
    ``HPD_OAK_POPLAR_DIR``; the project's shared data folder is used when present. Patients only:
    OS and PFS (months), arm, ECOG, metastatic sites, baseline SLD, blood TMB, PD-L1 groups; no
    tumour measurements. Read by :func:`hpd_analysis.external.read_oak_poplar`.

    Source: Gandara et al., Nat Med 2018, Supplementary Table 8. Cite: Gandara DR, et al.
    Nat Med 2018;24:1441-1448. doi:10.1038/s41591-018-0134-3.
    """
    from .external import external_data_dir, read_oak_poplar

    trial = trial.lower()
    if trial not in ("oak", "poplar"):
        raise HPDError(f"load_oak_poplar(trial={trial!r}): expected 'oak' or 'poplar'")
    candidates: list[Path] = []
    for base in (path, os.environ.get(ENV_OAK_POPLAR_DIR)):
        if base:
            candidates += [Path(base), Path(base) / "oak_poplar_gandara2018"]
    candidates.append(external_data_dir() / "oak_poplar_gandara2018")
    for c in candidates:
        if c.is_file():
            return _cohort({"patients": read_oak_poplar(c)}, trial)
        for name in (f"{trial}_clinical.csv.gz", f"{trial}_clinical.csv"):
            if (c / name).is_file():
                return _cohort({"patients": read_oak_poplar(c / name)}, trial)
    raise HPDError(
        f"{trial.upper()} data not found (looked in: {', '.join(map(str, candidates))}). They "
        "are not bundled: download Supplementary Table 8 of Gandara et al., Nat Med 2018 "
        "(doi:10.1038/s41591-018-0134-3), save the sheet as "
        f"{trial}_clinical.csv and pass its path, or set {ENV_OAK_POPLAR_DIR}"
    )


#: names accepted by :func:`write_dataset` besides those of
#: :data:`hpd_analysis.external.EXTERNAL_COHORTS`
DATASET_ALIASES = {"oak-laleh": "laleh2022-study4"}


def write_dataset(name: str, out_dir: str | Path) -> Path:
    """Write data set ``name`` as a cohort folder in ``out_dir`` (for ``hpd report --cohort``).

    ``example`` (copied), ``laleh2022[-studyN]`` / ``oak-laleh`` (= study 4, the OAK trial's
    scans), ``pharmaverse``, ``pharmaverse-recist``, ``tumgr``, ``inspire`` from the bundled
    copies, ``oak`` / ``poplar`` from a path (see :func:`load_oak_poplar`, ``HPD_EXTERNAL_DATA``).
    Deterministic (same bytes on rerun); returns the folder.
    """
    import shutil

    from .external import EXTERNAL_COHORTS, external_data_dir, write_external_cohort

    out = Path(out_dir)
    if name == "example":
        out.mkdir(parents=True, exist_ok=True)
        for f in ("patients.csv", "lesions.csv"):
            shutil.copyfile(example_path() / f, out / f)
        return out
    name = DATASET_ALIASES.get(name, name)
    if name not in EXTERNAL_COHORTS:
        raise HPDError(
            f"unknown data set {name!r} (expected example, oak-laleh, "
            f"{', '.join(EXTERNAL_COHORTS)})"
        )
    base = external_data_dir()
    if name in ("oak", "poplar") and os.environ.get(ENV_OAK_POPLAR_DIR):
        base = Path(os.environ[ENV_OAK_POPLAR_DIR]).parent
    return write_external_cohort(name, out, external_dir=base)


def _main(argv: list[str] | None = None) -> int:
    """``python -m hpd_analysis.datasets NAME_OR_PATH [--into DIR]``: print a cohort folder.

    An existing path is printed as it is; a data set name is written to ``DIR/NAME``
    (default ``cohorts/NAME``) first. ``make report COHORT=...`` uses it."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m hpd_analysis.datasets")
    p.add_argument("cohort", help="a cohort folder/file, or a data set name (e.g. oak-laleh)")
    p.add_argument("--into", default="cohorts", help="where data sets are written (cohorts/)")
    a = p.parse_args(argv)
    if Path(a.cohort).exists():
        print(a.cohort)
        return 0
    try:
        print(write_dataset(a.cohort, Path(a.into) / a.cohort))
    except HPDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
