"""Hooks on a tensor's gradient: ``register_hook(fn)`` and ``retain_grad()``.

A tensor's ``_hooks`` is None or a ``Hooks``: the functions to call, in order, when backward
has summed the tensor's whole gradient, and whether to keep that gradient in ``.grad``
(retain_grad sees it after every hook). The engine calls ``Hooks.run`` and nothing else.
"""

import numpy as np

from .engine import Tensor, _const
from .errors import ShapeError
from .guards import label

__all__ = ["Hooks"]


class Hooks:
    __slots__ = ("fns", "retain")

    def __init__(self):
        self.fns, self.retain = [], False

    def run(self, t, g, owned, finished):
        """Call each hook on ``g``; a returned gradient replaces it. Returns (g, owned)."""
        graph = isinstance(g, Tensor)  # create_graph: the hook sees (and may return) a graph
        for fn in self.fns:
            result = fn(g if graph else _const(g))
            if result is not None:
                g, owned = _checked(fn, result, t, graph), False
        if self.retain and t._ctx is not None:
            finished.append((t, g, False))  # written into .grad when backward has succeeded
        return g, owned


class _HookHandle:
    __slots__ = ("hooks", "fn")

    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks.fns:
            self.hooks.fns.remove(self.fn)


def register_hook(self, fn):
    """Call ``fn(grad)`` when this tensor's gradient is complete; a returned tensor replaces it.

    Returns a handle whose ``remove()`` unregisters the hook.
    """
    if not self._rg:
        raise RuntimeError("register_hook: this tensor does not require grad")
    if not callable(fn):
        raise TypeError(f"register_hook: the hook must be callable, got {type(fn).__name__}")
    if self._hooks is None:
        self._hooks = Hooks()
    self._hooks.fns.append(fn)
    return _HookHandle(self._hooks, fn)


def retain_grad(self):
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
    if not self._rg:
        raise RuntimeError("retain_grad: this tensor does not require grad")
    if self._ctx is not None:
        if self._hooks is None:
            self._hooks = Hooks()
        self._hooks.retain = True
    return self


def _checked(fn, result, t, graph):
    """A hook's returned gradient as an array of t's shape and dtype, or an error naming the hook."""
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        raw = result._data if isinstance(result, Tensor) else np.asarray(result)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "biuf":
        raise TypeError(f"register_hook: the hook {name} returned {type(result).__name__}; a hook returns None "
                        f"or a gradient (a Tensor or array) for tensor{label(t)} of shape {t.shape}")
    if raw.shape != t.shape:
        raise ShapeError(f"register_hook: the hook {name} returned a gradient of shape {raw.shape} "
                         f"for tensor{label(t)} of shape {t.shape}")
    if graph:
        return result.astype(t._data.dtype) if isinstance(result, Tensor) else _const(raw.astype(t._data.dtype))
    return raw.astype(t._data.dtype, copy=False)


Tensor.register_hook = register_hook
Tensor.retain_grad = retain_grad
