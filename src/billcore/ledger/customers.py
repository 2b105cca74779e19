"""Creating a customer with its opening funds (CU-08): the one entry point the interfaces
use. ``customers.services.create_customer`` validates and inserts the row; a prepaid
customer's ``available_funds`` are then posted here, in the same transaction, as the
ledger's first row and the balance's first move (``balance = balance + δ``). Customers sit
below the ledger, so the ledger calls them, not the other way round."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billcore.accounts.access import Actor, user_row
from billcore.customers import services as customers
from billcore.customers.models import Customer
from billcore.ledger.balances import move_customer_balance
from billcore.ledger.models import Action, Transaction


def create_customer(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Customer:
    """``customers.services.create_customer``, the opening funds posted by the ledger inside
    its transaction (one transaction: no savepoint of our own)."""

    def post_opening_balance(customer: Customer, funds: Decimal) -> None:
        record_opening_balance(actor=actor, now=now, customer=customer, funds=funds)

    return customers.create_customer(
        actor=actor, now=now, data=data, post_opening_balance=post_opening_balance
    )


def record_opening_balance(
    *, actor: Actor, now: dt.datetime, customer: Customer, funds: Decimal
) -> Transaction:
    """A prepaid customer's initial payment (CU-08) as the ledger's first row, for a customer
    row just inserted in the caller's transaction with a zero balance (nobody else sees the
    row yet: it needs no lock)."""
    move_customer_balance(customer_id=customer.pk, delta=-funds)
    customer.balance = customer.balance - funds
    return Transaction.objects.create(
        customer=customer,
        action=Action.OPENING_BALANCE,
        amount=-funds,
        balance_after=customer.balance,
        visible_comment="Opening balance",
        actor=user_row(actor),
        created_at=now,
    )
