"""Beginning and ending the desk's process: when was the window first painted, and
SIGINT/SIGTERM handled as File ▸ Quit.

Signals and Qt: Python runs a signal handler only when the interpreter gets control, and
Qt's event loop may sit in C++ for as long as nothing happens. `QuitOnSignals` therefore
points `signal.set_wakeup_fd` at a socket a `QSocketNotifier` watches, so a signal wakes
the event loop at once and the quit runs as an ordinary Qt callback (no traceback from a
KeyboardInterrupt raised in the middle of a slot).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSocketNotifier, QTimer


class FirstPaint(QObject):
    """Calls `then()` once, right after the watched widget's first paint."""

    def __init__(self, then: Callable[[], None]) -> None:
        super().__init__()
        self.then = then
        self.painted = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.painted:
            self.painted = True
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.then)
        return False


class QuitOnSignals(QObject):
    """SIGINT and SIGTERM call `quit(name)` from the event loop; `restore()` undoes it."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, quit: Callable[[str], None]) -> None:
        super().__init__()
        self.quit = quit
        self._received: list[int] = []
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum: int, _frame: object) -> None:
        self._received.append(signum)  # the wakeup byte brings the loop to `_wake`

    def _wake(self) -> None:
        try:
            while self._reader.recv(64):
                pass
        except OSError:
            pass
        received, self._received = self._received, []
        for signum in received:
            self.quit(signal.Signals(signum).name)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(self._old_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
