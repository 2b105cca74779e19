"""One login throttle for every way in: the sign-in page (``/login/``), ``POST
/api/v1/auth/login`` and the ``/rest/`` ``Session/login`` (and every ``/rest/`` call that
carries a login in ``auth_info``).

It is django-axes (``axes`` in ``INSTALLED_APPS``, its backend first in
``AUTHENTICATION_BACKENDS``, its middleware last), configured in ``settings.py``:

* failures are counted per **user name and client address** together
  (``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]``): ``AXES_FAILURE_LIMIT``
  failed sign-ins of one name from one address, each within ``AXES_COOLOFF_TIME`` of the
  previous one, lock that name *from that address* for ``AXES_COOLOFF_TIME``. The same
  user from another address is not locked out, so nobody can lock the administrator out
  from everywhere. Unknown names are counted like known ones (no hint whether a name exists).
* a failure while locked does not prolong the lock (so ``Retry-After`` is the truth); a
  success from an address clears that address's failures for that name.
* the client address is the direct peer (``REMOTE_ADDR``), unless that peer is one of
  ``BILLCORE_TRUSTED_PROXIES``: then it is the right-most address of ``X-Forwarded-For``
  that is not itself a trusted proxy (:func:`client_address`).

The page answers a lockout with 429 and ``Retry-After`` (the middleware's
``AXES_LOCKOUT_CALLABLE``, in ``billcore.web``); the API raises :class:`LockedOut` into a 429
with ``Retry-After``; ``/rest/`` turns it into its ``Server.Session.auth_failed`` fault.
Administrators list and lift lockouts with :func:`list_lockouts` and :func:`unlock` (page,
API, CLI), each lift with an audit row.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest

from billcore.accounts.access import Actor, is_admin
from billcore.accounts.models import User
from billcore.audit.services import record
from billcore.errors import BillcoreError, NotFound, ValidationFailed

USERNAME_MAX = 255  # axes keeps the name in a 255-character column

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class LockedOut(BillcoreError):
    """Too many failed sign-ins of this name from this address: ``until`` is when the lock
    ends, ``retry_after`` the whole seconds until then (the ``Retry-After`` header)."""

    status = 429
    default_code = "locked_out"

    def __init__(self, *, username: str, address: str | None, until: dt.datetime, now: Any):
        self.username = username
        self.address = address
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        stamp = until.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(
            f"login {username!r} is locked after {failure_limit()} failed attempts from "
            f"{address or 'this address'}; try again after {stamp} UTC",
            field="username",
        )


def failure_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def cooloff() -> dt.timedelta:
    value = settings.AXES_COOLOFF_TIME
    assert isinstance(value, dt.timedelta)
    return value


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """axes' backend (first in ``AUTHENTICATION_BACKENDS``): refuses a locked name before the
    password is checked. A check of a password without an HTTP request (a test, a command at
    the machine) is no sign-in from a network address and is not throttled."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, **kwargs)
        return None


# --- what axes keys on ------------------------------------------------------------------------


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(request: HttpRequest) -> str | None:
    """The client's address (axes' ``AXES_CLIENT_IP_CALLABLE``): the direct peer, or, when
    the peer is a trusted proxy, the right-most ``X-Forwarded-For`` hop that is not one."""
    peer = _address(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    networks: list[Network] = getattr(settings, "BILLCORE_TRUSTED_PROXIES", [])
    if not networks or not _trusted(peer, networks):
        return str(peer)
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # a hop we cannot read: the last proxy we trust answers for it
        client = address
        if not _trusted(address, networks):
            break
    return str(client)


def clean_username(value: Any) -> str | None:
    """The user name as stored by axes: text only, no NUL, no lone surrogate, 255 at most."""
    if not isinstance(value, str):
        return None
    text = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")
    return text[:USERNAME_MAX]


def _readable(value: Any) -> bool:
    """Text every database and the password hasher can take."""
    if not isinstance(value, str) or "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """axes' ``AXES_USERNAME_CALLABLE``: the name from the credentials (or the posted form)."""
    if credentials and "username" in credentials:
        return clean_username(credentials["username"])
    return clean_username(getattr(request, "POST", {}).get("username"))


# --- the three sign-in routes -----------------------------------------------------------------


def _prepare(request: HttpRequest, now: dt.datetime | None) -> None:
    """Let axes read the request once, at the interface's clock when it has one."""
    AxesProxyHandler.update_request(request)
    if now is not None:
        request.axes_attempt_time = now  # type: ignore[attr-defined]


def lock_end(request: HttpRequest, username: str | None) -> dt.datetime | None:
    """When the lock of this name from this request's address ends; None when not locked."""
    _prepare(request, None)
    at: dt.datetime = request.axes_attempt_time  # type: ignore[attr-defined]
    rows = list(
        AccessAttempt.objects.filter(
            username=clean_username(username),
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
            attempt_time__gte=at - cooloff(),
        ).values_list("failures_since_start", "attempt_time")
    )
    if sum(f for f, _ in rows) < failure_limit():
        return None
    last: dt.datetime = max(t for _, t in rows)
    return last + cooloff()


def _locked_out(request: HttpRequest, username: str | None) -> LockedOut:
    at: dt.datetime = request.axes_attempt_time  # type: ignore[attr-defined]
    # axes clears rows at the very end of a lock, right after refusing: it ends now.
    until = lock_end(request, username) or at
    return LockedOut(
        username=clean_username(username) or "",
        address=request.axes_ip_address,  # type: ignore[attr-defined]
        until=until,
        now=at,
    )


def check_allowed(request: HttpRequest, *, username: str, now: dt.datetime | None = None) -> None:
    """Raise :class:`LockedOut` when this name is locked from this address."""
    _prepare(request, now)
    if not AxesProxyHandler.is_allowed(request, {"username": username}):
        raise _locked_out(request, username)


def record_failure(request: HttpRequest, *, username: str, now: dt.datetime | None = None) -> None:
    """Count a failed sign-in that did not go through ``authenticate`` (a /rest/ login with
    an API token); raises :class:`LockedOut` when this failure locks the name."""
    _prepare(request, now)
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    if getattr(request, "axes_locked_out", False):
        raise _locked_out(request, username)


def record_success(request: HttpRequest, *, username: str) -> None:
    """A sign-in that succeeded outside a page session (API, /rest/): that address's failures
    for that name are forgotten, as the sign-in page does through ``user_logged_in``."""
    _prepare(request, None)
    AccessAttempt.objects.filter(
        username=clean_username(username),
        ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
    ).delete()


def authenticate_password(
    request: HttpRequest, *, username: Any, password: Any, now: dt.datetime | None = None
) -> User | None:
    """The active user with this name and password, or None (a counted failure); raises
    :class:`LockedOut` when the name is locked from this address (even with the right
    password) or when this failure locks it."""
    _prepare(request, now)
    if not (_readable(username) and _readable(password)):
        # No user has such a name or password (NUL, a lone surrogate): a failure like any
        # other, counted without asking the database or the password hasher.
        check_allowed(request, username=username, now=now)
        record_failure(request, username=username, now=now)
        return None
    user = authenticate(request, username=username, password=password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise _locked_out(request, username)
        return None
    record_success(request, username=user.get_username())
    return user


# --- administration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    username: str
    address: str | None
    failures: int
    last_failure_at: dt.datetime
    locked_until: dt.datetime


def _require_admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise NotFound("not found")


def list_lockouts(*, actor: Actor, now: dt.datetime) -> list[Lockout]:
    """Names locked from an address now, newest failure first (administrators only)."""
    _require_admin(actor)
    groups: dict[tuple[str, str | None], list[tuple[int, dt.datetime]]] = {}
    rows = AccessAttempt.objects.filter(attempt_time__gt=now - cooloff()).values_list(
        "username", "ip_address", "failures_since_start", "attempt_time"
    )
    for username, address, failures, at in rows:
        groups.setdefault((username or "", address), []).append((failures, at))
    found = []
    for (username, address), items in groups.items():
        failures = sum(f for f, _ in items)
        if failures >= failure_limit():
            last = max(t for _, t in items)
            found.append(Lockout(username, address, failures, last, last + cooloff()))
    found.sort(key=lambda lock: (lock.last_failure_at, lock.username), reverse=True)
    return found


def unlock(*, actor: Actor, now: dt.datetime, username: Any, address: Any = None) -> int:
    """Forget the failed sign-ins of ``username`` (from ``address`` only, when given), locked
    or not; one audit row per (name, address) cleared. Returns how many were cleared."""
    _require_admin(actor)
    name = clean_username(username)
    if not name:
        raise ValidationFailed("username is required", field="username")
    rows = AccessAttempt.objects.filter(username=name)
    if address not in (None, ""):
        parsed = _address(address if isinstance(address, str) else None)
        if parsed is None:
            raise ValidationFailed(
                f"address must be an IPv4 or IPv6 address (got {address!r})", field="address"
            )
        rows = rows.filter(ip_address=str(parsed))
    with transaction.atomic():
        attempts = list(rows.select_for_update().order_by("ip_address", "pk"))
        if not attempts:
            where = f" from {address}" if address else ""
            raise NotFound(f"no failed sign-ins of {name!r}{where} to clear", field="username")
        by_address: dict[str | None, list[AccessAttempt]] = {}
        for attempt in attempts:
            by_address.setdefault(attempt.ip_address, []).append(attempt)
        for ip, group in by_address.items():
            last = max(a.attempt_time for a in group)
            failures = sum(a.failures_since_start for a in group)
            record(
                actor=actor,
                now=now,
                operation="delete",
                obj=group[0],
                object_type="login_lockout",
                object_repr=f"{name} from {ip or 'unknown address'}",
                before={
                    "username": name,
                    "address": ip,
                    "failures": failures,
                    "last_failure_at": last.isoformat(),
                    "locked": failures >= failure_limit() and last > now - cooloff(),
                },
                after=None,
            )
        AccessAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
    return len(by_address)
