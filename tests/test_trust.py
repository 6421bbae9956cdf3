"""No silent wrong gradient: saved arrays are guarded, grad mode is per thread, hooks that fail
leave nothing half done, and anomaly mode names the forward op that made the first NaN/inf."""

import threading

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ---- every array a graph saved is guarded ----------------------------------------------------


def test_an_intermediate_hands_out_read_only_data_while_its_graph_lives():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 2
    y = (h * h).sum()
    for view in (h.data, h.numpy(), np.asarray(h)):
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0, 24.0])


def test_a_numpy_operand_is_copied_so_a_later_write_cannot_reach_the_graph():
    x = leaf([1.0, 2.0, 3.0])
    c = np.ones(3)
    y = (x * c).sum()
    c[0] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    y = (c * x).sum()  # the reflected operator too
    c[1] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [101.0, 2.0, 2.0])


def test_a_constant_tensor_used_by_a_graph_is_read_only_until_backward():
    x = leaf([1.0, 2.0, 3.0])
    c = Tensor([1.0, 1.0, 1.0])
    y = (x * c).sum()
    with pytest.raises(ValueError, match="read-only"):
        c.data[0] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    c.data[0] = 5  # the graph is gone: writable again
    assert c.numpy()[0] == 5


def test_a_view_of_a_constant_guards_the_constant_itself():
    x = leaf([[1.0, 2.0]])
    c = Tensor([[3.0], [4.0]])
    y = (x @ c.reshape(2, 1)).sum()  # reshape of a constant is a view of c's array
    with pytest.raises(ValueError, match="read-only"):
        c.data[0, 0] = 100
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 4.0]])


def test_a_new_array_of_another_shape_or_dtype_is_refused_while_a_graph_uses_the_tensor():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"Tensor.data: tensor of shape \(3,\).*\(5,\)"):
        x.data = np.ones(5)
    with pytest.raises(RuntimeError, match="float32"):
        x.data = np.ones(3, np.float32)
    h = x * 2
    with pytest.raises(RuntimeError, match="used by a graph"):
        h.data = np.ones(4)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    x.data = np.ones(5)  # after backward a leaf may take any array
    assert x.shape == (5,)


def test_a_leaf_stays_writable_outside_graphs_and_under_no_grad():
    x = leaf([1.0, 2.0])
    with tl.no_grad():
        (x * 2).sum()
    x.data[0] = 7
    assert x.numpy()[0] == 7


# ---- .grad assignment ------------------------------------------------------------------------


def test_assigning_a_grad_of_the_wrong_shape_or_dtype_raises_at_the_assignment():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(tl.ShapeError, match=r"shape \(3,\).*\(2,\)"):
        x.grad = Tensor([1.0, 2.0])
    with pytest.raises(tl.ShapeError, match="float32"):
        x.grad = Tensor(np.ones(3, np.float32))
    x.grad = np.ones(3)  # an array of the right shape and dtype is wrapped
    assert isinstance(x.grad, Tensor)
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


# ---- hooks ----------------------------------------------------------------------------------


def test_a_hook_returning_a_non_array_names_the_hook():
    x = leaf([1.0, 2.0])
    h = x * 3

    def bad_hook(g):
        return "not a gradient"

    h.register_hook(bad_hook)
    with pytest.raises(TypeError, match="bad_hook returned str"):
        h.sum().backward()


def test_after_a_hook_raises_the_leaves_are_writable_and_a_retry_works():
    x = leaf([1.0, 2.0])
    h = x * 3
    failing = [True]

    def flaky(g):
        if failing[0]:
            raise KeyError("boom")

    h.register_hook(flaky)
    y = h.sum()
    with pytest.raises(KeyError):
        y.backward(retain_graph=True)
    assert x.grad is None  # nothing was half written
    failing[0] = False
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])

    square = x * x
    z = square.sum()
    square.register_hook(lambda g: 1 / 0)  # raises after backward freed the sum's node
    with pytest.raises(ZeroDivisionError):
        z.backward()
    x.data[0] = 10.0  # the failed backward gave the array back
    with pytest.raises(RuntimeError, match="freed"):
        z.backward()  # the graph was freed on the way; a clear error, as torch


# ---- grad mode per thread -------------------------------------------------------------------


def test_no_grad_in_one_thread_leaves_another_threads_graphs_alone():
    x = leaf([1.0, 2.0])
    inside, go_on = threading.Event(), threading.Event()
    seen = []

    def evaluator():
        with tl.no_grad():
            seen.append(tl.is_grad_enabled())
            inside.set()
            go_on.wait(5)

    thread = threading.Thread(target=evaluator)
    thread.start()
    inside.wait(5)
    y = (x * x).sum()  # this thread is still in grad mode
    assert tl.is_grad_enabled() and y.requires_grad
    go_on.set()
    thread.join()
    y.backward()
    assert seen == [False]
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_overlapping_blocks_exiting_in_the_wrong_order_restore_each_threads_mode():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    def first():
        with tl.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()
        after["first"] = tl.is_grad_enabled()

    def second():
        a_in.wait(5)
        with tl.no_grad():
            b_in.set()
            a_out.wait(5)  # the first thread leaves its block while this one is still inside
        after["second"] = tl.is_grad_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert after == {"first": True, "second": True}
    assert tl.is_grad_enabled()


def test_one_no_grad_decorator_used_by_many_threads_at_once():
    @tl.no_grad()
    def evaluate(x, barrier):
        barrier.wait(5)  # every thread is inside the decorated function at the same time
        return (x * 2).requires_grad

    x = leaf([1.0])
    n = 8
    barrier = threading.Barrier(n)
    results, modes = [], []

    def work():
        results.append(evaluate(x, barrier))
        y = x * 3
        modes.append((tl.is_grad_enabled(), y.requires_grad))

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [False] * n
    assert modes == [(True, True)] * n


def test_threads_training_and_evaluating_at_once_get_the_right_gradients():
    rng = np.random.default_rng(0)
    w_value = rng.standard_normal((4, 3))
    errors = []

    def train(seed):
        local = np.random.default_rng(seed)
        for _ in range(200):
            w = Tensor(w_value, requires_grad=True)
            x = local.standard_normal((5, 4))
            (Tensor(x) @ w).tanh().sum().backward()
            expected = x.T @ (1 - np.tanh(x @ w_value) ** 2)
            if w.grad is None or not np.allclose(w.grad.numpy(), expected):
                errors.append(seed)

    def evaluate():
        for _ in range(500):
            with tl.no_grad():
                (Tensor(w_value) * 2).sum()

    threads = [threading.Thread(target=train, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---- anomaly mode ---------------------------------------------------------------------------


def test_anomaly_mode_names_the_forward_op_and_the_users_line_for_a_forward_nan():
    x = leaf([1.0, -1.0])
    with tl.detect_anomaly():
        with pytest.raises(tl.AnomalyError, match=r"forward of Sqrt .*shape \(2,\).*test_trust.py:\d+.*x.sqrt\(\)"):
            x.sqrt()
    assert (x.sqrt() * 0).shape == (2,)  # off again: no check, no error


def test_anomaly_mode_names_the_forward_op_whose_gradient_is_nan():
    x = leaf([0.0, 4.0])
    with tl.detect_anomaly():
        y = x.sqrt()
        y.name = "root"
        loss = y.sum()
        with pytest.raises(tl.AnomalyError, match=r"gradient for input 0 .*Sqrt .*'root'.*y = x.sqrt\(\)"):
            loss.backward()


def test_anomaly_mode_inside_nn_also_names_the_line_that_called_the_layer():
    import nn

    lstm = nn.LSTM(2, 3, dtype=np.float64)
    x = np.array([[[np.nan, 0.0]]])
    with tl.detect_anomaly():
        with pytest.raises(tl.AnomalyError, match=r"recurrent.py.*called from .*test_trust.py"):
            lstm(x)


def test_anomaly_mode_is_off_by_default():
    assert tl.engine._checks is None
    with tl.detect_anomaly():
        with tl.detect_anomaly():
            pass
        assert tl.engine._checks is not None  # the outer block is still on
    assert tl.engine._checks is None


# ---- what used to crash raw ----------------------------------------------------------------


def test_squeeze_of_one_axis():
    x = leaf(np.ones((1, 3, 1)))
    assert x.squeeze(0).shape == (3, 1)
    assert x.squeeze(-1).shape == (1, 3)
    assert tl.squeeze(x, (0, 2)).shape == (3,)
    with pytest.raises(tl.ShapeError, match="squeeze: axis 1 of shape"):
        x.squeeze(1)


@pytest.mark.parametrize("chunks", [0, -2, 1.5, True])
def test_chunk_of_a_bad_count_is_a_clear_error(chunks):
    with pytest.raises(ValueError, match=r"chunk: the number of chunks must be a positive int.*\(4,\)"):
        leaf(np.ones(4)).chunk(chunks)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_axis_is_empty(op):
    x = leaf(np.zeros((2, 0)))
    y = getattr(x, op)(1)
    assert y.shape == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0)


def test_an_integer_tensor_to_a_negative_power_is_a_clear_error():
    with pytest.raises(ValueError, match=r"pow: integers to negative integer powers.*int64"):
        Tensor([1, 2]) ** -1
    np.testing.assert_array_equal((Tensor([1.0, 2.0]) ** -1).numpy(), [1.0, 0.5])


def test_logsumexp_of_all_minus_inf_is_minus_inf():
    x = leaf(np.full((2, 3), -np.inf))
    assert np.all(x.logsumexp(axis=1).numpy() == -np.inf)
    assert x.logsumexp().item() == -np.inf
    mixed = leaf([-np.inf, 0.0])
    assert mixed.logsumexp().item() == 0.0


def test_gradcheck_of_a_python_number_is_a_clear_type_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"got float.*not .item\(\)"):
        tl.gradcheck(lambda x: x.sum().item(), [x])


def test_gradcheck_says_which_value_was_nan():
    x = leaf([0.0, 1.0])
    with pytest.warns(RuntimeWarning), pytest.raises(tl.GradcheckError, match="numerical value is NaN.*not differentiable"):
        tl.gradcheck(lambda x: x.sqrt(), [x])


def test_gradcheck_in_low_precision_says_float64_is_needed():
    x = Tensor(np.array([0.3, 1.0], np.float32), requires_grad=True)
    with pytest.warns(UserWarning), pytest.raises(tl.GradcheckError, match="float32: finite differences.*float64"):
        tl.gradcheck(lambda x: x.exp(), [x])


def test_deepcopy_of_a_model_in_a_live_graph_gives_plain_leaves():
    import copy

    import nn

    lstm = nn.LSTM(3, 4)
    out, _ = lstm(np.ones((2, 1, 3), np.float32))  # the parameters are frozen by this graph
    twin = copy.deepcopy(lstm)
    assert all(p.data.flags.writeable and p.requires_grad for p in twin.parameters())
    assert twin.double().weight_ih_l0.dtype == np.float64  # no frozen state came along
    out.sum().backward()
    again = copy.deepcopy(lstm)
    np.testing.assert_array_equal(again.weight_ih_l0.grad.numpy(), lstm.weight_ih_l0.grad.numpy())
    assert again.weight_ih_l0 is not lstm.weight_ih_l0
