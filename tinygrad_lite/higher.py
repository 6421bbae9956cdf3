"""Higher-order gradients: run an op's one VJP on Tensors, so that the gradient has a graph.

Under ``backward(create_graph=True)`` (or ``grad(..., create_graph=True)``) the engine calls
``graph_vjp`` instead of ``node.backward(g)``. It hands the op's own ``backward`` method a
stand-in of the node whose saved fields are Tensors: ``x`` and ``y`` become the input Tensors
themselves, ``out`` the result Tensor; every other field (a mask, an index, a share) stays an
array, a constant wherever it meets a Tensor; ``g`` is a Tensor, and the
namespace ``F`` is ``TENSOR`` below. Every operator and call inside the VJP then records ops,
and the returned gradients are Tensors whose graph reaches the inputs: differentiable again, to
any order. There is no second table of derivatives.
"""

import numpy as np

from . import ops, surface
from .engine import Tensor, _const, _unary, enable_grad

__all__ = ["TENSOR", "graph_vjp"]


def _index_grad(g, index, unique, shape):
    return _unary(ops.ScatterAdd, g, index, unique, shape)


def _expand_dims(t, axis):
    """np.expand_dims for Tensors: one axis or a tuple of them, as a reshape."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = t.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(t.shape)
    for a in axes:
        shape.insert(a, 1)
    return t.reshape(tuple(shape))


class TENSOR:
    """The functions a VJP may call, for Tensors (ops.NUMPY has the same names for arrays)."""

    where = staticmethod(surface.where)
    exp = staticmethod(surface.exp)
    log = staticmethod(surface.log)
    sign = staticmethod(lambda t: _const(np.sign(t._data)))  # zero derivative wherever it has one
    expand_dims = staticmethod(_expand_dims)
    squeeze = staticmethod(surface.squeeze)
    swapaxes = staticmethod(surface.swapaxes)
    broadcast_to = staticmethod(surface.broadcast_to)
    index_grad = staticmethod(_index_grad)
    value = staticmethod(lambda t: t._data if isinstance(t, Tensor) else t)


_INPUTS = {"x": 0, "y": 1}


def graph_vjp(node, result, g):
    """The gradients of ``node`` (which made ``result``) for the incoming Tensor ``g``, as Tensors."""
    stand_in = object.__new__(type(node))
    stand_in.parents = node.parents
    for name in _slots(type(node)):
        if name in ("parents", "origin") or not hasattr(node, name):
            continue
        value = getattr(node, name)
        if name in _INPUTS:
            value = _saved_input(node, name, value)
        elif name == "out":
            value = result
        setattr(stand_in, name, value)
    with enable_grad():
        return type(node).backward(stand_in, g, TENSOR)


def _saved_input(node, name, array):
    tensor = node.parents[_INPUTS[name]]
    if tensor._data is not array and not np.array_equal(tensor._data, array):
        raise RuntimeError(
            f"backward(create_graph=True): input {_INPUTS[name]} of {node.name} (shape {tensor.shape}) was given "
            "a new .data after the forward; the graph of the gradient would use the new values. Run the "
            "forward again")
    return tensor


def _slots(cls):
    names = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return names
