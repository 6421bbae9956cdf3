"""The benchmarks' pure functions: how compare.py summarises runs and checks its two sides, and
how run.py's report reads its targets. Nothing here times anything."""

import datetime
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import compare  # noqa: E402
import report  # noqa: E402


def test_turn_order_alternates_which_side_goes_first():
    sides = ["A", "B"]
    assert [compare.turn_order(t, sides) for t in range(4)] == [["A", "B"], ["B", "A"], ["A", "B"], ["B", "A"]]


def test_a_run_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians():
    # the load doubles in the last two rounds, for both sides alike: per round OTHER is 10% slower
    base = [1.0, 1.0, 1.0, 2.0, 2.0]
    other = [1.1, 1.1, 1.1, 2.2, 2.2]
    run = compare.summarise_run(base, other)
    assert run["ratio"] == pytest.approx(1.1)
    assert (run["base"], run["other"]) == (1.0, 1.1)
    # a single noisy round moves the median ratio not at all
    run = compare.summarise_run(base, [1.1, 1.1, 1.1, 2.2, 9.0])
    assert run["ratio"] == pytest.approx(1.1)


def test_combine_gives_medians_and_the_range_of_run_ratios():
    runs = [{"base": b, "other": o, "ratio": r} for b, o, r in
            [(1.0, 1.2, 1.01), (3.0, 0.9, 0.97), (2.0, 1.0, 1.30), (5.0, 1.1, 1.00)]]
    summary = compare.combine(runs)
    assert summary["base"] == 2.5 and summary["other"] == pytest.approx(1.05)
    assert summary["ratio"] == pytest.approx(1.005)
    assert (summary["low"], summary["high"], summary["runs"]) == (0.97, 1.30, 4)


def test_turn_plan_fills_a_turn_and_keeps_the_minimum_of_rounds():
    block, rounds = compare.turn_plan(0.002, budget=2.0)
    assert block == int(compare.BLOCK_S / 0.002)
    assert rounds == int(2.0 / (2 * (block + 1) * 0.002))
    assert compare.turn_plan(0.5, budget=2.0) == (1, compare.MIN_ROUNDS)  # one slow step per turn


def test_relative_difference():
    assert compare.relative_difference([0.25, 3.0], [0.25, 3.0]) == 0.0
    assert compare.relative_difference([1.0, 0.0], [1.0, 2.0]) == 1.0
    assert compare.relative_difference([2.0, 4.0], [2.0, 4.004]) == pytest.approx(0.004 / 4.004)  # of the larger
    with pytest.raises(ValueError, match="2 numbers against 1"):
        compare.relative_difference([1.0, 2.0], [1.0])


def test_different_results_stop_the_comparison():
    same = compare.check_same_results({"small": [0.5, 1.0]}, {"small": [0.5, 1.0 + 1e-7]}, rtol=1e-5)
    assert same["small"] == pytest.approx(1e-7, rel=1e-3)
    with pytest.raises(SystemExit, match="small: BASE computes"):
        compare.check_same_results({"small": [0.5, 1.0]}, {"small": [0.5, 1.01]}, rtol=1e-5)


def test_a_side_must_import_its_own_copy():
    side = compare.Side("BASE", "abc", "abc (subject)", "abc", lib="/tmp/x/base")
    compare.check_library(side, {"tinygrad_lite": "/tmp/x/base/tinygrad_lite/__init__.py"})
    for elsewhere in ("/work/main/tinygrad_lite/__init__.py", "/tmp/x/base2/tinygrad_lite/__init__.py"):
        with pytest.raises(SystemExit, match="BASE imported tinygrad_lite from"):
            compare.check_library(side, {"tinygrad_lite": elsewhere})


def _results(ratios, per_op_ratio=None, long_peak=None, compiled=None, compiled_peak=None):
    lstm = {case: {"ratio": r, "ratio_compiled": (compiled or {}).get(case, {})} for case, r in ratios.items()}
    per_op = {"us_per_op": {"ours": 2.0, "torch": 4.0}}
    if per_op_ratio is not None:
        per_op["ratio"] = per_op_ratio
    memory = {} if long_peak is None else {("long", "ours"): {"tracemalloc_peak_mib": long_peak}}
    if compiled_peak is not None:
        memory["long", "ours_compiled"] = {"tracemalloc_peak_mib": compiled_peak}
    return report.Results(started=datetime.datetime(2026, 1, 1), command="", load=(0, 0, 0), cases=list(ratios),
                          impls=["ours", "numpy", "torch_composed"], timing={"tuned": {"lstm": lstm, "per_op": per_op}},
                          main_mode="tuned", memory=memory)


def test_targets_come_from_the_table_and_only_for_what_was_measured():
    res = _results({"main": {"numpy": 1.2, "torch_composed": 0.81}, "small": {"numpy": 3.0, "torch_composed": 1.0}})
    rows = {name: (value, ok) for name, value, ok in report.target_rows(res)}
    # torch_composed_slices was not run, long was not measured, nor per-op against torch, nor memory
    assert rows == {
        "main: ours ≤ 0.8 × torch composed (chunk)": ("0.81×", False),
        "main: ours ≤ 1.2 × numpy hand-written BPTT": ("1.20×", True),  # at most: the bound itself is met
        "small: ours < 1 × torch composed (chunk)": ("1.00×", False),  # strictly below: equal is not
    }


def test_memory_and_per_op_targets():
    res = _results({"long": {"numpy": 1.0, "torch_composed": 0.9}}, per_op_ratio=0.6, long_peak=40.0)
    rows = {name: ok for name, _, ok in report.target_rows(res)}
    assert rows["per-op overhead below torch eager's"] is True
    assert rows["long: eager peak memory ≤ 1.5 × bytes backward must keep"] is True  # 40 MiB against 1.5 × 29.3
    res = _results({"long": {"numpy": 1.0, "torch_composed": 0.9}}, per_op_ratio=1.0, long_peak=45.0)
    rows = {name: ok for name, _, ok in report.target_rows(res)}
    assert not rows["per-op overhead below torch eager's"]
    assert not rows["long: eager peak memory ≤ 1.5 × bytes backward must keep"]


def test_compiled_targets_are_the_compiled_steps_ratios():
    res = _results({"small": {"numpy": 2.0, "torch_composed": 0.8}, "long": {"numpy": 1.5, "torch_composed": 0.9}},
                   compiled={"small": {"numpy": 1.5, "torch_composed": 0.6}, "long": {"numpy": 1.21, "torch_composed": 1.0}},
                   long_peak=120.0, compiled_peak=58.0)
    rows = {name: (value, ok) for name, value, ok in report.target_rows(res)}
    assert rows["small: compiled ≤ 1.5 × numpy hand-written BPTT"] == ("1.50×", True)
    assert rows["long: compiled ≤ 1.2 × numpy hand-written BPTT"] == ("1.21×", False)
    assert rows["long: compiled < 1 × torch composed (chunk)"] == ("1.00×", False)
    assert rows["long: compiled peak memory ≤ 2 × bytes backward must keep"][1] is True  # 58 MiB against 2 × 29.3
    assert rows["long: eager peak memory ≤ 1.5 × bytes backward must keep"][1] is False
    assert not any(name.startswith("main") for name in rows)  # main was not measured


def test_fastest_turns_ignore_a_burst_of_load():
    run = compare.fastest([1.0, 3.0, 1.1], [2.5, 1.02, 1.05])
    assert (run["base"], run["other"]) == (1.0, 1.02) and run["ratio"] == pytest.approx(1.02)
