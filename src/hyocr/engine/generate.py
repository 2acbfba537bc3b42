"""Generation: batched prompts with images, KV cache, greedy or sampled decoding, streaming.

How a batch runs:
1. Each request's images are validated, resized (smart_resize) and patchified; its prompt is laid
   out with the right number of image placeholders (processing/template.py).
2. Prompts are left padded to one length; all images of the batch go through the vision tower in
   one packed pass (attention stays within each image) and replace their placeholders.
3. One prefill fills a pre-allocated KV cache; then one token per active row per step. A finished
   row (stop id or length) leaves the batch, so short answers don't pay for long ones.

Decoding rules of the release (DESIGN.md §2): greedy by default, empty system prompt, up to 16384
new tokens. Repetition: the release cuts outputs of 8000+ characters whose tail repeats 10+ times
back to one copy; we do the same and report it as `repetition_cut=True` on the result, never
silently. Optionally (`stop_on_repetition`, default on, as in the 1.5 release) decoding stops early
once the generated ids end in a unit repeated `repetition_stop_repeats` times.
Sampling: temperature, then top-k, then top-p (nucleus), as in vLLM/HF; a seed makes it repeatable.
Per-token log-probabilities (of the model's unmodified distribution) are returned for confidences.

Beam search (`num_beams` > 1, greedy only): each prompt keeps its `num_beams` likeliest partial
answers (sum of log-probabilities). A hypothesis that emits a stop id is set aside, scored by its
sum divided by its length ** `length_penalty` (HF's normalisation; the stop id counts). A prompt
is done once it has `num_beams` finished hypotheses and none of its running beams, scored alike at
its current length, beats the worst of them (HF's default "heuristic" stopping); the best finished
hypothesis is its answer. All beams of all prompts decode as one batch over one KV cache whose rows
are reordered each step; a finished prompt's rows leave it. Answers are not streamed: a beam
answer is known only when its prompt is done. A model directory may carry a `generation_config.json`
(as HF models do) whose `num_beams` and `length_penalty` are its defaults: parameters that leave
them None get the model's (`Engine.resolve`); sampling (temperature > 0) is never beamed by default.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from hyocr.engine.backends import bf16_is_fast
from hyocr.errors import ModelLoadError, PixelBudgetError
from hyocr.model.decoder import KVCache
from hyocr.model.vlm import HunyuanOCRModel
from hyocr.processing.image import load_image, preprocess
from hyocr.processing.template import PromptBuilder
from hyocr.processing.tokenizer import HyTokenizer

# Decoding steps run under bf16 autocast only for a decoder at least this wide: a step of a small
# decoder is a few hundred small operations, which autocast's casts slow down (the shipped line
# reader's steps took 3.9 ms in float32 against 7.8 ms under autocast on an AVX512-BF16 machine),
# while the image and the prompt, large products, still gain by it (`benchmarks/bench_decode_dtype.py`).
DECODE_AUTOCAST_HIDDEN = 1024

__all__ = [
    "SamplingParams",
    "Request",
    "Generation",
    "Engine",
    "ZH_TASK",
    "cut_tail_repetition",
    "tail_repeat_unit",
]

# the task of a text request meant for the model's Chinese reader (`Engine.zh`, a config's
# `zh_model`): the segment pipeline sends it the segments the line reader read unsurely
ZH_TASK = "text-zh"


@dataclass
class SamplingParams:
    max_new_tokens: int = 16384
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    repetition_penalty: float = 1.0  # 1.0 = off; applied to tokens already generated
    stop_ids: tuple[int, ...] = ()  # in addition to the tokenizer's eos
    ignore_eos: bool = False  # run to max_new_tokens (benchmarks, parity tests), as vLLM's option
    seed: int | None = None
    cut_repetition: bool = True  # the release's cut-back of long repeated tails
    stop_on_repetition: bool = True
    repetition_stop_repeats: int = 32
    repetition_stop_min_tokens: int = 256
    num_beams: int | None = None  # > 1: beam search (greedy only); None: the model's default
    length_penalty: float | None = None  # beam scores / length ** this; None: the model's (1.0)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if self.num_beams is not None and self.num_beams < 1:
            raise ValueError("num_beams must be at least 1")
        if (self.num_beams or 1) > 1 and self.temperature > 0:
            raise ValueError("beam search (num_beams > 1) needs temperature 0")


@dataclass
class Request:
    instruction: str
    images: Sequence = ()  # paths, bytes, PIL images or arrays
    system: str = ""
    # the task the instruction asks for, when the caller knows it: a line reader reads a formula's
    # image at its config's formula_height (HyocrConfig.read_height); "" reads every image alike
    task: str = ""
    # the height to read the images at instead (a multiple of the model's 32): a formula read again
    # at one of its reader's `formula_heights`; 0: the config's for `task`
    height: int = 0


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" | "length" | "repetition"
    logprobs: list[float] = field(default_factory=list)
    repetition_cut: bool = False
    prompt_tokens: int = 0
    image_sizes: list[dict] = field(default_factory=list)  # original and resized (w, h) per image
    seconds: float = 0.0


@dataclass
class _State:
    """A batch being decoded: its cache, the last logits, positions and key mask per cache row."""

    cache: KVCache
    logits: torch.Tensor  # (rows, vocab)
    positions: torch.Tensor
    key_mask: torch.Tensor | None
    capacity: int
    stop: set[int]


@dataclass
class _Prepared:
    ids: list[int]
    pixel_values: list  # np arrays (n_i, 3*p*p)
    grids: list[tuple[int, int]]
    image_sizes: list[dict]
    # each image as the request gave it, and the height it was read at: what `keeping_features`
    # knows an image again by
    sources: list = field(default_factory=list)
    heights: list = field(default_factory=list)


def tail_repeat_unit(seq: Sequence, min_repeats: int, max_unit: int = 2048) -> int:
    """Smallest unit length u such that seq ends with the same u items repeated >= min_repeats times (0 if none)."""
    n = len(seq)
    for u in range(1, min(max_unit, n // min_repeats) + 1):
        unit = seq[n - u :]
        if all(seq[n - (r + 1) * u : n - r * u] == unit for r in range(1, min_repeats)):
            return u
    return 0


def cut_tail_repetition(text: str, min_chars: int = 8000, min_repeats: int = 10) -> tuple[str, bool]:
    """The release's post-processing: a long text ending in a unit repeated >= min_repeats times keeps one copy."""
    if len(text) < min_chars:
        return text, False
    u = tail_repeat_unit(text, min_repeats, max_unit=len(text) // min_repeats)
    if not u:
        return text, False
    unit = text[-u:]
    end = len(text)
    while end - 2 * u >= 0 and text[end - 2 * u : end - u] == unit:
        end -= u
    return text[:end], True


def _generation_defaults(model_dir: Path) -> tuple[int, float]:
    """(num_beams, length_penalty) of the directory's generation_config.json, (1, 1.0) without one."""
    path = model_dir / "generation_config.json"
    if not path.is_file():
        return 1, 1.0
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        beams, alpha = cfg.get("num_beams", 1), cfg.get("length_penalty", 1.0)
    except (ValueError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: not a JSON object ({exc})") from None
    if not isinstance(beams, int) or beams < 1 or not isinstance(alpha, (int, float)):
        raise ModelLoadError(f"{path}: num_beams must be an integer >= 1 and length_penalty a number")
    return beams, float(alpha)


class Engine:
    """A model, its tokenizer and prompt layout, ready to generate.

    Example:
        >>> engine = Engine.from_dir("path/to/model")                       # doctest: +SKIP
        >>> engine.generate([Request("Extract the text in the image.", ["page.png"])])[0].text  # doctest: +SKIP
    """

    def __init__(
        self,
        model: HunyuanOCRModel,
        tokenizer: HyTokenizer,
        prompts: PromptBuilder | None = None,
        *,
        autocast: bool | None = None,
        max_pixels: int | None = None,
        min_pixels: int | None = None,
        max_vision_tokens: int | None = None,
    ):
        self.model = model.eval()
        self.cfg = model.cfg
        self.tok = tokenizer
        self.prompts = prompts or PromptBuilder(tokenizer)
        self.device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        # bf16 autocast by default where bf16 is fast (AMX, AVX512-BF16, CUDA); off when weights are
        # already bf16, and on a CPU without a bf16 unit, where it is ~100x slower than float32
        if autocast is None:
            autocast = dtype == torch.float32 and bf16_is_fast(self.device)
        self.autocast = autocast
        # decoding steps too (`DECODE_AUTOCAST_HIDDEN`); else they run in the weights' dtype
        self.autocast_decode = autocast and self.cfg.lm_hidden >= DECODE_AUTOCAST_HIDDEN
        self.max_pixels = max_pixels or self.cfg.max_pixels
        self.min_pixels = min(min_pixels or self.cfg.min_pixels, self.max_pixels)
        self.max_vision_tokens = max_vision_tokens
        self.stop_ids = {tokenizer.eos_id, self.cfg.eos_id}
        # the engine that reads the `formula` task in this one's stead (`from_dir` loads the model
        # a config's `formula_model` names); None: this one reads formulas too
        self.formula: Engine | None = None
        # the engine that reads Chinese lines beside this one (a config's `zh_model`; api.OCR
        # gives it the segments this one reads unsurely); None: there is none
        self.zh: Engine | None = None
        # decoding defaults of the model (`from_dir`: its generation_config.json): see `resolve`
        self.num_beams, self.length_penalty = 1, 1.0
        # `keeping_features`: the ids of the images to keep (how many contexts want each), and the
        # features kept, (id of the image, read height) -> (image, features)
        self._wanted: dict[int, int] = {}
        self._kept: dict[tuple[int, int | None], tuple[object, torch.Tensor]] = {}
        self._kept_bytes = 0
        self._keep_limit = 0
        self._keep_lock = threading.Lock()

    def resolve(self, params: SamplingParams) -> SamplingParams:
        """`params` with the beam settings it leaves None set to this model's defaults (greedy
        requests only: a sampled one is never beamed unless it asks, which fails)."""
        if params.num_beams is not None and params.length_penalty is not None:
            return params
        beams = params.num_beams or (self.num_beams if params.temperature == 0 else 1)
        alpha = self.length_penalty if params.length_penalty is None else params.length_penalty
        return replace(params, num_beams=beams, length_penalty=alpha)

    @contextlib.contextmanager
    def keeping_features(self, images: Sequence, max_bytes: int = 512 * 1024 * 1024):
        """Within it, the image features (vision tower and connector) of `images` (objects: PIL
        images or arrays) are kept once encoded, up to `max_bytes` in all for each of its `readers`
        (each keeps those it encodes), and an image of them given again as the same object is not
        encoded again: a page's unsure segments read again with beams (`api.OCR._reread`, by the
        line or the Chinese reader) skip the vision tower. Contexts may overlap (threads, a
        server's pages); each one's images are let go when it ends."""
        with contextlib.ExitStack() as held:
            for reader in self.readers:
                held.enter_context(reader._keeping(images, max_bytes))
            yield self

    @contextlib.contextmanager
    def _keeping(self, images: Sequence, max_bytes: int):
        """`keeping_features` for this engine's own model."""
        ids = [id(im) for im in images if not isinstance(im, (str, Path, bytes))]
        with self._keep_lock:
            for i in ids:
                self._wanted[i] = self._wanted.get(i, 0) + 1
            self._keep_limit = max_bytes
        try:
            yield self
        finally:
            with self._keep_lock:
                for i in ids:
                    self._wanted[i] -= 1
                    if not self._wanted[i]:
                        del self._wanted[i]
                        for key in [k for k in self._kept if k[0] == i]:
                            feats = self._kept.pop(key)[1]
                            self._kept_bytes -= feats.numel() * feats.element_size()

    def _image_features(self, batch: list[_Prepared]) -> list[torch.Tensor] | None:
        """The connector's output for every image of `batch`, in order: encoded in one call, except
        those `keeping_features` kept from an earlier reading."""
        images = [
            (p.sources[k] if k < len(p.sources) else None, p, k) for p in batch for k in range(len(p.grids))
        ]
        if not images:
            return None
        keys: list = [None] * len(images)
        found: list[torch.Tensor | None] = [None] * len(images)
        if self._wanted:
            for i, (src, p, k) in enumerate(images):
                if src is not None and id(src) in self._wanted:
                    keys[i] = (id(src), p.heights[k])
                    kept = self._kept.get(keys[i])
                    if kept is not None and kept[0] is src:
                        found[i] = kept[1]
        todo = [i for i, f in enumerate(found) if f is None]
        if todo:
            pv = torch.cat([torch.from_numpy(images[i][1].pixel_values[images[i][2]]) for i in todo])
            grids = [images[i][1].grids[images[i][2]] for i in todo]
            for i, feats in zip(todo, self.model.encode_images(pv.to(self.device), grids), strict=True):
                found[i] = feats
                if keys[i] is not None:
                    self._keep(keys[i], images[i][0], feats)
        return found

    def _keep(self, key, src, feats: torch.Tensor) -> None:
        size = feats.numel() * feats.element_size()
        with self._keep_lock:
            if (
                key[0] in self._wanted
                and self._kept_bytes + size <= self._keep_limit
                and key not in self._kept
            ):
                self._kept[key] = (src, feats)
                self._kept_bytes += size

    def for_task(self, task: str) -> Engine:
        """The engine that reads requests of `task`: the formula reader for "formula" and the
        Chinese reader for `ZH_TASK`, if there is one, else this one."""
        other = {"formula": self.formula, ZH_TASK: self.zh}.get(task)
        return other if other is not None else self

    @property
    def readers(self) -> list[Engine]:
        """This engine and its formula and Chinese readers, each once (one model may be both)."""
        return list(dict.fromkeys(e for e in (self, self.formula, self.zh) if e is not None))

    @classmethod
    def from_dir(
        cls,
        model_dir: str | Path,
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        **kw,
    ) -> Engine:
        """The model in `model_dir`, and the formula and Chinese readers its config names
        (`formula_model`, `zh_model`: directories inside `model_dir`), loaded alike."""
        from hyocr.config import load_config
        from hyocr.model.weights import load_model

        model = load_model(model_dir, dtype=dtype, device=device)
        tok = HyTokenizer.from_dir(model_dir)
        engine = cls(model, tok, PromptBuilder.from_dir(model_dir, tok), **kw)
        engine.num_beams, engine.length_penalty = _generation_defaults(Path(model_dir))
        cfg = load_config(model_dir)  # load_model keeps the model alone
        loaded: dict[str, Engine] = {}
        for role, named in (("formula", cfg.formula_model), ("Chinese", cfg.zh_model)):
            if not named:
                continue
            sub = Path(model_dir) / named
            if not (sub / "config.json").is_file():
                raise ModelLoadError(f"{model_dir}: its {role} model {sub} has no config.json")
            sub_cfg = load_config(sub)
            if sub_cfg.formula_model or sub_cfg.zh_model:
                raise ModelLoadError(f"{sub}: a {role} model must read alone (no formula_model, zh_model)")
            if named not in loaded:  # one model may read both
                loaded[named] = cls.from_dir(sub, device=device, dtype=dtype, **kw)
            if role == "formula":
                engine.formula = loaded[named]
            else:
                engine.zh = loaded[named]
        return engine

    # ---- preparation ---------------------------------------------------------------------------
    def prepare(self, request: Request) -> _Prepared:
        pixel_values, grids, counts, sizes = [], [], [], []
        height = request.height or self.cfg.read_height(request.task)
        if height % self.cfg.factor or height < 0:
            raise ValueError(f"a read height must be a multiple of {self.cfg.factor}, not {height}")
        for k, src in enumerate(request.images):
            name = src if isinstance(src, (str, Path)) else f"image {k}"
            img = load_image(src, name=str(name))
            p = preprocess(
                img,
                patch=self.cfg.vit_patch,
                merge=self.cfg.merge,
                min_pixels=self.min_pixels,
                max_pixels=self.max_pixels,
                stretch=self.cfg.stretch,
                line_height=height,
            )
            pixel_values.append(p.pixel_values)
            grids.append(p.grid_hw)
            counts.append(self.cfg.image_tokens(*p.resized_hw))
            sizes.append(
                {
                    "width": img.width,
                    "height": img.height,
                    "resized_width": p.resized_hw[1],
                    "resized_height": p.resized_hw[0],
                }
            )
        if self.max_vision_tokens is not None and sum(counts) > self.max_vision_tokens:
            raise PixelBudgetError(
                f"images need {sum(counts)} vision tokens, over the budget of {self.max_vision_tokens} (lower max_pixels)"
            )
        ids = self.prompts.prompt(request.instruction, counts, request.system).ids
        heights = [height] * len(grids)
        return _Prepared(ids, pixel_values, grids, sizes, list(request.images), heights)

    def _ctx(self, decoding: bool = False):
        """bf16 autocast for encoding images and prompts (`autocast`), and for decoding steps
        (`decoding`) only with `autocast_decode`."""
        if not (self.autocast_decode if decoding else self.autocast):
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    @property
    def cache_dtype(self) -> torch.dtype:
        """The KV cache's dtype: that of the decoding steps, which read it."""
        return torch.bfloat16 if self.autocast_decode else next(self.model.parameters()).dtype

    # ---- the decoding loop -------------------------------------------------------------------
    def _run(
        self, batch: list[_Prepared], params: SamplingParams
    ) -> Iterator[tuple[int, int, float, str | None]]:
        """Yields (row, token, logprob, finish_reason or None) as tokens are produced (a beam
        search's answer all at once when its prompt is done): in inference mode (no version
        counters or view tracking: a page of line crops, ~300 small operations a decoding step,
        read ~4% faster than under no_grad on one thread), except when the decoding steps run under
        bf16 autocast (`autocast_decode`), which stays under no_grad (in inference mode a decoding
        matmul met a float32 operand beside a bf16 one)."""
        mode = torch.no_grad() if self.autocast_decode else torch.inference_mode()
        loop = self._beam_loop if params.num_beams > 1 else self._loop
        return mode(loop)(batch, params)

    def _left_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token rows left padded to one length, so that each ends at the last position: the ids
        and the attention mask (1 on real tokens), on the engine's device."""
        length = max(map(len, rows))
        input_ids = torch.full((len(rows), length), self.tok.pad_id, dtype=torch.long)
        attn = torch.zeros((len(rows), length), dtype=torch.long)
        for r, ids in enumerate(rows):
            input_ids[r, length - len(ids) :] = torch.tensor(ids)
            attn[r, length - len(ids) :] = 1
        return input_ids.to(self.device), attn.to(self.device)

    def _prefill(self, batch: list[_Prepared], params: SamplingParams) -> _State:
        """Left-pads the prompts, encodes the images, fills a KV cache with the prompts."""
        model, dev = self.model, self.device
        b = len(batch)
        input_ids, attn = self._left_padded([p.ids for p in batch])
        length = input_ids.shape[1]
        capacity = length + params.max_new_tokens
        if capacity > self.cfg.max_position:
            capacity = self.cfg.max_position
            if length >= capacity:
                raise PixelBudgetError(
                    f"prompt of {length} tokens exceeds the model's context of {self.cfg.max_position}"
                )
        grids = [p.grids for p in batch]
        embeds = self._image_features(batch)
        cache = KVCache(self.cfg, b, capacity, self.cache_dtype, dev, zeroed=False)
        logits, positions = model.prefill(input_ids, attn, embeds, grids, cache)
        key_mask = (
            None
            if bool(attn.all())
            else torch.cat([attn, torch.ones((b, capacity - length), dtype=attn.dtype, device=dev)], dim=1)
        )
        stop = set(params.stop_ids) if params.ignore_eos else set(self.stop_ids) | set(params.stop_ids)
        return _State(cache, logits, positions, key_mask, capacity, stop)

    def _decode(self, st: _State, rows: torch.Tensor | None, tokens: torch.Tensor) -> None:
        """One decoding step: the cache rows `rows` (None: all, in order) go on with `tokens`."""
        if rows is not None:
            st.cache.select(rows)
            st.positions = st.positions[rows]
            if st.key_mask is not None:
                st.key_mask = st.key_mask[rows]
        km = None if st.key_mask is None else st.key_mask[:, : st.cache.length + 1]
        st.logits = self.model.decode(tokens.to(self.device), st.positions, km, st.cache)
        st.positions = st.positions + 1

    def _loop(
        self, batch: list[_Prepared], params: SamplingParams
    ) -> Iterator[tuple[int, int, float, str | None]]:
        gen = torch.Generator(device="cpu")
        gen.manual_seed(params.seed if params.seed is not None else torch.seed() % (2**63))
        with self._ctx():
            st = self._prefill(batch, params)
        with self._ctx(decoding=True):
            rows = list(range(len(batch)))  # original row of each active batch position
            generated: list[list[int]] = [[] for _ in batch]
            while True:
                next_tokens, logps = self._sample(
                    st.logits.float(), [generated[r] for r in rows], params, gen
                )
                keep = []
                for i, r in enumerate(rows):
                    t = int(next_tokens[i])
                    generated[r].append(t)
                    reason = self._finished(generated[r], st, params)
                    yield r, t, float(logps[i]), reason
                    if reason is None:
                        keep.append(i)
                if not keep:
                    return
                idx = None
                if len(keep) != len(rows):
                    idx = torch.tensor(keep, device=self.device)
                    next_tokens = next_tokens[idx]
                    rows = [rows[i] for i in keep]
                self._decode(st, idx, next_tokens)

    def _finished(self, ids: list[int], st: _State, params: SamplingParams) -> str | None:
        """Why an answer ending in `ids` (the last one just produced) ends there, or None."""
        if ids[-1] in st.stop:
            return "stop"
        if len(ids) >= params.max_new_tokens or st.cache.length + 1 >= st.capacity:
            return "length"
        if params.stop_on_repetition and self._repeating(ids, params):
            return "repetition"
        return None

    def _beam_loop(
        self, batch: list[_Prepared], params: SamplingParams
    ) -> Iterator[tuple[int, int, float, str | None]]:
        k, alpha = params.num_beams, params.length_penalty
        with self._ctx():
            st = self._prefill(batch, params)
        with self._ctx(decoding=True):
            # every prompt's cache row copied k times: rows [j*k, (j+1)*k) are prompt rows[j]'s beams;
            # only the first beam of each starts live, so the first step takes k distinct tokens
            self._expand(st, k)
            rows = list(range(len(batch)))
            beam_scores = torch.full((len(batch), k), float("-inf"))
            beam_scores[:, 0] = 0.0
            beams: list[tuple[list[int], list[float]]] = [([], []) for _ in range(len(batch) * k)]
            done: list[list[tuple[float, list[int], list[float], str]]] = [[] for _ in batch]
            while True:
                logits = st.logits.float()
                logp_model = torch.log_softmax(logits, dim=-1)  # (n*k, V)
                logp = (  # the penalised distribution ranks the beams; unpenalised, the model's is it
                    logp_model
                    if params.repetition_penalty == 1.0
                    else torch.log_softmax(self._penalised(logits, [ids for ids, _ in beams], params), dim=-1)
                )
                vocab = logp.shape[-1]
                total = (beam_scores.reshape(-1, 1) + logp.cpu()).reshape(len(rows), k * vocab)
                top_scores, top_idx = total.topk(2 * k, dim=1)  # (n, 2k): k may stop, k go on
                src_rows, next_tokens, next_scores, next_beams, keep = [], [], [], [], []
                for j, r in enumerate(rows):
                    live = []
                    for score, flat in zip(top_scores[j].tolist(), top_idx[j].tolist(), strict=True):
                        if score == float("-inf") or len(live) == k:
                            break
                        src, t = j * k + flat // vocab, flat % vocab
                        ids, lps = beams[src]
                        ids, lps = [*ids, t], [*lps, float(logp_model[src, t])]
                        reason = self._finished(ids, st, params)
                        if reason is None:
                            live.append((score, src, t, ids, lps))
                        else:
                            done[r].append((score / len(ids) ** alpha, ids, lps, reason))
                    done[r].sort(key=lambda h: -h[0])
                    del done[r][k:]
                    cur = len(beams[j * k][0]) + 1
                    if not live or (len(done[r]) == k and done[r][-1][0] >= live[0][0] / cur**alpha):
                        _, ids, lps, reason = done[r][0]
                        for i, (t, lp) in enumerate(zip(ids, lps, strict=True)):
                            yield r, t, lp, reason if i == len(ids) - 1 else None
                        continue
                    keep.append(r)
                    # too few went on (the rest stopped): dead copies of the last fill in, never chosen
                    live += [(float("-inf"), *live[-1][1:])] * (k - len(live))
                    for score, src, t, ids, lps in live:
                        src_rows.append(src)
                        next_tokens.append(t)
                        next_scores.append(score)
                        next_beams.append((ids, lps))
                if not keep:
                    return
                rows, beams = keep, next_beams
                beam_scores = torch.tensor(next_scores).reshape(len(rows), k)
                self._decode(st, torch.tensor(src_rows, device=self.device), torch.tensor(next_tokens))

    @staticmethod
    def _expand(st: _State, k: int) -> None:
        """Each row of the prefilled state repeated k times in place."""
        idx = torch.arange(st.logits.shape[0], device=st.logits.device).repeat_interleave(k)
        st.cache.select(idx)
        st.logits, st.positions = st.logits[idx], st.positions[idx]
        if st.key_mask is not None:
            st.key_mask = st.key_mask[idx]

    @staticmethod
    def _repeating(ids: list[int], params: SamplingParams) -> bool:
        n = len(ids)
        if n < params.repetition_stop_min_tokens or n % 16:
            return False
        return (
            tail_repeat_unit(
                ids, params.repetition_stop_repeats, max_unit=n // params.repetition_stop_repeats
            )
            > 0
        )

    @staticmethod
    def _penalised(logits: torch.Tensor, history: list[list[int]], params: SamplingParams) -> torch.Tensor:
        """The logits with the repetition penalty applied to each row's tokens so far (a copy)."""
        scores = logits.clone()
        if params.repetition_penalty != 1.0:
            for i, h in enumerate(history):
                if h:
                    idx = torch.tensor(sorted(set(h)), device=scores.device)
                    vals = scores[i, idx]
                    scores[i, idx] = torch.where(
                        vals > 0, vals / params.repetition_penalty, vals * params.repetition_penalty
                    )
        return scores

    @classmethod
    def _sample(
        cls, logits: torch.Tensor, history: list[list[int]], params: SamplingParams, gen: torch.Generator
    ):
        logp_model = torch.log_softmax(logits, dim=-1)
        scores = cls._penalised(logits, history, params)
        if params.temperature == 0:
            tokens = scores.argmax(-1)
        else:
            scores = scores / params.temperature
            if params.top_k:
                kth = torch.topk(scores, min(params.top_k, scores.shape[-1]), dim=-1).values[:, -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            if params.top_p < 1.0:
                sorted_scores, order = scores.sort(dim=-1, descending=True)
                probs = sorted_scores.softmax(-1)
                drop = probs.cumsum(-1) - probs > params.top_p  # keep the smallest set reaching top_p
                sorted_scores = sorted_scores.masked_fill(drop, float("-inf"))
                scores = torch.full_like(scores, float("-inf")).scatter(-1, order, sorted_scores)
            probs = scores.softmax(-1).cpu()
            tokens = torch.multinomial(probs, 1, generator=gen).squeeze(-1).to(scores.device)
        return tokens, logp_model.gather(-1, tokens[:, None]).squeeze(-1)

    # ---- public API --------------------------------------------------------------------------
    def _finish(
        self, p: _Prepared, ids: list[int], logps: list[float], reason: str, params, t0: float
    ) -> Generation:
        body = ids[:-1] if reason == "stop" else ids
        text = self.tok.decode(body)
        cut = False
        if params.cut_repetition:
            text, cut = cut_tail_repetition(text)
        return Generation(
            text,
            body,
            reason,
            logps[: len(body)],
            cut or reason == "repetition",
            len(p.ids),
            p.image_sizes,
            time.perf_counter() - t0,
        )

    def _by_reader(
        self, requests: Sequence[Request], run: Callable[[Engine, list[int]], list]
    ) -> list | None:
        """When some of `requests` are for another reader (`for_task`): `run(reader, indices)` for
        each reader and its requests' indices, the results in the order of `requests`; else None
        (this engine runs them all)."""
        readers = list(dict.fromkeys(self.for_task(r.task) for r in requests))
        if readers == [self]:
            return None
        out: list = [None] * len(requests)
        for engine in readers:
            idx = [i for i, r in enumerate(requests) if self.for_task(r.task) is engine]
            for i, result in zip(idx, run(engine, idx) if idx else [], strict=True):
                out[i] = result
        return out

    def generate(self, requests: Sequence[Request], params: SamplingParams | None = None) -> list[Generation]:
        """Run a batch; results in the order of `requests` (formula and Chinese requests by their
        readers, if there are: `for_task`)."""
        params = params or SamplingParams()
        routed = self._by_reader(
            requests, lambda engine, idx: engine.generate([requests[i] for i in idx], params)
        )
        if routed is not None:
            return routed
        params = self.resolve(params)
        t0 = time.perf_counter()
        batch = [self.prepare(r) for r in requests]
        ids: list[list[int]] = [[] for _ in batch]
        logps: list[list[float]] = [[] for _ in batch]
        reasons: list[str] = ["length"] * len(batch)
        for r, t, lp, reason in self._run(batch, params):
            ids[r].append(t)
            logps[r].append(lp)
            if reason:
                reasons[r] = reason
        return [self._finish(p, ids[i], logps[i], reasons[i], params, t0) for i, p in enumerate(batch)]

    def score(self, requests: Sequence[Request], answers: Sequence[Sequence[int]]) -> list[list[float]]:
        """The model's log-probability of each answer (token ids, as `Generation.token_ids`) given
        its request, token by token, then of stopping there (any stop id): teacher forcing, one
        forward pass over the batch, no decoding. How likely one reading of an image is under
        another view of it (`scripts/formula_views.py`). Formula and Chinese requests are scored by
        their readers (`for_task`)."""
        if len(requests) != len(answers):
            raise ValueError(f"{len(requests)} requests but {len(answers)} answers")
        routed = self._by_reader(
            requests, lambda engine, idx: engine.score([requests[i] for i in idx], [answers[i] for i in idx])
        )
        if routed is not None:  # (no request at all is routed too: an empty list)
            return routed
        batch = [self.prepare(r) for r in requests]
        input_ids, attn = self._left_padded(
            [p.ids + [int(t) for t in a] for p, a in zip(batch, answers, strict=True)]
        )
        length = input_ids.shape[1]
        if length > self.cfg.max_position:
            raise PixelBudgetError(
                f"a prompt and its answer of {length} tokens exceed the model's context of {self.cfg.max_position}"
            )
        longest = max(len(a) for a in answers)
        # left padded, so every answer ends at the last position
        answer = (
            torch.arange(length, device=self.device)[None]
            >= length - torch.tensor([len(a) for a in answers], device=self.device)[:, None]
        )
        with torch.inference_mode(), self._ctx():
            logits = self.model.answer_logits(
                input_ids,
                attn,
                answer,
                self._image_features(batch),
                [p.grids for p in batch],
                longest,
                self.tok.pad_id,
            )
            logp = torch.log_softmax(logits.float(), dim=-1)
        stops = torch.tensor(sorted(self.stop_ids), device=logp.device)
        out = []
        for r, a in enumerate(answers):
            n = len(a)
            idx = torch.tensor(a, dtype=torch.long, device=logp.device)
            picked = logp[r, longest - n : longest].gather(-1, idx[:, None])
            stop = torch.logsumexp(logp[r, longest, stops], dim=0)
            out.append([*picked.squeeze(-1).tolist(), float(stop)])
        return out

    def stream(
        self,
        request: Request,
        params: SamplingParams | None = None,
        on_done: Callable[[Generation], None] | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are decoded; their concatenation equals the final text
        (unless a repetition cut-back shortens it, which `on_done` receives flagged)."""
        if self.for_task(request.task) is not self:
            yield from self.for_task(request.task).stream(request, params, on_done)
            return
        params = self.resolve(params or SamplingParams())
        t0 = time.perf_counter()
        p = self.prepare(request)
        ids: list[int] = []
        logps: list[float] = []
        emitted = ""
        reason = "length"
        for _, t, lp, why in self._run([p], params):
            ids.append(t)
            logps.append(lp)
            if why:
                reason = why
            body = ids[:-1] if why == "stop" else ids
            text = self.tok.decode(body)
            if text.endswith("\ufffd") and why is None:  # an incomplete UTF-8 sequence: wait for the rest
                continue
            if text.startswith(emitted) and len(text) > len(emitted):
                yield text[len(emitted) :]
                emitted = text
        result = self._finish(p, ids, logps, reason, params, t0)
        if on_done is not None:
            on_done(result)
