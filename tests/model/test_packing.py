"""Packed rows (segment spans) give the same logits as each sample run alone."""

from __future__ import annotations

import torch

from hyocr.model.rope import xdrope_position_ids


def test_packed_spans_equal_samples_alone(random_model, test_cfg):
    c = test_cfg
    a = [c.bos_id, 40, 41, 42, 43]
    b = [c.bos_id, 50, 51, 52]
    pad = [c.pad_id] * 3
    ids = torch.tensor([a + b + pad])
    seg = torch.tensor([[1] * len(a) + [2] * len(b) + [0] * len(pad)])
    pos = torch.cat(
        [
            xdrope_position_ids(torch.tensor([s]), [[]], image_token_id=c.image_token_id, merge=2)
            for s in (a, b, pad)
        ],
        dim=2,
    )
    with torch.no_grad():
        packed = random_model(ids, segment_ids=seg, position_ids=pos).logits[0]
        alone_a = random_model(torch.tensor([a])).logits[0]
        alone_b = random_model(torch.tensor([b])).logits[0]
    assert (packed[: len(a)] - alone_a).abs().max() < 1e-5
    assert (packed[len(a) : len(a) + len(b)] - alone_b).abs().max() < 1e-5
