"""The runnable examples in the docstrings of the eval modules and the parsers stay true."""

import doctest

import pytest

from hyocr.eval import metrics, tesseract
from hyocr.tasks import parsers


@pytest.mark.parametrize("module", [metrics, parsers, tesseract], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
