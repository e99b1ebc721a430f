"""``eosdyn explore [BIFURCATION_FILE]``: the interactive explorer in the browser (needs bokeh)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EosdynError, ParameterError

DEFAULT_RANGE = "0.002:0.2:128:log"  # eosdyn.explore.orbits.DEFAULT_RANGE (not imported: needs no numerics)


@click.command()
@click.argument("bifurcation_file", required=False, type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on [default: a free one].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--save-dir", type=click.Path(), default=".", show_default=True,
              help="Folder where 'Save run' writes run files (never overwriting one).")
@click.option("--range", "values", default=DEFAULT_RANGE, show_default=True,
              help="Without BIFURCATION_FILE: the values of eta of the orbit diagram computed at start.")
@click.option("--diagram-steps", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Without BIFURCATION_FILE: GD steps per value of that diagram.")
def explore(bifurcation_file, port, host, save_dir, values, diagram_steps):
    """Serve an interactive explorer on HOST:PORT: click a learning rate on the orbit diagram over
    eta and see that run (eta*Lambda, loss, ||A||^2 with the phases shaded, phase portrait); change
    m, the init scale, steps, data and engine; save runs. Ctrl-C stops it.

    BIFURCATION_FILE: an orbit diagram over eta from `eosdyn bifurcation --param eta --out FILE.nc`;
    without it, one is computed at start from the default scenario (the page shows the progress).
    """
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise EosdynError('eosdyn explore needs bokeh: pip install "eosdyn[explore]"') from None
    from ..explore.orbits import OrbitDiagram, load_diagram
    from ..explore.server import serve
    from ..model.params import make_params

    folder = Path(save_dir)
    if not folder.is_dir():
        raise EosdynError(f"--save-dir {save_dir!r} is not a folder")
    if bifurcation_file is not None:
        ds, base = load_diagram(bifurcation_file)
        diagram = OrbitDiagram(ds, base)
    else:
        base = make_params()
        try:
            diagram = OrbitDiagram(params=base, values=values, steps=diagram_steps)
        except ParameterError as exc:
            if exc.name == "diagram_steps":
                raise
            raise EosdynError(f"--range {values!r}: {exc}") from None

    def echo(text):
        click.echo(text)
        sys.stdout.flush()

    serve(diagram, base, folder, host=host, port=port, echo=echo)
    echo("eosdyn explore: stopped")
