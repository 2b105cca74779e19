"""Reads of abbreviated dialing and service features, scoped to what the actor may see
(a reseller's user: its own customers, accounts and products; anything else is a 404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billcore.accounts.access import Actor
from billcore.customers.selectors import get_customer
from billcore.features.models import AbbreviatedNumber, DialingPlan, FeatureSet
from billcore.features.services import Effective, effective_features, own_values
from billcore.rating.selectors import get_product
from billcore.subscribers.services import get_account


@dataclass(frozen=True)
class Dialing:
    max_length: int | None
    entries: list[AbbreviatedNumber]


def dialing(*, actor: Actor, customer_id: Any) -> Dialing:
    customer = get_customer(actor=actor, customer_id=customer_id)
    plan = DialingPlan.objects.filter(customer=customer).first()
    entries = list(
        AbbreviatedNumber.objects.filter(customer=customer)
        .select_related("account")
        .order_by("abbreviated", "id")
    )
    return Dialing(plan.max_length if plan is not None else None, entries)


@dataclass(frozen=True)
class Features:
    """An owner's own values (None: inherits) and the effective set with its sources."""

    own: dict[str, Any]
    effective: dict[str, Effective]


def customer_features(*, actor: Actor, customer_id: Any) -> Features:
    customer = get_customer(actor=actor, customer_id=customer_id)
    own = own_values(FeatureSet.objects.filter(customer=customer).first())
    return Features(own, effective_features(customer_id=customer.pk, account_id=None))


def account_features(*, actor: Actor, account_id: Any) -> Features:
    account = get_account(actor=actor, account_id=account_id)
    own = own_values(FeatureSet.objects.filter(account=account).first())
    return Features(own, effective_features(customer_id=account.customer_id, account_id=account.pk))


def product_features(*, actor: Actor, product_id: Any) -> dict[str, Any]:
    product = get_product(actor=actor, product_id=product_id)
    return own_values(FeatureSet.objects.filter(product=product).first())
