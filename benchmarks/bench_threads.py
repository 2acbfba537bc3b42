"""PyTorch thread settings for the shipped model, idle and with the cores shared.

Each setting reads the same image (`--task`, default spotting) in a fresh process, timed inside it
after the model is loaded (start-up is not counted), `--repeat` times (median). Run once with the
cores idle and once beside `--busy N` processes that spin a core each, as another job would.

    python benchmarks/bench_threads.py [--image examples/page.png] [--busy 1] [--repeat 2]

Settings: hyocr's default (`import hyocr` sets OMP_WAIT_POLICY=PASSIVE, sleeping while they wait,
unless the user set it or GOMP_SPINCOUNT), OMP_WAIT_POLICY=ACTIVE (spinning while they wait),
OMP_NUM_THREADS=1, and with `--spincounts N,...` libgomp's own policy
(unset: spin GOMP_SPINCOUNT iterations, then sleep) at each spin count N. Before session 19 hyocr
left the policy unset (libgomp spins, then sleeps): 3.39-3.59 s idle, 12.8 s beside one busy
process, 49.6 s beside two. Session 21: GOMP_SPINCOUNT=10000 3.54 s idle, 14.20 s beside one.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

READ = """
import sys, time
from hyocr import OCR
ocr = OCR()
getattr(ocr, sys.argv[2])(sys.argv[1])  # once to warm up
t0 = time.perf_counter()
getattr(ocr, sys.argv[2])(sys.argv[1])
print(time.perf_counter() - t0)
"""

SETTINGS = {
    "hyocr's default (2 threads, PASSIVE: sleeping)": {},
    "OMP_WAIT_POLICY=ACTIVE (spinning)": {"OMP_WAIT_POLICY": "ACTIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}
KEYS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")


def _spin() -> None:
    while True:
        pass


def seconds(image: str, task: str, extra: dict, repeat: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update({k: v for k, v in extra.items() if v})  # "" leaves the variable unset
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", READ, image, task], capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            raise SystemExit(f"error: reading {image} failed: {done.stderr.strip()[-300:]}")
        times.append(float(done.stdout.split()[-1]))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(ROOT / "examples" / "page.png"))
    ap.add_argument("--task", default="spotting")
    ap.add_argument("--busy", type=int, default=1, help="spinning processes beside the reader")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--spincounts", default="", help="GOMP_SPINCOUNT values to try (comma-separated)")
    args = ap.parse_args()
    settings = dict(SETTINGS)
    for n in filter(None, args.spincounts.split(",")):
        settings[f"GOMP_SPINCOUNT={n} (policy unset)"] = {"GOMP_SPINCOUNT": n, "OMP_WAIT_POLICY": ""}
    print(f"{args.task} of {Path(args.image).name}, seconds (median of {args.repeat}, model loaded)")
    print(f"| setting | idle | beside {args.busy} busy process(es) |\n|---|---:|---:|")
    for name, extra in settings.items():
        idle = seconds(args.image, args.task, extra, args.repeat)
        spinners = [mp.Process(target=_spin, daemon=True) for _ in range(args.busy)]
        for p in spinners:
            p.start()
        try:
            busy = seconds(args.image, args.task, extra, args.repeat)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
        print(f"| {name} | {idle:.2f} | {busy:.2f} |", flush=True)


if __name__ == "__main__":
    main()
