"""Every differentiable op, its forward and its vector-Jacobian product side by side.

An op is a small class. ``forward`` receives numpy arrays (and plain Python options such as
``axis``), keeps what its derivative needs on ``self`` and returns the result array.
``backward(g, F)`` receives the gradient ``g`` of the loss with respect to that result and
returns one gradient per input, ``None`` for inputs that do not require one (``parent._rg`` is
the ``requires_grad`` flag, read directly: a property call on every backward adds up): an op may
skip a gradient nobody needs. The engine in ``engine.py`` sets ``self.parents`` (the input
Tensors) and does all the bookkeeping.

One VJP serves both orders. A VJP uses only what numpy arrays and Tensors share (operators,
``@``, ``.T``, ``.sum(axis=, keepdims=)``, ``.reshape``, indexing) and the few functions of the
namespace ``F`` (``where``, ``exp``, ``sign``, ``index_grad``...). For a first-order backward
the engine passes numpy arrays and ``F = NUMPY``. Under ``create_graph=True`` it runs the very
same method on Tensors, with ``F`` the Tensor functions (``higher.py``), so the gradient is
itself a graph that can be differentiated again. For that the saved fields follow one rule:
``x`` and ``y`` hold the inputs, ``out`` the result; any other array is a constant (a mask,
an index), whose derivative is zero where it is defined.

Rules that keep the engine fast and correct:

* ``backward`` never writes into ``g`` or into a saved array: the engine may hand the same
  array to several ops.
* ``backward`` returns raw gradients: one of a broadcast input may have the broadcast shape,
  and any dtype. The engine sums it down to the input's shape (``sum_to_shape``) and casts it,
  once, for every op; so an op that needs its inputs only for their shapes keeps nothing.
* Indexing returns an ``IndexGrad`` instead of a zero-filled array, so that slicing one tensor
  many times (``xw[t]`` for every time step) accumulates into a single buffer: O(T), not O(T²).
* In-place updates (``d *= g``) are fine on a new array: on a Tensor they simply make a new node.
"""

import numpy as np

__all__ = ["Function", "IndexGrad", "sum_to_shape", "NUMPY"]


class Function:
    """Base class of every op; an instance is one node of the graph (PyTorch's ``grad_fn``)."""

    __slots__ = ("parents", "origin")  # origin: where it was made, recorded in anomaly mode only

    def forward(self, *args):  # pragma: no cover - every op overrides it
        raise NotImplementedError

    def backward(self, g, F):  # pragma: no cover
        raise NotImplementedError

    @property
    def name(self):
        return type(self).__name__


def sum_to_shape(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an array of that shape.

    numpy broadcasting stretches size-1 axes and prepends new ones; the gradient of a stretched
    input is the sum over the stretched axes. The engine calls this for every gradient whose
    shape differs from its input's: the only place where broadcasting is undone.
    """
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


class IndexGrad:
    """The gradient of ``x[index]``: added into one buffer of x's shape, never zero-filled twice."""

    __slots__ = ("index", "g", "unique")

    def __init__(self, index, g, unique):
        self.index, self.g, self.unique = index, g, unique

    def add_into(self, buffer):
        if self.unique:  # slices, ints and masks select every element at most once
            buffer[self.index] += self.g
        else:  # integer arrays may repeat an index: np.add.at adds every repeat
            np.add.at(buffer, self.index, self.g)
        return buffer


class NUMPY:
    """The functions a VJP may call on numpy arrays (higher.py has the same names for Tensors)."""

    where = staticmethod(np.where)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sign = staticmethod(np.sign)
    expand_dims = staticmethod(np.expand_dims)
    squeeze = staticmethod(np.squeeze)
    swapaxes = staticmethod(np.swapaxes)
    broadcast_to = staticmethod(np.broadcast_to)

    @staticmethod
    def index_grad(g, index, unique, shape):
        return IndexGrad(index, g, unique)

    @staticmethod
    def value(a):
        """The array behind a value: to compute a constant (a mask, a count) from an input."""
        return a


# ---------------------------------------------------------------------------------------------
# elementwise, one input


class Neg(Function):
    __slots__ = ()

    def forward(self, x):
        return np.negative(x)

    def backward(self, g, F=NUMPY):
        return (-g,)


class Exp(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, g, F=NUMPY):
        return (g * self.out,)


class Log(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g, F=NUMPY):
        return (g / self.x,)


class Sqrt(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, g, F=NUMPY):
        return (g / (2 * self.out),)


class Abs(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g, F=NUMPY):
        return (g * F.sign(self.x),)  # 0 at x == 0, as PyTorch


# exp(x) overflows past these inputs (and numpy warns); sigmoid is 1 to the last bit there.
_EXP_LIMIT = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}


class Sigmoid(Function):
    __slots__ = ("out",)

    def forward(self, x):
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        # σ(x) = e / (1 + e) with e = exp(min(x, limit)): four passes, and accurate in both tails
        # (for very negative x it is exp(x) itself, down to the subnormals).
        e = np.empty(x.shape, x.dtype)  # out=: a 0-d input stays an array
        limit = _EXP_LIMIT.get(x.dtype)
        np.exp(x if limit is None else np.minimum(x, limit, out=e), out=e)
        self.out = np.divide(e, e + 1, out=e)
        return self.out

    def backward(self, g, F=NUMPY):
        # g * s * (1 - s) with one new array instead of three: the products go in place
        # (a 0-d s gives a numpy scalar here, and *= then simply makes a new scalar)
        s = self.out
        d = 1 - s
        d *= s
        d *= g
        return (d,)


class Tanh(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g, F=NUMPY):
        t = self.out
        d = 1 - t * t
        d *= g  # in place, as Sigmoid does
        return (d,)


class Relu(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g, F=NUMPY):
        return (g * (self.x > 0),)  # 0 at x == 0, as PyTorch


class Clip(Function):
    __slots__ = ("inside",)

    def forward(self, x, lo, hi):
        inside = True  # the boundaries pass the gradient, as torch.clamp
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi)
        self.inside = inside
        return np.clip(x, lo, hi)

    def backward(self, g, F=NUMPY):
        return (g * self.inside,)


class PowScalar(Function):
    """x ** p for a constant p."""

    __slots__ = ("x", "p")

    def forward(self, x, p):
        self.x, self.p = x, p
        return x**p

    def backward(self, g, F=NUMPY):
        p = self.p
        if p == 0:
            return (g * 0,)
        return (g * (p * self.x ** (p - 1)),)


class Cast(Function):
    __slots__ = ()

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g, F=NUMPY):
        return (g,)  # the engine casts it back to the input's dtype


# ---------------------------------------------------------------------------------------------
# elementwise, two inputs, numpy broadcasting


class Add(Function):
    __slots__ = ()

    def forward(self, x, y):
        return x + y

    def backward(self, g, F=NUMPY):
        return g, g


class Sub(Function):
    __slots__ = ()

    def forward(self, x, y):
        return x - y

    def backward(self, g, F=NUMPY):
        return g, (-g if self.parents[1]._rg else None)


class Mul(Function):
    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        return (g * self.y if a._rg else None,
                g * self.x if b._rg else None)


class Div(Function):
    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return x / y

    def backward(self, g, F=NUMPY):
        gx = g / self.y
        return gx, (gx * (-self.x / self.y) if self.parents[1]._rg else None)


class Pow(Function):
    """x ** y for two tensors; d/dy = x**y log x is defined for x > 0 only."""

    __slots__ = ("x", "y", "out")

    def forward(self, x, y):
        self.x, self.y = x, y
        self.out = x**y
        return self.out

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        x, y = self.x, self.y
        gx = gy = None
        if a._rg:
            gx = g * y * x ** (y - 1)
        if b._rg:
            positive = F.value(x) > 0
            log_x = F.where(positive, F.log(F.where(positive, x, 1)), 0)
            gy = g * self.out * log_x
        return gx, gy


def _split_at_ties(g, x_wins, tie):
    """The gradients of an elementwise max or min: to the winner, and half each at a tie (torch)."""
    share_x = (x_wins + tie * 0.5).astype(g.dtype)  # a constant: stays float32 for float32
    return g * share_x, g * (1 - share_x)


class Maximum(Function):
    """Elementwise max; a tie splits the gradient in half, as torch.maximum."""

    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, g, F=NUMPY):
        x, y = F.value(self.x), F.value(self.y)
        return _split_at_ties(g, x > y, x == y)


class Minimum(Maximum):
    __slots__ = ()

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.minimum(x, y)

    def backward(self, g, F=NUMPY):
        x, y = F.value(self.x), F.value(self.y)
        return _split_at_ties(g, x < y, x == y)


class Where(Function):
    """where(cond, x, y); ``cond`` is a constant boolean array, not differentiated."""

    __slots__ = ("cond",)

    def forward(self, x, y, cond):
        self.cond = cond
        return np.where(cond, x, y)

    def backward(self, g, F=NUMPY):
        zero = np.zeros((), dtype=g.dtype)
        return F.where(self.cond, g, zero), F.where(self.cond, zero, g)


class MatMul(Function):
    """numpy's matmul: 1-D operands are promoted to matrices, leading axes broadcast."""

    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.matmul(x, y)

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        x, y = self.x, self.y
        if x.ndim == 2 and y.ndim == 2:  # the common case, no reshaping
            return (g @ y.T if a._rg else None,
                    x.T @ g if b._rg else None)
        if x.ndim == 1 and y.ndim == 1:
            return (g * y if a._rg else None, g * x if b._rg else None)
        x2 = F.expand_dims(x, 0) if x.ndim == 1 else x  # promote vectors as numpy does, then undo it
        y2 = F.expand_dims(y, 1) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = F.expand_dims(g2, -2)
        if y.ndim == 1:
            g2 = F.expand_dims(g2, -1)
        gx = gy = None
        if a._rg:
            gx = g2 @ F.swapaxes(y2, -1, -2)
            if x.ndim == 1:
                gx = F.squeeze(gx, -2)
        if b._rg:
            gy = F.swapaxes(x2, -1, -2) @ g2
            if y.ndim == 1:
                gy = F.squeeze(gy, -1)
        return gx, gy


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
        m = np.max(x, axis=axis, keepdims=True)
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


# ---------------------------------------------------------------------------------------------
# shape and indexing


class Reshape(Function):
    __slots__ = ("shape",)

    def forward(self, x, shape):
        self.shape = x.shape
        return np.reshape(x, shape)

    def backward(self, g, F=NUMPY):
        return (g.reshape(self.shape),)


class Transpose(Function):
    __slots__ = ("axes",)

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g, F=NUMPY):
        return (g.transpose(None if self.axes is None else tuple(int(a) for a in np.argsort(self.axes))),)


class BroadcastTo(Function):
    __slots__ = ()

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g, F=NUMPY):
        return (g,)  # the engine sums it back to x's shape


class GetItem(Function):
    __slots__ = ("index", "unique", "shape")

    def forward(self, x, index, unique):
        self.index, self.unique, self.shape = index, unique, x.shape
        return x[index]

    def backward(self, g, F=NUMPY):
        return (F.index_grad(g, self.index, self.unique, self.shape),)


class ScatterAdd(Function):
    """g added into zeros of ``shape`` at ``index``: the gradient of x[index] as an op of its own
    (create_graph uses it; a first-order backward adds an IndexGrad into one buffer instead)."""

    __slots__ = ("index",)

    def forward(self, g, index, unique, shape):
        self.index = index
        return IndexGrad(index, g, unique).add_into(np.zeros(shape, g.dtype))

    def backward(self, g, F=NUMPY):
        return (g[self.index],)


class Stack(Function):
    __slots__ = ("axis",)

    def forward(self, *arrays_and_axis):
        *arrays, self.axis = arrays_and_axis
        return np.stack(arrays, axis=self.axis)

    def backward(self, g, F=NUMPY):
        # views of g (basic indexing), not copies as np.take makes: stacking the T outputs of a
        # recurrent layer would otherwise copy the whole gradient once more in backward
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] if p._rg else None for i, p in enumerate(self.parents))


class Concatenate(Function):
    __slots__ = ("axis", "bounds")

    def forward(self, *arrays_and_axis):
        *arrays, self.axis = arrays_and_axis
        self.bounds = np.cumsum([0] + [a.shape[self.axis] for a in arrays]).tolist()
        return np.concatenate(arrays, axis=self.axis)

    def backward(self, g, F=NUMPY):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (slice(a, b),)] if p._rg else None
                     for a, b, p in zip(self.bounds, self.bounds[1:], self.parents))
