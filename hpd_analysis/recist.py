"""RECIST 1.1 responses per scan, best overall response, and iRECIST confirmation.

Rules (Eisenhauer et al., Eur J Cancer 2009; Seymour et al., Lancet Oncol 2017), as applied here:

- **Target response** of a scan, from the sum of diameters (SLD, mm) of the *baseline* target
  lesions (nodes by short axis):

  * ``PD``: SLD rises by >= 20 % over the nadir **and** by >= 5 mm. The nadir is the smallest
    evaluable SLD from baseline up to the previous on-treatment scan (at the first evaluation, the
    baseline). The pre-baseline scan never counts.
  * ``PD`` also when a baseline target lesion is **not assessed** (SLD unknown) but the sum of the
    baseline targets that *were* measured (``sld_measured_mm``) already meets both PD thresholds
    over the nadir: the missing lesion(s) can only add to the sum (RECIST 1.1, "Missing assessments
    and inevaluable designation", and the RECIST working group's Q&A). ``sld_mm`` stays NaN for
    such a scan (the complete sum is unknown), so it never sets the nadir and never feeds the
    kinetics; the reason reads ``target PD on measured lesions (1 target not assessed)``.
  * ``CR``: every non-nodal target lesion 0 mm and every nodal target < 10 mm (``targets_cr``).
  * ``PR``: SLD <= 70 % of the baseline SLD (a decrease of 30 % or more).
  * ``SD`` otherwise; ``NE`` when the SLD or the baseline SLD is not evaluable (a baseline target
    lesion not measured and the measured ones short of PD, no baseline scan).
  * ``none``: no target lesion at baseline (non-target disease only; lesion table only, where the
    number of baseline targets is known).

  PD is checked before CR (a rise of >= 5 mm and >= 20 % of nodes that stay < 10 mm reads PD).
  Comparisons carry a tolerance of 1e-9 so that exactly -30 % / +20 % / +5 mm meet the threshold.
- **Non-target response**: ``PD`` (a non-target lesion in unequivocal progression), ``CR`` (every
  baseline non-target lesion absent), ``non-CR/non-PD``, ``NE`` (a baseline non-target lesion not
  assessed, or non-target status not given), ``non-PD`` (per-scan sums that say there is no
  non-target progression but not whether non-targets are gone) or ``none`` (no non-target lesion at
  baseline).
- **Overall response** (RECIST 1.1 tables 1 and 2): PD if target PD, non-target PD or any new
  lesion; otherwise NE if target NE; CR if target CR with non-target CR/none and no new lesion; PR
  if target CR with other non-target states, or target PR; SD if target SD. Patients **without a
  target lesion at baseline** (table 2, non-target disease only): ``CR`` when every non-target
  lesion is gone, ``NON-CR/NON-PD`` when non-targets persist without unequivocal progression (the
  label of RECIST 1.1 and of CDISC RS), ``NE`` when a non-target lesion is not assessed or there
  was no lesion at all at baseline, ``PD`` on unequivocal progression or a new lesion. When new
  lesions or non-target progression are not given (three-scan wide tables), the response is
  computed from the SLD and ``response_reason`` says so.
- **Best overall response**: the best response until the first PD (later scans never count).
  ``NON-CR/NON-PD`` ranks between SD and PD and, like SD, counts only at a scan at least
  ``sd_min_days`` after treatment start (RECIST 1.1 "Evaluation of best overall response";
  admiralonco ``derive_param_bor`` ranks CR, PR, SD, NON-CR/NON-PD, PD, NE the same way); an
  earlier one gives NE (or PD when a PD follows). With ``confirm=True`` an unconfirmed CR of a
  patient without target lesions counts as NON-CR/NON-PD (an unconfirmed CR/PR counts as SD
  otherwise).

The module reads in that order: target response, non-target response, overall response (new
lesions read there), the reason in words (:data:`REASON_PARTS`, the text of each part and the
case it applies to), then :func:`scan_responses` (all of them for many scans at once, on label
codes), the responses of a scan table, the best overall response and iRECIST. How they run fast
(strings shared across rows, rules as look-up tables of codes, per-patient segment operations)
lives in :mod:`hpd_analysis.recist_kernel`; ``tests/test_recist.py`` checks the rules scan by
scan and ``tests/test_recist_kernel.py`` each helper against a plain loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from .params import NS_PER_DAY
from .recist_kernel import (
    after_first,
    as_boolean,
    as_text,
    best_per_group,
    bool_na,
    combination_key,
    combination_table,
    concat_coded,
    first_at_or_after,
    first_match,
    float_na,
    group_starts,
    join_flagged,
    label_codes,
    level_values,
    min_after,
    min_before,
    patient_codes,
    sorted_order,
    text_codes,
)

#: a per-scan column: numpy array, Series or pandas extension array (nullable booleans, counts)
Column: TypeAlias = "np.ndarray | pd.Series | pd.api.extensions.ExtensionArray"

#: tolerance (mm and fraction) on RECIST thresholds so exact boundary values meet them
EPS = 1e-9

#: overall response of a patient without target lesions whose non-target disease persists
NON_CR_NON_PD = "NON-CR/NON-PD"

#: best-first order of responses (for the best overall response; admiralonco's order)
RESPONSE_RANK = {"CR": 0, "PR": 1, "SD": 2, NON_CR_NON_PD: 3, "PD": 4, "NE": 5}

RESPONSE_COLUMNS = [
    "patient_id",
    "assessment_date",
    "day",
    "is_first_eval",
    "sld_mm",
    "sld_measured_mm",
    "baseline_sld_mm",
    "nadir_mm",
    "change_baseline_mm",
    "pct_change_baseline",
    "change_nadir_mm",
    "pct_change_nadir",
    "target_response",
    "non_target_response",
    "new_lesion",
    "overall_response",
    "response_reason",
    "new_lesions",
    "new_lesions_first_seen",
    "new_lesion_sum_mm",
    "non_target_pd",
]

#: labels of :func:`target_response`, :func:`non_target_response` and :func:`overall_response`
#: (the rules run on their codes, positions in these tuples; code ``len(labels)``: other/NA)
TARGET_LABELS = ("CR", "PR", "SD", "PD", "NE", "none")
NON_TARGET_LABELS = ("PD", "CR", "non-CR/non-PD", "NE", "non-PD", "none")
OVERALL_LABELS = tuple(RESPONSE_RANK)

_TARGET = {label: code for code, label in enumerate(TARGET_LABELS)}
_NON_TARGET = {label: code for code, label in enumerate(NON_TARGET_LABELS)}
_OVERALL = {label: code for code, label in enumerate(OVERALL_LABELS)}
_TARGET_LEVELS = level_values(TARGET_LABELS)
_NON_TARGET_LEVELS = level_values(NON_TARGET_LABELS)
_OVERALL_LEVELS = level_values(OVERALL_LABELS)


def _first_of(
    codes: dict[str, int], rules: list[tuple[str, np.ndarray]], *, default: str
) -> np.ndarray:
    """Per row, the code of the label of the first rule whose condition holds (``default`` when
    none does): ``rules`` read top to bottom as the paper's list of responses."""
    return first_match(
        [condition for _, condition in rules], [codes[label] for label, _ in rules], codes[default]
    )


# ------------------------------------------------------------------ 1. target lesions


def meets_pd(total: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """``total`` (mm) >= 20 % and >= 5 mm over ``nadir`` (mm), with tolerance; False for NaN."""
    with np.errstate(invalid="ignore"):
        rise = total - nadir
        return (rise >= 5.0 - EPS) & (rise >= 0.2 * nadir - EPS * np.maximum(nadir, 1.0))


def target_response(
    sld: Column,
    baseline: Column,
    nadir: Column,
    *,
    targets_cr: Column,
    sld_measured: Column | None = None,
    no_targets: Column | None = None,
) -> np.ndarray:
    """RECIST 1.1 target response per scan (``CR``/``PR``/``SD``/``PD``/``NE``/``none``).

    ``sld``, ``baseline`` and ``nadir`` in mm (NaN when not evaluable); ``targets_cr`` boolean
    (every non-nodal target 0 mm, nodes < 10 mm); ``nadir`` is the smallest evaluable SLD before
    this scan, baseline included. ``sld_measured`` (mm, optional): sum over the baseline targets
    measured at the scan; where ``sld`` is NaN (a target not assessed) and this partial sum already
    rises >= 20 % and >= 5 mm over the nadir, the response is ``PD``. ``no_targets`` (boolean,
    optional): no target lesion at baseline, giving ``none``.
    """
    codes = _target_codes(
        sld,
        baseline,
        nadir,
        targets_cr=targets_cr,
        sld_measured=sld_measured,
        no_targets=no_targets,
    )
    return _TARGET_LEVELS[codes]


def _target_codes(
    sld: Column,
    baseline: Column,
    nadir: Column,
    *,
    targets_cr: Column,
    sld_measured: Column | None,
    no_targets: Column | None,
) -> np.ndarray:
    """:func:`target_response` as codes (positions in :data:`TARGET_LABELS`)."""
    sld = np.asarray(sld, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    nadir = np.asarray(nadir, dtype=float)
    evaluable = ~np.isnan(sld) & ~np.isnan(baseline)
    # PD: +20 % and +5 mm over the nadir (at the first evaluation the nadir is the baseline)
    reference = np.where(np.isnan(nadir), baseline, nadir)
    progression = meets_pd(sld, reference) & evaluable
    if sld_measured is not None:
        # a target not assessed can only add to the sum of those measured
        measured = np.asarray(sld_measured, dtype=float)
        progression |= np.isnan(sld) & ~np.isnan(baseline) & meets_pd(measured, reference)
    # CR: every target gone (nodes < 10 mm)
    complete = bool_na(targets_cr)[0] & evaluable
    # PR: a decrease of 30 % or more of the SLD vs baseline
    with np.errstate(invalid="ignore"):
        partial = evaluable & (sld - baseline <= -0.3 * baseline + EPS * np.maximum(baseline, 1.0))
    no_target = np.zeros(len(sld), dtype=bool) if no_targets is None else bool_na(no_targets)[0]
    return _first_of(
        _TARGET,
        [
            ("none", no_target),
            ("PD", progression),
            ("NE", ~evaluable),
            ("CR", complete),
            ("PR", partial),
        ],
        default="SD",
    )


# ------------------------------------------------------------------ 2. non-target lesions


def non_target_response(
    non_target_pd: Column,
    non_target_cr: Column,
    *,
    n_expected: Column,
    n_assessed: Column,
) -> np.ndarray:
    """Non-target response per scan (``PD``/``CR``/``non-CR/non-PD``/``non-PD``/``NE``/``none``).

    ``non_target_pd``: unequivocal progression of a non-target lesion (nullable boolean);
    ``non_target_cr``: every baseline non-target lesion absent. ``n_expected``/``n_assessed``:
    numbers of baseline non-target lesions and of those assessed at the scan; NA when the cohort
    gives per-scan sums only (then ``non_target_pd`` False reads ``non-PD``: progression excluded,
    complete disappearance unknown).
    """
    codes = _non_target_codes(
        non_target_pd, non_target_cr, n_expected=n_expected, n_assessed=n_assessed
    )
    return _NON_TARGET_LEVELS[codes]


def _non_target_codes(
    non_target_pd: Column, non_target_cr: Column, *, n_expected: Column, n_assessed: Column
) -> np.ndarray:
    """:func:`non_target_response` as codes (positions in :data:`NON_TARGET_LABELS`)."""
    progression, progression_unknown = bool_na(non_target_pd)
    all_gone = bool_na(non_target_cr)[0]
    expected, sums_only = float_na(n_expected)  # counts unknown: per-scan sums only
    assessed = float_na(n_assessed)[0]
    return _first_of(
        _NON_TARGET,
        [
            ("PD", progression),
            ("non-PD", sums_only & ~progression_unknown),
            ("NE", sums_only),
            ("none", expected == 0),
            ("CR", all_gone),
            ("NE", assessed < expected),
        ],
        default="non-CR/non-PD",
    )


# ------------------------------------------------------------------ 3-4. new lesions, overall


def overall_response(target: Column, non_target: Column, new_lesion: Column) -> np.ndarray:
    """RECIST 1.1 overall response from target, non-target and new-lesion status (tables 1, 2).

    ``new_lesion`` is a nullable boolean; unknown is treated as 'no new lesion' (the caller reports
    that the response rests on incomplete information). Target ``none`` (no target lesion at
    baseline, table 2): ``CR`` when non-targets are gone, ``NON-CR/NON-PD`` when they persist,
    otherwise ``NE`` (unless PD).
    """
    codes = _overall_codes(
        label_codes(target, TARGET_LABELS),
        label_codes(non_target, NON_TARGET_LABELS),
        bool_na(new_lesion)[0],
    )
    return _OVERALL_LEVELS[codes]


def overall_response_rule(
    target: np.ndarray, non_target: np.ndarray, new_lesion: np.ndarray
) -> np.ndarray:
    """RECIST 1.1 tables 1 and 2 on label arrays (``new_lesion``: numpy bool), as codes
    (positions in :data:`OVERALL_LABELS`). The first line that holds gives the response."""
    no_target = target == "none"
    return _first_of(
        _OVERALL,
        [
            ("PD", (target == "PD") | (non_target == "PD") | new_lesion),
            ("NE", target == "NE"),
            ("CR", no_target & (non_target == "CR")),  # table 2
            (NON_CR_NON_PD, no_target & (non_target == "non-CR/non-PD")),  # table 2
            ("NE", no_target),  # table 2
            ("CR", (target == "CR") & np.isin(non_target, ["CR", "none"])),
            ("PR", np.isin(target, ["CR", "PR"])),
            ("SD", target == "SD"),
        ],
        default="NE",
    )


#: combinations of (target code, non-target code, new lesion) of :data:`_OVERALL_TABLE`
_OVERALL_SIZES = (len(TARGET_LABELS) + 1, len(NON_TARGET_LABELS) + 1, 2)

#: :func:`overall_response_rule` of every combination of codes (a look-up per scan)
_OVERALL_TABLE = combination_table(
    lambda t, nt, new: overall_response_rule(
        _TARGET_LEVELS[t], _NON_TARGET_LEVELS[nt], new.astype(bool)
    ),
    _OVERALL_SIZES,
)


def _overall_codes(
    target_code: np.ndarray, non_target_code: np.ndarray, new_lesion: np.ndarray
) -> np.ndarray:
    """:func:`overall_response` of codes (``new_lesion``: numpy bool, NA read as False) as codes."""
    return _OVERALL_TABLE[
        combination_key([target_code, non_target_code, new_lesion], _OVERALL_SIZES)
    ]


# ------------------------------------------------------------------ 5. the reason, in words


@dataclass(frozen=True)
class ReasonCase:
    """What a response reason reads of a scan: target and non-target response (labels; None for
    any other value), whether the overall response is PD, and the new-lesion flag (None: not
    given)."""

    target: str | None
    non_target: str | None
    overall_pd: bool
    new_lesion: bool | None


def _rests_on_the_sld(case: ReasonCase) -> bool:
    """New lesions or non-target status missing, and no PD nor target NE/none says otherwise."""
    missing = case.new_lesion is None or case.non_target == "NE"
    return missing and not case.overall_pd and case.target not in ("NE", "none")


#: default text of target PD (a scan's own text, e.g. PD on measured lesions, may replace it)
TARGET_PD_REASON = "target PD (SLD +>=20 % and +>=5 mm over the nadir)"

#: the parts of a response reason, in the order they are written (joined by "; "), each with the
#: case it applies to
REASON_PARTS: tuple[tuple[str, Callable[[ReasonCase], bool]], ...] = (
    (TARGET_PD_REASON, lambda c: c.target == "PD"),
    ("new lesion(s)", lambda c: c.new_lesion is True),
    ("unequivocal non-target progression", lambda c: c.non_target == "PD"),
    ("all target lesions gone (nodes < 10 mm)", lambda c: c.target == "CR"),
    ("target PR (SLD -30 % or more vs baseline)", lambda c: c.target == "PR"),
    ("target SD", lambda c: c.target == "SD"),
    (
        "no target lesion at baseline (non-target disease only)",
        lambda c: c.target == "none" and c.non_target != "none",
    ),
    (
        "no target or non-target lesion at baseline",
        lambda c: c.target == "none" and c.non_target == "none",
    ),
    ("all non-target lesions gone", lambda c: c.target == "none" and c.non_target == "CR"),
    (
        "non-target lesion(s) present without unequivocal progression",
        lambda c: c.target == "none" and c.non_target == "non-CR/non-PD",
    ),
    ("new lesions not given", lambda c: c.new_lesion is None),
    ("non-target status not given or not all assessed", lambda c: c.non_target == "NE"),
    ("response from target SLD alone", _rests_on_the_sld),
)

#: text ending the reason of a target NE, before the SLD reason
TARGET_NE_REASON = "target not evaluable: "


def reason_parts(case: ReasonCase) -> list[str]:
    """The texts of :data:`REASON_PARTS` that apply to ``case``, in order."""
    return [text for text, applies in REASON_PARTS if applies(case)]


#: combinations (target code, non-target code, overall PD, new lesion no/yes/not given) of the
#: reason tables
_REASON_SIZES = (len(TARGET_LABELS) + 1, len(NON_TARGET_LABELS) + 1, 2, 3)


def _reason_table(write: Callable[[list[str]], str]) -> np.ndarray:
    """``write(reason_parts(case))`` for every combination of :data:`_REASON_SIZES`."""

    def texts(*codes: np.ndarray) -> np.ndarray:
        cases = (
            ReasonCase(
                _TARGET_LEVELS[t], _NON_TARGET_LEVELS[nt], bool(opd), (False, True, None)[new]
            )
            for t, nt, opd, new in zip(*codes, strict=True)
        )
        return np.array([write(reason_parts(c)) for c in cases], dtype=object)

    return combination_table(texts, _REASON_SIZES)


#: the reason of each combination; after its target-PD part (for a scan's own target-PD text);
#: before a target-NE text
_REASON_TEXT = _reason_table("; ".join)
_REASON_AFTER_TARGET_PD = _reason_table(
    lambda parts: "".join("; " + p for p in parts if p != TARGET_PD_REASON)
)
_REASON_BEFORE_TARGET_NE = _reason_table(lambda parts: "".join(p + "; " for p in parts))


def _reason_key(
    target_code: np.ndarray,
    non_target_code: np.ndarray,
    overall_pd: np.ndarray,
    *,
    new_lesion: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Position of each scan's case in the reason tables (``new_lesion``: :func:`bool_na`)."""
    new_true, new_na = new_lesion
    new_state = new_true + 2 * new_na  # no / yes / not given
    return combination_key([target_code, non_target_code, overall_pd, new_state], _REASON_SIZES)


def response_reason(
    target: Column,
    non_target: Column,
    new_lesion: Column,
    *,
    overall: Column,
    sld_reason: Column,
    target_pd_reason: Column | None = None,
) -> np.ndarray:
    """Plain-language reason for each overall response: what made it PD, why it is NE (the SLD
    reason), and what was not given. Numbers are in the percentage columns, not repeated here.

    The reason joins the parts of :data:`REASON_PARTS` that apply with "; ";
    ``target_pd_reason`` (optional, text or None per row) replaces the default target-PD text,
    e.g. for PD on the measured lesions of an incomplete scan; a target NE ends with
    ``target not evaluable: <sld_reason>`` (``SLD not evaluable`` when that is missing).
    """
    target_code = label_codes(target, TARGET_LABELS)
    key = _reason_key(
        target_code,
        label_codes(non_target, NON_TARGET_LABELS),
        np.asarray(overall, dtype=object) == "PD",
        new_lesion=bool_na(new_lesion),
    )
    own_pd_rows = own_pd_texts = None
    if target_pd_reason is not None:
        own = np.asarray(target_pd_reason, dtype=object)
        own_pd_rows = np.flatnonzero((target_code == _TARGET["PD"]) & pd.notna(own))
        own_pd_texts = as_text(own[own_pd_rows], "")
    return _reason_texts(
        key, target_code, sld_reason=sld_reason, pd_rows=own_pd_rows, pd_texts=own_pd_texts
    )


def _reason_texts(
    key: np.ndarray,
    target_code: np.ndarray,
    *,
    sld_reason: Column,
    pd_rows: np.ndarray | None,
    pd_texts: np.ndarray | None,
) -> np.ndarray:
    """:func:`response_reason` of reason keys: the table text of each scan, with ``pd_texts``
    (str) as the target-PD part at ``pd_rows`` and the SLD reason after a target NE."""
    out = _REASON_TEXT[key]
    if pd_rows is not None and pd_texts is not None and len(pd_rows):
        out[pd_rows] = pd_texts + _REASON_AFTER_TARGET_PD[key[pd_rows]]
    target_ne = np.flatnonzero(target_code == _TARGET["NE"])
    if len(target_ne):
        sld_text = as_text(np.asarray(sld_reason, dtype=object)[target_ne], "SLD not evaluable")
        out[target_ne] = concat_coded(
            (key[target_ne], _REASON_BEFORE_TARGET_NE), TARGET_NE_REASON, text_codes(sld_text)
        )
    return out


def measured_pd_reason(
    target: Column, sld: Column, *, n_expected: Column, n_measured: Column
) -> np.ndarray:
    """Reason text for target PD on the measured lesions of an incomplete scan (None elsewhere):
    ``target PD on measured lesions (1 target not assessed)``. Counts NaN when unknown."""
    target = np.asarray(target, dtype=object)
    rows = np.flatnonzero((target == "PD") & np.isnan(np.asarray(sld, dtype=float)))
    out = np.full(len(target), None, dtype=object)
    if len(rows):
        out[rows] = _measured_pd_texts(rows, n_expected=n_expected, n_measured=n_measured)
    return out


def _measured_pd_texts(rows: np.ndarray, *, n_expected: Column, n_measured: Column) -> np.ndarray:
    """The texts of :func:`measured_pd_reason` at ``rows`` (target PD, SLD unknown)."""
    missing = np.asarray(n_expected, dtype=float)[rows] - np.asarray(n_measured, dtype=float)[rows]
    distinct, which = np.unique(missing, return_inverse=True)
    texts = np.array(
        [
            "target PD on measured lesions (a target not assessed)"
            if np.isnan(k)
            else f"target PD on measured lesions ({k:g} target{'' if k == 1 else 's'} not assessed)"
            for k in distinct
        ],
        dtype=object,
    )
    return texts[which.ravel()]


# ------------------------------------------------------------------ every scan at once


@dataclass(frozen=True, kw_only=True)
class ScanAssessment:
    """What the RECIST rules read at each scan (one entry per scan, every column one length)."""

    #: target lesions: SLD, baseline SLD and nadir (mm, NaN when not evaluable); every target gone
    sld_mm: Column
    baseline_sld_mm: Column
    nadir_mm: Column
    targets_cr: Column
    #: sum over the baseline targets measured (mm; None: take ``sld_mm``), counts of baseline
    #: targets and of those measured (for the reason of PD on measured lesions)
    sld_measured_mm: Column | None
    n_targets_expected: Column
    n_targets_measured: Column
    #: no target lesion at baseline (None: the scan table does not say)
    no_targets: Column | None
    #: non-target lesions: unequivocal progression, all gone, counts expected and assessed
    non_target_pd: Column
    non_target_cr: Column
    n_non_targets_expected: Column
    n_non_targets_assessed: Column
    #: any new lesion (nullable boolean)
    new_lesion: Column
    #: why the SLD is not evaluable (text per scan; read at target NE)
    sld_reason: Column


@dataclass(frozen=True)
class ScanResponses:
    """RECIST responses of :class:`ScanAssessment` scans (object arrays sharing their labels)."""

    target_response: np.ndarray
    non_target_response: np.ndarray
    overall_response: np.ndarray
    response_reason: np.ndarray


def scan_responses(scans: ScanAssessment) -> ScanResponses:
    """Target, non-target and overall response and the reason of many scans at once (with
    :func:`measured_pd_reason` as the target-PD reason), as :func:`target_response`,
    :func:`non_target_response`, :func:`overall_response` and :func:`response_reason` give them
    (fresh object arrays), computed on label codes: no object array is read back."""
    target = _target_codes(
        scans.sld_mm,
        scans.baseline_sld_mm,
        scans.nadir_mm,
        targets_cr=scans.targets_cr,
        sld_measured=scans.sld_measured_mm,
        no_targets=scans.no_targets,
    )
    non_target = _non_target_codes(
        scans.non_target_pd,
        scans.non_target_cr,
        n_expected=scans.n_non_targets_expected,
        n_assessed=scans.n_non_targets_assessed,
    )
    new_lesion = bool_na(scans.new_lesion)
    overall = _overall_codes(target, non_target, new_lesion[0])
    key = _reason_key(target, non_target, overall == _OVERALL["PD"], new_lesion=new_lesion)
    sld = np.asarray(scans.sld_mm, dtype=float)
    measured_pd = np.flatnonzero((target == _TARGET["PD"]) & np.isnan(sld))
    measured_pd_texts = _measured_pd_texts(
        measured_pd, n_expected=scans.n_targets_expected, n_measured=scans.n_targets_measured
    )
    reason = _reason_texts(
        key, target, sld_reason=scans.sld_reason, pd_rows=measured_pd, pd_texts=measured_pd_texts
    )
    return ScanResponses(
        target_response=_TARGET_LEVELS[target],
        non_target_response=_NON_TARGET_LEVELS[non_target],
        overall_response=_OVERALL_LEVELS[overall],
        response_reason=reason,
    )


# ------------------------------------------------------------------ responses of a scan table


@dataclass(frozen=True)
class _OnTreatmentScans:
    """The on-treatment scans of a scan table (patient, then date order) with their RECIST
    references: baseline SLD and nadir in mm (NaN when there is none or it is not evaluable)."""

    table: pd.DataFrame  # the scan table's rows
    sld_mm: np.ndarray
    has_baseline: np.ndarray
    baseline_sld_mm: np.ndarray
    baseline_reason: np.ndarray  # ``sld_reason`` of the baseline scan (None without one)
    nadir_mm: np.ndarray


def _on_treatment_scans(scans: pd.DataFrame) -> _OnTreatmentScans:
    """The on-treatment scans of :func:`hpd_analysis.timepoints.scan_table`, each with the SLD of
    its patient's baseline and the nadir: the smallest evaluable SLD from baseline to the previous
    on-treatment scan (a baseline that is not evaluable makes every later scan target-NE, so no
    nadir then). The pre-baseline scan never counts."""
    role = scans["role"].to_numpy(dtype=object)
    rows = np.flatnonzero((role == "baseline") | (role == "on_treatment"))
    patient = patient_codes(scans["patient_id"].to_numpy()[rows])
    dates = scans["assessment_date"].to_numpy(dtype="datetime64[ns]")[rows].view("int64")
    is_baseline = role[rows] == "baseline"
    # stable order: patient (first appearance), then date, baseline first on the same date
    order = sorted_order(patient, dates, (~is_baseline).astype(np.int64))
    rows, patient, is_baseline = rows[order], patient[order], is_baseline[order]
    s = scans.iloc[rows]
    sld = s["sld_mm"].to_numpy(dtype=float)
    starts = group_starts(patient)
    # the baseline, when present, is the first row of its patient (earliest date)
    first = np.flatnonzero(starts)[np.cumsum(starts, dtype=np.intp) - 1]
    has_baseline = is_baseline[first]
    baseline = np.where(has_baseline, sld[first], np.nan)
    baseline_reason = np.where(has_baseline, s["sld_reason"].to_numpy(dtype=object)[first], None)
    smallest_before = min_before(np.where(np.isnan(sld), np.inf, sld), starts)
    nadir = np.where(np.isinf(smallest_before) | np.isnan(baseline), np.nan, smallest_before)
    on = np.flatnonzero(~is_baseline)
    return _OnTreatmentScans(
        table=s.iloc[on],
        sld_mm=sld[on],
        has_baseline=has_baseline[on],
        baseline_sld_mm=baseline[on],
        baseline_reason=baseline_reason[on],
        nadir_mm=nadir[on],
    )


def _sld_reasons(scans: _OnTreatmentScans) -> np.ndarray:
    """Why each scan's SLD is not evaluable: its own reason, or no baseline scan, or the baseline
    SLD not evaluable (with the baseline's reason)."""
    reason = scans.table["sld_reason"].to_numpy(dtype=object).copy()
    reason[~scans.has_baseline] = "no baseline scan"
    bad = scans.has_baseline & np.isnan(scans.baseline_sld_mm)
    baseline_reason = pd.Series(scans.baseline_reason[bad], dtype=object).fillna("not given")
    reason[bad] = "baseline SLD not evaluable (" + baseline_reason.astype(str).to_numpy() + ")"
    return reason


def _new_lesion_flag(new_lesions: pd.Series) -> pd.arrays.BooleanArray:
    """Any new lesion (count > 0); NA when the count is not given."""
    count = pd.array(new_lesions, dtype="Float64")
    flag = as_boolean(np.asarray(count.fillna(0)) > 0)
    flag[np.asarray(count.isna())] = pd.NA
    return flag


def _float_col(table: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric (possibly nullable) column as float (NaN = unknown); all NaN when absent."""
    if name not in table.columns:
        return np.full(len(table), np.nan)
    return np.asarray(pd.array(table[name], dtype="Float64").to_numpy(dtype=float, na_value=np.nan))


def recist_responses(scans: pd.DataFrame) -> pd.DataFrame:
    """RECIST 1.1 response of every on-treatment scan of :func:`hpd_analysis.timepoints.scan_table`.

    One row per scan with ``role == 'on_treatment'``, sorted like ``scans``. Columns
    :data:`RESPONSE_COLUMNS`: SLD, baseline SLD and nadir in mm; ``sld_measured_mm`` the sum over
    the baseline targets measured at the scan (mm; equals ``sld_mm`` on a complete scan, taken as
    ``sld_mm`` when the scan table has no such column); ``pct_change_baseline`` and
    ``pct_change_nadir`` in % (NaN when the reference is 0 mm or the SLD is incomplete);
    ``nadir_mm`` is the smallest evaluable SLD from baseline to the previous on-treatment scan
    (the PD reference of this scan; complete scans only); ``day`` in days from treatment start.
    Vectorized: cumulative minimum within patient for the nadir.
    """
    on = _on_treatment_scans(scans)
    s = on.table
    sld = on.sld_mm
    sld_measured = (
        s["sld_measured_mm"].to_numpy(dtype=float) if "sld_measured_mm" in s.columns else sld.copy()
    )
    n_targets_expected = _float_col(s, "n_targets_expected")
    new_lesion = _new_lesion_flag(s["new_lesions"])
    responses = scan_responses(
        ScanAssessment(
            sld_mm=sld,
            baseline_sld_mm=on.baseline_sld_mm,
            nadir_mm=on.nadir_mm,
            targets_cr=s["targets_cr"].to_numpy(),
            sld_measured_mm=sld_measured,
            n_targets_expected=n_targets_expected,
            n_targets_measured=_float_col(s, "n_targets_measured"),
            no_targets=on.has_baseline & (n_targets_expected == 0),
            non_target_pd=s["non_target_pd"],
            non_target_cr=s["non_target_cr"],
            n_non_targets_expected=s["n_non_targets_expected"],
            n_non_targets_assessed=s["n_non_targets_assessed"],
            new_lesion=new_lesion,
            sld_reason=_sld_reasons(on),
        )
    )
    return _response_table(
        on, sld_measured=sld_measured, new_lesion=new_lesion, responses=responses
    )


def _response_table(
    on: _OnTreatmentScans,
    *,
    sld_measured: np.ndarray,
    new_lesion: pd.arrays.BooleanArray,
    responses: ScanResponses,
) -> pd.DataFrame:
    """The table of :func:`recist_responses`: SLD changes vs baseline and nadir beside the
    responses."""
    s = on.table
    sld, baseline, nadir = on.sld_mm, on.baseline_sld_mm, on.nadir_mm
    with np.errstate(invalid="ignore", divide="ignore"):
        change_baseline = sld - baseline
        pct_baseline = np.where(baseline > 0, 100.0 * change_baseline / baseline, np.nan)
        change_nadir = sld - nadir
        # undefined (NaN) when the nadir is 0 mm, as in admiralonco's PCHGNAD; PD still applies
        pct_nadir = np.where(nadir > 0, 100.0 * change_nadir / nadir, np.nan)
    out = pd.DataFrame(
        {
            "patient_id": s["patient_id"].to_numpy(),
            "assessment_date": s["assessment_date"].to_numpy(),
            "day": s["day"].to_numpy(dtype=float),
            "is_first_eval": s["is_first_eval"].to_numpy(dtype=bool),
            "sld_mm": sld,
            "sld_measured_mm": sld_measured,
            "baseline_sld_mm": baseline,
            "nadir_mm": nadir,
            "change_baseline_mm": change_baseline,
            "pct_change_baseline": pct_baseline,
            "change_nadir_mm": change_nadir,
            "pct_change_nadir": pct_nadir,
            "target_response": responses.target_response,
            "non_target_response": responses.non_target_response,
            "new_lesion": new_lesion,
            "overall_response": responses.overall_response,
            "response_reason": responses.response_reason,
            "new_lesions": s["new_lesions"].to_numpy(),
            "new_lesions_first_seen": s["new_lesions_first_seen"].to_numpy(),
            "new_lesion_sum_mm": s["new_lesion_sum_mm"].to_numpy(dtype=float),
            "non_target_pd": s["non_target_pd"].to_numpy(),
        },
        index=pd.RangeIndex(len(s)),
    )
    out["new_lesions"] = out["new_lesions"].astype("Int64")
    out["new_lesions_first_seen"] = out["new_lesions_first_seen"].astype("Int64")
    out["non_target_pd"] = out["non_target_pd"].astype("boolean")
    return out[RESPONSE_COLUMNS]


def _in_patient_date_order(r: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by patient (first appearance) and sorted by date; adds ``_pcode`` (patient
    code) and ``_d`` (calendar days: windows do not need a start date)."""
    pc = patient_codes(r["patient_id"].to_numpy())
    dates = r["assessment_date"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = sorted_order(pc, dates)
    out = r.iloc[order].reset_index(drop=True)
    out["_pcode"] = pc[order]
    out["_d"] = dates[order] / NS_PER_DAY
    return out


def _with_all_patients(table: pd.DataFrame, patient_ids: pd.Series | None) -> pd.DataFrame:
    """``table`` (one row per patient) with a row for each of ``patient_ids``, in that order
    (columns missing for a patient absent from the table)."""
    if patient_ids is None:
        return table
    ids = pd.Series(patient_ids).to_numpy()
    have = table["patient_id"].to_numpy()
    if len(ids) == len(have) and np.array_equal(ids, have):
        return table.reset_index(drop=True)
    pos = pd.Index(have).get_indexer(ids)  # table ids are unique by construction
    if len(table) == 0:
        out = table.reindex(range(len(ids))).reset_index(drop=True)
    else:
        out = table.iloc[np.where(pos >= 0, pos, 0)].reset_index(drop=True)
    out["patient_id"] = ids
    miss = pos < 0
    if miss.any():
        for c in out.columns:
            if c != "patient_id":
                out[c] = out[c].where(~miss)
    return out


# ------------------------------------------------------------------ best overall response


def best_overall_response(
    responses: pd.DataFrame,
    *,
    patient_ids: pd.Series | None = None,
    sd_min_days: float = 42.0,
    confirm: bool = False,
    confirm_min_days: float = 28.0,
) -> pd.DataFrame:
    """Best overall response (BOR) per patient from :func:`recist_responses`.

    - Scans after the first PD never count: the BOR is the best response recorded until
      progression (RECIST 1.1; admiralonco restricts to the first PD the same way), so a PD
      followed by SD reads PD.
    - ``SD`` counts only at a scan at least ``sd_min_days`` days (default 42 = 6 weeks) after
      treatment start; an earlier SD gives ``PD`` when a PD follows, otherwise ``NE``.
      ``NON-CR/NON-PD`` (no target lesion at baseline) follows the same minimum duration and
      ranks between SD and PD (order CR, PR, SD, NON-CR/NON-PD, PD, NE as admiralonco).
    - ``confirm=False`` (default): CR/PR need no confirmation. ``confirm=True``: a CR needs a CR,
      and a PR a CR or PR, at a later scan >= ``confirm_min_days`` days after it with no PD in
      between; an unconfirmed CR/PR counts as SD (if it meets ``sd_min_days``), and an
      unconfirmed CR of a scan without target lesions (``target_response == 'none'``, when that
      column is given) as NON-CR/NON-PD.
    - ``patient_ids``: every patient to report (in this order); a patient without an on-treatment
      scan gets ``NE`` with a reason.

    Returns ``patient_id, bor, bor_date, bor_day, n_on_treatment_scans, bor_reason``.
    """
    cols = ["patient_id", "assessment_date", "day", "overall_response"]
    has_target = "target_response" in responses.columns
    r = _in_patient_date_order(responses[cols + (["target_response"] if has_target else [])])
    recorded = r["overall_response"].to_numpy(dtype=object)
    patient = r["_pcode"].to_numpy()
    response = recorded.copy()
    if confirm:
        no_target = (
            r["target_response"].to_numpy(dtype=object) == "none"
            if has_target
            else np.zeros(len(r), dtype=bool)
        )
        confirmed = confirmed_responses(
            recorded, patient=patient, day=r["_d"].to_numpy(), confirm_min_days=confirm_min_days
        )
        unconfirmed = np.isin(recorded, ["CR", "PR"]) & ~confirmed
        stable = np.where(no_target, NON_CR_NON_PD, "SD")
        response = np.where(unconfirmed, stable, recorded).astype(object)
    # scans after the first PD of the patient never count (RECIST: best response until PD)
    after_pd = after_first(recorded == "PD", patient)
    too_early = _stable_too_early(
        response, day=r["day"].to_numpy(dtype=float), sd_min_days=sd_min_days
    )
    too_early &= ~after_pd
    return _bor_table(
        r,
        response=response,
        too_early=too_early,
        counted=~after_pd,
        patient_ids=patient_ids,
        sd_min_days=sd_min_days,
    )


def confirmed_responses(
    response: np.ndarray, *, patient: np.ndarray, day: np.ndarray, confirm_min_days: float
) -> np.ndarray:
    """True at each CR confirmed by a later CR, and each PR by a later CR or PR: the first such
    scan of the patient at least ``confirm_min_days`` days later comes before the patient's next
    PD (rows in patient and date order; ``day`` in days)."""
    next_pd = min_after(np.where(response == "PD", day, np.inf), patient)
    confirmed = np.zeros(len(response), dtype=bool)
    for to_confirm, confirming in (("CR", ["CR"]), ("PR", ["CR", "PR"])):
        rows = np.flatnonzero(response == to_confirm)
        if not len(rows):
            continue
        candidates = np.flatnonzero(np.isin(response, confirming))
        found = first_at_or_after(
            patient[rows],
            day[rows] + confirm_min_days,
            patient[candidates],
            candidate_time=day[candidates],
        )
        confirm_day = np.where(found >= 0, day[candidates][np.maximum(found, 0)], np.nan)
        confirmed[rows] = (found >= 0) & (confirm_day < next_pd[rows])
    return confirmed


def _stable_too_early(response: np.ndarray, *, day: np.ndarray, sd_min_days: float) -> np.ndarray:
    """SD or NON-CR/NON-PD before ``sd_min_days`` (days from treatment start): not yet counted."""
    stable = (response == "SD") | (response == NON_CR_NON_PD)
    return stable & ~(day >= sd_min_days - EPS)


def _bor_table(
    r: pd.DataFrame,
    *,
    response: np.ndarray,
    too_early: np.ndarray,
    counted: np.ndarray,
    patient_ids: pd.Series | None,
    sd_min_days: float,
) -> pd.DataFrame:
    """The best ``response`` among the ``counted`` scans of each patient (a stable response
    ``too_early`` ranks as NE; earliest scan on ties), with its reason."""
    patient = r["_pcode"].to_numpy()
    ranked = np.where(too_early, "NE_SD", response)
    rank = pd.Series(ranked).map({**RESPONSE_RANK, "NE_SD": RESPONSE_RANK["NE"]}).to_numpy()
    rank = np.where(counted, rank, len(RESPONSE_RANK) + 1)
    best = best_per_group(rank, patient)
    g = r.iloc[best]
    n_patients = int(patient.max()) + 1 if len(patient) else 0
    bor = ranked[best].astype(object)
    bor = np.where(bor == "NE_SD", "NE", bor).astype(object)
    early_ncnp = too_early & (response == NON_CR_NON_PD)
    out = pd.DataFrame(
        {
            "patient_id": g["patient_id"].to_numpy(),
            "bor": bor,
            "bor_date": g["assessment_date"].to_numpy(),
            "bor_day": g["day"].to_numpy(dtype=float),
            "n_on_treatment_scans": np.bincount(patient, minlength=n_patients),
            "bor_reason": _bor_reasons(
                bor,
                any_early=np.bincount(patient[too_early], minlength=n_patients) > 0,
                early_ncnp=np.bincount(patient[early_ncnp], minlength=n_patients) > 0,
                sd_min_days=sd_min_days,
            ),
        }
    )
    out = _with_all_patients(out, patient_ids)
    miss = out["bor"].isna()
    out.loc[miss, "bor"] = "NE"
    out.loc[miss, "bor_reason"] = "no on-treatment scan"
    out["n_on_treatment_scans"] = out["n_on_treatment_scans"].fillna(0).astype("int64")
    return out


def _bor_reasons(
    bor: np.ndarray, *, any_early: np.ndarray, early_ncnp: np.ndarray, sd_min_days: float
) -> np.ndarray:
    """Reason of a BOR of NE or PD (None otherwise), per patient: a stable response before
    ``sd_min_days`` (``any_early``; NON-CR/NON-PD when ``early_ncnp``, SD otherwise), or no
    evaluable response at all."""
    too_early = f" before day {sd_min_days:g} (SD minimum duration)"
    label = np.where(early_ncnp, NON_CR_NON_PD, "SD")
    reason = np.full(len(bor), None, dtype=object)
    m = (bor == "NE") & any_early
    reason[m] = np.where(
        label[m] == "SD",
        f"stable disease only{too_early}, no later response",
        f"{NON_CR_NON_PD} only{too_early}, no later response",
    )
    reason[(bor == "NE") & ~any_early] = "every on-treatment response not evaluable"
    m = (bor == "PD") & any_early
    reason[m] = label[m].astype(object) + f"{too_early} followed by PD"
    return reason


# ------------------------------------------------------------------ iRECIST


#: iCPD criteria at the confirmatory scan (Seymour et al. 2017), in the order the reason names them
ICPD_CRITERIA = (
    "target SLD +>=5 mm since iUPD",
    "new-lesion sum +>=5 mm",
    "another new lesion",
    "non-target progression",
)

#: later responses that make an unconfirmed iUPD a pseudoprogression
PSEUDOPROGRESSION_RESPONSES = ("SD", "PR", "CR", NON_CR_NON_PD)


def irecist(
    responses: pd.DataFrame,
    confirm_min_days: float = 28.0,
    confirm_max_days: float = 56.0,
    *,
    patient_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """iRECIST confirmation of the first RECIST progression, per patient.

    The first scan with overall response PD is the unconfirmed progression (iUPD). The
    confirmatory scan is the first scan at least ``confirm_min_days`` (28) days after iUPD; it must
    be at most ``confirm_max_days`` (56) days after it. Progression is confirmed (iCPD) when that
    scan shows any of: target SLD >= 5 mm above the iUPD SLD; new-lesion diameter sum >= 5 mm above
    the iUPD one (when measured); another new lesion (first seen at that scan); unequivocal
    non-target progression. Only that one confirmatory scan is read (a still-unconfirmed iUPD is
    not carried to later scans). ``pseudoprogression``: iUPD not confirmed and a later scan reads
    SD, PR, CR or NON-CR/NON-PD. An iUPD on the measured lesions of an incomplete scan (SLD
    unknown) cannot be confirmed by the SLD criterion (no reference sum); the other criteria apply.

    Returns ``patient_id, iupd_date, iupd_day, confirm_date, confirm_day, icpd, pseudoprogression,
    irecist_reason`` (days from treatment start; ``icpd`` NA when there is no iUPD or no
    confirmatory scan).
    """
    r = _in_patient_date_order(
        responses[
            [
                "patient_id",
                "assessment_date",
                "day",
                "overall_response",
                "sld_mm",
                "new_lesion_sum_mm",
                "new_lesions_first_seen",
                "non_target_pd",
            ]
        ]
    )
    scans = _confirmatory_scans(_first_progression(r), r, confirm_min_days=confirm_min_days)
    # the confirmatory scan: the first >= confirm_min_days after iUPD, if <= confirm_max_days
    found = scans["_d"].notna().to_numpy()
    in_window = (scans["_d"] - scans["_d0"] <= confirm_max_days + EPS).to_numpy()
    confirmatory = found & in_window
    criteria = icpd_criteria(scans)
    icpd = pd.array(np.where(confirmatory, criteria.any(), False), dtype="boolean")
    icpd[~confirmatory] = pd.NA
    reason = _irecist_reasons(
        criteria,
        found=found,
        confirmatory=confirmatory,
        confirm_min_days=confirm_min_days,
        confirm_max_days=confirm_max_days,
    )
    pseudoprogression = _later_response(r, scans) & ~np.asarray(icpd.fillna(False), dtype=bool)
    reason[pseudoprogression] = (
        reason[pseudoprogression] + "; later SD/PR/CR/NON-CR/NON-PD: pseudoprogression"
    )
    per_iupd = pd.DataFrame(
        {
            "_pcode": scans["_pcode"],
            "iupd_date": scans["iupd_date"],
            "iupd_day": scans["iupd_day"],
            "confirm_date": scans["confirm_date"].where(confirmatory),
            "confirm_day": scans["confirm_day"].where(confirmatory),
            "icpd": icpd,
            "pseudoprogression": pseudoprogression,
            "irecist_reason": reason,
        },
        index=scans.index,
    )
    return _irecist_table(r, per_iupd, patient_ids=patient_ids)


def _first_progression(r: pd.DataFrame) -> pd.DataFrame:
    """The iUPD of each patient with one: the first scan of overall response PD (``_pcode``,
    ``iupd_date``, ``iupd_day``, calendar day ``_d0``, SLD ``_sld0`` and new-lesion sum
    ``_nls0`` in mm); rows of :func:`_in_patient_date_order`."""
    first_pd = r[(r["overall_response"] == "PD").to_numpy()].drop_duplicates("_pcode")
    columns = {
        "_pcode": "_pcode",
        "assessment_date": "iupd_date",
        "day": "iupd_day",
        "_d": "_d0",
        "sld_mm": "_sld0",
        "new_lesion_sum_mm": "_nls0",
    }
    return first_pd[list(columns)].rename(columns=columns).reset_index(drop=True)


def _confirmatory_scans(
    iupd: pd.DataFrame, r: pd.DataFrame, *, confirm_min_days: float
) -> pd.DataFrame:
    """``iupd`` beside the first scan of the same patient at least ``confirm_min_days`` days
    after it (missing values when there is none): ``confirm_date``, ``confirm_day``, ``_d``,
    ``sld_mm``, ``new_lesion_sum_mm``, ``new_lesions_first_seen``, ``non_target_pd``."""
    found = first_at_or_after(
        iupd["_pcode"].to_numpy(),
        (iupd["_d0"] + confirm_min_days).to_numpy(),
        r["_pcode"].to_numpy(),
        candidate_time=r["_d"].to_numpy(),
    )
    columns = {
        "day": "confirm_day",
        "_d": "_d",
        "assessment_date": "confirm_date",
        "sld_mm": "sld_mm",
        "new_lesion_sum_mm": "new_lesion_sum_mm",
        "new_lesions_first_seen": "new_lesions_first_seen",
        "non_target_pd": "non_target_pd",
    }
    scan = r[list(columns)].rename(columns=columns).reindex(found)  # -1: no such scan
    return pd.concat([iupd, scan.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class ICPDCriteria:
    """The iCPD criteria met at each confirmatory scan (Seymour et al. 2017), in the order of
    :data:`ICPD_CRITERIA`."""

    target_sld: np.ndarray  #: target SLD >= 5 mm above the iUPD SLD
    new_lesion_sum: np.ndarray  #: new-lesion diameter sum >= 5 mm above the iUPD one
    another_new_lesion: np.ndarray  #: a new lesion first seen at that scan
    non_target_progression: np.ndarray  #: unequivocal non-target progression

    def flags(self) -> list[np.ndarray]:
        """The criteria in the order of :data:`ICPD_CRITERIA`."""
        return [
            self.target_sld,
            self.new_lesion_sum,
            self.another_new_lesion,
            self.non_target_progression,
        ]

    def any(self) -> np.ndarray:
        """Progression confirmed: any criterion met."""
        return (
            self.target_sld
            | self.new_lesion_sum
            | self.another_new_lesion
            | (self.non_target_progression)
        )


def icpd_criteria(scans: pd.DataFrame) -> ICPDCriteria:
    """The iCPD criteria of :func:`_confirmatory_scans` rows (mm; NaN never meets one)."""
    with np.errstate(invalid="ignore"):
        target_sld = (scans["sld_mm"] - scans["_sld0"]).to_numpy(dtype=float) >= 5.0 - EPS
        new_sum = (scans["new_lesion_sum_mm"] - scans["_nls0"]).to_numpy(dtype=float) >= 5.0 - EPS
    first_seen = pd.array(scans["new_lesions_first_seen"], dtype="Float64").fillna(0)
    non_target = pd.array(scans["non_target_pd"], dtype="boolean").fillna(False)
    return ICPDCriteria(
        target_sld=target_sld,
        new_lesion_sum=new_sum,
        another_new_lesion=np.asarray(first_seen) > 0,
        non_target_progression=np.asarray(non_target, dtype=bool),
    )


def _irecist_reasons(
    criteria: ICPDCriteria,
    *,
    found: np.ndarray,
    confirmatory: np.ndarray,
    confirm_min_days: float,
    confirm_max_days: float,
) -> np.ndarray:
    """Reason of each iUPD's course: the iCPD criteria met, not confirmed, or no confirmatory
    scan (``found``: a scan at least ``confirm_min_days`` later; ``confirmatory``: and in the
    window)."""
    met = "iCPD: " + join_flagged(criteria.flags(), ICPD_CRITERIA)
    not_met = "iUPD not confirmed at the next scan (no further progression)"
    none_later = f"no scan at least {confirm_min_days:g} days after iUPD (unconfirmable)"
    too_late = (
        f"no scan {confirm_min_days:g}-{confirm_max_days:g} days after iUPD "
        "(next scan later; unconfirmable)"
    )
    return np.where(
        confirmatory,
        np.where(criteria.any(), met, not_met),
        np.where(~found, none_later, too_late),
    ).astype(object)


def _later_response(r: pd.DataFrame, iupd: pd.DataFrame) -> np.ndarray:
    """Per iUPD row: a later scan of the patient reads SD, PR, CR or NON-CR/NON-PD."""
    rr = r.merge(iupd[["_pcode", "_d0"]], on="_pcode", how="inner")
    later = (rr["_d"] > rr["_d0"]) & rr["overall_response"].isin(PSEUDOPROGRESSION_RESPONSES)
    by_patient = later.groupby(rr["_pcode"]).max()
    return iupd["_pcode"].map(by_patient).fillna(False).astype(bool).to_numpy()


def _irecist_table(
    r: pd.DataFrame, per_iupd: pd.DataFrame, *, patient_ids: pd.Series | None
) -> pd.DataFrame:
    """The table of :func:`irecist`: one row per patient of ``r`` (or of ``patient_ids``), the
    course of its iUPD or why there is none."""
    pids = r.drop_duplicates("_pcode")[["_pcode", "patient_id"]].reset_index(drop=True)
    out = pids.merge(per_iupd, on="_pcode", how="left")
    no_pd = out["iupd_date"].isna()
    out["pseudoprogression"] = out["pseudoprogression"].astype("boolean").fillna(False).astype(bool)
    out["icpd"] = out["icpd"].astype("boolean")
    out.loc[no_pd, "irecist_reason"] = "no RECIST progression (no iUPD)"
    out = out.drop(columns="_pcode")
    out = _with_all_patients(out, patient_ids)
    miss = out["irecist_reason"].isna()
    out.loc[miss, "irecist_reason"] = "no on-treatment scan"
    out["pseudoprogression"] = out["pseudoprogression"].astype("boolean").fillna(False).astype(bool)
    return out
