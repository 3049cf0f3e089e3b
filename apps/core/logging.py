"""Log plumbing: secrets are scrubbed from every record, and recent records feed /api/v1/debug/logs."""
from __future__ import annotations

import collections
import logging
import re
import threading

# key=value, "key": "value" and Bearer forms of anything that smells like a secret.
_SECRET_PATTERNS = [
    re.compile(r'(?i)((?:password|passwd|secret[_-]?key|secretkey|api[_-]?secret|token|signature|session_token)'
               r'["\']?\s*[:=]\s*["\']?)([^"\'\s&,}]+)'),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]+)"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class RingBufferHandler(logging.Handler):
    """Keeps the last records of this process in memory for the debug logs endpoint."""

    capacity = 1000
    _records: collections.deque = collections.deque(maxlen=capacity)
    _lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        entry = {
            "timestamp": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        with self._lock:
            self._records.append(entry)

    @classmethod
    def recent(cls, limit: int = 200, level: str | None = None) -> list[dict]:
        with cls._lock:
            records = list(cls._records)
        if level:
            threshold = logging.getLevelName(level.upper())
            if isinstance(threshold, int):
                records = [r for r in records if logging.getLevelName(r["level"]) >= threshold]
        return records[-limit:]
