"""Guards that keep a graph's saved arrays from changing before backward reads them.

A graph saves the arrays its ops need (``Mul`` keeps both operands). Writing into one of them
before backward would silently change the gradient, so:

* a leaf or constant used by a recorded op has its array made read-only (``freeze``) until the
  backward that consumes the graph gives it back (``thaw``); numpy then refuses a write with
  "assignment destination is read-only" instead of backward going silently wrong;
* an op's result hands out read-only views of its array (``Tensor.data``, ``numpy()``) while its
  graph lives;
* foreign numpy operands are copied when they enter an op (``surface._lift``), as torch does.

A tensor's ``_frozen`` is False, the array a graph froze, or True for a private constant
(a lifted Python number) that nothing else can reach.
"""

import numpy as np


def freeze(leaf):
    """Make a leaf's array read-only while a graph needs it; backward makes it writable again.

    This is how mutating ``x.data`` after using ``x`` in a graph is detected: numpy refuses
    the write ("assignment destination is read-only") instead of backward going silently wrong.
    A view is guarded through the array that owns its memory (``x.reshape`` of a constant).
    """
    array = leaf._data
    while isinstance(array.base, np.ndarray):
        array = array.base
    if array.flags.writeable:
        array.flags.writeable = False
        leaf._frozen = array


def thaw(leaf):
    array = leaf._frozen
    if array is not True and array is not False:
        array.flags.writeable = True
        leaf._frozen = False


def in_graph(t):
    """Whether t is an op's result whose graph still holds its saved arrays."""
    return t._ctx is not None and t._ctx.parents is not None


def read_only(array):
    view = array.view()
    view.flags.writeable = False
    return view


def label(t):
    return f" {t.name!r}" if t.name else ""
