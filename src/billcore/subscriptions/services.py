"""Every write to subscription plans and subscriptions (issue 5 §3, CU-13 Subscriptions tab).

Services take the acting user and ``now``; each runs in one transaction and writes an audit
row. Input may be raw (strings from a form) or typed (the API); it is coerced here and every
error names its field.

* A plan belongs to the administrator or to one reseller (``managed_by``), like customer
  classes (CC-07); its name is unique regardless of letter case; its fee (for one whole
  billing period of the customer) is > 0 with at most 5 decimals, in a currency in use.
* A customer subscribes to a plan of its owner (the administrator's plans for the
  administrator's customers, the reseller's own for the reseller's customers) in the
  customer's currency, from ``start_at`` (aware, not before the customer was created) until
  ``end_at`` (exclusive; empty = open-ended). A permanently terminated customer (CU-17)
  cannot subscribe.
* Ending sets ``end_at``. Fees already charged in advance for time after ``end_at`` are not
  refunded (an operator credits them by hand when that is wanted).

The engine's step (``charge_step``) lives in :mod:`billcore.subscriptions.engine`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.customers.services import existing_reseller
from billcore.db import name_taken
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.services import get_currency_in_use
from billcore.locks import for_update
from billcore.subscribers import services as subscribers
from billcore.subscribers.models import Account
from billcore.subscriptions.engine import charge_step
from billcore.subscriptions.models import Subscription, SubscriptionPlan, SubscriptionStatus
from billcore.subscriptions.selectors import get_plan, get_subscription
from billcore.validation import as_bool, as_int, as_money, as_str, reject_unknown

__all__ = [
    "charge_step",
    "create_plan",
    "delete_plan",
    "end_subscription",
    "subscribe",
    "update_plan",
]

ZERO = Decimal(0)
PLAN_FIELDS = (
    "name",
    "description",
    "currency",
    "managed_by",
    "fee",
    "in_advance",
    "prorate",
    "charge_while_suspended",
    "charge_while_blocked",
)
FLAGS = ("in_advance", "prorate", "charge_while_suspended", "charge_while_blocked")


def as_instant(field: str, value: Any, *, required: bool) -> dt.datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string with a UTC offset."""
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{field} is required", field=field, code="required")
        return None
    parsed: dt.datetime | None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationFailed(
                f"{field} must be a date and time such as 2027-01-01T00:00:00+00:00",
                field=field,
            )
    else:
        raise ValidationFailed(f"{field} must be a date and time", field=field)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationFailed(
            f"{field} needs a time zone (an offset such as +00:00)", field=field, code="naive"
        )
    return parsed.astimezone(dt.UTC)


# --------------------------------------------------------------------------------------------
# Plans


def _set_name(plan: SubscriptionPlan, value: Any) -> None:
    name = as_str("name", value, max_length=100, required=True)
    if name_taken(SubscriptionPlan, name, exclude=plan.pk):
        raise ValidationFailed(
            f"name: a subscription plan named {name!r} already exists (names are unique "
            "regardless of letter case)",
            field="name",
            code="duplicate",
        )
    plan.name = name


def _set_managed_by(actor: Actor, plan: SubscriptionPlan, value: Any) -> None:
    if not is_admin(actor):
        reseller_id = require_user(actor).reseller_id
        if value not in (None, "", reseller_id, str(reseller_id)):
            raise ValidationFailed(
                "managed_by: a reseller's user can only manage its own plans",
                field="managed_by",
                code="not_found",
            )
        plan.managed_by_id = reseller_id
        return
    reseller_id = None
    if value not in (None, ""):
        reseller_id = existing_reseller(value, field="managed_by")
    if plan.pk and reseller_id != plan.managed_by_id and plan.subscriptions.exists():
        raise ValidationFailed(
            "managed_by cannot change while customers subscribe to this plan",
            field="managed_by",
            code="in_use",
        )
    plan.managed_by_id = reseller_id


def _apply(actor: Actor, plan: SubscriptionPlan, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), PLAN_FIELDS)
    if "name" in data or not plan.pk:
        _set_name(plan, data.get("name"))
    if "description" in data:
        plan.description = as_str(
            "description", data["description"], max_length=500, single_line=False
        )
    if "currency" in data or not plan.pk:
        code = data.get("currency")
        if plan.pk and code != plan.currency_id and plan.subscriptions.exists():
            raise ValidationFailed(
                "currency cannot change while customers subscribe to this plan",
                field="currency",
                code="in_use",
            )
        plan.currency_id = get_currency_in_use(code).code
    if "managed_by" in data or not plan.pk:
        _set_managed_by(actor, plan, data.get("managed_by"))
    if "fee" in data or not plan.pk:
        fee = as_money("fee", data.get("fee"), allow_none=False)
        assert fee is not None
        if fee <= ZERO:
            raise ValidationFailed("fee must be greater than 0", field="fee")
        plan.fee = fee
    for name in FLAGS:
        if name in data:
            setattr(plan, name, as_bool(name, data[name]))


def _save_plan(plan: SubscriptionPlan) -> None:
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError as exc:
        raise Conflict(
            f"name: a subscription plan named {plan.name!r} already exists",
            field="name",
            code="duplicate",
        ) from exc


@transaction.atomic
def create_plan(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> SubscriptionPlan:
    """A plan from ``data`` (name, currency and fee required; flags default as the model)."""
    if actor is None:
        raise NotFound("not found")
    plan = SubscriptionPlan(created_at=now, updated_at=now)
    _apply(actor, plan, data)
    _save_plan(plan)
    record(actor=actor, now=now, operation="create", obj=plan, before=None, after=snapshot(plan))
    return plan


@transaction.atomic
def update_plan(
    *, actor: Actor, now: dt.datetime, plan_id: Any, changes: Mapping[str, Any]
) -> SubscriptionPlan:
    """Apply ``changes`` (only the given fields). A new fee applies to fees charged from now
    on; fees already charged stay as they are."""
    plan = get_plan(actor=actor, plan_id=plan_id)
    plan = for_update(SubscriptionPlan.objects.filter(pk=plan.pk)).get()
    before = snapshot(plan)
    _apply(actor, plan, changes)
    plan.updated_at = now
    _save_plan(plan)
    record(actor=actor, now=now, operation="update", obj=plan, before=before, after=snapshot(plan))
    return plan


@transaction.atomic
def delete_plan(*, actor: Actor, now: dt.datetime, plan_id: Any) -> None:
    """A plan no subscription ever used can be deleted."""
    plan = get_plan(actor=actor, plan_id=plan_id)
    used = plan.subscriptions.count()
    if used:
        raise ValidationFailed(
            f"subscription plan {plan.name!r} has {used} subscription"
            f"{'s' if used != 1 else ''} and cannot be deleted",
            field="id",
            code="in_use",
        )
    before = snapshot(plan)
    pk = plan.pk
    plan.delete()
    plan.pk = pk
    record(actor=actor, now=now, operation="delete", obj=plan, before=before, after=None)


# --------------------------------------------------------------------------------------------
# Subscriptions


def _lock(customer_id: int) -> Customer:
    """The customer row, locked like the engine locks it, so a change never races a charge."""
    return for_update(
        Customer.objects.select_related("customer_class", "currency").filter(pk=customer_id)
    ).get()


@transaction.atomic
def subscribe(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: Mapping[str, Any]
) -> Subscription:
    """Subscribe the customer to ``data["plan"]`` from ``start_at`` until ``end_at``;
    ``account`` (optional) is the customer's account it is taken for (the fees stay the
    customer's)."""
    reject_unknown(dict(data), ("plan", "start_at", "end_at", "account"))
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer = _lock(visible.pk)
    account = None
    if data.get("account") not in (None, ""):
        account_id = as_int("account", data["account"], minimum=1)
        account = Account.objects.filter(pk=account_id, customer_id=customer.pk).first()
        if account is None:
            raise ValidationFailed(
                f"account: the customer has no account {account_id}",
                field="account",
                code="not_found",
            )
        if account.terminated_at is not None:
            raise ValidationFailed(
                f"account: {account.identifier!r} is terminated", field="account", code="terminated"
            )
    if customer.status == Status.CLOSED:
        raise ValidationFailed(
            "the customer is permanently terminated (CU-17): it cannot subscribe",
            field="customer_id",
            code="closed",
        )
    plan_value = data.get("plan")
    if plan_value in (None, ""):
        raise ValidationFailed("plan is required", field="plan", code="required")
    try:
        plan = get_plan(actor=actor, plan_id=as_int("plan", plan_value, minimum=1))
    except NotFound:
        raise ValidationFailed(
            f"plan: subscription plan {plan_value} does not exist", field="plan", code="not_found"
        ) from None
    if plan.managed_by_id != customer.reseller_id:
        owner = "the administrator's" if customer.reseller_id is None else "its reseller's"
        raise ValidationFailed(
            f"plan: {plan.name!r} is not one of {owner} plans; a customer subscribes only to those",
            field="plan",
            code="not_found",
        )
    if plan.currency_id != customer.currency_id:
        raise ValidationFailed(
            f"plan: {plan.name!r} charges in {plan.currency_id} but the customer's currency is "
            f"{customer.currency_id}",
            field="plan",
            code="currency_mismatch",
        )
    start_at = as_instant("start_at", data.get("start_at"), required=True)
    assert start_at is not None
    if customer.created_at.replace(microsecond=0) <= start_at < customer.created_at:
        # The creation instant as an API printed it (/rest/: whole seconds; /api/v1 before it
        # printed microseconds: milliseconds): that second means the creation itself.
        start_at = customer.created_at
    if start_at < customer.created_at:
        raise ValidationFailed(
            f"start_at must not be before the customer was created "
            f"({customer.created_at.isoformat()})",
            field="start_at",
        )
    end_at = as_instant("end_at", data.get("end_at"), required=False)
    if end_at is not None and end_at <= start_at:
        raise ValidationFailed("end_at must be after start_at", field="end_at")
    subscription = Subscription.objects.create(
        customer=customer,
        account=account,
        plan=plan,
        start_at=start_at,
        end_at=end_at,
        status=SubscriptionStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=subscription,
        before=None,
        after=snapshot(subscription),
    )
    return subscription


@transaction.atomic
def end_subscription(
    *, actor: Actor, now: dt.datetime, subscription_id: Any, end_at: Any
) -> Subscription:
    """Set (or move, or with None clear) the end of a subscription that has not ended. When
    everything up to the new end is already charged, the subscription ends at once; the
    engine charges what is still due up to it otherwise. Nothing is refunded."""
    visible = get_subscription(actor=actor, subscription_id=subscription_id)
    _lock(visible.customer_id)
    sub = Subscription.objects.select_related("plan").get(pk=visible.pk)
    if sub.status == SubscriptionStatus.ENDED:
        raise ValidationFailed(
            f"subscription {sub.pk} has ended; subscribe again instead",
            field="end_at",
            code="ended",
        )
    end = as_instant("end_at", end_at, required=False)
    if end is not None and end <= sub.start_at:
        raise ValidationFailed(
            f"end_at must be after the subscription's start ({sub.start_at.isoformat()})",
            field="end_at",
        )
    before = snapshot(sub)
    sub.end_at = end
    if end is not None and sub.charged_to is not None and sub.charged_to >= end:
        sub.status = SubscriptionStatus.ENDED
    sub.updated_at = now
    sub.save()
    record(actor=actor, now=now, operation="update", obj=sub, before=before, after=snapshot(sub))
    return sub


@transaction.atomic
def terminate_account(*, actor: Actor, now: dt.datetime, account_id: int) -> Account:
    """Terminate an account (``subscribers.services.terminate_account``) and end the
    subscriptions taken for it: a running one ends now (what is charged stays, nothing is
    refunded), one that has not started yet ends before it starts."""
    visible = subscribers.get_account(actor=actor, account_id=account_id)
    _lock(visible.customer_id)
    account = subscribers.terminate_account(actor=actor, now=now, account_id=account_id)
    for sub in Subscription.objects.filter(account=account).exclude(
        status=SubscriptionStatus.ENDED
    ):
        before = snapshot(sub)
        if sub.start_at >= now:
            sub.end_at, sub.status = sub.start_at, SubscriptionStatus.ENDED
        else:
            if sub.end_at is None or sub.end_at > now:
                sub.end_at = now
            if sub.charged_to is not None and sub.charged_to >= sub.end_at:
                sub.status = SubscriptionStatus.ENDED
        sub.updated_at = now
        sub.save()
        record(
            actor=actor, now=now, operation="update", obj=sub, before=before, after=snapshot(sub)
        )
    return account
