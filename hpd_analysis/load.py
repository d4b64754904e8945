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

Plausibility (``params.plausibility``, :class:`~hpd_analysis.params.Plausibility`): the impossible
(a 1e308 mm lesion, a death after the data cut-off, a scan after death, an infinite age) is a
problem; the implausible (diameters that look like centimetres, more than 10 targets on a scan, a
scan years before treatment, ids that differ only in case or leading zeros) is a load-report row
of action ``warning`` naming the rows and the parameter that accepts it. Identifiers are read as
written (``NA`` is an id; only an empty cell is missing), stripped and NFC-normalized. A folder
whose role table is unreadable or misnamed (``lesions_v2.csv``, a FIFO named ``lesions.csv``) is a
problem, never a cohort without measurements. See ``docs/bad-input.md``.

Row numbers: for CSV the physical line number (exact unless a quoted cell spans several lines);
for Excel the sheet row; for Parquet and DataFrames the record position + 2, i.e. the row the
record would occupy once exported to a spreadsheet.

Speed (1 M patients, ~12.7 M lesion rows from Parquet: ~7-8 s, ~2.8 GB peak on 2 cores): contract
text columns are read as categoricals (Parquet dictionaries, CSV ``dtype="category"``) and every
text check runs on the distinct values only (:class:`~hpd_analysis.validate.Raw`); typed Parquet
columns skip text parsing (dates checked with integer arithmetic on the nanoseconds); fixed-value
columns are built from codes; row masks are expanded only when a check fails somewhere; the
canonical tables are assembled once without per-column copies; sorting and duplicate detection
use one integer key and are skipped when the rows are already in order.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .cohort import Cohort
from .errors import CohortError, HPDError, ParameterError, Problem
from .params import NS_PER_DAY, Parameters
from .validate import (
    ISO_DATE_EXPECTED,
    Collector,
    Raw,
    as_bool,
    as_raw,
    blank,
    dedupe_and_sort,
    missing_ids,
    parse_categories,
    parse_dates,
    parse_flags,
    parse_ids,
    parse_numbers,
    show,
    text_column,
)

__all__ = [
    "ROLES",
    "SUPPORTED_SUFFIXES",
    "ALIASES",
    "load_cohort",
    "validate_cohort",
    "check_cohort",
    "check_output",
    "input_paths",
    "read_table",
    "canonical_name",
]

#: table roles of a cohort, in load order
ROLES = ("patients", "lesions", "assessments", "scans")
#: file name endings the loader reads
SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".xlsx")

PATIENT_DATES = [
    "treatment_start",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
]
PATIENT_ECOG = ["ecog_baseline", "ecog_first_eval"]
PATIENT_TIMES = [
    ("os_months", "os_event"),
    ("pfs_months", "pfs_event"),
    ("ttf_months", "ttf_event"),
]
PATIENT_COLUMNS = [
    "patient_id",
    "treatment_start",
    "tumor_type",
    "treatment",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
    *PATIENT_ECOG,
] + [c for pair in PATIENT_TIMES for c in pair]
LESION_COLUMNS = [
    "patient_id",
    "assessment_date",
    "lesion_id",
    "lesion_type",
    "organ",
    "diameter_mm",
    "status",
    "is_lymph_node",
    "not_evaluable",
]
ASSESSMENT_COLUMNS = [
    "patient_id",
    "assessment_date",
    "sld_mm",
    "new_lesions",
    "new_organs",
    "non_target_pd",
    "not_evaluable",
]
SCAN_SLD = ["sld_prebaseline_mm", "sld_baseline_mm", "sld_first_eval_mm"]
SCAN_DATES = ["date_prebaseline", "date_baseline", "date_first_eval"]
SCAN_COLUMNS = [
    "patient_id",
    *SCAN_SLD,
    *SCAN_DATES,
    "new_lesions_first_eval",
    "non_target_pd_first_eval",
    "treatment_start",
]

LESION_TYPES = ["target", "non_target", "new"]
LESION_STATUSES = ["present", "absent", "unequivocal_progression"]
_LESION_TYPE_MAP = {
    "target": "target",
    "t": "target",
    "non_target": "non_target",
    "nontarget": "non_target",
    "nt": "non_target",
    "new": "new",
}
_STATUS_MAP = {
    "present": "present",
    "absent": "absent",
    "unequivocal_progression": "unequivocal_progression",
    "unequivocal": "unequivocal_progression",
    "up": "unequivocal_progression",
    "ne": "__ne__",
    "not_evaluable": "__ne__",
    "not_evaluated": "__ne__",
}
#: RECIST text codes accepted in diameters and sums (upper case, single spaces); the value of
#: "too small to measure" comes from ``Parameters.too_small_to_measure_mm``
TOO_SMALL_CODES = ("TOO SMALL TO MEASURE", "TOO SMALL", "TSTM")
NOT_EVALUABLE_CODES = ("NOT EVALUABLE", "NE", "NOT EVALUATED", "NOT ASSESSED", "UNABLE TO ASSESS")
_LYMPH_RE = r"lymph|\bnodes?\b|\bnodal\b|\bln\b"

_ID = [
    "usubjid",
    "subjid",
    "subject_id",
    "subject",
    "patient",
    "patientid",
    "patient_no",
    "pid",
    "id",
]
_START = [
    "rfxstdtc",
    "trtsdt",
    "trtsdtc",
    "rfstdtc",
    "treatment_start_date",
    "start_date",
    "first_dose_date",
    "c1d1",
]
#: lower-case alias -> canonical name, per role (canonical names map to themselves)
ALIASES: dict[str, dict[str, str]] = {
    "patients": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(_START, "treatment_start"),
        **dict.fromkeys(
            ["rfxendtc", "trtedt", "trtedtc", "treatment_end_date", "end_date"], "treatment_end"
        ),
        **dict.fromkeys(["dthdtc", "dthdt", "date_of_death"], "death_date"),
        **dict.fromkeys(
            [
                "lstalvdt",
                "last_alive_date",
                "last_known_alive",
                "last_contact_date",
                "date_last_contact",
            ],
            "last_contact",
        ),
        **dict.fromkeys(["pd_date", "date_progression", "progression_dt"], "progression_date"),
        **dict.fromkeys(["ecog", "ecog_bl", "ecog_ps"], "ecog_baseline"),
        **dict.fromkeys(["tumour_type", "cancer_type", "histology"], "tumor_type"),
        **dict.fromkeys(["drug", "treatment_name"], "treatment"),
    },
    "lesions": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(
            ["trdtc", "trdt", "adt", "scan_date", "date", "assessment", "visit_date"],
            "assessment_date",
        ),
        **dict.fromkeys(
            ["trlnkid", "tulnkid", "lesion", "lesion_no", "lesion_number"], "lesion_id"
        ),
        **dict.fromkeys(["type", "role", "trgrpid", "lesion_category", "category"], "lesion_type"),
        **dict.fromkeys(["site", "location", "tuloc", "trloc", "organ_site"], "organ"),
        **dict.fromkeys(
            ["diameter", "longest_diameter_mm", "ld_mm", "diameter_mm_"], "diameter_mm"
        ),
        **dict.fromkeys(["longest_diameter_cm", "ld_cm"], "diameter_cm"),
        **dict.fromkeys(["non_target_status", "nt_status", "lesion_status"], "status"),
        **dict.fromkeys(["is_lymph_node", "node", "lymph"], "lymph_node"),
    },
    "assessments": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(["trdtc", "adt", "scan_date", "date", "visit_date"], "assessment_date"),
        **dict.fromkeys(["sld", "sum_diameters_mm", "sod_mm", "target_sum_mm"], "sld_mm"),
        **dict.fromkeys(["n_new_lesions", "new_lesion_count"], "new_lesions"),
        **dict.fromkeys(["n_new_organs"], "new_organs"),
        **dict.fromkeys(["nt_pd", "non_target_progression"], "non_target_pd"),
    },
    "scans": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(_START, "treatment_start"),
        "recist_before": "sld_prebaseline_mm",
        "recist_baseline": "sld_baseline_mm",
        "recist_eval1": "sld_first_eval_mm",
        "scandate_before": "date_prebaseline",
        "scandate_baseline": "date_baseline",
        "scandate_eval1": "date_first_eval",
    },
}
_CANONICAL = {
    "patients": PATIENT_COLUMNS,
    "lesions": [
        *LESION_COLUMNS[:-2],
        "diameter_cm",
        "lymph_node",
        "is_lymph_node",
        "not_evaluable",
    ],
    "assessments": ASSESSMENT_COLUMNS,
    "scans": SCAN_COLUMNS,
}
for _role, _cols in _CANONICAL.items():
    ALIASES[_role].update({c: c for c in _cols})
ALIASES["lesions"]["is_lymph_node"] = "lymph_node"
#: every name (any role) read as text from CSV so that ids and dates are never mangled
_TEXT_COLUMNS = {k for m in ALIASES.values() for k in m}
#: names (any role) of identifier columns: read with no missing-value spellings (``NA`` is an id)
_ID_COLUMNS = {
    k for m in ALIASES.values() for k, v in m.items() if v in ("patient_id", "lesion_id")
}
#: spellings of covariates that map to the names the risk-factor analysis knows (like ``ECOG``
#: -> ``ecog_baseline``); read with pandas' usual types, not as text
COVARIATE_ALIASES: dict[str, str] = {
    "age": "age",
    "age_years": "age",
    "age_at_start": "age",
    "sex": "sex",
    "gender": "sex",
    "ldh": "ldh",
    "ldh_u_l": "ldh",
    "ldh_ul": "ldh",
    "ldh_iu_l": "ldh",
}
_REQUIRED = {
    "patients": ["patient_id", "treatment_start"],
    "lesions": ["patient_id", "assessment_date", "lesion_id", "lesion_type"],
    "assessments": ["patient_id", "assessment_date", "sld_mm"],
    "scans": ["patient_id", *SCAN_SLD, *SCAN_DATES],
}
_EXPECT_FILES = (
    "patients.csv (or .csv.gz/.tsv/.parquet/.xlsx) with lesions.* or assessments.*, "
    "or scans.* (three-scan wide format)"
)


def canonical_name(name: object) -> str:
    """Normalise a column name for matching: lower case, runs of non-alphanumerics -> ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def table_suffix(path: Path) -> str:
    """File type of a table file, lower case (``.csv``, ``.csv.gz``, ``.tsv.gz``, ``.xlsx``...)."""
    name = path.name.lower()
    for suf in (".csv.gz", ".tsv.gz"):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def table_stem(path: Path) -> str:
    """File name of a table without its :func:`table_suffix`, lower case (its role name)."""
    return path.name[: len(path.name) - len(table_suffix(path))].lower()


# --------------------------------------------------------------------------------------------
# reading


def read_table(path: str | Path, role: str | None = None) -> pd.DataFrame:
    """Read one table file (CSV, CSV.GZ, TSV, Parquet or Excel) into a DataFrame.

    Columns whose name matches a contract column or alias are read as text (ids and dates are
    never reinterpreted); other columns get pandas' usual types. For a workbook with several
    sheets, ``role`` (e.g. ``"lesions"``) picks the sheet of that name. Fully empty rows are
    dropped. Raises :class:`CohortError` (never a pandas error) when the file cannot be read as a
    table: missing, empty, binary, HTML, not UTF-8, malformed.
    """
    col = Collector()
    df, _label = read_raw_table(Path(path), role, col, str(path))
    if col.problems or df is None:
        raise CohortError(col.ordered())
    return _plain(df).reset_index(drop=True)


def read_raw_table(
    path: Path, role: str | None, col: Collector, label: str
) -> tuple[pd.DataFrame | None, str]:
    """Read ``path``; index = spreadsheet row numbers. Returns (frame or None, file label)."""
    if not path.exists():
        col.add(label, None, None, "file not found", _EXPECT_FILES)
        return None, label
    if path.is_dir():
        col.add(label, None, None, "is a folder, not a table file", "a table file")
        return None, label
    suffix = table_suffix(path)
    try:
        if suffix == ".parquet":
            return _read_parquet(path, col, label), label
        if suffix == ".xlsx":
            return _read_excel(path, role, col, label)
        if suffix in (".xls", ".xlsm", ".ods"):
            col.add(
                label,
                None,
                None,
                f"{suffix} workbooks are not supported",
                "an .xlsx workbook, or CSV/Parquet",
            )
            return None, label
        if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt"):
            return _read_text(path, suffix, col, label), label
    except CohortError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user problem, not a crash
        col.add(
            label,
            None,
            None,
            f"could not be read as a {suffix} table: {_first_line(exc)}",
            "a valid " + suffix + " file",
        )
        return None, label
    col.add(
        label,
        None,
        None,
        f"unsupported file type {suffix or '(no extension)'!r}",
        "one of " + ", ".join(SUPPORTED_SUFFIXES),
    )
    return None, label


#: ``DataFrame.attrs`` key listing the columns the reader made categorical (not the user)
_OWN_CATEGORICALS = "hpd_reader_categoricals"
#: ``DataFrame.attrs`` key: the delimiter of a text table (a ``;`` file may use decimal commas)
_DELIMITER = "hpd_delimiter"


def _kept(df: pd.DataFrame, c: str) -> pd.Series:
    """A non-contract column as the user gave it (reader-made categoricals back to text), as a
    copy: the canonical tables never share memory with a caller's DataFrame."""
    if c in df.attrs.get(_OWN_CATEGORICALS, ()) and isinstance(df[c].dtype, pd.CategoricalDtype):
        return df[c].astype(object).where(df[c].notna(), np.nan)
    return df[c].copy()


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the reader-made categoricals turned back into text columns."""
    own = [c for c in df.attrs.get(_OWN_CATEGORICALS, ()) if c in df.columns]
    if own:
        df = df.copy()
        for c in own:
            df[c] = _kept(df, c)
    return df


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_text(path: Path, suffix: str, col: Collector, label: str) -> pd.DataFrame | None:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            col.add(
                label,
                None,
                None,
                f"is not a readable gzip file ({_first_line(exc)})",
                "a complete .csv.gz file",
            )
            return None
    elif suffix.endswith(".gz"):
        col.add(
            label,
            None,
            None,
            "is named .gz but is not gzip-compressed",
            "a gzip-compressed CSV, or rename it to .csv",
        )
        return None
    if not data or data.isspace():  # (not data.strip(): that copies the whole file)
        col.add(label, None, None, "file is empty", "a header row and one row per record")
        return None
    if data[:4] == b"PK\x03\x04":
        col.add(
            label,
            None,
            None,
            "is a ZIP/Excel workbook, not a CSV text table",
            "rename it to .xlsx, or export it as CSV UTF-8",
        )
        return None
    if data[:4] == b"PAR1":
        col.add(
            label, None, None, "is a Parquet file, not a CSV text table", "rename it to .parquet"
        )
        return None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        col.add(label, None, None, "is UTF-16 encoded text", "UTF-8 text (save as 'CSV UTF-8')")
        return None
    if b"\x00" in data[:65536]:
        col.add(label, None, None, "contains binary data, not a text table", "a CSV text file")
        return None
    bad = _utf8_error(data)
    if bad is not None:
        line = data.count(b"\n", 0, bad) + 1
        col.add(
            label,
            line,
            None,
            f"byte 0x{data[bad]:02x} is not valid UTF-8 (the file is probably "
            "Latin-1/Windows-1252 encoded)",
            "UTF-8 text: re-save the file as 'CSV UTF-8'",
        )
        return None
    head = data[:65536].lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<table")):
        col.add(
            label,
            None,
            None,
            "looks like an HTML/XML page, not a CSV table",
            "a CSV text file (download the file itself, not the web page)",
        )
        return None
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = data.find(b"\n", start)
    header_line = data[start : end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    sep = "\t" if suffix.startswith(".tsv") else ","
    first_row = 2
    m_sep = re.fullmatch(r"\s*sep=(.)\s*", header_line, flags=re.IGNORECASE)
    if m_sep:  # Excel's "sep=;" first line: the delimiter, then the real header
        sep = m_sep.group(1)
        data = data[end + 1 :] if end >= 0 else b""
        first_row = 3
        col.note(
            label,
            None,
            "delimiter",
            0,
            f"Excel's first line 'sep={sep}' read as the delimiter; the header is line 2",
        )
        if not data.strip():
            col.add(
                label,
                None,
                None,
                "has no header after its 'sep=' line",
                "a header row and one row per record",
            )
            return None
        end = data.find(b"\n")
        header_line = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
        start = 0
    if sep == "," and not m_sep and "," not in header_line:
        if ";" in header_line:
            sep = ";"
        elif "\t" in header_line:
            sep = "\t"
        if sep != ",":
            col.note(label, None, "delimiter", 0, f"fields separated by {sep!r}, not commas")
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=sep))]
    if not _check_header(header, col, label):
        return None
    # contract columns are read as categoricals of their text: no per-row Python strings, and
    # the codes are the factorization the checks need (see validate.Raw)
    dtypes = {h: "category" for h in header if canonical_name(h) in _TEXT_COLUMNS}
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            dtype=dtypes,
            encoding="utf-8-sig",
            skip_blank_lines=False,
            low_memory=False,
            skipinitialspace=False,
            **_na_options(header),
        )
    except pd.errors.ParserError as exc:
        msg = _first_line(exc)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            col.add(
                label,
                int(m.group(2)),
                None,
                f"has {m.group(3)} fields but the header has {m.group(1)}",
                f"the same number of fields on every line (quote cells that contain {sep!r})",
            )
        else:
            col.add(label, None, None, f"is not a well-formed CSV table: {msg}", "a CSV text file")
        return None
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(first_row, len(df) + first_row)
    df.attrs[_OWN_CATEGORICALS] = [str(h).strip() for h in dtypes]
    df.attrs[_DELIMITER] = sep
    return _drop_empty_rows(df, col, label)


def _na_options(header: list[str]) -> dict[str, object]:
    """``read_csv``/``read_excel`` NA options: identifier columns keep every text as written
    (an id ``NA``, ``None`` or ``nan`` is an id, only an empty cell is missing); the other
    columns get pandas' usual missing-value spellings."""
    from pandas._libs.parsers import STR_NA_VALUES

    usual = sorted(STR_NA_VALUES)
    return {
        "keep_default_na": False,
        "na_values": {h: ([""] if canonical_name(h) in _ID_COLUMNS else usual) for h in header},
    }


def _utf8_error(data: bytes, chunk: int = 1 << 24) -> int | None:
    """Offset of the first byte of ``data`` that is not valid UTF-8, else None.

    Validated in 16 MB chunks with an incremental decoder, so a large file is never held twice
    in memory as text.
    """
    dec = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for i in range(0, len(data), chunk):
        pending = len(dec.getstate()[0])  # bytes of an unfinished character carried over
        try:
            dec.decode(view[i : i + chunk], final=i + chunk >= len(data))
        except UnicodeDecodeError as exc:
            return i - pending + exc.start
    return None


def _check_header(header: list[str], col: Collector, label: str) -> bool:
    ok = True
    if any(h == "" for h in header):
        col.add(label, 1, None, "the header has an empty column name", "a name for every column")
        ok = False
    names = [canonical_name(h) for h in header]
    seen: dict[str, str] = {}
    for h, n in zip(header, names, strict=True):
        if n and n in seen:
            col.add(label, 1, h, f"column name repeats {seen[n]!r}", "unique column names")
            ok = False
        seen.setdefault(n, h)
    return ok


def _drop_empty_rows(df: pd.DataFrame, col: Collector, label: str) -> pd.DataFrame:
    if len(df.columns):
        cand = df.iloc[:, 0].isna().to_numpy()
        empty = np.zeros(len(df), bool)
        if cand.any():
            empty[cand] = df[cand].isna().all(axis=1).to_numpy()
        if empty.any():
            col.note(
                label,
                None,
                "dropped_empty_rows",
                int(empty.sum()),
                "rows with every cell empty dropped",
            )
            df = df[~empty]
    return df


def _read_parquet(path: Path, col: Collector, label: str) -> pd.DataFrame | None:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PAR1":
        col.add(
            label,
            None,
            None,
            "is not a Parquet file",
            "a Parquet file written by pandas/pyarrow/R arrow (or rename it to its real type)",
        )
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    own = [
        f.name
        for f in schema
        if canonical_name(f.name) in _TEXT_COLUMNS
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    # split_blocks/self_destruct: one block per column and Arrow buffers freed as converted
    # (no 2-D consolidation copy, lower peak memory)
    df = pq.read_table(path, read_dictionary=own).to_pandas(split_blocks=True, self_destruct=True)
    pa.default_memory_pool().release_unused()  # give the Arrow buffers back before checking
    df.attrs[_OWN_CATEGORICALS] = own
    if not _check_header([str(c) for c in df.columns], col, label):
        return None
    df = df.reset_index(drop=True)
    df.index = pd.RangeIndex(2, len(df) + 2)
    return _drop_empty_rows(df, col, label)


def _read_excel(
    path: Path, role: str | None, col: Collector, label: str
) -> tuple[pd.DataFrame | None, str]:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        col.add(label, None, None, "is not an Excel .xlsx workbook", "an .xlsx workbook")
        return None, label
    with pd.ExcelFile(path, engine="openpyxl") as xl:
        sheets = [str(s) for s in xl.sheet_names]
        sheet = _pick_sheet(sheets, role)
        if sheet is None:
            col.add(
                label,
                None,
                None,
                f"workbook has several sheets ({', '.join(map(repr, sheets))}) and none is "
                f"named {role or 'after a table role'!r}",
                f"a sheet named {role!r} or a workbook with one sheet"
                if role
                else "a workbook with one sheet",
            )
            return None, label
        head = [str(c) for c in xl.parse(sheet, nrows=0).columns]
        df = xl.parse(sheet, dtype=object, **_na_options(head))
    if len(sheets) > 1:
        label = f"{label}[{sheet}]"
    # unnamed, entirely empty columns are Excel formatting residue
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:") and df[c].isna().all()]
    df = df.drop(columns=unnamed)
    if not _check_header([str(c).strip() for c in df.columns], col, label):
        return None, label
    df.columns = [str(c).strip() for c in df.columns]
    df = df.map(lambda v: v.strip() if isinstance(v, str) else v) if len(df) else df
    df = df.replace("", np.nan) if len(df) else df
    df.index = pd.RangeIndex(2, len(df) + 2)
    return _drop_empty_rows(df, col, label), label


def _pick_sheet(sheets: list[str], role: str | None) -> str | None:
    if role:
        for s in sheets:
            if canonical_name(s) in (role, role.rstrip("s")):
                return s
    if len(sheets) == 1:
        return sheets[0]
    return None


def file_sha256(path: str | Path) -> str:
    """SHA-256 checksum (hex) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# finding the tables


def _discover(path: Path, col: Collector) -> dict[str, tuple[Path, str | None]]:
    """Role -> (file, sheet role) for a cohort folder, a single file or a role-sheet workbook."""
    label = str(path)
    if not path.exists():
        col.add(label, None, None, "no such file or folder", _EXPECT_FILES)
        return {}
    if path.is_file():
        stem = table_stem(path)
        if stem == "patients" and table_suffix(path) in SUPPORTED_SUFFIXES:
            # patients.csv given instead of its folder: the tables beside it are read too
            beside = _scan_folder(path.parent, col, quiet_patients=True)
            beside.pop("patients", None)
            if beside:
                col.note(
                    label,
                    None,
                    "read_folder_tables",
                    0,
                    f"{path.name} was given: "
                    + ", ".join(p.name for p, _ in beside.values())
                    + " beside it read too (give the folder, or the patients file in a "
                    "folder of its own, to be explicit)",
                )
            return {"patients": (path, "patients"), **beside}
        if stem in ROLES:
            return {stem: (path, stem)}
        if table_suffix(path) == ".xlsx":
            try:
                with pd.ExcelFile(path, engine="openpyxl") as xl:
                    sheets = {canonical_name(s) for s in xl.sheet_names}
            except Exception:  # noqa: BLE001 - reported by the reader below
                sheets = set()
            found = {r: (path, r) for r in ROLES if r in sheets or r.rstrip("s") in sheets}
            if found:
                return found
        # a lone file: the wide scans table if it has its columns, else a patients table
        try:
            head = _peek_columns(path)
        except Exception:  # noqa: BLE001 - the reader reports the real problem
            head = set()
        wide = {k for k, v in ALIASES["scans"].items() if v in SCAN_SLD}
        return {"scans" if head & wide else "patients": (path, None)}
    if not path.is_dir():
        col.add(
            label,
            None,
            None,
            f"is {_kind(path)}, not a table file or a cohort folder",
            _EXPECT_FILES,
        )
        return {}
    return _scan_folder(path, col)


def _kind(p: Path) -> str:
    """What a path that is not a regular file is, in words."""
    import stat

    if p.is_symlink() and not p.exists():
        return "a broken symbolic link"
    try:
        mode = p.stat().st_mode
    except OSError:
        return "unreadable"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


#: a file name that looks like a role's table under another name: ``lesions (1).csv``,
#: ``lesions_v2.csv``, ``Lesion.txt``, ``lesions-old.xlsx`` (canonical stem = role or its
#: singular, then anything after ``_``)
def _near_role(name: str) -> str | None:
    stem = canonical_name(name.split(".", 1)[0] if not name.startswith(".") else name)
    for role in ROLES:
        single = role.rstrip("s")
        if stem in (role, single) or stem.startswith((role + "_", single + "_")):
            return role
    return None


def _scan_folder(
    path: Path, col: Collector, quiet_patients: bool = False
) -> dict[str, tuple[Path, str | None]]:
    """Role -> (file, role) for a cohort folder. A role file that is not a readable table (a
    folder, FIFO or broken link named ``lesions.csv``, an unsupported type) is a problem, and
    so is a table under another name (``lesions_v2.csv``) when the role's own file is absent."""
    label = str(path)
    found: dict[str, list[Path]] = {}
    #: role -> (file name, why it cannot be read) for role-named entries that are not tables,
    #: and for tables under another name
    unreadable: dict[str, list[tuple[str, str]]] = {}
    misnamed: dict[str, list[str]] = {}
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        col.add(
            label,
            None,
            None,
            f"cannot be listed ({type(exc).__name__})",
            "a readable cohort folder",
        )
        return {}
    for p in entries:
        if p.name.startswith((".", "~$")):
            continue
        role = _near_role(p.name)
        if role is None or (quiet_patients and role == "patients"):
            continue
        if table_stem(p) != role:
            misnamed.setdefault(role, []).append(p.name)
        elif table_suffix(p) in SUPPORTED_SUFFIXES and p.is_file():
            found.setdefault(role, []).append(p)
        elif p.is_file():
            unreadable.setdefault(role, []).append(
                (p.name, f"has the unsupported file type {table_suffix(p) or '(no extension)'!r}")
            )
        else:
            unreadable.setdefault(role, []).append((p.name, "is " + _kind(p)))
    out: dict[str, tuple[Path, str | None]] = {}
    for role, files in found.items():
        if len(files) > 1:
            col.add(
                label,
                None,
                None,
                f"several {role} tables: {', '.join(f.name for f in files)}",
                f"one {role}.* file",
            )
        else:
            out[role] = (files[0], role)
    measured = {"lesions", "assessments", "scans"} & set(found)
    for role in ROLES:
        bad, other = unreadable.get(role, []), misnamed.get(role, [])
        if not bad and not other:
            continue
        # needed: the role's own table is absent and nothing replaces it
        needed = role not in found and (
            role == "patients" and "scans" not in found or role != "patients" and not measured
        )
        if not needed:
            names = [n for n, _ in bad] + other
            col.note(
                label,
                None,
                "ignored_files",
                len(names),
                f"{', '.join(names)} not read (the cohort's tables are "
                f"{', '.join(p.name for p, _ in out.values())})",
            )
            continue
        for name, why in bad:
            col.add(
                str(path / name),
                None,
                None,
                f"{why}: the {role} table cannot be read",
                f"{role}.csv (or "
                + ", ".join(SUPPORTED_SUFFIXES[1:])
                + ") as a table file: export it as CSV UTF-8 or .xlsx",
            )
        if other:
            col.add(
                label,
                None,
                None,
                f"found {', '.join(other)} but no {role} table",
                f"{role}.csv (or .parquet/.xlsx): rename it to {role}.csv, or pass the "
                f"file (load_cohort({role}=...))",
            )
    if quiet_patients:
        return out
    if not found and not unreadable and not misnamed:
        col.add(label, None, None, "no cohort tables found in this folder", _EXPECT_FILES)
    elif "patients" in out and not measured and not col.problems:
        col.note(
            label,
            None,
            "no_measurements",
            0,
            "only a patients table: no tumour measurements, no patient can be classified "
            "(survival and risk-factor analyses only); expected lesions.* or "
            "assessments.* beside it to classify",
        )
    return out


def _peek_columns(path: Path) -> set[str]:
    suffix = table_suffix(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    elif suffix == ".xlsx":
        names = list(pd.read_excel(path, nrows=0, engine="openpyxl").columns)
    else:
        names = list(pd.read_csv(path, nrows=0, sep=None, engine="python").columns)
    return {canonical_name(n) for n in names}


# --------------------------------------------------------------------------------------------
# the canonical tables


def _rename(df: pd.DataFrame, role: str, col: Collector, label: str) -> pd.DataFrame:
    aliases = {**COVARIATE_ALIASES, **ALIASES[role]} if role == "patients" else ALIASES[role]
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    dropped: list[str] = []
    for c in df.columns:
        canon = aliases.get(canonical_name(c))
        if canon is None:
            continue
        if canon in taken:
            col.add(
                label,
                1,
                canon,
                f"both {taken[canon]!r} and {str(c)!r} give {canon}",
                "only one of these columns",
            )
            dropped.append(c)  # checked no further: the problem above stops the load
            continue
        taken[canon] = str(c)
        if c != canon:
            mapping[c] = canon
    if mapping:
        col.note(
            label, None, "renamed", len(df), ", ".join(f"{k}->{v}" for k, v in mapping.items())
        )
    if dropped:
        df = df.drop(columns=dropped)
    if mapping:
        df.columns = [mapping.get(c, c) for c in df.columns]
    return df


def _require(df: pd.DataFrame, role: str, col: Collector, label: str, required: list[str]) -> bool:
    if len(df) == 0:
        col.add(
            label,
            None,
            None,
            "table has no data rows",
            f"at least one {role[:-1] if role.endswith('s') else role} row",
        )
        return False
    missing = [c for c in required if c not in df.columns]
    known = {*ALIASES[role].values(), *COVARIATE_ALIASES.values()}
    if missing and not any(str(c) in known for c in df.columns):
        # nothing of it is a cohort column: probably not a cohort table (e.g. a system file
        # given by mistake), so none of its content is echoed
        col.add(
            label,
            1,
            None,
            f"no column of this file is a {role} column (it is probably not a cohort table)",
            "a header with " + ", ".join(required) + " (or their aliases)",
        )
        return False
    found = ", ".join(map(str, df.columns[:12])) + (" …" if len(df.columns) > 12 else "")
    for c in missing:
        col.add(
            label,
            1,
            c,
            f"required column {c} is missing (found: {found})",
            f"a column named {c} or one of its aliases",
        )
    return not missing


def _flag_date_after(
    col: Collector, label: str, table: pd.DataFrame, column: str, bound: str, word: str
) -> None:
    """One problem per row whose ``column`` date is after its ``bound`` date (both given):
    ``<word> <date> is after <bound>`` (expected ``<column> on or before <bound>``)."""
    after = table[column].notna() & table[bound].notna() & (table[column] > table[bound])
    col.add_rows(
        label,
        column,
        after,
        lambda v: f"{word} {v} is after {bound}",
        f"{column} on or before {bound}",
        values=_iso(table[column], after),
    )


def _iso(dates: pd.Series, mask: pd.Series) -> pd.Series:
    """ISO text of the dates where ``mask`` holds (only those: messages need no more)."""
    out = pd.Series(None, index=dates.index, dtype=object)
    if mask.any():
        out[mask] = dates[mask].dt.strftime("%Y-%m-%d")
    return out


class _Out(dict):
    """The columns of a canonical table being built, as Series on the raw table's index.

    ``DataFrame.__setitem__`` copies every column it receives; collecting the columns here and
    building the frame once with ``copy=False`` (:meth:`frame`) avoids a copy per column.
    """

    def __init__(self, index: pd.Index):
        super().__init__()
        self.index = index

    @property
    def columns(self) -> list[str]:
        return list(self.keys())

    def __setitem__(self, name: str, value: object) -> None:
        if isinstance(value, pd.Series):
            if value.index is not self.index:
                if not value.index.equals(self.index):
                    value = value.reindex(self.index)
                value = pd.Series(value.array, index=self.index, copy=False)
        elif value is None:
            value = pd.Series(None, index=self.index, dtype=object)
        else:
            value = pd.Series(value, index=self.index, copy=False)
        super().__setitem__(name, value)

    def frame(self, order: list[str] | None = None) -> pd.DataFrame:
        """The table (columns in ``order``, default insertion order), sharing the arrays."""
        names = order if order is not None else list(self)
        return pd.DataFrame({c: self[c] for c in names}, index=self.index, copy=False)


class _RawColumns:
    """Raw columns of one table, each factorized once (see :class:`Raw`) on first use."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self._cache: dict[str, Raw] = {}

    def __getitem__(self, name: str) -> Raw:
        if name not in self._cache:
            self._cache[name] = Raw(self.df[name])
        return self._cache[name]


def _integers(
    s: pd.Series | Raw,
    label: str,
    column: str,
    col: Collector,
    expected: str,
    maximum: float | None = None,
) -> pd.Series:
    s = as_raw(s)
    vals = parse_numbers(s, label, column, col, expected, minimum=0)
    raw = s.s
    frac = vals.notna() & (vals != np.floor(vals))
    col.add_rows(
        label, column, frac, lambda v: f"{show(v)} is not a whole number", expected, values=raw
    )
    bad = frac
    if maximum is not None:
        high = vals.notna() & (vals > maximum)
        col.add_rows(
            label, column, high, lambda v: f"{show(v)} is above {maximum:g}", expected, values=raw
        )
        bad = bad | high
    return vals.where(~bad).astype("Int64")


def _patients(
    df: pd.DataFrame, label: str, col: Collector, raws: dict[str, _RawColumns] | None = None
) -> pd.DataFrame | None:
    if not _require(df, "patients", col, label, _REQUIRED["patients"]):
        return None
    R = _RawColumns(df)
    if raws is not None:
        raws["patients"] = R
    out = _Out(df.index)
    out["patient_id"] = parse_ids(R["patient_id"], label, "patient_id", col)
    col.add_rows(
        label,
        "patient_id",
        missing_ids(R["patient_id"]),
        "missing patient_id",
        "a non-empty identifier",
    )
    for c in PATIENT_DATES:
        if c in df.columns:
            out[c] = parse_dates(R[c], label, c, col)
    col.add_rows(
        label,
        "treatment_start",
        blank(R["treatment_start"]),
        "missing treatment_start",
        ISO_DATE_EXPECTED + " (first dose)",
    )
    for c in ("tumor_type", "treatment"):
        if c in df.columns:
            out[c] = text_column(R[c])
    for c in PATIENT_ECOG:
        if c in df.columns:
            out[c] = _integers(R[c], label, c, col, "an ECOG score 0, 1, 2, 3 or 4", maximum=4)
    for months, event in PATIENT_TIMES:
        if months in df.columns:
            out[months] = parse_numbers(R[months], label, months, col, "a time in months ≥ 0")
        if event in df.columns:
            out[event] = parse_flags(
                R[event], label, event, col, "0 (censored) or 1 (event); true/false also accepted"
            )
        if (months in df.columns) != (event in df.columns):
            have, lack = (months, event) if months in df.columns else (event, months)
            col.add(label, 1, lack, f"{have} is given without {lack}", f"both {months} and {event}")
        elif months in df.columns:
            half = out[months].notna() != out[event].notna()
            col.add_rows(
                label,
                event,
                half & out[event].isna(),
                f"missing {event}",
                f"{event} whenever {months} is given",
            )
            col.add_rows(
                label,
                months,
                half & out[months].isna(),
                f"missing {months}",
                f"{months} whenever {event} is given",
            )
    start = out["treatment_start"]
    for c, what in (
        ("death_date", "death"),
        ("last_contact", "last contact"),
        ("progression_date", "progression"),
        ("treatment_end", "treatment end"),
    ):
        if c in out.columns:
            before = out[c].notna() & start.notna() & (out[c] < start)
            col.add_rows(
                label,
                c,
                before,
                lambda v, what=what: f"{what} {v} is before treatment_start",
                "a date on or after treatment_start",
                values=_iso(out[c], before),
            )
    if "death_date" in out.columns and "last_contact" in out.columns:
        _flag_date_after(col, label, out, "last_contact", "death_date", "last contact")
    known = set(out.columns) | {"patient_id"}
    for c in df.columns:
        if c not in known and c not in PATIENT_COLUMNS:
            out[c] = _covariate(df, c, label, col)
    order = [c for c in PATIENT_COLUMNS if c in out.columns]
    order += [c for c in out.columns if c not in order]
    table = dedupe_and_sort(
        label,
        out.frame(order),
        ["patient_id"],
        col,
        lambda d: "patient " + d["patient_id"].astype(str),
        sort=False,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )
    return table


def _lesions(
    df: pd.DataFrame,
    label: str,
    col: Collector,
    params: Parameters,
    raws: dict[str, _RawColumns] | None = None,
) -> pd.DataFrame | None:
    if not _require(df, "lesions", col, label, _REQUIRED["lesions"]):
        return None
    R = _RawColumns(df)
    if raws is not None:
        raws["lesions"] = R
    out = _Out(df.index)
    out["patient_id"] = parse_ids(R["patient_id"], label, "patient_id", col)
    col.add_rows(
        label,
        "patient_id",
        missing_ids(R["patient_id"]),
        "missing patient_id",
        "the patient's identifier",
    )
    out["assessment_date"] = parse_dates(R["assessment_date"], label, "assessment_date", col)
    col.add_rows(
        label,
        "assessment_date",
        blank(R["assessment_date"]),
        "missing assessment_date",
        ISO_DATE_EXPECTED,
    )
    out["lesion_id"] = parse_ids(R["lesion_id"], label, "lesion_id", col)
    col.add_rows(
        label,
        "lesion_id",
        missing_ids(R["lesion_id"]),
        "missing lesion_id",
        "an identifier stable across the patient's scans",
    )
    out["lesion_type"] = parse_categories(
        R["lesion_type"],
        label,
        "lesion_type",
        col,
        _LESION_TYPE_MAP,
        "target, non_target or new",
        categories=LESION_TYPES,
    )
    col.add_rows(
        label,
        "lesion_type",
        blank(R["lesion_type"]),
        "missing lesion_type",
        "target, non_target or new",
    )
    out["organ"] = text_column(R["organ"]) if "organ" in df.columns else None

    # diameters: mm, or cm converted; RECIST text codes
    codes = {
        **dict.fromkeys(TOO_SMALL_CODES, params.too_small_to_measure_mm),
        **dict.fromkeys(NOT_EVALUABLE_CODES, np.nan),
    }
    is_target = pd.Series(out["lesion_type"].cat.codes.to_numpy() == 0, index=df.index)
    ne = pd.Series(False, index=df.index)
    if "diameter_mm" in df.columns and "diameter_cm" in df.columns:
        col.add(
            label,
            1,
            "diameter_cm",
            "both diameter_mm and diameter_cm are given",
            "one diameter column",
        )
    dcol = (
        "diameter_mm"
        if "diameter_mm" in df.columns
        else ("diameter_cm" if "diameter_cm" in df.columns else None)
    )
    if dcol is None:
        out["diameter_mm"] = np.nan
        if is_target.any():
            col.add(
                label,
                1,
                "diameter_mm",
                "required column diameter_mm is missing (the table has target lesions)",
                "diameter_mm (or diameter_cm)",
            )
    else:
        masks: list[pd.Series] = []
        expected = f"a diameter ≥ 0 in {dcol[-2:]}, or TOO SMALL TO MEASURE / NOT EVALUABLE"
        diam = parse_numbers(
            R[dcol], label, dcol, col, expected, minimum=0, codes=codes, code_mask_out=masks
        )
        small, ne = masks[0], masks[1]
        if dcol == "diameter_cm":
            measured = diam.notna() & ~small
            diam = diam.where(~measured, diam * 10.0)
            col.note(
                label,
                "diameter_cm",
                "converted_units",
                int(measured.sum()),
                "diameter_cm × 10 -> diameter_mm",
            )
        if small.any():
            col.note(
                label,
                dcol,
                "mapped_text_code",
                int(small.sum()),
                f"'TOO SMALL TO MEASURE' -> {params.too_small_to_measure_mm:g} mm "
                "(Parameters.too_small_to_measure_mm)",
            )
        if ne.any():
            col.note(
                label,
                dcol,
                "mapped_text_code",
                int(ne.sum()),
                "'NOT EVALUABLE'/'NE' -> NaN with not_evaluable = True",
            )
        out["diameter_mm"] = diam.astype("float64")

    if "status" in df.columns:
        # "__ne__" is a fourth category: rows coded NE become missing with not_evaluable
        status = parse_categories(
            R["status"],
            label,
            "status",
            col,
            _STATUS_MAP,
            "present, absent or unequivocal_progression",
            categories=[*LESION_STATUSES, "__ne__"],
        )
        codes = status.cat.codes.to_numpy()
        status_ne = codes == len(LESION_STATUSES)
        if status_ne.any():
            col.note(
                label,
                "status",
                "mapped_text_code",
                int(status_ne.sum()),
                "status 'NE'/'not evaluable' -> NA with not_evaluable = True",
            )
            ne = ne | status_ne
            codes = np.where(status_ne, -1, codes).astype(codes.dtype)
        out["status"] = pd.Categorical.from_codes(codes, categories=LESION_STATUSES)
    else:
        out["status"] = pd.Categorical.from_codes(
            np.full(len(df), -1, np.int8), categories=LESION_STATUSES
        )
    if "lymph_node" in df.columns:
        flag = parse_flags(R["lymph_node"], label, "lymph_node", col)
        by_organ = _organ_is_node(R, df.index)
        out["is_lymph_node"] = flag.astype("boolean").fillna(by_organ).astype(bool)
    else:
        out["is_lymph_node"] = _organ_is_node(R, df.index)
    if "not_evaluable" in df.columns:
        given = parse_flags(R["not_evaluable"], label, "not_evaluable", col)
        ne = ne | as_bool(given.eq(1)).to_numpy()
    ne = np.asarray(ne, dtype=bool)
    out["not_evaluable"] = ne
    if ne.any():
        out["diameter_mm"] = out["diameter_mm"].where(~ne)

    if dcol is not None:
        no_diam = is_target & blank(R[dcol]) & ~ne
        col.add_rows(
            label,
            dcol,
            no_diam,
            "target lesion without a diameter",
            "a diameter ≥ 0, or NOT EVALUABLE / NE when it could not be measured",
        )
    for c in df.columns:
        if c not in out.columns and c not in ("diameter_mm", "diameter_cm", "lymph_node", "status"):
            out[c] = _kept(df, c)
    out = out.frame()
    _note_organ_changes(out, R, label, col)
    out = dedupe_and_sort(
        label,
        out,
        ["patient_id", "assessment_date", "lesion_id"],
        col,
        lambda d: (
            "lesion "
            + d["lesion_id"].astype(str)
            + " of patient "
            + d["patient_id"].astype(str)
            + " on "
            + d["assessment_date"].dt.strftime("%Y-%m-%d")
        ),
        sort=True,
        key_codes={
            "patient_id": R["patient_id"].canon_codes,
            "lesion_id": R["lesion_id"].canon_codes,
        },
    )
    return out


def _id_codes(R: _RawColumns, out: pd.DataFrame, name: str) -> np.ndarray:
    """Integer codes (-1 = missing) of a canonical id column, reusing the reader's when known."""
    codes = R[name].canon_codes
    if codes is None:
        codes, _ = pd.factorize(out[name], use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _note_organ_changes(out: pd.DataFrame, R: _RawColumns, label: str, col: Collector) -> None:
    """Load-report note when a lesion id names different organs across a patient's scans.

    Not an error: organ is free text and is not used for the sum of diameters, but a lesion id
    reused for another lesion would make the lesion-level tracking wrong, so the user is told
    (organs compared case- and space-insensitively; O(n), no sort).
    """
    if "organ" not in R.df.columns or not R["organ"].is_object:
        return
    r = R["organ"]
    norm = r.u_text.str.lower().str.replace(r"\s+", " ", regex=True)
    u_codes, u_names = pd.factorize(norm, use_na_sentinel=True)
    if len(u_names) < 2:
        return
    org = r.values(u_codes.astype(np.int32), np.int32(-1))
    pc, lc = _id_codes(R, out, "patient_id"), _id_codes(R, out, "lesion_id")
    ok = (org >= 0) & (pc >= 0) & (lc >= 0)
    pos = None if ok.all() else np.flatnonzero(ok)
    if pos is not None:
        org, pc, lc = org[pos], pc[pos], lc[pos]
    if not len(org):
        return
    n_les = int(lc.max()) + 1
    key = pc * n_les + lc
    if (int(pc.max()) + 1) * n_les > 4 * len(key) + 1024:
        key, _ = pd.factorize(key)
    first_org = np.empty(int(key.max()) + 1, np.int32)
    first_org[key[::-1]] = org[::-1]  # the last write wins: each lesion's first organ
    diff = org != first_org[key]
    if not diff.any():
        return
    # the rare case with changes: positions of each changed row and of its lesion's first row
    first = np.empty(len(first_org), np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)
    rows = np.flatnonzero(diff)
    firsts = first[key[rows]]
    if pos is not None:
        rows, firsts = pos[rows], pos[firsts]
    n_lesions = len(np.unique(key[np.flatnonzero(diff)]))
    organ, pid, lid = (
        out["organ"].to_numpy(),
        out["patient_id"].to_numpy(),
        out["lesion_id"].to_numpy(),
    )
    spreadsheet = out.index.to_numpy()
    i, j = rows[0], firsts[0]
    col.note(
        label,
        "organ",
        "lesion_organ_changed",
        int(diff.sum()),
        f"{n_lesions} lesion id(s) name different organs across a patient's scans, e.g. "
        f"lesion {lid[i]} of patient {pid[i]}: {organ[j]!r} on row {spreadsheet[j]}, "
        f"{organ[i]!r} on row {spreadsheet[i]}; kept as given (check that lesion ids are "
        "not reused for another lesion)",
    )


def _organ_is_node(R: _RawColumns, index: pd.Index) -> pd.Series:
    """True where the organ names a lymph node (matched on the distinct organ names)."""
    if "organ" not in R.df.columns:
        return pd.Series(np.zeros(len(index), bool), index=index)
    r = R["organ"]
    if not r.is_object:
        return pd.Series(np.zeros(len(index), bool), index=index)
    u = r.u_text.str.lower().str.contains(_LYMPH_RE, regex=True).eq(True).to_numpy(bool)
    return r.rows(u)


def _assessments(
    df: pd.DataFrame,
    label: str,
    col: Collector,
    params: Parameters,
    raws: dict[str, _RawColumns] | None = None,
) -> pd.DataFrame | None:
    if not _require(df, "assessments", col, label, _REQUIRED["assessments"]):
        return None
    R = _RawColumns(df)
    if raws is not None:
        raws["assessments"] = R
    out = pd.DataFrame(index=df.index)
    out["patient_id"] = parse_ids(R["patient_id"], label, "patient_id", col)
    col.add_rows(
        label,
        "patient_id",
        missing_ids(R["patient_id"]),
        "missing patient_id",
        "the patient's identifier",
    )
    out["assessment_date"] = parse_dates(R["assessment_date"], label, "assessment_date", col)
    col.add_rows(
        label,
        "assessment_date",
        blank(R["assessment_date"]),
        "missing assessment_date",
        ISO_DATE_EXPECTED,
    )
    masks: list[pd.Series] = []
    codes = {
        **dict.fromkeys(TOO_SMALL_CODES, params.too_small_to_measure_mm),
        **dict.fromkeys(NOT_EVALUABLE_CODES, np.nan),
    }
    out["sld_mm"] = parse_numbers(
        R["sld_mm"],
        label,
        "sld_mm",
        col,
        "a sum of diameters ≥ 0 in mm, or NOT EVALUABLE",
        codes=codes,
        code_mask_out=masks,
    )
    ne = masks[1]
    if masks[0].any():
        col.note(
            label,
            "sld_mm",
            "mapped_text_code",
            int(masks[0].sum()),
            f"'TOO SMALL TO MEASURE' -> {params.too_small_to_measure_mm:g} mm",
        )
    if ne.any():
        col.note(
            label,
            "sld_mm",
            "mapped_text_code",
            int(ne.sum()),
            "'NOT EVALUABLE'/'NE' -> NaN with not_evaluable = True",
        )
    for c in ("new_lesions", "new_organs"):
        if c in df.columns:
            out[c] = _integers(R[c], label, c, col, "a count 0, 1, 2 …")
        else:
            out[c] = pd.Series(pd.NA, index=df.index, dtype="Int64")
            col.note(label, c, "missing_optional_column", len(df), f"{c} not given: NA")
    if "non_target_pd" in df.columns:
        out["non_target_pd"] = parse_flags(R["non_target_pd"], label, "non_target_pd", col).astype(
            "boolean"
        )
    else:
        out["non_target_pd"] = pd.Series(pd.NA, index=df.index, dtype="boolean")
        col.note(
            label,
            "non_target_pd",
            "missing_optional_column",
            len(df),
            "non_target_pd not given: NA",
        )
    out["not_evaluable"] = ne.astype(bool)
    for c in df.columns:
        if c not in out.columns:
            out[c] = _kept(df, c)
    out = dedupe_and_sort(
        label,
        out,
        ["patient_id", "assessment_date"],
        col,
        lambda d: (
            "scan of patient "
            + d["patient_id"].astype(str)
            + " on "
            + d["assessment_date"].dt.strftime("%Y-%m-%d")
        ),
        sort=True,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )
    return out


def _scans(
    df: pd.DataFrame,
    label: str,
    col: Collector,
    params: Parameters,
    raws: dict[str, _RawColumns] | None = None,
) -> pd.DataFrame | None:
    if not _require(df, "scans", col, label, _REQUIRED["scans"]):
        return None
    R = _RawColumns(df)
    if raws is not None:
        raws["scans"] = R
    out = pd.DataFrame(index=df.index)
    out["patient_id"] = parse_ids(R["patient_id"], label, "patient_id", col)
    col.add_rows(
        label,
        "patient_id",
        missing_ids(R["patient_id"]),
        "missing patient_id",
        "the patient's identifier",
    )
    codes = {
        **dict.fromkeys(TOO_SMALL_CODES, params.too_small_to_measure_mm),
        **dict.fromkeys(NOT_EVALUABLE_CODES, np.nan),
    }
    for c in SCAN_SLD:
        masks: list[pd.Series] = []
        out[c] = parse_numbers(
            R[c], label, c, col, "a sum of diameters ≥ 0 in mm", codes=codes, code_mask_out=masks
        )
        if masks[0].any() or masks[1].any():
            col.note(
                label,
                c,
                "mapped_text_code",
                int(masks[0].sum() + masks[1].sum()),
                f"'TOO SMALL TO MEASURE' -> {params.too_small_to_measure_mm:g} mm, "
                "'NOT EVALUABLE' -> NaN",
            )
    for c in SCAN_DATES:
        out[c] = parse_dates(R[c], label, c, col)
    for s_col, d_col in zip(SCAN_SLD, SCAN_DATES, strict=True):
        given = ~blank(R[s_col])
        col.add_rows(
            label,
            d_col,
            given & blank(R[d_col]),
            f"{s_col} is given without a date",
            ISO_DATE_EXPECTED,
        )
    for a, b in ((SCAN_DATES[0], SCAN_DATES[1]), (SCAN_DATES[1], SCAN_DATES[2])):
        bad = out[a].notna() & out[b].notna() & (out[b] <= out[a])
        col.add_rows(
            label,
            b,
            bad,
            lambda v, a=a: f"{v} is not after {a}",
            f"{b} later than {a}",
            values=_iso(out[b], bad),
        )
    if "new_lesions_first_eval" in df.columns:
        out["new_lesions_first_eval"] = _integers(
            R["new_lesions_first_eval"], label, "new_lesions_first_eval", col, "a count 0, 1, 2 …"
        )
    if "non_target_pd_first_eval" in df.columns:
        out["non_target_pd_first_eval"] = parse_flags(
            df["non_target_pd_first_eval"], label, "non_target_pd_first_eval", col
        ).astype("boolean")
    if "treatment_start" in df.columns:
        out["treatment_start"] = parse_dates(R["treatment_start"], label, "treatment_start", col)
    for c in df.columns:
        if c not in out.columns:
            out[c] = _kept(df, c)
    out = dedupe_and_sort(
        label,
        out,
        ["patient_id"],
        col,
        lambda d: "patient " + d["patient_id"].astype(str),
        sort=False,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )
    return out


def _unknown_patients(
    table: pd.DataFrame,
    label: str,
    ids: pd.Series,
    col: Collector,
    what: str,
    R: _RawColumns | None = None,
) -> None:
    r = R["patient_id"] if R is not None else None
    if r is not None and r.canon_uniq is not None:
        # on the distinct ids only, expanded through the reader's codes (rows of the file)
        u_ids = pd.Series(r.canon_uniq, dtype=object)
        known = ids.to_numpy(object)
        if len(known) == len(u_ids) and bool((u_ids.to_numpy(object) == known).all()):
            return  # the same ids in the same order (common): no hashing
        u_unknown = (u_ids.notna() & ~u_ids.isin(ids)).to_numpy(bool)
        if not u_unknown.any():
            return
        unknown = r.rows(u_unknown)
        hint = _near_id_hint(ids)
        col.add_rows(
            label,
            "patient_id",
            unknown,
            lambda v: f"patient {show(v)} is not in the patients table{hint(v)}",
            f"every {what} to belong to a patient listed in patients",
            values=pd.Series(r.values(r.canon_uniq, None), index=r.index),
        )
        return
    unknown = table["patient_id"].notna() & ~table["patient_id"].isin(ids)
    hint = _near_id_hint(ids)
    col.add_rows(
        label,
        "patient_id",
        unknown,
        lambda v: f"patient {show(v)} is not in the patients table{hint(v)}",
        f"every {what} to belong to a patient listed in patients",
        values=table["patient_id"],
    )


def _as_frame(
    obj: object,
    role: str,
    col: Collector,
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
        if not _check_header(list(df.columns), col, label):
            return None, label
        return df, label
    path = Path(obj)  # type: ignore[arg-type]
    df, label = read_raw_table(path, sheet_role or role, col, str(path))
    if df is not None:
        sources[role] = str(path)
        checksums[str(path)] = file_sha256(path)
    return df, label


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
    if isinstance(path, dict):  # {"patients": frame_or_path, ...}: the keyword form
        given = {
            "patients": patients,
            "lesions": lesions,
            "assessments": assessments,
            "scans": scans,
        }
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
        return load_cohort(None, params=params, **merged)  # type: ignore[arg-type]
    params = params or Parameters()
    col = Collector()
    inputs: dict[str, tuple[object, str | None]] = {}
    if path is not None:
        for role, (p, sheet_role) in _discover(Path(path), col).items():
            inputs[role] = (p, sheet_role)
    for role, obj in (
        ("patients", patients),
        ("lesions", lesions),
        ("assessments", assessments),
        ("scans", scans),
    ):
        if obj is not None:
            inputs[role] = (obj, role)
    where = str(path) if path is not None else "<cohort>"
    if not inputs and not col.problems:
        col.add(where, None, None, "no cohort tables given", _EXPECT_FILES)
    if inputs and "patients" not in inputs and "scans" not in inputs:
        col.add(
            where,
            None,
            None,
            "no patients table",
            "patients.* beside "
            + " and ".join(r + ".*" for r in inputs)
            + " (or a scans.* wide table)",
        )
    if "lesions" in inputs and "assessments" in inputs:
        col.add(
            where,
            None,
            None,
            "both a lesions and an assessments table were given",
            "lesions.* (one row per lesion per scan) or assessments.* (per-scan sums), not both",
        )
    if col.problems:
        raise CohortError(col.ordered())

    sources: dict[str, str] = {}
    checksums: dict[str, str] = {}
    raws: dict[str, _RawColumns] = {}
    tables: dict[str, pd.DataFrame | None] = {}
    labels: dict[str, str] = {}
    for role in ROLES:
        if role not in inputs:
            continue
        obj, sheet_role = inputs[role]
        raw, label = _as_frame(obj, role, col, checksums, sources, sheet_role)
        labels[role] = label
        if raw is None:
            tables[role] = None
            continue
        raw = _rename(raw, role, col, label)
        if role == "patients":
            tables[role] = _patients(raw, label, col, raws)
        elif role == "lesions":
            tables[role] = _lesions(raw, label, col, params, raws)
        elif role == "assessments":
            tables[role] = _assessments(raw, label, col, params, raws)
        else:
            tables[role] = _scans(raw, label, col, params, raws)
        del raw

    pts = tables.get("patients")
    scans_df = tables.get("scans")
    if "patients" not in inputs and scans_df is not None:
        pts = pd.DataFrame({"patient_id": scans_df["patient_id"].to_numpy()})
        start = scans_df["treatment_start"] if "treatment_start" in scans_df.columns else None
        pts["treatment_start"] = (
            start.to_numpy()
            if start is not None
            else pd.Series(pd.NaT, index=pts.index, dtype="datetime64[ns]")
        )
        pts["treatment_start"] = pts["treatment_start"].astype("datetime64[ns]")
        col.note(
            labels["scans"],
            "patient_id",
            "synthesized_patients",
            len(pts),
            "no patients table: patients taken from the scans table"
            + ("" if start is not None else "; treatment_start unknown (NaT)"),
        )
    if pts is not None:
        ids = pts["patient_id"]
        for role, what in (("lesions", "lesion row"), ("assessments", "scan"), ("scans", "row")):
            t = tables.get(role)
            if t is not None and "patients" in inputs:
                _unknown_patients(t, labels[role], ids, col, what, raws.get(role))
        if scans_df is not None and "patients" in inputs and "treatment_start" in scans_df:
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
                labels["scans"],
                "treatment_start",
                diff,
                "treatment_start differs from the patients table",
                "the same treatment_start as in patients",
            )
    if pts is not None:
        _plausibility(pts, tables, labels, col, params)
    from .biomarkers import load_biomarkers  # optional biomarkers.* of a cohort folder

    biomarkers = load_biomarkers(path, pts, col, sources, checksums)
    if col.problems:
        raise CohortError(col.ordered())
    assert pts is not None

    raws.clear()
    from .classification import death_cause_notes  # how death causes are read (issue 13)

    for note in death_cause_notes(pts):
        col.note(labels.get("patients", "patients"), **note)
    return Cohort(
        patients=_renumber(pts),
        lesions=_renumber(tables.get("lesions")),
        assessments=_renumber(tables.get("assessments")),
        scans_wide=_renumber(scans_df),
        load_report=col.report_frame(),
        sources=sources,
        checksums=checksums,
        biomarkers=biomarkers,
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
        return None, [Problem(str(path), None, None, _first_line(exc))]
    except Exception as exc:  # noqa: BLE001 - validate reports, it never crashes with a traceback
        return None, [
            Problem(
                str(path),
                None,
                None,
                f"could not be validated: {type(exc).__name__}: {_first_line(exc)}",
                "please report this as a bug with the file",
            )
        ]


def validate_cohort(path: str | Path, params: Parameters | None = None) -> list[Problem]:
    """Every problem of the cohort at ``path`` (empty list when it loads cleanly)."""
    return check_cohort(path, params)[1]


# --------------------------------------------------------------------------------------------
# near-duplicate identifiers


def id_key(values: pd.Series) -> pd.Series:
    """Comparison key of identifiers: case folded, leading zeros of every number dropped
    (``P0002``, ``p0002`` and ``P2`` share a key; so do ``0012`` and ``12``)."""
    return values.astype(str).str.casefold().str.replace(r"(?<!\d)0+(?=\d)", "", regex=True)


def _near_id_hint(ids: pd.Series) -> Callable[[object], str]:
    """Message suffix for an unknown id that matches a known one but for case or leading
    zeros (``'12'`` vs ``'0012'``); built lazily, on the first call."""
    cache: dict[str, str] = {}

    def hint(value: object) -> str:
        if not cache:
            known = ids.dropna().astype(str)
            cache.update(dict(zip(id_key(known), known, strict=True)))
            cache.setdefault("\x00", "")
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        key = id_key(pd.Series([str(value).strip()])).iloc[0]
        near = cache.get(key)
        return (
            (
                f" (patients has {near!r}: the case or leading zeros differ; ids are compared "
                "exactly)"
            )
            if near
            else ""
        )

    return hint


def _same_shape(ids: pd.Series) -> bool:
    """True when every id has one length and its digits at the same positions (``P00001``
    ... ``P30000``): checked on a fixed-width code-point array, without Python loops."""
    lengths = ids.str.len()
    if lengths.nunique() != 1 or not len(ids):
        return False
    width = int(lengths.iloc[0])
    if width == 0:
        return True
    cps = np.array(ids.tolist(), dtype=f"U{width}").view(np.uint32).reshape(len(ids), width)
    digit = (cps >= 48) & (cps <= 57)
    return bool((digit == digit[0]).all())


def _near_duplicate_ids(pts: pd.DataFrame, label: str, col: Collector) -> None:
    """Warning naming patient ids that differ only in case or leading zeros, with their rows."""
    ids = pts["patient_id"]
    ok = ids.notna()
    if not ok.any():
        return
    low = ids[ok].astype(str).str.lower()
    if low.is_unique and _same_shape(low):
        # no case twins, and every id has its digits at the same places: digit runs of equal
        # length are equal numbers only when equal, so leading zeros cannot make twins
        return
    key = id_key(ids[ok])
    dup = key.duplicated(keep=False)
    if not dup.any():
        return
    groups = pd.DataFrame({"key": key[dup], "id": ids[ok][dup]}).groupby("key", sort=False)
    shown = []
    for _, g in list(groups)[:5]:
        shown.append(" and ".join(f"{v!r} (row {r})" for r, v in g["id"].items()))
    col.warn(
        label,
        "patient_id",
        None,
        f"{int(groups.ngroups)} group(s) of patient ids differ only in case or leading "
        f"zeros: {'; '.join(shown)}" + ("; …" if groups.ngroups > 5 else ""),
        "they are read as different patients: merge them if they are one patient",
        n_rows=int(dup.sum()),
    )


# --------------------------------------------------------------------------------------------
# plausibility (impossible: problems; implausible: warnings in the load report)


def _num(v: object) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.floating)) else str(v)


def _shown(values: pd.Series, mask: pd.Series) -> pd.Series:
    """``values`` rendered as numbers on the rows of ``mask`` only (for messages: the other
    rows are never shown, so they are not formatted)."""
    out = pd.Series(None, index=values.index, dtype=object)
    if mask.any():
        out[mask] = values[mask].map(_num)
    return out


def _plausibility(
    pts: pd.DataFrame,
    tables: dict[str, pd.DataFrame | None],
    labels: dict[str, str],
    col: Collector,
    params: Parameters,
) -> None:
    """Cross-table and range checks of the canonical tables (``params.plausibility``):
    diameters and sums, target lesions per scan, centimetre-looking tables, dates after the
    data cut-off, progression or scans after death, scans long before treatment start and
    treatment starts before immunotherapy existed."""
    pl = params.plausibility
    cutoff = pd.Timestamp(pl.data_cutoff) if pl.data_cutoff else pd.Timestamp.today().normalize()
    cut_text = cutoff.strftime("%Y-%m-%d") + ("" if pl.data_cutoff else " (today)")
    cut_expected = (
        f"a date on or before the data cut-off {cut_text} (a date in the future is "
        "a typo; set plausibility.data_cutoff=YYYY-MM-DD to check against another "
        "date)"
    )
    plabel = labels.get("patients", labels.get("scans", "<patients>"))
    if "patients" in labels:
        for c, what in (
            ("treatment_start", "treatment start"),
            ("progression_date", "progression"),
            ("death_date", "death"),
            ("last_contact", "last contact"),
        ):
            if c in pts.columns:
                late = pts[c].notna() & (pts[c] > cutoff)
                col.add_rows(
                    plabel,
                    c,
                    late,
                    lambda v, w=what: f"{w} {v} is after the data cut-off {cut_text}",
                    cut_expected,
                    values=_iso(pts[c], late),
                )
        if "progression_date" in pts.columns and "death_date" in pts.columns:
            _flag_date_after(col, plabel, pts, "progression_date", "death_date", "progression")
        early = pts["treatment_start"].notna() & (
            pts["treatment_start"].dt.year < pl.warn_treatment_start_before_year
        )
        col.warn(
            plabel,
            "treatment_start",
            early,
            f"treatment_start before {pl.warn_treatment_start_before_year} (immune "
            "checkpoint inhibitors were first given in trials in 2006)",
            "accept with --set plausibility.warn_treatment_start_before_year=<year>",
        )
        _near_duplicate_ids(pts, plabel, col)
    first = pts.drop_duplicates("patient_id")  # (duplicates are problems already)
    pid_index = pd.Index(first["patient_id"])
    start = first["treatment_start"].to_numpy(dtype="datetime64[ns]")
    death = (
        first["death_date"].to_numpy(dtype="datetime64[ns]")
        if "death_date" in first.columns
        else None
    )

    # int64 nanoseconds with a NaT sentinel at the end (position -1 = unknown patient): one
    # take per check, no float or timedelta temporaries on long tables
    i8_nat = np.iinfo(np.int64).min
    start_ext = np.append(start.view(np.int64), i8_nat)
    death_ext = np.append(death.view(np.int64), i8_nat) if death is not None else None
    cutoff_i8 = cutoff.value
    before_ns = np.int64(pl.warn_scan_days_before_start) * np.int64(NS_PER_DAY)

    def dates_against_patient(t: pd.DataFrame, label: str, dcols: list[str]) -> None:
        pos = _patient_positions(t["patient_id"], pid_index)
        for dc in dcols:
            if dc not in t.columns:
                continue
            d = t[dc]
            d_i8 = d.to_numpy(dtype="datetime64[ns]").view(np.int64)
            valid = d_i8 != i8_nat
            late = pd.Series(valid & (d_i8 > cutoff_i8), index=t.index)
            col.add_rows(
                label,
                dc,
                late,
                lambda v: f"scan {v} is after the data cut-off {cut_text}",
                cut_expected,
                values=_iso(d, late),
            )
            if death_ext is not None:
                dd = death_ext[pos]
                after_arr = valid & (dd != i8_nat) & (d_i8 > dd)
                if after_arr.any():
                    after = pd.Series(after_arr, index=t.index)
                    msg = pd.Series(None, index=t.index, dtype=object)
                    msg[after] = (
                        "scan " + d[after].dt.strftime("%Y-%m-%d") + " is after the "
                        "death of patient "
                        + t["patient_id"][after].astype(str)
                        + " ("
                        + pd.Series(
                            dd[after_arr].view("datetime64[ns]"), index=t.index[after]
                        ).dt.strftime("%Y-%m-%d")
                        + ")"
                    )
                    col.add_rows(
                        label,
                        dc,
                        after,
                        lambda v: str(v),
                        "scans on or before the patient's death_date",
                        values=msg,
                    )
                del dd
            st = start_ext[pos]
            long_before = valid & (st != i8_nat) & (st - d_i8 > before_ns)
            del st
            col.warn(
                label,
                dc,
                pd.Series(long_before, index=t.index),
                f"scans more than {pl.warn_scan_days_before_start} days before the "
                "patient's treatment_start (a wrong year?)",
                "accept with --set plausibility.warn_scan_days_before_start=<days>",
            )

    les = tables.get("lesions")
    if les is not None:
        label = labels["lesions"]
        dates_against_patient(les, label, ["assessment_date"])
        d = les["diameter_mm"]
        over = d > pl.max_diameter_mm
        col.add_rows(
            label,
            "diameter_mm",
            over,
            lambda v: f"{v} mm is not a possible lesion diameter",
            f"a diameter ≤ {pl.max_diameter_mm:g} mm (set "
            "plausibility.max_diameter_mm to accept larger ones)",
            values=_shown(d, over),
        )
        col.warn(
            label,
            "diameter_mm",
            (d > pl.warn_diameter_mm) & ~over,
            f"lesion diameters above {pl.warn_diameter_mm:g} mm",
            "accept with --set plausibility.warn_diameter_mm=<mm>",
        )
        target = les["lesion_type"] == "target"
        measured = d[target & d.notna() & ~les["not_evaluable"]]
        if len(measured) and pl.cm_like_below_mm > 0 and measured.max() < pl.cm_like_below_mm:
            col.warn(
                label,
                "diameter_mm",
                None,
                f"every measured target diameter is below {pl.cm_like_below_mm:g} mm "
                f"(largest {measured.max():g}): the table looks like centimetres "
                "(RECIST 1.1's smallest measurable lesion is 10 mm); if they are cm, name "
                "the column diameter_cm",
                "accept as mm with --set plausibility.cm_like_below_mm=0",
                n_rows=len(measured),
            )
        _targets_per_scan(les, target, label, col, pl.warn_targets_per_scan)
    ass = tables.get("assessments")
    if ass is not None:
        label = labels["assessments"]
        dates_against_patient(ass, label, ["assessment_date"])
        _max_sum(ass, "sld_mm", label, col, pl.max_sld_mm, pl.cm_like_below_mm)
    sc = tables.get("scans")
    if sc is not None:
        label = labels["scans"]
        dates_against_patient(sc, label, SCAN_DATES)
        for c in SCAN_SLD:
            _max_sum(sc, c, label, col, pl.max_sld_mm, pl.cm_like_below_mm)


def _patient_positions(pid: pd.Series, index: pd.Index) -> np.ndarray:
    """Position in ``index`` of each row's patient (-1 unknown). Rows sorted by patient (the
    lesion and assessment tables) are looked up once per run of equal ids."""
    ids = pid.to_numpy(object)
    if len(ids) < 2:
        return index.get_indexer(ids)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    heads = np.concatenate([[0], change])
    if len(heads) * 4 > len(ids):  # not in runs: hash every row
        return index.get_indexer(ids)
    sizes = np.diff(np.concatenate([heads, [len(ids)]]))
    return np.repeat(
        index.get_indexer(ids[heads]).astype(np.int32 if len(index) < 2**31 else np.int64), sizes
    )


def _max_sum(
    t: pd.DataFrame, c: str, label: str, col: Collector, limit: float, cm_like_below: float = 0.0
) -> None:
    """Sums above ``limit`` are problems; every measured sum below ``cm_like_below`` (mm) a
    warning (a table in centimetres: sums of lesions ≥ 10 mm each)."""
    measured = t[c][t[c] > 0]
    if len(measured) and cm_like_below > 0 and measured.max() < cm_like_below:
        col.warn(
            label,
            c,
            None,
            f"every sum of diameters is below {cm_like_below:g} mm (largest "
            f"{measured.max():g}): the table looks like centimetres",
            "accept as mm with --set plausibility.cm_like_below_mm=0",
            n_rows=len(measured),
        )
    over = t[c] > limit
    col.add_rows(
        label,
        c,
        over,
        lambda v: f"{v} mm is not a possible sum of diameters",
        f"a sum ≤ {limit:g} mm (set plausibility.max_sld_mm to accept larger ones)",
        values=_shown(t[c], over),
    )


def _targets_per_scan(
    les: pd.DataFrame, target: pd.Series, label: str, col: Collector, limit: int
) -> None:
    """Warning for scans with more than ``limit`` target lesions (rows sorted by patient and
    date: a scan is a run of rows; the dates alone bound the run lengths first, cheaply)."""
    if int(target.sum()) <= limit:
        return
    t = les[target.to_numpy()]
    day = t["assessment_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    new_run = np.concatenate([[True], day[1:] != day[:-1]])
    if np.diff(np.flatnonzero(np.concatenate([new_run, [True]]))).max() <= limit:
        return
    pid = t["patient_id"].to_numpy(object)
    new_run[1:] |= pid[1:] != pid[:-1]
    starts = np.flatnonzero(np.concatenate([new_run, [True]]))
    sizes = np.diff(starts)
    big = np.flatnonzero(sizes > limit)
    if not len(big):
        return
    first = starts[big]
    mask = pd.Series(False, index=les.index)
    mask[t.index[first]] = True
    i = int(big[np.argmax(sizes[big])])
    col.warn(
        label,
        "lesion_type",
        mask,
        f"{len(big)} scan(s) have more than {limit} target lesions (most: "
        f"{int(sizes[i])} for patient {pid[starts[i]]} on "
        f"{pd.Timestamp(day[starts[i]]).strftime('%Y-%m-%d')}; RECIST 1.1 allows 5)",
        "accept with --set plausibility.warn_targets_per_scan=<n>",
    )


# --------------------------------------------------------------------------------------------
# covariates (the patients table's other columns: risk factors)

#: spellings of the two sexes (case-insensitive); each group becomes one level
_SEX_SPELLINGS = {
    "female": {"f", "female", "w", "woman", "women", "femme", "fem"},
    "male": {"m", "male", "man", "men", "homme", "masc"},
}
#: covariates that cannot be negative (and their upper bound, None = none)
_NONNEGATIVE = {
    "age": 130.0,
    "nlr": None,
    "dnlr": None,
    "ldh": None,
    "n_metastatic_sites": None,
    "pdl1_tps": 100.0,
    "bmi": None,
}
#: a number whose magnitude is above this is not a measurement (1e308 would make means inf)
MAX_COVARIATE_MAGNITUDE = 1e15
_DECIMAL_COMMA = r"[+-]?\d+,\d+"


def _covariate(df: pd.DataFrame, c: str, label: str, col: Collector) -> pd.Series:
    """A non-contract patients column as given, but: text numbers with a few text codes
    (``ND``, ``<5``) read as numbers with those cells missing (noted), decimal commas of a
    ``;``-separated file read as numbers, the spellings of ``sex`` merged (noted), and
    impossible numbers (infinite, beyond 1e15, a negative age...) reported as problems."""
    s = _kept(df, c)
    name = canonical_name(c)
    if s.dtype == object:
        if name == "sex":
            s = _merge_sex_spellings(s, label, c, col)
        s = _numbers_with_codes(s, label, c, col, df.attrs.get(_DELIMITER) == ";")
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    if not numeric or _id_like(name):  # id-like columns (source_patient_id) hold codes
        return s
    v = s.astype("float64")
    bad = pd.Series(np.zeros(len(s), bool), index=s.index)
    huge = bad
    if pd.api.types.is_float_dtype(s.dtype):  # (integers cannot overflow a mean)
        bad = pd.Series(~np.isfinite(v.to_numpy()) & v.notna().to_numpy(), index=s.index)
        col.add_rows(
            label,
            c,
            bad,
            lambda x: f"{show(x)} is not a finite number",
            "a finite number",
            values=_shown(s, bad),
        )
        huge = (v.abs() > MAX_COVARIATE_MAGNITUDE) & ~bad
        col.add_rows(
            label,
            c,
            huge,
            lambda x: f"{show(x)} is too large to be a measurement",
            f"a number of magnitude ≤ {MAX_COVARIATE_MAGNITUDE:g}",
            values=_shown(s, huge),
        )
    if name in _NONNEGATIVE:
        high = _NONNEGATIVE[name]
        rng = "a value ≥ 0" + (f" and ≤ {high:g}" if high is not None else "")
        out_of = (v < 0) | ((v > high) if high is not None else False)
        out_of &= ~bad & ~huge
        col.add_rows(
            label,
            c,
            out_of,
            lambda x: f"{show(x)} is not a possible {name}",
            rng,
            values=_shown(s, out_of),
        )
    return s


def _id_like(name: str) -> bool:
    """A column name that names an identifier or code (``source_patient_id``, ``id_tumour``,
    ``sample_no``): never checked as a measurement."""
    return bool(re.search(r"(^|_)(id|ids|no|nr|number|code|key|hash)($|_)", name))


def _merge_sex_spellings(s: pd.Series, label: str, c: str, col: Collector) -> pd.Series:
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    text = u.where(u.map(lambda v: isinstance(v, str))).str.strip()
    low = text.str.casefold()
    counts = pd.Series(np.bincount(codes[codes >= 0], minlength=len(u)), index=u.index)
    new = u.copy()
    merged = []
    for spellings in _SEX_SPELLINGS.values():
        m = low.isin(spellings).fillna(False).to_numpy(bool)
        forms = counts[m].groupby(text[m].to_numpy()).sum()
        if len(forms) > 1:
            keep = sorted(forms.index, key=lambda f: (-forms[f], f))[0]
            new[m] = keep
            merged.append(f"{', '.join(repr(f) for f in sorted(forms.index))} -> {keep!r}")
    if not merged:
        return s
    col.note(
        label,
        c,
        "merged_spellings",
        int(len(s)),
        "spellings of one sex read as one level: " + "; ".join(merged),
    )
    vals = new.to_numpy(object)[np.maximum(codes, 0)]
    return pd.Series(np.where(codes >= 0, vals, s.to_numpy(object)), index=s.index, dtype=object)


def _numbers_with_codes(
    s: pd.Series, label: str, c: str, col: Collector, decimal_comma: bool
) -> pd.Series:
    """A text column that is numeric but for a few text codes, as numbers (see _covariate);
    decided on the distinct values, expanded through their codes."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if not len(uniq):
        return s
    u = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    u_num = u.map(
        lambda v: (
            isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_))
        )
    ).to_numpy(bool)
    u_text = u.where(u.map(lambda v: isinstance(v, str))).str.strip()
    u_text = u_text.where(u_text.ne(""))
    u_comma = np.zeros(len(u), bool)
    if decimal_comma:
        u_comma = u_text.str.fullmatch(_DECIMAL_COMMA).fillna(False).to_numpy(bool)
    parsed = pd.to_numeric(
        u_text.where(~u_comma, u_text.str.replace(",", ".", regex=False)), errors="coerce"
    ).to_numpy(float)
    u_parsed = ~np.isnan(parsed) & ~u_num
    u_code = u_text.notna().to_numpy() & ~u_parsed
    counts = np.bincount(codes[codes >= 0], minlength=len(u))
    n = int(counts[u_num | u_text.notna().to_numpy()].sum())
    n_numeric = int(counts[u_num | u_parsed].sum())
    if (
        n == 0
        or n_numeric < max(2, 0.6 * n)
        or int(u_code.sum()) > 5
        or not (u_parsed.any() or u_code.any())
    ):
        return s  # a text column (or too many text values to be codes): kept as given
    u_vals = np.full(len(u), np.nan)
    u_vals[u_num] = u[u_num].astype(float).to_numpy()
    u_vals[u_parsed] = parsed[u_parsed]
    vals = pd.Series(np.where(codes >= 0, u_vals[np.maximum(codes, 0)], np.nan), index=s.index)
    comma = pd.Series((codes >= 0) & u_comma[np.maximum(codes, 0)], index=s.index)
    coded = pd.Series((codes >= 0) & u_code[np.maximum(codes, 0)], index=s.index)
    if comma.any():
        col.note(
            label,
            c,
            "decimal_comma",
            int(comma.sum()),
            "decimal commas of the ';'-separated file read as decimal points",
        )
    if coded.any():
        rows = coded.index[coded.to_numpy()][:10]
        col.note(
            label,
            c,
            "text_codes_missing",
            int(coded.sum()),
            "read as numbers; cells with text "
            + ", ".join(repr(v) for v in sorted(u_text[u_code].unique())[:5])
            + " set missing (rows "
            + ", ".join(str(int(r)) for r in rows)
            + (" …" if int(coded.sum()) > len(rows) else "")
            + ")",
        )
    if (
        pd.Series(vals.dropna() == np.floor(vals.dropna())).all()
        and vals.notna().any()
        and vals.abs().max() < 2**53
    ):
        return vals.astype("Int64") if vals.isna().any() else vals.astype("int64")
    return vals


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
