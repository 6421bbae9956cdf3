"""A fuzzer of the public surface: every call agrees with numpy (or torch), or is the library's own error.

Each case draws one call — an op, a Tensor method or operator, an index, a layer, a loss or an
optimiser — with valid and invalid shapes, axes, dtypes, indices, sizes and hyperparameters, and
``check`` runs the library beside its reference:

* both answer: the same shapes, dtypes and values, and a backward through the result gives every
  input that requires grad a gradient of its own shape and dtype;
* the reference refuses: the library must refuse too, with a clean error;
* the library refuses where the reference answers: only where the case says the library is
  stricter on purpose (``Call.stricter``, e.g. a loss refuses the silent broadcast torch warns about).

A clean error has exactly one of the allowed types (ShapeError, TypeError, ValueError,
IndexError, AxisError; numpy's UFuncTypeError or Python's OverflowError are not), no
``__context__`` or ``__cause__`` (the library's own check, made before numpy ran or after numpy
refused, outside the handler: not numpy's error translated), was raised by a ``raise`` statement in ``tinygrad_lite/`` or ``nn/`` (not by numpy or
Python inside a call the library made), and its message names the op and the shape of every
array argument.
"""

import dis
import math
import operator
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
import tinygrad_lite as tl
from tinygrad_lite import ShapeError, Tensor

try:
    import torch
except ImportError:  # the layer, loss and optimiser cases compare with torch and skip without it
    torch = None

ALLOWED = (ShapeError, TypeError, ValueError, IndexError, np.exceptions.AxisError)
RAISE = dis.opmap["RAISE_VARARGS"]  # a check's raise statement (numpy's errors surface at a call instead)
LIBRARY = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (tl, nn))
DTYPES = [np.dtype(t) for t in (bool, np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64)]
JUNK = ["a", None, object(), {1: 2}, 1j]
TOLERANCE = {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}
FUZZ = settings(deadline=2000)  # a time limit per example; the number of examples is the profile's


@dataclass
class Call:
    """One drawn call: the library's, the reference's, and what an error of it must name."""

    op: str  # the name an error message must contain
    ours: Callable  # () -> the library's answer
    ref: Callable  # () -> the reference's answer (arrays, numbers, or tuples of them)
    shapes: list = field(default_factory=list)  # the shapes of the array arguments, named by an error
    leaves: list = field(default_factory=list)  # the Tensors that require grad
    stricter: bool = False  # the library may refuse although the reference answers
    tolerance: float = None  # relative tolerance instead of the dtype's
    python: bool = False  # the answer is a Python value (item, len, tolist): compared by type and repr
    allowed: tuple = ()  # error types allowed besides ALLOWED (torch's own RuntimeError, say)

    def __repr__(self):  # what hypothesis prints for a failing example: the op and what it was called with
        names = self.ours.__code__.co_freevars
        values = [cell.cell_contents for cell in self.ours.__closure__ or ()]
        args = ", ".join(f"{n}={v!r}" for n, v in zip(names, values) if not callable(v) or isinstance(v, Tensor))
        return f"Call({self.op}: {args}; stricter={self.stricter})"

    def _repr_pretty_(self, printer, cycle):  # hypothesis prints dataclasses field by field otherwise
        printer.text(repr(self))


# ---- the checks ------------------------------------------------------------------------------


def run(fn):
    """(answer, None) or (None, the exception)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(), None
        except Exception as e:  # noqa: BLE001 - the point is to look at whatever it raises
            return None, e


def check(call):
    theirs, their_error = run(call.ref)
    ours, our_error = run(call.ours)
    if our_error is not None:
        assert_clean_error(our_error, call)
        # numpy computes on Python objects (2**70 makes an object array); the library holds numbers only
        assert their_error is not None or call.stricter or _holds_objects(theirs), (
            f"{call.op}: the reference answers {_show(theirs)} but the library raised "
            f"{type(our_error).__name__}: {our_error}")
        return
    assert their_error is None, (f"{call.op}: the reference raised {type(their_error).__name__}: {their_error}, "
                                 f"but the library answered {_show(ours)}")
    assert_same(ours, theirs, call)
    assert_backward(ours, call)


def _holds_objects(answer):
    """Whether numpy's answer is made of Python objects (an object array, or an int past int64)."""
    if isinstance(answer, (tuple, list)):
        return any(_holds_objects(a) for a in answer)
    return np.asarray(answer).dtype == object or (type(answer) is int and not -2**63 <= answer < 2**63)


def assert_clean_error(error, call):
    what = f"{call.op} raised {type(error).__name__}: {error}"
    assert type(error) in ALLOWED + call.allowed, f"{what} (not one of the library's error types)"
    inner = error.__cause__ or error.__context__
    assert inner is None, f"{what}\n  translated from {type(inner).__name__}: {inner}"
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    assert code.co_filename.startswith(LIBRARY) and code.co_code[tb.tb_lasti] == RAISE, \
        f"{what}\n  raised at {code.co_filename}:{tb.tb_lineno}, not by a raise statement of the library"
    message = str(error)
    assert call.op.lower() in message.lower(), f"{what}\n  the message does not name {call.op!r}"
    for shape in call.shapes:
        assert str(shape) in message, f"{what}\n  the message does not name the shape {shape}"


def assert_same(ours, theirs, call, where="result"):
    if call.python:
        assert type(ours) is type(theirs) and repr(ours) == repr(theirs), \
            f"{call.op}: {where}: {ours!r} ({type(ours).__name__}), expected {theirs!r} ({type(theirs).__name__})"
        return
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), \
            f"{call.op}: {where}: {len(theirs)} pieces expected, got {_show(ours)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, call, f"{where}[{k}]")
        return
    assert isinstance(ours, Tensor), f"{call.op}: {where}: a Tensor expected, got {_show(ours)}"
    theirs = np.asarray(theirs.detach().numpy() if torch is not None and isinstance(theirs, torch.Tensor) else theirs)
    got = ours.data
    assert got.shape == theirs.shape, f"{call.op}: {where}: shape {got.shape}, expected {theirs.shape}"
    assert got.dtype == theirs.dtype, f"{call.op}: {where}: dtype {got.dtype}, expected {theirs.dtype}"
    if got.dtype.kind != "f":
        np.testing.assert_array_equal(got, theirs, err_msg=f"{call.op}: {where}")
        return
    rtol = call.tolerance or TOLERANCE[got.dtype]
    np.testing.assert_allclose(got.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=rtol,
                               equal_nan=True, err_msg=f"{call.op}: {where}")


def assert_backward(ours, call):
    """A backward through every result that requires grad gives each leaf a gradient of its shape and dtype."""
    results = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    roots = [r for r in results if isinstance(r, Tensor) and r.requires_grad]
    if not roots:
        return
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = roots[0].sum()
        for r in roots[1:]:
            total = total + r.sum()
        total.backward()
    for leaf in call.leaves:
        assert leaf.grad is not None, f"{call.op}: no gradient reached an input of shape {leaf.shape}"
        assert leaf.grad.shape == leaf.shape and leaf.grad.dtype == leaf.dtype, (
            f"{call.op}: the gradient of an input of shape {leaf.shape} and dtype {leaf.dtype} has shape "
            f"{leaf.grad.shape} and dtype {leaf.grad.dtype}")


def _show(value):
    if isinstance(value, Tensor):
        return f"a Tensor of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"{len(value)} pieces"
    return repr(value)


# ---- drawing arguments -------------------------------------------------------------------------


def shapes(min_dims=0, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=3)


def _values(dtype, finite=False, masked=False):
    """Small numbers, and the float specials (only zeros when ``finite``, and -inf when ``masked``)."""
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(0 if dtype.kind == "u" else -4, 4)
    specials = [0.0, -0.0] + ([-math.inf] if masked else [] if finite else [math.inf, -math.inf, math.nan])
    specials = st.sampled_from(specials)
    return st.floats(-3, 3, width=dtype.itemsize * 8) | specials


@st.composite
def arrays(draw, shape=None, dtype=None, finite=False, masked=False):
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else np.dtype(dtype)
    shape = draw(shapes()) if shape is None else shape
    return draw(hnp.arrays(dtype, shape, elements=_values(dtype, finite, masked)))


@st.composite
def related_shapes(draw, shape):
    """Shapes that broadcast with ``shape`` most of the time, and some that do not."""
    kind = draw(st.sampled_from(["same", "suffix", "ones", "longer", "any"]))
    if kind == "same":
        return shape
    if kind == "suffix":
        return shape[draw(st.integers(0, len(shape))):]
    if kind == "ones":
        return tuple(1 if draw(st.booleans()) else n for n in shape)
    if kind == "longer":
        return draw(shapes(max_dims=1)) + shape
    return draw(shapes())


@dataclass
class Arg:
    """One argument: what the library gets, what the reference gets, its shape (None for a
    non-array) and the Tensor that requires grad, if it is one."""

    ours: object
    ref: object
    shape: tuple = None
    leaf: Tensor = None

    @property
    def is_tensor(self):
        return isinstance(self.ours, Tensor)


@st.composite
def tensor_args(draw, shape=None, dtype=None, grad=True, finite=False, masked=False):
    """A Tensor (requiring grad on a coin flip when it is float) and its array."""
    a = draw(arrays(shape, dtype, finite, masked))
    rg = grad and a.dtype.kind == "f" and draw(st.booleans())
    t = Tensor(a, requires_grad=rg)
    return Arg(t, a, a.shape, t if rg else None)


@st.composite
def operands(draw, shape, junk=True):
    """An operand of a binary op: mostly a Tensor, else a Python or numpy number, an array, a list or junk."""
    kinds = ["tensor"] * 4 + ["int", "float", "bool", "numpy scalar", "array", "list"] + ["junk"] * junk
    kind = draw(st.sampled_from(kinds))
    if kind == "tensor":
        return draw(tensor_args(shape))
    if kind == "int":
        value = draw(st.integers(-3, 3) | st.sampled_from([255, 300, -129, 2**40, 2**70, -2**70]))
    elif kind == "float":
        value = draw(st.floats(-3, 3) | st.sampled_from([math.inf, math.nan, 1e300]))
    elif kind == "bool":
        value = draw(st.booleans())
    elif kind == "numpy scalar":
        value = draw(arrays(shape=()))[()]
    elif kind == "junk":
        return Arg(draw(st.sampled_from(JUNK)), None)
    else:
        a = draw(arrays(shape))
        return Arg(a, a, a.shape) if kind == "array" else _list_arg(a)
    return Arg(value, value)


def _list_arg(a):
    """An array as nested lists; its shape is what the lists show (an empty list loses its other axes;
    a 0-d array becomes a Python number, which has none)."""
    return Arg(a.tolist(), a.tolist(), np.shape(a.tolist()) if a.ndim else None)


def _with_ref(arg):
    """What the reference gets: junk as itself, a list as the array it makes (as the library takes it;
    numpy's np.dot reads an empty list in the other operand's dtype)."""
    if arg.ref is None:
        return arg.ours
    return np.array(arg.ref) if isinstance(arg.ref, list) else arg.ref


def _leaves(*args):
    return [a.leaf for a in args if a.leaf is not None]


def _shapes(*args):
    return [a.shape for a in args if a.shape is not None]


def _junk(*args):
    return any(a.ref is None for a in args)


# ---- the ops -----------------------------------------------------------------------------------

BINARY = {"add": (tl.add, np.add, operator.add), "sub": (tl.sub, np.subtract, operator.sub),
          "mul": (tl.mul, np.multiply, operator.mul), "div": (tl.div, np.divide, operator.truediv),
          "pow": (tl.pow, operator.pow, operator.pow),  # numpy's a ** 2 (a square) and np.power differ for bools
          "maximum": (tl.maximum, np.maximum, None),
          "minimum": (tl.minimum, np.minimum, None), "matmul": (tl.matmul, np.matmul, operator.matmul),
          "dot": (tl.dot, np.dot, None)}


@st.composite
def binary_calls(draw, name):
    function, reference, operator_fn = BINARY[name]
    left = draw(shapes())
    a = draw(operands(left))
    b = draw(operands(draw(related_shapes(left)) if name not in ("matmul", "dot") else draw(_matmul_partner(left))))
    if not a.is_tensor and not b.is_tensor:
        a = draw(tensor_args(left))
    spelling = draw(st.sampled_from(["function", "operator", "method"]))
    if spelling == "operator" and operator_fn is not None:
        ours = lambda: operator_fn(a.ours, b.ours)  # noqa: E731 - reflected when only b is a Tensor
    elif spelling == "method" and a.is_tensor:
        ours = lambda: getattr(a.ours, name)(b.ours)  # noqa: E731
    else:
        ours = lambda: function(a.ours, b.ours)  # noqa: E731
    # numpy's dot multiplies 0-d operands and sums over the last axis of stacks; the library's dot is
    # a matmul of 1-D and 2-D operands (tinygrad's; torch's takes 1-D only)
    stricter = _junk(a, b) or (name == "dot" and not (0 < np.ndim(_with_ref(a)) <= 2 and 0 < np.ndim(_with_ref(b)) <= 2))
    return Call(name, ours, lambda: reference(_with_ref(a), _with_ref(b)), _shapes(a, b), _leaves(a, b), stricter)


@st.composite
def _matmul_partner(draw, shape):
    """A shape that matmuls with ``shape`` (batch axes broadcast, inner sizes agree) or a near miss."""
    if len(shape) == 0 or draw(st.integers(0, 4)) == 0:
        return draw(shapes())
    inner = shape[-1]
    if draw(st.booleans()):
        return (inner,)
    batch = draw(related_shapes(shape[:-2]))
    return batch + (inner if draw(st.integers(0, 5)) else inner + 1, draw(st.integers(0, 3)))


def _sigmoid(a):
    a = np.asarray(a)
    if a.dtype == object:
        raise TypeError("numpy's exp of a Python object")
    return (1 / (1 + np.exp(-a.astype(np.float64)))).astype(a.dtype if a.dtype.kind == "f" else np.float64)


UNARY = {"neg": (np.negative, operator.neg), "exp": (np.exp, None), "log": (np.log, None),
         "sqrt": (np.sqrt, None), "abs": (np.abs, abs), "sigmoid": (_sigmoid, None), "tanh": (np.tanh, None),
         "relu": (lambda a: np.maximum(a, 0), None), "square": (lambda a: np.multiply(a, a), None)}


@st.composite
def unary_calls(draw, name):
    reference, operator_fn = UNARY[name]
    x = draw(tensor_args()) if draw(st.integers(0, 5)) else draw(operands(draw(shapes())))
    spelling = draw(st.sampled_from(["function", "method", "operator"]))
    if spelling == "operator" and operator_fn is not None and x.is_tensor:
        ours = lambda: operator_fn(x.ours)  # noqa: E731
    elif spelling == "method" and x.is_tensor:
        ours = lambda: getattr(x.ours, name)()  # noqa: E731
    else:
        ours = lambda: getattr(tl, name)(x.ours)  # noqa: E731
    tolerance = 1e-2 if name in ("log", "sqrt", "tanh", "exp") and np.asarray(_with_ref(x)).dtype == np.float16 else None
    return Call(name, ours, lambda: reference(_with_ref(x)), _shapes(x), _leaves(x), _junk(x), tolerance)


@st.composite
def clip_calls(draw):
    x = draw(tensor_args())
    bound = st.none() | st.integers(-3, 3) | st.floats(-3, 3) | st.sampled_from([math.nan, 300, -1, 2**70, "a", 1j])
    lo, hi = draw(bound), draw(bound)
    name = draw(st.sampled_from(["clip", "clamp"]))
    ours = (lambda: getattr(x.ours, name)(lo, hi)) if draw(st.booleans()) else (lambda: getattr(tl, name)(x.ours, lo, hi))
    # numpy clips by nothing when both bounds are None (torch refuses), by complex numbers, and
    # an integer tensor by some ints beyond its dtype (by 300 from above, not from below)
    # (the library wants an int bound to fit the dtype of a bool or integer tensor, int64 for bools)
    ints = np.int64 if x.ref.dtype == bool else x.ref.dtype
    stricter = isinstance(lo, complex) or isinstance(hi, complex) or lo is hi is None or any(
        type(b) is int and x.ref.dtype.kind in "biu" and not _fits(b, ints) for b in (lo, hi))
    return Call("clip", ours, lambda: np.clip(x.ref, lo, hi), _shapes(x), _leaves(x), stricter)


@st.composite
def astype_calls(draw):
    x = draw(tensor_args())
    spec = draw(st.sampled_from([*DTYPES, "float32", "int64", "foo", np.complex128, object, "U3", None, float, int]))
    name = draw(st.sampled_from(["astype", "float", "double"]))
    if name == "astype":
        ours, ref = (lambda: x.ours.astype(spec)), (lambda: x.ref.astype(spec))
    else:
        dtype = np.float32 if name == "float" else np.float64
        ours, ref = (lambda: getattr(x.ours, name)()), (lambda: x.ref.astype(dtype))
    target = np.dtype(spec).kind if name == "astype" and spec not in ("foo",) else "f"
    stricter = target not in "biuf" or (x.leaf is not None and target != "f")  # no complex, object, str; no int with grad
    return Call("astype", ours, ref, _shapes(x), _leaves(x), stricter)


def _fits(value, dtype):
    info = np.iinfo(dtype)
    return info.min <= value <= info.max


def axes(ndim, several=True):
    one = st.integers(-ndim - 1, ndim)
    odd = st.sampled_from([1.0, True, "0"])
    several = st.lists(one, max_size=3).map(tuple) if several else st.nothing()
    return st.none() | one | several | odd


def _axis_of_a_scalar(axis, ndim):
    """The axis numpy gets: the library follows torch, where a 0-d tensor has axis 0 (and -1) for
    every reduction; numpy has it only for some (sum, max, squeeze, not mean) and not in a tuple."""
    one = axis[0] if isinstance(axis, tuple) and len(axis) == 1 else axis
    return None if ndim == 0 and type(one) is int and one in (0, -1) else axis


def _logsumexp(a, axis=None, keepdims=False):
    a = np.asarray(a)
    if a.dtype == bool:
        raise TypeError("the library refuses bools")
    out = np.log(np.sum(np.exp(a.astype(np.float64)), axis=axis, keepdims=keepdims))
    return out.astype(_exp_dtype(a))


def _softmax(a, axis, log=False):
    a = np.asarray(a)
    if a.dtype == bool:
        raise TypeError("the library refuses bools")
    x = a.astype(np.float64)
    total = np.sum(np.exp(x), axis=axis, keepdims=True)
    out = x - np.log(total) if log else np.exp(x) / total
    return out.astype(_exp_dtype(a))


def _exp_dtype(a):
    """The dtype numpy's exp gives (float16 for bytes and bools, float64 for wider ints)."""
    return np.exp(np.zeros(0, a.dtype)).dtype


REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "logsumexp": _logsumexp}


@st.composite
def reduction_calls(draw, name):
    x = draw(tensor_args())
    axis = draw(axes(x.ref.ndim))
    keepdims = draw(st.sampled_from([False, True, 1, "yes"]))
    if draw(st.booleans()):
        ours = lambda: getattr(x.ours, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    else:
        ours = lambda: getattr(tl, name)(x.ours, axis, keepdims)  # noqa: E731
    reference, ref_axis = REDUCTIONS[name], _axis_of_a_scalar(axis, x.ref.ndim)
    stricter = name == "logsumexp" and x.ref.size == 0  # torch's -inf; the library refuses
    return Call(name, ours, lambda: reference(x.ref, axis=ref_axis, keepdims=keepdims), _shapes(x), _leaves(x),
                stricter, tolerance=1e-2 if x.ref.dtype == np.float16 else None)


@st.composite
def softmax_calls(draw, name):
    x = draw(tensor_args(masked=True))  # -inf masks an entry out; +inf and NaN make any reference's NaNs differ
    axis = draw(axes(x.ref.ndim))
    ours = (lambda: getattr(x.ours, name)(axis)) if draw(st.booleans()) else (lambda: getattr(tl, name)(x.ours, axis))
    stricter = axis is None or isinstance(axis, tuple)  # one axis, as torch; numpy's sum takes several
    ref_axis = _axis_of_a_scalar(axis, x.ref.ndim)
    return Call(name, ours, lambda: _softmax(x.ref, ref_axis, log=name == "log_softmax"), _shapes(x), _leaves(x),
                stricter, tolerance=1e-2 if x.ref.dtype == np.float16 else None)


@st.composite
def argmax_calls(draw, name):
    x = draw(tensor_args())
    axis = draw(axes(x.ref.ndim))
    ours = (lambda: getattr(x.ours, name)(axis)) if draw(st.booleans()) else (lambda: getattr(tl, name)(x.ours, axis))
    ref_axis = axis if isinstance(axis, tuple) else _axis_of_a_scalar(axis, x.ref.ndim)
    return Call(name, ours, lambda: getattr(np, name)(x.ref, axis=ref_axis), _shapes(x), _leaves(x))


# ---- shapes, indexing and pieces ---------------------------------------------------------------


@st.composite
def target_shapes(draw, size):
    """A shape for ``size`` elements (perhaps with one -1), or a wrong or malformed one."""
    kind = draw(st.sampled_from(["fits", "fits", "any", "odd"]))
    if kind == "odd":
        return draw(st.sampled_from([(1.5,), (True,), (None,), ("2",), (-2, -2), (-1, -1)]))
    if kind == "any":
        return tuple(draw(st.lists(st.integers(-2, 4), max_size=3)))
    sides, rest = [], size
    for _ in range(draw(st.integers(0, 3))):
        side = draw(st.sampled_from([d for d in range(1, 5) if rest % d == 0] or [1]))
        sides.append(side)
        rest //= side
    sides.append(rest)
    if draw(st.booleans()):
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    return tuple(draw(st.permutations(sides)))


@st.composite
def reshape_calls(draw):
    x = draw(tensor_args())
    shape = draw(target_shapes(x.ref.size))
    spelling = draw(st.sampled_from(["unpacked", "tuple", "function", "view", "flatten"]))
    if spelling == "flatten":
        return Call("reshape", lambda: x.ours.flatten(), lambda: x.ref.reshape(-1), _shapes(x), _leaves(x))
    ours = {"unpacked": lambda: x.ours.reshape(*shape), "tuple": lambda: x.ours.reshape(shape),
            "function": lambda: tl.reshape(x.ours, shape), "view": lambda: x.ours.view(shape)}[spelling]
    # numpy takes any negative size as the one to infer; the library only -1, as torch
    stricter = any(type(n) is int and n < -1 for n in shape)
    return Call("reshape", ours, lambda: np.reshape(x.ref, shape), _shapes(x), _leaves(x), stricter)


@st.composite
def axis_op_calls(draw, name):
    """squeeze, unsqueeze, transpose, swapaxes: the axes drawn in and out of range."""
    x = draw(tensor_args())
    ndim = x.ref.ndim
    if name == "squeeze":
        axis = draw(axes(ndim))
        ref_axis = _axis_of_a_scalar(axis, ndim)
        return Call(name, lambda: x.ours.squeeze(axis), lambda: np.squeeze(x.ref, ref_axis), _shapes(x), _leaves(x))
    if name == "unsqueeze":
        axis = draw(st.integers(-ndim - 2, ndim + 1) | st.sampled_from([1.0, None]))
        return Call(name, lambda: x.ours.unsqueeze(axis), lambda: np.expand_dims(x.ref, axis), _shapes(x), _leaves(x))
    if name == "swapaxes":
        a, b = draw(st.integers(-ndim - 1, ndim)), draw(st.integers(-ndim - 1, ndim))
        return Call(name, lambda: x.ours.swapaxes(a, b), lambda: np.swapaxes(x.ref, a, b), _shapes(x), _leaves(x))
    perm = draw(st.permutations(range(ndim)).map(tuple) | st.lists(st.integers(-ndim - 1, ndim), max_size=4).map(tuple)
                | st.none())
    if perm is None and draw(st.booleans()):
        return Call(name, lambda: x.ours.T, lambda: x.ref.T, _shapes(x), _leaves(x))
    ours = (lambda: x.ours.permute(perm)) if draw(st.booleans()) else (lambda: tl.transpose(x.ours, perm))
    return Call(name, ours, lambda: np.transpose(x.ref, perm), _shapes(x), _leaves(x))


@st.composite
def broadcast_to_calls(draw):
    x = draw(tensor_args())
    shape = draw(related_shapes(x.ref.shape) | st.integers(-1, 3) | st.sampled_from([(-1,), (2.0,), None, "3"]))
    if isinstance(shape, tuple) and len(shape) < x.ref.ndim and draw(st.booleans()):
        shape = draw(shapes(max_dims=1)) + x.ref.shape  # a longer target
    ours = (lambda: x.ours.expand(shape)) if draw(st.booleans()) else (lambda: tl.broadcast_to(x.ours, shape))
    return Call("broadcast_to", ours, lambda: np.broadcast_to(x.ref, shape), _shapes(x), _leaves(x))


@st.composite
def index_parts(draw, shape, axis):
    """One part of an index for axis ``axis`` of ``shape`` (sometimes a misfit), and numpy's spelling of it."""
    n = shape[axis] if axis < len(shape) else 2
    kind = draw(st.sampled_from(["int"] * 3 + ["slice"] * 3 + ["None", "Ellipsis", "bool", "ints", "mask", "junk"]))
    if kind == "int":
        part = draw(st.integers(-n - 1, n))
        part = np.int64(part) if draw(st.integers(0, 4)) == 0 else part
    elif kind == "slice":
        bound = st.none() | st.integers(-n - 1, n + 1)
        part = slice(draw(bound), draw(bound), draw(st.none() | st.sampled_from([-2, -1, 0, 1, 2])))
        if draw(st.integers(0, 9)) == 0:
            part = slice(0.5, None)
    elif kind in ("None", "Ellipsis"):
        part = None if kind == "None" else Ellipsis
    elif kind == "bool":
        part = draw(st.booleans())
    elif kind == "ints":
        values = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2)), elements=st.integers(-n - 1, n)))
        form = draw(st.sampled_from(["array", "list", "tensor"]))
        ours = {"array": values, "list": values.tolist(), "tensor": Tensor(values)}[form]
        return ours, values if form != "list" else values.tolist()
    elif kind == "mask":
        mask_shape = shape[axis:axis + draw(st.integers(1, 2))] if draw(st.integers(0, 3)) else draw(shapes(max_dims=2))
        mask = draw(hnp.arrays(bool, mask_shape))
        return (Tensor(mask) if draw(st.booleans()) else mask), mask
    else:
        part = draw(st.sampled_from([1.5, "a", np.float64(0), [0.5], [[0], [1, 2]]]))
    return part, part


@st.composite
def getitem_calls(draw):
    x = draw(tensor_args())
    parts = [draw(index_parts(x.ref.shape, axis)) for axis in range(draw(st.integers(1, 4)))]
    if len(parts) == 1 and draw(st.booleans()):
        ours, ref = parts[0]
    else:
        ours, ref = tuple(p[0] for p in parts), tuple(p[1] for p in parts)
    # numpy takes an empty boolean mask against any axis; the library wants the axis's shape, as torch
    stricter = any(isinstance(p, np.ndarray) and p.dtype == bool and p.size == 0 for p in (
        ref if isinstance(ref, tuple) else (ref,)))
    return Call("getitem", lambda: x.ours[ours], lambda: x.ref[ref], _shapes(x), _leaves(x), stricter)


@st.composite
def split_calls(draw, name):
    x = draw(tensor_args())
    axis = draw(st.integers(-x.ref.ndim - 1, x.ref.ndim) | st.sampled_from([None, 1.0]))
    if name == "unbind":
        return Call(name, lambda: x.ours.unbind(axis), lambda: tuple(np.moveaxis(x.ref, axis, 0)), _shapes(x),
                    _leaves(x))
    if name == "chunk":
        chunks = draw(st.integers(-1, 5) | st.sampled_from([2.0, "2", True]))
        return Call(name, lambda: x.ours.chunk(chunks, axis), lambda: torch.chunk(torch.from_numpy(x.ref), chunks, axis),
                    _shapes(x), _leaves(x), stricter=chunks is True)
    sections = draw(st.integers(-1, 4) | st.lists(st.integers(-4, 6), max_size=3) | st.sampled_from([2.0, "2", None]))
    ours = (lambda: x.ours.split(sections, axis)) if draw(st.booleans()) else (lambda: tl.split(x.ours, sections, axis))
    return Call(name, ours, lambda: tuple(np.split(x.ref, sections, axis)), _shapes(x), _leaves(x),
                stricter=isinstance(sections, float))


@st.composite
def join_calls(draw, name):
    """stack, concatenate/cat: one to three operands, shapes alike or not, mixed dtypes."""
    first = draw(shapes())
    count = draw(st.integers(0, 3))
    pieces = [draw(operands(draw(related_shapes(first)) if draw(st.booleans()) else first, junk=False))
              for _ in range(count)]
    axis = draw(st.integers(-len(first) - 2, len(first) + 1) | st.sampled_from([None, 1.0]))
    as_tuple = draw(st.booleans())
    ours_list = tuple(p.ours for p in pieces) if as_tuple else [p.ours for p in pieces]
    ref_list = [p.ref for p in pieces]
    if draw(st.integers(0, 9)) == 0:
        ours_list = ref_list = 3  # not a list at all
        pieces = []
    function = {"stack": tl.stack, "concatenate": draw(st.sampled_from([tl.concatenate, tl.cat]))}[name]
    reference = {"stack": np.stack, "concatenate": np.concatenate}[name]
    # numpy joins along axis=None by flattening; the library takes an int axis only
    return Call(name, lambda: function(ours_list, axis), lambda: reference(ref_list, axis=axis), _shapes(*pieces),
                _leaves(*pieces), stricter=axis is None)


@st.composite
def where_calls(draw):
    shape = draw(shapes())
    kind = draw(st.sampled_from(["mask", "tensor", "ints", "list", "junk"]))
    mask = draw(hnp.arrays(bool, draw(related_shapes(shape))))
    cond = {"mask": Arg(mask, mask, mask.shape), "tensor": Arg(Tensor(mask), mask, mask.shape),
            "ints": Arg(mask.astype(int), mask.astype(int), mask.shape), "list": _list_arg(mask),
            "junk": Arg("a", None)}[kind]
    x = draw(operands(shape, junk=False))
    y = draw(operands(draw(related_shapes(shape)), junk=draw(st.integers(0, 5)) == 0))
    # numpy's where wraps an int that does not fit an integer dtype beside it (300 beside uint8)
    wraps = any(type(n.ours) is int and type(t.ref) not in (int, float, bool) and np.asarray(t.ref).dtype.kind in "iu"
                and not _fits(n.ours, np.asarray(t.ref).dtype) for n, t in ((x, y), (y, x)))
    return Call("where", lambda: tl.where(cond.ours, x.ours, y.ours),
                lambda: np.where(_with_ref(cond), _with_ref(x), _with_ref(y)),
                _shapes(cond, x, y), _leaves(x, y), stricter=_junk(cond, y) or wraps)


COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
               "ge": operator.ge}


@st.composite
def comparison_calls(draw, name):
    compare = COMPARISONS[name]
    a = draw(tensor_args())
    b = draw(operands(draw(related_shapes(a.ref.shape))))
    # numpy answers `array == None` elementwise; the library refuses what is not a number or an array
    return Call(name, lambda: compare(a.ours, b.ours), lambda: compare(a.ref, _with_ref(b)), _shapes(a, b),
                stricter=_junk(b))


def _one_element(convert):
    """torch's rule for float() and int(): a tensor of one element, of any shape (numpy 2 takes 0-d only)."""
    return lambda a: convert(a.reshape(()) if a.size == 1 else a)


CONVERSIONS = {"item": (lambda t: t.item(), lambda a: a.item()), "float": (float, _one_element(float)),
               "int": (int, _one_element(int)), "bool": (bool, bool), "len": (len, len), "tolist": (lambda t: t.tolist(), lambda a: a.tolist()),
               "numel": (lambda t: t.numel(), lambda a: a.size), "iter": (list, list)}


@st.composite
def conversion_calls(draw):
    name = draw(st.sampled_from(sorted(CONVERSIONS)))
    ours, ref = CONVERSIONS[name]
    x = draw(tensor_args(shape=draw(shapes(max_dims=2))))
    # iter gives tensors (compared as such, and differentiable); the others Python values
    return Call(name, lambda: ours(x.ours), lambda: ref(x.ref), _shapes(x), _leaves(x) if name == "iter" else [],
                python=name != "iter")


# ---- layers, losses, optimisers (compared with torch) ------------------------------------------


def _torch(array):
    return torch.from_numpy(np.array(array, dtype=np.float64))


@st.composite
def layer_inputs(draw, shape, dtypes=(np.float32, np.float64, np.int64, bool)):
    """A layer's input: mostly a Tensor of ``shape``, else an array, a list, a ragged list or junk."""
    kind = draw(st.sampled_from(["tensor"] * 5 + ["array", "list", "ragged", "junk"]))
    if kind == "junk":
        return Arg(draw(st.sampled_from(JUNK)), None)
    if kind == "ragged":
        return Arg([[1.0, 2.0], [3.0]], None)
    if kind == "tensor":
        return draw(tensor_args(shape, draw(st.sampled_from(dtypes))))
    a = draw(arrays(shape, draw(st.sampled_from(dtypes))))
    return Arg(a, a, a.shape) if kind == "array" else _list_arg(a)


def _float64_input(arg):
    """The input as torch gets it (float64), or the reference's refusal of junk and ragged lists."""
    if arg.ref is None:
        raise TypeError("not a numeric array")
    return _torch(arg.ref)


@st.composite
def linear_calls(draw):
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    layer = nn.Linear(n_in, n_out, bias=draw(st.booleans()), dtype=dtype, rng=0)
    good = draw(shapes(max_dims=2)) + (n_in,)
    x = draw(layer_inputs(draw(st.sampled_from([good, good, (n_in + 1,), ()])) if draw(st.integers(0, 3)) else
                          draw(shapes())))
    weight, bias = _torch(layer.weight.data), None if layer.bias is None else _torch(layer.bias.data)

    def reference():
        out = torch.nn.functional.linear(_float64_input(x), weight, bias)
        return out.numpy().astype(np.result_type(np.asarray(x.ref).dtype, dtype))
    return Call("Linear", lambda: layer(x.ours), reference, _shapes(x), _leaves(x) + list(layer.parameters()),
                tolerance=1e-5)


@st.composite
def embedding_calls(draw):
    count, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    layer = nn.Embedding(count, dim, dtype=draw(st.sampled_from([np.float32, np.float64])), rng=0)
    values = draw(index_arrays(draw(shapes(max_dims=2)), count))
    form = draw(st.sampled_from(["array", "tensor", "list", "ragged", "junk"]))
    indices = {"array": Arg(values, values, values.shape), "tensor": Arg(Tensor(values), values, values.shape),
               "list": _list_arg(values), "ragged": Arg([[0], [0, 1]], None),
               "junk": Arg(draw(st.sampled_from(JUNK)), None)}[form]

    def reference():  # torch's rule: integer indices in [0, count)
        if indices.ref is None:
            raise TypeError("not an array of indices")
        idx = np.asarray(indices.ref)
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= count)):
            raise IndexError("indices")
        return layer.weight.data[idx]
    return Call("Embedding", lambda: layer(indices.ours), reference, _shapes(indices), list(layer.parameters()))


@st.composite
def index_arrays(draw, shape, count):
    """Class or row indices in [-1, count] (one past each end), as ints, or as floats and bools."""
    dtype = np.dtype(draw(st.sampled_from([np.int64, np.int64, np.int32, np.uint8, np.float64, bool])))
    low = 0 if dtype.kind in "ub" else -1
    return draw(hnp.arrays(dtype, shape, elements=st.integers(low, 1 if dtype.kind == "b" else count)))


def _load_into_torch(ours, theirs):
    theirs = theirs.double()  # first: loading into float32 parameters would round our float64 weights
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in ours.state_dict().items()})
    return theirs


@st.composite
def recurrent_calls(draw, kind):
    """RNN, LSTM, GRU: inputs and initial states of the right shape, or of a wrong one."""
    n_in, hidden, layers = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    options = dict(num_layers=layers, bias=draw(st.booleans()), batch_first=draw(st.booleans()))
    if kind == "RNN":
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    ours_layer = getattr(nn, kind)(n_in, hidden, dtype=np.float64, rng=draw(st.integers(0, 99)), **options)
    theirs_layer = _load_into_torch(ours_layer, getattr(torch.nn, kind)(n_in, hidden, **options))
    T, B = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    good = (B, T, n_in) if options["batch_first"] else (T, B, n_in)
    shape = draw(st.sampled_from([good] * 4 + [(T, n_in), good[:2] + (n_in + 1,), (0,) + good[1:]]))
    x = draw(layer_inputs(shape if draw(st.integers(0, 5)) else draw(shapes()), (np.float64, np.float32, np.int64)))
    state_shape = draw(st.sampled_from([(layers, B, hidden)] * 3 + [(B, hidden), (layers + 1, B, hidden)]))
    states = [draw(tensor_args(state_shape, np.float64)) for _ in range(2 if kind == "LSTM" else 1)]
    form = draw(st.sampled_from(["none", "given", "given", "bad"]))
    if form == "none":
        ours_state = theirs_state = None
    elif form == "bad":
        ours_state, theirs_state = states[0].ours, states[0].ref  # an LSTM needs a pair
        if kind != "LSTM":
            ours_state, theirs_state = "h", None
    elif kind == "LSTM":
        ours_state, theirs_state = (states[0].ours, states[1].ours), tuple(_torch(s.ref) for s in states)
    else:
        ours_state, theirs_state = states[0].ours, _torch(states[0].ref)
    if kind == "LSTM" and form == "bad":
        theirs_state = _torch(states[0].ref)

    def reference():
        if form == "bad" and kind != "LSTM":
            raise TypeError("junk state")
        out, state = theirs_layer(_float64_input(x), theirs_state)
        return out, state
    given_states = states if form == "given" else []
    # torch also takes an unbatched (T, I) input, and an empty sequence or batch
    stricter = len(np.shape(x.ref)) == 2 or 0 in np.shape(x.ref)
    fits = len(np.shape(x.ref)) == 3 and np.shape(x.ref)[2] == n_in and 0 not in np.shape(x.ref)
    return Call(kind, lambda: ours_layer(x.ours, ours_state), reference, _at_fault(x, fits, given_states),
                _leaves(x, *given_states) + list(ours_layer.parameters()), stricter, tolerance=1e-8)


def _at_fault(x, fits, states):
    """The shapes a layer's error must name: the input's, or when the input fits, the states'.

    (A layer checks its input first; the state's message then names the shape it expected,
    which holds the input's batch size.)"""
    return _shapes(*states) if fits and x.ref is not None else _shapes(x)


@st.composite
def cell_calls(draw, kind):
    n_in, hidden, B = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    ours_cell = getattr(nn, kind)(n_in, hidden, bias=draw(st.booleans()), dtype=np.float64, rng=draw(st.integers(0, 99)))
    theirs_cell = _load_into_torch(ours_cell, getattr(torch.nn, kind)(n_in, hidden, bias=ours_cell.bias))
    shape = draw(st.sampled_from([(B, n_in)] * 3 + [(n_in,), (B, n_in + 1), (B, 1, n_in)]))
    x = draw(layer_inputs(shape, (np.float64, np.float32)))
    state_shape = draw(st.sampled_from([(B, hidden)] * 3 + [(hidden,), (B, hidden + 1)]))
    states = [draw(tensor_args(state_shape, np.float64)) for _ in range(2 if kind == "LSTMCell" else 1)]
    given = draw(st.booleans())
    if not given:
        ours_state = theirs_state = None
    elif kind == "LSTMCell":
        ours_state, theirs_state = (states[0].ours, states[1].ours), tuple(_torch(s.ref) for s in states)
    else:
        ours_state, theirs_state = states[0].ours, _torch(states[0].ref)
    given_states = states if given else []

    def reference():
        batched = len(np.shape(x.ref)) == 2
        expected = (np.shape(x.ref)[0], hidden) if batched else (hidden,)
        if any(s.ref.shape != expected for s in given_states):
            raise ValueError("state shape")  # torch refuses, or (LSTMCell, 1-D state) crashes the process
        return theirs_cell(_float64_input(x), theirs_state)
    return Call(kind, lambda: ours_cell(x.ours, ours_state), reference,
                _at_fault(x, len(np.shape(x.ref)) == 2 and np.shape(x.ref)[1] == n_in, given_states), _leaves(x, *given_states) + list(ours_cell.parameters()),
                stricter=len(np.shape(x.ref)) == 1, tolerance=1e-8)


REDUCTION_NAMES = st.sampled_from(["mean", "mean", "sum", "none", "avg", None])


@st.composite
def loss_calls(draw, name):
    shape = draw(shapes())
    x = draw(tensor_args(shape, draw(st.sampled_from([np.float32, np.float64, np.float64, np.int64])), finite=True))
    target = draw(layer_inputs(draw(related_shapes(shape)), (np.float64, np.float32, np.int64)))
    reduction = draw(REDUCTION_NAMES)
    function = {"mse_loss": nn.functional.mse_loss,
                "binary_cross_entropy_with_logits": nn.functional.binary_cross_entropy_with_logits}[name]

    def reference():
        out = getattr(torch.nn.functional, name)(_torch(x.ref), _float64_input(target), reduction=reduction)
        dtype = np.result_type(x.ref.dtype, target.ours.dtype) if target.is_tensor else x.ref.dtype
        return out.numpy().astype(dtype)
    # the library refuses integer inputs (no gradient to train with) and a target that only broadcasts
    stricter = x.ref.dtype.kind != "f" or np.shape(target.ref) != shape
    return Call(name, lambda: function(x.ours, target.ours, reduction), reference, _shapes(x, target), _leaves(x),
                stricter, tolerance=1e-5)


@st.composite
def cross_entropy_calls(draw):
    classes, n = draw(st.integers(1, 4)), draw(st.integers(0, 3))
    shape = draw(st.sampled_from([(n, classes)] * 3 + [(classes,), (n, classes, 2), ()]))
    logits = draw(tensor_args(shape, draw(st.sampled_from([np.float32, np.float64, np.float64, np.int64]))))
    target_shape = draw(st.sampled_from([shape[:-1]] * 3 + [shape, (n + 1,)])) if shape else ()
    values = draw(index_arrays(target_shape, classes))
    target = draw(st.sampled_from([Arg(values, values, values.shape), Arg(Tensor(values), values, values.shape),
                                   _list_arg(values), Arg("a", None)]))
    reduction = draw(REDUCTION_NAMES)

    def reference():
        t = np.asarray(_with_ref(target))
        t = torch.from_numpy(t.astype(np.int64)) if t.dtype.kind in "iu" else torch.from_numpy(t)
        out = torch.nn.functional.cross_entropy(_torch(logits.ref), t, reduction=reduction)
        return out.numpy().astype(logits.ref.dtype)
    # torch also reads float targets as class probabilities, takes logits (N, C, d1, ...) and a
    # target (1,) beside logits (C,)
    stricter = (logits.ref.dtype.kind != "f" or np.asarray(_with_ref(target)).dtype.kind == "f"
                or len(shape) > 2 or np.shape(_with_ref(target)) != shape[:-1])
    return Call("cross_entropy", lambda: nn.functional.cross_entropy(logits.ours, target.ours, reduction), reference,
                _shapes(logits, target), _leaves(logits), stricter, tolerance=1e-5)


HYPER = st.sampled_from([0.0, 1e-3, 0.1, 0.5, np.float32(0.01), -0.1, math.nan, math.inf, "0.1", None, True])


def _odd_number(value):
    """A value torch takes as a hyperparameter but the library refuses: inf, or a bool."""
    return isinstance(value, bool) or (isinstance(value, float) and math.isinf(value))


@st.composite
def parameter_lists(draw, dtype):
    """(ours, torch's, grads): 1-2 parameters and their gradients (None for some), or a bad list."""
    shapes_ = [draw(shapes(min_dims=1, max_dims=2)) for _ in range(draw(st.integers(1, 2)))]
    arrays_ = [draw(arrays(s, dtype)) for s in shapes_]
    grads = [None if draw(st.integers(0, 4)) == 0 else draw(arrays(s, dtype)) for s in shapes_]
    ours = [Tensor(a, requires_grad=True) for a in arrays_]
    bad = draw(st.sampled_from([None] * 6 + ["empty", "not a tensor", "no grad", "twice"]))
    if bad == "empty":
        ours = []
    elif bad == "not a tensor":
        ours = ours + [arrays_[0]]
    elif bad == "no grad":
        ours = ours + [Tensor(np.ones(2, dtype))]
    elif bad == "twice":
        ours = ours + [ours[0]]
    return ours, bad, arrays_, grads


@st.composite
def optimizer_calls(draw, name):
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    params, bad, arrays_, grads = draw(parameter_lists(dtype))
    if name == "SGD":
        options = dict(lr=draw(HYPER), momentum=draw(st.sampled_from([0.0, 0.9, -0.5, math.nan])),
                       dampening=draw(st.sampled_from([0.0, 0.1, -1.0])),
                       weight_decay=draw(st.sampled_from([0.0, 0.01, -0.1])), nesterov=draw(st.booleans()))
    else:
        options = dict(lr=draw(HYPER), betas=draw(st.sampled_from([(0.9, 0.999), [0.5, 0.9], (1.0, 0.9), (0.9,), "ab",
                                                                   (-0.1, 0.9), (0.9, math.nan)])),
                       eps=draw(st.sampled_from([1e-8, 0.0, -1.0, math.nan])),
                       weight_decay=draw(st.sampled_from([0.0, 0.01, -0.1])))

    def ours():
        optimizer = getattr(nn.optim, name)(params, **options)
        for _ in range(2):
            for p, g in zip(params, grads):
                p.grad = None if g is None else Tensor(g)
            optimizer.step()
        return tuple(Tensor(p.data) for p in params)

    def reference():
        if bad == "not a tensor":
            raise TypeError("not a tensor")
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays_]
        listed = {"empty": [], "no grad": theirs + [torch.ones(2, dtype=theirs[0].dtype)],
                  "twice": theirs + [theirs[0]]}.get(bad, theirs)
        optimizer = getattr(torch.optim, name)(listed, **options)
        for _ in range(2):
            for p, g in zip(theirs, grads):
                p.grad = None if g is None else torch.from_numpy(g.copy())
            optimizer.step()
        return tuple(p.detach().numpy() for p in theirs)
    # torch takes inf and bools as hyperparameters, a tensor without grad and a repeated one
    stricter = any(_odd_number(v) for v in options.values() if not isinstance(v, (tuple, list))) or \
        bad in ("no grad", "twice") or any(_odd_number(b) for b in options.get("betas", ()))
    return Call(name, ours, reference, [], stricter=stricter, tolerance=1e-4 if dtype == np.float32 else 1e-10)


@st.composite
def clip_grad_norm_calls(draw):
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    params, bad, arrays_, grads = draw(parameter_lists(dtype))
    if bad in ("no grad", "twice"):  # the optimisers' concerns; clip_grad_norm_ takes such lists
        params, bad = params[:len(arrays_)], None
    max_norm = draw(st.sampled_from([0.0, 0.5, 1.0, 10.0, math.inf, -1.0, math.nan, "1", None, True]))
    norm_type = draw(st.sampled_from([1.0, 2.0, 2, 3.0, math.inf, "inf", 0.5, -1.0, "2", None]))
    error_if_nonfinite = draw(st.booleans())

    def ours():
        for p, g in zip(params, grads):
            p.grad = None if g is None else Tensor(g)
        total = nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)
        return (Tensor(np.float64(total)), *[p.grad for p in params if isinstance(p, Tensor) and p.grad is not None])

    def reference():
        if bad == "not a tensor":
            raise TypeError("not a tensor")
        theirs = [] if bad == "empty" else [torch.tensor(a, requires_grad=True) for a in arrays_]
        for p, g in zip(theirs, grads):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        measured = theirs
        if norm_type in (math.inf, "inf"):  # torch has no max of an empty gradient; it adds nothing to the max
            measured = [p for p in theirs if p.grad is None or p.grad.numel()]
        total = torch.nn.utils.clip_grad_norm_(measured, max_norm, norm_type, error_if_nonfinite)
        return (total.double().numpy(), *[p.grad.numpy() for p in theirs if p.grad is not None])
    # torch flips the gradients for a negative max_norm, takes NaN, bools, p-norms below 1 and
    # numbers as strings ("2")
    stricter = (isinstance(max_norm, (bool, str)) or isinstance(norm_type, bool) or norm_type == "2"
                or (isinstance(max_norm, float) and not max_norm >= 0)
                or (isinstance(norm_type, float) and norm_type < 1))
    return Call("clip_grad_norm_", ours, reference, [], stricter=stricter, tolerance=1e-5,
                allowed=(RuntimeError,) if error_if_nonfinite else ())  # torch's error for a NaN or inf norm


LAYER_MAKERS = {"Linear": lambda n, m: nn.Linear(n, m), "Embedding": lambda n, m: nn.Embedding(n, m),
                "RNN": lambda n, m: nn.RNN(n, m), "LSTM": lambda n, m: nn.LSTM(n, m), "GRU": lambda n, m: nn.GRU(n, m),
                "RNNCell": lambda n, m: nn.RNNCell(n, m), "LSTMCell": lambda n, m: nn.LSTMCell(n, m),
                "GRUCell": lambda n, m: nn.GRUCell(n, m)}


@st.composite
def constructor_calls(draw):
    """Every layer's sizes: positive ints build, anything else is refused (torch also takes 0 for some)."""
    name = draw(st.sampled_from(sorted(LAYER_MAKERS)))
    size = st.sampled_from([1, 2, np.int64(2), 0, -1, 2.5, True, "3", None])
    n, m = draw(size), draw(size)

    def reference():
        if any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in (n, m)):
            raise ValueError("sizes must be positive ints")
        return "built"
    return Call(name, lambda: (LAYER_MAKERS[name](n, m), "built")[1], reference, python=True)


# ---- the tests ---------------------------------------------------------------------------------

OPS = {
    **{name: binary_calls(name) for name in BINARY},
    **{name: unary_calls(name) for name in UNARY},
    **{name: reduction_calls(name) for name in REDUCTIONS},
    **{name: softmax_calls(name) for name in ("softmax", "log_softmax")},
    **{name: argmax_calls(name) for name in ("argmax", "argmin")},
    **{name: axis_op_calls(name) for name in ("squeeze", "unsqueeze", "transpose", "swapaxes")},
    **{name: split_calls(name) for name in ("split", "unbind")},
    **{name: join_calls(name) for name in ("stack", "concatenate")},
    **{name: comparison_calls(name) for name in COMPARISONS},
    "clip": clip_calls(), "astype": astype_calls(), "reshape": reshape_calls(), "broadcast_to": broadcast_to_calls(),
    "getitem": getitem_calls(), "where": where_calls(), "conversions": conversion_calls(),
}
WITH_TORCH = {
    "chunk": split_calls("chunk"), "Linear": linear_calls(), "Embedding": embedding_calls(),
    **{kind: recurrent_calls(kind) for kind in ("RNN", "LSTM", "GRU")},
    **{kind: cell_calls(kind) for kind in ("RNNCell", "LSTMCell", "GRUCell")},
    **{name: loss_calls(name) for name in ("mse_loss", "binary_cross_entropy_with_logits")},
    "cross_entropy": cross_entropy_calls(), "SGD": optimizer_calls("SGD"), "Adam": optimizer_calls("Adam"),
    "clip_grad_norm_": clip_grad_norm_calls(), "constructors": constructor_calls(),
}


@pytest.mark.parametrize("name", sorted(OPS))
@FUZZ
@given(data=st.data())
def test_op(name, data):
    check(data.draw(OPS[name], label=name))


@pytest.fixture(scope="module")
def warm_torch():
    """torch's first optimiser step and recurrent layer take seconds (lazy set-up), past the deadline."""
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.Adam([p]).step()
    torch.nn.LSTM(1, 1)(torch.zeros(1, 1, 1))


@pytest.mark.skipif(torch is None, reason="the layers, losses and optimisers are compared with torch")
@pytest.mark.usefixtures("warm_torch")
@pytest.mark.parametrize("name", sorted(WITH_TORCH))
@FUZZ
@given(data=st.data())
def test_with_torch(name, data):
    check(data.draw(WITH_TORCH[name], label=name))


def test_every_public_op_is_fuzzed():
    """Each op of the surface (tinygrad_lite.surface.__all__) has a case; aliases go through their target."""
    aliases = {"clamp": "clip", "view": "reshape", "flatten": "reshape", "expand_dims": "unsqueeze",
               "permute": "transpose", "expand": "broadcast_to", "cat": "concatenate"}
    missing = {n for n in tl.surface.__all__ if aliases.get(n, n) not in OPS and aliases.get(n, n) not in WITH_TORCH}
    assert not missing, f"no fuzz case for {sorted(missing)}"


# ---- regressions: one example per hole the fuzzer found ----------------------------------------


def ones(*shape, dtype=np.float64):
    return np.ones(shape, dtype)


def T(*shape, dtype=np.float64, requires_grad=False):
    return Tensor(ones(*shape, dtype=dtype), requires_grad=requires_grad)


def refused():
    """The reference for a call whose answer is an error (torch's or the library's documented rule)."""
    raise ValueError("refused")


def torch_required(fn):
    return (lambda: fn()) if torch is not None else refused


U8 = np.uint8
REGRESSIONS = {
    # numpy's broadcast error was caught and re-raised as a ShapeError (its __context__ numpy's)
    "add (3,) (4,)": Call("add", lambda: T(3) + T(4), lambda: ones(3) + ones(4), [(3,), (4,)]),
    "matmul batch axes": Call("matmul", lambda: T(2, 3, 4) @ T(5, 4, 2), lambda: ones(2, 3, 4) @ ones(5, 4, 2),
                              [(2, 3, 4), (5, 4, 2)]),
    "reshape (3,) into 4": Call("reshape", lambda: T(3).reshape(4), lambda: ones(3).reshape(4), [(3,)]),
    "reshape two -1": Call("reshape", lambda: T(4).reshape(-1, -1), lambda: ones(4).reshape(-1, -1), [(4,)]),
    "broadcast_to (3,) to (1,)": Call("broadcast_to", lambda: T(3).broadcast_to((1,)),
                                      lambda: np.broadcast_to(ones(3), (1,)), [(3,)]),
    "concatenate ndim": Call("concatenate", lambda: tl.concatenate([T(2, 3), T(2)]),
                             lambda: np.concatenate([ones(2, 3), ones(2)]), [(2, 3), (2,)]),
    "where misfit": Call("where", lambda: tl.where(T(3) > 0, T(4), 0.0), lambda: np.where(ones(3) > 0, ones(4), 0.0),
                         [(3,), (4,)]),
    "getitem 5 of (3,)": Call("getitem", lambda: T(3)[5], lambda: ones(3)[5], [(3,)]),
    "getitem [5] of (3,)": Call("getitem", lambda: T(3)[[5]], lambda: ones(3)[[5]], [(3,)]),
    "getitem mask": Call("getitem", lambda: T(3)[np.array([True, False])], lambda: ones(3)[np.array([True, False])],
                         [(3,)]),
    "getitem too many": Call("getitem", lambda: T(3)[0, 0], lambda: ones(3)[0, 0], [(3,)]),
    "getitem two ellipses": Call("getitem", lambda: T(3)[..., ...], lambda: ones(3)[..., ...], [(3,)]),
    "getitem of a 0-d tensor": Call("getitem", lambda: T()[0], lambda: ones()[0], [()]),
    # numpy's or Python's own error came through
    "bool - bool": Call("sub", lambda: T(1, dtype=bool) - T(1, dtype=bool), lambda: ones(1, dtype=bool) - ones(1, dtype=bool),
                        [(1,)]),
    "-bool": Call("neg", lambda: -T(1, dtype=bool), lambda: -ones(1, dtype=bool), [(1,)]),
    "uint8 + 300": Call("add", lambda: T(2, dtype=U8) + 300, lambda: ones(2, dtype=U8) + 300, [(2,)]),
    "int8 + 2**70": Call("add", lambda: T(2, dtype=np.int8) + 2**70, lambda: ones(2, dtype=np.int8) + 2**70, [(2,)]),
    "ragged operand": Call("add", lambda: T(3) + [1, [2]], lambda: np.add(ones(3), np.array([1, [2]])), [(3,)]),
    "string operand": Call("add", lambda: T(3) + ["a"], lambda: ones(3) + np.array(["a"]), [(3,)]),
    "exp of strings": Call("exp", lambda: tl.exp(["a"]), lambda: np.exp(["a"]), [(1,)]),
    "== (3,) (4,)": Call("eq", lambda: T(3) == T(4), lambda: ones(3) == ones(4), [(3,), (4,)]),
    "< string": Call("lt", lambda: T(3) < "a", lambda: ones(3) < "a", [(3,)]),
    "reshape 1.5": Call("reshape", lambda: T(3).reshape(1.5), lambda: ones(3).reshape(1.5), [(3,)]),
    "getitem ::0": Call("getitem", lambda: T(3)[::0], lambda: ones(3)[::0], [(3,)]),
    "getitem 0.5:2": Call("getitem", lambda: T(3)[0.5:2], lambda: ones(3)[0.5:2], [(3,)]),
    "argmax axis 3": Call("argmax", lambda: T(2).argmax(axis=3), lambda: ones(2).argmax(axis=3), [(2,)]),
    "argmax of nothing": Call("argmax", lambda: T(0).argmax(), lambda: ones(0).argmax(), [(0,)]),
    "softmax of bools": Call("softmax", lambda: T(2, dtype=bool).softmax(), refused, [(2,)]),
    "logsumexp of bools": Call("logsumexp", lambda: T(2, dtype=bool).logsumexp(), refused, [(2,)]),
    "astype foo": Call("astype", lambda: T(3).astype("foo"), lambda: ones(3).astype("foo"), [(3,)]),
    "clip by a string": Call("clip", lambda: T(3).clip("a", 1.0), lambda: np.clip(ones(3), "a", 1.0), [(3,)]),
    "clip uint8 by 300": Call("clip", lambda: T(2, dtype=U8).clip(300), lambda: np.clip(ones(2, dtype=U8), 300, None),
                              [(2,)]),
    "bool of (3,)": Call("bool", lambda: bool(T(3)), lambda: bool(ones(3)), [(3,)]),
    "bool tensor == 2**70": Call("eq", lambda: T(2, dtype=bool) == 2**70, lambda: ones(2, dtype=bool) == 2**70, [(2,)]),
    "square of None": Call("square", lambda: tl.square(None), lambda: np.square(None)),
    "int of nan": Call("int", lambda: int(Tensor(np.nan)), lambda: int(np.array(np.nan)), [()]),
    "split [1.5]": Call("split", lambda: T(4).split([1.5]), lambda: np.split(ones(4), [1.5]), [(4,)]),
    "stack of an int": Call("stack", lambda: tl.stack(3), lambda: np.stack(3)),
    "pow int ** Tensor(-1)": Call("pow", lambda: T(1, dtype=np.int64) ** Tensor(-1), lambda: ones(1, dtype=np.int64) ** -1,
                                  [(1,), ()]),
    "pow bool ** 2**70": Call("pow", lambda: T(1, dtype=bool) ** 2**70, lambda: ones(1, dtype=bool) ** 2**70, [(1,)]),
    "Linear of a ragged list": Call("Linear", lambda: nn.Linear(2, 3)([1, [2]]), refused),
    "Embedding out of range": Call("Embedding", lambda: nn.Embedding(3, 2)(np.array([[5]])), refused, [(1, 1)]),
    "mse_loss of ints": Call("mse_loss", lambda: nn.functional.mse_loss(Tensor([1, 2]), [1.5, 2.5]), refused, [(2,)]),
    "mse_loss reduction": Call("mse_loss", lambda: nn.functional.mse_loss(T(2), T(2), "avg"), refused, [(2,)]),
    # wrong answers, or refusals of what numpy and torch answer
    "softmax of uint8": Call("softmax", lambda: Tensor(np.array([0, 1], U8)).softmax(),
                             lambda: (np.exp([0, 1]) / np.exp([0, 1]).sum()).astype(np.float16)),
    "logsumexp of int8": Call("logsumexp", lambda: Tensor(np.array([-128, 127], np.int8)).logsumexp(),
                              lambda: np.float16(np.logaddexp(-128.0, 127.0))),
    "logsumexp of a 0-d tensor": Call("logsumexp", lambda: Tensor(2.0, requires_grad=True).logsumexp(),
                                      lambda: np.float64(2.0)),
    "sum of a 0-d tensor over axis 0": Call("sum", lambda: Tensor(2.0).sum(axis=0), lambda: np.sum(np.float64(2.0), axis=0)),
    "softmax of a 0-d tensor": Call("softmax", lambda: Tensor(2.0).softmax(), lambda: np.float64(1.0)),
    "max of (0, 3) over axis 1": Call("max", lambda: T(0, 3).max(axis=1), lambda: ones(0, 3).max(axis=1)),
    "transpose (3,) by ()": Call("transpose", lambda: T(3).transpose(()), lambda: ones(3).transpose(()), [(3,)]),
    "getitem by []": Call("getitem", lambda: T(3)[[]], lambda: ones(3)[[]]),
    "broadcast_to an int shape": Call("broadcast_to", lambda: T(1).broadcast_to(3), lambda: np.broadcast_to(ones(1), 3)),
    "split by a numpy int": Call("split", lambda: T(4).split(np.int64(2)), lambda: np.split(ones(4), np.int64(2))),
    "split an empty axis": Call("split", lambda: T(0).split(1), lambda: np.split(ones(0), 1)),
    "chunk an empty axis": Call("chunk", lambda: T(0).chunk(2), torch_required(lambda: torch.chunk(torch.ones(0, dtype=torch.float64), 2))),
    "where of two Python numbers beside uint8": Call("where", lambda: tl.where(np.array(True), 0, np.uint8(1)),
                                                     lambda: np.where(np.array(True), 0, np.uint8(1))),
    "mse_loss of lists": Call("mse_loss", lambda: nn.functional.mse_loss([1.0, 2.0], [1.0, 3.0]),
                              lambda: np.float64(0.5)),
    "cross_entropy of lists": Call("cross_entropy", lambda: nn.functional.cross_entropy([[0.0, 0.0]], [1]),
                                   lambda: np.float64(np.log(2))),
}


def _divide_by_a_leaf():
    """bool / float: the gradient of the divisor used -x, numpy's error for a bool x."""
    y = T(2, requires_grad=True)
    return Call("div", lambda: T(2, dtype=bool) / y, lambda: ones(2, dtype=bool) / ones(2), [(2,), (2,)], [y])


REGRESSIONS.update({
    "bool / a leaf, backward": _divide_by_a_leaf(),
    "uint8 / -1": Call("div", lambda: T(2, dtype=U8) / -1, lambda: ones(2, dtype=U8) / -1),
    "stack beside 2**70": Call("stack", lambda: tl.stack([T(2), 2**70]), refused, [(2,)]),
    "getitem by a ragged list": Call("getitem", lambda: T(3)[[[0], [1, 2]]], refused, [(3,)]),
})


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(name):
    check(REGRESSIONS[name])
