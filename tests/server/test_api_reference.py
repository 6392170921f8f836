"""The API reference in the repository (`docs/api.md`) matches the running server: every
operation in `/openapi.json` is listed there and it lists no other; `/docs` is served."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.server.conftest import Server

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = "GET|POST|PUT|PATCH|DELETE"
PREFIX = "/api/v1"


def _operation(method: str, path: str) -> tuple[str, str]:
    return method.upper(), re.sub(r"\{[^}]+\}", "{}", path.removeprefix(PREFIX))


def documented() -> set[tuple[str, str]]:
    """`GET /contracts/{id}` or `POST|DELETE /x/{id}` in code spans of the reference."""
    found = set()
    pattern = rf"`((?:{METHODS})(?:\|(?:{METHODS}))*) (/[^`\s]*)"
    for match in re.finditer(pattern, REFERENCE.read_text(encoding="utf-8")):
        for method in match.group(1).split("|"):
            found.add(_operation(method, match.group(2)))
    return found


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_the_reference_lists_exactly_the_servers_operations(server: Server) -> None:
    anon = server.anonymous()
    spec = anon.get("/openapi.json").json()
    offered = {
        _operation(method, path)
        for path, operations in spec["paths"].items()
        if path.startswith(PREFIX) or path in ("/health", "/metrics")
        for method in operations
    }
    listed = documented()
    assert offered - listed == set(), "offered by the server, missing from docs/api.md"
    assert listed - offered == set(), "in docs/api.md, not offered by the server"


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_docs_page_is_served(server: Server) -> None:
    page = server.anonymous().get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text and "swagger" in page.text.lower()
