"""Load the knowledge base from its YAML files into the typed model.

:func:`read_kb` reads and checks every ``*.yaml`` file of a KB folder and returns what it could
build together with every problem found (``file:line:col`` each). :func:`load_kb` is the strict
entry point used by the engine: any problem raises :class:`~compensa.errors.KBError`. The bundled
KB is loaded once per process and cached.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from compensa.errors import KBError, Problem, closest
from compensa.kb.model import (
    Assessment, Condition, Criterion, Member, Dysfunction, Effect, HistoryItem, Intervention, KnowledgeBase, Link,
    Muscle, PainSite, RedFlag, Root, SiteLink, Source, YellowFlag, muscle_state_id,
)
from compensa.kb.paths import BUNDLED_KB  # re-exported: the folder of the bundled KB
from compensa.kb.schema import SECTIONS, check_entry
from compensa.kb.yamlsource import MAX_KB_FILE_BYTES, Location, MarkedDict, MarkedList, read_bounded_text, read_yaml

__all__ = ["BUNDLED_KB", "KBRead", "load_kb", "read_kb"]


_LIST_SECTIONS = tuple(s for s in SECTIONS if s not in ("kb", "site", "effect", "member"))
_NODE_SECTIONS = ("muscles", "pain_sites", "roots", "dysfunctions", "conditions")
_TERM_SECTIONS = ("assessments", "history", "red_flags", "yellow_flags")


class KBRead:
    """What reading a KB folder produced: checked entries by section, problems, content hash."""

    def __init__(self, path: Path):
        self.path = path
        self.sections: dict[str, list[dict]] = {name: [] for name in _LIST_SECTIONS}
        self.meta: dict | None = None
        self.problems: list[Problem] = []
        self.content_hash = ""
        self.kb: KnowledgeBase | None = None


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _read_document(read: KBRead, file: Path, digest) -> dict | None:
    """The data of one KB file (None when it cannot be read or parsed; the problems are recorded)."""
    shown = _display(file)
    text, problem = read_bounded_text(file, MAX_KB_FILE_BYTES, name=shown, what="KB file")
    if problem is not None or text is None:  # missing, not a regular file (FIFO, directory, device), too big, not UTF-8
        read.problems.append(problem or Problem("cannot read KB file", shown))
        return None
    digest.update(file.name.encode() + b"\0" + text.encode("utf-8") + b"\0")
    data, problems = read_yaml(text, shown)
    read.problems.extend(problems)
    if data is not None and not isinstance(data, dict):
        read.problems.append(Problem("a KB file must be a mapping of sections (e.g. 'muscles:')", f"{shown}:1:1"))
        return None
    return data


def _add_section(read: KBRead, section: object, body: object, where: Location) -> None:
    """Check one top-level section of a KB file and keep its well-formed entries."""
    if section == "kb":
        if read.meta is not None:
            read.problems.append(Problem("the 'kb' section appears twice", str(where)))
        read.meta = check_entry(body, "kb", where, read.problems)
        return
    if section not in read.sections:
        read.problems.append(Problem(f"unknown section {section!r}", str(where), section,
                                     closest(str(section), list(read.sections) + ["kb"], 2)))
        return
    if body is None:
        return
    if not isinstance(body, list):
        read.problems.append(Problem(f"section {section!r} must be a list of entries", str(where)))
        return
    for index, item in enumerate(body):
        item_at = body.where(index) if isinstance(body, MarkedList) else where
        entry = check_entry(item, section, item_at, read.problems)
        if entry is not None:
            read.sections[section].append(entry)


def _read_files(read: KBRead) -> None:
    """Read every ``*.yaml`` file of the folder (bounded: regular files of at most MAX_KB_FILE_BYTES)."""
    files = sorted(read.path.glob("*.yaml")) if read.path.is_dir() else []
    if not files:
        read.problems.append(Problem(f"no *.yaml knowledge-base files in {read.path}", _display(read.path)))
        return
    digest = hashlib.sha256()
    for file in files:
        data = _read_document(read, file, digest)
        if data is None:
            continue
        shown = _display(file)
        for section, body in data.items():
            where = (data.where(section) if isinstance(data, MarkedDict) else None) or Location(shown, 1, 1)
            _add_section(read, section, body, where)
    read.content_hash = digest.hexdigest()
    if read.meta is None:
        read.problems.append(Problem("missing the 'kb' section (name, version, regions); it belongs in kb.yaml",
                                     _display(read.path / "kb.yaml")))


def _dedupe(read: KBRead) -> None:
    """Report duplicate ids (nodes share one id space, case terms another) and drop the repeats."""
    for group in (_NODE_SECTIONS, _TERM_SECTIONS, ("sources",), ("interventions",), ("criteria",)):
        seen: dict[str, tuple[str, Location]] = {}
        for section in group:
            kept = []
            for entry in read.sections[section]:
                first = seen.get(entry["id"])
                if first:
                    kind = first[0].rstrip("s").replace("_", " ")
                    read.problems.append(Problem(
                        f"duplicate id {entry['id']!r}: already used by a {kind} at {first[1]}",
                        str(entry["_where"].get("id", entry["at"]))))
                    continue
                seen[entry["id"]] = (section, entry["at"])
                kept.append(entry)
            read.sections[section] = kept
    seen_links: dict[tuple[str, str], Location] = {}
    kept = []
    for entry in read.sections["links"]:
        key = (entry["from"], entry["to"])
        if key in seen_links:
            read.problems.append(Problem(f"duplicate link {key[0]} -> {key[1]} (first at {seen_links[key]})", str(entry["at"])))
            continue
        seen_links[key] = entry["at"]
        kept.append(entry)
    read.sections["links"] = kept


def _effect(entry: dict) -> Effect | None:
    if entry.get("node"):
        target = entry["node"]
    elif entry.get("muscle") and entry.get("state"):
        target = muscle_state_id(entry["muscle"], entry["state"])
    else:
        return None
    return Effect(target, entry["strength"], entry["evidence"], entry["at"])


def _effects(entries) -> tuple[Effect, ...]:
    return tuple(e for e in (_effect(x) for x in entries) if e is not None)


#: Criterion member keys that name the evidence kind, and the default value each is satisfied by.
MEMBER_KINDS = {"test": "positive", "finding": "present", "pain": "present", "history": "present",
                "red_flag": "present", "diagnosis": "present", "onset": "present", "sex": "present"}


def member_kinds(entry: dict) -> list[str]:
    """The kind keys a criterion member entry uses (a well-formed member uses exactly one; age counts as one)."""
    kinds = [k for k in MEMBER_KINDS if entry.get(k)]
    if entry.get("age_at_least", -1) >= 0 or entry.get("age_below", -1) >= 0:
        kinds.append("age")
    return kinds


def _member(entry: dict) -> Member | None:
    kinds = member_kinds(entry)
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if kind == "age":
        return Member("age", "years", (), entry["at"], entry["age_at_least"], entry["age_below"])
    if kind == "onset":  # the case's onset field is read as the history item <onset>_onset
        return Member("history", f"{entry['onset']}_onset", ("present",), entry["at"])
    if kind == "sex":
        return Member("sex", entry["sex"], ("present",), entry["at"])
    if kind == "red_flag":
        return Member("red_flag", entry["red_flag"], ("present", "unsure"), entry["at"])  # unsure counts as yes
    if kind == "test":
        return Member("test", entry["test"], (entry["result"] or "positive",), entry["at"])
    if kind == "finding":
        return Member("finding", entry["finding"], ("present" if entry["present"] else "absent",), entry["at"])
    return Member(kind, entry[kind], ("present",), entry["at"])


def _members(entries) -> tuple[Member, ...]:
    return tuple(m for m in (_member(x) for x in entries) if m is not None)


def _criterion(e: dict) -> Criterion:
    members = _members(e["of"])
    return Criterion(e["id"], e["label"], e["aliases"], _members(e["all_of"]), e["need"] or len(members), members,
                     _members(e["none_of"]),
                     e["same_side"], _effects(e["supports"]), e["alarm"], e["advice"], e["mechanism"], e["source"],
                     e["at"])


def _build(read: KBRead) -> KnowledgeBase:
    s = read.sections
    meta = read.meta or {"name": "compensa", "version": "0", "regions": ()}
    common = lambda e: {k: v for k, v in e.items() if not k.startswith("_")}  # noqa: E731

    def table(section, make):
        return {e["id"]: make(common(e)) for e in s[section]}

    assessments = {}
    for e in s["assessments"]:
        yes, no = ("on_present", "on_absent") if e["kind"] == "finding" else ("on_positive", "on_negative")
        word_yes, word_no = ("present", "absent") if e["kind"] == "finding" else ("positive", "negative")
        assessments[e["id"]] = Assessment(
            e["id"], e["label"], e["aliases"], e["kind"], e["region"], e["sided"], e["how"], e["reading"],
            e["source"], {word_yes: _effects(e[yes]), word_no: _effects(e[no])}, e["at"], e["codes"])
    return KnowledgeBase(
        name=meta["name"] or "compensa",
        version=meta["version"] or "0",
        content_hash=read.content_hash,
        regions=tuple(meta["regions"] or ()),
        sources=table("sources", lambda e: Source(e["id"], e["citation"], e["url"], e["kind"], e["at"])),
        muscles=table("muscles", lambda e: Muscle(**{k: e[k] for k in Muscle.__slots__})),
        interventions=table("interventions", lambda e: Intervention(**{k: e[k] for k in Intervention.__slots__})),
        pain_sites=table("pain_sites", lambda e: PainSite(**{k: e[k] for k in PainSite.__slots__})),
        roots=table("roots", lambda e: Root(**{k: e[k] for k in Root.__slots__})),
        dysfunctions=table("dysfunctions", lambda e: Dysfunction(**{k: e[k] for k in Dysfunction.__slots__})),
        conditions=table("conditions", lambda e: Condition(
            e["id"], e["label"], e["aliases"], e["sided"], e["medical"], e["summary"], e["source"],
            tuple(SiteLink(x["site"], x["strength"], x["evidence"], x["at"]) for x in e["sites"]), e["at"],
            e["codes"], e["from_imbalance"], e["loading_first"])),
        links=tuple(Link(e["from"], e["to"], e["strength"], e["evidence"], e["mechanism"], e["source"], e["at"])
                    for e in s["links"]),
        assessments=assessments,
        history=table("history", lambda e: HistoryItem(e["id"], e["label"], e["aliases"], _effects(e["on_present"]),
                                                      e["source"], e["at"])),
        red_flags=table("red_flags", lambda e: RedFlag(**{k: e[k] for k in RedFlag.__slots__})),
        criteria=table("criteria", _criterion),
        yellow_flags=table("yellow_flags", lambda e: YellowFlag(**{k: e[k] for k in YellowFlag.__slots__})),
        path=_display(read.path),
    )


def read_kb(path: str | os.PathLike | None = None) -> KBRead:
    """Read and check the KB folder at ``path`` (the bundled KB by default); never raises KBError.

    The result holds every problem found (syntax, schema, references, graph) and, when the files
    could be read at all, the model built from the entries that were well-formed.
    """
    from compensa.kb.lint import check_references_and_graph  # lint builds on the loader

    read = KBRead(Path(path) if path is not None else BUNDLED_KB)
    _read_files(read)
    _dedupe(read)
    check_references_and_graph(read)
    read.kb = _build(read)
    return read


@lru_cache(maxsize=8)
def _load_cached(path: str) -> KnowledgeBase:
    from compensa.kb import cache

    # entries hold file names as shown from the working folder (file:line of every entry)
    key = cache.key_for(f"kb|{os.getcwd()}", [Path(path)])
    found = cache.fetch(key)
    if isinstance(found, KnowledgeBase):
        return found
    read = read_kb(path)
    if read.problems or read.kb is None:
        raise KBError(read.problems or [Problem("the knowledge base could not be built", path)])
    cache.store(key, read.kb)
    return read.kb


def load_kb(path: str | os.PathLike | None = None) -> KnowledgeBase:
    """Load and validate a knowledge base (the bundled one by default); cached per path in the
    process, and on disk by content (:mod:`compensa.kb.cache`), so only a changed KB is re-read.

    Raises :class:`~compensa.errors.KBError` listing every problem when the KB does not lint clean.
    """
    resolved = Path(path).resolve() if path is not None else BUNDLED_KB
    return _load_cached(str(resolved))
