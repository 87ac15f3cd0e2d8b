"""Read YAML while keeping where every mapping, key and item came from.

PyYAML silently keeps the last of two duplicate keys and forgets positions; the knowledge base
needs both reported. :func:`read_yaml` returns plain-looking containers (:class:`MarkedDict`,
:class:`MarkedList`) that also remember ``file:line:col`` of each key and item, plus the list of
problems met while reading (syntax errors, duplicate keys). The C loader is used when available.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from compensa.errors import Problem

__all__ = ["Location", "MarkedDict", "MarkedList", "read_yaml"]

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def _make_loader(path: str, problems: list[Problem]):
    class _Loader(_BaseLoader):
        pass

    def construct_mapping(loader, node):
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

    def construct_sequence(loader, node):
        result = MarkedList(at=_location(path, node.start_mark))
        for item in node.value:
            result.append(loader.construct_object(item, deep=True))
            result.item_at.append(_location(path, item.start_mark))
        return result

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return _Loader


def read_yaml(text: str, path: str) -> tuple[object, list[Problem]]:
    """Parse ``text`` (named ``path`` in messages); return the data and the problems met.

    Never raises for bad YAML: a syntax error becomes a problem with its line and column and the
    data is ``None``.
    """
    problems: list[Problem] = []
    loader = _make_loader(path, problems)(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = str(_location(path, mark)) if mark else path
        reason = exc.problem or exc.context or "invalid YAML"
        problems.append(Problem(f"YAML syntax error: {reason}", where))
        return None, problems
    except yaml.YAMLError as exc:  # reader errors (bad characters) and the like
        problems.append(Problem(f"YAML error: {exc}".splitlines()[0], f"{path}:1:1"))
        return None, problems
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. bad timestamps
        problems.append(Problem(f"YAML value error: {exc}", f"{path}:1:1"))
        return None, problems
    finally:
        loader.dispose()
    return data, problems
