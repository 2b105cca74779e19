"""Off-peak periods: the expression language and the price set of a session (§1.3, §7.6).

The expressions are PortaBilling's ``Time::Period`` subset its off-peak wizard writes.

Grammar
=======

::

    period      = alternative { ("," | "|") alternative }     one of them must hold
    alternative = element { element }                         every element must hold
    element     = scale "{" range { range } "}"                one of the ranges must hold
    range       = value [ "-" value ]                          inclusive, may wrap around
    scale       = "hr" | "hour" | "min" | "minute" | "wd" | "wday"
                | "md" | "mday" | "mo" | "month"               (letters in any case)

Blanks may stand between any two tokens and separate the ranges inside braces
(``wd{sat sun}``, ``hr{0-6 18-23}``). An omitted scale means "any". A scale may appear once
per alternative (put several ranges in its braces instead). Values per scale:

* ``hr``: ``0``-``23`` or ``1am``-``12am``/``1pm``-``12pm`` (``12am`` is 0, ``12pm`` is 12);
* ``min``: ``0``-``59``;
* ``wd``: ``mon`` … ``sun`` or the full names, or ``1``-``7`` with ``Time::Period``'s
  numbering (``1`` = Sunday … ``7`` = Saturday), or its two-letter names ``su mo tu we th fr sa``;
* ``md``: ``1``-``31``;
* ``mo``: ``jan`` … ``dec`` or the full names, or ``1``-``12``.

A range names whole units, inclusive at both ends, and wraps past the end of its scale:
``wd{fri-mon}`` is Friday, Saturday, Sunday, Monday; ``hr{6pm-5am}`` is the hours 18 … 23
and 0 … 5.

Boundaries (§7.6): a period is a set of whole clock units, so it is half-open in time.
``hr{6pm-5am}`` — the wizard's "6 pm to 6 am", written with ``5am`` because ``5am`` means
05:00:00-05:59:59 — is exactly ``[18:00, 06:00)``: 18:00:00 is off-peak, 05:59:59.999999 is
off-peak, 06:00:00 is peak. ``hr{18-5}`` is the same period.

Evaluation: :meth:`OffpeakPeriod.contains` reads the fields of the datetime it is given as a
**local** wall-clock time: the caller converts the session's start to the customer's billing
time zone first. Syntax errors raise :class:`OffpeakSyntaxError` with the 1-based position.

Price set (:func:`price_set`): a session is priced with one set for its whole length, chosen
at its start (§1.3, §7.6): off-peak 1 when the first off-peak period holds, else off-peak 2
when the second holds, else peak. (Choice: when both periods hold, the first one wins — the
order the tariff lists them in.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

__all__ = [
    "OffpeakPeriod",
    "OffpeakSyntaxError",
    "PriceSet",
    "parse_offpeak",
    "price_set",
]


class OffpeakSyntaxError(ValueError):
    """An off-peak expression is malformed.

    ``position`` is the 1-based character position of the problem in ``expression``;
    ``str(error)`` is ``"off-peak expression, position <n>: <reason>"``.
    """

    expression: str
    position: int
    reason: str

    def __init__(self, *, expression: str, position: int, reason: str) -> None:
        super().__init__(f"off-peak expression, position {position}: {reason}")
        self.expression = expression
        self.position = position
        self.reason = reason


_SCALES: Final[dict[str, str]] = {
    "hr": "hr",
    "hour": "hr",
    "min": "min",
    "minute": "min",
    "wd": "wd",
    "wday": "wd",
    "md": "md",
    "mday": "md",
    "mo": "mo",
    "month": "mo",
}
# (first value, last value) of each scale; weekdays are ISO (1 = Monday ... 7 = Sunday).
_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "hr": (0, 23),
    "min": (0, 59),
    "wd": (1, 7),
    "md": (1, 31),
    "mo": (1, 12),
}
_SCALE_NAMES: Final[dict[str, str]] = {
    "hr": "an hour",
    "min": "a minute",
    "wd": "a weekday",
    "md": "a day of month",
    "mo": "a month",
}
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES: Final[dict[str, int]] = {
    **{name: i + 1 for i, name in enumerate(_WEEKDAYS)},
    **{name[:3]: i + 1 for i, name in enumerate(_WEEKDAYS)},
    **{name[:2]: i + 1 for i, name in enumerate(_WEEKDAYS)},
}
_MONTHS: Final = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_NAMES: Final[dict[str, int]] = {
    **{name: i + 1 for i, name in enumerate(_MONTHS)},
    **{name[:3]: i + 1 for i, name in enumerate(_MONTHS)},
}
_HOUR_RE: Final = re.compile(r"([0-9]{1,2})(am|pm)")
_SCALE_RE: Final = re.compile(r"[A-Za-z]+")
_VALUE_RE: Final = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class _Alternative:
    """One alternative: for each scale given, the set of values that hold."""

    allowed: tuple[tuple[str, frozenset[int]], ...]

    def contains(self, local: datetime) -> bool:
        for scale, values in self.allowed:
            if _field(local, scale) not in values:
                return False
        return True


def _field(local: datetime, scale: str) -> int:
    if scale == "hr":
        return local.hour
    if scale == "min":
        return local.minute
    if scale == "wd":
        return local.isoweekday()
    if scale == "md":
        return local.day
    return local.month


@dataclass(frozen=True, slots=True)
class OffpeakPeriod:
    """A parsed off-peak period; build it with :func:`parse_offpeak`."""

    expression: str
    alternatives: tuple[_Alternative, ...]

    def contains(self, local: datetime) -> bool:
        """Whether the period holds at ``local`` (a wall-clock time in the customer's billing
        time zone; its tzinfo, if any, is not consulted)."""
        return any(alternative.contains(local) for alternative in self.alternatives)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0  # 0-based index of the next character

    def error(self, reason: str, at: int | None = None) -> OffpeakSyntaxError:
        return OffpeakSyntaxError(
            expression=self.text, position=(self.pos if at is None else at) + 1, reason=reason
        )

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_blanks()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def period(self) -> tuple[_Alternative, ...]:
        if not self.text.strip():
            raise self.error("the expression is empty", at=0)
        alternatives = [self.alternative()]
        while self.peek() in (",", "|"):
            self.pos += 1
            alternatives.append(self.alternative())
        if self.peek():
            raise self.error(f"expected ',' or '|' between alternatives, found {self.peek()!r}")
        return tuple(alternatives)

    def alternative(self) -> _Alternative:
        allowed: dict[str, frozenset[int]] = {}
        while True:
            nxt = self.peek()
            if not nxt or nxt in (",", "|"):
                break
            start = self.pos
            scale, values = self.element()
            if scale in allowed:
                raise self.error(
                    f"{scale!r} appears twice in one alternative; "
                    "put all its ranges in one pair of braces",
                    at=start,
                )
            allowed[scale] = values
        if not allowed:
            raise self.error("expected a scale such as hr{...}, wd{...}, md{...} or mo{...}")
        return _Alternative(allowed=tuple(allowed.items()))

    def element(self) -> tuple[str, frozenset[int]]:
        self.skip_blanks()
        start = self.pos
        match = _SCALE_RE.match(self.text, self.pos)
        if match is None:
            raise self.error(
                f"expected a scale (hr, min, wd, md, mo), found {self.text[self.pos]!r}"
            )
        word = match.group().lower()
        if word not in _SCALES:
            raise self.error(
                f"unknown scale {match.group()!r}; use hr, min, wd, md or mo", at=start
            )
        scale = _SCALES[word]
        self.pos = match.end()
        if self.peek() != "{":
            raise self.error(f"expected '{{' after {match.group()!r}")
        self.pos += 1
        values: set[int] = set()
        while True:
            nxt = self.peek()
            if nxt == "}":
                if not values:
                    raise self.error("empty braces: give at least one value or range")
                self.pos += 1
                return scale, frozenset(values)
            if not nxt:
                raise self.error("missing '}'")
            values |= self.range_(scale)

    def value(self, scale: str) -> int:
        self.skip_blanks()
        start = self.pos
        match = _VALUE_RE.match(self.text, self.pos)
        if match is None:
            found = self.text[self.pos] if self.pos < len(self.text) else "the end"
            raise self.error(f"expected {_SCALE_NAMES[scale]}, found {found!r}")
        self.pos = match.end()
        word = match.group().lower()
        number = _convert(scale, word)
        if number is None:
            raise self.error(f"{match.group()!r} is not {_SCALE_NAMES[scale]}", at=start)
        return number

    def range_(self, scale: str) -> set[int]:
        first = self.value(scale)
        if self.peek() != "-":
            return {first}
        self.pos += 1
        last = self.value(scale)
        low, high = _BOUNDS[scale]
        if first <= last:
            return set(range(first, last + 1))
        return set(range(first, high + 1)) | set(range(low, last + 1))  # wraps around


def _convert(scale: str, word: str) -> int | None:
    """The value of ``word`` on ``scale`` (weekdays ISO), or None when it is not one."""
    low, high = _BOUNDS[scale]
    if word.isdigit():
        number = int(word)
        if scale == "wd":  # Time::Period numbering: 1 = Sunday ... 7 = Saturday
            return 7 if number == 1 else number - 1 if 2 <= number <= 7 else None
        return number if low <= number <= high else None
    if scale == "hr":
        match = _HOUR_RE.fullmatch(word)
        if match is None:
            return None
        hour = int(match.group(1))
        if not 1 <= hour <= 12:
            return None
        return hour % 12 + (12 if match.group(2) == "pm" else 0)
    if scale == "wd":
        return _WEEKDAY_NAMES.get(word)
    if scale == "mo":
        return _MONTH_NAMES.get(word)
    return None


def parse_offpeak(expression: str) -> OffpeakPeriod:
    """Parse an off-peak expression (grammar in the module docstring).

    ``hr{6pm-5am}``, ``hr{18-5}``, ``wd{sat-sun}``, ``md{1}``, ``mo{jan} md{1}``,
    ``hr{6pm-5am}, wd{sat-sun}, mo{jan} md{1}, mo{dec} md{24-26}``. Raises
    :class:`OffpeakSyntaxError` naming the 1-based position and what is wrong.
    """
    if not isinstance(expression, str):
        raise OffpeakSyntaxError(
            expression=repr(expression),
            position=1,
            reason=f"must be a string, not {type(expression).__name__}",
        )
    return OffpeakPeriod(expression=expression, alternatives=_Parser(expression).period())


class PriceSet(StrEnum):
    """Which of a rate's price sets applies (§1.2 "Off-peak prices")."""

    PEAK = "peak"
    OFFPEAK1 = "offpeak1"
    OFFPEAK2 = "offpeak2"


def price_set(
    local_start: datetime,
    *,
    offpeak1: OffpeakPeriod | None = None,
    offpeak2: OffpeakPeriod | None = None,
) -> PriceSet:
    """The price set of a session starting at ``local_start`` (wall-clock time in the
    customer's billing time zone): off-peak 1 if its period holds, else off-peak 2 if its
    period holds, else peak. The whole session keeps it (§1.3, §7.6)."""
    if offpeak1 is not None and offpeak1.contains(local_start):
        return PriceSet.OFFPEAK1
    if offpeak2 is not None and offpeak2.contains(local_start):
        return PriceSet.OFFPEAK2
    return PriceSet.PEAK
