"""eosdyn check's readings of statements with open constants (issue 9 §6): Theorem 2's rho, Lemma
3.2's eps_2 and c, and the paper's wording printed beside every reading."""

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from eosdyn.analysis import check as C
from eosdyn.analysis import replay
from eosdyn.analysis.check import statements as CS
from eosdyn.cli import main

NO_FLOW = C.CheckOptions(flow=False)


def ctx(eta=0.1, opts=NO_FLOW, **P):
    """A context whose replayed series are ``P`` (the recorded run = the same series)."""
    lam = np.asarray(P["sharpness"], float)
    T = lam.size
    ds = xr.Dataset({"sharpness": ("step", lam)}, coords={"step": np.arange(T)})
    ds.attrs.update(eta=eta, n=8, m=100, y_perp2=0.0, engine="reduced", status="max_steps")
    series = {"step": np.arange(T), **{k: np.asarray(v, float) for k, v in P.items()}}
    return C.Context(ds, series, opts, eta, 8.0, 100.0, 8.0, 2, ds.step.values)


# --- Theorem 2: the smallest rho ---------------------------------------------------------------

def brute_force_rho(lam_eta, dv):
    """The smallest rho >= 0 (among 0 and the pairs' margins) such that every step pair with
    eta Lambda(t), eta Lambda(t+1) > 2 (1 + rho) has |Dv1(t+1)| > |Dv1(t)|, by trying each."""
    margin = np.minimum(lam_eta[:-1], lam_eta[1:]) / 2 - 1
    grows = np.abs(dv[1:]) > np.abs(dv[:-1])
    for rho in np.sort(np.concatenate([[0.0], margin[margin > 0]])):
        if np.all(grows[margin > rho]):
            return float(rho)
    raise AssertionError("unreachable: the largest margin leaves no pair")


def test_theorem_2_reports_the_smallest_rho_for_which_it_holds():
    # eta = 0.1, 2/eta = 20; pairs at eta Lambda / 2 - 1 = 0.01 do not grow, those at 0.05 do
    lam = [19, 20.2, 20.2, 20.2, 21, 21, 21, 21, 19]
    dv = [1.0, 1.0, 0.9, 0.8, 1.0, 1.1, 1.2, 1.3, 1.0]
    c = ctx(sharpness=lam, Dv1=dv)
    row = CS.theorem_2_2(c)
    assert row.values["rho"] == pytest.approx(0.01, rel=1e-12) == brute_force_rho(0.1 * np.array(lam), np.array(dv))
    assert row.holds is True and row.values["pairs"] == 3 and row.failing.size == 0
    assert row.values["c7"] == pytest.approx(1.3 / 1.2 - 1, rel=1e-12)   # smallest factor above rho
    assert row.values["violations_at_rho_0"] == 2   # (1, 2) and (2, 3) shrink; (3, 4) grows
    assert "smallest ρ" in row.measured and "fails on 2 of 6" in row.measured
    # Theorem 2(1) uses the same rho: the excursion above 20.2 comes back
    t21 = CS.theorem_2_1(c)
    assert t21.values["rho"] == row.values["rho"] and t21.holds is True
    # a given rho is checked as given
    fixed = CS.theorem_2_2(ctx(sharpness=lam, Dv1=dv, opts=C.CheckOptions(flow=False, rho=0.0)))
    assert fixed.holds is False and list(fixed.failing) == [1, 2]
    assert fixed.values["rho_min"] == pytest.approx(0.01, rel=1e-12)


def test_theorem_2_is_na_when_only_a_vacuous_rho_works():
    lam = [19, 21, 21, 19]
    dv = [1.0, 1.0, 0.5, 1.0]          # the only pairs above 2/eta shrink
    row = CS.theorem_2_2(ctx(sharpness=lam, Dv1=dv))
    assert row.holds is None and "n/a" in row.measured


# --- Lemma 3.2: per phase-II stretch, robust to rounding ----------------------------------------

def lemma_3_2_series(noise, eps2_level=0.0, shortfall=1.001):
    """A phase-II stretch (eta Lambda rising from 2.1 to 2.4) where |Dv1| grows by
    ``shortfall * (1 + tau)`` per step; eps_2 = ``eps2_level`` + rounding noise."""
    lam = np.array([19, 21, 21.5, 22, 22.5, 23, 23.5, 24, 19, 18.0])
    tau = 0.1 * lam - 2
    dv = np.ones(lam.size)
    for t in range(1, lam.size):
        dv[t] = dv[t - 1] * (shortfall * (1 + tau[t - 1]) if lam[t - 1] > 20 else 0.9)
    eps2 = eps2_level + noise
    return dict(sharpness=lam, Dv1=dv, D2=(2 * dv) ** 2, eps2=eps2)


def test_lemma_3_2_verdict_does_not_depend_on_rounding_level_eps2():
    rng = np.random.default_rng(0)
    noise = 1e-16 * rng.standard_normal(10)
    rows = [CS.lemma_3_2(ctx(**lemma_3_2_series(sign * noise))) for sign in (1, -1)]
    rows.append(CS.lemma_3_2(ctx(**lemma_3_2_series(np.abs(noise)))))
    rows.append(CS.lemma_3_2(ctx(**lemma_3_2_series(-np.abs(noise)))))
    for r in rows:
        assert r.holds is True
        assert r.values["premise_steps"] == 6 and r.values["stretches"] == 1  # steps 1..6 of phase II
        assert r.values["violations"] == 0


def test_lemma_3_2_fails_where_growth_falls_short_of_the_stretch_constants():
    # eps_2 = 1e-3 on the stretch, |Dv1| / ||D|| = 0.5: c = 500, factor (1 + tau)(1 - 0.001 - 0.002)
    row = CS.lemma_3_2(ctx(**lemma_3_2_series(np.zeros(10), eps2_level=1e-3, shortfall=0.99)))
    assert row.holds is False and list(row.failing) == [1, 2, 3, 4, 5, 6]
    assert row.values["median_stretch_c"] == pytest.approx(500, rel=1e-9)
    row = CS.lemma_3_2(ctx(**lemma_3_2_series(np.zeros(10), eps2_level=1e-3, shortfall=0.998)))
    assert row.holds is True


def test_lemma_3_2_premise_is_assumption_3_6_at_the_start_of_the_stretch():
    s = lemma_3_2_series(np.zeros(10), eps2_level=0.6)   # c = 0.5 / 0.6 < 1 everywhere
    row = CS.lemma_3_2(ctx(**s))
    assert row.holds is None and "premise never met" in row.measured


# --- every row says what the paper states and what eosdyn checks ---------------------------------

def test_every_statement_has_the_papers_wording_and_a_reading():
    keys = [f.__name__ for f in CS.CHECKS]
    assert set(keys) == set(C.WORDING)
    for paper, reading in C.WORDING.values():
        assert len(paper) > 30 and len(reading) > 30 and paper != reading


@pytest.fixture(scope="module")
def default_33k(tmp_path_factory):
    """The default scenario through its first 2/eta crossing and some EoS cycles, saved once."""
    import eosdyn

    path = tmp_path_factory.mktemp("run") / "run.nc"
    eosdyn.save(eosdyn.simulate(steps=33_000), path)
    return path


def test_cli_check_prints_wording_and_smallest_rho(default_33k):
    res = CliRunner().invoke(main, ["check", str(default_33k), "--json", "--no-flow"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    for row in rep["rows"]:
        paper, _ = C.WORDING[row["key"]]
        assert row["paper"] == paper and row["reading"], row["key"]
    t22 = next(r for r in rep["rows"] if r["key"] == "theorem_2_2")
    # the smallest rho, from an independent brute force over the replayed series
    import eosdyn

    ds = eosdyn.open_run(default_33k)
    P = replay.per_step(ds, hessian=False)
    expect = brute_force_rho(float(ds.attrs["eta"]) * P["sharpness"], P["Dv1"])
    assert expect > 0
    assert t22["values"]["rho"] == pytest.approx(expect, rel=1e-12)
    assert t22["holds"] is True and f"{expect:.4g}" in t22["reading"]
    res = CliRunner().invoke(main, ["check", str(default_33k), "--no-flow", "--quiet"])
    assert res.exit_code == 0
    for text in ("the paper", "eosdyn's reading", "Per phase-II stretch", "There exists ρ = O(1)"):
        assert text in res.output, text
