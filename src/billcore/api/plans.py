"""``/api/v1`` for volume discount plans (issue 13): ``/discount-plans`` with their ``rules``
(and each discount rule's ``bands``), ``clone`` and ``assignments``; the plans assigned to
``/products/{id}``, ``/accounts/{id}`` and ``/customers/{id}`` (``…/discount-plans``);
``/discount-plan-assignments/{id}`` (read, unassign); and the plans in force for an account in
consumption order (``/accounts/{id}/applied-discount-plans``). Handlers parse, call
``plans.services`` or ``plans.selectors``, and shape the reply."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.plans import selectors, services, wallets
from billcore.plans.models import DiscountPlan, PlanAssignment, PlanBand, PlanRule
from billcore.plans.selectors import AppliedPlan

router = Router(tags=["discount plans"])


class PlanPaging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _page(qs: Any, paging: PlanPaging) -> dict[str, Any]:
    items = list(qs[paging.offset : paging.offset + paging.limit])
    return {"count": qs.count(), "limit": paging.limit, "offset": paging.offset, "items": items}


def _data(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


# --------------------------------------------------------------------------------------------
# Rules and bands


class PlanBandIn(Schema):
    model_config = ConfigDict(extra="forbid")
    threshold: str = Field(description="Counter value the band starts at (≥ 0), increasing")
    percent: str = Field(description="Percent off from 0 (standard price) to 100 (free)")


class PlanBandOut(Schema):
    threshold: Decimal
    percent: Decimal


class PlanRuleFields(Schema):
    model_config = ConfigDict(extra="forbid")
    destination_group: int | None = Field(
        None, description="A group of the plan's set; null: every destination of the service"
    )
    peak_scope: str | None = Field(None, description="any | peak | offpeak")
    reset: str | None = Field(
        None, description="Counter reset: billing_period | daily | monthly | one_time"
    )
    prorate_first_period: bool | None = None
    split_xdrs: bool | None = Field(None, description="Split a session that crosses a band")
    bands: list[PlanBandIn] | None = Field(None, description="Discount: its bands")
    volume: str | None = Field(None, description="Quota: free volume per period; null: unlimited")
    renewal_period: str | None = Field(
        None, description="Quota: billing_period | daily | monthly | one_time"
    )
    renewal_anchor_date: dt.date | None = Field(
        None, description="Quota: the renewal calendar's start; null: the assignment's"
    )
    rollovers: int | None = Field(None, description="Quota: 0 to 3 periods of unused volume")
    on_exhausted: str | None = Field(None, description="Quota: charge | block | limit_speed")
    speed_policy: str | None = Field(None, description="Quota, limit_speed: the policy's name")
    initial_volume: str | None = Field(None, description="Wallet: its starting balance")
    expiry_days: int | None = Field(None, description="Wallet: days of life; null: never")
    expiry_date: dt.date | None = Field(None, description="Wallet: expires on this date")
    topup_credit: bool | None = None
    topup_card: bool | None = None
    topup_balance: bool | None = None
    topup_extend_days: int | None = None


class PlanRuleIn(PlanRuleFields):
    kind: str = Field(description="discount | quota | wallet (fixed once created)")
    service: str = Field(description="A service's code (fixed once created)")
    measure: str | None = Field(
        None, description="money | units (fixed once created); wallets default to money"
    )


class PlanRulePatch(PlanRuleFields):
    pass


class PlanRuleOut(Schema):
    id: int
    plan: int = Field(alias="plan_id")
    kind: str
    service: str = Field(alias="service_id")
    destination_group: int | None = Field(None, alias="destination_group_id")
    peak_scope: str
    measure: str
    reset: str
    prorate_first_period: bool
    split_xdrs: bool
    bands: list[PlanBandOut]
    volume: Decimal | None
    renewal_period: str
    renewal_anchor_date: dt.date | None
    rollovers: int
    on_exhausted: str
    speed_policy: str
    initial_volume: Decimal
    expiry_days: int | None
    expiry_date: dt.date | None
    topup_credit: bool
    topup_card: bool
    topup_balance: bool
    topup_extend_days: int

    @staticmethod
    def resolve_bands(obj: PlanRule) -> list[PlanBand]:
        return list(obj.bands.all())


def _rule_data(payload: PlanRuleFields) -> dict[str, Any]:
    data = _data(payload)
    if "bands" in data and data["bands"] is not None:
        data["bands"] = [dict(b) for b in data["bands"]]
    return data


# --------------------------------------------------------------------------------------------
# Plans


class DiscountPlanFields(Schema):
    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    managed_by: int | None = Field(None, description="Reseller id; null = the administrator's")
    destination_groups: list[int] | None = Field(None, description="The destination group set")


class DiscountPlanIn(DiscountPlanFields):
    name: str
    currency: str = Field(description="Fixed once saved")


class DiscountPlanPatch(DiscountPlanFields):
    name: str | None = None
    currency: str | None = Field(None, description="Fixed: only the same value is accepted")
    draft: bool | None = Field(None, description="false publishes (needs a rule)")


class DiscountPlanOut(Schema):
    id: int
    name: str
    description: str
    currency: str = Field(alias="currency_id")
    managed_by: int | None = Field(None, alias="managed_by_id")
    destination_groups: list[int]
    draft: bool
    rules: list[PlanRuleOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_destination_groups(obj: DiscountPlan) -> list[int]:
        return sorted(g.pk for g in obj.destination_groups.all())

    @staticmethod
    def resolve_rules(obj: DiscountPlan) -> list[PlanRule]:
        return list(obj.rules.all())


class DiscountPlanPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[DiscountPlanOut]


class DiscountPlanFilters(PlanPaging):
    search: str = ""
    currency: str | None = None
    managed_by: int | None = None
    draft: bool | None = None


class DiscountPlanCloneIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description='Default: "<name> (copy)"')
    description: str | None = None


@router.get("/discount-plans", response=DiscountPlanPage)
def list_plans(request: AuthedRequest, filters: Query[DiscountPlanFilters]) -> dict[str, Any]:
    qs = selectors.list_plans(
        actor=request.auth,
        search=filters.search,
        currency=filters.currency,
        managed_by=filters.managed_by,
        draft=filters.draft,
    )
    return _page(qs, filters)


@router.post("/discount-plans", response={201: DiscountPlanOut})
def create_plan(request: AuthedRequest, payload: DiscountPlanIn) -> Status[DiscountPlan]:
    plan = services.create_plan(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, selectors.get_plan(actor=request.auth, plan_id=plan.pk))


@router.get("/discount-plans/{plan_id}", response=DiscountPlanOut)
def get_plan(request: AuthedRequest, plan_id: int) -> DiscountPlan:
    return selectors.get_plan(actor=request.auth, plan_id=plan_id)


@router.patch("/discount-plans/{plan_id}", response=DiscountPlanOut)
def update_plan(request: AuthedRequest, plan_id: int, payload: DiscountPlanPatch) -> DiscountPlan:
    services.update_plan(actor=request.auth, now=now(), plan_id=plan_id, changes=_data(payload))
    return selectors.get_plan(actor=request.auth, plan_id=plan_id)


@router.delete("/discount-plans/{plan_id}", response={204: None})
def delete_plan(request: AuthedRequest, plan_id: int) -> Status[None]:
    services.delete_plan(actor=request.auth, now=now(), plan_id=plan_id)
    return Status(204, None)


@router.post("/discount-plans/{plan_id}/clone", response={201: DiscountPlanOut})
def clone_plan(
    request: AuthedRequest, plan_id: int, payload: DiscountPlanCloneIn
) -> Status[DiscountPlan]:
    plan = services.clone_plan(actor=request.auth, now=now(), plan_id=plan_id, data=_data(payload))
    return Status(201, selectors.get_plan(actor=request.auth, plan_id=plan.pk))


@router.get("/discount-plans/{plan_id}/rules", response=list[PlanRuleOut])
def list_rules(request: AuthedRequest, plan_id: int) -> list[PlanRule]:
    return list(selectors.get_plan(actor=request.auth, plan_id=plan_id).rules.all())


@router.post("/discount-plans/{plan_id}/rules", response={201: PlanRuleOut})
def create_rule(request: AuthedRequest, plan_id: int, payload: PlanRuleIn) -> Status[PlanRule]:
    rule = services.create_rule(
        actor=request.auth, now=now(), plan_id=plan_id, data=_rule_data(payload)
    )
    return Status(201, rule)


@router.get("/discount-plans/{plan_id}/rules/{rule_id}", response=PlanRuleOut)
def get_rule(request: AuthedRequest, plan_id: int, rule_id: int) -> PlanRule:
    return selectors.get_rule(actor=request.auth, plan_id=plan_id, rule_id=rule_id)


@router.patch("/discount-plans/{plan_id}/rules/{rule_id}", response=PlanRuleOut)
def update_rule(
    request: AuthedRequest, plan_id: int, rule_id: int, payload: PlanRulePatch
) -> PlanRule:
    return services.update_rule(
        actor=request.auth,
        now=now(),
        plan_id=plan_id,
        rule_id=rule_id,
        changes=_rule_data(payload),
    )


@router.delete("/discount-plans/{plan_id}/rules/{rule_id}", response={204: None})
def delete_rule(request: AuthedRequest, plan_id: int, rule_id: int) -> Status[None]:
    services.delete_rule(actor=request.auth, now=now(), plan_id=plan_id, rule_id=rule_id)
    return Status(204, None)


@router.get("/discount-plans/{plan_id}/rules/{rule_id}/bands", response=list[PlanBandOut])
def list_bands(request: AuthedRequest, plan_id: int, rule_id: int) -> list[PlanBand]:
    return list(
        selectors.get_rule(actor=request.auth, plan_id=plan_id, rule_id=rule_id).bands.all()
    )


@router.put("/discount-plans/{plan_id}/rules/{rule_id}/bands", response=list[PlanBandOut])
def set_bands(
    request: AuthedRequest, plan_id: int, rule_id: int, payload: list[PlanBandIn]
) -> list[PlanBand]:
    rule = services.set_bands(
        actor=request.auth,
        now=now(),
        plan_id=plan_id,
        rule_id=rule_id,
        bands=[dict(b) for b in payload],
    )
    return list(rule.bands.all())


# --------------------------------------------------------------------------------------------
# Assignments


class PlanAssignmentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    plan: int
    valid_from: dt.datetime | None = Field(None, description="Default: now")
    valid_to: dt.datetime | None = Field(None, description="Exclusive; null: open-ended")


class PlanAssignmentOut(Schema):
    id: int
    plan: int = Field(alias="plan_id")
    plan_name: str
    product: int | None = Field(None, alias="product_id")
    account: int | None = Field(None, alias="account_id")
    customer: int | None = Field(None, alias="customer_id")
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_plan_name(obj: PlanAssignment) -> str:
        return obj.plan.name


class PlanAssignmentPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PlanAssignmentOut]


class AppliedPlanOut(Schema):
    source: str = Field(description="account | addon | main | customer")
    precedence: int
    assignment: PlanAssignmentOut
    plan: DiscountPlanOut


class AppliedPlanFilters(Schema):
    at: dt.datetime | None = Field(None, description="Default: now")


@router.get("/discount-plans/{plan_id}/assignments", response=PlanAssignmentPage)
def list_plan_assignments(
    request: AuthedRequest, plan_id: int, filters: Query[PlanPaging]
) -> dict[str, Any]:
    return _page(selectors.plan_assignments(actor=request.auth, plan_id=plan_id), filters)


@router.get("/products/{product_id}/discount-plans", response=PlanAssignmentPage)
def list_product_plans(
    request: AuthedRequest, product_id: int, filters: Query[PlanPaging]
) -> dict[str, Any]:
    return _page(selectors.product_assignments(actor=request.auth, product_id=product_id), filters)


@router.post("/products/{product_id}/discount-plans", response={201: PlanAssignmentOut})
def assign_to_product(
    request: AuthedRequest, product_id: int, payload: PlanAssignmentIn
) -> Status[PlanAssignment]:
    assignment = services.assign_to_product(
        actor=request.auth, now=now(), product_id=product_id, data=_data(payload)
    )
    return Status(201, assignment)


@router.get("/accounts/{account_id}/discount-plans", response=PlanAssignmentPage)
def list_account_plans(
    request: AuthedRequest, account_id: int, filters: Query[PlanPaging]
) -> dict[str, Any]:
    return _page(selectors.account_assignments(actor=request.auth, account_id=account_id), filters)


@router.post("/accounts/{account_id}/discount-plans", response={201: PlanAssignmentOut})
def assign_to_account(
    request: AuthedRequest, account_id: int, payload: PlanAssignmentIn
) -> Status[PlanAssignment]:
    assignment = services.assign_to_account(
        actor=request.auth, now=now(), account_id=account_id, data=_data(payload)
    )
    return Status(201, assignment)


@router.get("/accounts/{account_id}/applied-discount-plans", response=list[AppliedPlanOut])
def applied_plans(
    request: AuthedRequest, account_id: int, filters: Query[AppliedPlanFilters]
) -> list[dict[str, Any]]:
    """The plans in force for the account, in the order quotas and wallets are consumed:
    the account's own, its add-ons' (highest precedence first), its main product's, its
    customer's."""
    applied = selectors.account_plans(
        actor=request.auth, account_id=account_id, at=filters.at or now()
    )
    return [_applied(a) for a in applied]


def _applied(a: AppliedPlan) -> dict[str, Any]:
    return {
        "source": a.source,
        "precedence": a.precedence,
        "assignment": a.assignment,
        "plan": a.plan,
    }


@router.get("/customers/{customer_id}/discount-plans", response=PlanAssignmentPage)
def list_customer_plans(
    request: AuthedRequest, customer_id: int, filters: Query[PlanPaging]
) -> dict[str, Any]:
    qs = selectors.customer_assignments(actor=request.auth, customer_id=customer_id)
    return _page(qs, filters)


@router.post("/customers/{customer_id}/discount-plans", response={201: PlanAssignmentOut})
def assign_to_customer(
    request: AuthedRequest, customer_id: int, payload: PlanAssignmentIn
) -> Status[PlanAssignment]:
    assignment = services.assign_to_customer(
        actor=request.auth, now=now(), customer_id=customer_id, data=_data(payload)
    )
    return Status(201, assignment)


@router.get("/discount-plan-assignments/{assignment_id}", response=PlanAssignmentOut)
def get_assignment(request: AuthedRequest, assignment_id: int) -> PlanAssignment:
    return selectors.get_assignment(actor=request.auth, assignment_id=assignment_id)


@router.delete(
    "/discount-plan-assignments/{assignment_id}", response={200: PlanAssignmentOut, 204: None}
)
def unassign(request: AuthedRequest, assignment_id: int) -> Status[PlanAssignment | None]:
    """Ends the assignment now (200 with it); one not yet started is removed (204)."""
    ended = services.unassign(actor=request.auth, now=now(), assignment_id=assignment_id)
    if ended is None:
        return Status(204, None)
    return Status(200, ended)


# --------------------------------------------------------------------------------------------
# Counters and wallets (read-only), wallet top-ups


class PlanCounterPeriodOut(Schema):
    period_start: dt.datetime
    period_end: dt.datetime | None
    expires_at: dt.datetime | None
    volume: Decimal | None
    used: Decimal


class PlanWalletEntryOut(Schema):
    id: int
    kind: str
    amount: Decimal
    balance_after: Decimal
    created_at: dt.datetime


class PlanUsageOut(Schema):
    plan: int
    plan_name: str
    source: str = Field(description="account | addon | main | customer")
    rule: int
    kind: str
    service: str
    destination_group: int | None
    peak_scope: str
    measure: str
    holder_account: int | None = Field(description="null: the customer's own counters")
    used: Decimal = Field(description="This period's counter (a quota: its usable periods)")
    volume: Decimal | None = Field(description="A quota's free volume; null: unlimited")
    remaining: Decimal | None
    current_percent: Decimal | None = Field(description="A discount's band now")
    expires_at: dt.datetime | None
    wallet: int | None
    wallet_balance: Decimal | None
    periods: list[PlanCounterPeriodOut] = Field(description="The counter's periods, newest first")
    wallet_entries: list[PlanWalletEntryOut]


def _usage_out(u: selectors.RuleUsage) -> dict[str, Any]:
    rule = u.rule
    band = u.current_band if rule.kind == "discount" else None
    balance = None
    if rule.kind == "wallet":
        balance = u.wallet.balance if u.wallet is not None else rule.initial_volume
    return {
        "plan": u.applied.plan.pk,
        "plan_name": u.applied.plan.name,
        "source": u.applied.source,
        "rule": rule.pk,
        "kind": rule.kind,
        "service": rule.service_id,
        "destination_group": rule.destination_group_id,
        "peak_scope": rule.peak_scope,
        "measure": rule.measure,
        "holder_account": u.account.pk if u.account is not None else None,
        "used": u.used,
        "volume": u.volume,
        "remaining": u.left,
        "current_percent": band.percent if band is not None else None,
        "expires_at": u.expires_at,
        "wallet": u.wallet.pk if u.wallet is not None else None,
        "wallet_balance": balance,
        "periods": u.history,
        "wallet_entries": u.entries,
    }


@router.get("/accounts/{account_id}/plan-counters", response=list[PlanUsageOut])
def account_counters(
    request: AuthedRequest, account_id: int, filters: Query[AppliedPlanFilters]
) -> list[dict[str, Any]]:
    """Every rule in force for the account (its plans, its products', its customer's) in
    consumption order, with its counter, quota volume left and wallet balance."""
    usage = selectors.account_usage(
        actor=request.auth, account_id=account_id, at=filters.at or now()
    )
    return [_usage_out(u) for u in usage]


@router.get("/customers/{customer_id}/plan-counters", response=list[PlanUsageOut])
def customer_counters(
    request: AuthedRequest, customer_id: int, filters: Query[AppliedPlanFilters]
) -> list[dict[str, Any]]:
    """The rules of the plans assigned to the customer itself, with its own counters."""
    usage = selectors.customer_usage(
        actor=request.auth, customer_id=customer_id, at=filters.at or now()
    )
    return [_usage_out(u) for u in usage]


class WalletTopUpIn(Schema):
    model_config = ConfigDict(extra="forbid")
    rule: int = Field(description="The wallet rule (a plan in force for the holder)")
    amount: str = Field(description="Money, or units for a unit wallet (> 0)")
    source: str = Field(description="balance | card | credit (as the rule allows)")
    price: str | None = Field(None, description="A card top-up: the price charged")
    comment: str | None = None


class WalletTopUpOut(Schema):
    wallet: int = Field(alias="wallet_id")
    entry: int = Field(alias="id")
    kind: str
    amount: Decimal
    balance_after: Decimal
    transaction: int | None = Field(None, alias="transaction_id")


def _top_up_data(payload: WalletTopUpIn, request: AuthedRequest) -> dict[str, Any]:
    data = _data(payload)
    data.pop("rule", None)
    key = request.headers.get("Idempotency-Key")
    if key:
        data["idempotency_key"] = key[:200]
    return data


@router.post("/accounts/{account_id}/wallet-top-ups", response={201: WalletTopUpOut})
def account_top_up(request: AuthedRequest, account_id: int, payload: WalletTopUpIn) -> Status[Any]:
    """Top up the account's wallet of a rule (of a plan on the account or its products):
    from the balance (a transfer), a card (a payment into the wallet) or a credit. The
    ``Idempotency-Key`` header makes a retry return the first result."""
    entry = wallets.top_up(
        actor=request.auth,
        now=now(),
        rule_id=payload.rule,
        account_id=account_id,
        data=_top_up_data(payload, request),
    )
    return Status(201, entry)


@router.post("/customers/{customer_id}/wallet-top-ups", response={201: WalletTopUpOut})
def customer_top_up(
    request: AuthedRequest, customer_id: int, payload: WalletTopUpIn
) -> Status[Any]:
    """Top up the customer's own wallet of a rule (of a plan assigned to the customer)."""
    entry = wallets.top_up(
        actor=request.auth,
        now=now(),
        rule_id=payload.rule,
        customer_id=customer_id,
        data=_top_up_data(payload, request),
    )
    return Status(201, entry)
