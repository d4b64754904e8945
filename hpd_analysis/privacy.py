"""Patient privacy for exported tables: keyed pseudonyms and small-cell suppression.

- :func:`pseudonymize` replaces patient identifiers by a keyed hash (HMAC-SHA-256). The key never
  appears in the report: it is read from a file or an environment variable named by the caller, so
  the same key gives the same pseudonyms across runs (reviewers can link tables) while nobody
  without the key can reverse or re-derive them by hashing candidate identifiers.
- :func:`pseudonymize_cohort` pseudonymizes a loaded cohort, ids embedded in other texts
  (lesion ids, loader notes, free text) included.
- :func:`neutralize_formulas` makes a table safe to open in a spreadsheet (OWASP's CSV
  injection rule: a text cell starting with ``= + - @``, tab or CR gets a leading ``'``).
- :func:`suppress_small_cells` masks counts below a threshold ``k`` as the text ``"<k"`` (and the
  percentages and confidence limits computed from them), the usual rule of data protection offices
  for aggregate tables.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .agreement import PAIR_COUNT_COLUMNS
from .errors import HPDError, ParameterError
from .survival import ESTIMATE_COLUMNS

#: Environment variable read by :func:`read_key` when no key file is given.
KEY_ENV = "HPD_PSEUDONYM_KEY"
#: Minimum key length (bytes) accepted: shorter keys are guessable.
MIN_KEY_BYTES = 16


def read_key(key_file: str | os.PathLike[str] | None = None, env: str = KEY_ENV) -> bytes:
    """Read the pseudonymization key from ``key_file`` or the environment variable ``env``.

    Raises :class:`ParameterError` when neither gives a key of at least 16 bytes.
    """
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise ParameterError(f"pseudonymization key file {path} not found")
        key = path.read_bytes()
        where = "in the key file"
    else:
        key = os.environ.get(env, "").encode()
        where = f"in ${env}"
    # one rule for both sources: surrounding whitespace is not part of the key
    key = key.strip()
    if len(key) < MIN_KEY_BYTES:
        raise ParameterError(
            f"pseudonymization key too short or missing ({len(key)} bytes {where} once "
            f"surrounding spaces are removed; expected at least {MIN_KEY_BYTES} bytes in the "
            f"key file or in ${env})"
        )
    return key


def check_key_options(pseudonymize: bool, key_file: object) -> None:
    """Raise :class:`ParameterError` when a key file is given without pseudonymization: the
    user meant the report to be pseudonymized, and it would silently hold the raw ids."""
    if key_file not in (None, "") and not pseudonymize:
        raise ParameterError(
            "pseudonym_key_file is given but pseudonymize is false: the report "
            "would hold the raw identifiers (expected pseudonymize=true with a "
            "key file, or no key file)"
        )


def pseudonymize(
    ids: Iterable[object] | pd.Series, key: bytes, prefix: str = "ID", *, length: int = 12
) -> pd.Series:
    """Keyed pseudonyms ``<prefix>-<hex>`` for patient identifiers (HMAC-SHA-256, ``length`` hex chars).

    Deterministic for a given key; distinct identifiers give distinct pseudonyms (a collision raises,
    astronomically unlikely at 12 hex characters for any real cohort). Missing identifiers stay missing.
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
        raise ParameterError(f"pseudonymization key must be at least {MIN_KEY_BYTES} bytes")
    s = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype="object")
    uniq = pd.unique(s.dropna().astype(str))
    mapping = {
        u: f"{prefix}-{hmac.new(bytes(key), u.encode('utf-8'), hashlib.sha256).hexdigest()[:length]}"
        for u in uniq
    }
    if len(set(mapping.values())) != len(mapping):
        raise ParameterError("pseudonym collision: increase the pseudonym length")
    out = s.astype("object").where(s.isna(), s.astype(str).map(mapping))
    return out.rename(s.name)


def pseudonymize_table(
    table: pd.DataFrame, key: bytes, columns: Iterable[str] = ("patient_id",)
) -> pd.DataFrame:
    """Copy of ``table`` with every identifier column in ``columns`` pseudonymized (others untouched)."""
    out = table.copy()
    for col in columns:
        if col in out.columns:
            out[col] = pseudonymize(out[col], key)
    return out


def suppress_small_cells(
    table: pd.DataFrame,
    k: int,
    count_columns: Iterable[str] | None = None,
    *,
    dependent_columns: Iterable[str] = (),
) -> pd.DataFrame:
    """Mask counts in ``(0, k)`` as the string ``"<k"``; zero stays (it discloses no one).

    ``count_columns`` default: integer columns whose name starts with ``n`` or is ``events``.
    ``dependent_columns`` (percentages, CIs derived from a masked count) are blanked on masked rows.
    ``k <= 1`` returns the table unchanged.
    """
    if k <= 1:
        return table.copy()
    if count_columns is None:
        count_columns = [
            c
            for c in table.columns
            if (c.startswith("n_") or c in {"n", "events", "n_events"})
            and pd.api.types.is_numeric_dtype(table[c])
        ]
    out = table.copy()
    masked_any = pd.Series(False, index=out.index)
    for col in count_columns:
        vals = pd.to_numeric(out[col], errors="coerce")
        small = (vals > 0) & (vals < k)
        if small.any():
            masked_any |= small.fillna(False)
            out[col] = out[col].astype("object").where(~small, f"<{k}")
    for col in dependent_columns:
        if col in out.columns:
            out[col] = out[col].astype("object").where(~masked_any, np.nan)
    return out


# --------------------------------------------------------------------------------------------
# identifiers inside other text (loader notes, lesion ids such as MRN7700148-T1)


_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def scrub_text(text: str, mapping: dict[str, str], lengths: Iterable[int] | None = None) -> str:
    """``text`` with every identifier of ``mapping`` replaced by its pseudonym where it stands
    as a whole token: not inside a longer run of letters and digits, but possibly inside a
    longer id (``MRN7700148`` in ``MRN7700148-T1``, not in ``MRN77001480``). Longest match
    first, left to right; dictionary look-ups, so the cost does not grow with the cohort."""
    sizes = sorted(set(lengths if lengths is not None else map(len, mapping)), reverse=True)
    n = len(text)
    out: list[str] = []
    last = i = 0
    while i < n:
        if i == 0 or text[i - 1] not in _ALNUM:
            for size in sizes:
                j = i + size
                if j <= n and (j == n or text[j] not in _ALNUM) and text[i:j] in mapping:
                    out += [text[last:i], mapping[text[i:j]]]
                    last = i = j
                    break
            else:
                i += 1
            continue
        i += 1
    return "".join(out) + text[last:] if out else text


def scrub_ids(values: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """``values`` with every identifier of ``mapping`` found inside a text replaced by its
    pseudonym (:func:`scrub_text`, on the distinct values; non-text values untouched)."""
    if not mapping or not len(values):
        return values
    lengths = sorted({len(k) for k in mapping}, reverse=True)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        if cats.dtype != object:
            return values
        new = [scrub_text(c, mapping, lengths) if isinstance(c, str) else c for c in cats]
        if new == list(cats):
            return values
        if len(set(new)) == len(new):
            return values.cat.rename_categories(new)
        return scrub_ids(values.astype(object), mapping).astype("category")
    if values.dtype != object:
        return values
    sub = {
        u: scrub_text(u, mapping, lengths) for u in pd.unique(values.dropna()) if isinstance(u, str)
    }
    sub = {k: v for k, v in sub.items() if k != v}
    if not sub:
        return values
    return values.map(lambda v: sub.get(v, v) if isinstance(v, str) else v)


def pseudonymize_cohort(cohort: Any, key: bytes, prefix: str = "ID") -> Any:
    """Copy of a loaded cohort with keyed pseudonyms for every patient identifier: the
    ``patient_id`` columns of every table, and any patient id inside another text — lesion ids
    that embed it (``MRN7700148-T1`` -> ``ID-…-T1``), free-text columns, the loader's notes
    (``load_report``). No output built from the copy can hold an input patient id."""
    import dataclasses

    ids = cohort.patients["patient_id"].dropna().astype(str).unique()
    mapping = dict(
        zip(ids, pseudonymize(pd.Series(ids, dtype=object), key, prefix=prefix), strict=True)
    )
    changes: dict[str, Any] = {}
    for name in ("patients", "lesions", "assessments", "scans_wide", "biomarkers", "load_report"):
        tab = getattr(cohort, name, None)
        if not isinstance(tab, pd.DataFrame):
            continue
        out = tab.copy()
        for col in out.columns:
            if col == "patient_id":
                out[col] = pseudonymize(out[col], key, prefix=prefix)
            else:
                out[col] = scrub_ids(out[col], mapping)
        changes[name] = out
    return dataclasses.replace(cohort, **changes)


# --------------------------------------------------------------------------------------------
# spreadsheet formula injection

#: first characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralize_text(value: object) -> object:
    """``value`` with a single quote in front when it is text a spreadsheet would run as a
    formula (starts with ``= + - @``, tab or CR; negative numbers such as ``-4.5`` excepted)."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _formula_like(s: pd.Series) -> np.ndarray:
    """Row mask of the text cells starting with a formula character (Arrow's vectorized regex;
    a per-cell test when the column mixes text with other types)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(s.to_numpy(object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.fromiter(
            (isinstance(v, str) and v[:1] in FORMULA_STARTS and v[:1] != "" for v in s),
            bool,
            len(s),
        )
    mask = pc.match_substring_regex(arr, "^[=+\\-@\t\r]").fill_null(False)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def neutralize_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` safe to open in a spreadsheet: every text cell (and column name) that
    would start a formula gets a leading single quote (OWASP's rule). Used by every CSV, Excel
    and docx writer of the workbench; the loader reads such cells back without the quote
    (:func:`unneutralize_text`), so identifiers round-trip. Numbers are never changed."""
    out = table.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.dtype == object:
            cats = [neutralize_text(c) for c in s.cat.categories]
            if cats != list(s.cat.categories):
                out[col] = s.cat.rename_categories(cats)
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            # vectorized first-character test; only the risky cells are looked at
            risky = _formula_like(s)
            if risky.any():
                fixed = s.astype(object).copy()
                fixed[risky] = [neutralize_text(v) for v in s[risky]]
                out[col] = fixed.astype(s.dtype) if isinstance(s.dtype, pd.StringDtype) else fixed
    names = [neutralize_text(c) if isinstance(c, str) else c for c in out.columns]
    if names != list(out.columns):
        out.columns = names
    return out


def unneutralize_text(value: object) -> object:
    """Inverse of :func:`neutralize_text` for a cell read back: ``'=x`` -> ``=x``."""
    if (
        isinstance(value, str)
        and len(value) > 1
        and value[0] == "'"
        and value[1:].startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value[1:])
    ):
        return value[1:]
    return value


# --------------------------------------------------------------------------------------------
# pseudonymized cohorts and the small-cell rule of exported tables (used by report sections)

#: prefix of the pseudonyms (:func:`hpd_analysis.privacy.pseudonymize`)
PSEUDONYM_PREFIX = "ID-"


def check_pseudonymized(df: pd.DataFrame, name: str) -> None:
    """Raise :class:`HPDError` when a ``patient_id`` column of a table to export holds a value
    that is not a pseudonym (it would leak an identifier)."""
    for col in ("patient_id",):
        if col in df.columns:
            v = df[col].dropna().astype(str)
            bad = ~v.str.startswith(PSEUDONYM_PREFIX)
            if bad.any():
                raise HPDError(
                    f"table {name}: {int(bad.sum())} patient_id value(s) are not "
                    "pseudonyms although pseudonymize is on; not written"
                )


#: per exported aggregate table: (count columns, columns computed from them). Tables not listed
#: use the default rule: numeric ``n``/``n_*``/``events`` columns, and percent / CI columns.
SMALL_CELL_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "incidence": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "threshold_sweep": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "attrition": (("n",), ("percent_of_cohort",)),
    "agreement": (
        PAIR_COUNT_COLUMNS,
        ("jaccard", "percent_agreement", "kappa", "kappa_ci_low", "kappa_ci_high", "kappa_p_value"),
    ),
    "scans_per_patient": (("n_patients",), ()),
    "recist_first_eval": (("n", "n_hpd", "n_not_hpd", "n_not_evaluable"), ("percent",)),
    "upset": (("n",), ()),
    "survival": (("n", "events", "n_excluded"), ESTIMATE_COLUMNS),
    "survival_excluded": (("n",), ()),
    "kinetics_summary": (("n", "n_missing"), ("median", "q1", "q3")),
    "odds_ratios": (("n", "n_events"), ()),
    # rows of the input files a loader action touched: not a count of patients
    "load_report": ((), ()),
}
_DEPENDENT_DEFAULT = ("percent", "pct", "ci_low", "ci_high")
_COUNT_PCT = re.compile(r"^\s*(\d+)(\s*\(\s*[-\d.]+\s*%?\s*\))?\s*$")


def _mask_count_text(value: Any, k: int) -> Any:
    """``"3 (7.5)"`` / ``"3"`` / ``3`` → ``"<k"`` when the count is 1..k-1; anything else as is."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<{k}" if 0 < value < k and float(value).is_integer() else value
    if isinstance(value, str):
        m = _COUNT_PCT.match(value)
        if m and 0 < int(m.group(1)) < k:
            return f"<{k}"
    return value


def _suppress_text_counts(table: pd.DataFrame, columns: Sequence[str], k: int) -> pd.DataFrame:
    out = table.copy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col].astype("object").map(lambda v: _mask_count_text(v, k))
    return out


def suppress_table(table: pd.DataFrame, name: str, k: int) -> pd.DataFrame:
    """The small-cell rule on one exported table: counts 1..k-1 → ``"<k"`` and the values
    computed from a masked count blanked (:func:`hpd_analysis.privacy.suppress_small_cells`).

    Patient-level tables (with a ``patient_id`` column) are not aggregates and are returned
    unchanged. ``table1``: every ``n (%)`` / count cell of the group columns and ``missing``.
    ``cohort_overview``: values that are a count, ``count (x %)`` or ``name count, ...`` lists.
    ``k <= 1`` returns the table unchanged.
    """
    if k <= 1 or "patient_id" in table.columns:
        return table
    if name == "table1":
        fixed = {"variable", "level", "statistic", "test", "p_value", "smd"}
        cols = [c for c in table.columns if c not in fixed]
        out = _suppress_text_counts(table, cols, k)
        out.attrs = dict(table.attrs)
        return out
    if name == "cohort_overview" and "value" in table.columns:
        out = _suppress_text_counts(table, ["value"], k)

        def _lists(v: Any) -> Any:
            if not isinstance(v, str) or "," not in v:
                return v
            parts = [
                re.sub(
                    r"(\s)(\d+)$",
                    lambda m: m.group(1) + (f"<{k}" if 0 < int(m.group(2)) < k else m.group(2)),
                    p,
                )
                for p in v.split(", ")
            ]
            return ", ".join(parts)

        out["value"] = out["value"].map(_lists)
        return out
    counts, dependent = SMALL_CELL_COLUMNS.get(name, (None, _DEPENDENT_DEFAULT))
    count_cols = None if counts is None else [c for c in counts if c in table.columns]
    out = suppress_small_cells(
        table,
        k,
        count_columns=count_cols,
        dependent_columns=[c for c in dependent if c in table.columns],
    )
    out.attrs = dict(table.attrs)
    return out
