"""Every command and code block of README.md runs (at small sizes), so the README cannot drift.

Discovered automatically from README.md:

* fenced ``bash`` blocks: each line (``\\`` continuations joined, ``&&`` split) is a command;
  the commands of one block run in order, in one temporary directory;
* fenced ``python`` blocks: executed with ``exec`` in a temporary directory;
* inline code spans that are an ``eosdyn`` command with at least one option (``eosdyn simulate
  --out run.nc``); spans with a metavariable (``RUN.nc``, ``NAME``, ``FILE``, ``[...]``, ``|``)
  are synopses, and a bare ``eosdyn scan`` names a command, so neither is run.

``eosdyn`` commands run in-process through click's ``CliRunner`` and must exit with status 0
within :data:`TIMEOUT` seconds. Each temporary directory holds a copy of ``scenarios/`` and an
empty ``figures/``, as the repository root does. Commands that :data:`NOT_RUN` lists are skipped
(it says why); any other command that is not ``eosdyn`` fails the test, so that a new kind of
command gets a rule here.

Rewrites applied for speed (all of them; set ``EOSDYN_README_FULL=1`` to run the README
verbatim, which takes tens of minutes):

========================================  ================================================
README                                    run as
========================================  ================================================
``--steps N``                             ``--steps min(N, STEPS)``
no ``--steps`` where the command runs GD   ``--steps STEPS`` appended (simulate, compare,
                                          scan, bifurcation, check without a RUN file)
``--range A:B:N[:log]``                   ``N -> min(N, 5)``
``--grid K=A:B:N[:log]``                  ``N -> min(N, 3)``
``--subset N``                            ``N -> min(N, 100)``
``cifar10:~/data/cifar-10-python.tar.gz`` a synthetic archive of the same format (classes
                                          3 and 5, 55 images each) in the temp directory
python ``steps=N``                        ``steps=min(N, STEPS)``
========================================  ================================================

with ``STEPS = 500``.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import shlex
import shutil
import signal
import tarfile
import threading
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eosdyn.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FULL = os.environ.get("EOSDYN_README_FULL") == "1"
STEPS = 500
RANGE_MAX, GRID_MAX, SUBSET_MAX = 5, 3, 100
#: commands that start with these are not run here, and why
NOT_RUN = {
    "pip install": "installs the package: the suite runs inside it",
    "python -m pytest": "runs this suite",
    "python benchmarks/": "timed benchmarks (minutes each): run by hand",
    "eosdyn explore": "serves a page until interrupted (its own tests start and stop it)",
    "mkdocs build": "builds the documentation site (.ci/run builds it with warnings as errors)",
}
#: a command still running after this many seconds is interrupted (Ctrl-C) and fails the test:
#: a server or a size the rewrites missed; list it in NOT_RUN or add a rewrite
TIMEOUT = 300
#: subcommands that run GD (and so take --steps)
SIMULATING = ("simulate", "compare", "scan", "bifurcation", "check")


# ---------------------------------------------------------------------------------- discovery

def fenced_blocks(text: str):
    """``(line, language, body)`` of every fenced code block."""
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        yield text[:m.start()].count("\n") + 1, m.group(1), m.group(2)


def inline_commands(text: str):
    """``(line, command)`` of inline ``eosdyn`` commands with an option, outside fenced blocks."""
    outside = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    for m in re.finditer(r"(?<!`)`(eosdyn [^`]+)`(?!`)", outside):
        cmd = " ".join(m.group(1).split())
        synopsis = re.search(r"\b[A-Z]{3,}\b|[|\[\]…]|\.\.\.", cmd)
        if " --" in cmd and not synopsis:
            yield outside[:m.start()].count("\n") + 1, cmd


def shell_commands(body: str) -> list[str]:
    lines = body.replace("\\\n", " ").splitlines()
    cmds = [c.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
            for c in line.split("&&")]
    return [c for c in cmds if c]


def cases():
    text = README.read_text()
    out = []
    for line, lang, body in fenced_blocks(text):
        if lang in ("bash", "sh", "console", "shell"):
            out.append(pytest.param("bash", shell_commands(body), id=f"README.md:{line}:bash"))
        elif lang == "python":
            out.append(pytest.param("python", body, id=f"README.md:{line}:python"))
    for line, cmd in inline_commands(text):
        out.append(pytest.param("bash", [cmd], id=f"README.md:{line}:{cmd[:40]}"))
    return out


# ----------------------------------------------------------------------------------- rewrites

def _cap_count(spec: str, cap: int) -> str:
    """``A:B:N[:log]`` with ``N -> min(N, cap)``."""
    parts = spec.split(":")
    if len(parts) >= 3 and parts[2].isdigit():
        parts[2] = str(min(int(parts[2]), cap))
    return ":".join(parts)


def rewrite_argv(argv: list[str], tmp: Path) -> list[str]:
    """The rewrites of the module docstring, on ``eosdyn``'s arguments (``argv[0]`` the subcommand)."""
    if FULL:
        return argv
    out = []
    it = iter(argv)
    for a in it:
        if a == "--steps":
            out += [a, str(min(int(next(it)), STEPS))]
        elif a == "--range":
            out += [a, _cap_count(next(it), RANGE_MAX)]
        elif a == "--subset":
            out += [a, str(min(int(next(it)), SUBSET_MAX))]
        elif a == "--grid":
            key, _, spec = next(it).partition("=")
            out += [a, f"{key}={_cap_count(spec, GRID_MAX)}"]
        elif a.startswith("cifar10:~/data/cifar-10-python.tar.gz"):
            out.append(f"cifar10:{fake_cifar(tmp)}")
        else:
            out.append(a)
    runs_file = any(a.endswith((".nc", ".zarr")) for a in argv[1:2])
    if out[0] in SIMULATING and "--steps" not in out and not (out[0] == "check" and runs_file):
        out += ["--steps", str(STEPS)]
    return out


def rewrite_python(src: str) -> str:
    if FULL:
        return src
    return re.sub(r"\bsteps=([0-9_]+)", lambda m: f"steps={min(int(m.group(1).replace('_', '')), STEPS)}", src)


def fake_cifar(tmp: Path) -> Path:
    """A ``cifar-10-python.tar.gz`` in the real archive's layout: 5 training batches of 22
    random 32x32x3 images, labels 3 and 5 only (55 of each in all)."""
    path = tmp / "cifar-10-python.tar.gz"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for i in range(1, 6):
            batch = {b"batch_label": b"training batch", b"data": rng.integers(0, 256, (22, 3072), dtype=np.uint8),
                     b"labels": [3, 5] * 11}
            data = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{i}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ---------------------------------------------------------------------------------------- run

@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    (tmp_path / "figures").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def run_command(cmd: str, tmp: Path) -> None:
    skip = next((why for prefix, why in NOT_RUN.items() if cmd.startswith(prefix)), None)
    if skip:
        return
    argv = shlex.split(cmd)
    assert argv[0] == "eosdyn", f"README command {cmd!r} is neither eosdyn nor listed in NOT_RUN"
    args = rewrite_argv(argv[1:], tmp)
    timed_out = threading.Event()

    def interrupt():
        timed_out.set()
        os.kill(os.getpid(), signal.SIGINT)   # a real signal: it also wakes a blocking call

    watchdog = threading.Timer(TIMEOUT, interrupt)
    watchdog.start()
    try:
        res = CliRunner().invoke(main, args)
    except KeyboardInterrupt:
        res = None
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        pytest.fail(f"`{cmd}` still ran after {TIMEOUT} s: a server, or a size the rewrites miss")
    assert res.exit_code == 0, f"`{cmd}` (run as `eosdyn {' '.join(args)}`) exited {res.exit_code}:\n{res.output}"
    assert "Traceback" not in res.output


@pytest.mark.parametrize("kind, body", cases())
def test_readme_runs(kind, body, workdir):
    if kind == "python":
        with redirect_stdout(io.StringIO()):
            exec(compile(rewrite_python(body), str(README), "exec"), {"__name__": "__readme__"})
        import matplotlib.pyplot as plt

        plt.close("all")
        return
    for cmd in body:
        run_command(cmd, workdir)


def test_discovery_finds_every_block_and_inline_command():
    """The parser sees every fenced block (fences are paired) and the inline commands."""
    text = README.read_text()
    assert text.count("\n```") % 2 == 0
    n_blocks = len(list(fenced_blocks(text)))
    assert n_blocks == sum(1 for line in text.splitlines() if line.startswith("```")) // 2
    inline = [c for _, c in inline_commands(text)]
    assert any(c.startswith("eosdyn simulate --m 4096") for c in inline)
    assert not any("RUN" in c for c in inline)
    assert rewrite_argv(["bifurcation", "--range", "0.15:0.66:1021"], Path("."))[:2] == ["bifurcation", "--range"]
    if not FULL:
        assert rewrite_argv(["scan", "--grid", "eta=0.001:0.3:25:log"], Path(".")) == [
            "scan", "--grid", "eta=0.001:0.3:3:log", "--steps", str(STEPS)]
        assert rewrite_argv(["check", "run.nc"], Path(".")) == ["check", "run.nc"]
        assert rewrite_python("eosdyn.simulate(steps=100_000)") == f"eosdyn.simulate(steps={STEPS})"
