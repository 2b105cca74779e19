"""Reads of the DID inventory, scoped to what the actor may see (DESIGN rule 4).

An administrator sees every number, batch and group. A reseller's user sees the numbers of
its own customers and the numbers not in use (those it may assign to its customers); frozen
numbers, other customers' numbers, the pricing batches and the groups are not found."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.core.dids import BadPattern, is_pattern, keypad_digits, pattern_regex
from billcore.dids.models import (
    Did,
    DidAssignment,
    DidCharge,
    DidGroup,
    DidStatus,
    PricingBatch,
    VendorBatch,
)
from billcore.errors import NotFound, ValidationFailed
from billcore.validation import as_choice, as_int


def visible_dids(*, actor: Actor) -> QuerySet[Did]:
    user = require_user(actor)
    qs = Did.objects.select_related(
        "vendor_batch", "group", "pricing_batch", "customer", "account", "currency"
    )
    if is_admin(actor):
        return qs
    return qs.filter(Q(customer__reseller_id=user.reseller_id) | Q(status=DidStatus.NOT_IN_USE))


def get_did(*, actor: Actor, did_id: Any) -> Did:
    try:
        return visible_dids(actor=actor).get(pk=as_int("id", did_id, minimum=1))
    except (Did.DoesNotExist, ValidationFailed):
        raise NotFound(f"DID {did_id} not found", field="id") from None


def get_did_by_number(*, actor: Actor, number: Any) -> Did:
    digits = re.sub(r"[\s\-.()+]", "", str(number or ""))
    did = visible_dids(actor=actor).filter(number=digits).first()
    if did is None:
        raise NotFound(f"DID {number} not found", field="number")
    return did


def search_filter(qs: QuerySet[Did], search: str) -> QuerySet[Did]:
    """Vanity search: a pattern (``%``/``*`` any digits, ``_``/``?`` one digit) matches the
    whole number; otherwise the digits (letters as keypad digits) are looked for anywhere in
    it."""
    text = search.strip()
    if not text:
        return qs
    if len(text) > 40:
        raise ValidationFailed("search is longer than 40 characters", field="search")
    try:
        if is_pattern(text):
            return qs.filter(number__regex=pattern_regex(text))
        digits = keypad_digits(text)
    except BadPattern as exc:
        raise ValidationFailed(f"search: {exc}", field="search") from None
    if not digits:
        raise ValidationFailed("search: no digit or letter to look for", field="search")
    return qs.filter(number__contains=digits)


def list_dids(
    *,
    actor: Actor,
    search: str = "",
    status: str | None = None,
    customer: Any = None,
    group: Any = None,
    vendor_batch: Any = None,
    pricing_batch: Any = None,
    country: str | None = None,
) -> QuerySet[Did]:
    qs = search_filter(visible_dids(actor=actor), search)
    if status:
        qs = qs.filter(status=as_choice("status", status, DidStatus.values))
    if customer not in (None, ""):
        qs = qs.filter(customer_id=as_int("customer", customer, minimum=1))
    if group not in (None, ""):
        qs = qs.filter(group_id=as_int("group", group, minimum=1))
    if vendor_batch not in (None, ""):
        qs = qs.filter(vendor_batch_id=as_int("vendor_batch", vendor_batch, minimum=1))
    if pricing_batch not in (None, ""):
        qs = qs.filter(pricing_batch_id=as_int("pricing_batch", pricing_batch, minimum=1))
    if country:
        qs = qs.filter(country=country.strip().upper())
    return qs.order_by("number")


def status_counts(*, actor: Actor) -> dict[str, int]:
    """The quick filters: total, in use, not in use, frozen."""
    qs = visible_dids(actor=actor)
    counts = {s: qs.filter(status=s).count() for s in DidStatus.values}
    counts["total"] = sum(counts.values())
    return counts


def customer_dids(*, actor: Actor, customer_id: int) -> QuerySet[Did]:
    """The numbers a (visible) customer holds."""
    return visible_dids(actor=actor).filter(customer_id=customer_id).order_by("number")


def customer_assignments(*, actor: Actor, customer_id: int) -> QuerySet[DidAssignment]:
    qs = DidAssignment.objects.select_related("did", "account", "pricing_batch").filter(
        customer_id=customer_id
    )
    if not is_admin(actor):
        qs = qs.filter(customer__reseller_id=require_user(actor).reseller_id)
    return qs


def assignment_charges(*, assignment_ids: list[int]) -> QuerySet[DidCharge]:
    return DidCharge.objects.filter(assignment_id__in=assignment_ids).order_by(
        "assignment_id", "period_start", "kind"
    )


def _admin_only(actor: Actor) -> None:
    require_user(actor)
    if not is_admin(actor):
        raise NotFound("not found")


def list_pricing_batches(*, actor: Actor) -> QuerySet[PricingBatch]:
    _admin_only(actor)
    return PricingBatch.objects.select_related("currency").order_by("name")


def get_pricing_batch(*, actor: Actor, batch_id: Any) -> PricingBatch:
    _admin_only(actor)
    try:
        return PricingBatch.objects.get(pk=as_int("id", batch_id, minimum=1))
    except (PricingBatch.DoesNotExist, ValidationFailed):
        raise NotFound(f"pricing batch {batch_id} not found", field="id") from None


def list_groups(*, actor: Actor) -> QuerySet[DidGroup]:
    _admin_only(actor)
    return DidGroup.objects.order_by("name")


def get_group(*, actor: Actor, group_id: Any) -> DidGroup:
    _admin_only(actor)
    try:
        return DidGroup.objects.get(pk=as_int("id", group_id, minimum=1))
    except (DidGroup.DoesNotExist, ValidationFailed):
        raise NotFound(f"DID group {group_id} not found", field="id") from None


def list_vendor_batches(*, actor: Actor) -> QuerySet[VendorBatch]:
    _admin_only(actor)
    return VendorBatch.objects.order_by("name")
