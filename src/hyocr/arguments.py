"""Argparse types for the command lines (`hyocr run`, `eval`, `serve`): a number out of its range is
one clear usage error before anything loads, not a server that refuses every request, a PDF
library's message per file, or a silent nonsense result.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser(prog="x", exit_on_error=False)
    >>> _ = p.add_argument("--dpi", type=number_in(0, low_open=True))
    >>> p.parse_args(["--dpi", "150"]).dpi
    150.0
    >>> p.parse_args(["--dpi", "0"])
    Traceback (most recent call last):
    argparse.ArgumentError: argument --dpi: expected a number over 0, not '0'
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["number_in", "whole_at_least", "widening"]


def whole_at_least(minimum: int, most: int | None = None) -> Callable[[str], int]:
    """A whole number of at least `minimum` (and at most `most`)."""
    wanted = f"from {minimum} to {most}" if most is not None else f"of at least {minimum}"

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = minimum - 1
        if n < minimum or (most is not None and n > most):
            raise argparse.ArgumentTypeError(f"expected a whole number {wanted}, not {text!r}")
        return n

    return parse


def number_in(
    low: float, high: float = math.inf, *, low_open: bool = False, what: str = "a number"
) -> Callable[[str], float]:
    """A finite number (`what` it is, for the error) from `low` (over it, with `low_open`) up to
    `high`."""
    if high == math.inf:
        wanted = f"{what} {'over' if low_open else 'of at least'} {low:g}"
    else:
        wanted = f"{what} from {low:g}{' (not included)' if low_open else ''} to {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            raise argparse.ArgumentTypeError(f"expected {wanted}, not {text!r}")
        return value

    return parse


# a factor a crop is widened by, at least 1 (1: not widened)
widening = number_in(1, what="a factor")
