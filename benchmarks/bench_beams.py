"""Formula images read by a formula reader greedily (the reference) and with beam search of 2, 4 and
8 beams, in one run on the same images, alternating: seconds a formula (one image a call, as
`hyocr run --task formula` reads one; and the whole set in one call, in batches) and normalised
LaTeX exact match and similarity against the images' ground truth.

    python benchmarks/bench_beams.py runs/eval/heldout_formulas --limit 40 --beams 1,2,4,8
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hyocr import OCR
from hyocr.engine.generate import SamplingParams
from hyocr.eval.report import score_item

SHIPPED = Path(__file__).resolve().parent.parent / "src/hyocr/assets/models/hyocr-tiny"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="a directory with gt.jsonl (image, latex) and its images")
    ap.add_argument("--model", default=str(SHIPPED), help="a model directory (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--beams", default="1,2,4,8", help="comma-separated beam widths; 1 = greedy")
    ap.add_argument("--batch", type=int, default=8, help="images a call in the batched pass")
    args = ap.parse_args()
    data = Path(args.data)
    items = [json.loads(line) for line in (data / "gt.jsonl").read_text().splitlines() if line.strip()]
    items = [it for it in items if it.get("latex")][: args.limit]
    if not items:
        raise SystemExit(f"no formulas with 'latex' in {data / 'gt.jsonl'}")
    from PIL import Image

    images = [Image.open(data / it["image"]).convert("RGB") for it in items]
    widths = [int(b) for b in args.beams.split(",")]
    readers = {k: OCR(args.model, params=SamplingParams(num_beams=k), batch_size=args.batch) for k in widths}
    stats = {k: {"alone": 0.0, "batched": 0.0, "exact": 0.0, "sim": 0.0} for k in widths}
    for i, (img, it) in enumerate(zip(images, items, strict=True)):
        for k in widths:  # alternating, so that drifts of the machine's speed fall on every width alike
            t0 = time.perf_counter()
            latex = readers[k].formula(img).latex
            stats[k]["alone"] += time.perf_counter() - t0
            s = score_item(dict(it, task="formula"), {"latex": latex})
            stats[k]["exact"] += s["latex_exact"]
            stats[k]["sim"] += s["latex_sim"]
        print(f"\r{i + 1}/{len(items)}", end="", flush=True)
    print()
    for k in widths:
        t0 = time.perf_counter()
        readers[k].formula(images)
        stats[k]["batched"] = time.perf_counter() - t0
    n = len(items)
    print(f"{n} formulas of {data}, model {args.model}")
    print(f"| beams | s a formula, one a call | s a formula, batches of {args.batch} | exact | similarity |")
    print("|---|---|---|---|---|")
    for k in widths:
        s = stats[k]
        name = "1 (greedy, reference)" if k == 1 else str(k)
        print(
            f"| {name} | {s['alone'] / n:.3f} | {s['batched'] / n:.3f} | {s['exact'] / n:.3f} | {s['sim'] / n:.3f} |"
        )


if __name__ == "__main__":
    main()
