"""The one module that imports experta.

It does three things experta cannot do for itself:

1. **Python >= 3.10 with frozendict 1.2.** experta 1.9.4 pins ``frozendict==1.2``, which subclasses
   ``collections.Mapping`` (removed in 3.10). uv installs override the pin; a plain ``pip install``
   does not, so before importing experta we restore the old ``collections`` aliases when (and
   only when) the installed frozendict is 1.x.
2. **Logging hygiene.** experta calls ``logging.basicConfig()`` at import, configuring the root
   logger of the host program; we undo that.
3. **Speed.** experta's Rete matcher walks its alpha network one test node at a time (copying the
   token at each), builds a chain of joins per rule even where rules begin alike, asks every
   conflict-set node for activations after each change, and resets every node of the network at
   each reset. :class:`DispatchReteMatcher` reads the alpha network into hash lookups (fact type,
   then key field values), lets rules share equal joins, polls only the conflict-set nodes a change
   touched, and resets only the memory the last consultation used (same matches, same
   activations, same justifications: property tests compare it with experta's own matcher).

The speed-up reads and rewires experta's Rete network, so it relies on attributes experta does not
document as public: :data:`PRIVATE_API` lists them, and a test checks each against the installed
experta so that an upgrade renaming one fails loudly rather than matching differently.
"""

from __future__ import annotations

import bisect
import collections
import collections.abc
import functools
import importlib.metadata
import itertools
import logging
import operator
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AS", "L", "MATCH", "P", "PRIVATE_API", "CompiledEngine", "DepthAgenda", "DispatchReteMatcher", "Fact", "KnowledgeEngine", "NOT",
    "NotNode", "OrdinaryMatchNode", "ReteMatcher", "Rule", "TokenInfo", "fact_classes",
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
    from experta import AS, MATCH, NOT, P, Fact, KnowledgeEngine, Rule, watchers
    from experta.matchers.rete import ReteMatcher
    from experta.matchers.rete.abstract import Node, TwoInputNode
    from experta.matchers.rete.check import FactCapture, FeatureCheck, SameContextCheck, TypeCheck
    from experta.matchers.rete.mixins import ChildNode
    from experta.matchers.rete.nodes import ConflictSetNode, FeatureTesterNode, NotNode, OrdinaryMatchNode
    from experta.matchers.rete.token import Token, TokenInfo
    from experta.activation import Activation
    from experta.strategies import DepthStrategy
    from experta.matchers.rete.utils import prepare_rule
    from experta.fact import InitialFact
    from experta.agenda import Agenda
    from experta.factlist import FactList
    from experta.fieldconstraint import L, ORFC
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
#: ``__init__``/``__new__``). Beyond these names, :class:`_AlphaPath` builds a ``Token`` (and the
#: conflict-set activation a ``TokenInfo``) positionally, so ``Token._fields`` must stay
#: ``("tag", "data", "context")`` and ``TokenInfo._fields`` ``("data", "context")``, and reads an
#: ``ORFC`` (``L(a) | L(b)``) as the tuple of its members.
PRIVATE_API: dict[type, tuple[str, ...]] = {
    ReteMatcher: ("_get_conflict_set_nodes", "root_node", "build_network"),
    Node: ("_reset", "children"),
    FeatureTesterNode: ("matcher", "activate"),
    ChildNode: ("node", "callback"),
    FeatureCheck: ("what", "how"),
    FactCapture: ("bind",),
    TypeCheck: ("fact_type",),
    L: ("value", "__bind__"),
    Token: ("_fields", "TagType", "tag", "data", "context", "is_valid"),
    ConflictSetNode: ("_activate", "get_activations", "rule", "memory", "added", "removed"),
    OrdinaryMatchNode: ("_activate_left", "_activate_right", "left_memory", "right_memory", "children", "matcher",
                        "activate_left", "activate_right"),
    NotNode: ("_activate_left", "_activate_right", "left_memory", "right_memory", "children", "matcher",
              "activate_left", "activate_right"),
    Activation: ("rule", "facts", "context", "key"),
    Fact: ("_Fact__defaults",),
    KnowledgeEngine: ("agenda", "strategy", "running", "get_activations", "facts", "matcher", "get_deffacts",
                      "_KnowledgeEngine__declare"),
    Rule: ("_wrapped", "_wrapped_args", "_wrapped_self"),
    FactList: ("last_index", "reference_counter", "added"),
    DepthStrategy: ("_update_agenda",),
    Agenda: ("activations",),
}


class CompiledEngine(KnowledgeEngine):
    """A ``KnowledgeEngine`` whose deffacts are looked up once, not with ``inspect`` on every reset,
    and whose run loop formats its log lines only when experta's watchers would print them."""

    agenda: Any  # set by reset (experta is untyped)
    facts: Any

    def declare(self, *facts):
        """experta's ``declare``; one plain fact declared while the rules run (what a firing rule
        declares) goes straight into the fact list, its checks being known to pass."""
        if self.running and len(facts) == 1 and facts[0].__dict__.get("_plain") and self.facts:
            return self.facts.declare(facts[0])
        return super().declare(*facts)

    def run(self, steps=float("inf")):
        """experta's ``run``: the same loop (changes to the agenda, pop the next activation, fire it
        with its bindings), without building the text of a "FIRE" log line for every rule fired
        when nobody watches (experta joins the facts' names before asking the logger), and calling
        each rule's function as ``Rule.__call__`` would (the bindings it names, the engine first)."""
        if watchers.RULES.isEnabledFor(logging.INFO) or watchers.worth("AGENDA", "DEBUG") \
                or watchers.worth("ACTIVATIONS", "INFO"):
            return super().run(steps)
        self.running = True
        agenda, strategy, matcher = self.agenda, self.strategy, self.matcher
        update = strategy._update_agenda  # experta's update_agenda minus its ACTIVATIONS log, off here
        while steps > 0 and self.running:
            facts = self.facts
            added, removed = matcher.changes(facts.added, facts.removed)
            facts.added, facts.removed = [], []
            update(agenda, added, removed)
            pending = agenda.activations  # what Agenda.get_next pops
            if not pending:
                break
            activation = pending.pop()
            steps -= 1
            rule = activation.rule
            names, function, bound_to = rule._wrapped_args, rule._wrapped, rule._wrapped_self
            kwargs = {k: v for k, v in activation.context.items()
                      if not k.startswith("__") and (not names or k in names)}
            if bound_to is None:
                function(self, **kwargs)
            else:
                function(bound_to, self, **kwargs)
        self.running = False

    def reset(self, **kwargs):
        """experta's ``reset``, with a fact list that declares plain facts in one step.

        Without arguments every deffact is called bare, so their signatures (which experta reads
        with ``inspect`` at every reset, to pass each the arguments it names) are not read."""
        if kwargs:
            super().reset(**kwargs)
            self.facts.__class__ = _WorkingFactList
            return
        self.agenda = Agenda()
        self.facts = _WorkingFactList()
        self.matcher.reset()
        self._KnowledgeEngine__declare(*itertools.chain.from_iterable(deffact() for deffact in self.get_deffacts()))
        self.running = False

    def get_deffacts(self):
        cached = self.__dict__.get("_deffacts_cache")
        if cached is None:
            cached = self.__dict__["_deffacts_cache"] = super().get_deffacts()
        return cached


class _HashedOnce:
    """Hashes as its experta base class does, computing it once: for objects nobody changes after they
    are made (experta rehashes them at every set lookup and agenda key)."""

    def __hash__(self):
        found = self.__dict__.get("_hash")
        if found is None:
            found = self.__dict__["_hash"] = super().__hash__()
        return found


class _Activation(_HashedOnce, Activation):
    """experta's Activation, hashed once (an activation never changes once made)."""


class _NetworkRule(_HashedOnce, Rule):
    """experta's ``Rule`` as the network holds it once prepared (no one changes it again), hashed once:
    experta hashes the rule (its patterns, function and salience) for every activation it makes."""


_KEY = operator.attrgetter("key")


class DepthAgenda(DepthStrategy):
    """experta's depth strategy (salience, then the newest facts first) without its ``lru_cache``.

    experta caches each activation's key in a 128-entry cache shared by every engine, hashing the
    activation for each lookup and keeping 128 activations (and their facts) alive between
    consultations; the key is cheap to compute, so it is computed: the same key, the same agenda.
    """

    def get_key(self, activation):
        return activation.rule.salience, sorted((f["__factid__"] for f in activation.facts), reverse=True)

    def _update_agenda(self, agenda, added, removed):
        """experta's depth update (removals found by bisection, additions inserted in key order),
        skipping the removal pass when nothing is removed (no consultation retracts)."""
        if removed:
            super()._update_agenda(agenda, (), removed)
        activations, get_key = agenda.activations, self.get_key
        for act in added:
            act.key = get_key(act)
            bisect.insort(activations, act, key=_KEY)  # comparing keys in C, what Activation.__lt__ compares


def _conflict_set_activate(node, dirty: list, token) -> None:
    """``ConflictSetNode._activate`` as experta writes it, making :class:`_Activation` objects (and
    noting the node in ``dirty``, for :meth:`DispatchReteMatcher.changes` to poll).

    The same memory, the same added and removed sets, equal activations with equal hashes (so the
    sets iterate in the same order and the agenda is the same). An activation is what
    ``Activation(rule, facts, bindings)`` makes, its facts kept as the frozen set of the token's
    data. One difference: retracting a token the memory never held is ignored here, where experta's
    ``except ValueError`` around ``set.remove`` (which raises KeyError) would let it escape; no
    consultation does that."""
    dirty.append(node)
    data, context = token.data, token.context
    items = frozenset(context.items())
    facts = frozenset(data)
    info = tuple.__new__(TokenInfo, (facts, items))  # what TokenInfo() makes
    bindings = {k: v for k, v in context.items() if isinstance(k, str)}
    activation = object.__new__(_Activation)
    rule = node.rule
    activation.__dict__ = {"rule": rule, "facts": facts, "key": None, "context": bindings,  # experta's hash:
                           "_hash": hash((rule, facts, items if len(bindings) == len(context)
                                          else frozenset(bindings.items())))}
    if token.tag is _VALID:
        if info not in node.memory:
            node.memory.add(info)
            if node.removed and activation in node.removed:
                node.removed.remove(activation)
            else:
                node.added.add(activation)
    else:
        try:
            node.memory.remove(info)
        except KeyError:
            pass
        else:
            if activation in node.added:
                node.added.remove(activation)
            else:
                node.removed.add(activation)


#: Values experta's ``freeze`` returns unchanged (its default for hashable objects).
_PLAIN_VALUES = (str, int, float)


class _WorkingFact(Fact):
    """experta's ``Fact``, filled in one step when every value is a plain string or number.

    experta stores each field through ``__setitem__``, which dispatches ``freeze`` on the value's
    type (a plain string or number comes back as it is); a consultation declares its facts with
    such values only, so they go into the dict at once. Anything else (a pattern's field
    constraints, a list, a class declaring fields to validate, a key with ``__``) takes experta's
    own path."""

    def __init__(self, *args, **kwargs):
        if args or self.__fields__ or not all(type(v) in _PLAIN_VALUES for v in kwargs.values()) \
                or any("__" in k for k in kwargs):
            super().__init__(*args, **kwargs)
            return
        dict.update(self, kwargs)
        self._Fact__defaults = {}
        self._plain = True  # no field constraint, no nested accessor: nothing experta's declare checks

    @classmethod
    def maker(cls, values: dict):
        """A function making ``cls(**values)`` again and again, the checks of plain values made once."""
        if cls.__fields__ or not all(type(v) in _PLAIN_VALUES for v in values.values()) \
                or any("__" in k for k in values):
            return functools.partial(cls, **values)
        def make():
            fact = dict.__new__(cls)
            dict.update(fact, values)
            state = fact.__dict__
            state["_Fact__defaults"] = {}  # what __init__ leaves: no defaults asked for yet
            state["_plain"] = True
            return fact

        return make


class _WorkingFactList(FactList):
    """experta's ``FactList``, declaring a plain fact (:class:`_WorkingFact`) without the checks it
    cannot fail: it is a Fact, its class declares no fields to validate, and it has no special keys
    yet, so its identity is its class and its items. Equal facts are still declared once."""

    last_index: int

    def declare(self, fact):
        if not fact.__dict__.get("_plain") or watchers.FACTS.isEnabledFor(logging.INFO):
            return super().declare(fact)
        fact_id = frozenset((fact.__class__, *fact.items()))
        counter = self.reference_counter
        if self.duplication or fact_id not in counter:
            idx = self.last_index
            dict.__setitem__(fact, "__factid__", idx)
            self[idx] = fact
            self.last_index = idx + 1
            self.added.append(fact)
            counter[fact_id] = counter.get(fact_id, 0) + 1  # Counter's += asks its __missing__ first
            return fact
        return None


def _tracked(csn, dirty: list):
    """``csn``'s activation, noting the node in ``dirty`` (experta's own logic, hashing activations once,
    when the node's method is experta's; else whatever the node has, wrapped)."""
    original = csn._activate
    if getattr(original, "__func__", None) is ConflictSetNode._activate:
        return functools.partial(_conflict_set_activate, csn, dirty)
    else:
        def tracked(token):
            dirty.append(csn)
            original(token)
    return tracked


def fact_classes(fact_types) -> dict[str, type]:
    """One experta ``Fact`` subclass per :class:`compensa.facts.FactType`, by name."""
    return {t.name: type(t.name, (_WorkingFact,), {"__doc__": t.meaning}) for t in fact_types}


_TAGS = {True: Token.TagType.VALID, False: Token.TagType.INVALID}
_VALID = Token.TagType.VALID


def _is_tester(child) -> bool:
    """Whether ``child`` enters a :class:`FeatureTesterNode` the ordinary way (an alpha test)."""
    node = child.node
    return isinstance(node, FeatureTesterNode) and child.callback == node.activate


def _literal_values(check) -> tuple[str, frozenset] | None:
    """``(field, allowed values)`` when ``check`` tests a plain field against unbound literals, else None.

    ``L(a)`` allows one value, ``L(a) | L(b)`` the set; anything else (a predicate, a binding, a
    nested field) is not a literal test and stays a check.
    """
    if not isinstance(check, FeatureCheck) or not isinstance(check.what, str) or "__" in check.what \
            or check.what.isnumeric():
        return None
    how = check.how
    members = tuple(how) if isinstance(how, ORFC) else (how,)
    if not all(isinstance(m, L) and m.__bind__ is None and m.value is not None for m in members):
        return None
    try:
        return check.what, frozenset(m.value for m in members)
    except TypeError:  # an unhashable literal cannot be a dispatch key
        return None


class _AlphaPath:
    """One path of experta's alpha network, from the root to the node it feeds, run as one step.

    ``checks`` are the path's tests in experta's order, minus the type test and the literal tests
    the index already answered; ``terminal`` is the child link the path ends in (a beta node's
    input or a conflict-set node). The token reaching it has the same fact and the same context
    (bindings) as after experta's node-by-node walk.
    """

    __slots__ = ("order", "fact_type", "literals", "checks", "terminal", "deliver", "capture")

    def __init__(self, order: int, checks: list, terminal):
        self.order = order
        self.fact_type = next((c.fact_type for c in checks if isinstance(c, TypeCheck)), None)
        self.literals: dict[str, frozenset] = {}
        rest = []
        for check in checks:
            found = _literal_values(check)
            if found is not None and found[0] not in self.literals:
                self.literals[found[0]] = found[1]
            elif not isinstance(check, TypeCheck):
                rest.append(check)
        self.checks = tuple(rest)
        self.terminal = terminal
        self.deliver = _entry(terminal)
        #: the variable a path binds the fact to, when its checks only bind it (literal tests aside)
        self.capture = _capture(self.checks)

    def without(self, fields: tuple[str, ...]) -> _AlphaPath:
        """This path with the literal tests on ``fields`` left to the index."""
        kept = {f: v for f, v in self.literals.items() if f not in fields}
        out = object.__new__(_AlphaPath)
        out.order, out.fact_type, out.terminal, out.deliver = self.order, self.fact_type, self.terminal, self.deliver
        out.literals = kept
        out.checks = self.checks
        out.capture = _capture(out.checks)
        return out

    def run(self, fact, tag, results: dict, data: frozenset) -> bool:
        """Send ``fact`` (as a token tagged ``tag``, holding ``data``: the fact alone) to the terminal
        if it passes; whether it did.

        ``results`` remembers each check's result on this fact (checks are pure functions of the
        fact, and many paths share one: an age range, a fact capture). The tokens of one fact share
        one frozen ``data`` set (no node changes a token's data; experta's nodes freeze it anyway)."""
        for field, allowed in self.literals.items():
            try:
                if fact[field] not in allowed:
                    return False
            except (KeyError, TypeError):
                return False
        context: dict = {}
        for check in self.checks:
            match = results.get(id(check), _UNTESTED)
            if match is _UNTESTED:
                match = results[id(check)] = check(fact)
            if not match:
                return False
            if match is not True and (type(match) is dict or isinstance(match, Mapping)):
                if not context:  # nothing bound yet: nothing to clash with (what _merge would find)
                    context.update(match)
                elif not _merge(context, match):
                    return False
        self.deliver(tuple.__new__(Token, (tag, data, context)))
        return True


_UNTESTED = object()


def _capture(checks: tuple) -> str | None:
    """The variable ``checks`` bind the fact to, when binding it is all they do (else None)."""
    return checks[0].bind if len(checks) == 1 and type(checks[0]) is FactCapture else None


def _entry(child):
    """How a path hands its token to the node it ends in.

    experta's ``activate``/``activate_left``/``activate_right`` only copy the token and call the
    underscored method; a path's token is new and used once, so it goes to that method directly.
    Anything else (a node type we do not know) is entered the ordinary way."""
    node, callback = child.node, child.callback
    for public, private in (("activate", "_activate"), ("activate_left", "_activate_left"),
                            ("activate_right", "_activate_right")):
        if callback == getattr(node, public, None) and isinstance(node, (ConflictSetNode, TwoInputNode)):
            method = getattr(node, private)  # as the node has it now (a conflict-set node's is tracked)
            quick = _INTO_EMPTY.get(getattr(method, "__func__", None))
            return functools.partial(quick, node, method) if quick is not None else method
    return callback


def _info(token) -> tuple:
    """``token.to_info()``: its facts and bindings, frozen (built positionally, as TokenInfo does)."""
    return tuple.__new__(TokenInfo, (frozenset(token.data), frozenset(token.context.items())))


# A join or not node entered while the memory it would be matched against is empty only keeps the
# token (and a not node then passes it on); experta's methods do exactly that, through a few more
# calls. Any other entry (a retraction, a memory to match) is experta's own method, ``enter``.

def _join_left_into_empty(node, enter, token) -> None:
    """``OrdinaryMatchNode._activate_left``."""
    if token.tag is _VALID and not node.right_memory:
        node.left_memory.append(_info(token))
    else:
        enter(token)


def _right_into_empty(node, enter, token) -> None:
    """``OrdinaryMatchNode._activate_right`` and ``NotNode._activate_right``: with nothing on the left,
    the token is only kept."""
    if token.tag is _VALID and not node.left_memory:
        node.right_memory.append(_info(token))
    else:
        enter(token)


def _not_left_into_empty(node, enter, token) -> None:
    """``NotNode._activate_left``: with nothing on the right, the token is kept (no match) and passed on."""
    if token.tag is _VALID and not node.right_memory:
        node.left_memory[_info(token)] = 0
        for child in node.children:
            child.callback(token)
    else:
        enter(token)


_INTO_EMPTY = {
    OrdinaryMatchNode._activate_left: _join_left_into_empty,
    OrdinaryMatchNode._activate_right: _right_into_empty,
    NotNode._activate_left: _not_left_into_empty,
    NotNode._activate_right: _right_into_empty,
}


def _hand_on_directly(node) -> None:
    """Let a beta node hand its tokens to its children's underscored methods (see :func:`_entry`).

    experta's public ``activate*`` methods copy each token before passing it on, in case a node
    changed it; none of experta's join, not and conflict-set nodes changes a token it is given (they
    freeze what they keep and build new tokens for what they send), so the copy is skipped."""
    children = node.children
    if children and isinstance(node, (ConflictSetNode, TwoInputNode)):
        node.children = [ChildNode(child.node, _entry(child)) for child in children]


def _merge(context: dict, match: Mapping) -> bool:
    """Add a test's bindings to the context exactly as experta's FeatureTesterNode does (False: clash)."""
    for key, value in match.items():
        if isinstance(key, tuple):  # a negated binding
            if key[1] in context and context[key[1]] == value:
                return False
        else:
            if context.get(key, value) != value:
                return False
            if (False, key) in context and context[(False, key)] == value:
                return False
    context.update(match)
    return True


def _alpha_paths(root) -> list[tuple[list, object]]:
    """Every path through experta's alpha network: its checks (in order) and the child link it ends in."""
    out: list[tuple[list, object]] = []

    def walk(child, checks: list) -> None:
        if not _is_tester(child):
            out.append((checks, child))
            return
        here = checks + [child.node.matcher]
        for grandchild in child.node.children:
            walk(grandchild, here)

    for child in root.children:
        walk(child, [])
    return out


def _key_fields(paths: list[_AlphaPath]) -> tuple[str, ...]:
    """The fields a fact type's paths are indexed on: those every path tests literally, else the one
    most paths test (when at least half do)."""
    common = set.intersection(*(set(p.literals) for p in paths)) if paths else set()
    if common:
        return tuple(sorted(common))
    counts: dict[str, int] = {}
    for path in paths:
        for field in path.literals:
            counts[field] = counts.get(field, 0) + 1
    best = max(sorted(counts), key=counts.__getitem__, default=None)
    return (best,) if best is not None and 2 * counts[best] >= len(paths) else ()


class _AlphaIndex:
    """experta's alpha network as hash lookups: fact type, then the values of the key fields.

    A fact runs only the paths whose literal tests its key values satisfy (plus the few paths that
    do not test every key field), in the order experta's network would have visited them.
    """

    def __init__(self, root):
        paths = [_AlphaPath(i, checks, terminal) for i, (checks, terminal) in enumerate(_alpha_paths(root))]
        self.untyped = tuple(p for p in paths if p.fact_type is None)
        self.by_type: dict[type, tuple[tuple[str, ...], dict, tuple]] = {}
        for fact_type in {p.fact_type for p in paths if p.fact_type is not None}:
            typed = [p for p in paths if p.fact_type is fact_type]
            fields = _key_fields(typed)
            scanned = [p for p in typed if not all(f in p.literals for f in fields)]
            table: dict[tuple, list] = {}
            for path in typed:
                if all(f in path.literals for f in fields):
                    for key in itertools.product(*(sorted(path.literals[f], key=repr) for f in fields)):
                        table.setdefault(key, []).append(path.without(fields))
            ordered = {k: tuple(sorted(v + scanned, key=lambda p: p.order)) for k, v in table.items()}
            self.by_type[fact_type] = (fields, ordered, tuple(scanned))
        self.terminals = tuple(dict.fromkeys(p.terminal.node for p in paths))

    def paths(self, fact) -> tuple:
        """The paths worth running for ``fact``."""
        entry = self.by_type.get(type(fact))
        if entry is None:
            return self.untyped
        fields, table, scanned = entry
        try:
            key = tuple(map(fact.get, fields))
            found = table.get(key, scanned)
        except TypeError:  # an unhashable value matches no literal
            found = scanned
        return found + self.untyped if self.untyped else found


def _plain_pattern(element) -> bool:
    return isinstance(element, Fact) and not any(isinstance(v, ORFC) for v in element.values())


def _prepared(rule):
    """``rule`` as experta's ``prepare_rule`` would return it (see :meth:`DispatchReteMatcher.prepare_ruleset`)."""
    if not rule or not all(_plain_pattern(e) or (isinstance(e, NOT) and len(e) == 1 and _plain_pattern(e[0]))
                           for e in rule):
        return prepare_rule(rule)
    elements = (InitialFact(), *rule) if isinstance(rule[0], NOT) else tuple(rule)
    # a fresh rule object, as experta's rewrite gives (the class attribute is bound to an engine by
    # inspect.getmembers); copying its wrapper state spares re-reading the function's signature
    fresh = rule.__class__(*elements, salience=rule.salience)
    fresh.__dict__.update(rule.__dict__)
    fresh._wrapped_self = None
    return fresh


def _share_equal_joins(root) -> int:
    """Make rules whose joins start alike share those joins, as Rete allows (experta builds a chain
    per rule); how many join nodes were folded into an equal one.

    A join or not node of experta's is defined by its class, its two inputs and its test; every
    join experta wires tests with a ``SameContextCheck``, which holds no state. Two such nodes with
    the same inputs hold the same memory and send the same tokens, so one of them can feed the
    children of both. Nodes are visited parents first, so equal prefixes fold level by level: the
    35 four-of-seven subsets of a criterion that all begin "low back pain, for over 3 months, aged
    35 to 44" then meet that evidence in one join instead of 35. Tokens a node sends are shared by
    its children, which only read them (see :func:`_hand_on_directly`)."""
    parents: dict[int, dict[str, Any]] = {}
    nodes: dict[int, Any] = {}
    todo, seen = [root], set()
    while todo:
        here = todo.pop()
        if id(here) in seen:
            continue
        seen.add(id(here))
        nodes[id(here)] = here
        for child in here.children:
            node = child.node
            side = "left" if child.callback == getattr(node, "activate_left", None) else \
                "right" if child.callback == getattr(node, "activate_right", None) else "other"
            parents.setdefault(id(node), {}).setdefault(side, []).append(here)
            todo.append(node)

    def shareable(node) -> bool:
        links = parents.get(id(node), {})
        return type(node) in (OrdinaryMatchNode, NotNode) and type(node.matcher) is SameContextCheck \
            and set(links) == {"left", "right"} and len(links["left"]) == 1 and len(links["right"]) == 1

    canonical: dict[int, Any] = {}
    equal: dict[tuple, Any] = {}
    folded = 0
    for node in _parents_first(nodes, parents):
        if not shareable(node):
            continue
        left, right = parents[id(node)]["left"][0], parents[id(node)]["right"][0]
        left, right = canonical.get(id(left), left), canonical.get(id(right), right)
        signature = (type(node), id(left), id(right))
        kept = equal.get(signature)
        if kept is None:
            equal[signature] = node
            continue
        canonical[id(node)] = kept
        folded += 1
        for parent in (left, right):  # the parents stop feeding the folded node ...
            parent.children = [c for c in parent.children if c.node is not node]
        known = {(id(c.node), c.callback) for c in kept.children}
        for child in node.children:  # ... and the node kept feeds its children
            if (id(child.node), child.callback) not in known:
                kept.children.append(child)
                known.add((id(child.node), child.callback))
                for side in parents.get(id(child.node), {}).values():
                    side[:] = [kept if p is node else p for p in side]
        node.children = []
    return folded


def _parents_first(nodes: dict[int, Any], parents: dict[int, dict[str, list]]) -> list:
    """``nodes`` ordered so that each comes after every node that feeds it (the network is a DAG)."""
    waiting = {key: sum(len(v) for v in parents.get(key, {}).values()) for key in nodes}
    children: dict[int, list[int]] = {}
    for key, links in parents.items():
        for side in links.values():
            for parent in side:
                children.setdefault(id(parent), []).append(key)
    ready = [key for key, count in waiting.items() if count == 0]
    out = []
    while ready:
        key = ready.pop()
        out.append(nodes[key])
        for child in children.get(key, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return out


def _downstream_memory(node) -> list:
    """``node`` and every node below it that holds memory (beta, not and conflict-set nodes)."""
    found, seen, todo = [], set(), [node]
    while todo:
        here = todo.pop()
        if id(here) in seen:
            continue
        seen.add(id(here))
        if not isinstance(here, FeatureTesterNode):
            found.append(here)
        todo.extend(child.node for child in here.children)
    return found


class DispatchReteMatcher(ReteMatcher):
    """experta's Rete matcher with a hashed alpha network, dirty-node activation polling and resets
    that touch only the memory a consultation used.

    experta builds the network as usual; its alpha part (one test per node, a token copy per node)
    is then read into an :class:`_AlphaIndex`, and a fact enters the beta network (experta's own
    join, not and conflict-set nodes, unchanged) only where its type and key values lead. The same
    tokens with the same bindings reach the same beta nodes as through experta's alpha nodes.
    """

    @staticmethod
    def prepare_ruleset(engine):
        """experta's rule preparation, skipping its DNF rewrite for rules already in that form.

        A rule made only of patterns (and NOT patterns) whose fields hold no ``|`` is in DNF: experta's
        rewrite would rebuild it unchanged (prepending ``InitialFact`` when it starts with a NOT), at
        about half the network's build time. Any other rule goes through experta's own rewrite."""
        prepared = {_prepared(rule) for rule in engine.get_rules()}
        for rule in prepared:
            if type(rule) is Rule:
                rule.__class__ = _NetworkRule  # the same rule, hashed once from now on
        return prepared

    def build_network(self) -> None:
        super().build_network()
        self.shared_joins = _share_equal_joins(self.root_node)
        self._dirty: list = []
        self._used: dict[int, bool] = {}
        nodes = self._get_conflict_set_nodes()
        for csn in nodes:
            csn._activate = _tracked(csn, self._dirty)
        # whether every conflict-set node hands over its activations as experta's does (polled inline)
        self._plain_polls = all(getattr(csn.get_activations, "__func__", None) is ConflictSetNode.get_activations
                                for csn in nodes)
        self._index = _AlphaIndex(self.root_node)
        self._below = {id(node): {id(below): below for below in _downstream_memory(node)}
                       for node in self._index.terminals}
        for below in self._below.values():
            for node in below.values():
                _hand_on_directly(node)

    def _route(self, fact, valid: bool) -> None:
        tag = _TAGS[valid]
        used = self._used
        results: dict = {}
        data = frozenset((fact,))
        # a plain fact's values are strings and numbers (so a literal test is a set lookup), and
        # experta logs a capture's binding only with its MATCH watcher on
        direct = fact.__dict__.get("_plain", False) and not watchers.MATCH.isEnabledFor(logging.INFO)
        for path in self._index.paths(fact):
            bind = path.capture
            if bind is not None and direct:  # literal tests, then the binding: what its run delivers
                for field, allowed in path.literals.items():
                    if fact.get(field, _UNTESTED) not in allowed:
                        break
                else:
                    path.deliver(tuple.__new__(Token, (tag, data, {bind: fact})))
                    used[id(path.terminal.node)] = True
            elif path.run(fact, tag, results, data):
                used[id(path.terminal.node)] = True

    def reset(self) -> None:
        """Reset only the memory below the alpha paths used since the last reset (experta walks every node)."""
        nodes: dict[int, Any] = {}
        for key in self._used:  # each node once, however many used paths lead to it
            nodes.update(self._below[key])
        for node in nodes.values():
            node._reset()
        self._used.clear()
        self._dirty.clear()

    def changes(self, adding=None, deleting=None):
        if deleting is not None:
            for fact in deleting:
                self._route(fact, False)
        if adding is not None:
            for fact in adding:
                self._route(fact, True)
        added: list = []
        removed: list = []
        seen = set()
        for csn in self._dirty:
            if id(csn) not in seen:
                seen.add(id(csn))
                if self._plain_polls:  # ConflictSetNode.get_activations: hand over both sets, start new ones
                    a, r = csn.added, csn.removed
                    csn.added, csn.removed = set(), set()
                else:
                    a, r = csn.get_activations()
                added.extend(a)
                removed.extend(r)
        self._dirty.clear()
        return added, removed
