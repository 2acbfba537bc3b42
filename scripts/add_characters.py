"""Give a model one token for each character its tokenizer splits into bytes (a new script to learn).

    python scripts/add_characters.py src/hyocr/assets/models/hyocr-tiny --data runs/data/lines_zh \
        --min-count 2 --out runs/zh-init [--line-height 32]

The characters are those of the shards' answers seen at least `--min-count` times. The tokenizer
keeps every old id (`processing.tokenizer.add_characters`); the model keeps every weight and gets a
new embedding row per new piece, started from the rows of the byte pieces it joins
(`model.grow.widen_vocab`). The new model reads old text exactly as before until it is trained.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

from hyocr.model.grow import widen_vocab
from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer, add_characters
from hyocr.train.data import ShardIndex


def answer_characters(paths: list[str]) -> Counter[str]:
    """How often each character occurs in the answers of the shards under `paths`."""
    index = ShardIndex(paths)
    counts: Counter[str] = Counter()
    for i in range(len(index)):
        counts.update(index.record(i).get("answer", ""))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model directory to widen (a checkpoint or a shipped model)")
    ap.add_argument("--data", nargs="+", required=True, help="shard directories or .tar files")
    ap.add_argument("--min-count", type=int, default=2, help="characters seen fewer times stay bytes")
    ap.add_argument("--line-height", type=int, help="the new model's line height (default: as now)")
    ap.add_argument("--out", required=True, help="directory for the widened model")
    args = ap.parse_args()
    counts = answer_characters(args.data)
    chars = [c for c, n in counts.most_common() if n >= args.min_count and not c.isascii()]
    tok = HyTokenizer.from_dir(args.model)
    wide_tok, made_of = add_characters(tok, chars)
    model = widen_vocab(load_model(args.model), made_of)
    if args.line_height:
        model.cfg = replace(model.cfg, line_height=args.line_height)
    save_model(model, args.out)
    wide_tok.save(args.out)
    print(
        f"{args.model} -> {args.out}: {len(chars)} characters seen >= {args.min_count} times, "
        f"{len(made_of)} new pieces, vocabulary {tok.vocab_size} -> {wide_tok.vocab_size} "
        f"(model rows {model.cfg.lm_vocab})"
    )


if __name__ == "__main__":
    main()
