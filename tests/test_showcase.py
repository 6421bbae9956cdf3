"""The showcase runs end to end (--quick) and writes every file of its report, with Graphviz or without."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from lstm_showcase.jobs import make_jobs  # examples/ is on sys.path (conftest)
from lstm_showcase.settings import best_lstm, settings_for

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "examples" / "showcase.py"
PLOTS = {"flow.png", "token_accuracy.png", "adding_mse.png", "gates.png", "jacobians.png", "explode.png",
         "random_search.png"}
GRAPHS = {"unroll_rnn_cells", "unroll_lstm3_cells", "unroll_lstm3_ops"}
INSTALL_GRAPHVIZ = ("apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz")


def run_quick(out, path=None):
    """Run ``showcase.py --quick`` in a fresh process (as the README's command does) into ``out``."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if path is not None:
        env["PATH"] = path
    run = subprocess.run([sys.executable, str(SHOWCASE), "--quick", "--out", str(out), "--seed", "0"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def path_without(program):
    """PATH without the folders that hold ``program``: a machine where it is not installed."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in folders if d and not os.path.exists(os.path.join(d, program)))


def linked_images(text):
    return set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))


def assert_pngs(out, names):
    for name in names:
        assert (out / name).stat().st_size > 5000, name
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz program 'dot' is not installed (make setup installs it)")
    out = tmp_path_factory.mktemp("showcase")
    return out, run_quick(out)


def test_quick_run_writes_every_file(report):
    out, stdout = report
    text = (out / "report.md").read_text(encoding="utf-8")
    files = {p.name for p in out.iterdir()}
    assert {"report.md", "results.json"} | PLOTS | {f"{g}.svg" for g in GRAPHS} <= files
    # the Markdown links every picture written, and every link resolves to a non-trivial file
    pictures = {name for name in files if name.endswith((".png", ".svg"))}
    assert linked_images(text) == pictures
    assert_pngs(out, (n for n in pictures if n.endswith(".png")))
    for name in (n for n in pictures if n.endswith(".svg")):
        svg = (out / name).read_text(encoding="utf-8")
        assert (out / name).stat().st_size > 5000, name
        assert "<svg" in svg and "h[1]" in svg, name  # a drawn unroll names its states
    n = len(make_jobs(settings_for("quick"), seed=0))
    assert "done in" in stdout and f"[{n}/{n}" in stdout  # the progress display counted every job
    assert not any(command in text + stdout for command in INSTALL_GRAPHVIZ)  # no advice where Graphviz works


def assert_report_shows_the_results(text, results):
    assert text.startswith("# ") and "python examples/showcase.py --quick" in text  # how to regenerate it
    for heading in ("Gradient flow over T = 100 steps", "long-gap token task", "adding problem"):
        assert heading in text
    # the tables print the measured ratios and scores
    for name, m in results["flow"]["init"].items():
        assert f"{m['ratios'][0]:.1e}" in text, name
    for name, cells in results["token"].items():
        for gap, cell in cells.items():
            assert f"{cell['accuracy'][0]:.3f}" in text, (name, gap)
    for name, cells in results["adding"].items():
        for T, cell in cells.items():
            assert f"{cell['mse'][0]:.4f}" in text, (name, T)
    assert f"Total run time **{results['timings']['total']:.0f} s**" in text
    assert_mechanism_sections(text, results)


def assert_mechanism_sections(text, results):
    """The gate activity, Jacobian, exploding-gradient, random-search and timing sections print the run's numbers."""
    for heading in ("Jacobians through time", "Gate activity", "Exploding gradients", "random-search baseline",
                    "Time per part"):
        assert heading in text
    for r in results["gates"]["seeds"]:
        assert f"| {r['seed']} | {r['accuracy']:.3f} | {r['ablated_key']:.3f} | {r['ablated_control']:.3f} |" in text
    for name, m in results["jacobians"]["trained"].items():
        value = m["h"][1] if "h" in m else m["C_cell"][1]
        assert (f"{value:.1e}" in text) or (f"{value:.2e}" in text), name
    assert "never exceeds the trajectory bound" in text  # the measured Jacobian norm is below its bound
    for entry in results["explode"]:
        for runs in entry["runs"].values():
            assert f"{runs[0]['max_norm']:.1e}" in text
    for r in results["random_search"]:
        assert format(r["improvements"][-1][3], ".3f" if r["task"] == "token" else ".4f") in text
    for part, seconds in {**results["timings"]["jobs_by_part"], **results["timings"]["after_by_part"]}.items():
        assert f"| {part} | {seconds['wall']:.1f} | {seconds['cpu']:.1f} |" in text, part


def test_report_numbers_come_from_the_run(report):
    out, _ = report
    text = (out / "report.md").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text())
    assert_report_shows_the_results(text, results)
    # every flow curve has a norm for each of the T steps, and the RNN's vanishes at initialisation
    rnn = results["flow"]["init"]["rnn"]
    assert len(rnn["norms"]) == 101 and rnn["ratios"][0] < 1e-10


def test_without_graphviz_the_report_keeps_every_table_and_plot(tmp_path):
    """No 'dot' on PATH: every table and plot still, the graphs as DOT text, and how to install Graphviz."""
    path = path_without("dot")
    assert shutil.which("dot", path=path) is None  # the run below really cannot find it
    stdout = run_quick(tmp_path, path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert_report_shows_the_results(text, json.loads((tmp_path / "results.json").read_text()))
    files = {p.name for p in tmp_path.iterdir()}
    assert linked_images(text) == PLOTS and not any(name.endswith(".svg") for name in files)
    assert_pngs(tmp_path, PLOTS)
    for graph in GRAPHS:
        assert f"({graph}.dot)" in text  # linked from the report
        dot = (tmp_path / f"{graph}.dot").read_text(encoding="utf-8")
        assert dot.startswith("digraph") and "h[1]" in dot, graph
    for command in INSTALL_GRAPHVIZ:
        assert command in text and command in stdout, command
    assert "done in" in stdout


@pytest.mark.parametrize("mode", ["quick", "default", "full"])
def test_every_mode_has_a_budget_for_every_run(mode):
    """The settings of each mode are complete: a missing budget would only fail after an hour of --full."""
    s = settings_for(mode)
    assert set(s.token_steps) == set(s.gaps) and set(s.adding_steps) == set(s.lengths)
    assert s.memory_gap in s.gaps and "rnn" in s.token_models and "rnn" in s.adding_models
    assert all(g > s.memory_gap for g in s.longer_gaps)
    jobs = make_jobs(s, seed=0)
    training = s.seeds * (len(s.token_models) * len(s.gaps) + len(s.adding_models) * len(s.lengths))
    gate_seeds = max(0, s.analysis_seeds - s.seeds)  # the featured LSTM's further seeds for the gate activity
    exploding = s.analysis_seeds * len(s.explode_radii) * 2  # with and without clipping
    assert len(jobs) == training + gate_seeds + exploding + 2  # + random search on the two tasks
    assert s.random_T in s.lengths and best_lstm(s) in s.adding_models  # random search is compared with them
    assert len({name for name, *_ in jobs}) == len(jobs)


def test_compiled_training_and_held_out_scores_follow_eager():
    # The showcase trains and evaluates under compile by default: the held-out outputs of a
    # replay are eager's exactly (the same ops in the same order), and a short training run
    # follows eager's within float32 rounding.
    import numpy as np
    from lstm_showcase import tasks

    from tinygrad_lite import Tensor, no_grad
    for model, test in ((tasks.TokenModel("lstm", 4, 8, 4, 1.0, rng=0), tasks.token_test_set(0, 5, 4, 32)[0]),
                        (tasks.AddingModel("gru", 8, rng=1), tasks.adding_test_set(0, 6, 16)[0])):
        judge = tasks.held_out_model(model, True)
        with no_grad():
            for _ in range(2):
                assert np.array_equal(judge(Tensor(test)).data, model(test).data)
        assert judge.recordings == 1
    runs = [tasks.train_adding("lstm", T=6, forget_bias=1.0, steps=20, lr=0.01, seed=0, eval_every=5, target=-1,
                               compiled=compiled)[1] for compiled in (False, True)]
    assert runs[0]["steps"] == runs[1]["steps"] == [0, 5, 10, 15, 20]
    np.testing.assert_allclose(runs[1]["scores"], runs[0]["scores"], rtol=1e-4)
    np.testing.assert_allclose(runs[1]["losses"][1:], runs[0]["losses"][1:], rtol=1e-4)
