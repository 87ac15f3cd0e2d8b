"""``compensa batch``: consult every line of a JSON Lines file, in order, on one or many processes.

Each input line is one case (the JSON of the case contract); each output line answers the input
line of the same number, in input order::

    {"line": 3, "report": {...the report, exactly as ``compensa consult --format json`` gives it...}}
    {"line": 4, "errors": [{"loc": ["case", "tests", 0, "id"], "msg": "unknown test 'ober_tst'",
                            "input": "ober_tst", "suggestions": ["ober_test"]}]}

A line that is not a case never stops the batch: invalid JSON, text that is not UTF-8, a line longer
than :data:`MAX_LINE_BYTES`, a case the engine refuses (:class:`~compensa.errors.CaseError`) and a
blank line (so output line *n* always answers input line *n*) become an ``errors`` line. An
unexpected failure on a line (a bug) becomes an ``errors`` line too, counted apart as ``failed``.

The work is done by a :class:`BatchWorker`, a picklable callable that builds its
:class:`~compensa.engine.Consultant` once, where it runs (never pickled: a consultant holds locks and
compiled engines). Engines (``engine=``): ``local`` (this process for ``jobs=1``, else a process
pool with one worker and consultant per process), ``dask`` (a ``LocalCluster`` of ``jobs``
single-thread processes, or the scheduler at ``address``; the worker is scattered once to every
Dask worker) and ``ray`` (Ray Data ``map_batches`` over actors that each build one consultant; the
``ray`` extra). Input is streamed in chunks with a bounded number in flight, so memory stays flat
on any file size, and the answers come back in input order.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from compensa.errors import CaseError, CompensaError, Problem, UsageError, problem_json
from compensa.jsontext import json_line, parse_json_text
from compensa.kb.model import KnowledgeBase
from compensa.kb.yamlsource import MAX_CASE_BYTES

__all__ = ["ENGINES", "MAX_LINE_BYTES", "BatchSummary", "BatchWorker", "EngineError", "Item", "LineResult", "check_engine",
           "consult_line", "count_lines", "read_lines", "run_batch", "write_results"]

#: The longest input line accepted, in bytes (the limit of a case file).
MAX_LINE_BYTES = MAX_CASE_BYTES
ENGINES = ("local", "dask", "ray")
#: Lines per task: big enough to hide the cost of a hand-off, small enough to keep every process busy.
DEFAULT_CHUNK = 16
#: Ray Data: lines per dataset (each dataset starts its actors, so this is large).
RAY_BLOCK_LINES = 20_000

#: The first element of every error ``loc``: the case the line holds.
LOC_ROOT = "case"


class EngineError(CompensaError):
    """The Dask or Ray engine did not start here (exit status 1; a cluster at ``--address`` that cannot
    be reached is a :class:`~compensa.errors.UsageError`)."""

    exit_code = 1


class Item(NamedTuple):
    """One input line: its number (from 1), its bytes (no line ending) and whether it was cut short."""

    line: int
    raw: bytes
    too_long: bool = False


class LineResult(NamedTuple):
    """One output line: the JSON text (no newline) and what the summary counts."""

    line: int
    json: str
    triage: str | None = None  # the report's triage level; None for an error line
    withheld: bool = False  # the report's plan_withheld
    failed: bool = False  # an unexpected failure (a bug), not bad input


def _error(line_no: int, problems: Iterable[Problem]) -> dict:
    return {"line": line_no, "errors": [problem_json(p, LOC_ROOT) for p in problems]}


def consult_line(consultant: Any, line_no: int, text: str | bytes, strict: bool = False) -> dict:
    """Consult one JSON Lines line: ``{"line": n, "report": {...}}`` or ``{"line": n, "errors": [...]}``.

    ``consultant`` is a :class:`~compensa.engine.Consultant`; ``strict`` refuses unknown terms (as
    does a case's own ``"strict": true``). Bad input never raises: it is an ``errors`` record."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _error(line_no, [Problem(f"the line is not valid UTF-8 text (byte {exc.start + 1})", "")])
    if not text.strip():
        return _error(line_no, [Problem("blank line: no case (every line must hold one case as JSON)", "")])
    try:
        data = parse_json_text(text)
        report = consultant.consult(data, strict)
    except CaseError as exc:
        return _error(line_no, exc.problems)
    return {"line": line_no, "report": report.to_dict()}


class BatchWorker:
    """Consults batch lines; picklable (the KB and options travel, the consultant is built where it runs).

    ``kb``: the knowledge base (the bundled one when ``None``); ``strict``: refuse unknown terms."""

    def __init__(self, kb: KnowledgeBase | None = None, strict: bool = False, max_engines: int = 1):
        self.kb = kb
        self.strict = strict
        self.max_engines = max_engines
        self._consultant: Any = None

    def __getstate__(self) -> dict:
        return {"kb": self.kb, "strict": self.strict, "max_engines": self.max_engines}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def consultant(self):
        """The consultant of this worker, built on first use (once per process)."""
        if self._consultant is None:
            from compensa.engine.consult import Consultant, freeze_long_lived
            from compensa.kb import load_kb

            self._consultant = Consultant(self.kb if self.kb is not None else load_kb(), max_engines=self.max_engines)
            freeze_long_lived()  # the worker keeps it for every line: no full collections over it
        return self._consultant

    def __call__(self, item: Item | tuple) -> LineResult:
        item = Item(*item)
        try:
            if item.too_long:
                record = _error(item.line, [Problem(f"the line is longer than {MAX_LINE_BYTES // 1024} KiB, the limit "
                                                    "for one case", "")])
            else:
                record = consult_line(self.consultant, item.line, item.raw, self.strict)
        except Exception as exc:  # noqa: BLE001 - a bug on one line must not lose the others: reported, counted as failed
            problem = Problem(f"internal error ({type(exc).__name__}) while consulting this line; please report it",
                              "")
            return LineResult(item.line, json_line(_error(item.line, [problem])), failed=True)
        report = record.get("report")
        if report is None:
            return LineResult(item.line, json_line(record))
        return LineResult(item.line, json_line(record), report["triage"]["level"], bool(report["plan_withheld"]))

    def run_chunk(self, chunk: Iterable[Item | tuple]) -> list[LineResult]:
        """Consult a list of lines, in order."""
        return [self(item) for item in chunk]


# --- reading ------------------------------------------------------------------------------------

def read_lines(stream: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[Item]:
    """The lines of a binary stream as :class:`Item` s, one at a time (a line over ``max_bytes`` is
    read past, not kept: ``too_long``). A final newline does not start another line; a UTF-8
    byte-order mark before the first line is dropped."""
    line_no = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line without holding it
                raw = stream.readline(1 << 20)
            yield Item(line_no, b"", True)
            continue
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark some editors write
            raw = raw[3:]
        yield Item(line_no, raw.rstrip(b"\r\n"))


def count_lines(path: str) -> int:
    """The number of lines :func:`read_lines` will give for ``path`` (for a progress bar's total)."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ordered(submit: Callable[[list[Item]], Any], chunks: Iterable[list[Item]], window: int) -> Iterator[LineResult]:
    """Submit chunks with at most ``window`` in flight; yield their results in submission order."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        while len(pending) >= window:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


# --- engines ------------------------------------------------------------------------------------

_PROCESS_WORKER: BatchWorker | None = None


def _init_process(worker: BatchWorker) -> None:
    """A pool process: its worker, built now; ctrl-C is left to the parent (which cancels the pool and
    removes the half-written output), so a worker does not print a KeyboardInterrupt traceback."""
    import signal

    global _PROCESS_WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PROCESS_WORKER = worker
    worker.consultant  # noqa: B018 - built now, before the first chunk arrives


def _process_chunk(chunk: list[Item]) -> list[LineResult]:
    assert _PROCESS_WORKER is not None, "the process pool initializer did not run"
    return _PROCESS_WORKER.run_chunk(chunk)


def _run_local(items: Iterable[Item], worker: BatchWorker, jobs: int, chunk: int) -> Iterator[LineResult]:
    if jobs <= 1:
        for item in items:
            yield worker(item)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork where there is one: the workers start with compensa imported (spawn re-imports it)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method),
                                   initializer=_init_process, initargs=(worker,))
    try:
        yield from _ordered(lambda c: executor.submit(_process_chunk, c), _chunks(items, chunk), 2 * jobs + 1)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _dask_chunk(worker: BatchWorker, chunk: list[Item]) -> list[LineResult]:
    return worker.run_chunk(chunk)


def _run_dask(items: Iterable[Item], worker: BatchWorker, jobs: int, chunk: int,
              address: str | None) -> Iterator[LineResult]:
    import logging

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("the dask engine needs Dask: pip install 'compensa[scale]'") from None
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # a LocalCluster's scheduler runs here: no INFO lines among the summary
    cluster = client = None
    try:
        if address:
            try:
                client = Client(address, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise UsageError(f"cannot connect to the Dask scheduler at {address!r}: {exc}") from None
        else:
            try:
                cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.WARNING)
            except Exception as exc:  # noqa: BLE001 - a nanny that fails to start raises RuntimeError or others
                raise EngineError(f"the Dask cluster did not start: {exc}") from None
            client = Client(cluster)
        # one copy of the worker (and the KB in it) on every Dask worker; each builds its consultant once
        [shared] = client.scatter([worker], broadcast=True, hash=False)
        window = 2 * max(1, sum(client.nthreads().values())) + 1
        yield from _ordered(lambda c: client.submit(_dask_chunk, shared, c, pure=False), _chunks(items, chunk), window)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        quiet.setLevel(level)


class RayLines:
    """A Ray Data actor (``map_batches``): builds one consultant, then consults batches of lines."""

    def __init__(self, worker: BatchWorker):
        self.worker = worker
        worker.consultant  # noqa: B018 - built once per actor

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        results = [self.worker(Item(int(n), bytes(raw), bool(cut)))
                   for n, raw, cut in zip(batch["line"], batch["raw"], batch["too_long"])]
        return {"line": np.array([r.line for r in results], dtype=np.int64),
                "json": np.array([r.json for r in results], dtype=object),
                "triage": np.array([r.triage or "" for r in results], dtype=object),
                "withheld": np.array([r.withheld for r in results], dtype=bool),
                "failed": np.array([r.failed for r in results], dtype=bool)}


def _run_ray(items: Iterable[Item], worker: BatchWorker, jobs: int, chunk: int,
             address: str | None) -> Iterator[LineResult]:
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]
        import ray.data  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UsageError("the ray engine needs Ray: pip install 'compensa[ray]'") from None
    import logging

    started = not ray.is_initialized()
    if started:
        options: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            options["address"] = address
        else:
            options["num_cpus"] = jobs
        try:
            ray.init(**options)
        except Exception as exc:  # noqa: BLE001 - Ray raises plain Exception when its node does not start in time
            if address:
                raise UsageError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
            raise EngineError(f"Ray did not start: {exc}") from None
    # one actor per job, each with its consultant (``compute=`` since Ray 2.51, ``concurrency=`` before)
    strategy = getattr(ray.data, "ActorPoolStrategy", None)
    pool = {"compute": strategy(size=jobs)} if strategy is not None else {"concurrency": jobs}
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # no execution-plan lines or progress-bar notices among the summary
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        for block in _chunks(items, RAY_BLOCK_LINES):
            rows = [{"line": i.line, "raw": i.raw, "too_long": i.too_long} for i in block]
            answered = ray.data.from_items(rows).map_batches(
                RayLines, fn_constructor_kwargs={"worker": worker}, batch_size=chunk, batch_format="numpy",
                **pool)
            for batch in answered.iter_batches(batch_size=None, batch_format="numpy"):
                for n, text, triage, withheld, failed in zip(batch["line"], batch["json"], batch["triage"],
                                                             batch["withheld"], batch["failed"]):
                    yield LineResult(int(n), str(text), str(triage) or None, bool(withheld), bool(failed))
    finally:
        quiet.setLevel(level)
        if started:
            ray.shutdown()


def check_engine(engine: str) -> None:
    """Refuse, before any work, an unknown engine or one whose extra is not installed (UsageError)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown batch engine {engine!r}: choose one of {', '.join(ENGINES)}")
    import importlib.util

    if engine == "dask" and importlib.util.find_spec("distributed") is None:
        raise UsageError("the dask engine needs Dask: pip install 'compensa[scale]'")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise UsageError("the ray engine needs Ray: pip install 'compensa[ray]'")


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_batch(items: Iterable[Item], worker: BatchWorker, *, engine: str = "local", jobs: int | None = None,
              chunk: int = DEFAULT_CHUNK, address: str | None = None) -> Iterator[LineResult]:
    """Consult ``items`` (see :func:`read_lines`) with ``engine``; results in input order, one per item."""
    check_engine(engine)
    if address and engine == "local":
        raise UsageError("--address names a Dask scheduler or a Ray cluster: use it with --engine dask or ray")
    jobs = jobs or default_jobs()
    chunk = max(1, chunk)
    if engine == "dask":
        return _run_dask(items, worker, jobs, chunk, address)
    if engine == "ray":
        return _run_ray(items, worker, jobs, chunk, address)
    return _run_local(items, worker, jobs, chunk)


# --- the summary --------------------------------------------------------------------------------

@dataclass
class BatchSummary:
    """What a batch did: lines read, reports and error lines, triage levels, plans withheld, speed."""

    lines: int = 0
    reports: int = 0
    errors: int = 0
    failed: int = 0
    withheld: int = 0
    triage: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    _start: float = field(default_factory=time.perf_counter, repr=False)

    def add(self, result: LineResult) -> None:
        self.lines += 1
        if result.triage is None:
            self.errors += 1
            self.failed += result.failed
        else:
            self.reports += 1
            self.withheld += result.withheld
            self.triage[result.triage] = self.triage.get(result.triage, 0) + 1
        self.seconds = time.perf_counter() - self._start

    def finish(self) -> BatchSummary:
        self.seconds = time.perf_counter() - self._start
        return self

    @property
    def cases_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"lines": self.lines, "reports": self.reports, "errors": self.errors, "failed": self.failed,
                "plan_withheld": self.withheld, "triage": dict(sorted(self.triage.items(), key=_level_order)),
                "seconds": round(self.seconds, 3), "cases_per_second": round(self.cases_per_second, 1)}

    def text(self) -> str:
        levels = ", ".join(f"{level} {n}" for level, n in sorted(self.triage.items(), key=_level_order)) or "none"
        failed = f" ({self.failed} internal failures)" if self.failed else ""
        return (f"batch: {self.lines} lines: {self.reports} reports, {self.errors} errors{failed}; "
                f"triage: {levels}; plan withheld: {self.withheld}; "
                f"{self.seconds:.1f} s, {self.cases_per_second:.1f} cases/s")


_LEVELS = ("emergency", "urgent", "routine", "self_care")


def _level_order(pair: tuple[str, int]) -> tuple[int, str]:
    level = pair[0]
    return (_LEVELS.index(level) if level in _LEVELS else len(_LEVELS), level)


def write_results(results: Iterable[LineResult], out: BinaryIO, summary: BatchSummary,
                  progress: Callable[[int], None] | None = None) -> BatchSummary:
    """Write each result as a line of ``out`` (buffered), adding it to ``summary``."""
    for result in results:
        out.write(result.json.encode("utf-8") + b"\n")
        summary.add(result)
        if progress is not None:
            progress(1)
    out.flush()
    return summary.finish()
