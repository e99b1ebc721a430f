"""The Bokeh document of ``eosdyn explore``: the orbit diagram on the left, the clicked run on the
right. All numbers come from :mod:`eosdyn.explore.model` and :mod:`eosdyn.explore.orbits`; this
module only lays them out and wires the callbacks.

Elements a test (or a user's script) can find: the plots have the Bokeh ``name`` s ``orbit``,
``eta_sharpness``, ``loss``, ``a_norm2``, ``portrait``, their renderers ``orbit-points`` and
``<series>-line``; the inputs ``eta``, ``m``, ``init_scale``, ``steps``, ``data``, ``engine``,
``portrait_var``, ``portrait_window``, the buttons ``run``, ``save``;
inside the page, ``#status`` (with ``data-level``: ``ok``, ``busy``, ``warning``, ``error``),
``#diagram-status``, ``#saved-path`` and the summary cells ``#summary-<key>``
(:data:`eosdyn.explore.model.SUMMARY`).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bokeh.document import Document
from bokeh.events import Tap
from bokeh.layouts import column, row
from bokeh.models import Button, ColumnDataSource, Div, NumeralTickFormatter, Range1d, Select, Span, TextInput
from bokeh.plotting import figure

from ..engines import METHODS
from ..errors import EosdynError
from ..model.params import Params
from ..plot.common import PHASE_COLOURS, PHASE_NAMES
from . import model as M
from .orbits import OrbitDiagram, diverged_bands, orbit_points

COLOURS = {"ok": "#1b5e20", "busy": "#555555", "warning": "#b35900", "error": "#b00020"}
OBS_LABELS = {"eta_sharpness": "ηΛ", "loss": "loss", "a_norm2": "‖A‖²", "Dv1": "Dᵀv₁"}
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
LEFT_W, SERIES_W, RIGHT_W = 440, 560, 400  # the page fits 1440 px


@dataclass
class Context:
    """What every page of one server shares: the diagram, the scenario clicked runs start from,
    where runs are saved, and the thread that runs them."""

    diagram: OrbitDiagram
    base: Params
    save_dir: Path
    runner: M.Runner


def status_html(level: str, text: str, ident: str = "status") -> str:
    """One status line; ``data-level`` says which kind."""
    return (f'<div id="{ident}" data-level="{level}" style="color:{COLOURS[level]};font-size:13px;'
            f'max-width:430px">{html.escape(text)}</div>')


def legend_html() -> str:
    boxes = "".join(f'<span style="background:{PHASE_COLOURS[k]};padding:1px 6px;margin-right:6px">'
                    f"{html.escape(PHASE_NAMES[k])}</span>" for k in (1, 2, 3, 4, 5))
    return f'<div style="font-size:12px">phases: {boxes}</div>'


def _series_figure(name, title, x_range=None, **kw):
    if x_range is not None:
        kw["x_range"] = x_range
    p = figure(name=name, title=title, width=SERIES_W, height=205, tools=TOOLS, toolbar_location="right", **kw)
    p.title.text_font_size = "12px"
    return p


class Explorer:
    """One browser page."""

    def __init__(self, doc: Document, ctx: Context):
        self.doc, self.ctx = doc, ctx
        self.job: M.Job | None = None
        self.view: dict | None = None
        self.diagram_shown = False
        self._orbit_panel()
        self._run_panels()
        self._controls()
        doc.title = "eosdyn explore"
        doc.add_root(row(
            column(self.header, self.orbit, self.diagram_status, self.inputs, self.status,
                   self.summary, self.saved),
            column(legend_html_div(), self.figs["eta_sharpness"], self.figs["loss"], self.figs["a_norm2"]),
            column(row(self.portrait_var, self.portrait_window), self.portrait),
        ))
        doc.add_periodic_callback(self._poll, 250)
        self._poll()
        self.request_run()

    # --- layout -------------------------------------------------------------------------------

    def _orbit_panel(self):
        ctx = self.ctx
        lo, hi = ctx.diagram.eta_range
        self.header = Div(text='<b style="font-size:15px">eosdyn explore</b> '
                          '<span style="font-size:12px;color:#555">click a value of η on the orbit '
                          "diagram to run it</span>", width=LEFT_W)
        self.orbit = figure(name="orbit", x_axis_type="log", x_range=Range1d(lo / 1.06, hi * 1.06),
                            width=LEFT_W, height=400, tools=TOOLS, toolbar_location="right",
                            title="orbit diagram over η")
        self.orbit.title.text_font_size = "12px"
        self.orbit.xaxis.axis_label = "learning rate η"
        self.orbit.yaxis.axis_label = "late orbit of ηΛ"
        self.points = ColumnDataSource({"x": [], "y": []})
        self.bad = ColumnDataSource({"left": [], "right": []})
        self.orbit.vstrip(x0="left", x1="right", source=self.bad, fill_color="#f4b6b6", fill_alpha=0.6,
                          line_alpha=0, level="underlay", legend_label="diverged")
        dots = self.orbit.scatter("x", "y", source=self.points, size=2, color="black", alpha=0.5,
                                  name="orbit-points")
        self.orbit.y_range.renderers = [dots]
        self.orbit.add_layout(Span(location=2.0, dimension="width", line_color="#d62728",
                                   line_dash="dashed", line_width=1))
        self.marker = Span(location=ctx.base.eta, dimension="height", line_color="#1f77b4", line_width=2)
        self.orbit.add_layout(self.marker)
        self.orbit.legend.location = "bottom_right"
        self.orbit.legend.label_text_font_size = "11px"
        self.orbit.on_event(Tap, self._on_tap)
        self.diagram_status = Div(text=status_html("busy", "", "diagram-status"), width=LEFT_W)

    def _run_panels(self):
        e = self.figs = {}
        e["eta_sharpness"] = _series_figure("eta_sharpness", "ηΛ (sharpness × η); EoS at ηΛ = 2")
        shared = e["eta_sharpness"].x_range
        e["loss"] = _series_figure("loss", "loss", x_range=shared, y_axis_type="log")
        e["a_norm2"] = _series_figure("a_norm2", "‖A‖²", x_range=shared)
        e["a_norm2"].xaxis.axis_label = "step"
        for p in e.values():
            p.xaxis.formatter = NumeralTickFormatter(format="0,0")
        self.bands = ColumnDataSource({"left": [], "right": [], "color": []})
        self.lines = {}
        for key, colour in (("eta_sharpness", "steelblue"), ("loss", "firebrick"), ("a_norm2", "darkgreen")):
            p = e[key]
            p.vstrip(x0="left", x1="right", fill_color="color", source=self.bands, line_alpha=0,
                     level="underlay")
            self.lines[key] = ColumnDataSource({"x": [], "y": []})
            line = p.line("x", "y", source=self.lines[key], color=colour, line_width=1.2, name=f"{key}-line")
            p.y_range.renderers = [line]
        e["eta_sharpness"].add_layout(Span(location=2.0, dimension="width", line_color="#d62728",
                                           line_dash="dashed", line_width=1))
        self.portrait = figure(name="portrait", width=RIGHT_W, height=RIGHT_W, tools=TOOLS, title="phase portrait")
        self.portrait.title.text_font_size = "12px"
        self.segments = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": [], "color": []})
        seg = self.portrait.segment("x0", "y0", "x1", "y1", color="color", source=self.segments, line_width=1.2)
        self.ends = ColumnDataSource({"x": [], "y": [], "marker": []})
        self.portrait.scatter("x", "y", marker="marker", source=self.ends, size=8, color="black")
        self.two_over_eta = Span(location=2 / self.ctx.base.eta, dimension="width", line_color="#d62728",
                                 line_dash="dashed", line_width=1)
        self.portrait.add_layout(self.two_over_eta)
        self.portrait.yaxis.axis_label = "sharpness Λ"
        self.portrait.x_range.renderers = self.portrait.y_range.renderers = [seg]

    def _controls(self):
        b = self.ctx.base
        presets = list(M.PRESETS) + ([] if M.preset_of(b) in M.PRESETS else [M.preset_of(b)])

        def text(name, title, value):
            w = TextInput(name=name, title=title, value=value, width=100)
            w.on_change("value", lambda attr, old, new: self.request_run())
            return w

        self.controls = {
            "eta": text("eta", "η", f"{b.eta:g}"), "m": text("m", "m", str(b.m)),
            "init_scale": text("init_scale", "init scale", f"{b.init_scale:g}"),
            "steps": text("steps", "steps", str(b.steps)),
        }
        for name, title, options, value in (("data", "data", presets, M.preset_of(b)),
                                            ("engine", "engine", list(METHODS), b.engine)):
            w = Select(name=name, title=title, options=options, value=value, width=100)
            w.on_change("value", lambda attr, old, new: self.request_run())
            self.controls[name] = w
        self.run_button = Button(name="run", label="Run", button_type="primary", width=100)
        self.run_button.on_click(self.request_run)
        self.save_button = Button(name="save", label="Save run", width=100)
        self.save_button.on_click(self.save)
        c = self.controls
        self.inputs = column(row(c["eta"], c["m"], c["init_scale"], c["steps"]),
                             row(c["data"], c["engine"], self.run_button, self.save_button))
        self.status = Div(text=status_html("busy", "starting"), width=LEFT_W)
        self.summary = Div(text="", width=LEFT_W)
        self.saved = Div(text="", width=LEFT_W)
        self.portrait_var = Select(name="portrait_var", title="portrait", width=150, value="a_norm2",
                                   options=[(k, f"({v}, Λ)") for k, v in M.PORTRAITS.items()])
        self.portrait_var.on_change("value", lambda attr, old, new: self._draw_portrait())
        self.portrait_window = Select(name="portrait_window", title="steps", width=230, value="eos",
                                      options=list(M.WINDOWS.items()))
        self.portrait_window.on_change("value", lambda attr, old, new: self._draw_portrait())

    # --- callbacks ----------------------------------------------------------------------------

    def _on_tap(self, event):
        if event.x is None or not event.x > 0:
            return
        eta = M.snap(event.x)
        if self.controls["eta"].value == f"{eta:g}":
            self.request_run()
        else:
            self.controls["eta"].value = f"{eta:g}"  # its on_change requests the run

    def request_run(self):
        c = self.controls
        try:
            params = M.params_from_controls(
                self.ctx.base, c["eta"].value, c["m"].value, c["init_scale"].value, c["steps"].value,
                c["data"].value, c["engine"].value)
        except EosdynError as exc:
            if self.job is not None:  # the controls no longer describe the run in flight
                self.job.cancelled, self.job = True, None
            self._set_status("error", str(exc))
            return
        if self.job is not None:
            self.job.cancelled = True
        self.job = M.Job(params)
        self.marker.location = params.eta
        self._set_status("busy", self._running_text())
        self.ctx.runner.submit(self.job, self._done)

    def _done(self, job, view, error):  # on the runner's thread
        try:
            self.doc.add_next_tick_callback(partial(self._show, job, view, error))
        except Exception:  # noqa: BLE001  (the page was closed)
            pass

    def _show(self, job, view, error):
        if job is not self.job:
            return
        self.job = None
        if error is not None:
            self._set_status("error", error)
            return
        self.view = view
        for key, (x, y) in view["series"].items():
            self.lines[key].data = {"x": x, "y": y}
        bands = view["bands"]
        self.bands.data = {"left": bands["left"], "right": bands["right"], "color": bands["color"]}
        self._draw_portrait()
        self.summary.text = M.summary_html(view["summary"])
        self._set_status(*M.run_message(view["summary"]))

    def _draw_portrait(self):
        if self.view is None:
            return
        var, window = self.portrait_var.value, self.portrait_window.value
        pt = self.view["portrait"][var, window]
        self.segments.data = {k: pt[k] for k in ("x0", "y0", "x1", "y1", "color")}
        (x, y) = pt["ends"]
        self.ends.data = {"x": x, "y": y, "marker": ["circle", "square"][: len(x)]}
        eta = self.view["summary"]["eta"]
        self.two_over_eta.location = 2 / eta
        every = "" if pt["every"] == 1 else f" (1 in {pt['every']})"
        cross = self.view["summary"]["first_cross_step"]
        since = f" from {cross:,}" if window == "eos" and cross else ""
        self.portrait.title.text = f"({M.PORTRAITS[var]}, Λ) at η = {eta:g}: even steps{since}{every}"
        self.portrait.xaxis.axis_label = M.PORTRAITS[var]

    def save(self):
        if self.view is None:
            self._set_status("error", "no run to save yet")
            return
        try:
            path = M.save_run(self.view["ds"], self.ctx.save_dir)
        except (EosdynError, OSError) as exc:
            self._set_status("error", f"could not save: {exc}")
            return
        self.saved.text = (f'<div style="font-size:13px">saved <code id="saved-path">{html.escape(str(path))}'
                           "</code></div>")

    def _running_text(self) -> str:
        p = self.job.params
        return f"running η = {p.eta:g}, m = {p.m}, {p.steps:,} steps, {p.engine} … {self.job.progress:.0%}"

    def _set_status(self, level, text):
        self.status.text = status_html(level, text)

    def _poll(self):
        if self.job is not None and not self.job.cancelled:
            self._set_status("busy", self._running_text())
        if self.diagram_shown:
            return
        done, total, ds, error = self.ctx.diagram.state()
        if error is not None:
            self.diagram_status.text = status_html("error", f"orbit diagram failed: {error}", "diagram-status")
            self.diagram_shown = True
            return
        if ds is None:
            elapsed = time.perf_counter() - self.ctx.diagram.started
            self.diagram_status.text = status_html(
                "busy", f"computing the orbit diagram: {done}/{total} values of η ({elapsed:.0f} s)",
                "diagram-status")
            return
        x, y = orbit_points(ds)
        self.points.data = {"x": x, "y": y}
        left, right = diverged_bands(ds)
        self.bad.data = {"left": left, "right": right}
        a = ds.attrs
        self.orbit.yaxis.axis_label = f"late orbit of {OBS_LABELS.get(a['observable'], a['observable'])}"
        self.orbit.title.text = (f"orbit diagram over η: last {a['keep']} of {a['steps']:,} steps, "
                                 f"{ds.sizes['eta']} values")
        self.diagram_status.text = status_html(
            "ok", f"orbit diagram ready: {ds.sizes['eta']} values of η, {a['wall_time']:.1f} s of compute",
            "diagram-status")
        self.diagram_shown = True


def legend_html_div() -> Div:
    return Div(text=legend_html(), width=SERIES_W)


def make_document(doc: Document, ctx: Context) -> None:
    """Bokeh application handler: build one page."""
    Explorer(doc, ctx)
