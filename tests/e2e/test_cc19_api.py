"""CC-19 over ``/api/v1`` (issue 10 §4): a customer suspended for insufficient funds for its
subscriptions is denied with that reason, and the payment that covers the waiting fee brings
the service back in the same request. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.services import create_class
from billcore.ledger.customers import create_customer
from billcore.subscriptions.engine import charge_customer
from billcore.subscriptions.services import create_plan, subscribe
from tests.e2e.test_api import Api, _token

pytestmark = pytest.mark.django_db


def test_suspended_for_funds_then_the_payment_brings_service_back(client: Any, admin: Any) -> None:
    start = timezone.now() - dt.timedelta(minutes=5)
    cls = create_class(
        actor=admin,
        now=start,
        data={"name": "CC-19", "currency": "USD", "suspend_on_insufficient_funds": True},
    )
    c = create_customer(
        actor=admin,
        now=start,
        data={
            "name": "Pre",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "20",
            "customer_class": cls.pk,
        },
    )
    plan = create_plan(
        actor=admin,
        now=start,
        data={"name": "Gold", "currency": "USD", "fee": "30", "prorate": False},
    )
    subscribe(actor=admin, now=start, customer_id=c.pk, data={"plan": plan.pk, "start_at": start})
    charge_customer(customer_id=c.pk, now=start)  # the engine: 30 > 20, suspended

    api = Api(client, _token(admin))
    denied = api.post("/authorize", {"customer": c.pk, "amount": "1"})
    assert denied.status_code == 200, denied.content
    assert {k: denied.json()[k] for k in ("allowed", "reason", "message")} == {
        "allowed": False,
        "reason": "customer_suspended_funds",
        "message": "the customer is suspended: insufficient funds for subscriptions",
    }
    before = api.get(f"/customers/{c.pk}").json()
    assert (before["status"], before["available_funds"]) == ("suspended", "20.00000")

    paid = api.post(
        f"/customers/{c.pk}/transactions",
        {"action": "Manual payment", "amount": "15"},
        HTTP_IDEMPOTENCY_KEY="top-up-1",
    )
    assert paid.status_code == 201, paid.content
    assert (paid.json()["amount"], paid.json()["available_funds"]) == ("-15.00000", "35.00000")
    after = api.get(f"/customers/{c.pk}").json()
    # the waiting fee 30 charged with the payment: 35 - 30 = 5, open at once
    assert (after["status"], after["available_funds"], after["balance"]) == (
        "open",
        "5.00000",
        "-5.00000",
    )
    ledger = api.get(f"/customers/{c.pk}/transactions").json()["items"]
    assert sorted((t["action"], Decimal(t["amount"])) for t in ledger) == [
        ("manual_payment", Decimal("-15")),
        ("opening_balance", Decimal("-20")),
        ("subscription", Decimal("30")),
    ]
    allowed = api.post("/authorize", {"customer": c.pk, "amount": "5"})
    assert (allowed.json()["allowed"], allowed.json()["reason"]) == (True, "")
