"""Saving and loading weights as a plain ``.npz`` file: no pickles, written atomically.

    nn.save(model, "model.npz")                  # or nn.save(model.state_dict(), path)
    model.load_state_dict(nn.load("model.npz"))

``save`` writes to a hidden temporary file in the target's folder, flushes it to disk (fsync)
and then renames it over the target (``os.replace``, atomic): a crash mid-save leaves the old
file intact, never a half-written one. The temporary name carries the host and process id of
the writer, so a later save in that folder removes the ones whose writer was killed, and only
those (on POSIX; a live writer's, or another host's, is never touched). The saved file has the
permissions a plain write would give it: those of the file it replaces, else 0666 minus the umask.

``load`` reads with ``allow_pickle=False``, so a file cannot run code; a truncated, corrupt or
foreign file, or an archive without arrays or with members that are not numeric arrays, raises
``SerializationError`` naming the path.
"""

import os
import re
import secrets
import socket
import stat
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from tinygrad_lite import Tensor

from .module import Module

__all__ = ["save", "load", "SerializationError"]

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class SerializationError(ValueError):
    """A file that is not a readable weights file written by ``nn.save`` (or ``numpy.savez``)."""


def save(obj, path):
    """Write a Module's state_dict, or a mapping of name -> array or Tensor, to ``path`` as .npz."""
    arrays = _arrays_to_save(obj)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(folder)
    tmp = os.path.join(folder, _temporary_name(os.path.basename(path)))
    fd = _create(tmp, path, folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _arrays_to_save(obj):
    """The name -> numpy array mapping to write, checked: str names, numeric arrays, at least one."""
    state = obj.state_dict() if isinstance(obj, Module) else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"nn.save: expected a Module or a mapping of name -> array, got {type(obj).__name__}")
    arrays = OrderedDict()
    for name, value in state.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if not isinstance(name, str) or array.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"nn.save: entry {name!r} must map a str to a numeric array, got {array.dtype}")
        arrays[name] = array
    if not arrays:  # load refuses an archive without arrays, so do not write one
        raise ValueError("nn.save: nothing to save: the state has no arrays")
    return arrays


def _write_npz(f, arrays):
    """The archive numpy.savez writes, member ``name.npy`` per array, for any name.

    Not ``np.savez(f, **arrays)``: names such as ``file`` or ``allow_pickle`` would collide with
    its own parameters (one raises, the other silently drops the array).
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:  # as savez does
                np.lib.format.write_array(member, array, allow_pickle=False)


# A temporary file: ".<target>.nn-save-<pid>-<host tag>-<random>.tmp"
TEMPORARY = re.compile(r"^\..*\.nn-save-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{8}\.tmp$", re.DOTALL)
MAX_TARGET_PART = 200  # keeps the temporary name within the usual 255-byte limit


def _temporary_name(target_name):
    return (f".{target_name[:MAX_TARGET_PART]}.nn-save-{os.getpid()}-{_host_tag()}-"
            f"{secrets.token_hex(4)}.tmp")


def _host_tag():
    """8 hex digits naming this machine: a process id means nothing on another host sharing the folder."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _remove_stale_temporaries(folder):
    """Delete temporary files of saves that were killed: written on this host by a process that is gone.

    Only on POSIX, where ``os.kill(pid, 0)`` asks without sending anything (on Windows it would
    terminate the process). Errors are ignored: cleaning up must never make a save fail.
    """
    if os.name != "posix":
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    host = _host_tag()
    for name in names:
        match = TEMPORARY.match(name)
        if match and match["host"] == host and not _process_alive(int(match["pid"])):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass  # another save removed it first, or it is not ours to remove


def _process_alive(pid):
    if pid <= 0:
        return True  # not a process id we wrote; never treat it as gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. PermissionError: it exists, owned by someone else
    return True


def _create(tmp, path, folder):
    """Open a new temporary file as ``open(path, "wb")`` would create ``path``: 0666 minus the umask,
    or the mode of the file it is going to replace; an error names ``path``, not ``tmp``."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        reason = e.strerror if os.path.isdir(folder) else f"its folder {folder!r} does not exist"
        raise type(e)(e.errno, f"nn.save: cannot write the file ({reason})", path) from None
    try:
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # keep a deliberately private file private
    except OSError:
        pass  # no file to replace yet (or not ours to read): the umask's mode stays
    return fd


def _replace(tmp, path):
    try:
        os.replace(tmp, path)
    except OSError as e:  # e.g. the target is a folder
        raise type(e)(e.errno, f"nn.save: cannot replace the file ({e.strerror})", path) from None


def _fsync_dir(directory):
    """Make the rename itself durable; some platforms cannot open a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """The OrderedDict name -> numpy array stored in ``path``, read with ``allow_pickle=False``."""
    try:
        return _read(path)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise SerializationError(f"nn.load: {os.fspath(path)!r} is not a readable .npz weights file "
                                 f"(truncated, corrupt or another format): {e}") from None


def _read(path):
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError("it holds a single array, not named arrays")
    with data:  # arrays are read lazily: read them all while the file is open
        if not data.files:
            raise ValueError("the archive holds no arrays")
        arrays = OrderedDict((name, data[name]) for name in data.files)
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # numpy hands back the raw bytes of any other member
            raise ValueError(f"member {name!r} is not a .npy array")
        if value.dtype.kind not in NUMERIC_KINDS:
            raise ValueError(f"member {name!r} is not a numeric array (dtype {value.dtype})")
    return arrays
