"""Questions over HTTP: ask, list, answer, errors, and the long poll waking on an answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.server.conftest import Server, assert_error, start_contract

QUESTION_KEYS = {
    "id",
    "contractId",
    "phase",
    "question",
    "questionType",
    "choices",
    "status",
    "answer",
    "askedAt",
    "answeredAt",
    "answeredBy",
}


def _ask(client: httpx.Client, cid: str, **body: Any) -> httpx.Response:
    return client.post(f"/contracts/{cid}/questions", json=body)


def test_ask_list_and_answer(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    asked = _ask(
        supervisor, cid, question="Which DB?", questionType="choice", choices=["sqlite", "postgres"]
    )
    assert asked.status_code == 201
    question = asked.json()
    assert set(question) == QUESTION_KEYS
    assert (question["status"], question["phase"], question["choices"]) == (
        "pending",
        "plan",
        ["sqlite", "postgres"],
    )
    contract = reviewer.get(f"/contracts/{cid}").json()
    assert (contract["status"], contract["waitingFor"]) == ("waiting_for_input", "question")
    assert [q["id"] for q in contract["pendingQuestions"]] == [question["id"]]
    pending = reviewer.get("/questions", params={"status": "pending", "contractId": cid}).json()
    assert [q["id"] for q in pending["questions"]] == [question["id"]]
    qid = question["id"]
    wrong = reviewer.post(f"/questions/{qid}/answer", json={"answer": "mysql"})
    assert_error(wrong, 400, "VALIDATION_FAILED")
    answered = reviewer.post(f"/questions/{qid}/answer", json={"answer": "postgres"})
    assert answered.status_code == 200
    body = answered.json()
    assert (body["status"], body["answer"], body["answeredBy"]) == ("answered", "postgres", "alice")
    assert reviewer.get(f"/contracts/{cid}").json()["status"] == "active"
    again = reviewer.post(f"/questions/{qid}/answer", json={"answer": "sqlite"})
    assert_error(again, 409, "QUESTION_ALREADY_ANSWERED")
    events = reviewer.get(f"/contracts/{cid}/events").json()["events"]
    kinds = [e["type"] for e in events]
    assert "question_asked" in kinds and "question_answered" in kinds
    asked_event = next(e for e in events if e["type"] == "question_asked")
    assert (asked_event["question_id"], asked_event["question_type"]) == (qid, "choice")


def test_question_errors(server: Server, reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    assert_error(reviewer.get("/questions/nope"), 404, "QUESTION_NOT_FOUND")
    assert_error(
        reviewer.post("/questions/nope/answer", json={"answer": "x"}), 404, "QUESTION_NOT_FOUND"
    )
    assert_error(
        _ask(supervisor, cid, question="q", questionType="essay"), 400, "VALIDATION_FAILED"
    )
    assert_error(
        _ask(supervisor, cid, question="q", questionType="choice", choices=["one"]),
        400,
        "VALIDATION_FAILED",
    )
    qid = _ask(supervisor, cid, question="ok?", questionType="confirmation").json()["id"]
    assert_error(
        supervisor.post(f"/questions/{qid}/answer", json={"answer": "yes"}), 403, "FORBIDDEN"
    )
    assert_error(server.client("other").get(f"/questions/{qid}"), 404, "QUESTION_NOT_FOUND")
    assert_error(reviewer.get("/questions", params={"status": "maybe"}), 400, "VALIDATION_FAILED")
    assert_error(reviewer.get(f"/questions/{qid}", params={"wait": "61"}), 400, "VALIDATION_FAILED")
    confirmed = reviewer.post(f"/questions/{qid}/answer", json={"answer": "Y"}).json()
    assert confirmed["answer"] == "yes"


def test_long_poll_wakes_on_answer(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    qid = _ask(supervisor, cid, question="go?", questionType="free_text").json()["id"]

    def answer_later() -> None:
        time.sleep(0.6)
        reviewer.post(f"/questions/{qid}/answer", json={"answer": "go ahead"})

    helper = threading.Thread(target=answer_later)
    started = time.monotonic()
    helper.start()
    polled = supervisor.get(f"/questions/{qid}", params={"wait": 20})
    elapsed = time.monotonic() - started
    helper.join()
    assert polled.json()["status"] == "answered"
    assert polled.json()["answer"] == "go ahead"
    assert 0.5 <= elapsed < 5


def test_long_poll_times_out_pending(reviewer: httpx.Client, supervisor: httpx.Client) -> None:
    cid = start_contract(reviewer, supervisor)["id"]
    qid = _ask(supervisor, cid, question="go?", questionType="free_text").json()["id"]
    started = time.monotonic()
    polled = supervisor.get(f"/questions/{qid}", params={"wait": 0.6})
    assert polled.json()["status"] == "pending"
    assert 0.5 <= time.monotonic() - started < 3
