"""Clinical notes to cases: spaCy's rule-based matching with negspacy (NegEx), no model download.

``parse_note(text, vocab)`` returns ``{case, spans, unrecognised}``:

* every KB name (id, label, alias of pain sites, findings, tests, history, red flags, yellow flags,
  diagnoses) and its clinical shorthand ("hip abd", "Wt", "stress #") is matched with a
  :class:`spacy.matcher.PhraseMatcher` on lower-cased tokens of a blank English pipeline;
  overlapping matches keep the longest, then the kind that matters most (red flags first);
* some names count only with a cue in their clause: a bone or tendon with a palpation word is a
  palpation test ("5th MT base non-tender"), a muscle or movement with a grade or "weak" is a
  strength test ("Quads 4/5 R"), a diagnosis only when the note says it is established ("known",
  "Dx'd"), and a body part is a pain site only in a clause that speaks of pain ("knees cave in" is
  a finding, "patella not tender" a palpation);
* negation comes from negspacy's clinical termset ("no numbness or tingling", "denies bladder or
  bowel change", "nil saddle anaesthesia"), ended by "but", "worse", "reports" and clause changes.
  A red flag is ``present: false`` only when denied; a doubt ("not sure", "?", "rule out") makes
  it ``unsure`` even after a negation, and an assertion anywhere wins over a denial elsewhere;
* a test's result and sides are read by :mod:`compensa.engine.notes_results` (marks, words,
  measurements against the KB's cut-offs, a fault seen during it); a test with no result is listed
  as not understood rather than guessed;
* age, sex, duration, onset and things said in other words come from
  :mod:`compensa.engine.notes_phrases`; every clause in which nothing was recognised is listed in
  ``unrecognised`` with its characters, so nothing is dropped silently.

spaCy is imported on first use (it takes a few seconds), so consultations without a note never pay.
"""

from __future__ import annotations

from typing import Any

import re
import threading
from dataclasses import dataclass

from compensa.engine import notes_results as results
from compensa.engine.notes_phrases import RELIEF, context, phrased_flags, phrased_history
from compensa.engine.notes_words import (AFTER_DENIAL, DENIALS, DIAGNOSED, DOUBT_PHRASES, EXCLUDERS, HISTORY_DENIALS,
                                         KIND_PRIORITY, LIST_GLUE, MEASURED_NAMES, PAIN_WORDS, POWER_WORDS, REGIONAL,
                                         SECTION, SELF_POSITIVE, SHORTHAND, SIDES, SUSPICION_SUFFIXES, TENDER_NEGATIVE,
                                         TENDER_WORDS, TRANSIENT_FLAGS, TRANSIENT_WORDS, UNSURE, EASED_FLAGS)
from compensa.errors import CaseError, Problem
from compensa.kb.vocabulary import Vocabulary

__all__ = ["MAX_NOTE_TEXT", "NoteParser", "merge_note", "parse_note"]

#: The longest note accepted, in characters.
MAX_NOTE_TEXT = 20_000

_CLAUSE = re.compile(r"[^.;,\n]+")
_GRADE = re.compile(r"[0-5][+-]?/5")
#: Items the engine reads from the case's ``onset`` field, never from history.
_ONSET_ITEMS = {"gradual_onset", "sudden_onset"}
#: Extra NegEx words: what ends a negation's reach, and negations that are no negation of a red flag.
_TERMINATIONS = ("reports", "reported", "reporting", "complains", "c/o", "worse", "better", "eases", "eased",
                 "relieved", "since", "has", "had", "feels", "now", "reproduces", "and now")
_NOT_NEGATIONS = {"cannot", "can't", "cant", "couldn't", "couldnt", "versus", "doubt", "evaluate for", "rule out",
                  "rules out", "r/o", "ro", "symptoms atypical"}
#: Words a side may follow a pain site past ("shin pain in both legs"), and words a side before one may not
#: cross ("neck pain both sides plus a new headache").
_PAIN_TAIL = {"sided", "side", "sides", "b", "/", "-", "in", "on", "the", "legs", "arms", "mostly", "more", "worse"}
_NEW_ITEM = {"plus", "with", "into", "to", "from", "radiating", "spreading", "down", "then", "towards", "toward"}
#: Kinds whose names are also matched with a side or possessive inside them.
_GAPPED_KINDS = ("pain", "history", "red_flag")
_GAP_WORDS = {"my", "her", "his", "their", "the", "r", "l", "rt", "lt", "right", "left", "both"}
_STRIP_TENDER = {"tenderness", "tender", "palpation", "bone", "bony", "sore"}
_STRIP_POWER = {"strength", "str", "power", "test", "weakness"}


def _variants(name: str) -> set[str]:
    """A KB name and its shorthand forms: each word with a shorthand replaced, one at a time and all at once.

    The name keeps its case ("T2DM" is one token, "t2dm" two): the matcher compares lower-cased tokens."""
    words = name.split()
    out = {" ".join(words)}
    if len(words) < 2:
        return out
    for i, word in enumerate(words):
        for short in SHORTHAND.get(word.lower(), ()):
            out.add(" ".join(w for w in words[:i] + [short] + words[i + 1:] if w))
    every = [(SHORTHAND.get(w.lower()) or (w,))[0] for w in words]
    out.add(" ".join(w for w in every if w))
    return {v for v in out if len(v) >= 3}


def _stripped(names: set[str], drop: set[str]) -> set[str]:
    """Names without their palpation or strength words ("fifth metatarsal tenderness" -> "fifth metatarsal")."""
    out = set()
    for name in names:
        words = name.split()
        kept = [w for w in words if w.lower() not in drop]
        if kept and len(kept) < len(words) and len(" ".join(kept)) >= 3:
            out.add(" ".join(kept))
    return out


@dataclass
class _Hit:
    start: int  # token indices
    end: int
    kind: str
    id: str
    negated: bool = False
    cue: str = ""  # "tender" | "power" | "measure" | "denial" | "" : how the name was matched


class NoteParser:
    """A spaCy pipeline built once from a KB vocabulary (thread-safe to call)."""

    def __init__(self, vocab: Vocabulary):
        import spacy
        from negspacy.negation import Negex  # noqa: F401 - registers the "negex" factory
        from negspacy.termsets import termset
        from spacy.matcher import PhraseMatcher
        from spacy.pipeline import Sentencizer

        self.vocab = vocab
        self.nlp = spacy.blank("en")
        # a full stop after a capital or a digit ends the word too: "4/5 R.", "T2DM.", "P&N." (spaCy keeps "R.")
        suffixes = [*(self.nlp.Defaults.suffixes or ()), r"(?<=[A-Z0-9&])\.$"]
        tokenizer: Any = self.nlp.tokenizer
        tokenizer.suffix_search = spacy.util.compile_suffix_regex(suffixes).search
        # a semicolon ends a negation's reach too: "denies trauma; reports numbness" (numbness is present)
        self.nlp.add_pipe("sentencizer", config={"punct_chars": [*Sentencizer.default_punct_chars, ";"]})
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.keys: dict[int, tuple[str, str, str]] = {}
        self._register_names(vocab)
        patterns = termset("en_clinical").get_patterns()
        patterns["preceding_negations"] = [*(p for p in patterns["preceding_negations"] if p not in _NOT_NEGATIONS),
                                           "nil", "denies", "no h/o", "nad", "non"]
        patterns["pseudo_negations"] = [p for p in patterns["pseudo_negations"] if p != "no change"]
        patterns["termination"] = [*patterns["termination"], *_TERMINATIONS]
        self.negex = self.nlp.add_pipe("negex", config={"neg_termset": patterns, "chunk_prefix": []})
        self._lock = threading.Lock()

    # -- the names to match ----------------------------------------------------------------------
    def _add(self, key: str, meaning: tuple[str, str, str], phrases: set[str]) -> None:
        if phrases:
            self.keys[self.nlp.vocab.strings.add(key)] = meaning
            self.matcher.add(key, [self.nlp.make_doc(v) for v in sorted(phrases)])

    def _register_names(self, vocab: Vocabulary) -> None:
        for kind in KIND_PRIORITY:
            for name, id_ in vocab.names(kind):  # every id, label and alias as written
                variants = _variants(name)
                self._add(f"{kind}|{id_}", (kind, id_, ""), variants)
                if kind in _GAPPED_KINDS:  # for the note read without its gap words (see _gapped)
                    self._add(f"gap|{kind}|{id_}", (kind, id_, ""), _stripped(variants, set(_GAP_WORDS)))
                words = set(name.lower().split())
                if kind in ("test", "red_flag") and words & (TENDER_WORDS | {"bone"}):
                    self._add(f"tender|{kind}|{id_}", (kind, id_, "tender"), _stripped(variants, _STRIP_TENDER))
                if kind == "test" and set(vocab.kb.assessments[id_].label.lower().split()) & {"strength", "power"}:
                    self._add(f"power|{id_}", (kind, id_, "power"), _stripped(variants, _STRIP_POWER))
        flags, history = vocab.kb.red_flags, vocab.kb.history
        for phrase, flag in DENIALS.items():
            if flag in flags:
                self._add(f"denial|{phrase}", ("red_flag", flag, "denial"), {phrase})
        for phrase, item in HISTORY_DENIALS.items():
            if item in history:
                self._add(f"denial|{phrase}", ("history", item, "denial"), {phrase})
        for phrase, (kind, id_) in MEASURED_NAMES.items():
            self._add(f"measure|{phrase}", (kind, id_, "measure"), {phrase})
        for phrase in REGIONAL:
            self._add(f"regional|{phrase}", ("test", phrase, "regional"), {phrase})

    # -- matching --------------------------------------------------------------------------------
    def _gapped(self, doc) -> list[tuple[int, int, int]]:
        """Names with a side or a possessive inside them ("twisted R knee", "inside of my right knee",
        "grinds her teeth"): matched on the note without those words, mapped back to its tokens."""
        from spacy.tokens import Doc

        keep = [i for i, t in enumerate(doc) if t.lower_ not in _GAP_WORDS]
        if len(keep) == len(doc) or not keep:
            return []
        reduced = Doc(self.nlp.vocab, words=[doc[i].text for i in keep])
        out = []
        for match_id, start, end in self.matcher(reduced):
            first, last = keep[start], keep[end - 1] + 1
            if self.keys[match_id][0] in _GAPPED_KINDS and last - first > end - start:
                out.append((match_id, first, last))
        return out

    def _regions(self, doc, matches) -> set[str]:
        """Body regions the note is about: its pain sites' regions, else region words ("ankle", "neck")."""
        kb = self.vocab.kb
        found = {kb.pain_sites[id_].region for m, _s, _e in matches
                 for kind, id_, _cue in [self.keys[m]] if kind == "pain" and id_ in kb.pain_sites}
        return found or {t.lower_.rstrip("s") for t in doc} & set(kb.regions)

    def _valid(self, doc, kind: str, id_: str, cue: str, start: int, end: int) -> bool:
        """Whether a matched name counts here (its cue is in its clause, nothing excludes it)."""
        if end < len(doc) and doc[end].lower_.startswith("n'"):
            return False  # "ca" of "can't" is not cancer
        lo, hi = self._clause(doc, start, end)
        clause = [t.lower_ for t in doc[lo:hi]]
        text = " ".join(clause)
        if any(word in text for word in EXCLUDERS.get(id_, ())):
            return False
        if kind == "diagnosis":
            words = {t.lower_ for t in doc[start:end]}
            return not words & PAIN_WORDS and bool({t.lower_ for t in doc[max(start - 3, 0):start]} & DIAGNOSED)
        if cue == "tender":
            return bool(set(clause) & TENDER_WORDS) or "non - tender" in text
        if cue == "power":
            near = [t.lower_ for t in doc[max(start - 2, lo):min(end + 4, hi)]]
            return any(_GRADE.fullmatch(w) or w in POWER_WORDS for w in near)
        if cue == "measure":
            return any(re.match(r"[~<>]?\d", t.text) for t in doc[end:min(end + 4, hi)])
        return True

    def _hits(self, doc, matches, regions: set[str]) -> list[_Hit]:
        found = []
        for match_id, start, end in matches:
            kind, id_, cue = self.keys[match_id]
            if cue == "regional":
                id_ = next((REGIONAL[id_][r] for r in sorted(regions) if r in REGIONAL[id_]), "")
            if id_ and self._valid(doc, kind, id_, cue, start, end):
                found.append((kind, id_, start, end, cue))
        rank = {"regional": 0, "measure": 1, "tender": 2, "power": 3, "": 4, "denial": 5}
        found.sort(key=lambda h: (-(h[3] - h[2]), KIND_PRIORITY.index(h[0]), rank[h[4]], h[2]))
        taken: set[int] = set()
        hits = []
        for kind, id_, start, end, cue in found:
            if taken & set(range(start, end)):
                continue
            taken |= set(range(start, end))
            hits.append(_Hit(start, end, kind, id_, cue=cue))
        self._inner = [(id_, start, end) for kind, id_, start, end, _cue in found if kind == "pain"]
        return sorted(hits, key=lambda h: h.start)

    def _inner_pain(self, hits: list[_Hit]) -> list[_Hit]:
        """Pain sites inside a red flag's or a history item's name ("temporal headache", "chronic LBP"): it also
        says where it hurts. They share its negation."""
        out: list[_Hit] = []
        for flag in (h for h in hits if h.kind in ("red_flag", "history") and h.cue != "denial"):
            inside = sorted((e - s, s, e, id_) for id_, s, e in self._inner if flag.start <= s and e <= flag.end)
            for _n, start, end, id_ in reversed(inside):
                if not any(o.start < end and start < o.end for o in out):
                    out.append(_Hit(start, end, "pain", id_, negated=flag.negated, cue="inner"))
        return out

    def _negate(self, doc, hits: list[_Hit]) -> None:
        from spacy.tokens import Span

        doc.ents = [Span(doc, h.start, h.end, label=h.kind) for h in hits]
        doc = self.negex(doc)
        by_start = {e.start: e for e in doc.ents}
        for h in hits:
            ent = by_start.get(h.start)
            h.negated = bool(ent is not None and ent._.negex)

    # -- reading what surrounds a hit ------------------------------------------------------------
    @staticmethod
    def _boundary(token) -> bool:
        return token.text in (",", ";", ".") or token.is_sent_end or (len(token) > 1 and token.text.endswith("."))

    def _marks(self, doc) -> tuple[list[bool], list[bool], list[bool]]:
        """Per token, once per note: a clause boundary, a colon, a comma/semicolon/full stop (kept in the doc)."""
        if "clause_marks" not in doc.user_data:
            tokens = list(doc)
            doc.user_data["clause_marks"] = ([self._boundary(t) for t in tokens], [t.text == ":" for t in tokens],
                                             [t.text in (",", ";", ".") for t in tokens])
        return doc.user_data["clause_marks"]

    def _clause(self, doc, start: int, end: int) -> tuple[int, int]:
        """Token bounds of the clause around ``start:end`` (commas, semicolons, full stops; a colon opens one)."""
        boundary, colon, stop = self._marks(doc)
        while start > 0 and not colon[start - 1] and not boundary[start - 1]:
            start -= 1
        while end < len(doc) and not stop[end] and not boundary[end - 1]:
            end += 1
        return start, end

    def _stop(self, doc, hit: _Hit, hits: list[_Hit]) -> int:
        """Where a test's words end: the next test, finding or red flag, or the sentence's end (14 tokens at most)."""
        limit = min(len(doc), hit.end + 14)
        nxt = [h.start for h in hits if h.start >= hit.end and h.kind in ("test", "finding", "red_flag")]
        end = min([limit, *nxt])
        for i in range(hit.end, end):
            if doc[i].text in (".", ";") or (i > hit.end and doc[i - 1].is_sent_end):
                return i
        return end

    @staticmethod
    def _words(doc, start: int, end: int) -> list[str]:
        return [t.lower_ for t in doc[max(start, 0):max(end, 0)]]

    def _side(self, doc, hit: _Hit, hits: list[_Hit]) -> str | None:
        """The nearest side word in the clause, not past another recognised item (for pain: inside the name,
        then before it - across a list of sites, "L buttock/SIJ ache" - then after it past pain words only)."""
        lo, hi = self._clause(doc, hit.start, hit.end)
        pain = hit.kind == "pain"
        blocked = {i for o in hits if o is not hit and not (pain and o.kind == "pain")
                   and not (o.start <= hit.start and hit.end <= o.end) for i in range(o.start, o.end)}
        after = range(hit.end, min(hi, hit.end + 5))
        before = range(hit.start - 1, max(lo, hit.start - 6) - 1, -1)
        inside = range(hit.start + 1, hit.end - 1)
        for order in (inside, before, after) if pain else (after, before):
            for i in order:
                if i in blocked or (pain and order is after and not self._pain_tail(doc[i])):
                    break
                if pain and order is before and doc[i].lower_ in _NEW_ITEM:
                    break
                side = self._side_at(doc, i)
                if side:
                    return side
        return None

    @staticmethod
    def _pain_tail(token) -> bool:
        word = token.lower_.strip(".,;:")
        return word in PAIN_WORDS or word in SIDES or word in _PAIN_TAIL

    @staticmethod
    def _side_at(doc, i: int) -> str | None:
        return results.side_at(doc, i)

    def _result_before(self, doc, hit: _Hit, hits: list[_Hit]) -> str | None:
        """A descriptive word before the test in its clause ("tight hamstrings on 90/90", "poor control on SLS")."""
        lo, _hi = self._clause(doc, hit.start, hit.end)
        others = {i for o in hits if o is not hit and o.kind in ("test", "red_flag") for i in range(o.start, o.end)}
        for i in range(hit.start - 1, lo - 1, -1):
            if i in others:
                break
            value, _mark = results._word_value(doc, i)
            if value:
                return value
        return None

    # -- items -----------------------------------------------------------------------------------
    def _test(self, doc, hit: _Hit, hits: list[_Hit]) -> list[dict]:
        lo, hi = self._clause(doc, hit.start, hit.end)
        stop = self._stop(doc, hit, hits)
        if results.no_result(doc, hit.end, min(len(doc), hit.end + 6)):
            return []
        found = self._test_results(doc, hit, hits, (lo, hi), stop)
        side = self._side(doc, hit, hits)
        out = results.merge_sides([(value, s or side) for value, s in found])
        return [{"id": hit.id, "result": value, **({"side": s} if s else {})} for value, s in out]

    def _test_results(self, doc, hit: _Hit, hits: list[_Hit], clause: tuple[int, int], stop: int) -> list:
        lo, hi = clause
        if hit.cue == "tender":
            text = " ".join(self._words(doc, lo, hi))
            negative = any(p in text for p in TENDER_NEGATIVE) or results.phrase_value(text)
            return [("negative" if negative else "positive", None)]
        if hit.negated and any(t.lower_ in ("not", "no") for t in doc[max(lo, hit.start - 2):hit.start]):
            return [("negative", None)]  # "not tender", "no pain on FADIR"
        found = results.word_results(doc, hit.end, stop, min(hi, stop) if hi > hit.end else stop)
        if not found:
            before = self._result_before(doc, hit, hits)
            found = [(before, None)] if before else results.measured(hit.id, doc, hit.end, stop)
        if not found and any(h.kind == "finding" and lo <= h.start < hi for h in hits):
            found = [("positive", None)]  # a fault seen during the test: "knee valgus on single-leg squat"
        name = doc[hit.start:hit.end].text.lower()
        if not found and any(word in name for word in SELF_POSITIVE):
            found = [("positive", None)]  # the name states the finding: "reduced neck rotation"
        return found

    def _pain(self, doc, hit: _Hit, hits: list[_Hit]) -> tuple[dict | None, str]:
        if hit.negated:
            return None, "negated"
        lo, hi = self._clause(doc, hit.start, hit.end)
        words = {w.strip(".,;:") for w in self._words(doc, lo, hi)}
        if not words & PAIN_WORDS:
            return None, "not a complaint"  # "knees cave in", "glute max fires late"
        side = self._side(doc, hit, hits)
        return {"site": hit.id, **({"side": side} if side else {})}, "present"

    def _flag(self, doc, hit: _Hit, hits: list[_Hit]) -> object:
        """A red flag's answer: True, "unsure" or False (denied only when nothing doubts it), or None when
        the words do not answer it ("intermittent P&N" is not persistent numbness)."""
        lo, hi = self._clause(doc, hit.start, hit.end)
        if hit.cue in ("tender", "measure"):
            return self._cued_flag(doc, hit, lo, hi)
        before = doc[lo:hit.start].text.lower()
        if any(p in before for p in DOUBT_PHRASES) or set(self._words(doc, lo, hit.start)) & UNSURE:
            return "unsure"  # a doubt wins over any denial: safety first
        if self._answered_no(doc, hit, hits, hi):
            return False
        context_answer = self._flag_context(doc, hit, doc[lo:hi].text.lower())
        if context_answer != "":
            return context_answer
        if re.search(r"(\?|\b(rule out|r/o|exclude|excluding|query|suspected)\b)", before):
            return True if hit.id.endswith(SUSPICION_SUFFIXES) else "unsure"
        non = hit.start >= 2 and doc[hit.start - 2].lower_ == "non" and doc[hit.start - 1].text == "-"
        return not (hit.negated or hit.cue == "denial" or non)

    def _cued_flag(self, doc, hit: _Hit, lo: int, hi: int) -> object:
        """A flag read from palpation ("patella not tender") or a measurement ("knee flexion 110 deg")."""
        if hit.cue == "tender":
            text = " ".join(self._words(doc, lo, hi))
            return not any(p in text for p in TENDER_NEGATIVE)
        found = results.measured(hit.id, doc, hit.end, hi)
        return found[0][0] == "positive" if found else None

    @staticmethod
    def _flag_context(doc, hit: _Hit, clause: str) -> object:
        """None for a passing symptom, False for night pain a change of position eases, "" otherwise."""
        if hit.id in TRANSIENT_FLAGS and any(w in clause for w in TRANSIENT_WORDS) and not re.search(
                r"not gone|constant|persistent|since|all the time", clause):
            return None  # a passing symptom is not this flag (and not its denial)
        sentence = doc[hit.start].sent
        if hit.id in EASED_FLAGS and not hit.negated and RELIEF.search(doc[hit.end:sentence.end].text.lower()):
            return False
        return ""

    def _answered_no(self, doc, hit: _Hit, hits: list[_Hit], hi: int) -> bool:
        """An answer after the flag, across a list of flags: "Bladder and bowel normal", "Foot drop? - no"."""
        inside = {i for o in hits if o.kind == "red_flag" and o is not hit for i in range(o.start, o.end)}
        for i in range(hit.end, min(len(doc), hit.end + 6)):
            word = doc[i].lower_.strip(".")
            if i in inside or word in LIST_GLUE:
                continue
            return word in AFTER_DENIAL
        return False

    def _items(self, doc, hit: _Hit, hits: list[_Hit]) -> tuple[list[dict], str]:
        if hit.kind == "test":
            items = self._test(doc, hit, hits)
            return items, ",".join(i["result"] for i in items) or "no result"
        if hit.kind == "pain":
            item, value = self._pain(doc, hit, hits)
            return ([item] if item else []), value
        if hit.kind == "red_flag":
            present = self._flag(doc, hit, hits)
            return ([{"id": hit.id, "present": present}] if present is not None else []), str(present)
        if hit.kind == "diagnosis":
            return ([] if hit.negated else [{"id": hit.id}]), "negated" if hit.negated else "diagnosed"
        present = not hit.negated and hit.cue != "denial"
        side = self._side(doc, hit, hits) if hit.kind == "finding" else None
        return [{"id": hit.id, "present": present, **({"side": side} if side else {})}], \
            "present" if present else "absent"

    # -- the note as a case --------------------------------------------------------------------
    def parse(self, text: str) -> dict:
        """``{case, spans, unrecognised}`` for one note."""
        with self._lock:
            doc = self.nlp.make_doc(text)
            for name, proc in self.nlp.pipeline:
                if name != "negex":
                    doc = proc(doc)
            matches = [*self.matcher(doc), *self._gapped(doc)]
            regions = self._regions(doc, matches)
            hits = self._hits(doc, matches, regions)
            self._negate(doc, hits)
            hits = sorted([*hits, *self._inner_pain(hits)], key=lambda h: h.start)
        spans, by_hit = [], []
        for hit in hits:
            items, value = self._items(doc, hit, hits)
            by_hit.append((hit, items))
            spans.append({"start": doc[hit.start].idx, "end": doc[hit.end - 1].idx + len(doc[hit.end - 1]),
                          "text": doc[hit.start:hit.end].text, "kind": hit.kind, "id": hit.id, "negated": hit.negated,
                          "value": value, "side": items[0].get("side") if items else None})
        self._share_sides(doc, by_hit)
        case: dict[str, list] = {}
        for hit, items in by_hit:
            case.setdefault(SECTION[hit.kind], []).extend(items)
        self._phrased(text, case, regions)
        case["history"] = [h for h in case.get("history", []) if h["id"] not in _ONSET_ITEMS]
        out: dict[str, object] = {**_deduplicate({k: v for k, v in case.items() if v}), **context(text)}
        return {"case": out, "spans": spans, "unrecognised": _leftovers(text, spans)}

    def _share_sides(self, doc, by_hit: list[tuple[_Hit, list[dict]]]) -> None:
        """A fault seen during a test and the test share a side ("SLS L: knee valgus", "R knee valgus on SLS")."""
        for finding, f_items in by_hit:
            if finding.kind != "finding" or not f_items:
                continue
            clause = self._clause(doc, finding.start, finding.end)
            for test, t_items in by_hit:
                if test.kind != "test" or len(t_items) != 1:
                    continue
                t_clause = self._clause(doc, test.start, test.end)
                if not (clause[0] <= test.start < clause[1] or t_clause[0] <= finding.start < t_clause[1]):
                    continue
                side = f_items[0].get("side") or t_items[0].get("side")
                if side:
                    f_items[0].setdefault("side", side)
                    t_items[0].setdefault("side", side)

    def _phrased(self, text: str, case: dict, regions: set[str]) -> None:
        flags = case.setdefault("red_flags", [])
        flags += phrased_flags(text, {f["id"] for f in flags}, self.vocab.kb.red_flags, regions)
        history = case.setdefault("history", [])
        history += phrased_history(text, {h["id"] for h in history}, self.vocab.kb.history)


_RANK = {True: 2, "unsure": 1, False: 0}


def _deduplicate(case: dict) -> dict:
    """One item per (section, id, side): a red flag asserted anywhere wins over a doubt, a doubt over a denial;
    an unsided item is dropped when the same item is read with a side."""
    for section, items in list(case.items()):
        kept: dict[tuple, dict] = {}
        for item in items:
            key = (item.get("id") or item.get("site"), item.get("side"))
            old = kept.get(key)
            if old is None or (section == "red_flags" and _RANK[item["present"]] > _RANK[old["present"]]):
                kept[key] = item
        sided = {(k[0], _value(v)) for k, v in kept.items() if k[1]}
        case[section] = [v for k, v in kept.items() if k[1] or (k[0], _value(v)) not in sided]
    return case


def _value(item: dict) -> object:
    return item.get("result", item.get("present", True))


def _leftovers(text: str, spans: list[dict]) -> list[dict]:
    """Clauses of the note in which nothing was recognised, with their characters."""
    covered = [(s["start"], s["end"]) for s in spans]
    out = []
    for match in _CLAUSE.finditer(text):
        start, end = match.span()
        chunk = match.group(0).strip()
        if len(re.findall(r"[A-Za-z]{3,}", chunk)) < 1:
            continue
        if any(s < end and e > start for s, e in covered) or context(chunk):
            continue
        offset = match.group(0).index(chunk) if chunk else 0
        out.append({"text": chunk, "start": start + offset, "end": start + offset + len(chunk)})
    return out


_parsers: dict[int, NoteParser] = {}
_parsers_lock = threading.Lock()


def parse_note(text: str, vocab: Vocabulary) -> dict:
    """Parse a clinical note against ``vocab``: ``{case, spans, unrecognised}`` (see the module doc)."""
    if not isinstance(text, str) or not text.strip():
        raise CaseError(Problem("the note is empty: give the clinical note as text", "text"))
    if len(text) > MAX_NOTE_TEXT:
        raise CaseError(Problem(f"the note is longer than {MAX_NOTE_TEXT} characters", "text"))
    try:
        with _parsers_lock:
            parser = _parsers.get(id(vocab))
            if parser is None or parser.vocab is not vocab:
                parser = _parsers[id(vocab)] = NoteParser(vocab)
    except ImportError as exc:  # the optional extra is missing
        raise CaseError(Problem(f"reading notes needs spaCy and negspacy: pip install 'compensa[notes]' ({exc})",
                                "text")) from exc
    return parser.parse(text)


def _key(section: str, item: object) -> tuple:
    if isinstance(item, str):  # shorthand: id[:result][:side]
        parts = [p.strip() for p in item.split(":")]
        return (parts[0], parts[-1] if len(parts) > 1 and parts[-1] in ("left", "right", "both") else None)
    if isinstance(item, dict):
        return (item.get("id") or item.get("site"), item.get("side"))
    return (repr(item), None)


def merge_note(data: dict, note_case: dict) -> dict:
    """The structured case with what the note adds: structured items win, except that a red flag the
    note answers yes or unsure always counts (a denial elsewhere never hides it)."""
    merged = {k: (list(v) if isinstance(v, list) else v) for k, v in data.items() if k != "text"}
    for section, items in note_case.items():
        if not isinstance(items, list):
            merged.setdefault(section, items)  # age, sex, duration, onset: the structured value wins
            continue
        current = merged.setdefault(section, [])
        if not isinstance(current, list):
            continue  # the validator names the malformed section
        known = {_key(section, i): n for n, i in enumerate(current)}
        for item in items:
            at = known.get(_key(section, item))
            if at is None:
                current.append(item)
            elif section == "red_flags" and item.get("present") in (True, "unsure"):
                current[at] = item  # safety first: the note's yes or unsure wins over a no
    return merged
