"""Measured services' arithmetic (rating-and-tabs.md §3.4 worked example, §7 item 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billcore.core.measured import (
    charge_amount,
    charged_quantity,
    mean,
    statistic,
    stored,
)


def test_the_references_example_max_12_minus_10_free_at_5_is_10() -> None:
    samples = [10, 10, 12, 11, 10]
    value = statistic(samples, basis="maximum")
    assert value == Decimal(12)
    quantity = charged_quantity(value, free_items=Decimal(10))
    assert quantity == Decimal(2)
    assert charge_amount(quantity, price=Decimal("5.00"), decimals=2) == Decimal("10.00000")


def test_average_and_minimum() -> None:
    assert statistic([10, 10, 12], basis="average") == mean(total=32, count=3)
    assert statistic([10, 10, 12], basis="minimum") == Decimal(10)
    assert statistic([], basis="maximum") is None  # no samples: nothing is invented
    with pytest.raises(ValueError):
        statistic([1], basis="median")


def test_average_is_not_rounded_to_whole_items_and_the_amount_is_rounded_once() -> None:
    # §7.5: (32/3 - 10) x 5.00 = 3.3333… rounded once, up at the currency's 2 decimals.
    value = statistic([10, 10, 12], basis="average")
    assert value is not None
    quantity = charged_quantity(value, free_items=Decimal(10))
    assert stored(quantity) == Decimal("0.66667")
    assert charge_amount(quantity, price=Decimal("5.00"), decimals=2) == Decimal("3.34000")
    # A currency with 3 decimals: 3.33333… up to 3.334.
    assert charge_amount(quantity, price=Decimal("5.00"), decimals=3) == Decimal("3.33400")


def test_free_items_above_the_statistic_charge_nothing() -> None:
    assert charged_quantity(Decimal(8), free_items=Decimal(10)) == Decimal(0)
    assert charge_amount(Decimal(0), price=Decimal("5.00"), decimals=2) == Decimal("0.00000")


def test_a_custom_pattern_rounds_the_amount() -> None:
    # 2.5 items x 0.37 = 0.925; pattern XXXXX.X5000 rounds to a multiple of 0.05 -> 0.90
    amount = charge_amount(
        Decimal("2.5"), price=Decimal("0.37"), decimals=2, custom_pattern="XXXXX.X5000"
    )
    assert amount == Decimal("0.90000")
