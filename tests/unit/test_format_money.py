"""``core.money.format_money``: how every amount is shown (invoices, pages, e-mails) — the
currency's decimals, more (up to the 5 stored) only when the amount has them; exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.money import QUANTUM, format_money, from_units

D = Decimal


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        # The examples: a 2-decimal currency.
        ("100.123", 2, "100.123"),
        ("100.1", 2, "100.10"),
        ("100", 2, "100.00"),
        ("100.12300", 2, "100.123"),
        ("100.10000", 2, "100.10"),
        # Every stored digit when it is needed, never more than the 5 stored.
        ("10.00123", 2, "10.00123"),
        ("0.00870", 2, "0.0087"),
        ("0.00001", 2, "0.00001"),
        ("-0.00001", 2, "-0.00001"),
        ("12.34567", 2, "12.34567"),
        # Thousands grouped; signs kept; a negative zero is zero.
        ("1234567.5", 2, "1,234,567.50"),
        ("-1234.5", 2, "-1,234.50"),
        ("-3.00000", 2, "-3.00"),
        ("-0.00000", 2, "0.00"),
        ("0", 2, "0.00"),
        ("9999999999999.99999", 2, "9,999,999,999,999.99999"),
        # Other currencies' decimals: 0, 3, and more than the 5 stored.
        ("7.00000", 0, "7"),
        ("7.10000", 0, "7.1"),
        ("1234", 0, "1,234"),
        ("12.34500", 3, "12.345"),
        ("1234.5", 3, "1,234.500"),
        ("12.3", 3, "12.300"),
        ("12.3456", 3, "12.3456"),
        ("1.5", 5, "1.50000"),
        ("1.5", 8, "1.50000"),
        ("1.5", -1, "1.5"),
        # A Decimal written with other exponents shows the same.
        ("1E+2", 2, "100.00"),
        ("100.1230000000", 2, "100.123"),
    ],
)
def test_format_money_exact_values(value: str, decimals: int, shown: str) -> None:
    assert format_money(D(value), decimals) == shown


def test_format_money_of_nothing_is_empty() -> None:
    assert format_money(None, 2) == ""


@given(
    units=st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    decimals=st.integers(min_value=0, max_value=5),
)
def test_format_money_reads_back_exactly(units: int, decimals: int) -> None:
    """What is shown is the amount itself (no digit dropped, none invented), with at least
    the currency's decimals and at most the 5 stored."""
    amount = from_units(units)
    text = format_money(amount, decimals)
    assert D(text.replace(",", "")) == amount
    places = len(text.partition(".")[2])
    assert decimals <= places <= 5
    if places > decimals:  # more only when the last one shown is a non-zero digit
        assert text[-1] != "0"
    assert D(text.replace(",", "")).quantize(QUANTUM) == amount
