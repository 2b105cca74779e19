"""``billcore plans list|show|assign|unassign`` (issue 13), run in process: exact output, the
service's errors naming the field with exit code 2, nothing saved on an error."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from billcore.cli import main
from billcore.plans import services as plans
from billcore.plans.models import PlanAssignment
from billcore.rating import services as rating

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plans_list_show_assign_unassign(capsys: Any, world: Any) -> None:
    admin = world["admin"]
    usd = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    eur = rating.create_product(actor=admin, now=T0, data={"name": "Euro", "currency": "EUR"})
    plan = plans.create_plan(actor=admin, now=T0, data={"name": "Gold", "currency": "USD"})
    plans.create_rule(
        actor=admin,
        now=T0,
        plan_id=plan.pk,
        data={
            "kind": "discount",
            "service": "voice",
            "bands": [{"threshold": "0", "percent": "0"}, {"threshold": "1200", "percent": "30"}],
        },
    )
    plans.create_plan(actor=world["ua"], now=T0, data={"name": "A plan", "currency": "USD"})
    code, out, _ = run(capsys, "plans", "list")
    assert code == 0
    w = max(2, len(str(plan.pk + 1)))  # the ID column is as wide as its longest id
    assert out.splitlines() == [
        f"{'ID':<{w}}  NAME    CURRENCY  RULES  STATUS  MANAGED BY",
        f"{plan.pk + 1:<{w}}  A plan  USD       0      draft   Reseller A",
        f"{plan.pk:<{w}}  Gold    USD       1      draft   administrator",
    ]
    code, out, _ = run(capsys, "plans", "list", "--user", "ua", "--format", "json")
    assert [p["name"] for p in json.loads(out)] == ["A plan"]
    code, _, err = run(capsys, "plans", "assign", "Gold", "--product", str(usd.pk))
    assert (code, err) == (
        2,
        "error: plan: discount plan 'Gold' is a draft and cannot be assigned\n",
    )
    plans.update_plan(actor=admin, now=T0, plan_id=plan.pk, changes={"draft": False})
    code, _, err = run(capsys, "plans", "assign", "Gold", "--product", str(eur.pk))
    assert code == 2
    assert err == "error: plan: discount plan 'Gold' is in USD, the product in EUR\n"
    assert not PlanAssignment.objects.exists()
    code, out, _ = run(
        capsys, "plans", "assign", str(plan.pk), "--product", str(usd.pk), "--from", "2026-11-01"
    )
    assert code == 0
    done = json.loads(out)
    assert done == {
        "id": done["id"],
        "plan": plan.pk,
        "product": usd.pk,
        "valid_from": "2026-11-01T00:00:00+00:00",
        "valid_to": None,
    }
    code, out, _ = run(capsys, "plans", "show", "Gold", "--format", "json")
    shown = json.loads(out)
    assert shown["rules"] == [
        {
            "id": shown["rules"][0]["id"],
            "kind": "discount",
            "service": "voice",
            "destination_group": None,
            "peak_scope": "any",
            "measure": "units",
            "reset": "billing_period",
            "bands": [["0.00000", "0.00000"], ["1200.00000", "30.00000"]],
            "split_xdrs": False,
        }
    ]
    assert [a["id"] for a in shown["assignments"]] == [done["id"]]
    code, _, err = run(capsys, "plans", "show", "A plan", "--user", "ub")
    assert (code, err) == (2, "error: PLAN: no discount plan with the name 'A plan'\n")
    code, out, _ = run(capsys, "plans", "unassign", str(done["id"]))
    assert code == 0 and out.startswith(f"assignment {done['id']} ended at ")
    assert PlanAssignment.objects.get().valid_to is not None
