"""`hyocr train`: create a fresh model, run a pre-training stage, or run GRPO.

    # 1. a fresh model directory: preset + a byte-level BPE tokenizer trained on the shards' text
    hyocr train --stage init --preset hyocr-tiny --data shards/ --out runs/init [--vocab-size 8192]
    # 2. stages, each starting from the previous one's latest checkpoint
    hyocr train --stage 1 --model runs/init --data shards/ --out runs/s1 --config src/hyocr/train/configs/stage1.toml
    hyocr train --stage 2 --model runs/s1/latest --data shards/ --out runs/s2 --config ...stage2.toml [--resume]
    # 3. reinforcement learning on prompts with references
    hyocr train --stage rl --model runs/s4/latest --data rl_shards/ --out runs/rl --config ...rl.toml

Every output directory's `latest` is a model directory: `hyocr run --model runs/s2/latest img.png`.
Multi-process: `torchrun --nproc-per-node 2 -m hyocr.cli train --stage 2 ...` (gloo on CPU); with
`fsdp = true` in the config the processes shard the model (train/fsdp.py).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from hyocr.train.stages import STAGES, load_stage_config

__all__ = ["add_arguments", "main", "init_model_dir"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # what to run
    parser.add_argument(
        "--stage",
        required=True,
        choices=["init", *STAGES, "rl"],
        help="init, a pre-training stage 1-4, or rl (GRPO)",
    )
    parser.add_argument(
        "--config", help="TOML file overriding the stage's preset (see src/hyocr/train/configs/)"
    )
    # inputs and outputs
    parser.add_argument("--data", nargs="+", required=True, help="shard directory(ies) or .tar files")
    parser.add_argument("--out", required=True, help="output directory (checkpoints, log.jsonl, latest)")
    parser.add_argument(
        "--model", help="model directory to start from (required unless --resume finds a checkpoint)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT/latest if it exists")
    parser.add_argument(
        "--eval-data", nargs="+", help="held-out shard directory(ies) evaluated every eval_every steps"
    )
    parser.add_argument("--max-steps", type=int, help="override the config's max_steps")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (log.jsonl is still written)")
    # --stage init
    parser.add_argument(
        "--preset", default="hyocr-tiny", help="init: architecture preset (hyocr.config.PRESETS)"
    )
    parser.add_argument("--vocab-size", type=int, default=8192, help="init: tokenizer vocabulary size")
    parser.add_argument(
        "--max-texts",
        type=int,
        default=200_000,
        help="init: at most this many samples' text for the tokenizer",
    )
    parser.add_argument("--seed", type=int, default=0, help="init: weight initialisation seed")
    # --stage rl
    parser.add_argument(
        "--judge-url",
        help="rl: OpenAI-compatible endpoint for translation/VQA rewards (default: offline chrF stand-in)",
    )
    parser.add_argument("--judge-model", default="judge", help="rl: model name sent to the judge endpoint")


def init_model_dir(
    preset: str,
    data: list[str],
    out: str | Path,
    vocab_size: int = 8192,
    max_texts: int = 200_000,
    seed: int = 0,
) -> Path:
    """A fresh model directory: `preset` fitted to a tokenizer trained on the shards' text + the instructions."""
    from hyocr.config import get_preset
    from hyocr.model.factory import config_for_tokenizer, init_model
    from hyocr.model.weights import save_model
    from hyocr.processing.tokenizer import train_tokenizer
    from hyocr.tasks.prompts import _EN, _ZH
    from hyocr.train.data import ShardIndex

    index = ShardIndex(data)
    order = list(range(len(index)))
    random.Random(seed).shuffle(order)
    texts = [t for t in list(_EN.values()) + list(_ZH.values())] * 20
    for i in order[:max_texts]:
        s = index[i]
        texts += [s.instruction, s.answer]
    tok = train_tokenizer(texts, vocab_size=vocab_size)
    cfg = config_for_tokenizer(get_preset(preset), tok)
    model = init_model(cfg, seed=seed)
    out = Path(out)
    save_model(model, out)
    tok.save(out)
    return out


def main(args: argparse.Namespace) -> int:
    if args.stage == "init":
        out = init_model_dir(args.preset, args.data, args.out, args.vocab_size, args.max_texts, args.seed)
        print(f"wrote a fresh {args.preset} model to {out}")
        return 0
    if args.stage == "rl":
        from hyocr.train.grpo import GrpoJob, load_grpo_config, run_grpo
        from hyocr.train.rewards import ChrfStandInJudge, OpenAIJudge
        from hyocr.train.stages import CONFIG_DIR

        cfg = load_grpo_config(args.config, base=CONFIG_DIR / "rl.toml", max_steps=args.max_steps)

        judge = OpenAIJudge(args.judge_url, args.judge_model) if args.judge_url else ChrfStandInJudge()
        summary = run_grpo(
            GrpoJob(
                args.model,
                args.data,
                args.out,
                cfg,
                resume=args.resume,
                eval_data=args.eval_data,
                judge=judge,
                quiet=args.quiet,
            )
        )
        if "reward_before" in summary and "reward_after" in summary:
            print(
                f"rl done: held-out greedy reward {summary['reward_before']:.4f} -> {summary['reward_after']:.4f}"
            )
        return 0
    from hyocr.train.sft import SftJob, run_sft

    cfg = load_stage_config(args.stage, args.config)
    if args.max_steps is not None:
        from dataclasses import replace

        cfg = replace(cfg, max_steps=args.max_steps)

    state = run_sft(SftJob(args.model, args.data, args.out, cfg, args.resume, args.eval_data, args.quiet))
    print(f"stage {cfg.name} done at step {state.step}; model in {Path(args.out) / 'latest'}")
    return 0
