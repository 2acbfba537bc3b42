"""Read formula images under several views, then score ways of choosing among the readings.

`collect` reads the first `--limit` images of a formula set (`gt.jsonl` with `latex`) with the
shipped model's formula reader (or `--model`'s) in each view below: the reader's own height, other
heights, and widened (`segment.widened`), each with its confidence (`segment.answer_confidence`).
It writes one row per image after every view, so a stopped run keeps the views it finished.
`score` replays choices offline: each view alone, the best view of each image (an upper bound), the
shipped rule (`api.OCR._formulas_again`: the first view, and when `segment.formula_rereading` says
so the other views of `segment.formula_views` too, kept by `segment.surest`), that rule with more
views, votes (the reading most views agree on, ties to the surest), and the likeliest over the
views: every distinct reading is scored under every view (`Engine.score`), and the one whose
log-probabilities, summed over the views (each view's mean per token, or its sum), are highest is
kept. Exact match is of `normalize_latex`, as `hyocr eval`.

    python scripts/formula_views.py collect runs/eval/dev_formulas runs/views/dev_formulas.jsonl --limit 100
    python scripts/formula_views.py score runs/views/dev_formulas.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

VIEWS = ((0, 1.0), (160, 1.0), (0, 1.3), (128, 1.0), (160, 1.3), (128, 1.3))  # (height, widening)
SHIPPED = (1, 2)  # the views `segment.formula_views` gives the shipped reader, by index into VIEWS


def collect(data: Path, out: Path, model: str | None, limit: int) -> None:
    from hyocr.api import OCR
    from hyocr.engine.generate import Request, SamplingParams
    from hyocr.processing.image import load_image
    from hyocr.tasks.prompts import instruction
    from hyocr.tasks.segment import widened

    ocr = OCR(model) if model else OCR()
    gt = [json.loads(line) for line in (data / "gt.jsonl").read_text(encoding="utf-8").splitlines()]
    gt = gt[:limit] if limit else gt
    images = [load_image(data / g["image"]) for g in gt]
    prompt = instruction("formula", "en")
    params = ocr.params or SamplingParams(max_new_tokens=ocr.max_new_tokens)
    rows = [{"image": g["image"], "gt": g.get("latex") or g.get("text", ""), "views": []} for g in gt]
    out.parent.mkdir(parents=True, exist_ok=True)
    for height, widen in VIEWS:
        seen = [widened(im, widen) if widen != 1.0 else im for im in images]
        gens = ocr._generate(prompt, seen, params, task="formula", by_shape=True, height=height)
        for row, g in zip(rows, gens, strict=True):
            row["views"].append([height, widen, g.text, list(g.logprobs), list(g.token_ids)])
        _write(out, rows)
        print(f"view {height or 'own'} px x{widen}: {len(rows)} read", flush=True)
    # every distinct reading scored under every view: cross[v][c] = reading c's log-probabilities
    # (its tokens, then its stop) in view v
    for row, im in zip(rows, images, strict=True):
        cands = list({tuple(v[4]): None for v in row["views"]})
        reqs = [
            Request(prompt, [widened(im, widen) if widen != 1.0 else im], task="formula", height=height)
            for height, widen in VIEWS
            for _ in cands
        ]
        flat = ocr.engine.score(reqs, [list(c) for _ in VIEWS for c in cands])
        row["candidates"] = [list(c) for c in cands]
        row["cross"] = [flat[k * len(cands) : (k + 1) * len(cands)] for k in range(len(VIEWS))]
    _write(out, rows)
    print(f"cross scores: {len(rows)} formulas", flush=True)


def _write(out: Path, rows: list[dict]) -> None:
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def score(path: Path, again: float) -> None:
    from hyocr.eval.metrics import normalize_latex
    from hyocr.tasks.segment import SegmentAnswer, answer_confidence, formula_rereading, surest

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    n_views = min(len(r["views"]) for r in rows)
    readings = [[SegmentAnswer(v[2], v[3]) for v in r["views"]] for r in rows]
    right = [
        [normalize_latex(a.text) == normalize_latex(r["gt"]) for a in rs]
        for r, rs in zip(rows, readings, strict=True)
    ]

    def chosen(extra: tuple[int, ...], votes: bool, threshold: float) -> int:
        exact = 0
        for rs, ok in zip(readings, right, strict=True):
            picks = (
                [rs[0]] + [rs[k] for k in extra] if formula_rereading(rs[0].logprobs, threshold) else [rs[0]]
            )
            if votes:
                count = Counter(normalize_latex(a.text) for a in picks)
                best = max(
                    picks, key=lambda a: (count[normalize_latex(a.text)], answer_confidence(a.logprobs))
                )
            else:
                best = surest(picks)
            exact += ok[rs.index(best)]
        return exact

    def crossed(extra: tuple[int, ...], by_mean: bool, threshold: float) -> int:
        """The shipped rule's views, the reading kept the likeliest summed over all of them."""
        exact = 0
        for row, rs, ok in zip(rows, readings, right, strict=True):
            if not formula_rereading(rs[0].logprobs, threshold):
                exact += ok[0]
                continue
            views = (0, *extra)
            first = {}  # each candidate reading -> the first of the views that read it
            for k in views:
                first.setdefault(tuple(row["views"][k][4]), k)
            index = {tuple(c): i for i, c in enumerate(row["candidates"])}
            weight = {
                c: sum(
                    sum(lp) / len(lp) if by_mean else sum(lp)
                    for lp in (row["cross"][k][index[c]] for k in views)
                )
                for c in first
            }
            exact += ok[first[max(first, key=weight.__getitem__)]]
        return exact

    name = [f"{h or 'own'}px x{w}" for h, w, *_ in rows[0]["views"][:n_views]]
    print(f"{len(rows)} formulas, exact matches:")
    for k in range(n_views):
        print(f"  {name[k]} alone: {sum(ok[k] for ok in right)}")
    print(f"  best view of each: {sum(any(ok[:n_views]) for ok in right)}")
    for extra in (SHIPPED, *((*SHIPPED, k) for k in range(3, n_views)), tuple(range(1, n_views))):
        if max(extra) < n_views:
            views = ", ".join(name[k] for k in (0, *extra))
            print(
                f"  under {again}: {views}: surest {chosen(extra, False, again)}, votes {chosen(extra, True, again)}"
            )
            if "cross" in rows[0]:
                print(
                    f"    likeliest over those views: by mean {crossed(extra, True, again)}, "
                    f"by sum {crossed(extra, False, again)}"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="read a formula set under every view")
    c.add_argument("data", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("--model", help="model directory (default: the shipped model)")
    c.add_argument("--limit", type=int, default=100, help="the first N images (0: all)")
    s = sub.add_parser("score", help="replay ways of choosing among the views")
    s.add_argument("views", type=Path)
    s.add_argument("--again", type=float, default=0.98, help="read other views under this confidence")
    a = ap.parse_args()
    if a.cmd == "collect":
        collect(a.data, a.out, a.model, a.limit)
    else:
        score(a.views, a.again)


if __name__ == "__main__":
    main()
