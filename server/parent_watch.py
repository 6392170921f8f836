"""`serve --parent-pid PID`: the server ends with the process that started it.

The desktop starts its embedded server as a child process. However the desktop ends
(File ▸ Quit, SIGTERM, Ctrl+C, `kill -9`, a crash), the server must not outlive it. Two
guards, because neither alone covers every platform and every race:

- on Linux the kernel sends us SIGTERM when the parent dies (`prctl(PR_SET_PDEATHSIG)`),
  which uvicorn turns into its graceful shutdown;
- everywhere, a poll notices that we were re-parented (`os.getppid()` is no longer the
  parent's pid) and asks the server to exit.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from typing import Any

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel for SIGTERM when our parent ends (Linux). Answers whether it is set.

    The parent may already have ended before the request took effect: then we end now."""
    armed = sys.platform.startswith("linux") and _prctl_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:
        log.warning("the parent process %d is gone: stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)
    return armed


def _prctl_death_signal(signum: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


async def exit_with_parent(parent_pid: int, server: Any) -> None:
    """Set `server.should_exit` once `parent_pid` is no longer our parent."""
    while os.getppid() == parent_pid and not server.should_exit:  # noqa: ASYNC110
        await asyncio.sleep(POLL_SECONDS)
    if not server.should_exit:
        log.warning("the parent process %d is gone: stopping", parent_pid)
        server.should_exit = True
