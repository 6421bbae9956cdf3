"""Float32 graphs stay float32 in backward: no op's VJP upcasts to float64 on the way.

The engine casts a leaf's finished gradient to the leaf's dtype, which would hide an upcast in
the middle of a graph: every node after it would silently run in float64, twice the memory
traffic. So each op's ``backward`` is called directly here and every gradient it returns is
checked.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_catalog import CATALOG

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.ops import IndexGrad


@pytest.mark.parametrize("op", CATALOG, ids=[op.name + str(i) for i, op in enumerate(CATALOG)])
@given(data=st.data())
def test_every_vjp_keeps_float32(op, data):
    arrays, options = op.draw(data)
    tensors = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    if op.name == "Cast":  # the entry casts to float32, a no-op here: cast the other way, and the
        out = tensors[0].astype(np.float64)  # gradient must still come back as float32
    else:
        out = op.ours(*tensors, **options)
        assert out.dtype == np.float32, f"{op.name}: forward gave {out.dtype}"
    assert out.grad_fn.name == op.name
    grads = out.grad_fn.backward(np.ones(out.shape, np.float32))
    for g in grads:
        if g is None:
            continue
        g = g.g if isinstance(g, IndexGrad) else np.asarray(g)
        assert g.dtype == np.float32, f"{op.name}: backward gave a {g.dtype} gradient"


def test_lstm_like_step_keeps_float32_everywhere():
    """Every intermediate gradient of a float32 LSTM step (seen through hooks) is float32."""
    rng = np.random.default_rng(0)
    B, H = 3, 4
    x = Tensor(rng.standard_normal((5, B, 4 * H)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((H, 4 * H)).astype(np.float32), requires_grad=True)
    h = c = Tensor(np.zeros((B, H), np.float32))
    seen = []
    for t in range(5):
        gates = x[t] + h @ w
        i, f, g, o = (gates[:, :H].sigmoid(), gates[:, H:2 * H].sigmoid(), gates[:, 2 * H:3 * H].tanh(),
                      gates[:, 3 * H:].sigmoid())
        c = f * c + i * g
        h = o * c.tanh()
        for tensor in (gates, i, f, g, o, c, h):
            tensor.register_hook(lambda grad: seen.append(grad.dtype))
    loss = ((tl.stack([h, c]) - 0.5) ** 2).mean()
    loss.backward()
    assert seen and set(seen) == {np.dtype(np.float32)}
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
