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

    def forward(self, patches: torch.Tensor, h: int, w: int) -> torch.Tensor:
        # patches: (h*w, d) of one image in raster order -> (h/2 * (w/2+1) + 2, lm_hidden)
        x = self.before_rms(patches)
        x = x.T.reshape(1, -1, h, w)  # (1, d, h, w)
        x = self.proj(x)  # (1, 4d, h/2, w/2)
        _, c, hh, ww = x.shape
        newline = self.image_newline.to(x.dtype).reshape(1, c, 1, 1).expand(1, c, hh, 1)
        x = torch.cat([x, newline], dim=-1)  # (1, 4d, h/2, w/2 + 1)
        x = x.reshape(c, hh * (ww + 1)).T  # (tokens, 4d)
        x = self.mlp(x)
        x = torch.cat([self.image_begin.to(x.dtype)[None], x, self.image_end.to(x.dtype)[None]], dim=0)
        return self.after_rms(x)
