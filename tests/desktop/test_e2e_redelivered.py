"""Issue 10: on restore, a pending question is re-delivered to the user, not only returned to
the supervisor. The server logs `question_redelivered`; the desk, following a real server,
turns it into an alert (no contract row changes, so the event itself raises it)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_desk import open_desk
from tests.sync.server_fixture import ServerProcess, sync_server

__all__ = ["sync_server"]

pytestmark = pytest.mark.timeout(180)


def test_a_restored_supervisor_s_pending_question_alerts_the_reviewer_again(
    sync_server: ServerProcess, tmp_path: Path, qtbot: QtBot, qloop: Loop
) -> None:
    alerts: list[dict[str, str]] = []
    name = f"restored-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path / "replica.db", qtbot) as desk:
            desk.bridge.alert.connect(alerts.append)
            contract = await desk.admin.create_contract(name, "simple")
            await desk.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
            await desk.supervisor.change_status(contract.id, "active")
            await desk.supervisor.ask_question(contract.id, "Which region?", "free_text")
            await until(lambda: any(a["name"] == name for a in alerts), 30)  # asked: alerted
            alerts.clear()

            plan = await desk.supervisor.restore_supervisor(contract.id)

            assert [q.question for q in plan.redeliver_questions] == ["Which region?"]
            await until(lambda: any(a["name"] == name for a in alerts), 30)
            found = next(a for a in alerts if a["name"] == name)
            assert found["kind"] == "question"
            assert found["contract_id"] == contract.id
            assert "Which region?" in found["text"]

    qloop.run(scenario(), 120)
