"""Rows leaving a decoding batch: the KV cache copied whole (as before session 18) or only its filled
positions (`KVCache.select` now), side by side in one run on the same pages.

A page read segment by segment decodes its crops in batches of 16; each batch's cache reserves the
model's whole context (8,192 positions for the shipped model), and every time a crop finishes, the
rows still decoding were copied into a new cache of that size. On this project's AVX2 machine in
float32 that copy took most of a page's time. Prints seconds per page and whether the readings are
identical.

    .venv/bin/python benchmarks/bench_kv_select.py runs/eval/heldout_pages --n 4
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
    args = ap.parse_args()
    folder = Path(args.data)
    items = [json.loads(line) for line in (folder / "gt.jsonl").read_text().splitlines() if line.strip()]
    pages = [folder / it["image"] for it in items[: args.n]]
    filled, t_filled = read(pages)
    kept = KVCache.select
    KVCache.select = select_whole
    try:
        whole, t_whole = read(pages)
    finally:
        KVCache.select = kept
    print(f"{len(pages)} pages, {torch.get_num_threads()} threads, dtype auto")
    print(f"{'select copies':24}{'s per page':>12}")
    print(f"{'whole capacity (old)':24}{t_whole:12.2f}")
    print(f"{'filled positions (new)':24}{t_filled:12.2f}")
    print(f"readings identical: {sum(a == b for a, b in zip(filled, whole, strict=True))} of {len(pages)}")


if __name__ == "__main__":
    main()
