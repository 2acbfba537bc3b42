"""A page's formula candidates read after the unsure segments' second reading (the pipeline before
session 33) against beside it, one worker each (`OCR._side_by_side`, the default), and beside it
with the second reading searched with 2 beams instead of 4 (`reread_beams=2`), in one run on the
same pages, alternating A B C C B A...; seconds a page (one page a call) and how many pages'
texts differ from the first setting's.

    python benchmarks/bench_side_by_side.py runs/eval/heldout_pages --limit 20 --repeat 2

Session 33, this project's 2-core AVX2 machine, nothing else running, version 19, 20 held-out
pages (spotting), --repeat 2: after each other 5.04 / 5.12 s a page, side by side 3.74 / 3.80
(3 pages' texts differ: segments reread at one thread instead of two), side by side with 2
beams 3.76 / 3.61 (9 differ).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hyocr import OCR


class AfterEachOther(OCR):
    """The pipeline before session 33: the formula candidates read after the second reading."""

    def _side_by_side(self, first, second, both):
        return super()._side_by_side(first, second, False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", type=Path, help="a directory of page images (png/jpg)")
    ap.add_argument("--limit", type=int, default=20, help="pages to read")
    ap.add_argument("--task", default="spotting", choices=["spotting", "text"])
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the settings, alternating")
    args = ap.parse_args()
    pages = sorted(p for p in args.pages.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    pages = pages[: args.limit]
    if not pages:
        raise SystemExit(f"no images in {args.pages}")
    settings = {
        "after each other, 4 beams": AfterEachOther(),
        "side by side, 4 beams": OCR(),
        "side by side, 2 beams": OCR(reread_beams=2),
    }
    for ocr in settings.values():  # load and warm up every reader before timing
        getattr(ocr, args.task)(pages[0])
    texts: dict[str, list[str]] = {}
    order = list(settings)
    for r in range(args.repeat):
        for name in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            got = [getattr(settings[name], args.task)(p).text for p in pages]
            secs = (time.perf_counter() - t0) / len(pages)
            texts.setdefault(name, got)
            differ = sum(a != b for a, b in zip(got, texts[order[0]], strict=True))
            print(
                f"{name:<28} {secs:6.2f} s a page   pages differing from the first setting: {differ}",
                flush=True,
            )


if __name__ == "__main__":
    main()
