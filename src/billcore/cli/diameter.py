"""``billcore diameter``: the Diameter Gy credit-control server (issue 15 §2, docs/diameter.md),
and its supervision beside ``billcore serve --diameter``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from typing import Any

ENV_PORT = "BILLCORE_DIAMETER_PORT"
ENV_PEERS = "BILLCORE_DIAMETER_PEERS"
ENV_ORIGIN_HOST = "BILLCORE_DIAMETER_ORIGIN_HOST"
ENV_ORIGIN_REALM = "BILLCORE_DIAMETER_ORIGIN_REALM"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from billcore.network.diameter.server import DEFAULT_PORT

    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    # Defaults from the environment are read when the command runs (not while every other
    # command builds its parser): a bad value then names itself, and no name look-up slows
    # the other commands.
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"TCP port (default {DEFAULT_PORT}, or {ENV_PORT})",
    )
    p.add_argument(
        "--origin-host",
        default="",
        help=f"our Diameter identity (default the host's name, or {ENV_ORIGIN_HOST})",
    )
    p.add_argument(
        "--origin-realm",
        default="",
        help="our realm (default: the Origin-Host without its first label)",
    )
    p.add_argument(
        "--peer",
        action="append",
        default=None,
        metavar="ORIGIN_HOST",
        help=f"a peer allowed to connect (repeat; or {ENV_PEERS}=a,b); none given: any peer",
    )
    p.add_argument("--workers", type=int, default=8, help="database threads (default 8)")
    p.add_argument(
        "--stats-interval",
        type=int,
        default=300,
        metavar="SECONDS",
        help="log the counters every SECONDS (default 300; 0: only at exit)",
    )
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)


def cmd_diameter(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from billcore.network.diameter import codec
    from billcore.network.diameter.gy import GyApplication
    from billcore.network.diameter.server import DEFAULT_PORT, DiameterServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.port is None:
        raw = os.environ.get(ENV_PORT) or str(DEFAULT_PORT)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            print(f"error: {ENV_PORT}={raw!r} is not a TCP port", file=sys.stderr)
            return 2
        args.port = int(raw)
    args.origin_host = (
        args.origin_host or os.environ.get(ENV_ORIGIN_HOST) or socket.getfqdn() or "billcore"
    )
    if args.peer is None:
        args.peer = (os.environ.get(ENV_PEERS) or "").split(",")
    args.origin_realm = args.origin_realm or os.environ.get(ENV_ORIGIN_REALM) or ""
    realm = args.origin_realm or (args.origin_host.partition(".")[2] or args.origin_host)
    server = DiameterServer(
        handler=GyApplication(clock=timezone.now),
        applications=[codec.APP_CREDIT_CONTROL],
        origin_host=args.origin_host,
        origin_realm=realm,
        host=args.host,
        port=args.port,
        allowed_peers=[p.strip() for p in args.peer if p.strip()],
        workers=args.workers,
        host_ip=_host_ip(args.host),
    )
    parent = int(os.environ.get("BILLCORE_DIAMETER_PARENT") or os.getppid())

    async def main() -> None:
        port = await server.start()
        peers = ", ".join(server.allowed_peers) or "any peer"
        print(
            f"billcore diameter: Gy on {args.host}:{port} as {args.origin_host} "
            f"(realm {realm}), accepting {peers} (Ctrl+C to stop)",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ticks = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except TimeoutError:
                ticks += 1
            if args.exit_with_parent and os.getppid() != parent:
                break
            if args.stats_interval and ticks >= args.stats_interval:
                ticks = 0
                _print_counts(server.stats.counts)
            # The counters, stored each second so pages and the API show them.
            await loop.run_in_executor(server.executor, _flush, server.stats.take())
        await loop.run_in_executor(server.executor, _flush, server.stats.take())
        await server.close()

    asyncio.run(main())
    _print_counts(server.stats.counts)
    return 0


def _flush(increments: dict[str, int]) -> None:
    """Add the increments to ``charging.NetworkCounter`` as ``diameter.<event>``."""
    if not increments:
        return
    import datetime as dt

    from django.db import close_old_connections

    from billcore.charging.network import flush_counters

    close_old_connections()
    try:
        flush_counters(
            {"diameter." + k.replace(":", "."): v for k, v in increments.items()},
            now=dt.datetime.now(dt.UTC),
        )
    except Exception:  # a database outage: the counts are lost, the server goes on
        logging.getLogger("billcore.diameter").exception("diameter: counters not stored")


def _print_counts(counts: Any) -> None:
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing yet"
    print(f"billcore diameter: {shown}", flush=True)


def _host_ip(host: str) -> str:
    """The Host-IP-Address to advertise: the listening address, or loopback for any."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - the address we were told to listen on
        return "127.0.0.1"
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "127.0.0.1"


def start_beside_server(args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """``billcore serve --diameter``: the Diameter server as a child process that stops
    with the web server (as the engine loop does)."""
    if not getattr(args, "diameter", False):
        return None
    import atexit

    command = [sys.executable, "-m", "billcore.cli", "diameter", "--exit-with-parent"]
    if args.diameter_port:
        command += ["--port", str(args.diameter_port)]
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, env={**os.environ, "BILLCORE_DIAMETER_PARENT": str(os.getpid())}
    )
    atexit.register(child.terminate)
    return child
