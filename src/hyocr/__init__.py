"""hyocr: an open, end-to-end OCR vision-language system implementing the HunyuanOCR design."""

__version__ = "0.1.0"
