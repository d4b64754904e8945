"""Analysis parameters: time-point windows and the kinetic policies shared by every definition.

Every ambiguous choice of the literature is a parameter with a documented default; the report
prints the values used (``Parameters.to_dict``). Definition-specific thresholds live with each
definition in :mod:`hpd_analysis.definitions`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal

#: Days per month used for every time in months (Ferté's reference code: 365.25 / 12).
DAYS_PER_MONTH: float = 30.4375


@dataclass(frozen=True)
class Windows:
    """Windows (in days) that pick the three scans of the kinetic analysis.

    - baseline: the last assessment on or before ``treatment_start`` and at most
      ``baseline_max_days_before`` days before it.
    - pre-baseline: the latest assessment strictly before baseline, at most
      ``prebaseline_max_days_before_baseline`` days before baseline and at least
      ``prebaseline_min_days_before_baseline`` days (default 1: no minimum gap beyond a distinct date).
    - first evaluation: the first assessment at least ``first_eval_min_days`` days after
      ``treatment_start`` (and at most ``first_eval_max_days`` when set).
    """

    baseline_max_days_before: int = 42
    prebaseline_max_days_before_baseline: int = 183
    prebaseline_min_days_before_baseline: int = 1
    first_eval_min_days: int = 14
    first_eval_max_days: int | None = None


@dataclass(frozen=True)
class Plausibility:
    """Plausibility checks of the loader (:mod:`hpd_analysis.load`) and what accepts them.

    Values beyond an ``max_*`` limit are impossible and stop the load (an error naming the
    parameter that accepts them); values beyond a ``warn_*`` limit are implausible: the cohort
    loads, ``hpd validate`` prints a warning and ``cohort.load_report`` records it (action
    ``warning``). Defaults are the workbench's own, chosen so that real cohorts (the bundled
    example, simulated cohorts, the external trial tables) pass without a warning.
    """

    #: a lesion diameter above this (mm) is an error: no lesion is longer than 2 m (1e308, 1e6)
    max_diameter_mm: float = 2000.0
    #: a lesion diameter above this (mm) is a warning (the bundled example's largest is 396 mm)
    warn_diameter_mm: float = 500.0
    #: a sum of diameters (``sld_mm`` and the wide scans table) above this (mm) is an error
    max_sld_mm: float = 10000.0
    #: more target lesions than this on one scan is a warning (RECIST 1.1: at most 5; 1.0: 10)
    warn_targets_per_scan: int = 10
    #: every measured target diameter of a lesions table below this (mm) is a warning: the
    #: table is probably in centimetres (RECIST 1.1's minimum measurable size is 10 mm);
    #: 0 turns the check off
    cm_like_below_mm: float = 10.0
    #: data cut-off (ISO date, ``YYYY-MM-DD``); a date after it is an error (a death, contact,
    #: progression, scan or treatment start in the future). ``None``: the day of the load
    data_cutoff: str | None = None
    #: a scan more than this many days before treatment start is a warning (about 2 years)
    warn_scan_days_before_start: int = 730
    #: a treatment start before this year is a warning (immune checkpoint inhibitor trials
    #: began in 2006; Excel's 1900 epoch and typos fall before)
    warn_treatment_start_before_year: int = 2006
    #: derive PFS from the scans when ``progression_date`` (and ``pfs_months``) is missing: the
    #: first on-treatment scan with RECIST 1.1 overall response PD is the progression date;
    #: off: ``hpd validate`` warns
    progression_from_scans: bool = False

    def __post_init__(self) -> None:
        for name in ("max_diameter_mm", "warn_diameter_mm", "max_sld_mm", "cm_like_below_mm"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"plausibility.{name}={v!r}: expected a number of mm ≥ 0")
        for name in ("warn_targets_per_scan", "warn_scan_days_before_start",
                     "warn_treatment_start_before_year"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"plausibility.{name}={v!r}: expected a whole number ≥ 0")
        if not isinstance(self.progression_from_scans, bool):
            raise ValueError(f"plausibility.progression_from_scans={self.progression_from_scans!r}"
                             ": expected true or false")
        cut = self.data_cutoff
        if cut is not None:
            import datetime as _dt
            try:
                _dt.date.fromisoformat(str(cut))
            except ValueError:
                raise ValueError(f"plausibility.data_cutoff={cut!r}: expected an ISO date "
                                 "YYYY-MM-DD or none") from None
            object.__setattr__(self, "data_cutoff", str(cut))


@dataclass(frozen=True)
class Parameters:
    """Cohort-wide analysis parameters (units in the names)."""

    windows: Windows = field(default_factory=Windows)
    #: days in one month for TGR/TGK and times to event
    days_per_month: float = DAYS_PER_MONTH
    #: TGK as mm/month (``absolute``) or % of the starting SLD per month (``relative``)
    tgk_mode: Literal["absolute", "relative"] = "absolute"
    #: TGR_pre or TGK_pre <= 0: ``not_evaluable`` (ratio undefined, default), ``ratio`` (use the
    #: ratio as computed; a ratio of two negatives may read >= 2) or ``infinite_if_on_positive``
    #: (pre <= 0 and on > 0 gives ratio +inf; otherwise not evaluable)
    nonpositive_pre_growth: Literal["not_evaluable", "ratio", "infinite_if_on_positive"] = (
        "not_evaluable"
    )
    #: RECIST 1.1 default diameter for a lesion 'too small to measure' (mm)
    too_small_to_measure_mm: float = 5.0
    #: a death without a recorded cause counts as death from progression (fast-progression rule)
    death_without_cause_is_progression: bool = True
    #: plausibility checks of the loader (errors / warnings and the values that accept them)
    plausibility: Plausibility = field(default_factory=Plausibility)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict of every parameter; the fields of a nested group (``windows`` and any
        other dataclass-valued field) are prefixed with the group's name (``windows.first_eval_min_days``)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if is_dataclass(v):
                out.update({f"{f.name}.{k}": gv for k, gv in asdict(v).items()})
            else:
                out[f.name] = v
        return out

    @classmethod
    def groups(cls) -> dict[str, type]:
        """The nested parameter groups: field name -> dataclass (e.g. ``{"windows": Windows}``)."""
        inst = cls()
        return {f.name: type(getattr(inst, f.name)) for f in fields(cls)
                if is_dataclass(getattr(inst, f.name))}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Parameters:
        """Build from a (possibly flat, ``group.``-prefixed, or nested) dict; unknown keys raise."""
        values = dict(values or {})
        groups = cls.groups()
        nested: dict[str, dict[str, Any]] = {g: dict(values.pop(g, {}) or {}) for g in groups}
        for k in list(values):
            head, dot, tail = k.partition(".")
            if dot and head in groups:
                nested[head][tail] = values.pop(k)
        known = {f.name for f in fields(cls)} - set(groups)
        bad = sorted(set(values) - known)
        valid = set(known)
        for g, gcls in groups.items():
            gknown = {f.name for f in fields(gcls)}
            bad += sorted(f"{g}.{k}" for k in set(nested[g]) - gknown)
            valid |= {f"{g}.{k}" for k in gknown}
        if bad:
            raise ValueError(
                f"unknown parameter(s): {', '.join(bad)} "
                f"(expected one of: {', '.join(sorted(valid))})"
            )
        return replace(cls(**values), **{g: gcls(**nested[g]) for g, gcls in groups.items()})
