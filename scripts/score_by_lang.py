"""Per-language (and per-scenario) text scores of an eval run: CER, NED, exact-line rate, spotting F1;
also by the ground truth's length in characters, spaces aside (1-4, 5-15, 16+: the model card's
Chinese line tables).

python scripts/score_by_lang.py DATA_DIR RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from hyocr.eval.metrics import cer, ned, spotting_prf


def load(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            out[obj["image"]] = obj
    return out


def _length(text: str) -> str:
    n = sum(not c.isspace() for c in text)
    return "chars 1-4" if n <= 4 else "chars 5-15" if n <= 15 else "chars 16+"


def main() -> None:
    data = Path(sys.argv[1])
    gt = load(data / "gt.jsonl")
    for run in sys.argv[2:]:
        preds = load(Path(run) / "predictions.jsonl")
        groups: dict[str, list[dict]] = defaultdict(list)
        for name, g in gt.items():
            p = preds.get(name, {})
            row = {
                "cer": cer(p.get("text", ""), g["text"]),
                "ned": ned(p.get("text", ""), g["text"]),
                "exact": float(p.get("text", "").strip() == g["text"].strip()),
                "s": p.get("seconds", 0.0),
            }
            if "boxes" in p:
                row["f1"] = spotting_prf(p["boxes"], g["boxes"]).f1
            for key in (
                g.get("lang", "?"),
                f"{g.get('lang', '?')}/{g.get('task', '?')}",
                "all",
                _length(g["text"]),
            ):
                groups[key].append(row)
        print(f"== {run}")
        print(f"{'group':<22}{'n':>5}{'CER':>8}{'NED':>8}{'exact':>8}{'spotF1':>8}{'s/img':>8}")
        for key in sorted(groups):
            rows = groups[key]

            def mean(k: str, rows: list[dict] = rows) -> float:
                return sum(r.get(k, 0.0) for r in rows) / len(rows)

            f1 = f"{mean('f1'):8.3f}" if any("f1" in r for r in rows) else f"{'-':>8}"
            print(
                f"{key:<22}{len(rows):>5}{mean('cer'):8.3f}{mean('ned'):8.3f}{mean('exact'):8.3f}{f1}{mean('s'):8.2f}"
            )


if __name__ == "__main__":
    main()
