"""PDF pages -> images with pypdfium2, one page at a time.

- Pages are rasterised at `dpi` (default 200) but never above `max_pixels`: the scale is lowered
  for a big page so memory stays bounded (a poster-sized page at 200 dpi would be ~200 Mpx) and the
  model, which resizes into its own pixel budget anyway, loses nothing.
- Page ranges use 1-based, inclusive specs like "1-3,5,8-" (`parse_pages`).
- An encrypted PDF without a password, a corrupt file or an empty document raise `InputError` with
  one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hyocr.errors import InputError

__all__ = ["PdfPageImage", "parse_pages", "pdf_page_count", "iter_pdf_pages"]


@dataclass
class PdfPageImage:
    page: int  # 1-based
    image: Image.Image
    dpi: float  # effective resolution after the pixel-budget cap


def parse_pages(spec: str | None, count: int) -> list[int]:
    """'1-3,5,8-' -> [1, 2, 3, 5, 8, ..., count] (1-based); None or '' -> every page."""
    if not spec:
        return list(range(1, count + 1))
    pages: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                start = int(a) if a.strip() else 1
                end = int(b) if b.strip() else count
            else:
                start = end = int(part)
        except ValueError:
            raise ValueError(f"bad page range '{part}' (use e.g. 1-3,5,8-)") from None
        if start < 1 or (end < start and not part.endswith("-")):
            raise ValueError(f"bad page range '{part}'")
        pages += [p for p in range(start, end + 1) if p <= count and p not in pages]
    if not pages:
        raise ValueError(f"page range '{spec}' selects no page of a {count}-page document")
    return pages


def _open(path: Path, password: str | None):
    import pypdfium2 as pdfium

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        return pdfium.PdfDocument(str(path), password=password)
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower() or "security" in msg.lower():
            raise InputError(f"{path}: PDF is encrypted (give its password)") from None
        raise InputError(f"{path}: not a readable PDF ({msg.splitlines()[0]})") from None


def pdf_page_count(path: str | Path, password: str | None = None) -> int:
    doc = _open(Path(path), password)
    try:
        return len(doc)
    finally:
        doc.close()


def iter_pdf_pages(
    path: str | Path,
    *,
    pages: str | None = None,
    dpi: float = 200.0,
    max_pixels: int = 2048 * 2048,
    password: str | None = None,
) -> Iterator[PdfPageImage]:
    """Yield the selected pages as RGB images, rendering one page at a time."""
    import pypdfium2 as pdfium

    path = Path(path)
    doc = _open(path, password)
    try:
        count = len(doc)
        if count == 0:
            raise InputError(f"{path}: PDF has no pages")
        for number in parse_pages(pages, count):
            page = doc[number - 1]
            try:
                w_pt, h_pt = page.get_size()
                scale = dpi / 72.0
                if w_pt * h_pt * scale * scale > max_pixels:
                    scale = (max_pixels / (w_pt * h_pt)) ** 0.5
                try:
                    bitmap = page.render(scale=scale)
                except pdfium.PdfiumError as exc:
                    raise InputError(f"{path}: page {number} cannot be rendered ({exc})") from None
                yield PdfPageImage(number, bitmap.to_pil().convert("RGB"), scale * 72.0)
            finally:
                page.close()
    finally:
        doc.close()
