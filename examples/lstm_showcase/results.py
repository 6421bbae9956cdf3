"""The jobs' results gathered per task, model and size, and results.json, which holds every number."""

import dataclasses
import json

import numpy as np

from .jobs import job_name


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


def save_results(path, s, seed, timings, flow, token, adding, results):
    """Write results.json: the settings, the timings and every measured number (the histories once)."""
    path.write_text(json.dumps(jsonable({
        "settings": dataclasses.asdict(s), "seed": seed, "timings": timings, "flow": flow,
        "token": {name: without_histories(cells) for name, cells in token.items()},
        "adding": {name: without_histories(cells) for name, cells in adding.items()},
        "histories": {name: r["history"] for name, r in results.items()},
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
