"""Hypothesis strategies for property tests of tinygrad_lite code (yours and ours).

    from hypothesis import given
    from tinygrad_lite.testing import tensors, broadcastable_shapes, positive, separated
    from tinygrad_lite import gradcheck

    @given(tensors(values=positive()))
    def test_log(x):
        assert gradcheck(lambda x: x.log(), [x])

Value strategies keep finite differences honest: ``positive`` stays away from the domain edge
of log, sqrt and division; ``nonzero`` stays away from the kink of abs and relu; ``separated``
draws values on a grid so that no two are closer than its step (max, min, clip and maximum
have kinks where values tie). Give two arrays grids with different ``offset`` and no element of
one ever equals an element of the other.
"""

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # a plain install does not bring hypothesis: say which extra does
    if not (error.name or "").startswith("hypothesis"):
        raise
    raise ImportError("tinygrad_lite.testing needs hypothesis, which a plain install does not bring: "
                      "pip install tinygrad-lite[testing] (in a checkout: pip install -e \".[testing]\")",
                      name=error.name) from error

from .tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "matmul_shapes", "floats", "positive", "nonzero",
           "separated", "arrays", "tensors", "dtypes", "float_dtypes"]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes such as (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """A tuple of ``num_shapes`` shapes that numpy broadcasts together, e.g. ((3, 1), (4,))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda drawn: drawn.input_shapes)


@st.composite
def matmul_shapes(draw, max_batch_dims=2, max_side=4):
    """A pair of shapes that numpy.matmul accepts, vectors and broadcast batch axes included."""
    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=0, max_dims=max_batch_dims, max_side=3))
    a_is_vector = draw(st.booleans()) and not batch_a
    b_is_vector = draw(st.booleans()) and not batch_b
    a = (k,) if a_is_vector else batch_a + (n, k)
    b = (k,) if b_is_vector else batch_b + (k, m)
    return a, b


def floats(low=-3.0, high=3.0):
    """Finite floats in [low, high], exactly representable in float32 (so dtypes agree)."""
    return st.floats(_f32_inside(low, np.inf), _f32_inside(high, -np.inf),
                     allow_nan=False, allow_infinity=False, width=32)


def _f32_inside(bound, towards):
    """The float32 nearest to ``bound`` that does not leave [low, high]."""
    nearest = np.float32(bound)
    if (nearest < bound and towards > 0) or (nearest > bound and towards < 0):
        nearest = np.nextafter(nearest, np.float32(towards))
    return float(nearest)


def positive(low=0.2, high=3.0):
    """Values well inside the domain of log, sqrt and of a divisor."""
    return floats(low, high)


def nonzero(low=0.2, high=3.0):
    """Values at least ``low`` away from zero, on either side."""
    return st.one_of(floats(low, high), floats(-high, -low))


def separated(step=0.1, offset=0.0, limit=100):
    """Multiples of ``step`` plus ``offset``: distinct draws are at least ``step`` apart."""
    return st.integers(-limit, limit).map(lambda k: round(k * step + offset, 6))


float_dtypes = st.sampled_from([np.float32, np.float64])
dtypes = float_dtypes


def arrays(shape=None, dtype=np.float64, values=None, unique=False):
    """numpy arrays of a drawn (or given) shape with elements from ``values`` (default ``floats()``)."""
    return hnp.arrays(dtype=dtype, shape=shapes() if shape is None else shape,
                      elements=floats() if values is None else values, unique=unique)


def tensors(shape=None, dtype=np.float64, values=None, requires_grad=True, unique=False):
    """Tensors of a drawn (or given) shape; ``dtype`` may itself be a strategy such as ``float_dtypes``."""
    return arrays(shape, dtype, values, unique).map(lambda a: Tensor(a, requires_grad=requires_grad))
