"""Formulas: random LaTeX rendered with matplotlib's mathtext; the target is the LaTeX source.

Non-obvious choices:
- The generator only emits constructs mathtext renders faithfully (fractions, roots, sub/superscripts,
  big operators with limits, Greek, accents, \\left( \\right), \\mathrm), so the image and the
  LaTeX agree. Environments mathtext lacks (matrices, align) are not generated.
- The target is normalised LaTeX: one space between tokens at the top level of the generator,
  braces always written for scripts (`x^{2}`), as in the release's formula outputs.
- Rendering goes through `MathTextParser("agg")` directly (≈10 ms), not a pyplot figure (≈50 ms).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from hyocr.data.render.background import paper
from hyocr.data.render.base import Render, TextLine, box_quad

__all__ = ["random_latex", "render_formula", "render_latex", "sample_formula"]

_VARS = list("xyzabcnkmtuvw") + [
    r"\alpha",
    r"\beta",
    r"\gamma",
    r"\theta",
    r"\lambda",
    r"\mu",
    r"\sigma",
    r"\phi",
    r"\omega",
]
_FUNCS = [r"\sin", r"\cos", r"\log", r"\exp", r"\tan", r"\ln"]
_RELS = ["=", r"\leq", r"\geq", r"\neq", r"\approx", "<", ">"]
_OPS = ["+", "-", r"\cdot", r"\times", "+", "-"]


def _atom(rng, depth: int) -> str:
    r = rng.random()
    if depth <= 0 or r < 0.35:
        return rng.choice(_VARS) if rng.random() < 0.7 else str(rng.randint(0, 99))
    if r < 0.48:
        base = rng.choice(_VARS) if rng.random() < 0.7 else rf"\left({_expr(rng, depth - 1, 2)}\right)"
        return f"{base}^{{{_expr(rng, depth - 1, 2)}}}"
    if r < 0.58:
        return f"{rng.choice(_VARS)}_{{{rng.choice(['i', 'j', 'k', 'n', '0', '1', 'i+1'])}}}"
    if r < 0.7:
        return rf"\frac{{{_expr(rng, depth - 1, 2)}}}{{{_expr(rng, depth - 1, 2)}}}"
    if r < 0.78:
        return rf"\sqrt{{{_expr(rng, depth - 1, 2)}}}"
    if r < 0.86:
        return rf"{rng.choice(_FUNCS)}\left({_expr(rng, depth - 1, 2)}\right)"
    if r < 0.93:
        op = rng.choice([r"\sum", r"\prod", r"\int"])
        lo, hi = (
            (rng.choice(["i=1", "k=0", "n=1"]), rng.choice(["n", "N", r"\infty"]))
            if op != r"\int"
            else (rng.choice(["0", "a", r"-\infty"]), rng.choice(["1", "b", r"\infty"]))
        )
        return f"{op}_{{{lo}}}^{{{hi}}} {_atom(rng, depth - 1)}"
    return rf"\left({_expr(rng, depth - 1, 3)}\right)"


def _expr(rng, depth: int, max_terms: int = 4) -> str:
    parts = [_atom(rng, depth)]
    for _ in range(rng.randint(0, max_terms - 1)):
        parts += [rng.choice(_OPS), _atom(rng, depth)]
    return " ".join(parts)


def random_latex(rng) -> str:
    """A random formula in the mathtext-safe subset, e.g. 'y = \\frac{a}{b} + x^{2}'."""
    return f"{_atom(rng, 1)} {rng.choice(_RELS)} {_expr(rng, rng.randint(1, 3))}"


def sample_formula(rng, size: int, colour=(0, 0, 0), family: str = "cm") -> tuple[str, Image.Image]:
    """(LaTeX, rendered RGBA patch); a formula mathtext rejects is re-drawn."""
    for _ in range(20):
        latex = random_latex(rng)
        try:
            return latex, render_latex(latex, size, colour, family)
        except ValueError:
            continue
    latex = "E = m c^{2}"
    return latex, render_latex(latex, size, colour, family)


@functools.cache
def _parser():
    from matplotlib.mathtext import MathTextParser

    return MathTextParser("agg")


def render_latex(latex: str, size: int, colour=(0, 0, 0), family: str = "cm") -> Image.Image:
    """Render `latex` (without $) to an RGBA image, tightly cropped."""
    from matplotlib.font_manager import FontProperties

    r = _parser().parse(f"${latex}$", dpi=72, prop=FontProperties(size=size, math_fontfamily=family))
    a = np.asarray(r.image, dtype=np.uint8)
    ys, xs = np.nonzero(a)
    if len(xs):
        a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    rgba = np.zeros(a.shape + (4,), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = a
    return Image.fromarray(rgba, "RGBA")


def render_formula(rng) -> Render:
    """One display formula on paper; the line's text is its LaTeX."""
    size = rng.randint(18, 34)
    latex, patch = sample_formula(
        rng, size, (rng.randint(0, 60),) * 3, rng.choice(["cm", "stix", "dejavuserif", "dejavusans"])
    )
    pad = rng.randint(6, 40)
    W, H = patch.width + 2 * pad, patch.height + 2 * pad
    img = paper(rng, W, H)
    img.paste(patch, (pad, pad), patch)
    q = box_quad(pad, pad, pad + patch.width, pad + patch.height)
    return Render(img, [TextLine(latex, q, "formula", "latex")], "formula", "en", latex=latex)
