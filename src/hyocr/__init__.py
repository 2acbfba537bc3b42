"""hyocr: an open, end-to-end OCR vision-language system implementing the HunyuanOCR design.

`from hyocr import OCR` gives the Python API (hyocr/api.py). The import is lazy so that
`import hyocr.data` (the data engine) never pulls in torch.
"""

import os

# PyTorch's OpenMP threads spin while they wait for each other. When another busy process shares
# the cores they spin through its time slices: the shipped model read examples/page.png in 3.4 s
# alone and 12.8 s beside one spinning process, 49.6 s beside two. Sleeping instead (PASSIVE) costs
# a little alone and keeps the rest (4.0 / 4.9 / 7.4 s; benchmarks/bench_threads.py, 2-core AVX2).
# Set before torch loads libgomp; a value the user set is kept (ACTIVE restores the spinning), and
# so is libgomp's own policy when the user sets GOMP_SPINCOUNT (spin that long, then sleep).
if "GOMP_SPINCOUNT" not in os.environ:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = ["OCR", "__version__"]


def __getattr__(name: str):
    if name == "OCR":
        from hyocr.api import OCR

        return OCR
    raise AttributeError(f"module 'hyocr' has no attribute {name!r}")
