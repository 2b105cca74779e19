"""``/api/v1`` for the rating catalogue (issue 12 §1): ``/services``, ``/destinations``,
``/destination-groups``, ``/offpeak-periods``, ``/tariffs`` with their ``rates`` (and the
CSV upload and download), ``/products`` with their rating ``entries``,
``/accounts/{id}/products`` (main product and add-ons) and
``/customers/{id}/override-tariffs``. Handlers parse, call ``rating.services`` or
``rating.selectors``, and shape the reply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import SuspiciousOperation
from django.http import StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.charging.rerating import rerate
from billcore.errors import NotFound
from billcore.rating import selectors, services
from billcore.rating.models import (
    AccountProduct,
    Destination,
    DestinationGroup,
    OffpeakPeriod,
    OverrideTariff,
    Product,
    ProductKind,
    Rate,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.rating.quote import quote as quote_session
from billcore.validation import blank_is_none

router = Router(tags=["rating"])


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _page(qs: Any, paging: Paging) -> dict[str, Any]:
    items = list(qs[paging.offset : paging.offset + paging.limit])
    return {"count": qs.count(), "limit": paging.limit, "offset": paging.offset, "items": items}


def _data(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


# --------------------------------------------------------------------------------------------
# Services


class ServiceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="Lower-case letters, digits, - and _: what usage carries")
    name: str
    rating_base: str = Field(description="time | data | messages | other")
    base_unit: str | None = Field(
        None,
        description="second (time); mb (default), byte, kb, gb, kib, mib, gib (data); "
        "message; unit",
    )
    description: str = ""


class ServicePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str | None = None
    name: str | None = None
    rating_base: str | None = None
    base_unit: str | None = None
    description: str | None = None


class ServiceOut(Schema):
    id: int
    code: str
    name: str
    rating_base: str
    base_unit: str
    standard: bool = Field(description="One of the four seeded services: read-only")
    description: str


class ServicePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ServiceOut]


class SearchFilters(Paging):
    search: str = ""


@router.get("/services", response=ServicePage)
def list_services(request: AuthedRequest, filters: Query[SearchFilters]) -> dict[str, Any]:
    return _page(selectors.list_services(actor=request.auth, search=filters.search), filters)


@router.post("/services", response={201: ServiceOut})
def create_service(request: AuthedRequest, payload: ServiceIn) -> Status[Service]:
    return Status(201, services.create_service(actor=request.auth, now=now(), data=_data(payload)))


@router.get("/services/{service_id}", response=ServiceOut)
def get_service(request: AuthedRequest, service_id: int) -> Service:
    return selectors.get_service(actor=request.auth, service_id=service_id)


@router.patch("/services/{service_id}", response=ServiceOut)
def update_service(request: AuthedRequest, service_id: int, payload: ServicePatch) -> Service:
    return services.update_service(
        actor=request.auth, now=now(), service_id=service_id, changes=_data(payload)
    )


@router.delete("/services/{service_id}", response={204: None})
def delete_service(request: AuthedRequest, service_id: int) -> Status[None]:
    services.delete_service(actor=request.auth, now=now(), service_id=service_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Destinations and destination groups


class DestinationIn(Schema):
    model_config = ConfigDict(extra="forbid")
    prefix: str = Field(description="Digits, or | for any number")
    country: str = Field("", description="ISO 3166-1 alpha-2")
    description: str = ""


class DestinationPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    prefix: str | None = None
    country: str | None = None
    description: str | None = None


class DestinationOut(Schema):
    id: int
    prefix: str
    country: str
    description: str


class DestinationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[DestinationOut]


class DestinationFilters(Paging):
    prefix: str = Field("", description="Destinations starting with these digits")
    country: str = ""
    search: str = Field("", description="Part of the description")


@router.get("/destinations", response=DestinationPage)
def list_destinations(request: AuthedRequest, filters: Query[DestinationFilters]) -> dict[str, Any]:
    qs = selectors.list_destinations(
        actor=request.auth, prefix=filters.prefix, country=filters.country, search=filters.search
    )
    return _page(qs, filters)


@router.post("/destinations", response={201: DestinationOut})
def create_destination(request: AuthedRequest, payload: DestinationIn) -> Status[Destination]:
    destination = services.create_destination(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, destination)


@router.get("/destinations/{destination_id}", response=DestinationOut)
def get_destination(request: AuthedRequest, destination_id: int) -> Destination:
    return selectors.get_destination(actor=request.auth, destination_id=destination_id)


@router.patch("/destinations/{destination_id}", response=DestinationOut)
def update_destination(
    request: AuthedRequest, destination_id: int, payload: DestinationPatch
) -> Destination:
    return services.update_destination(
        actor=request.auth, now=now(), destination_id=destination_id, changes=_data(payload)
    )


@router.delete("/destinations/{destination_id}", response={204: None})
def delete_destination(request: AuthedRequest, destination_id: int) -> Status[None]:
    services.delete_destination(actor=request.auth, now=now(), destination_id=destination_id)
    return Status(204, None)


class GroupIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    prefixes: list[str] = Field(default_factory=list, description="Prefixes of destinations")


class GroupPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    prefixes: list[str] | None = None


class GroupOut(Schema):
    id: int
    name: str
    description: str
    prefixes: list[str]

    @staticmethod
    def resolve_prefixes(obj: DestinationGroup) -> list[str]:
        return sorted(d.prefix for d in obj.destinations.all())


class GroupPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[GroupOut]


@router.get("/destination-groups", response=GroupPage)
def list_groups(request: AuthedRequest, filters: Query[SearchFilters]) -> dict[str, Any]:
    qs = selectors.list_destination_groups(actor=request.auth, search=filters.search)
    return _page(qs, filters)


@router.post("/destination-groups", response={201: GroupOut})
def create_group(request: AuthedRequest, payload: GroupIn) -> Status[DestinationGroup]:
    group = services.create_destination_group(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, group)


@router.get("/destination-groups/{group_id}", response=GroupOut)
def get_group(request: AuthedRequest, group_id: int) -> DestinationGroup:
    return selectors.get_destination_group(actor=request.auth, group_id=group_id)


@router.patch("/destination-groups/{group_id}", response=GroupOut)
def update_group(request: AuthedRequest, group_id: int, payload: GroupPatch) -> DestinationGroup:
    return services.update_destination_group(
        actor=request.auth, now=now(), group_id=group_id, changes=_data(payload)
    )


@router.delete("/destination-groups/{group_id}", response={204: None})
def delete_group(request: AuthedRequest, group_id: int) -> Status[None]:
    services.delete_destination_group(actor=request.auth, now=now(), group_id=group_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Off-peak periods


class OffpeakIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    expression: str = Field(description="e.g. hr{6pm-5am}, wd{sat-sun}")
    description: str = ""


class OffpeakPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    expression: str | None = None
    description: str | None = None


class OffpeakOut(Schema):
    id: int
    name: str
    expression: str
    description: str


class OffpeakPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[OffpeakOut]


@router.get("/offpeak-periods", response=OffpeakPage)
def list_offpeak(request: AuthedRequest, filters: Query[SearchFilters]) -> dict[str, Any]:
    qs = selectors.list_offpeak_periods(actor=request.auth, search=filters.search)
    return _page(qs, filters)


@router.post("/offpeak-periods", response={201: OffpeakOut})
def create_offpeak(request: AuthedRequest, payload: OffpeakIn) -> Status[OffpeakPeriod]:
    period = services.create_offpeak_period(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, period)


@router.get("/offpeak-periods/{period_id}", response=OffpeakOut)
def get_offpeak(request: AuthedRequest, period_id: int) -> OffpeakPeriod:
    return selectors.get_offpeak_period(actor=request.auth, period_id=period_id)


@router.patch("/offpeak-periods/{period_id}", response=OffpeakOut)
def update_offpeak(request: AuthedRequest, period_id: int, payload: OffpeakPatch) -> OffpeakPeriod:
    return services.update_offpeak_period(
        actor=request.auth, now=now(), period_id=period_id, changes=_data(payload)
    )


@router.delete("/offpeak-periods/{period_id}", response={204: None})
def delete_offpeak(request: AuthedRequest, period_id: int) -> Status[None]:
    services.delete_offpeak_period(actor=request.auth, now=now(), period_id=period_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Tariffs


class TariffFields(Schema):
    model_config = ConfigDict(extra="forbid")
    managed_by: int | None = Field(None, description="Reseller id; null = the administrator's")
    connection_fee: str | None = Field(None, description="Decimal string, ≥ 0")
    free_seconds: int | None = Field(None, description="Free seconds at the start of each call")
    grace_period: int | None = Field(None, description="A call this short (s) costs nothing")
    post_call_surcharge: str | None = Field(None, description="Percent of the call's cost")
    offpeak_period: int | None = None
    second_offpeak_period: int | None = None
    description: str | None = None


class TariffIn(TariffFields):
    name: str
    currency: str = Field(description="ISO 4217, a currency in use")
    service: str = Field("voice", description="A service's code")


class TariffPatch(TariffFields):
    name: str | None = None
    currency: str | None = None
    service: str | None = None


class TariffOut(Schema):
    id: int
    name: str
    currency: str = Field(alias="currency_id")
    service: str
    managed_by: int | None = Field(None, alias="managed_by_id")
    connection_fee: Decimal
    free_seconds: int
    grace_period: int
    post_call_surcharge: Decimal
    offpeak_period: int | None = Field(None, alias="offpeak_period_id")
    second_offpeak_period: int | None = Field(None, alias="second_offpeak_period_id")
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_service(obj: Tariff) -> str:
        return obj.service.code


class TariffPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TariffOut]


class TariffFilters(Paging):
    search: str = ""
    currency: str | None = None
    service: str | None = None
    managed_by: int | None = None


@router.get("/tariffs", response=TariffPage)
def list_tariffs(request: AuthedRequest, filters: Query[TariffFilters]) -> dict[str, Any]:
    qs = selectors.list_tariffs(
        actor=request.auth,
        search=filters.search,
        currency=filters.currency,
        service=filters.service,
        managed_by=filters.managed_by,
    )
    return _page(qs, filters)


@router.post("/tariffs", response={201: TariffOut})
def create_tariff(request: AuthedRequest, payload: TariffIn) -> Status[Tariff]:
    return Status(201, services.create_tariff(actor=request.auth, now=now(), data=_data(payload)))


@router.get("/tariffs/{tariff_id}", response=TariffOut)
def get_tariff(request: AuthedRequest, tariff_id: int) -> Tariff:
    return selectors.get_tariff(actor=request.auth, tariff_id=tariff_id)


@router.patch("/tariffs/{tariff_id}", response=TariffOut)
def update_tariff(request: AuthedRequest, tariff_id: int, payload: TariffPatch) -> Tariff:
    return services.update_tariff(
        actor=request.auth, now=now(), tariff_id=tariff_id, changes=_data(payload)
    )


@router.delete("/tariffs/{tariff_id}", response={204: None})
def delete_tariff(request: AuthedRequest, tariff_id: int) -> Status[None]:
    services.delete_tariff(actor=request.auth, now=now(), tariff_id=tariff_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Rates


class RateFields(Schema):
    model_config = ConfigDict(extra="forbid")
    interval_first: int | None = Field(None, description="Seconds (base units), ≥ 1")
    interval_next: int | None = Field(None, description="Seconds (base units), ≥ 1")
    price_first: str | None = Field(None, description="Per minute (per base unit), ≥ 0")
    price_next: str | None = None
    offpeak_interval_first: int | None = None
    offpeak_interval_next: int | None = None
    offpeak_price_first: str | None = None
    offpeak_price_next: str | None = None
    offpeak2_interval_first: int | None = None
    offpeak2_interval_next: int | None = None
    offpeak2_price_first: str | None = None
    offpeak2_price_next: str | None = None
    forbidden: bool | None = None
    discontinued: bool | None = None
    hidden: bool | None = None


class RateIn(RateFields):
    prefix: str = Field(description="Digits, or | for any number")
    price_first: str = Field(description="Per minute (per base unit), ≥ 0")
    effective_from: dt.datetime | None = Field(None, description="Default: now")


class RatePatch(RateFields):
    prefix: str | None = None
    effective_from: dt.datetime | None = None


class RateOut(Schema):
    id: int
    tariff: int = Field(alias="tariff_id")
    prefix: str
    effective_from: dt.datetime
    interval_first: int
    interval_next: int
    price_first: Decimal
    price_next: Decimal
    offpeak_interval_first: int | None
    offpeak_interval_next: int | None
    offpeak_price_first: Decimal | None
    offpeak_price_next: Decimal | None
    offpeak2_interval_first: int | None
    offpeak2_interval_next: int | None
    offpeak2_price_first: Decimal | None
    offpeak2_price_next: Decimal | None
    forbidden: bool
    discontinued: bool
    hidden: bool


class RatePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[RateOut]


class RateFilters(Paging):
    prefix: str = Field("", description="Rates whose prefix starts with these digits")
    number: str = Field("", description="Rates matching this number, longest prefix first")
    at: dt.datetime | None = Field(None, description="Only the version in force then")


class RejectOut(Schema):
    line: int
    field: str | None
    reason: str


class ImportOut(Schema):
    lines: int
    added: int
    updated: int
    unchanged: int
    discontinued: int
    rejected: int
    rejects: list[RejectOut] = Field(description="The first 1000 rejected lines")


class ImportFilters(Schema):
    replace: bool = Field(
        False, description="Discontinue the prefixes absent from the file from its date"
    )


def _rate_of(request: AuthedRequest, tariff_id: int, rate_id: int) -> Rate:
    rate = selectors.get_rate(actor=request.auth, rate_id=rate_id)
    if rate.tariff_id != tariff_id:
        raise NotFound(f"rate {rate_id} not found", field="id")
    return rate


@router.get("/tariffs/{tariff_id}/rates", response=RatePage)
def list_rates(
    request: AuthedRequest, tariff_id: int, filters: Query[RateFilters]
) -> dict[str, Any]:
    qs = selectors.list_rates(
        actor=request.auth,
        tariff_id=tariff_id,
        prefix=filters.prefix,
        number=filters.number,
        at=filters.at,
    )
    return _page(qs, filters)


@router.post("/tariffs/{tariff_id}/rates", response={201: RateOut})
def create_rate(request: AuthedRequest, tariff_id: int, payload: RateIn) -> Status[Rate]:
    rate = services.create_rate(
        actor=request.auth, now=now(), tariff_id=tariff_id, data=_data(payload)
    )
    return Status(201, rate)


def _csv_lines(request: AuthedRequest) -> Iterator[str]:
    """The uploaded file's lines: the ``file`` part of a multipart form, or the body."""
    content_type = request.META.get("CONTENT_TYPE", "")
    source: Any = request
    if content_type.startswith("multipart/form-data"):
        try:
            source = request.FILES.get("file")
        except (MultiPartParserError, SuspiciousOperation) as exc:
            raise services.RateFileError(f"file: malformed upload: {exc}", field="file") from exc
        if source is None:
            raise services.RateFileError(
                "file: the form has no 'file' part", field="file", code="required"
            )
    for line in source:
        yield line.decode("utf-8")


@router.post(
    "/tariffs/{tariff_id}/rates/import",
    response=ImportOut,
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
def import_rates(
    request: AuthedRequest, tariff_id: int, filters: Query[ImportFilters]
) -> dict[str, Any]:
    """Upload rates as CSV (``text/csv`` body, or a multipart form's ``file``): merged by
    (prefix, effective_from); ``replace`` discontinues the prefixes the file lacks. The
    format is in docs/rating.md."""
    result = services.import_rates(
        actor=request.auth,
        now=now(),
        tariff_id=tariff_id,
        file=_csv_lines(request),
        replace=filters.replace,
    )
    return {**result.as_dict(), "rejects": result.rejects}


@router.get("/tariffs/{tariff_id}/rates.csv")
def export_rates(request: AuthedRequest, tariff_id: int) -> StreamingHttpResponse:
    """Every rate of the tariff as CSV, in the upload's format, streamed."""
    lines = services.export_rates(actor=request.auth, tariff_id=tariff_id)
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="rates-{tariff_id}.csv"'
    return response


@router.get("/tariffs/{tariff_id}/rates/{rate_id}", response=RateOut)
def get_rate(request: AuthedRequest, tariff_id: int, rate_id: int) -> Rate:
    return _rate_of(request, tariff_id, rate_id)


@router.patch("/tariffs/{tariff_id}/rates/{rate_id}", response=RateOut)
def update_rate(request: AuthedRequest, tariff_id: int, rate_id: int, payload: RatePatch) -> Rate:
    _rate_of(request, tariff_id, rate_id)
    return services.update_rate(
        actor=request.auth, now=now(), rate_id=rate_id, changes=_data(payload)
    )


@router.delete("/tariffs/{tariff_id}/rates/{rate_id}", response={204: None})
def delete_rate(request: AuthedRequest, tariff_id: int, rate_id: int) -> Status[None]:
    _rate_of(request, tariff_id, rate_id)
    services.delete_rate(actor=request.auth, now=now(), rate_id=rate_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Products and rating entries


class EntryIn(Schema):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(description="A service's code")
    access_code: str = Field("", description="'' | OUTGOING | INCOMING | FOLLOWME | TRANSFER")
    tariff: int
    reseller_tariff: int | None = Field(
        None, description="A reseller's product: the administrator's wholesale tariff"
    )


class EntryPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    service: str | None = None
    access_code: str | None = None
    tariff: int | None = None
    reseller_tariff: int | None = None


class EntryOut(Schema):
    id: int
    service: str
    access_code: str
    tariff: int = Field(alias="tariff_id")
    reseller_tariff: int | None = Field(None, alias="reseller_tariff_id")

    @staticmethod
    def resolve_service(obj: RatingEntry) -> str:
        return obj.service.code


class ProductFields(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(None, description="main | addon")
    precedence: int | None = Field(None, description="Add-ons: the higher wins")
    managed_by: int | None = Field(None, description="Reseller id; null = the administrator's")
    description: str | None = None


class ProductIn(ProductFields):
    name: str
    currency: str


class ProductPatch(ProductFields):
    name: str | None = None
    currency: str | None = None


class ProductOut(Schema):
    id: int
    name: str
    kind: str
    precedence: int
    currency: str = Field(alias="currency_id")
    managed_by: int | None = Field(None, alias="managed_by_id")
    description: str
    entries: list[EntryOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_entries(obj: Product) -> list[RatingEntry]:
        return list(obj.entries.all())


class ProductPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ProductOut]


class ProductFilters(Paging):
    search: str = ""
    currency: str | None = None
    kind: Annotated[ProductKind | None, BeforeValidator(blank_is_none)] = None
    managed_by: int | None = None


@router.get("/products", response=ProductPage)
def list_products(request: AuthedRequest, filters: Query[ProductFilters]) -> dict[str, Any]:
    qs = selectors.list_products(
        actor=request.auth,
        search=filters.search,
        currency=filters.currency,
        kind=filters.kind,
        managed_by=filters.managed_by,
    )
    return _page(qs, filters)


@router.post("/products", response={201: ProductOut})
def create_product(request: AuthedRequest, payload: ProductIn) -> Status[Product]:
    product = services.create_product(actor=request.auth, now=now(), data=_data(payload))
    return Status(201, product)


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request: AuthedRequest, product_id: int) -> Product:
    return selectors.get_product(actor=request.auth, product_id=product_id)


@router.patch("/products/{product_id}", response=ProductOut)
def update_product(request: AuthedRequest, product_id: int, payload: ProductPatch) -> Product:
    services.update_product(
        actor=request.auth, now=now(), product_id=product_id, changes=_data(payload)
    )
    return selectors.get_product(actor=request.auth, product_id=product_id)


@router.delete("/products/{product_id}", response={204: None})
def delete_product(request: AuthedRequest, product_id: int) -> Status[None]:
    services.delete_product(actor=request.auth, now=now(), product_id=product_id)
    return Status(204, None)


@router.get("/products/{product_id}/entries", response=list[EntryOut])
def list_entries(request: AuthedRequest, product_id: int) -> list[RatingEntry]:
    product = selectors.get_product(actor=request.auth, product_id=product_id)
    return list(product.entries.all())


@router.post("/products/{product_id}/entries", response={201: EntryOut})
def create_entry(request: AuthedRequest, product_id: int, payload: EntryIn) -> Status[Any]:
    entry = services.create_entry(
        actor=request.auth, now=now(), product_id=product_id, data=_data(payload)
    )
    return Status(201, entry)


@router.patch("/products/{product_id}/entries/{entry_id}", response=EntryOut)
def update_entry(
    request: AuthedRequest, product_id: int, entry_id: int, payload: EntryPatch
) -> RatingEntry:
    return services.update_entry(
        actor=request.auth,
        now=now(),
        product_id=product_id,
        entry_id=entry_id,
        changes=_data(payload),
    )


@router.delete("/products/{product_id}/entries/{entry_id}", response={204: None})
def delete_entry(request: AuthedRequest, product_id: int, entry_id: int) -> Status[None]:
    services.delete_entry(actor=request.auth, now=now(), product_id=product_id, entry_id=entry_id)
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# An account's products


class AccountProductsIn(Schema):
    model_config = ConfigDict(extra="forbid")
    product: int | None = Field(description="The main product; null = none")
    addons: list[int] = Field(default_factory=list, description="Add-on products")


class AccountProductsOut(Schema):
    account: int
    product: int | None
    addons: list[int] = Field(description="By precedence, highest first")


def _account_products(request: AuthedRequest, account_id: int) -> dict[str, Any]:
    account, rows = selectors.account_products(actor=request.auth, account_id=account_id)
    return _products_reply(account.pk, rows)


def _products_reply(account_id: int, rows: list[AccountProduct]) -> dict[str, Any]:
    return {
        "account": account_id,
        "product": next((r.product_id for r in rows if r.is_main), None),
        "addons": [r.product_id for r in rows if not r.is_main],
    }


@router.get("/accounts/{account_id}/products", response=AccountProductsOut)
def get_account_products(request: AuthedRequest, account_id: int) -> dict[str, Any]:
    return _account_products(request, account_id)


@router.put("/accounts/{account_id}/products", response=AccountProductsOut)
def set_account_products(
    request: AuthedRequest, account_id: int, payload: AccountProductsIn
) -> dict[str, Any]:
    """Give the account its main product and exactly these add-ons (in the customer's
    currency, of the customer's owner, each with rating entries)."""
    services.set_account_products(
        actor=request.auth,
        now=now(),
        account_id=account_id,
        product=payload.product,
        addons=payload.addons,
    )
    return _account_products(request, account_id)


# --------------------------------------------------------------------------------------------
# Override tariffs (the customer's Override Tariffs tab, CU-13)


class OverrideIn(Schema):
    model_config = ConfigDict(extra="forbid")
    master_tariff: int
    override_tariff: int = Field(description="In the customer's currency")


class OverridePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    master_tariff: int | None = None
    override_tariff: int | None = None


class OverrideOut(Schema):
    id: int
    customer: int = Field(alias="customer_id")
    master_tariff: int = Field(alias="master_tariff_id")
    override_tariff: int = Field(alias="override_tariff_id")
    created_at: dt.datetime
    updated_at: dt.datetime


class OverridePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[OverrideOut]


@router.get("/customers/{customer_id}/override-tariffs", response=OverridePage)
def list_overrides(
    request: AuthedRequest, customer_id: int, filters: Query[Paging]
) -> dict[str, Any]:
    qs = selectors.customer_overrides(actor=request.auth, customer_id=customer_id)
    return _page(qs, filters)


@router.post("/customers/{customer_id}/override-tariffs", response={201: OverrideOut})
def create_override(
    request: AuthedRequest, customer_id: int, payload: OverrideIn
) -> Status[OverrideTariff]:
    override = services.create_override(
        actor=request.auth, now=now(), customer_id=customer_id, data=_data(payload)
    )
    return Status(201, override)


@router.get("/customers/{customer_id}/override-tariffs/{override_id}", response=OverrideOut)
def get_override(request: AuthedRequest, customer_id: int, override_id: int) -> OverrideTariff:
    return selectors.get_override(
        actor=request.auth, customer_id=customer_id, override_id=override_id
    )


@router.patch("/customers/{customer_id}/override-tariffs/{override_id}", response=OverrideOut)
def update_override(
    request: AuthedRequest, customer_id: int, override_id: int, payload: OverridePatch
) -> OverrideTariff:
    return services.update_override(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        override_id=override_id,
        changes=_data(payload),
    )


@router.delete("/customers/{customer_id}/override-tariffs/{override_id}", response={204: None})
def delete_override(request: AuthedRequest, customer_id: int, override_id: int) -> Status[None]:
    services.delete_override(
        actor=request.auth, now=now(), customer_id=customer_id, override_id=override_id
    )
    return Status(204, None)


# --------------------------------------------------------------------------------------------
# Quote (issue 12 §2): the price of a hypothetical session, nothing written


class QuoteIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account: int | str = Field(description="Account id, or its identifier (as usage names it)")
    service: str = Field("voice", description="Service code (default voice)")
    cld: str = Field(description="Called number: digits, a leading + and spaces allowed")
    quantity: int | str | None = Field(
        None, description="Usage in `unit` (seconds for voice); or give duration"
    )
    duration: int | str | None = Field(None, description="Seconds (voice): quantity in seconds")
    unit: str = Field("", description="The unit of quantity (empty: the service's natural one)")
    started_at: dt.datetime | None = Field(None, description="Start instant (default now)")
    access_code: str = Field("", description="Empty (outgoing), INCOMING, FOLLOWME, TRANSFER…")


class QuotedPriceOut(Schema):
    allowed: bool
    reason: str
    message: str
    tariff_id: int | None
    tariff_name: str
    rate_id: int | None
    prefix: str
    source: str = Field(description="master (the product's tariff) or override")
    price_set: str = Field(description="peak, offpeak1 or offpeak2")
    charged_quantity: int | None
    amount: Decimal | None
    currency: str


class QuoteOut(Schema):
    allowed: bool
    reason: str = Field(description="Why it cannot be priced: no_product, no_rate, …")
    message: str
    account_id: int
    customer_id: int
    service: str
    cld: str
    started_at: dt.datetime
    access_code: str
    base_quantity: int = Field(description="The quantity in whole base units, rounded up")
    price: QuotedPriceOut
    reseller_id: int | None
    reseller_price: QuotedPriceOut | None = Field(
        description="The reseller's own (wholesale) price, for a reseller's customer"
    )


@router.post("/rating/quote", response=QuoteOut)
def post_quote(request: AuthedRequest, payload: QuoteIn) -> Any:
    """What a session would cost, without charging it (nothing is written). A session that
    cannot be priced answers `allowed` false with the reason; bad input is a 400."""
    return quote_session(
        actor=request.auth,
        now=now(),
        account=payload.account,
        cld=payload.cld,
        quantity=payload.quantity,
        duration=payload.duration,
        service=payload.service,
        unit=payload.unit,
        started_at=payload.started_at,
        access_code=payload.access_code,
    )


class RerateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    customer: int | None = Field(None, description="Re-rate this customer's open period")
    tariff: int | None = Field(
        None, description="Or: every customer whose open-period usage this tariff prices"
    )


class MovedOut(Schema):
    customer_id: int
    amount: Decimal = Field(description="Money moved (signed: + the customer owes more)")


class RerateOut(Schema):
    examined: int = Field(description="xDRs of the open period looked at")
    changed: int = Field(description="charged xDRs whose amount or rate changed")
    charged: int = Field(description="xDRs denied for want of a price, charged now")
    reversed: int = Field(description="charged xDRs now refused (forbidden, no rate)")
    unchanged: int
    still_denied: int
    moved: list[MovedOut]


@router.post("/rating/rerate", response=RerateOut)
def post_rerate(request: AuthedRequest, payload: RerateIn) -> Any:
    """Re-rate the open period (a period awaiting approval counts as open) of one customer or
    of every customer a tariff prices, after a rate correction: each difference is its own
    ledger row (`rerating`); usage denied for want of a rate is charged if it now has one and
    the limits allow; closed periods are never touched. Give exactly one of the two."""
    summary = rerate(
        actor=request.auth, now=now(), customer_id=payload.customer, tariff_id=payload.tariff
    )
    return {
        "examined": summary.examined,
        "changed": summary.changed,
        "charged": summary.charged,
        "reversed": summary.reversed,
        "unchanged": summary.unchanged,
        "still_denied": summary.still_denied,
        "moved": [{"customer_id": k, "amount": v} for k, v in sorted(summary.moved.items())],
    }
