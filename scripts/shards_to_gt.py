"""Turn data-engine shards into an evaluation folder (images + gt.jsonl in the realdev format).

One image per render: samples of the same render (same image) merge their ground truth. Text is
the render's lines in reading order joined by newlines; boxes are the lines' pixel polygons;
fields come from the fields samples' JSON answers, html from the table samples' answers, markdown from the
document samples', latex from the formula samples'.

    python scripts/shards_to_gt.py SHARD_DIR OUT_DIR [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from hyocr.data.shards import iter_samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shards")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    items: dict[str, dict] = {}
    for image, s in iter_samples(args.shards):
        digest = hashlib.sha1(image.tobytes()).hexdigest()[:16]
        name = f"{digest}.png"
        item = items.get(name)
        if item is None:
            if args.limit and len(items) >= args.limit:
                break
            image.save(out / name)
            boxes = s.get("boxes") or []
            item = items[name] = {
                "image": name,
                "task": {"fields": "kie", "key": "kie"}.get(
                    s["task"], s.get("meta", {}).get("scenario", s["task"])
                ),
                "lang": s.get("lang", "en"),
                "text": "\n".join(b["text"] for b in boxes),
                "boxes": [{"text": b["text"], "poly": [round(v, 1) for v in b["poly"]]} for b in boxes],
            }
        if s["task"] == "table":
            item["html"] = s["answer"]
        if s["task"] == "document":
            item["markdown"] = s["answer"]
        if s["task"] == "formula":
            item["latex"] = s["answer"]
        if s["task"] == "fields":
            try:
                item["fields"] = json.loads(s["answer"])
            except json.JSONDecodeError:
                pass
    with (out / "gt.jsonl").open("w", encoding="utf-8") as f:
        for item in items.values():
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(items)} images -> {out}")


if __name__ == "__main__":
    main()
