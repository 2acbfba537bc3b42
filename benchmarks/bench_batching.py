"""How a page's segment crops are batched for the shipped line reader: in page order (as before)
or in the order of their width to height (`OCR._generate(by_shape=True)`, the default for segments),
at 16 or 32 crops to a batch, side by side in one run on the same pages.

Per setting: seconds per page (the page cut and every crop read), and the text NED against the
ground truth (case-sensitive) to show that the readings did not change beyond bf16 batch noise.

    .venv/bin/python benchmarks/bench_batching.py runs/eval/heldout_pages --n 20 --task text
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from hyocr.api import OCR
from hyocr.eval.metrics import TextNorm, ned

NORM = TextNorm(nfkc=True, whitespace=True)


class Ordered(OCR):
    """The API with the crops' batching order fixed to `shape_order`."""

    shape_order = True

    def _generate(self, prompt, images, *args, **kw):
        if "by_shape" in kw:
            kw["by_shape"] = self.shape_order
        return super()._generate(prompt, images, *args, **kw)


def run(items, task: str, by_shape: bool, batch: int) -> tuple[float, float]:
    ocr = Ordered(batch_size=batch)
    ocr.shape_order = by_shape
    read = getattr(ocr, task)
    read(items[0][0])  # warm-up, not counted
    t0 = time.perf_counter()
    out = [read(im) for im, _ in items]
    secs = (time.perf_counter() - t0) / len(items)
    texts = [getattr(r, "markdown", None) or r.text for r in out]
    return secs, sum(ned(t, g, NORM) for t, (_, g) in zip(texts, items, strict=True)) / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="an evaluation directory (gt.jsonl with text, the images)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--task", default="text", choices=("text", "document", "spotting"))
    args = ap.parse_args()
    rows = [json.loads(x) for x in (args.folder / "gt.jsonl").read_text().splitlines()[: args.n]]
    items = [(Image.open(args.folder / r["image"]).convert("RGB"), r["text"]) for r in rows]
    print(f"{len(items)} pages of {args.folder}, task {args.task}")
    print(f"{'order':>14} {'batch':>6} {'s/page':>8} {'text NED':>9}")
    for by_shape, batch in ((False, 16), (True, 16), (False, 32), (True, 32)):
        secs, score = run(items, args.task, by_shape, batch)
        order = "width/height" if by_shape else "page"
        print(f"{order:>14} {batch:>6} {secs:>8.3f} {score:>9.4f}", flush=True)


if __name__ == "__main__":
    main()
