"""Money parsing and storage units (money conventions; CU-12, CC-17)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.money import (
    MONEY_PLACES,
    QUANTUM,
    AmountError,
    from_units,
    parse_amount,
    to_units,
)


def test_constants() -> None:
    assert MONEY_PLACES == 5
    assert QUANTUM == Decimal("0.00001")
    assert QUANTUM.as_tuple().exponent == -5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", "12.50000"),
        ("-3", "-3.00000"),
        ("0.00001", "0.00001"),
        ("+7.25", "7.25000"),
        ("  42.1 \n", "42.10000"),
        ("0", "0.00000"),
        ("-0", "0.00000"),
        ("007.5", "7.50000"),
        ("9999999999999.99999", "9999999999999.99999"),
        ("-9999999999999.99999", "-9999999999999.99999"),
        (5, "5.00000"),
        (-17, "-17.00000"),
        (0, "0.00000"),
        (Decimal("1.5"), "1.50000"),
        (Decimal("-0.00001"), "-0.00001"),
        (Decimal("1E+3"), "1000.00000"),
        (Decimal("1.000000"), "1.00000"),
    ],
)
def test_parse_amount_accepts(raw: str | int | Decimal, expected: str) -> None:
    result = parse_amount(raw)
    assert result == Decimal(expected)
    assert str(result) == expected
    assert result.as_tuple().exponent == -5


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        (1.5, "not float"),
        (True, "not bool"),
        (None, "not NoneType"),
        ("1e3", "exponent form is not accepted"),
        ("1E-2", "exponent form is not accepted"),
        ("NaN", "not a plain decimal"),
        ("Infinity", "not a plain decimal"),
        ("-inf", "not a plain decimal"),
        ("0.000001", "more than 5 decimal places"),
        ("1.000000", "more than 5 decimal places"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("1,5", "not a plain decimal"),
        ("1,000.00", "not a plain decimal"),
        ("12.3.4", "not a plain decimal"),
        ("+-1", "not a plain decimal"),
        ("--1", "not a plain decimal"),
        (".5", "not a plain decimal"),
        ("5.", "not a plain decimal"),
        ("1 000", "not a plain decimal"),
        ("\u0661\u0662", "not a plain decimal"),  # Arabic-Indic digits
        ("10000000000000", "too large"),
        ("-10000000000000.00000", "too large"),
        ("0000000000000010000000000000", "too large"),
        (10**13, "too large"),
        (-(10**13), "too large"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("0.000001"), "more than 5 decimal places"),
        (Decimal("1E+13"), "too large"),
    ],
)
def test_parse_amount_rejects(raw: object, reason_part: str) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(raw, field="price")  # type: ignore[arg-type]
    assert info.value.field == "price"
    assert reason_part in info.value.reason
    assert str(info.value) == f"price: {info.value.reason}"


def test_amount_error_message() -> None:
    with pytest.raises(AmountError) as info:
        parse_amount("0.000001")
    assert str(info.value) == "amount: more than 5 decimal places"
    assert info.value.field == "amount"
    assert info.value.reason == "more than 5 decimal places"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("amount", "units"),
    [
        (Decimal("0"), 0),
        (Decimal("0.00001"), 1),
        (Decimal("-0.00001"), -1),
        (Decimal("12.5"), 1_250_000),
        (Decimal("1.000000"), 100_000),
        (Decimal("9999999999999.99999"), 10**18 - 1),
    ],
)
def test_to_units(amount: Decimal, units: int) -> None:
    assert to_units(amount) == units


@pytest.mark.parametrize(
    "amount",
    [Decimal("0.000001"), Decimal("NaN"), Decimal("-Infinity"), Decimal("1E+13")],
)
def test_to_units_rejects(amount: Decimal) -> None:
    with pytest.raises(AmountError):
        to_units(amount)


def test_to_units_rejects_non_decimal() -> None:
    with pytest.raises(AmountError):
        to_units(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("units", "expected"),
    [(0, "0.00000"), (1, "0.00001"), (-1, "-0.00001"), (1_250_000, "12.50000")],
)
def test_from_units(units: int, expected: str) -> None:
    assert str(from_units(units)) == expected


@pytest.mark.parametrize("units", [10**18, -(10**18), True, 1.0])
def test_from_units_rejects(units: object) -> None:
    with pytest.raises(AmountError):
        from_units(units)  # type: ignore[arg-type]


_units = st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1)


@given(_units)
def test_units_round_trip(units: int) -> None:
    amount = from_units(units)
    assert amount.as_tuple().exponent == -5
    assert to_units(amount) == units


@given(_units)
def test_parse_amount_round_trips_its_own_output(units: int) -> None:
    amount = from_units(units)
    assert parse_amount(str(amount)) == amount
    assert to_units(parse_amount(str(amount))) == units
