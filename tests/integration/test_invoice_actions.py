"""The invoice's actions (issue 17): void with a credit note, payment from the invoice, resend,
re-render; exact values, on SQLite and PostgreSQL.

The class: USD, fixed VAT 20 % exclusive, grace 10 days, suspension 10 days after the due date
(notice 3 days before). The customer is created 2027-01-10; its January period closes
2027-02-01 with a manual charge of 100.00123: base 100.01, VAT 20.002 → 20.01, total 120.02
(rounding 0.00877), due 02-11; the suspension notice goes 02-18, the suspension 02-21.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import transaction

from billcore.audit.models import AuditEntry
from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.engine import run
from billcore.errors import Conflict, ValidationFailed
from billcore.installation.services import update_settings
from billcore.invoicing import actions, selectors
from billcore.invoicing.documents import render_pending
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.models import CreditNote, Invoice, InvoicePdf
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.ledger.postings import post_locked
from billcore.notifications.models import OutboundEmail
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
STEPS = ["close", "collections"]


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, tzinfo=dt.UTC)


def _class(admin: Any, **extra: Any) -> Any:
    return create_class(
        actor=admin,
        now=T0,
        data={
            "name": extra.pop("name", "VAT collections"),
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "grace_period_days": 10,
            "suspend_after_days": 10,
            "suspend_notice_days": 3,
            **extra,
        },
    )


def _customer(admin: Any, cls: Any, *, name: str = "Slow Payer", email: str = "ap@slow.example"):
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": email,
        },
    )


def _charge(c: Customer, amount: str, when: dt.datetime) -> None:
    with transaction.atomic():
        post_locked(customer_id=c.pk, action="manual_charge", amount=D(amount), now=when)


def _pay(admin: Any, c: Customer, amount: str, when: dt.datetime) -> None:
    record_transaction(
        actor=admin, now=when, customer_id=c.pk, action="manual_payment", amount=amount
    )


def _state(c: Customer) -> tuple[str, str]:
    c.refresh_from_db()
    return (c.status, c.suspension_reason)


def test_void_a_partly_paid_overdue_invoice_that_suspended_the_customer(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _charge(c, "100.00123", at(1, 11))
    run(now=at(2, 1), steps=STEPS)
    inv = Invoice.objects.get(customer=c)
    assert (inv.number, inv.total, inv.tax_total, inv.rounding) == (
        "INV-0000001",
        D("120.02000"),
        D("20.01000"),
        D("0.00877"),
    )
    _pay(admin, c, "50", at(2, 5))
    _charge(c, "30", at(2, 10))  # the next period's charge
    for day in (at(2, 11), at(2, 18), at(2, 21)):
        run(now=day, steps=STEPS)
    inv.refresh_from_db()
    assert (inv.status, inv.amount_paid) == ("overdue", D("50.00000"))
    assert _state(c) == ("suspended", "overdue")

    note = actions.void_invoice(actor=admin, now=at(2, 22), invoice_id=inv.pk, reason="Disputed")

    assert (note.number, note.sequence, note.numbering_scope) == ("CN-0000001", 1, 0)
    assert (note.charges, note.taxes, note.rounding, note.total) == (
        D("100.00123"),
        D("20.01000"),
        D("0.00877"),
        D("120.02000"),
    )
    assert (note.paid_before, note.status_before, note.reason) == (
        D("50.00000"),
        "overdue",
        "Disputed",
    )
    # The reversal: rows of their own, linked to the invoice, never billed again.
    rows = list(
        Transaction.objects.filter(customer=c, action="invoice_void")
        .order_by("id")
        .values_list("amount", "invoice_id", "created_at", "visible_comment")
    )
    assert rows == [
        (
            D("-100.00123"),
            inv.pk,
            at(2, 22),
            "Charges of invoice INV-0000001 reversed by credit note CN-0000001",
        ),
        (
            D("-20.01000"),
            inv.pk,
            at(2, 22),
            "Taxes of invoice INV-0000001 reversed by credit note CN-0000001",
        ),
        (
            D("-0.00877"),
            inv.pk,
            at(2, 22),
            "Rounding of invoice INV-0000001 reversed by credit note CN-0000001",
        ),
    ]
    # 120.02 billed - 50 paid + 30 charged - 120.02 reversed: the 50 paid is credit.
    c.refresh_from_db()
    assert c.balance == D("-20.00000") == ledger_sum(customer_id=c.pk)
    assert note.balance_after == D("-20.00000")
    inv.refresh_from_db()
    assert (inv.status, inv.amount_paid, inv.paid_at, inv.number) == (
        "void",
        D("0.00000"),
        None,
        "INV-0000001",
    )
    # Nothing else is overdue: the suspension it caused lifts at once.
    assert _state(c) == ("open", "")
    ops = list(
        AuditEntry.objects.filter(object_id=str(inv.pk), object_type__icontains="invoice")
        .order_by("id")
        .values_list("operation", "after")
    )
    assert ops[-1][0] == "update"
    assert ops[-1][1]["status"] == "void"
    assert AuditEntry.objects.filter(
        operation="create", object_type__icontains="credit", object_id=str(note.pk)
    ).exists()

    # The next close: the 30.00 charge + VAT 6.00 = 36.00, paid by the 50 that paid the void
    # invoice; the reversal is billed by no invoice.
    run(now=at(3, 1), steps=STEPS)
    nxt = Invoice.objects.get(customer=c, number="INV-0000002")
    assert (nxt.total, nxt.amount_paid, nxt.status) == (D("36.00000"), D("36.00000"), "paid")
    assert (nxt.previous_balance, nxt.payments, nxt.balance_after) == (
        D("0.00000"),
        D("-50.00000"),
        D("-14.00000"),
    )
    assert nxt.previous_balance + nxt.payments + nxt.total == nxt.balance_after
    assert selectors.summary_labels(nxt)["previous_balance"] == (
        "Previous balance, with credit note CN-0000001 of this period"
    )
    c.refresh_from_db()
    assert c.balance == D("-14.00000") == ledger_sum(customer_id=c.pk)
    assert Invoice.objects.get(pk=inv.pk).status == "void"
    assert set(
        Transaction.objects.filter(action="invoice_void").values_list("invoice_id", flat=True)
    ) == {inv.pk}


def test_a_paid_invoice_is_not_voided(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _charge(c, "10", at(1, 11))
    run(now=at(2, 1), steps=STEPS)
    _pay(admin, c, "12", at(2, 2))
    inv = Invoice.objects.get(customer=c)
    assert inv.status == "paid"
    with pytest.raises(Conflict) as err:
        actions.void_invoice(actor=admin, now=at(2, 3), invoice_id=inv.pk)
    assert (err.value.field, err.value.code) == ("status", "not_voidable")
    assert "paid" in err.value.message
    assert not CreditNote.objects.exists()
    assert not Transaction.objects.filter(action="invoice_void").exists()
    c.refresh_from_db()
    assert c.balance == D("0.00000")


def test_credit_note_numbers_are_gapless_per_scope(admin: Any, world: Any) -> None:
    cls = _class(admin, allow_out_of_turn_invoices=True)
    c = _customer(admin, cls)
    invoices = []
    for day, amount in ((11, "10"), (12, "20")):
        _charge(c, amount, at(1, day))
        invoices.append(issue_out_of_turn_invoice(actor=admin, now=at(1, day, 1), customer_id=c.pk))
    first = actions.void_invoice(actor=admin, now=at(1, 13), invoice_id=invoices[0].pk)
    with pytest.raises(Conflict):  # refused (already void): takes no number
        actions.void_invoice(actor=admin, now=at(1, 13), invoice_id=invoices[0].pk)
    second = actions.void_invoice(actor=admin, now=at(1, 14), invoice_id=invoices[1].pk)
    assert (first.number, second.number) == ("CN-0000001", "CN-0000002")
    # Out of turn: 10 → VAT 2 → 12.00; 20 → 24.00; both reversed: nothing owed.
    assert (first.total, second.total) == (D("12.00000"), D("24.00000"))
    c.refresh_from_db()
    assert c.balance == D("0.00000") == ledger_sum(customer_id=c.pk)
    # A reseller's customers have the reseller's own series.
    rcls = create_class(
        actor=world["ua"],
        now=T0,
        data={"name": "A VAT", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    rc = create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": rcls.pk,
        },
    )
    _charge(rc, "5", at(1, 11))
    rinv = issue_out_of_turn_invoice(actor=world["ua"], now=at(1, 11, 1), customer_id=rc.pk)
    rnote = actions.void_invoice(actor=world["ua"], now=at(1, 12), invoice_id=rinv.pk)
    scope = world["ra"].pk
    assert (rnote.number, rnote.numbering_scope) == (f"R{scope}-CN-0000001", scope)
    # Another reseller's user cannot see, hence not void, it.
    from billcore.errors import NotFound

    with pytest.raises(NotFound):
        actions.void_invoice(actor=world["ub"], now=at(1, 12), invoice_id=invoices[1].pk)


def test_resend_needs_an_e_mail_address(admin: Any) -> None:
    cls = _class(admin, allow_out_of_turn_invoices=True)
    mute = _customer(admin, cls, name="No Mail", email="")
    _charge(mute, "10", at(1, 11))
    inv = issue_out_of_turn_invoice(actor=admin, now=at(1, 12), customer_id=mute.pk)
    with pytest.raises(ValidationFailed) as err:
        actions.resend_invoice(actor=admin, now=at(1, 13), invoice_id=inv.pk)
    assert (err.value.field, err.value.code) == ("email", "no_email")
    assert "has no e-mail address" in err.value.message
    assert not OutboundEmail.objects.filter(invoice_id=inv.pk).exists()

    loud = _customer(admin, cls, name="Mail")
    _charge(loud, "10", at(1, 11))
    inv2 = issue_out_of_turn_invoice(actor=admin, now=at(1, 12), customer_id=loud.pk)
    before = OutboundEmail.objects.filter(invoice_id=inv2.pk).count()
    email = actions.resend_invoice(actor=admin, now=at(1, 13), invoice_id=inv2.pk)
    assert (email.kind, email.to_address, email.invoice_id, email.status) == (
        "invoice",
        "ap@slow.example",
        inv2.pk,
        "pending",
    )
    assert OutboundEmail.objects.filter(invoice_id=inv2.pk).count() == before + 1


def test_rerender_is_a_new_version_and_keeps_the_first(admin: Any) -> None:
    cls = _class(admin, allow_out_of_turn_invoices=True)
    c = _customer(admin, cls)
    _charge(c, "10", at(1, 11))
    inv = issue_out_of_turn_invoice(actor=admin, now=at(1, 12), customer_id=c.pk)
    update_settings(actor=admin, now=at(1, 12), changes={"legal_name": "First Name Ltd"})
    assert render_pending(now=at(1, 12)) == 1  # the engine's documents step: version 1
    original = bytes(Invoice.objects.get(pk=inv.pk).pdf)
    update_settings(actor=admin, now=at(1, 13), changes={"legal_name": "Second Name Ltd"})
    assert actions.rerender_invoice_pdf(actor=admin, now=at(1, 13), invoice_id=inv.pk) == 2
    assert actions.rerender_invoice_pdf(actor=admin, now=at(1, 14), invoice_id=inv.pk) == 3
    stored = Invoice.objects.get(pk=inv.pk)
    assert bytes(stored.pdf) == original  # the first PDF is never replaced
    assert list(
        InvoicePdf.objects.filter(invoice=inv).order_by("version").values_list("version", flat=True)
    ) == [2, 3]
    newest = bytes(InvoicePdf.objects.get(invoice=inv, version=3).pdf)
    assert newest != original
    assert selectors.invoice_pdf(stored) == newest  # the download serves the newest
    assert selectors.invoice_pdf(stored, 1) == original
    assert [v["version"] for v in selectors.pdf_versions(stored)] == [3, 2, 1]


def test_a_payment_from_the_invoice_settles_the_oldest_first(admin: Any) -> None:
    cls = _class(admin, allow_out_of_turn_invoices=True)
    c = _customer(admin, cls)
    _charge(c, "10", at(1, 11))
    old = issue_out_of_turn_invoice(actor=admin, now=at(1, 11, 1), customer_id=c.pk)
    _charge(c, "20", at(1, 12))
    new = issue_out_of_turn_invoice(actor=admin, now=at(1, 12, 1), customer_id=c.pk)
    posted = actions.pay_invoice(actor=admin, now=at(1, 13), invoice_id=new.pk, amount="12")
    assert posted.amount == D("-12.00000")
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("paid", "issued")
    tx = Transaction.objects.get(pk=posted.transaction_id)
    assert (tx.action, tx.visible_comment) == (
        "manual_payment",
        f"Payment for invoice {new.number}",
    )
    with pytest.raises(ValidationFailed) as err:
        actions.pay_invoice(
            actor=admin, now=at(1, 13), invoice_id=new.pk, amount="1", action="manual_charge"
        )
    assert err.value.field == "action"
    actions.void_invoice(actor=admin, now=at(1, 14), invoice_id=new.pk)
    with pytest.raises(Conflict) as void_err:
        actions.pay_invoice(actor=admin, now=at(1, 15), invoice_id=new.pk, amount="1")
    assert void_err.value.field == "status"
