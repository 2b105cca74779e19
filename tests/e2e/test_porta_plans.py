"""Volume discount plans on ``/rest/`` (issue 13): ``DiscountPlan`` (and
``VolumeDiscountPlan``) list and info with their rules and bands, the counters of an account
and of a customer with exact values; another reseller's plan is a not-found fault; both
request styles, on SQLite and PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest

from billcore.ledger.customers import create_customer
from billcore.plans import services as plans
from billcore.plans.models import PlanCounter
from billcore.rating import services as rating
from billcore.subscribers.services import create_account
from tests.e2e.porta_support import T0, fault

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(world):
    admin = world["admin"]
    rating.create_destination(actor=admin, now=T0, data={"prefix": "1"})
    group = rating.create_destination_group(
        actor=admin, now=T0, data={"name": "US", "prefixes": ["1"]}
    )
    plan = plans.create_plan(
        actor=admin,
        now=T0,
        data={"name": "US minutes", "currency": "USD", "destination_groups": [group.pk]},
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "discount",
            "service": "voice",
            "destination_group": group.pk,
            "bands": [{"threshold": "0", "percent": "0"}, {"threshold": "24000", "percent": "10"}],
        },
    )
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={"kind": "quota", "service": "voice", "volume": "6000", "rollovers": 1},
    )
    return plans.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})


def test_discount_plan_list_and_info(porta, porta_a, plan, world):
    body = porta.ok("DiscountPlan", "get_discount_plan_list", {"get_total": 1})
    assert body["total"] == 1
    assert body["discount_plan_list"] == [
        {
            "i_vd_plan": plan.pk,
            "name": "US minutes",
            "iso_4217": "USD",
            "i_parent": None,
            "draft": "N",
            "description": "",
            "i_dest_group_list": [plan.destination_groups.get().pk],
            "creation_date": "2026-11-01 12:00:00",
        }
    ]
    info = porta.ok("DiscountPlan", "get_discount_plan_info", {"i_vd_plan": plan.pk})
    rules = info["discount_plan_info"]["discount_list"]
    assert [r["rule_type"] for r in rules] == ["discount", "quota"]
    assert rules[0]["threshold_list"] == [
        {"threshold": D("0.00000"), "discount": D("0.00000")},
        {"threshold": D("24000.00000"), "discount": D("10.00000")},
    ]
    assert (rules[1]["threshold"], rules[1]["rollovers"], rules[1]["unlimited"]) == (
        D("6000.00000"),
        1,
        "N",
    )
    same = porta.ok("VolumeDiscountPlan", "get_vd_plan_info", {"name": "US minutes"})
    assert same["discount_plan_info"] == info["discount_plan_info"]
    assert (
        porta.ok("DiscountPlan", "get_discount_plan_list", {"name": "us%"})["discount_plan_list"][
            0
        ]["i_vd_plan"]
        == plan.pk
    )
    assert porta_a.ok("DiscountPlan", "get_discount_plan_list")["discount_plan_list"] == []
    fault(
        porta_a.call("DiscountPlan", "get_discount_plan_info", {"i_vd_plan": plan.pk}),
        "Client.DiscountPlan.get_discount_plan_info.not_found_i_vd_plan",
    )
    fault(
        porta.call("DiscountPlan", "get_discount_plan_info", {}),
        "Client.DiscountPlan.get_discount_plan_info.required_i_vd_plan",
    )


def test_account_and_customer_counters(porta, porta_a, plan, world):
    admin = world["admin"]
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
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+1"})
    plans.assign_to_account(
        actor=admin, now=T0, account_id=account.pk, data={"plan": plan.pk, "valid_from": T0}
    )
    plans.assign_to_customer(
        actor=admin, now=T0, customer_id=pia.pk, data={"plan": plan.pk, "valid_from": T0}
    )
    quota = plan.rules.get(kind="quota")
    PlanCounter.objects.create(
        rule=quota,
        customer=pia,
        account=account,
        period_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        volume=D(6000),
        used=D(1500),
        updated_at=T0,
    )
    counters = porta.ok("Account", "get_vd_counter_list", {"i_account": account.pk})
    rows = counters["counter_list"]
    assert [(r["assigned_to"], r["rule_type"]) for r in rows] == [
        ("account", "discount"),
        ("account", "quota"),
        ("customer", "discount"),
        ("customer", "quota"),
    ]
    assert {k: rows[1][k] for k in ("used", "volume", "remaining", "expiration_date")} == {
        "used": D("1500.00000"),
        "volume": D("6000.00000"),
        "remaining": D("4500.00000"),
        "expiration_date": "2027-01-01 00:00:00",
    }
    assert (rows[0]["used"], rows[0]["discount"]) == (D("0"), D("0.00000"))
    own = porta.ok("Customer", "get_vd_counter_list", {"i_customer": pia.pk})["counter_list"]
    assert [(r["rule_type"], r["used"]) for r in own] == [("discount", D("0")), ("quota", D("0"))]
    assert own[1]["remaining"] == D("6000.00000")
    fault(
        porta_a.call("Account", "get_vd_counter_list", {"i_account": account.pk}),
        "Client.Account.get_vd_counter_list.not_found_i_account",
    )
