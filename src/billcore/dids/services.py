"""Every write to the DID inventory (issue 14; rating-and-tabs.md §3.1; CU-13 DIDs tab).

Services take the acting user and ``now``; each runs in one transaction and writes an audit
row; input may be raw (a form, a CSV line) or typed (the API) and every error names its field.

* The inventory, its vendor batches, groups and pricing batches are the administrator's. A
  reseller's user may assign a number not in use to one of its own customers, move it between
  that customer's accounts and release it; nothing else.
* A number is digits only (a leading ``+`` and separators are dropped), unique; its costs are
  the supplier's (activation once, periodic per month) in its currency; ``free_of_charge``
  numbers are never charged.
* Assignment: to an open, blocked or suspended customer (not a provisionally or permanently
  terminated or exported one), optionally to one of its accounts; the number must be not in
  use (a frozen number cannot be assigned) and have a pricing batch; a fee-paying batch
  charges in the customer's currency, and the number's costs are in that currency. The prices
  are fixed at assignment (``core.dids``); the activation fee is charged at once through the
  ledger, keyed by the assignment. Assigning a number again to the customer that holds it
  charges nothing (it only moves it to the account given).
* Release: the number returns to the inventory (not in use) and its recurring fee is charged
  up to the release (``charging``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.core.countries import is_country_code
from billcore.core.dids import activation_price, recurring_price
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.db import name_taken
from billcore.dids.charging import next_due, release_locked
from billcore.dids.models import (
    ChargeKind,
    Did,
    DidAssignment,
    DidCharge,
    DidGroup,
    DidStatus,
    PricingBatch,
    VendorBatch,
)
from billcore.dids.selectors import get_did, get_group, get_pricing_batch
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.services import get_currency_in_use
from billcore.ledger.models import Action
from billcore.ledger.postings import post_locked
from billcore.locks import for_update
from billcore.subscribers.models import Account
from billcore.validation import as_bool, as_int, as_money, as_str, reject_unknown

ZERO = Decimal(0)
NUMBER_RE = re.compile(r"[0-9]{3,20}")
DID_FIELDS = (
    "number",
    "description",
    "country",
    "area",
    "vendor_batch",
    "activation_cost",
    "periodic_cost",
    "currency",
    "free_of_charge",
    "group",
    "pricing_batch",
    "frozen",
)
BATCH_FIELDS = (
    "name",
    "description",
    "free_of_charge",
    "currency",
    "additional_activation_fee",
    "additional_recurring_fee",
    "recurring_markup_percent",
)


def _admin(actor: Actor) -> None:
    require_user(actor)
    if not is_admin(actor):
        raise NotFound("not found")


def as_number(value: Any, *, field: str = "number") -> str:
    text = as_str(field, value, max_length=40, required=True)
    digits = re.sub(r"[\s\-.()]", "", text).removeprefix("+")
    if not NUMBER_RE.fullmatch(digits):
        raise ValidationFailed(
            f"{field}: {text!r} is not a number of 3 to 20 digits (E.164, '+' optional)",
            field=field,
        )
    return digits


def _cost(field: str, value: Any) -> Decimal:
    amount = as_money(field, value, allow_none=True)
    if amount is None:
        return ZERO
    if amount < ZERO:
        raise ValidationFailed(f"{field} must not be negative", field=field)
    return amount


# --------------------------------------------------------------------------------------------
# Named things: vendor batches, groups, pricing batches


def _name(model: Any, obj: Any, value: Any, what: str) -> str:
    name = as_str("name", value, max_length=100, required=True)
    if name_taken(model, name, exclude=obj.pk):
        raise ValidationFailed(
            f"name: a {what} named {name!r} already exists (regardless of letter case)",
            field="name",
            code="duplicate",
        )
    return name


def _save_named(obj: Any, what: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(
            f"name: a {what} named {obj.name!r} already exists", field="name", code="duplicate"
        ) from exc


def vendor_batch_named(*, actor: Actor, now: dt.datetime, name: Any) -> VendorBatch:
    """The vendor batch of that name (regardless of case), created when new."""
    text = as_str("vendor_batch", name, max_length=100, required=True)
    from billcore.core.text import name_key

    found = VendorBatch.objects.filter(name_key=name_key(text)).first()
    if found is not None:
        return found
    batch = VendorBatch(name=text, created_at=now, updated_at=now)
    _save_named(batch, "vendor batch")
    record(actor=actor, now=now, operation="create", obj=batch, before=None, after=snapshot(batch))
    return batch


@transaction.atomic
def create_group(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> DidGroup:
    _admin(actor)
    reject_unknown(dict(data), ("name", "description"))
    group = DidGroup(created_at=now, updated_at=now)
    group.name = _name(DidGroup, group, data.get("name"), "DID group")
    group.description = as_str("description", data.get("description"), max_length=500)
    _save_named(group, "DID group")
    record(actor=actor, now=now, operation="create", obj=group, before=None, after=snapshot(group))
    return group


@transaction.atomic
def update_group(
    *, actor: Actor, now: dt.datetime, group_id: Any, changes: Mapping[str, Any]
) -> DidGroup:
    group = get_group(actor=actor, group_id=group_id)
    reject_unknown(dict(changes), ("name", "description"))
    before = snapshot(group)
    if "name" in changes:
        group.name = _name(DidGroup, group, changes["name"], "DID group")
    if "description" in changes:
        group.description = as_str("description", changes["description"], max_length=500)
    group.updated_at = now
    _save_named(group, "DID group")
    record(
        actor=actor, now=now, operation="update", obj=group, before=before, after=snapshot(group)
    )
    return group


@transaction.atomic
def delete_group(*, actor: Actor, now: dt.datetime, group_id: Any) -> None:
    group = get_group(actor=actor, group_id=group_id)
    used = group.dids.count()
    if used:
        raise ValidationFailed(
            f"DID group {group.name!r} holds {used} number(s) and cannot be deleted",
            field="id",
            code="in_use",
        )
    before, pk = snapshot(group), group.pk
    group.delete()
    group.pk = pk
    record(actor=actor, now=now, operation="delete", obj=group, before=before, after=None)


def _apply_batch(batch: PricingBatch, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), BATCH_FIELDS)
    if "name" in data or not batch.pk:
        batch.name = _name(PricingBatch, batch, data.get("name"), "pricing batch")
    if "description" in data:
        batch.description = as_str("description", data["description"], max_length=500)
    if "free_of_charge" in data:
        batch.free_of_charge = as_bool("free_of_charge", data["free_of_charge"])
    in_use = bool(batch.pk) and batch.assignments.filter(released_at__isnull=True).exists()
    if "currency" in data:
        code = data.get("currency")
        new = None if code in (None, "") else get_currency_in_use(code).code
        if in_use and new != batch.currency_id:
            raise ValidationFailed(
                "currency cannot change while numbers of this batch are assigned",
                field="currency",
                code="in_use",
            )
        batch.currency_id = new
    for name in ("additional_activation_fee", "additional_recurring_fee"):
        if name in data:
            setattr(batch, name, _cost(name, data[name]))
    if "recurring_markup_percent" in data:
        pct = _cost("recurring_markup_percent", data["recurring_markup_percent"])
        if pct > Decimal(1000):
            raise ValidationFailed(
                "recurring_markup_percent must be at most 1000", field="recurring_markup_percent"
            )
        batch.recurring_markup_percent = pct
    if batch.free_of_charge:
        if "free_of_charge" in data and any(
            data.get(f) not in (None, "", 0, "0", ZERO)
            for f in (
                "additional_activation_fee",
                "additional_recurring_fee",
                "recurring_markup_percent",
            )
        ):
            raise ValidationFailed(
                "free_of_charge: a free batch has no fees or markup",
                field="free_of_charge",
            )
    elif batch.currency_id is None:
        raise ValidationFailed(
            "currency is required for a fee-paying batch", field="currency", code="required"
        )


@transaction.atomic
def create_pricing_batch(
    *, actor: Actor, now: dt.datetime, data: Mapping[str, Any]
) -> PricingBatch:
    _admin(actor)
    batch = PricingBatch(created_at=now, updated_at=now)
    _apply_batch(batch, data)
    _save_named(batch, "pricing batch")
    record(actor=actor, now=now, operation="create", obj=batch, before=None, after=snapshot(batch))
    return batch


@transaction.atomic
def update_pricing_batch(
    *, actor: Actor, now: dt.datetime, batch_id: Any, changes: Mapping[str, Any]
) -> PricingBatch:
    """New prices apply to numbers assigned from now on; assignments keep theirs."""
    _admin(actor)
    batch = get_pricing_batch(actor=actor, batch_id=batch_id)
    before = snapshot(batch)
    _apply_batch(batch, changes)
    batch.updated_at = now
    _save_named(batch, "pricing batch")
    record(
        actor=actor, now=now, operation="update", obj=batch, before=before, after=snapshot(batch)
    )
    return batch


@transaction.atomic
def delete_pricing_batch(*, actor: Actor, now: dt.datetime, batch_id: Any) -> None:
    _admin(actor)
    batch = get_pricing_batch(actor=actor, batch_id=batch_id)
    used = batch.dids.count() + batch.assignments.count()
    if used:
        raise ValidationFailed(
            f"pricing batch {batch.name!r} is used by numbers or assignments and cannot be deleted",
            field="id",
            code="in_use",
        )
    before, pk = snapshot(batch), batch.pk
    batch.delete()
    batch.pk = pk
    record(actor=actor, now=now, operation="delete", obj=batch, before=before, after=None)


# --------------------------------------------------------------------------------------------
# Numbers


def _named_ref(model: Any, field: str, value: Any) -> Any:
    """A group or pricing batch by id or by name; None for empty."""
    if value in (None, ""):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        found = model.objects.filter(pk=as_int(field, value, minimum=1)).first()
    else:
        from billcore.core.text import name_key

        found = model.objects.filter(
            name_key=name_key(as_str(field, value, max_length=100))
        ).first()
    if found is None:
        raise ValidationFailed(f"{field}: {value!r} does not exist", field=field, code="not_found")
    return found


def _apply_did(actor: Actor, now: dt.datetime, did: Did, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), DID_FIELDS)
    if not did.pk:
        did.number = as_number(data.get("number"))
    elif "number" in data and as_number(data["number"]) != did.number:
        raise ValidationFailed("number cannot change", field="number", code="read_only")
    if "description" in data:
        did.description = as_str("description", data["description"], max_length=500)
    if "country" in data or not did.pk:
        country = as_str("country", data.get("country"), max_length=2).upper() or "--"
        if country != "--" and not is_country_code(country):
            raise ValidationFailed(
                f"country: {country!r} is not an ISO 3166 alpha-2 code (or -- for none)",
                field="country",
            )
        did.country = country
    if "area" in data:
        did.area = as_str("area", data["area"], max_length=100)
    if "vendor_batch" in data or not did.pk:
        did.vendor_batch = vendor_batch_named(actor=actor, now=now, name=data.get("vendor_batch"))
    in_use = did.status == DidStatus.IN_USE
    for name in ("activation_cost", "periodic_cost"):
        if name in data or not did.pk:
            setattr(did, name, _cost(name, data.get(name)))
    if "currency" in data or not did.pk:
        code = get_currency_in_use(data.get("currency")).code
        if in_use and code != did.currency_id:
            raise ValidationFailed(
                "currency cannot change while the number is in use", field="currency"
            )
        did.currency_id = code
    if "free_of_charge" in data:
        did.free_of_charge = as_bool("free_of_charge", data["free_of_charge"])
    if "group" in data:
        did.group = _named_ref(DidGroup, "group", data["group"])
    if "pricing_batch" in data:
        did.pricing_batch = _named_ref(PricingBatch, "pricing_batch", data["pricing_batch"])
    if "frozen" in data:
        frozen = as_bool("frozen", data["frozen"])
        if frozen and in_use:
            raise ValidationFailed(
                f"frozen: {did.number} is in use; release it before freezing it",
                field="frozen",
                code="in_use",
            )
        if not in_use:
            did.status = DidStatus.FROZEN if frozen else DidStatus.NOT_IN_USE


def _save_did(did: Did) -> None:
    try:
        with transaction.atomic():
            did.save()
    except IntegrityError as exc:
        raise Conflict(
            f"number: {did.number} is already in the inventory", field="number", code="duplicate"
        ) from exc


@transaction.atomic
def create_did(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> Did:
    """Add a number to the inventory (not in use, or frozen with ``frozen``)."""
    _admin(actor)
    did = Did(created_at=now, updated_at=now, status=DidStatus.NOT_IN_USE)
    _apply_did(actor, now, did, data)
    if Did.objects.filter(number=did.number).exists():
        raise ValidationFailed(
            f"number: {did.number} is already in the inventory", field="number", code="duplicate"
        )
    _save_did(did)
    record(actor=actor, now=now, operation="create", obj=did, before=None, after=snapshot(did))
    return did


@transaction.atomic
def update_did(*, actor: Actor, now: dt.datetime, did_id: Any, changes: Mapping[str, Any]) -> Did:
    _admin(actor)
    did = for_update(Did.objects.filter(pk=get_did(actor=actor, did_id=did_id).pk)).get()
    before = snapshot(did)
    _apply_did(actor, now, did, changes)
    did.updated_at = now
    _save_did(did)
    record(actor=actor, now=now, operation="update", obj=did, before=before, after=snapshot(did))
    return did


@transaction.atomic
def delete_did(*, actor: Actor, now: dt.datetime, did_id: Any) -> None:
    """A number can be deleted only when not in use and never assigned (its charges keep
    their history otherwise: freeze it instead)."""
    _admin(actor)
    did = get_did(actor=actor, did_id=did_id)
    if did.status == DidStatus.IN_USE:
        raise ValidationFailed(
            f"{did.number} is in use and cannot be deleted", field="id", code="in_use"
        )
    if did.assignments.exists():
        raise ValidationFailed(
            f"{did.number} was assigned before and keeps its history; freeze it instead",
            field="id",
            code="has_history",
        )
    before, pk = snapshot(did), did.pk
    did.delete()
    did.pk = pk
    record(actor=actor, now=now, operation="delete", obj=did, before=before, after=None)


# --------------------------------------------------------------------------------------------
# Assignment


def _lock_customer(actor: Actor, customer_id: Any, *, field: str = "customer") -> Customer:
    try:
        visible = get_customer(actor=actor, customer_id=as_int(field, customer_id, minimum=1))
    except NotFound:
        raise NotFound(f"customer {customer_id} not found", field=field) from None
    customer: Customer = for_update(
        Customer.objects.select_related("customer_class", "currency").filter(pk=visible.pk)
    ).get()
    return customer


def _account(customer: Customer, value: Any) -> Account | None:
    if value in (None, ""):
        return None
    account_id = as_int("account", value, minimum=1)
    account = Account.objects.filter(pk=account_id, customer_id=customer.pk).first()
    if account is None:
        raise ValidationFailed(
            f"account: the customer has no account {account_id}", field="account", code="not_found"
        )
    if account.terminated_at is not None:
        raise ValidationFailed(
            f"account: {account.identifier!r} is terminated", field="account", code="terminated"
        )
    return account


def _did_for(actor: Actor, value: Any) -> Did:
    if value in (None, ""):
        raise ValidationFailed("did is required", field="did", code="required")
    try:
        return get_did(actor=actor, did_id=value)
    except NotFound:
        raise ValidationFailed(
            f"did: DID {value} does not exist", field="did", code="not_found"
        ) from None


def prices(did: Did, batch: PricingBatch | None) -> tuple[Decimal, Decimal]:
    """(activation, recurring) the customer pays for ``did`` under ``batch``."""
    if did.free_of_charge or batch is None or batch.free_of_charge:
        return ZERO, ZERO
    return (
        activation_price(
            activation_cost=did.activation_cost,
            additional_activation_fee=batch.additional_activation_fee,
        ),
        recurring_price(
            periodic_cost=did.periodic_cost,
            additional_recurring_fee=batch.additional_recurring_fee,
            markup_percent=batch.recurring_markup_percent,
        ),
    )


@transaction.atomic
def assign(
    *, actor: Actor, now: dt.datetime, did_id: Any, customer_id: Any, account_id: Any = None
) -> DidAssignment:
    """Assign a number to a customer (and optionally one of its accounts); see the module
    docstring. The activation fee is charged at ``now``."""
    customer = _lock_customer(actor, customer_id)
    did = _did_for(actor, did_id)
    if customer.status in (Status.CLOSED, Status.PROVISIONALLY_TERMINATED, Status.EXPORTED):
        raise ValidationFailed(
            f"customer: a {Status(customer.status).label.lower()} customer cannot be assigned "
            "numbers (CU-16, CU-17)",
            field="customer",
            code="not_open",
        )
    account = _account(customer, account_id)
    if did.status == DidStatus.IN_USE and did.customer_id == customer.pk:
        current = DidAssignment.objects.get(did=did, released_at__isnull=True)
        if account is not None and account.pk != did.account_id:
            _move(actor, now, did, current, account)
        return current  # the same number again: nothing charged twice
    if did.status == DidStatus.FROZEN:
        raise ValidationFailed(
            f"did: {did.number} is frozen and cannot be assigned", field="did", code="frozen"
        )
    if did.status == DidStatus.IN_USE:
        raise ValidationFailed(f"did: {did.number} is already in use", field="did", code="in_use")
    batch = did.pricing_batch
    if batch is None:
        raise ValidationFailed(
            f"did: {did.number} has no pricing batch; give it one (free or fee-paying) first",
            field="did",
            code="no_pricing_batch",
        )
    activation, recurring = prices(did, batch)
    if activation or recurring:
        if batch.currency_id != customer.currency_id:
            raise ValidationFailed(
                f"did: its pricing batch {batch.name!r} charges in {batch.currency_id} but the "
                f"customer's currency is {customer.currency_id}",
                field="did",
                code="currency_mismatch",
            )
        if did.currency_id != batch.currency_id:
            raise ValidationFailed(
                f"did: its costs are in {did.currency_id}, its pricing batch charges in "
                f"{batch.currency_id}",
                field="did",
                code="currency_mismatch",
            )
    taken = Did.objects.filter(pk=did.pk, status=DidStatus.NOT_IN_USE).update(
        status=DidStatus.IN_USE,
        customer=customer,
        account=account,
        assigned_at=now,
        updated_at=now,
    )
    if not taken:
        raise Conflict(f"did: {did.number} was just taken", field="did", code="in_use")
    before = snapshot(did)
    did.refresh_from_db()
    record(actor=actor, now=now, operation="update", obj=did, before=before, after=snapshot(did))
    assignment = DidAssignment.objects.create(
        did=did,
        customer=customer,
        account=account,
        pricing_batch=batch,
        assigned_at=now,
        activation_price=activation,
        recurring_price=recurring,
        charged_to=now,
        created_at=now,
    )
    assignment.next_due_at = next_due(customer, assignment)
    assignment.save(update_fields=["next_due_at"])
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=assignment,
        before=None,
        after=snapshot(assignment),
    )
    if activation:
        row = post_locked(
            customer_id=customer.pk,
            action=Action.SUBSCRIPTION,
            amount=activation,
            now=now,
            visible_comment=f"DID {did.number} activation",
            idempotency_key=f"did-{assignment.pk}-activation",
        )
        DidCharge.objects.create(
            assignment=assignment,
            kind=ChargeKind.ACTIVATION,
            period_start=now,
            period_end=now,
            amount=activation,
            transaction=row,
            created_at=now,
        )
    return assignment


def _move(
    actor: Actor, now: dt.datetime, did: Did, assignment: DidAssignment, account: Account | None
) -> None:
    before = snapshot(did)
    did.account = account
    did.updated_at = now
    did.save(update_fields=["account", "updated_at"])
    assignment.account = account
    assignment.save(update_fields=["account"])
    record(actor=actor, now=now, operation="update", obj=did, before=before, after=snapshot(did))


@transaction.atomic
def assign_to_account(*, actor: Actor, now: dt.datetime, did_id: Any, account_id: Any) -> Did:
    """Move a number in use to another account of the same customer (empty: to the customer
    itself). Nothing is charged."""
    did = _did_for(actor, did_id)
    if did.status != DidStatus.IN_USE or did.customer_id is None:
        raise ValidationFailed(
            f"did: {did.number} is not assigned to a customer", field="did", code="not_in_use"
        )
    customer = _lock_customer(actor, did.customer_id)
    if customer.status == Status.CLOSED:
        raise ValidationFailed("customer: permanently terminated (CU-17)", field="customer")
    account = _account(customer, account_id)
    assignment = DidAssignment.objects.get(did=did, released_at__isnull=True)
    if account != did.account:
        _move(actor, now, did, assignment, account)
    return did


@transaction.atomic
def release(*, actor: Actor, now: dt.datetime, did_id: Any) -> DidAssignment | None:
    """Return a number in use to the inventory; its recurring fee is charged up to now."""
    did = _did_for(actor, did_id)
    if did.status != DidStatus.IN_USE or did.customer_id is None:
        raise ValidationFailed(
            f"did: {did.number} is not assigned to a customer", field="did", code="not_in_use"
        )
    customer = _lock_customer(actor, did.customer_id)
    did = Did.objects.get(pk=did.pk)
    return release_locked(actor=actor, now=now, customer=customer, did=did, at=now)
