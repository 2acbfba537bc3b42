"""Contact sheets: thumbnails of renders with their line boxes drawn, for a person to look at."""

from __future__ import annotations

from PIL import Image, ImageDraw

from hyocr.data.render.base import Render
from hyocr.data.scenarios import Recipe, make_render

__all__ = ["contact_sheet", "recipe_sheet"]


def contact_sheet(renders: list[Render], cols: int = 4, cell: int = 320, boxes: bool = True) -> Image.Image:
    """A grid of thumbnails (each fitted in cell×cell), line quads outlined in red."""
    rows = (len(renders) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell), (255, 255, 255))
    for i, r in enumerate(renders):
        img = r.image.convert("RGB")
        if boxes:
            img = img.copy()
            d = ImageDraw.Draw(img)
            for ln in r.lines:
                d.polygon([float(v) for v in ln.quad], outline=(230, 0, 0), width=max(1, img.width // 400))
        s = min((cell - 8) / img.width, (cell - 8) / img.height)
        t = img.resize((max(1, int(img.width * s)), max(1, int(img.height * s))), Image.LANCZOS)
        x, y = (i % cols) * cell + (cell - t.width) // 2, (i // cols) * cell + (cell - t.height) // 2
        sheet.paste(t, (x, y))
    return sheet


def recipe_sheet(
    recipe: Recipe, seed: int = 0, count: int = 12, cols: int = 4, cell: int = 320
) -> Image.Image:
    return contact_sheet([make_render(recipe, seed, i)[0] for i in range(count)], cols, cell)
