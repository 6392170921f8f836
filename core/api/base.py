"""The bases of the wire's schema family, and the one snake_case ↔ camelCase rule.

API.md keeps the specification's objects key for key (snake_case: events, readiness, batch,
supervisor status, the monitor subscription) and writes the rest in camelCase; request bodies
accept both spellings. `wire_alias` is the only place that turns one spelling into the
other: every model here, and the hand-written fast paths that cannot afford a model per
item (heartbeats by the thousand), use it.

- `CamelModel`: written with camelCase keys, read from either spelling.
- `SnakeModel`: written with snake_case keys, read from either spelling.
- `Body`: a request body. Strict JSON types: a string for a bool, a float for an int is a
  400 VALIDATION_FAILED, not a silent coercion.

Times are `WireTime`: read from ISO 8601 text, kept in UTC, written as API.md writes them
(milliseconds and a `Z`, `core.clock.iso`), so a model that dumps a time matches the wire
the domain's writers produce byte for byte.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AliasGenerator, BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from core.clock import iso, utc


@functools.cache
def wire_alias(snake: str) -> str:
    """The camelCase spelling of a snake_case key (cached: hot paths call it per item)."""
    return to_camel(snake)


def _iso_text(value: datetime) -> str:
    text = iso(value)
    assert text is not None
    return text


WireTime = Annotated[
    datetime, AfterValidator(utc), PlainSerializer(_iso_text, return_type=str, when_used="json")
]

# Versions are small counters; bounding them keeps every number JSON-encodable as a 64-bit
# integer (a 100-digit expectedVersion must be a 400, not a failure to encode the 409).
MAX_VERSION = 2**53
MAX_TEXT = 100_000


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=wire_alias,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
    )


class SnakeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=wire_alias),
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
    )


class Body(CamelModel):
    # Unknown keys are refused (400 naming the key): a typo must never be silently ignored.
    model_config = ConfigDict(strict=True, extra="forbid")


class SnakeBody(SnakeModel):
    model_config = ConfigDict(strict=True, extra="forbid")
