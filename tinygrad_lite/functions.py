"""Module-level spellings of the tensor methods (``tinygrad_lite.exp(x)``) and tensor factories."""

import numpy as np

from .tensor import Tensor, _as_tensor, concatenate

__all__ = ["neg", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "clip", "sum", "mean",
           "max", "min", "square", "dot", "logsumexp", "softmax", "log_softmax", "maximum", "minimum", "reshape",
           "transpose", "cat", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like",
           "arange", "eye", "randn", "rand"]


def neg(x):
    return _as_tensor(x).neg()


def exp(x):
    return _as_tensor(x).exp()


def log(x):
    return _as_tensor(x).log()


def sqrt(x):
    return _as_tensor(x).sqrt()


def abs(x):  # noqa: A001 - numpy's name
    return _as_tensor(x).abs()


def sigmoid(x):
    return _as_tensor(x).sigmoid()


def tanh(x):
    return _as_tensor(x).tanh()


def relu(x):
    return _as_tensor(x).relu()


def clip(x, min=None, max=None):  # noqa: A002
    return _as_tensor(x).clip(min, max)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _as_tensor(x).sum(axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _as_tensor(x).mean(axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _as_tensor(x).max(axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _as_tensor(x).min(axis, keepdims)


def square(x):
    return _as_tensor(x).square()


def dot(a, b):
    return _as_tensor(a).dot(b)


def logsumexp(x, axis=None, keepdims=False):
    return _as_tensor(x).logsumexp(axis, keepdims)


def softmax(x, axis=-1):
    return _as_tensor(x).softmax(axis)


def log_softmax(x, axis=-1):
    return _as_tensor(x).log_softmax(axis)


def maximum(a, b):
    return a.maximum(b) if isinstance(a, Tensor) else _as_tensor(b).maximum(a)


def minimum(a, b):
    return a.minimum(b) if isinstance(a, Tensor) else _as_tensor(b).minimum(a)


def reshape(x, shape):
    return _as_tensor(x).reshape(shape)


def transpose(x, axes=None):
    return _as_tensor(x).transpose(*(() if axes is None else (axes,)))


cat = concatenate


# ---- factories ------------------------------------------------------------------------------

def tensor(data, requires_grad=False, dtype=None, name=None):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape, dtype=np.float64, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float64, requires_grad=False):
    return Tensor(np.ones(_shape(shape), dtype), requires_grad=requires_grad)


def full(shape, value, dtype=np.float64, requires_grad=False):
    return Tensor(np.full(shape, value, dtype), requires_grad=requires_grad)


def zeros_like(x, requires_grad=False):
    return Tensor(np.zeros_like(x.data), requires_grad=requires_grad)


def ones_like(x, requires_grad=False):
    return Tensor(np.ones_like(x.data), requires_grad=requires_grad)


def arange(*args, dtype=None, requires_grad=False):
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)


def eye(n, m=None, dtype=np.float64, requires_grad=False):
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, rng=None, dtype=np.float64, requires_grad=False):
    rng = np.random.default_rng(rng)
    return Tensor(rng.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def rand(*shape, rng=None, dtype=np.float64, requires_grad=False):
    rng = np.random.default_rng(rng)
    return Tensor(rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


# tinygrad's and micrograd-era spellings: Tensor.zeros(2, 3), Tensor.randn(4), Tensor.eye(3)...
for _factory in (zeros, ones, full, zeros_like, ones_like, arange, eye, randn, rand):
    setattr(Tensor, _factory.__name__, staticmethod(_factory))
