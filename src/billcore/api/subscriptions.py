"""``/api/v1/subscription-plans``, ``/api/v1/customers/{id}/subscriptions`` and
``/api/v1/subscriptions/{id}`` (issue 5 §3, CU-13 Subscriptions tab)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.subscriptions import selectors, services
from billcore.subscriptions.models import Subscription, SubscriptionPlan, SubscriptionStatus
from billcore.validation import blank_is_none

router = Router(tags=["subscriptions"])


class PlanFields(Schema):
    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    managed_by: int | None = Field(None, description="Reseller id; null = the administrator's")
    in_advance: bool | None = Field(None, description="Charged at the period's start (else end)")
    prorate: bool | None = Field(None, description="A part of a period costs part of the fee")
    charge_while_suspended: bool | None = None
    charge_while_blocked: bool | None = None


class PlanCreate(PlanFields):
    name: str
    currency: str = Field(description="ISO 4217, a currency in use")
    fee: str = Field(description="Decimal string: the fee for one whole billing period")


class PlanPatch(PlanFields):
    name: str | None = None
    currency: str | None = None
    fee: str | None = None


class PlanOut(Schema):
    id: int
    name: str
    description: str
    currency: str = Field(alias="currency_id")
    managed_by: int | None = Field(None, alias="managed_by_id")
    fee: Decimal
    in_advance: bool
    prorate: bool
    charge_while_suspended: bool
    charge_while_blocked: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PlanOut]


class PlanFilters(Schema):
    search: str = ""
    currency: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class SubscriptionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    plan: int
    start_at: dt.datetime = Field(description="With a UTC offset")
    end_at: dt.datetime | None = Field(None, description="Exclusive; null = open-ended")


class SubscriptionPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    end_at: dt.datetime | None = Field(description="Exclusive; null = open-ended again")


class SubscriptionOut(Schema):
    id: int
    customer: int = Field(alias="customer_id")
    plan: int = Field(alias="plan_id")
    plan_name: str
    fee: Decimal
    currency: str
    start_at: dt.datetime
    end_at: dt.datetime | None
    status: str
    charged_to: dt.datetime | None = Field(
        None, description="Every fee before this instant is charged (or skipped)"
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_plan_name(obj: Subscription) -> str:
        return obj.plan.name

    @staticmethod
    def resolve_fee(obj: Subscription) -> Decimal:
        fee: Decimal = obj.plan.fee
        return fee

    @staticmethod
    def resolve_currency(obj: Subscription) -> str:
        return obj.plan.currency_id


class SubscriptionPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SubscriptionOut]


class SubscriptionFilters(Schema):
    status: Annotated[SubscriptionStatus | None, BeforeValidator(blank_is_none)] = Field(
        None, description="active | waiting_for_funds | ended"
    )
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@router.get("/subscription-plans", response=PlanPage)
def list_plans(request: AuthedRequest, filters: Query[PlanFilters]) -> dict[str, Any]:
    qs = selectors.list_plans(actor=request.auth, search=filters.search, currency=filters.currency)
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.post("/subscription-plans", response={201: PlanOut})
def create_plan(request: AuthedRequest, payload: PlanCreate) -> Status[SubscriptionPlan]:
    data = payload.model_dump(exclude_unset=True)
    return Status(201, services.create_plan(actor=request.auth, now=now(), data=data))


@router.get("/subscription-plans/{plan_id}", response=PlanOut)
def get_plan(request: AuthedRequest, plan_id: int) -> SubscriptionPlan:
    return selectors.get_plan(actor=request.auth, plan_id=plan_id)


@router.patch("/subscription-plans/{plan_id}", response=PlanOut)
def update_plan(request: AuthedRequest, plan_id: int, payload: PlanPatch) -> SubscriptionPlan:
    return services.update_plan(
        actor=request.auth,
        now=now(),
        plan_id=plan_id,
        changes=payload.model_dump(exclude_unset=True),
    )


@router.delete("/subscription-plans/{plan_id}", response={204: None})
def delete_plan(request: AuthedRequest, plan_id: int) -> Status[None]:
    services.delete_plan(actor=request.auth, now=now(), plan_id=plan_id)
    return Status(204, None)


@router.get("/customers/{customer_id}/subscriptions", response=SubscriptionPage)
def list_subscriptions(
    request: AuthedRequest, customer_id: int, filters: Query[SubscriptionFilters]
) -> dict[str, Any]:
    qs = selectors.customer_subscriptions(
        actor=request.auth, customer_id=customer_id, status=filters.status
    )
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.post("/customers/{customer_id}/subscriptions", response={201: SubscriptionOut})
def subscribe(
    request: AuthedRequest, customer_id: int, payload: SubscriptionIn
) -> Status[Subscription]:
    sub = services.subscribe(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        data=payload.model_dump(exclude_unset=True),
    )
    return Status(201, selectors.get_subscription(actor=request.auth, subscription_id=sub.pk))


@router.get("/subscriptions/{subscription_id}", response=SubscriptionOut)
def get_subscription(request: AuthedRequest, subscription_id: int) -> Subscription:
    return selectors.get_subscription(actor=request.auth, subscription_id=subscription_id)


@router.patch("/subscriptions/{subscription_id}", response=SubscriptionOut)
def end_subscription(
    request: AuthedRequest, subscription_id: int, payload: SubscriptionPatch
) -> Subscription:
    sub = services.end_subscription(
        actor=request.auth, now=now(), subscription_id=subscription_id, end_at=payload.end_at
    )
    return selectors.get_subscription(actor=request.auth, subscription_id=sub.pk)
