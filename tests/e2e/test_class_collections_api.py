"""Issue 10 §4: a class's collections settings (reminders, late-payment fee, suspension and
termination after N days with their notices, for regular and out-of-turn invoices; the
reactivation fee; the low-funds threshold) over ``/api/v1/customer-classes``, read and written
like every other class setting and validated by the same service rules as the class page
(docs/lifecycle.md "Collections"; CC-22 Regular / Out-of-Turn Invoices tabs). SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from tests.e2e.test_api import Api, _error, _token

COLLECTIONS = {
    "reminder_days_before_due": 3,
    "late_fee_after_days": 5,
    "late_fee_amount": "7.50",
    "late_fee_notice_days": 2,
    "suspend_after_days": 10,
    "suspend_notice_days": 3,
    "terminate_after_days": 30,
    "terminate_notice_days": 7,
    "oot_reminder_days_before_due": 1,
    "oot_late_fee_after_days": 4,
    "oot_late_fee_amount": "2.25",
    "oot_late_fee_notice_days": 1,
    "oot_suspend_after_days": 6,
    "oot_suspend_notice_days": 2,
    "oot_terminate_after_days": 20,
    "oot_terminate_notice_days": 5,
    "reactivation_fee": "12.00",
    "low_funds_threshold": "5.00001",
}
AS_STORED = {
    **COLLECTIONS,
    "late_fee_amount": "7.50000",
    "oot_late_fee_amount": "2.25000",
    "reactivation_fee": "12.00000",
    "low_funds_threshold": "5.00001",
}
OFF = {
    "reminder_days_before_due": None,
    "late_fee_after_days": None,
    "late_fee_amount": None,
    "late_fee_notice_days": 0,
    "suspend_after_days": None,
    "suspend_notice_days": 0,
    "terminate_after_days": None,
    "terminate_notice_days": 0,
    "reactivation_fee": None,
    "low_funds_threshold": None,
}


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


def _collections(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in AS_STORED}


def test_collections_settings_are_written_and_read_back(api: Api) -> None:
    r = api.post("/customer-classes", {"name": "Dunning", "currency": "USD", **COLLECTIONS})
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert _collections(r.json()) == AS_STORED
    assert _collections(api.get(f"/customer-classes/{cid}").json()) == AS_STORED
    listed = api.get("/customer-classes?search=Dunning").json()["items"]
    assert [_collections(c) for c in listed] == [AS_STORED]
    stored = CustomerClass.objects.get(pk=cid)
    assert (stored.late_fee_amount, stored.reactivation_fee, stored.oot_terminate_after_days) == (
        Decimal("7.5"),
        Decimal("12"),
        20,
    )
    # a copy carries them (CC-03)
    copy = api.post(f"/customer-classes/{cid}/copy", {"name": "Dunning 2"})
    assert copy.status_code == 201, copy.content
    assert _collections(copy.json()) == AS_STORED


def test_patch_changes_only_the_given_settings_and_null_turns_a_step_off(api: Api) -> None:
    cid = api.post("/customer-classes", {"name": "D", "currency": "USD", **COLLECTIONS}).json()[
        "id"
    ]
    r = api.patch(
        f"/customer-classes/{cid}",
        {"late_fee_after_days": None, "late_fee_amount": None, "reactivation_fee": "1.5"},
    )
    assert r.status_code == 200, r.content
    assert _collections(r.json()) == AS_STORED | {
        "late_fee_after_days": None,
        "late_fee_amount": None,
        "reactivation_fee": "1.50000",
    }
    entry = AuditEntry.objects.filter(object_type="customerclass", object_id=str(cid)).latest("id")
    assert entry.operation == "update"
    assert entry.before["reactivation_fee"] != entry.after["reactivation_fee"]
    assert entry.after["late_fee_after_days"] is None
    # a new class without them: every step off
    bare = api.post("/customer-classes", {"name": "Bare"}).json()
    assert {k: bare[k] for k in OFF} == OFF


@pytest.mark.parametrize(
    ("body", "field", "code", "message"),
    [
        (
            {"late_fee_after_days": 5},
            "late_fee_amount",
            "required",
            "late_fee_amount is required when a late-payment fee is charged (Regular Invoices tab)",
        ),
        (
            {"oot_late_fee_after_days": 5, "oot_late_fee_amount": "0"},
            "oot_late_fee_amount",
            "required",
            "oot_late_fee_amount is required when a late-payment fee is charged (Out-of-Turn "
            "Invoices tab)",
        ),
        (
            {"suspend_after_days": 10, "terminate_after_days": 9},
            "terminate_after_days",
            "invalid",
            "terminate_after_days must not come before the suspension (suspend_after_days = "
            "10; Regular Invoices tab)",
        ),
        (
            {"reminder_days_before_due": 366},
            "reminder_days_before_due",
            "invalid",
            "reminder_days_before_due must be at most 365",
        ),
        (
            {"suspend_notice_days": -1},
            "suspend_notice_days",
            "invalid",
            "suspend_notice_days must be at least 0",
        ),
        (
            {"reactivation_fee": "-1"},
            "reactivation_fee",
            "invalid",
            None,
        ),
        (
            {"low_funds_threshold": "1.000001"},
            "low_funds_threshold",
            "invalid",
            None,
        ),
        (
            {"late_fee_amount": 5},
            "late_fee_amount",
            "invalid",
            'late_fee_amount must be a decimal string such as "10.50" (never a JSON number)',
        ),
        (
            {"terminate_after_days": "soon"},
            "terminate_after_days",
            "invalid",
            None,
        ),
    ],
)
def test_collections_settings_refused_like_on_the_class_page(
    api: Api, body: dict[str, Any], field: str, code: str, message: str | None
) -> None:
    before = CustomerClass.objects.count()
    err = _error(
        api.post("/customer-classes", {"name": "Bad", "currency": "USD", **body}), 400, field, code
    )
    if message is not None:
        assert err["message"] == message
    assert CustomerClass.objects.count() == before
    # the same on a change: nothing saved
    cid = api.post("/customer-classes", {"name": "Good", "currency": "USD"}).json()["id"]
    _error(api.patch(f"/customer-classes/{cid}", body), 400, field, code)
    assert {
        k: v
        for k, v in _collections(api.get(f"/customer-classes/{cid}").json()).items()
        if k in OFF
    } == OFF


def test_the_page_and_the_api_give_the_same_refusal(client: Any, admin: Any) -> None:
    """One service rule behind both: the class page shows the API's refusal on the field."""
    api = Api(client, _token(admin))
    err = _error(
        api.post("/customer-classes", {"name": "Same", "late_fee_after_days": 5}),
        400,
        "late_fee_amount",
        "required",
    )
    client.force_login(admin)
    r = client.post("/classes/add/", {"name": "Same", "late_fee_after_days": "5", "_save": "1"})
    assert r.status_code == 400, r.status_code
    # the page names the field by its label, the rest of the sentence is the API's
    assert err["message"].startswith("late_fee_amount is required when")
    page_message = err["message"].replace("late_fee_amount", "Late-payment fee amount")
    assert f'id="id_late_fee_amount-error">{page_message}' in r.content.decode()
    assert not CustomerClass.objects.filter(name="Same").exists()
