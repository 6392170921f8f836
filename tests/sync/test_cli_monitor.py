"""`contracts monitor` as a subprocess against a real server: live events in each format,
filters, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from typing import Any

import pytest

from tests.sync.cli_harness import Api, cli_subprocess
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)

READY = "Monitoring"


def start_monitor(*args: str) -> subprocess.Popen[str]:
    """`contracts monitor ARGS` once it is live (it says so on stderr)."""
    process = cli_subprocess("monitor", *args, env=os.environ)
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = process.stderr.readline()
            seen += line
            if READY in line:
                return process
            if not line:
                break
    process.kill()
    out, err = process.communicate()
    raise AssertionError(f"monitor did not become live: {seen}{err}\n{out}")


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"monitor did not stop: {err}\n{out}") from None
    assert "Traceback" not in err, err
    return process.returncode, out, err


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_json_prints_live_events_one_per_line(as_reviewer: ServerProcess, api: Api) -> None:
    process = start_monitor("--format", "json", "--max-events", "3")
    made = api.active()  # contract_created, task_created, status_changed
    code, out, _ = finish(process)
    assert code == 0
    events = json_lines(out)
    assert [e["type"] for e in events] == ["contract_created", "task_created", "status_changed"]
    assert all(e["contract_id"] == made["id"] for e in events)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert events[2]["new_status"] == "active" and events[2]["actor"]["role"] == "supervisor"


def test_ids_narrow_the_stream(as_reviewer: ServerProcess, api: Api) -> None:
    watched = api.contract()
    process = start_monitor(watched["id"], "--format", "json", "--max-events", "2")
    api.active()  # another contract: not shown
    api.call("PATCH", f"/contracts/{watched['id']}", name="renamed")
    api.call("POST", f"/contracts/{watched['id']}/status", targetStatus="failed", reason="x")
    code, out, _ = finish(process)
    assert code == 0
    events = json_lines(out)
    assert {e["contract_id"] for e in events} == {watched["id"]}
    assert [e["type"] for e in events] == ["contract_updated", "status_changed"]


def test_quiet_keeps_important_events(as_reviewer: ServerProcess, api: Api) -> None:
    process = start_monitor("--format", "json", "--quiet", "--max-events", "1")
    api.active()  # only the status change is important
    code, out, _ = finish(process)
    assert code == 0
    assert [e["type"] for e in json_lines(out)] == ["status_changed"]


def test_text_format_is_readable_lines(as_reviewer: ServerProcess, api: Api) -> None:
    process = start_monitor("--format", "text", "--max-events", "3")
    made = api.active()
    code, out, _ = finish(process)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert made["id"][:8] in lines[0] and "created the contract" in lines[0]
    assert "created → active" in lines[2] and "by alice" in lines[2]


def test_sigterm_stops_it_cleanly(as_reviewer: ServerProcess, api: Api) -> None:
    process = start_monitor("--format", "text")
    api.contract()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    code, out, _ = finish(process)
    assert code == 0
    assert "created the contract" in out


def test_duration_ends_it(as_reviewer: ServerProcess) -> None:
    process = start_monitor("--format", "json", "--duration", "1")
    code, _, _ = finish(process)
    assert code == 0


def test_a_bad_key_exits_1(as_reviewer: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTS_API_KEY", "wrong")
    process = cli_subprocess("monitor", "--format", "json", env=os.environ)
    code, _, err = finish(process)
    assert code == 1 and "UNAUTHORIZED" in err


def test_after_replays_what_happened_since(as_reviewer: ServerProcess, api: Api) -> None:
    made = api.active()
    logged = api.call("GET", f"/contracts/{made['id']}/events")["events"]
    after = str(logged[0]["seq"] - 1)
    process = cli_subprocess(
        "monitor",
        made["id"],
        "--format",
        "json",
        "--after",
        after,
        "--max-events",
        "3",
        env=os.environ,
    )
    code, out, _ = finish(process)
    assert code == 0
    assert [e["seq"] for e in json_lines(out)] == [e["seq"] for e in logged]


def test_into_a_pipe_the_default_is_text(as_reviewer: ServerProcess, api: Api) -> None:
    process = start_monitor("--max-events", "1")
    made = api.contract()
    code, out, _ = finish(process)
    assert code == 0
    assert "\x1b[" not in out and made["id"][:8] in out and "created the contract" in out
