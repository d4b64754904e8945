"""The registry of HPD definitions: definitions are data.

Each published definition of hyperprogressive disease is a :class:`Definition`: a citation, a
plain-language rule, named parameters with the published defaults, what it ``requires`` (e.g. a
pre-baseline scan) and ``criteria``, a small declarative expression over the columns of the
per-patient feature table (:func:`hpd_analysis.classification.build_features`).

Criteria language
-----------------
- an **atom** is a string ``"<column> <op> <value>"`` with ``op`` one of ``== != >= > <= < in``
  (``≥``/``≤`` accepted), e.g. ``"recist_first_eval == PD"`` or ``"tgr_ratio >= {tgr_ratio_min}"``;
  ``{name}`` is replaced by the definition's parameter ``name``. Values are numbers, ``true`` /
  ``false``, words (``PD``) or ``[a, b]`` lists (for ``in``).
- a **list** is ``all`` of its items; ``{"all": [...]}``, ``{"any": [...]}`` and
  ``{"at_least": k, "of": [...]}`` combine criteria (``k`` may be ``"{param}"``);
- ``{"criterion": "<atom>", "label": "...", "label_false": "..."}`` names an atom for the reasons;
- ``"when": "<param>"`` or ``"when": "<param> == <value>"`` on any dict item keeps the item only
  when the parameter holds (e.g. Lo Russo's ``require_recist_pd``, the ECOG rule variants).

``requires`` lists what a patient must have to be evaluable at all, checked first: the tokens
``prebaseline``, ``baseline``, ``first_eval`` (that scan exists), or atoms (a definition's own
time windows, e.g. Kim 2019's 12-week periods). A patient failing a requirement is *not
evaluable*, whatever else holds, as in the source studies.

Three-valued logic (Kleene)
---------------------------
Each atom is True, False or unknown per patient (unknown when its column is missing, with that
column's reason; ``recist_first_eval == "NE"`` counts as missing). ``all`` is False if any item is
False, True if all are True, else unknown; ``any`` is True if any is True, False if all are False;
``at_least k`` is True when ≥ k items are True and False when True + unknown < k. Times to event
(``ttf_months``, ``os_months``, ``pfs_months``) are censoring-aware: a censored TTF of 1.5 months
does not say whether TTF < 2 months (unknown), a censored TTF of 3 months says it is not.
Unknown ⇒ not evaluable, with the reason of the missing input.

Atoms are evaluated column-wise; the verdict and its reason are computed once per unique
combination of atom states and mapped back, so a million patients take well under a second per
definition.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import objectcodes
from .errors import ParameterError

# ---------------------------------------------------------------------------------------------
# feature vocabulary: labels, units, reason columns
# ---------------------------------------------------------------------------------------------

#: human labels of feature columns used in reasons ("TGR ratio ≥ 2")
COLUMN_LABELS: dict[str, str] = {
    "recist_first_eval": "RECIST at first evaluation",
    "tgr_pre": "TGR_pre",
    "tgr_on": "TGR_on",
    "tgr_ratio": "TGR ratio",
    "delta_tgr": "ΔTGR",
    "tgk_pre": "TGK_pre",
    "tgk_on": "TGK_on",
    "tgk_ratio": "TGK ratio",
    "sld_pct_change_first_eval": "SLD change baseline → first evaluation",
    "sld_change_first_eval_mm": "SLD change baseline → first evaluation",
    "ttf_months": "TTF",
    "os_months": "OS",
    "pfs_months": "PFS",
    "first_eval_day": "first evaluation on day",
    "days_prebaseline_to_start": "pre-baseline scan days before treatment start",
    "max_new_lesions_in_involved_organ_first_eval": "new lesions in an already involved organ",
    "new_organs_first_eval": "new organs involved",
    "new_lesions_first_eval": "new lesions",
    "n_organs_with_new_lesions_first_eval": "organs with new lesions",
    "ecog_delta": "ECOG worsening (points)",
    "ecog_first_eval": "ECOG at first evaluation",
    "ecog_baseline": "ECOG at baseline",
    "n_post_baseline_scans": "post-baseline scans",
    "days_to_death": "death on day",
    "death_from_progression": "death from progression",
    "non_target_pd_first_eval": "unequivocal non-target progression",
}

#: units appended to values in reasons
COLUMN_UNITS: dict[str, str] = {
    "sld_pct_change_first_eval": " %",
    "sld_change_first_eval_mm": " mm",
    "ttf_months": " months",
    "os_months": " months",
    "pfs_months": " months",
    "days_prebaseline_to_start": "",
}

#: the column holding the reason why a feature is missing (else ``<column>_reason``)
REASON_COLUMNS: dict[str, str] = {
    "recist_first_eval": "recist_first_eval_reason",
    "sld_pct_change_first_eval": "sld_change_first_eval_reason",
    "sld_change_first_eval_mm": "sld_change_first_eval_reason",
    "first_eval_day": "first_eval_day_reason",
    "days_prebaseline_to_start": "days_prebaseline_to_start_reason",
    "max_new_lesions_in_involved_organ_first_eval": "first_eval_reason",
    "new_organs_first_eval": "first_eval_reason",
    "new_lesions_first_eval": "first_eval_reason",
    "non_target_pd_first_eval": "first_eval_reason",
    "n_organs_with_new_lesions_first_eval": "n_organs_with_new_lesions_first_eval_reason",
    "ttf_months": "ttf_reason",
    "os_months": "os_reason",
    "pfs_months": "pfs_reason",
    "ecog_delta": "ecog_delta_reason",
    "ecog_first_eval": "ecog_first_eval_reason",
    "ecog_baseline": "ecog_baseline_reason",
    "death_from_progression": "death_from_progression_reason",
}


class Requirement(NamedTuple):
    """A requirement token: the column that must be present, the column of the reason when it
    is not, and the default reason."""

    column: str
    reason_column: str
    default_reason: str


#: requirement tokens: token -> (column that must be present, reason column, default reason)
REQUIREMENT_TOKENS: dict[str, Requirement] = {
    "prebaseline": Requirement("prebaseline_date", "prebaseline_reason", "no pre-baseline scan"),
    "baseline": Requirement("baseline_date", "baseline_reason", "no baseline scan"),
    "first_eval": Requirement("first_eval_date", "first_eval_reason", "no first evaluation scan"),
    # RECIST-based HPD studies enrolled patients with measurable disease (a baseline target SLD)
    "measurable_baseline": Requirement(
        "sld_baseline_mm", "sld_baseline_reason", "no measurable disease at baseline"
    ),
}

#: time-to-event columns and their event indicator (1 = event, 0 = censored)
TIME_EVENT_COLUMNS: dict[str, str] = {
    "ttf_months": "ttf_event",
    "os_months": "os_event",
    "pfs_months": "pfs_event",
}

#: values that mean "missing" in a column (RECIST not evaluable)
MISSING_VALUES: dict[str, tuple[Any, ...]] = {"recist_first_eval": ("NE",)}

#: labels of atoms clinicians read better than the generic "<label> <op> <value>"
SPECIAL_LABELS: dict[str, tuple[str, str]] = {
    "recist_first_eval == PD": (
        "RECIST PD at first evaluation",
        "no RECIST PD at first evaluation",
    ),
    "death_from_progression == true": ("death from progression", "no death from progression"),
    "n_post_baseline_scans == 0": ("no post-baseline scan", "post-baseline scan done"),
}

_OPS = ("==", "!=", ">=", "<=", ">", "<", "in")
_OP_SYMBOL = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<", "in": "in"}
_OP_NEGATION = {"==": "!=", "!=": "==", ">=": "<", "<=": ">", ">": "<=", "<": ">=", "in": "not in"}
_ATOM_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|\bin\b)\s*(.+?)\s*$")
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float | int | np.floating | np.integer):
        return f"{float(v):g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def fill_parameters(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` of a parameter in ``params`` replaced by its value
    (numbers as ``50`` / ``2.5``); other braces are left as they are (free text of a user
    definition)."""
    return _PARAM_RE.sub(
        lambda m: _fmt_value(params[m.group(1)]) if m.group(1) in params else m.group(0), text or ""
    )


#: labels of definitions whose first author and year alone would be ambiguous or misleading
SHORT_LABELS: dict[str, str] = {"gandara2018_fp": "Gandara 2018 (fast progression)"}

_AUTHOR_RE = re.compile(r"^\s*([^,;(]+?)\s+[A-Z]{1,3}\s*(?:,|$)")
_YEAR_RE = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


def author_year(definition: Any) -> str:
    """``Champiat 2017`` / ``Lo Russo 2019`` / ``Saâda-Bouzid 2017``: first author's surname
    (the citation's first name before its initials) and the first year of the citation (else
    the year in the code). A code of :data:`SHORT_LABELS` takes that label; a definition whose
    citation gives no author or no year keeps its code."""
    code = str(getattr(definition, "code", definition))
    if code in SHORT_LABELS:
        return SHORT_LABELS[code]
    citation = str(getattr(definition, "citation", "") or "")
    if not citation and code in REGISTRY:
        citation = REGISTRY[code].citation
    author = _AUTHOR_RE.match(citation)
    year = _YEAR_RE.search(citation) or _YEAR_RE.search(code)
    if author is None or year is None:
        return code
    return f"{author.group(1).strip()} {year.group(1)}"


def _parse_literal(text: str) -> Any:
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        return [_parse_literal(x) for x in t[1:-1].split(",") if x.strip()]
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    low = t.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    try:
        return float(t)
    except ValueError:
        return t


# ---------------------------------------------------------------------------------------------
# compiled expressions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """One comparison ``column op value`` with its labels for reasons."""

    column: str
    op: str  # one of _OPS, or "present" for requirement tokens
    value: Any
    label: str
    label_false: str
    reason_column: str | None = None
    default_reason: str | None = None

    @property
    def text(self) -> str:
        """Canonical text, e.g. ``tgr_ratio >= 2``."""
        if self.op == "present":
            return f"{self.column} present"
        return f"{self.column} {self.op} {_fmt_value(self.value)}"


def _atom_labels(column: str, op: str, value: Any) -> tuple[str, str]:
    key = f"{column} {op} {_fmt_value(value)}"
    if key in SPECIAL_LABELS:
        return SPECIAL_LABELS[key]
    label = COLUMN_LABELS.get(column, column)
    unit = COLUMN_UNITS.get(column, "")
    val = _fmt_value(value)
    return (
        f"{label} {_OP_SYMBOL[op]} {val}{unit}",
        f"{label} {_OP_SYMBOL.get(_OP_NEGATION[op], 'not in')} {val}{unit}",
    )


def _substitute(text: str, params: Mapping[str, Any], where: str) -> str:
    def rep(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise ParameterError(
                f"{where}: criterion {text!r} uses unknown parameter {{{name}}} "
                f"(parameters: {', '.join(sorted(params)) or 'none'})"
            )
        return _fmt_value(params[name])

    return _PARAM_RE.sub(rep, text)


def parse_atom(
    text: Any,
    params: Mapping[str, Any],
    where: str = "criterion",
    *,
    label: str | None = None,
    label_false: str | None = None,
) -> Atom:
    """Parse ``"column op value"`` (parameters ``{name}`` substituted) into an :class:`Atom`
    (:class:`ParameterError` when ``text`` is not such a string)."""
    if not isinstance(text, str):
        raise ParameterError(f"{where}: criterion {text!r} is not a string 'column op value'")
    norm = text.replace("≥", ">=").replace("≤", "<=").replace("≠", "!=")
    m = _ATOM_RE.match(norm)
    if not m:
        raise ParameterError(
            f"{where}: cannot read criterion {text!r} (expected 'column op value' with op one of "
            f"{' '.join(_OPS)}, e.g. 'tgr_ratio >= {{tgr_ratio_min}}')"
        )
    column, op, rhs = m.groups()
    whole = _PARAM_RE.fullmatch(rhs.strip())
    if whole and whole.group(1) in params and not isinstance(params[whole.group(1)], str):
        value = params[whole.group(1)]
    else:
        value = _parse_literal(_substitute(rhs, params, where))
    if op == "in" and not isinstance(value, list):
        value = [value]
    if op in (">=", "<=", ">", "<") and not (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        raise ParameterError(f"{where}: criterion {text!r} compares with {value!r}, not a number")
    auto_true, auto_false = _atom_labels(column, op, value)
    label = _substitute(label, params, where) if label else None
    label_false = _substitute(label_false, params, where) if label_false else None
    if label and not label_false:
        label_false = f"not ({label})"
    return Atom(
        column,
        op,
        value,
        label or auto_true,
        label_false or auto_false,
        REASON_COLUMNS.get(column, f"{column}_reason"),
        f"{column} missing",
    )


def _requirement_atom(item: Any, params: Mapping[str, Any], where: str) -> Atom:
    if isinstance(item, str) and item in REQUIREMENT_TOKENS:
        col, reason_col, default = REQUIREMENT_TOKENS[item]
        label = (
            "measurable disease at baseline"
            if item == "measurable_baseline"
            else item.replace("_", " ").replace("prebaseline", "pre-baseline") + " scan"
        )
        return Atom(col, "present", None, label, default, reason_col, default)
    if isinstance(item, Mapping):
        return parse_atom(
            item.get("criterion"),
            params,
            where,
            label=item.get("label"),
            label_false=item.get("label_false"),
        )
    return parse_atom(item, params, where)


def _when_holds(cond: Any, params: Mapping[str, Any], where: str) -> bool:
    if isinstance(cond, bool):
        return cond
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:(==|!=)\s*(.+?))?\s*", str(cond))
    if not m or m.group(1) not in params:
        raise ParameterError(
            f"{where}: 'when: {cond}' must name a parameter "
            f"({', '.join(sorted(params)) or 'none'}), optionally '== value'"
        )
    val = params[m.group(1)]
    if m.group(2) is None:
        return bool(val)
    target = _parse_literal(m.group(3))
    equal = _fmt_value(val) == _fmt_value(target)
    return equal if m.group(2) == "==" else not equal


@dataclass(frozen=True)
class RuleNode:
    """A node of a compiled rule (:meth:`Definition.compile`): an ``atom`` (index into the
    criteria atoms), or ``all`` / ``any`` / ``at_least`` (``k`` of) its ``children``."""

    kind: str  # "atom" | "all" | "any" | "at_least"
    atom: int = -1
    children: tuple[RuleNode, ...] = ()
    k: int = 0


_DICT_KEYS = {"all", "any", "at_least", "of", "criterion", "label", "label_false", "when"}


def _compile(
    expr: Any, params: Mapping[str, Any], atoms: list[Atom], *, where: str
) -> RuleNode | None:
    """Compile a criteria expression; ``None`` when removed by a false ``when``."""
    if isinstance(expr, str):
        atoms.append(parse_atom(expr, params, where))
        return RuleNode("atom", atom=len(atoms) - 1)
    if isinstance(expr, list | tuple):
        kids = [c for c in (_compile(e, params, atoms, where=where) for e in expr) if c is not None]
        return RuleNode("all", children=tuple(kids))
    if isinstance(expr, Mapping):
        bad = set(expr) - _DICT_KEYS
        if bad:
            raise ParameterError(
                f"{where}: unknown key(s) {sorted(bad)} in criteria "
                f"(expected some of {sorted(_DICT_KEYS)})"
            )
        if "when" in expr and not _when_holds(expr["when"], params, where):
            return None
        if "criterion" in expr:
            atoms.append(
                parse_atom(
                    expr["criterion"],
                    params,
                    where,
                    label=expr.get("label"),
                    label_false=expr.get("label_false"),
                )
            )
            return RuleNode("atom", atom=len(atoms) - 1)
        for kind in ("all", "any"):
            if kind in expr:
                kids = [
                    c
                    for c in (_compile(e, params, atoms, where=where) for e in expr[kind])
                    if c is not None
                ]
                return RuleNode(kind, children=tuple(kids))
        if "at_least" in expr:
            k = expr["at_least"]
            if isinstance(k, str):
                k = _parse_literal(_substitute(k, params, where))
            if isinstance(k, bool) or not isinstance(k, int | float) or int(k) != k or k < 0:
                raise ParameterError(f"{where}: at_least needs a whole number, got {k!r}")
            kids = [
                c
                for c in (_compile(e, params, atoms, where=where) for e in expr.get("of", []))
                if c is not None
            ]
            return RuleNode("at_least", children=tuple(kids), k=int(k))
        raise ParameterError(
            f"{where}: criteria item {dict(expr)!r} has none of "
            "'criterion', 'all', 'any', 'at_least'"
        )
    raise ParameterError(f"{where}: cannot read criteria item {expr!r}")


def _render(node: RuleNode, atoms: list[Atom]) -> str:
    if node.kind == "atom":
        return atoms[node.atom].label
    parts = [_render(c, atoms) for c in node.children]
    parts = [f"({p})" if (" AND " in p or " OR " in p) else p for p in parts]
    if node.kind == "all":
        return " AND ".join(parts) if parts else "always"
    if node.kind == "any":
        return " OR ".join(parts)
    return f"at least {node.k} of [{'; '.join(parts)}]"


# ---------------------------------------------------------------------------------------------
# Definition
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Definition:
    """One HPD definition: citation, rule, parameters, requirements and criteria (data).

    ``parameters`` maps each threshold/option to its value (published default unless overridden);
    ``choices`` optionally restricts a parameter to listed values; ``requires`` lists requirement
    tokens/atoms checked first (see module docstring); ``criteria`` is the expression; ``notes``
    records the ambiguities of the sources.
    """

    code: str
    citation: str
    rule: str
    criteria: Any
    parameters: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[Any, ...] = ()
    notes: str = ""
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    source: str = "built-in"

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE_RE.match(self.code):
            raise ParameterError(
                f"definition code {self.code!r}: expected lower-case letters, digits and _ "
                "starting with a letter (it becomes the column hpd_<code>)"
            )
        object.__setattr__(self, "parameters", dict(self.parameters or {}))
        object.__setattr__(
            self, "choices", {k: tuple(v) for k, v in dict(self.choices or {}).items()}
        )
        req = self.requires
        object.__setattr__(self, "requires", (req,) if isinstance(req, str) else tuple(req or ()))
        for name, allowed in self.choices.items():
            if name not in self.parameters:
                raise ParameterError(
                    f"definition {self.code}: choices for unknown parameter {name!r}"
                )
            if self.parameters[name] not in allowed:
                raise ParameterError(
                    f"definition {self.code}: parameter {name}={self.parameters[name]!r} "
                    f"(expected one of {', '.join(map(str, allowed))})"
                )
        self.compile()  # fail early on a malformed rule

    def compile(self) -> tuple[list[Atom], RuleNode, list[Atom]]:
        """Atoms, criteria tree and requirement atoms with the current parameters."""
        where = f"definition {self.code}"
        atoms: list[Atom] = []
        tree = _compile(self.criteria, self.parameters, atoms, where=where)
        if tree is None:
            tree = RuleNode("all")
        reqs: list[Atom] = []
        for item in self.requires:
            if isinstance(item, Mapping) and "when" in item:
                if not _when_holds(item["when"], self.parameters, where):
                    continue
            reqs.append(_requirement_atom(item, self.parameters, where))
        return atoms, tree, reqs

    def with_parameters(self, **overrides: Any) -> Definition:
        """A copy with some parameters changed; unknown names raise :class:`ParameterError`."""
        unknown = sorted(set(overrides) - set(self.parameters))
        if unknown:
            raise ParameterError(
                f"definition {self.code}: unknown parameter(s) {', '.join(unknown)} "
                f"(valid: {', '.join(sorted(self.parameters)) or 'none'})"
            )
        for name, value in overrides.items():
            default = self.parameters[name]
            if (
                isinstance(default, bool) != isinstance(value, bool)
                or (isinstance(default, int | float) and not isinstance(value, int | float))
                or (isinstance(default, str) and not isinstance(value, str))
            ):
                raise ParameterError(
                    f"definition {self.code}: parameter {name}={value!r} "
                    f"(expected a {type(default).__name__} like {default!r})"
                )
        return replace(self, parameters={**self.parameters, **overrides})

    def describe_criteria(self) -> str:
        """The compiled rule in words, with the current parameters."""
        atoms, tree, reqs = self.compile()
        return _render(tree, atoms)

    def parameters_text(self) -> str:
        """``name=value, ...`` of the current parameters."""
        return ", ".join(f"{k}={_fmt_value(v)}" for k, v in self.parameters.items())

    def rule_text(self) -> str:
        """The plain-language rule with the parameters in force: the ``{name}`` placeholders of
        ``rule`` filled in (``ΔTGR > 75`` when ``delta_tgr_min=75``)."""
        return fill_parameters(self.rule, self.parameters)

    def notes_text(self) -> str:
        """The notes with the parameters in force (see :meth:`rule_text`)."""
        return fill_parameters(self.notes, self.parameters)

    @property
    def label(self) -> str:
        """First author and year for figures and tables (``Champiat 2017``; the code when the
        citation names no author and year, e.g. a user definition)."""
        return author_year(self)

    def published_parameters(self) -> dict[str, Any]:
        """The published values of the parameters: those of the built-in definition of the same
        code, else of the registered one, else this definition's own (a user definition)."""
        ref = PUBLISHED_PARAMETERS.get(self.code)
        if ref is None:
            reg = REGISTRY.get(self.code)
            ref = dict(reg.parameters) if reg is not None else dict(self.parameters)
        return dict(ref)

    def parameter_changes(self) -> dict[str, tuple[Any, Any]]:
        """Parameters whose value in force differs from the published one:
        ``{name: (in_force, published)}`` (empty when the definition is as published)."""
        ref = self.published_parameters()
        return {
            k: (v, ref[k])
            for k, v in self.parameters.items()
            if k in ref and _fmt_value(v) != _fmt_value(ref[k])
        }

    def changes_text(self) -> str:
        """``delta_tgr_min = 75 (published: 50)`` for each changed parameter, ``; ``-joined
        (empty when none changed)."""
        return "; ".join(
            f"{k} = {_fmt_value(v)} (published: {_fmt_value(ref)})"
            for k, (v, ref) in self.parameter_changes().items()
        )

    def atoms(self) -> list[Atom]:
        """Every comparison the rule reads, typed: its criteria, then its requirements."""
        criteria, _, requirements = self.compile()
        return [*criteria, *requirements]

    def criteria_reading(self, columns: Iterable[str]) -> list[str]:
        """Labels (sorted, each once) of the criteria and requirements of this definition that
        read one of ``columns``, e.g. ``["TTF < 2 months"]`` for Kato 2017 and ``ttf_months``;
        empty when none does (does this rule read the endpoint it is compared on?)."""
        read = set(columns)
        return sorted({a.label for a in self.atoms() if a.column in read})

    def requires_recist_pd(self) -> bool:
        """True when every HPD patient of this definition has RECIST PD at the first evaluation:
        a requirement, or an AND-ed criterion at any depth of nested ANDs, reads
        ``recist_first_eval == PD`` (PD inside an OR or an at-least-k does not count)."""
        atoms, tree, reqs = self.compile()
        if any(_is_recist_pd(a) for a in reqs):
            return True

        def required(node: RuleNode) -> bool:
            if node.kind == "atom":
                return _is_recist_pd(atoms[node.atom])
            return node.kind == "all" and any(required(c) for c in node.children)

        return required(tree)


def _is_recist_pd(atom: Atom) -> bool:
    """True when ``atom`` reads ``recist_first_eval == PD`` (or ``in [PD]``)."""
    if atom.column != "recist_first_eval":
        return False
    if atom.op == "==":
        return str(atom.value).upper() == "PD"
    if atom.op == "in":
        return [str(v).upper() for v in atom.value] == ["PD"]
    return False


# ---------------------------------------------------------------------------------------------
# evaluation (vectorized atoms, Kleene combination on unique state combinations)
# ---------------------------------------------------------------------------------------------

_FALSE, _TRUE = 0, 1  # atom codes; 2 + r = unknown with reason r

_COMPARE = {
    "==": np.equal,
    "!=": np.not_equal,
    ">=": np.greater_equal,
    "<=": np.less_equal,
    ">": np.greater,
    "<": np.less,
}


class _Frame:
    """Per-call cache of column arrays, missing masks and factorized reasons (shared by the
    definitions evaluated together)."""

    def __init__(self, features: pd.DataFrame):
        self.f = features
        self.code = "?"
        self.n = len(features)
        self._missing: dict[str, np.ndarray] = {}
        self._missing_rows: dict[str, np.ndarray] = {}
        self._series: dict[str, pd.Series] = {}
        #: factorized reasons with the rows and the objects (addresses) they were computed from
        self._reason_rows: list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, list[str]]]] = []
        self._reasons: dict[tuple[str | None, str], tuple[np.ndarray, list[str]]] = {}
        self._float: dict[str, np.ndarray] = {}
        self._object: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: atom codes by atom (the same atom, e.g. ``recist_first_eval == PD`` or a requirement,
        #: recurs in several definitions)
        self.atom_codes: dict[tuple[Any, ...], tuple[np.ndarray, list[str]]] = {}

    def column(self, name: str) -> pd.Series:
        if name not in self._series:
            if name not in self.f.columns:
                raise ParameterError(
                    f"definition {self.code}: needs column {name!r}, which the feature table "
                    "lacks (features come from hpd_analysis.classification.build_features; patient "
                    "columns are carried there too)"
                )
            self._series[name] = self.f[name]
        return self._series[name]

    def factorized(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes (−1 where missing) and unique values of an object column, so that its missing
        mask and comparisons are computed once per unique value (e.g. ``PD``, ``NE``)."""
        if name not in self._factorized:
            self._factorized[name] = objectcodes.factorize(self.objects(name))
        return self._factorized[name]

    def missing(self, name: str) -> np.ndarray:
        """True where the column is missing (NA, or a value of :data:`MISSING_VALUES`)."""
        if name not in self._missing:
            s = self.column(name)
            if s.dtype == object:
                codes, uniq = self.factorized(name)
                missing_values = MISSING_VALUES.get(name, ())
                # by unique value, the last one for NA (code −1)
                m = np.array([u in missing_values for u in uniq] + [True])[codes]
            elif s.dtype == np.float64:
                m = np.isnan(s.to_numpy())
            else:
                m = np.asarray(pd.isna(s.array), dtype=bool)
                if name in MISSING_VALUES:
                    m = m | s.isin(MISSING_VALUES[name]).to_numpy()
            self._missing[name] = m
        return self._missing[name]

    def missing_rows(self, name: str) -> np.ndarray:
        """Positions of the rows where the column is missing."""
        if name not in self._missing_rows:
            self._missing_rows[name] = np.flatnonzero(self.missing(name))
        return self._missing_rows[name]

    def floats(self, name: str, where: str) -> np.ndarray:
        if name not in self._float:
            s = self.column(name)
            try:
                if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
                    self._float[name] = s.to_numpy(dtype=float)  # no copy for float64
                else:
                    self._float[name] = s.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    f"definition {self.code}: criterion {where!r}: column {name!r} is not numeric"
                ) from exc
        return self._float[name]

    def objects(self, name: str) -> np.ndarray:
        """C-contiguous object array of a column (missing values as they are: None/NaN/NA)."""
        if name not in self._object:
            s = self.column(name)
            if s.dtype == object:
                self._object[name] = np.ascontiguousarray(s.to_numpy())
            else:
                self._object[name] = s.to_numpy(dtype=object, na_value=None)
        return self._object[name]

    def equals(self, name: str, op: str, value: Any) -> np.ndarray:
        """``column == value`` (or ``!=``) for a non-numeric value; arbitrary where missing."""
        s = self.column(name)
        if s.dtype == object:
            codes, uniq = self.factorized(name)
            by_value = np.zeros(len(uniq) + 1, dtype=bool)  # the last one: NA (code −1)
            by_value[:-1] = (uniq == value) if op == "==" else (uniq != value)
            return by_value[codes]
        if isinstance(value, bool) and s.dtype.kind == "b":
            x = s.to_numpy(dtype=bool, na_value=False)
            return (x == value) if op == "==" else (x != value)
        x = self.objects(name)
        return np.asarray((x == value) if op == "==" else (x != value), dtype=bool)

    def reasons(self, reason_col: str | None, column: str) -> tuple[np.ndarray, list[str]]:
        """Codes (−1 where no reason) and unique texts of a reason column on the rows where
        ``column`` is missing (cached: several definitions read the same column)."""
        key = (reason_col, column)
        if key not in self._reasons:
            rows = self.missing_rows(column)
            if reason_col and reason_col in self.f.columns:
                self._reasons[key] = self._factorize_reasons(reason_col, rows)
            else:
                self._reasons[key] = (np.full(len(rows), -1, dtype=np.int64), [])
        return self._reasons[key]

    def _factorize_reasons(self, reason_col: str, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        # the builders share one str object per distinct reason, and several columns often have
        # the same missing rows and the same reason objects there (e.g. the features of the
        # first evaluation scan): factorize those once, recognized by the objects' identities
        values = self.objects(reason_col)
        objects = objectcodes.object_addresses(values)[rows]
        for seen_rows, seen_objects, result in self._reason_rows:
            if np.array_equal(seen_rows, rows) and np.array_equal(seen_objects, objects):
                return result
        codes, uniq = objectcodes.factorize(values, rows)
        result = (np.asarray(codes, dtype=np.int64), [str(u) for u in uniq])
        self._reason_rows.append((rows, objects, result))
        return result

    def atom(self, atom: Atom) -> tuple[np.ndarray, list[str]]:
        """:func:`_atom_codes` of an atom, computed once per call."""
        key = (
            atom.column,
            atom.op,
            repr(atom.value),
            atom.label,
            atom.reason_column,
            atom.default_reason,
        )
        if key not in self.atom_codes:
            self.atom_codes[key] = _atom_codes(atom, self)
        return self.atom_codes[key]


def atom_codes(atoms: Sequence[Atom], features: pd.DataFrame) -> list[np.ndarray]:
    """Per-patient code of each atom (e.g. of :meth:`Definition.compile`) on ``features``: 0
    False, 1 True, 2 + r unknown (with the r-th reason), one int64 array per atom, in order."""
    fr = _Frame(features)
    return [_atom_codes(a, fr)[0] for a in atoms]


def _atom_codes(atom: Atom, fr: _Frame) -> tuple[np.ndarray, list[str]]:
    """Per-patient code of an atom: 0 False, 1 True, 2 + r unknown with reason ``texts[r]``."""
    missing = fr.missing(atom.column)
    if atom.op == "present":
        result = ~missing
    else:
        v = atom.value
        if atom.op == "in":
            result = fr.column(atom.column).isin(v).to_numpy()
        elif isinstance(v, bool) or not isinstance(v, int | float):
            result = fr.equals(atom.column, atom.op, v)
        else:
            x = fr.floats(atom.column, atom.text)
            with np.errstate(invalid="ignore"):
                result = _COMPARE[atom.op](x, float(v))
    codes = result.astype(np.int64)
    texts: list[str] = []
    rows = fr.missing_rows(atom.column)
    if len(rows):
        rc, texts = fr.reasons(atom.reason_column, atom.column)
        texts = list(texts)
        if (rc < 0).any():  # value missing without an upstream reason
            texts.append(atom.default_reason or f"{atom.column} missing")
            rc = np.where(rc < 0, len(texts) - 1, rc)
        codes[rows] = 2 + rc
    event_col = TIME_EVENT_COLUMNS.get(atom.column)
    if event_col and event_col in fr.f.columns and atom.op in ("<", "<=", ">", ">="):
        censored = (fr.floats(event_col, atom.text) == 0) & ~missing
        undecided = censored & (result if atom.op in ("<", "<=") else ~result)
        if undecided.any():
            label = COLUMN_LABELS.get(atom.column, atom.column)
            # censored while the comparison still held ("<": censored at < 2 months) or while
            # it did not yet hold (">": censored at ≤ x): either way the event time is unknown
            side = atom.op if atom.op in ("<", "<=") else _OP_NEGATION[atom.op]
            texts.append(
                f"{label} censored at {_OP_SYMBOL[side]}"
                f" {_fmt_value(atom.value)}{COLUMN_UNITS.get(atom.column, '')}"
                " (not known whether " + atom.label + ")"
            )
            codes[undecided] = 2 + len(texts) - 1
    return codes, texts


def _rank(key: np.ndarray, span: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense rank of each key (0..m−1) and the distinct keys by rank."""
    if span <= max(2 * n, 2**16):  # few possible keys: rank them with a lookup table
        seen = np.zeros(span, dtype=bool)
        seen[key] = True
        uniq = np.flatnonzero(seen)
        rank = np.empty(span, dtype=np.intp)
        rank[uniq] = np.arange(len(uniq))
        return rank[key], uniq
    inv, uniq = pd.factorize(key)
    return inv, uniq


def _combinations(
    codes: Sequence[np.ndarray], radices: Sequence[int], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's combination of atom codes, and the codes of each combination (one
    row per atom, one column per combination).

    The codes are combined as digits of a mixed-radix key, ranked whenever the key would
    outgrow a lookup table; the combinations are decoded from the distinct keys."""
    key = np.zeros(n, dtype=np.int64)
    span = 1
    stages: list[tuple[np.ndarray, list[tuple[int, int]]]] = []  # distinct keys, their digits
    digits: list[tuple[int, int]] = []
    for j, (c, radix) in enumerate(zip(codes, radices, strict=True)):
        if digits and span * radix > max(2 * n, 2**16):
            key, uniq = _rank(key, span, n)
            stages.append((uniq, digits))
            digits, span = [], len(uniq)
        key *= radix
        key += c
        span *= radix
        digits.append((j, radix))
    inv, uniq = _rank(key, span, n)
    stages.append((uniq, digits))
    combos = np.zeros((len(codes), len(uniq)), dtype=np.int64)
    index = np.arange(len(uniq))  # of each combination in the distinct keys of a stage
    for uniq, digits in reversed(stages):
        key = uniq[index]
        for j, radix in reversed(digits):
            key, combos[j] = np.divmod(key, radix)
        index = key  # the rank of the previous stage
    return inv, combos


def _dedupe(items: Iterable[str]) -> list[str]:
    """Unique items in order, dropping one already said inside a longer one."""
    uniq = list(dict.fromkeys(items))
    kept = []
    for a in uniq:
        for b in uniq:
            if a != b and a in b:
                break
        else:
            kept.append(a)
    return kept


_STATUS = np.array(["not_evaluable", "not_hpd", "hpd"], dtype=object)
#: reason prefix by verdict code + 1 (−1 not evaluable, 0 not HPD, 1 HPD)
_PREFIX = np.array(["not evaluable: ", "not HPD: ", "HPD: "], dtype=object)

#: Kleene values over combinations, ordered so that ``all`` is the minimum and ``any`` the maximum
_K_FALSE, _K_UNKNOWN, _K_TRUE = 0, 1, 2
_KLEENE_OF_CODE = np.array([_K_FALSE, _K_TRUE, _K_UNKNOWN], dtype=np.int8)  # atom codes 0, 1, ≥ 2
_VERDICT_OF_KLEENE = np.array([0, -1, 1], dtype=np.int8)


class _Explanation:
    """Verdicts and reasons of a definition for its combinations of atom codes (``combos``: one
    row per requirement then criteria atom, one column per combination; codes 0 False, 1 True,
    2 + r unknown with reason ``texts[atom][r]``).

    Kleene logic: ``all`` is False if any child is, else unknown if any child is, else True, and
    says what its children of that value say, in order; ``any`` likewise with True first;
    ``at_least k`` says one text of its own (see :meth:`_say_at_least`). An atom says its label
    (True), its ``label_false`` (False) or the reason it is unknown. The values, and *which*
    texts each combination says (the atoms reached from the root through children of their
    parent's value), are computed column-wise over the combinations; only the joining of more
    than two texts goes combination by combination."""

    def __init__(
        self,
        tree: RuleNode,
        atoms: list[Atom],
        nr: int,
        *,
        texts: list[list[str]],
        combos: np.ndarray,
    ):
        self.tree, self.nr, self.combos = tree, nr, combos
        #: what can be said: per atom its labels then reasons (item = offset + code)
        self.items: list[str] = []
        self.offsets: list[int] = []
        for a, ts in zip(atoms, texts, strict=True):
            self.offsets.append(len(self.items))
            self.items += [a.label_false, a.label, *ts]
        self._values: dict[int, np.ndarray] = {}
        #: per item slot (atom or ``at_least`` node, in order) the item said, −1 for none
        self.slots: list[np.ndarray] = []

    def verdicts(self) -> tuple[np.ndarray, np.ndarray]:
        """Verdict code (1 HPD, 0 not HPD, −1 not evaluable) and reason of each combination."""
        combos, nr = self.combos, self.nr
        met = (combos[:nr] == _TRUE).all(axis=0)
        # a requirement not met -> not evaluable, whatever the criteria, with what failed
        for j in range(nr):
            self._say_atom(j, ~met & (combos[j] != _TRUE))
        verdict = np.where(met, _VERDICT_OF_KLEENE[self._value(self.tree)], np.int8(-1))
        self._say(self.tree, met)
        return verdict, self._reasons(verdict)

    def _value(self, node: RuleNode) -> np.ndarray:
        """Kleene value (``_K_*``) of a criteria node in each combination."""
        if id(node) not in self._values:
            if node.kind == "atom":
                value = _KLEENE_OF_CODE[np.minimum(self.combos[self.nr + node.atom], 2)]
            elif not node.children:  # all: True, any: False, at least k of none: k ≤ 0
                true = node.kind == "all" or node.kind == "at_least" and node.k <= 0
                value = np.full(self.combos.shape[1], _K_TRUE if true else _K_FALSE, np.int8)
            else:
                kids = [self._value(c) for c in node.children]
                if node.kind == "all":
                    value = functools.reduce(np.minimum, kids)
                elif node.kind == "any":
                    value = functools.reduce(np.maximum, kids)
                else:
                    n_true = self._count(node, _K_TRUE)
                    n_false = self._count(node, _K_FALSE)
                    value = np.where(
                        n_true >= node.k,
                        np.int8(_K_TRUE),
                        np.where(
                            len(kids) - n_false < node.k, np.int8(_K_FALSE), np.int8(_K_UNKNOWN)
                        ),
                    )
            self._values[id(node)] = value
        return self._values[id(node)]

    def _count(self, node: RuleNode, value: int) -> np.ndarray:
        """Number of children of a node with a given value, in each combination."""
        count = np.zeros(self.combos.shape[1], dtype=np.intp)
        for c in node.children:
            count += self._value(c) == value
        return count

    def _say_atom(self, j: int, where: np.ndarray) -> None:
        self.slots.append(np.where(where, self.offsets[j] + self.combos[j], -1))

    def _say(self, node: RuleNode, where: np.ndarray) -> None:
        """Mark what ``node`` says in the combinations ``where`` it is said."""
        if node.kind == "atom":
            self._say_atom(self.nr + node.atom, where)
        elif node.kind == "at_least":
            self._say_at_least(node, where)
        else:
            value = self._value(node)
            for c in node.children:
                self._say(c, where & (self._value(c) == value))

    def _say_at_least(self, node: RuleNode, where: np.ndarray) -> None:
        """The text of an ``at_least`` node, built column-wise from what its children say:
        ``<t> of <n> criteria (<held>)`` when True (t children True), ``<t> of <n> criteria, <k>
        needed (held: <held>; failed: <failed>)`` when False (``held: ...;`` only if some held),
        else ``<t> of <n> criteria known to hold, <k> needed: <unknown>`` (deduplicated)."""
        said = np.full(len(where), -1, dtype=np.intp)
        cols = np.flatnonzero(where)
        if len(cols):
            slots, self.slots = self.slots, []
            kid_values = []  # the value of the child each slot belongs to
            for c in node.children:
                n_slots = len(self.slots)
                self._say(c, where)
                kid_values += [self._value(c)[cols]] * (len(self.slots) - n_slots)
            kid_slots, self.slots = self.slots, slots
            items = np.array(self.items, dtype=object)
            ids = np.array([x[cols] for x in kid_slots], dtype=np.intp).reshape(-1, len(cols))
            values = np.array(kid_values, dtype=np.int8).reshape(ids.shape)
            held, n_held = _joined(np.where(values == _K_TRUE, ids, -1), items)
            failed, _ = _joined(np.where(values == _K_FALSE, ids, -1), items)
            unknown, _ = _joined(np.where(values == _K_UNKNOWN, ids, -1), items, dedupe=True)
            n, k = len(node.children), node.k
            n_true = self._count(node, _K_TRUE)[cols]
            counts = np.arange(n + 1)
            true = np.array([f"{t} of {n} criteria (" for t in counts], dtype=object)
            false = np.array([f"{t} of {n} criteria, {k} needed (" for t in counts], dtype=object)
            unknown_of = np.array(
                [f"{t} of {n} criteria known to hold, {k} needed: " for t in counts], dtype=object
            )
            value = self._value(node)[cols]
            text = np.where(
                value == _K_TRUE,
                true[n_true] + held + ")",
                np.where(
                    value == _K_FALSE,
                    false[n_true]
                    + np.where(n_held > 0, "held: " + held + "; ", "")
                    + "failed: "
                    + failed
                    + ")",
                    unknown_of[n_true] + unknown,
                ),
            )
            said[cols] = len(self.items) + np.arange(len(cols))
            self.items += text.tolist()
        self.slots.append(said)

    def _reasons(self, verdict: np.ndarray) -> np.ndarray:
        """``<prefix>: <what is said>`` of each combination."""
        slots = np.array(self.slots, dtype=np.intp).reshape(len(self.slots), len(verdict))
        said, n_said = _joined(slots, np.array(self.items, dtype=object), dedupe=True)
        said[(n_said == 0) & (verdict == 1)] = "no criteria"
        return _PREFIX[verdict + 1] + said


def _joined(
    ids: np.ndarray, items: np.ndarray, dedupe: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``"; ".join`` of the items of each column of ``ids`` (item indices, −1 for none), through
    :func:`_dedupe` if asked, and the number of items of each column (column-wise up to two)."""
    present = ids >= 0
    count = present.sum(axis=0)
    joined = np.full(ids.shape[1], "", dtype=object)
    one = np.flatnonzero(count == 1)
    if len(one):
        joined[one] = items[ids[:, one].max(axis=0)]
    two = np.flatnonzero(count == 2)
    if len(two):
        first = items[ids[present[:, two].argmax(axis=0), two]]
        second = items[ids[len(ids) - 1 - present[::-1, two].argmax(axis=0), two]]
        if dedupe:
            joined[two] = np.array(
                [
                    a if a == b or b in a else b if a in b else a + "; " + b
                    for a, b in zip(first.tolist(), second.tolist(), strict=True)
                ],
                dtype=object,
            )
        else:
            joined[two] = first + "; " + second
    more = np.flatnonzero(count > 2)
    if len(more):
        texts = items.tolist()
        said = ([texts[j] for j in col if j >= 0] for col in ids[:, more].T.tolist())
        joined[more] = np.array(
            ["; ".join(_dedupe(t) if dedupe else t) for t in said], dtype=object
        )
    return joined, count


def _verdict_arrays(
    features: pd.DataFrame, definition: Definition, _frame: _Frame | None = None
) -> dict[str, Any]:
    """``hpd_<code>``, ``hpd_<code>_reason``, ``hpd_<code>_status`` arrays of one definition."""
    atoms, tree, reqs = definition.compile()
    fr = _frame if _frame is not None else _Frame(features)
    fr.code = definition.code
    per_atom = [fr.atom(atom) for atom in reqs + atoms]
    texts = [t for _, t in per_atom]
    inv, combos = _combinations(
        [c for c, _ in per_atom], [2 + len(t) for t in texts], len(features)
    )
    verdict, reason = _Explanation(
        tree, reqs + atoms, len(reqs), texts=texts, combos=combos
    ).verdicts()
    v = verdict.take(inv)
    col = f"hpd_{definition.code}"
    # pandas' take of object arrays is faster than ndarray.take (inv has no −1 to fill)
    return {
        col: pd.arrays.BooleanArray(v == 1, v < 0),
        f"{col}_reason": pd.api.extensions.take(reason, inv, allow_fill=True),
        f"{col}_status": pd.api.extensions.take(_STATUS[verdict + 1], inv, allow_fill=True),
    }


def evaluate_definition(features: pd.DataFrame, definition: Definition) -> pd.DataFrame:
    """Verdict of one definition for every row of ``features``.

    Returns a DataFrame (same index) with ``hpd_<code>`` (nullable boolean: True HPD, False not
    HPD, NA not evaluable), ``hpd_<code>_reason`` (str) and ``hpd_<code>_status``
    (``hpd`` / ``not_hpd`` / ``not_evaluable``).
    """
    return pd.DataFrame(_verdict_arrays(features, definition), index=features.index, copy=False)


def verdict_columns(features: pd.DataFrame, definitions: Sequence[Definition]) -> dict[str, Any]:
    """Verdict arrays of every definition by column name (see :func:`evaluate_definition`)."""
    codes = [d.code for d in definitions]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise ParameterError(f"definition code(s) given twice: {', '.join(dup)}")
    frame = _Frame(features)
    out: dict[str, Any] = {}
    for d in definitions:
        out.update(_verdict_arrays(features, d, frame))
    return out


def evaluate_definitions(features: pd.DataFrame, definitions: Sequence[Definition]) -> pd.DataFrame:
    """Verdict columns of every definition (see :func:`evaluate_definition`), side by side."""
    return pd.DataFrame(verdict_columns(features, definitions), index=features.index, copy=False)


# ---------------------------------------------------------------------------------------------
# the nine published definitions
# ---------------------------------------------------------------------------------------------

_PD = {"criterion": "recist_first_eval == PD"}


def _pd_and_delta_tgr(code: str, *, citation: str, rule: str, delta_tgr_min: float) -> Definition:
    """A ΔTGR definition (Ferrara 2018; Kas 2020 with a higher threshold): RECIST PD at the
    first evaluation and ΔTGR = TGR_on − TGR_pre strictly above ``delta_tgr_min`` percentage
    points per month, for patients with measurable disease and a pre-baseline scan."""
    return Definition(
        code=code,
        citation=citation,
        rule=rule,
        parameters={"delta_tgr_min": delta_tgr_min},
        requires=("measurable_baseline", "prebaseline"),
        criteria=[_PD, "delta_tgr > {delta_tgr_min}"],
        notes="Strictly greater than {delta_tgr_min}.",
    )


BUILTIN_DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        code="champiat2017",
        citation=(
            "Champiat S, Dercle L, Ammari S, et al. Hyperprogressive disease is a new pattern of "
            "progression in cancer patients treated by anti-PD-1/PD-L1. Clin Cancer Res "
            "2017;23(8):1920-1928. doi:10.1158/1078-0432.CCR-16-1741. Also Kanjanapan Y, et al. "
            "Cancer 2019;125(8):1341-1349."
        ),
        rule="RECIST progression (PD) at the first evaluation and TGR ratio (TGR_on / TGR_pre) "
        "≥ {tgr_ratio_min}.",
        parameters={"tgr_ratio_min": 2.0},
        requires=("measurable_baseline", "prebaseline"),
        criteria=[_PD, "tgr_ratio >= {tgr_ratio_min}"],
        notes="Needs a pre-baseline scan. A negative TGR_pre follows the cohort-wide "
        "nonpositive_pre_growth policy (default: not evaluable).",
    ),
    Definition(
        code="saada_bouzid2017",
        citation=(
            "Saâda-Bouzid E, Defaucheux C, Karabajakian A, et al. Hyperprogression during "
            "anti-PD-1/PD-L1 therapy in patients with recurrent and/or metastatic head and neck "
            "squamous cell carcinoma. Ann Oncol 2017;28(7):1605-1611. doi:10.1093/annonc/mdx178."
        ),
        rule="TGK ratio (TGK_on / TGK_pre) ≥ {tgk_ratio_min}; no RECIST PD requirement.",
        parameters={"tgk_ratio_min": 2.0, "require_recist_pd": False},
        requires=("measurable_baseline", "prebaseline"),
        criteria=[
            {"when": "require_recist_pd", "criterion": "recist_first_eval == PD"},
            "tgk_ratio >= {tgk_ratio_min}",
        ],
        notes="require_recist_pd off as in the original (on: RECIST PD at the first evaluation "
        "too). The reference slope was measured on the previous treatment line, i.e. "
        "pre-baseline → baseline. TGK in mm/month unless Parameters.tgk_mode='relative'.",
    ),
    _pd_and_delta_tgr(
        "ferrara2018",
        citation=(
            "Ferrara R, Mezquita L, Texier M, et al. Hyperprogressive disease in patients with "
            "advanced non-small cell lung cancer treated with PD-1/PD-L1 inhibitors or with "
            "single-agent chemotherapy. JAMA Oncol 2018;4(11):1543-1552. "
            "doi:10.1001/jamaoncol.2018.3676."
        ),
        rule="RECIST PD at the first evaluation and ΔTGR (TGR_on − TGR_pre) > {delta_tgr_min} "
        "percentage points per month.",
        delta_tgr_min=50.0,
    ),
    Definition(
        code="kato2017",
        citation=(
            "Kato S, Goodman A, Walavalkar V, Barkauskas DA, Sharabi A, Kurzrock R. "
            "Hyperprogressors after immunotherapy: analysis of genomic alterations associated "
            "with accelerated growth rate. Clin Cancer Res 2017;23(15):4242-4250. "
            "doi:10.1158/1078-0432.CCR-16-3133."
        ),
        rule="TTF < {ttf_max_months} months and > {burden_increase_min_pct} % increase in tumour "
        "burden (SLD) compared with pre-treatment imaging and > {pace_ratio_min}-fold increase "
        "in progression pace ({pace} ratio).",
        parameters={
            "ttf_max_months": 2.0,
            "burden_increase_min_pct": 50.0,
            "pace_ratio_min": 2.0,
            "pace": "tgk",
        },
        choices={"pace": ("tgk", "tgr")},
        requires=("measurable_baseline", "prebaseline"),
        criteria=[
            "ttf_months < {ttf_max_months}",
            "sld_pct_change_first_eval > {burden_increase_min_pct}",
            {"when": "pace == tgk", "criterion": "tgk_ratio > {pace_ratio_min}"},
            {"when": "pace == tgr", "criterion": "tgr_ratio > {pace_ratio_min}"},
        ],
        notes="'Pre-treatment imaging' is the baseline scan; tumour burden change is measured at "
        "the first evaluation. 'Pace of progression' read as TGK (parameter pace: tgk/tgr). "
        "TTF is censoring-aware: a patient still on treatment before {ttf_max_months} months "
        "is not evaluable for TTF < {ttf_max_months} months.",
    ),
    Definition(
        code="lo_russo2019",
        citation=(
            "Lo Russo G, Moro M, Sommariva M, et al. Antibody-Fc/FcR interaction on macrophages "
            "as a mechanism for hyperprogressive disease in non-small cell lung cancer subsequent "
            "to PD-1/PD-L1 blockade. Clin Cancer Res 2019;25(3):989-999. "
            "doi:10.1158/1078-0432.CCR-18-1390."
        ),
        rule="RECIST PD at the first evaluation (parameter require_recist_pd) and ≥ {min_criteria} "
        "of 5: TTF < {ttf_max_months} months; ≥ {sld_increase_min_pct} % SLD rise baseline → "
        "first evaluation; ≥ {new_lesions_in_organ_min} new lesions in an already involved "
        "organ; spread to ≥ {new_organs_min} new organ(s); ECOG worsening ≥ "
        "{ecog_worsening_min} within 2 months.",
        parameters={
            "require_recist_pd": True,
            "min_criteria": 3,
            "ttf_max_months": 2.0,
            "sld_increase_min_pct": 50.0,
            "new_lesions_in_organ_min": 2,
            "new_organs_min": 1,
            "ecog_rule": "delta_ge_2",
            "ecog_worsening_min": 2,
        },
        choices={"ecog_rule": ("delta_ge_2", "reaches_ge_2")},
        requires=("measurable_baseline",),
        criteria=[
            {"when": "require_recist_pd", "criterion": "recist_first_eval == PD"},
            {
                "at_least": "{min_criteria}",
                "of": [
                    "ttf_months < {ttf_max_months}",
                    "sld_pct_change_first_eval >= {sld_increase_min_pct}",
                    "max_new_lesions_in_involved_organ_first_eval >= {new_lesions_in_organ_min}",
                    "new_organs_first_eval >= {new_organs_min}",
                    {
                        "when": "ecog_rule == delta_ge_2",
                        "criterion": "ecog_delta >= {ecog_worsening_min}",
                        "label": "ECOG worsened by ≥ {ecog_worsening_min} points",
                        "label_false": "ECOG worsened by < {ecog_worsening_min} points",
                    },
                    {
                        "when": "ecog_rule == reaches_ge_2",
                        "all": [
                            {
                                "criterion": "ecog_first_eval >= {ecog_worsening_min}",
                                "label": "ECOG ≥ {ecog_worsening_min} at first evaluation",
                                "label_false": "ECOG < {ecog_worsening_min} at first evaluation",
                            },
                            {
                                "criterion": "ecog_delta >= 1",
                                "label": "ECOG worse than at baseline",
                                "label_false": "ECOG not worse than at baseline",
                            },
                        ],
                    },
                ],
            },
        ],
        notes="Sources differ on whether RECIST PD is required (require_recist_pd, default on). "
        "ECOG rule: delta_ge_2 = ECOG at first evaluation − baseline ≥ {ecog_worsening_min} "
        "(default); reaches_ge_2 = ECOG at first evaluation ≥ {ecog_worsening_min} and worse "
        "than baseline. The ECOG at "
        "first evaluation stands for 'within 2 months' (the cohort format has no ECOG "
        "date). No pre-baseline scan needed.",
    ),
    Definition(
        code="kim2019",
        citation=(
            "Kim CG, Kim KH, Pyo KH, et al. Hyperprogressive disease during PD-1/PD-L1 blockade "
            "in patients with non-small-cell lung cancer. Ann Oncol 2019;30(7):1104-1113. "
            "doi:10.1093/annonc/mdz123."
        ),
        rule="TGK ratio ≥ {tgk_ratio_min} and TGR ratio ≥ {tgr_ratio_min}, the reference period "
        "being the {reference_period_days} days before treatment start and the on-treatment "
        "period the {experimental_period_days} days after.",
        parameters={
            "tgk_ratio_min": 2.0,
            "tgr_ratio_min": 2.0,
            "reference_period_days": 84,
            "experimental_period_days": 84,
            "require_recist_pd": False,
        },
        requires=(
            "measurable_baseline",
            "prebaseline",
            {
                "criterion": "days_prebaseline_to_start <= {reference_period_days}",
                "label": "pre-baseline scan within {reference_period_days} days before treatment",
                "label_false": "pre-baseline scan more than {reference_period_days} days before "
                "treatment start (outside kim2019 reference period)",
            },
            {
                "criterion": "first_eval_day <= {experimental_period_days}",
                "label": "first evaluation within {experimental_period_days} days",
                "label_false": "first evaluation after day {experimental_period_days} "
                "(outside kim2019 on-treatment period)",
            },
        ),
        criteria=[
            {"when": "require_recist_pd", "criterion": "recist_first_eval == PD"},
            "tgk_ratio >= {tgk_ratio_min}",
            "tgr_ratio >= {tgr_ratio_min}",
        ],
        notes="require_recist_pd (off: the combined rule as in the spec; on: RECIST 1.1 PD at "
        "the first evaluation, as the seed review's Table 2 lists for Kim et al.). "
        "The periods (12 weeks = 84 days in the paper) are eligibility windows (requires): "
        "the cohort's scans are chosen by the cohort-wide windows, and a patient whose "
        "pre-baseline scan is more than {reference_period_days} days before treatment start, "
        "or whose first evaluation is after day {experimental_period_days}, is "
        "not evaluable (no other scan could fall in the window: pre-baseline is the latest "
        "before baseline, first evaluation the earliest after treatment start). TTF < 2 "
        "months was reported as a separate, alternative criterion, not part of this rule.",
    ),
    Definition(
        code="matos2020",
        citation=(
            "Matos I, Martin-Liberal J, García-Ruiz A, et al. Capturing hyperprogressive disease "
            "with immune-checkpoint inhibitors using RECIST 1.1 criteria. Clin Cancer Res "
            "2020;26(8):1846-1855. doi:10.1158/1078-0432.CCR-19-2226."
        ),
        rule="RECIST PD at the first evaluation within {first_eval_max_days} days of treatment "
        "start with SLD ≥ {sld_increase_min_pct} % over baseline, or ≥ "
        "{sld_increase_with_new_organs_min_pct} % plus new lesions in ≥ "
        "{new_lesion_organs_min} different organs.",
        parameters={
            "first_eval_max_days": 56,
            "sld_increase_min_pct": 40.0,
            "sld_increase_with_new_organs_min_pct": 20.0,
            "new_lesion_organs_min": 2,
            "require_abs_increase": False,
            "abs_increase_min_mm": 10.0,
            "require_ttf": False,
            "ttf_max_months": 2.0,
        },
        requires=("measurable_baseline",),
        criteria=[
            _PD,
            "first_eval_day <= {first_eval_max_days}",
            {
                "any": [
                    "sld_pct_change_first_eval >= {sld_increase_min_pct}",
                    {
                        "all": [
                            "sld_pct_change_first_eval >= {sld_increase_with_new_organs_min_pct}",
                            "n_organs_with_new_lesions_first_eval >= {new_lesion_organs_min}",
                        ]
                    },
                ]
            },
            {
                "when": "require_abs_increase",
                "criterion": "sld_change_first_eval_mm >= {abs_increase_min_mm}",
            },
            {"when": "require_ttf", "criterion": "ttf_months < {ttf_max_months}"},
        ],
        notes="An earlier abstract of the same group also asked for a ≥ {abs_increase_min_mm} mm "
        "absolute SLD rise and TTF < {ttf_max_months} months (require_abs_increase, "
        "require_ttf; off by default). A first evaluation after day {first_eval_max_days} "
        "(8 weeks = 56 days in the paper) gives 'not HPD' (the rule captures early "
        "progression). "
        "'New lesions in ≥ 2 different organs' counts distinct organs with a new lesion at "
        "the first evaluation (needs lesion-level organs).",
    ),
    Definition(
        code="gandara2018_fp",
        citation=(
            "Gandara DR, Reck M, Morris S, et al. Fast progression in patients treated with a "
            "checkpoint inhibitor (cpi) vs chemotherapy in OAK, a phase III trial of "
            "atezolizumab (atezo) vs docetaxel (doc) in 2L+ NSCLC. Ann Oncol 2018;29(suppl 10):"
            "x39-x43 (abstract); full OAK fast-progression analysis in J Immunother Cancer 2021."
        ),
        rule="Fast progression: ≥ {sld_increase_min_pct} % SLD rise at the first assessment by "
        "day {first_assessment_max_days}, or death from progression by day {death_max_days} "
        "without a post-baseline scan.",
        parameters={
            "sld_increase_min_pct": 50.0,
            "first_assessment_max_days": 42,
            "death_max_days": 84,
        },
        requires=(),
        criteria={
            "any": [
                {
                    "all": [
                        {
                            "criterion": "n_post_baseline_scans >= 1",
                            "label": "post-baseline scan done",
                            "label_false": "no post-baseline scan",
                        },
                        "first_eval_day <= {first_assessment_max_days}",
                        "sld_pct_change_first_eval >= {sld_increase_min_pct}",
                    ]
                },
                {
                    "all": [
                        "n_post_baseline_scans == 0",
                        {
                            "criterion": "days_to_death <= {death_max_days}",
                            "label": "death by day {death_max_days}",
                            "label_false": "no death by day {death_max_days}",
                        },
                        "death_from_progression == true",
                    ]
                },
            ]
        },
        notes="Not a kinetic definition: no pre-baseline scan needed. As in OAK (all treated "
        "patients counted), a patient without a post-baseline scan is not fast progression "
        "unless the death branch holds (not 'not evaluable'). A death without a "
        "recorded cause counts as death from progression unless "
        "Parameters.death_without_cause_is_progression is false. Both day limits are "
        "inclusive (published: day 42 = 6 weeks, day 84 = 12 weeks).",
    ),
    _pd_and_delta_tgr(
        "kas2020",
        citation=(
            "Kas B, Talbot H, Ferrara R, et al. Clarification of definitions of hyperprogressive "
            "disease during immunotherapy for non-small cell lung cancer. JAMA Oncol "
            "2020;6(7):1039-1046. doi:10.1001/jamaoncol.2020.1634."
        ),
        rule="RECIST PD at the first evaluation and ΔTGR > {delta_tgr_min} percentage points per "
        "month.",
        delta_tgr_min=100.0,
    ),
)

#: every registered definition by code (the nine published ones, plus user registrations)
REGISTRY: dict[str, Definition] = {d.code: d for d in BUILTIN_DEFINITIONS}

#: the published parameter values of the built-in definitions (what the report compares the
#: parameters in force with, whatever is registered or overridden later)
PUBLISHED_PARAMETERS: dict[str, dict[str, Any]] = {
    d.code: dict(d.parameters) for d in BUILTIN_DEFINITIONS
}


def register(definition: Definition, *, replace: bool = False) -> Definition:
    """Add a definition to :data:`REGISTRY` (``replace=True`` to overwrite a code); returns it."""
    if not isinstance(definition, Definition):
        raise ParameterError(f"register expects a Definition, got {type(definition).__name__}")
    if definition.code in REGISTRY and not replace:
        raise ParameterError(
            f"definition {definition.code!r} is already registered (pass replace=True to overwrite)"
        )
    REGISTRY[definition.code] = definition
    return definition


def get_definitions(
    names: str | Iterable[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Definition]:
    """Definitions from the registry (all when ``names`` is None), with parameter overrides.

    ``overrides`` maps a code to ``{parameter: value}``; unknown codes or parameters raise
    :class:`ParameterError` listing the valid ones.
    """
    if names is None:
        selected = list(REGISTRY)
    else:
        selected = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in selected if n not in REGISTRY]
        if unknown:
            raise ParameterError(
                f"unknown definition(s): {', '.join(map(str, unknown))} "
                f"(valid: {', '.join(REGISTRY)})"
            )
    defs = {c: REGISTRY[c] for c in selected}
    for code, params in (overrides or {}).items():
        if code not in REGISTRY:
            raise ParameterError(
                f"override for unknown definition {code!r} (valid: {', '.join(REGISTRY)})"
            )
        if code in defs:
            defs[code] = defs[code].with_parameters(**dict(params))
        else:  # validate even when not selected
            REGISTRY[code].with_parameters(**dict(params))
    return list(defs.values())


# labels of definitions in figures and tables


def definition_code(column: str) -> str:
    """``hpd_ferrara2018`` / ``hpd_ferrara2018_status`` / ``ferrara2018`` → ``ferrara2018``."""
    code = column[4:] if column.startswith("hpd_") else column
    for suffix in ("_status", "_reason"):
        code = code.removesuffix(suffix)
    return code


#: mark of a definition whose parameters in force differ from the published ones
CHANGED_MARK = "†"


def definitions_by_code(definitions: Sequence[Any] | None) -> dict[str, Any]:
    """``{code: definition}`` of a list of definitions (codes given as text are skipped)."""
    return {str(getattr(d, "code", d)): d for d in (definitions or []) if not isinstance(d, str)}


def definition_labels(
    codes: Sequence[str], definitions: Sequence[Any] | None = None
) -> dict[str, str]:
    """Label of each definition code for figures and tables: first author and year
    (``Champiat 2017``, :func:`author_year`) of the definition in force (from
    ``definitions``, the report's :class:`~hpd_analysis.definitions.Definition` objects, else the
    registry), followed by ``†`` when its parameters differ from the published ones; the code
    itself for a definition with no author and year (a user definition). Two codes with the same
    label get their code appended, so that labels stay unique."""
    by_code = definitions_by_code(definitions)
    out: dict[str, str] = {}
    for c in codes:
        c = str(c)
        code = c if (c in by_code or c in REGISTRY) else definition_code(c)
        d = by_code.get(code, REGISTRY.get(code))
        if d is None:
            out[c] = c
            continue
        label = author_year(d)
        if hasattr(d, "parameter_changes") and d.parameter_changes():
            label = f"{label} {CHANGED_MARK}"
        out[c] = label
    seen: dict[str, int] = {}
    for label in out.values():
        seen[label] = seen.get(label, 0) + 1
    return {c: (f"{lab} ({c})" if seen[lab] > 1 and lab != c else lab) for c, lab in out.items()}


def changes_note(codes: Sequence[str], definitions: Sequence[Any] | None = None) -> str:
    """``† parameter changed: Ferrara 2018 delta_tgr_min = 75 (published: 50)`` for the
    definitions among ``codes`` whose parameters in force are not the published ones
    (:meth:`~hpd_analysis.definitions.Definition.changes_text`); empty when none."""
    by_code = definitions_by_code(definitions)
    parts = []
    for c in codes:
        d = by_code.get(definition_code(str(c)), by_code.get(str(c)))
        if d is not None and hasattr(d, "changes_text") and d.changes_text():
            parts.append(f"{author_year(d)} {d.changes_text()}")
    if not parts:
        return ""
    return f"{CHANGED_MARK} parameter changed: " + "; ".join(parts)


_YAML_KEYS = {"code", "citation", "rule", "criteria", "parameters", "requires", "notes", "choices"}


def definition_from_dict(item: Mapping[str, Any], source: str = "user") -> Definition:
    """Build a :class:`Definition` from a mapping (one ``definitions:`` item of a YAML file)."""
    if not isinstance(item, Mapping):
        raise ParameterError(f"{source}: a definition must be a mapping, got {item!r}")
    bad = sorted(set(item) - _YAML_KEYS)
    missing = [k for k in ("code", "criteria") if k not in item]
    where = f"{source}: definition {item.get('code', '?')!r}"
    if bad:
        raise ParameterError(
            f"{where}: unknown key(s) {', '.join(bad)} (expected {', '.join(sorted(_YAML_KEYS))})"
        )
    if missing:
        raise ParameterError(f"{where}: missing {', '.join(missing)}")
    try:
        return Definition(
            code=item["code"],
            citation=str(item.get("citation") or "user-defined"),
            rule=str(item.get("rule") or ""),
            criteria=item["criteria"],
            parameters=dict(item.get("parameters") or {}),
            requires=tuple(item.get("requires") or ()),
            notes=str(item.get("notes") or ""),
            choices=dict(item.get("choices") or {}),
            source=source,
        )
    except ParameterError as exc:
        raise ParameterError(f"{source}: {exc}") from None


def read_yaml_config(path: str | Path) -> tuple[dict[str, Any], list[Definition]]:
    """Read a YAML config: ``(parameters, definitions)``.

    ``parameters:`` is a flat mapping of :class:`~hpd_analysis.params.Parameters` keys
    (``windows.first_eval_min_days``...) and ``<definition>.<parameter>`` overrides;
    ``definitions:`` is a list of user definitions (see :func:`definition_from_dict`).
    """
    import yaml

    from .errors import short_excerpt, yaml_error_text

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML ({yaml_error_text(exc)})") from None
    except UnicodeDecodeError:
        raise ParameterError(
            f"{path}: not a UTF-8 text file (expected a YAML file of definitions and/or parameters)"
        ) from None
    if data is None:
        data = {}
    if isinstance(data, list):
        data = {"definitions": data}
    if not isinstance(data, Mapping):
        raise ParameterError(f"{path}: expected a mapping with 'definitions:' and/or 'parameters:'")
    bad = sorted(map(str, set(data) - {"definitions", "parameters"}))
    if bad and len(bad) == len(data):  # not a workbench file: nothing of it is echoed
        raise ParameterError(
            f"{path}: only unknown top-level keys: not an HPD workbench "
            "configuration (expected a YAML mapping with 'definitions:' and/or "
            "'parameters:')"
        )
    if bad:
        raise ParameterError(
            f"{path}: unknown top-level key(s) "
            f"{', '.join(short_excerpt(b) for b in bad[:5])} "
            "(expected definitions, parameters)"
        )
    params = data.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ParameterError(f"{path}: 'parameters:' must be a mapping of name: value")
    items = data.get("definitions") or []
    if not isinstance(items, list):
        raise ParameterError(f"{path}: 'definitions:' must be a list")
    defs = [definition_from_dict(item, source=str(path)) for item in items]
    return dict(params), defs


def load_definitions_yaml(path: str | Path) -> list[Definition]:
    """User definitions of a YAML file (``definitions:`` list); not registered automatically."""
    return read_yaml_config(path)[1]


def resolve_definitions(
    definitions: str | Definition | Iterable[str | Definition] | None = None,
    definitions_file: str | Path | None = None,
    definition_parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Definition]:
    """The :class:`Definition` objects an analysis uses.

    ``definitions``: codes and/or :class:`Definition` objects (None: every registered definition,
    then every definition of ``definitions_file``). Registered codes and objects come in the order
    given (a code named twice counts once), with the thresholds of ``definition_parameters``
    (``{code: {parameter: value}}``, see :func:`get_definitions`); then the definitions of
    ``definitions_file`` (YAML, file order) whose code is named.
    """
    user = load_definitions_yaml(definitions_file) if definitions_file else []
    if definitions is None:
        return get_definitions(None, overrides=definition_parameters) + list(user)
    items = [definitions] if isinstance(definitions, str | Definition) else list(definitions)
    for d in items:
        if not isinstance(d, str | Definition):
            raise ParameterError(f"definition {d!r}: expected a code or a Definition")
    user_codes = {d.code for d in user}
    codes = [d for d in items if isinstance(d, str) and d not in user_codes]
    registered = (
        {d.code: d for d in get_definitions(codes, overrides=definition_parameters)}
        if codes
        else {}
    )
    out: list[Definition] = []
    for d in items:
        if isinstance(d, Definition):
            out.append(d)
        elif d in registered:
            out.append(registered.pop(d))
    named = {d for d in items if isinstance(d, str)}
    return out + [d for d in user if d.code in named]


def describe_definitions(definitions: Iterable[Definition] | None = None) -> pd.DataFrame:
    """One row per definition: ``code, label, citation, rule, criteria, parameters,
    differs_from_published, requires, notes``.

    Every text follows the parameters in force: ``rule`` and ``notes`` are filled in from them
    (:meth:`Definition.rule_text`), ``criteria`` is compiled from them, and
    ``differs_from_published`` lists each parameter whose value is not the published one
    (:meth:`Definition.changes_text`; empty when none)."""
    defs = list(REGISTRY.values()) if definitions is None else list(definitions)
    rows = []
    for d in defs:
        atoms, tree, reqs = d.compile()
        rows.append(
            {
                "code": d.code,
                "label": d.label,
                "citation": d.citation,
                "rule": d.rule_text(),
                "criteria": _render(tree, atoms),
                "parameters": d.parameters_text(),
                "differs_from_published": d.changes_text(),
                "requires": "; ".join(a.label for a in reqs),
                "notes": d.notes_text(),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "code",
            "label",
            "citation",
            "rule",
            "criteria",
            "parameters",
            "differs_from_published",
            "requires",
            "notes",
        ],
    )


class _RegistryModule(type(functools)):  # type: ignore[misc]
    """This module, displayed as the registry: ``hpd.definitions`` shows every registered
    definition (code, rule, parameters), ``hpd.definitions["ferrara2018"]``, ``"x" in
    hpd.definitions``, ``len()`` and iteration (codes) read :data:`REGISTRY`, and
    ``hpd.definitions()`` returns :func:`describe_definitions`. Module attributes are unchanged."""

    def __call__(self) -> pd.DataFrame:
        return describe_definitions()

    def __getitem__(self, code: str) -> Definition:
        return REGISTRY[code]

    def __contains__(self, code: object) -> bool:
        return code in REGISTRY

    def __iter__(self) -> Any:
        return iter(list(REGISTRY))

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return (
            "HPD definitions (hpd.definitions; hpd.definitions() for the full table):\n"
            + describe_definitions()[["code", "parameters"]].to_string(index=False)
        )

    def _repr_html_(self) -> str:
        return describe_definitions()[["code", "citation", "rule", "parameters"]].to_html(
            index=False
        )


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _RegistryModule
