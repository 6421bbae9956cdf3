"""The engine's order: each node once, after all its consumers; consumers outside the graph ignored."""

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_a_consumer_outside_the_backward_graph_does_not_block_its_input():
    # like an RNN's last h feeding both the stacked output and h_n, with a loss on the output only
    x = leaf([1.0, 2.0])
    h = x.tanh()
    out = tl.stack([h * 2, h * 3])
    h_n = tl.stack([h])  # never reached from the loss
    out.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 5 * (1 - np.tanh(x.numpy()) ** 2))
    h_n.sum().backward()  # the other branch was never walked and still works
    np.testing.assert_allclose(x.grad.numpy(), 6 * (1 - np.tanh(x.numpy()) ** 2))


def test_each_node_runs_once_even_when_reached_many_ways():
    calls = []
    x = leaf([0.5])
    h = x.exp()
    h.register_hook(lambda g: calls.append(float(g.item())))
    y = h
    for _ in range(10):  # a ladder of diamonds: h feeds every rung
        y = y * h + h
    y.sum().backward()
    assert len(calls) == 1  # h's gradient was complete when its hook ran


def test_a_leaf_made_after_its_graph_started_still_gets_its_gradient():
    x = leaf([2.0])
    y = x * x
    late = leaf([3.0])  # created after y, used after it: still older than its consumer
    (y * late).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0])
    np.testing.assert_allclose(late.grad.numpy(), [4.0])
