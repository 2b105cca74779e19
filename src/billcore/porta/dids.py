"""The ``DID`` service (issue 14): the number inventory under PortaBilling's names
(``number_info``: ``i_did_number``, ``number``, ``i_customer``, ``i_account``,
``i_do_batch`` for the pricing batch, ``i_vendor_batch``, ``i_group``, ``frozen`` and
``free_of_charge`` as 'Y'/'N'). Each method translates names and values, then calls the DID
selectors and services (``dids.selectors``, ``dids.services``), which keep every rule, the
reseller scoping, the charges and the audit.

* ``get_number_list``: ``offset``, ``limit``, ``get_total``, ``number`` (digits, letters as
  keypad digits, or a pattern with ``%``/``_``), ``usage`` (``I`` in use, ``F`` not in use,
  ``R`` frozen), ``i_customer``, ``i_do_batch``, ``i_group``;
* ``get_number_info``: ``i_did_number`` or ``number``;
* ``add_number``: ``number_info`` (``number`` and ``vendor_batch_name`` required; costs
  ``activation_cost`` and ``periodic_cost``, ``iso_4217``, ``country``, ``area_name``,
  ``description``, ``free_of_charge``, ``frozen``, ``i_do_batch``, ``i_group``);
* ``assign_did_to_customer``: ``i_did_number`` (or ``number``) and ``i_customer``;
* ``assign_did_to_account``: ``i_did_number`` (or ``number``) and ``i_account`` (an account
  of the customer holding the number; empty: back to the customer itself);
* ``release_did_from_customer``: ``i_did_number`` (or ``number``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billcore.dids import selectors, services
from billcore.dids.models import Did, DidStatus
from billcore.errors import ValidationFailed
from billcore.porta import mapping
from billcore.porta.session import Call, Handler
from billcore.validation import as_int, as_str

USAGE = {"I": DidStatus.IN_USE, "F": DidStatus.NOT_IN_USE, "R": DidStatus.FROZEN}
USAGE_OUT = {v: k for k, v in USAGE.items()}

# PortaBilling name -> billcore name (values translated in _input).
PLAIN = {
    "number": "number",
    "description": "description",
    "country": "country",
    "area_name": "area",
    "vendor_batch_name": "vendor_batch",
    "activation_cost": "activation_cost",
    "periodic_cost": "periodic_cost",
    "iso_4217": "currency",
}
KNOWN = frozenset(
    {*PLAIN, "free_of_charge", "frozen", "i_do_batch", "i_group", "i_did_number", "i_customer"}
)
FIELDS_OUT: dict[str, str] = {
    **{b: p for p, b in PLAIN.items()},
    "id": "i_did_number",
    "did": "i_did_number",
    "customer": "i_customer",
    "account": "i_account",
    "pricing_batch": "i_do_batch",
    "group": "i_group",
}


def number_info(did: Did) -> dict[str, Any]:
    return {
        "i_did_number": did.pk,
        "number": did.number,
        "description": did.description,
        "country": did.country,
        "area_name": did.area,
        "i_vendor_batch": did.vendor_batch_id,
        "vendor_batch_name": did.vendor_batch.name,
        "activation_cost": did.activation_cost,
        "periodic_cost": did.periodic_cost,
        "iso_4217": did.currency_id,
        "free_of_charge": mapping.yn(did.free_of_charge),
        "frozen": mapping.yn(did.status == DidStatus.FROZEN),
        "usage": USAGE_OUT[DidStatus(did.status)],
        "i_do_batch": did.pricing_batch_id,
        "i_group": did.group_id,
        "i_customer": did.customer_id,
        "i_account": did.account_id,
        "assigned_date": mapping.fmt_datetime(did.assigned_at),
        "released_date": mapping.fmt_datetime(did.released_at),
    }


def _did_id(call: Call) -> int:
    p = call.params
    if p.get("i_did_number") not in (None, ""):
        return as_int("i_did_number", p["i_did_number"], minimum=1)
    if p.get("number") not in (None, ""):
        return selectors.get_did_by_number(actor=call.actor, number=p["number"]).pk
    raise ValidationFailed(
        "i_did_number or number is required", field="i_did_number", code="required"
    )


def _input(info: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {b: info[p] for p, b in PLAIN.items() if p in info}
    for name in ("free_of_charge", "frozen"):
        if name in info:
            data[name] = mapping.parse_flag(name, info[name])
    if "i_do_batch" in info:
        data["pricing_batch"] = (
            None if info["i_do_batch"] in (None, "") else as_int("i_do_batch", info["i_do_batch"])
        )
    if "i_group" in info:
        data["group"] = (
            None if info["i_group"] in (None, "") else as_int("i_group", info["i_group"])
        )
    return data, mapping.ignored_fields_warning(info, KNOWN)


def get_number_list(call: Call) -> dict[str, Any]:
    p = call.params
    usage = as_str("usage", p.get("usage"), max_length=1).upper()
    if usage and usage not in USAGE:
        raise ValidationFailed(
            f"usage must be I (in use), F (not in use) or R (frozen); got {usage!r}",
            field="usage",
        )
    qs = selectors.list_dids(
        actor=call.actor,
        search=as_str("number", p.get("number"), max_length=40),
        status=USAGE[usage] if usage else None,
        customer=p.get("i_customer"),
        pricing_batch=p.get("i_do_batch"),
        group=p.get("i_group"),
    )
    offset, limit = mapping.page(p)
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"number_list": [number_info(d) for d in page]}
    if mapping.parse_optional_flag("get_total", p.get("get_total")):
        reply["total"] = qs.count()
    return reply


def get_number_info(call: Call) -> dict[str, Any]:
    return {"number_info": number_info(selectors.get_did(actor=call.actor, did_id=_did_id(call)))}


def add_number(call: Call) -> dict[str, Any]:
    info = call.params.get("number_info")
    if not isinstance(info, Mapping):
        raise ValidationFailed("number_info is required (an object)", field="number_info")
    data, warnings = _input(info)
    did = services.create_did(actor=call.actor, now=call.now, data=data)
    reply: dict[str, Any] = {"i_did_number": did.pk}
    return {**reply, "warnings": warnings} if warnings else reply


def assign_did_to_customer(call: Call) -> dict[str, Any]:
    p = call.params
    if p.get("i_customer") in (None, ""):
        raise ValidationFailed("i_customer is required", field="i_customer", code="required")
    did_id = _did_id(call)
    services.assign(
        actor=call.actor,
        now=call.now,
        did_id=did_id,
        customer_id=as_int("i_customer", p["i_customer"], minimum=1),
        account_id=p.get("i_account") or None,
    )
    return {"i_did_number": did_id}


def assign_did_to_account(call: Call) -> dict[str, Any]:
    did_id = _did_id(call)
    services.assign_to_account(
        actor=call.actor, now=call.now, did_id=did_id, account_id=call.params.get("i_account")
    )
    return {"i_did_number": did_id}


def release_did_from_customer(call: Call) -> dict[str, Any]:
    did_id = _did_id(call)
    services.release(actor=call.actor, now=call.now, did_id=did_id)
    return {"i_did_number": did_id}


METHODS: dict[str, tuple[Handler, bool]] = {
    name: (handler, True)
    for name, handler in {
        "get_number_list": get_number_list,
        "get_number_info": get_number_info,
        "add_number": add_number,
        "assign_did_to_customer": assign_did_to_customer,
        "assign_did_to_account": assign_did_to_account,
        "release_did_from_customer": release_did_from_customer,
    }.items()
}
