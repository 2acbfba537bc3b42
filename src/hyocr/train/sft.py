"""Supervised training (pre-training stages 1–4) over packed shards, resumable, single or multi-process.

One optimiser step:
1. The packer lays out `rows x grad_accum x world` packed rows from the data position; this process
   decodes only its own rows (data.py).
2. Each micro-batch runs under bf16 autocast (fp32 master weights); the loss is the sum of answer-
   token cross-entropies divided by the answer tokens of the *whole step* (all micro-batches, all
   processes; the CTC term likewise by the whole step's CTC targets), so accumulation and data
   parallelism give the same gradient as one big batch.
3. Gradients are summed across processes (one all-reduce of a flat buffer per step, or FSDP's
   reduce-scatters), clipped to `clip_norm`, and AdamW steps with the schedule's learning rate
   (stages.lr_at).

Choices and departures
- Data parallelism is plain gradient all-reduce by default, not `DistributedDataParallel`: the same
  maths, but parameters without a gradient in a step (the vision tower on a text-only batch, the
  frozen decoder in stage 1) need no `find_unused_parameters` machinery, and accumulation needs no
  `no_sync`. Works with torchrun on gloo (CPU). With CUDA present the processes use nccl and
  GPU `LOCAL_RANK`, but only the FSDP path moves the model there.
- `fsdp = true` (and world > 1) shards weights, gradients and Adam moments per ViT block and per
  decoder layer with FSDP2 instead (fsdp.py, which lists its choices): the 1B model's fp32 weights
  and moments no longer need to fit on every device. Checkpoints are gathered to rank 0 in the
  same layout as without FSDP (full weights, full optimizer state), so either kind of run resumes
  the other.
- Position ids restart at 0 for every packed sample and attention is confined to it, so a packed
  row computes exactly what the samples would alone.
- The exported config records the stage's image bounds (`min_pixels`/`max_pixels`) and, when the
  stage sets them, its `stretch`, `line_height`, `formula_height` and `formula_heights`, so the model directory is
  used at inference with the resolution it was trained at.
- Evaluation (`eval_every`): the mean answer-token loss on held-out samples, plus greedy decoding of
  a few of them scored with the task reward of rewards.py (the same code as GRPO and eval/).

Example (the CLI does this):
    >>> run_sft(SftJob(model="runs/init", data="shards/", out="runs/s2", stage=stage_config("2")))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from hyocr.model.vlm import HunyuanOCRModel
from hyocr.model.weights import load_model
from hyocr.processing.tokenizer import HyTokenizer
from hyocr.train.checkpointing import (
    STATE_FILE,
    TrainerState,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from hyocr.train.ctc import CtcHead, image_ctc_loss
from hyocr.train.data import PackedBatch, Packer, SampleEncoder, ShardIndex
from hyocr.train.fsdp import (
    clip_grad_norm_,
    gathered_model,
    gathered_optimizer_state,
    load_optimizer_state,
    shard_model,
    with_placeholder_image,
)
from hyocr.train.stages import StageConfig, autocast_bf16, lr_at

__all__ = [
    "SftJob",
    "Dist",
    "freeze_for_stage",
    "build_optimizer",
    "forward_batch",
    "evaluate",
    "run_sft",
    "JsonlLogger",
]


@dataclass
class SftJob:
    model: str | Path | None  # model directory to start from (ignored when resuming)
    data: str | Path | list[str | Path]
    out: str | Path
    stage: StageConfig
    resume: bool = False
    eval_data: str | Path | None = None
    quiet: bool = False


class Dist:
    """Rank and world size from torchrun's environment; a no-op for one process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        # the device FSDP runs on (the all-reduce path keeps the model where it was loaded)
        self.device = (
            torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")
        )
        if self.enabled and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def sum_grads(self, params: list[torch.nn.Parameter]) -> None:
        if not self.enabled:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        at = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[at : at + n].view_as(p).clone()
            at += n

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


class JsonlLogger:
    """Appends JSON lines to OUT/log.jsonl and prints a progress line (main process only)."""

    def __init__(self, path: Path, enabled: bool, quiet: bool = False):
        self.path, self.enabled, self.quiet = path, enabled, quiet

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=float) + "\n")

    def say(self, line: str) -> None:
        if self.enabled and not self.quiet:
            print(line, file=sys.stderr, flush=True)


def freeze_for_stage(model: HunyuanOCRModel, trains: str) -> list[torch.nn.Parameter]:
    """Set requires_grad per the stage; returns the trainable parameters in a fixed order."""
    for name, p in model.named_parameters():
        p.requires_grad_(trains == "all" or not name.startswith("decoder."))
    return [p for p in model.parameters() if p.requires_grad]


def build_optimizer(model: HunyuanOCRModel, cfg: StageConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for _name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr_max, betas=cfg.betas, eps=cfg.eps, foreach=True)


def _autocast(enabled: bool, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def forward_batch(
    model: HunyuanOCRModel,
    batch: PackedBatch,
    bf16: bool,
    loss_only: bool = True,
    image_embeds_out: list[torch.Tensor] | None = None,
):
    """Model output (mean answer loss, answer tokens; logits unless `loss_only`) for a packed micro-batch."""
    dev = next(model.parameters()).device
    with _autocast(bf16, dev):
        return model(
            batch.input_ids.to(dev),
            pixel_values=None if batch.pixel_values is None else batch.pixel_values.to(dev),
            grid_hw=batch.grid_hw,
            images_per_row=batch.images_per_row,
            attention_mask=batch.attention_mask.to(dev),
            position_ids=batch.position_ids.to(dev),
            segment_ids=batch.segment_ids.to(dev),
            labels=batch.labels.to(dev),
            loss_only=loss_only,
            image_embeds_out=image_embeds_out,
        )


@torch.no_grad()
def evaluate(
    model: HunyuanOCRModel, tok: HyTokenizer, data: ShardIndex, cfg: StageConfig, encoder: SampleEncoder
) -> dict[str, float]:
    """Held-out answer loss over `eval_samples` and the mean task reward of `eval_generate` greedy outputs."""
    from hyocr.engine.generate import Engine, Request, SamplingParams
    from hyocr.train.rewards import score

    was_training = model.training
    model.eval()
    n = min(cfg.eval_samples, len(data))
    packer = Packer(data, encoder, cfg.seq_len, shuffle=False)
    loss_sum, tokens = 0.0, 0
    while packer.position < n:
        batch = packer.encode_rows([packer.next_row()])
        out = forward_batch(model, batch, cfg.bf16)
        loss_sum += float(out.loss) * out.num_tokens
        tokens += out.num_tokens
    result = {"eval_loss": loss_sum / max(tokens, 1), "eval_tokens": tokens}
    k = min(cfg.eval_generate, len(data))
    if k:
        engine = Engine(model, tok, autocast=cfg.bf16, max_pixels=cfg.max_pixels, min_pixels=cfg.min_pixels)
        samples = [data[i] for i in range(k)]
        gens = engine.generate(
            [Request(s.instruction, s.images, s.system, s.task) for s in samples],
            SamplingParams(max_new_tokens=cfg.eval_max_new_tokens),
        )
        rewards = [score(s, g.text, g.finish_reason).reward for s, g in zip(samples, gens, strict=True)]
        result["eval_reward"] = sum(rewards) / k
    model.train(was_training)
    return result


def _fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def run_sft(job: SftJob) -> TrainerState:
    """Train one stage; returns the final trainer state. Writes checkpoints and logs under job.out."""
    cfg = job.stage
    d = Dist()
    out = Path(job.out)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    d.barrier()
    logger = JsonlLogger(out / "log.jsonl", d.main, job.quiet)
    cfg = replace(cfg, bf16=autocast_bf16(cfg.bf16, d.device, logger.say))

    # ---- model, tokenizer, state -------------------------------------------------------------
    state = TrainerState()
    payload: dict[str, Any] | None = None
    ckpt = latest_checkpoint(out) if job.resume else None
    if ckpt is not None:
        model, payload = load_checkpoint(ckpt)
        tok = HyTokenizer.from_dir(ckpt)
        state = TrainerState(**payload["state"])
        logger.say(f"resuming from {ckpt} (step {state.step}, data position {state.position})")
    else:
        if job.model is None:
            raise ValueError("no model to start from: give --model DIR (or --resume with an existing run)")
        model = load_model(job.model, dtype=torch.float32).train()
        tok = HyTokenizer.from_dir(job.model)
    torch.manual_seed(cfg.seed)
    # the exported model carries the image bounds it was trained with
    model.cfg = replace(model.cfg, min_pixels=min(cfg.min_pixels, cfg.max_pixels), max_pixels=cfg.max_pixels)
    if cfg.stretch is not None:
        model.cfg = replace(model.cfg, stretch=cfg.stretch)
    if cfg.line_height is not None:
        model.cfg = replace(model.cfg, line_height=cfg.line_height)
    if cfg.formula_height is not None:
        model.cfg = replace(model.cfg, formula_height=cfg.formula_height)
    if cfg.formula_heights is not None:
        model.cfg = replace(model.cfg, formula_heights=tuple(cfg.formula_heights))
    model.train()
    params = freeze_for_stage(model, cfg.trains)
    model.vision.gradient_checkpointing = cfg.grad_checkpointing
    model.decoder.gradient_checkpointing = cfg.grad_checkpointing
    sharded = cfg.fsdp and d.enabled
    if sharded:
        model = shard_model(model.to(d.device), init_device_mesh(d.device.type, (d.world,)))
        params = [p for p in model.parameters() if p.requires_grad]  # now sharded (DTensor), same order
    optimizer = build_optimizer(model, cfg)
    head = None
    if cfg.ctc_weight > 0:
        head = CtcHead(model.cfg.lm_hidden, model.cfg.merge).to(next(model.parameters()).device)
        saved = payload
        if saved is None and job.model is not None and (Path(job.model) / STATE_FILE).is_file():
            # a new stage started from a checkpoint keeps the CTC head trained before it
            saved = torch.load(Path(job.model) / STATE_FILE, map_location="cpu", weights_only=False)
        if saved is not None and "ctc_head" in saved.get("extra", {}):
            head.load_state_dict(saved["extra"]["ctc_head"])
        optimizer.add_param_group({"params": list(head.parameters()), "weight_decay": 0.0})
        params = params + list(head.parameters())
    if payload is not None:
        if sharded:
            load_optimizer_state(optimizer, payload["optimizer"])
        else:
            optimizer.load_state_dict(payload["optimizer"])
        set_rng_state(payload["rng"])

    data = ShardIndex(job.data, tasks=cfg.tasks)
    encoder = SampleEncoder(
        model.cfg,
        tok,
        cfg.max_pixels,
        cfg.min_pixels,
        tight_lines=cfg.tight_lines,
        scan_lines=cfg.scan_lines,
        seed=cfg.seed + state.step,
    )
    packer = Packer(data, encoder, cfg.seq_len, seed=cfg.seed, shuffle=cfg.shuffle, position=state.position)
    packer.skipped = state.skipped
    eval_data = ShardIndex(job.eval_data) if job.eval_data else None
    if state.step == 0 and payload is None:
        logger.log(
            {
                "event": "start",
                "stage": cfg.to_dict(),
                "samples": len(data),
                "world": d.world,
                "parameters": sum(p.numel() for p in model.parameters()),
                "trainable": sum(p.numel() for p in params),
            }
        )
    logger.say(
        f"stage {cfg.name}: {len(data)} samples, {sum(p.numel() for p in params) / 1e6:.1f}M trainable parameters, "
        f"{cfg.max_steps} steps x {cfg.rows}x{cfg.grad_accum}x{d.world} rows of {cfg.seq_len} tokens, "
        f"bf16={'on' if cfg.bf16 else 'off'}{', FSDP' if sharded else ''}"
    )

    stage_dict = cfg.to_dict()
    t_start = time.perf_counter()
    steps_here = 0
    window = {
        "loss": 0.0,
        "ctc": 0.0,
        "ctc_n": 0,
        "tokens": 0,
        "answer": 0,
        "samples": 0,
        "t": time.perf_counter(),
        "steps": 0,
    }
    dev = next(model.parameters()).device
    while state.step < cfg.max_steps:
        lr = lr_at(cfg, state.step)
        for g in optimizer.param_groups:
            g["lr"] = lr
        # lay out this step's rows for every process, decode only ours
        micro: list[PackedBatch] = []
        for _ in range(cfg.grad_accum):
            rows = packer.next_rows(cfg.rows * d.world)
            batch = packer.encode_rows(rows[d.rank * cfg.rows : (d.rank + 1) * cfg.rows])
            # FSDP: every process must run the ViT blocks, so a text-only micro-batch gets a blank image
            micro.append(with_placeholder_image(batch, model.cfg, tok.pad_id) if sharded else batch)
        local = [
            sum(b.num_answer_tokens for b in micro),
            sum(b.num_samples for b in micro),
            sum(b.num_tokens for b in micro),
            sum(len(t) for b in micro for t in b.ctc_targets if t),
        ]
        total_answer, total_samples, total_tokens, total_ctc = d.sum([float(x) for x in local])
        loss_sum, ctc_sum, ctc_n = 0.0, 0.0, 0
        ctc_total = max(total_ctc, 1.0)  # CTC targets of the whole step, like the answer tokens
        for batch in micro:
            embeds: list[torch.Tensor] | None = [] if head is not None else None
            if cfg.answer_loss:
                out_ = forward_batch(model, batch, cfg.bf16, image_embeds_out=embeds)
                loss = out_.loss * (out_.num_tokens / max(total_answer, 1.0))
                loss_sum += float(out_.loss.detach()) * out_.num_tokens
            else:  # vision-only CTC stage: the decoder is not run at all
                with _autocast(cfg.bf16, dev):
                    embeds = model.encode_images(batch.pixel_values.to(dev), batch.grid_hw)
                loss = torch.zeros((), device=dev)
            if head is not None:
                ctc, n_ctc = image_ctc_loss(head, embeds, batch.grid_hw, batch.ctc_targets)
                if ctc is not None:
                    loss = loss + cfg.ctc_weight * ctc / ctc_total
                    ctc_sum += float(ctc.detach())
                    ctc_n += n_ctc
            if loss.requires_grad:
                loss.backward()
        if sharded:  # FSDP has reduce-scattered the model's gradients; the CTC head is replicated
            if head is not None:
                d.sum_grads(list(head.parameters()))
            grad_norm = clip_grad_norm_(params, cfg.clip_norm) if cfg.clip_norm > 0 else 0.0
        else:
            d.sum_grads(params)
            grad_norm = (
                float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)) if cfg.clip_norm > 0 else 0.0
            )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum, ctc_sum, ctc_n = d.sum([loss_sum, ctc_sum, float(ctc_n)])
        state.step += 1
        state.position = packer.position
        state.skipped = packer.skipped
        state.samples += int(total_samples)
        state.tokens += int(total_tokens)
        steps_here += 1
        window["loss"] += loss_sum
        window["ctc"] += ctc_sum
        window["ctc_n"] += int(ctc_n)
        window["answer"] += int(total_answer)
        window["tokens"] += int(total_tokens)
        window["samples"] += int(total_samples)
        window["steps"] += 1

        if state.step % cfg.log_every == 0 or state.step == cfg.max_steps:
            dt = max(time.perf_counter() - window["t"], 1e-9)
            step_time = (time.perf_counter() - t_start) / steps_here
            rec = {
                "event": "train",
                "step": state.step,
                "loss": window["loss"] / max(window["answer"], 1),
                "lr": lr,
                "grad_norm": grad_norm,
                "samples_per_s": window["samples"] / dt,
                "tokens_per_s": window["tokens"] / dt,
                "epoch": state.position / len(data),
                "skipped": state.skipped,
            }
            if head is not None:
                rec["ctc_loss"] = window["ctc"] / max(window["ctc_n"], 1)
            logger.log(rec)
            eta = _fmt_eta(step_time * (cfg.max_steps - state.step))
            logger.say(
                f"step {state.step}/{cfg.max_steps} loss {rec['loss']:.4f} lr {lr:.2e} gnorm {grad_norm:.2f} "
                f"{rec['samples_per_s']:.2f} samples/s {rec['tokens_per_s']:.0f} tok/s epoch {rec['epoch']:.2f} ETA {eta}"
            )
            window = {
                "loss": 0.0,
                "ctc": 0.0,
                "ctc_n": 0,
                "tokens": 0,
                "answer": 0,
                "samples": 0,
                "t": time.perf_counter(),
                "steps": 0,
            }

        do_eval = eval_data is not None and cfg.eval_every and state.step % cfg.eval_every == 0
        do_save = state.step % cfg.save_every == 0 or state.step == cfg.max_steps
        # FSDP: every process takes part in gathering the full weights the main process evaluates and saves
        whole = gathered_model(model, d.main) if sharded and (do_eval or do_save) else model
        if do_eval and d.main:
            rec = {
                "event": "eval",
                "step": state.step,
                **evaluate(whole.to(dev), tok, eval_data, cfg, encoder),
            }
            logger.log(rec)
            logger.say("eval " + " ".join(f"{k} {v:.4f}" for k, v in rec.items() if isinstance(v, float)))

        if do_save:
            optim_state = gathered_optimizer_state(optimizer, d.main) if sharded else optimizer
            if d.main:
                extra = {"ctc_head": head.state_dict()} if head is not None else None
                path = save_checkpoint(
                    out, whole, tok, optim_state, state, stage_dict, cfg.keep_checkpoints, extra
                )
                logger.log({"event": "checkpoint", "step": state.step, "path": str(path)})
            d.barrier()
        del whole
    del dev
    d.close()
    return state
