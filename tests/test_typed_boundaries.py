"""No `dict[str, Any]` crosses a package boundary for a request, an answer or an event.

The boundaries checked: the route handlers of the server (what the wire gets), the API
client and the sync service (what the CLI and the desktop get), and the ports the desktop
codes against. A parameter or return annotated as an untyped JSON object
(`dict[str, Any]`, `Mapping[str, Any]`, or an alias of them) fails this test unless it is
in `ALLOWED`, each with the reason it is still untyped. Shrink the list; never grow it
without a reason a reviewer accepts.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi.routing import APIRoute

import server.routes
from sync.client import ContractClient
from sync.service import SyncService

# The untyped JSON object, as written in annotations (strings: `from __future__`).
UNTYPED = re.compile(r"\b(dict|Mapping)\[str, Any\]|\bJson\b|\bRawBody\b")

ALLOWED: dict[str, str] = {
    # Bodies the server parses by hand on purpose.
    "server.routes.supervisors.heartbeat(body)": (
        "the heartbeat hot path parses by hand (Heartbeat.parse, thousands a second); "
        "the schema is declared with openapi_extra"
    ),
    "server.routes.supervisors.save_state(body)": (
        "SupervisorPersistentState.parse turns pydantic's errors into VALIDATION_FAILED "
        "with the specification's wording"
    ),
    # Supervisor-side calls: the specification's free-form objects (to be typed next).
    "ContractClient.send_heartbeat(heartbeat)": "a heartbeat as the supervisor built it",
    "ContractClient.send_heartbeats(heartbeats)": "a daemon's batch as built",
    "ContractClient.save_supervisor_state(state)": "the specification's free-form state",
    "ContractClient.create_contract(phase_config)": (
        "a custom phase config: parse_phase_config checks it in core on the server"
    ),
    # The desktop's batch wizard speaks the batch body/answer (BatchBody / BatchResult next).
    "DeskBackend.batch_preview(params)": "next: BatchBody",
    "DeskBackend.batch_preview(return)": "next: BatchResult",
    "BatchActions.run_batch(params)": "next: BatchBody",
}


def _annotations(fn: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    signature = inspect.signature(fn)
    for name, parameter in signature.parameters.items():
        if parameter.annotation is not inspect.Parameter.empty:
            yield name, str(parameter.annotation)
    if signature.return_annotation is not inspect.Signature.empty:
        yield "return", str(signature.return_annotation)


def _offences(label: str, fn: Callable[..., Any]) -> list[str]:
    return [
        f"{label}({where})"
        for where, text in _annotations(fn)
        if UNTYPED.search(text) and f"{label}({where})" not in ALLOWED
    ]


def _methods(owner: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, member in inspect.getmembers(owner):
        if name.startswith("_") or not callable(member):  # private: not a boundary
            continue
        if isinstance(member, type):
            continue
        yield f"{owner.__name__}.{name}", member


def _route_modules() -> Iterator[ModuleType]:
    """Every module of `server.routes`: a route module added later is checked too."""
    for info in pkgutil.iter_modules(server.routes.__path__):
        yield importlib.import_module(f"server.routes.{info.name}")


def _wire_boundaries() -> Iterator[tuple[str, Callable[..., Any]]]:
    for module in _route_modules():
        router = getattr(module, "router", None)
        for route in router.routes if router is not None else ():
            if isinstance(route, APIRoute):
                fn = route.endpoint
                yield f"{fn.__module__}.{fn.__name__}", fn
    yield from _methods(ContractClient)
    yield from _methods(SyncService)


def _desk_boundaries() -> Iterator[tuple[str, Callable[..., Any]]]:
    from desktop import dialog_ports, ports  # Qt: only in the gui test

    for module in (ports, dialog_ports):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                yield from _methods(cls)


def _assert_typed(boundaries: Iterator[tuple[str, Callable[..., Any]]]) -> None:
    found = [o for label, fn in boundaries for o in _offences(label, fn)]
    assert not found, "untyped JSON objects at a boundary (type them, see ALLOWED):\n" + (
        "\n".join(found)
    )


def test_no_untyped_json_object_crosses_the_wire() -> None:
    _assert_typed(_wire_boundaries())


@pytest.mark.gui
def test_no_untyped_json_object_reaches_the_desktop_ports() -> None:
    _assert_typed(_desk_boundaries())


@pytest.mark.gui
def test_every_allowance_is_still_needed() -> None:
    """An allowance whose signature got typed goes from the list."""
    seen = {
        f"{label}({where})"
        for boundaries in (_wire_boundaries(), _desk_boundaries())
        for label, fn in boundaries
        for where, text in _annotations(fn)
        if UNTYPED.search(text)
    }
    assert set(ALLOWED) <= seen, sorted(set(ALLOWED) - seen)
