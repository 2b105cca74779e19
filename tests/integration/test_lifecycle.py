"""Customer statuses (CU-14 … CU-18) and the status history, on both databases."""

import datetime as dt

import pytest

from billcore.classes.models import CustomerClass
from billcore.customers import lifecycle
from billcore.customers.models import Customer, StatusChange
from billcore.customers.services import update_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer


@pytest.fixture
def customer(admin, now):
    return create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Life",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )


def _fails(code, fn, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        fn(**kwargs)
    assert info.value.code == code, info.value.message


def test_block_and_unblock(admin, now, customer):
    """CU-14."""
    c = lifecycle.set_blocked(actor=admin, now=now, customer_id=customer.pk, blocked=True)
    assert (c.blocked, lifecycle.display_status(c)) == (True, "Blocked")
    lifecycle.set_blocked(actor=admin, now=now, customer_id=customer.pk, blocked=False)
    history = lifecycle.status_history(actor=admin, customer_id=customer.pk)
    assert [(h.from_status, h.to_status, h.blocked, h.reason) for h in history] == [
        ("open", "open", False, "unblocked"),
        ("open", "open", True, "blocked"),
    ]


def test_overdue_suspension_cannot_be_lifted_by_hand(admin, now, customer):
    """CU-15."""
    lifecycle.suspend(actor=admin, now=now, customer_id=customer.pk, reason="overdue")
    _fails("overdue_suspension", lifecycle.unsuspend, actor=admin, now=now, customer_id=customer.pk)
    until = now + dt.timedelta(days=3)
    c = lifecycle.lift_suspension_until(actor=admin, now=now, customer_id=customer.pk, until=until)
    assert (c.status, c.suspension_delay_until) == ("open", until)
    _fails(
        "invalid",
        lifecycle.lift_suspension_until,
        actor=admin,
        now=now,
        customer_id=customer.pk,
        until=now - dt.timedelta(days=1),
    )


def test_manual_suspension(admin, now, customer):
    c = lifecycle.suspend(actor=admin, now=now, customer_id=customer.pk)
    assert (c.status, c.suspension_reason, lifecycle.BILL_STATUS[c.status]) == (
        "suspended",
        "manual",
        "S",
    )
    _fails("not_open", lifecycle.suspend, actor=admin, now=now, customer_id=customer.pk)
    c = lifecycle.unsuspend(actor=admin, now=now, customer_id=customer.pk)
    assert (c.status, c.suspension_reason) == ("open", "")


def test_provisional_termination_and_reactivation(admin, now, customer):
    """CU-16, CC-20: permanent N days later (default 30), reactivation before that."""
    c = lifecycle.terminate(actor=admin, now=now, customer_id=customer.pk)
    assert (c.status, c.terminate_on, c.provisionally_terminated_at) == (
        "provisionally_terminated",
        now + dt.timedelta(days=30),
        now,
    )
    assert lifecycle.display_status(c) == ("Provisionally terminated (permanent on 2026-12-01)")
    _fails(
        "invalid",
        lifecycle.terminate,
        actor=admin,
        now=now,
        customer_id=customer.pk,
        terminate_on=now + dt.timedelta(days=31),
    )
    late = now + dt.timedelta(days=30)
    _fails("too_late", lifecycle.reactivate, actor=admin, now=late, customer_id=customer.pk)
    c = lifecycle.reactivate(actor=admin, now=now + dt.timedelta(days=29), customer_id=customer.pk)
    assert (c.status, c.terminate_on) == ("open", None)


def test_permanent_termination_ends_everything(admin, now, customer):
    """CU-17."""
    c = lifecycle.terminate(actor=admin, now=now, customer_id=customer.pk, permanent=True)
    assert (c.status, c.closed_at, lifecycle.BILL_STATUS[c.status]) == ("closed", now, "C")
    for fn, kwargs in (
        (lifecycle.set_blocked, {"blocked": True}),
        (lifecycle.reactivate, {}),
        (lifecycle.set_exported, {"exported": True}),
    ):
        _fails("closed", fn, actor=admin, now=now, customer_id=customer.pk, **kwargs)
    _fails(
        "closed",
        update_customer,
        actor=admin,
        now=now,
        customer_id=customer.pk,
        changes={"note": "x"},
    )
    with pytest.raises(ValidationFailed):
        record_transaction(
            actor=admin, now=now, customer_id=customer.pk, action="Manual payment", amount="1"
        )


def test_exported(admin, now, customer):
    """CU-18."""
    c = lifecycle.set_exported(actor=admin, now=now, customer_id=customer.pk, exported=True)
    assert (c.status, lifecycle.BILL_STATUS[c.status]) == ("exported", "E")
    c = lifecycle.set_exported(actor=admin, now=now, customer_id=customer.pk, exported=False)
    assert c.status == "open"
    assert StatusChange.objects.filter(customer=customer).count() == 2


def test_resellers_only_change_their_own(world, now):
    c = create_customer(
        actor=world["ub"],
        now=now,
        data={
            "name": "B one",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    )
    with pytest.raises(NotFound):
        lifecycle.set_blocked(actor=world["ua"], now=now, customer_id=c.pk, blocked=True)
    assert Customer.objects.get(pk=c.pk).blocked is False
    assert StatusChange.objects.count() == 0


def test_blocking_through_update_is_in_the_history(admin, now, customer):
    update_customer(actor=admin, now=now, customer_id=customer.pk, changes={"blocked": True})
    update_customer(actor=admin, now=now, customer_id=customer.pk, changes={"note": "x"})
    history = lifecycle.status_history(actor=admin, customer_id=customer.pk)
    assert [(h.to_status, h.blocked, h.reason, h.actor_name) for h in history] == [
        ("open", True, "blocked", "admin")
    ]
