"""EMYCIN certainty-factor combination: one function, order-free, monotone, with its arithmetic kept."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compensa.engine.certainty import combination, combine

CONTRIBUTIONS = st.lists(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), max_size=8)


def test_worked_example():
    c = combination([0.5, 0.5, -0.4])
    assert c.positive == (0.5, 0.5) and c.negative == (0.4,)
    assert c.mb == pytest.approx(0.75) and c.md == pytest.approx(0.4)
    assert c.cf == pytest.approx((0.75 - 0.4) / (1 - 0.4)) == combine([0.5, 0.5, -0.4])


def test_edges():
    assert combination([]).cf == 0.0 and combination([0.0]).positive == ()
    assert combination([1.0, -1.0]).cf == 0.0  # total belief against total disbelief
    assert combination([1.0]).cf == 1.0 and combination([-1.0]).cf == -1.0
    over = combination([1.5, -2.0])  # out-of-range inputs are capped, not extrapolated
    assert over.positive == (1.0,) and over.negative == (1.0,) and over.cf == 0.0


@given(CONTRIBUTIONS)
def test_order_free_bounded_and_consistent(values):
    c = combination(values)
    assert -1.0 <= c.cf <= 1.0 and 0.0 <= c.mb <= 1.0 and 0.0 <= c.md <= 1.0
    assert math.isclose(combination(reversed(values)).cf, c.cf, abs_tol=1e-9)
    assert c.cf == combine(values)
    assert len(c.positive) + len(c.negative) == sum(1 for v in values if v)


@given(CONTRIBUTIONS, st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_monotone(values, extra):
    assert combine([*values, extra]) >= combine(values) - 1e-12
    assert combine([*values, -extra]) <= combine(values) + 1e-12
