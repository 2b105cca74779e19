"""RADIUS with a real peer (issue 15 §1, §3): ``billcore serve --radius`` as an operator runs
it, driven by FreeRADIUS's own ``radclient`` for Access-Request and Accounting
Start/Interim/Stop, the exact attributes asserted: the 98-minute example of
rating-and-tabs.md §4.3, a rejection per status (h323-return-code 1, 2, 4, 6, 7, 9, 12),
a forbidden destination, a postpaid customer at its limit, a zero-priced call with no funds;
the live session on ``/api/v1/sessions``; drops counted on ``/api/v1/nas/counters``.
Features: CC-04 (real-time authorization), CC-05 (reservations)."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.radius_support import (
    CLD,
    FORBIDDEN,
    FREE,
    RADCLIENT,
    RadiusServer,
    add_nas,
    customer,
    radclient,
    serve_radius,
    world,
)

pytestmark = pytest.mark.skipif(RADCLIENT is None, reason="radclient (freeradius-utils) missing")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RadiusServer, dict[str, int]]]:
    tmp = tmp_path_factory.mktemp("radius")
    with serve_radius(tmp) as server:
        products = world(server)
        add_nas(server)
        yield server, products


@pytest.fixture
def server(live: Any) -> RadiusServer:
    return live[0]


@pytest.fixture
def products(live: Any) -> dict[str, int]:
    return live[1]


def _auth(server: RadiusServer, tmp: Path, user: str, cld: str = CLD, **extra: Any) -> Any:
    return radclient(
        server, "auth", {"User-Name": user, "Called-Station-Id": cld, **extra}, tmp=tmp
    )


def _acct(server: RadiusServer, tmp: Path, status: str, session: str, **extra: Any) -> Any:
    attributes = {"Acct-Status-Type": status, "Acct-Session-Id": session, **extra}
    return radclient(server, "acct", attributes, tmp=tmp)


def _money(server: RadiusServer, cid: int) -> tuple[Decimal, Decimal]:
    c = server.ok("GET", f"/customers/{cid}")
    return Decimal(c["balance"]), Decimal(c["reserved"])


def test_the_98_minute_call_over_radclient(
    server: RadiusServer, products: dict[str, int], tmp_path: Path
) -> None:
    cid, _ = customer(server, "Pia", products["paid"], "1001", available_funds="10")
    kind, attrs = _auth(server, tmp_path, "1001", **{"Acct-Session-Id": "call-98"})
    assert kind == "Access-Accept", attrs
    assert attrs["Session-Timeout"] == ["5880"]
    assert attrs["h323-credit-time"] == ["h323-credit-time=5880"]
    assert attrs["h323-return-code"] == ["h323-return-code=0"]
    assert attrs["Cisco-AVPair"] == ["h323-ivr-in=DURATION:5880"]
    # The whole grant is held (§4.4): $10.
    assert _money(server, cid) == (Decimal("-10.00000"), Decimal("10.00000"))
    # A second call now finds no funds: h323-return-code 4.
    kind, attrs = _auth(server, tmp_path, "1001", **{"Acct-Session-Id": "call-99"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=4"])

    common = {"User-Name": "1001", "Called-Station-Id": CLD}
    kind, attrs = _acct(server, tmp_path, "Start", "call-98", **common)
    assert (kind, attrs) == ("Accounting-Response", {})
    live = server.ok("GET", f"/sessions?customer={cid}")
    assert live["count"] == 1
    row = live["items"][0]
    assert (row["account_identifier"], row["status"], row["granted"], row["held"]) == (
        "1001",
        "live",
        5880,
        "10.00000",
    )
    # Interim at 61 s: 0.20 fee + 0.10 first minute + one 6 s step = 0.31.
    _acct(server, tmp_path, "Interim-Update", "call-98", **common, **{"Acct-Session-Time": 61})
    assert _money(server, cid) == (Decimal("-9.69000"), Decimal("9.69000"))
    # The same Interim again (a new packet, same figures): nothing changes.
    _acct(server, tmp_path, "Interim-Update", "call-98", **common, **{"Acct-Session-Time": 61})
    assert _money(server, cid) == (Decimal("-9.69000"), Decimal("9.69000"))
    # Stop at 125 s: 0.41 in all, the rest released.
    stop = {**common, "Acct-Session-Time": 125, "Acct-Terminate-Cause": "User-Request"}
    kind, _ = _acct(server, tmp_path, "Stop", "call-98", **stop)
    assert kind == "Accounting-Response"
    assert _money(server, cid) == (Decimal("-9.59000"), Decimal("0.00000"))
    _acct(server, tmp_path, "Stop", "call-98", **stop)  # repeated: charged once
    assert _money(server, cid) == (Decimal("-9.59000"), Decimal("0.00000"))
    assert server.ok("GET", f"/sessions?customer={cid}")["count"] == 0
    rows = server.ok("GET", f"/customers/{cid}/transactions")["items"]
    usage = sorted(Decimal(r["amount"]) for r in rows if 0 < Decimal(r["amount"]) < 1)
    # The Interim's 0.31, then the Stop's 0.41 - 0.31 (no second connection fee).
    assert usage == [Decimal("0.10000"), Decimal("0.31000")]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"status": {"action": "block", "reason": "test"}}, "7"),
        ({"status": {"action": "terminate"}}, "7"),
        ({"status": {"action": "terminate", "permanent": True}}, "7"),
        ({"status": {"action": "export"}}, "7"),
        ({"account": {"blocked": True}}, "12"),
        ({"funds": "0.29"}, "4"),
        ({"postpaid": "0"}, "6"),
    ],
    ids=["blocked", "terminated", "closed", "exported", "account-blocked", "no-funds", "at-limit"],
)
def test_a_rejection_per_status(
    server: RadiusServer,
    products: dict[str, int],
    tmp_path: Path,
    setup: dict[str, Any],
    code: str,
) -> None:
    ident = f"2{abs(hash(str(setup))) % 10**6:06d}"
    data: dict[str, Any] = {"available_funds": setup.get("funds", "10")}
    if "postpaid" in setup:
        data = {"balance_control": "postpaid", "credit_limit": setup["postpaid"]}
    cid, aid = customer(server, f"C{ident}", products["paid"], ident, **data)
    if "status" in setup:
        body = setup["status"]
        if body == {"action": "terminate"}:
            soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
            body = {**body, "terminate_on": soon.isoformat()}
        server.ok("POST", f"/customers/{cid}/status", body)
    if "account" in setup:
        server.ok("PATCH", f"/accounts/{aid}", setup["account"])
    before = _money(server, cid)
    kind, attrs = _auth(server, tmp_path, ident, **{"Acct-Session-Id": f"r-{ident}"})
    assert kind == "Access-Reject", attrs
    assert attrs["h323-return-code"] == [f"h323-return-code={code}"]
    assert attrs["Reply-Message"][0]
    assert "Session-Timeout" not in attrs
    assert _money(server, cid) == before


def test_unknown_account_wrong_password_chap_and_destinations(
    server: RadiusServer, products: dict[str, int], tmp_path: Path
) -> None:
    kind, attrs = _auth(server, tmp_path, "nobody-here")
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=1"])
    cid, aid = customer(server, "Pw", products["paid"], "3001", available_funds="10")
    got = server.ok("PUT", f"/accounts/{aid}/radius-password", {"password": "s3cret-pw"})
    assert got == {"account": aid, "password_set": True}
    kind, attrs = _auth(server, tmp_path, "3001", **{"User-Password": "wrong-pw"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=2"])
    kind, attrs = _auth(server, tmp_path, "3001", **{"CHAP-Password": "s3cret-pw"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=2"])
    kind, attrs = _auth(server, tmp_path, "3001", FORBIDDEN, **{"User-Password": "s3cret-pw"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=9"])
    kind, attrs = _auth(server, tmp_path, "3001", "999123", **{"User-Password": "s3cret-pw"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=9"])
    assert _money(server, cid) == (Decimal("-10.00000"), Decimal("0.00000"))
    kind, attrs = _auth(
        server, tmp_path, "3001", **{"User-Password": "s3cret-pw", "Acct-Session-Id": "pw-1"}
    )
    assert (kind, attrs["Session-Timeout"]) == ("Access-Accept", ["5880"])


def test_a_zero_priced_call_with_no_funds_is_accepted(
    server: RadiusServer, products: dict[str, int], tmp_path: Path
) -> None:
    cid, _ = customer(server, "Free", products["free"], "4001", available_funds="0")
    kind, attrs = _auth(server, tmp_path, "4001", FREE, **{"Acct-Session-Id": "free-1"})
    assert kind == "Access-Accept", attrs
    # The installation's cap (3 hours) and nothing held.
    assert attrs["Session-Timeout"] == ["10800"]
    assert attrs["h323-credit-time"] == ["h323-credit-time=10800"]
    assert _money(server, cid) == (Decimal("0.00000"), Decimal("0.00000"))
    kind, attrs = _auth(server, tmp_path, "4001", CLD, **{"Acct-Session-Id": "paid-1"})
    assert (kind, attrs["h323-return-code"]) == ("Access-Reject", ["h323-return-code=4"])


def test_a_stop_for_an_unknown_session_is_charged_as_usage(
    server: RadiusServer, products: dict[str, int], tmp_path: Path
) -> None:
    cid, _ = customer(server, "Late", products["paid"], "5001", available_funds="10")
    stop = {"User-Name": "5001", "Called-Station-Id": CLD, "Acct-Session-Time": 61}
    kind, _ = _acct(server, tmp_path, "Stop", "never-authorised", **stop)
    assert kind == "Accounting-Response"
    assert _money(server, cid) == (Decimal("-9.69000"), Decimal("0.00000"))


def _raw(server: RadiusServer, data: bytes, *, source: str = "127.0.0.1") -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(1.0)
        s.sendto(data, ("127.0.0.1", server.auth_port))
        try:
            return s.recv(4096)
        except TimeoutError:
            return None


def test_bad_packets_and_strangers_are_dropped_and_counted(
    server: RadiusServer, tmp_path: Path
) -> None:
    before = server.ok("GET", "/nas/counters")
    # From an address that is no NAS client (127.0.0.2 is loopback too).
    assert _raw(server, b"\x01\x01\x00\x14" + b"\x00" * 16, source="127.0.0.2") is None
    # Truncated, and with a length past the datagram.
    assert _raw(server, b"\x01\x02\x00") is None
    assert _raw(server, b"\x01\x03\x00\xff" + b"\x00" * 16) is None
    # An accounting request signed with the wrong secret.
    kind, _ = radclient(
        server,
        "acct",
        {"Acct-Status-Type": "Start", "Acct-Session-Id": "x", "User-Name": "1"},
        secret="not-the-secret",
        tmp=tmp_path,
        wait=1,
    )
    assert kind == ""
    deadline = time.monotonic() + 10
    after = before
    while time.monotonic() < deadline:
        after = server.ok("GET", "/nas/counters")
        grew = {
            k: after.get(k, 0) - before.get(k, 0)
            for k in (
                "radius.dropped.unknown_client",
                "radius.dropped.malformed",
                "radius.dropped.bad_authenticator",
            )
        }
        if all(v >= 1 for v in grew.values()):
            break
        time.sleep(0.5)
    assert (
        after.get("radius.dropped.unknown_client", 0)
        - before.get("radius.dropped.unknown_client", 0)
        == 1
    )
    assert after.get("radius.dropped.malformed", 0) - before.get("radius.dropped.malformed", 0) == 2
    # radclient retries once: two bad packets.
    assert after.get("radius.dropped.bad_authenticator", 0) - before.get(
        "radius.dropped.bad_authenticator", 0
    ) in (1, 2)
