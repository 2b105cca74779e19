"""A small, strict Diameter codec (RFC 6733 §3-§4, the AVPs of RFC 4006 that Gy uses).

Why not a library: PyPI's maintained Diameter stack, ``python-diameter`` (mensonen/diameter,
MIT, 0.9.0 of 2026-02), has a full dictionary, grouped and vendor AVPs and CER/DWR handling,
but its parser is lenient where a network server must be strict: a header length that does
not match the bytes, or an AVP length shorter than its header or reaching past the message,
is either parsed into something or fails with a bare ``ConversionError`` that names neither
the offending AVP nor the RFC's result code (5014 DIAMETER_INVALID_AVP_LENGTH needs the
offending AVP in a Failed-AVP), and its peer machinery is thread-based, not asyncio. The wire
format is simple (a 20-byte header, then AVPs of code/flags/length[/vendor]/data padded to 4),
so billcore keeps this small module, tested against Erlang/OTP's ``diameter`` application (an
independent implementation) and fuzzed with Hypothesis.

Pure Python, no Django: :func:`decode` raises :class:`DecodeError` carrying the result code to
answer with and, for an AVP error, the Failed-AVP payload to return.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum

HEADER_LENGTH = 20
# A request larger than this is refused (5015) and the connection closed: a CCR is a few
# hundred bytes, and a length field of up to 16 MiB must not make the server buffer it.
MAX_MESSAGE_LENGTH = 65536

FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10

AVP_FLAG_VENDOR = 0x80
AVP_FLAG_MANDATORY = 0x40

# Command codes (RFC 6733 §3.1, RFC 4006 §3)
CMD_CAPABILITIES_EXCHANGE = 257
CMD_DEVICE_WATCHDOG = 280
CMD_DISCONNECT_PEER = 282
CMD_CREDIT_CONTROL = 272

APP_BASE = 0
APP_CREDIT_CONTROL = 4
APP_RELAY = 0xFFFFFFFF

VENDOR_3GPP = 10415

# Result codes (RFC 6733 §7.1, RFC 4006 §9)
SUCCESS = 2001
COMMAND_UNSUPPORTED = 3001
APPLICATION_UNSUPPORTED = 3007
INVALID_HDR_BITS = 3008
INVALID_AVP_BITS = 3009
UNKNOWN_PEER = 3010
END_USER_SERVICE_DENIED = 4010
CREDIT_CONTROL_NOT_APPLICABLE = 4011
CREDIT_LIMIT_REACHED = 4012
AVP_UNSUPPORTED = 5001
UNKNOWN_SESSION_ID = 5002
INVALID_AVP_VALUE = 5004
MISSING_AVP = 5005
NO_COMMON_APPLICATION = 5010
UNSUPPORTED_VERSION = 5011
UNABLE_TO_COMPLY = 5012
INVALID_AVP_LENGTH = 5014
INVALID_MESSAGE_LENGTH = 5015
USER_UNKNOWN = 5030
RATING_FAILED = 5031


class T(Enum):
    """AVP data types (RFC 6733 §4.2-§4.3); ENUM is Integer32, TIME is Unsigned32 seconds
    since 1900 (NTP)."""

    OCTETS = "OctetString"
    UTF8 = "UTF8String"
    IDENTITY = "DiameterIdentity"
    U32 = "Unsigned32"
    U64 = "Unsigned64"
    I32 = "Integer32"
    ENUM = "Enumerated"
    TIME = "Time"
    ADDRESS = "Address"
    GROUPED = "Grouped"


_FIXED = {T.U32: 4, T.I32: 4, T.ENUM: 4, T.TIME: 4, T.U64: 8}

# (code, vendor) -> (name, type). Only what billcore reads or writes; any other AVP is kept
# as raw bytes (and refused with 5001 when it carries the M bit where billcore decides).
DICTIONARY: dict[tuple[int, int], tuple[str, T]] = {
    (1, 0): ("User-Name", T.UTF8),
    (30, 0): ("Called-Station-Id", T.UTF8),
    (33, 0): ("Proxy-State", T.OCTETS),
    (55, 0): ("Event-Timestamp", T.TIME),
    (257, 0): ("Host-IP-Address", T.ADDRESS),
    (258, 0): ("Auth-Application-Id", T.U32),
    (259, 0): ("Acct-Application-Id", T.U32),
    (260, 0): ("Vendor-Specific-Application-Id", T.GROUPED),
    (263, 0): ("Session-Id", T.UTF8),
    (264, 0): ("Origin-Host", T.IDENTITY),
    (265, 0): ("Supported-Vendor-Id", T.U32),
    (266, 0): ("Vendor-Id", T.U32),
    (267, 0): ("Firmware-Revision", T.U32),
    (268, 0): ("Result-Code", T.U32),
    (269, 0): ("Product-Name", T.UTF8),
    (273, 0): ("Disconnect-Cause", T.ENUM),
    (278, 0): ("Origin-State-Id", T.U32),
    (279, 0): ("Failed-AVP", T.GROUPED),
    (280, 0): ("Proxy-Host", T.IDENTITY),
    (281, 0): ("Error-Message", T.UTF8),
    (282, 0): ("Route-Record", T.IDENTITY),
    (283, 0): ("Destination-Realm", T.IDENTITY),
    (284, 0): ("Proxy-Info", T.GROUPED),
    (293, 0): ("Destination-Host", T.IDENTITY),
    (294, 0): ("Error-Reporting-Host", T.IDENTITY),
    (295, 0): ("Termination-Cause", T.ENUM),
    (296, 0): ("Origin-Realm", T.IDENTITY),
    (297, 0): ("Experimental-Result", T.GROUPED),
    (298, 0): ("Experimental-Result-Code", T.U32),
    (299, 0): ("Inband-Security-Id", T.U32),
    (411, 0): ("CC-Correlation-Id", T.OCTETS),
    (412, 0): ("CC-Input-Octets", T.U64),
    (413, 0): ("CC-Money", T.GROUPED),
    (414, 0): ("CC-Output-Octets", T.U64),
    (415, 0): ("CC-Request-Number", T.U32),
    (416, 0): ("CC-Request-Type", T.ENUM),
    (417, 0): ("CC-Service-Specific-Units", T.U64),
    (418, 0): ("CC-Session-Failover", T.ENUM),
    (420, 0): ("CC-Time", T.U32),
    (421, 0): ("CC-Total-Octets", T.U64),
    (427, 0): ("Credit-Control-Failure-Handling", T.ENUM),
    (430, 0): ("Final-Unit-Indication", T.GROUPED),
    (431, 0): ("Granted-Service-Unit", T.GROUPED),
    (432, 0): ("Rating-Group", T.U32),
    (436, 0): ("Requested-Action", T.ENUM),
    (437, 0): ("Requested-Service-Unit", T.GROUPED),
    (439, 0): ("Service-Identifier", T.U32),
    (443, 0): ("Subscription-Id", T.GROUPED),
    (444, 0): ("Subscription-Id-Data", T.UTF8),
    (446, 0): ("Used-Service-Unit", T.GROUPED),
    (448, 0): ("Validity-Time", T.U32),
    (449, 0): ("Final-Unit-Action", T.ENUM),
    (450, 0): ("Subscription-Id-Type", T.ENUM),
    (455, 0): ("Multiple-Services-Indicator", T.ENUM),
    (456, 0): ("Multiple-Services-Credit-Control", T.GROUPED),
    (458, 0): ("User-Equipment-Info", T.GROUPED),
    (459, 0): ("User-Equipment-Info-Type", T.ENUM),
    (460, 0): ("User-Equipment-Info-Value", T.OCTETS),
    (461, 0): ("Service-Context-Id", T.UTF8),
    # 3GPP TS 32.299: where an IMS charging trigger puts the called party.
    (832, VENDOR_3GPP): ("Called-Party-Address", T.UTF8),
    (873, VENDOR_3GPP): ("Service-Information", T.GROUPED),
    (876, VENDOR_3GPP): ("IMS-Information", T.GROUPED),
}
BY_NAME: dict[str, tuple[int, int]] = {name: key for key, (name, _t) in DICTIONARY.items()}


class DecodeError(Exception):
    """The bytes are not a valid Diameter message. ``result_code`` is the code to answer
    with; ``failed_avp`` the raw AVP bytes to put in a Failed-AVP (or b""); ``fatal`` means
    the stream cannot be framed any more and the connection must be closed."""

    def __init__(
        self, result_code: int, reason: str, *, failed_avp: bytes = b"", fatal: bool = False
    ) -> None:
        super().__init__(reason)
        self.result_code = result_code
        self.reason = reason
        self.failed_avp = failed_avp
        self.fatal = fatal


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    flags: int
    code: int
    application_id: int
    hop_by_hop: int
    end_to_end: int
    version: int = 1

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)


@dataclass(slots=True)
class Avp:
    """One AVP: ``data`` is the unpadded payload; for a Grouped AVP ``children`` holds the
    decoded AVPs (and ``data`` their encoding)."""

    code: int
    data: bytes = b""
    vendor: int = 0
    flags: int = AVP_FLAG_MANDATORY
    children: list[Avp] = field(default_factory=list)

    @property
    def name(self) -> str:
        entry = DICTIONARY.get((self.code, self.vendor))
        return entry[0] if entry else f"AVP {self.code}/{self.vendor}"

    @property
    def type(self) -> T | None:
        entry = DICTIONARY.get((self.code, self.vendor))
        return entry[1] if entry else None

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & AVP_FLAG_MANDATORY)

    def uint(self) -> int:
        if len(self.data) == 4:
            return int(struct.unpack(">I", self.data)[0])
        if len(self.data) == 8:
            return int(struct.unpack(">Q", self.data)[0])
        raise DecodeError(
            INVALID_AVP_LENGTH, f"{self.name}: bad length", failed_avp=encode_avp(self)
        )

    def int32(self) -> int:
        return int(struct.unpack(">i", self.data)[0])

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(
                INVALID_AVP_VALUE, f"{self.name}: not UTF-8", failed_avp=encode_avp(self)
            ) from None

    def find(self, name: str) -> Avp | None:
        return find(self.children, name)

    def find_all(self, name: str) -> list[Avp]:
        return find_all(self.children, name)


@dataclass(slots=True)
class Message:
    header: Header
    avps: list[Avp]

    def find(self, name: str) -> Avp | None:
        return find(self.avps, name)

    def find_all(self, name: str) -> list[Avp]:
        return find_all(self.avps, name)


def find(avps: Iterable[Avp], name: str) -> Avp | None:
    key = BY_NAME[name]
    return next((a for a in avps if (a.code, a.vendor) == key), None)


def find_all(avps: Iterable[Avp], name: str) -> list[Avp]:
    key = BY_NAME[name]
    return [a for a in avps if (a.code, a.vendor) == key]


# --- decoding ----------------------------------------------------------------------------


def decode_header(data: bytes) -> Header:
    """The first 20 bytes. Raises a fatal :class:`DecodeError` when the stream cannot be
    trusted: wrong version (5011), a length below 20, not a multiple of 4 or above
    :data:`MAX_MESSAGE_LENGTH` (5015)."""
    if len(data) < HEADER_LENGTH:
        raise DecodeError(INVALID_MESSAGE_LENGTH, "truncated header", fatal=True)
    word0, word1, app, hbh, e2e = struct.unpack(">IIIII", data[:HEADER_LENGTH])
    header = Header(
        length=word0 & 0xFFFFFF,
        flags=word1 >> 24,
        code=word1 & 0xFFFFFF,
        application_id=app,
        hop_by_hop=hbh,
        end_to_end=e2e,
        version=word0 >> 24,
    )
    if header.version != 1:
        raise DecodeError(UNSUPPORTED_VERSION, f"version {header.version}", fatal=True)
    if header.length < HEADER_LENGTH or header.length % 4 or header.length > MAX_MESSAGE_LENGTH:
        raise DecodeError(INVALID_MESSAGE_LENGTH, f"message length {header.length}", fatal=True)
    return header


def decode(data: bytes) -> Message:
    """A whole message (exactly ``header.length`` bytes)."""
    header = decode_header(data)
    if len(data) != header.length:
        raise DecodeError(
            INVALID_MESSAGE_LENGTH,
            f"message length {header.length} but {len(data)} bytes",
            fatal=True,
        )
    if header.flags & 0x0F:
        raise DecodeError(INVALID_HDR_BITS, "reserved header bits set")
    if header.flags & FLAG_REQUEST and header.flags & FLAG_ERROR:
        raise DecodeError(INVALID_HDR_BITS, "a request with the E bit")
    return Message(header, list(_decode_avps(data, HEADER_LENGTH, len(data), depth=0)))


def _failed_header(code: int, flags: int, vendor: int) -> bytes:
    """RFC 6733 §7.1.5: for an AVP whose length cannot be trusted, its header with a payload
    of zeros of the type's minimum size is enough for the Failed-AVP."""
    entry = DICTIONARY.get((code, vendor))
    size = _FIXED.get(entry[1], 0) if entry else 0
    return encode_avp(Avp(code=code, data=bytes(size), vendor=vendor, flags=flags))


def _decode_avps(data: bytes, start: int, end: int, *, depth: int) -> Iterator[Avp]:
    if depth > 8:
        raise DecodeError(INVALID_AVP_VALUE, "grouped AVPs nested too deep")
    pos = start
    while pos < end:
        if end - pos < 8:
            raise DecodeError(
                INVALID_AVP_LENGTH,
                "bytes left after the last AVP",
                failed_avp=_failed_header(0, 0, 0),
            )
        code, word = struct.unpack(">II", data[pos : pos + 8])
        flags, length = word >> 24, word & 0xFFFFFF
        head = 8
        vendor = 0
        if flags & AVP_FLAG_VENDOR:
            if end - pos < 12:
                raise DecodeError(
                    INVALID_AVP_LENGTH,
                    f"AVP {code}: vendor flag without a vendor id",
                    failed_avp=_failed_header(code, flags & ~AVP_FLAG_VENDOR, 0),
                )
            vendor = struct.unpack(">I", data[pos + 8 : pos + 12])[0]
            head = 12
        if length < head or pos + length > end:
            raise DecodeError(
                INVALID_AVP_LENGTH,
                f"AVP {code}: length {length} at offset {pos}",
                failed_avp=_failed_header(code, flags, vendor),
            )
        if flags & 0x1F:
            raise DecodeError(
                INVALID_AVP_BITS,
                f"AVP {code}: reserved flag bits",
                failed_avp=bytes(data[pos : pos + length]),
            )
        payload = bytes(data[pos + head : pos + length])
        avp = Avp(code=code, data=payload, vendor=vendor, flags=flags)
        kind = avp.type
        fixed = _FIXED.get(kind) if kind else None
        if fixed is not None and len(payload) != fixed:
            raise DecodeError(
                INVALID_AVP_LENGTH,
                f"{avp.name}: {len(payload)} bytes, not {fixed}",
                failed_avp=_failed_header(code, flags, vendor),
            )
        if kind is T.ADDRESS and len(payload) < 2:
            raise DecodeError(
                INVALID_AVP_LENGTH,
                f"{avp.name}: {len(payload)} bytes",
                failed_avp=_failed_header(code, flags, vendor),
            )
        if kind is T.GROUPED:
            avp.children = list(_decode_avps(data, pos + head, pos + length, depth=depth + 1))
        yield avp
        pos += (length + 3) & ~3
    if pos != end:
        # The last AVP's padding reached past its container: a grouped AVP's declared length
        # does not hold its children (the message itself is a multiple of 4).
        raise DecodeError(
            INVALID_AVP_LENGTH,
            "AVP padding past the end of its container",
            failed_avp=_failed_header(0, 0, 0),
        )


# --- encoding ----------------------------------------------------------------------------


def encode_avp(avp: Avp) -> bytes:
    data = b"".join(encode_avp(c) for c in avp.children) if avp.children else avp.data
    flags = avp.flags | AVP_FLAG_VENDOR if avp.vendor else avp.flags & ~AVP_FLAG_VENDOR
    head = 12 if avp.vendor else 8
    length = head + len(data)
    out = struct.pack(">II", avp.code, (flags << 24) | length)
    if avp.vendor:
        out += struct.pack(">I", avp.vendor)
    return out + data + bytes(-len(data) % 4)


def encode(header: Header, avps: Iterable[Avp]) -> bytes:
    body = b"".join(encode_avp(a) for a in avps)
    length = HEADER_LENGTH + len(body)
    return (
        struct.pack(
            ">IIIII",
            (1 << 24) | length,
            (header.flags << 24) | header.code,
            header.application_id,
            header.hop_by_hop,
            header.end_to_end,
        )
        + body
    )


def make(name: str, value: int | str | bytes | list[Avp], *, mandatory: bool = True) -> Avp:
    """An AVP of the dictionary, its value encoded by its type."""
    code, vendor = BY_NAME[name]
    kind = DICTIONARY[(code, vendor)][1]
    flags = AVP_FLAG_MANDATORY if mandatory else 0
    if kind is T.GROUPED:
        assert isinstance(value, list)
        return Avp(code=code, vendor=vendor, flags=flags, children=value)
    if isinstance(value, int):
        fmt = {T.U64: ">Q", T.I32: ">i", T.ENUM: ">i"}.get(kind, ">I")
        data = struct.pack(fmt, value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        assert isinstance(value, bytes)
        data = value
    return Avp(code=code, vendor=vendor, flags=flags, data=data)


def address(ip: str) -> bytes:
    """An Address AVP payload for an IPv4 or IPv6 address."""
    import ipaddress

    parsed = ipaddress.ip_address(ip)
    family = 1 if parsed.version == 4 else 2
    return struct.pack(">H", family) + parsed.packed


def answer_header(request: Header, *, error: bool = False) -> Header:
    """An answer to ``request``: same code, application and identifiers; R cleared, P kept."""
    flags = request.flags & FLAG_PROXIABLE
    if error:
        flags |= FLAG_ERROR
    return Header(
        length=0,
        flags=flags,
        code=request.code,
        application_id=request.application_id,
        hop_by_hop=request.hop_by_hop,
        end_to_end=request.end_to_end,
    )
