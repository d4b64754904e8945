"""Readers for published real trial tables, turned into cohorts of the contract.

- :func:`read_laleh2022`: per-scan target-lesion sums of five atezolizumab trials (Ghaffari Laleh
  et al., PLOS Comput Biol 2022, supplement S1) -> ``patients`` + ``assessments``.
- :func:`read_oak_poplar`: per-patient clinical data of OAK / POPLAR (Gandara et al., Nat Med
  2018) -> ``patients`` with OS/PFS times in months.
- :func:`read_tumgr_sample`: tumgr's ``sampleData`` (per-scan sums of 68 patients) ->
  ``patients`` + ``assessments``.
- :func:`read_inspire`: the INSPIRE pembrolizumab trial (Bratman et al., Nat Cancer 2020) ->
  ``patients`` (ctDNA, TMB, PD-L1, OS/PFS) + ``assessments`` rebuilt from % size changes.
- :func:`write_external_cohort`: materialise one of them (or the pharmaverse SDTM set) as a cohort
  folder for ``hpd report --cohort DIR``.

Neither source gives calendar dates, so every patient gets the same synthetic
``treatment_start`` :data:`REFERENCE_DATE` (2000-01-01); Laleh scan dates are that date plus the
study day (see :func:`read_laleh2022`). Only differences between dates carry information.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CohortError, HPDError, Problem
from .sdtm import ImportReport, import_sdtm_dir, write_cohort_csv

__all__ = [
    "REFERENCE_DATE",
    "read_laleh2022",
    "read_oak_poplar",
    "read_tumgr_sample",
    "read_inspire",
    "INSPIRE_COHORTS",
    "write_external_cohort",
    "external_data_dir",
    "EXTERNAL_COHORTS",
]

#: synthetic first-dose date given to every patient of a source without calendar dates
REFERENCE_DATE = pd.Timestamp("2000-01-01")

_LALEH_COLUMNS = ["Patient_Anonmyized", "Treatment_Day", "TargetLesionLongDiam_mm", "Study_Arm"]
_TOO_SMALL = "TOO SMALL TO MEASURE"
_NOT_EVALUABLE = "NOT EVALUABLE"


def _missing_columns(
    file: str, table: pd.DataFrame, need: list[str], *, expected: str
) -> list[Problem]:
    """A :class:`Problem` per column of ``need`` that ``table`` lacks."""
    return [
        Problem(file, None, c, "required column is missing", expected)
        for c in need
        if c not in table.columns
    ]


def _row_problems(
    file: str, cells: pd.Series, mask: pd.Series, *, message: str, expected: str
) -> list[Problem]:
    """A :class:`Problem` for each of the first 20 rows where ``mask`` holds, at its line of the
    CSV file (index + 2) and in the column ``cells`` is; ``{value!r}`` in ``message`` names the
    cell."""
    column = str(cells.name)
    return [
        Problem(file, int(i) + 2, column, message.format(value=cells[i]), expected)
        for i in cells.index[mask][:20]
    ]


def _numbers(
    cells: pd.Series, file: str, *, required: bool, expected: str
) -> tuple[pd.Series, list[Problem]]:
    """``cells`` (text, NA when missing) as numbers, and a :class:`Problem` per cell that is not
    a number (or, when ``required``, is missing)."""
    values = pd.to_numeric(cells, errors="coerce")
    bad = cells.notna() & values.isna()
    if required:
        bad |= values.isna()
    return values, _row_problems(
        file, cells, bad, message="not a number {value!r}", expected=expected
    )


def _patient_id_problems(file: str, ids: pd.Series, *, expected: str) -> list[Problem]:
    """A :class:`Problem` per row whose patient id is missing or not unique."""
    return _row_problems(
        file,
        ids,
        ids.isna() | ids.duplicated(keep=False),
        message="missing or duplicate patient id",
        expected=expected,
    )


def _read_text_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise HPDError(f"{path}: cannot be read as CSV ({exc})") from exc


def _laleh_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if re.fullmatch(r"study\d+\.csv(\.gz)?", p.name))
        if not files:
            raise HPDError(f"{path}: no studyN.csv[.gz] file")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return [path]


def read_laleh2022(
    path: Path | str,
    *,
    too_small_mm: float = 5.0,
    reference_date: str | pd.Timestamp = REFERENCE_DATE,
) -> dict[str, pd.DataFrame]:
    """Read Laleh 2022 per-scan sums (one ``studyN.csv[.gz]`` or the folder of all five).

    Each row is one scan of one patient: ``TargetLesionLongDiam_mm`` is the sum of the longest
    diameters of the target lesions on that day (one value per patient per scan day), in mm.

    Mapping:

    - ``patient_id`` = ``S<study>_<Patient_Anonmyized>``: the anonymised ids repeat across studies
      (different patients), so they are qualified by study (``source_patient_id`` keeps the
      original); ``study`` (int) and ``arm`` (int) parsed from
      ``Study_Arm`` (``Study_4_Arm_2`` -> 4, 2); ``study_arm`` keeps the label; ``treatment`` is
      set only where the source says which drug an arm is (study 4 = OAK: arm 1 docetaxel, arm 2
      atezolizumab).
    - Days follow the CDISC study-day convention (day 1 = first dose, no day 0, negative days
      before treatment): ``treatment_start`` = ``reference_date`` (2000-01-01) for every patient;
      ``assessment_date`` = reference + (day - 1) for day >= 1 and reference + day for day < 0.
      A day-1 scan is therefore on the treatment start (eligible as baseline).
    - ``sld_mm``: numbers as given; ``TOO SMALL TO MEASURE`` -> ``too_small_mm`` (RECIST 1.1
      default 5 mm) with ``too_small`` True; ``NOT EVALUABLE`` or empty -> NaN with
      ``not_evaluable`` True; ``sld_text`` keeps the source text. Any other text is an error.
    - Rows without a day are dropped; identical duplicate rows are dropped; two different values
      for one patient and day give ``sld_mm`` NaN, ``not_evaluable`` True (conflict). Rows are
      sorted by patient and day. Every change is counted in ``report``.

    Returns ``{"patients", "assessments", "report"}``; ``assessments`` columns:
    ``patient_id, assessment_date, treatment_day, sld_mm, sld_text, too_small, not_evaluable,
    conflict``. Every patient of the file is in ``patients`` (also one whose rows were all
    dropped).
    """
    ref = pd.Timestamp(reference_date)
    d = _read_laleh_rows(_laleh_files(Path(path)))
    values = _laleh_values(d)
    # Patient_Anonmyized values repeat across studies (different patients): qualify by study
    d["_pid"] = "S" + values.study + "_" + d["Patient_Anonmyized"]
    n_arms = d.groupby("_pid")["Study_Arm"].transform("nunique")
    if (n_arms > 1).any():
        raise CohortError(
            _laleh_row_problems(
                d,
                n_arms > 1,
                "Patient_Anonmyized",
                message="patient appears in several arms of one study",
                expected="one Study_Arm per patient",
            )
        )
    report = ImportReport()
    scans = _laleh_scans(d, values, ref=ref, too_small_mm=too_small_mm, report=report)
    return {"patients": _laleh_patients(d, ref), "assessments": scans, "report": report.frame()}


@dataclass(frozen=True)
class _LalehValues:
    """The cells of the Laleh rows read as values (index of the rows)."""

    #: study number of ``Study_Arm`` (text)
    study: pd.Series
    #: study day of ``Treatment_Day`` (float, NaN when empty)
    day: pd.Series
    #: ``TargetLesionLongDiam_mm`` as a number (mm; NaN for text)
    sld_mm: pd.Series
    #: ``TargetLesionLongDiam_mm`` upper-case
    text: pd.Series


def _read_laleh_rows(files: list[Path]) -> pd.DataFrame:
    """The rows of the Laleh files, stripped, with their file (``_file``) and line (``_row``)."""
    frames = []
    for f in files:
        d = _read_text_csv(f)
        missing = _missing_columns(
            f.name, d, _LALEH_COLUMNS, expected=f"columns {', '.join(_LALEH_COLUMNS)}"
        )
        if missing:
            raise CohortError(missing)
        d = d[_LALEH_COLUMNS].apply(lambda s: s.str.strip())
        d["_file"] = f.name
        d["_row"] = np.arange(len(d)) + 2
        frames.append(d)
    return pd.concat(frames, ignore_index=True)


def _laleh_row_problems(
    d: pd.DataFrame, mask: pd.Series, col: str, *, message: str, expected: str
) -> list[Problem]:
    """A :class:`Problem` for each of the first 20 rows where ``mask`` holds, at its file and line."""
    sel = d[mask].head(20)
    return [
        Problem(f, int(row), col, f"{message} {v!r}", expected)
        for f, row, v in zip(sel["_file"], sel["_row"], sel[col], strict=True)
    ]


def _laleh_values(d: pd.DataFrame) -> _LalehValues:
    """Study, day and sum of each row; a label, day or value the paper's table cannot hold is an
    error (all of them in one :class:`CohortError`)."""
    arm_parts = d["Study_Arm"].str.extract(r"^Study_(\d+)_Arm_(\d+)$")
    day = pd.to_numeric(d["Treatment_Day"], errors="coerce")
    raw = d["TargetLesionLongDiam_mm"]
    txt = raw.str.upper()
    num = pd.to_numeric(raw, errors="coerce")
    known = num.notna() | txt.isin([_TOO_SMALL, _NOT_EVALUABLE, ""])
    checks = [
        (arm_parts[0].isna(), "Study_Arm", "not a study/arm label", "Study_<n>_Arm_<k>"),
        (
            d["Patient_Anonmyized"].eq(""),
            "Patient_Anonmyized",
            "missing patient identifier",
            "an identifier",
        ),
        (
            d["Treatment_Day"].ne("") & (day.isna() | (day % 1 != 0) | (day == 0)),
            "Treatment_Day",
            "not a study day",
            "a non-zero whole number of days (negative = before treatment)",
        ),
        (
            ~known,
            "TargetLesionLongDiam_mm",
            "unknown value",
            f"a number (mm), {_TOO_SMALL!r}, {_NOT_EVALUABLE!r} or empty",
        ),
        (num < 0, "TargetLesionLongDiam_mm", "negative sum", "a number >= 0 (mm)"),
    ]
    problems = [
        p
        for mask, col, message, expected in checks
        for p in _laleh_row_problems(d, mask, col, message=message, expected=expected)
    ]
    if problems:
        raise CohortError(problems)
    return _LalehValues(study=arm_parts[0], day=day, sld_mm=num, text=txt)


def _laleh_patients(d: pd.DataFrame, ref: pd.Timestamp) -> pd.DataFrame:
    """One row per patient: study, arm and label, the treatment where the source names it
    (study 4 = OAK: arm 1 docetaxel, arm 2 atezolizumab), the synthetic treatment start."""
    patients = d.drop_duplicates("_pid")[["_pid", "Patient_Anonmyized", "Study_Arm"]].rename(
        columns={
            "_pid": "patient_id",
            "Patient_Anonmyized": "source_patient_id",
            "Study_Arm": "study_arm",
        }
    )
    parts = patients["study_arm"].str.extract(r"^Study_(\d+)_Arm_(\d+)$").astype(int)
    patients = patients.assign(
        treatment_start=ref, study=parts[0].to_numpy(), arm=parts[1].to_numpy()
    )
    treat = pd.Series(pd.NA, index=patients.index, dtype="string")
    treat[(patients["study"] == 4) & (patients["arm"] == 1)] = "docetaxel"
    treat[(patients["study"] == 4) & (patients["arm"] == 2)] = "atezolizumab"
    patients["treatment"] = treat
    columns = [
        "patient_id",
        "treatment_start",
        "study",
        "arm",
        "study_arm",
        "treatment",
        "source_patient_id",
    ]
    return (
        patients[columns]
        .sort_values(["study", "patient_id"], kind="mergesort")
        .reset_index(drop=True)
    )


def _laleh_scans(
    d: pd.DataFrame,
    values: _LalehValues,
    *,
    ref: pd.Timestamp,
    too_small_mm: float,
    report: ImportReport,
) -> pd.DataFrame:
    """One row per patient and study day: rows without a day and identical rows dropped, two
    values on one day a conflict (not evaluable); the sum in mm (TOO SMALL TO MEASURE ->
    ``too_small_mm``) on the CDISC study-day date."""
    files = ",".join(sorted(d["_file"].unique()))
    col = "TargetLesionLongDiam_mm"
    nodate = d["Treatment_Day"].eq("")
    d = report.drop(
        d,
        nodate,
        file=files,
        column="Treatment_Day",
        action="row_without_day_dropped",
        detail="scan without a study day cannot be placed",
    ).assign(
        _day=values.day[~nodate].astype(int),
        _num=values.sld_mm[~nodate],
        _txt=values.text[~nodate],
    )
    d = report.drop(
        d,
        d.duplicated(["_pid", "_day", col]),
        file=files,
        column=col,
        action="duplicate_row_dropped",
        detail="identical row (patient, day, value)",
    )
    conflict = d.duplicated(["_pid", "_day"], keep=False)
    report.add(
        files,
        col,
        "conflicting_values_not_evaluable",
        n_rows=int(conflict.sum()),
        detail="different values for one patient and day: sld_mm NaN",
    )
    report.add(
        files,
        "Treatment_Day",
        "rows_sorted",
        n_rows=int(d.groupby("_pid")["_day"].diff().lt(0).sum()),
        detail="rows out of day order within a patient (sorted)",
    )
    return _laleh_sums(d, conflict, files=files, too_small_mm=too_small_mm, ref=ref, report=report)


def _laleh_sums(
    d: pd.DataFrame,
    conflict: pd.Series,
    *,
    files: str,
    too_small_mm: float,
    ref: pd.Timestamp,
    report: ImportReport,
) -> pd.DataFrame:
    """The ``assessments`` table: ``sld_mm`` (TOO SMALL TO MEASURE -> ``too_small_mm``; NOT
    EVALUABLE, empty or a conflict -> NaN, ``not_evaluable``), dated by the CDISC study day."""
    col = "TargetLesionLongDiam_mm"
    too_small = d["_txt"].eq(_TOO_SMALL)
    not_eval = d["_txt"].eq(_NOT_EVALUABLE)
    empty = d["_txt"].eq("")
    for action, rows, detail in (
        ("too_small_to_measure", too_small, f"TOO SMALL TO MEASURE -> {too_small_mm:g} mm"),
        ("not_evaluable", not_eval, "NOT EVALUABLE -> NaN, not_evaluable True"),
        ("missing_value", empty, "empty -> NaN, not_evaluable True"),
    ):
        report.add(files, col, action, n_rows=int(rows.sum()), detail=detail)
    sld = d["_num"].where(~too_small, too_small_mm).where(~conflict)
    # CDISC study day: day 1 is the first dose, there is no day 0
    offset = np.where(d["_day"] >= 1, d["_day"] - 1, d["_day"])
    a = pd.DataFrame(
        {
            "patient_id": d["_pid"],
            "assessment_date": ref + pd.to_timedelta(offset, unit="D"),
            "treatment_day": d["_day"],
            "sld_mm": sld.astype(float),
            "sld_text": d[col],
            "too_small": too_small,
            "not_evaluable": not_eval | empty | conflict,
            "conflict": conflict,
        }
    )
    a = a.drop_duplicates(["patient_id", "treatment_day"])
    return a.sort_values(["patient_id", "treatment_day"], kind="mergesort").reset_index(drop=True)


#: OAK / POPLAR source column -> patients column (both spellings of the two files)
_OAK_COLUMNS = {
    "BAGE": "age",
    "SEX": "sex",
    "race2": "race",
    "HIST": "nsclc_histology",
    "ECOGGR": "ecog_baseline",
    "METSITES": "n_metastatic_sites",
    "TOBHX": "tobacco_history",
    "PRIORTXC": "n_prior_therapies",
    "PRIORTX": "n_prior_therapies",
    "blSLD": "sld_baseline_mm",
    "btmb": "btmb",
    "BEP": "biomarker_evaluable",
    "KRASMUT": "kras_mutation",
    "EGFRMUT": "egfr_mutation",
    "EML4MUT": "eml4_alk",
    "EMLAMUT": "eml4_alk",
    "TC1IC1": "pdl1_tc1ic1",
    "TC3IC3": "pdl1_tc3ic3",
    "MSAF": "msaf",
    "BCOR": "best_confirmed_response",
}
_OAK_NUMERIC = [
    "OS",
    "PFS",
    "OS.CNSR",
    "PFS.CNSR",
    "BAGE",
    "ECOGGR",
    "METSITES",
    "blSLD",
    "btmb",
    "MSAF",
    "PRIORTXC",
    "PRIORTX",
]


def read_oak_poplar(
    path: Path | str, *, reference_date: str | pd.Timestamp = REFERENCE_DATE
) -> pd.DataFrame:
    """Read ``oak_clinical.csv.gz`` or ``poplar_clinical.csv.gz`` into a ``patients`` table.

    ``"."`` is missing. Columns: ``patient_id`` (``PtID`` as text), ``trial`` (OAK / POPLAR from
    the file name), ``arm`` (``TRT01P`` as given: Docetaxel / MPDL3280A), ``treatment``
    (docetaxel / atezolizumab), ``os_months``, ``os_event`` (= 1 - ``OS.CNSR``; CNSR 1 is
    censored), ``pfs_months``, ``pfs_event`` (= 1 - ``PFS.CNSR``), ``treatment_start`` (synthetic,
    ``reference_date`` 2000-01-01 for all: the source has no dates; times are the data), and
    ``tumor_type`` (NSCLC) and risk factors: ``age``, ``sex``, ``race``, ``nsclc_histology``
    (SQUAMOUS / NON-SQUAMOUS), ``ecog_baseline`` (Int64),
    ``n_metastatic_sites``, ``tobacco_history``, ``n_prior_therapies``, ``sld_baseline_mm``,
    ``btmb`` (blood TMB, mutations), ``biomarker_evaluable``, ``kras_mutation``,
    ``egfr_mutation``, ``eml4_alk``, ``pdl1_tc1ic1``, ``pdl1_tc3ic3`` (PD-L1 SP142 groups, where
    recorded), ``msaf``, ``best_confirmed_response`` (BCOR).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    d = _read_text_csv(path).apply(lambda s: s.str.strip())
    need = ["PtID", "OS", "OS.CNSR", "PFS", "PFS.CNSR", "TRT01P"]
    missing = _missing_columns(path.name, d, need, expected=", ".join(need))
    if missing:
        raise CohortError(missing)
    d = d.replace({".": pd.NA, "": pd.NA})
    nums = _oak_numbers(d, path.name)
    trial = (
        "OAK"
        if "oak" in path.name.lower()
        else ("POPLAR" if "poplar" in path.name.lower() else path.name.split(".")[0])
    )
    return _oak_patients(d, nums, trial=trial, reference_date=pd.Timestamp(reference_date))


def _oak_numbers(d: pd.DataFrame, name: str) -> dict[str, pd.Series]:
    """The numeric columns of an OAK / POPLAR table; censoring flags must be 0/1, times
    (months) >= 0 and ``PtID`` unique (all problems in one :class:`CohortError`)."""
    problems: list[Problem] = []
    nums: dict[str, pd.Series] = {}
    for c in _OAK_NUMERIC:
        if c in d.columns:
            nums[c], found = _numbers(
                d[c], name, required=False, expected="a number or '.' (missing)"
            )
            problems += found
    for c in ("OS.CNSR", "PFS.CNSR"):
        problems += _row_problems(
            name,
            d[c],
            ~nums[c].isin([0, 1]),
            message="invalid censoring flag {value!r}",
            expected="0 (event) or 1 (censored)",
        )
    for c in ("OS", "PFS"):
        problems += _row_problems(
            name,
            d[c],
            nums[c].isna() | (nums[c] < 0),
            message="invalid time {value!r}",
            expected="months >= 0",
        )
    problems += _patient_id_problems(name, d["PtID"], expected="a unique PtID")
    if problems:
        raise CohortError(problems)
    return nums


def _oak_patients(
    d: pd.DataFrame,
    nums: dict[str, pd.Series],
    *,
    trial: str,
    reference_date: pd.Timestamp,
) -> pd.DataFrame:
    """The ``patients`` table of :func:`read_oak_poplar` (events = 1 - CNSR)."""
    arm = d["TRT01P"].astype("string")
    out = pd.DataFrame(
        {
            "patient_id": d["PtID"].astype(str),
            "treatment_start": reference_date,
            "trial": trial,
            "tumor_type": "NSCLC",
            "arm": arm,
            "treatment": arm.str.upper()
            .map({"MPDL3280A": "atezolizumab", "DOCETAXEL": "docetaxel"})
            .astype("string"),
            "os_months": nums["OS"].astype(float),
            "os_event": (1 - nums["OS.CNSR"]).astype("Int64"),
            "pfs_months": nums["PFS"].astype(float),
            "pfs_event": (1 - nums["PFS.CNSR"]).astype("Int64"),
        }
    )
    for src, dst in _OAK_COLUMNS.items():
        if src in d.columns and dst not in out.columns:
            out[dst] = nums[src] if src in nums else d[src].astype("string")
    out["ecog_baseline"] = out["ecog_baseline"].astype("Int64")
    for c in ("age", "n_metastatic_sites", "n_prior_therapies"):
        if c in out.columns:
            out[c] = out[c].astype("Int64")
    return out.reset_index(drop=True)


def _days_to_dates(days: pd.Series, origin: pd.Timestamp) -> pd.Series:
    """``origin`` + ``days`` (float days, rounded to whole days)."""
    return origin + pd.to_timedelta(np.round(days.to_numpy(dtype=float)), unit="D")


def read_tumgr_sample(
    path: Path | str, *, reference_date: str | pd.Timestamp = REFERENCE_DATE
) -> dict[str, pd.DataFrame]:
    """Read tumgr's ``sampleData.csv[.gz]`` (columns ``name, date, size``) as a cohort.

    ``name`` is the patient, ``date`` the day of the evaluation (days from an origin the source
    does not give) and ``size`` the sum of the lesion measurements (unit not given by tumgr; the
    values, 0.4-40, are kept as they are in ``sld_mm``). Control arm of a prostate cancer trial:
    there is no treatment start, so ``treatment_start`` is set at each patient's first evaluation
    (``reference_date`` + its day), which becomes the baseline scan; ``assessment_date`` =
    ``reference_date`` + ``date`` days. Rows without a day or a size are dropped and counted in
    ``report``. Returns ``{"patients", "assessments", "report"}``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    d = _read_text_csv(path).apply(lambda s: s.str.strip())
    missing = _missing_columns(
        path.name, d, ["name", "date", "size"], expected="tumgr's columns name, date (days), size"
    )
    if missing:
        raise CohortError(missing)
    problems: list[Problem] = []
    nums = {}
    for c in ("date", "size"):
        cells = d[c].replace({"NA": pd.NA, "": pd.NA})
        nums[c], found = _numbers(cells, path.name, required=False, expected="a number (or NA)")
        problems += found
    if problems:
        raise CohortError(problems)
    ref = pd.Timestamp(reference_date)
    keep = nums["date"].notna() & nums["size"].notna()
    report = ImportReport()
    report.add(
        path.name,
        "date, size",
        "row_dropped",
        n_rows=int((~keep).sum()),
        detail="no day or no size",
    )
    a = pd.DataFrame(
        {
            "patient_id": d["name"].astype(str),
            "day": nums["date"],
            "sld_mm": nums["size"].astype(float),
        }
    )[keep.to_numpy()]
    a["assessment_date"] = _days_to_dates(a["day"], ref)
    a = a.sort_values(["patient_id", "day"], kind="mergesort").reset_index(drop=True)
    ids = pd.unique(d["name"].astype(str))
    first = a.groupby("patient_id", sort=False)["assessment_date"].min()
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "treatment_start": first.reindex(ids).to_numpy(),
            "tumor_type": "prostate",
            "trial_arm": "control",
        }
    )
    return {
        "patients": patients,
        "assessments": a[["patient_id", "assessment_date", "sld_mm"]],
        "report": report.frame(),
    }


#: INSPIRE cohort letter -> tumour type (reportRmd's data documentation; Bratman et al. 2020)
INSPIRE_COHORTS = {
    "A": "SCCHN",
    "B": "TNBC",
    "C": "HGSOC",
    "D": "melanoma",
    "E": "mixed solid tumour",
}
_INSPIRE_PATIENT_COLUMNS = [
    "id",
    "age",
    "sex",
    "cohort",
    "l_size",
    "pdl1",
    "tmb",
    "baseline_ctdna",
    "change_ctdna_group",
    "orr",
    "cbr",
    "os_status",
    "os_time",
    "pfs_status",
    "pfs_time",
]
_INSPIRE_SIZE_COLUMNS = ["id", "cohort", "ctdna_status", "time", "size_change"]


def read_inspire(
    folder: Path | str, *, reference_date: str | pd.Timestamp = REFERENCE_DATE
) -> dict[str, pd.DataFrame]:
    """Read the INSPIRE pembrolizumab trial tables (Bratman et al., Nat Cancer 2020; as shipped
    by the R package reportRmd): ``pembrolizumab.csv`` (94 patients) and ``ctDNA.csv``
    (% change of the tumour measurement over weeks on treatment).

    Returns ``{"patients", "assessments", "report"}``:

    - ``patients``: ``patient_id`` (``id``), ``treatment_start`` (synthetic ``reference_date``:
      the source has times, no dates), ``tumor_type`` (cohort A SCCHN, B TNBC, C high-grade serous
      ovarian, D melanoma, E mixed solid tumours), ``treatment`` (pembrolizumab), ``cohort``,
      ``age`` (years), ``sex``, ``tumor_size_baseline`` (``l_size``: baseline target-lesion size,
      mm), ``pdl1_pct`` (``pdl1``, %), ``log_tmb`` (``tmb``: the source's log of the tumour
      mutational burden), ``ctdna_baseline`` (``baseline_ctdna``: mean tumour molecules/mL),
      ``ctdna_change_group`` and ``ctdna_increase`` (1 when ctDNA rose from baseline to cycle 3,
      0 when it fell, empty when not measured: an early on-treatment change, ~6 weeks),
      ``ctdna_status_on_treatment`` (``ctDNA.csv``: clearance / no clearance, increase / decrease),
      ``best_overall_response_group`` (``orr``), ``best_overall_clinical_benefit`` (``cbr``), and
      ``os_months``/``os_event``, ``pfs_months``/``pfs_event`` (status 1 = event).
    - ``assessments``: per-scan target sums reconstructed from the two tables: the baseline
      ``sld_mm`` = ``l_size`` on the treatment start (every patient), then one row per
      ``ctDNA.csv`` row at start + round(7 × ``time``) days with ``sld_mm`` = ``l_size`` × (1 +
      ``size_change`` / 100); an empty ``size_change`` gives ``sld_mm`` NaN and ``not_evaluable``
      1. No new-lesion or non-target record exists: RECIST PD by new lesions is missed.
    - ``report``: what was derived, one row per rule (``LOAD_REPORT_COLUMNS``).
    """
    tables = _read_inspire_tables(Path(folder))
    values = _inspire_values(tables)
    ref = pd.Timestamp(reference_date)
    patients = _inspire_patients(tables, values, ref)
    baseline = _inspire_baseline_scans(patients, ref)
    on_treatment = _inspire_on_treatment_scans(tables, values, ref)
    a = (
        pd.concat([baseline, on_treatment], ignore_index=True)
        .sort_values(["patient_id", "treatment_day"], kind="mergesort")
        .reset_index(drop=True)
    )
    report = _inspire_report(
        tables, n_baseline=len(baseline), n_on_treatment=len(on_treatment), values=values
    )
    return {"patients": patients, "assessments": a, "report": report}


@dataclass(frozen=True)
class _InspireTables:
    """The two INSPIRE tables as text (missing cells NA) and their files."""

    patient_file: Path
    size_file: Path
    #: ``pembrolizumab.csv``: one row per patient
    patients: pd.DataFrame
    #: ``ctDNA.csv``: one row per on-treatment measurement
    sizes: pd.DataFrame


@dataclass(frozen=True)
class _InspireValues:
    """The numbers read from the INSPIRE tables."""

    #: numeric columns of ``pembrolizumab.csv`` by source name
    patient: dict[str, pd.Series]
    #: weeks on treatment of each ``ctDNA.csv`` row
    weeks: pd.Series
    #: % change of the tumour size from baseline of each ``ctDNA.csv`` row (NaN: not measured)
    size_change: pd.Series


#: numeric columns of ``pembrolizumab.csv``, and those a patient must have
_INSPIRE_NUMERIC = [
    "age",
    "l_size",
    "pdl1",
    "tmb",
    "baseline_ctdna",
    "os_status",
    "os_time",
    "pfs_status",
    "pfs_time",
]
_INSPIRE_REQUIRED = ("l_size", "os_time", "os_status", "pfs_time", "pfs_status")
#: ``change_ctdna_group`` -> ``ctdna_increase``
_CTDNA_INCREASE = {"Increase from baseline": 1, "Decrease from baseline": 0}


def _read_inspire_tables(folder: Path) -> _InspireTables:
    """``pembrolizumab.csv`` and ``ctDNA.csv`` of ``folder``, stripped, ``NA`` and empty missing."""
    pfile, sfile = folder / "pembrolizumab.csv", folder / "ctDNA.csv"
    for f in (pfile, sfile):
        if not f.exists():
            raise FileNotFoundError(f"{f}: no such file")
    d = _read_text_csv(pfile).apply(lambda s: s.str.strip())
    z = _read_text_csv(sfile).apply(lambda s: s.str.strip())
    problems: list[Problem] = []
    for f, t, need in ((pfile, d, _INSPIRE_PATIENT_COLUMNS), (sfile, z, _INSPIRE_SIZE_COLUMNS)):
        problems += _missing_columns(f.name, t, need, expected=", ".join(need))
    if problems:
        raise CohortError(problems)
    d = d.replace({"": pd.NA, "NA": pd.NA})
    z = z.replace({"": pd.NA, "NA": pd.NA})
    return _InspireTables(patient_file=pfile, size_file=sfile, patients=d, sizes=z)


def _inspire_values(tables: _InspireTables) -> _InspireValues:
    """The numbers of both tables, checked: statuses 0/1, unique ids, known cohorts, sizes of
    known patients at weeks > 0 (all problems in one :class:`CohortError`)."""
    d, z = tables.patients, tables.sizes
    pname, sname = tables.patient_file.name, tables.size_file.name
    problems: list[Problem] = []
    num: dict[str, pd.Series] = {}
    for c in _INSPIRE_NUMERIC:
        required = c in _INSPIRE_REQUIRED
        expected = "a number" + ("" if required else " or empty")
        num[c], found = _numbers(d[c], pname, required=required, expected=expected)
        problems += found
    for c in ("os_status", "pfs_status"):
        problems += _row_problems(
            pname,
            d[c],
            num[c].notna() & ~num[c].isin([0, 1]),
            message="invalid status {value!r}",
            expected="0 (censored) or 1 (event)",
        )
    problems += _patient_id_problems(pname, d["id"], expected="a unique id")
    problems += _row_problems(
        pname,
        d["cohort"],
        ~d["cohort"].isin(list(INSPIRE_COHORTS)),
        message="unknown cohort {value!r}",
        expected=", ".join(INSPIRE_COHORTS),
    )
    weeks, found = _numbers(z["time"], sname, required=True, expected="a number")
    problems += found
    change, found = _numbers(z["size_change"], sname, required=False, expected="a number or empty")
    problems += found
    problems += _row_problems(
        sname,
        z["id"],
        ~z["id"].isin(set(d["id"].dropna())),
        message="patient {value!r} is not in pembrolizumab.csv",
        expected="ids of pembrolizumab.csv",
    )
    problems += _row_problems(
        sname,
        z["time"],
        weeks.notna() & (weeks <= 0),
        message="{value} weeks",
        expected="weeks on treatment > 0",
    )
    if problems:
        raise CohortError(problems)
    return _InspireValues(patient=num, weeks=weeks, size_change=change)


def _inspire_patients(
    tables: _InspireTables, values: _InspireValues, ref: pd.Timestamp
) -> pd.DataFrame:
    """The ``patients`` table of :func:`read_inspire` (sorted by ``patient_id``)."""
    d, num = tables.patients, values.patient
    group = d["change_ctdna_group"].astype("string")
    status = tables.sizes.drop_duplicates("id").set_index("id")["ctdna_status"]
    patients = (
        pd.DataFrame(
            {
                "patient_id": d["id"].astype(str),
                "treatment_start": ref,
                "tumor_type": d["cohort"].map(INSPIRE_COHORTS),
                "treatment": "pembrolizumab",
                "cohort": d["cohort"],
                "age": num["age"].astype(float),
                "sex": d["sex"].astype("string"),
                "tumor_size_baseline": num["l_size"].astype(float),
                "pdl1_pct": num["pdl1"].astype(float),
                "log_tmb": num["tmb"].astype(float),
                "ctdna_baseline": num["baseline_ctdna"].astype(float),
                "ctdna_change_group": group,
                "ctdna_increase": group.map(_CTDNA_INCREASE).astype("Int64"),
                "ctdna_status_on_treatment": d["id"].map(status).astype("string"),
                "best_overall_response_group": d["orr"].astype("string"),
                "best_overall_clinical_benefit": d["cbr"].astype("string"),
                "os_months": num["os_time"].astype(float),
                "os_event": num["os_status"].astype("Int64"),
                "pfs_months": num["pfs_time"].astype(float),
                "pfs_event": num["pfs_status"].astype("Int64"),
            }
        )
        .sort_values("patient_id", kind="mergesort")
        .reset_index(drop=True)
    )
    other = group.notna() & group.map(_CTDNA_INCREASE).isna()
    if other.any():
        raise CohortError(
            _row_problems(
                tables.patient_file.name,
                group,
                other,
                message="unknown group {value!r}",
                expected="Increase from baseline, Decrease from baseline or empty",
            )
        )
    return patients


def _inspire_baseline_scans(patients: pd.DataFrame, ref: pd.Timestamp) -> pd.DataFrame:
    """The synthesized baseline scan: ``sld_mm`` = ``l_size`` on the treatment start."""
    return pd.DataFrame(
        {
            "patient_id": patients["patient_id"],
            "assessment_date": ref,
            "treatment_day": 0,
            "sld_mm": patients["tumor_size_baseline"],
            "size_change_pct": 0.0,
            "not_evaluable": 0,
        }
    )


def _inspire_on_treatment_scans(
    tables: _InspireTables, values: _InspireValues, ref: pd.Timestamp
) -> pd.DataFrame:
    """One scan per ``ctDNA.csv`` row at start + round(7 x weeks) days: ``sld_mm`` = ``l_size``
    x (1 + ``size_change`` / 100), rounded to 0.01 mm; one measurement per patient and day."""
    d, z, change = tables.patients, tables.sizes, values.size_change
    size = d.set_index("id")["l_size"].pipe(lambda s: pd.to_numeric(s)).astype(float)
    days = np.round(values.weeks.to_numpy(float) * 7.0).astype(int)
    on = pd.DataFrame(
        {
            "patient_id": z["id"].astype(str),
            "assessment_date": ref + pd.to_timedelta(days, unit="D"),
            "treatment_day": days,
            "sld_mm": (z["id"].map(size) * (1.0 + change / 100.0)).round(2),
            "size_change_pct": change.astype(float),
            "not_evaluable": change.isna().astype(int),
        }
    )
    same_day = on.duplicated(["patient_id", "treatment_day"], keep=False)
    if same_day.any():
        i = int(np.flatnonzero(same_day.to_numpy())[0])
        raise CohortError(
            [
                Problem(
                    tables.size_file.name,
                    i + 2,
                    "time",
                    f"two measurements on one day for patient {on['patient_id'].iloc[i]!r}",
                    "one measurement per patient and week",
                )
            ]
        )
    return on


def _inspire_report(
    tables: _InspireTables, *, n_baseline: int, n_on_treatment: int, values: _InspireValues
) -> pd.DataFrame:
    """What :func:`read_inspire` derived, one row per rule."""
    pname, sname = tables.patient_file.name, tables.size_file.name
    report = ImportReport()
    for file, column, action, n_rows, detail in (
        (
            f"{pname},{sname}",
            "assessments",
            "baseline_scan_synthesized",
            n_baseline,
            "baseline sum = l_size (target-lesion size at baseline) on the treatment start",
        ),
        (
            sname,
            "sld_mm",
            "sum_from_percent_change",
            n_on_treatment,
            "sld_mm = l_size x (1 + size_change / 100), rounded to 0.01 mm; day = round(7 x weeks)",
        ),
        (
            sname,
            "size_change",
            "not_evaluable",
            int(values.size_change.isna().sum()),
            "empty size_change -> sld_mm NaN, not_evaluable 1",
        ),
        (
            pname,
            "change_ctdna_group",
            "missing_value",
            int(tables.patients["change_ctdna_group"].isna().sum()),
            "ctDNA change not measured: ctdna_increase empty",
        ),
    ):
        report.add(file, column, action, n_rows=n_rows, detail=detail)
    return report.frame()


#: cohort names accepted by :func:`write_external_cohort`
EXTERNAL_COHORTS = (
    "laleh2022",
    "laleh2022-study1",
    "laleh2022-study2",
    "laleh2022-study3",
    "laleh2022-study4",
    "laleh2022-study5",
    "oak",
    "poplar",
    "pharmaverse",
    "pharmaverse-recist",
    "tumgr",
    "inspire",
)


def external_data_dir() -> Path:
    """The external-data folder: ``$HPD_EXTERNAL_DATA``, else ``../shared/data/external`` relative
    to the repository root when it exists, else the copies bundled in the package
    (:func:`hpd_analysis.datasets.data_dir`: every set but OAK/POPLAR, see its README)."""
    import os

    env = os.environ.get("HPD_EXTERNAL_DATA")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"
    if shared.is_dir():
        return shared
    from .datasets import data_dir

    return data_dir()


def _one_of(folder: Path, stem: str) -> Path:
    """``folder/<stem>.csv`` or ``.csv.gz``, whichever exists (the first when none does)."""
    gz = folder / f"{stem}.csv.gz"
    return gz if gz.is_file() else folder / f"{stem}.csv"


def write_external_cohort(
    name: str, out_dir: Path | str, *, external_dir: Path | str | None = None
) -> Path:
    """Write the external data set ``name`` (one of :data:`EXTERNAL_COHORTS`) as a cohort folder.

    ``laleh2022[-studyN]`` -> ``patients.csv`` + ``assessments.csv``; ``oak`` / ``poplar`` ->
    ``patients.csv`` only (times, no measurements); ``pharmaverse`` -> the SDTM import of
    ``pharmaversesdtm`` (full onco set, accepted reader) and ``pharmaverse-recist`` -> the RECIST
    set with the investigator's reads and the pharmaverseadam ADSL/ADTTE. An
    ``import_report.csv`` lists what was changed. Deterministic; returns ``out_dir``.
    """
    base = Path(external_dir) if external_dir is not None else external_data_dir()
    out = Path(out_dir)
    if name not in EXTERNAL_COHORTS:
        raise HPDError(
            f"unknown external cohort {name!r} (expected one of {', '.join(EXTERNAL_COHORTS)})"
        )
    if not base.is_dir():
        raise HPDError(f"{base}: external data folder not found (set HPD_EXTERNAL_DATA)")
    if name.startswith("pharmaverse"):
        if name == "pharmaverse-recist":
            return import_sdtm_dir(
                base / "pharmaversesdtm",
                out,
                prefer="recist",
                reader="investigator",
                adam_dir=base / "pharmaverseadam",
            )
        return import_sdtm_dir(base / "pharmaversesdtm", out)
    out.mkdir(parents=True, exist_ok=True)
    if name == "tumgr":
        tables = read_tumgr_sample(_one_of(base / "tumgr", "sampleData"))
    elif name == "inspire":
        tables = read_inspire(base / "inspire")
    elif name.startswith("laleh2022"):
        src = base / "laleh2022"
        if "-" in name:
            src = src / f"{name.split('-')[1]}.csv.gz"
        tables = read_laleh2022(src)
    else:
        write_cohort_csv(_read_oak_poplar_set(base, name), out / "patients.csv")
        return out
    for key, fname in (
        ("patients", "patients.csv"),
        ("assessments", "assessments.csv"),
        ("report", "import_report.csv"),
    ):
        write_cohort_csv(tables[key], out / fname)
    return out


def _read_oak_poplar_set(base: Path, name: str) -> pd.DataFrame:
    """``oak`` / ``poplar`` of the external data folder (not bundled: the error says where to
    get them)."""
    src = base / "oak_poplar_gandara2018"
    if not src.is_dir():
        raise HPDError(
            f"{src}: OAK/POPLAR data not found. They are not bundled (journal "
            "supplement without a redistribution licence): download Supplementary "
            "Table 8 of Gandara et al., Nat Med 2018 (doi:10.1038/s41591-018-0134-3), "
            "save its sheets as oak_clinical.csv.gz / poplar_clinical.csv.gz in a "
            "folder oak_poplar_gandara2018/ and set HPD_EXTERNAL_DATA to its parent"
        )
    return read_oak_poplar(src / f"{name}_clinical.csv.gz")
