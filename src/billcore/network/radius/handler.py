"""RADIUS (RFC 2865 / 2866) as a thin adapter over ``charging.sessions``: decode a datagram
with pyrad, check who sent it, turn it into open / start / interim / close, and encode the
answer. No decision is taken here; reasons become RADIUS codes (:data:`RETURN_CODES`).

Dropped, never answered, and counted (:class:`Counters`): a datagram from an address that is
no NAS client (``dropped.unknown_client``), one that does not decode (``dropped.malformed``),
an accounting request whose Request Authenticator or any request whose
Message-Authenticator does not match the shared secret (``dropped.bad_authenticator``), a
code the port does not serve (``dropped.unexpected_code``). A retransmission — the same NAS,
identifier and Request Authenticator within :data:`RETRANSMIT_SECONDS` — gets the first
answer again without asking the service (``retransmissions``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pyrad import packet
from pyrad.dictionary import Dictionary

from billcore.accounts.access import Actor, SystemActor
from billcore.charging import sessions
from billcore.errors import BillcoreError

log = logging.getLogger("billcore.radius")

NETWORK_ACTOR = SystemActor("radius")
RETRANSMIT_SECONDS = 30.0
RETRANSMIT_ENTRIES = 65536
# An Event-Timestamp this far from the server's clock is not trusted for the session start.
MAX_CLOCK_SKEW = dt.timedelta(hours=24)

# Cisco h323-return-code for each refusal (rating-and-tabs.md §4.1; the table).
RETURN_CODES: dict[str, int] = {
    "unknown_account": 1,
    "wrong_password": 2,
    "chap_unverifiable": 2,
    "concurrent_calls_limit": 3,
    "insufficient_funds": 4,
    "account_insufficient_funds": 4,
    "reseller_insufficient_funds": 4,
    "reseller_funds": 4,
    "credit_limit_exceeded": 6,
    "account_limit_exceeded": 6,
    "reseller_credit_limit": 6,
    "fraud_daily_limit": 6,
    "forbidden_destination": 9,
    "no_rate": 9,
    "no_product": 9,
    "reseller_no_rate": 9,
    "reseller_forbidden_destination": 9,
    "no_destination": 9,
    "account_blocked": 12,
    "account_terminated": 12,
}
# Everything else a customer or its reseller can be refused for (blocked, suspended,
# terminated, closed, exported) is 7.
DENIED = 7

STATUS_START, STATUS_STOP, STATUS_INTERIM = 1, 2, 3
STATUS_ON, STATUS_OFF = 7, 8
SERVICE_FRAMED = 2
USER_PASSWORD = 2
MAX_PACKET = 4096


def well_formed(data: bytes) -> bool:
    """RFC 2865 §3 framing: a Length field of 20-4096 within the datagram (octets past it are
    padding), and attributes that each fit, each at least 2 octets long."""
    if len(data) < 20:
        return False
    length = int.from_bytes(data[2:4], "big")
    if not 20 <= length <= MAX_PACKET or length > len(data):
        return False
    at = 20
    while at < length:
        if at + 2 > length:
            return False
        size = data[at + 1]
        if size < 2 or at + size > length:
            return False
        at += size
    return True


def load_dictionary() -> Dictionary:
    """billcore's dictionary (package data: standard attributes and Cisco's VSAs)."""
    source = resources.files("billcore.network.radius").joinpath("dictionary")
    with resources.as_file(source) as path:
        return Dictionary(str(path))


class Counters:
    """Running counts, thread-safe; :meth:`take` hands the increments since the last call to
    whoever stores them (the server flushes them to ``charging.NetworkCounter``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._pending[name] = self._pending.get(name, 0) + n
            self.totals[name] = self.totals.get(name, 0) + n

    def take(self) -> dict[str, int]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending


@dataclass(frozen=True)
class Client:
    address: str
    secret: bytes
    name: str


class Clients:
    """The NAS clients by address, read through ``load`` (address -> (secret, name)) at most
    every ``ttl`` seconds, so a client added on a page is served within seconds."""

    def __init__(self, load: Callable[[], dict[str, tuple[str, str]]], ttl: float = 5.0):
        self._load = load
        self._ttl = ttl
        self._at = -1e9
        self._by_address: dict[str, Client] = {}
        self._lock = threading.Lock()

    def get(self, address: str) -> Client | None:
        if time.monotonic() - self._at > self._ttl:
            with self._lock:
                if time.monotonic() - self._at > self._ttl:
                    loaded = self._load()
                    self._by_address = {a: Client(a, s.encode(), n) for a, (s, n) in loaded.items()}
                    self._at = time.monotonic()
        return self._by_address.get(address)


class _Recent:
    """Answers recently sent, by (NAS, code, identifier, Request Authenticator)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[Any, ...], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._busy: set[tuple[Any, ...]] = set()

    def begin(self, key: tuple[Any, ...]) -> bool:
        """Mark ``key`` as being answered; False when it already is."""
        with self._lock:
            if key in self._busy:
                return False
            self._busy.add(key)
            return True

    def end(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            self._busy.discard(key)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > RETRANSMIT_SECONDS:
                return None
            return hit[1]

    def put(self, key: tuple[Any, ...], reply: bytes) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), reply)
            while len(self._items) > RETRANSMIT_ENTRIES:
                self._items.popitem(last=False)


def _first(pkt: packet.Packet, name: str) -> Any:
    try:
        values = pkt[name]
    except KeyError:
        return None
    return values[0] if values else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _cisco(pkt: packet.Packet, name: str) -> str | None:
    """A Cisco h323 value, sent either in its own VSA ("h323-conf-id=…" or bare) or as a
    Cisco-AVPair "name=value"."""
    value = _text(_first(pkt, name))
    if value is not None:
        prefix = f"{name}="
        return value[len(prefix) :] if value.startswith(prefix) else value
    try:
        pairs = pkt["Cisco-AVPair"]
    except KeyError:
        return None
    for pair in pairs:
        text = _text(pair) or ""
        if text.startswith(f"{name}="):
            return text[len(name) + 1 :]
    return None


class RadiusHandler:
    """Turns one datagram into at most one answer. Thread-safe; the service calls run in the
    calling thread (the server runs them in a pool, off its event loop)."""

    def __init__(
        self,
        *,
        clients: Clients,
        counters: Counters | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        actor: Actor = NETWORK_ACTOR,
    ) -> None:
        self.dictionary = load_dictionary()
        self.clients = clients
        self.counters = counters or Counters()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.actor = actor
        self._recent = _Recent()

    # ------------------------------------------------------------------ entry point

    def handle(self, data: bytes, address: str, *, accounting: bool) -> bytes | None:
        """The answer to ``data`` received from ``address`` on the auth (``accounting``
        False) or accounting port, or None to drop it."""
        client = self.clients.get(address)
        if client is None:
            self.counters.add("radius.dropped.unknown_client")
            return None
        if not well_formed(data):
            self.counters.add("radius.dropped.malformed")
            return None
        code = data[0]
        expected = packet.AccountingRequest if accounting else packet.AccessRequest
        if code != expected:
            self.counters.add("radius.dropped.unexpected_code")
            return None
        key = (address, code, data[1], data[4:20])
        earlier = self._recent.get(key)
        if earlier is not None:
            self.counters.add("radius.retransmissions")
            return earlier
        if not self._recent.begin(key):
            # The first copy is still being answered: this one is dropped, the NAS's next
            # retransmission gets the answer from the cache.
            self.counters.add("radius.retransmissions_in_flight")
            return None
        try:
            return self._handle(data, address, client, key, accounting=accounting)
        finally:
            self._recent.end(key)

    def _handle(
        self, data: bytes, address: str, client: Client, key: tuple[Any, ...], *, accounting: bool
    ) -> bytes | None:
        try:
            cls = packet.AcctPacket if accounting else packet.AuthPacket
            pkt = cls(secret=client.secret, dict=self.dictionary, packet=data)
        except Exception:  # pyrad raises PacketError, KeyError, struct.error, … on bad data
            self.counters.add("radius.dropped.malformed")
            return None
        if not self._authentic(pkt, accounting=accounting):
            self.counters.add("radius.dropped.bad_authenticator")
            return None
        try:
            reply = self._accounting(pkt, client) if accounting else self._access(pkt, client)
        except BillcoreError as exc:
            # Input the service refuses (a called number it cannot read, …): answered as a
            # refusal (access) or acknowledged (accounting), and counted.
            self.counters.add("radius.invalid_request")
            log.warning("radius: %s from %s refused: %s", pkt.code, address, exc)
            reply = self._invalid(pkt, accounting=accounting, text=str(exc))
        except Exception:
            self.counters.add("radius.errors")
            log.exception("radius: request from %s failed; not answered", address)
            return None
        self._recent.put(key, reply)
        return reply

    def _authentic(self, pkt: packet.Packet, *, accounting: bool) -> bool:
        if pkt.message_authenticator:
            try:
                if not pkt.verify_message_authenticator():
                    return False
            except Exception:
                return False
        if accounting:
            raw = pkt.raw_packet
            # RFC 2866 §3 defines the Request Authenticator with MD5.
            digest = hashlib.md5(raw[0:4] + 16 * b"\x00" + raw[20:] + pkt.secret).digest()  # noqa: S324
            return hmac.compare_digest(digest, pkt.authenticator)
        return True

    def _invalid(self, pkt: packet.Packet, *, accounting: bool, text: str) -> bytes:
        if accounting:
            return bytes(pkt.CreateReply().ReplyPacket())
        return self._reject(pkt, "invalid_request", text[:200], DENIED)

    # ------------------------------------------------------------------ Access-Request

    def _access(self, pkt: packet.Packet, client: Client) -> bytes:
        now = self.clock()
        user = _text(_first(pkt, "User-Name"))
        if not user:
            self.counters.add("radius.access_reject")
            return self._reject(
                pkt, "unknown_account", sessions.reason_message("unknown_account"), 1
            )
        if _first(pkt, "CHAP-Password") is not None:
            log.warning(
                "radius: CHAP from %s for %r refused: a hashed password cannot verify CHAP; "
                "use PAP or authenticate by the NAS address",
                client.address,
                user,
            )
            self.counters.add("radius.access_reject")
            return self._reject(pkt, "chap_unverifiable", "CHAP is not supported: use PAP", 2)
        password = None
        hidden = pkt.get(USER_PASSWORD)  # by code: the raw, hidden octets (RFC 2865 §5.2)
        if hidden:
            try:
                password = pkt.PwDecrypt(bytes(hidden[0]))
            except packet.PacketError:
                password = ""  # not a multiple of 16 octets: matches no password
        cld = _text(_first(pkt, "Called-Station-Id")) or ""
        if not cld:
            self.counters.add("radius.access_reject")
            return self._reject(pkt, "no_destination", "Called-Station-Id is missing", 9)
        session_key = (
            _text(_first(pkt, "Acct-Session-Id"))
            or _cisco(pkt, "h323-conf-id")
            or f"{sessions.PENDING_PREFIX}{pkt.id}-{pkt.authenticator.hex()}"
        )
        grant = sessions.open_session(
            actor=self.actor,
            now=now,
            nas=client.address,
            session_key=session_key[: sessions.MAX_KEY],
            account=user,
            cld=cld,
            service=self._service(pkt),
            password=password,
        )
        if not grant.allowed:
            self.counters.add("radius.access_reject")
            return self._reject(
                pkt, grant.reason, grant.message, RETURN_CODES.get(grant.reason, DENIED)
            )
        self.counters.add("radius.access_accept")
        reply = pkt.CreateReply()
        reply.code = packet.AccessAccept
        reply["Session-Timeout"] = grant.granted
        reply["h323-credit-time"] = f"h323-credit-time={grant.announced}"
        reply["h323-return-code"] = "h323-return-code=0"
        reply["Cisco-AVPair"] = f"h323-ivr-in=DURATION:{grant.granted}"
        if grant.policy:
            reply["Filter-Id"] = grant.policy
        return bytes(reply.ReplyPacket())

    def _service(self, pkt: packet.Packet) -> str:
        framed = _first(pkt, "Framed-Protocol") is not None
        service_type = _first(pkt, "Service-Type")
        if framed or service_type in ("Framed-User", SERVICE_FRAMED):
            return "data"
        return "voice"

    def _reject(self, pkt: packet.Packet, reason: str, message: str, code: int) -> bytes:
        reply = pkt.CreateReply()
        reply.code = packet.AccessReject
        reply["Reply-Message"] = message[:250]
        reply["h323-return-code"] = f"h323-return-code={code}"
        log.info("radius: reject %s (%s, code %s)", _text(_first(pkt, "User-Name")), reason, code)
        return bytes(reply.ReplyPacket())

    # ------------------------------------------------------------------ Accounting-Request

    def _accounting(self, pkt: packet.Packet, client: Client) -> bytes:
        now = self.clock()
        status = _first(pkt, "Acct-Status-Type")
        status = {"Start": 1, "Stop": 2, "Interim-Update": 3}.get(status, status)
        session_key = _text(_first(pkt, "Acct-Session-Id"))
        self.counters.add("radius.accounting")
        if status in (STATUS_START, STATUS_STOP, STATUS_INTERIM) and session_key:
            used = _first(pkt, "Acct-Session-Time")
            used = int(used) if isinstance(used, int) and used >= 0 else 0
            common: dict[str, Any] = {
                "actor": self.actor,
                "now": now,
                "nas": client.address,
                "session_key": session_key[: sessions.MAX_KEY],
                "account": _text(_first(pkt, "User-Name")),
                "cld": _text(_first(pkt, "Called-Station-Id")),
                "service": self._service(pkt),
                "started_at": self._started(pkt, now, used),
            }
            if status == STATUS_START:
                result = sessions.start_session(**common)
            elif status == STATUS_INTERIM:
                result = sessions.interim(**common, used=used)
            else:
                cause = _first(pkt, "Acct-Terminate-Cause")
                result = sessions.close_session(
                    **common, used=used, cause=str(cause) if cause is not None else ""
                )
            if result.reason:
                self.counters.add(f"radius.accounting.{result.reason}"[:80])
        return bytes(pkt.CreateReply().ReplyPacket())

    def _started(self, pkt: packet.Packet, now: dt.datetime, used: int) -> dt.datetime:
        """When the session began: Event-Timestamp - Acct-Session-Time (minus the delay the
        NAS reports), when the NAS clock is believable; else now - used."""
        stamp = _first(pkt, "Event-Timestamp")
        delay = _first(pkt, "Acct-Delay-Time")
        delay = delay if isinstance(delay, int) and 0 <= delay < 86400 else 0
        if isinstance(stamp, int):
            at = dt.datetime.fromtimestamp(stamp, dt.UTC)
        elif isinstance(stamp, dt.datetime):
            at = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
        else:
            at = None
        if at is None or abs(at - now) > MAX_CLOCK_SKEW:
            at = now - dt.timedelta(seconds=delay)
        return at - dt.timedelta(seconds=used)
