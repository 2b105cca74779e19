"""``/api/v1`` for the network (issue 15): ``/nas`` (NAS clients: address + shared secret,
the secret never shown back), ``/nas/counters`` (what the RADIUS server dropped and
answered), ``/sessions`` (live network sessions: who, since when, the amount held; per
customer with ``?customer=``) and ``/accounts/{id}/radius-password``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.charging import network, sessions
from billcore.charging.models import NasClient, NetworkSession
from billcore.subscribers.radius import set_radius_password

router = Router(tags=["network"])


class NasIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str
    address: str = Field(description="The NAS's IP address, as its packets arrive from")
    secret: str = Field(description="The RADIUS shared secret (8-128 printable characters)")
    description: str = ""


class NasPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    address: str | None = None
    secret: str | None = None
    description: str | None = None


class NasOut(Schema):
    id: int
    name: str
    address: str
    secret: str = Field(description="Masked: the secret is never shown back")
    description: str
    created_at: dt.datetime


def _nas_out(obj: NasClient) -> dict[str, Any]:
    return {
        "id": obj.pk,
        "name": obj.name,
        "address": obj.address,
        "secret": network.masked(obj.secret),
        "description": obj.description,
        "created_at": obj.created_at,
    }


@router.get("/nas", response=list[NasOut])
def list_nas(request: AuthedRequest) -> list[dict[str, Any]]:
    return [_nas_out(n) for n in network.nas_clients(actor=request.auth)]


@router.post("/nas", response={201: NasOut})
def create_nas(request: AuthedRequest, payload: NasIn) -> Status[dict[str, Any]]:
    data = payload.model_dump()
    return Status(
        201, _nas_out(network.create_nas_client(actor=request.auth, now=now(), data=data))
    )


@router.get("/nas/counters", response=dict[str, int])
def nas_counters(request: AuthedRequest) -> dict[str, int]:
    return network.counters(actor=request.auth)


@router.patch("/nas/{nas_id}", response=NasOut)
def update_nas(request: AuthedRequest, nas_id: int, payload: NasPatch) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    obj = network.update_nas_client(actor=request.auth, now=now(), nas_id=nas_id, data=data)
    return _nas_out(obj)


@router.delete("/nas/{nas_id}", response={204: None})
def delete_nas(request: AuthedRequest, nas_id: int) -> Status[None]:
    network.remove_nas_client(actor=request.auth, now=now(), ref=nas_id)
    return Status(204, None)


class SessionFilters(Schema):
    customer: int | None = Field(None, ge=1)
    all: bool = Field(False, description="Closed sessions too (default: live ones only)")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class SessionOut(Schema):
    id: int
    nas: str
    session_key: str
    customer: int
    customer_name: str
    account: int
    account_identifier: str
    service: str
    cld: str
    status: str
    granted: int
    used: int
    charged: Decimal
    held: Decimal = Field(description="The amount still held for the session")
    authorized_at: dt.datetime
    started_at: dt.datetime | None
    closed_at: dt.datetime | None


class SessionPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SessionOut]


def session_row(s: NetworkSession) -> dict[str, Any]:
    held = Decimal(0)
    if s.reservation is not None and s.reservation.status == "open":
        held = s.reservation.amount
    return {
        "id": s.pk,
        "nas": s.nas,
        "session_key": s.session_key,
        "customer": s.customer_id,
        "customer_name": s.customer.name,
        "account": s.account_id,
        "account_identifier": s.account.identifier,
        "service": s.service,
        "cld": s.cld,
        "status": s.status,
        "granted": s.granted,
        "used": s.used,
        "charged": s.charged,
        "held": held,
        "authorized_at": s.authorized_at,
        "started_at": s.started_at,
        "closed_at": s.closed_at,
    }


@router.get("/sessions", response=SessionPage)
def list_sessions(request: AuthedRequest, filters: Query[SessionFilters]) -> dict[str, Any]:
    qs = sessions.sessions(actor=request.auth, live=not filters.all, customer_id=filters.customer)
    items = [session_row(s) for s in qs[filters.offset : filters.offset + filters.limit]]
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


class RadiusPasswordIn(Schema):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(
        description="The account's RADIUS password (PAP), stored hashed; null or empty clears it"
    )


class PasswordOut(Schema):
    account: int
    password_set: bool


@router.put("/accounts/{account_id}/radius-password", response=PasswordOut)
def put_radius_password(
    request: AuthedRequest, account_id: int, payload: RadiusPasswordIn
) -> dict[str, Any]:
    account = set_radius_password(
        actor=request.auth, now=now(), account_id=account_id, password=payload.password
    )
    return {"account": account.pk, "password_set": bool(account.radius_password)}
