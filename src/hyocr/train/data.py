"""Training data: shard reading with random access, sample encoding, and sequence packing.

Shards are WebDataset-style tar files: for each sample `KEY.json` (at least `task`, `instruction`,
`answer`; usually `lang`, `boxes`, `meta`) and zero or more images `KEY.png` (or `KEY.0.png`,
`KEY.1.png`, ... for several pages, in that order; jpg/jpeg/webp too). A sample without an image is
plain text (stage 1 keeps up to 10% of those, DESIGN.md §4).

Choices
- Random access instead of streaming: `ShardIndex` reads only the tar headers once and remembers
  each member's byte offset, so an epoch is a seeded permutation of all samples and the data
  position is one integer. That makes resume exact (same order, same packing) and lets every DDP
  rank decode only its own rows. Reading a member is one `seek` + `read`.
- Packing is greedy in order: samples are appended to a row until the next one would exceed
  `seq_len`; that sample opens the next row (nothing is dropped, nothing reordered). A sample longer
  than `seq_len` on its own is skipped and counted (truncating it would cut image tokens or the
  answer's end). Each sample keeps its own XD-RoPE positions (restarting at 0) and a segment id, so
  attention and positions are exactly those of the sample alone.
- Planning is separate from decoding: `plan_length` needs only the image header (its size decides
  the resized size and hence the token count) and the tokenised text, so the packer can lay out
  rows for all ranks cheaply and only the owning rank resizes and patchifies pixels.
- Images are resized with the *stage's* `max_pixels`/`min_pixels` (a small model trained on a CPU
  sees much smaller images than the release's 2048² bound).
- `tight_lines` (a stage option): the image of a one-image `text` sample is cut the way inference
  cuts an image for a model that reads lines (`tasks.segment.page_segments`): a line crop with a
  wide margin or slivers of its neighbours is read as its line plus a small margin, so the reader
  trains on the crops it will be given. An image the cutter finds several segments in, or none, is
  kept whole (inference would read it segment by segment, or whole). The cut is found once per
  sample (when its length is planned) and remembered.
- `scan_lines` (a stage option, a probability): a one-image `text` sample's line is scanned once
  more as it is encoded (`data.degrade.scan_line`: coarse resolution, bilevel or dithered, JPEG,
  blur, faded; its size kept, so the planned token count holds). The shards hold each line drawn
  once, and later legs see the same lines again; real receipts are scanned in ways the renderer
  draws too seldom. Drawn from the encoder's own seeded generator, so a resumed run scans
  differently from an unbroken one.

This module reads the tar layout itself; when `hyocr.data.shards` lands, its reader produces the
same layout and either can be used.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hyocr.config import HyocrConfig
from hyocr.data.degrade import scan_line
from hyocr.model.rope import xdrope_position_ids
from hyocr.processing.image import load_image, preprocess, read_size
from hyocr.processing.template import PromptBuilder
from hyocr.processing.tokenizer import HyTokenizer
from hyocr.tasks.segment import Segment, page_segments
from hyocr.train.ctc import ctc_target

__all__ = [
    "IMAGE_EXTS",
    "Sample",
    "ShardIndex",
    "write_shard",
    "Encoded",
    "SampleEncoder",
    "line_cut",
    "PackedBatch",
    "Packer",
    "collate",
]

IMAGE_EXTS = ("png", "jpg", "jpeg", "webp")


@dataclass
class Sample:
    """One training sample as stored in a shard."""

    key: str
    task: str
    instruction: str
    answer: str
    images: list[bytes] = field(default_factory=list)  # encoded image files, in page order
    lang: str = ""
    boxes: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    system: str = ""

    @classmethod
    def from_json(cls, key: str, record: dict[str, Any], images: list[bytes]) -> Sample:
        return cls(
            key=key,
            task=str(record.get("task", "")),
            instruction=str(record.get("instruction", "")),
            answer=record.get("answer", "")
            if isinstance(record.get("answer"), str)
            else json.dumps(record.get("answer"), ensure_ascii=False),
            images=images,
            lang=str(record.get("lang", "")),
            boxes=list(record.get("boxes") or []),
            meta=dict(record.get("meta") or {}),
            system=str(record.get("system", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "instruction": self.instruction,
            "answer": self.answer,
            "lang": self.lang,
            "boxes": self.boxes,
            "meta": self.meta,
            **({"system": self.system} if self.system else {}),
        }


def _split_name(name: str) -> tuple[str, str]:
    base = name.rsplit("/", 1)[-1]
    dirname = name[: len(name) - len(base)]
    key, _, ext = base.partition(".")
    return dirname + key, ext.lower()


@dataclass
class _Entry:
    shard: int
    json_at: tuple[int, int]  # (offset, size) of KEY.json
    images: list[tuple[int, int]]  # (offset, size) per image, in order


class ShardIndex(Sequence[Sample]):
    """All samples of the `*.tar` files under `path` (a directory, a file, or a list), random access.

    >>> index = ShardIndex("data/shards")        # doctest: +SKIP
    >>> len(index), index[0].task                 # doctest: +SKIP
    """

    def __init__(self, path: str | Path | Sequence[str | Path], tasks: Sequence[str] = ()):
        paths = [path] if isinstance(path, (str, Path)) else list(path)
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files += sorted(p.rglob("*.tar"))
            elif p.is_file():
                files.append(p)
            else:
                raise FileNotFoundError(f"{p}: no such shard file or directory")
        if not files:
            raise ValueError(f"no .tar shards found under {', '.join(map(str, paths))}")
        self.files = files
        self.keys: list[str] = []
        self.entries: list[_Entry] = []
        self._handles: dict[int, Any] = {}
        wanted = set(tasks)
        for si, f in enumerate(files):
            groups: dict[str, dict[str, tuple[int, int]]] = {}
            order: list[str] = []
            with tarfile.open(f, "r:") as tar:
                for m in tar:
                    if not m.isfile():
                        continue
                    key, ext = _split_name(m.name)
                    if key not in groups:
                        groups[key] = {}
                        order.append(key)
                    groups[key][ext] = (m.offset_data, m.size)
            for key in order:
                g = groups[key]
                if "json" not in g:
                    continue
                img_exts = sorted(e for e in g if e.rsplit(".", 1)[-1] in IMAGE_EXTS)
                entry = _Entry(si, g["json"], [g[e] for e in img_exts])
                if wanted:
                    if self._read_json(entry).get("task") not in wanted:
                        continue
                self.keys.append(key)
                self.entries.append(entry)

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self, shard: int, at: tuple[int, int]) -> bytes:
        fh = self._handles.get(shard)
        if fh is None:
            fh = self._handles[shard] = open(self.files[shard], "rb")  # noqa: SIM115 (kept open for reuse)
        fh.seek(at[0])
        return fh.read(at[1])

    def _read_json(self, entry: _Entry) -> dict[str, Any]:
        try:
            record = json.loads(self._read(entry.shard, entry.json_at).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.files[entry.shard]}: unreadable sample JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{self.files[entry.shard]}: sample JSON is not an object")
        return record

    def record(self, i: int) -> dict[str, Any]:
        """Sample i's JSON record (instruction, answer, ...) without reading its images."""
        return self._read_json(self.entries[i])

    def __getitem__(self, i: int) -> Sample:  # type: ignore[override]
        entry = self.entries[i]
        record = self._read_json(entry)
        images = [self._read(entry.shard, at) for at in entry.images]
        return Sample.from_json(self.keys[i].rsplit("/", 1)[-1], record, images)

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()

    def __getstate__(self):  # picklable for worker processes: handles are reopened lazily
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_shard(path: str | Path, samples: Sequence[Sample]) -> Path:
    """Write samples to one tar shard (KEY.json + KEY.png or KEY.N.png), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        for s in samples:
            members = [(f"{s.key}.json", json.dumps(s.to_json(), ensure_ascii=False).encode("utf-8"))]
            if len(s.images) == 1:
                members.append((f"{s.key}.png", s.images[0]))
            else:
                members += [(f"{s.key}.{k}.png", b) for k, b in enumerate(s.images)]
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------
# encoding


@dataclass
class Encoded:
    """One sample as model inputs: ids/labels (n,), positions (axes, n), patches per image."""

    ids: list[int]
    labels: list[int]
    positions: torch.Tensor  # (axes, n) XD-RoPE position ids of the sample alone
    pixel_values: list[np.ndarray]  # per image (h*w, 3*p*p)
    grids: list[tuple[int, int]]
    key: str = ""
    ctc: list[int] | None = None  # answer characters for the auxiliary CTC loss (single-line text samples)


def line_cut(img: Image.Image) -> Segment | None:
    """The segment a line reader's inference cuts a one-line image down to (`tasks.segment`), or
    None when it reads the image whole (the cutter finds several segments, none, or the whole image)."""
    segs = page_segments(img)
    whole = len(segs) != 1 or (segs[0].quad is None and segs[0].box == (0, 0, *img.size))
    return None if whole else segs[0]


class SampleEncoder:
    """Sample -> token ids, answer-only labels and pixels, images resized within the stage's bounds."""

    def __init__(
        self,
        cfg: HyocrConfig,
        tok: HyTokenizer,
        max_pixels: int,
        min_pixels: int | None = None,
        *,
        tight_lines: bool = False,
        scan_lines: float = 0.0,
        seed: int = 0,
    ):
        self.cfg, self.tok = cfg, tok
        self.prompts = PromptBuilder(tok)
        self.max_pixels = max_pixels
        self.min_pixels = min(min_pixels if min_pixels is not None else cfg.min_pixels, max_pixels)
        self.tight_lines = tight_lines
        self.scan_lines = scan_lines
        self._rng = random.Random(seed)
        self._text_cache: dict[str, tuple[list[int], list[int]]] = {}
        self._cuts: dict[bytes, Segment | None] = {}  # image digest -> its line's cut (None: whole)

    def _cut(self, sample: Sample, img: Image.Image | None = None) -> Segment | None:
        """The segment a one-image text sample is cut down to under `tight_lines` (None: whole)."""
        if not self.tight_lines or sample.task != "text" or len(sample.images) != 1:
            return None
        # by the image's digest: sample keys repeat across datasets (each numbers its own samples)
        digest = hashlib.blake2b(sample.images[0], digest_size=16).digest()
        if digest not in self._cuts:
            if img is None:
                img = load_image(sample.images[0], name=f"{sample.key} image 0")
            self._cuts[digest] = line_cut(img)
        return self._cuts[digest]

    def read_height(self, sample: Sample, image: bytes) -> int:
        """The height `image` (one of `sample`'s, encoded) is read at: the model's for the sample's
        task (`HyocrConfig.read_height`), except that a formula image of a reader trained at several
        heights (`formula_heights`) is read at one of `formula_height` and those, chosen by the
        image's digest: the same for every encoding of the image (`plan_length` and `encode` agree),
        evenly spread over the images."""
        heights = self.cfg.formula_heights
        if sample.task != "formula" or not heights or not self.cfg.formula_height:
            return self.cfg.read_height(sample.task)
        choice = (self.cfg.formula_height, *heights)
        digest = hashlib.blake2b(image, digest_size=8).digest()
        return choice[int.from_bytes(digest, "little") % len(choice)]

    def _scanned(self, sample: Sample) -> bool:
        """Whether this encoding of a one-image text sample is scanned once more (`scan_lines`)."""
        if not self.scan_lines or sample.task != "text" or len(sample.images) != 1:
            return False
        return self._rng.random() < self.scan_lines

    def _sizes(self, sample: Sample) -> list[tuple[int, int]]:
        out = []
        cut = self._cut(sample)
        for b in sample.images:
            if cut is not None:
                w, h = cut.crop_size()
            else:
                with Image.open(io.BytesIO(b)) as im:  # header only
                    w, h = im.size
            out.append(
                read_size(
                    h,
                    w,
                    self.cfg.factor,
                    self.min_pixels,
                    self.max_pixels,
                    stretch=self.cfg.stretch,
                    line_height=self.read_height(sample, b),
                )
            )
        return out

    def _example(self, sample: Sample, sizes: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        counts = [self.cfg.image_tokens(h, w) for h, w in sizes]
        return self.prompts.training_example(sample.instruction, sample.answer, counts, sample.system)

    def plan_length(self, sample: Sample) -> int:
        """Token count of the encoded sample, from image headers and text only (cheap; under
        `tight_lines` a text line's image is decoded once to find its cut)."""
        ids, _ = self._example(sample, self._sizes(sample))
        return len(ids)

    def encode(self, sample: Sample) -> Encoded:
        pixel_values, grids, sizes = [], [], []
        for k, b in enumerate(sample.images):
            img = load_image(b, name=f"{sample.key} image {k}")
            cut = self._cut(sample, img)
            if cut is not None:
                img = cut.crop(img)
            if self._scanned(sample):
                img = scan_line(img, self._rng)
            p = preprocess(
                img,
                patch=self.cfg.vit_patch,
                merge=self.cfg.merge,
                min_pixels=self.min_pixels,
                max_pixels=self.max_pixels,
                stretch=self.cfg.stretch,
                line_height=self.read_height(sample, b),
            )
            pixel_values.append(p.pixel_values)
            grids.append(p.grid_hw)
            sizes.append(p.resized_hw)
        ids, labels = self._example(sample, sizes)
        pos = xdrope_position_ids(
            torch.tensor([ids]),
            [grids],
            image_token_id=self.cfg.image_token_id,
            merge=self.cfg.merge,
            num_axes=len(self.cfg.xdrope_section),
        )[:, 0]  # (axes, n)
        ctc = ctc_target(sample.task, sample.answer, len(grids))
        return Encoded(ids, labels, pos, pixel_values, grids, sample.key, ctc)


# ------------------------------------------------------------------------------------------------
# packing


@dataclass
class PackedBatch:
    """Model inputs for one micro-batch of packed rows (B rows padded to the longest, L)."""

    input_ids: torch.Tensor  # (B, L)
    labels: torch.Tensor  # (B, L), -100 outside answers and on padding
    attention_mask: torch.Tensor  # (B, L) 1 on real tokens
    segment_ids: torch.Tensor  # (B, L) 1.. per sample in its row, 0 on padding
    position_ids: torch.Tensor  # (axes, B, L), restarting at every sample
    pixel_values: torch.Tensor | None  # (N, 3*p*p) all images of the batch, row-major
    grid_hw: list[tuple[int, int]]
    images_per_row: list[int]
    num_samples: int
    num_tokens: int  # real (non-pad) tokens
    num_answer_tokens: int  # tokens the loss is computed on
    ctc_targets: list[list[int] | None] = field(default_factory=list)  # per image, in order


def collate(rows: list[list[Encoded]], pad_id: int) -> PackedBatch:
    """Rows of encoded samples -> one right-padded micro-batch."""
    length = max(sum(len(e.ids) for e in row) for row in rows)
    b = len(rows)
    axes = rows[0][0].positions.shape[0]
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    labels = torch.full((b, length), -100, dtype=torch.long)
    attn = torch.zeros((b, length), dtype=torch.long)
    seg = torch.zeros((b, length), dtype=torch.long)
    pos = torch.zeros((axes, b, length), dtype=torch.long)
    pixels: list[np.ndarray] = []
    grids: list[tuple[int, int]] = []
    per_row = []
    ctc: list[list[int] | None] = []
    n_samples = 0
    for r, row in enumerate(rows):
        at = 0
        for s, e in enumerate(row):
            n = len(e.ids)
            ids[r, at : at + n] = torch.tensor(e.ids)
            labels[r, at : at + n] = torch.tensor(e.labels)
            attn[r, at : at + n] = 1
            seg[r, at : at + n] = s + 1
            pos[:, r, at : at + n] = e.positions
            pixels += e.pixel_values
            grids += e.grids
            ctc += [e.ctc] + [None] * (len(e.grids) - 1) if e.grids else []  # one per image
            at += n
            n_samples += 1
        per_row.append(sum(len(e.grids) for e in row))
    pv = torch.from_numpy(np.concatenate(pixels)) if pixels else None
    # an answer token counts when its label is predicted from the position before it (loss shift)
    n_answer = int((labels[:, 1:] != -100).sum())
    return PackedBatch(
        ids, labels, attn, seg, pos, pv, grids, per_row, n_samples, int(attn.sum()), n_answer, ctc
    )


class Packer:
    """Lays out rows of whole samples, in order, from a seeded permutation of a dataset.

    `position` counts samples consumed since the start of training over all epochs (the data
    position saved in checkpoints); the epoch is `position // len(dataset)` and each epoch has its
    own permutation drawn from `seed + epoch`.
    """

    def __init__(
        self,
        dataset: Sequence[Sample],
        encoder: SampleEncoder,
        seq_len: int,
        seed: int = 0,
        shuffle: bool = True,
        position: int = 0,
    ):
        if len(dataset) == 0:
            raise ValueError("the training data is empty")
        self.dataset, self.encoder, self.seq_len = dataset, encoder, seq_len
        self.seed, self.shuffle = seed, shuffle
        self.position = position
        self.skipped = 0  # samples longer than seq_len on their own
        self._perm_epoch = -1
        self._perm: list[int] = []
        self._lengths: dict[int, int] = {}

    def _index(self, position: int) -> int:
        n = len(self.dataset)
        epoch, i = divmod(position, n)
        if epoch != self._perm_epoch:
            order = list(range(n))
            if self.shuffle:
                random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._perm, self._perm_epoch = order, epoch
        return self._perm[i]

    def _length(self, i: int) -> int:
        if i not in self._lengths:
            if len(self._lengths) > 200_000:
                self._lengths.clear()
            self._lengths[i] = self.encoder.plan_length(self.dataset[i])
        return self._lengths[i]

    def next_row(self) -> list[int]:
        """Dataset indices of the next packed row; advances `position`."""
        row: list[int] = []
        used = 0
        guard = 0
        while True:
            i = self._index(self.position)
            n = self._length(i)
            if n > self.seq_len:
                self.position += 1
                self.skipped += 1
                guard += 1
                if guard > len(self.dataset):
                    raise ValueError(
                        f"no sample fits in seq_len={self.seq_len}; raise it or lower max_pixels"
                    )
                continue
            if row and used + n > self.seq_len:
                return row
            row.append(i)
            used += n
            self.position += 1

    def next_rows(self, count: int) -> list[list[int]]:
        return [self.next_row() for _ in range(count)]

    def encode_rows(self, rows: list[list[int]]) -> PackedBatch:
        encoded = [[self.encoder.encode(self.dataset[i]) for i in row] for row in rows]
        return collate(encoded, self.encoder.tok.pad_id)

    def __iter__(self) -> Iterator[PackedBatch]:
        while True:
            yield self.encode_rows([self.next_row()])
