"""Text lines and short paragraphs in any supported language, left-to-right or right-to-left.

The recognition workhorse (what trdg makes), with exact boxes: one `TextLine` per visual line.
Right-to-left languages are right-aligned and shaped by raqm; their strings stay in logical order.
Backgrounds alternate between paper, flat colours and textures; fonts include handwriting-like faces
for the scripts that have them (`style="hand"`).
"""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw

from hyocr.data.fonts import FontMissingError, fonts_for, in_split, pick_font
from hyocr.data.render.background import paper, solid, textured
from hyocr.data.render.base import (
    Render,
    TextLine,
    contrast_colour,
    covered_text,
    draw_line,
    fit_text,
    text_bbox,
    wrap_text,
)
from hyocr.data.text import gettext_catalogue, language, text_source

__all__ = [
    "render_line",
    "render_character_line",
    "render_clean_line",
    "render_basic_line",
    "render_paragraph",
    "render_parallel",
]

# the rung below `clean`: three everyday faces at one size range (a from-scratch model learns to
# read one face in ~40 steps of 32 words, 51 faces only after a long plateau)
BASIC_FACES = ("DejaVuSans.ttf", "LiberationSerif-Regular.ttf", "DejaVuSansMono.ttf")


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


def render_line(
    rng,
    lang: str = "en",
    max_chars: int = 48,
    style: str | None = None,
    clean: bool = False,
    characters: bool = False,
) -> Render:
    """One line of text, tightly framed with a small random margin.

    `clean`: dark ink on near-white paper in a printed face (no handwriting), the first rung of a
    from-scratch model's curriculum (a small model learns to read these in a few hundred steps, and
    the full-variety lines only after that). `characters`: the text is characters drawn one by one
    (`TextSource.characters`), not words.

    Example:
        >>> import random
        >>> r = render_line(random.Random(0), "ar")
        >>> any("\u0600" <= c <= "\u06ff" for c in r.lines[0].text)  # logical order; the image shows it right-to-left
        True
    """
    L = language(lang)
    src = text_source(lang)
    if style is None:
        style = _style(rng)
        while clean and style == "hand":
            style = _style(rng)
    make = src.characters if characters else src.line
    text, face = fit_text(rng, lambda g: make(g, rng.randint(4, max_chars)), L.script, style)
    size = rng.randint(18, 44)
    font = face.pil(size)
    x0, y0, x1, y1 = text_bbox(font, text, L.rtl)
    padx, pady = rng.randint(2, size), rng.randint(2, size // 2 + 2)
    w, h = (x1 - x0) + 2 * padx, (y1 - y0) + 2 * pady
    if clean:
        img = solid(max(w, 8), max(h, 8), (rng.randint(235, 255),) * 3)
        fill = (rng.randint(0, 50),) * 3
    else:
        img = _background(rng, max(w, 8), max(h, 8))
        fill = contrast_colour(rng, img.getpixel((w // 2, h // 2)), 110)
    d = ImageDraw.Draw(img)
    quad = draw_line(d, (padx - x0, pady - y0), text, font, fill, rtl=L.rtl)
    return Render(
        img,
        [TextLine(text, quad, "body", lang)],
        "line",
        lang,
        meta={"font": face.name, "size": size},
    )


def render_character_line(rng, lang: str = "en") -> Render:
    """A line of 1-24 characters drawn one by one, each of the script's as likely as any other
    (`TextSource.characters`): see `render_line(characters=True)`."""
    return render_line(rng, lang, max_chars=24, characters=True)


def render_clean_line(rng, lang: str = "en") -> Render:
    """A short line (4-24 characters) of dark print on near-white paper: see `render_line(clean=True)`."""
    return render_line(rng, lang, max_chars=24, clean=True)


def render_basic_line(rng, lang: str = "en") -> Render:
    """3-12 characters in one of `BASIC_FACES`, 28-40 px, black on white: the easiest rung."""
    L = language(lang)
    src = text_source(lang)
    usable = [f for f in fonts_for(L.script) if in_split(f, L.script)]
    faces = [f for f in usable if f.name in BASIC_FACES] or usable
    face = rng.choice(faces)
    text = covered_text(rng, src, face, lambda g: src.line(g, rng.randint(3, 12)))
    size = rng.randint(28, 40)
    font = face.pil(size)
    x0, y0, x1, y1 = text_bbox(font, text, L.rtl)
    pad = rng.randint(4, 10)
    w, h = (x1 - x0) + 2 * pad, (y1 - y0) + 2 * pad
    img = solid(max(w, 8), max(h, 8), (255, 255, 255))
    quad = draw_line(ImageDraw.Draw(img), (pad - x0, pad - y0), text, font, (0, 0, 0), rtl=L.rtl)
    return Render(
        img, [TextLine(text, quad, "body", lang)], "line", lang, meta={"font": face.name, "size": size}
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


@functools.cache
def _pivot_keys(lang: str) -> tuple[str, ...]:
    """msgids translated both in `lang` and in the other target language (en or zh-Hans)."""
    src = gettext_catalogue(lang)
    other = gettext_catalogue("zh-Hans") if lang != "zh-Hans" else gettext_catalogue("en")
    return tuple(sorted(k for k in src if k in other and len(k) <= 60))


def render_parallel(rng, lang: str = "de") -> Render:
    """1–5 lines of real UI strings in `lang` (gettext), with their human translations into English
    and Chinese (from the same msgid): the image for a `translate` sample."""
    L = language(lang)
    keys = _pivot_keys(lang)
    if not keys:
        raise RuntimeError(f"no gettext strings shared by '{lang}' and the translation targets")
    src_cat = gettext_catalogue(lang)
    zh = gettext_catalogue("zh-Hans")
    chosen = [rng.choice(keys) for _ in range(rng.randint(1, 5))]
    texts = [src_cat[k] for k in chosen]
    face = None
    for _ in range(10):
        try:
            face = pick_font(rng, L.script, _style(rng), "".join(texts))
            break
        except FontMissingError:
            chosen = [rng.choice(keys) for _ in range(rng.randint(1, 3))]
            texts = [src_cat[k] for k in chosen]
    if face is None:
        raise FontMissingError(f"no installed font covers the sampled '{lang}' strings")
    size = rng.randint(18, 34)
    font = face.pil(size)
    asc, desc = font.getmetrics()
    lh = int((asc + desc) * rng.uniform(1.2, 1.7))
    pad = rng.randint(8, 30)
    widths = [font.getlength(t, direction="rtl" if L.rtl else None) for t in texts]
    W, H = int(max(widths)) + 2 * pad, lh * len(texts) + 2 * pad
    img = _background(rng, W, H)
    fill = contrast_colour(rng, img.getpixel((W // 2, H // 2)), 110)
    d = ImageDraw.Draw(img)
    out = []
    for i, (t, tw) in enumerate(zip(texts, widths, strict=True)):
        x = W - pad - tw if L.rtl else pad
        out.append(TextLine(t, draw_line(d, (x, pad + i * lh), t, font, fill, rtl=L.rtl), "body", lang))
    translation = {}
    if lang != "en":
        translation["en"] = "\n".join(chosen)
    if lang not in ("zh-Hans", "zh-Hant"):
        translation["zh"] = "\n".join(zh[k] for k in chosen)
    return Render(img, out, "parallel", lang, translation=translation, meta={"font": face.name, "size": size})
