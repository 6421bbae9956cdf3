"""The unrolled graphs as Graphviz pictures, edges coloured by ||grad||.

Rendering needs the Graphviz program ``dot``. Without it the run goes on: each graph's DOT text
is written instead, and the report and the terminal say how to install Graphviz.
"""

from tinygrad_lite import viz

from . import measurements, tasks
from .settings import best_lstm, model_label, model_spec, slug


def draw_unrolls(s, seed, trained, out):
    """Draw the ``s.unroll``-step unroll of each trained model one box per step, and the first step
    of the featured LSTM's unroll op by op (the step that reads the key, with the gradient that
    reaches it from the loss; the op view of every step is too tall to read), into ``out``.

    Every picture is on one colour scale, so their colours compare. Returns {"sequence": the
    sequence drawn, "files": {(model, view): file name}, "grad_range": the shared (lo, hi),
    "missing": None, or the message saying how to install Graphviz when ``dot`` is missing}.
    """
    tokens, keys = measurements.unroll_batch(s, seed)
    title = f"'{tasks.describe_tokens(tokens, s.K)}' -> {tasks.vocabulary(s.K)[keys[0]]}"
    graphs = {name: measurements.unroll_graph(s, name, state, tokens, keys) for name, state in trained.items()}
    shared = viz.shared_grad_range(*(loss for loss, _ in graphs.values()))
    files, missing = {}, None
    for name, (loss, model) in graphs.items():
        trace = model.rnn.trace
        views = [("cells", loss, title)]
        if draws_ops(s, name):
            views.append(("ops", [trace.h[1], trace.C[1]], f"{title}, step 1 (the key) op by op"))
        for view, roots, caption in views:
            options = {"view": view, "params": dict(model.named_parameters()), "grad_range": shared,
                       "title": f"{model_label(name)}, trained at gap {s.memory_gap}: {caption}"}
            files[(name, view)], error = save_graph(roots, out / f"unroll_{slug(name)}_{view}.svg", options)
            missing = missing or error
    return {"sequence": tasks.describe_tokens(tokens, s.K), "files": files, "grad_range": shared, "missing": missing}


def draws_ops(s, name):
    """The featured LSTM is drawn op by op too."""
    return model_spec(name)[0] == "lstm" and name == best_lstm(s)


def save_graph(roots, path, options):
    """(file name, None) for the picture at ``path``; without Graphviz (DOT file name, install message)."""
    try:
        viz.save(roots, path, **options)
        return path.name, None
    except viz.GraphvizNotFound as error:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(viz.to_dot(roots, **options), encoding="utf-8")
        return dot_path.name, str(error)
