"""``eosdyn explore`` in a real browser: the command as a subprocess on a free loopback port, driven
by headless Chromium from the distribution's packages (``apt-get install chromium``; .ci/run
installs it) through playwright with that executable (playwright's own browser download is never
used). Without the browser this test FAILS, it does not skip.

Checks: the page loads and shows the orbit diagram eosdyn computes; a real mouse click on the
diagram's canvas, at the pixel of a chosen eta (from the plot's range and frame), runs that eta and
the page shows the numbers eosdyn.simulate gives for it; bad values and a diverging run show their
one-line status; saving writes a new run file each time; SIGINT stops the server cleanly.
Screenshots go to a temporary folder (or to $EOSDYN_EXPLORE_SCREENSHOTS).
"""

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import eosdyn
from eosdyn.analysis.bifurcation import bifurcation
from eosdyn.errors import ParameterError
from eosdyn.explore.model import warm_kernels
from eosdyn.model.params import make_params

CHROMIUM = os.environ.get("EOSDYN_CHROMIUM", "/usr/bin/chromium")
#: playwright adds --headless itself (headless=True) and takes the profile folder as user_data_dir
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: the orbit diagram the server computes at start (small, so the test stays short)
RANGE, DIAGRAM_STEPS = "0.002:0.2:24:log", 10_000
#: the eta clicked (EoS regime of the default scenario)
CLICK_ETA = 0.02
VIEW = {"width": 1600, "height": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command() -> list:
    """``eosdyn`` run by this interpreter on the package the tests imported: under ``python -m pytest``
    in a checkout that is the checkout's ``eosdyn/``, not the installed copy the console script would
    load, so the server finds the kernels the fixture compiled in numba's cache (which is keyed by
    source file) instead of compiling them all again (minutes on a 2-core CI machine)."""
    return [sys.executable, "-c", "from eosdyn.cli import main; main()"]


def _env() -> dict:
    """The environment of the server: this process's, with the imported package first on the path."""
    root = str(Path(eosdyn.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


@pytest.fixture(scope="module")
def shots():
    folder = os.environ.get("EOSDYN_EXPLORE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        yield Path(folder)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``eosdyn explore`` on a free port; at the end, SIGINT must stop it within 10 s, cleanly."""
    # the app's kernels compiled (or loaded from numba's cache) before the server starts, so the
    # waits below time the app, not a first compile of the orbit-diagram and run kernels (minutes
    # on a fresh 2-core CI machine); the server process loads them from the same cache
    bifurcation(make_params(steps=20), "eta", "0.01,0.02", keep=2, backend="serial")
    eosdyn.simulate(steps=20)
    warm_kernels()
    port, save_dir = _free_port(), tmp_path_factory.mktemp("saved")
    log = tmp_path_factory.mktemp("log") / "explore.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command() + ["explore", "--port", str(port), "--range", RANGE,
                                              "--diagram-steps", str(DIAGRAM_STEPS), "--save-dir", str(save_dir)],
                                stdout=out, stderr=subprocess.STDOUT, env=_env())
    url = f"http://127.0.0.1:{port}/"

    def wait_url():
        deadline = time.monotonic() + 60
        while url not in log.read_text():
            assert proc.poll() is None, f"eosdyn explore exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"no URL printed within 60 s: {log.read_text()}"
            time.sleep(0.1)
        return url

    yield {"url": wait_url, "save_dir": save_dir, "proc": proc}
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("eosdyn explore did not stop within 10 s of SIGINT")
    text = log.read_text()
    assert code == 0 and "stopped" in text and "Traceback" not in text, text


@pytest.fixture(scope="module")
def page(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install -e ".[test]"')
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver (.ci/run "
                    "does it), or set EOSDYN_CHROMIUM")
    profile = tempfile.mkdtemp(prefix="eosdyn-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport=VIEW)
            pg = context.pages[0] if context.pages else context.new_page()
            errors = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.goto(server["url"](), timeout=30_000)
            pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30_000)
            yield pg
            assert not errors, errors
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _cell(pg, key) -> str:
    return pg.locator(f"#summary-{key}").get_attribute("data-value")


def _input(pg, name):
    """The <input> of the Bokeh TextInput named ``name`` (inside its shadow root)."""
    return pg.evaluate_handle(
        "(n) => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(n)).input_el", name)


def _type(pg, name, text):
    box = _input(pg, name)
    box.fill(text)
    box.press("Enter")


def _status(pg, level, timeout=60_000):
    pg.wait_for_selector(f'#status[data-level="{level}"]', timeout=timeout)
    return pg.locator("#status").inner_text()


def _click_eta(pg, eta):
    """A real mouse click on the orbit diagram's canvas at the pixel of ``eta`` (log x axis)."""
    geo = pg.evaluate("""() => {
        const m = Bokeh.documents[0].get_model_by_name('orbit');
        const v = Bokeh.index.find_one(m), f = v.frame.bbox;
        const c = v.canvas_view.el.getBoundingClientRect();
        return {start: m.x_range.start, end: m.x_range.end, left: c.left + f.left, top: c.top + f.top,
                width: f.width, height: f.height}; }""")
    frac = math.log(eta / geo["start"]) / math.log(geo["end"] / geo["start"])
    pg.mouse.click(geo["left"] + frac * geo["width"], geo["top"] + 0.5 * geo["height"])
    return geo


def test_page_shows_the_orbit_diagram(page):
    assert page.title() == "eosdyn explore"
    page.wait_for_selector('#diagram-status[data-level="ok"]', timeout=120_000)
    drawn = np.array(page.evaluate(
        "() => Array.from(Bokeh.documents[0].get_model_by_name('orbit-points').data_source.data.y)"))
    ref = bifurcation(make_params(steps=DIAGRAM_STEPS), "eta", RANGE, keep=100)
    orbit = ref["orbit"].values[ref["status"].values != 2]
    np.testing.assert_array_equal(np.sort(drawn), np.sort(orbit[np.isfinite(orbit)]))
    _status(page, "ok")  # the scenario's own run, shown when the page opens


def test_click_runs_that_eta(page, shots):
    before = _cell(page, "eta")
    start = time.perf_counter()
    geo = _click_eta(page, CLICK_ETA)
    page.wait_for_selector(f'#summary-eta:not([data-value="{before}"])', timeout=30_000)
    elapsed = time.perf_counter() - start
    eta = float(_cell(page, "eta"))
    pixel = math.log(geo["end"] / geo["start"]) / geo["width"]  # one pixel, in log eta
    assert abs(math.log(eta / CLICK_ETA)) <= pixel, (eta, CLICK_ETA)
    assert page.locator('#status').get_attribute("data-level") == "ok"
    run = eosdyn.simulate(eta=eta)
    ref = eosdyn.summarize(run)
    assert ref["steps"] == 100_000
    for key in ("first_cross_step", "n_eos_excursions", "n_period2_flips", "steps", "m"):
        want = "none" if ref[key] is None else str(ref[key])
        assert _cell(page, key) == want, key
    for key in ("max_eta_sharpness", "initial_eta_sharpness", "final_loss"):
        assert float(_cell(page, key)) == ref[key], key
    assert _cell(page, "status") == ref["status"] and _cell(page, "engine") == "reduced"
    line = page.evaluate("""() => Array.from(Bokeh.documents[0].get_model_by_name('eta_sharpness-line')
                            .data_source.data.y)""")
    assert len(line) <= 2000 and max(line) == float(run["eta_sharpness"].max())  # decimation keeps the spikes
    print(f"\nclick at eta={eta:g} to its 1e5-step run on the page: {elapsed:.2f} s "
          f"(run itself {float(_cell(page, 'wall_time')):.2f} s)")
    assert elapsed < 10
    page.screenshot(path=str(shots / "explore-click.png"))


def test_bad_values_show_the_message(page):
    _type(page, "steps", "20000")  # shorter runs from here on
    _status(page, "ok")
    for name, text, value, good in (("eta", "-1", -1.0, "0.02"), ("steps", "0", 0, "20000"),
                                    ("m", "0", 0, "4096"), ("init_scale", "abc", "abc", "0.01")):
        with pytest.raises(ParameterError) as want:
            make_params(**{name: value})
        _type(page, name, text)
        assert _status(page, "error", 10_000) == str(want.value)
        _type(page, name, good)
        _status(page, "ok")  # the server is still there


def test_diverging_run_shows_its_status(page, shots):
    _type(page, "eta", "0.25")
    text = _status(page, "warning")
    ref = eosdyn.summarize(eosdyn.simulate(eta=0.25, steps=20_000))
    assert ref["status"] == "diverged" and ref["message"] in text
    assert _cell(page, "status") == "diverged" and _cell(page, "steps") == str(ref["steps"])
    page.screenshot(path=str(shots / "explore-diverged.png"))
    _type(page, "eta", "0.02")
    _status(page, "ok")


def test_save_writes_a_new_file_each_time(page, server):
    button = "(n) => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(n)).button_el"
    paths = []
    for _ in range(2):
        page.evaluate_handle(button, "save").click()
        deadline = time.monotonic() + 30
        while not (page.locator("#saved-path").count() and page.locator("#saved-path").inner_text() not in paths):
            assert time.monotonic() < deadline, "no new saved path shown"
            time.sleep(0.05)
        paths.append(page.locator("#saved-path").inner_text())
    a, b = (Path(p) for p in paths)
    assert a != b and a.parent == b.parent == server["save_dir"].resolve()
    run = eosdyn.open_run(a)
    assert eosdyn.summarize(run)["max_eta_sharpness"] == float(_cell(page, "max_eta_sharpness"))
    assert run.attrs["eta"] == float(_cell(page, "eta"))
