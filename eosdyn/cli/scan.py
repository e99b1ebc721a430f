"""``eosdyn scan``: a grid of runs into a resumable zarr store."""

from __future__ import annotations

import sys

import click

from ._output import echo_json
from ._scanopts import base_options, base_params


@click.command()
@click.option("--grid", "grids", multiple=True, metavar="NAME=VALUES",
              help="A scanned parameter (repeatable; first = outermost): a,b,c or "
              "START:STOP:NUM or START:STOP:NUM:log, e.g. --grid eta=0.002:0.2:64:log.")
@click.option("--out", required=True, type=click.Path(), help="The scan store, PATH.zarr.")
@base_options
@click.option("--record", default="loss,eta_sharpness", show_default=True,
              help="Trajectories kept per cell: loss, eta_sharpness, a_norm2, Dv1, or 'none'.")
@click.option("--record-every", type=int, help="Trajectory stride [default: steps/1000].")
@click.option("--tail", type=int, help="Tail length for tail min/max of eta*Lambda [default: steps/10].")
@click.option("--sharpness-every", type=int, default=1, show_default=True,
              help="Test Lambda > 2/eta every k-th step.")
@click.option("--lyapunov", is_flag=True, help="Also the output Lyapunov exponent over the tail.")
@click.option("--block-cells", type=int, help="Cells per block (zarr chunk, unit of work).")
@click.option("--workers", type=int, help="Parallel workers [default: all cores].")
@click.option("--backend", type=click.Choice(["auto", "serial", "threads", "processes", "prange"]),
              default="auto", show_default=True,
              help="serial: one core; processes: blocks per process; threads: blocks per thread "
              "(the kernels release the GIL); prange: cells of a block over numba threads.")
@click.option("--scheduler", help="Run on Dask: a scheduler ADDRESS, or 'local' for a LocalCluster.")
@click.option("--overwrite", is_flag=True,
              help="Start afresh, replacing the eosdyn scan store at --out (without it a store of the same scan "
              "is resumed and one of a different scan refused; nothing else is ever replaced).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (strict: null for NaN).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def scan(grids, out, scenario, extra, record, record_every, tail, sharpness_every, lyapunov,
         block_cells, workers, backend, scheduler, overwrite, as_json, quiet, **options):
    """Run GD over a grid of parameters; rerunning the same command resumes.

    Example: eosdyn scan --grid eta=0.002:0.2:32:log --grid m=256,1024,4096 --out s.zarr
    """
    from ..analysis import scan as S

    base, axes = base_params(scenario, extra, options)
    axes = list(axes) + [S.parse_axis(g) for g in grids]  # errors name --grid and quote it
    if not axes:
        raise click.UsageError("give at least one --grid NAME=VALUES (or a scenario [scan] table)")
    rec = () if record.strip().lower() == "none" else tuple(r.strip() for r in record.split(","))
    spec = S.make_spec(base, axes, record=rec, record_every=record_every, tail=tail,
                       sharpness_every=sharpness_every, lyapunov=lyapunov, block_cells=block_cells)
    if workers is not None and workers < 1:
        raise click.BadParameter(f"must be an integer >= 1, got {workers}", param_hint="--workers")
    info = S.run_scan(spec, out, backend=backend, workers=workers, scheduler=scheduler,
                  overwrite=overwrite, progress=not quiet)
    info.update(S.scan_summary(S.open_scan(out)))
    info["out"] = str(out)
    if as_json:
        echo_json(info)
    else:
        _print(info, spec)


def _print(info, spec):
    from rich.console import Console

    c = Console(file=sys.stdout, highlight=False)
    dims = " x ".join(f"{a.name} ({len(a.values)})" for a in spec.axes)
    c.print(f"scan {dims}: {info['cells']} cells in {info['blocks']} blocks; ran "
            f"{info['cells_run']} cells in {info['wall_time']:.2f} s "
            f"({info['cells'] - info['cells_run']} already done)")
    c.print("status: " + ", ".join(f"{k} {v}" for k, v in info["status"].items()))
    c.print("phase:  " + ", ".join(f"{k} {v}" for k, v in info["phase"].items()))
    c.print(f"saved {info['out']}")


scan.param_aliases = {"path": "out", "grid": "grids"}
