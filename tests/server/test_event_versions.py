"""Every contract-changing event carries the version and `updated_at` it produced
(API.md, additions 2026-12), on the events page and on the monitor stream alike, on both
databases: a reader folds events without asking for the row again."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.conftest import Server, start_contract


def _events(client: httpx.Client, cid: str) -> list[dict[str, Any]]:
    page = client.get(f"/contracts/{cid}/events", params={"limit": 500})
    assert page.status_code == 200, page.text
    return list(page.json()["events"])


def test_each_event_carries_the_version_it_produced(
    server: Server, reviewer: httpx.Client, supervisor: httpx.Client
) -> None:
    contract = start_contract(reviewer, supervisor)
    cid = contract["id"]
    task = supervisor.post(f"/contracts/{cid}/tasks", json={"name": "build"})
    assert task.status_code == 201, task.text
    paused = reviewer.post(f"/contracts/{cid}/status", json={"targetStatus": "paused"})
    assert paused.status_code == 200, paused.text
    now = reviewer.get(f"/contracts/{cid}").json()

    events = _events(reviewer, cid)
    versions = [e["version"] for e in events]
    assert versions == sorted(versions) and versions[0] >= 1
    last = events[-1]
    assert last["type"] == "status_changed" and last["new_status"] == "paused"
    assert last["version"] == now["version"]
    assert last["updated_at"][:19] == now["updatedAt"][:19]
    created = next(e for e in events if e["type"] == "task_created" and e["task_name"] == "build")
    assert created["version"] < last["version"]
