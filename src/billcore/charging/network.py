"""NAS clients and the network servers' counters (issue 15): the network elements allowed
to ask billcore (address + RADIUS shared secret) and what the servers dropped.

Administrators only: a NAS client is installation-wide (a reseller's NAS would authorise any
customer's accounts). The shared secret is stored as given, since the server signs and checks
packets with it; reads show it masked (:func:`masked`)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.charging.models import NasClient, NetworkCounter
from billcore.errors import Conflict, NotAllowed, NotFound, ValidationFailed

MIN_SECRET = 8
MAX_SECRET = 128


def masked(secret: str) -> str:
    """What pages and the API show of a secret: its length only, as bullets."""
    return "•" * min(len(secret), 12) if secret else ""


def _admin(actor: Actor) -> None:
    require_user(actor)
    if not is_admin(actor):
        raise NotAllowed("NAS clients are administered by the installation's operators")


def _audit_view(obj: NasClient) -> dict[str, Any]:
    data = snapshot(obj)
    data["secret"] = "(set)"
    return data


def _clean(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise ValidationFailed("name is required (at most 100 characters)", field="name")
        out["name"] = name.strip()
    if "address" in data or not partial:
        raw = data.get("address")
        try:
            out["address"] = str(ipaddress.ip_address(str(raw or "").strip()))
        except ValueError:
            raise ValidationFailed(
                "address must be an IPv4 or IPv6 address (e.g. 192.0.2.10)", field="address"
            ) from None
    if "secret" in data or not partial:
        secret = data.get("secret")
        if (
            not isinstance(secret, str)
            or not MIN_SECRET <= len(secret) <= MAX_SECRET
            or not secret.isprintable()
        ):
            raise ValidationFailed(
                f"secret must be {MIN_SECRET} to {MAX_SECRET} printable characters",
                field="secret",
            )
        out["secret"] = secret
    if "description" in data:
        description = data.get("description") or ""
        if not isinstance(description, str) or len(description) > 200:
            raise ValidationFailed(
                "description must be at most 200 characters", field="description"
            )
        out["description"] = description
    return out


def create_nas_client(*, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> NasClient:
    """Add a NAS client; its address and name are unique."""
    _admin(actor)
    values = _clean(data)
    try:
        with transaction.atomic():
            obj = NasClient.objects.create(**values, created_at=now, updated_at=now)
            record(
                actor=require_user(actor),
                now=now,
                operation="create",
                obj=obj,
                before=None,
                after=_audit_view(obj),
            )
    except IntegrityError:
        raise Conflict(
            "a NAS client with this name or address exists already",
            field="address",
            code="duplicate",
        ) from None
    return obj


def update_nas_client(
    *, actor: Actor, now: dt.datetime, nas_id: Any, data: dict[str, Any]
) -> NasClient:
    """Change a NAS client (a new secret replaces the old one)."""
    _admin(actor)
    values = _clean(data, partial=True)
    try:
        with transaction.atomic():
            obj = NasClient.objects.select_for_update().filter(pk=nas_id).first()
            if obj is None:
                raise NotFound(f"NAS client {nas_id} not found", field="nas")
            before = _audit_view(obj)
            for name, value in values.items():
                setattr(obj, name, value)
            obj.updated_at = now
            obj.save()
            after = _audit_view(obj)
            if "secret" in values:
                after["secret"] = "(changed)"
            record(
                actor=require_user(actor),
                now=now,
                operation="update",
                obj=obj,
                before=before,
                after=after,
            )
    except IntegrityError:
        raise Conflict(
            "a NAS client with this name or address exists already",
            field="address",
            code="duplicate",
        ) from None
    return obj


def find_nas_client(*, actor: Actor, ref: Any) -> NasClient:
    """A NAS client by id, name or address."""
    _admin(actor)
    text = str(ref).strip()
    rows = NasClient.objects.all()
    obj = (rows.filter(pk=int(text)).first() if text.isdigit() else None) or rows.filter(
        name=text
    ).first()
    if obj is None:
        try:
            obj = rows.filter(address=str(ipaddress.ip_address(text))).first()
        except ValueError:
            obj = None
    if obj is None:
        raise NotFound(f"NAS client {text!r} not found", field="nas")
    return obj


def remove_nas_client(*, actor: Actor, now: dt.datetime, ref: Any) -> None:
    """Remove a NAS client: its packets are dropped from then on."""
    obj = find_nas_client(actor=actor, ref=ref)
    with transaction.atomic():
        before = _audit_view(obj)
        pk = obj.pk
        obj.delete()
        obj.pk = pk
        record(
            actor=require_user(actor),
            now=now,
            operation="delete",
            obj=obj,
            before=before,
            after=None,
        )


def nas_clients(*, actor: Actor) -> list[NasClient]:
    _admin(actor)
    return list(NasClient.objects.order_by("name"))


def client_secrets() -> dict[str, tuple[str, str]]:
    """address -> (shared secret, name): what the RADIUS server serves. For the server only,
    never shown."""
    return {a: (s, n) for a, s, n in NasClient.objects.values_list("address", "secret", "name")}


def flush_counters(increments: dict[str, int], *, now: dt.datetime) -> None:
    """Add the servers' counter increments (one transaction)."""
    with transaction.atomic():
        for name, n in sorted(increments.items()):
            name = name[:80]
            done = NetworkCounter.objects.filter(name=name).update(
                value=F("value") + n, updated_at=now
            )
            if not done:
                NetworkCounter.objects.create(name=name, value=n, updated_at=now)


def counters(*, actor: Actor, prefix: str = "") -> dict[str, int]:
    """The counters (``prefix`` e.g. ``radius.``), by name."""
    _admin(actor)
    rows = NetworkCounter.objects.order_by("name")
    if prefix:
        rows = rows.filter(name__startswith=prefix)
    return dict(rows.values_list("name", "value"))
