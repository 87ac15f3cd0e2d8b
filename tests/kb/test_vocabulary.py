"""Readable names resolve to ids; unknown words get the closest ids."""

import pytest

from compensa.kb import load_kb
from compensa.kb.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(load_kb())


@pytest.mark.parametrize(("kind", "word", "expected"), [
    ("pain", "low back", "lower_back"), ("pain", "Lower-Back", "lower_back"), ("pain", "IT band", "lateral_thigh"),
    ("test", "Ober test", "ober_test"), ("test", "FAIR", "piriformis_test"), ("finding", "FHP", "forward_head"),
    ("diagnosis", "ITBS", "it_band_syndrome"), ("muscle", "TFL", "tensor_fasciae_latae"),
])
def test_aliases_resolve(vocab, kind, word, expected):
    assert vocab.resolve(kind, word) == expected


def test_unknown_word_suggests_closest(vocab):
    assert "ober_test" in vocab.suggest("test", "obr_test")
    assert vocab.resolve("test", "not a test") is None


def test_word_in_wrong_section_is_located(vocab):
    assert vocab.other_kinds("finding", "ober_test") == ["test"]
