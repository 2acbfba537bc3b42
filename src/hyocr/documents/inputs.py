"""Expand what a user names (images, PDFs, multi-page TIFFs, folders, videos) into pages to read.

Each input becomes a list of `Page`s (or one error for that input). A folder is walked recursively
in sorted order; files with unknown extensions inside it are ignored, a bad file is reported and
skipped. Multi-page TIFFs give one page per frame. Videos are handled by documents/video.py and
only classified here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hyocr.errors import InputError
from hyocr.processing.image import load_image

__all__ = ["IMAGE_EXTS", "PDF_EXTS", "VIDEO_EXTS", "Page", "kind_of", "expand_inputs", "iter_pages"]

IMAGE_EXTS = {
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".jp2",
    ".ppm",
    ".pgm",
    ".pbm",
}
PDF_EXTS = {".pdf"}
VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".flv", ".mpg", ".mpeg"}


@dataclass
class Page:
    source: str  # the input file
    index: int  # 1-based page / frame number within the source
    count: int  # pages in the source
    image: Image.Image

    @property
    def name(self) -> str:
        return self.source if self.count == 1 else f"{self.source}#page={self.index}"


def kind_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in PDF_EXTS:
        return "pdf"
    if ext in VIDEO_EXTS:
        return "video"
    if ext in IMAGE_EXTS:
        return "image"
    return "unknown"


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Paths as given, folders replaced by the readable files inside them (sorted, recursive)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and kind_of(f) != "unknown")
        else:
            out.append(p)
    return out


def iter_pages(
    path: Path, *, pages: str | None = None, dpi: float = 200.0, max_pixels: int = 2048 * 2048
) -> Iterator[Page]:
    """Pages of one image / TIFF / PDF input; raises InputError for a bad input."""
    kind = kind_of(path)
    if kind == "pdf":
        from hyocr.documents.pdf import iter_pdf_pages, pdf_page_count

        count = pdf_page_count(path)
        for p in iter_pdf_pages(path, pages=pages, dpi=dpi, max_pixels=max_pixels):
            yield Page(str(path), p.page, count, p.image)
        return
    if kind == "video":
        raise InputError(f"{path}: a video: use the subtitles task (hyocr run VIDEO --task subtitles)")
    image = load_image(path)  # validates (missing, empty, truncated, bombs)
    n = getattr(Image.open(path), "n_frames", 1) if path.suffix.lower() in (".tif", ".tiff") else 1
    if n == 1:
        yield Page(str(path), 1, 1, image)
        return
    from hyocr.documents.pdf import parse_pages

    with Image.open(path) as tif:
        for i in parse_pages(pages, n):
            tif.seek(i - 1)
            yield Page(str(path), i, n, tif.convert("RGB"))
