"""Helpers of the replica, outbox and service tests: drive a real server, compare states."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from core.model import Question
from sync.replica import Replica
from tests.sync.server_fixture import ServerProcess

Json = dict[str, Any]


def http(server: ServerProcess, role: str = "reviewer") -> httpx.Client:
    key = {
        "reviewer": server.reviewer_key,
        "supervisor": server.supervisor_key,
        "admin": server.admin_key,
        "other": server.other_key,
    }[role]
    return httpx.Client(
        base_url=server.base_url + "/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


class Driver:
    """Makes changes on the server as a reviewer and a supervisor would."""

    def __init__(self, server: ServerProcess) -> None:
        self.reviewer = http(server, "reviewer")
        self.supervisor = http(server, "supervisor")

    def close(self) -> None:
        self.reviewer.close()
        self.supervisor.close()

    def create(self, name: str | None = None, **extra: Any) -> Json:
        body = {"name": name or f"c-{uuid.uuid4().hex[:8]}", "contractType": "simple", **extra}
        return dict(ok(self.reviewer.post("/contracts", json=body)))

    def start(self, name: str | None = None, **extra: Any) -> Json:
        """A contract with a supervisor task, active."""
        contract = self.create(name, **extra)
        cid = contract["id"]
        ok(
            self.supervisor.post(
                f"/contracts/{cid}/tasks", json={"name": "sup", "isSupervisor": True}
            )
        )
        ok(self.supervisor.post(f"/contracts/{cid}/status", json={"targetStatus": "active"}))
        return self.get(cid)

    def get(self, cid: str) -> Json:
        return dict(ok(self.reviewer.get(f"/contracts/{cid}")))

    def task(self, cid: str, name: str = "work") -> str:
        body = {"name": name}
        return str(ok(self.supervisor.post(f"/contracts/{cid}/tasks", json=body))["id"])

    def move_task(self, cid: str, tid: str, status: str) -> None:
        ok(self.supervisor.patch(f"/contracts/{cid}/tasks/{tid}", json={"status": status}))

    def ask(self, cid: str, text: str = "Which?", choices: list[str] | None = None) -> str:
        body: Json = {"question": text, "questionType": "choice" if choices else "free_text"}
        if choices:
            body["choices"] = choices
        return str(ok(self.supervisor.post(f"/contracts/{cid}/questions", json=body))["id"])

    def answer(self, qid: str, answer: str) -> None:
        ok(self.reviewer.post(f"/questions/{qid}/answer", json={"answer": answer}))

    def deliver(self, cid: str, deliverable: str = "plan-document") -> None:
        body = {"deliverableId": deliverable}
        ok(self.supervisor.post(f"/contracts/{cid}/deliverables", json=body))

    def request_phase(self, cid: str, phase: str = "execute") -> Json:
        return dict(ok(self.supervisor.post(f"/contracts/{cid}/phase", json={"phase": phase})))

    def confirm_phase(self, cid: str, phase: str = "execute") -> Json:
        body = {"phase": phase, "confirmed": True}
        return dict(ok(self.reviewer.post(f"/contracts/{cid}/phase", json=body)))

    def status(self, cid: str, target: str, **extra: Any) -> Json:
        body = {"targetStatus": target, **extra}
        return dict(ok(self.reviewer.post(f"/contracts/{cid}/status", json=body)))

    def rename(self, cid: str, name: str) -> None:
        ok(self.reviewer.patch(f"/contracts/{cid}", json={"name": name}))

    def delete(self, cid: str) -> None:
        """Fail, archive and delete the contract."""
        self.status(cid, "failed", reason="given up")
        self.status(cid, "archived")
        ok(self.reviewer.delete(f"/contracts/{cid}"))

    def lifecycle(self, name: str | None = None) -> str:
        """A contract taken through most kinds of events; returns its id."""
        cid = str(self.start(name)["id"])
        worker = self.task(cid)
        self.move_task(cid, worker, "running")
        qid = self.ask(cid, "Pick one", ["a", "b"])
        self.answer(qid, "b")
        self.deliver(cid)
        self.request_phase(cid)
        self.confirm_phase(cid)
        self.move_task(cid, worker, "done")
        self.ask(cid, "Still there?")
        return cid

    def burst(self, count: int) -> list[str]:
        """`count` contracts with varied histories, one of them deleted at the end."""
        ids = [self.lifecycle(f"burst-{i}") for i in range(count)]
        self.status(ids[0], "paused")
        self.rename(ids[1 % count], "renamed")
        ok(self.reviewer.put(f"/contracts/{ids[-1]}/auto-complete", json={"enabled": False}))
        self.delete(ids[-1])
        return ids


def server_state(server: ServerProcess) -> Json:
    """Everything the replica should hold, read from the server (reviewer's scope)."""
    with http(server) as client:
        contracts: list[Json] = []
        while True:
            page = ok(client.get("/contracts", params={"limit": 1000, "offset": len(contracts)}))
            contracts.extend(page["contracts"])
            if len(contracts) >= page["total"] or not page["contracts"]:
                break
        events: list[Json] = []
        while True:
            after = events[-1]["seq"] if events else 0
            page = ok(client.get("/events", params={"after": after, "limit": 1000}))
            events.extend(page["events"])
            if len(page["events"]) < 1000:
                break
        tasks: dict[str, list[Json]] = {}
        questions: dict[str, list[Json]] = {}
        for contract in contracts:
            exported = ok(client.get(f"/contracts/{contract['id']}/export"))
            tasks[contract["id"]] = exported["tasks"]
            questions[contract["id"]] = exported["questions"]
    return {
        "contracts": {c["id"]: c for c in contracts},
        "tasks": tasks,
        "questions": questions,
        "events": events,
    }


async def replica_state(replica: Replica) -> Json:
    contracts: dict[str, Json] = {}
    tasks: dict[str, list[Json]] = {}
    questions: dict[str, list[Json]] = {}
    from datetime import UTC, datetime

    page = await replica.list_contracts(limit=1000, now=datetime.now(UTC))
    for contract in page.contracts:
        detail = await replica.contract(contract.id)
        contracts[contract.id] = contract.to_wire()
        tasks[contract.id] = [t.to_wire() for t in detail.tasks]
        questions[contract.id] = [q.to_wire() for q in detail.questions]
    events: list[Json] = []
    after = 0
    while True:
        found = await replica.events(after=after, limit=1000)
        events.extend(e.to_wire() for e in found.events)
        if len(found.events) < 1000:
            break
        after = found.last_seq
    return {"contracts": contracts, "tasks": tasks, "questions": questions, "events": events}


def assert_same(server: Json, local: Json) -> None:
    """The replica holds exactly the server's rows (each part compared on its own, so a
    failure names the part)."""
    assert sorted(local["contracts"]) == sorted(server["contracts"])
    for cid, wire in server["contracts"].items():
        assert local["contracts"][cid] == wire, cid
    assert local["tasks"] == server["tasks"]
    assert local["questions"] == server["questions"]
    assert [e["seq"] for e in local["events"]] == [e["seq"] for e in server["events"]]
    assert local["events"] == server["events"]


def pending(questions: list[Question]) -> list[str]:
    return sorted(q.id for q in questions if q.is_pending)
