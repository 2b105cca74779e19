"""Measured services (rating-and-tabs.md §3.4, §7 item 5): the statistic of a period's
samples and the charge it makes. Pure arithmetic, no Django.

* The statistic is the average, the maximum or the minimum of the period's samples (whole
  numbers of items). An average is exact (not rounded to whole items, §7.5).
* The charged quantity is ``statistic - free items``, floored at 0.
* The amount is ``quantity x price`` rounded once with the class's rounding method (§1.6: it
  applies to measured-service charges): the currency default rounds up (away from zero) at the
  currency's decimals; a custom pattern rounds the amount (at the 5 stored places, half up)
  with that pattern.

Worked example (§3.4): concurrent calls sampled daily, maximum 12, 10 free, 5.00 each →
(12 - 10) x 5.00 = 10.00.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Final

from billcore.core.money import QUANTUM
from billcore.core.rounding import round_half_up, round_invoice_total, round_up

AVERAGE: Final = "average"
MAXIMUM: Final = "maximum"
MINIMUM: Final = "minimum"
BASES: Final = (AVERAGE, MAXIMUM, MINIMUM)
ZERO: Final = Decimal(0)


def statistic(values: Sequence[int], *, basis: str) -> Decimal | None:
    """The period's statistic of ``values``; None without samples (nothing is invented)."""
    if not values:
        return None
    if basis == MAXIMUM:
        return Decimal(max(values))
    if basis == MINIMUM:
        return Decimal(min(values))
    if basis == AVERAGE:
        return mean(total=sum(values), count=len(values))
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def mean(*, total: int, count: int) -> Decimal:
    """``total / count`` to 34 significant digits (exact for every terminating quotient)."""
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(total) / Decimal(count)


def charged_quantity(value: Decimal, *, free_items: Decimal) -> Decimal:
    """``value - free items``, floored at 0 (exact)."""
    with localcontext() as ctx:
        ctx.prec = 34
        return max(value - free_items, ZERO)


def charge_amount(
    quantity: Decimal, *, price: Decimal, decimals: int, custom_pattern: str | None = None
) -> Decimal:
    """``quantity x price`` rounded once by the class's method; 5 decimal places."""
    with localcontext() as ctx:
        ctx.prec = 40
        exact = quantity * price
    if custom_pattern:
        return round_invoice_total(
            round_half_up(exact, places=5), pattern=custom_pattern, mode="custom"
        )
    return round_up(exact, places=decimals).quantize(QUANTUM)


def stored(value: Decimal) -> Decimal:
    """A statistic or quantity as stored and shown (5 places, half up)."""
    return round_half_up(value, places=5)
