"""The e-mail outbox: queueing an e-mail and the engine's ``mail`` step that sends what is
queued over SMTP (issue 4 section 5, CC-08, CC-11; notifications of issue 5 §4).

An e-mail is queued (``queue_email``, or ``services.notify`` for a notification) in the same
transaction as what it announces, as a pending ``OutboundEmail`` row. ``send_pending`` sends
them: each pending e-mail (oldest first) is built by the builder of its kind, then *claimed*
by a guarded ``UPDATE … SET attempts = attempts + 1 WHERE status = 'pending' AND attempts =
<read>``, so two engine processes that read it at the same time never both send it; it is sent
through Django's mail API, and marked ``sent`` by a guarded ``UPDATE`` from ``pending``. An
SMTP error leaves it ``pending`` with ``last_error`` for the next run, until the 5th failed
attempt marks it ``failed``. A crash after the SMTP server took the message but before it is
marked leaves it pending: it is sent again by the next run (SMTP gives no way to ask whether a
message arrived).

This module builds the notifications itself (their subject and body were rendered when they
were queued); the builders of the other kinds are passed in by the layer that owns what they
describe (``invoicing.mail`` for invoices and usage statistics), so nothing here reaches up.

From (CC-08): the class's own name and address when its override is on, otherwise the
installation's legal-info ones; with neither the e-mail fails at once, naming the fix.

Invoice and credit-note e-mails wait instead (issue 17 §6): while the seller's legal name or
its From address is missing they stay pending, untouched (no attempt counted), and
``waiting_reason`` says why (the engine page and the customer's notification log show it);
the first run after the details are saved sends them.

With no SMTP host configured (``BILLCORE_SMTP_HOST``) nothing is sent and the report says so.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F

from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.installation.models import InstallationSettings
from billcore.notifications.models import EmailKind, EmailStatus, OutboundEmail

MAX_ATTEMPTS = 5
NO_FROM = "no From address: set the installation's legal info (CC-08)"
# The e-mails that carry a seller's document: they wait for the seller's details.
SELLER_KINDS: tuple[str, ...] = (EmailKind.INVOICE, EmailKind.CREDIT_NOTE)


@dataclass
class MailReport:
    sent: int = 0  # e-mails handed to the SMTP server in this run
    failed: int = 0  # e-mails whose sending failed in this run (retried or given up)
    pending: int = 0  # e-mails still pending after this run
    waiting: int = 0  # invoice/credit-note e-mails left pending: seller details missing
    note: str = ""


class MailBuildError(Exception):
    """The e-mail cannot be built (no From address, unknown kind): it fails at once."""


@dataclass
class Built:
    message: EmailMessage
    to_address: str
    from_address: str
    subject: str


# Builds the message of one e-mail: the row (its ``to_address`` already set), the
# installation's settings, and the From address (CC-08).
Builder = Callable[[OutboundEmail, InstallationSettings, str], Built]


def installation() -> InstallationSettings:
    inst, _ = InstallationSettings.objects.get_or_create(pk=1)
    return inst


def from_address(customer: Customer, inst: InstallationSettings) -> str:
    """CC-08: the class's override when on, else the installation's legal-info address."""
    cls = customer.customer_class
    if cls.notification_from_override and cls.notification_from_address:
        return formataddr((cls.notification_from_name, cls.notification_from_address))
    if inst.notification_from_address:
        return formataddr((inst.notification_from_name, inst.notification_from_address))
    raise MailBuildError(NO_FROM)


def seller_missing(customer_class: CustomerClass, inst: InstallationSettings) -> list[str]:
    """The seller's details an invoice or credit-note e-mail to a customer of the class still
    lacks: the installation's legal name, and a From address (the class's own, when its
    override gives one, counts)."""
    missing = inst.missing_seller_details()
    own_from = (
        customer_class.notification_from_override and customer_class.notification_from_address
    )
    if own_from and "From address" in missing:
        missing.remove("From address")
    return missing


def waiting_reason(
    kind: str, status: str, customer_class: CustomerClass, inst: InstallationSettings
) -> str:
    """Why a pending e-mail waits, or "": an invoice or credit-note e-mail while the seller's
    details are missing (issue 17 §6)."""
    if status != EmailStatus.PENDING or kind not in SELLER_KINDS:
        return ""
    missing = seller_missing(customer_class, inst)
    if not missing:
        return ""
    return f"seller details missing: {', '.join(missing)}"


def sender_name(customer_class: CustomerClass, inst: InstallationSettings) -> str:
    """Who the e-mail is from, in words (CC-08): the class's From name when its override is on
    (a reseller's class speaks for the reseller), else the installation's legal name."""
    if customer_class.notification_from_override and customer_class.notification_from_name:
        return str(customer_class.notification_from_name)
    return str(inst.legal_name or inst.notification_from_name)


# --------------------------------------------------------------------------- queueing


def queue_email(
    *,
    customer: Customer,
    kind: str,
    now: dt.datetime,
    invoice_id: int | None = None,
    period_id: int | None = None,
    variant: str = "",
) -> OutboundEmail:
    """Queue an e-mail of ``kind`` to the customer's address, inside the caller's
    transaction; the mail step builds it with the builder of its kind."""
    return OutboundEmail.objects.create(
        customer=customer,
        kind=kind,
        invoice_id=invoice_id,
        period_id=period_id,
        variant=variant,
        to_address=customer.email,
        created_at=now,
    )


def cancel_pending(*, created_before: dt.datetime, reason: str) -> int:
    """Mark the e-mails still pending that were queued before ``created_before`` as never to
    be sent (status ``cancelled``, ``reason`` kept as their last error): the demo's history,
    whose invoices and notices belong to no real customer. Their count."""
    return OutboundEmail.objects.filter(
        status=EmailStatus.PENDING, created_at__lt=created_before
    ).update(status=EmailStatus.CANCELLED, last_error=reason[:500])


# --------------------------------------------------------------------------- sending


def notification_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    """A notification (issue 5 §4): its subject and body were rendered when it was queued
    (``billcore.notifications.services.notify``); sent as stored."""
    if not email.subject or not email.body:
        raise MailBuildError("notification e-mail without a subject or a body")
    message = EmailMessage(
        subject=email.subject, body=email.body, from_email=sender, to=[email.to_address]
    )
    return Built(message, email.to_address, sender, email.subject)


def build_message(
    email: OutboundEmail, inst: InstallationSettings, builders: Mapping[str, Builder]
) -> Built:
    to = email.to_address or email.customer.email
    if not to:
        raise MailBuildError("no To address: the customer has no e-mail address")
    email.to_address = to
    sender = from_address(email.customer, inst)
    builder = builders.get(email.kind)
    if builder is None:
        raise MailBuildError(f"the mail step does not build {email.kind!r} e-mails")
    return builder(email, inst, sender)


def _pending_count() -> int:
    return OutboundEmail.objects.filter(status=EmailStatus.PENDING).count()


def send_pending(
    *,
    now: dt.datetime,
    builders: Mapping[str, Builder],
    connection: Any = None,
) -> MailReport:
    """Send every pending e-mail, oldest first (see the module docstring). ``builders``: the
    builder of each kind beyond notifications (which this module builds)."""
    report = MailReport()
    if connection is None and not settings.EMAIL_HOST:
        pending = _pending_count()
        report.pending = pending
        report.note = f"SMTP is not configured (BILLCORE_SMTP_HOST): {pending} e-mails pending"
        return report
    inst = installation()
    every: dict[str, Builder] = {EmailKind.NOTIFICATION: notification_message, **builders}
    conn = connection if connection is not None else get_connection(fail_silently=False)
    ids = list(
        OutboundEmail.objects.filter(status=EmailStatus.PENDING)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    try:
        for pk in ids:
            _send_one(pk, now=now, inst=inst, builders=every, conn=conn, report=report)
    finally:
        _reset(conn)
    report.pending = _pending_count()
    if report.waiting:
        report.note = (
            f"{report.waiting} invoice or credit-note e-mails wait: seller details missing "
            "(Settings)"
        )
    return report


def _reset(conn: Any) -> None:
    """Drop a broken connection so the next message opens a fresh one."""
    try:
        conn.close()
    except (smtplib.SMTPException, OSError):
        pass


def _send_one(
    pk: int,
    *,
    now: dt.datetime,
    inst: InstallationSettings,
    builders: Mapping[str, Builder],
    conn: Any,
    report: MailReport,
) -> None:
    email = (
        OutboundEmail.objects.select_related(
            "customer", "customer__customer_class", "customer__currency"
        )
        .filter(pk=pk, status=EmailStatus.PENDING)
        .first()
    )
    if email is None:
        return  # another process sent it meanwhile
    mine = OutboundEmail.objects.filter(pk=pk, status=EmailStatus.PENDING)
    if waiting_reason(email.kind, email.status, email.customer.customer_class, inst):
        report.waiting += 1  # left pending, untouched: sent by the first run after the fix
        return
    try:
        built = build_message(email, inst, builders)
    except MailBuildError as exc:
        with transaction.atomic():
            if mine.update(status=EmailStatus.FAILED, last_error=str(exc)[:500]):
                report.failed += 1
        return
    # Claim: only the process whose read is still current sends it.
    with transaction.atomic():
        claimed = mine.filter(attempts=email.attempts).update(
            attempts=F("attempts") + 1,
            to_address=built.to_address[:254],
            from_address=built.from_address[:300],
            subject=built.subject[:300],
        )
    if not claimed:
        return
    try:
        conn.send_messages([built.message])
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        _reset(conn)
        status = EmailStatus.FAILED if email.attempts + 1 >= MAX_ATTEMPTS else EmailStatus.PENDING
        with transaction.atomic():
            mine.update(status=status, last_error=error)
        report.failed += 1
        return
    with transaction.atomic():
        if mine.update(status=EmailStatus.SENT, sent_at=now, last_error=""):
            report.sent += 1
