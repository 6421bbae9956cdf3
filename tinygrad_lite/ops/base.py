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
