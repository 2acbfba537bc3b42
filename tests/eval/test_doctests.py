"""The runnable examples in the docstrings of every module of the package stay true (session 44
found three that could not pass: nothing ran them)."""

import doctest
import importlib
import pkgutil

import pytest

import hyocr

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(hyocr.__path__, "hyocr.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, name


def test_the_modules_with_examples_are_found():
    from hyocr.eval import metrics, tesseract
    from hyocr.tasks import parsers, segment

    assert {m.__name__ for m in (metrics, parsers, tesseract, segment)} <= set(MODULES)
    assert doctest.testmod(segment).attempted > 0
