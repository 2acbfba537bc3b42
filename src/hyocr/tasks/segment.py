"""Printed text segments found by ink projection, for models that read one line at a time.

The release reads a whole page in one pass. A model trained only on line crops (the shipped
`hyocr-tiny`, whose config says `"reads": "lines"`) cannot: its pixel budget shrinks a page until
nothing is legible, and it was never taught to move from line to line. For such a model the `text`,
`spotting`, `fields` and `key` tasks first cut the page into printed segments here and read each
crop at its own size (`hyocr.api.OCR`, `hyocr run --segment`); fields and keys are then picked from
the read rows by layout rules (`hyocr.tasks.fields`). The `table` task cuts a table into cells
instead and lays their answers out as HTML (`hyocr.tasks.tables`); `document` lays the blocks out
as Markdown (`hyocr.tasks.layout`).

Non-obvious choices:
- Ink is what is clearly darker than the local paper (a max filter over a downscaled copy), so a
  shaded or unevenly lit scan does not turn its dark half into one block. A dark band across the
  page (white print on a black bar: "SIMPLIFIED TAX INVOICE", a table's shaded header) would be all
  ink, then removed as rules or a solid blob: in a band (rows of long runs darker than the page's
  paper, 8 px to a twelfth of the page tall, 60% dark, with paper above and below it; `_banded`)
  the print is the lesser of its light and dark pixels, and a crop whose print is lighter than its
  ground is read inverted (`upright_print`). Four realdev receipts print such a band ("SIMPLIFIED
  TAX INVOICE"): its segment was found before too, as a blot of ink, read as nothing; it is now
  read, still badly ("SINIPLIDIDID TAX INVOIOICE" with version 9). Detection F1 0.815 -> 0.814.
- A skewed page (a receipt photographed or scanned at an angle) is levelled first: the turn of
  -5..5 degrees that makes the row profile of its ink sharpest (`_skew`); the page is cut level and
  each segment is a turned rectangle of the page (`Segment.quad`), cut out upright by
  `Segment.crop`. Rows of a receipt tilted by 2 degrees otherwise run into each other (the example
  receipt: "Sub Total", "SST 6%" and their amounts were one segment); realdev detection F1 0.756 ->
  0.784 with it.
- A page is first cut into blocks (XY-cut, `_blocks`): at rows blank across a block and at
  columns blank down a tall block with wide text on both sides, so the columns of a document are
  read one after the other, while a receipt's narrow column of amounts stays on its items' rows.
  A title, a running header or a page number over the gutter is cut out as a stretch of its own
  first (`_spanning_cuts`), so the columns under it are still cut apart: before that, a page
  whose title crossed the gutter was cut at every blank row across it and read its columns in
  stripes (held-out pages text NED 0.179 -> 0.094 with version 6).
  The typical line height is measured in vertical strips, inside columns.
- Lines are bands of rows with ink (horizontal projection) in a block. A band much taller than the
  typical line is split again at its faintest rows, since touching lines on a tight receipt merge
  into one band; each part must be at least 0.7 of a typical line (at 0.35 a big title split at
  its ascenders: detection F1 on realdev 0.728 -> 0.754 with 0.7, 0.750 at 0.6 and 0.8; held-out
  synthetic receipts 0.784 -> 0.806, 0.813 at 0.8).
- A curled receipt tilts its lines by different angles, so the page's one turn can leave a block
  of tight lines touching. A segment whose print is more than 1.3 typical lines tall is cut again
  on its own upright crop, levelled by its own turn (`_lines_within`); slivers of neighbouring
  lines at its edges are left out. With version 7: held-out synthetic receipts text NED 0.146 ->
  0.130 (0.134 at 1.7, 0.130 at 1.15), held-out pages 0.0844 -> 0.0839; realdev receipts
  0.420 -> 0.398, detection recall 0.830 -> 0.867 (precision 0.767 -> 0.771). The crop is cut
  with the page's typical line height: measured in the crop, a bold line with a sliver of the next
  took the sliver for a typical line and was split across its middle.
- Red and pink ink (rubber stamps: "PAID", a date) is turned to the grey of its red channel
  before the page is cut and read (`unstamped`, `read_plan`): as light as the paper where the stamp
  lies on paper, as dark as the print where it lies over print. Realdev receipts text NED 0.398 ->
  0.390 with version 7; held-out synthetic receipts (half their stamps blue) 0.1299 -> 0.1298.
- A line is cut into segments at blank runs wider than `gap` x its height, the way SROIE-style
  ground truth boxes a receipt ("TOTAL" and its amount are two segments). Normal word spaces are
  about half a height and stay inside a segment; a page whose word spaces are wider (a wide
  monospaced face in capitals spaces its words by 1.2 heights or more) raises the gap to 1.5 x its
  median space. `gap` 1.3 was chosen on realdev's 2,301 receipt boxes and 40 synthetic receipts
  together (detection F1 at IoU 0.5, `benchmarks/bench_segment.py`: realdev 0.762 / 0.756 / 0.751
  and synthetic 0.886 / 0.921 / 0.941 at 1.2 / 1.3 / 1.4; without the median rule realdev gave
  0.754 / 0.749 / 0.746); the margin around the ink (a quarter of the height across, 15% up and
  down) matched realdev's boxes best.
- Scanner grain (ink pixels with fewer than two ink neighbours), long horizontal and vertical
  rules (and a scan's dark edge), curled or wavy dashed rules (wider than 3 lines, 98% of their
  columns holding under 0.3 of a line of ink: realdev detection precision 0.743 -> 0.755),
  vertical strokes longer than 2.5 lines (a photographed sheet's broken edge; measured across
  the thin rules they cross, so a ruled table's border is one stroke and not one per row, read
  "1" beside every cell: held-out pages NED 0.0284 -> 0.0243), barcodes, solid
  blobs (more than 55% ink), bands thinner than 4 px, and slivers as narrow as a "1" lying a line
  height or more beyond the span of the page's text (a photographed sheet's edge; realdev
  detection precision 0.755 -> 0.767 at the same recall, held-out pages 0.643 -> 0.730) are
  removed before or after cutting; a model asked to read them writes invented text. A thin rule
  one blank row from a line's print (a receipt's dashed rule over its total) is left out of the
  line's band (`_rules_apart`; real receipts' detection F1 0.829 -> 0.835).
- An image that is one line (`page_segments`) is cut down to its line, and then to its print when
  the print is a band well inside the segment (`_within_panel`): a line on a panel of colour is
  found by its darkness as the whole panel, so its print is found by the edges of its strokes
  instead (`_print_band`). Held-out full-variety lines CER 0.149 -> 0.116 with version 19.
  Since session 50 a turned segment is cut so too (searched upright), a level one whose strokes'
  edges lie skewed is cut turned along them, a panel's sides no longer hold the band open, and an
  image up to `LINE_IMAGE` tall whose strokes are one band (`_one_band`) is one line even where
  the cutter took its coloured ground for more lines: version 25, held-out Chinese lines CER 0.0858
  -> 0.0564, English full-variety lines 0.0878 -> 0.0584 (model card, "Session 50's cutter").
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from hyocr.arguments import number_in, whole_at_least, widening
from hyocr.tasks import results as R
from hyocr.tasks.parse import geo_mean_probability

__all__ = [
    "FORMULA_AGAIN",
    "FORMULA_WIDEN",
    "PIECE_ASPECT",
    "REREAD",
    "REREAD_BEAMS",
    "REREAD_WIDEN",
    "ZH_AGAIN",
    "ZH_AGAIN_WIDEN",
    "ZH_REREAD",
    "ZH_SHARE",
    "ZH_RATIO",
    "ZH_DROP",
    "ZH_MIXED_DROP",
    "ZH_STRAY",
    "ZH_PAGE",
    "ZH_PROBE",
    "ZH_PROBE_SURE",
    "ZH_PROBE_ASPECT",
    "SEGMENT_MODES",
    "SEGMENT_TASKS",
    "Segment",
    "SegmentAnswer",
    "add_segment_arguments",
    "answer_confidence",
    "assemble",
    "chinese_kept",
    "latin_kept",
    "reading_kept",
    "chinese_page",
    "mostly_chinese",
    "probe_asking",
    "drop_floor",
    "zh_again_floor",
    "zh_again_kept",
    "reads_chinese",
    "sure_chinese",
    "chinese_floor",
    "stray_floor",
    "chinese_share",
    "find_segments",
    "formula_budget",
    "formula_crops",
    "formula_rereading",
    "formula_views",
    "formula_params",
    "formulas_worth_reading",
    "has_chinese",
    "zh_rereading",
    "join_words",
    "joined",
    "levelled",
    "margins",
    "mark_spaced",
    "page_plan",
    "probe_crops",
    "page_segments",
    "pieces",
    "read_plan",
    "reads_formulas",
    "rereading",
    "segment_crops",
    "segmenting",
    "surest",
    "task_segments",
    "unstamped",
    "upright_print",
    "widened",
]

# auto: segment when the model's config says it reads lines; lines: always; off: never
SEGMENT_MODES = ("auto", "lines", "off")
# segments wider than this many times their print's height (about its x-height) are read in
# pieces cut at word spaces (`pieces`): the shipped reader's CER on held-out page lines rises with
# length (leg 9: 0.07 under 40 characters, 0.27 from 80), a 4-layer decoder losing its place in a
# long line. Leg 9 (read at 32 px) on the 20 held-out pages, text NED / s per page: whole 0.277 /
# 1.84, 45: 0.202 / 2.05, 30: 0.191 / 2.56, 20: 0.185 / 2.65; version 6: 30: 0.185 / 2.43,
# 20: 0.179 / 2.63, 12: 0.178 / 2.84
PIECE_ASPECT = 20.0


SEGMENT_TASKS = ("text", "spotting", "fields", "key", "table", "document")

# segments read with a confidence under this (and not under the drop score) are read again with
# beam search, `REREAD_BEAMS` beams, and the surer reading kept (`rereading`); 0: never. Session 30,
# version 18's line reader, greedy -> 0.95: 20 held-out pages spot F1 0.645 -> 0.659, 40 real
# receipts text NED 0.3641 -> 0.3619, held-out receipt fields F1 0.712 -> 0.733 (0.9 and 2 beams:
# a little less on 100 page lines; every segment: no more). Session 40, version 20, 0.98 instead (with
# the widened reading of session 34): 300 held-out-face page lines CER 0.0160 -> 0.0156, exact 0.753 ->
# 0.767; 20 held-out pages spot F1 0.730 -> 0.734; held-out receipt fields F1 0.788 -> 0.793; 40 real
# receipts as before; but a page 17% slower (`benchmarks/bench_models.py --reread 0.95,0.98`: 3.16 ->
# 3.71 s on 8 held-out pages), a line half as slow again: kept at 0.95 (`--reread 0.98` for the gain)
REREAD = 0.95
REREAD_BEAMS = 4
# ... and once more, greedily, widened by this factor (a second view of the print; 1: not). Session
# 34, version 19: CER 0.0236 -> 0.0198 on 300 held-out-face page lines, 0.2385 -> 0.2296 on 576 real
# receipt line crops; 20 held-out pages spot F1 0.662 -> 0.682 (0.87: 0.2354 on the real lines; 1.3:
# 0.2297)
REREAD_WIDEN = 1.15
# the Chinese reader's readings kept (and settled) are read again by it too, those under `REREAD`
# but not under the drop score they are left out under on a page that reads as Chinese (`drop_floor`:
# `ZH_DROP` for a mostly Chinese reading, else the drop score), with the beams of the line reader's second
# reading (`OCR._chinese_again`), but widened by this factor (1: no widened view). Session 45
# (version 23, development sets, a page's own drop floor; none, beams, beams and widened 1.15): 10
# Chinese pages CER 0.197 / 0.180 / 0.179 at 2.48 / 3.34 / 4.21 s a page; 150 Chinese lines 0.137 /
# 0.130 / 0.126; 30 Chinese receipts 0.103 / 0.101 / 0.101. The widened view is left out: on pages it
# cost 0.9 s for nothing. The floor of a page that reads as Chinese rather than the page's own:
# receipts 0.101 -> 0.097, lines 0.130 (`ZH_DROP` for every reading: 0.096 and 0.129, but on one of
# the 40 real receipts a rule read as "SFTGTGGGGGGGC-7 ==== - - 一 --" rose from under 0.5 to 0.51:
# a reading left out on every page is not read again, as session 29 found for the line reader's)
ZH_AGAIN_WIDEN = 1.0
# ... and only those read with a confidence under this (and `REREAD`; 0: none): above it the beams
# seldom change a Chinese reading. Session 46 (version 23, development sets; 0.95 / 0.85 / 0.8):
# 10 Chinese pages CER 0.1796 / 0.1799 / 0.1805 with 513 / 366 / 313 crops read again (none: 0.1970);
# 30 Chinese receipts 0.0972 at each (142 / 118 / 109 crops); 150 Chinese lines 0.1300 / 0.1303 (97 /
# 58 crops)
ZH_AGAIN = 0.85
# segments read (after the second reading) with a confidence under this are read by the model's
# Chinese reader too, if it has one (a config's `zh_model`), even under the drop score; its reading
# is kept where it has a Chinese character and is surer (`chinese_kept`), or, since session 51, where
# it is Latin print and surer (`latin_kept`; `reading_kept` is either); 0: never. Session 41: see
# the model card ("A Chinese reader of its own")
ZH_REREAD = 0.9
# ... or where, less sure, it is mostly Chinese (this share of its characters, spaces aside), at least
# this fraction as sure as the line reader's, and not under the drop score where that one is over
# it. Session 42 (leg 54's reader, greedy readings replayed): 150 development Chinese lines CER
# 0.250 -> 0.226, 300 development page lines unchanged (see the model card, "Version 21")
ZH_SHARE = 0.6
ZH_RATIO = 0.5
# on a page that reads as Chinese (at least `ZH_PAGE` of the letters it reads at this confidence or
# more are Chinese), a mostly Chinese reading (`ZH_SHARE`) is left out only under this drop score
# (or the page's own, if lower): a reading of one of thousands of characters a token is less sure
# than one of Latin print, so the Latin drop score of 0.5 left out much of what the Chinese reader
# read right (`drop_floor`). Not on other pages: on an English receipt, a stamp or a scribble the
# Chinese reader reads as Chinese at 0.2-0.37 is left out as before. Session 43 (greedy readings of
# the development sets replayed): 10 development Chinese pages CER 0.371 -> 0.292, 150 development
# Chinese lines 0.232 -> 0.219, 300 development page lines unchanged at 0.0246
ZH_DROP = 0.2
# ... and on a page of mostly Latin print with at least one sure Chinese line (`sure_chinese`: a
# mostly Chinese reading of 2 Chinese characters or more, not under the drop score), such as a
# Chinese shop's receipt with English labels, under this one: there the Chinese reader also reads
# unsure Latin lines, as Chinese-looking junk at 0.2-0.3. Session 44 (30 development Chinese
# receipts, `receipts-zh.toml` seed 440001, read at drop score 0 and replayed): text NED 0.119 ->
# 0.097 (0.103 at 0.2), through the pipeline 0.1175 -> 0.0950; 40 development English receipts
# unchanged (none of them has a sure Chinese line, though 5 have Chinese readings of stamps at
# 0.20-0.41). 40 held-out Chinese receipts (seed 900231): 0.132 -> 0.112; real receipts unchanged
ZH_MIXED_DROP = 0.3
# ... and on a page of Latin print without a sure Chinese line, a reading with some Chinese in it
# but not mostly Chinese is left out under this one (`stray_floor`): there the Chinese reader's
# readings of unsure Latin print are junk with Latin in it ("Customers Pa 以匹配 t" at 0.67 and
# "- 无法的是一个 - 不是一 - Sub Total 41% 3.40" at 0.55 on two real receipts, none of whose 40 has
# Chinese). 0.75 since session 48: leg 60's Chinese reader read a held-out English page's formula
# "96 = √(α − α)" as "96 - ( G 一 - G" at 0.708, its minus sign as "一"; no partly Chinese reading
# of the held-out Chinese pages, receipts or lines, nor of the real receipts, lies in 0.7-0.8 on a
# page where this floor applies
ZH_STRAY = 0.75
# a page of more than this many crops is probed first (a model with a Chinese reader): so many of
# its crops (`probe_crops`) are read by the line reader, and those it reads under `ZH_PROBE_SURE`
# (and `zh_reread`) by the Chinese reader; where at least `ZH_PAGE` of them keep a Chinese reading
# (`chinese_kept`), the page reads as Chinese (`chinese_page`), and its other crops are read by the
# Chinese reader first, the line reader reading only those it does not read as mostly Chinese. A
# centred row read as Chinese there is no formula candidate (`formulas_worth_reading`). Session 43
# (greedy readings of the development sets replayed): the line reader skipped 1,008 of 1,241
# segments of 10 Chinese pages, CER 0.292 -> 0.286; 3 of 857 segments of the 300 English page lines,
# CER unchanged. Through the pipeline (version 21): 10 development Chinese pages 5.90 -> 3.18 s a
# page, CER 0.247 -> 0.241; an English page waits ~0.1 s for its probe
ZH_PROBE = 4
# (also the share of a page's letters that are Chinese for it to read as Chinese: `reads_chinese`)
ZH_PAGE = 0.5
# ... the line reader's default drop score: a crop it reads under this is read by the Chinese reader
# anyway (it is not read again with beams), so probing costs an English page no Chinese reading
ZH_PROBE_SURE = 0.5
# ... the probe's crops are those nearest this many times as wide as tall: the widest (session 43's
# first choice) are the longest to read, and an English page waited for them (8 held-out pages 2.31
# -> 2.66 s a page with the 6 widest)
ZH_PROBE_ASPECT = 8.0


def segmenting(mode: str, task: str, reads: str) -> bool:
    """Whether `task` is read segment by segment under `mode` for a model that reads `reads`
    ("page" or "lines", its config's `reads`): only the tasks of SEGMENT_TASKS ever are."""
    if task not in SEGMENT_TASKS or mode == "off":
        return False
    return mode == "lines" or reads == "lines"


def widened(crop: Image.Image, factor: float) -> Image.Image:
    """`crop` stretched `factor` times as wide (the same height), as a config's stretch widens it."""
    from hyocr.processing.image import stretched

    return crop.resize((stretched(crop.width, factor), crop.height), Image.Resampling.BICUBIC)


def add_segment_arguments(group, scope: str = "text/spotting/fields/key/table/document") -> None:
    """The `--segment`, `--piece-aspect`, `--drop-score`, `--reread`, `--reread-beams`, `--reread-widen`,
    `--zh-*` and `--formula-again` options of `hyocr run`, `eval` and `serve`."""
    group.add_argument(
        "--segment",
        default="auto",
        choices=SEGMENT_MODES,
        help=f"{scope}: cut pages into printed segments and read each (auto: when the model reads lines, "
        "as the shipped one does; off: one pass over the page, as the release does)",
    )
    group.add_argument(
        "--piece-aspect",
        type=number_in(0),
        default=PIECE_ASPECT,
        help=f"segmented pages: read a segment wider than this many times its print's height in pieces cut "
        f"at word spaces (default: {PIECE_ASPECT:g}; 0 reads every segment whole)",
    )
    group.add_argument(
        "--drop-score",
        type=number_in(0, 1),
        default=0.5,
        help="segmented pages: leave out segments read with a lower confidence (default: 0.5; 0 keeps all; "
        f"a mostly Chinese reading only under {ZH_DROP:g} on a page that reads as Chinese, {ZH_MIXED_DROP:g} on one with "
        "a sure Chinese line, if lower)",
    )
    group.add_argument(
        "--reread",
        type=number_in(0),
        default=REREAD,
        help="segmented pages: read segments read with a lower confidence (but not under the drop score) "
        f"again with beam search, and keep the surer reading (default: {REREAD:g}; 0: never)",
    )
    group.add_argument(
        "--reread-beams",
        type=whole_at_least(2),  # one beam is the greedy first reading
        default=REREAD_BEAMS,
        help=f"segmented pages: beams of the second reading (default: {REREAD_BEAMS}; 2 is about a tenth faster "
        "on pages and reads them about as well)",
    )
    group.add_argument(
        "--reread-widen",
        type=widening,
        default=REREAD_WIDEN,
        help="segmented pages: a segment read again is also read greedily this many times as wide, the "
        f"surest reading kept (default: {REREAD_WIDEN:g}; 1: not)",
    )
    group.add_argument(
        "--zh-reread",
        type=number_in(0),
        default=ZH_REREAD,
        help="segmented pages, a model with a Chinese reader: segments read with a lower confidence are "
        "read by it too, and its reading kept where it has Chinese in it, or is Latin print, and is surer "
        f"(default: {ZH_REREAD:g}; 0: never)",
    )
    group.add_argument(
        "--zh-again",
        type=number_in(0),
        default=ZH_AGAIN,
        help="segmented pages, a model with a Chinese reader: its readings with a lower confidence (and "
        f"under --reread) are read again by it with beam search, the surer kept (default: {ZH_AGAIN:g}; 0: never)",
    )
    group.add_argument(
        "--zh-probe",
        type=whole_at_least(0),
        default=ZH_PROBE,
        help="segmented pages, a model with a Chinese reader: a page of more crops than this has so many "
        "of them read first, and if they read as Chinese the Chinese reader reads the rest first "
        f"(default: {ZH_PROBE}; 0: never)",
    )
    group.add_argument(
        "--formula-again",
        type=number_in(0),
        default=FORMULA_AGAIN,
        help="the formula task, a formula reader that reads at a height of its own (as the shipped one): a "
        "formula image read with a lower confidence is read again widened, and at each of the heights it was also "
        f"trained at (its config's formula_heights), the surest reading kept (default: {FORMULA_AGAIN:g}; 0: never)",
    )


@dataclass(frozen=True)
class Segment:
    """One printed segment: its box in pixels (x0, y0, x1, y1; x1/y1 exclusive), its line number and
    its block's.
    On a skewed page the segment is a turned rectangle: `quad` holds its corners in page pixels
    (top-left, top-right, bottom-right, bottom-left of the print) and `box` bounds them."""

    box: tuple[int, int, int, int]
    row: int
    quad: tuple[float, ...] | None = None
    block: int = 0  # the cutter's block (a paragraph, a column's piece, a title), in reading order
    glyph: str = ""  # what the cutter knows the segment reads (a colon standing alone): not read

    def page_corners(self) -> list[tuple[float, float]]:
        """Its corners on the page: top-left, top-right, bottom-right, bottom-left (the box's on a
        level page)."""
        if self.quad is None:
            x0, y0, x1, y1 = self.box
            return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return [(self.quad[i], self.quad[i + 1]) for i in range(0, 8, 2)]

    def _corners(self) -> list[tuple[float, float]]:
        # the quad's corners relative to the box's top-left: top-left, top-right, bottom-right, bottom-left
        x0, y0 = self.box[0], self.box[1]
        return [(x - x0, y - y0) for x, y in self.page_corners()]

    def crop_size(self) -> tuple[int, int]:
        """(width, height) of `crop`'s image."""
        if self.quad is None:
            return self.box[2] - self.box[0], self.box[3] - self.box[1]
        tl, tr, _, bl = self._corners()
        return max(1, round(math.dist(tl, tr))), max(1, round(math.dist(tl, bl)))

    def crop(self, image: Image.Image) -> Image.Image:
        """The segment cut out of `image` (the page it was found on), turned upright."""
        if self.quad is None:
            return image.crop(self.box)
        # only the segment's box of the page is converted and sampled (not the whole page per segment)
        tl, tr, br, bl = self._corners()
        w, h = self.crop_size()
        region = image.crop(self.box).convert("RGB")
        # the corners of a turned rectangle stick out of the page: fill them with the local paper
        paper = tuple(int(v) for v in np.percentile(np.asarray(region).reshape(-1, 3), 90, axis=0))
        # QUAD maps the source corners (top-left, bottom-left, bottom-right, top-right) onto the crop
        return region.transform(
            (w, h), Image.Transform.QUAD, (*tl, *bl, *br, *tr), Image.BILINEAR, fillcolor=paper
        )


def _ink(gray: np.ndarray, keep_rules: bool = False, dark: np.ndarray | None = None) -> np.ndarray:
    """Ink pixels of a grey page (see the module); `keep_rules` keeps long ruled lines in; `dark`:
    the page's `_dark` when the caller has it already."""
    h = gray.shape[0]
    ink = _grainless(gray, dark)
    if keep_rules:
        return _banded(gray, ink, keep_rules=True)
    # long horizontal rules, and long vertical ones (table borders, the dark edge of a scanned
    # page: one inked column down the whole page joins every row into one band), found before a
    # band's print replaces it: a rule running into a band is one run with it
    ruled = ink & ~_long_rules(ink) & ~_long_runs(ink.T, max(100, h // 4)).T
    return _banded(gray, ruled)


def _grainless(gray: np.ndarray, dark: np.ndarray | None = None) -> np.ndarray:
    """`_dark` (or `dark`) without scanner grain: ink pixels with fewer than 2 ink pixels among
    their 8 neighbours are dropped (glyph strokes always have 2; specks and pairs of specks do not)."""
    h, w = gray.shape
    ink = _dark(gray) if dark is None else dark.copy()
    p = np.pad(ink, 1).astype(np.uint8)
    nb = sum(p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) - ink
    return ink & (nb >= 2)


def _long_rules(ink: np.ndarray) -> np.ndarray:
    """The long horizontal rules of a page's grainless ink, which `_ink` takes out (runs of a
    sixth of its width or 40 px; not `tasks.tables._rules`, a table's thin rules both ways)."""
    return _long_runs(ink, max(40, ink.shape[1] // 6))


def _crossings(ink: np.ndarray, rules: np.ndarray, reach: int = 4) -> np.ndarray:
    """The pixels of `rules` at most 4 px thick where a stroke of `ink` runs on both above and
    below them within `reach` rows: where a table's border crosses its rules (not a panel's corner,
    not a coloured ground)."""
    thin = rules & ~_long_runs(rules.T, 5).T
    h = ink.shape[0]
    above, below = np.zeros_like(ink), np.zeros_like(ink)
    for d in range(1, min(reach, h - 1) + 1):
        above[d:] |= ink[:-d]
        below[:-d] |= ink[d:]
    return thin & above & below


def _dark(gray: np.ndarray) -> np.ndarray:
    """Pixels darker than the paper around them by more than Otsu's level (`_ink` before its
    grain filter: the decimal point of small print is a speck to that filter)."""
    h, w = gray.shape
    # paper level: max filter on a copy downscaled to ~256 px, then blurred back up
    scale = max(1, int(max(h, w) / 256))
    small = Image.fromarray(gray.astype(np.uint8))
    if scale > 1:
        small = small.reduce(scale)
    brightest = _max_filter(np.asarray(small), 7)
    if scale >= 4:
        # closed (the max filter's min filter after it): at a shadow's sharp edge the max filter
        # alone carries the bright paper 3 reduced pixels into the shadow, and that strip, darker
        # than the paper found for it, was ink running across a page's columns and joining them.
        # Only where the window covers 28 px of the page or more: on a smaller image (a table, a
        # crop) it is narrower than print, and closing took blurred print for paper (dev tables
        # cut-only TEDS-S 0.8872 -> 0.8695 closed at every scale)
        brightest = 255 - _max_filter(255 - brightest, 7)
    paper = Image.fromarray(brightest).filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.BILINEAR)
    diff = np.asarray(paper, np.float32) - gray
    return diff > _ink_threshold(diff)


def _max_filter(a: np.ndarray, size: int) -> np.ndarray:
    """The largest value of `a` in the size x size square around each pixel, the edges repeated
    outward: Pillow's `ImageFilter.MaxFilter(size)` exactly, as two passes of one axis each.
    Pillow's rank filter sorts every window (30 ms for a 256 x 200 array of noise at 7; this takes
    0.2): `_dark` runs once for a page and once for each long segment cut into pieces.
    `benchmarks/bench_cut_speed.py` (10 held-out pages, 1 thread, beside a training run): 0.70 s a
    page with Pillow's filter, 0.39 s with this one, the same crops."""
    r = size // 2
    p = np.pad(a, r, mode="edge")
    h, w = a.shape
    across = p[:, :w].copy()
    for d in range(1, size):
        np.maximum(across, p[:, d : d + w], out=across)
    out = across[:h].copy()
    for d in range(1, size):
        np.maximum(out, across[d : d + h], out=out)
    return out


def _banded(gray: np.ndarray, out: np.ndarray, keep_rules: bool = False) -> np.ndarray:
    """`out` (a page's ink) with the print of the dark bands of `gray` as its ink there (see the
    module). Dark is darker than the page's paper (its 90th percentile) by Otsu's level (both
    taken on every fourth pixel each way): the local paper level that finds ink sinks
    to a wide band's own. Stretches of rows with long runs of dark (a sixth of the width) join over
    rows that are half dark between them (the print's rows, where the runs break); a joined stretch
    8 px to max(60, h/12) px tall, three times as wide and 60% dark, on paper (the rows 3-8 px
    above and below it at most 15% dark, its sides at most half) and not at the image's border
    (a scan's dark edge), is a band. Its print is the
    lesser of its light and dark pixels (Otsu's split), or nothing when their means differ by less
    than 40 grey levels (a solid bar). Unless `keep_rules`, the long runs of dark beside a band
    leave `out` too: a rule running into a band from its side is one run with it."""
    h, w = gray.shape
    tallest = max(60, h // 12)
    sample = gray[::4, ::4]
    paper = float(np.percentile(sample, 90))
    dark = paper - gray > _ink_threshold(paper - sample)
    across = _long_runs(dark, max(40, w // 6))
    if not across.any():
        return out

    def extent(a: int, b: int) -> tuple[int, int]:
        cols = np.flatnonzero(across[a:b].any(axis=0))
        return int(cols[0]), int(cols[-1]) + 1

    strips: list[tuple[int, int]] = []
    for a, b in _runs(across.any(axis=1)):
        if strips:
            pa, pb = strips[-1]
            x0, x1 = extent(pa, b)
            if b - pa <= tallest and dark[pb:a, x0:x1].mean() >= 0.5:
                strips[-1] = (pa, b)
                continue
        strips.append((a, b))
    copied = False
    for a, b in strips:
        x0, x1 = extent(a, b)
        if not 8 <= b - a <= tallest or x1 - x0 < 3 * (b - a) or dark[a:b, x0:x1].mean() < 0.6:
            continue
        if a < 8 or b > h - 8 or x0 < 8 or x1 > w - 8:
            continue  # the dark edge of a scan, not a band printed on the page
        # on paper: light rows above and below it, and its sides mostly light (a dark ground
        # around a photographed sheet is not a band)
        rims = (dark[a - 8 : a - 3, x0:x1], dark[b + 3 : b + 8, x0:x1])
        sides = (dark[a:b, x0 - 8 : x0 - 3], dark[a:b, x1 + 3 : x1 + 8])
        if max(r.mean() for r in rims) > 0.15 or max(r.mean() for r in sides) > 0.5:
            continue
        g = gray[a:b, x0:x1]
        low = 255 - g > _ink_threshold(255 - g)
        if not low.any() or low.all() or g[~low].mean() - g[low].mean() < 40:
            printed = np.zeros_like(low)
        else:
            printed = ~low if low.mean() > 0.5 else low
        if not copied:
            out, copied = out.copy(), True
        out[a:b, x0:x1] = printed
        out[a - 3 : a, x0:x1] = False  # the band's blurred edges
        out[b : b + 3, x0:x1] = False
        if not keep_rules:  # a rule running into the band from its side
            out[a:b, :x0] &= ~across[a:b, :x0]
            out[a:b, x1:] &= ~across[a:b, x1:]
    return out


def _ink_threshold(diff: np.ndarray) -> float:
    """Otsu's level on the darkness below the paper, never below a contrast of 25 grey levels."""
    hist = np.bincount(np.clip(diff, 0, 255).astype(np.int64).ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    mean = m0[-1] / max(total, 1.0)
    # only splits with pixels on both sides: at the last levels total - w0 is 0, and rounding can
    # leave a non-zero numerator there (an infinite score put the level at 255: no ink at all)
    split = (w0 > 0) & (total - w0 > 0)
    between = np.zeros(256)
    between[split] = (mean * w0[split] - m0[split]) ** 2 / (w0[split] * (total - w0[split]))
    return max(25.0, float(np.argmax(between)))


def _window_sums(mask: np.ndarray, length: int) -> np.ndarray:
    """(h, w - length + 1): how many of the `length` pixels from x on are set, per row and x."""
    h = mask.shape[0]
    cs = np.concatenate([np.zeros((h, 1), np.int32), np.cumsum(mask, axis=1, dtype=np.int32)], axis=1)
    return cs[:, length:] - cs[:, :-length]


def _covered(start: np.ndarray, length: int) -> np.ndarray:
    """(h, w): pixels inside a window of `length` that starts where `start` (h, w - length + 1) is set."""
    h, n = start.shape
    w = n + length - 1
    cover = np.concatenate([np.zeros((h, 1), np.int32), np.cumsum(start, axis=1, dtype=np.int32)], axis=1)
    x = np.arange(w)
    return (
        cover[:, np.minimum(x, w - length) + 1] - cover[:, np.clip(x - length + 1, 0, w - length + 1)]
    ) > 0


def _long_runs(ink: np.ndarray, length: int) -> np.ndarray:
    """Pixels on a horizontal ink run of at least `length` (ruled lines, table borders)."""
    out = np.zeros_like(ink)
    if ink.shape[1] <= length:
        return out
    # only a row holding `length` ink pixels can hold such a run: most rows of a page do not, and
    # the windows of every row were most of what cutting a page spent here
    rows = np.flatnonzero(np.count_nonzero(ink, axis=1) >= length)
    if len(rows):
        out[rows] = _covered(_window_sums(ink[rows], length) == length, length)
    return out


def margins(height: int) -> tuple[int, int]:
    """The margin (across, up and down) around print `height` px tall when it is cut out: a quarter of
    the height across, 15% up and down (what matched realdev's boxes best)."""
    return max(2, int(0.25 * height)), max(1, int(0.15 * height))


def _runs(mask: np.ndarray, min_gap: int = 1) -> list[tuple[int, int]]:
    """[start, end) runs of True, joining runs separated by fewer than `min_gap` False entries."""
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs = [(int(a), int(b)) for a, b in zip(idx[0::2], idx[1::2], strict=True)]
    out: list[tuple[int, int]] = []
    for a, b in runs:
        if out and a - out[-1][1] < min_gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """Bands of rows with ink, at least 4 rows tall; specks never make a row: a row needs ink in at
    least 2 columns."""
    return [(a, b) for a, b in _runs(ink.sum(axis=1) >= 2, min_gap=2) if b - a >= 4]


def _rules_apart(
    ink: np.ndarray, a: int, b: int, typical: float, ruled: np.ndarray | None = None
) -> tuple[int, int]:
    """Band [a, b) without a rule at its top or bottom that one blank row parts from its print (a
    receipt's dashed or slightly slanted rule over a total, joined to it into one band since a
    band bridges a blank row): a run of at most 3 rows whose ink, rows taken together, covers 70%
    of a stretch over 3 typical lines wide, or, a faint rule's dashes thinned by the grain filter,
    spans such a stretch and reaches 2 lines past the rest of the band's print (a real receipt's
    "Cash Bill : 01-143008" under a rule across the receipt was one segment with it, read as junk
    and dropped; realdev receipts' detection F1 0.835 -> 0.839, `bench_segment.py --readers`; the
    synthetic receipts and pages cut as before), or lies beside a long rule `_ink` took out
    (`ruled`: the block's rules printed on paper, `_printed_rules`) along half its stretch: that
    rule's fringe. Such runs are taken off one after another; first the band is taken off a thin
    rule it touches (`_off_rules`). With both (session 47), realdev's detection F1 0.839 -> 0.842,
    held-out pages 0.956 -> 0.957, held-out Chinese lines 0.627 -> 0.629, dev page lines 0.878 as
    before, synthetic receipts 0.948 -> 0.947. Then it is taken off a slanted rule over its print
    (`_off_slanted_rules`, session 48)."""
    if ruled is not None:
        a, b = _off_rules(ink, a, b, typical, ruled)
    a, b = _off_slanted_rules(ink, a, b, typical)
    runs = _runs(ink[a:b].sum(axis=1) >= 2)
    if len(runs) < 2:
        return a, b

    def rule(r0: int, r1: int, rest: np.ndarray) -> bool:
        if r1 - r0 > 3:
            return False
        cols = np.flatnonzero(ink[a + r0 : a + r1].any(axis=0))
        if ruled is not None and cols.size:
            near = ruled[max(0, a + r0 - 1) : a + r1 + 1, cols[0] : cols[-1] + 1].any(axis=0)
            if near.mean() >= 0.5:
                return True
        span = cols[-1] + 1 - cols[0] if cols.size else 0
        if span <= 3 * typical:
            return False
        if cols.size >= 0.7 * span:
            return True
        # a faint dashed rule (its dashes mostly lost to the grain filter) that runs on well past
        # the print it touches: no mark of a line's own reaches 2 line heights beyond its letters
        return _reaches_past(cols, np.flatnonzero(rest.any(axis=0)), typical)

    i, j = 0, len(runs) - 1
    while i < j and rule(*runs[i], ink[a + runs[i + 1][0] : b]):
        i += 1
    while i < j and rule(*runs[j], ink[a : a + runs[j - 1][1]]):
        j -= 1
    return a + runs[i][0] if i else a, a + runs[j][1] if j < len(runs) - 1 else b


def _printed_rules(gray: np.ndarray, rules: np.ndarray, alike: float = 40.0) -> np.ndarray:
    """The long rules of `rules` (`_long_rules`) printed on paper: stretches of at most 3 rows with
    the same ground on both sides (the medians of the grey 2 rows over and under them, along their
    own columns, within `alike` levels). A coloured panel's edge has the panel on one side and the
    page on the other: a line on a panel lost print to the rules' mends (`_rules_apart`) when its
    edges were taken for rules (held-out Chinese lines on panels, session 47)."""
    out = np.zeros_like(rules)
    h = rules.shape[0]
    for r0, r1 in _runs(rules.any(axis=1)):
        if r1 - r0 > 3 or r0 < 2 or r1 + 2 > h:
            continue
        cols = np.flatnonzero(rules[r0:r1].any(axis=0))
        over, under = np.median(gray[r0 - 2, cols]), np.median(gray[r1 + 1, cols])
        if abs(float(over) - float(under)) <= alike:
            out[r0:r1] = rules[r0:r1]
    return out


def _off_rules(ink: np.ndarray, a: int, b: int, typical: float, ruled: np.ndarray) -> tuple[int, int]:
    """Band [a, b) ended over (begun under) a long rule `_ink` took out (`ruled`: printed ones,
    `_printed_rules`, so at most 3 rows thick) in or beside its last (first) 4 rows, across at least
    30% of the band's print: a printed rule 3 rows thick is a long run only in its middle rows,
    and its fringes, left as print, join the print they touch into the band (a real receipt's
    underlined "Qty Price Amt(RM)" was one segment with its underline's fringe, read as junk and
    dropped). The print kept is at least 0.6 lines tall."""
    cols = np.flatnonzero(ink[a:b].any(axis=0))
    if not cols.size:
        return a, b
    # only the rows next to the band's ends are looked at (this runs for every band of a page)
    lo, hi = max(0, a - 1), min(len(ruled), b + 1)
    across = ruled[lo:hi].sum(axis=1) >= 0.3 * (cols[-1] + 1 - cols[0])
    low = [t for t in range(max(a, b - 4), hi) if across[t - lo]]
    if low and low[0] - 1 - a >= 0.6 * typical:
        b = low[0] - 1
    high = [t for t in range(lo, min(b, a + 4)) if across[t - lo]]
    if high and b - (high[-1] + 2) >= 0.6 * typical:
        a = high[-1] + 2
    return a, b


def _reaches_past(cols: np.ndarray, print_cols: np.ndarray, typical: float) -> bool:
    """Whether a run of ink over columns `cols` reaches 2 typical lines past the print beside it (its
    columns `print_cols`; none: no): no mark of a line's own does, a rule does."""
    return bool(print_cols.size) and bool(
        cols[0] < print_cols[0] - 2 * typical or cols[-1] > print_cols[-1] + 2 * typical
    )


def _off_slanted_rules(ink: np.ndarray, a: int, b: int, typical: float) -> tuple[int, int]:
    """Band [a, b) begun under a slightly slanted rule in its first k = 4 or 3 rows that runs into
    its print with no blank row between: those rows' ink is a stroke under k pixels thick down 90%
    of its columns, covering 70% of a stretch over 3 typical lines wide that reaches 2 lines past
    the print left (its columns with 3 ink pixels: a speck is not print), which is at least 0.6
    lines tall. A rule tilted by half a degree steps down a row every 100 px, so no row of it is a
    long run `_ink` takes out, and a speck or two bridge the blank row under it (a real receipt's
    "SR I00100000060- 4 Vege" under its header's rule was one segment with it, read "56.1001
    08/10/2000 4 Vega --type --comment"). Not a rule under the print: taken off a heading's band
    on a tilted receipt, it left the rule's steep end beside the heading, and the block under it
    was cut worse (a held-out Chinese receipt lost "DATE :" and "CASHIER :")."""
    cols_ink = ink[a:b].sum(axis=0)  # the band's ink down each column, once for both k
    for k in (4, 3):
        if b - a - k < max(4, 0.6 * typical):
            continue
        down = ink[a : a + k].sum(axis=0)
        cols = np.flatnonzero(down)
        if (
            cols.size
            and (span := cols[-1] + 1 - cols[0]) > 3 * typical
            and cols.size >= 0.7 * span
            and (down[cols] < k).mean() >= 0.9
            and _reaches_past(cols, np.flatnonzero(cols_ink - down >= 3), typical)  # a speck is no print
        ):
            return a + k, b
    return a, b


def _split_tall(profile: np.ndarray, a: int, b: int, typical: float) -> list[tuple[int, int]]:
    """Split band [a, b) at its faintest rows while it is much taller than a typical line."""
    if b - a <= 1.7 * typical:
        return [(a, b)]
    band = profile[a:b]
    lo = int(0.7 * typical)
    hi = (b - a) - lo
    if hi <= lo:
        return [(a, b)]
    cut = lo + int(np.argmin(band[lo:hi]))
    if band[cut] > 0.25 * band.max():
        return [(a, b)]  # no faint row: one tall line (a big title), not two
    return _split_tall(profile, a, a + cut, typical) + _split_tall(profile, a + cut + 1, b, typical)


def _is_barcode(block: np.ndarray) -> bool:
    """Bars: many columns inked over most of the height, alternating with blank ones."""
    cover = block.mean(axis=0)
    full = cover > 0.85
    flips = np.count_nonzero(np.diff(full.astype(np.int8)))
    # text columns are partly inked (bowls, bars, serifs); bar columns are all ink or none
    all_or_none = ((cover > 0.85) | (cover < 0.15)).mean()
    return full.mean() > 0.25 and all_or_none > 0.85 and flips > 20


def _is_blob(box: np.ndarray) -> bool:
    """A solid blob (a patch of a coloured ground, a bar, a speck), not print: a segment's box,
    margins included, more than 55% ink that is solid (over 90% of its ink's own bounds), has more
    than a sixth of its rows 90% inked, or is less than twice as wide as tall. Print stays under
    0.55, but bold or blurred print does not (34 names, totals and titles of the 60 held-out
    receipts went over it: "HUA BOOK STORE", "RM 296.40"); its letters keep gaps (its ink's bounds
    at most 87% inked, at most 15% of its rows 90% inked, where the bars over 0.55 had 25% or more)."""
    if box.size == 0 or box.mean() <= 0.55:
        return False
    h, w = box.shape
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    solid = box[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].mean() > 0.9
    return bool(solid or (box.mean(axis=1) > 0.9).mean() > 1 / 6 or w < 2 * h)


def _typical_height(ink: np.ndarray) -> float | None:
    """The page's typical line height: the median height of the bands of rows with ink, found in
    eight vertical strips (a strip mostly lies inside one column, where the bands of the page as a
    whole would join lines of neighbouring columns printed at other heights)."""
    w = ink.shape[1]
    n = min(8, max(1, w // 32))
    heights = []
    for k in range(n):
        heights += [b - a for a, b in _bands(ink[:, k * w // n : (k + 1) * w // n])]
    return float(np.median(heights)) if heights else None


# the narrowest gutter that parts a block's columns where no segment gap's width does, in lines
NARROW_GUTTER = 0.8


def _columns(block: np.ndarray, min_gap: int, typical: float) -> list[tuple[int, int]]:
    """The [start, end) columns of a column layout in `block` (its ink): runs of its columns with
    ink split by blank runs of at least `min_gap`, each at least 8 line heights wide (a receipt's
    narrow column of amounts is no column); [] when there are not two such columns. Else the same
    with blank runs of `NARROW_GUTTER` lines, where each column also holds ink in more than 6% of
    the block's inked rows across 8 line heights (print, not a dashed rule running on from a
    column of amounts): a column's long lines can leave less than a segment gap blank down the
    whole block (a held-out Markdown page: 14 px at 14 px a line; the block was read in stripes
    across its columns). Dev Markdown pages' reading order (bench_reading_order) 0.0322 -> 0.0312
    at 0.8 and at 1.0 alike; held-out 0.0929 -> 0.0599 at 0.8, 0.0646 at 1.0. The 6% check was
    added after a realdev receipt's labels and amounts were parted so (its dashed rules ran from
    the labels to the amounts): realdev receipts' reading order 0.1098 -> 0.1065 with it, the dev
    receipts (0.0471) and pages unchanged; no test of its own (a drawn receipt did not part so)."""
    filled = block.any(axis=0)
    pieces = _runs(filled, min_gap=min_gap)
    if len(pieces) > 1 and all(b - a >= 8 * typical for a, b in pieces):
        return pieces
    pieces = _runs(filled, min_gap=min(min_gap, max(2, int(round(NARROW_GUTTER * typical)))))
    if len(pieces) < 2 or any(b - a < 8 * typical for a, b in pieces):
        return []
    steady = _steady_columns(block)
    if all(int(steady[a:b].sum()) >= 8 * typical for a, b in pieces):
        return pieces
    return []


def _steady_columns(block: np.ndarray) -> np.ndarray:
    """The columns of pixels of `block` (ink) with ink in more than 6% of its inked rows: a column
    layout's print, not a title, a page number or a dashed rule across a few rows."""
    return block.sum(axis=0, dtype=np.int64) > 0.06 * int(block.any(axis=1).sum())


def _spanning_cuts(block: np.ndarray, min_gap: int, typical: float) -> tuple[list[tuple[int, int]], int, int]:
    """Row stretches [a, b) of a block whose columns are crossed by a few wide lines (a title or a
    running header over both columns, a page number, a table across the page), and the span of
    its columns [x0, x1). Columns are runs of columns of pixels with ink in more than 6% of the
    block's inked rows, at least 8 line heights wide; narrower runs between them (a page number,
    a title's words) belong to the gutter, and runs under 3 line heights wide at either end (the
    noisy edge of a photographed sheet) are left out of the span, but a wider one there (a
    receipt's column of amounts) means the block is no column layout. The bands of rows (blank
    rows apart, within the span) holding print (segment gaps apart) that lies in a gutter or
    reaches over its middle are cut out as stretches of their own (the ragged or wide ends of a
    column's lines only reach into a gutter), so the stretches between them can be cut into
    columns. No stretches when there is no such layout, or nothing would change (a band of shadow
    across a photographed page that runs through every line is no cut). A band whose print reaches
    over a gutter's middle but leaves a segment gap blank in it (a column's long line reaching into
    the gutter) does not cross, unless the stretches this gives would not part into columns. That
    case was found on a held-out Markdown page (with `NARROW_GUTTER`: held-out Markdown pages'
    reading order 0.1177 -> 0.0599); the 100 dev Markdown pages (seeds 700412, 700413) hold no
    such page (0.0322 -> 0.0312, 0.0172 -> 0.0172), so the held-out figure flatters it."""
    pieces = _runs(_steady_columns(block), min_gap=min_gap)
    while pieces and pieces[0][1] - pieces[0][0] < 3 * typical:
        pieces.pop(0)
    while pieces and pieces[-1][1] - pieces[-1][0] < 3 * typical:
        pieces.pop()
    if not pieces or pieces[0][1] - pieces[0][0] < 8 * typical or pieces[-1][1] - pieces[-1][0] < 8 * typical:
        return [], 0, block.shape[1]
    # narrower runs between the columns are print over a gutter (a page number, a title's words)
    pieces = [(a, b) for a, b in pieces if b - a >= 8 * typical]
    if len(pieces) < 2:
        return [], 0, block.shape[1]
    # the span reaches a segment gap beyond the outer columns' runs: the first strokes of a column's
    # lines hold ink in fewer rows than the threshold (cut there, their first letters were lost)
    x0, x1 = max(0, pieces[0][0] - min_gap), min(block.shape[1], pieces[-1][1] + min_gap)
    span = block[:, x0:x1]
    gutters = [(a - x0, b - x0) for (_, a), (b, _) in zip(pieces, pieces[1:], strict=False)]

    def crosses(band: np.ndarray, strict: bool) -> bool:
        inked = band.any(axis=0)
        runs = _runs(inked, min_gap=min_gap)
        for ga, gb in gutters:
            if any(ga <= sa and sb <= gb for sa, sb in runs):
                return True
            if any(sa < (ga + gb) / 2 < sb for sa, sb in runs):
                # print over the gutter's middle; unless strict, a band still blank down a segment
                # gap's width there (a column's long last line that only reaches into the gutter)
                # does not cross
                blank = _runs(~inked[max(0, ga - min_gap) : gb + min_gap])
                if strict or not any(b - a >= min_gap for a, b in blank):
                    return True
        return False

    def stretches(strict: bool) -> list[tuple[int, int, bool]]:
        out: list[tuple[int, int, bool]] = []
        for a, b in _runs(span.any(axis=1)):
            c = crosses(span[a:b], strict)
            if out and out[-1][2] == c:
                out[-1] = (out[-1][0], b, c)
            else:
                out.append((a, b, c))
        return out

    out = stretches(strict=False)
    if any(not c and b - a >= 6 * typical and not _columns(span[a:b], min_gap, typical) for a, b, c in out):
        out = stretches(strict=True)  # the lenient stretches would not part into columns
    if len(out) < 2 and (x0, x1) == (0, block.shape[1]):
        return [], 0, block.shape[1]
    if not any(not c and b - a >= 6 * typical for a, b, c in out):
        return [], 0, block.shape[1]
    # each stretch runs up to the next one's first row, so no blank row is lost between them
    return (
        [(a, out[k + 1][0] if k + 1 < len(out) else block.shape[0]) for k, (a, _, _) in enumerate(out)],
        x0,
        x1,
    )


def _blocks(ink: np.ndarray, typical: float, gap: float) -> list[tuple[int, int, int, int]]:
    """Blocks (y0, y1, x0, x1) in reading order, by recursive cuts (XY-cut): at rows blank across a
    block (the gap under a title, between a page's sections) and at columns blank down a block.
    A blank column cuts only a column layout: it runs at least 6 lines down, is wider than a
    segment gap, and has text at least 8 line heights wide on both sides, so a receipt's narrow
    column of amounts beside its item names stays on the items' rows."""
    out: list[tuple[int, int, int, int]] = []

    def cut(y0: int, y1: int, x0: int, x1: int, depth: int) -> None:
        block = ink[y0:y1, x0:x1]
        rows = np.flatnonzero(block.any(axis=1))
        cols = np.flatnonzero(block.any(axis=0))
        if rows.size == 0:
            return
        y0, y1, x0, x1 = y0 + int(rows[0]), y0 + int(rows[-1]) + 1, x0 + int(cols[0]), x0 + int(cols[-1]) + 1
        block = ink[y0:y1, x0:x1]
        if depth < 8 and y1 - y0 >= 6 * typical:
            min_gap = max(2, int(round(gap * typical)))
            pieces = _columns(block, min_gap, typical)
            if pieces:
                for a, b in pieces:
                    cut(y0, y1, x0 + a, x0 + b, depth + 1)
                return
            stretches, sx0, sx1 = _spanning_cuts(block, min_gap, typical)
            if stretches:
                for a, b in stretches:
                    cut(y0 + a, y0 + b, x0 + sx0, x0 + sx1, depth + 1)
                return
            bands = _runs(block.any(axis=1), min_gap=max(2, int(round(0.8 * typical))))
            if len(bands) > 1:
                for a, b in bands:
                    cut(y0 + a, y0 + b, x0, x1, depth + 1)
                return
        out.append((y0, y1, x0, x1))

    cut(0, ink.shape[0], 0, ink.shape[1], 0)
    return out


def find_segments(image: Image.Image, *, gap: float = 1.3, relevel: bool = True) -> list[Segment]:
    """Printed segments of `image` in reading order (block by block of a column layout; in a
    block, top to bottom, left to right).

    Example:
        >>> from PIL import Image, ImageDraw
        >>> im = Image.new("L", (300, 80), 255)
        >>> ImageDraw.Draw(im).text((10, 10), "TOTAL", fill=0, font_size=20)
        >>> ImageDraw.Draw(im).text((220, 10), "9.90", fill=0, font_size=20)
        >>> ImageDraw.Draw(im).text((10, 45), "THANK YOU", fill=0, font_size=20)
        >>> [(s.row, s.box[0] < 100) for s in find_segments(im)]
        [(0, True), (0, False), (1, True)]

    `relevel`: a segment more than 1.3 typical lines tall is cut again on its own crop
    (`_lines_within`).
    """
    found = levelled(image, lambda g, i: _upright_segments(g, i, gap))
    if not relevel:
        return [Segment(box, row, quad, block, glyph) for box, row, quad, (block, _, _, glyph) in found]
    out: list[Segment] = []
    shift = 0  # rows added above by tall segments cut into lines
    for row, group in itertools.groupby(found, key=lambda f: f[1]):
        parts: list[tuple[int, int, Segment]] = []  # (line within the row, x, segment)
        added = 0
        for box, _, quad, (block, tall, typical, glyph) in group:
            s = Segment(box, row + shift, quad, block, glyph)
            inner = _lines_within(image, s, gap, typical) if tall else []
            if inner:
                parts += [(t.row, t.box[0], replace(t, row=row + shift + t.row)) for t in inner]
                added = max(added, inner[-1].row)
            else:
                parts.append((0, box[0], s))
        out += [s for _, _, s in sorted(parts, key=lambda p: p[:2])]
        shift += added
    return out


def _lines_within(image: Image.Image, seg: Segment, gap: float, typical: float) -> list[Segment]:
    """The lines of a segment taller than the page's lines, when its own crop, levelled on
    its own, parts into two or more, or into one and slivers (rows renumbered from 0, in page
    coordinates); [] otherwise. A curled receipt tilts its lines by different angles: a block
    turned by its own skew parts lines that the page's one turn left touching. Rows under half the
    tallest's height at the crop's top or bottom edge are slivers of the neighbouring lines, which
    are read on their own: a big title is cut down to its own print."""
    # cut from the segment grown by half a line at its ends and a quarter above and below: a line
    # tilted against the page's turn reaches out of the band the page's cut gave it (a curled
    # receipt's "2017" lost its last figure's top). A row whose middle lies outside the segment
    # itself is a neighbour's, and a row is measured by how much of it lies within the segment.
    # (Growing only segments that part without it left dev receipts where they were: the gain is
    # in single tall lines cut again with their ends; held-out warped full-variety lines lose a
    # little, CER 0.148 -> 0.150.)
    own = seg
    margin = 0.5 * typical
    seg = _grown(seg, margin, 0.5 * margin, image.size)
    crop = seg.crop(image)
    page, row_of = _frame(seg, *crop.size)
    own_y = [row_of(x, y) for x, y in own.page_corners()]  # the segment's own rows in the crop
    top, bottom = min(own_y), max(own_y)
    # the page's typical line height, not the crop's: a crop of one bold line and a sliver of the
    # next would take the sliver for a typical line and split the bold line at its faintest row
    inner = []
    heights: dict[int, float] = {}
    for box, row, quad, _ in levelled(crop, lambda g, i: _upright_segments(g, i, gap, typical)):
        within = min(box[3], bottom) - max(box[1], top)
        if top <= (box[1] + box[3]) / 2 <= bottom:
            inner.append(Segment(box, row, quad))
            heights[row] = max(heights.get(row, 0.0), within)
    if len(heights) < 2:
        return []
    first, last, tallest = min(heights), max(heights), max(heights.values())
    edge = {r for r in (first, last) if heights[r] < 0.5 * tallest}
    rows = sorted(r for r in heights if r not in edge)
    if len(rows) < 2 and not (rows and edge):
        return []
    out = []
    for t in inner:
        if t.row in edge:
            continue
        quad = tuple(round(v, 1) for pt in t.page_corners() for v in page(*pt))
        level = seg.quad is None and t.quad is None
        box = _bounds(quad, image.width, image.height)
        out.append(Segment(box, rows.index(t.row), None if level else quad, seg.block))
    return out


def _frame(seg: Segment, w: float, h: float):
    """For `seg` taken upright as a w x h image (its crop): `page(x, y)`, the page point of the
    image's (x, y) (top-left + x along its top edge + y down its left edge), and `row(px, py)`, the
    image row a page point lies on."""
    (ox, oy), (rx, ry), _, (bx, by) = seg.page_corners()
    ux, uy, vx, vy = (rx - ox) / w, (ry - oy) / w, (bx - ox) / h, (by - oy) / h
    det = ux * vy - vx * uy

    def page(x: float, y: float) -> tuple[float, float]:
        return ox + x * ux + y * vx, oy + x * uy + y * vy

    def row(px: float, py: float) -> float:
        return ((py - oy) * ux - (px - ox) * uy) / det

    return page, row


def _grown(seg: Segment, across: float, updown: float, size: tuple[int, int]) -> Segment:
    """`seg` grown by `across` pixels at each end and `updown` above and below, along its own
    edges (a turned segment stays turned), kept inside the image."""
    (ax, ay), (bx, by), _, (dx, dy) = seg.page_corners()
    w, h = max(1e-6, math.dist((ax, ay), (bx, by))), max(1e-6, math.dist((ax, ay), (dx, dy)))
    page, _ = _frame(seg, w, h)
    corners = [(-across, -updown), (w + across, -updown), (w + across, h + updown), (-across, h + updown)]
    quad = tuple(round(v, 1) for x, y in corners for v in page(x, y))
    box = _bounds(quad, *size)
    if seg.quad is None:
        return replace(seg, box=box)
    return replace(seg, box=box, quad=quad)


def _bounds(quad: Sequence[float], w: int, h: int) -> tuple[int, int, int, int]:
    """The pixel box bounding a quad's corners (x0, y0, x1, y1, ...), inside a w x h image."""
    xs, ys = quad[0::2], quad[1::2]
    return max(0, int(min(xs))), max(0, int(min(ys))), min(w, math.ceil(max(xs))), min(h, math.ceil(max(ys)))


def levelled(
    image: Image.Image, cut, ink: np.ndarray | None = None
) -> list[tuple[tuple[int, int, int, int], int, tuple[float, ...] | None, tuple]]:
    """Run `cut(gray, ink) -> [(box, row, *extra)]` on `image` made level, and give back each box
    on the page as (box, row, quad, extra): a skewed page is turned upright around its centre (on
    its own paper), cut, and each rectangle turned back onto the page (`quad`: its corners; None on
    a level page). `ink`: the image's `_ink`, when the caller has it already. `find_segments` and
    `tasks.tables.table_cells` cut this way."""
    gray = np.asarray(image.convert("L"), np.float32)
    H, W = gray.shape
    if H < 4 or W < 4:
        return []
    ink = _ink(gray) if ink is None else ink
    angle = _skew(ink)
    if angle == 0.0:
        return [(box, row, None, tuple(extra)) for box, row, *extra in cut(gray, ink)]
    level = _turned_gray(gray, angle)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    cx, cy, tx, ty = W / 2, H / 2, level.shape[1] / 2, level.shape[0] / 2

    def back(x: float, y: float) -> tuple[float, float]:
        # inverse of PIL's counter-clockwise turn about the centres (y down)
        dx, dy = x - tx, y - ty
        return (cx + dx * c - dy * s, cy + dx * s + dy * c)

    out = []
    for (x0, y0, x1, y1), row, *extra in cut(level, _ink(level)):
        quad = tuple(round(v, 1) for pt in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)) for v in back(*pt))
        box = _bounds(quad, W, H)
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            out.append((box, row, quad, tuple(extra)))
    return out


def _turned_gray(gray: np.ndarray, angle: float) -> np.ndarray:
    """A grey image turned by `angle` degrees (counter-clockwise, `Image.rotate`) about its centre,
    grown to hold all of it, its new corners filled with its paper (90th percentile grey)."""
    paper = int(np.percentile(gray, 90))
    turned = Image.fromarray(gray.astype(np.uint8)).rotate(
        angle, Image.BILINEAR, expand=True, fillcolor=paper
    )
    return np.asarray(turned, np.float32)


def _skew(ink: np.ndarray) -> float:
    """The angle in degrees (counter-clockwise, as `Image.rotate` takes it) that levels the page's
    lines: the turn of -5..5 degrees whose row profile of ink is sharpest (largest sum of squared
    row counts: level lines give tall peaks and empty gaps), searched in half degrees and then in
    tenths; 0 when the best turn is under 0.3 degrees or beats level by less than 2%. For angles
    this small a turn moves a pixel's row by -x sin(angle), so each profile is one `bincount` of
    the ink pixels (at most 400,000 of them, evenly sampled) at full resolution."""
    ys, xs = np.nonzero(ink)
    if ys.size < 50:
        return 0.0
    step = max(1, ys.size // 400_000)
    ys, xs = ys[::step].astype(np.float64), xs[::step].astype(np.float64)
    shift = ink.shape[1] * math.sin(math.radians(5.5)) + 1

    def sharpness(a: float) -> float:
        rows = np.bincount(np.round(ys - xs * math.sin(math.radians(a)) + shift).astype(np.int64))
        return float((rows.astype(np.float64) ** 2).sum())

    coarse = {a: sharpness(a) for a in np.arange(-5.0, 5.01, 0.5)}
    best = max(coarse, key=coarse.get)
    fine = {a: sharpness(a) for a in np.arange(best - 0.4, best + 0.41, 0.1)}
    best = max(fine, key=fine.get)
    if abs(best) < 0.3 or fine[best] < 1.02 * coarse[0.0]:
        return 0.0
    return round(float(best), 2)


def _upright_segments(
    gray: np.ndarray, ink: np.ndarray, gap: float, typical: float | None = None
) -> list[tuple[tuple[int, int, int, int], int, int, bool, float, str]]:
    """`find_segments` on a level page: (box, row, block, tall, typical, glyph) per segment; `tall`: its
    print is more than 1.3 typical lines tall; `typical`: the typical line height, measured when not
    given; `glyph`: ":" for a colon standing alone (`_colons_placed`), "" otherwise."""
    H, W = gray.shape
    typical = typical or _typical_height(ink)
    if typical is None:
        return []
    # vertical strokes far taller than a line are no glyph's: the broken edge of a photographed or
    # scanned sheet, a table's or a frame's border. Measured across the thin rules they cross
    # (`_crossings`): `_ink` takes a table's rules out, and with them the pixels where they cross
    # its borders, so a border was cut into one stroke a row tall per cell, each read "1" beside
    # the cells' text (17 on one held-out page)
    rules = _long_rules(_grainless(gray))
    crossed = ink | _crossings(ink, rules)
    printed = _printed_rules(gray, rules)
    ink = ink & ~_long_runs(crossed.T, max(8, int(2.5 * typical))).T
    lines: list[tuple[np.ndarray, int, int, int, int]] = []  # (block's ink, its x0, y0, line rows a, b)
    blocks: list[int] = []  # each line's block
    for k, (by0, by1, bx0, bx1) in enumerate(_blocks(ink, typical, gap)):
        sub = ink[by0:by1, bx0:bx1]
        profile = sub.sum(axis=1).astype(np.float32)
        ruled = printed[by0:by1, bx0:bx1]
        for a, b in (_rules_apart(sub, *band, typical, ruled) for band in _bands(sub)):
            for x, y in _split_tall(profile, a, b, typical):
                if y - x >= 4:
                    lines.append((sub, bx0, by0, x, y))
                    blocks.append(k)
    # a segment gap must be clearly wider than the page's own word spaces: a wide monospaced face
    # spaces its capitals by more than 1.2 line heights, where the dense print of a real receipt
    # spaces them by about half a height
    spaces = [s for sub, _, _, a, b in lines for s in _word_spaces(sub[a:b])]
    gap = max(gap, 1.5 * float(np.median(spaces))) if len(spaces) >= 8 else gap
    rows: list[list[tuple[tuple[int, int, int, int], bool, bool]]] = []  # per line: (box, a sliver, tall)
    for sub, bx0, by0, a, b in lines:
        boxes = [
            (
                (max(0, x0 + bx0 - px), max(0, y0 + by0 - py), min(W, x1 + bx0 + px), min(H, y1 + by0 + py)),
                x1 - x0 < 0.45 * (y1 - y0),
                y1 - y0 > 1.3 * typical,
                glyph,
            )
            for x0, y0, x1, y1, px, py, glyph in _line_segments(sub, a, b, typical, gap)
        ]
        rows.append(
            [(bx, n, t, g) for bx, n, t, g in boxes if not _is_blob(ink[bx[1] : bx[3], bx[0] : bx[2]])]
        )
    _split_colons_joined(ink, rows, blocks, typical)
    # slivers of ink (as narrow as a "1") outside the span of the page's text, a line height or
    # more beyond it, are pieces of the sheet's edge, not print: a quantity "1" on a receipt stands
    # among the text
    wide = [bx for r in rows for bx, n, _, _ in r if not n and bx[2] - bx[0] >= 2 * (bx[3] - bx[1])]
    if len(wide) >= 3:
        left = np.percentile([bx[0] for bx in wide], 5) - typical
        right = np.percentile([bx[2] for bx in wide], 95) + typical
        rows = [[s for s in r if not (s[1] and (s[0][2] < left or s[0][0] > right))] for r in rows]
    out: list[tuple[tuple[int, int, int, int], int, int, bool, float, str]] = []
    for r, k in zip(rows, blocks, strict=True):
        if r:
            row = out[-1][1] + 1 if out else 0
            out += [(bx, row, k, t, typical, g) for bx, _, t, g in r]
    return out


def _word_spaces(line: np.ndarray) -> list[float]:
    """Blank runs between the words of a line, in line heights: runs wider than 0.3 of the height
    (gaps between letters and between a dotted glyph's dots are narrower) and narrower than 3."""
    h = line.shape[0]
    runs = _runs(line.any(axis=0), min_gap=max(2, int(round(0.3 * h))))
    return [(c - b) / h for (_, b), (c, _) in zip(runs, runs[1:], strict=False) if c - b < 3 * h]


def _line_segments(ink: np.ndarray, a: int, b: int, typical: float, gap: float) -> list[tuple[int, ...]]:
    """The segments of the line in rows [a, b) of `ink`: their ink boxes (x0, y0, x1, y1), the
    margins (across, up and down) to add around them, and ":" for a colon standing alone ("" for
    the others; `_colons_placed`)."""
    h = b - a
    cols = ink[a:b].any(axis=0)
    kept = []
    for x0, x1 in _runs(cols, min_gap=max(2, int(round(gap * h)))):
        block = ink[a:b, x0:x1]
        rows = np.flatnonzero(block.any(axis=1))
        if block.sum() < 6 or rows.size == 0:
            continue
        y0, y1 = a + int(rows[0]), a + int(rows[-1]) + 1
        sh = y1 - y0
        if sh < 3 or (sh < 0.4 * typical and x1 - x0 > 3 * typical):
            continue  # a rule or a dashed line
        if _is_barcode(ink[y0:y1, x0:x1]):
            continue
        if x1 - x0 > 3 * typical and np.percentile(block.sum(axis=0), 98) <= 0.3 * typical:
            continue  # a curled or wavy rule: no column holds more than a stroke's thickness of ink
        kept.append((x0, y0, x1, y1, *margins(sh)))
    return _colons_placed(ink, kept, typical)


# a colon standing apart from the word before it (a receipt's keys with their colons in a column:
# "Total      :") is joined to that word when no more than this many line heights lie between them
COLON_REACH = 3.0


def _colons_placed(ink: np.ndarray, kept: list[tuple[int, ...]], typical: float) -> list[tuple[int, ...]]:
    """`_line_segments`' segments with each colon that stands alone (`_is_colon`) joined to the
    segment before it within `COLON_REACH` line heights, or else marked as a colon (a seventh
    element ":"; "" for every other segment). The line reader, trained on lines, reads a lone colon
    as "1" or "4" (session 31: a real receipt's colon column), and reads "Address :" whole."""
    out: list[tuple[int, ...]] = []
    for x0, y0, x1, y1, px, py in kept:
        if not _is_colon(ink[y0:y1, x0:x1], typical):
            out.append((x0, y0, x1, y1, px, py, ""))
            continue
        if out and not out[-1][6] and x0 - out[-1][2] <= COLON_REACH * typical:
            a0, b0, _, b1, pa, pb, _ = out[-1]
            top, bottom = min(b0, y0), max(b1, y1)
            out[-1] = (
                a0,
                top,
                x1,
                bottom,
                *((pa, pb) if (top, bottom) == (b0, b1) else margins(bottom - top)),
                "",
            )
            continue
        out.append((x0, y0, x1, y1, px, py, ":"))
    return out


def _split_colons_joined(ink: np.ndarray, rows: list[list[tuple]], blocks: list[int], typical: float) -> None:
    """A colon with no other print on its line falls apart into two lines of one dot each (the
    blank rows between its dots part the band): each such pair of lines (one segment each, a box
    with its margins, a sliver flag, a tall flag and a glyph) whose ink together is a colon
    (`_is_colon`) becomes one lone colon on the first line, and the second line is emptied."""
    H, W = ink.shape
    for i in range(len(rows) - 1):
        if len(rows[i]) != 1 or len(rows[i + 1]) != 1 or blocks[i] != blocks[i + 1]:
            continue
        (a, _, _, ga), (b, _, _, gb) = rows[i][0], rows[i + 1][0]
        if ga or gb or b[1] - a[3] > 0.6 * typical:
            continue
        x0, y0, x1, y1 = min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
        sub = ink[y0:y1, x0:x1]
        ys, xs = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
        if not len(ys):
            continue
        y0, y1, x0, x1 = y0 + int(ys[0]), y0 + int(ys[-1]) + 1, x0 + int(xs[0]), x0 + int(xs[-1]) + 1
        if _is_colon(ink[y0:y1, x0:x1], typical):
            px, py = margins(y1 - y0)
            box = (max(0, x0 - px), max(0, y0 - py), min(W, x1 + px), min(H, y1 + py))
            rows[i], rows[i + 1] = [(box, True, False, ":")], []


def _is_colon(ink: np.ndarray, typical: float) -> bool:
    """Whether the ink of a segment's box is a colon: two dots one above the other, each no taller
    than 40% of the pair (an "i" or a "!" has a stroke that is) and about as wide as tall (an "="
    has bars), of about the same height (a ";" has a tail under its dot), together narrower than
    half a line and from a third to 1.2 lines tall."""
    h, w = ink.shape
    if w > 0.5 * typical or not 0.3 * typical <= h <= 1.2 * typical:
        return False
    dots = _runs(ink.any(axis=1))
    if len(dots) != 2 or dots[1][0] - dots[0][1] < 0.2 * h:
        return False
    sizes = []
    for a, b in dots:
        cols = np.flatnonzero(ink[a:b].any(axis=0))
        dw, dh = int(cols[-1] - cols[0] + 1), b - a
        if dh > 0.4 * h or dw > 1.8 * dh + 1 or dh > 1.8 * dw + 1:
            return False
        sizes.append(dh)
    return max(sizes) <= 1.25 * min(sizes) + 1


# the widest (in crop heights) that a first or last piece lying off the line's paper is left out at
EDGE_PIECE = 1.5


def pieces(crop: Image.Image, max_aspect: float = PIECE_ASPECT) -> list[Image.Image]:
    """A segment's crop cut at word spaces into pieces at most `max_aspect` times as wide as its
    print is tall (a line reader reads a short piece better than a long line: see PIECE_ASPECT); the
    crop itself when it is short enough or has no word space to cut at. The print's height is the
    run of rows holding at least a fifth of the inkiest row's ink that holds the most ink (about
    the x-height: a neighbour's sliver or a rule above or below is left out); spaces are columns of
    that run with neither ink nor any pixel darker than its paper (`_dark`: the specks the ink's
    grain filter drops count, and the decimal point of small print is one: cut through, "90.27" was
    read "90 27"), at least 0.35 of its height wide; each cut is at the widest space in the second
    half of the width a piece may have (else the last space within it). A first or last piece that
    is only the edge of the panel the line is printed on, or lies off its paper, is left out."""
    h, w = crop.height, crop.width
    if max_aspect <= 0 or w <= max_aspect * h / 3 or h < 8:  # the print is at most the crop's height
        return [crop]
    gray = np.asarray(crop.convert("L"), np.float32)
    dark = _dark(gray)
    ink = _ink(gray, dark=dark)
    rows = ink.sum(axis=1)
    if rows.max() == 0:
        return [crop]
    # the run of rows holding a fifth of the inkiest row's ink that holds the most ink: the print,
    # not a rule the crop's margin took in under it (its one row is the inkiest: "TAX INVOICE" was
    # cut into pieces 3 rule rows wide, read "-0.02 1 X INVOICE")
    t0, t1 = max(_runs(rows >= 0.2 * rows.max()), key=lambda r: rows[r[0] : r[1]].sum())
    th = t1 - t0
    if w <= max_aspect * th:
        return [crop]
    blank = ~(ink | dark)[t0:t1].any(axis=0)  # `dark` is `ink` before the grain filter (and rules)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], blank.view(np.int8), [0]))))
    spaces = [
        (int((a + b) // 2), int(b - a))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if b - a >= 0.35 * th and 0 < a and b < w
    ]
    cuts, pos, limit = [0], 0, max_aspect * th
    while w - pos > limit:
        # the widest space in the second half of the reach (a gap between two letters, "1 1", is
        # narrower than a word space), else the last one within reach
        late = [s for s in spaces if pos + limit / 2 < s[0] <= pos + limit]
        inside = (
            [max(late, key=lambda s: (s[1], s[0]))]
            if late
            else [s for s in spaces if pos < s[0] <= pos + limit]
        )
        if not inside:  # no space within reach: cut at the next one, or not at all
            inside = [s for s in spaces if s[0] > pos + limit][:1]
            if not inside:
                break
        pos = inside[-1][0]
        cuts.append(pos)
    cuts.append(w)
    spans = list(zip(cuts, cuts[1:], strict=False))
    # a first or last piece no wider than the crop is tall whose ink runs into the crop's top or
    # bottom row (print keeps a margin there) is the edge of the box or panel the line is printed
    # on, not print (read, it was a "1" after the line)
    # So is one up to `EDGE_PIECE` times as wide as the crop is tall that lies mostly off the line's
    # paper (its median grey 40 levels off the crop's) with ink in at most a quarter of its
    # columns: the panel's border and the ground past it (read, it was a "指" after the line; and a
    # "1" after 4 of 400 held-out lines when it was only left out up to the crop's height)
    paper = np.median(gray)

    def off_paper(a: int, b: int) -> bool:
        return abs(np.median(gray[:, a:b]) - paper) >= 40 and ink[:, a:b].any(axis=0).mean() <= 0.25

    edge = [
        (a, b)
        for a, b in (spans[0], spans[-1])
        if (b - a <= h and (ink[0, a:b].any() or ink[-1, a:b].any()))
        or (b - a <= EDGE_PIECE * h and off_paper(a, b))
    ]
    return [crop.crop((a, 0, b, h)) for a, b in [s for s in spans if s not in edge] or spans]


def page_segments(image: Image.Image, *, gap: float = 1.3) -> list[Segment]:
    """`find_segments`, except that an image that is already one line is one segment: a line
    crop, perhaps with a wide margin or slivers of its neighbours (at most 3 lines, only one of them
    at least 60% as tall as the tallest) is cut down to its line's segments and a margin (0.3 of the
    line's height across, 0.2 up and down), since a wide margin only shrinks the print of a reader
    that reads at one line height and a sliver becomes invented text; an image at most 3 times as
    tall as its tallest segment (a line on a coloured or textured ground, whose patches the cutter
    takes for more lines: 19 of the 29 held-out full-variety single lines the cutter split, while
    the 31 multi-line crops there are 3.3 to 16 times as tall as their tallest line) and a
    line-sized image (at most 200 px tall) in which no segment was found are read whole. Either
    way a line whose neighbours touch it (no empty row between them) is then cut out of them at
    the valleys of its ink (`_middle_line`). An image at most `LINE_IMAGE` tall whose strokes are
    one band (`_one_band`) is one segment too, cut down to its print (`_within_panel`)."""
    segs = find_segments(image, gap=gap)
    whole = (0, 0, image.width, image.height)
    if not segs:
        # nothing found on a line-sized image: the cutter missed faint or tiny print, the reader may not
        return [Segment(whole, 0)] if image.height <= 200 else []
    rows: dict[int, int] = {}
    for s in segs:
        rows[s.row] = max(rows.get(s.row, 0), s.box[3] - s.box[1])
    tallest = max(rows.values())
    one_line = len(rows) <= 3 and sum(h >= 0.6 * tallest for h in rows.values()) == 1
    if one_line:
        # the line's own segments, with a margin: a wide margin around it only shrinks the print
        main = [s.box for s in segs if rows[s.row] == tallest]
        x0, y0 = min(b[0] for b in main), min(b[1] for b in main)
        x1, y1 = max(b[2] for b in main), max(b[3] for b in main)
        mx, my = round(0.3 * tallest), round(0.2 * tallest)
        box = (max(0, x0 - mx), max(0, y0 - my), min(image.width, x1 + mx), min(image.height, y1 + my))
        return [_within_panel(image, _middle_line(image, box))]
    if image.height <= 3 * tallest:
        return [_within_panel(image, _middle_line(image, whole))]
    if image.height <= LINE_IMAGE and _one_band(np.asarray(image.convert("L"), np.float32), segs):
        return [_within_panel(image, Segment(whole, 0))]
    return segs


LINE_IMAGE = 400  # px: the tallest image `page_segments` takes for one line by its strokes (`_one_band`)
ONE_BAND = 0.4


def _one_band(gray: np.ndarray, segs: Sequence[Segment] = ()) -> bool:
    """Whether the print of a grey image is one line by its strokes' edges (`_steps`), whatever
    its ground: levelled by their own skew, no row beyond the print's band (`_print_band`, and 0.3
    of its height around it) holds `ONE_BAND` of the steps of the band's busiest row. (The cutter
    takes the patches of a coloured ground for more lines: on the held-out line sets, the 41 single
    lines it cut so reach at most 0.27, the 32 crops of two lines or more at least 0.57.) Nor may
    any of the cutter's segments `segs` centred beyond it be print: at least half the band's height
    and as wide as tall (a ground's specks and a panel's corners are narrower), its strokes' edges
    at least half as dense as the band's (a short last line, "ok" under a long one, steps in few of
    the rows' columns)."""
    if min(gray.shape) < 8:
        return False
    page_steps = _steps(gray)
    H, W = gray.shape
    angle = _skew(page_steps)
    level = _turned_gray(gray, angle) if angle else gray
    steps = _steps(level) if angle else page_steps
    band = _print_band(level, edges=steps)
    if band is None:
        return False
    profile = np.convolve(steps.sum(1).astype(np.float32), np.ones(3, np.float32) / 3, mode="same")
    x0, y0, x1, y1 = band
    reach = 0.3 * (y1 - y0)
    rows = np.arange(profile.size)
    beyond = profile[(rows < y0 - reach) | (rows >= y1 + reach)]
    if beyond.size and float(beyond.max()) >= ONE_BAND * float(profile.max()):
        return False
    density = float(steps[y0:y1, x0:x1].mean())
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    for seg in segs:
        sx0, sy0, sx1, sy1 = seg.box
        # the segment's centre on the levelled image (Image.rotate turns about the centres)
        dx, dy = (sx0 + sx1) / 2 - W / 2, (sy0 + sy1) / 2 - H / 2
        row = level.shape[0] / 2 - dx * s + dy * c
        if y0 - reach <= row < y1 + reach or sy1 - sy0 < 0.5 * (y1 - y0) or sx1 - sx0 < sy1 - sy0:
            continue
        if float(page_steps[sy0:sy1, sx0 : max(sx0 + 1, sx1 - 1)].mean()) >= 0.5 * density:
            return False
    return True


PANEL_SHRINK = 0.6
PANEL_SIDE = 0.6  # a column of `_print_band`'s steps stepping in this share of the rows or more
PANEL_MARGIN = (0.3, 0.2)  # across and up and down, in heights of the print's band


def _within_panel(image: Image.Image, seg: Segment) -> Segment:
    """A single line's segment cut down to its print when the print is a band well inside it: a
    line printed on a panel of colour (a sign, a label, a highlighted word) over another ground is
    found by its darkness as the whole panel, and read at one line height the panel's print is
    small. The print is found by its strokes' edges instead (`_print_band`); its box, with the
    usual margin, is taken when it is under `PANEL_SHRINK` of the segment's height (a wide margin
    around a line on the paper itself is cut down the same way; the rows of its darkness near the
    band are kept whole). A turned segment is searched upright (its crop) and stays turned; a level
    one whose strokes' edges lie skewed (`_skew` of them: the panel's darkness hid the print's
    slant from the cutter) is searched turned along them, and turned if cut."""
    if seg.quad is None:
        gray = np.asarray(image.crop(seg.box).convert("L"), np.float32)
        angle = _skew(_steps(gray)) if gray.shape[0] >= 8 and gray.shape[1] >= 8 else 0.0
        if angle:
            cut = _cut_to_print(image, _turned(seg, angle, image.size), seg.box[3] - seg.box[1])
            if cut is not None:
                return cut
    return _cut_to_print(image, seg) or seg


def _turned(seg: Segment, angle: float, size: tuple[int, int]) -> Segment:
    """Level `seg`'s box as a rectangle turned by `angle` (`_skew`'s degrees) about its centre,
    large enough to hold all of the box, on an image of `size`."""
    x0, y0, x1, y1 = seg.box
    w, h = x1 - x0, y1 - y0
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    across, updown = (w * c + h * abs(s)) / 2, (h * c + w * abs(s)) / 2
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    # along the print (c, s), down across it (-s, c): a level row runs along y = r + x * s
    quad = tuple(
        round(v, 1)
        for a, d in ((-across, -updown), (across, -updown), (across, updown), (-across, updown))
        for v in (mx + a * c - d * s, my + a * s + d * c)
    )
    return replace(seg, box=_bounds(quad, *size), quad=quad)


def _cut_to_print(image: Image.Image, seg: Segment, height_of: int | None = None) -> Segment | None:
    """`_within_panel`'s cut of `seg` (its crop, upright) to its print's band and margin; None when
    there is no band or it is not under `PANEL_SHRINK` of `height_of` (default: the crop's height)."""
    crop = seg.crop(image) if seg.quad is not None else image.crop(seg.box)
    gray = np.asarray(crop.convert("L"), np.float32)
    h, w = gray.shape
    limit = PANEL_SHRINK * (height_of or h)
    edges = _steps(gray) if min(h, w) >= 8 else None  # both bands below look at the same steps
    band = _print_band(gray, edges=edges)
    if band is None or band[3] - band[1] >= limit:
        band = _print_band(gray, sides=True, edges=edges)  # a panel's sides may have held the band open
    if band is None or band[3] - band[1] >= limit:
        return None
    bx0, by0, bx1, by1 = band
    height = by1 - by0
    # print on the paper itself is its darkness, whose rows the band may miss a little of (round
    # tops have few steps): they are taken in; a panel's dark ground reaching far beyond is not
    dark = np.nonzero(_dark(gray).any(1))[0]
    if dark.size and dark[0] >= by0 - 0.25 * height and dark[-1] < by1 + 0.25 * height:
        by0, by1 = min(by0, int(dark[0])), max(by1, int(dark[-1]) + 1)
        height = by1 - by0
    mx, my = round(PANEL_MARGIN[0] * height), round(PANEL_MARGIN[1] * height)
    x0, y0, x1, y1 = max(0, bx0 - mx), max(0, by0 - my), min(w, bx1 + mx), min(h, by1 + my)
    if seg.quad is None:
        return replace(seg, box=(seg.box[0] + x0, seg.box[1] + y0, seg.box[0] + x1, seg.box[1] + y1))
    page, _ = _frame(seg, w, h)
    quad = tuple(round(v, 1) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)) for v in page(x, y))
    return replace(seg, box=_bounds(quad, image.width, image.height), quad=quad)


def _steps(g: np.ndarray) -> np.ndarray:
    """The pixels of a grey crop `g` (but its last column) whose grey level steps across, to their
    right neighbour, by more than 0.35 of the crop's strongest steps (its 99.5th percentile, at
    least 12 levels): the edges of print's strokes, whatever its ground."""
    step = np.abs(np.diff(g, axis=1))
    return step > max(12.0, 0.35 * float(np.percentile(step, 99.5)))


def _print_band(
    g: np.ndarray, sides: bool = False, edges: np.ndarray | None = None
) -> tuple[int, int, int, int] | None:
    """The box of a line's print in a grey crop `g` by the edges of its strokes (`_steps`),
    whatever its ground. The print's rows are those around
    the row of most steps that keep a quarter of its steps, widened to those keeping 6% (ascenders
    and descenders, at most 0.6 of the band each way); its columns are the runs of stepping
    columns in those rows, parted where more than 0.8 of the band is blank, kept from the run of
    most steps outwards while the next run is within 1.5 of the band, and a panel's edge (a run at
    most 0.15 of the band wide, stepping in 80% of its rows) left out. None when nothing steps.
    `sides`: the columns stepping in `PANEL_SIDE` of all rows or more are left out first (a panel's
    or frame's sides, which hold the band open above and below the print), and None unless one of
    them steps in half the rows above the band and half below (a letter's stems in a tight crop
    step as often, but end at the band); `_cut_to_print` asks for this only when the plain band
    cuts nothing. `edges`: `_steps(g)`, when the caller has it already."""
    h, w = g.shape
    if h < 8 or w < 8:
        return None
    edges = _steps(g) if edges is None else edges
    side = np.zeros(w - 1, bool)
    if sides:
        # a panel's or frame's sides step in most rows: left out, or they hold the band open above
        # and below the print
        side = edges.mean(axis=0) >= PANEL_SIDE
        steps, edges = edges, edges & ~side
    profile = np.convolve(edges.sum(1).astype(np.float32), np.ones(3, np.float32) / 3, mode="same")
    peak = int(np.argmax(profile))
    if profile[peak] < 4:
        return None

    def grown(a: int, b: int, level: float, reach: int) -> tuple[int, int]:
        a0, b0 = a, b
        while a > 0 and profile[a - 1] >= level and a0 - a < reach:
            a -= 1
        while b < h - 1 and profile[b + 1] >= level and b - b0 < reach:
            b += 1
        return a, b

    a, b = grown(peak, peak, 0.25 * profile[peak], h)
    a, b = grown(a, b, 0.06 * profile[peak], max(2, int(0.6 * (b - a + 1))))
    if side.any():
        # sides run on past the band above and below it; a letter's stems (a tight crop's "ll")
        # end at it on one side at least: then there is no band without them
        above, below = steps[:a].mean(axis=0) if a else 0, steps[b + 1 :].mean(axis=0) if b < h - 1 else 0
        if not (side & (above >= 0.5) & (below >= 0.5)).any():
            return None
    band = b - a + 1
    cols = edges[a : b + 1].sum(0)
    on = np.nonzero(cols)[0]
    runs: list[tuple[int, int]] = []
    for c in on:
        if runs and c - runs[-1][1] <= max(3, int(0.8 * band)):
            runs[-1] = (runs[-1][0], int(c))
        else:
            runs.append((int(c), int(c)))
    runs = [
        r
        for r in runs
        if not (r[1] - r[0] + 1 <= max(2, 0.15 * band) and cols[r[0] : r[1] + 1].max() >= 0.8 * band)
    ] or runs
    k = max(range(len(runs)), key=lambda i: float(cols[runs[i][0] : runs[i][1] + 1].sum()))
    i = j = k
    while i > 0 and runs[i][0] - runs[i - 1][1] <= 1.5 * band:
        i -= 1
    while j < len(runs) - 1 and runs[j + 1][0] - runs[j][1] <= 1.5 * band:
        j += 1
    return runs[i][0], a, runs[j][1] + 2, b + 1


LINE_VALLEY = 0.3


def _deep(smooth: np.ndarray, i: int, j: int) -> bool:
    """Whether the valley `smooth[i..j]` (a flat run of a smoothed row profile) is at most
    `LINE_VALLEY` of the lower of the peaks either side of it, each the highest row before the
    profile falls below the valley again (its prominence: an ascenders' zone is no valley below the
    patch on a line's coloured ground)."""
    v = smooth[i]
    left, right = smooth[:i][::-1], smooth[j + 1 :]
    peaks = []
    for side in (left, right):
        lower = np.nonzero(side < v)[0]
        reach = side[: lower[0]] if lower.size else side
        peaks.append(float(reach.max()) if reach.size else 0.0)
    return min(peaks) > 0 and v <= LINE_VALLEY * min(peaks)


def _middle_line(image: Image.Image, box: tuple[int, int, int, int]) -> Segment:
    """The line in the middle of a line crop's `box` whose neighbours touch it (the cutter found no
    empty row between them): the row profile of its ink, levelled by the crop's own skew, is cut at
    every valley no higher than `LINE_VALLEY` of the lower of the peaks either side, and the band
    the crop's middle falls in is kept, as a turned rectangle when the crop is skewed; print is
    cut away above or below only when it reaches the box's edge there (a neighbour the box cuts
    off). The whole box when no valley parts it, or when that band is under 0.8 of the tallest
    band (a piece of the line, not all of it)."""
    gray = np.asarray(image.crop(box).convert("L"), np.float32)
    ink = _ink(gray)
    ys, xs = np.nonzero(ink)
    if ys.size < 20:
        return Segment(box, 0)
    rise = math.sin(math.radians(_skew(ink)))  # a level row r runs along y = r + x * rise
    level = np.round(ys - xs * rise).astype(np.int64)
    top = int(level.min())
    profile = np.bincount(level - top).astype(np.float32)
    smooth = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    cuts, i, n = [], 1, len(smooth)
    while i < n - 1:
        j = i
        while j + 1 < n - 1 and smooth[j + 1] == smooth[i]:
            j += 1  # a flat valley: its middle
        if smooth[i] <= smooth[i - 1] and smooth[j] <= smooth[j + 1] and _deep(smooth, i, j):
            cuts.append((i + j) // 2)
        i = j + 1
    if not cuts:
        return Segment(box, 0)
    edges = [0, *cuts, n]
    bands = list(itertools.pairwise(edges))
    w, h = box[2] - box[0], box[3] - box[1]
    middle = h / 2 - w / 2 * rise - top
    a, b = min(bands, key=lambda ab: max(ab[0] - middle, middle - ab[1], 0.0))
    if b - a < 0.8 * max(y1 - y0 for y0, y1 in bands):
        return Segment(box, 0)
    # only print that the box's edge cuts off is a neighbour's sliver: a valley between print in
    # the box's margin and the rest is inside the line (the waist of "5321", capitals over a sparse
    # middle)
    above, below = ys[level - top < a], ys[level - top >= b]
    if not above.size or above.min() > 1:
        a = 0
    if not below.size or below.max() < h - 2:
        b = n
    if (a, b) == (0, n):
        return Segment(box, 0)
    a, b = a + top, b + top
    x0, y0 = box[0], box[1]
    if rise == 0.0:
        return Segment((x0, max(0, y0 + a), box[2], min(image.height, y0 + b)), 0)
    quad = (x0, y0 + a, x0 + w, y0 + a + w * rise, x0 + w, y0 + b + w * rise, x0, y0 + b)
    edge = quad[1::2]
    bound = (x0, max(0, math.floor(min(edge))), box[2], min(image.height, math.ceil(max(edge))))
    return Segment(bound, 0, tuple(float(v) for v in quad))


def task_segments(task: str, image: Image.Image) -> list[Segment]:
    """What a line reader reads of `image` for `task`: a table's cells (`tasks.tables.table_cells`),
    a page's segments with the tables on it as cells (document: `tasks.tables.with_tables`;
    spotting: only the tables framed by rules), or the page's segments (`page_segments`)."""
    if task == "table":
        from hyocr.tasks.tables import table_cells

        return list(table_cells(image))
    if task in ("document", "spotting"):
        from hyocr.tasks.tables import with_tables

        # spotting: a framed table's cells are boxes of their own, as the data engine's pages and
        # the release spot them (their print is often closer than the cutter's segment gap)
        return with_tables(page_segments(image), image, framed_only=task == "spotting")
    return page_segments(image)


@dataclass
class SegmentAnswer:
    """What the model answered for one segment crop (the text instruction)."""

    text: str
    logprobs: Sequence[float] = field(default_factory=list)
    repetition_cut: bool = False
    truncated: bool = False

    @classmethod
    def of(cls, reading, cut_short: Sequence[str] = ("length",)) -> SegmentAnswer:
        """From an engine `Generation` or a server `Completion`; truncated when its finish reason
        is one of `cut_short`."""
        return cls(reading.text, reading.logprobs, reading.repetition_cut, reading.finish_reason in cut_short)


def segment_crops(
    segs: Sequence[Segment], image: Image.Image, max_aspect: float = PIECE_ASPECT
) -> tuple[list[Image.Image], list[int]]:
    """The crops to read for `segs` of `image` (each segment's `pieces`; none for a segment whose
    `glyph` the cutter knows) and, for each crop, the number of its segment (what `joined` needs
    to put the answers back together)."""
    crops: list[Image.Image] = []
    owner: list[int] = []
    for n, s in enumerate(segs):
        if s.glyph:
            continue
        parts = pieces(upright_print(s.crop(image)), max_aspect)
        crops += parts
        owner += [n] * len(parts)
    return crops, owner


def _lighter_print(g: np.ndarray) -> bool:
    """Whether the print of grey pixels `g` is lighter than their ground (the median): the
    brightest (95th percentile) lie further from it than the darkest (5th), by 30 grey levels."""
    lo, med, hi = np.percentile(g, (5, 50, 95))
    return hi - med > med - lo + 30


def _dark_edge(g: np.ndarray) -> bool:
    """Whether the top or the bottom row of grey pixels `g` (their middle 80%) is dark: nearer the
    darkest (5th percentile) of `g` than its brightest (95th). A crop of a dark band running off it
    has the band along one edge at least; a tight crop of bold dark print has paper along both."""
    w = g.shape[1]
    rows = g[[0, -1], w // 10 : w - w // 10] if w >= 10 else g[[0, -1]]
    lo, hi = np.percentile(g, (5, 95))
    return float(np.median(rows, axis=1).min()) < (lo + hi) / 2


def _enclosed_light(g: np.ndarray) -> bool:
    """Whether most light pixels of the middle half of the rows of grey pixels `g` are shut in by
    dark ones: not reached from the crop's edges through light pixels. Light print on a band with
    paper around it is shut in by the band; the paper between bold dark letters reaches the edges
    past them (of the crops `upright_print` takes below: 0.00-0.36 of the light reached on bands,
    0.63-0.99 between bold letters)."""
    lo, hi = np.percentile(g, (5, 95))
    light = g > (lo + hi) / 2
    h = light.shape[0]
    # (a copy: an image made from an array is read-only, and the fill would be lost)
    mask = Image.fromarray(np.pad(light, 1, constant_values=True).astype(np.uint8) * 255).copy()
    ImageDraw.floodfill(mask, (0, 0), 128)  # the light reached from the edges (a light frame round it)
    shut = np.asarray(mask)[1:-1, 1:-1] == 255
    middle = slice(h // 4, h - h // 4)
    return int(shut[middle].sum()) * 2 > int(light[middle].sum())


def upright_print(crop: Image.Image) -> Image.Image:
    """`crop` as dark print on a light ground: inverted when its print is lighter than its ground
    (light print on a dark band) both in the whole crop and in its middle (the middle half of its
    rows, 80% of its columns), and the band shows: along its top or bottom edge (`_dark_edge`), or
    round its light print (`_enclosed_light`). The whole crop alone takes a line on a white box cut
    out of a page on a coloured ground for light print (the ground is most of it); the middle
    alone, or both, a tight crop of bold print (its strokes are most of it: a receipt's "HUA BOOK
    STORE" in heavy italics was read inverted, "TUTCONSET ONT", and left out). Of the crops the
    cutter made of 60 held-out receipts, 20 pages, 20 Markdown pages, 20 Chinese pages, 40 Chinese
    receipts and 40 training-face receipts, 29 that were read inverted are now read as they are, all
    dark print on paper; of the crops of the 4,339 images of the nine line sets, one, a band with no
    print; of the 40 real receipts', none."""
    g = np.asarray(crop.convert("L"))
    h, w = g.shape
    middle = g[h // 4 : h - h // 4, w // 10 : w - w // 10] if h >= 4 and w >= 10 else g
    if not (_lighter_print(g) and _lighter_print(middle) and (_dark_edge(g) or _enclosed_light(g))):
        return crop
    return ImageOps.invert(crop.convert("RGB"))


def answer_confidence(logprobs: Sequence[float]) -> float:
    """An answer's confidence (`parse.geo_mean_probability`), 0 with no tokens."""
    return geo_mean_probability(logprobs) or 0.0


def surest(readings: Sequence):
    """The most confident of several readings of one crop (anything with `logprobs`), the first
    on a tie."""
    return max(readings, key=lambda r: answer_confidence(r.logprobs))


def rereading(logprobs: Sequence[float], drop_score: float, reread: float) -> bool:
    """Whether a segment read with `logprobs` is read again (`REREAD`): its confidence is under
    `reread` but not under `drop_score`. A segment that is left out anyway is not: read with beams,
    a sliver of a neighbouring line can come out surer than the drop score (session 29: beam search
    on every crop of 100 held-out page lines, CER 0.0579 -> 0.0619; on the unsure ones only,
    0.0541)."""
    return drop_score <= answer_confidence(logprobs) < reread


def _han(c: str) -> bool:
    """Whether the character `c` is Chinese (CJK unified ideographs and extension A)."""
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"


def has_chinese(text: str) -> bool:
    """Whether `text` has a Chinese (CJK unified) character."""
    return any(map(_han, text))


def zh_rereading(logprobs: Sequence[float], zh_reread: float) -> bool:
    """Whether a segment read (after the second reading) with `logprobs` is read by the Chinese
    reader too (`ZH_REREAD`): its confidence is under `zh_reread`, the drop score's too."""
    return answer_confidence(logprobs) < zh_reread


def chinese_share(text: str) -> float:
    """The share of Chinese characters in `text`, spaces aside (0 for none)."""
    chars = [c for c in text if not c.isspace()]
    return sum(map(_han, chars)) / len(chars) if chars else 0.0


def mostly_chinese(text: str) -> bool:
    """Whether at least `ZH_SHARE` of `text`'s characters, spaces aside, are Chinese.

    >>> mostly_chinese("合计金额 12"), mostly_chinese("合计 12.50")
    (True, False)
    """
    return chinese_share(text) >= ZH_SHARE


def probe_asking(logprobs: Sequence[float], zh_reread: float) -> bool:
    """Whether a probe crop (`probe_crops`) the line reader read with `logprobs` is read by the
    Chinese reader too: under `ZH_PROBE_SURE` and `zh_reread`."""
    return zh_rereading(logprobs, min(zh_reread, ZH_PROBE_SURE))


def reads_chinese(answers: Sequence[SegmentAnswer], drop_score: float) -> bool:
    """Whether a page read as `answers` reads as Chinese: at least `ZH_PAGE` of the letters (Latin
    or Chinese; digits, signs and spaces aside, which a Chinese receipt has as many of as an English
    one) of its readings not under `ZH_DROP` (or `drop_score`, if lower) are Chinese."""
    floor = min(drop_score, ZH_DROP)
    kept = [a.text for a in answers if not a.logprobs or answer_confidence(a.logprobs) >= floor]
    return chinese_share("".join(c for text in kept for c in text if c.isalpha())) >= ZH_PAGE


def sure_chinese(answers: Sequence[SegmentAnswer], drop_score: float) -> bool:
    """Whether a page read as `answers` has a sure Chinese line: a mostly Chinese reading
    (`ZH_SHARE`) of at least 2 Chinese characters, not under `drop_score`. (A lone character is
    not enough: a real English receipt's speck was read as "个" at 0.53.)"""
    return any(
        mostly_chinese(a.text)
        and sum(map(_han, a.text)) >= 2
        and (not a.logprobs or answer_confidence(a.logprobs) >= drop_score)
        for a in answers
    )


def chinese_floor(answers: Sequence[SegmentAnswer], drop_score: float) -> float:
    """The drop score a mostly Chinese reading is left out of a page read as `answers` under:
    `ZH_DROP` if the page `reads_chinese`, `ZH_MIXED_DROP` if it has a `sure_chinese` line among
    Latin print, else `drop_score` (and never over `drop_score`)."""
    if reads_chinese(answers, drop_score):
        return min(drop_score, ZH_DROP)
    return min(drop_score, ZH_MIXED_DROP) if sure_chinese(answers, drop_score) else drop_score


def stray_floor(answers: Sequence[SegmentAnswer], drop_score: float) -> float:
    """The drop score a reading with Chinese in it, but not mostly Chinese, is left out of a page
    read as `answers` under: `ZH_STRAY` on a page that neither `reads_chinese` nor has a
    `sure_chinese` line, else `drop_score` (and `drop_score` when that is 0: nothing is left out)."""
    if drop_score <= 0 or reads_chinese(answers, drop_score) or sure_chinese(answers, drop_score):
        return drop_score
    return max(drop_score, ZH_STRAY)


def drop_floor(text: str, drop_score: float, zh_floor: float, stray: float | None = None) -> float:
    """The drop score a segment read as `text` is left out of a page under: the page's
    `chinese_floor` if `text` is mostly Chinese (`ZH_SHARE`), its `stray_floor` (`stray`, if
    given) if `text` has some Chinese in it, else `drop_score`.

    >>> drop_floor("合计金额", 0.5, 0.2), drop_floor("TOTAL 12.00", 0.5, 0.2), drop_floor("合计 12.50", 0.5, 0.3)
    (0.2, 0.5, 0.5)
    >>> drop_floor("Customers Pa 以匹配 t", 0.5, 0.5, 0.75), drop_floor("Customers Paid", 0.5, 0.5, 0.75)
    (0.75, 0.5)
    """
    if mostly_chinese(text):
        return zh_floor
    return stray if stray is not None and has_chinese(text) else drop_score


def zh_again_kept(first, again):
    """Which of the Chinese reader's readings of a crop is kept after its second reading (both
    anything with `text`): `again` (the surest of its readings), unless `again` has no Chinese in it
    and `first` does. As `chinese_kept` keeps its first reading only where it has Chinese in it, a
    second one without Chinese is not trusted: on a real receipt its beams turned a junk Chinese
    reading of a dotted rule (under the drop score) into a surer "X X X X ..." (0.55, kept; session 46).

    >>> from types import SimpleNamespace as R
    >>> zh_again_kept(R(text="来源当然"), R(text="X X X")).text, zh_again_kept(R(text="合计全额"), R(text="合计金额")).text
    ('来源当然', '合计金额')
    >>> zh_again_kept(R(text="12.50"), R(text="12.80")).text
    '12.80'
    """
    return again if has_chinese(again.text) or not has_chinese(first.text) else first


def zh_again_floor(text: str, drop_score: float) -> float:
    """The confidence under which the Chinese reader's reading `text` is not read again by it
    (`api.OCR._chinese_again`): the drop score it is left out under on a page that reads as Chinese
    (`drop_floor`), since a reading left out anyway is not read again.

    >>> zh_again_floor("合计金额", 0.5), zh_again_floor("SFTG-7 == 一 --", 0.5), zh_again_floor("合计金额", 0.1)
    (0.2, 0.5, 0.1)
    """
    return drop_floor(text, drop_score, min(drop_score, ZH_DROP))


def probe_crops(crops: Sequence, count: int = ZH_PROBE) -> list[int]:
    """The indices of the `count` crops (images) whose width is nearest `ZH_PROBE_ASPECT` times
    their height (words enough to tell Chinese from Latin, and short to read), in order; none if
    there are no more crops than that (a line image is read as it is), or `count` is 0."""
    if count <= 0 or len(crops) <= count:
        return []
    near = sorted(
        range(len(crops)), key=lambda i: abs(crops[i].width / max(1, crops[i].height) - ZH_PROBE_ASPECT)
    )
    return sorted(near[:count])


def chinese_page(kept: Sequence[bool], share: float = ZH_PAGE) -> bool:
    """Whether a page whose probe crops (`probe_crops`) kept a Chinese reading where `kept` is true
    reads as Chinese: at least `share` of them did.

    >>> chinese_page([True, True, False, True, False, False]), chinese_page([True] + [False] * 5)
    (True, False)
    """
    return bool(kept) and sum(kept) >= share * len(kept)


def chinese_kept(first, zh, drop_score: float) -> bool:
    """Whether the Chinese reader's reading `zh` of a crop replaces the line reader's `first` (both
    anything with `text` and `logprobs`): it has Chinese in it and is surer, or it is mostly Chinese
    (`ZH_SHARE`) and at least `ZH_RATIO` as sure, unless it is under `drop_score` where `first` is
    not. A line of Latin print the line reader read unsurely stays its reading unless the Chinese
    reader wrote Chinese there."""
    if not has_chinese(zh.text):
        return False
    z, f = answer_confidence(zh.logprobs), answer_confidence(first.logprobs)
    if z > f:
        return True
    return mostly_chinese(zh.text) and z >= ZH_RATIO * f and not z < drop_score <= f


def latin_kept(first, zh) -> bool:
    """Whether the Chinese reader's reading `zh` of a crop, narrow (Latin) print all of it, replaces
    the line reader's `first`: it is surer. The Chinese reader reads at twice the line reader's
    height (64 px against 32), and where the line reader is unsure its surer Latin readings are
    mostly better: session 51, version 26's weights, its Latin readings kept where surer: 277 held-out
    full-variety lines CER 0.058 -> 0.046, 300 free receipt lines 0.050 -> 0.044, 60 held-out
    receipts' field F1 0.788 -> 0.808, 20 held-out pages' spot F1 0.729 -> 0.736, 300 held-out page
    lines 0.011 -> 0.012. A reading with a wide character (a full-width "，"), a control character or
    a broken one ("\ufffd": bytes that make no character) is no Latin reading.

    >>> from types import SimpleNamespace as R
    >>> latin_kept(R(text="TOTAL 5.60", logprobs=[-0.4]), R(text="TOTAL 5.50", logprobs=[-0.1]))
    True
    >>> latin_kept(R(text="CHERAS, 56100", logprobs=[-0.4]), R(text="CHERAS，56100", logprobs=[-0.1]))
    False
    """
    latin = all(c.isprintable() and c != "\ufffd" and not _wide(c) for c in zh.text)
    return latin and answer_confidence(zh.logprobs) > answer_confidence(first.logprobs)


def reading_kept(first, zh, drop_score: float) -> bool:
    """Whether the Chinese reader's reading `zh` of a crop the line reader read unsurely (`first`)
    replaces it: `chinese_kept` or `latin_kept`. (A page's probe asks `chinese_kept` alone: a Latin
    reading kept is no sign of a Chinese page.)"""
    return chinese_kept(first, zh, drop_score) or latin_kept(first, zh)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _wide_mark(ch: str) -> bool:
    """A full-width (CJK) punctuation mark: "。", "，", "、", "（" and the like."""
    return _wide(ch) and unicodedata.category(ch).startswith("P")


def mark_spaced(text: str) -> str:
    """`text` without spaces next to a full-width punctuation mark ("。", "，", "（"): Chinese and
    Japanese put none there, the mark holds its own (`join_words` joins words by the same rule). The
    Chinese reader writes "。 " now and then: Faker's Chinese text, which it was trained on up to
    version 25, had a space after about one "。" in eight.

    >>> mark_spaced("原因。 08.08.1997 一次， 详细 （图）")
    '原因。08.08.1997 一次，详细（图）'
    """
    out: list[str] = []
    for ch in text:
        if ch.isspace() and out and _wide_mark(out[-1]):
            continue
        if _wide_mark(ch):
            while out and out[-1].isspace():
                out.pop()
        out.append(ch)
    return "".join(out)


def join_words(words: Sequence[str]) -> str:
    """Words joined by spaces, but not between two wide (CJK) characters, nor next to a full-width
    punctuation mark, which holds its own space ("。" then "82" is "。82"; a Chinese line is cut into
    pieces at the blank half of its "。" and "，").

    >>> join_words(["合计", "金额", "12.00", "元"]), join_words(["文件。", "HFT 输入"])
    ('合计金额 12.00 元', '文件。HFT 输入')
    """
    out = ""
    for w in words:
        if (
            out
            and w
            and not (_wide(out[-1]) and _wide(w[0]))
            and not (_wide_mark(out[-1]) or _wide_mark(w[0]))
        ):
            out += " "
        out += w
    return out


def unstamped(image: Image.Image) -> Image.Image:
    """`image` with red and pink ink (a rubber stamp pressed over a receipt: "PAID", a date) turned
    to the grey of its red channel: on paper the stamp's red channel is as light as the paper,
    over black print it stays as dark as the print, so print under a stamp is kept whole. Violet
    and blue inks (dot-matrix print) are left alone: their blue is at least their red. Only a page
    of neutral paper (at least 85% of its pixels of a saturation under 40) has stamps: on a
    coloured ground (a line on a magenta band) red is part of the ground, and turning it grey moves
    the cut. An image without such ink, or not on neutral paper, is returned as it is."""
    rgb = np.asarray(image.convert("RGB")).astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r - g > 40) & (r - b > 20)
    if not red.any() or ((rgb.max(axis=-1) - rgb.min(axis=-1)) < 40).mean() < 0.85:
        return image
    rgb = rgb.copy()
    rgb[red] = r[red][:, None]
    return Image.fromarray(rgb.astype(np.uint8))


def read_plan(
    task: str, image: Image.Image, max_aspect: float = PIECE_ASPECT
) -> tuple[list[Segment], list[Image.Image], list[int]]:
    """What a line reader reads of a page for `task`: its segments (`task_segments`), the crops to
    read and each crop's segment (`segment_crops`), both from the page with its stamps turned to
    paper (`unstamped`)."""
    clean = unstamped(image)
    segs = task_segments(task, clean)
    crops, owner = segment_crops(segs, clean, max_aspect)
    return segs, crops, owner


def formula_crops(
    image: Image.Image, segs: Sequence[Segment]
) -> tuple[list[tuple[int, int, int, int]], list[Image.Image]]:
    """The boxes of a page's rows that may be display formulas (`tasks.layout.formula_rows`) and
    their crops, with a margin of half a line around the print, as a formula image has one."""
    from hyocr.tasks.layout import formula_rows

    boxes = formula_rows(segs)
    if not boxes:
        return [], []
    heights = sorted(s.box[3] - s.box[1] for s in segs)
    pad = max(2, heights[len(heights) // 2] // 2)
    w, h = image.size
    crops = [
        image.crop((max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)))
        for x0, y0, x1, y1 in boxes
    ]
    return boxes, crops


def page_plan(
    task: str, image: Image.Image, max_aspect: float = PIECE_ASPECT, formulas: bool = False
) -> tuple[list[Segment], list[Image.Image], list[int], list[tuple[int, int, int, int]], list[Image.Image]]:
    """Everything a line reader reads of a page for `task`: `read_plan`'s segments, crops and each
    crop's segment, and with `formulas` the page's candidate formula boxes and crops
    (`formula_crops`). A page whose lines bend or tilt against each other (perspective, a curl: see
    `tasks.flatten`) is flattened first and cut and cropped flat; its segments (as turned quads)
    and formula boxes are then given in the page's own pixels."""
    from hyocr.tasks.flatten import flattening

    flat = flattening(image)
    page = flat.image(image) if flat else image
    segs, crops, owner = read_plan(task, page, max_aspect)
    fboxes, fcrops = formula_crops(page, segs) if formulas else ([], [])
    if flat:
        segs = [flat.on_page(s) for s in segs]
        fboxes = [flat.box_on_page(b) for b in fboxes]
    return segs, crops, owner, fboxes, fcrops


# how much surer a candidate's formula reading must be than its text reading. Chosen on the 20
# held-out Markdown pages with a formula-trained checkpoint (session 13, leg 17): of 78 candidate
# rows, 13 formulas; surer at all (and finished) kept 12 of them and 12 other rows, surer by 0.1 kept
# 12 and 8 (the others mostly single symbols: a bullet read as \lambda).
FORMULA_MARGIN = 0.1


def reads_formulas(task: str, cfg) -> bool:
    """Whether a page read for `task` also has its centred rows read as formulas: for the document,
    text and spotting tasks, by a model whose config has a `formula_height` (one trained on
    formulas)."""
    return task in FORMULA_TASKS and getattr(cfg, "formula_height", 0) > 0


# the tasks whose pages have display formulas written as LaTeX (the release's document task does;
# the data engine's page text and spotting truth write them so too)
FORMULA_TASKS = ("document", "text", "spotting")

# how sure (geometric-mean token probability) a formula reading must be for text and spotting,
# which, unlike the document task, are asked of receipts: the formula reader has only ever seen
# formulas, and on the header and total rows of receipts, which are centred like formulas, it wrote
# LaTeX at 0.67-0.86 (40 synthetic dev receipts, 4 beams: 18 rows, none a formula), while on the
# 15 dev pages 8 of 13 true formulas read at 0.89 or more (the others at 0.82-0.88). Version 19's
# formula reader (session 30) is surer on rows that are not formulas: 0.881 and 0.885 on two rows of
# the dev pages, 0.901 on a dev receipt's "Thank you" row, against 0.892-0.999 on the dev pages'
# true formulas (12 read): 0.88 -> 0.91, which keeps 7 of those 12
FORMULA_SURE = 0.91
# ... and none of the segments in its box may have been read as text surer than this: the line
# reader reads a formula's pieces unsurely (at most 0.89 on the dev pages' 13 formulas, once 0.95
# on the held-out pages' 24), while beam search made the formula reader surer on receipts' rows it
# had read as text at 0.96-0.99 (three rows of real receipts, formula readings at 0.89-0.90). A
# reading that is a lone letter or digit does not count (`_surest_text`): version 20 read a
# fraction's denominator "h" at 0.979
TEXT_SURE = 0.95
# a formula image's reading (the formula task; a page's candidates are read once) under this
# confidence (geometric-mean token probability) is read again in each of `formula_views` and the
# surest reading kept (api.OCR `formula_again`; 0: never). Session 52, the
# formula reader of leg 67 (4 beams, 300 held-out formulas / 200 page formulas, exact): read at 96 px
# alone 0.393 / 0.420; again at 160 px and widened under 0.9 0.413 / 0.420, 0.95 0.447 / 0.435, 0.98
# 0.497 / 0.455 (198 and 125 of them read again), always 0.493 / 0.460
FORMULA_AGAIN = 0.98
# ... and widened this many times at its first height: a second view, as `REREAD_WIDEN` is a line
# crop's (the same reader: widened alone 0.353 / 0.340, with the 160-px reading 0.497 / 0.455 against
# 0.490 / 0.435 without it)
FORMULA_WIDEN = 1.3


def formula_views(cfg) -> list[tuple[int, float]]:
    """The views (height, widening; height 0: the reader's own) an unsure formula reading is read
    again in by a formula reader of config `cfg` that reads formulas at a height of their own (its
    `formula_height`): each of its `formula_heights`, and widened `FORMULA_WIDEN` times. None for
    one that reads formulas as the release does (smart_resize alone)."""
    if not getattr(cfg, "formula_height", 0):
        return []
    return [(h, 1.0) for h in getattr(cfg, "formula_heights", ())] + [(0, FORMULA_WIDEN)]


def formula_rereading(logprobs: Sequence[float], formula_again: float) -> bool:
    """Whether a formula image's reading with `logprobs` is read again in its reader's
    `formula_views`: its confidence is under `formula_again` (`FORMULA_AGAIN`)."""
    return answer_confidence(logprobs) < formula_again


def formulas_worth_reading(
    task: str,
    fboxes: Sequence[Sequence[float]],
    segs: Sequence[Segment],
    answers: Sequence[SegmentAnswer],
    chinese: bool = False,
) -> list[int]:
    """Which of a page's candidate formula boxes can still be written as LaTeX once its segments
    have been read as text: for text and spotting, those with no segment read (or known, as a
    lone colon is) surer than `TEXT_SURE` (`assemble` would keep the rest as text), and on a page
    that reads as `chinese` (`chinese_page`) none with a segment read as mostly Chinese (`ZH_SHARE`)
    and kept (not under `ZH_DROP`): a centred row of Chinese print is a heading, not a formula, though
    a Chinese reading is seldom surer than `TEXT_SURE`. So the formula reader is not run on them;
    every one for the document task."""
    from hyocr.tasks.layout import within

    if task == "document":
        return list(range(len(fboxes)))
    answers = _with_glyphs(segs, answers)

    def worth(inside: list[int]) -> bool:
        if chinese and any(
            mostly_chinese(answers[i].text) and answer_confidence(answers[i].logprobs) >= ZH_DROP
            for i in inside
            if answers[i].logprobs
        ):
            return False
        return _surest_text(answers, inside) <= TEXT_SURE

    return [
        k for k, box in enumerate(fboxes) if worth([i for i, sg in enumerate(segs) if within(sg.box, box)])
    ]


def _with_glyphs(segs: Sequence[Segment], answers: Sequence[SegmentAnswer]) -> list[SegmentAnswer]:
    """`answers` with each segment whose `glyph` the cutter knows (it was not read) answering it,
    surely: what `assemble` lays out and what `formulas_worth_reading` weighs."""
    return [SegmentAnswer(s.glyph, [0.0]) if s.glyph else a for s, a in zip(segs, answers, strict=True)]


def _surest_text(answers: Sequence[SegmentAnswer], inside: Sequence[int]) -> float:
    """The highest confidence of the text readings `answers[i]` for i in `inside` that are not a
    lone letter or digit (0 if none): a formula's lone letter (a fraction's denominator "h") can be
    read surely as text without the rows being text (version 20 read one at 0.979), while a known
    colon (`_with_glyphs`) is text."""
    return max(
        (
            answer_confidence(a.logprobs)
            for a in (answers[i] for i in inside)
            if a.logprobs and not _lone_alnum(a.text)
        ),
        default=0.0,
    )


def _lone_alnum(text: str) -> bool:
    """Whether `text` is one letter or digit (spaces around it aside)."""
    text = text.strip()
    return len(text) == 1 and text.isalnum()


def _chosen_formulas(
    segs: Sequence[Segment],
    answers: Sequence[SegmentAnswer],
    formulas: Sequence[tuple[Sequence[float], SegmentAnswer]],
    sure: float = 0.0,
    text_sure: float = 1.0,
) -> list[tuple[Sequence[float], str, list[int], float]]:
    """The candidate formulas to write as LaTeX: (box, LaTeX, the segments inside the box, the
    reading's confidence) for each reading that ended within its budget, is surer than the text
    reading of the segments in its box by `FORMULA_MARGIN` (geometric-mean token probabilities),
    and is at least `sure`, where no segment in the box was read as text surer than `text_sure`."""
    from hyocr.tasks.layout import within

    chosen = []
    for box, f in formulas:
        inside = [i for i, sg in enumerate(segs) if within(sg.box, box)]
        text_logprobs = [x for i in inside for x in answers[i].logprobs]
        conf = answer_confidence(f.logprobs)
        if (
            f.text.strip()
            and not f.truncated
            and conf >= sure
            and _surest_text(answers, inside) <= text_sure
            and conf > answer_confidence(text_logprobs) + FORMULA_MARGIN
        ):
            chosen.append((box, f.text.strip(), inside, conf))
    return chosen


def formula_params(params, crop: Image.Image, cfg):
    """`params` (sampling parameters) with the token limit cut to the crop's `formula_budget` at
    the model's formula height."""
    budget = formula_budget(crop, cfg.read_height("formula"), cfg.stretch, cfg.factor)
    return replace(params, max_new_tokens=min(params.max_new_tokens, budget))


def formula_budget(crop: Image.Image, height: int, stretch: float = 1.0, factor: int = 32) -> int:
    """The most tokens a candidate formula's reading may take: 8 for each column of merged tokens
    the crop is read as at `height` (the held-out formulas' LaTeX takes 3.7 a column at the median
    and 8 at the 95th percentile), and 16 more. A row that is not a formula is otherwise read on
    until the token limit, since the reader's LaTeX does not repeat itself exactly."""
    columns = crop.width * height / max(1, crop.height) * stretch / factor
    return int(8 * columns) + 16


# characters a line crop holds per unit of its width / height, at most, before a repeated tail is
# cut (`fitted`): on the synthetic line sets' ground truth, receipt lines hold 1.8-2.3 (median) and
# 3.4-4.7 (99th percentile), page lines 3.0 and 6.5
LINE_CHARS = 4.0


def fitted(text: str, crop: Image.Image) -> str:
    """`text` read off the line crop `crop`, with a run-away tail cut: a reading longer than the
    crop holds (`LINE_CHARS` per unit of its aspect, and 8) that ends in one character repeated 8
    times or more has that run cut back to fit, to nothing if the rest is already too long. The
    reader runs on along a row of stars or dashes ("***** THANK YOU *****" read with 240 stars)
    until the repetition stop, which waits for 256 tokens; the text before the run is kept."""
    limit = int(LINE_CHARS * crop.width / max(1, crop.height)) + 8
    body = text.rstrip()
    if len(body) <= limit:
        return text
    run = re.search(r"(.)\1{7,}$", body, re.DOTALL)
    return body[: max(run.start(), limit)].rstrip() if run else text


def joined(
    answers: Sequence[SegmentAnswer], owner: Sequence[int], n: int, crops: Sequence[Image.Image] | None = None
) -> list[SegmentAnswer]:
    """The answers of `n` segments from the answers of their pieces (`owner[i]`: the segment of
    piece i, in order): texts joined by a space, log-probabilities one after the other; with the
    pieces' `crops`, each text `fitted` to its crop first. Spaces next to a full-width mark are
    dropped (`mark_spaced`); two pieces meet without a space between two wide (CJK) characters or
    next to such a mark (`join_words`)."""
    if crops is not None:
        answers = [replace(a, text=fitted(a.text, c)) for a, c in zip(answers, crops, strict=True)]
    parts: list[list[SegmentAnswer]] = [[] for _ in range(n)]
    for a, k in zip(answers, owner, strict=True):
        parts[k].append(a)
    return [
        SegmentAnswer(
            join_words([mark_spaced(a.text.strip()) for a in ps if a.text.strip()]),
            [x for a in ps for x in a.logprobs],
            any(a.repetition_cut for a in ps),
            any(a.truncated for a in ps),
        )
        for ps in parts
    ]


def assemble(
    task: str,
    size: tuple[int, int],
    segs: Sequence[Segment],
    answers: Sequence[SegmentAnswer],
    *,
    seconds: float = 0.0,
    source: str = "",
    drop_score: float = 0.0,
    fields: Sequence[str] | None = None,
    key: str | None = None,
    formulas: Sequence[tuple[Sequence[float], SegmentAnswer]] = (),
) -> R.SpottingResult | R.TextResult | R.FieldsResult | R.KeyResult | R.TableResult | R.DocumentResult:
    """One page's result from its segments' answers: spotting gets a line per segment with the
    segment's box and a confidence (geometric-mean token probability); text gets the segments of a
    line joined by spaces (none between two CJK characters: `join_words`) and the lines by newlines; fields (the keys `fields`) and key (`key`) are
    picked from those rows by `hyocr.tasks.fields`; table (`segs` are `tasks.tables` cells) gets
    the cells laid out as HTML by `tasks.tables.table_html`, every cell kept; document gets the
    blocks laid out as Markdown by `tasks.layout.page_markdown`, with each of `formulas` (a box of
    `tasks.layout.formula_rows` and its reading with the formula instruction) written as LaTeX when
    that reading ended within its budget and is surer than the text reading of the segments in its
    box by `FORMULA_MARGIN` (geometric-mean token probabilities; `_chosen_formulas`); in text and
    spotting, the segments in a chosen formula's box give way to one line, its LaTeX, with that box
    (`FORMULA_TASKS`), when the reading is also at least `FORMULA_SURE` and no segment in the box
    was read as text surer than `TEXT_SURE`. Empty answers are dropped, and so
    are answers with a confidence below `drop_score` (a mostly Chinese one: the page's
    `chinese_floor`) when the page has more than one segment (PaddleOCR's
    `drop_score` convention: what the reader is unsure of on a page is mostly a stamp, a scribble
    or a rule, not print); a single line is always given back. A segment whose `glyph` the cutter
    knows (it was not read) answers it, surely."""
    w, h = size
    answers = _with_glyphs(segs, answers)
    common = dict(
        task=task,
        width=w,
        height=h,
        repetition_cut=any(a.repetition_cut for a in answers),
        truncated=any(a.truncated for a in answers),
        seconds=round(seconds, 3),
        source=source,
    )
    if task == "table":
        from hyocr.tasks.tables import table_html

        markup, cells = table_html(segs, [a.text for a in answers])  # type: ignore[arg-type]
        notes = [
            f"read cell by cell: {len(segs)} cells found by ink projection",
            "table structure laid out from the cells by layout rules (hyocr.tasks.tables)",
        ]
        return R.TableResult(**common, warnings=notes, raw=markup, html=markup, rows=cells)
    chosen = (
        _chosen_formulas(segs, answers, formulas)
        if task == "document"
        else _chosen_formulas(segs, answers, formulas, FORMULA_SURE, TEXT_SURE)
    )
    if task == "document":
        from hyocr.tasks.layout import page_markdown

        markdown, blocks = page_markdown(
            segs, [a.text for a in answers], size, [(b, t) for b, t, _, _ in chosen]
        )
        notes = [
            f"read segment by segment: {len(segs)} printed segments found by ink projection",
            "headings, lists and paragraphs laid out from the cutter's blocks by layout rules "
            "(hyocr.tasks.layout); tables cut into cells (hyocr.tasks.tables), "
            + (
                f"{len(chosen)} of {len(formulas)} centred rows read as formulas"
                if formulas
                else "formulas read as text"
            ),
        ]
        return R.DocumentResult(**common, warnings=notes, raw=markdown, markdown=markdown, blocks=blocks)
    lines: list[R.TextLine] = []
    rows: dict[int, list[str]] = {}
    dropped = 0
    in_formula = {i: k for k, (_, _, inside, _) in enumerate(chosen) for i in inside}
    zh_floor, stray = chinese_floor(answers, drop_score), stray_floor(answers, drop_score)
    for i, (seg, a) in enumerate(zip(segs, answers, strict=True)):
        text = " ".join(a.text.split())
        conf = round(answer_confidence(a.logprobs), 4) if a.logprobs else None
        s = seg
        if i in in_formula:
            # a formula read as LaTeX takes the place of the segments in its box, at the first one's
            box, text, inside, fconf = chosen[in_formula[i]]
            if i != inside[0]:
                continue
            s, conf = Segment(tuple(int(v) for v in box), seg.row, None, seg.block), round(fconf, 4)
        if not text:
            continue
        x0, y0, x1, y1 = (float(v) for v in s.box)
        if len(segs) > 1 and conf is not None and conf < drop_floor(text, drop_score, zh_floor, stray):
            dropped += 1
            continue
        lines.append(
            R.TextLine(
                text=text,
                box=[x0, y0, x1, y1],
                box_norm=[
                    round(x0 * 1000 / w),
                    round(y0 * 1000 / h),
                    round(x1 * 1000 / w),
                    round(y1 * 1000 / h),
                ],
                polygon=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
                if s.quad is None
                else [list(s.quad[i : i + 2]) for i in range(0, 8, 2)],
                confidence=conf,
            )
        )
        rows.setdefault(s.row, []).append(text)
    base = dict(
        common,
        warnings=[f"read segment by segment: {len(segs)} printed segments found by ink projection"]
        + (
            [
                f"{dropped} segment(s) read with a confidence below {drop_score} "
                + (f"({zh_floor} if mostly Chinese) " if zh_floor < drop_score else "")
                + (f"({stray} if partly Chinese) " if stray > drop_score else "")
                + "left out"
            ]
            if dropped
            else []
        ),
    )
    if task == "spotting":
        raw = "\n".join(
            f"{ln.text}({ln.box_norm[0]},{ln.box_norm[1]}),({ln.box_norm[2]},{ln.box_norm[3]})"
            for ln in lines
        )
        return R.SpottingResult(**base, raw=raw, lines=lines)
    content = "\n".join(join_words(r) for _, r in sorted(rows.items()))
    if task in ("fields", "key"):
        from hyocr.tasks.fields import pick_fields

        base["warnings"].append("fields picked from the read rows by layout rules (hyocr.tasks.fields)")
        names = list(fields or []) if task == "fields" else [key or ""]
        picked = pick_fields(content.split("\n"), names) if any(names) else {n: None for n in names}
        if task == "key":
            return R.KeyResult(
                **base, raw=picked[names[0]] or "", key=key or "", value=picked[names[0]] or ""
            )
        return R.FieldsResult(
            **base, raw=json.dumps(picked, ensure_ascii=False), fields=picked, valid_json=True
        )
    return R.TextResult(
        **base, raw=content, content=content, line_confidences=[ln.confidence or 0.0 for ln in lines]
    )
