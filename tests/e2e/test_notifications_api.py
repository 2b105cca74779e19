"""Notification templates and the notification log over HTTP (issue 4 §4): administrators
edit, preview and reset the templates; a broken template is a 400 naming the field; a
reseller's user gets 404. Exact JSON values throughout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.installation.models import InstallationSettings
from billcore.ledger.customers import create_customer
from billcore.notifications.defaults import DEFAULTS
from billcore.notifications.models import NotificationTemplate, OutboundEmail
from billcore.notifications.services import notify
from tests.e2e.test_api import Api, _error, _token

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


class FullApi(Api):  # type: ignore[misc]
    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self._send("put", path, body, **kw)


@pytest.fixture
def api(client: Any, admin: Any) -> FullApi:
    InstallationSettings.objects.update_or_create(
        pk=1, defaults={"legal_name": "Northwind Telecom Ltd"}
    )
    return FullApi(client, _token(admin))


def test_list_get_edit_preview_and_reset(api: FullApi) -> None:
    r = api.get("/notification-templates")
    assert r.status_code == 200, r.content
    listed = r.json()
    kinds = [t["kind"] for t in listed]
    assert kinds[:3] == ["invoice_issued", "payment_due_soon", "invoice_overdue"]
    assert "low_funds" in kinds and "card_expiring" in kinds
    assert all(t["custom"] is False for t in listed)

    r = api.get("/notification-templates/low_funds")
    assert r.json() == {
        "kind": "low_funds",
        "label": "Low available funds / credit limit near",
        "subject": DEFAULTS["low_funds"][0],
        "body": DEFAULTS["low_funds"][1],
        "custom": False,
        "updated_at": None,
        "updated_by": None,
        "variables": ["funds", "threshold", "funds_label"],
    }

    edit = {"subject": "Top up, {{ customer.name }}", "body": "Only {{ funds }} {{ currency }}."}
    r = api.post("/notification-templates/low_funds/preview", edit)
    assert r.status_code == 200, r.content
    assert r.json() == {"subject": "Top up, Sample Customer Ltd", "body": "Only 4.50 USD."}
    assert NotificationTemplate.objects.count() == 0  # a preview saves nothing

    r = api.put("/notification-templates/low_funds", edit)
    assert r.status_code == 200, r.content
    saved = r.json()
    assert (saved["custom"], saved["subject"], saved["body"], saved["updated_by"]) == (
        True,
        "Top up, {{ customer.name }}",
        "Only {{ funds }} {{ currency }}.",
        "admin",
    )
    assert api.get("/notification-templates/low_funds").json()["custom"] is True

    r = api.delete("/notification-templates/low_funds")
    assert r.status_code == 200, r.content
    assert (r.json()["custom"], r.json()["subject"]) == (False, DEFAULTS["low_funds"][0])
    assert NotificationTemplate.objects.count() == 0
    # Resetting a default is harmless.
    assert api.delete("/notification-templates/low_funds").status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"subject": "Hi {% endif %}", "body": "x"}, "subject", "template_syntax"),
        ({"subject": "Hi", "body": "{% for x in %}"}, "body", "template_syntax"),
        ({"subject": "Hi", "body": "{% include 'web/base.html' %}"}, "body", "template_render"),
        ({"subject": "Hi"}, "body", "required"),
        ({"subject": "Hi", "body": 12}, "body", "invalid"),
        ({"subject": "", "body": "x"}, "subject", "required"),
        ({"subject": "Hi", "body": "x", "html": "<p>"}, "html", "unknown"),
    ],
)
def test_a_broken_template_is_a_400_naming_the_field(
    api: FullApi, body: dict[str, Any], field: str, code: str
) -> None:
    _error(api.put("/notification-templates/suspended", body), 400, field, code)
    _error(api.post("/notification-templates/suspended/preview", body), 400, field, code)
    assert NotificationTemplate.objects.count() == 0


def test_unknown_kind_is_a_404(api: FullApi) -> None:
    _error(api.get("/notification-templates/birthday"), 404, "kind", "not_found")
    _error(
        api.put("/notification-templates/birthday", {"subject": "a", "body": "b"}),
        404,
        "kind",
        "not_found",
    )


def test_resellers_cannot_see_or_edit_templates(client: Any, world: dict[str, Any]) -> None:
    reseller = FullApi(client, _token(world["ua"]))
    assert reseller.get("/notification-templates").status_code == 404
    assert reseller.get("/notification-templates/suspended").status_code == 404
    r = reseller.put("/notification-templates/suspended", {"subject": "a", "body": "b"})
    assert r.status_code == 404
    assert reseller.delete("/notification-templates/suspended").status_code == 404
    assert NotificationTemplate.objects.count() == 0


def test_notification_log(api: FullApi, client: Any, world: dict[str, Any]) -> None:
    admin = world["admin"]
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Notified", "currency": "USD", "notifications": ["suspended"]},
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
    notify(customer=c, kind="suspended", now=T0, context={}, dedupe_key="suspended:1")
    OutboundEmail.objects.filter(customer=c).update(
        status="sent", sent_at=T0 + dt.timedelta(minutes=1), attempts=1
    )
    OutboundEmail.objects.create(
        customer=c,
        kind="statistics",
        variant="summary",
        to_address=c.email,
        created_at=T0 + dt.timedelta(days=1),
    )
    r = api.get(f"/customers/{c.pk}/notifications")
    assert r.status_code == 200, r.content
    rows = r.json()
    for row in rows:
        row.pop("id")
    assert rows == [
        {
            "kind": "statistics",
            "notification": "",
            "label": "Usage statistics",
            "subject": "",
            "to_address": "billing@acme.example",
            "status": "pending",
            "attempts": 0,
            "last_error": "",
            "created_at": "2026-01-11T09:00:00Z",
            "sent_at": None,
            "waiting": "",
        },
        {
            "kind": "notification",
            "notification": "suspended",
            "label": "Service suspended",
            "subject": "Your service has been suspended",
            "to_address": "billing@acme.example",
            "status": "sent",
            "attempts": 1,
            "last_error": "",
            "created_at": "2026-01-10T09:00:00Z",
            "sent_at": "2026-01-10T09:01:00Z",
            "waiting": "",
        },
    ]
    # Another reseller's user: 404, as for a missing customer.
    other = FullApi(client, _token(world["ub"]))
    assert other.get(f"/customers/{c.pk}/notifications").status_code == 404
    _error(api.get("/customers/999999/notifications"), 404, "id")
