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
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .cohort import LOAD_REPORT_COLUMNS
from .columns import LESION_FILE_COLUMNS
from .errors import CohortError, HPDError, Problem
from .params import DAYS_PER_MONTH

__all__ = [
    "find_domain",
    "read_domain",
    "import_sdtm",
    "import_sdtm_dir",
    "select_reader",
    "parse_iso_dates",
    "PATIENT_COLUMNS",
    "LESION_COLUMNS",
    "RESPONSE_COLUMNS",
]

#: file extensions read, in the order used to break ties between formats of the same name
EXTENSIONS: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".xpt", ".sas7bdat")

PATIENT_COLUMNS = [
    "patient_id",
    "treatment_start",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
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


# --------------------------------------------------------------------------- small helpers


class _Report:
    """Collects import actions (columns of :data:`hpd_analysis.cohort.LOAD_REPORT_COLUMNS`)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, file: str, column: str | None, action: str, n_rows: int, detail: str) -> None:
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

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=LOAD_REPORT_COLUMNS)


def _require(df: pd.DataFrame, name: str, columns: list[str], what: str) -> None:
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


def _problem_rows(
    name: str,
    column: str,
    rows: pd.Index,
    message: str,
    expected: str,
    values: pd.Series | None = None,
    limit: int = 20,
) -> list[Problem]:
    out = []
    for i in list(rows)[:limit]:
        val = f" {values.loc[i]!r}" if values is not None else ""
        out.append(Problem(name, int(i) + 2, column, f"{message}{val}", expected))
    if len(rows) > limit:
        out.append(Problem(name, None, column, f"... and {len(rows) - limit} more rows", expected))
    return out


def parse_iso_dates(
    values: pd.Series, name: str, column: str, report: _Report | None = None
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
    if bad.any():
        raise CohortError(
            _problem_rows(
                name,
                column,
                txt.index[bad],
                "not an ISO 8601 date",
                "YYYY-MM-DD (or partial YYYY-MM / YYYY)",
                txt,
            )
        )
    if report is not None:
        report.add(
            name,
            column,
            "partial_date_imputed",
            int(imputed.sum()),
            "partial ISO date imputed to the first day of the month/year",
        )
    return out.astype("datetime64[ns]")


def _numeric(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype(float)


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
    report: _Report | None = None,
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
    is_inv = ev.isna() | ev.eq("INVESTIGATOR")
    if reader.lower() == "investigator":
        keep = is_inv
    elif reader.lower() != "accepted":
        want = reader.strip().upper()
        keep = _text(df, f"{prefix}EVALID").eq(want).fillna(False) | ev.eq(want).fillna(False)
    else:
        if f"{prefix}EVAL" not in df.columns and f"{prefix}EVALID" not in df.columns:
            return df
        visit = (
            _text(df, "VISITNUM") if "VISITNUM" in df.columns else _text(df, f"{prefix}DTC")
        ).fillna("")
        group = _text(df, "USUBJID").fillna("") + "\x1f" + visit
        acc = _text(df, f"{prefix}ACPTFL").eq("Y").fillna(False)
        g_acc = acc.groupby(group).transform("max")
        g_inv = is_inv.groupby(group).transform("max")
        n_ev = key.groupby(group).transform("nunique")
        first_ev = key.groupby(group).transform("min")
        keep = np.where(g_acc, acc, np.where(g_inv, is_inv, key.eq(first_ev)))
        keep = pd.Series(keep, index=df.index).astype(bool)
        if report is not None:
            arbitrary = (~g_acc) & (~g_inv) & (n_ev > 1)
            report.add(
                name,
                f"{prefix}EVAL",
                "reader_chosen_alphabetically",
                int((arbitrary & keep).sum()),
                "several evaluators, none accepted (--ACPTFL) nor investigator: "
                "the alphabetically first evaluator was kept",
            )
            report.add(
                name,
                f"{prefix}ACPTFL",
                "reader_accepted_flag",
                int((g_acc & keep).sum()),
                "records of the accepted evaluator (--ACPTFL = Y)",
            )
            report.add(
                name,
                f"{prefix}EVAL",
                "reader_investigator_fallback",
                int(((~g_acc) & g_inv & keep).sum()),
                "visit without an accepted flag: the investigator's records were kept",
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
            int(len(df) - len(out)),
            f"records of other evaluators (reader={reader!r})",
        )
    return out


def _to_mm(df: pd.DataFrame, name: str, report: _Report) -> pd.Series:
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
    if bad_unit.any():
        raise CohortError(
            _problem_rows(
                name, "TRSTRESU", df.index[bad_unit], "unknown length unit", "mm, cm or m", unit
            )
        )
    no_unit = unit.isna() & val.notna()
    report.add(
        name,
        "TRSTRESU",
        "unit_missing_assumed_mm",
        int(no_unit.sum()),
        "numeric result without a unit taken as mm",
    )
    conv = factor.notna() & (factor != 1.0) & val.notna()
    report.add(
        name, "TRSTRESU", "converted_to_mm", int(conv.sum()), "results in cm/m converted to mm"
    )
    return val * factor.fillna(1.0)


# --------------------------------------------------------------------------- domains


def _patients_from_dm(dm: pd.DataFrame, name: str, report: _Report) -> pd.DataFrame:
    _require(dm, name, ["USUBJID"], "DM")
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
            len(dm),
            "RFXSTDTC absent: treatment_start taken from RFSTDTC",
        )
    pid = dm["USUBJID"].astype("string").str.strip()
    if pid.isna().any():
        raise CohortError(
            _problem_rows(
                name, "USUBJID", dm.index[pid.isna()], "missing subject identifier", "a USUBJID"
            )
        )
    dup = pid.duplicated(keep=False)
    if dup.any():
        raise CohortError(
            _problem_rows(
                name,
                "USUBJID",
                dm.index[dup],
                "duplicate subject",
                "one DM record per subject",
                pid,
            )
        )
    p = pd.DataFrame({"patient_id": pid.astype(str)})
    p["treatment_start"] = parse_iso_dates(dm[start_col], name, start_col, report)
    for col, var in [("treatment_end", "RFXENDTC"), ("death_date", "DTHDTC")]:
        p[col] = (
            parse_iso_dates(dm[var], name, var, report)
            if var in dm.columns
            else pd.Series(pd.NaT, index=dm.index, dtype="datetime64[ns]")
        )
    contact = []
    for var in ("RFPENDTC", "RFENDTC", "RFXENDTC"):
        if var in dm.columns:
            contact.append(parse_iso_dates(dm[var], name, var, None))
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


def _tte_from_adtte(adtte: pd.DataFrame, name: str, report: _Report) -> pd.DataFrame:
    """Per subject OS/PFS months and events from ADTTE (event = CNSR == 0)."""
    _require(adtte, name, ["USUBJID", "PARAMCD", "AVAL", "CNSR"], "ADTTE")
    par = _text(adtte, "PARAMCD")
    aval = _numeric(adtte["AVAL"])
    cnsr = _numeric(adtte["CNSR"])
    rows = par.isin(["OS", "PFS"])
    bad = rows & (cnsr.isna() | (cnsr < 0) | (cnsr % 1 != 0))
    if bad.any():
        raise CohortError(
            _problem_rows(
                name,
                "CNSR",
                adtte.index[bad],
                "invalid censoring flag",
                "0 (event) or a positive integer (censored)",
                adtte["CNSR"],
            )
        )
    unit = _text(adtte, "AVALU")
    factor = pd.Series(np.nan, index=adtte.index)
    factor[unit.isin(["DAYS", "DAY", "D"]).fillna(False)] = 1.0 / DAYS_PER_MONTH
    factor[unit.isin(["MONTHS", "MONTH", "MO"]).fillna(False)] = 1.0
    factor[unit.isin(["WEEKS", "WEEK", "W"]).fillna(False)] = 7.0 / DAYS_PER_MONTH
    factor[unit.isin(["YEARS", "YEAR", "Y"]).fillna(False)] = 12.0
    no_unit = rows & factor.isna()
    if no_unit.any():
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
                    int(no_unit.sum()),
                    "AVALU absent: AVAL equals ADT - STARTDT (+1) days, converted to "
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
                        "an AVALU column (DAYS/MONTHS) or ADT and STARTDT "
                        "consistent with AVAL in days",
                    )
                ]
            )
    t = adtte[rows].assign(
        _par=par[rows], _m=(aval * factor)[rows], _e=(cnsr[rows] == 0).astype(int)
    )
    t["USUBJID"] = t["USUBJID"].astype("string").str.strip()
    dup = t.duplicated(["USUBJID", "_par"], keep=False)
    if dup.any():
        raise CohortError(
            _problem_rows(
                name,
                "PARAMCD",
                t.index[dup],
                "several records of one parameter for a subject",
                "one OS and one PFS record per subject",
                t["_par"],
            )
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
            len(s),
            f"{p}: event = 1 when CNSR == 0 (CNSR >= 1 is censored)",
        )
    pfs = t[(t["_par"] == "PFS") & (t["_e"] == 1)]
    if "EVNTDESC" in pfs.columns and "ADT" in pfs.columns:
        prog = pfs[_text(pfs, "EVNTDESC").str.contains("PROGRESS", na=False)]
        out["_pfs_prog_date"] = out["patient_id"].map(
            parse_iso_dates(prog["ADT"], name, "ADT").set_axis(prog["USUBJID"])
        )
    out["patient_id"] = out["patient_id"].astype(str)
    return out


def _lesions_from_tu_tr(
    tu: pd.DataFrame | None,
    tu_name: str,
    tr: pd.DataFrame,
    tr_name: str,
    *,
    reader: str,
    diameter_rule: str,
    equivocal_new_lesions: str,
    too_small_mm: float,
    report: _Report,
) -> pd.DataFrame:
    _require(tr, tr_name, ["USUBJID", "TRLNKID", "TRTESTCD", "TRDTC"], "TR")
    if (
        "TRSTRESN" not in tr.columns
        and "TRSTRESC" not in tr.columns
        and "TRORRES" not in tr.columns
    ):
        raise CohortError(
            [
                Problem(
                    tr_name, None, "TRSTRESN", "no result variable", "TRSTRESN, TRSTRESC or TRORRES"
                )
            ]
        )
    lnk = tr["TRLNKID"].astype("string").str.strip()
    summary = lnk.isna()
    report.add(
        tr_name,
        "TRLNKID",
        "summary_rows_skipped",
        int(summary.sum()),
        "records without TRLNKID (e.g. SUMDIAM) are not lesion measurements",
    )
    tr = tr[~summary]
    tr_keys_any_reader = pd.MultiIndex.from_arrays(
        [tr["USUBJID"].astype("string").str.strip().astype(str), lnk[tr.index].astype(str)]
    )
    tr = select_reader(tr, "TR", reader, name=tr_name, report=report)
    test = _text(tr, "TRTESTCD")
    known = test.isin([*_DIAMETER_TESTS, "TUMSTATE"])
    report.add(
        tr_name,
        "TRTESTCD",
        "tests_ignored",
        int((~known).sum()),
        "tests other than LDIAM, LPERP, DIAMETER, TUMSTATE: "
        + ", ".join(sorted(test[~known].dropna().unique())),
    )
    tr = tr[known.fillna(False)]
    test = test[tr.index]
    date = parse_iso_dates(tr["TRDTC"], tr_name, "TRDTC", report)
    nodate = date.isna()
    if nodate.any():
        raise CohortError(
            _problem_rows(
                tr_name, "TRDTC", tr.index[nodate], "missing assessment date", "an ISO 8601 date"
            )
        )
    base = pd.DataFrame(
        {
            "patient_id": tr["USUBJID"].astype("string").str.strip().astype(str),
            "lesion_id": tr["TRLNKID"].astype("string").str.strip().astype(str),
            "assessment_date": date,
            "visit": tr["VISIT"].astype("string") if "VISIT" in tr.columns else pd.NA,
            "_ev": _eval_key(tr, "TR"),
            "_grp": _text(tr, "TRGRPID"),
            "_test": test,
            "_row": tr.index,
        },
        index=tr.index,
    )
    text_res = _first_present(tr, ["TRSTRESC", "TRORRES"])
    base["_mm"] = _to_mm(tr, tr_name, report)
    base["_text"] = text_res
    base["_notdone"] = _text(tr, "TRSTAT").eq("NOT DONE").fillna(False)

    # ---- lesion identity and role from TU (same reader first, then any reader)
    ident = pd.DataFrame(columns=["patient_id", "lesion_id", "_ev", "_role", "organ", "lymph_node"])
    if tu is not None:
        _require(tu, tu_name, ["USUBJID", "TULNKID"], "TU")
        role_txt = _first_present(tu, ["TUSTRESC", "TUORRES"])
        loc = _text(tu, "TULOC")
        locdtl = _text(tu, "TULOCDTL")
        role = role_txt.map(_ROLE, na_action="ignore")
        bad = role_txt.notna() & role.isna()
        if bad.any():
            raise CohortError(
                _problem_rows(
                    tu_name,
                    "TUSTRESC",
                    tu.index[bad],
                    "unknown lesion role",
                    "TARGET, NON-TARGET or NEW",
                    role_txt,
                )
            )
        ident = pd.DataFrame(
            {
                "patient_id": tu["USUBJID"].astype("string").str.strip().astype(str),
                "lesion_id": tu["TULNKID"].astype("string").str.strip().astype(str),
                "_ev": _eval_key(tu, "TU"),
                "_role": role,
                "organ": tu["TULOC"].astype("string") if "TULOC" in tu.columns else pd.NA,
                "lymph_node": (loc.fillna("") + " " + locdtl.fillna(""))
                .str.contains(r"LYMPH|NODE|NODAL", regex=True)
                .astype(bool),
                "_tudtc": (
                    parse_iso_dates(tu["TUDTC"], tu_name, "TUDTC", report)
                    if "TUDTC" in tu.columns
                    else pd.NaT
                ),
                "visit": tu["VISIT"].astype("string") if "VISIT" in tu.columns else pd.NA,
            }
        )
        ident = ident.drop_duplicates(["patient_id", "lesion_id", "_ev"], keep="first")
    same = ident.drop(columns=["_tudtc", "visit"], errors="ignore")
    anyr = same.drop_duplicates(["patient_id", "lesion_id"], keep="first").drop(columns="_ev")
    m = base.merge(same, on=["patient_id", "lesion_id", "_ev"], how="left")
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
        raise CohortError(
            _problem_rows(
                tr_name,
                "TRLNKID",
                pd.Index(m.loc[norole, "_row"]),
                "lesion not identified in TU and TRGRPID gives no role",
                "a TU record with the same TULNKID, or TRGRPID TARGET/NON-TARGET/NEW",
                m.set_index("_row")["lesion_id"],
            )
        )
    m["lymph_node"] = m["lymph_node"].astype("boolean").fillna(False).astype(bool)

    # ---- one row per lesion and scan
    keys = ["patient_id", "assessment_date", "lesion_id"]
    same_rec = m.duplicated([*keys, "_test", "_mm", "_text", "_notdone"], keep="first")
    report.add(
        tr_name,
        "TRLNKID",
        "duplicate_record_dropped",
        int(same_rec.sum()),
        "identical record (same lesion, test, date and result) of the chosen reader",
    )
    m = m[~same_rec]
    dup = m.duplicated([*keys, "_test"], keep=False)
    if dup.any():
        raise CohortError(
            _problem_rows(
                tr_name,
                "TRLNKID",
                pd.Index(m.loc[dup, "_row"]),
                "several records of one test for a lesion and date",
                "one record per lesion, test and date for the chosen reader "
                "(set TRACPTFL or choose reader=)",
                m.set_index("_row")["lesion_id"],
            )
        )
    val = m.pivot_table(index=keys, columns="_test", values="_mm", aggfunc="first")
    val = val.reindex(columns=list(_DIAMETER_TESTS))
    first = m.sort_values([*keys, "_row"]).drop_duplicates(keys)
    meta = first.set_index(keys)[["_role", "organ", "lymph_node", "visit"]]
    txt = m.pivot_table(index=keys, columns="_test", values="_text", aggfunc="first")
    txt = txt.reindex(columns=[*_DIAMETER_TESTS, "TUMSTATE"])
    notdone = m.groupby(keys)["_notdone"].max()
    les = meta.join(val).join(txt.add_suffix("_TXT")).join(notdone.rename("_notdone")).reset_index()

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
    tgt = les["_role"].eq("target")
    too_small = tgt & diam.isna() & dtext.isin(_TOO_SMALL_TEXT).fillna(False)
    diam[too_small] = too_small_mm
    report.add(
        tr_name,
        "TRSTRESC",
        "too_small_to_measure",
        int(too_small.sum()),
        f"TOO SMALL TO MEASURE -> {too_small_mm:g} mm (RECIST 1.1 default)",
    )
    ne_text = tgt & diam.isna() & (dtext.isin(_NOT_EVALUABLE_TEXT).fillna(False) | les["_notdone"])
    unknown_text = tgt & diam.isna() & dtext.notna() & ~ne_text & ~too_small
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
    state = les["TUMSTATE_TXT"].astype("string").str.upper()
    status = state.map(_STATUS, na_action="ignore").astype("string")
    bad_state = ~tgt & state.notna() & status.isna() & ~state.isin(_NOT_EVALUABLE_TEXT)
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
    report.add(
        tr_name,
        "TRSTRESC",
        "equivocal_as_present",
        int(
            (
                ~tgt
                & les["_role"].eq("non_target")
                & state.str.startswith("EQUIVOCAL").fillna(False)
            ).sum()
        ),
        "non-target EQUIVOCAL: present (not unequivocal progression, RECIST 1.1)",
    )
    new = les["_role"].eq("new")
    equivocal_new = new & state.str.startswith("EQUIVOCAL").fillna(False)
    les = les.assign(diameter_mm=diam.where(tgt), status=status.where(~tgt))
    # a new lesion is 'present' (UNEQUIVOCAL/EQUIVOCAL describe the new lesion, not a change)
    les["status"] = les["status"].where(~new | les["status"].eq("absent").fillna(False), "present")
    les["not_evaluable"] = (tgt & les["diameter_mm"].isna()) | (~tgt & ~new & les["status"].isna())
    report.add(
        tr_name,
        "TRSTAT",
        "not_evaluable",
        int(les["not_evaluable"].sum()),
        "measurement not done / not evaluable / missing: diameter or status NA",
    )
    if equivocal_new_lesions == "exclude":
        report.add(
            tr_name,
            "TRSTRESC",
            "equivocal_new_lesion_excluded",
            int(equivocal_new.sum()),
            "new lesion recorded as EQUIVOCAL is not a new lesion under RECIST 1.1",
        )
        les = les[~equivocal_new]
    elif equivocal_new_lesions != "include":
        raise HPDError(
            f"equivocal_new_lesions={equivocal_new_lesions!r}: expected 'exclude' or 'include'"
        )
    les = les.rename(columns={"_role": "lesion_type"})[LESION_COLUMNS]

    # ---- explicit rows for target lesions missing at a scan
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
    if len(missing):
        report.add(
            tr_name,
            "TRLNKID",
            "missing_target_lesion_added",
            len(missing),
            "target lesion without a record at a later scan of the patient: row added "
            "with diameter_mm NA, not_evaluable True",
        )
        missing = missing.assign(
            lesion_type="target",
            diameter_mm=np.nan,
            not_evaluable=True,
            status=pd.Series(pd.NA, index=missing.index, dtype="string"),
        )
        les = pd.concat([les.astype({"status": "string"}), missing[les.columns]], ignore_index=True)
    # ---- new lesions identified in TU only (no TR record)
    if tu is not None and len(ident):
        try:
            selected = select_reader(tu, "TU", reader).index
        except HPDError:  # the named reader has no TU record: no TU-only new lesion
            selected = tu.index[:0]
        cand = ident[
            ident["_role"].eq("new") & ident["_tudtc"].notna() & ident.index.isin(selected)
        ]
        in_tr = pd.MultiIndex.from_frame(cand[["patient_id", "lesion_id"]]).isin(tr_keys_any_reader)
        tu_new = cand.index[~in_tr]
        extra = ident.loc[tu_new].rename(
            columns={"_tudtc": "assessment_date", "_role": "lesion_type"}
        )
        if len(extra):
            extra = extra.assign(diameter_mm=np.nan, status="present", not_evaluable=False)
            report.add(
                tu_name,
                "TUSTRESC",
                "new_lesion_from_tu",
                len(extra),
                "NEW lesion identified in TU without a TR record: added at TUDTC",
            )
            extra = extra[LESION_COLUMNS].astype(les.dtypes.to_dict())
            les = pd.concat([les, extra], ignore_index=True)

    les["lymph_node"] = les["lymph_node"].astype(bool)
    les["not_evaluable"] = les["not_evaluable"].astype(bool)
    les = les[LESION_COLUMNS].sort_values(
        ["patient_id", "assessment_date", "lesion_id"], kind="mergesort"
    )
    return les.reset_index(drop=True)


def _responses_from_rs(rs: pd.DataFrame, name: str, reader: str, report: _Report) -> pd.DataFrame:
    _require(rs, name, ["USUBJID", "RSTESTCD", "RSDTC"], "RS")
    cat = _text(rs, "RSCAT")
    if cat.eq("RECIST 1.1").any():  # RECIST 1.1 records when the domain also holds others
        report.add(
            name,
            "RSCAT",
            "other_response_criteria_ignored",
            int((~cat.eq("RECIST 1.1").fillna(False)).sum()),
            "RS records of other criteria than RECIST 1.1 (e.g. iRECIST)",
        )
        rs = rs[cat.eq("RECIST 1.1").fillna(False)]
    rs = select_reader(rs, "RS", reader, name=name, report=report)
    res = _first_present(rs, ["RSSTRESC", "RSORRES"])
    d = pd.DataFrame(
        {
            "patient_id": rs["USUBJID"].astype("string").str.strip().astype(str),
            "assessment_date": parse_iso_dates(rs["RSDTC"], name, "RSDTC", report),
            "visit": rs["VISIT"].astype("string") if "VISIT" in rs.columns else pd.NA,
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
    dirs: list[Path | str] = [sdtm_dir] + ([Path(adam_dir)] if adam_dir is not None else [])
    report = _Report()
    dm_path = find_domain(sdtm_dir, "dm", prefer=prefer)
    tr_path = find_domain(sdtm_dir, "tr", prefer=prefer)
    tu_path = find_domain(sdtm_dir, "tu", prefer=prefer, required=False)
    rs_path = find_domain(sdtm_dir, "rs", prefer=prefer, required=False)
    adsl_path = find_domain(dirs, "adsl", prefer=prefer, required=False)
    adtte_path = find_domain(dirs, "adtte", prefer=prefer, required=False)
    for role, p in [
        ("DM", dm_path),
        ("TU", tu_path),
        ("TR", tr_path),
        ("RS", rs_path),
        ("ADSL", adsl_path),
        ("ADTTE", adtte_path),
    ]:
        report.add(
            str(p) if p else role,
            None,
            "domain_file",
            1 if p else 0,
            f"{role} read from {p.name if p else '-'}",
        )
    if tu_path is None:
        report.add(
            str(sdtm_dir),
            None,
            "domain_missing",
            1,
            "no TU domain: lesion roles from TR TRGRPID, no organ / lymph-node flag",
        )

    dm = read_domain(dm_path)
    pat = _patients_from_dm(dm, dm_path.name, report)
    tr = read_domain(tr_path)
    tu = read_domain(tu_path) if tu_path else None
    les = _lesions_from_tu_tr(
        tu,
        tu_path.name if tu_path else "TU",
        tr,
        tr_path.name,
        reader=reader,
        diameter_rule=diameter_rule,
        equivocal_new_lesions=equivocal_new_lesions,
        too_small_mm=too_small_mm,
        report=report,
    )
    resp = (
        _responses_from_rs(read_domain(rs_path), rs_path.name, reader, report)
        if rs_path
        else pd.DataFrame(columns=RESPONSE_COLUMNS)
    )

    # last contact
    last_scan = (
        pd.concat([les[["patient_id", "assessment_date"]], resp[["patient_id", "assessment_date"]]])
        .groupby("patient_id")["assessment_date"]
        .max()
    )
    pat["last_contact"] = pd.concat(
        [pat["_dm_contact"], pat["patient_id"].map(last_scan)], axis=1
    ).max(axis=1)
    if adsl_path is not None:
        adsl = read_domain(adsl_path)
        if {"USUBJID", "LSTALVDT"} <= set(adsl.columns):
            lst = parse_iso_dates(adsl["LSTALVDT"], adsl_path.name, "LSTALVDT", report)
            lst.index = adsl["USUBJID"].astype("string").str.strip().astype(str)
            mapped = pat["patient_id"].map(lst[~lst.index.duplicated()])
            later = mapped.notna() & ~(mapped <= pat["last_contact"])
            report.add(
                adsl_path.name,
                "LSTALVDT",
                "last_contact_from_adsl",
                int(later.sum()),
                "last_contact = ADSL LSTALVDT where later than the DM/assessment dates",
            )
            pat["last_contact"] = pat["last_contact"].where(~later, mapped)
    after_death = pat["death_date"].notna() & (pat["last_contact"] > pat["death_date"])
    report.add(
        dm_path.name,
        "DTHDTC",
        "last_contact_capped_at_death",
        int(after_death.sum()),
        "a date after death (e.g. RFPENDTC, assessment) cannot be a date known alive: "
        "last_contact = death_date",
    )
    pat["last_contact"] = pat["last_contact"].where(~after_death, pat["death_date"])
    pat["last_contact"] = pat["last_contact"].astype("datetime64[ns]")

    # progression date: first overall PD of the chosen reader (RS)
    pd_dates = (
        resp[resp["overall_response"].eq("PD")].groupby("patient_id")["assessment_date"].min()
    )
    pat["progression_date"] = pat["patient_id"].map(pd_dates).astype("datetime64[ns]")
    if adtte_path is not None:
        tte = _tte_from_adtte(read_domain(adtte_path), adtte_path.name, report)
        pat = pat.merge(tte, on="patient_id", how="left")
        if "_pfs_prog_date" in pat.columns:
            a, b = pat["_pfs_prog_date"], pat["progression_date"]
            differ = (a.notna() != b.notna()) | (a.notna() & b.notna() & (a != b))
            report.add(
                adtte_path.name,
                "ADT",
                "adtte_progression_differs_from_rs",
                int(differ.sum()),
                "ADTTE PFS progression date differs from the first RS overall PD of the "
                "chosen reader (progression_date is taken from RS; the ADaM may come "
                "from another SDTM variant or reader)",
            )
            pat = pat.drop(columns="_pfs_prog_date")

    # subject selection
    _check_unmatched(les, pat, tr_path.name, dm_path.name, allow_unmatched)
    no_start = pat["treatment_start"].isna()
    report.add(
        dm_path.name,
        "RFXSTDTC",
        "subject_not_exposed_dropped",
        int(no_start.sum()),
        "DM subject without a treatment start (screen failure / never dosed): "
        + ", ".join(pat.loc[no_start, "patient_id"].head(10))
        + (" ..." if no_start.sum() > 10 else ""),
    )
    pat = pat[~no_start]
    if subjects == "with_tumor_data":
        has = pat["patient_id"].isin(les["patient_id"])
        report.add(
            dm_path.name,
            "USUBJID",
            "subject_without_tumor_data_dropped",
            int((~has).sum()),
            "subjects=with_tumor_data: no TR record",
        )
        pat = pat[has]
    elif subjects != "exposed":
        raise HPDError(f"subjects={subjects!r}: expected 'exposed' or 'with_tumor_data'")
    orphan = ~les["patient_id"].isin(pat["patient_id"])
    report.add(
        tr_path.name,
        "USUBJID",
        "lesion_rows_without_patient_dropped",
        int(orphan.sum()),
        "TR records of subjects absent from DM or without treatment start: "
        + ", ".join(sorted(les.loc[orphan, "patient_id"].unique())[:10]),
    )
    les = les[~orphan].reset_index(drop=True)
    resp_orphan = ~resp["patient_id"].isin(pat["patient_id"])
    report.add(
        rs_path.name if rs_path else "RS",
        "USUBJID",
        "response_rows_without_patient_dropped",
        int(resp_orphan.sum()),
        "RS overall responses of subjects absent from DM or without treatment start: "
        + ", ".join(sorted(resp.loc[resp_orphan, "patient_id"].astype(str).unique())[:10]),
    )
    resp = resp[~resp_orphan].reset_index(drop=True)

    cols = [c for c in PATIENT_COLUMNS if c in pat.columns]
    pat = pat[cols].sort_values("patient_id", kind="mergesort").reset_index(drop=True)
    return {"patients": pat, "lesions": les, "responses": resp, "report": report.frame()}


def _check_unmatched(
    les: pd.DataFrame, pat: pd.DataFrame, tr_name: str, dm_name: str, allow: bool
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
