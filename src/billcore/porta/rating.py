"""``Tariff``, ``Rate`` and ``Product`` services (issue 12): the rating catalogue under
PortaBilling's names (``tariff_info``, ``rate_info``, ``product_info`` with its
``accessibility_list``). Each method translates names and values, then calls the rating
selectors and services (``rating.selectors``, ``rating.services``, ``rating.rates``), which
keep every rule, the reseller scoping and the audit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from billcore.errors import NotFound, ValidationFailed
from billcore.porta import mapping
from billcore.porta.session import Call, Handler
from billcore.rating import rates, selectors, services
from billcore.rating.models import Product, Rate, RatingEntry, Service, Tariff
from billcore.validation import as_int, as_str

# --- Tariff ---------------------------------------------------------------------------------

# PortaBilling name -> billcore name (values translated where needed, see _tariff_input).
TARIFF_PLAIN = {
    "name": "name",
    "iso_4217": "currency",
    "connection_fee": "connection_fee",
    "free_seconds": "free_seconds",
    "grace_period": "grace_period",
    "post_call_surcharge": "post_call_surcharge",
    "i_offpeak_period": "offpeak_period",
    "i_second_offpeak_period": "second_offpeak_period",
    "description": "description",
}
TARIFF_KNOWN = frozenset({*TARIFF_PLAIN, "i_tariff", "i_service", "i_parent", "creation_date"})
# billcore name -> PortaBilling name, for faults.
TARIFF_FIELDS_OUT: dict[str, str] = {
    **{b: p for p, b in TARIFF_PLAIN.items()},
    "id": "i_tariff",
    "service": "i_service",
    "managed_by": "i_parent",
}


def _required_id(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        raise ValidationFailed(f"{name} is required", field=name, code="required")
    return as_int(name, value, minimum=1)


def _info_param(call: Call, name: str) -> Mapping[str, Any]:
    info = call.params.get(name)
    if not isinstance(info, Mapping):
        raise ValidationFailed(f"{name} is required (an object)", field=name, code="required")
    return info


def _with_warnings(reply: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    return {**reply, "warnings": warnings} if warnings else reply


def tariff_info(tariff: Tariff) -> dict[str, Any]:
    return {
        "i_tariff": tariff.pk,
        "name": tariff.name,
        "iso_4217": tariff.currency_id,
        "i_service": tariff.service_id,
        "service_code": tariff.service.code,
        "i_parent": tariff.managed_by_id,
        "connection_fee": tariff.connection_fee,
        "free_seconds": tariff.free_seconds,
        "grace_period": tariff.grace_period,
        "post_call_surcharge": tariff.post_call_surcharge,
        "i_offpeak_period": tariff.offpeak_period_id,
        "i_second_offpeak_period": tariff.second_offpeak_period_id,
        "description": tariff.description,
        "creation_date": mapping.fmt_datetime(tariff.created_at),
    }


def _service_code(value: Any) -> str:
    """The code of the service ``i_service`` names (the tariff services take codes)."""
    service_id = as_int("i_service", value, minimum=1)
    code = Service.objects.filter(pk=service_id).values_list("code", flat=True).first()
    if code is None:
        raise ValidationFailed(
            f"i_service: service {service_id} does not exist", field="i_service", code="not_found"
        )
    return str(code)


def _parent(value: Any) -> int | None:
    """``i_parent``: a reseller's id; null, "" or 0 = the administrator's."""
    if value in (None, ""):
        return None
    parent = as_int("i_parent", value, minimum=0)
    return parent or None


def _tariff_input(info: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    data = {b: info[p] for p, b in TARIFF_PLAIN.items() if p in info}
    if "i_service" in info and info["i_service"] not in (None, ""):
        data["service"] = _service_code(info["i_service"])
    if "i_parent" in info:
        data["managed_by"] = _parent(info["i_parent"])
    return data, mapping.ignored_fields_warning(info, TARIFF_KNOWN)


def add_tariff(call: Call) -> dict[str, Any]:
    """``tariff_info`` (``name`` and ``iso_4217`` required; ``i_service`` defaults to voice)."""
    data, warnings = _tariff_input(_info_param(call, "tariff_info"))
    tariff = services.create_tariff(actor=call.actor, now=call.now, data=data)
    return _with_warnings({"i_tariff": tariff.pk}, warnings)


def update_tariff(call: Call) -> dict[str, Any]:
    """``tariff_info`` with ``i_tariff`` and only the fields to change."""
    info = _info_param(call, "tariff_info")
    tariff_id = _required_id(info, "i_tariff")
    data, warnings = _tariff_input(info)
    services.update_tariff(actor=call.actor, now=call.now, tariff_id=tariff_id, changes=data)
    return _with_warnings({"i_tariff": tariff_id}, warnings)


def get_tariff_info(call: Call) -> dict[str, Any]:
    """By ``i_tariff``, else by ``name`` (exact)."""
    p = call.params
    if p.get("i_tariff") in (None, "") and p.get("name") not in (None, ""):
        name = as_str("name", p["name"], max_length=100)
        found = selectors.visible_tariffs(actor=call.actor).filter(name=name).first()
        if found is None:
            raise NotFound(f"name: no tariff named {name!r}", field="name")
        return {"tariff_info": tariff_info(found)}
    tariff = selectors.get_tariff(actor=call.actor, tariff_id=_required_id(p, "i_tariff"))
    return {"tariff_info": tariff_info(tariff)}


def _like(qs: QuerySet[Any], p: Mapping[str, Any], param: str, column: str) -> QuerySet[Any]:
    if p.get(param) in (None, ""):
        return qs
    pattern = as_str(param, p[param], max_length=200)
    return qs.filter(**{f"{column}__iregex": mapping.like_to_regex(pattern)})


def _page(qs: QuerySet[Any], p: Mapping[str, Any]) -> tuple[list[Any], int | None]:
    offset, limit = mapping.page(p)
    page = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    total = qs.count() if mapping.parse_optional_flag("get_total", p.get("get_total")) else None
    return page, total


def _owner_filter(p: Mapping[str, Any]) -> dict[str, Any]:
    if p.get("i_parent") in (None, ""):
        return {}
    return {"managed_by": as_int("i_parent", p["i_parent"], minimum=0)}


def get_tariff_list(call: Call) -> dict[str, Any]:
    """``offset``, ``limit``, ``name`` (SQL LIKE pattern), ``iso_4217``, ``i_service``,
    ``i_parent`` (reseller; 0 = the administrator's tariffs), ``get_total``."""
    p = call.params
    qs = selectors.list_tariffs(
        actor=call.actor,
        currency=as_str("iso_4217", p.get("iso_4217"), max_length=3) or None,
    )
    owner = _owner_filter(p)
    if owner:
        parent = owner["managed_by"]
        qs = qs.filter(managed_by__isnull=True) if parent == 0 else qs.filter(managed_by=parent)
    if p.get("i_service") not in (None, ""):
        qs = qs.filter(service_id=as_int("i_service", p["i_service"], minimum=1))
    qs = _like(qs, p, "name", "name")
    page, total = _page(qs, p)
    reply: dict[str, Any] = {"tariff_list": [tariff_info(t) for t in page]}
    if total is not None:
        reply["total"] = total
    return reply


# --- Rate -----------------------------------------------------------------------------------

# PortaBilling name -> billcore name.
RATE_PLAIN = {
    "destination": "prefix",
    "interval_1": "interval_first",
    "interval_n": "interval_next",
    "price_1": "price_first",
    "price_n": "price_next",
    "off_peak_interval_1": "offpeak_interval_first",
    "off_peak_interval_n": "offpeak_interval_next",
    "off_peak_price_1": "offpeak_price_first",
    "off_peak_price_n": "offpeak_price_next",
    "second_off_peak_interval_1": "offpeak2_interval_first",
    "second_off_peak_interval_n": "offpeak2_interval_next",
    "second_off_peak_price_1": "offpeak2_price_first",
    "second_off_peak_price_n": "offpeak2_price_next",
}
RATE_FLAGS = ("forbidden", "discontinued", "hidden")
RATE_KNOWN = frozenset({*RATE_PLAIN, *RATE_FLAGS, "i_rate", "i_tariff", "effective_from"})
RATE_FIELDS_OUT: dict[str, str] = {
    **{b: p for p, b in RATE_PLAIN.items()},
    "id": "i_rate",
    "tariff": "i_tariff",
}


def rate_info(rate: Rate) -> dict[str, Any]:
    info: dict[str, Any] = {"i_rate": rate.pk, "i_tariff": rate.tariff_id}
    info.update({p: getattr(rate, b) for p, b in RATE_PLAIN.items()})
    info["effective_from"] = mapping.fmt_datetime(rate.effective_from)
    info.update({name: mapping.yn(getattr(rate, name)) for name in RATE_FLAGS})
    return info


def _rate_input(info: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    data = {b: info[p] for p, b in RATE_PLAIN.items() if p in info}
    if "effective_from" in info:
        data["effective_from"] = mapping.parse_datetime("effective_from", info["effective_from"])
    for name in RATE_FLAGS:
        if name in info:
            data[name] = mapping.parse_optional_flag(name, info[name])
    return data, mapping.ignored_fields_warning(info, RATE_KNOWN)


def _tariff_of(call: Call, params: Mapping[str, Any]) -> Tariff:
    """The tariff ``i_tariff`` names, as the caller may see it (another reseller's is a
    fault naming ``i_tariff``, exactly as a missing one)."""
    tariff_id = _required_id(params, "i_tariff")
    try:
        return selectors.get_tariff(actor=call.actor, tariff_id=tariff_id)
    except NotFound:
        raise NotFound(f"i_tariff: tariff {tariff_id} not found", field="i_tariff") from None


def add_rate(call: Call) -> dict[str, Any]:
    """``rate_info`` with ``i_tariff`` and ``destination`` (``effective_from`` defaults to
    now, ``price_n`` to ``price_1``, the intervals to 1/1)."""
    info = _info_param(call, "rate_info")
    tariff = _tariff_of(call, info)
    data, warnings = _rate_input(info)
    rate = rates.create_rate(actor=call.actor, now=call.now, tariff_id=tariff.pk, data=data)
    return _with_warnings({"i_rate": rate.pk}, warnings)


def update_rate(call: Call) -> dict[str, Any]:
    """``rate_info`` with ``i_rate`` and only the fields to change (a rate stays in its
    tariff: an ``i_tariff`` other than the rate's is a fault)."""
    info = _info_param(call, "rate_info")
    rate_id = _required_id(info, "i_rate")
    rate = selectors.get_rate(actor=call.actor, rate_id=rate_id)
    if info.get("i_tariff") not in (None, "") and (
        as_int("i_tariff", info["i_tariff"], minimum=1) != rate.tariff_id
    ):
        raise ValidationFailed(
            f"i_tariff: rate {rate_id} belongs to tariff {rate.tariff_id}; a rate cannot move "
            "to another tariff",
            field="i_tariff",
            code="immutable",
        )
    data, warnings = _rate_input(info)
    rates.update_rate(actor=call.actor, now=call.now, rate_id=rate_id, changes=data)
    return _with_warnings({"i_rate": rate_id}, warnings)


def get_rate_info(call: Call) -> dict[str, Any]:
    rate = selectors.get_rate(actor=call.actor, rate_id=_required_id(call.params, "i_rate"))
    return {"rate_info": rate_info(rate)}


def get_rate_list(call: Call) -> dict[str, Any]:
    """The rates of ``i_tariff``: ``destination`` (SQL LIKE pattern on the prefix),
    ``prefix`` (prefixes starting with it), ``number`` (the rates whose prefix matches the
    number, longest first), ``effective_at`` (only the version of each prefix in force
    then), ``offset``, ``limit``, ``get_total``."""
    p = call.params
    tariff = _tariff_of(call, p)
    prefix = as_str("prefix", p.get("prefix"), max_length=32)
    number = as_str("number", p.get("number"), max_length=64)
    at = mapping.parse_datetime("effective_at", p.get("effective_at"))
    qs = selectors.list_rates(
        actor=call.actor, tariff_id=tariff.pk, prefix=prefix, number=number, at=at
    )
    qs = _like(qs, p, "destination", "prefix")
    page, total = _page(qs, p)
    reply: dict[str, Any] = {"rate_list": [rate_info(r) for r in page]}
    if total is not None:
        reply["total"] = total
    return reply


# --- Product --------------------------------------------------------------------------------

PRODUCT_FIELDS_OUT = {"id": "i_product", "currency": "iso_4217", "managed_by": "i_parent"}


def accessibility_info(entry: RatingEntry) -> dict[str, Any]:
    """A rating entry as a row of PortaBilling's accessibility list."""
    return {
        "i_accessibility": entry.pk,
        "i_product": entry.product_id,
        "i_service": entry.service_id,
        "service_code": entry.service.code,
        "access_code": entry.access_code,
        "i_tariff": entry.tariff_id,
        "tariff_name": entry.tariff.name,
        "i_reseller_tariff": entry.reseller_tariff_id,
    }


def product_info(product: Product, *, entries: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "i_product": product.pk,
        "name": product.name,
        "iso_4217": product.currency_id,
        "i_parent": product.managed_by_id,
        "kind": product.kind,
        "addon_priority": product.precedence,
        "description": product.description,
        "creation_date": mapping.fmt_datetime(product.created_at),
    }
    if entries:
        rows = RatingEntry.objects.filter(product=product).select_related("service", "tariff")
        info["accessibility_list"] = [
            accessibility_info(e) for e in rows.order_by("service__code", "access_code", "id")
        ]
    return info


def get_product_info(call: Call) -> dict[str, Any]:
    """By ``i_product``, else by ``name`` (exact); with its ``accessibility_list``."""
    p = call.params
    if p.get("i_product") in (None, "") and p.get("name") not in (None, ""):
        name = as_str("name", p["name"], max_length=100)
        found = selectors.visible_products(actor=call.actor).filter(name=name).first()
        if found is None:
            raise NotFound(f"name: no product named {name!r}", field="name")
        return {"product_info": product_info(found, entries=True)}
    product = selectors.get_product(actor=call.actor, product_id=_required_id(p, "i_product"))
    return {"product_info": product_info(product, entries=True)}


def get_product_list(call: Call) -> dict[str, Any]:
    """``offset``, ``limit``, ``name`` (SQL LIKE pattern), ``iso_4217``, ``kind`` (main or
    addon), ``i_parent`` (0 = the administrator's), ``get_total``; records without their
    accessibility list."""
    p = call.params
    kind = as_str("kind", p.get("kind"), max_length=5) or None
    if kind is not None and kind not in ("main", "addon"):
        raise ValidationFailed(f"kind must be main or addon (got {kind!r})", field="kind")
    qs = selectors.list_products(
        actor=call.actor,
        currency=as_str("iso_4217", p.get("iso_4217"), max_length=3) or None,
        kind=kind,
    )
    owner = _owner_filter(p)
    if owner:
        parent = owner["managed_by"]
        qs = qs.filter(managed_by__isnull=True) if parent == 0 else qs.filter(managed_by=parent)
    qs = _like(qs, p, "name", "name")
    page, total = _page(qs, p)
    reply: dict[str, Any] = {"product_list": [product_info(x, entries=False) for x in page]}
    if total is not None:
        reply["total"] = total
    return reply


def _methods(handlers: Mapping[str, Handler]) -> dict[str, tuple[Handler, bool]]:
    return {name: (handler, True) for name, handler in handlers.items()}


TARIFF_METHODS = _methods(
    {
        "get_tariff_list": get_tariff_list,
        "get_tariff_info": get_tariff_info,
        "add_tariff": add_tariff,
        "update_tariff": update_tariff,
    }
)
RATE_METHODS = _methods(
    {
        "get_rate_list": get_rate_list,
        "get_rate_info": get_rate_info,
        "add_rate": add_rate,
        "update_rate": update_rate,
    }
)
PRODUCT_METHODS = _methods(
    {
        "get_product_list": get_product_list,
        "get_product_info": get_product_info,
    }
)
