"""Building fresh models: a config fitted to a tokenizer, and initial weights.

Initialisation follows common practice for this family (transformers' `_init_weights` for
`hunyuan_vl`): normal(0, 0.02) for linear, conv and embedding weights, zero biases, unit norm
weights, and normal(0, hidden^-0.5) for the connector's learned begin/end/newline/sep vectors.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from hyocr.config import HyocrConfig
from hyocr.model.decoder import RMSNorm
from hyocr.model.vlm import HunyuanOCRModel
from hyocr.processing.tokenizer import HyTokenizer

__all__ = ["config_for_tokenizer", "init_model"]


def config_for_tokenizer(cfg: HyocrConfig, tok: HyTokenizer, multiple: int = 64) -> HyocrConfig:
    """Vocabulary size (rounded up to `multiple`) and special ids taken from the tokenizer."""
    vocab = -(-tok.vocab_size // multiple) * multiple
    return replace(
        cfg,
        lm_vocab=vocab,
        bos_id=tok.ids["bos"],
        eos_id=tok.eos_id,
        pad_id=tok.pad_id,
        image_token_id=tok.ids["image"],
        image_start_id=tok.ids["image_start"],
        image_end_id=tok.ids["image_end"],
        image_newline_id=tok.ids.get("image_newline", tok.ids["image"]),
    )


@torch.no_grad()
def init_model(cfg: HyocrConfig, seed: int = 0, std: float = 0.02) -> HunyuanOCRModel:
    """A new model with deterministic initial weights."""
    gen = torch.Generator().manual_seed(seed)
    model = HunyuanOCRModel(cfg)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.Embedding)):
            module.weight.normal_(0.0, std, generator=gen)
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
        elif isinstance(module, (nn.LayerNorm, RMSNorm)):
            module.weight.fill_(1.0)
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
    c = model.connector
    for p in (c.image_newline, c.image_begin, c.image_end, c.image_sep):
        p.normal_(0.0, cfg.lm_hidden**-0.5, generator=gen)
    return model
