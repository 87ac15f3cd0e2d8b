"""Clinical notes to cases: spaCy's rule-based matching with negspacy (NegEx), no model download.

``parse_note(text, vocab)`` returns ``{case, spans, unrecognised}``:

* every KB name (id, label, alias of pain sites, findings, tests, history, red flags, yellow flags,
  diagnoses) is matched with a :class:`spacy.matcher.PhraseMatcher` on lower-cased tokens of a blank
  English pipeline; overlapping matches keep the longest, then the kind that matters most (red flags
  first, diagnoses last);
* negation comes from negspacy's clinical termset ("no numbness or tingling", "denies bladder or
  bowel change", "nil saddle anaesthesia"): a negated red flag is ``present: false``, a negated
  finding or history item absent, a negated pain site left out;
* a test takes its result from the words next to it (``+ve``, ``pos``, ``positive``, ``weak`` ...
  or ``-ve``, ``neg``, ``negative``, ``normal`` ...); a test with no result word is listed as not
  understood rather than guessed;
* sides (``R``, ``rt``, ``right``, ``L``, ``B/L``, ``bilat``, ``both``) are read from the same clause,
  nearest first; age ("38 y/o"), sex, duration (``x6/52``, ``3 months``) and onset by small patterns;
* every clause in which nothing was recognised is listed in ``unrecognised`` with its characters, so
  nothing is dropped silently.

spaCy is imported on first use (it takes a few seconds), so consultations without a note never pay.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from compensa.errors import CaseError, Problem
from compensa.kb.vocabulary import Vocabulary

__all__ = ["MAX_NOTE_TEXT", "NoteParser", "merge_note", "parse_note"]

#: The longest note accepted, in characters.
MAX_NOTE_TEXT = 20_000

#: Case kinds a note can fill, most important first (decides overlaps of equal length).
KIND_PRIORITY = ("red_flag", "test", "finding", "pain", "history", "yellow_flag", "diagnosis")
_SECTION = {"pain": "pain", "finding": "findings", "test": "tests", "red_flag": "red_flags", "history": "history",
            "yellow_flag": "yellow_flags", "diagnosis": "diagnoses"}
_POSITIVE = {"+ve", "+", "pos", "positive", "+ive", "weak", "weakness", "reduced", "tight", "tightness", "short",
             "limited", "provocative", "reproduces", "reproduced", "painful", "present", "++", "abnormal", "poor",
             "fails", "failed", "deficit", "increased", "excessive", "delayed", "tender", "restricted", "lag", "loss",
             "reproducing", "drops", "dropped", "collapse", "collapses", "gap", "sore", "4/5", "3/5", "2/5", "4-/5",
             "4+/5", "decreased", "low", "↓"}
_NEGATIVE = {"-ve", "-", "neg", "negative", "-ive", "normal", "nad", "wnl", "full", "strong", "clear", "unremarkable",
             "pain-free", "painless", "absent", "5/5", "good", "equal", "symmetrical", "intact", "nt", "non-tender",
             "fine", "ok"}
_SIDES = {"r": "right", "rt": "right", "right": "right", "l": "left", "lt": "left", "left": "left", "bilat": "both",
          "bilateral": "both", "bilaterally": "both", "both": "both", "b/l": "both", "(r)": "right", "(l)": "left"}
_UNSURE = {"unsure", "unclear", "possible", "possibly", "?", "query", "maybe", "uncertain", "not sure"}
_DIAGNOSED = {"dx", "diagnosed", "known", "hx", "history", "previous", "confirmed", "pmh"}
_AGE = re.compile(r"\b(\d{1,3})\s*(?:-?\s*(?:y/?o|yo|yr?s?\s*old|years?\s*old|year-old|yrs?)\b|\s*(?=[MF]\b))", re.I)
_SEX = [(re.compile(r"\b\d{1,3}\s*(?:y/?o|yo)?\s*F\b|\b(?:female|woman|lady|girl|mrs|ms|she|her)\b", re.I), "female"),
        (re.compile(r"\b\d{1,3}\s*(?:y/?o|yo)?\s*M\b|\b(?:male|man|gentleman|boy|mr|he|his)\b", re.I), "male")]
_DURATION = re.compile(r"x\s*(\d+)\s*/\s*(52|12|7)\b|(\d+)\s*(day|week|wk|month|mth|year|yr)s?\b", re.I)
_SUDDEN = re.compile(r"\b(sudden(ly)?|rolled|twisted|fell|fall|tackle|crash|collision|after lifting|acute onset|"
                     r"injured|injury)\b", re.I)
_GRADUAL = re.compile(r"\b(gradual(ly)?|insidious|no (?:known )?injury|no trauma|built up|over (?:weeks|months))\b",
                      re.I)
_CLAUSE = re.compile(r"[^.;,\n]+")
#: Clinical shorthand for words of KB names ("hip abd strength" for "hip abductor strength").
_SHORTHAND = {"abductor": ("abd",), "abduction": ("abd",), "adductor": ("add",), "extension": ("ext",),
              "extensor": ("ext",), "flexion": ("flex",), "flexor": ("flex",), "external": ("ext", "e"),
              "internal": ("int", "i"), "rotation": ("rot", "r"), "strength": ("str", "strength"),
              "single-leg": ("sl", "single leg"), "single": ("sl",), "range": ("rom",), "test": ("",),
              "endurance": ("end",), "bilateral": ("bilat",), "shoulder": ("sh",), "lumbar": ("lx",),
              "cervical": ("cx",), "thoracic": ("tx",)}


#: Words that deny a red flag by themselves ("afebrile" is fever: no), matched like KB names.
_DENIALS = {"afebrile": "fever", "apyrexial": "fever", "no injury": "significant_trauma",
            "no trauma": "significant_trauma", "no fall": "significant_trauma", "weight bearing": "cannot_take_four_steps",
            "able to weight bear": "cannot_take_four_steps", "fwb": "cannot_take_four_steps",
            "walking normally": "cannot_take_four_steps", "can walk": "cannot_take_four_steps",
            "no recent injury": "recent_knee_injury", "no weight loss": "unexplained_weight_loss",
            "weight stable": "unexplained_weight_loss", "sleeps well": "night_pain", "not breathless": "chest_or_arm_pain"}
#: Red flags said in other words: (pattern over a clause, flag). Read like the matched names: a
#: negation before it in the clause denies it, doubt ("not sure", "can't say") makes it unsure.
_FLAG_PHRASES = [
    (r"\b(worse|wakes?|waking|woken|keeps? (?:him|her|them) awake)\b[^.;]{0,40}\bnight", "night_pain"),
    (r"\bnights?\b[^.;]{0,30}\bno position\b", "night_pain"),
    (r"\blost\s+\d+(?:\.\d+)?\s*(?:kg|kgs|lb|lbs|stone|st)\b|\b(?:clothes|trousers)[^.;]{0,20}looser", "unexplained_weight_loss"),
    (r"\bconstant\b[^.;]{0,40}\b(?:worse|worsening|progress\w*)", "constant_progressive_pain"),
    (r"\b(?:very|generally|systemically)\s+unwell\b|\boff (?:his|her|their) food\b", "feeling_very_unwell"),
    (r"\bnumb\w*[^.;]{0,25}\bdown there\b", "saddle_anaesthesia"),
]
_FLAG_NEGATION = re.compile(r"\b(no|not|denies|denied|nil|without|never)\b")
_FLAG_DOUBT = re.compile(r"\b(not sure|unsure|can't say|cannot say|unclear|uncertain|vague|\?)")

#: Words right after a red flag that deny it ("bladder fine", "bowels normal").
_AFTER_DENIAL = {"fine", "normal", "nad", "ok", "unremarkable", "nil", "intact", "unaffected", "-ve", "neg", "negative",
                 "no", "denied", "clear", "normally"}


def _variants(name: str) -> set[str]:
    """A KB name and its shorthand forms: each word with a shorthand replaced, one at a time and all at once."""
    words = name.lower().split()
    out = {" ".join(words)}
    if len(words) < 2:
        return out
    for i, word in enumerate(words):
        for short in _SHORTHAND.get(word, ()):
            out.add(" ".join(w for w in words[:i] + [short] + words[i + 1:] if w))
    every = [(_SHORTHAND.get(w) or (w,))[0] for w in words]
    out.add(" ".join(w for w in every if w))
    return {v for v in out if len(v) >= 3}


@dataclass
class _Hit:
    start: int  # token indices
    end: int
    kind: str
    id: str
    negated: bool = False


def _weeks(match: re.Match) -> int:
    if match.group(1):
        n, unit = int(match.group(1)), match.group(2)
        return n if unit == "52" else round(n * 52 / 12) if unit == "12" else round(n / 7)
    n, unit = int(match.group(3)), match.group(4).lower()
    if unit == "day":
        return round(n / 7)
    if unit in ("month", "mth"):
        return round(n * 52 / 12)
    return n * 52 if unit in ("year", "yr") else n


class NoteParser:
    """A spaCy pipeline built once from a KB vocabulary (thread-safe to call)."""

    def __init__(self, vocab: Vocabulary):
        import spacy
        from negspacy.negation import Negex  # noqa: F401 - registers the "negex" factory
        from negspacy.termsets import termset
        from spacy.matcher import PhraseMatcher

        self.vocab = vocab
        self.nlp = spacy.blank("en")
        from spacy.pipeline import Sentencizer

        # a semicolon ends a negation's reach too: "denies trauma; reports numbness" (numbness is present)
        self.nlp.add_pipe("sentencizer", config={"punct_chars": [*Sentencizer.default_punct_chars, ";"]})
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.keys: dict[int, tuple[str, str]] = {}
        self.denials: set[str] = set()
        for kind in KIND_PRIORITY:
            for name, id_ in vocab.names(kind):  # every id, label and alias as written
                key = f"{kind}|{id_}"
                self.keys[self.nlp.vocab.strings.add(key)] = (kind, id_)
                self.matcher.add(key, [self.nlp.make_doc(v) for v in sorted(_variants(name))])
        for phrase, flag in _DENIALS.items():
            if flag in vocab.kb.red_flags:
                key = f"denial|{flag}"
                self.keys[self.nlp.vocab.strings.add(key)] = ("red_flag", flag)
                self.matcher.add(key, [self.nlp.make_doc(phrase)])
                self.denials.add(phrase)
        patterns = termset("en_clinical").get_patterns()
        patterns["preceding_negations"] = [*patterns["preceding_negations"], "nil", "denies", "no h/o", "nad"]
        patterns["termination"] = [*patterns["termination"], "reports", "reported", "reporting", "complains", "c/o"]
        self.negex = self.nlp.add_pipe("negex", config={"neg_termset": patterns, "chunk_prefix": []})
        self._lock = threading.Lock()

    # -- matching --------------------------------------------------------------------------------
    def _hits(self, doc) -> list[_Hit]:
        found = [(*(self.keys[m]), s, e) for m, s, e in self.matcher(doc)]
        found.sort(key=lambda h: (-(h[3] - h[2]), KIND_PRIORITY.index(h[0]), h[2]))
        taken: set[int] = set()
        hits = []
        for kind, id_, start, end in found:
            if taken & set(range(start, end)):
                continue
            taken |= set(range(start, end))
            hits.append(_Hit(start, end, kind, id_))
        return sorted(hits, key=lambda h: h.start)

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
    def _clause(doc, hit: _Hit) -> tuple[int, int]:
        start, end = hit.start, hit.end
        while start > 0 and doc[start - 1].text not in (",", ";", ".", ":") and not doc[start - 1].is_sent_end:
            start -= 1
        while end < len(doc) and doc[end].text not in (",", ";", ".") and not doc[end - 1].is_sent_end:
            end += 1
        return start, end

    @staticmethod
    def _words(doc, start: int, end: int) -> list[str]:
        return [t.lower_ for t in doc[max(start, 0):max(end, 0)]]

    def _side(self, doc, hit: _Hit, clause: tuple[int, int], others: list[_Hit]) -> str | None:
        """The nearest side word in the clause, not past another recognised item."""
        after = [t for t in range(hit.end, min(clause[1], hit.end + 5))]
        before = [t for t in range(hit.start - 1, max(clause[0], hit.start - 5) - 1, -1)]
        blocked = {i for o in others if o is not hit for i in range(o.start, o.end)}
        for order in (before, after) if hit.kind == "pain" else (after, before):
            for i in order:
                if i in blocked:
                    break
                word = doc[i].lower_.strip(".,;:")  # "R." at a sentence end is one token
                joined = word + (doc[i + 1].lower_ + doc[i + 2].lower_ if i + 2 < len(doc) else "")
                if joined == "b/l":
                    return "both"
                if word in _SIDES:
                    return _SIDES[word]
        return None

    def _result(self, doc, hit: _Hit, clause: tuple[int, int]) -> str | None:
        """The result word nearest after the test (then just before it), in its clause."""
        if hit.negated and any(t.lower_ in ("not", "no") for t in doc[max(clause[0], hit.start - 2):hit.start]):
            return "negative"  # "not tender", "no pain on FADIR"
        after = self._words(doc, hit.end, min(clause[1], hit.end + 6))
        before = list(reversed(self._words(doc, max(clause[0], hit.start - 3), hit.start)))
        for word in after + before:
            joined = re.sub(r"[()]", "", word)
            if joined in _NEGATIVE or re.fullmatch(r"-ve?|neg(ative)?|5/5", joined):
                return "negative"
            if joined in _POSITIVE or re.fullmatch(r"\+v?e?|pos(itive)?|[0-4][+-]?/5", joined):
                return "positive"
        text = doc[hit.end:min(clause[1], hit.end + 6)].text.lower()
        if re.search(r"\+\s*ve|\bpos\b|[0-4][+-]?\s*/\s*5", text):
            return "positive"
        if re.search(r"-\s*ve|\bneg\b|5\s*/\s*5", text):
            return "negative"
        return None

    # -- the note as a case --------------------------------------------------------------------
    def parse(self, text: str) -> dict:
        """``{case, spans, unrecognised}`` for one note."""
        with self._lock:
            doc = self.nlp.make_doc(text)
            for name, proc in self.nlp.pipeline:
                if name != "negex":
                    doc = proc(doc)
            hits = self._hits(doc)
            self._negate(doc, hits)
        case: dict[str, list] = {}
        spans = []
        for hit in hits:
            item, value = self._item(doc, hit, hits)
            span = {"start": doc[hit.start].idx, "end": doc[hit.end - 1].idx + len(doc[hit.end - 1]),
                    "text": doc[hit.start:hit.end].text, "kind": hit.kind, "id": hit.id, "negated": hit.negated,
                    "value": value, "side": item.get("side") if item else None}
            spans.append(span)
            if item is not None:
                case.setdefault(_SECTION[hit.kind], []).append(item)
        self._phrased_flags(text, case)
        out: dict[str, object] = {**_deduplicate(case), **_context(text)}
        return {"case": out, "spans": spans, "unrecognised": _leftovers(text, spans)}

    def _phrased_flags(self, text: str, case: dict) -> None:
        """Red flags said in other words (see ``_FLAG_PHRASES``), added unless already read."""
        known = {f["id"] for f in case.get("red_flags", [])}
        for clause in _CLAUSE.finditer(text):
            chunk = clause.group(0).lower()
            for pattern, flag in _FLAG_PHRASES:
                found = re.search(pattern, chunk)
                if not found or flag in known or flag not in self.vocab.kb.red_flags:
                    continue
                before = chunk[:found.start()]
                present: object = "unsure" if _FLAG_DOUBT.search(chunk) else (
                    False if _FLAG_NEGATION.search(before) else True)
                case.setdefault("red_flags", []).append({"id": flag, "present": present})
                known.add(flag)

    def _item(self, doc, hit: _Hit, hits: list[_Hit]) -> tuple[dict | None, str]:
        clause = self._clause(doc, hit)
        side = self._side(doc, hit, clause, hits)
        sided = {"side": side} if side else {}
        if hit.kind == "test":
            result = self._result(doc, hit, clause)
            return ({"id": hit.id, "result": result, **sided} if result else None), result or "no result"
        if hit.kind == "pain":
            return (None, "negated") if hit.negated else ({"site": hit.id, **sided}, "present")
        if hit.kind == "red_flag":
            before = set(self._words(doc, clause[0], hit.start)) | {t.text for t in doc[max(0, hit.start - 1):hit.start]}
            after = self._words(doc, hit.end, min(clause[1], hit.end + 2))
            denied = hit.negated or doc[hit.start:hit.end].text.lower() in self.denials or bool(set(after) & _AFTER_DENIAL)
            to_exclude = " ".join(self._words(doc, clause[0], hit.start))
            if re.search(r"\b(rule out|r/o|exclude|excluding|query|\?)", to_exclude):
                denied = False  # a flag still to be ruled out is not known to be absent: unsure, never no
                before = before | {"unsure"}
            present: object = False if denied else ("unsure" if before & _UNSURE else True)
            return {"id": hit.id, "present": present}, str(present)
        if hit.kind == "diagnosis":
            before = set(self._words(doc, hit.start - 3, hit.start))
            if hit.negated or not before & _DIAGNOSED:
                return None, "not a diagnosis"
            return {"id": hit.id, **sided}, "diagnosed"
        if hit.kind == "finding":
            return {"id": hit.id, "present": not hit.negated, **sided}, "absent" if hit.negated else "present"
        return {"id": hit.id, "present": not hit.negated}, "absent" if hit.negated else "present"


def _context(text: str) -> dict[str, object]:
    out: dict[str, object] = {}
    age = _AGE.search(text)
    if age and 0 < int(age.group(1)) <= 110:
        out["age"] = int(age.group(1))
    for pattern, sex in _SEX:
        if pattern.search(text):
            out["sex"] = sex
            break
    duration = _DURATION.search(text)
    if duration:
        out["duration_weeks"] = _weeks(duration)
    if _SUDDEN.search(text):
        out["onset"] = "sudden"
    elif _GRADUAL.search(text):
        out["onset"] = "gradual"
    return out


def _deduplicate(case: dict) -> dict:
    """One item per (section, id, side): a red flag denied anywhere and asserted elsewhere is kept as present."""
    for section, items in list(case.items()):
        if not isinstance(items, list):
            continue
        kept: dict[tuple, dict] = {}
        for item in items:
            key = (item.get("id") or item.get("site"), item.get("side"))
            old = kept.get(key)
            if old is None or (section == "red_flags" and item.get("present") not in (False,)):
                kept[key] = item
        case[section] = list(kept.values())
    return case


def _leftovers(text: str, spans: list[dict]) -> list[dict]:
    """Clauses of the note in which nothing was recognised, with their characters."""
    covered = [(s["start"], s["end"]) for s in spans]
    out = []
    for match in _CLAUSE.finditer(text):
        start, end = match.span()
        chunk = match.group(0).strip()
        if len(re.findall(r"[A-Za-z]{3,}", chunk)) < 1:
            continue
        if any(s < end and e > start for s, e in covered) or _context(chunk):
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
