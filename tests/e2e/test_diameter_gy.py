"""Gy credit control end to end (issue 15 §2-§3): Erlang/OTP's diameter application, an
independent implementation with its own RFC 4006 dictionary, drives billcore's Diameter
server over TCP with CCR-Initial / Update / Termination / Event, and the tests assert the
exact AVPs of each answer and the money afterwards: the 98-minute example of
rating-and-tabs.md §4.3, a refusal for each status (CU-14..CU-18), a forbidden destination,
a postpaid customer at its limit (CU-07), a prepaid one without funds (CU-08), a zero-priced
call with no funds (§4.2 step 5). Runs on SQLite and PostgreSQL (the server's threads see the
test's database: transactional_db)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billcore.charging.models import NetworkSession, Reservation, Xdr
from billcore.customers.models import Customer
from billcore.network.diameter.gy import GyApplication
from billcore.subscribers.models import Account
from tests.e2e.diameter_support import RunningServer, ccr, otp_peer, run_otp_peer, running
from tests.network_support import CLD, FORBIDDEN, FREE, NOWHERE, T0, rated_world
from tests.support import ledger_sum

__all__ = ["otp_peer"]

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
D = Decimal
NOW = T0 + dt.timedelta(hours=1)
PEER = "otp.peer"  # the Erlang peer's Origin-Host: the sessions' "nas"
INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4


@pytest.fixture
def net(world: dict[str, Any]) -> dict[str, Any]:
    return {"admin": world["admin"], **rated_world(world["admin"], world["classes"]["usd"])}


@pytest.fixture
def server(net: Any) -> Iterator[RunningServer]:
    with running(GyApplication(clock=lambda: NOW)) as s:
        yield s


def _answers(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert events[0] == {"event": "up"}, events
    out = []
    for e in events[1:]:
        assert e["event"] == "answer", e
        # OTP's decoder found nothing wrong with our CCA (missing, misplaced or bad AVPs).
        assert e["errors"] == [], e
        assert e["msg"]["_command"] == "CCA"
        out.append(e["msg"])
    return out


def _mscc(answer: dict[str, Any]) -> dict[str, Any]:
    [mscc] = answer["Multiple-Services-Credit-Control"]
    return dict(mscc)


def _why(answer: dict[str, Any]) -> tuple[int, str]:
    """The Result-Code and the refusal's reason (billcore's Error-Message)."""
    [reason] = answer.get("Error-Message", [""])
    return answer["Result-Code"], reason


def _money(customer: Any) -> tuple[Decimal, Decimal]:
    c = Customer.objects.get(pk=customer.pk)
    return c.balance, c.reserved


def test_the_98_minute_example_through_ccr_initial_update_termination(
    server: RunningServer, otp_peer: Path, net: Any
) -> None:
    # §4.3: $10 available, 60/6 at $0.10/min, $0.20 fee -> 5 880 s (98 min).
    pia, _ = net["make"]("Pia", "1001", available_funds="10")
    events = run_otp_peer(
        otp_peer,
        server.port,
        [
            ccr("otp.peer;98;1", INITIAL, 0, subscriber="1001", called=CLD, requested={}),
            ccr("otp.peer;98;1", UPDATE, 1, used={"CC-Time": 61}, requested={}),
            # A retransmission of the same update (same CC-Request-Number) is not charged
            # twice: the same answer comes back.
            ccr("otp.peer;98;1", UPDATE, 1, used={"CC-Time": 61}, requested={}),
            ccr("otp.peer;98;1", UPDATE, 2, used={"CC-Time": 59}, requested={}),
            ccr("otp.peer;98;1", TERMINATION, 3, used={"CC-Time": 5}),
        ],
    )
    initial, update, repeat, update2, final = _answers(events)
    assert initial["Session-Id"] == "otp.peer;98;1"
    assert (initial["Result-Code"], initial["CC-Request-Type"], initial["CC-Request-Number"]) == (
        2001,
        INITIAL,
        0,
    )
    assert initial["Auth-Application-Id"] == 4
    assert _mscc(initial) == {
        "Granted-Service-Unit": [{"CC-Time": [5880]}],
        "Validity-Time": [5880],
        "Result-Code": [2001],
        "Final-Unit-Indication": [{"Final-Unit-Action": 0}],  # TERMINATE: the whole grant
    }
    # 61 s: 0.20 fee + 0.10 first minute + one 6 s step 0.01 = 0.31; 5 819 s remain.
    assert update["Result-Code"] == 2001
    assert _mscc(update)["Granted-Service-Unit"] == [{"CC-Time": [5819]}]
    assert repeat == update
    # 120 s in all: 0.40; 5 760 s remain.
    assert _mscc(update2)["Granted-Service-Unit"] == [{"CC-Time": [5760]}]
    assert final["Result-Code"] == 2001 and "Multiple-Services-Credit-Control" in final
    assert "Granted-Service-Unit" not in _mscc(final)
    # 125 s: 0.20 + 0.10 + 11 steps = 0.41 charged; the rest of the $10 hold released.
    assert _money(pia) == (D("-9.59000"), D("0.00000"))  # prepaid: $9.59 of funds left
    assert ledger_sum(customer_id=pia.pk) == D("-9.59000")
    session = NetworkSession.objects.get(nas=PEER, session_key="otp.peer;98;1")
    assert (session.status, session.used, session.charged) == ("closed", 125, D("0.41"))
    assert sum(x.amount for x in Xdr.objects.filter(customer=pia)) == D("0.41")


def test_slices_as_asked_and_the_last_one_says_final(
    server: RunningServer, otp_peer: Path, net: Any
) -> None:
    # $1.00 at 60/6 $0.10/min + $0.20 fee: A' = 0.80 -> 60 + 70 * 6 = 480 s in all.
    ola, _ = net["make"]("Ola", "1002", available_funds="1")
    key = "otp.peer;slices;1"
    events = run_otp_peer(
        otp_peer,
        server.port,
        [
            ccr(key, INITIAL, 0, subscriber="1002", called=CLD, requested={"CC-Time": 300}),
            ccr(key, UPDATE, 1, used={"CC-Time": 300}, requested={"CC-Time": 300}),
            ccr(key, UPDATE, 2, used={"CC-Time": 180}, requested={"CC-Time": 300}),
            ccr(key, TERMINATION, 3, used={"CC-Time": 0}),
        ],
    )
    first, second, spent, final = _answers(events)
    assert _mscc(first) == {
        "Granted-Service-Unit": [{"CC-Time": [300]}],
        "Validity-Time": [300],
        "Result-Code": [2001],
    }
    # The whole session's money was held at the start: 480 - 300 = 180 s left, the last.
    assert _mscc(second) == {
        "Granted-Service-Unit": [{"CC-Time": [180]}],
        "Validity-Time": [180],
        "Result-Code": [2001],
        "Final-Unit-Indication": [{"Final-Unit-Action": 0}],
    }
    # Everything used: 4012, no grant.
    assert spent["Result-Code"] == 4012
    assert _mscc(spent) == {"Result-Code": [4012]}
    assert final["Result-Code"] == 2001
    # 480 s cost exactly the $1.00 (§7.1): funds at 0, never below.
    assert _money(ola) == (D("0.00000"), D("0.00000"))
    assert ledger_sum(customer_id=ola.pk) == D("0.00000")


@pytest.mark.parametrize(
    ("data", "customer_change", "account_change", "code", "reason"),
    [
        ({"available_funds": "10"}, {"blocked": True}, {}, 4010, "customer_blocked"),
        (
            {"available_funds": "10"},
            {"status": "suspended", "suspension_reason": "overdue"},
            {},
            4010,
            "customer_suspended",
        ),
        (
            {"available_funds": "10"},
            {"status": "provisionally_terminated"},
            {},
            4010,
            "customer_terminated",
        ),
        ({"available_funds": "10"}, {"status": "closed"}, {}, 4010, "customer_closed"),
        ({"available_funds": "10"}, {"status": "exported"}, {}, 4010, "customer_exported"),
        ({"available_funds": "10"}, {}, {"blocked": True}, 4010, "account_blocked"),
        ({"available_funds": "0.29"}, {}, {}, 4012, "insufficient_funds"),
        (
            {"balance_control": "postpaid", "credit_limit": "0"},
            {},
            {},
            4012,
            "credit_limit_exceeded",
        ),
    ],
    ids=[
        "blocked",
        "suspended",
        "provisionally-terminated",
        "permanently-terminated",
        "exported",
        "account-blocked",
        "prepaid-no-funds",
        "postpaid-at-limit",
    ],
)
def test_each_refusal_and_its_result_code(
    server: RunningServer,
    otp_peer: Path,
    net: Any,
    data: dict[str, Any],
    customer_change: dict[str, Any],
    account_change: dict[str, Any],
    code: int,
    reason: str,
) -> None:
    customer, account = net["make"]("Cu", "2001", **data)
    Customer.objects.filter(pk=customer.pk).update(**customer_change)
    Account.objects.filter(pk=account.pk).update(**account_change)
    before = _money(customer)
    [answer] = _answers(
        run_otp_peer(
            otp_peer,
            server.port,
            [ccr("otp.peer;r;1", INITIAL, 0, subscriber="2001", called=CLD, requested={})],
        )
    )
    assert _why(answer) == (code, reason)
    assert _mscc(answer) == {"Result-Code": [code]}
    # Denied: nothing held, no session, the money untouched.
    assert _money(customer) == before
    assert not NetworkSession.objects.exists() and not Reservation.objects.exists()


def test_unknown_subscriber_forbidden_destination_and_no_rate(
    server: RunningServer, otp_peer: Path, net: Any
) -> None:
    customer, _ = net["make"]("Ivo", "3001", available_funds="10")
    steps = [
        ccr("otp.peer;u;1", INITIAL, 0, subscriber="999999", called=CLD, requested={}),
        # "+3001" is an E.164 number with its +: the account "3001" is found without it.
        ccr("otp.peer;u;2", INITIAL, 0, subscriber="+3001", called=FORBIDDEN, requested={}),
        ccr("otp.peer;u;3", INITIAL, 0, subscriber="3001", called=NOWHERE, requested={}),
        # An update for a session billcore never opened.
        ccr("otp.peer;u;4", UPDATE, 1, used={"CC-Time": 10}, requested={}),
    ]
    unknown, forbidden, no_rate, stray = _answers(run_otp_peer(otp_peer, server.port, steps))
    assert _why(unknown) == (5030, "unknown_account")
    assert _why(forbidden) == (4010, "forbidden_destination")
    assert _why(no_rate) == (4010, "no_rate")
    assert _why(stray) == (5002, "unknown_session")
    assert _money(customer) == (D("-10.00000"), D("0.00000"))
    assert not NetworkSession.objects.exists()


def test_a_zero_priced_call_with_no_funds_is_granted(
    server: RunningServer, otp_peer: Path, net: Any
) -> None:
    poor, _ = net["make"]("Poor", "4001", free=True, available_funds="0")
    steps = [
        # The destination through 3GPP's Service-Information (TS 32.299), as a tel: URI.
        ccr(
            "otp.peer;z;1",
            INITIAL,
            0,
            subscriber="4001",
            requested={"CC-Time": 3600},
            extra={
                "Service-Information": [
                    {"IMS-Information": [{"Called-Party-Address": [f"tel:+{FREE}"]}]}
                ]
            },
        ),
        ccr("otp.peer;z;1", TERMINATION, 1, used={"CC-Time": 600}),
        ccr("otp.peer;z;2", INITIAL, 0, subscriber="4001", called=CLD, requested={}),
    ]
    granted, closed, paid = _answers(run_otp_peer(otp_peer, server.port, steps))
    # §4.2 step 5: free, so no funds needed; the grant is what was asked (of the 3 h cap).
    assert granted["Result-Code"] == 2001
    assert _mscc(granted) == {
        "Granted-Service-Unit": [{"CC-Time": [3600]}],
        "Validity-Time": [3600],
        "Result-Code": [2001],
    }
    assert closed["Result-Code"] == 2001
    # A paid destination is refused for want of money.
    assert _why(paid) == (4012, "insufficient_funds")
    assert _money(poor) == (D("0.00000"), D("0.00000"))


def test_an_event_debits_at_once(server: RunningServer, otp_peer: Path, net: Any) -> None:
    # CCR-Event (RFC 4006 §6.3, direct debiting): 120 s of voice priced and charged at once:
    # 0.20 + 0.10 + 10 steps of 0.01 = 0.40.
    eva, _ = net["make"]("Eva", "5001", available_funds="1")
    steps = [
        ccr("otp.peer;e;1", EVENT, 0, subscriber="5001", called=CLD, requested={"CC-Time": 120}),
        ccr("otp.peer;e;2", EVENT, 0, subscriber="5001", called=CLD, requested={"CC-Time": 900}),
    ]
    ok, short = _answers(run_otp_peer(otp_peer, server.port, steps))
    assert ok["Result-Code"] == 2001
    assert _mscc(ok)["Granted-Service-Unit"] == [{"CC-Time": [120]}]
    # 900 s would cost 1.74 > the 0.60 left: refused, nothing charged.
    assert _why(short) == (4012, "insufficient_funds")
    assert _money(eva) == (D("-0.60000"), D("0.00000"))
    assert ledger_sum(customer_id=eva.pk) == D("-0.60000")


def test_a_data_session_in_octets(server: RunningServer, otp_peer: Path, net: Any) -> None:
    from billcore.rating import services as rating
    from tests.network_support import EFFECTIVE

    admin = net["admin"]
    # $0.01 per MB (the data service's base unit, 10⁶ octets), any destination.
    tariff = rating.create_tariff(
        actor=admin, now=T0, data={"name": "Data", "currency": "USD", "service": "data"}
    )
    rating.create_rate(
        actor=admin,
        now=T0,
        tariff_id=tariff.pk,
        data={
            "prefix": "|",
            "price_first": "0.01",
            "price_next": "0.01",
            "interval_first": 1,
            "interval_next": 1,
            "effective_from": EFFECTIVE,
        },
    )
    rating.create_entry(
        actor=admin,
        now=T0,
        product_id=net["product"].pk,
        data={"service": "data", "tariff": tariff.pk},
    )
    dan, _ = net["make"]("Dan", "6001", available_funds="1")
    key = "otp.peer;data;1"
    steps = [
        # Called-Station-Id is the APN for data: rated on the catch-all destination.
        ccr(
            key, INITIAL, 0, subscriber="6001", called="internet", requested={"CC-Total-Octets": 0}
        ),
        ccr(key, UPDATE, 1, used={"CC-Total-Octets": 30_000_001}, requested={"CC-Total-Octets": 0}),
        ccr(key, TERMINATION, 2, used={"CC-Input-Octets": 1_000_000, "CC-Output-Octets": 0}),
    ]
    initial, update, final = _answers(run_otp_peer(otp_peer, server.port, steps))
    # $1 buys 100 MB: the whole grant, in octets, valid an hour, the last.
    assert _mscc(initial) == {
        "Granted-Service-Unit": [{"CC-Total-Octets": [100_000_000]}],
        "Validity-Time": [3600],
        "Result-Code": [2001],
        "Final-Unit-Indication": [{"Final-Unit-Action": 0}],
    }
    # 30 000 001 octets are 31 MB (rounded up): 0.31 charged, 69 MB left.
    assert _mscc(update)["Granted-Service-Unit"] == [{"CC-Total-Octets": [69_000_000]}]
    assert final["Result-Code"] == 2001
    # 32 MB in all: 0.32.
    assert _money(dan) == (D("-0.68000"), D("0.00000"))
    assert ledger_sum(customer_id=dan.pk) == D("-0.68000")


def test_concurrent_sessions_never_overspend(server: RunningServer, net: Any) -> None:
    """30 Gy sessions of one prepaid customer at once, each on its own connection, funded
    for 30 minutes at the rate (§4.4): each CCR-I holds its whole grant, so the sessions
    that get a grant can use all of it and the funds end at 0 or above; ledger = balance."""
    import random
    import threading

    from billcore.network.diameter.codec import make
    from tests.e2e.diameter_support import RawPeer, result_code

    # 30 min at $0.10/min + the $0.20 fee = $3.20.
    cara, _ = net["make"]("Cara", "7001", available_funds="3.20")
    rnd = random.Random(4006)
    plans = [rnd.random() for _ in range(30)]
    granted: list[int] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            peer = RawPeer(server.port)
            peer.cer(f"load{i}.peer")
            key = f"load{i}.peer;{i}"
            base = [make("Session-Id", key), make("Auth-Application-Id", 4)]
            peer.send(
                peer.request(
                    272,
                    [
                        *base,
                        make("Service-Context-Id", "32260@3gpp.org"),
                        make("CC-Request-Type", INITIAL),
                        make("CC-Request-Number", 0),
                        make(
                            "Subscription-Id",
                            [make("Subscription-Id-Type", 0), make("Subscription-Id-Data", "7001")],
                        ),
                        make("Called-Station-Id", CLD),
                    ],
                    app=4,
                )
            )
            cca = peer.receive()
            seconds = 0
            if result_code(cca) == 2001:
                gsu = cca.find("Granted-Service-Unit")
                assert gsu is not None
                cc_time = gsu.find("CC-Time")
                assert cc_time is not None
                seconds = int(cc_time.uint() * plans[i])  # uses up to its grant
                granted.append(cc_time.uint())
            else:
                assert result_code(cca) == 4012
            if result_code(cca) == 2001:
                peer.send(
                    peer.request(
                        272,
                        [
                            *base,
                            make("Service-Context-Id", "32260@3gpp.org"),
                            make("CC-Request-Type", TERMINATION),
                            make("CC-Request-Number", 1),
                            make("Used-Service-Unit", [make("CC-Time", seconds)]),
                        ],
                        app=4,
                    )
                )
                assert result_code(peer.receive()) == 2001
            peer.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert granted  # some sessions got money; the holds kept the others out
    balance, reserved = _money(cara)
    assert reserved == D("0.00000")
    assert D("-3.20000") <= balance <= D("0.00000")  # funds = -balance: never below zero
    assert ledger_sum(customer_id=cara.pk) == balance
    charged = sum(s.charged for s in NetworkSession.objects.filter(customer=cara))
    assert D("3.20000") + balance == charged
