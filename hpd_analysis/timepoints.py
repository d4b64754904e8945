"""Scans and time points: per-scan sums of the baseline target lesions, the three scans of the
kinetic analysis (pre-baseline, baseline, first evaluation) and the first-evaluation features.

Time points (windows from :class:`hpd_analysis.params.Windows`, days):

- **baseline**: the last scan on or before ``treatment_start`` (a scan on the day of the first
  dose counts), at most ``baseline_max_days_before`` (42) days before it. Only the latest such
  scan is considered: if it is older than the window there is no baseline (an older scan cannot be
  closer).
- **pre-baseline**: among scans ``prebaseline_min_days_before_baseline`` (1) to
  ``prebaseline_max_days_before_baseline`` (183) days before baseline, the latest one whose SLD is
  evaluable (every baseline target lesion measured). When scans exist in that window but none is
  evaluable, the latest of them is kept (its date is known) with SLD NaN and a reason that says no
  scan in the window is evaluable.
- **first evaluation**: the first scan after treatment start at least ``first_eval_min_days`` (14)
  days after it (and at most ``first_eval_max_days`` when set).

Roles in :func:`scan_table`: ``prebaseline``, ``baseline``, ``on_treatment`` (after treatment
start, on or after day ``first_eval_min_days``: the first evaluation and every later scan) and
``unused`` (other pre-treatment scans and on-treatment scans earlier than the first-evaluation
window, which therefore never set the nadir).

Per-scan measures (lesion table):

- ``sld_mm``: sum of the diameters of the **baseline** target lesions (matched by ``lesion_id``;
  lymph nodes by short axis as given), on every scan, pre-baseline included. RECIST: a scan on
  which any baseline target lesion is missing or not evaluable has no SLD (NaN, ``sld_reason``).
  A target lesion with status ``absent`` and no diameter counts as 0 mm.
- ``sld_measured_mm``: sum over the baseline target lesions that *are* measured at that scan (mm;
  equals ``sld_mm`` on a complete scan; NaN when none is measured, without a baseline target, or
  when a lesion is measured twice). Only used for RECIST "PD despite a missing lesion" (the
  measured ones alone already +>=20 % and +>=5 mm over the nadir, see :mod:`hpd_analysis.recist`);
  the nadir and every kinetic quantity use ``sld_mm`` (complete scans) only.
- ``new_lesions``: number of ``new`` lesions recorded *at that scan* (status not ``absent``), not
  cumulative; ``new_lesions_first_seen``: those whose ``lesion_id`` appears for the first time
  (iRECIST "another new lesion"); ``new_lesion_sum_mm``: sum of their measured diameters.
- ``new_organs``: organs holding a new lesion at that scan that held no lesion (of any type) at
  baseline; ``max_new_lesions_in_involved_organ``: the largest number of new lesions at that scan in
  one organ already involved at baseline. Both are NA (unknown) when a new lesion at that scan has
  no organ. Organ names are compared case- and space-insensitively.
- ``non_target_pd``: a non-target lesion with status ``unequivocal_progression``;
  ``non_target_cr``: every baseline non-target lesion ``absent``; ``targets_cr``: every baseline
  non-nodal target at 0 mm and every nodal target < 10 mm.

Per-scan sums (``assessments``) give ``sld_mm`` (= ``sld_measured_mm``), ``new_lesions``,
``new_organs`` and ``non_target_pd`` directly (``targets_cr`` is ``sld_mm == 0``; non-target CR
unknown; ``new_lesions_first_seen`` is the rise of ``new_lesions`` over its running maximum). In the
three-scan wide table the scans are given: no window is applied.

How this module reads: the rules above are functions over named arrays, in the order RECIST
states them (the scans: baseline, pre-baseline, first evaluation; then per scan the baseline
lesions, the sum of diameters of the targets, new lesions, non-target progression and why an SLD
is missing), passing typed results (dataclasses) from stage to stage. The array tricks that make
them fast on millions of lesion rows (per-group first/last, dense membership tables, counts per
scan, factorization by object address) are in :mod:`hpd_analysis.timepoints_kernel`, each tested
equal to a plain loop version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np
import pandas as pd

from .cohort import Cohort
from .endpoints import death_days
from .errors import CohortError, Problem
from .objectcodes import factorize
from .params import NS_PER_DAY, Parameters, Windows
from .recist import ScanAssessment, scan_responses
from .recist_kernel import concat_text
from .timepoints_kernel import (
    all_na_bool,
    bool_column,
    boolean_array,
    codes_in,
    count_per_group,
    dates_from_days,
    epoch_days,
    epoch_ns,
    first_appearance_counts,
    first_per_group,
    float_column,
    format_numbers,
    int_na,
    label_masks,
    max_per_group,
    member_rows,
    member_rows_of_two,
    normalized_codes,
    pair_counts,
    scan_keys,
    take_or_fill,
    text_where,
)

ROLES = ("prebaseline", "baseline", "on_treatment", "unused")

SCAN_COLUMNS = [
    "patient_id",
    "assessment_date",
    "day",
    "role",
    "is_first_eval",
    "sld_mm",
    "sld_reason",
    "sld_measured_mm",
    "n_targets_expected",
    "n_targets_measured",
    "targets_cr",
    "new_lesions",
    "new_lesions_first_seen",
    "new_lesion_sum_mm",
    "new_organs",
    "max_new_lesions_in_involved_organ",
    "non_target_pd",
    "non_target_cr",
    "n_non_targets_expected",
    "n_non_targets_assessed",
]

FEATURE_COLUMNS = [
    "patient_id",
    "treatment_start",
    "prebaseline_date",
    "baseline_date",
    "first_eval_date",
    "prebaseline_reason",
    "baseline_reason",
    "first_eval_reason",
    "sld_prebaseline_mm",
    "sld_baseline_mm",
    "sld_first_eval_mm",
    "sld_prebaseline_reason",
    "sld_baseline_reason",
    "sld_first_eval_reason",
    "days_pre_to_baseline",
    "days_baseline_to_first_eval",
    "first_eval_day",
    "sld_change_first_eval_mm",
    "sld_pct_change_first_eval",
    "recist_first_eval",
    "recist_first_eval_reason",
    "target_response_first_eval",
    "non_target_pd_first_eval",
    "new_lesions_first_eval",
    "new_organs_first_eval",
    "max_new_lesions_in_involved_organ_first_eval",
    "n_post_baseline_scans",
]

#: the three scans of the kinetic analysis, by slot (see :func:`target_measurements`)
SLOTS = ("prebaseline", "baseline", "first_eval")

#: a nullable boolean per scan or patient: numpy bool (never unknown) or pandas BooleanArray
Flags: TypeAlias = "np.ndarray | pd.arrays.BooleanArray"


# --------------------------------------------------------------------------- typed results


class SldReasons(Protocol):
    """Why ``sld_mm`` is missing, at the scans asked for (texts are built only for those)."""

    def at(self, scans: np.ndarray) -> np.ndarray:
        """The reason at each scan of ``scans`` (scan indices): object array, None where the
        SLD is known."""
        ...


@dataclass(frozen=True)
class GivenSldReasons:
    """Reasons written for every scan already (per-scan sums, three-scan wide table)."""

    texts: np.ndarray

    def at(self, scans: np.ndarray) -> np.ndarray:
        """The reason at each scan of ``scans``."""
        return np.asarray(self.texts, dtype=object)[scans]


@dataclass(frozen=True)
class MissingTargetReasons:
    """Why a scan of the lesion table has no SLD, from its counts of baseline target lesions
    (RECIST 1.1: every baseline target must be measured, each once, and measurable at
    baseline)."""

    has_baseline: np.ndarray  #: the patient has a baseline scan (per scan)
    n_expected: np.ndarray  #: baseline target lesions of the patient (per scan; 0 without baseline)
    n_measured: np.ndarray  #: of them measured at the scan (a lesion measured twice counts twice)
    below_measurability: np.ndarray  #: baseline scan with a target below RECIST 1.1 size
    min_mm: tuple[float, float]  #: measurability (non-nodal, nodal short axis; mm)

    def at(self, scans: np.ndarray) -> np.ndarray:
        """The reason at each scan of ``scans`` (None where the SLD is known)."""
        has_base, expected = self.has_baseline[scans], self.n_expected[scans]
        measured = self.n_measured[scans]
        reason = np.full(len(scans), None, dtype=object)
        missing = has_base & (expected > 0) & (measured < expected)
        reason[missing] = concat_text(
            format_numbers(expected[missing] - measured[missing]),
            " of ",
            format_numbers(expected[missing]),
            " baseline target lesion(s) not measured",
        )
        reason[has_base & (expected > 0) & (measured > expected)] = (
            "a baseline target lesion is measured more than once on this date"
        )
        below = self.below_measurability[scans]
        reason[below & has_base & (expected > 0) & (measured == expected)] = (
            f"a baseline target lesion below RECIST 1.1 measurability (< {self.min_mm[0]:g} mm; "
            f"lymph node < {self.min_mm[1]:g} mm short axis; rules.baseline_target_min_mm, "
            "rules.baseline_node_min_mm)"
        )
        reason[has_base & (expected == 0)] = "no target lesion at baseline"
        reason[~has_base] = "no baseline scan"
        return reason


@dataclass
class ScanMeasures:
    """The RECIST measures of every scan (module docstring), one element per scan.

    Counts are int or float arrays (NaN = unknown), converted to nullable Int64 in the scan
    table; flags numpy bool or nullable boolean. ``new_lesions_first_seen`` and
    ``new_lesion_sum_mm`` are None when not asked for (only :func:`scan_table` shows them);
    ``n_organs_with_new_lesions`` (distinct organs holding a new lesion) only from a lesion table
    whose dates carry no time of day."""

    sld_mm: np.ndarray
    sld_reason: SldReasons
    sld_measured_mm: np.ndarray
    n_targets_expected: np.ndarray
    n_targets_measured: np.ndarray
    targets_cr: Flags
    new_lesions: np.ndarray
    new_organs: np.ndarray
    max_new_lesions_in_involved_organ: np.ndarray
    non_target_pd: Flags
    non_target_cr: Flags
    n_non_targets_expected: np.ndarray
    n_non_targets_assessed: np.ndarray
    new_lesions_first_seen: np.ndarray | None = None
    new_lesion_sum_mm: np.ndarray | None = None
    n_organs_with_new_lesions: np.ndarray | None = None


@dataclass(frozen=True)
class ScanDisplay:
    """The scan table's display columns (one element per scan)."""

    patient_id: np.ndarray
    assessment_date: np.ndarray
    role: np.ndarray
    is_first_eval: np.ndarray


@dataclass
class Scans:
    """Every scan (one patient × assessment date), sorted by patient then date."""

    patient: np.ndarray  #: position of the scan's patient in ``cohort.patients``
    date: np.ndarray  #: days since 1970-01-01 (float)
    day: np.ndarray  #: days from ``treatment_start`` (float; NaN without a start date)
    measures: ScanMeasures
    display: ScanDisplay | None = None  #: only when the scan table is asked for


@dataclass(frozen=True)
class ScanChoice:
    """The scan chosen for a time point per patient (-1 when none) and why none (None when
    one is chosen)."""

    scan: np.ndarray
    reason: np.ndarray


@dataclass
class TimePoints:
    """The three scans of the kinetic analysis per patient (scan indices, -1 when none), why a
    scan is missing, and what the feature table reports beside them."""

    prebaseline: np.ndarray
    baseline: np.ndarray
    first_eval: np.ndarray
    prebaseline_reason: np.ndarray
    baseline_reason: np.ndarray
    first_eval_reason: np.ndarray
    n_post_baseline_scans: np.ndarray  #: scans after treatment start
    prebaseline_not_evaluable: np.ndarray  #: pre-baseline window scans, none with an SLD
    start: np.ndarray  #: treatment start, days since 1970-01-01 (NaN when unknown)
    n_early_scans: np.ndarray | None = None  #: on-treatment scans before the first-eval window


# --------------------------------------------------------------------------- input checks


def _patient_codes(cohort: Cohort, table: pd.DataFrame, name: str) -> np.ndarray:
    """Position of each row's patient in ``cohort.patients``; a clear error for unknown ids."""
    ids = pd.Index(cohort.patients["patient_id"])
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()[:5]
        raise CohortError(
            [
                Problem(
                    "patients",
                    None,
                    "patient_id",
                    f"duplicated patient_id: {', '.join(map(str, dup))}",
                    "one row per patient",
                )
            ]
        )
    codes = codes_in(table["patient_id"], ids)
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        file = cohort.sources.get(name, name)
        raise CohortError(
            [
                Problem(
                    file,
                    int(i) + 2,
                    "patient_id",
                    f"patient_id {table['patient_id'].iloc[i]!r} is not in the patients table",
                    "a patient_id of the patients table",
                )
                for i in bad[:20]
            ]
        )
    return codes.astype(np.int64, copy=False)


def _check_dates(
    table: pd.DataFrame, col: str, *, name: str, cohort: Cohort
) -> tuple[np.ndarray, bool]:
    """Int64 days since 1970-01-01 of a date column (time of day ignored), and whether every
    date is at midnight; error on NaT."""
    ns = epoch_ns(table[col])
    bad = np.flatnonzero(ns == np.iinfo(np.int64).min)
    if len(bad):
        file = cohort.sources.get(name, name)
        raise CohortError(
            [Problem(file, int(i) + 2, col, "missing date", "an ISO 8601 date") for i in bad[:20]]
        )
    days = ns // NS_PER_DAY
    return days, bool(np.array_equal(days * NS_PER_DAY, ns))  # (faster than ns % day == 0)


# --------------------------------------------------------------------------- scans (long shapes)


@dataclass(frozen=True)
class MeasurementRows:
    """The rows of the lesion table (or, without one, of the per-scan sums) and their scans."""

    table: pd.DataFrame
    name: str  #: ``lesions`` or ``assessments`` (the file role, for messages)
    is_lesion_table: bool
    patient: np.ndarray  #: per row: position of its patient in ``cohort.patients``
    scan: np.ndarray  #: per row: index of its scan (patient × date)
    scan_patient: np.ndarray  #: per scan: its patient
    scan_date: np.ndarray  #: per scan: days since 1970-01-01 (float)
    all_midnight: bool  #: no assessment date carries a time of day


def _measurement_rows(cohort: Cohort) -> MeasurementRows:
    """The lesion rows (else the per-scan sums) with each row's patient and scan; a scan is a
    patient's assessment date. Errors for unknown patients, missing dates and, for per-scan
    sums, a second row on the same date."""
    use_lesions = cohort.lesions is not None and len(cohort.lesions) > 0
    table = cohort.lesions if use_lesions else cohort.assessments
    name = "lesions" if use_lesions else "assessments"
    if table is None:
        table = pd.DataFrame(
            {
                "patient_id": pd.Series(dtype=object),
                "assessment_date": pd.Series(dtype="datetime64[ns]"),
            }
        )
    patient = _patient_codes(cohort, table, name)
    day, midnight = _check_dates(table, "assessment_date", name=name, cohort=cohort)
    scan_patient, scan_date, scan = scan_keys(patient, day)
    if not use_lesions and len(scan_patient) != len(table):
        key = pd.Series(patient * 10**6 + day)
        dup = np.flatnonzero(key.duplicated().to_numpy())
        raise CohortError(
            [
                Problem(
                    cohort.sources.get(name, name),
                    int(i) + 2,
                    "assessment_date",
                    "second row for the same patient and assessment date",
                    "one row per patient and scan date",
                )
                for i in dup[:20]
            ]
        )
    return MeasurementRows(
        table=table,
        name=name,
        is_lesion_table=use_lesions,
        patient=patient,
        scan=scan,
        scan_patient=scan_patient,
        scan_date=scan_date,
        all_midnight=midnight,
    )


def _baseline_scan(
    day: np.ndarray,
    scan_patient: np.ndarray,
    *,
    start: np.ndarray,
    n_scans: np.ndarray,
    windows: Windows,
) -> ScanChoice:
    """Baseline: the last scan on or before treatment start, at most
    ``windows.baseline_max_days_before`` days before it (``day``: scan days from the start)."""
    n = len(start)
    last_pre = first_per_group(day <= 0, scan_patient, n, last=True)
    last_pre_day = take_or_fill(day, last_pre)
    in_window = (last_pre >= 0) & (last_pre_day >= -windows.baseline_max_days_before)
    baseline = np.where(in_window, last_pre, -1)
    reason = np.full(n, None, dtype=object)
    too_old = (last_pre >= 0) & ~in_window
    reason[too_old] = concat_text(
        f"baseline scan more than {windows.baseline_max_days_before} days before treatment "
        "start (latest on day ",
        format_numbers(last_pre_day[too_old]),
        ")",
    )
    reason[last_pre < 0] = "no scan on or before treatment start"
    reason[n_scans == 0] = "no measurements"
    reason[np.isnan(start)] = "no treatment_start"
    return ScanChoice(scan=baseline, reason=reason)


@dataclass(frozen=True)
class PrebaselineChoice:
    """:class:`ScanChoice` of the pre-baseline scan, and where it has no SLD because no scan
    of the window has one."""

    choice: ScanChoice
    not_evaluable: np.ndarray


def _prebaseline_scan(
    scan_date: np.ndarray,
    scan_patient: np.ndarray,
    *,
    sld: np.ndarray,
    baseline: np.ndarray,
    start: np.ndarray,
    n_scans: np.ndarray,
    windows: Windows,
) -> PrebaselineChoice:
    """Pre-baseline: the latest scan with an SLD ``prebaseline_min_days_before_baseline`` to
    ``prebaseline_max_days_before_baseline`` days before baseline; else the latest scan of that
    window (without an SLD)."""
    n = len(start)
    lo, hi = (
        windows.prebaseline_min_days_before_baseline,
        windows.prebaseline_max_days_before_baseline,
    )
    baseline_date = take_or_fill(scan_date, baseline)
    has_baseline = baseline[scan_patient] >= 0
    days_before = baseline_date[scan_patient] - scan_date
    before = has_baseline & (days_before > 0)
    in_window = before & (days_before >= lo) & (days_before <= hi)
    latest_evaluable = first_per_group(in_window & ~np.isnan(sld), scan_patient, n, last=True)
    latest_any = first_per_group(in_window, scan_patient, n, last=True)
    pre = np.where(latest_evaluable >= 0, latest_evaluable, latest_any)
    last_before = first_per_group(before, scan_patient, n, last=True)
    last_before_gap = baseline_date - take_or_fill(scan_date, last_before)
    reason = np.full(n, None, dtype=object)
    outside = (pre < 0) & (last_before >= 0)
    reason[outside] = np.where(
        last_before_gap[outside] > hi,
        f"pre-baseline scan more than {hi} days before baseline",
        f"no pre-baseline scan {lo}-{hi} days before baseline",
    )
    reason[(pre < 0) & (last_before < 0)] = "no pre-baseline scan"
    reason[baseline < 0] = "no baseline scan"
    reason[n_scans == 0] = "no measurements"
    reason[np.isnan(start)] = "no treatment_start"
    return PrebaselineChoice(
        choice=ScanChoice(scan=pre, reason=reason),
        not_evaluable=(latest_evaluable < 0) & (latest_any >= 0),
    )


@dataclass(frozen=True)
class FirstEvaluationChoice:
    """:class:`ScanChoice` of the first evaluation, with the on-treatment scans (per scan) and
    the counts of scans after treatment start and before the first-evaluation window (per
    patient)."""

    choice: ScanChoice
    on_treatment: np.ndarray
    n_post: np.ndarray
    n_early: np.ndarray


def _first_evaluation_scan(
    day: np.ndarray,
    scan_patient: np.ndarray,
    *,
    start: np.ndarray,
    death: np.ndarray,
    n_scans: np.ndarray,
    windows: Windows,
) -> FirstEvaluationChoice:
    """First evaluation: the first scan after treatment start at least
    ``windows.first_eval_min_days`` days after it (at most ``first_eval_max_days`` when set)."""
    n = len(start)
    post = day > 0
    on_treatment = post & (day >= windows.first_eval_min_days)
    in_window = on_treatment & (
        (day <= windows.first_eval_max_days) if windows.first_eval_max_days is not None else True
    )
    first_eval = first_per_group(in_window, scan_patient, n)
    n_post = count_per_group(scan_patient[post], n)
    n_on_treatment = count_per_group(scan_patient[on_treatment], n)
    reason = np.full(n, None, dtype=object)
    none = first_eval < 0
    reason[none] = "no on-treatment scan"
    reason[none & (n_post > 0) & (n_on_treatment == 0)] = (
        f"on-treatment scans only before day {windows.first_eval_min_days} (first_eval_min_days)"
    )
    if windows.first_eval_max_days is not None:
        reason[none & (n_on_treatment > 0)] = (
            f"no scan between day {windows.first_eval_min_days} and day "
            f"{windows.first_eval_max_days} after treatment start"
        )
    died = none & ~np.isnan(death)
    reason[died] = concat_text(
        "died before first evaluation (day ", format_numbers(death[died]), ")"
    )
    reason[none & (n_scans == 0) & ~died] = "no measurements"
    reason[np.isnan(start)] = "no treatment_start"
    return FirstEvaluationChoice(
        choice=ScanChoice(scan=first_eval, reason=reason),
        on_treatment=on_treatment,
        n_post=n_post,
        n_early=n_post - n_on_treatment,
    )


def _scan_display(
    cohort: Cohort, mrows: MeasurementRows, *, points: TimePoints, on_treatment: np.ndarray
) -> ScanDisplay:
    """The scan table's patient id, date, role and first-evaluation flag of every scan."""
    n_scans = len(mrows.scan_patient)
    role = np.full(n_scans, "unused", dtype=object)
    role[on_treatment] = "on_treatment"
    role[points.baseline[points.baseline >= 0]] = "baseline"
    role[points.prebaseline[points.prebaseline >= 0]] = "prebaseline"
    is_first_eval = np.zeros(n_scans, dtype=bool)
    is_first_eval[points.first_eval[points.first_eval >= 0]] = True
    return ScanDisplay(
        patient_id=cohort.patients["patient_id"].to_numpy()[mrows.scan_patient],
        assessment_date=dates_from_days(mrows.scan_date),
        role=role,
        is_first_eval=is_first_eval,
    )


def _build_long(
    cohort: Cohort, params: Parameters, *, start: np.ndarray, death: np.ndarray, full: bool
) -> tuple[Scans, TimePoints]:
    """Scans and time points from the lesion table or the per-scan sums (``full=False``: only
    what :func:`first_evaluation_features` reads)."""
    windows = params.windows
    mrows = _measurement_rows(cohort)
    scan_patient = mrows.scan_patient
    day = mrows.scan_date - start[scan_patient]
    n_scans = count_per_group(scan_patient, len(start))
    baseline = _baseline_scan(day, scan_patient, start=start, n_scans=n_scans, windows=windows)
    if mrows.is_lesion_table:
        measures = _lesion_measures(
            mrows,
            baseline_scan=baseline.scan,
            n_patients=len(start),
            full=full,
            min_mm=(
                float(params.rules.baseline_target_min_mm),
                float(params.rules.baseline_node_min_mm),
            ),
        )
    else:
        measures = _assessment_measures(mrows)
    pre = _prebaseline_scan(
        mrows.scan_date,
        scan_patient,
        sld=measures.sld_mm,
        baseline=baseline.scan,
        start=start,
        n_scans=n_scans,
        windows=windows,
    )
    first = _first_evaluation_scan(
        day, scan_patient, start=start, death=death, n_scans=n_scans, windows=windows
    )
    points = TimePoints(
        prebaseline=pre.choice.scan,
        baseline=baseline.scan,
        first_eval=first.choice.scan,
        prebaseline_reason=pre.choice.reason,
        baseline_reason=baseline.reason,
        first_eval_reason=first.choice.reason,
        n_post_baseline_scans=first.n_post,
        prebaseline_not_evaluable=pre.not_evaluable,
        start=start,
        n_early_scans=first.n_early,
    )
    scans = Scans(patient=scan_patient, date=mrows.scan_date, day=day, measures=measures)
    if full:  # display columns of the scan table (first_evaluation_features needs none)
        scans.display = _scan_display(cohort, mrows, points=points, on_treatment=first.on_treatment)
    return scans, points


# --------------------------------------------------------------------------- per-scan measures


@dataclass(frozen=True)
class LesionRows:
    """The lesion table as named arrays, one element per row."""

    patient: np.ndarray  #: position of the row's patient in ``cohort.patients``
    scan: np.ndarray  #: index of the row's scan
    lesion: np.ndarray  #: the lesion, unique per (patient, ``lesion_id``): a key below n_lesions
    n_lesions: int  #: bound of ``lesion``
    at_baseline: np.ndarray  #: the row is on its patient's baseline scan
    is_target: np.ndarray
    is_non_target: np.ndarray
    is_new: np.ndarray
    absent: np.ndarray  #: status ``absent``
    unequivocal_progression: np.ndarray  #: status ``unequivocal_progression``
    lymph_node: np.ndarray
    not_evaluable: np.ndarray
    diameter_mm: np.ndarray  #: NaN when not given


def _lesion_rows(
    lesions: pd.DataFrame,
    *,
    patient: np.ndarray,
    scan: np.ndarray,
    baseline_scan: np.ndarray,
    n_patients: int,
) -> LesionRows:
    """Read the lesion table's columns into :class:`LesionRows` (``baseline_scan``: per
    patient, -1 when none)."""
    is_target, is_non_target, is_new = label_masks(
        lesions["lesion_type"], ("target", "non_target", "new")
    )
    if "status" in lesions.columns:
        absent, unequivocal = label_masks(lesions["status"], ("absent", "unequivocal_progression"))
    else:
        absent = unequivocal = np.zeros(len(lesions), dtype=bool)
    lesion_code = factorize(lesions["lesion_id"])[0].astype(np.int64, copy=False)
    n_ids = int(lesion_code.max()) + 1 if len(lesion_code) else 1
    lesion = patient * n_ids
    lesion += lesion_code
    del lesion_code  # (millions of rows)
    diameter = float_column(lesions, "diameter_mm")
    return LesionRows(
        patient=patient,
        scan=scan,
        lesion=lesion,
        n_lesions=n_patients * n_ids,
        at_baseline=scan == baseline_scan[patient],  # -1 (no baseline) is never a scan index
        is_target=is_target,
        is_non_target=is_non_target,
        is_new=is_new,
        absent=absent,
        unequivocal_progression=unequivocal,
        lymph_node=bool_column(lesions, "is_lymph_node"),
        not_evaluable=bool_column(lesions, "not_evaluable"),
        diameter_mm=diameter if diameter is not None else np.full(len(lesions), np.nan),
    )


@dataclass(frozen=True)
class BaselineLesions:
    """The lesions recorded at baseline: the rows of the baseline scan, the rows (on any scan)
    of a lesion that was a target / non-target there, and their number per patient."""

    target_rows_at_baseline: np.ndarray
    non_target_rows_at_baseline: np.ndarray
    is_baseline_target: np.ndarray
    is_baseline_non_target: np.ndarray
    n_targets: np.ndarray  #: per patient
    n_non_targets: np.ndarray  #: per patient


def _baseline_lesions(rows: LesionRows, n_patients: int) -> BaselineLesions:
    """RECIST 1.1: the target and non-target lesions are those recorded at baseline; a later
    row of the same lesion (``lesion_id``) is followed as such."""
    target_at_baseline = rows.at_baseline & rows.is_target
    non_target_at_baseline = rows.at_baseline & rows.is_non_target
    is_target, is_non_target = member_rows_of_two(
        rows.lesion,
        rows_a=rows.is_target,
        members_a=rows.lesion[target_at_baseline],
        rows_b=rows.is_non_target,
        members_b=rows.lesion[non_target_at_baseline],
        size=rows.n_lesions,
    )
    return BaselineLesions(
        target_rows_at_baseline=target_at_baseline,
        non_target_rows_at_baseline=non_target_at_baseline,
        is_baseline_target=is_target,
        is_baseline_non_target=is_non_target,
        n_targets=count_per_group(rows.patient[target_at_baseline], n_patients),
        n_non_targets=count_per_group(rows.patient[non_target_at_baseline], n_patients),
    )


def _measured_targets(rows: LesionRows, baseline: BaselineLesions) -> np.ndarray:
    """Rows where a baseline target lesion is measured: a diameter, or recorded absent without
    one (0 mm); not flagged not evaluable."""
    return (
        baseline.is_baseline_target
        & (~np.isnan(rows.diameter_mm) | rows.absent)
        & ~rows.not_evaluable
    )


def _below_measurability(
    rows: LesionRows, baseline: BaselineLesions, *, n_scans: int, min_mm: tuple[float, float]
) -> np.ndarray:
    """Baseline scans with a target lesion below RECIST 1.1 measurability (``min_mm``:
    non-nodal longest diameter, nodal short axis; mm; a target recorded absent is 0 mm)."""
    below = np.zeros(n_scans, dtype=bool)
    if min_mm[0] > 0 or min_mm[1] > 0:
        at_baseline = np.flatnonzero(baseline.target_rows_at_baseline)
        diameter = rows.diameter_mm[at_baseline]
        diameter = np.where(np.isnan(diameter) & rows.absent[at_baseline], 0.0, diameter)
        with np.errstate(invalid="ignore"):
            small = np.where(
                rows.lymph_node[at_baseline], diameter < min_mm[1], diameter < min_mm[0]
            )
        below[rows.scan[at_baseline[small]]] = True
    return below


@dataclass(frozen=True)
class TargetSums:
    """Sum of the diameters of the baseline target lesions per scan (mm), and the counts that
    decide whether it is evaluable."""

    sld_mm: np.ndarray  #: NaN unless every baseline target is measured once
    sld_measured_mm: np.ndarray  #: over the measured targets only
    targets_cr: np.ndarray  #: every non-nodal target 0 mm, every node < 10 mm
    reasons: MissingTargetReasons


def _sum_of_diameters(
    rows: LesionRows,
    baseline: BaselineLesions,
    *,
    scan_patient: np.ndarray,
    baseline_scan: np.ndarray,
    min_mm: tuple[float, float],
) -> TargetSums:
    """RECIST 1.1 sum of diameters of the baseline target lesions at every scan: known when
    every baseline target is measured exactly once and, at baseline, measurable."""
    n_scans = len(scan_patient)
    below = _below_measurability(rows, baseline, n_scans=n_scans, min_mm=min_mm)
    measured = np.flatnonzero(_measured_targets(rows, baseline))
    scan = rows.scan[measured]
    diameter = rows.diameter_mm[measured]
    diameter[np.isnan(diameter)] = 0.0  # NaN left here only for targets recorded absent: 0 mm
    n_measured = count_per_group(scan, n_scans)
    total = count_per_group(scan, n_scans, weights=diameter)
    gone = np.where(rows.lymph_node[measured], diameter < 10.0, diameter == 0.0)
    n_gone = count_per_group(scan[gone], n_scans)
    has_baseline = baseline_scan[scan_patient] >= 0
    n_expected = np.where(has_baseline, baseline.n_targets[scan_patient], 0)
    has_targets = has_baseline & (n_expected > 0)
    complete = has_targets & (n_measured == n_expected) & ~below
    partial = has_targets & (n_measured > 0) & (n_measured <= n_expected) & ~below
    return TargetSums(
        sld_mm=np.where(complete, total, np.nan),
        sld_measured_mm=np.where(partial, total, np.nan),
        targets_cr=has_targets & (n_gone == n_expected) & complete,
        reasons=MissingTargetReasons(
            has_baseline=has_baseline,
            n_expected=n_expected,
            n_measured=n_measured,
            below_measurability=below,
            min_mm=min_mm,
        ),
    )


@dataclass(frozen=True)
class NewLesions:
    """New lesions per scan: those recorded at that scan (status not ``absent``)."""

    rows: np.ndarray  #: per lesion row: a new lesion present at its scan
    count: np.ndarray
    first_seen: np.ndarray | None  #: of them, lesion ids seen for the first time (iRECIST)
    sum_mm: np.ndarray | None  #: sum of their measured diameters


def _new_lesions(rows: LesionRows, *, n_scans: int, full: bool) -> NewLesions:
    """New lesions at each scan (not cumulative); ``full``: also first-seen and their sum."""
    new = rows.is_new & ~rows.absent
    scan = rows.scan[new]
    first_seen = sum_mm = None
    if full:
        first_seen = first_appearance_counts(scan, rows.lesion[new], n_scans)
        weights = np.nan_to_num(rows.diameter_mm[new], nan=0.0)
        sum_mm = count_per_group(scan, n_scans, weights=weights)
    return NewLesions(
        rows=new,
        count=count_per_group(scan, n_scans),
        first_seen=first_seen,
        sum_mm=sum_mm,
    )


@dataclass(frozen=True)
class NewLesionOrgans:
    """Organs of the new lesions per scan (float; NaN when a new lesion has no organ)."""

    new_organs: np.ndarray  #: organs not involved at baseline
    max_in_involved_organ: np.ndarray  #: most new lesions in one organ involved at baseline
    n_organs: np.ndarray | None  #: distinct organs holding a new lesion (when asked for)


def _new_lesion_organs(
    lesions: pd.DataFrame,
    rows: LesionRows,
    *,
    new: np.ndarray,
    n_scans: int,
    n_patients: int,
    count_organs: bool,
) -> NewLesionOrgans:
    """Organs (compared case- and space-insensitively) holding a new lesion at each scan: not
    involved at baseline (by a lesion of any type), and the most new lesions in one involved
    organ; ``count_organs``: also the distinct organs holding one."""
    organ_rows = np.flatnonzero(rows.at_baseline | new)  # organ codes only where needed
    if "organ" in lesions.columns:
        organ, n_organ_codes = normalized_codes(lesions["organ"], organ_rows)
        n_organ_codes = max(n_organ_codes, 1)
    else:
        organ, n_organ_codes = np.full(len(organ_rows), -1, dtype=np.int64), 1
    known = organ >= 0
    baseline_known = rows.at_baseline[organ_rows] & known
    new_here = new[organ_rows]
    new_known = new_here & known
    involved = np.zeros(int(new_known.sum()), dtype=bool)
    if len(involved):
        patient_organ = rows.patient[organ_rows] * n_organ_codes + organ
        involved = member_rows(
            patient_organ[new_known],
            np.ones(len(involved), dtype=bool),
            patient_organ[baseline_known],
            size=n_patients * n_organ_codes,
        )
    unknown = count_per_group(rows.scan[organ_rows[new_here & ~known]], n_scans) > 0
    scan, organ = rows.scan[organ_rows[new_known]], organ[new_known]
    scan_of_new_organ, _ = pair_counts(scan[~involved], organ[~involved], n_organ_codes)
    new_organs = count_per_group(scan_of_new_organ, n_scans).astype(float)
    scan_of_involved, n_in_involved = pair_counts(scan[involved], organ[involved], n_organ_codes)
    n_organs = None
    if count_organs:  # organs not involved at baseline and involved ones are disjoint
        n_organs = new_organs + count_per_group(scan_of_involved, n_scans)
        n_organs[unknown] = np.nan
    max_in_involved = max_per_group(scan_of_involved, n_in_involved, n_scans)
    new_organs[unknown] = np.nan
    max_in_involved[unknown] = np.nan
    return NewLesionOrgans(
        new_organs=new_organs, max_in_involved_organ=max_in_involved, n_organs=n_organs
    )


@dataclass(frozen=True)
class NonTargetStatus:
    """Non-target lesions per scan."""

    n_expected: np.ndarray  #: non-target lesions at the patient's baseline
    n_assessed: np.ndarray  #: of them recorded at the scan
    unequivocal_progression: np.ndarray  #: a non-target lesion in unequivocal progression
    complete_response: np.ndarray  #: every baseline non-target lesion absent


def _non_target_status(
    rows: LesionRows,
    baseline: BaselineLesions,
    *,
    scan_patient: np.ndarray,
    has_baseline: np.ndarray,
) -> NonTargetStatus:
    """RECIST 1.1 non-target progression (a non-target lesion with status
    ``unequivocal_progression``) and complete response (every baseline non-target absent)."""
    n_scans = len(scan_patient)
    followed = baseline.is_baseline_non_target
    n_expected = baseline.n_non_targets[scan_patient]
    n_absent = count_per_group(rows.scan[followed & rows.absent], n_scans)
    progressing = rows.is_non_target & rows.unequivocal_progression
    return NonTargetStatus(
        n_expected=n_expected,
        n_assessed=count_per_group(rows.scan[followed], n_scans),
        unequivocal_progression=count_per_group(rows.scan[progressing], n_scans) > 0,
        complete_response=has_baseline & (n_expected > 0) & (n_absent >= n_expected),
    )


def _lesion_measures(
    mrows: MeasurementRows,
    *,
    baseline_scan: np.ndarray,
    n_patients: int,
    full: bool = True,
    min_mm: tuple[float, float] = (0.0, 0.0),
) -> ScanMeasures:
    """Per-scan measures from the long lesion table (module docstring), in RECIST's order:
    the baseline lesions, the sum of diameters of the targets, new lesions, non-target
    progression; why an SLD is missing is built later, only for the scans asked for.

    ``full=False`` skips the measures only :func:`scan_table` shows (``new_lesions_first_seen``,
    ``new_lesion_sum_mm``). ``min_mm``: RECIST 1.1 measurability at baseline (non-nodal, nodal
    short axis; mm): a baseline scan with a target below it has no SLD. The distinct organs
    with a new lesion per scan are counted when every date is at midnight (a scan is then one
    assessment date)."""
    lesions, scan_patient = mrows.table, mrows.scan_patient
    n_scans = len(scan_patient)
    rows = _lesion_rows(
        lesions,
        patient=mrows.patient,
        scan=mrows.scan,
        baseline_scan=baseline_scan,
        n_patients=n_patients,
    )
    baseline = _baseline_lesions(rows, n_patients)
    targets = _sum_of_diameters(
        rows, baseline, scan_patient=scan_patient, baseline_scan=baseline_scan, min_mm=min_mm
    )
    new = _new_lesions(rows, n_scans=n_scans, full=full)
    organs = _new_lesion_organs(
        lesions,
        rows,
        new=new.rows,
        n_scans=n_scans,
        n_patients=n_patients,
        count_organs="organ" in lesions.columns and mrows.all_midnight,
    )
    has_baseline = targets.reasons.has_baseline
    non_targets = _non_target_status(
        rows, baseline, scan_patient=scan_patient, has_baseline=has_baseline
    )
    return ScanMeasures(
        sld_mm=targets.sld_mm,
        sld_reason=targets.reasons,
        sld_measured_mm=targets.sld_measured_mm,
        n_targets_expected=np.where(has_baseline, targets.reasons.n_expected, np.nan),
        # counts stay integers here: converted to float (NaN = unknown) where they are read
        n_targets_measured=targets.reasons.n_measured,
        targets_cr=targets.targets_cr,
        new_lesions=new.count,
        new_lesions_first_seen=new.first_seen,
        new_lesion_sum_mm=new.sum_mm,
        new_organs=organs.new_organs,
        max_new_lesions_in_involved_organ=organs.max_in_involved_organ,
        n_organs_with_new_lesions=organs.n_organs,
        non_target_pd=non_targets.unequivocal_progression,
        non_target_cr=non_targets.complete_response,
        n_non_targets_expected=np.where(has_baseline, non_targets.n_expected, np.nan),
        n_non_targets_assessed=non_targets.n_assessed,
    )


def _assessment_measures(mrows: MeasurementRows) -> ScanMeasures:
    """Per-scan measures from per-scan sums (one row per scan)."""
    table, scan_patient = mrows.table, mrows.scan_patient
    n_scans = len(scan_patient)
    order = np.empty(n_scans, dtype=np.int64)  # the row of each scan
    order[mrows.scan] = np.arange(len(table))

    def col(name: str) -> np.ndarray:
        if name not in table.columns:
            return np.full(n_scans, np.nan)
        return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)[order]

    sld = col("sld_mm")
    new_lesions = col("new_lesions")
    running_max = pd.Series(np.nan_to_num(new_lesions, nan=0.0)).groupby(scan_patient).cummax()
    before = running_max.groupby(scan_patient).shift(1).fillna(0.0).to_numpy()
    first_seen = np.where(np.isnan(new_lesions), np.nan, np.clip(new_lesions - before, 0, None))
    if "non_target_pd" in table.columns:
        non_target_pd = pd.array(table["non_target_pd"], dtype="boolean")[order]
    else:
        non_target_pd = all_na_bool(n_scans)
    return _measures_of_given_sums(
        sld,
        missing_sld="sld_mm not given",
        new_lesions=new_lesions,
        new_lesions_first_seen=first_seen,
        new_organs=col("new_organs"),
        non_target_pd=non_target_pd,
    )


def _measures_of_given_sums(
    sld: np.ndarray,
    *,
    missing_sld: str,
    new_lesions: np.ndarray,
    new_lesions_first_seen: np.ndarray,
    new_organs: np.ndarray,
    non_target_pd: Flags,
) -> ScanMeasures:
    """:class:`ScanMeasures` of per-scan sums given as such (no lesion rows): the SLD is also
    the sum of the measured targets, target CR is an SLD of 0, the lesion counts are unknown
    (``missing_sld``: the reason where the SLD is not given)."""
    n_scans = len(sld)
    targets_cr = boolean_array(sld == 0)
    targets_cr[np.isnan(sld)] = pd.NA
    unknown = np.full(n_scans, np.nan)
    return ScanMeasures(
        sld_mm=sld,
        sld_reason=GivenSldReasons(text_where(np.isnan(sld), missing_sld)),
        sld_measured_mm=sld,
        n_targets_expected=unknown,
        n_targets_measured=unknown,
        targets_cr=targets_cr,
        new_lesions=new_lesions,
        new_lesions_first_seen=new_lesions_first_seen,
        new_lesion_sum_mm=unknown,
        new_organs=new_organs,
        max_new_lesions_in_involved_organ=unknown,
        non_target_pd=non_target_pd,
        non_target_cr=all_na_bool(n_scans),
        n_non_targets_expected=unknown,
        n_non_targets_assessed=unknown,
    )


# --------------------------------------------------------------------------- wide shape


_WIDE_ROLES = (
    ("prebaseline", "sld_prebaseline_mm", "date_prebaseline", "pre-baseline"),
    ("baseline", "sld_baseline_mm", "date_baseline", "baseline"),
    ("on_treatment", "sld_first_eval_mm", "date_first_eval", "first-evaluation"),
)


def _wide_patient_codes(cohort: Cohort, wide: pd.DataFrame) -> np.ndarray:
    """Position of each wide row's patient in ``cohort.patients``; an error on a second row
    for the same patient."""
    codes = _patient_codes(cohort, wide, "scans")
    repeated = pd.Series(codes).duplicated().to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise CohortError(
            [
                Problem(
                    cohort.sources.get("scans", "scans"),
                    i + 2,
                    "patient_id",
                    "second row for the same patient",
                    "one row per patient",
                )
            ]
        )
    return codes


def _per_patient(values: np.ndarray, rows: np.ndarray, n_patients: int) -> np.ndarray:
    """Float values of the wide rows spread to all patients (NaN for those without a row)."""
    out = np.full(n_patients, np.nan)
    out[rows] = values
    return out


def _wide_number(wide: pd.DataFrame, col: str, *, rows: np.ndarray, n_patients: int) -> np.ndarray:
    """A numeric column of the wide table per patient (NaN when absent or not a number)."""
    if col not in wide.columns:
        return np.full(n_patients, np.nan)
    values = pd.to_numeric(wide[col], errors="coerce").to_numpy(dtype=float)
    return _per_patient(values, rows, n_patients)


@dataclass(frozen=True)
class WideScans:
    """The scans given by the wide table, sorted by patient, date, then role order."""

    frame: pd.DataFrame  #: columns ``_pcode``, ``_rk``, ``_date``, ``sld_mm``, ``role``
    reasons: dict[str, np.ndarray]  #: per role, per patient: why its scan is missing


def _wide_scans(wide: pd.DataFrame, rows: np.ndarray, n_patients: int) -> WideScans:
    """One scan per given date of the three roles, with each role's reason when missing."""
    has_row = np.zeros(n_patients, dtype=bool)
    has_row[rows] = True
    frames, reasons = [], {}
    for role, sld_col, date_col, label in _WIDE_ROLES:
        sld = _wide_number(wide, sld_col, rows=rows, n_patients=n_patients)
        date = (
            _per_patient(epoch_days(wide[date_col]), rows, n_patients)
            if date_col in wide.columns
            else np.full(n_patients, np.nan)
        )
        reason = np.full(n_patients, None, dtype=object)
        reason[np.isnan(date)] = f"no {label} scan given ({date_col} empty)"
        reason[~has_row] = "no measurements"
        reasons[role] = reason
        present = np.flatnonzero(~np.isnan(date))
        frames.append(
            pd.DataFrame(
                {
                    "_pcode": present,
                    "_rk": ROLES.index(role),
                    "_date": date[present],
                    "sld_mm": sld[present],
                    "role": role,
                }
            )
        )
    frame = (
        pd.concat(frames, ignore_index=True)
        .sort_values(["_pcode", "_date", "_rk"], kind="mergesort")
        .reset_index(drop=True)
    )
    return WideScans(frame=frame, reasons=reasons)


def _wide_measures(
    wide: pd.DataFrame, frame: pd.DataFrame, *, rows: np.ndarray, n_patients: int
) -> ScanMeasures:
    """Per-scan measures of the wide table: the SLD as given; new lesions and non-target
    progression (when given) at the first-evaluation scan only; the rest unknown."""
    n_scans = len(frame)
    patient = frame["_pcode"].to_numpy(dtype=np.int64)
    sld = frame["sld_mm"].to_numpy(dtype=float)
    is_first_eval = (frame["role"] == "on_treatment").to_numpy()
    new_lesions = _wide_number(wide, "new_lesions_first_eval", rows=rows, n_patients=n_patients)
    non_target_pd = all_na_bool(n_patients)
    if "non_target_pd_first_eval" in wide.columns:
        non_target_pd[rows] = pd.array(wide["non_target_pd_first_eval"], dtype="boolean")
    new_at_scan = np.where(is_first_eval, new_lesions[patient], np.nan)
    non_target_pd_at_scan = all_na_bool(n_scans)
    non_target_pd_at_scan[is_first_eval] = non_target_pd[patient[is_first_eval]]
    return _measures_of_given_sums(
        sld,
        missing_sld="SLD not given",
        new_lesions=new_at_scan,
        new_lesions_first_seen=new_at_scan,
        new_organs=np.full(n_scans, np.nan),
        non_target_pd=non_target_pd_at_scan,
    )


def _build_wide(
    cohort: Cohort, *, start: np.ndarray, death: np.ndarray
) -> tuple[Scans, TimePoints]:
    """Scans and time points of the three-scan wide table (the scans are given: no window)."""
    wide = cohort.scans_wide
    assert wide is not None  # (the caller checked)
    n = len(cohort.patients)
    rows = _wide_patient_codes(cohort, wide)
    start = start.copy()  # a missing treatment_start is taken from the wide table
    if "treatment_start" in wide.columns:
        wide_start = epoch_days(wide["treatment_start"])
        fill = np.isnan(start[rows])
        start[rows[fill]] = wide_start[fill]
    given = _wide_scans(wide, rows, n)
    frame = given.frame
    patient = frame["_pcode"].to_numpy(dtype=np.int64)
    date = frame["_date"].to_numpy(dtype=float)
    index = {
        role: first_per_group((frame["role"] == role).to_numpy(), patient, n)
        for role in ("prebaseline", "baseline", "on_treatment")
    }
    first_eval_reason = given.reasons["on_treatment"]
    died = (index["on_treatment"] < 0) & ~np.isnan(death)
    first_eval_reason[died] = concat_text(
        "died before first evaluation (day ", format_numbers(death[died]), ")"
    )
    scans = Scans(
        patient=patient,
        date=date,
        day=date - start[patient],
        measures=_wide_measures(wide, frame, rows=rows, n_patients=n),
        display=ScanDisplay(
            patient_id=cohort.patients["patient_id"].to_numpy()[patient],
            assessment_date=dates_from_days(date),
            role=frame["role"].to_numpy(dtype=object),
            is_first_eval=(frame["role"] == "on_treatment").to_numpy(),
        ),
    )
    points = TimePoints(
        prebaseline=index["prebaseline"],
        baseline=index["baseline"],
        first_eval=index["on_treatment"],
        prebaseline_reason=given.reasons["prebaseline"],
        baseline_reason=given.reasons["baseline"],
        first_eval_reason=first_eval_reason,
        n_post_baseline_scans=(index["on_treatment"] >= 0).astype(np.int64),
        prebaseline_not_evaluable=np.zeros(n, dtype=bool),
        start=start,
    )
    return scans, points


# --------------------------------------------------------------------------- scans of a cohort


def _build(cohort: Cohort, params: Parameters, *, full: bool = True) -> tuple[Scans, TimePoints]:
    """Scans and time points of the cohort, from the lesion table, else the per-scan sums, else
    the three-scan wide table (``full=False``: only what the feature table reads)."""
    start = epoch_days(cohort.patients["treatment_start"])
    death = death_days(cohort.patients, params)
    if (
        cohort.scans_wide is not None
        and len(cohort.scans_wide)
        and not (cohort.lesions is not None and len(cohort.lesions))
        and not (cohort.assessments is not None and len(cohort.assessments))
    ):
        return _build_wide(cohort, start=start, death=death)
    return _build_long(cohort, params, start=start, death=death, full=full)


_COUNT_COLUMNS = (
    "n_targets_expected",
    "n_targets_measured",
    "new_lesions",
    "new_lesions_first_seen",
    "new_organs",
    "max_new_lesions_in_involved_organ",
    "n_non_targets_expected",
    "n_non_targets_assessed",
)
_FLAG_COLUMNS = ("targets_cr", "non_target_pd", "non_target_cr")
_DISPLAY_COLUMNS = ("patient_id", "assessment_date", "role", "is_first_eval")


def _finish_scans(scans: Scans) -> pd.DataFrame:
    """The scans as the public scan table (nullable dtypes)."""
    assert scans.display is not None  # (built with full=True)
    cols: dict[str, object] = {}
    for c in SCAN_COLUMNS:
        if c == "sld_reason":
            cols[c] = scans.measures.sld_reason.at(np.arange(len(scans.day)))
            continue
        if c == "day":
            v: object = scans.day
        elif c in _DISPLAY_COLUMNS:
            v = getattr(scans.display, c)
        else:
            v = getattr(scans.measures, c)
        if c in _COUNT_COLUMNS:
            v = int_na(np.asarray(v, dtype=float))
        elif c in _FLAG_COLUMNS:
            v = boolean_array(v)
        cols[c] = v
    return pd.DataFrame(cols)


def scan_table(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """One row per patient × assessment date with its role and RECIST sums.

    Columns :data:`SCAN_COLUMNS`; ``day`` in days from ``treatment_start`` (float, NaN without a
    start date), SLD in mm, counts as nullable Int64 (NA = unknown), flags as nullable boolean.
    Rows are in ``cohort.patients`` order, then by date (the order of the input measurement rows
    does not matter). Patients without any scan have no row here (see
    :func:`first_evaluation_features`). Rules in the module docstring.
    """
    params = params or Parameters()
    scans, _ = _build(cohort, params)
    return _finish_scans(scans)


# --------------------------------------------------------------------------- first evaluation


def first_evaluation_features(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """One row per patient (``cohort.patients`` order, never fewer): the three scans, their SLD,
    intervals and RECIST 1.1 at the first evaluation, with a reason for every missing value.

    Columns :data:`FEATURE_COLUMNS` (docs/architecture.md): dates datetime64 (NaT when none),
    SLD in mm, intervals and ``first_eval_day`` in days, ``sld_pct_change_first_eval`` in % of the
    baseline SLD, ``recist_first_eval`` CR/PR/SD/PD/NE, or NON-CR/NON-PD for a patient without
    target lesions at baseline (nadir = baseline at the first evaluation; the pre-baseline scan
    never counts; PD also when a target is not assessed but the measured ones already meet PD,
    while ``sld_first_eval_mm`` and the % change stay NaN; rules in :mod:`hpd_analysis.recist`),
    ``target_response_first_eval`` CR/PR/SD/PD/NE or ``none`` (no target lesion at baseline),
    counts nullable Int64, ``non_target_pd_first_eval`` nullable boolean. When new lesions /
    non-target progression are not given (three-scan wide table without those columns) they are
    NA and the response is from the SLD alone (the reason says so).
    """
    return first_evaluation_features_with_extras(cohort, params or Parameters())[0]


def first_evaluation_features_with_extras(
    cohort: Cohort, params: Parameters
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """:func:`first_evaluation_features` and per-patient extras computed on the way (lesion table
    with organs, dates without time of day: ``n_organs_with_new_lesions_first_eval``, distinct
    organs holding a new lesion at the first evaluation, NaN when unknown or no first evaluation)
    so that :mod:`hpd_analysis.classification` need not scan the lesion rows again."""
    scans, points = _build(cohort, params, full=False)
    sums = _time_point_sums(scans, points)
    findings = _first_eval_findings(scans.measures, points.first_eval, params=params)
    response = _recist_first_eval(sums, findings, points=points, params=params)
    table = _feature_table(
        cohort, scans=scans, points=points, sums=sums, findings=findings, response=response
    )
    extra = {}
    n_organs = scans.measures.n_organs_with_new_lesions
    if n_organs is not None:
        extra["n_organs_with_new_lesions_first_eval"] = take_or_fill(n_organs, points.first_eval)
    return table, extra


def _text_or_empty(values: np.ndarray) -> np.ndarray:
    """Reasons as str (missing: the empty string), for joining into a longer reason."""
    return pd.Series(values, dtype=object).fillna("").astype(str).to_numpy(dtype=object)


@dataclass(frozen=True)
class TimePointSums:
    """The SLD (mm; NaN when missing) at the three scans per patient, and why it is missing
    (the scan's reason when there is no scan, else the SLD's)."""

    prebaseline_mm: np.ndarray
    baseline_mm: np.ndarray
    first_eval_mm: np.ndarray
    prebaseline_reason: np.ndarray
    baseline_reason: np.ndarray
    first_eval_reason: np.ndarray


def _sld_reasons_at(
    reasons: SldReasons, *scans_and_slds: tuple[np.ndarray, np.ndarray]
) -> list[np.ndarray]:
    """The SLD reason at each (scan per patient, its SLD) pair: None where there is no scan
    (-1) or the SLD is known; the texts of the three time points are built in one call."""
    where = [np.flatnonzero((scan >= 0) & np.isnan(sld)) for scan, sld in scans_and_slds]
    texts = reasons.at(
        np.concatenate([scan[w] for (scan, _), w in zip(scans_and_slds, where, strict=True)])
    )
    outs, first = [], 0
    for (scan, _), w in zip(scans_and_slds, where, strict=True):
        out = np.full(len(scan), None, dtype=object)
        out[w] = texts[first : first + len(w)]
        first += len(w)
        outs.append(out)
    return outs


def _time_point_sums(scans: Scans, points: TimePoints) -> TimePointSums:
    """:class:`TimePointSums` of the chosen scans."""
    sld = np.asarray(scans.measures.sld_mm, dtype=float)
    pre, base, first = points.prebaseline, points.baseline, points.first_eval
    s_pre, s_base, s_first = (
        take_or_fill(sld, pre),
        take_or_fill(sld, base),
        take_or_fill(sld, first),
    )
    r_pre, r_base, r_first = _sld_reasons_at(
        scans.measures.sld_reason, (pre, s_pre), (base, s_base), (first, s_first)
    )
    r_pre = np.where(pre < 0, points.prebaseline_reason, r_pre).astype(object)
    r_base = np.where(base < 0, points.baseline_reason, r_base).astype(object)
    r_first = np.where(first < 0, points.first_eval_reason, r_first).astype(object)
    none_evaluable = points.prebaseline_not_evaluable
    r_pre[none_evaluable] = concat_text(
        r_pre[none_evaluable],
        "; no scan in the pre-baseline window has every baseline target measured",
    )
    return TimePointSums(
        prebaseline_mm=s_pre,
        baseline_mm=s_base,
        first_eval_mm=s_first,
        prebaseline_reason=r_pre,
        baseline_reason=r_base,
        first_eval_reason=r_first,
    )


@dataclass(frozen=True)
class FirstEvalFindings:
    """What the first-evaluation scan shows, per patient (NaN / NA without one)."""

    targets_cr: np.ndarray
    sld_measured_mm: np.ndarray
    n_targets_expected: np.ndarray
    n_targets_measured: np.ndarray
    non_target_pd: pd.arrays.BooleanArray
    non_target_cr: pd.arrays.BooleanArray
    n_non_targets_expected: np.ndarray
    n_non_targets_assessed: np.ndarray
    new_lesions: np.ndarray  #: count (NaN: not recorded)
    new_lesion: pd.arrays.BooleanArray  #: any new lesion (NA when not recorded and unknown)
    new_organs: np.ndarray
    max_new_lesions_in_involved_organ: np.ndarray


def _first_eval_findings(
    measures: ScanMeasures, first_eval: np.ndarray, *, params: Parameters
) -> FirstEvalFindings:
    """The measures of the first-evaluation scan of each patient (``first_eval``: scan index,
    -1 when none)."""

    def count(values: np.ndarray) -> np.ndarray:
        return np.asarray(take_or_fill(values, first_eval), dtype=float)

    def flag(values: Flags) -> pd.arrays.BooleanArray:
        return boolean_array(values).take(first_eval, allow_fill=True)  # -1: NA

    targets_cr = np.asarray(boolean_array(measures.targets_cr).fillna(False), dtype=bool)
    new_lesions = count(measures.new_lesions)
    new_lesion = boolean_array(np.nan_to_num(new_lesions, nan=0.0) > 0)
    if params.rules.new_lesions_when_unrecorded == "unknown":
        new_lesion[np.isnan(new_lesions)] = pd.NA
    return FirstEvalFindings(
        targets_cr=take_or_fill(targets_cr, first_eval, False).astype(bool),
        sld_measured_mm=count(measures.sld_measured_mm),
        n_targets_expected=count(measures.n_targets_expected),
        n_targets_measured=count(measures.n_targets_measured),
        non_target_pd=flag(measures.non_target_pd),
        non_target_cr=flag(measures.non_target_cr),
        n_non_targets_expected=count(measures.n_non_targets_expected),
        n_non_targets_assessed=count(measures.n_non_targets_assessed),
        new_lesions=new_lesions,
        new_lesion=new_lesion,
        new_organs=count(measures.new_organs),
        max_new_lesions_in_involved_organ=count(measures.max_new_lesions_in_involved_organ),
    )


@dataclass(frozen=True)
class FirstEvalResponse:
    """RECIST 1.1 at the first evaluation per patient (object arrays of labels / texts)."""

    target: np.ndarray
    overall: np.ndarray
    reason: np.ndarray


def _target_sld_reason(sums: TimePointSums, points: TimePoints) -> np.ndarray:
    """Why the target response cannot be read: the first-evaluation SLD's reason, or that of
    the baseline scan or baseline SLD."""
    first, base = points.first_eval, points.baseline
    reason = sums.first_eval_reason.copy()
    no_baseline = (first >= 0) & (base < 0)
    reason[no_baseline] = concat_text(
        "no baseline scan (", _text_or_empty(points.baseline_reason[no_baseline]), ")"
    )
    baseline_missing = (first >= 0) & (base >= 0) & np.isnan(sums.baseline_mm)
    reason[baseline_missing] = concat_text(
        "baseline SLD not evaluable (", _text_or_empty(sums.baseline_reason[baseline_missing]), ")"
    )
    return reason


def _recist_first_eval(
    sums: TimePointSums,
    findings: FirstEvalFindings,
    *,
    points: TimePoints,
    params: Parameters,
) -> FirstEvalResponse:
    """RECIST 1.1 at the first evaluation (nadir = baseline; :func:`recist.scan_responses`),
    with the reason qualified when new lesions were not recorded, when early on-treatment scans
    were not used, and NE without a first evaluation."""
    first = points.first_eval
    responses = scan_responses(
        ScanAssessment(
            sld_mm=sums.first_eval_mm,
            baseline_sld_mm=sums.baseline_mm,
            nadir_mm=sums.baseline_mm,
            targets_cr=findings.targets_cr,
            sld_measured_mm=findings.sld_measured_mm,
            n_targets_expected=findings.n_targets_expected,
            n_targets_measured=findings.n_targets_measured,
            no_targets=(first >= 0) & (points.baseline >= 0) & (findings.n_targets_expected == 0),
            non_target_pd=findings.non_target_pd,
            non_target_cr=findings.non_target_cr,
            n_non_targets_expected=findings.n_non_targets_expected,
            n_non_targets_assessed=findings.n_non_targets_assessed,
            new_lesion=findings.new_lesion,
            sld_reason=_target_sld_reason(sums, points),
        )
    )
    target, overall = responses.target_response, responses.overall_response
    reason = responses.response_reason
    no_first_eval = first < 0
    if params.rules.new_lesions_when_unrecorded == "unknown":
        # without new-lesion data RECIST PD is unknown unless the SLD alone (or non-target
        # progression) gives PD: a size-only SD/PR/CR would assume "no new lesion"
        unknown = np.flatnonzero(
            np.isnan(findings.new_lesions) & ~no_first_eval & (overall != "PD") & (overall != "NE")
        )
        if len(unknown):
            size_only = overall[unknown].astype(object)
            overall[unknown] = "NE"
            reason[unknown] = concat_text(
                "new lesions not recorded: RECIST PD unknown unless the SLD alone gives PD "
                "(rules.new_lesions_when_unrecorded=unknown; the SLD alone gives ",
                size_only,
                "): ",
                _text_or_empty(reason[unknown]),
            )
    if points.n_early_scans is not None:  # on-treatment scans before the window: say so
        early = np.flatnonzero(~no_first_eval & (points.n_early_scans > 0))
        if len(early):
            reason[early] = concat_text(
                _text_or_empty(reason[early]),
                "; ",
                format_numbers(points.n_early_scans[early]),
                " on-treatment scan(s) before day "
                f"{params.windows.first_eval_min_days} not used (windows.first_eval_min_days)",
            )
    target[no_first_eval] = "NE"
    overall[no_first_eval] = "NE"
    reason[no_first_eval] = concat_text(
        "no first evaluation: ",
        pd.Series(sums.first_eval_reason[no_first_eval], dtype=object)
        .astype(str)
        .to_numpy(dtype=object),
    )
    return FirstEvalResponse(target=target, overall=overall, reason=reason)


def _text_column(values: np.ndarray, keep: np.ndarray | None = None) -> pd.Series:
    """Object column (None where ``keep`` is False), without dtype inference."""
    v = np.asarray(values, dtype=object)
    if keep is not None:
        v = v.copy()
        v[~keep] = None
    return pd.Series(v, dtype=object, copy=False)


def _feature_table(
    cohort: Cohort,
    *,
    scans: Scans,
    points: TimePoints,
    sums: TimePointSums,
    findings: FirstEvalFindings,
    response: FirstEvalResponse,
) -> pd.DataFrame:
    """The feature table (:data:`FEATURE_COLUMNS`) from the stages' results."""
    pre, base, first = points.prebaseline, points.baseline, points.first_eval
    date = np.asarray(scans.date, dtype=float)
    d_pre, d_base, d_first = (dates_from_days(take_or_fill(date, i)) for i in (pre, base, first))
    with np.errstate(invalid="ignore", divide="ignore"):
        days_pre = (d_base - d_pre) / np.timedelta64(1, "D")
        days_on = (d_first - d_base) / np.timedelta64(1, "D")
        change = sums.first_eval_mm - sums.baseline_mm
        pct = np.where(sums.baseline_mm > 0, 100.0 * change / sums.baseline_mm, np.nan)
    # copy=False: every column is a fresh array (no consolidation copy of ~30 columns)
    return pd.DataFrame(
        {
            "patient_id": cohort.patients["patient_id"].to_numpy().copy(),
            "treatment_start": dates_from_days(points.start),
            "prebaseline_date": d_pre,
            "baseline_date": d_base,
            "first_eval_date": d_first,
            "prebaseline_reason": _text_column(points.prebaseline_reason, pre < 0),
            "baseline_reason": _text_column(points.baseline_reason, base < 0),
            "first_eval_reason": _text_column(points.first_eval_reason, first < 0),
            "sld_prebaseline_mm": sums.prebaseline_mm,
            "sld_baseline_mm": sums.baseline_mm,
            "sld_first_eval_mm": sums.first_eval_mm,
            "sld_prebaseline_reason": _text_column(
                sums.prebaseline_reason, np.isnan(sums.prebaseline_mm)
            ),
            "sld_baseline_reason": _text_column(sums.baseline_reason, np.isnan(sums.baseline_mm)),
            "sld_first_eval_reason": _text_column(
                sums.first_eval_reason, np.isnan(sums.first_eval_mm)
            ),
            "days_pre_to_baseline": days_pre,
            "days_baseline_to_first_eval": days_on,
            "first_eval_day": take_or_fill(np.asarray(scans.day, dtype=float), first),
            "sld_change_first_eval_mm": change,
            "sld_pct_change_first_eval": pct,
            "recist_first_eval": _text_column(response.overall),
            "recist_first_eval_reason": _text_column(response.reason),
            "target_response_first_eval": _text_column(response.target),
            "non_target_pd_first_eval": findings.non_target_pd,
            "new_lesions_first_eval": int_na(findings.new_lesions),
            "new_organs_first_eval": int_na(findings.new_organs),
            "max_new_lesions_in_involved_organ_first_eval": int_na(
                findings.max_new_lesions_in_involved_organ
            ),
            "n_post_baseline_scans": np.array(points.n_post_baseline_scans, dtype=np.int64),
        },
        copy=False,
    )


# --------------------------------------------------------------------------- measurements


_MEASUREMENT_COLUMNS = ["row", "slot", "diameter_mm", "is_lymph_node", "organ", "is_sum"]


def target_measurements(cohort: Cohort, params: Parameters | None = None) -> pd.DataFrame:
    """The measurements that make the three SLDs of each patient (pre-baseline, baseline, first
    evaluation; :func:`first_evaluation_features`), one row per lesion and scan.

    Columns: ``row`` (position of the patient in ``cohort.patients``), ``slot`` (0 pre-baseline,
    1 baseline, 2 first evaluation: :data:`SLOTS`), ``diameter_mm`` (0 for a target recorded
    absent), ``is_lymph_node`` (bool; diameter = short axis), ``organ`` (lower case, stripped;
    None when not given) and ``is_sum`` (True: the row is a per-scan sum, when the cohort has no
    lesion table). Only the baseline target lesions measured at that scan, i.e. the rows summed
    into ``sld_*_mm``; for a scan whose SLD is missing (a target not measured) the rows of the
    measured targets are listed too. Used by the re-read model (:mod:`hpd_analysis.uncertainty`).
    """
    params = params or Parameters()
    scans, points = _build(cohort, params, full=False)
    if cohort.lesions is None or not len(cohort.lesions):
        return _per_scan_sum_measurements(scans, points)
    return _lesion_measurements(cohort, points)


def _slot_scans(points: TimePoints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scans of the :data:`SLOTS` per patient (-1 when none)."""
    return points.prebaseline, points.baseline, points.first_eval


def _per_scan_sum_measurements(scans: Scans, points: TimePoints) -> pd.DataFrame:
    """:func:`target_measurements` without a lesion table: one "measurement" (the SLD) per
    scan with an SLD."""
    sld = np.asarray(scans.measures.sld_mm, dtype=float)
    rows, slots, values = [], [], []
    for k, scan in enumerate(_slot_scans(points)):
        v = take_or_fill(sld, scan)
        known = np.flatnonzero(~np.isnan(v))
        rows.append(known)
        slots.append(np.full(len(known), k, dtype=np.int8))
        values.append(v[known])
    row = np.concatenate(rows)
    order = np.lexsort((np.concatenate(slots), row))
    m = len(row)
    return pd.DataFrame(
        {
            "row": row[order].astype(np.int64),
            "slot": np.concatenate(slots)[order],
            "diameter_mm": np.concatenate(values)[order],
            "is_lymph_node": np.zeros(m, dtype=bool),
            "organ": np.full(m, None, dtype=object),
            "is_sum": np.ones(m, dtype=bool),
        },
        columns=_MEASUREMENT_COLUMNS,
    )


def _lesion_measurements(cohort: Cohort, points: TimePoints) -> pd.DataFrame:
    """:func:`target_measurements` from the lesion table: the measured baseline targets (the
    rows :func:`_sum_of_diameters` adds up) at the three scans."""
    mrows = _measurement_rows(cohort)
    n_patients = len(cohort.patients)
    rows = _lesion_rows(
        mrows.table,
        patient=mrows.patient,
        scan=mrows.scan,
        baseline_scan=points.baseline,
        n_patients=n_patients,
    )
    measured = _measured_targets(rows, _baseline_lesions(rows, n_patients))
    slot = np.full(len(mrows.table), -1, dtype=np.int8)
    for k, scan in enumerate(_slot_scans(points)):
        at = scan[rows.patient]
        slot[measured & (at >= 0) & (rows.scan == at)] = k
    keep = np.flatnonzero(slot >= 0)
    diameter = rows.diameter_mm[keep]
    diameter[np.isnan(diameter)] = 0.0
    organ = np.full(len(keep), None, dtype=object)
    if "organ" in mrows.table.columns:
        o = mrows.table["organ"].to_numpy(dtype=object)[keep]
        known = ~pd.isna(o)
        organ[known] = pd.Index(o[known]).astype(str).str.strip().str.lower().to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "row": rows.patient[keep],
            "slot": slot[keep],
            "diameter_mm": diameter,
            "is_lymph_node": rows.lymph_node[keep],
            "organ": organ,
            "is_sum": np.zeros(len(keep), dtype=bool),
        },
        columns=_MEASUREMENT_COLUMNS,
    )
