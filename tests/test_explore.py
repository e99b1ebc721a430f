"""eosdyn explore without a browser: the pure functions behind the page, the document's callbacks,
and the command's errors. The page in a real browser: tests/test_explore_browser.py."""

import html
import html.parser
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import eosdyn
from eosdyn.analysis.bifurcation import bifurcation
from eosdyn.cli import main
from eosdyn.errors import EosdynError, ParameterError
from eosdyn.explore import model as M
from eosdyn.explore import orbits as O
from eosdyn.model.params import make_params
from eosdyn.plot.common import PHASE_COLOURS, PHASE_LINES

#: run attrs that measure time, not results
TIMING = ("wall_time", "compile_time", "run_time")

BASE = make_params()


# --- controls -------------------------------------------------------------------------------


def test_number_parses_like_a_user_types():
    assert M.number(" 0.01 ") == 0.01
    assert M.number("1e5", integer=True) == 100000 and isinstance(M.number("1e5", True), int)
    assert M.number("2.5", integer=True) == 2.5
    assert M.number("abc") == "abc"


@pytest.mark.parametrize("field, text, value", [
    ("eta", "-1", -1.0), ("eta", "0", 0.0), ("steps", "0", 0), ("m", "0", 0), ("m", "2.5", 2.5),
    ("init_scale", "-0.1", -0.1), ("eta", "abc", "abc"), ("steps", "", ""),
])
def test_bad_controls_give_eosdyn_message(field, text, value):
    controls = {"eta": "0.01", "m": "64", "init_scale": "0.01", "steps": "1000", field: text}
    with pytest.raises(ParameterError) as got:
        M.params_from_controls(BASE, **controls)
    with pytest.raises(ParameterError) as want:  # the message eosdyn gives for the same value
        make_params(**{field: value})
    assert str(got.value) == str(want.value)
    assert "\n" not in str(got.value) and field in str(got.value)


def test_controls_override_base():
    p = M.params_from_controls(BASE.replace(seed=3), "0.02", "256", "0.1", "1e4", "digits", "first-order")
    assert (p.eta, p.m, p.init_scale, p.steps, p.data, p.engine, p.seed) == \
        (0.02, 256, 0.1, 10000, "digits", "first-order", 3)
    assert M.params_from_controls(BASE, "0.01", "4096", "0.01", "100000").data is None
    assert M.preset_of(p) == "digits" and M.preset_of(BASE) == "synthetic"


def test_snap():
    assert M.snap(0.0123456) == 0.01235
    assert M.snap(123456.0) == 123500.0


# --- live runs --------------------------------------------------------------------------------


def test_live_run_is_simulate():
    params = make_params(eta=0.03, m=512, steps=3000)
    job = M.Job(params)
    ds = M.run_live(job)
    ref = eosdyn.simulate(params)
    assert job.progress == 1.0
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
    keys = set(ds.attrs) - set(TIMING)
    assert keys == set(ref.attrs) - set(TIMING)
    for k in keys:
        assert np.array_equal(np.asarray(ds.attrs[k]), np.asarray(ref.attrs[k])), k


def test_cancelled_job_stops():
    job = M.Job(make_params(steps=100_000), cancelled=True)
    with pytest.raises(M.Cancelled):
        M.run_live(job)
    assert job.progress == 0.0


def test_runner_reports_results_and_errors(tmp_path):
    import queue

    out = queue.Queue()
    runner = M.Runner()
    bad = M.Job(make_params(steps=10, data=str(tmp_path / "missing.npz")))
    skipped = M.Job(make_params(steps=10), cancelled=True)
    good = M.Job(make_params(steps=200, m=64))
    for job in (bad, skipped, good):
        runner.submit(job, lambda j, view, err: out.put((j, view, err)))
    j1, view1, err1 = out.get(timeout=60)
    j2, view2, err2 = out.get(timeout=60)
    assert j1 is bad and view1 is None and "missing.npz" in err1 and "\n" not in err1
    assert j2 is good and err2 is None and view2["summary"]["steps"] == 200
    assert out.empty()


# --- what the page draws ----------------------------------------------------------------------


def _bands_reference(steps, phase, bins, weights=None):
    """Group majority phase (smallest on ties) by an explicit loop, then merge equal neighbours;
    with ``weights`` (rows x 6 step counts per phase code), the majority of the groups' steps."""
    n = len(phase)
    if n > bins:
        edges = [int(v) for v in np.linspace(0, n, bins + 1)]
        groups = [(edges[g], edges[g + 1]) for g in range(bins)]
    else:
        groups = [(i, i + 1) for i in range(n)]
    items = []
    for a, b in groups:
        if weights is None:
            counts = [int(np.sum(phase[a:b] == k)) for k in range(6)]
        else:
            counts = [sum(float(weights[i][k]) for i in range(a, b)) for k in range(6)]
        right = steps[b] if b < n else steps[-1] + 1
        items.append([steps[a], right, counts.index(max(counts))])
    merged = []
    for item in items:
        if merged and merged[-1][2] == item[2]:
            merged[-1][1] = item[1]
        else:
            merged.append(item)
    return [tuple(x) for x in merged if x[2] > 0]


@pytest.mark.parametrize("n, bins, seed", [(50, 100, 0), (1000, 37, 1), (5000, 800, 2), (7, 3, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_phase_bands_match_reference(n, bins, seed, weighted):
    rng = np.random.default_rng(seed)
    steps = np.sort(rng.choice(10 * n, size=n, replace=False))
    phase = np.repeat(rng.integers(0, 6, size=n // 3 + 1), 3)[:n]  # runs, and some alternation
    weights = rng.integers(0, 4, size=(n, 6)).astype(float) if weighted else None
    got = M.phase_bands(steps, phase, bins, weights)
    triples = list(zip(got["left"], got["right"], got["phase"], strict=True))
    assert [tuple(int(v) for v in t) for t in triples] == _bands_reference(steps, phase, bins, weights)
    assert got["color"] == [PHASE_COLOURS[int(k)] for k in got["phase"]]
    assert len(triples) <= bins


def test_run_bands_shade_what_the_windows_held():
    """Strided runs are shaded by what each row's window held (counted here from a stride-1 run),
    not by the recorded step's own phase, which aliases a period-2 flip; a lazy run's flat
    sharpness is shaded stationary, not sharpening."""
    every = eosdyn.simulate(eta=0.05, steps=4000, record_every=1)
    phase1 = every["phase"].values
    for stride in (2, 4):
        ds = eosdyn.simulate(eta=0.05, steps=4000, record_every=stride)
        steps = ds["step"].values
        # each row's window (previous recorded step, this step], counted from the stride-1 run
        weights = [[int(np.sum(phase1[(steps[i - 1] + 1 if i else 0):s + 1] == k)) for k in range(6)]
                   for i, s in enumerate(steps)]
        want = _bands_reference(steps, ds["phase"].values, M.PHASE_BINS, weights)
        assert want != _bands_reference(steps, ds["phase"].values, M.PHASE_BINS)   # windows matter here
        got = M.run_bands(ds)
        assert [tuple(int(v) for v in t) for t in zip(got["left"], got["right"], got["phase"], strict=True)] == want
    lazy = eosdyn.simulate(eosdyn.load_scenario("scenarios/lazy-wide.toml"), steps=2000)
    assert set(M.run_bands(lazy)["phase"]) <= {5} and 5 in set(lazy["phase"].values)


@pytest.mark.parametrize("size, columns, seed", [(10_000, 300, 0), (4001, 2000, 1), (100, 20, 2), (50, 30, 3)])
def test_decimate_matches_plotting_twin(size, columns, seed):
    from eosdyn.plot.common import decimate as reference

    rng = np.random.default_rng(seed)
    x = np.arange(size) * 3
    y = rng.standard_normal(size).round(1)  # ties: the first extreme of a group is kept
    y[rng.random(size) < 0.2] = np.nan
    y[:size // 7] = np.nan  # whole groups of NaN
    y[size // 2] = np.inf
    got, want = M.decimate(x, y, columns), reference(x, y, columns)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.fixture(scope="module")
def eos_run():
    return eosdyn.simulate(steps=40_000)


def test_series_keep_extremes(eos_run):
    ser = M.series(eos_run, columns=300)
    for key in M.SERIES:
        x, y = ser[key]
        full = eos_run[key].values
        assert x.size <= 600 and np.all(np.diff(x) > 0)
        assert np.nanmax(y) == np.max(full) and np.nanmin(y) == np.min(full)
        np.testing.assert_array_equal(y, full[np.searchsorted(eos_run["step"].values, x)])


def test_portrait_even_steps_and_colours(eos_run):
    start = 31_000
    pt = M.portrait(eos_run, "Dv1", start=start, max_points=1000)
    steps = eos_run["step"].values
    sel = np.flatnonzero((steps % 2 == 0) & (steps >= start))[:: pt["every"]]
    assert pt["every"] == -(-np.sum((steps % 2 == 0) & (steps >= start)) // 1000)
    np.testing.assert_array_equal(pt["x0"], eos_run["Dv1"].values[sel][:-1])
    np.testing.assert_array_equal(pt["y1"], eos_run["sharpness"].values[sel][1:])
    assert pt["color"] == [PHASE_LINES[int(k)] for k in eos_run["phase"].values[sel][:-1]]


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id", "").startswith("summary-"):
            self.cells[a["id"][8:]] = a["data-value"]


def test_summary_html_reads_back_exactly(eos_run):
    s = eosdyn.summarize(eos_run)
    parser = _Cells()
    parser.feed(M.summary_html(s))
    assert set(parser.cells) == {k for k, _ in M.SUMMARY}
    assert float(parser.cells["max_eta_sharpness"]) == s["max_eta_sharpness"]
    assert int(parser.cells["first_cross_step"]) == s["first_cross_step"]
    assert parser.cells["status"] == s["status"]
    parser = _Cells()
    parser.feed(M.summary_html({**s, "first_cross_step": None}))
    assert parser.cells["first_cross_step"] == "none"


def test_diverged_run_message():
    ds = eosdyn.simulate(eta=0.5, steps=2000, m=64)
    level, text = M.run_message(eosdyn.summarize(ds))
    assert level == "warning" and "diverged" in text
    assert M.run_message(eosdyn.summarize(eosdyn.simulate(steps=100, m=64)))[0] == "ok"


# --- saving -----------------------------------------------------------------------------------


def test_fresh_path_never_overwrites(tmp_path):
    (tmp_path / "run.nc").write_text("keep me")
    p2 = M.fresh_path(tmp_path, "run")
    p2.write_text("taken")
    p3 = M.fresh_path(tmp_path, "run")
    assert (p2.name, p3.name) == ("run-2.nc", "run-3.nc")
    assert (tmp_path / "run.nc").read_text() == "keep me"
    with pytest.raises(EosdynError, match="save_dir"):
        M.fresh_path(tmp_path / "nope", "run")


def test_save_run_round_trip(tmp_path):
    ds = eosdyn.simulate(steps=500, m=64, eta=0.02)
    a, b = M.save_run(ds, tmp_path), M.save_run(ds, tmp_path)
    assert a != b and a.name == "explore-eta0.02-m64-reduced.nc" and b.name.endswith("-2.nc")
    back = eosdyn.open_run(a)
    eosdyn.validate(back)
    np.testing.assert_array_equal(back["eta_sharpness"].values, ds["eta_sharpness"].values)


# --- the orbit diagram ------------------------------------------------------------------------


def test_chunked_diagram_equals_one_call():
    params = make_params(steps=3000)
    diagram = O.OrbitDiagram(params=params, values="0.002:0.3:19:log", steps=3000, keep=20)
    ds = diagram.compute()
    ref = bifurcation(params, "eta", "0.002:0.3:19:log", keep=20)
    assert diagram.state()[:2] == (19, 19) and diagram.state()[2] is ds
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
    assert ds["eta"].attrs["scale"] == "log"


def test_orbit_points_and_diverged_bands():
    eta = np.array([0.01, 0.02, 0.04, 0.08])
    orbit = np.array([[1.0, 1.1], [2.0, np.nan], [5.0, 6.0], [np.inf, np.nan]])
    ds = xr.Dataset({"orbit": (("eta", "k"), orbit), "status": ("eta", np.array([0, 0, 2, 2]))},
                    coords={"eta": eta})
    ds["eta"].attrs["scale"] = "log"
    x, y = O.orbit_points(ds)
    assert list(zip(x, y, strict=True)) == [(0.01, 1.0), (0.01, 1.1), (0.02, 2.0)]
    lo, hi = O.diverged_bands(ds)
    np.testing.assert_allclose(lo, [np.sqrt(0.02 * 0.04), np.sqrt(0.04 * 0.08)])
    np.testing.assert_allclose(hi, [np.sqrt(0.04 * 0.08), 0.08])


def test_load_diagram(tmp_path):
    params = make_params(steps=1000, m=128, seed=2)
    path = tmp_path / "bif.nc"
    eosdyn.save(bifurcation(params, "eta", "0.01,0.05", keep=10), path)
    ds, base = O.load_diagram(path)
    assert base == params and ds.sizes["eta"] == 2
    run = tmp_path / "run.nc"
    eosdyn.save(eosdyn.simulate(steps=10, m=8), run)
    with pytest.raises(EosdynError, match="not an orbit diagram"):
        O.load_diagram(run)
    with pytest.raises(EosdynError, match="does not exist"):
        O.load_diagram(tmp_path / "none.nc")


# --- the command ------------------------------------------------------------------------------


def test_cli_errors_are_one_line(tmp_path):
    r = CliRunner().invoke(main, ["explore", str(tmp_path / "none.nc")])
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["explore", "--save-dir", str(tmp_path / "no")])
    assert r.exit_code == 2 and "--save-dir" in r.output
    r = CliRunner().invoke(main, ["explore", "--range", "0.01:-1:4"])
    assert r.exit_code == 2 and r.output.startswith("Error: --range '0.01:-1:4': eta must be")
    r = CliRunner().invoke(main, ["explore", "--range", "0.01:0.1:4", "--diagram-steps", "50"])
    assert r.exit_code == 2 and "--diagram-steps" in r.output


def test_cli_without_bokeh_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bokeh", None)  # import bokeh -> ImportError
    r = CliRunner().invoke(main, ["explore"])
    assert r.exit_code == 2
    assert r.output.strip() == 'Error: eosdyn explore needs bokeh: pip install "eosdyn[explore]"'


def test_core_import_does_not_import_bokeh():
    code = "import sys, eosdyn, eosdyn.cli; print(json.dumps(sorted(m for m in sys.modules if 'bokeh' in m)))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


# --- the document, without a server -----------------------------------------------------------


class _SyncRunner:
    def submit(self, job, done):
        try:
            done(job, M.run_view(M.run_live(job)), None)
        except EosdynError as exc:
            done(job, None, str(exc))


def _cells(div):
    parser = _Cells()
    parser.feed(div.text)
    return parser.cells


def test_document_callbacks(tmp_path):
    from bokeh.document import Document
    from bokeh.events import Tap

    from eosdyn.explore.app import Context, Explorer

    base = make_params(steps=3000, m=256)
    diagram = O.OrbitDiagram(bifurcation(base, "eta", "0.005:0.3:12:log", keep=10), base)
    doc = Document()
    doc.add_next_tick_callback = lambda callback: callback()
    ex = Explorer(doc, Context(diagram, base, tmp_path, _SyncRunner()))
    assert _cells(ex.summary)["eta"] == repr(base.eta)  # the page opens on the scenario's run
    x, y = O.orbit_points(diagram.state()[2])
    assert ex.points.data["x"].tolist() == x.tolist() and 'data-level="ok"' in ex.diagram_status.text

    ex._on_tap(Tap(ex.orbit, x=0.0234567, y=1.0))
    run = eosdyn.simulate(base, eta=0.02346)
    ref = eosdyn.summarize(run)
    cells = _cells(ex.summary)
    assert ex.controls["eta"].value == "0.02346" and ex.marker.location == 0.02346
    for key in ("eta", "first_cross_step", "max_eta_sharpness", "n_eos_excursions", "n_period2_flips", "final_loss",
                "status"):
        assert cells[key] == M.exact(ref[key]), key
    # decimation keeps the spikes: the line's max is the recorded rows' max, which is the kernel's
    # every-step max up to rounding (the tracker's values-only eigen solve vs the recorded diagnostics)
    assert np.nanmax(ex.lines["eta_sharpness"].data["y"]) == float(run["eta_sharpness"].max())
    assert float(run["eta_sharpness"].max()) == pytest.approx(ref["max_eta_sharpness"], rel=1e-14)

    ex.portrait_var.value = "Dv1"
    pt = M.portrait(ex.view["ds"], "Dv1", ref["first_cross_step"] or 0)
    np.testing.assert_array_equal(ex.segments.data["x0"], pt["x0"])

    ex.controls["steps"].value = "0"
    with pytest.raises(ParameterError) as want:
        make_params(steps=0)
    assert 'data-level="error"' in ex.status.text and html.escape(str(want.value)) in ex.status.text

    ex.controls["steps"].value = "3000"
    ex.save()
    saved = list(tmp_path.glob("explore-eta0.02346-m256-reduced*.nc"))
    assert len(saved) == 1 and str(saved[0].resolve()) in ex.saved.text


def test_cli_defaults_are_the_diagrams():
    from eosdyn.cli.explore import DEFAULT_RANGE, explore

    steps = next(p for p in explore.params if p.name == "diagram_steps")
    assert (DEFAULT_RANGE, steps.default) == (O.DEFAULT_RANGE, O.DEFAULT_STEPS)
