"""``/api/v1/customer-classes``: list, create, get, patch, delete, copy (CC-01 … CC-22)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.classes import selectors, services
from billcore.classes.models import CustomerClass

router = Router(tags=["customer classes"])


class TaxOut(Schema):
    name: str
    rate: Decimal


class TaxIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    rate: str


class ClassFields(Schema):
    """Settable fields. Money and rates are decimal strings."""

    model_config = ConfigDict(extra="forbid")
    business_model: int | None = None
    currency: str | None = Field(None, description="ISO 4217; set at creation only (CC-06)")
    managed_by: int | None = Field(None, description="Reseller id; null = Administrator only")
    description: str | None = None
    notification_from_override: bool | None = None
    notification_from_name: str | None = None
    notification_from_address: str | None = None
    taxation_method: str | None = None
    generate_statistics: bool | None = None
    send_statistics: str | None = None
    postpaid_billed_externally: bool | None = None
    reset_balance_every_period: bool | None = None
    hide_balance_reset_xdr: bool | None = None
    generate_regular_invoices: bool | None = None
    separate_recurring_fee_invoice: bool | None = None
    allow_out_of_turn_invoices: bool | None = None
    generate_financial_documentation: bool | None = None
    invoice_rounding: str | None = None
    invoice_rounding_pattern: str | None = None
    period_close: str | None = None
    approval_max_days: int | None = None
    suspend_on_insufficient_funds: bool | None = None
    termination_delay_days: int | None = None
    s2s_transfers_allowed: bool | None = None
    fraud_daily_limit: str | None = None
    fraud_action: str | None = None
    grace_period_days: int | None = None
    invoice_template: str | None = None
    send_invoices_by_email: bool | None = None
    auto_charge_invoices: bool | None = None
    out_of_turn_grace_period_days: int | None = None
    out_of_turn_invoice_template: str | None = None
    notifications: list[str] | None = None
    mandatory_custom_fields: list[str] | None = None
    vat_rate: str | None = None
    vat_inclusive: bool | None = None
    taxes: list[TaxIn] | None = None
    tax_prepaid_at_payment: bool | None = None
    measured_service_enabled: bool | None = None
    measured_service_unit: str | None = None
    measured_service_quota: str | None = None
    measured_service_overage_rate: str | None = None
    # Collections (Regular Invoices / Out-of-Turn Invoices tabs, docs/lifecycle.md): each
    # step is off while its "after days" is null.
    reminder_days_before_due: int | None = None
    late_fee_after_days: int | None = None
    late_fee_amount: str | None = None
    late_fee_notice_days: int | None = None
    suspend_after_days: int | None = None
    suspend_notice_days: int | None = None
    terminate_after_days: int | None = None
    terminate_notice_days: int | None = None
    oot_reminder_days_before_due: int | None = None
    oot_late_fee_after_days: int | None = None
    oot_late_fee_amount: str | None = None
    oot_late_fee_notice_days: int | None = None
    oot_suspend_after_days: int | None = None
    oot_suspend_notice_days: int | None = None
    oot_terminate_after_days: int | None = None
    oot_terminate_notice_days: int | None = None
    reactivation_fee: str | None = Field(
        None, description="Charged when an overdue-invoice suspension lifts"
    )
    low_funds_threshold: str | None = Field(
        None, description="The low-funds notification below this amount"
    )


class ClassCreate(ClassFields):
    name: str


class ClassPatch(ClassFields):
    name: str | None = None


class ClassCopy(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str


class ClassOut(Schema):
    id: int
    name: str
    is_default: bool
    business_model: int | None = Field(None, alias="business_model_id")
    currency: str | None = Field(None, alias="currency_id")
    managed_by: int | None = Field(None, alias="managed_by_id")
    description: str
    notification_from_override: bool
    notification_from_name: str
    notification_from_address: str
    taxation_method: str
    generate_statistics: bool
    send_statistics: str
    postpaid_billed_externally: bool
    reset_balance_every_period: bool
    hide_balance_reset_xdr: bool
    generate_regular_invoices: bool
    separate_recurring_fee_invoice: bool
    allow_out_of_turn_invoices: bool
    generate_financial_documentation: bool
    invoice_rounding: str
    invoice_rounding_pattern: str
    period_close: str
    approval_max_days: int | None
    suspend_on_insufficient_funds: bool
    termination_delay_days: int
    s2s_transfers_allowed: bool
    fraud_daily_limit: Decimal | None
    fraud_action: str
    grace_period_days: int
    invoice_template: str
    send_invoices_by_email: bool
    auto_charge_invoices: bool
    out_of_turn_grace_period_days: int
    out_of_turn_invoice_template: str
    notifications: list[str]
    mandatory_custom_fields: list[str]
    vat_rate: Decimal | None
    vat_inclusive: bool
    taxes: list[TaxOut]
    tax_prepaid_at_payment: bool
    measured_service_enabled: bool
    measured_service_unit: str
    measured_service_quota: Decimal | None
    measured_service_overage_rate: Decimal | None
    reminder_days_before_due: int | None
    late_fee_after_days: int | None
    late_fee_amount: Decimal | None
    late_fee_notice_days: int
    suspend_after_days: int | None
    suspend_notice_days: int
    terminate_after_days: int | None
    terminate_notice_days: int
    oot_reminder_days_before_due: int | None
    oot_late_fee_after_days: int | None
    oot_late_fee_amount: Decimal | None
    oot_late_fee_notice_days: int
    oot_suspend_after_days: int | None
    oot_suspend_notice_days: int
    oot_terminate_after_days: int | None
    oot_terminate_notice_days: int
    reactivation_fee: Decimal | None
    low_funds_threshold: Decimal | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_mandatory_custom_fields(obj: CustomerClass) -> list[str]:
        return [cf.name for cf in obj.mandatory_custom_fields.all()]


class ClassPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ClassOut]


class ClassFilters(Schema):
    search: str = Field("", description="Part of the name or description")
    currency: str | None = None
    managed_by: int | None = None
    admin_only: bool = False
    order: str = Field("name", description="Field to sort by; prefix - for descending")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _dump(payload: Schema) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    return data


@router.get("", response=ClassPage)
def list_classes(request: AuthedRequest, filters: Query[ClassFilters]) -> dict[str, Any]:
    qs = selectors.list_classes(
        actor=request.auth,
        search=filters.search,
        currency=filters.currency,
        managed_by=filters.managed_by,
        admin_only=filters.admin_only,
        order=filters.order,
    )
    items = list(
        qs.prefetch_related("mandatory_custom_fields")[
            filters.offset : filters.offset + filters.limit
        ]
    )
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.post("", response={201: ClassOut})
def create_class(request: AuthedRequest, payload: ClassCreate) -> Status[CustomerClass]:
    return Status(201, services.create_class(actor=request.auth, now=now(), data=_dump(payload)))


@router.get("/{class_id}", response=ClassOut)
def get_class(request: AuthedRequest, class_id: int) -> CustomerClass:
    return selectors.get_class(actor=request.auth, class_id=class_id)


@router.patch("/{class_id}", response=ClassOut)
def update_class(request: AuthedRequest, class_id: int, payload: ClassPatch) -> CustomerClass:
    return services.update_class(
        actor=request.auth, now=now(), class_id=class_id, changes=_dump(payload)
    )


@router.delete("/{class_id}", response={204: None})
def delete_class(request: AuthedRequest, class_id: int) -> Status[None]:
    services.delete_class(actor=request.auth, now=now(), class_id=class_id)
    return Status(204, None)


@router.post("/{class_id}/copy", response={201: ClassOut})
def copy_class(request: AuthedRequest, class_id: int, payload: ClassCopy) -> Status[Any]:
    """CC-03 "Save & Add a copy": a new class with every setting of this one."""
    copy = services.copy_class(actor=request.auth, now=now(), class_id=class_id, name=payload.name)
    return Status(201, copy)
