"""The ``eosdyn`` command line: parse, call the API, print. No numerics here.

Each command lives in its own module, registered in :data:`COMMANDS` and imported only when it
runs (so ``eosdyn simulate`` does not pay for the plotting stack). The library speaks in
parameter names; this layer speaks in flags: a :class:`~eosdyn.errors.ParameterError` naming
``eta`` is shown as ``Error: --eta ...`` (the option of the running command whose name matches,
see :func:`flag_for`).
"""

from __future__ import annotations

import re
import sys
from importlib import import_module

import click

from ..errors import EosdynError, Interrupted, ParameterError

#: command name -> (module, attribute), in the order ``eosdyn --help`` lists them
COMMANDS = {
    "simulate": ("eosdyn.cli.simulate", "simulate"),
    "check": ("eosdyn.cli.check", "check"),
    "compare": ("eosdyn.cli.compare", "compare"),
    "scan": ("eosdyn.cli.scan", "scan"),
    "bifurcation": ("eosdyn.cli.bifurcation", "bifurcation"),
    "heatmap": ("eosdyn.cli.bifurcation", "heatmap"),
    "plot": ("eosdyn.cli.plot", "plot"),
    "figures": ("eosdyn.cli.figures", "figures"),
    "data-info": ("eosdyn.cli.data_info", "data_info"),
    "explore": ("eosdyn.cli.explore", "explore"),
}
#: exit status after Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


def flag_for(command: click.Command | None, name: str) -> str:
    """How the user wrote the library parameter ``name`` for ``command``: its option
    (``--eta``), its argument (``RUN``), an alias the command declares in ``param_aliases``
    (e.g. ``path`` -> ``--out``), or ``name`` itself (a parameter given with ``--set``)."""
    if command is not None:
        for p in command.params:
            if p.name and p.name.lower() == name.lower():
                if isinstance(p, click.Argument):
                    return p.human_readable_name
                return next((o for o in p.opts if o.startswith("--")), p.opts[0])
        alias = getattr(command, "param_aliases", {}).get(name)
        if alias is not None:
            return flag_for(command, alias)
    return name


#: ``name=value`` in a library message: a suggestion to set parameter ``name``
SETTING = re.compile(r"(?<![\w.'\"=:-])([a-z][a-z0-9_]*)=('[^']*'|True|False|[-+0-9.e]+)(?=[\s;)]|$)")


def cli_words(command: click.Command | None, text: str) -> str:
    """``text`` with the settings it suggests written as this command's options:
    ``engine='reduced'`` becomes ``--engine reduced``, ``overwrite=True`` ``--overwrite``."""

    def option(match):
        name, value = match.group(1), match.group(2)
        flag = flag_for(command, name)
        if not flag.startswith("--"):
            return match.group(0)
        param = next(p for p in command.params if flag in getattr(p, "opts", ()))
        if getattr(param, "is_flag", False):
            return flag if value == "True" else match.group(0)
        return f"{flag} {value.strip(chr(39))}"

    return SETTING.sub(option, text)


class EosdynGroup(click.Group):
    """Lazy subcommands; every :class:`EosdynError` becomes a one-line ``Error: ...`` with exit
    code 2, and Ctrl-C a one-line note with exit code 130."""

    def _command(self, ctx):
        name = ctx.invoked_subcommand
        return self.get_command(ctx, name) if name else None

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(import_module(module), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ParameterError as exc:
            command = self._command(ctx)
            text = cli_words(command, str(exc)[len(exc.name) + 1:])
            raise click.UsageError(f"{flag_for(command, exc.name)} {text}") from None
        except EosdynError as exc:
            raise click.UsageError(cli_words(self._command(ctx), str(exc))) from None
        except KeyboardInterrupt as exc:
            message = exc.message if isinstance(exc, Interrupted) else "interrupted"
            if not isinstance(exc, Interrupted) or exc.saved is None:
                message += "; nothing saved"
            click.echo(message, err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=EosdynGroup)
@click.version_option(package_name="eosdyn")
def main():
    """eosdyn: gradient descent at the edge of stability, simulated exactly and fast."""
