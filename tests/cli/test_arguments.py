"""Numbers out of range on the command lines of `hyocr run`, `eval` and `serve`: one usage error
(exit 2) naming the option, before any model loads; numbers in range parse as given."""

from __future__ import annotations

import argparse
import math

import pytest

from hyocr.arguments import number_in, whole_at_least, widening
from hyocr.cli import build_parser

BAD = [
    ("run", ["--dpi", "0"], "--dpi: expected a number over 0, not '0'"),
    ("run", ["--dpi", "-3"], "--dpi: expected a number over 0"),
    ("run", ["--fps", "0"], "--fps: expected a number over 0"),
    ("run", ["--batch-size", "0"], "--batch-size: expected a whole number of at least 1"),
    ("run", ["--max-pixels", "5"], "--max-pixels: expected a whole number of at least 1024"),
    ("run", ["--drop-score", "3"], "--drop-score: expected a number from 0 to 1, not '3'"),
    ("run", ["--reread", "nan"], "--reread: expected a number of at least 0"),
    ("run", ["--zh-reread", "-0.1"], "--zh-reread: expected a number of at least 0"),
    ("run", ["--zh-again", "-1"], "--zh-again: expected a number of at least 0"),
    ("run", ["--zh-probe", "-1"], "--zh-probe: expected a whole number of at least 0"),
    ("run", ["--piece-aspect", "-2"], "--piece-aspect: expected a number of at least 0"),
    ("eval", ["--data", "d", "--out", "o", "--limit", "0"], "--limit: expected a whole number of at least 1"),
    (
        "eval",
        ["--data", "d", "--out", "o", "--drop-score", "1.5"],
        "--drop-score: expected a number from 0 to 1",
    ),
    ("serve", ["--timeout", "0"], "--timeout: expected a number over 0"),
    ("serve", ["--port", "70000"], "--port: expected a whole number from 0 to 65535, not '70000'"),
    ("serve", ["--max-images", "0"], "--max-images: expected a whole number of at least 1"),
    ("serve", ["--max-image-mb", "-1"], "--max-image-mb: expected a number over 0"),
    ("serve", ["--batch-window-ms", "-5"], "--batch-window-ms: expected a number of at least 0"),
    ("serve", ["--threads", "0"], "--threads: expected a whole number of at least 1"),
]


def _args(command, words):
    return [command, *words, *(["x.png"] if command == "run" else [])]


@pytest.mark.parametrize(("command", "words", "message"), BAD)
def test_out_of_range_is_one_usage_error(command, words, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser(command).parse_args(_args(command, words))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_in_range_parses_as_given():
    args = build_parser("run").parse_args(
        _args("run", ["--dpi", "150", "--drop-score", "0", "--zh-probe", "0", "--max-pixels", "1024"])
    )
    assert (args.dpi, args.drop_score, args.zh_probe, args.max_pixels) == (150.0, 0.0, 0, 1024)
    args = build_parser("serve").parse_args(_args("serve", ["--port", "0", "--batch-window-ms", "0"]))
    assert (args.port, args.batch_window_ms) == (0, 0.0)


def test_types_at_their_edges():
    fraction = number_in(0, 1)
    assert fraction("0") == 0.0 and fraction("1") == 1.0
    for text in ("1.0001", "-1e-9", "inf", "nan", "half"):
        with pytest.raises(argparse.ArgumentTypeError):
            fraction(text)
    over = number_in(0, low_open=True)
    assert over("1e-9") == 1e-9
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number over 0, not 'inf'"):
        over("inf")
    port = whole_at_least(0, 65535)
    assert port("65535") == 65535
    for text in ("65536", "-1", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="from 0 to 65535"):
            port(text)
    assert widening("1") == 1.0 and math.isclose(widening("1.15"), 1.15)
    with pytest.raises(argparse.ArgumentTypeError):
        widening("0.9")
