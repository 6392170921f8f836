"""`contracts snooze|unsnooze|claim|unclaim` and the outbox's snooze and claim entries,
against a real server process (this module's own): the CLI run in-process as a person runs
it, the outbox queued offline and flushed when the server answers."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.inbox import TOMORROW_HOUR, snooze_until
from sync.client import ContractClient
from sync.outbox import Outbox, OutboxState
from sync.outbox_entry import ActionAlreadyQueued
from sync.replica import Replica
from tests.sync.cli_harness import Api, run_cli
from tests.sync.server_fixture import SERVER_CLI, ServerProcess

pytestmark = pytest.mark.timeout(180)
S = OutboxState


def _named_key(server: ServerProcess, user: str) -> str:
    """A second reviewer key of the server's owner (alice), for the person `user`."""
    command = [*SERVER_CLI, "keys", "create", "--owner", "alice", "--role", "reviewer"]
    command += ["--user", user, "--db", server.db_url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _awaiting(api: Api) -> tuple[str, str]:
    """(contract id, item id) of a contract waiting on a phase confirmation."""
    contract = api.active()
    cid = contract["id"]
    api.call("POST", f"/contracts/{cid}/deliverables", "supervisor", deliverableId="plan-document")
    asked = api.call("POST", f"/contracts/{cid}/phase", "supervisor", phase="execute")
    return cid, f"confirmation:{asked['transitionId']}"


def _item(api: Api, item: str, **params: Any) -> dict[str, Any] | None:
    query = "?includeSnoozed=true" if params.get("include_snoozed") else ""
    items = api.call("GET", f"/inbox{query}")["items"]
    return next((i for i in items if i["id"] == item), None)


def test_snooze_for_a_duration_hides_the_item_and_unsnooze_brings_it_back(
    as_reviewer: ServerProcess, api: Api
) -> None:
    cid, item = _awaiting(api)

    result = run_cli("snooze", item, "1h")

    assert result.code == 0, result.err
    assert result.out.startswith(f"Snoozed {item} (")
    assert _item(api, item) is None
    snoozed = _item(api, item, include_snoozed=True)
    assert snoozed is not None
    until = datetime.fromisoformat(snoozed["snoozedUntil"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    back = run_cli("unsnooze", cid[:8])  # the contract's short id, as the table shows
    assert back.code == 0, back.err
    assert f"{item} " in back.out
    assert _item(api, item) is not None


def test_snooze_until_a_time_and_until_tomorrow(as_reviewer: ServerProcess, api: Api) -> None:
    _, item = _awaiting(api)
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    assert run_cli("snooze", item, "--until", later.isoformat()).code == 0
    snoozed = _item(api, item, include_snoozed=True)
    assert snoozed is not None and snoozed["snoozedUntil"].startswith(
        later.strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert run_cli("snooze", item, "tomorrow").code == 0
    snoozed = _item(api, item, include_snoozed=True)
    assert snoozed is not None
    until = datetime.fromisoformat(snoozed["snoozedUntil"].replace("Z", "+00:00")).astimezone()
    assert (until.hour, until.minute) == (TOMORROW_HOUR, 0)
    assert until.date() == (datetime.now().astimezone() + timedelta(days=1)).date()


def test_claim_shows_the_persons_name_to_another_reviewer_and_unclaim_releases(
    as_reviewer: ServerProcess, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, item = _awaiting(api)
    monkeypatch.setenv("CONTRACTS_API_KEY", _named_key(as_reviewer, "Carol"))

    result = run_cli("claim", item)

    assert result.code == 0, result.err
    assert "as Carol" in result.out
    seen = _item(api, item)  # the fixture's other reviewer key
    assert seen is not None and seen["claimedBy"] == "Carol" and seen["claimedAt"]
    table = run_cli("inbox")
    assert "claimed by Carol" in table.out
    assert run_cli("unclaim", item).code == 0
    seen = _item(api, item)
    assert seen is not None and seen["claimedBy"] is None


def test_bad_snooze_times_and_unknown_items_are_one_line_errors(
    as_reviewer: ServerProcess, api: Api
) -> None:
    _, item = _awaiting(api)
    for args in (
        ("snooze", item, "soon"),
        ("snooze", item),
        ("snooze", item, "1h", "--until", "x"),
    ):
        result = run_cli(*args)
        assert result.code == 2, (args, result.out)
        assert len(result.err.strip().splitlines()) == 1
    past = run_cli("snooze", item, "--until", "2001-01-01T00:00:00Z")
    assert past.code == 2 and "not in the future" in past.err
    unknown = run_cli("claim", "confirmation:nothing-like-this")
    assert unknown.code == 1
    assert unknown.err.startswith("contracts: error: INBOX_ITEM_NOT_FOUND")


def test_a_supervisor_key_is_refused(
    as_reviewer: ServerProcess, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, item = _awaiting(api)
    monkeypatch.setenv("CONTRACTS_API_KEY", as_reviewer.supervisor_key)
    result = run_cli("claim", item)
    assert result.code == 1
    assert result.err.startswith("contracts: error: FORBIDDEN")


def test_snooze_until_reads_durations_tomorrow_and_iso() -> None:
    now = datetime(2026, 12, 8, 22, 30, tzinfo=UTC)
    assert snooze_until("1h", now) == now + timedelta(hours=1)
    assert snooze_until("2h 5m", now) == now + timedelta(hours=2, minutes=5)
    tomorrow = snooze_until("tomorrow", now, UTC)
    assert tomorrow == datetime(2026, 12, 9, TOMORROW_HOUR, tzinfo=UTC)
    assert snooze_until("2026-12-09T10:00:00Z", now) == datetime(2026, 12, 9, 10, tzinfo=UTC)


# --- the outbox -------------------------------------------------------------------------------


@pytest.fixture
async def desk(
    sync_server: ServerProcess, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Outbox, ContractClient]]:
    replica = await Replica.open(tmp_path / "replica.db")
    client = ContractClient(sync_server.base_url, sync_server.reviewer_key)
    try:
        yield replica, Outbox(replica), client
    finally:
        await client.aclose()
        await replica.close()


async def test_snooze_and_claim_queued_offline_reach_the_server_when_it_answers(
    sync_server: ServerProcess, api: Api, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    _, outbox, online = desk
    cid, item = _awaiting(api)
    until = datetime.now(UTC) + timedelta(hours=2)
    snooze = await outbox.snooze(cid, item, until)
    claim = await outbox.claim(cid, item)
    with pytest.raises(ActionAlreadyQueued):
        await outbox.unsnooze(cid, item)  # the item's snooze is already on its way
    offline = ContractClient("http://127.0.0.1:9", sync_server.reviewer_key, retries=0)
    try:
        stopped = await outbox.flush(offline)
    finally:
        await offline.aclose()
    assert stopped.stopped is not None
    assert (await outbox.get(snooze.id)).state is S.QUEUED
    assert _item(api, item, include_snoozed=True)["snoozedUntil"] is None  # type: ignore[index]

    await outbox.flush(online)

    assert (await outbox.get(snooze.id)).state is S.APPLIED
    assert (await outbox.get(claim.id)).state is S.APPLIED
    seen = _item(api, item, include_snoozed=True)
    assert seen is not None and seen["snoozedUntil"] and seen["claimedBy"] == "alice"
    assert _item(api, item) is None
    await outbox.unsnooze(cid, item)
    await outbox.unclaim(cid, item)
    await outbox.flush(online)
    seen = _item(api, item)
    assert seen is not None and seen["claimedBy"] is None


async def test_a_snooze_of_an_item_handled_meanwhile_is_rejected(
    api: Api, desk: tuple[Replica, Outbox, ContractClient]
) -> None:
    _, outbox, online = desk
    cid, item = _awaiting(api)
    entry = await outbox.snooze(cid, item, datetime.now(UTC) + timedelta(hours=1))
    api.call("POST", f"/contracts/{cid}/phase", phase="execute", confirmed=True)

    await outbox.flush(online)

    done = await outbox.get(entry.id)
    assert done.state is S.REJECTED
    assert done.error_code == "INBOX_ITEM_NOT_FOUND"


def test_show_tells_whether_the_supervisor_picked_the_feedback_up(
    as_reviewer: ServerProcess, api: Api
) -> None:
    cid, _ = _awaiting(api)
    asked = api.call("POST", f"/contracts/{cid}/phase", phase="execute", feedback="Add a rollback")
    shown = run_cli("show", cid)
    assert shown.code == 0, shown.err
    line = next(x for x in shown.out.splitlines() if "Add a rollback" in x)
    assert "[not yet picked up]" in line and "alice (plan)" in line
    api.call("POST", f"/contracts/{cid}/feedback/{asked['feedbackId']}/ack", "supervisor")
    api.call("POST", f"/contracts/{cid}/phase", "supervisor", phase="execute")
    shown = run_cli("show", cid)
    assert "[delivered]" in shown.out
    assert "↳ supervisor request: asks again to move plan → execute" in shown.out
