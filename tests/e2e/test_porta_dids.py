"""The ``DID`` service of ``/rest/`` (issue 14): ``add_number``, ``get_number_list``,
``get_number_info``, ``assign_did_to_customer``, ``assign_did_to_account``,
``release_did_from_customer`` under PortaBilling's names; faults name the field and save
nothing; another reseller's numbers are not found. Both request styles."""

from decimal import Decimal

import pytest

from billcore.dids.models import Did, DidAssignment
from billcore.dids.services import create_pricing_batch
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.services import create_account
from tests.e2e.porta_support import T0, fault

D = Decimal
pytestmark = pytest.mark.django_db


def _customer(world, actor=None, cls="usd", name="Acme"):
    return create_customer(
        actor=actor or world["admin"],
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"][cls].pk,
        },
    )


def _add(porta, world, number="12065551234", **info):
    batch = create_pricing_batch(
        actor=world["admin"],
        now=T0,
        data={
            "name": f"Standard {number}",
            "currency": "USD",
            "additional_activation_fee": "3",
            "additional_recurring_fee": "1",
            "recurring_markup_percent": "10",
        },
    )
    info = {
        "number": number,
        "vendor_batch_name": "Vendor A",
        "activation_cost": "2.00",
        "periodic_cost": "5.00",
        "iso_4217": "USD",
        "country": "US",
        "area_name": "Seattle",
        "i_do_batch": batch.pk,
        **info,
    }
    return porta.ok("DID", "add_number", {"number_info": info})["i_did_number"]


def test_add_list_assign_move_release(porta, world):
    c = _customer(world)
    acc = create_account(actor=world["admin"], now=T0, customer_id=c.pk, data={"identifier": "a1"})
    did = _add(porta, world)
    info = porta.ok("DID", "get_number_info", {"number": "+12065551234"})["number_info"]
    assert {k: info[k] for k in ("i_did_number", "usage", "frozen", "periodic_cost")} == {
        "i_did_number": did,
        "usage": "F",
        "frozen": "N",
        "periodic_cost": D("5.00000"),
    }
    listed = porta.ok("DID", "get_number_list", {"number": "1206%", "get_total": 1})
    assert (listed["total"], [n["number"] for n in listed["number_list"]]) == (1, ["12065551234"])
    assert porta.ok("DID", "assign_did_to_customer", {"i_did_number": did, "i_customer": c.pk}) == {
        "i_did_number": did
    }
    porta.ok("DID", "assign_did_to_account", {"i_did_number": did, "i_account": acc.pk})
    info = porta.ok("DID", "get_number_info", {"i_did_number": did})["number_info"]
    assert (info["usage"], info["i_customer"], info["i_account"]) == ("I", c.pk, acc.pk)
    fees = Transaction.objects.filter(customer=c, action="subscription")
    assert [t.amount for t in fees] == [D("5.00000")]
    porta.ok("DID", "release_did_from_customer", {"i_did_number": did})
    info = porta.ok("DID", "get_number_info", {"i_did_number": did})["number_info"]
    assert (info["usage"], info["i_customer"]) == ("F", None)


def test_faults_name_the_field(porta, world):
    c = _customer(world)
    fault(
        porta.call("DID", "add_number", {"number_info": {"number": "12x", "iso_4217": "USD"}}),
        "Client.DID.add_number.invalid_number",
    )
    frozen = _add(porta, world, "15550001", frozen="Y")
    fault(
        porta.call("DID", "assign_did_to_customer", {"i_did_number": frozen, "i_customer": c.pk}),
        "Client.DID.assign_did_to_customer.frozen_i_did_number",
    )
    fault(
        porta.call("DID", "assign_did_to_customer", {"i_did_number": frozen}),
        "Client.DID.assign_did_to_customer.required_i_customer",
    )
    fault(
        porta.call("DID", "get_number_list", {"usage": "X"}),
        "Client.DID.get_number_list.invalid_usage",
    )
    assert DidAssignment.objects.count() == 0
    assert Did.objects.get(pk=frozen).status == "frozen"


def test_other_resellers_numbers_are_not_found(porta, porta_a, world):
    ca = _customer(world, world["ua"], "a", "A's customer")
    did = _add(porta, world)
    porta_a.ok("DID", "assign_did_to_customer", {"i_did_number": did, "i_customer": ca.pk})
    assert [n["i_did_number"] for n in porta_a.ok("DID", "get_number_list")["number_list"]] == [did]
    other = _customer(world, world["ub"], "b", "B's customer")
    b = porta_a.__class__(porta_a.client, porta_a.style)
    b.login("ub", "pw-b-12345678")
    assert b.ok("DID", "get_number_list")["number_list"] == []
    fault(
        b.call("DID", "get_number_info", {"i_did_number": did}),
        "Client.DID.get_number_info.not_found_i_did_number",
    )
    fault(
        b.call("DID", "release_did_from_customer", {"i_did_number": did}),
        "Client.DID.release_did_from_customer.not_found_i_did_number",
    )
    fault(
        b.call("DID", "assign_did_to_customer", {"i_did_number": did, "i_customer": other.pk}),
        "Client.DID.assign_did_to_customer.not_found_i_did_number",
    )
    assert Did.objects.get(pk=did).customer_id == ca.pk
