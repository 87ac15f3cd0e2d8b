"""FHIR R4 resources -> a compensa case, and a list of everything that could not be used.

The input is what a CDS Hooks client sends: ``context.patientId`` and ``prefetch`` with ``patient``
(a Patient), ``observations``, ``conditions`` and ``questionnaireResponses`` (search Bundles; a
single resource is accepted too). Every resource is validated with fhir.resources' R4B models
(which read FHIR R4 payloads); an invalid one is listed with the validation message, never a 500.

Mapping rules (codes only from the KB's ``codes:`` fields and ``research/codes.md``; displays are
informative and never matched):

* ``Patient.birthDate`` -> ``age`` (whole years at today's date); ``gender`` male | female -> ``sex``.
* An Observation (or Condition) whose ``code`` carries a KB entry's code -- SNOMED CT
  ``http://snomed.info/sct``, LOINC ``http://loinc.org``, ICD-10 ``http://hl7.org/fhir/sid/icd-10``,
  ICD-10-CM ``http://hl7.org/fhir/sid/icd-10-cm`` (dots and case ignored for ICD) -- or our own
  system :data:`KB_SYSTEM` with ``code`` = the KB id (for entries with no standard code, e.g. every
  physical test) is read as that entry:

  - red flag: ``valueBoolean`` true -> present, false -> absent; ``valueString`` yes/no/unsure
    (also true/false/unknown); ``valueCodeableConcept`` in :data:`ANSWER_SYSTEM` yes/no/unsure;
    no value -> present (a recorded finding asserts it); ``dataAbsentReason`` or a value that
    cannot be read -> unsure (safety: unsure withholds the plan, like a yes);
  - finding: as a red flag, without unsure (an unreadable value is not used);
  - test: ``interpretation`` POS | NEG (``http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation``),
    ``valueBoolean`` (true = positive), ``valueString`` positive/negative or an :data:`ANSWER_SYSTEM`
    coding -> the result; none -> not used;
  - condition -> ``diagnoses`` (a Condition that is active or has no clinical status, and is not
    refuted, entered in error, provisional or differential);
  - history item and yellow flag: by :data:`KB_SYSTEM` only.

* Pain: an Observation coded LOINC 72514-3 (0-10 pain severity) or 38208-5 (pain severity,
  reported) (codes.md section 4), or coded :data:`KB_SYSTEM` ``pain``, with a ``bodySite`` that
  carries a KB pain site's SNOMED code (or the KB id in :data:`KB_SYSTEM`); a pain score of 0 is
  no pain. An Observation coded with a pain site's KB id itself is pain there too.
* Side and place: SNOMED laterality (7771000 left, 24028007 right, 51440002 both; the FHIR R4
  value set's 419161000 / 419465000 unilateral left / right) and topographic qualifiers
  (255549009 anterior, 49370004 lateral, 255561001 medial, 255551008 posterior), all from
  codes.md 1b, read from any extension holding a CodeableConcept on the resource or its
  ``bodySite`` (e.g. ``http://hl7.org/fhir/StructureDefinition/observation-structureLaterality``,
  mCODE's laterality qualifier) or from a contained R4 BodyStructure (``location`` +
  ``locationQualifier``). A region code shared by several KB sites (knee region: outside or inside
  of the knee) or that only names the region (thigh for the front of the thigh) needs the
  topographic qualifier; without it the resource is not used.
* A red-flag answer is never dropped: an Observation or Condition whose code is not in the KB but
  whose text reads like a red flag (the vocabulary's ``resembles_red_flag``) goes into ``red_flags``
  by that text, so it is matched or listed as unmatched, and withholds the plan when yes or unsure.
* The same item recorded more than once: the latest (``effective[x]``, ``issued``, ``authored``,
  ``recordedDate``) wins; at the same time, or when either answer is undated, the more alarming
  red-flag answer.

Anything else (other codes, other resource types, other patients, entered-in-error, resolved
conditions, unreadable values) is listed in :attr:`FhirCase.not_used` with the reason.
"""

from __future__ import annotations

import datetime
import re
import threading
from dataclasses import dataclass, field
from collections.abc import Callable, Collection
from typing import Any, ClassVar

__all__ = [
    "ANSWER_SYSTEM", "FhirCase", "KB_SYSTEM", "NotUsed", "SYSTEMS", "case_from_fhir", "code_index",
    "validate_resource",
]

#: Our code system for KB ids that have no standard code: ``code`` is the KB id (e.g. ``ober_test``).
KB_SYSTEM = "https://compensa.dev/fhir/CodeSystem/kb"
#: Our code system of answers: yes | no | unsure | positive | negative | present (no side).
ANSWER_SYSTEM = "https://compensa.dev/fhir/CodeSystem/answer"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: FHIR system URI -> the KB's ``codes:`` key.
SYSTEMS = {SNOMED: "snomed", LOINC: "loinc", "http://hl7.org/fhir/sid/icd-10": "icd10",
           "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm"}
#: SNOMED CT laterality qualifiers (codes.md 1b): both FHIR pairs are read, never mixed on output.
LATERALITY = {"7771000": "left", "24028007": "right", "51440002": "both",
              "419161000": "left", "419465000": "right"}
#: SNOMED CT topographic qualifiers (codes.md 1b).
TOPOGRAPHY = {"255549009": "anterior", "49370004": "lateral", "255561001": "medial", "255551008": "posterior"}
#: LOINC pain severity codes (codes.md section 4, verified): an Observation of pain at its bodySite.
PAIN_LOINC = ("72514-3", "38208-5")
#: SNOMED region codes that name a region, not a KB site, unless a topographic qualifier says which
#: part (codes.md section 1: "use region + qualifier"): thigh, knee region.
REGION_ONLY = ("68367000", "72696002")
_KINDS = ("red_flag", "pain", "finding", "test", "condition", "history", "yellow_flag")
_SECTION = {"red_flag": "red_flags", "pain": "pain", "finding": "findings", "test": "tests",
            "condition": "diagnoses", "history": "history", "yellow_flag": "yellow_flags"}
_YES = ("yes", "y", "true", "present", "positive")
_NO = ("no", "n", "false", "absent", "negative")
_UNSURE = ("unsure", "unknown", "not sure", "don't know", "asked-unknown")
_RANK = {True: 2, "unsure": 1, False: 0}


@dataclass(frozen=True)
class NotUsed:
    """A resource (or part of one) compensa did not use, and why."""

    resource: str   # "Observation/obs-1" or where it was ("prefetch.observations.entry[2]")
    what: str       # its code or text, for a person to recognise it
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "what": self.what, "why": self.why}


@dataclass
class FhirCase:
    """The case read from FHIR, what was not used, and notes on how some values were read."""

    case: dict
    not_used: list[NotUsed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)   # the resources that contributed


# ---------------------------------------------------------------------------------------------- codes

_KNOWN_SYSTEMS = {s.lower(): s for s in (*SYSTEMS, KB_SYSTEM)}


def _system(system: str) -> str:
    """A coding's system as the URI compensa indexes: one of ours (:data:`SYSTEMS`, :data:`KB_SYSTEM`)
    whatever its letter case, surrounding spaces or trailing slash; any other system as given."""
    return _KNOWN_SYSTEMS.get(system.strip().rstrip("/").lower(), system)


def _norm(system: str, code: str) -> str:
    """A code as indexed: trimmed; ICD-10 without dots in upper case; a :data:`KB_SYSTEM` code (a KB id)
    in lower case with spaces and hyphens as underscores (``Bowel Dysfunction`` -> ``bowel_dysfunction``)."""
    code = code.strip()
    if system == KB_SYSTEM:
        return re.sub(r"[\s\-]+", "_", code.lower())
    return code.replace(".", "").upper() if SYSTEMS.get(system, "").startswith("icd10") else code


def code_index(kb) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(system URI, code) -> [(kind, KB id)] for every KB entry with a code, plus KB_SYSTEM ids."""
    groups = {"red_flag": kb.red_flags, "pain": kb.pain_sites, "condition": kb.conditions,
              "history": kb.history, "yellow_flag": kb.yellow_flags}
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def add(key, kind, id_):
        found = index.setdefault(key, [])
        if (kind, id_) not in found:
            found.append((kind, id_))

    for a in kb.assessments.values():
        for system, key in SYSTEMS.items():
            if a.codes.get(key):
                add((system, _norm(system, a.codes[key])), a.kind, a.id)
        add((KB_SYSTEM, _norm(KB_SYSTEM, a.id)), a.kind, a.id)
    for kind, entries in groups.items():
        for entry in entries.values():
            for system, key in SYSTEMS.items():
                codes = getattr(entry, "codes", None) or {}
                if codes.get(key):
                    add((system, _norm(system, codes[key])), kind, entry.id)
            add((KB_SYSTEM, _norm(KB_SYSTEM, entry.id)), kind, entry.id)
    return index


def _codings(concept: Any) -> list[dict]:
    return [c for c in (concept or {}).get("coding") or [] if isinstance(c, dict)] if isinstance(concept, dict) else []


def _describe(concept: Any) -> str:
    if not isinstance(concept, dict):
        return "(no code)"
    codings = _codings(concept)
    text = concept.get("text") or next((c.get("display") for c in codings if c.get("display")), "")
    coded = ", ".join(f"{c.get('system', '?')}|{c.get('code', '?')}" for c in codings)
    return " ".join(p for p in (f"{text!r}" if text else "", f"[{coded}]" if coded else "") if p) or "(no code)"


def _lookup(index, concept: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for c in _codings(concept):
        system, code = c.get("system"), c.get("code")
        if isinstance(system, str) and isinstance(code, str):
            system = _system(system)
            for hit in index.get((system, _norm(system, code)), []):
                if hit not in found:
                    found.append(hit)
    return found


def _has_code(concept: Any, system: str, codes: Collection[str]) -> bool:
    return any(isinstance(c.get("system"), str) and _system(c["system"]) == system
               and isinstance(c.get("code"), str) and c["code"].strip() in codes for c in _codings(concept))


def _texts(concept: Any) -> list[str]:
    """The words of a CodeableConcept a person would read: its text, its codings' displays, and the
    codes in :data:`KB_SYSTEM` (KB ids, however spelled), for matching by name."""
    if not isinstance(concept, dict):
        return []
    codings = _codings(concept)
    texts = [concept.get("text")] + [c.get("display") for c in codings] + [
        str(c.get("code")).replace("_", " ") for c in codings
        if isinstance(c.get("system"), str) and _system(c["system"]) == KB_SYSTEM and isinstance(c.get("code"), str)]
    return [t for t in texts if isinstance(t, str) and t.strip()]


def _qualifiers(resource: dict) -> tuple[set[str], set[str]]:
    """Sides and topographic words from extensions on the resource and its bodySite, and from a
    contained BodyStructure (location + locationQualifier)."""
    concepts: list[dict] = []
    holders = [resource, resource.get("bodySite")]
    for holder in holders:
        if isinstance(holder, dict):
            for ext in holder.get("extension") or []:
                if isinstance(ext, dict) and isinstance(ext.get("valueCodeableConcept"), dict):
                    concepts.append(ext["valueCodeableConcept"])
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict) and contained.get("resourceType") == "BodyStructure":
            concepts.extend(q for q in contained.get("locationQualifier") or [] if isinstance(q, dict))
    sides: set[str] = set()
    places: set[str] = set()
    for concept in concepts:
        for c in _codings(concept):
            if c.get("system") == SNOMED:
                if c.get("code") in LATERALITY:
                    sides.add(LATERALITY[c["code"]])
                if c.get("code") in TOPOGRAPHY:
                    places.add(TOPOGRAPHY[c["code"]])
    return sides, places


def _body_sites(resource: dict) -> list[dict]:
    out = [resource["bodySite"]] if isinstance(resource.get("bodySite"), dict) else []
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict) and contained.get("resourceType") == "BodyStructure" \
                and isinstance(contained.get("location"), dict):
            out.append(contained["location"])
    return out


# ------------------------------------------------------------------------------------------ resources

def validate_resource(resource: object) -> str | None:
    """Why ``resource`` is not a valid FHIR R4 resource (fhir.resources R4B), or ``None`` when it is."""
    from pydantic import ValidationError

    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, dict):
        return f"not a FHIR resource (a JSON object), got {type(resource).__name__}"
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return "no resourceType"
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, ImportError, AttributeError):
        return f"unknown FHIR R4 resource type {kind!r}"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        parts = ["{}: {}".format(".".join(str(p) for p in e.get("loc", ())) or kind, e.get("msg", ""))
                 for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return "invalid FHIR R4 " + kind + ": " + "; ".join(parts) + more
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # odd input fhir.resources trips on
        return f"invalid FHIR R4 {kind}: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _ref(resource: dict, where: str) -> str:
    kind, id_ = resource.get("resourceType"), resource.get("id")
    return f"{kind}/{id_}" if isinstance(kind, str) and isinstance(id_, str) else where


def _when(resource: dict) -> str:
    for key in ("effectiveDateTime", "issued", "authored", "recordedDate", "onsetDateTime"):
        if isinstance(resource.get(key), str):
            return resource[key]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return period.get("end") or period.get("start") or ""
    return ""


_DATE_TIME = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                        r"(Z|[+-]\d{2}:\d{2})?)?)?)?")
_UTC = datetime.UTC
_ZONES = datetime.timedelta(hours=14)  # UTC-12 .. UTC+14: where an instant with no time zone may lie


def _span(when: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    """The UTC interval a FHIR date, dateTime or instant stands for, or ``None`` when it is not one.

    A dateTime with a time zone is one instant; a partial date (``2026``, ``2026-12``, ``2026-12-01``)
    is the whole year, month or day, and without a time zone that is widened by 14 hours each way
    (its zone is unknown). Comparing these, never the strings, orders answers written in different
    zones or precisions; two answers whose intervals overlap cannot be ordered."""
    match = _DATE_TIME.fullmatch(when.strip()) if isinstance(when, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        if hour is not None:
            start = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
            if zone:
                offset = datetime.timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * datetime.timedelta(
                    hours=int(zone[1:3]), minutes=int(zone[4:6]))
                point = (start - offset).replace(tzinfo=_UTC)
                return point, point
            start, end = start, start + datetime.timedelta(seconds=1)
        elif day is not None:
            start = datetime.datetime(int(year), int(month), int(day))
            end = start + datetime.timedelta(days=1)
        elif month is not None:
            start = datetime.datetime(int(year), int(month), 1)
            end = datetime.datetime(int(year) + (month == "12"), int(month) % 12 + 1, 1)
        else:
            start, end = datetime.datetime(int(year), 1, 1), datetime.datetime(int(year) + 1, 1, 1)
    except (ValueError, OverflowError):
        return None
    try:
        return (start - _ZONES).replace(tzinfo=_UTC), (end + _ZONES).replace(tzinfo=_UTC)
    except OverflowError:
        return None


def _later(new: str, old: str) -> bool | None:
    """Whether the answer dated ``new`` is surely later (True) or surely earlier (False) than the one
    dated ``old``; ``None`` when they cannot be ordered (undated, unreadable, or overlapping)."""
    a, b = _span(new), _span(old)
    if a is None or b is None:
        return None
    if a[0] > b[1] or (a[0] == a[1] and b[0] == b[1] and a[0] > b[0]):
        return True
    if b[0] > a[1] or (a[0] == a[1] and b[0] == b[1] and b[0] > a[0]):
        return False
    return None


def _age(birth: str, today: datetime.date) -> int | None:
    try:
        parts = [int(p) for p in birth.split("-")]
    except ValueError:
        return None
    year, month, day = (parts + [1, 1])[:3] if len(parts) < 3 else parts[:3]
    if len(parts) < 3:  # a year or year-month only: the youngest the person can be (born on its last day)
        import calendar

        month = parts[1] if len(parts) > 1 else 12
        if not 1 <= month <= 12 or not 1 <= year <= 9999:
            return None
        day = calendar.monthrange(year, month)[1]
    years = today.year - year - ((today.month, today.day) < (month, day))
    return years if 0 <= years <= 130 else None


def _unreadable(allow_unsure: bool) -> str | None:
    """What an answer that is not a clear yes or no reads as: 'unsure' where allowed, else None."""
    return "unsure" if allow_unsure else None


def _presence_of_boolean(value: object, allow_unsure: bool) -> tuple[bool | str | None, str]:
    """A ``valueBoolean`` answer: only a JSON true or false is a yes or a no."""
    # fhir.resources (lax pydantic) lets null, 0 or "no" through, and bool() would read null and 0 as a no
    if isinstance(value, bool):
        return value, ""
    return _unreadable(allow_unsure), f"valueBoolean {value!r} is not true or false"


def _presence_of_string(text: str, allow_unsure: bool) -> tuple[bool | str | None, str]:
    """A ``valueString`` answer: a yes, no or unsure word (see :data:`_YES`, :data:`_NO`, :data:`_UNSURE`)."""
    word = text.strip().lower()
    if word in _YES:
        return True, ""
    if word in _NO:
        return False, ""
    if word in _UNSURE:
        return _unreadable(allow_unsure), ""
    return _unreadable(allow_unsure), f"value {text!r} is not yes/no"


def _answers_said(concept: dict) -> set[bool | str]:
    """The answers a concept's :data:`ANSWER_SYSTEM` codings give: True, False and/or 'unsure'."""
    said: set[bool | str] = set()
    for c in _codings(concept):
        if isinstance(c.get("system"), str) and _system(c["system"]) == ANSWER_SYSTEM:
            code = str(c.get("code", "")).strip().lower()
            said.add(True if code in ("yes", "present") else False if code in ("no", "absent") else "unsure")
    return said


def _presence_of_concept(concept: dict, allow_unsure: bool) -> tuple[bool | str | None, str]:
    """A ``valueCodeableConcept`` answer: a yes or a no only when all its answer codings agree."""
    said = _answers_said(concept)
    if said == {True} or said == {False}:
        return said.pop(), ""
    if said:  # unsure, or yes and no at once: not a no
        return _unreadable(allow_unsure), ("" if said == {"unsure"} else
                                           f"answer {_describe(concept)} says both yes and no")
    return _unreadable(allow_unsure), f"answer {_describe(concept)} is not a yes/no compensa reads"


def _presence(resource: dict, allow_unsure: bool) -> tuple[bool | str | None, str]:
    """An Observation's yes/no answer: True, False, 'unsure' or None (unreadable), and a note."""
    if "valueBoolean" in resource:
        return _presence_of_boolean(resource["valueBoolean"], allow_unsure)
    if isinstance(resource.get("valueString"), str):
        return _presence_of_string(resource["valueString"], allow_unsure)
    if isinstance(resource.get("valueCodeableConcept"), dict):
        return _presence_of_concept(resource["valueCodeableConcept"], allow_unsure)
    if isinstance(resource.get("dataAbsentReason"), dict):
        return _unreadable(allow_unsure), "no value (dataAbsentReason)"
    if any(k.startswith("value") for k in resource):
        return _unreadable(allow_unsure), "its value is not a yes/no"
    return True, ""  # a recorded finding with no value asserts it


def _result(resource: dict) -> str | None:
    for concept in resource.get("interpretation") or []:
        if _has_code(concept, INTERPRETATION, ("POS",)):
            return "positive"
        if _has_code(concept, INTERPRETATION, ("NEG",)):
            return "negative"
    if isinstance(resource.get("valueBoolean"), bool):
        return "positive" if resource["valueBoolean"] else "negative"
    if isinstance(resource.get("valueString"), str):
        word = resource["valueString"].strip().lower()
        return "positive" if word in ("positive", "pos", "+", "+ve") else "negative" if word in (
            "negative", "neg", "-", "-ve") else None
    for c in _codings(resource.get("valueCodeableConcept")):
        if c.get("system") in (ANSWER_SYSTEM, INTERPRETATION):
            code = str(c.get("code", "")).lower()
            if code in ("positive", "pos"):
                return "positive"
            if code in ("negative", "neg"):
                return "negative"
    return None


_prepared_cache: dict[int, tuple[Any, Any, dict]] = {}
_prepared_lock = threading.Lock()


def _prepared(kb) -> tuple[Any, dict]:
    """The vocabulary and code index of ``kb``, built once per KB (a vocabulary takes ~15 ms)."""
    from compensa.kb.vocabulary import Vocabulary

    with _prepared_lock:
        found = _prepared_cache.get(id(kb))
        if found is None or found[0] is not kb:
            found = _prepared_cache[id(kb)] = (kb, Vocabulary(kb), code_index(kb))
            while len(_prepared_cache) > 8:
                _prepared_cache.pop(next(iter(_prepared_cache)))
        return found[1], found[2]


def _sides_of(item: dict) -> tuple[str, ...]:
    """The sides an item is kept under: left and right for ``both``, else its side or '' (none)."""
    return ("left", "right") if item.get("side") == "both" else (item.get("side") or "",)


@dataclass(frozen=True)
class _ConditionStatus:
    """A Condition's verification codes, and whether it is resolved or unconfirmed."""

    verification: set[str]
    resolved: bool
    unconfirmed: bool

    @classmethod
    def of(cls, resource: dict) -> _ConditionStatus:
        """The status of a Condition resource, from its verificationStatus and clinicalStatus codings."""
        verification = {str(c.get("code")) for c in _codings(resource.get("verificationStatus"))}
        clinical = {str(c.get("code")) for c in _codings(resource.get("clinicalStatus"))}
        return cls(verification, bool(clinical & {"inactive", "remission", "resolved"}),
                   bool(verification & {"provisional", "differential", "unconfirmed"}))


class _Reader:
    """Collects case items from resources, the latest per (section, id, side)."""

    def __init__(self, kb, patient_id: str | None, today: datetime.date):
        self.kb = kb
        self.vocab, self.index = _prepared(kb)
        self.patient_id = patient_id
        self.today = today
        self.out = FhirCase({})
        self.items: dict[tuple[str, str, str], tuple[str, int, dict, str]] = {}
        self.context: dict[str, tuple[str, object]] = {}

    # -- collecting
    def skip(self, where: str, what: str, why: str) -> None:
        self.out.not_used.append(NotUsed(where, what, why))

    def put(self, section: str, item: dict, when: str, ref: str) -> None:
        """Keep ``item`` in ``section`` (once per side) unless an answer that wins over it is kept already."""
        item, term = self.by_id(section, item)
        for side in _sides_of(item):
            one = {k: v for k, v in item.items() if k != "side"}
            if side:
                one["side"] = side
            key = (section, str(term), side)
            rank = _RANK.get(one.get("present"), 0) if section == "red_flags" else 0
            if self.replaces(key, when, rank):
                self.items[key] = (when, rank, one, ref)
        if ref not in self.out.sources:
            self.out.sources.append(ref)

    def by_id(self, section: str, item: dict) -> tuple[dict, Any]:
        """``item`` with its term (a pain ``site``, else ``id``) resolved to the KB id, and that term:
        a readable name or alias is keyed by its id."""
        from compensa.engine.case_schema import SECTIONS

        field = "site" if section == "pain" else "id"
        term = item.get(field)
        known = self.vocab.resolve(SECTIONS[section], term)
        if known and known != term:
            return {**item, field: known}, known
        return item, term

    def replaces(self, key: tuple[str, str, str], when: str, rank: int) -> bool:
        """Whether an answer at ``when`` of ``rank`` replaces the one kept under ``key``, if any.

        The surely later answer wins; two red-flag answers that cannot be ordered (undated, in
        overlapping periods such as a day and a time on it) keep the more alarming."""
        old = self.items.get(key)
        if old is None:
            return True
        later = _later(when, old[0])
        if key[0] != "red_flags" and later is None:
            later = True if when > old[0] else None  # not ordered by time: the later string, as before
        return later is True or (later is None and rank > old[1])

    def case(self) -> dict:
        from compensa.engine.case_schema import MAX_ITEMS

        case: dict[str, Any] = {}
        for (section, _, _), (_, _, item, _) in sorted(self.items.items()):
            case.setdefault(section, []).append(item)
        for section, items in case.items():
            if len(items) > MAX_ITEMS:  # the case contract's bound: keep the alarming, then the latest
                ranked = sorted(((key, value) for key, value in self.items.items() if key[0] == section),
                                key=lambda kv: (kv[1][1], kv[1][0]), reverse=True)
                for key, (_, _, _, ref) in ranked[MAX_ITEMS:]:
                    self.skip(ref, f"{section}: {key[1]}", f"more than {MAX_ITEMS} {section} items; the latest "
                                                            "(red flags: the most alarming) were kept")
                kept = {key for key, _ in ranked[:MAX_ITEMS]}
                case[section] = [v[2] for k, v in sorted(self.items.items()) if k in kept]
        for name, (_, value) in sorted(self.context.items()):
            case[name] = value
        self.out.case = case
        return case

    # -- resources
    _PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?/?")

    def other_patient(self, resource: dict) -> str | None:
        """The reference to another patient than the one in context that ``resource`` is about, if any.

        A reference names the patient by its last ``Patient/<id>``, relative or absolute
        (``https://ehr/fhir/Patient/1``) and with or without a version (``Patient/1/_history/2``); a
        reference that names no patient id (``urn:uuid:...``, an identifier only) is not taken for
        another patient."""
        subject = resource.get("subject") or resource.get("patient")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if not self.patient_id or not isinstance(reference, str):
            return None
        match = self._PATIENT_REF.search(reference.strip().split("?")[0])
        if match and match.end() == len(reference.strip().split("?")[0]) and match.group(1) != self.patient_id:
            return reference
        return None

    def patient(self, resource: dict, where: str) -> None:
        ref = _ref(resource, where)
        if self.patient_id and resource.get("id") not in (None, self.patient_id):
            self.skip(ref, "Patient", f"not the patient in context (Patient/{self.patient_id})")
            return
        birth = resource.get("birthDate")
        if isinstance(birth, str):
            age = _age(birth, self.today)
            if age is None:
                self.skip(ref, f"birthDate {birth}", "no age in 0-130 years follows from it")
            else:
                self.context["age"] = ("9999", age)
        gender = resource.get("gender")
        if gender in ("female", "male"):
            self.context["sex"] = ("9999", gender)
        elif gender is not None:
            self.skip(ref, f"gender {gender}", "compensa's criteria read sex as female or male only")
        if ref not in self.out.sources:
            self.out.sources.append(ref)

    def observation(self, resource: dict, where: str) -> None:
        """Read one Observation: a pain, or each KB kind its code maps to (see :data:`_OBSERVED`)."""
        ref, what = _ref(resource, where), _describe(resource.get("code"))
        excluded = self.excluded_observation(resource)
        if excluded:
            self.skip(ref, what, excluded)
            return
        when = _when(resource)
        code = resource.get("code")
        if _has_code(code, LOINC, PAIN_LOINC) or _has_code(code, KB_SYSTEM, ("pain",)):
            self.pain(resource, ref, what, when)
            return
        used = self.components(resource, ref)
        hits = _lookup(self.index, code)
        if not hits:
            if not used or any(k.startswith("value") for k in resource) or self.resembles(code):
                self.unknown(resource, ref, what, when)
            return
        for kind in _KINDS:
            ids = [i for k, i in hits if k == kind]
            if ids:
                read = _Reader._OBSERVED.get(kind, _Reader.observed_answer)
                read(self, kind, ids, resource, ref, what, when)

    def excluded_observation(self, resource: dict) -> str:
        """Why an Observation is not read at all (entered in error, cancelled, another patient), or ''."""
        if resource.get("status") in ("entered-in-error", "cancelled"):
            return f"status {resource['status']}"
        other = self.other_patient(resource)
        if other:
            return f"about {other}, not the patient in context"
        return ""

    def observed_pain(self, kind: str, ids: list[str], resource: dict, ref: str, what: str, when: str) -> None:
        """An Observation coded as a KB pain site."""
        self.pain_at(ids, resource, ref, what, when)

    def observed_red_flag(self, kind: str, ids: list[str], resource: dict, ref: str, what: str, when: str) -> None:
        """An Observation of a red flag: an unreadable answer counts as unsure (never as a no)."""
        present, note = _presence(resource, allow_unsure=True)
        for id_ in ids:
            self.put("red_flags", {"id": id_, "present": present}, when, ref)
        if note:
            self.out.notes.append(f"{ref} ({what}): {note}; read as unsure")

    def observed_finding(self, kind: str, ids: list[str], resource: dict, ref: str, what: str, when: str) -> None:
        """An Observation of a posture finding: a yes or a no, on a side when one is given."""
        present, note = _presence(resource, allow_unsure=False)
        if present is None:
            self.skip(ref, what, note or "no yes/no value")
            return
        self.sided(ids, "findings", {"present": present}, resource, ref, what, when)

    def observed_test(self, kind: str, ids: list[str], resource: dict, ref: str, what: str, when: str) -> None:
        """An Observation of a physical test: positive or negative, on a side when one is given."""
        result = _result(resource)
        if result is None:
            self.skip(ref, what, "no result: give interpretation POS or NEG, or valueBoolean")
            return
        self.sided(ids, "tests", {"result": result}, resource, ref, what, when)

    def observed_condition(self, kind: str, ids: list[str], resource: dict, ref: str, what: str,
                           when: str) -> None:
        """An Observation of a diagnosis: used only when it is recorded as present."""
        present, _ = _presence(resource, allow_unsure=False)
        if present is not True:
            self.skip(ref, what, "a diagnosis recorded as absent or unreadable is not used")
            return
        self.sided(ids, "diagnoses", {}, resource, ref, what, when)

    def observed_answer(self, kind: str, ids: list[str], resource: dict, ref: str, what: str, when: str) -> None:
        """An Observation of any other kind (history, yellow flag): a yes or a no in its section."""
        present, note = _presence(resource, allow_unsure=False)
        if present is None:
            self.skip(ref, what, note or "no yes/no value")
            return
        for id_ in ids:
            self.put(_SECTION[kind], {"id": id_, "present": present}, when, ref)

    #: How an Observation is read for each KB kind its code maps to (others: :meth:`observed_answer`).
    _OBSERVED: ClassVar[dict[str, Callable[..., None]]] = {
        "pain": observed_pain, "red_flag": observed_red_flag, "finding": observed_finding,
        "test": observed_test, "condition": observed_condition}

    def components(self, resource: dict, ref: str) -> bool:
        """Read each ``component`` of an Observation (a panel of questions) as an Observation of its
        own, with the parent's subject, status and time: a red flag answered in a component counts.
        Whether any component was used."""
        used = False
        parent = {k: v for k, v in resource.items() if k not in ("id", "component", "code", "interpretation",
                                                                   "dataAbsentReason") and not k.startswith("value")}
        for index, component in enumerate(resource.get("component") or []):
            if not isinstance(component, dict) or not isinstance(component.get("code"), dict):
                continue
            before = len(self.out.sources), len(self.items)
            self.observation({**parent, **component}, f"{ref}.component[{index}]")
            used = used or (len(self.out.sources), len(self.items)) != before
        return used

    def resembles(self, concept: Any) -> bool:
        """Whether a code's text, a display or a :data:`KB_SYSTEM` code reads like a red flag."""
        return any(self.vocab.resembles_red_flag(t) for t in _texts(concept))

    def sided(self, ids: list[str], section: str, fields: dict, resource: dict, ref: str, what: str,
              when: str) -> None:
        sides, _ = _qualifiers(resource)
        if len(sides) > 1:
            self.skip(ref, what, f"more than one side given ({', '.join(sorted(sides))})")
            return
        for id_ in ids:
            item = {"id": id_, **fields}
            if sides:
                item["side"] = next(iter(sides))
            self.put(section, item, when, ref)

    def pain(self, resource: dict, ref: str, what: str, when: str) -> None:
        for key in ("valueInteger", "valueQuantity"):
            value = resource.get(key)
            value = value.get("value") if isinstance(value, dict) else value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                self.skip(ref, what, "pain score 0: no pain recorded")
                return
        if resource.get("valueBoolean") is False:
            self.skip(ref, what, "recorded as no pain")
            return
        sites = _body_sites(resource)
        ids: list[str] = []
        for site in sites:
            ids += [i for k, i in _lookup(self.index, site) if k == "pain" and i not in ids]
        if not sites:
            self.skip(ref, what, "pain with no bodySite: compensa needs where it hurts")
            return
        if not ids:
            self.skip(ref, f"{what} at {_describe(sites[0])}", "the body site is not a compensa pain site")
            return
        self.pain_at(ids, resource, ref, what, when, site_codes=sites)

    def pain_at(self, ids: list[str], resource: dict, ref: str, what: str, when: str,
                site_codes: list[dict] | None = None) -> None:
        sides, places = _qualifiers(resource)
        if len(sides) > 1:
            self.skip(ref, what, f"more than one side given ({', '.join(sorted(sides))})")
            return
        region_only = any(_has_code(s, SNOMED, REGION_ONLY) for s in (site_codes or [])) and not any(
            _has_code(s, KB_SYSTEM, ids) for s in (site_codes or []))
        if places:
            chosen = [i for i in ids if i.split("_")[0] in places]
            if not chosen:
                self.skip(ref, what, f"no compensa pain site is the {'/'.join(sorted(places))} part of it")
                return
            ids = chosen
        elif region_only or len(ids) > 1:
            options = ", ".join(ids)
            self.skip(ref, what, f"the body site names a region: add a topographic qualifier (anterior, lateral, "
                                 f"medial) to say which of {options}")
            return
        for id_ in ids:
            item = {"site": id_}
            if sides:
                item["side"] = next(iter(sides))
            self.put("pain", item, when, ref)

    def unknown(self, resource: dict, ref: str, what: str, when: str) -> None:
        for t in _texts(resource.get("code")):
            if self.vocab.resembles_red_flag(t):
                present, _ = _presence(resource, allow_unsure=True) if resource.get("resourceType") == "Observation" \
                    else (True, "")
                self.put("red_flags", {"id": t.strip()[:200], "present": present}, when, ref)
                self.out.notes.append(f"{ref} ({what}): its code is not in the KB but its text reads like a red "
                                      "flag, so it is screened by that text")
                return
        self.skip(ref, what, "its code is not one compensa knows (see GET /v1/kb/vocabulary for the codes)")

    def condition(self, resource: dict, where: str) -> None:
        """Read one Condition: a red flag, a diagnosis, a finding or history (see :data:`_CONDITIONS`)."""
        ref, what = _ref(resource, where), _describe(resource.get("code"))
        other = self.other_patient(resource)
        if other:
            self.skip(ref, what, f"about {other}, not the patient in context")
            return
        status = _ConditionStatus.of(resource)
        if status.verification & {"refuted", "entered-in-error"}:
            self.skip(ref, what, f"verification status {', '.join(sorted(status.verification))}")
            return
        when = _when(resource)
        hits = _lookup(self.index, resource.get("code"))
        if not hits:
            self.unknown(resource, ref, what, when)
            return
        used = False
        for kind in _KINDS:
            ids = [i for k, i in hits if k == kind]
            read = _Reader._CONDITIONS.get(kind)
            if ids and read is not None:
                used = read(self, kind, ids, status, resource, ref, what, when) or used
        if not used and not any(n.resource == ref for n in self.out.not_used):
            self.skip(ref, what, "a Condition is read as a diagnosis or a red flag; this code is neither")

    def condition_red_flag(self, kind: str, ids: list[str], status: _ConditionStatus, resource: dict, ref: str,
                           what: str, when: str) -> bool:
        """A Condition that is a red flag: present, or unsure when resolved or unconfirmed (always used)."""
        present: bool | str = "unsure" if status.resolved or status.unconfirmed else True
        if present == "unsure":
            self.out.notes.append(f"{ref} ({what}): a {'resolved' if status.resolved else 'unconfirmed'} condition "
                                  "that is a red flag is read as unsure: a clinician should review it")
        for id_ in ids:
            self.put("red_flags", {"id": id_, "present": present}, when, ref)
        return True

    def condition_diagnosis(self, kind: str, ids: list[str], status: _ConditionStatus, resource: dict, ref: str,
                            what: str, when: str) -> bool:
        """A Condition that is a KB diagnosis: used only when current and confirmed."""
        if status.resolved or status.unconfirmed:
            self.skip(ref, what, "a resolved or unconfirmed condition is not a current diagnosis")
            return False
        self.sided(ids, "diagnoses", {}, resource, ref, what, when)
        return True

    def condition_present(self, kind: str, ids: list[str], status: _ConditionStatus, resource: dict, ref: str,
                          what: str, when: str) -> bool:
        """A Condition that is a KB finding or history item: present unless resolved."""
        if status.resolved:
            self.skip(ref, what, "resolved")
            return False
        if kind == "finding":
            self.sided(ids, "findings", {"present": True}, resource, ref, what, when)
        else:
            for id_ in ids:
                self.put("history", {"id": id_, "present": True}, when, ref)
        return True

    #: How a Condition is read for each KB kind its code maps to (other kinds are not read from a Condition).
    _CONDITIONS: ClassVar[dict[str, Callable[..., bool]]] = {
        "red_flag": condition_red_flag, "condition": condition_diagnosis,
        "history": condition_present, "finding": condition_present}

    def questionnaire_response(self, resource: dict, where: str) -> None:
        from compensa.app.fhir_questionnaire import items_from_questionnaire_response

        ref = _ref(resource, where)
        if resource.get("status") == "entered-in-error":
            self.skip(ref, "QuestionnaireResponse", "status entered-in-error")
            return
        other = self.other_patient(resource)
        if other:
            self.skip(ref, "QuestionnaireResponse", f"about {other}, not the patient in context")
            return
        when = _when(resource)
        items, context, unmapped = items_from_questionnaire_response(resource, self.kb)
        for section, item in items:
            self.put(section, item, when, ref)
        for key, value in context.items():
            if key not in self.context or self.context[key][0] < when:
                self.context[key] = (when, value)
        for link_id, why in unmapped:
            self.skip(f"{ref} item {link_id}", link_id, why)
        if ref not in self.out.sources:
            self.out.sources.append(ref)

    def resource(self, resource: object, where: str) -> None:
        bundle = isinstance(resource, dict) and resource.get("resourceType") == "Bundle"
        # a Bundle is checked without its entries, each of which is checked (and used or not) alone
        problem = validate_resource({k: v for k, v in resource.items() if k != "entry"}
                                    if bundle and isinstance(resource, dict) else resource)
        if bundle and problem is None and isinstance(resource, dict) \
                and not isinstance(resource.get("entry", []), list):
            problem = "invalid FHIR R4 Bundle: entry must be a list"
        if problem:
            what = resource.get("resourceType", "?") if isinstance(resource, dict) else "?"
            self.skip(_ref(resource, where) if isinstance(resource, dict) else where, str(what), problem)
            self.salvage(resource, where)
            return
        assert isinstance(resource, dict)
        handler = {"Patient": self.patient, "Observation": self.observation, "Condition": self.condition,
                   "QuestionnaireResponse": self.questionnaire_response}.get(resource["resourceType"])
        if resource["resourceType"] == "Bundle":
            self.bundle(resource, where)
        elif handler is None:
            self.skip(_ref(resource, where), resource["resourceType"],
                      "compensa reads Patient, Observation, Condition and QuestionnaireResponse only")
        else:
            handler(resource, where)

    def salvage(self, data: object, where: str, depth: int = 0) -> None:
        """Red flags in data that is not valid FHIR (a resource that fails validation, a Bundle whose
        ``entry`` is not a list, a bare list of resources) count as unsure: a red-flag answer is never
        dropped because its resource is malformed. A coded concept (``code``) anywhere in it that is a
        KB red flag, or reads like one, is screened -- unless its resource says it was entered in
        error, is refuted, or is about another patient."""
        if depth > 64:
            return
        if isinstance(data, list):
            for index, item in enumerate(data):
                self.salvage(item, f"{where}[{index}]", depth + 1)
            return
        if not isinstance(data, dict) or self.not_salvaged(data):
            return
        ref = _ref(data, where)
        self.salvage_red_flags(data, ref)
        for key, value in data.items():
            if key != "code" and isinstance(value, (dict, list)):
                self.salvage(value, f"{where}.{key}" if ref == where else f"{ref}.{key}", depth + 1)

    def not_salvaged(self, data: dict) -> bool:
        """Whether invalid data says it is not to be read: entered in error, cancelled, refuted, or
        about another patient."""
        if data.get("status") in ("entered-in-error", "cancelled") or self.other_patient(data):
            return True
        verification = {str(c.get("code")) for c in _codings(data.get("verificationStatus"))}
        return bool(verification & {"refuted", "entered-in-error"})

    def salvaged_flags(self, concept: object) -> list[str]:
        """The red flags a ``code`` of invalid data names: KB red flags, else (a code compensa does not
        know at all) the first text that reads like one."""
        flags = [i for k, i in _lookup(self.index, concept) if k == "red_flag"]
        if not flags and not _lookup(self.index, concept) and isinstance(concept, dict):
            flags = [t.strip()[:200] for t in _texts(concept) if self.vocab.resembles_red_flag(t)][:1]
        return flags

    def salvage_red_flags(self, data: dict, ref: str) -> None:
        """Put the red flags of one dict of invalid data as unsure, with a note saying why."""
        concept = data.get("code")
        flags = self.salvaged_flags(concept)
        when = _when(data) if _span(_when(data)) else ""  # its own date when readable, else undated
        for id_ in flags:
            self.put("red_flags", {"id": id_, "present": "unsure"}, when, ref)
        if flags:
            self.out.notes.append(f"{ref} ({_describe(concept)}): not valid FHIR, but it records a red flag, "
                                  "so that red flag is read as unsure")

    def bundle(self, bundle: dict, where: str) -> None:
        for index, entry in enumerate(bundle.get("entry") or []):
            spot = f"{where}.entry[{index}]"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if resource is None:
                self.skip(spot, "entry", "a Bundle entry with no resource")
                continue
            mode = (entry.get("search") or {}).get("mode") if isinstance(entry.get("search"), dict) else None
            if mode == "outcome" or (isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome"):
                self.skip(spot, "OperationOutcome", "a search outcome, not data about the patient")
                continue
            self.resource(resource, spot)


#: The prefetch keys compensa asks for in its discovery document.
PREFETCH_KEYS = ("patient", "observations", "conditions", "questionnaireResponses")


def case_from_fhir(prefetch: object, kb, patient_id: str | None = None,
                   today: datetime.date | None = None) -> FhirCase:
    """The compensa case in a CDS Hooks ``prefetch`` (see the module docstring), with what was not used."""
    reader = _Reader(kb, patient_id, today or datetime.date.today())
    if isinstance(prefetch, dict):
        for key, value in prefetch.items():
            where = f"prefetch.{key}"
            if key not in PREFETCH_KEYS:
                reader.skip(where, str(key), "a prefetch key compensa did not ask for")
                continue
            if value is None:
                continue  # the client could not fulfil it: nothing to read
            reader.resource(value, where)
    reader.case()
    return reader.out
