"""Writing results: Markdown, a self-contained HTML preview, plain text, JSON, SRT/VTT.

The HTML preview needs no network: a small Markdown-to-HTML conversion (headings, paragraphs,
lists, display formulas kept as LaTeX in a styled block, tables passed through as the model wrote
them, with any script or event-handler attribute stripped) inside one page with inline CSS.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from hyocr.tasks.results import DocumentResult, SpottingResult, TableResult, TaskResult

__all__ = [
    "page_markdown",
    "results_markdown",
    "markdown_to_html",
    "html_page",
    "results_json",
    "results_text",
    "EXTENSIONS",
]

EXTENSIONS = {
    "txt": ".txt",
    "json": ".json",
    "jsonl": ".jsonl",
    "md": ".md",
    "html": ".html",
    "srt": ".srt",
    "vtt": ".vtt",
}

_UNSAFE = re.compile(r"<\s*/?\s*(script|style|iframe|object|embed|link|meta)[^>]*>", re.I)
_EVENT = re.compile(r"\s+on[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I)


def page_markdown(r: TaskResult) -> str:
    if isinstance(r, DocumentResult):
        return r.markdown
    if isinstance(r, TableResult):
        return r.html
    if isinstance(r, SpottingResult):
        return "\n".join(f"- {line.text} `[{', '.join(f'{v:g}' for v in line.box)}]`" for line in r.lines)
    return r.text


def results_markdown(results: Sequence[TaskResult]) -> str:
    if len(results) == 1:
        return page_markdown(results[0]).strip() + "\n"
    parts = [f"<!-- page {i} -->\n\n{page_markdown(r).strip()}" for i, r in enumerate(results, 1)]
    return "\n\n".join(parts) + "\n"


def _safe_html(fragment: str) -> str:
    return _EVENT.sub("", _UNSAFE.sub("", fragment))


def _inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"(?<!\*)\*(?!\*)(.+?)(?<!\*)\*(?!\*)", r"<em>\1</em>", t)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", t)


def markdown_to_html(md: str) -> str:
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s:
            i += 1
            continue
        if s.startswith("<!--") and s.endswith("-->"):
            out.append(f'<hr class="page"><p class="page">{html.escape(s[4:-3].strip())}</p>')
            i += 1
            continue
        if s.lower().startswith("<table"):
            block = [line]
            while "</table>" not in lines[i].lower() and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
            out.append(_safe_html("\n".join(block)))
            i += 1
            continue
        if s.startswith("$$"):
            block = [s]
            while not (block[-1].endswith("$$") and (len(block) > 1 or len(s) > 2)) and i + 1 < len(lines):
                i += 1
                block.append(lines[i].strip())
            out.append(f'<div class="math">{html.escape(" ".join(block))}</div>')
            i += 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", s)
        if m:
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline(m.group(2))}</h{n}>")
            i += 1
            continue
        if re.match(r"^([-*+]|\d+[.)])\s+", s):
            ordered = bool(re.match(r"^\d", s))
            items = []
            while i < len(lines) and re.match(r"^([-*+]|\d+[.)])\s+", lines[i].strip()):
                items.append(re.sub(r"^([-*+]|\d+[.)])\s+", "", lines[i].strip()))
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + f"</{tag}>")
            continue
        para = [s]
        i += 1
        while (
            i < len(lines)
            and lines[i].strip()
            and not re.match(r"^(#|[-*+]\s|\d+[.)]\s|<table|\$\$|<!--)", lines[i].strip())
        ):
            para.append(lines[i].strip())
            i += 1
        out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;line-height:1.5}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:.25em .5em}
.math{font-family:monospace;background:#f4f4f4;padding:.5em;margin:1em 0;white-space:pre-wrap}
hr.page{margin-top:2em}p.page{color:#888;font-size:.8em}"""


def html_page(title: str, md: str) -> str:
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{markdown_to_html(md)}\n</body></html>\n"
    )


def results_json(source: str, results: Sequence[TaskResult]) -> str:
    return json.dumps(
        {"source": source, "pages": [r.to_dict() for r in results]}, ensure_ascii=False, indent=1
    )


def results_text(results: Sequence[TaskResult]) -> str:
    return "\n\f\n".join(r.text for r in results) + "\n"
