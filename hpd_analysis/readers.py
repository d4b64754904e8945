"""Reading one table file (CSV, CSV.GZ, TSV, Parquet or Excel) into a raw DataFrame whose index
is the spreadsheet row number, every unreadable file a :class:`~hpd_analysis.errors.Problem`.

Row numbers: for CSV the physical line number (exact unless a quoted cell spans several lines);
for Excel the sheet row; for Parquet and DataFrames the record position + 2, i.e. the row the
record would occupy once exported to a spreadsheet.

Contract text columns are read as categoricals (Parquet dictionaries, CSV ``dtype="category"``)
so that every text check runs on the distinct values only (:class:`~hpd_analysis.validate.Raw`);
the reader lists the columns it made categorical in ``DataFrame.attrs`` (:data:`OWN_CATEGORICALS`)
and :func:`kept_column` gives them back as text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import (
    EXPECTED_FILES,
    ID_COLUMNS,
    SUPPORTED_SUFFIXES,
    TEXT_COLUMNS,
    canonical_name,
    table_suffix,
)
from .errors import CohortError, first_line
from .validate import Collector


def read_table(path: str | Path, role: str | None = None) -> pd.DataFrame:
    """Read one table file (CSV, CSV.GZ, TSV, Parquet or Excel) into a DataFrame.

    Columns whose name matches a contract column or alias are read as text (ids and dates are
    never reinterpreted); other columns get pandas' usual types. For a workbook with several
    sheets, ``role`` (e.g. ``"lesions"``) picks the sheet of that name. Fully empty rows are
    dropped. Raises :class:`CohortError` (never a pandas error) when the file cannot be read as a
    table: missing, empty, binary, HTML, not UTF-8, malformed.
    """
    col = Collector()
    df, _label = read_raw_table(Path(path), role, col, label=str(path))
    if col.problems or df is None:
        raise CohortError(col.ordered())
    return _plain(df).reset_index(drop=True)


def read_raw_table(
    path: Path, role: str | None, col: Collector, *, label: str
) -> tuple[pd.DataFrame | None, str]:
    """Read ``path``; index = spreadsheet row numbers. Returns (frame or None, file label)."""
    if not path.exists():
        col.add(label, None, None, message="file not found", expected=EXPECTED_FILES)
        return None, label
    if path.is_dir():
        col.add(label, None, None, message="is a folder, not a table file", expected="a table file")
        return None, label
    suffix = table_suffix(path)
    try:
        if suffix == ".parquet":
            return _read_parquet(path, col, label), label
        if suffix == ".xlsx":
            return _read_excel(path, role, col, label=label)
        if suffix in (".xls", ".xlsm", ".ods"):
            col.add(
                label,
                None,
                None,
                message=f"{suffix} workbooks are not supported",
                expected="an .xlsx workbook, or CSV/Parquet",
            )
            return None, label
        if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt"):
            return _read_text(path, suffix, col, label=label), label
    except CohortError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user problem, not a crash
        col.add(
            label,
            None,
            None,
            message=f"could not be read as a {suffix} table: {first_line(exc)}",
            expected="a valid " + suffix + " file",
        )
        return None, label
    col.add(
        label,
        None,
        None,
        message=f"unsupported file type {suffix or '(no extension)'!r}",
        expected="one of " + ", ".join(SUPPORTED_SUFFIXES),
    )
    return None, label


#: ``DataFrame.attrs`` key listing the columns the reader made categorical (not the user)
OWN_CATEGORICALS = "hpd_reader_categoricals"
#: ``DataFrame.attrs`` key: the delimiter of a text table (a ``;`` file may use decimal commas)
DELIMITER_ATTR = "hpd_delimiter"


def kept_column(df: pd.DataFrame, c: str) -> pd.Series:
    """A non-contract column as the user gave it (reader-made categoricals back to text), as a
    copy: the canonical tables never share memory with a caller's DataFrame."""
    if c in df.attrs.get(OWN_CATEGORICALS, ()) and isinstance(df[c].dtype, pd.CategoricalDtype):
        return df[c].astype(object).where(df[c].notna(), np.nan)
    return df[c].copy()


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the reader-made categoricals turned back into text columns."""
    own = [c for c in df.attrs.get(OWN_CATEGORICALS, ()) if c in df.columns]
    if own:
        df = df.copy()
        for c in own:
            df[c] = kept_column(df, c)
    return df


def _read_text(path: Path, suffix: str, col: Collector, *, label: str) -> pd.DataFrame | None:
    """A CSV/TSV table (plain or gzip), after the checks that it is UTF-8 text and not another
    kind of file; the delimiter follows Excel's ``sep=`` first line or the header."""
    data = _decompressed(path.read_bytes(), suffix, col, label=label)
    if data is None or not _is_text_table(data, col, label):
        return None
    found = _header_and_delimiter(data, suffix, col, label=label)
    if found is None:
        return None
    data, header_line, sep, first_row = found
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=sep))]
    if not check_header(header, col, label):
        return None
    return _parse_csv(data, sep, header, first_row=first_row, col=col, label=label)


def _decompressed(data: bytes, suffix: str, col: Collector, *, label: str) -> bytes | None:
    """The bytes of a text table: gunzipped when gzip-compressed (None and a problem when it
    is not readable, or named ``.gz`` without being gzip)."""
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            col.add(
                label,
                None,
                None,
                message=f"is not a readable gzip file ({first_line(exc)})",
                expected="a complete .csv.gz file",
            )
            return None
    if suffix.endswith(".gz"):
        col.add(
            label,
            None,
            None,
            message="is named .gz but is not gzip-compressed",
            expected="a gzip-compressed CSV, or rename it to .csv",
        )
        return None
    return data


#: signatures of files that are not text tables: (first bytes, message, expected)
_NOT_TEXT = (
    (
        b"PK\x03\x04",
        "is a ZIP/Excel workbook, not a CSV text table",
        "rename it to .xlsx, or export it as CSV UTF-8",
    ),
    (b"PAR1", "is a Parquet file, not a CSV text table", "rename it to .parquet"),
    (b"\xff\xfe", "is UTF-16 encoded text", "UTF-8 text (save as 'CSV UTF-8')"),
    (b"\xfe\xff", "is UTF-16 encoded text", "UTF-8 text (save as 'CSV UTF-8')"),
)


def _is_text_table(data: bytes, col: Collector, label: str) -> bool:
    """True when ``data`` is non-empty UTF-8 text that is not a workbook, Parquet file, binary
    file or web page; else the problem is recorded."""
    if not data or data.isspace():  # (not data.strip(): that copies the whole file)
        col.add(
            label,
            None,
            None,
            message="file is empty",
            expected="a header row and one row per record",
        )
        return False
    for magic, message, expected in _NOT_TEXT:
        if data.startswith(magic):
            col.add(label, None, None, message=message, expected=expected)
            return False
    if b"\x00" in data[:65536]:
        col.add(
            label,
            None,
            None,
            message="contains binary data, not a text table",
            expected="a CSV text file",
        )
        return False
    bad = _utf8_error(data)
    if bad is not None:
        line = data.count(b"\n", 0, bad) + 1
        col.add(
            label,
            line,
            None,
            message=f"byte 0x{data[bad]:02x} is not valid UTF-8 (the file is probably "
            "Latin-1/Windows-1252 encoded)",
            expected="UTF-8 text: re-save the file as 'CSV UTF-8'",
        )
        return False
    head = data[:65536].lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<table")):
        col.add(
            label,
            None,
            None,
            message="looks like an HTML/XML page, not a CSV table",
            expected="a CSV text file (download the file itself, not the web page)",
        )
        return False
    return True


def _header_and_delimiter(
    data: bytes, suffix: str, col: Collector, *, label: str
) -> tuple[bytes, str, str, int] | None:
    """(data from the header on, header line, delimiter, row number of the first record).

    Excel's ``sep=;`` first line gives the delimiter (the header is then line 2); a ``.csv``
    whose header has no comma but semicolons or tabs is read with those (noted).
    """
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
            n_rows=0,
            detail=f"Excel's first line 'sep={sep}' read as the delimiter; the header is line 2",
        )
        if not data.strip():
            col.add(
                label,
                None,
                None,
                message="has no header after its 'sep=' line",
                expected="a header row and one row per record",
            )
            return None
        end = data.find(b"\n")
        header_line = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    if sep == "," and not m_sep and "," not in header_line:
        if ";" in header_line:
            sep = ";"
        elif "\t" in header_line:
            sep = "\t"
        if sep != ",":
            col.note(
                label,
                None,
                "delimiter",
                n_rows=0,
                detail=f"fields separated by {sep!r}, not commas",
            )
    return data, header_line, sep, first_row


def _parse_csv(
    data: bytes, sep: str, header: list[str], *, first_row: int, col: Collector, label: str
) -> pd.DataFrame | None:
    """The table of ``data`` (index = spreadsheet rows from ``first_row``); a malformed line is
    a problem naming it."""
    # contract columns are read as categoricals of their text: no per-row Python strings, and
    # the codes are the factorization the checks need (see validate.Raw)
    dtypes = {h: "category" for h in header if canonical_name(h) in TEXT_COLUMNS}
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
        msg = first_line(exc)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            col.add(
                label,
                int(m.group(2)),
                None,
                message=f"has {m.group(3)} fields but the header has {m.group(1)}",
                expected=f"the same number of fields on every line (quote cells that contain {sep!r})",
            )
        else:
            col.add(
                label,
                None,
                None,
                message=f"is not a well-formed CSV table: {msg}",
                expected="a CSV text file",
            )
        return None
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(first_row, len(df) + first_row)
    df.attrs[OWN_CATEGORICALS] = [str(h).strip() for h in dtypes]
    df.attrs[DELIMITER_ATTR] = sep
    return drop_empty_rows(df, col, label)


def _na_options(header: list[str]) -> dict[str, object]:
    """``read_csv``/``read_excel`` NA options: identifier columns keep every text as written
    (an id ``NA``, ``None`` or ``nan`` is an id, only an empty cell is missing); the other
    columns get pandas' usual missing-value spellings."""
    from pandas._libs.parsers import STR_NA_VALUES

    usual = sorted(STR_NA_VALUES)
    return {
        "keep_default_na": False,
        "na_values": {h: ([""] if canonical_name(h) in ID_COLUMNS else usual) for h in header},
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


def check_header(header: list[str], col: Collector, label: str) -> bool:
    """True when every column has a name and no two names match (:func:`canonical_name`);
    else the problems are recorded on row 1."""
    ok = True
    if any(h == "" for h in header):
        col.add(
            label,
            1,
            None,
            message="the header has an empty column name",
            expected="a name for every column",
        )
        ok = False
    names = [canonical_name(h) for h in header]
    seen: dict[str, str] = {}
    for h, n in zip(header, names, strict=True):
        if n and n in seen:
            col.add(
                label,
                1,
                h,
                message=f"column name repeats {seen[n]!r}",
                expected="unique column names",
            )
            ok = False
        seen.setdefault(n, h)
    return ok


def drop_empty_rows(df: pd.DataFrame, col: Collector, label: str) -> pd.DataFrame:
    """``df`` without its rows whose every cell is empty (their number noted)."""
    if len(df.columns):
        cand = df.iloc[:, 0].isna().to_numpy()
        empty = np.zeros(len(df), bool)
        if cand.any():
            empty[cand] = df[cand].isna().all(axis=1).to_numpy()
        if col.note_rows(
            label,
            None,
            "dropped_empty_rows",
            mask=empty,
            detail="rows with every cell empty dropped",
        ):
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
            message="is not a Parquet file",
            expected="a Parquet file written by pandas/pyarrow/R arrow (or rename it to its real type)",
        )
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    own = [
        f.name
        for f in schema
        if canonical_name(f.name) in TEXT_COLUMNS
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    # split_blocks/self_destruct: one block per column and Arrow buffers freed as converted
    # (no 2-D consolidation copy, lower peak memory)
    df = pq.read_table(path, read_dictionary=own).to_pandas(split_blocks=True, self_destruct=True)
    pa.default_memory_pool().release_unused()  # give the Arrow buffers back before checking
    df.attrs[OWN_CATEGORICALS] = own
    if not check_header([str(c) for c in df.columns], col, label):
        return None
    df = df.reset_index(drop=True)
    df.index = pd.RangeIndex(2, len(df) + 2)
    return drop_empty_rows(df, col, label)


def _read_excel(
    path: Path, role: str | None, col: Collector, *, label: str
) -> tuple[pd.DataFrame | None, str]:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        col.add(
            label,
            None,
            None,
            message="is not an Excel .xlsx workbook",
            expected="an .xlsx workbook",
        )
        return None, label
    with pd.ExcelFile(path, engine="openpyxl") as xl:
        sheets = [str(s) for s in xl.sheet_names]
        sheet = _pick_sheet(sheets, role)
        if sheet is None:
            col.add(
                label,
                None,
                None,
                message=f"workbook has several sheets ({', '.join(map(repr, sheets))}) and none is "
                f"named {role or 'after a table role'!r}",
                expected=f"a sheet named {role!r} or a workbook with one sheet"
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
    if not check_header([str(c).strip() for c in df.columns], col, label):
        return None, label
    df.columns = [str(c).strip() for c in df.columns]
    df = df.map(lambda v: v.strip() if isinstance(v, str) else v) if len(df) else df
    df = df.replace("", np.nan) if len(df) else df
    df.index = pd.RangeIndex(2, len(df) + 2)
    return drop_empty_rows(df, col, label), label


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
