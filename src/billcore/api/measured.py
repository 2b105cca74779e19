"""Measured services (issue 14; CC-22, CU-13): a class's defaults at
``/api/v1/customer-classes/{id}/measured-services``, a customer's effective definitions,
overrides, samples and charges at ``/api/v1/customers/{id}/measured-services``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.errors import ValidationFailed
from billcore.measured import selectors, services
from billcore.measured.models import MeasuredCharge, MeasuredService, Metric

router = Router(tags=["measured services"])


class MeasuredIn(Schema):
    """The fields to set; those left out keep their value (a new customer override starts
    from the class's definition, a new class definition from the defaults)."""

    model_config = ConfigDict(extra="forbid")
    apply_charge: bool | None = Field(None, description="false = statistics only")
    charge_basis: str | None = Field(None, description="average | maximum | minimum")
    price: str | None = Field(None, description="Decimal string: price per item (≥ 0)")
    free_items: str | None = Field(None, description="Decimal string: items not charged (≥ 0)")
    rate_code: str | None = Field(None, description="Shown with the charge")
    service: str | None = Field(None, description="A catalogue service code, or empty")
    configured_limit: int | None = Field(
        None, description="Concurrent calls only: the simultaneous-call limit sampled daily"
    )


class MeasuredOut(Schema):
    metric: str
    label: str
    apply_charge: bool
    charge_basis: str
    price: Decimal
    free_items: Decimal
    rate_code: str
    service: str
    configured_limit: int | None
    updated_at: dt.datetime

    @staticmethod
    def resolve_label(obj: MeasuredService) -> str:
        return Metric(obj.metric).label


class ClassMetricOut(Schema):
    metric: str
    label: str
    definition: MeasuredOut | None = Field(description="null: the class does not measure it")


class MeasuredEffectiveOut(Schema):
    metric: str
    label: str
    source: str = Field(description="customer (an override) | class (inherited) | none")
    samples: int = Field(description="Samples kept for the customer")
    definition: MeasuredOut | None


class SampleOut(Schema):
    metric: str
    taken_at: dt.datetime = Field(description="The slot's start")
    value: int


class SamplePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SampleOut]


class SampleFilters(Schema):
    metric: str | None = Field(None, description="active_calls | concurrent_calls | pbx_extensions")
    since: dt.datetime | None = None
    until: dt.datetime | None = Field(None, description="Exclusive")
    limit: int = Field(500, ge=1, le=5000)
    offset: int = Field(0, ge=0)


class MeasuredChargeOut(Schema):
    metric: str
    period_start: dt.datetime
    period_end: dt.datetime
    charge_basis: str
    samples: int
    statistic: Decimal
    free_items: Decimal
    quantity: Decimal
    price: Decimal
    amount: Decimal
    rate_code: str
    service: str
    transaction: int = Field(alias="transaction_id")
    invoice: int | None = None

    @staticmethod
    def resolve_invoice(obj: MeasuredCharge) -> int | None:
        return obj.transaction.invoice_id


class ChargePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[MeasuredChargeOut]


class PageFilters(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@router.get("/customer-classes/{class_id}/measured-services", response=list[ClassMetricOut])
def class_services(request: AuthedRequest, class_id: int) -> list[dict[str, Any]]:
    return [
        {"metric": m, "label": Metric(m).label, "definition": d}
        for m, d in selectors.class_services(actor=request.auth, class_id=class_id)
    ]


@router.put("/customer-classes/{class_id}/measured-services/{metric}", response=MeasuredOut)
def set_class_service(
    request: AuthedRequest, class_id: int, metric: str, payload: MeasuredIn
) -> MeasuredService:
    return services.set_class_service(
        actor=request.auth,
        now=now(),
        class_id=class_id,
        metric=metric,
        data=payload.model_dump(exclude_unset=True),
    )


@router.delete("/customer-classes/{class_id}/measured-services/{metric}", response={204: None})
def delete_class_service(request: AuthedRequest, class_id: int, metric: str) -> Status[None]:
    services.delete_class_service(actor=request.auth, now=now(), class_id=class_id, metric=metric)
    return Status(204, None)


@router.get("/customers/{customer_id}/measured-services", response=list[MeasuredEffectiveOut])
def customer_services(request: AuthedRequest, customer_id: int) -> list[dict[str, Any]]:
    return [
        {
            "metric": e.metric,
            "label": e.label,
            "source": "none" if e.definition is None else ("class" if e.inherited else "customer"),
            "samples": e.samples,
            "definition": e.definition,
        }
        for e in selectors.customer_services(actor=request.auth, customer_id=customer_id)
    ]


# Declared before ``…/{metric}``: the fixed paths resolve first.
@router.get("/customers/{customer_id}/measured-services/samples", response=SamplePage)
def customer_samples(
    request: AuthedRequest, customer_id: int, filters: Query[SampleFilters]
) -> dict[str, Any]:
    if filters.metric is not None:
        services.as_metric(filters.metric)
    if filters.since and filters.until and filters.until <= filters.since:
        raise ValidationFailed("until must be after since", field="until")
    qs = selectors.customer_samples(
        actor=request.auth,
        customer_id=customer_id,
        metric=filters.metric,
        since=filters.since,
        until=filters.until,
    )
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.get("/customers/{customer_id}/measured-services/charges", response=ChargePage)
def customer_charges(
    request: AuthedRequest, customer_id: int, filters: Query[PageFilters]
) -> dict[str, Any]:
    qs = selectors.customer_charges(actor=request.auth, customer_id=customer_id).select_related(
        "transaction"
    )
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.put("/customers/{customer_id}/measured-services/{metric}", response=MeasuredOut)
def set_customer_service(
    request: AuthedRequest, customer_id: int, metric: str, payload: MeasuredIn
) -> MeasuredService:
    return services.set_customer_service(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        metric=metric,
        data=payload.model_dump(exclude_unset=True),
    )


@router.delete("/customers/{customer_id}/measured-services/{metric}", response={204: None})
def delete_customer_service(request: AuthedRequest, customer_id: int, metric: str) -> Status[None]:
    services.delete_customer_service(
        actor=request.auth, now=now(), customer_id=customer_id, metric=metric
    )
    return Status(204, None)
