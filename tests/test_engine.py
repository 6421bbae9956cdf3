"""The engine: accumulation, graph handles, freeing, dtypes, errors, and a million-op chain."""

import gc
import resource
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import ShapeError, Tensor, no_grad


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---- gradients accumulate, graph handles ------------------------------------------------------

def test_readme_example():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    w = Tensor([[0.5], [-0.25]], requires_grad=True)
    (x @ w).tanh().sum().backward()
    d = 1 - np.tanh(0.0) ** 2  # x @ w = 0
    np.testing.assert_allclose(x.grad.numpy(), d * w.numpy().T)
    np.testing.assert_allclose(w.grad.numpy(), d * x.numpy().T)


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)
    assert isinstance(x.grad, Tensor) and x.grad.shape == x.shape


def test_reused_node_and_diamond_sum_their_paths():
    x = leaf([0.5, -1.5])
    a = x * 2
    b = a.tanh()
    y = (a * b + a).sum()  # a feeds three consumers
    y.backward()
    a_val = 2 * x.numpy()
    t = np.tanh(a_val)
    expected = 2 * (t + a_val * (1 - t**2) + 1)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_same_tensor_twice_in_one_op():
    x = leaf([3.0])
    (x * x).backward()
    assert x.grad.item() == 6.0
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    (y @ y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.ones((2, 2)) @ y.numpy().T + y.numpy().T @ np.ones((2, 2)))


def test_leaf_gradients_do_not_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.numpy()[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_no_grad_builds_no_graph_and_works_as_decorator():
    x = leaf([1.0])
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert (x * 2).requires_grad
    with no_grad():
        with tl.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_detach_and_requires_grad_():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])
    y = Tensor([1.0]).requires_grad_()
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).requires_grad_(False)


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, -2.0])
    h = x * 3
    h.retain_grad()
    other = x * 4
    (h.tanh() + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 1 - np.tanh(h.numpy()) ** 2)
    assert other.grad is None


def test_hooks_see_and_replace_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    y = x * 2
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = y.register_hook(lambda g: g * 10)
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(y.grad.numpy(), [10.0, 10.0])  # retain_grad sees the hooked gradient
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_leaf_hook_runs_once_with_the_total():
    x = leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append(g.item()))
    (x * 2 + x * 3).sum().backward()
    assert calls == [5.0]


def test_hook_returning_a_wrong_shape_is_an_error():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: np.ones(3))
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        y.sum().backward()


def test_backward_with_gradient_and_grad_function():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.0, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 0.0], [0.0, 16.0]])
    z = leaf([1.0, 2.0])
    (g,) = tl.grad((z**3).sum(), [z])
    np.testing.assert_allclose(g.numpy(), 3 * z.numpy() ** 2)
    assert z.grad is None  # grad() leaves .grad alone
    unused = leaf([1.0])
    with pytest.raises(RuntimeError, match="not used"):
        tl.grad((z * 2).sum(), [unused])
    assert tl.grad((z * 2).sum(), [unused], allow_unused=True) == (None,)


# ---- the graph is freed after backward --------------------------------------------------------

def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(x.numpy()))


def test_backward_through_a_shared_part_of_a_freed_graph_raises():
    x = leaf([1.0])
    h = x.exp()
    a, b = (h * 2).sum(), (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        b.backward()


def test_intermediates_die_after_backward():
    x = leaf(np.ones(1000))
    h1 = x.tanh()
    h2 = h1 * 2
    loss = h2.sum()
    refs = [weakref.ref(h1), weakref.ref(h2)]
    del h1, h2
    assert all(r() is not None for r in refs)  # the graph keeps them alive until backward
    loss.backward()
    assert all(r() is None for r in refs)  # no reference cycles: refcounting frees them at once
    assert loss.numpy() is not None  # the root itself survives, without its graph


def test_training_loop_holds_no_memory_across_iterations():
    w = leaf(np.random.default_rng(0).standard_normal((200, 200)))
    x = Tensor(np.ones((50, 200)))
    gc.collect()
    alive_before = len(gc.get_objects())
    for _ in range(20):
        loss = (x @ w).tanh().sum()
        loss.backward()
        w.data = w.data - 1e-3 * w.grad.data
        w.grad = None
    assert len(gc.get_objects()) - alive_before < 50
    assert gc.collect() == 0  # nothing needed the cycle collector


def test_million_op_chain_backpropagates_without_recursion():
    x = leaf([1.0])
    h = x
    for _ in range(1_000_000):
        h = h * 1.0000001
    h.backward()  # its time and memory are reported by benchmarks/, never asserted here
    np.testing.assert_allclose(x.grad.numpy(), [1.0000001**1_000_000], rtol=1e-9)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the process's peak so far
    assert peak_mb < 4096


# ---- dtypes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_python_scalars_keep_the_dtype(dtype):
    x = leaf([1.0, 2.0], dtype)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3, 3 / x, x**2, x.clip(-1, 1), x.sigmoid()):
        assert y.dtype == dtype
    (x * 2.5).sum().backward()
    assert x.grad.dtype == dtype


def test_mixed_dtypes_promote_like_numpy_and_grads_keep_their_leaf_dtype():
    a = leaf([1.0, 2.0], np.float32)
    b = leaf([3.0, 4.0], np.float64)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_array_operands_and_reflected_numpy_operators():
    x = leaf([1.0, 2.0])
    y = np.array([2.0, 3.0]) * x  # numpy hands the operation to Tensor
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 3.0])


def test_default_dtypes_follow_numpy():
    assert Tensor([1.0, 2.0]).dtype == np.float64
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32


# ---- numerical stability -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_ops_are_finite_at_plus_minus_1000(dtype):
    x = leaf([-1000.0, -1.0, 0.0, 1.0, 1000.0], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # not even internally
        outputs = [x.sigmoid(), x.tanh(), x.softmax(), x.log_softmax(), x.logsumexp().reshape(1)]
        for out in outputs:
            assert np.all(np.isfinite(out.numpy()))
            x.grad = None
            out.backward(np.linspace(-1, 1, out.size).astype(dtype).reshape(out.shape))
            assert np.all(np.isfinite(x.grad.numpy()))
    # exp(-x) is clamped below overflow: sigmoid(-1000) is off 0 by less than the smallest normal number
    np.testing.assert_allclose(x.sigmoid().numpy()[[0, -1]], [0.0, 1.0], rtol=0, atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(x.log_softmax().numpy()[-1], 0.0, atol=1e-6)


# ---- errors --------------------------------------------------------------------------------------

def test_matmul_shape_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ShapeError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        leaf(np.ones((2, 3))) @ leaf(np.ones((4, 5)))
    with pytest.raises(ShapeError, match=r"MatMul.*\(2, 3\).*\(\)"):
        leaf(np.ones((2, 3))) @ Tensor(2.0)


def test_broadcast_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ShapeError, match=r"Add.*\(2, 3\).*\(4,\)"):
        leaf(np.ones((2, 3))) + leaf(np.ones(4))
    with pytest.raises(ShapeError, match=r"Mul.*\(3,\).*\(2,\)"):
        Tensor(np.ones(3)) * np.ones(2)
    with pytest.raises(ShapeError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        tl.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ShapeError, match=r"stack.*\(2,\).*\(3,\)"):
        tl.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])
    with pytest.raises(ShapeError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        Tensor(np.ones((2, 3))).reshape(4)


def test_backward_on_a_non_scalar_without_gradient_raises():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        y.backward()
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_non_float_data_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="float"):
        Tensor([True]).requires_grad_()
    with pytest.raises(TypeError, match="str"):
        Tensor(["a", "b"])
    x = leaf([1.0])
    with pytest.raises(TypeError, match="int"):
        x.data = np.array([1])


def test_bad_axes_and_indices_name_the_op():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError, match="sum: axis 2"):
        x.sum(axis=2)
    with pytest.raises(IndexError, match=r"getitem.*\(2, 3\)"):
        x[5]
    with pytest.raises(ShapeError, match="transpose"):
        x.transpose(0, 0)
    with pytest.raises(TypeError, match="item assignment"):
        x[0] = 1.0


def test_mutating_data_after_use_in_a_graph_is_detected():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        x.data += 1
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # the gradient saw the original values
    x.data[0] = 5.0  # the graph is gone: writing is allowed again
    assert x.numpy()[0] == 5.0


def test_constructor_copies_so_the_callers_array_stays_writable():
    source = np.array([1.0, 2.0])
    x = Tensor(source, requires_grad=True)
    y = (x * 2).sum()
    source[0] = 10.0  # the caller's array is not the tensor's
    y.backward()
    assert x.numpy()[0] == 1.0


# ---- small conveniences ------------------------------------------------------------------------

def test_item_len_iter_repr_and_bool():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], name="w")
    assert len(x) == 2 and [row.shape for row in x] == [(2,), (2,)]
    assert Tensor([3.5]).item() == 3.5
    assert "name='w'" in repr(x) and "float64" in repr(x)
    assert bool(Tensor([1.0])) and not bool(Tensor(0.0))
    with pytest.raises(ValueError):
        bool(x)
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    assert (x > 2).dtype == bool and x.argmax().item() == 3
    assert {x: 1}[x] == 1  # hashable by identity although == is elementwise
