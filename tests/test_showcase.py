"""The showcase runs end to end (--quick) and writes every file of its report."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "examples" / "showcase.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Run ``showcase.py --quick`` in a fresh process (as the README's command does) into a tmp dir."""
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz program 'dot' is not installed (make setup installs it)")
    out = tmp_path_factory.mktemp("showcase")
    run = subprocess.run([sys.executable, str(SHOWCASE), "--quick", "--out", str(out), "--seed", "0"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stdout + run.stderr
    return out, run.stdout


def test_quick_run_writes_every_file(report):
    out, stdout = report
    text = (out / "report.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    files = {p.name for p in out.iterdir()}
    expected = {"report.md", "results.json", "flow.png", "token_accuracy.png", "adding_mse.png",
                "unroll_rnn_cells.svg", "unroll_lstm3_cells.svg", "unroll_lstm3_ops.svg"}
    assert expected <= files
    # the Markdown links every picture written, and every link resolves to a non-trivial file
    pictures = {name for name in files if name.endswith((".png", ".svg"))}
    assert set(images) == pictures
    for name in pictures:
        assert (out / name).stat().st_size > 5000, name
    for name in (n for n in pictures if n.endswith(".png")):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    for name in (n for n in pictures if n.endswith(".svg")):
        svg = (out / name).read_text(encoding="utf-8")
        assert "<svg" in svg and "h[1]" in svg, name  # a drawn unroll names its states
    assert "done in" in stdout and "[10/10" in stdout  # the progress display counted every job


def test_report_numbers_come_from_the_run(report):
    out, _ = report
    text = (out / "report.md").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text())
    assert text.startswith("# ") and "python examples/showcase.py --quick" in text  # how to regenerate it
    for heading in ("Gradient flow over T = 100 steps", "long-gap token task", "adding problem"):
        assert heading in text
    # the tables print the measured ratios and scores
    flow = results["flow"]
    for name, m in flow["init"].items():
        assert f"{m['ratios'][0]:.1e}" in text, name
    for name, cells in results["token"].items():
        for gap, cell in cells.items():
            assert f"{cell['accuracy'][0]:.3f}" in text, (name, gap)
    for name, cells in results["adding"].items():
        for T, cell in cells.items():
            assert f"{cell['mse'][0]:.4f}" in text, (name, T)
    # every flow curve has a norm for each of the T steps, and the RNN's vanishes at initialisation
    rnn = flow["init"]["rnn"]
    assert len(rnn["norms"]) == 101 and rnn["ratios"][0] < 1e-10
    assert f"Total run time **{results['timings']['total']:.0f} s**" in text


@pytest.mark.parametrize("mode", ["quick", "default", "full"])
def test_every_mode_has_a_budget_for_every_run(mode):
    """The settings of each mode are complete: a missing budget would only fail after an hour of --full."""
    import showcase  # examples/ is on sys.path (conftest)

    s = showcase.settings_for(mode)
    assert set(s.token_steps) == set(s.gaps) and set(s.adding_steps) == set(s.lengths)
    assert s.memory_gap in s.gaps and "rnn" in s.token_models and "rnn" in s.adding_models
    assert all(g > s.memory_gap for g in s.longer_gaps)
    jobs = showcase.make_jobs(s, seed=0)
    assert len(jobs) == s.seeds * (len(s.token_models) * len(s.gaps) + len(s.adding_models) * len(s.lengths))
    assert len({name for name, *_ in jobs}) == len(jobs)
