"""Gy / Diameter Credit-Control (RFC 4006, application 4): a thin adapter over
``charging.sessions``, the same decisions as RADIUS and ``/authorize`` (rating-and-tabs.md
§4.2-§4.5, §7.1).

The mapping (docs/diameter.md has the whole table):

* **Who**: the account whose identifier is the Subscription-Id-Data (END_USER_E164 preferred,
  else the first Subscription-Id; User-Name when there is none). Unknown: 5030
  DIAMETER_USER_UNKNOWN.
* **Where to**: 3GPP Service-Information / IMS-Information / Called-Party-Address (TS 32.299,
  ``tel:+…`` or ``sip:…@…`` reduced to its number), else Called-Station-Id. For a voice
  session without either: 5005 DIAMETER_MISSING_AVP naming Called-Station-Id.
* **Which service**: the unit asked for in Requested-Service-Unit (or reported in
  Used-Service-Unit): CC-Time -> ``voice`` (seconds), CC-Total/Input/Output-Octets ->
  ``data`` (octets, converted to and from the data service's base unit, rounded up),
  CC-Service-Specific-Units -> ``messaging``; no unit: voice.
* **CCR-Initial** (1): ``open_session`` holds the money of the **whole** session the funds
  allow (§4.4, as for RADIUS: concurrent sessions can never overspend), then
  ``start_session``. The Granted-Service-Unit is that grant, or the Requested-Service-Unit
  when it asks for less (a client that asks in slices comes back with CCR-Update); when the
  grant is the rest of what the session may use, a Final-Unit-Indication (TERMINATE) says so.
  Validity-Time: the granted seconds for time, :data:`DATA_VALIDITY` for data.
* **CCR-Update** (2): Used-Service-Unit is the usage since the previous request (RFC 4006
  §8.19); billcore adds it to what the session has used and ``interim`` charges
  rate(cumulative) - charged. The next grant is min(requested, remaining); 4012 when nothing
  remains.
* **CCR-Termination** (3): ``close_session`` with the final usage: rated, committed, the rest
  of the hold released. A termination for a session billcore never saw is rated and charged
  as usage (as a RADIUS Stop is).
* **CCR-Event** (4): one-shot direct debiting of the requested units (e.g. an SMS): opened
  and closed at once; 4012 when the funds do not cover it.
* **Result codes**: 2001 success; 4012 DIAMETER_CREDIT_LIMIT_REACHED for want of money
  (prepaid without funds, postpaid at its credit limit, a daily fraud limit); 5030 unknown
  subscriber; 4010 DIAMETER_END_USER_SERVICE_DENIED for every other refusal (blocked,
  suspended, terminated or exported customer, blocked account, forbidden destination or no
  rate, wrong product); 5002 for an update of an unknown session. The refusal's reason rides in
  Error-Message (e.g. ``customer_blocked``). The Multiple-Services-Credit-Control answer
  carries the same Result-Code.

Retransmissions (same Session-Id and CC-Request-Number from the same peer) are answered from
a bounded in-memory cache of recent answers, so an Update's usage is never counted twice
while the server runs; the session service's own idempotency (a cumulative figure not above
what was charged changes nothing) covers Initial and Termination across restarts.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connections

from billcore.accounts.access import SystemActor
from billcore.charging import sessions
from billcore.charging.models import NetworkSession
from billcore.errors import ValidationFailed
from billcore.network.diameter import codec
from billcore.network.diameter.codec import Avp, DecodeError, Message, make
from billcore.network.diameter.server import Request
from billcore.rating.models import BYTES_PER_UNIT
from billcore.rating.pricing import Pricer

ACTOR = SystemActor("diameter")

INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4
# How long a data grant is valid before the client must report (seconds): PortaBilling's LTE
# example re-authorizes every 60 minutes (rating-and-tabs.md §4.5).
DATA_VALIDITY = 3600
FINAL_UNIT_TERMINATE = 0
END_USER_E164 = 0

_MONEY_REASONS = frozenset(
    {
        "insufficient_funds",
        "credit_limit_exceeded",
        "account_insufficient_funds",
        "account_limit_exceeded",
        "reseller_insufficient_funds",
        "fraud_daily_limit",
    }
)

# The unit AVP of each service in Requested/Used/Granted-Service-Unit.
_UNIT_AVP = {
    "voice": "CC-Time",
    "data": "CC-Total-Octets",
    "messaging": "CC-Service-Specific-Units",
}


def result_code(reason: str) -> int:
    """A session refusal's Result-Code (RFC 4006 §9)."""
    if not reason:
        return codec.SUCCESS
    if reason == "unknown_account":
        return codec.USER_UNKNOWN
    if reason in _MONEY_REASONS:
        return codec.CREDIT_LIMIT_REACHED
    if reason == "unknown_session":
        return codec.UNKNOWN_SESSION_ID
    return codec.END_USER_SERVICE_DENIED


@dataclass(frozen=True)
class _Units:
    """What a Requested/Used-Service-Unit says: the service it implies and its amount in
    the unit of the AVP (seconds, octets, units); None when it names no unit."""

    service: str | None
    amount: int | None


def _units(avp: Avp | None) -> _Units:
    if avp is None:
        return _Units(None, None)
    time = avp.find("CC-Time")
    if time is not None:
        return _Units("voice", time.uint())
    total = avp.find("CC-Total-Octets")
    parts = [avp.find("CC-Input-Octets"), avp.find("CC-Output-Octets")]
    if total is not None:
        return _Units("data", total.uint())
    if any(parts):
        return _Units("data", sum(p.uint() for p in parts if p is not None))
    units = avp.find("CC-Service-Specific-Units")
    if units is not None:
        return _Units("messaging", units.uint())
    return _Units(None, None)


def _used(avps: list[Avp]) -> _Units:
    """Several Used-Service-Units (e.g. split at a tariff change) add up."""
    service, total, seen = None, 0, False
    for avp in avps:
        u = _units(avp)
        if u.amount is not None:
            service, total, seen = service or u.service, total + u.amount, True
    return _Units(service, total if seen else None)


_DIGITS = re.compile(r"[^0-9*#A-Za-z]")


def destination(message: Message) -> str | None:
    """The called number: Called-Party-Address of IMS-Information (``tel:+4420…``,
    ``sip:+4420…@host;user=phone``) else Called-Station-Id, reduced to its digits."""
    raw: str | None = None
    info = message.find("Service-Information")
    ims = info.find("IMS-Information") if info is not None else None
    called = ims.find("Called-Party-Address") if ims is not None else None
    if called is not None:
        raw = called.text()
    else:
        station = message.find("Called-Station-Id")
        if station is not None:
            raw = station.text()
    if raw is None:
        return None
    number = raw.strip()
    for scheme in ("tel:", "sip:", "sips:"):
        if number.lower().startswith(scheme):
            number = number[len(scheme) :]
    number = number.split("@", 1)[0].split(";", 1)[0]
    return _DIGITS.sub("", number) or None


def subscriber(message: Message) -> str | None:
    """The account identifier: END_USER_E164 Subscription-Id first, else the first one,
    else User-Name (see :func:`identifiers` for the ``+``)."""
    ids = message.find_all("Subscription-Id")
    chosen = None
    for sid in ids:
        kind = sid.find("Subscription-Id-Type")
        if kind is not None and kind.int32() == END_USER_E164:
            chosen = sid
            break
    if chosen is None and ids:
        chosen = ids[0]
    if chosen is not None:
        data = chosen.find("Subscription-Id-Data")
        if data is not None:
            return data.text().strip() or None
    user = message.find("User-Name")
    return user.text().strip() or None if user is not None else None


def identifiers(subscriber: str) -> list[str]:
    """The identifiers to try for a subscriber, in order: as sent, then an E.164 number with
    its ``+`` added or dropped (``15551234567`` finds an account ``+15551234567``)."""
    if subscriber.startswith("+") and subscriber[1:].isdigit():
        return [subscriber, subscriber[1:]]
    if subscriber.isdigit():
        return [subscriber, "+" + subscriber]
    return [subscriber]


def _required(message: Message, name: str) -> Avp:
    avp = message.find(name)
    if avp is None:
        code, vendor = codec.BY_NAME[name]
        kind = codec.DICTIONARY[(code, vendor)][1]
        size = {codec.T.U32: 4, codec.T.ENUM: 4}.get(kind, 0)
        raise DecodeError(
            codec.MISSING_AVP,
            f"{name} is missing",
            failed_avp=codec.encode_avp(codec.Avp(code=code, data=bytes(size))),
        )
    return avp


def _bytes_per_unit(service: str) -> int:
    """Octets per base unit of the data service (1 MB = 10⁶ octets by default)."""
    svc = Pricer().service(service)
    return BYTES_PER_UNIT.get(svc.base_unit, 1)


class GyApplication:
    """The handler the Diameter server runs (in its thread pool) for application 4."""

    def __init__(self, *, clock: Callable[[], dt.datetime], cache_size: int = 10000) -> None:
        self.clock = clock
        self._answers: OrderedDict[tuple[str, str, int], list[Avp]] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size

    @staticmethod
    def close_thread() -> None:
        """Close this thread's database connections (the server calls it in each worker
        thread when it stops)."""
        connections.close_all()

    def __call__(self, request: Request) -> list[Avp]:
        message = request.message
        if message.header.code != codec.CMD_CREDIT_CONTROL:
            raise DecodeError(codec.COMMAND_UNSUPPORTED, f"command {message.header.code}")
        session = _required(message, "Session-Id")
        kind = _required(message, "CC-Request-Type")
        number = _required(message, "CC-Request-Number")
        key = (request.peer.lower(), session.text(), number.uint())
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None:
            return cached
        close_old_connections()
        try:
            answer = self._answer(request, session, kind, number)
        except ValidationFailed as exc:
            # A value billcore cannot use (a called number with letters, …): 5004 naming it.
            raise DecodeError(codec.INVALID_AVP_VALUE, str(exc)) from None
        finally:
            close_old_connections()
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._cache_size:
                self._answers.popitem(last=False)
        return answer

    # -- one CCR -------------------------------------------------------------------------

    def _answer(self, request: Request, session: Avp, kind: Avp, number: Avp) -> list[Avp]:
        message = request.message
        request_type = kind.int32()
        if request_type not in (INITIAL, UPDATE, TERMINATION, EVENT):
            raise DecodeError(
                codec.INVALID_AVP_VALUE,
                f"CC-Request-Type {request_type}",
                failed_avp=codec.encode_avp(kind),
            )
        head = [
            session,
            make("Auth-Application-Id", codec.APP_CREDIT_CONTROL),
            make("CC-Request-Type", request_type),
            make("CC-Request-Number", number.uint()),
        ]
        msccs = message.find_all("Multiple-Services-Credit-Control")
        mscc = msccs[0] if msccs else None
        scope = mscc.children if mscc is not None else message.avps
        requested = _units(codec.find(scope, "Requested-Service-Unit"))
        used = _used(codec.find_all(scope, "Used-Service-Unit"))
        outcome = self._decide(
            request=request,
            request_type=request_type,
            key=session.text(),
            requested=requested,
            used=used,
        )
        return self._shape(head, outcome, mscc=mscc, extra_msccs=msccs[1:])

    def _decide(
        self,
        *,
        request: Request,
        request_type: int,
        key: str,
        requested: _Units,
        used: _Units,
    ) -> _Outcome:
        message, peer, now = request.message, request.peer, self.clock()
        if request_type in (INITIAL, EVENT):
            account = subscriber(message)
            if account is None:
                return _Outcome(codec.USER_UNKNOWN, "unknown_account")
            service = requested.service or used.service or "voice"
            cld = destination(message)
            if service == "data" and not (cld or "").isdigit():
                # A data session's Called-Station-Id is its APN: rated on the catch-all
                # destination, as billcore's data usage is (cld "0").
                cld = "0"
            if cld is None:
                raise DecodeError(
                    codec.MISSING_AVP,
                    "no destination: Called-Station-Id or Service-Information",
                    failed_avp=codec.encode_avp(make("Called-Station-Id", "")),
                )
            scale = _bytes_per_unit(service) if service == "data" else 1
            want = None
            if request_type == EVENT:
                want = _to_base(requested.amount or used.amount or 1, scale)
            for identifier in identifiers(account):
                grant = sessions.open_session(
                    actor=ACTOR,
                    now=now,
                    nas=peer,
                    session_key=key,
                    account=identifier,
                    cld=cld,
                    service=service,
                    requested=want,
                )
                if grant.reason != "unknown_account":
                    break
            if not grant.allowed:
                return _Outcome(result_code(grant.reason), grant.reason)
            if request_type == EVENT:
                assert want is not None
                if grant.granted < want:
                    sessions.close_session(
                        actor=ACTOR, now=now, nas=peer, session_key=key, used=0, cause="denied"
                    )
                    return _Outcome(codec.CREDIT_LIMIT_REACHED, "insufficient_funds")
                sessions.close_session(
                    actor=ACTOR, now=now, nas=peer, session_key=key, used=want, cause="event"
                )
                return _Outcome(codec.SUCCESS, "", service, granted=want * scale)
            started = sessions.start_session(
                actor=ACTOR, now=now, nas=peer, session_key=key, started_at=now
            )
            return self._grant(service, scale, started.remaining, requested)
        # Update and Termination: the session as billcore knows it.
        known = (
            NetworkSession.objects.filter(nas=peer, session_key=key)
            .values_list("service", "used")
            .first()
        )
        if known is None and request_type == UPDATE:
            return _Outcome(codec.UNKNOWN_SESSION_ID, "unknown_session")
        service = known[0] if known else (used.service or requested.service or "voice")
        scale = _bytes_per_unit(service) if service == "data" else 1
        before = int(known[1]) if known else 0
        cumulative = before + _to_base(used.amount or 0, scale)
        if request_type == TERMINATION:
            done = sessions.close_session(
                actor=ACTOR,
                now=now,
                nas=peer,
                session_key=key,
                used=cumulative,
                account=subscriber(message),
                cld=destination(message),
                service=service,
                cause="CCR-T",
            )
            # A known session is closed whatever its rating said (the reason rides in
            # Error-Message); an unknown one is answered with its decision.
            code = codec.SUCCESS if known else result_code(done.reason)
            return _Outcome(code, done.reason, service)
        state = sessions.interim(
            actor=ACTOR, now=now, nas=peer, session_key=key, used=cumulative, service=service
        )
        if state.reason:
            return _Outcome(result_code(state.reason), state.reason, service)
        if state.remaining <= 0:
            return _Outcome(codec.CREDIT_LIMIT_REACHED, "insufficient_funds", service)
        return self._grant(service, scale, state.remaining, requested)

    def _grant(self, service: str, scale: int, remaining: int, requested: _Units) -> _Outcome:
        """The next Granted-Service-Unit: what is left of the session's grant, or less when
        the client asks for less; the last one carries a Final-Unit-Indication."""
        left = remaining * scale
        if left <= 0:
            return _Outcome(codec.CREDIT_LIMIT_REACHED, "insufficient_funds", service)
        slice_ = left
        if requested.amount and requested.service in (None, service):
            slice_ = min(left, requested.amount)
        validity = slice_ if service == "voice" else DATA_VALIDITY
        return _Outcome(
            codec.SUCCESS, "", service, granted=slice_, final=slice_ == left, validity=validity
        )

    def _shape(
        self, head: list[Avp], outcome: _Outcome, *, mscc: Avp | None, extra_msccs: list[Avp]
    ) -> list[Avp]:
        answer = [head[0], make("Result-Code", outcome.code), *head[1:]]
        body: list[Avp] = []
        if outcome.granted is not None:
            unit = _UNIT_AVP.get(outcome.service or "voice", "CC-Time")
            body.append(make("Granted-Service-Unit", [make(unit, outcome.granted)]))
        if mscc is not None:
            for name in ("Service-Identifier", "Rating-Group"):
                body += mscc.find_all(name)
        if outcome.validity is not None:
            body.append(make("Validity-Time", outcome.validity))
        if mscc is not None:
            body.append(make("Result-Code", outcome.code))
        if outcome.final:
            body.append(
                make("Final-Unit-Indication", [make("Final-Unit-Action", FINAL_UNIT_TERMINATE)])
            )
        if mscc is not None:
            answer.append(make("Multiple-Services-Credit-Control", body))
            for other in extra_msccs:
                # One service per session: another service's request is not rated here.
                answer.append(
                    make(
                        "Multiple-Services-Credit-Control",
                        [
                            *other.find_all("Service-Identifier"),
                            *other.find_all("Rating-Group"),
                            make("Result-Code", codec.RATING_FAILED),
                        ],
                    )
                )
        else:
            answer += body
        if outcome.reason:
            answer.append(make("Error-Message", outcome.reason, mandatory=False))
        return answer


def _to_base(amount: int, scale: int) -> int:
    """Octets to whole base units, rounded up (seconds and units pass through)."""
    return -(-amount // scale) if scale > 1 else amount


@dataclass(frozen=True)
class _Outcome:
    code: int
    reason: str
    service: str | None = None
    granted: int | None = None
    final: bool = False
    validity: int | None = None
