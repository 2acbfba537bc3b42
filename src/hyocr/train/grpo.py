"""GRPO reinforcement learning as configured in the HunyuanOCR report (DESIGN.md §4).

Choices (defaults are the report's where it gives one):
- Group size G = 8 completions per prompt, sampled by the inference engine with temperature 0.85,
  top-p 0.95, top-k 50 (the same sampler users get, KV cache and all).
- Rewards from rewards.py (task rewards built on eval/metrics.py, all in [0, 1]); over-length
  (`finish_reason` "length"/"repetition") and schema-breaking outputs score 0.
- Advantage: group-normalised, A_i = (r_i − mean(r)) / (std(r) + 1e-6), std over the group
  (population std). Every token of a completion shares its advantage.
- Objective: the clipped surrogate, −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A) with ε = 0.2, per token;
  averaged over a completion's tokens, then over completions (the original GRPO aggregation).
  ρ = π_θ / π_old where π_old is the policy that sampled. With one update per rollout batch
  (`updates_per_batch` = 1, the default) ρ = 1 in value and the loss is the plain policy gradient;
  with more, old log-probs are computed once before the first update and the clip is active.
  π_old is recomputed with the training forward pass, not taken from the engine's sampled
  log-probs (they come from a bf16 cached decode and differ by rounding).
- KL to a frozen reference (k3 estimator, exp(ref − θ) − (ref − θ) − 1 per token) only when β > 0;
  default β = 0: the report uses no KL penalty.
- Filtering: a group whose rewards have no variance teaches nothing and is dropped; so is a prompt
  whose pass rate (share of completions with reward ≥ `pass_threshold`) is ≥ `trivial_pass_rate`
  (trivial) or whose best reward is ≤ `unsolvable_max_reward` (unsolvable). Trivial and unsolvable
  prompts are also retired: later epochs skip them. Departure: dropped groups are not replaced
  within the step (no DAPO-style dynamic resampling), so a step may update on fewer groups, or skip
  the update when none is left (logged).
- Optimiser: AdamW at a constant LR (8e-7 in the report), no weight decay, gradient clipping 1.0.
- `tight_lines` (off by default): a line reader's one-image text prompts are cut down to their line
  as its inference cuts them (`train.data.line_cut`, the SFT stage option of the same name), so the
  policy is rewarded on the crops it will be given.
- Evaluation: mean reward of greedy outputs on held-out prompts before training, every
  `eval_every` steps and at the end (the before/after figure).
"""

from __future__ import annotations

import copy
import io
import math
import random
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hyocr.engine.generate import Engine, Generation, Request, SamplingParams
from hyocr.model.weights import load_model
from hyocr.processing.image import load_image
from hyocr.processing.tokenizer import HyTokenizer
from hyocr.train.checkpointing import (
    TrainerState,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from hyocr.train.data import Sample, ShardIndex, line_cut
from hyocr.train.rewards import ChrfStandInJudge, Judge, RewardResult, score
from hyocr.train.sft import JsonlLogger
from hyocr.train.stages import autocast_bf16

__all__ = [
    "GrpoConfig",
    "GrpoJob",
    "load_grpo_config",
    "group_advantages",
    "filter_group",
    "clipped_policy_loss",
    "mean_reward",
    "run_grpo",
]

RewardFn = Callable[[Sample, Generation], RewardResult]


@dataclass(frozen=True)
class GrpoConfig:
    # --- rollouts (report: G = 8, T = 0.85, top-p 0.95, top-k 50) ---
    group_size: int = 8
    temperature: float = 0.85
    top_p: float = 0.95
    top_k: int = 50
    max_new_tokens: int = 1024  # the length limit: hitting it scores 0
    prompts_per_step: int = 4
    # --- objective ---
    clip_eps: float = 0.2
    beta: float = 0.0  # KL to the frozen reference; 0 as in the report
    updates_per_batch: int = 1
    micro_rows: int = 8  # completions per forward/backward pass
    # --- filtering ---
    pass_threshold: float = 0.9
    trivial_pass_rate: float = 1.0
    unsolvable_max_reward: float = 0.0
    # --- optimiser ---
    lr: float = 8e-7
    clip_norm: float = 1.0
    betas: tuple[float, float] = (0.9, 0.95)
    max_steps: int = 200
    # --- inputs ---
    max_pixels: int = 2048 * 2048
    min_pixels: int = 512 * 512
    tasks: tuple[str, ...] = ()
    # a line reader's text prompts cut as its inference cuts them (as the stage option of train/data.py)
    tight_lines: bool = False
    bf16: bool | str = True  # as StageConfig.bf16: true where bf16 is fast, "always", false
    seed: int = 0
    # --- bookkeeping ---
    log_every: int = 1
    save_every: int = 50
    keep_checkpoints: int = 2
    eval_every: int = 0  # 0: only before and after
    eval_prompts: int = 32
    eval_max_new_tokens: int = 1024
    name: str = "rl"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ValueError("group_size must be at least 2 (advantages are relative within a group)")
        if self.temperature <= 0:
            raise ValueError("GRPO needs sampling: temperature must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_toml(path: str | Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read config ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML ({exc})") from None
    return data.get("grpo", data)


def load_grpo_config(
    path: str | Path | None = None, base: str | Path | None = None, **overrides: Any
) -> GrpoConfig:
    """GrpoConfig from a TOML file (top-level keys or a `[grpo]` table) plus keyword overrides;
    with `base` (e.g. the packaged `configs/rl.toml`), the file overrides what base sets."""
    data: dict[str, Any] = _read_toml(base) if base is not None else {}
    if path is not None:
        data.update(_read_toml(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(GrpoConfig)}
    bad = sorted(set(data) - known)
    if bad:
        raise ValueError(f"unknown GRPO config field(s): {', '.join(bad)}")
    for k in ("betas", "tasks"):
        if isinstance(data.get(k), list):
            data[k] = tuple(data[k])
    return GrpoConfig(**data)


# ---- the pieces of the algorithm (pure functions, tested by hand) ------------------------------


def group_advantages(rewards: Sequence[float], eps: float = 1e-6) -> list[float]:
    """(r − mean) / (std + eps) within one group; population std.

    >>> [round(a, 3) for a in group_advantages([1.0, 0.0])]
    [1.0, -1.0]
    """
    n = len(rewards)
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    return [(r - mean) / (std + eps) for r in rewards]


def filter_group(rewards: Sequence[float], cfg: GrpoConfig) -> str:
    """Why a group is dropped ("no-variance", "trivial", "unsolvable") or "" to keep it."""
    pass_rate = sum(r >= cfg.pass_threshold for r in rewards) / len(rewards)
    if pass_rate >= cfg.trivial_pass_rate:
        return "trivial"
    if max(rewards) <= cfg.unsolvable_max_reward:
        return "unsolvable"
    if max(rewards) - min(rewards) < 1e-9:
        return "no-variance"
    return ""


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
) -> torch.Tensor:
    """Sum over sequences of the token-mean clipped surrogate (+ β·k3 KL).

    logp, old_logp, ref_logp, mask: (B, T) over completion tokens (mask 1 on real ones);
    advantages: (B,). Divide the result by the number of sequences of the step.
    """
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv)
    per_token = -surrogate
    if ref_logp is not None and beta > 0:
        d = ref_logp - logp
        per_token = per_token + beta * (torch.exp(d) - d - 1.0)
    per_seq = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return per_seq.sum()


# ---- rollouts and scoring ------------------------------------------------------------------------


@dataclass
class _Rollout:
    sample: Sample
    prompt_ids: list[int]
    pixel_values: list  # np arrays per image
    grids: list[tuple[int, int]]
    completion: list[int]  # sampled ids, the stop token included when the model stopped
    reward: float
    advantage: float = 0.0


def _default_reward(judge: Judge) -> RewardFn:
    return lambda sample, gen: score(sample, gen.text, gen.finish_reason, judge)


def mean_reward(
    engine: Engine, samples: Sequence[Sample], reward_fn: RewardFn, max_new_tokens: int, batch: int = 8
) -> float:
    """Mean reward of greedy outputs (the held-out figure)."""
    if not samples:
        return float("nan")
    total = 0.0
    for i in range(0, len(samples), batch):
        chunk = samples[i : i + batch]
        gens = engine.generate(
            [Request(s.instruction, s.images, s.system, s.task) for s in chunk],
            SamplingParams(max_new_tokens=max_new_tokens),
        )
        total += sum(reward_fn(s, g).reward for s, g in zip(chunk, gens, strict=True))
    return total / len(samples)


def _sequence_logps(
    model, rows: list[_Rollout], pad_id: int, bf16: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs (B, T) of each row's completion tokens under `model`, and the (B, T) mask."""
    dev = next(model.parameters()).device
    lengths = [len(r.prompt_ids) + len(r.completion) for r in rows]
    length = max(lengths)
    tmax = max(len(r.completion) for r in rows)
    b = len(rows)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    attn = torch.zeros((b, length), dtype=torch.long)
    for i, r in enumerate(rows):
        seq = r.prompt_ids + r.completion
        ids[i, : len(seq)] = torch.tensor(seq)
        attn[i, : len(seq)] = 1
    pixels = [torch.from_numpy(p) for r in rows for p in r.pixel_values]
    grids = [g for r in rows for g in r.grids]
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(
            ids.to(dev),
            pixel_values=torch.cat(pixels).to(dev) if pixels else None,
            grid_hw=grids,
            images_per_row=[len(r.grids) for r in rows],
            attention_mask=attn.to(dev),
        )
    logits = out.logits.float()
    logp = torch.zeros((b, tmax), device=dev)
    mask = torch.zeros((b, tmax), device=dev)
    for i, r in enumerate(rows):
        p, t = len(r.prompt_ids), len(r.completion)
        if t == 0:
            continue
        lp = F.log_softmax(logits[i, p - 1 : p - 1 + t], dim=-1)  # position k predicts token k+1
        logp[i, :t] = lp.gather(-1, torch.tensor(r.completion, device=dev)[:, None]).squeeze(-1)
        mask[i, :t] = 1.0
    return logp, mask


# ---- the run ---------------------------------------------------------------------------------------


@dataclass
class GrpoJob:
    model: str | Path | None
    data: str | Path | list | Sequence[Sample]
    out: str | Path
    cfg: GrpoConfig
    resume: bool = False
    eval_data: str | Path | Sequence[Sample] | None = None
    judge: Judge | None = None
    reward_fn: RewardFn | None = None  # default: rewards.score with `judge`
    quiet: bool = False


def _cut_to_line(sample: Sample) -> Sample:
    """A one-image text prompt with its image cut down to its line, as a line reader's inference
    cuts it (`train.data.line_cut`); other prompts, and lines the cutter keeps whole, unchanged."""
    if sample.task != "text" or len(sample.images) != 1:
        return sample
    img = load_image(sample.images[0], name=f"{sample.key} image 0")
    cut = line_cut(img)
    if cut is None:
        return sample
    buf = io.BytesIO()
    cut.crop(img).save(buf, format="PNG")
    return replace(sample, images=[buf.getvalue()])


def _dataset(data, tasks) -> Sequence[Sample]:
    if isinstance(data, (str, Path)) or (
        isinstance(data, list) and data and isinstance(data[0], (str, Path))
    ):
        return ShardIndex(data, tasks=tasks)
    return list(data)


def run_grpo(job: GrpoJob) -> dict[str, Any]:
    """Run GRPO; returns a summary with the held-out mean reward before and after."""
    cfg = job.cfg
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    logger = JsonlLogger(out / "log.jsonl", True, job.quiet)
    reward_fn = job.reward_fn or _default_reward(job.judge or ChrfStandInJudge())

    state, payload = TrainerState(), None
    ckpt = latest_checkpoint(out) if job.resume else None
    if ckpt is not None:
        model, payload = load_checkpoint(ckpt)
        tok = HyTokenizer.from_dir(ckpt)
        state = TrainerState(**payload["state"])
    else:
        if job.model is None:
            raise ValueError("no model to start from: give --model DIR")
        model = load_model(job.model, dtype=torch.float32)
        tok = HyTokenizer.from_dir(job.model)
    dev = next(model.parameters()).device
    cfg = replace(cfg, bf16=autocast_bf16(cfg.bf16, dev, logger.say))
    torch.manual_seed(cfg.seed)
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    params = [p for p in model.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=0.0)
    retired: set[str] = set()
    if payload is not None:
        optimizer.load_state_dict(payload["optimizer"])
        set_rng_state(payload["rng"])
        retired = set(payload["extra"].get("retired", []))
    reference = None
    if cfg.beta > 0:
        reference = copy.deepcopy(model).eval()
        for p in reference.parameters():
            p.requires_grad_(False)
    engine = Engine(model, tok, autocast=cfg.bf16, max_pixels=cfg.max_pixels, min_pixels=cfg.min_pixels)
    model.train()
    data = _dataset(job.data, cfg.tasks)
    if not data:
        raise ValueError("no RL prompts")
    eval_set = (
        list(_dataset(job.eval_data, cfg.tasks))[: cfg.eval_prompts] if job.eval_data is not None else []
    )
    if cfg.tight_lines:
        eval_set = [_cut_to_line(s) for s in eval_set]

    def held_out() -> float:
        r = mean_reward(engine, eval_set, reward_fn, cfg.eval_max_new_tokens)
        model.train()
        return r

    summary: dict[str, Any] = {}
    if eval_set and state.step == 0:
        summary["reward_before"] = held_out()
        logger.log({"event": "eval", "step": 0, "heldout_reward": summary["reward_before"]})
        logger.say(f"held-out greedy reward before RL: {summary['reward_before']:.4f}")

    def next_prompts(k: int) -> list[Sample]:
        chosen: list[Sample] = []
        for _ in range(len(data) * 2):
            epoch, i = divmod(state.position, len(data))
            order = list(range(len(data)))
            random.Random(cfg.seed * 1_000_003 + epoch).shuffle(order)
            state.position += 1
            s = data[order[i]]
            if s.key not in retired:
                chosen.append(_cut_to_line(s) if cfg.tight_lines else s)
            if len(chosen) == k:
                break
        return chosen

    t0 = time.perf_counter()
    history: list[float] = []
    stage_dict = cfg.to_dict()
    while state.step < cfg.max_steps:
        t_step = time.perf_counter()
        prompts = next_prompts(cfg.prompts_per_step)
        if not prompts:
            logger.say("every prompt is retired (trivial or unsolvable): stopping")
            break
        sampling = SamplingParams(
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            top_k=cfg.top_k,
            seed=cfg.seed * 1_000_003 + state.step,
            stop_on_repetition=True,
            cut_repetition=False,
        )
        requests = [
            Request(s.instruction, s.images, s.system, s.task) for s in prompts for _ in range(cfg.group_size)
        ]
        with torch.no_grad():
            gens = engine.generate(requests, sampling)
        model.train()
        kept: list[_Rollout] = []
        drops = {"no-variance": 0, "trivial": 0, "unsolvable": 0}
        all_rewards: list[float] = []
        lengths = []
        for gi, s in enumerate(prompts):
            group = gens[gi * cfg.group_size : (gi + 1) * cfg.group_size]
            rewards = [float(reward_fn(s, g).reward) for g in group]
            all_rewards += rewards
            lengths += [len(g.token_ids) for g in group]
            why = filter_group(rewards, cfg)
            if why:
                drops[why] += 1
                if why in ("trivial", "unsolvable"):
                    retired.add(s.key)
                continue
            prep = engine.prepare(Request(s.instruction, s.images, s.system, s.task))
            for g, r, a in zip(group, rewards, group_advantages(rewards), strict=True):
                completion = list(g.token_ids) + ([tok.eos_id] if g.finish_reason == "stop" else [])
                kept.append(_Rollout(s, prep.ids, prep.pixel_values, prep.grids, completion, r, a))
        loss_value = 0.0
        if kept:
            micro = [kept[i : i + cfg.micro_rows] for i in range(0, len(kept), cfg.micro_rows)]
            old: list[torch.Tensor | None] = [None] * len(micro)
            refs: list[torch.Tensor | None] = [None] * len(micro)
            with torch.no_grad():
                for k, rows in enumerate(micro):
                    if cfg.updates_per_batch > 1:
                        old[k] = _sequence_logps(model, rows, tok.pad_id, cfg.bf16)[0]
                    if reference is not None:
                        refs[k] = _sequence_logps(reference, rows, tok.pad_id, cfg.bf16)[0]
            for _ in range(cfg.updates_per_batch):
                loss_value = 0.0
                for k, rows in enumerate(micro):
                    logp, mask = _sequence_logps(model, rows, tok.pad_id, cfg.bf16)
                    old_k = old[k] if old[k] is not None else logp.detach()
                    adv = torch.tensor([r.advantage for r in rows], device=logp.device)
                    loss = clipped_policy_loss(logp, old_k, adv, mask, cfg.clip_eps, refs[k], cfg.beta) / len(
                        kept
                    )
                    loss.backward()
                    loss_value += float(loss.detach())
                if cfg.clip_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.samples += len(requests)
        mean_r = sum(all_rewards) / max(len(all_rewards), 1)
        history.append(mean_r)
        if state.step % cfg.log_every == 0 or state.step == cfg.max_steps:
            rec = {
                "event": "rl",
                "step": state.step,
                "reward": mean_r,
                "kept_groups": len(kept) // cfg.group_size,
                "dropped": drops,
                "retired": len(retired),
                "loss": loss_value,
                "completion_tokens": sum(lengths) / max(len(lengths), 1),
                "seconds": time.perf_counter() - t_step,
            }
            logger.log(rec)
            eta = (time.perf_counter() - t0) / max(len(history), 1) * (cfg.max_steps - state.step)
            logger.say(
                f"rl step {state.step}/{cfg.max_steps} reward {mean_r:.4f} kept {rec['kept_groups']}/{len(prompts)} "
                f"dropped {drops} len {rec['completion_tokens']:.1f} ETA {int(eta)}s"
            )
        if eval_set and cfg.eval_every and state.step % cfg.eval_every == 0 and state.step < cfg.max_steps:
            r = held_out()
            logger.log({"event": "eval", "step": state.step, "heldout_reward": r})
            logger.say(f"held-out greedy reward at step {state.step}: {r:.4f}")
        if state.step % cfg.save_every == 0 or state.step == cfg.max_steps:
            save_checkpoint(
                out,
                model,
                tok,
                optimizer,
                state,
                stage_dict,
                cfg.keep_checkpoints,
                {"retired": sorted(retired)},
            )
    if eval_set:
        summary["reward_after"] = held_out()
        logger.log({"event": "eval", "step": state.step, "heldout_reward": summary["reward_after"]})
        logger.say(f"held-out greedy reward after RL: {summary['reward_after']:.4f}")
    summary["train_rewards"] = history
    summary["steps"] = state.step
    return summary
