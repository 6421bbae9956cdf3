"""Gate activity of the LSTM trained on the long-gap token task: when it writes, keeps and reads its memory.

For each seed's LSTM trained at the memory gap, on held-out sequences (float64 copy):

* which units keep the key, by measurement: each unit's mean |dL/dC_1[j]| over the sequences
  (C_1 is written at the key; the loss depends on a unit's C_1 when that unit carries the key to
  the query); the ``key_units`` top-ranked units are the key units;
* ablation, to check the ranking: the key units' C replaced by its batch mean in the middle of
  the gap (what they hold about each sequence's key is gone), against the same number of the
  lowest-ranked units; and how many top-ranked units must be ablated to take the accuracy halfway
  to chance (how widely the key is spread);
* for the key units and for the others: the input gate at the key against elsewhere, the forget
  gate's mean and minimum over the gap, the output gate at the query against elsewhere;
* one sequence's i_t, f_t, o_t and C_t (units x time) for the heat maps.
"""

import numpy as np

import nn
from tinygrad_lite import Tensor, grad, no_grad

from . import measurements, tasks


def gate_batch(s, seed):
    """Held-out sequences at the memory gap (none of them was trained on): a key, the gap, the query."""
    return tasks.token_batch(np.random.default_rng([seed, 16]), s.gate_sequences, s.memory_gap, s.K)


def key_sensitivity(model, tokens, keys):
    """(per unit mean over the batch of |dL/dC_1[j]|, the trace of that forward pass)."""
    loss = nn.functional.cross_entropy(model(tokens), keys)
    trace = model.rnn.trace
    (g,) = grad(loss, [trace.C[1]])
    return np.abs(g.data).mean(axis=0), trace


def ablated_logits(model, tokens, units, after):
    """The model's logits with the cell state C of ``units`` replaced, after step ``after``, by its
    mean over the batch: what C holds about each sequence's key is gone, its typical size stays.

    Runs the trained weights step by step through nn.LSTMCell (the same equations as nn.LSTM), so
    the intervention sits between two steps; no units: the unablated model.
    """
    lstm = model.rnn
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=lstm.weight_ih_l0.dtype)
    cell.load_state_dict({name.removesuffix("_l0"): p.data for name, p in lstm.named_parameters()})
    ablate = np.zeros(lstm.hidden_size, bool)
    ablate[list(units)] = True
    with no_grad():
        x = model.embed(tokens)
        h = c = None
        for t in range(1, tokens.shape[0] + 1):
            h, c = cell(x[t - 1], None if h is None else (h, c))
            if t == after:
                c = Tensor(np.where(ablate, c.data.mean(axis=0), c.data))
        return model.head(h).data


def ablation_accuracy(model, tokens, keys, units, after):
    return float(np.mean(ablated_logits(model, tokens, units, after).argmax(axis=1) == keys))


def ablation_curve(model, tokens, keys, order, after, chance):
    """Accuracy with the top 1, 2, ... units of ``order`` ablated, until it is halfway (or more) from
    intact to chance; returns (that curve, the intact accuracy)."""
    intact = ablation_accuracy(model, tokens, keys, [], after)
    curve = []
    for k in range(1, len(order) + 1):
        curve.append(ablation_accuracy(model, tokens, keys, order[:k], after))
        if curve[-1] <= chance + (intact - chance) / 2:
            break
    return curve, intact


def gate_statistics(trace, units, gap):
    """The gates of ``units``: i at the key (t = 1) and elsewhere, f over the gap, o at the query (t = T) and elsewhere."""
    T = trace.T
    i, f, o = (np.stack([getattr(trace, g)[t].data[:, units] for t in range(1, T + 1)]) for g in "ifo")
    filler = slice(1, gap + 1)  # steps 2..gap+1 read the distractors (index t-1)
    return {"i_key": float(i[0].mean()), "i_else": float(i[1:].mean()),
            "f_gap_mean": float(f[filler].mean()), "f_gap_min": float(f[filler].min()),
            "o_query": float(o[T - 1].mean()), "o_else": float(o[:T - 1].mean())}


def heat_maps(trace, order, tokens, K, column=0):
    """One sequence's i, f, o and C as (units in ``order``) x (time) arrays, and its words."""
    T = trace.T
    maps = {g: np.stack([getattr(trace, g)[t].data[column, order] for t in range(1, T + 1)], axis=1).tolist()
            for g in ("i", "f", "o", "C")}
    return {**maps, "words": [tasks.vocabulary(K)[w] for w in tokens[:, column]]}


def seed_gate_activity(s, seed, name, state, heat=False):
    """Everything this module measures for one trained LSTM (seed ``seed``); ``heat``: the heat maps too."""
    model = measurements.flow_model(s, name, seed, state)
    tokens, keys = gate_batch(s, seed)
    sensitivity, trace = key_sensitivity(model, tokens, keys)
    order = [int(j) for j in np.argsort(-sensitivity)]
    k = s.key_units
    key, others = order[:k], order[k:]
    after = 1 + s.memory_gap // 2  # the middle of the gap
    curve, intact = ablation_curve(model, tokens, keys, order, after, 1 / s.K)
    return {
        "seed": seed, "sensitivity": sensitivity.tolist(), "order": order, "key_units": key,
        "ablate_after": after, "accuracy": intact, "ablation_curve": curve, "units_to_halve": len(curve),
        "ablated_key": ablation_accuracy(model, tokens, keys, key, after),
        "ablated_control": ablation_accuracy(model, tokens, keys, order[-k:], after),
        "key": gate_statistics(trace, key, s.memory_gap), "others": gate_statistics(trace, others, s.memory_gap),
        "heat": heat_maps(trace, order, tokens, s.K) if heat else None}


def gate_activity(s, states, name):
    """{"model": name, "seeds": [...]}: each of the LSTMs ``states`` ({seed: state_dict}, trained at the
    memory gap) measured; the heat maps of the first seed's."""
    seeds = sorted(states)
    return {"model": name, "seeds": [seed_gate_activity(s, k, name, states[k], heat=k == seeds[0]) for k in seeds]}
