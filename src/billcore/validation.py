"""Coercion of untrusted input into typed values, raising ``ValidationFailed`` naming the
field. Interfaces may pass strings (forms, CLI, JSON) or already-typed values."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from billcore.core.money import AmountError, parse_amount
from billcore.errors import ValidationFailed

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def as_str(field: str, value: Any, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    text: str = value.strip()
    if required and not text:
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    if len(text) > max_length:
        raise ValidationFailed(
            f"{field} is longer than {max_length} characters", field=field, code="too_long"
        )
    return text


def as_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on", "y"}:
        return True
    if isinstance(value, str) and value.lower() in {"false", "0", "no", "off", "n", ""}:
        return False
    raise ValidationFailed(f"{field} must be true or false", field=field)


def as_int(
    field: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if minimum is not None and value < minimum:
        raise ValidationFailed(f"{field} must be at least {minimum}", field=field)
    if maximum is not None and value > maximum:
        raise ValidationFailed(f"{field} must be at most {maximum}", field=field)
    return value


def as_money(
    field: str, value: Any, *, allow_none: bool = True, minimum: Decimal | None = None
) -> Decimal | None:
    if value is None or value == "":
        if allow_none:
            return None
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    try:
        amount = parse_amount(value, field=field)
    except AmountError as exc:
        raise ValidationFailed(f"{field}: {exc.reason}", field=field) from exc
    if minimum is not None and amount < minimum:
        raise ValidationFailed(f"{field} must be at least {minimum}", field=field)
    return amount


def as_choice(field: str, value: Any, choices: Iterable[str]) -> str:
    allowed = list(choices)
    if value not in allowed:
        raise ValidationFailed(
            f"{field} must be one of: {', '.join(allowed)} (got {value!r})",
            field=field,
            code="invalid_choice",
        )
    return str(value)


def as_email(field: str, value: Any, *, required: bool = False) -> str:
    text = as_str(field, value, max_length=254, required=required)
    if text and not _EMAIL.match(text):
        raise ValidationFailed(f"{field} is not a valid e-mail address", field=field)
    return text


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def as_time_zone(field: str, value: Any) -> str:
    text = as_str(field, value, max_length=64, required=True)
    if text not in _time_zones():
        raise ValidationFailed(
            f"{field}: {text!r} is not an IANA time zone (e.g. Europe/Prague)", field=field
        )
    return text


def reject_unknown(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"{unknown[0]} is not a field that can be set here", field=unknown[0], code="unknown"
        )
