"""Reads of the ledger, scoped through the customer the actor may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from billcore.customers.selectors import get_customer
from billcore.ledger.models import Transaction


def customer_transactions(*, actor: Any, customer_id: int) -> QuerySet[Transaction]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        Transaction.objects.filter(customer=customer)
        .select_related("actor", "account")
        .order_by("-id")
    )


def ledger_sum(*, customer_id: int) -> Any:
    """Sum of every ledger row of the customer: always equals its balance."""
    from decimal import Decimal

    total = Transaction.objects.filter(customer_id=customer_id).aggregate(s=Sum("amount"))["s"]
    return total if total is not None else Decimal("0.00000")
