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


def test_phrase_variants_resolve_within_their_kind_only():
    from compensa.kb import load_kb
    from compensa.kb.vocabulary import Vocabulary

    vocab = Vocabulary(load_kb())
    assert vocab.resolve("history", "crosses legs when sitting") == "habitual_leg_crossing"
    assert vocab.resolve("pain", "outside of the right knee") == "lateral_knee"
    assert vocab.resolve("pain", "pain in my lower back") == "lower_back"
    assert vocab.resolve("muscle", "glute med") == "gluteus_medius"
    assert vocab.resolve("root", "lower crossed") == "lower_crossed_syndrome"
    assert vocab.resolve("history", "lots of sit-ups") is None  # sit-ups are not sitting: no guess
    assert vocab.resolve("test", "crosses legs when sitting") is None  # never another kind
    assert vocab.suggest("pain", "elbow") == ("lateral_elbow", "medial_elbow")
    assert vocab.suggest("test", "trendelenberg")[0] == "trendelenburg"


def test_kb_show_takes_readable_names():
    from compensa.kb import load_kb
    from compensa.kb.show import show

    kb = load_kb()
    assert show(kb, "Thomas test")["id"] == "thomas_test"
    assert show(kb, "glute med")["id"] == "gluteus_medius"
