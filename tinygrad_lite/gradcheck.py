"""gradcheck: compare the engine's gradients with central finite differences, as torch.autograd.gradcheck."""

import warnings

import numpy as np

from .autograd import grad
from .engine import Tensor, enable_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError, RuntimeError):
    """The analytical and the numerical Jacobian disagree; the message names the worst entry."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check every d(output)/d(input) of ``fn(*inputs)`` against central differences.

    ``inputs`` is a Tensor or a sequence; the tensors among them with ``requires_grad=True`` are
    checked, anything else is passed through unchanged. ``fn`` returns a Tensor or a sequence of
    Tensors. An entry passes when ``|analytical - numerical| <= atol + rtol * |numerical|``.
    Returns True; on failure raises GradcheckError naming the worst entry (or returns False
    with ``raise_exception=False``). Use float64 inputs: float32 cannot resolve eps=1e-6.
    """
    return _check(fn, inputs, eps, atol, rtol, raise_exception, "gradcheck")


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the second derivatives of ``fn`` against finite differences of its first, as torch's.

    The function checked is ``(inputs, v) -> grad(fn(inputs), inputs, v, create_graph=True)``:
    its Jacobian holds d²(v·fn)/d(input)² and d/dv of the first derivatives. ``grad_outputs``
    (the v, one per output of fn) are drawn from a seeded normal when omitted; they require
    grad, so the derivative of the gradient with respect to them is checked too.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = _checked_inputs(inputs, "gradgradcheck")
    outputs = _as_outputs(fn(*inputs), "gradgradcheck")
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [rng.standard_normal(o.shape) for o in outputs]
    grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"gradgradcheck: fn has {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    vectors = [Tensor(v, dtype=o.dtype, requires_grad=True) for v, o in zip(grad_outputs, outputs)]
    n = len(inputs)

    def first_derivatives(*args):
        xs = args[:n]
        outs = _as_outputs(fn(*xs), "gradgradcheck")
        used = [(o, v) for o, v in zip(outs, args[n:]) if o.requires_grad]
        if not used:
            return tuple(Tensor(np.zeros(xs[i].shape)) for i in checked)
        grads = grad([o for o, _ in used], [xs[i] for i in checked], grad_outputs=[v for _, v in used],
                     create_graph=True, allow_unused=True)
        return tuple(Tensor(np.zeros(xs[i].shape)) if g is None else g for g, i in zip(grads, checked))

    return _check(first_derivatives, inputs + tuple(vectors), eps, atol, rtol, raise_exception, "gradgradcheck")


def _checked_inputs(inputs, op):
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{op}: no input requires grad; create them with requires_grad=True")
    return checked


def _check(fn, inputs, eps, atol, rtol, raise_exception, op):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = _checked_inputs(inputs, op)
    for i in checked:
        if inputs[i].dtype != np.float64:
            warnings.warn(f"{op}: input {i} is {inputs[i].dtype}, not float64; finite differences "
                          f"with eps={eps} are unreliable in low precision", UserWarning, stacklevel=3)
    outputs = _as_outputs(fn(*inputs), op)
    analytical = _analytical(outputs, [inputs[i] for i in checked])
    numerical = _numerical(fn, inputs, checked, eps, [o.size for o in outputs], op)
    worst = None
    for o, out in enumerate(outputs):
        for n, i in enumerate(checked):
            a, num = analytical[o][n], numerical[o][n]
            excess = np.abs(a - num) - (atol + rtol * np.abs(num))
            excess[np.isnan(a) | np.isnan(num)] = np.inf  # NaN never passes, and is reported first
            if excess.size and (worst is None or excess.max() > worst[0]):
                k = np.unravel_index(np.argmax(excess), excess.shape)
                worst = (excess[k], o, i, k, a[k], num[k], out.shape, inputs[i].shape)
    if worst is None or worst[0] <= 0:
        return True
    if not raise_exception:
        return False
    _, o, i, (row, col), a, num, out_shape, in_shape = worst
    out_index = np.unravel_index(row, out_shape) if out_shape else ()
    in_index = np.unravel_index(col, in_shape) if in_shape else ()
    where = (f"{op}: Jacobian mismatch for output {o} (shape {out_shape}) with respect to input {i} "
             f"(shape {in_shape}): worst entry d out{tuple(map(int, out_index))} / d in{tuple(map(int, in_index))}: "
             f"analytical {a:.10g}, numerical {num:.10g}")
    if np.isnan(a) or np.isnan(num):
        which = " and ".join(name for name, v in (("analytical", a), ("numerical", num)) if np.isnan(v))
        detail = (f"; the {which} value is NaN: the function is probably not differentiable at this input "
                  "(a kink, a pole, log or sqrt at 0), or its forward made a NaN")
    else:
        detail = f", |difference| {abs(a - num):.3g} > atol + rtol*|numerical| = {atol + rtol * abs(num):.3g}"
    low = sorted({str(inputs[k].dtype) for k in checked if inputs[k].dtype != np.float64})
    if low:
        detail += (f"; the inputs are {', '.join(low)}: finite differences with eps={eps} need float64, "
                   "convert them with .double() and check again")
    raise GradcheckError(where + detail)


def _as_outputs(result, op="gradcheck"):
    outputs = [result] if isinstance(result, Tensor) else list(result) if isinstance(result, (list, tuple)) else None
    if not outputs or not all(isinstance(o, Tensor) for o in outputs):
        raise TypeError(f"{op}: fn must return a Tensor or a sequence of Tensors, got {type(result).__name__}"
                        + (" (a Python number has no graph: return the Tensor, not .item())"
                           if isinstance(result, (int, float)) else ""))
    return outputs


def _analytical(outputs, tensors):
    """jac[o][n][k, j] = d outputs[o].flat[k] / d tensors[n].flat[j], one backward per output entry."""
    jac = []
    for out in outputs:
        rows = [np.zeros((out.size, x.size)) for x in tensors]
        if out.requires_grad:
            for k in range(out.size):
                seed = np.zeros(out.size, dtype=out.dtype)
                seed[k] = 1
                grads = grad(out, tensors, gradient=seed.reshape(out.shape), retain_graph=True, allow_unused=True)
                for n, g in enumerate(grads):
                    if g is not None:
                        rows[n][k] = g.numpy().ravel()
        jac.append(rows)
    return jac


def _numerical(fn, inputs, checked, eps, out_sizes, op="gradcheck"):
    """The same Jacobian by central differences, evaluating fn on perturbed copies of the inputs."""
    jac = [[np.zeros((size, inputs[i].size)) for i in checked] for size in out_sizes]
    for n, i in enumerate(checked):
        base = inputs[i].numpy().astype(np.float64)
        columns = []
        for j in range(base.size):
            values = []
            for step in (eps, -eps):
                moved = base.copy()
                moved.flat[j] += step
                args = list(inputs)
                args[i] = Tensor(moved.astype(inputs[i].dtype), requires_grad=True)
                outs = _as_outputs(_evaluate_with_grad(fn, args), op)
                values.append([o.numpy().astype(np.float64).ravel() for o in outs])
            columns.append([(plus - minus) / (2 * eps) for plus, minus in zip(*values)])
        for o in range(len(jac)):
            for j, column in enumerate(columns):
                jac[o][n][:, j] = column[o]
    return jac


def _evaluate_with_grad(fn, args):
    # grad mode on: fn may compute a gradient itself (a gradient penalty, an inner training
    # step, gradgradcheck's first derivatives), and that needs the graph of its forward
    with enable_grad():
        return fn(*args)
