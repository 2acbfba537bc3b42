"""Hunyuan dense decoder (the 0.5B language model of the release).

Non-obvious points (reference: transformers 5.23.0 `HunYuanVLDenseV1Attention`, `HunYuanVLTextModel`):
- Grouped-query attention (16 query heads over 8 key/value heads, head dim 128), no biases.
- QK-norm: a per-head RMSNorm on queries and keys applied *after* the rotary embedding, so the KV
  cache stores normalised keys.
- RMSNorm computes in float32 and casts back before the weight multiply.
- SwiGLU MLP: down(silu(gate(x)) * up(x)). Input and output embeddings are tied.
- Attention masks are boolean (B, 1, Lq, Lk). A query row with no visible key (left padding) is
  allowed to see itself, so no NaN reaches real tokens.
- Packed training rows pass `spans` instead of a mask: per row, the (start, end) of each sample.
  Attention then runs causally inside each span with the fused kernel, which equals the
  causal-and-same-sample mask but skips the cross-sample blocks (most of an L x L mask when many
  short samples share a row) and never materialises the mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hyocr.config import HyocrConfig
from hyocr.model.rope import apply_rope

__all__ = ["RMSNorm", "KVCache", "DecoderAttention", "DecoderMLP", "DecoderLayer", "Decoder"]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x * rsqrt(mean(x^2) + eps) in float32, as the reference writes it out; the fused op gives
        # the same bits at a third less time (decoding runs ~17 of these a step)
        xf = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps)
        return self.weight * xf.to(x.dtype)


class KVCache:
    """Pre-allocated keys and values for every layer: (B, Hkv, capacity, head_dim) each.

    All sequences of a batch write at the same index (prompts are left padded to one length), so
    one integer `length` says how much is filled.
    """

    def __init__(
        self,
        cfg: HyocrConfig,
        batch: int,
        capacity: int,
        dtype: torch.dtype,
        device: torch.device,
        zeroed: bool = True,
    ):
        """zeroed=False skips zero-filling (~100 MB for a 1B prompt of 1k tokens): safe only when every
        position is written (by `update`) before it is read, as in one prefill + decode; caches whose
        rows are copied in at offsets, with masked gaps, must stay zeroed (garbage could be NaN)."""
        shape = (batch, cfg.lm_kv_heads, capacity, cfg.lm_head_dim)
        new = torch.zeros if zeroed else torch.empty
        self.k = [new(shape, dtype=dtype, device=device) for _ in range(cfg.lm_layers)]
        self.v = [new(shape, dtype=dtype, device=device) for _ in range(cfg.lm_layers)]
        self.capacity = capacity
        self.length = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = self.length, self.length + k.shape[2]
        if end > self.capacity:
            raise ValueError(f"KV cache overflow: {end} > capacity {self.capacity}")
        self.k[layer][:, :, start:end] = k.to(self.k[layer].dtype)
        self.v[layer][:, :, start:end] = v.to(self.v[layer].dtype)
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the given batch rows (finished sequences leave the batch, beams are reordered).
        Only the filled positions are copied: the rest of the capacity is written before it is
        read, and copying all of it (a page's segments reserve 8k positions each) cost more than
        the decoding. When no more rows are kept than there are, they are gathered and written
        back to the front of the same buffers, whose first rows are then the cache: a new buffer
        each step (beam search selects every step) cost the kernel fresh zeroed pages each time."""
        n = self.length

        def take(t: torch.Tensor) -> torch.Tensor:
            kept = t[:, :, :n].index_select(0, rows)
            if len(rows) <= t.shape[0]:
                t[: len(rows), :, :n] = kept
                return t[: len(rows)]
            out = t.new_empty((len(rows), *t.shape[1:]))
            out[:, :, :n] = kept
            return out

        self.k = [take(t) for t in self.k]
        self.v = [take(t) for t in self.v]

    def nbytes(self) -> int:
        """The bytes the cache holds: its buffers whole (rows that left them stay allocated)."""
        return sum(t.untyped_storage().nbytes() for t in self.k + self.v)


class DecoderAttention(nn.Module):
    def __init__(self, cfg: HyocrConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.heads, self.kv_heads, self.head_dim = cfg.lm_heads, cfg.lm_kv_heads, cfg.lm_head_dim
        h = cfg.lm_hidden
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)
        self.query_layernorm = RMSNorm(self.head_dim, cfg.lm_eps)
        self.key_layernorm = RMSNorm(self.head_dim, cfg.lm_eps)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | list[list[tuple[int, int]]] | None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        # x: (B, L, hidden); cos/sin: (B, L, head_dim); mask: (B, 1, L, Lk) bool, per-row sample
        # spans (packed training), or None for plain causal
        b, length, _ = x.shape
        q = self.q_proj(x).view(b, length, self.heads, self.head_dim).transpose(1, 2)  # (B, H, L, hd)
        k = self.k_proj(x).view(b, length, self.kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, L, hd)
        v = self.v_proj(x).view(b, length, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, k, cos, sin)
        q, k = self.query_layernorm(q), self.key_layernorm(k)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)
        # GQA: each kv head serves heads/kv_heads query heads; SDPA broadcasts them itself
        # (enable_gqa), so the cache is never copied per step
        gqa = self.heads != self.kv_heads
        if isinstance(mask, list):  # spans of packed samples: causal attention within each
            rows = []
            for r, spans in enumerate(mask):
                parts = [
                    F.scaled_dot_product_attention(
                        q[r : r + 1, :, a:e],
                        k[r : r + 1, :, a:e],
                        v[r : r + 1, :, a:e],
                        is_causal=e - a > 1,
                        enable_gqa=gqa,
                    )
                    for a, e in spans
                ]
                rows.append(torch.cat(parts, dim=2))
            out = torch.cat(rows, dim=0)
        elif length == 1:  # decoding one token: two GEMVs beat the blocked flash kernel here
            out = self._attend_one(q, k, v, mask)
        elif mask is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=length > 1, enable_gqa=gqa)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        out = out.transpose(1, 2).reshape(b, length, self.heads * self.head_dim)
        return self.o_proj(out)

    def _attend_one(self, q, k, v, mask):
        """q (B, H, 1, d) against k/v (B, Hkv, Lk, d): query heads grouped per kv head, no copies."""
        b, _, _, d = q.shape
        rep = self.heads // self.kv_heads
        qg = q.reshape(b, self.kv_heads, rep, d)  # head h = kv * rep + r, as repeat_interleave
        scores = torch.matmul(qg, k.transpose(-1, -2)).float() * d**-0.5  # (B, Hkv, rep, Lk)
        if mask is not None:
            scores = scores.masked_fill(~mask.reshape(b, 1, 1, -1), float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        return torch.matmul(probs, v).reshape(b, self.heads, 1, d)


class DecoderMLP(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.lm_hidden, cfg.lm_mlp, bias=False)
        self.up_proj = nn.Linear(cfg.lm_hidden, cfg.lm_mlp, bias=False)
        self.down_proj = nn.Linear(cfg.lm_mlp, cfg.lm_hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: HyocrConfig, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.lm_hidden, cfg.lm_eps)
        self.self_attn = DecoderAttention(cfg, layer)
        self.post_attention_layernorm = RMSNorm(cfg.lm_hidden, cfg.lm_eps)
        self.mlp = DecoderMLP(cfg)

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


def embedding(num: int, dim: int) -> nn.Embedding:
    """An `nn.Embedding` initialised as torch does (standard normal), except on the meta device
    (`load_model` builds the model there before loading its weights), where torch's own init would
    import torch._dynamo: 1.5-2 s of every CLI start on a 2-core machine."""
    weight = torch.empty(num, dim)
    if weight.device.type != "meta":
        nn.init.normal_(weight)
    return nn.Embedding(num, dim, _weight=weight)


class Decoder(nn.Module):
    """Token embeddings (B, L, hidden) -> final normed hidden states (B, L, hidden)."""

    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.embed_tokens = embedding(cfg.lm_vocab, cfg.lm_hidden)
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(cfg.lm_layers)])
        self.norm = RMSNorm(cfg.lm_hidden, cfg.lm_eps)
        self.gradient_checkpointing = False

    def forward(self, x, cos, sin, mask, cache: KVCache | None = None) -> torch.Tensor:
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, mask, use_reentrant=False)
            else:
                x = layer(x, cos, sin, mask, cache)
        if cache is not None:
            cache.length += x.shape[1]
        return self.norm(x)
