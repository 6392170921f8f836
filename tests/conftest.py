"""Suite-wide pieces: the shared fixtures of tests/support, and the `gui` mark.

Every test that needs Qt is marked `gui` here (no test has to remember it): tests under
tests/desktop, tests that use `qtbot`/`qapp`, and tests whose module imported PySide6. So
`pytest -m "not gui"` runs the core, store, server and sync tests, and on a machine
without PySide6 (CI checks it: tests/test_architecture.py) tests/desktop is not even
collected and pytest-qt stands aside.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.asgi import asgi_app, asgi_client, asgi_config, asgi_db_url
from tests.support.databases import drop_templates
from tests.support.server import fast_server, fresh_server, sync_server

__all__ = [
    "asgi_app",
    "asgi_client",
    "asgi_config",
    "asgi_db_url",
    "fast_server",
    "fresh_server",
    "sync_server",
]

DESKTOP_TESTS = Path(__file__).resolve().parent / "desktop"
QT_FIXTURES = {"qtbot", "qapp", "qtlog", "qtmodeltester", "qloop"}


def qt_available() -> bool:
    try:
        return importlib.util.find_spec("PySide6") is not None
    except ImportError:  # a finder that blocks it (tests/support/no_qt.py)
        return False


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Without PySide6 pytest-qt would stop the run at configure time ("requires either
    # PySide6 ..."); its ini options stay registered, so pyproject's settings still parse.
    if not qt_available():
        plugin = pluginmanager.get_plugin("pytest-qt")
        if plugin is not None:
            pluginmanager.unregister(plugin)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if not qt_available() and collection_path.is_relative_to(DESKTOP_TESTS):
        return True
    return None


def _imports_qt(module: ModuleType | None) -> bool:
    if module is None:
        return False
    for value in vars(module).values():
        name = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if isinstance(name, str) and name.split(".")[0] in {"PySide6", "shiboken6"}:
            return True
    return False


def needs_qt(item: pytest.Item) -> bool:
    path = Path(str(item.path))
    if path.is_relative_to(DESKTOP_TESTS):
        return True
    if QT_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return _imports_qt(getattr(item, "module", None))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_qt(item):
            item.add_marker(pytest.mark.gui)


def pytest_sessionfinish() -> None:
    drop_templates()
