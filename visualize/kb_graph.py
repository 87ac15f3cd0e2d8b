"""The knowledge base's compensation network as a graph, for teaching (``compensa kb graph``).

Nodes are root imbalances (with their tight and weak muscles), dysfunctions, conditions and pain
sites; edges are the chain links (labelled with their strength, mechanism in the tooltip). It can
be narrowed to what one root reaches (``--root``) or to one body region and its neighbours
(``--region``).
"""

from __future__ import annotations

import networkx as nx

from compensa.errors import CaseError, Problem, closest
from compensa.kb.model import KnowledgeBase

__all__ = ["kb_graph"]


def kb_graph(kb: KnowledgeBase, root: str | None = None, region: str | None = None, muscles: bool = True) -> nx.DiGraph:
    """The KB's chain network; ``root`` keeps what that root reaches, ``region`` one body region (+ neighbours)."""
    graph: nx.DiGraph = nx.DiGraph(kb_version=kb.version_string)

    def add(node: str, role: str | None) -> None:
        if node not in graph:
            graph.add_node(node, kind="kb", role=role, id=node, label=kb.label(node), side="", region=kb.region(node))

    for r in kb.roots.values():
        add(r.id, "root")
        if muscles:
            for state, members in (("tight", r.tight), ("weak", r.weak)):
                for m in members:
                    node = f"{state}:{m}"
                    add(node, "muscle_state")
                    graph.add_edge(node, r.id, relation="member", label="", mechanism=f"{state} in {r.label}",
                                   source=r.source, strength=r.member_strength)
    for link in kb.links:
        add(link.cause, kb.node_kind(link.cause))
        add(link.effect, kb.node_kind(link.effect))
        graph.add_edge(link.cause, link.effect, relation="link", strength=link.strength, evidence=link.evidence,
                       mechanism=link.mechanism, source=link.source, label=f"{link.strength:g}")
    for condition in kb.conditions.values():
        add(condition.id, "condition")
        for site in condition.sites:
            add(site.site, "pain")
            graph.add_edge(condition.id, site.site, relation="site", strength=site.strength, label=f"{site.strength:g}",
                           mechanism=condition.summary, source=condition.source)
    if root is not None:
        if root not in kb.roots:
            raise CaseError(Problem(f"unknown root {root!r}", "--root", root, closest(root, sorted(kb.roots))))
        keep = {root} | nx.descendants(graph, root) | set(graph.predecessors(root))
        graph = graph.subgraph(keep).copy()
    if region is not None:
        if region not in kb.regions:
            raise CaseError(Problem(f"unknown region {region!r}", "--region", region, closest(region, kb.regions)))
        core = {n for n, d in graph.nodes(data=True) if d["region"] == region}
        keep = set(core)
        for n in core:
            keep |= set(graph.predecessors(n)) | set(graph.successors(n))
        graph = graph.subgraph(keep).copy()
    return graph
