"""The composed model: vision tower -> connector -> decoder with XD-RoPE, one forward pass.

Two paths over the same modules:
- `forward(...)`: training/scoring over whole sequences; returns logits and, given `labels`
  (-100 outside the answer), the mean next-token cross-entropy over answer tokens only.
  `segment_ids` (B, L) confine attention to each sample when several are packed into one row.
- `prefill(...)` + `decode(...)`: inference with a pre-allocated KV cache (engine/generate.py).

Image features replace the placeholder tokens (`image_token_id`) in order; a count mismatch is a
clear error rather than a silent misalignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hyocr.config import HyocrConfig
from hyocr.model.connector import Connector
from hyocr.model.decoder import Decoder, KVCache
from hyocr.model.rope import ntk_alpha_inv_freq, text_position_ids, xdrope_cos_sin, xdrope_position_ids
from hyocr.model.vision import VisionTower

__all__ = ["HunyuanOCRModel", "ModelOutput"]


@dataclass
class ModelOutput:
    logits: torch.Tensor | None  # (B, L, vocab); None when only the loss was asked for
    loss: torch.Tensor | None = None
    num_tokens: int = 0  # answer tokens the loss was averaged over


class HunyuanOCRModel(nn.Module):
    def __init__(self, cfg: HyocrConfig):
        super().__init__()
        self.cfg = cfg
        self.vision = VisionTower(cfg)
        self.connector = Connector(cfg)
        self.decoder = Decoder(cfg)
        self.register_buffer(
            "inv_freq", ntk_alpha_inv_freq(cfg.lm_head_dim, cfg.rope_theta, cfg.rope_alpha), persistent=False
        )

    # ---- pieces ---------------------------------------------------------------------------
    def lm_head(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.decoder.embed_tokens.weight)  # tied embeddings

    def encode_images(self, pixel_values: torch.Tensor, grid_hw: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Packed patches (N, 3*p*p) -> per image (h/2*(w/2+1)+2, lm_hidden) embeddings."""
        return self.connector.merge_images(self.vision(pixel_values, grid_hw), grid_hw)

    def embed(self, input_ids: torch.Tensor, image_embeds: list[torch.Tensor] | None) -> torch.Tensor:
        x = self.decoder.embed_tokens(input_ids)  # (B, L, hidden)
        slots = input_ids == self.cfg.image_token_id
        n_slots = int(slots.sum())
        if not image_embeds:
            if n_slots:
                raise ValueError(f"prompt has {n_slots} image placeholder tokens but no image was given")
            return x
        feats = torch.cat(image_embeds, dim=0).to(x.dtype)
        if feats.shape[0] != n_slots:
            raise ValueError(
                f"image features ({feats.shape[0]}) and image placeholder tokens ({n_slots}) differ"
            )
        x = x.clone()
        x[slots] = feats
        return x

    def position_ids(self, input_ids, image_grids, attention_mask) -> torch.Tensor:
        return xdrope_position_ids(
            input_ids,
            image_grids,
            image_token_id=self.cfg.image_token_id,
            merge=self.cfg.merge,
            num_axes=len(self.cfg.xdrope_section),
            attention_mask=attention_mask,
        )

    def _rope(self, position_ids: torch.Tensor, dtype: torch.dtype):
        return xdrope_cos_sin(position_ids, self.inv_freq, self.cfg.xdrope_section, dtype)

    @staticmethod
    def _spans(segment_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
        """Per row, the (start, end) runs of equal segment id (padding is a run of its own)."""
        out = []
        for row in segment_ids.tolist():
            spans, start = [], 0
            for i in range(1, len(row) + 1):
                if i == len(row) or row[i] != row[i - 1]:
                    spans.append((start, i))
                    start = i
            out.append(spans)
        return out

    @staticmethod
    def _mask(attention_mask: torch.Tensor | None, segment_ids: torch.Tensor | None, length: int, device):
        """Causal & key-is-real & same-segment, (B, 1, L, L) bool; None when plain causal suffices."""
        if attention_mask is None and segment_ids is None:
            return None
        causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
        mask = causal[None]
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, :]
        if segment_ids is not None:
            mask = mask & (segment_ids[:, :, None] == segment_ids[:, None, :])
        mask = mask | torch.eye(length, dtype=torch.bool, device=device)[None]
        return mask[:, None]

    @staticmethod
    def _split_grids(grid_hw, images_per_row, batch):
        if images_per_row is None:
            if batch != 1 and grid_hw:
                raise ValueError("images_per_row is required when a batch holds images")
            return [list(grid_hw or [])]
        out, i = [], 0
        for n in images_per_row:
            out.append(list(grid_hw[i : i + n]))
            i += n
        return out

    # ---- training / scoring ---------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        grid_hw: list[tuple[int, int]] | None = None,
        images_per_row: list[int] | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        segment_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        loss_only: bool = False,
        image_embeds_out: list[torch.Tensor] | None = None,
    ) -> ModelOutput:
        """input_ids (B, L); pixel_values (N, 3*p*p) for all images of the batch in order.

        With `loss_only` (and labels), the vocabulary projection runs only at the positions that
        predict an answer token, which is most of a small model's training step otherwise.
        `image_embeds_out`, when given, receives each image's connector output (for auxiliary losses).
        """
        b, length = input_ids.shape
        image_embeds = self.encode_images(pixel_values, grid_hw) if pixel_values is not None else None
        if image_embeds_out is not None and image_embeds is not None:
            image_embeds_out.extend(image_embeds)
        x = self.embed(input_ids, image_embeds)
        if position_ids is None:
            grids = self._split_grids(grid_hw, images_per_row, b)
            position_ids = self.position_ids(input_ids, grids, attention_mask)
        cos, sin = self._rope(position_ids, x.dtype)
        if segment_ids is not None:
            # packed samples: causal attention inside each sample's span (equal to the mask, cheaper);
            # padding forms its own span and carries no loss
            mask = self._spans(segment_ids)
        else:
            mask = self._mask(attention_mask, None, length, x.device)
        hidden = self.decoder(x, cos, sin, mask)
        if labels is None:
            return ModelOutput(self.lm_head(hidden))
        target = labels[:, 1:]
        keep = target != -100
        count = int(keep.sum())
        if loss_only:
            logits = None
            picked = self.lm_head(hidden[:, :-1][keep])
            loss = F.cross_entropy(picked.float(), target[keep], reduction="sum") / max(count, 1)
        else:
            logits = self.lm_head(hidden)
            loss = F.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                target.reshape(-1),
                ignore_index=-100,
                reduction="sum",
            ) / max(count, 1)
        return ModelOutput(logits, loss, count)

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def prefill(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_embeds: list[torch.Tensor] | None,
        image_grids: list[list[tuple[int, int]]],
        cache: KVCache,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded prompts -> (last-position logits (B, vocab), next text position (B,))."""
        x = self.embed(input_ids, image_embeds)
        pos = self.position_ids(input_ids, image_grids, attention_mask)
        cos, sin = self._rope(pos, x.dtype)
        mask = (
            None
            if bool(attention_mask.all())
            else self._mask(attention_mask, None, input_ids.shape[1], x.device)
        )
        hidden = self.decoder(x, cos, sin, mask, cache)
        next_pos = text_position_ids(attention_mask)[:, -1] + 1
        return self.lm_head(hidden[:, -1]), next_pos

    @torch.no_grad()
    def answer_logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        answer_mask: torch.Tensor,
        image_embeds: list[torch.Tensor] | None,
        image_grids: list[list[tuple[int, int]]],
        n: int,
        pad_id: int,
    ) -> torch.Tensor:
        """Left-padded prompts (padded with `pad_id`), each followed by its answer (`answer_mask`
        marks the answer's tokens) -> the logits of the last n + 1 positions (B, n + 1, vocab): those that predict the
        last n tokens and the one after them (teacher forcing, no cache). An answer's tokens are
        embedded as decoding embeds them: an image placeholder id among them is a token at a text
        position, not a slot for image features."""
        prompts = input_ids.masked_fill(answer_mask, pad_id)
        x = self.embed(prompts, image_embeds)
        x = torch.where(answer_mask[..., None], self.decoder.embed_tokens(input_ids).to(x.dtype), x)
        cos, sin = self._rope(self.position_ids(prompts, image_grids, attention_mask), x.dtype)
        length = input_ids.shape[1]
        mask = None if bool(attention_mask.all()) else self._mask(attention_mask, None, length, x.device)
        hidden = self.decoder(x, cos, sin, mask)
        return self.lm_head(hidden[:, length - n - 1 :])

    @torch.no_grad()
    def decode(
        self, tokens: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor | None, cache: KVCache
    ) -> torch.Tensor:
        """One new token per row: tokens (B,), positions (B,), key_mask (B, cached+1) -> logits (B, vocab)."""
        x = self.decoder.embed_tokens(tokens[:, None])
        pos = positions.view(1, -1, 1).expand(len(self.cfg.xdrope_section), -1, 1)
        cos, sin = self._rope(pos, x.dtype)
        mask = None if key_mask is None else key_mask.bool()[:, None, None, :]
        hidden = self.decoder(x, cos, sin, mask, cache)
        return self.lm_head(hidden[:, -1])
