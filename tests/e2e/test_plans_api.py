"""Volume discount plans over HTTP (issue 13, CU-13 Discounts, Quotas & Service Wallets):
plans, rules and bands, clone, assignments on products, accounts and customers and the plans
in force for an account in consumption order; every 4xx names its field and saves nothing;
another reseller's plans are a 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billcore.ledger.customers import create_customer
from billcore.ledger.models import Wallet, WalletEntry
from billcore.plans.models import DiscountPlan, PlanAssignment, PlanBand, PlanRule
from billcore.subscribers.services import create_account
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

BANDS = [
    {"threshold": "0", "percent": "0"},
    {"threshold": "24000", "percent": "10"},
    {"threshold": "66000", "percent": "20"},
]


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, _token(world["admin"]))


@pytest.fixture
def api_a(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ua"]))


@pytest.fixture
def api_b(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ub"]))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def _counts() -> tuple[int, int, int, int]:
    return (
        DiscountPlan.objects.count(),
        PlanRule.objects.count(),
        PlanBand.objects.count(),
        PlanAssignment.objects.count(),
    )


@pytest.fixture
def catalogue(api: Api, world: Any) -> dict[str, Any]:
    tariff = _ok(api.post("/tariffs", {"name": "Retail", "currency": "USD"}), 201)
    _ok(api.post("/destinations", {"prefix": "1"}), 201)
    group = _ok(api.post("/destination-groups", {"name": "US", "prefixes": ["1"]}), 201)
    products = {}
    for name, kind, precedence in (("Home", "main", 0), ("Roam", "addon", 3)):
        p = _ok(
            api.post(
                "/products",
                {"name": name, "currency": "USD", "kind": kind, "precedence": precedence},
            ),
            201,
        )
        _ok(
            api.post(f"/products/{p['id']}/entries", {"service": "voice", "tariff": tariff["id"]}),
            201,
        )
        products[name] = p
    eur = _ok(api.post("/products", {"name": "Euro", "currency": "EUR"}), 201)
    pia = create_customer(
        actor=world["admin"],
        now=world["admin"].date_joined,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(
        actor=world["admin"],
        now=world["admin"].date_joined,
        customer_id=pia.pk,
        data={"identifier": "+1555"},
    )
    _ok(
        api._send(
            "put",
            f"/accounts/{account.pk}/products",
            {"product": products["Home"]["id"], "addons": [products["Roam"]["id"]]},
        )
    )
    return {"group": group, "products": products, "eur": eur, "pia": pia, "account": account}


def _plan(api: Api, name: str, group: dict[str, Any], **extra: Any) -> dict[str, Any]:
    plan = _ok(
        api.post(
            "/discount-plans",
            {"name": name, "currency": "USD", "destination_groups": [group["id"]], **extra},
        ),
        201,
    )
    _ok(
        api.post(
            f"/discount-plans/{plan['id']}/rules",
            {
                "kind": "discount",
                "service": "voice",
                "destination_group": group["id"],
                "bands": BANDS,
            },
        ),
        201,
    )
    return dict(_ok(api.patch(f"/discount-plans/{plan['id']}", {"draft": False})))


def test_plan_rules_and_bands_round_trip(api: Api, catalogue: dict[str, Any]) -> None:
    group = catalogue["group"]
    plan = _ok(
        api.post(
            "/discount-plans",
            {"name": "US minutes", "currency": "USD", "destination_groups": [group["id"]]},
        ),
        201,
    )
    assert {k: plan[k] for k in ("name", "currency", "managed_by", "draft", "rules")} == {
        "name": "US minutes",
        "currency": "USD",
        "managed_by": None,
        "draft": True,
        "rules": [],
    }
    assert plan["destination_groups"] == [group["id"]]
    base = f"/discount-plans/{plan['id']}"
    rule = _ok(
        api.post(
            f"{base}/rules",
            {
                "kind": "discount",
                "service": "voice",
                "destination_group": group["id"],
                "measure": "units",
                "split_xdrs": True,
                "bands": BANDS,
            },
        ),
        201,
    )
    assert rule["bands"] == [
        {"threshold": "0.00000", "percent": "0.00000"},
        {"threshold": "24000.00000", "percent": "10.00000"},
        {"threshold": "66000.00000", "percent": "20.00000"},
    ]
    assert (rule["kind"], rule["service"], rule["split_xdrs"]) == ("discount", "voice", True)
    quota = _ok(
        api.post(
            f"{base}/rules",
            {
                "kind": "quota",
                "service": "data",
                "volume": "3000",
                "rollovers": 3,
                "on_exhausted": "limit_speed",
                "speed_policy": "slow-256k",
            },
        ),
        201,
    )
    assert (quota["volume"], quota["rollovers"], quota["speed_policy"]) == (
        "3000.00000",
        3,
        "slow-256k",
    )
    wallet = _ok(
        api.post(
            f"{base}/rules",
            {
                "kind": "wallet",
                "service": "data",
                "initial_volume": "10",
                "expiry_date": "2027-06-30",
                "topup_balance": True,
            },
        ),
        201,
    )
    assert (wallet["measure"], wallet["initial_volume"], wallet["expiry_date"]) == (
        "money",
        "10.00000",
        "2027-06-30",
    )
    bands = _ok(
        api._send(
            "put",
            f"{base}/rules/{rule['id']}/bands",
            [{"threshold": "0", "percent": "0"}, {"threshold": "1200", "percent": "30"}],
        )
    )
    assert bands == [
        {"threshold": "0.00000", "percent": "0.00000"},
        {"threshold": "1200.00000", "percent": "30.00000"},
    ]
    assert _ok(api.get(f"{base}/rules/{rule['id']}/bands")) == bands
    published = _ok(api.patch(base, {"draft": False}))
    assert published["draft"] is False
    assert [r["kind"] for r in published["rules"]] == ["discount", "quota", "wallet"]
    page = _ok(api.get("/discount-plans?draft=false"))
    assert [p["name"] for p in page["items"]] == ["US minutes"]
    clone = _ok(api.post(f"{base}/clone", {}), 201)
    assert (clone["name"], clone["draft"], len(clone["rules"])) == ("US minutes (copy)", True, 3)
    _ok(api.delete(f"/discount-plans/{clone['id']}"), 204)
    _error(api.get(f"/discount-plans/{clone['id']}"), 404, "id")


def test_bad_input_names_the_field_and_saves_nothing(api: Api, catalogue: dict[str, Any]) -> None:
    group = catalogue["group"]
    draft = _ok(api.post("/discount-plans", {"name": "Draft", "currency": "USD"}), 201)
    base = f"/discount-plans/{draft['id']}"
    before = _counts()
    overlapping = [{"threshold": "0", "percent": "0"}, {"threshold": "0", "percent": "30"}]
    _error(
        api.post(f"{base}/rules", {"kind": "discount", "service": "voice", "bands": overlapping}),
        400,
        "bands.1.threshold",
        "overlap",
    )
    _error(
        api.post(
            f"{base}/rules",
            {
                "kind": "discount",
                "service": "voice",
                "bands": [{"threshold": "0", "percent": "-10"}],
            },
        ),
        400,
        "bands.0.percent",
        "out_of_range",
    )
    _error(
        api.post(f"{base}/rules", {"kind": "quota", "service": "voice", "rollovers": 4}),
        400,
        "rollovers",
    )
    _error(api.patch(base, {"currency": "EUR"}), 400, "currency", "read_only")
    _error(api.patch(base, {"draft": False}), 400, "draft", "no_rules")
    _error(
        api.post(
            f"/products/{catalogue['products']['Home']['id']}/discount-plans", {"plan": draft["id"]}
        ),
        400,
        "plan",
        "draft",
    )
    assert _counts() == before
    usd = _plan(api, "US minutes", group)
    before = _counts()
    err = _error(
        api.post(f"/products/{catalogue['eur']['id']}/discount-plans", {"plan": usd["id"]}),
        400,
        "plan",
        "currency_mismatch",
    )
    assert err["message"] == "plan: discount plan 'US minutes' is in USD, the product in EUR"
    _error(
        api.post("/discount-plans", {"name": "us MINUTES", "currency": "USD"}),
        400,
        "name",
        "duplicate",
    )
    _error(api.post("/discount-plans", {"name": "Z", "currency": "USD", "bogus": 1}), 400, "bogus")
    assert _counts() == before


def test_assignments_and_consumption_order(api: Api, catalogue: dict[str, Any]) -> None:
    group = catalogue["group"]
    account, pia = catalogue["account"], catalogue["pia"]
    names = {}
    for name in ("Main plan", "Roam plan", "Own plan", "Customer plan"):
        names[name] = _plan(api, name, group)["id"]
    home, roam = catalogue["products"]["Home"]["id"], catalogue["products"]["Roam"]["id"]
    _ok(api.post(f"/products/{home}/discount-plans", {"plan": names["Main plan"]}), 201)
    _ok(api.post(f"/products/{roam}/discount-plans", {"plan": names["Roam plan"]}), 201)
    own = _ok(api.post(f"/accounts/{account.pk}/discount-plans", {"plan": names["Own plan"]}), 201)
    _ok(api.post(f"/customers/{pia.pk}/discount-plans", {"plan": names["Customer plan"]}), 201)
    assert own["account"] == account.pk and own["plan_name"] == "Own plan"
    applied = _ok(api.get(f"/accounts/{account.pk}/applied-discount-plans"))
    assert [(a["plan"]["name"], a["source"], a["precedence"]) for a in applied] == [
        ("Own plan", "account", 0),
        ("Roam plan", "addon", 3),
        ("Main plan", "main", 0),
        ("Customer plan", "customer", 0),
    ]
    listed = _ok(api.get(f"/customers/{pia.pk}/discount-plans"))
    assert [a["plan_name"] for a in listed["items"]] == ["Customer plan"]
    assert _ok(api.get(f"/discount-plans/{names['Main plan']}/assignments"))["count"] == 1
    _error(api.delete(f"/discount-plans/{names['Main plan']}"), 400, "id", "in_use")
    ended = _ok(api.delete(f"/discount-plan-assignments/{own['id']}"))
    assert ended["valid_to"] is not None
    applied = _ok(api.get(f"/accounts/{account.pk}/applied-discount-plans"))
    assert [a["source"] for a in applied] == ["addon", "main", "customer"]
    future = _ok(
        api.post(
            f"/accounts/{account.pk}/discount-plans",
            {"plan": names["Own plan"], "valid_from": "2099-01-01T00:00:00Z"},
        ),
        201,
    )
    _ok(api.delete(f"/discount-plan-assignments/{future['id']}"), 204)
    assert not PlanAssignment.objects.filter(pk=future["id"]).exists()


def test_resellers_see_only_their_own(
    api: Api, api_a: Api, api_b: Api, catalogue: dict[str, Any], world: Any
) -> None:
    group = catalogue["group"]
    admin_plan = _plan(api, "Admin plan", group)
    a_plan = _plan(api_a, "A plan", group)
    assert a_plan["managed_by"] == world["ra"].pk
    assert [p["name"] for p in _ok(api_a.get("/discount-plans"))["items"]] == ["A plan"]
    assert _ok(api_b.get("/discount-plans"))["count"] == 0
    assert _ok(api.get("/discount-plans"))["count"] == 2
    before = _counts()
    _error(api_a.get(f"/discount-plans/{admin_plan['id']}"), 404, "id")
    _error(api_b.patch(f"/discount-plans/{a_plan['id']}", {"name": "Mine"}), 404, "id")
    _error(api_b.delete(f"/discount-plans/{a_plan['id']}"), 404, "id")
    _error(api_b.post(f"/discount-plans/{a_plan['id']}/clone", {}), 404, "id")
    _error(api_b.get(f"/discount-plans/{a_plan['id']}/rules"), 404, "id")
    _error(
        api_a.post(f"/customers/{catalogue['pia'].pk}/discount-plans", {"plan": a_plan["id"]}),
        404,
        "id",
    )
    _error(
        api.post(f"/customers/{catalogue['pia'].pk}/discount-plans", {"plan": a_plan["id"]}),
        400,
        "plan",
        "other_owner",
    )
    assert _counts() == before
    assert DiscountPlan.objects.get(pk=a_plan["id"]).name == "A plan"


def test_counters_and_wallet_top_ups(api: Api, api_b: Api, catalogue: dict[str, Any]) -> None:
    account, pia = catalogue["account"], catalogue["pia"]
    plan = _ok(api.post("/discount-plans", {"name": "Roaming", "currency": "USD"}), 201)
    base = f"/discount-plans/{plan['id']}"
    quota = _ok(
        api.post(f"{base}/rules", {"kind": "quota", "service": "data", "volume": "3000"}), 201
    )
    wallet = _ok(
        api.post(
            f"{base}/rules",
            {"kind": "wallet", "service": "data", "initial_volume": "10", "topup_credit": True},
        ),
        201,
    )
    _ok(api.patch(base, {"draft": False}))
    _ok(api.post(f"/accounts/{account.pk}/discount-plans", {"plan": plan["id"]}), 201)
    counters = _ok(api.get(f"/accounts/{account.pk}/plan-counters"))
    assert [(c["kind"], c["rule"], c["source"]) for c in counters] == [
        ("quota", quota["id"], "account"),
        ("wallet", wallet["id"], "account"),
    ]
    assert (counters[0]["used"], counters[0]["volume"], counters[0]["remaining"]) == (
        "0.00000",
        "3000.00000",
        "3000.00000",
    )
    assert (counters[1]["wallet"], counters[1]["wallet_balance"]) == (None, "10.00000")
    before = WalletEntry.objects.count()
    _error(
        api.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": wallet["id"], "amount": "5", "source": "balance"},
        ),
        400,
        "source",
        "invalid_choice",
    )
    _error(
        api.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": quota["id"], "amount": "5", "source": "credit"},
        ),
        400,
        "rule",
        "not_found",
    )
    _error(
        api_b.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": wallet["id"], "amount": "5", "source": "credit"},
        ),
        404,
        "id",
    )
    assert WalletEntry.objects.count() == before
    done = _ok(
        api.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": wallet["id"], "amount": "2.5", "source": "credit"},
            HTTP_IDEMPOTENCY_KEY="promo-1",
        ),
        201,
    )
    assert (done["kind"], done["amount"], done["balance_after"], done["transaction"]) == (
        "credit",
        "2.50000",
        "12.50000",
        None,
    )
    again = _ok(
        api.post(
            f"/accounts/{account.pk}/wallet-top-ups",
            {"rule": wallet["id"], "amount": "2.5", "source": "credit"},
            HTTP_IDEMPOTENCY_KEY="promo-1",
        ),
        201,
    )
    assert again == done
    assert Wallet.objects.get().balance == Decimal("12.5")
    counters = _ok(api.get(f"/accounts/{account.pk}/plan-counters"))
    assert counters[1]["wallet_balance"] == "12.50000"
    assert [(e["kind"], e["amount"]) for e in counters[1]["wallet_entries"]] == [
        ("credit", "2.50000"),
        ("initial", "10.00000"),
    ]
    assert _ok(api.get(f"/customers/{pia.pk}/plan-counters")) == []
