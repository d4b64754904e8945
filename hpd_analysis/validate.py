"""Vectorized column parsers and checks used by :mod:`hpd_analysis.load`.

Every parser takes a raw column (strings from CSV, typed values from Parquet or Excel) whose index
is the spreadsheet row number (header = row 1), returns the canonical column, and records what is
wrong in a :class:`Collector` as :class:`~hpd_analysis.errors.Problem` objects (only for failing
rows, at most :data:`MAX_PROBLEMS_PER_CHECK` per check plus one "… and N more rows" line) and what
was fixed in its load report. Nothing is coerced silently.

Policies (documented in ``docs/bad-input.md``):

- dates must be ISO 8601 ``YYYY-MM-DD``; an ISO timestamp (``2021-03-04T10:30:00+02:00``) is cut
  to the calendar date as written (the time and time zone are dropped, never converted, so the day
  cannot shift) and the cut is recorded in the load report; any other format is rejected, as are
  impossible dates (``2021-02-30``) and years outside :data:`MIN_YEAR`–:data:`MAX_YEAR`;
- event flags and booleans accept ``0``/``1`` and ``true``/``false`` (any case); text
  ``true``/``false`` is recorded in the load report; anything else is rejected;
- numbers must be plain decimal numbers with a decimal point (no units, no decimal comma).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .cohort import LOAD_REPORT_COLUMNS
from .errors import Problem
from .params import NS_PER_DAY
from .privacy import unneutralize_text

#: at most this many problems per check; the rest are summarised in one "… and N more rows" line
MAX_PROBLEMS_PER_CHECK = 50
#: plausible calendar years for any contract date (Excel's 1900 epoch or a typo fall outside)
MIN_YEAR = 1950
MAX_YEAR = 2100

ISO_DATE_RE = r"\d{4}-\d{2}-\d{2}"
ISO_TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)
#: load-report action of a plausibility warning (``hpd validate`` prints these rows as warnings)
WARNING = "warning"

ISO_DATE_EXPECTED = "an ISO 8601 date YYYY-MM-DD, e.g. 2021-03-04"

_TRUE = {"1", "1.0", "true"}
_FALSE = {"0", "0.0", "false"}


@dataclass
class Collector:
    """Accumulates problems and load-report rows while a cohort is read."""

    problems: list[Problem] = field(default_factory=list)
    report: list[dict[str, object]] = field(default_factory=list)
    max_per_check: int = MAX_PROBLEMS_PER_CHECK
    #: sort position of the "… and N more rows" lines: just after the last row shown
    _summary_rows: dict[int, float] = field(default_factory=dict)

    def add(
        self,
        file: str,
        row: int | None,
        column: str | None,
        *,
        message: str,
        expected: str | None = None,
    ) -> None:
        """Record one problem."""
        self.problems.append(Problem(file, row, column, message, expected))

    def add_rows(
        self,
        file: str,
        column: str | None,
        mask: pd.Series,
        *,
        message: str | Callable[[object], str],
        expected: str | None = None,
        values: pd.Series | None = None,
    ) -> int:
        """Record one problem per row where ``mask`` is True (capped); return the number of rows.

        ``message`` is either a fixed text or a function of the row's value in ``values`` (the
        raw column when given). Rows are the index labels of ``mask`` (spreadsheet rows).
        """
        mask = as_bool(mask)
        n = int(mask.sum())
        if not n:
            return 0
        rows = mask.index[mask.to_numpy()][: self.max_per_check]
        vals = values.loc[rows] if values is not None else pd.Series([None] * len(rows), index=rows)
        for row, val in zip(rows, vals.tolist(), strict=True):
            text = message(val) if callable(message) else message
            self.add(file, int(row), column, message=text, expected=expected)
        if n > self.max_per_check:
            self.add(
                file,
                None,
                column,
                message=f"… and {n - self.max_per_check} more rows with the same problem",
                expected=expected,
            )
            self._summary_rows[id(self.problems[-1])] = float(rows[-1]) + 0.5
        return n

    def ordered(self) -> list[Problem]:
        """Problems grouped by file (first-seen order), whole-file problems first, then by row.

        The sort is stable (checks keep their order within a row) and each "… and N more rows"
        line stays right after the last row its check showed.
        """
        first: dict[str, int] = {}
        for i, p in enumerate(self.problems):
            first.setdefault(p.file, i)

        def key(p: Problem) -> tuple[int, float]:
            row = self._summary_rows.get(id(p), -1.0 if p.row is None else float(p.row))
            return first[p.file], row

        return sorted(self.problems, key=key)

    def note(self, file: str, column: str | None, action: str, *, n_rows: int, detail: str) -> None:
        """Record one load-report row (something the loader fixed or flagged)."""
        self.report.append(
            {
                "file": file,
                "column": column,
                "action": action,
                "n_rows": int(n_rows),
                "detail": detail,
            }
        )

    def note_rows(
        self,
        file: str,
        column: str | None,
        action: str,
        *,
        mask: pd.Series | np.ndarray,
        detail: str,
    ) -> int:
        """Record one load-report row for the rows where ``mask`` holds (none when it holds
        nowhere); return their number."""
        n = int(mask.sum())
        if n:
            self.note(file, column, action, n_rows=n, detail=detail)
        return n

    def warn(
        self,
        file: str,
        column: str | None,
        mask: pd.Series | None,
        *,
        message: str,
        accept: str,
        n_rows: int | None = None,
    ) -> int:
        """Record one plausibility warning (load-report action ``warning``) for the rows where
        ``mask`` holds (None: the whole table, ``n_rows`` rows); ``accept`` names the parameter
        that accepts the value on purpose. Returns the number of rows."""
        rows = ""
        if mask is not None:
            mask = as_bool(mask)
            n = int(mask.sum())
            if not n:
                return 0
            shown = mask.index[mask.to_numpy()][:10]
            rows = (
                " (row"
                + ("s " if n > 1 else " ")
                + ", ".join(str(int(r)) for r in shown)
                + (f" and {n - len(shown)} more" if n > len(shown) else "")
                + ")"
            )
        else:
            n = int(n_rows or 0)
        self.note(file, column, WARNING, n_rows=n, detail=f"{message}{rows}; {accept}")
        return n

    def report_frame(self) -> pd.DataFrame:
        """The load report as a DataFrame with :data:`LOAD_REPORT_COLUMNS`."""
        out = pd.DataFrame(self.report, columns=LOAD_REPORT_COLUMNS)
        out["n_rows"] = out["n_rows"].astype("int64")
        return out


def as_bool(x: pd.Series) -> pd.Series:
    """A mask as plain ``bool`` (NA -> False), for object, nullable-boolean or bool input."""
    if isinstance(x.dtype, pd.BooleanDtype):
        return x.fillna(False).astype(bool)
    if x.dtype == bool:
        return x
    return x.eq(True)


def show(value: object) -> str:
    """Short quoted rendering of a raw cell value for messages."""
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def is_number(value: object) -> bool:
    """True for a number cell (Python or NumPy int or float); a bool is not a number."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def number_text(value: object) -> str:
    """A number as ``{:g}`` text (``1e+308``, ``12.5``); anything else as ``str``."""
    return f"{value:g}" if isinstance(value, (int, float, np.floating)) else str(value)


def shown_numbers(values: pd.Series, mask: pd.Series) -> pd.Series:
    """``values`` rendered by :func:`number_text` on the rows of ``mask`` only (for messages:
    the other rows are never shown, so they are not formatted)."""
    out = pd.Series(None, index=values.index, dtype=object)
    if mask.any():
        out[mask] = values[mask].map(number_text)
    return out


def iso_dates(dates: pd.Series, mask: pd.Series) -> pd.Series:
    """ISO text (``YYYY-MM-DD``) of the dates where ``mask`` holds (only those: messages need
    no more)."""
    out = pd.Series(None, index=dates.index, dtype=object)
    if mask.any():
        out[mask] = dates[mask].dt.strftime("%Y-%m-%d")
    return out


def flag_date_after(
    col: Collector,
    label: str,
    table: pd.DataFrame | dict[str, pd.Series],
    *,
    column: str,
    bound: str,
    word: str,
) -> None:
    """One problem per row whose ``column`` date is after its ``bound`` date (both given):
    ``<word> <date> is after <bound>`` (expected ``<column> on or before <bound>``)."""
    after = table[column].notna() & table[bound].notna() & (table[column] > table[bound])
    col.add_rows(
        label,
        column,
        after,
        message=lambda v: f"{word} {v} is after {bound}",
        expected=f"{column} on or before {bound}",
        values=iso_dates(table[column], after),
    )


def value_message(before: str, after: str = "") -> Callable[[object], str]:
    """A problem message of a cell's value: ``f"{before}{value}{after}"``."""
    return lambda v: f"{before}{v}{after}"


def describe_keys(*parts: tuple[str, str]) -> Callable[[pd.DataFrame], pd.Series]:
    """A ``describe`` for :func:`dedupe_and_sort`: each row's key as the text ``prefix + value``
    of every ``(prefix, column)`` pair in turn, dates as ``YYYY-MM-DD``
    (``describe_keys(("patient ", "patient_id"), (" on ", "assessment_date"))``)."""

    def describe(d: pd.DataFrame) -> pd.Series:
        text: pd.Series | None = None
        for prefix, column in parts:
            v = d[column]
            shown = (
                v.dt.strftime("%Y-%m-%d")
                if pd.api.types.is_datetime64_any_dtype(v.dtype)
                else v.astype(str)
            )
            text = prefix + shown if text is None else text + prefix + shown
        assert text is not None, "describe_keys needs at least one (prefix, column)"
        return text

    return describe


def _expand(u_values: np.ndarray, codes: np.ndarray, fill: object) -> np.ndarray:
    """Row-level array from per-unique values (``codes == -1`` -> ``fill``)."""
    ext = np.concatenate([np.asarray(u_values), np.array([fill], dtype=np.asarray(u_values).dtype)])
    return ext[codes]


class Raw:
    """A raw column factorized once: every text operation runs on its distinct values only.

    Real tables repeat the same few strings (lesion types, organs, dates, codes) millions of
    times; parsing the distinct values and expanding them back through the codes keeps the loader
    fast without per-row Python work.
    """

    def __init__(self, s: pd.Series):
        if isinstance(s.dtype, pd.StringDtype):
            s = s.astype(object)
        is_cat = isinstance(s.dtype, pd.CategoricalDtype)
        self.s = s
        self.index = s.index
        self.is_object = s.dtype == object or is_cat
        #: row-level codes that sort like the canonical values (set by :func:`parse_ids`)
        self.canon_codes: np.ndarray | None = None
        #: canonical id per distinct value, aligned with ``codes`` (set by :func:`parse_ids`)
        self.canon_uniq: np.ndarray | None = None
        if self.is_object:
            if is_cat:  # already factorized by the reader
                codes = s.cat.codes.to_numpy()  # int8/16/32: -1 still indexes the fill
                uniq = np.asarray(s.cat.categories, dtype=object)
            else:
                codes, uniq = pd.factorize(s, use_na_sentinel=True)
            self.codes = codes
            self.uniq = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
            if pd.api.types.infer_dtype(self.uniq, skipna=True) in ("string", "empty"):
                is_str = np.ones(len(self.uniq), bool)
            else:
                is_str = self.uniq.map(lambda v: isinstance(v, str)).to_numpy(bool)
            self.u_is_str = is_str
            if is_str.any():
                # str.strip per distinct value (a list comprehension: 3x faster than .str.strip)
                texts = [
                    (v.strip() or None) if s else None
                    for v, s in zip(self.uniq.tolist(), is_str.tolist(), strict=True)
                ]
                self.u_text = pd.Series(texts, dtype=object)
            else:
                self.u_text = pd.Series([None] * len(self.uniq), dtype=object)
            self.u_blank = is_str & ~self.u_text.notna().to_numpy()
            self.u_typed = ~is_str
            self._has_na: bool | None = None

    @property
    def has_na(self) -> bool:
        """True when some row is missing (code -1); computed once."""
        if self._has_na is None:
            self._has_na = bool(len(self.codes)) and bool(self.codes.min() < 0)
        return self._has_na

    def rows(self, u_mask: np.ndarray | pd.Series, fill: bool = False) -> pd.Series:
        """Row-level boolean mask from a per-unique one (no expansion when it is all False)."""
        u_mask = np.asarray(u_mask, dtype=bool)
        if not u_mask.any() and not (fill and self.has_na):
            return pd.Series(np.zeros(len(self.codes), bool), index=self.index)
        return pd.Series(_expand(u_mask, self.codes, fill), index=self.index)

    def values(self, u_values: np.ndarray | pd.Series, fill: object) -> np.ndarray:
        """Row-level values from per-unique ones."""
        return _expand(np.asarray(u_values), self.codes, fill)


def as_raw(s: pd.Series | Raw) -> Raw:
    """Wrap a column as :class:`Raw` (no-op when it already is)."""
    return s if isinstance(s, Raw) else Raw(s)


def blank(s: pd.Series | Raw) -> pd.Series:
    """True where a raw cell is missing: NA or only whitespace."""
    r = as_raw(s)
    if r.is_object:
        return r.rows(r.u_blank, fill=True)
    return r.s.isna().astype(bool)


def parse_ids(s: pd.Series | Raw, file: str, column: str, *, col: Collector) -> pd.Series:
    """Identifiers as Python ``str`` (object dtype, None when blank); whole floats lose ``.0``.

    Typed ids (numbers) are written as text, the leading quote of formula-escaped ids is
    removed and ids are normalized to Unicode NFC, each fix noted. When ``s`` is a :class:`Raw`,
    it keeps the canonical id of each distinct value (``canon_uniq``) and integer codes that
    sort like the ids (``canon_codes``).
    """
    r = as_raw(s)
    if not r.is_object:
        r = _numeric_ids_as_text(r, file, column, col=col)
    u = _typed_ids_as_text(r, file, column, col=col)
    u_arr = u.to_numpy(object)
    # one pass over the distinct ids tells whether any needs the two fixes below
    joined = "\x00".join(u_arr[u.notna().to_numpy()].tolist())  # (the ids are str or None)
    if "'" in joined:
        # '=... written by a workbench CSV writer (formula neutralization): the id is =...
        quoted = u.str.startswith("'").eq(True).to_numpy(bool)
        pos = np.flatnonzero(quoted)
        back = [unneutralize_text(v) for v in u_arr[pos]]
        changed = np.zeros(len(u_arr), bool)
        changed[pos] = [b is not v for b, v in zip(back, u_arr[pos], strict=True)]
        if changed.any():
            u_arr = _replaced(u_arr, pos, back)
            col.note(
                file,
                column,
                "formula_quote_removed",
                n_rows=int(r.rows(changed).sum()),
                detail="leading single quote of formula-escaped identifiers ('=..., '+...) removed",
            )
    # the same name typed on a Mac (NFD) and on Windows (NFC) is one id (ASCII ids: as is)
    if not joined.isascii():
        wide = np.array([isinstance(v, str) and not v.isascii() for v in u_arr], bool)
        pos = np.flatnonzero(wide)
        nfc = [unicodedata.normalize("NFC", v) for v in u_arr[pos]]
        changed = np.zeros(len(u_arr), bool)
        changed[pos] = [a != b for a, b in zip(nfc, u_arr[pos], strict=True)]
        if changed.any():
            u_arr = _replaced(u_arr, pos, nfc)
            col.note(
                file,
                column,
                "normalized_ids",
                n_rows=int(r.rows(changed).sum()),
                detail="identifiers normalized to Unicode NFC (composed accents)",
            )
    r.canon_uniq = u_arr
    if isinstance(s, Raw) and s is not r:  # numeric ids: the caller's Raw gets this one's view
        s.canon_uniq, s.codes, s._has_na = u_arr, r.codes, None
    if s is r:  # the caller keeps the Raw: give it sort codes of the canonical ids
        r.canon_codes = _sort_codes(r, u_arr)
    return pd.Series(r.values(u_arr, None), index=r.index, dtype=object)


def _numeric_ids_as_text(r: Raw, file: str, column: str, *, col: Collector) -> Raw:
    """A typed (numeric) id column as text ids (whole floats without ``.0``), noted."""
    raw = r.s
    if pd.api.types.is_float_dtype(raw.dtype):
        whole = raw.dropna()
        if len(whole) and bool((whole == np.floor(whole)).all()):
            raw = raw.astype("Int64")
    col.note(
        file,
        column,
        "converted_ids",
        n_rows=int(raw.notna().sum()),
        detail="numeric identifiers written as text",
    )
    return Raw(
        raw.astype(object).where(raw.notna(), None).map(lambda v: v if v is None else str(v))
    )


def _typed_ids_as_text(r: Raw, file: str, column: str, *, col: Collector) -> pd.Series:
    """The stripped text of each distinct id, typed cells (Excel numbers) written as text
    (noted)."""
    u = r.u_text.copy()
    if r.u_typed.any():
        typed = r.uniq[r.u_typed]
        u[r.u_typed] = typed.map(
            lambda v: (
                str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip() or None
            )
        )
        col.note(
            file,
            column,
            "converted_ids",
            n_rows=int(r.rows(r.u_typed).sum()),
            detail="numeric identifiers written as text",
        )
    return u


def _replaced(u_arr: np.ndarray, pos: np.ndarray, fixed: Sequence[object]) -> np.ndarray:
    """A copy of ``u_arr`` with the values at ``pos`` replaced by ``fixed``."""
    u_arr = u_arr.copy()
    u_arr[pos] = fixed
    return u_arr


def _sort_codes(r: Raw, u_arr: np.ndarray) -> np.ndarray:
    """Row-level int64 codes that sort like the canonical ids ``u_arr`` (-1 = missing)."""
    u_index = pd.Index(u_arr, dtype=object)
    if u_index.is_monotonic_increasing and u_index.is_unique and not u_index.hasnans:
        # distinct ids already sorted (e.g. Parquet dictionaries of sorted data): the
        # reader's codes sort like the ids, no sort of the strings needed
        return r.codes.astype(np.int64)
    u_codes, _ = pd.factorize(pd.Series(u_arr, dtype=object), sort=True, use_na_sentinel=True)
    return r.values(u_codes.astype(np.int64), np.int64(-1))


def missing_ids(s: Raw) -> pd.Series:
    """Row mask of missing identifiers, after :func:`parse_ids` ran on ``s``."""
    assert s.canon_uniq is not None, "parse_ids must run first"
    u_none = pd.isna(s.canon_uniq)  # (canonical ids are str or None)
    if not u_none.any() and not s.has_na:
        return pd.Series(np.zeros(len(s.codes), bool), index=s.index)
    return pd.Series(_expand(u_none, s.codes, True), index=s.index)


def parse_dates(s: pd.Series | Raw, file: str, column: str, *, col: Collector) -> pd.Series:
    """Parse an ISO 8601 date column to ``datetime64[ns]`` (midnight), flagging every bad cell.

    Missing cells give NaT (callers decide whether the column is required).
    """
    r = as_raw(s)
    raw = r.s
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        col.note(
            file,
            column,
            "stripped_timezone",
            n_rows=int(raw.notna().sum()),
            detail=f"time zone {raw.dt.tz} dropped: the calendar date as recorded is kept",
        )
        raw = raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return _typed_dates(raw, r.index, file, column=column, col=col)
    if not r.is_object:
        col.add_rows(
            file,
            column,
            raw.notna(),
            message=lambda v: f"{show(v)} is a number, not a date",
            expected=ISO_DATE_EXPECTED + " (format the cell as a date or write it as text)",
            values=raw,
        )
        return pd.Series(pd.NaT, index=r.index, dtype="datetime64[ns]")
    nat = np.datetime64("NaT", "ns")
    u_out = np.full(len(r.uniq), nat, dtype="datetime64[ns]")
    if r.u_typed.any():
        _date_cells(r, u_out, file, column=column, col=col)
    _text_dates(r, u_out, file, column=column, col=col)
    years = pd.DatetimeIndex(u_out).year
    bad_year = ~np.isnat(u_out) & ((years < MIN_YEAR) | (years > MAX_YEAR))
    if bad_year.any():
        col.add_rows(
            file,
            column,
            r.rows(bad_year),
            message=lambda v: f"{show(v)} has an implausible year",
            expected=f"a date between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31",
            values=raw,
        )
        u_out[bad_year] = nat
    return pd.Series(r.values(u_out, nat), index=r.index, dtype="datetime64[ns]")


def _typed_dates(
    raw: pd.Series, index: pd.Index, file: str, *, column: str, col: Collector
) -> pd.Series:
    """A datetime column (Parquet, Excel) as midnights: integer arithmetic on the nanoseconds,
    no copies when every value is already a plain date; times of day dropped (noted)."""
    arr = raw.to_numpy(dtype="datetime64[ns]")
    ns = arr.view(np.int64)
    nat = np.isnat(arr)
    day = np.int64(NS_PER_DAY)
    timed = (ns % day != 0) & ~nat
    if col.note_rows(
        file,
        column,
        "stripped_time",
        mask=timed,
        detail="time of day dropped: the calendar date is kept",
    ):
        arr = np.where(nat, arr, (ns - ns % day).view("datetime64[ns]"))
    else:
        arr = arr.copy()  # never share memory with the caller's DataFrame
    out = pd.Series(arr, index=index, dtype="datetime64[ns]", copy=False)
    return _check_years(out, raw, file, column=column, col=col)


def _date_cells(r: Raw, u_out: np.ndarray, file: str, *, column: str, col: Collector) -> None:
    """Typed cells of a text column (Excel datetime/date objects, numbers) into ``u_out`` (per
    distinct value): dates at midnight (times dropped, noted), anything else a problem."""
    raw = r.s
    pos = np.flatnonzero(r.u_typed)
    tv = r.uniq.iloc[pos]
    is_dt = tv.map(lambda v: hasattr(v, "year") and hasattr(v, "month")).to_numpy(bool)
    not_dt = np.zeros(len(r.uniq), bool)
    not_dt[pos[~is_dt]] = True
    col.add_rows(
        file,
        column,
        r.rows(not_dt),
        message=lambda v: (
            f"{show(v)} is a number, not a date"
            if isinstance(v, (int, float, np.integer, np.floating))
            else f"{show(v)} is not a date"
        ),
        expected=ISO_DATE_EXPECTED + " (format the cell as a date or write it as text)",
        values=raw,
    )
    conv = pd.to_datetime(
        tv[is_dt].map(
            lambda v: (
                pd.Timestamp(v).tz_localize(None) if getattr(v, "tzinfo", None) else pd.Timestamp(v)
            )
        ),
        errors="coerce",
    )
    if len(conv):
        timed = np.zeros(len(r.uniq), bool)
        timed[pos[is_dt]] = (conv.notna() & conv.ne(conv.dt.normalize())).to_numpy()
        if timed.any():
            col.note(
                file,
                column,
                "stripped_time",
                n_rows=int(r.rows(timed).sum()),
                detail="time of day dropped: the calendar date is kept",
            )
        u_out[pos[is_dt]] = conv.dt.normalize().to_numpy(dtype="datetime64[ns]")


def _text_dates(r: Raw, u_out: np.ndarray, file: str, *, column: str, col: Collector) -> None:
    """Text cells into ``u_out`` (per distinct value): ISO dates, and ISO timestamps cut to
    their calendar date as written (noted); other formats and impossible dates are problems."""
    raw = r.s
    t = r.u_text
    has_text = t.notna().to_numpy()
    is_date = (t.str.fullmatch(ISO_DATE_RE).eq(True).to_numpy(bool)) & has_text
    is_stamp = ~is_date & t.str.fullmatch(ISO_TIMESTAMP_RE).eq(True).to_numpy(bool) & has_text
    if is_stamp.any():
        has_tz = is_stamp & t.str.contains(r"(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$", regex=True).eq(
            True
        ).to_numpy(bool)
        n_tz = int(r.rows(has_tz).sum())
        col.note(
            file,
            column,
            "stripped_time",
            n_rows=int(r.rows(is_stamp).sum()),
            detail="ISO timestamps cut to their calendar date as written"
            + (f"; {n_tz} had a time zone, which was dropped (not converted)" if n_tz else ""),
        )
    other = has_text & ~is_date & ~is_stamp
    if other.any():
        rows_other = r.rows(other)
        n_iso = int(r.rows(is_date | is_stamp).sum())
        mixed = (
            f" (the column mixes formats: {n_iso} ISO and {int(rows_other.sum())} other)"
            if n_iso
            else ""
        )
        col.add_rows(
            file,
            column,
            rows_other,
            message=lambda v: f"{show(v)} is not an ISO 8601 date{mixed}",
            expected=ISO_DATE_EXPECTED + "; day/month orders like 03/04/2021 are ambiguous",
            values=raw,
        )
    ok = is_date | is_stamp
    parsed = pd.to_datetime(t[ok].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    impossible = np.zeros(len(r.uniq), bool)
    impossible[np.flatnonzero(ok)] = parsed.isna().to_numpy()
    col.add_rows(
        file,
        column,
        r.rows(impossible),
        message=lambda v: f"{show(v)} is not a real calendar date",
        expected=ISO_DATE_EXPECTED,
        values=raw,
    )
    u_out[np.flatnonzero(ok)] = parsed.to_numpy(dtype="datetime64[ns]")


def _check_years(
    out: pd.Series, raw: pd.Series, file: str, *, column: str, col: Collector
) -> pd.Series:
    ns = out.to_numpy(dtype="datetime64[ns]").view(np.int64)
    low = pd.Timestamp(year=MIN_YEAR, month=1, day=1).value
    high = pd.Timestamp(year=MAX_YEAR + 1, month=1, day=1).value
    nat = np.iinfo(np.int64).min
    bad_arr = (ns != nat) & ((ns < low) | (ns >= high))
    if bad_arr.any():
        bad = pd.Series(bad_arr, index=out.index)
        col.add_rows(
            file,
            column,
            bad,
            message=lambda v: f"{show(v)} has an implausible year",
            expected=f"a date between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31",
            values=raw,
        )
        out = out.where(~bad)
    return out


def parse_numbers(
    s: pd.Series | Raw,
    file: str,
    column: str,
    *,
    col: Collector,
    expected: str,
    minimum: float | None = 0.0,
    codes: dict[str, float] | None = None,
    code_mask_out: list[pd.Series] | None = None,
) -> pd.Series:
    """Parse a numeric column to float64, flagging non-numbers and values below ``minimum``.

    ``codes`` maps upper-cased text codes (whitespace collapsed) to values (NaN allowed); the
    rows that matched a code are appended to ``code_mask_out`` (one mask per distinct value of
    ``codes``, in first-seen order).
    """
    r = as_raw(s)
    raw = r.s
    index = r.index
    groups = list(_group_codes(codes)) if codes else []
    if not r.is_object:
        if code_mask_out is not None:
            code_mask_out.extend(pd.Series(False, index=index) for _ in groups)
        if not pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
            col.add_rows(
                file,
                column,
                raw.notna(),
                message=lambda v: f"{show(v)} is not a number",
                expected=expected,
                values=raw,
            )
            return pd.Series(np.nan, index=index, dtype="float64")
        out = raw.astype("float64")
        coded = pd.Series(False, index=index)
    else:
        out, coded = _numbers_from_text(
            r, file, column, col=col, expected=expected, groups=groups, code_mask_out=code_mask_out
        )
    inf = pd.Series(np.isinf(out.to_numpy()), index=index)
    if inf.any():
        col.add_rows(
            file,
            column,
            inf,
            message=lambda v: f"{show(v)} is not a finite number",
            expected=expected,
            values=raw,
        )
        out = out.where(~inf)
    if minimum is not None:
        low = out.notna() & (out < minimum) & ~coded
        col.add_rows(
            file,
            column,
            low,
            message=lambda v: f"{show(v)} is below {minimum:g}",
            expected=expected,
            values=raw,
        )
    return out


def _numbers_from_text(
    r: Raw,
    file: str,
    column: str,
    *,
    col: Collector,
    expected: str,
    groups: list[tuple[set[str], float]],
    code_mask_out: list[pd.Series] | None,
) -> tuple[pd.Series, pd.Series]:
    """A text column (with typed cells) as float64, parsed on its distinct values: text codes
    of ``groups`` mapped to their values (their row masks appended to ``code_mask_out``), typed
    numbers kept, anything else not a number (a problem). Returns (numbers, coded rows)."""
    raw = r.s
    index = r.index
    t = r.u_text
    u_vals = np.full(len(r.uniq), np.nan)
    u_coded = np.zeros(len(r.uniq), bool)
    if groups:
        norm = t.str.upper().str.replace(r"\s+", " ", regex=True)
        for code_set, value in groups:
            m = norm.isin(code_set).eq(True).to_numpy(bool) & t.notna().to_numpy()
            if code_mask_out is not None:
                code_mask_out.append(r.rows(m))
            u_vals[m] = value
            u_coded |= m
    # typed cells (Excel numbers) are numbers already; bools are not numbers
    typed_num = r.u_typed & r.uniq.map(is_number).to_numpy(bool)
    u_vals[typed_num] = r.uniq[typed_num].astype(float).to_numpy()
    rest = t.notna().to_numpy() & ~u_coded
    num = pd.to_numeric(t.where(rest), errors="coerce").to_numpy(dtype=float)
    u_nonnum = (rest & np.isnan(num)) | (r.u_typed & ~typed_num)
    col.add_rows(
        file,
        column,
        r.rows(u_nonnum),
        message=lambda v: f"{show(v)} is not a number",
        expected=expected,
        values=raw,
    )
    u_vals[rest & ~np.isnan(num)] = num[rest & ~np.isnan(num)]
    out = pd.Series(r.values(u_vals, np.nan), index=index, dtype="float64")
    coded = r.rows(u_coded)
    return out, coded


def _group_codes(codes: dict[str, float]) -> Iterable[tuple[set[str], float]]:
    """Group text codes by value (NaN-aware), preserving first-seen order."""
    groups: list[tuple[set[str], float]] = []
    for code, value in codes.items():
        for g, v in groups:
            if (np.isnan(v) and np.isnan(value)) or v == value:
                g.add(code)
                break
        else:
            groups.append(({code}, value))
    return groups


def parse_flags(
    s: pd.Series | Raw,
    file: str,
    column: str,
    *,
    col: Collector,
    expected: str = "0 or 1 (true/false also accepted)",
) -> pd.Series:
    """Parse a 0/1 flag column to nullable ``Int64`` (0/1, NA when missing)."""
    r = as_raw(s)
    raw = r.s

    def not_a_flag(rows: pd.Series | np.ndarray) -> None:
        """One problem per row in ``rows`` (its value shown from ``raw`` as it is then)."""
        col.add_rows(
            file,
            column,
            rows,
            message=lambda v: f"{show(v)} is not 0 or 1",
            expected=expected,
            values=raw,
        )

    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean").astype("Int64")
    if not r.is_object:
        if not pd.api.types.is_numeric_dtype(raw.dtype):
            raw = raw.astype(object)
            bad = raw.notna()
            not_a_flag(bad)
            return pd.Series(pd.NA, index=r.index, dtype="Int64")
        bad = raw.notna() & ~raw.isin([0, 1])
        not_a_flag(bad)
        return raw.where(~bad).astype("float64").astype("Int64")
    t = r.u_text.str.lower()
    if r.u_typed.any():
        t = t.copy()
        t[r.u_typed] = r.uniq[r.u_typed].map(
            lambda v: (
                str(int(v))
                if isinstance(v, (bool, np.bool_, int, np.integer))
                or (isinstance(v, float) and v.is_integer())
                else repr(v)
            )
        )
    is_true = t.isin(_TRUE).eq(True).to_numpy(bool)
    is_false = t.isin(_FALSE).eq(True).to_numpy(bool)
    bad = t.notna().to_numpy() & ~is_true & ~is_false
    not_a_flag(r.rows(bad))
    words = t.isin(["true", "false"]).eq(True).to_numpy(bool) & r.u_is_str
    if words.any():
        col.note(
            file,
            column,
            "mapped_text_code",
            n_rows=int(r.rows(words).sum()),
            detail="true/false read as 1/0",
        )
    u_val = np.where(is_true, 1, np.where(is_false, 0, -1)).astype(np.int8)
    vals = r.values(u_val, np.int8(-1))
    return pd.Series(pd.arrays.IntegerArray(vals.astype("int64"), vals == -1), index=r.index)


def parse_categories(
    s: pd.Series | Raw,
    file: str,
    column: str,
    *,
    col: Collector,
    mapping: dict[str, str],
    expected: str,
    categories: list[str] | None = None,
) -> pd.Series:
    """Map text values (case/space/hyphen-insensitive) through ``mapping``; flag unknown ones.

    Returns an object column with the canonical values, None where missing or unknown; with
    ``categories``, a categorical column with those categories instead (values of ``mapping``
    outside ``categories`` become missing), built from codes without per-row hashing.
    """
    r = as_raw(s)
    if not r.is_object:
        r = Raw(
            r.s.astype(object).where(r.s.notna(), None).map(lambda v: v if v is None else str(v))
        )
    key = (
        r.u_text.str.lower()
        .str.replace(r"[\s\-]+", "_", regex=True)
        .str.replace(r"_+", "_", regex=True)
    )
    u_out = key.map(mapping)
    unknown = (r.u_text.notna() & u_out.isna()).to_numpy() | r.u_typed
    col.add_rows(
        file,
        column,
        r.rows(unknown),
        message=lambda v: f"unknown value {show(v)}",
        expected=expected,
        values=r.s,
    )
    if categories is not None:
        lookup = {c: i for i, c in enumerate(categories)}
        u_codes = np.array(
            [lookup.get(v, -1) if isinstance(v, str) else -1 for v in u_out],
            dtype=np.int8 if len(categories) < 127 else np.int32,
        )
        codes = r.values(u_codes, u_codes.dtype.type(-1))
        return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=r.index)
    u = u_out.astype(object).where(u_out.notna(), None).to_numpy(object)
    return pd.Series(r.values(u, None), index=r.index, dtype=object)


def text_column(s: pd.Series | Raw) -> pd.Series:
    """Free-text column: stripped ``str`` values, None where blank (object dtype)."""
    r = as_raw(s)
    if not r.is_object:
        return r.s.copy()
    u = r.u_text.copy()
    if r.u_typed.any():
        u[r.u_typed] = r.uniq[r.u_typed].map(str)
    return pd.Series(r.values(u.to_numpy(object), None), index=r.index, dtype=object)


def _key_codes(s: pd.Series) -> np.ndarray:
    """Non-negative integer codes that sort like the values (NA first, as 0)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ns = s.to_numpy(dtype="datetime64[ns]").view(np.int64)
        nat = ns == np.iinfo(np.int64).min
        if nat.all():
            return np.zeros(len(s), np.int64)
        days = ns // np.int64(NS_PER_DAY)  # dates are midnights: exact day numbers
        if nat.any():
            low = days[~nat].min()
            return np.where(nat, 0, days - low + 1)
        return days - (days.min() - 1)
    codes, _ = pd.factorize(s, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64) + 1


def _order(codes: list[np.ndarray]) -> tuple[np.ndarray | None, np.ndarray]:
    """Stable order by the code columns (first = primary) and, per sorted neighbour pair,
    whether all codes are equal. The order is ``None`` when the rows are already sorted."""
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    if float(np.prod([float(x) for x in sizes])) < 2.0**62:
        key = np.zeros(len(codes[0]), np.int64)
        for c, size in zip(codes, sizes, strict=True):
            key *= size
            key += c
        if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
            return None, key[1:] == key[:-1]  # already in order (typical): no sort
        order = np.argsort(key, kind="stable")
        ks = key[order]
        return order, ks[1:] == ks[:-1]
    order = np.lexsort(codes[::-1])
    same = np.ones(max(len(order) - 1, 0), bool)
    for c in codes:
        cs = c[order]
        same &= cs[1:] == cs[:-1]
    return order, same


def dedupe_and_sort(
    file: str,
    df: pd.DataFrame,
    keys: list[str],
    *,
    col: Collector,
    describe: Callable[[pd.DataFrame], pd.Series],
    sort: bool,
    key_codes: dict[str, np.ndarray | None] | None = None,
) -> pd.DataFrame:
    """Drop identical duplicate rows (recorded), flag conflicting duplicates of ``keys`` and,
    when ``sort``, order the rows by ``keys`` (recorded when the order changed).

    One stable lexsort on integer key codes finds duplicates as neighbours, so the check is
    O(n log n) without Python loops. ``describe`` renders the key of each row for messages;
    ``key_codes`` may give precomputed sort codes (-1 = NA) of some keys.
    """
    n = len(df)
    if n == 0:
        return df
    given = key_codes or {}
    codes: list[np.ndarray] = []
    for k in keys:
        known = given.get(k)
        codes.append(known + 1 if known is not None else _key_codes(df[k]))
    na_key: np.ndarray = np.asarray(codes[0] == 0)  # a key part missing (0, see _key_codes)
    for c in codes[1:]:
        na_key |= c == 0
    order, same = _order(codes)
    del codes
    drop = np.zeros(n, bool)
    if same.any():
        if order is None:
            order = np.arange(n)
        drop = _duplicate_rows(
            _Keyed(file, df, keys, col, describe), order=order, same=same, na_key=na_key
        )
    if sort:
        if order is None:
            return df.iloc[np.flatnonzero(~drop)] if drop.any() else df
        keep = order[~drop[order]]
        moved = int((keep != np.flatnonzero(~drop)).sum())
        if moved:
            col.note(file, None, "sorted", n_rows=moved, detail="rows sorted by " + ", ".join(keys))
        elif not drop.any():
            return df  # already in order: no copy
        return df.iloc[keep]
    return df.iloc[np.flatnonzero(~drop)] if drop.any() else df


@dataclass(frozen=True)
class _Keyed:
    """A table being deduplicated: its file label, rows, key columns, the collector of its
    problems and the text of a row's key in messages."""

    file: str
    df: pd.DataFrame
    keys: list[str]
    col: Collector
    describe: Callable[[pd.DataFrame], pd.Series]


def _duplicate_rows(
    t: _Keyed, *, order: np.ndarray, same: np.ndarray, na_key: np.ndarray
) -> np.ndarray:
    """Mask of the rows to drop (identical duplicates of an earlier row, noted); duplicates of
    the keys with other values are problems naming the first row of their key."""
    # positions (in df) of each duplicate and of the row before it in key order
    later = order[1:][same]
    prev = order[:-1][same]
    equal = _identical_rows(t.df, prev, later)
    drop = np.zeros(len(t.df), bool)
    drop[later[equal]] = True
    if equal.any():
        rows = np.sort(t.df.index.to_numpy()[later[equal]])
        t.col.note(
            t.file,
            None,
            "dropped_duplicate_rows",
            n_rows=int(equal.sum()),
            detail="identical duplicate rows dropped (rows "
            + ", ".join(str(r) for r in rows[:10])
            + (" …" if len(rows) > 10 else "")
            + ")",
        )
    conflict = later[~equal]
    if len(conflict):
        # a key part missing (an unreadable date or id, already reported): one root cause,
        # no "appears again" line for it
        conflict = conflict[~na_key[conflict] & ~na_key[prev[~equal]]]
    if len(conflict):
        _report_conflicts(t, order=order, same=same, conflict=conflict)
    return drop


def _identical_rows(df: pd.DataFrame, a_pos: np.ndarray, b_pos: np.ndarray) -> np.ndarray:
    """True where the rows at ``a_pos`` and ``b_pos`` are equal in every column (NA = NA)."""
    a, b = df.iloc[a_pos], df.iloc[b_pos]
    equal = np.ones(len(b_pos), bool)
    for c in df.columns:
        sa, sb = a[c].reset_index(drop=True), b[c].reset_index(drop=True)
        try:
            eq = as_bool(sa.eq(sb)).to_numpy()
        except (TypeError, ValueError):  # e.g. pd.NA inside an object column
            eq = sa.astype(str).to_numpy() == sb.astype(str).to_numpy()
        eq = eq | (sa.isna().to_numpy() & sb.isna().to_numpy())
        equal &= eq
    return equal


def _report_conflicts(
    t: _Keyed, *, order: np.ndarray, same: np.ndarray, conflict: np.ndarray
) -> None:
    """One problem per ``conflict`` row: its key appears again with other values (the first
    row of the key named)."""
    n = len(t.df)
    group = np.cumsum(np.concatenate([[True], ~same]))  # group id per sorted position
    first_pos = pd.Series(order).groupby(group).transform("first").to_numpy()
    first_of = np.empty(n, dtype=np.int64)
    first_of[order] = first_pos
    mask = np.zeros(n, bool)
    mask[conflict] = True
    shown = np.sort(conflict)[: t.col.max_per_check]
    first_rows = t.df.index.to_numpy()[first_of[shown]]
    label = t.describe(t.df.iloc[shown]).astype(str).to_numpy(object)
    msg = pd.Series(
        [
            f"{lab} appears again with different values (first on row {fr})"
            for lab, fr in zip(label, first_rows, strict=True)
        ],
        index=t.df.index[shown],
    )
    t.col.add_rows(
        t.file,
        t.keys[-1],
        pd.Series(mask, index=t.df.index),
        message=lambda v: str(v),
        expected="one row per " + ", ".join(t.keys),
        values=msg.reindex(t.df.index),
    )
