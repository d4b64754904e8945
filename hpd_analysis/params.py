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
      ``prebaseline_min_days_before_baseline`` days (default 28: RECIST 1.1 does not accept two
      scans less than 4 weeks apart as evidence of a change (confirmation of a response >= 4 weeks,
      Eisenhauer et al., Eur J Cancer 2009;45:228-247); a pre-baseline scan a day before baseline
      gives TGR_pre from measurement noise alone. No HPD source states a minimum; 1 = the former
      default, only a distinct date).
    - first evaluation: the first assessment at least ``first_eval_min_days`` days after
      ``treatment_start`` (and at most ``first_eval_max_days`` when set).
    """

    baseline_max_days_before: int = 42
    prebaseline_max_days_before_baseline: int = 183
    prebaseline_min_days_before_baseline: int = 28
    first_eval_min_days: int = 14
    first_eval_max_days: int | None = None


#: log-scale SD of one re-measured lesion diameter: Yoon et al., Eur J Cancer 2016;53:5-15 (meta-
#: analysis of 12 studies), pooled 95 % limits of agreement of the relative measurement difference of
#: single-lesion longest diameters between observers -22.1 % to +25.4 % (half-width 23.75 % = 1.96 SD)
INTER_READER_LOG_SD: float = 0.121
#: the same within one observer: -17.8 % to +16.1 % (half-width 16.95 %)
INTRA_READER_LOG_SD: float = 0.086
#: the same for a sum of several lesions between observers: -19.2 % to +19.5 % (half-width 19.35 %)
SUM_INTER_READER_LOG_SD: float = 0.099


@dataclass(frozen=True)
class Uncertainty:
    """Seeded re-read model of the tumour measurements (:mod:`hpd_analysis.uncertainty`).

    Each measured diameter (lesion x scan; lymph nodes by short axis, as recorded) is multiplied by
    ``exp(sd * z)``, ``z`` standard normal, independently per lesion and scan; ``sd`` from the
    published RECIST observer variability (see ``INTER_READER_LOG_SD``).
    """

    #: re-reads per patient; None: off in ``hpd classify``, 200 in the report; 0: off
    rereads: int | None = None
    #: seed of the random generator (same seed, same inputs: byte-identical outputs)
    seed: int = 20160101
    #: log-scale SD per lesion diameter (unitless; 0.121 = inter-reader, Yoon 2016; intra-reader
    #: 0.086)
    spread: float = INTER_READER_LOG_SD
    #: log-scale SD for lymph-node short axes (None: ``spread``)
    node_spread: float | None = None
    #: per-organ log-scale SDs, ``"liver=0.10,lung=0.13"`` (organ names case-insensitive; others
    #: use ``spread``)
    organ_spread: str = ""
    #: log-scale SD of a per-scan sum when only sums are given (assessments / three-scan files;
    #: Yoon 2016 sum of lesions between observers)
    sum_spread: float = SUM_INTER_READER_LOG_SD

    def __post_init__(self) -> None:
        if self.rereads is not None and (not isinstance(self.rereads, int)
                                         or isinstance(self.rereads, bool) or self.rereads < 0):
            raise ValueError(f"uncertainty.rereads={self.rereads!r}: expected a whole number "
                             "of re-reads >= 0 (0: off)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"uncertainty.seed={self.seed!r}: expected a whole number >= 0")
        for name in ("spread", "node_spread", "sum_spread"):
            v = getattr(self, name)
            if v is None and name == "node_spread":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 2:
                raise ValueError(f"uncertainty.{name}={v!r}: expected a log-scale SD between 0 "
                                 "and 2 (e.g. 0.121)")
        self.organ_spreads()

    def organ_spreads(self) -> dict[str, float]:
        """``organ_spread`` parsed: lower-cased organ name -> log-scale SD."""
        out: dict[str, float] = {}
        for item in str(self.organ_spread or "").replace(";", ",").split(","):
            if not item.strip():
                continue
            organ, sep, value = item.partition("=")
            try:
                sd = float(value)
            except ValueError:
                sd = -1.0
            if not sep or not organ.strip() or not 0 <= sd <= 2:
                raise ValueError(f"uncertainty.organ_spread={self.organ_spread!r}: expected "
                                 "organ=SD pairs separated by commas, SD between 0 and 2 "
                                 "(e.g. 'liver=0.10,lung=0.13')")
            out[organ.strip().lower()] = sd
        return out


@dataclass(frozen=True)
class Guards:
    """Guards of the reference (pre-treatment) period of the ratio definitions."""

    #: noise floor (%): when the pre-treatment SLD change |S_0 / S_pre - 1| is below it, TGR_pre
    #: and TGK_pre are measurement noise and the TGR / TGK ratios are not evaluable (reason
    #: given); 0 = off. Default 10 %: changes under 10 % arise from re-imaging alone (Oxnard,
    #: Zhao et al., J Clin Oncol 2011;29:3114; 84 % of same-day re-scan changes within +-10 %)
    #: and the pooled 95 % limits of agreement of one observer re-measuring a sum of lesions are
    #: -9.8 % to +13.1 % (Yoon et al., Eur J Cancer 2016;53:5-15).
    pre_change_floor_pct: float = 10.0

    def __post_init__(self) -> None:
        v = self.pre_change_floor_pct
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 100:
            raise ValueError(f"guards.pre_change_floor_pct={v!r}: expected a percentage from 0 "
                             "(off) to below 100, e.g. 10")


@dataclass(frozen=True)
class Rules:
    """Rule choices where the input does not say everything RECIST 1.1 needs."""

    #: new lesions at the first evaluation not recorded (a three-scan file without
    #: ``new_lesions_first_eval``, per-scan sums without ``new_lesions``): ``unknown`` (default:
    #: RECIST PD is unknown, i.e. ``NE``, unless the SLD alone gives PD, so PD-requiring
    #: definitions are not evaluable) or ``none`` (the user states there were none)
    new_lesions_when_unrecorded: str = "unknown"
    #: RECIST 1.1 measurability at baseline (Eisenhauer 2009): every non-nodal target >= 10 mm
    #: longest diameter, every nodal target >= 15 mm short axis; a baseline below it has no
    #: measurable SLD (reason given). 0 relaxes the check. Lesion-level data only.
    baseline_target_min_mm: float = 10.0
    baseline_node_min_mm: float = 15.0
    #: add the iRECIST course after the first evaluation to ``hpd classify`` (columns
    #: ``irecist_course``, ``pseudoprogression``, ``later_response``; about doubles classify's
    #: time on large cohorts; the report always shows it)
    irecist: bool = False

    def __post_init__(self) -> None:
        v = self.new_lesions_when_unrecorded
        if v is None:  # ``--set rules.new_lesions_when_unrecorded=none`` parses as None
            object.__setattr__(self, "new_lesions_when_unrecorded", "none")
        elif v not in ("unknown", "none"):
            raise ValueError(f"rules.new_lesions_when_unrecorded={v!r}: expected 'unknown' or "
                             "'none'")
        if not isinstance(self.irecist, bool):
            raise ValueError(f"rules.irecist={self.irecist!r}: expected true or false")
        for name in ("baseline_target_min_mm", "baseline_node_min_mm"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, int | float) or x < 0:
                raise ValueError(f"rules.{name}={x!r}: expected a diameter in mm >= 0 (0: no "
                                 "check)")


#: choices of :class:`Statistics` fields (validated in ``__post_init__``)
_STAT_CHOICES: dict[str, tuple[str, ...]] = {
    "landmark_lookahead": ("extend", "truncate"),
    "firth": ("auto", "always", "never"),
    "missing": ("complete_case", "mice"),
}


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"statistics.{name}={value!r}: expected true or false")


@dataclass(frozen=True)
class Statistics:
    """Options of the statistical methods (survival, risk factors); every method and its
    reference is in ``docs/statistics.md``.

    - ``landmark_lookahead``: a definition whose rule reads time beyond the landmark (Kato's and
      Lo Russo's TTF < 2 months, Gandara's death by day 84): ``extend`` (default) raises the
      landmark of that comparison to the latest time the rule reads, so that every verdict is
      decidable at the landmark; ``truncate`` keeps the landmark and leaves out (and counts) the
      patients whose verdict became known only after it (the rule evaluated with the information
      available at the landmark).
    - ``reference_levels``: reference level of a categorical risk factor: ``largest`` (default,
      the most frequent level: the most precise comparisons; ties by sort order), ``first`` (first
      sorted level), optionally followed by ``variable=level`` pairs naming it per variable, e.g.
      ``largest,tumor_type=NSCLC``.
    - ``firth``: Firth's penalized likelihood logistic regression (Firth 1993; Heinze & Schemper
      2002): ``auto`` (default: only when the maximum-likelihood fit separates), ``always`` or
      ``never``.
    - ``ci_profile``: profile-likelihood confidence intervals of odds ratios instead of Wald
      (default false: Wald, as most HPD papers report).
    - ``missing``: missing covariates: ``complete_case`` (default) or ``mice`` (multiple imputation
      by chained equations, statsmodels MICE, pooled with Rubin's rules, shown beside the
      complete-case odds ratios).
    - ``mice_imputations``: number of imputed data sets (default 20; White, Royston & Wood 2011
      suggest at least the percentage of incomplete cases).
    - ``mice_seed``: seed of the imputations (default 0: same tables for the same inputs).
    - ``log2_skewed``: skewed positive covariates (NLR, dNLR, LDH; any continuous covariate
      with positive values and sample skewness > 1) enter the models on the log2 scale (odds
      ratio per doubling; default true).
    - ``exact_fisher``: an r × c table of Table 1 with an expected count < 5 also gets Fisher's
      exact test (default true; beside the Monte Carlo chi-squared p).
    """

    landmark_lookahead: str = "extend"
    reference_levels: str = "largest"
    firth: str = "auto"
    ci_profile: bool = False
    missing: str = "complete_case"
    mice_imputations: int = 20
    mice_seed: int = 0
    log2_skewed: bool = True
    exact_fisher: bool = True

    def __post_init__(self) -> None:
        for name, choices in _STAT_CHOICES.items():
            value = str(getattr(self, name)).strip().lower()
            if value not in choices:
                raise ValueError(f"statistics.{name}={getattr(self, name)!r}: expected one of "
                                 f"{', '.join(choices)}")
            object.__setattr__(self, name, value)
        for name in ("ci_profile", "log2_skewed", "exact_fisher"):
            object.__setattr__(self, name, _as_bool(getattr(self, name), name))
        for name, low in (("mice_imputations", 2), ("mice_seed", 0)):
            value = getattr(self, name)
            try:
                ok = int(value) == float(value) and int(value) >= low
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"statistics.{name}={value!r}: expected an integer >= {low}")
            object.__setattr__(self, name, int(value))
        self.reference_map()  # validates the text

    def reference_map(self) -> tuple[str, dict[str, str]]:
        """``(rule, {variable: level})`` of ``reference_levels``: rule ``largest`` or
        ``first``, and the levels named per variable."""
        rule, named = "largest", {}
        for item in str(self.reference_levels).split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                var, _, level = item.partition("=")
                if not var.strip() or not level.strip():
                    raise ValueError(f"statistics.reference_levels={self.reference_levels!r}: "
                                     f"{item!r} is not variable=level")
                named[var.strip()] = level.strip()
            elif item.lower() in ("largest", "first"):
                rule = item.lower()
            else:
                raise ValueError(f"statistics.reference_levels={self.reference_levels!r}: "
                                 f"expected largest or first, then variable=level pairs")
        return rule, named


@dataclass(frozen=True)
class Growth:
    """Options of the Stein–Wilkerson growth-model fits (:mod:`hpd_analysis.growth`)."""

    #: significance level for keeping a model: every parameter's t-test p-value must be below it
    #: (dimensionless; default 0.05, the value of tumgr's documentation and of Stein et al. 2011)
    alpha: float = 0.05

    def __post_init__(self) -> None:
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a < 1:
            raise ValueError(f"growth.alpha={a!r}: expected a number strictly between 0 and 1")


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
    #: options of the statistical methods (docs/statistics.md)
    statistics: Statistics = field(default_factory=Statistics)
    #: growth-model options (``growth.alpha``), see :class:`Growth`
    growth: Growth = field(default_factory=Growth)
    #: seeded re-read model of the measurements (measurement uncertainty of every verdict)
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    #: guards of the reference period (noise floor on the pre-treatment change)
    guards: Guards = field(default_factory=Guards)
    #: rule choices for incomplete inputs (new lesions unrecorded, baseline measurability)
    rules: Rules = field(default_factory=Rules)

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
