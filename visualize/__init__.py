"""Explanations: provenance graphs (networkx), their rendering (Graphviz) and text views.

The names below are imported on first use (PEP 562), so that a command printing a text report does
not pay for networkx (about a quarter of a second) unless it draws a graph.
"""

from __future__ import annotations

import importlib

__all__ = ["dot_available", "explanation_graph", "focus", "graph_to_json", "how", "kb_graph", "render_report_graph",
           "to_dot", "to_text", "why_not", "why_target", "write_graph"]

_WHERE = {
    "dot_available": "dot", "to_dot": "dot", "write_graph": "dot",
    "how": "explain", "to_text": "explain", "why_not": "explain", "why_target": "explain",
    "explanation_graph": "graph", "focus": "graph", "graph_to_json": "graph",
    "kb_graph": "kb_graph",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # also replaces the submodule a first import of kb_graph binds here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def render_report_graph(report, path, full: bool = False):
    """Write a report's explanation graph to ``path`` (.svg/.png/.dot); return (path written, note)."""
    from compensa.visualize.dot import to_dot, write_graph
    from compensa.visualize.graph import explanation_graph, focus

    graph = explanation_graph(report)
    if not full:
        graph = focus(graph, report)
    title = f"compensa explanation — {report.case.name or 'consultation'}"
    return write_graph(to_dot(graph, title, report.kb.regions), path)
