"""What the phase dialog, the questions panel, the batch wizard and the alerts need, as
small Protocols.

`desktop.operations.Operations` and `desktop.bridge.SyncBridge` satisfy them; tests use
small in-memory fakes of these ports (never mocks of our own sync code). Keeping the needs
this narrow means a widget can be built and driven without a replica or a server.

The trap: `run_batch` answers a future that the caller must not await on the GUI thread
with a blocking call; widgets attach a done-callback and stay responsive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from PySide6.QtCore import SignalInstance

from core.model import Contract, Question


class PhaseActions(Protocol):
    """The phase guard's two answers (desktop.operations)."""

    def confirm_phase(
        self, contract_id: str, phase: str, version: int, comment: str | None = None
    ) -> object: ...

    def request_changes(
        self, contract_id: str, phase: str, version: int, feedback: str
    ) -> object: ...


class AnswerActions(Protocol):
    """Answering a supervisor's question (desktop.operations)."""

    def answer_question(self, question_id: str, contract_id: str, answer: str) -> object: ...


class BatchActions(Protocol):
    """A batch operation, dry or real; the future ends with the server's answer
    `{operation, affected_count, affected_ids, errors, dry_run}`."""

    def run_batch(self, params: Mapping[str, Any], dry_run: bool) -> asyncio.Future[Any]: ...


class Spawner(Protocol):
    """Runs a coroutine on the GUI's event loop (desktop.operations.TaskRunner)."""

    def spawn(
        self, coro: Coroutine[Any, Any, Any], on_error: Any = None
    ) -> asyncio.Future[Any]: ...


class QuestionFeed(Protocol):
    """Where the pending questions come from (desktop.bridge.SyncBridge)."""

    @property
    def questionsChanged(self) -> SignalInstance: ...

    @property
    def contracts(self) -> Mapping[str, Contract]:
        """The in-memory copy of every contract, for names."""
        ...

    @property
    def runner(self) -> Spawner: ...

    async def pending_questions(self) -> list[Question]: ...


class AlertFeed(Protocol):
    """Where alerts and the waiting contracts come from (desktop.bridge.SyncBridge)."""

    @property
    def alert(self) -> SignalInstance:
        """Emits `{kind, contract_id, name, text}`; kind stale | question | phase_confirmation."""
        ...

    @property
    def contractsChanged(self) -> SignalInstance: ...

    @property
    def contracts(self) -> Mapping[str, Contract]: ...
