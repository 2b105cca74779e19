"""Bulk actions of the list pages (issue 17, item 4): the customer list's Block, Unblock and
Change class, the approvals page's Approve.

The list's form posts the ticked ids (``ids``) and the chosen action; "select all on this
page" posts ``all_on_page=1`` with every id of the page (``page_ids``), so it works without
JavaScript. The first post answers with the confirmation page (``confirm``); the confirmed
post does each item through the service the single action uses, each in its own
transaction (so one failure does not undo the others) and audited as that action is, and
answers with how many succeeded and each failure with its reason. Ids the user may not see
(another reseller's customers) are failures "not found", as the single pages' 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billcore.classes.selectors import list_classes
from billcore.customers.models import Status
from billcore.customers.selectors import list_customers
from billcore.customers.services import update_customer
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.invoicing import selectors as invoicing_selectors
from billcore.invoicing.closing import approve_period, terminate
from billcore.notifications.status import change_status
from billcore.web import base, confirm
from billcore.web.base import customer_zone, page, query_id
from billcore.web.forms import clerk_text
from billcore.web.views_invoicing import period_text

MAX_ITEMS = 1000
CUSTOMER_ACTIONS = {
    "block": ("Block", "blocked"),
    "unblock": ("Unblock", "unblocked"),
    "change_class": ("Change class", "moved to the class"),
}


def selected_ids(request: HttpRequest) -> list[int]:
    """The ticked ids, or every id of the page with "select all on this page"; in order,
    once each; anything that is not an id is left out."""
    post = request.POST
    values = post.getlist("page_ids") if post.get("all_on_page") == "1" else post.getlist("ids")
    ids = [i for i in (query_id(v) for v in values) if i is not None]
    return list(dict.fromkeys(ids))[:MAX_ITEMS]


def back_url(request: HttpRequest, name: str) -> str:
    """The list page the form came from, with its query string (filters, page)."""
    back = request.POST.get("back", "")
    return reverse(name) + (back if back.startswith("?") else "")


def result_page(
    request: HttpRequest,
    *,
    title: str,
    done: int,
    total: int,
    summary: str,
    failures: list[tuple[str, str]],
    back: str,
    details: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "title": title,
        "done": done,
        "total": total,
        "summary": summary,
        "failures": failures,
        "details": details or [],
        "back_url": back,
    }
    return render(request, "web/bulk_result.html", context, status=status)


def refused(request: HttpRequest, *, title: str, exc: ValidationFailed, back: str) -> HttpResponse:
    """The form's own mistake (no action, nothing ticked, no class): nothing is done."""
    return result_page(
        request,
        title=title,
        done=0,
        total=0,
        summary="Nothing was done.",
        failures=[(exc.field or "", clerk_text(exc.message))],
        back=back,
        status=400,
    )


def run_each(
    items: list[tuple[int, str]], act: Callable[[int], Any]
) -> tuple[int, list[tuple[str, str]], list[Any]]:
    """``act`` on each item in its own transaction: (how many succeeded, (label, reason) of
    each failure, what each success gave)."""
    done = 0
    failures: list[tuple[str, str]] = []
    results: list[Any] = []
    for item_id, label in items:
        try:
            with transaction.atomic():
                results.append(act(item_id))
        except BillcoreError as exc:
            reason = "not found" if isinstance(exc, NotFound) else clerk_text(exc.message)
            failures.append((label, reason))
            continue
        done += 1
    return done, failures, results


# --------------------------------------------------------------------------- customers


def _customer_label(customer: Any) -> str:
    return f"#{customer.pk} {customer.name}"


@page
@require_POST
def customer_bulk(request: HttpRequest) -> HttpResponse:
    """Block, unblock or move to another class each ticked customer of the list."""
    actor = request.user
    back = back_url(request, "customer-list")
    title = "Customers: bulk action"
    action = request.POST.get("action", "")
    ids = selected_ids(request)
    class_id = query_id(request.POST.get("customer_class"))
    try:
        if action not in CUSTOMER_ACTIONS:
            raise ValidationFailed("action: choose an action", field="action")
        if not ids:
            raise ValidationFailed("ids: tick at least one customer", field="ids")
        if action == "change_class" and class_id is None:
            raise ValidationFailed(
                "customer_class: choose the class to move them to", field="customer_class"
            )
    except ValidationFailed as exc:
        return refused(request, title=title, exc=exc, back=back)
    visible = {c.pk: c for c in list_customers(actor=actor).filter(pk__in=ids)}
    verb, past = CUSTOMER_ACTIONS[action]
    class_name = ""
    if class_id is not None and action == "change_class":
        cls = list_classes(actor=actor).filter(pk=class_id).first()
        class_name = cls.name if cls is not None else f"#{class_id}"
        past = f"moved to the class “{class_name}”"
    if not confirm.confirmed(request):
        names = ", ".join(_customer_label(visible[i]) for i in ids if i in visible)
        what = verb.lower() if action != "change_class" else f"move to the class “{class_name}”"
        count = len(ids)
        noun = "customer" if count == 1 else "customers"
        return confirm.ask(
            request,
            title=title,
            question=f"{what[:1].upper()}{what[1:]}: {count} {noun}? {names}",
            button=f"{verb} {count} {noun}",
            back_url=back,
            danger=action == "block",
        )

    labels = {i: _customer_label(visible[i]) if i in visible else f"#{i}" for i in ids}

    def act(customer_id: int) -> Any:
        customer = visible.get(customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found", field="id")
        now = base.now()
        if action == "change_class":
            return update_customer(
                actor=actor,
                now=now,
                customer_id=customer_id,
                changes={"customer_class": class_id},
            )
        if customer.status == Status.CLOSED:
            raise ValidationFailed("permanently terminated", field="status")
        if action == "block" and customer.blocked:
            raise ValidationFailed("already blocked", field="blocked")
        if action == "unblock" and not customer.blocked:
            raise ValidationFailed("not blocked", field="blocked")
        return change_status(
            actor=actor,
            now=now,
            customer_id=customer_id,
            action=action,
            given={"reason": ""},
            terminate=terminate,
        )

    done, failures, _results = run_each([(i, labels[i]) for i in ids], act)
    noun = "customer" if len(ids) == 1 else "customers"
    return result_page(
        request,
        title=title,
        done=done,
        total=len(ids),
        summary=f"{done} of {len(ids)} {noun} {past}.",
        failures=failures,
        back=back,
    )


# --------------------------------------------------------------------------- periods


@page
@require_POST
def period_bulk_approve(request: HttpRequest) -> HttpResponse:
    """Approve each ticked period awaiting approval (CC-18): its invoices are issued."""
    actor = request.user
    back = back_url(request, "periods-awaiting")
    title = "Approve periods"
    ids = selected_ids(request)
    if not ids:
        exc = ValidationFailed("ids: tick at least one period", field="ids")
        return refused(request, title=title, exc=exc, back=back)
    waiting = invoicing_selectors.periods_awaiting_approval(actor=actor).filter(pk__in=ids)
    visible = {p.pk: p for p in waiting}
    labels = {}
    for i in ids:
        p = visible.get(i)
        if p is None:
            labels[i] = f"Period #{i}"
        else:
            text = period_text(p.start, p.end, customer_zone(p.customer))
            labels[i] = f"#{p.customer_id} {p.customer.name}, {text}"
    if not confirm.confirmed(request):
        noun = "period" if len(ids) == 1 else "periods"
        return confirm.ask(
            request,
            title=title,
            question=f"Approve {len(ids)} {noun} and issue their invoices now? "
            + "; ".join(labels[i] for i in ids),
            button=f"Approve {len(ids)} {noun}",
            back_url=back,
            danger=False,
        )

    def act(period_id: int) -> Any:
        if period_id not in visible:
            raise NotFound(f"period {period_id} not found", field="id")
        return approve_period(actor=actor, now=base.now(), period_id=period_id)

    done, failures, results = run_each([(i, labels[i]) for i in ids], act)
    numbers = [inv.number for invoices in results for inv in invoices]
    noun = "period" if len(ids) == 1 else "periods"
    summary = f"{done} of {len(ids)} {noun} approved and closed."
    if numbers:
        summary += f" {len(numbers)} invoice{'s' if len(numbers) != 1 else ''} issued."
    return result_page(
        request,
        title=title,
        done=done,
        total=len(ids),
        summary=summary,
        failures=failures,
        back=back,
        details=numbers,
    )
