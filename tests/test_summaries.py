"""Summaries and phases exact at any recording stride (the per-step edge tracker).

The tracker (eosdyn.kernels.edge_numba) is checked against a numpy twin that classifies every
step of the same trajectory with ``numpy.linalg.eigvalsh``; summaries are checked to be
identical at every stride and chunking, for every engine.
"""

import numpy as np
import pytest
import twins

import eosdyn
from eosdyn.analysis import replay
from eosdyn.analysis.summary import summarize
from eosdyn.api import build_problem, run_problem
from eosdyn.engines import METHODS
from eosdyn.engines.base import Engine, Problem
from eosdyn.kernels import layout as L
from eosdyn.model.params import make_params
from eosdyn.plot.common import phase_columns, window_counts

#: default data at eta = 0.1: above 2/eta from step ~200, EoS excursions, period-2 flips from ~6400
EOS = dict(eta=0.1, steps=8_000, loss_tol=0.0)
KEYS = ("first_cross_step", "n_eos_excursions", "n_period2_flips", "n_anomalies", "max_eta_sharpness",
        "loss_min", "loss_max", "steps_processed", "late_edge_ratio")


def attrs_of(ds):
    out = {k: ds.attrs[k] for k in KEYS}
    out["late_edge_ratio"] = None if np.isnan(out["late_edge_ratio"]) else out["late_edge_ratio"]  # NaN != NaN
    if ds.attrs["status"] != "max_steps":  # stopped early: its second half is read off the recorded rows
        del out["late_edge_ratio"]
    out["phase_steps"] = tuple(int(x) for x in ds.attrs["phase_steps"])
    return out


@pytest.fixture(scope="module")
def eos_runs():
    runs = {k: eosdyn.simulate(record_every=k, **EOS) for k in (1, 2, 7, 1000)}
    longer = eosdyn.simulate(record_every=1, **{**EOS, "steps": EOS["steps"] + 1})
    return runs, longer


def _check_against_twin(ds, longer, T):
    """The tracker's summaries, phases and anomalies of the stride-1 run ``ds`` (``T`` steps)
    against the numpy twin over the states of ``longer`` (the same run one step further, so the
    same trajectory bit for bit); returns ``attrs_of(ds)``."""
    states = replay.states_at(longer, np.arange(T + 2))
    ref = twins.edge_track(states, ds["data_s"].values, ds.attrs["n"], ds.attrs["m"], ds.attrs["eta"])
    got = attrs_of(ds)
    for key in ("first_cross_step", "n_eos_excursions", "n_period2_flips", "n_anomalies", "phase_steps"):
        assert got[key] == ref[key], key
    assert got["max_eta_sharpness"] == pytest.approx(ref["max_eta_sharpness"], rel=1e-12)
    np.testing.assert_array_equal(ds["phase"].values, ref["phase"])
    np.testing.assert_array_equal(ds["anomaly"].values, ref["anomaly"])
    return got


def test_tracker_matches_numpy_twin_every_step(eos_runs):
    runs, longer = eos_runs
    ds = runs[1]
    T = EOS["steps"]
    got = _check_against_twin(ds, longer, T)
    # the run has all of it: excursions, flips, anomalies, the four phases
    assert got["n_eos_excursions"] >= 5 and got["n_period2_flips"] >= 50 and got["n_anomalies"] > 0
    assert all(got["phase_steps"][k] > 0 for k in (1, 2, 3, 4))
    assert got["loss_min"] == ds["loss"].min() and got["loss_max"] == ds["loss"].max()
    # late-time mean sharpness / edge: every step from ceil(T/2) = 4000 to T, here all recorded
    late = ds["step"].values >= (T + 1) // 2
    assert got["late_edge_ratio"] == pytest.approx(np.mean(ds["eta_sharpness"].values[late] / 2), rel=1e-12)


def test_block_path_tracker_matches_numpy_twin_every_step():
    """Rank 30 (> R_FULL: the tracker's eigenvalues on the block path, the general observation of
    the recording loop): the same summaries at strides 1 and 7, equal to the numpy twin's."""
    from eosdyn.kernels.eigen_base_numba import R_FULL

    kw = dict(rank=30, n=60, eta=0.1, steps=1500, loss_tol=0.0)
    assert kw["rank"] > R_FULL
    ds = eosdyn.simulate(record_every=1, **kw)
    got = _check_against_twin(ds, eosdyn.simulate(record_every=1, **{**kw, "steps": kw["steps"] + 1}),
                              kw["steps"])
    assert got["n_eos_excursions"] > 5 and got["n_anomalies"] > 0
    assert attrs_of(eosdyn.simulate(record_every=7, **kw)) == got


def test_summaries_identical_at_every_stride(eos_runs):
    runs, _ = eos_runs
    ref = attrs_of(runs[1])
    for k, ds in runs.items():
        assert attrs_of(ds) == ref, k
        info = summarize(ds)
        assert info["n_period2_flips"] == ref["n_period2_flips"]
        assert info["summaries_over"] == "every step"
    # the windows partition the run: their counts add up to the totals
    for ds in runs.values():
        counts = window_counts(ds)
        assert tuple(np.rint(counts.sum(axis=0)).astype(int)) == ref["phase_steps"]
        assert ds["window_steps"].values.sum() == EOS["steps"] + 1
        assert ds["window_flips"].values.sum() == ref["n_period2_flips"]
        assert ds["window_anomalies"].values.sum() == ref["n_anomalies"]


def test_period2_orbit_at_even_stride_does_not_alias(eos_runs):
    runs, _ = eos_runs
    one, two = runs[1], runs[2]
    late = two.step.values >= 7000  # period-2 flips: the phase alternates every step
    assert len(set(two["phase"].values[late])) <= 2   # recorded rows see one parity only ...
    frac = two["window_phase_fraction"].values[late]
    assert (frac.max(axis=1) < 1).mean() > 0.5        # ... the windows see both
    # display columns from the stride-2 windows equal those of the stride-1 run
    e1, f1 = phase_columns(one.step.values, window_counts(one), columns=400)
    e2, f2 = phase_columns(two.step.values, window_counts(two), columns=400)
    np.testing.assert_array_equal(e1, e2)
    assert np.abs(f1 - f2).max() <= 2 / 20  # one window per column edge may move


def test_long_run_summaries_stride_independent():
    """3e5 steps at rank 2 (EoS with excursions and flips): stride 1, the default (3) and 1000."""
    kw = dict(rank=2, eta=0.1, steps=300_000)
    assert make_params(**kw).stride == 3
    got = [attrs_of(eosdyn.simulate(record_every=k, **kw)) for k in (None, 1000, 1)]
    assert got[0] == got[1] == got[2]
    assert got[0]["n_eos_excursions"] > 100 and got[0]["n_period2_flips"] > 1000


@pytest.mark.parametrize("engine,kw", [
    ("full", dict(m=64, steps=3000, eta=0.1)),
    ("first-order", dict(steps=3000, eta=0.1)),
    ("flow", dict(steps=3000)),
])
def test_other_engines_stride_and_chunk_independent(engine, kw):
    got = [attrs_of(eosdyn.simulate(engine=engine, record_every=k, loss_tol=0.0, **kw)) for k in (1, 7)]
    assert got[0] == got[1]
    params = make_params(engine=engine, record_every=5, loss_tol=0.0, **kw)
    pb = build_problem(params)
    eng = METHODS[engine](pb)
    t = 0
    for c in [1, 2, 500, 13, 1000, 10_000]:
        if pb.progress.done:
            break
        eng.advance(t, min(t + c, params.steps + 1))
        t = pb.progress.next_step
    assert pb.progress.done
    whole = build_problem(params)
    run_problem(whole)
    np.testing.assert_array_equal(pb.track_i, whole.track_i)
    np.testing.assert_array_equal(pb.track_f, whole.track_f)
    np.testing.assert_array_equal(pb.rec[:pb.progress.rows], whole.rec[:whole.progress.rows])


def test_excursions_are_not_flips_at_eta_002():
    """The issue's example: at eta = 0.02 most crossings of 2/eta are period-2 flips."""
    ds = eosdyn.simulate(eta=0.02, record_every=1)
    info = summarize(ds)
    above = ds["eta_sharpness"].values > 2  # rows = every step: runs of steps above
    runs = [len(x) for x in "".join("1" if a else "0" for a in above).split("0") if x]
    assert info["n_eos_excursions"] == sum(k >= 2 for k in runs) < 1000
    assert info["n_period2_flips"] == sum(k == 1 for k in runs[:-1]) + (runs[-1] == 1 and not above[-1])
    assert info["n_period2_flips"] > 20 * info["n_eos_excursions"]


def test_stationary_sharpness_is_not_sharpening():
    lazy = eosdyn.simulate(eosdyn.load_scenario("scenarios/lazy-wide.toml"), steps=20_000, record_every=100)
    steps = lazy.attrs["phase_steps"]
    assert steps[L.PH_STATIONARY] == 20_001 and steps[L.PH_I] == 0
    assert set(np.unique(lazy["phase"].values)) == {L.PH_STATIONARY}
    cat = eosdyn.simulate(eosdyn.load_scenario("scenarios/catapult.toml"), record_every=1)
    phase, lam, eta = cat["phase"].values, cat["sharpness"].values, cat.attrs["eta"]
    assert cat.attrs["status"] == "converged"
    assert np.all(phase[-50:] == L.PH_STATIONARY)       # the converged tail
    dl = np.abs(np.diff(lam))
    clear = np.abs(dl / (1e-9 * 2 / eta) - 1) > 1e-3    # away from the tolerance itself
    np.testing.assert_array_equal((phase[:-1] == L.PH_STATIONARY)[clear], (dl <= 1e-9 * 2 / eta)[clear])
    assert 5 not in summarize(cat)["phases"] and summarize(cat)["phase_steps"]["stationary"] > 0


def test_untracked_runs_say_so():
    params = make_params(steps=3000, record_every=10)
    pb0 = build_problem(params)
    pb = Problem.create(pb0.params, pb0.data, pb0.init, track=False)
    ds = run_problem(pb)
    eosdyn.validate(ds)
    assert ds.attrs["summaries_over"] == "recorded steps"
    assert np.isnan(ds["window_phase_fraction"].values).all() and (ds["window_flips"] == -1).all()
    tracked = eosdyn.simulate(params)
    np.testing.assert_array_equal(ds["loss"].values, tracked["loss"].values)  # same run


def test_engines_declare_capabilities():
    for name, cls in METHODS.items():
        assert issubclass(cls, Engine) and cls.name == name
        assert not hasattr(cls, "order")
        caps = cls.capabilities()
        assert caps["exact"] == (caps["truncation"] is None), name
    assert METHODS["first-order"].truncation == "first-order"
    assert METHODS["flow"].truncation == "flow" and METHODS["full"].needs_parameters
    assert [k for k, c in METHODS.items() if c.supports_scan] == ["reduced", "first-order", "network"]
    assert not METHODS["network"].tracks_every_step and METHODS["network"].records_hessian
    from eosdyn.engines.full_optim import FullOptimEngine
    from eosdyn.engines.momentum import ReducedOptimEngine

    for cls in (ReducedOptimEngine, FullOptimEngine):  # the optimizer engines (eosdyn.optim.select)
        assert issubclass(cls, Engine) and cls.capabilities()["exact"] and not hasattr(cls, "order")
        assert cls.per_step_tracking(make_params(optimizer="momentum", engine=cls.name))
        assert not cls.per_step_tracking(make_params(batch_size=10, engine=cls.name))


def test_summarize_reads_the_kernel_attrs_and_falls_back_on_rows(eos_runs):
    runs, _ = eos_runs
    ds = runs[1000]
    info = summarize(ds)
    assert (info["n_eos_excursions"], info["n_period2_flips"], info["anomalies"]) == (
        ds.attrs["n_eos_excursions"], ds.attrs["n_period2_flips"], ds.attrs["n_anomalies"])
    old = runs[1].copy()  # a file without the summary attrs (written before they existed)
    for key in ("phase_steps", "n_eos_excursions", "n_period2_flips", "n_anomalies", "summaries_over"):
        del old.attrs[key]
    fallback = summarize(old)
    assert fallback["summaries_over"] == "recorded steps"
    for key in ("first_cross_step", "n_eos_excursions", "anomalies", "phase_steps"):
        assert fallback[key] == summarize(runs[1])[key], key


def test_late_edge_ratio_is_over_every_step_of_the_late_window():
    """The late-time mean sharpness / edge does not depend on the stride (it once was a mean over the
    recorded rows: 0.9999952805 at the default stride, 0.9999949974 at stride 1 over 10^6 steps);
    a run that stops early gets its second half from the recorded rows."""
    kw = dict(rank=2, eta=0.1, steps=20_001)
    one, sparse = (eosdyn.simulate(record_every=k, **kw) for k in (1, 997))
    rows = one["eta_sharpness"].values[one["step"].values >= 10_001] / 2
    assert one.attrs["late_edge_ratio"] == sparse.attrs["late_edge_ratio"]
    assert sparse.attrs["late_edge_ratio"] == pytest.approx(rows.mean(), rel=1e-12)
    assert summarize(sparse)["late_edge_ratio"] == sparse.attrs["late_edge_ratio"]
    # a mean over sparse rows is not it
    sp = sparse["eta_sharpness"].values[sparse["step"].values >= 10_001] / 2
    assert sp.mean() != sparse.attrs["late_edge_ratio"]
    gone = eosdyn.simulate(eta=5.0, steps=10_000, record_every=1)
    T = int(gone["step"].values[-1])
    assert gone.attrs["status"] == "diverged" and T < 5000
    half = gone["eta_sharpness"].values[gone["step"].values >= (T + 1) // 2] / 2
    assert gone.attrs["late_edge_ratio"] == pytest.approx(np.mean(half[np.isfinite(half)]), rel=1e-12)
