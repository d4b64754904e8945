"""Figures of the tumour kinetics: TGR before vs on treatment, spider and waterfall plots of the
target SLD, TGK and on-treatment boxes, one patient's scans, and the spider plot of a blood
biomarker (drawn as the tumour spider).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..definitions import changes_note, definition_code, definition_labels, definitions_by_code
from ..incidence import hpd_status
from .style import (
    GREY,
    PALETTE,
    RASTERIZE_ABOVE,
    STATUS_COLORS,
    STATUS_LABELS,
    STATUS_ORDER,
    draw_empty,
    new_axes,
    plain_text,
    scatter_by_status,
    with_note,
)

#: definitions whose TGR-ratio / ΔTGR threshold the TGR scatter draws when the coloured
#: definition has none of its own
_RATIO_SOURCE, _DELTA_SOURCE = ("champiat2017", "tgr_ratio_min"), ("ferrara2018", "delta_tgr_min")


def scatter_thresholds(
    hpd_column: str, definitions: Sequence[Any] | None = None
) -> dict[str, tuple[float, str, float | None]]:
    """The thresholds the TGR scatter draws, from the definitions in force:
    ``{"ratio": (value, label, published), "delta": (...)}``.

    Each comes from the coloured definition (``hpd_column``) when it has that parameter
    (``tgr_ratio_min`` / ``delta_tgr_min``), else from Champiat 2017 / Ferrara 2018 among
    ``definitions``, else from the registry (published values). ``published`` is the published
    value (None when unknown, e.g. a user definition)."""
    from ..definitions import REGISTRY

    by_code = definitions_by_code(definitions)
    code = definition_code(hpd_column)
    out: dict[str, tuple[float, str, float | None]] = {}
    for key, (fallback, name) in (("ratio", _RATIO_SOURCE), ("delta", _DELTA_SOURCE)):
        for c in (code, fallback):
            d = by_code.get(c, REGISTRY.get(c))
            if d is not None and name in d.parameters:
                published = (
                    d.published_parameters().get(name)
                    if hasattr(d, "published_parameters")
                    else None
                )
                label = definition_labels([c], definitions)[c]
                out[key] = (
                    float(d.parameters[name]),
                    label,
                    None if published is None else float(published),
                )
                break
    return out


def _threshold_source(source: str, published: float | None, value: float) -> str:
    """`` (Ferrara 2018 †; published: 50)`` / `` (Champiat 2017)`` / empty."""
    parts = [source] if source else []
    if published is not None and float(published) != float(value):
        parts.append(f"published: {published:g}")
    return f" ({'; '.join(parts)})" if parts else ""


#: a threshold the TGR scatter draws: (value, the definition it comes from, its published value)
_Threshold = tuple[float, str, float | None]


def _threshold_lines(
    found: Mapping[str, _Threshold],
    ratio_threshold: float | None,
    delta_threshold: float | None,
) -> tuple[_Threshold | None, _Threshold | None]:
    """The TGR-ratio and ΔTGR thresholds to draw: those ``found`` in force
    (:func:`scatter_thresholds`), each replaced by the caller's override when given."""
    ratio = found.get("ratio")
    delta = found.get("delta")
    if ratio_threshold is not None:
        ratio = (float(ratio_threshold), "", None)
    if delta_threshold is not None:
        delta = (float(delta_threshold), "", None)
    return ratio, delta


def _draw_tgr_reference(
    ax: Axes, ratio: _Threshold | None, delta: _Threshold | None, *, lo: float, hi: float
) -> None:
    """The reference marks of the TGR scatter (both axes from ``lo`` to ``hi``, % per month):
    the region TGR_on ≥ ratio × TGR_pre (shaded), the identity line, TGR_on = TGR_pre + ΔTGR
    (dashed)."""
    grid = np.geomspace(1e-3, hi, 400)
    if ratio is not None:
        value, source, published = ratio
        ax.fill_between(
            grid,
            np.minimum(value * grid, hi),
            hi,
            color=STATUS_COLORS["hpd"],
            alpha=0.10,
            lw=0,
            zorder=0,
            label=f"TGR ratio ≥ {value:g}{_threshold_source(source, published, value)}",
        )
    line = np.linspace(lo, hi, 800)
    ax.plot(line, line, color="black", lw=0.8, ls="-", label="identity (no change)", zorder=1)
    if delta is not None:
        value, source, published = delta
        ax.plot(
            line,
            line + value,
            color="black",
            lw=0.8,
            ls="--",
            zorder=1,
            label=f"ΔTGR = {value:g} points{_threshold_source(source, published, value)}",
        )


@plain_text
def tgr_scatter(
    classification: pd.DataFrame,
    hpd_column: str,
    *,
    definitions: Sequence[Any] | None = None,
    ratio_threshold: float | None = None,
    delta_threshold: float | None = None,
    linthresh: float = 10.0,
    ax: Axes | None = None,
) -> Figure:
    """TGR on treatment vs TGR before treatment (both % per month), symlog axes.

    ``classification``: ``tgr_pre``, ``tgr_on`` and the status of ``hpd_column`` (see
    :func:`hpd_status`). Draws the identity line (unchanged growth), shades the region where
    TGR_on ≥ ratio × TGR_pre with TGR_pre > 0 (TGR ratio) and draws TGR_on = TGR_pre + ΔTGR.
    The thresholds are those in force (:func:`scatter_thresholds`: the coloured definition's own,
    else Champiat 2017's ratio and Ferrara 2018's ΔTGR among ``definitions``, the report's
    :class:`~hpd_analysis.definitions.Definition` objects, else the published ones); the legend
    names their definition and the published value when it differs. ``ratio_threshold`` /
    ``delta_threshold`` override them. Patients without both TGRs are left out and counted in
    the title.
    """
    ratio, delta = _threshold_lines(
        scatter_thresholds(hpd_column, definitions), ratio_threshold, delta_threshold
    )
    fig, ax = new_axes(ax, (6.0, 5.5))
    status = hpd_status(classification, hpd_column)
    x = pd.to_numeric(classification["tgr_pre"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(classification["tgr_on"], errors="coerce").to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    n_total = len(classification)
    if not ok.any():
        draw_empty(ax, "no patient with TGR before and on treatment")
        ax.set_title(f"TGR before vs on treatment (0 of {n_total} patients)")
        return fig
    xs, ys, st = x[ok], y[ok], status.to_numpy()[ok]
    lo = min(-100.0, float(np.min(xs)), float(np.min(ys)))
    hi = max(float(np.max(xs)), float(np.max(ys)), 100.0) * 1.5
    _draw_tgr_reference(ax, ratio, delta, lo=lo, hi=hi)
    scatter_by_status(
        ax, xs, ys, status=st, s=14, alpha=0.8, zorder=2, rasterized=len(xs) > RASTERIZE_ABOVE
    )
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("TGR before treatment (% per month)")
    ax.set_ylabel("TGR on treatment (% per month)")
    code = definition_code(hpd_column)
    label = definition_labels([code], definitions)[code]
    ax.set_title(
        with_note(
            f"TGR before vs on treatment, coloured by HPD status ({label})\n"
            f"({int(ok.sum())} of {n_total} patients with both TGRs)",
            changes_note([code], definitions),
            width=70,
        )
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def spider_data(scans: pd.DataFrame) -> pd.DataFrame:
    """% change of the target SLD from baseline at the baseline and every on-treatment scan.

    ``scans``: :func:`hpd_analysis.timepoints.scan_table` (``patient_id, day, role, sld_mm``).
    Returns ``patient_id, days_since_start`` (days from treatment start),
    ``sld_pct_change_baseline`` (%, 0 at baseline) for scans with an SLD, of patients whose
    baseline SLD is > 0 mm (a change from 0 mm has no percentage).
    """
    cols = ["patient_id", "days_since_start", "sld_pct_change_baseline"]
    if scans is None or scans.empty:
        return pd.DataFrame(columns=cols)
    s = scans[scans["role"].isin(["baseline", "on_treatment"])]
    sld = pd.to_numeric(s["sld_mm"], errors="coerce").astype(float)
    base = sld.where(s["role"].eq("baseline")).groupby(s["patient_id"], sort=False).transform("max")
    ok = base.gt(0) & sld.notna()
    out = pd.DataFrame(
        {
            "patient_id": s["patient_id"].astype(str),
            "days_since_start": pd.to_numeric(s["day"], errors="coerce").astype(float),
            "sld_pct_change_baseline": 100.0 * (sld - base) / base,
        }
    )[ok.to_numpy()]
    return out.reset_index(drop=True)[cols]


def _spider_lines(
    ax: Axes,
    pid: np.ndarray,
    t: np.ndarray,
    *,
    values: np.ndarray,
    status: pd.Series | None,
    alpha: float,
) -> tuple[dict[str, int], np.ndarray]:
    """Draw one line per patient (rows grouped by patient id ``pid``, sorted by time ``t``;
    ``values`` the values) coloured by HPD status (``status`` indexed by patient id; missing: not
    evaluable), HPD drawn last, on top, each line ending in a dot. Returns the number of
    patients per status and the patient ids in drawing order."""
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    bounds = np.r_[starts, len(pid)]
    v = values
    segs = [np.column_stack([t[a:b], v[a:b]]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    seg_ids = pid[starts]
    seg_status = (
        status.rename(index=str).reindex(seg_ids).fillna("not_evaluable").astype(str).to_numpy()
        if status is not None
        else np.full(len(seg_ids), "not_evaluable")
    )
    counts: dict[str, int] = {}
    for s in STATUS_ORDER[::-1]:  # HPD drawn last, on top
        sel = np.flatnonzero(seg_status == s)
        counts[s] = len(sel)
        if len(sel):
            ax.add_collection(
                LineCollection(
                    [segs[i] for i in sel], colors=STATUS_COLORS[s], linewidths=0.9, alpha=alpha
                )
            )
            ends = np.array([segs[i][-1] for i in sel])
            ax.scatter(ends[:, 0], ends[:, 1], s=6, color=STATUS_COLORS[s], zorder=3)
    ax.autoscale_view()
    return counts, seg_ids


@plain_text
def spider_plot(
    scans: pd.DataFrame,
    status: pd.Series | None = None,
    *,
    time_col: str = "days_since_start",
    value_col: str = "sld_pct_change_baseline",
    id_col: str = "patient_id",
    max_patients: int = 150,
    seed: int = 0,
    weeks: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """% change of the target SLD from baseline over time since treatment start, one line per
    patient, coloured by HPD status.

    ``scans``: long table, one row per patient × scan (``id_col``, ``time_col`` in days,
    ``value_col`` in %). ``status``: HPD status per patient (indexed by patient id). Cohorts with
    more than ``max_patients`` patients are drawn as a reproducible random sample (``seed``), and
    the title says so.
    """
    fig, ax = new_axes(ax)
    data = scans[[id_col, time_col, value_col]].copy()
    data[time_col] = pd.to_numeric(data[time_col], errors="coerce")
    data[value_col] = pd.to_numeric(data[value_col], errors="coerce")
    data = data.dropna()
    ids = np.sort(data[id_col].astype(str).unique())
    n_all = len(ids)
    if n_all == 0:
        draw_empty(ax, "no tumour measurements")
        ax.set_title("Change in target lesions from baseline")
        return fig
    if n_all > max_patients:
        rng = np.random.default_rng(seed)
        ids = np.sort(rng.choice(ids, size=max_patients, replace=False))
        title = f"random sample of {max_patients} of {n_all} patients (seed {seed})"
    else:
        title = f"{n_all} patients"
    data = data[data[id_col].astype(str).isin(ids)]
    data = data.sort_values([id_col, time_col], kind="mergesort")
    pid = data[id_col].astype(str).to_numpy()
    t = data[time_col].to_numpy(float) / (7.0 if weeks else 1.0)
    v = data[value_col].to_numpy(float)
    counts, _ = _spider_lines(ax, pid, t, values=v, status=status, alpha=0.7)
    ax.axhline(20, color="black", lw=0.7, ls="--")
    ax.axhline(-30, color="black", lw=0.7, ls=":")
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel(f"{'weeks' if weeks else 'days'} since treatment start")
    ax.set_ylabel("change in target SLD from baseline (%)")
    ax.set_title(f"Change in target lesions from baseline\n{title}")
    _status_legend(
        ax,
        counts if status is not None else {},
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        extra=_RECIST_LINES,
    )
    return fig


#: legend entries of the RECIST reference lines of the spider and waterfall plots
_RECIST_LINES: tuple[tuple[str, str], ...] = (
    ("--", "+20 % from baseline (RECIST PD also needs +5 mm, over the nadir)"),
    (":", "−30 % from baseline (RECIST partial response)"),
)


def _status_legend(
    ax: Axes, counts: Mapping[str, int], extra: tuple[tuple[str, str], ...] = (), **kwargs: Any
) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color=STATUS_COLORS[s],
            label=f"{STATUS_LABELS[s]} (n={counts[s]})",
        )
        for s in STATUS_ORDER
        if counts.get(s, 0)
    ]
    handles += [Line2D([], [], color="black", lw=0.7, ls=ls, label=text) for ls, text in extra]
    if handles:
        ax.legend(handles=handles, **kwargs)


@plain_text
def waterfall_plot(
    pct_change: pd.Series,
    status: pd.Series | None = None,
    *,
    clip_pct: float = 200.0,
    ax: Axes | None = None,
) -> Figure:
    """Waterfall of the % change in target SLD (from baseline), one bar per patient, sorted.

    ``pct_change``: % change per patient (indexed by patient id; missing values are left out and
    counted in the title). ``status``: HPD status per patient. Bars above ``clip_pct`` are cut
    and marked with ▲. Dashed line +20 % (RECIST PD threshold), dotted −30 % (PR threshold).
    """
    fig, ax = new_axes(ax, (8.0, 4.5))
    values = pd.to_numeric(pct_change, errors="coerce")
    n_total = len(values)
    values = values.dropna().sort_values(ascending=False, kind="mergesort")
    if values.empty:
        draw_empty(ax, "no patient with a change in target SLD")
        return fig
    if status is not None:
        st = status.copy()
        st.index = st.index.astype(str)
        st = st.reindex(values.index.astype(str)).fillna("not_evaluable").astype(str).to_numpy()
    else:
        st = np.full(len(values), "not_evaluable")
    colors = [STATUS_COLORS.get(s, GREY) for s in st]
    shown = np.minimum(values.to_numpy(float), clip_pct)
    xpos = np.arange(len(values))
    if len(values) > RASTERIZE_ABOVE:
        # one line per patient in a single rasterized collection: every patient is drawn, the
        # SVG stays small (100 k bars as vector patches weigh ~20 MB)
        ax.vlines(xpos, 0, shown, colors=colors, lw=0.6, rasterized=True)
    else:
        ax.bar(xpos, shown, width=1.0, color=colors, lw=0)
    clipped = values.to_numpy(float) > clip_pct
    if clipped.any():
        ax.scatter(
            xpos[clipped],
            np.full(clipped.sum(), clip_pct * 1.03),
            marker="^",
            s=10,
            color="black",
            label=f"> {clip_pct:g} % (cut)",
        )
    ax.axhline(20, color="black", lw=0.7, ls="--")
    ax.axhline(-30, color="black", lw=0.7, ls=":")
    ax.axhline(0, color="0.3", lw=0.5)
    ax.set_xlim(-1, len(values))
    ax.set_xticks([])
    ax.set_xlabel("patients, sorted")
    ax.set_ylabel("change in target SLD from baseline (%)")
    ax.set_title(f"Change in target SLD at first evaluation ({len(values)} of {n_total} patients)")
    counts = {s: int((st == s).sum()) for s in STATUS_ORDER}
    _status_legend(
        ax, counts if status is not None else {}, loc="upper right", fontsize=8, extra=_RECIST_LINES
    )
    return fig


@plain_text
def tgk_distributions(
    classification: pd.DataFrame,
    hpd_column: str,
    *,
    definitions: Sequence[Any] | None = None,
    linthresh: float = 1.0,
    ax: Axes | None = None,
) -> Figure:
    """Box plots of TGK before and on treatment (mm per month) by HPD status.

    ``classification``: ``tgk_pre``, ``tgk_on`` and the status of ``hpd_column``. Boxes show
    median and quartiles, whiskers 1.5 × IQR; y axis symlog. Each box is labelled with its n.
    """
    fig, ax = new_axes(ax)
    status = hpd_status(classification, hpd_column).to_numpy()
    data, positions, colors, labels = [], [], [], []
    for i, s in enumerate(STATUS_ORDER):
        for j, col in enumerate(("tgk_pre", "tgk_on")):
            v = pd.to_numeric(classification[col], errors="coerce").to_numpy(float)[status == s]
            v = v[np.isfinite(v)]
            if len(v) == 0:
                continue
            data.append(v)
            positions.append(i * 3 + j)
            colors.append(STATUS_COLORS[s])
            labels.append(f"{'before' if col == 'tgk_pre' else 'on'}\nn={len(v)}")
    if not data:
        draw_empty(ax, "no patient with TGK")
        return fig
    bp = ax.boxplot(
        data,
        positions=positions,
        widths=0.7,
        patch_artist=True,
        showfliers=True,
        flierprops={"markersize": 2},
    )
    for patch, c, pos in zip(bp["boxes"], colors, positions, strict=True):
        patch.set_facecolor(c)
        patch.set_alpha(0.35 if pos % 3 == 0 else 0.8)
        patch.set_edgecolor(c)
    for med in bp["medians"]:
        med.set_color("black")
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, fontsize=8)
    trans = mpl.transforms.blended_transform_factory(ax.transData, ax.transAxes)
    for i, s in enumerate(STATUS_ORDER):
        if any(p // 3 == i for p in positions):
            ax.text(
                i * 3 + 0.5,
                -0.16,
                STATUS_LABELS[s],
                transform=trans,
                ha="center",
                va="top",
                fontsize=9,
                color=STATUS_COLORS[s],
                fontweight="bold",
            )
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_ylabel("TGK (mm per month)")
    code = definition_code(hpd_column)
    ax.set_title(
        with_note(
            "Tumour growth kinetics before and on treatment, by HPD status "
            f"({definition_labels([code], definitions)[code]})",
            changes_note([code], definitions),
        )
    )
    return fig


def on_treatment_plot(
    data: pd.DataFrame,
    group_by: str | None = None,
    quantities: Sequence[str] = ("tgr_on", "tgk_on"),
    *,
    title: str | None = None,
) -> Figure:
    """Figure: one panel per quantity (default TGR_on in % per month, TGK_on in mm per month),
    a box plot per group (median, quartiles, whiskers 1.5 × IQR) with every patient as a dot;
    y axis symmetric-log (linear within ±10). Groups without a value show an empty box.

    ``data``: a classification table (with patient columns); groups as in
    :func:`hpd_analysis.kinetics_summary.group_of`, values from
    :func:`hpd_analysis.kinetics_summary.on_treatment_values`."""
    from ..kinetics_summary import QUANTITIES, on_treatment_values

    levels, values = on_treatment_values(data, group_by, quantities)
    qs = list(values)
    fig, axes = plt.subplots(
        1, max(len(qs), 1), figsize=(4.2 * max(len(qs), 1), 4.2), squeeze=False
    )
    rng = np.random.default_rng(0)  # jitter only: fixed seed, identical figures
    for ax, q in zip(axes[0], qs, strict=False):
        series = values[q]
        ax.boxplot([s if len(s) else [np.nan] for s in series], showfliers=False, widths=0.5)
        ax.set_xticks(range(1, len(levels) + 1), levels)
        for i, s in enumerate(series, start=1):
            ax.scatter(
                i + rng.uniform(-0.18, 0.18, len(s)),
                s,
                s=6,
                alpha=0.35,
                color="0.3",
                linewidths=0,
                rasterized=len(s) > RASTERIZE_ABOVE,
            )
        ax.axhline(0, color="0.5", lw=0.8, ls=":")
        ax.set_yscale("symlog", linthresh=10)
        label, unit, _ = QUANTITIES[q]
        ax.set_ylabel(f"{label} ({unit})")
        ax.set_xlabel(group_by or "")
        ax.set_title(
            "\n".join(
                [
                    label,
                    ", ".join(f"{lv}: n={len(s)}" for lv, s in zip(levels, series, strict=True)),
                ]
            ),
            fontsize=9,
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def patient_scans_plot(
    scans: pd.DataFrame,
    features: pd.Series | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """One patient's target SLD (mm) at every scan, by day from treatment start (day 0 dashed).

    ``scans``: :func:`hpd_analysis.timepoints.scan_table` rows of one patient (``day``,
    ``role``, ``sld_mm``, ``is_first_eval``). The scans the kinetics use are marked: pre-baseline
    (square), baseline (diamond), first evaluation (star); other on-treatment scans are dots.
    ``features``: the patient's classification row, for TGR_pre / TGR_on in the title.
    """
    fig, ax = new_axes(ax, (5.5, 3.5))
    if scans is None or scans.empty:
        draw_empty(ax, "no scan for this patient")
        return ax
    day = pd.to_numeric(scans["day"], errors="coerce").to_numpy(dtype=float)
    sld = pd.to_numeric(scans["sld_mm"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(day) & np.isfinite(sld)
    ax.plot(day[ok], sld[ok], color=GREY, lw=1, zorder=1)
    role = scans["role"].astype(str).to_numpy()
    first = (
        scans["is_first_eval"].fillna(False).to_numpy(dtype=bool)
        if "is_first_eval" in scans.columns
        else np.zeros(len(scans), dtype=bool)
    )
    marks = [
        ("pre-baseline", (role == "prebaseline") & ok, "s", PALETTE[0]),
        ("baseline", (role == "baseline") & ok, "D", PALETTE[1]),
        ("first evaluation", first & ok, "*", PALETTE[5]),
        ("other scan", ~first & ~np.isin(role, ["prebaseline", "baseline"]) & ok, "o", GREY),
    ]
    for label, m, marker, color in marks:
        if m.any():
            ax.scatter(
                day[m],
                sld[m],
                marker=marker,
                s=60 if marker == "*" else 30,
                color=color,
                label=label,
                zorder=2,
            )
    ax.axvline(0, color="black", ls="--", lw=0.8)
    ax.set_xlabel("days from treatment start")
    ax.set_ylabel("target SLD (mm)")
    title = f"patient {scans['patient_id'].iloc[0]}"
    if features is not None:
        parts = [
            f"{lab} {features[c]:.3g} %/month"
            for c, lab in (("tgr_pre", "TGR before"), ("tgr_on", "TGR on"))
            if c in features.index and pd.notna(features[c])
        ]
        if parts:
            title += ": " + ", ".join(parts)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return ax


def biomarker_spider_plot(
    data: pd.DataFrame,
    status: pd.Series | None,
    marker: str,
    *,
    weeks: bool = True,
    max_patients: int = 150,
    seed: int = 0,
    ax: Axes | None = None,
) -> Figure:
    """% change of a blood biomarker from its baseline sample over time since the treatment
    start, one line per patient, coloured by HPD status (vermilion HPD, blue non-HPD, grey not
    evaluable; HPD drawn on top).

    ``data``: :func:`hpd_analysis.biomarkers.biomarker_spider_data` (``patient_id, day,
    pct_change_baseline``); ``status``: HPD status indexed by patient id. More than
    ``max_patients`` patients are drawn as a reproducible random sample (``seed``), said in the
    title, as :func:`spider_plot` does.
    """
    fig, ax = new_axes(ax)
    d = data.dropna(subset=["day", "pct_change_baseline"])
    if d.empty:
        draw_empty(ax, f"no {marker} values from a baseline sample")
        ax.set_title(f"Change in {marker} from baseline")
        return fig
    ids = np.sort(d["patient_id"].astype(str).unique())
    n_all = len(ids)
    sample = ""
    if n_all > max_patients:
        keep = np.random.default_rng(seed).choice(ids, size=max_patients, replace=False)
        d = d[d["patient_id"].astype(str).isin(keep)]
        sample = f"; random sample of {max_patients} of {n_all} (seed {seed})"
    d = d.sort_values(["patient_id", "day"], kind="mergesort")
    pid = d["patient_id"].astype(str).to_numpy()
    t = d["day"].to_numpy(float) / (7.0 if weeks else 1.0)
    v = d["pct_change_baseline"].to_numpy(float)
    counts, seg_ids = _spider_lines(ax, pid, t, values=v, status=status, alpha=0.75)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.axvline(0, color="0.6", lw=0.5, ls=":")
    ax.set_xlabel(f"{'weeks' if weeks else 'days'} since treatment start")
    ax.set_ylabel(f"change in {marker} from baseline (%)")
    ax.set_title(f"Change in {marker} from baseline ({len(seg_ids)} patients{sample})")
    _status_legend(ax, counts, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig
