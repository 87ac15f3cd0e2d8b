"""The ``compensa`` command line.

Exit status: 0 success, 2 bad input or usage (the message names what and where and suggests the
fix), 1 unexpected failure. No traceback is shown for a user mistake.
"""

from __future__ import annotations

import functools

import json
import logging
import os
import sys
from pathlib import Path

import click

from compensa.errors import CompensaError, UsageError

__all__ = ["main"]

SAMPLE_CASE = Path(__file__).resolve().parent / "samples" / "demo.yaml"


def _consultant(kb_path: str | None):
    """A consultant for one consultation: only the rules the case can reach are compiled."""
    from compensa.engine import Consultant, load_kb

    return Consultant(load_kb(kb_path), max_engines=1, scope="case")


def _emit(text: str) -> None:
    click.echo(text, nl=not text.endswith("\n"))


def _write_graph(report, target: str, full: bool = False) -> None:
    from compensa.visualize import render_report_graph

    written, note = render_report_graph(report, target, full=full)
    click.echo(f"explanation graph written to {written}", err=True)
    if note:
        click.echo(note, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="compensa")
@click.option("--kb", "kb_path", envvar="COMPENSA_KB", default=None, metavar="DIR",
              help="Knowledge-base folder to use instead of the bundled one.")
@click.pass_context
def cli(ctx: click.Context, kb_path: str | None) -> None:
    """compensa: find the muscle imbalance behind the pain, screen red flags first, explain why."""
    ctx.obj = {"kb": kb_path}


def _note_text(note: str | None, note_file: str | None) -> str | None:
    """The clinical note of --text or --text-file (not both)."""
    if note is not None and note_file is not None:
        raise UsageError("give --text or --text-file, not both")
    if note_file is None:
        return note
    from compensa.kb.yamlsource import read_bounded_text

    text, problem = read_bounded_text(Path(note_file), 64 * 1024, name=note_file, what="note file")
    if problem is not None or text is None:
        from compensa.errors import CaseError, Problem

        raise CaseError(problem or Problem("cannot read the note file", note_file))
    return text


def _case_from(ctx, flags: dict):
    """The case of a command: its CASE file (if any) with the flags added to it."""
    from compensa.engine.case import case_from_flags, read_case_file

    case_file = flags.pop("case_file")
    strict = flags.pop("strict")
    note = _note_text(flags.pop("note"), flags.pop("note_file"))
    context = {k: flags.pop(k) for k in ("age", "sex", "onset", "duration_weeks")}
    given = case_from_flags(flags["pain"], flags["finding"], flags["test"], flags["red_flag"], flags["no_red_flag"],
                            flags["history"], flags["diagnosis"], flags["unsure_red_flag"])
    given.update({k: v for k, v in context.items() if v is not None})
    if note is not None:
        given["text"] = note
    if case_file is None and not given:
        raise UsageError("give a CASE file (YAML or JSON) or flags such as --pain lateral_knee:right")
    data = read_case_file(case_file) if case_file else {}
    if not isinstance(data, dict):
        from compensa.errors import CaseError, Problem

        raise CaseError(Problem("a case file must hold a mapping (pain:, findings:, tests:, ...)", str(case_file)))
    for key, values in given.items():
        existing = data.get(key)
        if not isinstance(values, list):
            data[key] = values  # a flag (--age) overrides the file's value
        elif existing is None or isinstance(existing, list):
            data[key] = list(existing or []) + values
        # otherwise leave it: the case validator names the malformed section
    if strict:
        data["strict"] = True
    return data


_case_options = [
    click.argument("case_file", required=False, type=click.Path(dir_okay=False)),
    click.option("--pain", multiple=True, metavar="SITE[:SIDE]", help="Where it hurts, e.g. lateral_knee:right."),
    click.option("--finding", multiple=True, metavar="ID[:SIDE]", help="A visual finding; prefix ! when absent."),
    click.option("--test", multiple=True, metavar="ID:RESULT[:SIDE]", help="A test, e.g. ober_test:positive:right."),
    click.option("--red-flag", multiple=True, metavar="ID", help="A red flag that is present."),
    click.option("--no-red-flag", multiple=True, metavar="ID", help="A red flag asked about and denied."),
    click.option("--unsure-red-flag", multiple=True, metavar="ID",
                 help="A red flag asked about, answer unsure (treated as present)."),
    click.option("--history", multiple=True, metavar="ID", help="Context, e.g. runner."),
    click.option("--diagnosis", multiple=True, metavar="ID", help="A condition already diagnosed."),
    click.option("--age", type=int, metavar="YEARS", help="Age in years (red-flag clusters read it)."),
    click.option("--sex", metavar="female|male", help="Sex (some criteria read it)."),
    click.option("--onset", metavar="sudden|gradual", help="sudden: an injury from one event; gradual: built up over months."),
    click.option("--duration-weeks", type=int, metavar="WEEKS", help="How long it has hurt."),
    click.option("--text", "note", metavar="NOTE", help="A clinical note, parsed into the case."),
    click.option("--text-file", "note_file", type=click.Path(dir_okay=False), metavar="FILE",
                 help="A clinical note read from a file (UTF-8)."),
    click.option("--strict", is_flag=True, help="Refuse a case with an unknown term (default: list it as not "
                                                "understood and consult the rest)."),
]
_CASE_FLAGS = ("case_file", "pain", "finding", "test", "red_flag", "no_red_flag", "unsure_red_flag", "history",
               "diagnosis", "age", "sex", "onset", "duration_weeks", "strict", "note", "note_file")


def case_options(func):
    """Add the case options to a command; it receives them together as ``case_flags``."""
    @functools.wraps(func)
    def command(*args, **kwargs):
        return func(*args, case_flags={name: kwargs.pop(name) for name in _CASE_FLAGS}, **kwargs)

    for option in reversed(_case_options):
        command = option(command)
    return command


@cli.command()
@case_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--graph", "graph", metavar="FILE", help="Also write the explanation graph (.svg, .png or .dot).")
@click.option("--full", is_flag=True, help="Graph everything reached, not just what explains the top answers.")
@click.pass_context
def consult(ctx, case_flags, fmt, graph, full):
    """Consult a CASE file (YAML/JSON) or a case given as flags."""
    data = _case_from(ctx, case_flags)
    if graph is not None:
        from compensa.visualize.dot import check_graph_path

        check_graph_path(graph)  # before any output: a bad path must not leave a report and an error
    report = _consultant(ctx.obj["kb"]).consult(data)
    if graph is not None:  # the graph first: if it cannot be written, no report is printed
        _write_graph(report, graph, full)
    _print_report(report, fmt)


def _print_report(report, fmt: str) -> None:
    if fmt == "json":
        _emit(report.to_json())
    else:
        from compensa.visualize.report_text import report_text

        _emit(report_text(report.to_dict()))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--graph", "graph", metavar="FILE", default="demo-explanation.svg", show_default=True,
              help="Where to write the explanation graph (.svg, .png or .dot).")
@click.pass_context
def demo(ctx, fmt, graph):
    """Run the embedded sample consultation and write its explanation graph."""
    from compensa.engine.case import read_case_file

    if graph:
        from compensa.visualize.dot import check_graph_path

        check_graph_path(graph)
    report = _consultant(ctx.obj["kb"]).consult(read_case_file(SAMPLE_CASE))
    if graph:
        _write_graph(report, graph)
    if fmt == "text":
        click.echo(f"Sample case ({SAMPLE_CASE.name}):", err=True)
    _print_report(report, fmt)


@cli.command()
@case_options
@click.option("--target", "target", metavar="MUSCLE", help="WHY: the chain from this muscle to the pain it explains.")
@click.option("--why-not", "why_not_root", metavar="ROOT", help="WHY NOT: why this root imbalance ranks low or is absent.")
@click.option("--verbose", "-v", is_flag=True, help="Show every support and the certainty-factor arithmetic.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def explain(ctx, case_flags, target, why_not_root, verbose, fmt):
    """Explain a consultation: HOW (default), WHY a target (--target), WHY NOT a root (--why-not)."""
    from compensa.visualize import explain as explaining

    if target and why_not_root:
        raise UsageError("use --target or --why-not, not both")
    data = _case_from(ctx, case_flags)
    consultant = _consultant(ctx.obj["kb"])
    report = consultant.consult(data)
    if target:
        result = explaining.why_target(report, target, consultant.vocabulary)
    elif why_not_root:
        result = explaining.why_not(report, why_not_root, consultant.vocabulary)
    else:
        result = explaining.how(report, verbose=verbose)
    _emit(json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else explaining.to_text(result))


@cli.group()
def kb():
    """Inspect and check the knowledge base."""


@kb.command("lint")
@click.option("--cases", "cases", metavar="DIR", type=click.Path(file_okay=False),
              help="Case library to check against the KB (default: the bundled one, with the bundled KB).")
@click.option("--no-cache", is_flag=True, help="Check everything again even if these exact files were clean before.")
@click.pass_context
def kb_lint(ctx, cases, no_cache):
    """Check the KB files and the case library; print the problems (exit 2 when any).

    A clean result is remembered for these exact files and this exact code (compensa.kb.cache), so
    linting an unchanged KB again is instant; any edit is checked in full."""
    from compensa.kb import cache
    from compensa.kb.paths import BUNDLED_KB

    library = cases or (None if ctx.obj["kb"] else _bundled_cases())
    folders = [Path(ctx.obj["kb"]) if ctx.obj["kb"] else BUNDLED_KB] + ([Path(library)] if library else [])
    key = None if no_cache else cache.key_for(f"lint|{os.getcwd()}", folders)
    clean = cache.fetch(key)
    if isinstance(clean, str):
        click.echo(clean)
        return
    from compensa.kb import lint_kb, load_kb

    problems = lint_kb(ctx.obj["kb"])
    if not problems and library:
        problems = _library_problems(load_kb(ctx.obj["kb"]), library)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        raise SystemExit(2)
    knowledge = load_kb(ctx.obj["kb"])
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in knowledge.counts().items())
    line = f"{knowledge.version_string}: clean ({counts})"
    cache.store(key, line)
    click.echo(line)


def _bundled_cases() -> str:
    from compensa.kb.paths import BUNDLED_CASES

    return str(BUNDLED_CASES)


def _library_problems(knowledge, folder: str | None) -> list:
    from compensa.engine.evaluate import BUNDLED_CASES, check_library, read_library

    try:
        library, _ = read_library(folder or BUNDLED_CASES)
    except CompensaError as exc:
        return list(exc.problems)
    return check_library(library, knowledge)


@kb.command("graph")
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write (.svg, .png or .dot).")
@click.option("--root", "root", metavar="ID", help="Only what this root imbalance reaches.")
@click.option("--region", "region", metavar="REGION", help="Only one body region and its neighbours.")
@click.option("--no-muscles", is_flag=True, help="Leave out the muscles of each root.")
@click.pass_context
def kb_graph_command(ctx, output, root, region, no_muscles):
    """Draw the KB's compensation network (for teaching)."""
    from compensa.kb import load_kb
    from compensa.visualize.dot import to_dot, write_graph
    from compensa.visualize.kb_graph import kb_graph

    knowledge = load_kb(ctx.obj["kb"])
    from compensa.visualize.dot import check_graph_path

    check_graph_path(output)
    graph = kb_graph(knowledge, root=root, region=region, muscles=not no_muscles)
    title = f"compensa knowledge base {knowledge.version_string}" + (f" — {root}" if root else "") + (
        f" — {region}" if region else "")
    source = to_dot(graph, title, knowledge.regions, edge_note="edge label: link strength (how far the effect<br/>points back to the cause)")
    written, note = write_graph(source, output)
    click.echo(f"KB graph ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges) written to {written}", err=True)
    if note:
        click.echo(note, err=True)


@kb.command("show")
@click.argument("entry_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def kb_show(ctx, entry_id, fmt):
    """Show one KB entry with its links both ways (no ID: the KB summary), as YAML text or JSON."""
    from compensa.kb import load_kb
    from compensa.kb.show import show, to_yaml

    data = show(load_kb(ctx.obj["kb"]), entry_id)
    _emit(json.dumps(data, indent=2, ensure_ascii=False) if fmt == "json" else to_yaml(data))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told otherwise).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes (multi-core).")
@click.option("--engines", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Compiled experta engines per worker (concurrent consultations per process).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as text or as JSON objects (time, level, logger, message, request_id).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="Least severe log level written.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600), metavar="S",
              help="Seconds a client has to send complete request headers (from connecting, or from the first "
                   "byte of a later request); else 408 and the connection is closed.")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 3600), metavar="S",
              help="Seconds a client has to send the whole request body after its headers; else 408 and close.")
@click.option("--max-connections", default=1000, show_default=True, type=click.IntRange(1, 1_000_000), metavar="N",
              help="Open connections per worker; one more gets 503 with Retry-After and is closed. Kept below "
                   "the open-file limit (raised to its hard limit at start).")
@click.option("--max-requests-in-flight", default=128, show_default=True, type=click.IntRange(1, 100_000),
              metavar="N", help="Requests inside the app per worker; one more gets 503 with Retry-After "
                                "(/healthz and /readyz always answer).")
@click.option("--audit", "audit", metavar="FILE", type=click.Path(dir_okay=False),
              help="Append one JSON line per consultation (time, request id, kb_version, case hash, triage, top "
                   "roots, targets; never free text). If a line cannot be written the request answers 503.")
@click.option("--report-cache", "report_cache", default=0, show_default=True, type=click.IntRange(0, 100_000),
              metavar="N", help="Keep the reports of the last N distinct cases per worker and answer the same case "
                                "again from them (0: off). The body is still checked; each hit is still audited.")
@click.option("--frame-ancestors", "frame_ancestors", default="'self'", show_default=True, metavar="SOURCES",
              help="CSP frame-ancestors of the web page (add an EHR's origin to embed it).")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY",
              help="An API key clients send as X-API-Key (or Authorization: Bearer); repeatable. Required when "
                   "bound to a non-loopback address. Prefer COMPENSA_API_KEYS: options show up in process lists.")
@click.option("--insecure-no-auth", "insecure_no_auth", is_flag=True,
              help="Serve a non-loopback address without API keys (only behind something that authenticates).")
@click.pass_context
def serve(ctx, **options):
    """Serve the HTTP API and the web page.

    Every option can also be set in the environment as COMPENSA_<OPTION> (COMPENSA_HOST,
    COMPENSA_PORT, COMPENSA_API_KEYS, ...; see the README's settings table); an option given here
    wins. A worker that dies is replaced while the others keep answering. Slow clients are timed
    out, and overload answers 503 with Retry-After rather than failing; repeated log lines are
    rate-limited ("suppressed N similar messages").
    """
    _require_server_extra()
    from compensa.app import server
    from compensa.app.protocol import Limits
    from compensa.app.settings import load_settings

    given = {name: value for name, value in options.items()
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    if "api_keys" in given:
        given["api_keys"] = list(given["api_keys"])
    settings = load_settings(kb=ctx.obj["kb"], **given)  # option > COMPENSA_* variable > default
    settings = settings.model_copy(update={name: Path(value).resolve() for name in ("kb", "audit")
                                           if (value := getattr(settings, name)) is not None})
    _check_authentication(settings)
    if settings.audit:
        from compensa.app.audit import AuditLog

        AuditLog(str(settings.audit)).close()  # fail fast (exit 1) when it cannot be opened
    from compensa.kb import load_kb

    load_kb(settings.kb)  # refuse to start on a bad KB, with its file:line messages
    server.check_address(settings.host, settings.port)
    settings.export()  # the worker processes read the same settings (compensa.app.http.app_factory)
    limits = Limits(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                    max_connections=settings.max_connections, max_in_flight=settings.max_requests_in_flight)
    status = server.run(settings.host, settings.port, settings.workers, settings.log_level,
                        log_format=settings.log_format, limits=limits)
    if status:
        raise SystemExit(status)


#: What ``compensa serve`` imports from the ``server`` extra.
SERVER_EXTRA = ("fastapi", "uvicorn", "pydantic_settings", "fhir.resources", "jwt")


def _require_server_extra() -> None:
    """Exit 2 with the install command when the ``server`` extra is not installed."""
    import importlib.util

    missing = []
    for name in SERVER_EXTRA:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name.split(".")[0])
    if missing:
        raise UsageError(f"the HTTP service needs the server extra: pip install 'compensa[server]' "
                         f"(missing: {', '.join(missing)})")


def _check_authentication(settings) -> None:
    """Off loopback, refuse to start without API keys unless told --insecure-no-auth (exit 2)."""
    if settings.loopback or settings.api_keys:
        return
    if not settings.insecure_no_auth:
        raise UsageError(f"refusing to serve {settings.host} (not a loopback address) without API keys: set "
                         "COMPENSA_API_KEYS (comma-separated or a JSON list) or give --api-key KEY, or, only behind "
                         "something else that authenticates, --insecure-no-auth (COMPENSA_INSECURE_NO_AUTH=true)")
    click.echo(f"warning: serving {settings.host} without API keys (--insecure-no-auth): anyone who can reach "
               "it can use it", err=True)


@cli.command("eval")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--plot", "plot", metavar="FILE.png", help="Also draw a reliability diagram of root confidence.")
@click.option("--verbose", "-v", is_flag=True, help="Text: print the explanation of every failure.")
@click.pass_context
def eval_command(ctx, folder, fmt, plot, verbose):
    """Score the KB on a case library (default: the bundled kb/cases); exit 1 below its thresholds."""
    from compensa.app.evaluation import eval_text, plot_reliability, run_evaluation

    scores = run_evaluation(ctx.obj["kb"], folder, show_progress=fmt == "text" and sys.stderr.isatty())
    if plot:
        plot_reliability(scores, plot)
    _emit(json.dumps(scores.to_dict(), indent=2, ensure_ascii=False) if fmt == "json" else eval_text(scores, verbose))
    if not scores.passed:
        raise SystemExit(1)


@cli.command()
@click.argument("which", type=click.Choice(["case", "report"]))
def schema(which):
    """Print the JSON Schema of a case (what is accepted) or of the report (what is answered)."""
    from compensa.app.schemas import json_schema

    _emit(json.dumps(json_schema(which), indent=2, ensure_ascii=False))


def _register_workflows() -> None:
    """Commands kept in modules of their own (they import this one for the case options)."""
    from compensa.app import cli_batch, cli_documents, cli_interview, cli_quiz, cli_workflows

    for command in (cli_workflows.whatif, cli_workflows.compare, cli_documents.handout_command,
                    cli_documents.report_command, cli_interview.interview, cli_quiz.quiz, cli_batch.batch_command):
        cli.add_command(command)


_register_workflows()


def _say_io_failure(exc: OSError) -> None:
    try:
        sys.stderr.write(f"error: could not write the output: {exc.strerror or exc}\n")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input/usage, 1 unexpected failure)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    try:
        cli.main(args=argv, prog_name="compensa", standalone_mode=False)
    except CompensaError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except OSError as exc:  # writing the output failed (disk full, closed pipe): an I/O failure, not bad input
        _say_io_failure(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("COMPENSA_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set COMPENSA_DEBUG=1 for details)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
