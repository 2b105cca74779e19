"""The volume discount plan arithmetic of core.discounts (issue 13, CU-13 Discounts and
Quotas & Service Wallets tabs): every worked example of rating-and-tabs.md §2 with exact
values, §7.3 (one rounding) and §7.4 (counters count charged units)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billcore.core.discounts import (
    Band,
    Bucket,
    DiscountError,
    DiscountRule,
    Measure,
    Pot,
    SessionLine,
    affordable_units,
    apply_plans,
    band_percent,
    check_bands,
    prorate,
    proration_factor,
    renew_buckets,
    take_from_buckets,
)
from billcore.core.rating import PriceTerms, rate_usage

D = Decimal
UTC = dt.UTC


def per_minute(price: str, *, first: int = 1, nxt: int = 1, fee: str = "0") -> PriceTerms:
    return PriceTerms(
        interval_first=first,
        interval_next=nxt,
        price_first=D(price),
        price_next=D(price),
        connection_fee=D(fee),
    )


def quota(available: int | str, *, key: object = "q", split: bool = False) -> Pot:
    return Pot(key=key, kind="quota", measure=Measure.UNITS, available=D(available), split=split)


def wallet(money: str, *, key: object = "w", split: bool = True) -> Pot:
    return Pot(key=key, kind="wallet", measure=Measure.MONEY, available=D(money), split=split)


def handbook(counter: int, *, split: bool) -> DiscountRule:
    """§2.2: US & Canada 400 min standard, next 700 min 10 % off, then 20 % (in seconds)."""
    return DiscountRule(
        key="d",
        measure=Measure.UNITS,
        counter=D(counter),
        bands=check_bands([(0, 0), (400 * 60, 10), (1100 * 60, 20)]),
        split=split,
    )


# --- §2.2 split example: 2 of 100 free minutes left, an 8-minute call at $0.10/min --------


@pytest.mark.parametrize("terms", [per_minute("0.10"), per_minute("0.10", first=60, nxt=60)])
def test_quota_split_on_gives_two_xdrs_0_and_0_60(terms: PriceTerms) -> None:
    out = apply_plans(SessionLine.of_quantity(terms, 480), quotas=[quota(120, split=True)])
    assert out.split is True
    assert [(p.kind, p.units, p.amount) for p in out.parts] == [
        ("quota", D(120), D("0.00000")),
        ("main", D(360), D("0.60000")),
    ]
    assert out.parts[0].percent == 100 and out.parts[1].percent == 0
    assert out.main_amount == D("0.60000")
    assert out.taken == {"q": D("120.00000")}


def test_quota_split_off_gives_one_xdr_0_60_at_25_percent() -> None:
    out = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 480), quotas=[quota(120)])
    assert out.split is False
    assert out.main_amount == D("0.60000")
    assert str(out.main_amount) == "0.60000"
    assert out.discount_percent == D("25.00000")
    assert out.taken == {"q": D("120.00000")}


def test_same_example_as_a_100_percent_discount_band() -> None:
    """The quota as a discount band (§2.3 [INF]): 100 % up to minute 100, 0 % after."""
    rule = DiscountRule(
        key="d",
        measure=Measure.UNITS,
        counter=D(98 * 60),
        bands=check_bands([(0, 100), (6000, 0)]),
        split=True,
    )
    out = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 480), discount=rule)
    assert [p.amount for p in out.parts] == [D("0.00000"), D("0.60000")]
    assert out.main_amount == D("0.60000")
    assert out.advanced == {"d": D("480.00000")}  # §7.4: charged units


# --- §2.2 threshold crossing: 395 -> 405 minutes costs 0.475 --------------------------------


@pytest.mark.parametrize("split", [True, False])
def test_band_crossing_395_to_405_minutes_costs_0_475(split: bool) -> None:
    terms = per_minute("0.05")  # per second at $0.05/min
    out = apply_plans(SessionLine.of_quantity(terms, 600), discount=handbook(395 * 60, split=split))
    assert out.main_amount == D("0.47500")
    assert out.split is split
    assert [(p.units, p.amount, p.percent) for p in out.parts] == [
        (D(300), D("0.25000"), D("0.00000")),
        (D(300), D("0.22500"), D("10.00000")),
    ]
    if not split:
        assert out.discount_percent == D("5.00000")  # 10 x 0.05 x 0.95 = 0.475
    assert out.advanced == {"d": D("600.00000")}  # counter 395 -> 405 min


def test_band_boundary_is_half_open_minute_400_is_in_the_next_band() -> None:
    """A threshold of 400 minutes: minutes 0-399 in the band, minute 400 starts the next."""
    bands = handbook(0, split=False).bands
    assert band_percent(bands, D(400 * 60 - 1)) == 0
    assert band_percent(bands, D(400 * 60)) == 10
    assert band_percent(bands, D(1100 * 60)) == 20
    assert band_percent(check_bands([(100, 50)]), D(5)) == 0  # below the first: standard


def test_one_rounding_when_not_split_parts_rounded_when_split() -> None:
    """§7.3: 1 s at $0.0123/min in two bands (0 %, 50 %): unsplit sums exactly, then rounds."""
    terms = per_minute("0.0123")
    rule = DiscountRule("d", Measure.UNITS, D(1), check_bands([(0, 0), (2, 50)]), split=False)
    out = apply_plans(SessionLine.of_quantity(terms, 3), discount=rule)
    # 0.000205 + 0.000205 * 2 * 0.5 = 0.00041 exactly -> 0.00041
    assert out.main_amount == D("0.00041")
    split = apply_plans(
        SessionLine.of_quantity(terms, 3),
        discount=DiscountRule("d", Measure.UNITS, D(1), rule.bands, split=True),
    )
    # parts 0.000205 -> 0.00021 and 0.000205 -> 0.00021: 0.00042, one unit of 10^-5 more
    assert [p.amount for p in split.parts] == [D("0.00021"), D("0.00021")]
    assert split.main_amount == D("0.00042")


def test_band_crossed_inside_the_first_interval_continues_the_session() -> None:
    """§7.4: units past a boundary are the same session's (no new fee, no new first unit)."""
    terms = PriceTerms(
        interval_first=60,
        interval_next=6,
        price_first=D("0.10"),
        price_next=D("0.05"),
        connection_fee=D("0.02"),
    )
    line = SessionLine.of_quantity(terms, 61)  # charged 66 s, 0.12500
    assert line.end.money == D("0.125")
    rule = DiscountRule("d", Measure.UNITS, D(0), check_bands([(0, 0), (30, 50)]), split=True)
    out = apply_plans(line, discount=rule)
    # first 30 s: fee 0.02 + 0.05 = 0.07; then 30 s of the first unit 0.05 + 6 s 0.005 at 50 %
    assert [p.amount for p in out.parts] == [D("0.07000"), D("0.02750")]
    assert out.main_amount == D("0.09750")


# --- money-measured discounts: "spend $20 on UK calls, then 30 % off" -----------------------


def test_money_band_spend_20_then_30_percent_off() -> None:
    rule = DiscountRule(
        "d", Measure.MONEY, D("19.50"), check_bands([(0, 0), (20, 30)]), split=False
    )
    out = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 600), discount=rule)
    # $1.00 call: 0.50 at full price, 0.50 at 30 % off = 0.35 -> 0.85
    assert out.main_amount == D("0.85000")
    assert out.advanced == {"d": D("1.00000")}  # undiscounted money spent (§2.2 [INF])
    assert [p.units for p in out.parts] == [D(300), D(300)]


# --- customer-level discount on top (issue 13 precedence) -----------------------------------


def test_customer_discount_applies_on_top_of_the_price_left() -> None:
    product = DiscountRule("p", Measure.UNITS, D(0), check_bands([(0, 10)]))
    customer = DiscountRule("c", Measure.UNITS, D(0), check_bands([(0, 50)]))
    out = apply_plans(
        SessionLine.of_quantity(per_minute("0.10"), 600),
        discount=product,
        customer_discount=customer,
    )
    assert out.main_amount == D("0.45000")  # 1.00 x 0.90 x 0.50
    assert out.advanced == {"p": D("600.00000"), "c": D("600.00000")}


# --- wallets ---------------------------------------------------------------------------------


def test_wallet_pays_the_call_europe_example() -> None:
    """§2.4 [INF]: wallet $5.00, a call rated $1.20 -> wallet 3.80, main balance untouched."""
    out = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 720), wallets=[wallet("5.00")])
    assert out.main_amount == D("0.00000")
    assert out.taken == {"w": D("1.20000")}
    assert out.split is False


def test_wallet_running_dry_mid_call_splits_the_rest_to_the_main_balance() -> None:
    out = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 720), wallets=[wallet("0.50")])
    assert out.split is True
    assert out.taken == {"w": D("0.50000")}
    assert [(p.kind, p.units, p.amount) for p in out.parts] == [
        ("wallet", D(300), D("0.50000")),
        ("main", D(420), D("0.70000")),
    ]
    assert out.main_amount == D("0.70000")


def test_order_quota_then_wallet_then_discounted_price() -> None:
    out = apply_plans(
        SessionLine.of_quantity(per_minute("0.10"), 900),
        quotas=[quota(300)],
        wallets=[wallet("0.20")],
        discount=DiscountRule("d", Measure.UNITS, D(0), check_bands([(0, 50)])),
    )
    assert [(p.kind, p.units, p.amount) for p in out.parts] == [
        ("quota", D(300), D("0.00000")),
        ("wallet", D(120), D("0.20000")),
        ("main", D(480), D("0.40000")),  # 0.80 at 50 %
    ]
    assert out.taken == {"q": D("300.00000"), "w": D("0.20000")}
    assert out.advanced == {"d": D("480.00000")}  # the discount counts what it priced


def test_quotas_consumed_in_the_given_precedence_order() -> None:
    out = apply_plans(
        SessionLine.of_quantity(per_minute("0.10"), 200),
        quotas=[quota(60, key="account"), quota(100, key="addon"), quota(500, key="main")],
    )
    assert out.taken == {"account": D(60), "addon": D(100), "main": D(40)}
    assert out.main_amount == D("0.00000")


def test_wallet_smaller_than_the_connection_fee() -> None:
    terms = per_minute("0.10", fee="0.05")
    out = apply_plans(SessionLine.of_quantity(terms, 60), wallets=[wallet("0.01")])
    assert out.taken == {"w": D("0.01000")}
    assert out.main_amount == D("0.14000")


# --- the line and the max duration ------------------------------------------------------------


def test_line_money_matches_rating_at_every_end() -> None:
    terms = PriceTerms(
        interval_first=60,
        interval_next=6,
        price_first=D("0.10"),
        price_next=D("0.05"),
        connection_fee=D("0.02"),
        surcharge_percent=D(10),
    )
    for seconds in (1, 59, 61, 66, 125, 3600):
        line = SessionLine.of_quantity(terms, seconds)
        assert line.end.money.quantize(D("0.00001")) == rate_usage(seconds, terms).amount


def test_grace_waived_session_has_nothing_to_apply() -> None:
    terms = PriceTerms(
        interval_first=60, interval_next=6, price_first=D(1), price_next=D(1), grace_period=5
    )
    out = apply_plans(SessionLine.of_quantity(terms, 3), quotas=[quota(100)])
    assert out.parts == [] and out.main_amount == 0 and out.taken == {}


def test_affordable_units_quota_seconds_then_wallet_money() -> None:
    terms = per_minute("0.10")
    assert affordable_units(terms, quota_units=D(120), wallet_money=D("0.50")) == D(420)
    assert affordable_units(terms, quota_units=D(0), wallet_money=D(0)) == D(0)


@settings(max_examples=150, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=7200),
    left=st.integers(min_value=0, max_value=7200),
    money=st.integers(min_value=0, max_value=500).map(lambda c: D(c) / 100),
    counter=st.integers(min_value=0, max_value=7200),
)
def test_parts_add_up_to_the_session(seconds: int, left: int, money: Decimal, counter: int) -> None:
    """Property: quota units + wallet money + main money account for the whole session; the
    unsplit main amount never exceeds the undiscounted remainder; nothing is negative."""
    terms = PriceTerms(
        interval_first=30,
        interval_next=6,
        price_first=D("0.07"),
        price_next=D("0.03"),
        connection_fee=D("0.01"),
    )
    line = SessionLine.of_quantity(terms, seconds)
    rule = DiscountRule("d", Measure.UNITS, D(counter), check_bands([(0, 0), (3600, 25)]))
    out = apply_plans(line, quotas=[quota(left)], wallets=[wallet(str(money))], discount=rule)
    assert sum((p.money for p in out.parts), D(0)) == line.end.money
    assert sum((p.units for p in out.parts), D(0)) == line.end.units
    assert all(p.exact >= 0 and p.units >= 0 for p in out.parts)
    assert out.taken.get("q", D(0)) <= left
    assert out.taken.get("w", D(0)) <= money
    assert out.main_amount <= line.end.money.quantize(D("0.00001"))


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bands", "field"),
    [
        ([(0, 10), (0, 20)], "threshold"),  # two bands at one threshold: overlap
        ([(0, -5)], "percent"),  # negative percentage
        ([(0, 101)], "percent"),
        ([(-1, 5)], "threshold"),
        ([(0.5, 5)], "threshold"),  # floats are refused
    ],
)
def test_bad_bands_are_refused_naming_the_field(bands: list, field: str) -> None:
    with pytest.raises(DiscountError) as err:
        check_bands(bands)
    assert err.value.field == field


def test_bands_are_sorted() -> None:
    assert check_bands([(100, 10), (0, 0)]) == (Band(D(0), D(0)), Band(D(100), D(10)))


# --- proration ---------------------------------------------------------------------------------


def test_prorated_first_period() -> None:
    factor = proration_factor(
        period_start=dt.datetime(2027, 11, 1, tzinfo=UTC),
        period_end=dt.datetime(2027, 12, 1, tzinfo=UTC),
        active_from=dt.datetime(2027, 11, 16, tzinfo=UTC),
    )
    assert factor == D("0.5")
    assert prorate(D(6000), factor=factor, measure="units") == D(3000)
    third = proration_factor(
        period_start=dt.datetime(2027, 11, 1, tzinfo=UTC),
        period_end=dt.datetime(2027, 12, 1, tzinfo=UTC),
        active_from=dt.datetime(2027, 11, 21, tzinfo=UTC),
    )
    assert prorate(D(100), factor=third, measure="units") == D(33)  # 33.33 -> 33
    assert prorate(D(20), factor=third, measure="money") == D("6.66667")
    assert proration_factor(
        period_start=dt.datetime(2027, 11, 1, tzinfo=UTC),
        period_end=dt.datetime(2027, 12, 1, tzinfo=UTC),
        active_from=dt.datetime(2027, 10, 1, tzinfo=UTC),
    ) == D(1)


# --- rollovers ---------------------------------------------------------------------------------


def at(day: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2027, month, day, tzinfo=UTC)


def test_rollover_used_earliest_expiring_first() -> None:
    buckets = [Bucket(D(100), at(1, 4)), Bucket(D(30), at(1, 3))]  # current, rolled over
    after, left = take_from_buckets(buckets, D(50), at=at(10, 2))
    assert after == [Bucket(D(80), at(1, 4)), Bucket(D(0), at(1, 3))]
    assert left == 0
    after, left = take_from_buckets(after, D(100), at=at(10, 2))
    assert after == [Bucket(D(0), at(1, 4)), Bucket(D(0), at(1, 3))]
    assert left == D(20)


def test_expired_buckets_give_nothing_never_expiring_last() -> None:
    buckets = [Bucket(D(10), None), Bucket(D(10), at(1, 2)), Bucket(D(10), at(1, 3))]
    after, left = take_from_buckets(buckets, D(15), at=at(5, 2))  # the first expired
    assert after == [Bucket(D(5), None), Bucket(D(10), at(1, 2)), Bucket(D(0), at(1, 3))]
    assert left == 0


def test_renewal_across_three_periods_with_one_rollover() -> None:
    """100 units a month, 1 rollover: January leaves 40 -> usable through February; February
    leaves its own 100 unused and January's 40 expires at the end of February."""
    jan = [Bucket(D(100), at(1, 2))]
    jan, _ = take_from_buckets(jan, D(60), at=at(15, 1))
    feb = renew_buckets(
        jan, volume=D(100), period_end=at(1, 3), rollover_ends=[at(1, 3)], at=at(1, 2)
    )
    assert feb == [Bucket(D(40), at(1, 3)), Bucket(D(100), at(1, 3))]
    feb, _ = take_from_buckets(feb, D(50), at=at(10, 2))
    assert sorted(b.volume for b in feb) == [D(0), D(90)]
    mar = renew_buckets(
        feb, volume=D(100), period_end=at(1, 4), rollover_ends=[at(1, 4)], at=at(1, 3)
    )
    assert mar == [Bucket(D(90), at(1, 4)), Bucket(D(100), at(1, 4))]
    no_roll = renew_buckets(feb, volume=D(100), period_end=at(1, 4), rollover_ends=[], at=at(1, 3))
    assert no_roll == [Bucket(D(100), at(1, 4))]
    with pytest.raises(DiscountError) as err:
        renew_buckets([], volume=D(1), period_end=None, rollover_ends=[at(1)] * 4, at=at(1))
    assert err.value.field == "rollovers"


# --- peak / off-peak counters ------------------------------------------------------------------


def test_peak_and_offpeak_counters_are_separate_rules() -> None:
    """Separate off-peak thresholds (§2.2): each price set has its own counter; the caller
    passes the rule of the session's price set. 30 off-peak free minutes are not touched by
    peak calls."""
    peak = DiscountRule("peak", Measure.UNITS, D(0), check_bands([(0, 0)]))
    offpeak = DiscountRule("off", Measure.UNITS, D(1700), check_bands([(0, 100), (1800, 0)]))
    out_peak = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 600), discount=peak)
    out_off = apply_plans(SessionLine.of_quantity(per_minute("0.10"), 600), discount=offpeak)
    assert out_peak.main_amount == D("1.00000")
    assert out_off.main_amount == D("0.83333")  # 100 s free, 500 s at 0.10/min
    assert out_off.advanced == {"off": D("600.00000")}
