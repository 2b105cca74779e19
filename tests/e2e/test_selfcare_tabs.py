"""Issue 16 §1: the self-care parts of the plans and tabs issues — the customer's numbers
(DIDs, read-only) and its speed dial (abbreviated dialing: add and delete, errors naming the
field, read-only when provisionally terminated, CU-16), on the pages and ``/api/v1/me``."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from billcore.customers.models import Customer, Status
from billcore.features.models import AbbreviatedNumber
from billcore.features.services import set_max_length
from tests.selfcare_support import PASSWORD_A, T0, make_world

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def w(admin):
    return make_world(admin, now=T0)


def signed_in(login: str, password: str) -> Client:
    client = Client()
    response = client.post("/my/login/", {"login": login, "password": password})
    assert response.status_code == 302
    return client


def _assign_did(admin, customer_id: int, account_id: int | None, number: str):
    from billcore.dids import services

    batch = services.create_pricing_batch(
        actor=admin,
        now=T0,
        data={
            "name": f"Batch {number}",
            "currency": "USD",
            "additional_activation_fee": "3.00",
            "additional_recurring_fee": "1.00",
            "recurring_markup_percent": "10",
        },
    )
    did = services.create_did(
        actor=admin,
        now=T0,
        data={
            "number": number,
            "vendor_batch": "Vendor A",
            "activation_cost": "2.00",
            "periodic_cost": "5.00",
            "currency": "USD",
            "country": "US",
            "pricing_batch": batch.pk,
        },
    )
    at = T0 + dt.timedelta(days=1)
    return services.assign(
        actor=admin, now=at, did_id=did.pk, customer_id=customer_id, account_id=account_id
    )


def test_numbers_page_and_api_show_own_dids_exact(w, admin):
    """Supplier 5.00 a month, +10% and +1.00: 6.50 per period (the DIDs reference)."""
    _assign_did(admin, w["a"].pk, w["a2"].pk, "12065551234")
    _assign_did(admin, w["b"].pk, None, "12065559999")
    a = signed_in("alice", PASSWORD_A)
    page = a.get("/my/numbers/").content.decode()
    rows = re.findall(r'<tr id="number-\d+">(.*?)</tr>', page, re.S)
    assert len(rows) == 1
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0])]
    assert cells == ["+12065551234", "+15550002", "6.50", "2026-11-03"]
    assert "12065559999" not in page
    token = a.post(
        "/api/v1/me/login",
        json.dumps({"login": "alice", "password": PASSWORD_A}),
        content_type="application/json",
    ).json()["token"]
    dids = Client().get("/api/v1/me/dids", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert dids == [
        {
            "number": "+12065551234",
            "account": "+15550002",
            "recurring_price": "6.50000",
            "assigned_at": "2026-11-03T09:00:00Z",
        }
    ]


def test_speed_dial_add_and_delete_on_the_page(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=2)
    a = signed_in("alice", PASSWORD_A)
    # Errors name the field and save nothing.
    response = a.post("/my/speed-dial/", {"abbreviated": "123", "number": "+442071234567"})
    assert response.status_code == 400
    assert b"Abbreviated: 123 is longer than the maximum abbreviated length (2 digits)" in (
        response.content
    )
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "not a number"})
    assert response.status_code == 400
    assert b"Number must be an account of this customer" in response.content
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "account": str(w["b1"].pk)})
    assert response.status_code == 404
    assert AbbreviatedNumber.objects.count() == 0
    # Added: one to an account, one to an E.164 number.
    response = a.post("/my/speed-dial/", {"abbreviated": "11", "account": str(w["a2"].pk)})
    assert response.status_code == 302
    response = a.post(
        "/my/speed-dial/",
        {"abbreviated": "12", "number": "+44 20 7123 4567", "description": "London"},
    )
    assert response.status_code == 302
    entries = list(
        AbbreviatedNumber.objects.order_by("abbreviated").values_list(
            "customer_id", "abbreviated", "number", "account_id", "description"
        )
    )
    assert entries == [
        (w["a"].pk, "11", "+15550002", w["a2"].pk, ""),
        (w["a"].pk, "12", "442071234567", None, "London"),
    ]
    page = a.get("/my/speed-dial/").content.decode()
    assert "London" in page and "at most 2 digits" in page
    # A duplicate names the field.
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "+15550001"})
    assert response.status_code == 400
    assert b"Abbreviated: 12 is already in the list" in response.content
    # Deleted.
    london = AbbreviatedNumber.objects.get(abbreviated="12")
    assert a.post(f"/my/speed-dial/{london.pk}/delete/").status_code == 302
    assert list(AbbreviatedNumber.objects.values_list("abbreviated", flat=True)) == ["11"]


def test_speed_dial_through_the_api(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=3)
    client = Client()
    token = client.post(
        "/api/v1/me/login",
        json.dumps({"login": "alice", "password": PASSWORD_A}),
        content_type="application/json",
    ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = "/api/v1/me/abbreviated-dialing"
    bad = client.post(url, json.dumps({"abbreviated": "12a"}), "application/json", **auth)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "abbreviated"
    made = client.post(
        url, json.dumps({"abbreviated": "7", "account": w["a1"].pk}), "application/json", **auth
    )
    assert made.status_code == 201
    entry = made.json()
    assert entry["abbreviated"] == "7" and entry["number"] == "+15550001"
    assert entry["account"] == w["a1"].pk
    listed = client.get(url, **auth).json()
    assert listed == {"max_length": 3, "entries": [entry]}
    assert client.delete(f"{url}/{entry['id']}", **auth).status_code == 204
    assert client.get(url, **auth).json() == {"max_length": 3, "entries": []}
    assert client.delete(f"{url}/{entry['id']}", **auth).status_code == 404


def test_speed_dial_read_only_when_provisionally_terminated(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=2)
    a = signed_in("alice", PASSWORD_A)
    added = a.post("/my/speed-dial/", {"abbreviated": "11", "number": "+15557777"})
    assert added.status_code == 302
    Customer.objects.filter(pk=w["a"].pk).update(status=Status.PROVISIONALLY_TERMINATED)
    page = a.get("/my/speed-dial/")
    assert page.status_code == 200
    assert b"Not while self-care is read-only" in page.content
    assert b'id="speed-dial-form"' not in page.content and b"Delete" not in page.content
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "+15557777"})
    assert response.status_code == 403
    entry = AbbreviatedNumber.objects.get()
    assert a.post(f"/my/speed-dial/{entry.pk}/delete/").status_code == 302
    assert AbbreviatedNumber.objects.count() == 1


# --------------------------------------------------------------------------- quotas & wallets


def _plans(admin, w) -> dict:
    """A quota of 100 UK minutes on ``+15550002`` (its product rates UK calls at 0.10/min)
    and a UK voice wallet of the customer that may be topped up from the balance."""
    from billcore.plans import services as plans
    from billcore.rating import services as rating

    tariff = rating.create_tariff(actor=admin, now=T0, data={"name": "Retail", "currency": "USD"})
    rating.create_rate(
        actor=admin,
        now=T0,
        tariff_id=tariff.pk,
        data={"prefix": "44", "price_first": "0.10", "price_next": "0.10", "effective_from": T0},
    )
    home = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=home.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    rating.create_destination(actor=admin, now=T0, data={"prefix": "44"})
    uk = rating.create_destination_group(
        actor=admin, now=T0, data={"name": "UK", "prefixes": ["44"]}
    )
    rating.set_account_products(
        actor=admin, now=T0, account_id=w["a2"].pk, product=home.pk, addons=[]
    )
    minutes = plans.create_plan(
        actor=admin,
        now=T0,
        data={"name": "100 UK minutes", "currency": "USD", "destination_groups": [uk.pk]},
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=minutes.pk,
        data={"kind": "quota", "service": "voice", "destination_group": uk.pk, "volume": "6000"},
    )
    wallet_plan = plans.create_plan(
        actor=admin,
        now=T0,
        data={"name": "UK wallet", "currency": "USD", "destination_groups": [uk.pk]},
    )
    wallet = plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=wallet_plan.pk,
        data={
            "kind": "wallet",
            "service": "voice",
            "destination_group": uk.pk,
            "initial_volume": "0",
            "topup_balance": True,
        },
    )
    for plan in (minutes, wallet_plan):
        plans.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})
    plans.assign_to_account(
        actor=admin, now=T0, account_id=w["a2"].pk, data={"plan": minutes.pk, "valid_from": T0}
    )
    plans.assign_to_customer(
        actor=admin, now=T0, customer_id=w["a"].pk, data={"plan": wallet_plan.pk, "valid_from": T0}
    )
    return {"wallet": wallet}


def _seven_minutes(admin, w) -> None:
    from billcore.charging.services import charge, parse_usage

    at = T0 + dt.timedelta(hours=2)
    usage = parse_usage(
        service="voice",
        cld="44 20 7946 0000",
        quantity=str(7 * 60),
        started_at=at - dt.timedelta(minutes=10),
        external_id="uk-7",
        now=at,
    )
    result = charge(actor=admin, now=at, account_id=w["a2"].pk, usage=usage)
    assert result.amount == D("0.00000")


def test_quota_left_and_wallet_top_up_from_the_balance(w, admin, monkeypatch):
    from billcore.api import me as me_api
    from billcore.ledger.models import Transaction, Wallet, WalletEntry
    from billcore.selfcare import views_tabs

    # The pages and the API read the counters of the period of the call (November).
    at = T0 + dt.timedelta(hours=3)
    monkeypatch.setattr(views_tabs, "_now", lambda: at)
    monkeypatch.setattr(me_api, "now", lambda: at)
    made = _plans(admin, w)
    _seven_minutes(admin, w)
    a = signed_in("alice", PASSWORD_A)
    page = a.get("/my/quotas/").content.decode()
    quota = re.findall(r'<table class="table" id="quota-table">.*?</table>', page, re.S)[0]
    rows = re.findall(r"<tr><td.*?</tr>", quota, re.S)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0])]
    assert cells[:6] == ["+15550002", "100 UK minutes", "Voice calls", "7 min", "100 min", "93 min"]
    assert 'value="7"' in quota  # the usage bar: 7 % used
    # Top up the customer's wallet from the balance by 5.00.
    balance = Customer.objects.get(pk=w["a"].pk).balance
    rows_before = Transaction.objects.filter(customer=w["a"]).count()
    form = {"rule": made["wallet"].pk, "account": "", "amount": "5.00", "idempotency_key": "k1"}
    assert a.post("/my/quotas/", form).status_code == 302
    assert a.post("/my/quotas/", form).status_code == 302  # the same key: once
    wallet = Wallet.objects.get(customer=w["a"], account__isnull=True)
    assert wallet.balance == D("5.00000")
    assert list(WalletEntry.objects.values_list("kind", "amount")) == [("transfer", D("5"))]
    assert Customer.objects.get(pk=w["a"].pk).balance - balance == D("5.00")  # postpaid owes
    assert Transaction.objects.filter(customer=w["a"]).count() == rows_before + 1
    page = a.get("/my/quotas/").content.decode()
    assert re.findall(r'class="num wallet-balance">([^<]+)<', page) == ["5.00"]
    # Through the API: the counters and wallets, and a top-up.
    token = (
        Client()
        .post(
            "/api/v1/me/login",
            json.dumps({"login": "alice", "password": PASSWORD_A}),
            content_type="application/json",
        )
        .json()["token"]
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    counters = Client().get("/api/v1/me/counters", **auth).json()
    assert [(c["account"], c["used"], c["volume"], c["left"]) for c in counters] == [
        ("+15550002", "420.00000", "6000.00000", "5580.00000")
    ]
    body = {"rule": made["wallet"].pk, "amount": "1.50", "idempotency_key": "api-1"}
    done = Client().post("/api/v1/me/wallets", json.dumps(body), "application/json", **auth)
    assert done.status_code == 201, done.content
    wallets = Client().get("/api/v1/me/wallets", **auth).json()
    assert [(x["account"], x["balance"], x["top_up_from_balance"]) for x in wallets] == [
        (None, "6.50000", True)
    ]


def test_wallet_top_up_refused_when_read_only(w, admin):
    from billcore.ledger.models import Wallet

    made = _plans(admin, w)
    Customer.objects.filter(pk=w["a"].pk).update(status=Status.PROVISIONALLY_TERMINATED)
    a = signed_in("alice", PASSWORD_A)
    page = a.get("/my/quotas/").content.decode()
    assert "Top up from balance" not in page
    form = {"rule": made["wallet"].pk, "amount": "5.00", "idempotency_key": "k1"}
    assert a.post("/my/quotas/", form).status_code == 403
    assert not Wallet.objects.exists()
