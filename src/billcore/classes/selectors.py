"""Reads of customer classes, already scoped to what the actor may see (CC-07)."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.classes.models import CustomerClass
from billcore.core.text import name_key
from billcore.errors import NotFound


def visible_classes(*, actor: Actor) -> QuerySet[CustomerClass]:
    """Administrators see every class; a reseller's user only the reseller's own."""
    require_user(actor)
    qs = CustomerClass.objects.select_related("currency", "business_model", "managed_by")
    if is_admin(actor):
        return qs
    return qs.filter(managed_by_id=require_user(actor).reseller_id)


def get_class(*, actor: Actor, class_id: int) -> CustomerClass:
    try:
        return visible_classes(actor=actor).get(pk=class_id)
    except (CustomerClass.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"customer class {class_id} not found", field="id") from None


def list_classes(
    *,
    actor: Actor,
    search: str = "",
    currency: str | None = None,
    managed_by: int | None = None,
    admin_only: bool = False,
    order: str = "name",
) -> QuerySet[CustomerClass]:
    qs = visible_classes(actor=actor)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if currency:
        qs = qs.filter(currency_id=currency)
    if managed_by is not None:
        qs = qs.filter(managed_by_id=managed_by)
    if admin_only:
        qs = qs.filter(managed_by__isnull=True)
    # Sort keys; empty values (no currency, Administrator only) sort first ascending on both
    # databases (SQLite and PostgreSQL disagree on NULLs by default).
    columns = {
        "name": "name",
        "currency": "currency_id",
        "taxation_method": "taxation_method",
        "generate_statistics": "generate_statistics",
        "generate_regular_invoices": "generate_regular_invoices",
        "description": "description",
        "managed_by": "managed_by__name",
        "id": "id",
    }
    column = columns.get(order.lstrip("-"), "name")
    descending = order.startswith("-")
    expression = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_first=True)
    return qs.order_by(expression, "name", "id")


def search_classes(*, actor: Actor, q: str) -> QuerySet[CustomerClass]:
    """The search box (issue 17): classes whose name contains ``q`` (by ``name_key``:
    Unicode-aware, case-insensitive) or whose id is ``q``; by name."""
    match = Q(name_key__contains=name_key(q))
    if q.isdigit() and len(q) < 19:
        match |= Q(pk=int(q))
    return visible_classes(actor=actor).filter(match).order_by("name", "id")


def assignable_classes(*, actor: Actor, currency: str | None = None) -> QuerySet[CustomerClass]:
    """Classes the actor may give a customer of ``currency`` (CU-09,
    CC-06, CC-07): the class's currency is empty or equal, and the class is the
    administrator's (for administrators) or the reseller's own (for its users)."""
    qs = visible_classes(actor=actor)
    if is_admin(actor):
        qs = qs.filter(managed_by__isnull=True)
    else:
        qs = qs.filter(managed_by_id=require_user(actor).reseller_id)
    if currency:
        qs = qs.filter(Q(currency__isnull=True) | Q(currency_id=currency))
    return qs.order_by("name")


def usage_counts(class_ids: list[int]) -> dict[int, int]:
    rows = (
        CustomerClass.objects.filter(pk__in=class_ids)
        .annotate(n=Count("customers"))
        .values_list("pk", "n")
    )
    return dict(rows)
