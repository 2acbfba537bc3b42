"""bf16 autocast against float32 on this machine: matrix products and the shipped model's reading.

Whether bf16 pays depends on the CPU: with AMX or AVX512-BF16 PyTorch hands bf16 products to oneDNN
(several times float32's speed); with AVX2 only it runs a reference loop, about a hundred times
slower than float32. `hyocr.engine.backends.bf16_is_fast` decides the `auto` dtype (and the
trainers' `bf16 = true`) by it. This prints, side by side in one run:
  - GFLOP/s of a 2048x1024 @ 1024x1024 product in float32 and in bf16,
  - seconds per line for the shipped model reading the same receipt lines in float32 and under
    bf16 autocast, and how many readings differ,
  - what `auto` chose here.

    .venv/bin/python benchmarks/bench_dtype.py [--lines 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from hyocr import OCR
from hyocr.data.render.receipt import render_receipt_line
from hyocr.engine.backends import DEFAULT_MODEL_DIR, bf16_is_fast, load_engine
from hyocr.engine.generate import Engine


def gflops(dtype: torch.dtype, repeat: int = 3) -> float:
    a = torch.randn(2048, 1024, dtype=dtype)
    b = torch.randn(1024, 1024, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * 2048 * 1024 * 1024 / best / 1e9


def read(images, autocast: bool) -> tuple[list[str], float]:
    base = load_engine(None, dtype="float32")
    engine = Engine(base.model, base.tok, base.prompts, autocast=autocast)
    ocr = OCR(engine=engine, max_new_tokens=64, batch_size=1)
    ocr.text(images[:1])  # warm-up
    t = time.perf_counter()
    texts = [r.text for r in ocr.text(images)]
    return texts, (time.perf_counter() - t) / len(images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=8, help="receipt lines to read with each dtype")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads")
    print(f"bf16_is_fast('cpu') = {bf16_is_fast('cpu')}  (the `auto` dtype autocasts only then)")
    print(f"{'':28}{'float32':>12}{'bf16':>12}")
    print(f"{'matmul GFLOP/s':28}{gflops(torch.float32):12.1f}{gflops(torch.bfloat16):12.1f}")
    images = [render_receipt_line(random.Random(f"bench-dtype:{i}"), "en").image for i in range(args.lines)]
    fp32, t32 = read(images, autocast=False)
    bf16, t16 = read(images, autocast=True)
    print(f"{'s per line (' + DEFAULT_MODEL_DIR.name + ')':28}{t32:12.3f}{t16:12.3f}")
    print(f"readings that differ: {sum(a != b for a, b in zip(fp32, bf16, strict=True))} of {len(images)}")


if __name__ == "__main__":
    main()
