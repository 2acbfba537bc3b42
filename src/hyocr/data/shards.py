"""WebDataset-style tar shards: write (deterministic, resumable, parallel) and stream back.

Layout of an output directory:
    shard-000000.tar   members KEY.png|KEY.jpg + KEY.json per sample, KEY = RRRRRRRRR_J
    ...                (render index, sample number within the render)
    manifest.json      recipe, seed, counts per task/language/scenario, sha256 of every shard

Determinism: every render follows from (seed, index) alone (`scenarios.make_render`), tar headers
are fixed (mtime 0, uid/gid 0, empty owner names, mode 0644, GNU format), JSON is dumped with sorted
keys, and image encoders are deterministic for fixed pixels, so the same seed gives byte-identical
shards whatever the number of workers. Resumability: a shard is written to a temporary name and
renamed when complete; an existing shard is skipped. The manifest is rebuilt from the shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image

from hyocr.data.samples import SampleError, samples_from_render
from hyocr.data.scenarios import Recipe, make_render

__all__ = ["ShardPlan", "iter_samples", "synthesize", "write_shard"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ShardPlan:
    recipe: Recipe
    seed: int
    n: int  # total samples

    @property
    def renders(self) -> int:
        k = self.recipe.samples_per_render
        return (self.n + k - 1) // k

    @property
    def shards(self) -> int:
        return (self.renders + self.recipe.shard_size - 1) // self.recipe.shard_size

    def shard_name(self, s: int) -> str:
        return f"shard-{s:06d}.tar"

    def shard_renders(self, s: int) -> range:
        a = s * self.recipe.shard_size
        return range(a, min(self.renders, a + self.recipe.shard_size))


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        img.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=False)
    else:
        img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 0
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    tar.addfile(ti, io.BytesIO(data))


def render_samples(plan: ShardPlan, index: int):
    """(render, samples) of render `index`: `samples_per_render` samples drawn from all it supports."""
    recipe = plan.recipe
    for attempt in range(5):
        render, rng = make_render(recipe, plan.seed + attempt * 1_000_003, index)
        try:
            avail = samples_from_render(render, rng, recipe.tasks, recipe.zh_instruction)
        except SampleError as exc:  # never write an inconsistent sample; say so and redraw
            print(f"synth: render {index} rejected ({exc}); redrawing", file=sys.stderr)
            continue
        if avail:
            k = recipe.samples_per_render
            picked = rng.sample(avail, k) if len(avail) >= k else [avail[i % len(avail)] for i in range(k)]
            return render, picked
    raise RuntimeError(f"render {index}: no consistent sample after 5 attempts")


def write_shard(plan: ShardPlan, s: int, out_dir: str) -> str:
    """Write shard `s` (skipped if it exists); returns its path."""
    path = os.path.join(out_dir, plan.shard_name(s))
    if os.path.exists(path):
        return path
    tmp = f"{path}.tmp{os.getpid()}"
    fmt = plan.recipe.image_format
    left = plan.n - plan.shard_renders(s).start * plan.recipe.samples_per_render
    with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as tar:
        for r in plan.shard_renders(s):
            render, samples = render_samples(plan, r)
            data = _encode(render.image, fmt, plan.recipe.jpeg_quality)
            for j, sample in enumerate(samples):
                if left <= 0:
                    break
                key = f"{r:09d}_{j}"
                _add(tar, f"{key}.{fmt}", data)
                _add(
                    tar,
                    f"{key}.json",
                    json.dumps(sample.to_json(), ensure_ascii=False, sort_keys=True).encode(),
                )
                left -= 1
    os.replace(tmp, path)
    return path


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _job(args: tuple[ShardPlan, int, str]) -> tuple[int, str]:
    plan, s, out = args
    return s, write_shard(plan, s, out)


def synthesize(
    recipe: Recipe, n: int, out_dir: str, seed: int = 0, workers: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Write `n` samples of `recipe` as shards in `out_dir` and return the manifest.

    Example:
        >>> from hyocr.data.scenarios import load_recipe
        >>> manifest = synthesize(load_recipe("smoke"), 16, "/tmp/synth", seed=0)
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    os.makedirs(out_dir, exist_ok=True)
    plan = ShardPlan(recipe, seed, n)
    todo = [s for s in range(plan.shards) if not os.path.exists(os.path.join(out_dir, plan.shard_name(s)))]
    t0 = time.time()
    done = plan.shards - len(todo)

    def tick() -> None:
        if progress:
            el = time.time() - t0
            bar = "#" * int(30 * done / plan.shards)
            print(
                f"\rsynth [{bar:<30}] {done}/{plan.shards} shards  {el:6.1f}s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    tick()
    if workers <= 1 or len(todo) <= 1:
        for s in todo:
            write_shard(plan, s, out_dir)
            done += 1
            tick()
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap_unordered(_job, [(plan, s, out_dir) for s in todo]):
                done += 1
                tick()
    if progress:
        print(file=sys.stderr)
    manifest = build_manifest(plan, out_dir)
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    return manifest


def build_manifest(plan: ShardPlan, out_dir: str) -> dict[str, Any]:
    tasks: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    scen: Counter[str] = Counter()
    shards = []
    for s in range(plan.shards):
        path = os.path.join(out_dir, plan.shard_name(s))
        count = 0
        for _, d in iter_samples(path, decode=False):
            count += 1
            tasks[d["task"]] += 1
            langs[d["lang"]] += 1
            scen[d["meta"]["scenario"]] += 1
        shards.append({"name": plan.shard_name(s), "samples": count, "sha256": _sha256(path)})
    return {
        "format": "hyocr-synth/1",
        "recipe": plan.recipe.to_json(),
        "seed": plan.seed,
        "samples": sum(x["samples"] for x in shards),
        "shards": shards,
        "tasks": dict(sorted(tasks.items())),
        "languages": dict(sorted(langs.items())),
        "scenarios": dict(sorted(scen.items())),
    }


def iter_samples(path: str, decode: bool = True) -> Iterator[tuple[Image.Image | None, dict[str, Any]]]:
    """Stream (image, sample dict) from a shard, a directory of shards, or a manifest's directory.

    Images are decoded lazily per member (`decode=False` skips them). Reads sequentially, so it
    also works on a pipe or a network file.
    """
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".tar"):
                yield from iter_samples(os.path.join(path, name), decode)
        return
    pending: dict[str, Any] = {}
    with tarfile.open(path, "r|") as tar:
        for m in tar:
            if not m.isfile():
                continue
            key, _, ext = m.name.rpartition(".")
            f = tar.extractfile(m)
            data = f.read() if f is not None else b""
            entry = pending.setdefault(key, {})
            if ext == "json":
                entry["json"] = json.loads(data)
            else:
                entry["img"] = data
            if "json" in entry and "img" in entry:
                del pending[key]
                img = Image.open(io.BytesIO(entry["img"])).convert("RGB") if decode else None
                yield img, entry["json"]
    if pending:
        raise ValueError(f"{path}: incomplete samples {sorted(pending)[:3]}")
