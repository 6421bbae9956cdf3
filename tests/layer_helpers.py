"""Helpers for gradchecking nn layers with respect to their parameters."""

import nn
from tinygrad_lite import Tensor, grad, gradcheck
from tinygrad_lite.engine import walk


def call_with(module, params, *args):
    """module(*args) with its parameters replaced by ``params`` (Tensors, in named_parameters'
    order), so gradcheck can perturb them: nn.utils.functional_call by position."""
    names = [name for name, _ in module.named_parameters()]
    return nn.utils.functional_call(module, dict(zip(names, params)), args)


def float64_params(module):
    return [Tensor(p.data, requires_grad=True) for p in module.parameters()]


def check(fn, inputs):
    """gradcheck, after making sure every input is used (an unused one would pass with zero gradients)."""
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    grad(sum(o.sum() for o in outputs), inputs)  # raises for an input the outputs do not use
    return gradcheck(fn, inputs, atol=1e-7, rtol=1e-5)


def graph_nodes(*roots):
    """Every non-leaf tensor of the graph behind ``roots``: the engine's own walk, leaves left out."""
    return [t for t in walk(roots)[0] if t.grad_fn is not None]
