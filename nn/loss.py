"""Module wrappers of the losses in ``nn.functional``: ``nn.MSELoss()(input, target)``."""

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)
