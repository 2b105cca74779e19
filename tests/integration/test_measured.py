"""Measured services over a month (issue 14; CC-22, CU-13; rating-and-tabs.md §3.4, §7.5):
class defaults and customer overrides, the sampler (missed slots stay missing), the charge at
period close as its own invoice line on both close paths, bad input naming the field,
reseller isolation, and the data migration of the class's old fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.charging.models import Reservation, ReservationStatus
from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.engine import EngineReport, close_step
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.models import Invoice, InvoiceLine
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Action, Transaction
from billcore.measured import selectors
from billcore.measured.models import MeasuredCharge, MeasuredSample, MeasuredService
from billcore.measured.sampler import Sampler, slot_of, take_samples
from billcore.measured.services import (
    delete_customer_service,
    set_class_service,
    set_customer_service,
)
from billcore.subscribers.services import create_account, terminate_account

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)


def _customer(admin: Any, cls: Any, name: str) -> Customer:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


@pytest.fixture
def sip(admin: Any) -> Any:
    cls = create_class(actor=admin, now=T0, data={"name": "SIP", "currency": "USD"})
    set_class_service(
        actor=admin,
        now=T0,
        class_id=cls.pk,
        metric="concurrent_calls",
        data={
            "charge_basis": "maximum",
            "price": "5.00",
            "free_items": "10",
            "rate_code": "SIPT",
            "service": "voice",
            "configured_limit": 10,
        },
    )
    set_class_service(
        actor=admin,
        now=T0,
        class_id=cls.pk,
        metric="active_calls",
        data={"apply_charge": False, "charge_basis": "average"},
    )
    return cls


def _close(now: dt.datetime, ids: list[int], *, fast: bool) -> None:
    report = EngineReport(now=now)
    close_step(now=now, report=report, customer_ids=ids, fast=fast)
    assert report.errors == []


@pytest.mark.parametrize("fast", [False, True], ids=["orm", "fast"])
def test_a_month_of_measured_services_is_invoiced_exactly(admin: Any, sip: Any, fast: bool) -> None:
    """§3.4's example: the concurrent-calls limit sampled daily, maximum 12 over the month, 10
    free, 5.00 each -> (12 - 10) x 5.00 = 10.00 at period close, its own invoice line. One
    customer overrides with the average of its samples instead (10, 10, then 12)."""
    a = _customer(admin, sip, "Trunk A")
    b = _customer(admin, sip, "Trunk B")
    set_customer_service(
        actor=admin,
        now=T0,
        customer_id=b.pk,
        metric="concurrent_calls",
        data={"charge_basis": "average"},
    )
    # A's limit goes up to 12 on the 21st (its own override, the rest inherited).
    sampler = Sampler()
    day = T0 + dt.timedelta(hours=10)
    calls = Reservation.objects.create(
        customer=a,
        service="voice",
        amount=Decimal("1.00"),
        expires_at=T0 + dt.timedelta(days=40),
        created_at=T0,
    )
    while day < FEB1:
        if day.day == 21:
            set_customer_service(
                actor=admin,
                now=day,
                customer_id=a.pk,
                metric="concurrent_calls",
                data={"configured_limit": 12},
            )
        if day.day == 3:
            set_customer_service(
                actor=admin,
                now=day,
                customer_id=b.pk,
                metric="concurrent_calls",
                data={"configured_limit": 12},
            )
        if day.day == 15:  # the server was down on the 15th: no sample that day
            day += dt.timedelta(days=1)
            continue
        sampler.tick(now=day)
        day += dt.timedelta(days=1)
    calls.status = ReservationStatus.COMMITTED
    calls.save()
    # A: 30 daily samples (the 15th missed), 10 until the 20th, 12 from the 21st.
    a_samples = MeasuredSample.objects.filter(customer=a, metric="concurrent_calls")
    assert a_samples.count() == 30
    assert sorted({s.value for s in a_samples}) == [10, 12]
    assert not a_samples.filter(taken_at=T0 + dt.timedelta(days=14)).exists()
    b_values = list(
        MeasuredSample.objects.filter(customer=b, metric="concurrent_calls").values_list(
            "value", flat=True
        )
    )
    assert b_values == [10, 10] + [12] * 28
    # Active calls were read too (statistics only: never charged): 1 open call of A.
    assert set(
        MeasuredSample.objects.filter(customer=a, metric="active_calls").values_list(
            "value", flat=True
        )
    ) == {1}

    _close(FEB1, [a.pk, b.pk], fast=fast)

    inv_a = Invoice.objects.get(customer=a)
    lines = list(InvoiceLine.objects.filter(invoice=inv_a).order_by("position"))
    assert [
        (x.kind, x.description, x.service, x.unit, x.quantity, x.count, x.amount) for x in lines
    ] == [
        (
            "fee",
            "Measured service: concurrent calls",
            "voice",
            "concurrent_calls",
            Decimal("2.00000"),
            1,
            Decimal("10.00000"),
        )
    ]
    assert inv_a.total == Decimal("10.00000")
    a.refresh_from_db()
    assert a.balance == Decimal("10.00000")
    row = Transaction.objects.get(customer=a, action=Action.MEASURED_SERVICE)
    assert row.amount == Decimal("10.00000") and row.invoice_id == inv_a.pk
    assert row.visible_comment == "Concurrent calls [SIPT]: 2 x 5"
    charge = MeasuredCharge.objects.get(customer=a)
    assert (
        charge.metric,
        charge.charge_basis,
        charge.samples,
        charge.statistic,
        charge.free_items,
        charge.quantity,
        charge.price,
        charge.amount,
        charge.rate_code,
        charge.period_start,
        charge.period_end,
        charge.transaction_id,
    ) == (
        "concurrent_calls",
        "maximum",
        30,
        Decimal("12.00000"),
        Decimal("10.00000"),
        Decimal("2.00000"),
        Decimal("5.00000"),
        Decimal("10.00000"),
        "SIPT",
        T0,
        FEB1,
        row.pk,
    )
    # B: the average of its 30 samples, 356 / 30 = 11.8666… (not rounded to whole items,
    # §7.5): (11.8666… - 10) x 5.00 = 9.3333… rounded once, up at the cent -> 9.34.
    inv_b = Invoice.objects.get(customer=b)
    line_b = InvoiceLine.objects.get(invoice=inv_b, unit="concurrent_calls")
    assert (line_b.quantity, line_b.amount) == (Decimal("1.86667"), Decimal("9.34000"))
    assert inv_b.total == Decimal("9.34000")
    assert MeasuredCharge.objects.get(customer=b).statistic == Decimal("11.86667")
    # Closing again changes nothing (the period is closed).
    _close(FEB1, [a.pk, b.pk], fast=fast)
    assert MeasuredCharge.objects.count() == 2
    assert Transaction.objects.filter(action=Action.MEASURED_SERVICE).count() == 2


def test_statistics_only_and_no_samples_charge_nothing(admin: Any, sip: Any) -> None:
    c = _customer(admin, sip, "Quiet")
    set_customer_service(
        actor=admin,
        now=T0,
        customer_id=c.pk,
        metric="concurrent_calls",
        data={"apply_charge": False, "configured_limit": 30},
    )
    take_samples(now=T0 + dt.timedelta(days=2))
    assert MeasuredSample.objects.get(customer=c, metric="concurrent_calls").value == 30
    d = _customer(admin, sip, "Unsampled")  # measured, but no sample was ever taken
    MeasuredSample.objects.filter(customer=d).delete()
    _close(FEB1, [c.pk, d.pk], fast=True)
    assert not Transaction.objects.filter(action=Action.MEASURED_SERVICE).exists()
    assert not MeasuredCharge.objects.exists()


def test_the_sampler_reads_each_slot_once_and_never_fills_missed_ones(admin: Any, sip: Any) -> None:
    set_class_service(
        actor=admin,
        now=T0,
        class_id=sip.pk,
        metric="pbx_extensions",
        data={"apply_charge": False},
    )
    c = _customer(admin, sip, "PBX")
    for i in range(3):
        create_account(
            actor=admin,
            now=T0,
            customer_id=c.pk,
            data={"identifier": f"10{i}", "extension": f"20{i}"},
        )
    # An account without an extension is no PBX extension.
    create_account(actor=admin, now=T0, customer_id=c.pk, data={"identifier": "199"})
    at = T0 + dt.timedelta(days=1, hours=8, minutes=7)
    first = take_samples(now=at)
    assert first.taken == {"active_calls": 1, "concurrent_calls": 1, "pbx_extensions": 1}
    assert first.slots["active_calls"] == T0 + dt.timedelta(days=1, hours=8, minutes=5)
    assert first.slots["pbx_extensions"] == T0 + dt.timedelta(days=1)
    again = take_samples(now=at + dt.timedelta(minutes=2))  # same slots: nothing new
    assert again.total == 0
    sampler = Sampler()
    later = at + dt.timedelta(hours=3)
    terminate_account(
        actor=admin,
        now=later - dt.timedelta(hours=1),
        account_id=c.accounts.get(identifier="100").pk,
    )
    run = sampler.tick(now=later)
    assert run.taken == {"active_calls": 1, "concurrent_calls": 0, "pbx_extensions": 0}
    # The 5-minute slots between 08:05 and 11:05 nobody read stay missing.
    assert MeasuredSample.objects.filter(customer=c, metric="active_calls").count() == 2
    run = sampler.tick(now=T0 + dt.timedelta(days=2, minutes=1))
    assert run.taken["pbx_extensions"] == 1
    assert (
        MeasuredSample.objects.get(
            customer=c, metric="pbx_extensions", taken_at=T0 + dt.timedelta(days=2)
        ).value
        == 2
    )
    assert slot_of("active_calls", later) == dt.datetime(2027, 1, 2, 11, 5, tzinfo=dt.UTC)


def test_resellers_are_not_measured_for_concurrent_calls(world: Any) -> None:
    admin = world["admin"]
    set_class_service(
        actor=admin,
        now=T0,
        class_id=world["classes"]["usd"].pk,
        metric="concurrent_calls",
        data={"configured_limit": 5},
    )
    run = take_samples(now=T0 + dt.timedelta(days=1), metrics=["concurrent_calls"])
    assert run.taken == {"concurrent_calls": 0}


def test_an_override_is_shown_as_inherited_until_set_and_after_it_is_dropped(
    admin: Any, sip: Any
) -> None:
    c = _customer(admin, sip, "Inherit")
    rows = {e.metric: e for e in selectors.customer_services(actor=admin, customer_id=c.pk)}
    assert rows["concurrent_calls"].inherited and rows["concurrent_calls"].definition is not None
    assert rows["pbx_extensions"].definition is None
    own = set_customer_service(
        actor=admin, now=T0, customer_id=c.pk, metric="concurrent_calls", data={"price": "7"}
    )
    # The override starts from the class's definition: only the price differs.
    assert (own.price, own.free_items, own.rate_code, own.configured_limit) == (
        Decimal("7.00000"),
        Decimal("10.00000"),
        "SIPT",
        10,
    )
    rows = {e.metric: e for e in selectors.customer_services(actor=admin, customer_id=c.pk)}
    assert not rows["concurrent_calls"].inherited
    assert AuditEntry.objects.filter(object_type="measuredservice", operation="create").count() == 3
    delete_customer_service(actor=admin, now=T0, customer_id=c.pk, metric="concurrent_calls")
    rows = {e.metric: e for e in selectors.customer_services(actor=admin, customer_id=c.pk)}
    assert rows["concurrent_calls"].inherited
    assert AuditEntry.objects.filter(object_type="measuredservice", operation="delete").count() == 1


@pytest.mark.parametrize(
    ("metric", "data", "field"),
    [
        ("sessions", {"price": "1"}, "metric"),
        ("concurrent_calls", {"price": "-1"}, "price"),
        ("concurrent_calls", {"price": "abc"}, "price"),
        ("concurrent_calls", {"price": None}, "price"),
        ("concurrent_calls", {"free_items": "-0.5"}, "free_items"),
        ("concurrent_calls", {"charge_basis": "median"}, "charge_basis"),
        ("concurrent_calls", {"apply_charge": "perhaps"}, "apply_charge"),
        ("concurrent_calls", {"service": "nonexistent"}, "service"),
        ("concurrent_calls", {"rate_code": "a\nb"}, "rate_code"),
        ("concurrent_calls", {"configured_limit": -1}, "configured_limit"),
        ("active_calls", {"configured_limit": 4}, "configured_limit"),
        ("concurrent_calls", {"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    admin: Any, sip: Any, metric: str, data: dict[str, Any], field: str
) -> None:
    c = _customer(admin, sip, "Bad")
    before = list(MeasuredService.objects.order_by("id").values())
    audits = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        set_customer_service(actor=admin, now=T0, customer_id=c.pk, metric=metric, data=data)
    assert exc.value.field == field
    with pytest.raises(ValidationFailed) as exc:
        set_class_service(actor=admin, now=T0, class_id=sip.pk, metric=metric, data=data)
    assert exc.value.field == field
    assert list(MeasuredService.objects.order_by("id").values()) == before
    assert AuditEntry.objects.count() == audits


def test_resellers_see_and_touch_only_their_own(world: Any) -> None:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    mine = create_customer(
        actor=ua,
        now=T0,
        data={
            "name": "A's",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    set_class_service(
        actor=ua, now=T0, class_id=world["classes"]["a"].pk, metric="pbx_extensions", data={}
    )
    set_customer_service(actor=ua, now=T0, customer_id=mine.pk, metric="active_calls", data={})
    before = list(MeasuredService.objects.order_by("id").values())
    for call in (
        lambda: set_class_service(
            actor=ub, now=T0, class_id=world["classes"]["a"].pk, metric="pbx_extensions", data={}
        ),
        lambda: set_class_service(
            actor=ua, now=T0, class_id=world["classes"]["usd"].pk, metric="pbx_extensions", data={}
        ),
        lambda: set_customer_service(
            actor=ub, now=T0, customer_id=mine.pk, metric="active_calls", data={"price": "9"}
        ),
        lambda: delete_customer_service(
            actor=ub, now=T0, customer_id=mine.pk, metric="active_calls"
        ),
        lambda: selectors.customer_services(actor=ub, customer_id=mine.pk),
        lambda: selectors.customer_samples(actor=ub, customer_id=mine.pk),
        lambda: selectors.class_services(actor=ub, class_id=world["classes"]["a"].pk),
    ):
        with pytest.raises(NotFound):
            call()
    assert list(MeasuredService.objects.order_by("id").values()) == before
    assert len(selectors.customer_services(actor=admin, customer_id=mine.pk)) == 3


def test_concurrent_calls_read_the_service_configurations_limit_first(admin: Any, sip: Any) -> None:
    """§3.4 + §3.3: the concurrent-calls reading is the customer's simultaneous-call limit of
    its Service Configuration when it has one, else the measured definition's own figure."""
    from billcore.features.services import set_customer_features

    c = _customer(admin, sip, "Limits")
    day1 = T0 + dt.timedelta(days=1)
    take_samples(now=day1, metrics=["concurrent_calls"])
    set_customer_features(actor=admin, now=day1, customer_id=c.pk, values={"max_calls": 7})
    take_samples(now=day1 + dt.timedelta(days=1), metrics=["concurrent_calls"])
    set_customer_features(actor=admin, now=day1, customer_id=c.pk, values={"max_calls": None})
    take_samples(now=day1 + dt.timedelta(days=2), metrics=["concurrent_calls"])
    values = list(
        MeasuredSample.objects.filter(customer=c, metric="concurrent_calls")
        .order_by("taken_at")
        .values_list("value", flat=True)
    )
    assert values == [10, 7, 10]
