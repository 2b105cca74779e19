"""Volume discount plan arithmetic: quotas, service wallets and discount bands applied to one
rated session (issue 13; ``rating-and-tabs.md`` §2 and §7, where §7 holds).

Pure rules, no Django, no database: the caller (``billcore.plans.applying``) reads the plans,
the counters and the wallets under lock, calls :func:`apply_plans` and writes what it returns.

The session as a line (§7.4)
============================

A rated session has a charged quantity ``T`` (whole seconds or base units, §1.7 step 4) and an
exact, unrounded cost. Its units ``[0, T)`` are laid on a line; a *point* on it is a pair
``(units, money)`` where ``money`` is the undiscounted cost of the units before it, computed as
the continuation of the same session (§7.4): the connection fee and the first interval belong
to the start, and the units after a band boundary are priced at the session's own next-unit
price, never as a new call::

    cost(x) = (C*U + P1*min(x, I1) + Pn*max(0, x - I1)) * (100 + S) / (U * 100)   for x > 0
    cost(0) = 0, cost(T) = the session's exact amount (the fee alone when T = 0)

A boundary measured in units sits at ``(x, cost(x))`` (the fee goes with the part before it);
a boundary measured in money (a money wallet running dry, a "money spent" band) sits exactly
at that money, its units being the largest position whose cost does not pass it.

Consumption order (§2.3 [INF], issue 13)
========================================

1. **Quotas**, in the order given (account -> add-on -> main product -> customer, the caller
   sorts them): each takes the units (or money) it still holds from the current point; a
   quota is a 100 % discount (the documented split example prints it as "-100 %").
2. **Wallets**, in the same order: a money wallet pays the *undiscounted* cost of the units it
   covers, a unit wallet the units; when one runs dry mid-session the rest goes on (§2.4
   [INF]: "charge the rest to the main balance, splitting the xDR").
3. **The main balance** pays the rest at the price the discounts leave: the one discount of
   highest precedence (account, add-on by precedence, main product: the caller picks it) and
   a customer-level discount on top of the price it leaves: ``cost * (1 - p1) * (1 - p2)``.

Counters (§2.2, §7.4)
=====================

Counters advance by **charged** units (or, measured in money, by the undiscounted cost, as
spending plans do, §2.2 [INF]); a discount counts only the part it priced (the units taken by
a quota or a wallet are not priced by it). Bands are ``[start_i, start_{i+1})``; below the
first band's start the standard price applies (0 %); the last band has no end (Unlimited).
A threshold of 400 minutes ends the first band before minute 400 (§2.2).

Rounding (§7.3)
===============

Unsplit: the amount charged to the main balance is the exact sum of its parts, rounded once to
5 decimals (ROUND_HALF_UP); a money wallet's take likewise. Split (a rule with "split xDRs"
whose boundary falls inside the session): each part is its own xDR, rounded on its own; the
two layouts may differ by 0.00001.

Thresholds for a partial first period (:func:`prorate`)
========================================================

``value * (period end - active from) / (period end - period start)`` exactly, then rounded
half-up once: to whole units for a unit threshold, to 5 decimals for money. A quota of 6000 s
in a 30-day period that the plan joins 15 days before its end -> 3000 s.

Rollovers (:func:`take_from_buckets`, :func:`renew_buckets`)
============================================================

A quota's volume lives in *buckets*: the current period's and up to 3 rolled-over ones, each
with its expiry. Consumption takes the earliest-expiring bucket first (``None``, never, last).
At renewal, expired buckets go, the unused rest of the ending period becomes a rollover that
expires ``rollovers`` periods later (none when 0), and a fresh bucket holds the full volume.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Final

from billcore.core.rating import PriceTerms, max_duration, rate_usage

__all__ = [
    "Band",
    "Bucket",
    "DiscountError",
    "DiscountRule",
    "Measure",
    "Outcome",
    "Part",
    "Point",
    "Pot",
    "SessionLine",
    "apply_plans",
    "band_percent",
    "check_bands",
    "max_duration_with_plans",
    "prorate",
    "proration_factor",
    "renew_buckets",
    "take_from_buckets",
]

_CTX: Final = Context(prec=60, rounding=ROUND_HALF_UP)
_PLACES: Final = Decimal("0.00001")
_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_SIXTY: Final = Decimal(60)
_ONE: Final = Decimal(1)
MAX_ROLLOVERS: Final = 3


class DiscountError(ValueError):
    """Invalid plan arithmetic input; ``field`` names it (``"bands"``, ``"percent"``, …)."""

    field: str
    reason: str

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Measure(StrEnum):
    """What a rule's counter counts: charged units or the undiscounted money spent."""

    UNITS = "units"
    MONEY = "money"


def money5(value: Decimal) -> Decimal:
    """One rounding to 5 decimals, half up (§7.3)."""
    return _CTX.quantize(value, _PLACES)


# --- bands -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Band:
    """A band starting at counter value ``start`` (units or money) with ``percent`` off."""

    start: Decimal
    percent: Decimal


def check_bands(bands: Sequence[tuple[object, object]] | Sequence[Band]) -> tuple[Band, ...]:
    """Validated bands sorted by start: starts >= 0, no two equal (overlap), percentages
    0-100. Raises :class:`DiscountError` naming ``threshold`` or ``percent``."""
    out: list[Band] = []
    for item in bands:
        start, percent = (item.start, item.percent) if isinstance(item, Band) else item
        for name, value in (("threshold", start), ("percent", percent)):
            if isinstance(value, bool) or not isinstance(value, Decimal | int):
                raise DiscountError(field=name, reason="must be a Decimal or an int")
            if not Decimal(value).is_finite() or value < 0:
                raise DiscountError(field=name, reason="must be a finite number >= 0")
        if Decimal(percent) > _HUNDRED:  # type: ignore[arg-type]
            raise DiscountError(field="percent", reason="must be at most 100")
        out.append(Band(Decimal(start), Decimal(percent)))  # type: ignore[arg-type]
    out.sort(key=lambda b: b.start)
    for earlier, later in itertools.pairwise(out):
        if earlier.start == later.start:
            raise DiscountError(
                field="threshold", reason=f"two bands start at {later.start} (they overlap)"
            )
    return tuple(out)


def band_percent(bands: Sequence[Band], counter: Decimal) -> Decimal:
    """The percentage of the band holding counter value ``counter`` (0 below the first)."""
    percent = _ZERO
    for band in bands:
        if band.start <= counter:
            percent = band.percent
        else:
            break
    return percent


# --- proration ---------------------------------------------------------------------------------


def proration_factor(
    *, period_start: datetime, period_end: datetime, active_from: datetime
) -> Decimal:
    """The share of ``[period_start, period_end)`` left from ``active_from`` (0..1, exact)."""
    whole = (period_end - period_start).total_seconds()
    if whole <= 0:
        raise DiscountError(field="period", reason="the period must end after it starts")
    left = (period_end - max(active_from, period_start)).total_seconds()
    left = min(max(left, 0.0), whole)
    return _CTX.divide(Decimal(int(left)), Decimal(int(whole)))


def prorate(value: Decimal, *, factor: Decimal, measure: Measure | str) -> Decimal:
    """A threshold for a partial first period: exact product, one half-up rounding (whole
    units, or 5 decimals for money)."""
    exact = _CTX.multiply(Decimal(value), factor)
    if Measure(measure) is Measure.UNITS:
        return _CTX.quantize(exact, _ONE)
    return money5(exact)


# --- the session line --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Point:
    """A place on the session line: money first (it orders the line), then units."""

    money: Decimal
    units: Decimal


class SessionLine:
    """The charged units of one session with their cumulative undiscounted cost (§7.4)."""

    def __init__(self, terms: PriceTerms, charged: int, *, amount: Decimal | None = None) -> None:
        self.terms = terms
        self.charged = charged
        unit = _SIXTY if terms.per_minute else _ONE
        self._fee = _CTX.multiply(terms.connection_fee, unit)
        self._mul = _CTX.add(_HUNDRED, terms.surcharge_percent)
        self._div = _CTX.multiply(unit, _HUNDRED)
        total = self._cost(Decimal(charged)) if amount is None else amount
        self.end = Point(total, Decimal(charged))
        self.start = Point(_ZERO, _ZERO)

    @classmethod
    def of_quantity(cls, terms: PriceTerms, quantity: int) -> SessionLine:
        """The line of a session of ``quantity`` connected units, rated as §1.7 does (a
        grace-waived session is empty)."""
        rated = rate_usage(quantity, terms)
        if rated.amount == 0 and rated.charged_quantity == 0:
            return cls(terms, 0, amount=_ZERO)
        return cls(terms, rated.charged_quantity)

    def _cost(self, x: Decimal) -> Decimal:
        t = self.terms
        first = Decimal(t.interval_first)
        numerator = _CTX.add(self._fee, _CTX.multiply(t.price_first, min(x, first)))
        if x > first:
            numerator = _CTX.add(numerator, _CTX.multiply(t.price_next, _CTX.subtract(x, first)))
        return _CTX.divide(_CTX.multiply(numerator, self._mul), self._div)

    def at_units(self, x: Decimal) -> Point:
        """The point after ``x`` units (the fee goes with the units before it)."""
        if x <= 0:
            return self.start
        if x >= self.end.units:
            return self.end
        return Point(self._cost(x), x)

    def at_money(self, m: Decimal) -> Point:
        """The point where ``m`` of undiscounted money is spent: exactly that money, and the
        largest position whose cost does not pass it."""
        if m <= 0:
            return self.start
        if m >= self.end.money:
            return self.end
        t = self.terms
        net = _CTX.divide(_CTX.multiply(m, self._div), self._mul)  # the numerator's scale
        first = Decimal(t.interval_first)
        if net < self._fee:
            return Point(m, _ZERO)
        after_fee = _CTX.subtract(net, self._fee)
        first_cost = _CTX.multiply(t.price_first, first)
        if after_fee <= first_cost:
            x = first if not t.price_first else _CTX.divide(after_fee, t.price_first)
        elif not t.price_next:
            x = self.end.units
        else:
            x = _CTX.add(first, _CTX.divide(_CTX.subtract(after_fee, first_cost), t.price_next))
        return Point(m, min(x, self.end.units))


# --- pots and rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pot:
    """What a quota or a wallet still holds (``available``, units or money) for this session.

    ``key`` is the caller's (e.g. the counter's id); ``kind`` is ``"quota"`` or ``"wallet"``;
    ``split`` whether the rule splits xDRs at its boundary."""

    key: object
    kind: str
    measure: Measure
    available: Decimal
    split: bool = False


@dataclass(frozen=True, slots=True)
class DiscountRule:
    """A discount's bands and its counter before the session."""

    key: object
    measure: Measure
    counter: Decimal
    bands: tuple[Band, ...]
    split: bool = False


@dataclass(frozen=True, slots=True)
class Part:
    """One stretch of the session with one payer and one price.

    ``payer`` is ``"main"`` or the key of the pot that paid; ``percent`` the discount of the
    main balance's price (100 for a quota, 0 for a wallet: it pays the standard price);
    ``money`` the undiscounted exact cost, ``exact`` what the payer pays (unrounded)."""

    payer: object
    kind: str  # "quota", "wallet" or "main"
    units: Decimal
    money: Decimal
    percent: Decimal
    exact: Decimal
    percents: tuple[Decimal, ...] = ()

    @property
    def amount(self) -> Decimal:
        """This part's own amount at 5 decimals (a split xDR's amount)."""
        return money5(self.exact)


@dataclass(slots=True)
class Outcome:
    """What a session takes: the parts, in order; whether the xDR is split; the amount
    charged to the main balance (rounded once when not split, the sum of the rounded parts
    when split); each pot's take (units or money, 5 decimals); each discount counter's
    advance; the weighted discount percentage of the main balance's price."""

    parts: list[Part]
    split: bool
    main_amount: Decimal
    taken: dict[object, Decimal] = field(default_factory=dict)
    advanced: dict[object, Decimal] = field(default_factory=dict)
    undiscounted: Decimal = _ZERO

    @property
    def discount_percent(self) -> Decimal:
        """The duration-weighted discount of the whole session as one xDR shows it (§2.2:
        100 % x 2/8 + 0 % x 6/8 = 25 %): ``1 - paid / cost``, 5 decimals."""
        if not self.undiscounted:
            return _ZERO
        paid = sum((p.exact for p in self.parts if p.kind == "main"), _ZERO)
        return money5(_CTX.multiply(_HUNDRED, _ONE - _CTX.divide(paid, self.undiscounted)))


def _advance(line: SessionLine, point: Point, pot: Pot) -> Point:
    if pot.measure is Measure.UNITS:
        return line.at_units(_CTX.add(point.units, pot.available))
    return line.at_money(_CTX.add(point.money, pot.available))


def _band_points(line: SessionLine, start: Point, rule: DiscountRule) -> list[Point]:
    points = []
    for band in rule.bands:
        if band.start <= rule.counter:
            continue
        gap = _CTX.subtract(band.start, rule.counter)
        if rule.measure is Measure.UNITS:
            p = line.at_units(_CTX.add(start.units, gap))
        else:
            p = line.at_money(_CTX.add(start.money, gap))
        if start < p < line.end:
            points.append(p)
    return points


def _value_at(rule: DiscountRule, start: Point, a: Point, b: Point) -> Decimal:
    """The rule's counter value in the middle of ``[a, b)`` (robust at boundaries)."""
    if rule.measure is Measure.UNITS:
        mid = _CTX.divide(_CTX.add(a.units, b.units), 2)
        return _CTX.add(rule.counter, _CTX.subtract(mid, start.units))
    mid = _CTX.divide(_CTX.add(a.money, b.money), 2)
    return _CTX.add(rule.counter, _CTX.subtract(mid, start.money))


def _pays(money: Decimal, percents: Sequence[Decimal]) -> Decimal:
    for percent in percents:
        money = _CTX.divide(_CTX.multiply(money, _CTX.subtract(_HUNDRED, percent)), _HUNDRED)
    return money


def apply_plans(
    line: SessionLine,
    *,
    quotas: Sequence[Pot] = (),
    wallets: Sequence[Pot] = (),
    discount: DiscountRule | None = None,
    customer_discount: DiscountRule | None = None,
) -> Outcome:
    """Quotas first, then wallets, then the discounted price against the main balance (see
    the module docstring). The 8-minute call at $0.10/min across the last 2 free minutes:
    parts 0.00 (quota, 120 s) and 0.60 (main); unsplit, one xDR of 0.60 (25 % off)."""
    parts: list[Part] = []
    taken: dict[object, Decimal] = {}
    split = False
    point = line.start
    for pot in (*quotas, *wallets):
        if point >= line.end or pot.available <= 0:
            continue
        nxt = _advance(line, point, pot)
        if nxt <= point:
            continue
        money = _CTX.subtract(nxt.money, point.money)
        units = _CTX.subtract(nxt.units, point.units)
        is_quota = pot.kind == "quota"
        parts.append(
            Part(
                payer=pot.key,
                kind="quota" if is_quota else "wallet",
                units=units,
                money=money,
                percent=_HUNDRED if is_quota else _ZERO,
                exact=_ZERO if is_quota else money,
            )
        )
        taken[pot.key] = money5(units if pot.measure is Measure.UNITS else money)
        if pot.split and nxt < line.end:
            split = True
        point = nxt
    advanced: dict[object, Decimal] = {}
    rules = [r for r in (discount, customer_discount) if r is not None]
    if point < line.end or (not parts and line.end.money > 0):
        start = point
        cuts = sorted({start, line.end, *(p for r in rules for p in _band_points(line, start, r))})
        for r in rules:
            if r.split and len(_band_points(line, start, r)) > 0:
                split = True
        for a, b in itertools.pairwise(cuts):
            percents = tuple(band_percent(r.bands, _value_at(r, start, a, b)) for r in rules)
            money = _CTX.subtract(b.money, a.money)
            exact = _pays(money, percents)
            combined = (
                _HUNDRED if not money else _CTX.multiply(_HUNDRED, _ONE - _CTX.divide(exact, money))
            )
            parts.append(
                Part(
                    payer="main",
                    kind="main",
                    units=_CTX.subtract(b.units, a.units),
                    money=money,
                    percent=money5(combined) if money else (percents[0] if percents else _ZERO),
                    exact=exact,
                    percents=percents,
                )
            )
        for r in rules:
            if r.measure is Measure.UNITS:
                advanced[r.key] = money5(_CTX.subtract(line.end.units, start.units))
            else:
                advanced[r.key] = money5(_CTX.subtract(line.end.money, start.money))
    parts = _merged(parts)
    if split:
        main = sum((p.amount for p in parts if p.kind == "main"), _ZERO)
    else:
        main = money5(sum((p.exact for p in parts if p.kind == "main"), _ZERO))
    return Outcome(
        parts=parts,
        split=split,
        main_amount=money5(main),
        taken=taken,
        advanced=advanced,
        undiscounted=line.end.money,
    )


def _merged(parts: list[Part]) -> list[Part]:
    """Adjacent main parts at the same percentages become one (a band crossed by a rule
    that does not split still gives one stretch per price, which is what we keep)."""
    out: list[Part] = []
    for p in parts:
        if out and p.kind == "main" and out[-1].kind == "main" and out[-1].percents == p.percents:
            q = out[-1]
            out[-1] = Part(
                payer=q.payer,
                kind=q.kind,
                units=_CTX.add(q.units, p.units),
                money=_CTX.add(q.money, p.money),
                percent=q.percent,
                exact=_CTX.add(q.exact, p.exact),
                percents=q.percents,
            )
        else:
            out.append(p)
    return out


def affordable_units(
    line_terms: PriceTerms,
    *,
    quota_units: Decimal,
    wallet_money: Decimal,
) -> Decimal:
    """Units of a session a quota's ``quota_units`` and a money wallet's ``wallet_money`` pay
    for before the main balance is touched (for the maximum duration, §4.3 [INF])."""
    probe = SessionLine(line_terms, 10**9)
    start = probe.at_units(quota_units)
    if wallet_money <= 0:
        return start.units
    return probe.at_money(_CTX.add(start.money, wallet_money)).units


# --- quota buckets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """Volume of one period of a quota: what is left and when it expires (None: never)."""

    volume: Decimal
    expires_at: datetime | None


def _expiry_key(bucket: Bucket) -> tuple[int, datetime | None]:
    return (1, None) if bucket.expires_at is None else (0, bucket.expires_at)


def take_from_buckets(
    buckets: Sequence[Bucket], amount: Decimal, *, at: datetime
) -> tuple[list[Bucket], Decimal]:
    """Take ``amount`` from the buckets still valid at ``at``, earliest-expiring first
    (§2.3). Returns the buckets afterwards (same order as given, expired ones kept) and what
    could not be taken."""
    order = sorted(
        (i for i, b in enumerate(buckets) if b.expires_at is None or b.expires_at > at),
        key=lambda i: _expiry_key(buckets[i]),
    )
    out = list(buckets)
    left = amount
    for i in order:
        if left <= 0:
            break
        take = min(out[i].volume, left)
        out[i] = Bucket(_CTX.subtract(out[i].volume, take), out[i].expires_at)
        left = _CTX.subtract(left, take)
    return out, left


def available_in(buckets: Sequence[Bucket], *, at: datetime) -> Decimal:
    """The volume of the buckets still valid at ``at``."""
    return sum((b.volume for b in buckets if b.expires_at is None or b.expires_at > at), _ZERO)


def renew_buckets(
    buckets: Sequence[Bucket],
    *,
    volume: Decimal,
    period_end: datetime | None,
    rollover_ends: Sequence[datetime],
    at: datetime,
) -> list[Bucket]:
    """The buckets of a new period that ends at ``period_end``: the expired ones dropped, the
    ending period's unused rest (the bucket that expires at ``at``, the new period's start)
    kept until ``rollover_ends[-1]`` (the end of the period ``len(rollover_ends)`` periods on;
    empty: no rollover), and a fresh bucket of ``volume``. At most 3 rollovers (§2.3)."""
    if len(rollover_ends) > MAX_ROLLOVERS:
        raise DiscountError(field="rollovers", reason=f"at most {MAX_ROLLOVERS}")
    out: list[Bucket] = []
    for b in buckets:
        if b.expires_at is not None and b.expires_at > at:
            out.append(b)
        elif b.expires_at == at and rollover_ends and b.volume > 0:
            out.append(Bucket(b.volume, rollover_ends[-1]))
    out.append(Bucket(Decimal(volume), period_end))
    return out


def floor_units(value: Decimal) -> int:
    """Whole units in ``value`` (rounded down)."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR, context=_CTX))


def max_duration_with_plans(
    money: Decimal | None,
    terms: PriceTerms,
    cap: int,
    *,
    quota_units: Decimal,
    wallet_money: Decimal,
) -> int:
    """The longest session whose part charged to the main balance fits ``money`` once a
    quota's ``quota_units`` and a wallet's ``wallet_money`` have paid for its start (§4.3
    [INF]: "first add the seconds still covered by applicable quotas (and units in wallets),
    then the money-funded seconds"), defined by what would be charged (§7.1): candidates are
    0, ``F`` and ``F + I1 + k*In``, capped by ``cap``. Discounts are not counted (the answer
    never promises more than the money pays)."""
    if quota_units <= 0 and wallet_money <= 0:
        return max_duration(money, terms, cap)
    if money is None or cap == 0:
        return cap if money is None else 0
    quotas = [Pot("q", "quota", Measure.UNITS, quota_units)]
    wallets = [Pot("w", "wallet", Measure.MONEY, wallet_money)]
    budget = max(money, _ZERO)

    def fits(duration: int) -> bool:
        line = SessionLine.of_quantity(terms, duration)
        return apply_plans(line, quotas=quotas, wallets=wallets).main_amount <= budget

    free, first, step = terms.free_seconds, terms.interval_first, terms.interval_next
    k_cap = max(0, -(-(cap - free - first) // step))
    if not fits(free + first):
        longest = free if free > 0 and fits(free) else 0
        return min(max(longest, terms.grace_period), cap)
    low, high = 0, 1
    while high <= k_cap and fits(free + first + high * step):
        low, high = high, high * 2
    high = min(high, k_cap + 1)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(free + first + middle * step):
            low = middle
        else:
            high = middle
    return min(free + first + low * step, cap)
