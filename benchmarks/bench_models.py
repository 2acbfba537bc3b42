"""Two or more models read the same pages in one run: seconds a page, alternating A B B A ..., and
each model's text NED against the pages' ground truth (`gt.jsonl`, when the folder has one).

For a candidate against the shipped model (session 39: version 20's 12-block line reader against
leg 51's 18-block one), where an evaluation run's seconds are too noisy to tell them apart:

    python benchmarks/bench_models.py runs/eval/heldout_pages src/hyocr/assets/models/hyocr-tiny /tmp/c51 \
        --limit 8 --repeat 2

`--reread-beams 4,2` reads with each model at each beam count of the second reading of unsure
segments (4 is the default); `--reread 0.95,0.98` at each confidence under which a segment is read
again (session 40: version 20 at 0.95 against 0.98); `--zh-reread 0.9,0.7` at each confidence
under which a segment is read by a Chinese reader too, for a model that names one (session 42);
`--zh-probe 4,0` with each probe size (0: a page is never probed, so the line reader reads every
crop first, as before session 43); `--zh-again 0.85,0.95,0` at each confidence under which the
Chinese reader's readings are read again by it (session 46; session 45 read them under 0.95; 0: never,
as before session 45). `--task formula --formula-again 0.98,0` reads formula images with each
confidence under which a formula reading is read again in the formula reader's views (session 52:
`segment.formula_views`; 0: never, as before).

Each model is loaded and warmed up on the first page before any timing; the best round of each
(the one least disturbed by other work on the machine) is shown beside the spread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hyocr import OCR
from hyocr.config import load_config
from hyocr.documents.inputs import kind_of
from hyocr.eval.bench import load_gt
from hyocr.eval.metrics import ned
from hyocr.tasks.segment import FORMULA_AGAIN, REREAD, REREAD_BEAMS, ZH_AGAIN, ZH_PROBE, ZH_REREAD


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", type=Path, help="a directory of page images, with a gt.jsonl or not")
    ap.add_argument("models", nargs="+", help="model directories")
    ap.add_argument("--limit", type=int, default=8, help="pages to read")
    ap.add_argument("--task", default="spotting", choices=["spotting", "text", "formula"])
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the models, alternating")
    ap.add_argument(
        "--reread-beams", default=str(REREAD_BEAMS), help="comma-separated beam counts of the second reading"
    )
    ap.add_argument(
        "--reread", default=str(REREAD), help="comma-separated confidences under which to read again"
    )
    ap.add_argument(
        "--zh-reread",
        default=str(ZH_REREAD),
        help="comma-separated confidences under which a Chinese reader reads too",
    )
    ap.add_argument(
        "--zh-probe",
        default=str(ZH_PROBE),
        help="comma-separated probe sizes of a page before the Chinese reader reads it first (0: never)",
    )
    ap.add_argument(
        "--zh-again",
        default=str(ZH_AGAIN),
        help="comma-separated confidences under which the Chinese reader's readings are read again by it (0: never)",
    )
    ap.add_argument(
        "--formula-again",
        default=str(FORMULA_AGAIN),
        help="comma-separated confidences under which a formula reading is read again in its reader's views (0: never)",
    )
    args = ap.parse_args()
    pages = [p for p in sorted(args.pages.iterdir()) if kind_of(p) == "image"][: args.limit]
    if not pages:
        raise SystemExit(f"no images in {args.pages}")
    truth = {}
    if (args.pages / "gt.jsonl").is_file():
        truth = {g["image"]: g.get("text", "") for g in load_gt(args.pages, [])}
    beams = [int(b) for b in args.reread_beams.split(",")]
    under = [float(t) for t in args.reread.split(",")]
    zh_under = [float(t) for t in args.zh_reread.split(",")]
    probes = [int(n) for n in args.zh_probe.split(",")]
    again = [float(t) for t in args.zh_again.split(",")]
    formula_again = [float(t) for t in args.formula_again.split(",")]

    def named(m: str, b: int, t: float, z: float, n: int, a: float, f: float) -> str:
        told = [f"{b} beams"] * (len(beams) > 1) + [f"under {t}"] * (len(under) > 1)
        told += [f"Chinese under {z}"] * (len(zh_under) > 1) + [f"probe {n}"] * (len(probes) > 1)
        told += [f"Chinese again under {a}"] * (len(again) > 1)
        told += [f"formulas again under {f}"] * (len(formula_again) > 1)
        return f"{m} ({', '.join(told)})" if told else m

    # a model naming no Chinese reader reads alike at every --zh-reread and --zh-probe: once is enough
    chinese = {m: bool(load_config(m).zh_model) for m in args.models}
    readers = {
        named(m, b, t, z, n, a, f): OCR(
            m, reread_beams=b, reread=t, zh_reread=z, zh_again=a, zh_probe=n, formula_again=f
        )
        for m in args.models
        for b in beams
        for t in under
        for z in (zh_under if chinese[m] else zh_under[:1])
        for n in (probes if chinese[m] else probes[:1])
        for a in (again if chinese[m] else again[:1])
        for f in formula_again
    }
    for ocr in readers.values():  # load and warm up every reader before timing
        getattr(ocr, args.task)(pages[0])
    secs: dict[str, list[float]] = {m: [] for m in readers}
    texts: dict[str, list[str]] = {}
    order = list(readers)
    for r in range(args.repeat):
        for m in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            got = [getattr(readers[m], args.task)(p).text for p in pages]
            secs[m].append((time.perf_counter() - t0) / len(pages))
            texts.setdefault(m, got)
            print(f"round {r + 1}: {m}: {secs[m][-1]:.2f} s a page", flush=True)
    print(f"\n{len(pages)} pages of {args.pages}, task {args.task}, {args.repeat} rounds")
    print(f"{'model':<48} {'best s/page':>11} {'spread':>13} {'text NED':>9}")
    for m in order:
        scored = [(p.name, t) for p, t in zip(pages, texts[m], strict=True) if p.name in truth]
        score = sum(ned(t, truth[name]) for name, t in scored) / len(scored) if scored else float("nan")
        spread = f"{min(secs[m]):.2f}-{max(secs[m]):.2f}"
        print(f"{m:<48} {min(secs[m]):>11.2f} {spread:>13} {score:>9.4f}")


if __name__ == "__main__":
    main()
