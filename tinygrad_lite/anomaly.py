"""Anomaly mode: ``with detect_anomaly():`` stops at the first NaN or inf and names the forward op.

While it is on, every recorded op remembers where the user's code created it, its result is
checked for NaN/inf right after the forward, and every gradient is checked right after the VJP
that produced it. The error names the **forward** op that made the bad value (op, tensor name,
shapes) and the line that created it: the place to look, rather than the backward function.
Off by default; when off the engine pays one ``is None`` test per op.
"""

import sys
import threading
import traceback
from contextlib import ContextDecorator
from pathlib import Path

import numpy as np

from . import engine
from .errors import AnomalyError
from .ops import IndexGrad

__all__ = ["detect_anomaly", "AnomalyError"]

_LIBRARY = str(Path(__file__).resolve().parent)
_lock = threading.Lock()
_depth = 0  # nested or concurrent blocks: the checks stay on until the last one exits


class detect_anomaly(ContextDecorator):
    """Check every op's result and every gradient for NaN/inf inside this block (or function)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        global _depth
        with _lock:
            _depth += 1
            if self.check_nan:
                engine._checks = _Checks
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                engine._checks = None


def _bad(array):
    return array is not None and not isinstance(array, IndexGrad) and array.dtype.kind == "f" \
        and not np.isfinite(array).all()


def _what(array):
    nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    return ", ".join(part for part in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if part)


def _origin():
    """The user's line that made the op: the innermost frame outside tinygrad_lite (and, when
    that is inside the nn package, the line that called nn as well)."""
    nn = sys.modules.get("nn")
    nn_dir = str(Path(nn.__file__).resolve().parent) if getattr(nn, "__file__", None) else None
    frames = [f for f in traceback.extract_stack() if not f.filename.startswith(_LIBRARY)]
    if not frames:
        return "(inside tinygrad_lite)"
    where = _frame(frames[-1])
    if nn_dir and frames[-1].filename.startswith(nn_dir):
        outside = [f for f in frames if not f.filename.startswith(nn_dir)]
        if outside:
            where += f", called from {_frame(outside[-1])}"
    return where


def _frame(frame):
    return f"{frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"


def _describe(t):
    ctx = t._ctx
    shapes = ", ".join(str(p.shape) for p in ctx.parents) if ctx.parents is not None else "freed"
    name = f" {t.name!r}" if t.name else ""
    return (f"{ctx.name} (inputs of shape {shapes}) making tensor{name} of shape {t.shape}, "
            f"created at {getattr(ctx, 'origin', '(unknown)')}")


class _Checks:
    """What the engine calls while anomaly mode is on."""

    @staticmethod
    def op(fn, inputs, args, t):  # only compile's recorder needs every op; forward checks ours
        pass

    @staticmethod
    def forward(t):
        t._ctx.origin = _origin()
        if _bad(t._data):
            inputs_bad = [i for i, p in enumerate(t._ctx.parents) if _bad(p._data)]
            note = (f"; its input(s) {inputs_bad} already held NaN/inf" if inputs_bad else "")
            raise AnomalyError(f"detect_anomaly: the forward of {_describe(t)} produced {_what(t._data)}{note}")
        return t

    @staticmethod
    def reached(t, g):
        pass

    @staticmethod
    def backward(t, g, grads):
        for i, grad in enumerate(grads):
            if _bad(grad):
                parent = t._ctx.parents[i]
                raise AnomalyError(
                    f"detect_anomaly: the gradient for input {i} (shape {parent.shape}) of the forward op "
                    f"{_describe(t)} has {_what(grad)}; the gradient arriving at its output had "
                    f"{_what(g) or 'no'} NaN/inf")
