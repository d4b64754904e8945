"""The patients table's other columns (risk factors) as given, but read as a statistician
would: text numbers with a few text codes (``ND``, ``<5``) as numbers, decimal commas of a
``;``-separated file, the spellings of ``sex`` merged, and impossible numbers (infinite, beyond
:data:`MAX_COVARIATE_MAGNITUDE`, a negative age) reported as problems.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .columns import canonical_name
from .readers import DELIMITER_ATTR, kept_column
from .validate import Collector, is_number, show, shown_numbers

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


def covariate_column(df: pd.DataFrame, c: str, label: str, *, col: Collector) -> pd.Series:
    """A non-contract patients column as given, but: text numbers with a few text codes
    (``ND``, ``<5``) read as numbers with those cells missing (noted), decimal commas of a
    ``;``-separated file read as numbers, the spellings of ``sex`` merged (noted), and
    impossible numbers (infinite, beyond 1e15, a negative age...) reported as problems."""
    s = kept_column(df, c)
    name = canonical_name(c)
    if s.dtype == object:
        if name == "sex":
            s = _merge_sex_spellings(s, label, c, col=col)
        s = _numbers_with_codes(
            s, label, c, col=col, decimal_comma=df.attrs.get(DELIMITER_ATTR) == ";"
        )
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
            message=lambda x: f"{show(x)} is not a finite number",
            expected="a finite number",
            values=shown_numbers(s, bad),
        )
        huge = (v.abs() > MAX_COVARIATE_MAGNITUDE) & ~bad
        col.add_rows(
            label,
            c,
            huge,
            message=lambda x: f"{show(x)} is too large to be a measurement",
            expected=f"a number of magnitude ≤ {MAX_COVARIATE_MAGNITUDE:g}",
            values=shown_numbers(s, huge),
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
            message=lambda x: f"{show(x)} is not a possible {name}",
            expected=rng,
            values=shown_numbers(s, out_of),
        )
    return s


def _id_like(name: str) -> bool:
    """A column name that names an identifier or code (``source_patient_id``, ``id_tumour``,
    ``sample_no``): never checked as a measurement."""
    return bool(re.search(r"(^|_)(id|ids|no|nr|number|code|key|hash)($|_)", name))


def _merge_sex_spellings(s: pd.Series, label: str, c: str, *, col: Collector) -> pd.Series:
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
        n_rows=int(len(s)),
        detail="spellings of one sex read as one level: " + "; ".join(merged),
    )
    vals = new.to_numpy(object)[np.maximum(codes, 0)]
    return pd.Series(np.where(codes >= 0, vals, s.to_numpy(object)), index=s.index, dtype=object)


def _numbers_with_codes(
    s: pd.Series, label: str, c: str, *, col: Collector, decimal_comma: bool
) -> pd.Series:
    """A text column that is numeric but for a few text codes, as numbers (see covariate_column);
    decided on the distinct values, expanded through their codes."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if not len(uniq):
        return s
    u = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    u_num = u.map(is_number).to_numpy(bool)
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
            n_rows=int(comma.sum()),
            detail="decimal commas of the ';'-separated file read as decimal points",
        )
    if coded.any():
        rows = coded.index[coded.to_numpy()][:10]
        col.note(
            label,
            c,
            "text_codes_missing",
            n_rows=int(coded.sum()),
            detail="read as numbers; cells with text "
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
