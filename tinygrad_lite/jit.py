"""compile(fn): record a function's ops once, then replay them without building a graph per op.

The first call for a signature runs ``fn`` eagerly while an observer (the engine's ``_checks``
slot) writes down every op: its class, its non-tensor arguments, which arrays it reads (an
input by position, an external tensor by identity, or an earlier result by slot). replay.py
plans that program once (liveness, batched weight gradients, joined slices) and replays it on
the current arrays at every later call; ``loss.backward()`` fills ``.grad`` as eager mode does.

What makes a replay wrong is a value that left a tensor into Python while recording (an ``if``
on a tensor, ``item()``, ``.data`` ...): the program baked it in. Such a function warns once and
runs eagerly from then on (a tensor copied with ``Tensor(x)`` too). Dependence on other Python
state (globals, numpy randomness) is not detected and not supported, as with tinygrad's TinyJit.
Recording uses the process-wide observer slot: record from one thread at a time.
"""

import sys
import warnings
from collections import OrderedDict

import numpy as np

from . import engine
from .engine import Tensor, is_grad_enabled
from .errors import CompileError, uncompiled
from .replay import NO, YES, plan, replay

__all__ = ["compile", "CompileError"]

_CACHE_SIZE = 8
_LIBRARY = __file__.rsplit("/", 1)[0]
# the ways a value leaves a tensor into Python, or into a constant the recording would bake in
# (a comparison's mask, argmax's positions): each marks a recording data-dependent
_LEAKS = ("__bool__", "item", "__float__", "__int__", "tolist", "numpy", "__array__",
          "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "argmax", "argmin")


# ---- flattening arguments and results -------------------------------------------------------


def _flatten(value, tensors):
    """The structure of ``value`` with every Tensor replaced by its position in ``tensors``."""
    if isinstance(value, Tensor):
        tensors.append(value)
        return _Hole(len(tensors) - 1)
    if isinstance(value, (tuple, list)):
        return type(value)(_flatten(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _flatten(v, tensors) for k, v in value.items()}
    return value


def _fill(structure, tensors):
    if type(structure) is _Hole:
        return tensors[structure.index]
    if isinstance(structure, (tuple, list)):
        return type(structure)(_fill(v, tensors) for v in structure)
    if isinstance(structure, dict):
        return {k: _fill(v, tensors) for k, v in structure.items()}
    return structure


def _hashable(structure):
    """Lists and dicts as tuples, so the argument structure can be part of a cache key."""
    if isinstance(structure, (tuple, list)):
        return (type(structure).__name__, *map(_hashable, structure))
    if isinstance(structure, dict):
        return ("dict", *((k, _hashable(v)) for k, v in structure.items()))
    return structure, type(structure)  # 2, 2.0 and True are equal keys but lift to other dtypes


class _Hole:
    """Where a Tensor sat in an argument or result structure (hashable, so keys can hold it)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __eq__(self, other):
        return type(other) is _Hole and other.index == self.index

    def __hash__(self):
        return hash(("hole", self.index))


# ---- the recorded program -------------------------------------------------------------------


class _Step:
    """One op: ``cls`` (None for detach: the same array, no gradient), the slots it reads, its
    non-tensor arguments, the slot it writes, and which inputs require grad."""

    __slots__ = ("cls", "reads", "args", "out", "needs", "flags", "differentiable", "batched_weight", "piece")

    def __init__(self, cls, reads, args, out, needs, differentiable):
        self.cls, self.reads, self.args, self.out = cls, reads, args, out
        self.needs, self.differentiable = needs, differentiable
        self.batched_weight = None  # the weight slot, when its gradient is batched (see _plan)
        self.piece = None  # (slot, position) of a slice whose gradient is joined (see _plan)
        self.flags = tuple(YES if n else NO for n in needs)


class _Program:
    """What a recording produced. Slots 0..n_inputs-1 are the inputs; later slots, in the order
    the recording met them, are externals (read by identity at every replay) and op results."""

    def __init__(self):
        self.n_inputs = 0
        self.externals = []  # tensors read by identity
        self.external_sig = []  # (shape, dtype, requires_grad) each had when recorded
        self.steps = []
        self.shapes = []  # shape and dtype of every slot: the gradient's target
        self.dtypes = []
        self.slot_rg = []
        self.outputs = None  # result structure, holes naming slots
        self.dependent = None  # where a value left a tensor, if one did

    def new_slot(self, t):
        self.shapes.append(t._data.shape)
        self.dtypes.append(t._data.dtype)
        self.slot_rg.append(t._rg)
        return len(self.shapes) - 1

    def still_valid(self):
        """Externals that changed shape, dtype or requires_grad since recording need a new one."""
        return all((t._data.shape, t._data.dtype, t._rg) == sig for t, sig in zip(self.externals, self.external_sig))


class _Recorder:
    """The engine's observer while fn runs for the first time (see engine._checks)."""

    def __init__(self, inputs):
        self.program = _Program()
        self.slot = {}  # id(tensor) -> slot
        self.array_slot = {}  # id(array) -> slot, to see that detach() returned an earlier array
        self.keep = []  # every tensor seen, kept alive so ids stay unique while recording
        self.results = []  # recorded op results, checked for hooks at the end
        for t in inputs:
            self.bind(t)
        self.program.n_inputs = len(self.program.shapes)

    def bind(self, t):
        s = self.program.new_slot(t)
        self.slot[id(t)] = s
        self.array_slot[id(t._data)] = s
        self.keep.append(t)
        return s

    def read(self, t):
        s = self.slot.get(id(t))
        if s is None:  # a parameter, a module's constant, a lifted number: read by identity
            p = self.program
            s = self.bind(t)
            p.externals.append((s, t))
            p.external_sig.append((t._data.shape, t._data.dtype, t._rg))
        return s

    def leak(self, what):
        if self.program.dependent is None:
            self.program.dependent = f"{what} at {_origin()}"

    def op(self, fn, inputs, args, t):
        if fn is None:
            self.constant(t)
            return
        if any(isinstance(a, np.ndarray) for a in _walk_args(args)):
            # an index or condition array is baked in by value; it may have come from a tensor
            self.leak(f"{type(fn).__name__} with an array argument (an index or condition)")
        reads = tuple(self.read(p) for p in inputs)
        out = self.bind(t)
        differentiable = t._ctx is not None
        self.program.steps.append(_Step(type(fn), reads, args, out, tuple(p._rg for p in inputs), differentiable))
        if differentiable:
            self.results.append(t)

    def constant(self, t):
        """A constant made outside an op. On an earlier slot's very array (detach()) it must
        follow that slot at every replay; a new array came from a Python value, kept as is
        (comparisons and argmax, which make one from a tensor's values, are leak-guarded)."""
        source = self.array_slot.get(id(t._data))
        if source is not None:
            out = self.bind(t)
            self.program.steps.append(_Step(None, (source,), (), out, (False,), False))

    def forward(self, t):
        return t

    def reached(self, t, g):
        raise uncompiled("calling backward() inside the compiled function")

    def backward(self, t, g, grads):  # pragma: no cover - reached raises first
        pass


def _walk_args(args):
    for a in args:
        if isinstance(a, tuple):
            yield from _walk_args(a)
        else:
            yield a


def _origin():
    """The user's line: the innermost frame outside tinygrad_lite."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY):
        frame = frame.f_back
    if frame is None:
        return "(inside tinygrad_lite)"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _with_leak_guards(recorder):
    """Wrap the Tensor methods that hand a value to Python, for the recording only."""
    saved = {name: Tensor.__dict__[name] for name in (*_LEAKS, "data") if name in Tensor.__dict__}

    def wrap(name, method):
        def guarded(self, *args, **kwargs):
            recorder.leak(f"Tensor.{name}")
            return method(self, *args, **kwargs)
        return guarded

    for name in _LEAKS:
        if name in saved:
            setattr(Tensor, name, wrap(name, saved[name]))
    data = saved["data"]
    Tensor.data = property(wrap("data", data.fget), data.fset)
    init = saved["__init__"] = Tensor.__init__

    def copying_init(self, data, *args, **kwargs):  # Tensor(t) copies t's values: a replay would keep them
        if isinstance(data, Tensor):
            recorder.leak("Tensor(tensor), a copy of a tensor's values")
        init(self, data, *args, **kwargs)

    Tensor.__init__ = copying_init
    return saved


def _record(fn, args, kwargs, inputs):
    recorder = _Recorder(inputs)
    saved = _with_leak_guards(recorder)
    engine._checks = recorder
    try:
        result = fn(*args, **kwargs)
    finally:
        engine._checks = None
        for name, method in saved.items():
            setattr(Tensor, name, method)
    for t in recorder.results:
        if t._hooks is not None:
            raise uncompiled("a hook or retain_grad() on a tensor made inside the compiled function")
    program = recorder.program
    out_tensors = []
    structure = _flatten(result, out_tensors)
    program.outputs = (structure, tuple(recorder.read(t) for t in out_tensors))
    _number_externals(program)
    plan(program)
    return result, program


def _number_externals(program):
    """Split the (slot, tensor) pairs: a replay writes every external slot before any op runs."""
    program.external_slots = tuple(s for s, _ in program.externals)
    program.externals = [t for _, t in program.externals]
    program.source_slots = (*range(program.n_inputs), *program.external_slots)


# ---- the signature and the cache ------------------------------------------------------------


def _signature(fn, args, kwargs):
    tensors = []
    structure = _flatten((args, kwargs), tensors)
    first = {}
    aliases = tuple(first.setdefault(id(t), i) for i, t in enumerate(tensors))
    described = tuple((t._data.shape, t._data.dtype, t._rg) for t in tensors)
    key = [_hashable(structure), described, aliases, is_grad_enabled()]
    modules = getattr(fn, "modules", None)
    if callable(modules):  # a Module: its mode and its parameters' identities are part of the program
        key.append(tuple(m.training for m in modules()))
        key.append(tuple(id(p) for p in fn.parameters()))
    try:
        key = tuple(key)
        hash(key)
    except TypeError as e:
        raise TypeError(f"compile: every non-tensor argument must be hashable (it is part of the signature): {e}") \
            from None
    unique = [t for i, t in enumerate(tensors) if aliases[i] == i]
    return key, unique


class _StaleTrace:
    """Put in place of a recurrent layer's ``trace``/``traces`` after a compiled call: a replay
    makes no per-step tensors, and the recording's would silently describe another call."""

    def _refuse(self, *args):
        raise uncompiled("reading a layer's trace (its named per-step tensors)")

    __getattr__ = __getitem__ = __iter__ = __len__ = _refuse

    def __deepcopy__(self, memo):  # copying or pickling the model is not reading the trace:
        return self  # the copy's trace is as stale (the next eager call replaces it)

    def __copy__(self):
        return self

    def __reduce__(self):
        return "_STALE"


_STALE = _StaleTrace()


def _traced_modules(fn):
    modules = getattr(fn, "modules", None)
    return [m for m in modules() if "trace" in m.__dict__] if callable(modules) else []


class Compiled:
    """What ``compile(fn)`` returns: call it like fn."""

    def __init__(self, fn, cache_size=_CACHE_SIZE):
        self.fn = fn
        self.cache = OrderedDict()  # signature -> _Program, least recently used first
        self.cache_size = cache_size
        self.eager = False  # set for good once a recording turned out data-dependent
        self.recordings = 0
        self.traced = _traced_modules(fn)

    def __call__(self, *args, **kwargs):
        if self.eager:
            return self.fn(*args, **kwargs)
        if engine._checks is not None:
            raise uncompiled("anomaly mode (or another observer of the engine)")
        result = self._run(args, kwargs)
        for m in self.traced:
            object.__setattr__(m, "trace", _STALE)
            object.__setattr__(m, "traces", _STALE)
        return result

    def _run(self, args, kwargs):
        key, inputs = _signature(self.fn, args, kwargs)
        program = self.cache.get(key)
        if program is not None and program.still_valid():
            self.cache.move_to_end(key)
            return _fill(program.outputs[0], replay(program, inputs))
        result, program = _record(self.fn, args, kwargs, inputs)
        self.recordings += 1
        if program.dependent is not None:
            self.eager = True
            self.cache.clear()
            warnings.warn(f"compile: {getattr(self.fn, '__name__', type(self.fn).__name__)} reads a tensor's value "
                          f"into Python while recording ({program.dependent}); it runs eagerly from now on",
                          RuntimeWarning, stacklevel=3)
            return result
        self.cache[key] = program
        self.cache.move_to_end(key)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return result


def compile(fn, cache_size=_CACHE_SIZE):  # noqa: A001 - the public name, as torch.compile
    """Record ``fn`` (a function of Tensors, or a Module) once per signature and replay it."""
    if not callable(fn):
        raise TypeError(f"compile: expected a function or a Module, got {type(fn).__name__}")
    return Compiled(fn, cache_size)
