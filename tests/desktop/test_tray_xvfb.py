"""The tray notifier under a real X server with a real system tray (Xvfb + trayer).

The Qt program runs in a subprocess on the xcb platform (the test process itself runs Qt
offscreen, and a QApplication cannot change platform). It creates the `TrayNotifier`, checks
`QSystemTrayIcon.isSystemTrayAvailable()`, shows the icon with a badge, raises a
notification and prints what it saw as JSON; the test asserts on that output.

Skips, with the reason, where Xvfb or trayer is not installed (scripts/test installs both
when it can) or where Qt's xcb plugin cannot load its system libraries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MISSING = [name for name in ("Xvfb", "trayer") if shutil.which(name) is None]

pytestmark = [
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{' and '.join(MISSING)} not installed (apt-get install xvfb trayer): "
        "the tray test needs a real X server and system tray",
    ),
    pytest.mark.timeout(120),
]

PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon
    from desktop.notify import (BADGE_COLOR, Alert, AlertGroup, AlertKind, TrayNotifier,
                                WaitingItem)

    class Host:
        def __init__(self):
            self.calls = []
        def open_contract(self, contract_id):
            self.calls.append(["open", contract_id])
        def show_window(self):
            self.calls.append(["show", ""])
        def toggle_mute(self):
            self.calls.append(["mute", ""])
        def quit(self):
            self.calls.append(["quit", ""])

    def pump(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    app = QApplication(sys.argv)
    seen = {"platform": app.platformName()}
    deadline = time.monotonic() + 15  # trayer takes the tray selection shortly after start
    while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        pump(0.1)
    seen["available"] = QSystemTrayIcon.isSystemTrayAvailable()
    seen["supports_messages"] = QSystemTrayIcon.supportsMessages()
    host = Host()
    tray = TrayNotifier(host)
    items = [WaitingItem("c1", "Billing", "question"), WaitingItem("c2", "Search", "stale")]
    tray.set_waiting(items, None)
    pump(1.0)
    seen["visible"] = tray.tray.isVisible()
    seen["geometry_valid"] = tray.tray.geometry().isValid()
    seen["badge_count"] = tray.count
    image = tray.tray.icon().pixmap(64, 64).toImage()
    seen["badge_drawn"] = image.pixelColor(image.width() - 6, 14) == BADGE_COLOR
    seen["tooltip"] = tray.tray.toolTip()
    seen["menu"] = [a.objectName() for a in tray.menu.actions() if a.objectName()]
    group = AlertGroup((Alert(AlertKind.QUESTION, "c1", "Billing", "Which database?"),
                        Alert(AlertKind.STALE, "c2", "Search", "quiet")))
    tray.present(group)
    pump(0.5)
    seen["message"] = group.message
    seen["balloons"] = [w.metaObject().className() for w in app.topLevelWidgets()
                        if w.isVisible() and "Balloon" in w.metaObject().className()]
    tray.tray.messageClicked.emit()
    seen["clicked"] = host.calls
    tray.close()
    pump(0.2)
    print("SEEN " + json.dumps(seen), flush=True)
    """
)


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never clash."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.kill()
        xvfb.wait()
        pytest.skip("Xvfb did not start (no display number reported)")
    return xvfb, f":{number}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def display() -> Iterator[str]:
    """A virtual X display with trayer running on it as the system tray."""
    xvfb, name = _start_xvfb()
    env = {**os.environ, "DISPLAY": name}
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--expand", "true", "--SetDockType", "true"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        if trayer.poll() is not None:
            pytest.skip(f"trayer exited at once ({trayer.returncode}) on {name}")
        yield name
    finally:
        _stop(trayer)
        _stop(xvfb)


def _qt_env(display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    # No session bus: Qt uses the XEmbed tray that trayer provides, not a D-Bus watcher.
    env["DBUS_SESSION_BUS_ADDRESS"] = "disabled:"
    return env


def test_tray_icon_badge_menu_and_notification_on_a_real_tray(display: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=_qt_env(display),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0 and "Could not load the Qt platform plugin" in done.stderr:
        pytest.skip(
            "Qt's xcb plugin cannot load its system libraries (install libxcb-cursor0, "
            "libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0 …): " + done.stderr[-500:]
        )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(out for out in done.stdout.splitlines() if out.startswith("SEEN "))
    seen = json.loads(line.removeprefix("SEEN "))
    assert seen["platform"] == "xcb"
    assert seen["available"] is True, "trayer did not provide a system tray"
    assert seen["visible"] is True
    assert seen["geometry_valid"] is True  # embedded into trayer's area
    assert seen["badge_count"] == 2
    assert seen["badge_drawn"] is True  # the count is painted onto the tray's icon
    assert seen["tooltip"] == "Contract Desk: 2 waiting"
    assert seen["menu"] == ["trayOpen", "trayItem:c1", "trayItem:c2", "trayMute", "trayQuit"]
    assert seen["supports_messages"] is True
    assert seen["message"] == "2 contracts need you: Billing (question), Search (stale)"
    # Without a notification daemon Qt shows the message as its own balloon by the icon.
    assert seen["balloons"] == ["QBalloonTip"]
    assert seen["clicked"] == [["open", "c1"]]
