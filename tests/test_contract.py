"""The contract: one status enumeration read by name, one initial-state builder, named bundles."""

import numpy as np
import pytest

import eosdyn
from eosdyn import status as S
from eosdyn.analysis import scan as SC
from eosdyn.errors import ParameterError
from eosdyn.kernels import batch_numba as B
from eosdyn.model.params import make_params
from eosdyn.status import Status


def test_status_enumeration_and_cf_flags(tmp_path):
    assert [s.label for s in Status] == ["not_run", "max_steps", "converged", "diverged"]
    assert Status.of("Converged") is Status.CONVERGED and Status.of(2) is Status.DIVERGED
    with pytest.raises(ValueError, match="unknown status"):
        Status.of("exploded")
    ds = eosdyn.simulate(steps=300, eta=5.0)  # diverges
    assert ds.attrs["status"] == "diverged" and ds.attrs["status_code"] == int(Status.DIVERGED)
    meanings = ds.attrs["status_flag_meanings"].split()
    values = list(ds.attrs["status_flag_values"])
    assert meanings[values.index(ds.attrs["status_code"])] == ds.attrs["status"]
    path = eosdyn.save(ds, tmp_path / "run.nc")
    back = eosdyn.open_run(path)
    assert Status.of(back.attrs["status"]) is Status(int(back.attrs["status_code"]))


def test_scan_and_bifurcation_status_variables_read_by_name(tmp_path):
    sc = eosdyn.scan(["eta=0.01,5"], tmp_path / "s.zarr", steps=300, record=()).load()
    var = sc["status"]
    assert var.attrs["flag_meanings"] == "not_run max_steps converged diverged"
    assert list(S.decode(var.values, var.attrs)) == ["max_steps", "diverged"]
    bif = eosdyn.bifurcation(make_params(steps=300), values=[0.01, 5.0], keep=10)
    assert list(S.decode(bif["status"].values, bif["status"].attrs)) == ["max_steps", "diverged"]
    assert {"n_eos_excursions", "n_period2_flips"} <= set(bif.variables) & set(sc.variables)


@pytest.fixture()
def init_file(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "init.npz"
    np.savez(path, A=0.01 * rng.standard_normal(50), W=0.01 * rng.standard_normal((50, 5)))
    return path


def test_explicit_m_must_match_the_init_file(init_file):
    ds = eosdyn.simulate(init=init_file, steps=20)
    assert ds.attrs["m"] == 50
    for call in (lambda: eosdyn.simulate(init=init_file, m=64, steps=20),
                 lambda: eosdyn.compare(init=init_file, m=64, steps=20),
                 lambda: eosdyn.simulate(make_params(m=64), init=str(init_file), steps=20)):
        with pytest.raises(ParameterError, match=r"^m must equal the width 50 of the init file"):
            call()
    A, W = np.load(init_file)["A"], np.load(init_file)["W"]
    with pytest.raises(ParameterError, match="m must equal the width 50 of A, W"):
        eosdyn.simulate(A=A, W=W, m=64, steps=20)
    assert eosdyn.simulate(A=A, W=W, steps=20).attrs["m"] == 50


def test_scan_cells_share_one_builder(init_file):
    """Every cell of a scan with an init file runs the init file's state at its width (the
    first cell used to get another m than the rest)."""
    base = make_params(steps=200, init=str(init_file))
    spec = SC.make_spec(base, ["eta=0.01,0.02,0.03"], record=())
    params = [spec.cell_params((i,)) for i in range(3)]
    x = SC.cell_inputs(params)
    assert list(x.m) == [50.0, 50.0, 50.0]
    assert np.all(x.a0 == x.a0[0]) and np.all(x.G0 == x.G0[0])
    ref = eosdyn.simulate(params[0])
    res = SC.run_batch(spec, params)
    assert res["fsum"][0, B.F_FINAL_LOSS] == ref["loss"].values[-1]
    with pytest.raises(ParameterError, match="m must equal"):
        SC.cell_inputs([p.replace(m=64) for p in params])
    with pytest.raises(ParameterError, match="m must equal"):
        SC.run_batch(SC.make_spec(base, ["m=50,64"], record=()), [base.replace(m=64)])


def test_batch_outputs_are_named():
    """run_cell's final state lands in out.final_a / final_u / final_G, equal to simulate's."""
    spec = SC.make_spec(make_params(steps=500), ["eta=0.01,0.02"], record=())
    params = [spec.cell_params((i,)) for i in range(2)]
    res = SC.run_batch(spec, params)
    for c, p in enumerate(params):
        ds = eosdyn.simulate(p)
        assert res["final_a"][c, 0] == float(ds["final_a"])
        np.testing.assert_array_equal(res["final_u"][c], ds["final_u"].values)
        np.testing.assert_array_equal(res["final_G"][c], ds["final_G"].values)
    assert set(B.CellOut._fields) == {"traj", "orbit", "fsum", "isum", "final_a", "final_u", "final_G"}
