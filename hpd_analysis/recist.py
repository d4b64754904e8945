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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import NS_PER_DAY

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


def concat_text(*parts: str | np.ndarray) -> np.ndarray:
    """Row-wise ``part_1 + part_2 + ...`` of str constants and object arrays (same length).

    Same result as the ``+`` of object arrays, but each distinct row text is built once and
    shared: no per-row string objects for millions of rows with a few distinct reasons.
    """
    arrays = [np.asarray(p, dtype=object) for p in parts if not isinstance(p, str)]
    if not arrays:
        raise ValueError("concat_text needs at least one array")
    if not len(arrays[0]):
        return np.empty(0, dtype=object)
    coded = iter([_text_codes(a) for a in arrays])
    return _concat_coded(*[p if isinstance(p, str) else next(coded) for p in parts])


def _text_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, use_na_sentinel=False)`` of an object array (no missing-value pass
    when every value is a str, the common case: the codes are the same then)."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return pd.factorize(values)
    return pd.factorize(values, use_na_sentinel=False)


def _concat_coded(*parts: str | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """:func:`concat_text` of str constants and coded object arrays ``(codes, values)`` (row
    ``i`` of such a part is ``values[codes[i]]``; codes >= 0, not necessarily all used)."""
    coded = [
        (c, np.asarray(u, dtype=object)) for c, u in (p for p in parts if not isinstance(p, str))
    ]
    n = len(coded[0][0])
    key = coded[0][0]
    for c, u in coded[1:]:
        # codes of the distinct combinations so far, in order of first appearance
        key = pd.factorize(key * max(len(u), 1) + c)[0]
    k = int(key.max()) + 1 if n else 0
    first = np.zeros(k, dtype=np.int64)
    first[key[::-1]] = np.arange(n - 1, -1, -1)
    # the k distinct row texts, concatenated part by part as object arrays of length k
    vals = iter([u[c[first]] for c, u in coded])
    text = None
    for p in parts:
        v = p if isinstance(p, str) else next(vals)
        text = v if text is None else text + v
    return text[key]


def _select_labels(conds: list[np.ndarray], labels: list[str], default: str) -> np.ndarray:
    """``np.select(conds, labels, default)`` as an object array whose rows share the few label
    strings (no per-row string objects: fast and small for millions of rows)."""
    idx = np.full(len(conds[0]), len(labels), dtype=np.int8)
    for k in range(len(conds) - 1, -1, -1):  # the first matching condition wins
        np.putmask(idx, conds[k], k)
    return np.array([*labels, default], dtype=object)[idx]


def _select_codes(conds: list[np.ndarray], codes: list[int], default: int) -> np.ndarray:
    """``np.select(conds, codes, default)`` as small integers (int8)."""
    out = np.full(len(conds[0]), default, dtype=np.int8)
    for k in range(len(conds) - 1, -1, -1):  # the first matching condition wins
        np.putmask(out, conds[k], codes[k])
    return out


#: labels of :func:`target_response`, :func:`non_target_response` and :func:`overall_response`
#: (the rules run on their codes, positions in these tuples)
TARGET_LABELS = ("CR", "PR", "SD", "PD", "NE", "none")
NON_TARGET_LABELS = ("PD", "CR", "non-CR/non-PD", "NE", "non-PD", "none")
OVERALL_LABELS = tuple(RESPONSE_RANK)

_T = {label: k for k, label in enumerate(TARGET_LABELS)}
_NT = {label: k for k, label in enumerate(NON_TARGET_LABELS)}
_OVR_PD = OVERALL_LABELS.index("PD")


def _label_codes(values: object, labels: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``labels``; ``len(labels)`` for any other value (NA included).

    One hash pass over the rows (instead of one string comparison per row and label), then the
    few distinct values are looked up."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    lookup = np.append(pd.Index(labels).get_indexer(uniques), -1)  # code -1 (NA) -> last
    lookup[lookup < 0] = len(labels)
    return lookup[codes]


def _level_values(labels: tuple[str, ...]) -> np.ndarray:
    """The value of each code of :func:`_label_codes` (None standing for any other value);
    read-only (the label arrays are taken from it)."""
    out = np.array([*labels, None], dtype=object)
    out.flags.writeable = False
    return out


_TARGET_LEVELS = _level_values(TARGET_LABELS)
_NON_TARGET_LEVELS = _level_values(NON_TARGET_LABELS)
_OVERALL_LEVELS = _level_values(OVERALL_LABELS)


def _unwrap(values: object) -> object:
    """A Series' values without conversion (numpy array or extension array); others as given."""
    if isinstance(values, pd.Series):
        return (
            values.array
            if isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
            else values.to_numpy()
        )
    return values


def _bool_na(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Nullable boolean values as ``(values with NA read as False, NA mask)`` numpy arrays
    (fast path for numpy bool arrays and BooleanArrays, as Series or not)."""
    values = _unwrap(values)
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return values, np.zeros(len(values), dtype=bool)
    if not isinstance(values, pd.arrays.BooleanArray):
        values = pd.array(values, dtype="boolean")
    return values.to_numpy(dtype=bool, na_value=False), values.isna()


def _float_na(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Nullable numbers as ``(float values with NA read as 0, NA mask)`` numpy arrays; NaN of a
    numpy float array is NA (as ``pd.array(values, dtype="Float64")`` reads it)."""
    values = _unwrap(values)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        na = np.isnan(values)
        return np.where(na, 0.0, values), na
    if not isinstance(values, pd.arrays.FloatingArray | pd.arrays.IntegerArray):
        values = pd.array(values, dtype="Float64")
    return values.to_numpy(dtype=float, na_value=0.0), values.isna()


def target_response(
    sld: np.ndarray,
    baseline: np.ndarray,
    nadir: np.ndarray,
    targets_cr: np.ndarray,
    sld_measured: np.ndarray | None = None,
    no_targets: np.ndarray | None = None,
) -> np.ndarray:
    """RECIST 1.1 target response per scan (``CR``/``PR``/``SD``/``PD``/``NE``/``none``).

    ``sld``, ``baseline`` and ``nadir`` in mm (NaN when not evaluable); ``targets_cr`` boolean
    (every non-nodal target 0 mm, nodes < 10 mm); ``nadir`` is the smallest evaluable SLD before
    this scan, baseline included. ``sld_measured`` (mm, optional): sum over the baseline targets
    measured at the scan; where ``sld`` is NaN (a target not assessed) and this partial sum already
    rises >= 20 % and >= 5 mm over the nadir, the response is ``PD``. ``no_targets`` (boolean,
    optional): no target lesion at baseline, giving ``none``.
    """
    return _TARGET_LEVELS[_target_codes(sld, baseline, nadir, targets_cr, sld_measured, no_targets)]


def _target_codes(
    sld: object,
    baseline: object,
    nadir: object,
    targets_cr: object,
    sld_measured: object | None,
    no_targets: object | None,
) -> np.ndarray:
    """:func:`target_response` as codes (positions in :data:`TARGET_LABELS`)."""
    sld = np.asarray(sld, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    nadir = np.asarray(nadir, dtype=float)
    cr = _bool_na(targets_cr)[0]
    ok = ~np.isnan(sld) & ~np.isnan(baseline)
    nad = np.where(np.isnan(nadir), baseline, nadir)
    pd_ = meets_pd(sld, nad) & ok
    if sld_measured is not None:
        part = np.asarray(sld_measured, dtype=float)
        pd_ |= np.isnan(sld) & ~np.isnan(baseline) & meets_pd(part, nad)
    with np.errstate(invalid="ignore"):
        pr = ok & (sld - baseline <= -0.3 * baseline + EPS * np.maximum(baseline, 1.0))
    none = np.zeros(len(sld), dtype=bool) if no_targets is None else _bool_na(no_targets)[0]
    return _select_codes(
        [none, pd_, ~ok, cr & ok, pr],
        [_T["none"], _T["PD"], _T["NE"], _T["CR"], _T["PR"]],
        _T["SD"],
    )


def meets_pd(total: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """``total`` (mm) >= 20 % and >= 5 mm over ``nadir`` (mm), with tolerance; False for NaN."""
    with np.errstate(invalid="ignore"):
        rise = total - nadir
        return (rise >= 5.0 - EPS) & (rise >= 0.2 * nadir - EPS * np.maximum(nadir, 1.0))


def non_target_response(
    non_target_pd: pd.Series | np.ndarray,
    non_target_cr: pd.Series | np.ndarray,
    n_expected: pd.Series | np.ndarray,
    n_assessed: pd.Series | np.ndarray,
) -> np.ndarray:
    """Non-target response per scan (``PD``/``CR``/``non-CR/non-PD``/``non-PD``/``NE``/``none``).

    ``n_expected``/``n_assessed``: numbers of baseline non-target lesions and of those assessed at
    the scan; NA when the cohort gives per-scan sums only (then ``non_target_pd`` False reads
    ``non-PD``: progression excluded, complete disappearance unknown).
    """
    return _NON_TARGET_LEVELS[
        _non_target_codes(non_target_pd, non_target_cr, n_expected, n_assessed)
    ]


def _non_target_codes(
    non_target_pd: object, non_target_cr: object, n_expected: object, n_assessed: object
) -> np.ndarray:
    """:func:`non_target_response` as codes (positions in :data:`NON_TARGET_LABELS`)."""
    is_pd, pd_na = _bool_na(non_target_pd)
    ntcr = _bool_na(non_target_cr)[0]
    expv, exp_na = _float_na(n_expected)
    assv = _float_na(n_assessed)[0]
    conds = [
        is_pd,
        exp_na & ~pd_na,
        exp_na,
        expv == 0,
        ntcr,
        assv < expv,
    ]
    return _select_codes(
        conds,
        [_NT["PD"], _NT["non-PD"], _NT["NE"], _NT["none"], _NT["CR"], _NT["NE"]],
        _NT["non-CR/non-PD"],
    )


def overall_response(
    target: np.ndarray, non_target: np.ndarray, new_lesion: pd.Series | np.ndarray
) -> np.ndarray:
    """RECIST 1.1 overall response from target, non-target and new-lesion status (tables 1, 2).

    ``new_lesion`` is a nullable boolean; unknown is treated as 'no new lesion' (the caller reports
    that the response rests on incomplete information). Target ``none`` (no target lesion at
    baseline, table 2): ``CR`` when non-targets are gone, ``NON-CR/NON-PD`` when they persist,
    otherwise ``NE`` (unless PD).
    """
    return _OVERALL_LEVELS[
        _overall_codes(
            _label_codes(target, TARGET_LABELS),
            _label_codes(non_target, NON_TARGET_LABELS),
            _bool_na(new_lesion)[0],
        )
    ]


def _overall_rules(target: np.ndarray, non_target: np.ndarray, new: np.ndarray) -> np.ndarray:
    """:func:`overall_response` of label arrays (``new``: numpy bool)."""
    t_none = target == "none"
    conds = [
        (target == "PD") | (non_target == "PD") | new,
        target == "NE",
        t_none & (non_target == "CR"),
        t_none & (non_target == "non-CR/non-PD"),
        t_none,
        (target == "CR") & np.isin(non_target, ["CR", "none"]),
        np.isin(target, ["CR", "PR"]),
        target == "SD",
    ]
    return _select_labels(
        conds, ["PD", "NE", "CR", NON_CR_NON_PD, "NE", "CR", "PR", "SD"], default="NE"
    )


def _overall_table() -> np.ndarray:
    """Overall response code of every (target code, non-target code, new lesion) combination:
    the rules of :func:`_overall_rules` run once on the few combinations of labels."""
    sizes = (len(TARGET_LABELS) + 1, len(NON_TARGET_LABELS) + 1, 2)
    t, nt, new = np.indices(sizes).reshape(len(sizes), -1)
    labels = _overall_rules(_TARGET_LEVELS[t], _NON_TARGET_LEVELS[nt], new.astype(bool))
    out = _label_codes(labels, OVERALL_LABELS).astype(np.int8).reshape(sizes)
    out.flags.writeable = False
    return out


_OVERALL_CODES = _overall_table()


def _overall_codes(t_code: np.ndarray, nt_code: np.ndarray, new_true: np.ndarray) -> np.ndarray:
    """:func:`overall_response` of codes (``new_true``: numpy bool, NA read as False) as codes
    (positions in :data:`OVERALL_LABELS`)."""
    key = (t_code.astype(np.intp) * (len(NON_TARGET_LABELS) + 1) + nt_code) * 2 + new_true
    return _OVERALL_CODES.ravel()[key]


def as_boolean(values: object) -> pd.arrays.BooleanArray:
    """Values as a nullable BooleanArray (fast path for numpy bool arrays)."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    if isinstance(values, pd.Series) and values.dtype == bool:
        v = values.to_numpy()
        return pd.arrays.BooleanArray(v, np.zeros(len(v), dtype=bool))
    return pd.array(values, dtype="boolean")


_REASON_PARTS = (
    "target PD (SLD +>=20 % and +>=5 mm over the nadir)",
    "new lesion(s)",
    "unequivocal non-target progression",
    "all target lesions gone (nodes < 10 mm)",
    "target PR (SLD -30 % or more vs baseline)",
    "target SD",
    "no target lesion at baseline (non-target disease only)",
    "no target or non-target lesion at baseline",
    "all non-target lesions gone",
    "non-target lesion(s) present without unequivocal progression",
    "new lesions not given",
    "non-target status not given or not all assessed",
    "response from target SLD alone",
)


def response_reason(
    target: np.ndarray,
    non_target: np.ndarray,
    new_lesion: pd.Series | np.ndarray,
    overall: np.ndarray,
    sld_reason: pd.Series | np.ndarray,
    target_pd_reason: np.ndarray | None = None,
) -> np.ndarray:
    """Plain-language reason for each overall response: what made it PD, why it is NE (the SLD
    reason), and what was not given. Numbers are in the percentage columns, not repeated here.
    ``target_pd_reason`` (optional, text or None per row) replaces the default target-PD text, e.g.
    for PD on the measured lesions of an incomplete scan.
    """
    t_code = _label_codes(target, TARGET_LABELS)
    new_true, new_na = _bool_na(new_lesion)
    pd_rows = pd_texts = None
    if target_pd_reason is not None:
        alt = np.asarray(target_pd_reason, dtype=object)
        pd_rows = np.flatnonzero((t_code == _T["PD"]) & pd.notna(alt))
        pd_texts = _as_text(alt[pd_rows], "")
    return _reason_texts(
        t_code,
        _label_codes(non_target, NON_TARGET_LABELS),
        np.asarray(overall, dtype=object) == "PD",
        new_true,
        new_na,
        sld_reason,
        pd_rows,
        pd_texts,
    )


def _reason_key(
    t_code: np.ndarray,
    nt_code: np.ndarray,
    overall_pd: np.ndarray,
    new_true: np.ndarray,
    new_na: np.ndarray,
) -> np.ndarray:
    """Position of each row's combination in :data:`_REASON_BITS`."""
    key = t_code.astype(np.intp) * (len(NON_TARGET_LABELS) + 1) + nt_code
    return (key * 2 + overall_pd) * 3 + new_true + 2 * new_na


def _reason_texts(
    t_code: np.ndarray,
    nt_code: np.ndarray,
    overall_pd: np.ndarray,
    new_true: np.ndarray,
    new_na: np.ndarray,
    sld_reason: object,
    pd_rows: np.ndarray | None = None,
    pd_texts: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`response_reason` of codes: the texts are built once per combination of target,
    non-target, overall PD and new lesion, then expanded by code; ``pd_texts`` (str) replace
    the default target-PD text at the target-PD rows ``pd_rows``."""
    key = _reason_key(t_code, nt_code, overall_pd, new_true, new_na)
    texts = np.full(len(_REASON_BITS), "", dtype=object)
    present = np.flatnonzero(np.bincount(key, minlength=len(_REASON_BITS)))
    for u in present:
        bits = int(_REASON_BITS[u])
        texts[u] = "; ".join(t for k, t in enumerate(_REASON_PARTS) if (bits >> k) & 1)
    out = texts[key]
    if pd_rows is not None and len(pd_rows):
        # the default target-PD text starts the reason: replace it by the row's own
        rest = np.full(len(texts), "", dtype=object)
        rest[present] = [s[len(_REASON_PARTS[0]) :] for s in texts[present]]
        out[pd_rows] = pd_texts + rest[key[pd_rows]]
    t_ne = np.flatnonzero(t_code == _T["NE"])
    if len(t_ne):
        head = np.full(len(texts), "", dtype=object)
        head[present] = [s + "; " if s else "" for s in texts[present]]
        sld_text = _as_text(np.asarray(sld_reason, dtype=object)[t_ne], "SLD not evaluable")
        out[t_ne] = _concat_coded(
            (key[t_ne], head), "target not evaluable: ", _text_codes(sld_text)
        )
    return out


def _as_text(values: np.ndarray, na: str) -> np.ndarray:
    """Object array ``values`` as str (``Series.fillna(na).astype(str)``; no copy when every
    value is a str already)."""
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, na, values)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object)
    return values


def _reason_flags(
    target: np.ndarray,
    non_target: np.ndarray,
    overall_pd: np.ndarray,
    new_true: np.ndarray,
    new_na: np.ndarray,
) -> np.ndarray:
    """Bit ``k`` set when part ``k`` of :data:`_REASON_PARTS` applies (label arrays in)."""
    nt_ne = non_target == "NE"
    t_ne = target == "NE"
    t_none = target == "none"
    partial = (new_na | nt_ne) & ~overall_pd & ~t_ne & ~t_none
    flags = [
        target == "PD",
        new_true,
        non_target == "PD",
        target == "CR",
        target == "PR",
        target == "SD",
        t_none & (non_target != "none"),
        t_none & (non_target == "none"),
        t_none & (non_target == "CR"),
        t_none & (non_target == "non-CR/non-PD"),
        new_na,
        nt_ne,
        partial,
    ]
    code = np.zeros(len(target), dtype=np.int64)
    for k, f in enumerate(flags):
        code |= f.astype(np.int64) << k
    return code


def _reason_table() -> np.ndarray:
    """Bits of :func:`_reason_flags` for every combination of target code, non-target code,
    overall PD and new lesion (no / yes / NA), in the order of :func:`_reason_key`."""
    sizes = (len(TARGET_LABELS) + 1, len(NON_TARGET_LABELS) + 1, 2, 3)
    g_t, g_nt, g_pd, g_new = np.indices(sizes).reshape(len(sizes), -1)
    out = _reason_flags(
        _TARGET_LEVELS[g_t], _NON_TARGET_LEVELS[g_nt], g_pd == 1, g_new == 1, g_new == 2
    )
    out.flags.writeable = False
    return out


_REASON_BITS = _reason_table()


def measured_pd_reason(
    target: np.ndarray, sld: np.ndarray, n_expected: np.ndarray, n_measured: np.ndarray
) -> np.ndarray:
    """Reason text for target PD on the measured lesions of an incomplete scan (None elsewhere):
    ``target PD on measured lesions (1 target not assessed)``. Counts NaN when unknown."""
    target = np.asarray(target, dtype=object)
    m = np.flatnonzero((target == "PD") & np.isnan(np.asarray(sld, dtype=float)))
    out = np.full(len(target), None, dtype=object)
    if len(m):
        out[m] = _measured_pd_texts(m, n_expected, n_measured)
    return out


def _measured_pd_texts(rows: np.ndarray, n_expected: object, n_measured: object) -> np.ndarray:
    """The texts of :func:`measured_pd_reason` at ``rows`` (target PD, SLD unknown)."""
    k = np.asarray(n_expected, dtype=float)[rows] - np.asarray(n_measured, dtype=float)[rows]
    uniq, inv = np.unique(k, return_inverse=True)
    txt = np.array(
        [
            "target PD on measured lesions (a target not assessed)"
            if np.isnan(v)
            else f"target PD on measured lesions ({v:g} target{'' if v == 1 else 's'} not assessed)"
            for v in uniq
        ],
        dtype=object,
    )
    return txt[inv.ravel()]


def scan_responses(
    sld: np.ndarray,
    baseline: np.ndarray,
    nadir: np.ndarray,
    targets_cr: object,
    sld_measured: np.ndarray | None,
    no_targets: object | None,
    non_target_pd: object,
    non_target_cr: object,
    n_expected: object,
    n_assessed: object,
    new_lesion: object,
    sld_reason: object,
    n_targets_expected: object,
    n_targets_measured: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``target_response``, ``non_target_response``, ``overall_response`` and
    ``response_reason`` (with :func:`measured_pd_reason` as the target-PD reason) of the same
    scans, as the public functions give them (fresh object arrays), computed on label codes:
    no object array is read back. Arguments as those functions' (``n_targets_expected`` /
    ``n_targets_measured``: the counts of :func:`measured_pd_reason`)."""
    t_code = _target_codes(sld, baseline, nadir, targets_cr, sld_measured, no_targets)
    nt_code = _non_target_codes(non_target_pd, non_target_cr, n_expected, n_assessed)
    new_true, new_na = _bool_na(new_lesion)
    ovr_code = _overall_codes(t_code, nt_code, new_true)
    pd_rows = np.flatnonzero((t_code == _T["PD"]) & np.isnan(np.asarray(sld, dtype=float)))
    reason = _reason_texts(
        t_code,
        nt_code,
        ovr_code == _OVR_PD,
        new_true,
        new_na,
        sld_reason,
        pd_rows,
        _measured_pd_texts(pd_rows, n_targets_expected, n_targets_measured),
    )
    return (_TARGET_LEVELS[t_code], _NON_TARGET_LEVELS[nt_code], _OVERALL_LEVELS[ovr_code], reason)


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
    role = scans["role"].to_numpy(dtype=object)
    sel = np.flatnonzero((role == "baseline") | (role == "on_treatment"))
    pid = scans["patient_id"].to_numpy()[sel]
    pcode = patient_codes(pid)
    dates = scans["assessment_date"].to_numpy(dtype="datetime64[ns]")[sel].view("int64")
    is_base = role[sel] == "baseline"
    # stable order: patient (first appearance), then date, baseline first on the same date
    order = sorted_order(pcode, dates, (~is_base).astype(np.int64))
    sel, pcode, is_base = sel[order], pcode[order], is_base[order]
    s = scans.iloc[sel]
    sld = s["sld_mm"].to_numpy(dtype=float)
    heads = np.r_[True, pcode[1:] != pcode[:-1]] if len(pcode) else np.zeros(0, dtype=bool)
    grp = np.cumsum(heads, dtype=np.intp) - 1
    first = np.flatnonzero(heads)
    # the baseline, when present, is the first row of its patient (earliest date)
    has_base = is_base[first][grp]
    baseline = np.where(has_base, sld[first][grp], np.nan)
    base_reason = np.where(has_base, s["sld_reason"].to_numpy(dtype=object)[first][grp], None)
    # nadir: smallest evaluable SLD so far (baseline included), excluding the current scan
    # (a baseline that is not evaluable makes every later scan target-NE, so no nadir then)
    ev = pd.Series(np.where(np.isnan(sld), np.inf, sld))
    cm = ev.groupby(grp).cummin().to_numpy(dtype=float)
    prior = np.r_[np.inf, cm[:-1]] if len(cm) else cm
    prior[heads] = np.inf
    nadir = np.where(np.isinf(prior) | np.isnan(baseline), np.nan, prior)

    keep = np.flatnonzero(~is_base)
    s = s.iloc[keep]
    sld = sld[keep]
    sld_part = (
        s["sld_measured_mm"].to_numpy(dtype=float) if "sld_measured_mm" in s.columns else sld.copy()
    )
    n_t_exp = _float_col(s, "n_targets_expected")
    n_t_meas = _float_col(s, "n_targets_measured")
    baseline = baseline[keep]
    nadir = nadir[keep]
    has_base = has_base[keep]
    base_reason = base_reason[keep]
    n = len(s)
    with np.errstate(invalid="ignore", divide="ignore"):
        chg_b = sld - baseline
        pct_b = np.where(baseline > 0, 100.0 * chg_b / baseline, np.nan)
        chg_n = sld - nadir
        # undefined (NaN) when the nadir is 0 mm, as in admiralonco's PCHGNAD; PD still applies
        pct_n = np.where(nadir > 0, 100.0 * chg_n / nadir, np.nan)
    no_targets = has_base & (n_t_exp == 0)
    newl = pd.array(s["new_lesions"], dtype="Float64")
    new_flag = as_boolean(np.asarray(newl.fillna(0)) > 0)
    new_flag[np.asarray(newl.isna())] = pd.NA
    sreason = s["sld_reason"].to_numpy(dtype=object).copy()
    nob = ~has_base
    sreason[nob] = "no baseline scan"
    bad_base = has_base & np.isnan(baseline)
    sreason[bad_base] = (
        "baseline SLD not evaluable ("
        + pd.Series(base_reason[bad_base], dtype=object).fillna("not given").astype(str).to_numpy()
        + ")"
    )
    tr, ntr, ovr, reason = scan_responses(
        sld,
        baseline,
        nadir,
        s["targets_cr"].to_numpy(),
        sld_part,
        no_targets,
        s["non_target_pd"],
        s["non_target_cr"],
        s["n_non_targets_expected"],
        s["n_non_targets_assessed"],
        new_flag,
        sreason,
        n_t_exp,
        n_t_meas,
    )
    out = pd.DataFrame(
        {
            "patient_id": s["patient_id"].to_numpy(),
            "assessment_date": s["assessment_date"].to_numpy(),
            "day": s["day"].to_numpy(dtype=float),
            "is_first_eval": s["is_first_eval"].to_numpy(dtype=bool),
            "sld_mm": sld,
            "sld_measured_mm": sld_part,
            "baseline_sld_mm": baseline,
            "nadir_mm": nadir,
            "change_baseline_mm": chg_b,
            "pct_change_baseline": pct_b,
            "change_nadir_mm": chg_n,
            "pct_change_nadir": pct_n,
            "target_response": tr,
            "non_target_response": ntr,
            "new_lesion": new_flag,
            "overall_response": ovr,
            "response_reason": reason,
            "new_lesions": s["new_lesions"].to_numpy(),
            "new_lesions_first_seen": s["new_lesions_first_seen"].to_numpy(),
            "new_lesion_sum_mm": s["new_lesion_sum_mm"].to_numpy(dtype=float),
            "non_target_pd": s["non_target_pd"].to_numpy(),
        },
        index=pd.RangeIndex(n),
    )
    out["new_lesions"] = out["new_lesions"].astype("Int64")
    out["new_lesions_first_seen"] = out["new_lesions_first_seen"].astype("Int64")
    out["non_target_pd"] = out["non_target_pd"].astype("boolean")
    return out[RESPONSE_COLUMNS]


def patient_codes(ids: np.ndarray) -> np.ndarray:
    """Integer code per patient in order of first appearance (fast path when rows are grouped)."""
    ids = np.asarray(ids)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    heads = np.r_[True, ids[1:] != ids[:-1]]
    if pd.Index(ids[heads]).is_unique:
        return np.cumsum(heads, dtype=np.int64) - 1
    return pd.factorize(ids)[0].astype(np.int64)


def sorted_order(*keys: np.ndarray) -> np.ndarray:
    """Stable order sorting by ``keys`` (first key most significant); identity when sorted."""
    n = len(keys[0])
    if n < 2:
        return np.arange(n)
    le = np.ones(n - 1, dtype=bool)
    eq = np.ones(n - 1, dtype=bool)
    for k in keys:
        a, b = k[:-1], k[1:]
        le &= ~(eq & (a > b))
        eq &= a == b
    if le.all():
        return np.arange(n)
    return np.lexsort(tuple(reversed(keys)))


def _in_patient_date_order(r: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by patient (first appearance) and sorted by date; adds ``_pcode``."""
    pc = patient_codes(r["patient_id"].to_numpy())
    dates = r["assessment_date"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = sorted_order(pc, dates)
    out = r.iloc[order].reset_index(drop=True)
    out["_pcode"] = pc[order]
    out["_d"] = dates[order] / NS_PER_DAY  # calendar days (windows do not need a start date)
    return out


def _with_all_patients(table: pd.DataFrame, patient_ids: pd.Series | None) -> pd.DataFrame:
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
    has_tr = "target_response" in responses.columns
    r = _in_patient_date_order(responses[cols + (["target_response"] if has_tr else [])])
    ovr = r["overall_response"].to_numpy(dtype=object)
    no_tgt = (
        (r["target_response"].to_numpy(dtype=object) == "none")
        if has_tr
        else np.zeros(len(r), dtype=bool)
    )
    day = r["day"].to_numpy(dtype=float)
    eff = ovr.copy()
    if confirm:
        pd_day = np.where(ovr == "PD", r["_d"].to_numpy(), np.inf)
        # first PD at or after each scan (reverse cumulative min within patient)
        nxt_pd = (
            pd.Series(pd_day[::-1]).groupby(r["_pcode"].to_numpy()[::-1]).cummin().to_numpy()[::-1]
        )
        # strictly after: shift by one within patient
        nxt_pd_after = pd.Series(nxt_pd).groupby(r["_pcode"]).shift(-1).fillna(np.inf).to_numpy()
        confirmed = np.zeros(len(r), dtype=bool)
        for resp, ok_set in (("CR", ["CR"]), ("PR", ["CR", "PR"])):
            idx = np.flatnonzero(ovr == resp)
            if not len(idx):
                continue
            left = pd.DataFrame(
                {
                    "_pcode": r["_pcode"].to_numpy()[idx],
                    "_t": r["_d"].to_numpy()[idx] + confirm_min_days,
                    "_i": idx,
                }
            )
            right = r.loc[np.isin(ovr, ok_set), ["_pcode", "_d"]].rename(columns={"_d": "_c"})
            right["_t"] = right["_c"]
            left = left.sort_values("_t", kind="mergesort")
            right = right.sort_values("_t", kind="mergesort")
            m = pd.merge_asof(left, right, on="_t", by="_pcode", direction="forward")
            ok = (m["_c"].to_numpy() < nxt_pd_after[m["_i"].to_numpy()]) & m[
                "_c"
            ].notna().to_numpy()
            confirmed[m["_i"].to_numpy()] = ok
        unconf = np.isin(ovr, ["CR", "PR"]) & ~confirmed
        eff = np.where(unconf, np.where(no_tgt, NON_CR_NON_PD, "SD"), ovr).astype(object)
    pc = r["_pcode"].to_numpy()
    # scans after the first PD of the patient never count (RECIST: best response until PD)
    is_pd = (ovr == "PD").astype(np.int64)
    after_pd = (pd.Series(is_pd).groupby(pc).cumsum().to_numpy() - is_pd) > 0
    stable = (eff == "SD") | (eff == NON_CR_NON_PD)
    early_sd = stable & ~(day >= sd_min_days - EPS) & ~after_pd
    early_ncnp = early_sd & (eff == NON_CR_NON_PD)
    eff = np.where(early_sd, "NE_SD", eff)
    rank = pd.Series(eff).map({**RESPONSE_RANK, "NE_SD": RESPONSE_RANK["NE"]}).to_numpy()
    rank = np.where(after_pd, len(RESPONSE_RANK) + 1, rank)
    by_rank = np.lexsort((rank, pc))  # stable: earliest scan first among equal ranks
    heads = np.r_[True, pc[by_rank][1:] != pc[by_rank][:-1]] if len(pc) else np.zeros(0, bool)
    best = by_rank[heads]
    g = r.iloc[best]
    npat = int(pc.max()) + 1 if len(pc) else 0
    any_early = np.bincount(pc[early_sd], minlength=npat) > 0
    label = np.where(np.bincount(pc[early_ncnp], minlength=npat) > 0, NON_CR_NON_PD, "SD")
    nscan = np.bincount(pc, minlength=npat)
    bor = eff[best].astype(object)
    bor = np.where(bor == "NE_SD", "NE", bor).astype(object)
    reason = np.full(len(g), None, dtype=object)
    m = (bor == "NE") & any_early
    reason[m] = np.where(
        label[m] == "SD",
        f"stable disease only before day {sd_min_days:g} (SD minimum duration), no later response",
        f"{NON_CR_NON_PD} only before day {sd_min_days:g} (SD minimum duration), no later response",
    )
    reason[(bor == "NE") & ~any_early] = "every on-treatment response not evaluable"
    m = (bor == "PD") & any_early
    reason[m] = (
        label[m].astype(object)
        + f" before day {sd_min_days:g} (SD minimum duration) followed by PD"
    )
    out = pd.DataFrame(
        {
            "patient_id": g["patient_id"].to_numpy(),
            "bor": bor,
            "bor_date": g["assessment_date"].to_numpy(),
            "bor_day": g["day"].to_numpy(dtype=float),
            "n_on_treatment_scans": nscan,
            "bor_reason": reason,
        }
    )
    out = _with_all_patients(out, patient_ids)
    miss = out["bor"].isna()
    out.loc[miss, "bor"] = "NE"
    out.loc[miss, "bor_reason"] = "no on-treatment scan"
    out["n_on_treatment_scans"] = out["n_on_treatment_scans"].fillna(0).astype("int64")
    return out


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
    pids = r.drop_duplicates("_pcode")[["_pcode", "patient_id"]].reset_index(drop=True)
    is_pd = (r["overall_response"] == "PD").to_numpy()
    first_pd = r[is_pd].drop_duplicates("_pcode")
    iu = first_pd[["_pcode", "assessment_date", "day", "_d", "sld_mm", "new_lesion_sum_mm"]].rename(
        columns={
            "assessment_date": "iupd_date",
            "day": "iupd_day",
            "_d": "_d0",
            "sld_mm": "_sld0",
            "new_lesion_sum_mm": "_nls0",
        }
    )
    iu["_t"] = iu["_d0"] + confirm_min_days
    cand = r[
        [
            "_pcode",
            "day",
            "_d",
            "assessment_date",
            "sld_mm",
            "new_lesion_sum_mm",
            "new_lesions_first_seen",
            "non_target_pd",
        ]
    ].rename(columns={"day": "confirm_day", "assessment_date": "confirm_date"})
    cand["_t"] = cand["_d"]
    m = pd.merge_asof(
        iu.sort_values("_t", kind="mergesort"),
        cand.sort_values("_t", kind="mergesort"),
        on="_t",
        by="_pcode",
        direction="forward",
    )
    in_win = (m["_d"] - m["_d0"] <= confirm_max_days + EPS).to_numpy()
    has_c = m["_d"].notna().to_numpy() & in_win
    with np.errstate(invalid="ignore"):
        c_sld = (m["sld_mm"] - m["_sld0"]).to_numpy(dtype=float) >= 5.0 - EPS
        c_nls = (m["new_lesion_sum_mm"] - m["_nls0"]).to_numpy(dtype=float) >= 5.0 - EPS
    c_new = np.asarray(pd.array(m["new_lesions_first_seen"], dtype="Float64").fillna(0)) > 0
    c_nt = np.asarray(pd.array(m["non_target_pd"], dtype="boolean").fillna(False), dtype=bool)
    any_c = c_sld | c_nls | c_new | c_nt
    icpd = pd.array(np.where(has_c, any_c, False), dtype="boolean")
    icpd[~has_c] = pd.NA
    labels = [
        (c_sld, "target SLD +>=5 mm since iUPD"),
        (c_nls, "new-lesion sum +>=5 mm"),
        (c_new, "another new lesion"),
        (c_nt, "non-target progression"),
    ]
    why = pd.Series([""] * len(m), dtype=object)
    for mask, text in labels:
        why = pd.Series(
            np.where(mask & (why != ""), why + "; " + text, np.where(mask, text, why)), dtype=object
        )
    reason = np.where(
        has_c,
        np.where(
            any_c,
            "iCPD: " + why.to_numpy(dtype=object),
            "iUPD not confirmed at the next scan (no further progression)",
        ),
        np.where(
            m["_d"].isna(),
            f"no scan at least {confirm_min_days:g} days after iUPD (unconfirmable)",
            f"no scan {confirm_min_days:g}-{confirm_max_days:g} days after iUPD "
            "(next scan later; unconfirmable)",
        ),
    ).astype(object)
    m["confirm_date"] = m["confirm_date"].where(has_c)
    m["confirm_day"] = m["confirm_day"].where(has_c)
    m["icpd"] = icpd
    m["irecist_reason"] = reason
    # pseudoprogression: not confirmed and a later scan reads SD/PR/CR
    rr = r.merge(iu[["_pcode", "_d0"]], on="_pcode", how="inner")
    later_ok = (rr["_d"] > rr["_d0"]) & rr["overall_response"].isin(
        ["SD", "PR", "CR", NON_CR_NON_PD]
    )
    recov = later_ok.groupby(rr["_pcode"]).max()
    m["_recov"] = m["_pcode"].map(recov).fillna(False).astype(bool)
    m["pseudoprogression"] = m["_recov"] & ~np.asarray(m["icpd"].fillna(False), dtype=bool)
    pp = m["pseudoprogression"].to_numpy()
    m.loc[pp, "irecist_reason"] = (
        m.loc[pp, "irecist_reason"] + "; later SD/PR/CR/NON-CR/NON-PD: pseudoprogression"
    )
    out = pids.merge(
        m[
            [
                "_pcode",
                "iupd_date",
                "iupd_day",
                "confirm_date",
                "confirm_day",
                "icpd",
                "pseudoprogression",
                "irecist_reason",
            ]
        ],
        on="_pcode",
        how="left",
    )
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
