"""A live explorer of HPD definitions in JupyterLab / classic notebooks: ``hpd.explore(cohort)``.

Pick definitions, move a definition's thresholds and the time-point windows, choose a grouping
column and an endpoint: the incidence (with confidence intervals), the agreement matrix, the
UpSet counts and the Kaplan–Meier curves by HPD status update in place; a patient picker shows
:meth:`hpd_analysis.results.Classification.explain` for one patient.

Fast because the expensive part runs once: the per-patient features
(:func:`hpd_analysis.classification.build_features`: scans, SLD, RECIST, kinetics) are computed
once per window setting and cached; a threshold change only re-evaluates the verdicts
(:func:`hpd_analysis.classification.classify_features`) and the summaries. Every number shown
comes from the same functions as :func:`hpd_analysis.classify` (the displayed result is
``explorer.result``, a :class:`~hpd_analysis.results.Classification`).

``make bench`` prints the latency of one slider change on the 500-patient example and on
100,000 simulated patients (targets: 300 ms and 2 s).
"""

from __future__ import annotations

import hashlib
import html
import io
import time
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .endpoints import ENDPOINT_TIME_EVENT_COLUMNS
from .errors import ParameterError
from .params import Parameters, Windows

if TYPE_CHECKING:  # pragma: no cover
    from .cohort import Cohort
    from .definitions import Definition
    from .results import Classification

__all__ = ["Explorer", "explore", "WINDOW_SLIDERS"]

#: the windows the explorer can move: field of :class:`~hpd_analysis.params.Windows` ->
#: (label, min, max, step), in days
WINDOW_SLIDERS: dict[str, tuple[str, int, int, int]] = {
    "first_eval_min_days": ("first evaluation ≥ day", 0, 84, 1),
    "baseline_max_days_before": ("baseline ≤ days before start", 0, 120, 1),
    "prebaseline_max_days_before_baseline": ("pre-baseline ≤ days before baseline", 14, 365, 1),
}
#: patients offered in the picker (HPD under the primary definition first); any id can be typed
PICKER_MAX_OPTIONS = 2000
#: threshold settings whose verdicts are kept (per window setting and definition)
VERDICT_CACHE_SIZE = 64
#: pairs of verdict settings whose agreement is kept
PAIR_CACHE_SIZE = 2000
#: feature columns the summaries read (besides the ``hpd_<code>`` flags)
SUMMARY_COLUMNS = ("patient_id", "first_eval_months", *ENDPOINT_TIME_EVENT_COLUMNS)
#: "no grouping" entry of the grouping menu
NO_GROUP = "(none)"


def _slider_range(name: str, value: float) -> tuple[float, float, float]:
    """Slider (min, max, step) around a threshold: 0 (ratios: 1) to 3 × the value, always
    holding the value itself (a slider clips a value outside its range)."""
    low = min(1.0 if "ratio" in name else 0.0, float(value))
    high = max(3.0 * float(value), low + 1.0)
    step = 10 ** np.floor(np.log10((high - low) / 100.0))
    return float(low), float(high), float(step)


class Explorer:
    """The explorer's state, widgets and outputs; :func:`explore` builds one and displays it.

    Attributes
    ----------
    definition_picker
        ``SelectMultiple`` of definition codes (at least one).
    primary_definition
        ``Dropdown``: the definition whose HPD status splits the KM curves.
    thresholds
        ``{(code, parameter): FloatSlider | IntSlider | Checkbox | Dropdown}``, one per parameter
        of every definition (published value first); shown for the definition of ``edit``.
    windows
        ``{field: IntSlider}`` of :data:`WINDOW_SLIDERS` (days).
    stratify_by, endpoint, patient
        ``Dropdown`` of patient columns for incidence by stratum, ``Dropdown`` of endpoints,
        ``Combobox`` of patient ids.
    incidence_html, agreement_html, upset_html, km_image, explain_html, status
        The outputs (``HTML`` / ``Image`` widgets), updated in place.
    result
        The :class:`~hpd_analysis.results.Classification` displayed.
    last_update_seconds, last_update_cpu_seconds
        Wall time and CPU time of this process for the last update (parameters → every output
        redrawn); on a busy machine the wall time exceeds the CPU time.
    """

    def __init__(
        self,
        cohort: Cohort | str | Path,
        definitions: str | Iterable[str | Definition] | None = None,
        *,
        endpoint: str = "os",
        **parameters: Any,
    ) -> None:
        from .results import classify

        self._features: dict[Parameters, pd.DataFrame] = {}
        self._drawn: dict[str, Any] = {}
        self._digests: dict[str, bytes] = {}
        self._pairs: dict[tuple, pd.DataFrame] = {}
        self._verdict_cache: dict[tuple, dict[str, Any]] = {}
        self._base_tables: dict[Parameters, pd.DataFrame] = {}
        self._result: Classification | None = None
        self._km_figure: Any = None
        base = classify(cohort, definitions, **parameters)
        self.cohort = base.cohort
        self._features[base.params] = base.features
        self._base = base
        self._defs = {d.code: d for d in base.definition_list}
        self._state: tuple[Parameters, list[Definition], str, dict[str, Any]] = (
            base.params,
            list(base.definition_list),
            base.primary,
            {},
        )
        self.last_update_seconds = 0.0
        self.last_update_cpu_seconds = 0.0
        self._patients = self.cohort.patients.reset_index(drop=True)
        self._make_controls(endpoint)
        self._make_outputs()
        self._show_thresholds()
        self.update()
        self._observe_controls()
        self.widget = self._assemble()

    # ------------------------------------------------------------------ widgets
    #: the description width and the layout of every control
    _STYLE: dict[str, str] = {"description_width": "170px"}
    _WIDTH = "330px"

    def _dropdown(self, options: list[str], value: Any, description: str) -> Any:
        """A ``Dropdown`` of ``options`` in the controls' style."""
        import ipywidgets as w

        return w.Dropdown(
            options=options,
            value=value,
            description=description,
            style=self._STYLE,
            layout=self._layout,
        )

    def _make_controls(self, endpoint: str) -> None:
        """The definition pickers, one widget per threshold, the window sliders, the grouping,
        endpoint and patient pickers, each starting at the values the base classification used."""
        import ipywidgets as w

        from .survival import available_endpoints

        base, style = self._base, self._STYLE
        self._layout = layout = w.Layout(width=self._WIDTH)
        codes = list(self._defs)
        self.definition_picker = w.SelectMultiple(
            options=codes,
            value=tuple(codes),
            rows=min(len(codes), 9),
            description="definitions",
            style=style,
            layout=layout,
        )
        self.primary_definition = self._dropdown(codes, base.primary, "KM by HPD under")
        self.edit = self._dropdown(codes, base.primary, "thresholds of")
        self.thresholds: dict[tuple[str, str], Any] = {}
        for code, d in self._defs.items():
            for name, value in d.parameters.items():
                self.thresholds[(code, name)] = self._parameter_widget(
                    d, name, value, style=style, layout=layout
                )
        self._threshold_box = w.VBox()
        self.windows = {
            f: w.IntSlider(
                value=int(getattr(base.params.windows, f)),
                min=min(lo, int(getattr(base.params.windows, f))),
                max=max(hi, int(getattr(base.params.windows, f))),
                step=step,
                description=label,
                style=style,
                layout=layout,
                continuous_update=False,
            )
            for f, (label, lo, hi, step) in WINDOW_SLIDERS.items()
        }
        patients = self._patients
        groups = [
            c
            for c in patients.columns
            if c != "patient_id" and 1 < patients[c].nunique(dropna=True) <= 12
        ]
        strata = base.settings.get("stratify_by")
        self.stratify_by = self._dropdown(
            [NO_GROUP, *groups], strata if strata in groups else NO_GROUP, "incidence by"
        )
        eps = available_endpoints(base.table)
        self.endpoint = self._dropdown(
            eps or ["(none)"], endpoint if endpoint in eps else (eps or ["(none)"])[0], "endpoint"
        )
        self.patient = w.Combobox(
            options=self._picker_options(),
            ensure_option=False,
            placeholder="patient id",
            description="explain patient",
            style=style,
            layout=layout,
        )

    def _make_outputs(self) -> None:
        """The output widgets (empty until :meth:`update`)."""
        import ipywidgets as w

        self.incidence_html = w.HTML()
        self.agreement_html = w.HTML()
        self.upset_html = w.HTML()
        self.km_image = w.Image(format="png", layout=w.Layout(max_width="560px"))
        self.explain_html = w.HTML()
        self.status = w.HTML()

    def _observe_controls(self) -> None:
        """Every control redraws the outputs when it changes (the threshold editor shows the
        edited definition's widgets, the patient picker its explanation)."""
        self.edit.observe(lambda _: self._show_thresholds(), names="value")
        for widget in (
            self.definition_picker,
            self.primary_definition,
            self.stratify_by,
            self.endpoint,
            *self.thresholds.values(),
            *self.windows.values(),
        ):
            widget.observe(self._on_change, names="value")
        self.patient.observe(lambda _: self.show_patient(), names="value")

    def _assemble(self) -> Any:
        """The status line above the controls and the tabs of the outputs."""
        import ipywidgets as w

        controls = w.VBox(
            [
                self.definition_picker,
                self.primary_definition,
                self.edit,
                self._threshold_box,
                w.HTML("<b>windows (days)</b>"),
                *self.windows.values(),
                self.stratify_by,
                self.endpoint,
                self.patient,
            ]
        )
        outputs = w.Tab(
            children=[
                self.incidence_html,
                self.agreement_html,
                self.upset_html,
                self.km_image,
                self.explain_html,
            ]
        )
        for i, title in enumerate(
            ["incidence", "agreement", "UpSet counts", "Kaplan–Meier", "patient"]
        ):
            outputs.set_title(i, title)
        self.outputs = outputs
        return w.VBox([self.status, w.HBox([controls, outputs])])

    @staticmethod
    def _parameter_widget(d: Definition, name: str, value: Any, *, style: dict, layout: Any) -> Any:
        import ipywidgets as w

        label = name
        if name in d.choices:
            return w.Dropdown(
                options=list(d.choices[name]),
                value=value,
                description=label,
                style=style,
                layout=layout,
            )
        if isinstance(value, bool):
            return w.Checkbox(value=value, description=label, style=style, layout=layout)
        if isinstance(value, int):
            return w.IntSlider(
                value=value,
                min=min(0, value),
                max=max(3 * value, 10),
                description=label,
                style=style,
                layout=layout,
                continuous_update=False,
            )
        if isinstance(value, float):
            lo, hi, step = _slider_range(name, value)
            return w.FloatSlider(
                value=value,
                min=lo,
                max=hi,
                step=step,
                description=label,
                style=style,
                layout=layout,
                continuous_update=False,
            )
        return w.Text(
            value=str(value), description=label, style=style, layout=layout, disabled=True
        )

    def _show_thresholds(self) -> None:
        code = self.edit.value
        self._threshold_box.children = [wd for (c, _), wd in self.thresholds.items() if c == code]

    def _picker_options(self) -> list[str]:
        from .incidence import status_codes

        ids = self._base.table["patient_id"].astype(str)
        order = np.argsort(status_codes(self._base.table, self._base.primary) != 0, kind="stable")
        return ids.to_numpy()[order][:PICKER_MAX_OPTIONS].tolist()

    # ------------------------------------------------------------------ state
    def parameters(self) -> Parameters:
        """The :class:`Parameters` set by the window sliders."""
        win = {f: int(s.value) for f, s in self.windows.items()}
        p = self._base.params
        from dataclasses import replace

        return replace(p, windows=Windows(**{**p.windows.__dict__, **win}))

    def chosen_definitions(self) -> list[Definition]:
        """The picked definitions with the thresholds of the sliders."""
        out = []
        for code in self.definition_picker.value:
            d = self._defs[code]
            vals = {
                name: wd.value
                for (c, name), wd in self.thresholds.items()
                if c == code and not getattr(wd, "disabled", False)
            }
            vals = {
                k: (float(v) if isinstance(d.parameters[k], float) else v)
                for k, v in vals.items()
                if v != d.parameters[k]
            }
            out.append(d.with_parameters(**vals) if vals else d)
        return out

    def features(self, params: Parameters) -> pd.DataFrame:
        """:func:`build_features` of the cohort under ``params``, computed once per setting."""
        if params not in self._features:
            from .classification import build_features

            self._features[params] = build_features(self.cohort, params)
        return self._features[params]

    def _on_change(self, _change: Any) -> None:
        self.update()

    def _verdicts(self, params: Parameters, defs: list[Definition]) -> dict[str, Any]:
        """``hpd_<code>``, ``_reason``, ``_status`` arrays of every definition, evaluated only for
        a (window setting, definition, thresholds) not seen before."""
        from .definitions import verdict_columns

        def key(d: Definition) -> tuple:
            return (params, d.code, tuple(sorted((k, repr(v)) for k, v in d.parameters.items())))

        todo = [d for d in defs if key(d) not in self._verdict_cache]
        if todo:
            cols = verdict_columns(self.features(params), todo)
            for d in todo:
                col = f"hpd_{d.code}"
                self._verdict_cache[key(d)] = {
                    c: cols[c] for c in (col, f"{col}_reason", f"{col}_status")
                }
            while len(self._verdict_cache) > VERDICT_CACHE_SIZE:
                self._verdict_cache.pop(next(iter(self._verdict_cache)))
        out: dict[str, Any] = {}
        for d in defs:
            out.update(self._verdict_cache[key(d)])
        return out

    def update(self) -> float:
        """Recompute the verdicts and redraw every output; returns the seconds it took.

        Only what changed is recomputed: the features once per window setting, the verdicts of a
        definition once per threshold setting, and each output only when the verdicts it shows
        changed. The summaries read a slim table (patient id, ``hpd_<code>`` flags, endpoints);
        :attr:`result` (the full :class:`~hpd_analysis.results.Classification`) is built when
        asked for."""
        from .incidence import status_codes

        t0, c0 = time.perf_counter(), time.process_time()
        defs = self.chosen_definitions()
        if not defs:
            self.status.value = "<b>pick at least one definition</b>"
            return 0.0
        codes = [d.code for d in defs]
        primary = (
            self.primary_definition.value if self.primary_definition.value in codes else codes[0]
        )
        params = self.parameters()
        feats = self.features(params)
        verdicts = self._verdicts(params, defs)
        self._state = (params, defs, primary, verdicts)
        self._result = None
        slim = {c: feats[c] for c in SUMMARY_COLUMNS if c in feats.columns}
        slim.update({f"hpd_{c}": verdicts[f"hpd_{c}"] for c in codes})
        self.summary_table = pd.DataFrame(slim)
        self.codes = codes
        self._digests = {
            c: hashlib.blake2b(
                status_codes(self.summary_table, c).tobytes(), digest_size=16
            ).digest()
            for c in codes
        }
        self._draw_incidence()
        self._draw_agreement()
        self._draw_upset()
        self._draw_km(primary)
        self.last_update_seconds = time.perf_counter() - t0
        self.last_update_cpu_seconds = time.process_time() - c0
        from .results import changed_parameters

        changed = changed_parameters(params, defs)
        self.status.value = (
            f"{len(feats)} patients · {len(codes)} definition(s) · KM by HPD under {primary} · "
            + (html.escape("changed: " + ", ".join(changed)) if changed else "published parameters")
            + f" · updated in {1000 * self.last_update_seconds:.0f} ms"
        )
        return self.last_update_seconds

    @property
    def result(self) -> Classification:
        """The :class:`~hpd_analysis.results.Classification` shown (built on first access after
        a change, from the cached features and verdicts: the table :func:`classify` gives)."""
        if self._result is None:
            from .classification import classify_features
            from .results import Classification

            params, defs, primary, verdicts = self._state
            if params not in self._base_tables:
                self._base_tables[params] = classify_features(self.features(params), [])
            base = self._base_tables[params]
            table = pd.concat([base, pd.DataFrame(verdicts, index=base.index)], axis=1)
            self._result = Classification(
                cohort=self.cohort,
                params=params,
                definition_list=defs,
                features=self.features(params),
                table=table,
                settings={**self._base.settings, "primary_definition": primary},
            )
        return self._result

    # ------------------------------------------------------------------ outputs
    def incidence_table(self) -> pd.DataFrame:
        """The incidence shown: overall, and by the grouping column when one is chosen."""
        from .incidence import incidence

        by = None if self.stratify_by.value == NO_GROUP else self.stratify_by.value
        data = self.summary_table
        if by is not None:
            data = data.assign(**{by: self._patients[by].to_numpy()})
        return incidence(
            data, self.codes, by=by, method=self._base.settings.get("ci_method") or "wilson"
        )

    def _draw_incidence(self) -> None:
        inc = self.incidence_table()
        # strata without any patient (e.g. "<column>=missing" when none is missing) are not shown
        shown = inc.loc[
            inc["n_total"] > 0,
            ["definition", "stratum", "n_hpd", "n_evaluable", "percent", "ci_low", "ci_high"],
        ]
        self.incidence_html.value = (
            shown.to_html(index=False, float_format=lambda v: f"{v:.1f}", na_rep="–")
            + f"<small>% of evaluable patients, {html.escape(str(inc['ci_method'].iloc[0]))} "
            "CI</small>"
        )

    def agreement_table(self) -> pd.DataFrame:
        """Jaccard index (upper triangle) and Cohen's kappa (lower triangle) of every pair."""
        from .agreement import agreement, agreement_matrix

        codes = self.codes
        if len(codes) < 2:
            return pd.DataFrame()
        pieces = []
        for a, b in combinations(codes, 2):
            key = (a, b, self._digests[a], self._digests[b])
            if key not in self._pairs:
                self._pairs[key] = agreement(self.summary_table, [a, b])
            pieces.append(self._pairs[key])
        if len(self._pairs) > PAIR_CACHE_SIZE:
            self._pairs.clear()
        agr = pd.concat(pieces, ignore_index=True)
        jac = agreement_matrix(agr, "jaccard")
        kap = agreement_matrix(agr, "kappa")
        upper = np.triu(np.ones(jac.shape, dtype=bool), 1)
        return jac.where(upper | np.eye(len(jac), dtype=bool), kap)

    def _verdict_key(self, codes: Iterable[str]) -> tuple:
        """What an output depends on: the verdicts of ``codes`` (a digest of their status codes);
        an output whose key did not change is not recomputed (a move that flips no verdict)."""
        return tuple((c, self._digests[c]) for c in codes)

    def _memo(self, name: str, key: Any) -> bool:
        """True when output ``name`` was last drawn for ``key`` (else remember ``key``)."""
        if self._drawn.get(name) == key:
            return True
        self._drawn[name] = key
        return False

    def _draw_agreement(self) -> None:
        if self._memo("agreement", self._verdict_key(self.codes)):
            return
        m = self.agreement_table()
        self.agreement_html.value = (
            "pick two definitions or more"
            if m.empty
            else m.to_html(float_format=lambda v: f"{v:.2f}", na_rep="n/a")
            + "<small>upper triangle: Jaccard index of the HPD sets; lower: Cohen's kappa "
            "(patients evaluable under both)</small>"
        )

    def upset_table(self) -> pd.DataFrame:
        """Patients per combination of HPD flags (evaluable under every picked definition)."""
        from .agreement import upset_data

        ups = upset_data(self.summary_table, self.codes)
        flags = ups.index.to_frame(index=False)
        combo = flags.apply(
            lambda r: " + ".join(c for c in flags.columns if r[c]) or "none", axis=1
        )
        out = pd.DataFrame({"HPD under": combo.to_numpy(), "n": ups.to_numpy()})
        out.attrs.update(ups.attrs)
        return out

    def _draw_upset(self) -> None:
        if self._memo("upset", self._verdict_key(self.codes)):
            return
        t = self.upset_table()
        self.upset_html.value = (
            t.to_html(index=False)
            + f"<small>{t.attrs.get('n_evaluable_all', 0)} patients evaluable under every "
            f"picked definition; {t.attrs.get('n_excluded', 0)} left out</small>"
        )

    def _draw_km(self, primary: str) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from .plots import km_plot, use_style
        from .results import km_labels
        from .survival import fit_km, survival_data

        ep = self.endpoint.value
        params, defs, _, verdicts = self._state
        defn = next(d for d in defs if d.code == primary)
        key = (ep, self._verdict_key([primary]), params, repr(sorted(defn.parameters.items())))
        if self._memo("km", key):
            return
        if ep == "(none)":
            self.km_image.value = b""
            return
        # as the report's survival section: the day each verdict became known is read from the
        # features the primary definition uses (its rule, with the thresholds in force)
        col = f"hpd_{primary}"
        table = pd.concat(
            [self.features(params), pd.DataFrame({col: verdicts[col]})], axis=1, copy=False
        )
        options: dict[str, Any] = {"definitions": [defn], "days_per_month": params.days_per_month}
        statistics = getattr(params, "statistics", None)
        if statistics is not None:
            options["lookahead"] = statistics.landmark_lookahead
        data, info = survival_data(
            table,
            ep,
            primary,
            landmark=self._base.settings.get("landmark", "first_evaluation"),
            **options,
        )
        fitters = fit_km(data, levels=info.levels)
        # one figure, cleared and redrawn (no pyplot figure manager): the report's km_plot
        if self._km_figure is None:
            self._km_figure = Figure(figsize=(6.0, 4.0))
            FigureCanvasAgg(self._km_figure)
        fig = self._km_figure
        fig.clear()
        with use_style():
            ax = fig.add_subplot()
            fig.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.13)
            labels = km_labels(ep, info, f"HPD status ({primary})")
            km_plot(
                fitters,
                ax=ax,
                at_risk=False,
                xlabel=labels.xlabel,
                ylabel=labels.ylabel,
                title=labels.title,
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=72)
        self.km_image.value = buf.getvalue()
        self.km_info = info

    def show_patient(self, patient_id: str | None = None) -> None:
        """Show :meth:`Classification.explain` of ``patient_id`` (default: the picker's value)."""
        pid = str(patient_id if patient_id is not None else self.patient.value).strip()
        if not pid:
            self.explain_html.value = ""
            return
        try:
            ex = self.result.explain(pid)
        except ParameterError as exc:
            self.explain_html.value = f"<i>{html.escape(str(exc))}</i>"
            return
        self.explain_html.value = ex._repr_html_()
        self.outputs.selected_index = 4

    def snapshot_html(self) -> str:
        """A static HTML page of the explorer as it stands (controls with their values, and every
        output), readable without a kernel or a widget manager; shareable, and what
        ``docs/img/explorer.png`` is rendered from (headless Chromium ``--screenshot``)."""
        import base64

        def control(label: str, value: Any, widget: Any = None) -> str:
            bar = ""
            if widget is not None and hasattr(widget, "max") and widget.max != widget.min:
                pct = (
                    100.0
                    * (float(widget.value) - float(widget.min))
                    / (float(widget.max) - float(widget.min))
                )
                bar = f"<div class='track'><div class='fill' style='width:{pct:.0f}%'></div></div>"
            return (
                f"<div class='ctl'><span class='lab'>{html.escape(label)}</span>{bar}"
                f"<span class='val'>{html.escape(str(value))}</span></div>"
            )

        code = self.edit.value
        controls = [
            control("definitions", ", ".join(self.definition_picker.value)),
            control("KM by HPD under", self.primary_definition.value),
            control("thresholds of", code),
        ]
        controls += [
            control(name, wd.value, wd) for (c, name), wd in self.thresholds.items() if c == code
        ]
        controls += [control(WINDOW_SLIDERS[f][0], wd.value, wd) for f, wd in self.windows.items()]
        controls += [
            control("incidence by", self.stratify_by.value),
            control("endpoint", self.endpoint.value),
            control("explain patient", self.patient.value or "—"),
        ]
        km = (
            f"<img src='data:image/png;base64,{base64.b64encode(self.km_image.value).decode()}'"
            " style='max-width:100%'/>"
            if self.km_image.value
            else ""
        )
        panels = [
            ("Incidence of HPD", self.incidence_html.value),
            ("Agreement", self.agreement_html.value),
            ("UpSet counts", self.upset_html.value),
            ("Kaplan–Meier", km),
        ]
        if self.explain_html.value:
            panels.append(("Patient", self.explain_html.value))
        body = "".join(
            f"<section{' class=wide' if t == 'Patient' else ''}><h3>{t}</h3>{v}</section>"
            for t, v in panels
        )
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>HPD explorer</title><style>"
            "body{font-family:sans-serif;font-size:12px;margin:12px;color:#222}"
            ".status{background:#eef3f8;padding:6px 10px;margin-bottom:10px;border-radius:4px}"
            ".wrap{display:flex;gap:14px}.controls{width:300px;flex:none}"
            ".ctl{display:flex;align-items:center;gap:6px;margin:5px 0}"
            ".lab{width:150px;color:#555}.val{font-weight:bold}"
            ".track{width:70px;height:4px;background:#ddd;border-radius:2px}"
            ".fill{height:4px;background:#0072B2;border-radius:2px}"
            ".grid{display:grid;grid-template-columns:1fr 1fr;gap:10px;flex:1}"
            "section{border:1px solid #ddd;border-radius:4px;padding:6px;overflow:hidden}"
            "section.wide{grid-column:1/-1}section.wide td{text-align:left}"
            "h3{margin:0 0 6px 0;font-size:13px}table{border-collapse:collapse;font-size:11px}"
            "td,th{border:1px solid #ccc;padding:1px 4px;text-align:right}"
            "</style></head><body>"
            f"<div class='status'>{self.status.value}</div><div class='wrap'>"
            f"<div class='controls'>{''.join(controls)}</div><div class='grid'>{body}</div>"
            "</div></body></html>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explore(
    cohort: Cohort | str | Path,
    definitions: str | Iterable[str | Definition] | None = None,
    **parameters: Any,
) -> Explorer:
    """Open the live explorer on ``cohort`` (a Cohort or a cohort path) in a notebook.

    ``definitions`` and ``**parameters`` as :func:`hpd_analysis.classify` (the starting values of
    the sliders; ``stratify_by``, default ``tumor_type``, is the starting column of incidence by
    stratum), plus ``endpoint`` (``os``). Returns the :class:`Explorer`; its last expression
    value displays it. The result
    shown is ``explorer.result`` (a :class:`~hpd_analysis.results.Classification`).

    Examples
    --------
    >>> import hpd_analysis as hpd
    >>> ex = hpd.explore(hpd.datasets.load_example())
    >>> ex.thresholds[("ferrara2018", "delta_tgr_min")].value = 100.0   # as a user would
    >>> ex.result.n_hpd()["ferrara2018"] == hpd.classify(
    ...     hpd.datasets.load_example(), ferrara2018__delta_tgr_min=100.0).n_hpd()["ferrara2018"]
    True
    """
    return Explorer(cohort, definitions, **parameters)
