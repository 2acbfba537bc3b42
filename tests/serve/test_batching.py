"""The scheduler: continuous batching gives each request the tokens it gets alone (float32, greedy),
newcomers join a running batch, queue bounds, cancellation and deadlines."""

from __future__ import annotations

import threading
import time

import pytest

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.processing.template import PromptBuilder
from hyocr.serve.batching import QueueFull, Scheduler
from tests.conftest import make_image


@pytest.fixture(scope="module")
def engine(random_model, tokenizer):
    return Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)


class Collector:
    """A sink that records events and lets a test wait for the final one."""

    def __init__(self):
        self.events: list[tuple[str, object]] = []
        self.done = threading.Event()

    def __call__(self, kind, payload):
        self.events.append((kind, payload))
        if kind in ("done", "error"):
            self.done.set()

    @property
    def result(self):
        assert self.done.wait(30), "no result within 30 s"
        kind, payload = self.events[-1]
        return payload if kind == "done" else payload

    @property
    def steps(self) -> int:
        return sum(1 for k, _ in self.events if k == "tokens")


REQS = [
    Request("Extract the text in the image.", [make_image(64, 192, 2)]),
    Request("提取图中的文字。", [make_image(96, 64, 3), make_image(64, 64, 4)]),
    Request("TOTAL 12.50", []),
    Request(
        "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
        [make_image(128, 128, 5)],
    ),
]


def test_staggered_joins_give_the_tokens_of_each_request_alone(engine):
    """Rows join a running batch at different steps (so both kinds of cache padding happen) and
    leave at different steps; every row's tokens and log-probs equal its solo run."""
    sched = Scheduler(engine, mode="continuous", max_batch=8, window_ms=0, cache_chunk=8)
    try:
        lengths = [30, 9, 22, 14]
        alone = [
            engine.generate([r], SamplingParams(max_new_tokens=n, ignore_eos=True))[0]
            for r, n in zip(REQS, lengths, strict=True)
        ]
        sinks = []
        for r, n in zip(REQS, lengths, strict=True):
            sink = Collector()
            sched.submit(
                engine.prepare(r), SamplingParams(max_new_tokens=n, ignore_eos=True), sink, stream=True
            )
            sinks.append(sink)
            # wait until the previous request has produced a few tokens, so this one joins midway
            while sinks[0].steps < 3 * len(sinks) and not sinks[0].done.is_set():
                time.sleep(0.001)
        for sink, ref in zip(sinks, alone, strict=True):
            got = sink.result
            assert got.token_ids == ref.token_ids
            assert got.logprobs == pytest.approx(ref.logprobs, abs=1e-4)
            assert got.text == ref.text
        assert sched.stats.prefills >= 2, "requests should have joined in separate prefills"
        assert sched.stats.max_batch_seen >= 2, "requests should have shared decode steps"
    finally:
        sched.close()


def test_requests_sent_together_share_one_prefill_and_every_decode_step(engine):
    sched = Scheduler(engine, mode="continuous", max_batch=8, window_ms=200)
    try:
        sinks = [Collector() for _ in range(4)]
        for r, s in zip(REQS, sinks, strict=True):
            sched.submit(engine.prepare(r), SamplingParams(max_new_tokens=10, ignore_eos=True), s)
        for s in sinks:
            assert len(s.result.token_ids) == 10
        assert sched.stats.prefills == 1 and sched.stats.prefill_rows == 4
        assert sched.stats.decode_steps == 9 and sched.stats.decode_rows == 36
    finally:
        sched.close()


def test_off_mode_runs_one_at_a_time(engine):
    sched = Scheduler(engine, mode="off")
    try:
        sinks = [Collector() for _ in range(3)]
        for s in sinks:
            sched.submit(engine.prepare(REQS[2]), SamplingParams(max_new_tokens=5, ignore_eos=True), s)
        assert [len(s.result.token_ids) for s in sinks] == [5, 5, 5]
        assert sched.stats.prefills == 3 and sched.stats.max_batch_seen == 1
    finally:
        sched.close()


def test_full_queue_refuses_with_retry_after(engine):
    sched = Scheduler(engine, mode="continuous", max_batch=1, max_queue=2, window_ms=0)
    try:
        first = Collector()
        sched.submit(
            engine.prepare(REQS[2]), SamplingParams(max_new_tokens=400, ignore_eos=True), first, stream=True
        )
        while first.steps == 0:
            time.sleep(0.001)
        queued = [Collector(), Collector()]
        for s in queued:
            sched.submit(engine.prepare(REQS[2]), SamplingParams(max_new_tokens=2, ignore_eos=True), s)
        with pytest.raises(QueueFull) as exc:
            sched.submit(engine.prepare(REQS[2]), SamplingParams(max_new_tokens=2), Collector())
        assert exc.value.retry_after >= 1 and "busy" in str(exc.value)
        assert sched.stats.rejected == 1
    finally:
        sched.close()


def test_cancelled_and_timed_out_rows_leave_and_others_continue(engine):
    sched = Scheduler(engine, mode="continuous", max_batch=4, window_ms=100)
    try:
        params = SamplingParams(max_new_tokens=60, ignore_eos=True)
        a, b, c = Collector(), Collector(), Collector()
        ja = sched.submit(engine.prepare(REQS[0]), params, a, stream=True)
        sched.submit(engine.prepare(REQS[2]), params, b, timeout=0.05, stream=True)
        sched.submit(engine.prepare(REQS[3]), params, c)
        while a.steps < 2:
            time.sleep(0.001)
        ja.cancel()
        assert isinstance(b.result, TimeoutError)
        assert len(c.result.token_ids) == 60
        assert not a.done.is_set() and a.steps < 60
        assert sched.stats.cancelled == 1 and sched.stats.timed_out == 1
        assert sched.wait_idle() and sched.stats.kv_cache_bytes == 0
    finally:
        sched.close()


def test_sampled_rows_are_seeded_independently_of_neighbours(engine):
    sched = Scheduler(engine, mode="continuous", max_batch=4, window_ms=100)
    try:
        sampled = SamplingParams(max_new_tokens=12, temperature=0.9, top_p=0.95, seed=3, ignore_eos=True)
        ref = engine.generate([REQS[0]], sampled)[0].token_ids
        s1, s2 = Collector(), Collector()
        sched.submit(engine.prepare(REQS[0]), sampled, s1)
        sched.submit(engine.prepare(REQS[1]), SamplingParams(max_new_tokens=12, ignore_eos=True), s2)
        assert s1.result.token_ids == ref
    finally:
        sched.close()


def test_beam_jobs_taken_together_with_equal_parameters_are_decoded_together(engine):
    # a page's unsure segments read again arrive together: one prefill for those of equal
    # parameters, another for the odd one out, and every answer as the engine gives it alone
    sched = Scheduler(engine, mode="continuous", max_batch=8, window_ms=300)
    try:
        beams = SamplingParams(max_new_tokens=8, ignore_eos=True, num_beams=3)
        other = SamplingParams(max_new_tokens=5, ignore_eos=True, num_beams=3)
        jobs = [(REQS[0], beams), (REQS[3], beams), (REQS[1], other), (REQS[2], beams)]
        want = [engine.generate([r], p)[0].token_ids for r, p in jobs]
        got = [Collector() for _ in jobs]
        for (r, p), c in zip(jobs, got, strict=True):
            sched.submit(engine.prepare(r), p, c)
        assert [c.result.token_ids for c in got] == want
        assert sched.stats.prefills == 2 and sched.stats.prefill_rows == 4
        assert sched.stats.finished == 4
    finally:
        sched.close()


def test_a_beam_search_job_runs_whole_beside_the_batch_and_changes_no_other_row(engine):
    sched = Scheduler(engine, mode="continuous", max_batch=8, window_ms=0)
    try:
        greedy = SamplingParams(max_new_tokens=24, ignore_eos=True)
        beams = SamplingParams(max_new_tokens=10, ignore_eos=True, num_beams=3)
        want_greedy = engine.generate([REQS[0]], greedy)[0]
        want_beam = engine.generate([REQS[3]], beams)[0]
        first, second = Collector(), Collector()
        sched.submit(engine.prepare(REQS[0]), greedy, first, stream=True)
        while first.steps < 3:
            time.sleep(0.001)
        sched.submit(engine.prepare(REQS[3]), beams, second, stream=True)
        assert second.result.token_ids == want_beam.token_ids and second.steps == 0
        assert first.result.token_ids == want_greedy.token_ids
        assert sched.stats.finished == 2
    finally:
        sched.close()
