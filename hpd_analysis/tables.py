"""Publication formatting of the report's tables: Table 1, incidence, agreement, odds ratios and
survival, typeset as a journal takes them (the habits of R's gtsummary).

The CSV files under ``tables/`` stay machine-readable and unrounded; this module only makes the
*displayed* versions, from those same DataFrames:

- ``format_*`` functions turn a package table into a display table (strings, no index): one row
  per binary variable, counts as ``n (%)``, medians as ``median [Q1, Q3]``, p-values as
  ``<0.001`` or two significant digits, variables labelled (:func:`variable_labels`, overridable),
  and a list of footnotes naming every test and CI method (``.attrs["footnotes"]``), a title
  (``.attrs["title"]``);
- :func:`to_html` typesets a display table with great_tables as static HTML that loads nothing
  from the network (no web font), wraps long texts instead of cutting them and scrolls
  horizontally when wider than the page; :func:`typeset` is what the notebooks' display cells call;
- :mod:`hpd_analysis.docx_report` writes the same display tables into ``tables.docx``.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------------
# numbers

#: display of a missing number
NA_TEXT = "—"


def p_value_text(p: Any) -> str:
    """A p-value for a table: ``<0.001`` below 0.001, else two significant digits (``0.032``,
    ``0.41``, ``1.0``); empty when missing."""
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "" if p is None else str(p)
    if not math.isfinite(v):
        return ""
    if v < 0.001:
        return "<0.001"
    return _sig(v, 2)


def _sig(v: float, digits: int) -> str:
    """``v`` with ``digits`` significant digits, trailing zeros kept (0.10, 1.0), no exponent."""
    if v == 0:
        return "0"
    v = float(f"{v:.{digits}g}")  # round first: 0.996 -> 1.0, whose exponent sets the decimals
    exp = math.floor(math.log10(abs(v)))
    decimals = max(digits - 1 - exp, 0)
    return f"{v:.{decimals}f}"


def format_number(v: Any, decimals: int = 1) -> str:
    """A number with fixed decimals; ``NR`` for +inf (not reached); empty when missing."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "" if v is None else str(v)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "NR" if x > 0 else "−inf"
    text = f"{x:.{decimals}f}"
    return "−" + text[1:] if text.startswith("-") and float(text) != 0 else text.lstrip("-")


def format_ci(est: Any, low: Any, high: Any, *, decimals: int = 2) -> str:
    """``1.85 (1.20–2.86)``: an estimate and its confidence interval; empty when the estimate
    is missing, the estimate alone when the interval is."""
    e = format_number(est, decimals)
    if not e:
        return ""
    lo, hi = format_number(low, decimals), format_number(high, decimals)
    if not lo or not hi:
        return e
    return f"{e} ({lo}–{hi})"


def format_count_percent(n: Any, total: Any, decimals: int = 1) -> str:
    """``12 (8.3 %)`` — a count and its percentage of ``total``; the count alone when the
    total is 0 or missing; a masked count (``<5``) as it is."""
    if isinstance(n, str) and not n.strip().lstrip("-").isdigit():
        return n
    try:
        k, t = int(float(n)), float(total)
    except (TypeError, ValueError):
        return "" if n is None else str(n)
    if not t or math.isnan(t):
        return str(k)
    return f"{k} ({100.0 * k / t:.{decimals}f} %)"


# --------------------------------------------------------------------------------------------
# variable labels

#: labels of the cohort's usual columns (``docs/cohort-format.md``) and of the derived factors
VARIABLE_LABELS: dict[str, str] = {
    "age": "Age, years",
    "age_ge_65": "Age ≥ 65 years",
    "sex": "Sex",
    "ecog_baseline": "ECOG performance status at baseline",
    "n_metastatic_sites": "Metastatic sites",
    "n_metastatic_sites_gt_2": "More than 2 metastatic sites",
    "liver_metastasis": "Liver metastasis",
    "ldh_above_uln": "LDH above the upper limit of normal",
    "ldh": "LDH",
    "nlr": "Neutrophil-to-lymphocyte ratio",
    "dnlr": "Derived neutrophil-to-lymphocyte ratio",
    "pdl1_tps": "PD-L1 tumour proportion score, %",
    "mdm2_amp": "MDM2/MDM4 amplification",
    "egfr_alt": "EGFR alteration",
    "prior_radiotherapy": "Prior radiotherapy",
    "locoregional_recurrence": "Locoregional recurrence",
    "tumor_type": "Tumour type",
    "treatment": "Treatment",
    "arm": "Arm",
    "smoking": "Smoking",
    "histology": "Histology",
    "line": "Treatment line",
}


def variable_label(name: str, overrides: Mapping[str, str] | None = None) -> str:
    """The label of a cohort column: ``overrides`` first, then :data:`VARIABLE_LABELS`, else the
    column name with ``_`` as spaces and a capital first letter (``bmi_kg`` → ``Bmi kg``)."""
    if overrides and name in overrides:
        return str(overrides[name])
    if name in VARIABLE_LABELS:
        return VARIABLE_LABELS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def in_sentence(label: str) -> str:
    """A label inside a sentence: first letter in lower case (``Tumour type`` → ``tumour
    type``), unless it starts an acronym (``HPD status``, ``ECOG …``, ``NLR``)."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def variable_labels(
    columns: Sequence[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Label of every column (:func:`variable_label`): the label map of a cohort."""
    return {str(c): variable_label(str(c), overrides) for c in columns}


def read_labels(path: str | Path, cohort: str | Path | None = None) -> dict[str, str]:
    """Column labels from a file: CSV with columns ``variable,label``, or a YAML mapping
    ``variable: label`` (``.yaml``/``.yml``). A relative ``path`` is looked up in the cohort
    folder (``cohort``: the folder, or a file in it), then from the working directory.
    Raises :class:`~hpd_analysis.errors.ParameterError` with one line when the file is missing
    or malformed."""
    from .errors import ParameterError

    p = Path(path).expanduser()
    if not p.is_absolute() and cohort is not None:
        base = Path(cohort)
        base = base if base.is_dir() else base.parent
        if (base / p).is_file():
            p = base / p
    if not p.is_file():
        raise ParameterError(
            f"labels.file={path}: file not found (expected a CSV variable,label "
            "or a YAML variable: label file, relative to the cohort folder)"
        )
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ParameterError(f"labels.file={path}: not valid YAML ({exc})") from None
        if not isinstance(data, Mapping):
            raise ParameterError(f"labels.file={path}: expected a mapping variable: label")
        return {str(k): str(v) for k, v in data.items()}
    table = pd.read_csv(p, dtype=str, keep_default_na=False)
    if not {"variable", "label"} <= set(table.columns):
        raise ParameterError(
            f"labels.file={path}: columns {', '.join(table.columns)} (expected variable,label)"
        )
    return dict(zip(table["variable"], table["label"], strict=True))


def group_title(
    section: Any, group: str | None, labels: Mapping[str, str] | None = None
) -> str | None:
    """Words for a grouping in titles: ``HPD status (Ferrara 2018)`` for an HPD definition
    (``†`` when its parameters differ from the published ones), the label of a patient column,
    or None for no grouping."""
    if group is None:
        return None
    from .definitions import definition_labels
    from .incidence import hpd_column_code

    code = hpd_column_code(section.classification, group)
    if code is not None:
        return f"HPD status ({definition_labels([code], section.definitions)[code]})"
    return variable_label(str(group), labels)


def section_labels(section: Any) -> dict[str, str]:
    """The label overrides of a report section: :func:`read_labels` of the ``labels.file``
    parameter (relative to the cohort folder), or none."""
    params = getattr(section, "params", None)
    path = getattr(getattr(params, "labels", None), "file", None)
    if not path:
        return {}
    sources = getattr(section.cohort, "sources", {}) or {}
    cohort = next(iter(sources.values()), None)
    return read_labels(path, cohort)


# --------------------------------------------------------------------------------------------
# Table 1

_TRUE_LEVELS = ("true", "yes", "1", "1.0", "y")
_FALSE_LEVELS = ("false", "no", "0", "0.0", "n")
_STAT_TEXT = {"n (%)": "n (%)", "median [Q1,Q3]": "median [Q1, Q3]", "mean (SD)": "mean (SD)"}


def _tidy_stat(text: str) -> str:
    """tableone's ``12 (8.3)`` → ``12 (8.3 %)``; ``5.0 [3.0,7.0]`` → ``5.0 [3.0, 7.0]``."""
    t = str(text).strip()
    t = re.sub(
        r"\[([^,\]]+),([^\]]+)\]", lambda m: f"[{m.group(1).strip()}, {m.group(2).strip()}]", t
    )
    return t


def _percent(text: str) -> str:
    m = re.fullmatch(r"\s*(\d+|<\d+)\s*\(\s*([-\d.]+)\s*\)\s*", str(text))
    return f"{m.group(1)} ({m.group(2)} %)" if m else _tidy_stat(text)


def format_table1(
    table1: pd.DataFrame, labels: Mapping[str, str] | None = None, group_name: str | None = None
) -> pd.DataFrame:
    """Table 1 (:func:`hpd_analysis.riskfactors.table1`) as a journal prints it.

    One row per variable (its label and summary statistic: ``Age, years, median [Q1, Q3]``),
    then one indented row per level of a categorical variable — except a binary (yes/no)
    variable, which gets a single row with the "yes" counts; counts as ``n (%)`` (percent of the
    patients with a value), continuous variables as ``median [Q1, Q3]`` or ``mean (SD)``, p-values
    as ``<0.001`` / two significant digits, ``Missing`` as a count per variable. Columns:
    ``Characteristic``, ``Overall``, the groups (with their n), ``Missing``, ``p``. The tests are
    named in footnotes (a superscript letter per test after the p-value: ``0.021ᵇ``).
    ``.attrs``: ``title``, ``footnotes``, ``groups`` (the group columns).
    """
    t = table1.copy()
    fixed = {"variable", "level", "statistic", "overall", "missing", "test", "p_value", "smd"}
    groups = [c for c in t.columns if c not in fixed]
    n_row = t[t["variable"].astype(str) == "n"]
    counts = {c: str(n_row[c].iloc[0]) if len(n_row) else "" for c in ["overall", *groups]}
    tests: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    body = t[t["variable"].astype(str) != "n"]
    for var, sub in body.groupby(body["variable"].astype(str), sort=False):
        first = sub.iloc[0]
        head = {
            "Characteristic": variable_label(var, labels),
            "Missing": _count_text(first.get("missing")),
            "p": _marked_p_value(first, tests),
        }
        rows += _variable_rows(sub, head, groups)
    header = {
        "Overall": f"Overall (n = {counts['overall']})",
        **{g: f"{g} (n = {counts[g]})" for g in groups},
    }
    out = pd.DataFrame(rows, columns=["Characteristic", "Overall", *groups, "Missing", "p"])
    out = out.rename(columns=header)
    by = f" by {in_sentence(group_name)}" if group_name else ""
    out.attrs.update(
        title=f"Table 1. Patient characteristics{by}",
        footnotes=_table1_footnotes(table1, tests, n_row),
        groups=[header[g] for g in groups],
    )
    return out


#: footnote marks of the tests: superscript letters, plain text in HTML, Word and CSV alike
_TEST_MARKS = "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲ"


def _marked_p_value(first: pd.Series, tests: dict[str, str]) -> str:
    """The p-value of a Table 1 variable with the footnote mark of its test (a new test gets the
    next letter in ``tests``); ``NA_TEXT`` for a variable not tested."""
    test = str(first.get("test", "") or "")
    p = p_value_text(first.get("p_value"))
    if p and test:
        if test not in tests:
            tests[test] = _TEST_MARKS[len(tests) % len(_TEST_MARKS)]
        return f"{p}{tests[test]}"
    if not p and test.startswith("not tested"):
        return NA_TEXT
    return p


def _variable_rows(
    sub: pd.DataFrame, head: dict[str, str], groups: list[str]
) -> list[dict[str, str]]:
    """Rows of one Table 1 variable (``head``: its label, missing count and p): a binary
    variable on one row (its "yes" counts), a categorical one as a heading and an indented row
    per level, a continuous one on one row with its summary."""
    first = sub.iloc[0]
    statistic = str(first["statistic"])
    label = head["Characteristic"]
    levels = [str(v) for v in sub["level"].tolist()]
    binary = (
        statistic == "n (%)"
        and len(sub) == 2
        and any(lv.lower() in _TRUE_LEVELS for lv in levels)
        and any(lv.lower() in _FALSE_LEVELS for lv in levels)
    )
    stat = _STAT_TEXT.get(statistic, statistic)
    if binary:
        yes = sub[[lv.lower() in _TRUE_LEVELS for lv in levels]].iloc[0]
        return [
            _cells(yes, groups, show=_percent, head={**head, "Characteristic": f"{label}, n (%)"})
        ]
    if statistic == "n (%)" or len(sub) > 1:
        heading = {
            "Characteristic": f"{label}, {stat}",
            "Overall": "",
            **{g: "" for g in groups},
            "Missing": head["Missing"],
            "p": head["p"],
        }
        return [heading] + [
            _cells(
                r,
                groups,
                show=_percent,
                head={"Characteristic": f"    {r['level']}", "Missing": "", "p": ""},
            )
            for _, r in sub.iterrows()
        ]
    return [
        _cells(first, groups, show=_tidy_stat, head={**head, "Characteristic": f"{label}, {stat}"})
    ]


def _cells(
    row: pd.Series, groups: list[str], *, show: Callable[[str], str], head: dict[str, str]
) -> dict[str, str]:
    """One printed row: ``head`` (characteristic, missing, p) and the overall and group cells
    of ``row`` as ``show`` writes them."""
    return {
        "Characteristic": head["Characteristic"],
        "Overall": show(row["overall"]),
        **{g: show(row[g]) for g in groups},
        "Missing": head["Missing"],
        "p": head["p"],
    }


def _table1_footnotes(
    table1: pd.DataFrame, tests: Mapping[str, str], n_row: pd.DataFrame
) -> list[str]:
    """One footnote per test (its mark), what the statistics mean, and the patients left out
    because their group is unknown."""
    footnotes = [f"{m} {test}." for test, m in tests.items()]
    footnotes.append(
        "n (%): patients with the characteristic, percent of the patients with a "
        "value; median [Q1, Q3]: median and quartiles; mean (SD): mean and standard "
        "deviation. Missing: patients without a value (not in the percentages). "
        "p-values are descriptive and not adjusted for multiple testing."
    )
    excluded = table1.attrs.get("n_excluded")
    if excluded is None and len(n_row) and "missing" in n_row:
        excluded = _count_text(n_row["missing"].iloc[0])  # the n row's missing: group unknown
    if excluded and str(excluded) != "0":
        footnotes.append(
            f"{excluded} patient(s) left out: group unknown (e.g. not evaluable "
            "under the definition)."
        )
    return footnotes


# --------------------------------------------------------------------------------------------
# incidence, agreement, odds ratios, survival


def _definition_names(codes: Sequence[str], definitions: Sequence[Any] | None) -> dict[str, str]:
    from .definitions import definition_labels

    return definition_labels([str(c) for c in codes], definitions)


def _changes_footnote(codes: Sequence[str], definitions: Sequence[Any] | None) -> list[str]:
    from .definitions import changes_note

    note = changes_note([str(c) for c in codes], definitions)
    return [note + "."] if note else []


def format_incidence(
    incidence: pd.DataFrame,
    definitions: Sequence[Any] | None = None,
    stratum_name: str | None = None,
) -> pd.DataFrame:
    """Incidence of HPD (:func:`hpd_analysis.incidence.incidence`): ``Definition``,
    (``Stratum``), ``HPD / evaluable``, ``Incidence, % (95 % CI)``, ``Not evaluable``; the CI
    method in a footnote."""
    t = incidence.copy()
    codes = list(dict.fromkeys(t["definition"].astype(str)))
    names = _definition_names(codes, definitions)
    strat = "stratum" in t and t["stratum"].astype(str).ne("all").any()
    rows = []
    if "n_total" in t:  # a stratum without any patient (e.g. an empty "missing" level)
        t = t[pd.to_numeric(t["n_total"], errors="coerce").fillna(1).ne(0)]
    for _, r in t.iterrows():
        n_tot = r.get("n_total", np.nan)
        n_ev = r.get("n_evaluable", np.nan)
        not_ev = ""
        try:
            not_ev = str(int(float(n_tot) - float(n_ev)))
        except (TypeError, ValueError):
            pass
        row = {"Definition": names[str(r["definition"])]}
        if strat:
            stratum = str(r.get("stratum", ""))
            row[stratum_name or "Stratum"] = (
                stratum.split("=", 1)[-1] if "=" in stratum else stratum
            )
        row["HPD / evaluable"] = f"{_count_text(r.get('n_hpd'))} / {_count_text(n_ev)}"
        row["Incidence, % (95 % CI)"] = format_ci(
            r.get("percent"), r.get("ci_low"), r.get("ci_high"), decimals=1
        )
        row["Not evaluable"] = not_ev
        rows.append(row)
    out = pd.DataFrame(rows)
    method = (_first(t, "ci_method") or "binomial").replace(" 95%", "")
    out.attrs.update(
        title="Incidence of HPD by definition",
        footnotes=[
            f"Incidence among evaluable patients; 95 % CI: {method} interval (binomial).",
            *_changes_footnote(codes, definitions),
        ],
    )
    return out


def _count_text(v: Any) -> str:
    """A count as text: ``12``; a masked count (``<5``) as it is; empty when missing."""
    if isinstance(v, str) and not v.strip().replace(".", "", 1).isdigit():
        return v.strip()
    try:
        return str(int(float(v)))
    except (TypeError, ValueError):
        return ""


def _first(t: pd.DataFrame, col: str) -> str:
    if col not in t or not t[col].notna().any():
        return ""
    return str(t[col].dropna().iloc[0])


def format_agreement(
    agreement: pd.DataFrame, definitions: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Agreement between definitions (:func:`hpd_analysis.agreement.agreement`): one row per
    pair with the patients evaluable under both, HPD under both / either, Jaccard (95 % CI) and
    Cohen's kappa (95 % CI) with its p-value; CI methods and the test in footnotes."""
    t = agreement.copy()
    codes = list(
        dict.fromkeys(list(t["definition_a"].astype(str)) + list(t["definition_b"].astype(str)))
    )
    names = _definition_names(codes, definitions)
    rows = []
    for _, r in t.iterrows():
        rows.append(
            {
                "Definition A": names[str(r["definition_a"])],
                "Definition B": names[str(r["definition_b"])],
                "Evaluable under both": _count_text(r.get("n_both_evaluable")),
                "HPD under both / either": f"{_count_text(r.get('n_both'))} / "
                f"{_count_text(r.get('n_either'))}",
                "Jaccard (95 % CI)": format_ci(
                    r.get("jaccard"), r.get("jaccard_ci_low"), r.get("jaccard_ci_high"), decimals=2
                ),
                "Cohen's kappa (95 % CI)": format_ci(
                    r.get("kappa"), r.get("kappa_ci_low"), r.get("kappa_ci_high"), decimals=2
                ),
                "p": p_value_text(r.get("kappa_p_value")),
            }
        )
    out = pd.DataFrame(rows)
    jaccard_ci = _first(t, "jaccard_ci_method") or "Wilson score (n_both of n_either)"
    notes = [
        "Among patients evaluable under both definitions. Jaccard index = HPD under both / "
        f"HPD under either; its CI: {jaccard_ci}."
    ]
    v = _first(t, "kappa_test")
    if v:
        notes.append(f"Kappa, its 95 % CI and p: {v}.")
    out.attrs.update(
        title="Agreement between HPD definitions",
        footnotes=notes + _changes_footnote(codes, definitions),
    )
    return out


def format_odds_ratios(
    odds_ratios: pd.DataFrame, labels: Mapping[str, str] | None = None, outcome: str | None = None
) -> pd.DataFrame:
    """Odds ratios (:func:`hpd_analysis.riskfactors.odds_ratios`) side by side: one row per
    variable (and indented level), ``Univariable OR (95 % CI)``, ``p``, ``Multivariable OR
    (95 % CI)``, ``p``; reference levels marked "reference"; the model and CI method in
    footnotes."""
    from .riskfactors import reference_rows

    refs = reference_rows(odds_ratios)
    t = odds_ratios.assign(level=refs.level)
    models = [m for m in ("univariable", "multivariable") if (t["model"].astype(str) == m).any()]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    order: list[tuple[str, str]] = []
    for i, r in t.iterrows():
        key = (str(r["variable"]), str(r["level"]))
        if key not in cells:
            cells[key] = {}
            order.append(key)
        m = str(r["model"])
        if refs.is_reference[i]:
            cells[key][m] = "reference"
            cells[key][m + "_p"] = ""
        else:
            text = format_ci(r.get("odds_ratio"), r.get("ci_low"), r.get("ci_high"), decimals=2)
            cells[key][m] = text or "not estimable"
            cells[key][m + "_p"] = p_value_text(r.get("p_value"))
    rows = []
    seen: set[str] = set()
    for var, level in order:
        levels = [lv for v, lv in order if v == var]
        label = variable_label(var, labels)
        c = cells[(var, level)]
        binary = len(levels) == 2 and {lv.lower() for lv in levels} <= {"true", "false"}
        if binary and level.lower() == "false":
            continue
        if len(levels) == 1 or binary:
            name = label + (" (yes vs no)" if binary else (f" ({level})" if level else ""))
            rows.append({"Characteristic": name, **_or_cells(c, models)})
            continue
        if var not in seen:
            rows.append({"Characteristic": label, **_or_cells({}, models)})
            seen.add(var)
        rows.append({"Characteristic": f"    {level}", **_or_cells(c, models)})
    out = pd.DataFrame(rows)
    tests = _distinct(t, "test") or ["Wald z-test"]
    cis = _distinct(t, "ci_method") or ["Wald"]
    who = f" for {outcome}" if outcome else " for HPD"
    out.attrs.update(
        title=f"Odds ratios{who} (logistic regression)",
        footnotes=[
            f"OR: odds ratio; CI: {'; '.join(cis)}; p: {'; '.join(tests)}.",
            "Univariable: one model per characteristic; multivariable: one model with "
            "the characteristics listed in that column.",
        ],
    )
    return out


def _distinct(t: pd.DataFrame, col: str) -> list[str]:
    """The distinct non-empty texts of a column, in order of appearance."""
    if col not in t:
        return []
    values = t[col].astype("string").fillna("").str.strip()
    return list(dict.fromkeys(v for v in values if v))


def _or_cells(c: Mapping[str, str], models: Sequence[str]) -> dict[str, str]:
    out = {}
    for m in models:
        out[f"{m.capitalize()} OR (95 % CI)"] = c.get(m, "")
        out[f"{m.capitalize()} p"] = c.get(m + "_p", "")
    return out


def format_survival(
    survival: pd.DataFrame, definitions: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Survival (:func:`hpd_analysis.survival.survival_table`): one row per endpoint × group
    with patients, events, median in months (95 % CI; NR = not reached), HR (95 % CI) against
    the reference group and the log-rank p; the methods in footnotes. The title names the
    grouping (``HPD status (Ferrara 2018)`` for a definition, else the column's label)."""
    from .survival import ENDPOINT_NAMES

    t = survival.copy()
    rows = []
    for _, r in t.iterrows():
        ref = str(r.get("reference_group", "") or "")
        if str(r["group"]) == ref and format_number(r.get("hazard_ratio")):
            hr = "1 (reference)"
        else:
            hr = format_ci(
                r.get("hazard_ratio"), r.get("hr_ci_low"), r.get("hr_ci_high"), decimals=2
            )
        rows.append(
            {
                "Endpoint": ENDPOINT_NAMES.get(str(r["endpoint"]), str(r["endpoint"])).capitalize(),
                "Group": str(r["group"]),
                "Patients": _count_text(r.get("n")),
                "Events": _count_text(r.get("events")),
                "Median, months (95 % CI)": format_ci(
                    r.get("median_months"),
                    r.get("median_ci_low"),
                    r.get("median_ci_high"),
                    decimals=1,
                ),
                "HR (95 % CI)": hr,
                "Log-rank p": p_value_text(r.get("logrank_p")),
            }
        )
    out = pd.DataFrame(rows)
    notes = [
        "Kaplan–Meier medians with 95 % CIs (log-log transformation, lifelines); NR: not reached."
    ]
    method = _first(t, "hr_method")
    if method:
        notes.append(f"HR: hazard ratio, {method}.")
    lr = _first(t, "logrank_test")
    if lr:
        notes.append(f"p: {lr}.")
    lm = pd.to_numeric(t.get("landmark_months"), errors="coerce") if len(t) else pd.Series()
    if len(lm) and lm.notna().any():
        notes.append(
            f"Time measured from the landmark at {lm.dropna().iloc[0]:.2f} months after "
            "treatment start; patients with the event or censored before it left out."
        )
    grouping = _first(t, "grouping")
    title = "Survival by group"
    if grouping:
        from .definitions import REGISTRY

        codes = {str(getattr(d, "code", d)) for d in (definitions or [])} | set(REGISTRY)
        code = grouping.removeprefix("hpd_")
        title = "Survival by " + (
            f"HPD status ({_definition_names([code], definitions)[code]})"
            if code in codes
            else in_sentence(variable_label(grouping))
        )
    out.attrs.update(title=title, footnotes=notes)
    return out


def format_definitions(
    described: pd.DataFrame, definitions: Sequence[Any] | None = None
) -> pd.DataFrame:
    """The definitions applied (:func:`hpd_analysis.definitions.describe_definitions`): label,
    rule and criteria with the parameters in force, the parameters, what differs from the
    published values, requirements, notes and citation (long texts kept whole)."""
    codes = described["code"].astype(str).tolist()
    names = _definition_names(codes, definitions)
    out = pd.DataFrame(
        {
            "Definition": [names[c] for c in codes],
            "Rule (parameters in force)": described["rule"].astype(str).to_numpy(),
            "Parameters": described["parameters"].astype(str).to_numpy(),
            "Differs from the published definition": (
                described["differs_from_published"].astype(str).to_numpy()
                if "differs_from_published" in described
                else ""
            ),
            "Patients must have": described["requires"].astype(str).to_numpy(),
            "Notes": described["notes"].astype(str).to_numpy(),
            "Source": described["citation"].astype(str).to_numpy(),
        }
    )
    notes = [
        "The rules, criteria and notes are written with the parameters in force; the "
        "published values are given where they differ."
    ]
    out.attrs.update(
        title="HPD definitions applied", footnotes=notes + _changes_footnote(codes, definitions)
    )
    return out


def _is_p_column(name: str) -> bool:
    n = name.lower()
    return (
        n in ("p", "p_value", "p_holm", "logrank_p") or n.endswith("_p_value") or n.endswith("_p")
    )


#: columns holding definition codes (shown as author and year when the definitions are given)
DEFINITION_COLUMNS: tuple[str, ...] = ("definition", "definition_a", "definition_b")


def format_generic(
    table: pd.DataFrame,
    title: str | None = None,
    footnotes: Sequence[str] = (),
    *,
    decimals: int = 2,
    definitions: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Any other table of the report for display: no index, column names in words
    (``n_hpd`` → ``n hpd``), whole numbers as integers, p-value columns as ``<0.001`` / two
    significant digits, percentages with one decimal, other numbers with ``decimals``
    decimals, missing values empty; texts kept whole. With ``definitions`` (the report's
    definitions in force), the codes of :data:`DEFINITION_COLUMNS` are shown as author and year
    (``†`` and a footnote when a parameter differs from the published value)."""
    out = pd.DataFrame(index=range(len(table)))
    notes = list(footnotes)
    for col in table.columns:
        s = table[col].reset_index(drop=True)
        name = str(col)
        if definitions is not None and name in DEFINITION_COLUMNS:
            codes = s.astype("string").fillna("").astype(str)
            names = _definition_names(list(dict.fromkeys(codes)), definitions)
            out[name.replace("_", " ")] = codes.map(names).to_numpy()
            notes += [n for n in _changes_footnote(list(names), definitions) if n not in notes]
            continue
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            out[name.replace("_", " ")] = s.astype("string").fillna("").astype(str).to_numpy()
            continue
        v = pd.to_numeric(s, errors="coerce").astype(float)
        if _is_p_column(name):
            text = v.map(p_value_text)
        elif v.dropna().apply(float.is_integer).all():
            text = v.map(lambda x: "" if pd.isna(x) else f"{int(x)}")
        elif "percent" in name.lower() or "pct" in name.lower():
            text = v.map(lambda x: format_number(x, 1))
        else:
            text = v.map(lambda x: format_number(x, decimals))
        out[name.replace("_", " ")] = text.to_numpy()
    out.attrs.update(title=title or "", footnotes=notes)
    return out


def show_table(
    table: pd.DataFrame,
    title: str | None = None,
    footnotes: Sequence[str] = (),
    *,
    definitions: Sequence[Any] | None = None,
) -> Any:
    """Display cell helper for the report's other tables: :func:`format_generic` (definition
    codes as author and year when ``definitions`` are given) then :func:`typeset`."""
    return typeset(format_generic(table, title, footnotes, definitions=definitions))


# --------------------------------------------------------------------------------------------
# HTML


def to_html(
    table: pd.DataFrame, title: str | None = None, footnotes: Sequence[str] | None = None
) -> str:
    """Static HTML of a display table, typeset with great_tables: title, column labels, body
    without an index column, footnotes under the table; long texts wrap (never cut) and a table
    wider than the page scrolls horizontally. No web font or other network asset is referenced
    (great_tables' default Google-font import is switched off)."""
    from great_tables import GT, loc, style

    title = title if title is not None else table.attrs.get("title")
    footnotes = footnotes if footnotes is not None else table.attrs.get("footnotes", [])
    if table.shape[1] == 0 or len(table) == 0:  # nothing to typeset: say so
        what = html.escape(str(title)) + ": " if title else ""
        return f'<p class="hpd-table"><em>{what}no rows</em></p>'
    data = table.reset_index(drop=True).astype(str).replace({"nan": "", "<NA>": ""})
    indent = {c: data[c].str.startswith("    ") for c in data.columns[:1]}
    first = data.columns[0]
    data[first] = data[first].str.replace(r"^    ", "", regex=True)
    # a fixed id from the content (great_tables draws a random one): same table, same bytes
    digest = hashlib.sha1(
        (str(title) + "\x00" + data.to_csv(index=False) + "\x00".join(map(str, footnotes))).encode(
            "utf-8"
        )
    ).hexdigest()
    gt = GT(data, id=f"hpd-{digest[:12]}")
    if title:
        gt = gt.tab_header(title=str(title))
    for note in footnotes:
        gt = gt.tab_source_note(str(note))
    gt = gt.opt_table_font(
        font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"], add=False
    )
    gt = gt.opt_align_table_header(align="left")
    gt = gt.tab_options(
        table_font_size="13px",
        heading_title_font_size="15px",
        column_labels_font_weight="bold",
        data_row_padding="3px",
        source_notes_font_size="11px",
        table_width="auto",
        container_overflow_x="auto",
    )
    # text columns left-aligned, columns of numbers ("12 (8.3 %)", "<0.001ᵃ") right-aligned
    text_cols = [
        c
        for c in data.columns
        if c == first
        or data[c].str.contains(r"[A-Za-z]{2,}", regex=True).any()
        or not data[c].str.strip().ne("").any()
    ]
    gt = gt.cols_align(align="left", columns=text_cols)
    number_cols = [c for c in data.columns if c not in text_cols]
    if number_cols:
        gt = gt.cols_align(align="right", columns=number_cols)
    rows = [i for i, v in enumerate(indent[first]) if v]
    if rows:
        gt = gt.tab_style(
            style=style.css("padding-left: 1.8em"), locations=loc.body(columns=first, rows=rows)
        )
    text = gt.as_raw_html(inline_css=False)
    text = _strip_network(text)
    return (
        '<div class="hpd-table" style="max-width:100%;overflow-x:auto">'
        f"<style>.hpd-table td, .hpd-table th {{white-space: normal !important; "
        f"max-width: 32em; overflow-wrap: break-word;}}</style>{text}</div>"
    )


_IMPORT_RE = re.compile(r"@import\s+url\([^)]*\)\s*;?")


def _strip_network(text: str) -> str:
    """Remove every ``@import url(...)`` (great_tables imports Google fonts) and any remaining
    ``http(s)://`` stylesheet or script link."""
    text = _IMPORT_RE.sub("", text)
    text = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*>', "", text)
    return text


def typeset(table: pd.DataFrame) -> Any:
    """What a notebook's display cell returns: an IPython HTML object of :func:`to_html`."""
    from IPython.display import HTML

    return HTML(to_html(table))
