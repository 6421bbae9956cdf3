"""The unrolled graphs as Graphviz pictures, edges coloured by ||grad||.

Rendering needs the Graphviz program ``dot``. Without it the run goes on: each graph's DOT text
is written instead, and the report and the terminal say how to install Graphviz.
"""

from tinygrad_lite import viz

from . import measurements, tasks
from .settings import best_lstm, model_label, model_spec, slug


def draw_unrolls(s, seed, trained, out):
    """Draw the ``s.unroll``-step unroll of each trained model into ``out``.

    Returns {"sequence": the sequence drawn, "files": {(model, view): file name},
    "missing": None, or the message saying how to install Graphviz when ``dot`` is missing}.
    """
    tokens, keys = measurements.unroll_batch(s, seed)
    sequence = tasks.describe_tokens(tokens, s.K)
    title = f"'{sequence}' -> {tasks.vocabulary(s.K)[keys[0]]}"
    files, missing = {}, None
    for name, state in trained.items():
        loss, model = measurements.unroll_graph(s, name, state, tokens, keys)
        for view in views_of(s, name):
            options = {"view": view, "params": dict(model.named_parameters()),
                       "title": f"{model_label(name)}, trained at gap {s.memory_gap}: {title}"}
            files[(name, view)], error = save_graph(loss, out / f"unroll_{slug(name)}_{view}.svg", options)
            missing = missing or error
    return {"sequence": sequence, "files": files, "missing": missing}


def views_of(s, name):
    """The featured LSTM is drawn op by op too; every model one box per step."""
    return ("cells", "ops") if model_spec(name)[0] == "lstm" and name == best_lstm(s) else ("cells",)


def save_graph(loss, path, options):
    """(file name, None) for the picture at ``path``; without Graphviz (DOT file name, install message)."""
    try:
        viz.save(loss, path, **options)
        return path.name, None
    except viz.GraphvizNotFound as error:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(viz.to_dot(loss, **options), encoding="utf-8")
        return dot_path.name, str(error)
