"""A consultation's provenance as a networkx DiGraph (pure; no rendering here).

The shape follows W3C PROV: **entities** are facts (evidence given in the case, beliefs derived
from it, targets), **activities** are rule firings. Edges run with the flow of reasoning:
``entity --used--> activity --generated--> entity``. Every *generated* edge carries the KB item that
justifies it (a chain link with its mechanism sentence and source, an assessment result, a site
link, a root's member list) and how much it contributed.

Node attributes: ``kind`` (evidence | belief | firing | target), ``role`` (pain, finding, test,
history, diagnosis, red_flag, condition, dysfunction, root, muscle_state, alarm, stretch,
strengthen), ``label``, ``side``, ``region``, ``confidence``, ``painful`` (targets, pain).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from compensa.engine.reasoning import belief_key
from compensa.engine.report_model import Target
from compensa.kb.model import KnowledgeBase, split_muscle_state

__all__ = ["explanation_graph", "focus", "graph_to_json", "node_id"]

_ROLE_OF_EVIDENCE = {"pain": "pain", "finding": "finding", "test": "test", "history": "history",
                     "diagnosis": "diagnosis", "red_flag": "red_flag", "age": "history", "sex": "history"}


def node_id(key: tuple) -> str:
    """Stable readable node id for a fact key: ``ev:test:ober_test:right:positive``, ``belief:it_band_syndrome:right``."""
    kind = key[0]
    if kind == "Evidence":
        return "ev:" + ":".join(key[1:])
    if kind == "Belief":
        return f"belief:{key[1]}:{key[2]}"
    if kind == "Alarm":
        return f"alarm:{key[1]}"
    if kind == "Criterion":
        return f"criterion:{key[1]}:{key[2]}"
    if kind == "Target":
        return f"target:{key[1]}:{key[2]}:{key[3]}"
    return ":".join(map(str, key))


def _via_link(kb: KnowledgeBase, rest: str) -> dict | None:
    cause, _, effect = rest.partition("->")
    link = kb.link(cause, effect)
    if link is None:
        return None
    return {"mechanism": link.mechanism, "source": link.source, "evidence": link.evidence}


def _via_effect(kb: KnowledgeBase, rest: str) -> dict | None:
    term, _, result = rest.partition(":")
    record = kb.assessments.get(term) or kb.history.get(term)
    if record is None:
        return None
    text = getattr(record, "reading", None) or record.label
    return {"mechanism": f"{record.label} {result}: {text}", "source": record.source}


def _via_site(kb: KnowledgeBase, rest: str) -> dict | None:
    condition, _, site = rest.partition("@")
    c = kb.conditions.get(condition)
    if c is None:
        return None
    return {"mechanism": f"{c.label} hurts at the {kb.label(site).lower()}: {c.summary}", "source": c.source}


def _via_member(kb: KnowledgeBase, rest: str) -> dict | None:
    root = kb.roots.get(rest)
    if root is None:
        return None
    return {"mechanism": f"Part of the {root.label} pattern: {root.summary}", "source": root.source}


def _via_plan(kb: KnowledgeBase, rest: str) -> dict | None:
    root = kb.roots.get(rest)
    if root is None:
        return None
    return {"mechanism": f"{root.label}: stretch what is tight, strengthen what is weak", "source": root.source}


def _via_flag(kb: KnowledgeBase, rest: str) -> dict | None:
    flag = kb.red_flags.get(rest)
    if flag is None:
        return None
    return {"mechanism": flag.advice, "source": flag.source}


def _via_criterion(kb: KnowledgeBase, rest: str) -> dict | None:
    criterion = kb.criteria.get(rest)
    if criterion is None:
        return None
    return {"mechanism": criterion.mechanism, "source": criterion.source}


#: What justifies a step, by the kind named in its ``via`` (``kind:rest``).
_VIA = {"link": _via_link, "effect": _via_effect, "site": _via_site, "member": _via_member, "plan": _via_plan,
        "flag": _via_flag, "criterion": _via_criterion}


def _via_details(kb: KnowledgeBase, via: str) -> dict:
    kind, _, rest = via.partition(":")
    lookup = _VIA.get(kind)
    found = lookup(kb, rest) if lookup else None
    return {"via": via, **(found or {"mechanism": "", "source": ""})}


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the case says that target nodes need: pain sites given, and the plan's entries by key."""

    pain: set[tuple[str, str]]
    views: dict[tuple[str, str, str], Target]


def _evidence_node(kb: KnowledgeBase, key: tuple) -> dict:
    _, kind, id_, side, value = key
    return dict(kind="evidence", role=_ROLE_OF_EVIDENCE[kind], id=id_, side=side, value=value,
                label=kb.evidence_label(kind, id_, value),
                region=kb.region(id_), confidence=1.0, painful=kind == "pain")


def _belief_node(kb: KnowledgeBase, reasoning, key: tuple) -> dict:
    _, node, side = key
    state = split_muscle_state(node)
    return dict(kind="belief", role=kb.node_kind(node), id=node, side=side, label=kb.label(node),
                region=kb.region(node), confidence=reasoning.reported_cf(key),
                state=state[0] if state else None, shown=reasoning.shown(key))


def _alarm_node(kb: KnowledgeBase, key: tuple) -> dict:
    return dict(kind="belief", role="alarm", id=key[1], side="", label=kb.label(key[1]), region="", confidence=1.0,
                level=key[2])


def _criterion_node(kb: KnowledgeBase, reasoning, key: tuple) -> dict:
    """A met criterion: a join of its members' evidence (certain, as they are)."""
    criterion = kb.criteria[key[1]]
    return dict(kind="belief", role="criterion", id=key[1], side=key[2], label=criterion.label, region="",
                confidence=reasoning.cf(key), source=criterion.source)


def _target_node(kb: KnowledgeBase, reasoning, key: tuple, facts: _Facts) -> dict:
    _, muscle, action, side, root = key
    view = facts.views.get((muscle, action, side))
    record = kb.muscles[muscle]
    painful = bool(view and view.painful) or any(
        s in record.sites and (not side or not ps or ps == side) for s, ps in facts.pain)
    return dict(kind="target", role=action, id=muscle, side=side, label=record.label, region=record.region, root=root,
                confidence=reasoning.reported_cf(belief_key(root, side)), selected=view is not None,
                roots=tuple([view.root, *view.also_roots]) if view else (), painful=painful)


def _fact_node(kb: KnowledgeBase, reasoning, key: tuple, facts: _Facts) -> dict:
    """The node attributes of a fact (see the module docstring)."""
    kind = key[0]
    if kind == "Evidence":
        return _evidence_node(kb, key)
    if kind == "Belief":
        return _belief_node(kb, reasoning, key)
    if kind == "Alarm":
        return _alarm_node(kb, key)
    if kind == "Criterion":
        return _criterion_node(kb, reasoning, key)
    return _target_node(kb, reasoning, key, facts)


def _contribution(reasoning, support) -> float:
    """What this support added to its belief (0 for a target, alarm or a step that did not propagate)."""
    if support.conclusion[0] not in ("Belief", "Criterion"):
        return 0.0
    return next((part.value for part in reasoning.contributions(support.conclusion) if part.support == support), 0.0)


def explanation_graph(report) -> nx.DiGraph:
    """Build the full provenance graph of a :class:`~compensa.engine.Report` (every support recorded)."""
    kb: KnowledgeBase = report.kb
    reasoning = report.reasoning
    graph: nx.DiGraph = nx.DiGraph(kb_version=kb.version_string, case=report.case.name)
    facts = _Facts(pain={(e.id, e.side) for e in report.case.of_kind("pain")},
                   views={(t.muscle, t.action, t.side or ""): t for t in report.targets})

    def add_fact(key: tuple) -> str:
        key = reasoning.reported_key(key)  # a node without a side is one node, whatever side its evidence had
        nid = node_id(key)
        if nid not in graph:
            graph.add_node(nid, **_fact_node(kb, reasoning, key, facts))
        return nid

    for support in reasoning.supports:
        if support.conclusion[0] == "Plan":
            continue  # the plan's muscles are drawn as its Target conclusions
        premise = add_fact(support.premise)
        conclusion = add_fact(support.conclusion)
        joined = support.conclusion[0] == "Criterion"  # one firing joins all the members' evidence
        firing = f"rule:{support.rule}" + ("" if joined else f"@{premise}")
        if firing not in graph:
            graph.add_node(firing, kind="firing", role="rule", rule=support.rule, label=support.rule, region="")
        graph.add_edge(premise, firing, relation="used")
        contribution = _contribution(reasoning, support)
        if graph.has_edge(firing, conclusion):  # the same step from several instances: show the strongest
            previous = graph.edges[firing, conclusion]["contribution"]
            contribution = contribution if abs(contribution) > abs(previous) else previous
        graph.add_edge(firing, conclusion, relation="generated", strength=support.strength,
                       contribution=round(contribution, 4), **_via_details(kb, support.via))
    return graph


def _wanted(graph: nx.DiGraph, report, roots: int) -> list[str]:
    """The nodes a focused view explains: top roots, selected targets, reported conditions, alarms."""
    wanted = [node_id(belief_key(r.id, r.side or "")) for r in report.root_causes[:roots]]
    wanted += [n for n, d in graph.nodes(data=True) if d.get("kind") == "target" and d.get("selected")]
    wanted += [node_id(belief_key(c.id, c.side or "")) for c in report.conditions[:3]]
    wanted += [n for n, d in graph.nodes(data=True) if d.get("role") == "alarm"]
    return wanted


def _is_live(graph: nx.DiGraph, v: str, data: dict) -> bool:
    """Whether an edge into ``v`` carries the explanation (it contributed, or it is used or alarming)."""
    node = graph.nodes[v]
    if node.get("kind") == "target":
        # a target is drawn from the roots that chose it, not from every root that lists the muscle
        return bool(node.get("selected")) and data.get("via", "").removeprefix("plan:") in node.get("roots", ())
    return data.get("relation") == "used" or data.get("contribution", 0.0) != 0.0 or node.get("role") == "alarm"


def _live(graph: nx.DiGraph) -> nx.DiGraph:
    """Every node, and only the edges that actually contributed (firings without one dropped)."""
    live: nx.DiGraph = nx.DiGraph()
    live.add_nodes_from(graph.nodes(data=True))
    live.add_edges_from((u, v, d) for u, v, d in graph.edges(data=True) if _is_live(graph, v, d))
    # a firing is live only if one of its generated edges is
    live.remove_nodes_from([n for n, d in graph.nodes(data=True) if d.get("kind") == "firing" and live.out_degree(n) == 0])
    return live


def focus(graph: nx.DiGraph, report, roots: int = 3) -> nx.DiGraph:
    """The readable view: what explains the top roots, the selected targets and the reported conditions.

    Keeps every live path (edges that actually contributed) from evidence to the top ``roots``
    root beliefs and the selected targets, plus the paths from pain to the reported conditions.
    """
    live = _live(graph)
    keep: set[str] = {n for n, d in graph.nodes(data=True) if d.get("kind") == "evidence"}  # all evidence stays
    for w in _wanted(graph, report, roots):
        if w in live:
            keep |= {w} | nx.ancestors(live, w)
    out: nx.DiGraph = nx.DiGraph(**graph.graph)  # built in the original order, so the result never depends on set order
    out.add_nodes_from((n, d) for n, d in live.nodes(data=True) if n in keep)
    out.add_edges_from((u, v, d) for u, v, d in live.edges(data=True) if u in keep and v in keep)
    return out


def graph_to_json(graph: nx.DiGraph) -> dict:
    """Node-link JSON of a graph (``nodes`` and ``edges``)."""
    return nx.node_link_data(graph, edges="edges")
