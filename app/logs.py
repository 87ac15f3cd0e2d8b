"""Logging for the service: one handler on stderr, text or JSON lines, a request id on every record,
and a rate limit on repeated records so that no failure loop can flood the log.

    configure_logging("json", "info")     # at startup (``compensa serve --log-format json``)
    request_id_var.set("3f2a9c0d1e7b")     # by the HTTP layer, per request

The rate limit counts records by logger, level, message template (numbers masked) and exception
type: the first :data:`BURST` of a kind within :data:`PERIOD` seconds pass, the rest are counted,
and one ``suppressed N similar messages`` line follows once the period is over (when the next
record of any kind is logged, at most a second late, or at exit). An ``accept()``
failing with EMFILE in a loop, or the same traceback for every request, thus writes a few lines
per period instead of megabytes. Access lines (``uvicorn.access``, one per answered request) are
not limited. Nothing here logs request or case content.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import logging.config
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["BURST", "PERIOD", "JsonFormatter", "RateLimitFilter", "RequestIdFilter", "configure_logging",
           "lighten_records", "log_config", "request_id_var"]

#: The request being served, set per request by the HTTP layer; "-" outside a request.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("compensa_request_id", default="-")

#: Records of one kind allowed per period, and the period in seconds.
BURST = 5
PERIOD = 10.0
#: Loggers whose records are never rate-limited (one line per answered request, by design).
UNLIMITED = ("uvicorn.access",)
LEVELS = ("critical", "error", "warning", "info", "debug")
#: Loggers that ``level`` applies to (others: warnings and worse).
OURS = ("compensa", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d request_id=%(request_id)s %(message)s"
_MAX_KINDS = 512
_DIGITS = re.compile(r"\d+")


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (from :data:`request_id_var`) to every record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the current request id (unless the caller gave one) and keep it."""
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


@dataclass
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0
    name: str = ""
    level: int = logging.INFO
    template: str = ""


class RateLimitFilter(logging.Filter):
    """Lets at most ``burst`` similar records through per ``period`` seconds, then reports how many
    it held back in one line. Similar: same logger, level, message template (digits masked) and
    exception type. Thread-safe; attach it to a handler so propagated records are limited too."""

    def __init__(self, burst: int = BURST, period: float = PERIOD, unlimited: tuple[str, ...] = UNLIMITED,
                 clock=time.monotonic) -> None:
        super().__init__()
        self.burst, self.period, self.unlimited, self.clock = burst, period, tuple(unlimited), clock
        self._windows: dict[tuple, _Window] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()
        atexit.register(self.flush)

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record unless too many similar ones passed in this period."""
        if getattr(record, "rate_limit_summary", False):
            return True
        with self._lock:
            now = self.clock()
            due = self._sweep(now) if now - self._last_sweep >= 1.0 else []
            keep = record.name.startswith(self.unlimited) or self._admit(record, now, due)
        for window in due:
            self._report(window)
        return keep

    def flush(self) -> None:
        """Report every pending ``suppressed`` count now (called at exit)."""
        with self._lock:
            due = [w for w in self._windows.values() if w.suppressed]
            self._windows.clear()
        for window in due:
            self._report(window)

    def _admit(self, record: logging.LogRecord, now: float, due: list[_Window]) -> bool:
        key = _kind(record)
        window = self._windows.get(key)
        if window is not None and now - window.start >= self.period:
            del self._windows[key]
            if window.suppressed:
                due.append(window)
            window = None
        if window is None:
            if len(self._windows) >= _MAX_KINDS:
                key = ("", record.levelno, "(many different messages)", "")
                window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(now, name=record.name, level=record.levelno,
                                                      template=_first_line(record))
        if window.passed < self.burst:
            window.passed += 1
            return True
        window.suppressed += 1
        return False

    def _sweep(self, now: float) -> list[_Window]:
        self._last_sweep = now
        expired = [k for k, w in self._windows.items() if now - w.start >= self.period]
        return [w for w in (self._windows.pop(k) for k in expired) if w.suppressed]

    def _report(self, window: _Window) -> None:
        template = window.template if len(window.template) <= 120 else window.template[:120] + "…"
        summary = logging.LogRecord(window.name or "compensa", window.level, __file__, 0,
                                    "suppressed %d similar messages (at most %d per %g s): %s",
                                    (window.suppressed, self.burst, self.period, template), None)
        summary.rate_limit_summary = True
        logging.getLogger(window.name or "compensa").handle(summary)


def _first_line(record: logging.LogRecord) -> str:
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    return template[:200].split("\n", 1)[0]


def _kind(record: logging.LogRecord) -> tuple:
    exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
    return record.name, record.levelno, _DIGITS.sub("#", _first_line(record)), exc_type


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, pid and,
    when there is one, the exception with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()), "pid": record.process}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(fmt: str = "text", level: str = "info") -> dict:
    """The :func:`logging.config.dictConfig` dictionary :func:`configure_logging` applies; pass it to
    ``uvicorn.Config(log_config=...)`` so every worker process configures itself the same way."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    formatter = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    ours = {"handlers": [], "propagate": True, "level": level.upper()}
    others = logging.getLevelName(max(logging.WARNING, logging.getLevelName(level.upper())))
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"},
                    "rate_limit": {"()": f"{__name__}.RateLimitFilter"}},
        "formatters": {"default": formatter, "access": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "default", "filters": ["request_id", "rate_limit"]}},
        # the level applies to our loggers and uvicorn's; other libraries write warnings and worse, and
        # experta's watchers never log (at INFO they print every fact: case content)
        "loggers": {**{name: dict(ours) for name in OURS}, "experta": {"level": "WARNING"}},
        "root": {"handlers": ["stderr"], "level": others},
    }


def lighten_records() -> None:
    """Stop filling in the log-record fields that no format here prints: the thread and
    multiprocessing-process names and the caller's file, line and function (found by walking the
    stack for every record). The process id stays (both formats print it). The logging HOWTO's
    "Optimization" switches; they halve the cost of an access line (~55 -> ~30 µs), once per
    request. Called by every worker of ``compensa serve``; a custom format that needs those fields
    gets placeholders instead."""
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    """Send every record (ours, uvicorn's access and error lines, asyncio's) to stderr through the
    request-id and rate-limit filters, as text lines or JSON lines. Raises ValueError for an unknown
    format or level."""
    logging.config.dictConfig(log_config(fmt, level))
    logging.captureWarnings(True)
