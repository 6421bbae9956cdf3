"""run.py's Markdown report: one function per section, and the targets as data."""

import os
import platform
from dataclasses import dataclass, field

from implementations import CASES, LABELS
from numpy_lstm import kept_bytes
from timing import TUNED_MALLOC

# Speed targets for one LSTM training step: (case, reference, bound, strict) reads
# "ours ÷ reference ≤ bound" (or "< bound" when strict), the median of the per-round ratios.
SPEED_TARGETS = (
    ("main", "torch_composed", 0.8, False),
    ("main", "torch_composed_slices", 0.8, False),
    ("main", "numpy", 1.2, False),
    ("small", "torch_composed", 1.0, True),
    ("small", "torch_composed_slices", 1.0, True),
    ("long", "torch_composed", 1.0, True),
    ("long", "torch_composed_slices", 1.0, True),
)
# The same for the compiled step (tinygrad_lite.compile of the same loss function).
COMPILED_TARGETS = (
    ("small", "numpy", 1.5, False),
    ("main", "numpy", 1.15, False),
    ("long", "numpy", 1.2, False),
    ("small", "torch_composed", 1.0, True),
    ("main", "torch_composed", 1.1, False),
    ("long", "torch_composed", 1.0, True),
)
PER_OP_TARGET = 1.0  # ours ÷ torch eager per op, strictly below
# case, peak tracemalloc ÷ the bytes backward must keep, at most: eager, and compiled
MEMORY_TARGETS = (("ours", "long", 1.5), ("ours_compiled", "long", 2.0))
SHORT_NAMES = {"ours": "eager", "numpy": "numpy hand-written BPTT", "torch_composed": "torch composed (chunk)",
               "torch_composed_slices": "torch composed (slices)", "torch_fused": "torch fused"}
PER_OP_NAMES = {"ours": "tinygrad_lite, forward + backward", "torch": "torch eager, forward + backward",
                "numpy_forward_only": "raw numpy, forward only (the floor)"}


@dataclass
class Results:
    """Everything one run.py invocation measured."""
    started: object  # datetime, UTC
    command: str
    load: tuple
    cases: list
    impls: list
    timing: dict  # malloc mode -> what the timing worker returned
    main_mode: str  # the malloc mode of the main tables
    memory: dict = field(default_factory=dict)  # (case, impl) -> peak memory worker's result
    chain: dict | None = None
    cold: bool = False
    gc_frozen: bool = True

    @property
    def info(self):
        return self.timing[self.main_mode]


def fmt_ms(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def render(res):
    sections = (header, lstm_table, targets_table, per_op_table, chain_section, malloc_tables)
    return "\n".join(line for section in sections for line in section(res))


def header(res):
    info, load = res.info, res.load
    yield f"## tinygrad_lite benchmarks ({res.started:%Y-%m-%d %H:%M} UTC)\n"
    yield f"- command: `python {res.command}`"
    yield (f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
           f"{load[2]:.2f} at the start; Python {platform.python_version()}, numpy {info['numpy']}"
           + (f", torch {info['torch']}" if "torch" in info
              else ", torch not used (not installed, or --no-torch): its rows are left out"))
    yield "- threads: " + ", ".join(f"{k}={v}" for k, v in info["threads"].items())
    yield (f"- malloc for the tables below: {res.main_mode}"
           + (" (" + ", ".join(f"{k}={v}" for k, v in TUNED_MALLOC.items()) + ")" if res.main_mode == "tuned" else "")
           + ", the same for every implementation")
    yield ("- times: medians over interleaved rounds after warm-up; `ours ÷ ref` is the median of the per-round "
           "ratios (below 1: ours is faster); "
           + ("every single run counted, each right after another implementation's (--cold)" if res.cold else
              "each turn is a block of runs whose first (cache refill after the previous implementation) is not "
              "counted")
           + "; garbage collector " + ("frozen (gc.freeze) before timing" if res.gc_frozen else "not frozen")
           + "\n")


def lstm_table(res):
    lstm = res.info["lstm"]
    yield "### One training step of an LSTM (forward over T steps, mse_loss, backward), float32\n"
    yield ("| case (T, B, I, H) | implementation | median wall ms | median CPU ms | ours ÷ ref (wall) "
           "| ours ÷ ref (CPU) | compiled ÷ ref (wall) | peak tracemalloc MiB | peak RSS growth MiB |")
    yield "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for case in res.cases:
        r = lstm[case]
        for impl in res.impls:
            m = res.memory.get((case, impl), {})
            tm = m.get("tracemalloc_peak_mib")
            yield (f"| {case} {CASES[case]} | {LABELS[impl]} | {fmt_ms(r['wall_ms'][impl])} | "
                   f"{fmt_ms(r['cpu_ms'][impl])} | "
                   + ("—" if impl == "ours" else f"{r['ratio'][impl]:.2f}") + " | "
                   + ("—" if impl == "ours" else f"{r['ratio_cpu'][impl]:.2f}") + " | "
                   + (f"{r['ratio_compiled'][impl]:.2f}" if impl != "ours_compiled" and r.get("ratio_compiled")
                      else "—") + " | "
                   + (f"{tm:.1f}" if tm is not None else "—") + " | "
                   + (f"{m['rss_peak_mib']:.1f}" if m else "—") + " |")
    yield ""
    yield ("Rounds per case (runs per turn for ours): "
           + ", ".join(f"{c} {lstm[c]['rounds']} ({lstm[c]['block']['ours']})" for c in res.cases)
           + ". Worst relative gradient difference to ours (checked before timing): "
           + "; ".join(f"{c}: " + ", ".join(f"{k} {v:.1e}" for k, v in lstm[c]["grad_error"].items())
                       for c in res.cases) + ".\n")
    yield from _kept_bytes_line(res)


def _kept_bytes_line(res):
    kept_mib = {c: kept_bytes(*CASES[c]) / 2**20 for c in res.cases}
    mem = res.memory
    peaks = "; ".join(f"{c}: " + ", ".join(f"{i} {mem[c, i]['tracemalloc_peak_mib'] / kept_mib[c]:.2f}×"
                                           for i in ("ours", "ours_compiled", "numpy")
                                           if "tracemalloc_peak_mib" in mem.get((c, i), {}))
                      for c in res.cases if (c, "ours") in mem)
    yield ("Bytes that backward must keep (activations i, f, g, o, C, tanh C, h of every step, and x; "
           "see README): " + ", ".join(f"{c} {kept_mib[c]:.3g} MiB" for c in res.cases)
           + (f". Peak tracemalloc ÷ that: {peaks}" if peaks else "") + ".\n")


def target_rows(res):
    """(target, measured, met) for every target whose measurement this run made."""
    lstm = res.info["lstm"]
    for who, key, targets in (("ours", "ratio", SPEED_TARGETS), ("compiled", "ratio_compiled", COMPILED_TARGETS)):
        for case, ref, bound, strict in targets:
            ratios = lstm.get(case, {}).get(key, {})
            if ref in ratios and ref in res.impls:
                v = ratios[ref]
                yield (f"{case}: {who} {'<' if strict else '≤'} {bound:g} × {SHORT_NAMES[ref]}", f"{v:.2f}×",
                       v < bound if strict else v <= bound)
    po = res.info["per_op"]
    if "ratio" in po:
        yield ("per-op overhead below torch eager's" if PER_OP_TARGET == 1 else
               f"per-op overhead below {PER_OP_TARGET:g} × torch eager's",
               f"{po['us_per_op']['ours']:.2f} µs vs {po['us_per_op']['torch']:.2f} µs ({po['ratio']:.2f}×)",
               po["ratio"] < PER_OP_TARGET)
    for impl, case, bound in MEMORY_TARGETS:
        peak = res.memory.get((case, impl), {}).get("tracemalloc_peak_mib")
        if peak is not None:
            need = kept_bytes(*CASES[case]) / 2**20
            yield (f"{case}: {'compiled' if impl == 'ours_compiled' else 'eager'} peak memory ≤ {bound:g} × "
                   "bytes backward must keep",
                   f"{peak:.1f} MiB / {need:.1f} MiB = {peak / need:.2f}×", peak <= bound * need)


def targets_table(res):
    rows = list(target_rows(res))
    if not rows:
        return
    yield "### Targets\n"
    yield "| target | measured | |"
    yield "|---|---|---|"
    for name, value, ok in rows:
        yield f"| {name} | {value} | {verdict(ok)} |"
    yield ""


def per_op_table(res):
    po = res.info["per_op"]
    yield f"### Per-op overhead: a chain of {po['ops']:,} elementwise ops (mul, add, tanh) on a shape-(4,) tensor\n"
    yield "| implementation | µs per op (wall) | µs per op (CPU) |"
    yield "|---|---:|---:|"
    for k, v in po["us_per_op"].items():
        yield f"| {PER_OP_NAMES[k]} | {v:.2f} | {po['us_per_op_cpu'][k]:.2f} |"
    yield ""


def chain_section(res):
    c = res.chain
    if not c:
        return
    yield f"### Backward through a chain of {c['ops']:,} ops (mul, tanh on a shape-(4,) tensor)\n"
    yield (f"- building the graph: {c['build_s']:.2f} s; it holds {c['graph_mib']:.0f} MiB "
           f"({c['graph_mib'] * 2**20 / c['ops']:.0f} bytes per op: tensor, node, parents tuple, array; tracemalloc)")
    yield (f"- backward: {c['backward_s']:.2f} s ({c['backward_s'] / c['ops'] * 1e6:.2f} µs per op), peak "
           f"{c['peak_mib']:.0f} MiB while it runs: nothing beyond the graph itself, which backward frees as it "
           f"walks it ({c['after_mib']:.1f} MiB left after); no recursion; gradient finite: {c['grad_finite']}\n")


def malloc_tables(res):
    if len(res.timing) < 2:
        return
    default, tuned = res.timing["default"]["lstm"], res.timing["tuned"]["lstm"]
    yield "### glibc malloc: default against MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ set (same for all)\n"
    yield "| case | implementation | default ms | tuned ms | tuned ÷ default |"
    yield "|---|---|---:|---:|---:|"
    for case in res.cases:
        for impl in res.impls:
            d, t = default[case]["wall_ms"][impl], tuned[case]["wall_ms"][impl]
            yield f"| {case} | {LABELS[impl]} | {fmt_ms(d)} | {fmt_ms(t)} | {t / d:.2f} |"
    yield ""
    yield "| case | reference | ours ÷ ref, default malloc | ours ÷ ref, tuned malloc |"
    yield "|---|---|---:|---:|"
    for case in res.cases:
        rd, rt = default[case]["ratio"], tuned[case]["ratio"]
        for impl in res.impls[1:]:
            yield f"| {case} | {LABELS[impl]} | {rd[impl]:.2f} | {rt[impl]:.2f} |"
    yield ""
