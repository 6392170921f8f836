"""The replica holds the evidence and the open request as the server does, so the inbox a
desk derives from its replica (`core.inbox` on replica rows) is the server's `GET /inbox`,
and a decision bound to the replica's evidence matches the server's digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.inbox import inbox_items
from core.model import QuestionStatus
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed
from tests.sync.replica_fixtures import driver, feed
from tests.sync.replica_support import Driver, assert_same, ok, replica_state, server_state
from tests.sync.server_fixture import ServerProcess

__all__ = ["driver", "feed"]  # fixtures, used by name

THRESHOLD = timedelta(minutes=30)  # the sync server's stale threshold


def _note(driver: Driver, cid: str, **note: str) -> None:
    body = {"deliverableId": "plan-document", **note}
    ok(driver.supervisor.post(f"/contracts/{cid}/deliverables", json=body))


async def test_notes_and_the_open_request_fold_and_the_inbox_matches_the_servers(
    sync_server: ServerProcess,
    driver: Driver,
    feed: tuple[Replica, ReplicaFeed],
) -> None:
    replica, follower = feed
    await follower.ensure_snapshot()
    confirming = driver.start("evidence")["id"]
    asking = driver.start("asks")["id"]
    await follower.catch_up()
    driver.task(confirming, "write the plan")
    _note(driver, confirming, url="https://git.example.org/plan.md", summary="## v1")
    driver.request_phase(confirming)
    _note(driver, confirming, summary="## v2\n\nrewritten")  # a new version of the note
    driver.ask(asking, "Which region?")
    await follower.catch_up()

    assert_same(server_state(sync_server), await replica_state(replica))
    held = (await replica.contracts_by_id([confirming]))[confirming]
    request = driver.get(confirming)["pendingConfirmation"]
    assert held.to_wire()["pendingConfirmation"] == request  # same transition, same digest
    assert held.deliverable_notes["plan"]["plan-document"].summary == "## v2\n\nrewritten"

    now = datetime.now(UTC)
    listed = await replica.list_contracts(limit=1000, now=now)
    questions = await replica.questions(status=QuestionStatus.PENDING)
    local = [
        i.to_wire() for i in inbox_items(listed.contracts, now, THRESHOLD, questions=questions)
    ]
    remote = ok(driver.reviewer.get("/inbox"))["items"]
    mine = {confirming, asking}
    ids = [i["id"] for i in remote if i["contractId"] in mine]
    assert [i["id"] for i in local if i["contractId"] in mine] == ids
    assert ids == [f"confirmation:{request['transitionId']}", ids[1]]
    assert ids[1].startswith("question:")
