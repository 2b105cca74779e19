"""Reads of the notifications app, scoped to what the actor may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billcore.accounts.access import Actor
from billcore.classes.models import Notification
from billcore.customers.selectors import get_customer
from billcore.notifications.models import EmailKind, OutboundEmail
from billcore.notifications.outbox import installation, waiting_reason

KIND_LABELS = {
    EmailKind.INVOICE: "Invoice",
    EmailKind.CREDIT_NOTE: "Credit note",
    EmailKind.STATISTICS: "Usage statistics",
}


@dataclass
class LogEntry:
    id: int
    kind: str  # invoice | statistics | notification
    notification: str  # the Notification value for kind "notification", else ""
    label: str
    subject: str
    to_address: str
    status: str
    attempts: int
    last_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    # Why a pending e-mail is not sent yet (issue 17 §6: seller details missing), or "".
    waiting: str = ""


def _label(email: OutboundEmail) -> str:
    if email.kind == EmailKind.NOTIFICATION:
        if email.notification in Notification.values:
            return str(Notification(email.notification).label)
        return email.notification or "Notification"
    return KIND_LABELS.get(EmailKind(email.kind), email.kind)


def notification_log(*, actor: Actor, customer_id: int, limit: int = 200) -> list[LogEntry]:
    """The e-mails of a customer (notifications, invoices, statistics), newest first."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    rows = (
        OutboundEmail.objects.filter(customer=customer)
        .only(
            "id",
            "kind",
            "notification",
            "subject",
            "to_address",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        )
        .order_by("-created_at", "-id")[:limit]
    )
    inst = installation()
    cls = customer.customer_class
    return [
        LogEntry(
            id=e.pk,
            kind=e.kind,
            notification=e.notification,
            label=_label(e),
            subject=e.subject,
            to_address=e.to_address,
            status=e.status,
            attempts=e.attempts,
            last_error=e.last_error,
            created_at=e.created_at,
            sent_at=e.sent_at,
            waiting=waiting_reason(e.kind, e.status, cls, inst),
        )
        for e in rows
    ]
