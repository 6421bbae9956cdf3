"""The ways into backward: ``tensor.backward()`` and ``tinygrad_lite.grad()``.

Both check the root, make the seed (the vector of the vector-Jacobian product) and hand over to
the engine's ``_run_backward``; ``grad`` collects the gradients instead of writing ``.grad``.
"""

import numpy as np

from .engine import Tensor, _const, _run_backward
from .errors import ShapeError

__all__ = ["grad"]


def backward(self, gradient=None, retain_graph=False):
    """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

    ``gradient`` (the vector of the vector-Jacobian product) may be omitted only for a
    one-element tensor. ``retain_graph=True`` keeps the graph for another backward.
    """
    _check_differentiable(self, "backward")
    _run_backward([self], [_seed(self, gradient, "backward")], retain_graph)


Tensor.backward = backward


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
    g = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient, dtype=root.dtype)
    if g.shape != root.shape:
        raise ShapeError(f"{op}: gradient has shape {g.shape} but the tensor has shape {root.shape}")
    return g


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
