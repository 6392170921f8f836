"""Secrets out of log lines: API keys, `?api_key=` values and the two key headers.

One filter for every process that logs (the server, its uvicorn access log, the sync
service, the CLI): it formats each record once, masks what could be a key and replaces the
record's message with the masked text, so no handler or formatter downstream can print the
original arguments. Masked: the value of `api_key=` in any URL, the value of an
`Authorization` or `x-makima-api-key` header however it is printed (`Name: value`, a tuple
of bytes, a dict), and anything shaped like one of our keys (`cdk_…`), even in a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(api_key=)[^&\s'\"]*"), r"\1" + MASK),
    (
        re.compile(
            r"(?i)((?:authorization|x-makima-api-key)['\"]?\s*[:=,]\s*(?:b?['\"])?)[^'\"\r\n]*"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"cdk_[A-Za-z0-9_\-]{4,}"), "cdk_" + MASK),
)


def redact(text: str) -> str:
    """`text` with every secret it may carry masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message (and traceback) with secrets masked."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn.access") and isinstance(record.args, tuple):
            # Its formatter unpacks the arguments (client, method, path, version, status).
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        else:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: log it as it stands, masked
                message = f"{record.msg} {record.args}"
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Add the filter to `handlers` (default: the root logger's), once each."""
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
