"""Degradation: geometric warping with exact box transport, then imaging and lighting effects.

Geometry (DESIGN.md §3, "control points"): a source point p goes to H(p + d(p)) where
- d is a smooth displacement field summed from a coarse grid of random control-point offsets
  (interpolated with smoothstep weights), a page curl (rows bend along a sine or an arc) and folds
  (content on the two sides of a crease line shifts apart by tanh of the distance);
- H is a homography: rotation (scan skew), scale and inward corner jitter (perspective).
The image is resampled with Pillow's MESH transform: for each 16-px cell of the output, the source
quad is the backward map at its corners, found by inverting H exactly and d by fixed-point iteration
(|∇d| ≪ 1 so it converges in a few steps). Boxes go the forward way (exact, no iteration): each
quad's edges are sampled densely, mapped, and enclosed in the smallest rectangle aligned with the
mapped top edge, so a curved line stays inside its box and the corner order (reading order) stays.
Before warping the image is padded with a margin (a desk or a scanner bed) at least as wide as
the largest displacement, and corners only move inward, so no box leaves the image.

Photometric effects, each with its own probability: ink spread or thinned, lighting gradient, local
shadow, glare, fold shading, Gaussian and motion blur, Gaussian noise, JPEG recompression.

`scan_line` degrades a line crop once more at train time (size kept).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from hyocr.data.render.background import paper, photo_like, textured
from hyocr.data.render.base import Render

__all__ = ["DegradeConfig", "Warp", "degrade", "make_warp", "scan_line"]


@dataclass(frozen=True)
class DegradeConfig:
    """Probabilities (p_*) and strengths of each effect. `strength` scales every amplitude."""

    strength: float = 1.0
    margin: tuple[float, float] = (0.02, 0.10)  # padding, fraction of the longer side
    background: str = "any"  # any | desk | scanner | none
    p_perspective: float = 0.5
    p_rotate: float = 0.6
    max_rotate: float = 4.0  # degrees
    p_grid: float = 0.5
    p_curl: float = 0.35
    p_fold: float = 0.3
    p_lighting: float = 0.5
    p_shadow: float = 0.25
    p_glare: float = 0.15
    p_blur: float = 0.3
    p_motion: float = 0.15
    p_noise: float = 0.5
    p_jpeg: float = 0.5
    # ink spread or thinned (`_ink`); 0 by default, and then no draw is made, so recipes without it
    # draw exactly as before it existed
    p_ink: float = 0.0

    @classmethod
    def light(cls) -> DegradeConfig:
        return cls(
            strength=0.5, p_perspective=0.3, p_grid=0.3, p_curl=0.2, p_fold=0.15, p_shadow=0.1, p_glare=0.05
        )


# ----------------------------------------------------------------------------- geometry


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with H @ [src, 1] ~ [dst, 1] from 4 point pairs."""
    a = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(a, np.float64))
    h = vt[-1].reshape(3, 3)
    return h / h[2, 2]


def _apply_h(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / d, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / d


@dataclass
class Warp:
    """p -> H(p + d(p)) on an image of size (w, h). See the module docstring."""

    w: int
    h: int
    H: np.ndarray
    grid: np.ndarray | None = None  # (gy, gx, 2) control-point offsets in px
    curl: tuple[float, float, float, int] | None = None  # amplitude, frequency, phase, kind
    folds: tuple[tuple[float, float, float, float, float, float], ...] = ()  # cx, cy, nx, ny, amp, sigma

    def displacement(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = np.zeros_like(x, dtype=np.float64)
        dy = np.zeros_like(y, dtype=np.float64)
        if self.grid is not None:
            gy, gx = self.grid.shape[:2]
            fx = np.clip(x / max(1, self.w) * (gx - 1), 0, gx - 1 - 1e-6)
            fy = np.clip(y / max(1, self.h) * (gy - 1), 0, gy - 1 - 1e-6)
            ix, iy = fx.astype(int), fy.astype(int)
            tx, ty = fx - ix, fy - iy
            tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)  # smoothstep: C1 across cells
            g = self.grid
            for k, arr in ((0, dx), (1, dy)):
                v00, v01 = g[iy, ix, k], g[iy, ix + 1, k]
                v10, v11 = g[iy + 1, ix, k], g[iy + 1, ix + 1, k]
                arr += (v00 * (1 - tx) + v01 * tx) * (1 - ty) + (v10 * (1 - tx) + v11 * tx) * ty
        if self.curl is not None:
            amp, freq, phase, kind = self.curl
            u = x / max(1, self.w)
            dy += amp * (np.sin(2 * math.pi * freq * u + phase) if kind == 0 else (2 * u - 1) ** 2 - 1 / 3)
        for cx, cy, nx, ny, amp, sigma in self.folds:
            s = (x - cx) * nx + (y - cy) * ny
            t = amp * np.tanh(s / sigma)
            dx += t * nx
            dy += t * ny
        return dx, dy

    def forward(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = self.displacement(x, y)
        return _apply_h(self.H, x + dx, y + dy)

    def backward(self, u: np.ndarray, v: np.ndarray, iters: int = 6) -> tuple[np.ndarray, np.ndarray]:
        px, py = _apply_h(np.linalg.inv(self.H), u, v)
        x, y = px.copy(), py.copy()
        for _ in range(iters):
            dx, dy = self.displacement(x, y)
            x, y = px - dx, py - dy
        return x, y

    def max_displacement(self) -> float:
        m = 0.0
        if self.grid is not None:
            m += float(np.abs(self.grid).max())
        if self.curl is not None:
            m += abs(self.curl[0])
        m += sum(abs(f[4]) for f in self.folds)
        return m


def make_warp(rng, w: int, h: int, cfg: DegradeConfig, margin_px: float) -> Warp:
    """Sample a warp for an image of size (w, h) whose content lies inside margin_px of padding."""
    s = cfg.strength
    budget = max(0.0, margin_px * 0.8)
    grid = None
    if rng.random() < cfg.p_grid:
        gx, gy = rng.randint(3, 6), rng.randint(3, 6)
        amp = min(budget / 2, rng.uniform(0.004, 0.012) * max(w, h) * s)
        g = np.random.default_rng(rng.getrandbits(64)).uniform(-amp, amp, (gy, gx, 2))
        grid = g
    curl = None
    if rng.random() < cfg.p_curl:
        amp = min(budget / 3, rng.uniform(0.005, 0.02) * h * s) * rng.choice([-1, 1])
        curl = (amp, rng.uniform(0.3, 1.0), rng.uniform(0, 2 * math.pi), rng.randint(0, 1))
    folds = []
    if rng.random() < cfg.p_fold:
        for _ in range(rng.randint(1, 2)):
            ang = rng.uniform(0, math.pi)
            folds.append(
                (
                    rng.uniform(0.2, 0.8) * w,
                    rng.uniform(0.2, 0.8) * h,
                    math.cos(ang),
                    math.sin(ang),
                    rng.uniform(0.5, 3.0) * s,
                    rng.uniform(2, 10),
                )
            )
    warp = Warp(w, h, np.eye(3), grid, curl, tuple(folds))
    # homography: rotate about the centre, shrink to fit, jitter corners inward
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    dst = corners.copy()
    if rng.random() < cfg.p_rotate:
        a = math.radians(rng.uniform(-cfg.max_rotate, cfg.max_rotate) * s)
        c = np.array([w / 2, h / 2])
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        dst = (dst - c) @ rot.T
        ext = np.abs(dst).max(0)
        scale = min(1.0, (w / 2) / ext[0], (h / 2) / ext[1])
        dst = dst * scale + c
    if rng.random() < cfg.p_perspective:
        jit = np.array([rng.uniform(0, 0.07 * s) for _ in range(8)]).reshape(4, 2) * [w, h]
        sign = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])  # inward for each corner
        dst = dst + jit * sign
    # the displacement field pushes content at most max_displacement outward: shrink to absorb it
    md = warp.max_displacement()
    if md > 0:
        c = np.array([w / 2, h / 2])
        k = min(1.0, max(0.5, 1 - 2 * md / min(w, h)))
        dst = (dst - c) * k + c
    warp.H = _homography(corners, dst)
    return warp


def warp_image(img: Image.Image, warp: Warp, fill, cell: int = 16) -> Image.Image:
    w, h = img.size
    xs = np.arange(0, w + cell, cell, dtype=np.float64).clip(0, w)
    ys = np.arange(0, h + cell, cell, dtype=np.float64).clip(0, h)
    xs, ys = np.unique(xs), np.unique(ys)
    U, V = np.meshgrid(xs, ys)
    X, Y = warp.backward(U, V)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            box = (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1]))
            # source quad: upper-left, lower-left, lower-right, upper-right
            quad = (
                X[j, i],
                Y[j, i],
                X[j + 1, i],
                Y[j + 1, i],
                X[j + 1, i + 1],
                Y[j + 1, i + 1],
                X[j, i + 1],
                Y[j, i + 1],
            )
            mesh.append((box, tuple(float(q) for q in quad)))
    return img.transform((w, h), Image.MESH, mesh, resample=Image.BILINEAR, fillcolor=fill)


def warp_quad(quad, warp: Warp, samples: int = 8) -> tuple[float, ...]:
    """Map a quad forward and return the tightest rectangle aligned with its mapped top edge."""
    q = np.asarray(quad, np.float64).reshape(4, 2)
    pts = []
    for a in range(4):
        p0, p1 = q[a], q[(a + 1) % 4]
        t = np.linspace(0, 1, samples, endpoint=False)[:, None]
        pts.append(p0 + (p1 - p0) * t)
    pts = np.concatenate(pts)
    X, Y = warp.forward(pts[:, 0], pts[:, 1])
    P = np.stack([X, Y], 1)
    c = np.stack(warp.forward(q[:, 0], q[:, 1]), 1)
    e = c[1] - c[0]
    if np.hypot(*e) < 1e-6:
        e = np.array([1.0, 0.0])
    ux = e / np.hypot(*e)
    uy = np.array([-ux[1], ux[0]])
    a, b = P @ ux, P @ uy
    a0, a1, b0, b1 = a.min(), a.max(), b.min(), b.max()
    rect = [ux * a0 + uy * b0, ux * a1 + uy * b0, ux * a1 + uy * b1, ux * a0 + uy * b1]
    return tuple(float(v) for p in rect for v in p)


# ----------------------------------------------------------------------------- photometric


def _np_rng(rng) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _lighting(rng, arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[:2]
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = ((xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang)) * 2
    lo, hi = rng.uniform(0.6, 0.95), rng.uniform(1.0, 1.15)
    gain = lo + (hi - lo) * (t + 1) / 2
    return arr * gain[..., None]


def _shadow(rng, arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[:2]
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    pts = [(rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h) for _ in range(rng.randint(3, 5))]
    d.polygon(pts, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(8, 40)))
    m = np.asarray(mask, np.float32)[..., None] / 255.0
    return arr * (1 - m * rng.uniform(0.25, 0.55))


def _glare(rng, arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    sx, sy = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2) / 2)
    return arr + g[..., None] * rng.uniform(60, 160)


def _fold_shading(rng, arr: np.ndarray, warp: Warp) -> np.ndarray:
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx, sy = warp.backward(xx[::4, ::4], yy[::4, ::4])
    out = arr
    for cx, cy, nx, ny, _amp, sigma in warp.folds:
        s = (sx - cx) * nx + (sy - cy) * ny
        prof = np.exp(-((s / (sigma * 1.5)) ** 2)) * np.sign(s) * rng.uniform(5, 18)
        prof = np.asarray(Image.fromarray(prof.astype(np.float32)).resize((w, h), Image.BILINEAR))
        out = out + prof[..., None]
    return out


def _motion_blur(arr: np.ndarray, rng) -> np.ndarray:
    k = rng.randint(3, 7)
    ang = rng.uniform(0, math.pi)
    acc = np.zeros_like(arr)
    for i in range(k):
        t = i - (k - 1) / 2
        dx, dy = int(round(t * math.cos(ang))), int(round(t * math.sin(ang)))
        acc += np.roll(arr, (dy, dx), axis=(0, 1))
    return acc / k


def _ink(rng, arr: np.ndarray) -> np.ndarray:
    """Ink spread or thinned, each half the time (toner or a wet ribbon, a worn one; a face printed
    heavier or lighter than drawn): the image blended with its 3x3 grey-level minimum (dark strokes
    grow by about a pixel a side) or maximum (they shrink), by a fraction of 0.25-0.75."""
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    spread = rng.random() < 0.5
    other = np.asarray(
        img.filter(ImageFilter.MinFilter(3) if spread else ImageFilter.MaxFilter(3)), np.float32
    )
    a = rng.uniform(0.25, 0.75)
    return (1 - a) * arr + a * other


def _photometric(
    rng, img: Image.Image, cfg: DegradeConfig, warp: Warp | None
) -> tuple[Image.Image, list[str]]:
    done: list[str] = []
    arr = np.asarray(img, np.float32)
    if cfg.p_ink and rng.random() < cfg.p_ink:
        arr = _ink(rng, arr)
        done.append("ink")
    if rng.random() < cfg.p_lighting:
        arr = _lighting(rng, arr)
        done.append("lighting")
    if warp is not None and warp.folds:
        arr = _fold_shading(rng, arr, warp)
        done.append("fold_shading")
    if rng.random() < cfg.p_shadow:
        arr = _shadow(rng, arr)
        done.append("shadow")
    if rng.random() < cfg.p_glare:
        arr = _glare(rng, arr)
        done.append("glare")
    if rng.random() < cfg.p_motion:
        arr = _motion_blur(arr, rng)
        done.append("motion_blur")
    if rng.random() < cfg.p_noise:
        arr = arr + _np_rng(rng).normal(0, rng.uniform(2, 10) * cfg.strength, arr.shape).astype(np.float32)
        done.append("noise")
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < cfg.p_blur:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.3) * cfg.strength))
        done.append("gaussian_blur")
    if rng.random() < cfg.p_jpeg:
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=rng.randint(35, 90))
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        done.append("jpeg")
    return out, done


# ----------------------------------------------------------------------------- entry point


def _pad(rng, render: Render, cfg: DegradeConfig) -> tuple[Image.Image, float, float]:
    w, h = render.image.size
    if cfg.background == "none":
        return render.image, 0.0, 0.0
    m = int(rng.uniform(*cfg.margin) * max(w, h)) + 4
    W, H = w + 2 * m, h + 2 * m
    kind = cfg.background if cfg.background != "any" else rng.choice(["desk", "desk", "scanner"])
    if kind == "scanner":
        g = rng.randint(200, 255)
        bg = paper(rng, W, H, (g, g, max(0, g - rng.randint(0, 8))), grain=3)
    else:
        bg = photo_like(rng, W, H) if rng.random() < 0.5 else textured(rng, W, H)
    bg.paste(render.image, (m, m))
    return bg, float(m), float(m)


def degrade(render: Render, rng, cfg: DegradeConfig | None = None) -> Render:
    """Warp and degrade `render`; its line quads are transported with the image.

    Example:
        >>> import random
        >>> from hyocr.data.render.lines import render_paragraph
        >>> r = degrade(render_paragraph(random.Random(0), "en"), random.Random(1))
    """
    cfg = cfg or DegradeConfig()
    img, ox, oy = _pad(rng, render, cfg)
    w, h = img.size
    warp = make_warp(rng, w, h, cfg, min(ox, oy) if ox else 0.0) if ox else None
    lines = [
        replace(ln, quad=tuple(v + (ox if i % 2 == 0 else oy) for i, v in enumerate(ln.quad)))
        for ln in render.lines
    ]
    if warp is not None:
        fill = tuple(int(v) for v in np.asarray(img.resize((1, 1), Image.BOX)).reshape(-1)[:3])
        img = warp_image(img, warp, fill)
        lines = [replace(ln, quad=_clip_quad(warp_quad(ln.quad, warp), w, h)) for ln in lines]
    img, effects = _photometric(rng, img.convert("RGB"), cfg, warp)
    meta = dict(render.meta)
    meta["degrade"] = effects + (["warp"] if warp is not None else [])
    return replace(render, image=img, lines=lines, meta=meta)


def _clip_quad(quad, w: int, h: int) -> tuple[float, ...]:
    # sub-pixel overshoot from the mesh approximation only; real overflow is prevented by padding
    return tuple(float(min(max(v, 0.0), (w if i % 2 == 0 else h))) for i, v in enumerate(quad))


# ----------------------------------------------------------------------------- train-time


def scan_line(img: Image.Image, rng) -> Image.Image:
    """One more scan of a line crop at train time, its size kept (the reader's token count is
    planned from the size): one or two of a coarse resolution (down by 0.5-0.85, never under 14 px
    tall, and back up), a bilevel scan (a threshold, or Floyd-Steinberg dither of a lightened crop,
    at 1-2.5x), JPEG at quality 25-70, a slight blur, faded contrast. Each is kept mild enough that
    the line stays legible: an illegible sample would teach the reader to invent text. Shards hold
    each line drawn once; a line seen again in a later leg is then seen through another scanner.

    Example:
        >>> import random
        >>> im = Image.new("RGB", (120, 30), "white")
        >>> scan_line(im, random.Random(0)).size
        (120, 30)
    """
    w, h = img.size
    out = img.convert("RGB")
    kinds = ["coarse", "bilevel", "jpeg", "blur", "fade"]
    for kind in rng.sample(kinds, rng.choice([1, 1, 2])):
        if kind == "coarse":
            f = max(rng.uniform(0.5, 0.85), min(1.0, 14 / h))
            small = out.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BILINEAR)
            out = small.resize((w, h), rng.choice([Image.BILINEAR, Image.BICUBIC, Image.NEAREST]))
        elif kind == "bilevel":
            f = rng.uniform(1.0, 2.5)
            big = out.convert("L").resize((max(1, round(w * f)), max(1, round(h * f))), Image.BILINEAR)
            if rng.random() < 0.5:
                level = rng.uniform(0.35, 0.65) * 255
                big = big.point(lambda v, t=level: 255 if v > t else 0)
            else:
                lift = rng.uniform(0.0, 0.35) * 255
                big = big.point(lambda v, a=lift: round(a + v * (255 - a) / 255)).convert("1").convert("L")
            out = big.resize((w, h), Image.BILINEAR).convert("RGB")
        elif kind == "jpeg":
            buf = io.BytesIO()
            out.save(buf, format="JPEG", quality=rng.randint(25, 70))
            out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        elif kind == "blur":
            out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7) * max(1.0, h / 32)))
        else:
            keep = rng.uniform(0.45, 0.8)
            arr = np.asarray(out, np.float32)
            out = Image.fromarray(np.clip(255 - (255 - arr) * keep, 0, 255).astype(np.uint8))
    return out
