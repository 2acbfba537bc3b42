"""ID-like cards, membership cards and tickets: labelled key/value fields on a small card.

Keys are printed as labels ("Name", "Date of Birth", ...) and the `fields` target uses snake_case
keys (name, date_of_birth, id_no, ...) whose values are exactly the printed strings. A grey photo
box and a coloured header band make it look like a card; nothing resembles a real issuer's design.
"""

from __future__ import annotations

from PIL import ImageDraw

from hyocr.data.fonts import pick_font
from hyocr.data.render.background import textured
from hyocr.data.render.base import Render, TextLine, draw_line
from hyocr.data.text import date_string, text_source, time_string

__all__ = ["render_card"]


def render_card(rng, lang: str = "en") -> Render:
    src = text_source(lang)
    latin = src.lang.script == "latn"
    kind = rng.choice(["id", "member", "ticket"])
    W = rng.randint(560, 860)
    H = int(W * rng.uniform(0.58, 0.68))
    img = textured(rng, W, H)
    # lighten the texture into a pale card
    img = img.point(lambda v: 200 + v // 5)
    d = ImageDraw.Draw(img)
    band = (rng.randint(0, 120), rng.randint(0, 120), rng.randint(60, 180))
    bh = int(H * 0.16)
    d.rectangle((0, 0, W, bh), fill=band)
    face = pick_font(rng, src.lang.script, rng.choice(["sans", None]), None)
    bold = pick_font(rng, src.lang.script, "bold", None)
    lines: list[TextLine] = []
    title = (
        {"id": "IDENTITY CARD", "member": "MEMBERSHIP CARD", "ticket": "BOARDING PASS"}[kind]
        if latin
        else src.phrase(rng, 12)
    )
    if not bold.covers(title):
        title = "ID"
    tf = bold.pil(int(bh * 0.5))
    tq = draw_line(d, (W * 0.05, bh * 0.2), title, tf, (255, 255, 255))
    lines.append(TextLine(title, tq, "title", lang, 0))
    name = src.name(rng)
    if kind == "ticket":
        items = [
            ("name", "Passenger", name),
            ("from", "From", src.address_lines(rng)[-1][:18]),
            ("to", "To", src.address_lines(rng)[-1][:18]),
            ("date", "Date", date_string(rng)),
            ("time", "Departure", time_string(rng)),
            ("seat", "Seat", f"{rng.randint(1, 40)}{rng.choice('ABCDEF')}"),
        ]
    else:
        items = [
            ("name", "Name", name),
            (
                "id_no",
                "ID No." if kind == "id" else "Member No.",
                f"{rng.randint(100000, 999999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            ),
            ("date_of_birth", "Date of Birth", date_string(rng)),
            ("address", "Address", " ".join(src.address_lines(rng)[:2])[:40]),
            ("expiry_date", "Expiry", date_string(rng)),
        ]
    size = max(12, int(H * rng.uniform(0.045, 0.06)))
    f = face.pil(size)
    kf = face.pil(max(10, int(size * 0.8)))
    x0 = W * (0.33 if kind != "ticket" else 0.06)
    if kind != "ticket":
        d.rectangle((W * 0.05, bh + H * 0.08, W * 0.28, H * 0.9), fill=(150, 150, 150), outline=(90, 90, 90))
    y = bh + H * 0.07
    step = (H * 0.9 - y) / len(items)
    fields: dict[str, str] = {}
    colour = (rng.randint(0, 50),) * 3
    for i, (key, label, value) in enumerate(items, start=1):
        if not face.covers(value) or not face.covers(label):
            continue
        while len(value) > 1 and f.getlength(value) > W - x0 - 10:  # fit the card
            value = value[:-1].rstrip()
        kq = draw_line(d, (x0, y), label, kf, (80, 80, 80))
        lines.append(TextLine(label, kq, "key", lang, i))
        vq = draw_line(d, (x0, y + size * 0.95), value, f, colour)
        lines.append(TextLine(value, vq, "value", lang, i))
        fields[key] = value
        y += step
    qa = (
        [("What is the name on the card?", "卡上的姓名是什么？", fields.get("name", name))]
        if "name" in fields
        else []
    )
    return Render(
        img, lines, "card", lang, fields=fields or None, qa=qa, meta={"kind": kind, "font": face.name}
    )
