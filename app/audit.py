"""An append-only audit log of consultations, for the traceability clinical software needs.

One JSON line per consultation: time (UTC, ISO 8601), request id, endpoint, ``kb_version``, a SHA-256
of the canonical case (the case as understood, keys sorted), triage level, the top root ids and
the target ids. Never free text: no notes, no names, no case content beyond that hash. Lines are
written with one ``write`` on a file opened ``O_APPEND``, so workers sharing the file never
interleave a line. A line that cannot be written is an :class:`AuditError`: the service answers 503
rather than give advice it could not record.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime, UTC

from compensa.errors import CompensaError

__all__ = ["AuditError", "AuditLog", "audit_record", "case_hash"]


class AuditError(CompensaError):
    """The audit log could not be written (the service answers 503)."""

    exit_code = 1


def case_hash(case: dict) -> str:
    """SHA-256 of the canonical case JSON (sorted keys, no spaces): the same case, the same hash."""
    text = json.dumps(case, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit_record(report: dict, request_id: str, endpoint: str) -> dict:
    """The audit line of one report (ids, levels and a hash only)."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "endpoint": endpoint,
        "kb_version": report.get("kb_version"),
        "case_sha256": case_hash(report.get("case", {})),
        "triage": report.get("triage", {}).get("level"),
        "red_flags": list(report.get("triage", {}).get("red_flags", [])),
        "top_roots": [r["id"] for r in report.get("root_causes", [])[:3]],
        "targets": [f"{t['action']}:{t['muscle']}" + (f":{t['side']}" if t.get("side") else "")
                    for t in report.get("targets", [])],
    }


class AuditLog:
    """Append audit records to ``path`` (created with mode 0600 if absent)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {path}: {exc.strerror}") from None

    def write(self, record: dict) -> None:
        """Append one record as a JSON line; raise :class:`AuditError` if it cannot be written whole."""
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                written = os.write(self._fd, line)
            except OSError as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror}") from None
        if written != len(line):
            raise AuditError(f"the audit log {self.path} took only part of a line (disk full?)")

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)
