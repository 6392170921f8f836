"""Contract types, their phases and deliverables; custom phase configs; deliverable checks."""

from __future__ import annotations

from typing import Any

import pytest

from core.api.errors import http_status
from core.errors import ErrorCode, InvalidDeliverable, ValidationFailed
from core.phases import (
    BUILTIN_PHASES,
    ContractType,
    DeliverablePriority,
    parse_contract_type,
    parse_phase_config,
    phase_config_for,
    validate_deliverable,
)

SIMPLE = BUILTIN_PHASES[ContractType.SIMPLE]
SPEC = BUILTIN_PHASES[ContractType.SPECIFICATION]
EXECUTE = BUILTIN_PHASES[ContractType.EXECUTE]


def custom_raw(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "phases": [
            {"id": "build", "name": "Build", "order": 2},
            {"id": "design", "name": "Design", "order": 1},
        ],
        "defaultPhase": "design",
        "deliverables": {
            "design": [
                {"id": "sketch", "name": "Sketch", "priority": "required"},
                {"id": "moodboard", "name": "Moodboard", "priority": "optional"},
            ],
            "build": [{"id": "binary", "name": "Binary", "priority": "recommended"}],
        },
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("config", "phases", "deliverables"),
    [
        (SIMPLE, ["plan", "execute"], {"plan": ["plan-document"], "execute": ["pull-request"]}),
        (
            SPEC,
            ["research", "specify", "plan", "execute", "review"],
            {
                "research": ["research-notes"],
                "specify": ["requirements-document"],
                "plan": ["plan-document"],
                "execute": ["pull-request"],
                "review": ["release-notes"],
            },
        ),
        (EXECUTE, ["execute"], {}),
    ],
    ids=["simple", "specification", "execute"],
)
def test_builtin_types(config: Any, phases: list[str], deliverables: dict[str, list[str]]) -> None:
    assert config.phase_ids == phases
    assert config.default_phase == phases[0]
    assert config.terminal_phase == phases[-1]
    for phase in phases:
        assert [d.id for d in config.deliverables_for(phase)] == deliverables.get(phase, [])
        assert config.required_for(phase) == deliverables.get(phase, [])


def test_builtin_deliverables_are_required_and_named() -> None:
    plan = SPEC.deliverables_for("plan")[0]
    assert (plan.name, plan.priority) == ("Plan Document", DeliverablePriority.REQUIRED)


def test_phase_navigation() -> None:
    assert SPEC.next_phase("plan") == "execute"
    assert SPEC.next_phase("review") is None
    assert SPEC.phases_between("research", "plan") == ["research", "specify"]
    assert SPEC.phases_between("plan", "research") == []
    assert SPEC.has_phase("plan") and not SPEC.has_phase("deploy")


def test_unknown_phase_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        SIMPLE.index_of("deploy")
    assert caught.value.details["missing_requirements"] == ["Phase must be one of: plan, execute"]


def test_contract_types_parse() -> None:
    assert [parse_contract_type(t.value) for t in ContractType] == list(ContractType)
    with pytest.raises(ValidationFailed, match="Unknown contractType 'epic'"):
        parse_contract_type("epic")


def test_custom_type_needs_its_config() -> None:
    with pytest.raises(ValidationFailed, match="needs a phaseConfig"):
        phase_config_for(ContractType.CUSTOM, None)
    config = parse_phase_config(custom_raw())
    assert phase_config_for(ContractType.CUSTOM, config) is config
    assert phase_config_for(ContractType.SIMPLE, config) is SIMPLE


def test_custom_config_is_sorted_by_order_with_priorities() -> None:
    config = parse_phase_config(custom_raw())
    assert config.phase_ids == ["design", "build"]
    assert config.default_phase == "design"
    assert config.required_for("design") == ["sketch"]
    assert config.required_for("build") == []
    assert [d.priority for d in config.deliverables_for("design")] == [
        DeliverablePriority.REQUIRED,
        DeliverablePriority.OPTIONAL,
    ]


def test_custom_config_accepts_snake_case_and_defaults() -> None:
    raw = {"phases": [{"id": "a", "order": 0}, {"id": "b", "order": 1}], "default_phase": "b"}
    config = parse_phase_config(raw)
    assert config.default_phase == "b"
    assert config.phases[0].name == "a"
    assert parse_phase_config({"phases": raw["phases"]}).default_phase == "a"


def test_custom_deliverable_defaults_to_required_and_its_id_as_name() -> None:
    raw = custom_raw(deliverables={"build": [{"id": "binary"}]})
    (binary,) = parse_phase_config(raw).deliverables_for("build")
    assert (binary.name, binary.priority) == ("binary", DeliverablePriority.REQUIRED)


def test_custom_config_round_trips_through_the_wire() -> None:
    config = parse_phase_config(custom_raw())
    assert parse_phase_config(config.to_wire()) == config


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ({}, "phases must be a list"),
        ({"phases": "design"}, "phases must be a list"),
        ({"phases": []}, "at least one phase"),
        ({"phases": ["design"]}, "must be an object"),
        ({"phases": [{"name": "x", "order": 1}]}, "non-empty string id"),
        ({"phases": [{"id": " ", "order": 1}]}, "non-empty string id"),
        ({"phases": [{"id": "a", "order": "1"}]}, "integer order"),
        ({"phases": [{"id": "a", "order": True}]}, "integer order"),
        ({"phases": [{"id": "a", "order": 1}, {"id": "a", "order": 2}]}, "duplicate ids"),
        (custom_raw(defaultPhase="deploy"), "defaultPhase must be one of: design, build"),
        (custom_raw(deliverables=["x"]), "deliverables must be an object"),
        (custom_raw(deliverables={"deploy": []}), "unknown phase 'deploy'"),
        (custom_raw(deliverables={"build": {"id": "x"}}), "must be a list"),
        (custom_raw(deliverables={"build": [{"name": "x"}]}), "needs a string id"),
        (custom_raw(deliverables={"build": [{"id": ""}]}), "needs a string id"),
        (custom_raw(deliverables={"build": [{"id": "x", "priority": "must"}]}), "unknown priority"),
    ],
)
def test_custom_config_rejections(raw: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationFailed, match=text):
        parse_phase_config(raw)


def test_validate_deliverable_returns_the_definition() -> None:
    assert validate_deliverable(SIMPLE, "plan", "plan-document").name == "Plan Document"


@pytest.mark.parametrize(
    ("config", "phase", "deliverable", "message"),
    [
        (
            SIMPLE,
            "plan",
            "pull-request",
            "Invalid deliverable 'pull-request' for plan phase. Valid IDs: [plan-document]",
        ),
        (
            EXECUTE,
            "execute",
            "pull-request",
            "Invalid deliverable 'pull-request' for execute phase. Valid IDs: []",
        ),
        (
            parse_phase_config(custom_raw()),
            "design",
            "binary",
            "Invalid deliverable 'binary' for design phase. Valid IDs: [sketch, moodboard]",
        ),
    ],
)
def test_invalid_deliverable_message_is_exact(
    config: Any, phase: str, deliverable: str, message: str
) -> None:
    with pytest.raises(InvalidDeliverable) as caught:
        validate_deliverable(config, phase, deliverable)
    assert caught.value.message == message
    assert caught.value.code is ErrorCode.INVALID_DELIVERABLE
    assert http_status(caught.value.code) == 400


def test_validate_deliverable_in_unknown_phase_is_validation_failed() -> None:
    with pytest.raises(ValidationFailed, match="Unknown phase 'deploy'"):
        validate_deliverable(SIMPLE, "deploy", "plan-document")
