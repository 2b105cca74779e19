"""``billcore plans list|show|assign|unassign``: volume discount plans from the shell, through
``plans.selectors`` and ``plans.services`` (the same rules and errors as the pages and the API).

Loaded by ``billcore.cli.main`` after ``django.setup()``, so models import at module level."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from django.utils import timezone

from billcore.cli.rating import _error, _user
from billcore.errors import BillcoreError
from billcore.plans import selectors, services
from billcore.plans.models import DiscountPlan, PlanAssignment, PlanRule


def _plan(user: Any, text: str) -> DiscountPlan | str:
    """PLAN: an id, or else a plan's exact name, as ``user`` may see it."""
    qs = selectors.visible_plans(actor=user)
    if text.isascii() and text.isdigit() and len(text) < 19:
        found = qs.filter(pk=int(text)).first()
        if found is not None:
            return found
    found = qs.filter(name=text).first()
    if found is None:
        return f"PLAN: no discount plan with the {'id or ' if text.isdigit() else ''}name {text!r}"
    return found


def _rule_dict(rule: PlanRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.pk,
        "kind": rule.kind,
        "service": rule.service_id,
        "destination_group": rule.destination_group.name if rule.destination_group else None,
        "peak_scope": rule.peak_scope,
        "measure": rule.measure,
        "reset": rule.reset,
    }
    if rule.kind == "discount":
        out["bands"] = [[str(b.threshold), str(b.percent)] for b in rule.bands.all()]
        out["split_xdrs"] = rule.split_xdrs
    elif rule.kind == "quota":
        out.update(
            volume=None if rule.volume is None else str(rule.volume),
            renewal_period=rule.renewal_period,
            rollovers=rule.rollovers,
            on_exhausted=rule.on_exhausted,
            speed_policy=rule.speed_policy,
        )
    else:
        out.update(
            initial_volume=str(rule.initial_volume),
            expiry_days=rule.expiry_days,
            expiry_date=rule.expiry_date.isoformat() if rule.expiry_date else None,
            top_up=[
                s
                for s, on in (
                    ("balance", rule.topup_balance),
                    ("card", rule.topup_card),
                    ("credit", rule.topup_credit),
                )
                if on
            ],
        )
    return out


def _assignment_dict(a: PlanAssignment) -> dict[str, Any]:
    target: dict[str, int | None] = (
        {"product": a.product_id}
        if a.product_id
        else {"account": a.account_id}
        if a.account_id
        else {"customer": a.customer_id}
    )
    return {
        "id": a.pk,
        "plan": a.plan_id,
        **target,
        "valid_from": a.valid_from.isoformat(),
        "valid_to": a.valid_to.isoformat() if a.valid_to else None,
    }


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def cmd_plans_list(args: argparse.Namespace) -> int:
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    plans = list(selectors.list_plans(actor=user, search=args.search or ""))
    if args.format == "json":
        data = [
            {
                "id": p.pk,
                "name": p.name,
                "currency": p.currency_id,
                "managed_by": p.managed_by_id,
                "draft": p.draft,
                "rules": len(p.rules.all()),
            }
            for p in plans
        ]
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        [
            str(p.pk),
            p.name,
            p.currency_id,
            str(len(p.rules.all())),
            "draft" if p.draft else "published",
            p.managed_by.name if p.managed_by else "administrator",
        ]
        for p in plans
    ]
    _table(rows, ["ID", "NAME", "CURRENCY", "RULES", "STATUS", "MANAGED BY"])
    return 0


def cmd_plans_show(args: argparse.Namespace) -> int:
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    plan = _plan(user, args.plan)
    if isinstance(plan, str):
        return _error(plan)
    plan = selectors.get_plan(actor=user, plan_id=plan.pk)
    data: dict[str, Any] = {
        "id": plan.pk,
        "name": plan.name,
        "currency": plan.currency_id,
        "managed_by": plan.managed_by_id,
        "draft": plan.draft,
        "destination_groups": sorted(g.name for g in plan.destination_groups.all()),
        "rules": [_rule_dict(r) for r in plan.rules.all()],
        "assignments": [
            _assignment_dict(a) for a in selectors.plan_assignments(actor=user, plan_id=plan.pk)
        ],
    }
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{plan.name} (id {plan.pk}), {plan.currency_id}, {'draft' if plan.draft else 'published'}"
    )
    print(f"destination groups: {', '.join(data['destination_groups']) or '-'}")
    for rule in data["rules"]:
        rest = {k: v for k, v in rule.items() if k not in ("id", "kind")}
        print(
            f"  rule {rule['id']} {rule['kind']}: " + ", ".join(f"{k}={v}" for k, v in rest.items())
        )
    for a in data["assignments"]:
        target = next(f"{k} {a[k]}" for k in ("product", "account", "customer") if k in a)
        print(f"  assigned {a['id']}: {target} from {a['valid_from']} to {a['valid_to'] or '-'}")
    return 0


def cmd_plans_assign(args: argparse.Namespace) -> int:
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    plan = _plan(user, args.plan)
    if isinstance(plan, str):
        return _error(plan)
    data: dict[str, Any] = {"plan": plan.pk}
    if args.valid_from:
        data["valid_from"] = args.valid_from
    if args.valid_to:
        data["valid_to"] = args.valid_to
    now = timezone.now()
    try:
        if args.product is not None:
            a = services.assign_to_product(actor=user, now=now, product_id=args.product, data=data)
        elif args.account is not None:
            a = services.assign_to_account(actor=user, now=now, account_id=args.account, data=data)
        else:
            a = services.assign_to_customer(
                actor=user, now=now, customer_id=args.customer, data=data
            )
    except BillcoreError as exc:
        return _error(exc.message)
    print(json.dumps(_assignment_dict(a)))
    return 0


def cmd_plans_unassign(args: argparse.Namespace) -> int:
    user = _user(args.user)
    if isinstance(user, str):
        return _error(user)
    try:
        ended = services.unassign(actor=user, now=timezone.now(), assignment_id=args.assignment)
    except BillcoreError as exc:
        return _error(exc.message)
    if ended is None:
        print(f"assignment {args.assignment} removed (it had not started)")
    else:
        end = ended.valid_to.isoformat() if ended.valid_to else ""
        print(f"assignment {args.assignment} ended at {end}")
    sys.stdout.flush()
    return 0
