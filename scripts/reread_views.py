"""Read every crop of a line set under several views, then score ways of choosing among them.

`collect` reads each image of a `gt.jsonl` folder as `hyocr eval --task text` does (the shipped model,
or `--model`) and keeps, for every crop the cutter makes, its greedy reading and its readings under
the views below (beam search, stretched wider or narrower, blurred), each with its log-probabilities.
`score` then replays choices offline in seconds: which crops are read again (the confidence
threshold, `segment.REREAD`), which views they get, and how one reading is kept (the surest, as
`segment.surest` does, or the one most views agree on). A crop read under the drop score is left out,
as `assemble` leaves it out; a line is its crops' texts joined by a space. This replays the second
reading only, so its figures sit a little off `hyocr eval`'s (which also cuts a line down to its print);
compare its rows with each other.

    python scripts/reread_views.py collect runs/eval/dev_page_lines runs/views/dev_page_lines.jsonl
    python scripts/reread_views.py score runs/views/dev_page_lines.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

VIEWS = {  # name: (stretch factor or "blur", beams)
    "beam4": (1.0, 4),
    "w115": (1.15, 1),
    "w130": (1.30, 1),
    "w087": (0.87, 1),
    "blur": ("blur", 1),
    "w115b4": (1.15, 4),
}
CHOICES = [
    ["beam4", "w115"],  # what the pipeline reads again with
    ["beam4", "w115", "w130"],
    ["beam4", "w115", "w087"],
    ["beam4", "w115", "w130", "w087"],
    ["beam4", "w115", "blur"],
    ["beam4", "w115", "w115b4"],
    list(VIEWS),
]


def _view(crop, how):
    from PIL import ImageFilter

    from hyocr.tasks.segment import widened

    if how == "blur":
        return crop.filter(ImageFilter.GaussianBlur(0.7))
    return crop if how == 1.0 else widened(crop, how)


def collect(data: Path, out: Path, limit: int, model: str | None) -> None:
    from hyocr.api import LINE_BATCH, OCR
    from hyocr.engine.generate import SamplingParams
    from hyocr.tasks.segment import fitted

    items = [json.loads(line) for line in (data / "gt.jsonl").read_text().splitlines() if line][:limit]
    ocr = OCR(model)
    seen: dict = {}
    plain = OCR._reread

    def caught(self, prompt, crops, gens, workers=None):
        base = self.params or SamplingParams(max_new_tokens=self.max_new_tokens)
        seen["greedy"] = [(fitted(g.text, c), g.logprobs) for g, c in zip(gens, crops, strict=True)]
        for name, (how, beams) in VIEWS.items():
            got = self._generate(
                prompt,
                [_view(c, how) for c in crops],
                replace(base, num_beams=beams),
                batch_size=max(self.batch_size, LINE_BATCH),
                by_shape=True,
                workers=workers,
            )
            seen[name] = [(fitted(g.text, c), g.logprobs) for g, c in zip(got, crops, strict=True)]
        return plain(self, prompt, crops, gens, workers)

    OCR._reread = caught
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for k, it in enumerate(items):
            seen.clear()
            final = ocr.text(data / it["image"]).text
            f.write(
                json.dumps({"image": it["image"], "gt": it["text"], "final": final, "views": dict(seen)})
                + "\n"
            )
            if k % 50 == 0:
                print(f"{k}/{len(items)} {time.perf_counter() - t0:.0f} s", flush=True)


def _pick(views: dict, names: list[str], threshold: float, way: str, drop: float) -> str:
    """One crop's text: its greedy reading, or, when the pipeline would read it again
    (`segment.rereading`), the surest (`segment.surest`) or most agreed-on of its views; nothing
    under the drop score."""
    from hyocr.tasks.segment import SegmentAnswer, answer_confidence, rereading, surest

    first = SegmentAnswer(*views["greedy"])
    if answer_confidence(first.logprobs) < drop:
        return ""
    if not rereading(first.logprobs, drop, threshold):
        return first.text
    readings = [SegmentAnswer(*views[k]) for k in ["greedy", *names]]
    if way == "surest":
        return surest(readings).text
    votes = Counter(r.text for r in readings)
    return max(readings, key=lambda r: (votes[r.text], answer_confidence(r.logprobs))).text


def score(paths: list[Path], drop: float) -> None:
    from hyocr.eval.metrics import cer

    recs = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line]
    recs = [r for r in recs if r["views"]]

    def figures(line_of) -> str:
        texts = [line_of(r) for r in recs]
        edits = sum(cer(t, r["gt"]) * len(r["gt"]) for t, r in zip(texts, recs, strict=True))
        exact = sum(t == r["gt"] for t, r in zip(texts, recs, strict=True))
        return f"{edits / sum(len(r['gt']) for r in recs):.4f} / {exact / len(recs):.3f}"

    def line(r, names, threshold, way):
        v = r["views"]
        parts = [_pick({k: v[k][i] for k in v}, names, threshold, way, drop) for i in range(len(v["greedy"]))]
        return " ".join(t.strip() for t in parts if t.strip())

    print(f"{len(recs)} lines; CER / exact")
    print(f"  hyocr eval's own reading: {figures(lambda r: r['final'])}")
    print(f"  greedy only:              {figures(lambda r: line(r, [], 0.0, 'surest'))}")
    for threshold in (0.95, 0.98, 1.01):
        for names in CHOICES:
            surest, vote = (
                figures(lambda r, n=names, t=threshold, w=way: line(r, n, t, w)) for way in ("surest", "vote")
            )
            print(f"  under {threshold:.2f}, {','.join(names):42} surest {surest}  vote {vote}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("data", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("--limit", type=int, default=10**9)
    c.add_argument("--model")
    s = sub.add_parser("score")
    s.add_argument("readings", type=Path, nargs="+")
    s.add_argument("--drop-score", type=float, default=0.5)
    args = ap.parse_args()
    if args.cmd == "collect":
        collect(args.data, args.out, args.limit, args.model)
    else:
        score(args.readings, args.drop_score)


if __name__ == "__main__":
    main()
