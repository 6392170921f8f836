"""`--offline` opens the replica the last session used (issue 8, item 6).

A real demo session (`contract-desk --demo 2`: the embedded server process and simulated
supervisors) syncs contracts into `embedded_demo.db` and quits; then the real app starts
`--offline` in this process and the reviewer finds those contracts, and their history, in
the table and the detail pane. Before, `--offline` opened a new, empty `embedded.db`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import Desk, build_parser
from desktop.replicas import choose_replica, last_used, record_last_used
from desktop.settings import DeskPaths
from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_app import _desk

pytestmark = pytest.mark.timeout(240)


def _paths(home: Path) -> DeskPaths:
    return DeskPaths(home / "config", home / "data")


def _texts(model: object) -> list[str]:
    rows = model.rowCount()  # type: ignore[attr-defined]
    columns = model.columnCount()  # type: ignore[attr-defined]
    return [
        str(model.index(r, c).data())  # type: ignore[attr-defined]
        for r in range(rows)
        for c in range(columns)
    ]


def test_offline_after_a_demo_session_shows_its_contracts_and_history(
    qapp: QApplication,
    qtbot: QtBot,
    qloop: Loop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 30 s, as test_e2e_app gives its demo: on a loaded machine (parallel test workers) the
    # embedded server and the simulated supervisors need most of 15 s to make contracts.
    demo = _desk(tmp_path, "--demo", "2", "--quit-after", "30")
    assert demo.returncode == 0, demo.stderr[-3000:]
    replicas = tmp_path / "data" / "replicas"
    assert last_used(_paths(tmp_path)) == replicas / "embedded_demo.db"

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    args = build_parser().parse_args(["--data-dir", str(tmp_path), "--offline"])
    desk = Desk(qapp, args, _paths(tmp_path))
    # As `contract-desk` runs it: closing the window ends `Desk.run`, not the QApplication.
    quits = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)

    async def offline() -> int:
        running = asyncio.ensure_future(desk.run())
        await until(lambda: desk.window is not None and desk.window.bridge.loaded, 30)
        window = desk.window
        assert window is not None
        qtbot.addWidget(window)
        assert "embedded_demo.db" in window.windowTitle()
        window.show_contracts()
        table = window.contracts.table
        await until(lambda: table.model().rowCount() > 0, 10)
        # The reviewer clicks the first contract and reads its history in the detail pane.
        index = table.model().index(0, 0)
        table.scrollTo(index)
        point = table.visualRect(index).center()
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=point)
        await until(lambda: window.detail.snapshot is not None, 10)
        await until(lambda: window.detail.history_model.rowCount() > 0, 10)
        texts = _texts(window.detail.history_model)
        assert any(t.startswith("created the contract") for t in texts)
        assert window.status.connection.text().startswith("○ Offline")
        window.close()
        return await running

    try:
        assert qloop.run(offline(), 90) == 0
    finally:
        qapp.setQuitOnLastWindowClosed(quits)
    assert not (replicas / "embedded.db").exists()  # no new empty replica was made


def test_offline_picks_the_recorded_replica_then_the_newest(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    folder = paths.data / "replicas"
    folder.mkdir(parents=True)
    planned = folder / "embedded.db"
    assert choose_replica(paths, planned, offline=True, explicit=False).why == "new"
    older, newer = folder / "http___a_1.db", folder / "embedded_demo.db"
    older.write_bytes(b"x")
    newer.write_bytes(b"x")
    os.utime(older, (1_000, 1_000))
    choice = choose_replica(paths, planned, offline=True, explicit=False)
    assert (choice.path, choice.others) == (newer, (older,))
    record_last_used(paths, older)
    assert choose_replica(paths, planned, offline=True, explicit=False).path == older
    # --server / --demo name their own replica; an online session records its own.
    assert choose_replica(paths, planned, offline=True, explicit=True).path == planned
    assert choose_replica(paths, newer, offline=False, explicit=True).path == newer
    assert last_used(paths) == newer


def test_replica_by_hand_must_exist_and_be_offline(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    folder = paths.data / "replicas"
    folder.mkdir(parents=True)
    kept = folder / "embedded_demo.db"
    kept.write_bytes(b"x")
    assert choose_replica(paths, folder / "e.db", offline=True, explicit=False, chosen=kept).path
    with pytest.raises(ValueError, match="add --offline"):
        choose_replica(paths, folder / "e.db", offline=False, explicit=False, chosen=kept)
    missing = tmp_path / "nope.db"
    done = _desk(tmp_path, "--offline", "--replica", str(missing), timeout=60)
    err = done.stderr
    assert done.returncode == 2, err
    assert f"no replica at {missing}" in err and "embedded_demo.db" in err
    assert "Traceback" not in err
