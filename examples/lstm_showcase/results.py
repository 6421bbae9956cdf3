"""The jobs' results gathered per task, model and size, and results.json, which holds every number."""

import dataclasses
import json

import numpy as np

from .jobs import explode_name, job_name, random_name
from .settings import best_lstm


def collect(s, seed, results):
    """Per task, model and size: the lists over seeds of scores, steps, seconds and histories."""
    token = {name: {} for name in s.token_models}
    adding = {name: {} for name in s.adding_models}
    for k in range(s.seeds):
        for name in s.token_models:
            for gap in s.gaps:
                r = results[job_name("token", name, gap, seed + k)]
                cell = token[name].setdefault(gap, {"accuracy": [], "steps": [], "solved": [], "seconds": [],
                                                    "histories": [], "longer": []})
                _append(cell, r, "accuracy")
                if "longer" in r:
                    cell["longer"].append(r["longer"])
        for name in s.adding_models:
            for T in s.lengths:
                r = results[job_name("adding", name, T, seed + k)]
                cell = adding[name].setdefault(T, {"mse": [], "best": [], "baseline": [], "steps": [],
                                                   "solved": [], "seconds": [], "histories": []})
                _append(cell, r, "mse")
                cell["best"].append(r["best"])
                cell["baseline"].append(r["baseline"])
    return token, adding


def _append(cell, r, score):
    hist = r["history"]
    cell[score].append(r[score])
    cell["steps"].append(hist["stopped"])
    cell["solved"].append(hist["solved"])
    cell["seconds"].append(hist["seconds"])
    cell["histories"].append(hist)


def trained_states(s, seed, results):
    """{model: state_dict} of the token models trained at the memory gap (first seed)."""
    return {name: results[job_name("token", name, s.memory_gap, seed)]["state"] for name in s.token_models}


def gate_states(s, seed, results):
    """{seed: state_dict} of the featured LSTM trained at the memory gap, for each of the analysis seeds."""
    lstm = best_lstm(s)
    return {seed + k: results[job_name("token", lstm, s.memory_gap, seed + k)]["state"]
            for k in range(s.analysis_seeds)}


def explode_runs(s, seed, results):
    """[{"radius": setting (None: as initialised), "runs": {"unclipped": [per seed], "clipped": [...]}}]."""
    return [{"radius": radius,
             "runs": {label: [results[explode_name(radius, clip, seed + k)] for k in range(s.analysis_seeds)]
                      for label, clip in (("unclipped", None), ("clipped", s.clip))}}
            for radius in s.explode_radii]


def random_results(s, seed, results, token, adding):
    """Random search on each task beside the trained LSTM's steps and score there (first seed)."""
    lstm = best_lstm(s)
    found = []
    for task, size, cell in (("token", s.memory_gap, token[lstm][s.memory_gap]),
                             ("adding", s.random_T, adding[lstm][s.random_T])):
        r = results[random_name(task, size, seed)]
        found.append({**{k: v for k, v in r.items() if k != "summary"}, "model": lstm,
                      "lstm_steps": cell["steps"][0], "lstm_score": cell["accuracy" if task == "token" else "mse"][0],
                      "lstm_solved": cell["solved"][0]})
    return found


def save_results(path, s, seed, timings, flow, token, adding, results, mechanism):
    """Write results.json: the settings, the timings and every measured number (the histories once).

    ``mechanism``: the gate activity, the Jacobians, the exploding runs and the random search.
    """
    path.write_text(json.dumps(jsonable({
        "settings": dataclasses.asdict(s), "seed": seed, "timings": timings, "flow": flow,
        "token": {name: without_histories(cells) for name, cells in token.items()},
        "adding": {name: without_histories(cells) for name, cells in adding.items()},
        **mechanism,
        "histories": {name: r["history"] for name, r in results.items() if "history" in r},
    }), indent=1))


def without_histories(cells):
    """{size: cell} without each cell's histories (results.json holds them once, per job)."""
    return {size: {k: v for k, v in cell.items() if k != "histories"} for size, cell in cells.items()}


def jsonable(x):
    """``x`` with numpy values as Python ones, dict keys as strings and NaN/inf as None (null)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x
