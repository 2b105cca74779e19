"""``Invoice`` and ``Currency`` services, and the lists of usage records (xDRs) of a
customer: reads through the invoicing, charging and installation selectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billcore.charging import selectors as charging
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.models import Currency
from billcore.invoicing import selectors as invoicing
from billcore.porta import mapping
from billcore.porta.accounts import xdr_list
from billcore.porta.session import Call, Handler
from billcore.validation import as_int


def customer_of(call: Call, customer_id: int) -> Any:
    """The customer as the caller sees it; a fault naming ``i_customer`` otherwise."""
    try:
        return get_customer(actor=call.actor, customer_id=customer_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="customer_id") from None


def _id(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        raise ValidationFailed(f"{name} is required", field=name, code="required")
    return as_int(name, value, minimum=1)


# --- Invoice ----------------------------------------------------------------------------------


def get_invoice_list(call: Call) -> dict[str, Any]:
    """``i_customer`` (optional), ``from_date`` / ``to_date`` (issue date; inclusive /
    exclusive), ``offset``, ``limit``, ``get_total``; newest first."""
    p = call.params
    qs = invoicing.visible_invoices(actor=call.actor)
    if p.get("i_customer") not in (None, ""):
        customer = customer_of(call, _id(p, "i_customer"))
        qs = qs.filter(customer_id=customer.pk)
    start, end = mapping.date_range(p)
    if start is not None:
        qs = qs.filter(issued_at__gte=start)
    if end is not None:
        qs = qs.filter(issued_at__lt=end)
    offset, limit = mapping.page(p)
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"invoice_list": [mapping.invoice_info(i) for i in page]}
    if mapping.parse_optional_flag("get_total", p.get("get_total")):
        reply["total"] = qs.count()
    return reply


def get_invoice_info(call: Call) -> dict[str, Any]:
    invoice = invoicing.get_invoice(actor=call.actor, invoice_id=_id(call.params, "i_invoice"))
    return {"invoice_info": mapping.invoice_info(invoice)}


INVOICE_METHODS: dict[str, tuple[Handler, bool]] = {
    "get_invoice_list": (get_invoice_list, True),
    "get_invoice_info": (get_invoice_info, True),
}
INVOICE_FIELDS_OUT = {"id": "i_invoice", "customer_id": "i_customer"}


# --- Currency ---------------------------------------------------------------------------------


def get_currency_list(call: Call) -> dict[str, Any]:
    """The currencies in use on the installation."""
    return {"currency_list": [mapping.currency_info(c) for c in Currency.objects.order_by("code")]}


CURRENCY_METHODS: dict[str, tuple[Handler, bool]] = {
    "get_currency_list": (get_currency_list, True),
}


# --- Customer xDRs ----------------------------------------------------------------------------


def get_customer_xdrs(call: Call) -> dict[str, Any]:
    """The customer's xDRs, newest first: ``i_customer``, ``from_date`` (inclusive),
    ``to_date`` (exclusive), ``i_account``, ``offset``, ``limit``, ``get_total``."""
    p = call.params
    start, end = mapping.date_range(p)
    account = None
    if p.get("i_account") not in (None, ""):
        account = as_int("i_account", p["i_account"], minimum=1)
    qs = charging.customer_xdrs(
        actor=call.actor,
        customer_id=_id(p, "i_customer"),
        start=start,
        end=end,
        account_id=account,
    )
    return xdr_list(call, qs)
