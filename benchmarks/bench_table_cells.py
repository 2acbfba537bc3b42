"""How well the table cutter (`hyocr.tasks.tables.table_cells`) finds a table's structure, with no model.

TEDS-S (structure only) of the grid the cutter lays out against the ground truth's HTML, and how many
tables get exactly the right number of rows and columns, for one or more evaluation directories
(`gt.jsonl` with `html`, as `scripts/shards_to_gt.py` writes and ../shared/realdev/tables holds):

    python benchmarks/bench_table_cells.py runs/eval/heldout_tables ../shared/realdev/tables [-v]

`-v` lists the tables whose shape is wrong. Measurement only: the cutter's rules are not fitted to
realdev item by item.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from PIL import Image

from hyocr.eval.metrics import teds_s
from hyocr.tasks.tables import table_cells, table_html


def shape(html: str) -> tuple[int, int]:
    """(rows, columns) of a table's HTML, a row's columns counted with their colspans."""
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    cols = [sum(int(x or 1) for x in re.findall(r'<td(?: colspan="(\d+)")?', r)) for r in rows]
    return len(rows), max(cols, default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", help="evaluation directories with gt.jsonl and the table images")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the tables of the wrong shape")
    args = ap.parse_args()
    print(f"{'set':40} {'n':>4} {'TEDS-S':>7} {'shape ok':>9} {'s/table':>8}")
    for d in map(Path, args.dirs):
        items = [json.loads(line) for line in (d / "gt.jsonl").open()]
        total, right, t0 = 0.0, 0, time.perf_counter()
        for item in items:
            cells = table_cells(Image.open(d / item["image"]).convert("RGB"))
            html, _ = table_html(cells, ["x"] * len(cells))
            total += teds_s(html, item["html"])
            ok = shape(html) == shape(item["html"])
            right += ok
            if args.verbose and not ok:
                print(f"  {item['image']}: {shape(item['html'])} cut as {shape(html)}")
        n = max(1, len(items))
        secs = (time.perf_counter() - t0) / n
        print(f"{str(d):40} {len(items):4} {total / n:7.4f} {right:4}/{len(items):<4} {secs:8.3f}")


if __name__ == "__main__":
    main()
