"""Kaplan–Meier figures in the KMunicate style, with their time axis label and the comparison
(hazard ratio, log-rank p) printed on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import params
from .style import (
    PALETTE,
    STATUS_COLORS,
    STATUS_LABELS,
    draw_empty,
    new_axes,
    plain_text,
)


def _median_label(fitter: Any) -> str:
    """``median 5.1 (3.2–7.0)`` from a fitted KaplanMeierFitter, as the survival table gives it
    (:func:`hpd_analysis.survival.km_median`, R's convention); NR when not reached, NE when a
    bound is not estimable."""
    from ..survival import km_median

    med, lo, hi = km_median(fitter.durations, fitter.event_observed, fitter.alpha)

    def fmt(v: float) -> str:
        return "NR" if np.isinf(v) else "NE" if np.isnan(v) else f"{v:.1f}"

    return f"median {fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def km_time_label(
    landmark_months: float | None,
    days_per_month: float = params.DAYS_PER_MONTH,
    unit: str = "Months",
) -> str:
    """The KM time axis with its origin: ``Months from landmark (day 84 after treatment
    start)`` or ``Months from treatment start``. ``landmark_months``: the landmark (months after
    treatment start; None = no landmark); ``days_per_month`` converts it to days."""
    if landmark_months is None or not np.isfinite(float(landmark_months)):
        return f"{unit} from treatment start"
    day = float(landmark_months) * float(days_per_month)
    return f"{unit} from landmark (day {day:.0f} after treatment start)"


def km_annotation(summary: pd.DataFrame) -> str:
    """The comparison printed on a KM figure, from a
    :attr:`hpd_analysis.survival.SurvivalComparison.summary`: ``HR HPD vs non-HPD 3.21 (95 % CI
    2.02–5.10)`` per group against the reference (Cox model), then ``log-rank p < 0.001``;
    ``HR not estimable`` when the Cox model gave none. Empty without two groups with patients."""
    from ..tables import format_ci, p_value_text

    if summary is None or "n" not in summary:
        return ""
    summary = summary[pd.to_numeric(summary["n"], errors="coerce").fillna(0) > 0]
    if len(summary) < 2:  # one group with patients: nothing to compare
        return ""
    lines = []
    ref = str(summary["reference_group"].iloc[0]) if "reference_group" in summary else ""
    for _, r in summary.iterrows():
        if str(r["group"]) == ref:
            continue
        hr = format_ci(r.get("hazard_ratio"), r.get("hr_ci_low"), r.get("hr_ci_high"), decimals=2)
        if hr and "(" in hr:
            est, ci = hr.split(" ", 1)
            lines.append(f"HR {r['group']} vs {ref}: {est} (95 % CI {ci[1:-1]})")
        elif ref:
            lines.append(f"HR {r['group']} vs {ref}: not estimable")
    p = pd.to_numeric(summary.get("logrank_p"), errors="coerce")
    if p is not None and p.notna().any():
        text = p_value_text(float(p.dropna().iloc[0]))
        lines.append("log-rank p " + (f"< {text[1:]}" if text.startswith("<") else f"= {text}"))
    return "\n".join(lines)


#: rows of the table under the KM plot (KMunicate, Morris et al. BMJ Open 2019)
KM_TABLE_ROWS: tuple[str, ...] = ("At risk", "Censored", "Events")


@plain_text
def km_plot(
    fitters: Mapping[str, Any],
    ax: Axes | None = None,
    at_risk: bool = True,
    *,
    ci: bool = True,
    colors: Mapping[str, str] | None = None,
    xlabel: str = "months",
    ylabel: str = "probability",
    title: str | None = None,
    annotation: str | None = None,
) -> Figure:
    """Kaplan–Meier curves in the KMunicate style (Morris et al., BMJ Open 2019): censor marks
    (|), 95 % CI bands, the median (95 % CI, months) of each group in the legend, and under the
    x axis a table of the numbers at risk, censored and with an event by each tick (lifelines
    ``add_at_risk_counts``, aligned with the ticks).

    ``fitters``: legend label → fitted ``lifelines.KaplanMeierFitter`` (times in months).
    ``colors``: label → colour; default HPD-status colours for labels ``HPD``/``non-HPD``
    /``not evaluable``, else the Okabe–Ito order. ``annotation``: lines printed in the legend,
    under the groups (:func:`km_annotation`: HR with its 95 % CI and the log-rank p).
    ``xlabel`` should state the time origin (:func:`km_time_label`).
    """
    from lifelines.plotting import add_at_risk_counts

    fig, ax = new_axes(ax, (7.0, 5.6))
    if not fitters:
        draw_empty(ax, "no group to plot")
        return fig
    by_label = {v: STATUS_COLORS[k] for k, v in STATUS_LABELS.items()}
    by_label.update({"non-HPD": STATUS_COLORS["not_hpd"], "HPD": STATUS_COLORS["hpd"]})
    for k, (label, f) in enumerate(fitters.items()):
        color = (colors or {}).get(label) or by_label.get(str(label)) or PALETTE[k % len(PALETTE)]
        n = int(f.event_observed.shape[0])
        f.plot_survival_function(
            ax=ax,
            ci_show=ci,
            show_censors=True,
            color=color,
            censor_styles={"marker": "|", "ms": 6, "mew": 1},
            label=f"{label} (n={n}; {_median_label(f)})",
        )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    for line in (annotation or "").splitlines():  # HR and log-rank p: text lines of the legend
        handles.append(Line2D([], [], ls="", marker=""))
        names.append(line)
    ax.legend(
        handles,
        names,
        loc="upper right",
        fontsize=8,
        title="median months (95 % CI)",
        title_fontsize=8,
        handlelength=1.5,
    )
    if at_risk:
        add_at_risk_counts(
            *fitters.values(),
            labels=[str(k) for k in fitters],
            ax=ax,
            rows_to_show=list(KM_TABLE_ROWS),
        )
        # lifelines sets the table's tick labels with the rcParams of the moment: plain text
        for extra in fig.axes:
            for t in extra.get_xticklabels() + extra.get_yticklabels():
                t.set_parse_math(False)
    return fig
