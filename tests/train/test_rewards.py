"""Task rewards: hand-computed cases, the zero rules (over-length, schema-breaking), the judges' mapping."""

from __future__ import annotations

import pytest

from hyocr.train.data import Sample
from hyocr.train.rewards import ChrfStandInJudge, OpenAIJudge, score


def _s(task: str, answer: str, **meta) -> Sample:
    return Sample("k", task, "instruction", answer, meta=meta)


SPOT = "<ref>cat</ref><quad>(100,100),(300,200)</quad><ref>dog</ref><quad>(500,500),(700,600)</quad>"


def test_spotting_reward_matches_design():
    assert score(_s("spotting", SPOT), SPOT).reward == 1.0
    # one box right with text one edit off (NED 1/3), the other missing: (2/3 + 0) / 2
    pred = "<ref>cap</ref><quad>(100,100),(300,200)</quad>"
    assert score(_s("spotting", SPOT), pred).reward == pytest.approx((1 - 1 / 3) / 2)
    # a box in the wrong place matches nothing: 0 / (1 pred + 2 gt)
    far = "<ref>cat</ref><quad>(0,900),(50,950)</quad>"
    assert score(_s("spotting", SPOT), far).reward == 0.0


def test_zero_for_over_length_and_schema_breaking():
    r = score(_s("spotting", SPOT), SPOT, finish_reason="length")
    assert (r.reward, r.valid) == (0.0, False) and "over-length" in r.reason
    assert score(_s("text", "abc"), "abc", finish_reason="repetition").reward == 0.0
    broken = score(_s("spotting", SPOT), SPOT + "<ref>tail</ref><quad>(1,2)")  # truncated entry
    assert (broken.reward, broken.valid) == (0.0, False)
    assert score(_s("spotting", SPOT), "just some words").reward == 0.0
    assert score(_s("fields", '{"a": "1"}'), "not json at all").valid is False
    assert score(_s("table", "<table><tr><td>1</td></tr></table>"), "1").valid is False


def test_parsing_fields_formula_key():
    assert score(_s("text", "hello"), "hallo").reward == pytest.approx(0.8)
    assert score(_s("fields", '{"a": "x", "b": "y"}'), '{"a": "x", "b": "yz"}').reward == pytest.approx(0.75)
    assert score(_s("formula", "$$\\frac{a}{b}$$"), "\\dfrac{a}{b}").reward == 1.0
    assert score(_s("key", "12.50"), " 12.50 ").reward == 1.0
    table = "<table><tr><td>1</td><td>2</td></tr></table>"
    assert score(_s("table", table), table).reward == 1.0
    half = score(_s("table", table), "<table><tr><td>1</td><td>3</td></tr></table>").reward
    assert 0.5 < half < 1.0


def test_translation_stand_in_and_vqa():
    same = score(_s("translate", "Guten Morgen, Welt"), "Guten Morgen, Welt").reward
    assert same == pytest.approx(0.8)  # matching the reference = the judge's anchor 4 -> 0.8
    assert score(_s("translate", "Guten Morgen, Welt"), "xyz").reward < 0.2
    assert ChrfStandInJudge.name == "chrf-stand-in"
    assert score(_s("vqa", "12.50"), "The total is 12.50").reward == 1.0
    assert score(_s("vqa", "12.50"), "7.00").reward == 0.0


def test_openai_judge_unreachable_scores_zero():
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "m", timeout=0.5)  # discard port: nothing listens
    r = score(_s("translate", "Guten Morgen"), "Guten Morgen", judge=judge)
    assert r.reward == 0.0
