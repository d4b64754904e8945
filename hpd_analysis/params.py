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
class Labels:
    """Labels of the cohort's columns in the typeset tables (Table 1, odds ratios) and the
    forest plot (``--set labels.file=labels.csv``).

    ``file``: a CSV file with columns ``variable,label`` or a YAML mapping ``variable: label``;
    a relative path is read from the cohort folder. None (default): the built-in labels of the
    usual cohort columns (``hpd_analysis.tables.VARIABLE_LABELS``), else the column names.
    """

    file: str | None = None

    def __post_init__(self) -> None:
        if self.file is not None and (not isinstance(self.file, str) or not self.file.strip()):
            raise ValueError(f"labels.file={self.file!r}: expected the path of a CSV "
                             "(variable,label) or YAML (variable: label) file, or none")
        if isinstance(self.file, str) and self.file.strip().lower() in ("none", "null"):
            object.__setattr__(self, "file", None)


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
    #: labels of the cohort's columns in typeset tables and figures (issue 11, outputs)
    labels: Labels = field(default_factory=Labels)

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
