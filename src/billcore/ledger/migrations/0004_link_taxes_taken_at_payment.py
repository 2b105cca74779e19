"""Issue 10 §5: a tax row taken at payment time names its payment (``reference``), so that a
refund of the payment can give that tax back. Rows written before: each tax row no invoice
carries is linked to the payment of the same customer written just before it at the same
instant (``tax_at_payment`` posts it in the payment's transaction, right after it)."""

from __future__ import annotations

from django.db import migrations

PAYMENTS = ("manual_payment", "ecommerce_payment", "capture_payment")


def link(apps, schema_editor):
    Transaction = apps.get_model("ledger", "Transaction")
    for tax in Transaction.objects.filter(
        action="tax", invoice__isnull=True, reference__isnull=True, amount__gt=0
    ).order_by("id"):
        payment = (
            Transaction.objects.filter(
                customer_id=tax.customer_id,
                action__in=PAYMENTS,
                created_at=tax.created_at,
                id__lt=tax.id,
            )
            .order_by("-id")
            .first()
        )
        if payment is not None:
            Transaction.objects.filter(pk=tax.pk).update(reference=payment)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_transaction_balance_reset_transaction_hidden_and_more")]
    operations = [migrations.RunPython(link, migrations.RunPython.noop)]
