"""Volume discount plans on ``/rest/`` (issue 13): the ``DiscountPlan`` service
(``get_discount_plan_list``, ``get_discount_plan_info``; ``VolumeDiscountPlan`` answers the
same under ``get_vd_plan_list`` / ``get_vd_plan_info``), and the counters of an account
(``Account/get_vd_counter_list``) and of a customer (``Customer/get_vd_counter_list``).
Read-only: plans are written on the pages, the native API and the command line. Each method
translates names and values, then calls ``plans.selectors``, which keep the reseller scoping.

Records: a plan is ``i_vd_plan``, ``name``, ``iso_4217``, ``i_parent`` (the managing reseller,
null for the administrator's), ``draft``, ``description``, ``i_dest_group_list`` and its
``discount_list`` (one record per rule: ``i_vd_dg``, ``rule_type`` discount / quota / wallet,
``service_code``, ``i_dest_group``, ``peak_level``, ``measure``, ``threshold_list``…); a
counter record is one rule in force with what its counter says now (``used``, ``volume``,
``remaining``, ``expiration_date``; a wallet's ``balance``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billcore.errors import NotFound, ValidationFailed
from billcore.plans import selectors
from billcore.plans.models import DiscountPlan, PlanRule, RuleKind
from billcore.plans.selectors import RuleUsage
from billcore.porta import mapping
from billcore.porta.session import Call, Handler
from billcore.validation import as_int, as_str

PEAK_LEVEL = {"any": None, "peak": 0, "offpeak": 1}


def _required_id(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        raise ValidationFailed(f"{name} is required", field=name, code="required")
    return as_int(name, value, minimum=1)


def rule_info(rule: PlanRule) -> dict[str, Any]:
    info: dict[str, Any] = {
        "i_vd_dg": rule.pk,
        "rule_type": rule.kind,
        "service_code": rule.service_id,
        "i_dest_group": rule.destination_group_id,
        "dest_group_name": rule.destination_group.name if rule.destination_group else None,
        "peak_level": PEAK_LEVEL[rule.peak_scope],
        "measure": rule.measure,
        "reset": rule.reset,
    }
    if rule.kind == RuleKind.DISCOUNT:
        info["threshold_list"] = [
            {"threshold": band.threshold, "discount": band.percent} for band in rule.bands.all()
        ]
        info["split_xdrs"] = mapping.yn(rule.split_xdrs)
        info["prorate"] = mapping.yn(rule.prorate_first_period)
    elif rule.kind == RuleKind.QUOTA:
        info.update(
            threshold=rule.volume,
            unlimited=mapping.yn(rule.volume is None),
            renewal_period=rule.renewal_period,
            rollovers=rule.rollovers,
            on_exhausted=rule.on_exhausted,
            speed_policy=rule.speed_policy or None,
        )
    else:
        info.update(
            initial_volume=rule.initial_volume,
            expiration_days=rule.expiry_days,
            expiration_date=rule.expiry_date.isoformat() if rule.expiry_date else None,
            topup_credit=mapping.yn(rule.topup_credit),
            topup_card=mapping.yn(rule.topup_card),
            topup_balance=mapping.yn(rule.topup_balance),
        )
    return info


def plan_info(plan: DiscountPlan, *, rules: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "i_vd_plan": plan.pk,
        "name": plan.name,
        "iso_4217": plan.currency_id,
        "i_parent": plan.managed_by_id,
        "draft": mapping.yn(plan.draft),
        "description": plan.description,
        "i_dest_group_list": sorted(g.pk for g in plan.destination_groups.all()),
        "creation_date": mapping.fmt_datetime(plan.created_at),
    }
    if rules:
        info["discount_list"] = [rule_info(r) for r in plan.rules.all()]
    return info


def get_discount_plan_list(call: Call) -> dict[str, Any]:
    """``offset``, ``limit``, ``name`` (SQL LIKE pattern), ``iso_4217``, ``i_parent`` (0 =
    the administrator's), ``get_total``; records without their rules."""
    p = call.params
    qs = selectors.list_plans(
        actor=call.actor, currency=as_str("iso_4217", p.get("iso_4217"), max_length=3) or None
    )
    if p.get("i_parent") not in (None, ""):
        parent = as_int("i_parent", p["i_parent"], minimum=0)
        qs = qs.filter(managed_by__isnull=True) if parent == 0 else qs.filter(managed_by=parent)
    if p.get("name") not in (None, ""):
        pattern = as_str("name", p["name"], max_length=200)
        qs = qs.filter(name__iregex=mapping.like_to_regex(pattern))
    offset, limit = mapping.page(p)
    total = qs.count() if mapping.parse_optional_flag("get_total", p.get("get_total")) else None
    rows = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    reply: dict[str, Any] = {"discount_plan_list": [plan_info(x, rules=False) for x in rows]}
    if total is not None:
        reply["total"] = total
    return reply


def get_discount_plan_info(call: Call) -> dict[str, Any]:
    """By ``i_vd_plan``, else by ``name`` (exact); with its ``discount_list``."""
    p = call.params
    if p.get("i_vd_plan") in (None, "") and p.get("name") not in (None, ""):
        name = as_str("name", p["name"], max_length=100)
        found = selectors.visible_plans(actor=call.actor).filter(name=name).first()
        if found is None:
            raise NotFound(f"name: no discount plan named {name!r}", field="name")
        plan = selectors.get_plan(actor=call.actor, plan_id=found.pk)
    else:
        plan = selectors.get_plan(actor=call.actor, plan_id=_required_id(p, "i_vd_plan"))
    return {"discount_plan_info": plan_info(plan, rules=True)}


def counter_info(u: RuleUsage) -> dict[str, Any]:
    rule = u.rule
    info: dict[str, Any] = {
        "i_vd_plan": u.applied.plan.pk,
        "vd_plan_name": u.applied.plan.name,
        "i_vd_dg": rule.pk,
        "rule_type": rule.kind,
        "service_code": rule.service_id,
        "i_dest_group": rule.destination_group_id,
        "peak_level": PEAK_LEVEL[rule.peak_scope],
        "measure": rule.measure,
        "assigned_to": u.applied.source,
        "used": u.used,
        "expiration_date": mapping.fmt_datetime(u.expires_at),
    }
    if rule.kind == RuleKind.QUOTA:
        info.update(volume=u.volume, remaining=u.left, unlimited=mapping.yn(u.volume is None))
    elif rule.kind == RuleKind.DISCOUNT:
        band = u.current_band
        info["discount"] = band.percent if band is not None else Decimal(0)
    else:
        held = u.wallet.balance if u.wallet is not None else rule.initial_volume
        info["balance"] = held
        info["i_wallet"] = u.wallet.pk if u.wallet is not None else None
    return info


def account_counters(call: Call) -> dict[str, Any]:
    """Every rule in force for ``i_account`` (its plans, its products', its customer's), in
    the order quotas and wallets are consumed, with its counter now."""
    usage = selectors.account_usage(
        actor=call.actor, account_id=_required_id(call.params, "i_account"), at=call.now
    )
    return {"counter_list": [counter_info(u) for u in usage]}


def customer_counters(call: Call) -> dict[str, Any]:
    """The rules of the plans assigned to ``i_customer`` itself, with its own counters."""
    usage = selectors.customer_usage(
        actor=call.actor, customer_id=_required_id(call.params, "i_customer"), at=call.now
    )
    return {"counter_list": [counter_info(u) for u in usage]}


def _methods(handlers: Mapping[str, Handler]) -> dict[str, tuple[Handler, bool]]:
    return {name: (handler, True) for name, handler in handlers.items()}


DISCOUNT_PLAN_METHODS = _methods(
    {
        "get_discount_plan_list": get_discount_plan_list,
        "get_discount_plan_info": get_discount_plan_info,
    }
)
VOLUME_DISCOUNT_PLAN_METHODS = _methods(
    {
        "get_vd_plan_list": get_discount_plan_list,
        "get_vd_plan_info": get_discount_plan_info,
    }
)
ACCOUNT_METHODS = _methods({"get_vd_counter_list": account_counters})
CUSTOMER_METHODS = _methods({"get_vd_counter_list": customer_counters})
# billcore name -> PortaBilling name, for faults.
PLAN_FIELDS_OUT: dict[str, str] = {
    "id": "i_vd_plan",
    "name": "name",
    "currency": "iso_4217",
    "managed_by": "i_parent",
}
