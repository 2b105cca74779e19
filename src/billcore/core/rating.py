"""Rating arithmetic: what one session costs, how long money lasts, which rate applies.

Pure rules (no Django, no database) behind issue 12, from ``rating-and-tabs.md`` §1.2-1.7,
§4.3 and §7 (where §7 differs from an earlier section, §7 holds).

Price terms (:class:`PriceTerms`)
=================================

One rate's price set together with its tariff's parameters: intervals first/next ``I1``/``In``
(whole seconds, or whole base units for a non-time service, each >= 1), prices first/next
``P1``/``Pn`` (per **minute** for time, per **base unit** otherwise), connection fee ``C``,
free seconds ``F``, grace period ``G`` and post-call surcharge ``S`` (%). Every value is
validated when the terms are built; a bad one raises :class:`RatingError` naming the field.
For a non-time service the same two-interval model applies to base units (a rate 1/1 at
$0.05 per MB charges whole MB); ``F`` and ``G`` then count base units.

The arithmetic (§1.7, §7.2, §7.3)
=================================

For a connected quantity ``D`` (seconds or base units)::

    1. D == 0          -> amount 0 (nothing connected, no connection fee)
    2. D <= G          -> charged 0, amount 0 (whole session in the grace period, §7.2)
    3. d = max(0, D - F)                         free seconds come off the start
    4. T = 0 if d == 0; I1 if d <= I1; else I1 + ceil((d - I1) / In) * In
    5. base = P1 * I1 / U + Pn * (T - I1) / U     (0 when T == 0; U = 60 for time, else 1)
    6. amount = (C + base) * (1 + S / 100)        the surcharge applies to the fee too
    7. one rounding: 5 decimals, ROUND_HALF_UP    (§7.3, nothing rounded before)

The exact value is computed as one quotient ``(C*U + P1*I1 + Pn*(T-I1)) * (100+S) / (U*100)``
with 60 significant digits, then quantized once: the divisor ``6000 = 2^4 * 3 * 5^3`` leaves
at worst a repeating 3 or 6, so the 60-digit quotient can never sit on a false half-way point.
Arithmetic runs in this module's own decimal context, whatever the caller's context is.

Usage to base units (:func:`to_base_units`)
===========================================

Always rounded **up** to a whole base unit (never under-bill, §1.1, §1.6): seconds (a
duration with milliseconds, or reported in milliseconds, rounds up: 61.001 s -> 62 s); bytes
to the service's base unit, **decimal** by default (``MB`` = 10^6 bytes, as PortaOne's own
LTE example), binary units as options (``KiB``, ``MiB``, ``GiB``); messages as counted.

Maximum duration (:func:`max_duration`, §4.3 as a first guess, §7.1 as the definition)
=====================================================================================

The candidates are the durations a network can be told: 0, the free seconds alone
(``F``, when ``F > 0``: the call stays within them), the grace period alone (``G``, when
``G > 0``: a call that ends within it costs 0, §7.2), and ``F + I1 + k*In`` for ``k >= 0``.
``max_duration`` returns the longest candidate whose amount **as stored** (:func:`amount`) is
``<= money``, capped by ``cap``: ``rate(T) <= A < rate(next candidate)``. §4.3's inversion
gives the first guess; the stored amount decides, moving by whole next-units. Consequences
(§7.1): ``A / (1 + S/100)`` is never rounded on its own; when ``A`` covers only the
connection fee, a call within the free seconds is granted ``F`` (not refused); a candidate
that ends inside the grace period costs 0 (§7.2) and is therefore affordable.

**Grace period (the decision of issue 12).** §7.1 defines ``T_max`` by the stored amount,
and a call no longer than ``G`` is stored at 0 whatever the money (§7.2): so when nothing
longer fits (not the first unit, nor the free seconds), a ``G > 0`` is still granted
(capped), also with ``money`` 0; the network cuts the call at ``G`` and it costs nothing.
A negative ``money`` (already overdrawn) affords nothing, not even the grace period: 0 is
more than it. Example: 60/6 at $0.10/min, $0.02 fee, ``G`` = 5 s, ``A`` = $0.05 -> 5 s
(the first unit would cost 0.12); ``A`` = $0.12 -> 60 s. ``money`` of
``None`` (no limit: a postpaid customer without a credit limit) and a zero next-price
(every further unit is free) give ``cap``. 0 means "not affordable": refuse.

Rate choice (:func:`choose_rate`, §1.4)
======================================

Longest-prefix match over a :class:`PrefixIndex`; ``|`` is the catch-all, tried last. For a
prefix, the row with the latest ``effective_from <= at`` decides; when that row is
discontinued the prefix has no rate at ``at`` (the search goes on with shorter prefixes), so
a discontinuation recorded either as a flag on the old row or as a new discontinued row from
a date ends the destination from that date. A **forbidden** row is a result (refuse the
session), never skipped. With an override tariff (§1.4 item 4) both tariffs are searched: the
longer matching prefix wins, the override wins a tie, no override match means the master's
rate, and a shorter forbidden override prefix does not block a longer master prefix.

Scale: :class:`PrefixIndex` is a dict ``prefix -> versions sorted by effective_from``. A
look-up walks the number's own prefixes from the longest that can exist (the index's longest
prefix) down to one digit, then ``|``: at most ``min(len(number), longest) + 1`` dict probes
and one bisect over the versions of the matching prefix, independent of the tariff's size.
100,000 prefixes cost one dict of 100,000 keys built once per tariff (measured on this
machine: ~0.25 s to build, ~27 MB beside the row objects, ~190,000 look-ups a second in one
process with 9-12 digit numbers); a catalogue that does not want to hold a tariff in memory
can instead fetch only the rows whose prefix is in :func:`candidate_prefixes` (one indexed
``IN`` query) and build a small index from them: the answer is the same.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Final, Generic, Literal, Protocol, TypeVar

__all__ = [
    "CATCH_ALL",
    "BaseUnit",
    "PrefixIndex",
    "PriceTerms",
    "RateChoice",
    "RateRow",
    "Rated",
    "RatingError",
    "amount",
    "candidate_prefixes",
    "charged_quantity",
    "choose_in_rows",
    "choose_rate",
    "max_duration",
    "rate_usage",
    "to_base_units",
]

#: The catch-all destination: matches any number when nothing more specific exists.
CATCH_ALL: Final = "|"

_PLACES: Final = Decimal("0.00001")
_ZERO: Final = Decimal(0)
_ZERO_AMOUNT: Final = Decimal("0.00000")
_HUNDRED: Final = Decimal(100)
_SIXTY: Final = Decimal(60)
_ONE: Final = Decimal(1)
# Every computation of this module runs in this context, never in the caller's.
_CTX: Final = Context(prec=60, rounding=ROUND_HALF_UP)


class RatingError(ValueError):
    """Input to the rating arithmetic is invalid.

    ``str(error)`` is ``"<field>: <reason>"``, e.g. ``"interval_first: must be at least 1"``.
    """

    field: str
    reason: str

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _check_int(value: object, *, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RatingError(field=field, reason=f"must be an int, not {type(value).__name__}")
    if value < minimum:
        raise RatingError(field=field, reason=f"must be at least {minimum}")
    return value


def _check_decimal(value: object, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise RatingError(
            field=field, reason=f"must be a Decimal or an int, not {type(value).__name__}"
        )
    number = Decimal(value)
    if not number.is_finite():
        raise RatingError(field=field, reason="must be a finite number")
    if number < 0:
        raise RatingError(field=field, reason="must not be negative")
    return number


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """The price terms of one rate's price set plus its tariff's parameters (§1.2, §1.7).

    ``per_minute`` is True for a time service (quantities in seconds, prices per minute) and
    False otherwise (quantities and prices per base unit). Validated on construction:
    intervals are ints >= 1, free seconds and grace period ints >= 0, prices, the connection
    fee and the surcharge finite Decimals (or ints) >= 0; floats are refused.
    """

    interval_first: int
    interval_next: int
    price_first: Decimal
    price_next: Decimal
    connection_fee: Decimal = _ZERO
    free_seconds: int = 0
    grace_period: int = 0
    surcharge_percent: Decimal = _ZERO
    per_minute: bool = True
    # Derived once: the exact numerator pieces of step 5-6 (see the module docstring).
    _fee_scaled: Decimal = field(init=False, repr=False, compare=False)
    _first_unit: Decimal = field(init=False, repr=False, compare=False)
    _factor: Decimal = field(init=False, repr=False, compare=False)
    _divisor: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_int(self.interval_first, field="interval_first", minimum=1)
        _check_int(self.interval_next, field="interval_next", minimum=1)
        _check_int(self.free_seconds, field="free_seconds", minimum=0)
        _check_int(self.grace_period, field="grace_period", minimum=0)
        for name in ("price_first", "price_next", "connection_fee", "surcharge_percent"):
            object.__setattr__(self, name, _check_decimal(getattr(self, name), field=name))
        if not isinstance(self.per_minute, bool):
            raise RatingError(field="per_minute", reason="must be a bool")
        unit = _SIXTY if self.per_minute else _ONE
        set_ = object.__setattr__
        set_(self, "_fee_scaled", _CTX.multiply(self.connection_fee, unit))
        set_(self, "_first_unit", _CTX.multiply(self.price_first, Decimal(self.interval_first)))
        set_(self, "_factor", _CTX.add(_HUNDRED, self.surcharge_percent))
        set_(self, "_divisor", _CTX.multiply(unit, _HUNDRED))


@dataclass(frozen=True, slots=True)
class Rated:
    """A rated session: the charged quantity (``T``) and the amount at 5 decimals."""

    charged_quantity: int
    amount: Decimal


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise RatingError(
            field="quantity",
            reason=f"must be an int (whole seconds or base units), not {type(quantity).__name__}",
        )
    if quantity < 0:
        raise RatingError(field="quantity", reason="must not be negative")
    return quantity


def _charged(quantity: int, terms: PriceTerms) -> int:
    """Steps 1-4 of §1.7 on a checked quantity."""
    if quantity == 0 or quantity <= terms.grace_period:
        return 0
    chargeable = quantity - terms.free_seconds
    if chargeable <= 0:
        return 0
    first = terms.interval_first
    if chargeable <= first:
        return first
    step = terms.interval_next
    return first + -(-(chargeable - first) // step) * step


def _stored_amount(charged: int, terms: PriceTerms) -> Decimal:
    """Steps 5-7 of §1.7 for a connected session (past the grace period) charged ``T``."""
    numerator = terms._fee_scaled
    if charged > 0:
        numerator = _CTX.add(numerator, terms._first_unit)
        if charged > terms.interval_first:
            nexts = _CTX.multiply(terms.price_next, Decimal(charged - terms.interval_first))
            numerator = _CTX.add(numerator, nexts)
    if not numerator:
        return _ZERO_AMOUNT
    exact = _CTX.divide(_CTX.multiply(numerator, terms._factor), terms._divisor)
    return _CTX.quantize(exact, _PLACES)


def rate_usage(quantity: int, terms: PriceTerms) -> Rated:
    """Charged quantity and amount of a session of ``quantity`` (§1.7, §7.2, §7.3).

    ``quantity`` is whole seconds for time, whole base units otherwise (see
    :func:`to_base_units`). 61 s at 60/6, $0.10 first, $0.05 next, $0.02 fee -> 66 s, 0.12500.
    """
    quantity = _check_quantity(quantity)
    if quantity == 0 or quantity <= terms.grace_period:
        return Rated(charged_quantity=0, amount=_ZERO_AMOUNT)
    charged = _charged(quantity, terms)
    return Rated(charged_quantity=charged, amount=_stored_amount(charged, terms))


def charged_quantity(quantity: int, terms: PriceTerms) -> int:
    """The charged (rounded) quantity ``T`` of §1.7 step 4: 0, ``I1`` or ``I1 + k*In``."""
    return _charged(_check_quantity(quantity), terms)


def amount(quantity: int, terms: PriceTerms) -> Decimal:
    """The amount of a session of ``quantity``, exact then rounded once to 5 decimals."""
    return rate_usage(quantity, terms).amount


# --- usage to base units ------------------------------------------------------------------


class BaseUnit(StrEnum):
    """The unit a service rates in (its *base unit*, §1.1). Decimal byte units by default."""

    SECOND = "second"
    MESSAGE = "message"
    UNIT = "unit"
    BYTE = "byte"
    KB = "KB"  # 10^3 bytes
    MB = "MB"  # 10^6 bytes: the default for data
    GB = "GB"  # 10^9 bytes
    KIB = "KiB"  # 2^10 bytes
    MIB = "MiB"  # 2^20 bytes
    GIB = "GiB"  # 2^30 bytes


_BYTES_PER_UNIT: Final[Mapping[BaseUnit, int]] = {
    BaseUnit.BYTE: 1,
    BaseUnit.KB: 10**3,
    BaseUnit.MB: 10**6,
    BaseUnit.GB: 10**9,
    BaseUnit.KIB: 2**10,
    BaseUnit.MIB: 2**20,
    BaseUnit.GIB: 2**30,
}

#: How usage may be reported for each kind of base unit.
Reported = Literal["second", "millisecond", "byte", "message", "unit"]


def _ceil_whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING, context=_CTX))


def to_base_units(
    quantity: int | Decimal, *, base_unit: BaseUnit | str, reported: Reported | None = None
) -> int:
    """Usage as the network reports it, in whole base units, rounded **up**.

    * ``base_unit`` ``second``: ``reported`` ``"second"`` (default; an int, or a Decimal whose
      fraction rounds up) or ``"millisecond"`` (an int; 1 ms -> 1 s, 61 001 ms -> 62 s);
    * a byte unit (``byte``, ``KB``/``MB``/``GB`` decimal, ``KiB``/``MiB``/``GiB`` binary):
      ``reported`` ``"byte"`` (default, an int); 10 485 761 bytes -> 11 MB; 758 bytes -> 1 KB;
    * ``message``: ``reported`` ``"message"``, an int, as counted;
    * ``unit`` (other services): ``reported`` ``"unit"``; a fraction rounds up.

    Raises :class:`RatingError` (field ``quantity``, ``base_unit`` or ``reported``).
    """
    try:
        unit = BaseUnit(base_unit)
    except ValueError:
        names = ", ".join(u.value for u in BaseUnit)
        raise RatingError(
            field="base_unit", reason=f"unknown unit {base_unit!r}; one of {names}"
        ) from None
    if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
        raise RatingError(
            field="quantity", reason=f"must be an int or a Decimal, not {type(quantity).__name__}"
        )
    if isinstance(quantity, Decimal) and not quantity.is_finite():
        raise RatingError(field="quantity", reason="must be a finite number")
    if quantity < 0:
        raise RatingError(field="quantity", reason="must not be negative")
    if unit is BaseUnit.SECOND:
        given = reported or "second"
        if given == "second":
            return _ceil_whole(Decimal(quantity))
        if given == "millisecond":
            return _ceil_whole(_CTX.divide(Decimal(_whole(quantity)), Decimal(1000)))
    elif unit in _BYTES_PER_UNIT:
        if (reported or "byte") == "byte":
            return -(-_whole(quantity) // _BYTES_PER_UNIT[unit])
    elif unit is BaseUnit.MESSAGE:
        if (reported or "message") == "message":
            return _whole(quantity)
    elif (reported or "unit") == "unit":
        return _ceil_whole(Decimal(quantity))
    raise RatingError(field="reported", reason=f"{reported!r} cannot be rated in {unit.value}")


def _whole(quantity: int | Decimal) -> int:
    if isinstance(quantity, Decimal):
        if quantity != quantity.to_integral_value(context=_CTX):
            raise RatingError(field="quantity", reason="must be a whole number")
        return int(quantity)
    return quantity


# --- maximum duration ----------------------------------------------------------------------


def _first_guess(money: Decimal, terms: PriceTerms) -> int:
    """§4.3's inversion (exact, nothing rounded): the number of next-units ``n`` (>= 0), or
    -1 when the first unit does not fit. Only a guess: :func:`max_duration` checks it."""
    unit = _SIXTY if terms.per_minute else _ONE
    net = _CTX.subtract(
        _CTX.divide(_CTX.multiply(money, _HUNDRED), terms._factor), terms.connection_fee
    )
    first = _CTX.divide(terms._first_unit, unit)
    if net < first:
        return -1
    per_next = _CTX.divide(_CTX.multiply(terms.price_next, Decimal(terms.interval_next)), unit)
    if not per_next:
        return 0
    return int(_CTX.divide_int(_CTX.subtract(net, first), per_next))


def max_duration(money: Decimal | None, terms: PriceTerms, cap: int) -> int:
    """The longest duration the money pays for, as :func:`amount` would charge it (§7.1).

    Returns the longest candidate (0; ``F``; ``F + I1 + k*In``, see the module docstring)
    whose stored amount is ``<= money``, then ``min(that, cap)``. ``money`` None means no
    limit (the answer is ``cap``); a negative ``money`` affords nothing (0). ``cap`` is the
    longest session allowed (an int >= 0, e.g. the installation's 3 hours). The documented
    example: $10 at 60/6, $0.10/min, $0.20 fee -> 5 880 s (98 min).
    """
    cap = _check_int(cap, field="cap", minimum=0)
    if money is None:
        return cap
    if isinstance(money, bool) or not isinstance(money, Decimal | int):
        raise RatingError(
            field="money", reason=f"must be a Decimal or None, not {type(money).__name__}"
        )
    money = Decimal(money)
    if not money.is_finite():
        raise RatingError(field="money", reason="must be a finite number or None")
    if cap == 0 or money < 0:
        return 0
    free, first, step = terms.free_seconds, terms.interval_first, terms.interval_next

    # Candidates from F + I1 + k_cap*In on are all cut to ``cap``: no need to look further.
    k_cap = max(0, -(-(cap - free - first) // step))
    k = _largest_fitting(
        lambda k: amount(free + first + k * step, terms) <= money,  # candidate k affordable
        guess=_first_guess(money, terms),
        last=k_cap,
    )
    if k >= 0:
        longest = free + first + k * step
    elif free > 0 and amount(free, terms) <= money:
        longest = free  # not even the first unit: the free seconds alone (§7.1)
    else:
        longest = 0
    # The grace period alone costs 0 (§7.2; the grace decision in the module docstring):
    # granted when it is longer than what the money pays for.
    if terms.grace_period > longest:  # amount(G) == 0 <= money (money >= 0 here)
        longest = terms.grace_period
    return min(longest, cap)


def _largest_fitting(fits: Callable[[int], bool], *, guess: int, last: int) -> int:
    """The largest ``k`` in ``[0, last]`` with ``fits(k)``, or -1; ``fits`` is monotone
    (True up to some ``k``, then False). Starts at ``guess``, which is exact or off by a
    unit in practice (two calls), and gallops then bisects when it is not (a grace period
    longer than the first unit, a zero next-price)."""
    k = min(max(guess, 0), last)
    step = 1
    if fits(k):
        low = k
        while True:  # gallop up: low fits
            probe = min(low + step, last)
            if probe == low:
                return low
            if not fits(probe):
                high = probe
                break
            low, step = probe, step * 2
    else:
        high = k
        while True:  # gallop down: high does not fit
            if high == 0:
                return -1
            probe = max(high - step, 0)
            if fits(probe):
                low = probe
                break
            high, step = probe, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


# --- rate choice ---------------------------------------------------------------------------


class RateRow(Protocol):
    """What the rate choice reads from a rate row (a model instance or any plain object)."""

    @property
    def prefix(self) -> str: ...

    @property
    def effective_from(self) -> datetime: ...

    @property
    def forbidden(self) -> bool: ...

    @property
    def discontinued(self) -> bool: ...


R = TypeVar("R", bound=RateRow)


class PrefixIndex(Generic[R]):
    """A tariff's rate rows by prefix, each prefix's versions sorted by ``effective_from``.

    Built once from any iterable of rows (e.g. the catalogue's rows of one tariff); two rows
    with the same (prefix, effective_from) raise :class:`RatingError` (field ``prefix``).
    """

    __slots__ = ("_longest", "_versions")

    def __init__(self, rows: Iterable[R]) -> None:
        grouped: dict[str, list[R]] = {}
        for row in rows:
            prefix = row.prefix
            if not isinstance(prefix, str) or not prefix:
                raise RatingError(field="prefix", reason="must be a non-empty string")
            grouped.setdefault(prefix, []).append(row)
        self._versions: dict[str, tuple[list[datetime], list[R]]] = {}
        for prefix, versions in grouped.items():
            versions.sort(key=lambda row: row.effective_from)
            starts = [row.effective_from for row in versions]
            for earlier, later in pairwise(starts):
                if earlier == later:
                    raise RatingError(
                        field="prefix",
                        reason=f"two rates for {prefix!r} effective from {later.isoformat()}",
                    )
            self._versions[prefix] = (starts, versions)
        self._longest = max((len(p) for p in self._versions if p != CATCH_ALL), default=0)

    def __len__(self) -> int:
        return len(self._versions)

    def in_force(self, prefix: str, at: datetime) -> R | None:
        """The row of ``prefix`` in force at ``at``: the latest ``effective_from <= at``, or
        None when there is none or it is discontinued."""
        entry = self._versions.get(prefix)
        if entry is None:
            return None
        starts, versions = entry
        position = bisect_right(starts, at)
        if position == 0:
            return None
        row = versions[position - 1]
        return None if row.discontinued else row

    def longest_match(self, number: str, at: datetime) -> R | None:
        """The row of the longest prefix of ``number`` in force at ``at``, ``|`` last."""
        for length in range(min(len(number), self._longest), 0, -1):
            row = self.in_force(number[:length], at)
            if row is not None:
                return row
        return self.in_force(CATCH_ALL, at)


def candidate_prefixes(number: str) -> list[str]:
    """Every prefix that can match ``number``, longest first, then ``|``: what a catalogue
    fetches (``WHERE prefix IN (...)``) to build a small :class:`PrefixIndex` for one call."""
    return [number[:length] for length in range(len(number), 0, -1)] + [CATCH_ALL]


@dataclass(frozen=True, slots=True)
class RateChoice(Generic[R]):
    """The rate that decides a session: the row, the tariff it came from, whether it refuses.

    ``source`` is ``"master"`` (the product's tariff) or ``"override"`` (the customer's
    override tariff for that master, §1.4 item 4). ``forbidden`` True means: refuse.
    """

    row: R
    source: Literal["master", "override"]

    @property
    def forbidden(self) -> bool:
        return self.row.forbidden

    @property
    def prefix(self) -> str:
        return self.row.prefix


def _check_number(number: object) -> str:
    if not isinstance(number, str) or not number:
        raise RatingError(field="cld", reason="must be a non-empty string")
    if number == CATCH_ALL:
        raise RatingError(field="cld", reason="'|' is not a number")
    return number


def _prefix_length(row: RateRow) -> int:
    return 0 if row.prefix == CATCH_ALL else len(row.prefix)


def choose_rate(
    number: str,
    *,
    at: datetime,
    tariff: PrefixIndex[R],
    override: PrefixIndex[R] | None = None,
) -> RateChoice[R] | None:
    """The rate for a session to ``number`` starting at ``at`` (§1.4), or None (no rate).

    Longest prefix in ``tariff``; with an ``override`` tariff both are searched: the longer
    prefix wins, the override wins a tie, and no override match leaves the master's rate.
    A forbidden result is returned as such (the caller refuses the session). Standard
    ``12`` @ 0.02 and ``420`` @ 0.20 with override ``1204`` @ 0.01: 12033768900 -> master,
    120456777844 -> override, 420998764456 -> master.
    """
    number = _check_number(number)
    master_row = tariff.longest_match(number, at)
    override_row = override.longest_match(number, at) if override is not None else None
    if override_row is not None and (
        master_row is None or _prefix_length(override_row) >= _prefix_length(master_row)
    ):
        return RateChoice(row=override_row, source="override")
    if master_row is not None:
        return RateChoice(row=master_row, source="master")
    return None


def choose_in_rows(
    number: str,
    *,
    at: datetime,
    rows: Sequence[R],
    override_rows: Sequence[R] | None = None,
) -> RateChoice[R] | None:
    """:func:`choose_rate` over plain row lists (builds the indexes; for one-off calls)."""
    override = PrefixIndex(override_rows) if override_rows is not None else None
    return choose_rate(number, at=at, tariff=PrefixIndex(rows), override=override)
