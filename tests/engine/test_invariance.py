"""Invariances of the generation machinery (random weights, float32, no autocast)."""

from __future__ import annotations

import pytest
import torch

from hyocr.engine.generate import Engine, Request, SamplingParams, cut_tail_repetition, tail_repeat_unit
from hyocr.processing.template import PromptBuilder
from tests.conftest import make_image


@pytest.fixture(scope="module")
def engine(random_model, tokenizer):
    return Engine(random_model, tokenizer, PromptBuilder(tokenizer), autocast=False)


def _uncached_greedy(engine, request, n):
    """Reference decoding: re-run the full training forward on the growing sequence each step."""
    p = engine.prepare(request)
    pv = torch.cat([torch.from_numpy(a) for a in p.pixel_values])
    ids = list(p.ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            logits = engine.model(torch.tensor([ids]), pv, p.grids).logits
            t = int(logits[0, -1].argmax())
            out.append(t)
            ids.append(t)
    return out


def test_cached_equals_uncached(engine):
    req = Request("Extract the text in the image.", [make_image(64, 128, 1)])
    cached = engine.generate([req], SamplingParams(max_new_tokens=20, ignore_eos=True))[0].token_ids
    assert cached == _uncached_greedy(engine, req, 20)


def test_batch_equals_each_alone(engine):
    reqs = [
        Request("Extract the text in the image.", [make_image(64, 192, 2)]),
        Request("提取图中的文字。", [make_image(96, 64, 3), make_image(64, 64, 4)]),
        Request("TOTAL 12.50", []),
        Request(
            "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
            [make_image(128, 128, 5)],
        ),
    ]
    params = SamplingParams(max_new_tokens=12, ignore_eos=True)
    batched = engine.generate(reqs, params)
    for req, got in zip(reqs, batched, strict=True):
        alone = engine.generate([req], params)[0]
        assert got.token_ids == alone.token_ids
        assert got.logprobs == pytest.approx(alone.logprobs, abs=1e-4)


def test_rows_finishing_early_leave_the_batch_without_changing_others(engine):
    reqs = [Request("Extract the text in the image.", [make_image(64, 64, 6)]), Request("TOTAL", [])]
    short = SamplingParams(max_new_tokens=3, ignore_eos=True)
    long = SamplingParams(max_new_tokens=15, ignore_eos=True)
    both = engine.generate(reqs, long)
    assert engine.generate(reqs[:1], short)[0].token_ids == both[0].token_ids[:3]


def test_streamed_text_equals_final_text(engine):
    req = Request("Extract the text in the image.", [make_image(64, 96, 7)])
    params = SamplingParams(max_new_tokens=25, ignore_eos=True)
    done = []
    pieces = list(engine.stream(req, params, on_done=done.append))
    assert "".join(pieces) == done[0].text == engine.generate([req], params)[0].text
    assert len(pieces) > 1


def test_sampling_is_seeded_and_respects_top_k_1(engine):
    req = Request("Extract the text in the image.", [make_image(64, 64, 8)])
    a = engine.generate(
        [req], SamplingParams(max_new_tokens=10, temperature=0.9, top_p=0.95, seed=3, ignore_eos=True)
    )
    b = engine.generate(
        [req], SamplingParams(max_new_tokens=10, temperature=0.9, top_p=0.95, seed=3, ignore_eos=True)
    )
    assert a[0].token_ids == b[0].token_ids
    greedy = engine.generate([req], SamplingParams(max_new_tokens=10, ignore_eos=True))[0].token_ids
    top1 = engine.generate(
        [req], SamplingParams(max_new_tokens=10, temperature=1.5, top_k=1, seed=1, ignore_eos=True)
    )
    assert top1[0].token_ids == greedy


def test_stop_ids_and_max_new_tokens(engine):
    req = Request("TOTAL", [])
    first = engine.generate([req], SamplingParams(max_new_tokens=5, ignore_eos=True))[0]
    assert first.finish_reason == "length" and len(first.token_ids) == 5
    stopped = engine.generate(
        [req], SamplingParams(max_new_tokens=5, stop_ids=(first.token_ids[2],), ignore_eos=True)
    )[0]
    assert stopped.finish_reason == "stop"
    assert stopped.token_ids == first.token_ids[: first.token_ids.index(first.token_ids[2])]


def test_bf16_autocast_runs_and_mostly_agrees(random_model, tokenizer):
    eng = Engine(random_model, tokenizer, autocast=True)
    req = Request("Extract the text in the image.", [make_image(64, 64, 9)])
    out = eng.generate([req], SamplingParams(max_new_tokens=8, ignore_eos=True))[0]
    assert len(out.token_ids) == 8 and all(lp <= 0 for lp in out.logprobs)


# ---- repetition handling, hand-computed ------------------------------------------------------
def test_tail_repeat_unit():
    assert tail_repeat_unit("xyzabababab", 4) == 2
    assert tail_repeat_unit("abcabc", 3) == 0
    assert tail_repeat_unit([1, 2, 3, 3, 3], 3) == 1


def test_cut_tail_repetition_only_on_long_texts_and_keeps_one_copy():
    body = "Receipt line. " * 3
    text = "x" * 8000 + body + "(AP)" * 12
    cut, flagged = cut_tail_repetition(text)
    assert flagged and cut == "x" * 8000 + body + "(AP)"
    short = "ha" * 50
    assert cut_tail_repetition(short) == (short, False)
    nine = "y" * 8000 + "zq" * 9 + "!"
    assert cut_tail_repetition(nine) == (nine, False)


def test_vision_token_budget_is_a_clear_error(random_model, tokenizer):
    from hyocr.errors import PixelBudgetError

    eng = Engine(random_model, tokenizer, autocast=False, max_vision_tokens=20)
    with pytest.raises(PixelBudgetError, match="need 22 vision tokens, over the budget of 20"):
        eng.generate([Request("x", [make_image(128, 128, 1)])], SamplingParams(max_new_tokens=1))
    # a smaller max_pixels brings the same image inside the budget
    small = Engine(random_model, tokenizer, autocast=False, max_vision_tokens=20, max_pixels=64 * 64)
    assert (
        small.generate([Request("x", [make_image(128, 128, 1)])], SamplingParams(max_new_tokens=1))[
            0
        ].image_sizes[0]["resized_width"]
        == 64
    )
