"""The walls of DESIGN.md, checked by tools rather than by review."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A finder that makes the GUI, web and HTTP libraries unimportable, as on a machine
# where they were never installed.
_BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = {blocked!r}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked for this test")
            return None
    sys.meta_path.insert(0, Block())
    import importlib, pkgutil
    import {package}
    names = [m.name for m in pkgutil.walk_packages({package}.__path__, "{package}.")]
    for name in names:
        importlib.import_module(name)
    print(len(names))
    """
)


def _import_all_without(package: str, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    code = _BLOCKER.format(blocked=sorted(blocked), package=package)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_core_imports_without_qt_web_or_http_libraries() -> None:
    result = _import_all_without("core", {"PySide6", "qasync", "fastapi", "httpx", "starlette"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10  # every core module was really imported


def test_blocker_really_blocks() -> None:
    # Guards the test above: importing a blocked package must fail.
    result = _import_all_without("json", {"json"})
    assert result.returncode != 0
    assert "blocked for this test" in result.stderr


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_server_imports_without_qt_or_the_client_packages() -> None:
    result = _import_all_without("server", {"PySide6", "shiboken6", "qasync", "sync", "desktop"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_sync_imports_without_qt_or_the_web_server() -> None:
    blocked = {"PySide6", "shiboken6", "qasync", "desktop", "server", "fastapi", "uvicorn"}
    result = _import_all_without("sync", blocked | {"starlette"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_the_non_gui_tests_run_without_qt() -> None:
    """`pytest -m "not gui"` on a machine without PySide6: tests/support/no_qt.py makes Qt
    unimportable before anything is collected; collecting must neither fail nor import it,
    and must still find the non-GUI tests (the tests/conftest.py auto-mark keeps the rest)."""
    command = [sys.executable, "-m", "pytest", "-p", "tests.support.no_qt", "-p", "no:xdist"]
    command += ["-p", "no:cacheprovider", "--collect-only", "-q", "-m", "not gui", "tests"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(collected) > 500
    assert not any(line.startswith("tests/desktop/") for line in collected)
    assert "test_the_non_gui_tests_run_without_qt" in result.stdout
