"""``eosdyn compare --against central-flow|stable-flow``: GD's time averages vs a theory's predictions."""

from __future__ import annotations

import sys

from ._output import echo_json


def run_edge(params, against, window, out, overwrite, plot, as_json, quiet) -> None:
    """Run the comparison, save/plot it, print the table (or JSON)."""
    from ..analysis.compare_edge import compare_edge, plot_compare_edge, summary
    from ..io import files as io

    cmp = compare_edge(params, against=against, window=window, progress=not quiet and not as_json)
    if out is not None:
        io.save(cmp, out, overwrite=overwrite)
    if plot is not None:
        plot_compare_edge(cmp, plot)
    info = summary(cmp)
    if as_json:
        echo_json(info)
        return
    _print(info, out, plot)


def _pct(d) -> str:
    return " / ".join("n/a" if d[k] is None else f"{100 * d[k]:.3g}%" for k in ("mean", "max", "of_mean"))


def _print(info, out, plot) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    table = Table(title=f"GD ({info['gd_engine']}) vs {info['against']} ({info['flow_method']}), "
                        f"m={info['m']}, eta={info['eta']:g}", show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    phase = info["eos_phase"]
    cyc = info["cycle_length"]
    first = "never" if info["first_cross_gd"] is None else str(info["first_cross_gd"])
    enter = ", ".join(f"{t:.6g}" for t in info["flow_edge_enter"][:5]) or "never"
    rows = [
        ("first step with Lambda > 2/eta: GD", first),
        ("... flow reaches the edge (eta S = 2) at t", enter),
        ("EoS cycle (median, steps) / window", f"{'n/a' if cyc is None else f'{cyc:.4g}'} / {info['window']}"),
        ("EoS phase compared (steps)", "none" if phase is None else f"{phase[0]}..{phase[1]}"),
        ("rel. error, loss: mean / max / of mean", _pct(info["rel_err_loss"])),
        ("... L(theta) alone (no oscillation term)", _pct(info["rel_err_loss_flow"])),
        ("rel. error, eta*Lambda", _pct(info["rel_err_eta_sharpness"])),
        ("rel. error, ||A||^2", _pct(info["rel_err_a_norm2"])),
        ("max eigenvalues at the edge", str(info["max_n_at_edge"])),
        ("status: GD / flow", f"{info['gd_status']} / {info['flow_status']}"),
        ("wall time: GD / flow", f"{info['wall_time_gd']:.2f} s / {info['wall_time_flow']:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print("errors: |prediction - <GD>| / |<GD>| over the EoS phase, <GD> = GD's centred moving average")
    if info["flow_status"] == "diverged":
        console.print(f"[bold red]flow stopped:[/] {info['flow_status_message']}")
    if out:
        console.print(f"saved {out}")
    if plot:
        console.print(f"plotted {plot}")
