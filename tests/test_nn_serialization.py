"""nn.save / nn.load: plain .npz without pickles, atomic writes, clear errors for bad files."""

import os
import zipfile

import numpy as np
import pytest

import nn
from tinygrad_lite import Tensor


def test_round_trip_through_a_file(tmp_path):
    model = nn.Sequential(nn.LSTM(3, 4, num_layers=2, rng=0), nn.Linear(4, 1, rng=1))
    path = tmp_path / "model.npz"
    nn.save(model, path)
    state = nn.load(path)
    assert list(state) == list(model.state_dict())
    fresh = nn.Sequential(nn.LSTM(3, 4, num_layers=2, rng=5), nn.Linear(4, 1, rng=6))
    fresh.load_state_dict(state)
    for a, b in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_the_file_is_plain_npz_that_loads_without_pickles(tmp_path):
    path = tmp_path / "weights"  # any name: save does not append a suffix
    nn.save({"w": Tensor(np.eye(2)), "b": np.zeros(3, np.float32)}, path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["b", "w"]
        np.testing.assert_array_equal(npz["w"], np.eye(2))
        assert npz["b"].dtype == np.float32


def test_a_crash_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save({"w": np.ones(3)}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(nn.load(path)["w"], np.ones(3))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_crash_before_the_rename_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save({"w": np.ones(3)}, path)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(nn.load(path)["w"], np.ones(3))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    nn.save(nn.Linear(8, 8, rng=0), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 10, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(nn.SerializationError, match="model.npz.*not a readable .npz"):
            nn.load(path)


@pytest.mark.parametrize("content", [
    b"hello, I am a text file\n",
    b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94.",  # a pickle
])
def test_foreign_file_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "foreign.npz"
    path.write_bytes(content)
    with pytest.raises(nn.SerializationError, match="foreign.npz"):
        nn.load(path)


def test_npz_with_pickled_objects_or_a_single_array_is_refused(tmp_path):
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(nn.SerializationError, match="objects.npz"):
        nn.load(pickled)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(nn.SerializationError, match="single array"):
        nn.load(single)
    corrupt = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(corrupt, "w") as z:
        z.writestr("w.npy", b"\x93NUMPY garbage")
    with pytest.raises(nn.SerializationError, match="corrupt.npz"):
        nn.load(corrupt)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="Module or a mapping"):
        nn.save([np.ones(2)], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="numeric array"):
        nn.save({"w": np.array(["a"])}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []
