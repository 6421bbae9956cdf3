"""How the report writes numbers: values over seeds, solved steps, tables, comparisons."""

import numpy as np


def fmt_values(values, fmt):
    """One seed: the value; several: median [min-max]."""
    if len(values) == 1:
        return format(values[0], fmt)
    median = np.median(values)
    median = int(round(median)) if fmt.endswith("d") else float(median)
    return f"{format(median, fmt)} [{format(min(values), fmt)}–{format(max(values), fmt)}]"


def fmt_steps(cell):
    """'solved at 75' / 'not solved in 600'; with several seeds 'solved by 2/3 seeds, at 75 [50–100]'."""
    steps = [st for st, ok in zip(cell["steps"], cell["solved"]) if ok]
    n = len(cell["solved"])
    if n == 1:
        return f"solved at {steps[0]}" if steps else f"not solved in {cell['steps'][0]}"
    if not steps:
        return f"solved by 0/{n} seeds in {max(cell['steps'])}"
    return f"solved by {len(steps)}/{n} seeds, at {fmt_values(steps, 'd')}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def compare(a, b, within=10.0):
    """How a compares with b, to follow 'a is': 'within a factor 10 of' or '2.3e-06 times'."""
    if not (a > 0 and b > 0):
        return "not comparable with"
    if max(a / b, b / a) <= within:
        return f"within a factor {within:g} of"
    return f"{a / b:.1e} times"
