"""An account's optional RADIUS password (issue 15): hashed with Django's password hashers,
checked when a NAS sends it in clear (PAP). CHAP cannot be checked against a hash: the
RADIUS adapter refuses it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record
from billcore.errors import NotFound, ValidationFailed
from billcore.subscribers.models import Account

MIN_LENGTH = 6
MAX_LENGTH = 128


def password_matches(password: str, hashed: str) -> bool:
    """Whether ``password`` is the one whose hash is ``hashed`` (False for no hash)."""
    return bool(hashed) and check_password(password, hashed)


def set_radius_password(
    *, actor: Actor, now: dt.datetime, account_id: Any, password: str | None
) -> Account:
    """Set (or, with None / empty, clear) the account's RADIUS password. Audited without
    the hash (the audit row says only that it was set or cleared)."""
    if password not in (None, "") and (
        not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH
    ):
        raise ValidationFailed(
            f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters", field="password"
        )
    user = require_user(actor)
    with transaction.atomic():
        rows = Account.objects.filter(pk=account_id)
        if not is_admin(actor):
            rows = rows.filter(customer__reseller_id=user.reseller_id)
        account = rows.select_for_update().first()
        if account is None:
            raise NotFound(f"account {account_id} not found", field="account")
        had = bool(account.radius_password)
        account.radius_password = make_password(password) if password else ""
        account.updated_at = now
        account.save(update_fields=["radius_password", "updated_at"])
        record(
            actor=user,
            now=now,
            operation="update",
            obj=account,
            before={"radius_password": "set" if had else ""},
            after={"radius_password": "set" if password else ""},
        )
    return account
