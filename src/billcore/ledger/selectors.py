"""Reads of the ledger, scoped through the customer the actor may see."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet

from billcore.accounts.access import Actor
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer, own_reseller
from billcore.ledger.models import Action, Transaction


def customer_transactions(*, actor: Actor, customer_id: int) -> QuerySet[Transaction]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        Transaction.objects.filter(customer=customer)
        .select_related("actor", "account")
        .order_by("-id")
    )


def opening_balances(*, customers: Iterable[Customer]) -> dict[int, Decimal]:
    """The signed opening-balance amount of each of ``customers`` that has one (CU-04), by
    customer id, in one query. ``customers`` are rows the caller already got through a
    scoped selector (``customers.selectors``), so nothing here widens what the actor sees."""
    rows = Transaction.objects.filter(
        customer_id__in=[c.pk for c in customers], action=Action.OPENING_BALANCE
    ).values_list("customer_id", "amount")
    return {customer_id: Decimal(amount) for customer_id, amount in rows}


def own_transactions(*, actor: Actor) -> QuerySet[Transaction]:
    """The actor's own reseller's transactions with the operator, newest first, without the
    entries hidden from end users (CC-12): a reseller reads them as a customer would."""
    reseller = own_reseller(actor=actor)
    return (
        Transaction.objects.filter(customer_id=reseller.pk, hidden=False)
        .select_related("account")
        .order_by("-id")
    )
