"""Derived clinical prognostic scores, each as its paper defines it.

A score is computed for a patient only when every input of the score is known for that patient;
otherwise it is missing (``<NA>``) — never a partial sum. A score whose inputs are not columns of
the cohort is not added at all. Inputs (optional patient columns of the contract,
``docs/cohort-format.md``):

- LDH above the upper limit of normal (ULN): ``ldh_uln_ratio`` (LDH / ULN, no unit) > 1, else
  ``ldh`` > ``ldh_uln`` (both in the laboratory's unit, e.g. U/L), else the given boolean
  ``ldh_above_uln``;
- ``albumin_g_l``: serum albumin in g/L;
- ``n_metastatic_sites`` (count) or the boolean ``n_metastatic_sites_gt_2``;
- derived neutrophil-to-lymphocyte ratio dNLR = neutrophils / (leukocytes − neutrophils) from
  ``neutrophils`` and ``leukocytes`` (absolute counts, same unit, e.g. 10⁹/L; Proctor et al., Br J
  Cancer 2012), else a given ``dnlr`` column.

Scores (:data:`SCORES`):

- **Royal Marsden Hospital (RMH) prognostic score** (Arkenau et al., Br J Cancer 2008;98:1029-33;
  prospectively validated, Arkenau et al., J Clin Oncol 2009;27:2692-6): one point each for
  LDH > ULN, albumin < 35 g/L and more than two sites of metastasis; 0-3. Good prognosis 0-1,
  poor 2-3.
- **Lung Immune Prognostic Index (LIPI)** (Mezquita et al., JAMA Oncol 2018;4:351-7): one point
  each for dNLR > 3 and LDH > ULN; 0 good, 1 intermediate, 2 poor.

All thresholds are strict, as published (an LDH exactly at the ULN, an albumin of exactly 35 g/L,
two sites, a dNLR of exactly 3 score 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Score",
    "SCORES",
    "SCORE_INPUT_COLUMNS",
    "ldh_above_uln",
    "albumin_below_35",
    "derived_nlr",
    "more_than_two_sites",
    "rmh_score",
    "lipi",
    "add_scores",
    "derivable_columns",
    "score_table",
]

#: optional patient columns the scores read (contract names)
SCORE_INPUT_COLUMNS: tuple[str, ...] = (
    "ldh_uln_ratio",
    "ldh",
    "ldh_uln",
    "ldh_above_uln",
    "albumin_g_l",
    "n_metastatic_sites",
    "n_metastatic_sites_gt_2",
    "neutrophils",
    "leukocytes",
    "dnlr",
)
#: albumin (g/L) below which a value is read as given in g/dL by mistake (warning only)
_ALBUMIN_G_DL_SUSPECT = 10.0


@dataclass(frozen=True)
class Score:
    """One published score: output columns, rule, groups and citation."""

    code: str
    name: str
    columns: tuple[str, ...]
    rule: str
    groups: str
    citation: str


SCORES: dict[str, Score] = {
    "rmh": Score(
        code="rmh",
        name="Royal Marsden Hospital prognostic score",
        columns=("rmh_score", "rmh_group"),
        rule="1 point each: LDH > upper limit of normal; albumin < 35 g/L; more than 2 "
        "metastatic sites (0-3)",
        groups="good 0-1, poor 2-3",
        citation="Arkenau HT, Olmos D, Ang JE, et al. Clinical outcome and prognostic factors for "
        "patients treated within the context of a phase I study: the Royal Marsden "
        "Hospital experience. Br J Cancer 2008;98(6):1029-1033; Arkenau HT, Barriuso J, "
        "Olmos D, et al. Prospective validation of a prognostic score to improve patient "
        "selection for oncology phase I trials. J Clin Oncol 2009;27(16):2692-2696.",
    ),
    "lipi": Score(
        code="lipi",
        name="Lung Immune Prognostic Index",
        columns=("lipi_score", "lipi_group"),
        rule="1 point each: derived NLR (neutrophils / (leukocytes - neutrophils)) > 3; LDH > "
        "upper limit of normal (0-2)",
        groups="good 0, intermediate 1, poor 2",
        citation="Mezquita L, Auclin E, Ferrara R, et al. Association of the Lung Immune "
        "Prognostic Index with immune checkpoint inhibitor outcomes in patients with "
        "advanced non-small cell lung cancer. JAMA Oncol 2018;4(3):351-357.",
    ),
}

RMH_GROUPS = ("good (0-1)", "poor (2-3)")
LIPI_GROUPS = ("good (0)", "intermediate (1)", "poor (2)")


def _num(data: pd.DataFrame, col: str, warnings: list[str] | None = None) -> pd.Series:
    """Column as float (NaN when missing); text that is not a number is counted in ``warnings``."""
    raw = data[col]
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean").astype("Float64").astype(float)
    out = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = int((out.isna() & raw.notna()).sum())
    if bad and warnings is not None:
        warnings.append(f"{col}: {bad} value(s) not a number, read as missing")
    return out


def _flag(values: np.ndarray | pd.Series, known: pd.Series | np.ndarray) -> pd.Series:
    """Nullable boolean from a boolean array, ``<NA>`` where ``known`` is False."""
    v = pd.Series(np.asarray(values, dtype=bool), index=getattr(known, "index", None))
    return v.astype("boolean").where(np.asarray(known, dtype=bool), pd.NA)


def _bool_column(data: pd.DataFrame, col: str, warnings: list[str] | None = None) -> pd.Series:
    """A given yes/no column (True/False, 1/0, yes/no text) as nullable boolean."""
    raw = data[col]
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean")
    text = raw.astype("string").str.strip().str.lower()
    mapped = text.map(
        {
            "true": True,
            "1": True,
            "1.0": True,
            "yes": True,
            "y": True,
            "false": False,
            "0": False,
            "0.0": False,
            "no": False,
            "n": False,
        }
    )
    bad = int((mapped.isna() & raw.notna() & text.ne("")).sum())
    if bad and warnings is not None:
        warnings.append(f"{col}: {bad} value(s) not yes/no (True/False, 1/0), read as missing")
    return mapped.astype("boolean")


def ldh_above_uln(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.Series | None:
    """LDH > upper limit of normal per patient (nullable boolean), or None without an LDH input.

    Sources in order: ``ldh_uln_ratio`` > 1; else ``ldh`` > ``ldh_uln``; else the boolean
    ``ldh_above_uln`` as given. A patient missing the first source falls back to the next one
    (so a cohort may mix patients with a ratio and patients with the raw values).
    """
    out: pd.Series | None = None

    def fill(more: pd.Series) -> None:
        nonlocal out
        out = more if out is None else out.fillna(more)

    if "ldh_uln_ratio" in data.columns:
        r = _num(data, "ldh_uln_ratio", warnings)
        fill(_flag(r > 1.0, r.notna()))
    if "ldh" in data.columns and "ldh_uln" in data.columns:
        ldh, uln = _num(data, "ldh", warnings), _num(data, "ldh_uln", warnings)
        ok = ldh.notna() & uln.notna() & (uln > 0)
        fill(_flag(ldh > uln, ok))
    if "ldh_above_uln" in data.columns:
        fill(_bool_column(data, "ldh_above_uln", warnings))
    return out


def albumin_below_35(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.Series | None:
    """Albumin < 35 g/L (nullable boolean) from ``albumin_g_l``, or None without that column.

    Values below 10 look like g/dL: they are used as given (g/L) and counted in ``warnings``.
    """
    if "albumin_g_l" not in data.columns:
        return None
    alb = _num(data, "albumin_g_l", warnings)
    suspect = int((alb < _ALBUMIN_G_DL_SUSPECT).sum())
    if suspect and warnings is not None:
        warnings.append(
            f"albumin_g_l: {suspect} value(s) below {_ALBUMIN_G_DL_SUSPECT:g} g/L "
            "(g/dL instead of g/L?): used as g/L"
        )
    return _flag(alb < 35.0, alb.notna())


def more_than_two_sites(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.Series | None:
    """More than 2 metastatic sites (nullable boolean) from ``n_metastatic_sites`` (else the
    boolean ``n_metastatic_sites_gt_2``), or None without either column."""
    if "n_metastatic_sites" in data.columns:
        n = _num(data, "n_metastatic_sites", warnings)
        out = _flag(n > 2, n.notna())
        if "n_metastatic_sites_gt_2" in data.columns:
            out = out.fillna(_bool_column(data, "n_metastatic_sites_gt_2", warnings))
        return out
    if "n_metastatic_sites_gt_2" in data.columns:
        return _bool_column(data, "n_metastatic_sites_gt_2", warnings)
    return None


def derived_nlr(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.Series | None:
    """dNLR = neutrophils / (leukocytes − neutrophils) (float, NaN when not computable), from the
    absolute counts ``neutrophils`` and ``leukocytes`` (same unit); a given ``dnlr`` column fills
    the patients without counts. None when neither is present.

    Leukocytes ≤ neutrophils (impossible counts) give NaN and are counted in ``warnings``.
    """
    out: pd.Series | None = None
    if "neutrophils" in data.columns and "leukocytes" in data.columns:
        neu, wbc = _num(data, "neutrophils", warnings), _num(data, "leukocytes", warnings)
        rest = wbc - neu
        bad = neu.notna() & wbc.notna() & ((rest <= 0) | (neu < 0))
        if bad.any() and warnings is not None:
            warnings.append(
                f"dNLR: {int(bad.sum())} patient(s) with leukocytes <= neutrophils "
                "(or a negative count): dNLR missing"
            )
        out = (neu / rest).where(~bad)
    if "dnlr" in data.columns:
        given = _num(data, "dnlr", warnings)
        out = given if out is None else out.fillna(given)
    return out


def _points(*flags: pd.Series) -> pd.Series:
    """Sum of 0/1 criteria; ``<NA>`` when any criterion is unknown (never a partial sum)."""
    known = np.logical_and.reduce([f.notna().to_numpy() for f in flags])
    total = np.sum([f.fillna(False).astype(bool).to_numpy(dtype=int) for f in flags], axis=0)
    return pd.Series(total, index=flags[0].index).astype("Int64").where(known, pd.NA)


def rmh_score(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.DataFrame | None:
    """Royal Marsden Hospital score (:data:`SCORES` ``rmh``): columns ``rmh_score`` (Int64 0-3)
    and ``rmh_group`` (``good (0-1)`` / ``poor (2-3)``), missing where an input is missing; None
    when the cohort lacks an LDH, albumin or metastatic-site column."""
    ldh = ldh_above_uln(data, warnings)
    alb = albumin_below_35(data, warnings)
    sites = more_than_two_sites(data, warnings)
    if ldh is None or alb is None or sites is None:
        return None
    score = _points(ldh, alb, sites)
    group = pd.Series(pd.NA, index=data.index, dtype="string")
    group[score.notna()] = np.where(
        score[score.notna()].to_numpy(int) >= 2, RMH_GROUPS[1], RMH_GROUPS[0]
    )
    return pd.DataFrame({"rmh_score": score, "rmh_group": group}, index=data.index)


def lipi(data: pd.DataFrame, warnings: list[str] | None = None) -> pd.DataFrame | None:
    """Lung Immune Prognostic Index (:data:`SCORES` ``lipi``): columns ``lipi_score`` (Int64 0-2)
    and ``lipi_group`` (``good (0)`` / ``intermediate (1)`` / ``poor (2)``), missing where an
    input is missing; None when the cohort lacks an LDH or a dNLR input."""
    ldh = ldh_above_uln(data, warnings)
    dnlr = derived_nlr(data, warnings)
    if ldh is None or dnlr is None:
        return None
    score = _points(_flag(dnlr > 3.0, dnlr.notna()), ldh)
    group = pd.Series(pd.NA, index=data.index, dtype="string")
    known = score.notna()
    group[known] = np.asarray(LIPI_GROUPS, dtype=object)[score[known].to_numpy(int)]
    return pd.DataFrame({"lipi_score": score, "lipi_group": group}, index=data.index)


def add_scores(data: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``data`` with the derived factors and scores its columns allow, added only when
    absent (a column the user gave is never overwritten):

    ``ldh_above_uln`` (from ``ldh_uln_ratio`` or ``ldh``/``ldh_uln``), ``albumin_lt_35``,
    ``dnlr`` (from the counts), ``dnlr_gt_3``, ``rmh_score``, ``rmh_group``, ``lipi_score``,
    ``lipi_group``. Notes (values read as missing, suspect units) are in
    ``attrs["score_warnings"]``.
    """
    out = data.copy()
    warn: list[str] = []
    ldh = ldh_above_uln(data, warn)
    if ldh is not None and "ldh_above_uln" not in out.columns:
        out["ldh_above_uln"] = ldh
    alb = albumin_below_35(data, warn)
    if alb is not None and "albumin_lt_35" not in out.columns:
        out["albumin_lt_35"] = alb
    dnlr = derived_nlr(data, warn)
    if dnlr is not None:
        if "dnlr" not in out.columns:
            out["dnlr"] = dnlr
        if "dnlr_gt_3" not in out.columns:
            out["dnlr_gt_3"] = _flag(dnlr > 3.0, dnlr.notna())
    for table in (rmh_score(data), lipi(data)):
        if table is not None:
            for c in table.columns:
                if c not in out.columns:
                    out[c] = table[c]
    out.attrs["score_warnings"] = list(dict.fromkeys(warn))
    return out


def derivable_columns(columns: list[str] | pd.Index) -> list[str]:
    """Columns :func:`add_scores` would add to a table with these ``columns`` (in its order),
    judged from the names only: lets the candidate list name the scores before they exist."""
    have = set(map(str, columns))
    ldh = bool({"ldh_uln_ratio", "ldh_above_uln"} & have) or {"ldh", "ldh_uln"} <= have
    sites = bool({"n_metastatic_sites", "n_metastatic_sites_gt_2"} & have)
    dnlr = {"neutrophils", "leukocytes"} <= have or "dnlr" in have
    out = []
    if ldh:
        out.append("ldh_above_uln")
    if "albumin_g_l" in have:
        out.append("albumin_lt_35")
    if dnlr:
        out += ["dnlr", "dnlr_gt_3"]
    if ldh and sites and "albumin_g_l" in have:
        out += ["rmh_score", "rmh_group"]
    if ldh and dnlr:
        out += ["lipi_score", "lipi_group"]
    return [c for c in out if c not in have]


def score_table(data: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scores as a table for the report: ``score, name, rule, groups, citation`` and, when
    ``data`` is given, ``n_computed`` / ``n_missing`` (patients with / without the score) — or
    ``not computed: no column ...`` when the cohort lacks an input."""
    rows = []
    scored = add_scores(data) if data is not None else None
    for s in SCORES.values():
        row: dict[str, object] = {
            "score": s.columns[0],
            "name": s.name,
            "rule": s.rule,
            "groups": s.groups,
            "citation": s.citation,
        }
        if scored is not None:
            col = s.columns[0]
            if col in scored.columns:
                n_ok = int(scored[col].notna().sum())
                row.update(n_computed=n_ok, n_missing=int(len(scored) - n_ok), note="")
            else:
                need = (
                    "LDH (ldh_uln_ratio, ldh + ldh_uln or ldh_above_uln), albumin_g_l, "
                    "n_metastatic_sites"
                    if s.code == "rmh"
                    else "LDH (ldh_uln_ratio, ldh + ldh_uln or ldh_above_uln), neutrophils + "
                    "leukocytes (or dnlr)"
                )
                row.update(
                    n_computed=0, n_missing=int(len(scored)), note=f"not computed: needs {need}"
                )
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("n_computed", "n_missing"):
        if c in out.columns:
            out[c] = out[c].astype("Int64")
    return out
