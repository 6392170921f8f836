"""`contract-server` as a command: keys, migrate, argument and database errors, --demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from server.cli import main
from tests.server.conftest import Server, cli, free_port

KEY = re.compile(r"^cdk_[A-Za-z0-9_-]{40,}$")


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`main(args)` in-process, in a thread (its asyncio.run must not touch the test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(main, list(args)).result()
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'fresh' / 'keys.db'}"  # folder and schema made on demand
    code, out, err = run_main(
        capsys, "keys", "create", "--owner", "carol", "--role", "reviewer", "--db", db
    )
    assert code == 0, err
    key = out.strip()
    assert KEY.match(key) and out == key + "\n"
    code, listed, _ = run_main(capsys, "keys", "list", "--db", db)
    assert code == 0
    assert "carol" in listed and "reviewer" in listed
    assert key not in listed and key[4:] not in listed
    prefix = key[4:12]
    assert prefix in listed
    code, _, err = run_main(capsys, "keys", "revoke", prefix, "--db", db)
    assert code == 0, err
    _, as_json, _ = run_main(capsys, "keys", "list", "--json", "--db", db)
    assert '"revoked": "' in as_json
    code, _, err = run_main(capsys, "keys", "revoke", prefix, "--db", db)
    assert code == 1 and "No active key" in err
    assert "Traceback" not in err


def test_migrate(tmp_path: Path) -> None:
    done = cli("migrate", "--db", f"sqlite:///{tmp_path / 'm.db'}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "create", "--owner", "x", "--role", "wizard"],
        ["keys", "create", "--role", "admin"],
        ["serve", "--port", "abc"],
        ["serve", "--port", "70000"],
        ["serve", "--workers", "0"],
        ["serve", "--workers", "2", "--db", "sqlite:///x.db"],
        ["migrate", "--db", "mysql://localhost/x"],
        ["migrate", "--db", "sqlite:///:memory:"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert err.strip() and out == ""
    assert "Traceback" not in err


def test_blank_owner_exit_2(tmp_path: Path) -> None:
    done = cli(
        "keys",
        "create",
        "--owner",
        " ",
        "--role",
        "admin",
        "--db",
        f"sqlite:///{tmp_path / 'k.db'}",
    )
    assert done.returncode == 2 and "owner" in done.stderr
    _no_traceback(done)


def test_bad_config_file_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[contracts]\nstale_threshold_minutes = 'soon'\n")
    done = cli("serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config))
    assert done.returncode == 2 and "stale_threshold_minutes" in done.stderr
    _no_traceback(done)


def test_unreachable_database_exit_1() -> None:
    done = cli("migrate", "--db", "postgresql://nobody:secret@127.0.0.1:1/none", timeout=60)
    assert done.returncode == 1
    assert "Cannot" in done.stderr and "secret" not in done.stderr
    _no_traceback(done)
    keys = cli("keys", "list", "--db", "postgresql://nobody@127.0.0.1:1/none", timeout=60)
    assert keys.returncode == 1 and "Cannot open database" in keys.stderr


def test_default_database_in_user_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    done = cli("keys", "create", "--owner", "dora", "--role", "admin", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "contract-desk" / "contracts.db").exists()


def test_serve_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    port = free_port()
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--db",
                db,
                "--port",
                str(port),
                "--demo",
                "2",
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 20
        healthy = False
        while time.monotonic() < deadline and not healthy:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)
        assert healthy, log.read_text()
        saved = (tmp_path / "data" / "contract-desk" / "demo-keys.json").stat()
        assert saved.st_mode & 0o077 == 0  # the demo keys file is private
        listed = cli("keys", "list", "--db", db).stdout
        assert "supervisor" in listed and "reviewer" in listed
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert "Traceback" not in log.read_text()


def test_serve_workers_on_postgresql(server: Server, tmp_path: Path) -> None:
    if server.backend != "postgresql":
        pytest.skip("--workers needs PostgreSQL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    port = free_port()
    log = tmp_path / "workers.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--db", server.db_url,
             "--port", str(port), "--workers", "2", "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {server.keys['reviewer']}"}
        created = httpx.post(
            base + "/api/v1/contracts",
            json={"name": "from a worker", "contractType": "simple"},
            headers=headers,
        )
        assert created.status_code == 201
        seen = server.client("reviewer").get(f"/contracts/{created.json()['id']}")
        assert seen.status_code == 200  # one database behind every process
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in log.read_text()
