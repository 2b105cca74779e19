"""API tokens: random secrets shown once; only their SHA-256 digest is stored.

A token found valid is remembered by this process for ``CACHE_SECONDS`` (its digest → its
user), so a busy client costs one look-up every few seconds instead of one per request. The
price: a token revoked (or a user deactivated) in another process is refused there within
``CACHE_SECONDS``, not at once; ``services.revoke_api_token`` forgets it in its own process at
once. A token's own expiry is checked on every request.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
import threading
import time

from billcore.accounts.models import ApiToken, User

TOKEN_PREFIX = "bc_"
CACHE_SECONDS = 5.0
_CACHE_LIMIT = 10_000

# digest → (valid until, on the monotonic clock; the token's expiry; its user)
_cache: dict[str, tuple[float, dt.datetime | None, User]] = {}
_cache_lock = threading.Lock()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_digest = digest


def default_lifetime() -> dt.timedelta | None:
    """How long a new token lives when its creator does not say:
    ``BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS`` (default 90; 0: never expires). Read by the
    interfaces (API, pages, CLI), which pass it to ``services.create_api_token``."""
    from django.conf import settings

    days = int(getattr(settings, "BILLCORE_TOKEN_DEFAULT_EXPIRY_DAYS", 90))
    return dt.timedelta(days=days) if days > 0 else None


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


def user_for_token(token: str, *, now: dt.datetime) -> User | None:
    digest = _digest(token)
    hit = _cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        _, expires_at, user = hit
        if expires_at is not None and expires_at <= now:
            return None
        return copy.copy(user)  # each request its own instance
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest)
        .only("id", "expires_at", "last_used_at", "user")
        .first()
    )
    if row is None or not row.user.is_active:
        forget(digest)
        return None
    if row.expires_at is not None and row.expires_at <= now:
        forget(digest)
        return None
    # Keep writes off the hot path: record use at most once a minute.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[digest] = (time.monotonic() + CACHE_SECONDS, row.expires_at, copy.copy(row.user))
    return row.user


def forget(digest: str) -> None:
    with _cache_lock:
        _cache.pop(digest, None)


def forget_user(user_id: int) -> None:
    """Forget every remembered token of this user (deactivated: refused at once here)."""
    with _cache_lock:
        for key in [k for k, v in _cache.items() if getattr(v[2], "pk", None) == user_id]:
            _cache.pop(key, None)
