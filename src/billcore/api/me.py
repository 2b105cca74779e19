"""``/api/v1/me``: the customer's self-care for apps (issue 16 §1), with customer tokens.

``POST /me/login`` (login, password, and ``code`` when two-factor authentication is on)
answers with a customer token valid 12 hours; every other ``/me`` call sends it as
``Authorization: Bearer <token>``. Customer tokens live in their own table
(``customers.CustomerToken``, prefix ``bcc_``): one never reaches the administrators' API and an
administrator's token never acts as "me" (both are 401). The customer's rules are checked on
every call (a customer blocked meanwhile is refused with 403). Everything is the signed-in
customer's own: any other invoice or account id is 404.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.security import HttpBearer
from pydantic import ConfigDict, Field

from billcore.accounts import lockout
from billcore.api.base import error_response, now
from billcore.api.openapi import Error
from billcore.customers import logins
from billcore.customers.models import CustomerTokenKind
from billcore.errors import ValidationFailed
from billcore.portal import services as portal
from billcore.portal.services import Me

router = Router(tags=["me (customer self-care)"])
PDF = "application/pdf"


class CustomerBearer(HttpBearer):
    """A customer token of ``POST /me/login``; ``request.me`` is the customer (``Me``)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        login = logins.login_for_token(token, kind=CustomerTokenKind.API, now=now())
        if login is None:
            return None
        me = portal.me_for(login)  # SignInRefused (403) when the customer lost its access
        request.me = me  # type: ignore[attr-defined]
        return me


auth = CustomerBearer()


def _me(request: HttpRequest) -> Me:
    me: Me = request.me  # type: ignore[attr-defined]
    return me


class MeLoginIn(Schema):
    model_config = ConfigDict(extra="forbid")
    login: str
    password: str
    code: str | None = Field(None, description="TOTP code, when two-factor authentication is on")


class MeLoginOut(Schema):
    token: str
    expires_at: dt.datetime


@router.post("/login", auth=None, response={200: MeLoginOut, 401: Error, 403: Error, 429: Error})
def login(request: HttpRequest, payload: MeLoginIn) -> MeLoginOut | HttpResponse:
    """A customer token valid 12 hours. 401 for a wrong login, password or code (code
    ``totp_required`` when a code is needed), 403 when the customer may not sign in (blocked,
    terminated, exported, login disabled), 429 with ``Retry-After`` while locked out."""
    at = now()
    try:
        found = logins.authenticate(
            request, name=payload.login, password=payload.password, code=payload.code, now=at
        )
    except lockout.LockedOut as exc:
        response = error_response(
            request, exc.status, code=exc.code, message=exc.message, field=exc.field
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    logins.signed_in(login=found, now=at)
    token, expires = logins.create_token(
        login=found, kind=CustomerTokenKind.API, now=at, lifetime=logins.API_TOKEN_LIFETIME
    )
    return MeLoginOut(token=token, expires_at=expires)


@router.post("/logout", auth=auth, response={204: None, 401: Error})
def logout(request: HttpRequest) -> Status[None]:
    """Revoke the token of this call."""
    header = request.headers.get("Authorization", "")
    logins.revoke_token(header.partition(" ")[2].strip())
    return Status(204, None)


class MeOverviewOut(Schema):
    customer_id: int
    name: str
    currency: str
    balance_control: str
    balance: Decimal = Field(description="What the customer owes (postpaid sign convention)")
    available_funds: Decimal | None = Field(description="Prepaid only")
    credit_limit: Decimal | None
    status: str
    blocked: bool
    read_only: bool = Field(description="Provisionally terminated: see and pay the last invoice")
    next_invoice_at: dt.datetime | None
    unpaid_total: Decimal
    unpaid_count: int
    login: str
    time_zone: str
    language: str


@router.get("", auth=auth, response={200: MeOverviewOut, 401: Error, 403: Error})
def overview(request: HttpRequest) -> MeOverviewOut:
    me = _me(request)
    o = portal.overview(me, now=now())
    c = me.customer
    return MeOverviewOut(
        customer_id=c.pk,
        name=c.name,
        currency=c.currency_id,
        balance_control=c.balance_control,
        balance=o.balance,
        available_funds=o.available_funds,
        credit_limit=o.credit_limit,
        status=c.status,
        blocked=c.blocked,
        read_only=me.read_only,
        next_invoice_at=o.next_invoice_at,
        unpaid_total=o.unpaid_total,
        unpaid_count=o.unpaid_count,
        login=me.login.login,
        time_zone=me.login.time_zone,
        language=me.login.language,
    )


class MeXdrFilters(Schema):
    service: str | None = None
    status: str | None = None
    start: dt.datetime | None = Field(None, description="Inclusive")
    end: dt.datetime | None = Field(None, description="Exclusive")
    account: int | None = None
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class MeXdrOut(Schema):
    id: int
    started_at: dt.datetime
    account: str | None
    service: str
    quantity: Decimal
    unit: str
    amount: Decimal
    status: str


class MeXdrListOut(Schema):
    total: int
    items: list[MeXdrOut]
    summary: dict[str, Any]


@router.get("/xdrs", auth=auth, response={200: MeXdrListOut, 400: Error, 401: Error, 404: Error})
def xdrs(request: HttpRequest, filters: Query[MeXdrFilters]) -> MeXdrListOut:
    me = _me(request)
    rows = portal.xdrs(
        me,
        service=filters.service,
        status=filters.status,
        start=filters.start,
        end=filters.end,
        account_id=filters.account,
    )
    page = list(rows[filters.offset : filters.offset + filters.limit])
    return MeXdrListOut(
        total=rows.count(),
        items=[
            MeXdrOut(
                id=x.pk,
                started_at=x.started_at,
                account=x.account.identifier if x.account else None,
                service=x.service,
                quantity=x.quantity,
                unit=x.unit,
                amount=x.amount,
                status=x.status,
            )
            for x in page
        ],
        summary=portal.xdr_summary(rows),
    )


class MeInvoiceOut(Schema):
    id: int
    number: str
    issued_at: dt.datetime
    due_at: dt.datetime
    currency: str
    total: Decimal
    amount_due: Decimal
    status: str


def _invoice(i: Any) -> MeInvoiceOut:
    return MeInvoiceOut(
        id=i.pk,
        number=i.number,
        issued_at=i.issued_at,
        due_at=i.due_at,
        currency=i.currency,
        total=i.total,
        amount_due=i.amount_due,
        status=i.status,
    )


@router.get("/invoices", auth=auth, response={200: list[MeInvoiceOut], 401: Error})
def invoices(request: HttpRequest) -> list[MeInvoiceOut]:
    return [_invoice(i) for i in portal.invoices(_me(request))[:500]]


@router.get(
    "/invoices/{invoice_id}/pdf",
    auth=auth,
    response={200: None, 401: Error, 404: Error},
    openapi_extra={"responses": {200: {"description": "The invoice as PDF", "content": {PDF: {}}}}},
)
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    found, body = portal.pdf(_me(request), invoice_id)
    response = HttpResponse(body, content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="invoice-{found.number}.pdf"'
    return response


class MePayIn(Schema):
    model_config = ConfigDict(extra="forbid")
    idempotency_key: str = Field(description="The same key again pays (and charges) once")


@router.post(
    "/invoices/{invoice_id}/pay",
    auth=auth,
    response={200: MeInvoiceOut, 400: Error, 401: Error, 403: Error, 404: Error},
)
def pay_invoice(request: HttpRequest, invoice_id: int, payload: MePayIn) -> MeInvoiceOut:
    """Pay what the invoice still owes with the saved card, through the configured gateway."""
    paid = portal.pay_invoice(
        _me(request), now=now(), invoice_id=invoice_id, idempotency_key=payload.idempotency_key
    )
    return _invoice(paid)


class MeTopUpIn(Schema):
    model_config = ConfigDict(extra="forbid")
    amount: str
    idempotency_key: str


class MeBalanceOut(Schema):
    balance: Decimal


@router.post("/top-up", auth=auth, response={200: MeBalanceOut, 400: Error, 401: Error, 403: Error})
def top_up(request: HttpRequest, payload: MeTopUpIn) -> MeBalanceOut:
    balance = portal.top_up(
        _me(request), now=now(), amount=payload.amount, idempotency_key=payload.idempotency_key
    )
    return MeBalanceOut(balance=balance)


class MeTransactionOut(Schema):
    id: int
    created_at: dt.datetime
    action: str
    amount: Decimal
    balance_after: Decimal
    account: str | None
    comment: str


@router.get("/payments", auth=auth, response={200: list[MeTransactionOut], 401: Error})
def payments(request: HttpRequest) -> list[MeTransactionOut]:
    """The customer's ledger (newest first, at most 500; hidden balance resets left out)."""
    return [
        MeTransactionOut(
            id=t.pk,
            created_at=t.created_at,
            action=t.action,
            amount=t.amount,
            balance_after=t.balance_after,
            account=t.account.identifier if t.account else None,
            comment=t.visible_comment,
        )
        for t in portal.transactions(_me(request))[:500]
    ]


class MeAccountOut(Schema):
    id: int
    identifier: str
    account_type: str
    balance: Decimal
    available_funds: Decimal | None
    blocked: bool
    terminated: bool


def _account(a: Any) -> MeAccountOut:
    return MeAccountOut(
        id=a.pk,
        identifier=a.identifier,
        account_type=a.account_type,
        balance=a.balance,
        available_funds=a.available_funds,
        blocked=a.blocked,
        terminated=a.terminated_at is not None,
    )


class MeAccountsOut(Schema):
    transfers_allowed: bool
    accounts: list[MeAccountOut]


@router.get("/accounts", auth=auth, response={200: MeAccountsOut, 401: Error})
def accounts(request: HttpRequest) -> MeAccountsOut:
    me = _me(request)
    return MeAccountsOut(
        transfers_allowed=portal.transfers_allowed(me),
        accounts=[_account(a) for a in portal.accounts(me)],
    )


class MeTransferIn(Schema):
    model_config = ConfigDict(extra="forbid")
    from_account: int
    to_account: int
    amount: str
    idempotency_key: str | None = None


@router.post(
    "/transfers",
    auth=auth,
    response={200: list[MeAccountOut], 400: Error, 401: Error, 403: Error, 404: Error},
)
def transfer(request: HttpRequest, payload: MeTransferIn) -> list[MeAccountOut]:
    """A subscriber-to-subscriber transfer between two of the customer's accounts (CC-21);
    answers with both accounts after it."""
    me = _me(request)
    if payload.amount.strip() == "":
        raise ValidationFailed("amount is required", field="amount", code="required")
    portal.transfer(
        me,
        now=now(),
        from_account=payload.from_account,
        to_account=payload.to_account,
        amount=payload.amount,
        idempotency_key=payload.idempotency_key,
    )
    return [
        _account(portal.own_account(me, payload.from_account)),
        _account(portal.own_account(me, payload.to_account)),
    ]


class MeDidOut(Schema):
    number: str
    account: str | None
    recurring_price: Decimal = Field(description="Charged per billing period")
    assigned_at: dt.datetime


@router.get("/dids", auth=auth, response={200: list[MeDidOut], 401: Error})
def dids(request: HttpRequest) -> list[MeDidOut]:
    """The numbers (DIDs) the customer holds now."""
    return [
        MeDidOut(
            number=f"+{a.did.number}",
            account=a.account.identifier if a.account else None,
            recurring_price=a.recurring_price,
            assigned_at=a.assigned_at,
        )
        for a in portal.dids(_me(request))
    ]


class MeEntryOut(Schema):
    id: int
    abbreviated: str
    number: str
    account: int | None
    description: str


class MeDialingOut(Schema):
    max_length: int | None
    entries: list[MeEntryOut]


class MeEntryIn(Schema):
    model_config = ConfigDict(extra="forbid")
    abbreviated: str
    number: str | None = None
    account: int | None = Field(None, description="One of the customer's accounts")
    description: str | None = None


def _entry(e: Any) -> MeEntryOut:
    return MeEntryOut(
        id=e.pk,
        abbreviated=e.abbreviated,
        number=e.number,
        account=e.account_id,
        description=e.description,
    )


@router.get("/abbreviated-dialing", auth=auth, response={200: MeDialingOut, 401: Error})
def abbreviated_dialing(request: HttpRequest) -> MeDialingOut:
    """The customer's abbreviated dialing (speed dial) entries."""
    found = portal.speed_dial(_me(request))
    return MeDialingOut(max_length=found.max_length, entries=[_entry(e) for e in found.entries])


@router.post(
    "/abbreviated-dialing",
    auth=auth,
    response={201: MeEntryOut, 400: Error, 401: Error, 403: Error, 404: Error},
)
def add_abbreviated(request: HttpRequest, payload: MeEntryIn) -> Status[MeEntryOut]:
    """Add an abbreviated number (an account of the customer, an E.164 number, or neither)."""
    data = payload.model_dump(exclude_none=True)
    entry = portal.add_speed_dial(_me(request), now=now(), data=data)
    return Status(201, _entry(entry))


@router.delete(
    "/abbreviated-dialing/{entry_id}",
    auth=auth,
    response={204: None, 401: Error, 403: Error, 404: Error},
)
def delete_abbreviated(request: HttpRequest, entry_id: int) -> Status[None]:
    portal.delete_speed_dial(_me(request), now=now(), entry_id=entry_id)
    return Status(204, None)


class MeCounterOut(Schema):
    plan: str
    rule: int
    kind: str
    service: str
    account: str | None = Field(description="The account holding it; null: the customer's")
    used: Decimal
    volume: Decimal | None = Field(description="A quota's free volume (null: unlimited)")
    left: Decimal | None
    expires_at: dt.datetime | None


@router.get("/counters", auth=auth, response={200: list[MeCounterOut], 401: Error})
def counters(request: HttpRequest) -> list[MeCounterOut]:
    """The quota and discount counters of the customer's plans and its accounts' plans."""
    return [
        MeCounterOut(
            plan=u.rule.plan.name,
            rule=u.rule.pk,
            kind=u.rule.kind,
            service=u.rule.service_id,
            account=u.account.identifier if u.account else None,
            used=u.used,
            volume=u.volume,
            left=u.left,
            expires_at=u.expires_at,
        )
        for u in portal.plan_counters(_me(request), now=now())
        if u.rule.kind != "wallet"
    ]


class MeWalletOut(Schema):
    plan: str
    rule: int
    service: str
    account: str | None
    balance: Decimal
    measure: str
    expires_at: dt.datetime | None
    top_up_from_balance: bool


@router.get("/wallets", auth=auth, response={200: list[MeWalletOut], 401: Error})
def wallets(request: HttpRequest) -> list[MeWalletOut]:
    """The service wallets of the customer and its accounts (a wallet not used yet shows its
    initial volume)."""
    return [
        MeWalletOut(
            plan=u.rule.plan.name,
            rule=u.rule.pk,
            service=u.rule.service_id,
            account=u.account.identifier if u.account else None,
            balance=u.wallet.balance if u.wallet is not None else u.rule.initial_volume,
            measure=u.rule.measure,
            expires_at=u.expires_at,
            top_up_from_balance=bool(u.rule.topup_balance),
        )
        for u in portal.plan_counters(_me(request), now=now())
        if u.rule.kind == "wallet"
    ]


class MeWalletTopUpIn(Schema):
    model_config = ConfigDict(extra="forbid")
    rule: int = Field(description="The wallet's rule (``rule`` of ``GET /me/wallets``)")
    account: int | None = Field(None, description="The account holding it; null: the customer")
    amount: str
    idempotency_key: str


class MeWalletEntryOut(Schema):
    kind: str
    amount: Decimal
    balance_after: Decimal


@router.post(
    "/wallets",
    auth=auth,
    response={201: MeWalletEntryOut, 400: Error, 401: Error, 403: Error, 404: Error},
)
def top_up_wallet(request: HttpRequest, payload: MeWalletTopUpIn) -> Status[MeWalletEntryOut]:
    """Top up a service wallet from the balance (when its rule allows it)."""
    entry = portal.top_up_wallet(
        _me(request),
        now=now(),
        rule_id=payload.rule,
        account_id=payload.account,
        amount=payload.amount,
        idempotency_key=payload.idempotency_key,
    )
    return Status(
        201,
        MeWalletEntryOut(kind=entry.kind, amount=entry.amount, balance_after=entry.balance_after),
    )
