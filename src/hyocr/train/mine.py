"""`hyocr mine`: hard-example mining, the report's data loop.

A model decodes every sample of the shards greedily; each output is scored with the task reward
(rewards.py, the same code as GRPO). Samples scoring below `--threshold` are hard and all kept;
of the rest a seeded random share `--keep-rest` is kept too, so the next stage (or RL) does not
forget what the model already does well. Kept samples are written as new shards in the same
layout, each JSON `meta` gaining `mined_reward` and `mined_output` (first 500 characters), and a
`mine_summary.json` with the counts and the mean reward per task.

    hyocr mine --model runs/s2/latest --data shards/ --out mined/ --threshold 0.8 --keep-rest 0.1
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.train.data import Sample, ShardIndex, write_shard
from hyocr.train.rewards import ChrfStandInJudge, Judge, OpenAIJudge, score

__all__ = ["MineResult", "mine", "add_arguments", "main"]


@dataclass
class MineResult:
    scored: int
    hard: int
    kept_rest: int
    mean_reward: dict[str, float]
    shards: list[str]


def mine(
    engine: Engine,
    data: ShardIndex,
    out: str | Path,
    threshold: float = 0.8,
    keep_rest: float = 0.1,
    batch: int = 8,
    max_new_tokens: int = 1024,
    shard_size: int = 1000,
    seed: int = 0,
    judge: Judge | None = None,
    limit: int | None = None,
) -> MineResult:
    out = Path(out)
    rng = random.Random(seed)
    judge = judge or ChrfStandInJudge()
    kept: list[Sample] = []
    shards: list[str] = []
    sums: dict[str, list[float]] = defaultdict(list)
    hard = rest = 0
    n = len(data) if limit is None else min(limit, len(data))

    def flush() -> None:
        if kept:
            shards.append(str(write_shard(out / f"mined-{len(shards):05d}.tar", kept)))
            kept.clear()

    params = SamplingParams(max_new_tokens=max_new_tokens)
    for start in range(0, n, batch):
        samples = [data[i] for i in range(start, min(start + batch, n))]
        gens = engine.generate([Request(s.instruction, s.images, s.system, s.task) for s in samples], params)
        for s, g in zip(samples, gens, strict=True):
            r = score(s, g.text, g.finish_reason, judge)
            sums[s.task].append(r.reward)
            is_hard = r.reward < threshold
            if is_hard or rng.random() < keep_rest:
                hard += is_hard
                rest += not is_hard
                meta = {**s.meta, "mined_reward": round(r.reward, 4), "mined_output": g.text[:500]}
                kept.append(replace(s, meta=meta))
                if len(kept) >= shard_size:
                    flush()
    flush()
    result = MineResult(n, hard, rest, {t: sum(v) / len(v) for t, v in sorted(sums.items())}, shards)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mine_summary.json").write_text(json.dumps(result.__dict__, indent=2) + "\n", encoding="utf-8")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument(
        "--data", nargs="+", required=True, help="shard directory(ies) or .tar files to score"
    )
    parser.add_argument("--out", required=True, help="directory for the mined shards")
    parser.add_argument(
        "--threshold", type=float, default=0.8, help="samples with reward below this are hard"
    )
    parser.add_argument(
        "--keep-rest", type=float, default=0.1, help="share of the other samples kept as well"
    )
    parser.add_argument("--batch", type=int, default=8, help="samples decoded together")
    parser.add_argument(
        "--max-new-tokens", type=int, default=1024, help="generation limit (over it scores 0)"
    )
    parser.add_argument("--max-pixels", type=int, help="image budget (default: the model's)")
    parser.add_argument("--limit", type=int, help="score only the first N samples")
    parser.add_argument("--seed", type=int, default=0, help="seed for --keep-rest")
    parser.add_argument(
        "--judge-url", help="OpenAI-compatible judge endpoint (default: offline chrF stand-in)"
    )
    parser.add_argument("--judge-model", default="judge", help="model name sent to the judge endpoint")


def main(args: argparse.Namespace) -> int:
    engine = Engine.from_dir(args.model, max_pixels=args.max_pixels)
    judge = OpenAIJudge(args.judge_url, args.judge_model) if args.judge_url else ChrfStandInJudge()
    res = mine(
        engine,
        ShardIndex(args.data),
        args.out,
        args.threshold,
        args.keep_rest,
        args.batch,
        args.max_new_tokens,
        seed=args.seed,
        judge=judge,
        limit=args.limit,
    )
    print(f"scored {res.scored}: {res.hard} hard + {res.kept_rest} others kept -> {args.out}")
    for task, r in res.mean_reward.items():
        print(f"  {task}: mean reward {r:.4f}")
    return 0
