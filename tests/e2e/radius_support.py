"""The real product on the network (issue 15): ``billcore serve --radius`` as a subprocess on a
database of its own, a rated world made through its API, and FreeRADIUS's ``radclient``
(Debian's ``freeradius-utils``) or pyrad's client to talk to it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e.server import Server, billcore, database_url, environment

SECRET = "nas-secret-1234"
EFFECTIVE = "2020-01-01T00:00:00Z"
CLD = "420601234567"
FORBIDDEN = "420901234567"
FREE = "800123456"

RADCLIENT = shutil.which("radclient")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RadiusServer(Server):
    auth_port: int
    acct_port: int
    log_path: Path


@contextlib.contextmanager
def serve_radius(tmp: Path) -> Iterator[RadiusServer]:
    """``billcore serve --radius`` on free ports, with an administrator's API token."""
    with database_url(tmp) as url:
        env = environment(tmp, url)
        for argv in (("migrate", "--verbosity", "0"), ("createadmin",)):
            done = billcore(env, *argv)
            assert done.returncode == 0, (argv, done.stdout, done.stderr)
        done = billcore(env, "token", "create", "--user", "admin")
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip()
        port, auth, acct = _free_tcp_port(), free_udp_port(), free_udp_port()
        log_path = Path(env["BILLCORE_VAR_DIR"]) / "serve.log"
        log = log_path.open("w")
        argv = [sys.executable, "-m", "billcore.cli", "serve", "--port", str(port)]
        argv += ["--workers", "1", "--engine-interval", "0", "--radius"]
        argv += ["--radius-host", "127.0.0.1", "--auth-port", str(auth), "--acct-port", str(acct)]
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        server = RadiusServer(f"http://127.0.0.1:{port}", token, process)
        server.auth_port, server.acct_port, server.log_path = auth, acct, log_path
        try:
            _wait_listening(process, port, log_path)
            _wait_radius(process, auth, log_path)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            # The RADIUS child stops with its parent (within a second): let it let go of
            # the database before it is dropped.
            time.sleep(1.5)


def _wait_listening(process: Any, port: int, log_path: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"billcore serve exited: {log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("billcore serve did not listen within a minute")


def _wait_radius(process: Any, port: int, log_path: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"billcore serve exited: {log_path.read_text()}")
        if "billcore radius: listening" in log_path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"the RADIUS server did not start: {log_path.read_text()}")


# --------------------------------------------------------------------------- the world


def tariff(server: Server, name: str, rates: list[dict[str, Any]], **extra: Any) -> int:
    made = server.ok("POST", "/tariffs", {"name": name, "currency": "USD", **extra}, 201)
    for rate in rates:
        body = {"effective_from": EFFECTIVE, **rate}
        server.ok("POST", f"/tariffs/{made['id']}/rates", body, 201)
    return int(made["id"])


def product(server: Server, name: str, tariff_id: int) -> int:
    made = server.ok("POST", "/products", {"name": name, "currency": "USD"}, 201)
    entry = {"service": "voice", "tariff": tariff_id}
    server.ok("POST", f"/products/{made['id']}/entries", entry, 201)
    return int(made["id"])


def world(server: Server) -> dict[str, int]:
    """§4.3's tariff (60/6 at $0.10/min, $0.20 fee) with a forbidden prefix, and a tariff
    free on 800 with no fee; a product for each."""
    step = {"interval_first": 60, "interval_next": 6}
    paid = tariff(
        server,
        "Voice 98",
        [
            {"prefix": "420", "price_first": "0.10", "price_next": "0.10", **step},
            {"prefix": "4209", "price_first": "0.10", "price_next": "0.10", "forbidden": True},
        ],
        connection_fee="0.20",
    )
    free = tariff(
        server,
        "Free",
        [
            {"prefix": "800", "price_first": "0", "price_next": "0"},
            {"prefix": "420", "price_first": "0.10", "price_next": "0.10", **step},
        ],
    )
    return {"paid": product(server, "Paid", paid), "free": product(server, "Free", free)}


def customer(
    server: Server, name: str, product_id: int, identifier: str, **data: Any
) -> tuple[int, int]:
    """(customer id, account id), prepaid with ``available_funds`` unless ``data`` says."""
    body = {"name": name, "currency": "USD", "balance_control": "prepaid", **data}
    cid = server.ok("POST", "/customers", body, 201)["id"]
    aid = server.ok("POST", f"/customers/{cid}/accounts", {"identifier": identifier}, 201)["id"]
    server.ok("PUT", f"/accounts/{aid}/products", {"product": product_id, "addons": []})
    return int(cid), int(aid)


def add_nas(server: Server, address: str = "127.0.0.1", secret: str = SECRET) -> Any:
    return server.ok(
        "POST", "/nas", {"name": f"nas-{address}", "address": address, "secret": secret}, 201
    )


# --------------------------------------------------------------------------- radclient


def radclient(
    server: RadiusServer,
    kind: str,
    attributes: dict[str, Any],
    *,
    secret: str = SECRET,
    tmp: Path,
    wait: float = 20,
) -> tuple[str, dict[str, list[str]]]:
    """Send one packet with FreeRADIUS's radclient; (reply type, attributes) — ("", {}) when
    no reply came."""
    assert RADCLIENT is not None
    raddb = tmp / "raddb"
    raddb.mkdir(exist_ok=True)
    (raddb / "dictionary").write_text("")  # only the main dictionaries (Cisco's included)
    port = server.auth_port if kind == "auth" else server.acct_port
    body = ", ".join(
        f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in attributes.items()
    )
    target = (f"127.0.0.1:{port}", kind, secret)
    done = subprocess.run(
        [RADCLIENT, "-x", "-r", "1", "-t", str(wait), "-d", str(raddb), *target],
        input=body + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return parse_radclient(done.stdout)


def parse_radclient(output: str) -> tuple[str, dict[str, list[str]]]:
    kind = ""
    attrs: dict[str, list[str]] = {}
    receiving = False
    for line in output.splitlines():
        if line.startswith("Received "):
            kind = line.split()[1]
            receiving = True
            continue
        if line.startswith("Sent "):
            receiving = False
            continue
        if receiving and line.startswith(("\t", " ")) and " = " in line:
            name, value = line.strip().split(" = ", 1)
            attrs.setdefault(name, []).append(value.strip('"'))
    return kind, attrs


# --------------------------------------------------------------------------- pyrad client


def _dictionary() -> Any:
    from pyrad.dictionary import Dictionary

    return Dictionary(str(Path(__file__).parents[2] / "src/billcore/network/radius/dictionary"))


DICTIONARY = _dictionary()


def pyrad_send(
    port: int, code: int, attributes: dict[str, Any], *, secret: str = SECRET, tries: int = 10
) -> Any:
    """One request with pyrad's codec (for volume), retransmitted unchanged on a timeout (the
    server answers a retransmission from its cache); the decoded reply, or None."""
    from pyrad import packet

    cls = packet.AcctPacket if code == packet.AccountingRequest else packet.AuthPacket
    pkt = cls(code=code, secret=secret.encode(), dict=DICTIONARY)
    for name, value in attributes.items():
        pkt[name] = value
    if code == packet.AccessRequest:
        pkt.authenticator = pkt.CreateAuthenticator()
    raw = pkt.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for _ in range(tries):
            s.sendto(raw, ("127.0.0.1", port))
            try:
                data = s.recv(4096)
            except TimeoutError:
                continue
            return cls(secret=secret.encode(), dict=DICTIONARY, packet=data)
    return None
