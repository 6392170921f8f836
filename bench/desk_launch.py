"""`bench_desktop.py --launch`: the real `contract-desk --demo` as `make run` starts it.

From the moment the process is started (this script's clock) to the lines the desk logs with
-v: the window's first paint, the embedded server answering, and live data (the sync service
caught up and following the monitor). Twice: a first start (no data yet: the server makes
its key and migrates a new database) and a second start (everything kept). Each in fresh
user folders with an in-memory-free key store, offscreen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

MILESTONES = {
    "first paint": "startup: first paint after",
    "server answered": "startup: local server answered after",
    "live data": "startup: live data after",
}


def launch_once(home: Path, supervisors: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env.update(
        QT_QPA_PLATFORM=env.get("QT_QPA_PLATFORM", "offscreen"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    command = [sys.executable, "-m", "desktop.app", "--demo", str(supervisors), "-v"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, text=True)
    seen: dict[str, float] = {}
    done = threading.Event()
    assert process.stderr is not None
    reader = threading.Thread(target=_read, args=(process.stderr, started, seen, done))
    reader.start()
    done.wait(180)
    process.terminate()
    process.wait(60)
    reader.join(10)
    return seen


def _read(stream: IO[str], started: float, seen: dict[str, float], done: threading.Event) -> None:
    for line in stream:
        for name, text in MILESTONES.items():
            if text in line and name not in seen:
                seen[name] = time.perf_counter() - started
        if len(seen) == len(MILESTONES):
            done.set()
    done.set()


def main(supervisors: int = 2) -> int:
    home = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    load = os.getloadavg()[0]
    print(f"contract-desk --demo {supervisors}, offscreen; load average at start {load:.1f}")
    for run in ("first start (new data)", "second start (kept data)"):
        seen = launch_once(home, supervisors)
        figures = "  ".join(f"→ {name} {seen.get(name, float('nan')):.2f} s" for name in MILESTONES)
        print(f"{run:26} {figures}")
    print("target: first paint ≤ 2 s (the window shows 'Starting the local server…' meanwhile)")
    return 0
