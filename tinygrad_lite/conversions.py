"""How a Tensor's values leave it into numpy and Python: numpy(), item(), tolist(), len(),
iteration, bool(), float(), int(), repr(), copy.deepcopy. While a graph lives, numpy() and np.asarray hand out
read-only views (guards.py). surface.py attaches these to Tensor.
"""

import builtins

import numpy as np

from .engine import _node

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
        raise TypeError("len: a tensor of shape () has no length")
    return len(x._data)


def _iter(x):
    if x._data.ndim == 0:
        raise TypeError("iter: cannot iterate over a tensor of shape ()")
    return (x[i] for i in range(len(x._data)))


def _bool(x):
    if x._data.size != 1:  # numpy's rule: only one-element tensors have a truth value
        raise ValueError(f"bool: the truth value of a tensor of shape {x.shape} is ambiguous; "
                         "use .any() or .all() on its data, or compare its item()")
    return bool(x._data)


def _float(x):
    if x._data.size != 1:
        raise TypeError(f"float: only a one-element tensor converts to a Python float, shape is {x.shape}")
    return builtins.float(x._data.item())


def _int(x):
    if x._data.size != 1:
        raise TypeError(f"int: only a one-element tensor converts to a Python int, shape is {x.shape}")
    value = x._data.item()
    if isinstance(value, builtins.float) and not np.isfinite(value):
        raise ValueError(f"int: cannot convert {value} to an int (tensor of shape {x.shape})")
    return int(value)


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


def _deepcopy(x, memo):
    """copy.deepcopy: a new leaf with the values, requires_grad, name and .grad of x, and none of
    its graph state (frozen arrays, hooks, the node that made it). An op's result (say a layer's
    trace, copied with its model) becomes a constant copy of its values."""
    copied = _node(np.array(x._data), None, object.__new__(type(x)))
    copied._rg, copied.name = x._rg and x._ctx is None, x.name
    if x._grad is not None:
        copied._grad = _node(np.array(x._grad._data), None)
    memo[id(x)] = copied
    return copied
