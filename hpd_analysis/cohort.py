"""The in-memory cohort: canonical tables produced by :mod:`hpd_analysis.load`."""

from __future__ import annotations

from dataclasses import dataclass, field

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
        return any(t is not None and len(t) for t in (self.lesions, self.assessments, self.scans_wide))
