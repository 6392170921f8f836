"""Every reviewer action of the GUI as one named operation.

An operation writes the action to the sync outbox (the durable record: nothing the reviewer
did is lost, whatever happens to the connection), asks the sync service to send it soon and
returns the asyncio task doing that. Success and failure are reported through the signals of
`Operations`, the one error presenter: `operationFailed(title, message)` and
`operationSucceeded(message)`. Widgets call operations and never touch the outbox or the
event loop themselves.

Writing the outbox entry is what "done" means for an operation: the server's verdict comes
later through the outbox (APPLIED / REJECTED / CONFLICT), shown by the status bar's outbox
view and, for a conflict, the conflict dialog.

The trap: an operation must be called with the contract `version` the reviewer saw, not the
replica's current one, otherwise a change made by someone else meanwhile would be silently
overwritten instead of shown as a conflict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from core.model import Contract
from desktop.ports import DeskBackend
from sync.errors import ApiError
from sync.outbox import IllegalOutboxMove, OutboxEntry, OutboxState
from sync.outbox_entry import open_request_evidence

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_OPTIONS = ("older_than_hours", "status_filter", "reason", "stale_threshold_minutes")


class TaskRunner:
    """Schedules coroutines on the (qasync) loop and keeps them alive until done.

    The one place besides `desktop.app` that touches asyncio scheduling.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[T]:
        task = self.loop.create_task(coro)
        self._tasks.add(task)

        def done(finished: asyncio.Task[T]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            error = finished.exception()
            if error is not None and on_error is not None:
                on_error(error)
            elif error is not None:
                log.error("background task failed", exc_info=error)

        task.add_done_callback(done)
        return task

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every scheduled task (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class TooLateToUndo(Exception):
    """The decision has left the outbox (sent, or being sent): it cannot be taken back."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(
            "The decision was already sent to the server: it can no longer be undone "
            "(the outbox, Ctrl+Shift+O, shows what became of it)"
        )
        self.entry_id = entry_id


def describe_error(error: BaseException) -> str:
    if isinstance(error, ApiError):
        return error.message
    return str(error) or type(error).__name__


class Operations(QObject):
    """The named operations. Each returns the task that writes (and then sends) the action."""

    operationFailed = Signal(str, str)  # title, message
    operationSucceeded = Signal(str)  # message for the status bar

    def __init__(
        self, backend: DeskBackend, runner: TaskRunner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = runner

    def _run(self, title: str, done: str, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        async def operation() -> T:
            result = await work
            self.backend.send_soon()
            self.operationSucceeded.emit(done)
            return result

        return self.runner.spawn(
            operation(), lambda error: self.operationFailed.emit(title, describe_error(error))
        )

    # --- phases --------------------------------------------------------------------------

    def confirm_phase(
        self, contract_id: str, phase: str, version: int, comment: str | None = None
    ) -> asyncio.Task[OutboxEntry]:
        """Confirm the guarded advance to `phase`, as seen at `version`."""
        work = self.backend.outbox.confirm_phase(
            contract_id, phase, comment=comment or None, expected_version=version
        )
        return self._run("Confirm phase", f"Confirmation of '{phase}' queued", work)

    def confirm_evidence(
        self, contract: Contract, comment: str | None = None
    ) -> asyncio.Task[OutboxEntry]:
        """Confirm the pending request of `contract` as the reviewer saw it: bound to the
        request and its evidence (`core.evidence`), not to every version bump."""
        pending = contract.pending_confirmation
        if pending is None:
            raise ValueError(f"{contract.name} has no phase change waiting for a confirmation")
        work = self.backend.outbox.confirm_phase(
            contract.id,
            pending.next_phase,
            comment=comment or None,
            expected_version=contract.version,
            evidence=open_request_evidence(contract),  # None (older server): the version
        )
        return self._run("Confirm phase", f"Confirmation of '{pending.next_phase}' queued", work)

    def request_changes(
        self, contract_id: str, phase: str, version: int, feedback: str
    ) -> asyncio.Task[OutboxEntry]:
        """Refuse the advance to `phase` with feedback for the supervisor."""
        work = self.backend.outbox.reject_phase(
            contract_id, phase, feedback, expected_version=version
        )
        return self._run("Request changes", f"Changes to '{phase}' requested", work)

    # --- questions and status ------------------------------------------------------------

    def answer_question(
        self, question_id: str, contract_id: str, answer: str
    ) -> asyncio.Task[OutboxEntry]:
        work = self.backend.outbox.answer_question(contract_id, question_id, answer)
        return self._run("Answer question", "Answer queued", work)

    def pause(self, contract_id: str, version: int, reason: str) -> asyncio.Task[OutboxEntry]:
        work = self.backend.outbox.change_status(
            contract_id, "paused", reason=reason or None, expected_version=version
        )
        return self._run("Pause contract", "Pause queued", work)

    def resume(self, contract_id: str, version: int) -> asyncio.Task[OutboxEntry]:
        work = self.backend.outbox.resume(contract_id, expected_version=version)
        return self._run("Resume contract", "Resume queued", work)

    def restart_supervisor(self, contract_id: str) -> asyncio.Task[OutboxEntry]:
        work = self.backend.outbox.restart_supervisor(contract_id)
        return self._run("Restart supervisor", "Supervisor restart queued", work)

    # --- the outbox: the reviewer's decisions after a conflict ---------------------------

    def reconfirm(self, entry_id: int) -> asyncio.Task[OutboxEntry]:
        """Send a conflicting action again against the contract's version now."""
        work = self.backend.outbox.reconfirm(entry_id)
        return self._run("Re-confirm action", "Action re-sent against the new version", work)

    def undo(self, entry_id: int) -> asyncio.Task[OutboxEntry]:
        """Take a decision back while it is still queued (not yet sent)."""

        async def work() -> OutboxEntry:
            try:
                return await self.backend.outbox.drop(entry_id)
            except IllegalOutboxMove:
                raise TooLateToUndo(entry_id) from None

        return self._run("Undo", "Decision taken back", work())

    def drop(self, entry_id: int) -> asyncio.Task[OutboxEntry]:
        work = self.backend.outbox.drop(entry_id)
        return self._run("Drop action", "Action dropped", work)

    # --- batch ---------------------------------------------------------------------------

    def run_batch(self, params: Mapping[str, Any], dry_run: bool) -> asyncio.Task[dict[str, Any]]:
        """A batch operation. `params`: `operation` plus the options of API.md.

        A dry run asks the server directly (it changes nothing, so it need not be durable);
        a real run goes through the outbox and the task ends with the server's answer
        `{operation, affected_count, affected_ids, errors, dry_run}` once it is applied.
        """
        title = "Batch operation"
        if dry_run:
            work: Coroutine[Any, Any, dict[str, Any]] = self.backend.batch_preview(params)
            return self.runner.spawn(
                work, lambda error: self.operationFailed.emit(title, describe_error(error))
            )
        return self._run(title, "Batch operation queued", self._batch(params))

    async def _batch(self, params: Mapping[str, Any]) -> dict[str, Any]:
        options = {k: params[k] for k in BATCH_OPTIONS if params.get(k) is not None}
        settled: asyncio.Future[OutboxEntry] = self.runner.loop.create_future()
        entry_id: list[int] = []

        def watch(entry: OutboxEntry) -> None:
            final = not entry.state.is_pending
            if entry_id and entry.id == entry_id[0] and final and not settled.done():
                settled.set_result(entry)

        unsubscribe = self.backend.on_outbox(watch)
        try:
            entry = await self.backend.outbox.batch(str(params["operation"]), **options)
            entry_id.append(entry.id)
            self.backend.send_soon()
            current = await self.backend.outbox.get(entry.id)
            if not current.state.is_pending:
                return _batch_answer(current)
            return _batch_answer(await settled)
        finally:
            unsubscribe()


def _batch_answer(entry: OutboxEntry) -> dict[str, Any]:
    if entry.state is not OutboxState.APPLIED:
        raise ApiError(0, entry.error_code or entry.state.value, entry.error_message or "refused")
    return dict(entry.result or {})
