"""hyocr: an open, end-to-end OCR vision-language system implementing the HunyuanOCR design.

`from hyocr import OCR` gives the Python API (hyocr/api.py). The import is lazy so that
`import hyocr.data` (the data engine) never pulls in torch.
"""

__version__ = "0.1.0"
__all__ = ["OCR", "__version__"]


def __getattr__(name: str):
    if name == "OCR":
        from hyocr.api import OCR

        return OCR
    raise AttributeError(f"module 'hyocr' has no attribute {name!r}")
