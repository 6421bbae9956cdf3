"""Loss functions, composed from tinygrad_lite ops (their gradients come from the ops' VJPs).

``reduction`` is 'mean' (the default), 'sum' or 'none', as in PyTorch.
"""

import numpy as np

from tinygrad_lite import ShapeError, Tensor, stack

__all__ = ["mse_loss", "cross_entropy", "binary_cross_entropy_with_logits"]


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(input, target, op):
    """The target as a tensor of the input's shape; a silent broadcast is a classic bug, so it is an error."""
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype)
    if target.shape != input.shape:
        raise ShapeError(f"{op}: input shape {input.shape} and target shape {target.shape} differ; "
                         "reshape one of them")
    return target


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum) of (input - target)²; input and target have the same shape."""
    target = _same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target]: logits (N, C) and class indices (N,) in [0, C), or (C,) and one index.

    Computed through log_softmax, which subtracts the row maximum: finite for any finite logits.
    """
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim not in (1, 2) or target.shape != logits.shape[:-1]:
        raise ShapeError(f"cross_entropy: expected logits (N, C) with target (N,), or (C,) with a scalar target; "
                         f"got logits {logits.shape} and target {target.shape} (reshape a sequence to (N, C))")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    C = logits.shape[-1]
    if target.size and (target.min() < 0 or target.max() >= C):
        raise IndexError(f"cross_entropy: target classes must lie in [0, {C}), "
                         f"got values from {target.min()} to {target.max()}")
    logp = logits.log_softmax(axis=-1)
    picked = logp[target] if logits.ndim == 1 else logp[np.arange(len(target)), target]
    return _reduce(-picked, reduction, "cross_entropy")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """-[y log σ(x) + (1-y) log(1-σ(x))] for logits x and targets y in [0, 1], same shape.

    Written as softplus(x) - x*y with softplus(x) = logsumexp(0, x): finite for |x| = 1000, and
    its gradient is exactly σ(x) - y everywhere (the max/abs form gets x = 0 wrong).
    """
    target = _same_shape(logits, target, "binary_cross_entropy_with_logits")
    zeros = Tensor(np.zeros(logits.shape, logits.dtype))
    softplus = stack([zeros, logits]).logsumexp(axis=0)
    return _reduce(softplus - logits * target, reduction, "binary_cross_entropy_with_logits")
