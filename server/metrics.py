"""Prometheus metrics with the names of specification §8.3, in the text exposition format.

Counters live in memory (per process, as Prometheus expects); gauges are read from the
database when scraped, so they are right whichever process made the change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

_COUNTERS = {
    "phase_transitions_total": "Phase changes by from/to phase",
    "completion_detections_total": "Contracts that entered completing automatically",
    "supervisor_heartbeats_total": "Heartbeats received",
    "supervisor_restarts_total": "Supervisor restarts requested",
    "batch_operations_total": "Batch operations by operation",
    "http_requests_total": "HTTP requests by method and status class",
}


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._counts: dict[str, Counter[tuple[tuple[str, str], ...]]] = {
            name: Counter() for name in _COUNTERS
        }

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        self._counts[name][tuple(sorted(labels.items()))] += amount

    def value(self, name: str, **labels: str) -> int:
        return self._counts[name][tuple(sorted(labels.items()))]

    def render(
        self,
        status_counts: Mapping[str, int],
        stale_count: int,
        gauges: Mapping[str, tuple[str, int]] | None = None,
    ) -> str:
        """The exposition text; `gauges`: more gauges, name -> (help, value)."""
        lines = [
            "# HELP contracts_by_status Contracts by status",
            "# TYPE contracts_by_status gauge",
        ]
        lines += [
            f"contracts_by_status{_labels([('status', s)])} {n}"
            for s, n in sorted(status_counts.items())
        ]
        lines += [
            "# HELP contracts_stale_count Stale contracts",
            "# TYPE contracts_stale_count gauge",
            f"contracts_stale_count {stale_count}",
        ]
        for name, (help_text, value) in sorted((gauges or {}).items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
        for name, help_text in _COUNTERS.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            series = self._counts[name] or Counter({(): 0})
            lines += [f"{name}{_labels(key)} {count}" for key, count in sorted(series.items())]
        return "\n".join(lines) + "\n"
