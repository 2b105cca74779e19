"""Notifications (issue 5 §4): queue a customer's notification e-mail, edit the templates, and
the engine's ``notifications`` step for low funds (a saved card expiring is
``invoicing.cards``, beside the saved payment methods; sending is ``outbox``).

``notify`` runs inside the caller's transaction (the status change, the invoice, the
collection step it announces): the e-mail is an ``OutboundEmail`` row of kind
``notification`` holding its rendered subject and body, sent later by the engine's mail step
from the class's or the installation's From address (CC-08). It queues nothing when the
customer's class does not send that kind, the customer has no e-mail address, or an e-mail
with the same ``dedupe_key`` was already queued for the customer (checked first, and guarded
by the table's unique constraint inside a savepoint for the race).

Templates are Django template language rendered by a bare engine: no loaders (no
``{% include %}`` of files), no libraries beyond the built-in tags and filters, no HTML
escaping (the e-mails are plain text). A custom template that fails to render never breaks
the caller: the default is used and the failure logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.template import Context, Engine, Template, TemplateSyntaxError

from billcore.accounts.access import Actor, is_admin, user_row
from billcore.audit.services import record, snapshot
from billcore.classes.models import CustomerClass, Notification
from billcore.core.money import format_money
from billcore.customers.models import BalanceControl, Customer, Status
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.notifications.defaults import SAMPLE, VARIABLES, default_for
from billcore.notifications.models import (
    EmailKind,
    EmailStatus,
    NotificationState,
    NotificationTemplate,
    OutboundEmail,
)
from billcore.notifications.outbox import installation, sender_name

logger = logging.getLogger(__name__)

SUBJECT_MAX = 300
BODY_MAX = 20000


class Report(Protocol):
    """What the engine's step reports into (``engine.EngineReport``)."""

    notifications_queued: int
    errors: list[tuple[int, str]]


# --------------------------------------------------------------------------- rendering


@cache
def _engine() -> Engine:
    return Engine(autoescape=False, loaders=[], libraries={})


def compile_source(source: str, *, field: str) -> Template:
    try:
        return Template(source, engine=_engine())
    except TemplateSyntaxError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field, code="template_syntax") from exc


def _render(template: Template, context: dict[str, Any]) -> str:
    """Plain text: Django marks its output safe for HTML, which this text never is (a page
    showing it must escape it)."""
    return "".join([template.render(Context(context, autoescape=False, use_tz=False))])


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:SUBJECT_MAX]


def render_pair(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject (one line) and body rendered with ``context``; raises on a broken template."""
    rendered_subject = _one_line(_render(compile_source(subject, field="subject"), context))
    rendered_body = _render(compile_source(body, field="body"), context)
    return rendered_subject, rendered_body


def _zone(customer: Customer) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(customer.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_date(customer: Customer, value: dt.datetime | None) -> str:
    """``value`` as YYYY-MM-DD on the customer's wall clock ("" for None)."""
    return value.astimezone(_zone(customer)).strftime("%Y-%m-%d") if value else ""


def money_text(customer: Customer, value: Decimal | None) -> str:
    """An amount with the currency's decimals (more when it has more non-zero digits)."""
    return format_money(value, customer.currency.decimals) if value is not None else ""


def invoice_context(customer: Customer, invoice: Any) -> dict[str, Any]:
    """The variables of the invoice notifications (invoice_issued, payment_due_soon,
    invoice_overdue, suspension_warning) for ``invoice``."""
    return {
        "invoice": invoice,
        "invoice_number": invoice.number,
        "total": money_text(customer, invoice.total),
        "amount_due": money_text(customer, invoice.amount_due),
        "due_date": local_date(customer, invoice.due_at),
    }


# The date a notice announces, by kind (the collections pass it as ``step_at``).
STEP_DATE = {
    "suspension_warning": "suspend_date",
    "late_fee_warning": "fee_date",
    "termination_warning": "terminate_date",
}
SUSPENSION_TEXT = {
    "overdue": "an overdue invoice",
    "insufficient_funds": "insufficient funds for your subscriptions",
}


def enrich(
    *, kind: str, customer: Customer, context: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """The caller's context made ready for a template: amounts (Decimal) as text with the
    currency's decimals, date-times on the customer's wall clock, and the variables the
    defaults name derived from what was given (``invoice`` → invoice_number, total,
    amount_due, due_date; ``due_at`` → due_date; ``step_at`` → the notice's date;
    ``terminate_on`` → terminate_date; the suspension's reason in words). What the caller
    gave is never overwritten."""
    zone = _zone(customer)
    out: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, Decimal):
            out[key] = money_text(customer, value)
        elif isinstance(value, dt.datetime):
            out[key] = value.astimezone(zone)
        else:
            out[key] = value
    invoice = context.get("invoice")
    if invoice is not None and getattr(invoice, "number", None):
        for key, value in invoice_context(customer, invoice).items():
            out.setdefault(key, value)
    dates = {"due_at": "due_date", "terminate_on": "terminate_date"}
    if kind in STEP_DATE:
        dates["step_at"] = STEP_DATE[kind]
    for key, name in dates.items():
        if isinstance(context.get(key), dt.datetime):
            out.setdefault(name, local_date(customer, context[key]))
    if kind in (Notification.PROVISIONALLY_TERMINATED, Notification.PERMANENTLY_TERMINATED):
        out.setdefault("terminate_date", local_date(customer, customer.terminate_on or now))
    if kind == Notification.SUSPENDED:
        out.setdefault("reason", SUSPENSION_TEXT.get(customer.suspension_reason, ""))
    return out


def base_context(
    *, customer: Customer, now: dt.datetime, inst: InstallationSettings | None = None
) -> dict[str, Any]:
    inst = inst or installation()
    return {
        "customer": customer,
        "customer_class": customer.customer_class,
        "legal_name": inst.legal_name,
        "sender_name": sender_name(customer.customer_class, inst),
        "now": now.astimezone(_zone(customer)),
        "currency": customer.currency_id,
    }


def sample_context(kind: str) -> dict[str, Any]:
    """What the preview and the check at save time render with."""
    inst = installation()
    return {
        "customer": {
            "name": "Sample Customer Ltd",
            "email": "billing@customer.example",
            "company_name": "Sample Customer Ltd",
            "first_name": "Jane",
            "last_name": "Doe",
        },
        "customer_class": {"name": "Sample class"},
        "legal_name": inst.legal_name,
        "sender_name": inst.legal_name or inst.notification_from_name,
        "now": dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
        "currency": "USD",
        **{k: v for k, v in SAMPLE.items() if k in VARIABLES.get(kind, ())},
    }


# --------------------------------------------------------------------------- templates


@dataclass
class TemplateView:
    kind: str
    label: str
    subject: str
    body: str
    custom: bool
    updated_at: dt.datetime | None
    updated_by: str | None
    variables: tuple[str, ...]


def _kind(kind: str) -> str:
    if kind not in Notification.values:
        raise NotFound(
            f"{kind!r} is not a notification; notifications are {', '.join(Notification.values)}",
            field="kind",
        )
    return kind


def _admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise NotFound("not found")


def _view(kind: str, row: NotificationTemplate | None) -> TemplateView:
    subject, body = (row.subject, row.body) if row else default_for(kind)
    return TemplateView(
        kind=kind,
        label=str(Notification(kind).label),
        subject=subject,
        body=body,
        custom=row is not None,
        updated_at=row.updated_at if row else None,
        updated_by=(row.updated_by.username if row and row.updated_by else None),
        variables=VARIABLES.get(kind, ()),
    )


def list_templates(*, actor: Actor) -> list[TemplateView]:
    _admin(actor)
    rows = {t.kind: t for t in NotificationTemplate.objects.select_related("updated_by")}
    return [_view(kind, rows.get(kind)) for kind in Notification.values]


def get_template(*, actor: Actor, kind: str) -> TemplateView:
    _admin(actor)
    row = NotificationTemplate.objects.select_related("updated_by").filter(kind=_kind(kind))
    return _view(kind, row.first())


def _text(field: str, value: Any, *, max_length: int) -> str:
    if value is None:
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if "\x00" in value:
        raise ValidationFailed(f"{field} contains a NUL character", field=field)
    if not value.strip():
        raise ValidationFailed(f"{field} is required", field=field, code="required")
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field} is longer than {max_length} characters", field=field, code="too_long"
        )
    return value


def preview(*, actor: Actor, kind: str, subject: Any, body: Any) -> tuple[str, str]:
    """``subject`` and ``body`` rendered with the sample context; ValidationFailed naming
    the field when one does not compile or render (what ``update_template`` refuses)."""
    _admin(actor)
    kind = _kind(kind)
    subject = _text("subject", subject, max_length=SUBJECT_MAX)
    body = _text("body", body, max_length=BODY_MAX)
    context = sample_context(kind)
    out = []
    for field, source in (("subject", subject), ("body", body)):
        template = compile_source(source, field=field)
        try:
            out.append(_render(template, context))
        except Exception as exc:
            raise ValidationFailed(
                f"{field} does not render: {type(exc).__name__}: {exc}",
                field=field,
                code="template_render",
            ) from exc
    rendered_subject = _one_line(out[0])
    if not rendered_subject:
        raise ValidationFailed("subject renders empty", field="subject", code="required")
    return rendered_subject, out[1]


@transaction.atomic
def update_template(
    *, actor: Actor, now: dt.datetime, kind: str, subject: Any, body: Any
) -> TemplateView:
    """Store an edited template (it must compile and render with a sample context)."""
    preview(actor=actor, kind=kind, subject=subject, body=body)
    row = NotificationTemplate.objects.select_for_update().filter(kind=kind).first()
    user = user_row(actor)
    if row is None:
        row = NotificationTemplate.objects.create(
            kind=kind, subject=subject, body=body, updated_at=now, updated_by=user
        )
        record(actor=actor, now=now, operation="create", obj=row, before=None, after=snapshot(row))
    else:
        before = snapshot(row)
        row.subject, row.body, row.updated_at, row.updated_by = subject, body, now, user
        row.save()
        record(
            actor=actor, now=now, operation="update", obj=row, before=before, after=snapshot(row)
        )
    return _view(kind, row)


@transaction.atomic
def reset_template(*, actor: Actor, now: dt.datetime, kind: str) -> TemplateView:
    """Back to the default: the edited template is deleted."""
    _admin(actor)
    kind = _kind(kind)
    row = NotificationTemplate.objects.select_for_update().filter(kind=kind).first()
    if row is not None:
        before = snapshot(row)
        record(actor=actor, now=now, operation="delete", obj=row, before=before, after=None)
        row.delete()
    return _view(kind, None)


# --------------------------------------------------------------------------- notify


def _rendered(kind: str, context: dict[str, Any]) -> tuple[str, str]:
    row = NotificationTemplate.objects.filter(kind=kind).values_list("subject", "body").first()
    if row is not None:
        try:
            return render_pair(row[0], row[1], context)
        except Exception:
            logger.exception("notification template %r does not render; default used", kind)
    subject, body = default_for(kind)
    return render_pair(subject, body, context)


def _queued(customer_id: int, dedupe_key: str) -> bool:
    return OutboundEmail.objects.filter(customer_id=customer_id, dedupe_key=dedupe_key).exists()


def notify(
    *,
    customer: Customer,
    kind: str,
    now: dt.datetime,
    context: dict[str, Any],
    dedupe_key: str | None = None,
) -> OutboundEmail | None:
    """Queue the ``kind`` notification for ``customer`` (see the module docstring); the new
    e-mail, or None when nothing was queued."""
    if kind not in Notification.values:
        raise ValidationFailed(f"{kind!r} is not a notification", field="kind")
    cls = customer.customer_class
    if kind not in (cls.notifications or []) or not customer.email:
        return None
    if dedupe_key is not None and _queued(customer.pk, dedupe_key):
        return None
    given = enrich(kind=kind, customer=customer, context=context, now=now)
    subject, body = _rendered(kind, {**given, **base_context(customer=customer, now=now)})
    try:
        with transaction.atomic():
            return OutboundEmail.objects.create(
                customer=customer,
                kind=EmailKind.NOTIFICATION,
                notification=kind,
                subject=subject,
                body=body,
                to_address=customer.email,
                status=EmailStatus.PENDING,
                dedupe_key=dedupe_key,
                created_at=now,
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None  # queued meanwhile by another transaction


# --------------------------------------------------------------------------- engine step

SCANNED = (Status.OPEN, Status.SUSPENDED)


def classes_sending(kind: str) -> dict[int, CustomerClass]:
    return {
        c.pk: c
        for c in CustomerClass.objects.all()
        if kind in (c.notifications or [])
        and (kind != Notification.LOW_FUNDS or c.low_funds_threshold is not None)
    }


def funds_left(customer: Customer, *, now: dt.datetime) -> Decimal | None:
    """Prepaid: the available funds (-balance - reserved); postpaid with a credit limit: the
    room left under it (limit - balance - reserved); postpaid without one: None."""
    balance: Decimal = customer.balance
    reserved: Decimal = customer.reserved
    if customer.balance_control == BalanceControl.PREPAID:
        return -balance - reserved
    limit = customer.effective_credit_limit(now=now)
    if limit is None:
        return None
    return limit - balance - reserved


def _below(customer: Customer, threshold: Decimal, now: dt.datetime) -> bool | None:
    funds = funds_left(customer, now=now)
    return None if funds is None else funds < threshold


def scan_step(*, now: dt.datetime, report: Report) -> None:
    """The engine's ``notifications`` step: low funds once per crossing of the class's
    threshold (a saved card expiring is ``invoicing.cards.card_expiring_step``, beside the
    saved payment methods). Idempotent for the same ``now``; one transaction per customer."""
    _scan_low_funds(now=now, report=report)


def _scan_low_funds(*, now: dt.datetime, report: Report) -> None:
    classes = classes_sending(Notification.LOW_FUNDS)
    if not classes:
        return
    armed = dict(
        NotificationState.objects.filter(
            kind=Notification.LOW_FUNDS, customer__customer_class_id__in=list(classes)
        ).values_list("customer_id", "armed")
    )
    customers = (
        Customer.objects.filter(customer_class_id__in=list(classes), status__in=SCANNED)
        .only(
            "id",
            "customer_class_id",
            "balance_control",
            "balance",
            "reserved",
            "credit_limit",
            "temp_credit_limit",
            "credit_limit_until",
        )
        .order_by("id")
    )
    for c in customers.iterator(chunk_size=2000):
        threshold = classes[c.customer_class_id].low_funds_threshold
        assert threshold is not None
        below = _below(c, threshold, now)
        if below is None or below != armed.get(c.pk, True):
            continue  # no limit, or nothing changed: below and fired, or above and armed
        try:
            if _low_funds_one(customer_id=c.pk, now=now):
                report.notifications_queued += 1
        except BillcoreError as exc:
            report.errors.append((c.pk, str(exc)))


@transaction.atomic
def _low_funds_one(*, customer_id: int, now: dt.datetime) -> bool:
    """Under the state row's lock, with the customer read again: fire or re-arm."""
    NotificationState.objects.get_or_create(
        customer_id=customer_id,
        kind=Notification.LOW_FUNDS,
        defaults={"armed": True, "count": 0, "updated_at": now},
    )
    state = NotificationState.objects.select_for_update().get(
        customer_id=customer_id, kind=Notification.LOW_FUNDS
    )
    customer = Customer.objects.select_related("customer_class", "currency").get(pk=customer_id)
    threshold = customer.customer_class.low_funds_threshold
    if threshold is None or customer.status not in SCANNED:
        return False
    funds = funds_left(customer, now=now)
    if funds is None:
        return False
    if funds >= threshold:
        if not state.armed:
            state.armed, state.updated_at = True, now
            state.save(update_fields=["armed", "updated_at"])
        return False
    if not state.armed:
        return False
    state.armed, state.count, state.updated_at = False, state.count + 1, now
    state.save(update_fields=["armed", "count", "updated_at"])
    prepaid = customer.balance_control == BalanceControl.PREPAID
    queued = notify(
        customer=customer,
        kind=Notification.LOW_FUNDS,
        now=now,
        context={
            "funds": money_text(customer, funds),
            "threshold": money_text(customer, threshold),
            "funds_label": "available funds" if prepaid else "remaining credit",
        },
        dedupe_key=f"low_funds:{state.count}",
    )
    return queued is not None
