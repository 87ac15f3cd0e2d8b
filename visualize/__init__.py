"""Explanations: provenance graphs (networkx), their rendering (Graphviz) and text views."""

from compensa.visualize.dot import dot_available, to_dot, write_graph
from compensa.visualize.explain import how, to_text, why_not, why_target
from compensa.visualize.graph import explanation_graph, focus, graph_to_json
from compensa.visualize.kb_graph import kb_graph

__all__ = ["dot_available", "explanation_graph", "focus", "graph_to_json", "how", "kb_graph", "render_report_graph",
           "to_dot", "to_text", "why_not", "why_target", "write_graph"]


def render_report_graph(report, path, full: bool = False):
    """Write a report's explanation graph to ``path`` (.svg/.png/.dot); return (path written, note)."""
    graph = explanation_graph(report)
    if not full:
        graph = focus(graph, report)
    title = f"compensa explanation — {report.case.name or 'consultation'}"
    return write_graph(to_dot(graph, title, report.kb.regions), path)
