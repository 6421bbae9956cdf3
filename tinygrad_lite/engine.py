"""The reverse-mode engine: a Tensor's graph state, recording an op, the graph walk, backward.

This file is the whole of autodiff; read it top to bottom. The ops themselves (each forward
beside its vector-Jacobian product) are in ``ops.py``, and the methods and functions users
call (``x + y``, ``x.sum()``, ``tinygrad_lite.stack``) are attached in ``surface.py``.

How a value travels:

1. **op call** — ``surface.py`` checks the arguments and calls ``_unary``/``_binary``/``_nary``
   with an ``ops.Function`` class. Its ``forward`` runs on the numpy arrays.
2. **recorded node** — when an input requires grad (and grad mode is on in this thread), the
   result gets ``_ctx``, the Function instance, whose ``parents`` are the input Tensors.
   Leaves that a graph uses are frozen (their arrays made read-only) until backward ends.
3. **backward order** — ``walk`` finds every tensor behind the roots once, counting its
   consumers; backward then takes a node only when all its consumers handed in their gradient
   (Kahn's algorithm with an explicit stack: no recursion, a million-node chain is fine).
4. **VJP** — the node's ``backward(g)`` returns one raw gradient per input.
5. **un-broadcast** — the engine sums each gradient down to its input's shape (``sum_to_shape``)
   and casts it to the input's dtype: once, here, for every op.
6. **accumulation** — gradients of a tensor used several times are summed in one buffer;
   a leaf's finished gradient is added into ``.grad``.

After a backward without ``retain_graph=True`` every node it walked is replaced by a marker,
which drops the saved arrays and the parent links: intermediates die at once, and a second
backward through the same graph raises a clear error (``freed_error``, the one place).
"""

import itertools
import threading
from contextlib import ContextDecorator

import numpy as np

from . import guards, ops
from .errors import ShapeError
from .ops import IndexGrad, sum_to_shape

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "walk"]


# ---- grad mode: one flag per thread, as PyTorch's ------------------------------------------


class _GradMode(threading.local):
    enabled = True  # each thread starts with gradients on and its own stack of saved modes

    def __init__(self):
        self.saved = []


_mode = _GradMode()
# How many threads have gradients off right now. While none has, an op reads this one global
# instead of the thread-local flag (which costs 45 ns more, on every op).
_threads_off = 0
_threads_off_lock = threading.Lock()


def _set_mode(enabled):
    global _threads_off
    if enabled != _mode.enabled:
        with _threads_off_lock:
            _threads_off += -1 if enabled else 1
        _mode.enabled = enabled


class no_grad(ContextDecorator):
    """Build no graph inside this block (or function, when used as a decorator).

    The saved mode lives in the calling thread, so one instance (a decorator, say) may be
    entered by several threads at once.
    """

    _enable = False

    def __enter__(self):
        _mode.saved.append(_mode.enabled)
        _set_mode(self._enable)

    def __exit__(self, *exc):
        _set_mode(_mode.saved.pop())


class enable_grad(no_grad):
    """Build graphs again inside a ``no_grad`` block."""

    _enable = True


def is_grad_enabled():
    return _mode.enabled


# ---- the Tensor's state ---------------------------------------------------------------------

# An observer of every op and backward step, or None (the fast path): anomaly.py's checks, or
# a recorder of the order backward visits the nodes, or compile's recorder. It has
# op(fn, inputs, args, t) (every op result, constants too; fn None for a constant made outside
# an op), forward(t) -> t (a new recorded op result), reached(t, g) (backward takes t, whose
# gradient is g) and backward(t, g, grads) (after a VJP).
_checks = None
_stamps = itertools.count(1)  # one stamp per walk marks the tensors it visited


class Tensor:
    """An n-dimensional numpy array that can record the ops applied to it.

    Graph state: ``_rg`` (requires grad), ``_ctx`` (the node that made it, None for a leaf),
    ``_hooks``, ``_frozen`` (False; the array a graph made read-only; or True for a private
    constant that nothing else can write). Scratch fields of
    a walk: ``_visit`` (its stamp), ``_deps`` (consumers still to hand in a gradient), ``_g``
    (the gradient summed so far) and ``_gown`` (whether ``_g`` is ours to add into).
    """

    __slots__ = ("_data", "_grad", "_rg", "_ctx", "name", "_hooks", "_frozen",
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
        _node(array, None, self)
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    @property
    def data(self):
        """The array. An op's result hands out a read-only view while its graph lives: the
        graph saved that very array, so a write would silently change the gradient."""
        return guards.read_only(self._data) if guards.in_graph(self) else self._data

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if self._rg and array.dtype.kind != "f":
            raise TypeError(f"Tensor.data: a tensor that requires grad needs float data, got {array.dtype}")
        old = self._data
        if (array.shape != old.shape or array.dtype != old.dtype) and (guards.in_graph(self) or self._frozen is not False):
            raise RuntimeError(
                f"Tensor.data: tensor{guards.label(self)} of shape {old.shape} and dtype {old.dtype} is used by a graph "
                f"that has not run backward yet; a new array of shape {array.shape} and dtype {array.dtype} "
                "would give it a gradient of the wrong shape. Run backward first, or detach()")
        self._data = array
        self._frozen = False  # the old array stays with the graphs that saved it

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            array = value._data if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != self._data.shape or array.dtype != self._data.dtype:
                raise ShapeError(f"Tensor.grad: the gradient of a tensor of shape {self.shape} and dtype {self.dtype} "
                                 f"must have that shape and dtype, got {array.shape} {array.dtype}")
            value = value if isinstance(value, Tensor) else _const(array)
        self._grad = value

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

    # ---- graph handles ----------------------------------------------------------------------

    def detach(self):
        """The same data, cut from the graph."""
        return _const(self._data)


class _FreedNode(ops.Function):
    """Stands in for a node whose saved arrays and parent links backward has released."""

    __slots__ = ()

    def __init__(self):
        self.parents = None


_FREED = _FreedNode()


# ---- recording: the hot path of every op ----------------------------------------------------

_new = object.__new__


def _node(data, ctx, into=None):
    """The one place that sets a Tensor's fields: an op's result (``ctx`` its node, or None
    for a constant) or, with ``into``, the constructor's new tensor. Called for every op."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)  # numpy reductions and 0-d ufuncs return scalars
    t = _new(Tensor) if into is None else into
    t._data = data
    t._grad = None
    t._rg = ctx is not None
    t._ctx = ctx
    t.name = None
    t._hooks = None
    t._frozen = False
    t._visit = 0
    return t


def _const(data):
    """A tensor outside any graph (a constant, or the result of an op under no_grad)."""
    return _node(data, None) if _checks is None else _observed(None, (), (), _node(data, None))


def _unary(cls, x, *args):
    fn = cls()
    out = fn.forward(x._data, *args)
    if x._rg and (_threads_off == 0 or _mode.enabled):
        fn.parents = (x,)
        if x._ctx is None and x._frozen is False:
            guards.freeze(x)
        return _node(out, fn) if _checks is None else _observed(fn, (x,), args, _node(out, fn))
    return _node(out, None) if _checks is None else _observed(fn, (x,), args, _node(out, None))


def _binary(cls, a, b):
    fn = cls()
    out = fn.forward(a._data, b._data)
    if (a._rg or b._rg) and (_threads_off == 0 or _mode.enabled):
        fn.parents = (a, b)
        # spelled out for both operands instead of a loop: this runs for every op.
        # Constants are frozen too: the op saved their arrays as well.
        if a._ctx is None and a._frozen is False:
            guards.freeze(a)
        if b._ctx is None and b._frozen is False:
            guards.freeze(b)
        return _node(out, fn) if _checks is None else _observed(fn, (a, b), (), _node(out, fn))
    return _node(out, None) if _checks is None else _observed(fn, (a, b), (), _node(out, None))


def _nary(cls, tensors, *args):
    fn = cls()
    out = fn.forward(*[t._data for t in tensors], *args)
    if (_threads_off == 0 or _mode.enabled) and any(t._rg for t in tensors):
        fn.parents = tuple(tensors)
        for p in tensors:
            if p._ctx is None and p._frozen is False:
                guards.freeze(p)
        return _node(out, fn) if _checks is None else _observed(fn, tensors, args, _node(out, fn))
    return _node(out, None) if _checks is None else _observed(fn, tensors, args, _node(out, None))


def _observed(fn, inputs, args, t):
    """An observer is on: it sees every op with its non-tensor arguments (compile's recorder
    needs them to replay), constant results too; ``forward`` then checks a recorded result."""
    _checks.op(fn, inputs, args, t)
    return t if t._ctx is None else _checks.forward(t)


# ---- the graph walk: used by backward and by viz --------------------------------------------


def freed_error(t, op="backward"):
    return RuntimeError(
        f"{op}: the graph behind tensor{guards.label(t)} (shape {t.shape}) was already freed by backward() "
        "(an earlier one); call the first backward with retain_graph=True to go through it again "
        "(to draw a graph after backward, also call viz.retain_grads(root) before it)")


def walk(roots, constants=False, limit=None, op="backward"):
    """Every tensor behind ``roots`` once, nearest the roots first (breadth first, no recursion).

    Sets ``t._deps`` on each to the number of its consumers in the walk; backward follows only
    tensors that require grad, ``constants=True`` (for pictures) follows the others too.
    ``limit`` stops adding tensors after that many. Returns (tensors, whether limit cut it).
    """
    stamp = next(_stamps)
    order = []
    for r in roots:
        if r._visit != stamp:
            r._visit, r._deps, r._g, r._gown = stamp, 0, None, False
            order.append(r)
    cut = False
    for t in order:  # the list is its own queue: the loop reaches what it appends
        ctx = t._ctx
        if ctx is None:
            continue
        parents = ctx.parents
        if parents is None:
            raise freed_error(t, op)
        for p in parents:
            if p._rg or constants:
                if p._visit != stamp:
                    if limit is not None and len(order) >= limit:
                        cut = True
                        continue
                    p._visit, p._deps, p._g, p._gown = stamp, 1, None, False
                    order.append(p)
                else:
                    p._deps += 1
    return order, cut


# ---- backward -------------------------------------------------------------------------------


def _run_backward(roots, seeds, retain_graph, capture=None, graph_vjp=None):
    """Propagate the seeds to every tensor of the graph, each node exactly once.

    ``capture`` maps id(tensor) to None for ``grad()``: those gradients are collected there
    and no ``.grad`` is written. ``.grad`` is written only once the whole walk succeeded, so a
    hook that raises leaves every ``.grad`` as it was. ``graph_vjp`` (higher.py, for
    create_graph) runs each VJP on Tensors instead of arrays: the seeds are Tensors then, and
    so is every gradient.
    """
    tensors, _ = walk(roots)
    for root, seed in zip(roots, seeds):
        if root._g is None:
            root._g = seed
        else:
            root._g = np.asarray(root._g + seed)
            root._gown = True
    finished = []  # (tensor, gradient, owned) to add into .grad at the end
    try:
        _propagate([r for r in dict.fromkeys(roots) if r._deps == 0], retain_graph, capture, finished, graph_vjp)
    except BaseException:
        if not retain_graph:  # the graph is half freed: give the leaves their arrays back
            for t in tensors:
                guards.thaw(t)
        raise
    for t, g, owned in finished:
        _accumulate(t, g, owned)


def _propagate(ready, retain_graph, capture, finished, graph_vjp):
    checks, ndarray = _checks, np.ndarray  # locals: read for every node
    while ready:
        t = ready.pop()
        g, owned = t._g, t._gown
        t._g = None
        if t._hooks is not None and g is not None:
            g, owned = t._hooks.run(t, g, owned, finished)  # see hooks.py
        if capture is not None and id(t) in capture:
            capture[id(t)] = g
        if checks is not None:
            checks.reached(t, g)
        ctx = t._ctx
        if ctx is None:  # a leaf: its gradient is complete
            if capture is None and g is not None:
                finished.append((t, g, owned))
            if t._frozen is not False and not retain_graph:
                guards.thaw(t)
            continue
        parents = ctx.parents
        if g is None:
            grads = (None,) * len(parents)
        else:
            grads = ctx.backward(g) if graph_vjp is None else graph_vjp(ctx, t, g)
        if checks is not None:
            checks.backward(t, g, grads)
        if not retain_graph:
            t._ctx = _FREED  # drop saved arrays and parent links: intermediates can die now
        for p, pg in zip(parents, grads):
            if not p._rg:
                if type(p._frozen) is ndarray and not retain_graph:
                    guards.thaw(p)  # a constant this graph froze
                continue
            if pg is None:
                pass
            elif graph_vjp is not None:
                _add_tensor_gradient(p, pg)
            elif type(pg) is IndexGrad:  # x[index]: add the slice into one buffer of x's shape
                if p._g is None:
                    p._g = np.zeros(p._data.shape, p._data.dtype)
                elif not p._gown:
                    p._g = np.array(p._g)
                p._gown = True
                pg.add_into(p._g)
            else:  # the common case, spelled out here: it runs for every gradient of every op
                data = p._data
                if pg.shape != data.shape:
                    pg = sum_to_shape(pg, data.shape)  # the one place broadcasting is undone
                if pg.dtype is not data.dtype and pg.dtype != data.dtype:
                    pg = pg.astype(data.dtype)
                cur = p._g
                if cur is None:
                    p._g = pg
                elif p._gown:
                    cur += pg
                else:
                    cur = cur + pg
                    # numpy returns a scalar for 0-d operands; += needs an array to add into
                    p._g = cur if type(cur) is ndarray else np.asarray(cur)
                    p._gown = True
            p._deps -= 1
            if p._deps == 0:
                ready.append(p)


def _add_tensor_gradient(p, pg):
    """The same steps for create_graph, as ops on Tensors, which record a graph."""
    if pg.shape != p._data.shape:
        pg = sum_to_shape(pg, p._data.shape)  # .sum(axis=..., keepdims=...) works on Tensors too
    if pg.dtype != p._data.dtype:
        pg = pg.astype(p._data.dtype)
    p._g = pg if p._g is None else p._g + pg


def _accumulate(t, g, owned):
    """Add a finished gradient into ``t.grad`` (a Tensor of t's shape and dtype)."""
    if isinstance(g, Tensor):  # create_graph: .grad keeps the gradient's graph
        t._grad = g if t._grad is None else t._grad + g
    elif t._grad is None:
        t._grad = _const(g if owned and g.flags.writeable else np.array(g))
    else:
        acc = t._grad._data
        if acc.flags.writeable and acc.shape == g.shape:
            acc += g
        else:
            t._grad = _const(acc + g)
