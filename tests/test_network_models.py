"""Network engine: model specs, forward formulas against numpy twins, inputs, weights files."""

import numpy as np
import pytest
from net_reference import cnn, conv, mlp, resnet18

import eosdyn
from eosdyn.errors import DataError, EosdynError, ParameterError
from eosdyn.nets import inputs, spec

jax = pytest.importorskip("jax")  # in the test extra; skipped only where JAX is not installed
jnp = jax.numpy

from eosdyn.nets import models  # noqa: E402


@pytest.mark.parametrize("text, kind, act, depth", [
    ("linear2", "linear2", "linear", 1), ("deep-linear:3", "deep-linear", "linear", 3),
    ("mlp:tanh:2", "mlp", "tanh", 2), ("mlp:gelu:1", "mlp", "gelu", 1), ("cnn", "cnn", "relu", 2),
    ("cnn:elu", "cnn", "elu", 2), ("cnn:tanh:3", "cnn", "tanh", 3), ("resnet18", "resnet18", "relu", 20),
])
def test_spec_parse(text, kind, act, depth):
    s = spec.parse(text)
    assert (s.kind, s.act, s.depth) == (kind, act, depth)
    assert spec.parse(str(s)) == s


@pytest.mark.parametrize("text, fragment", [
    ("mlp:swish:2", "activation must be one of tanh, relu"), ("mlp:tanh", "malformed"),
    ("deep-linear:0", "depth L must be an integer in 1..64"), ("deep-linear:x", "depth L"),
    ("transformer", "must be one of linear2, deep-linear:L"), ("resnet18:2", "malformed"), ("", "must be one of"),
])
def test_spec_errors_are_one_line(text, fragment):
    with pytest.raises(ParameterError) as e:
        spec.parse(text)
    assert fragment in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith("model ")


def test_model_needs_network_engine():
    with pytest.raises(ParameterError, match="model 'mlp:tanh:2' needs engine network"):
        eosdyn.model.params.make_params(model="mlp:tanh:2", engine="full")
    with pytest.raises(ParameterError, match="parameterization must be ntk for engine reduced"):
        eosdyn.model.params.make_params(parameterization="standard")
    with pytest.raises(ParameterError, match="multiple of 8"):
        eosdyn.model.params.make_params(model="resnet18", engine="network", m=12)


def test_no_jax_gives_one_line(monkeypatch):
    import builtins

    from eosdyn.nets import _jax

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "jax" or name.startswith("jax."):
            raise ImportError("no jax")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(EosdynError, match=r'engine network needs JAX: pip install "eosdyn\[nets\]"'):
        _jax.require()


def _weights(model, seed=0, scale=0.8):
    return models.init_params(model, scale, scale, np.random.default_rng(seed))


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "softplus", "elu", "linear"])
def test_mlp_forward_matches_numpy(act):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 7))
    model = models.build(spec.parse(f"mlp:{act}:3"), (5,), 6)
    w = _weights(model)
    with jax.enable_x64(True):
        got = np.asarray(model.apply({k: jnp.asarray(v) for k, v in w.items()}, jnp.asarray(X.T)))
    np.testing.assert_allclose(got, mlp(w, X, act), rtol=1e-13, atol=1e-14)


def test_linear2_is_the_papers_model_and_draw():
    """f = A^T W x / sqrt(m), and the ntk draw is eosdyn.model.init.gaussian_parameters (A then W)."""
    m, d = 9, 4
    model = models.build(spec.parse("linear2"), (d,), m)
    w = models.init_params(model, 0.3, 0.7, eosdyn.model.init.init_rng(5))
    A, W = eosdyn.model.init.gaussian_parameters(m, d, 0.3, 0.7, 5)
    np.testing.assert_array_equal(w["A"], A)
    np.testing.assert_array_equal(w["W1"], W)
    X = np.random.default_rng(2).standard_normal((d, 3))
    with jax.enable_x64(True):
        got = np.asarray(model.apply({k: jnp.asarray(v) for k, v in w.items()}, jnp.asarray(X.T)))
    np.testing.assert_allclose(got, A @ W @ X / np.sqrt(m), rtol=1e-14)


@pytest.mark.parametrize("text, shape, m", [("mlp:tanh:2", (6,), 5), ("cnn:softplus:2", (8, 8, 1), 4),
                                            ("resnet18", (8, 8, 2), 8)])
def test_standard_parameterization_has_the_same_function_at_init(text, shape, m):
    """Same draw: standard weights are the ntk ones times c_l, so f is identical at init."""
    s = spec.parse(text)
    ntk, std = models.build(s, shape, m, "ntk"), models.build(s, shape, m, "standard")
    wn, ws = _weights(ntk, 3), _weights(std, 3)
    x = np.random.default_rng(4).standard_normal((3, *shape))
    with jax.enable_x64(True):
        fn = np.asarray(ntk.apply({k: jnp.asarray(v) for k, v in wn.items()}, jnp.asarray(x)))
        fs = np.asarray(std.apply({k: jnp.asarray(v) for k, v in ws.items()}, jnp.asarray(x)))
    np.testing.assert_allclose(fs, fn, rtol=1e-12, atol=1e-14)
    assert std.c_out == 1.0 and all(std.mult(i) == 1.0 for i in range(len(std.layers)))


def test_conv_matches_numpy_loops():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        for H, C, O, k, s in [(8, 3, 5, 3, 2), (7, 2, 4, 3, 1), (8, 4, 6, 1, 2), (5, 1, 2, 3, 2)]:
            h, K = rng.standard_normal((2, H, H, C)), rng.standard_normal((O, C, k, k))
            np.testing.assert_allclose(np.asarray(models.conv(jnp.asarray(h), jnp.asarray(K), s)),
                                       conv(h, K, s), rtol=1e-13, atol=1e-13)


def test_cnn_and_resnet_forward_match_numpy():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 8, 8, 2))
    for text, m, twin in [("cnn:tanh:3", 4, lambda w: cnn(w, x, "tanh")), ("resnet18", 16, lambda w: resnet18(w, x))]:
        model = models.build(spec.parse(text), (8, 8, 2), m)
        w = _weights(model, 1, 1.0)
        with jax.enable_x64(True):
            got = np.asarray(model.apply({k: jnp.asarray(v) for k, v in w.items()}, jnp.asarray(x)))
        np.testing.assert_allclose(got, twin(w), rtol=1e-12, atol=1e-13)
    assert len([k for k in w if k.startswith("W")]) == 20   # resnet18: 17 convs + 3 shortcuts


def test_image_inputs():
    n = 4
    X = np.arange(3072 * n, dtype=float).reshape(n, 3072).T       # columns = CIFAR rows (CHW)
    x, shape = inputs.network_inputs(spec.parse("cnn"), X, "cifar10:/x", "cnn")
    assert shape == (32, 32, 3) and x.shape == (n, 32, 32, 3)
    assert x[1, 0, 1, 2] == X[2 * 1024 + 0 * 32 + 1, 1]           # channel 2, row 0, column 1
    x, shape = inputs.network_inputs(spec.parse("mlp:tanh:1"), X, "cifar10:/x", "mlp:tanh:1")
    assert shape == (3072,) and x.shape == (n, 3072)
    with pytest.raises(ParameterError, match="'cnn' needs image data .* these data are 5-dimensional vectors"):
        inputs.network_inputs(spec.parse("cnn"), np.ones((5, 3)), None, "cnn")


def test_weights_files_round_trip_and_errors(tmp_path):
    model = models.build(spec.parse("mlp:relu:2"), (3,), 4)
    w = _weights(model)
    inputs.save_weights(tmp_path / "w.npz", w)
    back = inputs.check_weights(inputs.load_weights(tmp_path / "w.npz"), model, "f")
    for k in w:
        np.testing.assert_array_equal(back[k], w[k])
    np.savez(tmp_path / "bad.npz", A=w["A"], W1=w["W1"])
    with pytest.raises(DataError, match="lacks W2"):
        inputs.check_weights(inputs.load_weights(tmp_path / "bad.npz"), model, "bad.npz")
    np.savez(tmp_path / "bad2.npz", A=w["A"], W1=w["W1"][:, :2], W2=w["W2"])
    with pytest.raises(DataError, match=r"W1 has shape \(4, 2\), model mlp:relu:2 with m = 4 needs \(4, 3\)"):
        inputs.check_weights(inputs.load_weights(tmp_path / "bad2.npz"), model, "bad2.npz")
    with pytest.raises(ParameterError, match="save_init must be a .npz path"):
        inputs.save_weights(tmp_path / "w.txt", w)
