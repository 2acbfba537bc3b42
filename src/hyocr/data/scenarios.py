"""Scenario registry and recipes: which renderer, which languages, how much degradation.

A recipe is a small TOML file shipped in `hyocr/data/recipes/` (or any path). It names scenario
weights, language weights, tasks, image format and degradation settings; `load_recipe` validates it
and `make_render` turns (recipe, seed, index) into one render, deterministically: the render's
random generator is seeded by the string f"{seed}:{index}", so any worker can make any index.
"""

from __future__ import annotations

import os
import random
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from hyocr.data.degrade import DegradeConfig, degrade
from hyocr.data.fonts import FONT_SPLITS, font_split
from hyocr.data.render.base import Render
from hyocr.data.text import LANGUAGES

__all__ = ["RENDERERS", "Recipe", "list_recipes", "load_recipe", "make_render"]


def _lazy(module: str, fn: str, takes_lang: bool = True):
    def call(rng, lang: str) -> Render:
        import importlib

        f = getattr(importlib.import_module(f"hyocr.data.render.{module}"), fn)
        return f(rng, lang) if takes_lang else f(rng)

    call.__name__ = fn
    return call


# scenario name -> renderer(rng, lang)
RENDERERS = {
    "line": _lazy("lines", "render_line"),
    "line_clean": _lazy("lines", "render_clean_line"),
    "line_characters": _lazy("lines", "render_character_line"),
    "line_basic": _lazy("lines", "render_basic_line"),
    "paragraph": _lazy("lines", "render_paragraph"),
    "parallel": _lazy("lines", "render_parallel"),
    "receipt": _lazy("receipt", "render_receipt"),
    "receipt_line": _lazy("receipt", "render_receipt_line"),
    "receipt_free_line": _lazy("receipt", "render_receipt_free_line"),
    "receipt_title_line": _lazy("receipt", "render_receipt_title_line"),
    "receipt_ruled_line": _lazy("receipt", "render_receipt_ruled_line"),
    "receipt_varied": _lazy("receipt", "render_receipt_varied"),
    "receipt_line_varied": _lazy("receipt", "render_receipt_line_varied"),
    "card": _lazy("card", "render_card"),
    "document": _lazy("document", "render_document"),
    "page_line": _lazy("document", "render_page_line"),
    "page_line_tracked": _lazy("document", "render_page_line_tracked"),
    "table": _lazy("table", "render_table"),
    "table_cell": _lazy("table", "render_table_cell"),
    "formula": _lazy("formula", "render_formula", takes_lang=False),
    "page_formula": _lazy("document", "render_page_formula"),
    "chart": _lazy("chart", "render_chart"),
    "flowchart": _lazy("chart", "render_flowchart"),
    "scene": _lazy("scene", "render_scene"),
    "ad": _lazy("scene", "render_ad"),
    "screenshot": _lazy("scene", "render_screenshot"),
    "game": _lazy("scene", "render_game_ui"),
    "video": _lazy("scene", "render_video_frame"),
}

# scenarios whose text is English-only or language-free whatever the recipe says
_FIXED_LANG = {"formula": "en", "page_formula": "en"}


@dataclass
class Recipe:
    name: str
    description: str = ""
    scenarios: dict[str, float] = field(default_factory=lambda: {"line": 1.0})
    languages: dict[str, float] = field(default_factory=lambda: {"en": 1.0})
    scenario_languages: dict[str, dict[str, float]] = field(default_factory=dict)
    tasks: list[str] | None = None
    samples_per_render: int = 2
    shard_size: int = 128  # renders per shard
    image_format: str = "png"  # png | jpg
    jpeg_quality: int = 92
    zh_instruction: float = 0.3
    degrade_probability: float = 0.5
    degrade: dict[str, Any] = field(default_factory=dict)
    scenario_degrade: dict[str, dict[str, Any]] = field(default_factory=dict)
    fonts: str = "train"  # train | heldout (evaluation sets) | all: which Latin faces (data/fonts.py)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _recipe_dir():
    return resources.files("hyocr.data") / "recipes"


def list_recipes() -> dict[str, str]:
    """name -> description of the recipes shipped with the package."""
    out = {}
    for p in sorted(_recipe_dir().iterdir(), key=lambda p: p.name):
        if p.name.endswith(".toml"):
            with p.open("rb") as f:
                out[p.name[:-5]] = tomllib.load(f).get("description", "")
    return out


def load_recipe(name_or_path: str) -> Recipe:
    """A shipped recipe by name, or a TOML file by path; validated with one-line errors."""
    if os.path.exists(name_or_path):
        with open(name_or_path, "rb") as f:
            raw = tomllib.load(f)
        name = os.path.splitext(os.path.basename(name_or_path))[0]
    else:
        p = _recipe_dir() / f"{name_or_path}.toml"
        if not p.is_file():
            raise ValueError(f"unknown recipe '{name_or_path}' (known: {', '.join(list_recipes())})")
        with p.open("rb") as f:
            raw = tomllib.load(f)
        name = name_or_path
    known = {f.name for f in fields(Recipe)}
    extra = set(raw) - known
    if extra:
        raise ValueError(f"recipe '{name}': unknown key(s) {sorted(extra)}")
    r = Recipe(name=name, **{k: v for k, v in raw.items() if k != "name"})
    for s in list(r.scenarios) + list(r.scenario_languages) + list(r.scenario_degrade):
        if s not in RENDERERS:
            raise ValueError(f"recipe '{name}': unknown scenario '{s}' (known: {', '.join(RENDERERS)})")
    for lw in [r.languages, *r.scenario_languages.values()]:
        for code in lw:
            if code not in LANGUAGES:
                raise ValueError(f"recipe '{name}': unknown language '{code}'")
    if r.fonts not in FONT_SPLITS:
        raise ValueError(f"recipe '{name}': fonts must be one of {', '.join(FONT_SPLITS)}")
    if r.image_format not in ("png", "jpg"):
        raise ValueError(f"recipe '{name}': image_format must be png or jpg")
    dk = {f.name for f in fields(DegradeConfig)}
    for d in [r.degrade, *r.scenario_degrade.values()]:
        bad = set(d) - dk - {"probability"}
        if bad:
            raise ValueError(f"recipe '{name}': unknown degrade option(s) {sorted(bad)}")
    if r.tasks is not None:
        from hyocr.data.samples import TASKS

        bad = set(r.tasks) - set(TASKS)
        if bad:
            raise ValueError(f"recipe '{name}': unknown task(s) {sorted(bad)}")
    if r.samples_per_render < 1 or r.shard_size < 1:
        raise ValueError(f"recipe '{name}': samples_per_render and shard_size must be >= 1")
    return r


def _choose(rng, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def make_render(recipe: Recipe, seed: int, index: int) -> tuple[Render, random.Random]:
    """Render number `index` of `recipe` for `seed` (degraded per the recipe); also returns the
    generator to continue with (for sample selection), so everything follows from (seed, index)."""
    rng = random.Random(f"{seed}:{index}")
    scenario = _choose(rng, recipe.scenarios)
    langs = recipe.scenario_languages.get(scenario, recipe.languages)
    lang = _FIXED_LANG.get(scenario) or _choose(rng, langs)
    with font_split(recipe.fonts):
        render = RENDERERS[scenario](rng, lang)
        opts = {**recipe.degrade, **recipe.scenario_degrade.get(scenario, {})}
        p = opts.pop("probability", recipe.degrade_probability)
        if rng.random() < p:
            render = degrade(render, rng, DegradeConfig(**opts))
    return render, rng
