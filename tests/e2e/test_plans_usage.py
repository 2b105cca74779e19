"""A plan written through the API, consumed by rated usage, read back (issue 13 §2.2): the
8-minute call across the last 2 free minutes costs 0.60, and the account's counters on the
API, the account's page and ``/rest/`` say the quota is used up; a top-up from the balance
is a transfer in the ledger and the wallet then pays (rating-and-tabs §2.4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.charging.services import charge, parse_usage
from billcore.customers.models import Customer
from billcore.ledger.customers import create_customer
from billcore.ledger.models import WalletEntry
from billcore.rating import services as rating
from billcore.subscribers.services import create_account
from billcore.web import base
from tests.e2e.test_api import Api, _token
from tests.e2e.test_rating_pages import rows
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(days=2)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


@pytest.fixture
def setup(world: Any) -> dict[str, Any]:
    admin = world["admin"]
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
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "100",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[]
    )
    return {"admin": admin, "home": home, "uk": uk, "pia": pia, "account": account}


def _call(setup: dict[str, Any], seconds: int, key: str) -> Any:
    usage = parse_usage(
        service="voice",
        cld="44 20 7946 0000",
        quantity=str(seconds),
        started_at=NOW - dt.timedelta(hours=1),
        external_id=key,
        now=NOW,
    )
    return charge(actor=setup["admin"], now=NOW, account_id=setup["account"].pk, usage=usage)


def test_quota_and_wallet_written_by_api_consumed_by_rating(
    client: Any, setup: dict[str, Any], monkeypatch: Any
) -> None:
    api = Api(client, _token(setup["admin"]))
    uk, account, pia = setup["uk"], setup["account"], setup["pia"]
    plan = _ok(
        api.post(
            "/discount-plans",
            {"name": "100 UK minutes", "currency": "USD", "destination_groups": [uk.pk]},
        ),
        201,
    )
    base_url = f"/discount-plans/{plan['id']}"
    quota = _ok(
        api.post(
            f"{base_url}/rules",
            {"kind": "quota", "service": "voice", "destination_group": uk.pk, "volume": "6000"},
        ),
        201,
    )
    _ok(api.patch(base_url, {"draft": False}))
    _ok(
        api.post(
            f"/products/{setup['home'].pk}/discount-plans",
            {"plan": plan["id"], "valid_from": T0.isoformat()},
        ),
        201,
    )
    assert _call(setup, 98 * 60, "a").amount == Decimal("0.00000")
    second = _call(setup, 8 * 60, "b")
    assert (second.allowed, second.amount) == (True, Decimal("0.60000"))
    counters = _ok(api.get(f"/accounts/{account.pk}/plan-counters?at={NOW:%Y-%m-%dT%H:%M:%SZ}"))
    assert [(c["rule"], c["used"], c["volume"], c["remaining"]) for c in counters] == [
        (quota["id"], "6000.00000", "6000.00000", "0.00000")
    ]
    assert counters[0]["source"] == "main" and counters[0]["holder_account"] == account.pk
    # The account's page shows the quota used up.
    monkeypatch.setattr(base, "now", lambda: NOW)
    client.force_login(setup["admin"])
    page = client.get(f"/customers/{pia.pk}/accounts/{account.pk}/plans/")
    assert rows(page.content, "account-quotas")[0].startswith(
        "100 UK minutes Main product Voice calls UK Any time 100 min 100 min 0 min "
    )
    assert 'value="100"' in page.text
    assert ledger_sum(customer_id=pia.pk) == Customer.objects.get(pk=pia.pk).balance


def test_wallet_topped_up_from_the_balance_pays_the_next_call(
    client: Any, setup: dict[str, Any]
) -> None:
    api = Api(client, _token(setup["admin"]))
    uk, account, pia = setup["uk"], setup["account"], setup["pia"]
    plan = _ok(
        api.post(
            "/discount-plans",
            {"name": "UK wallet", "currency": "USD", "destination_groups": [uk.pk]},
        ),
        201,
    )
    wallet = _ok(
        api.post(
            f"/discount-plans/{plan['id']}/rules",
            {
                "kind": "wallet",
                "service": "voice",
                "destination_group": uk.pk,
                "initial_volume": "0",
                "topup_balance": True,
            },
        ),
        201,
    )
    _ok(api.patch(f"/discount-plans/{plan['id']}", {"draft": False}))
    _ok(
        api.post(
            f"/accounts/{account.pk}/discount-plans",
            {"plan": plan["id"], "valid_from": T0.isoformat()},
        ),
        201,
    )
    before = Customer.objects.get(pk=pia.pk).balance
    top = _ok(
        api.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": wallet["id"], "amount": "1.20", "source": "balance"},
        ),
        201,
    )
    assert (top["kind"], top["balance_after"]) == ("transfer", "1.20000")
    assert top["transaction"] is not None
    moved = Customer.objects.get(pk=pia.pk).balance
    assert moved - before == Decimal("1.20")  # prepaid: the balance owes 1.20 more
    # A 10-minute call at 0.10/min (1.00) is paid by the wallet; the balance does not move.
    call = _call(setup, 600, "w")
    assert call.amount == Decimal("0.00000")
    assert Customer.objects.get(pk=pia.pk).balance == moved
    entries = list(WalletEntry.objects.order_by("id").values_list("kind", "amount"))
    assert entries == [("transfer", Decimal("1.2")), ("usage", Decimal("-1"))]
    assert ledger_sum(customer_id=pia.pk) == Customer.objects.get(pk=pia.pk).balance
