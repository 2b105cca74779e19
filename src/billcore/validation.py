"""Coercion of untrusted input into typed values, raising ``ValidationFailed`` naming the
field. Interfaces may pass strings (forms, CLI, JSON) or already-typed values."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from billcore.core.money import AmountError, parse_amount
from billcore.core.text import CONTROLS, CONTROLS_EXCEPT_LAYOUT, SURROGATES
from billcore.errors import ValidationFailed

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Bounds of every value that comes in from outside (README, "The JSON API": limits).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # a 64-bit signed integer: every id and count
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # inclusive
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # exclusive
MAX_DEPTH = 20  # nesting of objects and lists inside one value


def check_text(field: str, value: str, *, single_line: bool = False) -> None:
    """No NUL and no lone UTF-16 surrogate in any text; no control character at all in a
    one-line text (names, identifiers), only tab and line breaks in others."""
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if SURROGATES.search(value):
        raise ValidationFailed(
            f"{field} contains a lone UTF-16 surrogate (not a character)",
            field=field,
            code="invalid_text",
        )
    controls = CONTROLS if single_line else CONTROLS_EXCEPT_LAYOUT
    found = controls.search(value)
    if found:
        raise ValidationFailed(
            f"{field} must not contain control characters (found U+{ord(found.group()):04X})",
            field=field,
            code="invalid_text",
        )


def check_input(field: str | None, value: Any, *, _depth: int = 0, _top: str | None = None) -> None:
    """The guard every interface runs over what it received, before any rule: integers fit
    64 bits, numbers are finite, no text holds NUL or a lone surrogate, every date-time lies
    in [EARLIEST, LATEST), and nothing is nested deeper than MAX_DEPTH. Raises
    ``ValidationFailed`` naming the field (``a.b.0.c``)."""
    top = _top if _top is not None else field
    if _depth > MAX_DEPTH:
        raise ValidationFailed(
            f"{top} is nested more than {MAX_DEPTH} levels deep", field=top, code="too_deep"
        )
    name = field or "body"
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValidationFailed(
                f"{name} is out of range (a whole number needs to fit 64 bits)",
                field=name,
                code="out_of_range",
            )
    elif isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValidationFailed(f"{name} must be a finite number", field=name)
    elif isinstance(value, str):
        if "\x00" in value or SURROGATES.search(value):
            check_text(name, value)
    elif isinstance(value, dt.datetime | dt.date):
        check_instant(name, value)
    elif isinstance(value, BaseModel):
        for attr, info in type(value).model_fields.items():
            key = info.alias or attr
            check_input(_join(field, key), getattr(value, attr), _depth=_depth, _top=top or key)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                check_input(_join(field, key), key, _depth=_depth + 1, _top=top or key)
            check_input(_join(field, str(key)), item, _depth=_depth + 1, _top=top or str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_input(_join(field, str(i)), item, _depth=_depth + 1, _top=top)


def _join(field: str | None, key: str) -> str:
    return f"{field}.{key}" if field else key


def check_instant(field: str, value: dt.datetime | dt.date) -> None:
    """Every date and date-time lies in [1970-01-01, 2100-01-01) UTC."""
    if isinstance(value, dt.datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        inside = EARLIEST <= at < LATEST
    else:
        inside = EARLIEST.date() <= value < LATEST.date()
    if not inside:
        raise ValidationFailed(
            f"{field} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)",
            field=field,
            code="out_of_range",
        )


def as_json_object(field: str, value: Any, *, max_bytes: int) -> dict[str, Any]:
    """A JSON object of at most ``max_bytes`` (UTF-8, compact), checked like any input."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must be an object", field=field)
    check_input(field, value)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        raise ValidationFailed(
            f"{field} is {size} bytes as JSON; at most {max_bytes} are kept",
            field=field,
            code="too_long",
        )
    return value


def as_str(
    field: str,
    value: Any,
    *,
    max_length: int,
    required: bool = False,
    single_line: bool = True,
) -> str:
    """Text, stripped. ``single_line`` (names, codes, identifiers) refuses every control
    character; other texts (descriptions, notes, comments) may hold tabs and line breaks."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    check_text(field, value, single_line=single_line)
    text: str = value.strip()
    if required and not text:
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    if len(text) > max_length:
        raise ValidationFailed(
            f"{field} is longer than {max_length} characters", field=field, code="too_long"
        )
    return text


def blank_is_none(value: Any) -> Any:
    """For enum query filters: ``?status=`` (empty) means no filter; any other value must
    be one of the choices (400 naming the parameter otherwise)."""
    return None if value == "" else value


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
        digits = value.strip().lstrip("-")
        value = int(value) if len(digits) <= 20 else INT_MAX + 1
    if not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if not INT_MIN <= value <= INT_MAX:
        raise ValidationFailed(
            f"{field} is out of range (a whole number needs to fit 64 bits)",
            field=field,
            code="out_of_range",
        )
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
