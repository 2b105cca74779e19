"""``Customer`` service: each method parses its params, calls the customer services,
selectors, lifecycle or ledger, and shapes the reply (``customer_info``,
``customer_list``, ...). Visibility and every rule stay in the called functions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from billcore.customers import lifecycle, selectors, services
from billcore.customers.models import Customer, Status
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.closing import terminate
from billcore.invoicing.settling import record_transaction
from billcore.ledger import customers as ledger_customers
from billcore.ledger.selectors import opening_balances
from billcore.porta import billing, custom_fields, mapping
from billcore.porta.models import CustomerTimeZoneId
from billcore.porta.session import Call, Handler
from billcore.validation import as_int, as_str

SUCCESS = {"success": 1}
ZERO = Decimal("0.00000")


def _id(params: Mapping[str, Any], name: str = "i_customer") -> int:
    value = params.get(name)
    if value in (None, ""):
        raise ValidationFailed(f"{name} is required", field=name, code="required")
    return as_int(name, value, minimum=1)


def _infos(call: Call, customers: list[Customer]) -> list[dict[str, Any]]:
    ids = [c.pk for c in customers]
    openings = opening_balances(customers=customers)
    zones = dict(
        CustomerTimeZoneId.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "i_time_zone"
        )
    )
    return [
        mapping.customer_info(
            c,
            now=call.now,
            opening_balance=openings.get(c.pk, ZERO),
            time_zone_id=zones.get(c.pk),
        )
        for c in customers
    ]


def _keep_time_zone_id(customer_id: int, wanted: mapping.CustomerInput) -> None:
    """Keep (or forget) the numeric PortaBilling ``i_time_zone`` the client gave."""
    if wanted.time_zone_id is mapping.MISSING:
        return
    if wanted.time_zone_id is None:
        CustomerTimeZoneId.objects.filter(customer_id=customer_id).delete()
    else:
        CustomerTimeZoneId.objects.update_or_create(
            customer_id=customer_id, defaults={"i_time_zone": wanted.time_zone_id}
        )


def _with_warnings(reply: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """``warnings``: what the call did not do as asked (fields ignored, values not
    translated); only when there is something to say."""
    return {**reply, "warnings": warnings} if warnings else reply


def _info(call: Call, customer_id: int) -> dict[str, Any]:
    customer = selectors.get_customer(actor=call.actor, customer_id=customer_id)
    return _infos(call, [customer])[0]


def _customer_info_param(call: Call) -> Mapping[str, Any]:
    info = call.params.get("customer_info")
    if not isinstance(info, Mapping):
        raise ValidationFailed(
            "customer_info is required (an object)", field="customer_info", code="required"
        )
    return info


def _add(call: Call, info: Mapping[str, Any]) -> tuple[Customer, list[str]]:
    wanted = mapping.customer_input(info, current=None)
    data = wanted.data  # no class given: create_customer gives the default class
    with transaction.atomic():
        customer = ledger_customers.create_customer(actor=call.actor, now=call.now, data=data)
        _keep_time_zone_id(customer.pk, wanted)
    return customer, wanted.warnings


def _update(call: Call, info: Mapping[str, Any]) -> tuple[int, list[str]]:
    customer_id = _id(info)
    current = _info(call, customer_id)
    wanted = mapping.customer_input(info, current=current)
    services.update_customer(
        actor=call.actor, now=call.now, customer_id=customer_id, changes=wanted.data
    )
    _keep_time_zone_id(customer_id, wanted)
    if wanted.blocked is not None:
        lifecycle.set_blocked(
            actor=call.actor, now=call.now, customer_id=customer_id, blocked=wanted.blocked
        )
    if wanted.suspension_delay_until is not mapping.MISSING:
        lifecycle.lift_suspension_until(
            actor=call.actor,
            now=call.now,
            customer_id=customer_id,
            until=wanted.suspension_delay_until,
        )
    return customer_id, wanted.warnings


def add_customer(call: Call) -> dict[str, Any]:
    info = _customer_info_param(call)
    customer, warnings = _add(call, info)
    record = _infos(call, [customer])[0]
    warnings += mapping.unapplied_warning(info, record, mapping.CUSTOMER_READ_ONLY)
    return _with_warnings({"i_customer": customer.pk}, warnings)


def update_customer(call: Call) -> dict[str, Any]:
    info = _customer_info_param(call)
    with transaction.atomic():
        customer_id, warnings = _update(call, info)
    return _with_warnings({"i_customer": customer_id}, warnings)


def validate_customer_info(call: Call) -> dict[str, Any]:
    """The checks of add_customer (or of update_customer when ``i_customer`` is given),
    in a transaction that is always rolled back."""
    info = _customer_info_param(call)
    with transaction.atomic():
        if info.get("i_customer") not in (None, ""):
            _, warnings = _update(call, info)
        else:
            _, warnings = _add(call, info)
        transaction.set_rollback(True)
    return _with_warnings(SUCCESS, warnings)


def get_customer_info(call: Call) -> dict[str, Any]:
    """By ``i_customer``, else ``name`` or ``login`` (both the customer's name, exact),
    else ``refnum`` (not kept by billcore: a fault)."""
    p = call.params
    if p.get("i_customer") not in (None, ""):
        return {"customer_info": _info(call, _id(p))}
    for key in ("name", "login"):
        if p.get(key) not in (None, ""):
            name = as_str(key, p[key], max_length=100)
            found = selectors.visible_customers(actor=call.actor).filter(name=name).first()
            if found is None:
                raise NotFound(f"{key}: no customer named {name!r}", field=key)
            return {"customer_info": _infos(call, [found])[0]}
    if p.get("refnum") not in (None, ""):
        raise ValidationFailed(
            "refnum: billcore keeps no reference numbers for customers; look a customer up "
            "by i_customer, name or login",
            field="refnum",
            code="not_supported",
        )
    raise ValidationFailed(
        "i_customer, name or login is required", field="i_customer", code="required"
    )


def _list_filters(p: Mapping[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if p.get("i_customer_class") not in (None, ""):
        filters["customer_class"] = as_int("i_customer_class", p["i_customer_class"])
    if p.get("i_parent") not in (None, ""):
        filters["reseller"] = as_int("i_parent", p["i_parent"])
    if p.get("bill_status") not in (None, ""):
        filters["status"] = mapping.bill_status_in("bill_status", p["bill_status"])
    return filters


def _like(qs: QuerySet[Any], p: Mapping[str, Any]) -> QuerySet[Any]:
    if p.get("name") in (None, ""):
        return qs
    pattern = as_str("name", p["name"], max_length=200)
    return qs.filter(name__iregex=mapping.like_to_regex(pattern))


def get_customer_list(call: Call) -> dict[str, Any]:
    p = call.params
    filters = _list_filters(p)
    offset, limit = mapping.page(p)
    qs = selectors.list_customers(actor=call.actor, **filters)
    if "status" not in filters and mapping.parse_optional_flag(
        "with_terminated", p.get("with_terminated")
    ):
        closed = selectors.list_customers(actor=call.actor, status=Status.CLOSED, **filters)
        qs = (qs | closed).order_by("name", "id")
    if mapping.parse_optional_flag("skip_exported", p.get("skip_exported")):
        qs = qs.exclude(status=Status.EXPORTED)
    qs = _like(qs, p)
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"customer_list": _infos(call, page)}
    if mapping.parse_optional_flag("get_total", p.get("get_total")):
        reply["total"] = qs.count()
    return reply


def terminate_customer(call: Call) -> dict[str, Any]:
    terminate(actor=call.actor, now=call.now, customer_id=_id(call.params), permanent=True)
    return SUCCESS


def delete_customer(call: Call) -> dict[str, Any]:
    services.delete_customer(actor=call.actor, now=call.now, customer_id=_id(call.params))
    return SUCCESS


def suspend_customer(call: Call) -> dict[str, Any]:
    lifecycle.suspend(actor=call.actor, now=call.now, customer_id=_id(call.params), reason="manual")
    return SUCCESS


def unsuspend_customer(call: Call) -> dict[str, Any]:
    lifecycle.unsuspend(actor=call.actor, now=call.now, customer_id=_id(call.params))
    return SUCCESS


def make_transaction(call: Call) -> dict[str, Any]:
    """A balance adjustment; ``transaction_id`` (optional, e.g. the payment's id in an
    external system) is the idempotency key: the same one twice changes nothing the second
    time and returns the first result."""
    p = call.params
    key = p.get("transaction_id")
    result = record_transaction(
        actor=call.actor,
        now=call.now,
        customer_id=_id(p),
        action=p.get("action"),
        amount=p.get("amount"),
        visible_comment=p.get("visible_comment") or "",
        internal_comment=p.get("internal_comment") or "",
        idempotency_key=None if key in (None, "") else str(key),
    )
    return {
        "balance": result.balance,
        "transaction_id": result.transaction_id,
        "i_xdr": result.transaction_id,
    }


def get_status_history(call: Call) -> dict[str, Any]:
    changes = lifecycle.status_history(actor=call.actor, customer_id=_id(call.params))
    return {
        "status_history": [
            {
                "change_time": mapping.fmt_datetime(c.at),
                "old_bill_status": mapping.BILL_STATUS_CODES[c.from_status],
                "new_bill_status": mapping.BILL_STATUS_CODES[c.to_status],
                "blocked": mapping.yn(c.blocked),
                "reason": c.reason,
                "changed_by": c.actor_name,
            }
            for c in changes
        ]
    }


def get_custom_fields_values(call: Call) -> dict[str, Any]:
    customer = selectors.get_customer(actor=call.actor, customer_id=_id(call.params))
    return {"custom_fields_values": custom_fields.values_out(customer.custom_fields)}


def update_custom_fields_values(call: Call) -> dict[str, Any]:
    p = call.params
    customer_id = _id(p)
    values = custom_fields.changes_in(p.get("custom_fields_values"))
    services.update_customer(
        actor=call.actor, now=call.now, customer_id=customer_id, changes={"custom_fields": values}
    )
    return SUCCESS


METHODS: dict[str, tuple[Handler, bool]] = {
    name: (handler, True)
    for name, handler in {
        "add_customer": add_customer,
        "validate_customer_info": validate_customer_info,
        "get_customer_info": get_customer_info,
        "get_customer_list": get_customer_list,
        "update_customer": update_customer,
        "terminate_customer": terminate_customer,
        "delete_customer": delete_customer,
        "suspend_customer": suspend_customer,
        "unsuspend_customer": unsuspend_customer,
        "make_transaction": make_transaction,
        "get_status_history": get_status_history,
        "get_custom_fields_values": get_custom_fields_values,
        "update_custom_fields_values": update_custom_fields_values,
        "get_customer_xdrs": billing.get_customer_xdrs,
    }.items()
}
