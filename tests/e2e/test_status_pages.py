"""The customer's "Change status" view (issue 5 §1; CU-14 … CU-18) with its status history
and notification log, and the notification templates pages (issue 5 §4), through Django's
test client signed in. The pages read the real clock; dates are relative to it."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.installation.models import InstallationSettings
from billcore.ledger.customers import create_customer
from billcore.notifications.defaults import DEFAULTS
from billcore.notifications.models import NotificationTemplate
from billcore.notifications.services import notify
from tests.e2e.test_pages import assert_error_beside, block, messages_of

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
FORMS = (
    "form-block",
    "form-unblock",
    "form-lift",
    "form-terminate",
    "form-reactivate",
    "form-export",
    "form-clear-export",
)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def rows(html: str | bytes, table_id: str) -> list[str]:
    body = block(html, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


def forms_shown(html: bytes) -> list[str]:
    text = html.decode()
    return [f for f in FORMS if f'id="{f}"' in text]


@pytest.fixture
def signed_in(client: Any, admin: Any) -> Any:
    client.force_login(admin)
    return client


@pytest.fixture
def customer(admin: Any) -> Customer:
    InstallationSettings.objects.update_or_create(
        pk=1, defaults={"legal_name": "Northwind Telecom Ltd"}
    )
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Status USD",
            "currency": "USD",
            "termination_delay_days": 20,
            "notifications": ["suspended"],
        },
    )
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "billing@acme.example",
            "time_zone": "Asia/Tokyo",
        },
    )


def _url(c: Customer) -> str:
    return f"/customers/{c.pk}/status/"


def _today(zone: str = "Asia/Tokyo") -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).date()


def _display(html: bytes) -> str:
    return text_of(block(html, "display-status"))


def test_the_customer_page_links_to_change_status(signed_in: Any, customer: Customer) -> None:
    r = signed_in.get(f"/customers/{customer.pk}/")
    assert r.status_code == 200
    assert f'href="{_url(customer)}"' in block(r.content, "change-status")
    r = signed_in.get(_url(customer))
    assert r.status_code == 200
    assert _display(r.content) == "Open"
    assert forms_shown(r.content) == ["form-block", "form-terminate", "form-export"]
    assert rows(r.content, "status-history-table") == ["No status change yet."]
    assert rows(r.content, "notification-log-table") == ["No e-mail yet."]
    assert 'name="midterm_invoice"' in block(r.content, "form-terminate")


def test_block_then_unblock(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(
        _url(customer), {"action": "block", "confirmed": "1", "reason": "fraud check"}
    )
    assert (r.status_code, r["Location"]) == (302, _url(customer))
    r = signed_in.get(_url(customer))
    assert messages_of(r) == ["Customer blocked."]
    assert _display(r.content) == "Blocked"
    assert forms_shown(r.content) == ["form-unblock", "form-terminate", "form-export"]
    [row] = rows(r.content, "status-history-table")
    assert row.endswith("Open Open yes fraud check admin")
    r = signed_in.post(_url(customer), {"action": "unblock"}, follow=True)
    assert messages_of(r) == ["Customer unblocked."]
    assert _display(r.content) == "Open"
    customer.refresh_from_db()
    assert customer.blocked is False


def test_lift_the_suspension_until_a_day(signed_in: Any, admin: Any, customer: Customer) -> None:
    lifecycle.suspend(actor=admin, now=T0, customer_id=customer.pk, reason="overdue")
    notify(customer=customer, kind="suspended", now=T0, context={}, dedupe_key="suspended:1")
    r = signed_in.get(_url(customer))
    assert _display(r.content) == "Suspended"
    assert forms_shown(r.content) == ["form-block", "form-lift", "form-terminate", "form-export"]
    assert rows(r.content, "notification-log-table") == [
        "2026-01-10 18:00 Service suspended Your service has been suspended "
        "billing@acme.example pending"
    ]
    # Errors are messages, with the service's 4xx, and nothing changes.
    r = signed_in.post(_url(customer), {"action": "lift_suspension_until", "until": ""})
    assert (r.status_code, messages_of(r)) == (400, ["Until: choose the date"])
    yesterday = (_today() - dt.timedelta(days=2)).isoformat()
    r = signed_in.post(_url(customer), {"action": "lift_suspension_until", "until": yesterday})
    assert (r.status_code, messages_of(r)) == (400, ["Until must be in the future"])
    r = signed_in.post(_url(customer), {"action": "lift_suspension_until", "until": "someday"})
    assert (r.status_code, messages_of(r)) == (400, ["Until: enter a date as YYYY-MM-DD"])
    customer.refresh_from_db()
    assert (customer.status, customer.suspension_delay_until) == ("suspended", None)

    day = _today() + dt.timedelta(days=3)
    r = signed_in.post(
        _url(customer), {"action": "lift_suspension_until", "until": day.isoformat()}, follow=True
    )
    end = day + dt.timedelta(days=1)
    assert messages_of(r) == [f"Suspension lifted until {end.isoformat()} 00:00 (Asia/Tokyo)."]
    customer.refresh_from_db()
    # through the chosen day in Tokyo: until the next midnight there
    assert customer.suspension_delay_until == dt.datetime.combine(
        end, dt.time.min, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")
    )
    assert customer.status == "open"
    assert "Remove the date" in block(r.content, "form-lift")
    r = signed_in.post(
        _url(customer), {"action": "lift_suspension_until", "remove": "1"}, follow=True
    )
    assert messages_of(r) == ["The lift-until date was removed."]
    customer.refresh_from_db()
    assert customer.suspension_delay_until is None
    assert "form-lift" not in forms_shown(r.content)


def test_terminate_provisionally_and_reactivate(signed_in: Any, customer: Customer) -> None:
    far = (_today() + dt.timedelta(days=25)).isoformat()
    r = signed_in.post(
        _url(customer),
        {"action": "terminate", "confirmed": "1", "permanent": "0", "terminate_on": far},
    )
    assert r.status_code == 400
    assert messages_of(r) == ["Terminate_on can be at most 20 days after provisional termination"]
    r = signed_in.post(
        _url(customer), {"action": "terminate", "confirmed": "1", "permanent": "0"}, follow=True
    )
    customer.refresh_from_db()
    assert customer.status == "provisionally_terminated"
    when = customer.terminate_on.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert messages_of(r) == [
        "Customer provisionally terminated; permanent termination on "
        f"{when:%Y-%m-%d %H:%M} (Asia/Tokyo)."
    ]
    assert _display(r.content) == (
        f"Provisionally terminated (permanent on {customer.terminate_on:%Y-%m-%d})"
    )
    assert forms_shown(r.content) == ["form-block", "form-terminate", "form-reactivate"]
    r = signed_in.post(_url(customer), {"action": "reactivate"}, follow=True)
    assert messages_of(r) == ["Customer reactivated."]
    assert _display(r.content) == "Open"
    r = signed_in.post(_url(customer), {"action": "reactivate"})
    assert (r.status_code, messages_of(r)) == (
        400,
        ["The customer is not provisionally terminated"],
    )
    history = rows(r.content, "status-history-table")
    assert [h.split(" ", 2)[2] for h in history] == [
        "Provisionally terminated Open no reactivated admin",
        "Open Provisionally terminated no provisionally terminated admin",
    ]


def test_terminate_permanently_then_nothing_is_possible(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(
        _url(customer),
        {
            "action": "terminate",
            "confirmed": "1",
            "permanent": "1",
            "terminate_on": "",
            "midterm_invoice": "1",
        },
        follow=True,
    )
    assert messages_of(r) == ["Customer permanently terminated."]
    assert _display(r.content) == "Permanently terminated"
    assert forms_shown(r.content) == []
    assert "no operation is possible." in block(r.content, "no-operation")
    r = signed_in.post(_url(customer), {"action": "block", "confirmed": "1"})
    assert r.status_code == 400
    assert messages_of(r) == ["The customer is permanently terminated: no operation is possible"]
    customer.refresh_from_db()
    assert (customer.status, customer.blocked) == ("closed", False)


def test_export_and_clear(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(_url(customer), {"action": "export", "confirmed": "1"}, follow=True)
    assert messages_of(r) == ["Customer marked as exported."]
    assert _display(r.content) == "Exported"
    assert forms_shown(r.content) == ["form-block", "form-clear-export"]
    r = signed_in.post(_url(customer), {"action": "clear_export"}, follow=True)
    assert messages_of(r) == ["Export flag cleared: the customer is active again."]
    assert _display(r.content) == "Open"


def test_no_manual_suspension_and_unknown_actions(signed_in: Any, customer: Customer) -> None:
    for action in ("suspend", ""):
        r = signed_in.post(_url(customer), {"action": action})
        assert r.status_code == 400
        assert messages_of(r) == [
            "Action must be one of block, unblock, lift_suspension_until, terminate, "
            "reactivate, export, clear_export"
        ]
    customer.refresh_from_db()
    assert customer.status == "open"


def test_another_resellers_customer_is_a_404(client: Any, world: dict[str, Any]) -> None:
    theirs = create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "A's",
            "currency": "USD",
            "balance_control": "prepaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    client.force_login(world["ub"])
    assert client.get(_url(theirs)).status_code == 404
    assert client.post(_url(theirs), {"action": "block", "confirmed": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.blocked is False
    client.force_login(world["ua"])
    assert client.post(_url(theirs), {"action": "block", "confirmed": "1"}).status_code == 302


# --------------------------------------------------------------------------- templates


def test_template_pages_edit_preview_and_reset(signed_in: Any, customer: Customer) -> None:
    r = signed_in.get("/notifications/templates/")
    assert r.status_code == 200
    assert 'href="/notifications/templates/"' in r.content.decode()  # the navigation link
    assert rows(r.content, "templates-table")[0] == (
        "Invoice issued Invoice INV-0000042 from Northwind Telecom Ltd Default"
    )  # issue 17: an example subject, not the template's raw {{ }}
    url = "/notifications/templates/suspended/"
    r = signed_in.get(url)
    assert r.status_code == 200
    assert r.context["form"]["subject"].value() == DEFAULTS["suspended"][0]

    edit = {"subject": "Stopped: {{ customer.name }}", "body": "Sorry {{ customer.name }} <b>"}
    r = signed_in.post(url, {**edit, "_preview": "1"})
    assert r.status_code == 200
    assert text_of(block(r.content, "preview-subject")) == "Stopped: Sample Customer Ltd"
    assert "Sorry Sample Customer Ltd &lt;b&gt;" in block(r.content, "preview-body")
    assert NotificationTemplate.objects.count() == 0

    r = signed_in.post(url, {"subject": "ok", "body": "{% if %}", "_save": "1"})
    assert r.status_code == 400
    assert_error_beside(r, "body", "Unexpected end of expression in if tag.")
    assert NotificationTemplate.objects.count() == 0

    r = signed_in.post(url, {**edit, "_save": "1"}, follow=True)
    assert messages_of(r) == ["Template “Service suspended” saved."]
    row = NotificationTemplate.objects.get()
    assert (row.kind, row.subject, row.body) == ("suspended", *edit.values())
    assert "Reset to default" in r.content.decode()
    sent = notify(customer=customer, kind="suspended", now=T0, context={})
    assert sent is not None and (sent.subject, sent.body) == ("Stopped: Acme", "Sorry Acme <b>")

    r = signed_in.post(url + "reset/", follow=True)
    assert messages_of(r) == ["Template “Service suspended” reset to the default."]
    assert NotificationTemplate.objects.count() == 0
    assert r.context["form"]["subject"].value() == DEFAULTS["suspended"][0]


def test_template_pages_are_for_administrators(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["ua"])
    assert 'href="/notifications/templates/"' not in client.get("/customers/").content.decode()
    for r in (
        client.get("/notifications/templates/"),
        client.get("/notifications/templates/suspended/"),
        client.post("/notifications/templates/suspended/", {"subject": "a", "body": "b"}),
        client.post("/notifications/templates/suspended/reset/"),
    ):
        assert r.status_code == 404
    assert NotificationTemplate.objects.count() == 0
    client.force_login(world["admin"])
    assert client.get("/notifications/templates/birthday/").status_code == 404
