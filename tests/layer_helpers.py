"""Helpers for gradchecking nn layers with respect to their parameters."""

from tinygrad_lite import Tensor


def call_with(module, params, *args):
    """module(*args) with its parameters replaced by ``params`` (Tensors), so gradcheck can perturb them.

    The layers read their parameters as attributes; setting the instance attributes directly
    (bypassing Module's registration) swaps them for this one call.
    """
    names = [name for name, _ in module.named_parameters()]
    saved = [getattr(module, name) for name in names]
    for name, p in zip(names, params):
        object.__setattr__(module, name, p)
    try:
        return module(*args)
    finally:
        for name, p in zip(names, saved):
            object.__setattr__(module, name, p)


def float64_params(module):
    return [Tensor(p.data, requires_grad=True) for p in module.parameters()]
