"""Every write to customers (CU-01 … CU-12). Balances move only through the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.classes.models import CustomerClass
from billcore.classes.services import get_default_class
from billcore.classes.settings import parser
from billcore.core.countries import is_country_code
from billcore.core.periods import period_containing
from billcore.customers.lifecycle import record_status_change
from billcore.customers.models import (
    BalanceControl,
    BillingPeriod,
    Customer,
    CustomerType,
    Status,
)
from billcore.customers.selectors import get_customer
from billcore.customers.settings import ADDRESS_FIELDS, CREATE_FIELDS, SETTINGS, UPDATE_FIELDS
from billcore.db import name_taken
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.services import custom_field_values, get_currency_in_use
from billcore.locks import for_update
from billcore.validation import (
    as_choice,
    as_int,
    as_money,
    as_str,
    check_instant,
    reject_unknown,
)

ZERO = Decimal(0)

# How each plain setting is parsed, from the declaration (customers.settings); the rules that
# join several settings follow below.
PARSERS: dict[str, Callable[[str, Any], Any]] = {s.name: parser(s) for s in SETTINGS if s.simple}


def _parse(name: str, value: Any) -> Any:
    return PARSERS[name](name, value)


def _set_name(customer: Customer, value: Any) -> None:
    name = as_str("name", value, max_length=100, required=True)
    if name_taken(Customer, name, exclude=customer.pk):
        raise ValidationFailed(
            f"name: a customer named {name!r} already exists (names are unique regardless of "
            "letter case)",
            field="name",
            code="duplicate",
        )
    customer.name = name


def default_class(*, actor: Actor) -> CustomerClass | None:
    """The class a new customer gets when none is given: the Default class when an
    administrator creates it; none for a reseller's user, who names one of its own classes."""
    return get_default_class() if is_admin(actor) else None


def _resolve_class(actor: Actor, customer: Customer, value: Any) -> CustomerClass:
    """CU-09 and CC-07: currency must match, and only the owner may assign a class. A new
    customer given no class (absent or null) gets the default class, if there is one."""
    if value is None and customer.pk is None:
        default = default_class(actor=actor)
        if default is not None:
            value = default.pk
    if value in (None, ""):
        raise ValidationFailed(
            "customer_class is required", field="customer_class", code="required"
        )
    class_id = as_int("customer_class", value, minimum=1)
    cls = CustomerClass.objects.filter(pk=class_id).first()
    admin = is_admin(actor)
    visible = cls is not None and (admin or cls.managed_by_id == require_user(actor).reseller_id)
    if cls is None or not visible:
        raise ValidationFailed(
            f"customer_class: class {class_id} not found", field="customer_class", code="not_found"
        )
    if cls.managed_by_id is not None and admin:
        raise ValidationFailed(
            f"customer_class: {cls.name!r} is managed by a reseller; only that reseller can "
            "assign it, to its own customers (CC-07)",
            field="customer_class",
            code="not_assignable",
        )
    if cls.managed_by_id is not None and customer.reseller_id != cls.managed_by_id:
        raise ValidationFailed(
            f"customer_class: {cls.name!r} can be assigned only to the reseller's own customers",
            field="customer_class",
            code="not_assignable",
        )
    if cls.currency_id is not None and cls.currency_id != customer.currency_id:
        raise ValidationFailed(
            f"customer_class: {cls.name!r} is a {cls.currency_id} class and the customer's "
            f"currency is {customer.currency_id} (CU-09)",
            field="customer_class",
            code="currency_mismatch",
        )
    return cls


def _custom_fields(customer: Customer, value: Any, *, given: bool) -> None:
    """CU-11: values for defined custom fields; the class's mandatory ones must be filled."""
    values = dict(customer.custom_fields or {})
    if given:
        values = custom_field_values(values, value)
    for cf in customer.customer_class.mandatory_custom_fields.all():
        if not values.get(cf.name):
            raise ValidationFailed(
                f"custom_fields.{cf.name}: {cf.label} is mandatory for customers of class "
                f"{customer.customer_class.name!r} (CU-11)",
                field=f"custom_fields.{cf.name}",
                code="required",
            )
    customer.custom_fields = values


def _apply_common(actor: Actor, customer: Customer, data: Mapping[str, Any]) -> None:
    if "name" in data or not customer.pk:
        _set_name(customer, data.get("name"))
    if "blocked" in data:
        customer.blocked = _parse("blocked", data["blocked"])
    if "balance_control" in data or not customer.pk:
        customer.balance_control = _parse("balance_control", data.get("balance_control"))
    if "billing_period" in data:
        period = as_int("billing_period", data["billing_period"])
        if period not in BillingPeriod.values:
            raise ValidationFailed(
                "billing_period must be 1 (daily), 2 (weekly), 3 (semi-monthly), 4 (monthly), "
                "5 (monthly anniversary) or 6 (30 days)",
                field="billing_period",
                code="invalid_choice",
            )
        customer.billing_period = period
    # The class's send_statistics and invoice_template (CU-13) are overridden unless empty.
    for name in ("time_zone", "send_statistics", "invoice_template", *ADDRESS_FIELDS, "email"):
        if name in data:
            setattr(customer, name, _parse(name, data[name]))
    if "note" in data:
        customer.note = _parse("note", data["note"])
    if "country" in data:
        code = _parse("country", data["country"])
        if code and not is_country_code(code):
            raise ValidationFailed(
                f"country: {code!r} is not an ISO 3166-1 alpha-2 code (e.g. US, DE)",
                field="country",
                code="unknown_country",
            )
        customer.country = code
    if "customer_class" in data or not customer.pk:
        cls = _resolve_class(actor, customer, data.get("customer_class"))
        customer.customer_class = cls
    # CU-07 / CU-08: a credit limit only for postpaid, available funds only for prepaid.
    if customer.balance_control == BalanceControl.PREPAID:
        if data.get("credit_limit") not in (None, ""):
            raise ValidationFailed(
                "credit_limit applies only to postpaid customers (CU-07); a prepaid customer "
                "has available funds instead",
                field="credit_limit",
                code="not_applicable",
            )
        customer.credit_limit = None
    elif "credit_limit" in data:
        customer.credit_limit = _parse("credit_limit", data["credit_limit"])
    _temporary_limit(customer, data)
    _fraud_override(customer, data)
    _custom_fields(customer, data.get("custom_fields"), given="custom_fields" in data)


def _temporary_limit(customer: Customer, data: Mapping[str, Any]) -> None:
    """A temporary credit-limit increase until ``credit_limit_until`` (postpaid only). Both
    must be set together (a change may give one of them when the other is already set);
    both empty removes it."""
    limit_given = "temp_credit_limit" in data
    until_given = "credit_limit_until" in data
    if not limit_given and not until_given:
        if customer.balance_control == BalanceControl.PREPAID:
            customer.temp_credit_limit = None
            customer.credit_limit_until = None
        return
    limit = (
        _parse("temp_credit_limit", data.get("temp_credit_limit"))
        if limit_given
        else customer.temp_credit_limit
    )
    until = data.get("credit_limit_until") if until_given else customer.credit_limit_until
    if isinstance(until, str):
        if until.strip():
            try:
                until = dt.datetime.fromisoformat(until.strip())
            except ValueError:
                raise ValidationFailed(
                    "credit_limit_until must be an ISO 8601 date-time",
                    field="credit_limit_until",
                ) from None
        else:
            until = None
    # Removing: the limit given empty (with no date given, or an empty one), or only the
    # date given empty. A limit without its date (or a date without a limit) is an error.
    removing = (limit_given and limit is None and (not until_given or until is None)) or (
        until_given and until is None and not limit_given
    )
    if removing or (limit is None and until is None):
        customer.temp_credit_limit = None
        customer.credit_limit_until = None
        return
    if customer.balance_control == BalanceControl.PREPAID:
        raise ValidationFailed(
            "temp_credit_limit applies only to postpaid customers",
            field="temp_credit_limit",
            code="not_applicable",
        )
    if limit is None:
        raise ValidationFailed(
            "temp_credit_limit is required with credit_limit_until",
            field="temp_credit_limit",
            code="required",
        )
    if until is None:
        raise ValidationFailed(
            "credit_limit_until is required with temp_credit_limit (the date the limit reverts)",
            field="credit_limit_until",
            code="required",
        )
    if not isinstance(until, dt.datetime) or until.tzinfo is None:
        raise ValidationFailed(
            "credit_limit_until needs a date-time with a time zone", field="credit_limit_until"
        )
    if until_given:
        check_instant("credit_limit_until", until)
    customer.temp_credit_limit = limit
    customer.credit_limit_until = until


def _fraud_override(customer: Customer, data: Mapping[str, Any]) -> None:
    """Fraud protection per customer (CU-13 tab): overrides the class's limit and action."""
    for name in ("fraud_daily_limit", "fraud_action"):
        if name in data:
            setattr(customer, name, _parse(name, data[name]))


def open_period_end(customer: Customer, *, start: dt.datetime) -> dt.datetime:
    """The end of the billing period that contains ``start`` (CU-10), in the customer's
    billing time zone; the first period starts at the customer's creation."""
    return period_containing(
        at=start,
        period=customer.billing_period,
        time_zone=customer.time_zone,
        anchor=customer.created_at,
    ).end


def _save(customer: Customer) -> None:
    try:
        customer.save()  # the caller's transaction rolls back on the error raised below
    except IntegrityError as exc:
        raise Conflict(
            f"name: a customer named {customer.name!r} already exists",
            field="name",
            code="duplicate",
        ) from exc


# Posts a new prepaid customer's opening funds (the ledger's first row and the balance's
# first move) inside ``create_customer``'s transaction: ``ledger.customers`` passes it.
OpeningBalance = Callable[[Customer, Decimal], None]


def existing_reseller(value: Any, *, field: str) -> int:
    """The id of an existing reseller given as ``field`` (an owner chosen by an
    administrator: a sub-customer's reseller, the reseller managing a plan, tariff or
    product); a 400 naming ``field`` otherwise."""
    rid = as_int(field, value, minimum=1)
    if not Customer.objects.filter(pk=rid, customer_type=CustomerType.RESELLER).exists():
        raise ValidationFailed(
            f"{field}: reseller {rid} does not exist", field=field, code="not_found"
        )
    return rid


@transaction.atomic
def create_customer(
    *,
    actor: Actor,
    now: dt.datetime,
    data: Mapping[str, Any],
    post_opening_balance: OpeningBalance | None = None,
) -> Customer:
    """Create a customer. A prepaid customer's ``available_funds`` become the ledger's first
    row (an opening balance), so the ledger always sums to the balance: the ledger posts it
    (``post_opening_balance``), so interfaces create customers through
    ``billcore.ledger.customers.create_customer``, which passes it."""
    if actor is None:
        raise NotFound("not found")
    reject_unknown(dict(data), CREATE_FIELDS)
    customer = Customer(created_at=now, updated_at=now)
    customer.currency = get_currency_in_use(data.get("currency"))
    # Who owns the customer (CC-07).
    ctype = as_choice(
        "customer_type", data.get("customer_type") or CustomerType.RETAIL, CustomerType.values
    )
    if is_admin(actor):
        reseller = data.get("reseller")
        if reseller not in (None, ""):
            customer.reseller_id = existing_reseller(reseller, field="reseller")
    else:
        if data.get("reseller") not in (None, "", require_user(actor).reseller_id):
            raise ValidationFailed(
                "reseller: a reseller's user creates only its own customers",
                field="reseller",
                code="not_found",
            )
        if ctype != CustomerType.RETAIL:
            raise ValidationFailed(
                "customer_type: a reseller's user creates retail customers",
                field="customer_type",
                code="not_allowed",
            )
        customer.reseller_id = require_user(actor).reseller_id
    customer.customer_type = ctype
    _apply_common(actor, customer, data)
    funds = data.get("available_funds")
    opening: Decimal | None = None
    if customer.balance_control == BalanceControl.PREPAID:
        opening = as_money("available_funds", funds, minimum=ZERO)
    elif funds not in (None, ""):
        raise ValidationFailed(
            "available_funds applies only to prepaid customers (CU-08); a postpaid customer "
            "has a credit limit instead",
            field="available_funds",
            code="not_applicable",
        )
    customer.billed_to = now
    customer.next_billed_to = open_period_end(customer, start=now)
    if opening and post_opening_balance is None:
        raise RuntimeError(
            "a prepaid customer's opening funds are posted by the ledger: create it through "
            "billcore.ledger.customers.create_customer"
        )
    _save(customer)
    if opening:
        # The ledger's first row and the balance's first move, in this transaction, so the
        # ledger sums to the balance.
        assert post_opening_balance is not None
        post_opening_balance(customer, opening)
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=customer,
        before=None,
        after=snapshot(customer),
    )
    return customer


@transaction.atomic
def update_customer(
    *, actor: Actor, now: dt.datetime, customer_id: int, changes: Mapping[str, Any]
) -> Customer:
    """Partial update; the currency never changes (CU-06); the balance and available funds
    change only through transactions (CU-12)."""
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer = for_update(
        Customer.objects.select_related("customer_class").filter(pk=visible.pk)
    ).get()
    if customer.status == Status.CLOSED:
        raise ValidationFailed(
            "the customer is permanently terminated: no change is possible (CU-17)",
            field="status",
            code="closed",
        )
    data = dict(changes)
    if "available_funds" in data or "balance" in data:
        field = "available_funds" if "available_funds" in data else "balance"
        raise ValidationFailed(
            f"{field} changes only through a transaction (balance adjustment, CU-12)",
            field=field,
            code="use_transaction",
        )
    if "currency" in data:
        if data["currency"] != customer.currency_id:
            raise ValidationFailed(
                "currency cannot be changed once the customer is saved (CU-06)",
                field="currency",
                code="immutable",
            )
        data.pop("currency")
    for frozen in ("customer_type", "reseller"):
        if frozen in data:
            current = getattr(customer, "reseller_id" if frozen == "reseller" else frozen)
            if data[frozen] != current:
                raise ValidationFailed(
                    f"{frozen} cannot be changed once the customer is saved",
                    field=frozen,
                    code="immutable",
                )
            data.pop(frozen)
    reject_unknown(data, UPDATE_FIELDS)
    before = snapshot(customer)
    _apply_common(actor, customer, data)
    if customer.billed_to is not None and (
        before["billing_period"] != customer.billing_period
        or before["time_zone"] != customer.time_zone
    ):
        # CU-10: the open period now ends where the new period type (or zone) says.
        customer.next_billed_to = open_period_end(customer, start=customer.billed_to)
    customer.updated_at = now
    _save(customer)
    if before["blocked"] != customer.blocked:  # CU-14: a status change, in the history too
        record_status_change(
            actor=actor,
            now=now,
            customer=customer,
            from_status=customer.status,
            reason="blocked" if customer.blocked else "unblocked",
        )
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=customer,
        before=before,
        after=snapshot(customer),
    )
    return customer


@transaction.atomic
def delete_customer(*, actor: Actor, now: dt.datetime, customer_id: int) -> None:
    """Only a customer with no money history can be deleted; others are terminated."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    n = customer.transactions.count()
    if n:
        raise ValidationFailed(
            f"customer {customer.name!r} has {n} transactions and cannot be deleted; "
            "terminate it instead",
            field="id",
            code="has_history",
        )
    if customer.customer_type == CustomerType.RESELLER and (
        customer.sub_customers.exists() or customer.managed_classes.exists()
    ):
        raise ValidationFailed(
            f"reseller {customer.name!r} still owns customers or classes", field="id", code="in_use"
        )
    if customer.users.exists():
        raise ValidationFailed(
            f"reseller {customer.name!r} still has users", field="id", code="in_use"
        )
    accounts = customer.accounts.count()
    if accounts:
        raise ValidationFailed(
            f"customer {customer.name!r} has {accounts} account(s) and cannot be deleted; "
            "terminate it instead",
            field="id",
            code="in_use",
        )
    before = snapshot(customer)
    pk = customer.pk
    try:
        with transaction.atomic():
            customer.delete()
    except (ProtectedError, RestrictedError) as exc:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.args[1]})
        raise ValidationFailed(
            f"customer {customer.name!r} still has {', '.join(kinds)} and cannot be deleted; "
            "terminate it instead",
            field="id",
            code="in_use",
        ) from None
    customer.pk = pk
    record(actor=actor, now=now, operation="delete", obj=customer, before=before, after=None)
