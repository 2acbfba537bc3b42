"""Beam search (random weights, float32, no autocast): the cached, batched search against a plain
uncached search written from its description, and its invariances."""

from __future__ import annotations

import json

import pytest
import torch

from hyocr.engine.generate import Engine, Request, SamplingParams
from hyocr.processing.template import PromptBuilder
from tests.conftest import make_image


@pytest.fixture(scope="module")
def engine(random_model, tokenizer):
    return Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)


def _next_logp(engine, p, pv, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        logits = engine.model(torch.tensor([p.ids + ids]), pv, p.grids).logits
    return torch.log_softmax(logits[0, -1].float(), -1)


def _uncached_beams(engine, request, k: int, max_new: int, stop: set[int], alpha: float = 1.0) -> list[int]:
    """Keep the k likeliest unfinished answers; set aside those that stop (or reach max_new), scored
    by sum of log-probabilities / length ** alpha; stop once k are set aside and no live answer,
    scored alike, beats the worst of them; answer the best set aside (its stop id included)."""
    p = engine.prepare(request)
    pv = torch.cat([torch.from_numpy(a) for a in p.pixel_values]) if p.pixel_values else None
    live: list[tuple[float, list[int]]] = [(0.0, [])]
    done: list[tuple[float, list[int]]] = []
    while True:
        cands = []
        for score, ids in live:
            logp = _next_logp(engine, p, pv, ids)
            cands += [(score + float(lp), [*ids, t]) for t, lp in enumerate(logp)]
        cands.sort(key=lambda c: -c[0])
        live = []
        for score, ids in cands[: 2 * k]:
            if len(live) == k:
                break
            if ids[-1] in stop or len(ids) >= max_new:
                done.append((score / len(ids) ** alpha, ids))
            else:
                live.append((score, ids))
        done = sorted(done, key=lambda d: -d[0])[:k]
        n = len(live[0][1]) if live else 0
        if not live or (len(done) == k and done[-1][0] >= live[0][0] / n**alpha):
            return done[0][1]


def _common_token(engine, request) -> int:
    """A token the model emits early for this request: a stop id that answers reach."""
    ids = engine.generate([request], SamplingParams(max_new_tokens=6, ignore_eos=True))[0].token_ids
    return ids[2]


REQUESTS = [
    Request("Extract the text in the image.", [make_image(64, 160, 11)]),
    Request("提取图中的文字。", [make_image(96, 64, 12)]),
    Request("TOTAL 12.50", []),
]


@pytest.mark.parametrize("k", [2, 3])
def test_cached_batched_beams_equal_the_uncached_search(engine, k):
    for i, req in enumerate(REQUESTS):
        stop = _common_token(engine, req)
        params = SamplingParams(max_new_tokens=7, num_beams=k, stop_ids=(stop,), ignore_eos=True)
        got = engine.generate([req], params)[0]
        want = _uncached_beams(engine, req, k, 7, {stop})
        assert got.token_ids == (want[:-1] if want[-1] == stop else want), i
        assert got.finish_reason == ("stop" if want[-1] == stop else "length")


def test_beams_reach_max_new_tokens_without_stops(engine):
    req = REQUESTS[0]
    got = engine.generate([req], SamplingParams(max_new_tokens=5, num_beams=3, ignore_eos=True))[0]
    assert got.finish_reason == "length" and got.token_ids == _uncached_beams(engine, req, 3, 5, set())


def test_beam_batch_equals_each_alone_and_length_penalty_is_used(engine):
    stop = _common_token(engine, REQUESTS[0])
    for alpha in (1.0, 0.0):
        params = SamplingParams(
            max_new_tokens=9, num_beams=3, stop_ids=(stop,), ignore_eos=True, length_penalty=alpha
        )
        batched = engine.generate(REQUESTS, params)
        for req, got in zip(REQUESTS, batched, strict=True):
            alone = engine.generate([req], params)[0]
            assert got.token_ids == alone.token_ids
            assert got.logprobs == pytest.approx(alone.logprobs, abs=1e-4)
            assert len(got.logprobs) == len(got.token_ids) and all(lp <= 0 for lp in got.logprobs)
        want = _uncached_beams(engine, REQUESTS[0], 3, 9, {stop}, alpha)
        assert batched[0].token_ids == (want[:-1] if want[-1] == stop else want)


def test_beam_answers_stream_whole(engine):
    params = SamplingParams(max_new_tokens=8, num_beams=2, ignore_eos=True)
    done = []
    pieces = list(engine.stream(REQUESTS[0], params, on_done=done.append))
    assert "".join(pieces) == done[0].text == engine.generate([REQUESTS[0]], params)[0].text


def test_beam_parameters_fail_clearly():
    with pytest.raises(ValueError, match="num_beams must be at least 1"):
        SamplingParams(num_beams=0)
    with pytest.raises(ValueError, match="needs temperature 0"):
        SamplingParams(num_beams=2, temperature=0.7)


def _saved(random_model, tokenizer, path, generation: dict | str | None):
    from hyocr.model.weights import save_model

    save_model(random_model, path)
    tokenizer.save(path)
    if generation is not None:
        text = generation if isinstance(generation, str) else json.dumps(generation)
        (path / "generation_config.json").write_text(text)
    return path


def test_a_models_generation_config_sets_its_default_beams(random_model, tokenizer, tmp_path):
    beamed = Engine.from_dir(
        _saved(random_model, tokenizer, tmp_path / "b", {"num_beams": 3, "length_penalty": 0.5}),
        autocast=False,
    )
    plain = Engine(random_model, tokenizer, autocast=False)
    req = Request("Extract the text in the image.", [make_image(64, 128, 3)])
    base = dict(max_new_tokens=9, ignore_eos=True)
    want = plain.generate([req], SamplingParams(**base, num_beams=3, length_penalty=0.5))[0]
    greedy = plain.generate([req], SamplingParams(**base))[0]
    assert want.token_ids != greedy.token_ids  # else the test could not tell the defaults apart
    assert beamed.generate([req], SamplingParams(**base))[0].token_ids == want.token_ids
    assert "".join(beamed.stream(req, SamplingParams(**base))) == want.text
    assert beamed.generate([req], SamplingParams(**base, num_beams=1))[0].token_ids == greedy.token_ids
    # sampling is never beamed by default
    sampled = SamplingParams(**base, temperature=0.8, seed=1)
    assert beamed.resolve(sampled).num_beams == 1
    assert beamed.generate([req], sampled)[0].token_ids == plain.generate([req], sampled)[0].token_ids


@pytest.mark.parametrize(
    "generation, needle",
    [("[1, 2]", "not a JSON object"), ("{", "not a JSON object"), ({"num_beams": 0}, "integer >= 1")],
)
def test_a_bad_generation_config_is_a_one_line_load_error(
    random_model, tokenizer, tmp_path, generation, needle
):
    from hyocr.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match=needle):
        Engine.from_dir(_saved(random_model, tokenizer, tmp_path / "m", generation))
