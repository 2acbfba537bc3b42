"""Text lines and short paragraphs in any supported language, left-to-right or right-to-left.

The recognition workhorse (what trdg makes), with exact boxes: one `TextLine` per visual line.
Right-to-left languages are right-aligned and shaped by raqm; their strings stay in logical order.
Backgrounds alternate between paper, flat colours and textures; fonts include handwriting-like faces
for the scripts that have them (`style="hand"`).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from hyocr.data.render.background import paper, solid, textured
from hyocr.data.render.base import (
    Render,
    TextLine,
    contrast_colour,
    draw_line,
    fit_text,
    text_bbox,
    wrap_text,
)
from hyocr.data.text import language, text_source

__all__ = ["render_line", "render_paragraph"]


def _background(rng, w: int, h: int) -> Image.Image:
    r = rng.random()
    if r < 0.5:
        return paper(rng, w, h)
    if r < 0.75:
        return solid(w, h, (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
    return textured(rng, w, h)


def _style(rng) -> str | None:
    r = rng.random()
    return (
        "hand" if r < 0.12 else "serif" if r < 0.35 else "mono" if r < 0.42 else "bold" if r < 0.5 else None
    )


def render_line(rng, lang: str = "en", max_chars: int = 48, style: str | None = None) -> Render:
    """One line of text, tightly framed with a small random margin.

    Example:
        >>> import random
        >>> r = render_line(random.Random(0), "ar")
        >>> r.lines[0].text  # logical order; the image shows it right-to-left
    """
    L = language(lang)
    src = text_source(lang)
    style = style if style is not None else _style(rng)
    text, face = fit_text(rng, lambda g: src.line(g, rng.randint(4, max_chars)), L.script, style)
    size = rng.randint(18, 44)
    font = face.pil(size)
    x0, y0, x1, y1 = text_bbox(font, text, L.rtl)
    padx, pady = rng.randint(2, size), rng.randint(2, size // 2 + 2)
    w, h = (x1 - x0) + 2 * padx, (y1 - y0) + 2 * pady
    img = _background(rng, max(w, 8), max(h, 8))
    bg = img.getpixel((w // 2, h // 2))
    fill = contrast_colour(rng, bg, 110)
    d = ImageDraw.Draw(img)
    quad = draw_line(d, (padx - x0, pady - y0), text, font, fill, rtl=L.rtl)
    return Render(
        img,
        [TextLine(text, quad, "body", lang)],
        "line",
        lang,
        meta={"font": face.name, "size": size},
    )


def render_paragraph(rng, lang: str = "en", width: int | None = None, max_chars: int = 400) -> Render:
    """A wrapped paragraph (2–10 lines); aligned to the reading side."""
    L = language(lang)
    src = text_source(lang)
    style = _style(rng)
    text, face = fit_text(rng, lambda g: src.paragraph(g, rng.randint(60, max_chars)), L.script, style)
    size = rng.randint(16, 32)
    font = face.pil(size)
    width = width or rng.randint(320, 900)
    pad = rng.randint(6, 30)
    lines = wrap_text(text, font, width - 2 * pad, L.spaces, L.rtl)[:10]
    asc, desc = font.getmetrics()
    lh = int((asc + desc) * rng.uniform(1.05, 1.6))
    h = lh * len(lines) + 2 * pad
    img = _background(rng, width, h)
    fill = contrast_colour(rng, img.getpixel((width // 2, h // 2)), 110)
    d = ImageDraw.Draw(img)
    out: list[TextLine] = []
    align = "right" if L.rtl else rng.choice(["left", "left", "left", "center"])
    for i, ln in enumerate(lines):
        lw = font.getlength(ln, direction="rtl" if L.rtl else None)
        x = pad if align == "left" else (width - pad - lw if align == "right" else (width - lw) / 2)
        q = draw_line(d, (x, pad + i * lh), ln, font, fill, rtl=L.rtl)
        out.append(TextLine(ln, q, "body", lang))
    sep = " " if L.spaces else ""
    return Render(
        img,
        out,
        "paragraph",
        lang,
        markdown=sep.join(ln.text for ln in out),
        meta={"font": face.name, "size": size},
    )
