"""Task rewards for GRPO and hard-example mining (DESIGN.md §4), all in [0, 1], built on eval/metrics.py.

| task | reward |
|---|---|
| spotting | `metrics.spotting_reward`: predictions in order take the unmatched ground-truth box of highest IoU ≥ 0.5; a match scores 1 − NED of the texts; mean over matches + unmatched of both sides |
| text, subtitles, document, chart | 1 − NED against the reference (`metrics.parsing_reward`) |
| table | mean of 1 − NED and TEDS (the later release adds TEDS for tables) |
| document with tables in the reference | mean of 1 − NED and the matched-table TEDS of `metrics.document_score` |
| formula | 1 − NED after LaTeX normalisation (`metrics.normalize_latex`) |
| key | 1 − NED of the stripped value |
| fields | `metrics.fields_reward`: mean over the union of keys of 1 − NED of normalised values |
| translate | a judge's 0–5 score with the reference as the 4-point anchor, mapped by `metrics.judge_to_reward` |
| vqa | a judge's 0 or 1 |

Zero, whatever the content (the report's rule for RL):
- over-length: generation stopped by the token limit or by the repetition guard (`finish_reason`
  "length" / "repetition");
- schema-breaking: spotting output with any parse warning (an entry without 2 or 4 points, text
  left without coordinates, coordinates outside 0–1000) or with no entry at all while the
  reference has some; fields output that is not a JSON object; table output without a `<table>`
  while the reference has one.

Judges: `OpenAIJudge` calls an OpenAI-compatible `/chat/completions` endpoint (any served LLM).
Offline, `ChrfStandInJudge` is a *stand-in, not a judge*: translation score = 4 x chrF(prediction,
reference), so matching the reference scores the anchor 4 (reward 0.8) and nothing can exceed it;
VQA = 1 when ANLS ≥ 0.5 or a reference is a substring of the prediction (the OCRBench rule).
Scorers never raise: odd input becomes reward 0 with a reason.

Example:
    >>> from hyocr.train.data import Sample
    >>> s = Sample("k", "text", "Extract the text in the image.", "hello")
    >>> score(s, "hallo").reward
    0.8
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from hyocr.eval import metrics
from hyocr.tasks.parsers import extract_json, find_html_tables, parse_spotting
from hyocr.train.data import Sample

__all__ = [
    "RewardResult",
    "Judge",
    "ChrfStandInJudge",
    "OpenAIJudge",
    "score",
    "OVER_LENGTH_REASONS",
]

OVER_LENGTH_REASONS = ("length", "repetition")


@dataclass
class RewardResult:
    reward: float
    valid: bool = True  # False: over-length or schema-breaking (reward forced to 0)
    reason: str = ""


class Judge(Protocol):
    name: str

    def translation(self, prediction: str, reference: str, target: str = "") -> float:
        """A 0–5 score of `prediction` with `reference` as the 4-point anchor."""
        ...

    def vqa(self, question: str, prediction: str, reference: str) -> float:
        """1.0 when `prediction` answers `question` as `reference` does, else 0.0."""
        ...


class ChrfStandInJudge:
    """Offline stand-in for the LLM judge (NOT a judge): chrF for translation, ANLS/substring for VQA."""

    name = "chrf-stand-in"

    def translation(self, prediction: str, reference: str, target: str = "") -> float:
        return 4.0 * metrics.chrf(prediction, reference)

    def vqa(self, question: str, prediction: str, reference: str) -> float:
        refs = [reference]
        return float(metrics.anls(prediction, refs) >= 0.5 or metrics.ocrbench_correct(prediction, refs) > 0)


_TRANSLATION_PROMPT = (
    "You grade translations. Reference translation (it deserves exactly 4 points):\n{reference}\n\n"
    "Candidate translation into {target}:\n{prediction}\n\n"
    "Score the candidate from 0 (unrelated or wrong language) to 5 (better than the reference). "
    "Reply with the number only."
)
_VQA_PROMPT = (
    "Question: {question}\nReference answer: {reference}\nCandidate answer: {prediction}\n"
    "Does the candidate give the same answer as the reference? Reply 1 for yes, 0 for no, the number only."
)


class OpenAIJudge:
    """An LLM judge behind an OpenAI-compatible endpoint (`base_url` like http://host:8000/v1).

    The API key, if the endpoint needs one, is read from the environment variable `api_key_env`.
    Network errors and unreadable replies score 0 (a scorer never raises).
    """

    name = "openai-compatible"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env, self.timeout = model, api_key_env, timeout

    def _ask(self, prompt: str) -> float:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
                "max_tokens": 8,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                reply = json.loads(resp.read().decode("utf-8"))["choices"][0]["message"]["content"]
            m = re.search(r"\d+(?:\.\d+)?", reply)
            return float(m.group(0)) if m else 0.0
        except Exception:  # network, HTTP or format errors: no reward rather than a crashed run
            return 0.0

    def translation(self, prediction: str, reference: str, target: str = "") -> float:
        return self._ask(
            _TRANSLATION_PROMPT.format(
                reference=reference, prediction=prediction, target=target or "the target language"
            )
        )

    def vqa(self, question: str, prediction: str, reference: str) -> float:
        return float(
            self._ask(_VQA_PROMPT.format(question=question, reference=reference, prediction=prediction))
            >= 0.5
        )


_DEFAULT_JUDGE = ChrfStandInJudge()


def _spotting(pred: str, gt: str) -> RewardResult:
    p = parse_spotting(pred)
    g = parse_spotting(gt)
    if p.warnings:
        return RewardResult(0.0, False, "schema: " + p.warnings[0])
    if not p.items and g.items:
        return RewardResult(0.0, False, "schema: no spotting entry in the output")
    return RewardResult(metrics.spotting_reward(p.items, g.items))


def _table(pred: str, gt: str) -> RewardResult:
    if find_html_tables(gt) and not find_html_tables(pred):
        return RewardResult(0.0, False, "schema: no <table> in the output")
    return RewardResult(0.5 * (metrics.parsing_reward(pred, gt) + metrics.teds(pred, gt)))


def _document(pred: str, gt: str) -> RewardResult:
    r = metrics.parsing_reward(pred, gt)
    if "<table" in gt or "|---" in gt or "| ---" in gt:
        t = metrics.document_score(pred, gt).table_teds
        if t is not None:
            r = 0.5 * (r + t)
    return RewardResult(r)


def _fields(pred: str, gt: str) -> RewardResult:
    j = extract_json(pred)
    if not j.ok or not isinstance(j.value, dict):
        return RewardResult(0.0, False, "schema: output is not a JSON object")
    return RewardResult(metrics.fields_reward(j.value, gt))


def score(
    sample: Sample, prediction: str, finish_reason: str = "stop", judge: Judge | None = None
) -> RewardResult:
    """Reward of `prediction` for `sample` (its task and reference answer)."""
    try:
        if finish_reason in OVER_LENGTH_REASONS:
            return RewardResult(0.0, False, f"over-length ({finish_reason})")
        gt, task = sample.answer, sample.task
        judge = judge or _DEFAULT_JUDGE
        if task == "spotting":
            return _spotting(prediction, gt)
        if task == "table":
            return _table(prediction, gt)
        if task == "document":
            return _document(prediction, gt)
        if task == "fields":
            return _fields(prediction, gt)
        if task == "formula":
            return RewardResult(
                1.0 - metrics.ned(metrics.normalize_latex(prediction), metrics.normalize_latex(gt))
            )
        if task == "key":
            return RewardResult(1.0 - metrics.ned(prediction.strip(), gt.strip()))
        if task == "translate":
            target = str(sample.meta.get("target", ""))
            return RewardResult(
                metrics.judge_to_reward(judge.translation(prediction, gt, target)), True, judge.name
            )
        if task == "vqa":
            return RewardResult(
                1.0 if judge.vqa(sample.instruction, prediction, gt) >= 0.5 else 0.0, True, judge.name
            )
        # text, subtitles, chart and anything else read as plain recognition
        return RewardResult(metrics.parsing_reward(prediction, gt))
    except Exception as exc:  # a scorer never raises (STYLE.md)
        return RewardResult(0.0, False, f"scorer error: {exc!r}")
