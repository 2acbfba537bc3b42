"""Time TEDS on a 50-cell table (10 rows x 5 columns); the target is < 50 ms per comparison.

Cases: a few cells with typos (the common one when scoring a model), a changed structure (a merged
cell and a dropped row: the tree edit distance does real work), and the structure-only variant.
Prints the median and the worst of `--repeat` runs, in milliseconds, beside the target.

    .venv/bin/python benchmarks/bench_teds.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from hyocr.eval.metrics import teds, teds_s

TARGET_MS = 50.0


def table(rows: int = 10, cols: int = 5, edit=None, drop_row: int = -1) -> str:
    cells = [[f"cell {r}-{c} value {r * c}" for c in range(cols)] for r in range(rows)]
    body = []
    for r, row in enumerate(cells):
        if r == drop_row:
            continue
        tds = []
        for c, text in enumerate(row):
            tds.append(edit(r, c, text) if edit else f"<td>{text}</td>")
        body.append("<tr>" + "".join(t for t in tds if t) + "</tr>")
    head, rest = body[0], body[1:]
    return f"<table><thead>{head}</thead><tbody>{''.join(rest)}</tbody></table>"


def typos(r: int, c: int, text: str) -> str:
    return f"<td>{text.replace('value', 'valve')}</td>" if (r + c) % 4 == 0 else f"<td>{text}</td>"


def restructured(r: int, c: int, text: str) -> str:
    if r == 3 and c == 1:
        return f'<td colspan="2">{text}</td>'
    if r == 3 and c == 2:
        return ""
    return f"<td>{text}</td>"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per case")
    args = ap.parse_args()
    gt = table()
    cases = {
        "typos in 13 of 50 cells": (teds, table(edit=typos)),
        "merged cell + dropped row": (teds, table(edit=restructured, drop_row=7)),
        "dropped row": (teds, table(drop_row=7)),
        "identical": (teds, gt),
        "TEDS-S, merged cell": (teds_s, table(edit=restructured)),
    }
    print(f"TEDS on a 50-cell table, {args.repeat} runs per case, {os.cpu_count()} CPU cores")
    print(f"{'case':<28}{'score':>8}{'median ms':>11}{'max ms':>9}{'target ms':>11}")
    worst = 0.0
    for name, (fn, pred) in cases.items():
        fn(pred, gt)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            score = fn(pred, gt)
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        worst = max(worst, med)
        print(f"{name:<28}{score:>8.4f}{med:>11.1f}{max(times):>9.1f}{TARGET_MS:>11.0f}")
    print(
        f"slowest median {worst:.1f} ms: {'meets' if worst < TARGET_MS else 'MISSES'} the {TARGET_MS:.0f} ms target"
    )


if __name__ == "__main__":
    main()
