"""``/api/v1/customers`` and ``/api/v1/customers/{id}/transactions`` (CU-01 … CU-13)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from ninja import Header, Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field, create_model

from billcore.api.base import AuthedRequest, now
from billcore.api.declared import in_field, out_field
from billcore.customers import selectors, services
from billcore.customers.models import BalanceControl, Customer, CustomerType
from billcore.customers.models import Status as CustomerStatus
from billcore.customers.settings import SETTINGS
from billcore.invoicing.settling import record_transaction
from billcore.ledger import customers as ledger_customers
from billcore.ledger import selectors as ledger_selectors
from billcore.validation import blank_is_none

router = Router(tags=["customers"])


# The schemas of a customer's settings are made from their declaration (customers.settings);
# what only the create or the patch takes is added to each.
class _Settable(Schema):
    model_config = ConfigDict(extra="forbid")


class _Out(Schema):
    id: int
    status: str
    balance: Decimal
    reserved: Decimal
    business_model: int | None = None
    billed_to: dt.datetime | None = Field(None, description="Start of the open billing period")
    next_billed_to: dt.datetime | None = Field(None, description="End of the open period")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_business_model(obj: Customer) -> int | None:
        return obj.customer_class.business_model_id  # CU-03: it comes from the class


def _schemas() -> tuple[Any, Any]:
    settable: dict[str, Any] = {
        s.name: in_field(s) for s in SETTINGS if not s.new_only and s.name != "name"
    }
    fields = create_model("CustomerFields", __base__=_Settable, __module__=__name__, **settable)
    on_create: dict[str, Any] = {
        "name": (str, ...),
        "balance_control": (str, ...),
        "customer_class": (int | None, Field(None, description="Default class when omitted")),
        **{s.name: in_field(s) for s in SETTINGS if s.new_only},
        "currency": (str, ...),
    }
    on_patch: dict[str, Any] = {
        "name": (str | None, None),
        "currency": (str | None, Field(None, description="Accepted only if unchanged (CU-06)")),
        "available_funds": (str | None, None),  # refused: funds change through a transaction
        "balance": (str | None, None),  # refused likewise
    }
    create = create_model("CustomerCreate", __base__=fields, __module__=__name__, **on_create)
    patch = create_model("CustomerPatch", __base__=fields, __module__=__name__, **on_patch)
    return create, patch


def _reply() -> Any:
    fields: dict[str, Any] = {s.name: out_field(s) for s in SETTINGS}
    return create_model("CustomerOut", __base__=_Out, __module__=__name__, **fields)


if TYPE_CHECKING:  # made at run time from the declaration; to the type checker, a Schema
    CustomerCreate = Schema
    CustomerPatch = Schema
    CustomerOut = Schema
else:
    CustomerCreate, CustomerPatch = _schemas()
    CustomerOut = _reply()


class CustomerPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CustomerOut]


class CustomerFilters(Schema):
    search: str = Field("", description="Part of the name, company name or e-mail")
    name: str | None = None
    customer_class: int | None = None
    currency: str | None = None
    reseller: int | None = None
    status: Annotated[CustomerStatus | None, BeforeValidator(blank_is_none)] = Field(
        None, description="closed finds permanently terminated ones"
    )
    balance_control: Annotated[BalanceControl | None, BeforeValidator(blank_is_none)] = None
    customer_type: Annotated[CustomerType | None, BeforeValidator(blank_is_none)] = None
    order: str = "name"
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class TransactionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="e.g. 'Manual charge', 'Manual payment' (any letter case)")
    amount: str = Field(description="Positive decimal string; the action gives the direction")
    visible_comment: str = ""
    internal_comment: str = ""
    account: int | None = Field(
        None, description="An account of this customer whose own balance moves too (top-up)"
    )
    reference: int | None = Field(
        None,
        description="Capture payment / Void: the Authorization only transaction; Refund: "
        "the payment refunded (its tax taken at payment time is given back in proportion)",
    )


class TransactionOut(Schema):
    id: int
    action: str
    amount: Decimal
    balance_after: Decimal
    account: int | None = Field(None, alias="account_id")
    account_amount: Decimal
    card_amount: Decimal | None
    reference: int | None = Field(None, alias="reference_id")
    visible_comment: str
    internal_comment: str
    actor: str | None = None
    created_at: dt.datetime

    @staticmethod
    def resolve_actor(obj: Any) -> str | None:
        return obj.actor.username if obj.actor_id else None


class PostedOut(Schema):
    transaction_id: int
    customer_id: int
    action: str
    amount: Decimal
    balance: Decimal
    available_funds: Decimal | None
    created_at: dt.datetime


class TransactionPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TransactionOut]


@router.get("", response=CustomerPage)
def list_customers(request: AuthedRequest, filters: Query[CustomerFilters]) -> dict[str, Any]:
    f = filters.model_dump(exclude={"limit", "offset"})
    qs = selectors.list_customers(actor=request.auth, **f)
    items = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.post("", response={201: CustomerOut})
def create_customer(request: AuthedRequest, payload: CustomerCreate) -> Status[Customer]:
    data = payload.model_dump(exclude_unset=True)  # no class: the service's default class
    return Status(201, ledger_customers.create_customer(actor=request.auth, now=now(), data=data))


@router.get("/{customer_id}", response=CustomerOut)
def get_customer(request: AuthedRequest, customer_id: int) -> Customer:
    return selectors.get_customer(actor=request.auth, customer_id=customer_id)


@router.patch("/{customer_id}", response=CustomerOut)
def update_customer(request: AuthedRequest, customer_id: int, payload: CustomerPatch) -> Customer:
    return services.update_customer(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        changes=payload.model_dump(exclude_unset=True),
    )


@router.delete("/{customer_id}", response={204: None})
def delete_customer(request: AuthedRequest, customer_id: int) -> Status[None]:
    services.delete_customer(actor=request.auth, now=now(), customer_id=customer_id)
    return Status(204, None)


@router.get("/{customer_id}/transactions", response=TransactionPage, tags=["transactions"])
def list_transactions(
    request: AuthedRequest, customer_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    limit, offset = page.limit, page.offset
    qs = ledger_selectors.customer_transactions(actor=request.auth, customer_id=customer_id)
    return {
        "count": qs.count(),
        "limit": limit,
        "offset": offset,
        "items": list(qs[offset : offset + limit]),
    }


@router.post(
    "/{customer_id}/transactions", response={201: PostedOut, 200: PostedOut}, tags=["transactions"]
)
def post_transaction(
    request: AuthedRequest,
    customer_id: int,
    payload: TransactionIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),  # type: ignore[type-arg]
) -> Status[Any]:
    """A balance adjustment (CU-12). Repeating a request with the same `Idempotency-Key`
    returns the first result with status 200 and changes nothing."""
    result = record_transaction(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        action=payload.action,
        amount=payload.amount,
        visible_comment=payload.visible_comment,
        internal_comment=payload.internal_comment,
        idempotency_key=idempotency_key,
        account_id=payload.account,
        reference_id=payload.reference,
    )
    return Status(200 if result.replayed else 201, result)
