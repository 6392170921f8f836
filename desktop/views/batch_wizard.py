"""The batch-operation wizard: operation → parameters → dry-run preview → confirmation →
results.

Parameters are validated with `core.batch.BatchRequest.parse` (the server's own parser), the
preview is the server's dry run (`run_batch(params, dry_run=True)`), the confirmation is
explicit (for `cleanup_archived`, which deletes, the reviewer types the number of contracts),
and the results list each contract with its outcome or error. Batch operations need an admin
key: for any other key the wizard is one page saying so.

Tests drive it with `next()` and button clicks and wait for `previewReady(dict)` /
`batchFinished(dict)`; nothing blocks the GUI thread (futures end through done-callbacks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from core.api.errors import ErrorCode
from core.batch import BatchOperation, BatchRequest, plan_batch
from core.clock import Clock, SystemClock
from core.config import ContractTimeoutConfig
from core.model import Contract
from desktop.dialog_ports import BatchActions
from desktop.views.batch_pages import (
    ADMIN_ONLY,
    OPERATIONS,
    ConfirmPage,
    OperationPage,
    ParametersPage,
    PreviewPage,
    ResultsPage,
    UnavailablePage,
)
from sync.errors import ApiError

__all__ = ["ADMIN_ONLY", "OPERATIONS", "BatchWizard", "params_of"]


def params_of(request: BatchRequest) -> dict[str, Any]:
    """The wire parameters of a parsed request (only the fields its operation uses)."""
    params: dict[str, Any] = {"operation": request.operation.value}
    if request.older_than_hours is not None:
        params["older_than_hours"] = request.older_than_hours
    if request.status_filter:
        params["status_filter"] = [s.value for s in request.status_filter]
    if request.operation is BatchOperation.PAUSE_ALL and request.reason:
        params["reason"] = request.reason
    if request.stale_threshold_minutes is not None:
        params["stale_threshold_minutes"] = request.stale_threshold_minutes
    return params


class BatchWizard(QWizard):
    """Run one of the five batch operations, with a preview and an explicit yes."""

    previewReady = Signal(dict)  # the dry run's answer
    batchFinished = Signal(dict)  # the run's answer

    def __init__(
        self,
        actions: BatchActions,
        parent: QWidget | None = None,
        *,
        contracts: Mapping[str, Contract] | None = None,
        is_admin: bool | None = None,
        clock: Clock | None = None,
        config: ContractTimeoutConfig | None = None,
    ) -> None:
        """`contracts` (the bridge's copy) names the rows; `is_admin=False` shows only why the
        wizard is unavailable, None (not known) lets the server's 403 say so at the preview."""
        super().__init__(parent)
        self.setObjectName("batchWizard")
        self.setWindowTitle("Batch operation")
        self.setAccessibleName("Batch operation wizard")
        self.batch_actions = actions
        self.contracts: Mapping[str, Contract] = contracts if contracts is not None else {}
        self.clock = clock or SystemClock()
        self.config = config or ContractTimeoutConfig()
        self.is_admin = is_admin
        self._asked = 0  # answers to an older question (after Back) are ignored
        if is_admin is False:
            self.unavailable_page = UnavailablePage(self)
            self.addPage(self.unavailable_page)
            return
        self.operation_page = OperationPage(self)
        self.parameters_page = ParametersPage(self)
        self.preview_page = PreviewPage(self)
        self.confirm_page = ConfirmPage(self)
        self.results_page = ResultsPage(self)
        for page in (
            self.operation_page,
            self.parameters_page,
            self.preview_page,
            self.confirm_page,
            self.results_page,
        ):
            self.addPage(page)

    def params(self) -> dict[str, Any]:
        request = self.parameters_page.request
        if request is None:
            raise RuntimeError("the parameters page has not been validated yet")
        return params_of(request)

    def why(self) -> dict[str, str]:
        """Each planned contract's reason, by core's planner on the local copy."""
        request = self.parameters_page.request
        if request is None:
            return {}
        now: datetime = self.clock.now()
        plan = plan_batch(request, list(self.contracts.values()), now, self.config)
        return {item.contract_id: item.why for item in plan.items}

    def ask(
        self,
        dry_run: bool,
        on_answer: Callable[[dict[str, Any]], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Run the batch (dry or real); the answer comes back on the GUI thread."""
        self._asked += 1
        asked = self._asked

        def done(future: Any) -> None:
            if not shiboken6.isValid(self) or asked != self._asked:
                return
            if future.cancelled():
                on_error("cancelled")
            elif future.exception() is not None:
                on_error(_message(future.exception()))
            else:
                on_answer(dict(future.result()))

        self.batch_actions.run_batch(self.params(), dry_run).add_done_callback(done)


def _message(error: BaseException) -> str:
    if isinstance(error, ApiError) and (error.code is ErrorCode.FORBIDDEN or error.status == 403):
        return ADMIN_ONLY
    message = getattr(error, "message", None)
    return str(message) if message else (str(error) or type(error).__name__)
