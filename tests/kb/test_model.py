"""The model's shared lookups: one link by (cause, effect), one region per node, one cached chain graph."""

from __future__ import annotations

import networkx as nx
import pytest

from compensa.kb import load_kb


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_link_finds_every_link_and_nothing_else(kb):
    for link in kb.links:
        assert kb.link(link.cause, link.effect) is link
    some = kb.links[0]
    assert kb.link(some.effect, some.cause) is None  # links have a direction (and the KB has no cycles)
    assert kb.link("no_such_node", some.effect) is None


def test_graph_is_the_chain_links_cached_and_frozen(kb):
    graph = kb.graph
    assert graph is kb.graph
    assert set(graph.edges) == {(link.cause, link.effect) for link in kb.links}
    assert set(kb.roots) | set(kb.dysfunctions) | set(kb.conditions) <= set(graph)
    assert all(graph.edges[link.cause, link.effect]["link"] is link for link in kb.links)
    assert nx.is_directed_acyclic_graph(graph)
    with pytest.raises(nx.NetworkXError):
        graph.add_edge("a", "b")


def test_descendants_agree_with_following_effects(kb):
    for root in kb.roots:
        walked, todo = set(), [root]
        while todo:
            for link in kb.effects_of(todo.pop()):
                if link.effect not in walked:
                    walked.add(link.effect)
                    todo.append(link.effect)
        assert nx.descendants(kb.graph, root) == walked, root


def test_region_of_each_kind_of_node(kb):
    muscle = next(iter(kb.muscles.values()))
    assert kb.region(muscle.id) == muscle.region
    assert kb.region(f"tight:{muscle.id}") == muscle.region
    site = next(iter(kb.pain_sites.values()))
    assert kb.region(site.id) == site.region
    for condition in kb.conditions.values():  # a condition is where it hurts most
        strongest = max(condition.sites, key=lambda s: s.strength, default=None)
        expected = kb.pain_sites[strongest.site].region if strongest else ""
        assert kb.region(condition.id) == expected, condition.id
    assessment = next(iter(kb.assessments.values()))
    assert kb.region(assessment.id) == assessment.region
    assert kb.region(next(iter(kb.history))) == "" and kb.region("no_such_id") == ""
