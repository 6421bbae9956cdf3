"""examples/hessian_spectrum.py: power iteration with hvp finds hessian()'s largest-|λ| eigenvalue,
its sentences follow the numbers, and the --quick run writes its picture; the README's example of
higher-order gradients runs as written and computes what its comments say."""

import os
import pathlib
import re
import subprocess
import sys

import hessian_spectrum as hs
import numpy as np
import pytest

from tinygrad_lite import Tensor, functional

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def problem():
    return hs.make_problem()


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_power_iteration_equals_the_whole_hessians_top_eigenvalue(problem, scale):
    w = problem.w_hh(scale)
    theta, iterations, converged = hs.power_iteration(problem.loss, w)
    top = hs.largest_magnitude(hs.dense_spectrum(problem.loss, w))
    assert converged and iterations > 1
    assert abs(theta - top) <= 1e-6 * abs(top)


def test_the_whole_hessian_matches_pytorchs(problem):
    torch = pytest.importorskip("torch")
    ref = torch.nn.RNN(2, hs.HIDDEN, dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in problem.rnn.state_dict().items()})
    weight, bias = (torch.tensor(p.numpy()) for p in (problem.head.weight, problem.head.bias))
    x, y = torch.tensor(problem.x.numpy()), torch.tensor(problem.y.numpy())

    def loss(w_hh):
        out, _ = torch.func.functional_call(ref, {"weight_hh_l0": w_hh}, (x,))
        return ((out[-1] @ weight.T + bias - y) ** 2).mean()

    w = 1.5 * problem.direction
    n = w.size
    theirs = np.linalg.eigvalsh(torch.autograd.functional.hessian(loss, torch.tensor(w)).numpy().reshape(n, n))
    np.testing.assert_allclose(hs.dense_spectrum(problem.loss, Tensor(w)), theirs, rtol=1e-9, atol=1e-12)


def quadratic(diagonal):
    """A loss whose Hessian is diag(diagonal)."""
    d = Tensor(np.asarray(diagonal, dtype=np.float64))
    return lambda w: (d * w * w).sum() * 0.5


def test_power_iteration_reports_the_sign_and_refuses_a_tie():
    w = Tensor(np.zeros(3))
    theta, _, converged = hs.power_iteration(quadratic([1.0, -3.0, 0.5]), w)
    assert converged and theta == pytest.approx(-3.0, rel=1e-12)
    # +3 and -3: the iterate swings between the two eigenvectors, and the certificate never holds
    theta, iterations, converged = hs.power_iteration(quadratic([3.0, -3.0, 1.0]), w, max_iterations=200)
    assert not converged and iterations == 200


def row(sigma, top, memory=0.5):
    return dict(scale=sigma, sigma1=sigma, dense=top, memory=memory)


def test_the_sentences_follow_the_numbers():
    # |top λ| = σ on the way up, then σ^4 past σ = 1: steepest above 1; the sign flips at 1.5
    sig = [0.5, 1.0, 1.5, 2.0]
    rows = [row(s, (s if s <= 1 else s**4) * (1 if s < 1.5 else -1)) for s in sig]
    assert "steepest between σ₁ = 1 and 1.5" in hs.growth_sentences(rows)[1]
    assert "above σ₁ = 1" in hs.growth_sentences(rows)[1]
    assert "positive (upward curvature dominates) up to σ₁ = 1 and negative from σ₁ = 1.5" in hs.sign_sentence(rows)
    # the same magnitudes reversed in σ: steepest below 1 now
    rows = [row(s, 1 / m) for s, m in zip(sig, [1.0, 1.0 / 8, 1 / 8.5, 1 / 9])]
    assert "below σ₁ = 1" in hs.growth_sentences(rows)[1]
    assert "positive (the loss curves upward most) at every scale" in hs.sign_sentence(rows)


def test_the_quick_run_writes_its_picture(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "hessian_spectrum.py"), "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stdout + run.stderr
    n = len(hs.QUICK_SCALES)
    assert f"to 1e-06 relative at {n} of {n} scales" in run.stdout
    png = tmp_path / "hessian_spectrum.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_the_readmes_higher_order_example_computes_what_it_says():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Higher-order gradients", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    x = ns["x"].numpy()
    assert ns["g"].requires_grad
    np.testing.assert_allclose(ns["g"].numpy(), 3 * x**2)
    np.testing.assert_allclose(ns["gg"].numpy(), 6 * x)
    np.testing.assert_allclose(ns["H"].numpy(), np.diag(6 * x))
    whole = functional.hessian(ns["loss"], ns["rnn"].weight_hh_l0).numpy().reshape(9, 9)
    np.testing.assert_allclose(ns["hv"].numpy().ravel(), whole @ np.eye(3).ravel(), rtol=1e-10, atol=1e-12)
