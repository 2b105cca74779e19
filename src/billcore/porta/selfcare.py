"""``/rest/`` as the original's self-care clients use it (issue 16 §1): ``Session/login`` with a
customer's self-care login, then ``Customer/get_customer_info`` (``{}``: the signed-in
customer's own record) and ``Account/get_account_list`` (its own accounts).

* ``Session/login`` with a login that is a customer's self-care login (and not also an
  administrators' user name, which keeps its meaning) opens a customer session: a
  ``session_id`` valid ``SESSION_LIFETIME`` and an ``access_token`` valid ``ACCESS_LIFETIME``,
  both customer tokens (``customers.CustomerToken``, kind ``porta``, prefix ``bcp_``). There is
  no refresh token for a customer session: it signs in again. Failures count towards the shared
  lockout; two-factor authentication takes the code in ``totp_code``.
* A call with a customer session (``auth_info.session_id`` or ``Authorization: Bearer``) may
  only make the calls of ``CUSTOMER_CALLS``, always for its own customer: an ``i_customer`` of
  another customer is "not found"; every other call is the fault
  ``Server.<Service>.<method>.forbidden``. An administrator's session never acts as a customer
  and a customer's never as an administrator (different tables, different prefixes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from billcore.accounts import lockout
from billcore.accounts.models import User, username_key
from billcore.customers import logins
from billcore.customers.models import CustomerTokenKind
from billcore.errors import NotFound
from billcore.porta import accounts, customers
from billcore.porta.mapping import Fault, fmt_datetime
from billcore.porta.session import AUTH_FAILED, CHECK_AUTH_FAILED, Call
from billcore.portal import services as portal
from billcore.portal.services import Me
from billcore.validation import as_int

ACCESS_LIFETIME = dt.timedelta(hours=1)
SESSION_LIFETIME = dt.timedelta(hours=24)
PREFIX = logins.TOKEN_PREFIX[CustomerTokenKind.PORTA]


def _customer_name(params: dict[str, Any]) -> str | None:
    """The login of a ``Session/login`` meant for a customer's self-care, else None."""
    name = params.get("login")
    if not isinstance(name, str) or not name or logins.find_login(name) is None:
        return None
    if User.objects.filter(username_key=username_key(name)).exists():
        return None  # an administrators' user of that name keeps the name
    return name


def login(call: Call) -> dict[str, Any] | None:
    """A customer session, or None when the login is no customer's (the caller goes on with
    the administrators' ``Session/login``)."""
    name = _customer_name(call.params)
    if name is None:
        return None
    if call.request is None:
        raise Fault(AUTH_FAILED, "a login needs the HTTP request (its client address)")
    p = call.params
    try:
        found = logins.authenticate(
            call.request,
            name=name,
            password=p.get("password"),
            code=p.get("totp_code"),
            now=call.now,
        )
    except lockout.LockedOut as exc:
        raise Fault(AUTH_FAILED, exc.message) from None
    except logins.CodeRequired as exc:
        raise Fault(AUTH_FAILED, f"{exc.message} (param totp_code)") from None
    except (logins.SignInFailed, logins.SignInRefused) as exc:
        raise Fault(AUTH_FAILED, exc.message) from None
    logins.signed_in(login=found, now=call.now)
    session_id, _ = logins.create_token(
        login=found, kind=CustomerTokenKind.PORTA, now=call.now, lifetime=SESSION_LIFETIME
    )
    access, expires = logins.create_token(
        login=found, kind=CustomerTokenKind.PORTA, now=call.now, lifetime=ACCESS_LIFETIME
    )
    return {
        "session_id": session_id,
        "access_token": access,
        "expires_at": fmt_datetime(expires),
        "i_customer": found.customer_id,
    }


def _secret(call: Call) -> str | None:
    info = call.auth_info or {}
    for value in (info.get("session_id"), call.bearer):
        if isinstance(value, str) and value.startswith(PREFIX):
            return value
    return None


def me_of(call: Call) -> Me | None:
    """The customer a call acts for when it carries a customer session; None when it does
    not (the administrators' authentication goes on)."""
    secret = _secret(call)
    if secret is None:
        return None
    found = logins.login_for_token(secret, kind=CustomerTokenKind.PORTA, now=call.now)
    if found is None:
        raise Fault(CHECK_AUTH_FAILED, "the session is not valid or has expired; log in again")
    try:
        return portal.me_for(found)
    except logins.SignInRefused as exc:
        raise Fault(CHECK_AUTH_FAILED, exc.message) from None


def _own(call: Call, me: Me) -> Call:
    """The call with ``i_customer`` set to the customer's own (another one: not found) and
    acting as the customer."""
    given = call.params.get("i_customer")
    if given not in (None, "") and as_int("i_customer", given) != me.customer_id:
        raise NotFound(f"i_customer {given} not found", field="i_customer")
    call.params = {**call.params, "i_customer": me.customer_id}
    call.actor = me.actor
    return call


def _customer_info(call: Call, me: Me) -> dict[str, Any]:
    for key in ("name", "login", "refnum"):
        if call.params.get(key) not in (None, ""):
            raise NotFound(f"{key}: a customer session reads only its own record", field=key)
    return customers.get_customer_info(_own(call, me))


def _account_list(call: Call, me: Me) -> dict[str, Any]:
    return accounts.get_account_list(_own(call, me))


def _logout(call: Call, me: Me) -> dict[str, Any]:
    secret = _secret(call)
    logins.revoke_token(secret)
    return {"success": 1}


def _ping(call: Call, me: Me) -> dict[str, Any]:
    return {"user_id": 0, "i_customer": me.customer_id}


CUSTOMER_CALLS: dict[tuple[str, str], Callable[[Call, Me], dict[str, Any]]] = {
    ("Customer", "get_customer_info"): _customer_info,
    ("Account", "get_account_list"): _account_list,
    ("Session", "logout"): _logout,
    ("Session", "ping"): _ping,
}


def dispatch(call: Call, me: Me) -> dict[str, Any]:
    handler = CUSTOMER_CALLS.get((call.service, call.method))
    if handler is None:
        raise Fault(
            f"Server.{call.service}.{call.method}.forbidden",
            f"{call.service}/{call.method} is not available to a customer's self-care session",
        )
    return handler(call, me)
