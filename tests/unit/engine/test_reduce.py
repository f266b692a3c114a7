"""The reductions both checkers share (permsvc.engine.reduce): error precedence and accumulation."""

from __future__ import annotations

import pytest

from permsvc.engine.errors import (
    ConditionMissingParametersError,
    DispatchLimitExceededError,
)
from permsvc.engine.reduce import difference_end, intersection_end, keep_error, union_end
from permsvc.engine.request import CYCLE, FALSE, TRUE


def _branch_error(name: str = "c") -> ConditionMissingParametersError:
    return ConditionMissingParametersError(name, "document:1#viewer@user:anne", ("x",))


def test_the_first_branch_error_is_kept() -> None:
    first, second = _branch_error("first"), _branch_error("second")
    assert keep_error(first, None) is first
    assert keep_error(second, first) is first


def test_a_budget_error_ends_the_request_at_once() -> None:
    budget = DispatchLimitExceededError(10)
    with pytest.raises(DispatchLimitExceededError):
        keep_error(budget, _branch_error())


@pytest.mark.parametrize("out", [FALSE, CYCLE])
def test_a_union_without_true_raises_its_branch_error_before_a_cycle(out: int) -> None:
    error = _branch_error()
    with pytest.raises(ConditionMissingParametersError):
        union_end(out, error)
    assert union_end(out, None) == out


def test_an_intersection_of_true_branches_and_an_error_raises_it() -> None:
    with pytest.raises(ConditionMissingParametersError):
        intersection_end(_branch_error())
    assert intersection_end(None) == TRUE


@pytest.mark.parametrize(("subtracted", "expected"), [(TRUE, FALSE), (CYCLE, CYCLE), (FALSE, TRUE)])
def test_an_exclusion_is_decided_by_the_subtracted_branch(subtracted: int, expected: int) -> None:
    assert difference_end(subtracted, None) == expected


def test_an_exclusion_whose_base_failed_raises_unless_the_subtraction_decides() -> None:
    error = _branch_error()
    assert difference_end(TRUE, error) == FALSE
    assert difference_end(CYCLE, error) == CYCLE
    with pytest.raises(ConditionMissingParametersError):
        difference_end(FALSE, error)
