"""A user changes their own password: the old one must be right, the new one must pass
Django's password validators (``AUTH_PASSWORD_VALIDATORS``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from billcore.accounts.access import require_user
from billcore.audit.services import record
from billcore.errors import ValidationFailed


@transaction.atomic
def change_password(*, actor: Any, now: dt.datetime, old_password: Any, new_password: Any) -> None:
    """Change ``actor``'s password; the audit row says that it changed, never the hashes."""
    require_user(actor)
    if not isinstance(old_password, str) or not old_password:
        raise ValidationFailed("old_password is required", field="old_password", code="required")
    if not isinstance(new_password, str) or not new_password:
        raise ValidationFailed("new_password is required", field="new_password", code="required")
    if not actor.check_password(old_password):
        raise ValidationFailed(
            "old_password is not the current password", field="old_password", code="wrong"
        )
    try:
        validate_password(new_password, actor)
    except ValidationError as exc:
        raise ValidationFailed(
            "new_password: " + " ".join(exc.messages), field="new_password", code="weak"
        ) from None
    actor.set_password(new_password)
    actor.save(update_fields=["password"])
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=actor,
        before={"password": "(previous)"},
        after={"password": "(changed)"},
        object_type="user",
    )
