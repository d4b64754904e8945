"""RECIST 1.1 responses per scan, best overall response, and iRECIST confirmation.

Rules (Eisenhauer et al., Eur J Cancer 2009; Seymour et al., Lancet Oncol 2017), as applied here:

- **Target response** of a scan, from the sum of diameters (SLD, mm) of the *baseline* target
  lesions (nodes by short axis):

  * ``PD``: SLD rises by >= 20 % over the nadir **and** by >= 5 mm. The nadir is the smallest
    evaluable SLD from baseline up to the previous on-treatment scan (at the first evaluation, the
    baseline). The pre-baseline scan never counts.
  * ``CR``: every non-nodal target lesion 0 mm and every nodal target < 10 mm (``targets_cr``).
  * ``PR``: SLD <= 70 % of the baseline SLD (a decrease of 30 % or more).
  * ``SD`` otherwise; ``NE`` when the SLD or the baseline SLD is not evaluable (a baseline target
    lesion not measured, no baseline scan, no target lesion at baseline).

  PD is checked before CR (a rise of >= 5 mm and >= 20 % of nodes that stay < 10 mm reads PD).
  Comparisons carry a tolerance of 1e-9 so that exactly -30 % / +20 % / +5 mm meet the threshold.
- **Non-target response**: ``PD`` (a non-target lesion in unequivocal progression), ``CR`` (every
  baseline non-target lesion absent), ``non-CR/non-PD``, ``NE`` (a baseline non-target lesion not
  assessed, or non-target status not given), ``non-PD`` (per-scan sums that say there is no
  non-target progression but not whether non-targets are gone) or ``none`` (no non-target lesion at
  baseline).
- **Overall response** (RECIST 1.1 table 1): PD if target PD, non-target PD or any new lesion;
  otherwise NE if target NE; CR if target CR with non-target CR/none and no new lesion; PR if target
  CR with other non-target states, or target PR; SD if target SD. When new lesions or non-target
  progression are not given (three-scan wide tables), the response is computed from the SLD and
  ``response_reason`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: tolerance (mm and fraction) on RECIST thresholds so exact boundary values meet them
EPS = 1e-9

#: best-first order of responses (for the best overall response)
RESPONSE_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}

RESPONSE_COLUMNS = [
    "patient_id", "assessment_date", "day", "is_first_eval",
    "sld_mm", "baseline_sld_mm", "nadir_mm",
    "change_baseline_mm", "pct_change_baseline", "change_nadir_mm", "pct_change_nadir",
    "target_response", "non_target_response", "new_lesion", "overall_response", "response_reason",
    "new_lesions", "new_lesions_first_seen", "new_lesion_sum_mm", "non_target_pd",
]


def _na_str(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def target_response(
    sld: np.ndarray, baseline: np.ndarray, nadir: np.ndarray, targets_cr: np.ndarray
) -> np.ndarray:
    """RECIST 1.1 target response per scan (``CR``/``PR``/``SD``/``PD``/``NE``).

    ``sld``, ``baseline`` and ``nadir`` in mm (NaN when not evaluable); ``targets_cr`` boolean
    (every non-nodal target 0 mm, nodes < 10 mm); ``nadir`` is the smallest evaluable SLD before
    this scan, baseline included.
    """
    sld = np.asarray(sld, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    nadir = np.asarray(nadir, dtype=float)
    cr = np.asarray(pd.array(targets_cr, dtype="boolean").fillna(False), dtype=bool)
    ok = ~np.isnan(sld) & ~np.isnan(baseline)
    nad = np.where(np.isnan(nadir), baseline, nadir)
    with np.errstate(invalid="ignore"):
        rise = sld - nad
        pd_ = ok & (rise >= 5.0 - EPS) & (rise >= 0.2 * nad - EPS * np.maximum(nad, 1.0))
        pr = ok & (sld - baseline <= -0.3 * baseline + EPS * np.maximum(baseline, 1.0))
    return np.select([~ok, pd_, cr & ok, pr], ["NE", "PD", "CR", "PR"], default="SD").astype(object)


def non_target_response(
    non_target_pd: pd.Series | np.ndarray,
    non_target_cr: pd.Series | np.ndarray,
    n_expected: pd.Series | np.ndarray,
    n_assessed: pd.Series | np.ndarray,
) -> np.ndarray:
    """Non-target response per scan (``PD``, ``CR``, ``non-CR/non-PD``, ``non-PD``, ``NE``, ``none``).

    ``n_expected``/``n_assessed``: numbers of baseline non-target lesions and of those assessed at
    the scan; NA when the cohort gives per-scan sums only (then ``non_target_pd`` False reads
    ``non-PD``: progression excluded, complete disappearance unknown).
    """
    ntpd = pd.array(non_target_pd, dtype="boolean")
    ntcr = np.asarray(pd.array(non_target_cr, dtype="boolean").fillna(False), dtype=bool)
    exp = pd.array(n_expected, dtype="Float64")
    ass = pd.array(n_assessed, dtype="Float64")
    is_pd = np.asarray(ntpd.fillna(False), dtype=bool)
    pd_known = np.asarray(~ntpd.isna(), dtype=bool)
    exp_known = np.asarray(~exp.isna(), dtype=bool)
    expv = np.asarray(exp.fillna(0), dtype=float)
    assv = np.asarray(ass.fillna(0), dtype=float)
    conds = [
        is_pd,
        ~exp_known & pd_known,
        ~exp_known,
        expv == 0,
        ntcr,
        assv < expv,
    ]
    out = np.select(conds, ["PD", "non-PD", "NE", "none", "CR", "NE"], default="non-CR/non-PD")
    return out.astype(object)


def overall_response(
    target: np.ndarray, non_target: np.ndarray, new_lesion: pd.Series | np.ndarray
) -> np.ndarray:
    """RECIST 1.1 overall response from target, non-target and new-lesion status (table 1).

    ``new_lesion`` is a nullable boolean; unknown is treated as 'no new lesion' (the caller reports
    that the response rests on incomplete information).
    """
    target = np.asarray(target, dtype=object)
    non_target = np.asarray(non_target, dtype=object)
    new = np.asarray(pd.array(new_lesion, dtype="boolean").fillna(False), dtype=bool)
    conds = [
        (target == "PD") | (non_target == "PD") | new,
        target == "NE",
        (target == "CR") & np.isin(non_target, ["CR", "none"]),
        np.isin(target, ["CR", "PR"]),
        target == "SD",
    ]
    return np.select(conds, ["PD", "NE", "CR", "PR", "SD"], default="NE").astype(object)


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
) -> np.ndarray:
    """Plain-language reason for each overall response: what made it PD, why it is NE (the SLD
    reason), and what was not given. Numbers are in the percentage columns, not repeated here.
    """
    target = np.asarray(target, dtype=object)
    non_target = np.asarray(non_target, dtype=object)
    overall = np.asarray(overall, dtype=object)
    new = as_boolean(new_lesion)
    new_true = np.asarray(new.fillna(False), dtype=bool)
    new_na = np.asarray(new.isna(), dtype=bool)
    nt_ne = non_target == "NE"
    t_ne = target == "NE"
    partial = (new_na | nt_ne) & (overall != "PD") & ~t_ne
    flags = [target == "PD", new_true, non_target == "PD", target == "CR", target == "PR",
             target == "SD", new_na, nt_ne, partial]
    code = np.zeros(len(target), dtype=np.int64)
    for k, f in enumerate(flags):
        code |= f.astype(np.int64) << k
    table = np.full(1 << len(flags), "", dtype=object)
    for u in np.flatnonzero(np.bincount(code, minlength=len(table))):
        table[u] = "; ".join(t for k, t in enumerate(_REASON_PARTS) if (u >> k) & 1)
    out = table[code]
    if t_ne.any():
        sr = pd.Series(np.asarray(sld_reason, dtype=object)[t_ne], dtype=object)
        ne_txt = ("target not evaluable: " + sr.fillna("SLD not evaluable").astype(str)).to_numpy()
        head = out[t_ne]
        out[t_ne] = np.where(head == "", ne_txt, head + "; " + ne_txt)
    return out


def recist_responses(scans: pd.DataFrame) -> pd.DataFrame:
    """RECIST 1.1 response of every on-treatment scan of :func:`hpd_analysis.timepoints.scan_table`.

    One row per scan with ``role == 'on_treatment'``, sorted like ``scans``. Columns
    :data:`RESPONSE_COLUMNS`: SLD, baseline SLD and nadir in mm; ``pct_change_baseline`` and
    ``pct_change_nadir`` in % (NaN when the reference is 0 mm); ``nadir_mm`` is the smallest evaluable SLD from baseline to the
    previous on-treatment scan (the PD reference of this scan); ``day`` in days from treatment
    start. Vectorized: cumulative minimum within patient for the nadir.
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
    grp = np.cumsum(heads) - 1
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
    tr = target_response(sld, baseline, nadir, s["targets_cr"].to_numpy())
    ntr = non_target_response(s["non_target_pd"], s["non_target_cr"],
                              s["n_non_targets_expected"], s["n_non_targets_assessed"])
    newl = pd.array(s["new_lesions"], dtype="Float64")
    new_flag = as_boolean(np.asarray(newl.fillna(0)) > 0)
    new_flag[np.asarray(newl.isna())] = pd.NA
    ovr = overall_response(tr, ntr, new_flag)
    sreason = s["sld_reason"].to_numpy(dtype=object).copy()
    nob = ~has_base
    sreason[nob] = "no baseline scan"
    bad_base = has_base & np.isnan(baseline)
    sreason[bad_base] = "baseline SLD not evaluable (" + pd.Series(
        base_reason[bad_base], dtype=object).fillna("not given").astype(str).to_numpy() + ")"
    reason = response_reason(tr, ntr, new_flag, ovr, sreason)
    out = pd.DataFrame({
        "patient_id": s["patient_id"].to_numpy(),
        "assessment_date": s["assessment_date"].to_numpy(),
        "day": s["day"].to_numpy(dtype=float),
        "is_first_eval": s["is_first_eval"].to_numpy(dtype=bool),
        "sld_mm": sld,
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
    }, index=pd.RangeIndex(n))
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
        return (np.cumsum(heads) - 1).astype(np.int64)
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
    out["_d"] = dates[order] / 86_400e9     # calendar days (windows do not need a start date)
    return out


def _with_all_patients(table: pd.DataFrame, patient_ids: pd.Series | None) -> pd.DataFrame:
    if patient_ids is None:
        return table
    ids = pd.Series(patient_ids).to_numpy()
    have = table["patient_id"].to_numpy()
    if len(ids) == len(have) and np.array_equal(ids, have):
        return table.reset_index(drop=True)
    pos = pd.Index(have).get_indexer(ids)           # table ids are unique by construction
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

    - ``SD`` counts only at a scan at least ``sd_min_days`` days (default 42 = 6 weeks) after
      treatment start; an earlier SD gives ``PD`` when a PD follows, otherwise ``NE``.
    - ``confirm=False`` (default): CR/PR need no confirmation. ``confirm=True``: a CR needs a CR,
      and a PR a CR or PR, at a later scan >= ``confirm_min_days`` days after it with no PD in
      between; an unconfirmed CR/PR counts as SD (if it meets ``sd_min_days``).
    - ``patient_ids``: every patient to report (in this order); a patient without an on-treatment
      scan gets ``NE`` with a reason.

    Returns ``patient_id, bor, bor_date, bor_day, n_on_treatment_scans, bor_reason``.
    """
    r = _in_patient_date_order(responses[["patient_id", "assessment_date", "day",
                                          "overall_response"]])
    ovr = r["overall_response"].to_numpy(dtype=object)
    day = r["day"].to_numpy(dtype=float)
    eff = ovr.copy()
    if confirm:
        pd_day = np.where(ovr == "PD", r["_d"].to_numpy(), np.inf)
        # first PD at or after each scan (reverse cumulative min within patient)
        nxt_pd = pd.Series(pd_day[::-1]).groupby(r["_pcode"].to_numpy()[::-1]).cummin().to_numpy()[::-1]
        # strictly after: shift by one within patient
        nxt_pd_after = pd.Series(nxt_pd).groupby(r["_pcode"]).shift(-1).fillna(np.inf).to_numpy()
        confirmed = np.zeros(len(r), dtype=bool)
        for resp, ok_set in (("CR", ["CR"]), ("PR", ["CR", "PR"])):
            idx = np.flatnonzero(ovr == resp)
            if not len(idx):
                continue
            left = pd.DataFrame({"_pcode": r["_pcode"].to_numpy()[idx],
                                 "_t": r["_d"].to_numpy()[idx] + confirm_min_days, "_i": idx})
            right = r.loc[np.isin(ovr, ok_set), ["_pcode", "_d"]].rename(columns={"_d": "_c"})
            right["_t"] = right["_c"]
            left = left.sort_values("_t", kind="mergesort")
            right = right.sort_values("_t", kind="mergesort")
            m = pd.merge_asof(left, right, on="_t", by="_pcode", direction="forward")
            ok = (m["_c"].to_numpy() < nxt_pd_after[m["_i"].to_numpy()]) & m["_c"].notna().to_numpy()
            confirmed[m["_i"].to_numpy()] = ok
        eff = np.where(np.isin(ovr, ["CR", "PR"]) & ~confirmed, "SD", ovr).astype(object)
    early_sd = (eff == "SD") & ~(day >= sd_min_days - EPS)
    eff = np.where(early_sd, "NE_SD", eff)
    rank = pd.Series(eff).map({**RESPONSE_RANK, "NE_SD": 4}).to_numpy()
    pc = r["_pcode"].to_numpy()
    by_rank = np.lexsort((rank, pc))          # stable: earliest scan first among equal ranks
    heads = np.r_[True, pc[by_rank][1:] != pc[by_rank][:-1]] if len(pc) else np.zeros(0, bool)
    best = by_rank[heads]
    g = r.iloc[best]
    npat = int(pc.max()) + 1 if len(pc) else 0
    any_early = np.bincount(pc[early_sd], minlength=npat) > 0
    nscan = np.bincount(pc, minlength=npat)
    bor = eff[best].astype(object)
    bor = np.where(bor == "NE_SD", "NE", bor).astype(object)
    reason = np.full(len(g), None, dtype=object)
    reason[(bor == "NE") & any_early] = (
        f"stable disease only before day {sd_min_days:g} (SD minimum duration), no later response"
    )
    reason[(bor == "NE") & ~any_early] = "every on-treatment response not evaluable"
    reason[(bor == "PD") & any_early] = (
        f"SD before day {sd_min_days:g} (SD minimum duration) followed by PD"
    )
    out = pd.DataFrame({
        "patient_id": g["patient_id"].to_numpy(),
        "bor": bor,
        "bor_date": g["assessment_date"].to_numpy(),
        "bor_day": g["day"].to_numpy(dtype=float),
        "n_on_treatment_scans": nscan,
        "bor_reason": reason,
    })
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
    SD, PR or CR.

    Returns ``patient_id, iupd_date, iupd_day, confirm_date, confirm_day, icpd, pseudoprogression,
    irecist_reason`` (days from treatment start; ``icpd`` NA when there is no iUPD or no
    confirmatory scan).
    """
    r = _in_patient_date_order(responses[["patient_id", "assessment_date", "day",
                                          "overall_response", "sld_mm", "new_lesion_sum_mm",
                                          "new_lesions_first_seen", "non_target_pd"]])
    pids = r.drop_duplicates("_pcode")[["_pcode", "patient_id"]].reset_index(drop=True)
    is_pd = (r["overall_response"] == "PD").to_numpy()
    first_pd = r[is_pd].drop_duplicates("_pcode")
    iu = first_pd[["_pcode", "assessment_date", "day", "_d", "sld_mm",
                   "new_lesion_sum_mm"]].rename(
        columns={"assessment_date": "iupd_date", "day": "iupd_day", "_d": "_d0", "sld_mm": "_sld0",
                 "new_lesion_sum_mm": "_nls0"})
    iu["_t"] = iu["_d0"] + confirm_min_days
    cand = r[["_pcode", "day", "_d", "assessment_date", "sld_mm", "new_lesion_sum_mm",
              "new_lesions_first_seen", "non_target_pd"]].rename(
        columns={"day": "confirm_day", "assessment_date": "confirm_date"})
    cand["_t"] = cand["_d"]
    m = pd.merge_asof(iu.sort_values("_t", kind="mergesort"),
                      cand.sort_values("_t", kind="mergesort"),
                      on="_t", by="_pcode", direction="forward")
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
    labels = [(c_sld, "target SLD +>=5 mm since iUPD"), (c_nls, "new-lesion sum +>=5 mm"),
              (c_new, "another new lesion"), (c_nt, "non-target progression")]
    why = pd.Series([""] * len(m), dtype=object)
    for mask, text in labels:
        why = pd.Series(np.where(mask & (why != ""), why + "; " + text,
                                 np.where(mask, text, why)), dtype=object)
    reason = np.where(
        has_c,
        np.where(any_c, "iCPD: " + why.to_numpy(dtype=object),
                 "iUPD not confirmed at the next scan (no further progression)"),
        np.where(m["_d"].isna(),
                 f"no scan at least {confirm_min_days:g} days after iUPD (unconfirmable)",
                 f"no scan {confirm_min_days:g}-{confirm_max_days:g} days after iUPD "
                 "(next scan later; unconfirmable)"),
    ).astype(object)
    m["confirm_date"] = m["confirm_date"].where(has_c)
    m["confirm_day"] = m["confirm_day"].where(has_c)
    m["icpd"] = icpd
    m["irecist_reason"] = reason
    # pseudoprogression: not confirmed and a later scan reads SD/PR/CR
    rr = r.merge(iu[["_pcode", "_d0"]], on="_pcode", how="inner")
    later_ok = (rr["_d"] > rr["_d0"]) & rr["overall_response"].isin(["SD", "PR", "CR"])
    recov = later_ok.groupby(rr["_pcode"]).max()
    m["_recov"] = m["_pcode"].map(recov).fillna(False).astype(bool)
    m["pseudoprogression"] = m["_recov"] & ~np.asarray(m["icpd"].fillna(False), dtype=bool)
    pp = m["pseudoprogression"].to_numpy()
    m.loc[pp, "irecist_reason"] = m.loc[pp, "irecist_reason"] + "; later SD/PR/CR: pseudoprogression"
    out = pids.merge(m[["_pcode", "iupd_date", "iupd_day", "confirm_date", "confirm_day", "icpd",
                        "pseudoprogression", "irecist_reason"]], on="_pcode", how="left")
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
