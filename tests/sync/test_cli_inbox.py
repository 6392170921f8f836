"""`contracts inbox` against a real server, run in-process: the table fits the terminal,
the JSON is the API's `{items}`, and a wrong key is a one-line error."""

from __future__ import annotations

import pytest

from tests.sync.cli_harness import Api, Terminal, run_cli
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)


def _waiting(api: Api) -> tuple[dict[str, object], str]:
    """An active contract whose supervisor asked a question: (contract, question id)."""
    contract = api.active(name="Inbox " + "x" * 80)
    asked = api.call(
        "POST",
        f"/contracts/{contract['id']}/questions",
        "supervisor",
        question="Which database?",
        questionType="free_text",
    )
    return contract, str(asked["id"])


def test_the_table_lists_what_waits_and_fits_80_columns(
    as_reviewer: ServerProcess, api: Api
) -> None:
    contract, question = _waiting(api)
    result = run_cli("inbox")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["WAITING", "KIND", "CONTRACT", "NAME", "PHASE", "ITEM"]
    assert all(len(line) <= 80 for line in lines), result.out
    row = next(line for line in lines if str(contract["id"])[:8] in line)
    assert "question" in row and "plan" in row and "…" in row
    assert question[:8] in row


def test_json_is_the_apis_items_oldest_first(as_reviewer: ServerProcess, api: Api) -> None:
    first, question = _waiting(api)
    second, _ = _waiting(api)
    result = run_cli("inbox", "--format", "json")
    assert result.code == 0, result.err
    items = result.json()["items"]
    assert items == api.call("GET", "/inbox")["items"]
    mine = [i for i in items if i["contractId"] in (first["id"], second["id"])]
    assert [i["contractId"] for i in mine] == [first["id"], second["id"]]
    assert mine[0]["id"] == f"question:{question}"
    assert mine[0]["kind"] == "question"
    snoozed_too = run_cli("inbox", "--include-snoozed", "--format", "json")
    assert snoozed_too.json()["items"] == items


def test_an_unknown_key_is_one_line_without_a_traceback(
    as_reviewer: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACTS_API_KEY", "not-a-key")
    result = run_cli("inbox")
    assert result.code == 1
    assert result.err.strip().startswith("contracts: error: UNAUTHORIZED")
    assert len(result.err.strip().splitlines()) == 1


def test_advance_reviews_the_evidence_and_confirms_the_request_reviewed(
    as_reviewer: ServerProcess, api: Api
) -> None:
    made = api.active()
    api.call(
        "POST",
        f"/contracts/{made['id']}/deliverables",
        "supervisor",
        deliverableId="plan-document",
        url="https://git.example.org/plan.md",
        summary="## Plan\n\n1. parse\n2. load",
    )
    waiting = api.get(made["id"])
    assert waiting["pendingConfirmation"] is not None  # the gate asked for the advance
    result = run_cli("advance", made["id"], "--phase", "execute", stdin=Terminal("y\n"))
    assert result.code == 0, result.err
    assert "      https://git.example.org/plan.md" in result.out
    assert "      1. parse" in result.out
    assert api.get(made["id"])["phase"] == "execute"
    again = run_cli("advance", made["id"], "--phase", "plan", "--yes")  # back: no request open
    assert again.code == 0, again.err
