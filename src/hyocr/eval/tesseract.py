"""Tesseract baseline engine for `hyocr eval --engine tesseract` (Debian tesseract-ocr via pytesseract).

One `image_to_data` call per image gives words with boxes; words are grouped into Tesseract's own
lines (block, paragraph, line numbers), and the full text is those lines joined by newlines in
Tesseract's reading order. Tesseract reads no key fields, tables or formulas, so `fields` is {},
`html` and `latex` are ''.

Non-obvious choices
- Single thread by default (OMP_THREAD_LIMIT=1 in the environment the tesseract process inherits):
  the figure the project compares against (issue 4) was measured that way, and it keeps the
  machine usable by others.
- Page segmentation mode 3 (Tesseract's default, fully automatic) and the LSTM engine (--oem 1).
- Words with confidence -1 (layout-only rows) or blank text are dropped.
- Words are joined by a space, except between two wide (CJK) characters (`segment.join_words`): Tesseract's Chinese
  models return most characters as words of their own, and the spaces would count as errors
  against text printed without them.
- A gt language with a script or region ("zh-Hans", "zh-Hant") is looked up whole, then by its
  first part.

Example:
    >>> from PIL import Image
    >>> TesseractEngine().predict(Image.new("RGB", (64, 32), "white"), {})["text"]
    ''
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

from PIL import Image

from hyocr.errors import HyocrError
from hyocr.tasks.segment import join_words

__all__ = ["TesseractEngine", "tesseract_version", "TESSERACT_LANGS"]

# ISO 639-1 codes of gt.jsonl → Tesseract traineddata names (only what Debian packages provide)
TESSERACT_LANGS = {
    "en": "eng",
    "zh": "chi_sim",
    "zh-Hans": "chi_sim",
    "zh-Hant": "chi_tra",
    "ja": "jpn",
    "ko": "kor",
    "fr": "fra",
    "de": "deu",
}


def tesseract_version() -> str:
    """The installed Tesseract version, or '' when it is not installed."""
    try:
        import pytesseract

        return str(pytesseract.get_tesseract_version())
    except Exception:
        return ""


@dataclass
class TesseractEngine:
    """`predict(image, item) -> {"text", "markdown", "boxes", "words", "fields", "html", "latex"}`
    (boxes in pixels; markdown: its paragraphs as plain text)."""

    lang: str = ""  # Tesseract language ('eng', 'eng+fra'); '' = from the item's `lang`, else eng
    threads: int = 1
    psm: int = 3
    name: str = "tesseract"

    def __post_init__(self) -> None:
        if shutil.which("tesseract") is None:
            raise HyocrError("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
        try:
            import pytesseract  # noqa: F401
        except ImportError as exc:
            raise HyocrError("the tesseract engine needs pytesseract (pip install 'hyocr[eval]')") from exc
        os.environ["OMP_THREAD_LIMIT"] = str(self.threads)

    def describe(self) -> str:
        return f"Tesseract {tesseract_version()} (--oem 1 --psm {self.psm}, {self.threads} thread(s))"

    def _lang_for(self, item: dict[str, Any]) -> str:
        if self.lang:
            return self.lang
        code = str(item.get("lang") or "en")
        return TESSERACT_LANGS.get(code) or TESSERACT_LANGS.get(code.split("-")[0], "eng")

    def predict(self, image: Image.Image, item: dict[str, Any]) -> dict[str, Any]:
        import pytesseract

        data = pytesseract.image_to_data(
            image.convert("RGB"),
            lang=self._lang_for(item),
            config=f"--oem 1 --psm {self.psm}",
            output_type=pytesseract.Output.DICT,
        )
        lines: dict[tuple[int, int, int], list[tuple[str, int, int, int, int]]] = {}
        words = []
        for i, text in enumerate(data["text"]):
            text = (text or "").strip()
            if not text or float(data["conf"][i]) < 0:
                continue
            x, y, w, h = (int(data[k][i]) for k in ("left", "top", "width", "height"))
            key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
            lines.setdefault(key, []).append((text, x, y, w, h))
            words.append({"text": text, "poly": [x, y, x + w, y, x + w, y + h, x, y + h]})
        boxes = []
        for ws in lines.values():  # dict keeps Tesseract's reading order
            x1 = min(w[1] for w in ws)
            y1 = min(w[2] for w in ws)
            x2 = max(w[1] + w[3] for w in ws)
            y2 = max(w[2] + w[4] for w in ws)
            boxes.append({"text": join_words([w[0] for w in ws]), "poly": [x1, y1, x2, y1, x2, y2, x1, y2]})
        # its paragraphs, lines joined by spaces, as plain Markdown (the reference for `md_ned`)
        paragraphs: dict[tuple[int, int], list[str]] = {}
        for (block, par, _), ws in lines.items():
            paragraphs.setdefault((block, par), []).append(join_words([w[0] for w in ws]))
        return {
            "text": "\n".join(b["text"] for b in boxes),
            "markdown": "\n\n".join(join_words(p) for p in paragraphs.values()),
            "boxes": boxes,
            "words": words,
            "fields": {},
            "html": "",
            "latex": "",
        }
