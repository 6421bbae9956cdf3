"""The op surface: every op as a Tensor method, an operator and a module-level function.

Each function here is written once and serves twice: ``exp(x)`` is ``tinygrad_lite.exp`` and,
attached to Tensor by the table at the bottom, ``x.exp()``. A function checks its arguments
(the errors name the op and the shapes), then hands the numpy work to one ``ops.Function``
through the engine's ``_unary``/``_binary``/``_nary``. Nothing here differentiates anything.
"""

import builtins
import numbers
import operator

import numpy as np

from . import ops
from .arguments import (
    _axes,
    _axis,
    _check_reducible,
    _check_sizes,
    _keepdims,
    _lift,
    _misfit,
    _normalize_index,
    _scalar_dtype,
    _show_index,
    _tensor,
    _tensor_list,
    numeric_array,
)
from .checks import broadcast_shape, broadcastable, index_problem, is_int, reshape_problem
from .conversions import (
    _array,
    _bool,
    _deepcopy,
    _float,
    _int,
    _iter,
    _len,
    _repr,
    _setitem,
    item,
    numel,
    numpy,
    tolist,
)
from .engine import Tensor, _binary, _const, _nary, _unary
from .errors import ShapeError

__all__ = ["add", "sub", "mul", "div", "pow", "matmul", "neg", "exp", "log", "sqrt", "abs", "sigmoid",
           "tanh", "relu", "clip", "clamp", "square", "dot", "maximum", "minimum", "sum", "mean", "max",
           "min", "logsumexp", "softmax", "log_softmax", "argmax", "argmin", "reshape", "view", "flatten",
           "squeeze", "unsqueeze", "expand_dims", "transpose", "permute", "swapaxes", "broadcast_to",
           "expand", "split", "chunk", "unbind", "stack", "concatenate", "cat", "where"]

_BOOL = np.dtype(bool)


def _broadcasting(op, name, refuse_bools=None):
    """The function for a binary op: lift Python numbers and arrays, check shapes that differ.

    ``refuse_bools``: what to do instead, for an op that numpy refuses on two bool arrays. The
    function's ``method`` serves the operator and the method, whose first operand is a Tensor
    already: one isinstance less on the hottest path there is (``h * c``).
    """
    label = op.__name__  # the errors name the op as its node does: Add, MatMul

    def method(a, b):
        if not isinstance(b, Tensor):
            b = _lift(b, a, label)
        try:  # shapes that fit (nearly always): checking them first would cost more than the op
            return _binary(op, a, b)
        except ValueError:
            pass  # numpy refused the shapes: the check below names them, outside this handler
        if not broadcastable(a._data.shape, b._data.shape):
            raise _misfit(label, a, b)
        return _binary(op, a, b)  # numpy's own ValueError (not the shapes): raised again

    if refuse_bools is not None:
        plain = method

        def method(a, b):  # noqa: F811 - the same, first refusing two bools
            if not isinstance(b, Tensor):
                b = _lift(b, a, label)
            if a._data.dtype is _BOOL and b._data.dtype is _BOOL:
                raise TypeError(f"{label}: not defined for two bool tensors (shapes {a.shape} and {b.shape}); "
                                f"{refuse_bools}")
            return plain(a, b)

    def fn(a, b):
        return method(a if isinstance(a, Tensor) else _lift(a, b, label), b)
    fn.__name__ = fn.__qualname__ = method.__name__ = method.__qualname__ = name
    fn.method = method
    return fn


# ---- arithmetic -----------------------------------------------------------------------------

add = _broadcasting(ops.Add, "add")
sub = _broadcasting(ops.Sub, "sub", refuse_bools="use logical_xor (^) or convert to int")
mul = _broadcasting(ops.Mul, "mul")
div = _broadcasting(ops.Div, "div")
_pow = _broadcasting(ops.Pow, "pow")
maximum = _broadcasting(ops.Maximum, "maximum")
minimum = _broadcasting(ops.Minimum, "minimum")


def pow(x, exponent):  # noqa: A001 - numpy's and torch's name
    if isinstance(exponent, (int, builtins.float, np.integer, np.floating)) and not isinstance(exponent, bool):
        x = _tensor(x, "Pow")
        if type(exponent) is int:
            _scalar_dtype(exponent, x, "Pow")  # it must fit the tensor's dtype, as numpy requires
        if x._data.dtype.kind in "biu" and is_int(exponent) and exponent < 0 and x._data.size:
            raise _negative_power(x, exponent)
        return _unary(ops.PowScalar, x, exponent)
    x = x if isinstance(x, Tensor) else _lift(x, exponent, "Pow")  # 2 ** tensor
    exponent = exponent if isinstance(exponent, Tensor) else _lift(exponent, x, "Pow")
    if x._data.dtype.kind in "biu" and exponent._data.dtype.kind in "iu" and (exponent._data < 0).any() \
            and x._data.size:
        raise _negative_power(x, exponent)
    return _pow(x, exponent)


def _negative_power(x, exponent):
    shown = f"a tensor of shape {exponent.shape}" if isinstance(exponent, Tensor) else exponent
    return ValueError(f"pow: integers to negative integer powers are not allowed (tensor of shape {x.shape} "
                      f"and dtype {x.dtype} ** {shown}); convert it to float first")


def _matmul_problem(sa, sb):
    """Why arrays of shapes ``sa`` and ``sb`` do not matmul (numpy's rules), or None."""
    if not sa or not sb:
        return "operands must have at least one dimension"
    inner_b = sb[-2] if len(sb) > 1 else sb[0]
    if sa[-1] != inner_b:
        return (f"the last axis of the first ({sa[-1]}) must equal the "
                f"{'second-to-last' if len(sb) > 1 else 'only'} axis of the second ({inner_b})")
    if (len(sa) > 2 or len(sb) > 2) and not broadcastable(sa[:-2], sb[:-2]):
        return f"the batch axes {sa[:-2]} and {sb[:-2]} do not broadcast together"
    return None


def matmul(a, b):
    if not isinstance(a, Tensor):
        a = _tensor(a, "MatMul", (b,))
    if not isinstance(b, Tensor):
        b = _tensor(b, "MatMul", (a,))
    sa, sb = a._data.shape, b._data.shape
    if not (len(sa) == 2 == len(sb) and sa[1] == sb[0]):  # two matrices that fit: the common case
        problem = _matmul_problem(sa, sb)
        if problem:
            raise ShapeError(f"MatMul: shapes {sa} and {sb} do not fit: {problem}")
    return _binary(ops.MatMul, a, b)


def dot(a, b):
    """numpy's (and tinygrad's) dot for 1-D and 2-D operands, a matmul; use matmul beyond."""
    a, b = _tensor(a, "dot", (b,)), _tensor(b, "dot", (a,))
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(f"dot: operands of at most two axes, got shapes {a.shape} and {b.shape}; "
                         "use matmul (@) for stacks of matrices")
    problem = _matmul_problem(a.shape, b.shape)
    if problem:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} do not fit: {problem}")
    return _binary(ops.MatMul, a, b)


def square(x):
    x = _tensor(x, "square")
    return _binary(ops.Mul, x, x)


# ---- elementwise, one input -----------------------------------------------------------------


def _elementwise(op, doc):
    name = op.__name__.lower()

    def fn(x):
        return _unary(op, x if isinstance(x, Tensor) else _tensor(x, name))

    def method(x):  # x.exp(): x is a Tensor already, one isinstance less on a hot path
        return _unary(op, x)
    fn.__name__ = fn.__qualname__ = method.__name__ = method.__qualname__ = name
    fn.__doc__ = method.__doc__ = doc
    fn.method = method
    return fn


def neg(x):
    """-x"""
    x = x if isinstance(x, Tensor) else _tensor(x, "neg")
    if x._data.dtype is _BOOL:
        raise TypeError(f"neg: not defined for a bool tensor (shape {x.shape}); use logical_not (~) "
                        "or convert to int first")
    return _unary(ops.Neg, x)


exp = _elementwise(ops.Exp, "e to the x")
log = _elementwise(ops.Log, "the natural logarithm")
sqrt = _elementwise(ops.Sqrt, "the square root")
abs = _elementwise(ops.Abs, "|x|; its gradient is 0 at 0, as PyTorch's")  # noqa: A001
sigmoid = _elementwise(ops.Sigmoid, "1 / (1 + e^-x), accurate in both tails")
tanh = _elementwise(ops.Tanh, "the hyperbolic tangent")
relu = _elementwise(ops.Relu, "max(x, 0); its gradient is 0 at 0, as PyTorch's")


def clip(x, min=None, max=None):  # noqa: A002 - numpy's names
    x = _tensor(x, "clip")
    if min is None and max is None:
        raise ValueError(f"clip: give min, max or both (tensor of shape {x.shape})")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clip: min and max must be numbers or None, got {type(bound).__name__} "
                            f"{bound!r:.60} (tensor of shape {x.shape})")
        if type(bound) is int:
            _scalar_dtype(bound, x, "clip")  # an int must fit an integer tensor's dtype, as numpy requires
    return _unary(ops.Clip, x, min, max)


def astype(x, dtype):
    dtype = _dtype(dtype, x, "astype")
    if x._rg and dtype.kind != "f":
        raise TypeError(f"astype: cannot cast a tensor that requires grad (shape {x.shape}) to {dtype}; "
                        "detach() it first")
    return x if dtype == x._data.dtype else _unary(ops.Cast, x, dtype)


def _dtype(spec, x, op):
    """``spec`` as a bool, int or float numpy dtype, or a TypeError naming ``op``."""
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError):
        dtype = None  # raised below, outside this handler: the error is ours, not numpy's parse error
    if dtype is None or dtype.kind not in "biuf":
        raise TypeError(f"{op}: {spec!r} is not a bool, int or float dtype (tensor of shape {x.shape})")
    return dtype


def _to_float32(x):
    return astype(x, np.float32)


def _to_float64(x):
    return astype(x, np.float64)


# ---- reductions -----------------------------------------------------------------------------


def _exponential_input(x, op):
    """The input of softmax, log_softmax or logsumexp, which subtract the maximum: integers as the
    float dtype numpy's exp gives them (x - max of uint8 would wrap around), bools refused."""
    kind = x._data.dtype.kind
    if kind == "b":
        raise TypeError(f"{op}: not defined for a bool tensor (shape {x.shape}); convert it to float first")
    return astype(x, np.result_type(x._data.dtype, np.float16)) if kind in "iu" else x


def _reduce(op, name, x, axis, keepdims, needs_elements=False, exponential=False):
    x = _tensor(x, name)
    axes = _axes(axis, x, name)
    if needs_elements:
        _check_reducible(x, axes, name)
    if exponential:
        x = _exponential_input(x, name)
    return _unary(op, x, axes, _keepdims(keepdims, x, name))


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(ops.Sum, "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce(ops.Mean, "mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(ops.Max, "max", x, axis, keepdims, needs_elements=True)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(ops.Min, "min", x, axis, keepdims, needs_elements=True)


def logsumexp(x, axis=None, keepdims=False):
    return _reduce(ops.LogSumExp, "logsumexp", x, axis, keepdims, needs_elements=True, exponential=True)


def softmax(x, axis=-1):
    return _softmax(ops.Softmax, "softmax", x, axis)


def log_softmax(x, axis=-1):
    return _softmax(ops.LogSoftmax, "log_softmax", x, axis)


def _softmax(op, name, x, axis):
    x = _exponential_input(_tensor(x, name), name)
    if x.ndim == 0:  # axis 0 of a scalar, as numpy and torch take it: the softmax of one element
        _axis(axis, 1, name, x.shape)
        return reshape(_unary(op, reshape(x, (1,)), 0), ())
    return _unary(op, x, _axis(axis, x.ndim, name, x.shape))


def argmax(x, axis=None):
    return _arg_extreme(np.argmax, "argmax", x, axis)


def argmin(x, axis=None):
    return _arg_extreme(np.argmin, "argmin", x, axis)


def _arg_extreme(find, name, x, axis):
    x = _tensor(x, name)
    if axis is not None:  # numpy and torch take axis 0 (or -1) of a 0-d tensor too
        axis = _axis(axis, builtins.max(x.ndim, 1), name, x.shape)
    if x.ndim:
        _check_reducible(x, axis, name)
    return _const(find(x._data, axis=axis))


# ---- shape ----------------------------------------------------------------------------------


def reshape(x, *shape):
    x = _tensor(x, "reshape")
    shape = tuple(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)
    if not _plain_reshape(shape, x._data.size):  # numpy ints, or a misfit: the full check
        _check_sizes(shape, x, "reshape")
        problem = reshape_problem(x._data.size, shape)
        if problem:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into {shape}: {problem}")
    return _unary(ops.Reshape, x, shape)


def _plain_reshape(shape, size):
    """Python ints (one of them perhaps -1) that hold ``size`` elements: the common case, checked inline."""
    known, free = 1, False
    for n in shape:
        if type(n) is not int:
            return False
        if n >= 0:
            known *= n
        elif n != -1 or free:
            return False
        else:
            free = True
    return known != 0 and size % known == 0 if free else known == size


def flatten(x):
    return reshape(x, -1)


def squeeze(x, axis=None):
    x = _tensor(x, "squeeze")
    axes = _axes(axis, x, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    elif not isinstance(axes, tuple):
        axes = (axes,)
    if builtins.any(x.shape[i] != 1 for i in axes):
        raise ShapeError(f"squeeze: axis {axis} of shape {x.shape} does not have size 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis):
    x = _tensor(x, "unsqueeze")
    axis = _axis(axis, x.ndim + 1, "unsqueeze", x.shape)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def transpose(x, *axes):
    x = _tensor(x, "transpose")
    if not axes or (len(axes) == 1 and axes[0] is None):  # no axes given: reverse them all
        return _unary(ops.Transpose, x, None)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    axes = tuple(_axis(a, x.ndim, "transpose", x.shape) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return _unary(ops.Transpose, x, axes)


def swapaxes(x, axis1, axis2):
    x = _tensor(x, "swapaxes")
    axes = list(range(x.ndim))
    a, b = _axis(axis1, x.ndim, "swapaxes", x.shape), _axis(axis2, x.ndim, "swapaxes", x.shape)
    axes[a], axes[b] = axes[b], axes[a]
    return _unary(ops.Transpose, x, tuple(axes))


def broadcast_to(x, shape):
    x = _tensor(x, "broadcast_to")
    shape = (shape,) if is_int(shape) else shape
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"broadcast_to: the shape must be an int or a tuple of ints, got {type(shape).__name__} "
                        f"{shape!r:.60} (tensor of shape {x.shape})")
    shape = tuple(shape)
    _check_sizes(shape, x, "broadcast_to")
    fits = len(shape) >= x.ndim and builtins.all(n >= 0 for n in shape) and builtins.all(
        m == 1 or m == n for m, n in zip(x.shape[::-1], shape[::-1]))
    if not fits:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return _unary(ops.BroadcastTo, x, shape)


# ---- indexing and pieces --------------------------------------------------------------------

def getitem(x, index):
    kind = type(index)
    # the hot path (x[t], x[a:b], gates[:, a:b]): ints and slices only, tried on numpy at once;
    # checking bounds first costs more than the indexing (this runs for every gates[:, a:b])
    basic = kind is int or kind is slice
    if kind is tuple:
        basic = True
        for part in index:
            if type(part) is not slice and type(part) is not int:
                basic = False
                break
    if basic:
        try:
            return _unary(ops.GetItem, x, index, True)
        except (IndexError, TypeError, ValueError):
            pass  # numpy refused the index: the checks below name the problem, outside this handler
    if kind is Tensor and index._data.dtype.kind in "iu" and x._data.ndim:
        return index_by(x, index, what="getitem")
    shape = x._data.shape
    index, unique = _normalize_index(index, x)
    problem = index_problem(shape, index)
    if problem:
        raise IndexError(f"getitem: index {_show_index(index)} does not fit a tensor of shape {shape}: {problem}")
    return _unary(ops.GetItem, x, index, unique)


def index_by(x, index, along=False, negative=True, what="index_by"):
    """``x[index]`` for an integer Tensor ``index`` (rows of x), or with ``along`` one entry per
    row, ``x[i, index[i]]``. The index is an input of the op, not a value baked into it: a compiled
    function reads it afresh at every replay (embeddings and losses index by their data)."""
    if along and (x.ndim != 2 or index.shape != x.shape[:1]):
        raise ShapeError(f"{what}: one index per row needs x (N, C) and index (N,), got {x.shape} and {index.shape}")
    return _nary(ops.Take, (x, index), along, negative, what)


def unbind(x, axis=0):
    """The slices along ``axis``, each carrying its own gradient into one shared buffer."""
    x = _tensor(x, "unbind")
    axis = _axis(axis, x.ndim, "unbind", x.shape)
    lead = (slice(None),) * axis
    return tuple(x[lead + (i,)] for i in range(x.shape[axis]))


def split(x, indices_or_sections, axis=0):
    """numpy.split: ``n`` equal pieces, or pieces cut at the given indices."""
    x = _tensor(x, "split")
    axis = _axis(axis, x.ndim, "split", x.shape)
    length = x.shape[axis]
    if is_int(indices_or_sections):
        n = int(indices_or_sections)
        if n <= 0 or length % n:
            raise ShapeError(f"split: axis {axis} of shape {x.shape} does not split into {n} equal pieces")
        cuts = [length // n * k for k in range(1, n)]
    elif isinstance(indices_or_sections, (tuple, list, np.ndarray)) and builtins.all(
            is_int(i) for i in np.ravel(indices_or_sections)):
        cuts = [int(i) for i in np.ravel(indices_or_sections)]
    else:
        raise TypeError(f"split: expected a number of pieces or a list of int indices, got "
                        f"{indices_or_sections!r:.60} (tensor of shape {x.shape})")
    lead = (slice(None),) * axis
    bounds = [0] + cuts + [length]
    return tuple(x[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))


def chunk(x, chunks, axis=0):
    """torch.chunk: ``chunks`` pieces of equal size (the last may be smaller)."""
    x = _tensor(x, "chunk")
    axis = _axis(axis, x.ndim, "chunk", x.shape)
    if not is_int(chunks) or chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be a positive int, got {chunks!r} "
                         f"(tensor of shape {x.shape})")
    length = x.shape[axis]
    lead = (slice(None),) * axis
    if length == 0:  # torch: as many empty pieces as asked for
        return tuple(x[lead + (slice(0, 0),)] for _ in range(chunks))
    step = -(-length // chunks)
    return tuple(x[lead + (slice(a, a + step),)] for a in range(0, length, step))


def stack(tensors, axis=0):
    tensors = _tensor_list(tensors, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: every tensor must have the same shape, got {[t.shape for t in tensors]}")
    return _nary(ops.Stack, tensors, _axis(axis, tensors[0].ndim + 1, "stack", tensors[0].shape))


def concatenate(tensors, axis=0):
    tensors = _tensor_list(tensors, "concatenate")
    shapes = [t.shape for t in tensors]
    if builtins.any(not s for s in shapes):
        raise ShapeError(f"concatenate: zero-dimensional tensors cannot be concatenated, got shapes {shapes}; "
                         "use stack()")
    axis = _axis(axis, len(shapes[0]), "concatenate", shapes)
    if builtins.any(len(s) != len(shapes[0]) or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
                    for s in shapes):
        raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    return _nary(ops.Concatenate, tensors, axis)


_PYTHON_RANK = {bool: 0, int: 1, builtins.float: 2}  # Python numbers, narrowest first


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``; gradients flow to x and y, not to the condition."""
    cond = condition._data if isinstance(condition, Tensor) else numeric_array(condition, "where", (x, y))
    cond = np.array(cond, dtype=bool)  # a copy: a later write to the condition cannot reach the graph
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        # the wider first (an array, then a Python float, int, bool): the other, a Python number,
        # then takes its dtype (numpy's rule)
        if _PYTHON_RANK.get(type(y), 3) > _PYTHON_RANK.get(type(x), 3):
            y = _tensor(y, "where", (cond, x))
        else:
            x = _tensor(x, "where", (cond, y))
    x = x if isinstance(x, Tensor) else _lift(x, y, "where", (cond,))
    y = y if isinstance(y, Tensor) else _lift(y, x, "where", (cond,))
    if not cond.shape == x.shape == y.shape and broadcast_shape(cond.shape, x.shape, y.shape) is None:
        raise ShapeError(f"where: shapes {cond.shape} (condition), {x.shape} and {y.shape} do not "
                         "broadcast together")
    return _nary(ops.Where, (x, y), cond)


# ---- the table: which function is which method and operator ---------------------------------

# aliases that other libraries' users type (torch, tinygrad, micrograd)
clamp, view, expand_dims, permute, expand, cat = clip, reshape, unsqueeze, transpose, broadcast_to, concatenate


def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    method.__name__ = f"__r{fn.__name__}__"
    return method


def _comparison(compare):
    name = compare.__name__

    def method(self, other):  # comparisons give constant boolean tensors, as in numpy
        if isinstance(other, Tensor):
            other = other._data
        elif isinstance(other, (np.ndarray, np.generic, list, tuple)):
            other = numeric_array(other, name, (self,))
        elif type(other) is int:
            _check_comparable_int(self, other, name)
        elif not isinstance(other, (bool, builtins.float)):  # numpy compares a Python number exactly
            raise TypeError(f"{name}: cannot compare a tensor of shape {self.shape} with {type(other).__name__} "
                            f"{other!r:.40}")
        sa, sb = self._data.shape, np.shape(other)
        if sa != sb and sa and sb and not broadcastable(sa, sb):
            raise ShapeError(f"{name}: shapes {sa} and {sb} do not broadcast together")
        return _const(compare(self._data, other))
    method.__name__ = name
    return method


def _check_comparable_int(x, value, name):
    """numpy compares any Python int with an integer tensor, but converts it for a bool tensor
    (to int64) and a float one (to float), which overflows."""
    kind = x._data.dtype.kind
    if (kind == "b" and not -2**63 <= value < 2**63) or (kind == "f" and value.bit_length() > 1023):
        raise ValueError(f"{name}: the integer {value} is out of range for comparing with a tensor of shape "
                         f"{x.shape} and dtype {x.dtype}")


_METHODS = {fn.__name__: getattr(fn, "method", fn) for fn in (
    add, sub, mul, div, pow, matmul, dot, square, maximum, minimum, neg, exp, log, sqrt, abs, sigmoid, tanh,
    relu, clip, astype, sum, mean, max, min, logsumexp, softmax, log_softmax, argmax, argmin, reshape, flatten,
    squeeze, unsqueeze, transpose, swapaxes, broadcast_to, unbind, split, chunk, numel, numpy, item, tolist)}
_METHODS.update(clamp=clip, view=reshape, expand_dims=unsqueeze, permute=transpose, expand=broadcast_to,
                float=_to_float32, double=_to_float64, T=property(transpose))
_OPERATORS = {
    "__add__": add.method, "__sub__": sub.method, "__mul__": mul.method, "__truediv__": div.method, "__pow__": pow,
    "__matmul__": matmul,
    "__radd__": _reflected(add), "__rsub__": _reflected(sub), "__rmul__": _reflected(mul),
    "__rtruediv__": _reflected(div), "__rpow__": _reflected(pow), "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__pos__": lambda x: x, "__abs__": abs, "__getitem__": getitem, "__setitem__": _setitem,
    "__eq__": _comparison(operator.eq), "__ne__": _comparison(operator.ne), "__lt__": _comparison(operator.lt),
    "__le__": _comparison(operator.le), "__gt__": _comparison(operator.gt),
    "__ge__": _comparison(operator.ge),
    "__deepcopy__": _deepcopy, "__array__": _array, "__len__": _len, "__iter__": _iter, "__repr__": _repr,
    "__bool__": _bool, "__float__": _float, "__int__": _int,
}
for _name, _fn in {**_METHODS, **_OPERATORS}.items():
    setattr(Tensor, _name, _fn)
