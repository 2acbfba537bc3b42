"""Flattening a warped page before it is cut into lines.

The cutter (`tasks.segment`) finds lines by the ink profile of rows, after turning the whole page by
one angle. A photographed page is not turned by one angle: perspective tilts its lines by angles
that change down the page, a curled or folded sheet bends them. There the rows of one line lie on
several profile rows at once and neighbouring lines join. On the 40 dev Markdown pages (seed
700601), the pages bent this way read at md_ned 0.4-0.8, against under 0.1 for the flat ones:
lines merged, a slanted gutter joined two columns' lines. Flattening took the 40 from 0.189 to 0.107.

What this module does instead:
- It follows the page's text lines across narrow vertical strips (each strip's row profile parts
  its lines; a line's middle in one strip is linked to the nearest one in the next).
- It fits one smooth vertical displacement to all of them: a line observed at (x, y) lies at its own
  level t plus d(x, y), where d is a polynomial in x and y with every term carrying x (a term in y
  alone is the lines' own levels). d holds a turn of the page (x), perspective (x*y) and curl or
  bending (x^2, x^3 and the mixed terms).
- It fits the print's left and right edges to the lines' ends. A turn of the page slants them by
  as much as it tilts the lines; perspective slants them more, or less. A ragged right edge is
  taken parallel to the left (a shear). A left edge with more than `FAR_OUT` of the lines starting
  well left of it is not the print's: on a receipt the lines long enough to be followed can be the
  centred header and footer alone, while the flush-left rows are short amounts.
- When the fitted lines bend against each other by more than `BEND` of a line's height, or the left
  edge slants beyond the lines' turn by more than `SLANT`, the page is resampled flat: every flat
  pixel (x, t) takes the page's (x', y) with y = t + d(x', y). With a slanted edge, x' is x moved so
  that each flat row runs between the edges where they cross that row (columns' gutters upright).
- The cutter then cuts the flat page as usual, and each segment's corners are taken back onto the
  page (`Flattening.on_page`), so boxes and polygons are the original image's.

A line's letters keep the small shear the page gave them (an italic the reader knows). A page
whose lines one turn levels, edges included, is left alone, and the cutter turns it as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from hyocr.data.degrade import warp_image
from hyocr.tasks.segment import Segment, _bounds, _ink, _runs, _typical_height

__all__ = ["BEND", "FAR_OUT", "SLANT", "Flattening", "flattening"]

# the monomials x^a * y^b of the displacement (x, y scaled to -1..1 about the page's centre)
_TERMS = ((1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (1, 2))
# how far (in line heights) the page's lines must bend or tilt against each other before the page
# is flattened: the median line's rise along its length beyond the page's one turn
BEND = 0.35
# and how far its print's edges must slant (in line heights, top to bottom of its lines) beyond
# the one turn of the page that levels its lines: perspective
SLANT = 0.6
# a left edge with more than this share of the lines starting left of it (by over 1.5 lines) is
# not the print's edge: a receipt's centred header and footer lines, the only ones followed across
# the page, had been taken for a slanted edge while its short flush-left rows began further out
FAR_OUT = 0.2


@dataclass(frozen=True)
class Flattening:
    """A fitted vertical displacement of a `width` x `height` page (`coef`: one per `_TERMS`, in
    pixels), its typical line height, and perhaps the print's edges (`edges`)."""

    width: int
    height: int
    coef: tuple[float, ...]
    typical: float
    # the print's left and right edges on the page as x = a + b * t over the flat page's rows t,
    # or None: each flat row's stretch between them is taken from the page's (see `backward`)
    edges: tuple[tuple[float, float], tuple[float, float]] | None = None

    def displacement(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d(x, y) in pixels at page points (x, y)."""
        u = (np.asarray(x, np.float64) - self.width / 2) / (self.width / 2)
        v = (np.asarray(y, np.float64) - self.height / 2) / (self.height / 2)
        return sum(c * u**a * v**b for c, (a, b) in zip(self.coef, _TERMS, strict=True))

    def source_y(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The page row y where the line of level t crosses column x: y = t + d(x, y), by
        fixed-point iteration (d changes slowly with y, so a few steps settle it well under a
        pixel)."""
        t = np.asarray(t, np.float64)
        y = t + self.displacement(x, t)
        for _ in range(4):
            y = t + self.displacement(x, y)
        return y

    def backward(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The page point (x, y) of the flat page's point (x, t). With `edges`, a flat row's print
        lies between where the edges cross the page's middle row, and is taken from between where
        they cross its own (perspective narrows a page's far end and slants its columns' gutters)."""
        x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
        if self.edges is not None:
            (la, lb), (ra, rb) = self.edges
            mid = self.height / 2
            l0, r0 = la + lb * mid, ra + rb * mid
            lt, rt = la + lb * t, ra + rb * t
            x = lt + (x - l0) * (rt - lt) / (r0 - l0)
        return x, self.source_y(x, t)

    def image(self, image: Image.Image) -> Image.Image:
        """The page resampled flat (same size; what falls outside the page is paper), by the data
        engine's mesh warp (`data.degrade.warp_image`, which samples each 16-pixel square of the
        flat page from where `backward` puts its corners on the page)."""
        rgb = image.convert("RGB")
        paper = tuple(int(v) for v in np.percentile(np.asarray(rgb).reshape(-1, 3), 90, axis=0))
        return warp_image(rgb, self, paper)

    def on_page(self, seg: Segment) -> Segment:
        """A segment of the flat page with its corners taken back onto the page (a quad; its box
        bounds them). The segment's own class and fields are kept (a table cell stays a cell)."""
        pts = seg.page_corners()
        xs, ys = self.backward(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
        quad = tuple(round(float(v), 1) for pt in zip(xs, ys, strict=True) for v in pt)
        return replace(seg, box=_bounds(quad, self.width, self.height), quad=quad)

    def box_on_page(self, box) -> tuple[int, int, int, int]:
        """A box of the flat page bounded on the page (its four corners taken back)."""
        return self.on_page(Segment(tuple(box), 0)).box


def _line_middles(ink: np.ndarray, typical: float, step: int) -> list[tuple[float, list[float]]]:
    """For each strip `step` pixels wide: its middle x and the middles of the lines it parts (the
    ink-weighted middle of each run of rows with ink in at least 5% of the strip's columns, of a
    line's height give or take: runs under 0.4 or over 1.6 typical heights are not one line)."""
    h, w = ink.shape
    out = []
    rows = np.arange(h, dtype=np.float64)
    for x0 in range(0, w - step + 1, step):
        prof = ink[:, x0 : x0 + step].sum(axis=1).astype(np.float64)
        middles = []
        for a, b in _runs(prof >= max(1.0, 0.05 * step)):
            if 0.4 * typical <= b - a <= 1.6 * typical:
                p = prof[a:b]
                middles.append(float((rows[a:b] * p).sum() / p.sum()))
        out.append((x0 + step / 2, middles))
    return out


def _tracks(strips: list[tuple[float, list[float]]], typical: float) -> list[list[tuple[float, float]]]:
    """The strips' line middles linked into lines, left to right: a middle continues the line whose
    course (its last point and slope) passes nearest to it, within 0.4 of a line's height, when
    that line was seen at most three strips before; otherwise it starts a line."""
    done: list[list[tuple[float, float]]] = []
    active: list[tuple[list[tuple[float, float]], float, int]] = []  # (points, slope, last strip)
    for k, (x, middles) in enumerate(strips):
        free = list(range(len(active)))
        nxt = []
        for y in middles:
            best, bi = 0.4 * typical, -1
            for i in free:
                pts, slope, _ = active[i]
                lx, ly = pts[-1]
                miss = abs(ly + slope * (x - lx) - y)
                if miss < best:
                    best, bi = miss, i
            if bi < 0:
                nxt.append(([(x, y)], 0.0, k))
                continue
            free.remove(bi)
            pts, slope, _ = active[bi]
            lx, ly = pts[-1]
            pts.append((x, y))
            nxt.append((pts, 0.5 * slope + 0.5 * (y - ly) / (x - lx), k))
        for i in free:
            if k - active[i][2] < 3:
                nxt.append(active[i])
            else:
                done.append(active[i][0])
        active = nxt
    done += [a[0] for a in active]
    return [t for t in done if len(t) >= 4]


def flattening(image: Image.Image, ink: np.ndarray | None = None) -> Flattening | None:
    """The displacement that levels `image`'s lines (and, where perspective slants the print's
    edges, stands them upright), when the lines bend against each other by more than `BEND` of a
    line or the left edge slants beyond their turn by more than `SLANT` (see the module); None for
    a page that one turn levels, or with too few lines to tell (under 6 lines followed across 4
    strips or more).

    Example:
        >>> from PIL import Image, ImageDraw
        >>> im = Image.new("L", (400, 300), 255)
        >>> for y in range(20, 280, 24):
        ...     ImageDraw.Draw(im).text((20, y), "level lines of print " * 3, fill=0, font_size=14)
        >>> flattening(im) is None
        True
    """
    gray = np.asarray(image.convert("L"), np.float32)
    if min(gray.shape) < 64:
        return None
    ink = _ink(gray) if ink is None else ink
    try:
        return _fitted(ink)
    except np.linalg.LinAlgError:  # a degenerate fit (lines all in one spot): cut the page as it is
        return None


def _fitted(ink: np.ndarray) -> Flattening | None:
    """`flattening` from the page's ink."""
    h, w = ink.shape
    typical = _typical_height(ink)
    if not typical or typical < 4:
        return None
    step = max(8, round(2 * typical))
    tracks = _tracks(_line_middles(ink, typical, step), typical)
    if len(tracks) < 6:
        return None
    pts = np.array([(i, x, y) for i, t in enumerate(tracks) for x, y in t], np.float64)
    line, ys = pts[:, 0].astype(int), pts[:, 2]
    terms = np.stack(
        [((pts[:, 1] - w / 2) / (w / 2)) ** a * ((ys - h / 2) / (h / 2)) ** b for a, b in _TERMS], 1
    )
    keep = np.ones(len(pts), bool)
    for _ in range(2):  # fit, drop the points a line's height/4 off the fit, fit again
        # the least squares of a level per line beside the terms, solved small: each line's means
        # taken off its points, the terms fitted, and each level the mean of y - d over its line
        coef = np.linalg.lstsq(
            _centred(terms, line, keep), _centred(ys[:, None], line, keep)[:, 0], rcond=None
        )[0]
        rest = ys - terms @ coef
        levels = np.bincount(line[keep], rest[keep], len(tracks)) / np.bincount(
            line[keep], None, len(tracks)
        ).clip(1)
        keep = np.abs(rest - levels[line]) <= max(1.0, typical / 4)
    alive = np.bincount(line[keep], None, len(tracks)) >= 2
    tracks, levels = [t for t, a in zip(tracks, alive, strict=True) if a], levels[alive]
    if len(tracks) < 6:
        return None
    flat = Flattening(w, h, tuple(float(c) for c in coef), typical)
    # each line's rise along its own length, beyond the one turn that best levels them all
    rises = []
    for t in tracks:
        xs = np.array([x for x, _ in t])
        d = flat.displacement(xs, np.array([y for _, y in t]))
        rises.append(((d[-1] - d[0]) / max(1.0, xs[-1] - xs[0]), xs, d))
    turn = float(np.median([r for r, _, _ in rises]))
    bend = float(np.median([np.ptp(d - turn * xs) for _, xs, d in rises]))
    edges = _edges(flat, ink, tracks, levels, step)
    # a turn moves the print's edges by -turn per row (the lines rise by turn per column); what
    # perspective adds, the page's one turn does not level (the left edge: most print is set
    # flush left, while a right edge is often ragged)
    slant = 0.0 if edges is None else float(np.ptp(levels)) * abs(edges[0][1] + turn)
    if bend <= BEND * typical and slant <= SLANT * typical:
        return None
    # the edges are straightened only where they slant: a bent page's own edges were fitted less
    # surely (a dev page bent by a few pixels had its columns' gutter closed by a shear of 1.4 lines)
    return replace(flat, edges=edges if slant > SLANT * typical else None)


def _outer_line(ts: np.ndarray, xs: np.ndarray, typical: float) -> tuple[float, float, float] | None:
    """The line x = a + b * t along which the smallest of `xs` gather (a column's line starts):
    of the slopes -0.12..0.12, the one whose leftmost cluster (ends within 1.5 lines across, at
    least a fifth of them) is fullest, then fitted to the ends within 0.75 of a line of it three
    times over (ends left of it are not print's, a coloured ground's blots; ends right of it are
    indents, centred or short lines and other columns). (a, b, share of ends on it), or None when
    under 6 ends lie on it or they cover under half the lines' height."""
    if np.ptp(ts) < 2 * typical:  # ends at one height say nothing of a slant
        return None
    slopes = np.arange(-0.12, 0.1201, 0.004)
    need = max(6, len(xs) // 5)
    best = None
    for b in slopes:
        a = np.sort(xs - b * ts)
        full = np.searchsorted(a, a + 1.5 * typical, side="right") - np.arange(len(a))
        first = np.flatnonzero(full >= need)
        if len(first) and (best is None or full[first[0]] > best[0]):
            best = (full[first[0]], float(a[first[0]] + 0.75 * typical), float(b))
    if best is None:
        return None
    _, a, b = best
    for _ in range(3):
        keep = np.abs(xs - (a + b * ts)) <= 0.75 * typical
        if keep.sum() < 6 or np.ptp(ts[keep]) < 0.5 * np.ptp(ts):
            return None
        b, a = np.polyfit(ts[keep], xs[keep], 1)
    return float(a), float(b), float(keep.mean())


def _centred(a: np.ndarray, line: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The kept rows of `a` (points, k) less the mean of their line's kept rows."""
    a, line = a[keep], line[keep]
    n = np.bincount(line).clip(1)
    means = np.stack([np.bincount(line, a[:, k], len(n)) for k in range(a.shape[1])], 1) / n[:, None]
    return a - means[line]


def _edges(
    flat: Flattening, ink: np.ndarray, tracks: list, levels: np.ndarray, step: int
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The print's left and right edges (x = a + b * t over line levels t): each followed line's
    first and last ink (looked for along the line's fitted course, within a strip of its first and
    last middles), each edge fitted to the ends near it. A right edge that under 40% of the ends
    lie on, or none lines up with at all, is taken parallel to the left. None when either side has
    under 6 ends; when no left edge is fitted, under 30% of the left ends lie on it, over
    `FAR_OUT` of them start 1.5 lines left of it, or it leaves the page between the first line and
    the last; or when the edges are under 10 lines apart."""
    h, w = ink.shape
    typical = flat.typical
    offsets = np.linspace(-0.3, 0.3, 5) * typical
    # every followed line's two ends: from a strip beyond the end's middle to half a strip back
    # within the line, its course there found for all ends in one call
    ends = [
        (level, x, side)
        for t, level in zip(tracks, levels, strict=True)
        for x, side in ((t[0][0], -1), (t[-1][0], 1))
    ]
    spans = [
        np.arange(
            max(0, int(min(x - s * step / 2, x + s * step))), min(w, int(max(x - s * step / 2, x + s * step)))
        )
        for _, x, s in ends
    ]
    course = flat.source_y(
        np.concatenate(spans),
        np.concatenate([np.full(len(xs), e[0]) for xs, e in zip(spans, ends, strict=True)]),
    )
    lefts, rights = [], []
    at = 0
    for (level, _, side), xs in zip(ends, spans, strict=True):
        ys = np.rint(course[at : at + len(xs)][None, :] + offsets[:, None]).astype(int)
        at += len(xs)
        hit = np.flatnonzero(ink[ys.clip(0, h - 1), xs[None, :]].any(axis=0))
        if len(hit):
            (lefts if side < 0 else rights).append((level, float(xs[hit[0]] if side < 0 else xs[hit[-1]])))
    if len(lefts) < 6 or len(rights) < 6:
        return None
    ts, xs = np.array(lefts).T
    fit = _outer_line(ts, xs, typical)
    if fit is None:
        return None
    la, lb, held_left = fit
    if held_left < 0.3 or np.mean(xs < la + lb * ts - 1.5 * typical) > FAR_OUT:
        return None
    if min(la + lb * levels.min(), la + lb * levels.max()) < 0:
        return None  # an edge that leaves the page over the lines' height is no edge of its print
    ts, xs = np.array(rights).T
    fit = _outer_line(ts, -xs, typical)
    if fit is None:
        # no right edge lines up at all: it is taken parallel to the left (a shear, the page's
        # width kept) through the lines' far ends, as a ragged one is below
        ra, rb = float(np.percentile(xs - lb * ts, 90)), lb
    else:
        ra, rb = -fit[0], -fit[1]
        if fit[2] < 0.4:
            # a ragged right edge (most lines end short of it) says little of its slant: the right
            # edge is taken parallel to the left (a shear, the page's width kept)
            ra, rb = ra + (rb - lb) * flat.height / 2, lb
    mid = flat.height / 2
    if (ra + rb * mid) - (la + lb * mid) < 10 * typical:
        return None
    return (la, lb), (ra, rb)
