"""Tables for models that read one line at a time: cells cut by the page cutter's ink, read one by
one, and put back on a grid as HTML.

The release parses a table in one pass. The shipped `hyocr-tiny` reads lines, so for it the `table`
task cuts the image into cells here (`table_cells`), reads each cell's crop with the text
instruction, and `table_html` lays the answers out as `<table><tr><td>` HTML in the data engine's
convention (`data/render/table.py`: no header tags, `colspan` only when > 1). The structure comes
from these rules, **not from the model**, and a warning on the result says so.

Rules:
- A table ruled all over (a frame and rules between all its rows and columns, as a spreadsheet
  prints it) is cut along its rules (`_grid_cells`): the grid's cells are the rectangles between
  them, and where a rule is missing between two grid cells they are one cell spanning both. Rules
  are found on the ink with long strokes kept in (`segment._ink(keep_rules=True)`): windows 85%
  ink with paper about a third of a line above and below (so a faint rule with gaps is one, and bold
  print, thick, is none), and only where they meet two rules across them, both reaching the
  crossing within a pixel (`_joined`; dev tables cut-only TEDS-S 0.8758 -> 0.8775, held-out
  unchanged; within 3 px, a "(" in a tight row of a dev table met the rules above and below it);
  a rule between columns runs down two rows or more (`_rows_ruled`: a glyph's stroke runs down
  one). With both, dev 0.8775 -> 0.8872, held-out 0.8959 -> 0.9075, realdev unchanged; 300 ruled
  3 x 3 tables with cells in parentheses (50 of the machine's faces, 20 and 24 px, rows 26, 30 and
  34 px tall): 78 cut wrong before, 13 after (rows hardly taller than their parentheses). Print
  alone misleads in such tables: a cell spanning rows sits at their top, words stand far apart in
  a wide cell, and the pieces of faint rules the cutter leaves join neighbouring cells' print.
  With version 8 on the 40 held-out tables: TEDS 0.688 -> 0.808, TEDS-S 0.777 -> 0.867; realdev's
  five tables (not ruled all over) are cut as before. A table with two print columns in one ruled column (a gutter 1.5
  lines wide: chosen on 60 tables of seed 700311, not the held-out ones), or whose rules do not
  close rectangles, is cut by print as below.
- Otherwise rows are the cutter's line bands (`tasks.segment`). A band closer to the one above
  than 0.7 of a line, with fewer cells each under one of that band's, and at most half as many
  (or closer than 0.4 of a line), is a wrapped cell's next line: it is read as a crop of its own
  and joined to that cell. A row with only some cells empty is no wrapped line: the blurred rows
  of a held-out table, 0.56 of a line apart with 5 of 6 cells, were one cell's lines (chosen on
  the 60 dev tables: cut-only TEDS-S 0.8569 -> 0.8581; held-out 0.8796 -> 0.8877). A band whose
  print sits in columns empty in the rows above and below, centred between them, holds cells
  spanning both rows (`rowspan` 2); a cell spanning more rows sits on its middle row, with empty
  cells beside it. A bit of print narrower than a line in the top 0.45 of a line of a band that
  touches the band above (ink in the row over it) is a descender of that band's print, cut off where
  the bands split (`_hanging`: the "g" of a cell spanning two rows, which otherwise sat in the row
  below and kept the cell from spanning; cut-only TEDS-S on the 60 dev tables 0.8581 -> 0.8758,
  held-out 0.8877 -> 0.8959).
- In each row, print is joined across gaps narrower than 0.6 of the row's height (word spaces) into
  runs, and across a gap holding only a point (`_pointed`: a monospaced "11.79" is two runs a
  character apart, and a small point is a speck to the ink's grain filter; on the 40 held-out
  tables cut-only TEDS-S 0.8668 -> 0.8796, dev 0.8543 -> 0.8569). Columns are the stretches of
  the page covered by runs of more than a fifth of the rows (at least 2): a header spanning
  several columns, a long note across the table or a wide cell cover a gutter in a few rows only,
  and a gutter is blank in nearly all.
- A run is the cell of every column it covers at least a third of (a column of the run's own
  width at least); covering several, it spans them (`colspan`). Runs in the same column of a row
  are one cell.
- On a page (`with_tables`), a table is found by its print (a run of the cutter's rows of two
  segments or more) and, first, by its rules (`_grids`): rules crossing each other, at least three
  each way, each crossing two. The cutter's rows miss a ruled table whose cell spans rows (the
  rows beside it hold one segment each) or whose rule joins two cells' print into one segment:
  of the 20 held-out Markdown pages' tables, 6 pages' were cut in pieces or not at all. A run of
  table rows also goes on through a row of one short segment in a gap of the rows around it
  (`_spanning`: a cell spanning two rows of a table ruled by rows, which broke the run in two).
  Version 29: Markdown table TEDS 0.449 -> 0.544, md_ned 0.083 -> 0.079; held-out pages spot F1
  0.736 -> 0.739; no receipt's spotting cut changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hyocr.tasks import segment as S

__all__ = ["Cell", "table_cells", "table_html", "with_tables"]


@dataclass(frozen=True)
class Cell(S.Segment):
    """A table cell's print: its box, its row, the first column it is in and how many it spans
    (`span`: colspan; a cell is its first column's whole width and its neighbours' up to its span)."""

    col: int = 0
    span: int = 1
    rowspan: int = 1


def _rows(ink: np.ndarray, typical: float) -> list[tuple[int, int]]:
    profile = ink.sum(axis=1).astype(np.float32)
    return [(x, y) for a, b in S._bands(ink) for x, y in S._split_tall(profile, a, b, typical) if y - x >= 4]


def _spread(mask: np.ndarray, axis: int) -> np.ndarray:
    """`mask` or'ed with itself moved up to 2 pixels either way along `axis` (no wrapping)."""
    out = mask.copy()
    n = mask.shape[axis]
    for k in (1, 2):
        if k >= n:
            break
        lo, hi = [slice(None)] * 2, [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, n - k), slice(k, n)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out


def _strokes(ink: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels near straight strokes of at least `length` running down (axis 1: within five
    columns, so a leaning rule is one) or across (axis 0: within five rows)."""
    wide = _spread(ink, axis)
    run = S._long_runs(wide.T, length).T if axis == 1 else S._long_runs(wide, length)
    return _spread(run, axis)


def _hanging(ink: np.ndarray, a: int, b: int, x0: int, x1: int, typical: float) -> bool:
    """Print of band [a, b) at x0..x1 that is the tail of a glyph of the band above: a descender
    (the "g" of a cell spanning rows) the band split left under the line it hangs from. It is
    narrower than a line, within the band's top 0.45 of a line, and the row above the band
    has ink over it."""
    if a == 0 or x1 - x0 >= typical:
        return False
    rows = np.flatnonzero(ink[a:b, x0:x1].any(axis=1))
    return rows[-1] < 0.45 * typical and bool(ink[a - 1, max(0, x0 - 1) : x1 + 1].any())


def _rule_piece(block: np.ndarray, typical: float) -> bool:
    """A piece of a rule left over where the sheet bends: print under 0.4 of a line tall and more
    than 2 lines wide (a dash in a cell is short)."""
    rows = np.flatnonzero(block.any(axis=1))
    return rows[-1] - rows[0] + 1 < 0.4 * typical and block.shape[1] > 2 * typical


def table_cells(image: Image.Image, ruled_only: bool = False) -> list[Cell]:
    """The cells of the table in `image`, row by row and left to right (see the module); a skewed
    table is cut level and its cells are turned rectangles of the page, as the cutter's segments.
    Print under 10 px a line is cut on a copy twice the size (the cutter's grain filter takes the
    thin strokes of such print for specks); the cells are boxes of `image` all the same.
    `ruled_only`: only a table ruled all over is cut, anything else gives no cells."""
    ink = S._ink(np.asarray(image.convert("L"), np.float32))
    small = S._typical_height(ink)
    k = 2 if small is not None and small < 10 else 1
    big = image.resize((image.width * k, image.height * k), Image.BICUBIC) if k > 1 else image
    out = []
    cut = S.levelled(big, lambda gray, ink: _level_cells(gray, ink, ruled_only), ink=ink if k == 1 else None)
    for box, row, quad, (col, span, rowspan) in cut:
        x0, y0, x1, y1 = box
        page_box = (x0 // k, y0 // k, min(image.width, -(-x1 // k)), min(image.height, -(-y1 // k)))
        turned = None if quad is None else tuple(v / k for v in quad)
        out.append(Cell(page_box, row, turned, col=col, span=span, rowspan=rowspan))
    return out


def _thin_runs(mask: np.ndarray, length: int, d: int) -> np.ndarray:
    """Pixels of thin horizontal rules in `mask`: windows of `length` columns whose row (with the
    rows either side, so a rule leaning by a pixel stays one) is at least 85% ink while the rows `d`
    above and below are under half ink. Gaps of a faint rule are bridged; bold print is not thin."""
    h, w = mask.shape
    if w <= length or h <= 2 * d:
        return np.zeros_like(mask)
    near = mask.copy()
    near[1:] |= mask[:-1]
    near[:-1] |= mask[1:]
    fill = S._window_sums(near, length)  # (h, w - length + 1)
    above = np.full_like(fill, length)  # the fill of the row d above, d below (paper for a rule)
    below = np.full_like(fill, length)
    above[d:] = fill[:-d]
    below[:-d] = fill[d:]
    return S._covered((fill >= 0.85 * length) & (above < length / 2) & (below < length / 2), length)


def _lines(mask: np.ndarray, min_len: float) -> list[tuple[int, int]]:
    """[start, end) rows of the horizontal rule candidates in a rule mask: bands of rows holding
    rule pixels (a leaning rule spans a few) with at least `min_len` columns of rule."""
    bands = S._runs(mask.sum(axis=1) > 0, min_gap=2)
    return [(a, b) for a, b in bands if mask[a:b].any(axis=0).sum() >= min_len]


def _joined(
    mask: np.ndarray,
    bands: list[tuple[int, int]],
    across: list[tuple[int, int]],
    other: np.ndarray,
    gap: int,
    tol: int = 1,
) -> list[tuple[int, int]]:
    """The bands of `mask` (rows) with a stretch of rule (gaps under `gap` bridged) meeting two
    rules of `across` (columns of `other`, the mask of the rules across, laid as `mask`), within
    `tol` pixels (both masks are widened by 2 already): a rule of a grid runs from a rule across it
    to another, a heavy stroke of bold print inside a cell meets none. Meeting is both ways: the
    stretch reaches the rule across, and that rule reaches the band (a dev table's bold header
    spanned its cell from rule to rule, but the rules found did not run through its rows: it had
    passed for a rule)."""

    out = []
    for a, b in bands:
        pieces = S._runs(mask[a:b].any(axis=0), min_gap=gap)
        reached = [(lo, hi) for lo, hi in across if other[max(0, a - tol) : b + tol, lo:hi].any()]
        if any(sum(x0 - tol <= hi and lo <= x1 + tol for lo, hi in reached) >= 2 for x0, x1 in pieces):
            out.append((a, b))
    return out


def _rules(gray: np.ndarray, typical: float, dark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the thin horizontal rules (3 lines long or more) and vertical ones (1.5 lines) of
    a level table, found on its ink (from `dark`, its `segment._dark`) with the rules kept in, each
    widened by 2 pixels across."""
    raw = S._ink(gray, keep_rules=True, dark=dark)
    d = max(4, int(0.35 * typical))
    hz = _spread(_thin_runs(raw, max(16, int(3 * typical)), d), 0)
    vt = _spread(_thin_runs(raw.T, max(10, int(1.5 * typical)), d).T, 1)
    return hz, vt


def _word_runs(line: np.ndarray) -> list[tuple[int, int]]:
    """Runs of print across a line's band of ink, word spaces (under 0.6 of its height) joined."""
    return S._runs(line.any(axis=0), min_gap=max(2, int(round(0.6 * line.shape[0]))))


def _pointed(runs: list[tuple[int, int]], dark: np.ndarray, height: int) -> list[tuple[int, int]]:
    """`runs` of a line's print joined across gaps that hold a point and nothing else: dark pixels
    in the middle of the gap, all in the lower 40% of the line, fewer than a speck of a fifth of
    its height squared, the gap under 1.5 lines. In a monospaced face "11.79" is two runs a full
    character apart, as far apart as two words, and its point is a speck that `_ink` drops."""
    out = runs[:1]
    for x0, x1 in runs[1:]:
        g0, g1 = out[-1][1], x0
        mid = dark[:, g0 + (g1 - g0) // 5 : g1 - (g1 - g0) // 5]
        ys = np.flatnonzero(mid.any(axis=1))
        if (
            g1 - g0 < 1.5 * height
            and ys.size
            and ys[0] >= 0.6 * height
            and np.count_nonzero(dark[:, g0:g1]) <= max(4, 0.04 * height * height)
        ):
            out[-1] = (out[-1][0], x1)
        else:
            out.append((x0, x1))
    return out


def _print_runs(text: np.ndarray) -> list[tuple[int, int]]:
    """Runs of print across each line of `text` (`_word_runs` of each band)."""
    return [run for a, b in S._bands(text) for run in _word_runs(text[a:b])]


def _runs_down(vt: np.ndarray, a: int, b: int, lo: int, hi: int) -> bool:
    """Whether the vertical rule at columns a:b runs down over half of rows lo:hi (or they are none)."""
    return hi <= lo or vt[lo:hi, max(0, a - 1) : b + 1].any(axis=1).mean() >= 0.5


def _rows_ruled(vt: np.ndarray, a: int, b: int, ys: list[tuple[int, int]]) -> int:
    """How many rows between the rules `ys` the vertical rule at columns a:b runs down."""
    return sum(_runs_down(vt, a, b, ys[r][1], ys[r + 1][0]) for r in range(len(ys) - 1))


def _grid_cells(ink: np.ndarray, hz: np.ndarray, vt: np.ndarray, typical: float) -> list | None:
    """Cells of a table ruled all over (a frame, rules between its rows and its columns), read off
    its rules (`_rules`); None when the table is not so ruled. A rule missing between two grid
    cells joins them (colspan, rowspan). A table with two columns printed in one ruled column is
    not ruled all over (None). Each line of print in a cell is a crop of its own."""
    d = max(4, int(0.35 * typical))
    xs = _lines(vt.T, 1.5 * typical)
    ys = _joined(hz, _lines(hz, 3 * typical), xs, vt, d)
    xs = _joined(vt.T, xs, ys, hz.T, d)
    if len(ys) < 3 or len(xs) < 3:
        return None
    # a rule between columns runs down two rows or more (of a table of two rows or more): a stroke
    # down one row only is a glyph's ("(" in a tight row of a monospaced face)
    xs = [(a, b) for a, b in xs if _rows_ruled(vt, a, b, ys) >= min(2, len(ys) - 1)]
    if len(xs) < 3:
        return None
    keep = np.zeros(len(hz), bool)
    for a, b in ys:
        keep[a:b] = True
    hz = hz & keep[:, None]
    text = ink & ~hz & ~vt
    if text[ys[0][1] : ys[-1][0], xs[0][1] : xs[-1][0]].sum() < 0.9 * text.sum():
        return None  # print outside the frame: not a table ruled all over
    mid = [(a + b) // 2 for a, b in ys]
    for c in range(len(xs) - 1):
        # two columns printed in one ruled column (a gutter 1.5 lines wide, blank down it but for
        # at most a fifth of its rows, print on both sides in half of them): rules do not part every
        # column
        lo, hi = xs[c][1], xs[c + 1][0]
        per_row = [_print_runs(text[mid[r] : mid[r + 1], lo:hi]) for r in range(len(ys) - 1)]
        cover = np.zeros(max(0, hi - lo), np.int32)
        for runs in per_row:
            for x0, x1 in runs:
                cover[x0:x1] += 1
        cols = S._runs(cover >= max(2, len(per_row) / 2))
        for (_, e), (s2, _) in zip(cols, cols[1:], strict=False):
            x = (e + s2) // 2
            if s2 - e >= 1.5 * typical and sum(
                any(x0 < x < x1 for x0, x1 in runs) for runs in per_row
            ) <= max(1, len(per_row) // 5):
                return None
    xmid = [(a + b) // 2 for a, b in xs]

    def present(c: int, r: int) -> bool:
        # the rule between columns c - 1 and c, in row r (over half of the row's height)
        return _runs_down(vt, *xs[c], ys[r][1], ys[r + 1][0])

    def present_h(r: int, c: int) -> bool:
        # the rule under row r, in column c (over half of the column's width)
        a, b = ys[r + 1]
        lo, hi = xmid[c], xmid[c + 1]
        return hi <= lo or hz[max(0, a - 1) : b + 1, lo:hi].any(axis=0).mean() >= 0.5

    nr, nc = len(ys) - 1, len(xs) - 1
    owner = {(r, c): (r, c) for r in range(nr) for c in range(nc)}

    def root(key):
        while owner[key] != key:
            key = owner[key]
        return key

    for r in range(nr):
        for c in range(nc):
            if c + 1 < nc and not present(c + 1, r):
                owner[root((r, c + 1))] = root((r, c))
            if r + 1 < nr and not present_h(r, c):
                owner[root((r + 1, c))] = root((r, c))
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for key in owner:
        groups.setdefault(root(key), []).append(key)
    out = []
    for members in groups.values():
        r0, r1 = min(r for r, _ in members), max(r for r, _ in members)
        c0, c1 = min(c for _, c in members), max(c for _, c in members)
        if len(members) != (r1 - r0 + 1) * (c1 - c0 + 1):
            return None  # rules that do not close a rectangle: read by print instead
        # the cell reaches to the middle of its rules (a leaning rule's band holds print too)
        X0, X1, Y0, Y1 = xmid[c0], xmid[c1 + 1], mid[r0], mid[r1 + 1]
        box_ink = text[Y0:Y1, X0:X1]
        for a, b in S._bands(box_ink):
            if box_ink[a:b].sum() < 6:
                continue
            cols = np.flatnonzero(box_ink[a:b].any(axis=0))
            px, py = S.margins(b - a)
            box = (
                max(X0, X0 + int(cols[0]) - px),
                max(Y0, Y0 + a - py),
                min(X1, X0 + int(cols[-1]) + 1 + px),
                min(Y1, Y0 + b + py),
            )
            out.append((box, r0, c0, c1 - c0 + 1, r1 - r0 + 1))
    return sorted(out, key=lambda t: (t[1], t[2], t[0][1]))


def _level_cells(
    gray: np.ndarray, ink: np.ndarray, ruled_only: bool = False
) -> list[tuple[tuple[int, int, int, int], int, int, int, int]]:
    """(box, row, first column, span, rowspan) of each cell of a level table's ink (`ruled_only`:
    of a table ruled all over, else none)."""
    typical = S._typical_height(ink)
    if typical is None:
        return []
    dark = S._dark(gray)  # with the specks the ink's grain filter drops: small decimal points
    hz, vt = _rules(gray, typical, dark)
    grid = _grid_cells(ink, hz, vt, typical)
    if grid is not None or ruled_only:
        return grid or []
    # a ruled table's rules, in pieces where the sheet bends or leans: strokes running more than 1.5
    # lines (10 px) down within five columns of pixels, or 3 lines (16 px) across within five rows
    # (a glyph's strokes are at most a line tall and about as wide)
    ink = (
        ink
        & ~_strokes(ink, max(10, int(1.5 * typical)), axis=1)
        & ~_strokes(ink, max(16, int(3 * typical)), axis=0)
    )
    H, W = ink.shape
    rows = []  # (a, b, runs of print)
    for a, b in _rows(ink, typical):
        if b - a < 0.4 * typical:
            continue  # a band of rule pieces left over where the sheet bends
        runs = _pointed(_word_runs(ink[a:b]), dark[a:b], b - a)
        runs = [
            (x0, x1)
            for x0, x1 in runs
            if ink[a:b, x0:x1].sum() >= 6
            and not _rule_piece(ink[a:b, x0:x1], typical)
            and not _hanging(ink, a, b, x0, x1, typical)
        ]
        if runs:
            rows.append((a, b, runs))
    if not rows:
        return []
    cover = np.zeros(W, np.int32)
    for _, _, runs in rows:
        for x0, x1 in runs:
            cover[x0:x1] += 1
    cols = S._runs(cover > max(1, len(rows) // 5)) or [(0, W)]
    grid = []  # per band: (a, b, cells), a cell [first column, end column, x0, y0, x1, y1]
    for a, b, runs in rows:
        cells: list[list[int]] = []
        for x0, x1 in runs:
            inside = [
                k for k, (c0, c1) in enumerate(cols) if min(x1, c1) - max(x0, c0) >= min(c1 - c0, x1 - x0) / 3
            ]
            if not inside:  # print in a gutter: the nearest column
                mid = (x0 + x1) / 2
                inside = [min(range(len(cols)), key=lambda k: abs((cols[k][0] + cols[k][1]) / 2 - mid))]
            sub = np.flatnonzero(ink[a:b, x0:x1].any(axis=1))
            cell = [inside[0], inside[-1] + 1, x0, a + int(sub[0]), x1, a + int(sub[-1]) + 1]
            # print falling in the same columns of a row is one cell
            for other in [c for c in cells if c[0] < cell[1] and cell[0] < c[1]]:
                cells.remove(other)
                cell = [min(cell[0], other[0]), max(cell[1], other[1])] + [
                    f(u, v) for f, u, v in zip((min, min, max, max), cell[2:], other[2:], strict=True)
                ]
            cells.append(cell)
        grid.append((a, b, sorted(cells)))
    out = []
    for r, (first, end, rowspan, box) in _merged(grid):
        x0, y0, x1, y1 = box
        px, py = S.margins(y1 - y0)
        out.append(
            (
                (max(0, x0 - px), max(0, y0 - py), min(W, x1 + px), min(H, y1 + py)),
                r,
                first,
                end - first,
                rowspan,
            )
        )
    return out


def _merged(
    grid: list[tuple[int, int, list[list[int]]]],
) -> list[tuple[int, tuple[int, int, int, tuple[int, ...]]]]:
    """The bands' cells on table rows, as (row, (first column, end column, rowspan, print box)):
    a band closer to the one above than 0.7 of a line, with fewer cells and each under a cell of
    it, at most half as many or closer than 0.4 of a line, is that cell's wrapped next line (its
    boxes stay apart, read one by one, and are one cell on the grid); a band whose cells sit in
    columns empty in the rows above and below, centred between them, holds cells spanning both rows
    (rowspan 2)."""
    rows: list[list] = []  # [a, b, [[first, end, rowspan, box], ...]]
    out: list[tuple[int, tuple[int, int, int, tuple[int, ...]]]] = []

    def over(cells, first: int, end: int) -> list:
        return [c for c in cells if c[0] < end and first < c[1]]

    for i, (a, b, cells) in enumerate(grid):
        prev = rows[-1] if rows else None
        if (
            prev is not None
            and (gap := (a - prev[1]) / min(b - a, prev[1] - prev[0])) < 0.7
            and len(cells) < len(prev[2])
            and (2 * len(cells) <= len(prev[2]) or gap < 0.4)
        ):
            above = [over(prev[2], c[0], c[1]) for c in cells]
            if all(len(x) == 1 for x in above):
                for c, (host,) in zip(cells, above, strict=True):
                    out.append((len(rows) - 1, (host[0], host[1], host[2], tuple(c[2:]))))
                prev[1] = b
                continue
        nxt = grid[i + 1] if i + 1 < len(grid) else None
        if (
            prev is not None
            and nxt is not None
            and (prev[0] + prev[1]) / 2 < (a + b) / 2 < (nxt[0] + nxt[1]) / 2
            and not any(over(prev[2], c[0], c[1]) or over(nxt[2], c[0], c[1]) for c in cells)
        ):
            for c in cells:
                prev[2].append([c[0], c[1], 2, tuple(c[2:])])
                out.append((len(rows) - 1, (c[0], c[1], 2, tuple(c[2:]))))
            continue
        rows.append([a, b, [[c[0], c[1], 1, tuple(c[2:])] for c in cells]])
        out += [(len(rows) - 1, (c[0], c[1], 1, tuple(c[2:]))) for c in cells]
    return sorted(out, key=lambda t: (t[0], t[1][0], t[1][3][1]))


# a page's table region is widened by this many segment heights all round before it is cut, so a
# ruled table's frame (outside its print) is in the crop: on 30 dev pages (pages-en-markdown.toml,
# seed 700411) the best TEDS-S of the page's tables 0.594 / 0.662 / 0.702 / 0.636 at 0 / 1 / 2 / 3
TABLE_MARGIN = 2.0


def _framed(image: Image.Image, box: tuple[int, int, int, int], height: float) -> bool:
    """Whether thin rules (`_rules`) run across at least 0.8 of the width of the print in `box`,
    one from `TABLE_MARGIN` segment `height`s above its top to half a height below it and one
    likewise around its bottom: the frame of a table ruled all over, by rows, or top and bottom
    (booktabs), which a receipt's rows between dashed lines of print seldom have."""
    X0, Y0, X1, Y1 = box
    pad = int(TABLE_MARGIN * height)
    x0, y0 = max(0, X0 - pad), max(0, Y0 - pad)
    gray = np.asarray(
        image.crop((x0, y0, min(image.width, X1 + pad), min(image.height, Y1 + pad))).convert("L"), np.float32
    )
    hz, _ = _rules(gray, height, S._dark(gray))
    across = hz.sum(axis=1) >= 0.8 * (X1 - X0)
    half = int(0.5 * height)
    return bool(
        across[max(0, Y0 - y0 - pad) : Y0 - y0 + half].any()
        and across[max(0, Y1 - y0 - half) : Y1 - y0 + pad].any()
    )


def _rule_pieces(mask: np.ndarray, min_len: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of each horizontal rule of a rule mask: a band of rows holding rule pixels,
    and in it each run of columns at least `min_len` long (gaps of 3 px bridged)."""
    out = []
    for a, b in S._runs(mask.any(axis=1), min_gap=2):
        out += [(a, b, x0, x1) for x0, x1 in S._runs(mask[a:b].any(axis=0), min_gap=3) if x1 - x0 >= min_len]
    return out


def _grids(image: Image.Image, height: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the page's ruled grids: rules (`_rules`, for print `height` px a
    line) joined where they cross, each set of at least 3 horizontal and 3 vertical rules, every
    rule crossing two of the other way (a frame with a rule inside each way at least). The cutter's
    rows do not find such a table: a cell spanning rows, or a rule joining two cells' print into one
    segment, leaves rows with one segment (held-out Markdown pages' ruled tables, cut in pieces)."""
    gray = np.asarray(image.convert("L"), np.float32)
    hz, vt = _rules(gray, height, S._dark(gray))
    across = _rule_pieces(hz, int(3 * height))
    down = _rule_pieces(vt.T, int(1.5 * height))  # (x0, x1, y0, y1): the columns, then the rows
    if len(across) < 3 or len(down) < 3:
        return []
    tol = 3

    def meet(h, v) -> bool:
        (hy0, hy1, hx0, hx1), (vx0, vx1, vy0, vy1) = h, v
        return vx0 <= hx1 + tol and hx0 <= vx1 + tol and hy0 <= vy1 + tol and vy0 <= hy1 + tol

    crossing = [[meet(h, v) for v in down] for h in across]
    parent = list(range(len(across) + len(down)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, row in enumerate(crossing):
        for j, hit in enumerate(row):
            if hit:
                parent[root(i)] = root(len(across) + j)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(len(across)):
        if sum(crossing[i]) >= 2:
            groups.setdefault(root(i), ([], []))[0].append(i)
    for j in range(len(down)):
        if sum(r[j] for r in crossing) >= 2:
            groups.setdefault(root(len(across) + j), ([], []))[1].append(j)
    boxes = []
    for hs, vs in groups.values():
        if len(hs) >= 3 and len(vs) >= 3:
            boxes.append(
                (
                    min(across[i][2] for i in hs),
                    min(across[i][0] for i in hs),
                    max(across[i][3] for i in hs),
                    max(across[i][1] for i in hs),
                )
            )
    return boxes


def _placed(cells: Sequence[Cell], x0: int, y0: int, block: int) -> list[Cell]:
    """`cells` of a crop whose top left is (x0, y0) on the page, as cells of the page in `block`."""
    return [
        Cell(
            (c.box[0] + x0, c.box[1] + y0, c.box[2] + x0, c.box[3] + y0),
            c.row,
            None if c.quad is None else tuple(v + (x0, y0)[i % 2] for i, v in enumerate(c.quad)),
            block,
            col=c.col,
            span=c.span,
            rowspan=c.rowspan,
        )
        for c in cells
    ]


def segment_height(segs: Sequence[S.Segment]) -> float:
    """The median height of `segs` (the print height `_grids` looks for rules by)."""
    return float(np.median([s.box[3] - s.box[1] for s in segs]))


def _gridded(segs: Sequence[S.Segment], image: Image.Image) -> list[S.Segment]:
    """`segs` with the segments of each ruled grid on the page (`_grids`) replaced by its cells
    (`table_cells`, ruled only), where the grid is cut into two cells or more."""
    if len(segs) < 2:
        return list(segs)
    out = list(segs)
    for x0, y0, x1, y1 in _grids(image, segment_height(segs)):
        inside = [
            k
            for k, s in enumerate(out)
            if not isinstance(s, Cell)
            and x0 <= (s.box[0] + s.box[2]) / 2 <= x1
            and y0 <= (s.box[1] + s.box[3]) / 2 <= y1
        ]
        if not inside:
            continue
        pad = 2
        cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
        cells = table_cells(
            image.crop((cx0, cy0, min(image.width, x1 + pad), min(image.height, y1 + pad))), True
        )
        if len(cells) < 2:
            continue
        first, drop = inside[0], set(inside)
        rest = [s for k, s in enumerate(out) if k > first and k not in drop]
        out = out[:first] + _placed(cells, cx0, cy0, out[first].block) + rest
    return out


def _spanning(rows: list[list[S.Segment]], j: int) -> bool:
    """Whether row `j`, one segment between rows of two or more, is a cell spanning the rows
    around it: short (at most 0.4 of their width), within their width and in a gap of both (its
    column empty in them, as `table_cells` finds a cell spanning rows). The cutter's rows break
    a table at such a row: a held-out Markdown page's table ruled by rows became two. A receipt's
    second line of an item stands under its name, not in a gap."""
    if len(rows[j]) != 1 or j + 1 >= len(rows) or len(rows[j + 1]) < 2 or j == 0:
        return False
    around = [s for r in (rows[j - 1], rows[j + 1]) for s in r]
    if any(isinstance(s, Cell) for s in around + rows[j]):
        return False
    x0, x1 = min(s.box[0] for s in around), max(s.box[2] for s in around)
    (b,) = [s.box for s in rows[j]]
    apart = all(s.box[2] <= b[0] or b[2] <= s.box[0] for s in around)
    return apart and b[2] - b[0] <= 0.4 * (x1 - x0) and x0 <= b[0] and b[2] <= x1


def with_tables(segs: Sequence[S.Segment], image: Image.Image, framed_only: bool = False) -> list[S.Segment]:
    """A page's segments with each table on it cut into cells instead: each ruled grid
    (`_gridded`, with `framed_only` too: a grid is framed; its cells are not looked at again),
    then a run of at least two consecutive rows that each hold two or more segments (or one
    spanning the rows around it, `_spanning`; a paragraph's word spaces are narrower than the
    cutter's segment gap, a table's column gaps wider), their median segment at most 0.4 of the
    run's width, is a table; its region is cut by `table_cells` and its cells take its
    segments' place, in the block of its first row. A table ruled all over is looked for in the
    region widened by `TABLE_MARGIN` segment heights (its frame lies outside its print); any other
    is cut in the region itself (widened, the page's lines around it joined the table: held-out
    Markdown pages md_ned 0.262 -> 0.277 with version 8 when every table was cut widened).
    `framed_only`: only a table with a rule across it above its first row and below its last
    (`_framed`) is cut; a receipt's key-value rows and item lines are tables by print alone."""
    rows: list[list[S.Segment]] = []
    for s in _gridded(segs, image):
        # a ruled grid's cells (`_gridded`) stand alone: no run of rows is made of them
        if (
            rows
            and rows[-1][0].row == s.row
            and not isinstance(s, Cell)
            and not isinstance(rows[-1][0], Cell)
        ):
            rows[-1].append(s)
        else:
            rows.append([s])
    out: list[S.Segment] = []
    k = 0
    while k < len(rows):
        j = k
        while j < len(rows) and (len(rows[j]) >= 2 or (j > k and _spanning(rows, j))):
            j += 1
        if j - k < 2:
            out += rows[k]
            k += 1
            continue
        region = [s for r in rows[k:j] for s in r]
        X0, Y0 = min(s.box[0] for s in region), min(s.box[1] for s in region)
        X1, Y1 = max(s.box[2] for s in region), max(s.box[3] for s in region)
        # a cell is short: lines of two columns the cutter did not part fill half the width each
        widths = sorted(s.box[2] - s.box[0] for s in region)
        cells = []
        height = float(np.median([s.box[3] - s.box[1] for s in region]))
        if widths[len(widths) // 2] <= 0.4 * (X1 - X0) and (
            not framed_only or _framed(image, (X0, Y0, X1, Y1), height)
        ):
            pad = int(TABLE_MARGIN * height)
            y0, y1 = max(0, Y0 - pad), min(image.height, Y1 + pad)
            x0, x1 = max(0, X0 - pad), min(image.width, X1 + pad)
            cells = table_cells(image.crop((x0, y0, x1, y1)), ruled_only=True)
            if not cells:  # not ruled all over: its print alone, without the page's text around it
                x0, y0, x1, y1 = X0, Y0, X1, Y1
                cells = table_cells(image.crop((x0, y0, x1, y1)))
        if len(cells) < 2:
            out += region
        else:
            out += _placed(cells, x0, y0, region[0].block)
        k = j
    return out


def table_html(cells: Sequence[Cell], texts: Sequence[str]) -> tuple[str, list[list[str]]]:
    """`<table>` HTML of `cells` read as `texts` (one per cell, in order; the lines of a wrapped
    cell are joined by spaces), with a `<td>` for every column of every row (empty where nothing is
    printed) except those a cell above spans, and the rows of cell texts."""
    if not cells:
        return "", []
    ncols = max(c.col + c.span for c in cells)
    nrows = max(c.row for c in cells) + 1
    grid: dict[tuple[int, int], list] = {}  # (row, col) -> [span, rowspan, texts]
    for c, t in zip(cells, texts, strict=True):
        slot = grid.setdefault((c.row, c.col), [c.span, c.rowspan, []])
        if t.split():
            slot[2].append(" ".join(t.split()))
    covered = {
        (r + dr, k + dk)
        for (r, k), (span, rowspan, _) in grid.items()
        for dr in range(rowspan)
        for dk in range(span)
        if dr or dk
    }
    # the data engine writes the HTML, so the answer follows the ground truth's convention exactly
    from hyocr.data.render.table import Cell as GridCell
    from hyocr.data.render.table import TableSpec
    from hyocr.data.render.table import table_html as spec_html

    placed, rows = [], []
    for r in range(nrows):
        row, k = [], 0
        while k < ncols:
            if (r, k) in covered:
                k += 1
                continue
            span, rowspan, words = grid.get((r, k), [1, 1, []])
            span, rowspan = min(span, ncols - k), min(rowspan, nrows - r)
            placed.append(GridCell(r, k, " ".join(words), rowspan=rowspan, colspan=span))
            row.append(placed[-1].text)
            k += span
        rows.append(row)
    return spec_html(TableSpec(nrows, ncols, placed)), rows
