"""Scene text, advertisements, app screenshots, game UIs and video frames with subtitles.

- scene: photo-like background, 1–6 words or phrases in display/handwriting/sans faces, rotated up
  to ±30°, with outlines or drop shadows (artistic text). Rotated text is drawn on its own RGBA
  patch, rotated with `expand`, pasted, and its ink box is rotated with the same matrix
  (`rotate_quad`), so the quad follows the glyphs.
- ad: coloured panels, a big headline, a price and a slogan.
- screenshot: a phone/desktop app: status bar (time, battery), title bar, list rows, a button.
- game: dark translucent panels, labels with values, bars, a level/score readout.
- video: a frame with 1–2 subtitle lines centred at the bottom (white with a black outline); the
  `subtitles` target holds only those lines, while spotting sees every text (e.g. a channel tag).
"""

from __future__ import annotations

import unicodedata

from PIL import Image, ImageDraw

from hyocr.data.fonts import pick_font
from hyocr.data.render.background import photo_like, solid, textured
from hyocr.data.render.base import (
    Render,
    TextLine,
    contrast_colour,
    draw_line,
    mean_colour,
    rotate_quad,
    text_bbox,
)
from hyocr.data.text import language, text_source, time_string

__all__ = ["render_ad", "render_game_ui", "render_scene", "render_screenshot", "render_video_frame"]


def _text(rng, src, face, max_chars: int) -> str:
    for _ in range(20):
        s = src.phrase(rng, max_chars)
        if s and face.covers(s):
            return s
    for _ in range(20):
        s = src.word(rng)
        if s and face.covers(s):
            return s
    return "OK" if face.covers("OK") else "0"


def _fit(text: str, font, max_w: float) -> str:
    """Cut `text` (at a space if it has one) until it is at most max_w pixels wide."""
    while len(text) > 1 and font.getlength(text) > max_w:
        cut = text.rsplit(" ", 1)[0] if " " in text else text[:-1]
        while len(cut) > 1 and unicodedata.category(cut[-1]) in ("Mn", "Mc"):
            cut = cut[:-1]
        text = cut.strip() or text[:1]
    return text


def _paste_rotated(
    rng,
    img: Image.Image,
    xy,
    text: str,
    font,
    fill,
    angle: float,
    rtl: bool,
    stroke: int = 0,
    stroke_fill=None,
):
    """Draw `text` rotated by `angle` with its patch's top-left at xy; returns the ink quad or None."""
    x0, y0, x1, y1 = text_bbox(font, text, rtl)
    pad = stroke + 2
    w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    patch = Image.new("RGBA", (max(1, w), max(1, h)), (0, 0, 0, 0))
    d = ImageDraw.Draw(patch)
    d.text(
        (pad - x0, pad - y0),
        text,
        font=font,
        fill=fill,
        anchor="la",
        direction="rtl" if rtl else None,
        stroke_width=stroke,
        stroke_fill=stroke_fill,
    )
    quad = (pad, pad, w - pad, pad, w - pad, h - pad, pad, h - pad)
    rot = patch.rotate(angle, expand=True, resample=Image.BICUBIC)
    q = rotate_quad(quad, angle, (w / 2, h / 2), ((rot.width - w) / 2, (rot.height - h) / 2))
    px, py = int(xy[0]), int(xy[1])
    if px < 0 or py < 0 or px + rot.width > img.width or py + rot.height > img.height:
        return None
    img.paste(rot, (px, py), rot)
    if stroke:  # the stroke is ink too
        q = _grow(q, stroke)
    return tuple(v + (px if i % 2 == 0 else py) for i, v in enumerate(q))


def _grow(q, s: float):
    cx = sum(q[0::2]) / 4
    cy = sum(q[1::2]) / 4
    out = []
    for x, y in zip(q[0::2], q[1::2], strict=True):
        dx, dy = x - cx, y - cy
        n = max(1e-6, (dx * dx + dy * dy) ** 0.5)
        out += [x + dx / n * s, y + dy / n * s]
    return tuple(out)


def _overlaps(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    return any(not (x1 < a or x0 > c or y1 < b or y0 > d) for a, b, c, d in boxes)


def render_scene(rng, lang: str = "en") -> Render:
    L = language(lang)
    src = text_source(lang)
    W, H = rng.randint(640, 1024), rng.randint(480, 900)
    img = photo_like(rng, W, H) if rng.random() < 0.7 else textured(rng, W, H)
    lines, taken = [], []
    for _ in range(rng.randint(1, 6)):
        face = pick_font(rng, L.script, rng.choice(["display", "hand", "bold", "sans", None]))
        text = _text(rng, src, face, 24)
        size = rng.randint(22, 80)
        font = face.pil(size)
        x0, y0, x1, y1 = text_bbox(font, text, L.rtl)
        if x1 - x0 > W * 0.9:
            continue
        angle = rng.uniform(-30, 30) if rng.random() < 0.5 else 0.0
        for _try in range(10):
            px, py = rng.randint(0, max(0, W - (x1 - x0) - 40)), rng.randint(0, max(0, H - (y1 - y0) - 40))
            diag = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 + 10
            box = (px, py, px + diag, py + diag)
            if not _overlaps(box, taken):
                break
        else:
            continue
        bg = mean_colour(img, (px, py, px + x1 - x0, py + y1 - y0))
        fill = contrast_colour(rng, bg, 120)
        stroke = rng.choice([0, 0, 2, 3])
        q = _paste_rotated(
            rng,
            img,
            (px, py),
            text,
            font,
            fill,
            angle,
            L.rtl,
            stroke,
            contrast_colour(rng, fill, 120) if stroke else None,
        )
        if q is not None:
            lines.append(TextLine(text, q, "scene", lang))
            taken.append(box)
    if not lines:  # always at least one text
        face = pick_font(rng, L.script, None)
        text = _text(rng, src, face, 16)
        font = face.pil(40)
        bg = mean_colour(img, (10, 10, W // 2, 70))
        q = draw_line(ImageDraw.Draw(img), (10, 10), text, font, contrast_colour(rng, bg, 120), rtl=L.rtl)
        lines.append(TextLine(text, q, "scene", lang))
    lines.sort(key=lambda ln: (round(min(ln.quad[1::2]) / 40), min(ln.quad[0::2])))
    return Render(img, lines, "scene", lang)


def render_ad(rng, lang: str = "en") -> Render:
    L = language(lang)
    src = text_source(lang)
    W, H = rng.randint(600, 1000), rng.randint(600, 1000)
    base = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    img = solid(W, H, base) if rng.random() < 0.5 else textured(rng, W, H)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):
        x0, y0 = rng.randint(0, W // 2), rng.randint(0, H // 2)
        d.rectangle(
            (x0, y0, x0 + rng.randint(W // 4, W), y0 + rng.randint(H // 6, H // 2)),
            fill=(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)),
        )
    lines = []
    y = H * 0.08
    head = pick_font(rng, L.script, rng.choice(["display", "bold"]))
    body = pick_font(rng, L.script, None)
    price = f"{rng.choice(['$', 'RM', '¥', '€', ''])}{rng.randint(1, 999)}{rng.choice(['', '.99', '.90'])}"
    items = [
        (head, _text(rng, src, head, 18), rng.randint(48, 90)),
        (body, _text(rng, src, body, 30), rng.randint(24, 40)),
    ]
    if head.covers(price):
        items.append((head, price, rng.randint(60, 110)))
    items.append((body, _text(rng, src, body, 30), rng.randint(20, 32)))
    for face, text, size in items:
        font = face.pil(size)
        while size > 12 and font.getlength(text) > W * 0.9:
            size = int(size * 0.85)
            font = face.pil(size)
        x0, y0, x1, y1 = text_bbox(font, text, L.rtl)
        if y + (y1 - y0) > H * 0.95:
            break
        x = (W - (x1 - x0)) / 2 - x0
        bg = mean_colour(img, (x + x0, y, x + x1, y + y1))
        fill = contrast_colour(rng, bg, 130)
        q = draw_line(
            d,
            (x, y),
            text,
            font,
            fill,
            rtl=L.rtl,
            stroke_width=rng.choice([0, 0, 2]),
            stroke_fill=contrast_colour(rng, fill, 120),
        )
        lines.append(TextLine(text, q, "ad", lang))
        y += (y1 - y0) * rng.uniform(1.4, 2.2)
    return Render(img, lines, "ad", lang)


def render_screenshot(rng, lang: str = "en") -> Render:
    L = language(lang)
    src = text_source(lang)
    phone = rng.random() < 0.6
    W, H = (
        (rng.randint(360, 480), rng.randint(700, 900))
        if phone
        else (rng.randint(800, 1024), rng.randint(560, 720))
    )
    dark = rng.random() < 0.3
    bg = (30, 30, 34) if dark else (rng.randint(240, 255),) * 3
    fg = (235, 235, 235) if not dark else (235, 235, 235)
    fg = (20, 20, 20) if not dark else fg
    img = solid(W, H, bg)
    d = ImageDraw.Draw(img)
    face = pick_font(rng, L.script, "sans")
    bold = pick_font(rng, L.script, "bold")
    lines = []
    s = rng.randint(14, 18)
    # status bar
    clock = time_string(rng)[:5]
    lines.append(TextLine(clock, draw_line(d, (12, 6), clock, face.pil(s - 2), fg), "ui", lang))
    d.rectangle((W - 40, 9, W - 14, 19), outline=fg)
    d.rectangle((W - 38, 11, W - 38 + rng.randint(4, 22), 17), fill=fg)
    accent = (rng.randint(0, 200), rng.randint(60, 200), rng.randint(120, 255))
    d.rectangle((0, 30, W, 30 + s * 3), fill=accent)
    title = _fit(_text(rng, src, bold, 20), bold.pil(s + 4), W - 32)
    lines.append(
        TextLine(
            title,
            draw_line(d, (16, 30 + s * 0.9), title, bold.pil(s + 4), (255, 255, 255), rtl=L.rtl),
            "ui",
            lang,
        )
    )
    y = 30 + s * 3 + 10
    while y + s * 4 < H - s * 4:
        t = _fit(_text(rng, src, face, 28), face.pil(s + 1), W - 32)
        lines.append(TextLine(t, draw_line(d, (16, y), t, face.pil(s + 1), fg, rtl=L.rtl), "ui", lang))
        if rng.random() < 0.6:
            sub = _fit(_text(rng, src, face, 36), face.pil(s - 2), W - 32)
            lines.append(
                TextLine(
                    sub, draw_line(d, (16, y + s * 1.6), sub, face.pil(s - 2), (128, 128, 128)), "ui", lang
                )
            )
        y += s * 3.6
        d.line((16, y - s * 0.8, W - 16, y - s * 0.8), fill=(200, 200, 200) if not dark else (70, 70, 70))
    bf = bold.pil(s + 2)
    bt = _fit(_text(rng, src, bold, 12), bf, W - 80)
    tw = bf.getlength(bt)
    d.rounded_rectangle(
        ((W - tw) / 2 - 20, H - s * 3.5, (W + tw) / 2 + 20, H - s * 1.0), radius=10, fill=accent
    )
    lines.append(TextLine(bt, draw_line(d, ((W - tw) / 2, H - s * 3.0), bt, bf, (255, 255, 255)), "ui", lang))
    return Render(img, lines, "screenshot", lang)


def render_game_ui(rng, lang: str = "en") -> Render:
    L = language(lang)
    src = text_source(lang)
    W, H = rng.randint(800, 1024), rng.randint(450, 600)
    img = photo_like(rng, W, H)
    over = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    od = ImageDraw.Draw(over)
    px0, py0 = rng.randint(10, W // 2), rng.randint(10, H // 3)
    pw, ph = rng.randint(260, 380), rng.randint(180, 260)
    od.rounded_rectangle(
        (px0, py0, px0 + pw, py0 + ph),
        radius=12,
        fill=(10, 10, 30, 190),
        outline=(200, 170, 60, 255),
        width=3,
    )
    img = Image.alpha_composite(img.convert("RGBA"), over).convert("RGB")
    d = ImageDraw.Draw(img)
    face = pick_font(rng, L.script, rng.choice(["bold", "display", None]))
    f = face.pil(rng.randint(16, 22))
    lines = []
    y = py0 + 14
    head = _fit(_text(rng, src, face, 16), face.pil(24), pw - 28)
    lines.append(
        TextLine(
            head, draw_line(d, (px0 + 14, y), head, face.pil(24), (250, 210, 80), rtl=L.rtl), "game", lang
        )
    )
    y += 40
    for _ in range(rng.randint(2, 4)):
        k = _fit(_text(rng, src, face, 10), f, pw * 0.6)
        v = f"{rng.randint(1, 9999)}"
        lines.append(TextLine(k, draw_line(d, (px0 + 14, y), k, f, (230, 230, 230), rtl=L.rtl), "game", lang))
        lines.append(
            TextLine(
                v, draw_line(d, (px0 + pw - 14 - f.getlength(v), y), v, f, (120, 230, 120)), "game", lang
            )
        )
        y += 34
    d.rectangle((20, H - 40, 20 + 240, H - 24), outline=(255, 255, 255), width=2)
    d.rectangle((22, H - 38, 22 + rng.randint(20, 236), H - 26), fill=(220, 40, 40))
    lvl = f"Lv.{rng.randint(1, 99)}"
    lines.append(
        TextLine(
            lvl,
            draw_line(
                d,
                (W - 120, 16),
                lvl,
                face.pil(26) if face.covers(lvl) else f,
                (255, 255, 255),
                stroke_width=2,
                stroke_fill=(0, 0, 0),
            ),
            "game",
            lang,
        )
    )
    return Render(img, lines, "game", lang)


def render_video_frame(rng, lang: str = "en") -> Render:
    L = language(lang)
    src = text_source(lang)
    W = rng.choice([854, 960, 1024])
    H = int(W * 9 / 16)
    img = photo_like(rng, W, H)
    d = ImageDraw.Draw(img)
    face = pick_font(rng, L.script, rng.choice(["sans", "bold"]))
    size = int(H * rng.uniform(0.045, 0.07))
    f = face.pil(size)
    lines = []
    if rng.random() < 0.5:  # a channel tag in a corner: text, but not a subtitle
        tag = _text(rng, src, face, 12)
        lines.append(
            TextLine(
                tag,
                draw_line(
                    d,
                    (16, 12),
                    tag,
                    face.pil(max(12, size // 2)),
                    (255, 255, 255),
                    rtl=L.rtl,
                    stroke_width=1,
                    stroke_fill=(0, 0, 0),
                ),
                "tag",
                lang,
            )
        )
    subs = [_text(rng, src, face, 30) for _ in range(rng.randint(1, 2))]
    subs = [s for s in subs if f.getlength(s) < W * 0.9] or [subs[0][:10]]
    asc, desc = f.getmetrics()
    y = H - (asc + desc) * 1.3 * len(subs) - H * 0.05
    for s in subs:
        tw = f.getlength(s, direction="rtl" if L.rtl else None)
        q = draw_line(
            d,
            ((W - tw) / 2, y),
            s,
            f,
            (255, 255, rng.choice([255, 255, 120])),
            rtl=L.rtl,
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
        lines.append(TextLine(s, q, "subtitle", lang))
        y += (asc + desc) * 1.3
    return Render(img, lines, "video", lang, subtitles=[ln.text for ln in lines if ln.role == "subtitle"])
