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
    with engine.keeping_features():
        got_greedy = engine.generate([Request("Read.", [a]), Request("Read.", [b])], GREEDY)
        got_beams = engine.generate([Request("Read.", [b])], BEAMS)
        assert engine.encoded == 2  # b's second reading took its kept features
        # a copy of b is another object: encoded again
        engine.generate([Request("Read.", [b.copy()])], GREEDY)
        assert engine.encoded == 3
        # a path is never kept
        path = tmp_path / "a.png"
        a.save(path)
        engine.generate([Request("Read.", [path])], GREEDY)
        engine.generate([Request("Read.", [path])], GREEDY)
        assert engine.encoded == 5
    assert [g.token_ids for g in got_greedy] == [g.token_ids for g in want_greedy]
    assert got_beams[0].token_ids == want_beams[0].token_ids
    assert got_beams[0].logprobs == pytest.approx(want_beams[0].logprobs, abs=1e-5)
    # the context's end drops what it kept
    assert engine._kept == {} and engine._kept_bytes == 0
    engine.encoded = 0
    engine.generate([Request("Read.", [b])], GREEDY)
    assert engine.encoded == 1


def test_kept_features_are_per_read_height_and_within_the_budget(engine):
    a = make_image(64, 32, seed=3)
    engine.cfg = replace(engine.cfg, line_height=32, formula_height=64)
    try:
        with engine.keeping_features():
            engine.generate([Request("Read.", [a])], GREEDY)
            engine.generate([Request("Formula.", [a], task="formula")], GREEDY)  # read 64 px tall
            assert engine.encoded == 2
            engine.generate([Request("Formula.", [a], task="formula")], GREEDY)
            assert engine.encoded == 2
        with engine.keeping_features(max_bytes=0):  # nothing fits
            engine.generate([Request("Read.", [a])], GREEDY)
            engine.generate([Request("Read.", [a])], GREEDY)
            assert engine.encoded == 4
            assert engine._kept == {}
    finally:
        engine.cfg = engine.model.cfg
