"""Command-line options generated from the ONE parameter table (:mod:`eosdyn.model.params`).

Every run parameter becomes ``--name-with-dashes`` with its type, choices, help and
``[default: ...]`` taken from the table; an option not given is ``None``, so that a scenario
file's value is kept (:func:`given`). Flags: a boolean defaulting to false is ``--hessian``, one
defaulting to true is ``--center/--no-center``; lists are comma-separated (``--eigenvalues
1e6,100,10``).
"""

from __future__ import annotations

import click

from ..model.params import PARAMETERS, Parameter, default_text

#: simulate's options that are about its own output, not about the run
OUTPUT_OPTIONS = ("out", "plot", "window", "as_json", "quiet", "overwrite")


class Integer(click.ParamType):
    """An integer, also written ``1e9`` or ``100_000`` (as in scenario files)."""

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            x = float(text)
            if x.is_integer():
                return int(x)
        except (ValueError, OverflowError):
            pass
        self.fail(f"must be an integer (e.g. 4096 or 1e6), got {text!r}", param, ctx)


INTEGER = Integer()


def _list_callback(row: Parameter):
    cast = int if row.kind == "ints" else float

    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return tuple(cast(v) for v in value.split(","))
        except ValueError:
            kind = "integers" if row.kind == "ints" else "numbers"
            raise click.BadParameter(f"must be comma-separated {kind}, got {value!r}", param=param) from None

    return parse


def _help(row: Parameter, choices) -> str:
    text = row.help
    if row.choice_help:
        helps = dict(zip(row.choices, row.choice_help, strict=True))
        text += " " + "; ".join(f"{c}: {helps[c]}" for c in choices if c in helps) + "."
    if row.kind == "bool" and row.default is True:
        return f"{text} [default: {row.name.replace('_', '-')}]"
    if row.kind == "bool":
        return text
    return f"{text} [default: {default_text(row)}]"


def option(row: Parameter, choices: tuple | None = None):
    """The click option of one parameter (``choices`` narrows a choice parameter)."""
    choices = tuple(choices) if choices is not None else row.choices
    kwargs = {"help": _help(row, choices), "default": None}
    decls = [row.flag, row.name]
    if row.kind == "bool":
        if row.default is True:
            decls = [f"{row.flag}/--no-{row.flag[2:]}", row.name]
        else:
            kwargs["is_flag"] = True
    elif row.kind == "choice":
        kwargs["type"] = click.Choice(list(choices))
    elif row.kind in ("floats", "ints"):
        kwargs["callback"] = _list_callback(row)
        kwargs["metavar"] = row.metavar or "A,B,..."
    elif row.kind == "path":
        kwargs["type"] = click.Path(dir_okay=False)
    else:
        kwargs["type"] = {"int": INTEGER, "float": float, "str": str}[row.kind]
    return click.option(*decls, **kwargs)


def parameter_options(names=None, exclude=(), choices: dict | None = None):
    """A decorator adding the options of ``names`` (default: every CLI parameter), in table order."""
    rows = [r for r in PARAMETERS.values() if r.cli and r.name not in exclude and (names is None or r.name in names)]
    unknown = set(names or ()) - set(PARAMETERS)
    if unknown:  # a typo here is a programming error
        raise KeyError(f"not parameters: {sorted(unknown)}")
    choices = choices or {}

    def decorate(func):
        for row in reversed(rows):
            func = option(row, choices.get(row.name))(func)
        return func

    return decorate


def scenario_option(help="TOML scenario file; options given here override its values."):
    return click.option("--scenario", type=click.Path(dir_okay=False), help=help)


def given(options: dict) -> dict:
    """The options actually given (not None)."""
    return {k: v for k, v in options.items() if v is not None}


def run_params(options: dict, scenario=None):
    """:class:`~eosdyn.model.params.Params` from run options (and a scenario file), as
    ``eosdyn simulate`` builds them."""
    from ..model.params import make_params
    from ..model.scenario import load_scenario

    values = given(options)
    return load_scenario(scenario, **values) if scenario else make_params(**values)
