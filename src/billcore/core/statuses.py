"""Customer status transitions (CU-14 … CU-18): the one table of which status each lifecycle
operation leads to, from which status. ``customers.lifecycle`` consults it before it changes a
customer; the rules beyond the status (who may lift an overdue suspension, the dates of a
termination, …) stay there.

A customer's status is one of ``STATUSES`` (``customers.models.Status`` has the same values);
``blocked`` (CU-14) and a scheduled permanent termination are flags beside it. An operation
absent from ``TRANSITIONS`` for a status is refused in that status; an entry whose target is
its source is allowed and leaves the status as it is. Nothing is possible once closed
(permanently terminated, CU-17).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

OPEN: Final = "open"
SUSPENDED: Final = "suspended"
PROVISIONALLY_TERMINATED: Final = "provisionally_terminated"
CLOSED: Final = "closed"  # permanently terminated
EXPORTED: Final = "exported"

STATUSES: Final = (OPEN, SUSPENDED, PROVISIONALLY_TERMINATED, CLOSED, EXPORTED)
# Every status but closed: where an operation is possible at all.
LIVE: Final = (OPEN, SUSPENDED, PROVISIONALLY_TERMINATED, EXPORTED)


class Op(StrEnum):
    """The lifecycle operations, as ``customers.lifecycle`` applies them."""

    BLOCK = "block"  # CU-14: set or clear the blocked flag
    SUSPEND = "suspend"  # CU-15, CC-19: by hand, for an overdue invoice or for missing funds
    OVERDUE_TAKEOVER = "overdue_takeover"  # CU-15: an overdue suspension takes over another
    UNSUSPEND = "unsuspend"  # CU-15: paid, funds arrived, or a manual suspension lifted
    LIFT_UNTIL = "lift_until"  # CU-15: delay the suspension until a date
    CLEAR_LIFT_UNTIL = "clear_lift_until"  # CU-15: remove that date
    TERMINATE = "terminate"  # CU-16: provisional termination
    SCHEDULE_CLOSE = "schedule_close"  # CU-17: permanent termination on a future date
    CLOSE = "close"  # CU-17: permanent termination now, or when its date has come
    REACTIVATE = "reactivate"  # CU-16: back from a provisional termination
    CANCEL_CLOSE = "cancel_close"  # CU-17: a scheduled permanent termination called off
    EXPORT = "export"  # CU-18
    CLEAR_EXPORT = "clear_export"  # CU-18: clearing the flag reactivates


def _every(op: Op, to: str | None = None) -> dict[tuple[Op, str], str]:
    """``op`` allowed in every live status, leading to ``to`` (None: the status stays)."""
    return {(op, status): to or status for status in LIVE}


# (operation, status before) -> status after.
TRANSITIONS: Final[Mapping[tuple[Op, str], str]] = {
    **_every(Op.BLOCK),
    (Op.SUSPEND, OPEN): SUSPENDED,
    (Op.OVERDUE_TAKEOVER, SUSPENDED): SUSPENDED,
    (Op.UNSUSPEND, SUSPENDED): OPEN,
    **_every(Op.LIFT_UNTIL),
    (Op.LIFT_UNTIL, SUSPENDED): OPEN,
    **_every(Op.CLEAR_LIFT_UNTIL),
    (Op.TERMINATE, OPEN): PROVISIONALLY_TERMINATED,
    (Op.TERMINATE, SUSPENDED): PROVISIONALLY_TERMINATED,
    (Op.TERMINATE, PROVISIONALLY_TERMINATED): PROVISIONALLY_TERMINATED,
    **_every(Op.SCHEDULE_CLOSE),
    **_every(Op.CLOSE, CLOSED),
    (Op.REACTIVATE, PROVISIONALLY_TERMINATED): OPEN,
    **_every(Op.CANCEL_CLOSE),
    **_every(Op.EXPORT, EXPORTED),
    (Op.CLEAR_EXPORT, EXPORTED): OPEN,
}

# The status changes that can happen at all: (from, to), from != to.
CHANGES: Final = frozenset((before, to) for (_, before), to in TRANSITIONS.items() if before != to)


def allowed(op: Op, status: str) -> bool:
    """Whether ``op`` is possible for a customer in ``status``."""
    return (op, status) in TRANSITIONS


def after(op: Op, status: str) -> str | None:
    """The status ``op`` leads to from ``status``; None when it is refused there."""
    return TRANSITIONS.get((op, status))
