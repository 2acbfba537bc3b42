"""GRPO on spotting prompts, end to end on a model small enough for a CPU: does RL raise the held-out
reward of an SFT'd model?

1. toy spotting data (one short word drawn with Pillow's font at a random place on a 128x64 image;
   target `<ref>WORD</ref><quad>(x1,y1),(x2,y2)</quad>` with 0-1000 coordinates): an SFT set, an RL
   prompt set and a held-out set, from three different seeds;
2. SFT of the `hyocr-test` configuration on the SFT set, stopped early (--sft-steps) so that the
   model reads the words but places boxes roughly: the reward has room to rise;
3. GRPO (the report's sampling: G = 8, T = 0.85, top-p 0.95, top-k 50, no KL) with the spotting
   reward of DESIGN.md §4 (IoU-matched 1 - NED) on the RL set;
4. greedy reward on the held-out set before and after, printed side by side.

    .venv/bin/python scripts/grpo_toy_spotting.py --out runs/grpo-toy [--words 2] [--sft-steps 300] [--rl-steps 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sft-samples", type=int, default=2048)
    ap.add_argument("--sft-steps", type=int, default=300)
    ap.add_argument("--rl-steps", type=int, default=60)
    ap.add_argument("--rl-lr", type=float, default=1e-4)
    ap.add_argument("--heldout", type=int, default=128)
    ap.add_argument("--words", type=int, default=2, help="draw words from the first N of the 16 toy words")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))  # the toy data of the training tests
    import tests.train.conftest as toy
    from hyocr.train.grpo import GrpoConfig, GrpoJob, run_grpo
    from hyocr.train.sft import SftJob, run_sft
    from hyocr.train.stages import stage_config
    from tests.train.test_sft import TOY

    toy.WORDS = toy.WORDS[: args.words]  # fewer words: the task is mostly where, not what

    out = args.out
    spot = ("spotting",)
    toy.make_shard(out / "data" / "sft" / "train.tar", args.sft_samples, seed=11, tasks=spot, big=True)
    toy.make_shard(out / "data" / "rl" / "train.tar", 512, seed=12, tasks=spot, big=True)
    toy.make_shard(out / "data" / "heldout" / "eval.tar", args.heldout, seed=13, tasks=spot, big=True)
    toy.make_model_dir(out / "init")
    t0 = time.perf_counter()
    # the overfitting test's toy settings (tests/train/test_sft.py) with its constant 1e-3, 2 rows
    sft = stage_config(
        "2",
        dict(TOY, rows=2, log_every=25, max_steps=args.sft_steps, warmup_steps=5, lr_max=1e-3, lr_min=1e-3),
    )
    run_sft(SftJob(out / "init", out / "data" / "sft", out / "sft", sft, quiet=True))
    t_sft = time.perf_counter() - t0
    rl = GrpoConfig(
        lr=args.rl_lr,
        max_steps=args.rl_steps,
        prompts_per_step=8,
        max_new_tokens=48,
        max_pixels=TOY["max_pixels"],
        min_pixels=TOY["min_pixels"],
        bf16=False,
        save_every=10_000,
        eval_every=max(1, args.rl_steps // 3),
        eval_prompts=args.heldout,
        eval_max_new_tokens=48,
    )
    t0 = time.perf_counter()
    summary = run_grpo(
        GrpoJob(
            out / "sft" / "latest",
            out / "data" / "rl",
            out / "rl",
            rl,
            eval_data=out / "data" / "heldout",
            quiet=True,
        )
    )
    t_rl = time.perf_counter() - t0
    logs = [json.loads(x) for x in (out / "rl" / "log.jsonl").read_text().splitlines()]
    curve = [(r["step"], round(r["heldout_reward"], 4)) for r in logs if r["event"] == "eval"]
    steps = [r for r in logs if r["event"] == "rl"]
    dropped = {k: sum(r["dropped"][k] for r in steps) for k in steps[0]["dropped"]} if steps else {}
    print(
        f"SFT: {args.sft_steps} steps on {args.sft_samples} toy spotting samples ({args.words} words) in {t_sft:.0f} s"
    )
    print(f"GRPO: {summary['steps']} steps, lr {args.rl_lr}, {t_rl:.0f} s; groups dropped: {dropped}")
    print(f"held-out greedy spotting reward ({args.heldout} prompts): curve {curve}")
    print(f"before {summary['reward_before']:.4f}  after {summary['reward_after']:.4f}")


if __name__ == "__main__":
    main()
