"""Loss functions, composed from tinygrad_lite ops (their gradients come from the ops' VJPs).

``reduction`` is 'mean' (the default), 'sum' or 'none', as in PyTorch.
"""

import numpy as np

from tinygrad_lite import ShapeError, Tensor, stack
from tinygrad_lite.checks import nested_shape
from tinygrad_lite.surface import index_by, numeric_array

__all__ = ["mse_loss", "cross_entropy", "binary_cross_entropy_with_logits"]

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction, op, input, target):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r:.60} "
                         f"(input of shape {input.shape}, target of shape {target.shape})")


def _float_input(input, op, target, what="input"):
    """The loss's input as a float Tensor (a loss of integers has no gradient to train with, as in torch)."""
    input = input if isinstance(input, Tensor) else Tensor(numeric_array(input, op, (target,)))
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: the {what} must be a float tensor, got dtype {input.dtype} of shape {input.shape}"
                        f"{_target_shape(target)}; convert it first, e.g. astype(np.float32)")
    return input


def _target_shape(target):
    """The target's shape for an error message ('' for junk or a ragged list, which have none)."""
    if isinstance(target, (Tensor, np.ndarray)):
        shape = target.shape
    else:
        shape = nested_shape(target) if isinstance(target, (list, tuple)) else None
    return "" if shape is None else f" (target of shape {shape})"


def _same_shape(input, target, op):
    """The target as a tensor of the input's shape; a silent broadcast is a classic bug, so it is an error."""
    if not isinstance(target, Tensor):
        target = Tensor(numeric_array(target, op, (input,)).astype(input.dtype, copy=False))
    if target.shape != input.shape:
        raise ShapeError(f"{op}: input shape {input.shape} and target shape {target.shape} differ; "
                         "reshape one of them")
    return target


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum) of (input - target)²; input and target have the same shape."""
    input = _float_input(input, "mse_loss", target)
    target = _same_shape(input, target, "mse_loss")
    _check_reduction(reduction, "mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target]: logits (N, C) and class indices (N,) in [0, C), or (C,) and one index.

    Computed through log_softmax, which subtracts the row maximum: finite for any finite logits.
    """
    logits = _float_input(logits, "cross_entropy", target, "logits")
    if not isinstance(target, Tensor):
        target = Tensor(numeric_array(target, "cross_entropy", (logits,)))
    _check_reduction(reduction, "cross_entropy", logits, target)
    if logits.ndim not in (1, 2) or target.shape != logits.shape[:-1]:
        raise ShapeError(f"cross_entropy: expected logits (N, C) with target (N,), or (C,) with a scalar target; "
                         f"got logits {logits.shape} and target {target.shape} (reshape a sequence to (N, C))")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype} "
                        f"(logits {logits.shape}, target {target.shape})")
    logp = logits.log_softmax(axis=-1)
    # the classes are picked by an op that reads the target's values when it runs (the bounds,
    # [0, C), are checked there): a compiled training step replays with every batch's targets
    picked = index_by(logp, target, along=logits.ndim == 2, negative=False, what="cross_entropy")
    return _reduce(-picked, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """-[y log σ(x) + (1-y) log(1-σ(x))] for logits x and targets y in [0, 1], same shape.

    Written as softplus(x) - x*y with softplus(x) = logsumexp(0, x): finite for |x| = 1000, and
    its gradient is exactly σ(x) - y everywhere (the max/abs form gets x = 0 wrong).
    """
    op = "binary_cross_entropy_with_logits"
    logits = _float_input(logits, op, target, "logits")
    target = _same_shape(logits, target, op)
    _check_reduction(reduction, op, logits, target)
    zeros = Tensor(np.zeros(logits.shape, logits.dtype))
    softplus = stack([zeros, logits]).logsumexp(axis=0)
    return _reduce(softplus - logits * target, reduction)
