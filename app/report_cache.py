"""An optional cache of whole reports in the service, for clients that send the same case again.

Off by default (``COMPENSA_REPORT_CACHE=0``). With ``N > 0`` each worker keeps the report bytes of
its last ``N`` distinct consultations, least recently used out first. Only what is sure to give the
same bytes is answered from it:

* the key is a SHA-256 of the KB version, today's date (a FHIR ``Patient.birthDate`` becomes an age
  at today's date) and the request's JSON value written back out in its own order (so the same
  value is the same key whatever the spacing; a key order or a number spelt differently is a
  different key, never a guess that two inputs mean the same);
* the body is still parsed and checked on every request (media type, UTF-8, repeated keys, depth),
  so a bad body is refused exactly as without the cache; only 200 reports are kept;
* a hit still writes its audit line (its own time and request id), from the bytes it sends.

``consult()`` itself never caches: the engine runs for every consultation that misses. The
benchmark (``bench/http_load.py --report-cache N``) reports the service with the cache apart.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from collections import OrderedDict

__all__ = ["ReportCache"]


class ReportCache:
    """The report bytes of the last ``size`` distinct cases (``size`` > 0), safe across threads."""

    def __init__(self, size: int, kb_version: str):
        if size < 1:
            raise ValueError("a report cache holds at least one report")
        self.size = size
        self.kb_version = kb_version
        self.hits = 0
        self.misses = 0
        self._reports: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, body: object, today: datetime.date | None = None) -> bytes:
        """The key of a parsed request body: KB version, date and the JSON value in its own order."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        day = (today or datetime.date.today()).isoformat()
        return hashlib.sha256(f"{self.kb_version}\n{day}\n{text}".encode()).digest()

    def get(self, key: bytes) -> bytes | None:
        """The report bytes kept for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            report = self._reports.get(key)
            if report is None:
                self.misses += 1
                return None
            self._reports.move_to_end(key)
            self.hits += 1
            return report

    def put(self, key: bytes, report: bytes) -> None:
        """Keep ``report`` for ``key``, dropping the least recently used beyond :attr:`size`."""
        with self._lock:
            self._reports[key] = report
            self._reports.move_to_end(key)
            while len(self._reports) > self.size:
                self._reports.popitem(last=False)

    def __len__(self) -> int:
        return len(self._reports)
