"""The adaptive MLP connector ("perceive" in the release): ViT patches -> decoder embeddings.

Per image with an h x w patch grid:
  RMSNorm(vit) -> Conv2d(vit -> 2 vit, k=2, s=2) -> GELU -> Conv2d(2 vit -> 4 vit, k=1)
  -> append the learned `image_newline` vector after every row -> Linear(4 vit -> lm_hidden)
  -> prepend `image_begin`, append `image_end` -> RMSNorm(lm_hidden)
giving (h/2) * (w/2 + 1) + 2 tokens. `image_sep` exists in the checkpoint but is unused by the
reference forward; we keep it so the file round-trips.
Reference: transformers 5.23.0 `HunYuanVLVisionPatchMerger`; names follow the release
(`vit.perceive.proj.0`, `proj.2`, `mlp`, `before_rms`, `after_rms`, `image_*`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hyocr.config import HyocrConfig
from hyocr.model.decoder import RMSNorm

__all__ = ["Connector"]


class Connector(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        d, out = cfg.vit_hidden, cfg.lm_hidden
        self.before_rms = RMSNorm(d, cfg.vit_eps)
        self.proj = nn.Sequential(
            nn.Conv2d(d, 2 * d, kernel_size=cfg.merge, stride=cfg.merge),
            nn.GELU(),
            nn.Conv2d(2 * d, 4 * d, kernel_size=1),
        )
        self.mlp = nn.Linear(4 * d, out)
        self.image_newline = nn.Parameter(torch.zeros(4 * d))
        self.image_begin = nn.Parameter(torch.zeros(out))
        self.image_end = nn.Parameter(torch.zeros(out))
        self.image_sep = nn.Parameter(torch.zeros(out))
        self.after_rms = RMSNorm(out, cfg.vit_eps)  # the reference uses the vision eps for both norms
        self.merge = cfg.merge

    def forward(self, patches: torch.Tensor, h: int, w: int) -> torch.Tensor:
        # patches: (h*w, d) of one image in raster order -> (h/2 * (w/2+1) + 2, lm_hidden)
        # The k=2 s=2 conv and the 1x1 conv are computed as matmuls over 2x2 blocks (same weights,
        # same result as the reference's Conv2d, several times faster on CPU).
        x = self.before_rms(patches)
        d, m = x.shape[1], self.merge
        hh, ww = h // m, w // m
        blocks = (
            x.reshape(hh, m, ww, m, d).permute(0, 2, 4, 1, 3).reshape(hh * ww, d * m * m)
        )  # (blocks, d*m*m) as (d, kh, kw)
        conv0, conv2 = self.proj[0], self.proj[2]
        x = F.linear(blocks, conv0.weight.reshape(conv0.weight.shape[0], -1), conv0.bias)  # (blocks, 2d)
        x = F.linear(F.gelu(x), conv2.weight.reshape(conv2.weight.shape[0], -1), conv2.bias)  # (blocks, 4d)
        c = x.shape[1]
        x = x.reshape(hh, ww, c)
        newline = self.image_newline.to(x.dtype).reshape(1, 1, c).expand(hh, 1, c)
        x = torch.cat([x, newline], dim=1).reshape(hh * (ww + 1), c)  # a newline token ends every row
        x = self.mlp(x)
        x = torch.cat([self.image_begin.to(x.dtype)[None], x, self.image_end.to(x.dtype)[None]], dim=0)
        return self.after_rms(x)
