"""Errors that reach users as one line (the CLI prints `str(exc)`, the server a 4xx reason)."""

__all__ = ["HyocrError", "InputError", "ModelLoadError", "PixelBudgetError"]


class HyocrError(Exception):
    """Base class of every expected failure: bad input, bad model directory, bad option."""


class InputError(HyocrError, ValueError):
    """An input (image, PDF, video, text) that cannot be read or is not acceptable."""


class PixelBudgetError(InputError):
    """An image whose vision tokens would exceed the caller's budget (or a decompression bomb)."""


class ModelLoadError(HyocrError):
    """A model directory that is missing, incomplete or inconsistent with its config."""
