"""Shared by the eval tests: lines of text rendered on a white page, with their boxes."""

from pathlib import Path

import matplotlib
import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def rendered(lines: list[str], width: int = 640) -> tuple[Image.Image, list[dict]]:
    """`lines` in 36-px DejaVu Sans, 70 px apart, on a white page `width` px wide, and each line's
    ground-truth box ({"text", "poly"}, the text's own bounding box)."""
    font = ImageFont.truetype(str(FONT), 36)
    im = Image.new("RGB", (width, 80 + 70 * len(lines)), "white")
    d = ImageDraw.Draw(im)
    boxes = []
    for k, text in enumerate(lines):
        x, y = 40, 40 + 70 * k
        d.text((x, y), text, fill="black", font=font)
        x1, y1, x2, y2 = d.textbbox((x, y), text, font=font)
        boxes.append({"text": text, "poly": [x1, y1, x2, y1, x2, y2, x1, y2]})
    return im, boxes


@pytest.fixture
def render_lines():
    """`rendered`, as a fixture (a test module cannot import a conftest)."""
    return rendered
