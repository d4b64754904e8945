"""Patient privacy for exported tables: keyed pseudonyms and small-cell suppression.

- :func:`pseudonymize` replaces patient identifiers by a keyed hash (HMAC-SHA-256). The key never
  appears in the report: it is read from a file or an environment variable named by the caller, so
  the same key gives the same pseudonyms across runs (reviewers can link tables) while nobody
  without the key can reverse or re-derive them by hashing candidate identifiers.
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

from .errors import HPDError, ParameterError

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
        key = path.read_bytes().strip()
    else:
        key = os.environ.get(env, "").encode()
    if len(key) < MIN_KEY_BYTES:
        raise ParameterError(
            f"pseudonymization key too short or missing ({len(key)} bytes; expected at least "
            f"{MIN_KEY_BYTES} bytes in the key file or in ${env})"
        )
    return key


def pseudonymize(ids: Iterable[object] | pd.Series, key: bytes, prefix: str = "ID",
                 length: int = 12) -> pd.Series:
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


def pseudonymize_table(table: pd.DataFrame, key: bytes,
                       columns: Iterable[str] = ("patient_id",)) -> pd.DataFrame:
    """Copy of ``table`` with every identifier column in ``columns`` pseudonymized (others untouched)."""
    out = table.copy()
    for col in columns:
        if col in out.columns:
            out[col] = pseudonymize(out[col], key)
    return out


def suppress_small_cells(table: pd.DataFrame, k: int,
                         count_columns: Iterable[str] | None = None,
                         dependent_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Mask counts in ``(0, k)`` as the string ``"<k"``; zero stays (it discloses no one).

    ``count_columns`` default: integer columns whose name starts with ``n`` or is ``events``.
    ``dependent_columns`` (percentages, CIs derived from a masked count) are blanked on masked rows.
    ``k <= 1`` returns the table unchanged.
    """
    if k <= 1:
        return table.copy()
    if count_columns is None:
        count_columns = [
            c for c in table.columns
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
# pseudonymized cohorts and the small-cell rule of exported tables (used by report sections)

#: prefix of the pseudonyms (:func:`hpd_analysis.privacy.pseudonymize`)
PSEUDONYM_PREFIX = "ID-"


def pseudonymize_cohort(cohort: Any, key: bytes) -> Any:
    """Copy of a loaded cohort whose ``patient_id`` columns (patients, lesions, assessments,
    wide scans) hold keyed pseudonyms (:func:`hpd_analysis.privacy.pseudonymize_table`); the
    loader's notes have any identifier they quote replaced as well."""
    import dataclasses

    changes: dict[str, Any] = {}
    for name in ("patients", "lesions", "assessments", "scans_wide", "biomarkers"):
        tab = getattr(cohort, name, None)
        if isinstance(tab, pd.DataFrame) and "patient_id" in tab.columns:
            changes[name] = pseudonymize_table(tab, key)
    ids = cohort.patients["patient_id"].dropna().astype(str).unique()
    rep = getattr(cohort, "load_report", None)
    if isinstance(rep, pd.DataFrame) and len(rep) and len(ids):
        mapping = dict(zip(ids, pseudonymize(pd.Series(ids), key), strict=True))
        pattern = re.compile(r"(?<![\w-])(" + "|".join(
            re.escape(i) for i in sorted(mapping, key=len, reverse=True)) + r")(?![\w-])")
        rep = rep.copy()
        for col in rep.columns:
            if rep[col].dtype == object:
                rep[col] = rep[col].map(lambda v: pattern.sub(lambda m: mapping[m.group(0)], v)
                                        if isinstance(v, str) else v)
        changes["load_report"] = rep
    return dataclasses.replace(cohort, **changes)


def _check_pseudonymized(df: pd.DataFrame, name: str) -> None:
    """Raise :class:`HPDError` when a ``patient_id`` column of a table to export holds a value
    that is not a pseudonym (it would leak an identifier)."""
    for col in ("patient_id",):
        if col in df.columns:
            v = df[col].dropna().astype(str)
            bad = ~v.str.startswith(PSEUDONYM_PREFIX)
            if bad.any():
                raise HPDError(f"table {name}: {int(bad.sum())} patient_id value(s) are not "
                               "pseudonyms although pseudonymize is on; not written")


#: per exported aggregate table: (count columns, columns computed from them). Tables not listed
#: use the default rule: numeric ``n``/``n_*``/``events`` columns, and percent / CI columns.
SMALL_CELL_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "incidence": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "threshold_sweep": (("n_hpd", "n_evaluable", "n_total"), ("percent", "ci_low", "ci_high")),
    "attrition": (("n",), ("percent_of_cohort",)),
    "agreement": (("n_both_evaluable", "n_both", "n_a_only", "n_b_only", "n_neither",
                   "n_either"),
                  ("jaccard", "percent_agreement", "kappa", "kappa_ci_low", "kappa_ci_high",
                   "kappa_p_value")),
    "scans_per_patient": (("n_patients",), ()),
    "recist_first_eval": (("n", "n_hpd", "n_not_hpd", "n_not_evaluable"), ("percent",)),
    "upset": (("n",), ()),
    "survival": (("n", "events", "n_excluded"),
                 ("median_months", "median_ci_low", "median_ci_high", "hazard_ratio",
                  "hr_ci_low", "hr_ci_high")),
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
            parts = [re.sub(r"(\s)(\d+)$", lambda m: m.group(1) + (
                f"<{k}" if 0 < int(m.group(2)) < k else m.group(2)), p) for p in v.split(", ")]
            return ", ".join(parts)

        out["value"] = out["value"].map(_lists)
        return out
    counts, dependent = SMALL_CELL_COLUMNS.get(name, (None, _DEPENDENT_DEFAULT))
    count_cols = (None if counts is None else [c for c in counts if c in table.columns])
    out = suppress_small_cells(table, k, count_columns=count_cols,
                               dependent_columns=[c for c in dependent if c in table.columns])
    out.attrs = dict(table.attrs)
    return out
