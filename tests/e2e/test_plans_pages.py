"""The discount plan pages (issue 13, CU-13 Discounts and Quotas & Service Wallets): the
Rating section's plan list, a plan with its rules, clone, delete, assignment to a product;
the customer's Discounts and Quotas & Service Wallets tabs, an account's plans page with
usage bars, expiry and history, and a wallet's top-up (ledger rows where money moves). Bad
input shows the service's message beside the input and saves nothing; another reseller's
plan is the 404 page. Django's test client signed in; exact values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction, Wallet, WalletEntry
from billcore.plans import services as plans
from billcore.plans.models import DiscountPlan, PlanAssignment, PlanCounter, PlanRule
from billcore.rating import services as rating
from billcore.subscribers.services import create_account
from billcore.web import base
from tests.e2e.test_pages import block
from tests.e2e.test_rating_pages import errors, rows, text_of

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "now", lambda: NOW)


@pytest.fixture
def as_admin(client: Any, world: Any) -> Any:
    client.force_login(world["admin"])
    return client


@pytest.fixture
def cat(world: Any) -> dict[str, Any]:
    admin = world["admin"]
    tariff = rating.create_tariff(actor=admin, now=T0, data={"name": "Retail", "currency": "USD"})
    rating.create_destination(actor=admin, now=T0, data={"prefix": "1"})
    group = rating.create_destination_group(
        actor=admin, now=T0, data={"name": "US", "prefixes": ["1"]}
    )
    product = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=product.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    eur = rating.create_product(actor=admin, now=T0, data={"name": "Euro", "currency": "EUR"})
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "50",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+1555"})
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=product.pk, addons=[]
    )
    return {
        "group": group,
        "product": product,
        "eur": eur,
        "pia": pia,
        "account": account,
    }


def _published(admin: Any, group: Any, name: str = "US minutes") -> DiscountPlan:
    plan = plans.create_plan(
        actor=admin,
        now=T0,
        data={"name": name, "currency": "USD", "destination_groups": [group.pk]},
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "quota",
            "service": "voice",
            "destination_group": group.pk,
            "volume": "6000",
            "rollovers": 1,
        },
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "discount",
            "service": "voice",
            "bands": [
                {"threshold": "0", "percent": "0"},
                {"threshold": "24000", "percent": "10"},
            ],
        },
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "wallet",
            "service": "voice",
            "initial_volume": "10",
            "expiry_days": 30,
            "topup_balance": True,
        },
    )
    return plans.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})


def test_plan_pages_add_rules_publish_assign(as_admin: Any, cat: dict[str, Any]) -> None:
    listing = as_admin.get("/rating/discount-plans/")
    assert listing.status_code == 200
    assert rows(listing.content, "plans-table") == ["No discount plans yet."]
    added = as_admin.post(
        "/rating/discount-plans/add/",
        {"name": "US minutes", "currency": "USD", "destination_groups": [cat["group"].pk]},
    )
    plan = DiscountPlan.objects.get()
    assert added["Location"] == f"/rating/discount-plans/{plan.pk}/"
    page = as_admin.get(f"/rating/discount-plans/{plan.pk}/")
    assert rows(page.content, "rule-table") == ["No rules yet: the plan is a draft."]
    # Overlapping thresholds: the service's message beside the bands, nothing saved.
    bad = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/rules/add/",
        {"kind": "discount", "service": "voice", "measure": "units", "bands": "0 0\n0 30"},
    )
    assert bad.status_code == 400
    assert errors(bad) == [
        "bands.1.threshold (0) must be greater than the previous band's (0): bands may not overlap"
    ]
    negative = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/rules/add/",
        {"kind": "discount", "service": "voice", "measure": "units", "bands": "0 -5"},
    )
    assert errors(negative) == ["bands.0.percent must be from 0 to 100 (got -5)"]
    assert not PlanRule.objects.exists()
    # Every kind's inputs are posted without JavaScript: only the chosen kind's are kept.
    ok = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/rules/add/",
        {
            "kind": "discount",
            "service": "voice",
            "measure": "units",
            "destination_group": cat["group"].pk,
            "peak_scope": "any",
            "reset": "monthly",
            "bands": "0 0\n24000 10\n66000 20",
            "split_xdrs": "on",
            "volume": "100",
            "rollovers": "1",
            "initial_volume": "5",
            "topup_card": "on",
        },
    )
    assert ok["Location"] == f"/rating/discount-plans/{plan.pk}/#rules"
    rule = PlanRule.objects.get()
    assert (rule.kind, rule.reset, rule.split_xdrs, rule.volume) == (
        "discount",
        "monthly",
        True,
        None,
    )
    page = as_admin.get(f"/rating/discount-plans/{plan.pk}/")
    assert rows(page.content, "rule-table") == [
        "Discount Voice calls US Any time Service used (units) from 0 min 0 % off; "
        "from 400 min 10 % off; from 1100 min 20 % off Edit Delete"
    ]
    published = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/",
        {"name": "US minutes", "draft": "false", "destination_groups": [cat["group"].pk]},
    )
    assert published.status_code == 302
    plan.refresh_from_db()
    assert plan.draft is False
    # A product of another currency: refused beside the plan, nothing saved.
    wrong = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/assign/", {"assign_product": cat["eur"].pk}
    )
    assert wrong.status_code == 400
    assert errors(wrong) == ["Discount plan 'US minutes' is in USD, the product in EUR"]
    assert not PlanAssignment.objects.exists()
    assigned = as_admin.post(
        f"/rating/discount-plans/{plan.pk}/assign/", {"assign_product": cat["product"].pk}
    )
    assert assigned.status_code == 302
    page = as_admin.get(f"/rating/discount-plans/{plan.pk}/")
    assert rows(page.content, "assignment-table") == [
        "Product “Home” 2026-11-10 12:00 → open-ended (UTC) End"
    ]
    listing = as_admin.get("/rating/discount-plans/")
    assert rows(listing.content, "plans-table") == [
        "US minutes USD 1 discount Published Administrator"
    ]
    # Clone (a draft copy), then delete the copy; the assigned original cannot go.
    cloned = as_admin.post(f"/rating/discount-plans/{plan.pk}/clone/")
    copy = DiscountPlan.objects.get(name="US minutes (copy)")
    assert cloned["Location"] == f"/rating/discount-plans/{copy.pk}/"
    assert copy.draft is True and copy.rules.count() == 1
    asked = as_admin.post(f"/rating/discount-plans/{copy.pk}/delete/")
    assert asked.status_code == 200 and DiscountPlan.objects.filter(pk=copy.pk).exists()
    as_admin.post(f"/rating/discount-plans/{copy.pk}/delete/", {"confirmed": "1"})
    assert not DiscountPlan.objects.filter(pk=copy.pk).exists()
    refused = as_admin.post(f"/rating/discount-plans/{plan.pk}/delete/", {"confirmed": "1"})
    assert refused["Location"] == f"/rating/discount-plans/{plan.pk}/"
    assert DiscountPlan.objects.filter(pk=plan.pk).exists()


def test_customer_tabs_and_account_page(as_admin: Any, cat: dict[str, Any], world: Any) -> None:
    admin, pia, account = world["admin"], cat["pia"], cat["account"]
    plan = _published(admin, cat["group"])
    page = as_admin.get(f"/customers/{pia.pk}/")
    assert 'id="tab-discounts"' in page.text and 'id="tab-quotas"' in page.text
    assert "Discounts arrives with a later release" not in page.text
    assert rows(page.content, "customer-plan-table") == [
        "No discount plan is assigned to the customer."
    ]
    assigned = as_admin.post(
        f"/customers/{pia.pk}/discount-plans/", {"assign_plan": plan.pk, "assign_from": ""}
    )
    assert assigned["Location"] == f"/customers/{pia.pk}/#tab-discounts"
    bad = as_admin.post(f"/customers/{pia.pk}/discount-plans/", {"assign_plan": plan.pk})
    assert bad.status_code == 400
    assert errors(bad) == [
        "Discount plan 'US minutes' is already assigned to this customer over that time"
    ]
    # The account's own assignment; its quota has counters of two periods (one rolled over).
    to_account = as_admin.post(
        f"/customers/{pia.pk}/accounts/{account.pk}/plans/",
        {"assign_plan": plan.pk, "assign_from": "2026-11-01T00:00"},
    )
    assert to_account["Location"] == f"/customers/{pia.pk}/accounts/{account.pk}/plans/"
    quota = plan.rules.get(kind="quota")
    for start, end, expires, used in (
        ("2026-10-01", "2026-11-01", "2026-12-01", "5400"),
        ("2026-11-01", "2026-12-01", "2027-01-01", "1500"),
    ):
        PlanCounter.objects.create(
            rule=quota,
            customer=pia,
            account=account,
            period_start=dt.datetime.fromisoformat(start + "T00:00+00:00"),
            period_end=dt.datetime.fromisoformat(end + "T00:00+00:00"),
            expires_at=dt.datetime.fromisoformat(expires + "T00:00+00:00"),
            volume=Decimal(6000),
            used=Decimal(used),
            updated_at=NOW,
        )
    page = as_admin.get(f"/customers/{pia.pk}/accounts/{account.pk}/plans/")
    assert page.status_code == 200
    assert rows(page.content, "applied-table") == [
        "1 US minutes Account",
        "2 US minutes Customer",
    ]
    quotas = rows(page.content, "account-quotas")
    assert quotas[0] == (
        "US minutes Account Voice calls US Any time 115 min 200 min 85 min 2026-12-01 00:00"
    )
    assert 'value="57"' in page.text  # 6900 of 12000 used: the usage bar
    history = text_of(block(page.content, "account-quotas"))
    assert (
        "History Period from to Used 2026-11-01 2026-12-01 25 min of 100 min "
        "2026-10-01 2026-11-01 90 min of 100 min"
    ) in history
    assert rows(page.content, "account-wallets") == [
        "US minutes Account Voice calls Every destination 10 USD (not used yet) "
        "2026-12-01 00:00 Top up",
        "US minutes Customer Voice calls Every destination 10 USD (not used yet) "
        "2026-12-10 12:00 Top up",
    ]
    tabs = as_admin.get(f"/customers/{pia.pk}/")
    assert rows(tabs.content, "customer-plan-table")[0].startswith("US minutes 2026-11-10 12:00")
    assert rows(tabs.content, f"account-{account.pk}-quotas")[0] == quotas[0]
    assert rows(tabs.content, "customer-quotas") == [
        "US minutes Customer Voice calls US Any time 0 min 100 min 100 min Never"
    ]


def test_wallet_top_up_from_the_balance(as_admin: Any, cat: dict[str, Any], world: Any) -> None:
    admin, pia, account = world["admin"], cat["pia"], cat["account"]
    plan = _published(admin, cat["group"])
    plans.assign_to_account(
        actor=admin, now=T0, account_id=account.pk, data={"plan": plan.pk, "valid_from": T0}
    )
    wallet_rule = plan.rules.get(kind="wallet")
    url = f"/customers/{pia.pk}/wallets/{wallet_rule.pk}/top-up/?account={account.pk}"
    page = as_admin.get(url)
    assert page.status_code == 200
    assert '<strong id="wallet-balance">10 USD</strong>' in page.text
    # A source the rule does not allow; more than the balance holds: refused, nothing moved.
    card = as_admin.post(url, {"topup_amount": "5", "topup_source": "card", "account": account.pk})
    assert card.status_code == 400
    assert errors(card) == ["From must be one of: balance, credit (got 'card')"]
    too_much = as_admin.post(
        url, {"topup_amount": "60", "topup_source": "balance", "account": account.pk}
    )
    assert too_much.status_code == 400
    assert errors(too_much) == ["The balance has 50.00000 available"]
    assert not Wallet.objects.exists() and not Transaction.objects.filter(action="transfer")
    done = as_admin.post(
        url,
        {
            "topup_amount": "7.5",
            "topup_source": "balance",
            "account": account.pk,
            "idempotency_key": "k-1",
        },
    )
    assert done["Location"] == f"/customers/{pia.pk}/accounts/{account.pk}/plans/"
    wallet = Wallet.objects.get()
    assert (wallet.balance, wallet.account_id, wallet.expires_at) == (
        Decimal("17.5"),
        account.pk,
        T0 + dt.timedelta(days=30),
    )
    assert [(e.kind, e.amount, e.balance_after) for e in WalletEntry.objects.order_by("id")] == [
        ("initial", Decimal("10"), Decimal("10")),
        ("transfer", Decimal("7.5"), Decimal("17.5")),
    ]
    move = Transaction.objects.get(action="transfer")
    assert (move.amount, move.account_id) == (Decimal("7.5"), account.pk)
    pia.refresh_from_db()
    assert pia.balance == Decimal("-42.5")  # prepaid: 50 available, 7.5 moved to the wallet
    # The same idempotency key again moves nothing.
    as_admin.post(
        url,
        {
            "topup_amount": "7.5",
            "topup_source": "balance",
            "account": account.pk,
            "idempotency_key": "k-1",
        },
    )
    assert WalletEntry.objects.count() == 2
    page = as_admin.get(f"/customers/{pia.pk}/accounts/{account.pk}/plans/")
    assert rows(page.content, "account-wallets")[0] == (
        "US minutes Account Voice calls Every destination 17.5 USD 2026-12-01 00:00 Top up"
    )


def test_another_resellers_plan_is_not_found(client: Any, cat: dict[str, Any], world: Any) -> None:
    a_plan = plans.create_plan(actor=world["ua"], now=T0, data={"name": "A", "currency": "USD"})
    client.force_login(world["ub"])
    for url in (
        f"/rating/discount-plans/{a_plan.pk}/",
        f"/customers/{cat['pia'].pk}/accounts/{cat['account'].pk}/plans/",
    ):
        assert client.get(url).status_code == 404
    assert (
        client.post(f"/rating/discount-plans/{a_plan.pk}/delete/", {"confirmed": "1"}).status_code
        == 404
    )
    assert client.post(f"/rating/discount-plans/{a_plan.pk}/", {"name": "B"}).status_code == 404
    assert DiscountPlan.objects.get(pk=a_plan.pk).name == "A"
    listing = client.get("/rating/discount-plans/")
    assert rows(listing.content, "plans-table") == ["No discount plans yet."]
