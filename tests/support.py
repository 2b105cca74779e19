"""Helpers several test modules share."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from billcore.ledger.models import Transaction


def ledger_sum(*, customer_id: int) -> Decimal:
    """The sum of every ledger row of the customer: the invariant says it equals the balance."""
    total = Transaction.objects.filter(customer_id=customer_id).aggregate(s=Sum("amount"))["s"]
    return total if total is not None else Decimal("0.00000")
