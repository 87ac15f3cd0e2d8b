"""Explanation graphs: structure, paths from targets to pain, and safety of labels."""

from __future__ import annotations

import networkx as nx
import pytest

from compensa.engine import consult
from compensa.visualize import dot_available, explanation_graph, focus, graph_to_json, to_dot
from compensa.visualize.graph import node_id


@pytest.fixture(scope="module")
def report():
    return consult({"name": "knee", "pain": [{"site": "lateral_knee", "side": "right"}],
                    "findings": [{"id": "knee_valgus", "side": "right"}],
                    "tests": ["trendelenburg:positive:right", "ober_test:positive:right", "thomas_test:negative:right"]})


def test_graph_is_a_prov_shaped_dag(report):
    graph = explanation_graph(report)
    assert nx.is_directed_acyclic_graph(graph)
    for u, v, data in graph.edges(data=True):
        kinds = (graph.nodes[u]["kind"], graph.nodes[v]["kind"])
        assert (data["relation"], kinds[1] == "firing") in (("used", True), ("generated", False)), (u, v)
    link_edges = [d for _, _, d in graph.edges(data=True) if d.get("via", "").startswith("link:")]
    assert link_edges and all(d["mechanism"] and d["source"] for d in link_edges)


def test_every_target_has_a_path_to_a_reported_pain_site(report):
    graph = focus(explanation_graph(report), report)
    pains = [n for n, d in graph.nodes(data=True) if d.get("role") == "pain"]
    for target in report.targets:
        nid = node_id(("Target", target.muscle, target.action, target.side or "", target.root))
        assert any(nx.has_path(graph, p, nid) for p in pains), target.muscle


def test_focus_is_smaller_and_keeps_all_evidence(report):
    full = explanation_graph(report)
    small = focus(full, report)
    assert small.number_of_nodes() < full.number_of_nodes()
    assert {n for n, d in full.nodes(data=True) if d["kind"] == "evidence"} <= set(small)


def test_node_link_json_round_trips(report):
    data = graph_to_json(explanation_graph(report))
    assert {"nodes", "edges"} <= set(data) and data["nodes"]


HOSTILE = ['"];\ndigraph x { evil -> owned }\n//', "<script>alert(1)</script>", "back\\slash \\n \\l", "}\n}\n{"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_case_text_cannot_break_dot(text):
    report = consult({"name": text, "pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]})
    graph = focus(explanation_graph(report), report)
    source = to_dot(graph, f"compensa explanation — {report.case.name}", report.kb.regions)
    # the hostile name stays inside the one quoted title: newlines flattened, quotes and backslashes escaped
    quoted = "".join(ch if ch.isprintable() else " " for ch in text).replace("\\", "\\\\").replace('"', '\\"')
    [title] = [line for line in source.splitlines() if "compensa explanation" in line]
    assert f'label="compensa explanation — {quoted}"' in title
    assert [line for line in source.splitlines() if "digraph" in line and "compensa explanation" not in line] == [
        "digraph compensa {"]
    if not dot_available():
        pytest.skip("Graphviz dot not installed")
    import graphviz

    plain = graphviz.Source(source).pipe(format="plain").decode()
    names = {line.split()[1] for line in plain.splitlines() if line.startswith("node ")}
    # every drawn node is one we made (n0, n1, ... and the legend): nothing was injected
    assert names and all(n.startswith("n") and n[1:].isdigit() or n == "legend" for n in names), names
    svg = graphviz.Source(source).pipe(format="svg").decode()
    assert "<script>" not in svg
