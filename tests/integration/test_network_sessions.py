"""The one authorize / usage service of network sessions (issue 15, ``charging.sessions``):
rating-and-tabs.md §4.2-§4.4 and §7.1 through open / start / interim / close, exact to the
last digit, on SQLite and PostgreSQL. Features: CC-04 (authorization), CC-05 (reservations)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.charging import sessions
from billcore.charging.models import NetworkSession, Reservation, Xdr
from billcore.customers.models import Customer
from billcore.subscribers.models import Account
from billcore.subscribers.radius import set_radius_password
from tests.network_support import CLD, FORBIDDEN, FREE, NOWHERE, T0, rated_world
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db
D = Decimal
NOW = T0 + dt.timedelta(hours=1)
NAS = "192.0.2.10"


@pytest.fixture
def net(world: dict[str, Any]) -> dict[str, Any]:
    return {"admin": world["admin"], **rated_world(world["admin"], world["classes"]["usd"])}


def _open(net: Any, key: str, account: str, cld: str = CLD, **kw: Any) -> Any:
    return sessions.open_session(
        actor=net["admin"], now=NOW, nas=NAS, session_key=key, account=account, cld=cld, **kw
    )


def _money(customer: Any) -> tuple[Decimal, Decimal]:
    c = Customer.objects.get(pk=customer.pk)
    return c.balance, c.reserved


def test_the_98_minute_example_holds_ten_dollars_then_charges_what_was_used(net: Any) -> None:
    # §4.3: $10 available, 60/6 at $0.10/min, $0.20 fee -> 5 880 s (98 min), costing 10.00000.
    pia, _ = net["make"]("Pia", "1001", available_funds="10")
    grant = _open(net, "s1", "1001")
    assert (grant.allowed, grant.granted, grant.announced, grant.amount) == (
        True,
        5880,
        5880,
        D("10.00000"),
    )
    assert _money(pia) == (D("-10.00000"), D("10.00000"))
    # A second session finds nothing left: all the funds are held (§4.4).
    second = _open(net, "s2", "1001")
    assert (second.allowed, second.reason, second.granted) == (False, "insufficient_funds", 0)
    assert NetworkSession.objects.count() == 1

    admin = net["admin"]
    started = sessions.start_session(
        actor=admin, now=NOW, nas=NAS, session_key="s1", started_at=NOW
    )
    assert (started.status, started.used, started.remaining) == ("live", 0, 5880)
    # Interim at 61 s: 0.20 fee + 0.10 first minute + 0.01 (one 6 s step) = 0.31000.
    first = sessions.interim(
        actor=admin, now=NOW + dt.timedelta(seconds=61), nas=NAS, session_key="s1", used=61
    )
    assert (first.charged_now, first.charged, first.remaining) == (D("0.31"), D("0.31"), 5819)
    assert _money(pia) == (D("-9.69000"), D("9.69000"))
    # The same Interim again changes nothing; a smaller figure neither.
    again = sessions.interim(actor=admin, now=NOW, nas=NAS, session_key="s1", used=61)
    older = sessions.interim(actor=admin, now=NOW, nas=NAS, session_key="s1", used=30)
    assert again.replayed and older.replayed and again.charged == D("0.31")
    # 120 s in all: 0.20 + 0.10 + 10 steps of 0.01 = 0.40: this Interim charges 0.09
    # (no second connection fee).
    later = sessions.interim(actor=admin, now=NOW, nas=NAS, session_key="s1", used=120)
    assert (later.charged_now, later.charged) == (D("0.09"), D("0.40"))
    # Stop at 125 s: 0.20 + 0.10 + 11 steps = 0.41; the rest of the hold is released.
    stop = sessions.close_session(
        actor=admin, now=NOW, nas=NAS, session_key="s1", used=125, cause="User-Request"
    )
    assert (stop.status, stop.charged_now, stop.charged, stop.remaining) == (
        "closed",
        D("0.01"),
        D("0.41"),
        0,
    )
    assert _money(pia) == (D("-9.59000"), D("0.00000"))
    assert ledger_sum(customer_id=pia.pk) == Customer.objects.get(pk=pia.pk).balance
    assert Reservation.objects.get(pk=grant.reservation_id).status == "committed"
    amounts = sorted(Xdr.objects.filter(customer=pia).values_list("amount", flat=True))
    assert amounts == [D("0.01"), D("0.09"), D("0.31")]
    # A retransmitted Stop changes nothing.
    repeat = sessions.close_session(actor=admin, now=NOW, nas=NAS, session_key="s1", used=125)
    assert repeat.replayed and _money(pia) == (D("-9.59000"), D("0.00000"))
    assert Xdr.objects.filter(customer=pia).count() == 3


def test_a_retransmitted_open_holds_nothing_more(net: Any) -> None:
    pia, _ = net["make"]("Pia", "1001", available_funds="20")
    first = _open(net, "s1", "1001")
    again = _open(net, "s1", "1001")
    assert (again.replayed, again.session_id, again.granted, again.amount) == (
        True,
        first.session_id,
        first.granted,
        first.amount,
    )
    # The 3-hour cap: 10 800 s = 180 min at 0.10 + the 0.20 fee.
    assert _money(pia)[1] == first.amount == D("18.20000")


@pytest.mark.parametrize(
    ("data", "account_change", "reason"),
    [
        ({"available_funds": "10", "blocked": True}, {}, "customer_blocked"),
        ({"available_funds": "10"}, {"blocked": True}, "account_blocked"),
        ({"available_funds": "0.29"}, {}, "insufficient_funds"),
        ({"balance_control": "postpaid", "credit_limit": "0"}, {}, "credit_limit_exceeded"),
    ],
    ids=["customer-blocked", "account-blocked", "prepaid-no-funds", "postpaid-at-limit"],
)
def test_refusals_name_their_reason_and_hold_nothing(
    net: Any, data: dict[str, Any], account_change: dict[str, Any], reason: str
) -> None:
    customer, account = net["make"]("Cu", "2001", **data)
    if account_change:
        Account.objects.filter(pk=account.pk).update(**account_change)
    grant = _open(net, "r1", "2001")
    assert (grant.allowed, grant.reason, grant.granted, grant.amount) == (
        False,
        reason,
        0,
        D(0),
    )
    assert grant.message
    assert _money(customer)[1] == D(0)
    assert not NetworkSession.objects.exists() and not Reservation.objects.exists()


def test_unknown_account_wrong_password_and_destinations(net: Any) -> None:
    _, account = net["make"]("Pw", "3001", available_funds="10")
    assert _open(net, "a", "nobody").reason == "unknown_account"
    set_radius_password(actor=net["admin"], now=NOW, account_id=account.pk, password="s3cret-pw")
    assert _open(net, "b", "3001", password="wrong-pw").reason == "wrong_password"
    assert _open(net, "c", "3001", cld=FORBIDDEN).reason == "forbidden_destination"
    assert _open(net, "d", "3001", cld=NOWHERE).reason == "no_rate"
    ok = _open(net, "e", "3001", password="s3cret-pw")
    # No password from the NAS (it authenticates by its address): allowed.
    by_address = _open(net, "f", "3001")
    assert (ok.allowed, ok.granted, by_address.allowed) == (True, 5880, False)
    assert by_address.reason == "insufficient_funds"  # the first session holds the $10


def test_a_zero_priced_call_with_no_funds_is_granted_the_cap_and_holds_nothing(
    net: Any,
) -> None:
    poor, _ = net["make"]("Poor", "4001", free=True, available_funds="0")
    grant = _open(net, "z", "4001", cld=FREE)
    assert (grant.allowed, grant.granted, grant.amount, grant.reservation_id) == (
        True,
        10800,
        D(0),
        None,
    )
    stop = sessions.close_session(actor=net["admin"], now=NOW, nas=NAS, session_key="z", used=600)
    assert (stop.status, stop.charged, stop.reason) == ("closed", D(0), "")
    assert _money(poor) == (D(0), D(0))
    # A paid destination with no funds is refused.
    assert _open(net, "z2", "4001").reason == "insufficient_funds"


def test_requested_units_cap_the_grant_and_the_hold(net: Any) -> None:
    pia, _ = net["make"]("Pia", "1001", available_funds="10")
    grant = _open(net, "q", "1001", requested=300)
    # 300 s: 0.20 + 0.10 + 40 steps of 0.01 = 0.70.
    assert (grant.granted, grant.amount) == (300, D("0.70"))
    assert _money(pia)[1] == D("0.70")


def test_a_stop_for_an_unknown_session_is_rated_and_charged_as_usage(net: Any) -> None:
    pia, _ = net["make"]("Pia", "1001", available_funds="10")
    stop = sessions.close_session(
        actor=net["admin"],
        now=NOW,
        nas=NAS,
        session_key="never-seen",
        used=61,
        account="1001",
        cld=CLD,
        started_at=NOW - dt.timedelta(seconds=61),
    )
    assert (stop.status, stop.charged, stop.reason) == ("closed", D("0.31"), "")
    xdr = Xdr.objects.get(pk=stop.xdr_id)
    assert (xdr.amount, xdr.cld, xdr.rate_prefix, xdr.charged_quantity) == (
        D("0.31"),
        CLD,
        "420",
        66,
    )
    assert _money(pia) == (D("-9.69"), D(0))
    again = sessions.close_session(
        actor=net["admin"], now=NOW, nas=NAS, session_key="never-seen", used=61
    )
    assert again.replayed and _money(pia) == (D("-9.69"), D(0))
    unknown = sessions.close_session(
        actor=net["admin"], now=NOW, nas=NAS, session_key="x", used=5, account="nobody", cld=CLD
    )
    assert (unknown.session_id, unknown.reason) == (None, "unknown_account")


def test_a_pending_authorisation_is_adopted_by_its_start(net: Any) -> None:
    net["make"]("Pia", "1001", available_funds="10")
    grant = _open(net, sessions.PENDING_PREFIX + "auth-1", "1001")
    start = sessions.start_session(
        actor=net["admin"], now=NOW, nas=NAS, session_key="acct-9", account="1001", cld=CLD
    )
    assert (start.session_id, start.status) == (grant.session_id, "live")
    stop = sessions.close_session(
        actor=net["admin"], now=NOW, nas=NAS, session_key="acct-9", used=6
    )
    # Within the first interval: 0.20 + 0.10.
    assert stop.charged == D("0.30")


def test_a_reseller_sees_only_its_customers_sessions(net: Any, world: dict[str, Any]) -> None:
    net["make"]("Pia", "1001", available_funds="10")
    _open(net, "s1", "1001")
    assert sessions.sessions(actor=net["admin"]).count() == 1
    assert sessions.sessions(actor=world["ua"]).count() == 0
    assert _open(net, "s9", "1001", **{}).replayed is False  # a second key: a new session
