"""Certainty factors: MYCIN/EMYCIN combination, applied after the rules have run.

Each support of a belief contributes ``cf(premise) × strength`` (strength in [-1, 1]), where

* evidence given in the case has cf 1;
* a derived premise contributes only when it is believed (cf >= 0.2, EMYCIN's threshold), or, for
  the observable signs of a root (dysfunctions and muscle states), when it is disbelieved
  (cf <= -0.2): a posture that is *not* there counts against the patterns that would produce it.

Contributions to one belief combine as in EMYCIN: positives into a measure of belief
``MB = 1 - Π(1 - c)``, negatives into a measure of disbelief ``MD = 1 - Π(1 - |c|)``, then
``cf = (MB - MD) / (1 - min(MB, MD))``. Because MB and MD are order-free products, the result never
depends on the order rules fired or evidence was given, and it is monotone: a supporting
contribution never lowers a belief, a refuting one never raises it. Certainty factors are a
heuristic measure of confirmation, not probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["THRESHOLD", "Combination", "combine", "combination", "contribution", "propagates"]

#: A derived premise must be believed at least this much (or disbelieved this much) to propagate.
THRESHOLD = 0.2

#: Node kinds whose disbelief propagates to the roots they are signs of.
SIGN_KINDS = frozenset({"dysfunction", "muscle_state"})


@dataclass(frozen=True, slots=True)
class Combination:
    """One EMYCIN combination, every intermediate kept so an explanation can show the arithmetic.

    ``positive`` and ``negative`` are the contributions that went into MB and MD (magnitudes, each
    capped at 1, in the order given); ``cf`` is the combined certainty factor.
    """

    positive: tuple[float, ...]
    negative: tuple[float, ...]
    mb: float
    md: float
    cf: float


def combination(contributions: Iterable[float]) -> Combination:
    """Combine contributions in [-1, 1]: MB, MD and the certainty factor (order-free).

    ``MB = 1 - Π(1 - c)`` over positive contributions, ``MD = 1 - Π(1 - |c|)`` over negative
    ones (each magnitude capped at 1), ``cf = (MB - MD) / (1 - min(MB, MD))`` clamped to [-1, 1];
    total belief against total disbelief (MB = MD = 1) is 0.
    """
    values = tuple(contributions)
    positive = tuple(min(c, 1.0) for c in values if c > 0)
    negative = tuple(min(-c, 1.0) for c in values if c < 0)
    mb = 1.0 - math.prod(1.0 - c for c in positive)
    md = 1.0 - math.prod(1.0 - c for c in negative)
    if mb >= 1.0 and md >= 1.0:
        cf = 0.0
    else:
        cf = max(-1.0, min(1.0, (mb - md) / (1.0 - min(mb, md))))
    return Combination(positive, negative, mb, md, cf)


def combine(contributions: Iterable[float]) -> float:
    """Combine contributions in [-1, 1] into one certainty factor in [-1, 1] (order-free).

    The same arithmetic as :func:`combination` (the same products taken in the same order, so the
    same float), without keeping the intermediates: this runs for every belief of every consultation.
    """
    disbelief_left = belief_left = 1.0
    for c in contributions:
        if c > 0:
            belief_left *= 1.0 - (c if c < 1.0 else 1.0)
        elif c < 0:
            disbelief_left *= 1.0 - (-c if c > -1.0 else 1.0)
    mb = 1.0 - belief_left
    md = 1.0 - disbelief_left
    if mb >= 1.0 and md >= 1.0:
        return 0.0
    return max(-1.0, min(1.0, (mb - md) / (1.0 - min(mb, md))))


def propagates(premise_cf: float, premise_kind: str | None) -> bool:
    """Whether a derived premise with this certainty passes its support on."""
    if premise_cf >= THRESHOLD:
        return True
    return premise_cf <= -THRESHOLD and premise_kind in SIGN_KINDS


def contribution(premise_cf: float, strength: float, premise_kind: str | None, is_evidence: bool) -> float:
    """What one support adds to its conclusion (0.0 when the premise does not propagate)."""
    if not is_evidence and not propagates(premise_cf, premise_kind):
        return 0.0
    value = premise_cf * strength
    return 0.0 if -1e-12 <= value <= 1e-12 else value  # math.isclose(value, 0.0, abs_tol=1e-12)
