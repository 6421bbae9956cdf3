"""``from tinygrad_lite.tensor import Tensor`` keeps working: the Tensor with all its methods.

The engine is ``engine.py``, the methods and functions are attached in ``surface.py``.
"""

from . import hooks as _hooks  # noqa: F401  (attaches register_hook, retain_grad)
from . import surface as _surface  # noqa: F401  (attaches the methods and operators to Tensor)
from .autograd import grad
from .engine import Tensor, _unary, enable_grad, is_grad_enabled, no_grad
from .errors import ShapeError
from .surface import concatenate, matmul, stack, where

__all__ = ["Tensor", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled", "grad",
           "matmul", "stack", "concatenate", "where", "_unary"]
