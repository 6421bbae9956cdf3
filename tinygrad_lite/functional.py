"""Derivatives of functions, with ``torch.autograd.functional``'s signatures and return conventions.

``func`` takes Tensors and returns a Tensor or a tuple of Tensors. A single Tensor ``inputs``
gives single results, a tuple gives tuples (one entry per input); likewise for outputs. The
inputs are used as fresh leaves (copies that require grad), so nothing the caller holds gets
a ``.grad``; results carry no graph unless ``create_graph=True``. With ``strict=True`` an
output that does not depend on an input is an error; otherwise its derivative is zeros.

    vjp(func, inputs, v)      -> (outputs, v^T J)          one backward
    jvp(func, inputs, v)      -> (outputs, J v)            two backwards (the double-VJP trick)
    jacobian(func, inputs)    -> J, shape output.shape + input.shape
    hessian(func, inputs)     -> H, shape input.shape + input.shape (func returns one number)
    hvp(func, inputs, v)      -> (output, H v)
    vhp(func, inputs, v)      -> (output, v^T H)
"""

import numpy as np

from .autograd import grad
from .engine import Tensor, _const, enable_grad
from .errors import ShapeError

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    xs, single_in = _leaves(inputs, "vjp")
    with enable_grad():
        outs, single_out = _outputs(func(*xs), "vjp")
        vs = _vectors(v, outs, "vjp", "outputs")
        grads = _grads(outs, xs, vs, create_graph, strict, "vjp")
    return _pack(_results(outs, create_graph), single_out), _pack(grads, single_in)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    xs, single_in = _leaves(inputs, "jvp")
    with enable_grad():
        outs, single_out = _outputs(func(*xs), "jvp")
        vs = _vectors(v, xs, "jvp", "inputs")
        # J v = d/du (u^T J) v: u^T J is linear in u, and its VJP with v is J v
        us = [Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outs]
        ut_j = _grads(outs, xs, us, True, strict, "jvp")
        j_v = _grads(ut_j, us, vs, create_graph, False, "jvp")  # J v is linear in u: never "unused"
    return _pack(_results(outs, create_graph), single_out), _pack(_results(j_v, create_graph), single_out)


def jacobian(func, inputs, create_graph=False, strict=False):
    xs, single_in = _leaves(inputs, "jacobian")
    with enable_grad():
        outs, single_out = _outputs(func(*xs), "jacobian")
        table = []
        for out in outs:
            rows = [[] for _ in xs]
            for k in range(out.size):
                seed = np.zeros(out.size, out.dtype)
                seed[k] = 1
                grads = _grads([out], xs, [_const(seed.reshape(out.shape))], create_graph, strict, "jacobian",
                               retain_graph=True)
                for n, g in enumerate(grads):
                    rows[n].append(g)
            table.append([_stack_rows(r, out.shape, x.shape, x.dtype) for r, x in zip(rows, xs)])
    table = [[_results([j], create_graph)[0] for j in row] for row in table]
    rows = [_pack(row, single_in) for row in table]
    return _pack(rows, single_out)


def hessian(func, inputs, create_graph=False, strict=False):
    xs, single_in = _leaves(inputs, "hessian")

    def gradient(*args):
        out = _scalar(func(*args), "hessian")
        return _grads([out], list(args), [None], True, strict, "hessian")

    result = jacobian(gradient, tuple(xs), create_graph=create_graph, strict=strict)
    return result[0][0] if single_in else result


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """H v by the double-VJP trick: d/dx (grad f · v), the Hessian being symmetric."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """v^T H: the VJP of the gradient with v (equal to H v for a twice-differentiable f)."""
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def _second_order(func, inputs, v, create_graph, strict, op):
    xs, single_in = _leaves(inputs, op)
    with enable_grad():
        out = _scalar(func(*xs), op)
        vs = _vectors(v, xs, op, "inputs")
        first = _grads([out], xs, [None], True, strict, op)
        second = _grads(first, xs, vs, create_graph, strict, op)
    return _results([out], create_graph)[0], _pack(_results(second, create_graph), single_in)


# ---- helpers --------------------------------------------------------------------------------


def _leaves(inputs, op):
    single = isinstance(inputs, Tensor)
    items = [inputs] if single else list(inputs) if isinstance(inputs, (tuple, list)) else None
    if not items or not all(isinstance(x, Tensor) for x in items):
        raise TypeError(f"{op}: inputs must be a Tensor or a tuple of Tensors, got {type(inputs).__name__}")
    for x in items:
        if x.dtype.kind != "f":
            raise TypeError(f"{op}: inputs must be float tensors, got {x.dtype} (shape {x.shape})")
    return [Tensor(x, requires_grad=True) for x in items], single


def _outputs(result, op):
    single = isinstance(result, Tensor)
    outs = [result] if single else list(result) if isinstance(result, (tuple, list)) else None
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"{op}: func must return a Tensor or a tuple of Tensors, got {type(result).__name__}")
    return outs, single


def _scalar(result, op):
    outs, single = _outputs(result, op)
    if not single or outs[0].size != 1:
        raise ShapeError(f"{op}: func must return a single Tensor with one element, got "
                         f"{[o.shape for o in outs]}")
    return outs[0]


def _vectors(v, like, op, what):
    """The vectors of a product, one per entry of ``like`` (outputs or inputs), as constants."""
    if v is None:
        if all(t.size == 1 for t in like):
            return [_const(np.ones(t.shape, t.dtype)) for t in like]
        raise ValueError(f"{op}: v can be omitted only when the {what} have one element each, got shapes "
                         f"{[t.shape for t in like]}")
    vs = [v] if isinstance(v, (Tensor, np.ndarray)) and len(like) == 1 else list(v)
    if len(vs) != len(like):
        raise ValueError(f"{op}: v has {len(vs)} entries for {len(like)} {what}")
    out = []
    for vec, t in zip(vs, like):
        vec = vec if isinstance(vec, Tensor) else _const(np.asarray(vec, t.dtype))
        if vec.shape != t.shape:
            raise ShapeError(f"{op}: v has shape {vec.shape} where the {what} have shape {t.shape}")
        out.append(vec)
    return out


def _grads(outs, xs, vs, create_graph, strict, op, retain_graph=None):
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if not live:
        grads = [None] * len(xs)
    else:
        grads = grad([o for o, _ in live], xs, grad_outputs=[v for _, v in live], retain_graph=retain_graph,
                     create_graph=create_graph, allow_unused=True)
    if strict and any(g is None for g in grads):
        raise RuntimeError(f"{op}: strict=True and an output is independent of input "
                           f"{[i for i, g in enumerate(grads) if g is None]}")
    return [_zeros_if_none(g, x) for g, x in zip(grads, xs)]


def _zeros_if_none(g, like):
    return _const(np.zeros(like.shape, like.dtype)) if g is None else g


def _stack_rows(rows, out_shape, in_shape, dtype):
    from .surface import stack
    if not rows:
        return _const(np.zeros(out_shape + in_shape, dtype))
    return stack(rows).reshape(out_shape + in_shape)


def _results(tensors, create_graph):
    return list(tensors) if create_graph else [t.detach() for t in tensors]


def _pack(items, single):
    return items[0] if single else tuple(items)
