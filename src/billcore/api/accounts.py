"""``/api/v1/customers/{id}/accounts``, ``/api/v1/accounts/{id}``, ``/api/v1/transfers``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Header, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.customers.selectors import get_customer
from billcore.features import services as features
from billcore.ledger import transfers
from billcore.subscribers import services
from billcore.subscribers.models import Account

router = Router(tags=["accounts"])


class AccountIn(Schema):
    model_config = ConfigDict(extra="forbid")
    identifier: str = Field(description="Phone number, login, … (unique)")
    account_type: str = Field("credit", description="debit | credit")
    blocked: bool = False
    credit_limit: str | None = Field(None, description="Credit accounts: individual limit")
    extension: str | None = Field(
        None, description="Short number (1-8 digits), unique within the customer"
    )


class AccountPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    blocked: bool | None = None
    credit_limit: str | None = None
    extension: str | None = Field(None, description="Empty or null: no extension")


class AccountOut(Schema):
    id: int
    customer: int = Field(alias="customer_id")
    identifier: str
    account_type: str
    blocked: bool
    credit_limit: Decimal | None
    balance: Decimal
    reserved: Decimal
    available_funds: Decimal | None
    extension: str | None
    created_at: dt.datetime


class TransferIn(Schema):
    model_config = ConfigDict(extra="forbid")
    from_account: int
    to_account: int
    amount: str
    comment: str = ""


class TransferOut(Schema):
    from_transaction: int
    to_transaction: int
    amount: Decimal
    from_available_funds: Decimal | None
    to_available_funds: Decimal | None


@router.get("/customers/{customer_id}/accounts", response=list[AccountOut])
def list_accounts(request: AuthedRequest, customer_id: int) -> list[Account]:
    customer = get_customer(actor=request.auth, customer_id=customer_id)
    return list(Account.objects.filter(customer=customer).order_by("identifier"))


@router.post("/customers/{customer_id}/accounts", response={201: AccountOut})
def create_account(request: AuthedRequest, customer_id: int, payload: AccountIn) -> Status[Account]:
    account = features.create_account(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        data=payload.model_dump(exclude_unset=True),
    )
    return Status(201, account)


@router.get("/accounts/{account_id}", response=AccountOut)
def get_account(request: AuthedRequest, account_id: int) -> Account:
    return services.get_account(actor=request.auth, account_id=account_id)


@router.patch("/accounts/{account_id}", response=AccountOut)
def update_account(request: AuthedRequest, account_id: int, payload: AccountPatch) -> Account:
    return features.update_account(
        actor=request.auth,
        now=now(),
        account_id=account_id,
        changes=payload.model_dump(exclude_unset=True),
    )


@router.post("/transfers", response={201: TransferOut, 200: TransferOut})
def post_transfer(
    request: AuthedRequest,
    payload: TransferIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),  # type: ignore[type-arg]
) -> Status[Any]:
    """Subscriber-to-subscriber transfer between two accounts of one customer (CC-21)."""
    at = now()
    out, into = transfers.transfer(
        actor=request.auth,
        now=at,
        from_account_id=payload.from_account,
        to_account_id=payload.to_account,
        amount=payload.amount,
        comment=payload.comment,
        idempotency_key=idempotency_key,
    )
    src = Account.objects.get(pk=payload.from_account)
    dst = Account.objects.get(pk=payload.to_account)
    replayed = out.created_at != at
    return Status(
        200 if replayed else 201,
        {
            "from_transaction": out.pk,
            "to_transaction": into.pk,
            "amount": out.account_amount,
            "from_available_funds": src.available_funds,
            "to_available_funds": dst.available_funds,
        },
    )
