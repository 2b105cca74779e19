"""Saved cards about to expire (issue 5 §4, ``card_expiring``): part of the engine's
``notifications`` step, kept beside the saved payment methods it reads (invoicing), while the
e-mail goes through ``notifications.services.notify`` below.

A customer whose class sends ``card_expiring`` and whose saved card expires at the end of this
month or the next (on the customer's wall clock) is told once per expiry (dedupe key
``card_expiring:<year>-<month>``). Idempotent for the same ``now``; one transaction per
customer."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from billcore.classes.models import Notification
from billcore.customers.models import Customer
from billcore.errors import BillcoreError
from billcore.invoicing.documents import customer_zone
from billcore.invoicing.models import PaymentMethod
from billcore.notifications.models import OutboundEmail
from billcore.notifications.services import SCANNED, Report, classes_sending, notify


def _month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def card_expiring_step(*, now: dt.datetime, report: Report) -> None:
    classes = classes_sending(Notification.CARD_EXPIRING)
    if not classes:
        return
    # Every month that is "this month" somewhere on Earth now, and the month after each.
    months: set[tuple[int, int]] = set()
    for hours in (-14, 0, 14):
        moment = now + dt.timedelta(hours=hours)
        months |= {(moment.year, moment.month), _month_after(moment.year, moment.month)}
    wanted = Q()
    for year, month in months:
        wanted |= Q(exp_year=year, exp_month=month)
    cards = (
        PaymentMethod.objects.filter(wanted)
        .filter(customer__customer_class_id__in=list(classes), customer__status__in=SCANNED)
        .exclude(customer__email="")
        .select_related("customer")
        .order_by("customer_id")
    )
    for card in cards:
        local = now.astimezone(customer_zone(card.customer))
        this = (local.year, local.month)
        if (card.exp_year, card.exp_month) not in (this, _month_after(*this)):
            continue
        key = f"card_expiring:{card.exp_year}-{card.exp_month}"
        if OutboundEmail.objects.filter(customer_id=card.customer_id, dedupe_key=key).exists():
            continue
        try:
            if _card_one(customer_id=card.customer_id, key=key, now=now):
                report.notifications_queued += 1
        except BillcoreError as exc:
            report.errors.append((card.customer_id, str(exc)))


@transaction.atomic
def _card_one(*, customer_id: int, key: str, now: dt.datetime) -> bool:
    customer = Customer.objects.select_related("customer_class", "currency").get(pk=customer_id)
    card = PaymentMethod.objects.filter(customer_id=customer_id).first()
    if card is None or key != f"card_expiring:{card.exp_year}-{card.exp_month}":
        return False  # replaced meanwhile
    queued = notify(
        customer=customer,
        kind=Notification.CARD_EXPIRING,
        now=now,
        context={
            "card_brand": card.brand,
            "card_last4": card.last4,
            "card_expiry": f"{card.exp_month:02d}/{card.exp_year}",
        },
        dedupe_key=key,
    )
    return queued is not None
