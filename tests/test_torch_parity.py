"""Forward values and gradients of every op equal PyTorch's (float64) on drawn inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_catalog import CATALOG

from tinygrad_lite import Tensor

torch = pytest.importorskip("torch")

COMPARABLE = [op for op in CATALOG if op.torch is not None]


@pytest.mark.parametrize("op", COMPARABLE, ids=[op.name for op in COMPARABLE])
@given(data=st.data())
def test_forward_and_gradients_match_pytorch(op, data):
    arrays, options = op.draw(data)
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = op.ours(*ours, **options)
    ref = op.torch(torch, *theirs, **options)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-12)
    assert out.dtype == ref.detach().numpy().dtype
    seed = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(seed.astype(out.dtype))
    ref.backward(torch.tensor(seed, dtype=ref.dtype))
    for mine, reference in zip(ours, theirs):
        expected = np.zeros(mine.shape) if reference.grad is None else reference.grad.numpy()
        np.testing.assert_allclose(mine.grad.numpy(), expected, rtol=1e-6, atol=1e-12)


def test_sigmoid_and_tanh_match_pytorch_far_out():
    x = np.array([-1000.0, -700.0, -40.0, -5.0, 0.0, 5.0, 40.0, 1000.0])
    for dtype in (np.float32, np.float64):
        ours = Tensor(x.astype(dtype), requires_grad=True)
        theirs = torch.tensor(x.astype(dtype), requires_grad=True)
        s, ref = ours.sigmoid(), torch.sigmoid(theirs)
        np.testing.assert_allclose(s.numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-30)
        s.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-30)
