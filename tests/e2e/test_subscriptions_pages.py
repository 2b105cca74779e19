"""The subscription pages (issue 5 §3): the plans list and form in the navigation, and the
customer page's Subscriptions tab (CU-13) with its list, Subscribe form and End button.
Django's test client signed in; exact figures throughout."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.ledger.customers import create_customer
from billcore.subscriptions.models import Subscription, SubscriptionPlan
from billcore.subscriptions.services import create_plan, subscribe
from tests.e2e.test_pages import assert_error_beside, block, messages_of

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def rows(html: str | bytes, table_id: str) -> list[str]:
    """The text of each body row of table ``table_id``."""
    body = block(html, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def signed_in(client: Any, admin: Any) -> Any:
    client.force_login(admin)
    return client


@pytest.fixture
def acme(admin: Any) -> Customer:
    cls = create_class(actor=admin, now=T0, data={"name": "Direct USD", "currency": "USD"})
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "time_zone": "Europe/Prague",
        },
    )


def _plan(admin: Any, name: str = "Gold", fee: str = "31.5", **data: Any) -> SubscriptionPlan:
    return create_plan(
        actor=admin, now=T0, data={"name": name, "currency": "USD", "fee": fee, **data}
    )


PLAN_POST = {
    "name": "Gold",
    "description": "",
    "currency": "USD",
    "fee": "12.5",
    "in_advance": "false",
    "prorate": "false",
    "charge_while_suspended": "on",
    "charge_while_blocked": "false",
    "managed_by": "",
}


def test_plans_page_in_navigation_add_edit_delete(signed_in: Any, admin: Any) -> None:
    r = signed_in.get("/customers/")
    assert b'<a href="/subscription-plans/" title="Subscription plans">Plans</a>' in r.content
    r = signed_in.get("/subscription-plans/")
    assert rows(r.content, "subscription-plan-table") == ["No subscription plans yet."]
    assert b'href="/subscription-plans/" class="active" aria-current="page"' in r.content
    r = signed_in.post("/subscription-plans/add/", PLAN_POST, follow=True)
    assert messages_of(r) == ["Subscription plan “Gold” saved."]
    plan = SubscriptionPlan.objects.get()
    assert (
        plan.fee,
        plan.in_advance,
        plan.prorate,
        plan.charge_while_suspended,
        plan.charge_while_blocked,
        plan.managed_by_id,
    ) == (Decimal("12.5"), False, False, True, False, None)
    assert rows(r.content, "subscription-plan-table") == [
        "Gold 12.50 USD In arrears No Administrator 0"
    ]
    r = signed_in.get(f"/subscription-plans/{plan.pk}/")
    assert 'value="12.5"' in block(r.content, "field-fee")
    r = signed_in.post(f"/subscription-plans/{plan.pk}/", {**PLAN_POST, "fee": "7.25"}, follow=True)
    assert messages_of(r) == ["Subscription plan “Gold” saved."]
    assert rows(r.content, "subscription-plan-table") == [
        "Gold 7.25 USD In arrears No Administrator 0"
    ]
    r = signed_in.post(f"/subscription-plans/{plan.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(r) == ["Subscription plan “Gold” deleted."]
    assert not SubscriptionPlan.objects.exists()


@pytest.mark.parametrize(
    ("changes", "name", "message"),
    [
        ({"fee": "0"}, "fee", "Fee per billing period must be greater than 0"),
        ({"fee": ""}, "fee", "Fee per billing period is required"),
        ({"name": ""}, "name", "Name is required"),
    ],
)
def test_plan_form_errors_beside_the_input(
    signed_in: Any, changes: dict[str, str], name: str, message: str
) -> None:
    r = signed_in.post("/subscription-plans/add/", {**PLAN_POST, **changes})
    assert r.status_code == 400
    assert_error_beside(r, name, message)
    assert not SubscriptionPlan.objects.exists()


def test_used_plan_cannot_be_deleted(signed_in: Any, admin: Any, acme: Customer) -> None:
    plan = _plan(admin)
    subscribe(actor=admin, now=T0, customer_id=acme.pk, data={"plan": plan.pk, "start_at": T0})
    r = signed_in.post(f"/subscription-plans/{plan.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(r) == ["subscription plan 'Gold' has 1 subscription and cannot be deleted"]
    assert SubscriptionPlan.objects.filter(pk=plan.pk).exists()


def test_reseller_sees_its_own_plans_only(client: Any, world: dict[str, Any]) -> None:
    _plan(world["admin"], name="Admin plan")
    a = _plan(world["ua"], name="A plan")
    client.force_login(world["ub"])
    r = client.get("/subscription-plans/")
    assert rows(r.content, "subscription-plan-table") == ["No subscription plans yet."]
    assert client.get(f"/subscription-plans/{a.pk}/").status_code == 404
    assert client.post(f"/subscription-plans/{a.pk}/delete/", {"confirmed": "1"}).status_code == 404
    client.force_login(world["ua"])
    r = client.get("/subscription-plans/")
    assert rows(r.content, "subscription-plan-table") == [
        "A plan 31.50 USD In advance Yes Reseller A 0"
    ]
    assert b"id_managed_by" not in client.get("/subscription-plans/add/").content


def test_subscriptions_tab_subscribe_list_and_end(
    signed_in: Any, admin: Any, acme: Customer
) -> None:
    plan = _plan(admin)
    _plan(admin, name="Silver", fee="5")
    r = signed_in.get(f"/customers/{acme.pk}/")
    tab = block(r.content, "panel-subscriptions")
    assert rows(tab, "subscription-table") == ["No subscriptions."]
    assert text_of(block(tab, "id_plan")) == "Choose a plan Gold (31.5 USD) Silver (5 USD)"
    # "Subscriptions" is a tab of its own now, not among the ones for later releases
    assert r.content.count(b">Subscriptions</button>") == 1
    r = signed_in.post(
        f"/customers/{acme.pk}/subscribe/",
        {"plan": str(plan.pk), "start_at": "2026-02-01T00:00", "end_at": ""},
        follow=True,
    )
    assert messages_of(r) == ["Subscribed to “Gold”."]
    sub = Subscription.objects.get()
    # 2026-02-01 00:00 in Prague is 2026-01-31 23:00 UTC
    assert (sub.start_at, sub.end_at) == (dt.datetime(2026, 1, 31, 23, 0, tzinfo=dt.UTC), None)
    tab = block(r.content, "panel-subscriptions")
    assert rows(tab, "subscription-table") == [
        "Gold 31.50 USD in advance 2026-02-01 00:00 — Active — End"
    ]
    r = signed_in.post(f"/subscriptions/{sub.pk}/end/", follow=True)
    assert messages_of(r) == ["Subscription to “Gold” ended."]
    sub.refresh_from_db()
    assert sub.end_at is not None and sub.end_at > sub.start_at
    assert "End</button>" not in block(r.content, f"subscription-{sub.pk}")
    # a subscription that starts in the future cannot end now: the message says why
    start = (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)
    later = subscribe(
        actor=admin, now=T0, customer_id=acme.pk, data={"plan": plan.pk, "start_at": start}
    )
    r = signed_in.post(f"/subscriptions/{later.pk}/end/", follow=True)
    assert messages_of(r) == [
        f"end_at must be after the subscription's start ({start.isoformat()})"
    ]
    later.refresh_from_db()
    assert later.end_at is None


@pytest.mark.parametrize(
    ("post", "name", "message"),
    [
        ({"plan": "", "start_at": "2026-02-01T00:00"}, "plan", "Plan is required"),
        ({"start_at": ""}, "start_at", "Start is required"),
        (
            {"start_at": "someday"},
            "start_at",
            "Start must be a date and time such as 2027-01-01T00:00:00+00:00",
        ),
        (
            {"start_at": "2026-02-01T00:00", "end_at": "2026-01-01T00:00"},
            "end_at",
            "End must be after start_at",
        ),
    ],
)
def test_subscribe_errors_beside_the_input(
    signed_in: Any, admin: Any, acme: Customer, post: dict[str, str], name: str, message: str
) -> None:
    plan = _plan(admin)
    r = signed_in.post(f"/customers/{acme.pk}/subscribe/", {"plan": str(plan.pk), **post})
    assert r.status_code == 400
    assert_error_beside(r, name, message)
    assert not Subscription.objects.exists()


def test_other_resellers_subscriptions_are_404(client: Any, world: dict[str, Any]) -> None:
    a_plan = _plan(world["ua"], name="A plan")
    customer = create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "A's retail",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    sub = subscribe(
        actor=world["ua"], now=T0, customer_id=customer.pk, data={"plan": a_plan.pk, "start_at": T0}
    )
    client.force_login(world["ub"])
    assert client.post(f"/subscriptions/{sub.pk}/end/").status_code == 404
    assert (
        client.post(
            f"/customers/{customer.pk}/subscribe/", {"plan": str(a_plan.pk), "start_at": ""}
        ).status_code
        == 404
    )
    sub.refresh_from_db()
    assert sub.end_at is None
