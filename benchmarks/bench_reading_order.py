"""How well the page cutter (`hyocr.tasks.segment`) orders a page, with no model.

Each segment the reader would be handed (`task_segments`) takes the texts of the ground truth's
lines whose centres fall in it, in the ground truth's order; the page's text in segment order is
compared with the ground truth's text (NED, mean over pages; 0 when every line is found and in
order). Lines no segment holds count as missing text. The worst pages are listed:

    python benchmarks/bench_reading_order.py runs/eval/dev_pages runs/eval/heldout_pages --worst 3

Measurement only: the cutter's rules are not fitted to held-out pages item by item.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from hyocr.eval.metrics import ned
from hyocr.tasks.segment import task_segments


def page_order_ned(image: Image.Image, boxes: list[dict], task: str = "spotting") -> float:
    """NED between the ground truth's text and its lines re-ordered by the cutter's segments."""
    taken: set[int] = set()
    texts: list[str] = []
    centres = [(sum(b["poly"][0::2]) / 4, sum(b["poly"][1::2]) / 4) for b in boxes]
    for seg in task_segments(task, image):
        x0, y0, x1, y1 = seg.box
        for j, (cx, cy) in enumerate(centres):
            if j not in taken and x0 <= cx <= x1 and y0 <= cy <= y1:
                taken.add(j)
                texts.append(boxes[j]["text"])
    return ned(" ".join(texts), " ".join(b["text"] for b in boxes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="evaluation directories (gt.jsonl with boxes)")
    ap.add_argument("--task", default="spotting", help="whose segments: spotting or document")
    ap.add_argument("--worst", type=int, default=3, help="list this many of the worst pages")
    args = ap.parse_args()
    print(f"{'set':40} {'n':>4} {'order NED':>10} {'s/page':>7}")
    for d in args.dirs:
        items = [json.loads(line) for line in (d / "gt.jsonl").open()]
        t0 = time.perf_counter()
        scores = [
            (page_order_ned(Image.open(d / it["image"]).convert("RGB"), it["boxes"], args.task), it["image"])
            for it in items
        ]
        n = max(1, len(scores))
        secs = (time.perf_counter() - t0) / n
        print(f"{str(d):40} {len(scores):4} {sum(s for s, _ in scores) / n:10.4f} {secs:7.3f}")
        for s, name in sorted(scores, reverse=True)[: args.worst]:
            print(f"  {name}: {s:.3f}")


if __name__ == "__main__":
    main()
