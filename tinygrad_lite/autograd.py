"""The ways into backward: ``tensor.backward()`` and ``tinygrad_lite.grad()``.

Both check the root, make the seed (the vector of the vector-Jacobian product) and hand over to
the engine's ``_run_backward``; ``grad`` collects the gradients instead of writing ``.grad``.
"""

import numpy as np

from .engine import Tensor, _const, _run_backward
from .errors import ShapeError

__all__ = ["grad"]


def backward(self, gradient=None, retain_graph=None, create_graph=False):
    """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

    ``gradient`` (the vector of the vector-Jacobian product) may be omitted only for a
    one-element tensor. ``retain_graph=True`` keeps the graph for another backward; it defaults
    to ``create_graph``. With ``create_graph=True`` the gradients are Tensors with a graph of
    their own (``x.grad.requires_grad``), which can be differentiated again.
    """
    _check_differentiable(self, "backward")
    _backward([self], [gradient], retain_graph, create_graph, None, "backward")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         gradient=None):
    """d(outputs)/d(inputs) without touching any ``.grad``, as ``torch.autograd.grad``.

    ``outputs`` is a Tensor or a sequence of them, ``grad_outputs`` the matching vectors of the
    vector-Jacobian product (``gradient=`` is the older name). Returns one gradient per input:
    a Tensor for a single Tensor ``inputs``, else a tuple. An input the outputs do not depend on
    is an error, or ``None`` with ``allow_unused=True``. ``create_graph=True`` returns gradients
    with a graph (differentiable again); ``retain_graph`` defaults to ``create_graph``.
    """
    if gradient is not None:
        if grad_outputs is not None:
            raise TypeError("grad: give grad_outputs or its older name gradient, not both")
        grad_outputs = gradient
    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    vectors = [grad_outputs] if isinstance(outputs, Tensor) or grad_outputs is None else list(grad_outputs)
    if grad_outputs is None:
        vectors = [None] * len(roots)
    if len(vectors) != len(roots):
        raise ValueError(f"grad: {len(roots)} outputs but {len(vectors)} grad_outputs")
    for root in roots:
        _check_differentiable(root, "grad")
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    capture = {id(x): None for x in inputs}
    _backward(roots, vectors, retain_graph, create_graph, capture, "grad")
    result = []
    for i, x in enumerate(inputs):
        g = capture[id(x)]
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) is not used by the output's graph; "
                               "pass allow_unused=True to get None for it")
        result.append(None if g is None else g if isinstance(g, Tensor) else _const(np.array(g)))
    return result[0] if single else tuple(result)


def _backward(roots, vectors, retain_graph, create_graph, capture, op):
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(r, v, op) for r, v in zip(roots, vectors)]
    graph_vjp = None
    if create_graph:
        from .higher import graph_vjp  # imported here: higher.py builds on the whole op surface
        seeds = [v if isinstance(v, Tensor) and v.shape == s.shape and v.dtype == s.dtype else _const(s)
                 for v, s in zip(vectors, seeds)]
    _run_backward(roots, seeds, retain_graph, capture, graph_vjp)


Tensor.backward = backward


def _check_differentiable(t, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
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
