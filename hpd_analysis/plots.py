"""Figures of the report: one function per figure, one colour-blind-safe style, files that rerun
byte-identical.

Every figure function takes the DataFrame a package function returns (the shapes are documented
on each function), draws on ``ax`` when given (else on a new figure) and returns the Figure.
Colours come from the Okabe–Ito palette (Okabe & Ito 2008, safe for the common colour-vision
deficiencies); HPD status is always vermilion (HPD), blue (non-HPD) and grey (not evaluable).
Group labels are those of the tables (``hpd_analysis.incidence.HPD_LABEL`` / ``NON_HPD_LABEL``).

``save_figure`` writes PNG (300 dpi, the resolution journals ask for) and SVG with a fixed hash
salt and no date, so that the same inputs give the same bytes on every run.

Every text drawn is plain text: matplotlib's mathtext is off (``text.parse_math``) inside every
figure function and while saving, so a ``$`` in a tumour type, an arm or a definition label is
drawn as a dollar sign instead of crashing the figure. Definitions are labelled by first author
and year (``Champiat 2017``, :func:`definition_labels`); a definition whose parameters differ from
the published ones is marked ``†`` and the figure says which.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

# labels of definitions (author and year, † when changed): from the registry module, here too
from .definitions import CHANGED_MARK as CHANGED_MARK
from .definitions import changes_note as changes_note
from .definitions import definition_code as _definition_code
from .definitions import definition_labels as definition_labels
from .definitions import definitions_by_code as _definitions_by_code
from .incidence import HPD_LABEL, NON_HPD_LABEL, hpd_status

#: Okabe–Ito palette, in the order used for groups (black last: reserved for reference lines)
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish_green": "#009E73",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "reddish_purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE: list[str] = list(OKABE_ITO.values())[:7]
GREY = "#999999"

#: HPD status (``hpd_<code>_status`` values) → colour and legend label
STATUS_ORDER: list[str] = ["hpd", "not_hpd", "not_evaluable"]
STATUS_COLORS: dict[str, str] = {
    "hpd": OKABE_ITO["vermillion"],
    "not_hpd": OKABE_ITO["blue"],
    "not_evaluable": GREY,
}
STATUS_LABELS: dict[str, str] = {
    "hpd": HPD_LABEL,
    "not_hpd": NON_HPD_LABEL,
    "not_evaluable": "not evaluable",
}

#: the report's matplotlib style (fixed sizes; deterministic SVG)
STYLE: dict[str, Any] = {
    "figure.figsize": (7.0, 4.5),
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.facecolor": "white",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "image.cmap": "cividis",
    "lines.linewidth": 1.5,
    "svg.hashsalt": "hpd-workbench",
    "svg.fonttype": "none",
    "svg.id": None,
    "pdf.fonttype": 42,
    "path.simplify": True,
    # plain text everywhere: a "$" in a label is a dollar sign, not the start of mathtext
    "text.parse_math": False,
}

#: resolution of the PNG files (dots per inch, written in the PNG's pHYs chunk)
PNG_DPI = 300

_SVG_METADATA = {"Date": None, "Creator": None}
_PNG_METADATA = {"Software": None}


@contextmanager
def _rc(values: Mapping[str, Any]) -> Iterator[None]:
    """Set ``values`` in rcParams and restore only those keys on exit.

    Unlike ``matplotlib.rc_context`` this leaves every other key alone: the first figure of a
    Jupyter session switches on interactive mode (inline backend) and that must survive, or the
    later figures are never displayed.
    """
    orig = {k: mpl.rcParams[k] for k in values}
    mpl.rcParams.update(values)
    try:
        yield
    finally:
        mpl.rcParams.update(orig)


@contextmanager
def use_style() -> Iterator[None]:
    """Context manager applying the report style (``STYLE``) to figures created inside it."""
    with _rc(STYLE):
        yield


def apply_style() -> None:
    """Apply the report style globally (notebooks call this once at the top)."""
    mpl.rcParams.update(STYLE)


_F = TypeVar("_F", bound=Callable[..., Any])

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class PlainLogFormatter(mpl.ticker.LogFormatterSciNotation):
    """Log / symlog tick labels as plain text: ``0.1``, ``1``, ``10``, ``1000``, ``−100``
    (``10⁵`` beyond 10⁴), labelling the same ticks as matplotlib's default formatter, whose
    ``$\\mathdefault{10^{3}}$`` labels need mathtext (off in the report's figures)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):
            return ""
        if x == 0:
            return "0"
        exp = np.log10(abs(x))
        if abs(exp) <= 4:
            text = f"{abs(x):.10g}"
        else:
            mant = abs(x) / 10 ** np.floor(exp)
            power = f"10{str(int(np.floor(exp))).translate(_SUPERSCRIPT)}"
            text = power if np.isclose(mant, 1) else f"{mant:g}×{power}"
        return ("−" if x < 0 else "") + text


def plain_ticks(fig: Figure) -> Figure:
    """Replace matplotlib's mathtext log / symlog tick formatters on every axis of ``fig`` by
    :class:`PlainLogFormatter` (any figure: also those drawn by other modules); return ``fig``."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                fmt = axis.get_major_formatter() if which == "major" else axis.get_minor_formatter()
                if isinstance(fmt, mpl.ticker.LogFormatter) and not isinstance(
                    fmt, PlainLogFormatter
                ):
                    # the same settings (base, symlog threshold: private attributes)
                    new = PlainLogFormatter(
                        base=getattr(fmt, "_base", 10.0),
                        labelOnlyBase=fmt.labelOnlyBase,
                        minor_thresholds=fmt.minor_thresholds,
                        linthresh=getattr(fmt, "_linthresh", None),
                    )
                    if which == "major":
                        axis.set_major_formatter(new)
                    else:
                        axis.set_minor_formatter(new)
    return fig


def plain_text(func: _F) -> _F:
    """Decorator: run a figure function with mathtext off, so that every text it draws (titles,
    tick labels, legends from the data) is plain text, and log tick labels plain too
    (:func:`plain_ticks`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _rc({"text.parse_math": False}):
            out = func(*args, **kwargs)
            if isinstance(out, Figure):
                plain_ticks(out)
            return out

    return wrapper  # type: ignore[return-value]


def save_figure(fig: Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<name>.png`` (:data:`PNG_DPI` = 300 dpi) and
    ``<name>.svg``; return both paths.

    The SVG has a fixed hash salt and no date, and the PNG no software tag, so reruns are
    byte-identical. Text is drawn as plain text (no mathtext).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    plain_ticks(fig)  # also for figures drawn by other modules (log axes, mathtext off)
    with _rc(
        {
            "svg.hashsalt": STYLE["svg.hashsalt"],
            "svg.fonttype": STYLE["svg.fonttype"],
            "text.parse_math": False,
        }
    ):
        bbox = tight_bbox(fig)
        fig.savefig(png, dpi=PNG_DPI, bbox_inches=bbox, facecolor="white", metadata=_PNG_METADATA)
        fig.savefig(svg, bbox_inches=bbox, facecolor="white", metadata=_SVG_METADATA)
    return [png, svg]


def show_png(fig: Figure, png: str | Path) -> None:
    """Show the PNG file ``png`` (written by :func:`save_figure` from ``fig``) in the running
    Jupyter kernel, at ``fig``'s on-screen size (``figure.dpi``), and close ``fig`` so that the
    inline backend does not draw it again; outside IPython only closes ``fig``."""
    data = Path(png).read_bytes()
    dpi = fig.dpi
    plt.close(fig)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the lab extra
        return
    if get_ipython() is None:
        return
    from IPython.display import Image, display

    width_px = int.from_bytes(data[16:20], "big")  # the PNG header (IHDR) holds the width
    display(Image(data=data, format="png", width=round(width_px * dpi / PNG_DPI)))


def tight_bbox(fig: Figure) -> Any:
    """The bounding box (inches) of everything drawn on ``fig``, padded by
    ``savefig.pad_inches``: what ``savefig(bbox_inches="tight")`` computes, computed once so
    that the PNG and the SVG of a figure share it (each "tight" save lays the figure out again:
    about a third of the time of saving). ``"tight"`` itself when the figure has no renderer of
    its own (a bare ``Figure()``) or a layout engine (which lays out at every save anyway)."""
    get_renderer = getattr(fig.canvas, "get_renderer", None)
    if get_renderer is None or fig.get_layout_engine() is not None:
        return "tight"
    fig.draw_without_rendering()
    return fig.get_tightbbox(get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])


# --------------------------------------------------------------------------------------------
# helpers


def _new_ax(ax: Axes | None, figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    with use_style():
        fig, ax = plt.subplots(figsize=figsize or STYLE["figure.figsize"])
    _style_axes(ax)
    return fig, ax


def _style_axes(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for item in (ax.xaxis.label, ax.yaxis.label):
        item.set_fontsize(STYLE["axes.labelsize"])
    ax.title.set_fontsize(STYLE["axes.titlesize"])
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])


def _with_note(title: str, *notes: str, width: int = 90) -> str:
    """``title`` with each non-empty note on the lines under it (wrapped at ``width``
    characters)."""
    import textwrap

    lines = [title]
    for note in notes:
        if note:
            lines += textwrap.wrap(note, width, break_on_hyphens=False)
    return "\n".join(lines)


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


def count_label(value: Any, min_count: int = 0) -> str:
    """A count as figure text: ``"12"``; ``"<k"`` when it is 1..k-1 and ``min_count`` = k > 1
    (the report's small-cell rule); text (an already masked ``"<5"``) as is."""
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(v):
        return str(value)
    if min_count > 1 and 0 < v < min_count:
        return f"<{min_count}"
    return str(int(v))


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------------------------------
# kinetics


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
    from .definitions import REGISTRY

    by_code = _definitions_by_code(definitions)
    code = _definition_code(hpd_column)
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
    found = scatter_thresholds(hpd_column, definitions)
    ratio = found.get("ratio")
    delta = found.get("delta")
    if ratio_threshold is not None:
        ratio = (float(ratio_threshold), "", None)
    if delta_threshold is not None:
        delta = (float(delta_threshold), "", None)
    fig, ax = _new_ax(ax, (6.0, 5.5))
    status = hpd_status(classification, hpd_column)
    x = pd.to_numeric(classification["tgr_pre"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(classification["tgr_on"], errors="coerce").to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    n_total = len(classification)
    if not ok.any():
        _empty(ax, "no patient with TGR before and on treatment")
        ax.set_title(f"TGR before vs on treatment (0 of {n_total} patients)")
        return fig
    xs, ys, st = x[ok], y[ok], status.to_numpy()[ok]
    lo = min(-100.0, float(np.min(xs)), float(np.min(ys)))
    hi = max(float(np.max(xs)), float(np.max(ys)), 100.0) * 1.5
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
    counts = {}
    for s in STATUS_ORDER:
        sel = st == s
        counts[s] = int(sel.sum())
        if sel.any():
            ax.scatter(
                xs[sel],
                ys[sel],
                s=14,
                color=STATUS_COLORS[s],
                alpha=0.8,
                lw=0,
                zorder=2,
                label=f"{STATUS_LABELS[s]} (n={counts[s]})",
                rasterized=len(xs) > RASTERIZE_ABOVE,
            )
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("TGR before treatment (% per month)")
    ax.set_ylabel("TGR on treatment (% per month)")
    code = _definition_code(hpd_column)
    label = definition_labels([code], definitions)[code]
    ax.set_title(
        _with_note(
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
    ax: Axes, pid: np.ndarray, t: np.ndarray, v: np.ndarray, status: pd.Series | None, alpha: float
) -> tuple[dict[str, int], np.ndarray]:
    """Draw one line per patient (rows grouped by patient id ``pid``, sorted by time ``t``; ``v``
    the values) coloured by HPD status (``status`` indexed by patient id; missing: not
    evaluable), HPD drawn last, on top, each line ending in a dot. Returns the number of
    patients per status and the patient ids in drawing order."""
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    bounds = np.r_[starts, len(pid)]
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
    fig, ax = _new_ax(ax)
    data = scans[[id_col, time_col, value_col]].copy()
    data[time_col] = pd.to_numeric(data[time_col], errors="coerce")
    data[value_col] = pd.to_numeric(data[value_col], errors="coerce")
    data = data.dropna()
    ids = np.sort(data[id_col].astype(str).unique())
    n_all = len(ids)
    if n_all == 0:
        _empty(ax, "no tumour measurements")
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
    counts, _ = _spider_lines(ax, pid, t, v, status, alpha=0.7)
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


#: above this many points, dense marks (scatter, waterfall bars) are rasterized inside the SVG
RASTERIZE_ABOVE = 2000


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
    fig, ax = _new_ax(ax, (8.0, 4.5))
    values = pd.to_numeric(pct_change, errors="coerce")
    n_total = len(values)
    values = values.dropna().sort_values(ascending=False, kind="mergesort")
    if values.empty:
        _empty(ax, "no patient with a change in target SLD")
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
    fig, ax = _new_ax(ax)
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
        _empty(ax, "no patient with TGK")
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
    code = _definition_code(hpd_column)
    ax.set_title(
        _with_note(
            "Tumour growth kinetics before and on treatment, by HPD status "
            f"({definition_labels([code], definitions)[code]})",
            changes_note([code], definitions),
        )
    )
    return fig


# --------------------------------------------------------------------------------------------
# incidence and agreement


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
    tab = incidence_table.copy()
    tab["stratum"] = tab.get("stratum", pd.Series("all", index=tab.index)).astype("string")
    tab["stratum"] = tab["stratum"].fillna("all")
    codes = list(dict.fromkeys(tab["definition"].astype(str)))
    if strata is None:
        strata = list(dict.fromkeys(tab["stratum"].astype(str)))
    has_value = pd.to_numeric(tab["percent"], errors="coerce").notna()
    strata = [x for x in strata if (has_value & tab["stratum"].astype(str).eq(x)).any()]
    fig, ax = _new_ax(ax, (7.5, max(2.5, 0.45 * len(codes) * max(1, min(len(strata), 3)) + 1)))
    if tab.empty:
        _empty(ax, "no incidence to show")
        return fig
    n_s = len(strata)
    offsets = ((n_s - 1) / 2 - np.arange(n_s)) * (0.7 / max(n_s, 1))  # first stratum on top
    ypos = {d: len(codes) - 1 - i for i, d in enumerate(codes)}
    for k, s in enumerate(strata):
        sub = tab[tab["stratum"].astype(str) == s]
        if sub.empty:
            continue
        y = sub["definition"].astype(str).map(ypos).to_numpy(float) + (offsets[k] if n_s > 1 else 0)
        p = pd.to_numeric(sub["percent"], errors="coerce").to_numpy(float)
        lo = pd.to_numeric(sub["ci_low"], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(sub["ci_high"], errors="coerce").to_numpy(float)
        overall = s in ("all", "overall") or n_s == 1
        color = "black" if overall else PALETTE[k % len(PALETTE)]
        err = np.vstack([np.clip(p - lo, 0, None), np.clip(hi - p, 0, None)])
        shown = s.split("=", 1)[1] if by and s.startswith(f"{by}=") else s
        ax.errorbar(p, y, xerr=err, fmt="o", ms=4, color=color, capsize=2, lw=1, label=shown)
        if overall:
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
    labels = definition_labels(list(ypos), definitions)
    ax.set_yticks(list(ypos.values()))
    ax.set_yticklabels([labels[d] for d in ypos])
    ax.set_xlim(left=0)
    ax.set_xlabel("HPD incidence among evaluable patients (%, 95 % CI)")
    overall_only = all(x in ("all", "overall") for x in strata)
    from .tables import in_sentence, variable_label

    by_label = variable_label(by) if by else "stratum"
    title = (
        "Incidence of HPD by definition, all patients"
        if overall_only
        else f"Incidence of HPD by definition and {in_sentence(by_label)}"
    )
    ax.set_title(
        _with_note(title, changes_note(list(ypos), definitions)), fontsize=STYLE["axes.titlesize"]
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
    fig, ax = _new_ax(ax, (1.0 + 0.75 * max(n, 2), 0.6 + 0.65 * max(n, 2)))
    if n == 0:
        _empty(ax, "no pair of definitions")
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
        _with_note(f"Agreement between definitions ({label})", changes_note(defs, definitions)),
        fontsize=STYLE["axes.titlesize"],
    )
    return fig


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
        tab = upset_counts.rename("n").reset_index()
        count_col = "n"
    else:
        tab = upset_counts.copy()
        if count_col is None:
            count_col = next((c for c in ("n", "count", "n_patients") if c in tab), None)
            if count_col is None:
                raise KeyError("upset_counts needs a count column: n, count or n_patients")
    sets = [c for c in tab.columns if c != count_col and pd.api.types.is_bool_dtype(tab[c])]
    member = tab[sets].fillna(False).astype(bool).to_numpy()
    counts = pd.to_numeric(tab[count_col]).to_numpy(int)
    keep = member.any(axis=1) & (counts > 0)
    member, counts = member[keep], counts[keep]
    order = np.lexsort((np.arange(len(counts)), -counts))[:max_intersections]
    member, counts = member[order], counts[order]
    set_sizes = (member * counts[:, None]).sum(axis=0)
    if fig is None:
        with use_style():
            fig = plt.figure(figsize=(max(6.0, 0.38 * len(counts) + 3.5), 2.8 + 0.32 * len(sets)))
    gs = fig.add_gridspec(
        2,
        2,
        width_ratios=[4, 1],
        height_ratios=[3, max(1.0, 0.35 * len(sets))],
        wspace=0.03,
        hspace=0.05,
    )
    ax_bar = fig.add_subplot(gs[0, 0])
    ax_mat = fig.add_subplot(gs[1, 0], sharex=ax_bar)
    ax_set = fig.add_subplot(gs[1, 1], sharey=ax_mat)
    for a in (ax_bar, ax_mat, ax_set):
        _style_axes(a)
    if len(counts) == 0:
        _empty(ax_bar, "no patient flagged by any definition")
        ax_mat.set_axis_off()
        ax_set.set_axis_off()
        return fig
    x = np.arange(len(counts))
    ax_bar.bar(x, counts, color=OKABE_ITO["black"], width=0.6)
    for xi, c in zip(x, counts, strict=True):
        ax_bar.text(xi, c, count_label(c, min_count), ha="center", va="bottom", fontsize=7)
    ax_bar.set_ylabel("patients")
    ax_bar.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax_bar.tick_params(axis="x", bottom=False, labelbottom=False)
    ax_bar.spines["bottom"].set_visible(False)
    ax_bar.set_title(
        _with_note(
            f"Patients flagged HPD by each combination of definitions ({len(counts)} combinations)",
            note[2:] + "." if note else "",
            changes_note(sets, definitions),
            width=100,
        ),
        fontsize=9,
        loc="left",
    )
    y = np.arange(len(sets))[::-1]
    xx, yy = np.meshgrid(x, y, indexing="ij")
    ax_mat.scatter(xx.ravel(), yy.ravel(), s=30, color="0.85", zorder=1)
    xi, si = np.nonzero(member)
    ax_mat.scatter(x[xi], y[si], s=30, color="black", zorder=2)
    for col in range(len(counts)):
        ys = y[member[col]]
        if len(ys) > 1:
            ax_mat.plot([col, col], [ys.min(), ys.max()], color="black", lw=1.5, zorder=1.5)
    ax_mat.set_yticks(y)
    names = definition_labels(sets, definitions)
    ax_mat.set_yticklabels([names[c] for c in sets], fontsize=8)
    ax_mat.tick_params(axis="y", length=0)
    ax_mat.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "bottom"):
        ax_mat.spines[side].set_visible(False)
    ax_mat.set_xlim(-0.6, len(counts) - 0.4)
    ax_mat.set_ylim(-0.6, len(sets) - 0.4)
    ax_set.barh(y, set_sizes, color=OKABE_ITO["vermillion"], height=0.5)
    for yi, v in zip(y, set_sizes, strict=True):
        ax_set.text(v, yi, f" {count_label(v, min_count)}", va="center", fontsize=7)
    ax_set.set_xlabel("flagged HPD")
    ax_set.tick_params(axis="y", left=False, labelleft=False)
    ax_set.spines["left"].set_visible(False)
    return fig


def on_treatment_plot(
    data: pd.DataFrame,
    group_by: str | None = None,
    quantities: Sequence[str] = ("tgr_on", "tgk_on"),
    title: str | None = None,
) -> Figure:
    """Figure: one panel per quantity (default TGR_on in % per month, TGK_on in mm per month),
    a box plot per group (median, quartiles, whiskers 1.5 × IQR) with every patient as a dot;
    y axis symmetric-log (linear within ±10). Groups without a value show an empty box.

    ``data``: a classification table (with patient columns); groups as in
    :func:`hpd_analysis.kinetics_summary.group_of`, values from
    :func:`hpd_analysis.kinetics_summary.on_treatment_values`."""
    from .kinetics_summary import QUANTITIES, on_treatment_values

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


def published_value(
    code: str, parameter: str, definitions: Sequence[Any] | None = None
) -> float | None:
    """The published value of a definition's parameter (from the definition in force among
    ``definitions``, else the registry); None when unknown or not a number."""
    from .definitions import PUBLISHED_PARAMETERS, REGISTRY

    d = _definitions_by_code(definitions).get(code)
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
    fig, ax = _new_ax(ax)
    if sweep_table.empty:
        _empty(ax, "no threshold sweep")
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
    ax.set_xlabel(xlabel or x.replace("_", " "))
    ax.set_ylabel("HPD incidence among evaluable patients (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(
        "HPD incidence as the threshold varies (95 % CI band)"
        if label is None
        else _with_note(
            f"HPD incidence under {label} as {param} varies (95 % CI band)",
            changes_note([str(code)], definitions),
            width=80,
        )
    )
    if group is not None or reference is not None or published is not None:
        ax.legend(fontsize=8)
    return fig


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
    tab = attrition_table.copy()
    if category_col not in tab and {"status", "reason"} <= set(tab.columns):
        st = tab["status"].astype(str)
        cause = tab["reason_category"] if "reason_category" in tab else tab["reason"]
        tab[category_col] = np.where(st.isin(["hpd", "not_hpd"]), st, cause.astype(str))
    tab = tab[[definition_col, category_col, count_col]].copy()
    tab[category_col] = tab[category_col].astype(str)
    defs = list(dict.fromkeys(tab[definition_col].astype(str)))
    fig, ax = _new_ax(ax, (8.5, max(2.5, 0.5 * len(defs) + 2.0)))
    if tab.empty:
        _empty(ax, "no attrition to show")
        return fig
    wide = tab.pivot_table(
        index=definition_col,
        columns=category_col,
        values=count_col,
        aggfunc="sum",
        fill_value=0,
        sort=False,
    ).reindex(defs)
    total = wide.sum(axis=1).to_numpy(float)
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
    y = np.arange(len(defs))[::-1]
    left = np.zeros(len(defs))
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
    names = definition_labels(defs, definitions)
    ax.set_yticks(y)
    ax.set_yticklabels([names[d] for d in defs])
    ax.set_xlabel("patients")
    ax.set_title(
        _with_note(
            f"Every patient counted once: {HPD_LABEL}, {NON_HPD_LABEL} or why not evaluable "
            f"(n={int(total.max()) if len(total) else 0})",
            changes_note(defs, definitions),
        )
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=1, fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# risk factors and survival


#: ticks of the forest plot's log axis (those within the drawn range)
OR_TICKS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0)


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
    tab = odds_ratio_table.copy()
    tab["level"] = tab["level"].astype("string").fillna("")
    ref = (
        tab["reference"].astype("string").fillna("")
        if "reference" in tab
        else pd.Series("", index=tab.index, dtype="string")
    )
    is_ref = (ref.eq(tab["level"]) & tab["level"].ne("")) | tab.get(
        "note", pd.Series("", index=tab.index)
    ).astype(str).eq("reference level")
    tab, ref = tab[~is_ref.to_numpy(bool)].copy(), ref[~is_ref.to_numpy(bool)]
    var = tab["variable"].astype(str)

    def word(v: str) -> str:
        return {"true": "yes", "false": "no"}.get(v.lower(), v)

    levels = tab.assign(_v=var).groupby("_v")["level"].transform("nunique")
    terms_ = []
    var = var.map(lambda v: (labels or {}).get(v, v))
    for v, lvl, r, nlev in zip(var, tab["level"].astype(str), ref.astype(str), levels, strict=True):
        if r == "" or lvl == "":
            terms_.append(f"{v} ({lvl})" if lvl else v)
        elif nlev == 1:
            terms_.append(f"{v} ({word(lvl)} vs {word(r)})")
        else:
            terms_.append(f"{v}: {word(lvl)} vs {word(r)}")
    tab["term"] = terms_
    terms = list(dict.fromkeys(tab["term"]))
    models = list(dict.fromkeys(tab["model"].astype(str)))
    fig, ax = _new_ax(ax, (7.0, max(2.8, 0.42 * len(terms) + 1.8)))
    if tab.empty:
        _empty(ax, "no odds ratio to show")
        return fig
    ypos = {t: len(terms) - 1 - i for i, t in enumerate(terms)}
    offsets = {m: ((len(models) - 1) / 2 - k) * 0.25 for k, m in enumerate(models)}  # 1st on top
    colors = {"univariable": OKABE_ITO["blue"], "multivariable": OKABE_ITO["vermillion"]}
    for k, m in enumerate(models):
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
            color=colors.get(m, PALETTE[k % len(PALETTE)]),
            label=m,
        )
    from .tables import format_ci, p_value_text

    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    finite = pd.concat(
        [pd.to_numeric(tab[c], errors="coerce") for c in ("ci_low", "ci_high", "odds_ratio")]
    )
    finite = finite[np.isfinite(finite) & (finite > 0)]
    # the axis runs from tick to tick: at least 0.1-10, out to 0.01-100 when a CI reaches beyond
    lo_data = min(0.1, float(finite.min())) if len(finite) else 0.1
    hi_data = max(10.0, float(finite.max())) if len(finite) else 10.0
    lo_x = max([t for t in OR_TICKS if t <= lo_data] or [OR_TICKS[0]])
    hi_x = min([t for t in OR_TICKS if t >= hi_data] or [OR_TICKS[-1]])
    ax.set_xlim(lo_x / 1.15, hi_x * 1.15)
    ticks = [t for t in OR_TICKS if lo_x <= t <= hi_x]
    ax.xaxis.set_major_locator(mpl.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_yticks(list(ypos.values()))
    ax.set_yticklabels(list(ypos.keys()), fontsize=8)
    ax.set_xlabel(f"odds ratio for {outcome} (95 % CI, log scale)")
    ax.set_title(f"Risk factors for {outcome} (logistic regression)", loc="left", pad=18)
    ax.set_ylim(-0.7, len(terms) - 0.3)
    # the numbers beside the plot: OR (95 % CI) and p, one line per term and model
    trans = mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    axes_inches = fig.get_size_inches()[0] * ax.get_position().width
    x_or = 1.03
    x_p = x_or + 1.35 / max(axes_inches, 1.0)  # the widest "OR (CI)" text is about 1.2 inches
    top = len(terms) - 0.3
    ax.text(x_or, top, "OR (95 % CI)", transform=trans, fontsize=8, fontweight="bold", va="bottom")
    ax.text(x_p, top, "p", transform=trans, fontsize=8, fontweight="bold", va="bottom")
    for k, m in enumerate(models):
        sub = tab[tab["model"].astype(str) == m]
        color = colors.get(m, PALETTE[k % len(PALETTE)])
        for term, orv, lo, hi, p in zip(
            sub["term"],
            sub["odds_ratio"],
            sub["ci_low"],
            sub["ci_high"],
            sub["p_value"],
            strict=True,
        ):
            y = ypos[term] + (offsets[m] if len(models) > 1 else 0.0)
            text = format_ci(orv, lo, hi, 2) or "not estimable"
            ax.text(x_or, y, text, transform=trans, fontsize=7.5, va="center", color=color)
            ax.text(
                x_p, y, p_value_text(p), transform=trans, fontsize=7.5, va="center", color=color
            )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=2, borderaxespad=0.2
        )
    return fig


def _median_label(fitter: Any) -> str:
    """``median 5.1 (3.2–7.0)`` from a fitted KaplanMeierFitter, as the survival table gives it
    (:func:`hpd_analysis.survival.km_median`, R's convention); NR when not reached, NE when a
    bound is not estimable."""
    from .survival import km_median

    med, lo, hi = km_median(fitter.durations, fitter.event_observed, fitter.alpha)

    def fmt(v: float) -> str:
        return "NR" if np.isinf(v) else "NE" if np.isnan(v) else f"{v:.1f}"

    return f"median {fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def km_time_label(
    landmark_months: float | None, days_per_month: float = 30.4375, unit: str = "Months"
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
    from .tables import format_ci, p_value_text

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
        hr = format_ci(r.get("hazard_ratio"), r.get("hr_ci_low"), r.get("hr_ci_high"), 2)
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

    fig, ax = _new_ax(ax, (7.0, 5.6))
    if not fitters:
        _empty(ax, "no group to plot")
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
    fig, ax = _new_ax(ax, (5.5, 3.5))
    if scans is None or scans.empty:
        _empty(ax, "no scan for this patient")
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
        _style_axes(ax)
    if summary.empty:
        _empty(ax1, "no re-read")
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


def window_sweep_plot(sweep: pd.DataFrame, definitions: Sequence[Any] | None = None) -> Figure:
    """HPD incidence (%) per definition as each time window varies, one panel per window.

    ``sweep``: :func:`hpd_analysis.classification.window_sweep`; ``definitions``: the
    definitions in force (labels by author and year, † when changed; default the registry). Each definition one line
    (Okabe–Ito colours, then dashed); the dashed black line marks the published value, the grey
    band the value in force when it differs; a missing ``value`` (no limit) is drawn at the right
    end, labelled "none".
    """
    params = list(dict.fromkeys(sweep["parameter"].astype(str)))
    n = max(len(params), 1)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    with use_style():
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow + 0.8), squeeze=False)
    flat_axes = axes.ravel()
    for ax in flat_axes:
        _style_axes(ax)
    if sweep.empty:
        _empty(flat_axes[0], "no window sweep")
        return fig
    # colours in the run's definition order (that of a cohort-wide window, which moves them all)
    counts = sweep.groupby("parameter", sort=False)["definition"].nunique()
    widest = sweep[sweep["parameter"] == counts.idxmax()]
    codes = list(
        dict.fromkeys([*widest["definition"].astype(str), *sweep["definition"].astype(str)])
    )
    style = {
        c: (PALETTE[i % len(PALETTE)], "-" if i < len(PALETTE) else "--")
        for i, c in enumerate(codes)
    }
    handles: dict[str, Line2D] = {}
    for ax, key in zip(flat_axes, params, strict=False):
        sub = sweep[sweep["parameter"].astype(str) == key]
        x = pd.to_numeric(sub["value"], errors="coerce").to_numpy(float)
        finite = x[np.isfinite(x)]
        step = np.diff(np.unique(finite)).min() if len(np.unique(finite)) > 1 else 7.0
        none_x = (finite.max() + 2 * step) if len(finite) else 0.0
        xs_all = np.where(np.isfinite(x), x, none_x)
        for code in codes:
            m = (sub["definition"].astype(str) == code).to_numpy()
            if not m.any():
                continue
            order = np.argsort(xs_all[m], kind="mergesort")
            color, ls = style[code]
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
        if not np.isfinite(x).all():
            ticks = [*np.unique(finite), none_x]
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks[:-1]] + ["none"])
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


# --------------------------------------------------------------------------------------------
# growth model (Stein–Wilkerson g, d, phi; hpd_analysis.growth)


def _growth_ax(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
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
    from .params import DAYS_PER_MONTH

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
            _empty(ax, f"no patient with {name}")
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
        _empty(ax, "no patient")
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


def growth_vs_tgr(growth: pd.DataFrame, tgr_on: Any, status: Any, ax: Axes | None = None) -> Figure:
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
        _empty(ax, "no patient with both g > 0 and TGR on treatment")
        return fig
    counts = {}
    for s in STATUS_ORDER:
        m = ok & (st == s)
        counts[s] = int(m.sum())
        if m.any():
            ax.scatter(
                x[m],
                g[m],
                s=12,
                color=STATUS_COLORS[s],
                alpha=0.7,
                lw=0,
                label=f"{STATUS_LABELS[s]} (n={counts[s]})",
            )
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("log")
    ax.axvline(0, color="0.6", lw=0.5)
    ax.set_xlabel("TGR on treatment (% per month, symlog)")
    ax.set_ylabel("growth rate g (per month, log)")
    ax.set_title("Growth rate g versus TGR on treatment")
    ax.legend(fontsize=8, loc="best")
    return fig


# --------------------------------------------------------------------------------------------
# prediction (hpd_analysis.prediction) and longitudinal biomarkers (hpd_analysis.biomarkers)

_LINESTYLES = ("-", "--", ":", "-.")


def roc_plot(
    curves: Mapping[str, pd.DataFrame],
    table: pd.DataFrame,
    marker: str,
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
    fig, ax = _new_ax(ax, (6.2, 5.4))
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.8, ls="--", label="chance (AUC 0.5)")
    from .tables import variable_label

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
        _empty(ax, f"{marker}: no definition with patients with and without HPD")
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


def calibration_plot(
    y: Any,
    linear_predictor: Any,
    performance: pd.DataFrame | None = None,
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
    from statsmodels.stats.proportion import proportion_confint

    yy = np.asarray(y, dtype=float)
    lp = np.asarray(linear_predictor, dtype=float)
    ok = np.isfinite(yy) & np.isfinite(lp)
    yy, lp = yy[ok], lp[ok]
    p = 1.0 / (1.0 + np.exp(-lp))
    fig, ax = _new_ax(ax, (6.0, 5.6))
    if len(yy) == 0:
        _empty(ax, "no patient to calibrate")
        return fig
    top = float(min(1.0, max(p.max(), yy.mean()) * 1.15 + 0.02))
    ax.plot([0, top], [0, top], color=GREY, lw=0.8, ls="--", label="ideal")
    order = np.argsort(p, kind="mergesort")
    k = int(max(1, min(groups, len(yy) // 10)))
    bins = np.array_split(order, k)
    mp = np.array([p[b].mean() for b in bins])
    ev = np.array([yy[b].sum() for b in bins])
    nn = np.array([len(b) for b in bins])
    lo, hi = proportion_confint(ev, nn, method="wilson")
    obs = ev / nn
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
        label=f"observed, {k} groups of ~{int(np.median(nn))} (Wilson 95 % CI)",
    )
    # beyond 1,000 patients the local fits are computed ~100 points apart and interpolated
    # (statsmodels' delta; lowess is quadratic in n otherwise)
    delta = 0.01 * float(np.ptp(p)) if len(p) > 1000 else 0.0
    sm = lowess(yy, p, frac=2 / 3, it=0, delta=delta, return_sorted=True)
    ax.plot(sm[:, 0], sm[:, 1], color=OKABE_ITO["vermillion"], lw=1.3, label="lowess smoother")
    # predicted probabilities: HPD as ticks up from -0.04*top, non-HPD down
    base = -0.05 * top
    dense = len(p) > RASTERIZE_ABOVE  # a mark per patient: rasterized in the SVG when many
    ax.vlines(
        p[yy == 1], base, base + 0.03 * top, color=STATUS_COLORS["hpd"], lw=0.5, rasterized=dense
    )
    ax.vlines(
        p[yy == 0],
        base - 0.03 * top,
        base,
        color=STATUS_COLORS["not_hpd"],
        lw=0.5,
        rasterized=dense,
    )
    ax.axhline(base, color="0.7", lw=0.4)
    ax.set_xlim(0, top)
    ax.set_ylim(base - 0.04 * top, top)
    ax.set_xlabel("predicted probability of HPD")
    ax.set_ylabel("observed proportion with HPD")
    if performance is not None and len(performance):
        perf = performance.set_index("measure")

        def val(m: str, c: str) -> str:
            v = perf.loc[m, c] if m in perf.index else np.nan
            return "n/a" if not np.isfinite(v) else f"{v:.2f}"

        text = (
            "apparent / optimism-corrected\n"
            f"AUC {val('auc', 'apparent')} / {val('auc', 'corrected')}\n"
            f"slope {val('calibration_slope', 'apparent')} / "
            f"{val('calibration_slope', 'corrected')}\n"
            f"intercept {val('calibration_intercept', 'apparent')} / "
            f"{val('calibration_intercept', 'corrected')}"
        )
        ax.text(
            0.98,
            0.03,
            text,
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "0.8", "boxstyle": "round"},
        )
    ax.set_title(title or f"Calibration ({len(yy)} patients, {int(yy.sum())} with HPD)")
    ax.legend(loc="upper left", fontsize=8)
    return fig


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
    fig, ax = _new_ax(ax)
    d = data.dropna(subset=["day", "pct_change_baseline"])
    if d.empty:
        _empty(ax, f"no {marker} values from a baseline sample")
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
    counts, seg_ids = _spider_lines(ax, pid, t, v, status, alpha=0.75)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.axvline(0, color="0.6", lw=0.5, ls=":")
    ax.set_xlabel(f"{'weeks' if weeks else 'days'} since treatment start")
    ax.set_ylabel(f"change in {marker} from baseline (%)")
    ax.set_title(f"Change in {marker} from baseline ({len(seg_ids)} patients{sample})")
    _status_legend(ax, counts, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig
