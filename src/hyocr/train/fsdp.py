"""Fully sharded data parallelism for the SFT trainer (FSDP2, `torch.distributed.fsdp.fully_shard`).

With `fsdp = true` in the stage config and more than one process, every process holds 1/world of
the fp32 weights, gradients and Adam moments instead of all of them; a block's full weights exist
only while it runs. The maths is that of the all-reduce path in sft.py (same loss normalisation,
same clipping, same AdamW), so one process, the all-reduce path and FSDP agree to rounding
(tests/train/test_ddp.py).

Choices (each with the reason):
- Sharding units: every ViT block and every decoder layer is its own group (one all-gather before
  it runs, one reduce-scatter of its gradients after its backward). The root group holds the rest:
  patch and position embeddings, the connector, the final norm and the token embedding. The token
  embedding must stay in the root group: `lm_head` reads `decoder.embed_tokens.weight` (tied) after
  the decoder has run, outside any layer's forward.
- Gradients are summed, not averaged (divide factor 1, SUM reduce-scatter): sft.py already divides
  the loss by the answer tokens of the whole step, all processes included. gloo has neither AVG
  nor PREMUL_SUM, hence `set_force_sum_reduction_for_comms`.
- Numerics as in the all-reduce path: fp32 sharded weights, bf16 by autocast. No
  `MixedPrecisionPolicy`: bf16 all-gathers would halve the traffic on GPUs but round the weights
  before the ops that autocast keeps in fp32 (norms, softmax), so FSDP would no longer equal one
  process.
- Every process must run the same sharded blocks in the same order, or the collectives pair up
  wrongly and hang. A micro-batch without any image would skip the ViT on one process only, so
  `with_placeholder_image` appends a blank merge x merge-patch image whose tokens form padding:
  its own attention span, no labels, hence exactly zero gradient. (A step with no image on any
  process then gives the ViT zero gradients rather than none, as the all-reduce path already does.)
  The vision-only CTC stage (`answer_loss = false`) calls `encode_images` outside `forward` and
  is refused with FSDP.
- Gradient clipping: the global norm is sqrt(all-reduce of the local shards' sums of squares +
  the replicated parameters' sums of squares), then every gradient is scaled as
  `torch.nn.utils.clip_grad_norm_` does.
- The CTC head is not sharded: `image_ctc_loss` calls it once per image, a different number of
  times on each process. Its gradients are all-reduced as in the plain path.
- Checkpoints are gathered to rank 0: full weights (the release layout, `hyocr run --model` loads
  them) and the **full optimizer state in the format of an unsharded `optimizer.state_dict()`**.
  So a checkpoint resumes with or without FSDP and at any world size; loading slices each moment
  to this process's shard locally (`distribute_tensor(..., src_data_rank=None)`, no traffic).
  Cost: during a save, rank 0 holds a CPU copy of the weights and both Adam moments (3 x 4 GB for
  the 1B model); on resume every process reads the whole trainer_state.pt.
- Evaluation runs on rank 0 over a gathered unsharded copy: the engine's `prefill`/`decode` are
  not `forward` and would meet sharded weights.

Example (sft.py does this when `cfg.fsdp` and world > 1):
    >>> mesh = init_device_mesh("cpu", (2,))                  # doctest: +SKIP
    >>> model = shard_model(model, mesh)                       # doctest: +SKIP
    >>> optimizer = build_optimizer(model, cfg)                # doctest: +SKIP
    >>> load_optimizer_state(optimizer, payload["optimizer"])  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from hyocr.config import HyocrConfig
from hyocr.model.vlm import HunyuanOCRModel
from hyocr.train.data import PackedBatch

__all__ = [
    "shard_model",
    "with_placeholder_image",
    "clip_grad_norm_",
    "gathered_model",
    "gathered_optimizer_state",
    "load_optimizer_state",
]


def shard_model(model: HunyuanOCRModel, mesh: DeviceMesh) -> HunyuanOCRModel:
    """Shard in place (bottom-up: ViT blocks, decoder layers, then the root) with summed gradients.

    Call after `freeze_for_stage` (requires_grad is kept) and before building the optimizer."""
    for block in model.vision.layers:
        fully_shard(block, mesh=mesh)
    for layer in model.decoder.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.set_gradient_divide_factor(1.0)
            m.set_force_sum_reduction_for_comms(True)
    return model


def with_placeholder_image(batch: PackedBatch, cfg: HyocrConfig, pad_id: int) -> PackedBatch:
    """`batch` (without images) + one blank merge x merge-patch image as padding at the end of row 0.

    Every row grows by the image's tokens (4 for merge 2): placeholders in row 0, padding in the
    others; no labels, segment 0, so the loss and every real token's output are unchanged."""
    if batch.pixel_values is not None:
        return batch
    m, p = cfg.merge, cfg.vit_patch
    n = cfg.image_tokens(m * p, m * p)
    rows, length = batch.input_ids.shape
    ids = F.pad(batch.input_ids, (0, n), value=pad_id)  # (B, L + n)
    ids[0, length:] = cfg.image_token_id
    return replace(
        batch,
        input_ids=ids,
        labels=F.pad(batch.labels, (0, n), value=-100),
        attention_mask=F.pad(batch.attention_mask, (0, n), value=0),
        segment_ids=F.pad(batch.segment_ids, (0, n), value=0),
        position_ids=F.pad(batch.position_ids, (0, n), value=0),  # (axes, B, L + n)
        pixel_values=torch.zeros(m * m, 3 * p * p),  # (patches, 3*p*p)
        grid_hw=[(m, m)],
        images_per_row=[1] + [0] * (rows - 1),
        ctc_targets=[None],
    )


@torch.no_grad()
def clip_grad_norm_(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """Scale gradients to a global norm of at most `max_norm`; returns the norm before scaling.

    Sharded (DTensor) gradients contribute their local shard to an all-reduced sum of squares;
    plain gradients are replicated (identical on every process) and counted once."""
    grads = [p.grad for p in params if p.grad is not None]
    sharded = [g.to_local() for g in grads if isinstance(g, DTensor)]
    replicated = [g for g in grads if not isinstance(g, DTensor)]
    device = (sharded or replicated)[0].device if grads else torch.device("cpu")
    local = torch.zeros((), dtype=torch.float32, device=device)
    for g in sharded:
        local += torch.linalg.vector_norm(g, dtype=torch.float32) ** 2
    dist.all_reduce(local)
    for g in replicated:
        local += torch.linalg.vector_norm(g, dtype=torch.float32).to(device) ** 2
    total = float(local.sqrt())
    coef = min(max_norm / (total + 1e-6), 1.0)  # as torch.nn.utils.clip_grad_norm_
    if coef < 1.0:
        for g in sharded + replicated:
            g.mul_(coef)
    return total


def gathered_model(model: HunyuanOCRModel, main: bool) -> HunyuanOCRModel | None:
    """An unsharded CPU copy of the weights on the main process (None elsewhere); every process calls."""
    full: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict().items():
        t = t.full_tensor() if isinstance(t, DTensor) else t  # an all-gather, so on every process
        if main:
            full[name] = t.detach().to("cpu", copy=True)
    if not main:
        return None
    with torch.device("meta"):
        plain = HunyuanOCRModel(model.cfg)
    plain.load_state_dict(full, strict=True, assign=True)
    plain.inv_freq = model.inv_freq.detach().to("cpu", copy=True)  # not in the state dict
    return plain.train(model.training)


def gathered_optimizer_state(optimizer: torch.optim.Optimizer, main: bool) -> dict[str, Any] | None:
    """`optimizer.state_dict()` with every sharded moment gathered whole (main process; None elsewhere).

    The result has the layout of an unsharded optimizer's state dict (parameter indices, plain
    CPU tensors), so it loads into either kind of run. Every process calls."""
    sd = optimizer.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for idx in sorted(sd["state"]):
        entry = {}
        for key in sorted(sd["state"][idx]):
            v = sd["state"][idx][key]
            if isinstance(v, DTensor):
                v = v.full_tensor()
            if main:
                entry[key] = v.detach().to("cpu", copy=True) if torch.is_tensor(v) else v
        state[idx] = entry
    return {"state": state, "param_groups": sd["param_groups"]} if main else None


def load_optimizer_state(optimizer: torch.optim.Optimizer, full: dict[str, Any]) -> None:
    """Load a full (unsharded-layout) optimizer state, keeping this process's shard of each moment."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = {}
    for idx, entry in full["state"].items():
        p = params[idx]
        if isinstance(p, DTensor):
            entry = {
                k: distribute_tensor(v.to(p.device), p.device_mesh, p.placements, src_data_rank=None)
                if torch.is_tensor(v) and v.shape == p.shape
                else v
                for k, v in entry.items()
            }
        state[idx] = entry
    optimizer.load_state_dict({"state": state, "param_groups": full["param_groups"]})
