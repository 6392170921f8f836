"""Snooze and claim on the server, through the real server process (SQLite, and PostgreSQL
with CONTRACTS_TEST_PG_URL): keys carry a person's name, a snooze hides an item until its
time is up or it changes, a claim shows who is on it and lapses (shrunken timings)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.server.conftest import assert_error, start_contract
from tests.support.server import configured_server
from tests.sync.server_fixture import SERVER_CLI, ServerProcess

# Claims lapse after 1.8 s; the sweep runs every 0.3 s. Nothing goes stale during a test.
QUICK_TOML = """\
[contracts]
claim_expiry_hours = 0.0005
stale_detection_interval_seconds = 0.3
stale_threshold_minutes = 60.0
heartbeat_timeout_seconds = 120.0
"""


def _key(db_url: str, owner: str, role: str, user: str | None = None) -> str:
    command = [*SERVER_CLI, "keys", "create", "--owner", owner, "--role", role, "--db", db_url]
    if user is not None:
        command += ["--user", user]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def marks_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"marks-{request.param}")
    with configured_server(request.param, tmp, QUICK_TOML) as server:
        db_url = server.db_url
        server.keys = {  # type: ignore[attr-defined]
            "ann": _key(db_url, "team", "reviewer", "Ann Example"),
            "bob": _key(db_url, "team", "reviewer", "Bob"),
            "owner": _key(db_url, "team", "admin"),  # no --user: the owner's name
            "supervisor": _key(db_url, "team", "supervisor"),
            "other": _key(db_url, "elsewhere", "reviewer", "Eve"),
        }
        yield server


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(server: ServerProcess, who: str) -> httpx.Client:
    key = server.keys[who]  # type: ignore[attr-defined]
    client = httpx.Client(
        base_url=server.base_url + "/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    _OPEN.append(client)
    return client


def _until(check: Any, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _awaiting(server: ServerProcess) -> tuple[str, str]:
    """A contract waiting on a phase confirmation: (contract id, inbox item id)."""
    ann, supervisor = _client(server, "ann"), _client(server, "supervisor")
    cid = start_contract(ann, supervisor)["id"]
    supervisor.post(
        f"/contracts/{cid}/deliverables",
        json={"deliverableId": "plan-document", "summary": "first plan"},
    )
    asked = supervisor.post(f"/contracts/{cid}/phase", json={"phase": "execute"})
    assert asked.status_code == 200, asked.text
    return cid, f"confirmation:{asked.json()['transitionId']}"


def _ids(client: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/inbox", params=params)
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def _history(client: httpx.Client, cid: str) -> list[dict[str, Any]]:
    response = client.get(f"/contracts/{cid}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_snoozed_item_leaves_the_inbox_and_returns_when_the_time_is_up(
    marks_server: ServerProcess,
) -> None:
    ann, bob = _client(marks_server, "ann"), _client(marks_server, "bob")
    cid, item = _awaiting(marks_server)
    until = datetime.now(UTC) + timedelta(seconds=2.5)

    snoozed = ann.post(f"/inbox/{item}/snooze", json={"until": _iso(until)})

    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["id"] == item
    assert snoozed.json()["snoozedUntil"] is not None
    assert item not in _ids(bob)  # every reviewer of the owner sees it snoozed
    assert _ids(bob, includeSnoozed="true")[item]["snoozedUntil"] == snoozed.json()["snoozedUntil"]
    assert _until(lambda: item in _ids(bob), within=10.0)
    assert _ids(bob)[item]["snoozedUntil"] is None
    events = [e for e in _history(ann, cid) if e["type"] == "inbox_snoozed"]
    assert events and events[-1]["item_id"] == item
    assert events[-1]["actor"]["user"] == "Ann Example"


def test_a_snoozed_item_returns_when_its_evidence_changes(marks_server: ServerProcess) -> None:
    ann, supervisor = _client(marks_server, "ann"), _client(marks_server, "supervisor")
    cid, item = _awaiting(marks_server)
    until = datetime.now(UTC) + timedelta(hours=1)
    assert ann.post(f"/inbox/{item}/snooze", json={"until": _iso(until)}).status_code == 200
    assert item not in _ids(ann)

    redone = supervisor.post(
        f"/contracts/{cid}/deliverables",
        json={"deliverableId": "plan-document", "summary": "second plan, reworked"},
    )

    assert redone.status_code in (200, 201), redone.text
    assert item in _ids(ann)


def test_unsnooze_brings_the_item_back_now(marks_server: ServerProcess) -> None:
    ann = _client(marks_server, "ann")
    cid, item = _awaiting(marks_server)
    until = datetime.now(UTC) + timedelta(hours=1)
    assert ann.post(f"/inbox/{item}/snooze", json={"until": _iso(until)}).status_code == 200

    back = ann.delete(f"/inbox/{item}/snooze")

    assert back.status_code == 200, back.text
    assert back.json()["snoozedUntil"] is None
    assert item in _ids(ann)
    assert any(e["type"] == "inbox_unsnoozed" for e in _history(ann, cid))


def test_a_claim_shows_the_name_and_time_to_another_reviewer_of_the_owner(
    marks_server: ServerProcess,
) -> None:
    ann, bob = _client(marks_server, "ann"), _client(marks_server, "bob")
    cid, item = _awaiting(marks_server)

    claimed = ann.post(f"/inbox/{item}/claim")

    assert claimed.status_code == 200, claimed.text
    seen = _ids(bob)[item]
    assert seen["claimedBy"] == "Ann Example"
    assert seen["claimedAt"] == claimed.json()["claimedAt"] is not None
    assert item not in _ids(_client(marks_server, "other"))  # another owner sees nothing
    released = bob.delete(f"/inbox/{item}/claim")
    assert released.status_code == 200 and released.json()["claimedBy"] is None
    kinds = [(e["type"], e["actor"].get("user")) for e in _history(ann, cid)]
    assert ("inbox_claimed", "Ann Example") in kinds
    assert ("inbox_unclaimed", "Bob") in kinds


def test_a_key_without_a_user_acts_as_its_owner(marks_server: ServerProcess) -> None:
    owner = _client(marks_server, "owner")
    _, item = _awaiting(marks_server)
    claimed = owner.post(f"/inbox/{item}/claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["claimedBy"] == "team"


def test_a_claim_lapses_and_the_item_alarms_again(marks_server: ServerProcess) -> None:
    ann, bob = _client(marks_server, "ann"), _client(marks_server, "bob")
    cid, item = _awaiting(marks_server)
    assert ann.post(f"/inbox/{item}/claim").json()["claimedBy"] == "Ann Example"

    def lapsed() -> list[dict[str, Any]]:
        return [e for e in _history(bob, cid) if e["type"] == "inbox_claim_expired"]

    expired = _until(lapsed, within=15.0)

    assert expired, "the sweep announced no lapse"
    assert expired[0]["item_id"] == item
    assert expired[0]["claimed_by"] == "Ann Example"
    assert expired[0]["actor"]["role"] == "system"
    assert _ids(bob)[item]["claimedBy"] is None
    time.sleep(1.0)
    assert len(lapsed()) == 1  # announced once


def test_a_supervisor_key_may_not_snooze_or_claim(marks_server: ServerProcess) -> None:
    supervisor = _client(marks_server, "supervisor")
    _, item = _awaiting(marks_server)
    until = _iso(datetime.now(UTC) + timedelta(hours=1))
    assert_error(supervisor.post(f"/inbox/{item}/snooze", json={"until": until}), 403, "FORBIDDEN")
    assert_error(supervisor.delete(f"/inbox/{item}/snooze"), 403, "FORBIDDEN")
    assert_error(supervisor.post(f"/inbox/{item}/claim"), 403, "FORBIDDEN")
    assert_error(supervisor.delete(f"/inbox/{item}/claim"), 403, "FORBIDDEN")


def test_bad_snoozes_are_refused_naming_the_field(marks_server: ServerProcess) -> None:
    ann = _client(marks_server, "ann")
    _, item = _awaiting(marks_server)
    past = _iso(datetime.now(UTC) - timedelta(minutes=1))
    body = assert_error(
        ann.post(f"/inbox/{item}/snooze", json={"until": past}), 400, "VALIDATION_FAILED"
    )
    assert "until" in str(body)
    body = assert_error(ann.post(f"/inbox/{item}/snooze", json={}), 400, "VALIDATION_FAILED")
    assert "until" in str(body)
    later = _iso(datetime.now(UTC) + timedelta(hours=1))
    body = assert_error(
        ann.post(f"/inbox/{item}/snooze", json={"until": later, "for": "1h"}),
        400,
        "VALIDATION_FAILED",
    )
    assert "for" in str(body)
    assert_error(
        ann.post("/inbox/confirmation:nope/snooze", json={"until": later}),
        404,
        "INBOX_ITEM_NOT_FOUND",
    )
    assert_error(ann.post("/inbox/stale:nope/claim"), 404, "INBOX_ITEM_NOT_FOUND")


def test_keys_list_names_each_keys_person(marks_server: ServerProcess) -> None:
    command = [*SERVER_CLI, "keys", "list", "--json", "--db", marks_server.db_url]
    listed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    users = {(k["owner"], k["role"], k["user"]) for k in json.loads(listed.stdout)}
    assert ("team", "reviewer", "Ann Example") in users
    assert ("team", "admin", "team") in users  # no --user: the owner


def test_a_claim_on_an_item_handled_meanwhile_lapses_without_an_alarm(
    marks_server: ServerProcess,
) -> None:
    ann = _client(marks_server, "ann")
    cid, item = _awaiting(marks_server)
    assert ann.post(f"/inbox/{item}/claim").status_code == 200
    confirmed = ann.post(f"/contracts/{cid}/phase", json={"phase": "execute", "confirmed": True})
    assert confirmed.status_code == 200, confirmed.text
    time.sleep(3.0)  # past the 1.8 s expiry, several sweeps
    assert [e for e in _history(ann, cid) if e["type"] == "inbox_claim_expired"] == []
