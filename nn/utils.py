"""Gradient utilities."""

import math
import numbers

import numpy as np

from tinygrad_lite import Tensor

__all__ = ["clip_grad_norm_", "functional_call"]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm`` (Pascanu et al. 2013).

    As ``torch.nn.utils.clip_grad_norm_``: the norm is taken over the gradients of all parameters
    as if concatenated into one vector, each gradient is multiplied in place by
    min(1, max_norm / (total_norm + 1e-6)), and the total norm before clipping is returned (a
    float). Parameters without a gradient are ignored. ``max_norm`` is a number >= 0 (``inf``
    only measures); ``norm_type`` a number >= 1 or ``inf`` (also the string ``"inf"``).

    A NaN or infinite total norm raises a RuntimeError when ``error_if_nonfinite`` is true;
    otherwise, as torch, the gradients are scaled by it anyway (a NaN norm makes them all NaN,
    an infinite one sets the finite entries to 0), so the problem shows instead of passing
    through unclipped.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for k, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad_norm_: parameters must be Tensors, got {type(p).__name__} at position {k}")
    max_norm = _max_norm(max_norm)
    norm_type = _norm_type(norm_type)
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return 0.0
    norms = [np.linalg.norm(p.grad.data.ravel(), norm_type) for p in with_grad]
    total = float(np.linalg.norm(np.array(norms, dtype=np.float64), norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
                           f"so it cannot be clipped{_first_nonfinite(params)}; pass "
                           f"error_if_nonfinite=False to scale the gradients by it anyway")
    with np.errstate(invalid="ignore", divide="ignore"):  # a non-finite norm gives NaN or 0 on purpose
        coef = np.minimum(max_norm / (total + 1e-6), 1.0)  # np.minimum keeps a NaN, min() would drop it
        if not coef == 1.0:
            for p in with_grad:
                p.grad.data *= np.asarray(coef, dtype=p.grad.dtype)
    return total


def _max_norm(value):
    """``max_norm`` as a float: a real number >= 0 (torch accepts a negative one and flips the gradients)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"clip_grad_norm_: max_norm must be a real number, got {type(value).__name__} {value!r:.80}")
    if not float(value) >= 0:  # also False for NaN
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0 (inf to only measure the norm), got {value!r}")
    return float(value)


def _norm_type(value):
    """``norm_type`` as a float: a p-norm with p >= 1, or inf (given as a number or as "inf", as torch)."""
    if isinstance(value, str) and value.strip().lower() == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"clip_grad_norm_: norm_type must be a number or 'inf', got {type(value).__name__} {value!r:.80}")
    if not float(value) >= 1:
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 1 or inf (a p-norm), got {value!r}")
    return float(value)


def _first_nonfinite(params):
    """Which parameter (position in ``params``) first has a NaN or inf gradient entry, for the error message ('' if the sum overflowed)."""
    for k, p in enumerate(params):
        if p.grad is not None and not np.isfinite(p.grad.data).all():
            name = f" {p.name!r}" if p.name else ""
            return f" (the gradient of parameter {k}{name}, shape {p.shape}, holds NaN or inf)"
    return " (every gradient is finite: the norm overflowed)"


def functional_call(module, parameters, args=(), kwargs=None):
    """Call ``module`` with some parameters replaced by the given tensors, as ``torch.func.functional_call``.

    ``parameters`` maps dotted names (``"0.weight"``, ``"weight_hh_l0"``, as ``named_parameters()``)
    to Tensors, which may carry a graph: a MAML-style inner step differentiates through
    ``w - lr * grad(loss, w, create_graph=True)`` this way. The module's own parameters are put
    back afterwards, even when the call raises.
    """
    names = dict(module.named_parameters())
    unknown = [name for name in parameters if name not in names]
    if unknown:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter {unknown}; "
                       f"it has {list(names)}")
    for name, value in parameters.items():
        if not isinstance(value, Tensor) or value.shape != names[name].shape:
            shape = getattr(value, "shape", None)
            raise TypeError(f"functional_call: {name} must be a Tensor of shape {names[name].shape}, "
                            f"got {type(value).__name__} of shape {shape}")
    originals = []
    try:
        for name, value in parameters.items():
            owner, attribute = _owner(module, name)
            originals.append((owner, attribute, owner.__dict__[attribute]))
            object.__setattr__(owner, attribute, value)  # the instance attribute forward reads
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attribute, original in reversed(originals):
            object.__setattr__(owner, attribute, original)


def _owner(module, dotted):
    *path, attribute = dotted.split(".")
    for part in path:
        module = getattr(module, part)
    return module, attribute
