"""`Engine.keeping_features`: an image given again as the same object is not encoded again, and
reads exactly as it did (random weights, float32, no autocast)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.processing.template import PromptBuilder
from tests.conftest import make_image


class Counting(Engine):
    """The engine, counting the images its vision tower encodes."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.encoded = 0
        model = self.model
        inner = model.encode_images

        def encode(pv, grids):
            self.encoded += len(grids)
            return inner(pv, grids)

        model.encode_images = encode


@pytest.fixture()
def engine(random_model, tokenizer):
    eng = Counting(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)
    yield eng
    del eng.model.encode_images  # the shared model's own method again


GREEDY = SamplingParams(max_new_tokens=6, ignore_eos=True)
BEAMS = SamplingParams(max_new_tokens=6, ignore_eos=True, num_beams=3)


def test_an_image_read_again_in_the_context_is_encoded_once_and_reads_the_same(engine, tmp_path):
    a, b = make_image(64, 32, seed=1), make_image(96, 32, seed=2)
    want_greedy = engine.generate([Request("Read.", [a]), Request("Read.", [b])], GREEDY)
    want_beams = engine.generate([Request("Read.", [b])], BEAMS)
    assert engine.encoded == 3  # outside the context nothing is kept
    engine.encoded = 0
    path = tmp_path / "a.png"
    a.save(path)
    copy = b.copy()
    with engine.keeping_features([a, b, copy, path]):
        got_greedy = engine.generate([Request("Read.", [a]), Request("Read.", [b])], GREEDY)
        got_beams = engine.generate([Request("Read.", [b])], BEAMS)
        assert engine.encoded == 2  # b's second reading took its kept features
        # a copy of b is another object: encoded again
        engine.generate([Request("Read.", [copy])], GREEDY)
        assert engine.encoded == 3
        # a path is never kept, nor an image the context was not given
        engine.generate([Request("Read.", [path])], GREEDY)
        engine.generate([Request("Read.", [path])], GREEDY)
        assert engine.encoded == 5
        other = make_image(64, 32, seed=5)
        engine.generate([Request("Read.", [other])], GREEDY)
        engine.generate([Request("Read.", [other])], GREEDY)
        assert engine.encoded == 7
    assert [g.token_ids for g in got_greedy] == [g.token_ids for g in want_greedy]
    assert got_beams[0].token_ids == want_beams[0].token_ids
    assert got_beams[0].logprobs == pytest.approx(want_beams[0].logprobs, abs=1e-5)
    # the context's end drops what it kept
    assert engine._kept == {} and engine._kept_bytes == 0 and engine._wanted == {}
    engine.encoded = 0
    engine.generate([Request("Read.", [b])], GREEDY)
    assert engine.encoded == 1


def test_kept_features_are_per_read_height_and_within_the_budget(engine):
    a = make_image(64, 32, seed=3)
    engine.cfg = replace(engine.cfg, line_height=32, formula_height=64)
    try:
        with engine.keeping_features([a]):
            engine.generate([Request("Read.", [a])], GREEDY)
            engine.generate([Request("Formula.", [a], task="formula")], GREEDY)  # read 64 px tall
            assert engine.encoded == 2
            engine.generate([Request("Formula.", [a], task="formula")], GREEDY)
            assert engine.encoded == 2
        with engine.keeping_features([a], max_bytes=0):  # nothing fits
            engine.generate([Request("Read.", [a])], GREEDY)
            engine.generate([Request("Read.", [a])], GREEDY)
            assert engine.encoded == 4
            assert engine._kept == {}
    finally:
        engine.cfg = engine.model.cfg


def test_overlapping_contexts_each_let_go_of_their_own_images(engine):
    # a busy server's pages overlap: a page's end drops its crops' features at once, not when the
    # last page ends, and an image two contexts hold stays until both end
    a, b, shared = make_image(64, 32, seed=6), make_image(64, 32, seed=7), make_image(64, 32, seed=8)
    first = engine.keeping_features([a, shared])
    second = engine.keeping_features([b, shared])
    with first:
        with second:
            engine.generate(
                [Request("Read.", [a]), Request("Read.", [b]), Request("Read.", [shared])], GREEDY
            )
            assert {k[0] for k in engine._kept} == {id(a), id(b), id(shared)}
        assert {k[0] for k in engine._kept} == {id(a), id(shared)}
        engine.encoded = 0
        engine.generate([Request("Read.", [shared]), Request("Read.", [b])], GREEDY)
        assert engine.encoded == 1  # b was let go, shared was not
    assert engine._kept == {} and engine._kept_bytes == 0
