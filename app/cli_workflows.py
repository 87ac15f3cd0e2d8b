"""Workflow commands around a consultation: ``whatif`` (a changed finding or test) and ``compare`` (two visits)."""

from __future__ import annotations

import json

import click

from compensa.app.cli import _case_from, _consultant, _emit, case_options

__all__ = ["compare", "whatif"]


def _whatif_text(result: dict) -> str:
    before, after = result["before"], result["after"]

    def top(side: dict) -> str:
        roots = side["root_causes"][:3]
        ranked = ", ".join(f"{r['label']}{' (' + r['side'] + ')' if r['side'] else ''} {r['confidence']:.2f}"
                           for r in roots) or "no root ranked"
        plan = "plan withheld" if side["plan_withheld"] else f"{len(side['targets'])} targets"
        return f"triage {side['triage']}; {plan}; {ranked}"

    lines = ["compensa what-if", f"  before: {top(before)}", f"  after:  {top(after)}", "", "What changed and why:"]
    for change in result["changes"]:
        if change["kind"] == "target":
            verb = "added" if change["after"] else "dropped"
            side = f" ({change['side']})" if change["side"] else ""
            lines.append(f"  - target {verb}: {change['action']} {change['id']}{side}: {change['why']}")
        elif change["kind"] == "triage":
            lines.append(f"  - triage {change['before']} -> {change['after']}: {change['why']}")
        else:
            lines.append(f"  - {change['why']}")
    if not result["changes"]:
        lines.append("  nothing a clinician would act on (no root moved by 0.01 or more, same triage and plan)")
    return "\n".join(lines)


@click.command()
@case_options
@click.option("--add", "add", multiple=True, metavar="TERM",
              help="Add (or change) an item, e.g. ober_test:positive:right, knee_valgus:left, runner.")
@click.option("--remove", "remove", multiple=True, metavar="TERM", help="Take an item away (every side unless given).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def whatif(ctx, case_flags, add, remove, fmt):
    """What would change if a finding or test were added, changed or taken away."""
    from compensa.engine.whatif import changes_from_terms, what_if

    data = _case_from(ctx, case_flags)
    consultant = _consultant(ctx.obj["kb"])
    added = changes_from_terms(consultant.vocabulary, list(add), "--add")
    removed = changes_from_terms(consultant.vocabulary, list(remove), "--remove")
    if not added and not removed:
        raise click.UsageError("give at least one --add or --remove")
    result = what_if(consultant, data, added, removed, strict=bool(data.get("strict")))
    _emit(json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else _whatif_text(result))


def _compare_text(result: dict) -> str:
    first, second = result["visits"]
    span = f" ({result['weeks_between']} weeks apart)" if result["weeks_between"] is not None else ""
    lines = [f"compensa visit comparison: {first['date'] or 'first visit'} -> {second['date'] or 'second visit'}{span}"]
    for status in ("resolved", "improved", "persists", "worse", "new"):
        rows = result[status]
        if rows:
            lines.append(f"  {status}: " + "; ".join(
                f"{r['label']}{' (' + r['side'] + ')' if r['side'] else ''} {r['before']:.2f} -> {r['after']:.2f}"
                for r in rows))
    lines.append("Exercises:")
    for t in result["targets"]:
        side = f" ({t['side']})" if t["side"] else ""
        lines.append(f"  - {t['advice']}: {t['action']} {t['label']}{side}")
    review = result["review"]
    lines += ["", f"Next review: {review['when'] or 'see below'}. {review['why']}", "", result["disclaimer"]]
    return "\n".join(lines)


@click.command()
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def compare(ctx, first, second, fmt):
    """Compare two visits (case files): what resolved, improved, persists or is new; which exercises to keep."""
    from compensa.engine.case import read_case_file
    from compensa.engine.compare import compare_visits

    consultant = _consultant(ctx.obj["kb"])
    result = compare_visits(consultant, read_case_file(first), read_case_file(second))
    _emit(json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else _compare_text(result))
