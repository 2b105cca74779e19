"""Notifications (issue 5 §4): the installation's editable e-mail templates, one per kind of
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
