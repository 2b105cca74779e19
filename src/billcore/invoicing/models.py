"""Billing periods, period closing and invoices (CC-12 … CC-18, CU-13 Invoices & Taxation).

A customer's open period is ``[Customer.billed_to, Customer.next_billed_to)``. When it ends the
engine closes it (``ClosedPeriod``): every ledger row of the period is stamped with it, and the
invoice the class asks for is issued from those rows. Ledger rows carry ``period`` and
``invoice``, so nothing is billed twice and nothing is skipped.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from billcore.db import DecimalUnitsField, MoneyField


class PeriodStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    CLOSED = "closed", "Closed"


class ClosedPeriod(models.Model):
    """One ended billing period of a customer: waiting for approval (CC-18) or closed."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="closed_periods"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=PeriodStatus.choices)
    # Approval mode: the period closes by itself at this instant (end + N days), if set.
    approve_by = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Balance at the end of the closing (after taxes, rounding and a balance reset).
    balance_after = MoneyField(null=True, blank=True)
    # CC-16 financial documentation: the closing statement, rendered by the engine.
    statement_wanted = models.BooleanField(default=False)
    statement_pdf = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["customer_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "start"], name="closed_period_unique"),
        ]
        indexes = [
            models.Index(fields=["status", "approve_by"]),
            models.Index(fields=["customer", "status", "start"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"


class InvoiceKind(models.TextChoices):
    REGULAR = "regular", "Regular"
    OUT_OF_TURN = "out_of_turn", "Out-of-turn"
    RECURRING = "recurring", "Recurring fees"  # CC-14
    MIDTERM = "midterm", "Midterm (termination)"  # CU-17


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    PARTLY_PAID = "partly_paid", "Partly paid"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"
    VOID = "void", "Void"  # issue 17: cancelled by a credit note; keeps its number


# Statuses a void may start from (issue 17): an invoice not yet paid in full.
VOIDABLE = (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE)


class Invoice(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    # Gapless numbering per installation (scope 0) and per reseller (scope = reseller id).
    numbering_scope = models.BigIntegerField()
    sequence = models.BigIntegerField()
    number = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=InvoiceKind.choices)
    period = models.ForeignKey(
        ClosedPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    # What the invoice covers.
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    issued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    decimals = models.PositiveSmallIntegerField()
    # Balance-forward summary (what the customer owes, portabilling.md sign convention).
    previous_balance = MoneyField()
    payments = MoneyField()  # payments and refunds of the period (signed, usually negative)
    # This invoice's charges: net + taxes + special (GST) rounding + invoice rounding = total.
    net = MoneyField()
    tax_total = MoneyField()
    tax_inclusive = models.BooleanField(default=False)
    special_rounding = MoneyField(default=Decimal(0))  # GST (Malaysia) 0.05 rounding
    rounding = MoneyField(default=Decimal(0))  # CC-17 invoice rounding
    total = MoneyField()
    balance_after = MoneyField()
    amount_paid = MoneyField(default=Decimal(0))
    status = models.CharField(max_length=12, choices=InvoiceStatus.choices)
    paid_at = models.DateTimeField(null=True, blank=True)
    template = models.CharField(max_length=20)
    pdf = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["numbering_scope", "sequence"], name="invoice_number_gapless_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "issued_at"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_due(self) -> Decimal:
        if self.status == InvoiceStatus.VOID:
            return Decimal(0)  # cancelled by its credit note (issue 17)
        due: Decimal = self.total - self.amount_paid
        return max(due, Decimal(0))


class LineKind(models.TextChoices):
    USAGE = "usage", "Usage"
    SUBSCRIPTION = "subscription", "Subscription fees"
    FEE = "fee", "Other fees"
    ADJUSTMENT = "adjustment", "Adjustments"
    TAX = "tax", "Tax"
    TAX_INCLUDED = "tax_included", "Tax included in the charges"
    SPECIAL_ROUNDING = "special_rounding", "GST rounding adjustment"
    ROUNDING = "rounding", "Invoice rounding"


# Lines that are part of the invoice's sum; TAX_INCLUDED only shows what the charges contain.
SUMMED_LINE_KINDS = frozenset(k for k in LineKind.values if k != LineKind.TAX_INCLUDED)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    description = models.CharField(max_length=200)
    service = models.CharField(max_length=16, blank=True, default="")
    quantity = DecimalUnitsField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True, default="")
    count = models.PositiveIntegerField(null=True, blank=True)
    rate = DecimalUnitsField(null=True, blank=True)  # tax rate in percent
    base = MoneyField(null=True, blank=True)  # tax base
    amount = MoneyField()

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.description} {self.amount}"


class InvoiceCounter(models.Model):
    """The last invoice number used in a numbering scope; incremented under a row lock in the
    invoice's own transaction, so a rolled-back invoice leaves no gap."""

    scope = models.BigIntegerField(primary_key=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope}: {self.last}"


class PaymentMethod(models.Model):
    """A customer's saved (pre-authorised) payment method (CU-13 Payment Method tab).

    Only what a gateway needs to charge it again is kept: the gateway's token, never the card
    number."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="payment_method"
    )
    gateway = models.CharField(max_length=32)
    token = models.CharField(max_length=200)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    holder_name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class PaymentAttempt(models.Model):
    """One charge of a saved payment method for an invoice (auto-charge, CC-14)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payment_attempts")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT)
    gateway = models.CharField(max_length=32)
    amount = MoneyField()
    approved = models.BooleanField()
    gateway_reference = models.CharField(max_length=100, blank=True, default="")
    decline_reason = models.CharField(max_length=200, blank=True, default="")
    transaction_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.amount} {'ok' if self.approved else 'declined'}"


class CollectionStepKind(models.TextChoices):
    """Collections (issue 5 §2): each step happens once per invoice, in this order."""

    REMINDER = "reminder", "Payment due soon"
    LATE_FEE_NOTICE = "late_fee_notice", "Late-payment fee notice"
    LATE_FEE = "late_fee", "Late-payment fee"
    SUSPENSION_NOTICE = "suspension_notice", "Suspension warning"
    SUSPENSION = "suspension", "Suspension"
    TERMINATION_NOTICE = "termination_notice", "Termination warning"
    TERMINATION = "termination", "Termination"


class CollectionStep(models.Model):
    """A collection step taken for an unpaid invoice: at most once per invoice and kind."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="collection_steps")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="collection_steps"
    )
    kind = models.CharField(max_length=20, choices=CollectionStepKind.choices)
    scheduled_at = models.DateTimeField()  # when the rules put it
    done_at = models.DateTimeField()  # when the engine took it (never before scheduled_at)
    detail = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["invoice_id", "done_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="collection_step_once"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind}"


class InvoicePdf(models.Model):
    """A re-rendered PDF of an invoice (issue 17). The PDF the engine stored first (the one an
    e-mail may have carried) stays in ``Invoice.pdf`` as version 1 and is never replaced; each
    re-render is a new row here, version 2, 3, …; the download serves the newest."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="pdf_versions")
    version = models.PositiveIntegerField()
    pdf = models.BinaryField()
    template = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["invoice_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "version"], name="invoice_pdf_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} v{self.version}"


class CreditNote(models.Model):
    """The document that voids an invoice (issue 17): its own gapless number series
    (``CN-0000001``, per reseller ``R<id>-CN-0000001``), the amounts it reverses, and what had
    been paid of the invoice (it stays on the balance as credit for the next invoices)."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="credit_note")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="credit_notes"
    )
    numbering_scope = models.BigIntegerField()
    sequence = models.BigIntegerField()
    number = models.CharField(max_length=40)
    issued_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    decimals = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500, blank=True, default="")
    # What is reversed: the invoice's charges, its taxes on top, its roundings; total = sum.
    charges = MoneyField()
    taxes = MoneyField()
    rounding = MoneyField()
    total = MoneyField()
    paid_before = MoneyField()  # what payments had settled of the invoice
    status_before = models.CharField(max_length=12)
    balance_after = MoneyField()
    pdf = models.BinaryField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["numbering_scope", "sequence"], name="credit_note_number_gapless_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteCounter(models.Model):
    """The last credit-note number used in a numbering scope (as ``InvoiceCounter``)."""

    scope = models.BigIntegerField(primary_key=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope}: {self.last}"
