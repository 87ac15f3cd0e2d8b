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

import networkx as nx

from compensa.engine.reasoning import belief_key
from compensa.kb.model import KnowledgeBase, split_muscle_state

__all__ = ["explanation_graph", "focus", "graph_to_json", "node_id"]

_ROLE_OF_EVIDENCE = {"pain": "pain", "finding": "finding", "test": "test", "history": "history",
                     "diagnosis": "diagnosis", "red_flag": "red_flag"}


def node_id(key: tuple) -> str:
    """Stable readable node id for a fact key: ``ev:test:ober_test:right:positive``, ``belief:it_band_syndrome:right``."""
    kind = key[0]
    if kind == "Evidence":
        return "ev:" + ":".join(key[1:])
    if kind == "Belief":
        return f"belief:{key[1]}:{key[2]}"
    if kind == "Alarm":
        return f"alarm:{key[1]}"
    if kind == "Target":
        return f"target:{key[1]}:{key[2]}:{key[3]}"
    return ":".join(map(str, key))


def _region(kb: KnowledgeBase, node: str) -> str:
    state = split_muscle_state(node)
    if state:
        return kb.muscles[state[1]].region
    record = kb.node(node) or kb.assessments.get(node)
    if record is not None and getattr(record, "region", None):
        return record.region
    if node in kb.conditions:
        sites = sorted(kb.conditions[node].sites, key=lambda s: -s.strength)
        return kb.pain_sites[sites[0].site].region if sites else ""
    return ""


def _via_details(kb: KnowledgeBase, via: str) -> dict:
    kind, _, rest = via.partition(":")
    if kind == "link":
        cause, _, effect = rest.partition("->")
        for link in kb.causes_of(effect):
            if link.cause == cause:
                return {"via": via, "mechanism": link.mechanism, "source": link.source, "evidence": link.evidence}
    if kind == "effect":
        term, _, result = rest.partition(":")
        record = kb.assessments.get(term) or kb.history.get(term)
        if record is not None:
            text = getattr(record, "reading", None) or record.label
            return {"via": via, "mechanism": f"{record.label} {result}: {text}", "source": record.source}
    if kind == "site":
        condition, _, site = rest.partition("@")
        c = kb.conditions.get(condition)
        if c is not None:
            return {"via": via, "mechanism": f"{c.label} hurts at the {kb.label(site).lower()}: {c.summary}",
                    "source": c.source}
    if kind == "member":
        root = kb.roots.get(rest)
        if root is not None:
            return {"via": via, "mechanism": f"Part of the {root.label} pattern: {root.summary}", "source": root.source}
    if kind == "plan":
        root = kb.roots.get(rest)
        if root is not None:
            return {"via": via, "mechanism": f"{root.label}: stretch what is tight, strengthen what is weak",
                    "source": root.source}
    if kind == "flag":
        flag = kb.red_flags.get(rest)
        if flag is not None:
            return {"via": via, "mechanism": flag.advice, "source": flag.source}
    return {"via": via, "mechanism": "", "source": ""}


def explanation_graph(report) -> nx.DiGraph:
    """Build the full provenance graph of a :class:`~compensa.engine.Report` (every support recorded)."""
    kb: KnowledgeBase = report.kb
    reasoning = report.reasoning
    graph = nx.DiGraph(kb_version=kb.version_string, case=report.case.name)
    pain = {(e.id, e.side) for e in report.case.of_kind("pain")}
    target_view = {(t.muscle, t.action, t.side or ""): t for t in report.targets}

    def add_fact(key: tuple) -> str:
        key = reasoning.reported_key(key)  # a node without a side is one node, whatever side its evidence had
        nid = node_id(key)
        if nid in graph:
            return nid
        if key[0] == "Evidence":
            _, kind, id_, side, value = key
            graph.add_node(nid, kind="evidence", role=_ROLE_OF_EVIDENCE[kind], id=id_, side=side, value=value,
                           label=kb.label(id_), region=kb.pain_sites[id_].region if kind == "pain" else _region(kb, id_),
                           confidence=1.0, painful=kind == "pain")
        elif key[0] == "Belief":
            _, node, side = key
            state = split_muscle_state(node)
            graph.add_node(nid, kind="belief", role=kb.node_kind(node), id=node, side=side, label=kb.label(node),
                           region=_region(kb, node), confidence=reasoning.reported_cf(key),
                           state=state[0] if state else None, shown=reasoning.shown(key))
        elif key[0] == "Alarm":
            graph.add_node(nid, kind="belief", role="alarm", id=key[1], side="", label=kb.label(key[1]),
                           region="", confidence=1.0, level=key[2])
        elif key[0] == "Target":
            _, muscle, action, side, root = key
            view = target_view.get((muscle, action, side))
            graph.add_node(nid, kind="target", role=action, id=muscle, side=side, label=kb.muscles[muscle].label,
                           region=kb.muscles[muscle].region, root=root,
                           confidence=reasoning.reported_cf(belief_key(root, side)),
                           selected=view is not None,
                           roots=tuple([view.root, *view.also_roots]) if view else (),
                           painful=bool(view and view.painful) or any(
                               s in kb.muscles[muscle].sites and (not side or not ps or ps == side) for s, ps in pain))
        return nid

    for support in reasoning.supports:
        if support.conclusion[0] == "Plan":
            continue  # the plan's muscles are drawn as its Target conclusions
        premise = add_fact(support.premise)
        conclusion = add_fact(support.conclusion)
        firing = f"rule:{support.rule}@{premise}"
        if firing not in graph:
            graph.add_node(firing, kind="firing", role="rule", rule=support.rule, label=support.rule, region="")
            graph.add_edge(premise, firing, relation="used")
        contribution = 0.0
        if support.conclusion[0] == "Belief":
            for part in reasoning.contributions(support.conclusion):
                if part.support == support:
                    contribution = part.value
        if graph.has_edge(firing, conclusion):  # the same step from several instances: show the strongest
            previous = graph.edges[firing, conclusion]["contribution"]
            contribution = contribution if abs(contribution) > abs(previous) else previous
        graph.add_edge(firing, conclusion, relation="generated", strength=support.strength,
                       contribution=round(contribution, 4), **_via_details(kb, support.via))
    return graph


def focus(graph: nx.DiGraph, report, roots: int = 3) -> nx.DiGraph:
    """The readable view: what explains the top roots, the selected targets and the reported conditions.

    Keeps every live path (edges that actually contributed) from evidence to the top ``roots``
    root beliefs and the selected targets, plus the paths from pain to the reported conditions.
    """
    keep_ids: set[str] = set()
    top = [belief_key(r.id, r.side or "") for r in report.root_causes[:roots]]
    wanted = [node_id(k) for k in top]
    wanted += [n for n, d in graph.nodes(data=True) if d.get("kind") == "target" and d.get("selected")]
    wanted += [node_id(belief_key(c.id, c.side or "")) for c in report.conditions[:3]]
    wanted += [n for n, d in graph.nodes(data=True) if d.get("role") == "alarm"]
    live = nx.DiGraph()
    live.add_nodes_from(graph.nodes(data=True))
    for u, v, d in graph.edges(data=True):
        target = graph.nodes[v] if graph.nodes[v].get("kind") == "target" else None
        if target is not None:
            # a target is drawn from the roots that chose it, not from every root that lists the muscle
            if target.get("selected") and d.get("via", "").removeprefix("plan:") in target.get("roots", ()):
                live.add_edge(u, v, **d)
        elif d.get("relation") == "used" or d.get("contribution", 0.0) != 0.0 or graph.nodes[v].get("role") == "alarm":
            live.add_edge(u, v, **d)
    # a firing is live only if one of its generated edges is
    for n, d in list(live.nodes(data=True)):
        if d.get("kind") == "firing" and live.out_degree(n) == 0:
            live.remove_node(n)
    for w in wanted:
        if w in live:
            keep_ids.add(w)
            keep_ids |= nx.ancestors(live, w)
    for n, d in graph.nodes(data=True):  # every piece of evidence given stays visible
        if d.get("kind") == "evidence":
            keep_ids.add(n)
    out = nx.DiGraph(**graph.graph)  # built in the original order, so the result never depends on set order
    out.add_nodes_from((n, d) for n, d in live.nodes(data=True) if n in keep_ids)
    out.add_edges_from((u, v, d) for u, v, d in live.edges(data=True) if u in keep_ids and v in keep_ids)
    return out


def graph_to_json(graph: nx.DiGraph) -> dict:
    """Node-link JSON of a graph (``nodes`` and ``edges``)."""
    return nx.node_link_data(graph, edges="edges")
