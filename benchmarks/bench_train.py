"""Training throughput (samples/s): hyocr vs transformers' HunYuanVLForConditionalGeneration.

Both models are built from the same config (`--preset`, default hyocr-tiny) and the same weights (the
hyocr model is saved in the release layout and loaded by transformers 5.23.0), then trained with the
same plain loop: padded batch of `--batch` samples (one `--image`-sized image + a `--answer`-token
answer each), forward with labels, backward, AdamW step. fp32, and bf16 autocast (fp32 master
weights). transformers runs with attn_implementation="sdpa"; it gets the XD-RoPE position ids from
hyocr (identical to its own, see tests/model/test_parity.py), since its own computation also needs
`mm_token_type_ids`.

The last row (`hyocr trainer`) is the real trainer (sft.py) on packed toy rows, for reference; its
samples are smaller, so compare it only with itself.

    python benchmarks/bench_train.py [--preset hyocr-tiny] [--steps 5] [--batch 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hyocr.config import get_preset
from hyocr.model.factory import init_model
from hyocr.model.weights import save_model
from hyocr.processing.image import preprocess


def make_batch(cfg, batch: int, image: int, answer: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    from PIL import Image

    rows, labels, pixels, grids = [], [], [], []
    for _ in range(batch):
        img = Image.fromarray(rng.integers(0, 256, (image, image, 3), dtype=np.uint8))
        p = preprocess(
            img, patch=cfg.vit_patch, merge=cfg.merge, min_pixels=image * image, max_pixels=image * image
        )
        n = cfg.image_tokens(*p.resized_hw)
        text = rng.integers(10, min(cfg.lm_vocab, 5000), size=12).tolist()
        ans = rng.integers(10, min(cfg.lm_vocab, 5000), size=answer).tolist()
        ids = [cfg.bos_id, cfg.image_start_id] + [cfg.image_token_id] * n + [cfg.image_end_id] + text + ans
        rows.append(ids)
        labels.append([-100] * (len(ids) - answer) + ans)
        pixels.append(torch.from_numpy(p.pixel_values))
        grids.append(p.grid_hw)
    input_ids = torch.tensor(rows)
    return input_ids, torch.tensor(labels), torch.cat(pixels), grids


def bench_hyocr(model, batch, steps: int, bf16: bool) -> float:
    input_ids, labels, pv, grids = batch
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(input_ids, pv, grids, images_per_row=[1] * len(grids), labels=labels)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(grids) / (time.perf_counter() - t)


def bench_transformers(model_dir: Path, hy_model, batch, steps: int, bf16: bool) -> float:
    from transformers import HunYuanVLForConditionalGeneration

    ref = HunYuanVLForConditionalGeneration.from_pretrained(
        model_dir, attn_implementation="sdpa", dtype=torch.float32
    )
    ref.train()
    input_ids, labels, pv, grids = batch
    pos = hy_model.position_ids(input_ids, [[g] for g in grids], None)
    thw = torch.tensor([[1, h, w] for h, w in grids])
    opt = torch.optim.AdamW(ref.parameters(), lr=1e-5)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = ref(
                input_ids=input_ids, pixel_values=pv, image_grid_thw=thw, position_ids=pos, labels=labels
            )
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(grids) / (time.perf_counter() - t)


def bench_trainer(steps: int, bf16: bool) -> float:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "train"))
    from conftest import make_model_dir, make_shard  # the toy shards of the tests
    from hyocr.train.sft import SftJob, run_sft
    from hyocr.train.stages import stage_config

    root = Path(tempfile.mkdtemp())
    make_shard(root / "s.tar", 64)
    make_model_dir(root / "init")
    cfg = stage_config(
        "2",
        dict(
            max_steps=steps + 2,
            warmup_steps=0,
            seq_len=1024,
            max_pixels=128 * 64,
            min_pixels=32 * 32,
            bf16=bf16,
            log_every=1,
            save_every=10_000,
        ),
    )
    run_sft(SftJob(root / "init", root / "s.tar", root / "out", cfg, quiet=True))
    import json

    recs = [json.loads(x) for x in (root / "out" / "log.jsonl").read_text().splitlines()]
    rates = [r["samples_per_s"] for r in recs if r["event"] == "train"][2:]
    return sum(rates) / len(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="hyocr-tiny")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--image", type=int, default=256, help="square image side in pixels")
    ap.add_argument("--answer", type=int, default=64, help="answer tokens per sample")
    ap.add_argument("--skip-trainer", action="store_true")
    args = ap.parse_args()
    cfg = replace(
        get_preset(args.preset),
        bos_id=1,
        eos_id=2,
        pad_id=0,
        image_token_id=8000,
        image_start_id=8001,
        image_end_id=8002,
        image_newline_id=8003,
        lm_vocab=8192,
    )
    torch.manual_seed(0)
    model = init_model(cfg, seed=0)
    tmp = Path(tempfile.mkdtemp())
    save_model(model, tmp)
    batch = make_batch(cfg, args.batch, args.image, args.answer)
    seq = batch[0].shape[1]
    print(
        f"# {args.preset}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters; batch {args.batch} x "
        f"{seq} tokens ({args.image}px image + {args.answer} answer tokens); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    print("| engine | fp32 samples/s | bf16 samples/s |")
    print("|---|---|---|")
    rows = {}
    for name in ("hyocr", "transformers"):
        rates = []
        for bf16 in (False, True):
            if name == "hyocr":
                m = init_model(cfg, seed=0)
                rates.append(bench_hyocr(m, batch, args.steps, bf16))
            else:
                rates.append(bench_transformers(tmp, model, batch, args.steps, bf16))
        rows[name] = rates
        print(f"| {name} (plain loop) | {rates[0]:.2f} | {rates[1]:.2f} |", flush=True)
    if not args.skip_trainer:
        t32, t16 = bench_trainer(args.steps, False), bench_trainer(args.steps, True)
        print(f"| hyocr trainer, hyocr-test model, packed toy rows | {t32:.1f} | {t16:.1f} |")


if __name__ == "__main__":
    main()
