"""SGD and Adam with PyTorch's update rules (torch.optim, single-tensor path, maximize=False).

An optimiser keeps its own state arrays and assigns each parameter a new array
(``p.data = ...``): a parameter's array is read-only while a graph that used it is alive.
Parameters whose ``.grad`` is None are skipped, as in PyTorch. ``lr`` is an attribute, so a
schedule may change it between steps; every hyperparameter is checked to be a finite real number
in its range, when given and (``lr``) whenever it is assigned.
"""

import math
import numbers

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
        self.lr = lr
        self.state = [{} for _ in self.params]  # per parameter, the optimiser's arrays

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = self._hyperparameter("learning rate", value)

    def _hyperparameter(self, what, value, below=math.inf):
        """``value`` as a float, checked to be a real number in [0, below) (torch's "Invalid ... value").

        A string, None, a bool or an array is a TypeError; NaN, inf or a number out of range a
        ValueError. Infinity is refused too (torch lets some through): one step would turn every
        parameter into inf or NaN.
        """
        owner = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{owner}: the {what} must be a real number, got {type(value).__name__} {value!r:.80}")
        number = float(value)
        if not (math.isfinite(number) and 0 <= number < below):
            allowed = "a finite number >= 0" if below == math.inf else f"a number in [0, {below:g})"
            raise ValueError(f"{owner}: invalid {what}: {value!r} (must be {allowed})")
        return number

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
        momentum = self._hyperparameter("momentum value", momentum)
        dampening = self._hyperparameter("dampening value", dampening)
        weight_decay = self._hyperparameter("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, bool(nesterov)

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
        self.betas = self._betas(betas)
        self.eps = self._hyperparameter("epsilon value", eps)
        self.weight_decay = self._hyperparameter("weight_decay value", weight_decay)

    def _betas(self, betas):
        """(beta1, beta2) as floats, each in [0, 1) as torch requires."""
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r:.80}")
        return tuple(self._hyperparameter(f"beta parameter at index {k}", beta, below=1)
                     for k, beta in enumerate(betas))

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
