"""The server's logging: one configuration for the process, its uvicorn loggers and the
access log, every handler behind `core.redaction.RedactingFilter`.

Handed to uvicorn as `log_config`, so a `--workers` child process configures itself the
same way (uvicorn applies it in every process), and nothing logs through an unfiltered
handler: the root logger (our modules, `websockets`, which prints handshake headers at
debug level) writes through the same filtered handler as uvicorn's own loggers.
"""

from __future__ import annotations

from typing import Any

_FILTERS = {"redact": {"()": "core.redaction.RedactingFilter"}}


TRACE = 5  # uvicorn's level below debug (ASGI messages, headers included)


def log_config(level_name: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` document for a server at `level` (trace..critical)."""
    level: str | int = TRACE if level_name.lower() == "trace" else level_name.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": _FILTERS,
        "formatters": {
            "plain": {"format": "%(levelname)s %(name)s: %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelname)s access: %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "httpx": {"level": "WARNING"},  # the demo's every request
        },
    }
