"""``Session`` service: login, refresh_access_token, ping, logout, change_password; how every
other call is authenticated; and the login lockout.

* ``login`` (``login`` + ``password``, or ``login`` + ``token`` = a billcore API token of
  that user) opens a session: a session id, an access token valid ``ACCESS_LIFETIME`` and a
  refresh token valid ``SESSION_LIFETIME``. Only SHA-256 digests are stored.
* The access token is a JWT (HS256, signed with ``SECRET_KEY``) carrying ``exp``, ``iat``,
  ``login``, ``sub`` (the user id) and ``sid`` (the session's number), so clients can read
  when to refresh. It is still checked against its session on every call (by ``sid`` and
  its digest): a logout or a refresh ends it at once, whatever its ``exp`` says.
* ``refresh_access_token`` exchanges the refresh token for a new access token and a new
  refresh token (the old one stops working); the session id stays and lives as long as
  the newest refresh token.
* Failed logins (``login``, and ``auth_info`` logins of any call) count towards the one
  lockout of every sign-in route, per login name and client address
  (``billcore.accounts.lockout``): while locked, even the right password is refused with the
  ``Server.Session.auth_failed`` fault (``…check_auth.auth_failed`` for ``auth_info``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest

from billcore.accounts import lockout
from billcore.accounts.access import Actor
from billcore.accounts.models import User
from billcore.accounts.services import change_password as change_user_password
from billcore.accounts.tokens import user_for_token
from billcore.porta.mapping import Fault, fmt_datetime
from billcore.porta.models import PortaSession

ACCESS_LIFETIME = dt.timedelta(hours=1)
SESSION_LIFETIME = dt.timedelta(hours=24)

AUTH_FAILED = "Server.Session.auth_failed"
CHECK_AUTH_FAILED = "Server.Session.check_auth.auth_failed"


@dataclass
class Call:
    """One API call as the handlers see it; ``actor`` is the user once authenticated
    (``authenticate_call``), anonymous until then."""

    service: str
    method: str
    params: dict[str, Any]
    now: dt.datetime
    bearer: str | None = None
    auth_info: dict[str, Any] | None = None
    actor: Actor = field(default_factory=AnonymousUser)
    request: HttpRequest | None = None  # the HTTP request: its client address for the lockout


Handler = Callable[[Call], dict[str, Any]]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- login and lockout ----------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def check_credentials(
    *,
    request: HttpRequest,
    login: Any,
    password: Any = None,
    token: Any = None,
    now: dt.datetime,
    code: str,
) -> User:
    """The active user with this login and password (or API token); a ``code`` fault
    otherwise. Failures count towards the shared lockout of that login from this address."""
    name = _text(login)
    if name is None or (_text(password) is None and _text(token) is None):
        raise Fault(code, "login and password (or login and token) are required")
    try:
        if _text(password) is not None:
            user = lockout.authenticate_password(request, username=name, password=password, now=now)
        else:
            lockout.check_allowed(request, username=name, now=now)
            found = user_for_token(str(token), now=now)
            user = found if found is not None and found.username == name else None
            if user is None:
                lockout.record_failure(request, username=name, now=now)
            else:
                lockout.record_success(request, username=name)
    except lockout.LockedOut as exc:
        raise Fault(code, exc.message) from None
    if user is None or not user.is_active:
        what = "password" if _text(password) is not None else "token"
        raise Fault(code, f"wrong login or {what}")
    return user


def _request(call: Call) -> HttpRequest:
    if call.request is None:
        raise Fault(AUTH_FAILED, "a login needs the HTTP request (its client address)")
    return call.request


JWT_ALGORITHM = "HS256"


def _access_token(session: PortaSession, expires_at: dt.datetime, now: dt.datetime) -> str:
    claims = {
        "sub": str(session.user_id),
        "login": session.user.username,
        "sid": session.pk,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, settings.SECRET_KEY, algorithm=JWT_ALGORITHM)


def _issue(session: PortaSession, now: dt.datetime) -> tuple[str, str]:
    """New access and refresh tokens of a saved session (the JWT names it)."""
    access = _access_token(session, now + ACCESS_LIFETIME, now)
    refresh = secrets.token_urlsafe(32)
    session.access_digest = _digest(access)
    session.refresh_digest = _digest(refresh)
    session.access_expires_at = now + ACCESS_LIFETIME
    session.refresh_expires_at = now + SESSION_LIFETIME
    return access, refresh


def login(call: Call) -> dict[str, Any]:
    p = call.params
    user = check_credentials(
        request=_request(call),
        login=p.get("login"),
        password=p.get("password"),
        token=p.get("token"),
        now=call.now,
        code=AUTH_FAILED,
    )
    # Housekeeping: the user's sessions that can no longer be used go.
    PortaSession.objects.filter(user=user, refresh_expires_at__lte=call.now).delete()
    session_id = secrets.token_hex(32)
    with transaction.atomic():
        session = PortaSession.objects.create(
            user=user,
            session_digest=_digest(session_id),
            # placeholders until the JWT, which names the saved session, is issued
            access_digest=_digest(secrets.token_hex(32)),
            refresh_digest=_digest(secrets.token_hex(32)),
            created_at=call.now,
            access_expires_at=call.now,
            refresh_expires_at=call.now,
        )
        access, refresh = _issue(session, call.now)
        session.save()
    return {
        "session_id": session_id,
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": fmt_datetime(session.access_expires_at),
    }


def refresh_access_token(call: Call) -> dict[str, Any]:
    token = _text(call.params.get("refresh_token"))
    if token is None:
        raise Fault(AUTH_FAILED, "refresh_token is required")
    with transaction.atomic():
        session = (
            PortaSession.objects.select_for_update()
            .select_related("user")
            .filter(refresh_digest=_digest(token))
            .first()
        )
        if session is None or session.refresh_expires_at <= call.now or not session.user.is_active:
            session = None
        else:
            access, refresh = _issue(session, call.now)
            session.save()
    if session is None:
        raise Fault(AUTH_FAILED, "the refresh token is invalid or expired; log in again")
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": fmt_datetime(session.access_expires_at),
    }


# --- authenticating a call ------------------------------------------------------------------


def _session_by(digest_field: str, secret: str) -> PortaSession | None:
    return (
        PortaSession.objects.select_related("user")
        .filter(**{digest_field: _digest(secret)}, user__is_active=True)
        .first()
    )


def _bearer_session(token: str, now: dt.datetime) -> PortaSession:
    """The session of an access token: a JWT of ours whose session still exists and still
    has this token as its current one (checked on every call)."""
    try:
        claims = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[JWT_ALGORITHM],
            # the expiry is checked against the call's clock below, from the session row
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sid"]},
        )
    except jwt.InvalidTokenError:
        raise Fault(CHECK_AUTH_FAILED, "the access token is not valid") from None
    sid = claims.get("sid")
    session = (
        PortaSession.objects.select_related("user")
        .filter(pk=sid, access_digest=_digest(token), user__is_active=True)
        .first()
        if isinstance(sid, int) and not isinstance(sid, bool) and 0 < sid < 2**63
        else None
    )
    if session is None:
        raise Fault(
            CHECK_AUTH_FAILED,
            "the access token is no longer valid: its session ended (logout) or it was "
            "replaced by Session/refresh_access_token",
        )
    if session.access_expires_at <= now:
        raise Fault(
            CHECK_AUTH_FAILED,
            f"the access token expired at {fmt_datetime(session.access_expires_at)} UTC; "
            "get a new one with Session/refresh_access_token",
        )
    return session


def _id_session(session_id: str, now: dt.datetime) -> PortaSession:
    session = _session_by("session_digest", session_id)
    if session is None or session.refresh_expires_at <= now:
        raise Fault(CHECK_AUTH_FAILED, "the session is not valid or has expired; log in again")
    return session


def authenticate_call(call: Call) -> User:
    """The user a call acts for, from ``auth_info`` (session_id, or login + password or
    token) or else ``Authorization: Bearer <access_token>``."""
    info = call.auth_info
    if info:
        session_id = _text(info.get("session_id"))
        if session_id is not None:
            return _id_session(session_id, call.now).user
        if "login" in info:
            return check_credentials(
                request=_request(call),
                login=info.get("login"),
                password=info.get("password"),
                token=info.get("token"),
                now=call.now,
                code=CHECK_AUTH_FAILED,
            )
        raise Fault(
            CHECK_AUTH_FAILED, "auth_info needs session_id, or login and password (or token)"
        )
    if call.bearer:
        return _bearer_session(call.bearer, call.now).user
    raise Fault(
        CHECK_AUTH_FAILED,
        "not authenticated: send 'Authorization: Bearer <access_token>' or auth_info",
    )


def _caller_session(call: Call) -> PortaSession | None:
    """The session named by the call's params or credentials, if any is valid."""
    p = call.params
    info: Mapping[str, Any] = call.auth_info or {}
    try:
        if _text(p.get("session_id")):
            return _id_session(p["session_id"], call.now)
        if _text(p.get("access_token")):
            return _bearer_session(p["access_token"], call.now)
        if _text(info.get("session_id")):
            return _id_session(info["session_id"], call.now)
        if call.bearer and not info:
            return _bearer_session(call.bearer, call.now)
    except Fault:
        return None
    return None


def ping(call: Call) -> dict[str, Any]:
    """``user_id`` of the session (params ``session_id``, else the caller's own); 0 when
    the session is not valid."""
    session = _caller_session(call)
    return {"user_id": session.user_id if session is not None else 0}


def logout(call: Call) -> dict[str, Any]:
    """End the session named by params ``session_id`` / ``access_token``, else the
    caller's own."""
    session = _caller_session(call)
    if session is None:
        raise Fault(CHECK_AUTH_FAILED, "no valid session to log out of")
    session.delete()
    return {"success": 1}


def change_password(call: Call) -> dict[str, Any]:
    """The caller's own password: ``old_password`` (or ``password``) and ``new_password``,
    which must pass the installation's password validators. ``login``, when given, must be
    the caller's. The user's other sessions end; the calling one stays."""
    user = call.actor
    if not isinstance(user, User):
        raise Fault(CHECK_AUTH_FAILED, "not authenticated")
    p = call.params
    login_name = p.get("login")
    if login_name not in (None, "") and login_name != user.username:
        raise Fault(
            "Client.Session.change_password.wrong_login",
            "login: a user changes only their own password (the logged-in user's)",
        )
    old = p.get("old_password") if p.get("old_password") not in (None, "") else p.get("password")
    with transaction.atomic():
        change_user_password(
            actor=user, now=call.now, old_password=old, new_password=p.get("new_password")
        )
        current = _caller_session(call)
        others = PortaSession.objects.filter(user=user)
        if current is not None:
            others = others.exclude(pk=current.pk)
        others.delete()
    return {"success": 1}


# name -> (handler, needs an authenticated actor)
METHODS: dict[str, tuple[Handler, bool]] = {
    "login": (login, False),
    "refresh_access_token": (refresh_access_token, False),
    "ping": (ping, False),
    "logout": (logout, False),
    "change_password": (change_password, True),
}
