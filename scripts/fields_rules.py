"""Score the key-field rules alone (hyocr.tasks.fields) on ground-truth lines: no model, no cutter.

Each item's ground-truth boxes are put into rows (`rows_of`) and the fields picked from them, so the
figures are what the rules reach when every line is read right. Prints, per key, exact match
(case-insensitive, whitespace collapsed) and mean 1 - NED.

    python scripts/fields_rules.py ../shared/realdev/receipts runs/eval/heldout_receipt_fields
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hyocr.data.render.base import quad_bounds
from hyocr.eval.metrics import ned
from hyocr.tasks.fields import pick_fields, rows_of
from hyocr.tasks.results import TextLine


def _norm(s: str | None) -> str:
    return " ".join((s or "").upper().split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", help="folders with a gt.jsonl holding boxes and fields")
    args = ap.parse_args()
    for folder in args.data:
        items = [json.loads(line) for line in (Path(folder) / "gt.jsonl").read_text().splitlines() if line]
        items = [it for it in items if it.get("fields") and it.get("boxes")]
        scores: dict[str, list[float]] = {}
        for it in items:
            lines = [
                TextLine(text=b["text"], box=list(quad_bounds(b["poly"])), box_norm=[0, 0, 0, 0], polygon=[])
                for b in it["boxes"]
            ]
            got = pick_fields(rows_of(lines), list(it["fields"]))
            for key, want in it["fields"].items():
                s = scores.setdefault(key, [0, 0, 0.0])
                s[0] += 1
                s[1] += _norm(got[key]) == _norm(want)
                s[2] += 1 - ned(_norm(got[key]), _norm(want))
        print(f"{folder} ({len(items)} items)")
        for key, (n, exact, sim) in sorted(scores.items()):
            print(f"  {key:12} exact {exact / n:.2f}  1-NED {sim / n:.2f}  (n={n})")


if __name__ == "__main__":
    main()
