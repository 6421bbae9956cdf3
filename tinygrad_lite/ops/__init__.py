"""Every differentiable op, its forward and its vector-Jacobian product side by side.

base.py (Function, sum_to_shape, IndexGrad, NUMPY), elementwise.py, reduce.py, shape.py;
every op class is importable from here, ``tinygrad_lite.ops.Mul``.

An op is a small class. ``forward`` receives numpy arrays (and plain Python options such as
``axis``), keeps what its derivative needs on ``self`` and returns the result array.
``backward(g, F)`` receives the gradient ``g`` of the loss with respect to that result and
returns one gradient per input, ``None`` for inputs that do not require one (``parent._rg`` is
the ``requires_grad`` flag, read directly: a property call on every backward adds up): an op may
skip a gradient nobody needs. The engine in ``engine.py`` sets ``self.parents`` (the input
Tensors) and does all the bookkeeping.

One VJP serves both orders. A VJP uses only what numpy arrays and Tensors share (operators,
``@``, ``.T``, ``.sum(axis=, keepdims=)``, ``.reshape``, indexing) and the few functions of the
namespace ``F`` (``where``, ``exp``, ``sign``, ``index_grad``...). For a first-order backward
the engine passes numpy arrays and ``F = NUMPY``. Under ``create_graph=True`` it runs the very
same method on Tensors, with ``F`` the Tensor functions (``higher.py``), so the gradient is
itself a graph that can be differentiated again. For that the saved fields follow one rule:
``x`` and ``y`` hold the inputs, ``out`` the result; any other array is a constant (a mask,
an index), whose derivative is zero where it is defined.

Rules that keep the engine fast and correct:

* ``backward`` never writes into ``g`` or into a saved array: the engine may hand the same
  array to several ops.
* ``backward`` returns raw gradients: one of a broadcast input may have the broadcast shape,
  and any dtype. The engine sums it down to the input's shape (``sum_to_shape``) and casts it,
  once, for every op; so an op that needs its inputs only for their shapes keeps nothing.
* Indexing returns an ``IndexGrad`` instead of a zero-filled array, so that slicing one tensor
  many times (``xw[t]`` for every time step) accumulates into a single buffer: O(T), not O(T²).
* In-place updates (``d *= g``) are fine on a new array: on a Tensor they simply make a new node.
"""

from .base import NUMPY, Function, IndexGrad, sum_to_shape
from .elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    MatMul,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .reduce import LogSoftmax, LogSumExp, Max, Mean, Min, Softmax, Sum
from .shape import BroadcastTo, Concatenate, GetItem, Reshape, ScatterAdd, Stack, Take, Transpose

__all__ = ["Function", "IndexGrad", "sum_to_shape", "NUMPY", "Abs", "Add", "Cast", "Clip", "Div", "Exp", "Log",
           "MatMul", "Maximum", "Minimum", "Mul", "Neg", "Pow", "PowScalar", "Relu", "Sigmoid", "Sqrt", "Sub",
           "Tanh", "Where", "LogSoftmax", "LogSumExp", "Max", "Mean", "Min", "Softmax", "Sum", "BroadcastTo",
           "Concatenate", "GetItem", "Reshape", "ScatterAdd", "Stack", "Take", "Transpose"]
