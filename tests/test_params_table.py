"""The one parameter table: it validates Params, generates the CLI options (with defaults) and
the scenario files follow it; bad values are one-line errors naming the parameter."""

import dataclasses
import math

import click
import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.cli import main
from eosdyn.cli._options import option, parameter_options
from eosdyn.errors import EosdynError, ParameterError
from eosdyn.model.params import PARAMETERS, Parameter, Params, make_params


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_every_field_is_a_row_and_defaults_agree():
    fields = {f.name: f.default for f in dataclasses.fields(Params)}
    assert list(PARAMETERS) == list(fields)
    for name, row in PARAMETERS.items():
        assert row.default == fields[name] == getattr(Params(), name), name
        assert row.validate(row.default) == row.default, name  # the defaults pass their own checks


@pytest.mark.parametrize("command", ["simulate", "check", "compare"])
def test_help_shows_every_parameter_with_its_default(command):
    text = " ".join(cli(command, "--help").output.split())
    text = text[text.index("Options:"):]
    for row in PARAMETERS.values():
        if not row.cli or (command == "compare" and row.name == "hessian"):
            continue
        assert row.flag in text, row.flag
        if row.kind != "bool":
            start = text.index(row.flag + " ")
            assert "[default: " in text[start:start + 900].split(" --")[0], row.flag
    for flag, default in (("--lambda-max", "1e+06"), ("--lambda-min", "10"), ("--label-fraction", "1"),
                          ("--d", "rank"), ("--loss-tol", "1e-14")):
        block = text[text.index(flag + " "):].split(" --")[0]
        assert f"[default: {default}]" in block, block


def test_scan_and_bifurcation_offer_only_their_engines():
    for command in ("scan", "bifurcation"):
        text = cli(command, "--help").output
        assert "[reduced|first-order|network]" in text and "[default: 4096]" in text


def _outside(row: Parameter):
    """A value just outside the row's bounds."""
    if row.lo is not None:
        return row.lo if row.lo_open else (row.lo - 1 if row.kind == "int" else row.lo - 1e-3)
    return row.hi + 1


@pytest.mark.parametrize("name", [n for n, r in PARAMETERS.items() if r.kind in ("int", "float")
                                  and (r.lo is not None or r.hi is not None)])
def test_bounds_from_the_table_are_enforced(name):
    row = PARAMETERS[name]
    for bad in (_outside(row), math.inf, math.nan, "3", True):
        with pytest.raises(ParameterError, match=rf"^{name} must be ") as exc:
            make_params(**{name: bad})
        assert "\n" not in str(exc.value)


def test_infinite_integers_are_parameter_errors_everywhere(tmp_path):
    for name in ("m", "steps"):
        with pytest.raises(ParameterError, match=rf"^{name} must be an integer >= 1, got inf"):
            make_params(**{name: math.inf})
        (tmp_path / f"{name}.toml").write_text(f"[run]\n{name} = inf\n")
        with pytest.raises(ParameterError, match=name):
            eosdyn.load_scenario(tmp_path / f"{name}.toml")
        line = one_error_line(cli("simulate", "--scenario", tmp_path / f"{name}.toml"))
        assert f"--{name} must be an integer" in line
        line = one_error_line(cli("scan", "--grid", "eta=0.1,0.2", "--set", f"{name}=inf", "--out",
                                  tmp_path / "s.zarr"))
        assert f"{name} must be an integer" in line
    with pytest.raises(ParameterError, match="below 2"):
        make_params(m=10**30)


def test_integer_options_accept_scientific_notation():
    assert cli("simulate", "--steps", "1e1", "--json", "--quiet").exit_code == 0
    assert "must be an integer" in one_error_line(cli("simulate", "--m", "1.5"))


def test_adding_a_parameter_is_one_row():
    row = dataclasses.replace(Parameter("momentum", 0.0, "Heavy-ball momentum.", "float", lo=0.0, hi=1.0,
                                        hi_open=True), name="momentum")
    assert row.validate(0.5) == 0.5
    with pytest.raises(ParameterError, match=r"momentum must be a finite number >= 0 and < 1, got 1"):
        row.validate(1)

    @click.command()
    @parameter_options(["m"])
    def cmd(**kw):
        click.echo(repr(kw))

    option(row)(cmd)
    res = CliRunner().invoke(cmd, ["--momentum", "0.9", "--m", "8"])
    assert res.exit_code == 0 and "'momentum': 0.9" in res.output and "'m': 8" in res.output
    assert "[default: 0]" in CliRunner().invoke(cmd, ["--help"]).output


def test_scenario_unknown_table_and_duplicate_keys_name_file_and_line(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\n\n[runn]\neta = 0.1\n')
    with pytest.raises(EosdynError, match=r"'bad.toml', line 3: unknown table \[runn\]"):
        eosdyn.load_scenario(f)
    f.write_text("[run]\neta = 0.1\nm = 64\n\n[data]\n# twice\neta = 0.2\n")
    with pytest.raises(EosdynError, match=r"'bad.toml', line 7: eta is set twice \(also in \[run\], line 2\)"):
        eosdyn.load_scenario(f)
    f.write_text("eta = 0.1\n[init]\nseed = 1\n[run]\n\"eta\" = 0.3\n")
    with pytest.raises(EosdynError, match=r"line 5: eta is set twice \(also in the top level, line 1\)"):
        eosdyn.load_scenario(f)
    f.write_text("[run]\nmm = 3\n")
    with pytest.raises(EosdynError, match="line 2: unknown key 'mm'"):
        eosdyn.load_scenario(f)
    line = one_error_line(cli("simulate", "--scenario", f))
    assert "unknown key 'mm'" in line
    f.write_text("[run]\nlambda-max = 5.0\n[data]\nlambda_max = 6.0\n")
    with pytest.raises(EosdynError, match="lambda_max is set twice"):
        eosdyn.load_scenario(f)
