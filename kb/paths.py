"""Where the bundled knowledge base and case library live (package data of compensa.kb)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_CASES", "BUNDLED_KB"]

#: The folder of the knowledge base shipped with compensa.
BUNDLED_KB = Path(__file__).resolve().parent / "data"
#: The case library shipped with compensa.
BUNDLED_CASES = BUNDLED_KB.parent / "cases"
