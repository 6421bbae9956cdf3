"""Elementwise ops: one input, and two inputs with numpy broadcasting (MatMul too)."""

import numpy as np

from .base import NUMPY, Function

# ---------------------------------------------------------------------------------------------
# elementwise, one input


class Neg(Function):
    __slots__ = ()

    def forward(self, x):
        return np.negative(x)

    def backward(self, g, F=NUMPY):
        return (-g,)


class Exp(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, g, F=NUMPY):
        return (g * self.out,)


class Log(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g, F=NUMPY):
        return (g / self.x,)


class Sqrt(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, g, F=NUMPY):
        return (g / (2 * self.out),)


class Abs(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g, F=NUMPY):
        return (g * F.sign(self.x),)  # 0 at x == 0, as PyTorch


# exp(x) overflows past these inputs (and numpy warns); sigmoid is 1 to the last bit there.
_EXP_LIMIT = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}


class Sigmoid(Function):
    __slots__ = ("out",)

    def forward(self, x):
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        # σ(x) = e / (1 + e) with e = exp(min(x, limit)): four passes, and accurate in both tails
        # (for very negative x it is exp(x) itself, down to the subnormals).
        e = np.empty(x.shape, x.dtype)  # out=: a 0-d input stays an array
        limit = _EXP_LIMIT.get(x.dtype)
        np.exp(x if limit is None else np.minimum(x, limit, out=e), out=e)
        self.out = np.divide(e, e + 1, out=e)
        return self.out

    def backward(self, g, F=NUMPY):
        # g * s * (1 - s) with one new array instead of three: the products go in place
        # (a 0-d s gives a numpy scalar here, and *= then simply makes a new scalar)
        s = self.out
        d = 1 - s
        d *= s
        d *= g
        return (d,)


class Tanh(Function):
    __slots__ = ("out",)

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g, F=NUMPY):
        t = self.out
        d = 1 - t * t
        d *= g  # in place, as Sigmoid does
        return (d,)


class Relu(Function):
    __slots__ = ("x",)

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g, F=NUMPY):
        return (g * (self.x > 0),)  # 0 at x == 0, as PyTorch


class Clip(Function):
    __slots__ = ("inside",)

    def forward(self, x, lo, hi):
        inside = True  # the boundaries pass the gradient, as torch.clamp
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi)
        self.inside = inside
        return np.clip(x, lo, hi)

    def backward(self, g, F=NUMPY):
        return (g * self.inside,)


class PowScalar(Function):
    """x ** p for a constant p."""

    __slots__ = ("x", "p")

    def forward(self, x, p):
        self.x, self.p = x, p
        return x**p

    def backward(self, g, F=NUMPY):
        p = self.p
        if p == 0:
            return (g * 0,)
        return (g * (p * self.x ** (p - 1)),)


class Cast(Function):
    __slots__ = ()

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g, F=NUMPY):
        return (g,)  # the engine casts it back to the input's dtype


# ---------------------------------------------------------------------------------------------
# elementwise, two inputs, numpy broadcasting


class Add(Function):
    __slots__ = ()

    def forward(self, x, y):
        return x + y

    def backward(self, g, F=NUMPY):
        return g, g


class Sub(Function):
    __slots__ = ()

    def forward(self, x, y):
        return x - y

    def backward(self, g, F=NUMPY):
        return g, (-g if self.parents[1]._rg else None)


class Mul(Function):
    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        return (g * self.y if a._rg else None,
                g * self.x if b._rg else None)


class Div(Function):
    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return x / y

    def backward(self, g, F=NUMPY):
        gx = g / self.y
        return gx, (-(gx * self.x / self.y) if self.parents[1]._rg else None)  # not -x: x may be bool


class Pow(Function):
    """x ** y for two tensors; d/dy = x**y log x is defined for x > 0 only."""

    __slots__ = ("x", "y", "out")

    def forward(self, x, y):
        self.x, self.y = x, y
        self.out = x**y
        return self.out

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        x, y = self.x, self.y
        gx = gy = None
        if a._rg:
            gx = g * y * x ** (y - 1)
        if b._rg:
            positive = F.value(x) > 0
            log_x = F.where(positive, F.log(F.where(positive, x, 1)), 0)
            gy = g * self.out * log_x
        return gx, gy


def _split_at_ties(g, x_wins, tie):
    """The gradients of an elementwise max or min: to the winner, and half each at a tie (torch)."""
    share_x = (x_wins + tie * 0.5).astype(g.dtype)  # a constant: stays float32 for float32
    return g * share_x, g * (1 - share_x)


class Maximum(Function):
    """Elementwise max; a tie splits the gradient in half, as torch.maximum."""

    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, g, F=NUMPY):
        x, y = F.value(self.x), F.value(self.y)
        return _split_at_ties(g, x > y, x == y)


class Minimum(Maximum):
    __slots__ = ()

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.minimum(x, y)

    def backward(self, g, F=NUMPY):
        x, y = F.value(self.x), F.value(self.y)
        return _split_at_ties(g, x < y, x == y)


class Where(Function):
    """where(cond, x, y); ``cond`` is a constant boolean array, not differentiated."""

    __slots__ = ("cond",)

    def forward(self, x, y, cond):
        self.cond = cond
        return np.where(cond, x, y)

    def backward(self, g, F=NUMPY):
        zero = np.zeros((), dtype=g.dtype)
        return F.where(self.cond, g, zero), F.where(self.cond, zero, g)


class MatMul(Function):
    """numpy's matmul: 1-D operands are promoted to matrices, leading axes broadcast."""

    __slots__ = ("x", "y")

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.matmul(x, y)

    def backward(self, g, F=NUMPY):
        a, b = self.parents
        x, y = self.x, self.y
        if x.ndim == 2 and y.ndim == 2:  # the common case, no reshaping
            return (g @ y.T if a._rg else None,
                    x.T @ g if b._rg else None)
        if x.ndim == 1 and y.ndim == 1:
            return (g * y if a._rg else None, g * x if b._rg else None)
        x2 = F.expand_dims(x, 0) if x.ndim == 1 else x  # promote vectors as numpy does, then undo it
        y2 = F.expand_dims(y, 1) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = F.expand_dims(g2, -2)
        if y.ndim == 1:
            g2 = F.expand_dims(g2, -1)
        gx = gy = None
        if a._rg:
            gx = g2 @ F.swapaxes(y2, -1, -2)
            if x.ndim == 1:
                gx = F.squeeze(gx, -2)
        if b._rg:
            gy = F.swapaxes(x2, -1, -2) @ g2
            if y.ndim == 1:
                gy = F.squeeze(gy, -1)
        return gx, gy
