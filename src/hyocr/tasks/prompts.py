"""The instruction strings of the release (DESIGN.md §2), byte for byte, in English and Chinese.

These strings are part of the model's interface: a model trained on them expects them exactly.
`instruction(task, lang, ...)` fills the placeholders: `key` for the key task, `fields` (a list of
names, written as ['k1','k2'] the way the release's examples do), `target` for translation (a
language code or name; written as the language's English name in English instructions and its
Chinese name in Chinese ones), and `question` for VQA (the user's own words).
"""

from __future__ import annotations

__all__ = ["TASKS", "LANGUAGES", "TRANSLATION_TARGETS", "instruction", "language_names", "task_of"]

TASKS = (
    "spotting",
    "text",
    "document",
    "formula",
    "table",
    "chart",
    "key",
    "fields",
    "subtitles",
    "translate",
    "vqa",
)
LANGUAGES = ("en", "zh")

_EN = {
    "spotting": "Detect and recognize text in the image, and output the text coordinates in a formatted manner.",
    "text": "Extract the text in the image.",
    "document": (
        "Extract all information from the main body of the document image and represent it in markdown format, "
        "ignoring headers and footers. Tables should be expressed in HTML format, formulas in the document should "
        "be represented using LaTeX format, and the parsing should be organized according to the reading order."
    ),
    "formula": "Identify the formula in the image and represent it using LaTeX format.",
    "table": "Parse the table in the image into HTML.",
    "chart": "Parse the chart in the image; use Mermaid format for flowcharts and Markdown for other charts.",
    "key": "Output the value of {key}.",
    "fields": "Extract the content of the fields: {fields} from the image and return it in JSON format.",
    "subtitles": "Extract the subtitles from the image.",
    "translate": (
        "First extract the text, then translate the text content into {target}. If it is a document, ignore the "
        "header and footer. Formulas should be represented in LaTeX format, and tables should be represented in "
        "HTML format."
    ),
}
_ZH = {
    "spotting": "检测并识别图片中的文字，将文本坐标格式化输出。",
    "text": "提取图中的文字。",
    "document": (
        "提取文档图片中正文的所有信息用 markdown 格式表示，其中页眉、页脚部分忽略，表格用 html 格式表达，"
        "文档中公式用 latex 格式表示，按照阅读顺序组织进行解析。"
    ),
    "formula": "识别图片中的公式，用 LaTeX 格式表示。",
    "table": "把图中的表格解析为 HTML。",
    "chart": "解析图中的图表，对于流程图使用 Mermaid 格式表示，其他图表使用 Markdown 格式表示。",
    "key": "输出 {key} 的值。",
    "fields": "提取图片中的: {fields} 的字段内容，并按照 JSON 格式返回。",
    "subtitles": "提取图片中的字幕。",
    "translate": "先提取文字，再将文字内容翻译为{target}。若是文档，则其中页眉、页脚忽略。公式用latex格式表示，表格用html格式表示。",
}

# code -> (English name, Chinese name): English, Chinese and the release's 14 translation languages
TRANSLATION_TARGETS = {
    "en": ("English", "英文"),
    "zh": ("Chinese", "中文"),
    "de": ("German", "德语"),
    "es": ("Spanish", "西班牙语"),
    "tr": ("Turkish", "土耳其语"),
    "it": ("Italian", "意大利语"),
    "ru": ("Russian", "俄语"),
    "fr": ("French", "法语"),
    "pt": ("Portuguese", "葡萄牙语"),
    "ar": ("Arabic", "阿拉伯语"),
    "th": ("Thai", "泰语"),
    "vi": ("Vietnamese", "越南语"),
    "id": ("Indonesian", "印尼语"),
    "ms": ("Malay", "马来语"),
    "ja": ("Japanese", "日语"),
    "ko": ("Korean", "韩语"),
}


def language_names(target: str) -> tuple[str, str]:
    """A code ('de') or a name ('German', '德语') -> (English name, Chinese name)."""
    t = target.strip()
    if t.lower() in TRANSLATION_TARGETS:
        return TRANSLATION_TARGETS[t.lower()]
    for en, zh in TRANSLATION_TARGETS.values():
        if t.lower() == en.lower() or t == zh:
            return en, zh
    known = ", ".join(TRANSLATION_TARGETS)
    raise ValueError(f"unknown target language '{target}' (use one of: {known}, or their names)")


def _fields_literal(fields: list[str]) -> str:
    return "[" + ",".join("'" + f.replace("'", "\\'") + "'" for f in fields) + "]"


def instruction(
    task: str,
    lang: str = "en",
    *,
    key: str | None = None,
    fields: list[str] | None = None,
    target: str | None = None,
    question: str | None = None,
) -> str:
    """The exact instruction for a task.

    Example:
        >>> instruction("fields", fields=["company", "total"])
        "Extract the content of the fields: ['company','total'] from the image and return it in JSON format."
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
    if lang not in LANGUAGES:
        raise ValueError(f"unknown instruction language '{lang}' (choose from {', '.join(LANGUAGES)})")
    if task == "vqa":
        if not question or not question.strip():
            raise ValueError("the vqa task needs a question")
        return question
    template = (_EN if lang == "en" else _ZH)[task]
    if task == "key":
        if not key or not key.strip():
            raise ValueError("the key task needs a key name")
        return template.format(key=key)
    if task == "fields":
        names = [f.strip() for f in (fields or []) if f.strip()]
        if not names:
            raise ValueError("the fields task needs at least one field name")
        return template.replace("{fields}", _fields_literal(names))
    if task == "translate":
        en, zh = language_names(target or "en")
        return template.format(target=en if lang == "en" else zh)
    return template


def task_of(text: str) -> str:
    """The task whose fixed instruction (English or Chinese, no placeholder) `text` is, else "".

    >>> task_of("Identify the formula in the image and represent it using LaTeX format.")
    'formula'
    """
    t = text.strip()
    for table in (_EN, _ZH):
        for task, template in table.items():
            if "{" not in template and t == template:
                return task
    return ""
