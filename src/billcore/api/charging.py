"""Real-time charging over HTTP: ``/api/v1/xdrs``, ``/api/v1/authorize``,
``/api/v1/reservations``. Every answer says allowed or denied, and why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.db import DataError, IntegrityError
from django.http import StreamingHttpResponse
from ninja import Header, Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.charging import selectors, services
from billcore.charging.models import XdrStatus
from billcore.errors import BillcoreError, ValidationFailed
from billcore.rating.pricing import Pricer
from billcore.validation import blank_is_none

router = Router(tags=["charging"])

MAX_BATCH = 1000


class UsageIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account: int | None = Field(None, description="Account id (or give customer)")
    customer: int | None = Field(None, description="Customer id, when no account")
    service: str = Field(
        description="voice | data | messaging | other, or a service code of the catalogue"
    )
    amount: str | None = Field(
        None,
        description=(
            "Decimal string >= 0, up to 5 places (pre-rated usage). Without it billcore "
            "rates the record on the account's products: cld and quantity are then required"
        ),
    )
    cld: str | None = Field(None, description="The called number (required without amount)")
    access_code: str | None = Field(
        None, description="'' (outgoing) | OUTGOING | INCOMING | FOLLOWME | TRANSFER"
    )
    quantity: str | None = Field(
        None, description="Duration in seconds for voice, bytes for data, messages, units"
    )
    unit: str = ""
    started_at: dt.datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="CLI, CLD, …")
    external_id: str | None = Field(
        None,
        description=(
            "Idempotency key of the record, unique per owner: the installation for the "
            "administrator's customers, each reseller for its own sub-customers"
        ),
    )


class ChargeOut(Schema):
    allowed: bool
    reason: str
    message: str
    xdr_id: int | None
    amount: Decimal
    balance: Decimal
    available_funds: Decimal | None
    replayed: bool
    cld: str | None = None
    tariff_id: int | None = None
    rate_id: int | None = None
    rate_prefix: str | None = None
    price_set: str | None = None
    base_quantity: int | None = None
    charged_quantity: int | None = None
    reseller_amount: Decimal | None = None


class BatchIn(Schema):
    model_config = ConfigDict(extra="forbid")
    xdrs: list[dict[str, Any]] = Field(description=f"Up to {MAX_BATCH} usage records")


class BatchItemOut(Schema):
    index: int
    result: ChargeOut | None = None
    error: dict[str, Any] | None = None


class BatchOut(Schema):
    charged: int
    denied: int
    rejected: int
    items: list[BatchItemOut]


class AuthorizeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account: int | None = None
    customer: int | None = None
    amount: str | None = Field(
        None, description="Decimal string >= 0: may it be spent now (optional with cld)"
    )
    cld: str | None = Field(
        None, description="Called number: answer the longest session affordable now"
    )
    service: str | None = Field(None, description="Service of the session (default voice)")
    access_code: str = Field("", description="Empty (outgoing), INCOMING, FOLLOWME, TRANSFER…")
    direction: str | None = Field(
        None,
        description="outgoing (default) | incoming | forwarded: the simultaneous-call limit "
        "it counts against (refused: concurrent_calls_limit)",
    )


class AuthorizeOut(ChargeOut):
    max_duration: int | None = Field(
        None,
        description="With cld: the longest session (seconds) the money available now pays "
        "for, capped by the installation's max_session_seconds; amount is then its cost",
    )
    resolved_cld: str | None = Field(
        None,
        description="The number rated and routed when cld is an abbreviated number or an "
        "extension of the customer",
    )


class ReserveIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account: int | None = None
    customer: int | None = None
    service: str
    amount: str
    seconds: int = Field(services.DEFAULT_RESERVATION_SECONDS, ge=1, le=7 * 24 * 3600)
    external_id: str | None = None
    direction: str | None = Field(
        None, description="outgoing (default) | incoming | forwarded (simultaneous-call limits)"
    )


class CommitIn(Schema):
    model_config = ConfigDict(extra="forbid")
    amount: str
    quantity: str | None = None
    unit: str = ""
    started_at: dt.datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    external_id: str | None = None


class ReservationOut(Schema):
    allowed: bool
    reason: str
    message: str
    reservation_id: int | None
    status: str
    amount: Decimal
    expires_at: dt.datetime | None
    balance: Decimal
    available_funds: Decimal | None
    xdr_id: int | None
    replayed: bool


def _parse(at: dt.datetime, data: dict[str, Any]) -> services.UsageInput:
    return services.parse_usage(
        service=data.get("service"),
        amount=data.get("amount"),
        cld=data.get("cld"),
        access_code=data.get("access_code"),
        quantity=data.get("quantity"),
        unit=data.get("unit", ""),
        started_at=data.get("started_at"),
        details=data.get("details"),
        external_id=data.get("external_id"),
        now=at,
    )


def _charge_one(
    request: AuthedRequest, at: dt.datetime, data: dict[str, Any], pricer: Pricer | None = None
) -> Any:
    return services.charge(
        actor=request.auth,
        now=at,
        account_id=data.get("account"),
        customer_id=data.get("customer"),
        usage=_parse(at, data),
        pricer=pricer,
    )


def _key(body_key: str | None, header_key: str | None) -> str | None:
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed(
            "external_id and the Idempotency-Key header differ",
            field="external_id",
            code="idempotency_key_mismatch",
        )
    return body_key or header_key


@router.post("/xdrs", response={201: ChargeOut, 200: ChargeOut})
def post_xdr(
    request: AuthedRequest,
    payload: UsageIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),  # type: ignore[type-arg]
) -> Status[Any]:
    """Charge one usage record. 201 when recorded now (allowed or denied, see `allowed`),
    200 when `external_id` (or the `Idempotency-Key` header) was seen before: the first
    result, nothing changed."""
    data = payload.model_dump()
    data["external_id"] = _key(payload.external_id, idempotency_key)
    result = _charge_one(request, now(), data)
    return Status(200 if result.replayed else 201, result)


@router.post("/xdrs/batch", response=BatchOut)
def post_xdr_batch(request: AuthedRequest, payload: BatchIn) -> dict[str, Any]:
    """Charge many records, in order, with the results of posting them one by one: a bad
    record is reported with its index and reason and does not stop the others."""
    if len(payload.xdrs) > MAX_BATCH:
        raise ValidationFailed(f"xdrs: at most {MAX_BATCH} records per batch", field="xdrs")
    at = now()
    answers: list[Any] = [None] * len(payload.xdrs)
    todo: list[tuple[int, dict[str, Any], services.ChargeRequest]] = []
    allowed_keys = set(UsageIn.model_fields)
    for i, data in enumerate(payload.xdrs):
        try:
            unknown = sorted(set(data) - allowed_keys)
            if unknown:
                raise ValidationFailed(
                    f"{unknown[0]} is not a field of a usage record",
                    field=unknown[0],
                    code="unknown",
                )
            request_ = services.ChargeRequest(
                usage=_parse(at, data),
                now=at,
                account_id=data.get("account"),
                customer_id=data.get("customer"),
            )
        except BillcoreError as exc:
            answers[i] = exc
            continue
        todo.append((i, data, request_))
    # One pricer for the batch: each tariff's rates are read once.
    pricer = Pricer(whole_tariffs=True)
    try:
        results = services.charge_many(
            actor=request.auth, requests=[t[2] for t in todo], pricer=pricer
        )
    except (IntegrityError, DataError):
        # A record the database refuses (or one raced by a concurrent post of its
        # external_id): nothing of the batch was kept; charge them one by one.
        results = []
        for _, data, _ in todo:
            try:
                results.append(_charge_one(request, at, data, pricer))
            except BillcoreError as exc:
                results.append(exc)
    for (i, _, _), result in zip(todo, results, strict=True):
        answers[i] = result
    items: list[dict[str, Any]] = []
    counts = {"charged": 0, "denied": 0, "rejected": 0}
    for i, answer in enumerate(answers):
        if isinstance(answer, BillcoreError):
            counts["rejected"] += 1
            items.append({"index": i, "error": answer.as_dict()})
        else:
            counts["charged" if answer.allowed else "denied"] += 1
            items.append({"index": i, "result": answer})
    return {**counts, "items": items}


@router.post("/authorize", response=AuthorizeOut)
def post_authorize(request: AuthedRequest, payload: AuthorizeIn) -> Any:
    """May this account (or customer) spend this amount now? With `cld` (an account's call
    to that number): for how long (`max_duration`, seconds)? Changes nothing."""
    return services.authorize(
        actor=request.auth,
        now=now(),
        account_id=payload.account,
        customer_id=payload.customer,
        amount=payload.amount,
        cld=payload.cld,
        service=payload.service,
        access_code=payload.access_code,
        direction=payload.direction,
    )


@router.post("/reservations", response={201: ReservationOut, 200: ReservationOut})
def post_reservation(
    request: AuthedRequest,
    payload: ReserveIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),  # type: ignore[type-arg]
) -> Status[Any]:
    """Hold an amount for a session (denied: `allowed` false with the reason). The
    `Idempotency-Key` header works like `external_id`."""
    r = services.reserve(
        actor=request.auth,
        now=now(),
        account_id=payload.account,
        customer_id=payload.customer,
        service=payload.service,
        amount=payload.amount,
        seconds=payload.seconds,
        external_id=_key(payload.external_id, idempotency_key),
        direction=payload.direction,
    )
    return Status(200 if r.replayed or not r.allowed else 201, r)


@router.post("/reservations/{reservation_id}/commit", response=ReservationOut)
def post_commit(request: AuthedRequest, reservation_id: int, payload: CommitIn) -> Any:
    """Charge the actual amount (at most the reserved one) and free the rest."""
    return services.commit_reservation(
        actor=request.auth,
        now=now(),
        reservation_id=reservation_id,
        amount=payload.amount,
        quantity=payload.quantity,
        unit=payload.unit,
        started_at=payload.started_at,
        details=payload.details,
        external_id=payload.external_id,
    )


@router.post("/reservations/{reservation_id}/release", response=ReservationOut)
def post_release(request: AuthedRequest, reservation_id: int) -> Any:
    """Free the whole hold."""
    return services.release_reservation(
        actor=request.auth, now=now(), reservation_id=reservation_id
    )


class XdrOut(Schema):
    id: int
    account: int | None = Field(None, alias="account_id")
    service: str
    quantity: Decimal
    unit: str
    amount: Decimal
    started_at: dt.datetime
    details: dict[str, Any]
    external_id: str | None
    status: str
    deny_reason: str
    created_at: dt.datetime
    cld: str | None
    access_code: str | None
    tariff_id: int | None
    rate_id: int | None
    rate_prefix: str | None
    price_set: str | None
    base_quantity: int | None
    charged_quantity: int | None
    reseller_amount: Decimal | None


class XdrFilters(Schema):
    service: Annotated[str | None, BeforeValidator(blank_is_none)] = Field(
        None, max_length=32, description="A service code"
    )
    status: Annotated[XdrStatus | None, BeforeValidator(blank_is_none)] = Field(
        None, description="charged | denied"
    )
    account: int | None = None
    start: dt.datetime | None = Field(None, alias="from", description="inclusive")
    end: dt.datetime | None = Field(None, alias="to", description="exclusive")
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class XdrPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[XdrOut]


class ServiceSummary(Schema):
    service: str
    charged: int
    denied: int
    quantity: Decimal
    amount: Decimal


class StatisticsOut(Schema):
    customer: int
    start: dt.datetime | None
    end: dt.datetime | None
    services: list[ServiceSummary]
    total_amount: Decimal


def _service_filter(code: str | None) -> str | None:
    """A service code of the filter: a standard one or one of the catalogue (400 otherwise,
    like an unknown value of the other filters)."""
    if code is None:
        return None
    try:
        return services.service_code(code)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="service", code="invalid") from None


def _rows(request: AuthedRequest, customer_id: int, f: XdrFilters) -> Any:
    return selectors.customer_xdrs(
        actor=request.auth,
        customer_id=customer_id,
        service=_service_filter(f.service),
        status=f.status,
        start=f.start,
        end=f.end,
        account_id=f.account,
    )


@router.get("/customers/{customer_id}/xdrs", response=XdrPage)
def list_xdrs(
    request: AuthedRequest, customer_id: int, filters: Query[XdrFilters]
) -> dict[str, Any]:
    qs = _rows(request, customer_id, filters)
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(qs[filters.offset : filters.offset + filters.limit]),
    }


@router.get("/customers/{customer_id}/xdrs.csv")
def export_xdrs(
    request: AuthedRequest, customer_id: int, filters: Query[XdrFilters]
) -> StreamingHttpResponse:
    """Every matching xDR as CSV (CC-11 full statistics), streamed."""
    qs = _rows(request, customer_id, filters)
    response = StreamingHttpResponse(selectors.xdrs_csv(qs), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="xdrs-{customer_id}.csv"'
    return response


@router.get("/customers/{customer_id}/statistics", response=StatisticsOut)
def statistics(
    request: AuthedRequest, customer_id: int, filters: Query[XdrFilters]
) -> dict[str, Any]:
    """Totals per service for the period (CC-11 summary); denied records counted apart."""
    qs = _rows(request, customer_id, filters)
    return {
        "customer": customer_id,
        "start": filters.start,
        "end": filters.end,
        **selectors.summary(qs),
    }
