"""What every op is built on: the Function node, sum_to_shape, IndexGrad and the numpy namespace."""

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
        elif _rows_pay(self.index, buffer):
            _add_rows(buffer, self.index, self.g)
        else:  # integer arrays may repeat an index: np.add.at adds every repeat
            np.add.at(buffer, self.index, self.g)
        return buffer


def _rows_pay(index, buffer):
    """Whether _add_rows beats np.add.at: many lookups (256 or more, and more than the rows: a
    row is looked up repeatedly) of short rows (2 to 256 bytes: one number has np.add.at's own
    fast path, long rows cost more to reorder than to add)."""
    if type(index) is not np.ndarray or buffer.ndim < 2 or index.size < max(256, len(buffer)) \
            or not buffer.flags.c_contiguous:
        return False
    row_bytes = buffer.itemsize * (buffer.size // buffer.shape[0])
    return buffer.itemsize < row_bytes <= 256


def _add_rows(buffer, rows, g):
    """``np.add.at(buffer, rows, g)`` for one integer array of row numbers, as an embedding's
    lookup makes: the rows sorted (stably), the gradients of each distinct row summed with one
    ``np.add.reduceat``, each sum added once. np.add.at visits the rows one by one: 0.78 ms for
    the 6,528 lookups of a token-task batch, a third of the tanh RNN's compiled backward; this
    takes 0.21 ms. The sums are the same up to float rounding (reduceat adds in its own order)."""
    n = buffer.shape[0]
    flat = rows.ravel()
    if flat.min() < 0:  # -1 and n-1 are one row
        flat = np.where(flat < 0, flat + n, flat)
    if n <= np.iinfo(np.int16).max:  # numpy sorts 16-bit integers by radix: 7x faster than int64
        flat = flat.astype(np.int16)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    width = buffer.size // n
    sums = np.add.reduceat(np.take(g.reshape(flat.size, width), order, axis=0), starts)
    buffer.reshape(n, width)[ordered[starts]] += sums


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
