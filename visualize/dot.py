"""Render an explanation graph with Graphviz: DOT text always, SVG/PNG when ``dot`` is installed.

Rule firings are drawn as labelled edges (premise -> conclusion, with the contribution), facts as
nodes clustered by body region, with a legend. Painful sites are red; targets are green (stretch)
or blue (strengthen) with a double border when they lie away from the pain. Every label is escaped,
so no case text can break or inject into the DOT or SVG.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import graphviz
import networkx as nx

from compensa.errors import OutputError, UsageError
from compensa.files import atomic_write

__all__ = ["FORMATS", "check_graph_path", "dot_available", "to_dot", "write_graph"]

FORMATS = ("svg", "png", "dot")

_STYLE = {
    "pain": {"shape": "box", "style": "filled,bold", "fillcolor": "#ffc9c9", "color": "#c92a2a"},
    "finding": {"shape": "box", "style": "filled", "fillcolor": "#fff3bf"},
    "test": {"shape": "box", "style": "filled", "fillcolor": "#d0ebff"},
    "history": {"shape": "note", "style": "filled", "fillcolor": "#f1f3f5"},
    "diagnosis": {"shape": "box", "style": "filled", "fillcolor": "#ffe8cc"},
    "red_flag": {"shape": "box", "style": "filled,bold", "fillcolor": "#212529", "fontcolor": "white"},
    "criterion": {"shape": "hexagon", "style": "filled,bold", "fillcolor": "#c3fae8"},
    "alarm": {"shape": "octagon", "style": "filled,bold", "fillcolor": "#e03131", "fontcolor": "white"},
    "condition": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffd8a8"},
    "dysfunction": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff9db"},
    "muscle_state": {"shape": "ellipse", "style": "filled", "fillcolor": "#f3f0ff"},
    "root": {"shape": "doubleoctagon", "style": "filled,bold", "fillcolor": "#d0bfff"},
    "stretch": {"shape": "cds", "style": "filled,bold", "fillcolor": "#b2f2bb"},
    "strengthen": {"shape": "cds", "style": "filled,bold", "fillcolor": "#a5d8ff"},
}
_SIDE = {"left": " (L)", "right": " (R)"}

_LEGEND_ROWS = [("pain", "painful site"), ("finding", "visual finding"), ("test", "physical test (dashed: negative)"),
                ("criterion", "criterion met (its members joined)"), ("condition", "condition"), ("dysfunction", "postural dysfunction"), ("muscle_state", "muscle state"),
                ("root", "root imbalance"), ("stretch", "stretch (double border: away from the pain)"),
                ("strengthen", "strengthen")]
_LEGEND = ("<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'><tr><td colspan='2'><b>legend</b></td></tr>"
           + "".join(f"<tr><td bgcolor='{_STYLE[role]['fillcolor']}'>   </td><td align='left'>{text}</td></tr>"
                     for role, text in _LEGEND_ROWS)
           + "<tr><td colspan='2' align='left'>{note}</td></tr></table>>")
_EDGE_NOTE = "edge label: what the step added to confidence<br/>(red dashed: evidence against)"


def _esc(text: object, limit: int = 80) -> str:
    """Make any text safe inside a quoted DOT string (graphviz quotes; we neutralise escapes)."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "\u2026"
    value = "".join(ch if ch.isprintable() else " " for ch in value)
    return value.replace("\\", "\\\\")


def _label(data: dict) -> str:
    side = _SIDE.get(data.get("side") or "", "")
    role = data.get("role")
    text = f"{data.get('label', '')}{side}"
    if data.get("kind") == "evidence":
        value = data.get("value")
        if role in ("finding", "test", "red_flag", "history") and value in ("absent", "negative"):
            text += f" \u2014 {value}"
        elif role == "test":
            text += " \u2014 positive"
    elif data.get("kind") == "target":
        text = f"{'Stretch' if role == 'stretch' else 'Strengthen'} {data.get('label', '')}{side}"
        if not data.get("painful"):
            text += "\\nno pain here"
    elif data.get("kind") == "kb":
        pass
    elif data.get("role") == "muscle_state" or data.get("kind") == "belief":
        text += f"\\n{data.get('confidence', 0.0):.2f}"
    return _esc(text, 120).replace("\\\\n", "\\n")


def _contract(graph: nx.DiGraph) -> list[tuple[str, str, dict]]:
    """premise -> conclusion edges through each firing node (plus any direct edges), keeping edge data."""
    edges = [(u, v, d) for u, v, d in graph.edges(data=True)
             if graph.nodes[u].get("kind") != "firing" and graph.nodes[v].get("kind") != "firing"]
    for firing, data in graph.nodes(data=True):
        if data.get("kind") != "firing":
            continue
        for premise in graph.predecessors(firing):
            for conclusion in graph.successors(firing):
                edges.append((premise, conclusion, graph.edges[firing, conclusion]))
    return sorted(edges, key=lambda e: (e[0], e[1]))


def _digraph(title: str) -> graphviz.Digraph:
    """An empty left-to-right graph titled ``title``, with the fonts and spacing every drawing uses."""
    return graphviz.Digraph("compensa", graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "fontsize": "12", "labelloc": "t", "compound": "true",
        "label": _esc(title, 160), "nodesep": "0.25", "ranksep": "0.6", "newrank": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"}, edge_attr={"fontname": "Helvetica", "fontsize": "8"})


def _node_names(facts: list[tuple[str, dict]]) -> dict[str, str]:
    """A plain DOT name (``n0``, ``n1``... in id order) for each fact node.

    DOT reads "a:b" as node a, port b: so every node gets a plain name and keeps its id as the tooltip.
    """
    return {n: f"n{i}" for i, (n, _) in enumerate(sorted(facts, key=lambda nd: nd[0]))}


def _clusters(facts: list[tuple[str, dict]]) -> dict[str, list[tuple[str, dict]]]:
    """The fact nodes by cluster: root imbalances, red flags (and alarms), else the node's body region."""
    by_cluster: dict[str, list[tuple[str, dict]]] = {}
    for n, d in facts:
        cluster = "root imbalances" if d.get("role") == "root" else ("red flags" if d.get("role") in ("red_flag", "alarm")
                                                                      else (d.get("region") or "context"))
        by_cluster.setdefault(cluster, []).append((n, d))
    return by_cluster


def _cluster_order(clusters: dict[str, list], regions: tuple[str, ...]) -> list[str]:
    """The clusters in drawing order: red flags and root imbalances first, then ``regions`` in their
    order, then any other cluster (each group by name)."""
    order = {r: i for i, r in enumerate(regions)}
    return sorted(clusters, key=lambda c: (order.get(c, -1 if c in ("red flags", "root imbalances") else 999), c))


def _add_cluster(dot: graphviz.Digraph, index: int, cluster: str, members: list[tuple[str, dict]],
                 names: dict[str, str]) -> None:
    """Draw one cluster and its fact nodes, styled by role (dashed when negative, double border
    for a target away from the pain)."""
    with dot.subgraph(name=f"cluster_{index}") as sub:
        sub.attr(label=_esc(cluster.replace("_", " ")), style="rounded,dashed", color="#adb5bd", fontcolor="#495057")
        for n, d in sorted(members):
            style = dict(_STYLE.get(d.get("role") or "", {"shape": "ellipse"}))
            if d.get("kind") == "target" and not d.get("painful"):
                style["peripheries"] = "2"
            if d.get("kind") == "evidence" and d.get("value") in ("absent", "negative"):
                style["style"] = style.get("style", "") + ",dashed"
            sub.node(names[n], label=_label(d), tooltip=_esc(n, 200), **style)


def _add_edges(dot: graphviz.Digraph, graph: nx.DiGraph, names: dict[str, str]) -> None:
    """Draw each premise -> conclusion step: green to a target, red dashed against, labelled with
    its contribution (or its own label), its mechanism and source as the tooltip."""
    for u, v, d in _contract(graph):
        value = d.get("contribution", 0.0)
        is_target = graph.nodes[v].get("kind") == "target"
        attrs = {"color": "#2b8a3e" if is_target else ("#495057" if value >= 0 else "#c92a2a")}
        if "label" in d:
            attrs["label"] = _esc(d["label"], 20)
        elif not is_target and graph.nodes[v].get("role") != "alarm":
            attrs["label"] = f"{value:+.2f}"
        if value < 0:
            attrs["style"] = "dashed"
        tip = d.get("mechanism") or d.get("via") or ""
        if d.get("source"):
            tip += f" [{d['source']}]"
        attrs["tooltip"] = _esc(tip, 300)
        dot.edge(names[u], names[v], **attrs)


def to_dot(graph: nx.DiGraph, title: str = "", regions: tuple[str, ...] = (), edge_note: str = _EDGE_NOTE) -> str:
    """DOT source for an explanation graph (see :func:`compensa.visualize.graph.explanation_graph`)."""
    dot = _digraph(title)
    facts = [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") != "firing"]
    names = _node_names(facts)
    by_cluster = _clusters(facts)
    for index, cluster in enumerate(_cluster_order(by_cluster, regions)):
        _add_cluster(dot, index, cluster, by_cluster[cluster], names)
    _add_edges(dot, graph, names)
    dot.node("legend", label=_LEGEND.replace("{note}", edge_note), shape="plaintext")
    return dot.source


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


#: Errors that say the *name* given is unusable (bad input, exit 2); any other write error is I/O (exit 1).
_BAD_NAME = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ELOOP}


def check_graph_path(path: str | os.PathLike) -> Path:
    """Refuse a graph path that cannot be written (bad suffix, too long, missing folder, a folder) before any work."""
    if not str(path).strip():
        raise UsageError("the graph file name is empty")
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"graph file {_short(path)!r} must end in .svg, .png or .dot")
    if len(os.fsencode(path.name)) > 255 or len(os.fsencode(str(path))) > 4000:
        raise UsageError(f"graph file name {_short(path)!r} is too long (at most 255 bytes a name)")
    try:
        return _check_writable(path)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _check_writable(path: Path) -> Path:
    if path.is_dir():
        raise UsageError(f"graph file {_short(path)!r} is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"cannot write {_short(path)!r}: {str(parent)!r} is not a folder")
    if parent.is_dir():  # the only sure test: create (and remove) a file there
        fd, probe = tempfile.mkstemp(prefix=".compensa-", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(probe)
    return path


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else text[:60] + "…" + text[-15:]


def _write_error(path: Path, exc: OSError) -> Exception:
    """A usage error (exit 2) when the name is unusable, an output error (exit 1) for real I/O failures."""
    reason = exc.strerror or str(exc)
    if exc.errno in _BAD_NAME:
        return UsageError(f"cannot write graph file {_short(path)!r}: {reason}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"cannot write graph file {_short(path)!r}: {reason} (choose a folder you can write to)")
    return OutputError(f"could not write graph file {_short(path)!r}: {reason}")


def write_graph(source: str, path: str | os.PathLike) -> tuple[Path, str]:
    """Write DOT ``source`` to ``path`` as .svg, .png or .dot (atomically); return the path written and a note.

    Without Graphviz's ``dot``, an .svg/.png request writes the DOT text next to it (``.dot``) and
    the note says how to get the picture.
    """
    path = check_graph_path(path)
    fmt = path.suffix.lower().lstrip(".")
    try:
        return _write(source, path, fmt)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _write(source: str, path: Path, fmt: str) -> tuple[Path, str]:
    if fmt == "dot":
        _atomic_write(path, source.encode("utf-8"))
        return path, ""
    if not dot_available():
        fallback = path.with_suffix(".dot")
        _atomic_write(fallback, source.encode("utf-8"))
        return fallback, (f"Graphviz's 'dot' is not installed, so the graph was written as DOT ({fallback}). "
                          f"Install Graphviz (Debian: apt-get install graphviz) and run again for {fmt.upper()}, "
                          f"or convert with: dot -T{fmt} {fallback} -o {path}")
    data = graphviz.Source(source).pipe(format=fmt)
    _atomic_write(path, data)
    return path, ""
