"""CC-17 (issue 10 §5): a class with a currency can no longer keep a custom rounding pattern
finer than the currency's minor unit (``XXXXX.XX500`` on a USD class).

Classes saved before the rule with such a pattern are switched to **Currency default**
rounding (the pattern is cleared), one audit row each (actor "system", before and after), and
the list is printed. Why this and not leaving them: a class left as it was would fail its own
validation on the next unrelated edit, and its invoices were never rounded at the finer place
anyway (every total was rounded up to the currency's unit afterwards), so the currency default
(always up to the unit) is the behaviour closest to what these classes invoiced until now.
"""

from __future__ import annotations

import sys

from django.db import migrations
from django.utils import timezone

from billcore.core.rounding import InvalidPatternError, parse_pattern


def _finer(pattern: str, decimals: int) -> bool:
    try:
        return parse_pattern(pattern).decimals > decimals
    except InvalidPatternError:
        return False


def coerce(apps, schema_editor):
    CustomerClass = apps.get_model("classes", "CustomerClass")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    now = timezone.now()
    changed = []
    for cls in (
        CustomerClass.objects.filter(invoice_rounding="custom", currency__isnull=False)
        .select_related("currency")
        .order_by("id")
    ):
        pattern = cls.invoice_rounding_pattern
        if not pattern or not _finer(pattern, cls.currency.decimals):
            continue
        CustomerClass.objects.filter(pk=cls.pk).update(
            invoice_rounding="currency_default", invoice_rounding_pattern="", updated_at=now
        )
        AuditEntry.objects.create(
            at=now,
            actor=None,
            actor_name="system",
            operation="update",
            object_type="customerclass",
            object_id=str(cls.pk),
            object_repr=cls.name[:200],
            before={"invoice_rounding": "custom", "invoice_rounding_pattern": pattern},
            after={"invoice_rounding": "currency_default", "invoice_rounding_pattern": ""},
        )
        changed.append(f"  class {cls.pk} {cls.name!r} ({cls.currency_id}): {pattern}")
    if changed:
        sys.stdout.write(
            "\nCC-17: custom rounding patterns finer than the class's currency were switched "
            "to Currency default rounding (one audit row each):\n" + "\n".join(changed) + "\n"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0004_customerclass_late_fee_after_days_and_more"),
        ("audit", "0001_initial"),
    ]
    operations = [migrations.RunPython(coerce, migrations.RunPython.noop)]
