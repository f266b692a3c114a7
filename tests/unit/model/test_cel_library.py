"""The CEL function library: one entry defines a function for the checker, the interpreter and
the cost tracker alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from permsvc.model.cel.checker import CelTypeError, check
from permsvc.model.cel.interpreter import CostLimitExceededError, plan
from permsvc.model.cel.library import LIBRARY, define
from permsvc.model.cel.parser import parse
from permsvc.model.cel.types import INT, STRING


@pytest.fixture
def triple() -> Iterator[None]:
    define("test_triple", [((INT,), INT)], member=[((STRING,), STRING)], cost=lambda args: 40)(
        lambda value: value * 3
    )
    yield
    del LIBRARY["test_triple"]


@pytest.mark.usefixtures("triple")
def test_one_entry_is_checked_evaluated_and_costed() -> None:
    tree = parse('test_triple(x) == 6 && "ab".test_triple() == "ababab"')
    assert check(tree, {"x": INT}) == ("bool",)
    assert plan(tree, frozenset({"x"})).run({"x": 2}, 100)[0] is True
    with pytest.raises(CostLimitExceededError):
        plan(parse("test_triple(test_triple(test_triple(x))) > 0"), frozenset({"x"})).run(
            {"x": 1}, 100
        )
    with pytest.raises(CelTypeError, match="found no matching overload for 'test_triple'"):
        check(parse('test_triple("a") == 1'), {})


def test_a_function_is_defined_once() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        define("size", [((STRING,), INT)])(len)


def test_every_function_but_the_lazy_operators_has_an_implementation() -> None:
    lazy = {name for name, entry in LIBRARY.items() if entry.impl is None}
    assert lazy == {"_&&_", "_||_", "_?_:_"}
    assert all(entry.overloads for entry in LIBRARY.values())
