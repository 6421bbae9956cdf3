"""Ops that move data without arithmetic: reshape, transpose, broadcast, indexing, stack, concatenate."""

import numpy as np

from .base import NUMPY, Function, IndexGrad

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
        if F is NUMPY:  # the first-order path, spelled out: it runs for every slice of every step
            return (IndexGrad(self.index, g, self.unique),)
        return (F.index_grad(g, self.index, self.unique, self.shape),)


class Take(Function):
    """``x[index]`` with the integer array of a tensor as its second input (no gradient): the rows
    of x that an embedding looks up, or with ``along`` one entry per row, ``x[i, index[i]]``, the
    class a loss picks. An input, not an argument, so a compiled replay reads the index's current
    values; the bounds are checked here for the same reason: at every forward, replays included.
    ``what`` names the caller in the error; ``negative`` allows numpy's negative indices."""

    __slots__ = ("index", "unique", "shape")

    def forward(self, x, index, along, negative, what):
        n = x.shape[1] if along else x.shape[0]
        low = -n if negative else 0
        if index.size and (index.min() < low or index.max() >= n):
            raise IndexError(f"{what}: indices must lie in [{low}, {n}), got values from {index.min()} to "
                             f"{index.max()} in indices of shape {index.shape} (indexing shape {x.shape})")
        self.index = (np.arange(len(index)), index) if along else index
        self.unique, self.shape = along, x.shape  # one entry per row is never repeated; rows may be
        return x[self.index]

    def backward(self, g, F=NUMPY):
        return (*GetItem.backward(self, g, F), None)  # indexing's own VJP (same fields); the index gets none


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
