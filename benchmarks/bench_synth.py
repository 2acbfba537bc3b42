"""Images per second per worker of the data engine (one process), with and without degradation.

Anchors measured on this machine (2 cores, no GPU): SynthDoG ≈ 0.6 document images/s/worker at
720–1024 px; trdg ≈ 75 plain text lines/s/thread. Targets: documents ≥ 5× SynthDoG (3/s),
degraded lines ≥ trdg's plain lines (75/s).

    $ python benchmarks/bench_synth.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import random
import time

from hyocr.data.degrade import DegradeConfig, degrade
from hyocr.data.render.document import render_document
from hyocr.data.render.lines import render_line
from hyocr.data.render.receipt import render_receipt
from hyocr.data.samples import samples_from_render

CASES = {
    "document ~1024px": lambda rng: render_document(rng, "en", width=1024),
    "text line": lambda rng: render_line(rng, "en"),
    "receipt": lambda rng: render_receipt(rng, "en"),
}
ANCHORS = {"document ~1024px": ("SynthDoG", 0.6), "text line": ("trdg plain", 75.0), "receipt": ("-", None)}


def rate(fn, seconds: float, degraded: bool) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        rng = random.Random(n)
        r = fn(rng)
        if degraded:
            r = degrade(r, rng, DegradeConfig())
        samples_from_render(r, rng)  # samples and their consistency checks are part of the cost
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0, help="time per measurement")
    a = ap.parse_args()
    for fn in CASES.values():  # warm caches (fonts, catalogues)
        fn(random.Random(0))
    print(f"{'case':<18} {'plain /s':>9} {'degraded /s':>12}   anchor")
    for name, fn in CASES.items():
        p, d = rate(fn, a.seconds, False), rate(fn, a.seconds, True)
        ref, v = ANCHORS[name]
        anchor = f"{ref} {v}/s -> plain {p / v:.1f}x, degraded {d / v:.1f}x" if v else ""
        print(f"{name:<18} {p:9.1f} {d:12.1f}   {anchor}")


if __name__ == "__main__":
    main()
