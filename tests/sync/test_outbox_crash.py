"""The outbox survives `kill -9` of the sync process: every action applied exactly once.

The story: a `contract-sync run` process has a replica of the server. The server goes down;
the reviewer takes 50 actions (written to the replica's outbox); the sync process is killed
with SIGKILL while offline. Meanwhile one contract is renamed on the server by someone else.
The server comes back, the sync process is started — and killed again with SIGKILL as soon
as it has sent the first action — and started once more. In the end the server's event log
shows each action applied exactly once, and the action on the renamed contract is CONFLICT.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

from sync.outbox import Outbox
from sync.replica import Replica
from tests.sync.replica_support import Driver, http, ok
from tests.sync.server_fixture import ServerProcess
from tests.sync.test_contract_sync_cli import query, snapshot_done, start_sync, wait_for

PAUSES = 25
ANSWERS = 24


def outbox_states(replica: Path) -> Counter[str]:
    return Counter({str(s): int(str(n)) for s, n in query(replica, _STATES)})


_STATES = "SELECT state, count(*) FROM outbox GROUP BY state"


def all_events(server: ServerProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with http(server) as client:
        while True:
            after = found[-1]["seq"] if found else 0
            page = ok(client.get("/events", params={"after": after, "limit": 1000}))
            found.extend(page["events"])
            if len(page["events"]) < 1000:
                return found


async def queue_actions(
    replica_path: Path, paused: list[str], asked: list[tuple[str, str]], renamed: str
) -> None:
    replica = await Replica.open(replica_path)
    try:
        outbox = Outbox(replica)
        for cid in paused:
            await outbox.pause(cid)
        for cid, qid in asked:
            await outbox.answer_question(cid, qid, "yes")
        await outbox.update_contract(renamed, name="the reviewer's name")
        assert len(await outbox.pending()) == PAUSES + ANSWERS + 1
    finally:
        await replica.close()


async def test_fifty_actions_survive_kill_9_and_apply_exactly_once(
    fresh_server: ServerProcess, tmp_path: Path
) -> None:
    driver = Driver(fresh_server)
    paused = [driver.start(f"pause-{i}")["id"] for i in range(PAUSES)]
    asked = []
    for i in range(ANSWERS):
        cid = driver.start(f"ask-{i}")["id"]
        asked.append((cid, driver.ask(cid, "Proceed?")))
    renamed = driver.start("rename me")["id"]
    replica, log = tmp_path / "replica.db", tmp_path / "sync.log"

    process = start_sync(replica, fresh_server, log)
    try:
        wait_for(lambda: snapshot_done(replica), what="the snapshot")
        wait_for(lambda: "state: live" in log.read_text(), what="live")
        fresh_server.stop()
        wait_for(lambda: "state: offline" in log.read_text(), what="offline")
        await queue_actions(replica, paused, asked, renamed)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

        fresh_server.start()
        driver.rename(renamed, "someone else's name")  # the reviewer's view is now stale
        process = start_sync(replica, fresh_server, log)
        wait_for(lambda: outbox_states(replica)["applied"] >= 1, what="a first action sent")
        process.send_signal(signal.SIGKILL)  # in the middle of flushing
        process.wait(timeout=10)
        mid = outbox_states(replica)

        process = start_sync(replica, fresh_server, log)

        def settled() -> bool:
            states = outbox_states(replica)
            return states["queued"] + states["sending"] == 0 and sum(states.values()) > 0

        wait_for(settled, timeout=60, what="every action answered")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        driver.close()
        if process.poll() is None:
            process.kill()

    final = outbox_states(replica)
    assert final == Counter({"applied": PAUSES + ANSWERS, "conflict": 1}), (mid, final)
    events = all_events(fresh_server)
    by_reviewer = [e for e in events if e["actor"]["role"] == "reviewer"]
    pauses = Counter(
        e["contract_id"]
        for e in by_reviewer
        if e["type"] == "status_changed" and e["new_status"] == "paused"
    )
    assert pauses == Counter({cid: 1 for cid in paused})
    answers = Counter(e["question_id"] for e in by_reviewer if e["type"] == "question_answered")
    assert answers == Counter({qid: 1 for _, qid in asked})
    renames = [e for e in events if e["type"] == "contract_updated" and e["contract_id"] == renamed]
    assert [e["changes"]["name"] for e in renames] == ["someone else's name"]
    conflict = query(replica, "SELECT error_code, result FROM outbox WHERE state = 'conflict'")
    assert conflict[0][0] == "VERSION_CONFLICT"
    assert "someone else's name" in str(conflict[0][1])  # the contract as it now is
    assert "Traceback" not in log.read_text()
