"""``compensa interview [--case FILE] [--save FILE]``: one question at a time, red flags first.

In a terminal the questions are asked with questionary (arrow keys; Ctrl-C or "quit" ends the session
and keeps what was answered). When stdin is not a terminal the answers are read one per line, so a
session can be scripted or tested::

    lateral_knee:right        # the first line gives the pain (site[:side], commas between) when no --case
    no                        # a red flag: yes | no | unsure | skip | quit
    positive                  # a test: positive | negative (y/n too), optionally :left|:right|:both
    skip
    quit

``--save FILE`` writes the case with every answer given (``.yaml``/``.yml`` or ``.json``; written
atomically). Exit status: 0 done, 2 bad input (the case, the answers' terms, the save file name),
1 the case could not be written.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click

from compensa.errors import CompensaError, OutputError, UsageError
from compensa.files import atomic_write

__all__ = ["interview", "apply_answer", "parse_answer_line", "save_case"]

_SECTION = {"test": "tests", "finding": "findings", "history": "history", "red_flag": "red_flags"}
_SIDES = ("left", "right", "both")
_POSITIVE = {"y", "yes", "present", "positive", "pos", "+"}
_NEGATIVE = {"n", "no", "absent", "negative", "neg", "-"}
_SUFFIXES = (".yaml", ".yml", ".json")
_BAD_NAME = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ELOOP}


class _Quit(Exception):
    """The user ended the session (quit, Ctrl-C or end of input)."""


def parse_answer_line(line: str, question: dict) -> tuple[str, str | None] | None:
    """``(answer, side)`` from a typed line: answer is a result word, ``unsure``, ``skip`` or ``quit``;
    side is ``left``/``right``/``both`` or ``None`` (the question's side). ``None``: not understood."""
    word, _, given = line.strip().lower().partition(":")
    side = given.strip() or None
    if side is not None and side not in _SIDES:
        return None
    word = word.strip()
    results = question.get("answers") or ["present", "absent"]
    if word in ("", "s", "skip"):
        return "skip", None
    if word in ("q", "quit", "exit"):
        return "quit", None
    if word in ("u", "unsure", "?") and question["kind"] == "red_flag":
        return "unsure", None
    if word in _POSITIVE:
        return results[0], side
    if word in _NEGATIVE:
        return results[1], side
    return None


def apply_answer(case: dict, question: dict, answer: str, side: str | None = None) -> dict:
    """A copy of the raw ``case`` with one answer added in the contract's form (replacing an earlier
    answer of the same id and side)."""
    kind, id_ = question["kind"], question["id"]
    side = side or question.get("side") or None
    if kind == "test":
        item: dict = {"id": id_, "result": answer}
    elif kind == "red_flag":
        item = {"id": id_, "present": "unsure" if answer == "unsure" else answer == "present"}
    else:
        item = {"id": id_, "present": answer == "present"}
    if side and kind in ("test", "finding"):
        item["side"] = side
    out = dict(case)
    section = _SECTION[kind]
    kept = [e for e in out.get(section, []) if not _same_item(e, id_, item.get("side"))]
    out[section] = kept + [item]
    return out


def _same_item(entry: object, id_: str, side: str | None) -> bool:
    if isinstance(entry, str):
        return entry.partition(":")[0] == id_ and not side
    return isinstance(entry, dict) and entry.get("id") == id_ and entry.get("side") == side


def check_save_path(path: str | None) -> Path | None:
    """Refuse a ``--save`` name that cannot be written, before any question is asked (UsageError)."""
    if path is None:
        return None
    target = Path(path)
    if target.suffix.lower() not in _SUFFIXES:
        raise UsageError(f"--save {path}: the file must end in .yaml, .yml or .json")
    if target.is_dir():
        raise UsageError(f"--save {path}: is a folder, give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"--save {path}: the folder {target.parent} does not exist")
    return target


def save_case(case: dict, path: Path) -> None:
    """Write ``case`` to ``path`` (YAML or JSON by suffix) atomically: a temporary file, then a rename."""
    if path.suffix.lower() == ".json":
        data = json.dumps(case, indent=2, ensure_ascii=False) + "\n"
    else:
        import yaml

        data = yaml.safe_dump(case, sort_keys=False, allow_unicode=True)
    try:
        atomic_write(path, data.encode("utf-8"))
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _write_error(path: Path, exc: OSError) -> CompensaError:
    if exc.errno in _BAD_NAME:
        return UsageError(f"--save {path}: cannot be written ({exc.strerror or exc})")
    return OutputError(f"--save {path}: the case could not be written ({exc.strerror or exc})")


class _Lines:
    """Answers read one per line from a non-terminal stdin."""

    def __init__(self, stream):
        self.stream = stream

    def line(self, prompt: str) -> str:
        click.echo(prompt)
        text = self.stream.readline()
        if not text:
            raise _Quit
        return text.rstrip("\n")

    def pain(self) -> str:
        return self.line("Where does it hurt? (site[:side], commas between; e.g. lateral_knee:right)")

    def answer(self, question: dict) -> tuple[str, str | None]:
        while True:
            parsed = parse_answer_line(self.line(_choices_hint(question)), question)
            if parsed is not None:
                return parsed
            click.echo("  not understood: answer " + _choices_hint(question).strip("> "))


class _Terminal:
    """Answers asked with questionary in a terminal."""

    def pain(self) -> str:
        import questionary

        found = questionary.text("Where does it hurt? (site[:side], commas between; e.g. lateral_knee:right)").ask()
        if found is None:
            raise _Quit
        return found

    def answer(self, question: dict) -> tuple[str, str | None]:
        import questionary

        words = list(question["answers"]) + ["skip", "quit"]
        choice = questionary.select(question["text"], choices=words).ask()
        if choice is None:
            raise _Quit
        if choice in ("skip", "quit") or question["kind"] not in ("test", "finding"):
            return choice, None
        sides = list(_SIDES) + ["no side"]
        side = questionary.select("Side", choices=sides, default=question.get("side") or "no side").ask()
        if side is None:
            raise _Quit
        return choice, None if side == "no side" else side


def _choices_hint(question: dict) -> str:
    words = list(question["answers"]) + ["skip", "quit"]
    side = " [:left|:right|:both]" if question["kind"] in ("test", "finding") else ""
    return f"> {' | '.join(words)}{side}"


def _pain_case(text: str) -> dict:
    sites = [part.strip() for part in text.split(",") if part.strip()]
    if not sites:
        raise UsageError("no pain site given: say where it hurts, e.g. lateral_knee:right")
    return {"pain": sites}


def _side_words(side: str | None) -> str:
    return f" ({side})" if side else ""


def _show(result: dict, number: int) -> None:
    top = result["ranking"][:3]
    shown = " | ".join(f"{i}. {r['label']}{_side_words(r['side'])} {r['confidence']:.2f}"
                       for i, r in enumerate(top, 1))
    click.echo(f"  ranking: {shown or '(no root imbalance likely yet)'}")
    question = result["question"]
    if question is None or result["should_stop"]:
        return
    where = f", {question['side']}" if question.get("side") else ""
    click.echo(f"Q{number} [{question['kind']}{where}] {question['text']}")
    click.echo(f"  why: {result['rationale']}")
    if question.get("how_to"):
        click.echo(f"  how: {question['how_to']}")


def _session(consultant, case: dict, asker) -> dict:
    """Ask until the interview stops or the user quits; the case with every answer given."""
    from compensa.engine.interview import next_question

    skipped: list[str] = []
    number = 1
    try:
        while True:
            result = next_question(consultant, case, skipped)
            _show(result, number)
            if result["should_stop"] or result["question"] is None:
                click.echo(f"Stopping: {result['rationale']}")
                return case
            question = result["question"]
            answer, side = asker.answer(question)
            if answer == "quit":
                raise _Quit
            if answer == "skip":
                skipped.append(question["id"] + (f":{question['side']}" if question.get("side") else ""))
            else:
                case = apply_answer(case, question, answer, side)
            number += 1
    except (_Quit, KeyboardInterrupt):
        click.echo("Interview ended; keeping the answers given so far.")
        return case


def _plain(value: object) -> object:
    """Plain dicts and lists (the case file reader may give its own mapping types), for saving."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _kb_path(ctx: click.Context) -> str | None:
    obj = ctx.find_root().obj
    return obj.get("kb") if isinstance(obj, dict) else None


def _run(ctx: click.Context, case_file: str | None, save_file: str | None) -> None:
    from compensa.engine import Consultant, load_kb
    from compensa.engine.case import read_case_file

    target = check_save_path(save_file)
    consultant = Consultant(load_kb(_kb_path(ctx)), max_engines=1)
    stdin = sys.stdin
    asker = _Terminal() if stdin.isatty() else _Lines(stdin)
    if case_file is not None:
        case = _plain(read_case_file(case_file))
        if not isinstance(case, dict):
            raise UsageError(f"{case_file}: a case is a mapping of sections (pain, findings, tests, ...)")
    else:
        try:
            case = _pain_case(asker.pain())
        except _Quit:
            click.echo("No pain given: nothing to ask.")
            return
    consultant.parse(case)  # a bad case is refused before the first question
    case = _session(consultant, case, asker)
    if target is not None:
        save_case(case, target)
        click.echo(f"case saved to {target}", err=True)
    else:
        click.echo("(give --save FILE to keep the answers)", err=True)


@click.command("interview")
@click.option("--case", "case_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Start from this case (YAML or JSON) instead of asking where it hurts.")
@click.option("--save", "save_file", metavar="FILE", help="Write the case with the answers (.yaml, .yml or .json).")
@click.pass_context
def interview(ctx: click.Context, case_file: str | None, save_file: str | None) -> None:
    """Ask the next most useful question, one at a time: red flags first, then the assessments that
    best separate the leading root imbalances; stops when the answer is clear."""
    try:
        _run(ctx, case_file, save_file)
    except CompensaError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(exc.exit_code)
