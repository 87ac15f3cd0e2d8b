"""``compensa batch CASES.jsonl -o REPORTS.jsonl [--jobs N] [--engine local|dask|ray] [--address ADDR]``.

One case per input line (JSON); one answer per output line, in input order: ``{"line": n, "report":
{...}}`` or ``{"line": n, "errors": [{loc, msg, input, suggestions}, ...]}`` (see
:mod:`compensa.engine.batch`). A bad line — invalid JSON, a bad case, a blank line — is an ``errors``
line and the batch goes on. The output file is written atomically (a temporary file in the same
folder, renamed at the end: a failed batch leaves no half file); ``-o -`` writes standard output.
A summary goes to standard error, with a progress bar when standard error is a terminal.

Exit status: 0 when every line was answered (error lines included: they are data, counted in the
summary); 2 for bad usage (the input file missing or unreadable, the output folder missing, an
engine whose extra is not installed); 1 for an I/O failure writing the output or a line that failed
unexpectedly (a bug; its line says so).
"""

from __future__ import annotations

import errno
import os
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from compensa.errors import CompensaError, OutputError, Problem, UsageError

__all__ = ["BatchFailure", "batch_command"]


class BatchFailure(CompensaError):
    """Some lines failed unexpectedly (a bug): the output is written, each such line says so; exit 1."""

    exit_code = 1

#: Errors that say the *name* given is unusable (bad input, exit 2); any other write error is I/O (exit 1).
_BAD_NAME = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ELOOP,
             errno.EACCES, errno.EPERM, errno.EROFS}


def _check_input(cases_file: str) -> None:
    if cases_file == "-":
        return
    path = Path(cases_file)
    if not path.exists():
        raise UsageError(Problem(f"input file {cases_file!r} does not exist", cases_file))
    if path.is_dir():
        raise UsageError(Problem(f"input file {cases_file!r} is a folder: give a .jsonl file, one case per line",
                                 cases_file))
    if not os.access(path, os.R_OK):
        raise UsageError(Problem(f"input file {cases_file!r} cannot be read (permission denied)", cases_file))


def _check_output(output: str) -> tuple[Path | None, bool]:
    """The output path (None: standard output) and whether to write it in place: a device or a pipe
    (``/dev/null``, a FIFO) is written to directly, never replaced by a renamed file."""
    if output == "-":
        return None, True
    path = Path(output)
    if not output.strip():
        raise UsageError("the output file name is empty")
    if len(os.fsencode(path.name)) > 255:
        raise UsageError("the output file name is too long (at most 255 bytes)")
    if path.is_dir():
        raise UsageError(f"output file {output!r} is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {output!r}: the folder {str(folder)!r} does not exist")
    return path, path.exists() and not path.is_file()


def _exit_on_sigterm(stack: ExitStack) -> None:
    """While the batch runs, SIGTERM (``kill``, ``timeout``, a container stopping) exits like ctrl-C,
    through the ``finally`` blocks, so the temporary output file is removed, not left behind."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    stack.callback(signal.signal, signal.SIGTERM, previous)


def _check_not_the_input(cases_file: str, path: Path | None) -> None:
    """Refuse an output that is the input file (by any name: the same path, a symlink, a hard link):
    the finished output would be renamed over the cases it was read from."""
    if path is None or cases_file == "-":
        return
    try:
        same = path.exists() and os.path.samefile(cases_file, path)
    except OSError:
        return  # cannot tell: the open or the write reports any real problem
    if same:
        raise UsageError(Problem(f"the output {str(path)!r} is the input file: the reports would replace the "
                                 "cases; give another -o file", str(path)))


def _progress_bar(stack: ExitStack, cases_file: str, show: bool | None):
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

    from compensa.engine.batch import count_lines

    total = count_lines(cases_file) if cases_file != "-" and Path(cases_file).is_file() else None  # not a pipe: read once
    bar = stack.enter_context(tqdm(total=total, unit="case", file=sys.stderr, dynamic_ncols=True, leave=False))
    return bar.update


@click.command("batch")
@click.argument("cases_file", metavar="CASES.jsonl")
@click.option("-o", "--output", required=True, metavar="REPORTS.jsonl",
              help="Where to write one answer per input line ('-' for standard output).")
@click.option("--jobs", "-j", type=click.IntRange(1, 512), default=None,
              help="Worker processes (default: the CPUs available); 1 runs in this process.")
@click.option("--engine", type=click.Choice(["local", "dask", "ray"]), default="local", show_default=True,
              help="local: a process pool; dask: a Dask cluster (compensa[scale]); ray: Ray Data (compensa[ray]).")
@click.option("--address", metavar="ADDR",
              help="Use a running Dask scheduler (tcp://host:8786) or Ray cluster (host:6379 or auto) "
                   "instead of starting one.")
@click.option("--strict", is_flag=True, help="Refuse a case with an unknown term (an error line) instead of "
                                             "listing the term in the report's unrecognised.")
@click.option("--chunk-size", type=click.IntRange(1, 10_000), default=16, show_default=True,
              help="Lines handed to a worker at a time.")
@click.option("--progress/--no-progress", default=None, help="A progress bar on standard error (default: when it "
                                                             "is a terminal).")
@click.pass_context
def batch_command(ctx: click.Context, cases_file: str, output: str, jobs: int | None, engine: str,
                  address: str | None, strict: bool, chunk_size: int, progress: bool | None) -> None:
    """Consult every case of a JSON Lines file (one case per line), in parallel, answers in input order."""
    from compensa.engine.batch import BatchSummary, BatchWorker, check_engine, read_lines, run_batch, write_results
    from compensa.files import atomic_writer
    from compensa.kb import load_kb

    if address and engine == "local":
        raise UsageError("--address names a Dask scheduler or a Ray cluster: use it with --engine dask or ray")
    _check_input(cases_file)
    path, in_place = _check_output(output)
    _check_not_the_input(cases_file, path)
    check_engine(engine)
    root = ctx.find_root().obj
    kb_path = root.get("kb") if isinstance(root, dict) else None
    worker = BatchWorker(load_kb(kb_path) if kb_path else None, strict=strict)
    summary = BatchSummary()
    with ExitStack() as stack:
        _exit_on_sigterm(stack)
        try:
            source = (sys.stdin.buffer if cases_file == "-"
                      else stack.enter_context(open(cases_file, "rb")))
        except OSError as exc:
            raise UsageError(Problem(f"cannot read input file {cases_file!r}: {exc.strerror or exc}",
                                     cases_file)) from None
        try:
            if path is None:
                out = sys.stdout.buffer
            else:
                out = stack.enter_context(open(path, "wb") if in_place else atomic_writer(path))
        except OSError as exc:
            _raise_write_error(output, exc)
        update = _progress_bar(stack, cases_file, progress)
        results = run_batch(read_lines(source), worker, engine=engine, jobs=jobs, chunk=chunk_size,
                            address=address)
        try:
            write_results(results, out, summary, update)
        except OSError as exc:
            if exc.errno in (errno.EPIPE,) and path is None:
                raise  # a closed pipe on standard output: the command line reports it
            _raise_write_error(output, exc)
    click.echo(summary.text() + (f"; written to {path}" if path is not None else ""), err=True)
    if summary.failed:
        raise BatchFailure(f"{summary.failed} line(s) failed unexpectedly (see their error lines); please report it")


def _raise_write_error(output: str, exc: OSError):
    reason = exc.strerror or str(exc)
    if exc.errno in _BAD_NAME and exc.filename is not None:
        raise UsageError(f"cannot write {output!r}: {reason}") from None
    raise OutputError(f"could not write {output!r}: {reason}") from None
