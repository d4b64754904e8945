"""Figures of the risk factors and prediction models: the odds-ratio forest plot, ROC curves of
a marker and the calibration plot of a logistic model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..definitions import definition_labels
from .style import (
    GREY,
    OKABE_ITO,
    PALETTE,
    RASTERIZE_ABOVE,
    STATUS_COLORS,
    count_label,
    draw_empty,
    new_axes,
    plain_text,
)

#: ticks of the forest plot's log axis (those within the drawn range)
OR_TICKS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0)


def _yes_no(level: str) -> str:
    """A level as the forest plot names it: ``yes`` / ``no`` for ``True`` / ``False``."""
    return {"true": "yes", "false": "no"}.get(level.lower(), level)


def _or_terms(odds_ratio_table: pd.DataFrame, labels: Mapping[str, str] | None) -> pd.DataFrame:
    """The rows the forest plot draws (reference levels left out) with their ``term``: the
    variable's label and its reference, ``liver_metastasis (yes vs no)`` for a binary variable,
    ``tumor_type: NSCLC vs HNSCC`` for a level of a categorical one, ``age (per 1 unit)`` for a
    number."""
    from ..riskfactors import reference_rows

    rows = reference_rows(odds_ratio_table)
    tab = odds_ratio_table.assign(level=rows.level)
    keep = ~rows.is_reference.to_numpy(bool)
    tab, ref = tab[keep].copy(), rows.reference[keep]
    var = tab["variable"].astype(str)
    levels = tab.assign(_v=var).groupby("_v")["level"].transform("nunique")
    terms = []
    var = var.map(lambda v: (labels or {}).get(v, v))
    for v, lvl, r, nlev in zip(var, tab["level"].astype(str), ref.astype(str), levels, strict=True):
        if r == "" or lvl == "":
            terms.append(f"{v} ({lvl})" if lvl else v)
        elif nlev == 1:
            terms.append(f"{v} ({_yes_no(lvl)} vs {_yes_no(r)})")
        else:
            terms.append(f"{v}: {_yes_no(lvl)} vs {_yes_no(r)}")
    tab["term"] = terms
    return tab


@dataclass(frozen=True)
class _ForestRows:
    """Where the forest plot draws each term and model."""

    ypos: dict[str, int]  # term -> row (the first term on top)
    offsets: dict[str, float]  # model -> vertical offset inside a row (the first model on top)
    colors: dict[str, str]  # model -> colour (univariable blue, multivariable vermilion)


def _forest_rows(terms: list[str], models: list[str]) -> _ForestRows:
    """The rows of ``terms`` (top to bottom) and the offsets and colours of ``models``."""
    model_colors = {"univariable": OKABE_ITO["blue"], "multivariable": OKABE_ITO["vermillion"]}
    return _ForestRows(
        ypos={t: len(terms) - 1 - i for i, t in enumerate(terms)},
        offsets={m: ((len(models) - 1) / 2 - k) * 0.25 for k, m in enumerate(models)},
        colors={m: model_colors.get(m, PALETTE[k % len(PALETTE)]) for k, m in enumerate(models)},
    )


def _draw_or_markers(ax: Axes, tab: pd.DataFrame, rows: _ForestRows) -> None:
    """Odds ratio (square) and 95 % CI per term and model (the models side by side at their
    offsets); terms without a finite, positive odds ratio and CI get no marker."""
    ypos, offsets = rows.ypos, rows.offsets
    for m, color in rows.colors.items():
        sub = tab[tab["model"].astype(str) == m]
        orv = pd.to_numeric(sub["odds_ratio"], errors="coerce").to_numpy(float)
        lo = pd.to_numeric(sub["ci_low"], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(sub["ci_high"], errors="coerce").to_numpy(float)
        ok = np.isfinite(orv) & (orv > 0) & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
        if not ok.any():
            continue
        y = sub["term"].map(ypos).to_numpy(float)[ok] + offsets[m]
        err = np.vstack([orv[ok] - lo[ok], hi[ok] - orv[ok]])
        ax.errorbar(
            orv[ok],
            y,
            xerr=np.clip(err, 0, None),
            fmt="s",
            ms=4,
            capsize=2,
            lw=1,
            color=color,
            label=m,
        )


def _or_log_axis(ax: Axes, tab: pd.DataFrame) -> None:
    """The forest plot's log x axis from tick to tick of :data:`OR_TICKS`: at least 0.1-10, out
    to 0.01-100 when an odds ratio or CI reaches beyond; the null line at 1."""
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    finite = pd.concat(
        [pd.to_numeric(tab[c], errors="coerce") for c in ("ci_low", "ci_high", "odds_ratio")]
    )
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo_data = min(0.1, float(finite.min())) if len(finite) else 0.1
    hi_data = max(10.0, float(finite.max())) if len(finite) else 10.0
    lo_x = max([t for t in OR_TICKS if t <= lo_data] or [OR_TICKS[0]])
    hi_x = min([t for t in OR_TICKS if t >= hi_data] or [OR_TICKS[-1]])
    ax.set_xlim(lo_x / 1.15, hi_x * 1.15)
    ticks = [t for t in OR_TICKS if lo_x <= t <= hi_x]
    ax.xaxis.set_major_locator(mpl.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())


def _or_number_columns(fig: Figure, ax: Axes, tab: pd.DataFrame, *, rows: _ForestRows) -> None:
    """The numbers right of the axis, as forestplot / gtsummary print them: an ``OR (95 % CI)``
    and a ``p`` column, one line per term and model in the model's colour."""
    from ..tables import format_ci, p_value_text

    ypos, offsets, colors = rows.ypos, rows.offsets, rows.colors
    trans = mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    axes_inches = fig.get_size_inches()[0] * ax.get_position().width
    x_or = 1.03
    x_p = x_or + 1.35 / max(axes_inches, 1.0)  # the widest "OR (CI)" text is about 1.2 inches
    top = len(ypos) - 0.3
    ax.text(x_or, top, "OR (95 % CI)", transform=trans, fontsize=8, fontweight="bold", va="bottom")
    ax.text(x_p, top, "p", transform=trans, fontsize=8, fontweight="bold", va="bottom")
    for m, color in colors.items():
        sub = tab[tab["model"].astype(str) == m]
        for term, orv, lo, hi, p in zip(
            sub["term"],
            sub["odds_ratio"],
            sub["ci_low"],
            sub["ci_high"],
            sub["p_value"],
            strict=True,
        ):
            y = ypos[term] + (offsets[m] if len(colors) > 1 else 0.0)
            text = format_ci(orv, lo, hi, decimals=2) or "not estimable"
            ax.text(x_or, y, text, transform=trans, fontsize=7.5, va="center", color=color)
            ax.text(
                x_p, y, p_value_text(p), transform=trans, fontsize=7.5, va="center", color=color
            )


@plain_text
def or_forest(
    odds_ratio_table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    outcome: str = "HPD",
    ax: Axes | None = None,
) -> Figure:
    """Forest plot of odds ratios (log scale, 95 % CI) for HPD, univariable and multivariable,
    with the numbers beside it as forestplot / gtsummary print them: an ``OR (95 % CI)`` and a
    ``p`` column right of the axis (p as ``<0.001`` or two significant digits). The log axis
    has readable ticks (0.1, 0.5, 1, 2, 5, 10; 0.01 … 100 when a CI reaches beyond) and spans at
    least 0.1–10; a CI beyond 0.01–100 is cut at the axis (the column gives its bounds).
    ``labels``: variable → label (:func:`hpd_analysis.tables.variable_labels`), default the
    column names. ``outcome``: the outcome in the title and axis, e.g. ``HPD (Ferrara 2018)``.

    ``odds_ratio_table``: ``variable, level, model, odds_ratio, ci_low, ci_high, p_value`` (and
    ``reference``). Compact: reference rows are not drawn; the reference goes into the label —
    ``liver_metastasis (yes vs no)`` for a binary variable, ``tumor_type: NSCLC vs HNSCC`` for
    each level of a categorical one, ``age (per 1 unit)`` for a number. Terms without a finite
    odds ratio in any model (not estimable) stay listed, without a marker.
    """
    tab = _or_terms(odds_ratio_table, labels)
    terms = list(dict.fromkeys(tab["term"]))
    models = list(dict.fromkeys(tab["model"].astype(str)))
    fig, ax = new_axes(ax, (7.0, max(2.8, 0.42 * len(terms) + 1.8)))
    if tab.empty:
        draw_empty(ax, "no odds ratio to show")
        return fig
    rows = _forest_rows(terms, models)
    _draw_or_markers(ax, tab, rows)
    _or_log_axis(ax, tab)
    ax.set_yticks(list(rows.ypos.values()))
    ax.set_yticklabels(list(rows.ypos.keys()), fontsize=8)
    ax.set_xlabel(f"odds ratio for {outcome} (95 % CI, log scale)")
    ax.set_title(f"Risk factors for {outcome} (logistic regression)", loc="left", pad=18)
    ax.set_ylim(-0.7, len(terms) - 0.3)
    _or_number_columns(fig, ax, tab, rows=rows)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=2, borderaxespad=0.2
        )
    return fig


_LINESTYLES = ("-", "--", ":", "-.")


def roc_plot(
    curves: Mapping[str, pd.DataFrame],
    table: pd.DataFrame,
    marker: str,
    *,
    ax: Axes | None = None,
    min_count: int = 0,
    definitions: Sequence[Any] | None = None,
) -> Figure:
    """ROC curves of one marker, one per HPD definition, with the AUC (95 % CI) in the legend.

    Definitions are labelled by author and year (``definitions``: those in force, † when
    changed; default the registry), the marker by its variable label.

    ``curves``: definition → ``fpr, tpr`` (:func:`hpd_analysis.prediction.marker_roc`);
    ``table``: its table (``outcome, auc, ci_low, ci_high, n_events, n``). Colours follow the
    Okabe–Ito order, line styles repeat beyond seven definitions. ``min_count`` k > 1: counts
    1 to k − 1 in the legend read ``<k`` (the report's small-cell rule).
    """
    fig, ax = new_axes(ax, (6.2, 5.4))
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.8, ls="--", label="chance (AUC 0.5)")
    from ..tables import variable_label

    rows = table.set_index("outcome")
    names = definition_labels([str(oc) for oc in curves], definitions=definitions)
    for k, (oc, c) in enumerate(curves.items()):
        r = rows.loc[oc]
        label = (
            f"{names[str(oc)]}: {r['auc']:.2f} ({r['ci_low']:.2f}–{r['ci_high']:.2f}); "
            f"{count_label(r['n_events'], min_count)}/{count_label(r['n'], min_count)} HPD"
        )
        # straight segments between the ROC points: a tied score gives the diagonal of its
        # block (the expected curve under ties, whose area is the Mann-Whitney AUC)
        ax.plot(
            c["fpr"],
            c["tpr"],
            color=PALETTE[k % len(PALETTE)],
            ls=_LINESTYLES[(k // len(PALETTE)) % len(_LINESTYLES)],
            lw=1.3,
            label=label,
        )
    if not curves:
        draw_empty(ax, f"{marker}: no definition with patients with and without HPD")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_title(f"ROC of {variable_label(marker)} for HPD, per definition")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=8,
        title="definition: AUC (95 % bootstrap CI)",
        title_fontsize=8,
    )
    return fig


def _calibration_groups(
    p: np.ndarray, y: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Patients sorted by predicted probability ``p`` in up to ``groups`` groups of equal size
    (at least 10 patients each): mean predicted probability, observed proportion of ``y`` = 1,
    its Wilson 95 % CI (low, high) and the group sizes."""
    from statsmodels.stats.proportion import proportion_confint

    order = np.argsort(p, kind="mergesort")
    k = int(max(1, min(groups, len(y) // 10)))
    bins = np.array_split(order, k)
    mp = np.array([p[b].mean() for b in bins])
    ev = np.array([y[b].sum() for b in bins])
    nn = np.array([len(b) for b in bins])
    lo, hi = proportion_confint(ev, nn, method="wilson")
    return mp, ev / nn, lo, hi, nn


def _draw_prediction_rug(ax: Axes, p: np.ndarray, y: np.ndarray, *, top: float) -> float:
    """Under the calibration axis, the predicted probability of every patient: a tick up for
    those with HPD (``y`` = 1), down for the others; returns the rug's base line (y units)."""
    base = -0.05 * top
    dense = len(p) > RASTERIZE_ABOVE  # a mark per patient: rasterized in the SVG when many
    ax.vlines(
        p[y == 1], base, base + 0.03 * top, color=STATUS_COLORS["hpd"], lw=0.5, rasterized=dense
    )
    ax.vlines(
        p[y == 0],
        base - 0.03 * top,
        base,
        color=STATUS_COLORS["not_hpd"],
        lw=0.5,
        rasterized=dense,
    )
    ax.axhline(base, color="0.7", lw=0.4)
    return base


def _performance_text(performance: pd.DataFrame) -> str:
    """AUC, calibration slope and intercept, apparent / optimism-corrected, from the validation
    table of :func:`hpd_analysis.prediction.harrell_validate` (``n/a`` when missing)."""
    perf = performance.set_index("measure")

    def val(m: str, c: str) -> str:
        v = perf.loc[m, c] if m in perf.index else np.nan
        return "n/a" if not np.isfinite(v) else f"{v:.2f}"

    return (
        "apparent / optimism-corrected\n"
        f"AUC {val('auc', 'apparent')} / {val('auc', 'corrected')}\n"
        f"slope {val('calibration_slope', 'apparent')} / "
        f"{val('calibration_slope', 'corrected')}\n"
        f"intercept {val('calibration_intercept', 'apparent')} / "
        f"{val('calibration_intercept', 'corrected')}"
    )


def calibration_plot(
    y: Any,
    linear_predictor: Any,
    performance: pd.DataFrame | None = None,
    *,
    groups: int = 10,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Calibration plot of a logistic model: observed proportion of HPD against the predicted
    probability, in up to ``groups`` groups of equal size (points with Wilson 95 % CIs), a
    lowess smoother of the 0/1 outcomes (statsmodels, ``frac = 2/3``, no robustness
    iterations, as ``rms::calibrate``'s smoother), the ideal diagonal and, under the axis, the
    predicted probabilities of patients with (up) and without (down) HPD.

    ``performance``: the validation table of :func:`hpd_analysis.prediction.harrell_validate`
    (``measure, apparent, corrected``): its slope, intercept and AUC are written on the figure.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    yy = np.asarray(y, dtype=float)
    lp = np.asarray(linear_predictor, dtype=float)
    ok = np.isfinite(yy) & np.isfinite(lp)
    yy, lp = yy[ok], lp[ok]
    p = 1.0 / (1.0 + np.exp(-lp))
    fig, ax = new_axes(ax, (6.0, 5.6))
    if len(yy) == 0:
        draw_empty(ax, "no patient to calibrate")
        return fig
    top = float(min(1.0, max(p.max(), yy.mean()) * 1.15 + 0.02))
    ax.plot([0, top], [0, top], color=GREY, lw=0.8, ls="--", label="ideal")
    mp, obs, lo, hi, nn = _calibration_groups(p, yy, groups)
    ax.errorbar(
        mp,
        obs,
        yerr=[obs - lo, hi - obs],
        fmt="o",
        ms=4,
        color=OKABE_ITO["blue"],
        ecolor=OKABE_ITO["blue"],
        elinewidth=0.8,
        capsize=2,
        label=f"observed, {len(nn)} groups of ~{int(np.median(nn))} (Wilson 95 % CI)",
    )
    # beyond 1,000 patients the local fits are computed ~100 points apart and interpolated
    # (statsmodels' delta; lowess is quadratic in n otherwise)
    delta = 0.01 * float(np.ptp(p)) if len(p) > 1000 else 0.0
    sm = lowess(yy, p, frac=2 / 3, it=0, delta=delta, return_sorted=True)
    ax.plot(sm[:, 0], sm[:, 1], color=OKABE_ITO["vermillion"], lw=1.3, label="lowess smoother")
    base = _draw_prediction_rug(ax, p, yy, top=top)
    ax.set_xlim(0, top)
    ax.set_ylim(base - 0.04 * top, top)
    ax.set_xlabel("predicted probability of HPD")
    ax.set_ylabel("observed proportion with HPD")
    if performance is not None and len(performance):
        ax.text(
            0.98,
            0.03,
            _performance_text(performance),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "0.8", "boxstyle": "round"},
        )
    ax.set_title(title or f"Calibration ({len(yy)} patients, {int(yy.sum())} with HPD)")
    ax.legend(loc="upper left", fontsize=8)
    return fig
