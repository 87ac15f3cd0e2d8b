"""``kb show``: one knowledge-base entry with its links both ways (as data; the CLI formats it)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from compensa.errors import KBError, Problem, closest
from compensa.kb.model import KnowledgeBase, muscle_state_id

__all__ = ["describe", "entry_kinds"]


def _plain(value):
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.name != "at"}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def entry_kinds(kb: KnowledgeBase, entry_id: str) -> list[tuple[str, object]]:
    """Every (kind, record) with this id: a finding and a dysfunction may share one."""
    out = []
    for kind, table in (("root", kb.roots), ("dysfunction", kb.dysfunctions), ("condition", kb.conditions),
                        ("muscle", kb.muscles), ("pain_site", kb.pain_sites), ("assessment", kb.assessments),
                        ("history", kb.history), ("red_flag", kb.red_flags), ("source", kb.sources),
                        ("intervention", kb.interventions)):
        if entry_id in table:
            out.append((kind, table[entry_id]))
    return out


def _link_view(link, direction: str) -> dict:
    return {"id": link.cause if direction == "cause" else link.effect, "strength": link.strength,
            "evidence": link.evidence, "mechanism": link.mechanism, "source": link.source}


def describe(kb: KnowledgeBase, entry_id: str) -> list[dict]:
    """Data for ``kb show ID``: each entry with that id, with incoming and outgoing links."""
    found = entry_kinds(kb, entry_id)
    if not found:
        known = sorted(set(kb.roots) | set(kb.dysfunctions) | set(kb.conditions) | set(kb.muscles)
                       | set(kb.pain_sites) | set(kb.assessments) | set(kb.history) | set(kb.red_flags)
                       | set(kb.sources))
        raise KBError(Problem(f"no KB entry with id {entry_id!r}", "kb show", entry_id, closest(entry_id, known)))
    out = []
    for kind, record in found:
        data = {"entry_type": kind, "at": str(record.at), **_plain(record)}
        if kind in ("dysfunction", "condition", "root"):
            data["caused_by"] = [_link_view(x, "cause") for x in kb.causes_of(entry_id)]
            data["leads_to"] = [_link_view(x, "effect") for x in kb.effects_of(entry_id)]
            data["assessed_by"] = sorted({a.id for a in kb.assessments.values()
                                          for effects in a.outcomes.values() for e in effects if e.target == entry_id})
        if kind == "muscle":
            data["in_roots"] = {state: [r.id for r in kb.roots_with(muscle_state_id(entry_id, state))]
                                for state in ("tight", "weak")}
            data["assessed_by"] = sorted({a.id for a in kb.assessments.values() for effects in a.outcomes.values()
                                          for e in effects if e.target.endswith(f":{entry_id}")})
            data["exercises"] = [i.id for i in kb.interventions.values() if i.muscle == entry_id]
        if kind == "pain_site":
            data["conditions"] = [{"id": c.id, "strength": s.strength} for c, s in kb.conditions_at(entry_id)]
            data["muscles_here"] = sorted(m.id for m in kb.muscles.values() if entry_id in m.sites)
        if kind == "source":
            data["cited_by"] = sorted({f"{x.cause}->{x.effect}" for x in kb.links if x.source == entry_id}
                                      | {r.id for t in (kb.roots, kb.dysfunctions, kb.conditions, kb.assessments,
                                                          kb.muscles, kb.red_flags, kb.history)
                                         for r in t.values() if getattr(r, "source", None) == entry_id})
        source = getattr(record, "source", None)
        if source and source in kb.sources:
            data["source_citation"] = kb.sources[source].citation
        out.append(data)
    return out
