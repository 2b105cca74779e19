"""A payment travels ledger first, invoicing second (issue 11):
``ledger.services.post_transaction`` records the row and moves the balance only;
``invoicing.settling.record_transaction`` records it through the ledger and then settles the
invoices, in the same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.engine import run
from billcore.errors import ValidationFailed
from billcore.invoicing.models import Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger import services as ledger
from billcore.ledger.models import Transaction
from tests.integration.test_invoicing import FEB1, T0, _class, _customer, _use

pytestmark = pytest.mark.django_db

MAR2 = dt.datetime(2027, 3, 2, tzinfo=dt.UTC)


def _invoiced(admin: Any) -> tuple[Any, Invoice]:
    c = _customer(admin, _class(admin))
    _use(admin, c, "30", T0 + dt.timedelta(days=1))
    run(now=FEB1, steps=["close"])
    return c, Invoice.objects.get(customer=c)


def test_the_ledger_records_a_payment_and_settles_nothing(admin: Any) -> None:
    c, invoice = _invoiced(admin)
    posted = ledger.post_transaction(
        actor=admin, now=MAR2, customer_id=c.pk, action="manual_payment", amount="30"
    )
    assert (posted.amount, posted.balance) == (D("-30"), D("0.00000"))
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (D("0.00000"), "issued")


def test_invoicing_records_through_the_ledger_then_settles(admin: Any) -> None:
    c, invoice = _invoiced(admin)
    posted = record_transaction(
        actor=admin, now=MAR2, customer_id=c.pk, action="manual_payment", amount="30"
    )
    assert (posted.amount, posted.balance, posted.replayed) == (D("-30"), D("0.00000"), False)
    assert Transaction.objects.get(pk=posted.transaction_id).action == "manual_payment"
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status, invoice.paid_at) == (D("30.00000"), "paid", MAR2)


def test_the_ledger_raises_the_reason_its_caller_refuses(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    with pytest.raises(ValidationFailed) as info:
        ledger.post_transaction(
            actor=admin,
            now=T0,
            customer_id=c.pk,
            action="manual_charge",
            amount="1",
            refused="billed externally",
        )
    assert (info.value.field, info.value.code) == ("action", "billed_externally")
    assert not Transaction.objects.filter(customer=c).exists()
