"""``/api/v1/dids``, ``/api/v1/did-batches`` (pricing batches), ``/api/v1/did-groups``,
``/api/v1/did-vendor-batches`` and ``/api/v1/customers/{id}/dids`` (issue 14, CU-13 DIDs
tab; rating-and-tabs.md §3.1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.dids import selectors, services
from billcore.dids.importer import import_csv
from billcore.dids.models import Did, DidAssignment, DidGroup, DidStatus, PricingBatch
from billcore.errors import ValidationFailed
from billcore.validation import blank_is_none

router = Router(tags=["dids"])


class DidFields(Schema):
    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    country: str | None = Field(None, description="ISO 3166 alpha-2, -- for none")
    area: str | None = None
    vendor_batch: str | None = Field(None, description="Vendor batch name (created when new)")
    activation_cost: str | None = Field(None, description="Supplier's activation cost")
    periodic_cost: str | None = Field(None, description="Supplier's monthly cost")
    currency: str | None = None
    free_of_charge: bool | None = None
    group: int | str | None = Field(None, description="DID group id or name")
    pricing_batch: int | str | None = Field(None, description="Pricing batch id or name")
    frozen: bool | None = Field(None, description="Kept aside: cannot be assigned")


class DidCreate(DidFields):
    number: str
    vendor_batch: str | None = None
    currency: str | None = None


class DidOut(Schema):
    id: int
    number: str
    description: str
    country: str
    area: str
    vendor_batch: str
    activation_cost: Decimal
    periodic_cost: Decimal
    currency: str = Field(alias="currency_id")
    free_of_charge: bool
    status: str
    group: int | None = Field(None, alias="group_id")
    pricing_batch: int | None = Field(None, alias="pricing_batch_id")
    customer: int | None = Field(None, alias="customer_id")
    account: int | None = Field(None, alias="account_id")
    assigned_at: dt.datetime | None
    released_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_vendor_batch(obj: Did) -> str:
        return obj.vendor_batch.name


class DidPage(Schema):
    count: int
    limit: int
    offset: int
    counts: dict[str, int]
    items: list[DidOut]


class DidFilters(Schema):
    search: str = Field("", description="Digits or letters (keypad), or a pattern: % _ * ?")
    status: Annotated[DidStatus | None, BeforeValidator(blank_is_none)] = None
    customer: int | None = None
    group: int | None = None
    vendor_batch: int | None = None
    pricing_batch: int | None = None
    country: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class DidAssignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    did: int
    account: int | None = None


class DidAccountIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account: int | None = Field(description="The customer's account; null = the customer")


class DidAssignmentOut(Schema):
    id: int
    did: int = Field(alias="did_id")
    number: str
    customer: int = Field(alias="customer_id")
    account: int | None = Field(None, alias="account_id")
    pricing_batch: int | None = Field(None, alias="pricing_batch_id")
    assigned_at: dt.datetime
    released_at: dt.datetime | None
    activation_price: Decimal
    recurring_price: Decimal
    charged_to: dt.datetime | None

    @staticmethod
    def resolve_number(obj: DidAssignment) -> str:
        return obj.did.number


class DidBatchFields(Schema):
    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    free_of_charge: bool | None = None
    currency: str | None = None
    additional_activation_fee: str | None = None
    additional_recurring_fee: str | None = None
    recurring_markup_percent: str | None = None


class DidBatchCreate(DidBatchFields):
    name: str


class DidBatchPatch(DidBatchFields):
    name: str | None = None


class DidBatchOut(Schema):
    id: int
    name: str
    description: str
    free_of_charge: bool
    currency: str | None = Field(None, alias="currency_id")
    additional_activation_fee: Decimal
    additional_recurring_fee: Decimal
    recurring_markup_percent: Decimal
    created_at: dt.datetime
    updated_at: dt.datetime


class DidGroupIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None


class DidGroupOut(Schema):
    id: int
    name: str
    description: str


class DidVendorBatchOut(Schema):
    id: int
    name: str
    description: str


class DidImportError(Schema):
    line: int
    field: str
    message: str


class DidImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    errors: list[DidImportError]


class DidImportFilters(Schema):
    currency: str | None = Field(None, description="For lines without a currency column")


def _data(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


@router.get("/dids", response=DidPage)
def list_dids(request: AuthedRequest, filters: Query[DidFilters]) -> dict[str, Any]:
    qs = selectors.list_dids(
        actor=request.auth,
        search=filters.search,
        status=filters.status,
        customer=filters.customer,
        group=filters.group,
        vendor_batch=filters.vendor_batch,
        pricing_batch=filters.pricing_batch,
        country=filters.country,
    )
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "counts": selectors.status_counts(actor=request.auth),
        "items": items,
    }


@router.post("/dids", response={201: DidOut})
def create_did(request: AuthedRequest, payload: DidCreate) -> Status[Did]:
    did = services.create_did(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, selectors.get_did(actor=request.auth, did_id=did.pk))


def _upload(request: AuthedRequest) -> bytes:
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/form-data"):
        try:
            part = request.FILES.get("file")
        except (MultiPartParserError, SuspiciousOperation) as exc:
            raise ValidationFailed(f"file: malformed upload: {exc}", field="file") from exc
        if part is None:
            raise ValidationFailed("file: the form has no 'file' part", field="file")
        return bytes(part.read())
    return bytes(request.body)


@router.post(
    "/dids/import",
    response=DidImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def import_dids(request: AuthedRequest, filters: Query[DidImportFilters]) -> dict[str, Any]:
    """Upload numbers as CSV (``text/csv`` body or a multipart form's ``file``); the columns
    are in docs/dids.md. Good lines are saved, refused ones reported with their line."""
    result = import_csv(
        actor=request.auth, now=now(), content=_upload(request), currency=filters.currency
    )
    return result.as_dict()


@router.get("/dids/{did_id}", response=DidOut)
def get_did(request: AuthedRequest, did_id: int) -> Did:
    return selectors.get_did(actor=request.auth, did_id=did_id)


@router.patch("/dids/{did_id}", response=DidOut)
def update_did(request: AuthedRequest, did_id: int, payload: DidFields) -> Did:
    services.update_did(actor=request.auth, now=now(), did_id=did_id, changes=_data(payload))
    return selectors.get_did(actor=request.auth, did_id=did_id)


@router.delete("/dids/{did_id}", response={204: None})
def delete_did(request: AuthedRequest, did_id: int) -> Status[None]:
    services.delete_did(actor=request.auth, now=now(), did_id=did_id)
    return Status(204, None)


@router.put("/dids/{did_id}/account", response=DidOut)
def move_did(request: AuthedRequest, did_id: int, payload: DidAccountIn) -> Did:
    services.assign_to_account(
        actor=request.auth, now=now(), did_id=did_id, account_id=payload.account
    )
    return selectors.get_did(actor=request.auth, did_id=did_id)


@router.post("/dids/{did_id}/release", response=DidOut)
def release_did(request: AuthedRequest, did_id: int) -> Did:
    services.release(actor=request.auth, now=now(), did_id=did_id)
    return selectors.get_did(actor=request.auth, did_id=did_id)


@router.get("/customers/{customer_id}/dids", response=list[DidAssignmentOut])
def customer_dids(request: AuthedRequest, customer_id: int) -> list[DidAssignment]:
    from billcore.customers.selectors import get_customer

    get_customer(actor=request.auth, customer_id=customer_id)
    return list(selectors.customer_assignments(actor=request.auth, customer_id=customer_id))


@router.post("/customers/{customer_id}/dids", response={201: DidAssignmentOut})
def assign_did(
    request: AuthedRequest, customer_id: int, payload: DidAssignIn
) -> Status[DidAssignment]:
    assignment = services.assign(
        actor=request.auth,
        now=now(),
        did_id=payload.did,
        customer_id=customer_id,
        account_id=payload.account,
    )
    return Status(201, assignment)


@router.get("/did-batches", response=list[DidBatchOut])
def list_batches(request: AuthedRequest) -> list[PricingBatch]:
    return list(selectors.list_pricing_batches(actor=request.auth))


@router.post("/did-batches", response={201: DidBatchOut})
def create_batch(request: AuthedRequest, payload: DidBatchCreate) -> Status[PricingBatch]:
    return Status(
        201, services.create_pricing_batch(actor=request.auth, now=now(), data=_data(payload))
    )


@router.get("/did-batches/{batch_id}", response=DidBatchOut)
def get_batch(request: AuthedRequest, batch_id: int) -> PricingBatch:
    return selectors.get_pricing_batch(actor=request.auth, batch_id=batch_id)


@router.patch("/did-batches/{batch_id}", response=DidBatchOut)
def update_batch(request: AuthedRequest, batch_id: int, payload: DidBatchPatch) -> PricingBatch:
    return services.update_pricing_batch(
        actor=request.auth, now=now(), batch_id=batch_id, changes=_data(payload)
    )


@router.delete("/did-batches/{batch_id}", response={204: None})
def delete_batch(request: AuthedRequest, batch_id: int) -> Status[None]:
    services.delete_pricing_batch(actor=request.auth, now=now(), batch_id=batch_id)
    return Status(204, None)


@router.get("/did-groups", response=list[DidGroupOut])
def list_groups(request: AuthedRequest) -> list[DidGroup]:
    return list(selectors.list_groups(actor=request.auth))


@router.post("/did-groups", response={201: DidGroupOut})
def create_group(request: AuthedRequest, payload: DidGroupIn) -> Status[DidGroup]:
    return Status(201, services.create_group(actor=request.auth, now=now(), data=_data(payload)))


@router.patch("/did-groups/{group_id}", response=DidGroupOut)
def update_group(request: AuthedRequest, group_id: int, payload: DidGroupIn) -> DidGroup:
    return services.update_group(
        actor=request.auth, now=now(), group_id=group_id, changes=_data(payload)
    )


@router.delete("/did-groups/{group_id}", response={204: None})
def delete_group(request: AuthedRequest, group_id: int) -> Status[None]:
    services.delete_group(actor=request.auth, now=now(), group_id=group_id)
    return Status(204, None)


@router.get("/did-vendor-batches", response=list[DidVendorBatchOut])
def list_vendor_batches(request: AuthedRequest) -> list[Any]:
    return list(selectors.list_vendor_batches(actor=request.auth))
