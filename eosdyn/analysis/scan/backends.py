"""Where blocks run (serial, threads, processes, numba prange, Dask) and the resumable scan loop."""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait

import numpy as np

from ...errors import Interrupted, ParameterError
from ...progress import progress_bar
from .cells import compute_block
from .grid import BACKENDS, ScanSpec
from .store import blocks_done, open_store, write_block

# -------------------------------------------------------------------------------- backends


def _dask_client(scheduler: str, workers: int):
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="10s"), None
    except Exception as exc:
        raise ParameterError("scheduler", f"{scheduler!r}: cannot connect ({exc})") from None


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def resolve_backend(backend: str, workers: int) -> str:
    """``auto`` is ``serial`` on one worker and ``threads`` otherwise: blocks on a thread pool,
    the numba kernels running without the GIL. ``benchmarks/bench_scan.py`` measured it at least
    as fast as ``prange`` (numba's own thread pool) and far ahead of ``processes`` (pool
    start-up, results pickled back) on a 2-core machine."""
    if backend not in BACKENDS:
        raise ParameterError("backend", f"must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        return "serial" if workers == 1 else "threads"
    return backend


def iter_blocks(spec: ScanSpec, blocks: list, backend: str = "auto", workers: int | None = None,
                scheduler: str | None = None, compute=None):
    """Yield ``(b, result)`` for the blocks, as they complete, on the chosen backend."""
    compute = compute or compute_block
    workers = workers or default_workers()
    if scheduler:
        yield from _iter_dask(spec, blocks, scheduler, workers, compute)
        return
    backend = resolve_backend(backend, workers)
    if len(blocks) <= 1 and backend in ("processes", "threads"):
        backend = "serial"  # one block: a pool would only add its start-up time
    if backend in ("serial", "prange") or not blocks:
        for b in blocks:
            yield b, compute(spec, b, backend == "prange")
        return
    if backend == "threads":
        pool = ThreadPoolExecutor(max_workers=workers)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["eosdyn.analysis.scan"])
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    with pool:
        yield from _iter_pool(pool, spec, blocks, workers, compute)


def _iter_pool(pool, spec, blocks, workers, compute):
    """Keep ``2 workers`` blocks in flight; results are yielded (and freed) as they arrive."""
    todo = list(blocks)[::-1]
    running = {}
    try:
        while todo or running:
            while todo and len(running) < 2 * workers:
                b = todo.pop()
                running[pool.submit(compute, spec, b)] = b
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield running.pop(fut), fut.result()
    finally:  # interrupted or abandoned: blocks not started yet are not started
        for fut in running:
            fut.cancel()


def _iter_dask(spec, blocks, scheduler, workers, compute):
    from distributed import as_completed

    client, cluster = _dask_client(scheduler, workers)
    try:
        futures = {client.submit(compute, spec, b, pure=False): b for b in blocks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_scan(spec: ScanSpec, path, backend: str = "auto", workers: int | None = None,
         scheduler: str | None = None, overwrite: bool = False, progress: bool = False) -> dict:
    """Run (or resume) the scan into the zarr store ``path``; return counts and wall time.

    Blocks already written are skipped. Open the result with :func:`open_scan`.
    """
    group = open_store(spec, path, overwrite)
    done = blocks_done(spec, group)
    todo = [b for b in range(spec.nblocks) if not done[b]]
    cells = [_block_cells(spec, b) for b in range(spec.nblocks)]
    start = time.perf_counter()
    label = f"scan {'x'.join(str(s) for s in spec.shape)}"
    saved = int(done.sum())
    blocks = iter_blocks(spec, todo, backend, workers, scheduler)
    try:
        with progress_bar(sum(cells[b] for b in todo), enabled=progress, label=label, unit="cells") as bar:
            for b, result in blocks:
                write_block(spec, group, b, result)
                saved += 1
                bar(cells[b])
    except KeyboardInterrupt:
        blocks.close()
        raise Interrupted(f"interrupted: {saved} of {spec.nblocks} blocks saved; rerun the same command to resume",
                          saved=saved, total=spec.nblocks) from None
    return {"cells": spec.ncells, "blocks": spec.nblocks, "blocks_run": len(todo),
            "cells_run": int(sum(cells[b] for b in todo)), "wall_time": time.perf_counter() - start}


def _block_cells(spec: ScanSpec, b: int) -> int:
    return int(np.prod([s.stop - s.start for s in spec.block_slices(b)]))


def scan(grid, out, params=None, *, backend: str = "auto", workers: int | None = None,
         scheduler: str | None = None, overwrite: bool = False, progress: bool = False,
         record=("loss", "eta_sharpness"), record_every: int | None = None, tail: int | None = None,
         sharpness_every: int = 1, lyapunov: bool = False, block_cells: int | None = None, **kwargs):
    """Run (or resume) a grid of runs into the zarr store ``out`` and return it (lazily opened).

    Parameters
    ----------
    grid : iterable
        Scanned parameters, outermost first: ``"eta=0.002:0.2:64:log"`` strings,
        ``(name, values)`` pairs or :class:`~eosdyn.analysis.scan.Axis` objects.
    out : path
        The ``.zarr`` store; rerunning the same scan resumes it.
    params : Params, optional
        Base parameters; ``kwargs`` that are :class:`~eosdyn.model.params.Params` fields override them.
    record, record_every, tail, sharpness_every, lyapunov, block_cells
        :class:`~eosdyn.analysis.scan.ScanOptions`.
    backend, workers, scheduler, overwrite, progress
        As :func:`run_scan`.

    Returns
    -------
    xarray.Dataset
        One dimension per scanned parameter; per-cell summaries (see :data:`SUMMARY_DOCS`).
    """
    from ...model.params import make_params
    from .grid import make_spec
    from .store import open_scan

    base = make_params(**{**(params.to_dict() if params is not None else {}), **kwargs})
    if isinstance(grid, str):
        grid = [grid]
    spec = make_spec(base, list(grid), record=tuple(record), record_every=record_every, tail=tail,
                     sharpness_every=sharpness_every, lyapunov=lyapunov, block_cells=block_cells)
    run_scan(spec, out, backend=backend, workers=workers, scheduler=scheduler, overwrite=overwrite,
             progress=progress)
    return open_scan(out)
