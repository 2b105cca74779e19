"""The rating arithmetic of core.rating: every worked example of rating-and-tabs.md §1.7 and
§4.3 with exact values, usage to base units, validation, and Hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billcore.core.rating import (
    BaseUnit,
    PriceTerms,
    Rated,
    RatingError,
    amount,
    charged_quantity,
    max_duration,
    rate_usage,
    to_base_units,
)

D = Decimal
BIG_CAP = 10**7


def _exact(result: Decimal, expected: str) -> None:
    """Value and digits: ``expected`` is written with exactly 5 decimal places."""
    assert result == D(expected)
    assert str(result) == expected


def example1(**changes: object) -> PriceTerms:
    """§1.7 example 1: 60/6, $0.10 first, $0.05 next, $0.02 connection fee."""
    fields: dict[str, object] = {
        "interval_first": 60,
        "interval_next": 6,
        "price_first": D("0.10"),
        "price_next": D("0.05"),
        "connection_fee": D("0.02"),
    }
    fields.update(changes)
    return PriceTerms(**fields)  # type: ignore[arg-type]


def per_second(price: str, fee: str = "0") -> PriceTerms:
    return PriceTerms(
        interval_first=1,
        interval_next=1,
        price_first=D(price),
        price_next=D(price),
        connection_fee=D(fee),
    )


# --- §1.7 worked example 1 -----------------------------------------------------------------


def test_example1_61_seconds() -> None:
    rated = rate_usage(61, example1())
    assert rated == Rated(charged_quantity=66, amount=D("0.12500"))
    _exact(rated.amount, "0.12500")


@pytest.mark.parametrize(
    ("seconds", "charged", "expected"),
    [
        (59, 60, "0.12000"),
        (60, 60, "0.12000"),
        (61, 66, "0.12500"),
        (66, 66, "0.12500"),
        (67, 72, "0.13000"),
        (125, 126, "0.17500"),
    ],
)
def test_example1_other_durations(seconds: int, charged: int, expected: str) -> None:
    assert charged_quantity(seconds, example1()) == charged
    _exact(amount(seconds, example1()), expected)


def test_example1_with_a_10_percent_surcharge_on_fee_and_call() -> None:
    # (0.02 + 0.10 + 0.005) * 1.10
    _exact(amount(61, example1(surcharge_percent=D(10))), "0.13750")


def test_example1_with_5_free_seconds() -> None:
    terms = example1(free_seconds=5)
    assert charged_quantity(61, terms) == 60  # d = 56 -> T = 60
    _exact(amount(61, terms), "0.12000")


def test_example1_with_a_3_second_grace_period() -> None:
    terms = example1(grace_period=3)
    assert rate_usage(3, terms) == Rated(charged_quantity=0, amount=D("0.00000"))  # §7.2
    _exact(amount(4, terms), "0.12000")  # past the grace: the whole call, fee included


def test_nothing_connected_costs_nothing_not_even_the_fee() -> None:
    assert rate_usage(0, example1()) == Rated(charged_quantity=0, amount=D("0.00000"))


def test_a_call_within_the_free_seconds_pays_the_fee_only() -> None:
    # §1.7 choice (b): free seconds do not waive the connection fee.
    terms = example1(free_seconds=10, surcharge_percent=D(10))
    assert rate_usage(10, terms) == Rated(charged_quantity=0, amount=D("0.02200"))


# --- §1.7 worked example 2 -----------------------------------------------------------------


def test_example2_per_second() -> None:
    _exact(amount(61, per_second("0.10")), "0.10167")  # 0.1016666... rounded once
    _exact(amount(61, per_second("0.10", fee="0.02")), "0.12167")
    _exact(amount(1, per_second("0.10")), "0.00167")
    _exact(amount(61, per_second("0.0123")), "0.01251")  # 0.012505, half up


# --- §1.7 worked example 3 (data) ----------------------------------------------------------


def test_example3a_lte_200_mb_at_20_per_gb() -> None:
    # Documented: 200 MB at $20 per GB (decimal units) = $4.00. Base unit MB, 1/1, $0.02/MB.
    mb = to_base_units(200 * 10**6, base_unit=BaseUnit.MB)
    terms = PriceTerms(
        interval_first=1,
        interval_next=1,
        price_first=D("0.02"),
        price_next=D("0.02"),
        per_minute=False,
    )
    assert mb == 200
    _exact(amount(mb, terms), "4.00000")
    # The same tariff written per GB (base unit GB would round 200 MB up to 1 GB): the
    # operator who wants the documented $4.00 rates data in MB.
    assert to_base_units(200 * 10**6, base_unit=BaseUnit.GB) == 1


def test_example3b_10_mib_plus_one_byte_at_5_cents_per_mb() -> None:
    terms = PriceTerms(
        interval_first=1,
        interval_next=1,
        price_first=D("0.05"),
        price_next=D("0.05"),
        per_minute=False,
    )
    decimal_mb = to_base_units(10_485_761, base_unit=BaseUnit.MB)  # 10.485761 -> 11
    binary_mb = to_base_units(10_485_761, base_unit=BaseUnit.MIB)  # 10 MiB + 1 byte -> 11
    assert decimal_mb == binary_mb == 11
    rated = rate_usage(decimal_mb, terms)
    assert rated == Rated(charged_quantity=11, amount=D("0.55000"))
    _exact(rated.amount, "0.55000")


def test_non_time_units_use_the_two_interval_model_per_unit() -> None:
    # 10/5 units at 0.01 per unit first, 0.002 per unit next, no per-minute proration.
    terms = PriceTerms(
        interval_first=10,
        interval_next=5,
        price_first=D("0.01"),
        price_next=D("0.002"),
        per_minute=False,
    )
    assert charged_quantity(11, terms) == 15
    _exact(amount(11, terms), "0.11000")  # 10 * 0.01 + 5 * 0.002


# --- usage to base units -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit", "reported", "expected"),
    [
        (61, "second", None, 61),
        (D("61.001"), "second", None, 62),
        (D("61.000"), "second", None, 61),
        (61_001, "second", "millisecond", 62),
        (1, "second", "millisecond", 1),
        (60_000, "second", "millisecond", 60),
        (0, "second", "millisecond", 0),
        (758, "KB", None, 1),
        (1000, "KB", None, 1),
        (1001, "KB", None, 2),
        (1024, "KiB", None, 1),
        (1025, "KiB", None, 2),
        (10**9, "GB", None, 1),
        (10**9 + 1, "GB", None, 2),
        (2**30, "GiB", None, 1),
        (999_999, "MB", None, 1),
        (5, "byte", None, 5),
        (3, "message", None, 3),
        (D("2.5"), "unit", None, 3),
        (0, "MB", None, 0),
    ],
)
def test_usage_rounds_up_to_whole_base_units(
    quantity: int | Decimal, unit: str, reported: str | None, expected: int
) -> None:
    assert to_base_units(quantity, base_unit=unit, reported=reported) == expected  # type: ignore[arg-type]


def test_data_is_decimal_mb_by_default_in_the_enum() -> None:
    assert BaseUnit.MB.value == "MB"
    assert to_base_units(10**6, base_unit="MB") == 1
    assert to_base_units(2**20, base_unit="MB") == 2  # 1 MiB is 1.048576 MB


@pytest.mark.parametrize(
    ("quantity", "unit", "reported", "field"),
    [
        (-1, "second", None, "quantity"),
        (1.5, "second", None, "quantity"),
        (True, "second", None, "quantity"),
        (D("NaN"), "second", None, "quantity"),
        (D("1.5"), "second", "millisecond", "quantity"),
        (D("1.5"), "message", None, "quantity"),
        (1, "parsec", None, "base_unit"),
        (1, "MB", "second", "reported"),
        (1, "second", "byte", "reported"),
    ],
)
def test_bad_usage_names_the_field(
    quantity: object, unit: str, reported: str | None, field: str
) -> None:
    with pytest.raises(RatingError) as caught:
        to_base_units(quantity, base_unit=unit, reported=reported)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"interval_first": 0}, "interval_first"),
        ({"interval_next": 0}, "interval_next"),
        ({"interval_next": -6}, "interval_next"),
        ({"interval_first": 1.0}, "interval_first"),
        ({"interval_first": True}, "interval_first"),
        ({"price_first": D("-0.01")}, "price_first"),
        ({"price_next": D("-0.00001")}, "price_next"),
        ({"price_next": 0.05}, "price_next"),
        ({"price_first": D("NaN")}, "price_first"),
        ({"price_first": D("Infinity")}, "price_first"),
        ({"connection_fee": D("-1")}, "connection_fee"),
        ({"free_seconds": -1}, "free_seconds"),
        ({"grace_period": -1}, "grace_period"),
        ({"surcharge_percent": D("-5")}, "surcharge_percent"),
        ({"per_minute": 1}, "per_minute"),
    ],
)
def test_bad_terms_raise_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RatingError) as caught:
        example1(**changes)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_int_prices_are_accepted_as_decimals() -> None:
    terms = example1(price_first=1, connection_fee=0)
    assert terms.price_first == D(1)
    assert isinstance(terms.price_first, Decimal)


@pytest.mark.parametrize("quantity", [-1, 1.5, True, "61"])
def test_bad_quantity(quantity: object) -> None:
    with pytest.raises(RatingError) as caught:
        amount(quantity, example1())  # type: ignore[arg-type]
    assert caught.value.field == "quantity"


def test_result_does_not_depend_on_the_callers_decimal_context() -> None:
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        _exact(amount(61, per_second("0.10")), "0.10167")
        assert to_base_units(D("123456.5"), base_unit="second") == 123457
        assert to_base_units(123_456_001, base_unit="second", reported="millisecond") == 123457
        assert max_duration(D(10), example1(), BIG_CAP) == max_duration(D(10), example1(), BIG_CAP)


# --- §4.3 maximum duration -----------------------------------------------------------------


def test_portaone_98_minutes() -> None:
    # A = $10, 60/6, $0.10/min, C = $0.20 -> 5 880 s = 98 min; §7.1 agrees (rate(5 880) is
    # exactly 10.00000, rate(5 886) = 10.01000).
    terms = example1(price_next=D("0.10"), connection_fee=D("0.20"))
    assert max_duration(D(10), terms, BIG_CAP) == 5880
    _exact(amount(5880, terms), "10.00000")
    _exact(amount(5881, terms), "10.01000")


def test_example1_tariff_with_one_dollar() -> None:
    terms = example1()
    assert max_duration(D("1.00"), terms, BIG_CAP) == 1116  # 18 min 36 s
    _exact(amount(1116, terms), "1.00000")
    assert charged_quantity(1117, terms) == 1122
    _exact(amount(1117, terms), "1.00500")


def test_example1_tariff_with_ten_cents_is_refused() -> None:
    # A' = 0.08 < c1 = 0.10; no free seconds -> refuse (0).
    assert max_duration(D("0.10"), example1(), BIG_CAP) == 0


def test_five_percent_surcharge() -> None:
    terms = example1(price_next=D("0.10"), connection_fee=D(0), surcharge_percent=D(5))
    assert max_duration(D(10), terms, BIG_CAP) == 5712
    _exact(amount(5712, terms), "9.99600")  # 9.52 * 1.05
    _exact(amount(5713, terms), "10.00650")  # 9.53 * 1.05 > 10


def test_per_second_0_0123() -> None:
    terms = per_second("0.0123")
    assert max_duration(D(1), terms, BIG_CAP) == 4878
    _exact(amount(4878, terms), "0.99999")
    _exact(amount(4879, terms), "1.00020")


# §7.1: the four §4.3 figures above are unchanged by §7.1 (each was checked against the
# stored amount). These show where §7.1 does decide differently from §4.3's formula alone.


def test_7_1_stored_amount_may_round_down_into_the_money() -> None:
    # 1/1 at 0.00001 per minute: one second costs 0.000000166..., stored as 0.00000. §4.3's
    # formula (exact, unrounded) would say 0.00001 pays 60 s; by the stored amount (§7.1)
    # 0.00001 pays 89 s (89 s = 0.0000148.. -> 0.00001; 90 s = 0.000015 -> 0.00002).
    terms = per_second("0.00001")
    assert max_duration(D("0.00001"), terms, BIG_CAP) == 89
    _exact(amount(89, terms), "0.00001")
    _exact(amount(90, terms), "0.00002")


def test_7_1_money_covering_only_the_fee_grants_the_free_seconds() -> None:
    terms = example1(free_seconds=30)
    # 0.02 covers the fee but not the first unit (0.12): the call stays in its free seconds.
    assert max_duration(D("0.02"), terms, BIG_CAP) == 30
    assert max_duration(D("0.01999"), terms, BIG_CAP) == 0
    # With money for the first unit, free seconds extend the call: 30 + 60 + k * 6.
    assert max_duration(D("0.12"), terms, BIG_CAP) == 90
    assert max_duration(D("1.00"), terms, BIG_CAP) == 30 + 1116


def test_the_cap_and_unlimited_money() -> None:
    terms = example1()
    assert max_duration(D(1000), terms, 10_800) == 10_800
    assert max_duration(None, terms, 10_800) == 10_800
    assert max_duration(D(1), terms, 1000) == 1000  # 1 116 affordable, cut at the cap
    assert max_duration(D(1), terms, 0) == 0
    assert max_duration(D(-5), terms, 10_800) == 0


def test_free_next_units_last_until_the_cap() -> None:
    terms = example1(price_next=D(0))
    assert max_duration(D("0.12"), terms, 10_800) == 10_800
    assert max_duration(D("0.11999"), terms, 10_800) == 0


def test_a_free_rate_lasts_until_the_cap() -> None:
    terms = PriceTerms(interval_first=1, interval_next=1, price_first=D(0), price_next=D(0))
    assert max_duration(D(0), terms, 10_800) == 10_800


def test_candidates_within_the_grace_period_cost_nothing() -> None:
    # §7.2: a session ending within the grace period is free, so it is affordable.
    terms = PriceTerms(
        interval_first=1,
        interval_next=1,
        price_first=D("0.10"),
        price_next=D("0.10"),
        connection_fee=D("0.50"),
        grace_period=5,
    )
    assert max_duration(D(0), terms, BIG_CAP) == 5
    assert max_duration(D("0.50"), terms, BIG_CAP) == 5  # 6 s would cost 0.51
    assert max_duration(D("0.51"), terms, BIG_CAP) == 6


@pytest.mark.parametrize(
    ("money", "cap", "field"),
    [(0.5, 10, "money"), (D("NaN"), 10, "money"), (D(1), -1, "cap"), (D(1), 1.5, "cap")],
)
def test_bad_max_duration_input(money: object, cap: object, field: str) -> None:
    with pytest.raises(RatingError) as caught:
        max_duration(money, example1(), cap)  # type: ignore[arg-type]
    assert caught.value.field == field


# --- properties ----------------------------------------------------------------------------

prices = st.decimals(min_value=D(0), max_value=D(5), places=5)
terms_strategy = st.builds(
    PriceTerms,
    interval_first=st.integers(min_value=1, max_value=120),
    interval_next=st.integers(min_value=1, max_value=60),
    price_first=prices,
    price_next=prices,
    connection_fee=st.decimals(min_value=D(0), max_value=D(1), places=5),
    free_seconds=st.integers(min_value=0, max_value=30),
    grace_period=st.integers(min_value=0, max_value=10),
    surcharge_percent=st.decimals(min_value=D(0), max_value=D(50), places=2),
    per_minute=st.booleans(),
)


@given(terms=terms_strategy, duration=st.integers(min_value=0, max_value=20_000))
def test_amount_never_decreases_as_the_duration_grows(terms: PriceTerms, duration: int) -> None:
    assert amount(duration, terms) <= amount(duration + 1, terms)
    assert amount(duration, terms) <= amount(duration + terms.interval_next, terms)


@given(terms=terms_strategy, duration=st.integers(min_value=0, max_value=20_000))
def test_charged_duration_is_whole_units(terms: PriceTerms, duration: int) -> None:
    charged = charged_quantity(duration, terms)
    if charged:
        assert charged >= terms.interval_first
        assert (charged - terms.interval_first) % terms.interval_next == 0
        assert charged >= duration - terms.free_seconds  # never under-billed
        assert charged - (duration - terms.free_seconds) < max(
            terms.interval_first, terms.interval_next
        )
    else:
        assert duration <= max(terms.free_seconds, terms.grace_period)
    assert amount(duration, terms).as_tuple().exponent == -5  # always 5 places


def _next_candidate(duration: int, terms: PriceTerms) -> int:
    """The candidate after ``duration``: F, G (the grace period alone), F + I1, then one
    next-unit more each time, whichever comes first after ``duration``."""
    start = terms.free_seconds + terms.interval_first
    if duration < start:
        shorter = [c for c in (terms.free_seconds, terms.grace_period) if duration < c < start]
        return min(shorter, default=start)
    return start + ((duration - start) // terms.interval_next + 1) * terms.interval_next


@settings(max_examples=300)
@given(
    terms=terms_strategy,
    money=st.decimals(min_value=D(0), max_value=D(50), places=5),
    cap=st.integers(min_value=0, max_value=20_000),
)
def test_max_duration_fits_the_money_and_one_more_unit_does_not(
    terms: PriceTerms, money: Decimal, cap: int
) -> None:
    duration = max_duration(money, terms, cap)
    assert 0 <= duration <= cap
    assert amount(duration, terms) <= money
    if duration < cap:
        assert amount(_next_candidate(duration, terms), terms) > money
        if duration >= terms.free_seconds + terms.interval_first:
            assert amount(duration + terms.interval_next, terms) > money
    # The same answer as walking every candidate (the definition of §7.1, no formula).
    assert duration == _walk(money, terms, cap)


def _walk(money: Decimal, terms: PriceTerms, cap: int) -> int:
    best = 0
    if terms.free_seconds and amount(terms.free_seconds, terms) <= money:
        best = terms.free_seconds
    if terms.grace_period > best and money >= 0:  # the grace period alone costs 0 (§7.2)
        best = terms.grace_period
    candidate = terms.free_seconds + terms.interval_first
    while True:
        if amount(candidate, terms) > money:
            return min(max(best, terms.grace_period if money >= 0 else 0), cap)
        best = candidate
        if candidate >= cap:
            return cap
        candidate += terms.interval_next


# --- the grace period when nothing longer fits (issue 12's decision on §7.1) ---------------


def test_grace_is_granted_when_not_even_the_first_unit_fits() -> None:
    # 60/6 at $0.10/min, $0.02 fee: the first unit costs 0.12. A 5-second grace period costs
    # nothing (§7.2), so an account with less than 0.12 is granted the 5 s, not refused.
    terms = example1(grace_period=5)
    assert max_duration(D("0.05"), terms, BIG_CAP) == 5
    assert max_duration(D(0), terms, BIG_CAP) == 5
    _exact(amount(5, terms), "0.00000")
    _exact(amount(6, terms), "0.12000")
    assert max_duration(D("0.12"), terms, BIG_CAP) == 60
    assert max_duration(D("1.00"), terms, BIG_CAP) == 1116


def test_grace_is_capped_and_overdrawn_money_gets_nothing() -> None:
    terms = example1(grace_period=30)
    assert max_duration(D(0), terms, 20) == 20
    assert max_duration(D("-0.01"), terms, BIG_CAP) == 0
    assert max_duration(D(0), example1(), BIG_CAP) == 0  # no grace: refused as before


def test_grace_longer_than_the_free_seconds_wins() -> None:
    # F = 3 costs the fee (0.02); G = 10 costs nothing: with 0.02 the longer, G, is granted.
    terms = example1(free_seconds=3, grace_period=10)
    assert max_duration(D("0.02"), terms, BIG_CAP) == 10
    assert max_duration(D("0.01"), terms, BIG_CAP) == 10
    # Free seconds longer than the grace period: F when the fee is covered, else G.
    terms = example1(free_seconds=30, grace_period=10)
    assert max_duration(D("0.02"), terms, BIG_CAP) == 30
    assert max_duration(D("0.01"), terms, BIG_CAP) == 10


def test_grace_longer_than_a_charged_candidate_is_granted() -> None:
    # 1-minute units, G = 100 s: 60 s costs nothing (within the grace), 120 s costs 0.20;
    # with 0 the grace period itself (100 s) is the longest free call.
    terms = PriceTerms(
        interval_first=60,
        interval_next=60,
        price_first=D("0.10"),
        price_next=D("0.10"),
        grace_period=100,
    )
    assert max_duration(D(0), terms, BIG_CAP) == 100
    _exact(amount(100, terms), "0.00000")
    _exact(amount(120, terms), "0.20000")
    assert max_duration(D("0.20"), terms, BIG_CAP) == 120


@settings(max_examples=300)
@given(
    terms=st.builds(
        PriceTerms,
        interval_first=st.integers(min_value=1, max_value=120),
        interval_next=st.integers(min_value=1, max_value=60),
        price_first=st.decimals(min_value=D("0.00001"), max_value=D(5), places=5),
        price_next=prices,
        connection_fee=st.decimals(min_value=D(0), max_value=D(1), places=5),
        free_seconds=st.integers(min_value=0, max_value=30),
        grace_period=st.integers(min_value=1, max_value=200),
        surcharge_percent=st.decimals(min_value=D(0), max_value=D(50), places=2),
        per_minute=st.booleans(),
    ),
    money=st.decimals(min_value=D(0), max_value=D(2), places=5),
    cap=st.integers(min_value=1, max_value=20_000),
)
def test_max_duration_with_grace_fits_and_the_next_candidate_does_not(
    terms: PriceTerms, money: Decimal, cap: int
) -> None:
    duration = max_duration(money, terms, cap)
    assert duration >= min(terms.grace_period, cap)  # the grace period is always affordable
    assert amount(duration, terms) <= money
    if duration < cap:
        assert amount(_next_candidate(duration, terms), terms) > money
    assert duration == _walk(money, terms, cap)
