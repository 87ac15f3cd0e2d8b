"""The one exception hierarchy: every deliberate error is a CompensaError, and nothing else."""

from __future__ import annotations

import pytest

from compensa.errors import CaseError, CompensaError, KBError, OutputError, Problem, UsageError


@pytest.mark.parametrize("cls", [CaseError, KBError, UsageError, OutputError])
def test_errors_are_compensa_errors_only(cls):
    assert issubclass(cls, CompensaError)
    # a broad `except ValueError` elsewhere (pydantic, yaml, int()) must never swallow one of ours
    assert not issubclass(cls, (ValueError, TypeError, LookupError, OSError))


def test_exit_codes_and_problem_text():
    error = CaseError(Problem("unknown target 'glutes'", "target", "glutes", ("glute_med",)))
    assert error.exit_code == 2 and OutputError("disk full").exit_code == 1
    assert str(error) == "target: unknown target 'glutes' (did you mean 'glute_med'?)"
    assert error.problems[0].to_dict() == {"loc": "target", "msg": "unknown target 'glutes'", "input": "glutes",
                                           "suggestions": ["glute_med"]}
