"""Timing and behaviour settings: the `[contracts]` section of the specification (§8.1), the
server's `[server]` limits and the plan's `[feature_flags]`.

Values come from three layers, later ones winning: the defaults below, a TOML file's
table, and environment variables (`CONTRACTS_<KEY>`, `CONTRACTS_SERVER_<KEY>`,
`CONTRACTS_FEATURE_<FLAG>`). Every layer is checked the
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
from typing import Any, TypeVar

from core.errors import FeatureDisabled, ValidationFailed

ENV_PREFIX = "CONTRACTS_"
C = TypeVar("C")


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
    claim_expiry_hours: float = 24.0  # an inbox claim lapses after this, and the item alarms
    # What a contract waiting on a person does when nobody answers, for phases whose
    # phaseConfig names no policy: "timeout" (pause after input_timeout_hours, as always),
    # "wait" (forever), or "escalate" (after escalate_after_hours, tell `escalate_to`).
    wait_policy: str = "timeout"
    escalate_after_hours: float = 4.0
    escalate_to: str = ""  # comma-separated owners or key users to notify

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
    def escalate_after(self) -> timedelta:
        return timedelta(hours=self.escalate_after_hours)

    @property
    def escalation_list(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.escalate_to.split(",") if name.strip())

    @property
    def claim_expiry(self) -> timedelta:
        return timedelta(hours=self.claim_expiry_hours)

    @property
    def stale_detection_interval(self) -> timedelta:
        return timedelta(seconds=self.stale_detection_interval_seconds)


# The kind of each key (the type of its default, so defaults must be written 30.0, not 30)
# decides how a value is checked: a bool, a positive whole count or a positive duration.
@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The `[server]` settings: what an unauthenticated client may see and the limits that
    keep one client from locking others out (SECURITY.md explains each)."""

    metrics_require_key: bool = False  # /metrics answers 401 without a key when true
    max_connections: int = 4096  # open HTTP connections; beyond: 503 (but see health_reserve)
    health_reserve: int = 64  # connections beyond max_connections that may still ask /health
    header_timeout_seconds: float = 5.0  # a connection must send its request head within this
    body_timeout_seconds: float = 10.0  # longest pause between two parts of a request body
    ws_max_per_key: int = 32  # monitor WebSockets one API key may hold open
    ws_max_total: int = 1000  # monitor WebSockets one server process holds open
    revocation_poll_seconds: float = 0.25  # how often a server looks for revoked keys
    key_cache_entries: int = 10_000  # API key lookups cached (PostgreSQL), unknown keys too


@dataclass(frozen=True, slots=True)
class FeatureFlags:
    """The `[feature_flags]` of the plan's rollout (all on by default); off means gone.

    - enhanced_contract_status: `POST /contracts/{id}/status`, the explicit status moves.
    - auto_complete: the automatic start of completion (§2.2.3 step 4); a ready terminal
      phase then waits for a person, as with a contract's own auto-complete off.
    - supervisor_heartbeat: receiving heartbeats and their history.
    - monitoring_dashboard: `GET /contracts/dashboard` and the monitor WebSocket.
    A route of a feature that is off answers `404 FEATURE_DISABLED` naming the flag.
    """

    enhanced_contract_status: bool = True
    auto_complete: bool = True
    supervisor_heartbeat: bool = True
    monitoring_dashboard: bool = True

    def require(self, flag: str, what: str) -> None:
        """Raise FeatureDisabled when `flag` is off; `what` names the feature for a person."""
        if not getattr(self, flag):
            raise FeatureDisabled(flag, what)


def _kinds(cls: type) -> Mapping[str, type]:
    return {f.name: type(f.default) for f in fields(cls)}


_KINDS: Mapping[str, type] = _kinds(ContractTimeoutConfig)
VALID_KEYS: tuple[str, ...] = tuple(_KINDS)
_SERVER_KINDS: Mapping[str, type] = _kinds(ServerSettings)
SERVER_ENV_PREFIX = "CONTRACTS_SERVER_"
_FLAG_KINDS: Mapping[str, type] = _kinds(FeatureFlags)
FLAGS_ENV_PREFIX = "CONTRACTS_FEATURE_"
# The tables a server's configuration file may hold; any other is a typo, refused.
TABLES = ("contracts", "server", "feature_flags")


def load_feature_flags(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> FeatureFlags:
    """Defaults, then the file's `[feature_flags]`, then `CONTRACTS_FEATURE_<FLAG>` overrides.

    An unknown flag is refused like an unknown `[contracts]` key: the server does not start.
    """
    flags = FeatureFlags()
    if path is not None:
        table = _table(_read_toml(Path(path)), "feature_flags", Path(path))
        flags = _apply(flags, table, f"file {path} [feature_flags]", _FLAG_KINDS)
    if env is not None:
        overrides = _env_overrides(env, FLAGS_ENV_PREFIX, _FLAG_KINDS)
        flags = _apply(flags, overrides, "environment", _FLAG_KINDS)
    return flags


def check_tables(path: str | Path) -> None:
    """Refuse a file holding a table the server does not read (`[feature_flag]`, say)."""
    unknown = sorted(str(k) for k in _read_toml(Path(path)) if k not in TABLES)
    if unknown:
        raise ValidationFailed(
            f"Unknown table(s) in file {path}: {', '.join(unknown)}. "
            f"Valid tables: {', '.join(TABLES)}",
            details={"unknown": unknown, "valid_tables": list(TABLES)},
        )


def settings_document(
    config: ContractTimeoutConfig, settings: ServerSettings, flags: FeatureFlags
) -> str:
    """The effective settings as a TOML document (what `serve --print-config` shows).

    Every value is a bool or a number, so none is secret; the result reads back with
    `tomllib` and can serve as a configuration file.
    """
    parts = []
    for name, values in (("contracts", config), ("server", settings), ("feature_flags", flags)):
        lines = [f"{f.name} = {_toml_value(getattr(values, f.name))}" for f in fields(values)]
        parts.append(f"[{name}]\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _toml_value(value: bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def load_server_settings(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> ServerSettings:
    """Defaults, then the file's `[server]` table, then `CONTRACTS_SERVER_<KEY>` overrides."""
    settings = ServerSettings()
    if path is not None:
        table = _table(_read_toml(Path(path)), "server", Path(path))
        settings = _apply(settings, table, f"file {path}", _SERVER_KINDS)
    if env is not None:
        overrides = _env_overrides(env, SERVER_ENV_PREFIX, _SERVER_KINDS)
        settings = _apply(settings, overrides, "environment", _SERVER_KINDS)
    return settings


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
        config = _apply(config, _read_contracts_table(Path(path)), f"file {path}", _KINDS)
    if env is not None:
        config = _apply(config, _env_overrides(env, ENV_PREFIX, _KINDS), "environment", _KINDS)
    return config


def config_from_mapping(mapping: Mapping[str, Any]) -> ContractTimeoutConfig:
    """The defaults overridden by `mapping` (keys as in the TOML file), checked alike."""
    return _apply(ContractTimeoutConfig(), mapping, "settings", _KINDS)


def config_to_wire(
    config: ContractTimeoutConfig, flags: FeatureFlags | None = None
) -> dict[str, Any]:
    """`GET /config`'s body: the server's `[contracts]` settings and `[feature_flags]`, keys
    as in the TOML file."""
    flags = flags or FeatureFlags()
    return {
        "contracts": {f.name: getattr(config, f.name) for f in fields(config)},
        "feature_flags": {f.name: getattr(flags, f.name) for f in fields(flags)},
    }


def config_from_wire(body: Mapping[str, Any]) -> ContractTimeoutConfig:
    """The settings a server reported (`config_to_wire`), checked like the file's.

    Keys this version does not know are skipped, not refused: a newer server may have more.
    """
    table = body.get("contracts")
    if not isinstance(table, Mapping):
        raise ValidationFailed("The server's configuration has no 'contracts' table")
    known = {k: v for k, v in table.items() if k in _KINDS}
    return _apply(ContractTimeoutConfig(), known, "the server", _KINDS)


def _read_contracts_table(path: Path) -> Mapping[str, Any]:
    return _table(_read_toml(path), "contracts", path)


def _read_toml(path: Path) -> Mapping[str, Any]:
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
    return _parse_toml(text, path)


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


def _table(document: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, Mapping):
        raise ValidationFailed(f"In {path}, '{name}' must be a table ([{name}])")
    return table


def _env_overrides(
    env: Mapping[str, str], prefix: str, kinds: Mapping[str, type]
) -> dict[str, Any]:
    wanted = {prefix + key.upper(): key for key in kinds}
    return {
        wanted[name]: _from_text(kinds[wanted[name]], text)
        for name, text in env.items()
        if name in wanted
    }


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _from_text(kind: type, text: str) -> Any:
    """An environment value read as its key's kind; unreadable text stays text, to be refused.

    Only the environment is read this way: in TOML, `"30"` is a string and a wrong type.
    """
    word = text.strip().lower()
    if kind is str:
        return text.strip()
    if kind is bool:
        return word in _TRUE if word in _TRUE | _FALSE else text
    try:
        return int(word) if kind is int else float(word)
    except ValueError:
        return text


def _apply(config: C, values: Mapping[str, Any], source: str, kinds: Mapping[str, type]) -> C:
    unknown = sorted(str(key) for key in values if key not in kinds)
    if unknown:
        raise ValidationFailed(
            f"Unknown setting(s) in {source}: {', '.join(unknown)}. Valid keys: {', '.join(kinds)}",
            details={"unknown": unknown, "valid_keys": list(kinds)},
        )
    checked: dict[str, Any] = {k: _check_value(k, kinds[k], v, source) for k, v in values.items()}
    return replace(config, **checked)  # type: ignore[type-var]


# Text settings that take one of a few words.
CHOICES: Mapping[str, tuple[str, ...]] = {"wait_policy": ("wait", "escalate", "timeout")}


def _check_value(key: str, kind: type, value: Any, source: str) -> bool | int | float | str:
    """Check one value against its key's kind; durations and counts must be positive."""
    if kind is str:
        if not isinstance(value, str):
            raise _bad(key, value, source, "text")
        choices = CHOICES.get(key)
        if choices is not None and value not in choices:
            raise _bad(key, value, source, f"one of {', '.join(choices)}")
        return value
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
