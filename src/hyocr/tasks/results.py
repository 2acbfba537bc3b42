"""Typed results of every task: dataclasses that serialise to JSON.

Every result carries the model's raw answer, warnings from parsing (parsers never raise), and the
flags a user must see: `repetition_cut` (a repeated tail was cut back, DESIGN.md §2) and
`truncated` (the answer hit max_new_tokens). Geometry is given twice, as the release's most
reported confusion is its 0–1000 normalisation: `box`/`polygon` in pixels of the original image and
`box_norm` in the model's raw 0–1000 units.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "TaskResult",
    "TextLine",
    "SpottingResult",
    "TextResult",
    "DocumentResult",
    "TableResult",
    "FormulaResult",
    "ChartResult",
    "FieldsResult",
    "KeyResult",
    "TranslationResult",
    "AnswerResult",
]


@dataclass
class TaskResult:
    task: str
    raw: str  # the model's answer as decoded (markers as <ref>/<quad>)
    width: int = 0  # original image size in pixels
    height: int = 0
    warnings: list[str] = field(default_factory=list)
    repetition_cut: bool = False
    truncated: bool = False
    seconds: float = 0.0
    source: str = ""  # input name (file, page) when known

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    @property
    def text(self) -> str:
        return self.raw


@dataclass
class TextLine:
    text: str
    box: list[float]  # [x1, y1, x2, y2] pixels of the original image
    box_norm: list[float]  # [x1, y1, x2, y2] as the model wrote them, 0-1000
    polygon: list[list[float]]  # 4 corners in pixels, clockwise from top-left
    confidence: float | None = None  # geometric mean token probability of the line's text


@dataclass
class SpottingResult(TaskResult):
    lines: list[TextLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class TextResult(TaskResult):
    """Plain text (text, subtitles)."""

    content: str = ""
    line_confidences: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.content


@dataclass
class DocumentResult(TaskResult):
    markdown: str = ""
    blocks: list[dict] = field(default_factory=list)  # kind, text, html, level, items, points
    tables: list[str] = field(default_factory=list)  # HTML of each table in reading order
    formulas: list[str] = field(default_factory=list)  # LaTeX of display formulas

    @property
    def text(self) -> str:
        return self.markdown


@dataclass
class TableResult(TaskResult):
    html: str = ""
    rows: list[list[str]] = field(default_factory=list)  # cell texts; spanned cells appear once

    @property
    def text(self) -> str:
        return self.html


@dataclass
class FormulaResult(TaskResult):
    latex: str = ""

    @property
    def text(self) -> str:
        return self.latex


@dataclass
class ChartResult(TaskResult):
    kind: str = "markdown"  # "mermaid" for flowcharts, "markdown" otherwise
    content: str = ""

    @property
    def text(self) -> str:
        return self.content


@dataclass
class FieldsResult(TaskResult):
    fields: dict[str, Any] = field(default_factory=dict)  # exactly the requested keys; None if not read
    valid_json: bool = False

    @property
    def text(self) -> str:
        return json.dumps(self.fields, ensure_ascii=False)


@dataclass
class KeyResult(TaskResult):
    key: str = ""
    value: str = ""

    @property
    def text(self) -> str:
        return self.value


@dataclass
class TranslationResult(TaskResult):
    target: str = ""
    translation: str = ""

    @property
    def text(self) -> str:
        return self.translation


@dataclass
class AnswerResult(TaskResult):
    """VQA and raw prompts."""

    question: str = ""
    answer: str = ""

    @property
    def text(self) -> str:
        return self.answer
