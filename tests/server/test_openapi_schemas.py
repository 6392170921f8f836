"""/openapi.json describes every answer: each route's 2xx has a schema (a model of core/api)
and its error answers are the API's ErrorBody."""

from __future__ import annotations

from typing import Any

import pytest

from server.app import create_app

METHODS = {"get", "post", "put", "patch", "delete"}


async def _no_context() -> Any:  # never called: the document is built without starting
    raise AssertionError("the API document needs no server context")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(context_factory=_no_context).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_success_answer_has_a_schema(document: dict[str, Any]) -> None:
    missing = []
    for path, method, op in _operations(document):
        success = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        if list(success) == ["204"]:
            continue  # no content: nothing to describe
        schemas = [
            media.get("schema")
            for answer in success.values()
            for media in answer.get("content", {}).values()
        ]
        if not schemas or any(not s for s in schemas):
            missing.append(f"{method.upper()} {path}")
    assert not missing, f"2xx answers without a schema: {missing}"


def test_json_answers_name_a_model(document: dict[str, Any]) -> None:
    """A JSON answer's schema is a model (a $ref or a union of them), not a bare object."""
    bare = []
    for path, method, op in _operations(document):
        for code, answer in op["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            named = schema is None or {"$ref", "oneOf", "anyOf"} & set(schema)
            if code.startswith("2") and not named:
                bare.append(f"{method.upper()} {path}: {schema}")
    assert not bare, bare


def test_error_answers_are_the_error_body(document: dict[str, Any]) -> None:
    wrong = []
    for path, method, op in _operations(document):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        refs = {
            code: answer.get("content", {}).get("application/json", {}).get("schema", {})
            for code, answer in errors.items()
        }
        if not refs or any(
            s.get("$ref") != "#/components/schemas/ErrorBody" for s in refs.values()
        ):
            wrong.append(f"{method.upper()} {path}: {sorted(refs)}")
    assert not wrong, wrong
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_phase_answer_is_a_discriminated_union(document: dict[str, Any]) -> None:
    op = document["paths"]["/api/v1/contracts/{contract_id}/phase"]["post"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    refs = {s["$ref"].rsplit("/", 1)[-1] for s in schema["oneOf"]}
    assert refs == {"ContractPublic", "RequiresConfirmation", "ChangesRequestedAnswer"}


def test_event_pages_describe_each_event_type(document: dict[str, Any]) -> None:
    """An event page's events are one schema per event type (payload fields included),
    with the plain envelope for a type this version does not know."""
    schemas = document["components"]["schemas"]
    assert schemas["EventPagePublic"]["properties"]["events"]["items"]["oneOf"]
    changed = schemas["PhaseChangedEvent"]["properties"]
    assert {"seq", "at", "contract_id", "old_phase", "new_phase", "comment"} <= set(changed)
    assert changed["type"]["const"] == "phase_changed"
    assert "StatusChangedEvent" in schemas and "EventPublic" in schemas
