"""A decoding step in float32 against under bf16 autocast, per model size, on this machine.

bf16 autocast speeds large matrix products up on a CPU with a bf16 unit (AMX or AVX512-BF16;
`bench_dtype.py`), but a decoding step of a small decoder is a few hundred small operations, and
autocast adds a cast to each product. This prints, side by side in one run, the milliseconds of one
decoding step (one token per row, after a prompt of `--prompt` tokens) at batch 1 and `--batch`,
in float32 and under autocast, for the shipped line reader, its formula reader and the release's
1B configuration (random weights: speed only), so that the size at which decoding under autocast
pays (`hyocr.engine.generate.DECODE_AUTOCAST_HIDDEN`) is chosen by measurement. With `--pages DIR`
it also reads the first `--limit` pages of DIR (spotting, one page a call) with the shipped model
three ways, in the order A B C C B A: A float32, B all under autocast, C the default (autocast for
images and prompts only where the decoder is small), and prints seconds a page and how many pages'
text differs from A.

    .venv/bin/python benchmarks/bench_decode_dtype.py [--threads 2] [--steps 16] [--pages DIR --limit 10]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import torch

from hyocr import OCR
from hyocr.config import HUNYUANOCR_1B
from hyocr.engine.backends import DEFAULT_MODEL_DIR, bf16_is_fast, load_engine
from hyocr.engine.generate import DECODE_AUTOCAST_HIDDEN
from hyocr.model.decoder import KVCache
from hyocr.model.factory import init_model


def step_ms(model, batch: int, prompt: int, steps: int, autocast: bool) -> float:
    """Milliseconds of one decoding step after a text prompt of `prompt` tokens."""
    cfg = model.cfg
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    ids = torch.randint(10, 200, (batch, prompt))
    attn = torch.ones_like(ids)
    cache = KVCache(cfg, batch, prompt + steps + 4, torch.bfloat16 if autocast else torch.float32, "cpu")
    with torch.no_grad(), ctx:
        logits, pos = model.prefill(ids, attn, None, [[] for _ in range(batch)], cache)
        tok = logits.argmax(-1)
        model.decode(tok, pos, None, cache)  # warm-up
        pos = pos + 1
        t = time.perf_counter()
        for _ in range(steps):
            tok = model.decode(tok, pos, None, cache).argmax(-1)
            pos = pos + 1
    return (time.perf_counter() - t) / steps * 1000


def read_pages(pages: list[str], mode: str) -> tuple[list[str], float]:
    """The pages' spotting texts and seconds a page, read by the shipped model in `mode`."""
    engine = load_engine(None, dtype="float32" if mode == "float32" else "auto")
    for eng in (engine, engine.formula):
        if eng is not None and mode == "autocast all":
            eng.autocast_decode = eng.autocast
    ocr = OCR(engine=engine)
    ocr.spotting(pages[0])  # warm-up
    t = time.perf_counter()
    texts = [ocr.spotting(p).text for p in pages]
    return texts, (time.perf_counter() - t) / len(pages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--no-1b", action="store_true", help="skip the 1B configuration (4 GB of memory)")
    ap.add_argument("--pages", help="a directory of page images to read three ways (see above)")
    ap.add_argument("--limit", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads, "
        f"bf16_is_fast: {bf16_is_fast('cpu')}; decoding autocasts from hidden size {DECODE_AUTOCAST_HIDDEN}"
    )
    engine = load_engine(None, dtype="float32")
    models = [(f"{DEFAULT_MODEL_DIR.name} line reader", engine.model)]
    if engine.formula is not None:
        models.append((f"{DEFAULT_MODEL_DIR.name} formula reader", engine.formula.model))
    if not args.no_1b:
        models.append(("hunyuanocr-1b (random)", init_model(HUNYUANOCR_1B).eval()))
    print(f"{'model (decoder hidden x layers)':44}{'batch':>6}{'float32 ms':>12}{'autocast ms':>13}")
    for name, model in models:
        label = f"{name} ({model.cfg.lm_hidden}x{model.cfg.lm_layers})"
        for batch in (1, args.batch):
            f32 = step_ms(model, batch, args.prompt, args.steps, autocast=False)
            bf16 = step_ms(model, batch, args.prompt, args.steps, autocast=True)
            print(f"{label:44}{batch:6d}{f32:12.2f}{bf16:13.2f}")
    if args.pages:
        pages = sorted(str(p) for p in Path(args.pages).glob("*.png"))[: args.limit]
        modes = ["float32", "autocast all", "default"]
        seconds: dict[str, list[float]] = {m: [] for m in modes}
        texts: dict[str, list[str]] = {}
        for mode in modes + modes[::-1]:
            texts[mode], s = read_pages(pages, mode)
            seconds[mode].append(s)
        print(f"{len(pages)} pages of {args.pages}, spotting, one page a call:")
        for mode in modes:
            differ = sum(a != b for a, b in zip(texts[mode], texts["float32"], strict=True))
            runs = ", ".join(f"{s:.2f}" for s in seconds[mode])
            print(f"  {mode:14} {runs} s a page; text differs from float32 on {differ}")


if __name__ == "__main__":
    main()
