"""Cut the ground-truth text lines of the real receipts into a line-recognition evaluation folder.

Measures how a line reader does on real scanned print, given the lines (the boxes of the ground
truth, not a detector's): each box's bounding rectangle plus a small margin becomes one image with
task "text". For measurement only, like the set it comes from: never train on these crops.

    python scripts/realdev_lines.py ../shared/realdev/receipts runs/eval/realdev_lines [--every 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image


def loose_rect(poly, margin: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The bounding rectangle of a box's `poly` with `margin` of its height around it, inside a page
    of `size`; None when under 4 px either way."""
    xs, ys = poly[0::2], poly[1::2]
    pad = margin * (max(ys) - min(ys))
    rect = (
        max(0, int(min(xs) - pad)),
        max(0, int(min(ys) - pad)),
        min(size[0], int(max(xs) + pad + 1)),
        min(size[1], int(max(ys) + pad + 1)),
    )
    return None if rect[2] - rect[0] < 4 or rect[3] - rect[1] < 4 else rect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("receipts", help="folder with gt.jsonl and images (boxes with text)")
    ap.add_argument("out")
    ap.add_argument("--every", type=int, default=1, help="keep every N-th line (a smaller, spread sample)")
    ap.add_argument("--margin", type=float, default=0.15, help="margin around a box, in box heights")
    args = ap.parse_args()
    src, out = Path(args.receipts), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, k = [], 0
    for line in (src / "gt.jsonl").read_text().splitlines():
        item = json.loads(line)
        with Image.open(src / item["image"]) as im:
            page = im.convert("RGB")
        for j, box in enumerate(item.get("boxes", [])):
            k += 1
            text = box["text"].strip()
            if not text or (k - 1) % args.every:
                continue
            rect = loose_rect(box["poly"], args.margin, page.size)
            if rect is None:
                continue
            name = f"{Path(item['image']).stem}_{j:03d}.png"
            page.crop(rect).save(out / name)
            rows.append({"image": name, "task": "text", "text": text, "lang": "en"})
    (out / "gt.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} line images from {src} -> {out}")


if __name__ == "__main__":
    main()
