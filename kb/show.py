"""``kb show``: one knowledge-base entry with its links both ways, as data and as YAML text.

:func:`describe` gives the data (the CLI's ``--format json`` and the KB browser); :func:`show` is the
whole answer of ``kb show [ID]`` (the KB summary without an id) and :func:`to_yaml` its text form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import yaml

from compensa.errors import Problem, UsageError, closest
from compensa.kb.model import KnowledgeBase, muscle_state_id

__all__ = ["describe", "entry_kinds", "plain", "show", "summary", "to_yaml"]

#: Every table ``kb show`` looks in, as (entry kind, KnowledgeBase attribute).
_TABLES = (("root", "roots"), ("dysfunction", "dysfunctions"), ("condition", "conditions"), ("muscle", "muscles"),
           ("pain_site", "pain_sites"), ("assessment", "assessments"), ("history", "history"),
           ("red_flag", "red_flags"), ("source", "sources"), ("intervention", "interventions"))

#: Tables whose records may cite a source (links are counted separately).
_CITING = ("roots", "dysfunctions", "conditions", "assessments", "muscles", "red_flags", "history")


def plain(value):
    """A KB record as JSON-ready data (dataclasses, tuples and mappings unpacked; source locations left out)."""
    if is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value) if f.name != "at"}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: plain(v) for k, v in value.items()}
    return value


def entry_kinds(kb: KnowledgeBase, entry_id: str) -> list[tuple[str, Any]]:
    """Every (kind, record) with this id: a finding and a dysfunction may share one."""
    return [(kind, getattr(kb, table)[entry_id]) for kind, table in _TABLES if entry_id in getattr(kb, table)]


def _link_view(link, direction: str) -> dict:
    return {"id": link.cause if direction == "cause" else link.effect, "strength": link.strength,
            "evidence": link.evidence, "mechanism": link.mechanism, "source": link.source}


def _assessed_by(kb: KnowledgeBase, hits: Callable[[str], bool]) -> list[str]:
    """Assessments with any result whose effect target satisfies ``hits``."""
    return sorted({a.id for a in kb.assessments.values() for effects in a.outcomes.values() for e in effects
                   if hits(e.target)})


def _chain_node(kb: KnowledgeBase, entry_id: str) -> dict:
    """A root, dysfunction or condition: the links into and out of it, and what assesses it."""
    return {"caused_by": [_link_view(x, "cause") for x in kb.causes_of(entry_id)],
            "leads_to": [_link_view(x, "effect") for x in kb.effects_of(entry_id)],
            "assessed_by": _assessed_by(kb, lambda target: target == entry_id)}


def _muscle(kb: KnowledgeBase, entry_id: str) -> dict:
    """A muscle: the roots it is tight or weak in, the assessments of its states, its exercises."""
    return {"in_roots": {state: [r.id for r in kb.roots_with(muscle_state_id(entry_id, state))]
                         for state in ("tight", "weak")},
            "assessed_by": _assessed_by(kb, lambda target: target.endswith(f":{entry_id}")),
            "exercises": [i.id for i in kb.interventions.values() if i.muscle == entry_id]}


def _pain_site(kb: KnowledgeBase, entry_id: str) -> dict:
    """A pain site: the conditions that hurt there and the muscles that lie there."""
    return {"conditions": [{"id": c.id, "strength": s.strength} for c, s in kb.conditions_at(entry_id)],
            "muscles_here": sorted(m.id for m in kb.muscles.values() if entry_id in m.sites)}


def _source(kb: KnowledgeBase, entry_id: str) -> dict:
    """A source: every link and entry that cites it."""
    links = {link.id for link in kb.links if link.source == entry_id}
    records = {r.id for table in _CITING for r in getattr(kb, table).values() if getattr(r, "source", None) == entry_id}
    return {"cited_by": sorted(links | records)}


#: The links-both-ways part of each kind's entry (kinds not listed show their record only).
_DESCRIBERS: dict[str, Callable[[KnowledgeBase, str], dict]] = {
    "root": _chain_node, "dysfunction": _chain_node, "condition": _chain_node,
    "muscle": _muscle, "pain_site": _pain_site, "source": _source}


def _unknown(kb: KnowledgeBase, entry_id: str) -> UsageError:
    known = sorted({i for _, table in _TABLES for i in getattr(kb, table)})
    return UsageError(Problem(f"no KB entry with id {entry_id!r}", "kb show", entry_id, closest(entry_id, known)))


def _readable(kb: KnowledgeBase, name: str) -> str:
    """The id a readable name ("Thomas test", "glute med") gives in the first kind that knows it."""
    from compensa.kb.vocabulary import KINDS, Vocabulary

    vocab = kb._index.get("vocabulary")
    if vocab is None:
        vocab = kb._index["vocabulary"] = Vocabulary(kb)
    return next((found for kind in KINDS if (found := vocab.resolve(kind, name))), name)


def describe(kb: KnowledgeBase, entry_id: str) -> list[dict]:
    """Data for ``kb show ID``: each entry with that id, with incoming and outgoing links.

    Raises :class:`~compensa.errors.UsageError` naming the closest ids when no entry has this id.
    """
    found = entry_kinds(kb, entry_id) or entry_kinds(kb, _readable(kb, entry_id))
    if not found:
        raise _unknown(kb, entry_id)
    out = []
    for kind, record in found:
        data = {"entry_type": kind, "at": str(record.at), **plain(record)}
        describer = _DESCRIBERS.get(kind)
        if describer is not None:
            data.update(describer(kb, entry_id))
        source = getattr(record, "source", None)
        if source and source in kb.sources:
            data["source_citation"] = kb.sources[source].citation
        out.append(data)
    return out


def summary(kb: KnowledgeBase) -> dict:
    """What ``kb show`` without an id answers: the KB version, its counts and where it was read from."""
    return {"kb_version": kb.version_string, "counts": kb.counts(), "path": kb.path}


def show(kb: KnowledgeBase, entry_id: str | None = None) -> dict | list[dict]:
    """The answer of ``kb show [ID]``: the summary, one entry, or a list when kinds share the id."""
    if not entry_id:
        return summary(kb)
    entries = describe(kb, entry_id)
    return entries if len(entries) > 1 else entries[0]


def to_yaml(data: dict | list) -> str:
    """The text form of :func:`show`'s answer: the same data as block YAML, in its own key order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
