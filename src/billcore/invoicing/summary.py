"""What the figures of an invoice's summary mean (the PDF, the page and the e-mail read the
labels): a read of its own, below ``documents`` and ``selectors``, so that neither imports the
other's module for it."""

from __future__ import annotations

from billcore.invoicing.models import Invoice
from billcore.ledger.models import Action, Transaction


def summary_labels(invoice: Invoice) -> dict[str, str]:
    """What the figures of an invoice's summary mean, as labels for the PDF, the page and the
    e-mail (``previous_balance + payments + total == balance_after`` always holds):

    * out of turn: the previous balance is the balance without the rows this invoice bills;
    * a period's invoice: what was owed before the period, plus what other invoices issued
      before this one billed within the period (named);
    * the payments are net of the taxes they contained when a prepaid customer taxed at
      payment time paid (or was refunded) within the period."""
    labels = {
        "previous_balance": "Previous balance",
        "payments": "Payments and refunds",
        "balance_after": "Balance after this invoice",
    }
    if invoice.period_id is None:
        labels["previous_balance"] = "Balance before this invoice"
        return labels
    rows = Transaction.objects.filter(period_id=invoice.period_id)
    others = list(
        Invoice.objects.filter(
            pk__in=rows.filter(invoice__isnull=False, invoice_id__lt=invoice.pk)
            .exclude(action=Action.INVOICE_VOID)
            .values("invoice_id")
        )
        .order_by("id")
        .values_list("number", flat=True)
    )
    if others:
        labels["previous_balance"] = (
            f"Previous balance, with invoice{'s' if len(others) > 1 else ''} "
            f"{', '.join(others)} of this period"
        )
    # Issue 17: an invoice voided within the period (its credit note's reversal rows).
    voided = list(
        Invoice.objects.filter(
            pk__in=rows.filter(action=Action.INVOICE_VOID, invoice_id__lt=invoice.pk).values(
                "invoice_id"
            )
        )
        .order_by("id")
        .values_list("credit_note__number", flat=True)
    )
    if voided:
        labels["previous_balance"] += (
            f"{' and' if others else ', with'} credit note{'s' if len(voided) > 1 else ''} "
            f"{', '.join(voided)} of this period"
        )
    if rows.filter(action=Action.TAX, invoice__isnull=True).exists():
        labels["payments"] = "Payments and refunds, net of the tax they contained"
    return labels
