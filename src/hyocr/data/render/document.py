"""Document pages: titles, headings, paragraphs, lists, tables, formulas in 1–3 columns, with
running headers and footers that are drawn but left out of the Markdown target.

The Markdown follows DESIGN.md §2: body in reading order (columns in order: left to right, or right
to left for RTL languages), `#`/`##` headings, `- `/`1. ` lists, tables as HTML, display formulas
as `$$\\n...\\n$$`, blocks separated by a blank line. A paragraph that continues into the next
column is one paragraph in the Markdown. Bullets are drawn (and spotted) as printed: "•", "-" or
"1."; the Markdown uses its own list syntax.

Characters the body face lacks are dropped from a sampled string before it is laid out (rather
than re-sampling), so the text drawn and the text in the target are the same string.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from hyocr.data.fonts import Font, pick_font
from hyocr.data.render.background import paper
from hyocr.data.render.base import Render, TextLine, box_quad, cut_out, draw_line, tracked_length, wrap_text
from hyocr.data.render.formula import sample_formula
from hyocr.data.render.table import draw_table, make_table, table_html
from hyocr.data.text import language, text_source

__all__ = ["formula_on_page", "render_document", "render_page_formula", "render_page_line"]


def keep_covered(text: str, font: Font) -> str:
    out = "".join(ch for ch in text if ch.isspace() or font.covers(ch))
    return " ".join(out.split()) if " " in out else out.strip()


@dataclass
class _Col:
    x0: float
    x1: float
    y: float
    y_end: float


def render_document(rng, lang: str = "en", width: int | None = None) -> Render:
    """A page of a multi-column document.

    Example:
        >>> import random
        >>> page = render_document(random.Random(0), "en")
        >>> page.markdown.splitlines()[0]
        '# Mai-Ndombe'
    """
    L = language(lang)
    src = text_source(lang)
    W = width or rng.randint(800, 1024)
    H = int(W * rng.uniform(1.25, 1.45))
    img = paper(rng, W, H)
    d = ImageDraw.Draw(img)
    ink = (rng.randint(0, 50),) * 3
    body_face = pick_font(rng, L.script, rng.choice(["serif", "sans"]))
    head_face = pick_font(rng, L.script, "bold")
    bs = rng.randint(13, 19)
    body = body_face.pil(bs)
    asc, desc = body.getmetrics()
    lh = (asc + desc) * rng.uniform(1.1, 1.45)
    m = int(W * rng.uniform(0.05, 0.09))
    rtl = L.rtl
    sep = " " if L.spaces else ""
    lines: list[TextLine] = []
    blocks_md: list[str] = []

    def text(make, face: Font) -> str:
        for _ in range(5):
            s = keep_covered(make(rng), face)
            if s:
                return s
        return "0"

    def put(
        col: _Col,
        s: str,
        face: Font,
        size: int,
        role: str,
        indent: float = 0.0,
        center: bool = False,
        block: int = 0,
    ) -> None:
        f = face.pil(size)
        lw = f.getlength(s, direction="rtl" if rtl else None)
        if center:
            x = (col.x0 + col.x1 - lw) / 2
        elif rtl:
            x = col.x1 - indent - lw
        else:
            x = col.x0 + indent
        q = draw_line(d, (x, col.y), s, f, ink, rtl=rtl)
        lines.append(TextLine(s, q, role, lang, block))

    # header and footer (drawn, not in the Markdown)
    hs = max(10, bs - 3)
    hf = body_face.pil(hs)
    top = m * 0.5
    if rng.random() < 0.85:
        ht = text(lambda g: src.phrase(g, 40), body_face)
        col = _Col(m, W - m, top, H)
        put(col, ht, body_face, hs, "header", center=rng.random() < 0.3)
        if rng.random() < 0.6:
            d.line((m, top + hs * 1.6, W - m, top + hs * 1.6), fill=ink, width=1)
    page_no = str(rng.randint(1, 400))
    footer = rng.choice([page_no, f"- {page_no} -", f"Page {page_no}", page_no])
    if not body_face.covers(footer):
        footer = page_no if body_face.covers(page_no) else ""
    fy = H - m * 0.5 - hf.getmetrics()[0]
    if footer:
        put(_Col(m, W - m, fy, H), footer, body_face, hs, "footer", center=rng.random() < 0.7)

    y_top = m + hs * 2.2
    y_bot = fy - lh
    # title (spans all columns)
    block = 0
    if rng.random() < 0.7:
        ts = int(bs * rng.uniform(1.5, 2.1))
        tf = head_face.pil(ts)
        title = text(lambda g: src.phrase(g, 50), head_face)
        tl = wrap_text(title, tf, W - 2 * m, L.spaces, rtl)[:2]
        col = _Col(m, W - m, y_top, y_bot)
        center = rng.random() < 0.6
        for t in tl:
            put(col, t, head_face, ts, "title", center=center, block=block)
            col.y += ts * 1.35
        blocks_md.append("# " + sep.join(tl))
        y_top = col.y + lh * 0.6
        block += 1
    ncol = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
    gap = W * 0.04
    cw = (W - 2 * m - gap * (ncol - 1)) / ncol
    cols = [_Col(m + i * (cw + gap), m + i * (cw + gap) + cw, y_top, y_bot) for i in range(ncol)]
    if rtl:
        cols.reverse()
    ci = 0

    def room(h: float) -> bool:
        return cols[ci].y + h <= cols[ci].y_end

    def next_col() -> bool:
        nonlocal ci
        ci += 1
        return ci < len(cols)

    n_blocks = 0
    while ci < len(cols) and n_blocks < 40:
        n_blocks += 1
        col = cols[ci]
        kind = rng.choices(
            ["heading", "para", "list", "table", "formula"], weights=[2, 8, 2, 1.2 if cw > 400 else 0.3, 1]
        )[0]
        if kind == "heading":
            hsz = int(bs * rng.uniform(1.15, 1.4))
            s = text(lambda g: src.phrase(g, 40), head_face)
            hl = wrap_text(s, head_face.pil(hsz), cw, L.spaces, rtl)[:2]
            need = hsz * 1.4 * len(hl) + lh
            if not room(need):
                if not next_col():
                    break
                col = cols[ci]
            col.y += lh * 0.4
            for t in hl:
                put(col, t, head_face, hsz, "heading", block=block)
                col.y += hsz * 1.4
            blocks_md.append("## " + sep.join(hl))
            block += 1
        elif kind == "para":
            s = text(lambda g: src.paragraph(g, rng.randint(150, 700)), body_face)
            indent = bs * 2 if (not L.spaces and rng.random() < 0.7) else 0
            wl = wrap_text(s, body, cw - indent, L.spaces, rtl)
            done: list[str] = []
            for i, t in enumerate(wl):
                if not room(lh):
                    if not next_col():
                        break
                    col = cols[ci]
                put(col, t, body_face, bs, "body", indent=indent if i == 0 else 0, block=block)
                col.y += lh
                done.append(t)
            if done:
                blocks_md.append(sep.join(done))
                block += 1
            if ci >= len(cols):
                break
            col.y += lh * 0.5
        elif kind == "list":
            ordered = rng.random() < 0.4
            bullet = rng.choice(["•", "-", "▪"]) if not ordered else None
            items_md: list[str] = []
            for k in range(rng.randint(2, 5)):
                s = text(lambda g: src.sentence(g, rng.randint(20, 120)), body_face)
                mark = f"{k + 1}." if ordered else bullet
                if mark and not body_face.covers(mark):
                    mark = "-" if body_face.covers("-") else ""
                ind = bs * 1.6
                wl = wrap_text(s, body, cw - ind, L.spaces, rtl)
                if not room(lh * len(wl)):
                    break
                for i, t in enumerate(wl):
                    drawn = f"{mark} {t}" if (i == 0 and mark) else t
                    put(col, drawn, body_face, bs, "list", indent=0 if i == 0 else ind, block=block)
                    col.y += lh
                items_md.append(("1. " if ordered else "- ").replace("1", str(k + 1)) + sep.join(wl))
            if items_md:
                blocks_md.append("\n".join(items_md))
                block += 1
            elif not next_col():
                break
            col.y += lh * 0.5
        elif kind == "table":
            spec = make_table(rng, lang, body_face, rows=rng.randint(3, 7), cols=rng.randint(2, 5))
            est = (asc + desc + 2 * max(3, bs // 3)) * spec.rows + lh
            if not room(est):
                if not next_col():
                    break
                continue
            tl, (tx0, ty0, tx1, ty1) = draw_table(
                rng, img, spec, body_face, bs, col.x0, col.y + lh * 0.3, cw, lang, rtl, ink
            )
            for t in tl:
                t.block = block
            lines.extend(tl)
            blocks_md.append(table_html(spec))
            block += 1
            col.y = ty1 + lh
        else:  # formula
            latex, patch = sample_formula(rng, int(bs * 1.3), ink)
            if patch.width > cw:
                continue
            if not room(patch.height + lh):
                if not next_col():
                    break
                col = cols[ci]
            x = (col.x0 + col.x1 - patch.width) / 2
            y = col.y + lh * 0.3
            img.paste(patch, (int(x), int(y)), patch)
            lines.append(
                TextLine(
                    latex,
                    box_quad(int(x), int(y), int(x) + patch.width, int(y) + patch.height),
                    "formula",
                    "latex",
                    block,
                )
            )
            blocks_md.append(f"$$\n{latex}\n$$")
            block += 1
            col.y = y + patch.height + lh * 0.6
    # reading order: header first, body in block order (already), footer last
    header = [ln for ln in lines if ln.role == "header"]
    footer_l = [ln for ln in lines if ln.role == "footer"]
    body_l = [ln for ln in lines if ln.role not in ("header", "footer")]
    return Render(
        img,
        header + body_l + footer_l,
        "document",
        lang,
        markdown="\n\n".join(blocks_md),
        meta={"columns": ncol, "font": body_face.name, "size": bs},
    )


def render_page_line(rng, lang: str = "en", tracking: float = 0.0) -> Render:
    """One line of a document page cut out with slivers of the lines around it, the way the cutter
    (`hyocr.tasks.segment`) hands a page's lines to a model that reads one line at a time: long body
    lines of a column (200-900 px at 13-19 px), the last short line of a paragraph, list items with
    their bullet, headings, titles, running headers and page numbers, in the page faces and ink of
    `render_document`, on its paper. The line model read held-out pages at text NED 0.73 having
    never seen one of their lines. `tracking` (em, left-to-right scripts) spreads every row's
    letters that much further apart (`render_page_line_tracked`).

    Example:
        >>> import random
        >>> r = render_page_line(random.Random(0))
        >>> len(r.lines)
        1
    """
    L = language(lang)
    src = text_source(lang)
    sep = " " if L.spaces else ""
    body_face = pick_font(rng, L.script, rng.choice(["serif", "sans"]))
    head_face = pick_font(rng, L.script, "bold")
    bs = rng.randint(13, 19)
    spacing = rng.uniform(1.1, 1.45)
    cw = rng.uniform(200, 900)
    role = rng.choices(["body", "list", "heading", "title", "header"], weights=[12, 2, 2, 1, 1])[0]

    def wrapped(face: Font, size: int, s: str, width: float) -> list[str]:
        return wrap_text(keep_covered(s, face) or "0", face.pil(size), width, L.spaces, L.rtl)

    # the column around the line: (text, face, size, indent) per row, the line read in the middle
    rows: list[tuple[str, Font, int, float]] = []
    before = wrapped(body_face, bs, src.paragraph(rng, rng.randint(100, 400)), cw)
    after = wrapped(body_face, bs, src.paragraph(rng, rng.randint(100, 400)), cw)
    if role == "body":
        para = wrapped(body_face, bs, src.paragraph(rng, rng.randint(150, 700)), cw)
        i = rng.randrange(len(para))
        rows = [(t, body_face, bs, 0.0) for t in [*before[-1:], *para, *after[:1]]]
        mid = i + len(before[-1:])
    elif role == "list":
        mark = rng.choice(["•", "-", "▪", f"{rng.randint(1, 9)}."])
        mark = mark if body_face.covers(mark) else "-"
        item = wrapped(body_face, bs, src.sentence(rng, rng.randint(20, 120)), cw - bs * 1.6)
        rows = [(f"{mark} {item[0]}", body_face, bs, 0.0)] + [(t, body_face, bs, bs * 1.6) for t in item[1:]]
        mid = rng.randrange(len(rows))
        rows = [(before[-1], body_face, bs, 0.0), *rows, (after[0], body_face, bs, 0.0)]
        mid += 1
    else:
        size = {"heading": int(bs * rng.uniform(1.15, 1.4)), "title": int(bs * rng.uniform(1.5, 2.1))}.get(
            role, max(10, bs - 3)
        )
        face = body_face if role == "header" else head_face
        if role == "header" and rng.random() < 0.4:
            n = str(rng.randint(1, 400))
            text = rng.choice([n, f"- {n} -", f"Page {n}", n])  # a bare number twice as often
        else:
            text = sep.join(wrapped(face, size, src.phrase(rng, 50 if role == "title" else 40), cw)[:1])
        rows = [(text, face, size, 0.0)]
        mid = 0
        if role != "header":
            rows.append((after[0], body_face, bs, 0.0))
        if role == "heading":
            rows.insert(0, (before[-1], body_face, bs, 0.0))
            mid = 1
    heights = [sum(f.pil(z).getmetrics()) * spacing for _, f, z, _ in rows]
    margin = int(bs * 2)
    W = int(max(tracked_length(f.pil(z), t, tracking * z) + ind for t, f, z, ind in rows) + 2 * margin)
    H = int(sum(heights) + 2 * margin)
    img = paper(rng, W, H)
    d = ImageDraw.Draw(img)
    ink = (rng.randint(0, 50),) * 3
    center = role in ("title", "header") and rng.random() < 0.6
    y = margin
    quad = None
    for k, ((t, f, z, ind), h) in enumerate(zip(rows, heights, strict=True)):
        font = f.pil(z)
        x = (W - tracked_length(font, t, tracking * z)) / 2 if center and k == mid else margin + ind
        q = draw_line(d, (x, y), t, font, ink, rtl=L.rtl, tracking=tracking * z)
        if k == mid:
            quad = q
        y += h
    crop, inside = cut_out(rng, img, quad)
    return Render(
        crop,
        [TextLine(rows[mid][0], inside, "body", lang)],
        "line",
        lang,
        meta={"font": rows[mid][1].name, "size": rows[mid][2], "role": role},
    )


def render_page_line_tracked(rng, lang: str = "en") -> Render:
    """`render_page_line` with the letters spread 0.03-0.25 em apart (the whole column, as a page
    set with loose tracking is): the gaps between its letters come nearer a word space's width, as
    in faces with wide figures, where the line reader read "2012" as "20 12", and on letter-spaced
    lines, whose words it read in two ("yeom an").

    Example:
        >>> import random
        >>> r = render_page_line_tracked(random.Random(0))
        >>> len(r.lines), r.meta["tracking"] > 0
        (1, True)
    """
    tracking = round(rng.uniform(0.03, 0.25), 3)
    r = render_page_line(rng, lang, tracking=tracking)
    return replace(r, meta={**r.meta, "tracking": tracking})


def formula_on_page(rng, lang: str = "en") -> tuple[Image.Image, tuple[int, int, int, int], str, dict]:
    """A display formula centred in a column between body lines, as `render_document` lays one
    out (1.3 times the 13-19 px body size): the small page, the formula's print box, its LaTeX and
    meta (body face, size, the body lines' median print height `line`)."""
    src = text_source(lang)
    L = language(lang)
    body_face = pick_font(rng, L.script, rng.choice(["serif", "sans"]))
    bs = rng.randint(13, 19)
    body = body_face.pil(bs)
    asc, desc = body.getmetrics()
    lh = (asc + desc) * rng.uniform(1.1, 1.45)
    ink = (rng.randint(0, 50),) * 3
    # the page's formulas are drawn in the Computer Modern face; the others too, a third of the time
    family = "cm" if rng.random() < 0.67 else rng.choice(["stix", "dejavuserif", "dejavusans"])
    for _ in range(10):
        latex, patch = sample_formula(rng, int(bs * 1.3), ink, family)
        if patch.width <= 880:
            break
    cw = max(patch.width * rng.uniform(1.15, 2.5), rng.uniform(250, 900))
    margin = int(bs * 2)
    W = int(cw + 2 * margin)

    def body_lines(n: int) -> list[str]:
        s = keep_covered(src.paragraph(rng, rng.randint(150, 400)), body_face) or "0"
        return wrap_text(s, body, cw, L.spaces, L.rtl)[:n]

    above, below = body_lines(rng.randint(1, 2)), body_lines(rng.randint(1, 2))
    gap_above, gap_below = lh * rng.uniform(0.2, 0.8), lh * rng.uniform(0.4, 1.0)
    H = int(margin * 2 + lh * (len(above) + len(below)) + gap_above + patch.height + gap_below)
    img = paper(rng, W, H)
    d = ImageDraw.Draw(img)
    heights = []

    def draw(lines: list[str], y: float) -> float:
        for t in lines:
            x = W - margin - body.getlength(t, direction="rtl") if L.rtl else margin
            q = draw_line(d, (x, y), t, body, ink, rtl=L.rtl)
            heights.append(max(q[1::2]) - min(q[1::2]))
            y += lh
        return y

    y = draw(above, float(margin))
    fx, fy = int((W - patch.width) / 2), int(y - lh + asc + desc + gap_above)
    img.paste(patch, (fx, fy), patch)
    draw(below, fy + patch.height + gap_below)
    line = sorted(heights)[len(heights) // 2]
    meta = {"font": body_face.name, "size": bs, "family": family, "line": line}
    return img, (fx, fy, fx + patch.width, fy + patch.height), latex, meta


def render_page_formula(rng, lang: str = "en") -> Render:
    """A display formula of a document page (`formula_on_page`) cut out the way the document task
    hands it to the formula reader (`tasks.segment.formula_crops`): its print box, give or take a
    little, widened by half a body line on every side; a quarter of the time by up to 0.6 of a line
    more above or below, as when the cutter's row takes in a neighbour's descenders or a fraction
    bar's stray ink. The formula reader trained on formulas alone (18-34 px, on their own paper)
    read the held-out pages' formulas far worse than formulas alone: on a page they are set at a
    smaller size and come with their neighbours' edges.

    Example:
        >>> import random
        >>> r = render_page_formula(random.Random(0))
        >>> r.lines[0].role
        'formula'
    """
    img, (fx0, fy0, fx1, fy1), latex, meta = formula_on_page(rng, lang)
    line = meta["line"]
    pad = max(2, int(line) // 2)

    def edge(extra: bool = False) -> int:
        more = rng.uniform(0, 0.6) * line if extra and rng.random() < 0.25 else 0.0
        return pad + round(rng.uniform(-0.08, 0.08) * line + more)

    x0, y0 = max(0, fx0 - edge()), max(0, fy0 - edge(True))
    x1, y1 = min(img.width, fx1 + edge()), min(img.height, fy1 + edge(True))
    inside = box_quad(fx0 - x0, fy0 - y0, fx1 - x0, fy1 - y0)
    return Render(
        img.crop((x0, y0, x1, y1)),
        [TextLine(latex, inside, "formula", "latex")],
        "formula",
        "en",
        latex=latex,
        meta=meta,
    )
