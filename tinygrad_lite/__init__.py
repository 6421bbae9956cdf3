"""tinygrad_lite: a small tensor library with reverse-mode automatic differentiation on numpy."""

from .functions import *  # noqa: F401,F403  (module-level ops and factories)
from .functions import __all__ as _function_names
from .gradcheck import GradcheckError, gradcheck
from .tensor import (
    ShapeError,
    Tensor,
    concatenate,
    enable_grad,
    grad,
    is_grad_enabled,
    matmul,
    no_grad,
    stack,
    where,
)

__version__ = "0.1.0"

__all__ = ["Tensor", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled", "grad", "matmul",
           "stack", "concatenate", "where", "gradcheck", "GradcheckError", *_function_names]
