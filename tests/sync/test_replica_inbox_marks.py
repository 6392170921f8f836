"""Snoozes and claims reach a desk through its replica: the marks folded from the replicated
log (`Replica.inbox_marks`, `core.inbox.marks_from_events`) laid on the items the desk derives
give the server's `GET /inbox`, snoozed, claimed, and back when the evidence changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.config import ContractTimeoutConfig
from core.inbox import inbox_items, with_marks
from core.model import QuestionStatus
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed
from tests.sync.replica_fixtures import driver, feed
from tests.sync.replica_support import Driver, ok

__all__ = ["driver", "feed"]  # fixtures, used by name

THRESHOLD = timedelta(minutes=30)  # the sync server's stale threshold
CLAIM_EXPIRY = ContractTimeoutConfig().claim_expiry
FIELDS = ("id", "snoozedUntil", "claimedBy", "claimedAt")


async def _local(replica: Replica, ids: set[str], *, include_snoozed: bool) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    listed = await replica.list_contracts(limit=1000, now=now)
    questions = await replica.questions(status=QuestionStatus.PENDING)
    items = inbox_items(listed.contracts, now, THRESHOLD, questions=questions)
    marked = with_marks(
        items, await replica.inbox_marks(), now, CLAIM_EXPIRY, include_snoozed=include_snoozed
    )
    return [{k: i.to_wire()[k] for k in FIELDS} for i in marked if i.contract_id in ids]


def _remote(driver: Driver, ids: set[str], *, include_snoozed: bool) -> list[dict[str, Any]]:
    params = {"includeSnoozed": "true"} if include_snoozed else {}
    items = ok(driver.reviewer.get("/inbox", params=params))["items"]
    return [{k: i[k] for k in FIELDS} for i in items if i["contractId"] in ids]


async def test_the_replicas_marks_give_the_servers_inbox(
    driver: Driver, feed: tuple[Replica, ReplicaFeed]
) -> None:
    replica, follower = feed
    await follower.ensure_snapshot()
    confirming = driver.start("marks")["id"]
    asking = driver.start("asks")["id"]
    driver.task(confirming, "write the plan")
    note = {"deliverableId": "plan-document", "summary": "v1"}
    ok(driver.supervisor.post(f"/contracts/{confirming}/deliverables", json=note))
    transition = driver.request_phase(confirming)["transitionId"]
    question = driver.ask(asking, "Which region?")
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    ok(driver.reviewer.post(f"/inbox/confirmation:{transition}/snooze", json={"until": until}))
    ok(driver.reviewer.post(f"/inbox/question:{question}/claim"))
    await follower.catch_up()
    ids = {confirming, asking}

    for include in (True, False):
        assert await _local(replica, ids, include_snoozed=include) == _remote(
            driver, ids, include_snoozed=include
        )
    assert [i["id"] for i in await _local(replica, ids, include_snoozed=False)] == [
        f"question:{question}"
    ]

    note = {"deliverableId": "plan-document", "summary": "v2, reworked"}
    ok(driver.supervisor.post(f"/contracts/{confirming}/deliverables", json=note))
    ok(driver.reviewer.delete(f"/inbox/question:{question}/claim"))
    await follower.catch_up()

    local = await _local(replica, ids, include_snoozed=False)
    assert local == _remote(driver, ids, include_snoozed=False)
    assert {i["id"] for i in local} == {f"confirmation:{transition}", f"question:{question}"}
    assert all(i["claimedBy"] is None for i in local)
