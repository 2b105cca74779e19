"""Notifications (issue 5 §4): the e-mail outbox (every e-mail the product sends: notifications,
invoices, usage statistics), the installation's editable e-mail templates, one per kind of
notification, and the small per-customer state the engine's scan keeps (low funds)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from billcore.classes.models import Notification


class NotificationTemplate(models.Model):
    """An edited template; with no row the default shipped in ``defaults.py`` applies, and
    "reset to default" deletes the row. Subject and body are Django template language."""

    kind = models.CharField(max_length=32, unique=True, choices=Notification.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"template {self.kind}"


class NotificationState(models.Model):
    """A customer's state for a notification that fires once per crossing (low funds):
    ``armed`` while the funds are at or above the threshold; ``count`` crossings notified so
    far (the e-mail's dedupe key is ``low_funds:<count>``)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="notification_states"
    )
    kind = models.CharField(max_length=32, choices=Notification.choices)
    armed = models.BooleanField(default=True)
    count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind"], name="notification_state_once_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {'armed' if self.armed else 'fired'} {self.count}"


class EmailKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"  # invoice_id: the invoice it voids
    STATISTICS = "statistics", "Statistics"
    NOTIFICATION = "notification", "Notification"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Never to be sent (``outbox.cancel_pending``), e.g. the history ``billcore demo`` makes.
    CANCELLED = "cancelled", "Not sent"


class OutboundEmail(models.Model):
    """An e-mail the engine owes: written in the same transaction as what it announces, sent
    afterwards by the engine's mail step (so a crash never loses one); see ``outbox``.

    The table is still ``invoicing_outboundemail`` (the model moved here from invoicing with
    state-only migrations). ``invoice_id`` and ``period_id`` name the invoice and the closed
    period an invoice or statistics e-mail is about as plain ids, not foreign keys: invoicing
    sits above notifications, and its mail builders (``invoicing.mail``) read those rows.
    Invoices and closed periods are never deleted (ledger rows protect them), so no e-mail
    is left pointing at nothing."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(max_length=14, choices=EmailKind.choices)
    invoice_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    period_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # For statistics: "full" (CSV attached) or "summary".
    variant = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    to_address = models.CharField(max_length=254, blank=True, default="")
    from_address = models.CharField(max_length=300, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    # Notifications (issue 5): which one, and its rendered text (the log shows what was sent).
    notification = models.CharField(max_length=32, blank=True, default="")
    body = models.TextField(blank=True, default="")
    # A notification is queued at most once per key (e.g. "suspension_warning:invoice-12").
    dedupe_key = models.CharField(max_length=120, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "invoicing_outboundemail"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="invoicing_o_status_512eac_idx"),
            models.Index(fields=["customer", "kind", "-id"], name="invoicing_o_custome_c06761_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "dedupe_key"], name="outbound_email_dedupe_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address}"
