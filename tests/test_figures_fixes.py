"""What a user reads in the figures (issue 9 §5): each test checks one drawn property that was wrong.

Figures are captured at ``save`` time (the ``figures`` fixture) and checked through matplotlib's
artists and axis limits, or through the rendered pixels for heatmap cell colours.
"""

import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import to_rgb

import eosdyn
import eosdyn.plot.optim as optim_plot
import eosdyn.plot.run as run_plot
import eosdyn.plot.scan as scan_plot
from eosdyn.analysis.summary import excursion_starts
from eosdyn.plot.common import display_counts


@pytest.fixture
def figures(monkeypatch):
    """Every matplotlib Figure saved during the test, in order."""
    saved, original = [], run_plot.save

    def spy(fig, path):
        saved.append(fig)
        return original(fig, path)

    for module in (run_plot, scan_plot, optim_plot):
        monkeypatch.setattr(module, "save", spy)
    return saved


@pytest.fixture(scope="module")
def lazy_run():
    """scenarios/lazy-wide.toml, shortened: m = 1e9, Lambda flat near 4, 2/eta = 200."""
    return eosdyn.simulate(m=1_000_000_000, init_sampler="wishart", steps=3_000)


@pytest.fixture(scope="module")
def catapult_run():
    """scenarios/catapult.toml: one loss spike, then Lambda creeps up by ~1e-5 per step and settles."""
    return eosdyn.simulate(lambda_max=100.0, lambda_min=1.0, init_scale=1.0, eta=0.75, steps=3_000)


@pytest.fixture(scope="module")
def eos_run():
    """The default scenario cut at 36,000 steps: sharpening, then two EoS cycles."""
    return eosdyn.simulate(steps=36_000)


def _line(fig, label_start):
    return next(ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label().startswith(label_start))


def test_sharpness_axis_zooms_to_a_flat_lambda_and_names_the_far_edge(lazy_run, figures, tmp_path):
    run_plot.plot_timeseries(lazy_run, tmp_path / "lazy.png")
    lam = _line(figures[0], "Λ = λmax")
    ax, y = lam.axes, lazy_run["sharpness"].values
    lo, hi = ax.get_ylim()
    assert lo <= y.min() and y.max() <= hi and hi - lo < 0.5 * y.max()  # not a 0-200 axis
    assert not any(ln.get_label() == "2/η" for ln in ax.get_lines())      # the edge is out of reach ...
    assert any("2/η = 200" in t.get_text() for t in ax.texts)             # ... and named instead


def test_sharpness_axis_keeps_the_edge_when_it_is_reached(eos_run, figures, tmp_path):
    run_plot.plot_timeseries(eos_run, tmp_path / "eos.png")
    edge = _line(figures[0], "2/η")
    lo, hi = edge.axes.get_ylim()
    assert lo < 200 < hi and hi < 1.2 * eos_run["sharpness"].max()


def test_settled_tail_is_not_drawn_as_sharpening(catapult_run, lazy_run, eos_run):
    ds = catapult_run
    counts, _ = display_counts(ds)
    steps, lam = ds["step"].values, ds["sharpness"].values
    sharpening = counts[:, 1] > 0
    assert steps[sharpening].max() < 100  # before: phase I up to step ~630
    # every row drawn stationary (and not in the kernel's phase 5) is within 1e-3 * 2/eta of all later values
    relabelled = (counts[:, 5] > 0) & (ds["phase"].values != 5)
    assert relabelled.any()
    for k in np.flatnonzero(relabelled):
        assert np.ptp(lam[k:]) <= 1e-3 * 2 / ds.attrs["eta"]
    assert np.all(display_counts(lazy_run)[0][1:, 5] > 0)
    eos_counts, _ = display_counts(eos_run)  # an EoS run keeps its phases up to the last step
    np.testing.assert_array_equal(eos_counts[:, 5], 0)
    assert eos_counts[-2000:, 1].sum() > 0 or eos_counts[-2000:, 4].sum() > 0


def test_indicator_draws_lambda_and_a_norm_on_separate_axes(eos_run, figures, tmp_path):
    run_plot.plot_indicator(eos_run, tmp_path / "ind.png")
    lam_ax = _line(figures[0], "Λ").axes
    a_ax = _line(figures[0], "‖A‖²").axes
    assert lam_ax is not a_ax
    p, q = lam_ax.get_position(), a_ax.get_position()
    assert p.y0 >= q.y1 - 1e-9 or q.y0 >= p.y1 - 1e-9  # stacked, not overlaid


def test_decomposition_keeps_the_v1_part_on_the_log_axis(eos_run, figures, tmp_path):
    plot = run_plot.plot_decomposition(eos_run, tmp_path / "dec.png", window=(25_000, 36_000))
    _, y = plot.data["decomposition/v1_part"]
    ax = figures[0].axes[0]
    lo, hi = ax.get_ylim()
    assert np.all((y >= lo) & (y <= hi))
    raw = eos_run["Dv1"].sel(step=slice(25_000, 36_000)).values ** 2 / eos_run.attrs["n"]
    assert raw.min() < lo  # the clipping is real, and the legend says so
    assert any("drawn at" in t.get_text() for leg in figures[0].legends for t in leg.get_texts())


def test_first_cycle_zoom_shows_the_cycle_closing(figures, tmp_path):
    ds = eosdyn.simulate(data="digits", subset=50, eta=12.0, steps=5_000)
    plot = run_plot.plot_timeseries(ds, tmp_path / "dig.png")
    starts = excursion_starts(ds)
    assert starts.size >= 2
    zx, _ = plot.data["zoom/Lambda"]
    cycle = starts[1] - starts[0]
    assert zx[0] < starts[0] and zx[-1] >= starts[1] + cycle // 10  # before: 40 steps past the next start


def test_diverged_run_has_integer_step_ticks(figures, tmp_path):
    ds = eosdyn.simulate(eta=1.0, steps=1_000)
    assert ds.attrs["status"] == "diverged" and ds.sizes["step"] < 30
    for kind in ("timeseries", "spectrum", "decomposition"):
        run_plot.plot_run(ds, tmp_path / f"{kind}.png", kind=kind)
    step_axes = [ax for fig in figures for ax in fig.axes if "step" in ax.get_xlabel()]
    assert len(step_axes) >= 3
    for ax in step_axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_hessian_curve_on_the_sharpness_panel(figures, tmp_path):
    ds = eosdyn.simulate(steps=400, hessian=True)
    plot = run_plot.plot_timeseries(ds, tmp_path / "h.png")
    x, y = plot.data["sharpness/hessian"]
    np.testing.assert_array_equal(y, ds["sharpness_hessian"].sel(step=x).values)
    assert _line(figures[0], "λmax(∇²L)").axes is _line(figures[0], "Λ = λmax").axes


# --- scans and orbit diagrams (synthetic datasets: what is drawn is checked, not the scan) ----


def _scan():
    """A 3 x 2 eta x init_scale scan: diverged, catapult (first crossing at step 0), lazy, EoS cells."""
    eta, scale = np.array([0.001, 0.01, 0.1]), np.array([0.01, 1.0])
    phase = np.array([[1, 3, 4], [0, 2, 4]])           # rows: init_scale; columns: eta
    status = np.where(phase == 4, 2, 0)
    first = np.array([[-1, 500, -1], [-1, 0, -1]])
    coords = {"eta": ("eta", eta, {"scale": "log"}), "init_scale": ("init_scale", scale, {"scale": "log"})}
    dims = ("init_scale", "eta")
    return xr.Dataset({
        "phase": (dims, phase), "status": (dims, status), "first_cross_step": (dims, first),
        "final_eta_sharpness": (dims, np.array([[0.5, 2.0, np.nan], [0.1, 1.5, np.nan]])),
        "n_eos_excursions": (dims, np.array([[0, 12, 0], [0, 1, 0]])),
    }, coords=coords, attrs={"axes": ["eta", "init_scale"], "steps": 1000})


def _pixel(fig, ax, x, y):
    """RGB of the rendered figure at data point (x, y) of ``ax``."""
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return img[int(round(img.shape[0] - py)), int(round(px)), :3] / 255.0


def test_heatmap_cell_colours_mean_the_same_in_every_panel(figures, tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    scan_plot.plot_heatmap(_scan(), tmp_path / "h.png")
    fig = figures[0]
    FigureCanvasAgg(fig)
    axes = [ax for ax in fig.axes if ax.get_title()][:4]
    diverged, at_start = to_rgb(scan_plot.DIVERGED), to_rgb(scan_plot.AT_START)
    for ax in axes:  # the diverged cell (eta 0.1, scale 0.01) has the one diverged colour everywhere
        np.testing.assert_allclose(_pixel(fig, ax, 0.1, 0.01), diverged, atol=0.02)
    # the catapult cell crossed at step 0: drawn as a crossing (its own colour), not white "never"
    np.testing.assert_allclose(_pixel(fig, axes[0], 0.01, 1.0), at_start, atol=0.02)
    np.testing.assert_allclose(_pixel(fig, axes[0], 0.001, 1.0), (1, 1, 1), atol=0.02)  # never crossed
    lazy = _pixel(fig, axes[3], 0.001, 1.0)  # lazy is not grey (grey means diverged)
    np.testing.assert_allclose(lazy, to_rgb(scan_plot.PHASE_COLOURS[0]), atol=0.02)
    assert np.ptp(lazy) > 0.1
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("diverged" in t for t in labels) and any("step 0" in t for t in labels)


def test_lyapunov_panel_uses_a_tolerance(figures, tmp_path):
    eta = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    lyap = np.array([-0.2, -1e-5, 1e-5, 5e-4, 0.05])
    orbit = np.tile(np.array([1.9, 2.1, 1.9, 2.1]), (5, 1))
    ds = xr.Dataset({"orbit": (("eta", "k"), orbit), "lyapunov": ("eta", lyap),
                     "period": ("eta", np.array([2, 2, 2, 2, 0])), "status": ("eta", np.zeros(5, np.int8))},
                    coords={"eta": eta, "k": np.arange(4)},
                    attrs={"param": "eta", "observable": "eta_sharpness", "keep": 4, "steps": 100,
                           "mode": "fresh", "transient": 50, "period_max": 64})
    scan_plot.plot_bifurcation(ds, tmp_path / "b.png", log_x=False)
    ax = next(a for a in figures[0].axes if a.get_ylabel().startswith("Lyapunov"))
    by_label = {c.get_label(): c.get_offsets()[:, 1] for c in ax.collections if c.get_offsets().size}
    red = next(v for k, v in by_label.items() if k.startswith(">"))
    zero = next(v for k, v in by_label.items() if k.startswith("≈ 0"))
    np.testing.assert_array_equal(red, [0.05])
    np.testing.assert_array_equal(np.sort(zero), [-1e-5, 1e-5, 5e-4])
    assert any("0.001" in k for k in by_label)

