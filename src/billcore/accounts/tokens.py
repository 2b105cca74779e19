"""API tokens: random secrets shown once; only their SHA-256 digest is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from billcore.accounts.models import ApiToken, User

TOKEN_PREFIX = "bc_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *, user: User, now: dt.datetime, name: str = "", expires_at: dt.datetime | None = None
) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        name=name,
        digest=_digest(token),
        prefix=token[:8],
        created_at=now,
        expires_at=expires_at,
    )
    return token


def user_for_token(token: str, *, now: dt.datetime) -> Any:
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(token))
        .only("id", "expires_at", "last_used_at", "user")
        .first()
    )
    if row is None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    # Keep writes off the hot path: record use at most once a minute.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def revoke_token(token: str) -> bool:
    return ApiToken.objects.filter(digest=_digest(token)).delete()[0] > 0
