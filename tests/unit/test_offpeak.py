"""Off-peak expressions of core.offpeak (rating-and-tabs.md §1.3, §7.6): the grammar, the
half-open boundaries, errors naming the position, the price set of a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billcore.core.offpeak import (
    OffpeakSyntaxError,
    PriceSet,
    parse_offpeak,
    price_set,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


NIGHTS = parse_offpeak("hr{6pm-5am}")


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-03-02 17:59:59.999999", False),
        ("2026-03-02 18:00:00", True),  # [18:00, ...
        ("2026-03-02 23:59:59", True),
        ("2026-03-03 00:00:00", True),
        ("2026-03-03 05:59:59.999999", True),
        ("2026-03-03 06:00:00", False),  # ... 06:00): half-open, §7.6
        ("2026-03-03 12:00:00", False),
    ],
)
def test_hr_6pm_5am_is_18_to_06_half_open(moment: str, inside: bool) -> None:
    assert NIGHTS.contains(at(moment)) is inside
    assert parse_offpeak("hr{18-5}").contains(at(moment)) is inside


def test_12am_and_12pm() -> None:
    assert parse_offpeak("hr{12am}").contains(at("2026-03-02 00:30"))
    assert not parse_offpeak("hr{12am}").contains(at("2026-03-02 12:30"))
    assert parse_offpeak("hr{12pm}").contains(at("2026-03-02 12:30"))
    assert parse_offpeak("hr{9am-12pm}").contains(at("2026-03-02 12:59"))
    assert not parse_offpeak("hr{9am-12pm}").contains(at("2026-03-02 13:00"))


def test_weekends() -> None:
    weekend = parse_offpeak("wd{sat-sun}")
    assert weekend.contains(at("2026-03-07 00:00"))  # Saturday
    assert weekend.contains(at("2026-03-08 23:59"))  # Sunday
    assert not weekend.contains(at("2026-03-09 00:00"))  # Monday
    assert not weekend.contains(at("2026-03-06 23:59:59"))  # Friday
    # Time::Period numbering (1 = Sunday ... 7 = Saturday), full and two-letter names.
    for same in ("wd{7-1}", "wd{sa su}", "wd{Saturday-Sunday}", "wday { sat sun }"):
        period = parse_offpeak(same)
        assert period.contains(at("2026-03-07 12:00")), same
        assert period.contains(at("2026-03-08 12:00")), same
        assert not period.contains(at("2026-03-09 12:00")), same


def test_weekday_range_wraps() -> None:
    period = parse_offpeak("wd{fri-mon}")
    days = [period.contains(at(f"2026-03-{d:02d} 12:00")) for d in range(2, 9)]  # Mon..Sun
    assert days == [True, False, False, False, True, True, True]


def test_day_of_month_and_month() -> None:
    first = parse_offpeak("md{1}")
    assert first.contains(at("2026-04-01 09:00"))
    assert not first.contains(at("2026-04-02 00:00"))
    new_year = parse_offpeak("mo{jan} md{1}")
    assert new_year.contains(at("2027-01-01 15:00"))
    assert not new_year.contains(at("2027-02-01 15:00"))
    christmas = parse_offpeak("mo{dec} md{24-26}")
    assert christmas.contains(at("2026-12-24 00:00"))
    assert christmas.contains(at("2026-12-26 23:59:59"))
    assert not christmas.contains(at("2026-12-27 00:00"))
    assert not christmas.contains(at("2026-11-25 12:00"))


def test_combinations_must_all_hold() -> None:
    weekday_evenings = parse_offpeak("wd{mon-fri} hr{6pm-5am}")
    assert weekday_evenings.contains(at("2026-03-02 19:00"))  # Monday evening
    assert not weekday_evenings.contains(at("2026-03-07 19:00"))  # Saturday evening
    assert not weekday_evenings.contains(at("2026-03-02 12:00"))  # Monday noon


@pytest.mark.parametrize("separator", [", ", " | ", ","])
def test_alternatives_nights_or_weekends_or_holidays(separator: str) -> None:
    period = parse_offpeak(
        separator.join(["hr{6pm-5am}", "wd{sat-sun}", "mo{jan} md{1}", "mo{dec} md{24-26}"])
    )
    assert period.contains(at("2026-03-03 22:00"))  # Tuesday night
    assert period.contains(at("2026-03-07 12:00"))  # Saturday noon
    assert period.contains(at("2026-01-01 12:00"))  # New Year, a Thursday
    assert period.contains(at("2026-12-25 12:00"))  # Christmas, a Friday
    assert not period.contains(at("2026-03-03 12:00"))  # Tuesday noon
    assert len(period.alternatives) == 4


def test_minutes_and_several_ranges_in_one_pair_of_braces() -> None:
    period = parse_offpeak("hr{0-6 18-23} min{30-59}")
    assert period.contains(at("2026-03-02 06:45"))
    assert not period.contains(at("2026-03-02 06:15"))
    assert not period.contains(at("2026-03-02 07:45"))


def test_the_local_clock_is_what_counts() -> None:
    # The caller converts the start to the customer's billing zone; tzinfo is not consulted.
    start_utc = datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    assert not NIGHTS.contains(start_utc)
    local = start_utc.astimezone(ZoneInfo("Pacific/Auckland"))
    assert local.hour == 21  # 08:30 UTC is 21:30 in Auckland (UTC+13 in March)
    assert NIGHTS.contains(local)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("hr{25}", 4, "'25' is not an hour"),
        ("hr{6pm-13pm}", 8, "'13pm' is not an hour"),
        ("hr{0am}", 4, "'0am' is not an hour"),
        ("wd{sat-sunday2}", 8, "not a weekday"),
        ("wd{0}", 4, "not a weekday"),
        ("md{32}", 4, "not a day of month"),
        ("mo{13}", 4, "not a month"),
        ("mo{jan", 7, "missing '}'"),
        ("hr{}", 4, "empty braces"),
        ("yr{2026}", 1, "unknown scale 'yr'"),
        ("hr 6pm-5am", 4, "expected '{'"),
        ("hr{6pm-5am} wd{sat} hr{1}", 21, "'hr' appears twice"),
        ("hr{6pm-5am},", 13, "expected a scale"),
        ("hr{6pm-5am},, wd{sat}", 13, "expected a scale"),
        ("hr{6pm-}", 8, "expected an hour, found '}'"),
        ("hr{6pm-5am} }", 13, "expected a scale"),
        ("{6pm}", 1, "expected a scale"),
    ],
)
def test_errors_name_the_position(text: str, position: int, reason: str) -> None:
    with pytest.raises(OffpeakSyntaxError) as caught:
        parse_offpeak(text)
    assert caught.value.position == position, caught.value
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"off-peak expression, position {position}: ")
    assert isinstance(caught.value, ValueError)


def test_not_a_string() -> None:
    with pytest.raises(OffpeakSyntaxError):
        parse_offpeak(None)  # type: ignore[arg-type]


def test_price_set_from_the_session_start() -> None:
    nights = parse_offpeak("hr{6pm-5am}")
    weekends = parse_offpeak("wd{sat-sun}")
    tuesday_noon, tuesday_night = at("2026-03-03 12:00"), at("2026-03-03 22:00")
    saturday_noon, saturday_night = at("2026-03-07 12:00"), at("2026-03-07 22:00")
    assert price_set(tuesday_noon) is PriceSet.PEAK
    assert price_set(tuesday_night, offpeak1=nights) is PriceSet.OFFPEAK1
    assert price_set(tuesday_noon, offpeak1=nights, offpeak2=weekends) is PriceSet.PEAK
    assert price_set(saturday_noon, offpeak1=nights, offpeak2=weekends) is PriceSet.OFFPEAK2
    # Both hold: the first off-peak period wins (documented choice).
    assert price_set(saturday_night, offpeak1=nights, offpeak2=weekends) is PriceSet.OFFPEAK1
    assert price_set(saturday_night, offpeak2=weekends) is PriceSet.OFFPEAK2


@given(
    start=st.integers(min_value=0, max_value=23),
    end=st.integers(min_value=0, max_value=23),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_hour_ranges_are_half_open_whole_hours(start: int, end: int, moment: datetime) -> None:
    period = parse_offpeak(f"hr{{{start}-{end}}}")
    hours = (
        set(range(start, end + 1))
        if start <= end
        else set(range(start, 24)) | set(range(0, end + 1))
    )
    assert period.contains(moment) is (moment.hour in hours)
    # The same hour's first and last instant agree: boundaries fall on whole hours only.
    top = moment.replace(minute=0, second=0, microsecond=0)
    assert period.contains(top) is period.contains(top + timedelta(minutes=59, seconds=59))
