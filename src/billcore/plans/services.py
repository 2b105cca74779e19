"""Every write to volume discount plans (rating-and-tabs §2.1 to §2.4): plans, their rules and
bands, clones, and their assignments to products, accounts and customers.

Services take the acting user and ``now``; each runs in one transaction and writes an audit
row; every error names its field and nothing is saved. Input may be raw (strings: pages, CLI)
or typed (the API).

* A plan belongs to the administrator (``managed_by`` empty) or to one reseller, like tariffs
  and products: a reseller's user creates, sees and assigns only its own. Names are unique
  per owner regardless of case.
* The currency is fixed once saved. The destination group set may grow; a group a rule uses
  stays in it.
* A rule's kind, service and measure are fixed once created (delete it and add another).
  Discount bands start at ``threshold`` (≥ 0, strictly increasing) with a ``percent`` off
  from 0 to 100; the last band is unlimited. A quota has one volume (empty: unlimited) and no
  bands; a wallet has an initial volume, an expiry and its top-up options.
* A plan without rules is a draft; a draft cannot be assigned, an assigned plan cannot go
  back to draft, and a plan that was ever assigned (or that counters, charges or wallets
  reference) cannot be deleted.
* An assignment targets exactly one product (main or add-on), account or customer, of the
  plan's currency and owner; it is in force over ``[valid_from, valid_to)``. Unassigning ends
  it at ``now`` (or deletes it when it has not started).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.core.text import name_key
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.customers.services import existing_reseller
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.services import get_currency_in_use
from billcore.plans import selectors
from billcore.plans.models import (
    MAX_ROLLOVERS,
    DiscountPlan,
    Measure,
    OnExhausted,
    PeakScope,
    PlanAssignment,
    PlanBand,
    PlanRule,
    Reset,
    RuleKind,
)
from billcore.rating import selectors as rating_selectors
from billcore.rating.models import DestinationGroup, RatingBase, Service
from billcore.rating.rates import as_instant
from billcore.subscribers.models import Account
from billcore.subscribers.services import get_account
from billcore.validation import as_bool, as_choice, as_int, as_money, as_str, reject_unknown

M = TypeVar("M", bound=models.Model)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_BANDS = 50
MAX_DAYS = 36_500


def _save(obj: M, label: str, field: str = "name") -> M:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{field}: this {label} already exists", field=field, code="duplicate"
        ) from exc
    return obj


def _in_use(field: str, what: str) -> ValidationFailed:
    return ValidationFailed(f"{field} cannot change while {what}", field=field, code="in_use")


def _date(field: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return as_instant(field, value).date()


# --------------------------------------------------------------------------------------------
# Plans

PLAN_FIELDS = ("name", "description", "currency", "managed_by", "destination_groups", "draft")


def _owner(actor: Actor, value: Any) -> int | None:
    me = require_user(actor)
    if not is_admin(me):
        if value not in (None, "", me.reseller_id, str(me.reseller_id)):
            raise ValidationFailed(
                "managed_by: a reseller's user manages only its own reseller's plans",
                field="managed_by",
                code="not_found",
            )
        return me.reseller_id
    if value in (None, ""):
        return None
    return existing_reseller(value, field="managed_by")


def _plan_name(plan: DiscountPlan, value: Any) -> None:
    name = as_str("name", value, max_length=100, required=True)
    clash = DiscountPlan.objects.filter(
        name_key=name_key(name), managed_by_id=plan.managed_by_id
    ).exclude(pk=plan.pk)
    if clash.exists():
        raise ValidationFailed(
            f"name: a discount plan named {name!r} already exists (names are unique per owner "
            "regardless of letter case)",
            field="name",
            code="duplicate",
        )
    plan.name = name


def _groups(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        raise ValidationFailed(
            "destination_groups must be a list of destination group ids",
            field="destination_groups",
        )
    ids = sorted({as_int("destination_groups", v, minimum=1) for v in value})
    found = set(DestinationGroup.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for pk in ids:
        if pk not in found:
            raise ValidationFailed(
                f"destination_groups: destination group {pk} does not exist",
                field="destination_groups",
                code="not_found",
            )
    return ids


def _assigned(plan: DiscountPlan) -> bool:
    return plan.pk is not None and plan.assignments.exists()


def _apply_plan(actor: Actor, plan: DiscountPlan, data: Mapping[str, Any]) -> list[int] | None:
    """Sets the plan's fields from ``data``; returns its destination group set when given."""
    reject_unknown(dict(data), PLAN_FIELDS)
    if "managed_by" in data or not plan.pk:
        owner = _owner(actor, data.get("managed_by"))
        if plan.pk and owner != plan.managed_by_id and _assigned(plan):
            raise _in_use("managed_by", "the plan is assigned")
        plan.managed_by_id = owner
    if "name" in data or not plan.pk or "managed_by" in data:
        _plan_name(plan, data.get("name", plan.name if plan.pk else None))
    if "currency" in data or not plan.pk:
        code = get_currency_in_use(data.get("currency")).code
        if plan.pk and code != plan.currency_id:
            raise ValidationFailed(
                "currency is fixed once the plan is saved (clone it into a new plan instead)",
                field="currency",
                code="read_only",
            )
        plan.currency_id = code
    if "description" in data:
        plan.description = as_str(
            "description", data["description"], max_length=255, single_line=False
        )
    groups = None
    if "destination_groups" in data:
        groups = _groups(data["destination_groups"])
        if plan.pk:
            used = set(
                plan.rules.filter(destination_group__isnull=False).values_list(
                    "destination_group_id", flat=True
                )
            )
            missing = sorted(used - set(groups))
            if missing:
                raise ValidationFailed(
                    f"destination_groups: destination group {missing[0]} is used by a rule of "
                    "the plan and stays in its set",
                    field="destination_groups",
                    code="in_use",
                )
    if "draft" in data:
        draft = as_bool("draft", data["draft"])
        if not draft and (not plan.pk or not plan.rules.exists()):
            raise ValidationFailed(
                "draft: a plan without rules stays a draft (add a rule first)",
                field="draft",
                code="no_rules",
            )
        if draft and not plan.draft and _assigned(plan):
            raise _in_use("draft", "the plan is assigned")
        plan.draft = draft
    return groups


@transaction.atomic
def create_plan(*, actor: Actor, now: dt.datetime, data: Mapping[str, Any]) -> DiscountPlan:
    """A plan (name and currency required); it starts as a draft."""
    require_user(actor)
    plan = DiscountPlan(created_at=now, updated_at=now, draft=True)
    groups = _apply_plan(actor, plan, data)
    _save(plan, "discount plan")
    if groups:
        plan.destination_groups.set(groups)
    record(actor=actor, now=now, operation="create", obj=plan, before=None, after=snapshot(plan))
    return plan


@transaction.atomic
def update_plan(
    *, actor: Actor, now: dt.datetime, plan_id: Any, changes: Mapping[str, Any]
) -> DiscountPlan:
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    before = snapshot(plan)
    groups = _apply_plan(actor, plan, changes)
    plan.updated_at = now
    _save(plan, "discount plan")
    if groups is not None:
        plan.destination_groups.set(groups)
    record(actor=actor, now=now, operation="update", obj=plan, before=before, after=snapshot(plan))
    return plan


@transaction.atomic
def delete_plan(*, actor: Actor, now: dt.datetime, plan_id: Any) -> None:
    """Only a plan that was never assigned and that nothing else references."""
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    if _assigned(plan):
        raise ValidationFailed(
            f"discount plan {plan.name!r} is (or was) assigned and cannot be deleted",
            field="id",
            code="in_use",
        )
    before = snapshot(plan)
    pk = plan.pk
    try:
        with transaction.atomic():
            plan.delete()
    except models.ProtectedError as exc:
        raise ValidationFailed(
            f"discount plan {plan.name!r} is referenced by counters, charges or wallets and "
            "cannot be deleted",
            field="id",
            code="in_use",
        ) from exc
    plan.pk = pk
    record(actor=actor, now=now, operation="delete", obj=plan, before=before, after=None)


@transaction.atomic
def clone_plan(
    *, actor: Actor, now: dt.datetime, plan_id: Any, data: Mapping[str, Any] | None = None
) -> DiscountPlan:
    """A copy of the plan with its destination group set, rules and bands, under a new name
    (``data["name"]``; default "<name> (copy)"), as a draft: reviewed before it is sold."""
    source = selectors.get_plan(actor=actor, plan_id=plan_id)
    data = dict(data or {})
    reject_unknown(data, ("name", "description"))
    plan = DiscountPlan(
        currency_id=source.currency_id,
        managed_by_id=source.managed_by_id,
        description=source.description,
        draft=True,
        created_at=now,
        updated_at=now,
    )
    _plan_name(plan, data.get("name") or f"{source.name[:93]} (copy)")
    if "description" in data:
        plan.description = as_str(
            "description", data["description"], max_length=255, single_line=False
        )
    _save(plan, "discount plan")
    plan.destination_groups.set([g.pk for g in source.destination_groups.all()])
    for rule in source.rules.all():
        bands = list(rule.bands.all())
        rule.pk = None
        rule.plan = plan
        rule.created_at = rule.updated_at = now
        rule.save()
        PlanBand.objects.bulk_create(
            [PlanBand(rule=rule, threshold=b.threshold, percent=b.percent) for b in bands]
        )
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=plan,
        before=None,
        after={**snapshot(plan), "cloned_from": source.pk},
    )
    return plan


# --------------------------------------------------------------------------------------------
# Rules and bands

RULE_FIELDS = (
    "kind",
    "service",
    "destination_group",
    "peak_scope",
    "measure",
    "reset",
    "volume",
    "renewal_period",
    "renewal_anchor_date",
    "rollovers",
    "on_exhausted",
    "speed_policy",
    "prorate_first_period",
    "split_xdrs",
    "initial_volume",
    "expiry_days",
    "expiry_date",
    "topup_credit",
    "topup_card",
    "topup_balance",
    "topup_extend_days",
    "bands",
)
# Fields that only one kind of rule takes (given for another kind: refused, naming it).
KIND_FIELDS = {
    RuleKind.DISCOUNT: {"bands"},
    RuleKind.QUOTA: {
        "volume",
        "renewal_period",
        "renewal_anchor_date",
        "rollovers",
        "on_exhausted",
        "speed_policy",
    },
    RuleKind.WALLET: {
        "initial_volume",
        "expiry_days",
        "expiry_date",
        "topup_credit",
        "topup_card",
        "topup_balance",
        "topup_extend_days",
    },
}


def parse_bands(value: Any) -> list[tuple[Decimal, Decimal]]:
    """``[{"threshold": …, "percent": …}, …]`` as (threshold, percent) pairs: thresholds
    ≥ 0 and strictly increasing (no two bands overlap), percents from 0 to 100. Errors name
    ``bands.<i>.threshold`` / ``bands.<i>.percent``."""
    if not isinstance(value, list | tuple):
        raise ValidationFailed(
            "bands must be a list of {threshold, percent}", field="bands", code="invalid"
        )
    if not value:
        raise ValidationFailed(
            "bands: a discount needs at least one band", field="bands", code="required"
        )
    if len(value) > MAX_BANDS:
        raise ValidationFailed(f"bands: at most {MAX_BANDS} bands", field="bands")
    bands: list[tuple[Decimal, Decimal]] = []
    for i, band in enumerate(value):
        if not isinstance(band, Mapping):
            raise ValidationFailed(
                f"bands.{i} must be an object with threshold and percent", field=f"bands.{i}"
            )
        unknown = sorted(set(band) - {"threshold", "percent"})
        if unknown:
            raise ValidationFailed(
                f"bands.{i}.{unknown[0]} is not a field of a band",
                field=f"bands.{i}.{unknown[0]}",
                code="unknown",
            )
        threshold = as_money(f"bands.{i}.threshold", band.get("threshold"), allow_none=False)
        percent = as_money(f"bands.{i}.percent", band.get("percent"), allow_none=False)
        assert threshold is not None and percent is not None
        if threshold < ZERO:
            raise ValidationFailed(
                f"bands.{i}.threshold must be at least 0", field=f"bands.{i}.threshold"
            )
        if not ZERO <= percent <= HUNDRED:
            raise ValidationFailed(
                f"bands.{i}.percent must be from 0 to 100 (got {percent.normalize():f})",
                field=f"bands.{i}.percent",
                code="out_of_range",
            )
        if bands and threshold <= bands[-1][0]:
            raise ValidationFailed(
                f"bands.{i}.threshold ({threshold.normalize():f}) must be greater than the "
                f"previous band's ({bands[-1][0].normalize():f}): bands may not overlap",
                field=f"bands.{i}.threshold",
                code="overlap",
            )
        bands.append((threshold, percent))
    return bands


def _service(value: Any) -> Service:
    code = as_str("service", value, max_length=32, required=True)
    try:
        return Service.objects.get(code=code)
    except Service.DoesNotExist:
        raise ValidationFailed(
            f"service: no service with code {code!r}", field="service", code="not_found"
        ) from None


def _rule_group(plan: DiscountPlan, value: Any) -> int | None:
    if value in (None, ""):
        return None
    pk = as_int("destination_group", value, minimum=1)
    if not plan.destination_groups.filter(pk=pk).exists():
        if not DestinationGroup.objects.filter(pk=pk).exists():
            raise ValidationFailed(
                f"destination_group: destination group {pk} does not exist",
                field="destination_group",
                code="not_found",
            )
        raise ValidationFailed(
            f"destination_group: destination group {pk} is not in the plan's destination group set",
            field="destination_group",
            code="not_in_set",
        )
    return pk


def _volume(field: str, value: Any, *, allow_none: bool) -> Decimal | None:
    amount = as_money(field, value, allow_none=allow_none)
    if amount is not None and amount < ZERO:
        raise ValidationFailed(f"{field} must be at least 0", field=field)
    return amount


def _apply_rule(
    plan: DiscountPlan, rule: PlanRule, data: Mapping[str, Any]
) -> list[tuple[Decimal, Decimal]] | None:
    """Sets the rule's fields from ``data``; returns its bands when given."""
    reject_unknown(dict(data), RULE_FIELDS)
    new = rule.pk is None
    for name in ("kind", "service", "measure"):
        if (
            not new
            and name in data
            and data[name] != getattr(rule, "service_id" if name == "service" else name)
        ):
            raise ValidationFailed(
                f"{name} is fixed once the rule is created (delete it and add another)",
                field=name,
                code="read_only",
            )
    if new:
        rule.kind = as_choice("kind", data.get("kind"), RuleKind.values)
        rule.service = _service(data.get("service"))
        if "measure" in data:
            rule.measure = as_choice("measure", data["measure"], Measure.values)
        elif rule.kind == RuleKind.WALLET:
            rule.measure = Measure.MONEY
    kind = rule.kind
    for other, fields in KIND_FIELDS.items():
        if other == kind:
            continue
        for name in sorted(fields - KIND_FIELDS[RuleKind(kind)]):
            if name in data:
                raise ValidationFailed(
                    f"{name}: a {RuleKind(kind).label.lower()} rule has no {name}",
                    field=name,
                    code="not_for_kind",
                )
    if "destination_group" in data:
        rule.destination_group_id = _rule_group(plan, data["destination_group"])
    if "peak_scope" in data:
        rule.peak_scope = as_choice("peak_scope", data["peak_scope"], PeakScope.values)
    if "reset" in data:
        rule.reset = as_choice("reset", data["reset"], Reset.values)
    for name in ("prorate_first_period", "split_xdrs"):
        if name in data:
            setattr(rule, name, as_bool(name, data[name]))
    bands = None
    if kind == RuleKind.DISCOUNT:
        if "bands" in data or new:
            bands = parse_bands(data.get("bands"))
    elif kind == RuleKind.QUOTA:
        _apply_quota(rule, data)
    else:
        _apply_wallet(rule, data)
    clash = PlanRule.objects.filter(
        plan=plan,
        kind=rule.kind,
        service_id=rule.service_id,
        destination_group_id=rule.destination_group_id,
        peak_scope=rule.peak_scope,
    ).exclude(pk=rule.pk)
    if clash.exists():
        raise ValidationFailed(
            f"destination_group: the plan already has a {rule.kind} rule for this service, "
            "destination group and peak level",
            field="destination_group",
            code="duplicate",
        )
    return bands


def _apply_quota(rule: PlanRule, data: Mapping[str, Any]) -> None:
    if "volume" in data:
        rule.volume = _volume("volume", data["volume"], allow_none=True)
    if "renewal_period" in data:
        rule.renewal_period = as_choice("renewal_period", data["renewal_period"], Reset.values)
    if "renewal_anchor_date" in data:
        rule.renewal_anchor_date = _date("renewal_anchor_date", data["renewal_anchor_date"])
    if "rollovers" in data:
        rule.rollovers = as_int("rollovers", data["rollovers"], minimum=0, maximum=MAX_ROLLOVERS)
    if "on_exhausted" in data:
        rule.on_exhausted = as_choice("on_exhausted", data["on_exhausted"], OnExhausted.values)
    if "speed_policy" in data:
        rule.speed_policy = as_str("speed_policy", data["speed_policy"], max_length=64)
    if rule.on_exhausted == OnExhausted.LIMIT_SPEED:
        if rule.service.rating_base != RatingBase.DATA:
            raise ValidationFailed(
                "on_exhausted: only a data quota can limit the speed",
                field="on_exhausted",
                code="not_data",
            )
        if not rule.speed_policy:
            raise ValidationFailed(
                "speed_policy: name the policy the network applies (e.g. a Filter-Id) when "
                "the quota is used up",
                field="speed_policy",
                code="required",
            )
    elif rule.speed_policy:
        raise ValidationFailed(
            "speed_policy: only a quota that limits the speed when used up has a policy",
            field="speed_policy",
        )
    if rule.volume is None and rule.rollovers:
        raise ValidationFailed(
            "rollovers: an unlimited quota has nothing to roll over", field="rollovers"
        )


def _apply_wallet(rule: PlanRule, data: Mapping[str, Any]) -> None:
    if "initial_volume" in data:
        rule.initial_volume = _volume("initial_volume", data["initial_volume"], allow_none=False)
    if "expiry_days" in data:
        days = data["expiry_days"]
        rule.expiry_days = (
            None if days in (None, "") else as_int("expiry_days", days, minimum=1, maximum=MAX_DAYS)
        )
    if "expiry_date" in data:
        rule.expiry_date = _date("expiry_date", data["expiry_date"])
    if rule.expiry_days is not None and rule.expiry_date is not None:
        raise ValidationFailed(
            "expiry_date: a wallet expires after a number of days or on a date, not both",
            field="expiry_date",
        )
    for name in ("topup_credit", "topup_card", "topup_balance"):
        if name in data:
            setattr(rule, name, as_bool(name, data[name]))
    if "topup_extend_days" in data:
        rule.topup_extend_days = as_int(
            "topup_extend_days", data["topup_extend_days"], minimum=0, maximum=MAX_DAYS
        )


def _set_bands(rule: PlanRule, bands: list[tuple[Decimal, Decimal]]) -> None:
    PlanBand.objects.filter(rule=rule).delete()
    PlanBand.objects.bulk_create([PlanBand(rule=rule, threshold=t, percent=p) for t, p in bands])


def _rule_snapshot(rule: PlanRule) -> dict[str, Any]:
    data = snapshot(rule)
    data["bands"] = [[str(b.threshold), str(b.percent)] for b in PlanBand.objects.filter(rule=rule)]
    return data


@transaction.atomic
def create_rule(
    *, actor: Actor, now: dt.datetime, plan_id: Any, data: Mapping[str, Any]
) -> PlanRule:
    plan = selectors.get_plan(actor=actor, plan_id=plan_id)
    rule = PlanRule(plan=plan, created_at=now, updated_at=now)
    bands = _apply_rule(plan, rule, data)
    rule.save()
    if bands is not None:
        _set_bands(rule, bands)
    record(
        actor=actor, now=now, operation="create", obj=rule, before=None, after=_rule_snapshot(rule)
    )
    return selectors.get_rule(actor=actor, plan_id=plan.pk, rule_id=rule.pk)


@transaction.atomic
def update_rule(
    *, actor: Actor, now: dt.datetime, plan_id: Any, rule_id: Any, changes: Mapping[str, Any]
) -> PlanRule:
    rule = selectors.get_rule(actor=actor, plan_id=plan_id, rule_id=rule_id)
    before = _rule_snapshot(rule)
    bands = _apply_rule(rule.plan, rule, changes)
    rule.updated_at = now
    rule.save()
    if bands is not None:
        _set_bands(rule, bands)
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=rule,
        before=before,
        after=_rule_snapshot(rule),
    )
    return selectors.get_rule(actor=actor, plan_id=rule.plan_id, rule_id=rule.pk)


@transaction.atomic
def set_bands(
    *, actor: Actor, now: dt.datetime, plan_id: Any, rule_id: Any, bands: Any
) -> PlanRule:
    """Replace a discount rule's bands."""
    return update_rule(
        actor=actor, now=now, plan_id=plan_id, rule_id=rule_id, changes={"bands": bands}
    )


@transaction.atomic
def delete_rule(*, actor: Actor, now: dt.datetime, plan_id: Any, rule_id: Any) -> None:
    """A rule of a plan that is not assigned (its counters would lose their meaning); the
    last rule of a plan leaves it a draft."""
    rule = selectors.get_rule(actor=actor, plan_id=plan_id, rule_id=rule_id)
    plan = rule.plan
    if _assigned(plan):
        raise ValidationFailed(
            f"the rules of discount plan {plan.name!r} cannot be deleted while it is assigned "
            "(clone it and assign the clone instead)",
            field="id",
            code="in_use",
        )
    before = _rule_snapshot(rule)
    pk = rule.pk
    try:
        with transaction.atomic():
            rule.delete()
    except models.ProtectedError as exc:
        raise ValidationFailed(
            "the rule is referenced by counters or wallets and cannot be deleted",
            field="id",
            code="in_use",
        ) from exc
    rule.pk = pk
    record(actor=actor, now=now, operation="delete", obj=rule, before=before, after=None)
    if not plan.rules.exists() and not plan.draft:
        plan.draft = True
        plan.updated_at = now
        plan.save(update_fields=["draft", "updated_at"])


# --------------------------------------------------------------------------------------------
# Assignments

ASSIGNMENT_FIELDS = ("plan", "valid_from", "valid_to")


def _assignable_plan(actor: Actor, value: Any) -> DiscountPlan:
    if value in (None, ""):
        raise ValidationFailed("plan is required", field="plan", code="required")
    pk = as_int("plan", value, minimum=1)
    try:
        plan = selectors.get_plan(actor=actor, plan_id=pk)
    except NotFound:
        raise ValidationFailed(
            f"plan: discount plan {pk} does not exist", field="plan", code="not_found"
        ) from None
    if plan.draft:
        raise ValidationFailed(
            f"plan: discount plan {plan.name!r} is a draft and cannot be assigned",
            field="plan",
            code="draft",
        )
    return plan


def _check_target(plan: DiscountPlan, *, currency: str, owner: int | None, what: str) -> None:
    if plan.currency_id != currency:
        raise ValidationFailed(
            f"plan: discount plan {plan.name!r} is in {plan.currency_id}, the {what} in {currency}",
            field="plan",
            code="currency_mismatch",
        )
    if plan.managed_by_id != owner:
        raise ValidationFailed(
            f"plan: discount plan {plan.name!r} is not one of the {what}'s owner's plans",
            field="plan",
            code="other_owner",
        )


def _assign(
    actor: Actor,
    now: dt.datetime,
    data: Mapping[str, Any],
    *,
    target: dict[str, Any],
    currency: str,
    owner: int | None,
    what: str,
) -> PlanAssignment:
    reject_unknown(dict(data), ASSIGNMENT_FIELDS)
    plan = _assignable_plan(actor, data.get("plan"))
    _check_target(plan, currency=currency, owner=owner, what=what)
    start = data.get("valid_from")
    valid_from = now if start in (None, "") else as_instant("valid_from", start)
    end = data.get("valid_to")
    valid_to = None if end in (None, "") else as_instant("valid_to", end)
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed(
            "valid_to must be later than valid_from", field="valid_to", code="invalid"
        )
    overlap = PlanAssignment.objects.filter(plan=plan, **target).filter(
        models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=valid_from)
    )
    if valid_to is not None:
        overlap = overlap.filter(valid_from__lt=valid_to)
    if overlap.exists():
        raise ValidationFailed(
            f"plan: discount plan {plan.name!r} is already assigned to this {what} over that time",
            field="plan",
            code="duplicate",
        )
    assignment = PlanAssignment(
        plan=plan, valid_from=valid_from, valid_to=valid_to, created_at=now, **target
    )
    assignment.save()
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=assignment,
        before=None,
        after=snapshot(assignment),
    )
    return assignment


@transaction.atomic
def assign_to_product(
    *, actor: Actor, now: dt.datetime, product_id: Any, data: Mapping[str, Any]
) -> PlanAssignment:
    """The product's default plan (a main product) or an add-on's plan."""
    product = rating_selectors.get_product(actor=actor, product_id=product_id)
    return _assign(
        actor,
        now,
        data,
        target={"product": product},
        currency=product.currency_id,
        owner=product.managed_by_id,
        what="product",
    )


@transaction.atomic
def assign_to_account(
    *, actor: Actor, now: dt.datetime, account_id: Any, data: Mapping[str, Any]
) -> PlanAssignment:
    account: Account = get_account(actor=actor, account_id=account_id)
    if account.terminated_at is not None:
        raise ValidationFailed(
            f"account {account.identifier} is terminated", field="id", code="terminated"
        )
    customer: Customer = account.customer
    return _assign(
        actor,
        now,
        data,
        target={"account": account},
        currency=customer.currency_id,
        owner=customer.reseller_id,
        what="account",
    )


@transaction.atomic
def assign_to_customer(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: Mapping[str, Any]
) -> PlanAssignment:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return _assign(
        actor,
        now,
        data,
        target={"customer": customer},
        currency=customer.currency_id,
        owner=customer.reseller_id,
        what="customer",
    )


@transaction.atomic
def unassign(*, actor: Actor, now: dt.datetime, assignment_id: Any) -> PlanAssignment | None:
    """Ends the assignment at ``now``; one that has not started yet is removed (None)."""
    assignment = selectors.get_assignment(actor=actor, assignment_id=assignment_id)
    before = snapshot(assignment)
    if assignment.valid_to is not None and assignment.valid_to <= now:
        raise ValidationFailed("the assignment has already ended", field="id", code="ended")
    if assignment.valid_from > now:
        pk = assignment.pk
        assignment.delete()
        assignment.pk = pk
        record(actor=actor, now=now, operation="delete", obj=assignment, before=before, after=None)
        return None
    assignment.valid_to = now
    if assignment.valid_to <= assignment.valid_from:
        # Started this very instant: nothing was in force, the row goes.
        pk = assignment.pk
        assignment.delete()
        assignment.pk = pk
        record(actor=actor, now=now, operation="delete", obj=assignment, before=before, after=None)
        return None
    assignment.save(update_fields=["valid_to"])
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=assignment,
        before=before,
        after=snapshot(assignment),
    )
    return assignment
