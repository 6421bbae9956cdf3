"""The curvature side of the vanishing/exploding story: the Hessian of a tanh RNN's loss in W_hh.

    python examples/hessian_spectrum.py [--out DIR] [--quick]

A small nn.RNN (float64, hidden 6, T = 20) reads a fixed batch of the adding problem and a fixed
linear readout predicts the answer from the last h. Its recurrent weight is set to
W_hh = s * W0 / sigma1(W0), W0 being the layer's own initial W_hh, so that sigma1(W_hh) = s,
and for every scale s the example finds the eigenvalue of largest |lambda| of the Hessian of
the loss with respect to W_hh (36 x 36) twice:

* by power iteration with Hessian-vector products (functional.hvp: two backward passes, the
  Hessian never formed). Power iteration converges to the eigenvalue of largest magnitude,
  positive or negative; it is reported with its sign. Each iterate is stopped by a certificate:
  once ||H v - theta v|| <= 1e-7 |theta| some eigenvalue lies within 1e-7 |theta| of theta (and
  the Rayleigh quotient theta is closer still: its error is of the order of the residual squared).
  Each step gains a factor |lambda_2| / |lambda_1|, so it stalls where the spectrum's two ends
  have nearly equal magnitudes; the table gives that ratio and marks a run that did not converge.
* from the whole Hessian (functional.hessian, reshaped to 36 x 36, np.linalg.eigvalsh).

It prints one row per scale and what the numbers say, and writes hessian_spectrum.png to the
output folder (default out/hessian/). --quick sweeps four scales instead of fifteen.
"""

import argparse
import pathlib
import sys
import time
from dataclasses import dataclass

import numpy as np
from lstm_showcase.tasks import adding_batch  # examples/lstm_showcase: the showcase's tasks

import nn
from tinygrad_lite import Tensor, functional

HIDDEN, STEPS, BATCH = 6, 20, 32
SCALES = tuple(np.round(np.arange(0.25, 2.0 + 1e-9, 0.125), 3))
QUICK_SCALES = (0.5, 1.0, 1.5, 2.0)
RESIDUAL_TOL = 1e-7     # the power iteration's stopping certificate, relative to |theta|
MAX_ITERATIONS = 1500   # the convergence rate is |lambda_2| / |lambda_1| per iteration
AGREEMENT = 1e-6        # the relative error the comparison with the whole Hessian must meet


@dataclass
class Problem:
    """A fixed RNN, readout and batch; ``loss(w_hh)`` is the loss as a function of W_hh alone."""

    rnn: nn.RNN
    head: nn.Linear
    x: Tensor
    y: Tensor
    direction: np.ndarray  # W0 / sigma1(W0)

    def loss(self, w_hh):
        out, _ = nn.utils.functional_call(self.rnn, {"weight_hh_l0": w_hh}, (self.x,))
        return nn.functional.mse_loss(self.head(out[-1]), self.y)

    def memory(self, w_hh):
        """||dh_T/dh_1||_2 over the run's T - 1 steps, the geometric mean over the batch (nn.flow)."""
        norms = nn.flow.jacobian_norms(
            lambda x: nn.utils.functional_call(self.rnn, {"weight_hh_l0": w_hh}, (x,)), self.x,
            recurrent=self.rnn).h[1]
        return float(np.exp(np.mean(np.log(norms))))

    def w_hh(self, scale):
        return Tensor(scale * self.direction)


def make_problem(hidden=HIDDEN, steps=STEPS, batch=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    x, y = adding_batch(rng, batch, steps)
    rnn = nn.RNN(2, hidden, dtype=np.float64, rng=rng)
    head = nn.Linear(hidden, 1, dtype=np.float64, rng=rng)
    w0 = rnn.weight_hh_l0.numpy()
    return Problem(rnn, head, Tensor(x.astype(np.float64)), Tensor(y.astype(np.float64)),
                   w0 / sigma1(w0))


def sigma1(matrix):
    return np.linalg.svd(matrix, compute_uv=False)[0]


def power_iteration(loss, w, tol=RESIDUAL_TOL, max_iterations=MAX_ITERATIONS, seed=0):
    """(theta, iterations, converged): the eigenvalue of H = d2 loss / dw2 of largest |lambda|, with its sign."""
    v = np.random.default_rng(seed).standard_normal(w.shape)
    v /= np.linalg.norm(v)
    for iteration in range(1, max_iterations + 1):
        _, hv = functional.hvp(loss, w, Tensor(v))
        hv = hv.numpy()
        theta = float(np.sum(v * hv))  # the Rayleigh quotient, v being a unit vector
        if np.linalg.norm(hv - theta * v) <= tol * abs(theta):
            return theta, iteration, True
        v = hv / np.linalg.norm(hv)
    return theta, max_iterations, False


def dense_spectrum(loss, w):
    """Every eigenvalue of the Hessian in w, from functional.hessian, ascending."""
    n = w.size
    return np.linalg.eigvalsh(functional.hessian(loss, w).numpy().reshape(n, n))


def largest_magnitude(eigenvalues):
    return float(eigenvalues[np.argmax(np.abs(eigenvalues))])


def measure(problem, scale):
    """One row of the sweep: sigma1, the power iteration's result, the whole spectrum's, ||dh_T/dh_1||."""
    w = problem.w_hh(scale)
    theta, iterations, converged = power_iteration(problem.loss, w)
    eigenvalues = dense_spectrum(problem.loss, w)
    top = largest_magnitude(eigenvalues)
    magnitudes = np.sort(np.abs(eigenvalues))
    return dict(scale=scale, sigma1=sigma1(w.numpy()), power=theta, iterations=iterations,
                converged=converged, dense=top, rel_error=abs(theta - top) / abs(top),
                lam_min=float(eigenvalues[0]), lam_max=float(eigenvalues[-1]),
                gap_ratio=float(magnitudes[-2] / magnitudes[-1]), loss=problem.loss(w).item(),
                memory=problem.memory(w))


def sweep(problem, scales):
    return [measure(problem, s) for s in scales]


# ---- what the numbers say ------------------------------------------------------------------


def table(rows):
    head = (f"{'s':>6} {'sigma1':>8} {'top λ (hvp)':>13} {'iters':>6} {'top λ (hessian)':>16} "
            f"{'rel. err':>9} {'λ_min':>9} {'λ_max':>9} {'|λ2|/|λ1|':>10} {'loss':>7} {'‖∂h_T/∂h_1‖':>12}")
    lines = [head]
    for r in rows:
        iters = f"{r['iterations']}" + ("" if r["converged"] else "!")
        lines.append(f"{r['scale']:6.3f} {r['sigma1']:8.4f} {r['power']:+13.6f} {iters:>6} {r['dense']:+16.6f} "
                     f"{r['rel_error']:9.1e} {r['lam_min']:+9.4f} {r['lam_max']:+9.4f} {r['gap_ratio']:10.4f} "
                     f"{r['loss']:7.4f} {r['memory']:12.2e}")
    if not all(r["converged"] for r in rows):
        lines.append(f"  ! not converged in {MAX_ITERATIONS} iterations")
    return "\n".join(lines)


def agreement_sentence(rows):
    good = [r for r in rows if r["converged"] and r["rel_error"] <= AGREEMENT]
    worst = max(good, key=lambda r: r["rel_error"]) if good else None
    text = (f"Power iteration with hvp matched hessian()'s largest-|λ| eigenvalue to {AGREEMENT:g} relative "
            f"at {len(good)} of {len(rows)} scales")
    if worst is not None:
        iterations = [r["iterations"] for r in good]
        text += (f" (worst {worst['rel_error']:.1e} at s = {worst['scale']:g}; "
                 f"{min(iterations)} to {max(iterations)} iterations)")
    sentences = [text + "."]
    for r in rows:
        if r not in good:
            sentences.append(
                f"At s = {r['scale']:g} it {'converged' if r['converged'] else 'did not converge'} in "
                f"{r['iterations']} iterations (relative error {r['rel_error']:.1e}): there |λ2|/|λ1| = "
                f"{r['gap_ratio']:.4f}, the two largest magnitudes being λ_min = {r['lam_min']:+.4f} and "
                f"λ_max = {r['lam_max']:+.4f}, and power iteration gains only that factor per step.")
    return sentences


def sign_sentence(rows):
    positive = [r["sigma1"] for r in rows if r["dense"] > 0]
    negative = [r["sigma1"] for r in rows if r["dense"] < 0]
    if not negative or not positive:
        kind = "positive (the loss curves upward most)" if positive else "negative (the loss curves downward most)"
        return f"The largest-|λ| eigenvalue is {kind} at every scale."
    if max(positive) < min(negative):
        return (f"The largest-|λ| eigenvalue is positive (upward curvature dominates) up to σ₁ = {max(positive):.3g} "
                f"and negative from σ₁ = {min(negative):.3g} on: there the loss bends down along some direction "
                f"of W_hh more sharply than it bends up along any.")
    return (f"The largest-|λ| eigenvalue is positive at σ₁ = {', '.join(f'{s:.3g}' for s in positive)} "
            f"and negative at σ₁ = {', '.join(f'{s:.3g}' for s in negative)}.")


def growth_sentences(rows):
    """How fast |top λ| grows with sigma1 below and above 1, from the log-log slopes between neighbours."""
    sig = np.array([r["sigma1"] for r in rows])
    mag = np.abs([r["dense"] for r in rows])
    if len(rows) < 2:
        return []
    one = int(np.argmin(np.abs(sig - 1)))
    sentences = []
    if 0 < one < len(rows) - 1:
        sentences.append(
            f"|top λ| grows ×{mag[one] / mag[0]:.2f} from σ₁ = {sig[0]:.3g} to {sig[one]:.3g} "
            f"(σ₁ ×{sig[one] / sig[0]:.2f}) and ×{mag[-1] / mag[one]:.2f} from σ₁ = {sig[one]:.3g} to "
            f"{sig[-1]:.3g} (σ₁ ×{sig[-1] / sig[one]:.2f}).")
    slopes = np.diff(np.log(mag)) / np.diff(np.log(sig))
    k = int(np.argmax(slopes))
    where = ("above σ₁ = 1" if sig[k] >= 1 else "below σ₁ = 1" if sig[k + 1] <= 1 else "across σ₁ = 1")
    below, above = slopes[sig[1:] <= 1], slopes[sig[:-1] >= 1]
    text = (f"The log-log slope d log|top λ| / d log σ₁ is steepest between σ₁ = {sig[k]:.3g} and "
            f"{sig[k + 1]:.3g} ({slopes[k]:.2f}), {where}")
    if len(below) and len(above):
        text += f"; it averages {below.mean():.2f} below σ₁ = 1 and {above.mean():.2f} above"
    flat = int(np.argmin(slopes))
    text += f", and is flattest between σ₁ = {sig[flat]:.3g} and {sig[flat + 1]:.3g} ({slopes[flat]:.2f})"
    sentences.append(text + ".")
    memory = [r["memory"] for r in rows]
    crossing = next((f"first at σ₁ = {s:.3g}" for s, m in zip(sig, memory) if m > 1), "at none of these scales")
    peak = int(np.argmax(memory))
    sentences.append(f"Beside it the first-order picture: ||∂h_T/∂h_1|| over the {STEPS - 1} steps (geometric mean "
                     f"over the batch) is {memory[0]:.1e} at σ₁ = {sig[0]:.3g}, {memory[one]:.1e} at σ₁ = "
                     f"{sig[one]:.3g}, largest ({memory[peak]:.1e}) at σ₁ = {sig[peak]:.3g} and {memory[-1]:.1e} at "
                     f"σ₁ = {sig[-1]:.3g}; it exceeds 1 {crossing}.")
    return sentences


def summary(rows):
    return agreement_sentence(rows) + [sign_sentence(rows)] + growth_sentences(rows)


# ---- the picture ----------------------------------------------------------------------------


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    sig = [r["sigma1"] for r in rows]
    fig, (ends, top, memory) = plt.subplots(1, 3, figsize=(15, 4.4))
    ends.plot(sig, [r["lam_max"] for r in rows], "-", color="tab:blue", label="λ_max (hessian)")
    ends.plot(sig, [r["lam_min"] for r in rows], "-", color="tab:red", label="λ_min (hessian)")
    for r in rows:
        ends.plot(r["sigma1"], r["power"], "o", color="black", mfc="black" if r["converged"] else "white")
    ends.plot([], [], "o", color="black", label="power iteration (hvp)" +
              ("" if all(r["converged"] for r in rows) else "; hollow: not converged"))
    ends.axhline(0, color="grey", lw=0.8)
    ends.set(ylabel="eigenvalue of ∂²loss/∂W_hh²", title="The spectrum's two ends")

    top.plot(sig, [abs(r["dense"]) for r in rows], "-", color="grey", zorder=1)
    for sign, colour in ((1, "tab:blue"), (-1, "tab:red")):
        picked = [r for r in rows if np.sign(r["dense"]) == sign]
        if picked:
            top.plot([r["sigma1"] for r in picked], [abs(r["dense"]) for r in picked], "o", color=colour,
                     label=f"largest-|λ| eigenvalue {'> 0' if sign > 0 else '< 0'}", zorder=2)
    top.set(xscale="log", yscale="log", ylabel="|largest-|λ| eigenvalue|", title="Top curvature (log-log)")

    memory.plot(sig, [r["memory"] for r in rows], "o-", color="tab:green", label="‖∂h_T/∂h_1‖₂ (batch geo. mean)")
    memory.set(xscale="log", yscale="log", title=f"First order: memory over {STEPS - 1} steps")
    for ax in (ends, top, memory):
        ax.set_xlabel("σ₁(W_hh)")
        ax.axvline(1, color="grey", ls="--", lw=0.8)
        ax.grid(alpha=0.3, which="both" if ax is top else "major")
        ax.legend(fontsize=8)
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.5 and 2 rather than 5×10⁻¹ and 2×10⁰
    for ax in (top, memory):
        ax.xaxis.set_major_locator(FixedLocator([s for s in (0.25, 0.5, 1, 2) if min(sig) <= s <= max(sig)]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(plain)
    top.yaxis.set_major_formatter(plain)
    top.yaxis.set_minor_formatter(plain)
    fig.suptitle(f"Hessian of a tanh RNN's loss in W_hh = s·W0/σ₁(W0) (hidden {HIDDEN}, adding problem, "
                 f"T = {STEPS}, float64)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/hessian"))
    parser.add_argument("--quick", action="store_true", help=f"sweep only s = {QUICK_SCALES}")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    problem = make_problem()
    rows = sweep(problem, QUICK_SCALES if args.quick else SCALES)
    print(f"Hessian of the loss in W_hh ({HIDDEN}x{HIDDEN}) of a tanh RNN, hidden {HIDDEN}, adding problem "
          f"T = {STEPS}, batch {BATCH}, float64; W_hh = s · W0/σ₁(W0)\n")
    print(table(rows) + "\n")
    for sentence in summary(rows):
        print(sentence)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "hessian_spectrum.png"
    plot(rows, path)
    print(f"\nwrote {path} in {time.perf_counter() - start:.1f} s")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
