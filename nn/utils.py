"""Gradient utilities."""

import numpy as np

from tinygrad_lite import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so that their joint norm is at most ``max_norm`` (Pascanu et al. 2013).

    As ``torch.nn.utils.clip_grad_norm_``: the norm is taken over the gradients of all parameters
    as if concatenated into one vector, each gradient is multiplied in place by
    min(1, max_norm / (total_norm + 1e-6)), and the total norm before clipping is returned (a
    float). Parameters without a gradient are ignored. ``norm_type`` may be ``inf``.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    norms = [np.linalg.norm(g.ravel(), norm_type) for g in grads]
    total = float(np.linalg.norm(np.array(norms, dtype=np.float64), norm_type))
    coef = min(max_norm / (total + 1e-6), 1.0)
    if coef < 1.0:
        for p in params:
            if p.grad is not None:
                p.grad.data *= np.asarray(coef, dtype=p.grad.dtype)
    return total
