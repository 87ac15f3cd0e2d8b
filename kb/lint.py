"""Cross-reference and graph checks of the knowledge base (the part of ``kb lint`` after the schema).

Each check appends :class:`~compensa.errors.Problem` records with ``file:line:col`` and, for an
unknown id, the closest known ids. Checks: references to unknown ids; strengths out of range or
above what the evidence grade allows; links from or to the wrong kind of node; assessments whose
results support nothing; roots whose exercises are missing; cycles; roots that reach no pain site;
conditions no root reaches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import islice

from compensa.errors import Problem, closest
from compensa.kb.model import chain_graph
from compensa.kb.schema import EVIDENCE_CAPS

__all__ = ["check_references_and_graph", "lint_kb"]

#: The result field each wrong one stands for (a finding uses present/absent, a test positive/negative).
_RESULT_FIELD = {"on_present": "on_positive", "on_absent": "on_negative",
                 "on_positive": "on_present", "on_negative": "on_absent"}

#: A k-of-n criterion compiles to one joined rule per k-subset; more than this many is refused.
MAX_CRITERION_RULES = 64

#: Criterion member kind -> (KB section, assessment kind or None, what it is called).
_MEMBER_REFS = {"test": ("assessments", "test", "test"), "finding": ("assessments", "finding", "finding"),
                "pain": ("pain_sites", None, "pain site"), "history": ("history", None, "history item"),
                "red_flag": ("red_flags", None, "red flag"), "diagnosis": ("conditions", None, "condition")}

#: At most this many cycles are enumerated (a tangle of links could otherwise have exponentially many).
_MAX_CYCLES = 1000


class _Checker:
    def __init__(self, read):
        self.read = read
        self.s = read.sections
        self.problems = read.problems
        ids = lambda section: {e["id"] for e in self.s[section]}  # noqa: E731
        self.regions = set((read.meta or {}).get("regions") or ())
        self.sources = ids("sources")
        self.muscles = ids("muscles")
        self._tendencies = {e["id"]: e.get("tendency") for e in self.s["muscles"]}
        self.sites = ids("pain_sites")
        self.roots = ids("roots")
        self.dysfunctions = ids("dysfunctions")
        self.conditions = ids("conditions")
        self.red_flags = ids("red_flags")

    def where(self, entry: dict, field: str) -> str:
        return str(entry["_where"].get(field) or entry["at"])

    def ref(self, entry: dict, field: str, value: str, known: Iterable[str], what: str, label: str) -> None:
        if field in entry.get("_failed", ()) or not value:
            return  # already reported by the schema check
        known = set(known)
        if value not in known:
            self.problems.append(Problem(f"{label}: unknown {what} {value!r}", self.where(entry, field), value,
                                         closest(value, sorted(known))))

    def refs(self, entry: dict, field: str, known, what: str, label: str) -> None:
        for value in entry.get(field) or ():
            self.ref(entry, field, value, known, what, label)

    def strength(self, entry: dict, label: str, *, field: str = "strength", negative: bool = False) -> None:
        if field in entry.get("_failed", ()):
            return  # already reported by the schema check
        value, grade = entry[field], entry.get("evidence")
        low = -1.0 if negative else 0.0
        if not (low <= value <= 1.0) or value == 0.0:
            span = "between -1 and 1 (not 0)" if negative else "above 0 and at most 1"
            self.problems.append(Problem(f"{label}: {field} {value:g} must be {span}", self.where(entry, field), value))
            return
        cap = EVIDENCE_CAPS.get(grade or "")
        if cap is not None and abs(value) > cap + 1e-9:
            self.problems.append(Problem(
                f"{label}: {field} {value:g} is above what evidence {grade} allows ({cap:g}); "
                f"weak evidence gets a low number", self.where(entry, field), value))

    # -- the checks ---------------------------------------------------------------------------
    def check_sources(self) -> None:
        for section in ("muscles", "interventions", "roots", "dysfunctions", "conditions", "links",
                        "assessments", "history", "red_flags", "criteria", "yellow_flags"):
            for entry in self.s[section]:
                label = self._label(section, entry)
                self.ref(entry, "source", entry["source"], self.sources, "source", label)
        for entry in self.s["interventions"]:  # the dose and the progression carry sources of their own
            for field in ("dose_source", "progression_source"):
                if entry.get(field):
                    self.ref(entry, field, entry[field], self.sources, "source", self._label("interventions", entry))

    def check_regions(self) -> None:
        for section in ("muscles", "pain_sites", "dysfunctions", "assessments"):
            for entry in self.s[section]:
                self.ref(entry, "region", entry["region"], self.regions, "region", self._label(section, entry))

    def check_anatomy(self) -> None:
        for e in self.s["muscles"]:
            label = self._label("muscles", e)
            self.refs(e, "sites", self.sites, "pain site", label)
            self.refs(e, "opposes", self.muscles, "muscle", label)
        for e in self.s["interventions"]:
            self.ref(e, "muscle", e["muscle"], self.muscles, "muscle", self._label("interventions", e))
            self.refs(e, "avoid_with", self.conditions, "condition", self._label("interventions", e))
            if e["avoid_with"] and not e["caution"]:
                self.problems.append(Problem(f"{self._label('interventions', e)}: avoid_with needs a caution sentence",
                                             self.where(e, "avoid_with")))
        for e in self.s["pain_sites"]:
            self.refs(e, "screen", self.red_flags, "red flag", self._label("pain_sites", e))
        items: dict[int, str] = {}
        for e in self.s["yellow_flags"]:
            self.refs(e, "from_pain", self.sites, "pain site", self._label("yellow_flags", e))
            item = e.get("startback_item") or 0
            if item and item in items:
                self.problems.append(Problem(f"{self._label('yellow_flags', e)}: STarT Back item {item} is already "
                                             f"{items[item]!r}", self.where(e, "startback_item")))
            items.setdefault(item, e["id"])

    def check_roots(self) -> None:
        have = {(e["muscle"], e["action"]) for e in self.s["interventions"]}
        for e in self.s["roots"]:
            label = self._label("roots", e)
            self.refs(e, "tight", self.muscles, "muscle", label)
            self.refs(e, "weak", self.muscles, "muscle", label)
            self.strength(e, label, field="member_strength")
            self._root_members(e, label)
            self._root_exercises(e, label, have)

    def _root_members(self, e: dict, label: str) -> None:
        """A muscular root lists muscles, a structural one none, and no muscle is both tight and weak."""
        if e["kind"] == "muscular" and not (e["tight"] or e["weak"]):
            self.problems.append(Problem(f"{label}: a muscular root needs at least one tight or weak muscle",
                                         self.where(e, "id")))
        if e["kind"] == "structural" and (e["tight"] or e["weak"]):
            self.problems.append(Problem(f"{label}: a structural root lists no muscles", self.where(e, "kind")))
        for muscle in sorted(set(e["tight"]) & set(e["weak"])):
            self.problems.append(Problem(f"{label}: muscle {muscle!r} is listed as both tight and weak",
                                         self.where(e, "weak")))
        self._root_tendencies(e, label)

    def _root_tendencies(self, e: dict, label: str) -> None:
        """A root listing a muscle against its tendency (tight a muscle that tends to weaken) says so in the muscle."""
        tendency = self._tendencies
        for field, against in (("tight", "weak"), ("weak", "tight")):
            for muscle in e[field]:
                if tendency.get(muscle) == against:
                    self.problems.append(Problem(
                        f"{label}: lists {muscle!r} as {field}, but muscles.yaml says it tends to be {against}; "
                        f"if both occur, set its tendency to 'either' with a comment saying when",
                        self.where(e, field)))

    def _root_exercises(self, e: dict, label: str, have: set[tuple[str, str]]) -> None:
        """Every muscle a root names has the exercise it asks for (stretch tight, strengthen weak)."""
        for field, action in (("tight", "stretch"), ("weak", "strengthen")):
            for muscle in e[field]:
                if muscle in self.muscles and (muscle, action) not in have:
                    self.problems.append(Problem(
                        f"{label}: asks to {action} {muscle!r} but interventions.yaml has no {action} for it",
                        self.where(e, field), muscle))

    def check_conditions(self) -> None:
        for e in self.s["conditions"]:
            label = self._label("conditions", e)
            if not e["sites"]:
                self.problems.append(Problem(f"{label}: lists no pain sites", self.where(e, "sites")))
            for site in e["sites"]:
                self.ref(site, "site", site["site"], self.sites, "pain site", label)
                self.strength(site, f"{label} site {site['site']!r}")

    def check_links(self) -> None:
        causes = self.roots | self.dysfunctions | self.conditions
        effects = self.dysfunctions | self.conditions
        for e in self.s["links"]:
            label = f"link {e['from']} -> {e['to']}"
            if e["from"] in self.roots | self.dysfunctions | self.conditions:
                pass
            else:
                hint = " (links start at a root, dysfunction or condition)" if e["from"] in self.muscles | self.sites else ""
                self.problems.append(Problem(f"{label}: unknown cause {e['from']!r}{hint}", self.where(e, "from"),
                                             e["from"], closest(e["from"], sorted(causes))))
            if e["to"] not in effects:
                hint = " (a root cannot be an effect)" if e["to"] in self.roots else (
                    " (pain sites belong in a condition's sites)" if e["to"] in self.sites else "")
                self.problems.append(Problem(f"{label}: unknown effect {e['to']!r}{hint}", self.where(e, "to"),
                                             e["to"], closest(e["to"], sorted(effects))))
            if e["from"] == e["to"]:
                self.problems.append(Problem(f"{label}: a link cannot point at itself", self.where(e, "to")))
            self.strength(e, label)

    def check_effects(self) -> None:
        nodes = self.roots | self.dysfunctions | self.conditions
        for section, fields in (("assessments", ("on_positive", "on_negative", "on_present", "on_absent")),
                                ("history", ("on_present",))):
            for e in self.s[section]:
                label = self._label(section, e)
                if section == "assessments":
                    self._result_words(e, label)
                for field in fields:
                    for effect in e.get(field) or ():
                        self._effect(effect, f"{label} {field}", nodes)
                self._supports_something(section, e, label)

    def _result_words(self, e: dict, label: str) -> None:
        """A finding's results are present/absent, a test's positive/negative."""
        wrong = ("on_present", "on_absent") if e["kind"] == "test" else ("on_positive", "on_negative")
        for field in wrong:
            if e[field]:
                self.problems.append(Problem(
                    f"{label}: a {e['kind']} uses {_RESULT_FIELD[field]!r}, not {field!r}", self.where(e, field)))

    def _supports_something(self, section: str, e: dict, label: str) -> None:
        """The positive (or present) result must support at least one node."""
        yes = "on_present" if section == "history" or e["kind"] == "finding" else "on_positive"
        if section == "history":  # context may only argue against (an injury from one event is not an imbalance)
            if not e.get(yes):
                self.problems.append(Problem(f"{label}: has no effect (give on_present an effect)", self.where(e, "id")))
            return
        if not any(x["strength"] > 0 for x in e.get(yes) or ()):
            self.problems.append(Problem(
                f"{label}: {yes.removeprefix('on_')} result supports nothing (give {yes} a positive effect)",
                self.where(e, "id")))

    def _effect(self, effect: dict, label: str, nodes: set[str]) -> None:
        has_node, has_muscle = bool(effect.get("node")), bool(effect.get("muscle"))
        if has_node == has_muscle or (has_muscle and not effect.get("state")):
            self.problems.append(Problem(f"{label}: an effect names either 'node' or 'muscle' with 'state'",
                                         str(effect["at"])))
            return
        if has_node:
            hint = nodes | self.muscles
            if effect["node"] not in nodes:
                extra = " (use muscle: and state: for a muscle)" if effect["node"] in self.muscles else ""
                self.problems.append(Problem(f"{label}: unknown node {effect['node']!r}{extra}",
                                             self.where(effect, "node"), effect["node"],
                                             closest(effect["node"], sorted(hint))))
        else:
            self.ref(effect, "muscle", effect["muscle"], self.muscles, "muscle", label)
        self.strength(effect, label, negative=True)

    def check_criteria(self) -> None:
        """Criteria: members that exist, a reachable count, bounded rules, and something they conclude."""
        from compensa.kb.loader import member_kinds

        nodes = self.roots | self.dysfunctions | self.conditions
        taken = {e["id"] for section in self.s if section not in ("criteria", "sources", "interventions")
                 for e in self.s[section] if "id" in e}  # nodes and case terms: labels are looked up by id
        for e in self.s["criteria"]:
            label = self._label("criteria", e)
            if e["id"] in taken:
                self.problems.append(Problem(f"{label}: id already used by another KB entry", self.where(e, "id")))
            for field in ("all_of", "of", "none_of"):
                for member in e[field]:
                    self._member(member, f"{label} {field}", member_kinds(member))
            self._criterion_count(e, label)
            for effect in e["supports"]:
                self._effect(effect, f"{label} supports", nodes)
            if not (e["supports"] or e["alarm"] or e["advice"]):
                self.problems.append(Problem(f"{label}: concludes nothing (give it supports, alarm or advice)",
                                             self.where(e, "id")))
            if e["same_side"] and not any(set(member_kinds(m)) & {"test", "finding", "pain", "diagnosis"}
                                          for m in (*e["all_of"], *e["of"])):
                self.problems.append(Problem(f"{label}: same_side needs at least one sided member (test, finding, "
                                             "pain or diagnosis)", self.where(e, "same_side")))

    def _criterion_count(self, e: dict, label: str) -> None:
        n, need = len(e["of"]), e["need"] or len(e["of"])
        if not (e["all_of"] or e["of"]):
            self.problems.append(Problem(f"{label}: needs members (all_of and/or of)", self.where(e, "id")))
        elif e["need"] and not 1 <= need <= n:
            self.problems.append(Problem(f"{label}: need {need} of {n} members can never be met",
                                         self.where(e, "need" if e["need"] else "of"), need))
        elif math.comb(n, need) > MAX_CRITERION_RULES:
            self.problems.append(Problem(
                f"{label}: {need} of {n} would compile to {math.comb(n, need)} joined rules (at most "
                f"{MAX_CRITERION_RULES}); split it into smaller criteria", self.where(e, "need")))

    def _member(self, member: dict, label: str, kinds: list[str]) -> None:
        if len(kinds) != 1:
            self.problems.append(Problem(
                f"{label}: a member names exactly one of {', '.join([*_MEMBER_REFS, 'onset', 'sex', 'age_at_least/age_below'])}"
                f" (got {', '.join(kinds) or 'none'})", str(member["at"])))
            return
        kind = kinds[0]
        if member["result"] and kind != "test":
            self.problems.append(Problem(f"{label}: 'result' belongs to a test member", self.where(member, "result")))
        if member["present"] is False and kind != "finding":
            self.problems.append(Problem(f"{label}: 'present: false' belongs to a finding member (use none_of)",
                                         self.where(member, "present")))
        if kind == "age" and 0 <= member["age_below"] <= member["age_at_least"]:
            self.problems.append(Problem(f"{label}: age_below must be above age_at_least", self.where(member, "age_below")))
        if kind == "onset":
            self.ref(member, "onset", f"{member['onset']}_onset", self._ids("history"), "history item (onset)", label)
        if kind not in _MEMBER_REFS:
            return
        section, assessment_kind, what = _MEMBER_REFS[kind]
        known = {x["id"] for x in self.s[section] if assessment_kind is None or x.get("kind") == assessment_kind}
        self.ref(member, kind, member[kind], known, what, label)

    def _ids(self, section: str) -> set[str]:
        return {e["id"] for e in self.s[section]}

    def check_graph(self) -> None:
        nodes = sorted(self.roots | self.dysfunctions | self.conditions)
        graph = chain_graph(nodes, ((e["from"], e["to"], {"entry": e}) for e in self.s["links"]))
        self._cycles(graph)
        self._reach(graph)

    def _cycles(self, graph) -> None:
        """Report each link that closes a cycle, once, with the shortest cycle it closes.

        A cycle is read from the node nearest a root (fewest links; ties by id), so the link that
        closes it is the one pointing back toward the cause.
        """
        import networkx as nx  # on first use, like chain_graph: importing compensa.kb stays light

        roots = [r for r in sorted(self.roots) if r in graph]
        depth = nx.multi_source_dijkstra_path_length(graph, roots) if roots else {}
        closing: dict[tuple[str, str], list[str]] = {}
        for cycle in islice(nx.simple_cycles(graph), _MAX_CYCLES):
            start = min(range(len(cycle)), key=lambda i: (depth.get(cycle[i], float("inf")), cycle[i]))
            cycle = cycle[start:] + cycle[:start]
            edge = (cycle[-1], cycle[0])
            if edge not in closing or (len(cycle), cycle) < (len(closing[edge]), closing[edge]):
                closing[edge] = cycle
        for (cause, effect), cycle in sorted(closing.items()):
            self.problems.append(Problem(
                f"link {cause} -> {effect} closes a cycle ({' -> '.join(cycle)} -> {effect}); "
                f"links go from cause to effect only", str(graph.edges[cause, effect]["entry"]["at"])))

    def _reach(self, graph) -> None:
        """Every root reaches a condition with pain sites; every condition is reached from a root."""
        import networkx as nx

        sited = {e["id"] for e in self.s["conditions"] if e["sites"]}
        reached: set[str] = set()
        for e in self.s["roots"]:
            nodes = {e["id"]} | nx.descendants(graph, e["id"])
            reached |= nodes
            if not nodes & sited:
                self.problems.append(Problem(
                    f"root {e['id']!r} reaches no pain site: link it to a dysfunction or condition",
                    self.where(e, "id")))
        for e in self.s["conditions"]:
            if e["id"] not in reached and e.get("from_imbalance", True):
                self.problems.append(Problem(
                    f"condition {e['id']!r} is not reached from any root: add a link that explains it "
                    "(or set from_imbalance: false if no muscle imbalance contributes)",
                    self.where(e, "id")))

    @staticmethod
    def _label(section: str, entry: dict) -> str:
        if section == "links":
            return f"link {entry.get('from')} -> {entry.get('to')}"
        name = {"history": "history item", "pain_sites": "pain site", "red_flags": "red flag", "criteria": "criterion",
                "yellow_flags": "yellow flag"}.get(
            section, section.rstrip("s"))
        return f"{name} {entry.get('id')!r}"

    def run(self) -> None:
        self.check_sources()
        self.check_regions()
        self.check_anatomy()
        self.check_roots()
        self.check_conditions()
        self.check_links()
        self.check_effects()
        self.check_criteria()
        if not any(p.message.startswith("YAML") for p in self.problems):
            self.check_graph()  # a file that could not be read would make every reachability claim false


def check_references_and_graph(read) -> None:
    """Run every reference and graph check on a :class:`~compensa.kb.loader.KBRead`."""
    _Checker(read).run()


def _sort_key(problem: Problem):
    path, _, rest = problem.where.partition(":")
    line, _, col = rest.partition(":")
    return (path, int(line) if line.isdigit() else 0, int(col) if col.isdigit() else 0, problem.message)


def _code_existence(read) -> list[Problem]:
    """ICD-10 and ICD-10-CM codes that the code tables do not contain (loading them is lint's cost only)."""
    from compensa.kb.codes import unknown_icd_codes

    problems = []
    for section in ("pain_sites", "assessments", "conditions", "red_flags", "dysfunctions", "muscles"):
        for e in read.sections[section]:
            for system, code in unknown_icd_codes((e.get("codes") or {}).items()):
                word = "ICD-10 (WHO)" if system == "icd10" else "ICD-10-CM"
                hint = " (a CM-only code? put it under icd10cm)" if system == "icd10" else ""
                problems.append(Problem(f"{_Checker._label(section, e)}: {word} has no code {code!r}{hint}",
                                        str(e["_where"].get("codes") or e["at"]), code))
    return problems


def lint_kb(path=None) -> list[Problem]:
    """Every problem in the KB folder at ``path`` (bundled KB by default), sorted by file and line.

    Beyond what loading checks, lint also looks every ICD-10 / ICD-10-CM code up in the code tables."""
    from compensa.kb.loader import read_kb

    read = read_kb(path)
    return sorted(read.problems + _code_existence(read), key=_sort_key)
