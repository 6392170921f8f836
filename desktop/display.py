"""Can a window be shown at all? Checked before Qt is loaded.

A DISPLAY that points nowhere is found here, because Qt's xcb plugin would abort the
process with a message about libxcb instead of saying what is wrong.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping

NO_DISPLAY = (
    "contract-desk: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
    "Run it in a desktop session, or under a virtual display: xvfb-run contract-desk --demo\n"
    "(QT_QPA_PLATFORM=offscreen runs it without showing anything, e.g. for tests)."
)
DEAD_DISPLAY = (
    "contract-desk: cannot reach the X display {display!r} (DISPLAY points to no X server).\n"
    "Start it from a desktop session, fix or unset DISPLAY, or use a virtual display:\n"
    "xvfb-run -a contract-desk --demo"
)
X11_SOCKETS = "/tmp/.X11-unix/X{number}"
X11_TCP_BASE = 6000


def display_problem(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why no window can be shown, or None. Only Linux and the BSDs need X11/Wayland."""
    if not (platform.startswith("linux") or "bsd" in platform):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if (qpa and not qpa.startswith("xcb")) or env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return NO_DISPLAY
    if x11_reachable(display) is False:
        return DEAD_DISPLAY.format(display=display)
    return None


def x11_reachable(display: str, timeout: float = 1.0) -> bool | None:
    """Whether an X server answers at `display` ("[host]:N[.S]"); None when the form is
    one we do not probe (e.g. a launchd socket path) and Qt should try for itself."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit() or host.startswith("/"):
        return None
    if host in ("", "unix"):
        path = X11_SOCKETS.format(number=number)
        # Linux X servers also listen on the abstract socket of the same name.
        return _connects(socket.AF_UNIX, path, timeout) or (
            sys.platform.startswith("linux") and _connects(socket.AF_UNIX, "\0" + path, timeout)
        )
    return _connects(socket.AF_INET, (host, X11_TCP_BASE + int(number)), timeout)


def _connects(family: int, address: str | tuple[str, int], timeout: float) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect(address)
    except OSError:
        return False
    return True
