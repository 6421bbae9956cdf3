"""tinygrad_lite: a small tensor library with reverse-mode automatic differentiation on numpy.

engine.py      Tensor's graph state, recording, the graph walk, backward, grad mode
ops/           every op: its forward and its vector-Jacobian product, side by side
surface.py     the ops as Tensor methods, operators and module-level functions
autograd.py    backward() and grad(), the ways into the engine
hooks.py, guards.py, anomaly.py    gradient hooks, saved-array guards, detect_anomaly
higher.py, functional.py           create_graph (one VJP for every order), vjp/jvp/hessian...
gradcheck.py, factories.py, viz.py (pictures), stepthrough.py (backward as a web page),
testing.py (hypothesis strategies), jit.py (compile: record once, replay),
denormals.py (set_flush_denormal, as torch's)
"""

# hooks attaches register_hook and retain_grad to Tensor, surface every op; functional is
# tinygrad_lite.functional (vjp, jvp, jacobian, hessian, hvp, vhp)
from . import functional, hooks, surface  # noqa: F401
from .anomaly import detect_anomaly
from .autograd import grad
from .denormals import set_flush_denormal
from .engine import Tensor, enable_grad, is_grad_enabled, no_grad
from .errors import AnomalyError, ShapeError
from .factories import *  # noqa: F403
from .factories import __all__ as _factory_names
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .jit import compile  # noqa: A004 - tinygrad_lite.compile, as torch.compile
from .surface import *  # noqa: F403

__version__ = "0.1.0"

__all__ = ["Tensor", "ShapeError", "AnomalyError", "detect_anomaly", "no_grad", "enable_grad", "is_grad_enabled",
           "grad", "compile", "set_flush_denormal", "gradcheck", "gradgradcheck", "GradcheckError", *surface.__all__, *_factory_names]
