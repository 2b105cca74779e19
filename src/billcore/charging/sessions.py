"""Network sessions: the one authorize / usage service behind RADIUS and Diameter (issue 15).

A network element (a RADIUS NAS, a Diameter Gy peer) asks three things about a session, and
this module answers them with no protocol knowledge (the adapters in ``billcore.network`` map
reasons to their codes):

* :func:`open_session` — may the account use ``service`` towards ``cld`` now, and for how
  long? It is ``charging.services.authorize`` (statuses, rates, forbidden destinations,
  limits, the maximum duration of rating-and-tabs.md §4.3 / §7.1, and whatever authorize
  learns later: plans, concurrency limits) plus a reservation of the cost of the **whole**
  granted quantity (§4.4: a generic NAS enforces only the Session-Timeout, so the funds of
  the whole grant are locked). RADIUS Access-Request, Diameter CCR-Initial.
* :func:`start_session` — the session is up (RADIUS Accounting Start): it is listed live.
* :func:`interim` — the session has used ``used`` so far (cumulative, seconds for voice):
  charge rate(used) - what was already charged (one connection fee in all), the hold shrinks
  by it. Idempotent on (nas, session key, used): a repeat, or a smaller cumulative figure,
  changes nothing. RADIUS Interim-Update, Diameter CCR-Update (Used-Service-Unit summed by
  the adapter into a cumulative figure).
* :func:`close_session` — the session ended having used ``used``: rate it, charge what is not
  yet charged, commit the reservation and release the rest. Repeating it changes nothing. A
  close for a session billcore never authorised is rated and charged as usage (decided like
  any usage record: it may be denied). RADIUS Accounting Stop, Diameter CCR-Termination.

A session is keyed by (``nas``, ``session_key``): the NAS's address or the peer's
Origin-Host, and the session id it sends (Acct-Session-Id, Session-Id). A session that never
closes keeps its hold until the reservation expires (``expire_reservations``, run by the
engine): the hold lasts the granted time plus :data:`HOLD_GRACE_SECONDS`.

Every write runs in one transaction that locks the customer (and the reseller it charges)
first, then the account, then the reservation (``billcore.locks``); a session row is only
written under its customer's lock, so concurrent retransmissions serialise on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.charging.models import (
    NetworkSession,
    Reservation,
    ReservationStatus,
    Service,
    SessionStatus,
)
from billcore.charging.services import (
    AUTHORIZE_REASONS,
    UsageInput,
    authorize,
    charge,
    charge_held,
    lock_with_reseller,
    rate,
    release_reservation,
    reserve,
    service_code,
)
from billcore.core.charging import REASONS
from billcore.customers.models import BalanceControl, Customer
from billcore.errors import NotFound, ValidationFailed
from billcore.rating.models import BYTES_PER_UNIT
from billcore.rating.pricing import REFUSALS, Pricer
from billcore.subscribers.models import Account
from billcore.subscribers.radius import password_matches

ZERO = Decimal(0)
# A hold outlives its grant by this much (seconds), so a Stop that arrives a little late
# still finds it; a Stop that never comes is released by expiry after it.
HOLD_GRACE_SECONDS = 300
# A session key that starts with this was made up by an adapter for a request that carried
# no session id (an Access-Request without Acct-Session-Id): the first Start of the same NAS,
# account and called number without a known session adopts it.
PENDING_PREFIX = "~"
MAX_KEY = 200

SESSION_REASONS: dict[str, str] = {
    "unknown_account": "no account has this identifier",
    "wrong_password": "the password does not match the account's",
    "account_terminated": "the account is terminated",
    "unknown_session": "no session has this id and the request does not say whose it is",
}


def reason_message(reason: str) -> str:
    """A reason's sentence, for a Reply-Message or a page."""
    return (
        SESSION_REASONS.get(reason)
        or AUTHORIZE_REASONS.get(reason)
        or REASONS.get(reason)
        or REFUSALS.get(reason)
        or reason.replace("_", " ")
    )


@dataclass(frozen=True)
class SessionGrant:
    """:func:`open_session`'s answer.

    ``granted`` is what the element may use (seconds for voice, the service's base units
    otherwise): RADIUS Session-Timeout, Diameter Granted-Service-Unit; ``announced`` the
    figure to tell the caller (h323-credit-time; equal to ``granted``: fees are honest).
    ``amount`` is the money held for it (0 for a zero-priced destination, which holds
    nothing). Refused: ``allowed`` False, ``reason`` one of ``unknown_account``,
    ``wrong_password``, ``account_terminated``, the status reasons of
    ``core.charging.REASONS`` (``customer_blocked``, ``account_blocked``, …), the rating
    refusals (``no_rate``, ``forbidden_destination``, ``no_product``), ``insufficient_funds``
    (prepaid) or ``credit_limit_exceeded`` (postpaid), or a reason authorize adds later
    (e.g. ``concurrent_calls_limit``). ``prepaid`` tells the two kinds of customer apart.
    ``replayed``: the same (nas, session key) was authorised before; this is its grant.
    """

    allowed: bool
    reason: str
    message: str
    session_id: int | None
    granted: int
    announced: int
    amount: Decimal
    reservation_id: int | None
    prepaid: bool
    policy: str = ""
    replayed: bool = False


@dataclass(frozen=True)
class SessionUsage:
    """:func:`start_session` / :func:`interim` / :func:`close_session`'s answer.

    ``used`` the cumulative quantity charged so far, ``charged_now`` what this call charged,
    ``charged`` the session's total, ``remaining`` the grant not yet used (Diameter's next
    Granted-Service-Unit; 0 for a session that holds nothing), ``xdr_id`` the usage record
    this call wrote (None when nothing was written). ``reason`` is empty, or why the usage
    could not be charged (``unknown_account``, ``unknown_session``, a rating refusal, or a
    decision's reason when a close of an unknown session was denied). ``replayed``: a
    repeat, nothing changed."""

    session_id: int | None
    status: str
    used: int
    charged_now: Decimal
    charged: Decimal
    remaining: int
    xdr_id: int | None
    reason: str = ""
    replayed: bool = False


def _key(nas: Any, session_key: Any) -> tuple[str, str]:
    if not isinstance(nas, str) or not nas or len(nas) > 128:
        raise ValidationFailed("nas must be a non-empty string of at most 128", field="nas")
    if not isinstance(session_key, str) or not session_key or len(session_key) > MAX_KEY:
        raise ValidationFailed(
            f"session_key must be a non-empty string of at most {MAX_KEY}", field="session_key"
        )
    return nas, session_key


def _used(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed("used must be a whole number >= 0", field="used")
    return int(value)


def _find_account(actor: Actor, identifier: Any) -> tuple[int, int, bool, str, bool] | None:
    """(account id, customer id, terminated, password hash, prepaid) of the account with
    this identifier that ``actor`` may see, else None."""
    if not isinstance(identifier, str) or not identifier or len(identifier) > 100:
        return None
    rows = Account.objects.filter(identifier=identifier)
    user = require_user(actor)
    if not is_admin(actor):
        rows = rows.filter(customer__reseller_id=user.reseller_id)
    row = rows.values_list(
        "pk", "customer_id", "terminated_at", "radius_password", "customer__balance_control"
    ).first()
    if row is None:
        return None
    return row[0], row[1], row[2] is not None, row[3], row[4] == BalanceControl.PREPAID


def _refused(reason: str, *, prepaid: bool = False) -> SessionGrant:
    return SessionGrant(
        allowed=False,
        reason=reason,
        message=reason_message(reason),
        session_id=None,
        granted=0,
        announced=0,
        amount=ZERO,
        reservation_id=None,
        prepaid=prepaid,
    )


def _grant_of(
    s: NetworkSession, *, replayed: bool, prepaid: bool, policy: str = ""
) -> SessionGrant:
    amount: Decimal = ZERO
    if s.reservation_id is not None:
        held = (
            Reservation.objects.filter(pk=s.reservation_id).values_list("amount", flat=True).first()
        )
        amount = Decimal(held) if held is not None else ZERO
    return SessionGrant(
        allowed=True,
        reason="",
        message="",
        session_id=s.pk,
        granted=int(s.granted),
        announced=int(s.announced),
        amount=amount,
        reservation_id=s.reservation_id,
        prepaid=prepaid,
        policy=policy,
        replayed=replayed,
    )


def _hold_service(service: str) -> str:
    return service if service in Service.values else Service.OTHER.value


def open_session(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    account: str,
    cld: str,
    service: str = "voice",
    access_code: str = "",
    password: str | None = None,
    requested: int | None = None,
) -> SessionGrant:
    """Authorise a session and hold the money of its whole grant (see the module docstring).

    ``account`` is the account's identifier (RADIUS User-Name, Diameter Subscription-Id);
    ``password`` the clear-text password the element checked for us (RADIUS PAP), None when
    the element authenticates by its own address: an account with a RADIUS password set
    then needs it to match; an account without one is not asked. ``requested`` (optional)
    caps the grant (Diameter Requested-Service-Unit). The order of the checks is §4.2:
    account and password, statuses, rate, funds. Repeating a granted (nas, session_key)
    returns the first grant (``replayed``) and holds nothing more.
    """
    nas, session_key = _key(nas, session_key)
    svc = service_code(service or "voice")
    if requested is not None and (
        isinstance(requested, bool) or not isinstance(requested, int) or requested < 0
    ):
        raise ValidationFailed("requested must be a whole number >= 0", field="requested")
    found = _find_account(actor, account)
    if found is None:
        return _refused("unknown_account")
    aid, cid, terminated, hashed, prepaid = found
    if password is not None and hashed and not password_matches(password, hashed):
        return _refused("wrong_password", prepaid=prepaid)
    earlier = NetworkSession.objects.filter(nas=nas, session_key=session_key).first()
    if earlier is not None:
        return _grant_of(earlier, replayed=True, prepaid=prepaid)
    if terminated:
        return _refused("account_terminated", prepaid=prepaid)
    try:
        return _open(
            actor=actor,
            now=now,
            nas=nas,
            session_key=session_key,
            aid=aid,
            cid=cid,
            cld=cld,
            svc=svc,
            access_code=access_code or "",
            requested=requested,
            prepaid=prepaid,
        )
    except IntegrityError:
        # A retransmission authorised the same session concurrently: answer its grant.
        earlier = NetworkSession.objects.filter(nas=nas, session_key=session_key).first()
        if earlier is None:
            raise
        return _grant_of(earlier, replayed=True, prepaid=prepaid)


def _open(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    aid: int,
    cid: int,
    cld: str,
    svc: str,
    access_code: str,
    requested: int | None,
    prepaid: bool,
) -> SessionGrant:
    with transaction.atomic():
        # authorize locks the customer and the account for the rest of this transaction: the
        # funds it sees are still there when the hold is written below.
        result = authorize(
            actor=actor,
            now=now,
            account_id=aid,
            cld=cld,
            service=svc,
            access_code=access_code,
        )
        # Under the customer's lock now: a retransmission that was being answered at the same
        # time has committed its session, and its grant is the answer (not a refusal for the
        # funds it holds).
        twin = NetworkSession.objects.filter(nas=nas, session_key=session_key).first()
        if twin is not None:
            return _grant_of(twin, replayed=True, prepaid=prepaid)
        policy = str(getattr(result, "policy", "") or "")
        if not result.allowed:
            reason = result.reason
            if reason == "insufficient_funds" and not prepaid:
                reason = "credit_limit_exceeded"
            return _refused(reason, prepaid=prepaid)
        granted = int(result.max_duration or 0)
        amount = result.amount
        if requested is not None and requested < granted:
            granted = requested
            amount = _cost(aid, svc, cld, access_code, granted, now)
        reservation_id = None
        if amount > ZERO:
            held = reserve(
                actor=actor,
                now=now,
                account_id=aid,
                service=_hold_service(svc),
                amount=amount,
                seconds=min(granted + HOLD_GRACE_SECONDS, 7 * 24 * 3600),
            )
            if not held.allowed:
                return _refused(held.reason, prepaid=prepaid)
            reservation_id = held.reservation_id
        s = NetworkSession.objects.create(
            nas=nas,
            session_key=session_key,
            customer_id=cid,
            account_id=aid,
            service=svc,
            cld=str(cld)[:64],
            access_code=access_code[:8],
            granted=granted,
            announced=granted,
            reservation_id=reservation_id,
            authorized_at=now,
            updated_at=now,
        )
    return SessionGrant(
        allowed=True,
        reason="",
        message="",
        session_id=s.pk,
        granted=granted,
        announced=granted,
        amount=amount,
        reservation_id=reservation_id,
        prepaid=prepaid,
        policy=policy,
    )


def _reported(service: str, quantity: int) -> Decimal:
    """A session's quantity (whole base units of its service: seconds, messages, or for a
    byte-measured service such as data, its base unit, 1 MB by default) as rating reads a
    quantity without a unit: seconds, messages or units as they are, bytes for data."""
    per = BYTES_PER_UNIT.get(Pricer().service(service).base_unit)
    return Decimal(quantity * per) if per else Decimal(quantity)


def _usage_input(s: NetworkSession, quantity: int, *, amount: Decimal | None = None) -> UsageInput:
    return UsageInput(
        service=s.service,
        amount=amount,
        quantity=_reported(s.service, quantity),
        unit="",
        started_at=s.started_at or s.authorized_at,
        details={"nas": s.nas, "session": s.session_key, "used": quantity},
        external_id=None,
        cld=s.cld or None,
        access_code=s.access_code or None,
    )


def _cost(
    aid: int, svc: str, cld: str, access_code: str, quantity: int, now: dt.datetime
) -> Decimal:
    usage = UsageInput(
        service=svc,
        amount=None,
        quantity=_reported(svc, quantity),
        unit="",
        started_at=now,
        details={},
        external_id=None,
        cld=cld,
        access_code=access_code or None,
    )
    return rate(usage, aid).amount


def _state(
    s: NetworkSession,
    *,
    charged_now: Decimal = ZERO,
    xdr_id: int | None = None,
    reason: str = "",
    replayed: bool = False,
) -> SessionUsage:
    remaining = max(0, int(s.granted) - int(s.used)) if s.status != SessionStatus.CLOSED else 0
    return SessionUsage(
        session_id=s.pk,
        status=s.status,
        used=int(s.used),
        charged_now=charged_now,
        charged=s.charged,
        remaining=remaining,
        xdr_id=xdr_id,
        reason=reason,
        replayed=replayed,
    )


def _unknown(reason: str) -> SessionUsage:
    return SessionUsage(
        session_id=None,
        status="unknown",
        used=0,
        charged_now=ZERO,
        charged=ZERO,
        remaining=0,
        xdr_id=None,
        reason=reason,
    )


def _adopt_or_create(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    account: str | None,
    cld: str | None,
    service: str,
    started_at: dt.datetime | None,
) -> NetworkSession | SessionUsage:
    """The session of an accounting request whose key is not known: the oldest pending
    authorisation of the same NAS, account and called number (re-keyed), else a new live
    session that holds nothing (its usage is charged as usage)."""
    found = _find_account(actor, account) if account else None
    if found is None:
        return _unknown("unknown_account" if account else "unknown_session")
    aid, cid, _terminated, _hashed, _prepaid = found
    with transaction.atomic():
        lock_with_reseller(cid, aid, None)
        pending = (
            NetworkSession.objects.filter(
                nas=nas,
                account_id=aid,
                status=SessionStatus.AUTHORIZED,
                session_key__startswith=PENDING_PREFIX,
            )
            .filter(Q(cld=cld or "") if cld else Q())
            .order_by("pk")
            .first()
        )
        if pending is not None:
            NetworkSession.objects.filter(pk=pending.pk).update(
                session_key=session_key, updated_at=now
            )
            pending.session_key = session_key
            return pending
        return NetworkSession.objects.create(
            nas=nas,
            session_key=session_key,
            customer_id=cid,
            account_id=aid,
            service=service_code(service or "voice"),
            cld=(cld or "")[:64],
            status=SessionStatus.LIVE,
            authorized_at=started_at or now,
            started_at=started_at or now,
            updated_at=now,
        )


def _session(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    account: str | None,
    cld: str | None,
    service: str,
    started_at: dt.datetime | None,
) -> NetworkSession | SessionUsage:
    s = NetworkSession.objects.filter(nas=nas, session_key=session_key).first()
    if s is not None:
        require_user(actor)
        if (
            not is_admin(actor)
            and not Customer.objects.filter(
                pk=s.customer_id, reseller_id=require_user(actor).reseller_id
            ).exists()
        ):
            raise NotFound("session not found", field="session_key")
        return s
    try:
        return _adopt_or_create(
            actor=actor,
            now=now,
            nas=nas,
            session_key=session_key,
            account=account,
            cld=cld,
            service=service,
            started_at=started_at,
        )
    except IntegrityError:
        s = NetworkSession.objects.filter(nas=nas, session_key=session_key).first()
        if s is None:
            raise
        return s


def start_session(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    account: str | None = None,
    cld: str | None = None,
    service: str = "voice",
    started_at: dt.datetime | None = None,
) -> SessionUsage:
    """The session is up (RADIUS Accounting Start): listed live from ``started_at`` (default
    ``now``), which is also the start its usage is rated at. A Start for an unknown key adopts
    a pending authorisation (:data:`PENDING_PREFIX`) or, with ``account``, records a live
    session that holds nothing. Repeating it changes nothing."""
    nas, session_key = _key(nas, session_key)
    found = _session(
        actor=actor,
        now=now,
        nas=nas,
        session_key=session_key,
        account=account,
        cld=cld,
        service=service,
        started_at=started_at,
    )
    if isinstance(found, SessionUsage):
        return found
    if found.status != SessionStatus.AUTHORIZED:
        return _state(found, replayed=True)
    with transaction.atomic():
        lock_with_reseller(found.customer_id, found.account_id, None)
        changed = NetworkSession.objects.filter(
            pk=found.pk, status=SessionStatus.AUTHORIZED
        ).update(status=SessionStatus.LIVE, started_at=started_at or now, updated_at=now)
    found.refresh_from_db()
    return _state(found, replayed=not changed)


def interim(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    used: int,
    account: str | None = None,
    cld: str | None = None,
    service: str = "voice",
    started_at: dt.datetime | None = None,
) -> SessionUsage:
    """The session has used ``used`` so far (cumulative): charge rate(used) - already charged
    and shrink the hold by it; the session is live. Nothing changes when ``used`` is not more
    than what was charged before (a retransmission, a reordered packet)."""
    return _account_usage(
        actor=actor,
        now=now,
        nas=nas,
        session_key=session_key,
        used=used,
        final=False,
        account=account,
        cld=cld,
        service=service,
        started_at=started_at,
    )


def close_session(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    used: int,
    account: str | None = None,
    cld: str | None = None,
    service: str = "voice",
    started_at: dt.datetime | None = None,
    cause: str = "",
) -> SessionUsage:
    """The session ended having used ``used`` in all: charge rate(used) - already charged,
    commit the hold and release the rest; the session is closed (``cause`` kept, e.g. the
    Acct-Terminate-Cause). A close for an unknown session with ``account`` and ``cld`` is
    rated and charged as usage. Repeating it changes nothing."""
    return _account_usage(
        actor=actor,
        now=now,
        nas=nas,
        session_key=session_key,
        used=used,
        final=True,
        account=account,
        cld=cld,
        service=service,
        started_at=started_at,
        cause=cause,
    )


def _account_usage(
    *,
    actor: Actor,
    now: dt.datetime,
    nas: str,
    session_key: str,
    used: int,
    final: bool,
    account: str | None,
    cld: str | None,
    service: str,
    started_at: dt.datetime | None,
    cause: str = "",
) -> SessionUsage:
    nas, session_key = _key(nas, session_key)
    quantity = _used(used)
    found = _session(
        actor=actor,
        now=now,
        nas=nas,
        session_key=session_key,
        account=account,
        cld=cld,
        service=service,
        started_at=started_at,
    )
    if isinstance(found, SessionUsage):
        return found
    s = found
    if s.status == SessionStatus.CLOSED or (not final and quantity <= s.used):
        return _state(s, replayed=True)
    if not s.cld:
        # Nothing to rate against (an unknown session without a called number).
        return _close_unrated(
            s, actor=actor, now=now, final=final, quantity=quantity, reason="no_rate"
        )
    total = rate(_usage_input(s, max(quantity, int(s.used))), s.account_id)
    reseller_id = total.reseller_id if total.charges_reseller else None
    with transaction.atomic():
        lock_with_reseller(s.customer_id, s.account_id, reseller_id)
        s = NetworkSession.objects.get(pk=s.pk)  # fresh, under the customer's lock
        if s.status == SessionStatus.CLOSED or (not final and quantity <= s.used):
            return _state(s, replayed=True)
        quantity = max(quantity, int(s.used))
        if total.refusal:
            return _close_unrated(
                s,
                actor=actor,
                now=now,
                final=final,
                quantity=quantity,
                reason=total.refusal,
                locked=True,
            )
        delta = max(ZERO, total.amount - s.charged)
        reseller_delta = None
        if total.reseller_amount is not None:
            reseller_delta = max(ZERO, total.reseller_amount - s.reseller_charged)
        charged_quantity = total.columns.charged_quantity
        columns = replace(
            total.columns,
            reseller_amount=reseller_delta,
            base_quantity=quantity - int(s.used),
            charged_quantity=charged_quantity,
        )
        part = replace(total, amount=delta, columns=columns)
        usage = _usage_input(s, quantity - int(s.used))
        usage = replace(usage, details={**usage.details, "used": quantity})
        xdr_id: int | None = None
        reason = ""
        held = (
            s.reservation_id is not None
            and Reservation.objects.filter(
                pk=s.reservation_id, status=ReservationStatus.OPEN
            ).exists()
        )
        if held or (s.reservation_id is not None and delta > ZERO):
            assert s.reservation_id is not None
            result, _status = charge_held(
                actor=actor,
                now=now,
                reservation_id=s.reservation_id,
                usage=usage,
                rated=part,
                final=final,
            )
            xdr_id = result.xdr_id
        elif delta > ZERO or s.charged == ZERO:
            # No hold (an unknown session, or a zero-priced one): charged as usage is.
            # The first charge is rated there (its record keeps the rate); a later one is
            # the difference, pre-rated here.
            first = s.used == 0 and s.charged == ZERO
            whole = _usage_input(s, quantity)
            result = charge(
                actor=actor,
                now=now,
                account_id=s.account_id,
                usage=replace(
                    whole if first else replace(usage, amount=delta),
                    external_id=f"ns:{s.pk}:{quantity}",
                ),
            )
            xdr_id = result.xdr_id
            reason = result.reason
            if not result.allowed:
                delta = ZERO
        updates: dict[str, Any] = {
            "used": quantity,
            "charged": s.charged + delta,
            "reseller_charged": s.reseller_charged + (reseller_delta or ZERO),
            "updated_at": now,
        }
        if xdr_id is not None:
            updates["xdr_id"] = xdr_id
        if s.status == SessionStatus.AUTHORIZED:
            updates["status"] = SessionStatus.LIVE
            updates["started_at"] = s.started_at or started_at or s.authorized_at
        if final:
            updates.update(status=SessionStatus.CLOSED, closed_at=now, close_reason=cause[:40])
        NetworkSession.objects.filter(pk=s.pk).update(**updates)
        s.refresh_from_db()
    return _state(s, charged_now=delta, xdr_id=xdr_id, reason=reason)


def _close_unrated(
    s: NetworkSession,
    *,
    actor: Actor,
    now: dt.datetime,
    final: bool,
    quantity: int,
    reason: str,
    locked: bool = False,
) -> SessionUsage:
    """Usage that cannot be rated (no called number, or the rate is gone): nothing is
    charged; a close releases the hold."""
    with transaction.atomic():
        if not locked:
            lock_with_reseller(s.customer_id, s.account_id, None)
        updates: dict[str, Any] = {"used": max(quantity, int(s.used)), "updated_at": now}
        if final:
            updates.update(status=SessionStatus.CLOSED, closed_at=now, close_reason=reason[:40])
            if s.reservation_id is not None:
                release_reservation(actor=actor, now=now, reservation_id=s.reservation_id)
        NetworkSession.objects.filter(pk=s.pk).update(**updates)
        s.refresh_from_db()
    return _state(s, reason=reason)


# --------------------------------------------------------------------------- reads


def sessions(
    *, actor: Actor, live: bool = True, customer_id: int | None = None
) -> QuerySet[NetworkSession]:
    """The sessions ``actor`` may see (a reseller: its customers'), newest first; ``live``:
    authorised or live ones whose hold is still open (or that hold nothing)."""
    user = require_user(actor)
    rows = NetworkSession.objects.select_related("account", "customer", "reservation")
    if not is_admin(actor):
        rows = rows.filter(customer__reseller_id=user.reseller_id)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    if live:
        rows = rows.filter(status__in=[SessionStatus.AUTHORIZED, SessionStatus.LIVE]).filter(
            Q(reservation__isnull=True) | Q(reservation__status=ReservationStatus.OPEN)
        )
    return rows.order_by("-pk")
