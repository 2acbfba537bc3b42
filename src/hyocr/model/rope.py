"""Rotary position embedding of the decoder: NTK-alpha frequencies and XD-RoPE.

Non-obvious points (all checked against transformers 5.23.0, `models/hunyuan_vl/modeling_hunyuan_vl.py`):

- NTK-alpha stretches the base once, independent of length: base = theta * alpha ** (d / (d - 2)),
  d = head dim (`HunYuanVLRotaryEmbedding.compute_ntk_alpha_rope_parameters`).
- XD-RoPE has four position axes: (sequence, width, height, image index). The reference first
  duplicates the d/2 frequencies to d dims (the rotate-half layout), then cuts those d dims into
  chunks of 2*section[i] and takes chunk i from axis i. With sections (16,16,16,16) and d=128 this
  means dims 0-31 follow the sequence axis, 32-63 width, 64-95 height, 96-127 image index; the two
  halves of one rotation pair may therefore follow different axes. We reproduce that exactly,
  since the released weights were trained with it (`recomposition_frequencies`).
- Text tokens carry their sequence index on all four axes; the pooled grid tokens of an image carry
  (sequence index, column, row, image ordinal), the newline column included; an image's begin and
  end tokens stay text-like. Departure: the reference numbers images across a whole batch; we number
  them within each sequence (as vLLM does per request), so batching never changes a result.
- q and k are rotated in float32 and cast back.
"""

from __future__ import annotations

import torch

__all__ = ["ntk_alpha_inv_freq", "xdrope_cos_sin", "apply_rope", "xdrope_position_ids", "text_position_ids"]


def ntk_alpha_inv_freq(head_dim: int, theta: float, alpha: float) -> torch.Tensor:
    """(head_dim/2,) inverse frequencies with NTK-alpha base stretching, made on the CPU also inside
    a `torch.device("meta")` block (there torch's arange would import torch._dynamo)."""
    base = theta * alpha ** (head_dim / (head_dim - 2)) if alpha and alpha != 1.0 else theta
    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device="cpu") / head_dim))


def xdrope_cos_sin(
    position_ids: torch.Tensor, inv_freq: torch.Tensor, section: tuple[int, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Position ids (axes, B, L) -> cos, sin of shape (B, L, head_dim) in the reference's layout."""
    axes = len(section)
    if position_ids.shape[0] != axes:
        raise ValueError(
            f"expected {axes} XD-RoPE axes, got position ids of shape {tuple(position_ids.shape)}"
        )
    freqs = position_ids[..., None].float() * inv_freq.to(position_ids.device)  # (axes, B, L, d/2)
    freqs = torch.cat((freqs, freqs), dim=-1)  # (axes, B, L, d)
    chunks = freqs.split([2 * s for s in section], dim=-1)
    freqs = torch.cat([chunk[i % axes] for i, chunk in enumerate(chunks)], dim=-1)  # (B, L, d)
    return freqs.cos().to(dtype), freqs.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """q (B, H, L, d), k (B, Hkv, L, d), cos/sin (B, L, d) -> rotated q, k (computed in float32)."""
    cos, sin = cos[:, None].float(), sin[:, None].float()
    qf, kf = q.float(), k.float()
    q_out = qf * cos + _rotate_half(qf) * sin
    k_out = kf * cos + _rotate_half(kf) * sin
    return q_out.to(q.dtype), k_out.to(k.dtype)


def text_position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) 0/1 mask -> (B, L) sequence index counted over real tokens only (left padding gets 0)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def xdrope_position_ids(
    input_ids: torch.Tensor,
    image_grids: list[list[tuple[int, int]]],
    *,
    image_token_id: int,
    merge: int,
    num_axes: int = 4,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """XD-RoPE position ids (num_axes, B, L).

    input_ids: (B, L), left padded where `attention_mask` is 0.
    image_grids: per sequence, the (h, w) patch grid of each of its images in order of appearance.
    Each image occupies a run of `image_token_id` of length (h/merge)*(w/merge+1)+2; the first and
    last of the run are the begin/end vectors and keep text positions.
    """
    bsz, length = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    seq = text_position_ids(attention_mask)  # (B, L)
    pos = seq[None].expand(num_axes, bsz, length).clone()
    if len(image_grids) != bsz:
        raise ValueError(f"image_grids has {len(image_grids)} entries for a batch of {bsz}")
    is_image = (input_ids == image_token_id) & attention_mask.bool()
    for b in range(bsz):
        grids = image_grids[b]
        flags = is_image[b].tolist()
        spans: list[tuple[int, int]] = []
        i = 0
        while i < length:
            if flags[i]:
                j = i
                while j < length and flags[j]:
                    j += 1
                spans.append((i, j))
                i = j
            else:
                i += 1
        # adjacent images would merge into one run: split runs by the expected lengths
        runs: list[tuple[int, int]] = []
        g = 0
        for start, end in spans:
            while start < end:
                if g >= len(grids):
                    raise ValueError(f"sequence {b}: more image placeholder tokens than images")
                h, w = grids[g]
                n = (h // merge) * (w // merge + 1) + 2
                if end - start < n:
                    raise ValueError(f"sequence {b}: image {g} has {end - start} placeholders, expected {n}")
                runs.append((start, start + n))
                start += n
                g += 1
        if g != len(grids):
            raise ValueError(f"sequence {b}: {len(grids)} images but placeholders for {g}")
        for index, ((start, _end), (h, w)) in enumerate(zip(runs, grids, strict=True)):
            rows, cols = h // merge, w // merge + 1
            grid_start = start + 1
            n = rows * cols
            col = torch.arange(cols).repeat(rows)
            row = torch.arange(rows).repeat_interleave(cols)
            off = num_axes - 3
            pos[off, b, grid_start : grid_start + n] = col
            pos[off + 1, b, grid_start : grid_start + n] = row
            pos[off + 2, b, grid_start : grid_start + n] = index
    return pos
