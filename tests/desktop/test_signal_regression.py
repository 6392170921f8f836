"""PySide6 6.12.0 on CPython 3.11 drops a reference to `True` on every signal emit and
crashes the interpreter after a few hundred emits. We pin PySide6 below 6.12; this test
fails (or crashes) if a broken build comes back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_EMIT_10K = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Source(QObject):
        changed = Signal(bool)

    app = QCoreApplication([])
    source = Source()
    received = {"count": 0, "all_true": True}

    def on_changed(value):
        received["count"] += 1
        received["all_true"] = received["all_true"] and value is True

    source.changed.connect(on_changed)
    before = sys.getrefcount(True)
    for _ in range(10_000):
        source.changed.emit(True)
    after = sys.getrefcount(True)
    print(received["count"], received["all_true"], after - before)
    """
)


def test_ten_thousand_bool_signal_emits_keep_the_interpreter_alive() -> None:
    # A subprocess, so a crash shows up as a failed test rather than a dead test run.
    result = subprocess.run(
        [sys.executable, "-c", _EMIT_10K], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"interpreter died: {result.returncode} {result.stderr[-2000:]}"
    count, all_true, refcount_drift = result.stdout.split()
    assert count == "10000"
    assert all_true == "True"
    # The broken build loses one reference per emit; a healthy one stays about level.
    assert abs(int(refcount_drift)) < 100


def test_installed_pyside6_is_below_the_broken_release() -> None:
    import PySide6

    major, minor = (int(part) for part in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), PySide6.__version__
