"""The one module that imports experta.

It does three things experta cannot do for itself:

1. **Python >= 3.10 with frozendict 1.2.** experta 1.9.4 pins ``frozendict==1.2``, which subclasses
   ``collections.Mapping`` (removed in 3.10). uv installs override the pin; a plain ``pip install``
   does not, so before importing experta we restore the old ``collections`` aliases when (and
   only when) the installed frozendict is 1.x.
2. **Logging hygiene.** experta calls ``logging.basicConfig()`` at import, configuring the root
   logger of the host program; we undo that.
3. **Speed.** experta's Rete matcher tests a fact against every sibling constant check in turn and
   asks every conflict-set node for activations after each change. :class:`DispatchReteMatcher`
   routes facts by a hashed field value and polls only the conflict-set nodes a change touched
   (same matches, same activations; about 10x faster on the compiled KB).

The speed-up reads and rewires experta's Rete network, so it relies on attributes experta does not
document as public: :data:`PRIVATE_API` lists them, and a test checks each against the installed
experta so that an upgrade renaming one fails loudly rather than matching differently.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib.metadata
import logging

__all__ = [
    "AS", "L", "MATCH", "P", "PRIVATE_API", "CompiledEngine", "DispatchReteMatcher", "Fact", "KnowledgeEngine", "NOT", "ReteMatcher",
    "Rule", "fact_classes",
]


def _frozendict_needs_aliases() -> bool:
    try:
        version = importlib.metadata.version("frozendict")
    except importlib.metadata.PackageNotFoundError:
        return False
    return version.split(".")[0] in ("0", "1")


if _frozendict_needs_aliases():  # pragma: no cover - exercised by the pip-install check
    for _name in ("Mapping", "MutableMapping", "Sequence", "Set", "Iterable", "Hashable", "Callable"):
        if not hasattr(collections, _name):
            setattr(collections, _name, getattr(collections.abc, _name))

_root = logging.getLogger()
_handlers_before = list(_root.handlers)
try:
    from experta import AS, MATCH, NOT, P, Fact, KnowledgeEngine, Rule
    from experta.matchers.rete import ReteMatcher
    from experta.matchers.rete.abstract import Node
    from experta.matchers.rete.check import FactCapture, FeatureCheck, TypeCheck
    from experta.matchers.rete.mixins import ChildNode
    from experta.matchers.rete.nodes import ConflictSetNode, FeatureTesterNode
    from experta.matchers.rete.token import Token
    from experta.fieldconstraint import L
except ImportError as exc:  # pragma: no cover - broken installation
    raise ImportError(
        f"compensa needs experta 1.9.4 with frozendict>=2.4 (or 1.2) and schema: {exc}. "
        "Reinstall with `make install` or `pip install 'frozendict>=2.4' 'schema>=0.7'`."
    ) from exc
finally:
    for _handler in list(_root.handlers):
        if _handler not in _handlers_before:
            _root.removeHandler(_handler)


#: experta internals this module relies on (class -> attributes; some are set per instance in
#: ``__init__``/``__new__``). Beyond these names, :class:`_CollapsedChain` builds a ``Token``
#: positionally, so ``Token._fields`` must stay ``("tag", "data", "context")``.
PRIVATE_API: dict[type, tuple[str, ...]] = {
    ReteMatcher: ("_get_conflict_set_nodes", "root_node", "build_network"),
    Node: ("_reset", "children", "reset"),
    ConflictSetNode: ("_activate", "get_activations"),
    FeatureTesterNode: ("matcher", "activate"),
    ChildNode: ("node", "callback"),
    FeatureCheck: ("what", "how"),
    TypeCheck: ("fact_type",),
    FactCapture: ("bind",),
    L: ("value", "__bind__"),
    Token: ("_fields", "tag", "data", "context"),
}


class CompiledEngine(KnowledgeEngine):
    """A ``KnowledgeEngine`` whose deffacts are looked up once, not with ``inspect`` on every reset."""

    def get_deffacts(self):
        cached = self.__dict__.get("_deffacts_cache")
        if cached is None:
            cached = self.__dict__["_deffacts_cache"] = super().get_deffacts()
        return cached


def fact_classes(fact_types) -> dict[str, type]:
    """One experta ``Fact`` subclass per :class:`compensa.facts.FactType`, by name."""
    return {t.name: type(t.name, (Fact,), {"__doc__": t.meaning}) for t in fact_types}


class _DispatchNode:
    """Routes a token to the children whose constant check matches ``fact[key]`` (a dict lookup)."""

    def __init__(self, key: object, table: dict):
        self.key = key
        self.table = table
        self.children: list = []
        self.grouped = [child for children in table.values() for child in children]

    def reset(self) -> None:
        for child in self.grouped:
            child.node.reset()

    def activate(self, token) -> None:
        fact = next(iter(token.data))
        try:
            value = type(fact) if self.key is _TYPE else fact[self.key]
            children = self.table.get(value, ())
        except (KeyError, TypeError):
            return
        for child in children:
            child.callback(token)

    remove = activate


_TYPE = object()  # dispatch key meaning "the fact's class"


def _tester(child):
    """The :class:`FeatureTesterNode` ``child`` leads to, when entered the ordinary way, else None."""
    node = child.node
    return node if isinstance(node, FeatureTesterNode) and child.callback == node.activate else None


def _literal(check):
    """``(field, value)`` when ``check`` tests a plain field against a literal (no binding), else None."""
    if not isinstance(check, FeatureCheck) or not isinstance(check.how, L) or check.how.__bind__ is not None:
        return None
    if not isinstance(check.what, str) or "__" in check.what:
        return None
    return check.what, check.how.value


def _constant_check(child):
    """``(key, value)`` when ``child`` tests a plain field (or the fact type) against a constant, else None."""
    node = _tester(child)
    if node is None:
        return None
    if isinstance(node.matcher, TypeCheck):
        return _TYPE, node.matcher.fact_type
    found = _literal(node.matcher)
    if found is None:
        return None
    try:
        hash(found)
    except TypeError:  # an unhashable constant cannot be a dispatch key
        return None
    return found


class _CollapsedChain:
    """A linear alpha chain (constant checks and fact captures) ending at a conflict-set node, run as one step.

    Same tests, same bindings and the same token reach the conflict-set node as through experta's
    nodes one by one; what is saved is a token copy per node.
    """

    __slots__ = ("constants", "binds", "terminal")

    def __init__(self, constants, binds, terminal):
        self.constants = constants
        self.binds = binds
        self.terminal = terminal

    def __call__(self, token) -> None:
        fact = next(iter(token.data))
        for key, value in self.constants:
            try:
                if fact[key] != value:
                    return
            except (KeyError, TypeError):
                return
        context = dict(token.context)
        for name in self.binds:
            if context.get(name, fact) is not fact:
                return
            context[name] = fact
        self.terminal._activate(tuple.__new__(Token, (token.tag, {fact}, context)))


def _collapse(child):
    """A :class:`_CollapsedChain` for ``child`` when its chain has the simple shape, else ``None``."""
    constants: list[tuple[str, object]] = []
    binds: list[str] = []
    while True:
        node = child.node
        if isinstance(node, ConflictSetNode):
            return _CollapsedChain(tuple(constants), tuple(binds), node) if child.callback == node.activate else None
        if _tester(child) is None or len(node.children) != 1:
            return None
        literal = _literal(node.matcher)
        if isinstance(node.matcher, FactCapture):
            binds.append(node.matcher.bind)
        elif literal is not None:
            constants.append(literal)
        else:
            return None
        child = node.children[0]


def _fast(child):
    collapsed = _collapse(child)
    return ChildNode(child.node, collapsed) if collapsed is not None else child


def _constant_groups(node) -> dict[object, dict[object, list]]:
    """``node``'s children that test a constant: by the key tested, then by the constant."""
    groups: dict[object, dict] = {}
    for child in node.children:
        found = _constant_check(child)
        if found:
            groups.setdefault(found[0], {}).setdefault(found[1], []).append(child)
    return groups


def _routes(key, table: dict, minimum: int) -> dict | None:
    """Where a dispatch on ``key`` sends each constant, or None when the group is too small to pay."""
    if key is _TYPE:  # past the type test: straight on to the type node's own children
        return {t: [grand for c in children for grand in c.node.children] for t, children in table.items()}
    if sum(len(v) for v in table.values()) >= minimum:
        return {v: [_fast(c) for c in children] for v, children in table.items()}
    return None


def _add_dispatch(node, minimum: int, seen: set) -> None:
    """Rewrite ``node``'s children (depth first): constant tests become hashed dispatch.

    Children testing one key against different constants are grouped behind a dispatch node (by
    value, or by fact type at the root). A type lookup goes straight on to the type node's own
    (already rewritten) children; a dispatched value test heading a simple chain runs collapsed.
    """
    if id(node) in seen:
        return
    seen.add(id(node))
    for child in node.children:  # depth first: below is rewritten before this level uses it
        _add_dispatch(child.node, minimum, seen)
    for key, table in _constant_groups(node).items():
        routed = _routes(key, table, minimum)
        if routed is None:
            continue
        dispatch = _DispatchNode(key, routed)
        grouped = {id(c) for children in table.values() for c in children}
        node.children[:] = [c for c in node.children if id(c) not in grouped] + [ChildNode(dispatch, dispatch.activate)]


class DispatchReteMatcher(ReteMatcher):
    """experta's Rete matcher with hashed constant dispatch and dirty-node activation polling."""

    def build_network(self) -> None:
        super().build_network()
        self._dirty: list = []
        self._memory_nodes = self._nodes_with_memory()
        for csn in self._get_conflict_set_nodes():
            original = csn._activate

            def tracked(token, _original=original, _csn=csn, _dirty=self._dirty):
                _dirty.append(_csn)
                _original(token)

            csn._activate = tracked
        _add_dispatch(self.root_node, minimum=4, seen=set())

    def _nodes_with_memory(self) -> list:
        """Every node whose reset does something (beta, not and conflict-set nodes), found once."""
        found, seen, todo = [], set(), [self.root_node]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if not isinstance(node, (FeatureTesterNode, _DispatchNode)) and node is not self.root_node:
                found.append(node)
            children = node.grouped if isinstance(node, _DispatchNode) else [c.node for c in node.children]
            todo.extend(c.node if hasattr(c, "node") else c for c in children)
        return found

    def reset(self) -> None:
        """Reset only the nodes that hold memory (experta walks every alpha node too)."""
        for node in self._memory_nodes:
            node._reset()
        self._dirty.clear()

    def changes(self, adding=None, deleting=None):
        if deleting is not None:
            for fact in deleting:
                self.root_node.remove(fact)
        if adding is not None:
            for fact in adding:
                self.root_node.add(fact)
        added, removed, seen = [], [], set()
        for csn in self._dirty:
            if id(csn) not in seen:
                seen.add(id(csn))
                a, r = csn.get_activations()
                added.extend(a)
                removed.extend(r)
        self._dirty.clear()
        return added, removed
