"""Supervisor, heartbeat, batch and dashboard calls of the API client (a mixin of
`sync.client.ContractClient`, split off to keep each module small)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.api.batch import BatchBody, BatchResult
from core.api.contracts import SupervisorStatusPublic
from core.api.events import DashboardPublic
from core.api.supervisors import (
    HeartbeatEntryPublic,
    HeartbeatHistoryPublic,
    HeartbeatsAccepted,
    RestorePublic,
    SupervisorStatePublic,
    SupervisorSyncPublic,
)
from core.wire import worktree_from_wire
from core.worktrees import ReportedWorktree
from sync.answers import read
from sync.api_session import ApiSession, request_body

BATCH_OPERATIONS = ("archive_old", "pause_all", "resume_all", "cleanup_archived", "restart_stale")


class SupervisorCalls(ApiSession):
    async def send_heartbeat(self, contract_id: str, heartbeat: Mapping[str, Any]) -> None:
        """One `SupervisorHeartbeat` (202). Not retried: a heartbeat is superseded by the
        next one anyway."""
        await self._call(
            "POST", f"/contracts/{contract_id}/supervisor/heartbeat", body=dict(heartbeat)
        )

    async def send_heartbeats(self, heartbeats: Sequence[Mapping[str, Any]]) -> int:
        """A daemon's batch; answers how many the server accepted."""
        wire = await self._object(
            "POST", "/supervisor/heartbeats", body={"heartbeats": [dict(h) for h in heartbeats]}
        )
        return read(HeartbeatsAccepted, wire).accepted

    async def supervisor_status(self, contract_id: str) -> SupervisorStatusPublic:
        """`{task_id, state, phase, current_activity, progress, last_heartbeat,
        pending_task_ids, alive}`; 404 SUPERVISOR_NOT_FOUND without a supervisor."""
        wire = await self._object("GET", f"/contracts/{contract_id}/supervisor/status")
        return read(SupervisorStatusPublic, wire)

    async def supervisor_heartbeats(
        self, contract_id: str, limit: int = 10
    ) -> list[HeartbeatEntryPublic]:
        wire = await self._object(
            "GET", f"/contracts/{contract_id}/supervisor/heartbeats", params={"limit": limit}
        )
        return read(HeartbeatHistoryPublic, wire).heartbeats

    async def save_supervisor_state(
        self, contract_id: str, state: Mapping[str, Any]
    ) -> SupervisorStatePublic:
        wire = await self._object(
            "PUT", f"/contracts/{contract_id}/supervisor/state", body=dict(state)
        )
        return read(SupervisorStatePublic, wire)

    async def restore_supervisor(self, contract_id: str) -> RestorePublic:
        """`{action, state, redeliver_questions, waiting_on_task_ids,
        heartbeat_interval_seconds}` (the pace the server wants heartbeats at)."""
        wire = await self._object("GET", f"/contracts/{contract_id}/supervisor/restore")
        return read(RestorePublic, wire)

    async def sync_supervisor(self, contract_id: str) -> SupervisorSyncPublic:
        """`{synced, state}`; 503 SUPERVISOR_DEAD (never retried) when it went silent."""
        path = f"/contracts/{contract_id}/supervisor/sync"
        return read(SupervisorSyncPublic, await self._object("POST", path, safe=True))

    async def restart_supervisor(
        self, contract_id: str, *, idempotency_key: str | None = None
    ) -> None:
        await self._call(
            "POST", f"/contracts/{contract_id}/supervisor/restart", idempotency_key=idempotency_key
        )

    async def worktrees(self, *, cleanable: bool = False) -> list[ReportedWorktree]:
        """The worktrees daemons reported; `cleanable`: only finished or archived contracts'."""
        wire = await self._object("GET", "/worktrees", params={"cleanable": cleanable})
        return [worktree_from_wire(w) for w in wire.get("worktrees") or []]

    async def request_worktree_cleanup(
        self,
        contract_id: str,
        paths: Sequence[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> list[str]:
        """Ask the daemon to remove worktrees (None: all the contract's); answers the paths."""
        body = {"paths": list(paths) if paths is not None else None}
        wire = await self._object(
            "POST",
            f"/contracts/{contract_id}/worktrees/cleanup",
            body=body,
            idempotency_key=idempotency_key,
        )
        return [str(p) for p in wire.get("requested") or []]

    async def batch(
        self,
        operation: str,
        *,
        older_than_hours: float | None = None,
        status_filter: Sequence[str] | None = None,
        reason: str | None = None,
        stale_threshold_minutes: float | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """`{operation, affected_count, affected_ids, errors, dry_run}` (admin keys only).

        A dry run changes nothing, so it is retried even without an idempotency key.
        """
        body = request_body(
            BatchBody,
            operation=operation,
            older_than_hours=older_than_hours,
            status_filter=list(status_filter) if status_filter is not None else None,
            reason=reason,
            stale_threshold_minutes=stale_threshold_minutes,
            dry_run=dry_run,
        )
        wire = await self._object(
            "POST",
            "/contracts/batch",
            body=body,
            idempotency_key=idempotency_key,
            safe=True if dry_run else None,
        )
        return read(BatchResult, wire)

    async def dashboard(self) -> DashboardPublic:
        """The specification's DashboardResponse (camelCase)."""
        return read(DashboardPublic, await self._object("GET", "/contracts/dashboard"))
