"""tinygrad_lite: a small tensor library with reverse-mode automatic differentiation on numpy.

engine.py   Tensor's graph state, recording, the graph walk, backward, grad mode
ops.py      every op: its forward and its vector-Jacobian product, side by side
surface.py  the ops as Tensor methods, operators and module-level functions
factories.py, gradcheck.py, viz.py (pictures), testing.py (hypothesis strategies)
"""

from . import hooks as _hooks  # noqa: F401  (attaches register_hook and retain_grad)
from . import surface
from .anomaly import detect_anomaly
from .autograd import grad
from .engine import Tensor, enable_grad, is_grad_enabled, no_grad
from .errors import AnomalyError, ShapeError
from . import functional  # noqa: F401  (tinygrad_lite.functional: vjp, jvp, jacobian, hessian, hvp, vhp)
from .factories import *  # noqa: F403
from .factories import __all__ as _factory_names
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .surface import *  # noqa: F403

__version__ = "0.1.0"

__all__ = ["Tensor", "ShapeError", "AnomalyError", "detect_anomaly", "no_grad", "enable_grad", "is_grad_enabled", "grad", "gradcheck", "gradgradcheck",
           "GradcheckError", *surface.__all__, *_factory_names]
