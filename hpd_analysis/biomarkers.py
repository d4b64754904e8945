"""Longitudinal biomarkers: the optional ``biomarkers`` table of a cohort, its early change and
the data of its spider plot.

``biomarkers.csv`` (or ``.csv.gz``, ``.tsv``, ``.parquet``, ``.xlsx``) in a cohort folder: one row
per patient, sample date and marker (``docs/cohort-format.md``):

| column | type | meaning |
|---|---|---|
| ``patient_id`` | string | key into patients |
| ``date`` | ISO date | sample date |
| ``marker`` | string | e.g. ``ctdna_vaf``, ``ldh``, ``crp`` |
| ``value`` | number | the measurement, in the marker's unit (one unit per marker) |
| ``unit`` | string, optional | e.g. ``%``, ``U/L`` |

It is validated like the other tables (one line per problem: file:row: column: what, expected):
every row needs a known patient, an ISO date, a marker and a number; identical duplicate rows are
dropped and recorded in the load report; two different values for one patient, date and marker
are an error, and so are two units for one marker.

**Early change** (:func:`early_change`): baseline = the last value on or before the treatment
start and at most ``windows.baseline_max_days_before`` days (42) before it, as for the baseline
scan; early = the first value after the start (day ≥ 1) and at most
``prediction.early_change_max_days`` (63) days after it; change = 100 × (early − baseline) /
baseline (%, rounded to 1e-9 so that equal relative changes tie). Kept as a candidate
predictor ``<marker>_early_change_pct`` with its reason when missing. It is measured on
treatment: a predictor of HPD only when it precedes the evaluation scan, which the report
states.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CohortError
from .params import Parameters
from .validate import (
    Collector,
    Raw,
    blank,
    dedupe_and_sort,
    missing_ids,
    parse_dates,
    parse_ids,
    parse_numbers,
    show,
    text_column,
)

__all__ = [
    "BIOMARKER_COLUMNS",
    "ALIASES",
    "find_biomarkers",
    "parse_biomarkers",
    "read_biomarkers",
    "load_biomarkers",
    "marker_column",
    "early_change",
    "biomarker_predictors",
    "biomarker_spider_data",
]

#: columns of the canonical biomarkers table
BIOMARKER_COLUMNS = ["patient_id", "date", "marker", "value", "unit"]
_REQUIRED = ["patient_id", "date", "marker", "value"]
#: lower-case alias -> canonical column
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["patient_id", "usubjid", "subjid", "subject_id", "patient", "id", "pid"], "patient_id"
    ),
    **dict.fromkeys(
        ["date", "sample_date", "assessment_date", "visit_date", "lbdtc", "collection_date"], "date"
    ),
    **dict.fromkeys(["marker", "biomarker", "test", "analyte", "lbtestcd", "parameter"], "marker"),
    **dict.fromkeys(["value", "result", "lbstresn", "aval"], "value"),
    **dict.fromkeys(["unit", "units", "lbstresu", "avalu"], "unit"),
}
_STEM = "biomarkers"


def find_biomarkers(folder: str | Path, col: Collector | None = None) -> Path | None:
    """The ``biomarkers.*`` file of a cohort folder, or None (also when ``folder`` is a file).
    Several such files are a problem recorded in ``col``."""
    from .load import SUPPORTED_SUFFIXES, table_stem, table_suffix

    folder = Path(folder)
    if not folder.is_dir():
        return None
    files = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and table_stem(p) == _STEM and table_suffix(p) in SUPPORTED_SUFFIXES
    ]
    if len(files) > 1 and col is not None:
        col.add(
            str(folder),
            None,
            None,
            message=f"several biomarkers tables: {', '.join(f.name for f in files)}",
            expected="one biomarkers.* file",
        )
        return None
    return files[0] if files else None


def parse_biomarkers(
    raw: pd.DataFrame, label: str, col: Collector, *, patient_ids: pd.Series | None = None
) -> pd.DataFrame | None:
    """Validate a raw biomarkers table (index = spreadsheet rows) into the canonical table
    (:data:`BIOMARKER_COLUMNS`, sorted by patient, marker, date); problems go to ``col``."""
    df = _canonical_columns(raw, label, col)
    if len(df) == 0:
        col.add(
            label,
            None,
            None,
            message="table has no data rows",
            expected="at least one biomarker row",
        )
        return None
    missing = [c for c in _REQUIRED if c not in df.columns]
    for c in missing:
        col.add(
            label,
            1,
            c,
            message=f"required column {c} is missing (found: {', '.join(map(str, raw.columns[:12]))})",
            expected="columns patient_id, date, marker, value (unit optional)",
        )
    if missing:
        return None
    out = _parsed_rows(df, label, col)
    if "unit" in df.columns:
        _check_one_unit_per_marker(out, label, col)
    if patient_ids is not None:
        known = out["patient_id"].notna() & ~out["patient_id"].isin(set(patient_ids.astype(str)))
        col.add_rows(
            label,
            "patient_id",
            known,
            message=lambda v: f"patient {show(v)} is not in the patients table",
            expected="every biomarker row to belong to a patient listed in patients",
            values=out["patient_id"],
        )
    ok = out["patient_id"].notna() & out["date"].notna() & out["marker"].notna()
    return dedupe_and_sort(
        label,
        out[ok],
        ["patient_id", "marker", "date"],
        col=col,
        describe=lambda d: (
            "patient "
            + d["patient_id"].astype(str)
            + ", marker "
            + d["marker"].astype(str)
            + ", date "
            + d["date"].dt.strftime("%Y-%m-%d")
        ),
        sort=True,
    )


def _canonical_columns(raw: pd.DataFrame, label: str, col: Collector) -> pd.DataFrame:
    """``raw`` with its columns renamed to the canonical ones (:data:`ALIASES`, the first
    column of each kind), the renaming noted in ``col``."""
    from .load import canonical_name

    mapping: dict[str, str] = {}
    for c in raw.columns:
        canon = ALIASES.get(canonical_name(c))
        if canon is not None and canon not in mapping.values():
            mapping[c] = canon
    if any(k != v for k, v in mapping.items()):
        col.note(
            label,
            None,
            "renamed",
            n_rows=len(raw),
            detail=", ".join(f"{k}->{v}" for k, v in mapping.items() if k != v),
        )
    return raw.rename(columns=mapping)


def _parsed_rows(df: pd.DataFrame, label: str, col: Collector) -> pd.DataFrame:
    """The canonical columns of every row, parsed (identifier text, date, marker text, number,
    unit text); a missing or invalid cell is NaN/NaT with its problem in ``col``."""
    pid = Raw(df["patient_id"])
    out = pd.DataFrame(index=df.index)
    out["patient_id"] = parse_ids(pid, label, "patient_id", col=col)
    col.add_rows(
        label,
        "patient_id",
        missing_ids(pid),
        message="missing patient_id",
        expected="a non-empty identifier",
    )
    date = Raw(df["date"])
    out["date"] = parse_dates(date, label, "date", col=col)
    col.add_rows(
        label, "date", blank(date), message="missing date", expected="the sample date, YYYY-MM-DD"
    )
    marker = text_column(Raw(df["marker"]))
    col.add_rows(
        label,
        "marker",
        marker.isna(),
        message="missing marker",
        expected="a marker name, e.g. ctdna_vaf",
    )
    out["marker"] = marker
    raw_value = Raw(df["value"])
    value = parse_numbers(
        raw_value,
        label,
        "value",
        col=col,
        expected="a number in the marker's unit (no unit in the cell)",
        minimum=None,
    )
    col.add_rows(
        label,
        "value",
        blank(raw_value),
        message="missing value",
        expected="a number (leave out the row of a sample not measured)",
    )
    out["value"] = value
    out["unit"] = text_column(Raw(df["unit"])) if "unit" in df.columns else None
    return out


def _check_one_unit_per_marker(out: pd.DataFrame, label: str, col: Collector) -> None:
    """A marker given in several units is a problem (at its first row)."""
    units = out.dropna(subset=["marker"]).groupby("marker")["unit"].nunique(dropna=True)
    for m in units.index[units > 1]:
        rows = out.index[out["marker"].eq(m)]
        col.add(
            label,
            int(rows[0]),
            "unit",
            message=f"marker {show(m)} has several units "
            f"({', '.join(sorted(out.loc[rows, 'unit'].dropna().unique()))})",
            expected="one unit per marker (convert before loading)",
        )


def read_biomarkers(
    source: str | Path | pd.DataFrame, patient_ids: pd.Series | None = None
) -> pd.DataFrame:
    """Read and validate a biomarkers table (file path or DataFrame); raises
    :class:`~hpd_analysis.errors.CohortError` listing every problem."""
    from .load import read_raw_table

    col = Collector()
    if isinstance(source, pd.DataFrame):
        label = "<biomarkers DataFrame>"
        raw = source.copy(deep=False)
        raw.index = pd.RangeIndex(2, len(raw) + 2)
    else:
        label = str(source)
        raw, label = read_raw_table(Path(source), _STEM, col, label=label)
    out = parse_biomarkers(raw, label, col, patient_ids=patient_ids) if raw is not None else None
    if col.problems or out is None:
        raise CohortError(col.ordered())
    return out.reset_index(drop=True)


def load_biomarkers(
    path: str | Path | None,
    patients: pd.DataFrame | None,
    col: Collector,
    *,
    sources: dict[str, str],
    checksums: dict[str, str],
) -> pd.DataFrame | None:
    """The loader's hook: the ``biomarkers.*`` table of the cohort folder ``path`` validated
    against ``patients`` (problems into ``col``, file into ``sources``/``checksums``), or None
    when there is none."""
    from .load import file_sha256, read_raw_table

    if path is None:
        return None
    f = find_biomarkers(path, col)
    if f is None:
        return None
    raw, label = read_raw_table(f, _STEM, col, label=str(f))
    if raw is None:
        return None
    sources["biomarkers"] = str(f)
    checksums[str(f)] = file_sha256(f)
    ids = patients["patient_id"] if patients is not None else None
    out = parse_biomarkers(raw, label, col, patient_ids=ids)
    return None if out is None else out.reset_index(drop=True)


def marker_column(marker: str) -> str:
    """Column-name form of a marker name (``ctDNA VAF`` -> ``ctdna_vaf``)."""
    from .load import canonical_name

    return canonical_name(marker) or "marker"


def _marker_days(biomarkers: pd.DataFrame, patients: pd.DataFrame, marker: str) -> pd.DataFrame:
    """The samples of ``marker`` of the patients, with ``day`` = days since the treatment
    start."""
    start = patients[["patient_id", "treatment_start"]].astype({"patient_id": str})
    b = biomarkers[biomarkers["marker"] == marker].astype({"patient_id": str})
    b = b.merge(start, on="patient_id", how="inner")
    b["day"] = (b["date"] - b["treatment_start"]).dt.days.astype(float)
    return b


def _patient_frame(patients: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The patients' identifiers as text (input order) and a table holding them in
    ``patient_id``."""
    ids = patients["patient_id"].astype(str).reset_index(drop=True)
    return ids, pd.DataFrame({"patient_id": ids})


def early_change(
    biomarkers: pd.DataFrame | None,
    patients: pd.DataFrame,
    marker: str,
    *,
    params: Parameters | None = None,
) -> pd.DataFrame:
    """Baseline → first on-treatment change of ``marker``, one row per patient (order of
    ``patients``): ``patient_id, <m>_baseline, <m>_baseline_day, <m>_early_value,
    <m>_early_day, <m>_early_change_pct, <m>_early_change_reason`` (``<m>`` =
    :func:`marker_column`; days from the treatment start; reason NA when the change exists).
    Windows: ``params.windows.baseline_max_days_before`` and
    ``params.prediction.early_change_max_days``."""
    params = params or Parameters()
    m = marker_column(marker)
    before = int(params.windows.baseline_max_days_before)
    after = int(params.prediction.early_change_max_days)
    ids, out = _patient_frame(patients)
    cols = {
        f"{m}_baseline": np.nan,
        f"{m}_baseline_day": np.nan,
        f"{m}_early_value": np.nan,
        f"{m}_early_day": np.nan,
    }
    for k, v in cols.items():
        out[k] = v
    if biomarkers is not None and len(biomarkers):
        b = _marker_days(biomarkers, patients, marker)
        base = b[(b["day"] <= 0) & (b["day"] >= -before)].sort_values(["patient_id", "day"])
        base = base.groupby("patient_id").tail(1).set_index("patient_id")
        early = b[(b["day"] >= 1) & (b["day"] <= after)].sort_values(["patient_id", "day"])
        early = early.groupby("patient_id").head(1).set_index("patient_id")
        out[f"{m}_baseline"] = ids.map(base["value"]).astype(float)
        out[f"{m}_baseline_day"] = ids.map(base["day"]).astype(float)
        out[f"{m}_early_value"] = ids.map(early["value"]).astype(float)
        out[f"{m}_early_day"] = ids.map(early["day"]).astype(float)
    b0, e1 = out[f"{m}_baseline"], out[f"{m}_early_value"]
    with np.errstate(divide="ignore", invalid="ignore"):
        # rounded to 1e-9 %: equal relative changes tie (1.5 x 3 vs 1.5 x 7 differ in the last
        # bit), which the AUC's tie rule needs
        change = (100.0 * (e1 - b0) / b0).round(9)
    reason = pd.Series(pd.NA, index=out.index, dtype="string")
    reason[e1.isna()] = f"no {marker} value 1-{after} days after the treatment start"
    reason[b0.isna()] = f"no {marker} value within {before} days before the treatment start"
    reason[b0.notna() & e1.notna() & (b0 == 0)] = (
        f"baseline {marker} is 0: relative change undefined"
    )
    out[f"{m}_early_change_pct"] = change.where(reason.isna())
    out[f"{m}_early_change_reason"] = reason
    return out


def biomarker_predictors(
    biomarkers: pd.DataFrame | None,
    patients: pd.DataFrame,
    markers: list[str] | tuple[str, ...] | None = None,
    *,
    params: Parameters | None = None,
) -> pd.DataFrame:
    """Candidate predictors from the biomarkers, one row per patient: ``patient_id`` then, per
    marker (default: every marker of the table, sorted), ``<m>_baseline`` and
    ``<m>_early_change_pct``. Only ``patient_id`` without a biomarkers table."""
    _, out = _patient_frame(patients)
    if biomarkers is None or not len(biomarkers):
        return out
    chosen = list(markers) if markers else sorted(biomarkers["marker"].dropna().unique())
    for mk in chosen:
        e = early_change(biomarkers, patients, mk, params=params)
        m = marker_column(mk)
        out[f"{m}_baseline"] = e[f"{m}_baseline"].to_numpy()
        out[f"{m}_early_change_pct"] = e[f"{m}_early_change_pct"].to_numpy()
    return out


def biomarker_spider_data(
    biomarkers: pd.DataFrame | None,
    patients: pd.DataFrame,
    marker: str,
    *,
    params: Parameters | None = None,
) -> pd.DataFrame:
    """Values of ``marker`` from the baseline sample on, relative to it: ``patient_id, day``
    (since the treatment start), ``value``, ``pct_change_baseline`` (%). Patients without a
    baseline value (:func:`early_change` window) or with a baseline of 0 are not drawn."""
    cols = ["patient_id", "day", "value", "pct_change_baseline"]
    if biomarkers is None or not len(biomarkers):
        return pd.DataFrame(columns=cols)
    e = early_change(biomarkers, patients, marker, params=params)
    m = marker_column(marker)
    base = e.set_index("patient_id")[[f"{m}_baseline", f"{m}_baseline_day"]].dropna()
    base = base[base[f"{m}_baseline"] != 0]
    b = _marker_days(biomarkers, patients, marker)
    b = b[b["patient_id"].isin(base.index)]
    b = b[b["day"] >= b["patient_id"].map(base[f"{m}_baseline_day"])]
    b0 = b["patient_id"].map(base[f"{m}_baseline"])
    b = b.assign(pct_change_baseline=100.0 * (b["value"] - b0) / b0)
    return b[cols].sort_values(["patient_id", "day"], kind="mergesort").reset_index(drop=True)
