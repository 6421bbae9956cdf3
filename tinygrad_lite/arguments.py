"""Arguments into tensors, and their checks: lifting Python numbers and arrays into constants
(numbers take the tensor's dtype, arrays are copied), axes, keepdims, sizes, indices and lists
of tensors. Every error names the op and the shape of every array argument; the surface's
functions call these before numpy runs.
"""

import builtins
import numbers

import numpy as np

from .checks import is_int, nested_shape
from .engine import Tensor, _const, _node
from .errors import ShapeError

_BOOL = np.dtype(bool)


def as_tensor(value, like=None):
    """``value`` as a Tensor: itself, or a constant (with ``like``'s dtype rules for a Python number)."""
    if isinstance(value, Tensor):
        return value
    if like is not None:
        return _lift(value, like, "as_tensor")
    return _const(numeric_array(value, "as_tensor"))


def _tensor(value, op, others=()):
    """An op's argument as a Tensor; anything but numbers and numeric arrays is refused, naming
    ``op`` and the shapes of the ``others`` (the op's other array arguments)."""
    return value if isinstance(value, Tensor) else _const(numeric_array(value, op, others))


def numeric_array(value, op, others=()):
    """A new bool, int or float array from ``value``, checked before numpy converts it.

    Ragged lists and non-numeric data raise a TypeError naming ``op`` and the shapes of
    ``others``, the op's other arguments (numpy's own messages name neither). A rectangular
    list converts without error: whatever it holds, numpy then gives it a dtype, and only
    bool, int and float ones are kept.
    """
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(value, (list, tuple)):
        if nested_shape(value) is None:
            raise TypeError(f"{op}: cannot make a tensor from a ragged {type(value).__name__} "
                            f"(its rows differ in length or depth){_beside(others)}")
    elif not isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        raise TypeError(f"{op}: cannot make a tensor from {type(value).__name__} {value!r:.60}{_beside(others)}")
    array = np.array(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{op}: only bool, int and float data make a tensor, got a {type(value).__name__} "
                        f"of dtype {array.dtype} and shape {array.shape}{_beside(others)}")
    return array


def _beside(others):
    """The shapes of an op's other arguments, for an error message (a ragged list has none)."""
    shapes = [o.shape for o in others if isinstance(o, (Tensor, np.ndarray))]
    shapes += [nested_shape(o) for o in others if isinstance(o, (list, tuple)) and nested_shape(o) is not None]
    return f" (beside tensors of shapes {', '.join(map(str, shapes))})" if shapes else ""


def _private(array):
    """A constant that only the op it is made for can reach: no graph needs to freeze it."""
    t = _node(array, None)
    t._frozen = True
    return t


def _lift(value, like, op, others=()):
    """A constant tensor for a Python number or array met in a binary op (``others``: more of
    the op's arrays, for the error messages)."""
    if type(value) is builtins.float and isinstance(like, Tensor) and like._data.dtype.kind == "f":
        return _private(np.asarray(value, like._data.dtype))  # x * 0.5, the common case: x's dtype
    if isinstance(value, (bool, int, builtins.float)) and not isinstance(value, np.generic):  # np.float64 is a float
        return _private(np.asarray(value, dtype=_scalar_dtype(value, like, op, others)))
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        # a copy, as torch does: a later write cannot reach the graph
        return _private(numeric_array(value, op, (like, *others)))
    shape = f" of shape {like.shape}" if isinstance(like, Tensor) else ""
    raise TypeError(f"{op}: cannot combine a Tensor{shape} with {type(value).__name__}{_beside(others)}")


def _scalar_dtype(value, like, op, others=()):
    """numpy's rule for a Python scalar beside an array: it takes the array's dtype (float32 stays
    float32), a float beside ints or bools makes float64, an int beside bools int64. An int that
    does not fit the dtype is refused, as numpy does."""
    if not isinstance(like, Tensor):
        return np.result_type(value)
    dtype = like._data.dtype
    if type(value) is builtins.float or (op == "Div" and dtype.kind != "f"):
        # true division of integers runs in float64: numpy does not cast an int to the tensor's dtype there
        return dtype if dtype.kind == "f" else np.dtype(np.float64)
    if type(value) is bool:
        return dtype
    if dtype.kind == "f":
        if value.bit_length() > 1023:  # np.asarray would raise OverflowError
            raise ValueError(f"{op}: the integer {value} is too large for a tensor of shape {like.shape} "
                             f"and dtype {dtype}{_beside(others)}")
        return dtype
    if dtype == _BOOL:
        dtype = np.dtype(np.int64)
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise ValueError(f"{op}: the integer {value} is out of range for a tensor of shape {like.shape} and dtype "
                         f"{dtype} ([{info.min}, {info.max}]){_beside(others)}; convert the tensor first, "
                         "e.g. astype(np.float64)")
    return dtype


def _misfit(op, a, b):
    return ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast together")


# ---- argument checks ------------------------------------------------------------------------


def _axis(axis, ndim, op, shape):
    """``axis`` in [0, ndim); ``shape`` is the tensor's (or a list, the tensors'), named in the error."""
    what = f"tensors of shapes {shape}" if isinstance(shape, list) else f"a tensor of shape {shape}"
    if not is_int(axis):
        raise TypeError(f"{op}: axis must be an int, got {axis!r} ({what})")
    if not -ndim <= axis < ndim:
        valid = f"the axes are {-ndim} to {ndim - 1}" if ndim else "there are none"
        raise np.exceptions.AxisError(f"{op}: axis {axis} is out of range for {what}: {valid}")
    return int(axis) % ndim


def _axes(axis, x, op, several=True):
    """None, one axis or (when ``several``) a tuple of distinct axes of ``x``.

    A 0-d tensor has axis 0 (and -1) for a reduction, as in numpy and torch: reducing over it
    is reducing over everything, None.
    """
    if axis is None:
        return None
    ndim = builtins.max(x.ndim, 1)
    if several and isinstance(axis, (tuple, list)):
        axes = tuple(_axis(a, ndim, op, x.shape) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: repeated axis in {axis} (tensor of shape {x.shape})")
    else:
        axes = _axis(axis, ndim, op, x.shape)
    return None if x.ndim == 0 else axes


def _keepdims(keepdims, x, op):
    if not isinstance(keepdims, (bool, int, np.bool_, np.integer)):
        raise TypeError(f"{op}: keepdims must be True or False, got {keepdims!r:.60} (tensor of shape {x.shape})")
    return bool(keepdims)


def _check_sizes(shape, x, op):
    bad = [n for n in shape if not is_int(n)]
    if bad:
        raise TypeError(f"{op}: sizes must be ints, got {bad[0]!r} in {shape} (tensor of shape {x.shape})")


def _check_reducible(x, axes, op):
    """numpy's max, min and argmax have no answer over an axis of length 0."""
    shape = x._data.shape
    if axes is None:
        empty = x._data.size == 0
    else:
        empty = builtins.any(shape[a] == 0 for a in (axes if isinstance(axes, tuple) else (axes,)))
    if empty:
        over = "all axes" if axes is None else f"axis {axes}"
        raise ValueError(f"{op}: cannot reduce a tensor of shape {shape} over {over}: there are no elements")


def _normalize_index(index, x):
    """Turn Tensors and lists in an index into arrays; say whether it selects each element once."""
    parts = index if isinstance(index, tuple) else (index,)
    out, unique = [], True
    for part in parts:
        if isinstance(part, Tensor):
            part = part._data
        if isinstance(part, list):
            part = numeric_array(part, "getitem", (x,))
            if part.size == 0 and part.dtype.kind == "f":
                part = part.astype(np.intp)  # numpy reads an empty list as no positions, not as floats
        if isinstance(part, np.ndarray):
            if part.dtype.kind not in "biu":
                raise IndexError(f"getitem: index arrays must hold integers or booleans, got dtype {part.dtype} "
                                 f"of shape {part.shape} (tensor of shape {x.shape})")
            part = np.array(part)  # a copy: the index must not change before backward
            if part.dtype.kind != "b":
                unique = False  # integer arrays may repeat a position
        elif isinstance(part, (bool, np.bool_)):
            unique = False
        elif not isinstance(part, (int, np.integer, slice, type(None), type(Ellipsis))):
            raise IndexError(f"getitem: cannot index with {type(part).__name__} {part!r:.40} "
                             f"(tensor of shape {x.shape}); use ints, slices, None, ... or int/bool arrays")
        out.append(part)
    return (tuple(out) if isinstance(index, tuple) else out[0]), unique


def _show_index(index):
    def show(part):
        return f"<{part.dtype} array of shape {part.shape}>" if isinstance(part, np.ndarray) else repr(part)
    text = f"({', '.join(map(show, index))})" if isinstance(index, tuple) else show(index)
    return text if len(text) < 120 else text[:117] + "..."


def _tensor_list(tensors, op):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    tensors = [_tensor(t, op, tensors) for t in tensors]
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return tensors
