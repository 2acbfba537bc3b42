"""Tokenizer wrapper over `tokenizers` (tokenizer.json) with the release's special tokens.

Special tokens are found by *name*, so the release's tokenizer and our tiny ones work alike:

| role | name | release id |
|---|---|---|
| begin of sentence | `<｜hy_begin▁of▁sentence｜>` | 120000 |
| end of the user turn | `<｜hy_User｜>` | |
| end of the answer (tiny models' eos) | `<｜hy_Assistant｜>` | |
| end of the system prompt | `<｜hy_place▁holder▁no▁3｜>` | |
| image start / end / placeholder / newline | `…no▁100｜` / `…no▁101｜` / `…no▁102｜` / `…no▁103｜` | 120118 / 120119 / 120120 / 120121 |
| `<quad>` `</quad>` `<ref>` `</ref>` | `…no▁110｜` … `…no▁113｜` | |

The spotting markers are single special tokens in the model; in text we write them as `<ref>`,
`</ref>`, `<quad>`, `</quad>` (the form DESIGN.md §2 and the task layer use). `encode` maps the
text form to the tokens and `decode` maps them back, skipping every other special token.
`<pFig>`/`</pFig>` are ordinary added tokens in tiny tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from hyocr.errors import ModelLoadError

__all__ = ["SPECIAL", "MARKERS", "HyTokenizer", "train_tokenizer"]


def _ph(n: int) -> str:
    return f"<｜hy_place▁holder▁no▁{n}｜>"


SPECIAL = {
    "pad": "<｜hy_pad｜>",
    "bos": "<｜hy_begin▁of▁sentence｜>",
    "user": "<｜hy_User｜>",
    "assistant": "<｜hy_Assistant｜>",
    "system_end": _ph(3),
    "image_start": _ph(100),
    "image_end": _ph(101),
    "image": _ph(102),
    "image_newline": _ph(103),
    "quad_open": _ph(110),
    "quad_close": _ph(111),
    "ref_open": _ph(112),
    "ref_close": _ph(113),
}
# text form -> special token name
MARKERS = {
    "<ref>": SPECIAL["ref_open"],
    "</ref>": SPECIAL["ref_close"],
    "<quad>": SPECIAL["quad_open"],
    "</quad>": SPECIAL["quad_close"],
}
EXTRA_TOKENS = ["<pFig>", "</pFig>"]


class HyTokenizer:
    def __init__(self, tokenizer: Tokenizer, eos_token: str | None = None):
        self.tk = tokenizer
        self.ids: dict[str, int] = {}
        for role, name in SPECIAL.items():
            i = tokenizer.token_to_id(name)
            if i is not None:
                self.ids[role] = i
        for role in ("bos", "user", "image_start", "image_end", "image"):
            if role not in self.ids:
                raise ModelLoadError(f"tokenizer lacks the special token {SPECIAL[role]} ({role})")
        eos_id = tokenizer.token_to_id(eos_token) if eos_token else None
        self.eos_id = eos_id if eos_id is not None else self.ids.get("assistant")
        self.pad_id = self.ids.get("pad", self.eos_id)
        self._marker_ids = {
            self.ids[r]: t
            for t, r in (
                ("<ref>", "ref_open"),
                ("</ref>", "ref_close"),
                ("<quad>", "quad_open"),
                ("</quad>", "quad_close"),
            )
            if r in self.ids
        }
        self._special_ids = set(self.ids.values()) - set(self._marker_ids)

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, model_dir: str | Path) -> HyTokenizer:
        model_dir = Path(model_dir)
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise ModelLoadError(f"{model_dir}: no tokenizer.json")
        try:
            tk = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ModelLoadError(f"{path}: unreadable tokenizer ({str(exc).splitlines()[0]})") from None
        eos = None
        cfg_path = model_dir / "tokenizer_config.json"
        if cfg_path.is_file():
            try:
                eos = json.loads(cfg_path.read_text(encoding="utf-8")).get("eos_token")
            except json.JSONDecodeError:
                eos = None
            if isinstance(eos, dict):
                eos = eos.get("content")
        return cls(tk, eos)

    def save(self, model_dir: str | Path) -> None:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        self.tk.save(str(model_dir / "tokenizer.json"))
        eos = self.tk.id_to_token(self.eos_id)
        cfg = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": SPECIAL["bos"],
            "eos_token": eos,
            "pad_token": self.tk.id_to_token(self.pad_id),
            "model_max_length": 32768,
        }
        (model_dir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")

    # ---- encode / decode --------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.tk.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Text (markers written as <ref> etc.) -> ids, no special tokens added."""
        for plain, name in MARKERS.items():
            if plain in text and self.tk.token_to_id(name) is not None:
                text = text.replace(plain, name)
        return self.tk.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Ids -> text with spotting markers as <ref>/<quad> and other special tokens dropped."""
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            i = int(i)
            if i in self._marker_ids:
                if run:
                    out.append(self.tk.decode(run, skip_special_tokens=skip_special))
                    run = []
                out.append(self._marker_ids[i])
            elif skip_special and i in self._special_ids:
                continue
            else:
                run.append(i)
        if run:
            out.append(self.tk.decode(run, skip_special_tokens=skip_special))
        return "".join(out)

    def token_to_id(self, token: str) -> int | None:
        return self.tk.token_to_id(token)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2) -> HyTokenizer:
    """Byte-level BPE over `texts` whose special tokens mirror the release's (ids 0..k first)."""
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    specials = list(SPECIAL.values())
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator((t.replace("<ref>", " ").replace("</ref>", " ") for t in texts), trainer=trainer)
    tk.add_tokens(EXTRA_TOKENS)
    return HyTokenizer(tk, SPECIAL["assistant"])


def add_characters(tok: HyTokenizer, chars: Iterable[str]) -> tuple[HyTokenizer, dict[int, list[int]]]:
    """`tok` with each of `chars` made one piece, every old id kept; and each new id's old pieces.

    A byte-level BPE reads a character outside its merges as two to four byte pieces. For every such
    character, merges are appended (after all the old ones, so an old text encodes as before) that
    join its pieces left to right into one; a merge's result shared by several characters (a common
    leading byte pair) is made once. The dict maps each new id to the old ids it joins: what a
    model's new embedding rows can start from (`grow.widen_vocab`).
    """
    state = json.loads(tok.tk.to_str())
    bpe = state["model"]
    if bpe.get("type") != "BPE":
        raise ValueError("add_characters needs a BPE tokenizer")
    vocab: dict[str, int] = bpe["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in bpe["merges"]]
    next_id = tok.vocab_size  # past the added tokens too
    for added in state["added_tokens"]:  # else loading renumbers the added tokens after the new pieces
        vocab.setdefault(added["content"], added["id"])
    rank: dict[tuple[str, str], int] = {}  # the new merges, in order
    made_of: dict[str, list[int]] = {}  # new piece -> old ids it joins
    for ch in dict.fromkeys(chars):
        if len(ch) != 1 or tok.tk.token_to_id(ch) is not None:
            continue
        pieces = tok.tk.encode(ch, add_special_tokens=False).tokens
        while len(pieces) > 1:  # the new merges made so far, lowest rank first (as the BPE applies them)
            pairs = [(rank.get(p, 1 << 30), i) for i, p in enumerate(pairwise(pieces))]
            best, i = min(pairs)
            if best == 1 << 30:
                break
            pieces[i : i + 2] = [pieces[i] + pieces[i + 1]]
        while len(pieces) > 1:
            a, b = pieces[0], pieces[1]
            rank[(a, b)] = len(rank)
            merges.append((a, b))
            joined = a + b
            if joined not in vocab:
                vocab[joined] = next_id
                next_id += 1
                made_of[joined] = [i for p in (a, b) for i in made_of.get(p, [vocab[p]])]
            pieces[0:2] = [joined]
    bpe["merges"] = [list(m) for m in merges]
    widened = Tokenizer.from_str(json.dumps(state, ensure_ascii=False))
    new = HyTokenizer(widened, tok.tk.id_to_token(tok.eos_id))
    return new, {vocab[p]: ids for p, ids in made_of.items()}
