"""SGD and Adam with PyTorch's update rules (torch.optim, single-tensor path, maximize=False).

An optimiser keeps its own state arrays and assigns each parameter a new array
(``p.data = ...``): a parameter's array is read-only while a graph that used it is alive.
Parameters whose ``.grad`` is None are skipped, as in PyTorch. ``lr`` is a plain attribute, so a
schedule may change it between steps.
"""

import numpy as np

from tinygrad_lite import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: every parameter must be a leaf Tensor that requires grad, "
                                f"got {p!r:.80}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]  # per parameter, the optimiser's arrays

    def zero_grad(self):
        """Set every parameter's ``.grad`` to None (PyTorch's default, set_to_none=True)."""
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                p.data = self._update(p.data, p.grad.data.astype(p.dtype, copy=False), state)

    def _update(self, param, grad, state):
        """The parameter's new array from its current one, its gradient and its state dict."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (Nesterov's or heavy-ball) and weight decay.

    g = grad + weight_decay * p;  b = momentum * b + (1 - dampening) * g  (b = g on the first step);
    g = g + momentum * b if nesterov else b;  p = p - lr * g
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum ({momentum}) and weight_decay ({weight_decay}) must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        return param - self.lr * grad


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with PyTorch's bias correction and L2 weight decay (not AdamW).

    m = lerp(m, g, 1 - β1);  v = β2 v + (1 - β2) g²;
    p = p - lr / (1 - β1^t) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"Adam: eps ({eps}) and weight_decay ({weight_decay}) must be >= 0")
        self.betas, self.eps, self.weight_decay = (beta1, beta2), eps, weight_decay

    def _update(self, param, grad, state):
        beta1, beta2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad  # torch's addcmul_ order of operations
        step_size = self.lr / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + self.eps
        return param + (-step_size * m) / denom  # torch's addcdiv_(m, denom, value=-step_size)


def _lerp_(start, end, weight):
    """start += weight * (end - start) in place, rounded as torch.lerp (which switches form at 0.5)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
