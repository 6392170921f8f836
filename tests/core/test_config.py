"""The `[contracts]` settings: defaults, TOML, environment overrides, durations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.config import (
    VALID_KEYS,
    ContractTimeoutConfig,
    config_from_mapping,
    format_duration,
    load_config,
    parse_duration,
)
from core.errors import ValidationFailed


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contracts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_those_of_the_specification() -> None:
    cfg = load_config()

    assert cfg == ContractTimeoutConfig()
    assert cfg.stale_threshold == timedelta(minutes=30)
    assert cfg.input_timeout == timedelta(hours=24)
    assert cfg.completion_grace_period == timedelta(minutes=5)
    assert cfg.archive_retention == timedelta(days=30)
    assert cfg.heartbeat_interval == timedelta(seconds=30)
    assert cfg.heartbeat_timeout == timedelta(seconds=120)
    assert cfg.heartbeat_retention == timedelta(hours=24)
    assert cfg.stale_detection_interval == timedelta(seconds=60)
    assert cfg.auto_complete_enabled is True
    assert cfg.auto_advance_phases is True
    assert cfg.monitor_ws_buffer_size == 1000


def test_the_contracts_table_of_a_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [server]
        port = 8080

        [contracts]
        stale_threshold_minutes = 10
        input_timeout_hours = 2
        auto_complete_enabled = false
        monitor_ws_buffer_size = 50
        """,
    )

    cfg = load_config(path)

    assert cfg.stale_threshold == timedelta(minutes=10)
    assert isinstance(cfg.stale_threshold_minutes, float)
    assert cfg.input_timeout == timedelta(hours=2)
    assert cfg.auto_complete_enabled is False
    assert cfg.monitor_ws_buffer_size == 50
    assert cfg.completion_grace_period == timedelta(minutes=5)  # untouched key keeps default


def test_fractional_values_give_second_scale_thresholds(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[contracts]\nstale_threshold_minutes = 0.05\n")

    assert load_config(str(path)).stale_threshold == timedelta(seconds=3)


def test_a_file_without_a_contracts_table_gives_the_defaults(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 1\n")

    assert load_config(path) == ContractTimeoutConfig()


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path, "[contracts]\nstale_threshold_minutes = 10\nauto_complete_enabled = true\n"
    )
    env = {
        "CONTRACTS_STALE_THRESHOLD_MINUTES": "0.1",
        "CONTRACTS_AUTO_COMPLETE_ENABLED": "false",
        "CONTRACTS_MONITOR_WS_BUFFER_SIZE": "20",
        "CONTRACTS_TEST_PG_URL": "postgresql://elsewhere",  # another tool's variable
        "STALE_THRESHOLD_MINUTES": "99",  # no prefix: not ours
    }

    cfg = load_config(path, env)

    assert cfg.stale_threshold == timedelta(seconds=6)
    assert cfg.auto_complete_enabled is False
    assert cfg.monitor_ws_buffer_size == 20


def test_environment_overrides_apply_without_a_file() -> None:
    cfg = load_config(None, {"CONTRACTS_HEARTBEAT_TIMEOUT_SECONDS": "5"})

    assert cfg.heartbeat_timeout == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("off", False)],
)
def test_environment_booleans_accept_the_usual_spellings(text: str, expected: bool) -> None:
    cfg = load_config(None, {"CONTRACTS_AUTO_ADVANCE_PHASES": text})

    assert cfg.auto_advance_phases is expected


def test_a_missing_file_is_a_clear_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_a_directory_instead_of_a_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="Cannot read"):
        load_config(tmp_path)


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[contracts]\nstale_threshold_minutes = = 3\n")

    with pytest.raises(ValidationFailed) as caught:
        load_config(path)

    assert str(path) in caught.value.message
    assert caught.value.details["line"] == 2


def test_contracts_must_be_a_table(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "contracts = 3\n")

    with pytest.raises(ValidationFailed, match="must be a table"):
        load_config(path)


def test_unknown_keys_are_rejected_listing_the_valid_ones(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[contracts]\nstale_treshold_minutes = 3\n")

    with pytest.raises(ValidationFailed) as caught:
        load_config(path)

    assert "stale_treshold_minutes" in caught.value.message
    assert "stale_threshold_minutes" in caught.value.message
    assert caught.value.details["valid_keys"] == list(VALID_KEYS)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stale_threshold_minutes", '"30"'),  # a string in TOML is not a number
        ("stale_threshold_minutes", "-1"),
        ("stale_threshold_minutes", "0"),
        ("input_timeout_hours", "true"),
        ("monitor_ws_buffer_size", "10.5"),
        ("monitor_ws_buffer_size", "0"),
        ("auto_complete_enabled", "1"),
        ("auto_complete_enabled", '"maybe"'),
        ("heartbeat_timeout_seconds", "inf"),
    ],
)
def test_wrong_types_and_non_positive_durations_are_rejected(
    tmp_path: Path, key: str, value: str
) -> None:
    path = write_toml(tmp_path, f"[contracts]\n{key} = {value}\n")

    with pytest.raises(ValidationFailed, match=key):
        load_config(path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONTRACTS_STALE_THRESHOLD_MINUTES", "soon"),
        ("CONTRACTS_STALE_THRESHOLD_MINUTES", "-3"),
        ("CONTRACTS_STALE_THRESHOLD_MINUTES", "nan"),
        ("CONTRACTS_MONITOR_WS_BUFFER_SIZE", "1.5"),
        ("CONTRACTS_AUTO_COMPLETE_ENABLED", "perhaps"),
    ],
)
def test_junk_environment_values_are_rejected(name: str, value: str) -> None:
    with pytest.raises(ValidationFailed, match="environment"):
        load_config(None, {name: value})


def test_config_from_mapping_checks_like_the_file() -> None:
    assert config_from_mapping({"archive_retention_days": 1}).archive_retention == timedelta(days=1)
    with pytest.raises(ValidationFailed, match="Unknown setting"):
        config_from_mapping({"colour": "blue"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1.5h", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("30M", timedelta(minutes=30)),
        ("2h 5m", timedelta(hours=2, minutes=5)),
        ("1h30m", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["30", "", "m", "-5m", "5 minutes", "5w", "abc", "1.h", "9" * 30 + "d"]
)
def test_parse_duration_rejects_junk(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_duration(text)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=45), "45s"),
        (timedelta(hours=2, minutes=5, seconds=30), "2h 5m"),
        (timedelta(days=3, hours=4, minutes=59), "3d 4h"),
        (timedelta(hours=2, seconds=30), "2h"),
        (timedelta(minutes=1, seconds=1), "1m 1s"),
        (timedelta(days=9), "9d"),
        (timedelta(milliseconds=300), "0s"),
        (timedelta(0), "0s"),
        (-timedelta(minutes=5), "-5m"),
    ],
)
def test_format_duration(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


def test_format_duration_reads_back_with_parse_duration() -> None:
    duration = timedelta(hours=2, minutes=5)

    assert parse_duration(format_duration(duration)) == duration
