"""Parsers from model text to structured results, shared by the task layer, rewards and evaluation.

Every parser here NEVER raises: it returns a dataclass holding whatever it could read plus a list of
`warnings` (one short sentence per thing it had to skip or guess). This mirrors the reward scorers of
the release, which fold bad output into a sentinel instead of crashing a training run.

Non-obvious choices
- Spotting (DESIGN.md §2): the model emits `<ref>TEXT</ref><quad>(x1,y1),(x2,y2)</quad>` with
  coordinates normalised to 0–1000. Decoded with special tokens skipped, the same output reads
  `TEXT(x1,y1),(x2,y2)TEXT(x1,y1),(x2,y2)`. In that untagged form we find *runs* of two or more
  coordinate pairs joined by commas; the text of an entry is whatever lies between the previous run
  and this one. A lone "(3,4)" or "(AP)" is therefore text, which is what keeps
  "ATLANTA (AP)(10,20),(30,40)" from losing its "(AP)". Runs of 2 points are boxes, of 4 points quads;
  a run of 3 keeps its last 2 points, a run of 5+ its last 4 (the leading points go back to the
  text, with a warning).
- Coordinates are kept as read (floats) and flagged when outside 0–1000; `norm_to_pixels` clamps.
- HTML is read with the stdlib `html.parser` into a small element tree that mirrors lxml's
  text/tail model (so TEDS can tokenise cells exactly like the PubTabNet reference). Omitted end tags
  are closed the way browsers do for tables: a new `<td>`/`<th>` closes the open cell, a new `<tr>`
  closes the open row, a new `<thead>/<tbody>/<tfoot>` closes the open section.
- Markdown is split into blocks line by line (headings, paragraphs, lists, HTML tables, pipe tables,
  `$$…$$` / `\\[…\\]` formulas, fenced code, `<pFig>` figures). Pipe tables are converted to HTML so
  TEDS applies to charts parsed as Markdown tables too.
- JSON extraction tries, in order: the whole text, the first ```json fence, the first balanced
  `{…}`/`[…]` span; each candidate is tried as strict JSON, then with Python-literal syntax
  (single quotes, True/None) via `ast.literal_eval`, then with trailing commas removed.

Example:
    >>> r = parse_spotting("ATLANTA (AP)(10,20),(30,40)")
    >>> r.items[0].text, r.items[0].box
    ('ATLANTA (AP)', (10.0, 20.0, 30.0, 40.0))
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = [
    "SpotItem",
    "SpottingParse",
    "parse_spotting",
    "format_spotting",
    "norm_to_pixels",
    "pixels_to_norm",
    "HtmlNode",
    "parse_html",
    "TableCell",
    "TableParse",
    "parse_html_table",
    "find_html_tables",
    "MarkdownBlock",
    "MarkdownParse",
    "parse_markdown",
    "JsonParse",
    "extract_json",
]

Point = tuple[float, float]

# ---------------------------------------------------------------------------------------------
# spotting


@dataclass
class SpotItem:
    """One text line read from spotting output; `points` are 2 (box corners) or 4 (quad), 0–1000."""

    text: str
    points: list[Point]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned (x1, y1, x2, y2) around the points, still 0–1000."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def quad(self) -> list[Point]:
        """Four corners clockwise from top-left (a 2-point box is expanded)."""
        if len(self.points) == 4:
            return list(self.points)
        x1, y1, x2, y2 = self.box
        return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


@dataclass
class SpottingParse:
    items: list[SpotItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_NUM = r"[-+]?\d+(?:\.\d+)?"
_POINT_RE = re.compile(rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)")
# two or more points joined by commas (spaces allowed): the coordinates of one entry
_RUN_RE = re.compile(rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)(?:\s*,\s*\(\s*{_NUM}\s*,\s*{_NUM}\s*\))+")
_TAGGED_RE = re.compile(r"<ref>(.*?)</ref>\s*<quad>(.*?)</quad>", re.S)


def _points(s: str) -> list[Point]:
    return [(float(a), float(b)) for a, b in _POINT_RE.findall(s)]


def _check_range(pts: list[Point], text: str, warnings: list[str]) -> None:
    if any(not (0 <= v <= 1000) for p in pts for v in p):
        warnings.append(f"coordinates outside 0-1000 for {text[:30]!r}")


def _parse_tagged(s: str) -> SpottingParse:
    out = SpottingParse()
    pos = 0
    for m in _TAGGED_RE.finditer(s):
        gap = s[pos : m.start()].strip()
        if gap:
            out.warnings.append(f"ignored text between entries: {gap[:30]!r}")
        pos = m.end()
        text, coords = m.group(1).strip(), m.group(2)
        pts = _points(coords)
        if len(pts) not in (2, 4):
            out.warnings.append(f"entry {text[:30]!r} has {len(pts)} points (need 2 or 4); skipped")
            continue
        _check_range(pts, text, out.warnings)
        out.items.append(SpotItem(text, pts))
    rest = s[pos:].strip()
    if rest:
        out.warnings.append(f"unparsed trailing text: {rest[:30]!r}")
    return out


def _parse_untagged(s: str) -> SpottingParse:
    out = SpottingParse()
    pos = 0
    for m in _RUN_RE.finditer(s):
        pts = _points(m.group(0))
        text = s[pos : m.start()]
        pos = m.end()
        if len(pts) == 3 or len(pts) > 4:
            keep = 2 if len(pts) == 3 else 4
            extra = ",".join(f"({x:g},{y:g})" for x, y in pts[:-keep])
            out.warnings.append(f"run of {len(pts)} points; kept the last {keep}")
            text, pts = text + extra, pts[-keep:]
        text = text.strip().strip(",").strip()
        _check_range(pts, text, out.warnings)
        out.items.append(SpotItem(text, pts))
    rest = s[pos:].strip()
    if rest:
        out.warnings.append(f"text without coordinates at the end: {rest[:30]!r}")
    return out


def parse_spotting(text: Any) -> SpottingParse:
    """Read spotting output in the tagged (`<ref>…</ref><quad>…</quad>`) or untagged form.

    >>> [i.text for i in parse_spotting("<ref>Hi</ref><quad>(1,2),(3,4)</quad>").items]
    ['Hi']
    """
    try:
        if not isinstance(text, str):
            return SpottingParse(warnings=[f"expected a string, got {type(text).__name__}"])
        if "<ref>" in text or "<quad>" in text:
            return _parse_tagged(text)
        return _parse_untagged(text)
    except Exception as exc:  # a parser never raises (STYLE.md "Parsers and scorers never raise")
        return SpottingParse(warnings=[f"internal parser error: {exc!r}"])


def format_spotting(items: list[SpotItem], tagged: bool = True) -> str:
    """Inverse of `parse_spotting` (integers, as the model emits them)."""
    parts = []
    for it in items:
        coords = ",".join(f"({round(x)},{round(y)})" for x, y in it.points)
        parts.append(f"<ref>{it.text}</ref><quad>{coords}</quad>" if tagged else f"{it.text}{coords}")
    return "".join(parts)


def norm_to_pixels(points: list[Point], width: int, height: int) -> list[Point]:
    """0–1000 coordinates → pixels of a `width`×`height` image, clamped into [0,width]×[0,height].

    >>> norm_to_pixels([(500, 1000), (-5, 20)], 200, 100)
    [(100.0, 100.0), (0.0, 2.0)]
    """
    out = []
    for x, y in points:
        px = min(max(float(x) * width / 1000.0, 0.0), float(width))
        py = min(max(float(y) * height / 1000.0, 0.0), float(height))
        out.append((px, py))
    return out


def pixels_to_norm(points: list[Point], width: int, height: int) -> list[tuple[int, int]]:
    """Pixels → integer 0–1000 coordinates (the model's output convention), clamped."""
    w, h = max(width, 1), max(height, 1)
    return [
        (min(max(round(x * 1000 / w), 0), 1000), min(max(round(y * 1000 / h), 0), 1000)) for x, y in points
    ]


# ---------------------------------------------------------------------------------------------
# HTML


@dataclass
class HtmlNode:
    """An element with lxml's text model: `text` before the first child, `tail` after the end tag."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[HtmlNode] = field(default_factory=list)
    text: str = ""
    tail: str = ""

    def iter(self):
        """This node and all descendants, depth first."""
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag: str) -> list[HtmlNode]:
        return [n for n in self.iter() if n.tag == tag]

    def text_content(self) -> str:
        return self.text + "".join(c.text_content() + c.tail for c in self.children)


_VOID = {"br", "img", "hr", "meta", "link", "input", "col", "wbr", "area", "base", "source"}
_CELL = {"td", "th"}
_SECTION = {"thead", "tbody", "tfoot"}
_MAX_DEPTH = 100


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = HtmlNode("#root")
        self.stack = [self.root]
        self.warnings: list[str] = []
        self.too_deep = False

    def _close_to(self, tags: set[str], stop: set[str]) -> None:
        """Pop the innermost open element whose tag is in `tags`, unless one in `stop` comes first."""
        for i in range(len(self.stack) - 1, 0, -1):
            t = self.stack[i].tag
            if t in tags:
                del self.stack[i:]
                return
            if t in stop:
                return

    def _append_text(self, data: str) -> None:
        cur = self.stack[-1]
        if cur.children:
            cur.children[-1].tail += data
        else:
            cur.text += data

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _CELL:
            self._close_to(_CELL, {"tr", "table"} | _SECTION)
        elif tag == "tr":
            self._close_to({"tr"}, {"table"} | _SECTION)
        elif tag in _SECTION:
            self._close_to(_SECTION, {"table"})
        node = HtmlNode(tag, {k: (v or "") for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            if len(self.stack) > _MAX_DEPTH:  # keeps every recursive walk far from Python's limit
                if not self.too_deep:
                    self.warnings.append(f"nesting deeper than {_MAX_DEPTH}; deeper tags flattened")
                self.too_deep = True
                return
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(HtmlNode(tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if any(n.tag == tag for n in self.stack[1:]):
            self._close_to({tag}, set())
        else:
            self.warnings.append(f"stray </{tag}>")

    def handle_data(self, data: str) -> None:
        self._append_text(data)


def parse_html(html: Any) -> tuple[HtmlNode, list[str]]:
    """Parse (possibly broken) HTML into an `HtmlNode` tree rooted at a '#root' node; never raises."""
    b = _TreeBuilder()
    if not isinstance(html, str):
        return b.root, [f"expected a string, got {type(html).__name__}"]
    try:
        b.feed(html)
        b.close()
    except Exception as exc:
        b.warnings.append(f"internal HTML parser error: {exc!r}")
    if len(b.stack) > 1:
        b.warnings.append(f"unclosed <{b.stack[-1].tag}>")
    return b.root, b.warnings


@dataclass
class TableCell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False  # a <th>, or a cell inside <thead>


@dataclass
class TableParse:
    rows: list[list[TableCell]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_cells(self) -> int:
        return sum(len(r) for r in self.rows)

    def grid(self) -> list[list[str]]:
        """Rows of a dense grid, spans expanded (a spanned slot repeats the cell's text)."""
        grid: dict[tuple[int, int], str] = {}
        for r, row in enumerate(self.rows):
            c = 0
            for cell in row:
                while (r, c) in grid:
                    c += 1
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        grid[(r + dr, c + dc)] = cell.text
                c += cell.colspan
        if not grid:
            return []
        nr = max(k[0] for k in grid) + 1
        nc = max(k[1] for k in grid) + 1
        return [[grid.get((r, c), "") for c in range(nc)] for r in range(nr)]


def _span(value: str | None, what: str, warnings: list[str]) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        warnings.append(f"bad {what} {value!r}; using 1")
        return 1
    if n < 1 or n > 1000:
        warnings.append(f"{what} {n} out of range; clamped")
    return min(max(n, 1), 1000)


def cell_span(node: HtmlNode, warnings: list[str] | None = None) -> tuple[int, int]:
    """(rowspan, colspan) of a cell node, tolerant of garbage values (→ 1)."""
    w = warnings if warnings is not None else []
    rs = _span(node.attrs["rowspan"], "rowspan", w) if "rowspan" in node.attrs else 1
    cs = _span(node.attrs["colspan"], "colspan", w) if "colspan" in node.attrs else 1
    return rs, cs


def _table_from_node(table: HtmlNode, warnings: list[str]) -> TableParse:
    out = TableParse(warnings=warnings)

    def walk(node: HtmlNode, in_head: bool) -> None:
        for ch in node.children:
            if ch.tag == "table":
                continue  # nested tables are not flattened into the outer one
            if ch.tag == "tr":
                row = []
                for cell in ch.children:
                    if cell.tag in _CELL:
                        rs, cs = cell_span(cell, out.warnings)
                        text = " ".join(cell.text_content().split())
                        row.append(TableCell(text, rs, cs, in_head or cell.tag == "th"))
                out.rows.append(row)
            else:
                walk(ch, in_head or ch.tag == "thead")

    walk(table, False)
    return out


def find_html_tables(html: Any) -> list[TableParse]:
    """Every top-level `<table>` in `html`, each as rows of cells."""
    root, warnings = parse_html(html)
    tables = []

    def visit(n: HtmlNode) -> None:
        for ch in n.children:
            if ch.tag == "table":
                tables.append(_table_from_node(ch, list(warnings)))
            else:
                visit(ch)

    visit(root)
    return tables


def parse_html_table(html: Any) -> TableParse:
    """The first `<table>` of `html` as rows of `TableCell` (text whitespace-collapsed, spans read).

    >>> t = parse_html_table("<table><tr><td colspan=2>a</td></tr><tr><td>b<td>c</table>")
    >>> [[c.text for c in r] for r in t.rows], t.rows[0][0].colspan
    ([['a'], ['b', 'c']], 2)
    """
    try:
        tables = find_html_tables(html)
        if not tables:
            return TableParse(warnings=["no <table> found"])
        t = tables[0]
        if len(tables) > 1:
            t.warnings.append(f"{len(tables)} tables found; returned the first")
        return t
    except Exception as exc:
        return TableParse(warnings=[f"internal table parser error: {exc!r}"])


# ---------------------------------------------------------------------------------------------
# Markdown


@dataclass
class MarkdownBlock:
    """kind: heading | paragraph | list | table | formula | figure | code.

    `text` is the block's plain text (for tables the cell texts, for formulas the LaTeX without its
    delimiters); `html` is set for tables, `level` for headings, `items` for lists, `points` (0–1000)
    for figures with a `<quad>`, `lang` for code fences.
    """

    kind: str
    text: str
    raw: str = ""
    level: int = 0
    items: list[str] = field(default_factory=list)
    html: str = ""
    points: list[Point] = field(default_factory=list)
    lang: str = ""


@dataclass
class MarkdownParse:
    blocks: list[MarkdownBlock] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[MarkdownBlock]:
        return [b for b in self.blocks if b.kind in kinds]


_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_PIPE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE_MD_RE = re.compile(r"(\*\*|__|\*|`)")


def _strip_inline(s: str) -> str:
    return _INLINE_MD_RE.sub("", s).strip()


def _pipe_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def _pipe_table_html(rows: list[list[str]]) -> str:
    from html import escape

    head, body = rows[0], rows[1:]
    h = "".join(f"<td>{escape(c, quote=False)}</td>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{escape(c, quote=False)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def _table_text(html: str) -> str:
    t = parse_html_table(html)
    return "\n".join(" ".join(c.text for c in r) for r in t.rows)


def parse_markdown(text: Any) -> MarkdownParse:
    """Split Markdown (the document-parsing output) into typed blocks in reading order.

    >>> [b.kind for b in parse_markdown("# T\\n\\npara\\n\\n$$x^2$$\\n\\n<table><tr><td>1</td></tr></table>").blocks]
    ['heading', 'paragraph', 'formula', 'table']
    """
    out = MarkdownParse()
    if not isinstance(text, str):
        out.warnings.append(f"expected a string, got {type(text).__name__}")
        return out
    try:
        _parse_markdown_into(text, out)
    except Exception as exc:
        out.warnings.append(f"internal markdown parser error: {exc!r}")
    return out


def _parse_markdown_into(text: str, out: MarkdownParse) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            raw = "\n".join(para)
            out.blocks.append(
                MarkdownBlock("paragraph", _strip_inline(" ".join(x.strip() for x in para)), raw)
            )
            para.clear()
        if items:
            out.blocks.append(
                MarkdownBlock(
                    "list", "\n".join(items), "\n".join(items), items=[_strip_inline(i) for i in items]
                )
            )
            items.clear()

    def take_until(i: int, closer: str, first_rest: str) -> tuple[str, int]:
        """Collect text from `first_rest` on, across lines, up to `closer`; returns (body, next i)."""
        buf = first_rest
        j = i
        while closer not in buf and j + 1 < len(lines):
            j += 1
            buf += "\n" + lines[j]
        if closer not in buf:
            out.warnings.append(f"unclosed block (missing {closer!r})")
            return buf, j + 1
        body, _, after = buf.partition(closer)
        if after.strip():
            lines.insert(j + 1, after)
        return body, j + 1

    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s:
            flush()
            i += 1
            continue
        low = s.lower()
        if low.startswith("<table"):
            flush()
            body, i = take_until(i, "</table>", s)
            html = body + "</table>"
            out.blocks.append(MarkdownBlock("table", _table_text(html), html, html=html))
            continue
        if s.startswith("$$") or s.startswith("\\["):
            flush()
            opener, closer = ("$$", "$$") if s.startswith("$$") else ("\\[", "\\]")
            body, i = take_until(i, closer, s[len(opener) :])
            out.blocks.append(MarkdownBlock("formula", body.strip(), f"{opener}{body}{closer}"))
            continue
        if s.startswith("```"):
            flush()
            lang = s[3:].strip()
            body, i = take_until(i, "```", "")
            body = body.strip("\n")
            out.blocks.append(MarkdownBlock("code", body, f"```{lang}\n{body}\n```", lang=lang))
            continue
        if s.startswith("<pFig>"):
            flush()
            body, i = take_until(i, "</pFig>", s[len("<pFig>") :])
            raw = f"<pFig>{body}</pFig>"
            pts: list[Point] = []
            if i < len(lines) and lines[i].strip().startswith("<quad>"):
                qbody, i = take_until(i, "</quad>", lines[i].strip()[len("<quad>") :])
                raw += f"<quad>{qbody}</quad>"
                pts = _points(qbody)
                if len(pts) not in (2, 4):
                    out.warnings.append(f"figure quad with {len(pts)} points ignored")
                    pts = []
            out.blocks.append(MarkdownBlock("figure", body.strip(), raw, points=pts))
            continue
        hm = _HEADING_RE.match(s)
        if hm:
            flush()
            out.blocks.append(MarkdownBlock("heading", _strip_inline(hm.group(2)), s, level=len(hm.group(1))))
            i += 1
            continue
        if s.startswith("|") and i + 1 < len(lines) and _PIPE_SEP_RE.match(lines[i + 1]):
            flush()
            rows = [_pipe_row(s)]
            j = i + 2
            while j < len(lines) and lines[j].strip().startswith("|"):
                rows.append(_pipe_row(lines[j]))
                j += 1
            html = _pipe_table_html(rows)
            raw = "\n".join(lines[i:j])
            out.blocks.append(MarkdownBlock("table", "\n".join(" ".join(r) for r in rows), raw, html=html))
            i = j
            continue
        lm = _LIST_RE.match(line)
        if lm:
            if para:
                flush()
            items.append(lm.group(1).strip())
            i += 1
            continue
        if items and line.startswith((" ", "\t")):
            items[-1] += " " + s  # continuation of a list item
            i += 1
            continue
        if items:
            flush()
        para.append(line)
        i += 1
    flush()


# ---------------------------------------------------------------------------------------------
# JSON


@dataclass
class JsonParse:
    """`value` is the decoded JSON (None when nothing parsed); `ok` says whether anything parsed."""

    value: Any = None
    ok: bool = False
    source: str = ""  # which candidate span parsed ("whole", "fence", "span")
    warnings: list[str] = field(default_factory=list)


_FENCE_RE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")


def _balanced_span(s: str) -> str | None:
    """The first balanced {...} or [...] span, respecting quoted strings."""
    start = None
    for k, ch in enumerate(s):
        if ch in "{[":
            start = k
            break
    if start is None:
        return None
    stack: list[str] = []
    quote = None
    esc = False
    for k in range(start, len(s)):
        ch = s[k]
        if quote:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return s[start : k + 1]
    return None


def _loads(candidate: str) -> tuple[bool, Any]:
    for attempt in (candidate, _TRAILING_COMMA_RE.sub(r"\1", candidate)):
        try:
            return True, json.loads(attempt)
        except (ValueError, RecursionError):
            pass
        try:
            with warnings.catch_warnings():  # model text such as '\[' must not warn on stderr
                warnings.simplefilter("ignore")
                v = ast.literal_eval(attempt)
            if isinstance(v, dict | list):
                json.dumps(v)  # reject values JSON cannot hold (sets, bytes, ...)
                return True, v
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return False, None


def extract_json(text: Any) -> JsonParse:
    """Find and decode the JSON value in model text (fences, trailing prose, single quotes).

    >>> extract_json("Sure: ```json\\n{'a': 1,}\\n``` hope it helps").value
    {'a': 1}
    """
    if not isinstance(text, str):
        return JsonParse(warnings=[f"expected a string, got {type(text).__name__}"])
    try:
        s = text.strip()
        candidates: list[tuple[str, str]] = []
        if s:
            candidates.append(("whole", s))
        fm = _FENCE_RE.search(s)
        if fm:
            candidates.append(("fence", fm.group(1).strip()))
            span = _balanced_span(fm.group(1))
            if span:
                candidates.append(("fence", span))
        span = _balanced_span(s)
        if span:
            candidates.append(("span", span))
        if len(s) > 200_000:
            return JsonParse(warnings=["text too long to search for JSON"])
        for source, cand in candidates:
            ok, value = _loads(cand)
            if ok:
                warnings = [] if source == "whole" else [f"JSON taken from a {source} inside the text"]
                return JsonParse(value, True, source, warnings)
        return JsonParse(warnings=["no parseable JSON found"])
    except Exception as exc:
        return JsonParse(warnings=[f"internal JSON parser error: {exc!r}"])
