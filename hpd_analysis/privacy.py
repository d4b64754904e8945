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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParameterError

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
