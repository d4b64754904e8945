"""Figures of the Stein–Wilkerson growth model (g, d, phi; :mod:`hpd_analysis.growth`): rates by
HPD status, the attrition of the fits, g against TGR on treatment.
"""

from __future__ import annotations

from typing import Any, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import (
    PALETTE,
    STATUS_COLORS,
    STATUS_LABELS,
    STATUS_ORDER,
    STYLE,
    count_label,
    draw_empty,
    scatter_by_status,
    use_style,
)


def _growth_ax(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure when given, else a new figure of ``figsize`` (inches) in the report
    style without top and right spines (font sizes from the style only, as these figures were
    first drawn: :func:`~hpd_analysis.plots.style.new_axes` also sets them on the axes)."""
    if ax is not None:
        return cast(Figure, ax.figure), ax
    with use_style():
        fig, ax = plt.subplots(figsize=figsize)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def growth_distributions(growth: pd.DataFrame, status: Any) -> Figure:
    """Growth rate g and decay rate d (per month, log scale) by HPD status: one box per status
    (median, quartiles, whiskers 1.5 × IQR, all of log10 of the rate) with every included patient
    as a dot.

    ``growth``: :func:`hpd_analysis.growth.growth_table`; ``status`` (array-like): ``hpd``/
    ``not_hpd``/``not_evaluable`` per row of ``growth``. Zero rates (a bound of the fit) cannot be drawn on a
    log axis: their number is given under the box.
    """
    from ..params import DAYS_PER_MONTH

    with use_style():
        fig, axes = plt.subplots(1, 2, figsize=(8.5, 4.0))
    st = np.asarray(status, dtype=object)
    rates = {
        "g": pd.to_numeric(growth["g_per_month"], errors="coerce").to_numpy(float),
        "d": pd.to_numeric(growth["d"], errors="coerce").to_numpy(float) * DAYS_PER_MONTH,
    }
    rng = np.random.default_rng(0)
    for ax, (name, v) in zip(axes, rates.items(), strict=True):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        data, pos, labels = [], [], []
        for i, s in enumerate(STATUS_ORDER):
            x = v[(st == s) & np.isfinite(v)]
            if len(x) == 0:
                continue
            pos_x = x[x > 0]
            labels.append(
                f"{STATUS_LABELS[s]}\nn={len(x)}"
                + (f"\n({len(x) - len(pos_x)} at 0)" if len(pos_x) < len(x) else "")
            )
            if len(pos_x):
                data.append(np.log10(pos_x))
                pos.append(i)
                ax.scatter(
                    i + rng.uniform(-0.18, 0.18, len(pos_x)),
                    np.log10(pos_x),
                    s=7,
                    color=STATUS_COLORS[s],
                    alpha=0.6,
                    lw=0,
                    zorder=3,
                )
        if not data:
            draw_empty(ax, f"no patient with {name}")
            continue
        bp = ax.boxplot(data, positions=pos, widths=0.6, showfliers=False, patch_artist=True)
        for patch, p in zip(bp["boxes"], pos, strict=True):
            patch.set_facecolor("none")
            patch.set_edgecolor(STATUS_COLORS[STATUS_ORDER[p]])
        for med in bp["medians"]:
            med.set_color("black")
        shown = [i for i, s in enumerate(STATUS_ORDER) if np.any((st == s) & np.isfinite(v))]
        ax.set_xticks(shown)
        ax.set_xticklabels(labels, fontsize=8)
        ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        # plain numbers (0.01, 0.1, 1): mathtext is off in the report's style
        ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{10**v:g}"))
        ax.set_ylabel(f"{name} (per month, log scale)")
        ax.set_title("growth rate g" if name == "g" else "decay rate d")
    fig.suptitle(
        "Stein–Wilkerson growth and decay rates by HPD status (included fits)",
        fontsize=STYLE["axes.titlesize"],
    )
    fig.tight_layout()
    return fig


def growth_fit_shares(attrition: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Share of patients per selected model and per exclusion reason (horizontal bars, % of all
    patients, n printed): the attrition of the growth-model fits.

    ``attrition``: :func:`hpd_analysis.growth.growth_attrition` (``status, outcome, n, percent``).
    """
    fig, ax = _growth_ax(ax, (7.0, 0.45 * max(len(attrition), 2) + 1.2))
    if attrition.empty:
        draw_empty(ax, "no patient")
        return fig
    y = np.arange(len(attrition))[::-1]
    colors = np.where(attrition["status"] == "included", PALETTE[2], "0.6")
    pct = pd.to_numeric(attrition["percent"], errors="coerce").fillna(0).to_numpy(float)
    ax.barh(y, pct, color=colors)
    for yi, p, n in zip(y, pct, attrition["n"], strict=True):
        ax.text(p + 0.5, yi, f"{count_label(n)} ({p:.0f} %)", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{o} ({s})" for o, s in zip(attrition["outcome"], attrition["status"], strict=True)],
        fontsize=8,
    )
    ax.set_xlabel("% of all patients")
    ax.set_xlim(0, max(pct.max() * 1.25, 10))
    ax.set_title("Growth model: selected fit or reason for exclusion")
    return fig


def growth_vs_tgr(
    growth: pd.DataFrame, tgr_on: Any, status: Any, *, ax: Axes | None = None
) -> Figure:
    """Growth rate g (per month, log) against TGR on treatment (% per month, symlog), one point
    per patient with both, coloured by HPD status. ``tgr_on`` and ``status``: array-likes, one
    value per row of ``growth``.

    TGR_on uses the baseline and first-evaluation scans only; g every scan from baseline on.
    """
    fig, ax = _growth_ax(ax, (6.5, 4.8))
    g = pd.to_numeric(growth["g_per_month"], errors="coerce").to_numpy(float)
    x = pd.to_numeric(pd.Series(np.asarray(tgr_on)), errors="coerce").to_numpy(float)
    st = np.asarray(status, dtype=object)
    ok = np.isfinite(g) & (g > 0) & np.isfinite(x)
    if not ok.any():
        draw_empty(ax, "no patient with both g > 0 and TGR on treatment")
        return fig
    scatter_by_status(ax, x[ok], g[ok], status=st[ok], s=12, alpha=0.7)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("log")
    ax.axvline(0, color="0.6", lw=0.5)
    ax.set_xlabel("TGR on treatment (% per month, symlog)")
    ax.set_ylabel("growth rate g (per month, log)")
    ax.set_title("Growth rate g versus TGR on treatment")
    ax.legend(fontsize=8, loc="best")
    return fig
