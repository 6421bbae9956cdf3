"""The op surface: every op as a Tensor method, an operator and a module-level function.

Each function here is written once and serves twice: ``exp(x)`` is ``tinygrad_lite.exp`` and,
attached to Tensor by the table at the bottom, ``x.exp()``. A function checks its arguments
(the errors name the op and the shapes), then hands the numpy work to one ``ops.Function``
through the engine's ``_unary``/``_binary``/``_nary``. Nothing here differentiates anything.
"""

import builtins
import operator

import numpy as np

from . import ops
from .engine import Tensor, _binary, _const, _nary, _unary
from .errors import ShapeError

__all__ = ["add", "sub", "mul", "div", "pow", "matmul", "neg", "exp", "log", "sqrt", "abs", "sigmoid",
           "tanh", "relu", "clip", "clamp", "square", "dot", "maximum", "minimum", "sum", "mean", "max",
           "min", "logsumexp", "softmax", "log_softmax", "argmax", "argmin", "reshape", "view", "flatten",
           "squeeze", "unsqueeze", "expand_dims", "transpose", "permute", "swapaxes", "broadcast_to",
           "expand", "split", "chunk", "unbind", "stack", "concatenate", "cat", "where"]


def as_tensor(value, like=None):
    """``value`` as a Tensor: itself, or a constant (with ``like``'s dtype rules for a Python number)."""
    if isinstance(value, Tensor):
        return value
    if like is not None:
        return _lift(value, like, "as_tensor")
    return _const(np.asarray(value))


def _lift(value, like, op):
    """A constant tensor for a Python number or array met in a binary op."""
    if isinstance(value, (bool, int, builtins.float)):
        # numpy's rule for Python scalars: they take the tensor's dtype (float32 stays float32)
        dtype = like._data.dtype if isinstance(like, Tensor) else np.result_type(value)
        if dtype.kind != "f":
            dtype = np.result_type(dtype, value)
        return _const(np.asarray(value, dtype=dtype))
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return _const(np.array(value))  # a copy, as torch does: a later write cannot reach the graph
    raise TypeError(f"{op}: cannot combine a Tensor with {type(value).__name__}")


def _broadcasting(op, name):
    """The function for a binary op: lift Python numbers and arrays, name both shapes on a misfit."""
    def fn(a, b):
        if not isinstance(a, Tensor):
            a = _lift(a, b, op.__name__)
        if not isinstance(b, Tensor):
            b = _lift(b, a, op.__name__)
        try:
            return _binary(op, a, b)
        except ValueError as e:
            raise ShapeError(f"{op.__name__}: shapes {a.shape} and {b.shape} do not broadcast together "
                             f"({e})") from None
    fn.__name__ = fn.__qualname__ = name
    return fn


# ---- arithmetic -----------------------------------------------------------------------------

add = _broadcasting(ops.Add, "add")
sub = _broadcasting(ops.Sub, "sub")
mul = _broadcasting(ops.Mul, "mul")
div = _broadcasting(ops.Div, "div")
_pow = _broadcasting(ops.Pow, "pow")
maximum = _broadcasting(ops.Maximum, "maximum")
minimum = _broadcasting(ops.Minimum, "minimum")


def pow(x, exponent):  # noqa: A001 - numpy's and torch's name
    if isinstance(exponent, (int, builtins.float)) and not isinstance(exponent, bool):
        x = as_tensor(x)
        if x._data.dtype.kind in "biu" and isinstance(exponent, int) and exponent < 0:
            raise ValueError(f"pow: integers to negative integer powers are not allowed (tensor of shape "
                             f"{x.shape} and dtype {x.dtype} ** {exponent}); convert it to float first")
        return _unary(ops.PowScalar, x, exponent)
    return _pow(x, exponent)


def matmul(a, b):
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"MatMul: operands must have at least one dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ShapeError(f"MatMul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"the last axis of the first ({inner_a}) must equal the "
                         f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the second ({inner_b})")
    try:
        return _binary(ops.MatMul, a, b)
    except ValueError:
        raise ShapeError(f"MatMul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast") from None


def dot(a, b):
    """numpy's (and tinygrad's) dot for 1-D and 2-D operands, a matmul; use matmul beyond."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(f"dot: operands of at most two axes, got shapes {a.shape} and {b.shape}; "
                         "use matmul (@) for stacks of matrices")
    return matmul(a, b)


def square(x):
    x = as_tensor(x)
    return _binary(ops.Mul, x, x)


# ---- elementwise, one input -----------------------------------------------------------------


def _elementwise(op, doc):
    def fn(x):
        return _unary(op, x if isinstance(x, Tensor) else as_tensor(x))
    fn.__name__ = fn.__qualname__ = op.__name__.lower()
    fn.__doc__ = doc
    return fn


neg = _elementwise(ops.Neg, "-x")
exp = _elementwise(ops.Exp, "e to the x")
log = _elementwise(ops.Log, "the natural logarithm")
sqrt = _elementwise(ops.Sqrt, "the square root")
abs = _elementwise(ops.Abs, "|x|; its gradient is 0 at 0, as PyTorch's")  # noqa: A001
sigmoid = _elementwise(ops.Sigmoid, "1 / (1 + e^-x), accurate in both tails")
tanh = _elementwise(ops.Tanh, "the hyperbolic tangent")
relu = _elementwise(ops.Relu, "max(x, 0); its gradient is 0 at 0, as PyTorch's")


def clip(x, min=None, max=None):  # noqa: A002 - numpy's names
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    return _unary(ops.Clip, as_tensor(x), min, max)


def astype(x, dtype):
    dtype = np.dtype(dtype)
    if x._rg and dtype.kind != "f":
        raise TypeError(f"astype: cannot cast a tensor that requires grad to {dtype}; detach() it first")
    return x if dtype == x._data.dtype else _unary(ops.Cast, x, dtype)


def _to_float32(x):
    return astype(x, np.float32)


def _to_float64(x):
    return astype(x, np.float64)


# ---- reductions -----------------------------------------------------------------------------


def sum(x, axis=None, keepdims=False):  # noqa: A001
    x = as_tensor(x)
    return _unary(ops.Sum, x, _axes(axis, x.ndim, "sum"), keepdims)


def mean(x, axis=None, keepdims=False):
    x = as_tensor(x)
    return _unary(ops.Mean, x, _axes(axis, x.ndim, "mean"), keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    x = as_tensor(x)
    _check_not_empty(x, "max")
    return _unary(ops.Max, x, _axes(axis, x.ndim, "max"), keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    x = as_tensor(x)
    _check_not_empty(x, "min")
    return _unary(ops.Min, x, _axes(axis, x.ndim, "min"), keepdims)


def logsumexp(x, axis=None, keepdims=False):
    x = as_tensor(x)
    _check_not_empty(x, "logsumexp")
    return _unary(ops.LogSumExp, x, _axes(axis, x.ndim, "logsumexp"), keepdims)


def softmax(x, axis=-1):
    x = as_tensor(x)
    return _unary(ops.Softmax, x, _axis(axis, x.ndim, "softmax"))


def log_softmax(x, axis=-1):
    x = as_tensor(x)
    return _unary(ops.LogSoftmax, x, _axis(axis, x.ndim, "log_softmax"))


def argmax(x, axis=None):
    return _const(np.argmax(as_tensor(x)._data, axis=axis))


def argmin(x, axis=None):
    return _const(np.argmin(as_tensor(x)._data, axis=axis))


# ---- shape ----------------------------------------------------------------------------------


def reshape(x, *shape):
    x = as_tensor(x)
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    try:
        return _unary(ops.Reshape, x, tuple(shape))
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into {tuple(shape)}") from None


def flatten(x):
    return reshape(x, -1)


def squeeze(x, axis=None):
    x = as_tensor(x)
    axes = _axes(axis, x.ndim, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    elif not isinstance(axes, tuple):
        axes = (axes,)
    if any(x.shape[i] != 1 for i in axes):
        raise ShapeError(f"squeeze: axis {axis} of shape {x.shape} does not have size 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis):
    x = as_tensor(x)
    axis = _axis(axis, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def transpose(x, *axes):
    x = as_tensor(x)
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list, type(None))) else axes
    if not axes:
        return _unary(ops.Transpose, x, None)
    axes = tuple(_axis(a, x.ndim, "transpose") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return _unary(ops.Transpose, x, axes)


def swapaxes(x, axis1, axis2):
    x = as_tensor(x)
    axes = list(range(x.ndim))
    a, b = _axis(axis1, x.ndim, "swapaxes"), _axis(axis2, x.ndim, "swapaxes")
    axes[a], axes[b] = axes[b], axes[a]
    return _unary(ops.Transpose, x, tuple(axes))


def broadcast_to(x, shape):
    x = as_tensor(x)
    try:
        np.broadcast_shapes(x.shape, tuple(shape))
        return _unary(ops.BroadcastTo, x, tuple(shape))
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}") from None


# ---- indexing and pieces --------------------------------------------------------------------


def getitem(x, index):
    kind = type(index)
    if kind is int or kind is slice or (kind is tuple and _is_basic(index)):
        unique = True  # the hot path: x[t], x[a:b], gates[:, a:b]
    else:
        index, unique = _normalize_index(index)
    try:
        return _unary(ops.GetItem, x, index, unique)
    except IndexError as e:
        raise IndexError(f"getitem: index {_show_index(index)} does not fit a tensor of shape {x.shape}: {e}") from None


def unbind(x, axis=0):
    """The slices along ``axis``, each carrying its own gradient into one shared buffer."""
    x = as_tensor(x)
    axis = _axis(axis, x.ndim, "unbind")
    lead = (slice(None),) * axis
    return tuple(x[lead + (i,)] for i in range(x.shape[axis]))


def split(x, indices_or_sections, axis=0):
    """numpy.split: ``n`` equal pieces, or pieces cut at the given indices."""
    x = as_tensor(x)
    axis = _axis(axis, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or length % indices_or_sections:
            raise ShapeError(f"split: axis {axis} of shape {x.shape} does not split into "
                             f"{indices_or_sections} equal pieces")
        step = length // indices_or_sections
        cuts = list(range(step, length, step))
    else:
        cuts = list(indices_or_sections)
    lead = (slice(None),) * axis
    bounds = [0] + cuts + [length]
    return tuple(x[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))


def chunk(x, chunks, axis=0):
    """torch.chunk: ``chunks`` pieces of equal size (the last may be smaller)."""
    x = as_tensor(x)
    axis = _axis(axis, x.ndim, "chunk")
    if not isinstance(chunks, (int, np.integer)) or isinstance(chunks, bool) or chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be a positive int, got {chunks!r} "
                         f"(tensor of shape {x.shape})")
    step = -(-x.shape[axis] // chunks)
    lead = (slice(None),) * axis
    return tuple(x[lead + (slice(a, a + step),)] for a in range(0, x.shape[axis], step))


def stack(tensors, axis=0):
    tensors = _tensor_list(tensors, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: every tensor must have the same shape, got {[t.shape for t in tensors]}")
    return _nary(ops.Stack, tensors, _axis(axis, tensors[0].ndim + 1, "stack"))


def concatenate(tensors, axis=0):
    tensors = _tensor_list(tensors, "concatenate")
    if builtins.any(t.ndim == 0 for t in tensors):
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated; use stack()")
    axis = _axis(axis, tensors[0].ndim, "concatenate")
    try:
        return _nary(ops.Concatenate, tensors, axis)
    except ValueError:
        raise ShapeError(f"concatenate: shapes {[t.shape for t in tensors]} differ outside axis {axis}") from None


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``; gradients flow to x and y, not to the condition."""
    cond = np.asarray(condition._data if isinstance(condition, Tensor) else condition, dtype=bool)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = as_tensor(x)
    x = x if isinstance(x, Tensor) else _lift(x, y, "where")
    y = y if isinstance(y, Tensor) else _lift(y, x, "where")
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise ShapeError(f"where: shapes {cond.shape} (condition), {x.shape} and {y.shape} do not "
                         "broadcast together") from None
    return _nary(ops.Where, (x, y), cond)


# ---- argument checks ------------------------------------------------------------------------


def _axis(axis, ndim, op):
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def _axes(axis, ndim, op):
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        axes = tuple(_axis(a, ndim, op) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: repeated axis in {axis}")
        return axes
    return _axis(axis, ndim, op)


def _check_not_empty(t, op):
    if t.size == 0:
        raise ValueError(f"{op}: cannot reduce a tensor of shape {t.shape} with no elements")


def _is_basic(index):
    """A tuple of ints and slices only: it selects every element at most once, no copy needed."""
    for part in index:
        kind = type(part)
        if kind is not slice and kind is not int:
            return False
    return True


def _normalize_index(index):
    """Turn Tensors and lists in an index into arrays; say whether it selects each element once."""
    parts = index if isinstance(index, tuple) else (index,)
    out, unique = [], True
    for part in parts:
        if isinstance(part, Tensor):
            part = part._data
        if isinstance(part, (list, np.ndarray)):
            part = np.array(part)  # a copy: the index must not change before backward
            if part.dtype.kind in "iu":
                unique = False  # integer arrays may repeat a position
            elif part.dtype.kind != "b":
                raise IndexError(f"getitem: index arrays must hold integers or booleans, got {part.dtype}")
        elif isinstance(part, bool):
            unique = False
        elif not isinstance(part, (int, np.integer, slice, type(None), type(Ellipsis))):
            raise IndexError(f"getitem: cannot index with {type(part).__name__}")
        out.append(part)
    return (tuple(out) if isinstance(index, tuple) else out[0]), unique


def _show_index(index):
    text = repr(index)
    return text if len(text) < 80 else text[:77] + "..."


def _tensor_list(tensors, op):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return tensors


# ---- conversions to numpy and Python ---------------------------------------------------------


def numel(x):
    return x._data.size


def numpy(x):
    return x.data  # read-only while x's graph lives (see guards.py)


def item(x):
    if x._data.size != 1:
        raise ValueError(f"item: only a one-element tensor converts to a Python number, shape is {x.shape}")
    return x._data.item()


def tolist(x):
    return x._data.tolist()


def _array(x, dtype=None, copy=None):
    return x.data if dtype is None else x._data.astype(dtype)


def _len(x):
    if x._data.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return len(x._data)


def _iter(x):
    if x._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (x[i] for i in range(len(x._data)))


def _repr(x):
    body = np.array2string(x._data, separator=", ", prefix="Tensor(")
    extras = [f"dtype={x._data.dtype}"]
    if x._rg:
        extras.append("requires_grad=True")
    if x.name is not None:
        extras.append(f"name={x.name!r}")
    return f"Tensor({body}, {', '.join(extras)})"


def _setitem(x, index, value):
    raise TypeError("Tensor does not support item assignment: build a new tensor with where() or "
                    "concatenate(), or assign to tensor.data outside a graph")


# ---- the table: which function is which method and operator ---------------------------------

# aliases that other libraries' users type (torch, tinygrad, micrograd)
clamp, view, expand_dims, permute, expand, cat = clip, reshape, unsqueeze, transpose, broadcast_to, concatenate


def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    method.__name__ = f"__r{fn.__name__}__"
    return method


def _comparison(compare):
    def method(self, other):  # comparisons give constant boolean tensors, as in numpy
        return _const(compare(self._data, other._data if isinstance(other, Tensor) else other))
    method.__name__ = compare.__name__
    return method


_METHODS = {fn.__name__: fn for fn in (
    add, sub, mul, div, pow, matmul, dot, square, maximum, minimum, neg, exp, log, sqrt, abs, sigmoid, tanh,
    relu, clip, astype, sum, mean, max, min, logsumexp, softmax, log_softmax, argmax, argmin, reshape, flatten,
    squeeze, unsqueeze, transpose, swapaxes, broadcast_to, unbind, split, chunk, numel, numpy, item, tolist)}
_METHODS.update(clamp=clip, view=reshape, expand_dims=unsqueeze, permute=transpose, expand=broadcast_to,
                float=_to_float32, double=_to_float64, T=property(transpose))
_OPERATORS = {
    "__add__": add, "__sub__": sub, "__mul__": mul, "__truediv__": div, "__pow__": pow, "__matmul__": matmul,
    "__radd__": _reflected(add), "__rsub__": _reflected(sub), "__rmul__": _reflected(mul),
    "__rtruediv__": _reflected(div), "__rpow__": _reflected(pow), "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__pos__": lambda x: x, "__abs__": abs, "__getitem__": getitem, "__setitem__": _setitem,
    "__eq__": _comparison(operator.eq), "__ne__": _comparison(operator.ne), "__lt__": _comparison(operator.lt),
    "__le__": _comparison(operator.le), "__gt__": _comparison(operator.gt),
    "__ge__": _comparison(operator.ge),
    "__array__": _array, "__len__": _len, "__iter__": _iter, "__repr__": _repr,
    "__bool__": lambda x: bool(x._data),  # numpy's rule: only one-element tensors have a truth value
    "__float__": lambda x: builtins.float(item(x)), "__int__": lambda x: int(item(x)),
}
for _name, _fn in {**_METHODS, **_OPERATORS}.items():
    setattr(Tensor, _name, _fn)
