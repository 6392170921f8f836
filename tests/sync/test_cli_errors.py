"""`contracts` exit codes, error messages, configuration and login.

Offline cases fake the network with httpx.MockTransport (main's `transport` seam); the
login and "wrong key" cases use the real server.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend

from sync.config import config_path, credentials_path, read_config_file, resolve
from tests.core.factories import make_contract
from tests.sync.cli_harness import Pipe, isolate_user_dirs, run_cli
from tests.sync.server_fixture import ServerProcess, free_port

pytestmark = pytest.mark.timeout(120)

URL = "https://desk.example"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    monkeypatch.setenv("CONTRACTS_API_URL", URL)
    monkeypatch.setenv("CONTRACTS_API_KEY", "secret")


def refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def test_connection_refused_exits_1_with_the_reason(offline: None) -> None:
    result = run_cli("list", transport=httpx.MockTransport(refusing))
    assert result.code == 1
    assert "CONNECTION_FAILED" in result.err and "Connection refused" in result.err
    assert URL in result.err and result.out == ""


def test_connection_refused_by_a_real_closed_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    env = {**os.environ, "CONTRACTS_API_URL": f"http://127.0.0.1:{free_port()}"}
    env["CONTRACTS_API_KEY"] = "k"
    done = subprocess.run(
        [sys.executable, "-m", "sync.cli", "show", "x" * 36, "--timeout", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "CONNECTION_FAILED" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "UNAUTHORIZED"),
        (403, "FORBIDDEN"),
        (404, "CONTRACT_NOT_FOUND"),
        (409, "VERSION_CONFLICT"),
    ],
)
def test_server_errors_exit_1_with_code_and_message(offline: None, status: int, code: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"code": code, "message": f"the {code} message"})

    result = run_cli("pause", "x" * 36, transport=httpx.MockTransport(answer))
    assert result.code == 1
    assert result.err.strip() == f"contracts: error: {code}: the {code} message"


def test_a_broken_server_answer_exits_1(offline: None) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    result = run_cli("questions", transport=httpx.MockTransport(answer))
    assert result.code == 1 and "HTTP_502" in result.err


def test_cli_writes_carry_an_idempotency_key_and_are_retried(offline: None) -> None:
    seen: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("reset")
        return httpx.Response(200, json={"previousStatus": "paused", "newStatus": "active"})

    result = run_cli("resume", "x" * 36, transport=httpx.MockTransport(flaky))
    assert result.code == 0, result.err
    assert len(seen) == 2
    keys = {r.headers.get("Idempotency-Key") for r in seen}
    assert len(keys) == 1 and None not in keys


def test_list_from_a_mock_server(offline: None) -> None:
    contract = make_contract(id="abcdef0123456789", name="Mocked")

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer secret"
        assert request.url.params["status"] == "active"
        return httpx.Response(200, json={"contracts": [contract.to_wire()], "total": 1})

    result = run_cli("list", "--status", "active", transport=httpx.MockTransport(answer))
    assert result.code == 0 and "abcdef01  Mocked" in result.out


def test_usage_errors_exit_2(offline: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli().code == 2
    assert run_cli("show").code == 2
    assert run_cli("monitor", "--max-events", "0").code == 2
    assert run_cli("list", "--timeout", "-1").code == 2
    assert "usage:" in capsys.readouterr().err
    assert run_cli("--help").code == 0


def test_no_configuration_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    result = run_cli("list")
    assert result.code == 2 and "contracts login" in result.err
    monkeypatch.setenv("CONTRACTS_API_URL", "ftp://nowhere")
    assert run_cli("list").code == 2
    monkeypatch.setenv("CONTRACTS_API_URL", URL)
    missing_key = run_cli("list")
    assert missing_key.code == 2 and "no API key" in missing_key.err


def test_options_beat_environment_beats_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    config_path().parent.mkdir(parents=True)
    config_path().write_text('api_url = "https://from-file"\napi_key = "file-key"\n')
    assert resolve(None, None).api_url == "https://from-file"
    assert resolve(None, None).key_source == "config"
    monkeypatch.setenv("CONTRACTS_API_URL", "https://from-env/")
    monkeypatch.setenv("CONTRACTS_API_KEY", "env-key")
    settings = resolve(None, None)
    assert (settings.api_url, settings.api_key) == ("https://from-env", "env-key")
    settings = resolve("https://from-option", "option-key")
    assert (settings.api_url, settings.api_key, settings.key_source) == (
        "https://from-option",
        "option-key",
        "option",
    )


def test_options_after_the_command_work_too(offline: None) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"contracts": [], "total": 0})

    transport = httpx.MockTransport(answer)
    assert run_cli("list", "--api-url", "https://other", transport=transport).code == 0
    assert run_cli("--api-key", "k2", "list", transport=transport).code == 0
    assert seen[0].url.host == "other"
    assert seen[1].headers["Authorization"] == "Bearer k2"


# login ----------------------------------------------------------------------------------


def test_login_stores_the_key_in_a_0600_file_and_the_url_in_the_config(
    sync_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    result = run_cli(
        "login", "--api-url", sync_server.base_url, "--api-key", sync_server.reviewer_key
    )
    assert result.code == 0, result.err
    stored = credentials_path()
    assert str(stored).startswith(str(tmp_path))
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {sync_server.base_url: sync_server.reviewer_key}
    assert read_config_file()["api_url"] == sync_server.base_url
    assert sync_server.reviewer_key not in config_path().read_text()
    # later commands need neither options nor environment
    listed = run_cli("list", "--format", "json")
    assert listed.code == 0 and isinstance(listed.json(), list)


def test_login_reads_the_key_from_stdin_and_keeps_other_settings(
    sync_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    config_path().parent.mkdir(parents=True)
    config_path().write_text('api_url = "https://old"\ntheme = "dark"\n\n[desktop]\nx = 1\n')
    result = run_cli(
        "login", "--api-url", sync_server.base_url, stdin=Pipe(sync_server.admin_key + "\n")
    )
    assert result.code == 0, result.err
    config = read_config_file()
    assert config["api_url"] == sync_server.base_url
    assert config["theme"] == "dark" and config["desktop"] == {"x": 1}


def test_login_with_a_wrong_key_stores_nothing(
    sync_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    result = run_cli("login", "--api-url", sync_server.base_url, "--api-key", "wrong")
    assert result.code == 1 and "UNAUTHORIZED" in result.err
    assert not credentials_path().exists() and not config_path().exists()


def test_login_without_check_and_url_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    assert run_cli("login", "--api-key", "k").code == 2  # no URL anywhere
    assert run_cli("login", "--api-url", "nowhere", "--api-key", "k").code == 2
    assert run_cli("login", "--api-url", URL, stdin=Pipe("")).code == 2  # no key
    done = run_cli("login", "--api-url", URL + "/", "--api-key", "k", "--no-check")
    assert done.code == 0
    assert resolve(None, None).api_key == "k"


def test_an_answer_that_is_not_the_api_exits_1(offline: None) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"contracts": [{"id": 5}], "total": 1})

    result = run_cli("list", transport=httpx.MockTransport(answer))
    assert result.code == 1 and "unexpected answer" in result.err


def test_a_bug_is_one_line_not_a_traceback(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr("sync.render.contracts_table", explode)
    answer = httpx.Response(200, json={"contracts": [], "total": 0})
    result = run_cli("list", transport=httpx.MockTransport(lambda request: answer))
    assert result.code == 1
    assert result.err.startswith("contracts: internal error: RuntimeError: boom")


@pytest.mark.parametrize(
    "command",
    [
        "login",
        "list",
        "show",
        "health",
        "export",
        "pause",
        "resume",
        "restart-supervisor",
        "advance",
        "questions",
        "answer",
        "cleanup",
        "batch",
        "monitor",
    ],
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(command, "--help").code == 0
    text = capsys.readouterr().out
    assert f"usage: contracts {command}" in text and "--api-url" in text


class MemoryKeyring(KeyringBackend):
    """A usable OS keyring stand-in."""

    priority = 1

    def __init__(self) -> None:  # (the base's __init__ only reads KEYRING_PROPERTY_* env)
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def test_login_prefers_a_usable_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)
    memory = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(memory)
    try:
        result = run_cli("login", "--api-url", URL, "--api-key", "in-keyring", "--no-check")
        assert result.code == 0 and "keyring" in result.err
        assert memory.secrets == {("contract-desk", URL): "in-keyring"}
        assert not credentials_path().exists()
        settings = resolve(None, None)
        assert (settings.api_key, settings.key_source) == ("in-keyring", "keyring")
    finally:
        keyring.set_keyring(previous)
