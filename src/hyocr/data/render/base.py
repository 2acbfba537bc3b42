"""What every renderer returns, and the drawing helpers they share.

A renderer returns a `Render`: the image plus exact ground truth (lines with 4-point quads in
pixels, in reading order, and the structured targets of the scenario: Markdown, HTML, LaTeX, fields,
subtitles...). Samples for every task are derived from it later (`samples.py`).

Non-obvious choices:
- A line's quad is the *ink* box of its glyphs (Pillow's `textbbox`, which uses the glyph outlines),
  not the line's advance box, so "a box lies on ink" holds even for short strings like "-".
- Quads are 8 floats (x1,y1,...,x4,y4) clockwise from the top-left of the text as read; geometric
  transforms (rotation here, warping in degrade.py) move them with the image.
- Text is drawn with Pillow's raqm layout: HarfBuzz shaping (Arabic joining, Indic conjuncts) and
  FriBiDi reordering. Strings are stored in logical order; the image shows visual order.
- Colours are sampled with enough contrast against the local background (luma difference ≥ 90),
  so text is never invisible even when a scene background is busy.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hyocr.data.fonts import Font, FontMissingError, pick_font
from hyocr.data.text import Language, TextSource

__all__ = [
    "Quad",
    "Render",
    "TextLine",
    "contrast_colour",
    "cut_out",
    "draw_line",
    "fit_text",
    "quad_bounds",
    "rotate_quad",
    "text_bbox",
    "wrap_text",
]

Quad = tuple[float, float, float, float, float, float, float, float]


@dataclass
class TextLine:
    """One line of text as drawn: its string (logical order) and quad in image pixels."""

    text: str
    quad: Quad
    role: str = "body"  # body | heading | header | footer | caption | cell | key | value | subtitle | ...
    lang: str = ""
    block: int = 0  # index of the layout block the line belongs to

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "poly": [round(float(v), 1) for v in self.quad]}


@dataclass
class Render:
    """An image and everything known about what was drawn on it."""

    image: Image.Image
    lines: list[TextLine]  # reading order
    scenario: str
    lang: str
    markdown: str | None = None  # document parsing target (body only: no header/footer)
    html: str | None = None  # table target
    latex: str | None = None  # formula target
    chart: str | None = None  # Markdown table or Mermaid
    fields: dict[str, str] | None = None  # key information
    subtitles: list[str] | None = None
    qa: list[tuple[str, str, str]] = field(default_factory=list)  # (question_en, question_zh, answer)
    translation: dict[str, str] | None = None  # {"en": ..., "zh": ...} of the image's text
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


# ----------------------------------------------------------------------------- geometry


def quad_bounds(quad) -> tuple[float, float, float, float]:
    xs, ys = quad[0::2], quad[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def box_quad(x0: float, y0: float, x1: float, y1: float) -> Quad:
    return (x0, y0, x1, y0, x1, y1, x0, y1)


def rotate_quad(quad, angle_deg: float, center: tuple[float, float], offset=(0.0, 0.0)) -> Quad:
    """Rotate a quad counter-clockwise (Pillow's convention) about `center`, then shift by offset."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    cx, cy = center
    out: list[float] = []
    for x, y in zip(quad[0::2], quad[1::2], strict=True):
        dx, dy = x - cx, y - cy
        # image y points down, so a counter-clockwise turn on screen is (dx c + dy s, -dx s + dy c)
        out += [cx + dx * c + dy * s + offset[0], cy - dx * s + dy * c + offset[1]]
    return tuple(out)  # type: ignore[return-value]


# ----------------------------------------------------------------------------- text


def _direction(lang: Language | None) -> str | None:
    return "rtl" if lang is not None and lang.rtl else None


def text_bbox(font: ImageFont.FreeTypeFont, text: str, rtl: bool = False) -> tuple[int, int, int, int]:
    """Ink bbox of `text` drawn at the origin with anchor 'la' (left, ascender)."""
    return font.getbbox(text, direction="rtl" if rtl else None, anchor="la")


def draw_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill,
    rtl: bool = False,
    stroke_width: int = 0,
    stroke_fill=None,
    tracking: float = 0.0,
) -> Quad:
    """Draw one line with its left/ascender corner at xy; return the ink quad. `tracking` (px, left
    to right only) spreads the letters: each cluster is drawn on its own, `tracking` further on
    than its advance (`tracked_length` is the width)."""
    if tracking and not rtl:
        x, y = xy
        boxes = []
        for c in _clusters(text):
            if c.strip():
                draw.text(
                    (x, y),
                    c,
                    font=font,
                    fill=fill,
                    anchor="la",
                    stroke_width=stroke_width,
                    stroke_fill=stroke_fill,
                )
                boxes.append(draw.textbbox((x, y), c, font=font, anchor="la", stroke_width=stroke_width))
            x += font.getlength(c) + tracking
        if boxes:
            return box_quad(
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
    direction = "rtl" if rtl else None
    draw.text(
        xy,
        text,
        font=font,
        fill=fill,
        direction=direction,
        anchor="la",
        stroke_width=stroke_width,
        stroke_fill=stroke_fill,
    )
    x0, y0, x1, y1 = draw.textbbox(
        xy, text, font=font, direction=direction, anchor="la", stroke_width=stroke_width
    )
    return box_quad(x0, y0, x1, y1)


def tracked_length(font: ImageFont.FreeTypeFont, text: str, tracking: float = 0.0) -> float:
    """About the width `draw_line` gives `text` with `tracking` px between its clusters: its kerned
    width plus the tracking (drawn one by one, the clusters lose their kerning, a pixel or two)."""
    return (
        font.getlength(text) + tracking * max(0, len(_clusters(text)) - 1)
        if tracking
        else font.getlength(text)
    )


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


def _clusters(text: str) -> list[str]:
    """Split into base+combining-mark clusters (good enough for Thai, Devanagari, Vietnamese)."""
    out: list[str] = []
    for ch in text:
        if out and (_is_mark(ch) or ch in "\u200c\u200d" or out[-1][-1] in "\u200d\u094d"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def wrap_text(
    text: str, font: ImageFont.FreeTypeFont, max_width: float, spaces: bool, rtl: bool = False
) -> list[str]:
    """Greedy wrap. Space-separated languages break at spaces (joining lines with ' ' gives the
    text back); others break between clusters (joining with '' gives it back)."""
    direction = "rtl" if rtl else None
    units = text.split(" ") if spaces else _clusters(text)
    sep = " " if spaces else ""
    lines: list[str] = []
    cur = ""
    for u in units:
        cand = f"{cur}{sep}{u}" if cur else u
        if cur and font.getlength(cand, direction=direction) > max_width:
            lines.append(cur)
            cur = u
        else:
            cur = cand
    if cur:
        lines.append(cur)
    # a single unit wider than the column is hard-cut (rare: long URLs, long compounds)
    out: list[str] = []
    for ln in lines:
        while font.getlength(ln, direction=direction) > max_width * 1.05 and len(ln) > 1:
            cl = _clusters(ln)
            k = max(1, int(len(cl) * max_width / max(1.0, font.getlength(ln, direction=direction))))
            out.append("".join(cl[:k]))
            ln = "".join(cl[k:])
            if spaces:
                ln = ln.lstrip(" ")
        if ln:
            out.append(ln)
    return out


def fit_text(
    rng,
    make_text,
    script: str,
    style: str | None = None,
    tries: int = 12,
) -> tuple[str, Font]:
    """Sample text with `make_text(rng)` until an installed face of `script`/`style` covers it.

    Returns (text, font). Mixed-script strings (Arabic with Latin digits, ...) fall back to the
    broad faces; a string no face covers is re-sampled rather than rendered with tofu.
    """
    last: Exception | None = None
    for _ in range(tries):
        s = make_text(rng).strip()
        if not s:
            continue
        try:
            return s, pick_font(rng, script, style, s)
        except FontMissingError as exc:
            last = exc
    raise FontMissingError(f"no installed font covers sampled {script} text after {tries} tries ({last})")


def covered_text(rng, src: TextSource, font: Font, make_text, tries: int = 12) -> str:
    """Sample text from `make_text(rng)` that `font` covers (falls back to single words)."""
    for _ in range(tries):
        s = make_text(rng).strip()
        if s and font.covers(s):
            return s
    for _ in range(50):
        s = src.word(rng)
        if s and font.covers(s):
            return s
    raise FontMissingError(f"font {font.name} covers no sampled '{src.code}' text")


# ----------------------------------------------------------------------------- colour


def luma(rgb) -> float:
    r, g, b = rgb[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def contrast_colour(rng, background, min_diff: float = 90.0) -> tuple[int, int, int]:
    """A random colour whose luma differs from `background`'s by at least min_diff."""
    bl = luma(background)
    for _ in range(30):
        c = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        if abs(luma(c) - bl) >= min_diff:
            return c
    return (0, 0, 0) if bl > 127 else (255, 255, 255)


def mean_colour(img: Image.Image, box) -> tuple[int, int, int]:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    crop = np.asarray(img.crop((max(0, x0), max(0, y0), max(x0 + 1, x1), max(y0 + 1, y1))).convert("RGB"))
    m = crop.reshape(-1, 3).mean(0)
    return (int(m[0]), int(m[1]), int(m[2]))


def cut_out(
    rng,
    image: Image.Image,
    quad,
    across: tuple[float, float] = (0.1, 0.8),
    updown: tuple[float, float] = (-0.05, 0.45),
) -> tuple[Image.Image, tuple[float, ...]]:
    """The line at `quad` cut out of `image` the way a detector boxes it, and its quad in the crop.
    Detector boxes on real scans are sometimes tight (a sliver of the glyphs cut) and sometimes
    loose (pieces of the neighbouring lines inside): the margin on each side is drawn from
    `across` (left, right) or `updown` (top, bottom), in line heights (negative cuts the glyphs)."""
    xs, ys = quad[0::2], quad[1::2]
    h = max(ys) - min(ys)
    x0 = max(0, int(min(xs) - h * rng.uniform(*across)))
    y0 = max(0, int(min(ys) - h * rng.uniform(*updown)))
    x1 = min(image.width, int(math.ceil(max(xs) + h * rng.uniform(*across))))
    y1 = min(image.height, int(math.ceil(max(ys) + h * rng.uniform(*updown))))
    inside = tuple(
        min(max(v - (x0 if i % 2 == 0 else y0), 0), (x1 - x0) if i % 2 == 0 else (y1 - y0))
        for i, v in enumerate(quad)
    )
    return image.crop((x0, y0, x1, y1)), inside
