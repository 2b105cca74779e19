"""DIDs' pure rules (issue 14; rating-and-tabs.md §3.1; CU-02, CU-16): the customer price of
the reference's worked example to the last digit, vanity numbers on the keypad, and the time
a customer is charged for under its status history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from billcore.core.dids import (
    BadPattern,
    activation_price,
    charged_time,
    keypad_digits,
    pattern_regex,
    recurring_price,
)

UTC = dt.UTC


def at(day: int, month: int = 2) -> dt.datetime:
    return dt.datetime(2027, month, day, tzinfo=UTC)


def test_worked_example_recurring_and_activation() -> None:
    # §3.1: supplier 5.00/month + additional 1.00 + 10 % of 5.00 = 6.50; 2.00 + 3.00 = 5.00
    assert recurring_price(
        periodic_cost=D("5.00"), additional_recurring_fee=D("1.00"), markup_percent=D("10")
    ) == D("6.50000")
    assert activation_price(activation_cost=D("2.00"), additional_activation_fee=D("3.00")) == D(
        "5.00000"
    )


def test_markup_rounded_once_half_up() -> None:
    # 0.33333 * 12.5 % = 0.04166625 -> total 0.37499625 -> 0.37500 (one rounding, half up)
    assert recurring_price(
        periodic_cost=D("0.33333"), additional_recurring_fee=D("0"), markup_percent=D("12.5")
    ) == D("0.37500")
    # no markup, no additional fee: the supplier's cost
    assert recurring_price(
        periodic_cost=D("1.23456"), additional_recurring_fee=D("0"), markup_percent=D("0")
    ) == D("1.23456")


def test_keypad_digits() -> None:
    assert keypad_digits("1-800-FLOWERS") == "18003569377"
    assert keypad_digits("+1 (800) voip") == "18008647"
    with pytest.raises(BadPattern):
        keypad_digits("12#4")


def test_pattern_regex() -> None:
    assert pattern_regex("1800%VOIP") == "^1800[0-9]*8647$"
    assert pattern_regex("1_2?") == "^1[0-9]2[0-9]$"
    assert pattern_regex("1%%*%2") == "^1[0-9]*2$"  # a run of wildcards is one
    with pytest.raises(BadPattern):
        pattern_regex("18[0]")
    with pytest.raises(BadPattern):
        pattern_regex("  ")


def test_charged_time_without_history_is_the_whole_part() -> None:
    assert charged_time(start=at(1), end=at(15), changes=[], current_status="open") == (
        dt.timedelta(days=14)
    )
    # a customer that has always been terminated (no change recorded) pays nothing
    assert charged_time(
        start=at(1), end=at(15), changes=[], current_status="provisionally_terminated"
    ) == dt.timedelta(0)


def test_charged_time_skips_the_provisional_termination_cu16() -> None:
    changes = [
        (at(5), "open", "provisionally_terminated"),
        (at(20), "provisionally_terminated", "open"),
    ]
    # Feb 1..5 open (4 days), 5..20 terminated, 20..Mar 1 open (9 days)
    assert charged_time(start=at(1), end=at(1, 3), changes=changes, current_status="open") == (
        dt.timedelta(days=13)
    )
    # a part wholly inside the termination
    assert charged_time(start=at(6), end=at(19), changes=changes, current_status="open") == (
        dt.timedelta(0)
    )
    # a part starting after the reactivation
    assert charged_time(start=at(21), end=at(23), changes=changes, current_status="open") == (
        dt.timedelta(days=2)
    )


def test_blocked_and_suspended_keep_paying_cu02() -> None:
    changes = [(at(3), "open", "suspended"), (at(4), "suspended", "open")]
    assert charged_time(start=at(1), end=at(8), changes=changes, current_status="open") == (
        dt.timedelta(days=7)
    )
