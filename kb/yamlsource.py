"""Read YAML while keeping where every mapping, key and item came from, within documented bounds.

PyYAML silently keeps the last of two duplicate keys and forgets positions; the knowledge base
needs both reported. :func:`read_yaml` returns plain-looking containers (:class:`MarkedDict`,
:class:`MarkedList`) that also remember ``file:line:col`` of each key and item, plus the list of
problems met while reading (syntax errors, duplicate keys). The C parser is used when available.

Input is bounded, so a hostile file is refused quickly instead of hanging or crashing the process:

- :func:`read_bounded_text` reads only regular files (never a FIFO, device, socket or directory,
  even one swapped in after the check) and at most ``max_bytes`` (:data:`MAX_CASE_BYTES` for a
  case, :data:`MAX_KB_FILE_BYTES` for a KB file);
- :func:`read_yaml` builds the node tree from the parser's event stream itself, without recursion,
  and refuses nesting deeper than :data:`MAX_DEPTH`, aliases that expand to more than
  :data:`MAX_ALIAS_NODES` nodes ("billion laughs") and documents of more than
  :data:`MAX_CASE_NODES` / :data:`MAX_KB_NODES` nodes, before anything is constructed.

Case files use YAML 1.2 core scalars (``read_yaml(..., case=True)``, :func:`load_case_file_data`):
only ``true``/``false`` are booleans (``no``, ``on``, ``y`` stay strings) and dates stay ISO
strings, so YAML and JSON cases read alike. KB files keep PyYAML's safe (YAML 1.1) scalars.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compensa.errors import CaseError, Problem

__all__ = [
    "Location", "MAX_ALIAS_NODES", "MAX_CASE_BYTES", "MAX_CASE_NODES", "MAX_DEPTH", "MAX_KB_FILE_BYTES",
    "MAX_KB_NODES", "MarkedDict", "MarkedList",
    "load_case_file_data", "read_bounded_text", "read_yaml",
]

#: Largest case file read (bytes). A full case (100 items in each section) is well under 64 KiB.
MAX_CASE_BYTES = 256 * 1024
#: Largest single knowledge-base file read (bytes); the biggest bundled file is about 45 KB.
MAX_KB_FILE_BYTES = 2 * 1024 * 1024
#: Deepest nesting of lists and mappings accepted (the bundled KB and cases need 5 at most).
MAX_DEPTH = 64
#: Most nodes that aliases may add by repeating anchored parts (the bundled KB uses no aliases).
MAX_ALIAS_NODES = 10_000
#: Most nodes (keys, values, items; aliases expanded) in a case: a full case needs about 4,000.
MAX_CASE_NODES = 20_000
#: Most nodes in one KB file: the biggest bundled file has about 2,400.
MAX_KB_NODES = 200_000

if TYPE_CHECKING:
    from yaml import SafeLoader as _BaseLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Location:
    """A position in a knowledge-base file (1-based line and column)."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class MarkedDict(dict):
    """A mapping that remembers where it starts and where each key stands."""

    __slots__ = ("at", "key_at")

    def __init__(self, pairs=(), at: Location | None = None):
        super().__init__(pairs)
        self.at = at
        self.key_at: dict[object, Location] = {}

    def where(self, key: object) -> Location | None:
        """Location of ``key`` (or of the mapping itself when the key is absent)."""
        return self.key_at.get(key, self.at)


class MarkedList(list):
    """A sequence that remembers where it starts and where each item stands."""

    __slots__ = ("at", "item_at")

    def __init__(self, items=(), at: Location | None = None):
        super().__init__(items)
        self.at = at
        self.item_at: list[Location | None] = []

    def where(self, index: int) -> Location | None:
        """Location of item ``index`` (or of the sequence itself)."""
        if 0 <= index < len(self.item_at):
            return self.item_at[index]
        return self.at


def _location(path: str, mark) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


# --- reading a file, bounded -----------------------------------------------------------------------


class _Refused(Exception):
    """A file or document goes past a limit; ``mark`` is where (None: the whole file)."""

    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.mark = mark


def _size_text(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(f"it is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
        raise _Refused(f"the file is {_size_text(info.st_size)}, over the limit of {_size_text(max_bytes)}")


def _read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``; refuses anything else and anything over ``max_bytes``."""
    _check_regular(os.stat(path), max_bytes)  # before opening: opening a device may have effects
    fd = os.open(path, _READ_FLAGS)  # non-blocking: a FIFO swapped in after the check cannot hang
    try:
        _check_regular(os.fstat(fd), max_bytes)  # what was opened is what counts
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:  # the file grew after the check (or reports no size, as /proc files do)
        raise _Refused(f"the file is over the limit of {_size_text(max_bytes)}")
    return b"".join(chunks)


def _utf8_problem(raw: bytes, exc: UnicodeDecodeError, name: str, what: str) -> Problem:
    line = raw.count(b"\n", 0, exc.start) + 1
    column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8")) + 1  # in characters, as YAML's
    return Problem(f"cannot read {what}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
                   f"{name}:{line}:{column}")


def read_bounded_text(path: str | os.PathLike, max_bytes: int, *, name: str | None = None,
                      what: str = "file") -> tuple[str | None, Problem | None]:
    """Read the UTF-8 text of the regular file ``path`` holding at most ``max_bytes`` bytes.

    Returns ``(text, None)``, or ``(None, problem)`` when the file is missing, unreadable, not a
    regular file (directory, FIFO, socket, device; symlinks are followed), over the limit or not
    UTF-8. The problem names the file as ``name`` (default ``str(path)``, with ``:line:col`` for a
    bad byte) and says ``cannot read <what>: ...``. Never blocks on a FIFO, never raises.
    """
    name = str(path) if name is None else name
    try:
        raw = _read_regular_file(path, max_bytes)
    except _Refused as exc:
        return None, Problem(f"cannot read {what}: {exc}", name)
    except OSError as exc:
        return None, Problem(f"cannot read {what}: {exc.strerror or exc}", name)
    except ValueError as exc:  # e.g. a NUL character in the path
        return None, Problem(f"cannot read {what}: {exc}", name)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, _utf8_problem(raw, exc, name, what)


# --- composing the node tree from events, bounded ------------------------------------------------


class _Composer:
    """Builds one document's node tree from parser events with an explicit stack (no recursion).

    Refuses nesting deeper than :data:`MAX_DEPTH` (counting what aliases bring in), aliases
    adding more than :data:`MAX_ALIAS_NODES` nodes and more than ``max_nodes`` nodes in all, as
    soon as a limit is passed: the rest of the text is never parsed. Anchors keep ``(node, size,
    height)``: the nodes an alias adds and the levels it adds below where it stands.
    """

    def __init__(self, loader, max_nodes: int, what: str):
        self.loader, self.resolve = loader, loader.resolve
        self.max_nodes, self.what = max_nodes, what
        self.stack: list[list] = []  # open collections: [start event, items, count at start, deepest before]
        self.anchors: dict[str, tuple[object, int, int]] = {}
        self.open_anchors: dict[str, object] = {}
        self.count = 0  # nodes so far, aliases expanded
        self.expanded = 0  # nodes added by aliases
        self.deepest = 0  # deepest level reached inside the innermost open anchored collection
        self.handlers = {ScalarEvent: self._scalar, AliasEvent: self._alias, MappingStartEvent: self._start,
                         SequenceStartEvent: self._start, MappingEndEvent: self._end, SequenceEndEvent: self._end}

    def single_node(self):
        """The root node of the only document in the stream (None for an empty stream)."""
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(StreamEndEvent):
            return None
        loader.get_event()  # document start
        node = self._document()
        loader.get_event()  # document end
        if not loader.check_event(StreamEndEvent):
            raise ComposerError(None, None, "found a second document (after '---' or '...'); a file holds one",
                                loader.get_event().start_mark)
        return node

    def _document(self):
        get, handlers = self.loader.get_event, self.handlers
        while True:
            event = get()
            node = handlers[type(event)](event)
            if node is not None and not self.stack:
                return node

    def _attach(self, node):
        if self.stack:
            self.stack[-1][1].append(node)
        return node

    def _claim(self, event) -> None:
        first: Any = self.anchors[event.anchor][0] if event.anchor in self.anchors else self.open_anchors.get(event.anchor)
        if first is not None:
            raise ComposerError(None, None, f"found duplicate anchor &{event.anchor} (first at line "
                                f"{first.start_mark.line + 1})", event.start_mark)

    def _tag(self, kind, event, value=None) -> str:
        if event.tag is None or event.tag == "!":
            return self.loader.resolve(kind, value, event.implicit)
        return event.tag

    def _scalar(self, event):  # the hot path: most events are scalars
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(ScalarNode, event.value, event.implicit)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        if event.anchor is not None:
            self._claim(event)
            self.anchors[event.anchor] = (node, 1, 0)
        self.count += 1
        if self.count > self.max_nodes:
            self._grow(0, event)
        if self.stack:
            self.stack[-1][1].append(node)
        return node

    def _start(self, event):
        depth = len(self.stack) + 1
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep (the limit for lists and mappings "
                           "inside each other)", event.start_mark)
        if event.anchor is not None:
            self._claim(event)
            self.open_anchors[event.anchor] = event
        self.stack.append([event, [], self.count, self.deepest])
        self.deepest = depth if event.anchor is not None else max(self.deepest, depth)
        self._grow(1, event)

    def _end(self, event):
        start, items, count_before, deepest_before = self.stack.pop()
        node: Node
        if isinstance(start, MappingStartEvent):
            node = MappingNode(self._tag(MappingNode, start), list(zip(items[::2], items[1::2])),
                               start.start_mark, event.end_mark, start.flow_style)  # type: ignore[arg-type]
        else:
            node = SequenceNode(self._tag(SequenceNode, start), items, start.start_mark, event.end_mark,
                                start.flow_style)
        if start.anchor is not None:
            del self.open_anchors[start.anchor]
            self.anchors[start.anchor] = (node, self.count - count_before, self.deepest - len(self.stack))
            self.deepest = max(self.deepest, deepest_before)
        return self._attach(node)

    def _alias(self, event):
        if event.anchor in self.open_anchors:
            raise _Refused(f"alias *{event.anchor} stands inside the node it refers to (a recursive structure)",
                           event.start_mark)
        if event.anchor not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        node, size, height = self.anchors[event.anchor]
        self.expanded += size
        if self.expanded > MAX_ALIAS_NODES:
            raise _Refused(f"aliases expand to more than {MAX_ALIAS_NODES} nodes (the limit); write the repeated "
                           "part out or use fewer aliases", event.start_mark)
        depth = len(self.stack) + height
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep once alias *{event.anchor} is expanded "
                           "(the limit for lists and mappings inside each other)", event.start_mark)
        self.deepest = max(self.deepest, depth)
        self._grow(size, event)
        return self._attach(node)

    def _grow(self, size: int, event) -> None:
        self.count += size
        if self.count > self.max_nodes:
            raise _Refused(f"more than {self.max_nodes} nodes (keys, values and items; the limit for a {self.what})",
                           event.start_mark)


# --- constructing marked containers ----------------------------------------------------------------


def _construct_mapping(loader, node):
    path, problems = loader.source_path, loader.problems
    result = MarkedDict(at=_location(path, node.start_mark))
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            problems.append(Problem("a mapping key must be plain text", str(_location(path, key_node.start_mark))))
            continue
        where = _location(path, key_node.start_mark)
        if key in result:
            first = result.key_at[key]
            problems.append(
                Problem(f"duplicate key {key!r} (first at line {first.line}); YAML would keep only the last", str(where))
            )
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_at[key] = where
    return result


def _construct_sequence(loader, node):
    result = MarkedList(at=_location(loader.source_path, node.start_mark))
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_at.append(_location(loader.source_path, item.start_mark))
    return result


class _KBLoader(_BaseLoader):
    """PyYAML's safe loader (YAML 1.1 scalars) building marked containers."""

    def __init__(self, text: str, path: str, problems: list[Problem]):
        super().__init__(text)
        self.source_path = path
        self.problems = problems


_KBLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_KBLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


_CORE = "tag:yaml.org,2002:"


def _construct_core_int(loader, node) -> int:
    text = loader.construct_scalar(node)
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _refuse_tag(loader, node):
    tag = "!!" + node.tag.removeprefix(_CORE) if node.tag.startswith(_CORE) else node.tag
    raise ConstructorError(None, None, f"the tag {tag} is not allowed in a case file; write plain values as in "
                           "JSON (dates as \"2026-12-01\")", node.start_mark)


class _CaseLoader(_KBLoader):
    """YAML 1.2 core scalars only: true/false, null, ints and floats; everything else is a string."""

    yaml_implicit_resolvers = {}  # PyYAML: per-class registries
    yaml_constructors = {}


for _tag, _pattern, _first in (
    ("null", r"(?:~|null|Null|NULL|)\Z", ["~", "n", "N", ""]),
    ("bool", r"(?:true|True|TRUE|false|False|FALSE)\Z", list("tTfF")),
    ("int", r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z", list("-+0123456789")),
    ("float", r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
              r"|\.(?:nan|NaN|NAN))\Z", list("-+.0123456789")),
):
    _CaseLoader.add_implicit_resolver(_CORE + _tag, re.compile(_pattern), _first)
_CONSTRUCTORS: tuple[tuple[str | None, Any], ...] = (("null", SafeConstructor.construct_yaml_null), ("bool", SafeConstructor.construct_yaml_bool),
                         ("int", _construct_core_int), ("float", SafeConstructor.construct_yaml_float),
                         ("str", SafeConstructor.construct_yaml_str), ("map", _construct_mapping),
                         ("seq", _construct_sequence), (None, _refuse_tag))
for _name, _construct in _CONSTRUCTORS:
    _CaseLoader.add_constructor(_CORE + _name if _name else None, _construct)


# --- the reader ------------------------------------------------------------------------------------


def _reader_problem(exc: yaml.reader.ReaderError, text: str, path: str) -> Problem:
    at = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
    line = text.count("\n", 0, at) + 1 if at >= 0 else 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1 if at >= 0 else 1
    return Problem(f"YAML error: {exc}".splitlines()[0], f"{path}:{line}:{column}")


def _syntax_problem(exc: yaml.MarkedYAMLError, path: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    reason = exc.problem or exc.context or "invalid YAML"
    return Problem(f"YAML syntax error: {reason}", str(_location(path, mark)) if mark else path)


def _problem_from(exc: Exception, text: str, path: str) -> Problem:
    """The problem to report for an exception met while reading ``text``."""
    if isinstance(exc, _Refused):  # a limit: depth, aliases, node count
        return Problem(str(exc), str(_location(path, exc.mark)))
    if isinstance(exc, yaml.MarkedYAMLError):
        return _syntax_problem(exc, path)
    if isinstance(exc, yaml.reader.ReaderError):  # characters YAML does not allow (NUL, most control characters)
        return _reader_problem(exc, text, path)
    if isinstance(exc, yaml.YAMLError):
        return Problem(f"YAML error: {exc}".splitlines()[0], f"{path}:1:1")
    return Problem(f"YAML value error: {exc}", f"{path}:1:1")  # e.g. bad timestamps, huge ints


def _load(text: str, path: str, problems: list[Problem], case: bool) -> object:
    loader = (_CaseLoader if case else _KBLoader)(text, path, problems)  # the pure-Python reader may raise here
    try:
        composer = _Composer(loader, *((MAX_CASE_NODES, "case file") if case else (MAX_KB_NODES, "KB file")))
        node = composer.single_node()
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(text: str, path: str, *, case: bool = False) -> tuple[object, list[Problem]]:
    """Parse ``text`` (named ``path`` in messages); return the data and the problems met.

    ``case=True`` reads a case: YAML 1.2 core scalars (``no``/``on`` and dates stay strings) and no
    tags beyond JSON's types. Never raises for bad YAML: a syntax error, nesting deeper than
    :data:`MAX_DEPTH`, aliases expanding past :data:`MAX_ALIAS_NODES` or more nodes than
    :data:`MAX_CASE_NODES` (case) / :data:`MAX_KB_NODES` (KB) become a problem with its
    ``file:line:col`` and the data is ``None``. Nothing recurses deeper than :data:`MAX_DEPTH`.
    """
    problems: list[Problem] = []
    try:
        data = _load(text, path, problems, case)
    except (_Refused, yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        problems.append(_problem_from(exc, text, path))
        return None, problems
    return data, problems


def _case_problem(problem: Problem) -> Problem:
    message = problem.message.replace("YAML syntax error", "not valid YAML or JSON").replace(
        "YAML error", "not valid YAML or JSON")
    return Problem(message, problem.where, problem.value, problem.suggestions)


def load_case_file_data(path: str | os.PathLike) -> object:
    """Read a YAML or JSON case file into plain data (an empty file is ``{}``); not yet validated.

    Raises :class:`~compensa.errors.CaseError` naming the file (``file:line:col`` where it has a
    place) for a missing, special (FIFO, device, directory) or oversized (:data:`MAX_CASE_BYTES`)
    file, text that is not UTF-8, a syntax error, a duplicate key (a second ``red_flags:`` would
    hide the first), nesting past :data:`MAX_DEPTH`, aliases past :data:`MAX_ALIAS_NODES` or more
    than :data:`MAX_CASE_NODES` nodes.
    Scalars are read as YAML 1.2 core (see :func:`read_yaml` with ``case=True``).
    """
    name = str(path)
    text, problem = read_bounded_text(path, MAX_CASE_BYTES, name=name, what="case file")
    if problem is not None or text is None:
        raise CaseError(problem or Problem("cannot read case file", name))
    if not text.strip():
        return {}
    data, problems = read_yaml(text, name, case=True)
    if problems:
        raise CaseError([_case_problem(p) for p in problems])
    return data
