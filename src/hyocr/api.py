"""The Python API: `OCR()` loads a model once and offers one method per task.

Example:
    >>> from hyocr import OCR                                     # doctest: +SKIP
    >>> ocr = OCR()                                 # the shipped model, or OCR(model="DIR")
    >>> for line in ocr.spotting("receipt.jpg").lines:            # doctest: +SKIP
    ...     print(line.text, line.box, line.box_norm)

Images may be paths, bytes, PIL images or numpy arrays. Every method also takes a list of images
and then returns a list, run as one batch (`batch_size` at a time).

`segment`: "auto" (default) cuts pages into printed segments for `text`, `spotting`, `fields`,
`key` and `document`, and tables into cells for `table`, when the model is a line reader (its
config says `"reads": "lines"`, as the shipped hyocr-tiny's does), then reads every segment at its
own size (`hyocr.tasks.segment`; a segment wider than `piece_aspect` times its print's height in
pieces cut at word spaces); fields and keys are then picked from the read rows by layout rules
(`hyocr.tasks.fields`), a table's cells laid out as HTML (`hyocr.tasks.tables`) and a page's blocks
as Markdown (`hyocr.tasks.layout`). "lines" forces that,
"off" never does it (the release reads the whole page in one pass, as the design intends).
`drop_score` (0.5, as in PaddleOCR): segments of a page read with a lower confidence are left out
(and counted in warnings); a mostly Chinese reading only under `segment.ZH_DROP` (0.2) on a page
that reads as Chinese, `segment.ZH_MIXED_DROP` (0.3) on one with a sure Chinese line, if lower. `reread` (0.95; 0: off): segments read with a lower confidence, but not under
`drop_score`, are read again with beam search (`reread_beams` beams, 4; at least 2) and once more greedily
widened `reread_widen` times (1.15; 1: not), and the surest reading kept (`segment.rereading`;
greedy reading only). A model with a Chinese reader (its config's `zh_model`): segments still read
with a confidence under `zh_reread` (0.9; 0: off), the drop score's too, are read by it as well, and
its reading kept where it has Chinese in it, or is Latin print, and is surer
(`segment.reading_kept`); its kept readings under `zh_again` (0.85; 0: none) and `reread` (but not under `segment.zh_again_floor`) are read again
by it with beam search (`OCR._chinese_again`).
A formula image's reading (the formula task) under `formula_again` (0.98; 0: never) by a formula
reader that reads at a height of its own is read again widened, and at each height the reader was
also trained at (its config's `formula_heights`), the surest kept (`segment.formula_views`); a
page's candidate formulas are read once.
`workers` (default 2 on a CPU with 2 or more PyTorch threads, else 1): the batches of a call are read
that many at a time side by side, each on its share of the threads. A line reader's decoding is many
small steps that two threads share badly; two batches on one thread each keep both cores busy
(`benchmarks/bench_workers.py`). The answers are those of a one-thread run. On a page with
formula candidates, the unsure segments' second reading and the formula reader run side by side,
on half the workers each (`OCR._side_by_side`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any

from hyocr.tasks import results as R
from hyocr.tasks.parse import parse_answer, spotting_confidences
from hyocr.tasks.prompts import instruction, task_of
from hyocr.tasks.segment import (
    FORMULA_AGAIN,
    PIECE_ASPECT,
    REREAD,
    REREAD_BEAMS,
    REREAD_WIDEN,
    SEGMENT_MODES,
    ZH_AGAIN,
    ZH_AGAIN_WIDEN,
    ZH_PROBE,
    ZH_REREAD,
    chinese_kept,
    chinese_page,
    formula_params,
    formula_rereading,
    formula_views,
    mostly_chinese,
    probe_asking,
    probe_crops,
    reading_kept,
    rereading,
    segmenting,
    surest,
    widened,
    zh_again_floor,
    zh_again_kept,
    zh_rereading,
)

__all__ = ["OCR"]

# pages cut into segments are read in groups of at least this many crops (line images: a few
# crops each, read together in full batches; a page: ~50-250 crops, a group of its own)
PAGE_GROUP = 128

# line crops of a page are read at least this many to a batch: a decoding step of 32 short rows
# costs about 1.2 times one of 16 on a 2-core CPU (most of a step is per-operation overhead)
LINE_BATCH = 32


def _is_many(images: Any) -> bool:
    return isinstance(images, (list, tuple))


def _default_workers(engine) -> int:
    import torch

    device = getattr(engine, "device", None)
    if device is None or torch.device(device).type != "cpu":
        return 1
    return 2 if torch.get_num_threads() >= 2 else 1


@dataclass
class _Page:
    """A page cut for reading: its segments, the crops to read and each crop's segment, the
    formula crops and their boxes, and the seconds its cutting took."""

    src: Any
    size: tuple[int, int]
    segs: list
    crops: list
    owner: list[int]
    fboxes: list
    fcrops: list
    seconds: float


def _ahead(fn: Callable[[Any], Any], items: Sequence) -> Iterator[Any]:
    """fn(item) for each item in order; with several items, computed up to two items ahead on a
    second thread while the caller works on the ones given (an item's exception is raised when
    its turn comes)."""
    if len(items) < 2:
        yield from (fn(it) for it in items)
        return
    with ThreadPoolExecutor(1) as pool:
        pending = deque(pool.submit(fn, it) for it in items[:2])
        following = 2
        while pending:
            done = pending.popleft().result()
            if following < len(items):
                pending.append(pool.submit(fn, items[following]))
                following += 1
            yield done


_SHARING = threading.Lock()
_shared = {"calls": 0, "before": 0}  # calls sharing the threads now, and the count to restore


@contextlib.contextmanager
def _threads_shared(workers: int):
    """PyTorch's threads split between `workers` readers for the duration; the count is restored
    when the last of the calls sharing them at once (an application's own threads) ends."""
    import torch

    with _SHARING:
        if _shared["calls"] == 0:
            _shared["before"] = torch.get_num_threads()
            torch.set_num_threads(max(1, _shared["before"] // workers))
        _shared["calls"] += 1
    try:
        yield
    finally:
        with _SHARING:
            _shared["calls"] -= 1
            if _shared["calls"] == 0:
                torch.set_num_threads(_shared["before"])


class OCR:
    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        lang: str = "en",
        max_pixels: int | None = None,
        max_new_tokens: int = 16384,
        batch_size: int = 4,
        params=None,
        engine=None,
        segment: str = "auto",
        drop_score: float = 0.5,
        piece_aspect: float = PIECE_ASPECT,
        reread: float = REREAD,
        reread_beams: int = REREAD_BEAMS,
        reread_widen: float = REREAD_WIDEN,
        zh_reread: float = ZH_REREAD,
        zh_again: float = ZH_AGAIN,
        zh_probe: int = ZH_PROBE,
        formula_again: float = FORMULA_AGAIN,
        workers: int | None = None,
    ):
        """`params` (engine.generate.SamplingParams) overrides the release's decoding defaults."""
        if segment not in SEGMENT_MODES:
            raise ValueError(f"segment must be one of {', '.join(SEGMENT_MODES)}, not {segment!r}")
        if not 0.0 <= drop_score <= 1.0:
            raise ValueError(f"drop_score must be a number from 0 to 1, not {drop_score}")
        # (a reread, zh_reread or zh_again over 1 reads every segment again, those read at 1.0 too)
        for name, value in (
            ("piece_aspect", piece_aspect),
            ("reread", reread),
            ("zh_reread", zh_reread),
            ("zh_again", zh_again),
            ("formula_again", formula_again),
        ):
            if not 0.0 <= value < float("inf"):
                raise ValueError(f"{name} must be a finite number of at least 0, not {value}")
        if zh_probe < 0:
            raise ValueError(f"zh_probe must be at least 0, not {zh_probe}")
        if reread_beams < 2:
            raise ValueError(f"reread_beams must be at least 2, not {reread_beams}")
        if not 1.0 <= reread_widen < float("inf"):
            raise ValueError(f"reread_widen must be a finite factor of at least 1, not {reread_widen}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if engine is None:
            from hyocr.engine.backends import load_engine

            engine = load_engine(model, device=device, dtype=dtype, max_pixels=max_pixels)
        self.engine = engine
        self.lang = lang
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.params = params
        self.segment = segment
        self.drop_score = drop_score
        self.piece_aspect = piece_aspect
        self.reread = reread
        self.reread_beams = reread_beams
        self.reread_widen = reread_widen
        self.zh_reread = zh_reread
        self.zh_again = zh_again
        self.zh_probe = zh_probe
        self.formula_again = formula_again
        self.workers = workers or _default_workers(self.engine)

    # ---- core -------------------------------------------------------------------------------
    def _generate(
        self,
        prompt: str,
        images: Sequence,
        params=None,
        batch_size: int | None = None,
        task: str = "",
        by_shape: bool = False,
        workers: int | None = None,
        height: int = 0,
    ):
        """One generation per image, `batch_size` at a time, by `workers` (default: the reader's),
        read `height` px tall if given (else at the reader's height for `task`);
        `by_shape` (PIL images): batched in the order of their width to height, so that a batch
        holds crops of about the same number of image tokens and answers of about the same length
        (less padding, fewer decoding steps spent on rows that have finished), the generations
        returned in the images' order. With several
        workers the images are split into batches of equal size, a multiple of the workers in
        number, and (by shape) the widest batches are read first, so that no worker is left with
        the longest batch at the end while the others wait."""
        from hyocr.engine.generate import Request, SamplingParams

        params = params or self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
        workers = workers or self.workers
        step = batch_size or self.batch_size
        order = list(range(len(images)))
        if by_shape:
            order.sort(key=lambda i: images[i].width / max(1, images[i].height))
        count = -(-len(order) // step)
        if workers > 1 and count > 1:
            count = -(-count // workers) * workers
            step = -(-len(order) // count)
        chunks = [order[i : i + step] for i in range(0, len(order), step)]
        if by_shape:
            chunks.reverse()  # the widest crops first: they have the most patches and tokens

        def read(chunk: list[int]) -> list:
            return self.engine.generate(
                [Request(prompt, [images[k]], task=task, height=height) for k in chunk], params
            )

        if workers > 1 and len(chunks) > 1:
            with _threads_shared(workers), ThreadPoolExecutor(workers) as pool:
                read_chunks = list(pool.map(read, chunks))
        else:
            read_chunks = [read(c) for c in chunks]
        out: list = [None] * len(images)
        for chunk, gens in zip(chunks, read_chunks, strict=True):
            for k, g in zip(chunk, gens, strict=True):
                out[k] = g
        return out

    def _unsure(
        self,
        gens: list,
        settled: frozenset[int] = frozenset(),
        among: Iterable[int] | None = None,
        floor: Callable[[str], float] | None = None,
        under: float | None = None,
    ) -> list[int]:
        """Which readings (of those `among`, default all) `_reread` reads again (`rereading`: under
        `reread`, and `under` if given, not under the drop score, or `floor` of the reading's text),
        none of those `settled` by the Chinese reader (`_first_readings`). Only greedy readings are:
        sampled ones cannot be searched, beamed ones already were."""
        from hyocr.engine.generate import SamplingParams

        base = self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
        if self.reread <= 0 or base.temperature > 0 or (base.num_beams or 1) > 1:
            return []
        return [
            i
            for i in (range(len(gens)) if among is None else among)
            if i not in settled
            and rereading(
                gens[i].logprobs,
                self.drop_score if floor is None else floor(gens[i].text),
                self.reread if under is None else min(self.reread, under),
            )
        ]

    def _reread(
        self,
        prompt: str,
        crops: list,
        gens: list,
        workers: int | None = None,
        settled: frozenset[int] = frozenset(),
        task: str = "",
        unsure: list[int] | None = None,
        widen: float | None = None,
    ) -> list:
        """Crops read unsurely (`unsure`, default `_unsure`) are read again by `task`'s reader with
        `reread_beams`-beam search, and greedily widened `widen` (default `reread_widen`) times
        (unless 1), all in batches; the surest reading of each is kept."""
        from hyocr.engine.generate import SamplingParams

        unsure = self._unsure(gens, settled) if unsure is None else unsure
        if not unsure:
            return gens
        base = self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
        views = [([crops[i] for i in unsure], replace(base, num_beams=self.reread_beams))]
        widen = self.reread_widen if widen is None else widen
        if widen != 1.0:
            views.append(([widened(crops[i], widen) for i in unsure], base))
        again = [
            self._generate(
                prompt,
                images,
                params,
                batch_size=max(self.batch_size, LINE_BATCH),
                task=task,
                by_shape=True,
                workers=workers,
            )
            for images, params in views
        ]
        out = list(gens)
        for k, i in enumerate(unsure):
            out[i] = surest([gens[i], *(readings[k] for readings in again)])
        return out

    def _read(
        self, prompt: str, crops: list, idx: list[int], task: str = "", batch: int | None = None
    ) -> dict:
        """{i: reading} of `crops[i]` for each i in `idx`, read with `task`'s reader in batches of
        `batch` (default: at least `LINE_BATCH`), by shape."""
        batch = batch or max(self.batch_size, LINE_BATCH)
        gens = self._generate(prompt, [crops[i] for i in idx], batch_size=batch, task=task, by_shape=True)
        return dict(zip(idx, gens, strict=True))

    def _reads_chinese(self) -> bool:
        return self.zh_reread > 0 and getattr(self.engine, "zh", None) is not None

    def _first_readings(
        self, prompt: str, pages: list[_Page], crops: list
    ) -> tuple[list, dict, frozenset, list[bool]]:
        """The first (greedy) reading of every crop of `pages` (`crops`, all of theirs in order),
        with the Chinese reader's readings made on the way ({crop: reading}), the crops they
        settle, and which pages read as Chinese. With a Chinese reader (`zh_reread` > 0), a page
        of more than `zh_probe` crops is probed first: its `probe_crops` are read by the line
        reader, and those under `ZH_PROBE_SURE` (and `zh_reread`) by the Chinese reader too. If it
        reads as Chinese (`chinese_page`: enough of them keep a Chinese reading, `chinese_kept`),
        its other crops are read by the Chinese reader first, and those it reads as mostly Chinese
        (`ZH_SHARE`) are settled: the line reader never reads them. All in batches across the
        pages."""
        from hyocr.engine.generate import ZH_TASK

        read = partial(self._read, prompt, crops)
        starts = list(accumulate((len(p.crops) for p in pages), initial=0))[:-1]
        chinese = self._reads_chinese()
        probes = [
            [s + i for i in probe_crops(p.crops, self.zh_probe)] if chinese else []
            for s, p in zip(starts, pages, strict=True)
        ]
        # the probes, few, in a batch for each worker, side by side
        probed = [i for probe in probes for i in probe]
        first = read(probed, batch=max(1, -(-len(probed) // self.workers)))
        zh = read([i for i, g in first.items() if probe_asking(g.logprobs, self.zh_reread)], ZH_TASK)
        kept = {i: i in zh and chinese_kept(first[i], zh[i], self.drop_score) for i in first}
        zh_pages = [chinese_page([kept[i] for i in probe]) for probe in probes]
        rest = [
            i
            for s, p, zh_page in zip(starts, pages, zh_pages, strict=True)
            if zh_page
            for i in range(s, s + len(p.crops))
            if i not in first
        ]
        zh |= read(rest, ZH_TASK)
        settled = frozenset(i for i in rest if mostly_chinese(zh[i].text))
        first |= read([i for i in range(len(crops)) if i not in first and i not in settled])
        return [zh[i] if i in settled else first[i] for i in range(len(crops))], zh, settled, zh_pages

    def _chinese(
        self,
        prompt: str,
        crops: list,
        gens: list,
        zh: dict | None = None,
        settled: frozenset[int] = frozenset(),
    ) -> tuple[list, list[int]]:
        """Crops whose reading is still under `zh_reread` are read by the Chinese reader too, if the
        model has one (`Engine.zh`), all in batches (but not again those it read already, `zh`);
        its reading is kept where `reading_kept` (with Chinese in it, or Latin, and surer). Those it
        `settled` keep its reading. Returned with the crops whose reading is now the Chinese
        reader's (for `_chinese_again`)."""
        from hyocr.engine.generate import ZH_TASK

        if not self._reads_chinese():
            return gens, []
        zh = dict(zh or {})
        unsure = [
            i for i, g in enumerate(gens) if i not in settled and zh_rereading(g.logprobs, self.zh_reread)
        ]
        zh |= self._read(prompt, crops, [i for i in unsure if i not in zh], ZH_TASK)
        out = list(gens)
        for i in unsure:
            if reading_kept(gens[i], zh[i], self.drop_score):
                out[i] = zh[i]
        return out, sorted(settled | {i for i in unsure if out[i] is zh[i]})

    def _chinese_again(self, prompt: str, crops: list, gens: list, chinese: list[int]) -> list:
        """The Chinese reader's readings (of crops `chinese`) read again by it as the line reader's
        are (`_reread`: `reread_beams` beams; widened `ZH_AGAIN_WIDEN` times, unless 1), those under
        `zh_again` and `reread` but not under `zh_again_floor`, the surest kept (`zh_again_kept`:
        with Chinese in it if the first reading had)."""
        from hyocr.engine.generate import ZH_TASK

        floor = partial(zh_again_floor, drop_score=self.drop_score)
        again = self._unsure(gens, among=chinese, floor=floor, under=self.zh_again)
        out = self._reread(prompt, crops, gens, task=ZH_TASK, unsure=again, widen=ZH_AGAIN_WIDEN)
        return [zh_again_kept(g, o) for g, o in zip(gens, out, strict=True)]

    def _formulas(self, crops: list, lang: str, workers: int | None = None) -> list:
        """Candidate formula crops of pages read with the formula instruction, each within its
        budget (`formula_params`), all in batches: decoded up to the largest budget, a reading that
        reaches its own crop's budget is cut there and marked cut short ("length"), as it would
        have been read alone (greedy readings do not depend on the batch). With beam search (the shipped
        formula reader's default) a reading is the one found under the largest budget, cut to its
        own: a search under a smaller budget may have settled on another."""
        from hyocr.engine.generate import SamplingParams

        if not crops:
            return []
        base = self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
        reader = self.engine.for_task("formula")
        budgets = [formula_params(base, c, reader.cfg).max_new_tokens for c in crops]
        gens = self._generate(
            instruction("formula", lang),
            crops,
            replace(base, max_new_tokens=max(budgets)),
            task="formula",
            by_shape=True,
            workers=workers,
        )
        # read once: reading a page's candidates again in `formula_views` made held-out pages about a
        # third slower (2.36 -> 3.06 s a page) for text NED 0.0164 -> 0.0162 on 8 of them (session 52)
        out = []
        for g, budget in zip(gens, budgets, strict=True):
            if len(g.token_ids) >= budget:
                ids = g.token_ids[:budget]
                g = replace(
                    g,
                    text=reader.tok.decode(ids),
                    token_ids=ids,
                    logprobs=g.logprobs[:budget],
                    finish_reason="length",
                )
            out.append(g)
        return out

    def _formulas_again(self, prompt: str, images: list, gens: list, base) -> list:
        """Readings of formula images (the formula task) under `formula_again` read again in each of
        the formula reader's `formula_views` (at its other heights, its config's `formula_heights`: a
        fraction's numerator or a limit is a few pixels tall at its first height; and widened), all
        in batches; the surest reading of each is kept, its seconds those of all its readings.
        Sampled readings are kept as they are."""
        from hyocr.processing.image import load_image

        reader = self.engine.for_task("formula")
        views = formula_views(getattr(reader, "cfg", None))
        unsure = [i for i, g in enumerate(gens) if formula_rereading(g.logprobs, self.formula_again)]
        if not views or not unsure or base.temperature > 0:
            return gens
        seen = [load_image(images[i]) for i in unsure]
        out = list(gens)
        for height, widen in views:
            again = self._generate(
                prompt,
                [widened(im, widen) if widen != 1.0 else im for im in seen],
                base,
                task="formula",
                by_shape=True,
                height=height,
            )
            for i, g in zip(unsure, again, strict=True):
                seconds = out[i].seconds + g.seconds
                out[i] = replace(surest([out[i], g]), seconds=seconds)
        return out

    def segmenting(self, task: str) -> bool:
        """Whether `task` runs segment by segment (see the module's `segment`)."""
        return segmenting(self.segment, task, getattr(getattr(self.engine, "cfg", None), "reads", "page"))

    def _task(self, task: str, images, *, lang: str | None = None, **kw) -> R.TaskResult | list[R.TaskResult]:
        many = _is_many(images)
        items = list(images) if many else [images]
        if self.segmenting(task):
            results = self._by_segments(task, items, lang or self.lang, kw.get("fields"), kw.get("key"))
            return results if many else results[0]
        prompt = instruction(
            task,
            lang or self.lang,
            **{k: v for k, v in kw.items() if k in ("key", "fields", "target", "question")},
        )
        gens = self._generate(prompt, items, task=task)
        if task == "formula":
            from hyocr.engine.generate import SamplingParams

            base = self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
            gens = self._formulas_again(prompt, items, gens, base)
        tok = self.engine.tok
        results = []
        for src, g in zip(items, gens, strict=True):
            size = g.image_sizes[0] if g.image_sizes else {"width": 0, "height": 0}
            conf = None
            if task == "spotting" and "ref_open" in tok.ids and "ref_close" in tok.ids:
                conf = spotting_confidences(
                    g.token_ids, g.logprobs, tok.ids["ref_open"], tok.ids["ref_close"]
                )
            results.append(
                parse_answer(
                    task,
                    g.text,
                    width=size["width"],
                    height=size["height"],
                    confidences=conf,
                    repetition_cut=g.repetition_cut,
                    truncated=g.finish_reason == "length",
                    seconds=g.seconds,
                    source=str(src) if isinstance(src, (str, Path)) else "",
                    **kw,
                )
            )
        return results if many else results[0]

    def _by_segments(
        self, task: str, items: list, lang: str, fields: Sequence[str] | None = None, key: str | None = None
    ) -> list[R.TaskResult]:
        """Cut each page into printed segments, read them in batches with the text instruction, and
        put the page back together (spotting: one line per segment with its box, a table framed by
        rules cell by cell; fields and key: picked from the read rows by layout rules; table: cells
        on a grid; document: blocks as Markdown). Pages are read in groups of at least
        `PAGE_GROUP` crops (small images, such as line images, share batches); while a group is
        read, the next pages are cut on a second thread (`_ahead`), so that cutting, which runs on
        one core, no longer leaves the other idle between pages."""
        from hyocr.processing.image import load_image
        from hyocr.tasks.segment import page_plan, reads_formulas

        formulas = reads_formulas(task, self.engine.for_task("formula").cfg)

        def plan(src) -> _Page:
            t0 = time.perf_counter()
            im = load_image(src)
            segs, crops, owner, fboxes, fcrops = page_plan(task, im, self.piece_aspect, formulas)
            return _Page(src, im.size, segs, crops, owner, fboxes, fcrops, time.perf_counter() - t0)

        results: list[R.TaskResult] = []
        group: list[_Page] = []
        for k, page in enumerate(_ahead(plan, items)):
            group.append(page)
            if k == len(items) - 1 or sum(len(p.crops) for p in group) >= PAGE_GROUP:
                results += self._read_pages(task, group, lang, fields, key)
                group = []
        return results

    def _side_by_side(
        self, first: Callable[[int | None], Any], second: Callable[[int | None], Any], both: bool
    ):
        """(first(workers), second(workers)): side by side when `both` have work and there are
        several workers, each on its share of the workers and threads, else one after the other on
        all of them. The second reading of unsure segments and the reading of formula candidates
        are both small batches decoded step by step, which two threads share badly
        (`benchmarks/bench_workers.py`), so each goes faster on a core of its own."""
        if not both or self.workers < 2:
            return first(None), second(None)
        half = self.workers // 2
        with _threads_shared(self.workers), ThreadPoolExecutor(2) as pool:
            a = pool.submit(first, half)
            b = pool.submit(second, self.workers - half)
            return a.result(), b.result()

    @staticmethod
    def _page_answers(pages: list[_Page], gens: list) -> list[list]:
        """Each page's segment answers from the readings of all the pages' crops, in order."""
        from hyocr.tasks.segment import SegmentAnswer, joined

        answers, first = [], 0
        for p in pages:
            answers.append(
                joined(
                    [SegmentAnswer.of(g) for g in gens[first : first + len(p.crops)]],
                    p.owner,
                    len(p.segs),
                    p.crops,
                )
            )
            first += len(p.crops)
        return answers

    def _read_pages(
        self, task: str, pages: list[_Page], lang: str, fields: Sequence[str] | None, key: str | None
    ) -> list[R.TaskResult]:
        """The crops of cut `pages` read together, each page put back together (`_by_segments`)."""
        from hyocr.tasks.segment import SegmentAnswer, assemble, formulas_worth_reading

        prompt = instruction("text", lang)
        crops = [c for p in pages for c in p.crops]
        t0 = time.perf_counter()
        # a crop read again keeps its image features from the first reading (`Engine.keeping_features`:
        # the line reader's and the Chinese reader's each)
        keeping = getattr(self.engine, "keeping_features", None)
        with keeping(crops) if keeping is not None and self.reread > 0 else contextlib.nullcontext():
            gens, zh, settled, zh_pages = self._first_readings(prompt, pages, crops)
            # the formula candidates worth reading are chosen on the first reading: the second only
            # ever keeps a surer one (`surest`), so it could only rule candidates out, and `assemble`
            # rules them out again on the final answers. The two are read side by side.
            worth = [
                formulas_worth_reading(task, p.fboxes, p.segs, a, zh_page)
                for p, a, zh_page in zip(pages, self._page_answers(pages, gens), zh_pages, strict=True)
            ]
            fcrops = [p.fcrops[k] for p, ks in zip(pages, worth, strict=True) for k in ks]
            gens, fgens = self._side_by_side(
                lambda w: self._reread(prompt, crops, gens, w, settled),
                lambda w: self._formulas(fcrops, lang, w),
                both=bool(fcrops and self._unsure(gens, settled)),
            )
            gens, chinese = self._chinese(prompt, crops, gens, zh, settled)
            gens = self._chinese_again(prompt, crops, gens, chinese)
        answers = self._page_answers(pages, gens)
        per_crop = (time.perf_counter() - t0) / max(1, len(crops) + len(fgens))
        results: list[R.TaskResult] = []
        ffirst = 0
        for p, page_answers, ks in zip(pages, answers, worth, strict=True):
            fanswers = [SegmentAnswer.of(g) for g in fgens[ffirst : ffirst + len(ks)]]
            ffirst += len(ks)
            results.append(
                assemble(
                    task,
                    p.size,
                    p.segs,
                    page_answers,
                    seconds=p.seconds + per_crop * (len(p.crops) + len(ks)),
                    source=str(p.src) if isinstance(p.src, (str, Path)) else "",
                    drop_score=self.drop_score,
                    fields=fields,
                    key=key,
                    formulas=list(zip([p.fboxes[k] for k in ks], fanswers, strict=True)),
                )
            )
        return results

    # ---- one method per task ------------------------------------------------------------------
    def spotting(self, images, *, lang: str | None = None):
        """Text lines with boxes (pixels and 0-1000) and confidences."""
        return self._task("spotting", images, lang=lang)

    def text(self, images, *, lang: str | None = None):
        return self._task("text", images, lang=lang)

    def document(self, images, *, lang: str | None = None):
        """Markdown in reading order; tables as HTML, formulas as LaTeX; headers/footers dropped."""
        return self._task("document", images, lang=lang)

    def table(self, images, *, lang: str | None = None):
        return self._task("table", images, lang=lang)

    def formula(self, images, *, lang: str | None = None):
        return self._task("formula", images, lang=lang)

    def chart(self, images, *, lang: str | None = None):
        return self._task("chart", images, lang=lang)

    def fields(self, images, fields: Sequence[str], *, lang: str | None = None):
        """A dict with exactly the requested keys (None where the model gave nothing)."""
        return self._task("fields", images, lang=lang, fields=list(fields))

    def key(self, images, key: str, *, lang: str | None = None):
        return self._task("key", images, lang=lang, key=key)

    def subtitles(self, images, *, lang: str | None = None):
        return self._task("subtitles", images, lang=lang)

    def translate(self, images, target: str = "en", *, lang: str | None = None):
        return self._task("translate", images, lang=lang, target=target)

    def vqa(self, images, question: str):
        return self._task("vqa", images, question=question)

    def run(self, images, prompt: str) -> R.AnswerResult | list[R.AnswerResult]:
        """Escape hatch: any instruction, the raw answer back."""
        many = _is_many(images)
        items = list(images) if many else [images]
        gens = self._generate(prompt, items, task=task_of(prompt))
        out = [
            R.AnswerResult(
                task="prompt",
                raw=g.text,
                width=(g.image_sizes[0]["width"] if g.image_sizes else 0),
                height=(g.image_sizes[0]["height"] if g.image_sizes else 0),
                repetition_cut=g.repetition_cut,
                truncated=g.finish_reason == "length",
                seconds=g.seconds,
                question=prompt,
                answer=g.text.strip(),
            )
            for g in gens
        ]
        return out if many else out[0]
