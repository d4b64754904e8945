"""Read a cohort (folder, files or DataFrames), validate it and return the canonical :class:`Cohort`.

Input shapes (``/work/shared/spec/cohort-format.md``):

- a folder with ``patients.*`` plus ``lesions.*`` (long lesion table) or ``assessments.*`` (per-scan
  sums), or with ``patients.*`` alone (survival / risk-factor analysis only);
- the three-scan wide format: ``scans.*`` alone or beside ``patients.*``, or that file given
  directly as ``path``;
- explicit paths or DataFrames per role (``patients=``, ``lesions=``, ``assessments=``, ``scans=``);
- an Excel workbook given as ``path`` whose sheets are named after the roles.

Files may be ``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet`` or ``.xlsx``. Columns are matched
case-insensitively (spaces, dots and hyphens read as ``_``) and documented aliases are renamed
(SDTM-like ``USUBJID``, ``RFXSTDTC``, ``DTHDTC`` ...; Ferté's ``RECIST_BEFORE`` ...). Every fix is a
row of ``cohort.load_report``; every problem is a :class:`~hpd_analysis.errors.Problem` with the
file, the spreadsheet row (header = row 1), the column, what is wrong and what was expected, and all
problems are collected before :class:`~hpd_analysis.errors.CohortError` is raised.

Identifiers are read as written (``NA`` is an id; only an empty cell is missing), stripped and
NFC-normalized. See ``docs/bad-input.md``.

A load goes through one module per job, in this order:

- :mod:`~hpd_analysis.discover`: which file (or sheet) holds which role;
- :mod:`~hpd_analysis.readers`: each file into a raw frame indexed by spreadsheet row;
- :mod:`~hpd_analysis.columns`: the column contract, aliases renamed, required columns checked;
- :mod:`~hpd_analysis.canonical`: each role's canonical table, every cell parsed by the
  :mod:`~hpd_analysis.validate` parsers (covariates by :mod:`~hpd_analysis.covariates`);
- here: the checks across tables (every row belongs to a listed patient);
- :mod:`~hpd_analysis.plausibility`: the impossible (problems) and the implausible (warnings).

The names other modules use from here (``read_table``, ``canonical_name``, ``id_key`` ...) stay
importable from ``hpd_analysis.load``.

Speed (1 M patients, ~12.7 M lesion rows from Parquet: ~7-8 s, ~2.8 GB peak on 2 cores): contract
text columns are read as categoricals (Parquet dictionaries, CSV ``dtype="category"``) and every
text check runs on the distinct values only (:class:`~hpd_analysis.validate.Raw`); typed Parquet
columns skip text parsing (dates checked with integer arithmetic on the nanoseconds); fixed-value
columns are built from codes; row masks are expanded only when a check fails somewhere; the
canonical tables are assembled once without per-column copies; sorting and duplicate detection
use one integer key and are skipped when the rows are already in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .canonical import (
    RawTable,
    assessments_table,
    lesions_table,
    patients_table,
    scans_table,
)
from .cohort import Cohort
from .columns import (
    ALIASES,
    ASSESSMENT_COLUMNS,
    COVARIATE_ALIASES,
    EXPECTED_FILES,
    LESION_COLUMNS,
    LESION_STATUSES,
    LESION_TYPES,
    NOT_EVALUABLE_CODES,
    PATIENT_COLUMNS,
    PATIENT_DATES,
    PATIENT_ECOG,
    PATIENT_TIMES,
    ROLES,
    SCAN_COLUMNS,
    SCAN_DATES,
    SCAN_SLD,
    SUPPORTED_SUFFIXES,
    TOO_SMALL_CODES,
    canonical_name,
    rename_columns,
    table_stem,
    table_suffix,
)
from .covariates import MAX_COVARIATE_MAGNITUDE
from .discover import discover_tables
from .errors import CohortError, HPDError, ParameterError, Problem, first_line
from .params import Parameters
from .plausibility import check_plausibility, id_key, near_id_hint
from .readers import check_header, file_sha256, read_raw_table, read_table
from .validate import Collector, show

__all__ = [
    "ROLES",
    "SUPPORTED_SUFFIXES",
    "ALIASES",
    "COVARIATE_ALIASES",
    # the column contract (:mod:`hpd_analysis.columns`), importable from here as before
    "PATIENT_DATES",
    "PATIENT_ECOG",
    "PATIENT_TIMES",
    "PATIENT_COLUMNS",
    "LESION_COLUMNS",
    "ASSESSMENT_COLUMNS",
    "SCAN_SLD",
    "SCAN_DATES",
    "SCAN_COLUMNS",
    "LESION_TYPES",
    "LESION_STATUSES",
    "TOO_SMALL_CODES",
    "NOT_EVALUABLE_CODES",
    "MAX_COVARIATE_MAGNITUDE",
    "load_cohort",
    "validate_cohort",
    "check_cohort",
    "check_output",
    "input_paths",
    "table_output_path",
    "read_table",
    "read_raw_table",
    "file_sha256",
    "canonical_name",
    "table_stem",
    "table_suffix",
    "id_key",
]


# --------------------------------------------------------------------------------------------
# checks across tables


def _unknown_patients(
    table: pd.DataFrame,
    label: str,
    ids: pd.Series,
    *,
    col: Collector,
    what: str,
    R: RawTable | None = None,
) -> None:
    """Rows of ``table`` whose patient is not in the patients table (``ids``): problems, with a
    hint when the id matches a listed one but for case or leading zeros."""
    found = _unknown_rows(table, ids, R)
    if found is None:
        return
    unknown, values = found
    hint = near_id_hint(ids)
    col.add_rows(
        label,
        "patient_id",
        unknown,
        message=lambda v: f"patient {show(v)} is not in the patients table{hint(v)}",
        expected=f"every {what} to belong to a patient listed in patients",
        values=values,
    )


def _unknown_rows(
    table: pd.DataFrame, ids: pd.Series, R: RawTable | None
) -> tuple[pd.Series, pd.Series] | None:
    """(mask of the rows whose patient is not in ``ids``, their ids), or None when every
    patient is listed. With the reader's raw columns, decided on the distinct ids only and
    expanded through the reader's codes (rows of the file)."""
    r = R["patient_id"] if R is not None else None
    if r is None or r.canon_uniq is None:
        return table["patient_id"].notna() & ~table["patient_id"].isin(ids), table["patient_id"]
    u_ids = pd.Series(r.canon_uniq, dtype=object)
    known = ids.to_numpy(object)
    if len(known) == len(u_ids) and bool((u_ids.to_numpy(object) == known).all()):
        return None  # the same ids in the same order (common): no hashing
    u_unknown = (u_ids.notna() & ~u_ids.isin(ids)).to_numpy(bool)
    if not u_unknown.any():
        return None
    return r.rows(u_unknown), pd.Series(r.values(r.canon_uniq, None), index=r.index)


def _as_frame(
    obj: object,
    role: str,
    col: Collector,
    *,
    checksums: dict[str, str],
    sources: dict[str, str],
    sheet_role: str | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """Raw frame (index = spreadsheet rows) and label for a path or DataFrame input."""
    if isinstance(obj, pd.DataFrame):
        label = f"<{role} DataFrame>"
        df = obj.copy(deep=False)  # new labels below; the caller's columns are never written
        df.columns = [str(c).strip() for c in df.columns]
        df.index = pd.RangeIndex(2, len(df) + 2)
        sources[role] = label
        if not check_header(list(df.columns), col, label):
            return None, label
        return df, label
    path = Path(obj)  # type: ignore[arg-type]
    df, label = read_raw_table(path, sheet_role or role, col, label=str(path))
    if df is not None:
        sources[role] = str(path)
        checksums[str(path)] = file_sha256(path)
    return df, label


#: role -> the builder of its canonical table (:mod:`hpd_analysis.canonical`)
_CANONICAL_TABLE: dict[str, Callable[[RawTable], pd.DataFrame | None]] = {
    "patients": patients_table,
    "lesions": lesions_table,
    "assessments": assessments_table,
    "scans": scans_table,
}


@dataclass
class _Loaded:
    """The canonical tables of a load as they are read, with what the checks across tables and
    the :class:`Cohort` need: each role's file label, raw columns, sources and checksums."""

    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    raws: dict[str, RawTable] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)


def load_cohort(
    path: str | Path | dict[str, object] | None = None,
    *,
    patients: str | Path | pd.DataFrame | None = None,
    lesions: str | Path | pd.DataFrame | None = None,
    assessments: str | Path | pd.DataFrame | None = None,
    scans: str | Path | pd.DataFrame | None = None,
    params: Parameters | None = None,
) -> Cohort:
    """Read, validate and canonicalise a cohort.

    ``path`` is a cohort folder, a single table file (``scans.*`` wide format or a patients
    table), an Excel workbook with role-named sheets, or a dict of role -> DataFrame or path
    (``{"patients": df, "lesions": df}``); keyword arguments give (or override) a role's file
    path or DataFrame. ``params.too_small_to_measure_mm`` (mm) is the value of the
    RECIST code "TOO SMALL TO MEASURE". Raises :class:`CohortError` listing every problem found.

    Returns a :class:`Cohort` whose tables follow ``docs/architecture.md`` ("Canonical
    tables"): ``patient_id`` as Python ``str`` (object dtype), dates ``datetime64[ns]``, lesion
    diameters in mm (float), ``lesion_type``/``status`` categorical, lesions sorted by patient,
    date and lesion, and a load report of every fix.
    """
    given = {"patients": patients, "lesions": lesions, "assessments": assessments, "scans": scans}
    if isinstance(path, dict):  # {"patients": frame_or_path, ...}: the keyword form
        bad = sorted(set(path) - set(given))
        if bad:
            raise CohortError(
                [
                    Problem(
                        "<cohort>",
                        None,
                        None,
                        f"unknown table(s) {bad}",
                        "patients, lesions, assessments or scans",
                    )
                ]
            )
        merged = {**path, **{k: v for k, v in given.items() if v is not None}}
        return load_cohort(None, params=params, **merged)
    params = params or Parameters()
    col = Collector()
    inputs = _inputs(path, given, col)
    if col.problems:
        raise CohortError(col.ordered())
    loaded = _read_tables(inputs, col, params)
    pts = loaded.tables.get("patients")
    scans_df = loaded.tables.get("scans")
    if "patients" not in inputs and scans_df is not None:
        pts = _patients_from_scans(scans_df, loaded.labels["scans"], col)
    if pts is not None:
        if "patients" in inputs:
            _check_across_tables(pts, loaded, col)
        check_plausibility(pts, loaded.tables, loaded.labels, col=col, params=params)
    from .biomarkers import load_biomarkers  # optional biomarkers.* of a cohort folder

    biomarkers = load_biomarkers(path, pts, col, sources=loaded.sources, checksums=loaded.checksums)
    if col.problems:
        raise CohortError(col.ordered())
    assert pts is not None

    loaded.raws.clear()
    from .classification import death_cause_notes  # how death causes are read (issue 13)

    for note in death_cause_notes(pts):
        col.note(loaded.labels.get("patients", "patients"), **note)
    return Cohort(
        patients=_renumber(pts),
        lesions=_renumber(loaded.tables.get("lesions")),
        assessments=_renumber(loaded.tables.get("assessments")),
        scans_wide=_renumber(scans_df),
        load_report=col.report_frame(),
        sources=loaded.sources,
        checksums=loaded.checksums,
        biomarkers=biomarkers,
    )


def _inputs(
    path: str | Path | None, given: dict[str, object], col: Collector
) -> dict[str, tuple[object, str | None]]:
    """Role -> (path or DataFrame, sheet role) of the tables to read: those found at ``path``,
    then those given by role (which win). A cohort without tables, without a patients (or
    scans) table or with both lesions and assessments is a problem."""
    inputs: dict[str, tuple[object, str | None]] = {}
    if path is not None:
        for role, (p, sheet_role) in discover_tables(Path(path), col).items():
            inputs[role] = (p, sheet_role)
    for role, obj in given.items():
        if obj is not None:
            inputs[role] = (obj, role)
    where = str(path) if path is not None else "<cohort>"
    if not inputs and not col.problems:
        col.add(where, None, None, message="no cohort tables given", expected=EXPECTED_FILES)
    if inputs and "patients" not in inputs and "scans" not in inputs:
        col.add(
            where,
            None,
            None,
            message="no patients table",
            expected="patients.* beside "
            + " and ".join(r + ".*" for r in inputs)
            + " (or a scans.* wide table)",
        )
    if "lesions" in inputs and "assessments" in inputs:
        col.add(
            where,
            None,
            None,
            message="both a lesions and an assessments table were given",
            expected="lesions.* (one row per lesion per scan) or assessments.* (per-scan sums), not both",
        )
    return inputs


def _read_tables(
    inputs: dict[str, tuple[object, str | None]], col: Collector, params: Parameters
) -> _Loaded:
    """Each role's canonical table (None when unreadable or invalid), in :data:`ROLES` order."""
    loaded = _Loaded()
    for role in ROLES:
        if role not in inputs:
            continue
        obj, sheet_role = inputs[role]
        raw, label = _as_frame(
            obj,
            role,
            col,
            checksums=loaded.checksums,
            sources=loaded.sources,
            sheet_role=sheet_role,
        )
        loaded.labels[role] = label
        if raw is None:
            loaded.tables[role] = None
            continue
        table = RawTable(rename_columns(raw, role, col, label=label), label, col, params=params)
        loaded.raws[role] = table
        loaded.tables[role] = _CANONICAL_TABLE[role](table)
        del raw, table
    return loaded


def _patients_from_scans(scans_df: pd.DataFrame, label: str, col: Collector) -> pd.DataFrame:
    """The patients of a wide scans table given without a patients table (noted): their ids
    and treatment starts (NaT when the scans table has none)."""
    pts = pd.DataFrame({"patient_id": scans_df["patient_id"].to_numpy()})
    start = scans_df["treatment_start"] if "treatment_start" in scans_df.columns else None
    pts["treatment_start"] = (
        start.to_numpy()
        if start is not None
        else pd.Series(pd.NaT, index=pts.index, dtype="datetime64[ns]")
    )
    pts["treatment_start"] = pts["treatment_start"].astype("datetime64[ns]")
    col.note(
        label,
        "patient_id",
        "synthesized_patients",
        n_rows=len(pts),
        detail="no patients table: patients taken from the scans table"
        + ("" if start is not None else "; treatment_start unknown (NaT)"),
    )
    return pts


def _check_across_tables(pts: pd.DataFrame, loaded: _Loaded, col: Collector) -> None:
    """Every row of the other tables belongs to a listed patient, and a wide scans table's
    treatment_start agrees with the patients table."""
    ids = pts["patient_id"]
    for role, what in (("lesions", "lesion row"), ("assessments", "scan"), ("scans", "row")):
        t = loaded.tables.get(role)
        if t is not None:
            _unknown_patients(
                t, loaded.labels[role], ids, col=col, what=what, R=loaded.raws.get(role)
            )
    scans_df = loaded.tables.get("scans")
    if scans_df is None or "treatment_start" not in scans_df:
        return
    m = scans_df[["patient_id", "treatment_start"]].merge(
        pts[["patient_id", "treatment_start"]].drop_duplicates("patient_id"),
        on="patient_id",
        how="left",
        suffixes=("", "_p"),
    )
    m.index = scans_df.index
    diff = (
        m["treatment_start"].notna()
        & m["treatment_start_p"].notna()
        & (m["treatment_start"] != m["treatment_start_p"])
    )
    col.add_rows(
        loaded.labels["scans"],
        "treatment_start",
        diff,
        message="treatment_start differs from the patients table",
        expected="the same treatment_start as in patients",
    )


def _renumber(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """``df`` (built by the loader, not shared) indexed 0..n-1 in place, without a copy."""
    if df is not None:
        df.index = pd.RangeIndex(len(df))
    return df


def check_cohort(
    path: str | Path, params: Parameters | None = None
) -> tuple[Cohort | None, list[Problem]]:
    """Load the cohort at ``path``: ``(cohort, [])`` when it is valid, else ``(None, problems)``.

    Never raises for a bad input (what ``hpd validate`` runs); the cohort's load report holds
    the fixes and the plausibility warnings (action ``warning``).
    """
    try:
        return load_cohort(path, params=params), []
    except CohortError as exc:
        return None, exc.problems
    except HPDError as exc:
        return None, [Problem(str(path), None, None, first_line(exc))]
    except Exception as exc:  # noqa: BLE001 - validate reports, it never crashes with a traceback
        return None, [
            Problem(
                str(path),
                None,
                None,
                f"could not be validated: {type(exc).__name__}: {first_line(exc)}",
                "please report this as a bug with the file",
            )
        ]


def validate_cohort(path: str | Path, params: Parameters | None = None) -> list[Problem]:
    """Every problem of the cohort at ``path`` (empty list when it loads cleanly)."""
    return check_cohort(path, params)[1]


# --------------------------------------------------------------------------------------------
# outputs never overwrite inputs


def input_paths(path: str | Path | None) -> list[Path]:
    """The resolved paths a command reads for ``path``: a folder; a file, and its folder when
    it is a role-named table (``patients.csv`` is read with the tables beside it). Nothing is
    written over or into them."""
    if path is None:
        return []
    p = Path(path).expanduser()
    if not p.exists():
        return []
    p = p.resolve()
    if p.is_dir():
        return [p]
    # a role-named table (patients.csv ...) is read with the tables beside it: its folder too
    return [p, p.parent] if table_stem(p) in ROLES else [p]


def table_output_path(out: str | Path) -> Path:
    """``out`` as a path once checked to name a table file (``.csv``, ``.csv.gz`` or
    ``.parquet``, else :class:`ParameterError`); its folder is created."""
    out = Path(out)
    if not out.name.lower().endswith((".csv", ".csv.gz", ".parquet")):
        raise ParameterError(f"--out {out}: expected a .csv, .csv.gz or .parquet file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def check_output(
    out: str | Path, inputs: list[Path], *, folder: bool, force: bool = False, option: str = "--out"
) -> Path:
    """Check an output path before anything is written; return it.

    Raises :class:`HPDError` (one line) when ``out`` is an input file, or is or lies inside an
    input folder (no command writes over or into its inputs); when a file is expected and
    ``out`` is a folder (or the reverse); when ``out`` lies under an existing file; and, for a
    ``folder`` output, when the folder exists with files in it and ``force`` is false (an
    existing cohort is replaced only on purpose).
    """
    o = Path(out).expanduser()
    r = o.resolve()
    for i in inputs:
        if r == i or i.is_dir() and i in r.parents:
            where = "is" if r == i else "is inside"
            raise HPDError(
                f"{option} {out}: {where} the input {i} (expected an output path "
                "outside the inputs: no command writes over or into its inputs)"
            )
    for parent in r.parents:
        if parent.exists() and not parent.is_dir():
            raise HPDError(
                f"{option} {out}: {parent} is a file, not a folder (expected a path in a folder)"
            )
    if folder:
        if o.exists() and not o.is_dir():
            raise HPDError(
                f"{option} {out}: is an existing file (expected a folder to write the cohort into)"
            )
        if o.is_dir() and any(o.iterdir()) and not force:
            raise HPDError(
                f"{option} {out}: the folder exists and is not empty (expected a new "
                "or empty folder; pass --force to replace the files in it)"
            )
    elif o.is_dir():
        raise HPDError(f"{option} {out}: is a folder (expected a file name)")
    return o
