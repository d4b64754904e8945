"""Figures of incidence and agreement: the incidence forest, where every patient ends up
(attrition), agreement between definitions (heat map, UpSet), and how incidence moves with a
threshold, a time window or a re-read of the measurements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..definitions import changes_note, definition_labels, definitions_by_code
from ..incidence import HPD_LABEL, NON_HPD_LABEL
from .style import (
    GREY,
    OKABE_ITO,
    PALETTE,
    STATUS_COLORS,
    STATUS_LABELS,
    STYLE,
    count_label,
    draw_empty,
    new_axes,
    plain_text,
    style_axes,
    use_style,
    with_note,
)


def _incidence_strata(
    tab: pd.DataFrame, strata: list[str] | None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The incidence table with its ``stratum`` column as text (``all`` when missing), the
    definition codes in table order and the strata to draw (``strata`` or those of the table,
    in order) that have a percentage."""
    tab = tab.copy()
    tab["stratum"] = tab.get("stratum", pd.Series("all", index=tab.index)).astype("string")
    tab["stratum"] = tab["stratum"].fillna("all")
    codes = list(dict.fromkeys(tab["definition"].astype(str)))
    if strata is None:
        strata = list(dict.fromkeys(tab["stratum"].astype(str)))
    has_value = pd.to_numeric(tab["percent"], errors="coerce").notna()
    strata = [x for x in strata if (has_value & tab["stratum"].astype(str).eq(x)).any()]
    return tab, codes, strata


def _draw_incidence_stratum(
    ax: Axes,
    sub: pd.DataFrame,
    y: np.ndarray,
    *,
    color: str,
    label: str,
    counts: bool,
    min_count: int,
) -> None:
    """One stratum's incidence (%) with its CI as error bars at heights ``y``; with ``counts``
    its ``n_hpd/n_evaluable`` printed right of each CI (small-cell rule ``min_count``)."""
    p = pd.to_numeric(sub["percent"], errors="coerce").to_numpy(float)
    lo = pd.to_numeric(sub["ci_low"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(sub["ci_high"], errors="coerce").to_numpy(float)
    err = np.vstack([np.clip(p - lo, 0, None), np.clip(hi - p, 0, None)])
    ax.errorbar(p, y, xerr=err, fmt="o", ms=4, color=color, capsize=2, lw=1, label=label)
    if not counts:
        return
    for yi, hi_i, nh, ne in zip(y, hi, sub["n_hpd"], sub["n_evaluable"], strict=True):
        if np.isfinite(hi_i):
            ax.text(
                hi_i + 1,
                yi,
                f"{count_label(nh, min_count)}/{count_label(ne, min_count)}",
                va="center",
                fontsize=8,
                color="0.3",
            )


def _incidence_title(strata: list[str], by: str | None) -> tuple[str, str]:
    """The incidence forest's title and the name of its strata (the legend title)."""
    from ..tables import in_sentence, variable_label

    overall_only = all(x in ("all", "overall") for x in strata)
    by_label = variable_label(by) if by else "stratum"
    title = (
        "Incidence of HPD by definition, all patients"
        if overall_only
        else f"Incidence of HPD by definition and {in_sentence(by_label)}"
    )
    return title, by_label


@plain_text
def incidence_forest(
    incidence_table: pd.DataFrame,
    *,
    strata: list[str] | None = None,
    min_count: int = 0,
    definitions: Sequence[Any] | None = None,
    by: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Incidence of HPD (%) with its confidence interval, one row per definition, labelled by
    author and year (:func:`definition_labels` of ``definitions``, the report's definitions in
    force; ``†`` and a line under the title for parameters that differ from the published ones).
    ``by``: the patient column of the strata (named in the title, so that the overall and the
    stratified figures have different titles).

    ``min_count``: counts printed on the figure that are 1..k-1 show as ``<k`` (small-cell
    rule; rows whose percentage was blanked by it are not drawn).

    ``incidence_table``: ``definition, stratum, n_hpd, n_evaluable, percent, ci_low, ci_high``
    (percent and CI in %). With several strata each stratum gets its own colour and a small
    vertical offset; the overall rows (stratum ``all``) are labelled n_hpd/n_evaluable.
    """
    tab, codes, strata = _incidence_strata(incidence_table, strata)
    fig, ax = new_axes(ax, (7.5, max(2.5, 0.45 * len(codes) * max(1, min(len(strata), 3)) + 1)))
    if tab.empty:
        draw_empty(ax, "no incidence to show")
        return fig
    n_s = len(strata)
    offsets = ((n_s - 1) / 2 - np.arange(n_s)) * (0.7 / max(n_s, 1))  # first stratum on top
    ypos = {d: len(codes) - 1 - i for i, d in enumerate(codes)}
    for k, s in enumerate(strata):
        sub = tab[tab["stratum"].astype(str) == s]
        if sub.empty:
            continue
        y = sub["definition"].astype(str).map(ypos).to_numpy(float) + (offsets[k] if n_s > 1 else 0)
        overall = s in ("all", "overall") or n_s == 1
        _draw_incidence_stratum(
            ax,
            sub,
            y,
            color="black" if overall else PALETTE[k % len(PALETTE)],
            label=s.split("=", 1)[1] if by and s.startswith(f"{by}=") else s,
            counts=overall,
            min_count=min_count,
        )
    labels = definition_labels(list(ypos), definitions)
    ax.set_yticks(list(ypos.values()))
    ax.set_yticklabels([labels[d] for d in ypos])
    ax.set_xlim(left=0)
    ax.set_xlabel("HPD incidence among evaluable patients (%, 95 % CI)")
    title, by_label = _incidence_title(strata, by)
    ax.set_title(
        with_note(title, changes_note(list(ypos), definitions)), fontsize=STYLE["axes.titlesize"]
    )
    if n_s > 1:
        ax.legend(
            title=by_label,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            title_fontsize=8,
        )
    return fig


def _attrition_wide(
    attrition_table: pd.DataFrame,
    *,
    definition_col: str,
    category_col: str,
    count_col: str,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Patients per definition (rows, in table order) × category (columns: ``hpd``,
    ``not_hpd`` or a not-evaluable cause; None for an empty table) and the definitions; the
    category of an :func:`hpd_analysis.incidence.attrition` row is its status when evaluable,
    else its ``reason_category`` (or ``reason``)."""
    tab = attrition_table.copy()
    if category_col not in tab and {"status", "reason"} <= set(tab.columns):
        st = tab["status"].astype(str)
        cause = tab["reason_category"] if "reason_category" in tab else tab["reason"]
        tab[category_col] = np.where(st.isin(["hpd", "not_hpd"]), st, cause.astype(str))
    tab = tab[[definition_col, category_col, count_col]].copy()
    tab[category_col] = tab[category_col].astype(str)
    defs = list(dict.fromkeys(tab[definition_col].astype(str)))
    if tab.empty:
        return None, defs
    wide = tab.pivot_table(
        index=definition_col,
        columns=category_col,
        values=count_col,
        aggfunc="sum",
        fill_value=0,
        sort=False,
    ).reindex(defs)
    return wide, defs


def _attrition_segments(
    wide: pd.DataFrame, max_reasons: int
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """The segments of the attrition bars, in drawing order (HPD, non-HPD, then the
    not-evaluable causes, most frequent first; beyond ``max_reasons`` the rarest lumped into one
    "other reasons" column added to ``wide``) and one colour per segment (status colours, then
    the Okabe–Ito colours, then distinct greys)."""
    cats = [c for c in ("hpd", "not_hpd") if c in wide.columns]
    reasons = (
        wide.drop(columns=cats).sum().sort_values(ascending=False, kind="mergesort").index.tolist()
    )
    if len(reasons) > max_reasons:
        other = f"other reasons ({len(reasons) - max_reasons + 1} kinds; see the table)"
        wide[other] = wide[reasons[max_reasons - 1 :]].sum(axis=1)
        reasons = reasons[: max_reasons - 1] + [other]
    cats += reasons
    colors = {"hpd": STATUS_COLORS["hpd"], "not_hpd": STATUS_COLORS["not_hpd"]}
    extra = [
        OKABE_ITO[k] for k in ("orange", "sky_blue", "reddish_purple", "bluish_green", "yellow")
    ]
    n_grey = max(len(reasons) - len(extra), 1)
    for k, r in enumerate(reasons):  # one colour per cause: the greys beyond the palette differ
        colors[r] = (
            extra[k] if k < len(extra) else str(round(0.35 + 0.5 * (k - len(extra)) / n_grey, 3))
        )
    return wide, cats, colors


def _draw_attrition_bars(
    ax: Axes,
    wide: pd.DataFrame,
    cats: list[str],
    *,
    colors: Mapping[str, str],
    y: np.ndarray,
    total: np.ndarray,
    min_count: int,
) -> None:
    """The stacked horizontal bars (one per definition at heights ``y``), each segment with its
    count when it is at least 4 % of the bar (``total``: patients per definition; small-cell
    rule ``min_count``)."""
    left = np.zeros(len(wide))
    for c in cats:
        w = wide[c].to_numpy(float)
        label = STATUS_LABELS.get(c, c)
        label = label if len(label) <= 90 else label[:87] + "…"
        ax.barh(y, w, left=left, color=colors[c], height=0.6, label=label, lw=0)
        for yi, li, wi, ti in zip(y, left, w, total, strict=True):
            if wi > 0 and wi >= 0.04 * ti:
                ax.text(
                    li + wi / 2,
                    yi,
                    count_label(wi, min_count),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if c in ("hpd", "not_hpd") else "black",
                )
        left += w


@plain_text
def attrition_flow_plot(
    attrition_table: pd.DataFrame,
    *,
    definition_col: str = "definition",
    category_col: str = "category",
    count_col: str = "n",
    max_reasons: int = 6,
    min_count: int = 0,
    definitions: Sequence[Any] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Where every patient ends up, per definition: one horizontal stacked bar per definition,
    HPD, non-HPD, then each not-evaluable reason, each segment labelled with its count.

    ``attrition_table``: :func:`hpd_analysis.incidence.attrition` (``definition, status, reason,
    n``: the category is the status for evaluable patients, else the reason), or any long table
    with one row per definition × ``category_col`` (``hpd``, ``not_hpd`` or a not-evaluable
    reason) and ``count_col`` patients; each definition's counts add up to the cohort size.
    One cause, one colour: the not-evaluable segments are the causes of the table's
    ``reason_category`` column when it has one (the detailed reason texts, which differ by
    definition and patient, stay in the table), so that a cause has one colour and one legend
    entry across all definitions. Definitions are labelled by author and year
    (:func:`definition_labels` of ``definitions``).
    ``min_count``: printed counts 1..k-1 show as ``<k`` (small-cell rule).
    Beyond ``max_reasons`` not-evaluable reasons, the rarest are drawn as one "other reasons"
    segment (the table lists them all).
    """
    wide, defs = _attrition_wide(
        attrition_table,
        definition_col=definition_col,
        category_col=category_col,
        count_col=count_col,
    )
    fig, ax = new_axes(ax, (8.5, max(2.5, 0.5 * len(defs) + 2.0)))
    if wide is None:
        draw_empty(ax, "no attrition to show")
        return fig
    total = wide.sum(axis=1).to_numpy(float)
    wide, cats, colors = _attrition_segments(wide, max_reasons)
    y = np.arange(len(defs))[::-1]
    _draw_attrition_bars(ax, wide, cats, colors=colors, y=y, total=total, min_count=min_count)
    names = definition_labels(defs, definitions)
    ax.set_yticks(y)
    ax.set_yticklabels([names[d] for d in defs])
    ax.set_xlabel("patients")
    ax.set_title(
        with_note(
            f"Every patient counted once: {HPD_LABEL}, {NON_HPD_LABEL} or why not evaluable "
            f"(n={int(total.max()) if len(total) else 0})",
            changes_note(defs, definitions),
        )
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=1, fontsize=8)
    return fig


@plain_text
def agreement_heatmap(
    agreement_table: pd.DataFrame,
    metric: str = "kappa",
    *,
    definitions: Sequence[Any] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Heat map of pairwise agreement between definitions.

    ``agreement_table``: ``definition_a, definition_b`` and ``metric`` (``jaccard`` in 0–1, or
    Cohen's ``kappa`` in −1–1). The matrix is made symmetric; the diagonal is 1; pairs without a
    value (no patient evaluable by both) show "n/a".
    """
    tab = agreement_table
    defs = list(
        dict.fromkeys(list(tab["definition_a"].astype(str)) + list(tab["definition_b"].astype(str)))
    )
    n = len(defs)
    fig, ax = new_axes(ax, (1.0 + 0.75 * max(n, 2), 0.6 + 0.65 * max(n, 2)))
    if n == 0:
        draw_empty(ax, "no pair of definitions")
        return fig
    idx = {d: i for i, d in enumerate(defs)}
    mat = np.full((n, n), np.nan)
    a = tab["definition_a"].astype(str).map(idx).to_numpy()
    b = tab["definition_b"].astype(str).map(idx).to_numpy()
    v = pd.to_numeric(tab[metric], errors="coerce").to_numpy(float)
    mat[a, b] = v
    mat[b, a] = v
    np.fill_diagonal(mat, 1.0)
    if metric == "kappa":
        cmap, vmin, vmax, label = "PuOr", -1.0, 1.0, "Cohen's kappa"
    else:
        cmap, vmin, vmax, label = "cividis", 0.0, 1.0, metric.replace("_", " ")
    im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=vmin, vmax=vmax)
    for i in range(n):
        for j in range(n):
            val = mat[i, j]
            txt = "n/a" if not np.isfinite(val) else f"{val:.2f}"
            dark = np.isfinite(val) and (abs(val) > 0.6 if metric == "kappa" else val < 0.45)
            ax.text(
                j, i, txt, ha="center", va="center", fontsize=8, color="white" if dark else "black"
            )
    names = definition_labels(defs, definitions)
    ax.set_xticks(range(n))
    ax.set_xticklabels([names[d] for d in defs], rotation=45, ha="right")
    ax.set_yticks(range(n))
    ax.set_yticklabels([names[d] for d in defs])
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    fig.colorbar(im, ax=ax, label=label, shrink=0.8)
    ax.set_title(
        with_note(f"Agreement between definitions ({label})", changes_note(defs, definitions)),
        fontsize=STYLE["axes.titlesize"],
    )
    return fig


def _upset_counts(
    upset_counts: pd.DataFrame | pd.Series, count_col: str | None
) -> tuple[pd.DataFrame, str, str]:
    """The UpSet input as a table with a boolean column per definition, its count column and
    the note for the subtitle (patients left out as not evaluable under every definition, from
    the ``n_excluded`` of a Series of :func:`hpd_analysis.agreement.upset_data`)."""
    note = ""
    if isinstance(upset_counts, pd.Series):
        n_excl = upset_counts.attrs.get("n_excluded")
        if n_excl:
            n_in = int(pd.to_numeric(upset_counts, errors="coerce").sum())
            note = (
                f"; Among the {n_in} patients evaluable under every definition ({n_excl} not "
                "evaluable under at least one are left out), so the totals on the right are "
                "smaller than the HPD counts of the incidence figure"
            )
        return upset_counts.rename("n").reset_index(), "n", note
    tab = upset_counts.copy()
    if count_col is None:
        count_col = next((c for c in ("n", "count", "n_patients") if c in tab), None)
        if count_col is None:
            raise KeyError("upset_counts needs a count column: n, count or n_patients")
    return tab, count_col, note


def _upset_combinations(
    tab: pd.DataFrame, count_col: str, max_intersections: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The definitions (boolean columns), the membership matrix (combination × definition) and
    the patients per combination, largest first (ties in table order), at most
    ``max_intersections``; the empty combination and combinations without patients left out."""
    sets = [c for c in tab.columns if c != count_col and pd.api.types.is_bool_dtype(tab[c])]
    member = tab[sets].fillna(False).astype(bool).to_numpy()
    counts = pd.to_numeric(tab[count_col]).to_numpy(int)
    keep = member.any(axis=1) & (counts > 0)
    member, counts = member[keep], counts[keep]
    order = np.lexsort((np.arange(len(counts)), -counts))[:max_intersections]
    return sets, member[order], counts[order]


def _upset_axes(fig: Figure, n_sets: int) -> tuple[Axes, Axes, Axes]:
    """The three panels of the UpSet plot: combination bars (top), dot matrix (bottom left,
    sharing the bars' x axis) and patients per definition (bottom right, sharing its y axis)."""
    gs = fig.add_gridspec(
        2,
        2,
        width_ratios=[4, 1],
        height_ratios=[3, max(1.0, 0.35 * n_sets)],
        wspace=0.03,
        hspace=0.05,
    )
    ax_bar = fig.add_subplot(gs[0, 0])
    ax_mat = fig.add_subplot(gs[1, 0], sharex=ax_bar)
    ax_set = fig.add_subplot(gs[1, 1], sharey=ax_mat)
    for a in (ax_bar, ax_mat, ax_set):
        style_axes(a)
    return ax_bar, ax_mat, ax_set


def _draw_upset_matrix(
    ax: Axes, member: np.ndarray, *, x: np.ndarray, y: np.ndarray, names: list[str]
) -> None:
    """The dot matrix: a grey dot per combination × definition, black where the definition is
    in the combination, joined by a line; definitions (``names``) on the y axis."""
    xx, yy = np.meshgrid(x, y, indexing="ij")
    ax.scatter(xx.ravel(), yy.ravel(), s=30, color="0.85", zorder=1)
    in_combination, in_set = np.nonzero(member)
    ax.scatter(x[in_combination], y[in_set], s=30, color="black", zorder=2)
    for col in range(len(x)):
        ys = y[member[col]]
        if len(ys) > 1:
            ax.plot([col, col], [ys.min(), ys.max()], color="black", lw=1.5, zorder=1.5)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(-0.6, len(y) - 0.4)


@plain_text
def upset_plot(
    upset_counts: pd.DataFrame | pd.Series,
    *,
    count_col: str | None = None,
    max_intersections: int = 25,
    min_count: int = 0,
    definitions: Sequence[Any] | None = None,
    fig: Figure | None = None,
) -> Figure:
    """UpSet plot of which definitions flag the same patients (drawn with matplotlib only).

    ``upset_counts``: one row per combination, a boolean column per definition (True = flagged
    HPD) and a count column (``n``, ``count`` or ``n_patients``; or a Series of counts with a
    boolean MultiIndex, as upsetplot uses). The empty combination (flagged by none) is left out.
    Top: patients per combination (largest first, at most ``max_intersections``); left: patients
    flagged per definition; bottom: dot matrix of the combination. ``min_count``: printed
    counts 1..k-1 show as ``<k`` (small-cell rule; bar lengths still show them: review).

    A Series from :func:`hpd_analysis.agreement.upset_data` counts only the patients evaluable
    under every definition (its ``attrs["n_excluded"]`` are not evaluable under at least one):
    the subtitle says so, and that the per-definition totals are therefore smaller than the HPD
    counts of the incidence figure (which count every patient evaluable under that definition).
    """
    tab, count_col, note = _upset_counts(upset_counts, count_col)
    sets, member, counts = _upset_combinations(tab, count_col, max_intersections)
    set_sizes = (member * counts[:, None]).sum(axis=0)
    if fig is None:
        with use_style():
            fig = plt.figure(figsize=(max(6.0, 0.38 * len(counts) + 3.5), 2.8 + 0.32 * len(sets)))
    ax_bar, ax_mat, ax_set = _upset_axes(fig, len(sets))
    if len(counts) == 0:
        draw_empty(ax_bar, "no patient flagged by any definition")
        ax_mat.set_axis_off()
        ax_set.set_axis_off()
        return fig
    x: np.ndarray = np.arange(len(counts))
    ax_bar.bar(x, counts, color=OKABE_ITO["black"], width=0.6)
    for xi, c in zip(x, counts, strict=True):
        ax_bar.text(xi, c, count_label(c, min_count), ha="center", va="bottom", fontsize=7)
    ax_bar.set_ylabel("patients")
    ax_bar.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax_bar.tick_params(axis="x", bottom=False, labelbottom=False)
    ax_bar.spines["bottom"].set_visible(False)
    ax_bar.set_title(
        with_note(
            f"Patients flagged HPD by each combination of definitions ({len(counts)} combinations)",
            note[2:] + "." if note else "",
            changes_note(sets, definitions),
            width=100,
        ),
        fontsize=9,
        loc="left",
    )
    y = np.arange(len(sets))[::-1]
    names = definition_labels(sets, definitions)
    _draw_upset_matrix(ax_mat, member, x=x, y=y, names=[names[c] for c in sets])
    ax_set.barh(y, set_sizes, color=OKABE_ITO["vermillion"], height=0.5)
    for yi, v in zip(y, set_sizes, strict=True):
        ax_set.text(v, yi, f" {count_label(v, min_count)}", va="center", fontsize=7)
    ax_set.set_xlabel("flagged HPD")
    ax_set.tick_params(axis="y", left=False, labelleft=False)
    ax_set.spines["left"].set_visible(False)
    return fig


def published_value(
    code: str, parameter: str, definitions: Sequence[Any] | None = None
) -> float | None:
    """The published value of a definition's parameter (from the definition in force among
    ``definitions``, else the registry); None when unknown or not a number."""
    from ..definitions import PUBLISHED_PARAMETERS, REGISTRY

    d = definitions_by_code(definitions).get(code)
    if d is not None and hasattr(d, "published_parameters"):
        value = d.published_parameters().get(parameter)
    elif code in PUBLISHED_PARAMETERS:
        value = PUBLISHED_PARAMETERS[code].get(parameter)
    elif code in REGISTRY:
        value = REGISTRY[code].parameters.get(parameter)
    else:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _draw_sweep_curves(
    ax: Axes, sweep_table: pd.DataFrame, *, x: str, y: str, group: str | None
) -> None:
    """One incidence curve per ``group`` (or one for the table), x sorted, each with its CI
    band when the table has ``ci_low`` / ``ci_high``; colours in the Okabe–Ito order."""
    groups = (
        [(None, sweep_table)]
        if group is None or group not in sweep_table
        else list(sweep_table.groupby(group, sort=False))
    )
    for k, (name, sub) in enumerate(groups):
        sub = sub.sort_values(x, kind="mergesort")
        xs = pd.to_numeric(sub[x], errors="coerce").to_numpy(float)
        ys = pd.to_numeric(sub[y], errors="coerce").to_numpy(float)
        color = PALETTE[k % len(PALETTE)]
        ax.plot(xs, ys, marker="o", ms=3, color=color, label=None if name is None else str(name))
        if {"ci_low", "ci_high"} <= set(sub.columns):
            ax.fill_between(
                xs,
                pd.to_numeric(sub["ci_low"], errors="coerce").to_numpy(float),
                pd.to_numeric(sub["ci_high"], errors="coerce").to_numpy(float),
                color=color,
                alpha=0.15,
                lw=0,
            )


def _draw_threshold_marks(ax: Axes, reference: float | None, published: float | None) -> None:
    """The threshold in force (``reference``, dashed) and the published one (dotted): one
    dashed "published threshold" line when they are equal."""
    same = reference is None or published is None or float(reference) == float(published)
    if reference is not None:
        ax.axvline(
            reference,
            color="black",
            lw=0.8,
            ls="--",
            label=(
                f"published threshold ({reference:g})"
                if same and published is not None
                else f"threshold in force ({reference:g})"
            ),
        )
    if published is not None and not same:
        ax.axvline(
            published, color="black", lw=0.8, ls=":", label=f"published threshold ({published:g})"
        )


@plain_text
def threshold_curve(
    sweep_table: pd.DataFrame,
    *,
    x: str = "value",
    y: str = "percent",
    group: str | None = None,
    reference: float | None = None,
    published: float | None = None,
    xlabel: str | None = None,
    definitions: Sequence[Any] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """HPD incidence (%) as a threshold varies, with its CI band when ``ci_low``/``ci_high`` exist.

    ``sweep_table``: :func:`hpd_analysis.report.threshold_sweep_table` (``definition, parameter,
    value, default, percent, ci_low, ci_high``; ``default`` is the value in force) or any table
    with one row per threshold value (and per ``group`` when given), columns ``x`` and ``y``
    (percent). ``reference`` marks the threshold in force (default: the ``default`` column) and
    ``published`` the published one (default: :func:`published_value` of the table's definition
    and parameter, from ``definitions`` or the registry). When they are equal one dashed line
    says "published threshold"; when they differ, a dashed line marks the threshold in force and
    a dotted one the published threshold.
    """
    fig, ax = new_axes(ax)
    if sweep_table.empty:
        draw_empty(ax, "no threshold sweep")
        return fig
    if reference is None and "default" in sweep_table and sweep_table["default"].notna().any():
        reference = float(sweep_table["default"].dropna().iloc[0])
    code = param = label = None
    if {"definition", "parameter"} <= set(sweep_table.columns):
        code, param = str(sweep_table["definition"].iloc[0]), str(sweep_table["parameter"].iloc[0])
        label = definition_labels([code], definitions)[code]
        if published is None:
            published = published_value(code, param, definitions)
    if xlabel is None and code is not None:
        xlabel = f"{label}: {param}"
    _draw_sweep_curves(ax, sweep_table, x=x, y=y, group=group)
    _draw_threshold_marks(ax, reference, published)
    ax.set_xlabel(xlabel or x.replace("_", " "))
    ax.set_ylabel("HPD incidence among evaluable patients (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(
        "HPD incidence as the threshold varies (95 % CI band)"
        if label is None
        else with_note(
            f"HPD incidence under {label} as {param} varies (95 % CI band)",
            changes_note([str(code)], definitions),
            width=80,
        )
    )
    if group is not None or reference is not None or published is not None:
        ax.legend(fontsize=8)
    return fig


def _window_line_styles(sweep: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Colour and line style of each definition of a window sweep, in the run's definition
    order (that of a cohort-wide window, which moves them all): Okabe–Ito colours, solid, then
    the same colours dashed."""
    counts = sweep.groupby("parameter", sort=False)["definition"].nunique()
    widest = sweep[sweep["parameter"] == counts.idxmax()]
    codes = list(
        dict.fromkeys([*widest["definition"].astype(str), *sweep["definition"].astype(str)])
    )
    return {
        c: (PALETTE[i % len(PALETTE)], "-" if i < len(PALETTE) else "--")
        for i, c in enumerate(codes)
    }


def _draw_window_marks(ax: Axes, sub: pd.DataFrame, none_x: float) -> None:
    """The published value of a swept window (dashed black line) and the value in force when it
    differs (grey band); "no limit" (a missing value) at ``none_x``."""
    pub = sub.loc[sub["published"].astype(bool), "value"]
    if len(pub):
        pv = pd.to_numeric(pub, errors="coerce").iloc[0]
        ax.axvline(pv if np.isfinite(pv) else none_x, color="black", ls="--", lw=0.8)
    force = sub.loc[sub["in_force"].astype(bool), "value"]
    same = (
        len(pub)
        and len(force)
        and (
            pd.to_numeric(pub, errors="coerce").iloc[0]
            == pd.to_numeric(force, errors="coerce").iloc[0]
            or (pd.isna(pub.iloc[0]) and pd.isna(force.iloc[0]))
        )
    )
    if len(force) and not same:
        fv = pd.to_numeric(force, errors="coerce").iloc[0]
        ax.axvline(fv if np.isfinite(fv) else none_x, color=GREY, lw=4, alpha=0.35)


def _draw_window_panel(
    ax: Axes,
    sub: pd.DataFrame,
    styles: Mapping[str, tuple[str, str]],
    *,
    handles: dict[str, Line2D],
) -> None:
    """One swept window: incidence (%) against the window's value (days), one line per
    definition (its first line kept in ``handles`` for the legend), the published value and the
    value in force; a missing value (no limit) drawn one step right of the largest, "none"."""
    x = pd.to_numeric(sub["value"], errors="coerce").to_numpy(float)
    finite = x[np.isfinite(x)]
    step = np.diff(np.unique(finite)).min() if len(np.unique(finite)) > 1 else 7.0
    none_x = (finite.max() + 2 * step) if len(finite) else 0.0
    xs_all = np.where(np.isfinite(x), x, none_x)
    for code, (color, ls) in styles.items():
        m = (sub["definition"].astype(str) == code).to_numpy()
        if not m.any():
            continue
        order = np.argsort(xs_all[m], kind="mergesort")
        (line,) = ax.plot(
            xs_all[m][order],
            sub["percent"].to_numpy(float)[m][order],
            marker="o",
            ms=3,
            color=color,
            ls=ls,
            lw=1.2,
        )
        handles.setdefault(code, line)
    _draw_window_marks(ax, sub, none_x)
    if not np.isfinite(x).all():
        ticks = [*np.unique(finite), none_x]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks[:-1]] + ["none"])


def window_sweep_plot(sweep: pd.DataFrame, definitions: Sequence[Any] | None = None) -> Figure:
    """HPD incidence (%) per definition as each time window varies, one panel per window.

    ``sweep``: :func:`hpd_analysis.classification.window_sweep`; ``definitions``: the
    definitions in force (labels by author and year, † when changed; default the registry). Each
    definition one line (Okabe–Ito colours, then dashed); the dashed black line marks the
    published value, the grey band the value in force when it differs; a missing ``value`` (no
    limit) is drawn at the right end, labelled "none".
    """
    params = list(dict.fromkeys(sweep["parameter"].astype(str)))
    n = max(len(params), 1)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    with use_style():
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow + 0.8), squeeze=False)
    flat_axes = axes.ravel()
    for ax in flat_axes:
        style_axes(ax)
    if sweep.empty:
        draw_empty(flat_axes[0], "no window sweep")
        return fig
    styles = _window_line_styles(sweep)
    handles: dict[str, Line2D] = {}
    for ax, key in zip(flat_axes, params, strict=False):
        _draw_window_panel(
            ax, sweep[sweep["parameter"].astype(str) == key], styles, handles=handles
        )
        ax.set_title(_window_title(key, definitions), fontsize=9)
        ax.set_xlabel("days")
        ax.set_ylim(bottom=0)
    for ax in flat_axes[len(params) :]:
        ax.set_visible(False)
    flat_axes[0].set_ylabel("HPD incidence among evaluable (%)")
    extra = [
        Line2D([], [], color="black", ls="--", lw=0.8, label="published value"),
        Line2D([], [], color=GREY, lw=4, alpha=0.35, label="in force (when different)"),
    ]
    fig.legend(
        handles=[*handles.values(), *extra],
        labels=[
            *definition_labels(list(handles), definitions=definitions).values(),
            "published value",
            "in force (when different)",
        ],
        loc="lower center",
        ncol=min(6, len(handles) + 2),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.suptitle("HPD incidence as the time windows vary", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    return fig


def _window_title(key: str, definitions: Sequence[Any] | None = None) -> str:
    """Panel title of a swept window: ``Gandara 2018: first assessment max days`` for a
    definition's parameter, ``all definitions: first eval max days`` for a cohort-wide window."""
    head, _, name = key.partition(".")
    words = name.replace("_", " ")
    if head == "windows":
        return f"all definitions: {words}"
    return f"{definition_labels([head], definitions=definitions)[head]}: {words}"


def reread_uncertainty(summary: pd.DataFrame, definitions: Sequence[Any] | None = None) -> Figure:
    """How far the verdicts survive a re-read of the measurements, one row per definition.

    ``summary``: :func:`hpd_analysis.uncertainty.reread_summary`; ``definitions``: the
    definitions in force (labels by author and year, † when changed; default the registry).
    Left: the published incidence
    (black dot) and the expected incidence over the re-reads (open circle) with its re-read
    interval (%). Right: self-agreement between the published verdicts and a re-read, Jaccard
    (vermillion) and Cohen's kappa (blue), mean with the re-read interval.
    """
    definitions_in_force = definitions
    definitions = summary["definition"].astype(str).tolist()
    with use_style():
        fig, (ax1, ax2) = plt.subplots(
            1, 2, sharey=True, figsize=(9.0, max(2.5, 0.45 * len(definitions) + 1.2))
        )
    for ax in (ax1, ax2):
        style_axes(ax)
    if summary.empty:
        draw_empty(ax1, "no re-read")
        return fig
    y = np.arange(len(definitions))[::-1].astype(float)

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(summary[col], errors="coerce").to_numpy(float)

    e, lo, hi = num("expected_percent"), num("interval_low"), num("interval_high")
    ax1.errorbar(
        e,
        y - 0.12,
        xerr=np.vstack([np.clip(e - lo, 0, None), np.clip(hi - e, 0, None)]),
        fmt="o",
        mfc="white",
        color=OKABE_ITO["blue"],
        ms=5,
        capsize=2,
        lw=1,
        label="expected over re-reads (interval)",
    )
    ax1.plot(num("percent"), y + 0.12, "o", color="black", ms=4, label="published verdicts")
    ax1.set_yticks(y)
    labels = definition_labels(definitions, definitions=definitions_in_force)
    ax1.set_yticklabels([labels[c] for c in definitions])
    ax1.set_xlim(left=0)
    ax1.set_xlabel("HPD incidence among evaluable patients (%)")
    ax1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    for k, (name, color) in enumerate(
        (("jaccard", OKABE_ITO["vermillion"]), ("kappa", OKABE_ITO["blue"]))
    ):
        m, m_lo, m_hi = num(name), num(f"{name}_low"), num(f"{name}_high")
        off = 0.12 if k == 0 else -0.12
        ax2.errorbar(
            m,
            y + off,
            xerr=np.vstack([np.clip(m - m_lo, 0, None), np.clip(m_hi - m, 0, None)]),
            fmt="o",
            color=color,
            ms=4,
            capsize=2,
            lw=1,
            label="Jaccard" if name == "jaccard" else "Cohen's kappa",
        )
    ax2.set_xlim(0, 1.02)
    ax2.set_xlabel("agreement of a re-read with the published verdicts")
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    n = int(summary["n_rereads"].iloc[0])
    fig.suptitle(f"Measurement uncertainty: {n} simulated re-reads", fontsize=11)
    return fig
