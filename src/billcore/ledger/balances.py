"""The one writer of balances, one row at a time (DESIGN rule 1).

A balance — a customer's or an account's — moves only here and in ``ledger.batch`` (the same
writes for many rows at once), always by a delta: ``UPDATE … SET balance = balance + δ``,
never ``SET balance = <value>``. The caller holds the row locked (``billcore.locks``: the
customer rows, then the account rows) inside its transaction and writes the ledger row that
explains the move in the same transaction (``ledger.postings``, ``ledger.services``,
``ledger.transfers``, ``ledger.batch``), so the sum of the ledger stays the balance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from billcore.customers.models import Customer
from billcore.db import money_value
from billcore.subscribers.models import Account


def _in_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{what} must run inside the caller's transaction")


def move_customer_balance(
    *, customer_id: int, delta: Decimal, now: dt.datetime | None = None
) -> None:
    """``balance = balance + delta`` for a customer whose row the caller holds locked; with
    ``now``, ``updated_at`` too."""
    _in_transaction("move_customer_balance")
    values: dict[str, Any] = {"balance": F("balance") + money_value(delta)}
    if now is not None:
        values["updated_at"] = now
    Customer.objects.filter(pk=customer_id).update(**values)


def move_account_balance(*, account_id: int, delta: Decimal) -> None:
    """``balance = balance + delta`` for an account whose row the caller holds locked."""
    _in_transaction("move_account_balance")
    Account.objects.filter(pk=account_id).update(balance=F("balance") + money_value(delta))


def customer_balance(customer_id: int) -> Decimal:
    """The customer's balance as the caller's transaction sees it (read back after a move)."""
    balance: Any = Customer.objects.values_list("balance", flat=True).get(pk=customer_id)
    return Decimal(balance)
