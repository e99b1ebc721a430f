"""Plots: what is drawn equals the dataset; decimation keeps extremes; files are deterministic."""

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import eosdyn
import eosdyn.plot as plotting
from eosdyn.cli import main
from eosdyn.errors import EosdynError
from eosdyn.plot import gallery as figures


@pytest.fixture(scope="module")
def default_run():
    """The default scenario cut at 36,000 steps: sharpening, then two EoS cycles."""
    return eosdyn.simulate(steps=36_000)


@pytest.fixture(scope="module")
def digits_run():
    """Digits 0 vs 1 (50 samples) at eta = 12: enters EoS at step ~2,500."""
    return eosdyn.simulate(data="digits", subset=50, eta=12.0, steps=5_000)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, default_run, digits_run):
    folder = tmp_path_factory.mktemp("runs")
    eosdyn.save(default_run, folder / "default.nc")
    eosdyn.save(digits_run, folder / "digits.zarr")
    return folder


def _matches(ds, var, x, y, values=None):
    """Every plotted point (x, y) is the dataset's value of ``var`` at step x."""
    values = ds[var].sel(step=x).values if values is None else values
    np.testing.assert_array_equal(y, values)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 5000), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_decimate_keeps_every_extreme_and_only_data(size, columns, seed):
    rng = np.random.default_rng(seed)
    x = np.arange(size) * 3
    y = rng.standard_normal(size) * np.exp(rng.standard_normal(size) * 3)
    xd, yd = plotting.decimate(x, y, columns)
    assert xd.size <= max(size, 2 * columns) and np.all(np.diff(xd) > 0)
    np.testing.assert_array_equal(yd, y[xd // 3])
    assert yd.max() == y.max() and yd.min() == y.min()
    if size > 2 * columns:  # each column's extremes survive
        edges = np.linspace(0, size, columns + 1).astype(int)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            inside = yd[(xd >= 3 * lo) & (xd < 3 * hi)]
            assert inside.max() == y[lo:hi].max() and inside.min() == y[lo:hi].min()


@pytest.mark.parametrize("run", ["default_run", "digits_run"])
def test_timeseries_draws_the_dataset(run, request, tmp_path):
    ds = request.getfixturevalue(run)
    plot = plotting.plot_run(ds, tmp_path / "t.png", kind="timeseries")
    x, y = plot.data["sharpness/Lambda"]
    _matches(ds, "sharpness", x, y)
    assert y.max() == ds["sharpness"].max() and y.min() == ds["sharpness"].min()
    _matches(ds, "loss_window_max", *plot.data["loss/L"])
    _matches(ds, "a_norm2", *plot.data["a_norm2/||A||^2"])
    zx, zy = plot.data["zoom/Lambda"]  # the first EoS cycle: from before the first crossing on
    first = eosdyn.summarize(ds)["first_cross_step"]
    assert zx[0] < first < zx[-1] and np.all(np.diff(zx) == 1)
    _matches(ds, "sharpness", zx, zy)
    if ds.attrs["y_perp2"] > 0:
        x, y = plot.data["loss/reducible"]
        np.testing.assert_allclose(y, ds["loss"].sel(step=x) - ds.attrs["y_perp2"] / ds.attrs["n"])
    assert (tmp_path / "t.png").stat().st_size > 20_000


def test_timeseries_window_and_twin_axis(default_run, tmp_path):
    plot = plotting.plot_timeseries(default_run, tmp_path / "w.svg", window=(30_000, 33_000),
                                    a_norm="twin")
    for key in ("sharpness/Lambda", "sharpness/||A||^2", "loss/L"):
        x, _ = plot.data[key]
        assert x.min() == 30_000 and x.max() == 33_000
    assert "a_norm2/||A||^2" not in plot.data and "zoom/Lambda" not in plot.data
    _matches(default_run, "a_norm2", *plot.data["sharpness/||A||^2"])


@pytest.mark.parametrize("run", ["default_run", "digits_run"])
def test_indicator_marks_exactly_the_anomalies(run, request, tmp_path):
    ds = request.getfixturevalue(run)
    plot = plotting.plot_run(ds, tmp_path / "i.png", kind="indicator")
    x, y = plot.data["top/anomaly"]
    np.testing.assert_array_equal(x, ds["step"].values[ds["anomaly"].values])
    _matches(ds, "sharpness", x, y)
    dlam, da = np.diff(ds["sharpness"].values), np.diff(ds["a_norm2"].values)
    xa, ya = plot.data["scatter/anomaly"]
    xs, ys = plot.data["scatter/agree"]
    assert xa.size + xs.size == dlam.size and xa.size > 0
    assert np.all(np.sign(xa) != np.sign(ya)) and np.all(np.sign(xs) == np.sign(ys))
    np.testing.assert_array_equal(np.sort(np.concatenate([xa, xs])), np.sort(da))
    np.testing.assert_array_equal(np.sort(np.concatenate([ya, ys])), np.sort(dlam))


@pytest.mark.parametrize("run", ["default_run", "digits_run"])
def test_spectrum_and_decomposition(run, request, tmp_path):
    ds = request.getfixturevalue(run)
    plot = plotting.plot_run(ds, tmp_path / "s.pdf", kind="spectrum")
    for var in ("sharpness", "lambda2", "sharpness_MA"):
        _matches(ds, var, *plot.data[f"spectrum/{var}"])
    plot = plotting.plot_run(ds, tmp_path / "d.png", kind="decomposition")
    n = ds.attrs["n"]
    x, loss = plot.data["decomposition/loss"]
    _matches(ds, "loss", x, loss)
    xr_, r = plot.data["decomposition/R_part"]
    np.testing.assert_allclose(r, ds["R_norm2"].sel(step=xr_) / n)
    # the decomposition drawn is exact: L = ((D^T v_1)^2 + ||R||^2) / n at every step
    np.testing.assert_allclose(ds["loss"], (ds["Dv1"] ** 2 + ds["R_norm2"]) / n, rtol=1e-9)


@pytest.mark.parametrize("run", ["default_run", "digits_run"])
def test_portrait_draws_even_steps_coloured_by_phase(run, request, tmp_path):
    ds = request.getfixturevalue(run)
    plot = plotting.plot_run(ds, tmp_path / "p.png", kind="portrait")
    even = ds.isel(step=np.flatnonzero(ds["step"].values % 2 == 0))
    for var in ("a_norm2", "Dv1", "DtF"):
        x, y = plot.data[f"{var}/trajectory"]
        np.testing.assert_array_equal(x, even[var].values)
        np.testing.assert_array_equal(y, even["sharpness"].values)
        np.testing.assert_array_equal(plot.data[f"{var}/phase"][1], even["phase"].values)
    ix, iy = plot.data["inset/trajectory"]
    assert 0 < ix.size < x.size and iy.max() > 2 / ds.attrs["eta"] > iy.min()


def test_compare_overlays_runs_with_labels(default_run, tmp_path):
    other = eosdyn.simulate(steps=36_000, engine="first-order")
    plot = plotting.plot_run([default_run, other], tmp_path / "c.png", kind="compare", time=True)
    assert set(plotting.run_labels([default_run, other])) == {"engine=reduced", "engine=first-order"}
    for ds, label in ((default_run, "engine=reduced"), (other, "engine=first-order")):
        x, y = plot.data[f"eta_sharpness/{label}"]
        _matches(ds, "eta_sharpness", np.rint(x / 0.01).astype(int), y)


def test_files_are_deterministic(default_run, tmp_path):
    for suffix in (".png", ".svg", ".pdf"):
        a = plotting.plot_run(default_run, tmp_path / f"a{suffix}", kind="spectrum").path
        b = plotting.plot_run(default_run, tmp_path / f"b{suffix}", kind="spectrum").path
        assert digest(a) == digest(b)


def test_bad_plot_requests_are_one_line_errors(default_run, tmp_path):
    cases = [
        (dict(path=tmp_path / "x.gif"), "suffix"), (dict(path=tmp_path / "no" / "x.png"), "folder"),
        (dict(kind="histogram"), "kind"), (dict(window=(10**7, 10**8)), "window"),
        (dict(runs=[default_run, default_run]), "compare"), (dict(runs=[]), "no run"),
    ]
    for kw, text in cases:
        args = {"runs": default_run, "path": tmp_path / "x.png", **kw}
        with pytest.raises(EosdynError, match=text):
            plotting.plot_run(args.pop("runs"), args.pop("path"), **args)


def test_cli_plot_every_kind(saved, tmp_path):
    runner = CliRunner()
    for kind in plotting.KINDS:
        runs = [str(saved / "digits.zarr"), str(saved / "default.nc")][: 2 if kind == "compare" else 1]
        out = tmp_path / f"{kind}.png"
        res = runner.invoke(main, ["plot", *runs, "--kind", kind, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 20_000 and f"plotted {out}" in res.output
    res = runner.invoke(main, ["plot", str(saved / "default.nc"), "--kind", "timeseries", "--window",
                               "30000:34000", "--a-norm", "twin", "--out", str(tmp_path / "w.pdf")])
    assert res.exit_code == 0, res.output
    run, png = str(saved / "default.nc"), str(tmp_path / "e.png")
    for args, text in ((["--kind", "portrait", "--linear", "--out", png], "--linear"),
                       (["--out", str(tmp_path / "x.bmp")], "--out"), (["--window", "3", "--out", png], "--window"),
                       (["--kind", "indicator", "--time", "--out", png], "--time")):
        res = runner.invoke(main, ["plot", run, *args])
        lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
        assert res.exit_code == 2 and len(lines) == 1 and text in lines[0], res.output


def _scenarios(folder):
    base = 'steps = 3000\neta = 12.0\ndata = "digits"\nsubset = 40\nrecord_every = 2\n'
    (folder / "a-series.toml").write_text(base)
    (folder / "b-indicator.toml").write_text(base + '[figure]\nkind = "indicator"\ncaption = "ind"\n')
    (folder / "c-compare.toml").write_text(
        base + '[figure]\nkind = "compare"\nruns = [{eta = 6.0}, {engine = "flow"}]\n'
        'labels = ["eta 12", "eta 6", "flow"]\n'
    )
    (folder / "d-bif.toml").write_text(base + '[figure]\nkind = "bifurcation"\nvalues = "1:2:3"\n')


def test_figures_rebuild_deterministically(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "eosdyn.analysis.bifurcation", None)  # as where it is missing
    monkeypatch.setattr(figures, "METHODS", {k: v for k, v in figures.METHODS.items() if k != "flow"})
    src, out = tmp_path / "scenarios", tmp_path / "figures"
    src.mkdir()
    out.mkdir()
    _scenarios(src)
    notes = []
    written = figures.build(src, out, echo=notes.append)
    assert [p.name for p in written] == ["a-series.png", "b-indicator.png", "c-compare.png"]
    assert any("bifurcation is not available" in n for n in notes)
    assert any("'flow' is not available" in n for n in notes)
    first = {p.name: digest(p) for p in written}
    res = CliRunner().invoke(main, ["figures", "--scenarios", str(src), "--out-dir", str(out), "--quiet",
                                    "--only", "b-indicator", "--only", "c-compare"])
    assert res.exit_code == 0, res.output
    assert {p.name: digest(p) for p in written} == first
    assert "2 figures written" in res.output


def test_figure_tables_are_validated(tmp_path):
    bad = {
        "k.toml": ('[figure]\nkind = "pie"\n', "kind must be one of"),
        "u.toml": ('[figure]\ncolour = "red"\n', "unknown [figure] key 'colour'"),
        "m.toml": ('[figure]\nkind = "spectrum"\ntime = true\n', "does not apply"),
        "w.toml": ('[figure]\nwindow = [1]\n', "window"),
    }
    for name, (text, message) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(EosdynError) as err:
            figures.read_figure(tmp_path / name)
        assert message in str(err.value)
    res = CliRunner().invoke(main, ["figures", "--scenarios", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a folder" in res.output


def test_repository_scenarios_declare_valid_figures():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "scenarios"
    specs = {p.stem: figures.read_figure(p) for p in sorted(root.glob("*.toml"))}
    kinds = {s.kind for s in specs.values()}
    assert {"timeseries", "indicator", "spectrum", "decomposition", "portrait", "compare",
            "bifurcation"} <= kinds
    for stem in specs:
        eosdyn.load_scenario(root / f"{stem}.toml")  # every one is also a valid run


def test_bifurcation_figure_through_eosdyn_bifurcation(tmp_path):
    src, out = tmp_path / "s", tmp_path / "f"
    src.mkdir()
    out.mkdir()
    (src / "bif.toml").write_text('steps = 400\n[figure]\nkind = "bifurcation"\nvalues = "0.005:0.02:4"\n'
                                  'keep = 50\nxlim = [0.005, 0.02]\nlog_x = false\n')
    written = figures.build(src, out, echo=lambda line: None)
    assert [p.name for p in written] == ["bif.png"] and written[0].stat().st_size > 10_000
