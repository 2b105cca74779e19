"""The customer page's "Change status" view (issue 5 §1; CU-14 … CU-18): the current status,
the operations the status allows, the status history and the notification log.

Every operation posts ``action`` (and its inputs) to the same URL; it calls
``billcore.notifications.status.change_status`` (the same entry point as the API) with
``actor=request.user`` and the time; a service error is shown as an error message on the page
with its 4xx status and nothing changes (never a 500).

Dates are days on the customer's wall clock (its time zone): "Lift the suspension until DATE"
keeps the service on through that day (until the next midnight); "terminate on DATE" takes
effect at the start of that day.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.invoicing.closing import terminate
from billcore.notifications.selectors import notification_log
from billcore.notifications.status import change_status, midterm_invoice_supported
from billcore.web import base, confirm
from billcore.web.base import customer_zone, local_time, page
from billcore.web.forms import clerk_text

# The operations that take something away from the customer: they ask first (confirm.py).
QUESTIONS = {
    "block": (
        "Block the customer “{name}”? Its accounts become unusable and self-care is closed; "
        "subscriptions are still charged and invoiced.",
        "Block",
    ),
    "terminate": (
        "Terminate the customer “{name}”? Its services stop.",
        "Terminate",
    ),
    "terminate_permanently": (
        "Terminate the customer “{name}” permanently? Nothing is possible afterwards; this "
        "cannot be undone.",
        "Terminate permanently",
    ),
    "export": (
        "Mark the customer “{name}” as exported? It is no longer operational here.",
        "Mark as exported",
    ),
}

DONE = {
    "block": "Customer blocked.",
    "unblock": "Customer unblocked.",
    "reactivate": "Customer reactivated.",
    "export": "Customer marked as exported.",
    "clear_export": "Export flag cleared: the customer is active again.",
}


def _day(field: str, value: str, zone: zoneinfo.ZoneInfo, *, end: bool) -> dt.datetime | None:
    """A date input's value as the start (or, with ``end``, the end) of that day in
    ``zone``; empty: None."""
    value = value.strip()
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not dt.MINYEAR < day.year < dt.MAXYEAR:
        raise ValidationFailed(f"{field}: enter a date as YYYY-MM-DD", field=field)
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _given(request: HttpRequest, action: str, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    post = request.POST
    if action in ("block", "unblock"):
        return {"reason": post.get("reason", "").strip()}
    if action == "lift_suspension_until":
        if "remove" in post:
            return {"until": None}
        until = _day("until", post.get("until", ""), zone, end=True)
        if until is None:
            raise ValidationFailed("until: choose the date", field="until", code="required")
        return {"until": until}
    if action == "terminate":
        return {
            "permanent": post.get("permanent") == "1",
            "terminate_on": _day("terminate_on", post.get("terminate_on", ""), zone, end=False),
            "midterm_invoice": post.get("midterm_invoice") == "1",
        }
    return {}


def _done(action: str, customer: Customer, zone: zoneinfo.ZoneInfo) -> str:
    if action == "lift_suspension_until":
        if customer.suspension_delay_until is None:
            return "The lift-until date was removed."
        until = local_time(customer.suspension_delay_until, zone)
        return f"Suspension lifted until {until} ({zone.key})."
    if action == "terminate":
        if customer.status == Status.CLOSED:
            return "Customer permanently terminated."
        when = f"{local_time(customer.terminate_on, zone)} ({zone.key})"
        if customer.status == Status.PROVISIONALLY_TERMINATED:
            return f"Customer provisionally terminated; permanent termination on {when}."
        return f"Permanent termination scheduled for {when}."
    return DONE[action]


def _offers(customer: Customer) -> dict[str, bool]:
    """The operations the customer's status allows (the service has the final word)."""
    status = customer.status
    closed = status == Status.CLOSED
    engine_suspension = (
        status == Status.SUSPENDED and customer.suspension_reason in lifecycle.ENGINE_SUSPENSIONS
    )
    pending = getattr(customer, "termination_pending", False)
    return {
        "block": not closed and not customer.blocked,
        "unblock": not closed and customer.blocked,
        "lift": not closed and (engine_suspension or customer.suspension_delay_until is not None),
        "terminate": status in (Status.OPEN, Status.SUSPENDED, Status.PROVISIONALLY_TERMINATED),
        "reactivate": status == Status.PROVISIONALLY_TERMINATED or bool(pending and not closed),
        "export": status in (Status.OPEN, Status.SUSPENDED),
        "clear_export": status == Status.EXPORTED,
    }


def _status_page(request: HttpRequest, customer: Customer, *, status: int = 200) -> HttpResponse:
    zone = customer_zone(customer)
    today = base.now().astimezone(zone).date()
    context = {
        "customer": customer,
        "customer_view": "status",
        "account_count": None,
        "display_status": lifecycle.display_status(customer),
        "zone": zone.key,
        "today": today.isoformat(),
        "offers": _offers(customer),
        "midterm_supported": midterm_invoice_supported(),
        "delay_until": local_time(customer.suspension_delay_until, zone),
        "terminate_on": local_time(customer.terminate_on, zone),
        "termination_days": customer.customer_class.termination_delay_days,
        "history": [
            (h, local_time(h.at, zone))
            for h in lifecycle.status_history(actor=request.user, customer_id=customer.pk)
        ],
        "emails": [
            (e, local_time(e.created_at, zone), local_time(e.sent_at, zone))
            for e in notification_log(actor=request.user, customer_id=customer.pk)
        ],
    }
    return render(request, "web/status/customer_status.html", context, status=status)


@page
@require_http_methods(["GET", "POST"])
def customer_status(request: HttpRequest, customer_id: int) -> HttpResponse:
    """GET: the status view; POST: one operation (``action``)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if request.method == "GET":
        return _status_page(request, customer)
    action = request.POST.get("action", "")
    key = (
        "terminate_permanently"
        if action == "terminate" and request.POST.get("permanent") == "1"
        else action
    )
    if key in QUESTIONS and not confirm.confirmed(request):
        question, button = QUESTIONS[key]
        return confirm.ask(
            request,
            title=button,
            question=question.format(name=customer.name),
            button=button,
            back_url=reverse("customer-status", args=[customer.pk]),
        )
    zone = customer_zone(customer)
    try:
        given = _given(request, action, zone)
        saved = change_status(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            action=action,
            given=given,
            terminate=terminate,
        )
    except BillcoreError as exc:
        if isinstance(exc, NotFound):
            raise
        text = clerk_text(exc.message)
        messages.error(request, text[:1].upper() + text[1:])
        fresh = get_customer(actor=request.user, customer_id=customer.pk)
        return _status_page(request, fresh, status=exc.status)
    messages.success(request, _done(action, saved, zone))
    return redirect("customer-status", customer_id=customer.pk)
