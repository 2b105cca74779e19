"""Billing periods in the customer's time zone (CU-10; portabilling.md "Billing periods")."""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billcore.core.periods import (
    ANNIVERSARY_MAX_DAY,
    BillingPeriod,
    Period,
    local_day_start,
    next_period,
    period_containing,
    periods_between,
)

PRAGUE = "Europe/Prague"
NEW_YORK = "America/New_York"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def all_periods(
    *, anchor: datetime, end: datetime, period: BillingPeriod, zone: str
) -> list[Period]:
    return list(
        periods_between(start=anchor, end=end, period=period, time_zone=zone, anchor=anchor)
    )


def bounds(periods: list[Period]) -> list[tuple[datetime, datetime]]:
    return [(p.start, p.end) for p in periods]


# --- the enum --------------------------------------------------------------------------------


def test_api_ids() -> None:
    assert [(p.name, p.value) for p in BillingPeriod] == [
        ("DAILY", 1),
        ("WEEKLY", 2),
        ("SEMI_MONTHLY", 3),
        ("MONTHLY", 4),
        ("MONTHLY_ANNIVERSARY", 5),
        ("THIRTY_DAYS", 6),
    ]


def test_api_id_accepted_as_int() -> None:
    anchor = utc(2027, 1, 1)
    assert period_containing(
        at=anchor, period=4, time_zone="UTC", anchor=anchor
    ) == period_containing(at=anchor, period=BillingPeriod.MONTHLY, time_zone="UTC", anchor=anchor)


# --- daily and DST ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "hours"),
    [
        # Europe/Prague: spring forward 2027-03-28 02:00 -> 03:00, fall back 2027-10-31 03:00.
        (PRAGUE, date(2027, 3, 28), utc(2027, 3, 27, 23), utc(2027, 3, 28, 22), 23),
        (PRAGUE, date(2027, 10, 31), utc(2027, 10, 30, 22), utc(2027, 10, 31, 23), 25),
        (PRAGUE, date(2027, 3, 27), utc(2027, 3, 26, 23), utc(2027, 3, 27, 23), 24),
        # America/New_York: spring forward 2027-03-14, fall back 2027-11-07.
        (NEW_YORK, date(2027, 3, 14), utc(2027, 3, 14, 5), utc(2027, 3, 15, 4), 23),
        (NEW_YORK, date(2027, 11, 7), utc(2027, 11, 7, 4), utc(2027, 11, 8, 5), 25),
        (NEW_YORK, date(2027, 7, 4), utc(2027, 7, 4, 4), utc(2027, 7, 5, 4), 24),
    ],
)
def test_daily_dst_days(zone: str, day: date, start: datetime, end: datetime, hours: int) -> None:
    anchor = utc(2020, 1, 1)
    noon = datetime.combine(day, time(12), tzinfo=ZoneInfo(zone))
    p = period_containing(at=noon, period=BillingPeriod.DAILY, time_zone=zone, anchor=anchor)
    assert (p.start, p.end) == (start, end)
    assert p.duration == timedelta(hours=hours)
    assert p.local_start == datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))
    assert p.local_start_date == p.local_end_date == day
    assert p.start.tzinfo is UTC
    # The boundaries belong to exactly one side.
    assert (
        period_containing(at=end, period=BillingPeriod.DAILY, time_zone=zone, anchor=anchor).start
        == end
    )
    assert (
        period_containing(
            at=end - timedelta(microseconds=1),
            period=BillingPeriod.DAILY,
            time_zone=zone,
            anchor=anchor,
        )
        == p
    )


def test_daily_first_period_is_partial() -> None:
    anchor = local(PRAGUE, 2027, 3, 28, 14, 30)
    periods = all_periods(
        anchor=anchor, end=anchor + 2 * DAY, period=BillingPeriod.DAILY, zone=PRAGUE
    )
    assert bounds(periods) == [
        (utc(2027, 3, 28, 12, 30), utc(2027, 3, 28, 22)),
        (utc(2027, 3, 28, 22), utc(2027, 3, 29, 22)),
        (utc(2027, 3, 29, 22), utc(2027, 3, 30, 22)),
    ]


def test_anchor_at_local_midnight_gives_a_whole_first_period() -> None:
    anchor = local(PRAGUE, 2027, 3, 1)
    p = period_containing(at=anchor, period=BillingPeriod.MONTHLY, time_zone=PRAGUE, anchor=anchor)
    assert (p.start, p.end) == (utc(2027, 2, 28, 23), utc(2027, 3, 31, 22))
    assert (p.local_start_date, p.local_end_date) == (date(2027, 3, 1), date(2027, 3, 31))


def test_midnight_in_a_dst_gap_starts_the_day_at_the_end_of_the_gap() -> None:
    # America/Santiago springs forward at 24:00 -> 01:00 (2024-09-08 04:00Z).
    zone = "America/Santiago"
    assert local_day_start(date(2024, 9, 8), zone) == utc(2024, 9, 8, 4)
    p = period_containing(
        at=utc(2024, 9, 8, 12), period=BillingPeriod.DAILY, time_zone=zone, anchor=utc(2024, 1, 1)
    )
    assert (p.start, p.end) == (utc(2024, 9, 8, 4), utc(2024, 9, 9, 3))
    assert p.local_start.time() == time(1)
    assert p.duration == timedelta(hours=23)


def test_a_skipped_date_has_no_period() -> None:
    # Pacific/Apia jumped from 2011-12-29 24:00 (-10) to 2011-12-31 00:00 (+14).
    zone = "Pacific/Apia"
    anchor = utc(2011, 12, 1)
    periods = all_periods(
        anchor=local(zone, 2011, 12, 29),
        end=local(zone, 2012, 1, 1),
        period=BillingPeriod.DAILY,
        zone=zone,
    )
    assert [(p.local_start_date, p.duration) for p in periods] == [
        (date(2011, 12, 29), DAY),
        (date(2011, 12, 31), DAY),
    ]
    assert local_day_start(date(2011, 12, 30), zone) == utc(2011, 12, 30, 10)
    assert (
        period_containing(
            at=utc(2011, 12, 30, 10), period=BillingPeriod.DAILY, time_zone=zone, anchor=anchor
        )
        == periods[1]
    )


# --- weekly ----------------------------------------------------------------------------------


def test_weekly_partial_first_week_then_monday_to_monday() -> None:
    anchor = local(PRAGUE, 2027, 3, 3, 10)  # a Wednesday
    periods = all_periods(
        anchor=anchor, end=local(PRAGUE, 2027, 3, 30), period=BillingPeriod.WEEKLY, zone=PRAGUE
    )
    assert bounds(periods) == [
        (utc(2027, 3, 3, 9), utc(2027, 3, 7, 23)),
        (utc(2027, 3, 7, 23), utc(2027, 3, 14, 23)),
        (utc(2027, 3, 14, 23), utc(2027, 3, 21, 23)),
        (utc(2027, 3, 21, 23), utc(2027, 3, 28, 22)),  # contains the 23 h day
        (utc(2027, 3, 28, 22), utc(2027, 4, 4, 22)),
    ]
    assert periods[0].local_end_date == date(2027, 3, 7)  # Sunday
    assert periods[3].duration == 7 * DAY - HOUR
    assert all(p.local_start_date.weekday() == 0 for p in periods[1:])


# --- semi-monthly ----------------------------------------------------------------------------


def test_semi_monthly_leap_february_2028() -> None:
    anchor = local(PRAGUE, 2028, 1, 10, 8)
    periods = all_periods(
        anchor=anchor, end=local(PRAGUE, 2028, 3, 2), period=BillingPeriod.SEMI_MONTHLY, zone=PRAGUE
    )
    assert [(p.local_start_date, p.local_end_date) for p in periods] == [
        (date(2028, 1, 10), date(2028, 1, 15)),
        (date(2028, 1, 16), date(2028, 1, 31)),
        (date(2028, 2, 1), date(2028, 2, 15)),
        (date(2028, 2, 16), date(2028, 2, 29)),
        (date(2028, 3, 1), date(2028, 3, 15)),
    ]
    assert bounds(periods)[:4] == [
        (utc(2028, 1, 10, 7), utc(2028, 1, 15, 23)),
        (utc(2028, 1, 15, 23), utc(2028, 1, 31, 23)),
        (utc(2028, 1, 31, 23), utc(2028, 2, 15, 23)),
        (utc(2028, 2, 15, 23), utc(2028, 2, 29, 23)),
    ]
    assert periods[3].duration == 14 * DAY


# --- monthly ---------------------------------------------------------------------------------


def test_monthly_calendar_months() -> None:
    anchor = local(PRAGUE, 2027, 1, 20, 12)
    periods = all_periods(
        anchor=anchor, end=local(PRAGUE, 2027, 4, 1), period=BillingPeriod.MONTHLY, zone=PRAGUE
    )
    assert bounds(periods) == [
        (utc(2027, 1, 20, 11), utc(2027, 1, 31, 23)),
        (utc(2027, 1, 31, 23), utc(2027, 2, 28, 23)),
        (utc(2027, 2, 28, 23), utc(2027, 3, 31, 22)),
    ]
    assert periods[2].duration == 31 * DAY - HOUR


# --- monthly anniversary ---------------------------------------------------------------------


def test_anniversary_from_the_15th() -> None:
    anchor = local(PRAGUE, 2027, 1, 15, 8)
    periods = all_periods(
        anchor=anchor,
        end=local(PRAGUE, 2027, 4, 1),
        period=BillingPeriod.MONTHLY_ANNIVERSARY,
        zone=PRAGUE,
    )
    assert [(p.local_start_date, p.local_end_date) for p in periods] == [
        (date(2027, 1, 15), date(2027, 2, 14)),
        (date(2027, 2, 15), date(2027, 3, 14)),
        (date(2027, 3, 15), date(2027, 4, 14)),
    ]
    assert periods[0].start == utc(2027, 1, 15, 7)
    assert periods[0].end == periods[1].start == utc(2027, 2, 14, 23)


@pytest.mark.parametrize(
    ("anchor_day", "year"),
    [(31, 2027), (30, 2027), (29, 2027), (31, 2028), (29, 2028)],
)
def test_anniversary_29th_to_31st_runs_to_the_28th_then_28th_to_28th(
    anchor_day: int, year: int
) -> None:
    anchor = local(PRAGUE, year, 1, anchor_day, 10)
    periods = all_periods(
        anchor=anchor,
        end=local(PRAGUE, year, 5, 1),
        period=BillingPeriod.MONTHLY_ANNIVERSARY,
        zone=PRAGUE,
    )
    assert [(p.local_start_date, p.local_end_date) for p in periods] == [
        (date(year, 1, anchor_day), date(year, 2, 27)),
        (date(year, 2, 28), date(year, 3, 27)),
        (date(year, 3, 28), date(year, 4, 27)),
        (date(year, 4, 28), date(year, 5, 27)),
    ]
    assert periods[0].start == anchor
    assert periods[0].end == utc(year, 2, 27, 23)  # local midnight starting Feb 28
    assert ANNIVERSARY_MAX_DAY == 28


def test_anniversary_from_march_30th() -> None:
    anchor = local(NEW_YORK, 2027, 3, 30)
    periods = all_periods(
        anchor=anchor,
        end=local(NEW_YORK, 2027, 6, 1),
        period=BillingPeriod.MONTHLY_ANNIVERSARY,
        zone=NEW_YORK,
    )
    assert [p.local_start_date for p in periods] == [
        date(2027, 3, 30),
        date(2027, 4, 28),
        date(2027, 5, 28),
    ]


def test_anniversary_day_is_the_local_creation_day() -> None:
    # 2027-01-31 23:30Z is already February 1st in Prague.
    anchor = utc(2027, 1, 31, 23, 30)
    p = period_containing(
        at=anchor, period=BillingPeriod.MONTHLY_ANNIVERSARY, time_zone=PRAGUE, anchor=anchor
    )
    assert (p.local_start_date, p.local_end_date) == (date(2027, 2, 1), date(2027, 2, 28))


# --- 30 days ---------------------------------------------------------------------------------


def test_thirty_days_from_the_anchor_midnight_across_dst() -> None:
    anchor = local(PRAGUE, 2027, 3, 10, 15)
    periods = all_periods(
        anchor=anchor, end=local(PRAGUE, 2027, 5, 1), period=BillingPeriod.THIRTY_DAYS, zone=PRAGUE
    )
    assert bounds(periods) == [
        (utc(2027, 3, 10, 14), utc(2027, 4, 8, 22)),  # to 2027-04-09 00:00 CEST
        (utc(2027, 4, 8, 22), utc(2027, 5, 8, 22)),
    ]
    assert periods[1].duration == 30 * DAY
    assert (periods[1].local_start_date, periods[1].local_end_date) == (
        date(2027, 4, 9),
        date(2027, 5, 8),
    )
    later = period_containing(
        at=local(PRAGUE, 2027, 11, 1), period=6, time_zone=PRAGUE, anchor=anchor
    )
    assert later.local_start_date == date(2027, 3, 10) + 7 * 30 * DAY == date(2027, 10, 6)
    assert later.duration == 30 * DAY + HOUR  # contains the 25 h day of 2027-10-31


# --- API behaviour ---------------------------------------------------------------------------


def test_next_period_and_containing_agree() -> None:
    anchor = local(NEW_YORK, 2027, 2, 3, 9)
    p = period_containing(at=anchor, period=BillingPeriod.WEEKLY, time_zone=NEW_YORK, anchor=anchor)
    q = next_period(p, period=BillingPeriod.WEEKLY, anchor=anchor)
    assert q.start == p.end
    assert q == period_containing(
        at=p.end, period=BillingPeriod.WEEKLY, time_zone=NEW_YORK, anchor=anchor
    )


def test_periods_between_overlapping_whole_periods() -> None:
    anchor = utc(2027, 1, 1)
    got = list(
        periods_between(
            start=utc(2027, 1, 5, 12),
            end=utc(2027, 1, 7),
            period=BillingPeriod.DAILY,
            time_zone="UTC",
            anchor=anchor,
        )
    )
    assert bounds(got) == [(utc(2027, 1, 5), utc(2027, 1, 6)), (utc(2027, 1, 6), utc(2027, 1, 7))]
    empty = periods_between(
        start=utc(2027, 1, 7), end=utc(2027, 1, 7), period=1, time_zone="UTC", anchor=anchor
    )
    assert list(empty) == []


def test_period_contains_and_normalises_to_utc() -> None:
    p = Period(start=local(PRAGUE, 2027, 1, 1), end=local(PRAGUE, 2027, 1, 2), time_zone=PRAGUE)
    assert p.start == utc(2026, 12, 31, 23)
    assert p.start.tzinfo is UTC
    assert utc(2027, 1, 1, 22, 59) in p
    assert utc(2027, 1, 1, 23) not in p
    assert "2027-01-01" not in p


# --- validation ------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    aware = utc(2027, 1, 1)
    naive = datetime(2027, 1, 2)
    with pytest.raises(ValueError, match="at must be an aware datetime"):
        period_containing(at=naive, period=1, time_zone="UTC", anchor=aware)
    with pytest.raises(ValueError, match="anchor must be an aware datetime"):
        period_containing(at=aware, period=1, time_zone="UTC", anchor=naive)
    with pytest.raises(ValueError, match="start must be an aware datetime"):
        periods_between(start=naive, end=aware, period=1, time_zone="UTC", anchor=aware)
    with pytest.raises(ValueError, match="aware"):
        Period(start=naive, end=naive + DAY, time_zone="UTC")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe/prague "])
def test_unknown_zone_is_named(zone: str) -> None:
    anchor = utc(2027, 1, 1)
    with pytest.raises(ValueError, match="unknown time zone") as info:
        period_containing(at=anchor, period=1, time_zone=zone, anchor=anchor)
    assert repr(zone) in str(info.value)


def test_at_before_anchor_is_refused() -> None:
    anchor = utc(2027, 1, 1)
    with pytest.raises(ValueError, match="before the anchor"):
        period_containing(
            at=anchor - timedelta(microseconds=1), period=1, time_zone="UTC", anchor=anchor
        )
    with pytest.raises(ValueError, match="before the anchor"):
        periods_between(
            start=anchor - DAY, end=anchor + DAY, period=1, time_zone="UTC", anchor=anchor
        )


@pytest.mark.parametrize("bad", [0, 7, True])
def test_unknown_period_type(bad: int) -> None:
    anchor = utc(2027, 1, 1)
    with pytest.raises(ValueError, match="period"):
        period_containing(at=anchor, period=bad, time_zone="UTC", anchor=anchor)


def test_period_start_must_precede_end() -> None:
    with pytest.raises(ValueError, match="before its end"):
        Period(start=utc(2027, 1, 2), end=utc(2027, 1, 2), time_zone="UTC")


# --- properties ------------------------------------------------------------------------------

ZONES = [
    "UTC",
    PRAGUE,
    NEW_YORK,
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/St_Johns",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # DST gap at midnight
]

anchors = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)
horizons = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3 * 366))
kinds = st.sampled_from(list(BillingPeriod))
zones = st.sampled_from(ZONES)

# (min, max) local days spanned by a regular period of each type.
_LOCAL_DAYS = {
    BillingPeriod.DAILY: (1, 1),
    BillingPeriod.WEEKLY: (7, 7),
    BillingPeriod.SEMI_MONTHLY: (13, 16),
    BillingPeriod.MONTHLY: (28, 31),
    BillingPeriod.MONTHLY_ANNIVERSARY: (28, 31),
    BillingPeriod.THIRTY_DAYS: (30, 30),
}


def _is_day_start(instant: datetime, zone: ZoneInfo) -> bool:
    here = instant.astimezone(zone)
    before = (instant - timedelta(microseconds=1)).astimezone(zone)
    return before.date() < here.date() and here.time() <= time(1)


def _check_regular(p: Period, kind: BillingPeriod, zone: ZoneInfo, anchor: datetime) -> None:
    assert _is_day_start(p.start, zone)
    first = p.local_start_date
    days = (p.end.astimezone(zone).date() - first).days
    low, high = _LOCAL_DAYS[kind]
    assert low <= days <= high
    # At most one hour of DST shift in these zones.
    assert days * DAY - HOUR <= p.duration <= days * DAY + HOUR
    anchor_day = anchor.astimezone(zone).date()
    if kind is BillingPeriod.WEEKLY:
        assert first.weekday() == 0
    elif kind is BillingPeriod.SEMI_MONTHLY:
        assert first.day in (1, 16)
    elif kind is BillingPeriod.MONTHLY:
        assert first.day == 1
    elif kind is BillingPeriod.MONTHLY_ANNIVERSARY:
        assert first.day == min(anchor_day.day, 28)
    elif kind is BillingPeriod.THIRTY_DAYS:
        assert (first - anchor_day).days % 30 == 0


@settings(max_examples=60, deadline=None)
@given(
    anchor=anchors,
    horizon=horizons,
    kind=kinds,
    zone_key=zones,
    probes=st.lists(st.integers(min_value=0, max_value=10**18), max_size=8),
)
def test_periods_tile_time(
    anchor: datetime,
    horizon: timedelta,
    kind: BillingPeriod,
    zone_key: str,
    probes: list[int],
) -> None:
    zone = ZoneInfo(zone_key)
    end = anchor + horizon
    periods = all_periods(anchor=anchor, end=end, period=kind, zone=zone_key)
    assert periods[0].start == anchor
    assert periods[-1].end >= end
    for p, q in pairwise(periods):
        assert p.end == q.start  # no gap, no overlap
        assert next_period(p, period=kind, anchor=anchor) == q
    for p in periods:
        assert p.start < p.end
        assert p.time_zone == zone_key
    for p in periods[1:]:
        _check_regular(p, kind, zone, anchor)
    regular = period_containing(
        at=periods[0].end - timedelta(microseconds=1),
        period=kind,
        time_zone=zone_key,
        anchor=anchor,
    )
    assert regular == periods[0]
    # The first period is the regular one cut at the anchor.
    assert (
        0
        < (periods[0].end - anchor).total_seconds()
        <= (_LOCAL_DAYS[kind][1] * DAY + HOUR).total_seconds()
    )
    # Every instant in [anchor, end) is in exactly one period and period_containing finds it.
    starts = [p.start for p in periods]
    span = int((end - anchor) / timedelta(microseconds=1))
    for probe in probes:
        at = anchor + timedelta(microseconds=probe % span)
        matches = [p for p in periods if p.start <= at < p.end]
        assert len(matches) == 1
        assert periods[bisect.bisect_right(starts, at) - 1] == matches[0]
        assert (
            period_containing(at=at, period=kind, time_zone=zone_key, anchor=anchor) == matches[0]
        )


@settings(max_examples=150, deadline=None)
@given(anchor=anchors, horizon=horizons, kind=kinds, zone_key=zones)
def test_period_containing_contains(
    anchor: datetime, horizon: timedelta, kind: BillingPeriod, zone_key: str
) -> None:
    zone = ZoneInfo(zone_key)
    at = anchor + horizon
    p = period_containing(at=at, period=kind, time_zone=zone_key, anchor=anchor)
    assert p.start <= at < p.end
    assert at in p
    assert p.start >= anchor
    if p.start == anchor:
        assert anchor in p
    else:
        _check_regular(p, kind, zone, anchor)
        previous = period_containing(
            at=p.start - timedelta(microseconds=1), period=kind, time_zone=zone_key, anchor=anchor
        )
        assert previous.end == p.start


@settings(max_examples=60, deadline=None)
@given(anchor=anchors, days=st.integers(min_value=0, max_value=3 * 366), zone_key=zones)
def test_daily_lengths(anchor: datetime, days: int, zone_key: str) -> None:
    p = period_containing(
        at=anchor + days * DAY, period=BillingPeriod.DAILY, time_zone=zone_key, anchor=anchor
    )
    if p.start != anchor:
        assert timedelta(hours=23) <= p.duration <= timedelta(hours=25)
        assert p.local_start_date == p.local_end_date
