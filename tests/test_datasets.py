"""Real-data loaders on tiny files written here in the real formats; preprocessing; data-info."""

import gzip
import json
import pickle
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.cli import main
from eosdyn.errors import DataError, ParameterError
from eosdyn.model import data, datasets
from eosdyn.model.params import make_params
from eosdyn.model.scenario import load_scenario

PER_BATCH = 8


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _cifar_batches(seed=0):
    """Five batches as the CIFAR-10 python pickles hold them: {b'data': uint8 (N, 3072), b'labels': list}."""
    rng = np.random.default_rng(seed)
    return {
        f"data_batch_{i}": {
            b"batch_label": b"training batch",
            b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.permutation(np.arange(PER_BATCH) % 4)],
        }
        for i in range(1, 6)
    }


@pytest.fixture
def cifar_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = _cifar_batches()
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(batches["data_batch_1"], protocol=2))
    return folder, batches


def _expected(images, labels, c0, c1):
    keep = np.flatnonzero((labels == c0) | (labels == c1))
    X = images[keep].astype(float) / 255.0
    return (X - X.mean(axis=0)).T, np.where(labels[keep] == c1, 1.0, -1.0)


def test_cifar_folder_archive_and_parent_agree_with_direct_decoding(cifar_dir, tmp_path):
    folder, batches = cifar_dir
    images = np.concatenate([b[b"data"] for b in batches.values()])
    labels = np.concatenate([b[b"labels"] for b in batches.values()])
    X_ref, Y_ref = _expected(images, labels, 1, 3)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for path in (folder, tmp_path, archive):
        X, Y, source = datasets.load(f"cifar10:{path}", classes=(1, 3))
        np.testing.assert_array_equal(Y, Y_ref)
        np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-15)
        assert X.shape == (3072, Y.size) and "cifar10" in source


def test_cifar_refuses_foreign_pickles_and_reports_missing_batches(cifar_dir):
    folder, _ = cifar_dir
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": print, b"labels": []}))
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        datasets.load(f"cifar10:{folder}")
    (folder / "data_batch_2").unlink()
    with pytest.raises(DataError, match="lacks data_batch_2"):
        datasets.load(f"cifar10:{folder}")


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    return head + array.astype(">u1").tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_plain_and_gzipped(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = (np.arange(30) % 10).astype(np.uint8)
    for stem, arr in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        raw = _idx(arr)
        if gz:
            (tmp_path / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (tmp_path / stem).write_bytes(raw)
    X_ref, Y_ref = _expected(images.reshape(30, -1), labels, 2, 7)
    X, Y, _ = datasets.load(f"mnist:{tmp_path}", classes=(2, 7))
    np.testing.assert_array_equal(Y, Y_ref)
    np.testing.assert_allclose(X, X_ref, atol=1e-15)
    images_file = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    X2, _, _ = datasets.load(f"mnist:{images_file}", classes=(2, 7))
    np.testing.assert_array_equal(X, X2)


def test_idx_reader_rejects_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x01\x02\x03\x04" + bytes(10))
    with pytest.raises(DataError, match="bad magic"):
        datasets.read_idx(bad)
    bad.write_bytes(_idx(np.zeros((3, 4, 4)))[:-5])
    with pytest.raises(DataError, match="truncated"):
        datasets.read_idx(bad)


def test_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits

    raw = load_digits()
    X, Y, _ = datasets.load("digits", classes=(4, 9), center=False)
    keep = np.flatnonzero(np.isin(raw.target, (4, 9)))
    np.testing.assert_array_equal(X, raw.data[keep].T / 16.0)
    np.testing.assert_array_equal(Y, np.where(raw.target[keep] == 9, 1.0, -1.0))


@pytest.mark.parametrize("how", datasets.NORMALIZE)
def test_preprocessing_invariants(how):
    X, Y, _ = datasets.load("digits", classes=(3, 8), subset=41, normalize=how, data_seed=5)
    assert X.shape == (64, 41) and np.sum(Y == -1) == 21 and np.sum(Y == 1) == 20
    norms = np.linalg.norm(X, axis=0)
    if how == "none":
        np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-15)
    if how == "unit":
        np.testing.assert_allclose(norms, 1, rtol=1e-14)
    if how == "global":
        np.testing.assert_allclose(np.sum(norms**2), 41, rtol=1e-13)
    if how == "feature":
        rms = np.sqrt(np.mean(X**2, axis=1))
        assert np.all((np.abs(rms - 1) < 1e-13) | (rms == 0)) and np.sum(rms == 0) < 64


def test_subset_is_seeded_and_drawn_from_the_two_classes():
    a = datasets.load("digits", classes=(0, 1), subset=20, center=False, data_seed=3)[0]
    b = datasets.load("digits", classes=(0, 1), subset=20, center=False, data_seed=3)[0]
    c = datasets.load("digits", classes=(0, 1), subset=20, center=False, data_seed=4)[0]
    full = datasets.load("digits", classes=(0, 1), center=False)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert all(any(np.array_equal(col, f) for f in full.T) for col in a.T)
    with pytest.raises(ParameterError, match="subset"):
        datasets.load("digits", classes=(0, 1), subset=10_000)


def test_named_data_through_simulate_and_provenance(tmp_path):
    ds = eosdyn.simulate(data="digits", classes=(3, 5), subset=30, steps=50, eta=1.0)
    X, Y, _ = datasets.load("digits", classes=(3, 5), subset=30)
    ref = data.from_arrays(X, Y)
    np.testing.assert_allclose(ds["data_s"].values, ref.s, rtol=1e-12)
    assert ds.attrs["classes"] == [3, 5] and ds.attrs["subset"] == 30
    eosdyn.save(ds, tmp_path / "r.nc")
    assert eosdyn.open_run(tmp_path / "r.nc").attrs["center"] == 1


def test_describe_against_numpy_eigenvalues():
    d = data.load("digits", classes=(2, 3), subset=60, normalize="global")
    info = datasets.describe(d, top=5)
    lam = np.linalg.eigvalsh(d.X.T @ d.X)[::-1][: d.rank]
    np.testing.assert_allclose(info["top_eigenvalues"], lam[:5], rtol=1e-9)
    assert info["chi"] == pytest.approx(np.max(lam[:-1] / lam[1:]), rel=1e-6)
    assert info["lambda1_over_lambda2"] == pytest.approx(lam[0] / lam[1], rel=1e-9)
    _, vecs = np.linalg.eigh(d.X.T @ d.X)
    z = vecs[:, ::-1][:, : d.rank].T @ d.Y
    assert info["kappa"] == pytest.approx(np.min(np.abs(z)) / np.sqrt(60), rel=1e-6)
    assert info["y_perp2"] == pytest.approx(60 - np.sum(z**2), abs=1e-9)


def test_parse_names_and_scenario_paths(tmp_path):
    assert datasets.parse("digits") == ("digits", None)
    assert datasets.parse("cifar10:/x/y") == ("cifar10", "/x/y")
    for spec in ("digits:x", "cifar10", "runs/data.npz", "mnist", None):
        assert datasets.parse(spec) is None
    (tmp_path / "s.toml").write_text('data = "cifar10:raw/cifar"\nclasses = [3, 5]\n')
    p = load_scenario(tmp_path / "s.toml")
    assert p.data == f"cifar10:{tmp_path / 'raw/cifar'}" and p.classes == (3, 5)
    (tmp_path / "d.toml").write_text('data = "digits"\n')
    assert load_scenario(tmp_path / "d.toml").data == "digits"


@pytest.mark.parametrize("kw, name", [
    (dict(classes=(1, 1)), "classes"), (dict(classes=(0, 10)), "classes"), (dict(subset=1), "subset"),
    (dict(normalize="l2"), "normalize"), (dict(center="yes"), "center"), (dict(data_seed=-2), "data_seed"),
])
def test_bad_options_are_one_line_parameter_errors(kw, name):
    with pytest.raises(ParameterError) as err:
        make_params(data="digits", **kw)
    assert err.value.name == name and "\n" not in str(err.value)


def test_cli_data_info_json_and_errors(tmp_path):
    res = run("data-info", "digits", "--classes", "1,7", "--subset", "50", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    ref = datasets.describe(data.load("digits", classes=(1, 7), subset=50))
    assert info == json.loads(json.dumps(ref))
    res = run("data-info", "digits", "--normalize", "unit")
    assert res.exit_code == 0 and "lambda_1/lambda_2" in res.output
    missing = tmp_path / "none"
    for args, text in ((["cifar10:" + str(missing)], "downloads nothing"), (["mnist:"], "mnist:PATH"),
                       (["digits", "--classes", "a,b"], "--classes"), (["digits", "--subset", "1"], "--subset")):
        res = run("data-info", *args)
        lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
        assert res.exit_code == 2 and len(lines) == 1 and text in lines[0], res.output
        assert "Traceback" not in res.output


def test_cli_simulate_with_digits(tmp_path):
    res = run("simulate", "--data", "digits", "--classes", "0,1", "--subset", "40", "--no-center",
              "--normalize", "global", "--eta", "1", "--steps", "100", "--quiet", "--json",
              "--out", str(tmp_path / "r.nc"))
    assert res.exit_code == 0, res.output
    ds = eosdyn.open_run(tmp_path / "r.nc")
    assert ds.attrs["center"] == 0 and ds.attrs["normalize"] == "global" and ds.attrs["n"] == 40
