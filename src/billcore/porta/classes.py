"""``CustomerClass`` service: records as ``customer_class_info`` /
``customer_class_list``; every rule stays in the class services and selectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billcore.classes import selectors, services
from billcore.classes.models import CustomerClass
from billcore.errors import NotFound, ValidationFailed
from billcore.porta import mapping
from billcore.porta.session import Call, Handler
from billcore.validation import as_int, as_str


def _id(params: Mapping[str, Any]) -> int:
    value = params.get("i_customer_class")
    if value in (None, ""):
        raise ValidationFailed(
            "i_customer_class is required", field="i_customer_class", code="required"
        )
    return as_int("i_customer_class", value, minimum=1)


def _info(cls: CustomerClass) -> dict[str, Any]:
    mandatory = sorted(cf.name for cf in cls.mandatory_custom_fields.all())
    return mapping.customer_class_info(cls, mandatory=mandatory)


def _info_param(call: Call) -> Mapping[str, Any]:
    info = call.params.get("customer_class_info")
    if not isinstance(info, Mapping):
        raise ValidationFailed(
            "customer_class_info is required (an object)",
            field="customer_class_info",
            code="required",
        )
    return info


def add_customer_class(call: Call) -> dict[str, Any]:
    data = mapping.customer_class_input(_info_param(call))
    cls = services.create_class(actor=call.actor, now=call.now, data=data)
    return {"i_customer_class": cls.pk}


def update_customer_class(call: Call) -> dict[str, Any]:
    info = _info_param(call)
    class_id = _id(info)
    data = mapping.customer_class_input(info)
    services.update_class(actor=call.actor, now=call.now, class_id=class_id, changes=data)
    return {"i_customer_class": class_id}


def get_customer_class_info(call: Call) -> dict[str, Any]:
    """By ``i_customer_class``, else by ``name`` (exact)."""
    p = call.params
    if p.get("i_customer_class") in (None, "") and p.get("name") not in (None, ""):
        name = as_str("name", p["name"], max_length=100)
        found = selectors.visible_classes(actor=call.actor).filter(name=name).first()
        if found is None:
            raise NotFound(f"name: no customer class named {name!r}", field="name")
        return {"customer_class_info": _info(found)}
    cls = selectors.get_class(actor=call.actor, class_id=_id(p))
    return {"customer_class_info": _info(cls)}


def get_customer_class_list(call: Call) -> dict[str, Any]:
    """``offset``, ``limit``, ``name`` (SQL LIKE pattern), ``iso_4217``, ``i_parent``
    (reseller; 0 = the administrator's classes), ``get_total``."""
    p = call.params
    offset, limit = mapping.page(p)
    filters: dict[str, Any] = {}
    if p.get("iso_4217") not in (None, ""):
        filters["currency"] = as_str("iso_4217", p["iso_4217"], max_length=3)
    if p.get("i_parent") not in (None, ""):
        parent = as_int("i_parent", p["i_parent"], minimum=0)
        if parent == 0:
            filters["admin_only"] = True
        else:
            filters["managed_by"] = parent
    qs = selectors.list_classes(actor=call.actor, **filters).prefetch_related(
        "mandatory_custom_fields"
    )
    if p.get("name") not in (None, ""):
        pattern = as_str("name", p["name"], max_length=200)
        qs = qs.filter(name__iregex=mapping.like_to_regex(pattern))
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"customer_class_list": [_info(c) for c in page]}
    if mapping.parse_optional_flag("get_total", p.get("get_total")):
        reply["total"] = qs.count()
    return reply


def get_default_customer_class(call: Call) -> dict[str, Any]:
    """The installation's Default class, as far as the caller may see it."""
    default = services.get_default_class()
    cls = selectors.get_class(actor=call.actor, class_id=default.pk)
    return {"customer_class_info": _info(cls)}


def clone_customer_class(call: Call) -> dict[str, Any]:
    """A copy of ``i_customer_class`` with every setting, named ``name``."""
    p = call.params
    name = as_str("name", p.get("name"), max_length=100, required=True)
    cls = services.copy_class(actor=call.actor, now=call.now, class_id=_id(p), name=name)
    return {"i_customer_class": cls.pk}


METHODS: dict[str, tuple[Handler, bool]] = {
    name: (handler, True)
    for name, handler in {
        "add_customer_class": add_customer_class,
        "get_customer_class_info": get_customer_class_info,
        "get_customer_class_list": get_customer_class_list,
        "update_customer_class": update_customer_class,
        "get_default_customer_class": get_default_customer_class,
        "clone_customer_class": clone_customer_class,
    }.items()
}
