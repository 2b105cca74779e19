"""The Diameter peer: an asyncio TCP server (RFC 6733) that answers Capabilities-Exchange,
Device-Watchdog and Disconnect-Peer itself and hands every other request to an application
handler (the Gy credit control of :mod:`billcore.network.diameter.gy`).

One connection is one peer. The first message must be a CER; a peer whose Origin-Host is not
in ``allowed_peers`` (when that list is given) is answered 3010 DIAMETER_UNKNOWN_PEER and
closed, and a CER that shares no application with us 5010 DIAMETER_NO_COMMON_APPLICATION.
Framing errors (a wrong version, a length below 20, not a multiple of 4 or above
:data:`~billcore.network.diameter.codec.MAX_MESSAGE_LENGTH`) are answered when the header can
be read, and the connection is closed: the stream cannot be trusted any more. An AVP error
(5014 DIAMETER_INVALID_AVP_LENGTH with the offending AVP in a Failed-AVP, 3009, …) is
answered and the connection stays up. Every such event is counted in :attr:`Stats.counts`
and logged; none of them may end the server.

The handler is synchronous (it uses the ORM) and runs in a thread pool, so a slow database
never stalls the watchdogs of the other peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from billcore.network.diameter import codec
from billcore.network.diameter.codec import Avp, DecodeError, Header, Message, make

log = logging.getLogger("billcore.diameter")

DEFAULT_PORT = 3868
PRODUCT_NAME = "billcore"
# How long a peer may stay silent before the connection is dropped (RFC 3539's watchdog is
# the client's job; this only reaps dead sockets). Twice a typical Tw of 30 s, plus margin.
IDLE_TIMEOUT = 90.0


@dataclass(frozen=True)
class Request:
    """What the application handler is given: the decoded request and who sent it."""

    message: Message
    peer: str  # the peer's Origin-Host from its CER
    origin_host: str  # ours
    origin_realm: str


# The handler returns the answer's AVPs (Session-Id first, Origin-Host/Realm are added).
Handler = Callable[[Request], list[Avp]]


@dataclass
class Stats:
    """Counters by event, e.g. ``malformed:5014``, ``refused:unknown_peer``, ``ccr:2001``."""

    counts: Counter[str] = field(default_factory=Counter)
    _taken: Counter[str] = field(default_factory=Counter)

    def add(self, key: str) -> None:
        self.counts[key] += 1

    def take(self) -> dict[str, int]:
        """The increments since the last call (for storing them elsewhere)."""
        now = Counter(self.counts)
        delta = {k: v - self._taken[k] for k, v in now.items() if v > self._taken[k]}
        self._taken = now
        return delta


class DiameterServer:
    def __init__(
        self,
        *,
        handler: Handler,
        applications: Sequence[int],
        origin_host: str,
        origin_realm: str,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allowed_peers: Sequence[str] = (),
        workers: int = 8,
        host_ip: str = "127.0.0.1",
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.handler = handler
        self.applications = tuple(applications)
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.host = host
        self.port = port
        self.allowed_peers = frozenset(p.lower() for p in allowed_peers)
        self.host_ip = host_ip
        self.idle_timeout = idle_timeout
        self.stats = Stats()
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="diameter")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._peers: dict[asyncio.StreamWriter, str] = {}  # connections past their CER
        self._tasks: set[asyncio.Task[None]] = set()
        self._hop = (os.getpid() & 0xFFFFF) << 12  # our requests' identifiers
        self._state_id = os.getpid() & 0xFFFFFFFF

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; returns the port (useful with ``port=0``)."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        port = int(self._server.sockets[0].getsockname()[1])
        self.port = port
        log.info("diameter: listening on %s:%s as %s", self.host, port, self.origin_host)
        return port

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                if writer in self._peers:
                    # RFC 6733 §5.4: tell the peer we go (REBOOTING), so it does not count
                    # the silence as a failure; its DPA is not waited for.
                    self._hop = (self._hop + 1) & 0xFFFFFFFF
                    header = Header(
                        length=0,
                        flags=codec.FLAG_REQUEST,
                        code=codec.CMD_DISCONNECT_PEER,
                        application_id=0,
                        hop_by_hop=self._hop,
                        end_to_end=self._hop,
                    )
                    self._send(
                        writer,
                        header,
                        [
                            make("Origin-Host", self.origin_host),
                            make("Origin-Realm", self.origin_realm),
                            make("Disconnect-Cause", 0),
                        ],
                    )
                writer.close()
            # Let each connection's task see its socket closed and end (not be destroyed
            # pending when the loop stops).
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=10)
            await self._server.wait_closed()
        # The handler's per-thread resources (Django's database connections) are closed in
        # each worker thread before the threads go.
        closer = getattr(self.handler, "close_thread", None)
        if closer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._on_each_thread, closer)
        self.executor.shutdown(wait=True)

    def _on_each_thread(self, fn: Callable[[], None]) -> None:
        barrier = threading.Barrier(self.workers)

        def task() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)  # one task per thread: each waits for the others
            fn()

        for future in [self.executor.submit(task) for _ in range(self.workers)]:
            with contextlib.suppress(Exception):
                future.result(timeout=60)

    # -- one connection --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        self.stats.add("connections")
        peer: str | None = None
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    raw = await self._read_message(reader, writer)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        self.stats.add("malformed:truncated")
                        log.warning("diameter: %s closed mid-message", address)
                    return
                except TimeoutError:
                    self.stats.add("idle_timeout")
                    return
                if raw is None:
                    return
                try:
                    message = codec.decode(raw)
                except DecodeError as exc:
                    self._malformed(writer, raw, exc, address)
                    if exc.fatal:
                        return
                    continue
                if not message.header.is_request:
                    self.stats.add("answers_received")  # a DWA to a DWR we never send, …
                    continue
                if peer is None:
                    peer = self._capabilities(message, writer, address)
                    if peer is None:
                        return
                    self._peers[writer] = peer
                    continue
                if not await self._dispatch(message, peer, writer):
                    return
                await writer.drain()
        except (ConnectionError, OSError) as exc:
            self.stats.add("connection_errors")
            log.info("diameter: %s: %s", address, exc)
        except Exception:  # never let one peer's message end the server
            self.stats.add("internal_errors")
            log.exception("diameter: %s: unexpected error", address)
        finally:
            self._writers.discard(writer)
            self._peers.pop(writer, None)
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _read_message(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        try:
            head = await asyncio.wait_for(
                reader.readexactly(codec.HEADER_LENGTH), self.idle_timeout
            )
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None  # a clean close between messages
            raise
        try:
            header = codec.decode_header(head)
        except DecodeError as exc:
            self._malformed(writer, head, exc, writer.get_extra_info("peername"))
            await writer.drain()
            return None
        body = await asyncio.wait_for(
            reader.readexactly(header.length - codec.HEADER_LENGTH), self.idle_timeout
        )
        return head + body

    def _malformed(
        self, writer: asyncio.StreamWriter, raw: bytes, exc: DecodeError, address: object
    ) -> None:
        self.stats.add(f"malformed:{exc.result_code}")
        log.warning("diameter: %s sent a bad message (%s): %s", address, exc.result_code, exc)
        if len(raw) < codec.HEADER_LENGTH:
            return
        _word0, word1, app, hbh, e2e = struct.unpack(">IIIII", raw[: codec.HEADER_LENGTH])
        request = Header(
            length=0,
            flags=word1 >> 24,
            code=word1 & 0xFFFFFF,
            application_id=app,
            hop_by_hop=hbh,
            end_to_end=e2e,
        )
        if not request.is_request:
            return  # never answer an answer
        # 3xxx are protocol errors (E bit, RFC 6733 §7.1.3); 5xxx ride in the command's own
        # answer. Either way: Session-Id when it can be salvaged, then Result-Code.
        error = 3000 <= exc.result_code < 4000
        avps: list[Avp] = []
        session = _salvage_session_id(raw)
        if session is not None:
            avps.append(make("Session-Id", session))
        avps += [
            make("Origin-Host", self.origin_host),
            make("Origin-Realm", self.origin_realm),
            make("Result-Code", exc.result_code),
            make("Error-Message", exc.reason[:200], mandatory=False),
        ]
        if exc.failed_avp:
            failed = Avp(code=279, data=exc.failed_avp)
            avps.append(failed)
        self._send(writer, codec.answer_header(request, error=error), avps)

    def _send(self, writer: asyncio.StreamWriter, header: Header, avps: list[Avp]) -> None:
        writer.write(codec.encode(header, avps))

    def _base_answer(self, result: int) -> list[Avp]:
        return [
            make("Result-Code", result),
            make("Origin-Host", self.origin_host),
            make("Origin-Realm", self.origin_realm),
        ]

    # -- base protocol ---------------------------------------------------------------------

    def _capabilities(
        self, message: Message, writer: asyncio.StreamWriter, address: object
    ) -> str | None:
        """The CER: returns the peer's Origin-Host, or None after refusing it."""
        header = message.header
        if header.code != codec.CMD_CAPABILITIES_EXCHANGE:
            self.stats.add("refused:no_cer")
            log.warning("diameter: %s sent command %s before a CER", address, header.code)
            avps = self._base_answer(codec.UNABLE_TO_COMPLY)
            session = message.find("Session-Id")
            self._send(
                writer,
                codec.answer_header(header),
                ([session] if session else []) + avps,
            )
            return None
        origin = message.find("Origin-Host")
        if origin is None:
            self.stats.add("refused:missing_origin_host")
            self._cea(writer, header, codec.MISSING_AVP)
            return None
        try:
            host = origin.text()
        except DecodeError:
            self.stats.add("refused:bad_origin_host")
            self._cea(writer, header, codec.INVALID_AVP_VALUE)
            return None
        if self.allowed_peers and host.lower() not in self.allowed_peers:
            self.stats.add("refused:unknown_peer")
            log.warning("diameter: %s: unknown peer %r refused", address, host)
            self._cea(writer, header, codec.UNKNOWN_PEER, error=True)
            return None
        offered = {
            a.uint()
            for name in ("Auth-Application-Id", "Acct-Application-Id")
            for a in message.find_all(name)
        }
        for vsai in message.find_all("Vendor-Specific-Application-Id"):
            offered |= {a.uint() for a in vsai.children if a.code in (258, 259)}
        ours = set(self.applications)
        common = ours if codec.APP_RELAY in offered else offered & ours
        if not common:
            self.stats.add("refused:no_common_application")
            self._cea(writer, header, codec.NO_COMMON_APPLICATION)
            return None
        self.stats.add("peers")
        log.info("diameter: peer %s (%s) up", host, address)
        self._cea(writer, header, codec.SUCCESS, applications=sorted(common))
        return host

    def _cea(
        self,
        writer: asyncio.StreamWriter,
        request: Header,
        result: int,
        *,
        error: bool = False,
        applications: Sequence[int] = (),
    ) -> None:
        avps = [
            make("Result-Code", result),
            make("Origin-Host", self.origin_host),
            make("Origin-Realm", self.origin_realm),
            make("Host-IP-Address", codec.address(self.host_ip)),
            make("Vendor-Id", 0),
            make("Product-Name", PRODUCT_NAME, mandatory=False),
            make("Origin-State-Id", self._state_id),
        ]
        avps += [make("Auth-Application-Id", app) for app in applications or self.applications]
        self._send(writer, codec.answer_header(request, error=error), avps)

    async def _dispatch(self, message: Message, peer: str, writer: asyncio.StreamWriter) -> bool:
        """Answer one request after the CER; False closes the connection."""
        header = message.header
        if header.code == codec.CMD_DEVICE_WATCHDOG:
            self.stats.add("dwr")
            avps = self._base_answer(codec.SUCCESS)
            avps.append(make("Origin-State-Id", self._state_id))
            self._send(writer, codec.answer_header(header), avps)
            return True
        if header.code == codec.CMD_DISCONNECT_PEER:
            self.stats.add("dpr")
            self._send(writer, codec.answer_header(header), self._base_answer(2001))
            await writer.drain()
            log.info("diameter: peer %s disconnects", peer)
            return False
        if header.code == codec.CMD_CAPABILITIES_EXCHANGE:
            self.stats.add("refused:second_cer")
            self._send(
                writer,
                codec.answer_header(header),
                self._base_answer(codec.UNABLE_TO_COMPLY),
            )
            return True
        if header.application_id not in self.applications:
            self.stats.add("refused:application_unsupported")
            self._send(
                writer,
                codec.answer_header(header, error=True),
                self._base_answer(codec.APPLICATION_UNSUPPORTED),
            )
            return True
        loop = asyncio.get_running_loop()
        request = Request(message, peer, self.origin_host, self.origin_realm)
        try:
            avps = await loop.run_in_executor(self.executor, self.handler, request)
        except DecodeError as exc:
            self.stats.add(f"malformed:{exc.result_code}")
            log.warning("diameter: %s: bad request (%s): %s", peer, exc.result_code, exc)
            session = message.find("Session-Id")
            avps = ([session] if session else []) + [make("Result-Code", exc.result_code)]
            # The answer's own fixed AVPs, when the request had them (a CCA's grammar).
            for name in ("Auth-Application-Id", "CC-Request-Type", "CC-Request-Number"):
                avps += message.find_all(name)[:1]
            avps.append(make("Error-Message", exc.reason[:200], mandatory=False))
            if exc.failed_avp:
                avps.append(Avp(code=279, data=exc.failed_avp))
            self._send(
                writer,
                codec.answer_header(header, error=3000 <= exc.result_code < 4000),
                _with_origin(avps, self.origin_host, self.origin_realm),
            )
            return True
        except Exception:
            self.stats.add("internal_errors")
            log.exception("diameter: %s: the handler failed", peer)
            session = message.find("Session-Id")
            avps = ([session] if session else []) + [make("Result-Code", codec.UNABLE_TO_COMPLY)]
        rc = next((a for a in avps if a.code == 268 and not a.vendor), None)
        self.stats.add(f"answered:{rc.uint() if rc is not None else 'none'}")
        self._send(
            writer,
            codec.answer_header(header),
            _with_origin(avps, self.origin_host, self.origin_realm),
        )
        return True


def _with_origin(avps: list[Avp], origin_host: str, origin_realm: str) -> list[Avp]:
    """Session-Id first (RFC 6733 §8.8), then Origin-Host and Origin-Realm, then the rest."""
    head = [a for a in avps if a.code == 263]
    rest = [a for a in avps if a.code != 263]
    return [*head, make("Origin-Host", origin_host), make("Origin-Realm", origin_realm), *rest]


def _salvage_session_id(raw: bytes) -> str | None:
    """The Session-Id of a message that failed to decode, if its AVPs up to it are sound."""
    pos = codec.HEADER_LENGTH
    while pos + 8 <= len(raw):
        code, word = struct.unpack(">II", raw[pos : pos + 8])
        length = word & 0xFFFFFF
        head = 12 if word >> 24 & codec.AVP_FLAG_VENDOR else 8
        if length < head or pos + length > len(raw):
            return None
        if code == 263 and head == 8:
            try:
                return raw[pos + 8 : pos + length].decode("utf-8")
            except UnicodeDecodeError:
                return None
        pos += (length + 3) & ~3
    return None
