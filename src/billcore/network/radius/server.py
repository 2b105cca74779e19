"""billcore's RADIUS server: asyncio UDP on the authentication and accounting ports, each
datagram answered by :class:`~billcore.network.radius.handler.RadiusHandler` in a thread
pool (the database work is synchronous Django), the counters flushed to
``charging.NetworkCounter`` every second so pages and the API show them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections

from billcore.charging.network import client_secrets, flush_counters
from billcore.network.radius.handler import Clients, Counters, RadiusHandler

log = logging.getLogger("billcore.radius")

DEFAULT_AUTH_PORT = 1812
DEFAULT_ACCT_PORT = 1813


@dataclass(frozen=True)
class RadiusConfig:
    host: str = "0.0.0.0"  # noqa: S104 - a RADIUS server listens for NASes on the network
    auth_port: int = DEFAULT_AUTH_PORT
    acct_port: int = DEFAULT_ACCT_PORT
    workers: int = 16


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: RadiusServer, *, accounting: bool) -> None:
        self.server = server
        self.accounting = accounting
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.server.submit(self, data, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("radius: %s", exc)


class RadiusServer:
    """Serve until :meth:`stop`. ``start_in_thread`` runs it beside other work (``billcore
    serve --radius``, tests); :meth:`run` blocks (``billcore radius``)."""

    def __init__(self, config: RadiusConfig, handler: RadiusHandler | None = None) -> None:
        self.config = config
        self.counters = Counters()
        self.handler = handler or RadiusHandler(
            clients=Clients(client_secrets), counters=self.counters
        )
        self.counters = self.handler.counters
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.workers, thread_name_prefix="radius"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.bound: tuple[int, int] = (0, 0)
        self.error: BaseException | None = None

    def submit(self, proto: _Protocol, data: bytes, addr: tuple[Any, ...]) -> None:
        assert self._loop is not None
        future = self._loop.run_in_executor(
            self._pool, self._answer, data, addr[0], proto.accounting
        )

        def done(f: asyncio.Future[bytes | None]) -> None:
            reply = f.result() if not f.cancelled() and f.exception() is None else None
            if reply is not None and proto.transport is not None:
                proto.transport.sendto(reply, addr)

        future.add_done_callback(done)

    def _answer(self, data: bytes, address: str, accounting: bool) -> bytes | None:
        close_old_connections()
        try:
            return self.handler.handle(data, address, accounting=accounting)
        except Exception:  # the handler counts its own; this is a last guard
            log.exception("radius: unexpected failure")
            self.counters.add("radius.errors")
            return None

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        assert self._loop is not None
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            pending = self.counters.take()
            if pending:
                await self._loop.run_in_executor(self._pool, self._flush, pending)

    def _flush(self, pending: dict[str, int]) -> None:
        close_old_connections()
        try:
            flush_counters(pending, now=dt.datetime.now(dt.UTC))
        except Exception:
            log.exception("radius: counters not stored")

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        c = self.config
        auth, _ = await self._loop.create_datagram_endpoint(
            lambda: _Protocol(self, accounting=False), local_addr=(c.host, c.auth_port)
        )
        acct, _ = await self._loop.create_datagram_endpoint(
            lambda: _Protocol(self, accounting=True), local_addr=(c.host, c.acct_port)
        )
        self.bound = (auth.get_extra_info("sockname")[1], acct.get_extra_info("sockname")[1])
        log.info("radius: listening on %s auth %s acct %s", c.host, *self.bound)
        self._ready.set()
        try:
            await self._flush_loop(self._stop)
        finally:
            auth.close()
            acct.close()

    def run(self) -> None:
        try:
            asyncio.run(self.serve())
        finally:
            self._pool.shutdown(wait=True)

    def start_in_thread(self) -> RadiusServer:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # reported to the starter
                self.error = exc
                self._ready.set()

        self._thread = threading.Thread(target=target, name="radius-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
