"""``compensa handout CASE -o plan.pdf|plan.html`` and ``compensa report CASE -o report.pdf|report.html``.

The commands are plain click commands; ``compensa.app.cli`` adds them to its group. The output
format follows the file's suffix. The file is written atomically (a temporary file in the same
folder, then a rename), so a failure never leaves half a document. Exit status: 2 for bad input
(the case, the file name or its folder), 1 for an I/O failure or a missing PDF library.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import click

from compensa.errors import CaseError, OutputError, Problem, UsageError
from compensa.files import atomic_write

__all__ = ["handout_command", "report_command", "write_document"]

_SUFFIXES = (".pdf", ".html", ".htm")
#: Errors that say the *name* given is unusable (bad input, exit 2); any other write error is I/O (exit 1).
_BAD_NAME = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.ELOOP,
             errno.EACCES, errno.EPERM, errno.EROFS}


def check_output_path(output: str) -> Path:
    """Refuse an output name that cannot be a document (suffix, folder, too long) before any work."""
    path = Path(output)
    if not output.strip() or path.suffix.lower() not in _SUFFIXES:
        raise UsageError(f"output file {output!r} must end in .pdf or .html")
    if len(os.fsencode(path.name)) > 255:
        raise UsageError("the output file name is too long (at most 255 bytes)")
    if path.is_dir():
        raise UsageError(f"output file {output!r} is a folder")
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise UsageError(f"cannot write {output!r}: the folder {str(path.parent)!r} does not exist")
    return path


def write_document(path: Path, html: str) -> None:
    """Write ``html`` to ``path`` as PDF (``.pdf``) or HTML, atomically; name errors exit 2, I/O errors 1."""
    if path.suffix.lower() == ".pdf":
        from compensa.visualize.documents import to_pdf

        data = to_pdf(html)
    else:
        data = html.encode("utf-8")
    try:
        atomic_write(path, data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in _BAD_NAME:
            raise UsageError(f"cannot write {str(path)!r}: {reason}") from None
        raise OutputError(f"could not write {str(path)!r}: {reason}") from None


def _report_for(ctx: click.Context, case_file: str, strict: bool):
    from compensa.engine import Consultant, load_kb
    from compensa.engine.case import read_case_file

    data = read_case_file(case_file)
    if not isinstance(data, dict):
        raise CaseError(Problem("a case file must hold a mapping (pain:, findings:, tests:, ...)", case_file))
    if strict:
        data["strict"] = True
    root = ctx.find_root().obj
    kb_path = root.get("kb") if isinstance(root, dict) else None
    return Consultant(load_kb(kb_path), max_engines=1, scope="case").consult(data)


def _document(ctx: click.Context, case_file: str, output: str, strict: bool, build) -> None:
    path = check_output_path(output)  # before any work: a bad name must not cost a consultation
    report = _report_for(ctx, case_file, strict)
    write_document(path, build(report))
    click.echo(f"written to {path}", err=True)


_case_argument = click.argument("case_file", metavar="CASE", type=click.Path(dir_okay=False))
_output_option = click.option("-o", "--output", required=True, metavar="FILE", help="Where to write (.pdf or .html).")
_strict_option = click.option("--strict", is_flag=True, help="Refuse a case with an unknown term.")


@click.command("handout")
@_case_argument
@_output_option
@_strict_option
@click.pass_context
def handout_command(ctx: click.Context, case_file: str, output: str, strict: bool) -> None:
    """Write the person's home programme for CASE: exercises, dosage, why, safety net, body picture."""
    from compensa.visualize.documents import handout_html

    _document(ctx, case_file, output, strict, handout_html)


@click.command("report")
@_case_argument
@_output_option
@_strict_option
@click.option("--no-graph", is_flag=True, help="Leave out the explanation graph.")
@click.pass_context
def report_command(ctx: click.Context, case_file: str, output: str, strict: bool, no_graph: bool) -> None:
    """Write the clinician's record for CASE: findings, triage, roots with evidence, targets, graph, KB version."""
    from compensa.visualize.documents import clinician_report_html

    _document(ctx, case_file, output, strict, lambda report: clinician_report_html(report, graph=not no_graph))
