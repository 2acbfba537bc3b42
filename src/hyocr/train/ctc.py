"""An auxiliary CTC loss on the image tokens, to start a from-scratch model reading.

A model trained from scratch has two things to learn at once for the text task: what glyph is in
each image token (vision tower and connector) and where to look for the next one (decoder
attention). Each is useless without the other, so the answer loss gives the vision side almost no
signal for a long time (measured: after 500 steps on English lines a model's loss was the same with
the real image and with a blank one). CTC, as in hybrid CTC/attention speech recognisers, gives
the image tokens a direct reading target: a linear head maps each connector output token (the
vectors the decoder sees) to two 16-pixel columns of character scores, and CTC aligns them with
the answer's characters. Only single-line text-task samples take part. The classes are characters
(printable ASCII, one class for anything else), not the tokenizer's pieces: a column shows a glyph,
not a BPE merge, and the head does not depend on the tokenizer.

The head is a training aid: it is not part of the model's weights (the saved model directory stays
in the release's layout) and lives in the checkpoint's trainer payload, so `--resume` continues it.
"""

from __future__ import annotations

import string

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CHARSET", "CtcHead", "ctc_target", "image_ctc_loss"]

CHARSET = string.printable[:95]  # digits, letters, punctuation, space
_INDEX = {c: i for i, c in enumerate(CHARSET)}
OTHER = len(CHARSET)  # any other character
NUM_CLASSES = len(CHARSET) + 2  # + other + blank (last)


def ctc_target(task: str, answer: str, n_images: int) -> list[int] | None:
    """Character classes a sample's image is read against, or None when it takes no part."""
    if task != "text" or n_images != 1 or not answer.strip() or "\n" in answer:
        return None
    return [_INDEX.get(c, OTHER) for c in answer]


class CtcHead(nn.Module):
    """Connector tokens (n, lm_hidden) -> per 16-px column class scores (2 per token), blank last."""

    def __init__(self, hidden: int, merge: int = 2, classes: int = NUM_CLASSES):
        super().__init__()
        self.merge, self.classes = merge, classes
        self.norm = nn.LayerNorm(hidden)
        self.proj = nn.Linear(hidden, merge * self.classes)

    def forward(self, tokens: torch.Tensor, grid_hw: tuple[int, int]) -> torch.Tensor:
        h, w = grid_hw
        rows, cols = h // self.merge, w // self.merge
        # connector layout: begin, then per row `cols` tokens and a newline, then end
        body = tokens[1:-1].view(rows, cols + 1, -1)[:, :cols].mean(0)  # (cols, hidden)
        return self.proj(self.norm(body.float())).view(cols * self.merge, self.classes)


def image_ctc_loss(
    head: CtcHead,
    image_embeds: list[torch.Tensor],
    grids: list[tuple[int, int]],
    targets: list[list[int] | None],
) -> tuple[torch.Tensor | None, int]:
    """Summed CTC loss over the images that have a target, and their target token count."""
    logp, tgt, in_len, tgt_len = [], [], [], []
    for emb, grid, t in zip(image_embeds, grids, targets, strict=True):
        if not t:
            continue
        scores = head(emb, grid)
        if scores.shape[0] < len(t):  # too few columns to spell the answer: no alignment exists
            continue
        logp.append(scores.log_softmax(-1))
        tgt += t
        in_len.append(scores.shape[0])
        tgt_len.append(len(t))
    if not logp:
        return None, 0
    padded = nn.utils.rnn.pad_sequence(logp)  # (T, N, C)
    loss = F.ctc_loss(
        padded,
        torch.tensor(tgt, dtype=torch.long),
        torch.tensor(in_len, dtype=torch.long),
        torch.tensor(tgt_len, dtype=torch.long),
        blank=head.classes - 1,
        reduction="sum",
        zero_infinity=True,
    )
    return loss, sum(tgt_len)
