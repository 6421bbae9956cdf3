"""Every op's gradient against central finite differences, in float64, on drawn shapes and values."""

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_catalog import CATALOG

from tinygrad_lite import Tensor, gradcheck, ops


def _ids(op):
    return op.name + ("" if op.torch is None or op.name != "GetItem" else "-array")


@pytest.mark.parametrize("op", CATALOG, ids=[_ids(op) for op in CATALOG])
@given(data=st.data())
def test_gradcheck(op, data):
    arrays, options = op.draw(data)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    # the entry really records the op it is named after (a typo would test another op)
    assert op.ours(*tensors, **options).grad_fn.name == op.name
    assert gradcheck(lambda *xs: op.ours(*xs, **options), tensors, **(op.tolerances or {}))


def test_every_op_is_in_the_catalog():
    defined = {name for name, cls in inspect.getmembers(ops, inspect.isclass)
               if issubclass(cls, ops.Function) and cls is not ops.Function}
    assert defined == {op.name for op in CATALOG}

