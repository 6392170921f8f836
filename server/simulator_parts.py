"""The simulator's shared parts: the API it drives, the cap on contracts waiting on the
reviewer (`Attention`), the roles of the first contracts, and the housekeeping that archives
finished contracts (see `server.simulator`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx

from core.clock import SystemClock, parse_iso

log = logging.getLogger("server.simulator")

ARCHIVE_AFTER_TICKS = 60  # a completed or failed contract is archived this long after
ARRIVAL_TICKS = 15  # a supervisor starts at most one new contract this often
HOUSEKEEPING_TICKS = 10  # how often finished contracts are looked for


class Role(Enum):
    """What the first contracts show a newcomer; later ones are left to chance."""

    ASKS = 0  # guarded, asks a question at once
    GOES_SILENT = 1  # unguarded, works one task, then its supervisor stops: it turns stale
    CONFIRMS = 2  # guarded, asks for the first phase advance quickly
    RANDOM = 3


@dataclass
class Attention:
    """The contracts that may wait on the reviewer, at most `cap` at once, shared by all
    supervisors: a guarded contract holds a place from its start, an unguarded one only
    while it asks a question."""

    cap: int
    holders: set[str] = field(default_factory=set)
    opened: int = 0  # contracts opened so far (their number picks the first ones' roles)
    # Shared by every supervisor, so no two demo contracts carry the same name: two rows
    # named alike read as the same contract shown twice.
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(101))

    def claim(self, contract_id: str) -> bool:
        if contract_id in self.holders or len(self.holders) < self.cap:
            self.holders.add(contract_id)
            return True
        return False

    def rename(self, old: str, new: str) -> None:
        """A place claimed before the contract had an id (its creation is a request away)."""
        if old in self.holders:
            self.holders.discard(old)
            self.holders.add(new)

    def release(self, contract_id: str) -> None:
        self.holders.discard(contract_id)

    def next_role(self) -> Role:
        role = Role(min(self.opened, Role.RANDOM.value))
        self.opened += 1
        return role


@dataclass
class Api:
    """The public API with a human key (create contracts) and a supervisor key (the rest)."""

    human: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    errors: int = 0
    calls: int = 0
    last_error: str = field(default="")

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        human: bool = False,
    ) -> Any:
        """The JSON answer of a 2xx, else None (logged); the loop always goes on."""
        client = self.human if human else self.supervisor
        self.calls += 1
        try:
            response = await client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            return self._failed(f"{method} {path}: {type(exc).__name__}: {exc}")
        if response.is_success:
            return response.json() if response.content else {}
        try:
            body = response.json()
            why = f"{body.get('code')}: {body.get('message')}"
        except ValueError:
            why = response.text[:200]
        return self._failed(f"{method} {path} → {response.status_code} {why}")

    def _failed(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        log.warning("simulator: %s", message)


async def housekeeping(api: Api, tick: float, stop: asyncio.Event, archive_after: float) -> None:
    """Archive completed and failed contracts `archive_after` ticks after they finished, so
    a demo left running for an hour shows recent work, not a pile of finished contracts."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(tick * HOUSEKEEPING_TICKS):
                await stop.wait()
        if stop.is_set():
            return
        listed = await api.call(
            "GET", "/contracts", params={"status": "completed,failed", "limit": 200}, human=True
        )
        now = SystemClock().now()
        for contract in (listed or {}).get("contracts", []):
            finished = parse_iso(contract.get("statusChangedAt") or contract["updatedAt"])
            if (now - finished).total_seconds() >= tick * archive_after:
                await api.call(
                    "POST",
                    f"/contracts/{contract['id']}/status",
                    json={"targetStatus": "archived", "reason": "finished a while ago"},
                    human=True,
                )


# What each built-in deliverable says and where it lives, so the demo's confirmations show
# evidence a reviewer can read (a summary in Markdown and a link), never a bare "done".
_EVIDENCE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "research-notes": (
        "https://wiki.example.org/research/{short}",
        "## Research notes\n\nCompared **{compared} options**; the shortlist:\n\n",
        (
            "- keep the current schema and add an index (cheapest, +12 % write cost)",
            "- move the hot table to its own service (largest change, best isolation)",
            "- cache reads for 60 s (simple, stale reads possible)",
        ),
    ),
    "requirements-document": (
        "https://docs.example.org/specs/{short}.md",
        "## Requirements\n\n{n} requirements, each with an acceptance test:\n\n",
        (
            "1. exports finish within 30 s for 100k rows",
            "2. existing v1 clients keep working unchanged",
            "3. every change is recorded in the audit log",
        ),
    ),
    "plan-document": (
        "file:///srv/worktrees/{short}/PLAN.md",
        "## Plan\n\n{n} steps, each a separate commit:\n\n",
        (
            "1. add the migration behind a feature flag",
            "2. backfill in batches of 1,000 rows",
            "3. switch reads, then remove the flag",
        ),
    ),
    "pull-request": (
        "https://git.example.org/desk/pulls/{number}",
        "## Pull request #{number}\n\n`+{added} -{removed}` in {n} files; CI green.\n\n",
        (
            "- new tests cover the export and the rollback",
            "- no public API changes",
            "- docs updated in the same change",
        ),
    ),
    "release-notes": (
        "https://git.example.org/desk/releases/tag/v1.{number}",
        "## Release notes\n\n{n} user-visible changes:\n\n",
        (
            "- faster exports for large accounts",
            "- clearer error when a token expired",
            "- the audit log lists exports",
        ),
    ),
}


def deliverable_evidence(
    deliverable_id: str, contract_id: str, rng: random.Random
) -> dict[str, str]:
    """A realistic `url` and Markdown `summary` for a deliverable ({} for an unknown one)."""
    known = _EVIDENCE.get(deliverable_id)
    if known is None:
        return {}
    url, head, points = known
    picked = points[: rng.randint(2, len(points))]
    values = {
        "short": contract_id[:8],
        "n": str(len(picked)),
        "compared": str(len(picked) + rng.randint(1, 3)),
        "number": str(rng.randint(100, 999)),
        "added": str(rng.randint(20, 900)),
        "removed": str(rng.randint(0, 300)),
    }
    return {"url": url.format(**values), "summary": head.format(**values) + "\n".join(picked)}
