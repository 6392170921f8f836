"""Timing and behaviour settings: the `[contracts]` section of the specification (§8.1).

Values come from three layers, later ones winning: the defaults below, a TOML file's
`[contracts]` table, and `CONTRACTS_<KEY>` environment variables. Every layer is checked the
same way, so a typo in the file or a junk environment value is a `ValidationFailed` naming
the key, never a silently ignored setting or a crash deep inside a background service.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.errors import ValidationFailed

ENV_PREFIX = "CONTRACTS_"


@dataclass(frozen=True, slots=True)
class ContractTimeoutConfig:
    """The `[contracts]` settings. Durations are floats in the unit their name says.

    Fractions are allowed on purpose (`stale_threshold_minutes = 0.05` is three seconds) so
    end-to-end tests can run the real services with second-scale thresholds.
    """

    stale_threshold_minutes: float = 30.0
    input_timeout_hours: float = 24.0
    completion_grace_period_minutes: float = 5.0
    archive_retention_days: float = 30.0
    auto_complete_enabled: bool = True
    auto_advance_phases: bool = True
    heartbeat_interval_seconds: float = 30.0
    heartbeat_timeout_seconds: float = 120.0
    monitor_ws_buffer_size: int = 1000  # a count of events, so a whole number
    stale_detection_interval_seconds: float = 60.0
    heartbeat_retention_hours: float = 24.0  # not in §8.1: the 24 h TTL of §3.5 made settable

    @property
    def stale_threshold(self) -> timedelta:
        return timedelta(minutes=self.stale_threshold_minutes)

    @property
    def input_timeout(self) -> timedelta:
        return timedelta(hours=self.input_timeout_hours)

    @property
    def completion_grace_period(self) -> timedelta:
        return timedelta(minutes=self.completion_grace_period_minutes)

    @property
    def archive_retention(self) -> timedelta:
        return timedelta(days=self.archive_retention_days)

    @property
    def heartbeat_interval(self) -> timedelta:
        return timedelta(seconds=self.heartbeat_interval_seconds)

    @property
    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.heartbeat_timeout_seconds)

    @property
    def heartbeat_retention(self) -> timedelta:
        return timedelta(hours=self.heartbeat_retention_hours)

    @property
    def stale_detection_interval(self) -> timedelta:
        return timedelta(seconds=self.stale_detection_interval_seconds)


# The kind of each key (the type of its default, so defaults must be written 30.0, not 30)
# decides how a value is checked: a bool, a positive whole count or a positive duration.
_KINDS: Mapping[str, type] = {f.name: type(f.default) for f in fields(ContractTimeoutConfig)}
VALID_KEYS: tuple[str, ...] = tuple(_KINDS)


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> ContractTimeoutConfig:
    """Defaults, then the file's `[contracts]` table, then `CONTRACTS_<KEY>` overrides.

    `env` is passed in (e.g. `os.environ`) rather than read here, so tests stay hermetic;
    None means no overrides. Only `CONTRACTS_` variables naming a known key are read: others
    with that prefix (say `CONTRACTS_TEST_PG_URL`) belong to other tools and are ignored.
    A file without a `[contracts]` table yields the defaults; other tables are ignored.
    """
    config = ContractTimeoutConfig()
    if path is not None:
        config = _apply(config, _read_contracts_table(Path(path)), f"file {path}")
    if env is not None:
        config = _apply(config, _env_overrides(env), "environment")
    return config


def config_from_mapping(mapping: Mapping[str, Any]) -> ContractTimeoutConfig:
    """The defaults overridden by `mapping` (keys as in the TOML file), checked alike."""
    return _apply(ContractTimeoutConfig(), mapping, "settings")


def config_to_wire(config: ContractTimeoutConfig) -> dict[str, Any]:
    """`GET /config`'s body: the server's `[contracts]` settings, keys as in the TOML file."""
    return {"contracts": {f.name: getattr(config, f.name) for f in fields(config)}}


def config_from_wire(body: Mapping[str, Any]) -> ContractTimeoutConfig:
    """The settings a server reported (`config_to_wire`), checked like the file's.

    Keys this version does not know are skipped, not refused: a newer server may have more.
    """
    table = body.get("contracts")
    if not isinstance(table, Mapping):
        raise ValidationFailed("The server's configuration has no 'contracts' table")
    return _apply(
        ContractTimeoutConfig(), {k: v for k, v in table.items() if k in _KINDS}, "the server"
    )


def _read_contracts_table(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationFailed(
            f"Configuration file {path} does not exist", details={"path": str(path)}
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"Cannot read configuration file {path}: {exc}", details={"path": str(path)}
        ) from None
    return _contracts_table(_parse_toml(text, path), path)


def _parse_toml(text: str, path: Path) -> Mapping[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 only puts the position in the message: "... (at line 3, column 7)".
        line = re.search(r"line (\d+)", str(exc))
        raise ValidationFailed(
            f"Configuration file {path} is not valid TOML: {exc}",
            details={"path": str(path), "line": int(line.group(1)) if line else None},
        ) from None


def _contracts_table(document: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    table = document.get("contracts", {})
    if not isinstance(table, Mapping):
        raise ValidationFailed(f"In {path}, 'contracts' must be a table ([contracts])")
    return table


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    wanted = {ENV_PREFIX + key.upper(): key for key in VALID_KEYS}
    return {
        wanted[name]: _from_text(wanted[name], text) for name, text in env.items() if name in wanted
    }


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _from_text(key: str, text: str) -> Any:
    """An environment value read as its key's kind; unreadable text stays text, to be refused.

    Only the environment is read this way: in TOML, `"30"` is a string and a wrong type.
    """
    kind, word = _KINDS[key], text.strip().lower()
    if kind is bool:
        return word in _TRUE if word in _TRUE | _FALSE else text
    try:
        return int(word) if kind is int else float(word)
    except ValueError:
        return text


def _apply(
    config: ContractTimeoutConfig, values: Mapping[str, Any], source: str
) -> ContractTimeoutConfig:
    unknown = sorted(str(key) for key in values if key not in _KINDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown setting(s) in {source}: {', '.join(unknown)}. "
            f"Valid keys: {', '.join(VALID_KEYS)}",
            details={"unknown": unknown, "valid_keys": list(VALID_KEYS)},
        )
    checked: dict[str, Any] = {k: _check_value(k, v, source) for k, v in values.items()}
    return replace(config, **checked)


def _check_value(key: str, value: Any, source: str) -> bool | int | float:
    """Check one value against its key's kind; durations and counts must be positive."""
    kind = _KINDS[key]
    if kind is bool:
        if not isinstance(value, bool):
            raise _bad(key, value, source, "true or false")
        return value
    number = _as_number(key, value, source, whole=kind is int)
    if number <= 0:
        raise _bad(key, value, source, "a positive number")
    return number if kind is int else float(number)


def _as_number(key: str, value: Any, source: str, whole: bool) -> int | float:
    expected = "a whole number" if whole else "a number"
    # bool is an int subclass: `true` must not read as 1.
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        raise _bad(key, value, source, expected)
    if not math.isfinite(value):
        raise _bad(key, value, source, "a finite number")
    return value


def _bad(key: str, value: Any, source: str, expected: str) -> ValidationFailed:
    return ValidationFailed(
        f"Setting '{key}' in {source} must be {expected}, got {value!r}",
        details={"key": key, "value": repr(value)},
    )


_UNIT_SECONDS: Mapping[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*[smhd]\s*)+", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """Parse "45s", "30m", "1.5h", "7d" or compounds like "2h 5m" (what format_duration writes).

    A unit is required: a bare "30" is rejected because minutes and hours are both plausible
    readings. Signs are rejected, so a duration is never negative.
    """
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise ValidationFailed(
            f"Invalid duration {text!r}: use a number with a unit s, m, h or d (e.g. 30m, 1.5h)",
            details={"value": repr(text)},
        )
    seconds = sum(
        float(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _DURATION_PART.findall(text)
    )
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValidationFailed(f"Duration {text!r} is too long") from None


def format_duration(duration: timedelta) -> str:
    """Compact text such as "3d 4h", "2h 5m", "45s": the largest unit and the next if non-zero.

    Seconds below the second unit are dropped (2h 5m 30s reads "2h 5m"), which is the
    precision a person wants in a list; negative durations get a leading "-".
    """
    total = int(duration.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    amounts = []
    for unit, size in _UNIT_SECONDS.items():
        amounts.append((total // size, unit))
        total %= size
    first = next((i for i, (amount, _) in enumerate(amounts) if amount), len(amounts) - 1)
    shown = [f"{amount}{unit}" for amount, unit in amounts[first : first + 2] if amount]
    return sign + (" ".join(shown) or "0s")
