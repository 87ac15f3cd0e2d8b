"""Generate knowledge bases of a given number of chain links, shaped like the real one (for scaling runs).

The KB is written as YAML files into a folder and read back with :func:`compensa.kb.read_kb`, the
loader and checker the bundled KB goes through, so a generated KB always has the current model's
shape and passes the same checks (sources, regions, references, acyclic chain, every root reaching a
pain site, every condition explained by a root).

Shape: roots -> dysfunctions -> conditions -> pain sites, with tests and findings that support muscle
states and chain nodes, a few history items, red flags (one of each level) and two criteria (a
same-side 2-of-3 test cluster, and an urgent red-flag cluster with an age member).
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from compensa.kb import KnowledgeBase, read_kb

__all__ = ["synthetic_kb", "typical_case", "write_synthetic_kb"]

SITES = 21
REGION = "hip"


@dataclass(frozen=True)
class _Sizes:
    roots: int
    dysfunctions: int
    conditions: int
    muscles: int
    assessments: int

    @classmethod
    def for_links(cls, links: int) -> _Sizes:
        return cls(max(3, links // 20), max(4, links // 5), max(4, links // 6), max(20, links // 25),
                   max(10, links // 10))


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def _anatomy(n: _Sizes) -> dict:
    sites = [{"id": s, "label": f"Site {s[4:]}", "region": REGION} for s in _ids("site", SITES)]
    muscles = [{"id": m, "label": f"Muscle {m[1:]}", "region": REGION, "sites": [f"site{i % SITES}"],
                "action": "Moves the hip.", "tendency": "either", "source": "s"}
               for i, m in enumerate(_ids("m", n.muscles))]
    interventions = [{"id": f"{action}_{m['id']}", "muscle": m["id"], "action": action, "label": f"{action} {m['id']}",
                      "how": "Do it slowly.", "source": "s"}
                     for m in muscles for action in ("stretch", "strengthen")]
    return {"pain_sites": sites, "muscles": muscles, "interventions": interventions}


def _nodes(n: _Sizes, rng: random.Random) -> dict:
    muscles = _ids("m", n.muscles)
    roots = []
    for i, r in enumerate(_ids("r", n.roots)):
        members = rng.sample(muscles, 6)
        roots.append({"id": r, "label": f"Root {i}", "sided": i % 2 == 0, "tight": members[:3], "weak": members[3:],
                      "member_strength": 0.4, "evidence": "M", "summary": "A pattern.", "source": "s"})
    dysfunctions = [{"id": d, "label": f"Dysfunction {i}", "region": REGION, "sided": i % 2 == 0,
                     "summary": "A posture.", "source": "s"} for i, d in enumerate(_ids("d", n.dysfunctions))]
    conditions = [{"id": c, "label": f"Condition {i}", "sided": i % 2 == 0, "summary": "It hurts.", "source": "s",
                   "sites": [{"site": f"site{j}", "strength": 0.4, "evidence": "M"} for j in rng.sample(range(SITES), 2)]}
                  for i, c in enumerate(_ids("c", n.conditions))]
    return {"roots": roots, "dysfunctions": dysfunctions, "conditions": conditions}


def _backbone(n: _Sizes) -> list[tuple[str, str]]:
    """Links that make the KB pass the reach checks: r(k mod R) -> d(k) for every d, d(j mod D) -> c(j) for every c."""
    return ([(f"r{k % n.roots}", f"d{k}") for k in range(n.dysfunctions)]
            + [(f"d{j % n.dysfunctions}", f"c{j}") for j in range(n.conditions)])


def _links(n: _Sizes, links: int, rng: random.Random) -> list[dict]:
    """``links`` acyclic cause -> effect links (roots before dysfunctions before conditions)."""
    order = _ids("r", n.roots) + _ids("d", n.dysfunctions) + _ids("c", n.conditions)
    position = {node: i for i, node in enumerate(order)}
    pairs = _backbone(n)
    if len(pairs) > links:
        raise ValueError(f"{links} links are too few for this shape (the backbone alone needs {len(pairs)})")
    made = set(pairs)
    causes, effects = order[:n.roots + n.dysfunctions], order[n.roots:]
    while len(pairs) < links:
        pair = (rng.choice(causes), rng.choice(effects))
        if position[pair[1]] > position[pair[0]] and pair not in made:
            made.add(pair)
            pairs.append(pair)
    return [{"from": a, "to": b, "strength": round(rng.uniform(0.2, 0.7), 2), "evidence": "M",
             "mechanism": "It pulls.", "source": "s"} for a, b in pairs]


def _effects(rng: random.Random, n: _Sizes, sign: float) -> list[dict]:
    state = {"muscle": f"m{rng.randrange(n.muscles)}", "state": rng.choice(["tight", "weak"])}
    node = {"node": rng.choice(_ids("d", n.dysfunctions) + _ids("c", n.conditions))}
    return [{**target, "strength": round(sign * rng.uniform(0.3, 0.6), 2), "evidence": "M"} for target in (state, node)]


def _assessments(n: _Sizes, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n.assessments):
        finding = i % 3 == 2
        yes, no = ("on_present", "on_absent") if finding else ("on_positive", "on_negative")
        out.append({"id": f"t{i}", "label": f"Test {i}", "kind": "finding" if finding else "test", "region": REGION,
                    "sided": True, "how": "Look.", "reading": "Positive when it shows.", "source": "s",
                    yes: _effects(rng, n, 1.0), no: _effects(rng, n, -0.5)})
    return out


def _screening(n: _Sizes) -> dict:
    flags = [{"id": f, "label": f.replace("_", " "), "question": "Is it so?", "category": "systemic", "level": level,
              "advice": "See a doctor.", "source": "s"}
             for f, level in (("saddle_numbness", "emergency"), ("fever", "urgent"), ("night_pain", "review"))]
    history = [{"id": f"h{i}", "label": f"History {i}", "source": "s",
                "on_present": [{"node": f"r{i % n.roots}", "strength": 0.2, "evidence": "M"}]} for i in range(3)]
    criteria = [
        {"id": "test_cluster", "label": "Two of three tests on one side", "need": 2, "same_side": True,
         "of": [{"test": f"t{i}"} for i in (0, 1, 3)],
         "supports": [{"node": "d0", "strength": 0.5, "evidence": "M"}], "mechanism": "They agree.", "source": "s"},
        {"id": "night_pain_over_50", "label": "Night pain past 50", "all_of": [{"red_flag": "night_pain"}],
         "of": [{"age_at_least": 50}], "alarm": "urgent", "advice": "See a doctor.", "mechanism": "Together.",
         "source": "s"},
    ]
    return {"red_flags": flags, "history": history, "criteria": criteria}


def _documents(links: int, seed: int) -> dict[str, dict]:
    rng = random.Random(seed)
    n = _Sizes.for_links(links)
    nodes = _nodes(n, rng)
    return {
        "kb": {"kb": {"name": "synthetic", "version": str(links), "regions": [REGION]}},
        "sources": {"sources": [{"id": "s", "citation": "Synthetic.", "url": "https://example.org", "kind": "review"}]},
        "anatomy": _anatomy(n),
        "nodes": nodes,
        "links": {"links": _links(n, links, rng)},
        "assessments": {"assessments": _assessments(n, rng)},
        "screening": _screening(n),
    }


def write_synthetic_kb(folder: Path, links: int, seed: int = 7) -> Path:
    """Write a synthetic KB of ``links`` chain links as YAML files into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in _documents(links, seed).items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def synthetic_kb(links: int, seed: int = 7) -> KnowledgeBase:
    """A checked KB with ``links`` chain links (generated as YAML, read with :func:`read_kb`)."""
    with tempfile.TemporaryDirectory(prefix="compensa-synthetic-") as tmp:
        read = read_kb(write_synthetic_kb(Path(tmp), links, seed))
    if read.problems or read.kb is None:
        shown = "; ".join(str(p) for p in read.problems[:5])
        raise ValueError(f"the synthetic KB of {links} links does not check clean: {shown}")
    return read.kb


def typical_case(kb: KnowledgeBase, seed: int = 1) -> dict:
    """Three pain sites and five assessments (tests or findings), with sides: a typical 8-piece case."""
    rng = random.Random(seed)
    chosen = [kb.assessments[a] for a in rng.sample(sorted(kb.assessments), 5)]
    return {"pain": [{"site": s, "side": rng.choice(["left", "right"])} for s in rng.sample(sorted(kb.pain_sites), 3)],
            "tests": [{"id": a.id, "result": rng.choice(["positive", "negative"]), "side": "right"}
                      for a in chosen if a.kind == "test"],
            "findings": [{"id": a.id, "present": rng.random() < 0.7, "side": "left"} for a in chosen if a.kind == "finding"]}
