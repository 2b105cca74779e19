"""Writing audit rows. Called by every service inside its transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

from django.db import models

from billcore.audit.models import AuditEntry


class Named(Protocol):
    """Who acted, as an audit row keeps it: a user row (``pk``) and a name. Every
    ``accounts.access.Actor`` fits (a user; the engine or the shell, no row; an anonymous
    visitor); audit sits beside accounts, which imports it, so it names only what it reads."""

    @property
    def pk(self) -> int | None: ...

    @property
    def username(self) -> str: ...


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's concrete field values (foreign keys as ids, many-to-many as sorted ids)."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        data[field.attname] = _jsonable(getattr(obj, field.attname))
    if obj.pk is not None:
        for m2m in obj._meta.many_to_many:
            data[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pk", flat=True))
    return data


def record(
    *,
    actor: Named | None,
    now: dt.datetime,
    operation: str,
    obj: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    object_type: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    return AuditEntry.objects.create(
        at=now,
        actor_id=(actor.pk or None) if actor is not None else None,
        actor_name=(actor.username if actor is not None else "") or "system",
        operation=operation,
        object_type=object_type or obj._meta.model_name or "",
        object_id=str(obj.pk),
        object_repr=(str(obj) if object_repr is None else object_repr)[:200],
        before=before,
        after=after,
    )
