"""Rows leaving a decoding batch: the KV cache copied whole (as before session 18), its filled
positions copied into new buffers (sessions 18-31), or gathered back into the front of the same
buffers (`KVCache.select` since session 32), side by side in one run on the same pages.

A page read segment by segment decodes its crops in batches of 16; each batch's cache reserves the
model's whole context (8,192 positions for the shipped model), and every time a crop finishes, the
rows still decoding were copied into a new cache of that size. On this project's AVX2 machine in
float32 that copy took most of a page's time. Since session 30 the unsure crops are read again
with 4 beams, which select (reorder) the cache at every step: new buffers each step cost fresh
zeroed pages from the kernel. Prints seconds per page and whether the readings are identical.

    .venv/bin/python benchmarks/bench_kv_select.py runs/eval/heldout_pages --n 4 [--whole]

Session 32, this project's 2-core AVX2 machine, 4 held-out pages, text task: in place 5.59 s a
page, new buffers 5.87 s, whole capacity 85.34 s; the readings identical in all three.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from PIL import Image

from hyocr.api import OCR
from hyocr.model.decoder import KVCache


def select_whole(self: KVCache, rows: torch.Tensor) -> None:
    """The old `KVCache.select`: every position of the capacity copied."""
    self.k = [t[rows] for t in self.k]
    self.v = [t[rows] for t in self.v]


def select_new_buffers(self: KVCache, rows: torch.Tensor) -> None:
    """`KVCache.select` of sessions 18-31: the filled positions copied into new buffers."""
    n = self.length

    def take(t: torch.Tensor) -> torch.Tensor:
        out = t.new_empty((len(rows), *t.shape[1:]))
        out[:, :, :n] = t[:, :, :n].index_select(0, rows)
        return out

    self.k = [take(t) for t in self.k]
    self.v = [take(t) for t in self.v]


def read(pages: list[Path]) -> tuple[list[str], float]:
    ocr = OCR()
    ocr.text([Image.open(pages[0])])  # warm-up
    t = time.perf_counter()
    texts = [ocr.text([Image.open(p)])[0].text for p in pages]
    return texts, (time.perf_counter() - t) / len(pages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="folder with gt.jsonl and page images (runs/eval/heldout_pages)")
    ap.add_argument("--n", type=int, default=4, help="pages to read with each")
    ap.add_argument("--whole", action="store_true", help="also the whole-capacity copy (about 85 s a page)")
    args = ap.parse_args()
    folder = Path(args.data)
    items = [json.loads(line) for line in (folder / "gt.jsonl").read_text().splitlines() if line.strip()]
    pages = [folder / it["image"] for it in items[: args.n]]
    kept = KVCache.select
    times, texts = {}, {}
    try:
        for name, fn in (
            ("in place (now)", kept),
            ("new buffers (s18-31)", select_new_buffers),
            *([("whole (old)", select_whole)] if args.whole else []),
        ):
            KVCache.select = fn
            texts[name], times[name] = read(pages)
    finally:
        KVCache.select = kept
    print(f"{len(pages)} pages, {torch.get_num_threads()} threads, dtype auto")
    print(f"{'select copies':24}{'s per page':>12}{'identical to now':>18}")
    for name, t in times.items():
        same = sum(a == b for a, b in zip(texts[name], texts["in place (now)"], strict=True))
        print(f"{name:24}{t:12.2f}{same:>14} of {len(pages)}")


if __name__ == "__main__":
    main()
