"""Engine.score (random weights, float32, no autocast): teacher-forced log-probabilities of given
answers against the decoder's own (greedy generation) and against a plain uncached forward pass."""

from __future__ import annotations

import math

import pytest
import torch

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.processing.template import PromptBuilder
from tests.conftest import make_image


@pytest.fixture(scope="module")
def engine(random_model, tokenizer):
    return Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)


def _requests() -> list[Request]:
    return [
        Request("Extract the text in the image.", [make_image(32, 96, seed=1)]),
        Request("Extract the text in the image.", [make_image(48, 160, seed=2)]),
        Request("Read it.", [make_image(64, 64, seed=3)]),
    ]


def _uncached(engine, request, answer: list[int]) -> list[float]:
    """Each answer token's log-probability, then the stop ids' together, from one plain forward
    pass of the prompt and the whole answer."""
    p = engine.prepare(request)
    pv = torch.cat([torch.from_numpy(a) for a in p.pixel_values])
    with torch.no_grad():
        logits = engine.model(torch.tensor([p.ids + answer]), pv, p.grids).logits[0]
    logp = torch.log_softmax(logits.float(), -1)[len(p.ids) - 1 :]
    stop = torch.logsumexp(logp[-1, sorted(engine.stop_ids)], 0)
    return [float(logp[i, t]) for i, t in enumerate(answer)] + [float(stop)]


def test_score_matches_greedy_decoding_logprobs(engine):
    reqs = _requests()
    gens = engine.generate(reqs, SamplingParams(max_new_tokens=7))
    scores = engine.score(reqs, [g.token_ids for g in gens])
    for g, s in zip(gens, scores, strict=True):
        assert len(s) == len(g.token_ids) + 1
        assert s[:-1] == pytest.approx(g.logprobs, abs=1e-4)
        assert all(v <= 0 for v in s)


def test_batched_scores_equal_an_uncached_forward_pass(engine, tokenizer):
    reqs = _requests()
    answers = [tokenizer.encode("a b c"), tokenizer.encode("hello world, 12.5"), []]
    batched = engine.score(reqs, answers)
    for r, a, s in zip(reqs, answers, batched, strict=True):
        assert s == pytest.approx(_uncached(engine, r, a), abs=1e-4)
        assert engine.score([r], [a])[0] == pytest.approx(s, abs=1e-4)
    assert len(batched[2]) == 1 and math.exp(batched[2][0]) <= 1.0


def test_a_likelier_answer_scores_higher(engine):
    """The greedy answer's first token is the argmax, so replacing it lowers its log-probability."""
    req = _requests()[0]
    g = engine.generate([req], SamplingParams(max_new_tokens=4))[0]
    other = [(g.token_ids[0] + 1) % engine.cfg.lm_vocab, *g.token_ids[1:]]
    best, worse = engine.score([req, req], [g.token_ids, other])
    assert best[0] > worse[0]


def test_score_needs_one_answer_per_request_within_the_context(engine):
    from hyocr.errors import PixelBudgetError

    with pytest.raises(ValueError, match="2 requests but 1 answers"):
        engine.score(_requests()[:2], [[1]])
    with pytest.raises(PixelBudgetError, match="exceed the model's context"):
        engine.score(_requests()[:1], [[9] * engine.cfg.max_position])


def test_an_answer_token_that_is_the_image_placeholder_is_a_token(engine, tokenizer):
    """A model may answer any id, the image placeholder's too: scored as the decoding steps read it
    (its embedding, a text position), not as a slot for image features."""
    req = _requests()[1]
    answer = [tokenizer.encode("ab")[0], engine.cfg.image_token_id, tokenizer.encode("c")[0]]
    p = engine.prepare(req)
    params = SamplingParams(max_new_tokens=8)
    with torch.no_grad():
        st = engine._prefill([p], params)
        stepped = []
        for t in answer:
            stepped.append(float(torch.log_softmax(st.logits.float(), -1)[0, t]))
            engine._decode(st, None, torch.tensor([t]))
        stop = float(torch.logsumexp(torch.log_softmax(st.logits.float(), -1)[0, sorted(engine.stop_ids)], 0))
    assert engine.score([req], [answer])[0] == pytest.approx([*stepped, stop], abs=1e-4)
