"""The RADIUS packet handling under hostile input (issue 15 §3): truncated packets, wrong
lengths, unknown and huge attributes, a wrong secret, random bytes — dropped and counted, or
answered as a refusal, never an exception. Hypothesis drives ``RadiusHandler.handle``, the
function the server calls for every datagram."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrad import packet

from billcore.network.radius.handler import Clients, Counters, RadiusHandler

pytestmark = pytest.mark.django_db
SECRET = "fuzz-secret-1"
NAS = "192.0.2.1"


@pytest.fixture
def handler(db: Any) -> RadiusHandler:
    return RadiusHandler(clients=Clients(lambda: {NAS: (SECRET, "fuzz")}), counters=Counters())


def _accounting(attrs: bytes, *, secret: str = SECRET, ident: int = 1) -> bytes:
    header = struct.pack("!BBH", packet.AccountingRequest, ident, 20 + len(attrs))
    digest = hashlib.md5(header + 16 * b"\x00" + attrs + secret.encode()).digest()
    return header + digest + attrs


def _attr(code: int, value: bytes) -> bytes:
    return bytes((code, len(value) + 2)) + value


def test_each_kind_of_bad_packet_is_dropped_and_counted(handler: RadiusHandler) -> None:
    c = handler.counters
    assert (
        handler.handle(b"\x01\x01\x00\x14" + b"\x00" * 16, "203.0.113.9", accounting=False) is None
    )
    assert c.totals == {"radius.dropped.unknown_client": 1}
    assert handler.handle(b"\x01\x02\x00", NAS, accounting=False) is None  # truncated
    assert handler.handle(b"\x01\x03\x00\xff" + b"\x00" * 16, NAS, accounting=False) is None
    assert handler.handle(b"\x01\x04\x00\x10" + b"\x00" * 16, NAS, accounting=False) is None
    assert c.totals["radius.dropped.malformed"] == 3
    good = _accounting(_attr(40, b"\x00\x00\x00\x07"))  # Accounting-On
    wrong = _accounting(_attr(40, b"\x00\x00\x00\x07"), secret="another-secret")
    assert handler.handle(wrong, NAS, accounting=True) is None
    assert c.totals["radius.dropped.bad_authenticator"] == 1
    assert handler.handle(good, NAS, accounting=False) is None  # accounting on the auth port
    assert c.totals["radius.dropped.unexpected_code"] == 1
    reply = handler.handle(good, NAS, accounting=True)
    assert reply is not None and reply[0] == packet.AccountingResponse
    # The same packet again: the first answer, counted as a retransmission.
    assert handler.handle(good, NAS, accounting=True) == reply
    assert c.totals["radius.retransmissions"] == 1
    # An attribute whose length runs past the packet; one of length 1.
    assert handler.handle(_accounting(b"\x2c\xff" + b"x" * 10), NAS, accounting=True) is None
    assert handler.handle(_accounting(b"\x2c\x01"), NAS, accounting=True) is None
    assert c.totals["radius.dropped.malformed"] == 5


def test_unknown_and_huge_attributes_are_answered_not_crashed(handler: RadiusHandler) -> None:
    attrs = _attr(40, b"\x00\x00\x00\x01") + _attr(44, b"s" * 253)
    attrs += _attr(200, b"\xff" * 253) + _attr(26, b"\x00\x00\x30\x39\x01\x05abc")
    attrs += _attr(1, "ü".encode() * 100)
    reply = handler.handle(_accounting(attrs), NAS, accounting=True)
    assert reply is not None and reply[0] == packet.AccountingResponse


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=600), accounting=st.booleans())
def test_random_bytes_never_raise(handler: RadiusHandler, data: bytes, accounting: bool) -> None:
    reply = handler.handle(data, NAS, accounting=accounting)
    assert reply is None or reply[0] in (
        packet.AccessAccept,
        packet.AccessReject,
        packet.AccountingResponse,
    )


_attribute = st.tuples(st.integers(0, 255), st.binary(max_size=253)).map(lambda t: _attr(*t))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    attributes=st.lists(_attribute, max_size=12),
    code=st.sampled_from([packet.AccessRequest, packet.AccountingRequest]),
    lie=st.integers(-30, 30),
    cut=st.integers(0, 40),
    signed=st.booleans(),
)
def test_well_framed_packets_with_any_attributes_never_raise(
    handler: RadiusHandler, attributes: list[bytes], code: int, lie: int, cut: int, signed: bool
) -> None:
    attrs = b"".join(attributes)
    length = max(0, min(65535, 20 + len(attrs) + lie))
    header = struct.pack("!BBH", code, 7, length)
    if signed:
        auth = hashlib.md5(header + 16 * b"\x00" + attrs + SECRET.encode()).digest()
    else:
        auth = b"\x11" * 16
    data = (header + auth + attrs)[: max(0, 20 + len(attrs) - cut)]
    before = sum(handler.counters.totals.values())
    reply = handler.handle(data, NAS, accounting=code == packet.AccountingRequest)
    if reply is None:
        # Dropped: counted.
        assert sum(handler.counters.totals.values()) > before
