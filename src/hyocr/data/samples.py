"""One render → training samples for every task it supports ("one source, many uses", DESIGN.md §3).

Each sample carries the exact instruction of DESIGN.md §2 (English or Chinese) and the exact output
format: spotting targets are `<ref>TEXT</ref><quad>(x1,y1),(x2,y2)</quad>` per line, concatenated
with no separator, in reading order, with the axis-aligned bounds of the line's quad normalised to
integers 0–1000 by image width and height. Every sample is checked against its render
(`check_sample`) before it is returned; a sample that fails raises `SampleError`, never silently
passes.

Choices:
- `fields` renders the key list as DESIGN.md §2 writes it, `['company','date']` (no space after the
  comma), exactly as `hyocr.tasks.prompts` does at inference (a test pins the two together); the
  answer is `json.dumps` with ensure_ascii=False, keys in the requested order.
- Formula lines (their "text" is LaTeX) are left out of spotting; they stay in the document target.
- The `text` target joins lines with "\\n"; for receipts the segments of one printed row (same
  `block`) are joined with a single space first, so a row reads like the printed line.
- VQA answers are computed from the ground truth (lookups, counts, sums) by the renderer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hyocr.data.render.base import Render, quad_bounds

__all__ = [
    "INSTRUCTIONS",
    "TASKS",
    "Sample",
    "SampleError",
    "check_sample",
    "instruction",
    "keys_literal",
    "samples_from_render",
    "spotting_answer",
]

# DESIGN.md §2, byte for byte
INSTRUCTIONS: dict[str, tuple[str, str]] = {
    "spotting": (
        "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
        "检测并识别图片中的文字，将文本坐标格式化输出。",
    ),
    "text": ("Extract the text in the image.", "提取图中的文字。"),
    "document": (
        "Extract all information from the main body of the document image and represent it in markdown format, "
        "ignoring headers and footers. Tables should be expressed in HTML format, formulas in the document should be "
        "represented using LaTeX format, and the parsing should be organized according to the reading order.",
        "提取文档图片中正文的所有信息用 markdown 格式表示，其中页眉、页脚部分忽略，表格用 html 格式表达，"
        "文档中公式用 latex 格式表示，按照阅读顺序组织进行解析。",
    ),
    "formula": (
        "Identify the formula in the image and represent it using LaTeX format.",
        "识别图片中的公式，用 LaTeX 格式表示。",
    ),
    "table": ("Parse the table in the image into HTML.", "把图中的表格解析为 HTML。"),
    "chart": (
        "Parse the chart in the image; use Mermaid format for flowcharts and Markdown for other charts.",
        "解析图中的图表，对于流程图使用 Mermaid 格式表示，其他图表使用 Markdown 格式表示。",
    ),
    "key": ("Output the value of {key}.", "输出 {key} 的值。"),
    "fields": (
        "Extract the content of the fields: {keys} from the image and return it in JSON format.",
        "提取图片中的: {keys} 的字段内容，并按照 JSON 格式返回。",
    ),
    "subtitles": ("Extract the subtitles from the image.", "提取图片中的字幕。"),
    "translate": (
        "First extract the text, then translate the text content into {language}. If it is a document, ignore the "
        "header and footer. Formulas should be represented in LaTeX format, and tables should be represented in HTML format.",
        "先提取文字，再将文字内容翻译为{language}。若是文档，则其中页眉、页脚忽略。公式用latex格式表示，表格用html格式表示。",
    ),
}
TASKS = (*INSTRUCTIONS, "vqa")
_TARGET_NAMES = {"en": ("English", "英文"), "zh": ("Chinese", "中文")}


class SampleError(ValueError):
    """A sample disagrees with the render it came from."""


@dataclass
class Sample:
    task: str
    instruction: str
    answer: str
    lang: str  # language of the image's text
    instruction_lang: str  # "en" or "zh"
    boxes: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "instruction": self.instruction,
            "answer": self.answer,
            "lang": self.lang,
            "instruction_lang": self.instruction_lang,
        }
        if self.boxes is not None:
            out["boxes"] = self.boxes
        out["meta"] = self.meta
        return out


def instruction(task: str, lang: str = "en", **kw: str) -> str:
    """The instruction of `task` in 'en' or 'zh', with its placeholder filled."""
    if task not in INSTRUCTIONS:
        raise ValueError(f"unknown task '{task}' (known: {', '.join(INSTRUCTIONS)})")
    if lang not in ("en", "zh"):
        raise ValueError(f"unknown instruction language '{lang}' (known: en, zh)")
    tpl = INSTRUCTIONS[task][0 if lang == "en" else 1]
    return tpl.format(**kw) if kw else tpl


def keys_literal(keys: list[str]) -> str:
    """`['k1','k2']`: the key list as it appears in the fields instruction."""
    return "[" + ",".join("'" + k.replace("'", "\\'") + "'" for k in keys) + "]"


def _norm(v: float, size: int) -> int:
    return int(min(1000, max(0, round(v / max(1, size) * 1000))))


def spotting_answer(render: Render) -> str:
    """`<ref>TEXT</ref><quad>(x1,y1),(x2,y2)</quad>` per line, 0–1000 coordinates, no separator."""
    w, h = render.size
    out = []
    for ln in _spot_lines(render):
        x0, y0, x1, y1 = quad_bounds(ln.quad)
        out.append(
            f"<ref>{ln.text}</ref><quad>({_norm(x0, w)},{_norm(y0, h)}),({_norm(x1, w)},{_norm(y1, h)})</quad>"
        )
    return "".join(out)


def _spot_lines(render: Render):
    return [ln for ln in render.lines if ln.role != "formula" and ln.text.strip()]


def text_answer(render: Render) -> str:
    rows: list[str] = []
    last_block = None
    group = render.scenario == "receipt"
    for ln in render.lines:
        if group and rows and ln.block == last_block:
            rows[-1] += " " + ln.text
        else:
            rows.append(ln.text)
        last_block = ln.block
    return "\n".join(rows)


def _pick_lang(rng, zh_prob: float) -> str:
    return "zh" if rng.random() < zh_prob else "en"


def samples_from_render(
    render: Render, rng, tasks: list[str] | None = None, zh_prob: float = 0.3
) -> list[Sample]:
    """Every sample the render supports (restricted to `tasks` if given), each checked.

    Example:
        >>> import random
        >>> from hyocr.data.render.receipt import render_receipt
        >>> s = samples_from_render(render_receipt(random.Random(0)), random.Random(1), ["fields"])
    """
    want = set(tasks or TASKS)
    unknown = want - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)} (known: {', '.join(TASKS)})")
    boxes = [ln.to_json() for ln in render.lines]
    meta = {**render.meta, "scenario": render.scenario, "image_size": list(render.size)}
    out: list[Sample] = []

    def add(task: str, il: str, instr: str, answer: str, **extra: Any) -> None:
        s = Sample(task, instr, answer, render.lang, il, boxes, {**meta, **extra})
        check_sample(s, render)
        out.append(s)

    if "spotting" in want and _spot_lines(render):
        il = _pick_lang(rng, zh_prob)
        add("spotting", il, instruction("spotting", il), spotting_answer(render))
    if "text" in want and render.lines and render.scenario not in ("formula", "chart"):
        il = _pick_lang(rng, zh_prob)
        add("text", il, instruction("text", il), text_answer(render))
    for task, target in (
        ("document", render.markdown),
        ("table", render.html),
        ("formula", render.latex),
        ("chart", render.chart),
    ):
        if task in want and target:
            il = _pick_lang(rng, zh_prob)
            add(task, il, instruction(task, il), target)
    if render.fields:
        keys = list(render.fields)
        if "fields" in want:
            il = _pick_lang(rng, zh_prob)
            chosen = rng.sample(keys, rng.randint(1, min(5, len(keys))))
            if rng.random() < 0.5 and all(k in keys for k in ("company", "date", "address", "total")):
                chosen = ["company", "date", "address", "total"]  # the SROIE set, as evaluated
            ans = json.dumps({k: render.fields[k] for k in chosen}, ensure_ascii=False)
            add("fields", il, instruction("fields", il, keys=keys_literal(chosen)), ans, keys=chosen)
        if "key" in want:
            il = _pick_lang(rng, zh_prob)
            k = rng.choice(keys)
            add("key", il, instruction("key", il, key=k), render.fields[k], key=k)
    if "subtitles" in want and render.subtitles:
        il = _pick_lang(rng, zh_prob)
        add("subtitles", il, instruction("subtitles", il), "\n".join(render.subtitles))
    if "translate" in want and render.translation:
        target = rng.choice(sorted(render.translation))
        il = _pick_lang(rng, zh_prob)
        name = _TARGET_NAMES[target][0 if il == "en" else 1]
        add(
            "translate",
            il,
            instruction("translate", il, language=name),
            render.translation[target],
            target=target,
        )
    if "vqa" in want and render.qa:
        q_en, q_zh, a = rng.choice(render.qa)
        il = _pick_lang(rng, zh_prob)
        add("vqa", il, q_en if il == "en" else q_zh, a)
    return out


_SPOT_RE = re.compile(r"<ref>(.*?)</ref><quad>\((\d+),(\d+)\),\((\d+),(\d+)\)</quad>", re.S)


def check_sample(sample: Sample, render: Render) -> None:
    """Raise SampleError if `sample` disagrees with `render` (its ground truth and image)."""
    w, h = render.size
    t = sample.task
    if t not in TASKS:
        raise SampleError(f"unknown task {t!r}")
    if not sample.answer.strip():
        raise SampleError(f"{t}: empty answer")
    for ln in render.lines:
        x0, y0, x1, y1 = quad_bounds(ln.quad)
        if x0 < -0.5 or y0 < -0.5 or x1 > w + 0.5 or y1 > h + 0.5:
            raise SampleError(f"line {ln.text!r} leaves the image: {ln.quad} not in {w}x{h}")
    if t != "vqa":
        kw = {}
        if t == "key":
            kw["key"] = sample.meta["key"]
        elif t == "fields":
            kw["keys"] = keys_literal(sample.meta["keys"])
        elif t == "translate":
            kw["language"] = _TARGET_NAMES[sample.meta["target"]][0 if sample.instruction_lang == "en" else 1]
        if sample.instruction != instruction(t, sample.instruction_lang, **kw):
            raise SampleError(f"{t}: instruction is not the exact DESIGN.md §2 string")
    if t == "spotting":
        found = _SPOT_RE.findall(sample.answer)
        lines = _spot_lines(render)
        if (
            "".join(f"<ref>{a}</ref><quad>({b},{c}),({d},{e})</quad>" for a, b, c, d, e in found)
            != sample.answer
        ):
            raise SampleError(
                "spotting: answer is not a concatenation of <ref>..</ref><quad>..</quad> entries"
            )
        if len(found) != len(lines):
            raise SampleError(f"spotting: {len(found)} entries for {len(lines)} lines")
        for (text, *xy), ln in zip(found, lines, strict=True):
            x0, y0, x1, y1 = (int(v) for v in xy)
            if text != ln.text:
                raise SampleError(f"spotting: text {text!r} != line {ln.text!r}")
            if not (0 <= x0 <= x1 <= 1000 and 0 <= y0 <= y1 <= 1000):
                raise SampleError(f"spotting: bad box {xy} for {text!r}")
            bx0, by0, bx1, by1 = quad_bounds(ln.quad)
            if abs(x0 - bx0 / w * 1000) > 1 or abs(y1 - by1 / h * 1000) > 1:
                raise SampleError(f"spotting: box of {text!r} does not match its quad")
    elif t == "text":
        if sample.answer != text_answer(render):
            raise SampleError("text: answer differs from the render's lines")
    elif t == "document":
        md = sample.answer
        for ln in render.lines:
            if ln.role in ("body", "heading", "title") and ln.text not in md:
                raise SampleError(f"document: line {ln.text!r} missing from the Markdown")
    elif t == "table":
        import html as _html

        for ln in render.lines:
            if ln.role == "cell" and _html.escape(ln.text, quote=False) not in sample.answer:
                raise SampleError(f"table: cell {ln.text!r} missing from the HTML")
        if not (sample.answer.startswith("<table>") and sample.answer.endswith("</table>")):
            raise SampleError("table: answer is not a <table>")
    elif t in ("fields", "key"):
        flat = " ".join(ln.text for ln in render.lines)
        vals = list(json.loads(sample.answer).values()) if t == "fields" else [sample.answer]
        if t == "fields" and list(json.loads(sample.answer)) != sample.meta["keys"]:
            raise SampleError("fields: JSON keys differ from the requested keys")
        for v in vals:
            if sample.meta.get("scenario") == "receipt" and v == render.fields.get("item_count"):
                continue  # a count, computed rather than printed
            if not all(part in flat for part in str(v).split(" ")):
                raise SampleError(f"{t}: value {v!r} is not printed in the image")
    elif t == "subtitles":
        texts = {ln.text for ln in render.lines if ln.role == "subtitle"}
        if any(s not in texts for s in sample.answer.split("\n")):
            raise SampleError("subtitles: a subtitle line is not drawn as a subtitle")
