"""Whole pages read by the shipped line reader with its batches one after the other on all of
PyTorch's threads (`OCR(workers=1)`, the behaviour before session 23) against two batches side by
side on one thread each (`workers=2`, the default on a 2-thread CPU), and one batch at a time on
one thread (`workers=1` with one thread, whose answers `workers=2` must repeat exactly), and two
side by side with the line batches of 16 crops read before session 24 (now at least 32,
`hyocr.api.LINE_BATCH`), and all images in one call (the next pages cut on a second thread while
a page is read, `hyocr.api._ahead`), in one run on the same images, alternating, median of
`--repeat`.

    python benchmarks/bench_workers.py runs/eval/heldout_pages --limit 5 --task spotting --repeat 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import hyocr.api
from hyocr import OCR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", help="directories of images (png/jpg)")
    ap.add_argument("--limit", type=int, default=5, help="images per directory")
    ap.add_argument("--task", default="spotting", choices=["spotting", "text", "document"])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    images = []
    for d in args.dirs:
        found = sorted(p for p in Path(d).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        images += found[: args.limit]
    if not images:
        raise SystemExit("no images found")
    threads = torch.get_num_threads()
    base = OCR(workers=1)
    line_batch = hyocr.api.LINE_BATCH
    runs = {
        f"workers=1, {threads} threads": (base, threads, line_batch),
        "workers=2, 1 thread each": (OCR(engine=base.engine, workers=2), threads, line_batch),
        "workers=1, 1 thread": (base, 1, line_batch),
        "workers=2, line batches of 16": (OCR(engine=base.engine, workers=2), threads, 16),
        "workers=2, all images in one call": (OCR(engine=base.engine, workers=2), threads, line_batch),
    }
    getattr(base, args.task)(images[0])  # warm-up
    times: dict[str, list[float]] = {k: [] for k in runs}
    answers: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for name, (ocr, n, batch) in runs.items():
            torch.set_num_threads(n)
            hyocr.api.LINE_BATCH = batch
            t0 = time.perf_counter()
            if name.endswith("one call"):
                out = getattr(ocr, args.task)([str(p) for p in images])
            else:
                out = [getattr(ocr, args.task)(str(p)) for p in images]
            times[name].append((time.perf_counter() - t0) / len(images))
            answers[name] = [r.raw for r in out]
    torch.set_num_threads(threads)
    hyocr.api.LINE_BATCH = line_batch
    print(f"{len(images)} images, task {args.task}, PyTorch threads {threads}, median of {args.repeat}")
    print(f"{'setting':<36} {'s/image':>8}")
    for name in runs:
        print(f"{name:<36} {statistics.median(times[name]):8.2f}")
    names = list(runs)
    same16 = answers[names[1]] == answers[names[3]]
    print(f"line batches of at least {line_batch}: answers identical to batches of 16: {same16}")
    print(
        f"all images in one call: answers identical to one call each: {answers[names[4]] == answers[names[1]]}"
    )
    same = answers[names[1]] == answers[names[2]]
    print(f"workers=2 answers identical to the one-thread run: {same}")
    diff = sum(a != b for a, b in zip(answers[names[0]], answers[names[1]], strict=True))
    print(f"images whose answer differs from the {threads}-thread run (float sums in another order): {diff}")


if __name__ == "__main__":
    main()
