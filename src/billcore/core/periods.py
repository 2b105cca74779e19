"""Billing periods in the customer's billing time zone (CU-10; ``reference/portabilling.md``,
section "Billing periods").

A billing period is a half-open interval ``[start, end)`` of UTC instants. Its boundaries are
*local* day starts in the customer's time zone (:mod:`zoneinfo`), so daylight-saving time is
handled by construction: a daily period on a spring-forward day lasts 23 h and on a fall-back
day 25 h, and "30 days" means 30 local days.

Period types (API ids in brackets), with ``B`` the regular boundaries:

* Daily [1]: every local midnight.
* Weekly [2]: every local Monday midnight (Monday-Sunday weeks).
* Semi-monthly [3]: the 1st and the 16th of every month (1st-15th, 16th-end of month).
* Monthly [4]: the 1st of every month (calendar month).
* Monthly anniversary [5]: day ``N`` of every month, ``N`` being the local day of month of the
  anchor (the customer's creation), so a period runs from day ``N`` to day ``N - 1`` of the next
  month inclusive. *Rule for N = 29, 30, 31* (portabilling.md: "customers created on the
  29th-31st run to the 28th of the next month first, then 28th to 28th"): the boundary day
  becomes 28 for good. The first period ends at the local midnight *starting* the 28th of the
  next month and every later period runs from the 28th to the 27th inclusive::

      created 2027-01-31 10:00 -> [Jan 31 10:00, Feb 28 00:00), [Feb 28, Mar 28), [Mar 28, Apr 28)
      created 2027-03-30 00:00 -> [Mar 30, Apr 28), [Apr 28, May 28), ...
      created 2027-01-15 08:00 -> [Jan 15 08:00, Feb 15 00:00) (last day Feb 14), [Feb 15, Mar 15)

  Boundary days never move afterwards (no "end of month" drift), so there is no gap and no
  overlap, and February needs no special case.
* 30 days [6]: every 30 local days counted from the local midnight of the anchor's day.

The first period always starts at the anchor itself (it is partial unless the anchor is exactly
a boundary) and never before it; every later period starts at a boundary. Consecutive periods
tile time: each ``end`` is the next ``start``.

Day starts. The boundary for local date ``D`` is the *first instant whose local date is D or
later*. That is local midnight, except where midnight falls into a DST gap (e.g.
America/Santiago, whose clocks jump from 24:00 to 01:00): then it is the end of the gap. A date
that a zone skipped entirely (Pacific/Apia, 2011-12-30) has no period of its own; its boundary
coincides with the next day's and the empty interval is never produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ANNIVERSARY_MAX_DAY",
    "BillingPeriod",
    "Period",
    "local_day_start",
    "next_period",
    "period_containing",
    "periods_between",
]

_ONE_DAY: Final = timedelta(days=1)
_ONE_MICROSECOND: Final = timedelta(microseconds=1)
#: The anniversary boundary day used for customers created on the 29th, 30th or 31st.
ANNIVERSARY_MAX_DAY: Final = 28


class BillingPeriod(IntEnum):
    """Billing period types with the product API's ids (portabilling.md)."""

    DAILY = 1
    WEEKLY = 2
    SEMI_MONTHLY = 3
    MONTHLY = 4
    MONTHLY_ANNIVERSARY = 5
    THIRTY_DAYS = 6


def _zone(time_zone: str) -> ZoneInfo:
    if not isinstance(time_zone, str):
        raise ValueError(f"time zone must be a string, not {type(time_zone).__name__}")
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc


def _aware(value: datetime, *, name: str) -> datetime:
    """Check that ``value`` is an aware datetime and return it in UTC."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got naive {value}")
    return value.astimezone(UTC)


def _billing_period(period: BillingPeriod | int) -> BillingPeriod:
    if isinstance(period, bool) or not isinstance(period, int):
        raise ValueError(f"period must be a BillingPeriod, not {type(period).__name__}")
    try:
        return BillingPeriod(period)
    except ValueError as exc:
        ids = ", ".join(f"{p.value} ({p.name})" for p in BillingPeriod)
        raise ValueError(f"unknown billing period {period!r}; expected one of {ids}") from exc


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first UTC instant whose local date in ``zone`` is ``day`` or later."""
    wall = datetime.combine(day, time(0), tzinfo=zone)  # fold=0: the earlier reading
    candidate = wall.astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return candidate  # midnight exists (if it is ambiguous, fold=0 is its first occurrence)
    # Midnight falls into a gap. With fold=0 zoneinfo reads it with the offset from before the
    # gap, with fold=1 with the offset from after it; the transition lies between the two
    # readings. Find it exactly by bisection on microseconds.
    low = wall.replace(fold=1).astimezone(UTC)  # local date before ``day``
    high = candidate  # local date ``day`` or later
    if low >= high:  # pragma: no cover - defensive; zoneinfo always brackets a gap
        return high
    while high - low > _ONE_MICROSECOND:
        middle = low + (high - low) / 2
        if _local_date(middle, zone) >= day:
            high = middle
        else:
            low = middle
    return high


def local_day_start(day: date, time_zone: str) -> datetime:
    """The UTC instant where local date ``day`` starts in ``time_zone``.

    Local midnight, or the end of the DST gap when midnight does not exist that day; for a
    date the zone skipped entirely, the start of the next existing date.
    """
    return _day_start(day, _zone(time_zone))


def _add_months(day: date, months: int, *, day_of_month: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, day_of_month)


def _regular_bounds(day: date, period: BillingPeriod, anchor_day: date) -> tuple[date, date]:
    """The local boundary dates ``(first day, day after the last day)`` of the regular
    (unclipped) period that contains local date ``day``."""
    if period is BillingPeriod.DAILY:
        return day, day + _ONE_DAY
    if period is BillingPeriod.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    if period is BillingPeriod.SEMI_MONTHLY:
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=16)
        return day.replace(day=16), _add_months(day, 1, day_of_month=1)
    if period is BillingPeriod.MONTHLY:
        first = day.replace(day=1)
        return first, _add_months(first, 1, day_of_month=1)
    if period is BillingPeriod.MONTHLY_ANNIVERSARY:
        boundary_day = min(anchor_day.day, ANNIVERSARY_MAX_DAY)
        if day.day >= boundary_day:
            return day.replace(day=boundary_day), _add_months(day, 1, day_of_month=boundary_day)
        return _add_months(day, -1, day_of_month=boundary_day), day.replace(day=boundary_day)
    # THIRTY_DAYS
    index = (day - anchor_day).days // 30
    first = anchor_day + timedelta(days=30 * index)
    return first, first + timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Period:
    """One billing period: UTC instants ``start`` (inclusive) and ``end`` (exclusive).

    ``time_zone`` is the customer's billing time zone in which the local dates are read:
    ``local_start_date`` is the local date of ``start`` and ``local_end_date`` the *last*
    local date the period covers (inclusive), e.g. ``2027-01-15`` .. ``2027-02-14`` for an
    anniversary period ``[Jan 15, Feb 15)``. Both datetimes are stored in UTC; construction
    validates that they are aware and that ``start < end``.
    """

    start: datetime
    end: datetime
    time_zone: str

    def __post_init__(self) -> None:
        start = _aware(self.start, name="start")
        end = _aware(self.end, name="end")
        _zone(self.time_zone)
        if not start < end:
            raise ValueError(f"period start {start} must be before its end {end}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def __contains__(self, instant: object) -> bool:
        if not isinstance(instant, datetime):
            return False
        return self.start <= _aware(instant, name="instant") < self.end

    @property
    def duration(self) -> timedelta:
        """Elapsed (physical) time from ``start`` to ``end``."""
        return self.end - self.start

    @property
    def local_start(self) -> datetime:
        """``start`` in the customer's time zone."""
        return self.start.astimezone(ZoneInfo(self.time_zone))

    @property
    def local_start_date(self) -> date:
        """The local date of ``start`` (the first day the period covers)."""
        return self.local_start.date()

    @property
    def local_end_date(self) -> date:
        """The last local date the period covers (inclusive): the day before the next period's
        ``local_start_date`` (barring a date the zone skipped)."""
        return (self.end - _ONE_MICROSECOND).astimezone(ZoneInfo(self.time_zone)).date()


def _containing(at: datetime, period: BillingPeriod, zone: ZoneInfo, anchor: datetime) -> Period:
    anchor_day = _local_date(anchor, zone)
    first, after = _regular_bounds(_local_date(at, zone), period, anchor_day)
    start, end = _day_start(first, zone), _day_start(after, zone)
    # Normally already right. Walk along the boundaries when local dates and instants disagree
    # (a zone whose clock went back across midnight); only ever in one direction.
    while at < start:
        first, after = _regular_bounds(first - _ONE_DAY, period, anchor_day)
        start, end = _day_start(first, zone), _day_start(after, zone)
    while at >= end:
        first, after = _regular_bounds(after, period, anchor_day)
        start, end = _day_start(first, zone), _day_start(after, zone)
    return Period(start=max(start, anchor), end=end, time_zone=zone.key)


def _validated(
    *, period: BillingPeriod | int, time_zone: str, anchor: datetime
) -> tuple[BillingPeriod, ZoneInfo, datetime]:
    return (
        _billing_period(period),
        _zone(time_zone),
        _aware(anchor, name="anchor"),
    )


def period_containing(
    *, at: datetime, period: BillingPeriod | int, time_zone: str, anchor: datetime
) -> Period:
    """The billing period that contains instant ``at`` (portabilling.md "Billing periods").

    ``anchor`` is the customer's creation time: it fixes the anniversary day (type 5) and the
    30-day grid (type 6), and the first period starts at it. ``period`` may be a
    :class:`BillingPeriod` or its API id. Examples (Europe/Prague):

    * daily, at 2027-03-28 12:00 local (spring forward) -> ``[2027-03-27 23:00Z,
      2027-03-28 22:00Z)``, 23 h;
    * weekly, anchor Wednesday 2027-03-03 10:00 -> first period ``[anchor, Monday 2027-03-08
      00:00 local)``, then Monday to Monday.

    Raises ``ValueError`` for a naive ``at`` or ``anchor``, an unknown time zone (named in the
    message), an unknown period type, or ``at`` before ``anchor``.
    """
    kind, zone, anchor_utc = _validated(period=period, time_zone=time_zone, anchor=anchor)
    at_utc = _aware(at, name="at")
    if at_utc < anchor_utc:
        raise ValueError(f"at ({at_utc}) is before the anchor ({anchor_utc}): no period yet")
    return _containing(at_utc, kind, zone, anchor_utc)


def next_period(p: Period, *, period: BillingPeriod | int, anchor: datetime) -> Period:
    """The period right after ``p`` (it starts at ``p.end``), in ``p.time_zone``.

    ``period`` and ``anchor`` must be the ones ``p`` was computed with.
    """
    kind, zone, anchor_utc = _validated(period=period, time_zone=p.time_zone, anchor=anchor)
    if p.end <= anchor_utc:
        raise ValueError(f"period end ({p.end}) is not after the anchor ({anchor_utc})")
    return _containing(p.end, kind, zone, anchor_utc)


def periods_between(
    *,
    start: datetime,
    end: datetime,
    period: BillingPeriod | int,
    time_zone: str,
    anchor: datetime,
) -> Iterator[Period]:
    """The consecutive periods that overlap ``[start, end)``, in order.

    The first one contains ``start`` and the last one contains the last instant before
    ``end``; periods are whole (not cut to ``[start, end)``), and nothing is yielded when
    ``end <= start``. Arguments are validated at call time (not at the first ``next()``) with
    the same errors as :func:`period_containing`; ``start`` must not be before ``anchor``.
    """
    kind, zone, anchor_utc = _validated(period=period, time_zone=time_zone, anchor=anchor)
    start_utc = _aware(start, name="start")
    end_utc = _aware(end, name="end")
    if start_utc < anchor_utc:
        raise ValueError(f"start ({start_utc}) is before the anchor ({anchor_utc}): no period yet")

    def generate() -> Iterator[Period]:
        if end_utc <= start_utc:
            return
        current = _containing(start_utc, kind, zone, anchor_utc)
        while True:
            yield current
            if current.end >= end_utc:
                return
            current = _containing(current.end, kind, zone, anchor_utc)

    return generate()
