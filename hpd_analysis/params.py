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

#: One day in seconds (the one day length of the package).
SECONDS_PER_DAY: int = 86_400

#: One day in nanoseconds, the unit of numpy/pandas ``datetime64[ns]`` values.
NS_PER_DAY: int = SECONDS_PER_DAY * 10**9


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


#: baseline predictors of the prediction model by default (those present in the cohort): the
#: short literature set of the odds-ratio section (Lin et al. 2021; the scores are not added:
#: they are sums of these factors)
DEFAULT_PREDICTORS: tuple[str, ...] = (
    "age_ge_65",
    "ecog_baseline",
    "n_metastatic_sites_gt_2",
    "liver_metastasis",
    "ldh_above_uln",
    "nlr",
)
#: single markers drawn as ROC curves by default (those present): LDH and the two scores
DEFAULT_MARKERS: tuple[str, ...] = (
    "ldh_uln_ratio",
    "ldh",
    "ldh_above_uln",
    "rmh_score",
    "lipi_score",
)


def _names(value: object, key: str) -> tuple[str, ...] | None:
    """None, a sequence of column names, or one comma-separated string -> tuple of names."""
    if value is None:
        return None
    if isinstance(value, str):
        # also the text of a list or tuple (``['a', 'b']``: how a tuple reaches a notebook)
        text = value.strip().strip("[]()").strip()
        if text.lower() in ("", "none", "default"):
            return None
        value = [v.strip().strip("'\"").strip() for v in text.split(",")]
        value = [v for v in value if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(
            f"{key}={value!r}: expected column names (a list, or one "
            "comma-separated string), or none for the default"
        )
    return tuple(value)


@dataclass(frozen=True)
class Prediction:
    """Options of the prediction part of the risk-factor section (:mod:`hpd_analysis.prediction`).

    Settable as ``prediction.<key>`` (``hpd report --set prediction.penalty=ridge``).
    """

    #: baseline predictors of the model (patient columns, derived factors, scores, biomarker early
    #: changes); None = :data:`DEFAULT_PREDICTORS` present in the cohort
    predictors: tuple[str, ...] | None = None
    #: ``firth`` (Firth 1993 bias-reduced logistic regression, no tuning; default: robust with few
    #: events and separation) or ``ridge`` (L2-penalized, scikit-learn, on standardized predictors)
    penalty: Literal["firth", "ridge"] = "firth"
    #: inverse ridge penalty strength C (scikit-learn ``LogisticRegression(C=...)``; default 1.0,
    #: scikit-learn's default) on predictors standardized to mean 0 / SD 1; unused with Firth
    ridge_c: float = 1.0
    #: bootstrap replicates of Harrell's optimism correction (Harrell 2015 suggests 150-200)
    optimism_replicates: int = 200
    #: bootstrap replicates of the AUC 95 % CI (stratified, as pROC's ``ci.auc``; 2000 = pROC)
    auc_replicates: int = 2000
    #: seed of every bootstrap (NumPy ``default_rng``): same seed, same numbers
    seed: int = 2024
    #: single markers drawn as ROC curves per definition; None = :data:`DEFAULT_MARKERS` present
    markers: tuple[str, ...] | None = None
    #: longitudinal biomarker (``biomarkers.csv`` marker name) whose early change enters the
    #: candidates; None = every marker of the table
    early_change_markers: tuple[str, ...] | None = None
    #: latest first on-treatment biomarker value for the early change, days after the start
    #: (default 63 = 9 weeks: before the first evaluation scan of most protocols)
    early_change_max_days: int = 63
    #: above this many complete cases the bootstraps are not run (time grows with n x replicates;
    #: a Firth fit on 100,000 patients takes ~1 s): the AUC CI is DeLong's and the optimism is
    #: not estimated (said in the tables); raise it to bootstrap larger cohorts
    max_bootstrap_patients: int = 2000

    def __post_init__(self) -> None:
        for name in ("predictors", "markers", "early_change_markers"):
            object.__setattr__(self, name, _names(getattr(self, name), f"prediction.{name}"))
        if self.penalty not in ("firth", "ridge"):
            raise ValueError(f"prediction.penalty={self.penalty!r}: expected firth or ridge")
        try:
            c = float(self.ridge_c)
        except (TypeError, ValueError):
            c = float("nan")
        if not c > 0:
            raise ValueError(f"prediction.ridge_c={self.ridge_c!r}: expected a number > 0")
        object.__setattr__(self, "ridge_c", c)
        for name, low in (
            ("optimism_replicates", 10),
            ("auc_replicates", 100),
            ("seed", 0),
            ("early_change_max_days", 1),
            ("max_bootstrap_patients", 100),
        ):
            v = getattr(self, name)
            try:
                iv = int(v)
                ok = iv == float(v) and iv >= low and not isinstance(v, bool)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"prediction.{name}={v!r}: expected a whole number >= {low}")
            object.__setattr__(self, name, iv)


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
        if self.rereads is not None and (
            not isinstance(self.rereads, int) or isinstance(self.rereads, bool) or self.rereads < 0
        ):
            raise ValueError(
                f"uncertainty.rereads={self.rereads!r}: expected a whole number "
                "of re-reads >= 0 (0: off)"
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"uncertainty.seed={self.seed!r}: expected a whole number >= 0")
        for name in ("spread", "node_spread", "sum_spread"):
            v = getattr(self, name)
            if v is None and name == "node_spread":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 2:
                raise ValueError(
                    f"uncertainty.{name}={v!r}: expected a log-scale SD between 0 "
                    "and 2 (e.g. 0.121)"
                )
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
                raise ValueError(
                    f"uncertainty.organ_spread={self.organ_spread!r}: expected "
                    "organ=SD pairs separated by commas, SD between 0 and 2 "
                    "(e.g. 'liver=0.10,lung=0.13')"
                )
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
            raise ValueError(
                f"guards.pre_change_floor_pct={v!r}: expected a percentage from 0 "
                "(off) to below 100, e.g. 10"
            )


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
            raise ValueError(
                f"rules.new_lesions_when_unrecorded={v!r}: expected 'unknown' or 'none'"
            )
        if not isinstance(self.irecist, bool):
            raise ValueError(f"rules.irecist={self.irecist!r}: expected true or false")
        for name in ("baseline_target_min_mm", "baseline_node_min_mm"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, int | float) or x < 0:
                raise ValueError(
                    f"rules.{name}={x!r}: expected a diameter in mm >= 0 (0: no check)"
                )


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
                raise ValueError(
                    f"statistics.{name}={getattr(self, name)!r}: expected one of "
                    f"{', '.join(choices)}"
                )
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
                    raise ValueError(
                        f"statistics.reference_levels={self.reference_levels!r}: "
                        f"{item!r} is not variable=level"
                    )
                named[var.strip()] = level.strip()
            elif item.lower() in ("largest", "first"):
                rule = item.lower()
            else:
                raise ValueError(
                    f"statistics.reference_levels={self.reference_levels!r}: "
                    f"expected largest or first, then variable=level pairs"
                )
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
        for name in (
            "warn_targets_per_scan",
            "warn_scan_days_before_start",
            "warn_treatment_start_before_year",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"plausibility.{name}={v!r}: expected a whole number ≥ 0")
        if not isinstance(self.progression_from_scans, bool):
            raise ValueError(
                f"plausibility.progression_from_scans={self.progression_from_scans!r}"
                ": expected true or false"
            )
        cut = self.data_cutoff
        if cut is not None:
            import datetime as _dt

            try:
                _dt.date.fromisoformat(str(cut))
            except ValueError:
                raise ValueError(
                    f"plausibility.data_cutoff={cut!r}: expected an ISO date YYYY-MM-DD or none"
                ) from None
            object.__setattr__(self, "data_cutoff", str(cut))


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
            raise ValueError(
                f"labels.file={self.file!r}: expected the path of a CSV "
                "(variable,label) or YAML (variable: label) file, or none"
            )
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
    #: options of the statistical methods (docs/statistics.md)
    statistics: Statistics = field(default_factory=Statistics)
    #: growth-model options (``growth.alpha``), see :class:`Growth`
    growth: Growth = field(default_factory=Growth)
    #: prediction part of the risk-factor section (model, bootstraps, seed)
    prediction: Prediction = field(default_factory=Prediction)
    #: plausibility checks of the loader (errors / warnings and the values that accept them)
    plausibility: Plausibility = field(default_factory=Plausibility)
    #: labels of the cohort's columns in typeset tables and figures (issue 11, outputs)
    labels: Labels = field(default_factory=Labels)
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
            if is_dataclass(v) and not isinstance(v, type):
                out.update({f"{f.name}.{k}": gv for k, gv in asdict(v).items()})
            else:
                out[f.name] = v
        return out

    @classmethod
    def groups(cls) -> dict[str, type]:
        """The nested parameter groups: field name -> dataclass (e.g. ``{"windows": Windows}``)."""
        inst = cls()
        return {
            f.name: type(getattr(inst, f.name))
            for f in fields(cls)
            if is_dataclass(getattr(inst, f.name))
        }

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
