"""``eosdyn figures``: rebuild every figure in figures/ from scenarios/*.toml."""

from __future__ import annotations

import click


@click.command()
@click.option("--scenarios", default="scenarios", show_default=True, type=click.Path(),
              help="Folder of scenario files; each gives one figure named after it.")
@click.option("--out-dir", default="figures", show_default=True, type=click.Path(),
              help="Folder the figures are written to.")
@click.option("--format", "fmt", type=click.Choice(["png", "pdf", "svg"]), default="png",
              show_default=True, help="Figure file format.")
@click.option("--only", multiple=True, help="Only this scenario (file stem); repeatable.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def figures(scenarios, out_dir, fmt, only, quiet):
    """Simulate every scenario and draw its figure (deterministic: same files every time).

    Figures already in --out-dir are replaced; nothing else is written.

    A scenario's optional [figure] table picks the plot kind (timeseries, indicator,
    spectrum, decomposition, portrait, compare, bifurcation), a step window and a caption.
    """
    from ..plot import gallery as figures_mod

    written = figures_mod.build(scenarios, out_dir, fmt=fmt, only=only, progress=not quiet,
                                echo=click.echo)
    click.echo(f"{len(written)} figure{'s' * (len(written) != 1)} written to {out_dir}")
