"""The experta layer: one import site, generated rules, and a fast matcher that matches exactly as experta does."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from compensa.engine import experta_runtime as rt
from compensa.engine import consultant_for, load_kb
from compensa.engine.inference import CompiledKB
from compensa.engine.rules import compile_rules

ROOT = Path(__file__).resolve().parents[2]


def test_experta_is_imported_in_exactly_one_module():
    importers = []
    for folder in ("compensa", "kb", "facts", "engine", "visualize", "app"):
        for path in (ROOT / folder).rglob("*.py"):
            if re.search(r"^\s*(from|import)\s+experta\b", path.read_text(), re.M):
                importers.append(path.relative_to(ROOT).as_posix())
    assert importers == ["engine/experta_runtime.py"]


def test_experta_import_leaves_the_root_logger_alone():
    import logging

    assert not any(type(h).__module__.startswith("experta") for h in logging.getLogger().handlers)
    assert rt.Fact is not None


def test_rules_are_generated_from_the_kb_one_pattern_each():
    kb = load_kb()
    rules = compile_rules(kb)
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    alarms = {f for f, flag in kb.red_flags.items() if flag.level != "review"}
    assert {f"screen:{f}" for f in alarms} | {f"screen:{f}:unsure" for f in alarms} <= set(ids)
    assert not {f"screen:{f}" for f in set(kb.red_flags) - alarms} & set(ids)  # review signs raise no alarm
    assert {f"explain:{link.effect}" for link in kb.links} <= set(ids)
    assert all(r.salience == 100 for r in rules if r.id.startswith("screen:"))
    assert all(r.unless_alarm for r in rules if r.id.startswith("plan:"))


KB = load_kb()
EVIDENCE = (
    [("pain", s, "present") for s in sorted(KB.pain_sites)]
    + [(a.kind, a.id, r) for a in sorted(KB.assessments.values(), key=lambda a: a.id) for r in a.results]
    + [("history", h, "present") for h in sorted(KB.history)]
    + [("red_flag", "fever", "present")]
)


@settings(max_examples=25, deadline=None)
@given(items=st.lists(st.tuples(st.sampled_from(EVIDENCE), st.sampled_from(["", "left", "right"])), max_size=8, unique=True))
def test_dispatch_matcher_gives_the_same_justifications_as_experta(items):
    facts = {}
    for (kind, id_, value), side in items:
        facts[(kind, id_, side)] = {"kind": kind, "id": id_, "side": side, "value": value}
    evidence = list(facts.values())
    fast = consultant_for().compiled.run(evidence)
    plain = _plain().run(evidence)
    assert set(fast.supports) == set(plain.supports)
    assert sorted(fast.fired) == sorted(plain.fired)


def _library_cases() -> list[dict]:
    import yaml

    folder = ROOT / "kb" / "cases"
    return [yaml.safe_load(p.read_text())["case"] for p in sorted(folder.glob("*.yaml")) if p.name != "thresholds.yaml"]


def test_alpha_index_matches_experta_on_the_case_library():
    """Every library case (criteria joins, age ranges, red-flag alarms, sides) gives the same
    justifications through the hashed alpha index as through experta's own alpha network."""
    consultant = consultant_for()
    cases = _library_cases()
    assert len(cases) > 150
    for case in cases[::3]:
        evidence = consultant.parse(case).facts()
        fast, plain = consultant.compiled.run(evidence), _plain().run(evidence)
        assert set(fast.supports) == set(plain.supports), case
        assert sorted(fast.fired) == sorted(plain.fired)
        assert fast.halted == plain.halted


def test_reset_forgets_only_what_was_used_and_all_of_it():
    """A consultation after a heavy one (criteria met, alarms raised) sees none of its memory."""
    consultant = consultant_for()
    heavy = max(_library_cases(), key=lambda c: len(consultant.compiled.run(consultant.parse(c).facts()).supports))
    light = {"pain": [{"site": "lateral_knee", "side": "right"}], "tests": ["ober_test:positive:right"]}
    alone = consultant.compiled.run(consultant.parse(light).facts())
    consultant.compiled.run(consultant.parse(heavy).facts())
    after = consultant.compiled.run(consultant.parse(light).facts())
    assert set(after.supports) == set(alone.supports) and after.fired == alone.fired


_plain_cache = []


def _plain():
    if not _plain_cache:
        _plain_cache.append(CompiledKB(KB, matcher=rt.ReteMatcher))
    return _plain_cache[0]


def test_each_consultation_starts_from_fresh_working_memory():
    consultant = consultant_for()
    first = consultant.consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]}).to_dict()
    consultant.consult({"pain": ["head"], "red_flags": ["saddle_anaesthesia"]})
    again = consultant.consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]}).to_dict()
    assert first == again


def _network_objects(matcher) -> list:
    """Every node, child link, check and literal of a Rete network built by experta's own matcher."""
    found, seen, todo = [matcher], set(), [matcher.root_node]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        check = getattr(node, "matcher", None)
        if check is not None:
            found += [check, getattr(check, "how", None)]
        found += node.children
        todo += [child.node for child in node.children]
    return [obj for obj in found if obj is not None]


def test_every_private_experta_attribute_we_rely_on_exists():
    engine = _plain().engine_class()
    assert type(engine.matcher) is rt.ReteMatcher
    engine.reset()
    objects = _network_objects(engine.matcher) + [rt.Token.valid(rt.Fact(a=1)), rt.Activation(None, [rt.Fact(a=1)]), rt.Fact(a=1), engine,
                                                  engine.get_rules()[0], engine.facts, rt.DepthAgenda(), engine.agenda]
    assert callable(rt.watchers.worth) and rt.watchers.RULES.name == "experta.watchers.RULES"
    missing = []
    for cls, attributes in rt.PRIVATE_API.items():
        instances = [obj for obj in objects if isinstance(obj, cls)]
        assert instances, f"no {cls.__name__} in a compiled network: experta's Rete layout changed"
        for name in attributes:
            if not (hasattr(cls, name) or all(hasattr(obj, name) for obj in instances)):
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert missing == [], f"experta changed the internals experta_runtime uses: {missing}"
    assert rt.Token._fields == ("tag", "data", "context")  # _AlphaPath builds tokens positionally
    assert rt.TokenInfo._fields == ("data", "context")  # so does the conflict-set activation


def test_a_case_scoped_consultant_gives_the_same_reports_as_the_whole_kb():
    """scope="case" compiles only the rules the case can reach (the command line): same reports."""
    from compensa.engine import Consultant

    whole, scoped = consultant_for(), Consultant(KB, max_engines=1, scope="case")
    for case in _library_cases()[::4]:
        assert scoped.consult(case).to_dict() == whole.consult(case).to_dict(), case


def test_reachable_keeps_every_rule_that_fires_and_drops_the_rest():
    from compensa.engine.rules import compile_joins, reachable

    consultant = consultant_for()
    rules, joins = compile_rules(KB), compile_joins(KB)
    for case in _library_cases()[::5]:
        evidence = consultant.parse(case).facts()
        fired = set(consultant.compiled.run(evidence).fired)
        kept_rules, kept_joins = reachable(rules, joins, evidence)
        kept = {r.id for r in kept_rules} | {j.id for j in kept_joins}
        assert fired <= kept and len(kept) < len(rules) / 2


def test_the_agenda_fires_rules_in_experta_s_own_order():
    """DepthAgenda and the hashed-once activations keep experta's firing order, rule for rule."""
    fast, plain = consultant_for().compiled, _plain()
    for case in _library_cases()[::3]:
        evidence = consultant_for().parse(case).facts()
        assert fast.run(evidence).fired == plain.run(evidence).fired, case


def test_a_watched_engine_logs_every_rule_it_fires(caplog):
    """With experta's RULES watcher on, the run is experta's own loop and logs each FIRE."""
    import logging

    evidence = consultant_for().parse({"pain": ["lateral_knee:right"], "tests": ["ober_test:positive:right"]}).facts()
    quiet = consultant_for().compiled.run(evidence)
    rt.watchers.RULES.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="experta.watchers.RULES"):
            watched = consultant_for().compiled.run(evidence)
    finally:
        rt.watchers.RULES.setLevel(logging.NOTSET)
    assert watched.fired == quiet.fired and set(watched.supports) == set(quiet.supports)
    assert sum("FIRE" in r.getMessage() for r in caplog.records) == len(quiet.fired) > 0


def test_a_conclusion_stays_out_of_working_memory_only_when_no_rule_can_match_it():
    """Plans (and beliefs nothing explains further) are recorded, not declared: no pattern reads them."""
    rules = consultant_for().compiled.rules
    assert all(e.declared for r in compile_rules(KB) for e in r.emits if e.fact != "Target")  # the KB's specs
    patterns = [(r.fact, dict(r.match)) for r in rules] + [("Alarm", {}) for r in rules if r.unless_alarm]

    def read(emit) -> bool:
        values = dict(emit.values)
        return any(fact == emit.fact and all(values.get(f) == v for f, v in match.items()) for fact, match in patterns)

    emits = [e for r in rules for e in r.emits]
    assert all(read(e) for e in emits if e.declared)
    assert not any(read(e) for e in emits if not e.declared)
    assert {e.fact for e in emits if not e.declared} >= {"Plan", "Target"}


def test_leaving_unread_conclusions_out_changes_no_support_and_no_firing(monkeypatch):
    from compensa.engine import inference

    monkeypatch.setattr(inference, "declared_only_when_read", lambda rules: rules)
    declaring = CompiledKB(KB)
    assert any(e.fact == "Plan" and e.declared for r in declaring.rules for e in r.emits)
    fast = consultant_for().compiled
    for case in _library_cases()[::3]:
        evidence = consultant_for().parse(case).facts()
        ours, theirs = fast.run(evidence), declaring.run(evidence)
        assert ours.supports == theirs.supports and ours.fired == theirs.fired, case


def test_a_fact_maker_builds_the_fact_experta_would():
    cls = consultant_for().compiled.classes["Belief"]
    values = {"node": "tight:iliopsoas", "side": "left"}
    made, built = cls.maker(values)(), cls(**values)
    assert made == built and hash(made) == hash(built) and type(made) is type(built)
    assert made.__dict__ == built.__dict__ and made is not cls.maker(values)()
    odd = cls.maker({"node": ["a", "list"], "side": ""})()  # not plain: experta's own path, frozen
    assert not odd.__dict__.get("_plain") and odd == cls(node=["a", "list"], side="")


def _criterion_evidence() -> list[tuple[str, str, str]]:
    """Evidence that criteria joins test: each clause's values, ages at and around each range's ends."""
    found = set()
    for join in consultant_for().compiled.joins:
        for clause in (*join.clauses, *join.excluded):
            match = dict(clause.match)
            if clause.at_least >= 0 or clause.below >= 0:
                ages = {clause.at_least - 1, clause.at_least, clause.below - 1, clause.below} - {-1, -2}
                found |= {(match["kind"], match["id"], str(a)) for a in ages if a >= 0}
            else:
                found |= {(match["kind"], match["id"], v) for v in clause.values}
    return sorted(found)


CRITERION_EVIDENCE = _criterion_evidence()


@settings(max_examples=40, deadline=None)
@given(items=st.lists(st.tuples(st.sampled_from(CRITERION_EVIDENCE), st.sampled_from(["", "left", "right"])),
                      min_size=2, max_size=12, unique=True))
def test_shared_joins_meet_the_criteria_experta_s_own_network_meets(items):
    """Joins folded into one (subsets of a criterion that begin alike) fire the same rules with the
    same justifications as experta's network, where every rule has its own chain."""
    facts = {}
    for (kind, id_, value), side in items:
        facts[(kind, id_, side)] = {"kind": kind, "id": id_, "side": side, "value": value}
    evidence = list(facts.values())
    fast, plain = consultant_for().compiled.run(evidence), _plain().run(evidence)
    assert set(fast.supports) == set(plain.supports)
    assert sorted(fast.fired) == sorted(plain.fired) and fast.halted == plain.halted


def test_equal_join_prefixes_are_shared_and_folded_nodes_are_left_unfed():
    engine = consultant_for().compiled._borrow()
    try:
        matcher = engine.matcher
        assert matcher.shared_joins > 100  # the criteria's k-of-n subsets share their required prefix
        nodes = seen_nodes(matcher.root_node)
        fed: dict[int, int] = {}
        for node in nodes:
            for child in node.children:
                fed[id(child.node)] = fed.get(id(child.node), 0) + 1
        joins = [n for n in nodes if isinstance(n, (rt.OrdinaryMatchNode, rt.NotNode))]
        assert joins and all(fed.get(id(n), 0) == 2 for n in joins)  # each reachable join: a left and a right input
    finally:
        consultant_for().compiled._pool.put(engine)


def seen_nodes(root) -> list:
    """Every node reachable from ``root``."""
    out, todo, seen = [], [root], set()
    while todo:
        node = todo.pop()
        if id(node) not in seen:
            seen.add(id(node))
            out.append(node)
            todo += [c.node for c in node.children]
    return out
