"""The report's figure style and the helpers every figure family shares.

- palette: Okabe–Ito (colour-blind safe); one colour per HPD status (:data:`STATUS_COLORS`),
  labelled as in the tables (:data:`STATUS_LABELS`);
- :data:`STYLE`, :func:`use_style` / :func:`apply_style`: the rcParams of every figure;
- :func:`save_figure`: PNG (:data:`PNG_DPI`) and SVG whose bytes do not change between runs
  (one :func:`tight_bbox` for both); :func:`show_png` shows the saved PNG in a notebook;
- :func:`plain_text` / :func:`plain_ticks`: mathtext off, so a ``$`` in a label is a dollar sign;
- the drawing helpers of the family modules: :func:`new_axes`, :func:`style_axes`,
  :func:`with_note`, :func:`count_label` (small-cell rule), :func:`draw_empty`,
  :func:`scatter_by_status`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler

from ..incidence import HPD_LABEL, NON_HPD_LABEL

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
    "axes.prop_cycle": cycler(color=PALETTE),
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


#: above this many points, dense marks (scatter, waterfall bars) are rasterized inside the SVG
RASTERIZE_ABOVE = 2000


#: matplotlib's rcParams by key name (its type stubs accept only the literal key names)
_RC_PARAMS = cast(MutableMapping[str, Any], mpl.rcParams)


@contextmanager
def _rc(values: Mapping[str, Any]) -> Iterator[None]:
    """Set ``values`` in rcParams and restore only those keys on exit.

    Unlike ``matplotlib.rc_context`` this leaves every other key alone: the first figure of a
    Jupyter session switches on interactive mode (inline backend) and that must survive, or the
    later figures are never displayed.
    """
    orig = {k: _RC_PARAMS[k] for k in values}
    _RC_PARAMS.update(values)
    try:
        yield
    finally:
        _RC_PARAMS.update(orig)


@contextmanager
def use_style() -> Iterator[None]:
    """Context manager applying the report style (``STYLE``) to figures created inside it."""
    with _rc(STYLE):
        yield


def apply_style() -> None:
    """Apply the report style globally (notebooks call this once at the top)."""
    _RC_PARAMS.update(STYLE)


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


def new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: ``ax`` and its figure when given, else a new figure in the
    report style of ``figsize`` (inches; default ``STYLE["figure.figsize"]``)."""
    if ax is not None:
        # the figure holding ax (a SubFigure when ax is in one: drawn on the same way)
        return cast(Figure, ax.figure), ax
    with use_style():
        fig, ax = plt.subplots(figsize=figsize or STYLE["figure.figsize"])
    style_axes(ax)
    return fig, ax


def style_axes(ax: Axes) -> None:
    """Give ``ax`` the report look: no top or right spine, the style's label, title and tick
    font sizes (points)."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for item in (ax.xaxis.label, ax.yaxis.label):
        item.set_fontsize(STYLE["axes.labelsize"])
    ax.title.set_fontsize(STYLE["axes.titlesize"])
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])


def with_note(title: str, *notes: str, width: int = 90) -> str:
    """``title`` with each non-empty note on the lines under it (wrapped at ``width``
    characters)."""
    import textwrap

    lines = [title]
    for note in notes:
        if note:
            lines += textwrap.wrap(note, width, break_on_hyphens=False)
    return "\n".join(lines)


def count_label(value: Any, min_count: int = 0) -> str:
    """A count as figure text: ``"12"``; ``"<k"`` when it is 1..k-1 and ``min_count`` = k > 1
    (the report's small-cell rule); text (an already masked ``"<5"``) as is."""
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(v):
        return str(value)
    if min_count > 1 and 0 < v < min_count:
        return f"<{min_count}"
    return str(int(v))


def draw_empty(ax: Axes, message: str) -> None:
    """Write ``message`` in the middle of ``ax`` (grey, no ticks): a figure without data says
    why."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])


def scatter_by_status(
    ax: Axes, x: np.ndarray, y: np.ndarray, *, status: np.ndarray, **style: Any
) -> dict[str, int]:
    """Draw the points ``x``, ``y`` one scatter per HPD status (``status``: ``hpd`` /
    ``not_hpd`` / ``not_evaluable`` per point), in :data:`STATUS_ORDER`, each in its colour and
    labelled ``HPD (n=12)``; return the number of points per status. ``style``: more scatter
    keywords (marker size ``s`` in points², ``alpha``, ``zorder``, ``rasterized``)."""
    counts: dict[str, int] = {}
    for s in STATUS_ORDER:
        sel = status == s
        counts[s] = int(sel.sum())
        if sel.any():
            ax.scatter(
                x[sel],
                y[sel],
                color=STATUS_COLORS[s],
                lw=0,
                label=f"{STATUS_LABELS[s]} (n={counts[s]})",
                **style,
            )
    return counts
