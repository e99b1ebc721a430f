"""The ``eosdyn`` command line: parse, call the API, print. No numerics here.

Each command lives in its own module and is registered on :data:`main` below.
"""

from __future__ import annotations

import click

from ..errors import EosdynError, ParameterError


class EosdynGroup(click.Group):
    """Turns every :class:`EosdynError` into a one-line ``Error: ...`` and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ParameterError as exc:
            opt = "--" + exc.name.replace("_", "-")
            raise click.UsageError(f"{opt} {str(exc)[len(exc.name) + 1:]}") from None
        except EosdynError as exc:
            raise click.UsageError(str(exc)) from None


@click.group(cls=EosdynGroup)
@click.version_option(package_name="eosdyn")
def main():
    """eosdyn: gradient descent at the edge of stability, simulated exactly and fast."""


from .simulate import simulate  # noqa: E402

main.add_command(simulate)
from .data_info import data_info  # noqa: E402

main.add_command(data_info)
from .plot import plot  # noqa: E402

main.add_command(plot)
from .figures import figures  # noqa: E402

main.add_command(figures)
from .scan import scan  # noqa: E402

main.add_command(scan)
from .bifurcation import bifurcation, heatmap  # noqa: E402

main.add_command(bifurcation)
main.add_command(heatmap)
from .check import check  # noqa: E402

main.add_command(check)
from .compare import compare  # noqa: E402

main.add_command(compare)
from .explore import explore  # noqa: E402

main.add_command(explore)
