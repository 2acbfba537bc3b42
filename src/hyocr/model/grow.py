"""Deepening a trained model without changing what it computes (function-preserving growth).

A small model trained for many hours can be given more layers and trained on, instead of training
a bigger one from scratch. Choices:
- New blocks are interleaved: the extra blocks are spread evenly over the old ones, each inserted
  right after the old block it copies (the "stacking" of progressive training, Gong et al. 2019).
- A new block starts as the identity: every block is pre-norm residual (`x + attn(norm(x))`,
  `x + mlp(norm(x))`), so zeroing its two output projections (attention `o_proj`, the MLP's last
  linear, with their biases) makes it add nothing. The grown model's logits equal the old one's
  exactly; its other weights are copies of the block it follows, so once training moves the output
  projections off zero the block computes something already tuned to its input.
- Nothing else changes: embeddings, connector, norms and the position table are taken as they are.

A model can also be given more vocabulary (`widen_vocab`, for a tokenizer widened by
`processing.tokenizer.add_characters`): old rows are kept, and a new piece's row starts as the mean
of the rows of the old pieces it joins. With tied embeddings that row is also its output vector, so
the new piece starts scored like the byte pieces the model used to write for it.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from hyocr.model.vlm import HunyuanOCRModel

__all__ = ["deepen", "layer_plan", "widen_vocab"]

# per tower: the state-dict prefix of its blocks and the tensors that write into the residual stream
_TOWERS = {
    "vision": ("vision.layers.", ("self_attn.o_proj.", "mlp.dense_4h_to_h.")),
    "decoder": ("decoder.layers.", ("self_attn.o_proj.", "mlp.down_proj.")),
}


def layer_plan(old: int, new: int) -> list[tuple[int, bool]]:
    """For each block of the deeper tower: (old block it copies, whether it is a new identity block).

    layer_plan(4, 6) -> [(0, F), (1, F), (1, T), (2, F), (3, F), (3, T)]: the extra blocks spread
    evenly, each after the block it copies.
    """
    if old < 1 or new < old:
        raise ValueError(f"cannot grow a tower of {old} blocks to {new}")
    extra = new - old
    plan = []
    for i in range(old):
        plan.append((i, False))
        plan.extend([(i, True)] * ((extra * (i + 1)) // old - (extra * i) // old))
    return plan


@torch.no_grad()
def deepen(
    model: HunyuanOCRModel, vit_layers: int | None = None, lm_layers: int | None = None
) -> HunyuanOCRModel:
    """A new model with `vit_layers` vision and `lm_layers` decoder blocks computing what `model` does."""
    cfg = model.cfg
    sizes = {
        "vision": (cfg.vit_layers, vit_layers or cfg.vit_layers),
        "decoder": (cfg.lm_layers, lm_layers or cfg.lm_layers),
    }
    new_cfg = replace(cfg, vit_layers=sizes["vision"][1], lm_layers=sizes["decoder"][1])
    old_state = model.state_dict()
    state = {}
    for name, tensor in old_state.items():
        if not any(name.startswith(prefix) for prefix, _ in _TOWERS.values()):
            state[name] = tensor.clone()
    for tower, (prefix, outputs) in _TOWERS.items():
        for j, (i, fresh) in enumerate(layer_plan(*sizes[tower])):
            src = f"{prefix}{i}."
            for name, tensor in old_state.items():
                if not name.startswith(src):
                    continue
                rest = name[len(src) :]
                copy = tensor.clone()
                if fresh and rest.startswith(outputs):
                    copy.zero_()
                state[f"{prefix}{j}.{rest}"] = copy
    grown = HunyuanOCRModel(new_cfg)
    grown.load_state_dict(state, strict=True)
    return grown.to(next(model.parameters()).dtype).train(model.training)


@torch.no_grad()
def widen_vocab(model: HunyuanOCRModel, made_of: dict[int, list[int]], multiple: int = 64) -> HunyuanOCRModel:
    """A new model with a row for each new id of `made_of` (new id -> the old ids it joins).

    The vocabulary grows to the next multiple of `multiple` past the highest new id; the old rows
    are kept as they are, and the old model's unused padding rows are overwritten by new ids.
    """
    cfg = model.cfg
    old = model.decoder.embed_tokens.weight
    if any(not ids or max(ids) >= cfg.lm_vocab or min(ids) < 0 for ids in made_of.values()):
        raise ValueError("widen_vocab: a new piece must be made of the model's existing ids")
    top = max(made_of, default=-1) + 1
    vocab = max(cfg.lm_vocab, -(-top // multiple) * multiple)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    table = torch.zeros(vocab, old.shape[1], dtype=old.dtype)
    table[: cfg.lm_vocab] = old
    for new_id, ids in made_of.items():
        table[new_id] = old[ids].float().mean(0).to(old.dtype)
    state["decoder.embed_tokens.weight"] = table
    wide = HunyuanOCRModel(replace(cfg, lm_vocab=vocab))
    wide.load_state_dict(state, strict=True)
    return wide.to(old.dtype).train(model.training)
