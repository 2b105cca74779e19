"""A usage record's ``external_id`` is unique per owner (issue 10 §2, CC-07): the installation
for the administrator's customers, each reseller for its own sub-customers. Reseller B may
send an id that reseller A used (both charged); a replay within one owner is still
idempotent, and the same id for another record of the same owner still a 409. On SQLite and
PostgreSQL, through the services, the batch path and HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from billcore.accounts.tokens import create_token
from billcore.charging.models import Reservation, Xdr
from billcore.charging.services import (
    ChargeRequest,
    charge,
    charge_many,
    commit_reservation,
    parse_usage,
    reserve,
)
from billcore.classes.models import CustomerClass
from billcore.errors import Conflict
from billcore.ledger.customers import create_customer

D = Decimal


def _customer(actor: Any, now: Any, name: str, cls: int) -> Any:
    return create_customer(
        actor=actor,
        now=now,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "10",
            "customer_class": cls,
        },
    )


@pytest.fixture
def subs(world: dict[str, Any], now: Any) -> dict[str, Any]:
    """Two sub-customers of reseller A, one of B, one customer of the administrator."""
    a = world["classes"]["a"].pk
    b = world["classes"]["b"].pk
    default = CustomerClass.objects.get(is_default=True).pk
    return {
        "a1": _customer(world["ua"], now, "A one", a),
        "a2": _customer(world["ua"], now, "A two", a),
        "b1": _customer(world["ub"], now, "B one", b),
        "own": _customer(world["admin"], now, "Own", default),
    }


def _usage(now: Any, amount: str, key: str) -> Any:
    return parse_usage(service="voice", amount=amount, external_id=key, now=now)


def test_resellers_a_and_b_and_the_installation_may_use_the_same_id(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    a = charge(actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "1", "k"))
    b = charge(actor=world["ub"], now=now, customer_id=subs["b1"].pk, usage=_usage(now, "2", "k"))
    own = charge(
        actor=world["admin"], now=now, customer_id=subs["own"].pk, usage=_usage(now, "3", "k")
    )
    assert [(r.allowed, r.replayed, r.available_funds) for r in (a, b, own)] == [
        (True, False, D("9.00000")),
        (True, False, D("8.00000")),
        (True, False, D("7.00000")),
    ]
    assert len({a.xdr_id, b.xdr_id, own.xdr_id}) == 3
    assert sorted(Xdr.objects.values_list("customer_id", "owner", "external_id", "amount")) == (
        sorted(
            [
                (subs["a1"].pk, world["ra"].pk, "k", D("1.00000")),
                (subs["b1"].pk, world["rb"].pk, "k", D("2.00000")),
                (subs["own"].pk, 0, "k", D("3.00000")),
            ]
        )
    )


def test_within_one_owner_a_replay_is_idempotent_and_another_record_a_conflict(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    first = charge(
        actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "1", "k")
    )
    # B's record with the same id does not disturb A's replay.
    charge(actor=world["ub"], now=now, customer_id=subs["b1"].pk, usage=_usage(now, "1", "k"))
    again = charge(
        actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "1", "k")
    )
    assert (again.replayed, again.xdr_id, again.available_funds) == (
        True,
        first.xdr_id,
        D("9.00000"),
    )
    with pytest.raises(Conflict) as other_amount:
        charge(actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "2", "k"))
    # Another sub-customer of the same reseller: the same owner, so the same id space.
    with pytest.raises(Conflict) as other_customer:
        charge(actor=world["ua"], now=now, customer_id=subs["a2"].pk, usage=_usage(now, "1", "k"))
    for refused in (other_amount.value, other_customer.value):
        assert (refused.status, refused.code, refused.field) == (
            409,
            "idempotency_key_reused",
            "external_id",
        )
    assert Xdr.objects.filter(owner=world["ra"].pk).count() == 1
    assert Xdr.objects.count() == 2


def test_a_batch_of_several_owners_keeps_the_ids_apart(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    """charge_many (the batch API and the CSV import): the administrator's batch spans owners."""
    earlier = charge(
        actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "1", "k")
    )
    results = charge_many(
        actor=world["admin"],
        requests=[
            ChargeRequest(usage=_usage(now, "1", "k"), now=now, customer_id=subs["a1"].pk),
            ChargeRequest(usage=_usage(now, "2", "k"), now=now, customer_id=subs["b1"].pk),
            ChargeRequest(usage=_usage(now, "3", "k"), now=now, customer_id=subs["own"].pk),
            ChargeRequest(usage=_usage(now, "2", "k"), now=now, customer_id=subs["b1"].pk),
            ChargeRequest(usage=_usage(now, "5", "k"), now=now, customer_id=subs["a2"].pk),
        ],
    )
    replay, b, own, b_again, conflict = results
    assert (replay.replayed, replay.xdr_id) == (True, earlier.xdr_id)  # type: ignore[union-attr]
    assert (b.replayed, b.available_funds) == (False, D("8.00000"))  # type: ignore[union-attr]
    assert (own.replayed, own.available_funds) == (False, D("7.00000"))  # type: ignore[union-attr]
    assert (b_again.replayed, b_again.xdr_id) == (True, b.xdr_id)  # type: ignore[union-attr]
    assert isinstance(conflict, Conflict)
    assert sorted(Xdr.objects.values_list("owner", "amount")) == sorted(
        [(world["ra"].pk, D("1.00000")), (world["rb"].pk, D("2.00000")), (0, D("3.00000"))]
    )


def test_a_committed_reservation_records_its_xdr_under_the_owner(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    charge(actor=world["ua"], now=now, customer_id=subs["a1"].pk, usage=_usage(now, "1", "k"))
    r = reserve(actor=world["ub"], now=now, customer_id=subs["b1"].pk, service="voice", amount="4")
    done = commit_reservation(
        actor=world["ub"], now=now, reservation_id=r.reservation_id, amount="3", external_id="k"
    )
    assert (done.status, done.available_funds) == ("committed", D("7.00000"))
    xdr = Xdr.objects.get(pk=Reservation.objects.get(pk=r.reservation_id).xdr_id)
    assert (xdr.owner, xdr.external_id, xdr.amount) == (world["rb"].pk, "k", D("3.00000"))


def test_over_http_reseller_b_gets_201_for_an_id_reseller_a_used(
    client: Any, world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    def post(user: Any, customer: Any, amount: str) -> Any:
        token = create_token(user=user, now=now)
        body = {"customer": customer.pk, "service": "voice", "amount": amount}
        return client.post(
            "/api/v1/xdrs",
            data=json.dumps({**body, "external_id": "call-42"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert post(world["ua"], subs["a1"], "1").status_code == 201
    r = post(world["ub"], subs["b1"], "2")
    assert (r.status_code, r.json()["allowed"], r.json()["replayed"]) == (201, True, False)
    assert r.json()["available_funds"] == "8.00000"
    replay = post(world["ub"], subs["b1"], "2")
    assert (replay.status_code, replay.json()["xdr_id"]) == (200, r.json()["xdr_id"])
    clash = post(world["ub"], subs["b1"], "3")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "idempotency_key_reused"


def test_the_migration_gives_every_existing_xdr_its_customers_owner(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "billcore.charging.migrations.0003_xdr_external_id_per_owner"
    )
    for key, sub in (("k1", "a1"), ("k2", "b1"), ("k3", "own")):
        charge(actor=world["admin"], now=now, customer_id=subs[sub].pk, usage=_usage(now, "1", key))
    Xdr.objects.update(owner=0)  # as the rows were before the migration

    migration.owners(apps, None)

    assert sorted(Xdr.objects.values_list("external_id", "owner")) == [
        ("k1", world["ra"].pk),
        ("k2", world["rb"].pk),
        ("k3", 0),
    ]


def test_a_reservation_id_is_unique_per_owner_too(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    """Reservations' ``external_id`` follows the xDRs' rule: B may hold "s-1" after A did;
    within A, the same request is a replay and another amount or sub-customer a 409."""

    def hold(user: str, sub: str, amount: str) -> Any:
        return reserve(
            actor=world[user],
            now=now,
            customer_id=subs[sub].pk,
            service="voice",
            amount=amount,
            external_id="s-1",
        )

    a = hold("ua", "a1", "4")
    b = hold("ub", "b1", "2")
    own = hold("admin", "own", "1")
    assert [(r.status, r.available_funds) for r in (a, b, own)] == [
        ("open", D("6.00000")),
        ("open", D("8.00000")),
        ("open", D("9.00000")),
    ]
    again = hold("ua", "a1", "4")
    assert (again.reservation_id, again.available_funds) == (a.reservation_id, D("6.00000"))
    for user, sub, amount in (("ua", "a1", "5"), ("ua", "a2", "4")):
        with pytest.raises(Conflict) as refused:
            hold(user, sub, amount)
        assert (refused.value.code, refused.value.field) == (
            "idempotency_key_reused",
            "external_id",
        )
    assert sorted(Reservation.objects.values_list("owner", "amount")) == sorted(
        [(world["ra"].pk, D("4.00000")), (world["rb"].pk, D("2.00000")), (0, D("1.00000"))]
    )


def test_the_migration_gives_every_existing_reservation_its_customers_owner(
    world: dict[str, Any], subs: dict[str, Any], now: Any
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "billcore.charging.migrations.0004_reservation_external_id_per_owner"
    )
    for key, sub in (("r1", "a1"), ("r2", "b1"), ("r3", "own")):
        reserve(
            actor=world["admin"],
            now=now,
            customer_id=subs[sub].pk,
            service="voice",
            amount="1",
            external_id=key,
        )
    Reservation.objects.update(owner=0)  # as the rows were before the migration

    migration.owners(apps, None)

    assert sorted(Reservation.objects.values_list("external_id", "owner")) == [
        ("r1", world["ra"].pk),
        ("r2", world["rb"].pk),
        ("r3", 0),
    ]
