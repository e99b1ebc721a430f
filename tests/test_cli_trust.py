"""What a user meets at the command line: interrupts, memory, every file kind, strict JSON, errors
that name what was typed; the library names parameters, never flags."""

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.cli import main
from eosdyn.errors import EosdynError, ParameterError

ROOT = Path(__file__).resolve().parent.parent


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


# --- interrupts and memory ------------------------------------------------------------------


def test_ctrl_c_during_simulate_says_where_and_saves_nothing(tmp_path, monkeypatch):
    from eosdyn.engines.reduced import ReducedEngine

    real = ReducedEngine.advance

    def advance(self, t0, t1):
        if t0 > 0:
            raise KeyboardInterrupt
        return real(self, t0, t1)

    monkeypatch.setattr(ReducedEngine, "advance", advance)
    res = cli("simulate", "--steps", "100000", "--out", tmp_path / "r.nc")
    assert res.exit_code == 130, res.output
    step = int(res.output.split("interrupted at step ")[1].split(";")[0])
    assert step > 0 and "; nothing saved" in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_scan_reports_saved_blocks_and_resumes(tmp_path, monkeypatch):
    from eosdyn.analysis.scan import backends

    real, calls = backends.compute_block, []

    def compute(spec, b, parallel=False):
        calls.append(b)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(spec, b, parallel)

    monkeypatch.setattr(backends, "compute_block", compute)
    args = ["scan", "--grid", "eta=0.01,0.02,0.03", "--steps", "50", "--block-cells", "1", "--backend", "serial",
            "--out", tmp_path / "s.zarr"]
    res = cli(*args)
    assert res.exit_code == 130, res.output
    assert "interrupted: 1 of 3 blocks saved; rerun the same command to resume" in res.output
    res = cli(*args, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["blocks_run"] == 2 and info["status"] == {"max_steps": 3}


def test_a_run_that_cannot_fit_in_memory_is_refused_before_allocating():
    from eosdyn.model.memory import check_memory
    from eosdyn.model.params import make_params

    with pytest.raises(ParameterError, match=r"^m 1000000000: the run needs about 184 GB .* 1 GB is available; "
                                             r"engine='reduced' .* needs none of it$"):
        check_memory(make_params(engine="full", m=10**9), d=5, r=5, available=10**9)
    check_memory(make_params(engine="full", m=10**3), d=5, r=5, available=10**9)  # fits: no error
    with pytest.raises(ParameterError, match="init_sampler='wishart' needs none of it"):
        check_memory(make_params(m=10**9, init_sampler="parameters"), d=5, r=5, available=10**9)
    line = one_error_line(cli("simulate", "--engine", "full", "--m", "1e12", "--steps", "10"))
    assert "--m 1000000000000: the run needs about" in line and "is available" in line
    assert "--engine reduced" in line
    assert eosdyn.simulate(m=10**12, steps=5).attrs["m"] == 10**12  # reduced: Wishart, nothing allocated


# --- every file opens with the right command -----------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("kinds")
    out = {}
    for kind, args in {
        "bifurcation": ["bifurcation", "--range", "0.01,0.02,0.04", "--steps", "300", "--keep", "20",
                        "--backend", "serial", "--quiet"],
        "compare": ["compare", "--steps", "300", "--quiet"],
        "scan": ["scan", "--grid", "eta=0.01,0.02", "--grid", "m=64,128", "--steps", "200", "--quiet"],
        "scan1d": ["scan", "--grid", "eta=0.01,0.02", "--steps", "200", "--quiet"],
        "run": ["simulate", "--steps", "300", "--quiet"],
    }.items():
        path = d / (f"{kind}.zarr" if kind.startswith("scan") else f"{kind}.nc")
        res = cli(*args, "--out", path)
        assert res.exit_code == 0, res.output
        out[kind] = path
    return out


@pytest.mark.parametrize("kind", ["bifurcation", "compare", "scan", "run"])
def test_plot_draws_every_kind(files, kind, tmp_path):
    fig = tmp_path / f"{kind}.png"
    res = cli("plot", files[kind], "--out", fig)
    assert res.exit_code == 0, res.output
    assert fig.stat().st_size > 20_000 and f"plotted {fig}" in res.output
    assert eosdyn.open_output(files[kind]).attrs["eosdyn_kind"] == kind.rstrip("1d")


def test_plot_says_in_one_line_what_it_cannot_draw(files, tmp_path):
    line = one_error_line(cli("plot", files["scan1d"], "--out", tmp_path / "x.png"))
    assert "two scanned dimensions" in line
    line = one_error_line(cli("plot", files["bifurcation"], "--kind", "spectrum", "--out", tmp_path / "x.png"))
    assert "apply to runs" in line
    (tmp_path / "t.nc").write_text("text")
    line = one_error_line(cli("plot", tmp_path / "t.nc", "--out", tmp_path / "x.png"))
    assert "not an eosdyn output" in line


def test_json_is_strict(files):
    res = cli("simulate", "--eta", "1e300", "--steps", "10", "--json", "--quiet")
    assert res.exit_code == 0

    def refuse(name):
        raise ValueError(name)

    info = json.loads(res.output, parse_constant=refuse)
    assert info["status"] == "diverged" and info["final_loss"] is None
    for args in (["bifurcation", "--range", "1,2", "--steps", "20", "--keep", "5", "--backend", "serial"],
                 ["data-info", "digits", "--classes", "0,1"]):
        res = cli(*args, "--json")
        assert res.exit_code == 0, res.output
        json.loads(res.output, parse_constant=refuse)


# --- input that should be refused ---------------------------------------------------------


def test_unknown_dataset_names_list_the_known_ones():
    for name in ("cifar", "cifar10", "digits:x"):
        line = one_error_line(cli("simulate", "--data", name, "--steps", "5"))
        assert "digits, cifar10:PATH, mnist:PATH" in line, line


def test_grid_and_range_errors_name_the_option_typed(tmp_path):
    out = tmp_path / "s.zarr"
    for grid, word in (("foo=1,2", "cannot be scanned"), ("eta=-1:1:3:log", "log range"), ("eta", "NAME=VALUES"),
                       ("m=0,1", "m must be an integer >= 1")):
        line = one_error_line(cli("scan", "--grid", grid, "--steps", "10", "--out", out))
        assert line.startswith(f"Error: --grid '{grid}': ") and word in line, line
        assert "--foo" not in line and "--eta" not in line and "--m " not in line
    line = one_error_line(cli("bifurcation", "--range", "-1:1:3:log", "--steps", "10", "--keep", "5"))
    assert line.startswith("Error: --range '-1:1:3:log'") and "log range" in line
    line = one_error_line(cli("bifurcation", "--range", "0,0.01", "--steps", "10", "--keep", "5"))
    assert line.startswith("Error: --range '0,0.01'") and "eta must be" in line
    line = one_error_line(cli("bifurcation", "--range", "0.01,0.02", "--xlim", "2:1", "--steps", "10", "--keep", "5"))
    assert "--xlim" in line and "START < STOP" in line


def test_scan_option_errors_state_the_right_bounds():
    from eosdyn.analysis.scan import ScanOptions

    with pytest.raises(ParameterError, match=r"tail must be an integer >= 0, got -1"):
        ScanOptions(tail=-1).check(100)
    with pytest.raises(ParameterError, match=r"record_every must be an integer >= 1, got 0"):
        ScanOptions(record_every=0).check(100)
    with pytest.raises(ParameterError, match=r"keep must be between 0 and steps \+ 1 = 101, got 200"):
        ScanOptions(orbit=200).check(100)


# --- the library names parameters; only the CLI names flags --------------------------------


def _raise_strings(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    yield node.lineno, sub.value


def test_no_library_error_names_a_cli_flag():
    import re

    found = []
    for path in sorted((ROOT / "eosdyn").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "eosdyn").parts:
            continue
        for line, text in _raise_strings(path):
            if re.search(r"(^|[\s(])--[a-z]", text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert found == []


def test_library_messages_use_parameter_names(tmp_path):
    ds = eosdyn.simulate(steps=50)
    with pytest.raises(ParameterError, match=r"^path 'x.txt': the suffix must be"):
        eosdyn.save(ds, "x.txt")
    with pytest.raises(ParameterError, match=r"^rho must be"):
        eosdyn.CheckOptions(rho=-1)
    with pytest.raises(ParameterError, match=r"^tol must be"):
        eosdyn.compare(steps=10, tol=0)
    with pytest.raises(ParameterError, match=r"^window "):
        eosdyn.plot_run(ds, tmp_path / "f.png", window=(10**6, 10**7))
    with pytest.raises(ParameterError, match=r"^grid 'eta': must be NAME=VALUES"):
        eosdyn.scan(["eta"], tmp_path / "s.zarr")
    with pytest.raises(ParameterError, match=r"^path .*a scan is saved as a .zarr store"):
        eosdyn.scan(["eta=0.1,0.2"], tmp_path / "s.nc")
    line = one_error_line(cli("simulate", "--out", "x.txt"))
    assert line.startswith("Error: --out 'x.txt'")


def test_no_assert_validates_cli_input():
    for path in (ROOT / "eosdyn" / "cli").glob("*.py"):
        assert not any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(path.read_text()))), path


# --- the figure builder -------------------------------------------------------------------


def test_gallery_keeps_labels_with_their_runs_and_refuses_unknown_engines(tmp_path, monkeypatch):
    from eosdyn.engines import METHODS
    from eosdyn.plot import gallery

    scenario = tmp_path / "c.toml"
    scenario.write_text('[run]\nsteps = 50\n[figure]\nkind = "compare"\nlabels = ["a", "b", "c", "d"]\n'
                        'runs = [{engine = "first-order"}, {engine = "flow"}, {eta = 0.02}]\n')
    drawn = {}

    class Cache:
        progress = False

        def get(self, params):
            return params

    def plot_run(runs, target, kind, window, **options):
        drawn.update(runs=runs, labels=options["labels"])

    monkeypatch.setattr(gallery.plotting, "plot_run", plot_run)
    available = {k: v for k, v in METHODS.items() if k not in ("first-order", "flow")}
    monkeypatch.setattr(gallery, "METHODS", available)
    notes = []
    assert gallery.draw(gallery.read_figure(scenario), tmp_path / "c.png", Cache(), echo=notes.append)
    assert [r.eta for r in drawn["runs"]] == [0.01, 0.02] and drawn["labels"] == ["a", "d"]
    assert len(notes) == 2 and all("not available here" in n for n in notes)
    scenario.write_text('[run]\nsteps = 50\n[figure]\nkind = "compare"\nruns = [{engine = "warp"}]\n')
    with pytest.raises(EosdynError, match=r"'c.toml': \[figure\] runs\[0\]: engine must be one of"):
        gallery.draw(gallery.read_figure(scenario), tmp_path / "c.png", Cache(), echo=notes.append)



def test_ctrl_c_during_figures_does_not_wait_for_orbit_diagrams(tmp_path):
    """An orbit diagram still computing (here: a stand-in that would take 120 s) does not keep
    ``eosdyn figures`` alive after Ctrl-C: the command ends within seconds."""
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "out").mkdir()
    (tmp_path / "sc").mkdir()
    (tmp_path / "sc" / "b.toml").write_text('[run]\nsteps = 50\n[figure]\nkind = "bifurcation"\n')
    # Python's Ctrl-C handler, as in a terminal (a shell's background job starts with SIGINT ignored)
    code = ("import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from eosdyn.plot import gallery\n"
            "gallery._orbit_data = lambda spec, progress=False: time.sleep(120)\n"
            "print('started', flush=True)\n"
            f"gallery.build({str(tmp_path / 'sc')!r}, {str(tmp_path / 'out')!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("still running 30 s after SIGINT: it waits for the orbit diagram") from None
    assert time.monotonic() - t0 < 30 and proc.returncode != 0 and "KeyboardInterrupt" in err

# --- library code leaves process-wide state alone ------------------------------------------


def test_figures_keep_the_umask_and_the_matplotlib_backend(tmp_path, monkeypatch):
    import os
    import stat
    import subprocess
    import sys

    def no_umask(mask):
        raise AssertionError("library code must not set the process-wide umask")

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", no_umask)
        path = eosdyn.plot_run(eosdyn.simulate(steps=100), tmp_path / "f.png").path
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 less the umask, as any new file
    cmp = eosdyn.compare(steps=200)
    eosdyn.save(cmp, tmp_path / "c.nc")
    code = ("import matplotlib; matplotlib.use('svg'); import eosdyn\n"
            f"eosdyn.plot_output({str(tmp_path / 'c.nc')!r}, {str(tmp_path / 'c.png')!r})\n"
            "print(matplotlib.get_backend())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "svg" and (tmp_path / "c.png").stat().st_size > 20_000
