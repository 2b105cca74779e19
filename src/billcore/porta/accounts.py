"""``Account`` service: the accounts (end users: a phone line, a login) under customers, over
``subscribers`` (records, blocking, credit limits, custom fields, termination),
``subscriptions`` (fees taken for an account) and ``charging`` (its xDRs). Every rule stays
in those services and selectors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from billcore.charging import selectors as charging
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.porta import custom_fields, mapping
from billcore.porta.session import Call, Handler
from billcore.subscribers import services as subscribers
from billcore.subscribers.models import Account
from billcore.subscriptions import services as subscriptions
from billcore.subscriptions.selectors import visible_subscriptions
from billcore.validation import as_int, as_str

SUCCESS = {"success": 1}


def _id(params: Mapping[str, Any], name: str = "i_account") -> int:
    value = params.get(name)
    if value in (None, ""):
        raise ValidationFailed(f"{name} is required", field=name, code="required")
    return as_int(name, value, minimum=1)


def _account(call: Call, account_id: int) -> Account:
    return subscribers.get_account(actor=call.actor, account_id=account_id)


def _info_param(call: Call) -> Mapping[str, Any]:
    info = call.params.get("account_info")
    if not isinstance(info, Mapping):
        raise ValidationFailed(
            "account_info is required (an object)", field="account_info", code="required"
        )
    return info


def _reply(reply: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    return {**reply, "warnings": warnings} if warnings else reply


def _product_warning(info: Mapping[str, Any]) -> list[str]:
    if info.get("i_product") in (None, ""):
        return []
    return [
        f"i_product {info['i_product']} is not applied: billcore has no products yet (rating "
        "comes with its own issue); the account is charged by usage records as sent"
    ]


def add_account(call: Call) -> dict[str, Any]:
    """``account_info``: ``i_customer`` and ``id`` required; ``billing_model`` 1 credit
    (default) or -1 debit; ``blocked``; ``credit_limit`` (credit accounts)."""
    info = _info_param(call)
    customer_id = _id(info, "i_customer")
    try:
        get_customer(actor=call.actor, customer_id=customer_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="customer_id") from None
    data: dict[str, Any] = {"identifier": info.get("id")}
    if info.get("billing_model") not in (None, ""):
        data["account_type"] = mapping.billing_model_in(info["billing_model"])
    if "blocked" in info:
        data["blocked"] = mapping.parse_flag("blocked", info["blocked"])
    if "credit_limit" in info:
        data["credit_limit"] = info["credit_limit"]
    with transaction.atomic():
        account = subscribers.create_account(
            actor=call.actor, now=call.now, customer_id=customer_id, data=data
        )
        currency = info.get("iso_4217")
        if currency not in (None, "") and currency != account.customer.currency_id:
            raise ValidationFailed(
                f"iso_4217: an account uses its customer's currency, "
                f"{account.customer.currency_id} (got {currency!r})",
                field="iso_4217",
                code="currency_mismatch",
            )
    warnings = (
        _product_warning(info)
        + mapping.unapplied_warning(info, mapping.account_info(account), mapping.ACCOUNT_READ_ONLY)
        + mapping.ignored_fields_warning(info, mapping.ACCOUNT_KNOWN)
    )
    return _reply({"i_account": account.pk}, warnings)


# Fixed fields of an account record (PortaBilling name -> billcore name, for faults).
READ_ONLY = {
    "id": "identifier",
    "i_customer": "customer_id",
    "billing_model": "account_type",
    "iso_4217": "iso_4217",
    "bill_status": "bill_status",
}


def update_account(call: Call) -> dict[str, Any]:
    """``account_info`` with ``i_account`` and the fields to change: ``blocked``,
    ``credit_limit``. ``id``, ``i_customer``, ``billing_model`` and ``iso_4217`` are fixed:
    sent unchanged they are ignored, changed they are refused."""
    info = _info_param(call)
    account_id = _id(info)
    current = mapping.account_info(_account(call, account_id))
    for name, billcore in READ_ONLY.items():
        if name in info and str(info[name]).strip() != str(current[name]):
            hint = " (use terminate_account)" if name == "bill_status" else ""
            raise ValidationFailed(
                f"{billcore} cannot be changed through update_account{hint}",
                field=billcore,
                code="read_only",
            )
    changes: dict[str, Any] = {}
    if "blocked" in info:
        changes["blocked"] = mapping.parse_flag("blocked", info["blocked"])
    if "credit_limit" in info:
        changes["credit_limit"] = info["credit_limit"]
    if changes:
        subscribers.update_account(
            actor=call.actor, now=call.now, account_id=account_id, changes=changes
        )
    warnings = _product_warning(info) + mapping.ignored_fields_warning(info, mapping.ACCOUNT_KNOWN)
    return _reply({"i_account": account_id}, warnings)


def get_account_info(call: Call) -> dict[str, Any]:
    """By ``i_account``, else by ``id`` (the account's identifier, exact)."""
    p = call.params
    if p.get("i_account") in (None, "") and p.get("id") not in (None, ""):
        identifier = as_str("id", p["id"], max_length=100)
        found = subscribers.visible_accounts(actor=call.actor).filter(identifier=identifier).first()
        if found is None:
            raise NotFound(f"identifier: no account {identifier!r}", field="identifier")
        return {"account_info": mapping.account_info(found)}
    return {"account_info": mapping.account_info(_account(call, _id(p)))}


def get_account_list(call: Call) -> dict[str, Any]:
    """``i_customer``, ``id`` (SQL LIKE pattern), ``blocked`` (Y/N), ``bill_status`` (O
    open, C terminated), ``offset``, ``limit``, ``get_total``; ordered by ``id``."""
    p = call.params
    offset, limit = mapping.page(p)
    qs = subscribers.visible_accounts(actor=call.actor)
    if p.get("i_customer") not in (None, ""):
        qs = qs.filter(customer_id=as_int("i_customer", p["i_customer"], minimum=1))
    if p.get("id") not in (None, ""):
        pattern = as_str("id", p["id"], max_length=200)
        qs = qs.filter(identifier__iregex=mapping.like_to_regex(pattern))
    if p.get("blocked") not in (None, ""):
        qs = qs.filter(blocked=mapping.parse_flag("blocked", p["blocked"]))
    if p.get("bill_status") not in (None, ""):
        status = str(p["bill_status"]).strip().upper()
        if status not in ("O", "C"):
            raise ValidationFailed(
                f"bill_status must be O (open) or C (terminated); got {p['bill_status']!r}",
                field="bill_status",
            )
        qs = qs.filter(terminated_at__isnull=status == "O")
    qs = qs.order_by("identifier", "id")
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"account_list": [mapping.account_info(a) for a in page]}
    if mapping.parse_optional_flag("get_total", p.get("get_total")):
        reply["total"] = qs.count()
    return reply


def terminate_account(call: Call) -> dict[str, Any]:
    subscriptions.terminate_account(actor=call.actor, now=call.now, account_id=_id(call.params))
    return SUCCESS


def get_custom_fields_values(call: Call) -> dict[str, Any]:
    account = _account(call, _id(call.params))
    return {"custom_fields_values": custom_fields.values_out(account.custom_fields)}


def update_custom_fields_values(call: Call) -> dict[str, Any]:
    p = call.params
    account_id = _id(p)
    values = custom_fields.changes_in(p.get("custom_fields_values"))
    subscribers.update_account(
        actor=call.actor, now=call.now, account_id=account_id, changes={"custom_fields": values}
    )
    return SUCCESS


def _start(value: Any, account: Account, now: dt.datetime) -> dt.datetime:
    """``start_date``: default now; a date alone is its midnight UTC, but not before the
    customer's creation (a subscription taken on the creation day starts at creation)."""
    if value in (None, ""):
        return now
    start = mapping.parse_datetime("start_date", value)
    assert start is not None
    created = account.customer.created_at
    if isinstance(value, str) and len(value.strip()) == 10 and start.date() == created.date():
        return max(start, created)
    return start


def add_subscription(call: Call) -> dict[str, Any]:
    """``i_account``, ``subscription_info`` {``i_subscription`` (the plan), ``start_date``,
    ``finish_date``}; the fees are the account's customer's."""
    p = call.params
    account = _account(call, _id(p))
    info = p.get("subscription_info")
    if not isinstance(info, Mapping):
        raise ValidationFailed(
            "subscription_info is required (an object)", field="subscription_info", code="required"
        )
    start = _start(info.get("start_date"), account, call.now)
    end = mapping.parse_datetime("finish_date", info.get("finish_date"))
    if end is not None and end <= start:
        # the service's own check, worded with this API's field names
        raise ValidationFailed("end_at must be after start_date", field="end_at")
    data = {
        "plan": info.get("i_subscription"),
        "account": account.pk,
        "start_at": start,
        "end_at": end,
    }
    sub = subscriptions.subscribe(
        actor=call.actor, now=call.now, customer_id=account.customer_id, data=data
    )
    known = frozenset({"i_subscription", "start_date", "finish_date", "i_account_subscription"})
    return _reply({"i_account_subscription": sub.pk}, mapping.ignored_fields_warning(info, known))


def _subscription(call: Call, account: Account, value: Any) -> Any:
    sub_id = as_int("i_account_subscription", value, minimum=1)
    sub = visible_subscriptions(actor=call.actor).filter(pk=sub_id, account=account).first()
    if sub is None:
        raise NotFound(
            f"i_account_subscription: account {account.pk} has no subscription {sub_id}",
            field="i_account_subscription",
        )
    return sub


def close_subscription(call: Call) -> dict[str, Any]:
    """End ``i_account_subscription`` of ``i_account`` now (charged fees stay)."""
    p = call.params
    account = _account(call, _id(p))
    if p.get("i_account_subscription") in (None, ""):
        raise ValidationFailed(
            "i_account_subscription is required", field="i_account_subscription", code="required"
        )
    sub = _subscription(call, account, p["i_account_subscription"])
    subscriptions.end_subscription(
        actor=call.actor, now=call.now, subscription_id=sub.pk, end_at=call.now
    )
    return SUCCESS


def get_subscriptions(call: Call) -> dict[str, Any]:
    """The account's subscriptions, oldest start first."""
    account = _account(call, _id(call.params))
    qs = visible_subscriptions(actor=call.actor).filter(account=account).order_by("start_at", "id")
    return {"subscriptions": [mapping.subscription_info(s) for s in qs]}


def get_xdr_list(call: Call) -> dict[str, Any]:
    """The account's xDRs, newest first: ``from_date`` (inclusive), ``to_date`` (exclusive),
    ``offset``, ``limit``, ``get_total``."""
    p = call.params
    account = _account(call, _id(p))
    start, end = mapping.date_range(p)
    return xdr_list(
        call,
        charging.customer_xdrs(
            actor=call.actor,
            customer_id=account.customer_id,
            account_id=account.pk,
            start=start,
            end=end,
        ),
    )


def xdr_list(call: Call, qs: Any) -> dict[str, Any]:
    offset, limit = mapping.page(call.params)
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"xdr_list": [mapping.xdr_info(x) for x in page]}
    if mapping.parse_optional_flag("get_total", call.params.get("get_total")):
        reply["total"] = qs.count()
    return reply


METHODS: dict[str, tuple[Handler, bool]] = {
    name: (handler, True)
    for name, handler in {
        "add_account": add_account,
        "get_account_info": get_account_info,
        "get_account_list": get_account_list,
        "update_account": update_account,
        "terminate_account": terminate_account,
        "get_custom_fields_values": get_custom_fields_values,
        "update_custom_fields_values": update_custom_fields_values,
        "add_subscription": add_subscription,
        "close_subscription": close_subscription,
        "get_subscriptions": get_subscriptions,
        "get_xdr_list": get_xdr_list,
    }.items()
}
