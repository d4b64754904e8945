"""The canonical tables of a cohort, built from the raw tables a reader returned (columns
renamed): every cell parsed and checked by the :mod:`hpd_analysis.validate` parsers, every
problem collected, every fix noted in the load report.

Speed: every text check runs on the distinct values only (:class:`RawTable` factorizes each
raw column once); fixed-value columns are built from codes; the canonical tables are assembled
once without per-column copies (:class:`_Out`); sorting and duplicate detection use one integer
key and are skipped when the rows are already in order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import (
    LESION_STATUSES,
    LESION_TYPE_MAP,
    LESION_TYPES,
    LYMPH_RE,
    NOT_EVALUABLE_CODES,
    PATIENT_COLUMNS,
    PATIENT_DATES,
    PATIENT_ECOG,
    PATIENT_TIMES,
    REQUIRED_COLUMNS,
    SCAN_DATES,
    SCAN_SLD,
    STATUS_MAP,
    TOO_SMALL_CODES,
    require_columns,
)
from .covariates import covariate_column
from .params import Parameters
from .readers import kept_column
from .validate import (
    ISO_DATE_EXPECTED,
    Collector,
    Raw,
    as_bool,
    as_raw,
    blank,
    dedupe_and_sort,
    describe_keys,
    flag_date_after,
    iso_dates,
    missing_ids,
    parse_categories,
    parse_dates,
    parse_flags,
    parse_ids,
    parse_numbers,
    show,
    text_column,
    value_message,
)


class _Out(dict[str, pd.Series]):
    """The columns of a canonical table being built, as Series on the raw table's index.

    ``DataFrame.__setitem__`` copies every column it receives; collecting the columns here and
    building the frame once with ``copy=False`` (:meth:`frame`) avoids a copy per column.
    """

    def __init__(self, index: pd.Index):
        super().__init__()
        self.index = index

    @property
    def columns(self) -> list[str]:
        return list(self.keys())

    def __setitem__(self, name: str, value: object) -> None:
        if isinstance(value, pd.Series):
            series = value
            if series.index is not self.index:
                if not series.index.equals(self.index):
                    series = series.reindex(self.index)
                series = pd.Series(series.array, index=self.index, copy=False)
        elif value is None:
            series = pd.Series(None, index=self.index, dtype=object)
        else:
            series = pd.Series(value, index=self.index, copy=False)
        super().__setitem__(name, series)

    def frame(self, order: list[str] | None = None) -> pd.DataFrame:
        """The table (columns in ``order``, default insertion order), sharing the arrays."""
        names = order if order is not None else list(self)
        return pd.DataFrame({c: self[c] for c in names}, index=self.index, copy=False)


class RawTable:
    """One role's raw table (columns renamed, index = spreadsheet rows), the file label and
    collector its problems and fixes go to, and the parameters it is read with; each column is
    factorized once (see :class:`Raw`), on first use (``table["patient_id"]``)."""

    def __init__(
        self, df: pd.DataFrame, label: str, col: Collector, *, params: Parameters | None = None
    ):
        self.df = df
        self.label = label
        self.col = col
        self.params = params or Parameters()
        self._cache: dict[str, Raw] = {}

    def __getitem__(self, name: str) -> Raw:
        if name not in self._cache:
            self._cache[name] = Raw(self.df[name])
        return self._cache[name]


def recist_codes(params: Parameters) -> dict[str, float]:
    """RECIST text codes of diameters and sums -> their value in mm: "too small to measure"
    is ``params.too_small_to_measure_mm``, "not evaluable" NaN."""
    return {
        **dict.fromkeys(TOO_SMALL_CODES, params.too_small_to_measure_mm),
        **dict.fromkeys(NOT_EVALUABLE_CODES, np.nan),
    }


def _new_table(R: RawTable, role: str) -> _Out | None:
    """The (empty) canonical table of a role, or None when the raw table has no data rows or
    lacks a required column (the problem recorded)."""
    if not require_columns(R.df, role, R.col, label=R.label, required=REQUIRED_COLUMNS[role]):
        return None
    return _Out(R.df.index)


def _required_id(out: _Out, R: RawTable, name: str, *, expected: str) -> None:
    """``out[name]``: the parsed identifiers; a blank one is a problem (``missing <name>``)."""
    out[name] = parse_ids(R[name], R.label, name, col=R.col)
    R.col.add_rows(
        R.label, name, missing_ids(R[name]), message=f"missing {name}", expected=expected
    )


def _required_date(out: _Out, R: RawTable, name: str) -> None:
    """``out[name]``: the parsed dates; a blank one is a problem (``missing <name>``)."""
    out[name] = parse_dates(R[name], R.label, name, col=R.col)
    R.col.add_rows(
        R.label, name, blank(R[name]), message=f"missing {name}", expected=ISO_DATE_EXPECTED
    )


def _scan_keys(out: _Out, R: RawTable) -> None:
    """The patient and the date of each row of a table of scans (both required)."""
    _required_id(out, R, "patient_id", expected="the patient's identifier")
    _required_date(out, R, "assessment_date")


def _keep_other_columns(out: _Out, R: RawTable, skip: tuple[str, ...] = ()) -> None:
    """The raw table's columns not built above (nor in ``skip``), kept as given."""
    for c in R.df.columns:
        if c not in out.columns and c not in skip:
            out[c] = kept_column(R.df, c)


def _mapped_codes_noted(R: RawTable, column: str, masks: list[pd.Series], *, detail: str) -> None:
    """Load-report rows of the RECIST text codes of ``column``: "too small to measure" (with
    ``detail`` after the value in mm) and "not evaluable" (``masks`` of
    :func:`~hpd_analysis.validate.parse_numbers` with :func:`recist_codes`)."""
    R.col.note_rows(
        R.label,
        column,
        "mapped_text_code",
        mask=masks[0],
        detail=f"'TOO SMALL TO MEASURE' -> {R.params.too_small_to_measure_mm:g} mm" + detail,
    )
    R.col.note_rows(
        R.label,
        column,
        "mapped_text_code",
        mask=masks[1],
        detail="'NOT EVALUABLE'/'NE' -> NaN with not_evaluable = True",
    )


def _integers(
    s: pd.Series | Raw,
    label: str,
    column: str,
    *,
    col: Collector,
    expected: str,
    maximum: float | None = None,
) -> pd.Series:
    """Whole numbers ≥ 0 (≤ ``maximum`` when given) as nullable Int64; others are problems."""
    s = as_raw(s)
    vals = parse_numbers(s, label, column, col=col, expected=expected, minimum=0)
    raw = s.s
    frac = vals.notna() & (vals != np.floor(vals))
    col.add_rows(
        label,
        column,
        frac,
        message=lambda v: f"{show(v)} is not a whole number",
        expected=expected,
        values=raw,
    )
    bad = frac
    if maximum is not None:
        high = vals.notna() & (vals > maximum)
        col.add_rows(
            label,
            column,
            high,
            message=lambda v: f"{show(v)} is above {maximum:g}",
            expected=expected,
            values=raw,
        )
        bad = bad | high
    return vals.where(~bad).astype("Int64")


# --------------------------------------------------------------------------------------------
# patients


def patients_table(R: RawTable) -> pd.DataFrame | None:
    """The canonical patients table (``docs/architecture.md``) of a renamed raw table: ids,
    dates, ECOG, times to event and the other columns as covariates; one row per patient
    (identical duplicates dropped, conflicting ones problems), in the file's order."""
    out = _new_table(R, "patients")
    if out is None:
        return None
    df, label, col = R.df, R.label, R.col
    _required_id(out, R, "patient_id", expected="a non-empty identifier")
    for c in PATIENT_DATES:
        if c in df.columns:
            out[c] = parse_dates(R[c], label, c, col=col)
    col.add_rows(
        label,
        "treatment_start",
        blank(R["treatment_start"]),
        message="missing treatment_start",
        expected=ISO_DATE_EXPECTED + " (first dose)",
    )
    for c in ("tumor_type", "treatment"):
        if c in df.columns:
            out[c] = text_column(R[c])
    for c in PATIENT_ECOG:
        if c in df.columns:
            out[c] = _integers(
                R[c], label, c, col=col, expected="an ECOG score 0, 1, 2, 3 or 4", maximum=4
            )
    for months, event in PATIENT_TIMES:
        _time_to_event(out, R, months=months, event=event)
    _dates_before_start(out, R)
    if "death_date" in out.columns and "last_contact" in out.columns:
        flag_date_after(
            col, label, out, column="last_contact", bound="death_date", word="last contact"
        )
    known = set(out.columns) | {"patient_id"}
    for c in df.columns:
        if c not in known and c not in PATIENT_COLUMNS:
            out[c] = covariate_column(df, c, label, col=col)
    order = [c for c in PATIENT_COLUMNS if c in out.columns]
    order += [c for c in out.columns if c not in order]
    return dedupe_and_sort(
        label,
        out.frame(order),
        ["patient_id"],
        col=col,
        describe=describe_keys(("patient ", "patient_id")),
        sort=False,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )


def _time_to_event(out: _Out, R: RawTable, *, months: str, event: str) -> None:
    """A time in months and its event flag (``os_months``/``os_event`` ...): each given with
    the other, on the same rows."""
    df, label, col = R.df, R.label, R.col
    if months in df.columns:
        out[months] = parse_numbers(
            R[months], label, months, col=col, expected="a time in months ≥ 0"
        )
    if event in df.columns:
        out[event] = parse_flags(
            R[event],
            label,
            event,
            col=col,
            expected="0 (censored) or 1 (event); true/false also accepted",
        )
    if (months in df.columns) != (event in df.columns):
        have, lack = (months, event) if months in df.columns else (event, months)
        col.add(
            label,
            1,
            lack,
            message=f"{have} is given without {lack}",
            expected=f"both {months} and {event}",
        )
    elif months in df.columns:
        half = out[months].notna() != out[event].notna()
        col.add_rows(
            label,
            event,
            half & out[event].isna(),
            message=f"missing {event}",
            expected=f"{event} whenever {months} is given",
        )
        col.add_rows(
            label,
            months,
            half & out[months].isna(),
            message=f"missing {months}",
            expected=f"{months} whenever {event} is given",
        )


def _dates_before_start(out: _Out, R: RawTable) -> None:
    """Death, last contact, progression and treatment end before treatment_start: problems."""
    label, col = R.label, R.col
    start = out["treatment_start"]
    for c, what in (
        ("death_date", "death"),
        ("last_contact", "last contact"),
        ("progression_date", "progression"),
        ("treatment_end", "treatment end"),
    ):
        if c in out.columns:
            before = out[c].notna() & start.notna() & (out[c] < start)
            col.add_rows(
                label,
                c,
                before,
                message=value_message(f"{what} ", " is before treatment_start"),
                expected="a date on or after treatment_start",
                values=iso_dates(out[c], before),
            )


# --------------------------------------------------------------------------------------------
# lesions


def lesions_table(R: RawTable) -> pd.DataFrame | None:
    """The canonical lesions table (``docs/architecture.md``) of a renamed raw table: ids,
    dates, lesion types, diameters in mm (cm converted, RECIST text codes mapped with
    ``params.too_small_to_measure_mm``), non-target status, lymph nodes and not-evaluable
    flags; one row per lesion per scan, sorted by patient, date and lesion."""
    out = _new_table(R, "lesions")
    if out is None:
        return None
    df, label, col = R.df, R.label, R.col
    _scan_keys(out, R)
    _required_id(out, R, "lesion_id", expected="an identifier stable across the patient's scans")
    out["lesion_type"] = parse_categories(
        R["lesion_type"],
        label,
        "lesion_type",
        col=col,
        mapping=LESION_TYPE_MAP,
        expected="target, non_target or new",
        categories=LESION_TYPES,
    )
    col.add_rows(
        label,
        "lesion_type",
        blank(R["lesion_type"]),
        message="missing lesion_type",
        expected="target, non_target or new",
    )
    out["organ"] = text_column(R["organ"]) if "organ" in df.columns else None
    is_target = pd.Series(out["lesion_type"].cat.codes.to_numpy() == 0, index=df.index)
    dcol, ne = _lesion_diameters(out, R, is_target)
    ne = ne | _lesion_status(out, R)
    if "lymph_node" in df.columns:
        flag = parse_flags(R["lymph_node"], label, "lymph_node", col=col)
        by_organ = _organ_is_node(R, df.index)
        out["is_lymph_node"] = flag.astype("boolean").fillna(by_organ).astype(bool)
    else:
        out["is_lymph_node"] = _organ_is_node(R, df.index)
    if "not_evaluable" in df.columns:
        given = parse_flags(R["not_evaluable"], label, "not_evaluable", col=col)
        ne = ne | as_bool(given.eq(1)).to_numpy()
    out["not_evaluable"] = ne
    if ne.any():
        out["diameter_mm"] = out["diameter_mm"].where(~ne)
    if dcol is not None:
        no_diam = is_target & blank(R[dcol]) & ~ne
        col.add_rows(
            label,
            dcol,
            no_diam,
            message="target lesion without a diameter",
            expected="a diameter ≥ 0, or NOT EVALUABLE / NE when it could not be measured",
        )
    _keep_other_columns(out, R, skip=("diameter_mm", "diameter_cm", "lymph_node", "status"))
    table = out.frame()
    _note_organ_changes(table, R)
    return dedupe_and_sort(
        label,
        table,
        ["patient_id", "assessment_date", "lesion_id"],
        col=col,
        describe=describe_keys(
            ("lesion ", "lesion_id"), (" of patient ", "patient_id"), (" on ", "assessment_date")
        ),
        sort=True,
        key_codes={
            "patient_id": R["patient_id"].canon_codes,
            "lesion_id": R["lesion_id"].canon_codes,
        },
    )


def _lesion_diameters(
    out: _Out, R: RawTable, is_target: pd.Series
) -> tuple[str | None, np.ndarray]:
    """``out["diameter_mm"]``: diameters in mm (``diameter_cm`` × 10), RECIST text codes
    mapped (noted). Returns the diameter column given (None: none) and the rows coded not
    evaluable."""
    df, label, col = R.df, R.label, R.col
    if "diameter_mm" in df.columns and "diameter_cm" in df.columns:
        col.add(
            label,
            1,
            "diameter_cm",
            message="both diameter_mm and diameter_cm are given",
            expected="one diameter column",
        )
    dcol = (
        "diameter_mm"
        if "diameter_mm" in df.columns
        else ("diameter_cm" if "diameter_cm" in df.columns else None)
    )
    if dcol is None:
        out["diameter_mm"] = np.nan
        if is_target.any():
            col.add(
                label,
                1,
                "diameter_mm",
                message="required column diameter_mm is missing (the table has target lesions)",
                expected="diameter_mm (or diameter_cm)",
            )
        return None, np.zeros(len(df), bool)
    masks: list[pd.Series] = []
    expected = f"a diameter ≥ 0 in {dcol[-2:]}, or TOO SMALL TO MEASURE / NOT EVALUABLE"
    diam = parse_numbers(
        R[dcol],
        label,
        dcol,
        col=col,
        expected=expected,
        minimum=0,
        codes=recist_codes(R.params),
        code_mask_out=masks,
    )
    small, ne = masks[0], masks[1]
    if dcol == "diameter_cm":
        measured = diam.notna() & ~small
        diam = diam.where(~measured, diam * 10.0)
        col.note(
            label,
            "diameter_cm",
            "converted_units",
            n_rows=int(measured.sum()),
            detail="diameter_cm × 10 -> diameter_mm",
        )
    _mapped_codes_noted(R, dcol, masks, detail=" (Parameters.too_small_to_measure_mm)")
    out["diameter_mm"] = diam.astype("float64")
    return dcol, ne.to_numpy(dtype=bool)


def _lesion_status(out: _Out, R: RawTable) -> np.ndarray:
    """``out["status"]``: the non-target status (categorical, NA when not given); returns the
    rows whose status is coded not evaluable (those become NA, noted)."""
    df, label, col = R.df, R.label, R.col
    if "status" not in df.columns:
        out["status"] = pd.Categorical.from_codes(
            np.full(len(df), -1, np.int8), categories=LESION_STATUSES
        )
        return np.zeros(len(df), bool)
    # "__ne__" is a fourth category: rows coded NE become missing with not_evaluable
    status = parse_categories(
        R["status"],
        label,
        "status",
        col=col,
        mapping=STATUS_MAP,
        expected="present, absent or unequivocal_progression",
        categories=[*LESION_STATUSES, "__ne__"],
    )
    codes = status.cat.codes.to_numpy()
    status_ne = codes == len(LESION_STATUSES)
    if status_ne.any():
        col.note(
            label,
            "status",
            "mapped_text_code",
            n_rows=int(status_ne.sum()),
            detail="status 'NE'/'not evaluable' -> NA with not_evaluable = True",
        )
        codes = np.where(status_ne, -1, codes).astype(codes.dtype)
    out["status"] = pd.Categorical.from_codes(codes, categories=LESION_STATUSES)
    return status_ne


def _id_codes(R: RawTable, out: pd.DataFrame, name: str) -> np.ndarray:
    """Integer codes (-1 = missing) of a canonical id column, reusing the reader's when known."""
    codes = R[name].canon_codes
    if codes is None:
        codes, _ = pd.factorize(out[name], use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _note_organ_changes(out: pd.DataFrame, R: RawTable) -> None:
    """Load-report note when a lesion id names different organs across a patient's scans.

    Not an error: organ is free text and is not used for the sum of diameters, but a lesion id
    reused for another lesion would make the lesion-level tracking wrong, so the user is told
    (organs compared case- and space-insensitively; O(n), no sort).
    """
    if "organ" not in R.df.columns or not R["organ"].is_object:
        return
    r = R["organ"]
    norm = r.u_text.str.lower().str.replace(r"\s+", " ", regex=True)
    u_codes, u_names = pd.factorize(norm, use_na_sentinel=True)
    if len(u_names) < 2:
        return
    org = r.values(u_codes.astype(np.int32), np.int32(-1))
    pc, lc = _id_codes(R, out, "patient_id"), _id_codes(R, out, "lesion_id")
    ok = (org >= 0) & (pc >= 0) & (lc >= 0)
    pos = None if ok.all() else np.flatnonzero(ok)
    if pos is not None:
        org, pc, lc = org[pos], pc[pos], lc[pos]
    if not len(org):
        return
    n_les = int(lc.max()) + 1
    key = pc * n_les + lc
    if (int(pc.max()) + 1) * n_les > 4 * len(key) + 1024:
        key, _ = pd.factorize(key)
    first_org = np.empty(int(key.max()) + 1, np.int32)
    first_org[key[::-1]] = org[::-1]  # the last write wins: each lesion's first organ
    diff = org != first_org[key]
    if not diff.any():
        return
    # the rare case with changes: positions of each changed row and of its lesion's first row
    first = np.empty(len(first_org), np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)
    rows = np.flatnonzero(diff)
    firsts = first[key[rows]]
    if pos is not None:
        rows, firsts = pos[rows], pos[firsts]
    n_lesions = len(np.unique(key[np.flatnonzero(diff)]))
    organ, pid, lid = (
        out["organ"].to_numpy(),
        out["patient_id"].to_numpy(),
        out["lesion_id"].to_numpy(),
    )
    spreadsheet = out.index.to_numpy()
    i, j = rows[0], firsts[0]
    R.col.note(
        R.label,
        "organ",
        "lesion_organ_changed",
        n_rows=int(diff.sum()),
        detail=f"{n_lesions} lesion id(s) name different organs across a patient's scans, e.g. "
        f"lesion {lid[i]} of patient {pid[i]}: {organ[j]!r} on row {spreadsheet[j]}, "
        f"{organ[i]!r} on row {spreadsheet[i]}; kept as given (check that lesion ids are "
        "not reused for another lesion)",
    )


def _organ_is_node(R: RawTable, index: pd.Index) -> pd.Series:
    """True where the organ names a lymph node (matched on the distinct organ names)."""
    if "organ" not in R.df.columns:
        return pd.Series(np.zeros(len(index), bool), index=index)
    r = R["organ"]
    if not r.is_object:
        return pd.Series(np.zeros(len(index), bool), index=index)
    u = r.u_text.str.lower().str.contains(LYMPH_RE, regex=True).eq(True).to_numpy(bool)
    return r.rows(u)


# --------------------------------------------------------------------------------------------
# per-scan sums (assessments) and the three-scan wide table (scans)


def assessments_table(R: RawTable) -> pd.DataFrame | None:
    """The canonical assessments table of a renamed raw table (per-scan sums in mm, RECIST text
    codes mapped with ``params.too_small_to_measure_mm``, new-lesion and new-organ counts,
    non-target progression); one row per scan, sorted by patient and date."""
    out = _new_table(R, "assessments")
    if out is None:
        return None
    df, label, col = R.df, R.label, R.col
    _scan_keys(out, R)
    masks: list[pd.Series] = []
    out["sld_mm"] = parse_numbers(
        R["sld_mm"],
        label,
        "sld_mm",
        col=col,
        expected="a sum of diameters ≥ 0 in mm, or NOT EVALUABLE",
        codes=recist_codes(R.params),
        code_mask_out=masks,
    )
    ne = masks[1]
    _mapped_codes_noted(R, "sld_mm", masks, detail="")
    for c in ("new_lesions", "new_organs"):
        if c in df.columns:
            out[c] = _integers(R[c], label, c, col=col, expected="a count 0, 1, 2 …")
        else:
            out[c] = pd.Series(pd.NA, index=df.index, dtype="Int64")
            col.note(
                label, c, "missing_optional_column", n_rows=len(df), detail=f"{c} not given: NA"
            )
    if "non_target_pd" in df.columns:
        out["non_target_pd"] = parse_flags(
            R["non_target_pd"], label, "non_target_pd", col=col
        ).astype("boolean")
    else:
        out["non_target_pd"] = pd.Series(pd.NA, index=df.index, dtype="boolean")
        col.note(
            label,
            "non_target_pd",
            "missing_optional_column",
            n_rows=len(df),
            detail="non_target_pd not given: NA",
        )
    out["not_evaluable"] = ne.astype(bool)
    _keep_other_columns(out, R)
    return dedupe_and_sort(
        label,
        out.frame(),
        ["patient_id", "assessment_date"],
        col=col,
        describe=describe_keys(("scan of patient ", "patient_id"), (" on ", "assessment_date")),
        sort=True,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )


def scans_table(R: RawTable) -> pd.DataFrame | None:
    """The canonical three-scan wide table of a renamed raw table: the pre-baseline, baseline
    and first-evaluation sums (mm, RECIST text codes mapped) with their dates, each date after
    the one before; one row per patient, in the file's order."""
    out = _new_table(R, "scans")
    if out is None:
        return None
    df, label, col = R.df, R.label, R.col
    _required_id(out, R, "patient_id", expected="the patient's identifier")
    codes = recist_codes(R.params)
    for c in SCAN_SLD:
        masks: list[pd.Series] = []
        out[c] = parse_numbers(
            R[c],
            label,
            c,
            col=col,
            expected="a sum of diameters ≥ 0 in mm",
            codes=codes,
            code_mask_out=masks,
        )
        col.note_rows(
            label,
            c,
            "mapped_text_code",
            mask=masks[0] | masks[1],
            detail=f"'TOO SMALL TO MEASURE' -> {R.params.too_small_to_measure_mm:g} mm, "
            "'NOT EVALUABLE' -> NaN",
        )
    for c in SCAN_DATES:
        out[c] = parse_dates(R[c], label, c, col=col)
    for s_col, d_col in zip(SCAN_SLD, SCAN_DATES, strict=True):
        given = ~blank(R[s_col])
        col.add_rows(
            label,
            d_col,
            given & blank(R[d_col]),
            message=f"{s_col} is given without a date",
            expected=ISO_DATE_EXPECTED,
        )
    for a, b in ((SCAN_DATES[0], SCAN_DATES[1]), (SCAN_DATES[1], SCAN_DATES[2])):
        bad = out[a].notna() & out[b].notna() & (out[b] <= out[a])
        col.add_rows(
            label,
            b,
            bad,
            message=value_message("", f" is not after {a}"),
            expected=f"{b} later than {a}",
            values=iso_dates(out[b], bad),
        )
    if "new_lesions_first_eval" in df.columns:
        out["new_lesions_first_eval"] = _integers(
            R["new_lesions_first_eval"],
            label,
            "new_lesions_first_eval",
            col=col,
            expected="a count 0, 1, 2 …",
        )
    if "non_target_pd_first_eval" in df.columns:
        out["non_target_pd_first_eval"] = parse_flags(
            df["non_target_pd_first_eval"], label, "non_target_pd_first_eval", col=col
        ).astype("boolean")
    if "treatment_start" in df.columns:
        out["treatment_start"] = parse_dates(
            R["treatment_start"], label, "treatment_start", col=col
        )
    _keep_other_columns(out, R)
    return dedupe_and_sort(
        label,
        out.frame(),
        ["patient_id"],
        col=col,
        describe=describe_keys(("patient ", "patient_id")),
        sort=False,
        key_codes={"patient_id": R["patient_id"].canon_codes},
    )
