"""DIDs (issue 14; rating-and-tabs.md §3.1; CU-02, CU-13 DIDs tab, CU-16, CU-17): the
inventory, pricing batches, assignment and release, the activation fee at assignment, the
recurring fee through the engine with proration, the lifecycle rules, the CSV upload, and
reseller isolation. Exact values throughout; the arithmetic is written beside each amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from billcore import engine
from billcore.audit.models import AuditEntry
from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.dids import selectors, services
from billcore.dids.importer import import_csv
from billcore.dids.models import Did, DidAssignment, DidCharge, DidStatus, PricingBatch
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.closing import terminate
from billcore.invoicing.models import Invoice, InvoiceLine
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.services import create_account
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JAN1 = dt.datetime(2027, 1, 1, tzinfo=UTC)
JAN16 = dt.datetime(2027, 1, 16, tzinfo=UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=UTC)
FEB15 = dt.datetime(2027, 2, 15, tzinfo=UTC)
MAR1 = dt.datetime(2027, 3, 1, tzinfo=UTC)
APR1 = dt.datetime(2027, 4, 1, tzinfo=UTC)
US = dt.timedelta(microseconds=1)


def _customer(admin: Any, name: str = "Acme", **data: Any) -> Customer:
    cls = create_class(actor=admin, now=JAN1, data={"name": f"Class {name}", "currency": "USD"})
    return create_customer(
        actor=admin,
        now=JAN1,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            **data,
        },
    )


def _batch(admin: Any, **data: Any) -> PricingBatch:
    return services.create_pricing_batch(
        actor=admin,
        now=JAN1,
        data={
            "name": data.pop("name", "Standard"),
            "currency": "USD",
            "additional_activation_fee": "3.00",
            "additional_recurring_fee": "1.00",
            "recurring_markup_percent": "10",
            **data,
        },
    )


def _did(admin: Any, number: str = "12065551234", **data: Any) -> Did:
    """The reference's number: supplier $2.00 activation, $5.00 a month."""
    return services.create_did(
        actor=admin,
        now=JAN1,
        data={
            "number": number,
            "vendor_batch": "Vendor A",
            "activation_cost": "2.00",
            "periodic_cost": "5.00",
            "currency": "USD",
            "country": "US",
            "area": "Seattle",
            **data,
        },
    )


def _run(now: dt.datetime) -> None:
    report = engine.run(now=now, steps=["subscriptions", "close", "collections"])
    assert report.errors == []


def _did_fees(c: Customer) -> list[tuple[D, dt.datetime, str]]:
    return [
        (t.amount, t.created_at, t.visible_comment)
        for t in Transaction.objects.filter(customer=c, action="subscription").order_by(
            "created_at", "id"
        )
    ]


def _lines(inv: Invoice) -> list[tuple[str, D]]:
    return [(x.kind, x.amount) for x in InvoiceLine.objects.filter(invoice=inv).order_by("id")]


# ------------------------------------------------------------------------- assignment


def test_assign_charges_activation_once_and_recurring_prorated(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    a = services.assign(actor=admin, now=JAN16, did_id=did.pk, customer_id=c.pk)
    assert (a.activation_price, a.recurring_price) == (D("5.00000"), D("6.50000"))
    did.refresh_from_db()
    assert (did.status, did.customer_id, did.assigned_at) == (DidStatus.IN_USE, c.pk, JAN16)
    # the same number again: nothing charged twice
    again = services.assign(actor=admin, now=JAN16, did_id=did.pk, customer_id=c.pk)
    assert again.pk == a.pk
    assert _did_fees(c) == [(D("5.00000"), JAN16, "DID 12065551234 activation")]
    _run(FEB1)
    _run(FEB1)  # idempotent for the same now
    # January 16 .. February 1: 6.50 * 16/31 = 3.354838… -> 3.35484, posted Feb 1 - 1 µs
    assert _did_fees(c)[1:] == [
        (D("3.35484"), FEB1 - US, "DID 12065551234 2027-01-16 .. 2027-01-31")
    ]
    inv = Invoice.objects.get(customer=c)
    assert _lines(inv) == [("subscription", D("8.35484")), ("rounding", D("0.00516"))]
    assert inv.total == D("8.36000")
    c.refresh_from_db()
    assert c.balance == D("8.36000") == ledger_sum(customer_id=c.pk)


def test_release_charges_up_to_the_release_and_returns_the_number(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk)
    a = services.release(actor=admin, now=JAN16, did_id=did.pk)
    assert a is not None and a.ended and a.released_at == JAN16
    did.refresh_from_db()
    assert (did.status, did.customer_id, did.released_at) == (DidStatus.NOT_IN_USE, None, JAN16)
    # Jan 1..16: 6.50 * 15/31 = 3.145161… -> 3.14516, charged in the release itself
    assert [f[0] for f in _did_fees(c)] == [D("5.00000"), D("3.14516")]
    _run(FEB1)
    assert [f[0] for f in _did_fees(c)] == [D("5.00000"), D("3.14516")]
    with pytest.raises(ValidationFailed) as exc:
        services.release(actor=admin, now=JAN16, did_id=did.pk)
    assert exc.value.field == "did"


def test_free_batch_and_free_number_charge_nothing(admin: Any) -> None:
    c = _customer(admin)
    free = _batch(
        admin,
        name="Free",
        free_of_charge=True,
        additional_activation_fee="0",
        additional_recurring_fee="0",
        recurring_markup_percent="0",
    )
    d1 = _did(admin, "15550001", pricing_batch=free.pk)
    d2 = _did(admin, "15550002", pricing_batch=_batch(admin).pk, free_of_charge=True)
    for d in (d1, d2):
        a = services.assign(actor=admin, now=JAN1, did_id=d.pk, customer_id=c.pk)
        assert (a.activation_price, a.recurring_price) == (D(0), D(0))
    _run(FEB1)
    assert _did_fees(c) == []
    assert DidCharge.objects.filter(amount=0, transaction=None).count() == 2


def test_assign_to_an_account_and_move(admin: Any) -> None:
    c = _customer(admin)
    other = _customer(admin, "Other")
    acc = create_account(actor=admin, now=JAN1, customer_id=c.pk, data={"identifier": "acc-1"})
    foreign = create_account(
        actor=admin, now=JAN1, customer_id=other.pk, data={"identifier": "acc-2"}
    )
    did = _did(admin, pricing_batch=_batch(admin).pk)
    with pytest.raises(ValidationFailed) as exc:
        services.assign(
            actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk, account_id=foreign.pk
        )
    assert exc.value.field == "account"
    assert Did.objects.get(pk=did.pk).status == DidStatus.NOT_IN_USE
    assert not Transaction.objects.filter(customer=c).exclude(action="opening_balance").exists()
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk, account_id=acc.pk)
    assert Did.objects.get(pk=did.pk).account_id == acc.pk
    services.assign_to_account(actor=admin, now=JAN16, did_id=did.pk, account_id=None)
    assert Did.objects.get(pk=did.pk).account_id is None
    with pytest.raises(ValidationFailed):
        services.assign_to_account(actor=admin, now=JAN16, did_id=did.pk, account_id=foreign.pk)


def test_bad_assignments_refused_naming_the_field_nothing_saved(admin: Any) -> None:
    c = _customer(admin)
    batch = _batch(admin)
    frozen = _did(admin, "15550003", pricing_batch=batch.pk, frozen=True)
    no_batch = _did(admin, "15550004")
    taken = _did(admin, "15550005", pricing_batch=batch.pk)
    other = _customer(admin, "Other")
    services.assign(actor=admin, now=JAN1, did_id=taken.pk, customer_id=other.pk)
    before = (
        Transaction.objects.count(),
        DidAssignment.objects.count(),
        AuditEntry.objects.count(),
    )
    cases = [
        (frozen.pk, c.pk, "did", "frozen"),
        (no_batch.pk, c.pk, "did", "no_pricing_batch"),
        (taken.pk, c.pk, "did", "in_use"),
        (999999, c.pk, "did", "not_found"),
        (None, c.pk, "did", "required"),
    ]
    for did_id, cid, field, code in cases:
        with pytest.raises(ValidationFailed) as exc:
            services.assign(actor=admin, now=JAN16, did_id=did_id, customer_id=cid)
        assert (exc.value.field, exc.value.code) == (field, code)
    with pytest.raises(NotFound) as nf:
        services.assign(actor=admin, now=JAN16, did_id=taken.pk, customer_id=999999)
    assert nf.value.field == "customer"
    after = (Transaction.objects.count(), DidAssignment.objects.count(), AuditEntry.objects.count())
    assert after == before
    assert Did.objects.get(pk=frozen.pk).status == DidStatus.FROZEN


def test_bad_inventory_input_names_the_field(admin: Any) -> None:
    cases = [
        ({"number": "12ab", "vendor_batch": "V", "currency": "USD"}, "number"),
        ({"number": "1555", "currency": "USD"}, "vendor_batch"),
        ({"number": "1555", "vendor_batch": "V"}, "currency"),
        ({"number": "1555", "vendor_batch": "V", "currency": "USD", "country": "XX"}, "country"),
        (
            {"number": "1555", "vendor_batch": "V", "currency": "USD", "periodic_cost": "-1"},
            "periodic_cost",
        ),
        ({"number": "1555", "vendor_batch": "V", "currency": "USD", "colour": "red"}, "colour"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as exc:
            services.create_did(actor=admin, now=JAN1, data=data)
        assert exc.value.field == field, data
    assert Did.objects.count() == 0
    with pytest.raises(ValidationFailed) as exc:
        services.create_pricing_batch(actor=admin, now=JAN1, data={"name": "Paid"})
    assert exc.value.field == "currency"
    _did(admin, "1555")
    with pytest.raises(ValidationFailed) as exc:
        _did(admin, "+1555")
    assert (exc.value.field, exc.value.code) == ("number", "duplicate")


# ------------------------------------------------------------------------- lifecycle


def test_golden_did_through_provisional_termination_and_reactivation(admin: Any) -> None:
    """CU-02, CU-16: assigned Jan 1; blocked in January (still charged); provisionally
    terminated Feb 1 (February not charged, the number stays allocated); reactivated Mar 1
    (March charged). Whole periods; exact invoices."""
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk)
    lifecycle.set_blocked(actor=admin, now=JAN16, customer_id=c.pk, blocked=True)
    _run(FEB1)
    terminate(actor=admin, now=FEB1, customer_id=c.pk)
    _run(MAR1)
    assert Did.objects.get(pk=did.pk).status == DidStatus.IN_USE  # still allocated
    lifecycle.reactivate(actor=admin, now=MAR1, customer_id=c.pk)
    _run(APR1)
    invoices = list(Invoice.objects.filter(customer=c).order_by("period_start"))
    got = [(i.period_start, i.total, _lines(i)) for i in invoices]
    assert got == [
        # January: activation 5.00 + 6.50 (blocked customers pay, CU-02)
        (JAN1, D("11.50000"), [("subscription", D("11.50000"))]),
        # March: 6.50 (reactivated; February was not charged, CU-16)
        (MAR1, D("6.50000"), [("subscription", D("6.50000"))]),
    ]
    a = DidAssignment.objects.get(did=did)
    charges = [
        (x.kind, x.period_start, x.period_end, x.amount, x.transaction_id is not None)
        for x in DidCharge.objects.filter(assignment=a).order_by("period_start", "kind")
    ]
    assert charges == [
        ("activation", JAN1, JAN1, D("5.00000"), True),
        ("recurring", JAN1, FEB1, D("6.50000"), True),
        ("recurring", FEB1, MAR1, D("0.00000"), False),
        ("recurring", MAR1, APR1, D("6.50000"), True),
    ]
    c.refresh_from_db()
    assert c.balance == ledger_sum(customer_id=c.pk)


def test_reactivation_mid_period_charges_from_the_reactivation(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk)
    _run(FEB1)
    terminate(actor=admin, now=FEB1, customer_id=c.pk)
    lifecycle.reactivate(actor=admin, now=FEB15, customer_id=c.pk)
    _run(MAR1)
    # February 15 .. March 1 of a 28-day February: 6.50 * 14/28 = 3.25
    assert _did_fees(c)[-1][:2] == (D("3.25000"), MAR1 - US)


def test_permanent_termination_returns_the_numbers_cu17(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk)
    _run(FEB1)
    terminate(actor=admin, now=FEB1, customer_id=c.pk)
    later = FEB1 + dt.timedelta(days=31)  # past the class's 30 days
    _run(later)
    c.refresh_from_db()
    assert c.status == "closed"
    did.refresh_from_db()
    assert (did.status, did.customer_id, did.released_at) == (
        DidStatus.NOT_IN_USE,
        None,
        c.closed_at,
    )
    a = DidAssignment.objects.get(did=did)
    assert a.ended and a.released_at == c.closed_at
    # nothing charged after January's 6.50 (terminated from Feb 1)
    assert [f[0] for f in _did_fees(c)] == [D("5.00000"), D("6.50000")]
    # the number can be assigned again
    other = _customer(admin, "Other")
    services.assign(actor=admin, now=later, did_id=did.pk, customer_id=other.pk)


def test_permanent_termination_now_bills_the_part_in_the_midterm_invoice(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    services.assign(actor=admin, now=JAN1, did_id=did.pk, customer_id=c.pk)
    terminate(actor=admin, now=JAN16, customer_id=c.pk, permanent=True, midterm_invoice=True)
    inv = Invoice.objects.get(customer=c)
    # 5.00 activation + 6.50 * 15/31 = 3.14516 -> 8.14516
    assert _lines(inv) == [("subscription", D("8.14516")), ("rounding", D("0.00484"))]
    assert Did.objects.get(pk=did.pk).status == DidStatus.NOT_IN_USE


def test_terminated_customer_cannot_be_assigned(admin: Any) -> None:
    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    terminate(actor=admin, now=JAN16, customer_id=c.pk)
    with pytest.raises(ValidationFailed) as exc:
        services.assign(actor=admin, now=JAN16, did_id=did.pk, customer_id=c.pk)
    assert (exc.value.field, exc.value.code) == ("customer", "not_open")


# ------------------------------------------------------------------------- search, CSV


def test_vanity_search(admin: Any) -> None:
    for n in ("18005558647", "18003569377", "442071234567"):
        _did(admin, n)
    found = lambda s: [d.number for d in selectors.list_dids(actor=admin, search=s)]  # noqa: E731
    assert found("VOIP") == ["18005558647"]
    assert found("1800%VOIP") == ["18005558647"]
    assert found("FLOWERS") == ["18003569377"]
    assert found("44%") == ["442071234567"]
    assert found("1800_______") == ["18003569377", "18005558647"]
    with pytest.raises(ValidationFailed) as exc:
        selectors.list_dids(actor=admin, search="18[")
    assert exc.value.field == "search"


CSV = """number,vendor_batch,activation_cost,periodic_cost,country,area,group,pricing_batch
12065551234,Vendor A,2.00,5.00,US,Seattle,Seattle,Standard
12065551235,Vendor A,2.00,5.00,US,Seattle,Seattle,
+1 206 555 1236,Vendor A,2.00,5.00,US,Seattle,,
12ab,Vendor A,2.00,5.00,US,Seattle,,
12065551237,,2.00,5.00,US,Seattle,,
12065551238,Vendor A,2.00,-5,US,Seattle,,
12065551239,Vendor A,2.00,5.00,ZZ,Seattle,,
12065551240,Vendor A,2.00,5.00,US,Seattle,,Nope
12065551234,Vendor A,2.00,5.00,US,Seattle,,
"""


def test_csv_import_reports_lines_and_is_idempotent(admin: Any) -> None:
    _batch(admin)
    result = import_csv(actor=admin, now=JAN1, content=CSV.encode(), currency="USD")
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert result.errors == [
        (5, "number", "number: '12ab' is not a number of 3 to 20 digits (E.164, '+' optional)"),
        (6, "vendor_batch", "vendor_batch is required"),
        (7, "periodic_cost", "periodic_cost must not be negative"),
        (8, "country", "country: 'ZZ' is not an ISO 3166 alpha-2 code (or -- for none)"),
        (9, "pricing_batch", "pricing_batch: 'Nope' does not exist"),
        (10, "number", "number: 12065551234 is also on line 2"),
    ]
    assert sorted(Did.objects.values_list("number", flat=True)) == [
        "12065551234",
        "12065551235",
        "12065551236",
    ]
    d = Did.objects.get(number="12065551234")
    assert (d.group.name, d.pricing_batch.name, d.periodic_cost) == (
        "Seattle",
        "Standard",
        D("5.00000"),
    )
    again = import_csv(actor=admin, now=FEB1, content=CSV.encode(), currency="USD")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = CSV.replace("12065551235,Vendor A,2.00,5.00", "12065551235,Vendor A,2.00,6.00")
    third = import_csv(actor=admin, now=FEB1, content=changed.encode(), currency="USD")
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert Did.objects.get(number="12065551235").periodic_cost == D("6.00000")


def test_csv_file_refused_whole(admin: Any) -> None:
    bad = [
        b"",
        b"\xff\xfe",
        b"number,area\n123,x\n",
        b"number,vendor_batch,colour\n123,V,red\n",
    ]
    for content in bad:
        with pytest.raises(ValidationFailed) as exc:
            import_csv(actor=admin, now=JAN1, content=content, currency="USD")
        assert exc.value.field == "file"
    assert Did.objects.count() == 0


# ------------------------------------------------------------------------- resellers


def test_reseller_isolation(world: dict[str, Any]) -> None:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    ca = create_customer(
        actor=ua,
        now=JAN1,
        data={
            "name": "A's customer",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    batch = _batch(admin)
    d1 = _did(admin, "15550001", pricing_batch=batch.pk)
    d2 = _did(admin, "15550002", pricing_batch=batch.pk, frozen=True)
    # reseller B's user cannot assign to A's customer (not found), nothing changes
    with pytest.raises(NotFound):
        services.assign(actor=ub, now=JAN1, did_id=d1.pk, customer_id=ca.pk)
    assert Did.objects.get(pk=d1.pk).status == DidStatus.NOT_IN_USE
    services.assign(actor=ua, now=JAN1, did_id=d1.pk, customer_id=ca.pk)
    # B sees neither A's number nor the frozen one; A sees its own
    assert list(selectors.list_dids(actor=ub)) == []
    assert [d.number for d in selectors.list_dids(actor=ua)] == ["15550001"]
    with pytest.raises(NotFound):
        selectors.get_did(actor=ub, did_id=d1.pk)
    with pytest.raises(ValidationFailed):
        services.release(actor=ub, now=JAN16, did_id=d1.pk)
    assert Did.objects.get(pk=d1.pk).customer_id == ca.pk
    # resellers do not manage the inventory
    with pytest.raises(NotFound):
        services.update_did(actor=ua, now=JAN1, did_id=d1.pk, changes={"area": "x"})
    with pytest.raises(NotFound):
        services.create_pricing_batch(actor=ua, now=JAN1, data={"name": "Mine", "currency": "USD"})
    assert Did.objects.get(pk=d2.pk).status == DidStatus.FROZEN
    services.release(actor=ua, now=JAN16, did_id=d1.pk)
    assert Did.objects.get(pk=d1.pk).status == DidStatus.NOT_IN_USE


def test_engine_visits_a_customer_only_when_a_part_is_due(admin: Any) -> None:
    from billcore.dids.charging import customers_due

    c = _customer(admin)
    did = _did(admin, pricing_batch=_batch(admin).pk)
    a = services.assign(actor=admin, now=JAN16, did_id=did.pk, customer_id=c.pk)
    assert a.next_due_at == FEB1
    assert customers_due(now=FEB1 - US) == []
    assert customers_due(now=FEB1) == [c.pk]
    _run(FEB1)
    a.refresh_from_db()
    assert (a.charged_to, a.next_due_at) == (FEB1, MAR1)
    assert customers_due(now=FEB15) == []
