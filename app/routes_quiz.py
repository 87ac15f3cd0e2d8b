"""``POST /v1/quiz`` (a stateless quiz over the case library) and ``GET /v1/kb/entries/{id}`` (the KB browser).

Wired into the service by ``create_app`` with ``add_routes(app, consultant, _json_body)``.

* ``POST /v1/quiz`` ``{case_id?, region?, asked: [id], answer?: {root, targets: [{muscle, action}],
  triage?}, seed?}`` -> :func:`compensa.visualize.quiz_explain.quiz_view`'s view: ``{case_id, region,
  presenting, revealed, available, choices}`` and, with an answer, ``score``, ``solution`` and
  ``explanation``. Bad input (an unknown key, case, region, assessment, root or muscle) is a 422
  naming the field and the closest ids.
* ``GET /v1/kb/entries/{id}`` — any KB entry (muscle, root, dysfunction, condition, pain site,
  assessment, history item, red flag, criterion, yellow flag, source, intervention) by id or
  readable name ("Thomas test", "glute med"): ``{kb_version, query, id, entries: [record + links
  both ways], chain: {nodes, edges}}``; ``?format=svg|dot`` draws the chain around it (the KB graph
  narrowed to what leads to the entry and what it leads to). Unknown: 404 with close suggestions.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
from fastapi import Depends, FastAPI, HTTPException, Query, Response

from compensa.errors import CaseError, Problem, UsageError, closest
from compensa.kb.show import plain

__all__ = ["add_routes", "entry_view", "quiz_request"]

_KEYS = ("case_id", "region", "asked", "answer", "seed")
#: How many links away from the entry its chain reaches, each way.
CHAIN_DEPTH = 4


def _optional_str(body: dict, key: str, problems: list) -> None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        problems.append(Problem(f"'{key}' must be a string (an id)", key, value))


def quiz_request(body: object) -> dict:
    """Keyword arguments for ``quiz_view`` from a request body; CaseError (422) naming what is wrong."""
    from compensa.engine.quiz import MAX_ASKED

    if not isinstance(body, dict):
        raise CaseError(Problem("the body must be an object {case_id?, region?, asked, answer?, seed?}", "",
                                type(body).__name__))
    problems = [Problem(f"unknown field {key!r}", key, key, closest(key, _KEYS)) for key in body if key not in _KEYS]
    _optional_str(body, "case_id", problems)
    _optional_str(body, "region", problems)
    asked = body.get("asked", [])
    if not isinstance(asked, list) or len(asked) > MAX_ASKED:
        problems.append(Problem(f"'asked' must be a list of at most {MAX_ASKED} ids", "asked", type(asked).__name__))
        asked = []
    problems += [Problem("an asked id must be a string", f"asked[{i}]", item)
                 for i, item in enumerate(asked) if not isinstance(item, str)]
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(Problem("'seed' must be an integer", "seed", seed))
    if problems:
        raise CaseError(problems)
    return {"case_id": body.get("case_id"), "region": body.get("region"), "asked": asked,
            "answer": body.get("answer"), "seed": seed}


# -- the KB browser ---------------------------------------------------------------------------------
def _mentions(criterion, entry_id: str) -> bool:
    return any(m.id == entry_id for m in criterion.required + criterion.members + criterion.excluded)


def _in_criteria(kb, entry_id: str) -> list[str]:
    """Criteria (clusters, k-of-n rules) that read this entry."""
    return sorted(c.id for c in kb.criteria.values() if _mentions(c, entry_id))


def _extra_entries(kb, entry_id: str) -> list[dict]:
    """Criteria and yellow flags (kinds ``kb show`` does not list), with their record."""
    out = []
    for kind, table in (("criterion", kb.criteria), ("yellow_flag", kb.yellow_flags)):
        if entry_id in table:
            record = table[entry_id]
            out.append({"entry_type": kind, "at": str(getattr(record, "at", "")), **plain(record)})
    return out


def _resolve_entry(kb, vocabulary, term: str) -> str | None:
    """The entry id a term names: an id of any table, else a name (label or alias) of any vocabulary kind
    written as the term is, else a phrase variant ("IT band syndrome" is the condition, not the site)."""
    from compensa.kb.show import entry_kinds
    from compensa.kb.vocabulary import KINDS, normalize

    if entry_kinds(kb, term) or term in kb.criteria or term in kb.yellow_flags:
        return term
    word = normalize(term)
    exact = next((id_ for kind in KINDS for name, id_ in vocabulary.names(kind) if normalize(name) == word), None)
    return exact or next((found for kind in KINDS if (found := vocabulary.resolve(kind, term))), None)


def _suggestions(kb, vocabulary, term: str) -> list[str]:
    from compensa.kb.vocabulary import KINDS

    known = [i for table in ("roots", "dysfunctions", "conditions", "muscles", "pain_sites", "assessments", "history",
                             "red_flags", "criteria", "yellow_flags") for i in getattr(kb, table)]
    found = list(closest(term, known, 5))
    for kind in KINDS:
        found += [s for s in vocabulary.suggest(kind, term, 2) if s not in found]
    return found[:6]


def _start_nodes(kb, graph: nx.DiGraph, entry_id: str) -> set[str]:
    """The KB-graph nodes an entry stands for (a muscle: its tight and weak states; an assessment or
    a history item: what its results point to)."""
    starts = {entry_id, f"tight:{entry_id}", f"weak:{entry_id}"}
    if entry_id in kb.assessments:
        starts |= {e.target for effects in kb.assessments[entry_id].outcomes.values() for e in effects}
    if entry_id in kb.history:
        starts |= {e.target for e in kb.history[entry_id].effects}
    return {n for n in starts if n in graph}


def chain_graph(kb, graph: nx.DiGraph, entry_id: str, depth: int = CHAIN_DEPTH) -> nx.DiGraph:
    """The KB graph narrowed to what leads to the entry and what it leads to (``depth`` links each way)."""
    starts = _start_nodes(kb, graph, entry_id)
    keep = set(starts)
    for node in starts:
        keep |= set(nx.bfs_tree(graph, node, depth_limit=depth))
        keep |= set(nx.bfs_tree(graph, node, reverse=True, depth_limit=depth))
    return graph.subgraph(keep).copy()


def _chain_json(graph: nx.DiGraph) -> dict:
    nodes = [{"id": n, "label": d.get("label", n), "kind": d.get("role")} for n, d in sorted(graph.nodes(data=True))]
    edges = [{"from": u, "to": v, "relation": d.get("relation"), "strength": d.get("strength"),
              "mechanism": d.get("mechanism", ""), "source": d.get("source", "")}
             for u, v, d in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1]))]
    return {"nodes": nodes, "edges": edges}


def entry_view(kb, vocabulary, graph: nx.DiGraph, term: str) -> dict:
    """One KB entry by id or readable name, with its links both ways and its chain; UsageError naming
    the closest ids when nothing has that name."""
    from compensa.kb.show import describe

    entry_id = _resolve_entry(kb, vocabulary, term)
    if entry_id is None:
        raise UsageError(Problem(f"no KB entry named {term!r}", "id", term, tuple(_suggestions(kb, vocabulary, term))))
    entries = _extra_entries(kb, entry_id)
    try:
        entries = describe(kb, entry_id) + entries
    except UsageError:
        pass
    for entry in entries:
        criteria = _in_criteria(kb, entry_id)
        if criteria:
            entry["in_criteria"] = criteria
    return {"kb_version": kb.version_string, "query": term, "id": entry_id, "label": kb.label(entry_id),
            "entries": entries, "chain": _chain_json(chain_graph(kb, graph, entry_id))}


def _drawn(kb, graph: nx.DiGraph, entry_id: str, fmt: str) -> Response:
    from compensa.visualize.dot import dot_available, to_dot

    source = to_dot(chain_graph(kb, graph, entry_id), f"compensa KB {kb.version_string} — {entry_id}", kb.regions,
                    edge_note="edge label: link strength")
    if fmt == "dot" or not dot_available():
        headers = {} if fmt == "dot" else {"X-Compensa-Note": "Graphviz dot is not installed: DOT returned"}
        return Response(source, media_type="text/vnd.graphviz", headers=headers)
    import graphviz

    return Response(graphviz.Source(source).pipe(format="svg"), media_type="image/svg+xml")


def add_routes(app: FastAPI, consultant, json_body) -> None:
    """Register ``POST /v1/quiz`` and ``GET /v1/kb/entries/{id}`` on ``app``, answering with
    ``consultant``; ``json_body`` is the service's body dependency (media type and repeated keys)."""
    from compensa.visualize.kb_graph import kb_graph
    from compensa.visualize.quiz_explain import quiz_view

    kb = consultant.kb
    graph = kb_graph(kb)  # built once: the KB does not change while serving

    @app.post("/v1/quiz", response_model=None,
              summary="Quiz: a library case with findings hidden until asked; an answer is scored and explained")
    def quiz(body: object = Depends(json_body)) -> dict:
        return quiz_view(consultant, **quiz_request(body))

    @app.get("/v1/kb/entries/{entry_id}", response_model=None,
             summary="One KB entry (id or readable name) with its links both ways and its chain",
             responses={404: {"description": "no entry with that id or name; suggestions given"},
                        200: {"content": {"application/json": {}, "image/svg+xml": {}, "text/vnd.graphviz": {}}}})
    def kb_entry(entry_id: str, format: Literal["json", "svg", "dot"] = Query(
            "json", description="json: the entry; svg/dot: the chain around it")):
        try:
            view = entry_view(kb, consultant.vocabulary, graph, entry_id)
        except UsageError as exc:
            raise HTTPException(404, detail=[p.to_dict() for p in exc.problems]) from exc
        return _drawn(kb, graph, view["id"], format) if format != "json" else view
