"""The customer page's Balance & Credits and Fraud Protection tabs (CU-12, CU-13, issue 3) and
its Accounts view (CC-21). Same rule as ``base``: every view parses what was posted, calls a
service or a selector with ``actor=request.user`` and the time, and shows what came back; a
service's error appears beside the input it names and nothing is saved; ``NotFound`` is the
404 page. The tabs register what they show with the customer page (``customer_page``).

The tabs' forms live inside the customer form's tab panels, so their inputs name their own
``<form>`` (drawn after the customer form) with the ``form`` attribute: HTML has no nested
forms, and the customer form's Save never posts them.

Two things the page does with what it is given, not rules:
* date-times are the customer's wall clock (its time zone): the temporary limit's "until"
  input and the xDR date filters become aware datetimes here, and xDR times are shown so;
* "spent today" is the fraud counter of ``fraud_day`` when that day is today in that zone.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from billcore.charging.models import Service, XdrStatus, service_label
from billcore.charging.selectors import CSV_COLUMNS, customer_xdrs, summary
from billcore.classes.models import FraudAction
from billcore.core.charging import REASONS
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.customers.services import update_customer
from billcore.errors import BillcoreError, NotFound, ValidationFailed
from billcore.ledger.transfers import transfer
from billcore.rating import selectors as rating_selectors
from billcore.rating.models import ProductKind
from billcore.rating.services import set_account_products
from billcore.subscribers.models import Account, AccountType
from billcore.subscribers.services import (
    create_account,
    get_account,
    update_account,
    visible_accounts,
)
from billcore.validation import as_int
from billcore.web import base, exports
from billcore.web.base import (
    back_to_tab,
    customer_money,
    customer_zone,
    fail,
    page,
    paginate,
    query,
    query_id,
    wall_clock,
)
from billcore.web.customer_page import adjustment_form, customer_page, customer_tab
from billcore.web.forms import Choice, PageForm, Text, input_amount
from billcore.web.forms_rating import AccountProductsForm

# The <form> elements the tab panels' inputs belong to (drawn after the customer form).
LIMIT_FORM = "temp-limit-form"
FRAUD_FORM = "fraud-form"
XDR_FORM = "xdr-filters"
# Query parameters of the xDR list (and of its CSV download).
XDR_FILTERS = ("xdr_service", "xdr_status", "xdr_from", "xdr_to", "xdr_account")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what a datetime-local input shows and posts


# --------------------------------------------------------------------------- forms


def _decimal_input(label: str, *, help_text: str = "", show_if: str = "", form: str = "") -> Text:
    attrs = {"inputmode": "decimal", "autocomplete": "off", "class": "input-short"}
    if form:
        attrs["form"] = form
    return Text(label, help_text=help_text, show_if=show_if, **attrs)


class TemporaryLimitForm(PageForm):
    """A temporary credit limit until a date-time on the customer's wall clock (postpaid)."""

    def __init__(
        self,
        data: Any = None,
        *,
        initial: Mapping[str, Any] | None = None,
        time_zone: str,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.fields["temp_credit_limit"] = _decimal_input("Temporary credit limit", form=LIMIT_FORM)
        until = Text(
            "In force until",
            help_text=f"Date and time in the customer's time zone ({time_zone}).",
            form=LIMIT_FORM,
        )
        until.widget.input_type = "datetime-local"
        self.fields["credit_limit_until"] = until


class FraudForm(PageForm):
    """The customer's override of the class's fraud protection (CU-13)."""

    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.fields["fraud_daily_limit"] = _decimal_input(
            "Daily spending limit", help_text="Empty: the class's limit applies.", form=FRAUD_FORM
        )
        action = Choice(
            "When the limit is reached", [("", "As the class says"), *FraudAction.choices]
        )
        action.widget.attrs["form"] = FRAUD_FORM
        self.fields["fraud_action"] = action


class AccountForm(PageForm):
    """Add an account (a phone line, a login) under the customer."""

    def __init__(self, data: Any = None) -> None:
        super().__init__(data, initial={"account_type": AccountType.CREDIT})
        self.fields["identifier"] = Text(
            "Identifier",
            help_text="A phone number or a login; unique on the installation.",
            maxlength="100",
            autocomplete="off",
        )
        self.fields["account_type"] = Choice(
            "Type",
            [(AccountType.CREDIT, "Credit"), (AccountType.DEBIT, "Debit")],
            help_text="Credit: draws on the customer's balance. Debit: funds of its own.",
        )
        self.fields["credit_limit"] = _decimal_input(
            "Individual credit limit",
            help_text="Empty: no individual limit.",
            show_if="account_type=credit",
        )


class AccountRowForm(PageForm):
    """One account's credit limit in the accounts table (its ids carry the account's id)."""

    def __init__(self, data: Any = None, *, account: Account) -> None:
        super().__init__(
            data,
            initial={"credit_limit": input_amount(account.credit_limit)},
            auto_id=f"account-{account.pk}-%s",
        )
        self.account_id = account.pk
        self.fields["blocked"] = forms.CharField(required=False, widget=forms.HiddenInput)
        self.fields["credit_limit"] = _decimal_input("Credit limit")
        self.fields["credit_limit"].widget.attrs["aria-label"] = (
            f"Credit limit of {account.identifier}"
        )


class TransferForm(PageForm):
    """A subscriber-to-subscriber transfer (CC-21). ``transfer_key`` is a random token made
    when the form is drawn (the idempotency key), so a double submit moves the money once.
    Amount and comment carry a ``transfer_`` prefix: the balance-adjustment dialog on the
    same page has inputs of those names."""

    RENAMED = {"amount": "transfer_amount", "comment": "transfer_comment"}

    def __init__(
        self,
        data: Any = None,
        *,
        accounts: Sequence[tuple[int, str]],
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        choices = [("", "— choose —"), *accounts]
        self.fields["from_account"] = Choice("From account", choices)
        self.fields["to_account"] = Choice("To account", choices)
        self.fields["transfer_amount"] = _decimal_input("Amount")
        self.fields["transfer_comment"] = Text(
            "Comment", help_text="Shown to the customer.", maxlength="500"
        )
        self.fields["transfer_key"] = forms.CharField(required=False, widget=forms.HiddenInput)

    def attach_error(self, exc: BillcoreError) -> None:
        """An error about the service's ``amount`` / ``comment`` goes beside ours."""
        name = self.RENAMED.get(exc.field or "")
        if name is not None and exc.field:
            message = exc.message
            if message.startswith(exc.field):
                message = name + message[len(exc.field) :]
            exc = ValidationFailed(message, field=name, code=exc.code)
        super().attach_error(exc)


# --------------------------------------------------------------------------- helpers


def _limit_initial(customer: Customer) -> dict[str, str]:
    until = customer.credit_limit_until
    return {
        "temp_credit_limit": input_amount(customer.temp_credit_limit),
        "credit_limit_until": until.astimezone(customer_zone(customer)).strftime(LOCAL_MINUTE)
        if until
        else "",
    }


def _xdr_filters(
    request: HttpRequest, zone: zoneinfo.ZoneInfo
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(selector arguments, the values to show again, errors by parameter) of the xDR
    filters. Dates are whole days on the customer's wall clock, both inclusive."""
    shown = {key: query(request, key).strip() for key in XDR_FILTERS}
    args: dict[str, Any] = {
        "service": shown["xdr_service"] or None,
        "status": shown["xdr_status"] or None,
        "account_id": query_id(shown["xdr_account"]),
    }
    errors: dict[str, str] = {}
    for key, arg, days in (("xdr_from", "start", 0), ("xdr_to", "end", 1)):
        if not shown[key]:
            continue
        try:
            day = dt.date.fromisoformat(shown[key])
        except ValueError:
            day = None
        if day is None or not dt.MINYEAR < day.year < dt.MAXYEAR:
            errors[key] = "Enter a date as YYYY-MM-DD."
            continue
        args[arg] = dt.datetime.combine(day + dt.timedelta(days=days), dt.time.min, tzinfo=zone)
    return args, shown, errors


def _customer_accounts(request: HttpRequest, customer: Customer) -> Any:
    return visible_accounts(actor=request.user).filter(customer=customer).order_by("identifier")


@customer_tab
def balance_tabs_context(
    request: HttpRequest,
    customer: Customer,
    *,
    limit_form: TemporaryLimitForm | None = None,
    fraud_form: FraudForm | None = None,
) -> dict[str, Any]:
    """What the Balance & Credits, Fraud Protection and xDRs tabs show. A fixed number of
    queries whatever the number of rows."""
    actor = request.user
    now = base.now()
    zone = customer_zone(customer)
    accounts = list(_customer_accounts(request, customer).values_list("id", "identifier"))
    args, shown, errors = _xdr_filters(request, zone)
    xdrs = customer_xdrs(actor=actor, customer_id=customer.pk, **args)
    xdr_page = paginate(request, xdrs, param="xdr_page")
    stats = summary(xdrs)
    valid = {k: v for k, v in shown.items() if v and k not in errors}
    today = now.astimezone(zone).date()
    return {
        "zone": zone.key,
        "limit_in_force": customer.effective_credit_limit(now=now),
        "limit_form": limit_form
        or TemporaryLimitForm(initial=_limit_initial(customer), time_zone=zone.key),
        "fraud_form": fraud_form
        or FraudForm(
            initial={
                "fraud_daily_limit": input_amount(customer.fraud_daily_limit),
                "fraud_action": customer.fraud_action or "",
            }
        ),
        "fraud_today": today,
        "fraud_spent_today": customer.fraud_day_spent
        if customer.fraud_day == today
        else Decimal("0.00000"),
        "account_count": len(accounts),
        "xdr_accounts": accounts,
        "xdr_services": Service.choices,
        "xdr_statuses": XdrStatus.choices,
        "xdr_selected": shown,
        "xdr_errors": errors,
        "xdr_page": xdr_page,
        "xdr_rows": [
            (x, input_amount(x.quantity), REASONS.get(x.deny_reason, x.deny_reason))
            for x in xdr_page
        ],
        "xdr_summary": {
            **stats,
            "services": [
                {
                    **row,
                    "label": service_label(row["service"]),
                    "quantity": input_amount(row["quantity"]),
                }
                for row in stats["services"]
            ],
        },
        "xdr_csv_query": urlencode(valid),
    }


# --------------------------------------------------------------------------- customer page


@page
@require_POST
def customer_credit_limit(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Issue 3 §7: set a temporary credit limit until a date-time, or remove it (the Remove
    button posts both empty)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = TemporaryLimitForm(request.POST, time_zone=customer_zone(customer).key)
    try:
        changes = form.posted()
        if "credit_limit_until" in changes:
            changes["credit_limit_until"] = wall_clock(
                changes["credit_limit_until"], customer_zone(customer)
            )
        saved = update_customer(
            actor=request.user, now=base.now(), customer_id=customer.pk, changes=changes
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, limit_form=form, status=status)
    if saved.temp_credit_limit is None or saved.credit_limit_until is None:
        messages.success(request, "Temporary credit limit removed.")
    else:
        zone = customer_zone(customer)
        until = saved.credit_limit_until.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        messages.success(
            request,
            f"Temporary credit limit of {customer_money(customer, saved.temp_credit_limit)} "
            f"set until {until} ({zone.key}).",
        )
    return back_to_tab(customer, "balance")


@page
@require_POST
def customer_fraud(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-13 Fraud Protection: the customer's daily limit and action; both empty: the
    class's settings apply."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = FraudForm(request.POST)
    try:
        saved = update_customer(
            actor=request.user, now=base.now(), customer_id=customer.pk, changes=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, fraud_form=form, status=status)
    if saved.fraud_daily_limit is None and not saved.fraud_action:
        messages.success(request, "Fraud protection override cleared: the class's settings apply.")
    else:
        limit = (
            "the class's daily limit"
            if saved.fraud_daily_limit is None
            else f"{customer_money(customer, saved.fraud_daily_limit)} a day"
        )
        action = (
            FraudAction(saved.fraud_action).label.lower()
            if saved.fraud_action
            else "the class's action"
        )
        messages.success(request, f"Fraud protection override saved: {limit}, {action}.")
    return back_to_tab(customer, "fraud")


@page
def customer_xdrs_csv(request: HttpRequest, customer_id: int) -> Any:
    """CC-11 "Full" statistics of the filtered xDR list, streamed (a StreamingHttpResponse,
    which ``page``'s HttpResponse typing does not name)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    args, _shown, _errors = _xdr_filters(request, customer_zone(customer))
    xdrs = customer_xdrs(actor=request.user, customer_id=customer.pk, **args)
    rows = (
        (
            x.pk,
            x.started_at,
            x.account.identifier if x.account else "",
            x.service,
            x.quantity,
            x.unit,
            x.amount,
            x.status,
            x.deny_reason,
            x.external_id or "",
            ";".join(f"{k}={v}" for k, v in sorted(x.details.items())),
        )
        for x in exports.rows_of(xdrs.select_related("account"))
    )
    return exports.csv_response(f"xdrs-{customer.pk}.csv", CSV_COLUMNS, rows)


# --------------------------------------------------------------------------- accounts


def _transfer_form(accounts: Sequence[tuple[int, str]], data: Any = None) -> TransferForm:
    return TransferForm(
        data, accounts=accounts, initial={"transfer_key": secrets.token_urlsafe(24)}
    )


def _accounts_page(
    request: HttpRequest,
    customer: Customer,
    *,
    add_form: AccountForm | None = None,
    row_form: AccountRowForm | None = None,
    transfer_form: TransferForm | None = None,
    products_form: AccountProductsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """CC-21: the customer's accounts in the customer layout, with add, block, limit and
    transfer forms."""
    accounts = _customer_accounts(request, customer).prefetch_related("products")
    choices = list(accounts.values_list("id", "identifier"))
    accounts_page = paginate(request, accounts)
    product_choices = _product_choices(request, customer)
    context = {
        "customer": customer,
        "customer_view": "accounts",
        "adjust_form": adjustment_form(),
        "adjust_open": False,
        "account_count": len(choices),
        "accounts": accounts_page,
        "account_rows": [
            (
                a,
                row_form
                if row_form is not None and row_form.account_id == a.pk
                else AccountRowForm(account=a),
            )
            for a in accounts_page
        ],
        "product_rows": [
            (
                a,
                products_form
                if products_form is not None and products_form.account_id == a.pk
                else _products_form(a, choices=product_choices),
            )
            for a in accounts_page
        ],
        "add_form": add_form or AccountForm(),
        "transfer_form": transfer_form or _transfer_form(choices),
        "transfers_allowed": customer.customer_class.s2s_transfers_allowed,
    }
    return render(request, "web/customer_form.html", context, status=status)


ACCOUNT_COLUMNS = (
    "id",
    "identifier",
    "type",
    "blocked",
    "terminated_at",
    "currency",
    "credit_limit",
    "balance",
    "reserved",
    "available_funds",
    "products",
    "created_at",
)


def _accounts_csv(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The customer's accounts (the Accounts tab's list) as CSV (issue 17): every account,
    its products by name (the main product first, then the add-ons as the tab lists them)."""
    places = customer.currency.decimals
    accounts = _customer_accounts(request, customer).prefetch_related("products__product")
    rows = (
        (
            a.pk,
            a.identifier,
            a.account_type,
            a.blocked,
            a.terminated_at,
            customer.currency_id,
            exports.money(a.credit_limit, places),
            exports.money(a.balance, places),
            exports.money(a.reserved, places),
            exports.money(a.available_funds, places),
            "; ".join(p.product.name for p in a.products.all()),
            a.created_at,
        )
        for a in accounts
    )
    return exports.csv_response(f"accounts-{customer.pk}.csv", ACCOUNT_COLUMNS, rows)


@page
@require_http_methods(["GET", "POST"])
def customer_accounts(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The accounts view; a POST adds an account."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if request.method == "GET":
        if exports.wanted(request):
            return _accounts_csv(request, customer)
        return _accounts_page(request, customer)
    form = AccountForm(request.POST)
    try:
        account = create_account(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _accounts_page(request, customer, add_form=form, status=status)
    messages.success(request, f"Account “{account.identifier}” added.")
    return redirect("customer-accounts", customer_id=customer.pk)


@page
@require_POST
def customer_account_update(
    request: HttpRequest, customer_id: int, account_id: int
) -> HttpResponse:
    """Block / unblock an account, or change its individual credit limit."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    account = get_account(actor=request.user, account_id=account_id)
    if account.customer_id != customer.pk:
        raise NotFound(f"account {account_id} not found", field="id")
    form = AccountRowForm(request.POST, account=account)
    try:
        changes = form.posted()
        saved = update_account(
            actor=request.user, now=base.now(), account_id=account.pk, changes=changes
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _accounts_page(request, customer, row_form=form, status=status)
    if "blocked" in changes:
        state = "blocked" if saved.blocked else "unblocked"
        messages.success(request, f"Account “{saved.identifier}” {state}.")
    elif saved.credit_limit is None:
        messages.success(request, f"Account “{saved.identifier}” has no individual credit limit.")
    else:
        messages.success(
            request,
            f"Credit limit of account “{saved.identifier}” set to "
            f"{customer_money(customer, saved.credit_limit)}.",
        )
    return redirect("customer-accounts", customer_id=customer.pk)


def _product_choices(
    request: HttpRequest, customer: Customer
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(main products, add-ons) an account of ``customer`` may get: its owner's products in
    its currency (what ``set_account_products`` accepts). One query."""
    products = rating_selectors.visible_products(actor=request.user).filter(
        currency_id=customer.currency_id, managed_by_id=customer.reseller_id
    )
    rows = list(products.order_by("name", "id").values_list("pk", "name", "kind"))
    return (
        [(pk, name) for pk, name, kind in rows if kind == ProductKind.MAIN],
        [(pk, name) for pk, name, kind in rows if kind == ProductKind.ADDON],
    )


def _products_form(
    account: Account,
    data: Any = None,
    *,
    choices: tuple[list[tuple[int, str]], list[tuple[int, str]]],
) -> AccountProductsForm:
    """The account's main product and add-ons (``account.products`` prefetched)."""
    current = list(account.products.all())
    return AccountProductsForm(
        data,
        account_id=account.pk,
        initial={
            "product": next((p.product_id for p in current if p.is_main), ""),
            "addons": [p.product_id for p in current if not p.is_main],
        },
        mains=choices[0],
        addons=choices[1],
    )


@page
@require_POST
def customer_account_products(
    request: HttpRequest, customer_id: int, account_id: int
) -> HttpResponse:
    """Set the account's main product and exactly the chosen add-ons (issue 12)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    account = get_account(actor=request.user, account_id=account_id)
    if account.customer_id != customer.pk:
        raise NotFound(f"account {account_id} not found", field="id")
    form = _products_form(account, request.POST, choices=_product_choices(request, customer))
    try:
        if any("\x00" in v for v in request.POST.getlist("addons")):
            raise ValidationFailed("addons contains a NUL character", field="addons")
        set_account_products(
            actor=request.user,
            now=base.now(),
            account_id=account.pk,
            product=form.posted().get("product") or None,
            addons=[v for v in request.POST.getlist("addons") if v],
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _accounts_page(request, customer, products_form=form, status=status)
    messages.success(request, f"Products of account “{account.identifier}” saved.")
    return redirect("customer-accounts", customer_id=customer.pk)


def _account_id(field: str, value: Any) -> int:
    """A chosen account's id (the service takes ids)."""
    if value in (None, ""):
        raise ValidationFailed(f"{field}: choose an account", field=field, code="required")
    return as_int(field, value, minimum=1)


@page
@require_POST
def customer_transfer(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CC-21: move funds between two of the customer's accounts; the form's token makes a
    double submit move them once."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    choices = list(_customer_accounts(request, customer).values_list("id", "identifier"))
    names = dict(choices)
    form = _transfer_form(choices, request.POST)
    at = base.now()
    try:
        data = form.posted()
        source = _account_id("from_account", data.get("from_account"))
        target = _account_id("to_account", data.get("to_account"))
        if source not in names or target not in names:  # another customer's: not on this page
            raise NotFound("account not found", field="id")
        sent, _received = transfer(
            actor=request.user,
            now=at,
            from_account_id=source,
            to_account_id=target,
            amount=data.get("transfer_amount"),
            comment=data.get("transfer_comment", ""),
            idempotency_key=data.get("transfer_key") or None,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _accounts_page(request, customer, transfer_form=form, status=status)
    if sent.created_at != at:  # the token's earlier transfer came back
        messages.info(request, "This transfer was already made; nothing changed.")
    else:
        messages.success(
            request,
            f"Transferred {customer_money(customer, sent.account_amount)} "
            f"from “{names[source]}” to “{names[target]}”.",
        )
    return redirect("customer-accounts", customer_id=customer.pk)
