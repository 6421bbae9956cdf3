"""What a run trains and measures: one dataclass, three sizes, and the names of the models."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Settings:
    mode: str
    seeds: int                  # seeds per training configuration (seed, seed+1, ...)
    hidden: int = 32            # hidden units of every RNN and LSTM
    batch: int = 64
    # the token task
    K: int = 8                  # key classes (chance = 1/K)
    embed: int = 16
    gaps: tuple = (5, 20, 50, 100)
    token_steps: dict = None    # gap -> step budget
    token_lr: float = 3e-3
    token_models: tuple = ("rnn", "lstm+3", "lstm+1", "gru")
    token_test: int = 512       # held-out sequences, evaluated every token_eval steps
    token_eval: int = 25
    token_target: float = 0.99  # accuracy that counts as solved (training stops there)
    memory_gap: int = 50        # models trained at this gap are tested at longer gaps and measured
    longer_gaps: tuple = (98, 200)
    # the adding problem
    lengths: tuple = (50, 100, 200)
    adding_steps: dict = None   # T -> step budget
    adding_lr: float = 1e-2
    adding_models: tuple = ("rnn", "lstm+3")
    adding_test: int = 256      # test sequences, evaluated every adding_eval steps
    adding_eval: int = 50
    adding_target: float = 0.01  # test MSE that counts as solved (training stops there)
    clip: float = 1.0           # gradient clipping (joint norm) for every training run
    # gradient flow
    flow_T: int = 100
    flow_seeds: int = 5
    flow_models: tuple = ("rnn", "lstm+0", "lstm+1", "lstm+3", "lstm+5", "lstm+pinned", "gru")
    unroll: int = 4             # steps of the graph pictures
    # the mechanism: gate activity, Jacobians, exploding gradients, random search
    analysis_seeds: int = 3     # seeds of the LSTMs whose gates are measured (and of the exploding runs)
    gate_sequences: int = 256   # held-out sequences the gate activity is measured on
    key_units: int = 8          # the units with the largest |dL/dC_1| that the report calls the key units
    jacobian_models: tuple = ("rnn", "lstm+3", "gru")
    jacobian_sequences: int = 8  # sequences of the flow batch whose Jacobians are measured
    explode_radii: tuple = (None, 1.5, 3.0)  # spectral radius of W_hh at the start (None: as initialised)
    explode_T: int = 50         # the adding problem at this length
    explode_steps: int = 300
    explode_lr: float = 0.1     # plain SGD
    random_T: int = 100         # random search on the adding problem at this T (and the token task at memory_gap)
    compiled: bool = True       # token task and adding problem train under tinygrad_lite.compile (--eager: not)


PINNED_BIAS = 30.0  # sigmoid(30) = 1 - 1e-13 and sigmoid(-30) = 1e-13: gates pinned open and shut


def settings_for(mode):
    """The Settings of a mode: "quick" (seconds), "default" (about a minute) or "full" (an hour or more)."""
    if mode == "quick":
        return Settings("quick", seeds=1, gaps=(5, 20), token_steps={5: 100, 20: 100}, memory_gap=20,
                        longer_gaps=(40,), lengths=(20, 40), adding_steps={20: 300, 40: 300}, flow_seeds=1,
                        analysis_seeds=1, gate_sequences=64, jacobian_sequences=2, explode_radii=(None, 3.0),
                        explode_T=20, explode_steps=40, random_T=40)
    if mode == "full":
        return Settings("full", seeds=3, gaps=(5, 20, 50, 100, 200),
                        token_steps={5: 1000, 20: 2000, 50: 3000, 100: 4000, 200: 4000},
                        longer_gaps=(98, 200, 400), lengths=(50, 100, 200, 400, 1000),
                        explode_radii=(None, 1.5, 2.0, 3.0), explode_steps=1000, jacobian_sequences=32,
                        adding_steps={50: 3000, 100: 3000, 200: 4000, 400: 4000, 1000: 3000})
    if mode == "default":
        return Settings("default", seeds=1, token_steps={5: 400, 20: 600, 50: 800, 100: 800},
                        adding_steps={50: 1500, 100: 1500, 200: 2000})
    raise ValueError(f"settings_for: mode must be 'quick', 'default' or 'full', got {mode!r}")


# ---------------------------------------------------------------------------------------------
# model names: "rnn", "lstm+3" (forget-gate bias 3), "lstm+pinned"


def model_spec(name):
    """'rnn' -> ('rnn', 0.0); 'gru' -> ('gru', 0.0); 'lstm+3' -> ('lstm', 3.0); 'lstm+pinned' -> ('lstm', PINNED_BIAS).

    'lstm+pinned' also gets the input-gate bias -PINNED_BIAS (see measurements.pin_input_gate):
    f = 1 and i = 0, the bare cell path, along which dC_t/dC_{t-1} = f_t = 1 exactly.
    """
    if name in ("rnn", "gru"):
        return name, 0.0
    bias = name.split("+", 1)[1]
    return "lstm", PINNED_BIAS if bias == "pinned" else float(bias)


def memory_path(name):
    """The state that carries the model's memory: h for the RNN and the GRU, C for an LSTM."""
    return "C" if model_spec(name)[0] == "lstm" else "h"


def model_label(name):
    kind, bias = model_spec(name)
    if kind == "rnn":
        return "tanh RNN"
    if kind == "gru":
        return "GRU"
    if name.endswith("pinned"):
        return f"LSTM, f pinned to 1 and i to 0 (biases ±{bias:g})"
    return f"LSTM, forget bias {bias:+g}"


def best_lstm(s):
    """The LSTM the report features: the largest forget bias among the trained ones."""
    return max((m for m in s.token_models if model_spec(m)[0] == "lstm"), key=lambda m: model_spec(m)[1])


def slug(name):
    """The model's name in file names: 'lstm+3' -> 'lstm3'."""
    return name.replace("+", "")
