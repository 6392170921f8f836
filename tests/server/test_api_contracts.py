"""Contracts over HTTP: auth and roles, CRUD, the status table, errors with their statuses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import Server, assert_error, new_contract, start_contract

CONTRACT_KEYS = {
    "id",
    "name",
    "description",
    "contractType",
    "phase",
    "phases",
    "status",
    "phaseGuard",
    "autoCompleteEnabled",
    "version",
    "completedDeliverables",
    "waitingFor",
    "blockedReason",
    "failureReason",
    "supervisorTaskId",
    "createdAt",
    "updatedAt",
    "statusChangedAt",
    "lastActivityAt",
    "completionDetectedAt",
}


# Authentication and roles ------------------------------------------------------------------


def test_missing_key_is_401(server: Server) -> None:
    assert_error(server.anonymous().get("/api/v1/contracts"), 401, "UNAUTHORIZED")


def test_unknown_key_is_401_in_both_header_forms(server: Server) -> None:
    anon = server.anonymous()
    bad = "cdk_not-a-real-key"
    r1 = anon.get("/api/v1/contracts", headers={"Authorization": f"Bearer {bad}"})
    r2 = anon.get("/api/v1/contracts", headers={"x-makima-api-key": bad})
    assert_error(r1, 401, "UNAUTHORIZED")
    assert_error(r2, 401, "UNAUTHORIZED")


def test_both_header_forms_authenticate(server: Server) -> None:
    contract = new_contract(server.client("reviewer", "bearer"))
    got = server.client("reviewer", "x").get(f"/contracts/{contract['id']}")
    assert got.status_code == 200
    assert got.json()["id"] == contract["id"]


def test_other_owners_contract_is_404(server: Server, reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer)
    other = server.client("other")
    cid = contract["id"]
    assert_error(other.get(f"/contracts/{cid}"), 404, "CONTRACT_NOT_FOUND")
    assert_error(other.patch(f"/contracts/{cid}", json={"name": "x"}), 404, "CONTRACT_NOT_FOUND")
    assert_error(
        other.post(f"/contracts/{cid}/status", json={"targetStatus": "failed", "reason": "x"}),
        404,
        "CONTRACT_NOT_FOUND",
    )
    assert_error(other.get(f"/contracts/{cid}/export"), 404, "CONTRACT_NOT_FOUND")
    listed = other.get("/contracts", params={"limit": 1000}).json()["contracts"]
    assert cid not in {c["id"] for c in listed}


def test_missing_contract_is_404(reviewer: httpx.Client) -> None:
    body = assert_error(reviewer.get("/contracts/nope"), 404, "CONTRACT_NOT_FOUND")
    assert body["details"]["contract_id"] == "nope"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "", {"name": "x", "contractType": "simple"}),
        ("PATCH", "/{id}", {"name": "renamed"}),
        ("DELETE", "/{id}", None),
        ("PUT", "/{id}/auto-complete", {"enabled": False}),
        ("POST", "/{id}/supervisor/restart", None),
    ],
)
def test_supervisor_keys_may_not_do_reviewer_actions(
    server: Server, reviewer: httpx.Client, method: str, suffix: str, body: object
) -> None:
    contract = new_contract(reviewer)
    url = "/contracts" + suffix.replace("{id}", contract["id"])
    response = server.client("supervisor").request(method, url, json=body)
    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("target", ["paused", "archived"])
def test_supervisor_may_not_pause_or_archive(
    reviewer: httpx.Client, supervisor: httpx.Client, target: str
) -> None:
    contract = start_contract(reviewer, supervisor)
    response = supervisor.post(f"/contracts/{contract['id']}/status", json={"targetStatus": target})
    assert_error(response, 403, "FORBIDDEN")


def test_supervisor_transitions_allowed(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)  # created → active by the supervisor
    cid = contract["id"]
    assert contract["status"] == "active"
    blocked = supervisor.post(
        f"/contracts/{cid}/status", json={"targetStatus": "blocked", "blocker": "waiting on CI"}
    )
    assert blocked.json()["newStatus"] == "blocked"
    assert reviewer.get(f"/contracts/{cid}").json()["blockedReason"] == "waiting on CI"
    assert supervisor.post(f"/contracts/{cid}/status", json={"targetStatus": "active"}).is_success
    failed = supervisor.post(
        f"/contracts/{cid}/status", json={"target_status": "failed", "reason": "crashed"}
    )
    assert failed.json() == {
        "success": True,
        "previousStatus": "active",
        "newStatus": "failed",
        "rejectionReason": None,
        "version": reviewer.get(f"/contracts/{cid}").json()["version"],
    }


# Create / read / list / update / delete -----------------------------------------------------


def test_create_answers_the_contract(reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer, "specification", description="d", phaseGuard=False)
    assert set(contract) >= CONTRACT_KEYS
    assert contract["status"] == "created"
    assert contract["version"] == 1
    assert contract["phase"] == "research"
    assert [p["id"] for p in contract["phases"]] == [
        "research",
        "specify",
        "plan",
        "execute",
        "review",
    ]
    assert contract["phaseGuard"] is False
    assert contract["autoCompleteEnabled"] is True
    assert contract["createdAt"].endswith("Z")


def test_create_accepts_snake_case(reviewer: httpx.Client) -> None:
    response = reviewer.post(
        "/contracts",
        json={
            "name": "snake",
            "contract_type": "execute",
            "phase_guard": False,
            "auto_complete_enabled": False,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["contractType"], body["phaseGuard"], body["autoCompleteEnabled"]) == (
        "execute",
        False,
        False,
    )


def test_create_custom_contract(reviewer: httpx.Client) -> None:
    config = {
        "phases": [{"id": "a", "name": "A", "order": 0}, {"id": "b", "name": "B", "order": 1}],
        "defaultPhase": "a",
        "deliverables": {"a": [{"id": "doc", "name": "Doc", "priority": "required"}]},
    }
    contract = new_contract(reviewer, "custom", phaseConfig=config)
    assert contract["phase"] == "a"
    assert [p["id"] for p in contract["phases"]] == ["a", "b"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "contractType": "bogus"},
        {"name": "x"},
        {"name": "", "contractType": "simple"},
        {"name": "x", "contractType": "custom"},
        {"name": 5, "contractType": "simple"},
        {"name": "x", "contractType": "simple", "phaseGuard": "yes"},
        ["not", "an", "object"],
    ],
)
def test_create_rejects_bad_input(reviewer: httpx.Client, body: object) -> None:
    assert_error(reviewer.post("/contracts", json=body), 400, "VALIDATION_FAILED")


def test_malformed_json_is_400(reviewer: httpx.Client) -> None:
    response = reviewer.post(
        "/contracts", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "VALIDATION_FAILED")


def test_oversized_body_is_413(reviewer: httpx.Client) -> None:
    big = {"name": "x", "contractType": "simple", "description": "a" * (1024 * 1024 + 10)}
    assert_error(reviewer.post("/contracts", json=big), 413, "PAYLOAD_TOO_LARGE")


def test_oversized_chunked_body_is_413(reviewer: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "contractType": "simple", "description": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    response = reviewer.post(
        "/contracts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_nul_characters_are_400(reviewer: httpx.Client) -> None:
    response = reviewer.post("/contracts", json={"name": "a\x00b", "contractType": "simple"})
    assert_error(response, 400, "VALIDATION_FAILED")


def test_get_contract_detail(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    assert set(contract) >= CONTRACT_KEYS
    assert {"tasks", "pendingQuestions", "supervisor", "readiness"} <= set(contract)
    assert contract["tasks"][0]["isSupervisor"] is True
    assert contract["supervisorTaskId"] == contract["tasks"][0]["id"]
    assert contract["supervisor"]["alive"] is False  # no heartbeat yet
    assert contract["readiness"] == {
        "phase": "plan",
        "ready": False,
        "missing": ["Deliverable: plan-document"],
        "auto_advance_enabled": True,
    }


def test_list_filters_and_pages(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    tag = new_contract(reviewer)["name"]
    active = start_contract(reviewer, supervisor)
    listed = reviewer.get("/contracts", params={"status": "active,paused", "limit": 1000}).json()
    assert {"contracts", "total"} == set(listed)
    assert active["id"] in {c["id"] for c in listed["contracts"]}
    assert all(c["status"] in ("active", "paused") for c in listed["contracts"])
    assert tag not in {c["name"] for c in listed["contracts"]}
    page = reviewer.get("/contracts", params={"limit": 1, "offset": 1}).json()
    assert len(page["contracts"]) == 1 and page["total"] >= 2
    first = reviewer.get("/contracts", params={"limit": 2}).json()["contracts"]
    assert first[0]["lastActivityAt"] >= first[1]["lastActivityAt"]  # most recent first
    phase = reviewer.get("/contracts", params={"phase": "plan", "limit": 1000}).json()
    assert all(c["phase"] == "plan" for c in phase["contracts"])
    waiting = reviewer.get("/contracts", params={"waiting": "true"}).json()
    # Waiting on the reviewer (core.attention): a question or a phase confirmation, or a
    # completion to confirm while the contract is completing, or a ready phase to advance.
    assert all(
        c["status"] in ("waiting_for_input", "completing") or c["waitingFor"] == "phase_ready"
        for c in waiting["contracts"]
    )
    stale = reviewer.get("/contracts", params={"stale": "true", "threshold": "1h"}).json()
    assert active["id"] not in {c["id"] for c in stale["contracts"]}
    since = reviewer.get("/contracts", params={"updatedSince": active["updatedAt"]}).json()
    assert active["id"] in {c["id"] for c in since["contracts"]}


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"stale": "maybe"},
        {"stale": "true", "threshold": "30"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"updatedSince": "yesterday"},
    ],
)
def test_list_rejects_unknown_query_values(reviewer: httpx.Client, params: dict[str, str]) -> None:
    assert_error(reviewer.get("/contracts", params=params), 400, "VALIDATION_FAILED")


def test_patch_and_version_conflict(reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer)
    cid = contract["id"]
    patched = reviewer.patch(
        f"/contracts/{cid}", json={"name": "renamed", "phaseGuard": False, "expectedVersion": 1}
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["version"]) == ("renamed", 2)
    stale = reviewer.patch(f"/contracts/{cid}", json={"name": "again", "expected_version": 1})
    body = assert_error(stale, 409, "VERSION_CONFLICT")
    assert body["details"] == {"expected_version": 1, "actual_version": 2, "current_phase": "plan"}


def test_delete_only_archived(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    body = assert_error(reviewer.delete(f"/contracts/{cid}"), 400, "INVALID_TRANSITION")
    assert body["details"]["from"] == "active"
    reviewer.post(f"/contracts/{cid}/status", json={"targetStatus": "failed", "reason": "r"})
    reviewer.post(f"/contracts/{cid}/status", json={"targetStatus": "archived"})
    deleted = reviewer.delete(f"/contracts/{cid}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(reviewer.get(f"/contracts/{cid}"), 404, "CONTRACT_NOT_FOUND")
    history = reviewer.get(f"/contracts/{cid}/events").json()["events"]
    assert history[-1]["type"] == "contract_deleted"


# The status table ----------------------------------------------------------------------------


def _move(client: httpx.Client, cid: str, target: str, **extra: object) -> httpx.Response:
    return client.post(f"/contracts/{cid}/status", json={"targetStatus": target, **extra})


def test_every_transition_of_the_table(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = new_contract(reviewer)
    cid = contract["id"]
    body = assert_error(_move(supervisor, cid, "active"), 400, "VALIDATION_FAILED")
    assert body["details"]["missing_requirements"] == ["the contract has no supervisor task"]
    contract = start_contract(reviewer, supervisor)  # created → active
    cid = contract["id"]
    body = assert_error(_move(reviewer, cid, "waiting_for_input"), 400, "VALIDATION_FAILED")
    assert body["details"]["missing_requirements"]
    asked = supervisor.post(
        f"/contracts/{cid}/questions", json={"question": "ok?", "questionType": "confirmation"}
    )  # active → waiting_for_input
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "waiting_for_input"
    assert_error(_move(reviewer, cid, "active"), 400, "VALIDATION_FAILED")  # still pending
    assert _move(reviewer, cid, "paused").json()["newStatus"] == "paused"  # waiting → paused
    # paused → active, and on to waiting_for_input: the question is still open
    assert _move(reviewer, cid, "active").json()["newStatus"] == "waiting_for_input"
    reviewer.post(f"/questions/{asked.json()['id']}/answer", json={"answer": "yes"})
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "active"  # nothing pending
    assert _move(reviewer, cid, "paused").json()["previousStatus"] == "active"  # active → paused
    _move(reviewer, cid, "active")
    assert_error(_move(reviewer, cid, "blocked"), 400, "VALIDATION_FAILED")  # needs a blocker
    assert _move(reviewer, cid, "blocked", blocker="b").json()["newStatus"] == "blocked"
    assert _move(reviewer, cid, "active").json()["newStatus"] == "active"  # blocker cleared
    body = assert_error(_move(reviewer, cid, "completing"), 400, "VALIDATION_FAILED")
    assert body["details"]["missing_requirements"]
    assert_error(_move(reviewer, cid, "failed"), 400, "VALIDATION_FAILED")  # needs a reason
    assert _move(reviewer, cid, "failed", reason="r").json()["newStatus"] == "failed"
    assert _move(reviewer, cid, "archived").json()["newStatus"] == "archived"
    body = assert_error(_move(reviewer, cid, "active"), 400, "INVALID_TRANSITION")
    assert body["details"] == {"from": "archived", "to": "active", "allowed": []}


def test_completing_transitions(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor, "execute", autoCompleteEnabled=False)
    cid = contract["id"]
    assert _move(reviewer, cid, "completing").json()["newStatus"] == "completing"
    assert _move(reviewer, cid, "active").json()["newStatus"] == "active"  # user rejects
    _move(reviewer, cid, "completing")
    assert _move(reviewer, cid, "completed").json()["newStatus"] == "completed"
    done = reviewer.get(f"/contracts/{cid}").json()
    assert done["status"] == "completed"
    assert _move(reviewer, cid, "archived").json()["newStatus"] == "archived"


def test_invalid_transition_details(reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer)
    body = assert_error(_move(reviewer, contract["id"], "paused"), 400, "INVALID_TRANSITION")
    assert body["details"] == {"from": "created", "to": "paused", "allowed": ["active", "failed"]}


def test_unknown_status_is_400(reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer)
    assert_error(_move(reviewer, contract["id"], "sleeping"), 400, "VALIDATION_FAILED")


def test_status_version_conflict(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    contract = start_contract(reviewer, supervisor)
    response = _move(reviewer, contract["id"], "paused", expectedVersion=contract["version"] - 1)
    body = assert_error(response, 409, "VERSION_CONFLICT")
    assert body["details"]["actual_version"] == contract["version"]


def test_auto_complete_switch(reviewer: httpx.Client) -> None:
    contract = new_contract(reviewer)
    off = reviewer.put(f"/contracts/{contract['id']}/auto-complete", json={"enabled": False})
    assert off.status_code == 200 and off.json()["autoCompleteEnabled"] is False
    assert_error(
        reviewer.put(f"/contracts/{contract['id']}/auto-complete", json={"enabled": "no"}),
        400,
        "VALIDATION_FAILED",
    )
