"""The one lock module and the one lock order of billcore.

Everything that locks rows to change money or state together takes its locks here, in this
order, so that two writers never wait for each other in a circle (a deadlock):

1. **customer rows**, ascending id. A reseller is a customer: when a charge touches a reseller
   and its sub-customer (the rating issue), both rows are locked together in id order, not
   "sub-customer first";
2. **account rows** (subscribers), ascending id;
3. **counters and wallets** (the plans issue), ascending id;
4. **reservations and sessions**, ascending id.

A writer may skip a stage but never goes back to an earlier one in the same transaction.
Locks are taken with an explicit ``ORDER BY id … FOR UPDATE`` on the table itself, never
through a join whose query plan decides the order. On SQLite ``select_for_update`` is a no-op:
the IMMEDIATE write transaction (``settings.py``) already holds the database's one write lock.

The module is infrastructure like ``db.py``: it takes the caller's queryset, so it imports no
domain model and every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

# The stages above, by model label (``app_label.ModelName``), for the documentation and for
# the test that walks every locking call site.
LOCK_ORDER: tuple[tuple[str, ...], ...] = (
    ("customers.Customer",),
    ("subscribers.Account",),
    ("plans.PlanCounter", "ledger.Wallet"),  # counters, then wallets (issue 13)
    ("charging.Reservation",),
)


def for_update(queryset: QuerySet[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """``queryset`` locked ``FOR UPDATE`` in ascending id order (``OF`` its own table only, so
    a ``select_related`` join locks nothing else). PostgreSQL only; SQLite holds its write lock
    for the whole IMMEDIATE transaction."""
    queryset = queryset.order_by("pk")
    if connection.vendor != "postgresql":
        return queryset
    return queryset.select_for_update(skip_locked=skip_locked, of=("self",))


def lock_rows(
    queryset: QuerySet[M], ids: Iterable[int], *, skip_locked: bool = False
) -> dict[int, M]:
    """The rows of ``queryset`` with these ids, locked in ascending id order, by id. With
    ``skip_locked`` a row another transaction holds is left out rather than waited for."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = for_update(queryset.filter(pk__in=wanted), skip_locked=skip_locked)
    return {row.pk: row for row in rows}


def lock_row(queryset: QuerySet[M], pk: int, *, skip_locked: bool = False) -> M | None:
    """One row of ``queryset``, locked; None when it does not exist (or, with
    ``skip_locked``, when another transaction holds it)."""
    return for_update(queryset.filter(pk=pk), skip_locked=skip_locked).first()
