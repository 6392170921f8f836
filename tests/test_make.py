"""`make test-fast` leaves out the PostgreSQL, tray and notification tests and installs
nothing; `make test` says what it installs with apt before it does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, VENV=str(Path(sys.executable).parents[1]), **extra)
    env.pop("CONTRACTS_TEST_PG_URL", None)
    return env


def test_fast_leaves_out_postgresql_tray_and_notifications() -> None:
    done = subprocess.run(
        ["scripts/test", "--fast", "--collect-only", "tests/desktop", "tests/server"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(collected) > 100
    assert not [t for t in collected if "[postgresql" in t or "test_tray_xvfb" in t]
    assert not [t for t in collected if "test_notify.py" in t]
    assert "apt-get" not in done.stdout


def test_the_full_run_says_what_it_installs_first(tmp_path: Path) -> None:
    """With Xvfb and trayer not on PATH (as on a fresh machine) and root (or sudo) allowed
    to install, the packages are named before anything happens (dry run: nothing is)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "env", "id", "grep", "sudo", "dirname", "cat"):
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    done = subprocess.run(
        ["scripts/test", "--collect-only", "tests/test_architecture.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(PATH=str(tools), TEST_DEPS_DRY_RUN="1"),
        timeout=240,
        check=False,
    )
    out = done.stdout
    if "not root, no sudo" in out:
        pytest.skip("neither root nor password-less sudo here: nothing would be installed")
    assert "installing with apt-get:" in out and "xvfb trayer" in out, out
    assert out.index("apt-get") < out.index("test_architecture"), out
