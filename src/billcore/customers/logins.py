"""A customer's self-care login (issue 16 §1, CU-13 Web Self-Care tab): its settings, its
password and two-factor authentication, who may sign in, and the bearer secrets of apps and
``/rest/`` sessions.

Who may sign in (CU-02, CU-15 … CU-18, rating-and-tabs.md §3.5):

* a blocked customer (CU-02), a permanently terminated one (CU-17) and an exported one (CU-18)
  cannot, with a message saying why (given only after the right password, so a stranger learns
  nothing); nor can anybody through a disabled login;
* a suspended customer (or one over its credit limit) can, to pay;
* a provisionally terminated customer (CU-16) can, read-only: it sees its data and pays its
  last invoice (``READ_ONLY``).

The rules are checked again on every request (``access``), so a customer blocked while signed in
is out at its next click.

Throttling: the one lockout of every sign-in route (``accounts.lockout``, django-axes, per name
and client address), under the name ``selfcare:<login>`` so that a customer's failures never
lock an administrator who happens to share the name, and the reverse.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from typing import Any

import pyotp
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.db import transaction
from django.http import HttpRequest

from billcore.accounts import lockout
from billcore.accounts.access import Actor, SystemActor
from billcore.accounts.passwords import check_password as validate_password
from billcore.audit.services import record, snapshot
from billcore.core.text import name_key
from billcore.customers.models import (
    Customer,
    CustomerLogin,
    CustomerToken,
    CustomerTokenKind,
    Status,
)
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.validation import as_bool, as_choice, as_str, as_time_zone, reject_unknown

LANGUAGES = (("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français"))
LOGIN_FIELDS = {"login", "enabled", "time_zone", "language", "password"}
THROTTLE_PREFIX = "selfcare:"
TOTP_ISSUER = "billcore"
TICKET_SALT = "billcore.selfcare.sign-in-as"
TICKET_SECONDS = 120
API_TOKEN_LIFETIME = dt.timedelta(hours=12)
TOKEN_PREFIX = {CustomerTokenKind.API: "bcc_", CustomerTokenKind.PORTA: "bcp_"}


class Access(enum.Enum):
    FULL = "full"
    READ_ONLY = "read_only"  # CU-16: see everything, pay the last invoice


class SignInFailed(BillcoreError):
    """Wrong login, password or code (a counted failure); 401."""

    status = 401
    default_code = "auth_failed"


class SignInRefused(BillcoreError):
    """The right credentials, but this customer or login may not sign in; 403."""

    status = 403
    default_code = "sign_in_refused"


class CodeRequired(BillcoreError):
    """The password was right and two-factor authentication is on: a code is needed."""

    status = 401
    default_code = "totp_required"


# --------------------------------------------------------------------------- who may sign in


def refusal(customer: Customer) -> str | None:
    """Why this customer has no self-care at all, or None."""
    if customer.blocked:
        return "this customer is blocked: self-care is not available (CU-02)"
    if customer.status == Status.CLOSED:
        return "this customer is permanently terminated: self-care is closed (CU-17)"
    if customer.status == Status.EXPORTED:
        return "this customer was exported to another installation (CU-18)"
    return None


def access(login: CustomerLogin) -> Access:
    """What the login may do now; ``SignInRefused`` when nothing."""
    if not login.enabled:
        raise SignInRefused("this self-care login is disabled", field="login", code="disabled")
    why = refusal(login.customer)
    if why is not None:
        raise SignInRefused(why, field="login", code="not_allowed")
    if login.customer.status == Status.PROVISIONALLY_TERMINATED:
        return Access.READ_ONLY
    return Access.FULL


def _throttle_name(name: str) -> str:
    return THROTTLE_PREFIX + name


def find_login(name: Any) -> CustomerLogin | None:
    if not isinstance(name, str) or not name or len(name) > 64 or "\0" in name:
        return None
    return (
        CustomerLogin.objects.select_related("customer", "customer__currency")
        .filter(login_key=name_key(name))
        .first()
    )


def verify_code(login: CustomerLogin, code: Any, *, now: dt.datetime) -> bool:
    """A TOTP code of the login's secret (RFC 6238, 30-second steps, one step either side)."""
    if not login.totp_enabled or not login.totp_secret:
        return True
    if not isinstance(code, str):
        return False
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    return bool(pyotp.TOTP(login.totp_secret).verify(code, for_time=now, valid_window=1))


def check_credentials(
    *, name: Any, password: Any, code: Any = None, now: dt.datetime
) -> CustomerLogin:
    """The login with this name and password (and code, when two-factor authentication is
    on), allowed to sign in. ``SignInFailed`` for wrong credentials, ``CodeRequired`` when
    the code is missing, ``SignInRefused`` with the reason when the customer may not."""
    login = find_login(name)
    if (
        login is None
        or not isinstance(password, str)
        or not login.password
        or not check_password(password, login.password)
    ):
        if login is None:
            make_password(password if isinstance(password, str) else "")  # same time either way
        raise SignInFailed("wrong login or password", field="password")
    if login.totp_enabled and code in (None, ""):
        raise CodeRequired("enter the code of your authenticator app", field="code")
    if not verify_code(login, code, now=now):
        raise SignInFailed("wrong code", field="code", code="wrong_code")
    access(login)
    return login


def authenticate(
    request: HttpRequest, *, name: Any, password: Any, code: Any = None, now: dt.datetime
) -> CustomerLogin:
    """``check_credentials`` behind the shared sign-in lockout (per name and client
    address): a wrong password or code is a counted failure; ``lockout.LockedOut`` while
    locked, even with the right password. A refusal (blocked …) is no failure: the
    credentials were right."""
    throttled = _throttle_name(name if isinstance(name, str) else "")
    lockout.check_allowed(request, username=throttled, now=now)
    try:
        login = check_credentials(name=name, password=password, code=code, now=now)
    except SignInFailed:
        lockout.record_failure(request, username=throttled, now=now)
        raise
    lockout.record_success(request, username=throttled)
    return login


def signed_in(*, login: CustomerLogin, now: dt.datetime) -> None:
    CustomerLogin.objects.filter(pk=login.pk).update(last_sign_in_at=now)
    login.last_sign_in_at = now


def actor_for(login: CustomerLogin, *, acting: str = "") -> SystemActor:
    """The actor self-care passes to the services it calls once it has checked that what
    they touch is the customer's own: audit rows name the login (and the administrator
    acting as it)."""
    who = f"{login.login} (self-care)"
    return SystemActor(f"{acting} as {who}" if acting else who)


# --------------------------------------------------------------------------- the admin tab


def get_login(*, actor: Actor, customer_id: Any) -> CustomerLogin | None:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return CustomerLogin.objects.filter(customer=customer).first()


def _snapshot(login: CustomerLogin) -> dict[str, Any]:
    data = snapshot(login)
    data.pop("password", None)
    data["totp_secret"] = bool(data.get("totp_secret"))
    return data


def _require_login(*, actor: Actor, customer_id: Any) -> CustomerLogin:
    customer = get_customer(actor=actor, customer_id=customer_id)
    login = CustomerLogin.objects.select_for_update().filter(customer=customer).first()
    if login is None:
        raise NotFound("the customer has no self-care login yet", field="login")
    login.customer = customer
    return login


@transaction.atomic
def save_login(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: dict[str, Any]
) -> CustomerLogin:
    """Create or change the customer's self-care login: ``login`` (unique, any letter case),
    ``enabled``, ``time_zone``, ``language``; ``password`` (optional; a new login without one
    cannot sign in until one is set or generated)."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    reject_unknown(dict(data), LOGIN_FIELDS)
    existing = CustomerLogin.objects.select_for_update().filter(customer=customer).first()
    login = existing or CustomerLogin(customer=customer, created_at=now)
    before = _snapshot(existing) if existing else None
    if "login" in data or existing is None:
        name = as_str("login", data.get("login"), max_length=64, required=True)
        if any(ch.isspace() for ch in name):
            raise ValidationFailed("login must not contain spaces", field="login")
        key = name_key(name)
        clash = CustomerLogin.objects.filter(login_key=key).exclude(pk=login.pk).exists()
        if clash:
            raise ValidationFailed(
                f"login {name!r} is taken by another customer", field="login", code="taken"
            )
        login.login, login.login_key = name, key
    if "enabled" in data:
        login.enabled = as_bool("enabled", data["enabled"])
    if "time_zone" in data:
        login.time_zone = as_time_zone("time_zone", data["time_zone"])
    elif existing is None:
        login.time_zone = customer.time_zone
    if "language" in data:
        login.language = as_choice("language", data["language"], [c for c, _ in LANGUAGES])
    if data.get("password") not in (None, ""):
        login.password = make_password(
            validate_password(data["password"], user=None, field="password")
        )
        login.credentials_version += 1
    login.updated_at = now
    login.save()
    if existing is not None and not login.enabled:
        CustomerToken.objects.filter(login=login).delete()
    record(
        actor=actor,
        now=now,
        operation="update" if existing else "create",
        obj=login,
        before=before,
        after=_snapshot(login),
        object_type="customer_login",
    )
    return login


@transaction.atomic
def generate_password(*, actor: Actor, now: dt.datetime, customer_id: Any) -> str:
    """A new random password for the login, returned once (only its hash is kept)."""
    login = _require_login(actor=actor, customer_id=customer_id)
    password = secrets.token_urlsafe(12)
    _set_password(actor=actor, now=now, login=login, password=password)
    return password


def _set_password(*, actor: Actor, now: dt.datetime, login: CustomerLogin, password: str) -> None:
    login.password = make_password(password)
    login.credentials_version += 1
    login.updated_at = now
    login.save(update_fields=["password", "credentials_version", "updated_at"])
    CustomerToken.objects.filter(login=login).delete()
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=login,
        before={"password": "(hidden)"},
        after={"password": "(changed)"},
        object_type="customer_login",
    )


@transaction.atomic
def enable_totp(*, actor: Actor, now: dt.datetime, customer_id: Any) -> tuple[str, str]:
    """Two-factor authentication on, with a new secret: (the secret, its ``otpauth://`` URI)
    for the customer's authenticator app, shown once."""
    login = _require_login(actor=actor, customer_id=customer_id)
    before = _snapshot(login)
    login.totp_secret = pyotp.random_base32()
    login.totp_enabled = True
    login.updated_at = now
    login.save(update_fields=["totp_secret", "totp_enabled", "updated_at"])
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=login,
        before=before,
        after=_snapshot(login) | {"totp_reset": True},
        object_type="customer_login",
    )
    uri = pyotp.TOTP(login.totp_secret).provisioning_uri(name=login.login, issuer_name=TOTP_ISSUER)
    return login.totp_secret, uri


@transaction.atomic
def disable_totp(*, actor: Actor, now: dt.datetime, customer_id: Any) -> CustomerLogin:
    login = _require_login(actor=actor, customer_id=customer_id)
    before = _snapshot(login)
    login.totp_secret = ""
    login.totp_enabled = False
    login.updated_at = now
    login.save(update_fields=["totp_secret", "totp_enabled", "updated_at"])
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=login,
        before=before,
        after=_snapshot(login),
        object_type="customer_login",
    )
    return login


def sign_in_as_ticket(*, actor: Actor, now: dt.datetime, customer_id: Any) -> str:
    """A signed ticket, valid ``TICKET_SECONDS``, that opens the customer's self-care for the
    acting user (an administrator, or a reseller's user for its own customer): the step is
    audited here; self-care shows a banner while it lasts."""
    login = get_login(actor=actor, customer_id=customer_id)
    if login is None:
        raise NotFound("the customer has no self-care login yet", field="login")
    name = getattr(actor, "username", "") or "system"
    record(
        actor=actor,
        now=now,
        operation="create",  # a sign-in-as event (the audit's operations: create/update/delete)
        obj=login,
        before=None,
        after={"customer_id": login.customer_id, "login": login.login},
        object_type="selfcare_sign_in_as",
    )
    payload = {"login": login.pk, "by": name, "at": int(now.timestamp())}
    return signing.dumps(payload, salt=TICKET_SALT)


def redeem_ticket(ticket: Any, *, now: dt.datetime) -> tuple[CustomerLogin, str]:
    """(The login, the acting user's name) of a ticket of ``sign_in_as_ticket``; NotFound
    when it is forged or older than ``TICKET_SECONDS``."""
    try:
        payload = signing.loads(str(ticket), salt=TICKET_SALT)
        at = int(payload["at"])
        login_id = int(payload["login"])
        by = str(payload["by"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("the sign-in link is not valid", field="ticket") from None
    if not 0 <= now.timestamp() - at <= TICKET_SECONDS:
        raise NotFound("the sign-in link has expired; open it again", field="ticket")
    login = CustomerLogin.objects.select_related("customer").filter(pk=login_id).first()
    if login is None:
        raise NotFound("the sign-in link is not valid", field="ticket")
    return login, by


# --------------------------------------------------------------------------- the customer's own


@transaction.atomic
def change_own_password(
    *, login: CustomerLogin, now: dt.datetime, old_password: Any, new_password: Any
) -> None:
    """The customer's own password: the old one, and a new one the validators accept."""
    locked = CustomerLogin.objects.select_for_update().get(pk=login.pk)
    if not isinstance(old_password, str) or not check_password(old_password, locked.password):
        raise ValidationFailed("the current password is wrong", field="old_password")
    new = validate_password(new_password, user=None, field="new_password")
    _set_password(actor=actor_for(locked), now=now, login=locked, password=new)
    login.password = locked.password
    login.credentials_version = locked.credentials_version


# --------------------------------------------------------------------------- bearer secrets


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    *, login: CustomerLogin, kind: str, now: dt.datetime, lifetime: dt.timedelta
) -> tuple[str, dt.datetime]:
    """A new bearer secret of the login (shown once) and when it expires."""
    secret = TOKEN_PREFIX[CustomerTokenKind(kind)] + secrets.token_urlsafe(32)
    expires = now + lifetime
    CustomerToken.objects.filter(login=login, expires_at__lte=now).delete()
    CustomerToken.objects.create(
        login=login, kind=kind, digest=_digest(secret), created_at=now, expires_at=expires
    )
    return secret, expires


def login_for_token(secret: Any, *, kind: str, now: dt.datetime) -> CustomerLogin | None:
    """The login of a live token of this kind; None for anything else (an administrators'
    token, an expired or revoked one). Whether the customer may act is ``access``."""
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX[CustomerTokenKind(kind)]):
        return None
    row = (
        CustomerToken.objects.select_related("login__customer__currency")
        .filter(digest=_digest(secret), kind=kind, expires_at__gt=now)
        .first()
    )
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        CustomerToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.login


def revoke_token(secret: Any) -> bool:
    if not isinstance(secret, str):
        return False
    deleted, _ = CustomerToken.objects.filter(digest=_digest(secret)).delete()
    return deleted > 0
