"""Overlay of spotting results: boxes and their text drawn on the image.

Text is drawn with a face that really has its glyphs (CJK, Arabic, Hebrew, Devanagari, Thai, ...),
chosen from the installed Debian fonts through the data engine's catalogue, with Pillow's raqm
layout so Arabic is shaped and right-to-left text comes out in visual order. Labels sit above each
box on a translucent band so they stay readable over any background.
"""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw, ImageFont

from hyocr.tasks.results import SpottingResult

__all__ = ["draw_spotting", "label_font"]

_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
]


@functools.cache
def _faces():
    from hyocr.data.fonts import SCRIPTS, fonts_for

    order = ["latn"] + [s for s in SCRIPTS if s != "latn"]
    faces = []
    for script in order:
        try:
            faces += [f for f in fonts_for(script) if "handwriting" not in f.styles][:1]
        except Exception:  # a script without an installed font: skip it, others still draw
            continue
    return faces


def label_font(text: str, size: int) -> ImageFont.ImageFont:
    """A font covering `text` (falls back to Pillow's default bitmap font)."""
    for face in _faces():
        if face.covers(text):
            return face.pil(size)
    return ImageFont.load_default(size=size)


def draw_spotting(image: Image.Image, result: SpottingResult, *, show_text: bool = True) -> Image.Image:
    """A copy of `image` with each line's polygon and text."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    size = max(12, min(base.size) // 40)
    for i, line in enumerate(result.lines):
        color = _PALETTE[i % len(_PALETTE)]
        pts = [tuple(p) for p in line.polygon]
        d.polygon(pts, outline=color + (255,), width=max(1, size // 8))
        if show_text and line.text:
            font = label_font(line.text, size)
            x, y = min(p[0] for p in pts), min(p[1] for p in pts)
            try:
                left, top, right, bottom = d.textbbox((0, 0), line.text, font=font)
            except (OSError, ValueError):
                continue
            th = bottom - top
            ty = y - th - 4 if y - th - 4 >= 0 else y + 2
            d.rectangle([x, ty, x + right - left + 4, ty + th + 4], fill=color + (170,))
            d.text((x + 2 - left, ty + 2 - top), line.text, font=font, fill=(255, 255, 255, 255))
    return Image.alpha_composite(base, layer).convert("RGB")
