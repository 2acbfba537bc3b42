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

import numpy as np
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
        """patches: (h*w, d) of one image in raster order -> (h/2 * (w/2+1) + 2, lm_hidden)."""
        return self.merge_images(patches, [(h, w)])[0]

    def merge_images(self, patches: torch.Tensor, grids: list[tuple[int, int]]) -> list[torch.Tensor]:
        """patches: (N, d) of several images packed in raster order each -> per image its tokens.

        All images go through each layer together (a batch of line crops is tens of images: one
        pass each cost ~15 small operations per image): 2x2 blocks and the rows with their
        newline tokens are gathered by index. The k=2 s=2 conv and the 1x1 conv are matmuls over
        2x2 blocks laid out (d, kh, kw) like the conv kernel (same weights, same result as the
        reference's Conv2d, several times faster on CPU)."""
        x = self.before_rms(patches)
        d, m = x.shape[1], self.merge
        blocks, rows, tokens = self._layout(grids)
        dev = x.device
        x = x.index_select(0, torch.from_numpy(blocks).to(dev))  # (blocks * m*m, d), (kh, kw) order
        x = x.reshape(-1, m * m, d).transpose(1, 2).reshape(-1, d * m * m)  # (blocks, d*m*m)
        conv0, conv2 = self.proj[0], self.proj[2]
        x = F.linear(x, conv0.weight.reshape(conv0.weight.shape[0], -1), conv0.bias)  # (blocks, 2d)
        x = F.linear(F.gelu(x), conv2.weight.reshape(conv2.weight.shape[0], -1), conv2.bias)  # (blocks, 4d)
        # a newline token (index 0, before the blocks) ends every row of blocks
        x = torch.cat([self.image_newline.to(x.dtype)[None], x])
        x = self.mlp(x.index_select(0, torch.from_numpy(rows).to(dev)))
        # each image's tokens between its begin and end (indices 0 and 1, before the rows' tokens)
        x = torch.cat([self.image_begin.to(x.dtype)[None], self.image_end.to(x.dtype)[None], x])
        x = self.after_rms(x.index_select(0, torch.from_numpy(tokens).to(dev)))
        return list(x.split([(h // m) * (w // m + 1) + 2 for h, w in grids]))

    def _layout(self, grids: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gather indices for `merge_images`: each 2x2 block's patches (kh, kw order) in the packed
        patches; each row's blocks (from 1) then the newline (0); each image's begin (0), its rows'
        tokens (from 2) and end (1)."""
        m = self.merge
        blocks, rows, tokens = [], [], []
        start = n_blocks = n_rows = 0
        for h, w in grids:
            hh, ww = h // m, w // m
            bi, bj, kh, kw = np.meshgrid(
                np.arange(hh), np.arange(ww), np.arange(m), np.arange(m), indexing="ij"
            )
            blocks.append((start + (bi * m + kh) * w + bj * m + kw).ravel())
            grid = 1 + n_blocks + np.arange(hh * ww).reshape(hh, ww)
            rows.append(np.concatenate([grid, np.zeros((hh, 1), np.int64)], axis=1).ravel())
            tokens.append(np.concatenate([[0], 2 + n_rows + np.arange(hh * (ww + 1)), [1]]))
            start, n_blocks, n_rows = start + h * w, n_blocks + hh * ww, n_rows + hh * (ww + 1)
        return np.concatenate(blocks), np.concatenate(rows), np.concatenate(tokens)
