"""Entry point of the desktop application (`contract-desk`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    # The desktop application is the last piece to be built (after server and sync).
    # Until then the command says so clearly instead of failing silently.
    print(
        "contract-desk: the desktop application is coming and is not built yet.\n"
        "The domain core and the store exist; see README.md 'Status'.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
