"""Volume discount plans (issue 13, rating-and-tabs §2.1 to §2.4, CU-13 Discounts and Quotas &
Service Wallets): plans, their rules and bands, clones, drafts and assignments; every bad
input names its field and saves nothing; a reseller's user sees and assigns only its own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.errors import NotFound, ValidationFailed
from billcore.ledger.customers import create_customer
from billcore.plans import selectors, services
from billcore.plans.models import DiscountPlan, PlanAssignment, PlanBand, PlanRule
from billcore.rating import services as rating
from billcore.rating.models import DestinationGroup
from billcore.subscribers.services import create_account

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db

# §2.2 worked example: 400 minutes at the standard rate, the next 700 at 10 % off, then 20 %
# (thresholds in the voice service's base unit, seconds).
US_BANDS = [
    {"threshold": "0", "percent": "0"},
    {"threshold": "24000", "percent": "10"},
    {"threshold": "66000", "percent": "20"},
]


def _state() -> tuple[int, int, int, int, int]:
    return (
        DiscountPlan.objects.count(),
        PlanRule.objects.count(),
        PlanBand.objects.count(),
        PlanAssignment.objects.count(),
        AuditEntry.objects.count(),
    )


def _refused(field: str, call: Any, code: str | None = None) -> ValidationFailed:
    before = _state()
    with pytest.raises(ValidationFailed) as info:
        call()
    assert info.value.field == field, info.value.message
    if code is not None:
        assert info.value.code == code
    assert _state() == before
    return info.value


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    admin, ua = world["admin"], world["ua"]
    usd = rating.create_tariff(
        actor=admin, now=T0, data={"name": "Retail USD", "currency": "USD", "service": "voice"}
    )
    rating.create_destination(actor=admin, now=T0, data={"prefix": "1"})
    rating.create_destination(actor=admin, now=T0, data={"prefix": "44"})
    na = rating.create_destination_group(
        actor=admin, now=T0, data={"name": "US & Canada", "prefixes": ["1"]}
    )
    uk = rating.create_destination_group(
        actor=admin, now=T0, data={"name": "UK", "prefixes": ["44"]}
    )
    main = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=main.pk, data={"service": "voice", "tariff": usd.pk}
    )
    addons = []
    for name, precedence in (("Roam low", 1), ("Roam high", 5)):
        addon = rating.create_product(
            actor=admin,
            now=T0,
            data={"name": name, "currency": "USD", "kind": "addon", "precedence": precedence},
        )
        rating.create_entry(
            actor=admin, now=T0, product_id=addon.pk, data={"service": "voice", "tariff": usd.pk}
        )
        addons.append(addon)
    eur_product = rating.create_product(
        actor=admin, now=T0, data={"name": "Euro home", "currency": "EUR"}
    )
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    rating.set_account_products(
        actor=admin,
        now=T0,
        account_id=account.pk,
        product=main.pk,
        addons=[a.pk for a in addons],
    )
    a_customer = create_customer(
        actor=ua,
        now=T0,
        data={
            "name": "Alma",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    return {
        **world,
        "na": na,
        "uk": uk,
        "main": main,
        "addons": addons,
        "eur_product": eur_product,
        "pia": pia,
        "account": account,
        "alma": a_customer,
    }


def _plan(actor: Any, name: str = "North America", **extra: Any) -> DiscountPlan:
    return services.create_plan(
        actor=actor, now=T0, data={"name": name, "currency": "USD", **extra}
    )


def _discount(actor: Any, plan: DiscountPlan, group: DestinationGroup | None) -> PlanRule:
    return services.create_rule(
        actor=actor,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "discount",
            "service": "voice",
            "destination_group": group.pk if group else None,
            "measure": "units",
            "bands": US_BANDS,
        },
    )


def test_plan_with_discount_quota_and_wallet_rules(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin, destination_groups=[cat["na"].pk, cat["uk"].pk])
    assert plan.draft is True
    assert sorted(g.name for g in plan.destination_groups.all()) == ["UK", "US & Canada"]

    discount = _discount(admin, plan, cat["na"])
    assert [(b.threshold, b.percent) for b in discount.bands.all()] == [
        (Decimal("0.00000"), Decimal("0.00000")),
        (Decimal("24000.00000"), Decimal("10.00000")),
        (Decimal("66000.00000"), Decimal("20.00000")),
    ]
    quota = services.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "quota",
            "service": "voice",
            "destination_group": cat["na"].pk,
            "volume": "6000",
            "renewal_period": "monthly",
            "renewal_anchor_date": "2026-11-15",
            "rollovers": 2,
            "on_exhausted": "block",
        },
    )
    assert (quota.volume, quota.rollovers, quota.on_exhausted) == (Decimal("6000"), 2, "block")
    assert quota.renewal_anchor_date == dt.date(2026, 11, 15)
    data_quota = services.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "quota",
            "service": "data",
            "volume": "3000",
            "on_exhausted": "limit_speed",
            "speed_policy": "256kbps",
        },
    )
    assert (data_quota.destination_group_id, data_quota.speed_policy) == (None, "256kbps")
    wallet = services.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "wallet",
            "service": "voice",
            "destination_group": cat["uk"].pk,
            "initial_volume": "10",
            "expiry_days": 30,
            "topup_balance": True,
            "topup_card": "on",
        },
    )
    assert (wallet.measure, wallet.initial_volume, wallet.expiry_days) == (
        "money",
        Decimal("10"),
        30,
    )
    assert (wallet.topup_credit, wallet.topup_card, wallet.topup_balance) == (True, True, True)
    plan = services.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})
    assert plan.draft is False
    audit = AuditEntry.objects.filter(object_type__in=["discountplan", "planrule"])
    assert audit.count() == 6  # plan created, four rules, plan published


def test_bad_bands_refused_naming_the_field(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin, destination_groups=[cat["na"].pk])

    def rule(bands: Any) -> Any:
        return lambda: services.create_rule(
            actor=admin,
            now=T0,
            plan_id=plan.pk,
            data={"kind": "discount", "service": "voice", "bands": bands},
        )

    overlap = [{"threshold": "0", "percent": "0"}, {"threshold": "0", "percent": "30"}]
    _refused("bands.1.threshold", rule(overlap), "overlap")
    decreasing = [
        {"threshold": "0", "percent": "0"},
        {"threshold": "100", "percent": "30"},
        {"threshold": "50", "percent": "50"},
    ]
    _refused("bands.2.threshold", rule(decreasing), "overlap")
    _refused("bands.0.percent", rule([{"threshold": "0", "percent": "-5"}]), "out_of_range")
    error = _refused("bands.0.percent", rule([{"threshold": "0", "percent": "100.00001"}]))
    assert "from 0 to 100" in error.message
    _refused("bands.0.threshold", rule([{"threshold": "-1", "percent": "5"}]))
    _refused("bands", rule([]), "required")
    _refused("bands.0.extra", rule([{"threshold": "0", "percent": "5", "extra": 1}]), "unknown")
    # A discount on a group outside the plan's set, a quota given bands.
    _refused(
        "destination_group",
        lambda: services.create_rule(
            actor=admin,
            now=T0,
            plan_id=plan.pk,
            data={
                "kind": "discount",
                "service": "voice",
                "destination_group": cat["uk"].pk,
                "bands": US_BANDS,
            },
        ),
        "not_in_set",
    )
    _refused(
        "bands",
        lambda: services.create_rule(
            actor=admin,
            now=T0,
            plan_id=plan.pk,
            data={"kind": "quota", "service": "voice", "bands": US_BANDS},
        ),
        "not_for_kind",
    )
    # An existing rule's bands: the same checks; the old bands stay.
    existing = _discount(admin, plan, cat["na"])
    _refused(
        "bands.1.percent",
        lambda: services.set_bands(
            actor=admin,
            now=T0,
            plan_id=plan.pk,
            rule_id=existing.pk,
            bands=[{"threshold": "0", "percent": "10"}, {"threshold": "60", "percent": "101"}],
        ),
    )
    assert [b.percent for b in PlanBand.objects.filter(rule=existing)] == [
        Decimal("0"),
        Decimal("10"),
        Decimal("20"),
    ]
    _refused(
        "destination_group",
        lambda: _discount(admin, plan, cat["na"]),
        "duplicate",
    )


def test_bad_quota_and_wallet_refused(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin)

    def rule(**data: Any) -> Any:
        return lambda: services.create_rule(actor=admin, now=T0, plan_id=plan.pk, data=data)

    _refused("rollovers", rule(kind="quota", service="voice", volume="60", rollovers=4))
    _refused("volume", rule(kind="quota", service="voice", volume="-60"))
    _refused(
        "on_exhausted",
        rule(kind="quota", service="voice", volume="60", on_exhausted="limit_speed"),
        "not_data",
    )
    _refused(
        "speed_policy",
        rule(kind="quota", service="data", volume="60", on_exhausted="limit_speed"),
        "required",
    )
    _refused("kind", rule(kind="bonus", service="voice"), "invalid_choice")
    _refused("service", rule(kind="quota", service="fax"), "not_found")
    _refused("initial_volume", rule(kind="wallet", service="voice", initial_volume="-1"))
    _refused(
        "expiry_date",
        rule(kind="wallet", service="voice", expiry_days=10, expiry_date="2027-01-01"),
    )
    _refused("volume", rule(kind="wallet", service="voice", volume="5"), "not_for_kind")
    quota = services.create_rule(
        actor=admin, now=T0, plan_id=plan.pk, data={"kind": "quota", "service": "voice"}
    )
    assert quota.volume is None  # unlimited
    _refused(
        "measure",
        lambda: services.update_rule(
            actor=admin, now=T0, plan_id=plan.pk, rule_id=quota.pk, changes={"measure": "money"}
        ),
        "read_only",
    )


def test_plan_fields_refused(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin, destination_groups=[cat["na"].pk])
    _refused(
        "currency",
        lambda: services.update_plan(
            actor=admin, now=T0, plan_id=plan.pk, changes={"currency": "EUR"}
        ),
        "read_only",
    )
    _refused(
        "draft",
        lambda: services.update_plan(
            actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False}
        ),
        "no_rules",
    )
    _refused("name", lambda: _plan(admin, "NORTH america"), "duplicate")
    _refused("currency", lambda: _plan(admin, "X", currency="XXX"))
    _refused(
        "destination_groups",
        lambda: _plan(admin, "Y", destination_groups=[999_999]),
        "not_found",
    )
    _discount(admin, plan, cat["na"])
    _refused(
        "destination_groups",
        lambda: services.update_plan(
            actor=admin, now=T0, plan_id=plan.pk, changes={"destination_groups": [cat["uk"].pk]}
        ),
        "in_use",
    )
    # Names are unique per owner: a reseller may have a plan of the same name.
    same = _plan(cat["ua"], "North America")
    assert same.managed_by_id == cat["ra"].pk


def test_draft_and_currency_of_assignment(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin, destination_groups=[cat["na"].pk])
    product = cat["main"]

    def assign(target: Any, plan_id: Any = None) -> Any:
        return lambda: services.assign_to_product(
            actor=admin, now=T0, product_id=target.pk, data={"plan": plan_id or plan.pk}
        )

    _refused("plan", assign(product), "draft")
    _discount(admin, plan, cat["na"])
    services.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})
    error = _refused("plan", assign(cat["eur_product"]), "currency_mismatch")
    assert error.message == ("plan: discount plan 'North America' is in USD, the product in EUR")
    _refused("plan", assign(product, 999_999), "not_found")
    assignment = assign(product)()
    assert (assignment.product_id, assignment.valid_from, assignment.valid_to) == (
        product.pk,
        T0,
        None,
    )
    _refused("plan", assign(product), "duplicate")
    _refused(
        "valid_to",
        lambda: services.assign_to_customer(
            actor=admin,
            now=T0,
            customer_id=cat["pia"].pk,
            data={"plan": plan.pk, "valid_from": "2026-12-01", "valid_to": "2026-11-30"},
        ),
    )
    # Assigned: no way back to draft, no deletion, rules stay.
    _refused(
        "draft",
        lambda: services.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": True}),
        "in_use",
    )
    _refused("id", lambda: services.delete_plan(actor=admin, now=T0, plan_id=plan.pk), "in_use")
    rule = plan.rules.get()
    _refused(
        "id",
        lambda: services.delete_rule(actor=admin, now=T0, plan_id=plan.pk, rule_id=rule.pk),
        "in_use",
    )


def test_precedence_account_addons_main_customer(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plans = {}
    for name in ("Main", "Low", "High", "Own", "Customer"):
        plan = _plan(admin, name, destination_groups=[cat["na"].pk])
        _discount(admin, plan, cat["na"])
        plans[name] = services.update_plan(
            actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False}
        )
    low, high = cat["addons"]
    services.assign_to_customer(
        actor=admin, now=T0, customer_id=cat["pia"].pk, data={"plan": plans["Customer"].pk}
    )
    services.assign_to_product(
        actor=admin, now=T0, product_id=cat["main"].pk, data={"plan": plans["Main"].pk}
    )
    services.assign_to_product(
        actor=admin, now=T0, product_id=low.pk, data={"plan": plans["Low"].pk}
    )
    services.assign_to_product(
        actor=admin, now=T0, product_id=high.pk, data={"plan": plans["High"].pk}
    )
    own = services.assign_to_account(
        actor=admin,
        now=T0,
        account_id=cat["account"].pk,
        data={"plan": plans["Own"].pk, "valid_from": "2026-11-10T00:00:00Z"},
    )
    at = T0 + dt.timedelta(days=15)
    applied = selectors.account_plans(actor=admin, account_id=cat["account"].pk, at=at)
    assert [(a.plan.name, a.source, a.precedence) for a in applied] == [
        ("Own", "account", 0),
        ("High", "addon", 5),
        ("Low", "addon", 1),
        ("Main", "main", 0),
        ("Customer", "customer", 0),
    ]
    # Before the account's plan starts, it is not in force.
    early = selectors.account_plans(actor=admin, account_id=cat["account"].pk, at=T0)
    assert [a.plan.name for a in early] == ["High", "Low", "Main", "Customer"]
    # Unassigning ends it at now; one that has not started is removed.
    ended = services.unassign(actor=admin, now=at, assignment_id=own.pk)
    assert ended is not None and ended.valid_to == at
    later = selectors.account_plans(actor=admin, account_id=cat["account"].pk, at=at)
    assert [a.plan.name for a in later] == ["High", "Low", "Main", "Customer"]
    future = services.assign_to_account(
        actor=admin,
        now=at,
        account_id=cat["account"].pk,
        data={"plan": plans["Own"].pk, "valid_from": "2027-01-01"},
    )
    assert services.unassign(actor=admin, now=at, assignment_id=future.pk) is None
    assert not PlanAssignment.objects.filter(pk=future.pk).exists()
    _refused("id", lambda: services.unassign(actor=admin, now=at, assignment_id=own.pk), "ended")


def test_clone_and_delete(cat: dict[str, Any]) -> None:
    admin = cat["admin"]
    plan = _plan(admin, destination_groups=[cat["na"].pk, cat["uk"].pk])
    _discount(admin, plan, cat["na"])
    services.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={"kind": "quota", "service": "voice", "volume": "6000", "rollovers": 1},
    )
    services.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})
    copy = services.clone_plan(actor=admin, now=T0, plan_id=plan.pk)
    assert (copy.name, copy.currency_id, copy.draft) == ("North America (copy)", "USD", True)
    assert sorted(g.name for g in copy.destination_groups.all()) == ["UK", "US & Canada"]
    rules = list(copy.rules.order_by("id"))
    assert [(r.kind, r.volume, r.rollovers) for r in rules] == [
        ("discount", None, 0),
        ("quota", Decimal("6000"), 1),
    ]
    assert [(b.threshold, b.percent) for b in rules[0].bands.all()] == [
        (Decimal("0"), Decimal("0")),
        (Decimal("24000"), Decimal("10")),
        (Decimal("66000"), Decimal("20")),
    ]
    _refused(
        "name",
        lambda: services.clone_plan(
            actor=admin, now=T0, plan_id=plan.pk, data={"name": "north AMERICA (Copy)"}
        ),
        "duplicate",
    )
    services.delete_plan(actor=admin, now=T0, plan_id=copy.pk)
    assert not DiscountPlan.objects.filter(pk=copy.pk).exists()
    assert not PlanRule.objects.filter(plan_id=copy.pk).exists()
    deleted = AuditEntry.objects.get(operation="delete", object_type="discountplan")
    assert deleted.object_id == str(copy.pk)


def test_reseller_isolation(cat: dict[str, Any]) -> None:
    admin, ua, ub = cat["admin"], cat["ua"], cat["ub"]
    admin_plan = _plan(admin, "Admin plan")
    _discount(admin, admin_plan, None)
    services.update_plan(actor=admin, now=T0, plan_id=admin_plan.pk, changes={"draft": False})
    a_plan = _plan(ua, "A plan")
    _discount(ua, a_plan, None)
    services.update_plan(actor=ua, now=T0, plan_id=a_plan.pk, changes={"draft": False})
    assert a_plan.managed_by_id == cat["ra"].pk
    assert [p.name for p in selectors.list_plans(actor=ua)] == ["A plan"]
    assert [p.name for p in selectors.list_plans(actor=ub)] == []
    assert [p.name for p in selectors.list_plans(actor=admin)] == ["A plan", "Admin plan"]
    with pytest.raises(NotFound):
        selectors.get_plan(actor=ua, plan_id=admin_plan.pk)
    with pytest.raises(NotFound):
        selectors.get_plan(actor=ub, plan_id=a_plan.pk)
    before = _state()
    with pytest.raises(NotFound):
        services.update_plan(actor=ub, now=T0, plan_id=a_plan.pk, changes={"name": "Mine"})
    with pytest.raises(NotFound):
        services.delete_plan(actor=ub, now=T0, plan_id=a_plan.pk)
    with pytest.raises(NotFound):
        services.assign_to_customer(
            actor=ub, now=T0, customer_id=cat["alma"].pk, data={"plan": a_plan.pk}
        )
    assert _state() == before
    # Another owner's plan: the admin's plan on reseller A's customer, A's plan on the admin's.
    _refused(
        "plan",
        lambda: services.assign_to_customer(
            actor=admin, now=T0, customer_id=cat["alma"].pk, data={"plan": admin_plan.pk}
        ),
        "other_owner",
    )
    _refused(
        "plan",
        lambda: services.assign_to_customer(
            actor=admin, now=T0, customer_id=cat["pia"].pk, data={"plan": a_plan.pk}
        ),
        "other_owner",
    )
    _refused(
        "managed_by",
        lambda: _plan(ua, "Sneaky", managed_by=cat["rb"].pk),
        "not_found",
    )
    mine = services.assign_to_customer(
        actor=ua, now=T0, customer_id=cat["alma"].pk, data={"plan": a_plan.pk}
    )
    with pytest.raises(NotFound):
        selectors.get_assignment(actor=ub, assignment_id=mine.pk)
    with pytest.raises(NotFound):
        services.unassign(actor=ub, now=T0, assignment_id=mine.pk)
    assert PlanAssignment.objects.get(pk=mine.pk).valid_to is None
