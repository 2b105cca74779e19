"""Rounding: invoice rounding patterns (feature CC-17) and tax rounding helpers (CC-10).

Invoice rounding patterns (CC-17)
=================================

A pattern such as ``XXXXX.XX500`` has exactly 5 characters, a ``.``, and exactly 5 characters,
each one of ``X``, ``0``, ``5``. The 5 integer characters cover the 5 lowest integer places
(ten-thousands ... units), the 5 decimal characters cover 10^-1 ... 10^-5. ``X`` keeps the
digit in its place; ``0`` and ``5`` are *acting* places.

Validation (:func:`parse_pattern`, raising :class:`InvalidPatternError`):

* every ``X`` comes before every acting character, reading left to right;
* ``5`` may only be the *first* (most significant) acting character; every acting character
  after the first one is ``0``. So a pattern is fully described by its first acting place
  ``p`` (a power of ten) and that place's character; ``XXXXX.XXXXX`` has no acting place and
  rounds nothing.

Semantics. Let ``p`` be the first acting place and ``k = 10 * p`` the kept unit (the place
just before ``p``). Amounts round *by magnitude*: ``round(-x) == -round(x)``. Write
``|x| = q * k + r`` with ``0 <= r < k`` and let ``d`` be the digit of ``|x|`` at place ``p``
(``d = floor(r / p)``). Places left of the pattern (10^5 and up) are never rounded; they
change only through a carry out of the covered places.

* Currency default (mode ``"currency_default"``; pattern ``XXXXX.`` + ``decimals`` ``X`` +
  ``0`` padding, see :func:`currency_default_pattern`): ceiling by magnitude at the currency's
  precision. The result is ``q * k`` if ``r == 0`` and ``(q + 1) * k`` if *any* removed digit is
  non-zero (100.142 -> 100.15, 100.140 -> 100.14).
* Custom ``0`` first: half-up on the digit at ``p``: ``d <= 4`` -> ``q * k``,
  ``d >= 5`` -> ``(q + 1) * k``.
* Custom ``5`` first: ``d <= 2`` -> ``q * k``; ``3 <= d <= 7`` -> ``q * k + 5 * p``;
  ``d >= 8`` -> ``(q + 1) * k``.

Decision (ambiguity in the seed): custom patterns decide on the *digit* at ``p`` only; lower
places are simply removed (100.1429 with ``XXXXX.XX500`` -> 100.14; 100.1449 with
``XXXXX.XX000`` -> 100.14). Because ``d < n`` exactly when ``r < n * p``, this is the same as
comparing the whole removed remainder ``r`` against ``3p``, ``5p``, ``8p``.

Input amounts are money values (at most 5 decimal places, ``|x| < 10**13``, see
:mod:`billcore.core.money`); anything else raises :class:`~billcore.core.money.AmountError`,
as does a result that rounds up to ``10**13`` or beyond. Results always have exactly 5 places.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, localcontext
from typing import Final, Literal

from billcore.core.money import MAX_ABS_UNITS, MONEY_PLACES, AmountError, from_units, to_units

__all__ = [
    "InvalidPatternError",
    "RoundingMode",
    "RoundingPattern",
    "currency_default_pattern",
    "parse_pattern",
    "round_currency_default",
    "round_down",
    "round_half_up",
    "round_invoice_total",
    "round_malaysian_005",
    "round_up",
]

RoundingMode = Literal["currency_default", "custom"]

_PART_LENGTH: Final = 5
_PATTERN_CHARS: Final = frozenset("X05")
_ROUNDING_MODES: Final = ("currency_default", "custom")


class InvalidPatternError(ValueError):
    """A rounding pattern is malformed (CC-17).

    ``pattern`` is the text as given and ``reason`` says exactly what is wrong;
    ``str(error)`` is ``"invalid rounding pattern '<pattern>': <reason>"``.
    """

    pattern: str
    reason: str

    def __init__(self, *, pattern: str, reason: str) -> None:
        super().__init__(f"invalid rounding pattern {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RoundingPattern:
    """A validated invoice rounding pattern (CC-17).

    ``acting_exponent`` is the power of ten of the first acting place ``p`` (-5 ... 4) and
    ``acting_char`` its character; both are ``None`` for ``XXXXX.XXXXX`` (no rounding).
    Build instances with :func:`parse_pattern`.
    """

    text: str
    acting_exponent: int | None
    acting_char: Literal["0", "5"] | None

    @property
    def is_identity(self) -> bool:
        """True when the pattern has no acting place (``XXXXX.XXXXX``)."""
        return self.acting_exponent is None

    @property
    def acting_place(self) -> Decimal | None:
        """The first acting place ``p`` as a Decimal (``0.001`` for ``XXXXX.XX500``)."""
        if self.acting_exponent is None:
            return None
        return Decimal(1).scaleb(self.acting_exponent)

    @property
    def kept_unit(self) -> Decimal | None:
        """The kept unit ``k = 10 * p`` (``0.01`` for ``XXXXX.XX500``)."""
        if self.acting_exponent is None:
            return None
        return Decimal(1).scaleb(self.acting_exponent + 1)

    @property
    def decimals(self) -> int:
        """The decimal places a rounded result can have (CC-17): 2 for ``XXXXX.XX000`` and
        ``XXXXX.X5000`` (steps of 0.01 and 0.05), 3 for ``XXXXX.XX500`` (0.005), 5 for
        ``XXXXX.XXXXX`` (no rounding), 0 for any pattern acting on the units or above.
        A class with a currency accepts only patterns whose ``decimals`` do not exceed the
        currency's (``features.md``, the rounding decisions)."""
        if self.acting_exponent is None:
            return MONEY_PLACES
        step_exponent = (
            self.acting_exponent if self.acting_char == "5" else self.acting_exponent + 1
        )
        return max(0, -step_exponent)

    @property
    def step(self) -> Decimal | None:
        """What every rounded result is a multiple of: ``5p`` for a ``5`` pattern, else ``k``."""
        if self.acting_exponent is None:
            return None
        if self.acting_char == "5":
            return 5 * Decimal(1).scaleb(self.acting_exponent)
        return Decimal(1).scaleb(self.acting_exponent + 1)


def parse_pattern(text: str) -> RoundingPattern:
    """Validate and parse a rounding pattern such as ``XXXXX.XX500`` (CC-17).

    Raises :class:`InvalidPatternError` naming the problem: not a string, missing ``.``,
    more than one ``.``, a part that is not exactly 5 characters, a bad character (only
    ``X``, ``0``, ``5``), an ``X`` after an acting digit, or a ``5`` that is not the first
    acting place. Positions in messages are 1-based character positions in ``text``.
    No whitespace is stripped.
    """
    if not isinstance(text, str):
        raise InvalidPatternError(
            pattern=repr(text), reason=f"pattern must be a string, not {type(text).__name__}"
        )
    dots = text.count(".")
    if dots == 0:
        raise InvalidPatternError(
            pattern=text, reason="missing '.' between the integer and decimal parts"
        )
    if dots > 1:
        raise InvalidPatternError(pattern=text, reason=f"expected exactly one '.', found {dots}")
    integer_part, decimal_part = text.split(".")
    for label, part in (("integer", integer_part), ("decimal", decimal_part)):
        if len(part) != _PART_LENGTH:
            raise InvalidPatternError(
                pattern=text,
                reason=f"{label} part must be exactly 5 characters, got {len(part)}",
            )
    # (1-based position in text, power of ten, character)
    places = [(i + 1, 4 - i, ch) for i, ch in enumerate(integer_part)] + [
        (_PART_LENGTH + 2 + j, -(j + 1), ch) for j, ch in enumerate(decimal_part)
    ]
    for position, _, ch in places:
        if ch not in _PATTERN_CHARS:
            raise InvalidPatternError(
                pattern=text,
                reason=(
                    f"bad character {ch!r} at position {position}; "
                    "only 'X', '0' and '5' are allowed"
                ),
            )
    acting = [(position, exponent, ch) for position, exponent, ch in places if ch != "X"]
    if not acting:
        return RoundingPattern(text=text, acting_exponent=None, acting_char=None)
    first_position, first_exponent, first_char = acting[0]
    for position, _, ch in places:
        if ch == "X" and position > first_position:
            raise InvalidPatternError(
                pattern=text,
                reason=(
                    f"'X' at position {position} follows an acting digit; "
                    "every 'X' must come before the first '0' or '5'"
                ),
            )
    for position, _, ch in acting[1:]:
        if ch == "5":
            raise InvalidPatternError(
                pattern=text,
                reason=(
                    f"'5' at position {position} is not in the first acting place; "
                    "only the first acting place may be '5', the places after it must be '0'"
                ),
            )
    return RoundingPattern(
        text=text,
        acting_exponent=first_exponent,
        acting_char="5" if first_char == "5" else "0",
    )


def _check_decimals(decimals: int) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, not {type(decimals).__name__}")
    if not 0 <= decimals <= MONEY_PLACES:
        raise ValueError(f"decimals must be between 0 and {MONEY_PLACES}, got {decimals}")


def currency_default_pattern(*, decimals: int) -> str:
    """The currency-default pattern for a currency with ``decimals`` places (CC-17).

    ``"XXXXX."`` + ``decimals`` ``X`` + ``0`` up to 5 decimal places: USD (2) ->
    ``XXXXX.XX000``, a dinar (3) -> ``XXXXX.XXX00``, JPY (0) -> ``XXXXX.00000``.
    ``decimals`` must be 0 ... 5 (5 gives ``XXXXX.XXXXX``, no rounding).
    """
    _check_decimals(decimals)
    return "XXXXX." + "X" * decimals + "0" * (MONEY_PLACES - decimals)


_CURRENCY_DEFAULT_PATTERNS: Final = frozenset(
    currency_default_pattern(decimals=d) for d in range(MONEY_PLACES + 1)
)


def round_invoice_total(amount: Decimal, *, pattern: str, mode: RoundingMode) -> Decimal:
    """Round an invoice total with a rounding pattern (CC-17); see the module docstring.

    Rounding modes, by magnitude (``round(-x) == -round(x)``):

    * ``mode="currency_default"``: CEILING away from zero at the pattern's precision when any
      removed digit is non-zero. ``pattern`` must be a currency-default pattern
      (:func:`currency_default_pattern`), otherwise :class:`InvalidPatternError`.
    * ``mode="custom"``: a ``0`` first acting place rounds HALF-UP on the digit at that place;
      a ``5`` first acting place rounds to the nearest multiple of ``5p`` by the 0-2 / 3-7 /
      8-9 digit rule.

    Returns a Decimal with exactly 5 decimal places. Raises ``ValueError`` for an unknown
    ``mode``, :class:`InvalidPatternError` for a bad pattern and
    :class:`~billcore.core.money.AmountError` for an amount that is not a valid money value.
    """
    if mode not in _ROUNDING_MODES:
        raise ValueError(f"rounding mode must be one of {_ROUNDING_MODES}, got {mode!r}")
    parsed = parse_pattern(pattern)
    if mode == "currency_default" and pattern not in _CURRENCY_DEFAULT_PATTERNS:
        raise InvalidPatternError(
            pattern=pattern,
            reason=(
                "not a currency default pattern: expected 'XXXXX.' followed by "
                "the currency's decimals as 'X' and then '0's, e.g. 'XXXXX.XX000'"
            ),
        )
    units = to_units(amount)
    if parsed.acting_exponent is None:
        return from_units(units)
    magnitude = abs(units)
    p = 10 ** (parsed.acting_exponent + MONEY_PLACES)  # acting place, in 10^-5 units
    k = 10 * p  # kept unit
    q, r = divmod(magnitude, k)
    digit = r // p
    if mode == "currency_default":
        rounded = (q + 1) * k if r else q * k
    elif parsed.acting_char == "0":
        rounded = (q + 1) * k if digit >= 5 else q * k
    elif digit <= 2:
        rounded = q * k
    elif digit <= 7:
        rounded = q * k + 5 * p
    else:
        rounded = (q + 1) * k
    if rounded >= MAX_ABS_UNITS:
        raise AmountError(
            field="amount", reason="too large after rounding: magnitude must be below 10**13"
        )
    return from_units(-rounded if units < 0 else rounded)


def round_currency_default(amount: Decimal, *, decimals: int) -> Decimal:
    """Currency-default invoice rounding (CC-17): CEILING by magnitude at ``decimals`` places.

    Same as ``round_invoice_total(amount, pattern=currency_default_pattern(decimals=decimals),
    mode="currency_default")``; the result has exactly 5 decimal places.
    """
    return round_invoice_total(
        amount, pattern=currency_default_pattern(decimals=decimals), mode="currency_default"
    )


def _quantize(amount: Decimal, *, places: int, rounding: str) -> Decimal:
    if not isinstance(amount, Decimal):
        raise AmountError(field="amount", reason=f"must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise AmountError(field="amount", reason="must be a finite number (not NaN or Infinity)")
    if isinstance(places, bool) or not isinstance(places, int):
        raise TypeError(f"places must be an int, not {type(places).__name__}")
    if places < 0:
        raise ValueError(f"places must not be negative, got {places}")
    with localcontext() as ctx:
        ctx.prec = max(28, amount.adjusted() + places + 2)
        result = amount.quantize(Decimal(1).scaleb(-places), rounding=rounding)
    # No negative zero: round_down(Decimal("-0.001"), places=2) is Decimal("0.00").
    return result.copy_abs() if result.is_zero() else result


def round_half_up(amount: Decimal, *, places: int) -> Decimal:
    """HALF-UP rounding (ties away from zero) to ``places`` decimals (CC-10 tax option).

    1.205 -> 1.21, -1.205 -> -1.21, 1.204 -> 1.20. The result has exactly ``places`` decimals.
    """
    return _quantize(amount, places=places, rounding=ROUND_HALF_UP)


def round_up(amount: Decimal, *, places: int) -> Decimal:
    """UP rounding (away from zero, by magnitude) to ``places`` decimals (CC-10 tax default).

    1.204 -> 1.21, -1.204 -> -1.21, 1.200 -> 1.20. The result has exactly ``places`` decimals.
    """
    return _quantize(amount, places=places, rounding=ROUND_UP)


def round_down(amount: Decimal, *, places: int) -> Decimal:
    """DOWN rounding (toward zero, truncation) to ``places`` decimals (CC-10).

    1.209 -> 1.20, -1.209 -> -1.20. The result has exactly ``places`` decimals.
    """
    return _quantize(amount, places=places, rounding=ROUND_DOWN)


# Cents digit -> adjustment in cents for special Malaysian rounding.
_MALAYSIAN_ADJUST: Final = {0: 0, 1: -1, 2: -2, 3: 2, 4: 1, 5: 0, 6: -1, 7: -2, 8: 2, 9: 1}


def round_malaysian_005(amount: Decimal) -> Decimal:
    """Special Malaysian rounding to 0.05 (CC-10, GST Malaysia).

    Rounding mode: first HALF-UP to 2 places (cents), then by the cents digit:
    1-2 down to 0 (x.x1, x.x2 -> x.x0), 3-4 up to 5 (-> x.x5), 6-7 down to 5 (-> x.x5),
    8-9 up to the next 0 (x.x8, x.x9 -> x.x0 + 0.10); 0 and 5 stay. In effect: nearest
    multiple of 0.05 of the cent-rounded amount. Negative amounts round by magnitude
    (``f(-x) == -f(x)``). The result has exactly 2 decimal places.
    """
    cents = round_half_up(amount, places=2)
    with localcontext() as ctx:
        ctx.prec = max(28, cents.adjusted() + 4)
        magnitude = int(abs(cents).scaleb(2))
        rounded = magnitude + _MALAYSIAN_ADJUST[magnitude % 10]
        result = Decimal(-rounded if cents < 0 else rounded).scaleb(-2)
    return result.copy_abs() if result.is_zero() else result
