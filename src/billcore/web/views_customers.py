"""The customer pages (CU-01 … CU-17): the list, add, the customer page (its frame is
``customer_page``; its tabs are their own modules), the balance adjustment and delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import is_admin
from billcore.classes.selectors import list_classes
from billcore.core.money import format_money
from billcore.customers.models import BalanceControl, CustomerType, Status
from billcore.customers.selectors import get_customer, list_customers
from billcore.customers.services import delete_customer, update_customer
from billcore.errors import BillcoreError, NotFound
from billcore.installation.models import Currency
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Action
from billcore.ledger.selectors import customer_transactions
from billcore.web import base, confirm, exports
from billcore.web.base import fail, page, paginate, query, query_id, reseller_choices
from billcore.web.customer_page import adjustment_form, customer_form, customer_page
from billcore.web.forms import STATUS_FILTER_CHOICES, clerk_text


def home(request: HttpRequest) -> HttpResponse:
    return redirect("customer-list")


@page
def customer_list(request: HttpRequest) -> HttpResponse:
    """CU-01 … CU-17: search, filters, sort, 50 a page; one query for the rows."""
    actor = request.user
    admin = is_admin(actor)

    def get(key: str) -> str:
        return query(request, key)

    search = get("q").strip()
    filters: dict[str, Any] = {
        "search": search,
        "customer_class": query_id(get("class")),
        "currency": get("currency") or None,
        "balance_control": get("balance_control") or None,
        "status": get("status") or None,
        "order": get("order"),
    }
    if admin:
        filters["reseller"] = query_id(get("reseller"))
        filters["customer_type"] = get("customer_type") or None
    customers = list_customers(actor=actor, **filters)
    if exports.wanted(request):
        return customers_csv(customers)
    context = {
        "page": paginate(request, customers),
        "q": search,
        "default_order": "name",
        "filter_classes": list_classes(actor=actor).values_list("id", "name"),
        "filter_currencies": Currency.objects.values_list("code", flat=True),
        "filter_resellers": reseller_choices(actor) if admin else [],
        "balance_controls": BalanceControl.choices,
        "customer_types": CustomerType.choices,
        "statuses": STATUS_FILTER_CHOICES,
        "advanced": bool(get("status") or get("reseller") or get("customer_type")),
        "selected": {
            k: get(k)
            for k in ("class", "currency", "balance_control", "status", "reseller", "customer_type")
        },
        "closed": Status.CLOSED,
    }
    return render(request, "web/customer_list.html", context)


CUSTOMER_COLUMNS = (
    "id",
    "name",
    "type",
    "company",
    "email",
    "class",
    "currency",
    "balance_control",
    "balance",
    "available_funds",
    "credit_limit",
    "status",
    "blocked",
    "reseller_id",
    "created_at",
)


def customers_csv(customers: Any) -> HttpResponse:
    """The filtered list as CSV (issue 17): every matching customer, streamed."""
    rows = (
        (
            c.pk,
            c.name,
            c.customer_type,
            c.company_name,
            c.email,
            c.customer_class.name if c.customer_class_id else "",
            c.currency_id,
            c.balance_control,
            exports.money(c.balance, c.currency.decimals),
            exports.money(c.available_funds, c.currency.decimals) if c.is_prepaid else None,
            exports.money(c.credit_limit, c.currency.decimals),
            c.status,
            c.blocked,
            c.reseller_id,
            c.created_at,
        )
        for c in exports.rows_of(customers)
    )
    return exports.csv_response("customers.csv", CUSTOMER_COLUMNS, rows)


@page
@require_http_methods(["GET", "POST"])
def customer_add(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = customer_form(request, None, request.POST)
        try:
            customer = create_customer(actor=request.user, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            status = fail(form, exc)
            return render(request, "web/customer_form.html", {"form": form}, status=status)
        messages.success(request, f"Customer “{customer.name}” saved.")
        if "_continue" in request.POST:
            return redirect("customer-edit", customer_id=customer.pk)
        return redirect("customer-list")
    return render(request, "web/customer_form.html", {"form": customer_form(request, None)})


@page
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-03, CU-13: header, Address Info, Additional Info, Custom Fields, Balance & Credits."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if request.method == "POST":
        form = customer_form(request, customer, request.POST)
        try:
            saved = update_customer(
                actor=request.user, now=base.now(), customer_id=customer.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            status = fail(form, exc)
            return customer_page(request, customer, form=form, status=status)
        messages.success(request, f"Customer “{saved.name}” saved.")
        if "_save" in request.POST:
            return redirect("customer-list")
        return redirect("customer-edit", customer_id=saved.pk)
    if exports.wanted(request):
        return transactions_csv(request, customer)
    return customer_page(request, customer)


TRANSACTION_COLUMNS = (
    "id",
    "created_at",
    "action",
    "currency",
    "amount",
    "balance_after",
    "account",
    "visible_comment",
    "internal_comment",
    "by",
)


def transactions_csv(request: HttpRequest, customer: Any) -> HttpResponse:
    """The customer's transactions (the Balance & Credits tab's list) as CSV (issue 17)."""
    places = customer.currency.decimals
    txs = customer_transactions(actor=request.user, customer_id=customer.pk)
    rows = (
        (
            tx.pk,
            tx.created_at,
            tx.action,
            customer.currency_id,
            exports.money(tx.amount, places),
            exports.money(tx.balance_after, places),
            tx.account.identifier if tx.account_id else "",
            tx.visible_comment,
            tx.internal_comment,
            tx.actor.get_username() if tx.actor_id else "system",
        )
        for tx in exports.rows_of(txs)
    )
    return exports.csv_response(f"transactions-{customer.pk}.csv", TRANSACTION_COLUMNS, rows)


@page
@require_POST
def customer_adjust(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-12: one ledger transaction; the dialog's token makes a double submit post once."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = adjustment_form(request.POST)
    if form.attach_input_errors():
        # Every error the dialog can see at once (no action chosen, no amount, a malformed
        # one); the service's own rules come after, one at a time.
        return customer_page(request, customer, adjust_form=form, status=400)
    try:
        data = form.posted()
        result = record_transaction(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            action=data.get("action"),
            amount=data.get("amount"),
            visible_comment=data.get("visible_comment", ""),
            internal_comment=data.get("internal_comment", ""),
            idempotency_key=data.get("idempotency_key") or None,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, adjust_form=form, status=status)
    decimals = customer.currency.decimals
    code = customer.currency_id
    if result.available_funds is not None:
        after = f"Available funds: {format_money(result.available_funds, decimals)} {code}."
    else:
        after = f"Balance: {format_money(result.balance, decimals)} {code}."
    if result.replayed:
        messages.info(
            request, f"This balance adjustment was already posted; nothing changed. {after}"
        )
    else:
        label = Action(result.action).label
        amount = format_money(abs(result.amount), decimals)
        messages.success(request, f"{label} of {amount} {code} posted. {after}")
    return redirect(reverse("customer-edit", args=[customer.pk]) + "#tab-balance")


@page
@require_POST
def customer_delete(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Delete customer",
            question=f"Delete the customer “{customer.name}”? This cannot be undone. Only a "
            "customer without transactions can be deleted.",
            button="Delete",
            back_url=reverse("customer-edit", args=[customer.pk]),
        )
    try:
        delete_customer(actor=request.user, now=base.now(), customer_id=customer.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect("customer-edit", customer_id=customer.pk)
    messages.success(request, f"Customer “{customer.name}” deleted.")
    return redirect("customer-list")
