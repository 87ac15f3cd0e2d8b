"""Generate knowledge bases of a given number of chain links, shaped like the real one (for scaling runs)."""

from __future__ import annotations

import random

from compensa.kb.model import (
    Assessment, Condition, Dysfunction, Effect, Intervention, KnowledgeBase, Link, Muscle, PainSite, RedFlag, Root,
    SiteLink, Source, muscle_state_id,
)
from compensa.kb.yamlsource import Location

AT = Location("synthetic", 1, 1)


def synthetic_kb(links: int, seed: int = 7) -> KnowledgeBase:
    """A DAG KB with ``links`` chain links: roots -> dysfunctions -> conditions -> pain sites."""
    rng = random.Random(seed)
    n_roots, n_dys, n_cond = max(3, links // 20), max(4, links // 5), max(4, links // 6)
    n_muscles, n_sites, n_tests = max(20, links // 25), 21, max(10, links // 10)
    src = {"s": Source("s", "synthetic", "https://example.org", "review", AT)}
    sites = {f"site{i}": PainSite(f"site{i}", f"Site {i}", (), "hip", (), AT) for i in range(n_sites)}
    muscles = {f"m{i}": Muscle(f"m{i}", f"Muscle {i}", (), "hip", (f"site{i % n_sites}",), "moves", "tight", (), "s", AT)
               for i in range(n_muscles)}
    interventions = {}
    for m in muscles:
        for action in ("stretch", "strengthen"):
            interventions[f"{action}_{m}"] = Intervention(f"{action}_{m}", m, action, "ex", "do it", "", "s", AT)
    roots = {}
    for i in range(n_roots):
        members = rng.sample(sorted(muscles), 6)
        roots[f"r{i}"] = Root(f"r{i}", f"Root {i}", (), "muscular", i % 2 == 0, tuple(members[:3]), tuple(members[3:]),
                              0.4, "M", "pattern", "s", AT)
    dys = {f"d{i}": Dysfunction(f"d{i}", f"Dys {i}", (), "hip", i % 2 == 0, "posture", "s", AT) for i in range(n_dys)}
    cond = {f"c{i}": Condition(f"c{i}", f"Cond {i}", (), "", i % 2 == 0, False, "hurts", "s",
                               tuple(SiteLink(f"site{j}", 0.4, "M", AT) for j in rng.sample(range(n_sites), 2)), AT)
            for i in range(n_cond)}
    order = list(roots) + list(dys) + list(cond)
    position = {n: i for i, n in enumerate(order)}
    made: set[tuple[str, str]] = set()
    chain: list[Link] = []
    while len(chain) < links:
        cause = rng.choice(list(roots) + list(dys))
        effect = rng.choice(list(dys) + list(cond))
        if position[effect] <= position[cause] or (cause, effect) in made:
            continue
        made.add((cause, effect))
        chain.append(Link(cause, effect, round(rng.uniform(0.2, 0.7), 2), "M", "mechanism", "s", AT))
    assessments = {}
    for i in range(n_tests):
        targets = [muscle_state_id(rng.choice(sorted(muscles)), rng.choice(["tight", "weak"])),
                   rng.choice(list(dys) + list(cond))]
        effects = tuple(Effect(t, 0.5, "M", AT) for t in targets)
        assessments[f"t{i}"] = Assessment(f"t{i}", f"Test {i}", (), "test", "hip", True, "do", "pos", "s",
                                          {"positive": effects, "negative": tuple(Effect(t, -0.3, "M", AT) for t in targets)}, AT)
    flags = {"fever": RedFlag("fever", "Fever", (), "q", "infection", "urgent", "see a doctor", "s", AT)}
    return KnowledgeBase("synthetic", str(links), f"synthetic-{links}", ("hip",), src, muscles, interventions, sites,
                         roots, dys, cond, tuple(chain), assessments, {}, flags)


def typical_case(kb: KnowledgeBase, seed: int = 1) -> dict:
    """Three pain sites and five tests, with sides: a typical 8-piece case for a synthetic KB."""
    rng = random.Random(seed)
    return {"pain": [{"site": s, "side": rng.choice(["left", "right"])} for s in rng.sample(sorted(kb.pain_sites), 3)],
            "tests": [{"id": t, "result": rng.choice(["positive", "negative"]), "side": "right"}
                      for t in rng.sample(sorted(kb.assessments), 5)]}
