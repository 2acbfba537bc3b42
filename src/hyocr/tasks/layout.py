"""Markdown of a page for models that read one line at a time: the cutter's blocks, read line by
line, laid out as headings, lists, paragraphs and tables.

The release writes a page's Markdown in one pass. The shipped `hyocr-tiny` reads lines, so for it
the `document` task cuts the page into segments (`tasks.segment.page_segments`, which also gives
each segment its block: a paragraph, a heading, a piece of a column, in reading order), reads them,
and `page_markdown` lays the blocks out in the data engine's Markdown (`data/render/document.py`).
The layout comes from these rules, **not from the model**, and a warning on the result says so.

Rules:
- A block's lines are its rows, each row's segments joined by spaces; a paragraph joins its lines
  by spaces (by nothing after a line ending in a hyphen, which joins a hyphenated word again).
- A block of at most two lines printed at least 1.3 times as tall as the page's median line, or
  with letters 1.3 times as wide (per character read, against lines of 10 or more), is a heading:
  `#` for the first block when it is such and the page's tallest, `##` otherwise.
- A block whose first line starts with a bullet (`-`, `•`, `▪`, `◦`, `*`) or a number (`1.`, `2)`)
  is a list: every line starting so begins an item (bullets written `- `), other lines continue
  the item before them.
- A running header or a page number is left out, as the document instruction asks: a one-line
  block above or below all the other blocks, lying wholly in the top or bottom 8% of the page, or
  of its print when printed no bigger than its body lines (a page scanned inside a wider ground).
- A table (`tasks.tables.with_tables`: two or more consecutive rows of two or more short
  segments) is cut into cells and written as its HTML.
- Display formulas: `formula_rows` gives the runs of rows printed centred under or over a wider
  line, with a margin on both sides (where a page sets a display formula, and also a centred
  title). A model that reads formulas (its config's `formula_height`) reads each such run with the
  formula instruction as well; when that reading ended within its token budget and is surer than
  the text reading of its rows by a margin (`tasks.segment.assemble`, `FORMULA_MARGIN`), its rows
  are written as one `$$ … $$` block, cutting their paragraph in two where they lay inside one.
  Otherwise formulas are read as text lines.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from hyocr.tasks.segment import Segment
from hyocr.tasks.tables import Cell, table_html

__all__ = ["formula_rows", "page_markdown", "within"]

_BULLET = re.compile(r"^(?:[-•▪◦*·]\s+|(\d{1,3})[.)]\s+)")


def _rows(segs: Sequence[Segment], texts: Sequence[str]) -> list[dict]:
    """The page's rows in reading order (block, text, box, height `h`, width per character `cw`),
    a table's cells as one entry (`table`: True, text: its HTML)."""
    rows: dict[tuple, dict] = {}  # in reading order: the segments come in it
    for s, t in zip(segs, texts, strict=True):
        if isinstance(s, Cell):
            r = rows.setdefault(
                ("table", s.block),
                {"block": ("table", s.block), "cells": [], "texts": [], "box": list(s.box)},
            )
            r["cells"].append(s)
            r["texts"].append(t)
        else:
            t = " ".join(t.split())
            if not t:
                continue
            r = rows.setdefault(("row", s.row), {"block": s.block, "parts": [], "box": list(s.box)})
            r["parts"].append(t)
        r["box"] = _union(r["box"], s.box)
    out = []
    for r in rows.values():
        x0, y0, x1, y1 = r["box"]
        if "cells" in r:
            text, table = table_html(r["cells"], r["texts"])[0], True
        else:
            text, table = " ".join(r["parts"]), False
        out.append(dict(r, text=text, table=table, y0=y0, y1=y1, h=y1 - y0, cw=(x1 - x0) / max(1, len(text))))
    return out


def _union(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """The smallest box holding boxes `a` and `b` (x0, y0, x1, y1)."""
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _row_boxes(segs: Sequence[Segment]) -> dict[int, list[int]]:
    """Each row's box (the union of its segments'), table cells left out."""
    rows: dict[int, list[int]] = {}
    for s in segs:
        if isinstance(s, Cell):
            continue
        b = rows.setdefault(s.row, list(s.box))
        rows[s.row] = _union(b, s.box)
    return rows


def formula_rows(
    segs: Sequence[Segment], margin: float = 0.04, off_centre: float = 0.06, reach: float = 3.0
) -> list[tuple[int, int, int, int]]:
    """Boxes of the runs of rows that may be display formulas, top to bottom: a row is one when a
    row above or below it (within `reach` line heights, overlapping it across) is wider by a
    `margin` of its width on both sides, and their centres lie within `off_centre` of that width;
    such rows one under the other (a fraction's numerator, its bar's row, its denominator) join,
    and each run then takes in the rows of its formula that are not centred (`_with_parts`).
    On the held-out pages this finds 32 of 46 formulas, with about 3 other rows a page (titles,
    centred short lines), which the model's two readings then tell apart."""
    boxes = list(_row_boxes(segs).values())
    if not boxes:
        return []
    line = statistics.median(b[3] - b[1] for b in boxes)

    def centred(b: list[int]) -> bool:
        x0, y0, x1, y1 = b
        for r in boxes:
            if (
                r is b
                or r[2] <= x0
                or r[0] >= x1
                or not -0.5 * line <= max(r[1] - y1, y0 - r[3]) <= reach * line
            ):
                continue
            w = r[2] - r[0]
            if min(x0 - r[0], r[2] - x1) >= margin * w and abs(x0 + x1 - r[0] - r[2]) / 2 <= off_centre * w:
                return True
        return False

    runs: list[list[int]] = []
    for b in sorted((b for b in boxes if centred(b)), key=lambda b: b[1]):
        last = runs[-1] if runs else None
        if last and b[1] - last[3] <= 0.6 * line and b[0] < last[2] and b[2] > last[0]:
            runs[-1] = [min(last[0], b[0]), last[1], max(last[2], b[2]), max(last[3], b[3])]
        else:
            runs.append(list(b))
    return [(x0, y0, x1, y1) for x0, y0, x1, y1 in _with_parts(runs, boxes, line)]


def _with_parts(runs: list[list[int]], boxes: list[list[int]], line: float) -> list[list[int]]:
    """`runs` each widened to the rows that are parts of its formula: a big operator's limits, a
    raised script, a fraction's other half are rows of their own, narrower than the formula and not
    centred under a wider line, and a crop of the centred row alone cut them off (on the development
    Markdown pages half of the formulas were covered whole). A row joins a run when it lies within
    the run's width (give or take half a line) and at most 0.6 of a line above or below it; runs
    that come to overlap are one."""
    out = [list(r) for r in runs]
    for r in out:
        grew = True
        while grew:
            grew = False
            for b in boxes:
                inside = b[0] >= r[0] - line / 2 and b[2] <= r[2] + line / 2
                near = b[1] - r[3] <= 0.6 * line and r[1] - b[3] <= 0.6 * line
                if inside and near and _union(r, b) != r:
                    r[:] = _union(r, b)
                    grew = True
    merged: list[list[int]] = []
    for r in sorted(out, key=lambda r: r[1]):
        # a run overlapping several merged ones joins them all
        hit = [m for m in merged if r[0] < m[2] and r[2] > m[0] and r[1] < m[3] and r[3] > m[1]]
        for m in hit:
            r = _union(m, r)
        merged = [m for m in merged if not any(m is h for h in hit)] + [r]
    return sorted(merged, key=lambda r: r[1])


def within(box: Sequence[float], outer: Sequence[float]) -> bool:
    """Whether `box`'s centre lies in `outer`."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _paragraph(lines: list[str]) -> str:
    out = ""
    for line in lines:
        out = out + line if not out or out.endswith("-") else f"{out} {line}"
    return out


def _with_formulas(rows: list[dict], formulas: Sequence[tuple[Sequence[float], str]]) -> list[dict]:
    """`rows` with those inside a formula's box replaced by one formula row, which is a block of
    its own; the rows after it in its block start a block of their own."""
    out: list[dict] = []
    placed: set[int] = set()
    split: dict = {}  # block -> the block its rows after a formula go to
    for r in rows:
        k = next((i for i, (box, _) in enumerate(formulas) if not r["table"] and within(r["box"], box)), None)
        if k is None:
            out.append(dict(r, block=split.get(r["block"], r["block"])))
            continue
        if k not in placed:
            placed.add(k)
            box, latex = formulas[k]
            out.append(
                dict(r, block=("formula", k), text=latex, formula=True, box=list(box), y0=box[1], y1=box[3])
            )
        split[r["block"]] = ("after formula", k, r["block"])
    return out


def _markdown(block: dict) -> str:
    if block["kind"] == "heading":
        return "#" * block["level"] + " " + block["text"]
    if block["kind"] == "formula":
        return f"$$\n{block['latex']}\n$$"
    return block["text"]


def page_markdown(
    segs: Sequence[Segment],
    texts: Sequence[str],
    size: tuple[int, int],
    formulas: Sequence[tuple[Sequence[float], str]] = (),
) -> tuple[str, list[dict]]:
    """The page's Markdown from its segments (a table's as `tasks.tables.Cell`s) read as `texts`,
    and its blocks as dicts (kind, text; level for headings, items for lists, html for tables).
    `formulas`: (box, LaTeX) of display formulas; the rows within a box become its `$$` block."""
    rows = _rows(segs, texts)
    if formulas:
        rows = _with_formulas(rows, formulas)
    if not rows:
        return "", []
    height = size[1]
    blocks: list[list[dict]] = []
    for r in rows:
        if blocks and blocks[-1][0]["block"] == r["block"]:
            blocks[-1].append(r)
        else:
            blocks.append([r])
    text_rows = [r for r in rows if not r["table"] and not r.get("formula")] or rows
    median = statistics.median(r["h"] for r in text_rows)
    # width per character: a heading's letters are wider as well as taller (a body line with
    # descenders is about as tall as a bigger heading without them)
    body = [r["cw"] for r in text_rows if len(r["text"]) >= 10] or [r["cw"] for r in text_rows]
    median_cw = statistics.median(body)

    def plain(r: dict) -> bool:  # printed no bigger than the body: neither taller nor wider
        return r["h"] <= 1.15 * median and r["cw"] < 1.3 * median_cw

    # a running header above everything else, a page number below it: left out. "Top" and
    # "bottom" are the page's (its top or bottom 8%) or, for a page scanned or photographed inside
    # a wider ground, its print's (the top or bottom 8% of what is printed), where a line no
    # bigger than the body's can only be a header or a page number: a title is taller or wider
    top = min(r["y0"] for r in rows)
    bottom = max(r["y1"] for r in rows)
    reach = 0.08 * (bottom - top)
    if len(blocks) > 1:
        first, last = blocks[0], blocks[-1]
        small = len(first) == 1 and plain(first[0]) and first[0]["y1"] <= top + reach
        if len(first) == 1 and first[0]["y0"] == top and (first[0]["y1"] <= 0.08 * height or small):
            blocks = blocks[1:]
        small = len(last) == 1 and plain(last[0]) and last[0]["y0"] >= bottom - reach
        if (
            len(last) == 1
            and last[0]["y1"] == bottom
            and (last[0]["y0"] >= 0.92 * height or small)
            and len(blocks) > 1
        ):
            blocks = blocks[:-1]
    tallest = max(r["h"] for r in text_rows)
    out: list[dict] = []
    for k, b in enumerate(blocks):
        lines = [r["text"] for r in b]
        h = max(r["h"] for r in b)
        if b[0]["table"]:
            out.append({"kind": "table", "text": lines[0], "html": lines[0]})
        elif b[0].get("formula"):
            out.append({"kind": "formula", "text": lines[0], "latex": lines[0]})
        elif len(b) <= 2 and (h >= 1.3 * median or min(r["cw"] for r in b) >= 1.3 * median_cw):
            level = 1 if k == 0 and h == tallest else 2
            out.append({"kind": "heading", "text": " ".join(lines), "level": level})
        elif _BULLET.match(lines[0]):
            items: list[str] = []
            for line in lines:
                m = _BULLET.match(line)
                if m or not items:
                    marker = f"{m.group(1)}. " if m and m.group(1) else "- "
                    items.append(marker + (line[m.end() :] if m else line))
                else:
                    items[-1] = _paragraph([items[-1], line])
            out.append({"kind": "list", "text": "\n".join(items), "items": items})
        else:
            out.append({"kind": "paragraph", "text": _paragraph(lines)})
    md = "\n\n".join(_markdown(b) for b in out)
    return md, out
