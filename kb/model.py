"""The typed knowledge base: frozen records built once by :func:`compensa.kb.load_kb`.

Chain nodes (muscles, pain sites, roots, dysfunctions, conditions) share one id space; a muscle
state ("tight iliopsoas") is a node too, with id ``tight:iliopsoas``. Case terms (assessments,
history items, red flags) share a second id space. Every record keeps the :class:`Location` it was
read from, so messages and explanations can point at the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from types import MappingProxyType

from compensa.kb.yamlsource import Location

__all__ = [
    "Assessment",
    "Condition",
    "Criterion",
    "Member",
    "Dysfunction",
    "Effect",
    "HistoryItem",
    "Intervention",
    "KnowledgeBase",
    "Link",
    "YellowFlag",
    "Muscle",
    "PainSite",
    "RedFlag",
    "Root",
    "SiteLink",
    "Source",
    "chain_graph",
    "in_sentence",
    "muscle_state_id",
    "split_muscle_state",
]

STATES = ("tight", "weak")


@lru_cache(maxsize=4096)
def in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: lower case, except acronyms (TFL, SI, ITB) and codes."""
    words = []
    for word in label.split(" "):
        core = word.strip("()[],.;:")
        keep = (len(core) > 1 and core.isupper()) or any(ch.isdigit() for ch in core)
        words.append(word if keep else word.lower())
    return " ".join(words)


def muscle_state_id(muscle: str, state: str) -> str:
    """Node id of a muscle state, e.g. ``tight:iliopsoas``."""
    return f"{state}:{muscle}"


def split_muscle_state(node_id: str) -> tuple[str, str] | None:
    """``("tight", "iliopsoas")`` for a muscle-state node id, else ``None``."""
    state, sep, muscle = node_id.partition(":")
    return (state, muscle) if sep and state in STATES else None


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    citation: str
    url: str
    kind: str
    at: Location


@dataclass(frozen=True, slots=True)
class Muscle:
    id: str
    label: str
    aliases: tuple[str, ...]
    region: str
    sites: tuple[str, ...]
    action: str
    tendency: str
    opposes: tuple[str, ...]
    source: str
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)


@dataclass(frozen=True, slots=True)
class Intervention:
    """A stretch or strengthening exercise; ``avoid_with`` lists conditions it must not be given with.

    ``dose`` (sets, repetitions or hold, how often) and ``progression`` (how to make it harder, and
    when to step back) carry their own sources, ``dose_source`` and ``progression_source``.
    """

    id: str
    muscle: str
    action: str
    label: str
    how: str
    dose: str
    source: str
    at: Location
    avoid_with: tuple[str, ...] = ()
    caution: str = ""
    dose_source: str = ""
    progression: str = ""
    progression_source: str = ""


@dataclass(frozen=True, slots=True)
class PainSite:
    id: str
    label: str
    aliases: tuple[str, ...]
    region: str
    screen: tuple[str, ...]
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)


@dataclass(frozen=True, slots=True)
class Root:
    id: str
    label: str
    aliases: tuple[str, ...]
    kind: str
    sided: bool
    tight: tuple[str, ...]
    weak: tuple[str, ...]
    member_strength: float
    evidence: str
    summary: str
    source: str
    at: Location


@dataclass(frozen=True, slots=True)
class Dysfunction:
    id: str
    label: str
    aliases: tuple[str, ...]
    region: str
    sided: bool
    summary: str
    source: str
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)


@dataclass(frozen=True, slots=True)
class SiteLink:
    site: str
    strength: float
    evidence: str
    at: Location


@dataclass(frozen=True, slots=True)
class Condition:
    """A symptomatic condition. ``from_imbalance`` is false when no muscle imbalance contributes (no root
    need explain it); ``loading_first`` marks a tendon problem, whose plan loads before it stretches."""

    id: str
    label: str
    aliases: tuple[str, ...]
    sided: bool
    medical: bool
    summary: str
    source: str
    sites: tuple[SiteLink, ...]
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)
    from_imbalance: bool = True
    loading_first: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A cause -> effect chain link; ``strength`` is how far the effect points back to the cause."""

    cause: str
    effect: str
    strength: float
    evidence: str
    mechanism: str
    source: str
    at: Location

    @property
    def id(self) -> str:
        return f"{self.cause}->{self.effect}"


@dataclass(frozen=True, slots=True)
class Effect:
    """What one assessment result or history item does to a node (a muscle state or a KB node)."""

    target: str
    strength: float
    evidence: str
    at: Location


@dataclass(frozen=True, slots=True)
class Assessment:
    id: str
    label: str
    aliases: tuple[str, ...]
    kind: str  # finding | test
    region: str
    sided: bool
    how: str
    reading: str
    source: str
    outcomes: Mapping[str, tuple[Effect, ...]]  # result word -> effects
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)

    @property
    def results(self) -> tuple[str, str]:
        """The two result words: ``(present, absent)`` for findings, ``(positive, negative)`` for tests."""
        return ("present", "absent") if self.kind == "finding" else ("positive", "negative")


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: str
    label: str
    aliases: tuple[str, ...]
    effects: tuple[Effect, ...]
    source: str
    at: Location


@dataclass(frozen=True, slots=True)
class RedFlag:
    id: str
    label: str
    aliases: tuple[str, ...]
    question: str
    category: str
    level: str
    advice: str
    source: str
    at: Location
    codes: Mapping[str, str] = field(default_factory=dict)  # system -> code (snomed, icd10, icd10cm, loinc)


@dataclass(frozen=True, slots=True)
class Member:
    """One clause of a criterion: a piece of case evidence it needs.

    ``kind`` is an evidence kind (``test``, ``finding``, ``pain``, ``history``, ``red_flag``,
    ``diagnosis``, ``age``, ``sex``); ``values`` are the evidence values that satisfy it (a red flag
    is satisfied by ``present`` and by ``unsure``: safety first). For ``age`` the test is numeric:
    ``at_least`` / ``below`` years.
    """

    kind: str
    id: str
    values: tuple[str, ...]
    at: Location
    at_least: int = -1
    below: int = -1

    @property
    def sided(self) -> bool:
        """Whether the evidence this member reads can carry a side."""
        return self.kind in ("test", "finding", "pain", "diagnosis")

    def describe(self, kb: KnowledgeBase) -> str:
        """The member in words, e.g. ``thigh thrust test positive`` or ``age 50 or over``."""
        if self.kind == "age":
            parts = ([f"{self.at_least} or over"] if self.at_least >= 0 else []) + (
                [f"under {self.below}"] if self.below >= 0 else [])
            return "age " + " and ".join(parts)
        if self.kind == "sex":
            return self.id
        label = in_sentence(kb.label(self.id))
        word = {"pain": "pain", "red_flag": "yes or unsure", "history": "", "diagnosis": "diagnosed"}.get(
            self.kind, self.values[0])
        return f"{label} {word}".strip()


@dataclass(frozen=True, slots=True)
class Criterion:
    """A conjunctive clinical rule: every one of ``required``, at least ``need`` of ``members``, and
    none of ``excluded`` (on any side).

    ``need == len(members)`` is all-of too. With ``same_side`` every sided member must be on one side
    and the conclusion keeps it. When met, it supports ``effects`` (like a test result), raises an
    ``alarm`` (a red-flag cluster: the plan is withheld) and/or gives ``advice``.
    """

    id: str
    label: str
    aliases: tuple[str, ...]
    required: tuple[Member, ...]
    need: int
    members: tuple[Member, ...]
    excluded: tuple[Member, ...]
    same_side: bool
    effects: tuple[Effect, ...]
    alarm: str
    advice: str
    mechanism: str
    source: str
    at: Location


@dataclass(frozen=True, slots=True)
class YellowFlag:
    """A psychosocial screening item (fear, mood, worry, work...): it never withholds the plan.

    ``startback_item`` numbers it in the STarT Back tool (1-9; 5-9 are the psychosocial subscale);
    ``from_pain`` lists pain sites that answer the item yes (leg pain, neck or shoulder pain)."""

    id: str
    label: str
    aliases: tuple[str, ...]
    question: str
    startback_item: int
    psychosocial: bool
    from_pain: tuple[str, ...]
    advice: str
    source: str
    at: Location


def _quick_setstate(cls: type) -> None:
    """Unpickle a slotted frozen record (the KB cache) as dataclasses does, field by field through
    ``object.__setattr__``, with the field names looked up once per class instead of once per record
    (``dataclasses.fields`` was about 40 % of the time of loading the cached KB)."""
    names = tuple(f.name for f in fields(cls))
    assign = object.__setattr__

    def __setstate__(self, state) -> None:
        for name, value in zip(names, state):
            assign(self, name, value)

    __setstate__.__qualname__ = f"{cls.__qualname__}.__setstate__"
    cls.__setstate__ = __setstate__  # type: ignore[attr-defined]


for _record in (Source, Muscle, Intervention, PainSite, Root, Dysfunction, SiteLink, Condition, Link, Effect,
                Assessment, HistoryItem, RedFlag, Member, Criterion, YellowFlag):
    _quick_setstate(_record)
del _record


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


def chain_graph(nodes: Iterable[str], links: Iterable[tuple[str, str, dict]]):
    """The chain network as a frozen :class:`networkx.DiGraph`: ``nodes`` plus one edge per link.

    ``links`` are ``(cause, effect, data)``; ``data`` becomes the edge's attributes. The one builder
    behind :attr:`KnowledgeBase.graph` and the lint's graph checks (which run on the raw entries,
    before a model exists).
    """
    import networkx as nx  # on first use: importing compensa.kb stays light (networkx takes ~0.7 s)

    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    for cause, effect, data in links:
        graph.add_edge(cause, effect, **data)
    return nx.freeze(graph)


def _grouped(pairs: Iterable[tuple[object, object]]) -> dict:
    """``{key: (value, ...)}`` from ``(key, value)`` pairs, values in the order given."""
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return {k: tuple(v) for k, v in out.items()}


def _first(pairs: Iterable[tuple[object, object]]) -> dict:
    """``{key: value}`` keeping the first value given for each key."""
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _rebuild_kb(values: tuple) -> KnowledgeBase:
    return KnowledgeBase(**dict(values))


def _members(roots: Iterable[Root]) -> Iterable[tuple[str, Root]]:
    for root in roots:
        for state, muscles in (("tight", root.tight), ("weak", root.weak)):
            for muscle in muscles:
                yield muscle_state_id(muscle, state), root


@dataclass(frozen=True)
class KnowledgeBase:
    """The whole knowledge base, indexed by id. Build it with :func:`compensa.kb.load_kb`."""

    name: str
    version: str
    content_hash: str
    regions: tuple[str, ...]
    sources: Mapping[str, Source]
    muscles: Mapping[str, Muscle]
    interventions: Mapping[str, Intervention]
    pain_sites: Mapping[str, PainSite]
    roots: Mapping[str, Root]
    dysfunctions: Mapping[str, Dysfunction]
    conditions: Mapping[str, Condition]
    links: tuple[Link, ...]
    assessments: Mapping[str, Assessment]
    history: Mapping[str, HistoryItem]
    red_flags: Mapping[str, RedFlag]
    criteria: Mapping[str, Criterion] = field(default_factory=dict)
    yellow_flags: Mapping[str, YellowFlag] = field(default_factory=dict)
    path: str = ""
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("sources", "muscles", "interventions", "pain_sites", "roots", "dysfunctions",
                     "conditions", "assessments", "history", "red_flags", "criteria", "yellow_flags"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        index = self._index
        index["causes"] = _grouped((link.effect, link) for link in self.links)
        index["effects"] = _grouped((link.cause, link) for link in self.links)
        index["link"] = _first(((link.cause, link.effect), link) for link in self.links)
        index["conditions_at"] = _grouped((site.site, (condition, site)) for condition in self.conditions.values()
                                          for site in condition.sites)
        index["member_of"] = _grouped(_members(self.roots.values()))
        index["exercise"] = _first(((item.muscle, item.action), item) for item in self.interventions.values())
        index["kind"] = {}
        index["sided"] = {}
        index["label"] = {}

    def __reduce__(self):
        """Pickle as the constructor's arguments (plain dicts; the indexes are rebuilt), for the KB cache."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_index"}
        return _rebuild_kb, (tuple((k, dict(v) if isinstance(v, Mapping) else v) for k, v in values.items()),)

    @property
    def version_string(self) -> str:
        """The KB version every report carries: human version plus content hash."""
        return f"{self.name} {self.version}+{self.content_hash[:12]}"

    def causes_of(self, node_id: str) -> tuple[Link, ...]:
        """Links whose effect is ``node_id`` (what could have caused it)."""
        return self._index["causes"].get(node_id, ())

    def effects_of(self, node_id: str) -> tuple[Link, ...]:
        """Links whose cause is ``node_id`` (what it leads to)."""
        return self._index["effects"].get(node_id, ())

    def link(self, cause: str, effect: str) -> Link | None:
        """The chain link from ``cause`` to ``effect``, or ``None`` when the KB has none."""
        return self._index["link"].get((cause, effect))

    @cached_property
    def graph(self):
        """The chain network as a frozen :class:`networkx.DiGraph`, built once.

        Nodes are every root, dysfunction and condition; edges are the chain links (cause ->
        effect), each with its :class:`Link` as the ``link`` attribute. Use networkx on it
        (``nx.descendants``, ``nx.has_path``, ...) rather than walking :meth:`effects_of`.
        """
        return chain_graph([*self.roots, *self.dysfunctions, *self.conditions],
                           ((link.cause, link.effect, {"link": link}) for link in self.links))

    def conditions_at(self, site_id: str) -> tuple[tuple[Condition, SiteLink], ...]:
        """Conditions that hurt at ``site_id``, with the site link."""
        return self._index["conditions_at"].get(site_id, ())

    def roots_with(self, state_id: str) -> tuple[Root, ...]:
        """Roots whose tight or weak set contains the muscle state ``state_id``."""
        return self._index["member_of"].get(state_id, ())

    def exercise(self, muscle: str, action: str) -> Intervention | None:
        """The stretch or strengthening exercise for ``muscle``, if the KB has one."""
        return self._index["exercise"].get((muscle, action))

    def node(self, node_id: str):
        """The record of a chain node id (muscle state ids return the muscle), or ``None``."""
        state = split_muscle_state(node_id)
        if state:
            return self.muscles.get(state[1])
        for table in (self.roots, self.dysfunctions, self.conditions, self.pain_sites, self.muscles):
            if node_id in table:
                return table[node_id]
        return None

    def node_kind(self, node_id: str) -> str | None:
        """``root``, ``dysfunction``, ``condition``, ``pain_site``, ``muscle`` or ``muscle_state``."""
        kinds = self._index["kind"]
        try:
            return kinds[node_id]
        except KeyError:
            found = kinds[node_id] = self._node_kind(node_id)
            return found

    def _node_kind(self, node_id: str) -> str | None:
        if split_muscle_state(node_id):
            return "muscle_state"
        for kind, table in (("root", self.roots), ("dysfunction", self.dysfunctions),
                            ("condition", self.conditions), ("pain_site", self.pain_sites),
                            ("muscle", self.muscles)):
            if node_id in table:
                return kind
        return None

    def label(self, node_id: str) -> str:
        """A readable label for any node or case-term id (remembered for the KB's own ids)."""
        labels = self._index["label"]
        found = labels.get(node_id)
        if found is None:
            found, known = self._label(node_id)
            if known:  # an id the KB holds: a bounded set, whatever callers pass
                labels[node_id] = found
        return found

    def _label(self, node_id: str) -> tuple[str, bool]:
        state = split_muscle_state(node_id)
        if state:
            muscle = self.muscles.get(state[1])
            return f"{state[0]} {muscle.label if muscle else state[1]}", muscle is not None
        record = self.node(node_id)
        if record is None:
            record = (self.assessments.get(node_id) or self.history.get(node_id) or self.red_flags.get(node_id)
                      or self.criteria.get(node_id) or self.yellow_flags.get(node_id))
        return getattr(record, "label", node_id), record is not None

    def codes(self, record_id: str) -> Mapping[str, str]:
        """The standard codes of any entry with them (pain site, finding, test, condition, red flag...)."""
        for table in (self.conditions, self.pain_sites, self.assessments, self.red_flags, self.dysfunctions,
                      self.muscles):
            if record_id in table:
                return table[record_id].codes
        return {}

    def evidence_label(self, kind: str, id_: str, value: str) -> str:
        """A readable label of an evidence fact's subject: the KB label, or ``age 61`` / ``female`` for context."""
        if kind == "age":
            return f"age {value}"
        if kind == "sex":
            return id_
        return self.label(id_)

    def region(self, node_id: str) -> str:
        """The body region of a chain node or assessment id ("" when it has none).

        A muscle state is in its muscle's region; a condition, which has no region of its own, is
        in the region of the pain site it points to most strongly.
        """
        if node_id in self.conditions:
            sites = sorted(self.conditions[node_id].sites, key=lambda s: -s.strength)
            return self.pain_sites[sites[0].site].region if sites else ""
        record = self.node(node_id) or self.assessments.get(node_id)
        return getattr(record, "region", "") or ""

    def is_sided(self, node_id: str) -> bool:
        """Whether a node can be one-sided (muscle states and pain sites always can)."""
        sided = self._index["sided"]
        try:
            return sided[node_id]
        except KeyError:
            found = sided[node_id] = self._is_sided(node_id)
            return found

    def _is_sided(self, node_id: str) -> bool:
        kind = self.node_kind(node_id)
        if kind in ("muscle_state", "pain_site", "muscle"):
            return True
        record = self.node(node_id)
        return bool(getattr(record, "sided", False))

    def counts(self) -> dict[str, int]:
        """How many entries of each kind the KB holds."""
        findings = sum(1 for a in self.assessments.values() if a.kind == "finding")
        return {
            "muscles": len(self.muscles),
            "pain_sites": len(self.pain_sites),
            "roots": len(self.roots),
            "dysfunctions": len(self.dysfunctions),
            "conditions": len(self.conditions),
            "findings": findings,
            "tests": len(self.assessments) - findings,
            "history": len(self.history),
            "red_flags": len(self.red_flags),
            "interventions": len(self.interventions),
            "links": len(self.links),
            "criteria": len(self.criteria),
            "yellow_flags": len(self.yellow_flags),
            "sources": len(self.sources),
        }
