"""How long a user waits for `hyocr` on the command line, beside Tesseract on the same images.

Each command runs in a fresh process (as a user types it), `--repeat` times; the median wall time
is printed. `import torch` alone is the floor a `hyocr run` cannot go under; `hyocr --help` and
`hyocr synth --help` should not pay it at all.

    python benchmarks/bench_startup.py [--repeat 3]

Run it on an idle machine: two cores shared with another busy process slow PyTorch's threads
several-fold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def wall(cmd: list[str], repeat: int, env: dict | None = None) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"error: {' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    py, hyocr = sys.executable, [sys.executable, "-m", "hyocr.cli"]
    tesseract = shutil.which("tesseract")
    rows = [
        ("python -c 'import torch'", [py, "-c", "import torch"], None),
        ("hyocr --help", hyocr + ["--help"], None),
        ("hyocr synth --help", hyocr + ["synth", "--help"], None),
    ]
    for name in ("line_receipt.png", "receipt.png", "page.png"):
        image = str(EXAMPLES / name)
        ref = [tesseract, image, "-", "--psm", "7" if name.startswith("line") else "3"] if tesseract else None
        rows.append((f"hyocr run {name}", hyocr + ["run", image], ref))
    one_thread = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # Tesseract on one thread, as in issue 6
    print(f"median of {args.repeat} fresh processes, seconds")
    print("| command | hyocr | tesseract, one thread (same image) |\n|---|---:|---:|")
    for label, cmd, ref in rows:
        ours = wall(cmd, args.repeat)
        theirs = f"{wall(ref, args.repeat, one_thread):.2f}" if ref else ""
        print(f"| {label} | {ours:.2f} | {theirs} |", flush=True)


if __name__ == "__main__":
    main()
