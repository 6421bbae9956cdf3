"""nn.save / nn.load: plain .npz without pickles, atomic writes, clear errors for bad files."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

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

    monkeypatch.setattr(np.lib.format, "write_array", crash)
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


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            if isinstance(content, np.ndarray):
                buffer = io.BytesIO()
                np.save(buffer, content)
                content = buffer.getvalue()
            z.writestr(name, content)


@pytest.mark.parametrize("members, message", [
    ({}, "holds no arrays"),
    ({"w.npy": np.ones(2), "README.txt": b"hello"}, "member 'README.txt' is not a .npy array"),
    ({"notes.txt": b"hello"}, "member 'notes.txt' is not a .npy array"),
    ({"w.npy": b"not npy data at all"}, "member 'w' is not a .npy array"),
    ({"w.npy": np.array(["a", "b"])}, r"member 'w' is not a numeric array \(dtype <U1\)"),
])
def test_archive_without_arrays_or_with_other_members_is_refused(tmp_path, members, message):
    path = tmp_path / "odd.npz"  # these used to load as an empty dict or a dict holding bytes
    write_zip(path, members)
    with pytest.raises(nn.SerializationError, match=f"odd.npz.*{message}"):
        nn.load(path)


def test_numpy_savez_of_nothing_is_refused(tmp_path):
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(nn.SerializationError, match="empty.npz.*holds no arrays"):
        nn.load(tmp_path / "empty.npz")


def test_save_refuses_an_empty_state_it_could_not_load(tmp_path):
    with pytest.raises(ValueError, match="nn.save: nothing to save"):
        nn.save({}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_any_name_round_trips_even_numpy_savez_parameters(tmp_path):
    # np.savez(f, **state) raised for "file" and silently wrote nothing for "allow_pickle"
    names = ["file", "allow_pickle", "args", "kwds", "arr_0", "a/b", "x.npy", "", "ünï cödé"]
    state = {name: np.full(k + 1, k, np.float32) for k, name in enumerate(names)}
    nn.save(state, tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    assert list(loaded) == names
    for name in names:
        np.testing.assert_array_equal(loaded[name], state[name])
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:  # still plain numpy
        np.testing.assert_array_equal(npz["file"], state["file"])


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_files_get_the_umasks_permissions_or_keep_the_replaced_files(tmp_path, umask):
    path = tmp_path / "m.npz"
    umask(0o022)
    nn.save({"w": np.ones(2)}, path)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)  # mkstemp gave 0600
    umask(0o077)
    nn.save({"w": np.ones(2)}, tmp_path / "private.npz")
    assert oct((tmp_path / "private.npz").stat().st_mode & 0o777) == oct(0o600)
    umask(0o022)
    path.chmod(0o640)  # a mode chosen for the file survives a new save, as with open(path, "wb")
    nn.save({"w": np.zeros(2)}, path)
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)


def test_saving_into_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(FileNotFoundError, match="nn.save: cannot write the file.*does not exist") as info:
        nn.save({"w": np.ones(2)}, target)
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="nn.save: cannot replace the file") as info:
        nn.save({"w": np.ones(2)}, tmp_path / "folder.npz")
    assert info.value.filename == str(tmp_path / "folder.npz")
    assert os.listdir(tmp_path) == ["folder.npz"]


# A child process that saves {"w": zeros(1000)} to argv[1] and stops mid-save (the array written
# into the temporary file, the archive not yet closed, flushed or renamed), says so on stdout and
# waits for a line on stdin before it finishes the save.
SLOW_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    import nn

    original = np.lib.format.write_array

    def slow_write_array(f, array, **kwargs):
        original(f, array, **kwargs)
        print("writing", flush=True)
        sys.stdin.readline()

    np.lib.format.write_array = slow_write_array
    nn.save({"w": np.zeros(1000)}, sys.argv[1])
    print("saved", flush=True)
""")


def start_slow_writer(target):
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target)], cwd=Path(__file__).parent.parent,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "writing\n"
    return child


def temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and os.kill(pid, 0) are POSIX")
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "model.npz"
    nn.save({"w": np.ones(3)}, target)
    child = start_slow_writer(target)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    left = temporaries(tmp_path)
    assert len(left) == 1 and f".nn-save-{child.pid}-" in left[0] and left[0].startswith(".model.npz.")
    np.testing.assert_array_equal(nn.load(target)["w"], np.ones(3))  # the old file is intact
    foreign = f".model.npz.nn-save-{child.pid}-00000000-abababab.tmp"  # the same dead pid on another host
    (tmp_path / foreign).write_bytes(b"another machine's save in a shared folder")
    nn.save({"v": np.ones(1)}, tmp_path / "other.npz")  # any later save in the folder cleans up
    assert temporaries(tmp_path) == [foreign]
    assert sorted(os.listdir(tmp_path)) == sorted([foreign, "model.npz", "other.npz"])


@pytest.mark.skipif(os.name != "posix", reason="os.kill(pid, 0) is POSIX")
def test_a_concurrent_writers_temporary_survives_and_its_save_completes(tmp_path):
    target = tmp_path / "model.npz"
    child = start_slow_writer(target)
    try:
        (theirs,) = temporaries(tmp_path)
        assert f".nn-save-{child.pid}-" in theirs
        nn.save({"w": np.ones(3)}, target)  # the same target and another one, while the child writes
        nn.save({"w": np.ones(3)}, tmp_path / "other.npz")
        assert temporaries(tmp_path) == [theirs]
        np.testing.assert_array_equal(nn.load(target)["w"], np.ones(3))
        out, _ = child.communicate("go\n", timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0 and out == "saved\n"
    np.testing.assert_array_equal(nn.load(target)["w"], np.zeros(1000))  # the last rename wins, whole
    assert temporaries(tmp_path) == []
