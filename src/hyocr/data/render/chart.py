"""Charts (bar, line, pie via matplotlib → Markdown table) and flowcharts (drawn → Mermaid).

Choices:
- Chart target: a Markdown table whose first column holds the categories and one column per series
  (pie: one "Value" column), values exactly as generated (integers or one decimal).
- Flowchart target: Mermaid `graph TD` / `graph LR`, nodes named A, B, C... in creation order,
  `A[text]` for steps, `A{text}` for decisions, edges `A --> B` or `A -->|label| B`, one per line.
  No code fence: the instruction already says Mermaid.
- Chart text positions come from matplotlib's own renderer (`get_window_extent`), so spotting boxes
  of tick labels, titles and legends are exact.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image, ImageDraw

from hyocr.data.fonts import pick_font
from hyocr.data.render.background import paper
from hyocr.data.render.base import Render, TextLine, box_quad, draw_line
from hyocr.data.text import text_source

__all__ = ["render_chart", "render_flowchart"]


def _label(rng, src, face, max_chars: int = 10) -> str:
    for _ in range(20):
        s = src.phrase(rng, max_chars)
        if s and face.covers(s):
            return s
    return f"{rng.choice('ABCDEFGH')}{rng.randint(1, 9)}"


def render_chart(rng, lang: str = "en") -> Render:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    src = text_source(lang)
    # one face for all chart text (matplotlib has no per-glyph fallback): it must carry digits too
    face = pick_font(rng, src.lang.script, None, "0123456789")
    fp = FontProperties(fname=face.path)
    kind = rng.choice(["bar", "bar", "line", "pie", "barh"])
    n = rng.randint(3, 7)
    cats = []
    while len(cats) < n:
        c = _label(rng, src, face, 8)
        if c not in cats:
            cats.append(c)
    nser = 1 if kind == "pie" else rng.randint(1, 3)
    series = [_label(rng, src, face, 10) for _ in range(nser)]
    dec = rng.random() < 0.4
    vals = [[round(rng.uniform(1, 100), 1) if dec else rng.randint(1, 100) for _ in cats] for _ in series]
    fig = Figure(figsize=(rng.uniform(5, 8), rng.uniform(3.5, 5.5)), dpi=100)
    ax = fig.add_subplot(111)
    title = _label(rng, src, face, 24)
    if kind == "pie":
        ax.pie(vals[0], labels=cats, textprops={"fontproperties": fp})
    elif kind == "line":
        for s, v in zip(series, vals, strict=True):
            ax.plot(range(n), v, marker="o", label=s)
        ax.set_xticks(range(n), cats, fontproperties=fp)
    else:
        w = 0.8 / nser
        for i, (s, v) in enumerate(zip(series, vals, strict=True)):
            pos = [k + i * w - 0.4 + w / 2 for k in range(n)]
            (ax.barh if kind == "barh" else ax.bar)(pos, v, w, label=s)
        (ax.set_yticks if kind == "barh" else ax.set_xticks)(range(n), cats, fontproperties=fp)
    ax.set_title(title, fontproperties=fp)
    if nser > 1:
        ax.legend(prop=fp)
    canvas = FigureCanvasAgg(fig)
    fig.tight_layout()
    canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), bytes(canvas.buffer_rgba())).convert("RGB")
    H = img.height
    renderer = canvas.get_renderer()
    arr = np.asarray(img)
    lines = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent")):
        s = t.get_text() if callable(getattr(t, "get_text", None)) else ""
        if not isinstance(s, str) or not s.strip() or not t.get_visible():
            continue
        bb = t.get_window_extent(renderer)
        if bb.width <= 0 or bb.x0 < 0 or bb.x1 > img.width or bb.y0 < 0 or bb.y1 > H:
            continue
        # matplotlib creates tick labels outside the view limits that it never draws: keep only
        # texts with ink in their box
        crop = arr[int(H - bb.y1) : int(H - bb.y0) + 1, int(bb.x0) : int(bb.x1) + 1].reshape(-1, 3)
        if len(crop) == 0 or (crop.min(0) == crop.max(0)).all():
            continue
        lines.append(TextLine(s, box_quad(bb.x0, H - bb.y1, bb.x1, H - bb.y0), "chart", lang))
    lines.sort(key=lambda ln: (round(ln.quad[1] / 10), ln.quad[0]))
    head = ["", *series] if kind != "pie" else ["", "Value"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, c in enumerate(cats):
        rows.append("| " + " | ".join([c, *(str(v[k]) for v in vals)]) + " |")
    return Render(img, lines, "chart", lang, chart="\n".join(rows), meta={"kind": kind, "font": face.name})


def render_flowchart(rng, lang: str = "en") -> Render:
    src = text_source(lang)
    face = pick_font(rng, src.lang.script, "sans", None)
    size = rng.randint(14, 20)
    f = face.pil(size)
    n = rng.randint(3, 7)
    direction = rng.choice(["TD", "LR"])
    # Mermaid syntax characters are kept out of node and edge texts
    labels = [
        re.sub(r'[\[\]{}()|"<>;#]', "", _label(rng, src, face, 14)).strip() or f"S{i}" for i in range(n)
    ]
    decision = [i > 0 and i < n - 1 and rng.random() < 0.3 for i in range(n)]
    edges = [(i, i + 1, "") for i in range(n - 1)]
    for i in range(n):
        if decision[i] and i + 2 < n:
            edges.append(
                (i, i + 2, re.sub(r'[\[\]{}()|"<>;#]', "", _label(rng, src, face, 5)).strip() or "yes")
            )
    bw = max(f.getlength(s) for s in labels) + 30
    bh = size * 2.6
    gap = size * 3
    if direction == "TD":
        W, H = int(bw * 2 + 80), int(n * (bh + gap) + 40)
        pos = [(40 + bw / 2, 20 + i * (bh + gap) + bh / 2) for i in range(n)]
    else:
        W, H = int(n * (bw + gap) + 40), int(bh * 3 + 60)
        pos = [(20 + i * (bw + gap) + bw / 2, H / 2) for i in range(n)]
    img = paper(rng, W, H)
    d = ImageDraw.Draw(img)
    ink = (rng.randint(0, 60),) * 3
    fillc = (rng.randint(200, 250), rng.randint(210, 250), rng.randint(220, 255))
    lines: list[TextLine] = []
    for a, b, _lab in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        if b == a + 1:
            d.line((x0, y0, x1, y1), fill=ink, width=2)
        else:  # skip edge: route around the side
            off = bw * 0.75
            pts = (
                [(x0 + off, y0), (x0 + off, y1), (x1 + bw / 2, y1)]
                if direction == "TD"
                else [(x0, y0 + bh * 1.1), (x1, y0 + bh * 1.1), (x1, y1 + bh / 2)]
            )
            d.line([(x0, y0), *pts], fill=ink, width=2)
    for i, (x, y) in enumerate(pos):
        if decision[i]:
            d.polygon(
                [(x, y - bh * 0.7), (x + bw / 2 + 10, y), (x, y + bh * 0.7), (x - bw / 2 - 10, y)],
                fill=fillc,
                outline=ink,
            )
        else:
            d.rounded_rectangle(
                (x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2), radius=8, fill=fillc, outline=ink, width=2
            )
        tw = f.getlength(labels[i])
        asc, desc = f.getmetrics()
        q = draw_line(d, (x - tw / 2, y - (asc + desc) / 2), labels[i], f, ink)
        lines.append(TextLine(labels[i], q, "node", lang))
    ids = [chr(ord("A") + i) for i in range(n)]
    mer = [f"graph {direction}"]
    for i in range(n):
        mer.append(f"    {ids[i]}{{{labels[i]}}}" if decision[i] else f"    {ids[i]}[{labels[i]}]")
    for a, b, lab in edges:
        mer.append(f"    {ids[a]} -->|{lab}| {ids[b]}" if lab else f"    {ids[a]} --> {ids[b]}")
    # edge labels are drawn next to the skip edges' start
    for a, _b, lab in edges:
        if lab:
            x, y = pos[a]
            q = draw_line(
                d,
                (x + bw * 0.78, y - size * 1.4) if direction == "TD" else (x + 4, y + bh * 0.75),
                lab,
                face.pil(max(10, size - 3)),
                ink,
            )
            lines.append(TextLine(lab, q, "edge", lang))
    return Render(
        img, lines, "flowchart", lang, chart="\n".join(mer), meta={"direction": direction, "font": face.name}
    )
