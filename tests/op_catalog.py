"""Every differentiable op once: how to draw its inputs, how to call it here and in PyTorch.

The gradcheck tests and the PyTorch parity tests both walk this table, so an op added to the
library without an entry here is caught by ``test_every_op_is_in_the_catalog``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite.surface import index_by
from tinygrad_lite.testing import (
    arrays,
    broadcastable_shapes,
    floats,
    matmul_shapes,
    nonzero,
    positive,
    separated,
    shapes,
)


@dataclass
class Op:
    name: str  # the ops.Function class it exercises
    draw: Callable  # draw(data) -> (list of float64 arrays, dict of options)
    ours: Callable  # ours(*tensors, **options) -> Tensor
    torch: Callable  # torch(torch_module, *torch_tensors, **options) -> torch tensor, or None
    tolerances: dict = None  # gradcheck options where the defaults do not fit


def _unary(values=None, shape=None):
    def draw(data):
        return [data.draw(arrays(shape or shapes(), values=values))], {}
    return draw


def _binary(left=None, right=None):
    def draw(data):
        a, b = data.draw(broadcastable_shapes(2))
        return [data.draw(arrays(a, values=left)), data.draw(arrays(b, values=right))], {}
    return draw


def _axis_options(data, ndim, allow_tuple=True):
    choices = [None] + list(range(-ndim, ndim))
    if allow_tuple and ndim >= 2:
        choices.append(tuple(sorted(data.draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim)))))
    return data.draw(st.sampled_from(choices))


def _reduction(values=None, unique=False):
    def draw(data):
        x = data.draw(arrays(shapes(min_dims=1), values=values, unique=unique))
        return [x], {"axis": _axis_options(data, x.ndim), "keepdims": data.draw(st.booleans())}
    return draw


def _softmax_draw(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    return [x], {"axis": data.draw(st.integers(-x.ndim, x.ndim - 1))}


def _torch_dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _torch_reduce(name):
    def call(torch, x, axis, keepdims):
        return getattr(torch, name)(x, dim=_torch_dims(x, axis), keepdim=keepdims)
    return call


def _reshape_draw(data):
    x = data.draw(arrays(shapes()))
    target = data.draw(st.sampled_from([(-1,), (x.size, 1), (1,) + x.shape, x.shape[::-1]]))
    return [x], {"shape": target}


def _transpose_draw(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    return [x], {"axes": tuple(data.draw(st.permutations(range(x.ndim))))}


@st.composite
def basic_index(draw, shape):
    """A basic index: an int, a slice with a step, or None, per drawn axis.

    None inserts a new axis and consumes none of x's, so the next part still indexes axis `axis`.
    """
    parts, axis, wanted = [], 0, draw(st.integers(1, len(shape)))
    while axis < wanted:
        new_axes = parts.count(None)
        kind = draw(st.sampled_from(["int", "slice", "none"] if new_axes < 2 else ["int", "slice"]))
        if kind == "none":
            parts.append(None)
            continue
        n = shape[axis]
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n, n)))
            parts.append(slice(start, stop, draw(st.sampled_from([None, 1, 2, -1]))))
        axis += 1
    return tuple(parts)


def _getitem_basic_draw(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    return [x], {"index": data.draw(basic_index(x.shape))}


def _getitem_array_draw(data):
    x = data.draw(arrays(shapes(min_dims=1)))
    rows = data.draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=6))
    return [x], {"index": np.array(rows)}  # repeats included: their gradients must add up


def _take_draw(data):
    """x and integer rows for x[Tensor(rows)]: repeats and negative rows included."""
    x = data.draw(arrays(shapes(min_dims=1)))
    rows = data.draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=6))
    return [x], {"index": np.array(rows)}


def _take_along_draw(data):
    """x (N, C) and one class per row, as cross_entropy picks them."""
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    x = data.draw(arrays((n, c)))
    return [x], {"index": np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))}


def _scatter_add_draw(data):
    """g and the index of x[index] for a drawn x: the values scattered back into x's shape."""
    n = data.draw(st.integers(1, 5))
    rows = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    g = data.draw(arrays((len(rows),) + data.draw(shapes(max_dims=2))))
    return [g], {"index": np.array(rows), "shape": (n,) + g.shape[1:]}


def _scatter_add(g, index, shape):
    from tinygrad_lite import ops
    from tinygrad_lite.engine import _unary
    return _unary(ops.ScatterAdd, g, index, False, shape)


def _torch_scatter_add(t, g, index, shape):
    return t.zeros(shape, dtype=g.dtype).index_put((t.from_numpy(index),), g, accumulate=True)


def _clip_draw(data):
    x = data.draw(arrays(shapes(), values=separated(0.1, 0.05, limit=30)))
    lo, hi = data.draw(st.sampled_from([(-0.5, 0.5), (None, 0.2), (-1.0, None)]))
    return [x], {"lo": lo, "hi": hi}


def _pow_scalar_draw(data):
    p = data.draw(st.sampled_from([2, 3, 0.5, -1.5, 1.7, 0]))
    values = positive() if p != int(p) or p < 0 else floats()
    return [data.draw(arrays(shapes(), values=values))], {"p": p}


def _matmul_draw(data):
    a, b = data.draw(matmul_shapes())
    return [data.draw(arrays(a)), data.draw(arrays(b))], {}


def _where_draw(data):
    c, a, b = data.draw(broadcastable_shapes(3))
    cond = data.draw(arrays(c, dtype=bool, values=st.booleans()))
    return [data.draw(arrays(a)), data.draw(arrays(b))], {"cond": cond}


def _stack_draw(data):
    shape = data.draw(shapes())
    n = data.draw(st.integers(1, 3))
    return [data.draw(arrays(shape)) for _ in range(n)], {"axis": data.draw(st.integers(-len(shape) - 1, len(shape)))}


def _concat_draw(data):
    shape = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(0, len(shape) - 1))
    pieces = []
    for _ in range(data.draw(st.integers(1, 3))):
        piece = list(shape)
        piece[axis] = data.draw(st.integers(1, 3))
        pieces.append(data.draw(arrays(tuple(piece))))
    return pieces, {"axis": axis}


def _broadcast_to_draw(data):
    small, big = data.draw(broadcastable_shapes(2))
    target = np.broadcast_shapes(small, big)
    return [data.draw(arrays(small))], {"shape": target}


def _maximum_draw(data):
    a, b = data.draw(broadcastable_shapes(2))
    return [data.draw(arrays(a, values=separated(0.1, 0.0, 30))),
            data.draw(arrays(b, values=separated(0.1, 0.05, 30)))], {}


CATALOG = [
    Op("Neg", _unary(), lambda x: -x, lambda t, x: -x),
    Op("Exp", _unary(), lambda x: x.exp(), lambda t, x: t.exp(x)),
    Op("Log", _unary(positive()), lambda x: x.log(), lambda t, x: t.log(x)),
    Op("Sqrt", _unary(positive()), lambda x: x.sqrt(), lambda t, x: t.sqrt(x)),
    Op("Abs", _unary(nonzero()), lambda x: x.abs(), lambda t, x: t.abs(x)),
    Op("Sigmoid", _unary(floats(-8, 8)), lambda x: x.sigmoid(), lambda t, x: t.sigmoid(x)),
    Op("Tanh", _unary(), lambda x: x.tanh(), lambda t, x: t.tanh(x)),
    Op("Relu", _unary(nonzero()), lambda x: x.relu(), lambda t, x: t.relu(x)),
    Op("Clip", _clip_draw, lambda x, lo, hi: x.clip(lo, hi), lambda t, x, lo, hi: t.clamp(x, lo, hi)),
    Op("PowScalar", _pow_scalar_draw, lambda x, p: x**p, lambda t, x, p: x**p),
    # float32 rounding (1e-7) needs a wider step and tolerance than gradcheck's defaults
    Op("Cast", _unary(), lambda x: x.astype(np.float32), lambda t, x: x.float(),
       {"eps": 1e-3, "atol": 1e-3, "rtol": 1e-2}),
    Op("Add", _binary(), lambda a, b: a + b, lambda t, a, b: a + b),
    Op("Sub", _binary(), lambda a, b: a - b, lambda t, a, b: a - b),
    Op("Mul", _binary(), lambda a, b: a * b, lambda t, a, b: a * b),
    Op("Div", _binary(None, nonzero(0.5)), lambda a, b: a / b, lambda t, a, b: a / b),
    Op("Pow", _binary(positive(0.5), floats(-2, 2)), lambda a, b: a**b, lambda t, a, b: a**b),
    Op("Maximum", _maximum_draw, lambda a, b: a.maximum(b), lambda t, a, b: t.maximum(a, b)),
    Op("Minimum", _maximum_draw, lambda a, b: a.minimum(b), lambda t, a, b: t.minimum(a, b)),
    Op("Where", _where_draw, lambda a, b, cond: tl.where(cond, a, b),
       lambda t, a, b, cond: t.where(t.from_numpy(cond), a, b)),
    Op("MatMul", _matmul_draw, lambda a, b: a @ b, lambda t, a, b: a @ b),
    Op("Sum", _reduction(), lambda x, axis, keepdims: x.sum(axis, keepdims), _torch_reduce("sum")),
    Op("Mean", _reduction(), lambda x, axis, keepdims: x.mean(axis, keepdims), _torch_reduce("mean")),
    Op("Max", _reduction(separated(0.1), unique=True), lambda x, axis, keepdims: x.max(axis, keepdims),
       _torch_reduce("amax")),
    Op("Min", _reduction(separated(0.1), unique=True), lambda x, axis, keepdims: x.min(axis, keepdims),
       _torch_reduce("amin")),
    Op("LogSumExp", _reduction(), lambda x, axis, keepdims: x.logsumexp(axis, keepdims),
       _torch_reduce("logsumexp")),
    Op("Softmax", _softmax_draw, lambda x, axis: x.softmax(axis), lambda t, x, axis: t.softmax(x, axis)),
    Op("LogSoftmax", _softmax_draw, lambda x, axis: x.log_softmax(axis),
       lambda t, x, axis: t.log_softmax(x, axis)),
    Op("Reshape", _reshape_draw, lambda x, shape: x.reshape(shape), lambda t, x, shape: x.reshape(shape)),
    Op("Transpose", _transpose_draw, lambda x, axes: x.transpose(axes), lambda t, x, axes: x.permute(axes)),
    Op("BroadcastTo", _broadcast_to_draw, lambda x, shape: x.broadcast_to(shape),
       lambda t, x, shape: x.broadcast_to(shape)),
    Op("GetItem", _getitem_basic_draw, lambda x, index: x[index], None),  # torch has no negative steps
    Op("GetItem", _getitem_array_draw, lambda x, index: x[index],
       lambda t, x, index: x[t.from_numpy(index)]),
    Op("Take", _take_draw, lambda x, index: x[tl.Tensor(index)], lambda t, x, index: x[t.from_numpy(index)]),
    Op("Take", _take_along_draw, lambda x, index: index_by(x, tl.Tensor(index), along=True),
       lambda t, x, index: x.gather(1, t.from_numpy(index)[:, None])[:, 0]),
    # the gradient of indexing as an op of its own (what create_graph records for x[index])
    Op("ScatterAdd", _scatter_add_draw, _scatter_add, _torch_scatter_add),
    Op("Stack", _stack_draw, lambda *xs, axis: tl.stack(xs, axis), lambda t, *xs, axis: t.stack(xs, axis)),
    Op("Concatenate", _concat_draw, lambda *xs, axis: tl.concatenate(xs, axis),
       lambda t, *xs, axis: t.cat(xs, axis)),
]
