"""Model answer -> typed result, one function per task family.

Each parser takes the generated text (plus, where useful, the token ids and log-probabilities for
confidences) and never raises: what cannot be read becomes a warning on the result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict

from hyocr.tasks import results as R
from hyocr.tasks.parsers import extract_json, find_html_tables, norm_to_pixels, parse_markdown, parse_spotting

__all__ = ["parse_answer", "spotting_confidences"]

_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.S)


def geo_mean_probability(logps: Sequence[float]) -> float | None:
    """The confidence of an answer (or part of one) from its tokens' log-probabilities: their
    geometric-mean probability; None with no tokens."""
    return math.exp(sum(logps) / len(logps)) if logps else None


def spotting_confidences(
    token_ids: Sequence[int], logprobs: Sequence[float], ref_open: int, ref_close: int
) -> list[float | None]:
    """Per <ref>…</ref> entry, the geometric-mean probability of the tokens of its text."""
    out: list[float | None] = []
    inside, cur = False, []
    for t, lp in zip(token_ids, logprobs, strict=False):
        if t == ref_open:
            inside, cur = True, []
        elif t == ref_close and inside:
            out.append(geo_mean_probability(cur))
            inside = False
        elif inside:
            cur.append(lp)
    return out


def _spotting(base: dict, raw: str, confidences: list[float | None] | None) -> R.SpottingResult:
    parsed = parse_spotting(raw)
    w, h = base["width"], base["height"]
    lines = []
    for i, item in enumerate(parsed.items):
        x1, y1, x2, y2 = item.box
        px = norm_to_pixels(item.quad, w, h) if w and h else [(x, y) for x, y in item.quad]
        xs, ys = [p[0] for p in px], [p[1] for p in px]
        conf = confidences[i] if confidences and i < len(confidences) else None
        lines.append(
            R.TextLine(
                text=item.text,
                box=[round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)],
                box_norm=[x1, y1, x2, y2],
                polygon=[[round(x, 1), round(y, 1)] for x, y in px],
                confidence=None if conf is None else round(conf, 4),
            )
        )
    return R.SpottingResult(**base, warnings=parsed.warnings, lines=lines)


def _unfence(raw: str) -> str:
    m = _FENCE.match(raw.strip())
    return m.group(1) if m else raw.strip()


def parse_answer(
    task: str,
    raw: str,
    *,
    width: int = 0,
    height: int = 0,
    fields: Sequence[str] | None = None,
    key: str | None = None,
    target: str | None = None,
    question: str | None = None,
    confidences: list[float | None] | None = None,
    repetition_cut: bool = False,
    truncated: bool = False,
    seconds: float = 0.0,
    source: str = "",
) -> R.TaskResult:
    base = dict(
        task=task,
        raw=raw,
        width=width,
        height=height,
        repetition_cut=repetition_cut,
        truncated=truncated,
        seconds=seconds,
        source=source,
    )
    try:
        return _parse(task, raw, base, fields, key, target, question, confidences)
    except Exception as exc:  # never raise on model output
        return R.TaskResult(**base, warnings=[f"could not parse the answer: {exc!r}"])


def _parse(task, raw, base, fields, key, target, question, confidences):
    if task == "spotting":
        return _spotting(base, raw, confidences)
    if task in ("text", "subtitles"):
        return R.TextResult(**base, content=raw.strip())
    if task == "document":
        md = parse_markdown(raw)
        blocks = [
            {k: v for k, v in asdict(b).items() if v not in ("", [], 0) or k in ("kind", "text")}
            for b in md.blocks
        ]
        tables = [b.html for b in md.blocks if b.kind == "table" and b.html]
        formulas = [b.text for b in md.blocks if b.kind == "formula"]
        return R.DocumentResult(
            **base,
            warnings=md.warnings,
            markdown=raw.strip(),
            blocks=blocks,
            tables=tables,
            formulas=formulas,
        )
    if task == "table":
        html = _unfence(raw)
        tables = find_html_tables(html)
        warnings = []
        rows: list[list[str]] = []
        if not tables:
            warnings.append("no <table> found in the answer")
        else:
            rows = [[c.text for c in row] for row in tables[0].rows]
            warnings += tables[0].warnings
            if len(tables) > 1:
                warnings.append(f"{len(tables)} tables in the answer; rows are from the first")
        return R.TableResult(**base, warnings=warnings, html=html, rows=rows)
    if task == "formula":
        latex = _unfence(raw)
        for a, b in (("$$", "$$"), ("\\[", "\\]"), ("$", "$")):
            if latex.startswith(a) and latex.endswith(b) and len(latex) >= len(a) + len(b):
                latex = latex[len(a) : len(latex) - len(b)].strip()
                break
        return R.FormulaResult(**base, latex=latex)
    if task == "chart":
        body = raw.strip()
        m = _FENCE.match(body)
        kind = (
            "mermaid"
            if (m and body.startswith("```mermaid")) or re.match(r"^(graph|flowchart)\b", _unfence(body))
            else "markdown"
        )
        return R.ChartResult(**base, kind=kind, content=_unfence(body) if kind == "mermaid" else body)
    if task == "fields":
        parsed = extract_json(raw)
        value = parsed.value if parsed.ok and isinstance(parsed.value, dict) else {}
        warnings = list(parsed.warnings)
        if parsed.ok and not isinstance(parsed.value, dict):
            warnings.append("JSON answer is not an object")
        names = list(fields or value.keys())
        out = {k: value.get(k) for k in names}
        extra = sorted(set(value) - set(names))
        if extra:
            warnings.append(f"dropped keys that were not asked for: {extra[:5]}")
        return R.FieldsResult(
            **base, warnings=warnings, fields=out, valid_json=parsed.ok and isinstance(parsed.value, dict)
        )
    if task == "key":
        return R.KeyResult(**base, key=key or "", value=raw.strip())
    if task == "translate":
        return R.TranslationResult(**base, target=target or "", translation=raw.strip())
    if task in ("vqa", "prompt"):
        return R.AnswerResult(**base, question=question or "", answer=raw.strip())
    return R.TaskResult(**base, warnings=[f"unknown task '{task}': raw answer only"])
