"""CDISC SDTM (DM, TU, TR, RS) and ADaM (ADSL, ADTTE) import into the cohort contract.

``import_sdtm(sdtm_dir)`` returns contract-format ``patients`` and ``lesions`` tables (plus the RS
overall responses and an import report); ``import_sdtm_dir(sdtm_dir, out_dir)`` writes them as a
cohort folder (what ``hpd import-sdtm SDTM_DIR --out COHORT_DIR`` runs).

Mapping (every choice is listed in ``docs/real-data.md`` and counted in the import report)
-------------------------------------------------------------------------------------------
DM   ``USUBJID`` -> ``patient_id``; ``RFXSTDTC`` (first exposure; ``RFSTDTC`` only when the
     variable RFXSTDTC is absent) -> ``treatment_start``; ``RFXENDTC`` -> ``treatment_end``;
     ``DTHDTC`` -> ``death_date``; ``AGE``, ``SEX``, ``RACE``, ``ETHNIC``, ``COUNTRY``, ``ARM``
     -> ``arm``, ``ACTARM`` -> ``actual_arm``. Subjects without a treatment start (screen
     failures, never dosed) are left out and counted in the report.
     ``last_contact`` (last date known alive) = the latest of ``RFPENDTC``, ``RFENDTC``,
     ``RFXENDTC``, the subject's last TR/RS assessment and ADSL ``LSTALVDT`` (when an ADSL is
     found), but not after ``death_date`` (capped, counted in the report).
TU   lesion identity ``TULNKID`` (matched to ``TRLNKID`` of the same reader), role ``TUSTRESC``
     (else ``TUORRES``, else TR ``TRGRPID``): TARGET/NON-TARGET/NEW -> target/non_target/new;
     ``TULOC`` (+ ``TULOCDTL``) -> ``organ``; ``lymph_node`` = the location names a lymph node
     ("LYMPH" or "NODE" in TULOC/TULOCDTL).
TR   one row per lesion and scan (patient, date). Target lesions: ``diameter_mm`` is ``LPERP``
     (short axis) for lymph nodes and ``LDIAM`` otherwise (``diameter_rule="recist"``, default;
     ``DIAMETER`` when the preferred test is absent), or the sponsor's ``DIAMETER`` test first
     (``diameter_rule="diameter"``). ``TRSTRESN`` (else ``TRSTRESC``/``TRORRES``) converted to mm
     with ``TRSTRESU`` (mm, cm, m). Non-target/new lesions: ``TUMSTATE`` -> ``status``
     (PRESENT -> present, ABSENT -> absent, UNEQUIVOCAL [PROGRESSION] -> unequivocal_progression,
     EQUIVOCAL -> present, not progression under RECIST 1.1). New lesions recorded as EQUIVOCAL
     are not new lesions under RECIST 1.1 until confirmed: left out unless
     ``equivocal_new_lesions="include"``. ``TRSTAT = NOT DONE`` or text codes NOT EVALUABLE/NE
     give ``diameter_mm`` NaN with ``not_evaluable`` True; TOO SMALL TO MEASURE gives 5 mm.
     A target lesion of the patient that has no TR row at a scan where other lesions were read is
     added as an explicit not-evaluable row (so the scan's sum is not silently partial).
     Summary rows without ``TRLNKID`` (e.g. ``SUMDIAM``) are not lesions and are skipped.
Readers  SDTM holds one record per evaluator. ``reader="accepted"`` (default): per subject and
     visit (``VISITNUM``, else date), the rows flagged ``--ACPTFL = "Y"``; when no row of that
     visit is flagged, the investigator's rows (``--EVAL = INVESTIGATOR`` or empty); else the
     single evaluator; else the first evaluator in alphabetical order (counted in the report).
     ``reader="investigator"`` keeps investigator rows only (what the admiralonco ADTR template
     uses); any other string keeps the rows whose ``--EVALID`` or ``--EVAL`` equals it.
RS   ``OVRLRESP`` (overall response) per scan for the same reader -> ``responses`` table;
     ``progression_date`` = date of the first overall response PD (an ADTTE PFS progression
     date that differs is counted in the report, not used).
ADTTE ``PARAMCD`` OS / PFS -> ``os_months``/``os_event``, ``pfs_months``/``pfs_event``;
     ``event = 1 if CNSR == 0`` (CNSR = 1, or any positive censoring code, is censored);
     ``AVAL`` in ``AVALU`` units, or -- without AVALU -- in days when it equals ADT - STARTDT
     (+1) as admiral derives it; months = days / 30.4375.
Dates  ISO 8601; partial dates are imputed to the first day (``2014-02`` -> 2014-02-01,
     ``2014`` -> 2014-01-01), as admiral's ``derive_vars_dt(date_imputation = "first")``;
     counted in the report.

Domain files are found in ``sdtm_dir`` (and ``adam_dir``) by name: ``<domain>.<ext>`` or
``<domain>_<variant>.<ext>`` with ext ``csv``, ``csv.gz``, ``xpt``, ``sas7bdat``, ``parquet``.
When several variants exist (``tu_onco`` and ``tu_onco_recist``) the one whose name ends with
``_<prefer>`` wins when ``prefer`` is given; otherwise the exact name (``tu``), else the shortest
name, ties alphabetically; same name in several formats: csv, csv.gz, parquet, xpt, sas7bdat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np
import pandas as pd

from .cohort import LOAD_REPORT_COLUMNS
from .columns import LESION_FILE_COLUMNS
from .errors import CohortError, HPDError, Problem
from .load import PATIENT_DATES
from .params import DAYS_PER_MONTH

__all__ = [
    "find_domain",
    "read_domain",
    "import_sdtm",
    "import_sdtm_dir",
    "select_reader",
    "ImportReport",
    "write_cohort_csv",
    "dropped_rows_summary",
    "parse_iso_dates",
    "PATIENT_COLUMNS",
    "LESION_COLUMNS",
    "RESPONSE_COLUMNS",
]

#: file extensions read, in the order used to break ties between formats of the same name
EXTENSIONS: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".xpt", ".sas7bdat")

PATIENT_COLUMNS = [
    "patient_id",
    *PATIENT_DATES,
    "os_months",
    "os_event",
    "pfs_months",
    "pfs_event",
    "age",
    "sex",
    "race",
    "ethnic",
    "country",
    "arm",
    "actual_arm",
    "study_id",
]
LESION_COLUMNS = [*LESION_FILE_COLUMNS, "visit"]
RESPONSE_COLUMNS = [
    "patient_id",
    "assessment_date",
    "visit",
    "overall_response",
    "target_response",
    "non_target_response",
    "new_lesion_progression",
]

_ROLE = {
    "TARGET": "target",
    "NON-TARGET": "non_target",
    "NON TARGET": "non_target",
    "NONTARGET": "non_target",
    "NEW": "new",
}
_STATUS = {
    "PRESENT": "present",
    "ABSENT": "absent",
    "UNEQUIVOCAL": "unequivocal_progression",
    "UNEQUIVOCAL PROGRESSION": "unequivocal_progression",
    "EQUIVOCAL": "present",
    "EQUIVOCAL PROGRESSION": "present",
}
_TO_MM = {"MM": 1.0, "CM": 10.0, "M": 1000.0}
_NOT_EVALUABLE_TEXT = {"NOT EVALUABLE", "NE", "NOT ASSESSABLE", "NOT DONE", "ND", "UNKNOWN"}
_TOO_SMALL_TEXT = {"TOO SMALL TO MEASURE", "TOO SMALL", "TSTM"}
_DIAMETER_TESTS = ("LDIAM", "LPERP", "DIAMETER")


# --------------------------------------------------------------------------- file discovery


def _stem_and_ext(path: Path) -> tuple[str, str] | None:
    name = path.name.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return name[: -len(ext)], ext
    return None


@overload
def find_domain(
    directories: Path | str | list[Path | str],
    domain: str,
    *,
    prefer: str | Mapping[str, str] | None = None,
    required: Literal[True] = True,
) -> Path: ...


@overload
def find_domain(
    directories: Path | str | list[Path | str],
    domain: str,
    *,
    prefer: str | Mapping[str, str] | None = None,
    required: bool,
) -> Path | None: ...


def find_domain(
    directories: Path | str | list[Path | str],
    domain: str,
    *,
    prefer: str | Mapping[str, str] | None = None,
    required: bool = True,
) -> Path | None:
    """The file holding ``domain`` (e.g. ``"tu"``) in the first directory that has one.

    Candidates are ``<domain>.<ext>`` and ``<domain>_<variant>.<ext>``. ``prefer`` picks a variant:
    a suffix (``"recist"`` picks ``tu_onco_recist``) or a mapping domain -> exact file stem
    (``{"tu": "tu_onco_recist"}``). Without a preference: the exact name, else the shortest
    name, ties alphabetically (so ``tu_onco`` before ``tu_onco_recist``); the same name in several
    formats is taken in the order of :data:`EXTENSIONS`.
    Raises :class:`HPDError` when ``required`` and no file is found.
    """
    dirs = [directories] if isinstance(directories, (str, Path)) else list(directories)
    domain = domain.lower()
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        cands: list[tuple[str, str, Path]] = []
        for p in sorted(d.iterdir()):
            se = _stem_and_ext(p)
            if se and p.is_file() and (se[0] == domain or se[0].startswith(domain + "_")):
                cands.append((se[0], se[1], p))
        if not cands:
            continue
        if isinstance(prefer, Mapping):
            want = prefer.get(domain)
            if want is not None:
                picked = [c for c in cands if c[0] == want.lower()]
                if not picked:
                    raise HPDError(
                        f"{d}: no file named {want}.* for domain {domain.upper()} "
                        f"(found: {', '.join(sorted({c[2].name for c in cands}))})"
                    )
                cands = picked
        elif prefer:
            picked = [c for c in cands if c[0].endswith("_" + prefer.lower())]
            cands = picked or cands
        cands.sort(key=lambda c: (c[0] != domain, len(c[0]), c[0], EXTENSIONS.index(c[1])))
        return cands[0][2]
    if required:
        where = ", ".join(str(Path(d)) for d in dirs)
        raise HPDError(
            f"{where}: no {domain.upper()} domain file (expected {domain}.csv, {domain}.csv.gz, "
            f"{domain}.xpt, {domain}.sas7bdat or {domain}_<variant>.<ext>)"
        )
    return None


def read_domain(path: Path | str) -> pd.DataFrame:
    """Read one SDTM/ADaM data set (CSV[.gz], Parquet, SAS transport ``.xpt``, ``.sas7bdat``).

    Column names are upper-cased; text cells are stripped and empty text becomes NA. Numbers
    stay numbers (SAS files) or text (CSV): the importer converts each variable it uses.
    """
    path = Path(path)
    se = _stem_and_ext(path)
    ext = se[1] if se else path.suffix.lower()
    try:
        if ext in (".csv", ".csv.gz"):
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        elif ext == ".parquet":
            df = pd.read_parquet(path)
        elif ext in (".xpt", ".sas7bdat"):
            try:
                import pyreadstat

                reader = pyreadstat.read_xport if ext == ".xpt" else pyreadstat.read_sas7bdat
                df, _meta = reader(str(path))
            except ImportError:  # pragma: no cover - pyreadstat is a dev/sas extra
                df = pd.read_sas(
                    path, format="xport" if ext == ".xpt" else "sas7bdat", encoding="utf-8"
                )
        else:
            raise HPDError(
                f"{path}: unsupported file type (expected one of {', '.join(EXTENSIONS)})"
            )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise HPDError(f"{path}: cannot be read as a data set ({exc})") from exc
    df.columns = [str(c).strip().upper() for c in df.columns]
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            # the loader's id normalization: stripped, Unicode NFC
            s = df[c].astype("string").str.strip().str.normalize("NFC")
            df[c] = s.mask(s == "")
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- import report


class ImportReport:
    """What an importer imputed, converted, chose or dropped, one row per action.

    Rows have the columns of :data:`hpd_analysis.cohort.LOAD_REPORT_COLUMNS` (``file, column,
    action, n_rows, detail``); an action that touched no row is not listed. The SDTM importer
    and the readers of :mod:`hpd_analysis.external` fill one each.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, file: str, column: str | None, action: str, *, n_rows: int, detail: str) -> None:
        """Record ``action`` on ``n_rows`` rows of ``column`` in ``file`` (nothing when 0)."""
        if n_rows:
            self.rows.append(
                {
                    "file": file,
                    "column": column or "",
                    "action": action,
                    "n_rows": int(n_rows),
                    "detail": detail,
                }
            )

    def drop(
        self,
        table: pd.DataFrame,
        rows: pd.Series,
        *,
        file: str,
        column: str | None,
        action: str,
        detail: str,
    ) -> pd.DataFrame:
        """``table`` without ``rows`` (a boolean mask on its index), recorded as ``action``."""
        self.add(file, column, action, n_rows=int(rows.sum()), detail=detail)
        return table[~rows]

    def frame(self) -> pd.DataFrame:
        """The report as a table (:data:`~hpd_analysis.cohort.LOAD_REPORT_COLUMNS`)."""
        return pd.DataFrame(self.rows, columns=LOAD_REPORT_COLUMNS)


# --------------------------------------------------------------------------- small helpers


def _require(df: pd.DataFrame, name: str, columns: list[str], *, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CohortError(
            [
                Problem(
                    name,
                    None,
                    c,
                    f"required {what} variable is missing",
                    f"a column {c} in the {what} domain",
                )
                for c in missing
            ]
        )


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    """Upper-case stripped text of ``col`` (NA when absent or empty)."""
    if col not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    s = df[col]
    if pd.api.types.is_float_dtype(s):
        # SAS numerics read back as float: 3.0 -> "3"
        s = s.map(lambda v: pd.NA if pd.isna(v) else (f"{v:g}"))
    s = s.astype("string").str.strip().str.upper()
    return s.mask(s == "")


def _first_present(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    out = pd.Series(pd.NA, index=df.index, dtype="string")
    for c in cols:
        out = out.fillna(_text(df, c))
    return out


def _subject_ids(df: pd.DataFrame, col: str = "USUBJID") -> pd.Series:
    """Subject (or lesion link) identifiers as stripped Python strings."""
    return df[col].astype("string").str.strip().astype(str)


def _visits(df: pd.DataFrame) -> pd.Series | object:
    """The ``VISIT`` labels of a domain, NA when it has none."""
    return df["VISIT"].astype("string") if "VISIT" in df.columns else pd.NA


def _problem_rows(
    name: str,
    column: str,
    rows: pd.Index,
    *,
    message: str,
    expected: str,
    values: pd.Series | None = None,
    limit: int = 20,
) -> list[Problem]:
    """One :class:`Problem` per row (its line in the file: index + 2), at most ``limit`` and a
    line counting the rest; ``values`` adds the cell to the message."""
    out = []
    for i in list(rows)[:limit]:
        val = f" {values.loc[i]!r}" if values is not None else ""
        out.append(Problem(name, int(i) + 2, column, f"{message}{val}", expected))
    if len(rows) > limit:
        out.append(Problem(name, None, column, f"... and {len(rows) - limit} more rows", expected))
    return out


def _raise_for_rows(
    rows: pd.Series,
    name: str,
    column: str,
    *,
    message: str,
    expected: str,
    values: pd.Series | None = None,
) -> None:
    """Raise :class:`CohortError` naming the rows where the mask ``rows`` holds, if any."""
    if rows.any():
        raise CohortError(
            _problem_rows(
                name,
                column,
                rows.index[rows],
                message=message,
                expected=expected,
                values=values,
            )
        )


def parse_iso_dates(
    values: pd.Series, name: str, column: str, *, report: ImportReport | None = None
) -> pd.Series:
    """ISO 8601 text (date, date-time, or partial ``YYYY-MM`` / ``YYYY``) -> datetime64[ns].

    Partial dates are imputed to the first day of the month / year (counted in ``report``);
    the time part is dropped. Text that is not ISO 8601 raises :class:`CohortError` naming the
    file, row and column. Values already read as dates (SAS files) are kept.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
    if values.dtype == object and values.map(lambda v: hasattr(v, "year")).any():
        return pd.to_datetime(values, errors="coerce").dt.normalize().astype("datetime64[ns]")
    txt = values.astype("string").str.strip()
    txt = txt.mask(txt == "")
    parts = txt.str.extract(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T[\d:.+\-Z]*)?$")
    bad = txt.notna() & parts[0].isna()
    imputed = txt.notna() & parts[0].notna() & (parts[1].isna() | parts[2].isna())
    iso = parts[0] + "-" + parts[1].fillna("01") + "-" + parts[2].fillna("01")
    out = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    bad |= txt.notna() & parts[0].notna() & out.isna()
    _raise_for_rows(
        bad,
        name,
        column,
        message="not an ISO 8601 date",
        expected="YYYY-MM-DD (or partial YYYY-MM / YYYY)",
        values=txt,
    )
    if report is not None:
        report.add(
            name,
            column,
            "partial_date_imputed",
            n_rows=int(imputed.sum()),
            detail="partial ISO date imputed to the first day of the month/year",
        )
    return out.astype("datetime64[ns]")


def _numeric(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype(float)


# --------------------------------------------------------------------------- reader selection


def _eval_key(df: pd.DataFrame, prefix: str) -> pd.Series:
    ev = _text(df, f"{prefix}EVAL").fillna("")
    evid = _text(df, f"{prefix}EVALID").fillna("")
    return (ev + "|" + evid).astype(str)


def select_reader(
    df: pd.DataFrame,
    prefix: str,
    reader: str = "accepted",
    *,
    name: str = "",
    report: ImportReport | None = None,
) -> pd.DataFrame:
    """Keep one evaluator's records per subject and visit (SDTM ``--EVAL``/``--EVALID``/``--ACPTFL``).

    ``prefix`` is the domain prefix (``"TR"``, ``"TU"``, ``"RS"``). ``reader``:

    - ``"accepted"``: per subject and visit (``--VISITNUM`` when present, else ``--DTC``), the
      rows with ``--ACPTFL = "Y"``; when none is flagged, the investigator's rows (``--EVAL``
      INVESTIGATOR or empty); else the only evaluator; else the alphabetically first evaluator
      (counted in ``report`` as ``reader_chosen_alphabetically``).
    - ``"investigator"``: rows with ``--EVAL`` INVESTIGATOR or empty.
    - anything else: rows whose ``--EVALID`` or ``--EVAL`` equals it (case-insensitive).
    """
    if df.empty:
        return df
    key = _eval_key(df, prefix)
    ev = _text(df, f"{prefix}EVAL")
    investigator = ev.isna() | ev.eq("INVESTIGATOR")
    if reader.lower() == "investigator":
        keep = investigator
    elif reader.lower() != "accepted":
        want = reader.strip().upper()
        keep = _text(df, f"{prefix}EVALID").eq(want).fillna(False) | ev.eq(want).fillna(False)
    elif f"{prefix}EVAL" not in df.columns and f"{prefix}EVALID" not in df.columns:
        return df
    else:
        keep = _accepted_reader_rows(
            df, prefix, evaluator=key, investigator=investigator, name=name, report=report
        )
    out = df[keep]
    if reader.lower() not in ("accepted", "investigator") and out.empty:
        found = sorted({k.strip("|") for k in key.unique()} - {""})
        raise HPDError(
            f"{name}: no records of reader {reader!r} in {prefix}EVAL/{prefix}EVALID "
            f"(found: {', '.join(found) or 'no evaluator variables'})"
        )
    if report is not None:
        report.add(
            name,
            f"{prefix}EVAL",
            "other_readers_dropped",
            n_rows=int(len(df) - len(out)),
            detail=f"records of other evaluators (reader={reader!r})",
        )
    return out


def _accepted_reader_rows(
    df: pd.DataFrame,
    prefix: str,
    *,
    evaluator: pd.Series,
    investigator: pd.Series,
    name: str,
    report: ImportReport | None,
) -> pd.Series:
    """The rows of the accepted evaluator per subject and visit: the ``--ACPTFL = "Y"`` rows,
    else the investigator's, else the only (or the alphabetically first) evaluator's."""
    visit = (
        _text(df, "VISITNUM") if "VISITNUM" in df.columns else _text(df, f"{prefix}DTC")
    ).fillna("")
    group = _text(df, "USUBJID").fillna("") + "\x1f" + visit
    accepted = _text(df, f"{prefix}ACPTFL").eq("Y").fillna(False)
    visit_accepted = accepted.groupby(group).transform("max")
    visit_investigator = investigator.groupby(group).transform("max")
    n_evaluators = evaluator.groupby(group).transform("nunique")
    first_evaluator = evaluator.groupby(group).transform("min")
    keep = np.where(
        visit_accepted,
        accepted,
        np.where(visit_investigator, investigator, evaluator.eq(first_evaluator)),
    )
    keep = pd.Series(keep, index=df.index).astype(bool)
    if report is not None:
        arbitrary = (~visit_accepted) & (~visit_investigator) & (n_evaluators > 1)
        for column, action, rows, detail in (
            (
                f"{prefix}EVAL",
                "reader_chosen_alphabetically",
                arbitrary & keep,
                "several evaluators, none accepted (--ACPTFL) nor investigator: "
                "the alphabetically first evaluator was kept",
            ),
            (
                f"{prefix}ACPTFL",
                "reader_accepted_flag",
                visit_accepted & keep,
                "records of the accepted evaluator (--ACPTFL = Y)",
            ),
            (
                f"{prefix}EVAL",
                "reader_investigator_fallback",
                (~visit_accepted) & visit_investigator & keep,
                "visit without an accepted flag: the investigator's records were kept",
            ),
        ):
            report.add(name, column, action, n_rows=int(rows.sum()), detail=detail)
    return keep


# --------------------------------------------------------------------------- DM


def _patients_from_dm(dm: pd.DataFrame, name: str, report: ImportReport) -> pd.DataFrame:
    """One row per DM subject: treatment dates, death, DM contact dates and demographics."""
    _require(dm, name, ["USUBJID"], what="DM")
    start_col = _treatment_start_variable(dm, name, report)
    pid = dm["USUBJID"].astype("string").str.strip()
    _raise_for_rows(
        pid.isna(),
        name,
        "USUBJID",
        message="missing subject identifier",
        expected="a USUBJID",
    )
    dup = pid.duplicated(keep=False)
    _raise_for_rows(
        dup,
        name,
        "USUBJID",
        message="duplicate subject",
        expected="one DM record per subject",
        values=pid,
    )
    p = pd.DataFrame({"patient_id": pid.astype(str)})
    p["treatment_start"] = parse_iso_dates(dm[start_col], name, start_col, report=report)
    for col, var in [("treatment_end", "RFXENDTC"), ("death_date", "DTHDTC")]:
        p[col] = (
            parse_iso_dates(dm[var], name, var, report=report)
            if var in dm.columns
            else pd.Series(pd.NaT, index=dm.index, dtype="datetime64[ns]")
        )
    contact = []
    for var in ("RFPENDTC", "RFENDTC", "RFXENDTC"):
        if var in dm.columns:
            contact.append(parse_iso_dates(dm[var], name, var, report=None))
    p["_dm_contact"] = (
        pd.concat(contact, axis=1).max(axis=1) if contact else pd.Series(pd.NaT, index=dm.index)
    ).astype("datetime64[ns]")
    if "AGE" in dm.columns:
        p["age"] = _numeric(dm["AGE"])
    for col, var in [
        ("sex", "SEX"),
        ("race", "RACE"),
        ("ethnic", "ETHNIC"),
        ("country", "COUNTRY"),
        ("arm", "ARM"),
        ("actual_arm", "ACTARM"),
        ("study_id", "STUDYID"),
    ]:
        if var in dm.columns:
            p[col] = dm[var].astype("string")
    return p


def _treatment_start_variable(dm: pd.DataFrame, name: str, report: ImportReport) -> str:
    """``RFXSTDTC`` (date of first exposure), else ``RFSTDTC`` (counted in ``report``)."""
    start_col = "RFXSTDTC" if "RFXSTDTC" in dm.columns else "RFSTDTC"
    if start_col not in dm.columns:
        raise CohortError(
            [
                Problem(
                    name,
                    None,
                    "RFXSTDTC",
                    "required DM variable is missing",
                    "RFXSTDTC (date of first exposure) or RFSTDTC",
                )
            ]
        )
    if start_col == "RFSTDTC":
        report.add(
            name,
            "RFSTDTC",
            "treatment_start_from_RFSTDTC",
            n_rows=len(dm),
            detail="RFXSTDTC absent: treatment_start taken from RFSTDTC",
        )
    return start_col


# --------------------------------------------------------------------------- ADTTE


def _tte_from_adtte(adtte: pd.DataFrame, name: str, report: ImportReport) -> pd.DataFrame:
    """Per subject OS/PFS months and events from ADTTE (event = CNSR == 0).

    ADTTE event mapping: the OS and PFS parameters (``PARAMCD``), time ``AVAL`` in months
    (:func:`_aval_months_per_unit`), event = 1 when ``CNSR == 0``; ``_pfs_prog_date`` is the
    ``ADT`` of a PFS event whose ``EVNTDESC`` names a progression."""
    _require(adtte, name, ["USUBJID", "PARAMCD", "AVAL", "CNSR"], what="ADTTE")
    par = _text(adtte, "PARAMCD")
    aval = _numeric(adtte["AVAL"])
    cnsr = _numeric(adtte["CNSR"])
    rows = par.isin(["OS", "PFS"])
    bad = rows & (cnsr.isna() | (cnsr < 0) | (cnsr % 1 != 0))
    _raise_for_rows(
        bad,
        name,
        "CNSR",
        message="invalid censoring flag",
        expected="0 (event) or a positive integer (censored)",
        values=adtte["CNSR"],
    )
    factor = _aval_months_per_unit(adtte, rows, aval=aval, name=name, report=report)
    t = adtte[rows].assign(
        _par=par[rows], _m=(aval * factor)[rows], _e=(cnsr[rows] == 0).astype(int)
    )
    t["USUBJID"] = t["USUBJID"].astype("string").str.strip()
    dup = t.duplicated(["USUBJID", "_par"], keep=False)
    _raise_for_rows(
        dup,
        name,
        "PARAMCD",
        message="several records of one parameter for a subject",
        expected="one OS and one PFS record per subject",
        values=t["_par"],
    )
    out = pd.DataFrame({"patient_id": pd.Series(t["USUBJID"].unique(), dtype="string")})
    for p in ("OS", "PFS"):
        s = t[t["_par"] == p].set_index("USUBJID")
        out[f"{p.lower()}_months"] = out["patient_id"].map(s["_m"]).astype(float)
        out[f"{p.lower()}_event"] = out["patient_id"].map(s["_e"]).astype("Int64")
        report.add(
            name,
            "CNSR",
            f"{p.lower()}_event_from_cnsr",
            n_rows=len(s),
            detail=f"{p}: event = 1 when CNSR == 0 (CNSR >= 1 is censored)",
        )
    pfs = t[(t["_par"] == "PFS") & (t["_e"] == 1)]
    if "EVNTDESC" in pfs.columns and "ADT" in pfs.columns:
        prog = pfs[_text(pfs, "EVNTDESC").str.contains("PROGRESS", na=False)]
        out["_pfs_prog_date"] = out["patient_id"].map(
            parse_iso_dates(prog["ADT"], name, "ADT").set_axis(prog["USUBJID"])
        )
    out["patient_id"] = out["patient_id"].astype(str)
    return out


def _aval_months_per_unit(
    adtte: pd.DataFrame, rows: pd.Series, *, aval: pd.Series, name: str, report: ImportReport
) -> pd.Series:
    """Months per unit of ``AVAL``: from ``AVALU`` (days, weeks, months, years); without AVALU,
    days when AVAL equals ADT - STARTDT (+1) as admiral derives it (counted in ``report``)."""
    unit = _text(adtte, "AVALU")
    factor = pd.Series(np.nan, index=adtte.index)
    factor[unit.isin(["DAYS", "DAY", "D"]).fillna(False)] = 1.0 / DAYS_PER_MONTH
    factor[unit.isin(["MONTHS", "MONTH", "MO"]).fillna(False)] = 1.0
    factor[unit.isin(["WEEKS", "WEEK", "W"]).fillna(False)] = 7.0 / DAYS_PER_MONTH
    factor[unit.isin(["YEARS", "YEAR", "Y"]).fillna(False)] = 12.0
    no_unit = rows & factor.isna()
    if not no_unit.any():
        return factor
    if {"ADT", "STARTDT"} <= set(adtte.columns):
        adt = parse_iso_dates(adtte["ADT"], name, "ADT")
        st = parse_iso_dates(adtte["STARTDT"], name, "STARTDT")
        days = (adt - st).dt.days
        chk = no_unit & days.notna() & aval.notna()
        in_days = ((aval - days).isin([0, 1]) | ~chk)[no_unit]
        if chk.any() and bool(in_days.all()):
            factor[no_unit] = 1.0 / DAYS_PER_MONTH
            report.add(
                name,
                "AVAL",
                "aval_days_inferred",
                n_rows=int(no_unit.sum()),
                detail="AVALU absent: AVAL equals ADT - STARTDT (+1) days, converted to "
                "months (/30.4375)",
            )
    if factor[no_unit].isna().any():
        raise CohortError(
            [
                Problem(
                    name,
                    None,
                    "AVALU",
                    "unit of AVAL unknown",
                    "an AVALU column (DAYS/MONTHS) or ADT and STARTDT consistent with AVAL in days",
                )
            ]
        )
    return factor


# --------------------------------------------------------------------------- TU / TR lesions


@dataclass(frozen=True)
class _TrRecords:
    """TR lesion records of the chosen reader and the lesions TR holds for any reader."""

    #: one row per TR record (tests LDIAM, LPERP, DIAMETER, TUMSTATE): patient_id, lesion_id,
    #: assessment_date, visit, _ev (evaluator), _grp (TRGRPID), _test, _row (TR row), _mm (result
    #: in mm), _text (text result), _notdone (TRSTAT NOT DONE)
    records: pd.DataFrame
    #: (USUBJID, TRLNKID) of every lesion record, whoever read it
    keys_any_reader: pd.MultiIndex


def _lesions_from_tu_tr(
    tu: pd.DataFrame | None,
    tu_name: str,
    tr: pd.DataFrame,
    *,
    tr_name: str,
    reader: str,
    diameter_rule: str,
    equivocal_new_lesions: str,
    too_small_mm: float,
    report: ImportReport,
) -> pd.DataFrame:
    """The ``lesions`` table (:data:`LESION_COLUMNS`) from TR results and TU identities.

    Steps, in order: the TR records of the chosen reader (:func:`_tr_lesion_records`); lesion
    identity from TU (:func:`_tu_lesion_identity`); TU/TR linking (:func:`_link_tu_tr`); one row
    per lesion and scan (:func:`_lesion_scan_table`); target diameters and non-target/new
    states (:func:`_lesion_results`); target lesions missing at a later scan
    (:func:`_add_missing_target_rows`); new lesions found in TU only
    (:func:`_add_new_lesions_from_tu`).
    """
    tr_records = _tr_lesion_records(tr, tr_name, reader=reader, report=report)
    ident = _tu_lesion_identity(tu, tu_name, report)
    linked = _link_tu_tr(tr_records.records, ident, tr_name)
    les = _lesion_scan_table(linked, tr_name, report)
    les = _lesion_results(
        les,
        tr_name,
        diameter_rule=diameter_rule,
        equivocal_new_lesions=equivocal_new_lesions,
        too_small_mm=too_small_mm,
        report=report,
    )
    les = _add_missing_target_rows(les, tr_name, report)
    if tu is not None and len(ident):
        les = _add_new_lesions_from_tu(
            les,
            tu,
            ident=ident,
            tr_keys=tr_records.keys_any_reader,
            reader=reader,
            tu_name=tu_name,
            report=report,
        )
    les["lymph_node"] = les["lymph_node"].astype(bool)
    les["not_evaluable"] = les["not_evaluable"].astype(bool)
    les = les[LESION_COLUMNS].sort_values(
        ["patient_id", "assessment_date", "lesion_id"], kind="mergesort"
    )
    return les.reset_index(drop=True)


def _tr_lesion_records(
    tr: pd.DataFrame, tr_name: str, *, reader: str, report: ImportReport
) -> _TrRecords:
    """TR lesion records: summary rows (no ``TRLNKID``) skipped, the chosen reader's records
    (:func:`select_reader`), the tests this importer reads, a date on every record."""
    _require(tr, tr_name, ["USUBJID", "TRLNKID", "TRTESTCD", "TRDTC"], what="TR")
    if not {"TRSTRESN", "TRSTRESC", "TRORRES"} & set(tr.columns):
        raise CohortError(
            [
                Problem(
                    tr_name, None, "TRSTRESN", "no result variable", "TRSTRESN, TRSTRESC or TRORRES"
                )
            ]
        )
    lnk = tr["TRLNKID"].astype("string").str.strip()
    summary = lnk.isna()
    tr = report.drop(
        tr,
        summary,
        file=tr_name,
        column="TRLNKID",
        action="summary_rows_skipped",
        detail="records without TRLNKID (e.g. SUMDIAM) are not lesion measurements",
    )
    keys_any_reader = pd.MultiIndex.from_arrays([_subject_ids(tr), lnk[tr.index].astype(str)])
    tr = select_reader(tr, "TR", reader, name=tr_name, report=report)
    test = _text(tr, "TRTESTCD")
    known = test.isin([*_DIAMETER_TESTS, "TUMSTATE"])
    tr = report.drop(
        tr,
        ~known,
        file=tr_name,
        column="TRTESTCD",
        action="tests_ignored",
        detail="tests other than LDIAM, LPERP, DIAMETER, TUMSTATE: "
        + ", ".join(sorted(test[~known].dropna().unique())),
    )
    return _TrRecords(_tr_record_table(tr, tr_name, report), keys_any_reader)


def _tr_record_table(tr: pd.DataFrame, tr_name: str, report: ImportReport) -> pd.DataFrame:
    """The columns of :attr:`_TrRecords.records`, one row per TR record of ``tr``."""
    date = parse_iso_dates(tr["TRDTC"], tr_name, "TRDTC", report=report)
    nodate = date.isna()
    _raise_for_rows(
        nodate,
        tr_name,
        "TRDTC",
        message="missing assessment date",
        expected="an ISO 8601 date",
    )
    records = pd.DataFrame(
        {
            "patient_id": _subject_ids(tr),
            "lesion_id": _subject_ids(tr, "TRLNKID"),
            "assessment_date": date,
            "visit": _visits(tr),
            "_ev": _eval_key(tr, "TR"),
            "_grp": _text(tr, "TRGRPID"),
            "_test": _text(tr, "TRTESTCD"),
            "_row": tr.index,
        },
        index=tr.index,
    )
    text_res = _first_present(tr, ["TRSTRESC", "TRORRES"])
    records["_mm"] = _to_mm(tr, tr_name, report)
    records["_text"] = text_res
    records["_notdone"] = _text(tr, "TRSTAT").eq("NOT DONE").fillna(False)
    return records


def _to_mm(df: pd.DataFrame, name: str, report: ImportReport) -> pd.Series:
    """TR numeric result in mm: ``TRSTRESN`` (else the text results) x unit factor."""
    val = (
        _numeric(df["TRSTRESN"]) if "TRSTRESN" in df.columns else pd.Series(np.nan, index=df.index)
    )
    for c in ("TRSTRESC", "TRORRES"):
        if c in df.columns:
            val = val.fillna(_numeric(df[c]))
    unit = _first_present(df, ["TRSTRESU", "TRORRESU"])
    factor = unit.map(_TO_MM, na_action="ignore").astype(float)
    bad_unit = unit.notna() & factor.isna() & val.notna()
    _raise_for_rows(
        bad_unit,
        name,
        "TRSTRESU",
        message="unknown length unit",
        expected="mm, cm or m",
        values=unit,
    )
    no_unit = unit.isna() & val.notna()
    report.add(
        name,
        "TRSTRESU",
        "unit_missing_assumed_mm",
        n_rows=int(no_unit.sum()),
        detail="numeric result without a unit taken as mm",
    )
    conv = factor.notna() & (factor != 1.0) & val.notna()
    report.add(
        name,
        "TRSTRESU",
        "converted_to_mm",
        n_rows=int(conv.sum()),
        detail="results in cm/m converted to mm",
    )
    return val * factor.fillna(1.0)


#: columns of the TU lesion identity table (:func:`_tu_lesion_identity`) without a TU domain
_IDENTITY_COLUMNS = ["patient_id", "lesion_id", "_ev", "_role", "organ", "lymph_node"]


def _tu_lesion_identity(
    tu: pd.DataFrame | None, tu_name: str, report: ImportReport
) -> pd.DataFrame:
    """Lesion identity from TU, one row per subject, ``TULNKID`` and evaluator: role
    (``TUSTRESC``, else ``TUORRES``), organ (``TULOC``), lymph node (the location names one),
    the identification date ``_tudtc`` (``TUDTC``) and visit."""
    if tu is None:
        return pd.DataFrame(columns=_IDENTITY_COLUMNS)
    _require(tu, tu_name, ["USUBJID", "TULNKID"], what="TU")
    role_txt = _first_present(tu, ["TUSTRESC", "TUORRES"])
    role = role_txt.map(_ROLE, na_action="ignore")
    bad = role_txt.notna() & role.isna()
    _raise_for_rows(
        bad,
        tu_name,
        "TUSTRESC",
        message="unknown lesion role",
        expected="TARGET, NON-TARGET or NEW",
        values=role_txt,
    )
    location = _text(tu, "TULOC").fillna("") + " " + _text(tu, "TULOCDTL").fillna("")
    ident = pd.DataFrame(
        {
            "patient_id": _subject_ids(tu),
            "lesion_id": _subject_ids(tu, "TULNKID"),
            "_ev": _eval_key(tu, "TU"),
            "_role": role,
            "organ": tu["TULOC"].astype("string") if "TULOC" in tu.columns else pd.NA,
            "lymph_node": location.str.contains(r"LYMPH|NODE|NODAL", regex=True).astype(bool),
            "_tudtc": (
                parse_iso_dates(tu["TUDTC"], tu_name, "TUDTC", report=report)
                if "TUDTC" in tu.columns
                else pd.NaT
            ),
            "visit": _visits(tu),
        }
    )
    return ident.drop_duplicates(["patient_id", "lesion_id", "_ev"], keep="first")


def _link_tu_tr(records: pd.DataFrame, ident: pd.DataFrame, tr_name: str) -> pd.DataFrame:
    """TU/TR linking: each TR record gets role, organ and lymph-node flag of its ``TULNKID`` read
    by the same evaluator, else by any evaluator, else the role named by ``TRGRPID``."""
    same = ident.drop(columns=["_tudtc", "visit"], errors="ignore")
    anyr = same.drop_duplicates(["patient_id", "lesion_id"], keep="first").drop(columns="_ev")
    m = records.merge(same, on=["patient_id", "lesion_id", "_ev"], how="left")
    fb = m["_role"].isna() & m["organ"].isna()
    if fb.any():
        alt = m.loc[fb, ["patient_id", "lesion_id"]].merge(
            anyr, on=["patient_id", "lesion_id"], how="left"
        )
        for c in ("_role", "organ", "lymph_node"):
            m.loc[fb, c] = alt[c].to_numpy()
    grp_role = m["_grp"].map(_ROLE, na_action="ignore")
    m["_role"] = m["_role"].fillna(grp_role)
    norole = m["_role"].isna()
    if norole.any():
        raise _lesion_record_error(
            m,
            norole,
            tr_name=tr_name,
            message="lesion not identified in TU and TRGRPID gives no role",
            expected="a TU record with the same TULNKID, or TRGRPID TARGET/NON-TARGET/NEW",
        )
    m["lymph_node"] = m["lymph_node"].astype("boolean").fillna(False).astype(bool)
    return m


def _lesion_record_error(
    m: pd.DataFrame, rows: pd.Series, *, tr_name: str, message: str, expected: str
) -> CohortError:
    """The error naming the TR records of ``m`` where ``rows`` holds (their lines of the TR file,
    ``TRLNKID``)."""
    return CohortError(
        _problem_rows(
            tr_name,
            "TRLNKID",
            pd.Index(m.loc[rows, "_row"]),
            message=message,
            expected=expected,
            values=m.set_index("_row")["lesion_id"],
        )
    )


def _lesion_scan_table(m: pd.DataFrame, tr_name: str, report: ImportReport) -> pd.DataFrame:
    """One row per lesion and scan: the results of each test side by side (``LDIAM``,
    ``LPERP``, ``DIAMETER`` in mm; their text and ``TUMSTATE`` as ``<TEST>_TXT``)."""
    keys = ["patient_id", "assessment_date", "lesion_id"]
    same_rec = m.duplicated([*keys, "_test", "_mm", "_text", "_notdone"], keep="first")
    m = report.drop(
        m,
        same_rec,
        file=tr_name,
        column="TRLNKID",
        action="duplicate_record_dropped",
        detail="identical record (same lesion, test, date and result) of the chosen reader",
    )
    dup = m.duplicated([*keys, "_test"], keep=False)
    if dup.any():
        raise _lesion_record_error(
            m,
            dup,
            tr_name=tr_name,
            message="several records of one test for a lesion and date",
            expected="one record per lesion, test and date for the chosen reader "
            "(set TRACPTFL or choose reader=)",
        )
    val = m.pivot_table(index=keys, columns="_test", values="_mm", aggfunc="first")
    val = val.reindex(columns=list(_DIAMETER_TESTS))
    first = m.sort_values([*keys, "_row"]).drop_duplicates(keys)
    meta = first.set_index(keys)[["_role", "organ", "lymph_node", "visit"]]
    txt = m.pivot_table(index=keys, columns="_test", values="_text", aggfunc="first")
    txt = txt.reindex(columns=[*_DIAMETER_TESTS, "TUMSTATE"])
    notdone = m.groupby(keys)["_notdone"].max()
    return (
        meta.join(val).join(txt.add_suffix("_TXT")).join(notdone.rename("_notdone")).reset_index()
    )


def _lesion_results(
    les: pd.DataFrame,
    tr_name: str,
    *,
    diameter_rule: str,
    equivocal_new_lesions: str,
    too_small_mm: float,
    report: ImportReport,
) -> pd.DataFrame:
    """Target/non-target split: a diameter (mm) for target lesions, a status for non-target
    and new lesions, ``not_evaluable`` when neither is known; new lesions recorded EQUIVOCAL
    are left out unless ``equivocal_new_lesions="include"``."""
    target = les["_role"].eq("target")
    diameter = _target_diameters(
        les,
        target,
        diameter_rule=diameter_rule,
        too_small_mm=too_small_mm,
        tr_name=tr_name,
        report=report,
    )
    state, status = _tumour_states(les, target, tr_name, report=report)
    new = les["_role"].eq("new")
    equivocal_new = new & state.str.startswith("EQUIVOCAL").fillna(False)
    les = les.assign(diameter_mm=diameter.where(target), status=status.where(~target))
    # a new lesion is 'present' (UNEQUIVOCAL/EQUIVOCAL describe the new lesion, not a change)
    les["status"] = les["status"].where(~new | les["status"].eq("absent").fillna(False), "present")
    les["not_evaluable"] = (target & les["diameter_mm"].isna()) | (
        ~target & ~new & les["status"].isna()
    )
    report.add(
        tr_name,
        "TRSTAT",
        "not_evaluable",
        n_rows=int(les["not_evaluable"].sum()),
        detail="measurement not done / not evaluable / missing: diameter or status NA",
    )
    if equivocal_new_lesions == "exclude":
        les = report.drop(
            les,
            equivocal_new,
            file=tr_name,
            column="TRSTRESC",
            action="equivocal_new_lesion_excluded",
            detail="new lesion recorded as EQUIVOCAL is not a new lesion under RECIST 1.1",
        )
    elif equivocal_new_lesions != "include":
        raise HPDError(
            f"equivocal_new_lesions={equivocal_new_lesions!r}: expected 'exclude' or 'include'"
        )
    return les.rename(columns={"_role": "lesion_type"})[LESION_COLUMNS]


def _diameter_by_rule(les: pd.DataFrame, diameter_rule: str) -> tuple[pd.Series, pd.Series]:
    """The diameter (mm) and its text result, test by test in the order of ``diameter_rule``:
    ``"recist"`` short axis (LPERP) for lymph nodes, LDIAM otherwise, then DIAMETER;
    ``"diameter"`` the DIAMETER test first."""
    node = les["lymph_node"]
    if diameter_rule == "recist":
        order_node, order_other = ["LPERP", "DIAMETER"], ["LDIAM", "DIAMETER"]
    elif diameter_rule == "diameter":
        order_node, order_other = ["DIAMETER", "LPERP"], ["DIAMETER", "LDIAM"]
    else:
        raise HPDError(f"diameter_rule={diameter_rule!r}: expected 'recist' or 'diameter'")
    diam = pd.Series(np.nan, index=les.index)
    dtext = pd.Series(pd.NA, index=les.index, dtype="string")
    for tn, to in zip(order_node, order_other, strict=True):
        diam = diam.where(diam.notna(), np.where(node, les[tn], les[to]))
        dtext = dtext.fillna(
            pd.Series(np.where(node, les[f"{tn}_TXT"], les[f"{to}_TXT"]), index=les.index).astype(
                "string"
            )
        )
    return diam, dtext


def _target_diameters(
    les: pd.DataFrame,
    target: pd.Series,
    *,
    diameter_rule: str,
    too_small_mm: float,
    tr_name: str,
    report: ImportReport,
) -> pd.Series:
    """Target lesion diameter (mm): the measured test of :func:`_diameter_by_rule`, TOO SMALL TO
    MEASURE -> ``too_small_mm``; NaN when not done / not evaluable; other text is an error."""
    diam, dtext = _diameter_by_rule(les, diameter_rule)
    too_small = target & diam.isna() & dtext.isin(_TOO_SMALL_TEXT).fillna(False)
    diam[too_small] = too_small_mm
    report.add(
        tr_name,
        "TRSTRESC",
        "too_small_to_measure",
        n_rows=int(too_small.sum()),
        detail=f"TOO SMALL TO MEASURE -> {too_small_mm:g} mm (RECIST 1.1 default)",
    )
    ne_text = (
        target & diam.isna() & (dtext.isin(_NOT_EVALUABLE_TEXT).fillna(False) | les["_notdone"])
    )
    unknown_text = target & diam.isna() & dtext.notna() & ~ne_text & ~too_small
    if unknown_text.any():
        raise CohortError(
            [
                Problem(
                    tr_name,
                    None,
                    "TRSTRESC",
                    f"target lesion result is not a number: {v!r}",
                    "a number, TOO SMALL TO MEASURE or NOT EVALUABLE",
                )
                for v in sorted(dtext[unknown_text].unique())[:20]
            ]
        )
    return diam


def _tumour_states(
    les: pd.DataFrame, target: pd.Series, tr_name: str, *, report: ImportReport
) -> tuple[pd.Series, pd.Series]:
    """The ``TUMSTATE`` text of each row and its status (PRESENT -> present, ABSENT -> absent,
    UNEQUIVOCAL -> unequivocal_progression, EQUIVOCAL -> present under RECIST 1.1)."""
    state = les["TUMSTATE_TXT"].astype("string").str.upper()
    status = state.map(_STATUS, na_action="ignore").astype("string")
    bad_state = ~target & state.notna() & status.isna() & ~state.isin(_NOT_EVALUABLE_TEXT)
    if bad_state.any():
        raise CohortError(
            [
                Problem(
                    tr_name,
                    None,
                    "TRSTRESC",
                    f"unknown tumour state {v!r}",
                    "PRESENT, ABSENT, UNEQUIVOCAL, EQUIVOCAL or NOT EVALUABLE",
                )
                for v in sorted(state[bad_state].unique())[:20]
            ]
        )
    equivocal_non_target = (
        ~target & les["_role"].eq("non_target") & state.str.startswith("EQUIVOCAL").fillna(False)
    )
    report.add(
        tr_name,
        "TRSTRESC",
        "equivocal_as_present",
        n_rows=int(equivocal_non_target.sum()),
        detail="non-target EQUIVOCAL: present (not unequivocal progression, RECIST 1.1)",
    )
    return state, status


def _add_missing_target_rows(les: pd.DataFrame, tr_name: str, report: ImportReport) -> pd.DataFrame:
    """A target lesion without a record at a later scan of its patient gets an explicit row
    (``diameter_mm`` NA, ``not_evaluable`` True): the scan's sum is then not silently partial."""
    tg = les[les["lesion_type"].eq("target")][["patient_id", "lesion_id", "organ", "lymph_node"]]
    tg = tg.drop_duplicates(["patient_id", "lesion_id"])
    scans = les[["patient_id", "assessment_date", "visit"]].drop_duplicates(
        ["patient_id", "assessment_date"]
    )
    full = scans.merge(tg, on="patient_id")
    have = les[["patient_id", "assessment_date", "lesion_id"]]
    full = full.merge(have, how="left", indicator=True)
    missing = full[full["_merge"] == "left_only"].drop(columns="_merge")
    first_seen = (
        les[les["lesion_type"].eq("target")]
        .groupby(["patient_id", "lesion_id"])["assessment_date"]
        .min()
        .rename("_first")
    )
    missing = missing.join(first_seen, on=["patient_id", "lesion_id"])
    missing = missing[missing["assessment_date"] > missing["_first"]].drop(columns="_first")
    if not len(missing):
        return les
    report.add(
        tr_name,
        "TRLNKID",
        "missing_target_lesion_added",
        n_rows=len(missing),
        detail="target lesion without a record at a later scan of the patient: row added "
        "with diameter_mm NA, not_evaluable True",
    )
    missing = missing.assign(
        lesion_type="target",
        diameter_mm=np.nan,
        not_evaluable=True,
        status=pd.Series(pd.NA, index=missing.index, dtype="string"),
    )
    return pd.concat([les.astype({"status": "string"}), missing[les.columns]], ignore_index=True)


def _add_new_lesions_from_tu(
    les: pd.DataFrame,
    tu: pd.DataFrame,
    *,
    ident: pd.DataFrame,
    tr_keys: pd.MultiIndex,
    reader: str,
    tu_name: str,
    report: ImportReport,
) -> pd.DataFrame:
    """A NEW lesion of the chosen reader identified in TU (with a ``TUDTC``) that no reader
    measured in TR is added at its TU date, status present."""
    try:
        selected = select_reader(tu, "TU", reader).index
    except HPDError:  # the named reader has no TU record: no TU-only new lesion
        selected = tu.index[:0]
    cand = ident[ident["_role"].eq("new") & ident["_tudtc"].notna() & ident.index.isin(selected)]
    in_tr = pd.MultiIndex.from_frame(cand[["patient_id", "lesion_id"]]).isin(tr_keys)
    tu_new = cand.index[~in_tr]
    extra = ident.loc[tu_new].rename(columns={"_tudtc": "assessment_date", "_role": "lesion_type"})
    if not len(extra):
        return les
    extra = extra.assign(diameter_mm=np.nan, status="present", not_evaluable=False)
    report.add(
        tu_name,
        "TUSTRESC",
        "new_lesion_from_tu",
        n_rows=len(extra),
        detail="NEW lesion identified in TU without a TR record: added at TUDTC",
    )
    extra = extra[LESION_COLUMNS].astype(les.dtypes.to_dict())
    return pd.concat([les, extra], ignore_index=True)


# --------------------------------------------------------------------------- RS


def _responses_from_rs(
    rs: pd.DataFrame, name: str, reader: str, *, report: ImportReport
) -> pd.DataFrame:
    """RS responses per scan of the chosen reader (:data:`RESPONSE_COLUMNS`), RECIST 1.1
    records only when the domain also holds other criteria."""
    _require(rs, name, ["USUBJID", "RSTESTCD", "RSDTC"], what="RS")
    cat = _text(rs, "RSCAT")
    if cat.eq("RECIST 1.1").any():  # RECIST 1.1 records when the domain also holds others
        rs = report.drop(
            rs,
            ~cat.eq("RECIST 1.1").fillna(False),
            file=name,
            column="RSCAT",
            action="other_response_criteria_ignored",
            detail="RS records of other criteria than RECIST 1.1 (e.g. iRECIST)",
        )
    rs = select_reader(rs, "RS", reader, name=name, report=report)
    res = _first_present(rs, ["RSSTRESC", "RSORRES"])
    d = pd.DataFrame(
        {
            "patient_id": _subject_ids(rs),
            "assessment_date": parse_iso_dates(rs["RSDTC"], name, "RSDTC", report=report),
            "visit": _visits(rs),
            "_test": _text(rs, "RSTESTCD"),
            "_res": res,
        }
    )
    cols = {
        "OVRLRESP": "overall_response",
        "TRGRESP": "target_response",
        "NTRGRESP": "non_target_response",
        "NEWLPROG": "new_lesion_progression",
    }
    d = d[d["_test"].isin(list(cols)) & d["assessment_date"].notna()]
    keys = ["patient_id", "assessment_date"]
    w = d.pivot_table(index=keys, columns="_test", values="_res", aggfunc="first")
    w = w.reindex(columns=list(cols)).rename(columns=cols)
    vis = d.sort_values(keys, kind="mergesort").drop_duplicates(keys).set_index(keys)["visit"]
    out = w.join(vis).reset_index()
    return out[RESPONSE_COLUMNS].sort_values(keys, kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class _DomainFiles:
    """The domain files of one import (``None``: not found, the domain is optional)."""

    dm: Path
    tr: Path
    tu: Path | None
    rs: Path | None
    adsl: Path | None
    adtte: Path | None


@dataclass(frozen=True)
class _CohortTables:
    """The tables of an import between its steps."""

    patients: pd.DataFrame
    lesions: pd.DataFrame
    responses: pd.DataFrame


def import_sdtm(
    sdtm_dir: Path | str,
    *,
    adam_dir: Path | str | None = None,
    prefer: str | Mapping[str, str] | None = None,
    reader: str = "accepted",
    diameter_rule: Literal["recist", "diameter"] = "recist",
    subjects: Literal["exposed", "with_tumor_data"] = "exposed",
    equivocal_new_lesions: Literal["exclude", "include"] = "exclude",
    too_small_mm: float = 5.0,
    allow_unmatched: bool = False,
) -> dict[str, pd.DataFrame]:
    """Convert SDTM DM/TU/TR/RS (and ADaM ADSL/ADTTE when found) into cohort tables.

    Parameters
    ----------
    sdtm_dir
        Folder of SDTM domain files (see module docstring for names and formats).
    adam_dir
        Optional folder searched for ``adsl`` and ``adtte`` after ``sdtm_dir``.
    prefer
        Variant suffix (``"recist"``) or mapping domain -> file stem, see :func:`find_domain`.
    reader
        Evaluator rule, see :func:`select_reader` (``"accepted"``, ``"investigator"``, an
        ``--EVALID`` such as ``"RADIOLOGIST 1"``).
    diameter_rule
        ``"recist"``: short axis (LPERP) for lymph nodes, LDIAM otherwise; ``"diameter"``: the
        DIAMETER test when recorded.
    subjects
        ``"exposed"``: every DM subject with a treatment start; ``"with_tumor_data"``: only those
        with at least one TR record.
    too_small_mm
        Diameter (mm) given to a target lesion recorded TOO SMALL TO MEASURE.

    Returns
    -------
    dict with ``patients`` (:data:`PATIENT_COLUMNS`, dates datetime64, times in months),
    ``lesions`` (:data:`LESION_COLUMNS`, diameters in mm), ``responses`` (RS overall response
    per scan, empty without RS), ``report`` (what was imputed, converted, chosen or dropped).
    """
    sdtm_dir = Path(sdtm_dir)
    if not sdtm_dir.is_dir():
        raise HPDError(f"{sdtm_dir}: not a folder of SDTM domain files")
    report = ImportReport()
    files = _find_domain_files(sdtm_dir, adam_dir=adam_dir, prefer=prefer, report=report)
    pat = _patients_from_dm(read_domain(files.dm), files.dm.name, report)
    tr = read_domain(files.tr)
    tu = read_domain(files.tu) if files.tu else None
    les = _lesions_from_tu_tr(
        tu,
        files.tu.name if files.tu else "TU",
        tr,
        tr_name=files.tr.name,
        reader=reader,
        diameter_rule=diameter_rule,
        equivocal_new_lesions=equivocal_new_lesions,
        too_small_mm=too_small_mm,
        report=report,
    )
    resp = (
        _responses_from_rs(read_domain(files.rs), files.rs.name, reader, report=report)
        if files.rs
        else pd.DataFrame(columns=RESPONSE_COLUMNS)
    )
    pat["last_contact"] = _last_contact(pat, les, resp, files=files, report=report)
    pat = _with_progression_date(pat, resp, adtte=files.adtte, report=report)
    tables = _select_subjects(
        _CohortTables(pat, les, resp),
        files=files,
        subjects=subjects,
        allow_unmatched=allow_unmatched,
        report=report,
    )
    pat = tables.patients
    cols = [c for c in PATIENT_COLUMNS if c in pat.columns]
    pat = pat[cols].sort_values("patient_id", kind="mergesort").reset_index(drop=True)
    return {
        "patients": pat,
        "lesions": tables.lesions,
        "responses": tables.responses,
        "report": report.frame(),
    }


def _find_domain_files(
    sdtm_dir: Path,
    *,
    adam_dir: Path | str | None,
    prefer: str | Mapping[str, str] | None,
    report: ImportReport,
) -> _DomainFiles:
    """DM, TR (required), TU, RS in ``sdtm_dir``; ADSL, ADTTE there or in ``adam_dir``. Each
    file found is named in ``report``, a missing TU too."""
    dirs: list[Path | str] = [sdtm_dir, *([Path(adam_dir)] if adam_dir is not None else [])]
    files = _DomainFiles(
        dm=find_domain(sdtm_dir, "dm", prefer=prefer),
        tr=find_domain(sdtm_dir, "tr", prefer=prefer),
        tu=find_domain(sdtm_dir, "tu", prefer=prefer, required=False),
        rs=find_domain(sdtm_dir, "rs", prefer=prefer, required=False),
        adsl=find_domain(dirs, "adsl", prefer=prefer, required=False),
        adtte=find_domain(dirs, "adtte", prefer=prefer, required=False),
    )
    for role, p in [
        ("DM", files.dm),
        ("TU", files.tu),
        ("TR", files.tr),
        ("RS", files.rs),
        ("ADSL", files.adsl),
        ("ADTTE", files.adtte),
    ]:
        report.add(
            str(p) if p else role,
            None,
            "domain_file",
            n_rows=1 if p else 0,
            detail=f"{role} read from {p.name if p else '-'}",
        )
    if files.tu is None:
        report.add(
            str(sdtm_dir),
            None,
            "domain_missing",
            n_rows=1,
            detail="no TU domain: lesion roles from TR TRGRPID, no organ / lymph-node flag",
        )
    return files


def _last_contact(
    pat: pd.DataFrame,
    les: pd.DataFrame,
    resp: pd.DataFrame,
    *,
    files: _DomainFiles,
    report: ImportReport,
) -> pd.Series:
    """Last date known alive: the latest DM contact date (RFPENDTC, RFENDTC, RFXENDTC), TR/RS
    assessment and ADSL ``LSTALVDT``, capped at the death date (counted in ``report``)."""
    last_scan = (
        pd.concat([les[["patient_id", "assessment_date"]], resp[["patient_id", "assessment_date"]]])
        .groupby("patient_id")["assessment_date"]
        .max()
    )
    last = pd.concat([pat["_dm_contact"], pat["patient_id"].map(last_scan)], axis=1).max(axis=1)
    if files.adsl is not None:
        last = _last_alive_from_adsl(last, pat["patient_id"], adsl=files.adsl, report=report)
    after_death = pat["death_date"].notna() & (last > pat["death_date"])
    report.add(
        files.dm.name,
        "DTHDTC",
        "last_contact_capped_at_death",
        n_rows=int(after_death.sum()),
        detail="a date after death (e.g. RFPENDTC, assessment) cannot be a date known alive: "
        "last_contact = death_date",
    )
    return last.where(~after_death, pat["death_date"]).astype("datetime64[ns]")


def _last_alive_from_adsl(
    last: pd.Series, patient_id: pd.Series, *, adsl: Path, report: ImportReport
) -> pd.Series:
    """``last`` replaced by ADSL ``LSTALVDT`` where that is later (when ADSL has it)."""
    table = read_domain(adsl)
    if not {"USUBJID", "LSTALVDT"} <= set(table.columns):
        return last
    lst = parse_iso_dates(table["LSTALVDT"], adsl.name, "LSTALVDT", report=report)
    lst.index = _subject_ids(table)
    mapped = patient_id.map(lst[~lst.index.duplicated()])
    later = mapped.notna() & ~(mapped <= last)
    report.add(
        adsl.name,
        "LSTALVDT",
        "last_contact_from_adsl",
        n_rows=int(later.sum()),
        detail="last_contact = ADSL LSTALVDT where later than the DM/assessment dates",
    )
    return last.where(~later, mapped)


def _with_progression_date(
    pat: pd.DataFrame, resp: pd.DataFrame, *, adtte: Path | None, report: ImportReport
) -> pd.DataFrame:
    """``progression_date`` = the first overall response PD of the chosen reader (RS); OS/PFS
    from ADTTE when found (an ADTTE PFS progression on another date is counted, not used)."""
    pd_dates = (
        resp[resp["overall_response"].eq("PD")].groupby("patient_id")["assessment_date"].min()
    )
    pat["progression_date"] = pat["patient_id"].map(pd_dates).astype("datetime64[ns]")
    if adtte is None:
        return pat
    pat = pat.merge(
        _tte_from_adtte(read_domain(adtte), adtte.name, report), on="patient_id", how="left"
    )
    if "_pfs_prog_date" in pat.columns:
        a, b = pat["_pfs_prog_date"], pat["progression_date"]
        differ = (a.notna() != b.notna()) | (a.notna() & b.notna() & (a != b))
        report.add(
            adtte.name,
            "ADT",
            "adtte_progression_differs_from_rs",
            n_rows=int(differ.sum()),
            detail="ADTTE PFS progression date differs from the first RS overall PD of the "
            "chosen reader (progression_date is taken from RS; the ADaM may come "
            "from another SDTM variant or reader)",
        )
        pat = pat.drop(columns="_pfs_prog_date")
    return pat


def _select_subjects(
    tables: _CohortTables,
    *,
    files: _DomainFiles,
    subjects: str,
    allow_unmatched: bool,
    report: ImportReport,
) -> _CohortTables:
    """Subject selection: TR subjects must be in DM (unless ``allow_unmatched``); subjects
    without a treatment start are left out, with ``subjects="with_tumor_data"`` also those
    without a TR record; lesion and response rows of subjects left out are dropped."""
    pat, les, resp = tables.patients, tables.lesions, tables.responses
    dm_name, tr_name = files.dm.name, files.tr.name
    _check_unmatched(les, pat, tr_name=tr_name, dm_name=dm_name, allow=allow_unmatched)
    no_start = pat["treatment_start"].isna()
    pat = report.drop(
        pat,
        no_start,
        file=dm_name,
        column="RFXSTDTC",
        action="subject_not_exposed_dropped",
        detail="DM subject without a treatment start (screen failure / never dosed): "
        + ", ".join(pat.loc[no_start, "patient_id"].head(10))
        + (" ..." if no_start.sum() > 10 else ""),
    )
    if subjects == "with_tumor_data":
        pat = report.drop(
            pat,
            ~pat["patient_id"].isin(les["patient_id"]),
            file=dm_name,
            column="USUBJID",
            action="subject_without_tumor_data_dropped",
            detail="subjects=with_tumor_data: no TR record",
        )
    elif subjects != "exposed":
        raise HPDError(f"subjects={subjects!r}: expected 'exposed' or 'with_tumor_data'")
    orphan = ~les["patient_id"].isin(pat["patient_id"])
    les = report.drop(
        les,
        orphan,
        file=tr_name,
        column="USUBJID",
        action="lesion_rows_without_patient_dropped",
        detail="TR records of subjects absent from DM or without treatment start: "
        + ", ".join(sorted(les.loc[orphan, "patient_id"].unique())[:10]),
    )
    resp_orphan = ~resp["patient_id"].isin(pat["patient_id"])
    resp = report.drop(
        resp,
        resp_orphan,
        file=files.rs.name if files.rs else "RS",
        column="USUBJID",
        action="response_rows_without_patient_dropped",
        detail="RS overall responses of subjects absent from DM or without treatment start: "
        + ", ".join(sorted(resp.loc[resp_orphan, "patient_id"].astype(str).unique())[:10]),
    )
    return _CohortTables(pat, les.reset_index(drop=True), resp.reset_index(drop=True))


def _check_unmatched(
    les: pd.DataFrame, pat: pd.DataFrame, *, tr_name: str, dm_name: str, allow: bool
) -> None:
    """Raise :class:`HPDError` when TR has subjects that DM does not list (``allow``: they are
    dropped, and the import report and the console say so). The message names them and, when
    DM has the same id but for case or leading zeros, that id."""
    absent = ~les["patient_id"].isin(pat["patient_id"])
    if allow or not absent.any():
        return
    from .load import id_key

    known = pat["patient_id"].dropna().astype(str)
    near = dict(zip(id_key(known), known, strict=True))
    subjects = sorted(les.loc[absent, "patient_id"].astype(str).unique())
    shown = []
    for s in subjects[:10]:
        k = id_key(pd.Series([s])).iloc[0]
        shown.append(
            repr(s)
            + (
                f" ({dm_name} has {near[k]!r}: the case or leading zeros differ)"
                if k in near
                else ""
            )
        )
    raise HPDError(
        f"{tr_name}: {int(absent.sum())} rows of {len(subjects)} subject(s) not in "
        f"{dm_name}: {', '.join(shown)}"
        + (" …" if len(subjects) > 10 else "")
        + f" (expected every TR subject in {dm_name}; pass --allow-unmatched to "
        "drop them)"
    )


def dropped_rows_summary(report: pd.DataFrame) -> list[str]:
    """One console line per import-report row that dropped records (``*_dropped``, n > 0)."""
    rows = report[
        report["action"].astype(str).str.endswith("_dropped")
        & (pd.to_numeric(report["n_rows"], errors="coerce") > 0)
    ]
    return [
        f"dropped {int(r.n_rows)} row(s) of {r.file} ({r.action}): {r.detail}"
        for r in rows.itertuples(index=False)
    ]


def write_cohort_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a cohort table in the contract's CSV format (cohort-format.md): dates ISO
    ``YYYY-MM-DD``, flags ``0``/``1``, numbers with 10 significant digits, ``\n`` line ends,
    no cell a spreadsheet would run as a formula."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(int)  # flags as 0/1, the contract's flag format
    from .privacy import neutralize_formulas  # no cell a spreadsheet would run as a formula

    neutralize_formulas(out).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


def import_sdtm_dir(
    sdtm_dir: Path | str, out_dir: Path | str, *, force: bool = False, **options: object
) -> Path:
    """Run :func:`import_sdtm` and write ``patients.csv``, ``lesions.csv`` (the cohort),
    ``rs_responses.csv`` (SDTM overall responses, for comparison) and ``import_report.csv``.

    Output is deterministic (sorted rows, ISO dates, flags as 0/1, fixed float format).
    Returns ``out_dir``. ``out_dir`` may not be (or lie inside) the SDTM or ADaM folder, and
    an existing non-empty ``out_dir`` needs ``force`` (:func:`hpd_analysis.load.check_output`).
    """
    from .load import check_output, input_paths

    inputs = input_paths(sdtm_dir) + input_paths(options.get("adam_dir"))  # type: ignore[arg-type]
    check_output(out_dir, inputs, folder=True, force=force)
    tables = import_sdtm(sdtm_dir, **options)  # type: ignore[arg-type]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_cohort_csv(tables["patients"], out / "patients.csv")
    write_cohort_csv(tables["lesions"], out / "lesions.csv")
    write_cohort_csv(tables["responses"], out / "rs_responses.csv")
    write_cohort_csv(tables["report"], out / "import_report.csv")
    return out
