"""Dynamic batching for the server: one worker thread owns the engine and runs every request.

Choices:
- **Continuous batching of decode steps** (`mode="continuous"`, the default). Requests that arrive
  while others are decoding join the running batch at the next step: they are prefilled together
  (one forward pass for all newcomers, images encoded in one packed vision pass), their KV caches
  are merged into the running cache, and from then on every decode step advances all rows at once.
  Finished, cancelled and timed-out rows leave the batch between steps (`KVCache.select`).
- **Cache alignment.** The model's KV cache writes every row at one index, so rows are kept
  right-aligned: a newcomer with a shorter prompt is left padded, one with a longer prompt pads the
  running rows (a key mask hides padding). Rotary positions are per row (`positions`), so padding
  never changes what a row computes; `tests/serve/test_batching.py` checks that a request gives the
  same tokens whether it ran alone or joined a busy batch.
- **Cache growth.** Capacity grows in chunks of `cache_chunk` tokens instead of reserving
  `max_new_tokens` (16384 by default) per row up front; when it grows, the padding columns no row
  needs any more are trimmed away, so memory follows the live rows rather than history.
- `mode="window"`: static batches (the engine's own scheme): the first request waits up to
  `window_ms` for others, the batch runs to completion, nobody joins midway. `mode="off"`: one
  request at a time (the baseline of `benchmarks/bench_serve.py`).
- **Back-pressure.** At most `max_queue` requests wait; `submit` raises `QueueFull` beyond that
  (the server answers 429 with Retry-After). Each job may carry a deadline (`TimeoutError`
  delivered to its sink) and can be cancelled at any time (a client that disconnected); both take
  effect between decode steps.
- **Joining in groups.** While a batch runs, newcomers join once they could fill half the free
  slots or the oldest has waited `join_wait_ms` (20 ms, a few decode steps): each join costs a
  prefill and a cache merge, and on 2 CPU cores one join per arrival halved throughput at 16 clients.
- **Beam search** (`num_beams` > 1) is not batched with the running batch: the beam requests
  taken in one step are decoded whole, those of equal sampling parameters together (their beams
  are one batch, `Engine._beam_loop`; a page's unsure segments read again arrive so), and the
  running batch waits for them. An answer is known only at the end, so a stream gets it in one
  piece.
- Per-row sampling parameters: greedy rows are decided together by one argmax; sampled rows go
  through `Engine._sample` one by one with their own seeded generator, so a request's randomness
  does not depend on its neighbours.

Events reach the caller through `sink(kind, payload)`, called on the worker thread:
`("tokens", [ids])` after each step of a streaming job, `("done", Generation)`, `("error", exc)`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from hyocr.engine.generate import Engine, SamplingParams, _Prepared
from hyocr.errors import HyocrError, InputError
from hyocr.model.decoder import KVCache

__all__ = ["MODES", "QueueFull", "Job", "Scheduler", "SchedulerStats"]

log = logging.getLogger("hyocr.serve")

MODES = ("continuous", "window", "off")

Sink = Callable[[str, object], None]


class QueueFull(HyocrError):
    """The bounded queue is full; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Job:
    prepared: _Prepared
    params: SamplingParams
    sink: Sink
    deadline: float | None = None  # time.monotonic() value
    stream: bool = False
    t0: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    ids: list[int] = field(default_factory=list)
    logps: list[float] = field(default_factory=list)
    gen: torch.Generator | None = None

    def cancel(self) -> None:
        """Ask the worker to drop this job (takes effect before the next step)."""
        self.cancelled = True

    @property
    def greedy(self) -> bool:
        return self.params.temperature == 0 and self.params.repetition_penalty == 1.0


@dataclass
class SchedulerStats:
    """Counters read by /metrics (plain ints; written by the worker thread only)."""

    prefills: int = 0
    prefill_rows: int = 0
    decode_steps: int = 0
    decode_rows: int = 0  # sum over decode steps of the batch size: mean batch = decode_rows / decode_steps
    generated_tokens: int = 0
    prompt_tokens: int = 0
    finished: int = 0
    cancelled: int = 0
    timed_out: int = 0
    failed: int = 0
    rejected: int = 0
    kv_cache_bytes: int = 0
    kv_cache_peak_bytes: int = 0
    active: int = 0
    max_batch_seen: int = 0
    busy_seconds: float = 0.0


class _Batch:
    """The running rows: their jobs, a shared KV cache, per-row positions, key mask and logits."""

    def __init__(self):
        self.jobs: list[Job] = []
        self.cache: KVCache | None = None
        self.positions: torch.Tensor | None = None  # (B,) next rotary position per row
        self.key_mask: torch.Tensor | None = None  # (B, capacity) 1 = a real key
        self.logits: torch.Tensor | None = None  # (B, vocab) to sample the next token from
        self.tokens: torch.Tensor | None = None  # (B,) the tokens just sampled, fed to the next decode

    def __len__(self) -> int:
        return len(self.jobs)


class Scheduler:
    """Owns an `Engine` on one worker thread and batches everything submitted to it.

    Example:
        >>> sched = Scheduler(engine, mode="continuous", max_batch=16)            # doctest: +SKIP
        >>> job = sched.submit(engine.prepare(Request("Extract the text in the image.", ["a.png"])),
        ...                    SamplingParams(max_new_tokens=64), sink=print)          # doctest: +SKIP
    """

    def __init__(
        self,
        engine: Engine,
        *,
        mode: str = "continuous",
        max_batch: int = 16,
        max_queue: int = 64,
        window_ms: float = 5.0,
        cache_chunk: int = 64,
        threads: int | None = None,
        join_wait_ms: float = 20.0,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown batching mode '{mode}' (choose from {', '.join(MODES)})")
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1")
        self.engine = engine
        self.mode = mode
        self.max_batch = 1 if mode == "off" else max_batch
        self.max_queue = max_queue
        self.window = window_ms / 1000.0
        self.cache_chunk = cache_chunk
        self.threads = threads
        self.join_wait = join_wait_ms / 1000.0
        self.stats = SchedulerStats()
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._stop = False
        self._recent_seconds: deque[float] = deque(maxlen=32)
        cfg = engine.cfg
        self._cache_dtype = engine.cache_dtype
        self._max_position = cfg.max_position
        self._thread = threading.Thread(target=self._loop, name="hyocr-batcher", daemon=True)
        self._thread.start()

    # ---- the caller's side -----------------------------------------------------------------
    def submit(
        self,
        prepared: _Prepared,
        params: SamplingParams,
        sink: Sink,
        *,
        timeout: float | None = None,
        stream: bool = False,
    ) -> Job:
        """Queue one prepared request; raises QueueFull when `max_queue` jobs already wait."""
        if len(prepared.ids) + 1 >= self._max_position:
            raise InputError(
                f"prompt of {len(prepared.ids)} tokens exceeds the model's context of {self._max_position}"
            )
        params = self.engine.resolve(params)  # the model's default beams where the request sets none
        job = Job(prepared, params, sink, None if timeout is None else time.monotonic() + timeout, stream)
        if params.temperature > 0:
            job.gen = torch.Generator(device="cpu")
            job.gen.manual_seed(params.seed if params.seed is not None else torch.seed() % (2**63))
        with self._cond:
            if self._stop:
                raise QueueFull("the server is shutting down", retry_after=5)
            if len(self._pending) >= self.max_queue:
                self.stats.rejected += 1
                raise QueueFull(
                    f"server busy: {len(self._pending)} requests already queued", self.retry_after()
                )
            self._pending.append(job)
            self._cond.notify()
        return job

    def retry_after(self) -> int:
        """Seconds a rejected client should wait: the queue's expected drain time, at least 1."""
        mean = sum(self._recent_seconds) / len(self._recent_seconds) if self._recent_seconds else 1.0
        waves = (len(self._pending) + self.stats.active) / max(1, self.max_batch)
        return max(1, min(60, round(mean * max(1.0, waves))))

    @property
    def queued(self) -> int:
        return len(self._pending)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: queued jobs get an error, running ones finish their current step."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # ---- the worker ----------------------------------------------------------------------------
    def _take(self, batch: _Batch) -> list[Job]:
        """Newcomers for this step (blocks while there is nothing to do)."""
        with self._cond:
            if not batch:
                while not self._pending and not self._stop:
                    self._cond.wait(0.5)
                if self._stop:
                    return []
                if self.window > 0 and self.max_batch > 1 and len(self._pending) < self.max_batch:
                    # a short window lets requests sent together be prefilled together
                    end = time.monotonic() + self.window
                    while len(self._pending) < self.max_batch and (left := end - time.monotonic()) > 0:
                        self._cond.wait(left)
            elif self.mode != "continuous":
                return []
            free = self.max_batch - len(batch)
            if batch and self._pending and len(self._pending) < max(1, free // 2):
                # joining costs a prefill and a cache merge: let a few newcomers gather first, unless
                # the oldest has already waited `join_wait` (a few decode steps)
                if time.perf_counter() - self._pending[0].t0 < self.join_wait:
                    return []
            out = []
            while self._pending and len(out) < free:
                out.append(self._pending.popleft())
            return out

    def _loop(self) -> None:
        if self.threads:
            # set on this thread, the one that runs the model: set only on the main thread, a
            # count of 1 measured 15x slower here (bench_serve.py, torch 2.13 CPU)
            torch.set_num_threads(self.threads)
        batch = _Batch()
        while True:
            try:
                newcomers = self._take(batch)
                if self._stop:
                    self._fail_all(batch, newcomers)
                    return
                t0 = time.perf_counter()
                with torch.no_grad(), self.engine._ctx(decoding=True):
                    self._step(batch, newcomers)
                self.stats.busy_seconds += time.perf_counter() - t0
            except Exception as exc:  # the worker never dies: fail the rows involved and go on
                log.exception("batch step failed")
                self._fail_all(batch, [], exc)
                batch = _Batch()
            self.stats.active = len(batch)
            self._account_cache(batch)

    def _fail_all(self, batch: _Batch, extra: list[Job], exc: Exception | None = None) -> None:
        err = exc or QueueFull("the server is shutting down", retry_after=5)
        jobs = list(batch.jobs) + list(extra)
        if self._stop:
            with self._cond:
                jobs += list(self._pending)
                self._pending.clear()
        for job in jobs:
            self.stats.failed += 1
            job.sink("error", err)
        batch.jobs = []

    def _step(self, batch: _Batch, newcomers: list[Job]) -> None:
        now = time.monotonic()
        live = []
        for job in newcomers:
            if job.cancelled:
                self.stats.cancelled += 1
            elif job.deadline is not None and now > job.deadline:
                self.stats.timed_out += 1
                job.sink("error", TimeoutError("request timed out while queued"))
            else:
                live.append(job)
        self._drop(batch, now)
        groups: list[list[Job]] = []  # beam jobs, by equal parameters
        for job in [j for j in live if j.params.num_beams > 1]:
            group = next((g for g in groups if g[0].params == job.params), None)
            if group is None:
                groups.append([job])
            else:
                group.append(job)
        for group in groups:
            self._beam(group)
        live = [j for j in live if j.params.num_beams == 1]  # (resolved by `submit`)
        if live:
            self._join(batch, live)
        if not batch:
            return
        self._sample_and_emit(batch)
        if batch:
            self._decode(batch)

    def _beam(self, jobs: list[Job]) -> None:
        """Beam-search jobs of equal parameters decoded whole, together; a failure fails them all."""
        eng = self.engine
        reasons = ["length"] * len(jobs)
        try:
            for r, t, lp, why in eng._beam_loop([j.prepared for j in jobs], jobs[0].params):
                jobs[r].ids.append(t)
                jobs[r].logps.append(lp)
                reasons[r] = why or reasons[r]
        except Exception as exc:
            log.exception("beam search failed")
            self.stats.failed += len(jobs)
            for job in jobs:
                job.sink("error", exc)
            return
        self.stats.prefills += 1
        self.stats.prefill_rows += len(jobs)
        for job, reason in zip(jobs, reasons, strict=True):
            self.stats.prompt_tokens += len(job.prepared.ids)
            self.stats.generated_tokens += len(job.ids)
            result = eng._finish(job.prepared, job.ids, job.logps, reason, job.params, job.t0)
            self.stats.finished += 1
            self._recent_seconds.append(result.seconds)
            job.sink("done", result)

    # ---- prefill and merge ---------------------------------------------------------------------
    def _join(self, batch: _Batch, jobs: list[Job]) -> None:
        eng, model, dev = self.engine, self.engine.model, self.engine.device
        preps = [j.prepared for j in jobs]
        b, length = len(preps), max(len(p.ids) for p in preps)
        input_ids = torch.full((b, length), eng.tok.pad_id, dtype=torch.long)
        attn = torch.zeros((b, length), dtype=torch.long)
        for r, p in enumerate(preps):
            input_ids[r, length - len(p.ids) :] = torch.tensor(p.ids)
            attn[r, length - len(p.ids) :] = 1
        input_ids, attn = input_ids.to(dev), attn.to(dev)
        cache = KVCache(self.engine.cfg, b, length + self.cache_chunk, self._cache_dtype, dev)
        with eng._ctx():  # images and prompts under autocast where it pays (`Engine._ctx`)
            embeds = eng._image_features(preps)  # (kept ones reused: `Engine.keeping_features`)
            logits, positions = model.prefill(input_ids, attn, embeds, [p.grids for p in preps], cache)
        self.stats.prefills += 1
        self.stats.prefill_rows += b
        self.stats.prompt_tokens += sum(len(p.ids) for p in preps)
        if not batch:
            batch.jobs, batch.cache, batch.positions, batch.logits = list(jobs), cache, positions, logits
            batch.key_mask = torch.cat(
                [attn, torch.ones((b, cache.capacity - length), dtype=attn.dtype, device=dev)], 1
            )
            return
        # right-align the running rows and the newcomers on one cache of a common length
        old = batch.cache
        total = max(old.length, length)
        capacity = total + self.cache_chunk
        merged = KVCache(self.engine.cfg, len(batch) + b, capacity, self._cache_dtype, dev)
        n_old = len(batch)
        for layer in range(len(merged.k)):
            for dst, src_old, src_new in ((merged.k, old.k, cache.k), (merged.v, old.v, cache.v)):
                dst[layer][:n_old, :, total - old.length : total] = src_old[layer][:, :, : old.length]
                dst[layer][n_old:, :, total - length : total] = src_new[layer][:, :, :length]
        merged.length = total
        mask = torch.ones((n_old + b, capacity), dtype=torch.long, device=dev)
        mask[:n_old, : total - old.length] = 0
        mask[:n_old, total - old.length : total] = batch.key_mask[:, : old.length]
        mask[n_old:, : total - length] = 0
        mask[n_old:, total - length : total] = attn
        batch.jobs += jobs
        batch.cache, batch.key_mask = merged, mask
        batch.positions = torch.cat([batch.positions, positions])
        batch.logits = torch.cat([batch.logits, logits])

    # ---- one token per row -------------------------------------------------------------------------
    def _sample_and_emit(self, batch: _Batch) -> None:
        eng = self.engine
        logits = batch.logits.float()
        n = len(batch)
        tokens = torch.empty(n, dtype=torch.long)
        logps = torch.empty(n, dtype=torch.float32)
        greedy = [i for i, j in enumerate(batch.jobs) if j.greedy]
        if greedy:
            idx = torch.tensor(greedy, device=logits.device)
            sub = logits[idx]
            t = sub.argmax(-1)
            tokens[greedy] = t.cpu()
            logps[greedy] = torch.log_softmax(sub, -1).gather(-1, t[:, None]).squeeze(-1).cpu()
        for i, job in enumerate(batch.jobs):
            if not job.greedy:
                t, lp = eng._sample(logits[i : i + 1], [job.ids], job.params, job.gen or torch.Generator())
                tokens[i], logps[i] = int(t[0]), float(lp[0])
        keep = []
        now = time.monotonic()
        for i, job in enumerate(batch.jobs):
            t = int(tokens[i])
            job.ids.append(t)
            job.logps.append(float(logps[i]))
            self.stats.generated_tokens += 1
            p = job.params
            stop = set(p.stop_ids) if p.ignore_eos else eng.stop_ids | set(p.stop_ids)
            reason = None
            if t in stop:
                reason = "stop"
            elif (
                len(job.ids) >= p.max_new_tokens
                or len(job.prepared.ids) + len(job.ids) + 1 >= self._max_position
            ):
                reason = "length"
            elif p.stop_on_repetition and eng._repeating(job.ids, p):
                reason = "repetition"
            if reason is not None:
                result = eng._finish(job.prepared, job.ids, job.logps, reason, p, job.t0)
                self.stats.finished += 1
                self._recent_seconds.append(result.seconds)
                job.sink("done", result)  # a stream's last piece comes from result.text
            elif job.cancelled:
                self.stats.cancelled += 1
            elif job.deadline is not None and now > job.deadline:
                self.stats.timed_out += 1
                job.sink("error", TimeoutError("request timed out"))
            else:
                if job.stream:
                    job.sink("tokens", [t])
                keep.append(i)
        batch.tokens = tokens
        self._select(batch, keep)

    def _drop(self, batch: _Batch, now: float) -> None:
        """Rows cancelled or past their deadline since the last step."""
        keep = []
        for i, job in enumerate(batch.jobs):
            if job.cancelled:
                self.stats.cancelled += 1
            elif job.deadline is not None and now > job.deadline:
                self.stats.timed_out += 1
                job.sink("error", TimeoutError("request timed out"))
            else:
                keep.append(i)
        if len(keep) != len(batch):
            self._select(batch, keep)

    def _select(self, batch: _Batch, keep: list[int]) -> None:
        if len(keep) == len(batch):
            return
        batch.jobs = [batch.jobs[i] for i in keep]
        if not keep:
            batch.cache = batch.positions = batch.key_mask = batch.logits = batch.tokens = None
            return
        dev = self.engine.device
        idx = torch.tensor(keep, device=dev)
        batch.cache.select(idx)
        batch.positions = batch.positions[idx]
        batch.key_mask = batch.key_mask[idx]
        if batch.logits is not None:
            batch.logits = batch.logits[idx.to(batch.logits.device)]
        if batch.tokens is not None:
            batch.tokens = batch.tokens[idx.cpu()]

    def _decode(self, batch: _Batch) -> None:
        tokens = batch.tokens  # set by _sample_and_emit: the kept rows' new tokens
        cache = batch.cache
        if cache.length + 1 > cache.capacity:
            self._grow(batch)
            cache = batch.cache
        km = batch.key_mask[:, : cache.length + 1]
        km = None if bool(km.all()) else km
        batch.logits = self.engine.model.decode(tokens.to(self.engine.device), batch.positions, km, cache)
        batch.positions = batch.positions + 1
        self.stats.decode_steps += 1
        self.stats.decode_rows += len(batch)
        self.stats.max_batch_seen = max(self.stats.max_batch_seen, len(batch))

    def _grow(self, batch: _Batch) -> None:
        """More room for the next tokens; drops leading columns that are padding for every row."""
        old = batch.cache
        real = batch.key_mask[:, : old.length].bool().any(0)
        start = int(real.nonzero()[0]) if bool(real.any()) else 0
        used = old.length - start
        capacity = used + self.cache_chunk
        new = KVCache(self.engine.cfg, len(batch), capacity, self._cache_dtype, self.engine.device)
        for layer in range(len(new.k)):
            new.k[layer][:, :, :used] = old.k[layer][:, :, start : old.length]
            new.v[layer][:, :, :used] = old.v[layer][:, :, start : old.length]
        new.length = used
        mask = torch.ones((len(batch), capacity), dtype=torch.long, device=self.engine.device)
        mask[:, :used] = batch.key_mask[:, start : old.length]
        batch.cache, batch.key_mask = new, mask

    def _account_cache(self, batch: _Batch) -> None:
        n = batch.cache.nbytes() if batch.cache is not None else 0
        self.stats.kv_cache_bytes = n
        self.stats.kv_cache_peak_bytes = max(self.stats.kv_cache_peak_bytes, n)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is queued or running (tests)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self._pending and self.stats.active == 0:
                return True
            time.sleep(0.01)
        return False

    def model_bytes(self) -> int:
        m = self.engine.model
        return sum(t.numel() * t.element_size() for t in list(m.parameters()) + list(m.buffers()))
