"""The Diameter base protocol of billcore's peer (RFC 6733, issue 15 §2-§3): Capabilities-
Exchange and Device-Watchdog answered (by Erlang/OTP's diameter application, an independent
peer, and by hand-built bytes), an unknown Origin-Host refused, and malformed messages
(truncated header, wrong length, bad AVP length, huge AVP) answered with the right error and
counted, the server staying up. No database: the application handler here is a stub that
answers 2001; the Gy decisions are in test_diameter_gy.py."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from billcore.network.diameter import codec
from billcore.network.diameter.codec import Avp, make
from billcore.network.diameter.server import Request
from tests.e2e.diameter_support import (
    SERVER_HOST,
    RawPeer,
    RunningServer,
    ccr,
    otp_peer,
    result_code,
    run_otp_peer,
    running,
)

__all__ = ["otp_peer"]


def _stub(request: Request) -> list[Avp]:
    m = request.message
    session = m.find("Session-Id")
    assert session is not None
    return [session, make("Result-Code", 2001), make("Auth-Application-Id", 4)] + [
        a for a in (m.find("CC-Request-Type"), m.find("CC-Request-Number")) if a
    ]


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with running(_stub) as s:
        yield s


@pytest.fixture
def peer(server: RunningServer) -> Iterator[RawPeer]:
    p = RawPeer(server.port)
    yield p
    p.close()


def test_the_otp_peer_exchanges_capabilities_and_watchdogs(
    server: RunningServer, otp_peer: Path
) -> None:
    events = run_otp_peer(
        otp_peer,
        server.port,
        [
            ccr("otp.peer;1", 4, 0, subscriber="1", requested={"CC-Time": 1}),
            ("sleep", 1800),
            ("watchdog", None),
        ],
        watchdog_ms=500,
    )
    assert events[0] == {"event": "up"}  # OTP accepted our CEA
    answer = events[1]
    assert answer["event"] == "answer" and answer["errors"] == []
    assert answer["msg"]["_command"] == "CCA"
    assert answer["msg"]["Result-Code"] == 2001
    assert answer["msg"]["Origin-Host"] == SERVER_HOST
    watchdog = events[2]
    assert watchdog["state"].endswith("okay}")  # RFC 3539: the connection stayed OKAY
    # OTP counted DWAs with Result-Code 2001 received from us.
    assert any("{{0,280,0},recv,{'Result-Code',2001}}" in s for s in watchdog["stats"])
    assert server.counts["dwr"] >= 1
    assert server.counts["peers"] == 1


def test_cer_answered_with_our_identity_and_the_common_application(peer: RawPeer) -> None:
    cea = peer.cer()
    assert cea.header.code == 257 and not cea.header.is_request
    assert result_code(cea) == 2001
    assert cea.find("Origin-Host").text() == SERVER_HOST  # type: ignore[union-attr]
    assert [a.uint() for a in cea.find_all("Auth-Application-Id")] == [4]
    dwa = peer.dwr()
    assert (dwa.header.code, result_code(dwa)) == (280, 2001)


def test_disconnect_peer_is_answered_then_the_connection_closes(
    server: RunningServer, peer: RawPeer
) -> None:
    peer.cer()
    peer.send(peer.request(codec.CMD_DISCONNECT_PEER, [make("Disconnect-Cause", 0)]))
    dpa = peer.receive()
    assert (dpa.header.code, result_code(dpa)) == (282, 2001)
    assert peer.closed()


def test_an_unknown_origin_host_is_refused_3010() -> None:
    with running(_stub, allowed_peers=["gw.example"]) as server:
        stranger = RawPeer(server.port)
        cea = stranger.cer("stranger.example")
        assert result_code(cea) == codec.UNKNOWN_PEER
        assert cea.header.flags & codec.FLAG_ERROR
        assert stranger.closed()
        friend = RawPeer(server.port)
        assert result_code(friend.cer("GW.example")) == 2001  # DiameterIdentity: no case
        assert server.counts["refused:unknown_peer"] == 1
        friend.close()


def test_a_cer_without_a_common_application_is_5010(peer: RawPeer) -> None:
    peer.send(
        peer.request(
            257,
            [
                make("Origin-Host", "x"),
                make("Origin-Realm", "y"),
                make("Auth-Application-Id", 16777238),
            ],
        )
    )
    assert result_code(peer.receive()) == codec.NO_COMMON_APPLICATION
    assert peer.closed()


def test_a_request_before_the_cer_is_refused_and_closed(peer: RawPeer) -> None:
    peer.send(peer.request(280, [make("Origin-Host", "x"), make("Origin-Realm", "y")]))
    assert result_code(peer.receive()) == codec.UNABLE_TO_COMPLY
    assert peer.closed()


def test_a_truncated_header_is_counted_and_the_server_stays_up(server: RunningServer) -> None:
    p = RawPeer(server.port)
    p.send(b"\x01\x00\x00\x14\x80")
    p.close()
    again = RawPeer(server.port)
    assert result_code(again.cer()) == 2001
    again.close()
    assert server.counts["malformed:truncated"] == 1


@pytest.mark.parametrize(
    ("length", "expected"),
    [(22, codec.INVALID_MESSAGE_LENGTH), (12, codec.INVALID_MESSAGE_LENGTH), (0xFFFFF0, 5015)],
)
def test_a_wrong_message_length_is_answered_5015_and_closed(
    server: RunningServer, peer: RawPeer, length: int, expected: int
) -> None:
    peer.cer()
    peer.send(struct.pack(">IIIII", (1 << 24) | length, (0x80 << 24) | 280, 0, 5, 5))
    answer = peer.receive()
    assert (answer.header.code, answer.header.hop_by_hop, result_code(answer)) == (280, 5, expected)
    assert peer.closed()
    assert server.counts[f"malformed:{expected}"] == 1


def test_an_unsupported_version_is_answered_5011_and_closed(peer: RawPeer) -> None:
    peer.cer()
    peer.send(struct.pack(">IIIII", (2 << 24) | 20, (0x80 << 24) | 280, 0, 5, 5))
    assert result_code(peer.receive()) == codec.UNSUPPORTED_VERSION
    assert peer.closed()


def _ccr_with(bad_avp: bytes) -> bytes:
    session = codec.encode_avp(make("Session-Id", "raw.peer;77"))
    body = session + bad_avp
    return struct.pack(">IIIII", (1 << 24) | (20 + len(body)), (0xC0 << 24) | 272, 4, 9, 9) + body


def test_a_bad_avp_length_is_5014_with_the_failed_avp_and_the_connection_stays(
    server: RunningServer, peer: RawPeer
) -> None:
    peer.cer()
    # CC-Request-Number claiming 4 bytes (less than its own header).
    peer.send(_ccr_with(struct.pack(">II", 415, (0x40 << 24) | 4) + b"\0\0\0\0"))
    cca = peer.receive()
    assert cca.header.code == 272 and not cca.header.flags & codec.FLAG_ERROR
    assert cca.find("Session-Id").text() == "raw.peer;77"  # type: ignore[union-attr]
    assert result_code(cca) == codec.INVALID_AVP_LENGTH
    failed = cca.find("Failed-AVP")
    assert failed is not None
    assert [(a.code, a.data) for a in failed.children] == [(415, b"\0\0\0\0")]
    assert result_code(peer.dwr()) == 2001  # still connected
    assert server.counts["malformed:5014"] == 1


def test_a_huge_avp_is_5014(server: RunningServer, peer: RawPeer) -> None:
    peer.cer()
    peer.send(_ccr_with(struct.pack(">II", 263, (0x40 << 24) | 0xFFFFFF) + b"abcd"))
    cca = peer.receive()
    assert result_code(cca) == codec.INVALID_AVP_LENGTH
    assert result_code(peer.dwr()) == 2001
    assert server.counts["malformed:5014"] == 1


def test_an_application_we_do_not_serve_is_3007(peer: RawPeer) -> None:
    peer.cer()
    peer.send(peer.request(272, [make("Session-Id", "s")], app=16777238))
    answer = peer.receive()
    assert result_code(answer) == codec.APPLICATION_UNSUPPORTED
    assert answer.header.flags & codec.FLAG_ERROR
    assert result_code(peer.dwr()) == 2001


def test_garbage_never_stops_the_server(server: RunningServer) -> None:
    import random

    rnd = random.Random(15)
    for _ in range(40):
        p = RawPeer(server.port)
        p.cer()
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 120)))
        p.send(struct.pack(">I", (1 << 24) | (20 + len(junk) + (-len(junk) % 4))) + junk)
        p.close()
    ok = RawPeer(server.port)
    assert result_code(ok.cer()) == 2001
    assert result_code(ok.dwr()) == 2001
    ok.close()
    assert server.counts.get("internal_errors", 0) == 0


# --- Gy requests that fail before any decision (no database touched) ----------------------


@pytest.fixture
def gy_peer_raw() -> Iterator[RawPeer]:
    import datetime as dt

    from billcore.network.diameter.gy import GyApplication

    with running(GyApplication(clock=lambda: dt.datetime(2026, 11, 1, tzinfo=dt.UTC))) as s:
        p = RawPeer(s.port)
        p.cer()
        yield p
        p.close()


def test_a_ccr_without_cc_request_type_is_5005_naming_it(gy_peer_raw: RawPeer) -> None:
    peer = gy_peer_raw
    peer.send(
        peer.request(
            272,
            [
                make("Session-Id", "raw;1"),
                make("Auth-Application-Id", 4),
                make("CC-Request-Number", 0),
            ],
            app=4,
        )
    )
    cca = peer.receive()
    session = cca.find("Session-Id")
    assert session is not None and session.text() == "raw;1"
    assert result_code(cca) == codec.MISSING_AVP
    failed = cca.find("Failed-AVP")
    assert failed is not None and [a.code for a in failed.children] == [416]


def test_an_unknown_cc_request_type_is_5004(gy_peer_raw: RawPeer) -> None:
    peer = gy_peer_raw
    peer.send(
        peer.request(
            272,
            [make("Session-Id", "raw;2"), make("CC-Request-Type", 9), make("CC-Request-Number", 0)],
            app=4,
        )
    )
    cca = peer.receive()
    assert result_code(cca) == codec.INVALID_AVP_VALUE
    failed = cca.find("Failed-AVP")
    assert failed is not None and failed.children[0].int32() == 9
    assert result_code(peer.dwr()) == 2001


def test_a_stopping_server_sends_disconnect_peer() -> None:
    with running(_stub) as server:
        peer = RawPeer(server.port)
        assert result_code(peer.cer()) == 2001
        idle = RawPeer(server.port)  # never did its CER: just closed
    dpr = peer.receive()
    assert (dpr.header.code, dpr.header.is_request) == (codec.CMD_DISCONNECT_PEER, True)
    cause = dpr.find("Disconnect-Cause")
    assert cause is not None and cause.int32() == 0  # REBOOTING
    assert dpr.find("Origin-Host").text() == SERVER_HOST  # type: ignore[union-attr]
    assert peer.closed() and idle.closed()
