"""Pure rules of DIDs (rating-and-tabs.md §3.1; issue 14): the customer's price from the
supplier's cost and the pricing batch, vanity numbers, and the time a customer is charged
for under its status history (CU-02, CU-16, CU-17, CU-18).

Prices. Customer recurring price = supplier periodic cost + additional recurring fee +
markup % * supplier periodic cost; activation price = supplier activation cost + additional
activation fee. The markup is computed exactly and the sum rounded once, half-up, to 5
decimals (the money's places). The reference's worked example: 5.00 + 1.00 + 10 % of 5.00 =
6.50 a month; 2.00 + 3.00 = 5.00 once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

QUANTUM = Decimal("0.00001")
HUNDRED = Decimal(100)

# The telephone keypad (ITU E.161): letters of a vanity number as the digits dialled.
KEYPAD = {
    **dict.fromkeys("ABC", "2"),
    **dict.fromkeys("DEF", "3"),
    **dict.fromkeys("GHI", "4"),
    **dict.fromkeys("JKL", "5"),
    **dict.fromkeys("MNO", "6"),
    **dict.fromkeys("PQRS", "7"),
    **dict.fromkeys("TUV", "8"),
    **dict.fromkeys("WXYZ", "9"),
}

# Statuses during which a customer is not charged for its DIDs: provisionally terminated
# (CU-16), exported (CU-18, not operational) and permanently terminated (CU-17). A blocked
# (CU-02) or suspended customer keeps paying.
NOT_CHARGED = frozenset({"provisionally_terminated", "exported", "closed"})


def recurring_price(
    *, periodic_cost: Decimal, additional_recurring_fee: Decimal, markup_percent: Decimal
) -> Decimal:
    """What the customer pays per whole billing period."""
    exact = periodic_cost + additional_recurring_fee + periodic_cost * markup_percent / HUNDRED
    return exact.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def activation_price(*, activation_cost: Decimal, additional_activation_fee: Decimal) -> Decimal:
    """What the customer pays once, when the number is assigned."""
    return (activation_cost + additional_activation_fee).quantize(QUANTUM, rounding=ROUND_HALF_UP)


class BadPattern(ValueError):
    """A search text that is not a vanity number or pattern."""


def keypad_digits(text: str) -> str:
    """Digits and letters (either case) as the digits dialled; separators (space, ``-``,
    ``.``, ``(``, ``)``, a leading ``+``) dropped; anything else refused."""
    out = []
    for ch in text.strip().upper():
        if ch.isascii() and ch.isdigit():
            out.append(ch)
        elif ch in KEYPAD:
            out.append(KEYPAD[ch])
        elif ch in " -.()+":
            continue
        else:
            raise BadPattern(f"{ch!r} is neither a digit nor a letter")
    return "".join(out)


def pattern_regex(pattern: str) -> str:
    """A vanity pattern as an anchored regular expression over the digits of a number:
    ``%`` or ``*`` any run of digits (possibly none), ``_`` or ``?`` exactly one digit,
    letters their keypad digit (``1800%VOIP`` finds 18005558647)."""
    parts = ["^"]
    for ch in pattern.strip().upper():
        if ch in "%*":
            if parts[-1] != "[0-9]*":  # a run of wildcards is one
                parts.append("[0-9]*")
        elif ch in "_?":
            parts.append("[0-9]")
        elif ch.isascii() and ch.isdigit():
            parts.append(ch)
        elif ch in KEYPAD:
            parts.append(KEYPAD[ch])
        elif ch in " -.()+":
            continue
        else:
            raise BadPattern(f"{ch!r} is neither a digit, a letter nor a wildcard (% _ * ?)")
    parts.append("$")
    regex = "".join(parts)
    if regex == "^$":
        raise BadPattern("the pattern is empty")
    return regex


def is_pattern(text: str) -> bool:
    return bool(re.search(r"[%*_?]", text))


def charged_time(
    *,
    start: dt.datetime,
    end: dt.datetime,
    changes: Iterable[tuple[dt.datetime, str, str]],
    current_status: str,
) -> dt.timedelta:
    """The part of ``[start, end)`` the customer is charged for: the time its status (from
    the history ``changes``, ``(at, from_status, to_status)`` in any order) is not one of
    ``NOT_CHARGED``. Before the first change the customer held that change's ``from_status``;
    with no change at all, ``current_status`` throughout."""
    history = sorted(changes)
    status = history[0][1] if history else current_status
    for at, _from, to in history:
        if at <= start:
            status = to
    total = dt.timedelta(0)
    cursor = start
    for at, _from, to in history:
        if at <= start:
            continue
        if at >= end:
            break
        if status not in NOT_CHARGED:
            total += at - cursor
        cursor, status = at, to
    if status not in NOT_CHARGED:
        total += end - cursor
    return total
