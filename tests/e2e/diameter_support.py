"""The Diameter peer of billcore running in a background thread of the test process (so it
sees the test's database), a raw TCP client for hand-built bytes, and Erlang/OTP's diameter
application as the independent Gy peer (``tests/e2e/diameter/gy_peer.erl``, compiled once per
run with its RFC 4006 dictionary ``billcore_gy.dia``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from billcore.network.diameter import codec
from billcore.network.diameter.codec import Avp, Header, Message, make
from billcore.network.diameter.server import DiameterServer, Handler

HERE = Path(__file__).parent / "diameter"
SERVER_HOST = "billcore.test"
REALM = "test.realm"


class RunningServer:
    def __init__(self, server: DiameterServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.server.stats.counts)


@contextlib.contextmanager
def running(handler: Handler, **options: Any) -> Iterator[RunningServer]:
    loop = asyncio.new_event_loop()
    server = DiameterServer(
        handler=handler,
        applications=[codec.APP_CREDIT_CONTROL],
        origin_host=SERVER_HOST,
        origin_realm=REALM,
        host="127.0.0.1",
        port=0,
        workers=4,
        **options,
    )
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield RunningServer(server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# --- a raw client ------------------------------------------------------------------------


class RawPeer:
    """A TCP connection that sends bytes and reads whole messages, for malformed input."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.hop = 100

    def close(self) -> None:
        self.sock.close()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def request(self, code: int, avps: list[Avp], *, app: int = 0) -> bytes:
        self.hop += 1
        header = Header(
            length=0,
            flags=codec.FLAG_REQUEST,
            code=code,
            application_id=app,
            hop_by_hop=self.hop,
            end_to_end=self.hop,
        )
        return codec.encode(header, avps)

    def cer(self, origin_host: str = "raw.peer") -> Message:
        self.send(
            self.request(
                codec.CMD_CAPABILITIES_EXCHANGE,
                [
                    make("Origin-Host", origin_host),
                    make("Origin-Realm", REALM),
                    make("Host-IP-Address", codec.address("127.0.0.1")),
                    make("Vendor-Id", 0),
                    make("Product-Name", "raw", mandatory=False),
                    make("Auth-Application-Id", 4),
                ],
            )
        )
        return self.receive()

    def dwr(self) -> Message:
        self.send(
            self.request(
                codec.CMD_DEVICE_WATCHDOG,
                [make("Origin-Host", "raw.peer"), make("Origin-Realm", REALM)],
            )
        )
        return self.receive()

    def receive(self) -> Message:
        head = self._exactly(20)
        length = struct.unpack(">I", head[:4])[0] & 0xFFFFFF
        return codec.decode(head + self._exactly(length - 20))

    def closed(self) -> bool:
        """True when the server has closed the connection (after any pending answer)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError):
            return True

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
            data += chunk
        return data


def result_code(message: Message) -> int:
    avp = message.find("Result-Code")
    assert avp is not None
    return avp.uint()


# --- Erlang/OTP's diameter as the peer ------------------------------------------------------


def erlang_available() -> bool:
    if shutil.which("erl") is None or shutil.which("erlc") is None:
        return False
    probe = subprocess.run(
        ["erl", "-noshell", "-eval", 'io:format("~s", [code:lib_dir(diameter, include)]), halt().'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0 and Path(probe.stdout.strip(), "diameter.hrl").exists()


@pytest.fixture(scope="session")
def otp_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled Erlang peer (dictionary and client), or the test is skipped with the
    reason: Debian's erlang-diameter and erlang-dev (``make system-deps``)."""
    if not erlang_available():
        why = "Erlang/OTP's diameter is not installed (apt-get install erlang-diameter erlang-dev)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)  # CI installs it (make system-deps): a skip there would hide it
        pytest.skip(why)
    out = tmp_path_factory.mktemp("otp")
    make_dict = (
        f'ok = diameter_make:codec("{HERE / "billcore_gy.dia"}", [{{outdir, "{out}"}}]), halt().'
    )
    subprocess.run(["erl", "-noshell", "-eval", make_dict], check=True, timeout=120)
    subprocess.run(
        ["erlc", "-o", str(out), str(out / "billcore_gy.erl"), str(HERE / "gy_peer.erl")],
        check=True,
        timeout=120,
    )
    return out


def erlang_term(value: Any) -> str:
    """A Python value as an Erlang term for ``file:consult``: dict -> map with quoted-atom
    keys, str -> binary, int -> integer, list -> list, tuple -> tuple."""
    if isinstance(value, dict):
        pairs = ", ".join(f"'{k}' => {erlang_term(v)}" for k, v in value.items())
        return "#{" + pairs + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'<<"{escaped}"/utf8>>'
    if isinstance(value, list):
        return "[" + ", ".join(erlang_term(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "{" + ", ".join(erlang_term(v) for v in value) + "}"
    raise TypeError(type(value))


def run_otp_peer(
    otp: Path,
    port: int,
    steps: list[tuple[str, Any]],
    *,
    origin_host: str = "otp.peer",
    watchdog_ms: int = 30000,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Run the Erlang peer against ``port`` with ``steps`` (("ccr", {...}), ("sleep", ms),
    ("watchdog", None)); returns its events (the JSON lines it prints)."""
    script = otp / f"script-{port}-{threading.get_ident()}.txt"
    lines = []
    for kind, arg in steps:
        if kind == "ccr":
            lines.append(f"{{ccr, {erlang_term(arg)}}}.")
        elif kind == "sleep":
            lines.append(f"{{sleep, {int(arg)}}}.")
        else:
            lines.append("{watchdog}.")
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [
            "erl",
            "-noshell",
            "-pa",
            str(otp),
            "-run",
            "gy_peer",
            "main",
            "127.0.0.1",
            str(port),
            origin_host,
            str(script),
            str(watchdog_ms),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    events = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    assert events, f"the Erlang peer printed nothing: {done.stdout}\n{done.stderr}"
    return events


def ccr(
    session: str,
    request_type: int,
    number: int,
    *,
    subscriber: str | None = None,
    called: str | None = None,
    requested: dict[str, int] | None = None,
    used: dict[str, int] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A Gy CCR as a step for :func:`run_otp_peer`."""
    avps: dict[str, Any] = {
        "Session-Id": session,
        "Auth-Application-Id": 4,
        "Service-Context-Id": "32260@3gpp.org",
        "CC-Request-Type": request_type,
        "CC-Request-Number": number,
    }
    if subscriber is not None:
        avps["Subscription-Id"] = [{"Subscription-Id-Type": 0, "Subscription-Id-Data": subscriber}]
    mscc: dict[str, Any] = {}
    if requested is not None:
        mscc["Requested-Service-Unit"] = {k: v for k, v in requested.items()}
    if used is not None:
        mscc["Used-Service-Unit"] = [{k: v for k, v in used.items()}]
    if mscc:
        avps["Multiple-Services-Credit-Control"] = [mscc]
    if called is not None:
        avps["Called-Station-Id"] = called
    avps.update(extra or {})
    return ("ccr", avps)
