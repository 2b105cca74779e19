"""Ledger rows the billing engine posts for a customer it has already locked (taxes, invoice
rounding, balance resets, subscription fees). Same rule as ``ledger.services``: one ledger row
and one guarded ``UPDATE … SET balance = balance + δ`` in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from billcore.ledger.balances import (
    customer_balance,
    move_account_balance,
    move_customer_balance,
)
from billcore.ledger.models import Transaction


def post_locked(
    *,
    customer_id: int,
    action: str,
    amount: Decimal,
    now: dt.datetime,
    visible_comment: str = "",
    internal_comment: str = "",
    period_id: int | None = None,
    invoice_id: int | None = None,
    hidden: bool = False,
    balance_reset: bool = False,
    idempotency_key: str | None = None,
    balance_before: Decimal | None = None,
    reference_id: int | None = None,
    account_id: int | None = None,
) -> Transaction:
    """Post ``amount`` (signed: + raises what the customer owes) for a customer whose row the
    caller holds locked inside ``transaction.atomic``. A caller that knows the balance (it
    read it under the same lock) passes ``balance_before`` and saves a read. ``reference_id``:
    the row this one accompanies (a payment's tax row names the payment). ``account_id``: the
    account the amount also moves (usage of an account, e.g. a re-rating difference)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("post_locked must run inside the caller's transaction")
    move_customer_balance(customer_id=customer_id, delta=amount, now=now)
    if account_id is not None:
        move_account_balance(account_id=account_id, delta=amount)
    if balance_before is not None:
        balance = balance_before + amount
    else:
        balance = customer_balance(customer_id)
    return Transaction.objects.create(
        customer_id=customer_id,
        action=action,
        amount=amount,
        balance_after=balance,
        visible_comment=visible_comment,
        internal_comment=internal_comment,
        period_id=period_id,
        invoice_id=invoice_id,
        hidden=hidden,
        balance_reset=balance_reset,
        idempotency_key=idempotency_key,
        created_at=now,
        reference_id=reference_id,
        account_id=account_id,
        account_amount=amount if account_id is not None else 0,
    )
