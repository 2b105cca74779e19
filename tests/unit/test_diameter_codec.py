"""billcore's Diameter codec (RFC 6733 §3-§4): exact bytes, strict length checks with the
result code each error is answered with, and a Hypothesis fuzz of the parser (issue 15 §2,
§3: malformed messages are answered with the right error, never a crash)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billcore.network.diameter import codec
from billcore.network.diameter.codec import Avp, DecodeError, Header, make


def _header(code: int = 272, flags: int = 0xC0, app: int = 4) -> Header:
    return Header(length=0, flags=flags, code=code, application_id=app, hop_by_hop=7, end_to_end=9)


def _raw(body: bytes, *, code: int = 272, flags: int = 0xC0, length: int | None = None) -> bytes:
    size = 20 + len(body) if length is None else length
    return struct.pack(">IIIII", (1 << 24) | size, (flags << 24) | code, 4, 7, 9) + body


def _ccr() -> bytes:
    return codec.encode(
        _header(),
        [
            make("Session-Id", "gw.example;1;42"),
            make("Origin-Host", "gw.example"),
            make("CC-Request-Type", 1),
            make("CC-Request-Number", 0),
            make(
                "Subscription-Id",
                [make("Subscription-Id-Type", 0), make("Subscription-Id-Data", "15551234567")],
            ),
            make(
                "Multiple-Services-Credit-Control",
                [make("Requested-Service-Unit", [make("CC-Total-Octets", 10**12)])],
            ),
            make(
                "Service-Information",
                [make("IMS-Information", [make("Called-Party-Address", "tel:+4420")])],
            ),
        ],
    )


def test_an_avp_is_encoded_as_the_rfc_lays_it_out() -> None:
    # Service-Context-Id (461), M flag, length 22 = 8 + 14, padded with two zero bytes.
    avp = make("Service-Context-Id", "32251@3gpp.org")
    assert codec.encode_avp(avp).hex() == "000001cd40000016333232353140336770702e6f72670000"
    # A vendor AVP: V and M flags, the vendor id after the length, length 12 + 9.
    vendor = make("Called-Party-Address", "tel:+4420")
    assert codec.encode_avp(vendor).hex() == ("00000340c0000015000028af74656c3a2b34343230000000")


def test_a_message_round_trips_with_grouped_and_vendor_avps() -> None:
    raw = _ccr()
    assert len(raw) % 4 == 0
    message = codec.decode(raw)
    assert message.header.code == 272 and message.header.is_request
    assert (message.header.hop_by_hop, message.header.end_to_end) == (7, 9)
    assert message.find("Session-Id").text() == "gw.example;1;42"  # type: ignore[union-attr]
    mscc = message.find("Multiple-Services-Credit-Control")
    assert mscc is not None
    rsu = mscc.find("Requested-Service-Unit")
    assert rsu is not None and rsu.find("CC-Total-Octets").uint() == 10**12  # type: ignore[union-attr]
    info = message.find("Service-Information")
    assert info is not None
    ims = info.find("IMS-Information")
    assert ims is not None and ims.find("Called-Party-Address").text() == "tel:+4420"  # type: ignore[union-attr]
    assert codec.encode(message.header, message.avps) == raw


def test_an_answer_keeps_the_identifiers_and_clears_the_request_bit() -> None:
    answer = codec.answer_header(_header(flags=0xC0))
    assert (answer.flags, answer.hop_by_hop, answer.end_to_end) == (0x40, 7, 9)
    assert codec.answer_header(_header(flags=0x80), error=True).flags == 0x20


@pytest.mark.parametrize(
    ("raw", "code", "fatal"),
    [
        (b"\x01\x00\x00", codec.INVALID_MESSAGE_LENGTH, True),  # truncated header
        (struct.pack(">IIIII", (2 << 24) | 20, 0x80 << 24 | 280, 0, 1, 1), 5011, True),
        (_raw(b"", length=22), codec.INVALID_MESSAGE_LENGTH, True),  # not a multiple of 4
        (_raw(b"", length=16), codec.INVALID_MESSAGE_LENGTH, True),  # below the header
        (_raw(b"", length=0xFFFFFC), codec.INVALID_MESSAGE_LENGTH, True),  # huge message
        (_raw(b"", length=24), codec.INVALID_MESSAGE_LENGTH, True),  # says 24, has 20
        (_raw(b"", flags=0xA0), codec.INVALID_HDR_BITS, False),  # a request with E
    ],
)
def test_header_errors(raw: bytes, code: int, fatal: bool) -> None:
    with pytest.raises(DecodeError) as caught:
        codec.decode(raw)
    assert (caught.value.result_code, caught.value.fatal) == (code, fatal)


def _failed(raw: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        codec.decode(raw)
    return caught.value


def test_an_avp_shorter_than_its_header_is_5014_with_its_header_in_failed_avp() -> None:
    error = _failed(_raw(struct.pack(">II", 263, (0x40 << 24) | 4) + b"abcd"))
    assert error.result_code == codec.INVALID_AVP_LENGTH and not error.fatal
    assert error.failed_avp == struct.pack(">II", 263, (0x40 << 24) | 8)


def test_an_avp_reaching_past_the_message_is_5014() -> None:
    error = _failed(_raw(struct.pack(">II", 415, (0x40 << 24) | 200) + b"\0\0\0\1"))
    assert error.result_code == codec.INVALID_AVP_LENGTH
    # CC-Request-Number is an Unsigned32: its header and four zero bytes.
    assert error.failed_avp == struct.pack(">III", 415, (0x40 << 24) | 12, 0)


def test_a_huge_avp_is_5014() -> None:
    error = _failed(_raw(struct.pack(">II", 263, (0x40 << 24) | 0xFFFFFF) + b"x" * 12))
    assert error.result_code == codec.INVALID_AVP_LENGTH


def test_a_fixed_size_avp_of_the_wrong_size_is_5014() -> None:
    error = _failed(_raw(struct.pack(">II", 420, (0x40 << 24) | 11) + b"\0\0\1\0"))
    assert error.result_code == codec.INVALID_AVP_LENGTH
    assert error.failed_avp == struct.pack(">III", 420, (0x40 << 24) | 12, 0)


def test_a_grouped_avp_whose_child_overflows_it_is_5014() -> None:
    child = struct.pack(">II", 420, (0x40 << 24) | 40) + b"\0\0\0\1"
    grouped = struct.pack(">II", 437, (0x40 << 24) | (8 + len(child))) + child
    assert _failed(_raw(grouped)).result_code == codec.INVALID_AVP_LENGTH


def test_reserved_avp_flag_bits_are_3009() -> None:
    error = _failed(_raw(struct.pack(">II", 415, (0x41 << 24) | 12) + b"\0\0\0\1"))
    assert error.result_code == codec.INVALID_AVP_BITS


def test_a_vendor_flag_without_room_for_the_vendor_is_5014() -> None:
    error = _failed(_raw(struct.pack(">II", 873, (0xC0 << 24) | 8)))
    assert error.result_code == codec.INVALID_AVP_LENGTH


def test_an_invalid_utf8_string_is_5004() -> None:
    message = codec.decode(_raw(struct.pack(">II", 263, (0x40 << 24) | 10) + b"\xff\xfe\0\0"))
    session = message.find("Session-Id")
    assert session is not None
    with pytest.raises(DecodeError) as caught:
        session.text()
    assert caught.value.result_code == codec.INVALID_AVP_VALUE


# --- fuzz: whatever the bytes, the parser returns a message or raises DecodeError ----------


def _parse(raw: bytes) -> None:
    try:
        message = codec.decode(raw)
    except DecodeError as exc:
        assert 3000 <= exc.result_code < 6000
        return
    # A message that decodes re-encodes to bytes that decode to the same AVPs (padding
    # bytes, which a sender may fill with anything, are written as zeros).
    again = codec.decode(codec.encode(message.header, message.avps))
    assert _tree(again.avps) == _tree(message.avps)


def _tree(avps: list[Avp]) -> list[object]:
    return [(a.code, a.vendor, _tree(a.children) if a.children else a.data) for a in avps]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _parse(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_fuzz_mutated_ccr(data: st.DataObject) -> None:
    raw = bytearray(_ccr())
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(raw) - 1))
        raw[where] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    _parse(bytes(raw))


_leaf = st.builds(
    lambda code, vendor, data: Avp(code=code, vendor=vendor, data=data),
    st.sampled_from([263, 444, 461, 9999]),
    st.sampled_from([0, 0, 10415]),
    st.binary(max_size=20),
)
_avps = st.recursive(
    _leaf,
    lambda inner: st.builds(
        lambda kids: Avp(code=456, children=kids), st.lists(inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_avps, max_size=5))
def test_fuzz_round_trip(avps: list[Avp]) -> None:
    raw = codec.encode(_header(), avps)
    decoded = codec.decode(raw)
    assert codec.encode(decoded.header, decoded.avps) == raw
