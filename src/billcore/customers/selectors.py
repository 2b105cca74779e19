"""Reads of customers, already scoped to what the actor may see (CC-07, CU-17)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.core.text import name_key
from billcore.customers.models import Customer, Status
from billcore.errors import NotFound


def visible_customers(*, actor: Actor) -> QuerySet[Customer]:
    require_user(actor)
    qs = Customer.objects.select_related("customer_class", "currency", "reseller")
    if is_admin(actor):
        return qs
    return qs.filter(reseller_id=require_user(actor).reseller_id)


def get_customer(*, actor: Actor, customer_id: int) -> Customer:
    try:
        return visible_customers(actor=actor).get(pk=customer_id)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"customer {customer_id} not found", field="id") from None


ORDERINGS = {"name", "id", "currency", "balance", "created_at", "status", "balance_control"}


def list_customers(
    *,
    actor: Actor,
    search: str = "",
    name: str | None = None,
    customer_class: int | None = None,
    currency: str | None = None,
    reseller: int | None = None,
    status: str | None = None,
    balance_control: str | None = None,
    customer_type: str | None = None,
    order: str = "name",
) -> QuerySet[Customer]:
    """Permanently terminated customers appear only when ``status="closed"`` is asked for
    (CU-17: only an advanced search with that status filter finds them)."""
    qs = visible_customers(actor=actor)
    if status:
        qs = qs.filter(status=status)
    else:
        qs = qs.exclude(status=Status.CLOSED)
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(company_name__icontains=search)
            | Q(email__icontains=search)
        )
    if name:
        qs = qs.filter(name__icontains=name)
    if customer_class is not None:
        qs = qs.filter(customer_class_id=customer_class)
    if currency:
        qs = qs.filter(currency_id=currency)
    if reseller is not None:
        qs = qs.filter(reseller_id=reseller)
    if balance_control:
        qs = qs.filter(balance_control=balance_control)
    if customer_type:
        qs = qs.filter(customer_type=customer_type)
    key = order.lstrip("-")
    if key not in ORDERINGS:
        key = "name"
    return qs.order_by(("-" if order.startswith("-") else "") + key, "id")


def search_customers(*, actor: Actor, q: str) -> QuerySet[Customer]:
    """The search box (issue 17): customers whose name (Unicode-aware, by ``name_key``),
    company or e-mail contains ``q``, or whose id is ``q``; permanently terminated customers
    only by their exact id (CU-17). By name, then id."""
    text = Q(name_key__contains=name_key(q)) | Q(company_name__icontains=q) | Q(email__icontains=q)
    match = text & ~Q(status=Status.CLOSED)
    if q.isdigit() and len(q) < 19:
        match |= Q(pk=int(q))
    return visible_customers(actor=actor).filter(match).order_by("name", "id")


def own_reseller(*, actor: Actor) -> Customer:
    """A reseller's user's own reseller: the customer record the operator bills (issue 16 §2,
    "balance with the operator"), to read, never to change. "Not found" for an administrator
    (who has no reseller) and for anybody not signed in."""
    user = require_user(actor)
    if user.reseller_id is None:
        raise NotFound("only a reseller's user has an account with the operator")
    customer = (
        Customer.objects.select_related("customer_class", "currency")
        .filter(pk=user.reseller_id)
        .first()
    )
    if customer is None:
        raise NotFound("reseller not found")
    return customer
