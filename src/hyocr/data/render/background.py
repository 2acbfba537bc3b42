"""Procedural backgrounds: paper, thermal paper, textures, photo-like scenes, UI surfaces.

All are built from low-resolution random fields upsampled with Pillow (bicubic), which costs about
a millisecond at 1024 px and looks smooth; nothing is loaded from disk, so no photo's licence or
content leaks into the data.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["lowfreq_noise", "paper", "photo_like", "solid", "textured"]


def _np_rng(rng) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def lowfreq_noise(rng, w: int, h: int, cells: int = 6) -> np.ndarray:
    """Smooth noise in [0, 1] of shape (h, w)."""
    g = _np_rng(rng)
    small = (g.random((max(2, cells * h // max(w, h) + 1), max(2, cells * w // max(w, h) + 1))) * 255).astype(
        np.uint8
    )
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


def solid(w: int, h: int, colour) -> Image.Image:
    return Image.new("RGB", (w, h), tuple(colour))


def paper(rng, w: int, h: int, tint: tuple[int, int, int] | None = None, grain: float = 6.0) -> Image.Image:
    """Off-white paper with soft blotches and grain."""
    base = np.array(tint or (rng.randint(236, 255), rng.randint(234, 253), rng.randint(226, 250)), np.float32)
    blot = (lowfreq_noise(rng, w, h, 5) - 0.5) * rng.uniform(4, 14)
    grain_f = _np_rng(rng).standard_normal((h, w), dtype=np.float32) * (grain * rng.uniform(0.3, 1.0))
    arr = base[None, None, :] + (blot + grain_f)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def textured(rng, w: int, h: int) -> Image.Image:
    """A coloured texture: two colours blended by smooth noise, plus grain."""
    c1 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    c2 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    t = lowfreq_noise(rng, w, h, rng.randint(3, 12))[..., None]
    arr = c1 * t + c2 * (1 - t) + _np_rng(rng).normal(0, rng.uniform(1, 8), (h, w, 1))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def photo_like(rng, w: int, h: int) -> Image.Image:
    """A scene-like image: sky/ground gradient, blurred blobs and boxes (buildings, objects)."""
    g = _np_rng(rng)
    top = np.array([rng.randint(60, 230) for _ in range(3)], np.float32)
    bottom = np.array([rng.randint(20, 200) for _ in range(3)], np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    arr = top * (1 - t) + bottom * t + np.zeros((1, w, 1), np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 18)):
        x0, y0 = rng.randint(-w // 4, w), rng.randint(-h // 4, h)
        x1, y1 = x0 + rng.randint(w // 10, w // 2), y0 + rng.randint(h // 10, h // 2)
        col = tuple(int(v) for v in g.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)((x0, y0, x1, y1), fill=col)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(2, 9)))
    noise = g.normal(0, rng.uniform(2, 8), (h, w, 1))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8))
