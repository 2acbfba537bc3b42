"""Score the key-field rules alone (hyocr.tasks.fields) on rows that stay fixed while the rules change.

By default each item's ground-truth boxes are put into rows (`rows_of`) and the fields picked from
them: no model, no cutter, so the figures are what the rules reach when every line is read right.
With `--read DIR` the rows are those the shipped model (or `--model`) reads, as `hyocr eval --task
fields` reads them; they are read once and kept in DIR, so that a change to the rules is scored
again in seconds on the same readings. Prints, per key, exact match (case-insensitive, whitespace
collapsed) and mean 1 - NED, and the mean of each item's field F1 (`hyocr eval`'s field_f1).

    python scripts/fields_rules.py ../shared/realdev/receipts runs/eval/heldout_receipt_fields
    python scripts/fields_rules.py runs/eval/heldout_receipt_fields --read runs/rows/heldout
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hyocr.data.render.base import quad_bounds
from hyocr.eval.metrics import field_prf, ned
from hyocr.tasks import fields as F
from hyocr.tasks.results import TextLine


def _norm(s: str | None) -> str:
    return " ".join((s or "").upper().split())


def _truth_rows(item: dict) -> list[str]:
    lines = [
        TextLine(text=b["text"], box=list(quad_bounds(b["poly"])), box_norm=[0, 0, 0, 0], polygon=[])
        for b in item["boxes"]
    ]
    return F.rows_of(lines)


def _read_rows(folder: Path, items: list[dict], cache: Path, model: str | None) -> list[list[str]]:
    """The rows the model reads for each item (what `OCR.fields` hands `pick_fields`), read once."""
    store = cache / "rows.jsonl"
    kept = {}
    if store.exists():
        kept = {r["image"]: r["rows"] for r in map(json.loads, store.read_text().splitlines())}
    missing = [it for it in items if it["image"] not in kept]
    if missing:
        from hyocr.api import OCR

        ocr = OCR(model)
        seen: list[list[str]] = []
        plain = F.pick_fields

        def caught(rows, keys):
            seen.append(list(rows))
            return plain(rows, keys)

        F.pick_fields = caught
        cache.mkdir(parents=True, exist_ok=True)
        try:
            with store.open("a") as out:
                for it in missing:
                    seen.clear()
                    ocr.fields(folder / it["image"], list(it["fields"]))
                    kept[it["image"]] = seen[0] if seen else []
                    out.write(json.dumps({"image": it["image"], "rows": kept[it["image"]]}) + "\n")
                    print(f"read {it['image']}", flush=True)
        finally:
            F.pick_fields = plain
    return [kept[it["image"]] for it in items]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", help="folders with a gt.jsonl holding boxes and fields")
    ap.add_argument("--read", type=Path, help="score the model's rows, read once and kept in this folder")
    ap.add_argument("--model", help="model directory for --read (default: the shipped one)")
    args = ap.parse_args()
    for folder in map(Path, args.data):
        items = [json.loads(line) for line in (folder / "gt.jsonl").read_text().splitlines() if line]
        items = [it for it in items if it.get("fields") and (args.read or it.get("boxes"))]
        if args.read:
            all_rows = _read_rows(folder, items, args.read / folder.name, args.model)
        else:
            all_rows = [_truth_rows(it) for it in items]
        scores: dict[str, list[float]] = {}
        f1 = 0.0
        for it, rows in zip(items, all_rows, strict=True):
            got = F.pick_fields(rows, list(it["fields"]))
            f1 += field_prf(got, it["fields"]).f1
            for key, want in it["fields"].items():
                s = scores.setdefault(key, [0, 0, 0.0])
                s[0] += 1
                s[1] += _norm(got[key]) == _norm(want)
                s[2] += 1 - ned(_norm(got[key]), _norm(want))
        print(f"{folder} ({len(items)} items, {'read by the model' if args.read else 'ground-truth rows'})")
        for key, (n, exact, sim) in sorted(scores.items()):
            print(f"  {key:12} exact {exact / n:.2f}  1-NED {sim / n:.2f}  (n={n})")
        print(f"  mean field F1 {f1 / max(1, len(items)):.4f}")


if __name__ == "__main__":
    main()
