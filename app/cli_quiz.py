"""``compensa quiz [--region R] [--case ID] [--seed N]``: work library cases, one after another.

Each case shows the presenting complaint; the findings and tests stay hidden until asked for. The
student names the root imbalance and the targets, and compensa scores the answer and explains the
differences with the same WHY / WHY NOT / HOW as ``compensa explain``. A running score is kept over
the session.

In a terminal the session is driven with questionary menus. When stdin is not a terminal it reads
one command per line, so a session can be scripted or tested::

    ask ober_test hip_abductor_strength     # ids, or one readable name ("ask Ober test")
    answer lateral_hip_weakness strengthen:gluteus_medius stretch:tensor_fasciae_latae
    answer none triage:urgent               # no root imbalance (a red flag first, or too little evidence)
    next                                    # another case (also: skip)
    list | show | help | quit

Exit status: 0 done, 2 bad options (an unknown case or region).
"""

from __future__ import annotations

import random
import sys

import click

from compensa.errors import CompensaError

__all__ = ["parse_command", "quiz"]

_HELP = ("commands: ask ID [ID ...] | answer ROOT|none [stretch:MUSCLE ...] [strengthen:MUSCLE ...] "
         "[triage:LEVEL] | list | show | next | quit")
_LEVELS = ("emergency", "urgent", "routine", "self_care")


class _Quit(Exception):
    """The student ended the session (quit, Ctrl-C or end of input)."""


def _answer_from_words(words: list[str]) -> dict:
    """``{root, targets, triage?}`` from ``ROOT action:muscle[:side] ... [triage:LEVEL]``."""
    answer: dict = {"root": words[0] if words else None, "targets": []}
    for word in words[1:]:
        head, _, rest = word.partition(":")
        if head == "triage":
            answer["triage"] = rest
            continue
        muscle, _, side = rest.partition(":")
        target = {"action": head, "muscle": muscle}
        if side:
            target["side"] = side
        answer["targets"].append(target)
    return answer


def _ask_terms(rest: str, vocabulary) -> list[str]:
    """The asked terms: the whole rest when it names one assessment, else its words (commas split too)."""
    from compensa.engine.quiz import ASKABLE_KINDS

    rest = rest.strip()
    if "," in rest:
        return [t.strip() for t in rest.split(",") if t.strip()]
    if any(vocabulary.resolve(kind, rest) for kind in ASKABLE_KINDS):
        return [rest]
    return rest.split()


def parse_command(line: str, vocabulary) -> tuple[str, object]:
    """``(verb, argument)`` of a typed line: ``ask`` (terms), ``answer`` (an answer dict), ``next``,
    ``quit``, ``list``, ``show``, ``help``; ``("unknown", line)`` when not understood."""
    verb, _, rest = line.strip().partition(" ")
    verb = verb.lower()
    if verb in ("ask", "a") and rest.strip():
        return "ask", _ask_terms(rest, vocabulary)
    if verb in ("answer", "ans"):
        return "answer", _answer_from_words(rest.split())
    if verb in ("next", "skip", "n"):
        return "next", None
    if verb in ("quit", "exit", "q"):
        return "quit", None
    if verb in ("list", "show", "help", "?"):
        return {"?": "help"}.get(verb, verb), None
    return "unknown", line


# -- input: lines or questionary ------------------------------------------------------------------
class _Lines:
    """Commands read one per line from a non-terminal stdin."""

    def __init__(self, stream):
        self.stream = stream

    def command(self, view: dict, answered: bool, consultant) -> str:
        click.echo("> next | quit" if answered else "> ask ... | answer ... | next | quit")
        text = self.stream.readline()
        if not text:
            raise _Quit
        return text.strip()


class _Terminal:
    """Commands chosen with questionary menus in a terminal (they build the same command lines)."""

    def command(self, view: dict, answered: bool, consultant) -> str:
        import questionary

        menu = ["Next case", "Quit"] if answered else ["Ask for an assessment", "Answer", "Next case (skip)", "Quit"]
        choice = questionary.select("What now?", choices=menu).ask()
        if choice is None or choice == "Quit":
            raise _Quit
        if choice.startswith("Next"):
            return "next"
        if choice == "Answer":
            return self._answer(consultant)
        return self._ask(view)

    @staticmethod
    def _ask(view: dict) -> str:
        import questionary

        choices = [questionary.Choice(f"{c['label']} [{c['id']}]" + ("" if c["related"] else " (other region)"),
                                      value=c["id"]) for c in view["choices"]]
        picked = questionary.select("Ask for this assessment", choices=choices, use_search_filter=True,
                                    use_jk_keys=False).ask()
        if picked is None:
            raise _Quit
        return f"ask {picked}"

    @staticmethod
    def _answer(consultant) -> str:
        import questionary

        roots = sorted(consultant.kb.roots) + ["none"]
        root = questionary.autocomplete("Root imbalance (id, or none)", choices=roots).ask()
        if root is None:
            raise _Quit
        muscles = ", ".join(sorted(consultant.kb.muscles))
        targets = questionary.text("Targets (stretch:MUSCLE strengthen:MUSCLE ...)",
                                   instruction=f"muscles: {muscles}").ask()
        if targets is None:
            raise _Quit
        return f"answer {root.strip() or 'none'} {targets.strip()}"


# -- output -----------------------------------------------------------------------------------------
def _show_case(view: dict, number: int) -> None:
    click.echo(f"\nCase {number} [{view['region']}]")  # the id is shown with the score: it names the answer
    click.echo(f"  {view['presenting']['text']}")
    related = [c["id"] for c in view["choices"] if c["related"]]
    click.echo("  you may ask for: " + ", ".join(related[:25]) + (" ..." if len(related) > 25 else "")
               + " (list: all of them)")


def _target_list(items: list[dict]) -> str:
    return ", ".join(f"{t['action']} {t['muscle']}" for t in items) or "none"


def _show_score(view: dict) -> None:
    score = view["score"]
    root, targets = score["root"], score["targets"]
    verdict = "correct" if root["correct"] else "half (in compensa's top 3)" if root["partial"] else "wrong"
    click.echo(f"\nScore: {score['points']:g} / {score['max_points']:g}   root: {verdict}; targets: precision "
               f"{targets['precision']:.2f}, recall {targets['recall']:.2f}")
    click.echo(f"  expected root: {', '.join(root['expected']) or 'none'}; compensa's top 3: "
               f"{', '.join(root['compensa_top3']) or 'none'}")
    click.echo(f"  right: {_target_list(targets['correct'])}; missed: {_target_list(targets['missed'])}; "
               f"not expected: {_target_list(targets['extra'])}")
    if targets["harmful"]:
        click.echo(f"  HARMFUL picks: {_target_list(targets['harmful'])}")
    if "triage" in score:
        t = score["triage"]
        click.echo(f"  triage: {t['answer']} ({'right' if t['correct'] else 'expected ' + ' or '.join(t['expected'])})")
    solution = view["solution"]
    click.echo(f"  the case ({view['case_id']}): {solution['title']}. {solution['summary']}")
    click.echo("\n" + view.get("explanation", {}).get("text", ""))


# -- the session ------------------------------------------------------------------------------------
class _Session:
    """One quiz session: the case order, the current case, and the running score."""

    def __init__(self, consultant, order: list[str]):
        self.consultant = consultant
        self.order = order
        self.asked: list[str] = []
        self.answered = False
        self.points = 0.0
        self.max_points = 0.0
        self.cases = 0
        self.view: dict = {}

    def open_next(self) -> bool:
        """Show the next case; False when the library (or region) has no case left."""
        from compensa.visualize.quiz_explain import quiz_view

        if not self.order:
            return False
        self.asked, self.answered = [], False
        self.view = quiz_view(self.consultant, self.order.pop(0))
        _show_case(self.view, self.cases + 1)
        return True

    def ask(self, terms: list[str]) -> None:
        from compensa.visualize.quiz_explain import quiz_view

        before = len(self.view["revealed"])
        view = quiz_view(self.consultant, self.view["case_id"], asked=self.asked + terms)
        self.asked = [r["id"] for r in view["revealed"]]
        self.view = view
        for item in view["revealed"][before:] or [{"text": "(already asked)"}]:
            click.echo(f"  {item['text']}")

    def answer(self, answer: dict) -> None:
        from compensa.visualize.quiz_explain import quiz_view

        if self.answered:
            click.echo("  already answered: type next or quit")
            return
        view = quiz_view(self.consultant, self.view["case_id"], asked=self.asked, answer=answer)
        self.answered = True
        self.cases += 1
        self.points += view["score"]["points"]
        self.max_points += view["score"]["max_points"]
        _show_score(view)
        click.echo(self.running())

    def running(self) -> str:
        """The running score in words."""
        return f"Running score: {self.points:g} / {self.max_points:g} over {self.cases} case(s)"


def _step(session: _Session, verb: str, argument) -> bool:
    """Do one command; False when the session ends."""
    if verb == "quit":
        return False
    if verb == "next":
        return session.open_next() or _done_all()
    if verb == "ask":
        session.ask(argument)
    elif verb == "answer":
        session.answer(argument)
    elif verb == "list":
        click.echo("  " + ", ".join(session.view["available"]))
    elif verb == "show":
        click.echo(f"  {session.view['presenting']['text']}")
        for item in session.view["revealed"]:
            click.echo(f"  {item['text']}")
    else:
        click.echo(("  not understood: " + str(argument) + "\n  " if verb == "unknown" else "  ") + _HELP)
    return True


def _done_all() -> bool:
    click.echo("No more cases.")
    return False


def _loop(session: _Session, reader) -> None:
    while True:
        line = reader.command(session.view, session.answered, session.consultant)
        if not line or line.startswith("#"):
            continue
        verb, argument = parse_command(line, session.consultant.vocabulary)
        try:
            if not _step(session, verb, argument):
                return
        except CompensaError as exc:  # an unknown assessment, root or muscle: say so and go on
            for problem in exc.problems:
                click.echo(f"  error: {problem}")


def _order(case_id: str | None, region: str | None, seed: int | None) -> list[str]:
    """The session's case ids: ``case_id`` first, then the region's cases shuffled with ``seed``."""
    from compensa.engine.quiz import library, pick_case

    cases = library()
    first = pick_case(cases, case_id, region, seed)  # an unknown case or region fails here
    pool = [c.id for c in cases if (region is None or c.region == region) and c.id != first.id]
    random.Random(seed).shuffle(pool)
    return [first.id] + pool


def _kb_path(ctx: click.Context) -> str | None:
    obj = ctx.find_root().obj
    return obj.get("kb") if isinstance(obj, dict) else None


def _run(ctx: click.Context, region: str | None, case_id: str | None, seed: int | None) -> None:
    from compensa.engine import Consultant, load_kb

    order = _order(case_id, region, seed)
    consultant = Consultant(load_kb(_kb_path(ctx)), scope="case")
    session = _Session(consultant, order)
    reader = _Terminal() if sys.stdin.isatty() else _Lines(sys.stdin)
    click.echo("Work the case: ask for assessments, then name the root imbalance and the targets.\n" + _HELP)
    session.open_next()
    try:
        _loop(session, reader)
    except (_Quit, KeyboardInterrupt):
        pass
    click.echo("Final score: " + session.running().partition(": ")[2])


@click.command("quiz")
@click.option("--region", metavar="REGION", help="Only cases of this body region (knee, lower_back, neck, ...).")
@click.option("--case", "case_id", metavar="ID", help="Start with this library case.")
@click.option("--seed", type=int, metavar="N", help="Seed for the case order (the same seed, the same cases).")
@click.pass_context
def quiz(ctx: click.Context, region: str | None, case_id: str | None, seed: int | None) -> None:
    """Work library cases: ask for assessments, name the root imbalance and the targets, and see
    the score and compensa's explanation of the differences."""
    try:
        _run(ctx, region, case_id, seed)
    except CompensaError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(exc.exit_code)
