"""Native-resolution vision tower (SigLIP-v2 derived ViT of the release).

Non-obvious points:
- Any resolution and aspect ratio: the learned position table is a square grid of
  `vit_pos_edge`^2 entries (128^2 = (2048/16)^2 for the release, plus one unused leading entry),
  bilinearly interpolated (align_corners=False, in float32) to each image's (h, w) patch grid.
- Images are packed into one token sequence (`pixel_values` is (N patches, 3*16*16) for all
  images together, in raster order per image). Attention is bidirectional and confined to one image:
  we run attention per image, which is exactly the block-diagonal mask without materialising it.
- Pre-LayerNorm blocks with biased q/k/v/o projections and an exact-GELU MLP.
Reference: transformers 5.23.0 `HunYuanVLVisionPatchEmbed`, `HunYuanVLVisionAttention`, `HunYuanVLVisionBlock`.
Tensor names follow the release (`vit.embeddings.*`, `vit.layers.N.self_attn.*`, `mlp.dense_h_to_4h`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hyocr.config import HyocrConfig
from hyocr.model.decoder import embedding

__all__ = ["PatchEmbedding", "VisionAttention", "VisionMLP", "VisionBlock", "VisionTower"]


class PatchEmbedding(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.patch = cfg.vit_patch
        self.edge = cfg.vit_pos_edge
        self.patch_embedding = nn.Conv2d(3, cfg.vit_hidden, kernel_size=cfg.vit_patch, stride=cfg.vit_patch)
        self.position_embedding = embedding(cfg.vit_pos_edge**2 + 1, cfg.vit_hidden)

    def interpolated_positions(self, h: int, w: int) -> torch.Tensor:
        """(h*w, hidden) positions for an h x w patch grid."""
        d = self.position_embedding.weight.shape[1]
        grid = (
            self.position_embedding.weight[1:].reshape(1, self.edge, self.edge, d).permute(0, 3, 1, 2).float()
        )
        grid = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)  # (1, d, h, w)
        return grid.permute(0, 2, 3, 1).reshape(h * w, d)

    def forward(self, pixel_values: torch.Tensor, grid_hw: list[tuple[int, int]]) -> torch.Tensor:
        # pixel_values: (N, 3*p*p), each patch laid out (C, p, p) like the conv kernel, so the
        # stride-p conv is one matmul: (N, 3*p*p) @ (3*p*p, hidden). Much faster than a conv on CPU.
        weight = self.patch_embedding.weight  # (hidden, 3, p, p)
        x = F.linear(
            pixel_values.to(weight.dtype), weight.reshape(weight.shape[0], -1), self.patch_embedding.bias
        )
        pos = torch.cat([self.interpolated_positions(h, w) for h, w in grid_hw], dim=0).to(x.dtype)
        return x + pos  # (N, hidden)


class VisionAttention(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        d = cfg.vit_hidden
        self.heads = cfg.vit_heads
        self.head_dim = d // cfg.vit_heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        # x: (N, d) for all images packed; attention runs within each image's run of `lengths`.
        n, d = x.shape
        q, k, v = (
            proj(x).view(n, self.heads, self.head_dim) for proj in (self.q_proj, self.k_proj, self.v_proj)
        )
        b, longest = len(lengths), max(lengths)
        if b == 1 or b * longest > 2 * n:
            # one image, or images of very different sizes (padding them would more than double
            # the attention's work): one call per image. SDPA's CPU flash kernel runs ~7% faster
            # on contiguous (1, H, n_i, hd) inputs than on the transposed views (measured at 4096
            # patches, bf16, 2 threads), more than the copies cost; it returns (1, H, n_i, hd)
            # laid out as (n_i, H, hd), so one image needs no copy before o_proj
            outs = []
            for qkv in zip(q.split(lengths), k.split(lengths), v.split(lengths), strict=True):
                one = F.scaled_dot_product_attention(*(t.transpose(0, 1)[None].contiguous() for t in qkv))
                outs.append(one[0].transpose(0, 1))
            out = outs[0] if b == 1 else torch.cat(outs, dim=0)
            return self.o_proj(out.reshape(n, d))
        # images of about one size (a batch of line crops sorted by shape: tens of short runs): one
        # attention call over the runs padded to the longest, padded keys masked
        size = torch.tensor(lengths, device=x.device)
        inside = torch.arange(longest, device=x.device) < size[:, None]  # (B, longest)
        slots = inside.flatten().nonzero().squeeze(1)  # each packed patch's padded position

        def padded(t: torch.Tensor) -> torch.Tensor:
            out = t.new_zeros((b * longest, self.heads, self.head_dim)).index_copy_(0, slots, t)
            return out.view(b, longest, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = padded(q), padded(k), padded(v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=inside[:, None, None, :])  # (B, H, L, hd)
        return self.o_proj(out.transpose(1, 2).reshape(b * longest, d).index_select(0, slots))


class VisionMLP(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(cfg.vit_hidden, cfg.vit_mlp)
        self.dense_4h_to_h = nn.Linear(cfg.vit_mlp, cfg.vit_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))


class VisionBlock(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(cfg.vit_hidden, eps=cfg.vit_eps)
        self.self_attn = VisionAttention(cfg)
        self.post_attention_layernorm = nn.LayerNorm(cfg.vit_hidden, eps=cfg.vit_eps)
        self.mlp = VisionMLP(cfg)

    def forward(self, x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), lengths)
        return x + self.mlp(self.post_attention_layernorm(x))


class VisionTower(nn.Module):
    """pixel_values (N, 3*p*p) + per-image patch grids -> patch features (N, vit_hidden)."""

    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.embeddings = PatchEmbedding(cfg)
        self.layers = nn.ModuleList([VisionBlock(cfg) for _ in range(cfg.vit_layers)])
        self.gradient_checkpointing = False

    def forward(self, pixel_values: torch.Tensor, grid_hw: list[tuple[int, int]]) -> torch.Tensor:
        lengths = [h * w for h, w in grid_hw]
        if sum(lengths) != pixel_values.shape[0]:
            raise ValueError(
                f"grid_hw describes {sum(lengths)} patches but pixel_values has {pixel_values.shape[0]}"
            )
        x = self.embeddings(pixel_values, grid_hw)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(layer, x, lengths, use_reentrant=False)
            else:
                x = layer(x, lengths)
        return x
