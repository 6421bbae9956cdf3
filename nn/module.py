"""Module and Parameter: the bookkeeping every layer shares (registration, state_dict, dtype, mode).

A Module registers the ``Parameter``s and sub-modules assigned to its attributes, in assignment
order, as ``torch.nn.Module`` does; ``named_parameters()`` names them with dots
(``"encoder.weight_ih_l0"``), and those names are the keys of ``state_dict()``.

Parameter arrays are never modified in place: while a graph that uses a parameter is alive,
tinygrad_lite makes its array read-only (that is how a stale graph is detected). Loading, casting
and optimiser steps therefore assign a new array (``p.data = new``).
"""

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from tinygrad_lite import Tensor
from tinygrad_lite.surface import numeric_array

__all__ = ["Parameter", "Module", "ModuleList", "Sequential", "StateDictError", "LoadResult"]


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable; it always requires grad."""

    __slots__ = ()

    def __init__(self, data, dtype=None, name=None):
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class StateDictError(RuntimeError):
    """``load_state_dict`` found bad keys; the message names every one, and nothing was loaded."""


LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` and define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration: attributes live in __dict__ (fast lookup), the dicts remember the order

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, modules = self._parameters, self._modules
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign an nn.Parameter or None, "
                                f"not {type(value).__name__}")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a sub-module: assign a Module or None, "
                                f"not {type(value).__name__}")
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # ---- calling

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- walking the tree

    def children(self):
        return (m for m in self._modules.values() if m is not None)

    def modules(self):
        """This module and every sub-module, depth first."""
        stack = [self]
        while stack:
            m = stack.pop()
            yield m
            stack.extend(reversed(list(m.children())))

    def _all_named_parameters(self, prefix=""):
        """(dotted name, parameter) for every registered parameter, shared ones under each name."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, m in self._modules.items():
            if m is not None:
                yield from m._all_named_parameters(prefix + name + ".")

    def named_parameters(self):
        """(dotted name, parameter) pairs in registration order; a shared parameter appears once."""
        seen = set()
        for name, p in self._all_named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def zero_grad(self):
        """Forget the accumulated gradients (``.grad = None``, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # ---- dtype

    def to(self, dtype):
        """Cast every parameter (and its gradient) to a float ``dtype``; the Parameter objects stay the same."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must be float, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)  # a new array: the old one may be read-only under a live graph
            if p.grad is not None:
                p.grad = Tensor(p.grad.data, dtype=dtype)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ---- state

    def state_dict(self):
        """An OrderedDict of dotted name -> numpy array, a copy (changing it does not change the module)."""
        return OrderedDict((name, p.data.copy()) for name, p in self._all_named_parameters())

    def load_state_dict(self, state, strict=True):
        """Copy arrays (numpy arrays or Tensors) into the parameters, each in the parameter's own dtype.

        Everything is checked first: a missing or unexpected key (when ``strict``), a value of the
        wrong shape, or one that is not a float array raises one StateDictError naming every bad
        key, and then no parameter has changed. Returns ``LoadResult(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of name -> array, got {type(state).__name__}")
        params = OrderedDict(self._all_named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        problems, arrays = _check_values(params, state)
        if strict:
            problems += [f"missing key {k!r}" for k in missing]
            problems += [f"unexpected key {k!r}" for k in unexpected]
        if problems:
            raise StateDictError(f"load_state_dict into {type(self).__name__} failed, nothing was loaded:\n  "
                                 + "\n  ".join(problems))
        for name, array in arrays.items():
            p = params[name]
            p.data = np.array(array, dtype=p.dtype)  # a fresh copy in the parameter's dtype
        return LoadResult(missing, unexpected)

    # ---- printing

    def extra_repr(self):
        """The text inside the parentheses of this module's repr (layers override it)."""
        return ""

    def __repr__(self):
        children = [(name, m) for name, m in self._modules.items() if m is not None]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        if self.extra_repr():
            lines.append("  " + self.extra_repr())
        for name, m in children:
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        lines.append(")")
        return "\n".join(lines)


def _check_values(params, state):
    """Validate every value whose key is a parameter; return (problems, name -> float array)."""
    problems, arrays = [], OrderedDict()
    for name, value in state.items():
        if name not in params:
            continue
        expected = params[name].shape
        try:
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
        except Exception as e:  # e.g. a torch tensor that requires grad
            problems.append(f"{name!r}: cannot read it as an array ({e})")
            continue
        if array.dtype.kind != "f":
            problems.append(f"{name!r}: dtype {array.dtype} is not a float dtype")
        elif array.shape != expected:
            problems.append(f"{name!r}: shape {array.shape} does not match the parameter's shape {expected}")
        else:
            arrays[name] = array
    return problems, arrays


def check_sizes(owner, **sizes):
    """Raise, naming ``owner`` and the argument, unless every size is a positive int (not a bool)."""
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")


def as_tensor(x, owner="as_tensor"):
    """A layer's input as a Tensor (arrays and nested lists are wrapped, Tensors pass through).

    Anything else, or a ragged list, is a TypeError naming ``owner`` (a layer or a function name).
    """
    return x if isinstance(x, Tensor) else Tensor(numeric_array(x, owner))


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", ...; it has no forward of its own."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(a, b)(x) == b(a(x))``."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for m in self:
            x = m(x)
        return x
