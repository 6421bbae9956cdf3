"""The Tensor and the reverse-mode engine.

A Tensor holds a numpy array. An op applied to tensors that require grad records a node (an
instance of an ``ops.Function``) on its result: ``result._ctx`` with ``_ctx.parents``, the input
tensors. ``backward`` walks those links from the result back to the leaves:

1. count, for every tensor that needs a gradient, how many of its consumers are in the graph
   (an explicit stack, no recursion: a million-node chain is fine);
2. start from the root and call a node's ``backward`` only once all its consumers have handed
   in their gradients (Kahn's algorithm), summing gradients in one buffer per tensor.

After a backward without ``retain_graph=True`` every node it walked is replaced by a marker,
which drops the saved arrays and the links to the parents: intermediates die at once, and a
second backward through the same graph raises a clear error.
"""

import itertools
from contextlib import ContextDecorator

import numpy as np

from . import ops
from .ops import IndexGrad

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "grad"]

_grad_enabled = True
_stamps = itertools.count(1)  # one stamp per backward call marks the tensors it visited


class no_grad(ContextDecorator):
    """Build no graph inside this block (or function, when used as a decorator)."""

    _enable = False

    def __enter__(self):
        global _grad_enabled
        self.__dict__.setdefault("_saved", []).append(_grad_enabled)
        _grad_enabled = self._enable

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._saved.pop()


class enable_grad(no_grad):
    """Build graphs again inside a ``no_grad`` block."""

    _enable = True


def is_grad_enabled():
    return _grad_enabled


class _FreedNode(ops.Function):
    """Stands in for a node whose saved arrays and parent links backward has released."""

    __slots__ = ()

    def __init__(self):
        self.parents = None


_FREED = _FreedNode()
_RETAIN = object()  # marks, in a tensor's hook list, that retain_grad() was called


class ShapeError(ValueError):
    """Shapes that do not fit an op; the message names the op and every shape involved."""


class Tensor:
    """An n-dimensional numpy array that can record the ops applied to it."""

    __slots__ = ("_data", "grad", "_rg", "_ctx", "name", "_hooks", "_frozen",
                 "_visit", "_deps", "_g", "_gown", "__weakref__")
    __array_ufunc__ = None  # numpy hands `ndarray * Tensor` to Tensor.__rmul__
    __hash__ = object.__hash__  # == is elementwise, hashing stays by identity

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if isinstance(data, Tensor):
            data = data._data
        try:
            array = np.array(data, dtype=dtype)  # a copy: the tensor owns its memory
        except (TypeError, ValueError) as e:
            raise TypeError(f"Tensor: cannot make a numeric array from {type(data).__name__}: {e}") from None
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: dtype {array.dtype} ({array.dtype.type.__name__}) is not supported; "
                            "use bool, int or float data")
        self._data = array
        self.grad = None
        self._rg = False
        self._ctx = None
        self.name = name
        self._hooks = None
        self._frozen = False
        self._visit = 0
        if requires_grad:
            self.requires_grad_(True)

    # ---- the array and its metadata ---------------------------------------------------------

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if self._rg and array.dtype.kind != "f":
            raise TypeError(f"Tensor.data: a tensor that requires grad needs float data, got {array.dtype}")
        self._data = array
        self._frozen = False  # the old array stays with the graphs that saved it

    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only float tensors can require grad, this one is {self._data.dtype}; "
                "convert it first, e.g. Tensor(data, dtype=np.float64)")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: cannot switch off grad on the result of an op; use detach()")
        self._rg = bool(requires_grad)
        return self

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx, doc="the op that made this tensor, None for a leaf")

    def numel(self):
        return self._data.size

    def numpy(self):
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, shape is {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __bool__(self):
        return bool(self._data)  # numpy's rule: only one-element tensors have a truth value

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self._data.dtype}"]
        if self._rg:
            extras.append("requires_grad=True")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    def __setitem__(self, index, value):
        raise TypeError("Tensor does not support item assignment: build a new tensor with where() or "
                        "concatenate(), or assign to tensor.data outside a graph")

    # ---- graph handles ----------------------------------------------------------------------

    def detach(self):
        """The same data, cut from the graph."""
        return _const(self._data)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self._rg:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._ctx is not None:
            hooks = self._hooks if self._hooks is not None else []
            if _RETAIN not in hooks:
                hooks.append(_RETAIN)
            self._hooks = hooks
        return self

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is complete; a returned tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self._rg:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = []
        retain_last = _RETAIN in self._hooks  # retain_grad sees the gradient after every hook
        if retain_last:
            self._hooks.remove(_RETAIN)
        self._hooks.append(fn)
        if retain_last:
            self._hooks.append(_RETAIN)
        return _HookHandle(self._hooks, fn)

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` (the vector of the vector-Jacobian product) may be omitted only for a
        one-element tensor. ``retain_graph=True`` keeps the graph for another backward.
        """
        _check_differentiable(self, "backward")
        _run_backward([self], [_seed(self, gradient, "backward")], retain_graph)

    # ---- ops: every one goes through _unary, _binary or _nary --------------------------------

    def __add__(self, other):
        return _binary(ops.Add, self, other)

    def __radd__(self, other):
        return _binary(ops.Add, other, self)

    def __sub__(self, other):
        return _binary(ops.Sub, self, other)

    def __rsub__(self, other):
        return _binary(ops.Sub, other, self)

    def __mul__(self, other):
        return _binary(ops.Mul, self, other)

    def __rmul__(self, other):
        return _binary(ops.Mul, other, self)

    def __truediv__(self, other):
        return _binary(ops.Div, self, other)

    def __rtruediv__(self, other):
        return _binary(ops.Div, other, self)

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            return _unary(ops.PowScalar, self, exponent)
        return _binary(ops.Pow, self, exponent)

    def __rpow__(self, base):
        return _binary(ops.Pow, base, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return _unary(ops.Neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _unary(ops.Abs, self)

    # comparisons give constant boolean tensors, as in numpy
    def __eq__(self, other):
        return _const(self._data == _raw(other))

    def __ne__(self, other):
        return _const(self._data != _raw(other))

    def __lt__(self, other):
        return _const(self._data < _raw(other))

    def __le__(self, other):
        return _const(self._data <= _raw(other))

    def __gt__(self, other):
        return _const(self._data > _raw(other))

    def __ge__(self, other):
        return _const(self._data >= _raw(other))

    # PyTorch's method names for the operators, and the spellings other libraries' users type
    add, sub, mul, div, pow = __add__, __sub__, __mul__, __truediv__, __pow__

    def square(self):
        return _binary(ops.Mul, self, self)

    def dot(self, other):
        """numpy's (and tinygrad's) dot for 1-D and 2-D operands, a matmul; use matmul beyond."""
        other = _as_tensor(other)
        if self.ndim > 2 or other.ndim > 2:
            raise ShapeError(f"dot: operands of at most two axes, got shapes {self.shape} and {other.shape}; "
                             "use matmul (@) for stacks of matrices")
        return matmul(self, other)

    def neg(self):
        return _unary(ops.Neg, self)

    def exp(self):
        return _unary(ops.Exp, self)

    def log(self):
        return _unary(ops.Log, self)

    def sqrt(self):
        return _unary(ops.Sqrt, self)

    def abs(self):
        return _unary(ops.Abs, self)

    def sigmoid(self):
        return _unary(ops.Sigmoid, self)

    def tanh(self):
        return _unary(ops.Tanh, self)

    def relu(self):
        return _unary(ops.Relu, self)

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        return _unary(ops.Clip, self, min, max)

    clamp = clip  # PyTorch's name

    def astype(self, dtype):
        dtype = np.dtype(dtype)
        if self._rg and dtype.kind != "f":
            raise TypeError(f"astype: cannot cast a tensor that requires grad to {dtype}; detach() it first")
        return self if dtype == self._data.dtype else _unary(ops.Cast, self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def matmul(self, other):
        return matmul(self, other)

    def maximum(self, other):
        return _binary(ops.Maximum, self, other)

    def minimum(self, other):
        return _binary(ops.Minimum, self, other)

    def sum(self, axis=None, keepdims=False):
        return _unary(ops.Sum, self, _axes(axis, self.ndim, "sum"), keepdims)

    def mean(self, axis=None, keepdims=False):
        return _unary(ops.Mean, self, _axes(axis, self.ndim, "mean"), keepdims)

    def max(self, axis=None, keepdims=False):
        _check_not_empty(self, axis, "max")
        return _unary(ops.Max, self, _axes(axis, self.ndim, "max"), keepdims)

    def min(self, axis=None, keepdims=False):
        _check_not_empty(self, axis, "min")
        return _unary(ops.Min, self, _axes(axis, self.ndim, "min"), keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        _check_not_empty(self, axis, "logsumexp")
        return _unary(ops.LogSumExp, self, _axes(axis, self.ndim, "logsumexp"), keepdims)

    def softmax(self, axis=-1):
        return _unary(ops.Softmax, self, _axis(axis, self.ndim, "softmax"))

    def log_softmax(self, axis=-1):
        return _unary(ops.LogSoftmax, self, _axis(axis, self.ndim, "log_softmax"))

    def argmax(self, axis=None):
        return _const(np.argmax(self._data, axis=axis))

    def argmin(self, axis=None):
        return _const(np.argmin(self._data, axis=axis))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            return _unary(ops.Reshape, self, tuple(shape))
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self.size} elements) into {tuple(shape)}") from None

    view = reshape  # PyTorch's name (a numpy reshape may copy; the gradient is the same)

    def flatten(self):
        return self.reshape(-1)

    def squeeze(self, axis=None):
        axes = _axes(axis, self.ndim, "squeeze")
        axes = tuple(i for i, n in enumerate(self.shape) if n == 1) if axes is None else axes
        if any(self.shape[i] != 1 for i in axes):
            raise ShapeError(f"squeeze: axis {axis} of shape {self.shape} does not have size 1")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def unsqueeze(self, axis):
        axis = _axis(axis, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    expand_dims = unsqueeze

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if not axes:
            return _unary(ops.Transpose, self, None)
        axes = tuple(_axis(a, self.ndim, "transpose") for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {self.ndim} axes of shape {self.shape}")
        return _unary(ops.Transpose, self, axes)

    permute = transpose

    def swapaxes(self, axis1, axis2):
        axes = list(range(self.ndim))
        a, b = _axis(axis1, self.ndim, "swapaxes"), _axis(axis2, self.ndim, "swapaxes")
        axes[a], axes[b] = axes[b], axes[a]
        return _unary(ops.Transpose, self, tuple(axes))

    @property
    def T(self):
        return _unary(ops.Transpose, self, None)

    def broadcast_to(self, shape):
        try:
            np.broadcast_shapes(self.shape, tuple(shape))
            return _unary(ops.BroadcastTo, self, tuple(shape))
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {self.shape} to {tuple(shape)}") from None

    expand = broadcast_to

    def __getitem__(self, index):
        kind = type(index)
        if kind is int or kind is slice or (kind is tuple and _is_basic(index)):
            unique = True  # the hot path: x[t], x[a:b], gates[:, a:b]
        else:
            index, unique = _normalize_index(index)
        try:
            return _unary(ops.GetItem, self, index, unique)
        except IndexError as e:
            raise IndexError(f"getitem: index {_show_index(index)} does not fit a tensor of shape {self.shape}: {e}") from None

    def unbind(self, axis=0):
        """The slices along ``axis``, each carrying its own gradient into one shared buffer."""
        axis = _axis(axis, self.ndim, "unbind")
        lead = (slice(None),) * axis
        return tuple(self[lead + (i,)] for i in range(self.shape[axis]))

    def split(self, indices_or_sections, axis=0):
        """numpy.split: ``n`` equal pieces, or pieces cut at the given indices."""
        axis = _axis(axis, self.ndim, "split")
        length = self.shape[axis]
        if isinstance(indices_or_sections, int):
            if indices_or_sections <= 0 or length % indices_or_sections:
                raise ShapeError(f"split: axis {axis} of shape {self.shape} does not split into "
                                 f"{indices_or_sections} equal pieces")
            step = length // indices_or_sections
            cuts = list(range(step, length, step))
        else:
            cuts = list(indices_or_sections)
        lead = (slice(None),) * axis
        bounds = [0] + cuts + [length]
        return tuple(self[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))

    def chunk(self, chunks, axis=0):
        """torch.chunk: ``chunks`` pieces of equal size (the last may be smaller)."""
        axis = _axis(axis, self.ndim, "chunk")
        step = -(-self.shape[axis] // chunks)
        lead = (slice(None),) * axis
        return tuple(self[lead + (slice(a, a + step),)] for a in range(0, self.shape[axis], step))


class _HookHandle:
    __slots__ = ("hooks", "fn")

    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


# ---------------------------------------------------------------------------------------------
# making tensors: the hot path of every op

_new = object.__new__


def _const(data):
    """A tensor outside any graph (a constant, or the result of an op under no_grad)."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)  # numpy reductions and 0-d ufuncs return scalars
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t._rg = False
    t._ctx = None
    t.name = None
    t._hooks = None
    t._frozen = False
    t._visit = 0
    return t


def _node(data, ctx):
    """The result of an op that records a graph."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t._rg = True
    t._ctx = ctx
    t.name = None
    t._hooks = None
    t._visit = 0
    return t


def _freeze(leaf):
    """Make a leaf's array read-only while a graph needs it; backward makes it writable again.

    This is how mutating ``x.data`` after using ``x`` in a graph is detected: numpy refuses
    the write ("assignment destination is read-only") instead of backward going silently wrong.
    """
    array = leaf._data
    if array.flags.writeable:
        array.flags.writeable = False
        leaf._frozen = True


def _lift(value, like, op):
    """A constant tensor for a Python number or array met in a binary op."""
    if isinstance(value, (bool, int, float)):
        # numpy's rule for Python scalars: they take the tensor's dtype (float32 stays float32)
        dtype = like._data.dtype
        if dtype.kind != "f":
            dtype = np.result_type(dtype, value)
        return _const(np.asarray(value, dtype=dtype))
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return _const(np.asarray(value))
    raise TypeError(f"{op.__name__}: cannot combine a Tensor with {type(value).__name__}")


def _unary(cls, x, *args):
    fn = cls()
    out = fn.forward(x._data, *args)
    if x._rg and _grad_enabled:
        fn.parents = (x,)
        if x._ctx is None and x._frozen is False:
            _freeze(x)
        return _node(out, fn)
    return _const(out)


def _binary(cls, a, b):
    if not isinstance(a, Tensor):
        a = _lift(a, b, cls)
    if not isinstance(b, Tensor):
        b = _lift(b, a, cls)
    fn = cls()
    try:
        out = fn.forward(a._data, b._data)
    except ValueError as e:
        raise ShapeError(f"{cls.__name__}: shapes {a.shape} and {b.shape} do not broadcast together ({e})") from None
    if (a._rg or b._rg) and _grad_enabled:
        fn.parents = (a, b)
        # spelled out for both operands instead of a loop: this runs for every op
        if a._ctx is None and a._rg and a._frozen is False:
            _freeze(a)
        if b._ctx is None and b._rg and b._frozen is False:
            _freeze(b)
        return _node(out, fn)
    return _const(out)


def _nary(cls, tensors, *args):
    fn = cls()
    out = fn.forward(*[t._data for t in tensors], *args)
    if _grad_enabled and any(t._rg for t in tensors):
        fn.parents = tuple(tensors)
        for p in tensors:
            if p._rg and p._ctx is None and p._frozen is False:
                _freeze(p)
        return _node(out, fn)
    return _const(out)


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def _as_tensor(value, like=None):
    if isinstance(value, Tensor):
        return value
    if like is not None:
        return _lift(value, like, _as_tensor)
    return _const(np.asarray(value))


# ---------------------------------------------------------------------------------------------
# argument checks shared by the ops


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


def _check_not_empty(t, axis, op):
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


def _check_differentiable(t, op):
    if not t._rg:
        raise RuntimeError(f"{op}: the tensor does not require grad and has no graph; "
                           "create its inputs with requires_grad=True")


def _seed(root, gradient, op):
    """The starting gradient of a backward: ones for a one-element root, else the given one."""
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(f"{op}: gradient can be omitted only for a one-element tensor, this one has "
                               f"shape {root.shape}; pass gradient= of that shape")
        return np.ones(root.shape, dtype=root.dtype)
    g = np.asarray(_raw(gradient), dtype=root.dtype)
    if g.shape != root.shape:
        raise ShapeError(f"{op}: gradient has shape {g.shape} but the tensor has shape {root.shape}")
    return g


# ---------------------------------------------------------------------------------------------
# the engine


def _freed_error(t):
    name = f" {t.name!r}" if t.name else ""
    return RuntimeError(
        f"backward: the graph behind tensor{name} (shape {t.shape}) was already freed by an earlier "
        "backward(); call the first backward with retain_graph=True to run backward through it again")


def _count_consumers(roots):
    """Pass 1: stamp every tensor that needs a gradient and count its consumers in the graph."""
    stamp = next(_stamps)
    stack = []
    for r in roots:
        if r._visit != stamp:
            r._visit, r._deps, r._g, r._gown = stamp, 0, None, False
            stack.append(r)
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None:
            continue
        parents = ctx.parents
        if parents is None:
            raise _freed_error(t)
        for p in parents:
            if p._rg:
                if p._visit != stamp:
                    p._visit, p._deps, p._g, p._gown = stamp, 1, None, False
                    stack.append(p)
                else:
                    p._deps += 1


def _run_backward(roots, seeds, retain_graph, capture=None):
    """Pass 2: propagate the seeds to every tensor of the graph, each node exactly once.

    ``capture`` maps id(tensor) to None for ``grad()``: those gradients are collected there
    and no ``.grad`` is written.
    """
    _count_consumers(roots)
    for root, seed in zip(roots, seeds):
        if root._g is None:
            root._g = seed
        else:
            root._g = np.asarray(root._g + seed)
            root._gown = True
    ready = [r for r in dict.fromkeys(roots) if r._deps == 0]
    while ready:
        t = ready.pop()
        g, owned = t._g, t._gown
        t._g = None
        if t._hooks is not None and g is not None:
            g, owned = _run_hooks(t, g, owned)
        if capture is not None and id(t) in capture:
            capture[id(t)] = g
        ctx = t._ctx
        if ctx is None:  # a leaf: its gradient is complete
            if capture is None and g is not None:
                _accumulate(t, g, owned)
            if t._frozen and not retain_graph:
                t._data.flags.writeable = True
                t._frozen = False
            continue
        parents = ctx.parents
        grads = ctx.backward(g) if g is not None else (None,) * len(parents)
        if not retain_graph:
            t._ctx = _FREED  # drop saved arrays and parent links: intermediates can die now
        for p, pg in zip(parents, grads):
            if not p._rg:
                continue
            if pg is not None:
                cur = p._g
                if cur is None:
                    if type(pg) is IndexGrad:
                        p._g = pg.add_into(np.zeros(p._data.shape, p._data.dtype))
                        p._gown = True
                    else:
                        p._g = pg
                elif type(pg) is IndexGrad:
                    if not p._gown:
                        cur = p._g = np.array(cur)
                        p._gown = True
                    pg.add_into(cur)
                elif p._gown:
                    cur += pg
                else:
                    cur = cur + pg
                    # numpy returns a scalar for 0-d operands; += needs an array to add into
                    p._g = cur if type(cur) is np.ndarray else np.asarray(cur)
                    p._gown = True
            p._deps -= 1
            if p._deps == 0:
                ready.append(p)


def _run_hooks(t, g, owned):
    retain = False
    for hook in t._hooks:
        if hook is _RETAIN:
            retain = True
            continue
        result = hook(_const(g))
        if result is not None:
            new = np.asarray(_raw(result), dtype=t._data.dtype)
            if new.shape != t.shape:
                raise ShapeError(f"register_hook: the hook returned a gradient of shape {new.shape} "
                                 f"for a tensor of shape {t.shape}")
            g, owned = new, False
    if retain and t._ctx is not None:
        _accumulate(t, g, False)
    return g, owned


def _accumulate(t, g, owned):
    """Add a finished gradient into ``t.grad`` (a Tensor of t's shape and dtype)."""
    if g.dtype != t._data.dtype:
        g, owned = g.astype(t._data.dtype), True
    if t.grad is None:
        t.grad = _const(g if owned and g.flags.writeable else np.array(g))
    else:
        acc = t.grad._data
        if acc.flags.writeable and acc.shape == g.shape:
            acc += g
        else:
            t.grad = _const(acc + g)


def grad(output, inputs, gradient=None, retain_graph=False, allow_unused=False):
    """d(output)/d(inputs) as a tuple of Tensors, without touching any ``.grad``.

    Like ``torch.autograd.grad``: an input the output does not depend on is an error, or
    ``None`` with ``allow_unused=True``.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    _check_differentiable(output, "grad")
    capture = {id(x): None for x in inputs}
    _run_backward([output], [_seed(output, gradient, "grad")], retain_graph, capture)
    result = []
    for i, x in enumerate(inputs):
        g = capture[id(x)]
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) is not used by the output's graph; "
                               "pass allow_unused=True to get None for it")
        result.append(None if g is None else _const(np.array(g)))
    return result[0] if single else tuple(result)


# ---------------------------------------------------------------------------------------------
# functions with several tensor inputs


def matmul(a, b):
    a, b = _as_tensor(a), _as_tensor(b)
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
    except ShapeError:
        raise ShapeError(f"MatMul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast") from None


def stack(tensors, axis=0):
    tensors = _tensor_list(tensors, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: every tensor must have the same shape, got {[t.shape for t in tensors]}")
    return _nary(ops.Stack, tensors, _axis(axis, tensors[0].ndim + 1, "stack"))


def concatenate(tensors, axis=0):
    tensors = _tensor_list(tensors, "concatenate")
    if any(t.ndim == 0 for t in tensors):
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated; use stack()")
    axis = _axis(axis, tensors[0].ndim, "concatenate")
    try:
        return _nary(ops.Concatenate, tensors, axis)
    except ValueError:
        raise ShapeError(f"concatenate: shapes {[t.shape for t in tensors]} differ outside axis {axis}") from None


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``; gradients flow to x and y, not to the condition."""
    cond = np.asarray(_raw(condition), dtype=bool)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _as_tensor(x)
    x = x if isinstance(x, Tensor) else _lift(x, y, where)
    y = y if isinstance(y, Tensor) else _lift(y, x, where)
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise ShapeError(f"where: shapes {cond.shape} (condition), {x.shape} and {y.shape} do not "
                         "broadcast together") from None
    return _nary(ops.Where, (x, y), cond)


def _tensor_list(tensors, op):
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return tensors
