"""Standard codes: check digits, shapes and existence, and codes carried through to reports."""

from __future__ import annotations

import pytest

from compensa.engine import consult
from compensa.kb import lint_kb, load_kb
from compensa.kb.codes import code_problem, loinc_check_digit, unknown_icd_codes, verhoeff_valid
from tests.kb.minimal import write_kb


@pytest.mark.parametrize("sctid", ["22298006", "279039007", "7771000", "138875005", "423849004"])
def test_real_snomed_ids_pass(sctid):
    assert code_problem("snomed", sctid) is None


@pytest.mark.parametrize("sctid,reason", [
    ("22298007", "Verhoeff"), ("0279039007", "no leading zero"), ("12345", "6 to 18 digits"),
    ("279039017", "partition '01'"), ("27903900x", "6 to 18 digits"),
])
def test_malformed_snomed_ids_are_refused(sctid, reason):
    assert reason in (code_problem("snomed", sctid) or "")


def test_every_single_digit_slip_breaks_the_verhoeff_check():
    code = "279039007"
    for i in range(len(code)):
        for digit in "0123456789":
            if digit != code[i]:
                assert not verhoeff_valid(code[:i] + digit + code[i + 1:])


def test_loinc_check_digits():
    assert [loinc_check_digit(n) for n in ("8480", "2345", "72514")] == [6, 7, 3]
    assert code_problem("loinc", "8480-6") is None
    assert "check digit should be 6" in code_problem("loinc", "8480-5")


def test_icd_codes_are_looked_up():
    assert unknown_icd_codes([("icd10", "M76.3"), ("icd10", "M25.55"), ("icd10cm", "M76.82")]) == []
    assert unknown_icd_codes([("icd10", "Z99.99"), ("icd10", "M76.8X"), ("icd10cm", "Q99.999")]) == [
        ("icd10", "Z99.99"), ("icd10", "M76.8X"), ("icd10cm", "Q99.999")]


def test_lint_names_a_bad_code_where_it_is(tmp_path):
    folder = write_kb(tmp_path, {"conditions.yaml": ("    sided: true\n    summary: Hurts.", "    sided: true\n"
                                                     "    codes: {icd10: M76.82, snomed: \"22298007\"}\n    summary: Hurts.")})
    messages = [str(p) for p in lint_kb(folder)]
    assert any("conditions.yaml:5:" in m and "snomed code '22298007': its Verhoeff check digit is wrong" in m
               for m in messages), messages
    folder = write_kb(tmp_path / "b", {"conditions.yaml": ("    sided: true\n    summary: Hurts.", "    sided: true\n"
                                                           "    codes: {icd10: S93.401A}\n    summary: Hurts.")})
    assert any("ICD-10 (WHO) has no code" in str(p) and "S93.401A" in str(p) for p in lint_kb(folder)), lint_kb(folder)


def test_a_condition_no_imbalance_explains_may_say_so(tmp_path):
    extra = {"more.yaml": "conditions:\n  - id: gout\n    label: Gout\n    from_imbalance: false\n    medical: true\n"
                          "    summary: Crystals, not muscles.\n    source: src\n    sites:\n"
                          "      - {site: knee_site, strength: 0.2, evidence: L}\n"}
    assert lint_kb(write_kb(tmp_path, extra=extra)) == []
    broken = {"more.yaml": extra["more.yaml"].replace("    from_imbalance: false\n", "")}
    assert any("not reached from any root" in str(p) for p in lint_kb(write_kb(tmp_path / "b", extra=broken)))


def test_the_bundled_codes_reach_the_report_and_vocabulary():
    kb = load_kb()
    assert kb.conditions["it_band_syndrome"].codes == {"snomed": "423849004", "icd10": "M76.3"}
    report = consult({"pain": ["lateral_knee:right"], "tests": ["ober_test:positive:right"]}).to_dict()
    itbs = next(c for c in report["conditions"] if c["id"] == "it_band_syndrome")
    assert itbs["codes"]["icd10"] == "M76.3"
    from compensa.kb.vocabulary import Vocabulary

    vocab = Vocabulary(kb).to_dict()
    assert next(e for e in vocab["pain"] if e["id"] == "lower_back").get("codes", {}) == dict(kb.pain_sites["lower_back"].codes)
