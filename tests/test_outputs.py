"""Nothing is lost or overwritten silently; every output carries its kind, follows its declared
schema and opens quietly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import eosdyn
from eosdyn.cli import main
from eosdyn.errors import EosdynError, TargetExistsError
from eosdyn.io import files as io
from eosdyn.io.schema import schema, validate


@pytest.fixture(scope="module")
def run():
    return eosdyn.simulate(steps=300)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def tree(path):
    return sorted((str(p.relative_to(path)), p.read_bytes() if p.is_file() else b"") for p in path.rglob("*"))


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_existing_output_is_refused_unless_overwrite(run, tmp_path, suffix):
    path = tmp_path / f"r{suffix}"
    eosdyn.save(run, path)
    before = tree(tmp_path)
    with pytest.raises(TargetExistsError, match="already exists .an eosdyn run.; pass overwrite=True"):
        eosdyn.save(run, path)
    assert tree(tmp_path) == before
    line = one_error_line(cli("simulate", "--steps", "10", "--eta", "0.02", "--out", path))
    assert "--out" in line and "pass --overwrite to replace it" in line
    assert tree(tmp_path) == before  # refused before running, nothing written
    res = cli("simulate", "--steps", "10", "--eta", "0.02", "--out", path, "--overwrite")
    assert res.exit_code == 0, res.output
    assert eosdyn.open_run(path).attrs["eta"] == 0.02
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporaries left


def test_foreign_files_and_other_kinds_are_never_replaced(run, tmp_path):
    store = tmp_path / "y.zarr"
    eosdyn.save(run, store)
    (store / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(TargetExistsError, match="notes.txt"):
            eosdyn.save(run, store, overwrite=overwrite)
    line = one_error_line(cli("simulate", "--steps", "10", "--out", store, "--overwrite"))
    assert "did not write" in line
    assert (store / "notes.txt").read_text() == "mine"
    plain = tmp_path / "z.zarr"
    plain.mkdir()
    (plain / "data.csv").write_text("1,2")
    with pytest.raises(TargetExistsError, match="not written by eosdyn"):
        eosdyn.save(run, plain, overwrite=True)
    text = tmp_path / "x.nc"
    text.write_text("keep")
    with pytest.raises(TargetExistsError, match="not written by eosdyn"):
        eosdyn.save(run, text, overwrite=True)
    assert text.read_text() == "keep"
    cmp = xr.Dataset({"a": ("x", [1.0])}, attrs={"eosdyn_kind": "compare"})
    eosdyn.save(cmp, tmp_path / "c.nc")
    with pytest.raises(TargetExistsError, match="holds an eosdyn compare, not a run"):
        eosdyn.save(run, tmp_path / "c.nc", overwrite=True)
    # a scan store of another scan, or a directory with notes, is not replaced by `eosdyn scan`
    line = one_error_line(cli("scan", "--grid", "eta=0.01,0.02", "--steps", "20", "--out", store, "--overwrite"))
    assert "--out" in line and "holds an eosdyn run, not a scan" in line
    assert (store / "notes.txt").exists()


def test_scan_store_of_a_different_scan_needs_overwrite(tmp_path):
    out = tmp_path / "s.zarr"
    args = ["scan", "--grid", "eta=0.01,0.02", "--steps", "50", "--record", "none", "--quiet", "--out", out]
    assert cli(*args).exit_code == 0
    assert cli(*args).exit_code == 0  # the same scan: resumed
    line = one_error_line(cli(*args[:-2], "--m", "64", "--out", out))
    assert "holds a different scan" in line and "--overwrite" in line
    res = cli(*args[:-2], "--m", "64", "--out", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert json.loads(eosdyn.open_scan(out).attrs["parameters"])["m"] == 64


def test_stale_temporaries_of_the_target_are_cleaned(run, tmp_path):
    target = tmp_path / "r.nc"
    code = (f"import os, signal; from eosdyn.io.files import staging\n"
            f"with staging({str(target)!r}) as tmp:\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".r.nc.")]
    assert len(left) == 1 and left[0].is_dir()  # what SIGKILL during a save leaves behind
    legacy = tmp_path / ".r.nc.abcd1234"  # an empty one of an older eosdyn, an hour old
    legacy.mkdir()
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    live = tmp_path / ".r.nc.live0000"  # a write in progress in this very process: kept
    live.mkdir()
    (live / io.WRITER).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    other = tmp_path / ".q.nc.dead0000"  # another target's: kept
    other.mkdir()
    eosdyn.save(run, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".q.nc.dead0000", ".r.nc.live0000", "r.nc"])


def test_replacing_a_store_keeps_the_old_one_if_the_rename_fails(run, tmp_path, monkeypatch):
    path = tmp_path / "r.zarr"
    eosdyn.save(run, path)
    before = tree(path)
    real = os.replace

    def failing(src, dst):
        if str(dst) == str(path) and "old" not in str(src):  # the new store moving into place
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(io.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        eosdyn.save(run.assign_attrs(eta=0.5), path, overwrite=True)
    monkeypatch.undo()
    assert tree(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.zarr"]


def _outputs(tmp_path):
    run = eosdyn.simulate(steps=200, hessian=True)
    cmp = eosdyn.compare(steps=200)
    bif = eosdyn.bifurcation(eosdyn.Params(steps=200), values="0.01,0.02", keep=20, backend="serial")
    scan = eosdyn.scan(["eta=0.01,0.02", "m=64,128"], tmp_path / "s.zarr", steps=200, backend="serial",
                       lyapunov=True)
    return {"run": run, "compare": cmp, "bifurcation": bif, "scan": scan}


def test_every_kind_is_labelled_declared_and_opens_quietly(tmp_path):
    outputs = _outputs(tmp_path)
    for kind, ds in outputs.items():
        assert ds.attrs["eosdyn_kind"] == kind
        validate(ds)
        if kind == "scan":
            path = tmp_path / "s.zarr"
        else:
            path = eosdyn.save(ds, tmp_path / f"{kind}.zarr")
            eosdyn.save(ds, tmp_path / f"{kind}.nc")
            assert io.kind_of(tmp_path / f"{kind}.nc") == kind
        assert io.kind_of(path) == kind
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = xr.open_zarr(path)  # plain: consolidated metadata, no warning
        validate(back)
        validate(io.open_output(path))
    with pytest.raises(ValueError, match="not declared"):
        validate(outputs["run"].assign(extra=("step", outputs["run"]["loss"].values)))
    with pytest.raises(ValueError, match="missing"):
        validate(outputs["compare"].drop_vars("distance"))
    assert set(schema("scan").variables) >= {"status", "phase", "first_cross_step"}


def test_bifurcation_schema_lists_the_kernel_observables():
    from eosdyn.io.schema import ORBIT_OBSERVABLES
    from eosdyn.kernels.batch_numba import OBSERVABLES

    assert set(ORBIT_OBSERVABLES) == set(OBSERVABLES)


def test_open_run_refuses_other_kinds_in_one_line(tmp_path):
    cmp = xr.Dataset({"a": ("x", [1.0])}, attrs={"eosdyn_kind": "compare"})
    eosdyn.save(cmp, tmp_path / "c.nc")
    with pytest.raises(EosdynError, match="holds an eosdyn compare, not a run"):
        eosdyn.open_run(tmp_path / "c.nc")
    (tmp_path / "t.nc").write_text("text")
    with pytest.raises(EosdynError, match="not a run file written by eosdyn") as exc:
        eosdyn.open_run(tmp_path / "t.nc")
    assert "signature" not in str(exc.value)
    line = one_error_line(cli("check", tmp_path / "c.nc"))
    assert "holds an eosdyn compare, not a run" in line and "eosdyn plot" in line
    line = one_error_line(cli("check", tmp_path / "t.nc"))
    assert "not a run file written by eosdyn" in line and "h5py" not in line and "signature" not in line


def test_chunk_writes_are_atomic_for_the_installed_zarr(tmp_path, monkeypatch):
    """A chunk write that dies half-way leaves the previous chunk, never a truncated one (the
    scan's resume guarantee); setup.cfg allows only zarr versions that write this way."""
    import builtins
    import pathlib

    import zarr

    arr = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(4,), chunks=(4,), dtype="f8")
    arr[:] = np.arange(4.0)
    real_open = builtins.open

    class Dying:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(bytes(memoryview(data).cast("B"))[: len(memoryview(data).cast("B")) // 2])
            self.f.flush()
            raise OSError("killed mid-write")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def dying_open(file, mode="r", *args, **kw):
        f = real_open(file, mode, *args, **kw)
        return Dying(f) if "w" in mode and "a.zarr" in str(file) else f

    def dying_path_open(self, mode="r", *args, **kw):
        return dying_open(str(self), mode, *args, **kw)

    monkeypatch.setattr(builtins, "open", dying_open)
    monkeypatch.setattr(pathlib.Path, "open", dying_path_open)
    with pytest.raises(OSError):
        arr[:] = np.full(4, 7.0)
    monkeypatch.undo()
    back = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    assert np.array_equal(back[:], np.arange(4.0))


def test_a_corrupt_status_chunk_is_recomputed(tmp_path):
    from eosdyn.analysis import scan as S
    from eosdyn.model.params import make_params

    spec = S.make_spec(make_params(steps=100), ["eta=0.01,0.02,0.03", "m=64,128"], block_cells=2,
                       record=("loss",))
    ref = S.run_scan(spec, tmp_path / "ref.zarr", backend="serial")
    assert ref["blocks_run"] == spec.nblocks == 3
    out = tmp_path / "s.zarr"
    S.run_scan(spec, out, backend="serial")
    chunks = sorted(p for p in (out / "status").rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray"))
    assert len(chunks) == 3
    chunks[1].write_bytes(chunks[1].read_bytes()[:3])  # cut short, as a non-atomic write killed midway
    again = S.run_scan(spec, out, backend="serial")
    assert again["blocks_run"] == 1
    xr.testing.assert_identical(S.open_scan(out).load(), S.open_scan(tmp_path / "ref.zarr").load())


def test_save_init_writes_the_initial_weights_once_and_never_over_a_file(tmp_path):
    from eosdyn.errors import TargetExistsError
    from eosdyn.model.init import load_parameters

    path = tmp_path / "w.npz"
    eosdyn.simulate(m=16, steps=3, save_init=str(path), init_sampler="parameters")
    A, W = load_parameters(path)
    ds = eosdyn.simulate(m=16, steps=3, init=str(path))
    ref = eosdyn.simulate(m=16, steps=3, init_sampler="parameters")
    np.testing.assert_array_equal(ds["loss"].values, ref["loss"].values)   # the same start, read back
    assert A.shape == (16,) and W.shape[0] == 16
    with pytest.raises(TargetExistsError, match="save_init"):
        eosdyn.simulate(m=16, steps=3, save_init=str(path), init_sampler="parameters")
    assert not list(tmp_path.glob(".w.npz.*"))   # no temporaries left behind
