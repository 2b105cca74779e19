"""Money amounts: parsing, fixed-point storage units, and how an amount is shown.

Features: the money conventions of ``reference/portabilling.md`` (5 decimal places, never a
float) used by every amount-carrying feature (CU-05, CU-07, CU-08, CU-12, CC-17).

Every monetary amount in billcore is a :class:`~decimal.Decimal` with exactly
``MONEY_PLACES`` (5) decimal places. It is stored as a signed integer count of
units of ``QUANTUM`` (0.00001) in a 64-bit column, so magnitudes are limited to
``MAX_ABS_AMOUNT`` (exclusive), i.e. ``|units| < 10**18 < 2**63``.

Floats are never accepted: they cannot represent most decimal amounts exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Final

__all__ = [
    "MAX_ABS_AMOUNT",
    "MAX_ABS_UNITS",
    "MONEY_PLACES",
    "QUANTUM",
    "AmountError",
    "format_money",
    "from_units",
    "parse_amount",
    "to_units",
]

MONEY_PLACES: Final = 5
QUANTUM: Final = Decimal("0.00001")
#: Exclusive upper bound on the magnitude of an amount.
MAX_ABS_AMOUNT: Final = Decimal(10**13)
#: Exclusive upper bound on the magnitude of a unit count.
MAX_ABS_UNITS: Final = 10**18

# ASCII digits only: ``\d`` would also match non-ASCII digits, which Decimal accepts.
_AMOUNT_RE: Final = re.compile(r"[+-]?(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?")
_EXPONENT_RE: Final = re.compile(r"[+-]?[0-9.]+[eE][+-]?[0-9]+")
# Enough precision for any in-range amount scaled to units, with head room.
_PRECISION: Final = 40


class AmountError(ValueError):
    """An amount failed validation.

    ``str(error)`` is ``"<field>: <reason>"``, e.g. ``"amount: more than 5 decimal places"``.
    """

    field: str
    reason: str

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _check_decimal(value: Decimal, *, field: str) -> Decimal:
    """Validate a Decimal amount and return it quantized to 5 places."""
    if not value.is_finite():
        raise AmountError(field=field, reason="must be a finite number (not NaN or Infinity)")
    if abs(value) >= MAX_ABS_AMOUNT:
        raise AmountError(field=field, reason="too large: magnitude must be below 10**13")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        quantized = value.quantize(QUANTUM)
        if quantized != value:
            raise AmountError(field=field, reason=f"more than {MONEY_PLACES} decimal places")
        # Normalise negative zero so that "-0" parses to Decimal("0.00000").
        return quantized.copy_abs() if quantized.is_zero() else quantized


def parse_amount(value: str | int | Decimal, *, field: str = "amount") -> Decimal:
    """Parse a money amount into a Decimal with exactly 5 decimal places.

    Accepted inputs:

    * ``str``: optional surrounding whitespace, an optional ``+``/``-`` sign, ASCII
      digits, optionally ``.`` followed by 1-5 ASCII digits. Both sides of the dot
      need digits (``".5"`` and ``"5."`` are rejected). The written number of
      decimal places counts: ``"1.000000"`` is rejected as having more than 5.
      Exponent form, NaN/Infinity, grouping separators and decimal commas are rejected.
    * ``int`` (not ``bool``).
    * ``Decimal``: finite and exactly representable at 5 places (the value counts,
      not the written exponent: ``Decimal("1.000000")`` is accepted).

    Floats and any other type are rejected. Magnitudes ``>= 10**13`` are rejected.
    Every failure raises :class:`AmountError` carrying ``field``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AmountError(
            field=field,
            reason=f"must be a decimal string, int or Decimal, not {type(value).__name__}",
        )
    if isinstance(value, int):
        if abs(value) >= 10**13:
            raise AmountError(field=field, reason="too large: magnitude must be below 10**13")
        return Decimal(value).quantize(QUANTUM)
    if isinstance(value, Decimal):
        return _check_decimal(value, field=field)
    text = value.strip()
    if not text:
        raise AmountError(field=field, reason="must not be empty")
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        if "e" in text.lower() and _EXPONENT_RE.fullmatch(text):
            raise AmountError(
                field=field,
                reason="exponent form is not accepted; write the number out (e.g. '1000')",
            )
        raise AmountError(
            field=field,
            reason="not a plain decimal number (expected e.g. '12.5' or '-3')",
        )
    frac = match.group("frac")
    if frac is not None and len(frac) > MONEY_PLACES:
        raise AmountError(field=field, reason=f"more than {MONEY_PLACES} decimal places")
    if len(match.group("int").lstrip("0")) > 13:
        # Cheap guard before building a huge Decimal.
        raise AmountError(field=field, reason="too large: magnitude must be below 10**13")
    try:
        parsed = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees syntax
        raise AmountError(field=field, reason="not a plain decimal number") from exc
    return _check_decimal(parsed, field=field)


def to_units(amount: Decimal) -> int:
    """Convert an amount to an integer count of 0.00001 units, exactly.

    Raises :class:`AmountError` (field ``"amount"``) when ``amount`` is not a finite
    Decimal, has a non-zero digit beyond the 5th decimal place, or its magnitude is
    ``>= 10**13``. No rounding ever happens here.
    """
    if not isinstance(amount, Decimal):
        raise AmountError(field="amount", reason=f"must be a Decimal, not {type(amount).__name__}")
    checked = _check_decimal(amount, field="amount")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return int(checked.scaleb(MONEY_PLACES))


def from_units(units: int) -> Decimal:
    """Convert an integer count of 0.00001 units to a Decimal with exactly 5 places.

    Raises :class:`AmountError` (field ``"units"``) for non-int input (including ``bool``)
    or when ``|units| >= 10**18``.
    """
    if isinstance(units, bool) or not isinstance(units, int):
        raise AmountError(field="units", reason=f"must be an int, not {type(units).__name__}")
    if abs(units) >= MAX_ABS_UNITS:
        raise AmountError(field="units", reason="too large: magnitude must be below 10**18")
    return Decimal(units).scaleb(-MONEY_PLACES)


def format_money(value: Decimal | None, decimals: int) -> str:
    """``value`` as invoices, pages and e-mails show it: with the currency's ``decimals``
    places, more (up to 5) only when it has more non-zero digits, thousands grouped with ",".

    100.12300 in a 2-decimal currency is "100.123", 100.10000 is "100.10", 100 is "100.00";
    10.00123 is "10.00123", 0.00870 is "0.0087"; -0 is "0.00"; None is "". Exact: a Decimal
    quantized to the 5 stored places, never a float.
    """
    if value is None:
        return ""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        exact = value.quantize(QUANTUM)
        places = max(0, min(decimals, MONEY_PLACES))
        shown = exact.quantize(Decimal(1).scaleb(-places))
        if shown != exact:  # a non-zero digit beyond the currency's places: show every one
            shown = exact.normalize()
    if shown.is_zero():
        shown = shown.copy_abs()
    return format(shown, ",f")
