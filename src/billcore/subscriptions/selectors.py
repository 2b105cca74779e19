"""Reads of subscription plans and subscriptions, already scoped to what the actor may see
(CC-07 style): administrators see everything; a reseller's user sees the reseller's own plans
and the subscriptions of the reseller's customers."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound
from billcore.subscriptions.models import Subscription, SubscriptionPlan


def visible_plans(*, actor: Actor) -> QuerySet[SubscriptionPlan]:
    require_user(actor)
    qs = SubscriptionPlan.objects.select_related("currency", "managed_by")
    if is_admin(actor):
        return qs
    return qs.filter(managed_by_id=require_user(actor).reseller_id)


def get_plan(*, actor: Actor, plan_id: Any) -> SubscriptionPlan:
    try:
        return visible_plans(actor=actor).get(pk=int(plan_id))
    except (SubscriptionPlan.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"subscription plan {plan_id} not found", field="id") from None


def list_plans(
    *, actor: Actor, search: str = "", currency: str | None = None
) -> QuerySet[SubscriptionPlan]:
    """Plans by name, each with ``used_by``: how many subscriptions use it."""
    qs = visible_plans(actor=actor)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if currency:
        qs = qs.filter(currency_id=currency)
    return qs.annotate(used_by=Count("subscriptions")).order_by("name", "id")


def plans_for_customer(*, actor: Actor, customer_id: Any) -> QuerySet[SubscriptionPlan]:
    """The plans a customer can subscribe to: of its owner (the administrator's plans for a
    customer of the administrator, the reseller's own for a reseller's customer) and in the
    customer's currency."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        visible_plans(actor=actor)
        .filter(managed_by_id=customer.reseller_id, currency_id=customer.currency_id)
        .order_by("name", "id")
    )


def visible_subscriptions(*, actor: Actor) -> QuerySet[Subscription]:
    require_user(actor)
    qs = Subscription.objects.select_related("plan", "customer", "customer__currency")
    if is_admin(actor):
        return qs
    return qs.filter(customer__reseller_id=require_user(actor).reseller_id)


def get_subscription(*, actor: Actor, subscription_id: Any) -> Subscription:
    try:
        return visible_subscriptions(actor=actor).get(pk=int(subscription_id))
    except (Subscription.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"subscription {subscription_id} not found", field="id") from None


def customer_subscriptions(
    *, actor: Actor, customer_id: Any, status: str | None = None
) -> QuerySet[Subscription]:
    """The customer's subscriptions, newest start first."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    qs = visible_subscriptions(actor=actor).filter(customer=customer)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-start_at", "-id")
