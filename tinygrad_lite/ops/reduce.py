"""Reductions over axes, and the softmax family."""

import numpy as np

from .base import NUMPY, Function

# ---------------------------------------------------------------------------------------------
# reductions


def _expand_reduced(g, shape, axis, keepdims, F):
    """Give a reduced value back its reduced axes (size 1) so that it broadcasts to ``shape``."""
    if axis is not None and not keepdims:
        g = F.expand_dims(g, axis)
    elif axis is None and not keepdims:
        g = g.reshape((1,) * len(shape))
    return g


class Sum(Function):
    __slots__ = ("shape", "axis", "keepdims")

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, g, F=NUMPY):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdims, F)
        return (F.broadcast_to(g, self.shape),)


class Mean(Function):
    __slots__ = ("shape", "axis", "keepdims", "count")

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        if x.dtype.kind == "f" and x.dtype.itemsize >= 4 and x.size:
            # the sum np.mean computes, without its Python wrapper (5 µs a call): same result
            total = np.add.reduce(x, axis=axis, keepdims=keepdims)
            self.count = x.size // np.size(total)  # how many elements each mean averages
            return total / self.count
        out = np.mean(x, axis=axis, keepdims=keepdims)  # ints, float16, empty: numpy's own rules
        self.count = x.size // max(1, np.size(out))
        return out

    def backward(self, g, F=NUMPY):
        g = _expand_reduced(g, self.shape, self.axis, self.keepdims, F)
        return (F.broadcast_to(g / self.count, self.shape),)


class Max(Function):
    """max over axes; ties share the gradient equally (torch.amax)."""

    __slots__ = ("share", "axis", "keepdims")
    reduce = staticmethod(np.max)

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        peak = self.reduce(x, axis=axis, keepdims=True)
        hits = x == peak
        # the share of each entry: a constant (the maximiser does not move under a small change)
        # dtype=: a count of bools is int64, and float32 / int64 would give float64
        self.share = hits / np.sum(hits, axis=axis, keepdims=True, dtype=x.dtype)
        return peak if keepdims else np.squeeze(peak, axis=axis)

    def backward(self, g, F=NUMPY):
        return (_expand_reduced(g, self.share.shape, self.axis, self.keepdims, F) * self.share,)


class Min(Max):
    __slots__ = ()
    reduce = staticmethod(np.min)  # the same backward: the gradient goes to the entries equal to out


class LogSumExp(Function):
    """log(sum(exp(x))) computed after subtracting the max: finite for any finite input."""

    __slots__ = ("x", "out", "axis", "keepdims")

    def forward(self, x, axis, keepdims):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        m = np.asarray(np.max(x, axis=axis, keepdims=True))  # an array even for a 0-d x (np.max gives a scalar)
        m[~np.isfinite(m)] = 0  # all -inf gives -inf (and +inf gives inf), not inf - inf = NaN
        with np.errstate(divide="ignore"):
            out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        self.out = out if keepdims else np.squeeze(out, axis=axis)
        return self.out

    def backward(self, g, F=NUMPY):
        x, axis, keepdims = self.x, self.axis, self.keepdims
        out = _expand_reduced(self.out, x.shape, axis, keepdims, F)
        return (_expand_reduced(g, x.shape, axis, keepdims, F) * F.exp(x - out),)  # g * softmax(x)


def _max_or_zero(x, axis):
    """The max along ``axis`` that softmax subtracts for stability; 0 for an empty axis (torch
    returns an empty result there, and np.max of nothing raises)."""
    if x.shape[axis] == 0:
        return np.zeros((), x.dtype)
    return np.max(x, axis=axis, keepdims=True)


class Softmax(Function):
    __slots__ = ("out", "axis")

    def forward(self, x, axis):
        e = np.exp(x - _max_or_zero(x, axis))
        self.out = e / np.sum(e, axis=axis, keepdims=True)
        self.axis = axis
        return self.out

    def backward(self, g, F=NUMPY):
        s = self.out
        return (s * (g - (g * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    __slots__ = ("out", "axis")

    def forward(self, x, axis):
        shifted = x - _max_or_zero(x, axis)
        self.out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.axis = axis
        return self.out

    def backward(self, g, F=NUMPY):
        return (g - F.exp(self.out) * g.sum(axis=self.axis, keepdims=True),)
