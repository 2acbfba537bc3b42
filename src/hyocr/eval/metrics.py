"""Metrics and rewards: the single source of truth for evaluation (eval/) and GRPO rewards (train/).

Every function here returns a value in [0, 1] (or a dataclass of such values plus counts) and never
raises on odd input: None, numbers, NaN coordinates and broken HTML are read as "nothing there".
Degenerate cases are defined, not left to chance:
- NED("", "") = 0 (identical); CER/WER with an empty reference are 0 if the hypothesis is empty too,
  else 1. CER/WER are clipped to 1 by default (insertions can push the raw ratio above 1).
- IoU with a zero-area or non-finite box is 0 (never NaN).
- Spotting P/R with nothing predicted and nothing expected are 1; the spotting and fields rewards of
  empty vs empty are 1.
- TEDS of two inputs without any table is 1; a table on one side only gives 0.

Choices worth knowing
- Levenshtein runs on any sequence of hashable symbols (characters, words, TEDS cell tokens):
  rapidfuzz's C implementation when installed (eval extra), else Hyyrö's bit-parallel algorithm in
  pure Python (one big-int pass per symbol). TEDS asks for a distance between every pair of cells,
  so this is most of its cost besides APTED itself.
- IoU is polygon IoU (quads allowed). Intersection uses Sutherland–Hodgman clipping, exact for
  convex polygons; a non-convex or self-intersecting quad is replaced by its bounding rectangle.
- TEDS follows the PubTabNet reference (ibm-aur-nlp/PubTabNet src/metric.py): tree of
  table/thead/tbody/tr/td nodes; renaming costs 1 when tag, colspan or rowspan differ, else the
  normalised Levenshtein distance of the cells' token lists (characters plus inline tags such as
  `<b>`, `</b>`); insert/delete cost 1; score = 1 − distance / max(element count of each table),
  where the count includes inline elements inside cells, as in the reference. Departures: `<th>` is
  read as `<td>` (models emit both for the same thing; PubTabNet ground truth only has `<td>`), and
  HTML is read by our own tolerant parser (hyocr.tasks.parsers) instead of lxml.
- The spotting reward follows DESIGN.md §4 literally: predictions in the order emitted, each takes
  the still-unmatched ground-truth box of highest IoU if IoU ≥ 0.5.
- Spotting P/R/F1 match one-to-one, greedily by descending IoU: the exact variant only pairs boxes
  whose normalised texts are equal; the NED-weighted variant pairs by IoU alone and credits 1 − NED.
- The Markdown document score is in the manner of OmniDocBench, simplified: text = NED of the
  concatenated text blocks (not block-matched), tables = TEDS with greedy one-to-one matching,
  formulas = 1 − NED after LaTeX normalisation (OmniDocBench uses CDM, which needs a LaTeX renderer).
- BLEU/chrF come from sacrebleu and are divided by 100; `apted` and `sacrebleu` are imported lazily,
  so rewards that need neither import this module without them.

Example:
    >>> round(ned("kitten", "sitting"), 4)
    0.4286
    >>> teds("<table><tr><td>a</td></tr></table>", "<table><tr><td>a</td></tr></table>")
    1.0
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyocr.tasks.parsers import (
    HtmlNode,
    SpotItem,
    cell_span,
    extract_json,
    parse_html,
    parse_markdown,
    parse_spotting,
)

__all__ = [
    "TextNorm",
    "normalize_text",
    "levenshtein",
    "ned",
    "cer",
    "wer",
    "WordScores",
    "word_prf",
    "polygon_iou",
    "box_iou",
    "SpottingScores",
    "spotting_prf",
    "spotting_reward",
    "teds",
    "teds_s",
    "bleu",
    "chrf",
    "FieldScores",
    "flatten_fields",
    "field_prf",
    "fields_reward",
    "sroie_f1",
    "anls",
    "ocrbench_correct",
    "normalize_latex",
    "DocumentScore",
    "document_score",
    "parsing_reward",
    "judge_to_reward",
]

# ---------------------------------------------------------------------------------------------
# text normalisation and edit distance


@dataclass(frozen=True)
class TextNorm:
    """Optional normalisations applied to both sides before comparing texts (all off by default)."""

    nfkc: bool = False  # Unicode NFKC (full-width → ASCII, ligatures split, …)
    casefold: bool = False  # case-insensitive
    whitespace: bool = False  # collapse runs of whitespace to one space and strip
    punctuation: bool = False  # drop Unicode punctuation (categories P*)


def _as_text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return str(x)


def normalize_text(text: Any, norm: TextNorm | None = None) -> str:
    """Apply `norm` (None = no change) to `text`; non-strings are stringified, None is ''."""
    s = _as_text(text)
    if norm is None:
        return s
    if norm.nfkc:
        s = unicodedata.normalize("NFKC", s)
    if norm.casefold:
        s = s.casefold()
    if norm.punctuation:
        s = "".join(ch for ch in s if not unicodedata.category(ch).startswith("P"))
    if norm.whitespace:
        s = " ".join(s.split())
    return s


def _pattern(a: Sequence[Any]) -> dict[Any, int]:
    """Bit masks of the positions of each symbol of `a` (the 'Peq' table of Myers/Hyyrö)."""
    peq: dict[Any, int] = {}
    for i, sym in enumerate(a):
        peq[sym] = peq.get(sym, 0) | (1 << i)
    return peq


def _levenshtein_core(peq: dict[Any, int], m: int, b: Sequence[Any]) -> int:
    """Edit distance between the length-`m` sequence whose pattern is `peq` and `b` (m ≥ 1)."""
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for sym in b:
        eq = peq.get(sym, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def _levenshtein_py(a: Sequence[Any], b: Sequence[Any]) -> int:
    if len(a) < len(b):
        a, b = b, a  # the longer one is the bit pattern: fewer iterations
    if len(b) == 0:
        return len(a)
    return _levenshtein_core(_pattern(a), len(a), b)


try:  # the same distance computed in C, ~50x faster on short cells (see benchmarks/bench_teds.py)
    from rapidfuzz.distance import Levenshtein as _RFLevenshtein

    _levenshtein_fast = _RFLevenshtein.distance
except ImportError:  # pragma: no cover - rapidfuzz is in the eval extra
    _levenshtein_fast = _levenshtein_py


def levenshtein(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Edit distance (unit insert/delete/substitute) between two sequences of hashable symbols.

    rapidfuzz when installed, else Hyyrö's (2003) bit-parallel form of Myers' algorithm with Python
    ints as unbounded bit vectors; tests check both against the textbook DP.
    >>> levenshtein("kitten", "sitting"), levenshtein(["a", "b"], ["b"])
    (3, 1)
    """
    return int(_levenshtein_fast(a, b))


def _ned_seq(a: Sequence[Any], b: Sequence[Any]) -> float:
    n = max(len(a), len(b))
    return 0.0 if n == 0 else levenshtein(a, b) / n


def ned(pred: Any, gt: Any, norm: TextNorm | None = None) -> float:
    """Normalised edit distance: Levenshtein / max(len); 0 = identical (incl. both empty), 1 = disjoint."""
    return _ned_seq(normalize_text(pred, norm), normalize_text(gt, norm))


def _error_rate(pred: Sequence[Any], gt: Sequence[Any], clip: bool) -> float:
    if len(gt) == 0:
        return 0.0 if len(pred) == 0 else 1.0
    r = levenshtein(pred, gt) / len(gt)
    return min(r, 1.0) if clip else r


def cer(pred: Any, gt: Any, norm: TextNorm | None = None, clip: bool = True) -> float:
    """Character error rate: edits / reference length (clipped to 1 unless `clip=False`)."""
    return _error_rate(normalize_text(pred, norm), normalize_text(gt, norm), clip)


def wer(pred: Any, gt: Any, norm: TextNorm | None = None, clip: bool = True) -> float:
    """Word error rate over whitespace-separated words (scripts without spaces: use `cer`)."""
    return _error_rate(normalize_text(pred, norm).split(), normalize_text(gt, norm).split(), clip)


@dataclass
class WordScores:
    """Bag-of-words P/R/F1: words matched as a multiset, order ignored; counts for micro-averaging."""

    precision: float
    recall: float
    f1: float
    tp: int
    n_pred: int
    n_gt: int


def word_prf(pred: Any, gt: Any, norm: TextNorm | None = None) -> WordScores:
    """Word-level P/R/F1 of whitespace-separated words (multiset intersection).

    >>> round(word_prf("a b b c", "a b d").f1, 4)
    0.5714
    """
    from collections import Counter

    pw, gw = Counter(normalize_text(pred, norm).split()), Counter(normalize_text(gt, norm).split())
    tp = sum((pw & gw).values())
    n_pred, n_gt = sum(pw.values()), sum(gw.values())
    p, r, f = prf(tp, n_pred, n_gt)
    return WordScores(p, r, f, tp, n_pred, n_gt)


# ---------------------------------------------------------------------------------------------
# geometry

Polygon = list[tuple[float, float]]


def to_polygon(geom: Any) -> Polygon:
    """A box (x1,y1,x2,y2), a flat 8-number poly, or a list of (x, y) points → list of points.

    Anything unreadable or non-finite → [] (which has zero area).
    """
    try:
        if isinstance(geom, SpotItem):
            geom = geom.quad
        vals = list(geom)
        if vals and all(isinstance(v, list | tuple) and len(v) == 2 for v in vals):
            pts = [(float(x), float(y)) for x, y in vals]
        else:
            flat = [float(v) for v in vals]
            if len(flat) == 4:
                x1, y1, x2, y2 = flat
                x1, x2 = min(x1, x2), max(x1, x2)
                y1, y2 = min(y1, y2), max(y1, y2)
                pts = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
            elif len(flat) >= 6 and len(flat) % 2 == 0:
                pts = list(zip(flat[0::2], flat[1::2], strict=True))
            else:
                return []
        if not all(math.isfinite(c) for p in pts for c in p):
            return []
        return pts
    except (TypeError, ValueError, OverflowError):
        return []


def _signed_area(p: Polygon) -> float:
    return 0.5 * sum(p[i][0] * p[i - 1][1] - p[i - 1][0] * p[i][1] for i in range(len(p))) * -1.0


def _is_convex(p: Polygon) -> bool:
    sign = 0
    n = len(p)
    for i in range(n):
        (x0, y0), (x1, y1), (x2, y2) = p[i], p[(i + 1) % n], p[(i + 2) % n]
        cross = (x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1)
        if cross != 0:
            s = 1 if cross > 0 else -1
            if sign and s != sign:
                return False
            sign = s
    return True


def _prepare(p: Polygon) -> Polygon:
    """Counter-clockwise convex polygon (non-convex → bounding rectangle)."""
    if len(p) < 3:
        return []
    if not _is_convex(p):
        xs, ys = [q[0] for q in p], [q[1] for q in p]
        p = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
    return p if _signed_area(p) >= 0 else p[::-1]


def _clip(subject: Polygon, clipper: Polygon) -> Polygon:
    """Sutherland–Hodgman: `subject` ∩ convex counter-clockwise `clipper`."""
    out = subject
    n = len(clipper)
    for i in range(n):
        if not out:
            break
        (ax, ay), (bx, by) = clipper[i], clipper[(i + 1) % n]

        def inside(q: tuple[float, float], ax=ax, ay=ay, bx=bx, by=by) -> bool:
            return (bx - ax) * (q[1] - ay) - (by - ay) * (q[0] - ax) >= 0

        def cross_point(p: tuple[float, float], q: tuple[float, float], ax=ax, ay=ay, bx=bx, by=by):
            dx, dy = q[0] - p[0], q[1] - p[1]
            ex, ey = bx - ax, by - ay
            den = ex * dy - ey * dx
            if den == 0:
                return q
            t = (ex * (ay - p[1]) - ey * (ax - p[0])) / den
            return (p[0] + t * dx, p[1] + t * dy)

        inp, out = out, []
        for j in range(len(inp)):
            cur, prev = inp[j], inp[j - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross_point(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross_point(prev, cur))
    return out


@dataclass(frozen=True)
class _Shape:
    """A polygon prepared once for many IoUs: convex CCW points, area, bounding box, rectangle flag."""

    poly: tuple[tuple[float, float], ...]
    area: float
    bbox: tuple[float, float, float, float]
    is_rect: bool


_EMPTY_SHAPE = _Shape((), 0.0, (0.0, 0.0, 0.0, 0.0), False)


def _shape(geom: Any) -> _Shape:
    p = _prepare(to_polygon(geom))
    if not p:
        return _EMPTY_SHAPE
    area = abs(_signed_area(p))
    if not (area > 0) or not math.isfinite(area):
        return _EMPTY_SHAPE
    xs, ys = [q[0] for q in p], [q[1] for q in p]
    bbox = (min(xs), min(ys), max(xs), max(ys))
    is_rect = len(p) == 4 and abs((bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) - area) <= 1e-9 * max(area, 1.0)
    return _Shape(tuple(p), area, bbox, is_rect)


def _shape_iou(a: _Shape, b: _Shape) -> float:
    if a.area <= 0 or b.area <= 0:
        return 0.0
    ax1, ay1, ax2, ay2 = a.bbox
    bx1, by1, bx2, by2 = b.bbox
    if ax2 <= bx1 or bx2 <= ax1 or ay2 <= by1 or by2 <= ay1:
        return 0.0  # bounding boxes apart: no need to clip
    if a.is_rect and b.is_rect:
        return box_iou(a.bbox, b.bbox)
    inter_poly = _clip(list(a.poly), list(b.poly))
    inter = abs(_signed_area(inter_poly)) if len(inter_poly) >= 3 else 0.0
    union = a.area + b.area - inter
    if not (union > 0) or not math.isfinite(inter):
        return 0.0
    return min(max(inter / union, 0.0), 1.0)


def polygon_iou(a: Any, b: Any) -> float:
    """IoU of two polygons/boxes (see `to_polygon` for accepted forms); 0 for zero-area input.

    >>> polygon_iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    return _shape_iou(_shape(a), _shape(b))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two axis-aligned (x1, y1, x2, y2) boxes; 0 for zero-area or invalid boxes."""
    try:
        ax1, ay1, ax2, ay2 = (float(v) for v in a)
        bx1, by1, bx2, by2 = (float(v) for v in b)
    except (TypeError, ValueError):
        return 0.0
    area_a = max(ax2 - ax1, 0.0) * max(ay2 - ay1, 0.0)
    area_b = max(bx2 - bx1, 0.0) * max(by2 - by1, 0.0)
    iw = max(min(ax2, bx2) - max(ax1, bx1), 0.0)
    ih = max(min(ay2, by2) - max(ay1, by1), 0.0)
    inter = iw * ih
    union = area_a + area_b - inter
    if not (union > 0) or not math.isfinite(union) or not (area_a > 0 and area_b > 0):
        return 0.0
    return min(max(inter / union, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# spotting


def _as_spots(items: Any) -> list[tuple[str, _Shape]]:
    """Accept SpotItem, dicts with text + poly|box|points|quad, or (text, geometry) pairs."""
    if isinstance(items, str):
        items = parse_spotting(items).items
    out = []
    for it in items or []:
        if isinstance(it, SpotItem):
            out.append((it.text, _shape(it.quad)))
        elif isinstance(it, dict):
            geom = next((it[k] for k in ("poly", "box", "points", "quad") if k in it), [])
            out.append((_as_text(it.get("text")), _shape(geom)))
        elif isinstance(it, list | tuple) and len(it) == 2:
            out.append((_as_text(it[0]), _shape(it[1])))
    return out


@dataclass
class SpottingScores:
    """Exact (IoU ≥ t and equal text) and NED-weighted (IoU ≥ t, credit 1 − NED) P/R/F1, with counts
    so that a dataset can be micro-averaged: precision = tp / n_pred, recall = tp / n_gt."""

    precision: float
    recall: float
    f1: float
    ned_precision: float
    ned_recall: float
    ned_f1: float
    n_pred: int
    n_gt: int
    tp: int  # exact matches
    soft_tp: float  # sum of 1 − NED over IoU matches


def prf(tp: float, n_pred: int, n_gt: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts; no prediction and no ground truth → (1, 1, 1)."""
    p = tp / n_pred if n_pred else (1.0 if n_gt == 0 else 0.0)
    r = tp / n_gt if n_gt else (1.0 if n_pred == 0 else 0.0)
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return min(p, 1.0), min(r, 1.0), min(f, 1.0)


def _greedy_pairs(scores: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    used_p, used_g, pairs = set(), set(), []
    for s, i, j in sorted(scores, key=lambda t: (-t[0], t[1], t[2])):
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            pairs.append((s, i, j))
    return pairs


def spotting_prf(
    pred: Any, gt: Any, iou_threshold: float = 0.5, norm: TextNorm | None = None
) -> SpottingScores:
    """Spotting precision/recall/F1; `pred`/`gt` as SpotItems, dicts or (text, box) pairs in the
    same coordinate space (a string `pred` is parsed, its coordinates are then 0–1000)."""
    P, G = _as_spots(pred), _as_spots(gt)
    pt = [normalize_text(t, norm) for t, _ in P]
    gtx = [normalize_text(t, norm) for t, _ in G]
    ious = [(_shape_iou(pp, gp), i, j) for i, (_, pp) in enumerate(P) for j, (_, gp) in enumerate(G)]
    ious = [x for x in ious if x[0] >= iou_threshold]
    exact = _greedy_pairs([x for x in ious if pt[x[1]] == gtx[x[2]]])
    soft = _greedy_pairs(ious)
    tp = len(exact)
    soft_tp = sum(1.0 - _ned_seq(pt[i], gtx[j]) for _, i, j in soft)
    p, r, f = prf(tp, len(P), len(G))
    sp, sr, sf = prf(soft_tp, len(P), len(G))
    return SpottingScores(p, r, f, sp, sr, sf, len(P), len(G), tp, soft_tp)


def spotting_reward(pred: Any, gt: Any, iou_threshold: float = 0.5, norm: TextNorm | None = None) -> float:
    """GRPO spotting reward (DESIGN.md §4): mean over matches and unmatched boxes of both sides,
    a match scoring 1 − NED of its texts. Empty vs empty = 1.

    >>> spotting_reward([("ab", (0, 0, 10, 10))], [("ab", (0, 0, 10, 10)), ("c", (20, 0, 30, 10))])
    0.5
    """
    P, G = _as_spots(pred), _as_spots(gt)
    if not P and not G:
        return 1.0
    free = set(range(len(G)))
    total, n_matched = 0.0, 0
    for ptxt, ppoly in P:
        best, best_j = -1.0, -1
        for j in free:
            iou = _shape_iou(ppoly, G[j][1])
            if iou > best:
                best, best_j = iou, j
        if best_j >= 0 and best >= iou_threshold:
            free.discard(best_j)
            n_matched += 1
            total += 1.0 - ned(ptxt, G[best_j][0], norm)
    denom = n_matched + (len(P) - n_matched) + len(free)
    return min(max(total / denom, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# TEDS


class _TNode:
    """A node as APTED wants it: `children` plus the attributes the rename cost compares."""

    __slots__ = ("tag", "colspan", "rowspan", "content", "children", "index")

    def __init__(self, tag: str, colspan: int = 0, rowspan: int = 0, content: tuple = ()) -> None:
        self.tag, self.colspan, self.rowspan, self.content = tag, colspan, rowspan, content
        self.children: list[_TNode] = []
        self.index = 0  # position in its tree, to index the rename-cost cache


def _cell_tokens(node: HtmlNode) -> list[str]:
    """A cell's content as the reference tokenises it: characters, with inline tags as tokens."""
    toks = list(node.text)
    for ch in node.children:
        toks.append(f"<{ch.tag}>")
        toks.extend(_cell_tokens(ch))
        toks.append(f"</{ch.tag}>")
        toks.extend(ch.tail)
    return toks


def _table_tree(table: HtmlNode, structure_only: bool) -> _TNode:
    def build(n: HtmlNode) -> _TNode:
        if n.tag in ("td", "th"):
            rs, cs = cell_span(n)
            content = () if structure_only else tuple(_cell_tokens(n))
            return _TNode("td", cs, rs, content)
        node = _TNode(n.tag)
        node.children = [build(c) for c in n.children]
        return node

    root = build(table)
    stack, k = [root], 0
    while stack:
        n = stack.pop()
        n.index, k = k, k + 1
        stack.extend(n.children)
    return root


def _signature(n: _TNode) -> tuple:
    return (n.tag, n.colspan, n.rowspan, n.content, tuple(_signature(c) for c in n.children))


def _rename_cost(a: _TNode, b: _TNode) -> float:
    if a.tag != b.tag or a.colspan != b.colspan or a.rowspan != b.rowspan:
        return 1.0
    if a.tag != "td" or a.content == b.content:
        return 0.0
    return levenshtein(a.content, b.content) / max(len(a.content), len(b.content))


def _first_table(html: Any) -> HtmlNode | None:
    root, _ = parse_html(_as_text(html))
    for n in root.iter():
        if n.tag == "table":
            return n
    return None


def teds(pred_html: Any, gt_html: Any, structure_only: bool = False) -> float:
    """Tree-edit-distance similarity of the first `<table>` of each input (PubTabNet's TEDS)."""
    from apted import APTED, Config

    tp, tg = _first_table(pred_html), _first_table(gt_html)
    if tp is None or tg is None:
        return 1.0 if tp is None and tg is None else 0.0
    n_nodes = max(sum(1 for _ in tp.iter()) - 1, sum(1 for _ in tg.iter()) - 1)
    if n_nodes == 0:
        return 1.0
    t1, t2 = _table_tree(tp, structure_only), _table_tree(tg, structure_only)
    if _signature(t1) == _signature(t2):
        return 1.0  # identical trees: skip the tree edit distance
    n2 = sum(1 for _ in tg.iter())
    cache: list[list[float | None]] = [[None] * n2 for _ in range(sum(1 for _ in tp.iter()))]

    class _Cost(Config):
        # APTED asks for the same pair many times: memoise by (index in tree 1, index in tree 2)
        def rename(self, a: _TNode, b: _TNode) -> float:
            row = cache[a.index]
            v = row[b.index]
            if v is None:
                v = row[b.index] = _rename_cost(a, b)
            return v

        def children(self, node: _TNode) -> list[_TNode]:
            return node.children

    dist = APTED(t1, t2, _Cost()).compute_edit_distance()
    return min(max(1.0 - float(dist) / n_nodes, 0.0), 1.0)


def teds_s(pred_html: Any, gt_html: Any) -> float:
    """TEDS on structure only (cell contents ignored)."""
    return teds(pred_html, gt_html, structure_only=True)


# ---------------------------------------------------------------------------------------------
# translation


def _as_list(x: Any) -> list[str]:
    if isinstance(x, list | tuple):
        return [_as_text(v) for v in x]
    return [_as_text(x)]


def bleu(hyps: Any, refs: Any, tokenize: str = "13a") -> float:
    """Corpus BLEU of sacrebleu, in [0, 1]. `hyps`, `refs`: a string each or equal-length lists
    (one reference per hypothesis). Use tokenize="zh" for Chinese, "char" for other unspaced scripts."""
    import sacrebleu

    h, r = _as_list(hyps), _as_list(refs)
    if len(h) != len(r):
        n = min(len(h), len(r))
        h, r = h[:n], r[:n]
    if not any(s.strip() for s in h + r):
        return 1.0
    try:
        return min(max(sacrebleu.corpus_bleu(h, [r], tokenize=tokenize).score / 100.0, 0.0), 1.0)
    except Exception:
        return 0.0


def chrf(hyps: Any, refs: Any, word_order: int = 0) -> float:
    """Corpus chrF (chrF++ with word_order=2) of sacrebleu, in [0, 1]."""
    import sacrebleu

    h, r = _as_list(hyps), _as_list(refs)
    if len(h) != len(r):
        n = min(len(h), len(r))
        h, r = h[:n], r[:n]
    if not any(s.strip() for s in h + r):
        return 1.0
    try:
        return min(max(sacrebleu.corpus_chrf(h, [r], word_order=word_order).score / 100.0, 0.0), 1.0)
    except Exception:
        return 0.0


# ---------------------------------------------------------------------------------------------
# information extraction

FIELD_NORM = TextNorm(nfkc=True, whitespace=True)  # exact-match comparisons of field values
REWARD_NORM = TextNorm(nfkc=True, casefold=True, whitespace=True)  # the fields reward (§4)


def flatten_fields(obj: Any, prefix: str = "") -> dict[str, str]:
    """Nested JSON → flat {path: string value}: {"a": {"b": 1}, "c": [2]} → {"a.b": "1", "c[0]": "2"}.

    A string is parsed as JSON first (unparseable → {}); scalars become strings, None becomes ''.
    """
    if isinstance(obj, str) and not prefix:
        obj = extract_json(obj).value
    out: dict[str, str] = {}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list | tuple):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif path:
            out[path] = "" if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))

    if isinstance(obj, dict | list):
        walk(obj, prefix)
    return out


@dataclass
class FieldScores:
    precision: float
    recall: float
    f1: float
    tp: int
    n_pred: int  # non-empty predicted fields
    n_gt: int  # non-empty ground-truth fields
    wrong: list[str] = field(default_factory=list)  # keys predicted or expected but not matched


def field_prf(pred: Any, gt: Any, norm: TextNorm | None = FIELD_NORM) -> FieldScores:
    """Field-level P/R/F1 over flattened (key, value) pairs, exact match after `norm` (CORD style).

    Empty values count on neither side. `pred` may be model text (JSON is extracted).
    """
    fp = {k: normalize_text(v, norm) for k, v in flatten_fields(pred).items()}
    fg = {k: normalize_text(v, norm) for k, v in flatten_fields(gt).items()}
    fp = {k: v for k, v in fp.items() if v}
    fg = {k: v for k, v in fg.items() if v}
    tp = sum(1 for k, v in fp.items() if fg.get(k) == v)
    wrong = sorted(k for k in set(fp) | set(fg) if fp.get(k) != fg.get(k))
    p, r, f = prf(tp, len(fp), len(fg))
    return FieldScores(p, r, f, tp, len(fp), len(fg), wrong)


def sroie_f1(
    preds: Iterable[Any], gts: Iterable[Any], keys: Sequence[str] = ("company", "date", "address", "total")
) -> FieldScores:
    """SROIE task-3 style micro P/R/F1 over `keys` across documents: exact string match after
    whitespace collapsing (case kept)."""
    tp = n_pred = n_gt = 0
    norm = TextNorm(whitespace=True)
    for p, g in zip(preds, gts, strict=False):
        fp, fg = flatten_fields(p), flatten_fields(g)
        for k in keys:
            pv, gv = normalize_text(fp.get(k, ""), norm), normalize_text(fg.get(k, ""), norm)
            n_pred += bool(pv)
            n_gt += bool(gv)
            tp += bool(pv) and pv == gv
    pr, rc, f = prf(tp, n_pred, n_gt)
    return FieldScores(pr, rc, f, tp, n_pred, n_gt)


def fields_reward(pred: Any, gt: Any, norm: TextNorm | None = REWARD_NORM) -> float:
    """GRPO fields reward (DESIGN.md §4): mean over the union of top-level keys of 1 − NED of the
    normalised values; `pred` may be model text, and unparseable JSON counts as {}.

    >>> fields_reward('{"a": "x", "b": "yz"}', {"a": "x", "b": "y"})
    0.75
    """
    if isinstance(pred, str):
        pred = extract_json(pred).value
    if not isinstance(pred, dict):
        pred = {}
    if isinstance(gt, str):
        gt = extract_json(gt).value
    if not isinstance(gt, dict):
        gt = {}

    def value(d: dict, k: Any) -> str:
        v = d.get(k)
        if v is None or isinstance(v, str):
            return normalize_text(v, norm)
        return normalize_text(json.dumps(v, ensure_ascii=False, sort_keys=True), norm)

    pk = {str(k): k for k in pred}
    gk = {str(k): k for k in gt}
    keys = set(pk) | set(gk)
    if not keys:
        return 1.0
    total = 0.0
    for k in keys:
        pv = value(pred, pk[k]) if k in pk else ""
        gv = value(gt, gk[k]) if k in gk else ""
        total += 1.0 - _ned_seq(pv, gv)
    return min(max(total / len(keys), 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# VQA


def _anls_norm(s: Any) -> str:
    return " ".join(_as_text(s).strip().lower().split())


def anls(pred: Any, answers: Any, threshold: float = 0.5) -> float:
    """ANLS of one answer (DocVQA): max over references of 1 − NED if NED < threshold, else 0;
    texts lower-cased with whitespace collapsed."""
    refs = _as_list(answers)
    p = _anls_norm(pred)
    best = 0.0
    for a in refs:
        d = _ned_seq(p, _anls_norm(a))
        if d < threshold:
            best = max(best, 1.0 - d)
    return best


def ocrbench_correct(pred: Any, answers: Any) -> float:
    """OCRBench rule: 1 when some lower-cased, stripped answer is a substring of the lower-cased
    prediction, else 0 (an empty answer never counts)."""
    p = _as_text(pred).lower()
    return float(any(a.strip().lower() and a.strip().lower() in p for a in _as_list(answers)))


# ---------------------------------------------------------------------------------------------
# documents (OmniDocBench manner)

_LATEX_SPACING_RE = re.compile(r"\\(?:,|;|:|!|quad|qquad|enspace|thinspace|medspace|thickspace)(?![a-zA-Z])")
_LATEX_STYLE_RE = re.compile(
    r"\\(?:displaystyle|textstyle|scriptstyle|left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"
)


def normalize_latex(s: Any) -> str:
    """Normalise LaTeX for comparison: drop $/\\[ \\] delimiters, spacing commands, \\left/\\right and
    \\displaystyle-like switches, a trailing '.' or ',', unify \\dfrac/\\tfrac → \\frac, remove
    all whitespace."""
    t = _as_text(s).strip()
    for a, b in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if t.startswith(a) and t.endswith(b) and len(t) >= len(a) + len(b):
            t = t[len(a) : len(t) - len(b)]
            break
    t = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", t)
    t = _LATEX_SPACING_RE.sub("", t)
    t = _LATEX_STYLE_RE.sub("", t)
    t = re.sub(r"\\(?:label|tag)\{[^{}]*\}", "", t)
    t = re.sub(r"\s+", "", t)
    return t.rstrip(".,")


@dataclass
class DocumentScore:
    """Per-category similarities in [0, 1] (None when neither side has that category) and their mean."""

    text_ned: float
    table_teds: float | None
    formula_score: float | None
    overall: float
    n_tables: tuple[int, int] = (0, 0)  # (pred, gt)
    n_formulas: tuple[int, int] = (0, 0)


def _matched_mean(pred: list[Any], gt: list[Any], sim) -> float | None:
    if not pred and not gt:
        return None
    scores = [(sim(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gt)]
    pairs = _greedy_pairs([s for s in scores if s[0] > 0])
    return sum(s for s, _, _ in pairs) / max(len(pred), len(gt))


def document_score(pred_md: Any, gt_md: Any) -> DocumentScore:
    """Markdown document score: text blocks by NED, tables by TEDS, display formulas by 1 − NED of
    normalised LaTeX; `overall` is the mean of (1 − text NED) and the categories present."""
    P, G = parse_markdown(_as_text(pred_md)), parse_markdown(_as_text(gt_md))
    text_kinds = ("heading", "paragraph", "list", "code")
    ptext = "\n".join(b.text for b in P.of_kind(*text_kinds))
    gtext = "\n".join(b.text for b in G.of_kind(*text_kinds))
    text_ned = _ned_seq(ptext, gtext)
    pt, gt_ = [b.html for b in P.of_kind("table")], [b.html for b in G.of_kind("table")]
    table = _matched_mean(pt, gt_, teds)
    pf = [normalize_latex(b.text) for b in P.of_kind("formula")]
    gf = [normalize_latex(b.text) for b in G.of_kind("formula")]
    formula = _matched_mean(pf, gf, lambda a, b: 1.0 - _ned_seq(a, b))
    parts = [1.0 - text_ned] + [x for x in (table, formula) if x is not None]
    return DocumentScore(
        text_ned, table, formula, sum(parts) / len(parts), (len(pt), len(gt_)), (len(pf), len(gf))
    )


# ---------------------------------------------------------------------------------------------
# other rewards


def parsing_reward(pred: Any, gt: Any) -> float:
    """GRPO parsing reward (DESIGN.md §4): 1 − NED against the reference."""
    return 1.0 - ned(pred, gt)


def judge_to_reward(score: Any) -> float:
    """Map a 0–5 translation judge score to [0, 1] piecewise linearly (DESIGN.md §4):
    [0,2]→[0,0.2], [2,4]→[0.2,0.8], [4,5]→[0.8,1]; unreadable → 0."""
    try:
        s = float(score)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(s):
        return 0.0
    s = min(max(s, 0.0), 5.0)
    if s <= 2:
        return 0.1 * s
    if s <= 4:
        return 0.2 + 0.3 * (s - 2)
    return 0.8 + 0.2 * (s - 4)
