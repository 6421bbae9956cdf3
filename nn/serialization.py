"""Saving and loading weights as a plain ``.npz`` file: no pickles, written atomically.

    nn.save(model, "model.npz")                  # or nn.save(model.state_dict(), path)
    model.load_state_dict(nn.load("model.npz"))

``save`` writes to a temporary file in the target's directory, flushes it to disk (fsync) and
then renames it over the target (``os.replace``, atomic): a crash mid-save leaves the old file
intact, never a half-written one. ``load`` reads with ``allow_pickle=False``, so a file cannot
run code; a truncated, corrupt or foreign file raises ``SerializationError`` naming the path.
"""

import os
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from tinygrad_lite import Tensor

from .module import Module

__all__ = ["save", "load", "SerializationError"]


class SerializationError(ValueError):
    """A file that is not a readable weights file written by ``nn.save`` (or ``numpy.savez``)."""


def save(obj, path):
    """Write a Module's state_dict, or a mapping of name -> array or Tensor, to ``path`` as .npz."""
    state = obj.state_dict() if isinstance(obj, Module) else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"nn.save: expected a Module or a mapping of name -> array, got {type(obj).__name__}")
    arrays = OrderedDict()
    for name, value in state.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if not isinstance(name, str) or array.dtype.kind not in "biuf":
            raise TypeError(f"nn.save: entry {name!r} must map a str to a numeric array, got {array.dtype}")
        arrays[name] = array
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


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
        return OrderedDict((name, data[name]) for name in data.files)
