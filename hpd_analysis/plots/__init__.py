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

The figures live in one module per family; every public name is re-exported here, so
``from hpd_analysis.plots import tgr_scatter`` and ``plots.tgr_scatter`` both work:

- :mod:`~hpd_analysis.plots.style`: palette, the report style, :func:`save_figure`, the helpers
  every family shares;
- :mod:`~hpd_analysis.plots.kinetics`: TGR scatter, spider, waterfall, TGK and on-treatment
  boxes, one patient's scans, the biomarker spider;
- :mod:`~hpd_analysis.plots.growth`: the Stein–Wilkerson growth model;
- :mod:`~hpd_analysis.plots.incidence`: incidence forest, attrition, agreement heat map, UpSet,
  threshold and window sweeps, re-read uncertainty;
- :mod:`~hpd_analysis.plots.risk`: odds-ratio forest, ROC, calibration;
- :mod:`~hpd_analysis.plots.survival`: Kaplan–Meier curves.
"""

from __future__ import annotations

# labels of definitions (author and year, † when changed) and HPD status: from their owner
# modules, here too (figures and notebooks read them from plots)
from ..definitions import CHANGED_MARK, changes_note, definition_labels
from ..incidence import HPD_LABEL, NON_HPD_LABEL, hpd_status
from .growth import growth_distributions, growth_fit_shares, growth_vs_tgr
from .incidence import (
    agreement_heatmap,
    attrition_flow_plot,
    incidence_forest,
    published_value,
    reread_uncertainty,
    threshold_curve,
    upset_plot,
    window_sweep_plot,
)
from .kinetics import (
    biomarker_spider_plot,
    on_treatment_plot,
    patient_scans_plot,
    scatter_thresholds,
    spider_data,
    spider_plot,
    tgk_distributions,
    tgr_scatter,
    waterfall_plot,
)
from .risk import OR_TICKS, calibration_plot, or_forest, roc_plot
from .style import (
    GREY,
    OKABE_ITO,
    PALETTE,
    PNG_DPI,
    RASTERIZE_ABOVE,
    STATUS_COLORS,
    STATUS_LABELS,
    STATUS_ORDER,
    STYLE,
    PlainLogFormatter,
    apply_style,
    count_label,
    plain_text,
    plain_ticks,
    save_figure,
    show_png,
    tight_bbox,
    use_style,
)
from .survival import KM_TABLE_ROWS, km_annotation, km_plot, km_time_label

__all__ = [
    "CHANGED_MARK",
    "GREY",
    "HPD_LABEL",
    "KM_TABLE_ROWS",
    "NON_HPD_LABEL",
    "OKABE_ITO",
    "OR_TICKS",
    "PALETTE",
    "PNG_DPI",
    "RASTERIZE_ABOVE",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "STATUS_ORDER",
    "STYLE",
    "PlainLogFormatter",
    "agreement_heatmap",
    "apply_style",
    "attrition_flow_plot",
    "biomarker_spider_plot",
    "calibration_plot",
    "changes_note",
    "count_label",
    "definition_labels",
    "growth_distributions",
    "growth_fit_shares",
    "growth_vs_tgr",
    "hpd_status",
    "incidence_forest",
    "km_annotation",
    "km_plot",
    "km_time_label",
    "on_treatment_plot",
    "or_forest",
    "patient_scans_plot",
    "plain_text",
    "plain_ticks",
    "published_value",
    "reread_uncertainty",
    "roc_plot",
    "save_figure",
    "scatter_thresholds",
    "show_png",
    "spider_data",
    "spider_plot",
    "tgk_distributions",
    "tgr_scatter",
    "threshold_curve",
    "tight_bbox",
    "upset_plot",
    "use_style",
    "waterfall_plot",
    "window_sweep_plot",
]
