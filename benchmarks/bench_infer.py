"""Inference speed and memory: hyocr vs transformers on the same random-weight hunyuanocr-1b.

One run builds the release's configuration with random weights (saved once in the release's
layout, so both load the very same file), then times each engine in its own subprocess (so peak
memory is each one's own) on the same input: a 1024x1024 page image plus an instruction, 64
decoded tokens (eos ignored), greedy. Figures:
  - encode + prefill seconds (vision tower, connector, prompt prefill, first token),
  - decode tokens/s over the next 64 tokens (time stamps of the first and the last token),
  - peak resident memory (ru_maxrss of the process).
Each engine is timed --repeat times after a warm-up; the table shows the best run of each (the
least disturbed by other work on the machine) and the spread over the runs.

    .venv/bin/python benchmarks/bench_infer.py [--dtype bfloat16|float32] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NEW_TOKENS = 64
PROMPT_TEXT = list(range(1000, 1020))  # 20 instruction tokens (ids only: no tokenizer needed)


def _inputs(cfg):
    from PIL import Image

    from hyocr.processing.image import preprocess

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8))
    p = preprocess(img, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)
    n = cfg.image_tokens(*p.resized_hw)
    ids = (
        [cfg.bos_id, cfg.image_start_id]
        + [cfg.image_token_id] * n
        + [cfg.image_end_id]
        + PROMPT_TEXT
        + [120006]
    )
    return ids, p


def run_hyocr(model_dir: str, dtype: str, repeat: int) -> dict:
    import torch

    from hyocr.engine.generate import Engine, SamplingParams, _Prepared
    from hyocr.model.weights import load_model

    model = load_model(model_dir, dtype=getattr(torch, dtype))
    cfg = model.cfg
    ids, p = _inputs(cfg)

    class _Tok:  # ids only: decoding is not part of what we time
        eos_id, pad_id = cfg.eos_id, cfg.pad_id

        def decode(self, ids):
            return ""

    engine = Engine(model, _Tok(), prompts=object(), autocast=False)  # type: ignore[arg-type]
    prep = _Prepared(ids, [p.pixel_values], [p.grid_hw], [])

    def timed(n):
        # time stamps as each token comes out: prefill ends at the first, decode spans the rest
        t0, stamps, out = time.perf_counter(), [], []
        for _, t, _, _ in engine._run([prep], SamplingParams(max_new_tokens=n, ignore_eos=True)):
            stamps.append(time.perf_counter())
            out.append(t)
        return t0, stamps, out

    timed(1)  # warm-up
    return _summary([timed(NEW_TOKENS + 1) for _ in range(repeat)], len(ids))


def _summary(runs: list[tuple[float, list[float], list[int]]], prompt_tokens: int) -> dict:
    prefill = [stamps[0] - t0 for t0, stamps, _ in runs]
    decode = [NEW_TOKENS / (stamps[-1] - stamps[0]) for _, stamps, _ in runs]
    tokens = [toks for _, _, toks in runs]
    if any(t != tokens[0] for t in tokens):
        raise RuntimeError("greedy tokens differ between repeated runs")
    return {
        "prefill_s": min(prefill),
        "prefill_all": prefill,
        "decode_tok_s": max(decode),
        "decode_all": decode,
        "prompt_tokens": prompt_tokens,
        "tokens": tokens[0],
    }


def run_transformers(model_dir: str, dtype: str, repeat: int) -> dict:
    import torch
    from transformers import HunYuanVLForConditionalGeneration

    from hyocr.config import load_config

    cfg = load_config(model_dir)
    model = HunYuanVLForConditionalGeneration.from_pretrained(model_dir, dtype=getattr(torch, dtype)).eval()
    ids, p = _inputs(cfg)
    input_ids = torch.tensor([ids])
    kw = dict(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        pixel_values=torch.from_numpy(p.pixel_values),
        image_grid_thw=torch.tensor([[1, *p.grid_hw]]),
        mm_token_type_ids=(input_ids == cfg.image_token_id).int(),
        do_sample=False,
        eos_token_id=None,
        pad_token_id=cfg.pad_id,
    )

    class _Stamps:  # generate() calls put() with the prompt, then once per new token
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    def timed(n):
        st = _Stamps()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**kw, max_new_tokens=n, min_new_tokens=n, streamer=st)
        return t0, st.times[1:], out[0, len(ids) :].tolist()

    timed(1)
    return _summary([timed(NEW_TOKENS + 1) for _ in range(repeat)], len(ids))


def child(engine: str, model_dir: str, dtype: str, threads: int, repeat: int) -> None:
    import torch

    torch.set_num_threads(threads)
    res = (run_hyocr if engine == "hyocr" else run_transformers)(model_dir, dtype, repeat)
    res["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("RESULT " + json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per engine (best one reported)")
    ap.add_argument("--child", choices=("hyocr", "transformers"), help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.model_dir, args.dtype, args.threads, args.repeat)
        return

    import torch

    from hyocr.config import get_preset
    from hyocr.model.factory import init_model
    from hyocr.model.weights import save_model

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = init_model(get_preset("hunyuanocr-1b"), seed=0).to(getattr(torch, args.dtype))
        save_model(model, tmp)
        del model
        print(
            f"random hunyuanocr-1b written in {time.perf_counter() - t0:.1f}s ({args.dtype}, {args.threads} threads)"
        )
        results = {}
        for engine in ("hyocr", "transformers"):
            cmd = [
                sys.executable,
                __file__,
                "--child",
                engine,
                "--model-dir",
                tmp,
                "--dtype",
                args.dtype,
                "--threads",
                str(args.threads),
                "--repeat",
                str(args.repeat),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                print(f"{engine} failed:\n{proc.stderr[-3000:]}")
                sys.exit(1)
            results[engine] = json.loads(line[0][7:])
    h, t = results["hyocr"], results["transformers"]
    same = h["tokens"] == t["tokens"]
    print(
        f"input: 1024x1024 image + {len(PROMPT_TEXT)} text tokens = {h['prompt_tokens']} prompt tokens; {NEW_TOKENS} new tokens"
    )
    print(f"{'figure':<28}{'hyocr':>12}{'transformers':>14}{'ratio':>10}")
    print(
        f"{'encode + prefill (s)':<28}{h['prefill_s']:>12.2f}{t['prefill_s']:>14.2f}{t['prefill_s'] / h['prefill_s']:>9.2f}x"
    )
    print(
        f"{'decode (tokens/s)':<28}{h['decode_tok_s']:>12.2f}{t['decode_tok_s']:>14.2f}{h['decode_tok_s'] / t['decode_tok_s']:>9.2f}x"
    )
    print(
        f"{'peak memory (GB)':<28}{h['peak_rss_gb']:>12.2f}{t['peak_rss_gb']:>14.2f}{t['peak_rss_gb'] / h['peak_rss_gb']:>9.2f}x"
    )
    print(f"ratios > 1 favour hyocr; same greedy tokens: {same}")
    print(f"best of {args.repeat} timed runs each; all runs:")
    for name, r in results.items():
        pre = " ".join(f"{v:.2f}" for v in r["prefill_all"])
        dec = " ".join(f"{v:.2f}" for v in r["decode_all"])
        print(f"  {name:<13} prefill s: {pre}   decode tok/s: {dec}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
