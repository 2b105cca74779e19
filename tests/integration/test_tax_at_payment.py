"""Issue 10 §5: prepaid customers taxed at payment time (portabilling.md "Taxes", CC-10).
The reply to a payment states the balance and available funds after its tax row; a refund
of such a payment gives back the tax it contained, in proportion for a partial refund (half-up
to the currency's minor unit), the refund completing the payment gives back exactly the rest.
Exact values; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.errors import ValidationFailed
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
D = Decimal


@pytest.fixture
def prepaid(admin: Any) -> Customer:
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Prepaid VAT",
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "tax_prepaid_at_payment": True,
        },
    )
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "customer_class": cls.pk,
            "balance_control": "prepaid",
            "available_funds": "0",
        },
    )


def _post(admin: Any, customer: Customer, minutes: int, action: str, amount: str, **kw: Any):
    return record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(minutes=minutes),
        customer_id=customer.pk,
        action=action,
        amount=amount,
        **kw,
    )


def _ledger(customer: Customer) -> list[tuple[str, Decimal]]:
    return [
        (t.action, t.amount)
        for t in Transaction.objects.filter(customer=customer).order_by("id")
        if t.action != "opening_balance"
    ]


def _balance(customer: Customer) -> Decimal:
    value = Customer.objects.values_list("balance", flat=True).get(pk=customer.pk)
    assert ledger_sum(customer_id=customer.pk) == value
    return Decimal(value)


def test_payment_reply_states_the_balance_after_its_tax_row(admin: Any, prepaid: Any) -> None:
    """A top-up of 100 contains 100 x 20/120 = 16.666... -> 16.67 of VAT (rounded up): the
    reply says balance -83.33, available funds 83.33 (before issue 10: -100 and 100). A replay
    of the same key says the same."""
    paid = _post(admin, prepaid, 1, "manual_payment", "100", idempotency_key="top-up-1")
    assert (paid.amount, paid.balance, paid.available_funds) == (D("-100"), D("-83.33"), D("83.33"))
    again = _post(admin, prepaid, 2, "manual_payment", "100", idempotency_key="top-up-1")
    assert again.replayed
    assert (again.balance, again.available_funds) == (D("-83.33"), D("83.33"))
    assert _ledger(prepaid) == [("manual_payment", D("-100")), ("tax", D("16.67"))]
    tax = Transaction.objects.get(customer=prepaid, action="tax")
    assert tax.reference_id == paid.transaction_id
    assert _balance(prepaid) == D("-83.33")


def test_full_refund_gives_the_tax_back(admin: Any, prepaid: Any) -> None:
    """A fully refunded top-up leaves nothing owed (before issue 10: 16.67 owed)."""
    paid = _post(admin, prepaid, 1, "manual_payment", "100")
    refund = _post(admin, prepaid, 2, "refund", "100", reference_id=paid.transaction_id)
    assert (refund.balance, refund.available_funds) == (D("0"), D("0"))
    assert _ledger(prepaid) == [
        ("manual_payment", D("-100")),
        ("tax", D("16.67")),
        ("refund", D("100")),
        ("tax", D("-16.67")),
    ]
    assert _balance(prepaid) == D("0")


def test_partial_refunds_give_back_tax_in_proportion(admin: Any, prepaid: Any) -> None:
    """Refund 33.33 of the 100 payment (tax 16.67): 16.67 x 33.33/100 = 5.556111 -> 5.56
    (half-up to the cent); balance -83.33 + 33.33 - 5.56 = -55.56. The rest, 66.67, without a
    reference (the newest taxed payment with that much left is found): it completes the
    payment, so it gives back exactly the rest of its tax, 16.67 - 5.56 = 11.11; balance 0."""
    paid = _post(admin, prepaid, 1, "manual_payment", "100")
    first = _post(admin, prepaid, 2, "refund", "33.33", reference_id=paid.transaction_id)
    assert (first.balance, first.available_funds) == (D("-55.56"), D("55.56"))
    rest = _post(admin, prepaid, 3, "ecommerce_refund", "66.67")
    assert (rest.balance, rest.available_funds) == (D("0"), D("0"))
    assert _ledger(prepaid) == [
        ("manual_payment", D("-100")),
        ("tax", D("16.67")),
        ("refund", D("33.33")),
        ("tax", D("-5.56")),
        ("ecommerce_refund", D("66.67")),
        ("tax", D("-11.11")),
    ]
    refunds = Transaction.objects.filter(
        customer=prepaid, action__in=("refund", "ecommerce_refund")
    )
    assert {r.reference_id for r in refunds} == {paid.transaction_id}
    assert _balance(prepaid) == D("0")


def test_refunds_that_cannot_give_their_tax_back_are_refused(admin: Any, prepaid: Any) -> None:
    """More than is left of the named payment: 400 on amount; more than any single payment
    has left, without a reference: 400 on reference naming the payments. Nothing saved."""
    a = _post(admin, prepaid, 1, "manual_payment", "50")
    b = _post(admin, prepaid, 2, "manual_payment", "50")
    before = _ledger(prepaid)
    with pytest.raises(ValidationFailed) as info:
        _post(admin, prepaid, 3, "refund", "50.01", reference_id=a.transaction_id)
    assert (info.value.field, info.value.code) == ("amount", "exceeds_payment")
    assert info.value.message == (
        f"amount: only 50.00000 of payment {a.transaction_id} is left to refund"
    )
    with pytest.raises(ValidationFailed) as info:
        _post(admin, prepaid, 3, "refund", "80")
    assert (info.value.field, info.value.code) == ("reference", "required")
    assert info.value.message == (
        "reference: no single payment has 80.00000 left to refund "
        f"(payment {b.transaction_id} has 50.00000 left, payment {a.transaction_id} has "
        "50.00000 left); refund each payment on its own, naming it in reference, so that the "
        "tax it contained is given back with it"
    )
    with pytest.raises(ValidationFailed) as info:
        _post(admin, prepaid, 3, "refund", "10", reference_id=999999)
    assert (info.value.field, info.value.code) == ("reference", "not_found")
    assert _ledger(prepaid) == before
    assert _balance(prepaid) == D("-83.32")  # 2 x (-50 + 8.34)


def test_postpaid_refunds_are_unchanged(admin: Any) -> None:
    """Customers not taxed at payment: a refund names no payment and gives nothing back."""
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Post", "currency": "USD", "taxation_method": "fixed_vat", "vat_rate": "20"},
    )
    customer = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pat",
            "currency": "USD",
            "customer_class": cls.pk,
            "balance_control": "postpaid",
        },
    )
    _post(admin, customer, 1, "manual_payment", "100")
    refund = _post(admin, customer, 2, "refund", "40")
    assert refund.balance == D("-60")
    assert _ledger(customer) == [("manual_payment", D("-100")), ("refund", D("40"))]


def test_migration_links_earlier_tax_rows_to_their_payments(admin: Any, prepaid: Any) -> None:
    """Tax rows written before issue 10 named no payment: migration ledger 0004 links each to
    the payment written just before it at the same instant; a refund then gives it back."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "billcore.ledger.migrations.0004_link_taxes_taken_at_payment"
    )
    paid = _post(admin, prepaid, 1, "manual_payment", "100")
    Transaction.objects.filter(customer=prepaid, action="tax").update(reference=None)
    migration.link(apps, None)
    tax = Transaction.objects.get(customer=prepaid, action="tax")
    assert tax.reference_id == paid.transaction_id
    refund = _post(admin, prepaid, 2, "refund", "100")
    assert refund.balance == D("0")
