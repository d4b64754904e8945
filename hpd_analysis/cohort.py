"""The in-memory cohort: canonical tables produced by :mod:`hpd_analysis.load`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: columns of ``Cohort.load_report``: what the loader fixed or flagged, never silently
LOAD_REPORT_COLUMNS = ["file", "column", "action", "n_rows", "detail"]


@dataclass
class Cohort:
    """A validated cohort in canonical form.

    Attributes
    ----------
    patients
        One row per patient, ``patient_id`` (str) unique, ``treatment_start`` (datetime64) and
        optional columns of the contract (dates as datetime64, ``os_months``/``os_event`` ... when
        times are given); any other column is kept as a candidate risk factor.
    lesions
        Long lesion table (``patient_id, assessment_date, lesion_id, lesion_type, organ,
        diameter_mm, status, is_lymph_node``) sorted by patient, date, lesion; ``None`` when the
        cohort has per-scan sums or no measurements.
    assessments
        Per-scan sums (``patient_id, assessment_date, sld_mm, new_lesions, new_organs,
        non_target_pd``) when given instead of lesions, else ``None``.
    scans_wide
        The three-scan wide table (``patient_id, sld_prebaseline_mm, sld_baseline_mm,
        sld_first_eval_mm, date_prebaseline, date_baseline, date_first_eval`` ...) when given.
    load_report
        What the loader changed or flagged (units converted, text codes mapped, rows sorted ...),
        columns :data:`LOAD_REPORT_COLUMNS`.
    sources
        Role (``patients``, ``lesions``, ``assessments``, ``scans``) to file path.
    checksums
        File path to SHA-256 of its bytes.
    biomarkers
        Optional longitudinal biomarkers (``patient_id, date, marker, value, unit``; one row per
        patient, sample date and marker, :mod:`hpd_analysis.biomarkers`), else ``None``.
    """

    patients: pd.DataFrame
    lesions: pd.DataFrame | None = None
    assessments: pd.DataFrame | None = None
    scans_wide: pd.DataFrame | None = None
    load_report: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=LOAD_REPORT_COLUMNS)
    )
    sources: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    biomarkers: pd.DataFrame | None = None

    @property
    def n_patients(self) -> int:
        """Number of patients (rows of ``patients``)."""
        return len(self.patients)

    @property
    def has_measurements(self) -> bool:
        """True when the cohort carries any tumour measurements."""
        return any(
            t is not None and len(t) for t in (self.lesions, self.assessments, self.scans_wide)
        )


# --------------------------------------------------------------------------------------------
# tables of the report sections (moved from report.py)


def cohort_overview(section: Any) -> pd.DataFrame:
    """Headline counts of the cohort: ``item, value`` rows (patients, input shape, scans per
    patient median [IQR], patients with each kinetic time point, endpoints available)."""
    c, cl = section.cohort, section.classification
    shape = (
        "lesions (one row per lesion per scan)"
        if c.lesions is not None and len(c.lesions)
        else "per-scan sums (assessments)"
        if c.assessments is not None and len(c.assessments)
        else "three-scan wide table"
        if c.scans_wide is not None and len(c.scans_wide)
        else "no tumour measurements"
    )
    per = scans_per_patient(section)
    counts = per["n_scans"].repeat(per["n_patients"]).astype(float)
    rows: list[tuple[str, str]] = [
        ("patients", str(c.n_patients)),
        ("tumour measurements", shape),
    ]
    if len(counts):
        q1, med, q3 = counts.quantile([0.25, 0.5, 0.75]).tolist()
        rows.append(
            (
                "scans per patient, median [IQR] (range)",
                f"{med:g} [{q1:g}–{q3:g}] ({counts.min():g}–{counts.max():g})",
            )
        )
    for col, label in (
        ("prebaseline_date", "patients with a pre-baseline scan"),
        ("baseline_date", "patients with a baseline scan"),
        ("first_eval_date", "patients with a first evaluation"),
    ):
        if col in cl.columns:
            n = int(cl[col].notna().sum())
            rows.append((label, f"{n} ({100 * n / max(len(cl), 1):.1f} %)"))
    if "first_eval_day" in cl.columns:
        d = pd.to_numeric(cl["first_eval_day"], errors="coerce").dropna()
        if len(d):
            rows.append(
                (
                    "day of first evaluation, median [IQR]",
                    f"{d.median():g} [{d.quantile(0.25):g}–{d.quantile(0.75):g}]",
                )
            )
    for ep in ("os", "pfs", "ttf"):
        col = f"{ep}_months"
        if col in cl.columns:
            n = int(pd.to_numeric(cl[col], errors="coerce").notna().sum())
            rows.append((f"patients with {ep.upper()} time", str(n)))
    for col in ("tumor_type", "treatment"):
        if col in c.patients.columns:
            vc = c.patients[col].astype("string").fillna("missing").value_counts()
            vc = vc.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
            rows.append((col.replace("_", " "), ", ".join(f"{k} {v}" for k, v in vc.items())))
    return pd.DataFrame(rows, columns=["item", "value"])


def scans_per_patient(section: Any) -> pd.DataFrame:
    """Distribution of the number of scans per patient: ``n_scans, n_patients`` (patients without
    any scan counted with 0)."""
    ids = section.cohort.patients["patient_id"].astype(str)
    scans = section.scans
    per = scans["patient_id"].astype(str).value_counts() if len(scans) else pd.Series(dtype="int64")
    n = per.reindex(ids.unique(), fill_value=0)
    dist = n.value_counts().sort_index()
    return pd.DataFrame(
        {"n_scans": dist.index.astype("int64"), "n_patients": dist.to_numpy(dtype="int64")}
    )
