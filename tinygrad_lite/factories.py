"""Tensor factories: ``zeros``, ``ones``, ``randn``... as module functions and as ``Tensor.zeros``."""

import numpy as np

from .engine import Tensor

__all__ = ["tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand"]


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
