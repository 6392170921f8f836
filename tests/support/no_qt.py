"""A pytest plugin (`-p tests.support.no_qt`) that makes PySide6, shiboken6 and qasync
unimportable, as on a machine where they were never installed: `pytest -p tests.support.no_qt
-m "not gui"` shows the non-GUI tests need no Qt (tests/test_architecture.py runs it)."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

BLOCKED = frozenset({"PySide6", "shiboken6", "qasync"})


class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.split(".", maxsplit=1)[0] in BLOCKED:
            raise ImportError(f"{fullname} is blocked: the non-GUI tests must not import Qt")
        return None


if not any(isinstance(finder, BlockQt) for finder in sys.meta_path):
    sys.meta_path.insert(0, BlockQt())
