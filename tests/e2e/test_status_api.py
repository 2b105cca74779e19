"""The customer's status over HTTP (issue 5 §1; CU-14 … CU-18): every action of the
"Change status" dialog, each bad transition a 4xx naming the field, the status history.
The API reads the real clock, so the dates sent are relative to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.installation.models import InstallationSettings
from billcore.ledger.customers import create_customer
from billcore.notifications.models import OutboundEmail
from billcore.notifications.status import midterm_invoice_supported
from tests.e2e.test_api import Api, _error, _token

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


@pytest.fixture
def customer(admin: Any) -> Customer:
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Status USD", "currency": "USD", "termination_delay_days": 20},
    )
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


def _status(r: Any) -> tuple[Any, ...]:
    assert r.status_code == 200, r.content
    s = r.json()
    return (s["status"], s["bill_status"], s["blocked"], s["display_status"])


def test_block_and_unblock(api: Api, customer: Customer) -> None:
    url = f"/customers/{customer.pk}/status"
    assert _status(api.get(url)) == ("open", "O", False, "Open")
    r = api.post(url, {"action": "block", "reason": "fraud check"})
    assert _status(r) == ("open", "O", True, "Blocked")
    assert _status(api.post(url, {"action": "unblock"})) == ("open", "O", False, "Open")
    history = api.get(f"/customers/{customer.pk}/status-history").json()
    assert [
        (h["actor"], h["from_status"], h["to_status"], h["blocked"], h["reason"]) for h in history
    ] == [
        ("admin", "open", "open", False, "unblocked"),
        ("admin", "open", "open", True, "fraud check"),
    ]
    assert history[0]["id"] > history[1]["id"]


def test_lift_the_suspension_until_a_date(api: Api, admin: Any, customer: Customer) -> None:
    lifecycle.suspend(actor=admin, now=T0, customer_id=customer.pk, reason="overdue")
    url = f"/customers/{customer.pk}/status"
    assert _status(api.get(url)) == ("suspended", "S", False, "Suspended")
    real_now = timezone.now()
    _error(api.post(url, {"action": "lift_suspension_until"}), 400, "until", "required")
    past = _iso(real_now - dt.timedelta(days=1))
    _error(api.post(url, {"action": "lift_suspension_until", "until": past}), 400, "until")
    naive = (real_now + dt.timedelta(days=3)).replace(tzinfo=None).isoformat()
    err = _error(api.post(url, {"action": "lift_suspension_until", "until": naive}), 400, "until")
    assert err["message"] == "until needs a time zone"
    assert _status(api.get(url))[0] == "suspended"  # nothing changed

    until = (real_now + dt.timedelta(days=10)).replace(microsecond=0)
    r = api.post(url, {"action": "lift_suspension_until", "until": _iso(until)})
    assert _status(r) == ("open", "O", False, "Open")
    assert _parse(r.json()["suspension_delay_until"]) == until
    assert r.json()["suspension_reason"] == "overdue"
    # null removes the date
    r = api.post(url, {"action": "lift_suspension_until", "until": None})
    assert r.json()["suspension_delay_until"] is None
    reasons = [h["reason"] for h in api.get(f"/customers/{customer.pk}/status-history").json()]
    assert reasons == [
        "lift-until removed",
        f"suspension lifted until {until:%Y-%m-%d %H:%M}",
        "suspended (overdue)",
    ]


def test_terminate_provisionally_then_reactivate(api: Api, customer: Customer) -> None:
    url = f"/customers/{customer.pk}/status"
    real_now = timezone.now()
    too_late = _iso(real_now + dt.timedelta(days=21))
    err = _error(
        api.post(url, {"action": "terminate", "terminate_on": too_late}), 400, "terminate_on"
    )
    assert err["message"] == (
        "terminate_on can be at most 20 days after provisional termination (CC-20)"
    )
    r = api.post(url, {"action": "terminate"})
    s = r.json()
    # CC-20: the class's N days (20 here) after the provisional termination
    assert _parse(s["terminate_on"]) - _parse(s["provisionally_terminated_at"]) == dt.timedelta(
        days=20
    )
    assert _status(r) == (
        "provisionally_terminated",
        "D",
        False,
        f"Provisionally terminated (permanent on {_parse(s['terminate_on']):%Y-%m-%d})",
    )
    r = api.post(url, {"action": "reactivate"})
    assert _status(r) == ("open", "O", False, "Open")
    assert (r.json()["terminate_on"], r.json()["provisionally_terminated_at"]) == (None, None)
    _error(api.post(url, {"action": "reactivate"}), 400, "status", "not_terminated")
    # an earlier chosen date
    on = (real_now + dt.timedelta(days=5)).replace(microsecond=0)
    r = api.post(url, {"action": "terminate", "terminate_on": _iso(on)})
    assert _parse(r.json()["terminate_on"]) == on


def test_export_and_clear_export(api: Api, customer: Customer) -> None:
    url = f"/customers/{customer.pk}/status"
    _error(api.post(url, {"action": "clear_export"}), 400, "status", "not_exported")
    assert _status(api.post(url, {"action": "export"})) == ("exported", "E", False, "Exported")
    assert _status(api.post(url, {"action": "clear_export"})) == ("open", "O", False, "Open")


def test_terminate_permanently_and_nothing_after(api: Api, customer: Customer) -> None:
    url = f"/customers/{customer.pk}/status"
    body = {"action": "terminate", "permanent": True, "midterm_invoice": True}
    r = api.post(url, body)
    if not midterm_invoice_supported():
        _error(r, 400, "midterm_invoice", "unsupported")
        r = api.post(url, {"action": "terminate", "permanent": True})
    assert _status(r) == ("closed", "C", False, "Permanently terminated")
    for action in ("block", "reactivate", "export", "terminate"):
        _error(api.post(url, {"action": action}), 400, "status", "closed")
    assert _status(api.get(url))[0] == "closed"


def test_permanent_termination_on_a_future_date(api: Api, customer: Customer) -> None:
    url = f"/customers/{customer.pk}/status"
    on = (timezone.now() + dt.timedelta(days=60)).replace(microsecond=0)
    r = api.post(url, {"action": "terminate", "permanent": True, "terminate_on": _iso(on)})
    assert _status(r) == ("open", "O", False, "Open")
    assert _parse(r.json()["terminate_on"]) == on
    # reactivate calls the scheduled termination off
    r = api.post(url, {"action": "reactivate"})
    assert r.json()["terminate_on"] is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"action": "suspend"}, "action", "invalid"),  # CU-15: only the engine suspends
        ({}, "action", "required"),
        ({"action": "block", "until": "2030-01-01T00:00:00Z"}, "until", "unknown"),
        ({"action": "export", "permanent": True}, "permanent", "unknown"),
        (
            {"action": "reactivate", "terminate_on": "2030-01-01T00:00:00Z"},
            "terminate_on",
            "unknown",
        ),
        ({"action": "block", "colour": "red"}, "colour", "unknown"),
        ({"action": "terminate", "terminate_on": "soon"}, "terminate_on", "invalid"),
        ({"action": "terminate", "permanent": "maybe"}, "permanent", "invalid"),
        ({"action": "block", "reason": "x" * 201}, "reason", "invalid"),
    ],
)
def test_bad_requests_name_the_field(
    api: Api, customer: Customer, body: dict[str, Any], field: str, code: str
) -> None:
    _error(api.post(f"/customers/{customer.pk}/status", body), 400, field, code)
    customer.refresh_from_db()
    assert (customer.status, customer.blocked) == ("open", False)
    assert api.get(f"/customers/{customer.pk}/status-history").json() == []


def test_resellers_change_only_their_own_customers(client: Any, world: dict[str, Any]) -> None:
    mine = create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "A's customer",
            "currency": "USD",
            "balance_control": "prepaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    a = Api(client, _token(world["ua"]))
    assert _status(a.post(f"/customers/{mine.pk}/status", {"action": "block"}))[2] is True
    b = Api(client, _token(world["ub"]))
    for r in (
        b.post(f"/customers/{mine.pk}/status", {"action": "unblock"}),
        b.get(f"/customers/{mine.pk}/status"),
        b.get(f"/customers/{mine.pk}/status-history"),
    ):
        assert r.status_code == 404, r.content
    mine.refresh_from_db()
    assert mine.blocked is True


def test_changes_are_announced_when_the_class_sends_them(api: Api, admin: Any) -> None:
    """Provisional and permanent termination and service restored go out as notifications
    (issue 5 §4) in the same transaction as the change; nothing for block or export."""
    InstallationSettings.objects.update_or_create(
        pk=1, defaults={"legal_name": "Northwind Telecom Ltd"}
    )
    kinds = ["provisionally_terminated", "permanently_terminated", "service_restored"]
    cls = create_class(
        actor=admin, now=T0, data={"name": "Told", "currency": "USD", "notifications": kinds}
    )
    c = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "billing@acme.example",
        },
    )
    lifecycle.suspend(actor=admin, now=T0, customer_id=c.pk, reason="overdue")
    url = f"/customers/{c.pk}/status"
    until = _iso(timezone.now() + dt.timedelta(days=2))
    for body in (
        {"action": "block"},
        {"action": "unblock"},
        {"action": "lift_suspension_until", "until": until},  # suspended -> open: restored
        {"action": "export"},
        {"action": "clear_export"},
        {"action": "terminate"},
        {"action": "terminate"},  # already provisionally terminated: not announced again
        {"action": "reactivate"},
        {"action": "terminate", "permanent": True},
    ):
        r = api.post(url, body)
        assert r.status_code == 200, (body, r.content)
    emails = list(OutboundEmail.objects.filter(customer=c).order_by("id"))
    assert [(e.notification, e.dedupe_key.split(":")[0]) for e in emails] == [
        ("service_restored", "service_restored"),
        ("provisionally_terminated", "provisionally_terminated"),
        ("service_restored", "service_restored"),
        ("permanently_terminated", "permanently_terminated"),
    ]
    history = api.get(f"/customers/{c.pk}/status-history").json()
    provisional = [h for h in history if h["reason"] == "provisionally terminated"]
    assert len(provisional) == 2
    c.refresh_from_db()
    # CC-20: the class's default 30 days after the provisional termination
    permanent_on = emails[1].created_at + dt.timedelta(days=30)
    assert emails[1].body == (
        "Dear Acme,\n\n"
        "your account has been terminated; your services have stopped. It can be reactivated "
        f"until {permanent_on:%Y-%m-%d}, after which the termination becomes permanent.\n\n"
        "Northwind Telecom Ltd\n"
    )
    assert emails[3].body == (
        f"Dear Acme,\n\nyour account has been permanently terminated on "
        f"{c.closed_at:%Y-%m-%d}.\n\nNorthwind Telecom Ltd\n"
    )
