"""The customer's Abbreviated Dialing and Service Configuration tabs (CU-13, issue 14;
rating-and-tabs.md §3.2, §3.3), an account's service features and extension, and a
product's service feature defaults."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import BillcoreError, NotFound
from billcore.features import selectors, services
from billcore.features.declared import FEATURES, Feature
from billcore.features.services import Effective
from billcore.rating.selectors import get_product
from billcore.subscribers.models import Account
from billcore.subscribers.services import get_account
from billcore.web import base
from billcore.web.base import fail, page
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import Choice, PageForm, Text

DIALING_LENGTH = "dialing-length"
DIALING_ADD = "dialing-add"
FEATURES_FORM = "service-features"

SOURCES = {
    "account": "Account",
    "customer": "Customer",
    "addon": "Add-on product",
    "product": "Main product",
    "default": "Not set",
}


# --------------------------------------------------------------------------- forms


class MaxLengthForm(PageForm):
    def __init__(self, data: Any = None, *, initial: dict[str, Any] | None = None) -> None:
        super().__init__(data, initial=initial or {}, auto_id="dialing-%s")
        self.fields["max_length"] = Text(
            "Maximum abbreviated number length",
            help_text="1 to 8 digits; saved before entries can be added. With 3, codes such "
            "as 1, 34 or 999 are valid.",
            inputmode="numeric",
            maxlength="2",
            form=DIALING_LENGTH,
        )


class EntryForm(PageForm):
    def __init__(self, data: Any = None) -> None:
        super().__init__(data, auto_id="dialing-add-%s")
        self.fields["abbreviated"] = Text(
            "Abbreviated number",
            help_text="What the user dials: digits, not an account's extension.",
            inputmode="numeric",
            maxlength="8",
            form=DIALING_ADD,
        )
        self.fields["number"] = Text(
            "Number to dial",
            help_text="An account of this customer (its identifier) or an E.164 number; "
            "empty: dial as is.",
            maxlength="100",
            form=DIALING_ADD,
        )
        self.fields["description"] = Text("Description", maxlength="200", form=DIALING_ADD)


def _feature_field(feature: Feature, form_id: str) -> Any:
    attrs = {"form": form_id} if form_id else {}
    field: Choice | Text
    if feature.kind == "bool":
        field = Choice(
            feature.label,
            [("", "Inherit"), ("true", "Yes"), ("false", "No")],
            help_text=feature.help,
        )
    elif feature.kind == "choice":
        field = Choice(feature.label, [("", "Inherit"), *feature.choices], help_text=feature.help)
    else:
        extra = {"inputmode": "numeric"} if feature.kind == "int" else {}
        field = Text(
            feature.label,
            help_text=feature.help,
            maxlength=str(feature.max_length or 12),
            placeholder="Inherit",
            **extra,
        )
    field.widget.attrs.update(attrs)
    return field


class FeaturesForm(PageForm):
    """Every service feature; empty (Inherit) takes the value from the next level."""

    def __init__(self, data: Any = None, *, own: dict[str, Any], form_id: str = "") -> None:
        initial = {
            name: ("true" if value else "false") if isinstance(value, bool) else value
            for name, value in own.items()
            if value is not None
        }
        super().__init__(data, initial=initial, auto_id="feature-%s")
        for feature in FEATURES:
            self.fields[feature.name] = _feature_field(feature, form_id)

    def groups(self) -> list[tuple[str, list[Any]]]:
        out: dict[str, list[Any]] = {}
        for feature in FEATURES:
            out.setdefault(feature.group, []).append(self[feature.name])
        return list(out.items())


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    for feature in FEATURES:
        for code, label in feature.choices:
            if value == code:
                return str(label)
    return str(value)


def _effective_rows(effective: dict[str, Effective]) -> list[dict[str, str]]:
    rows = []
    for feature in FEATURES:
        e = effective[feature.name]
        source = SOURCES[e.source] + (f" “{e.source_name}”" if e.source_name else "")
        if feature.kind == "int" and e.value is None:
            shown = "No limit"
        else:
            shown = _shown(e.value)
        rows.append(
            {"name": feature.name, "label": feature.label, "value": shown, "source": source}
        )
    return rows


# --------------------------------------------------------------------------- customer tabs


@customer_tab
def features_tab_context(
    request: HttpRequest,
    customer: Customer,
    *,
    dialing_length_form: MaxLengthForm | None = None,
    dialing_add_form: EntryForm | None = None,
    service_features_form: FeaturesForm | None = None,
) -> dict[str, Any]:
    """What the Abbreviated Dialing and Service Configuration tabs show."""
    dialing = selectors.dialing(actor=request.user, customer_id=customer.pk)
    got = selectors.customer_features(actor=request.user, customer_id=customer.pk)
    length = dialing.max_length
    return {
        "dialing_max_length": length,
        "dialing_entries": dialing.entries,
        "dialing_length_form": dialing_length_form
        or MaxLengthForm(initial={"max_length": length} if length else None),
        "dialing_add_form": dialing_add_form or EntryForm(),
        "service_features_form": service_features_form
        or FeaturesForm(own=got.own, form_id=FEATURES_FORM),
        "service_features_rows": _effective_rows(got.effective),
    }


@page
@require_POST
def dialing_length(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = MaxLengthForm(request.POST)
    try:
        services.set_max_length(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            max_length=form.posted().get("max_length"),
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, dialing_length_form=form, status=status)
    messages.success(request, "Maximum abbreviated number length saved.")
    return base.back_to_tab(customer, "dialing")


@page
@require_POST
def dialing_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = EntryForm(request.POST)
    try:
        entry = services.add_entry(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, dialing_add_form=form, status=status)
    messages.success(request, f"Abbreviated number {entry.abbreviated} added.")
    return base.back_to_tab(customer, "dialing")


@page
@require_POST
def dialing_delete(request: HttpRequest, customer_id: int, entry_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    services.delete_entry(
        actor=request.user, now=base.now(), customer_id=customer.pk, entry_id=entry_id
    )
    messages.success(request, "Abbreviated number deleted.")
    return base.back_to_tab(customer, "dialing")


@page
@require_POST
def customer_features(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    got = selectors.customer_features(actor=request.user, customer_id=customer.pk)
    form = FeaturesForm(request.POST, own=got.own, form_id=FEATURES_FORM)
    try:
        services.set_customer_features(
            actor=request.user,
            now=base.now(),
            customer_id=customer.pk,
            values=form.posted(),
            replace=True,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, service_features_form=form, status=status)
    messages.success(request, "Service configuration saved.")
    return base.back_to_tab(customer, "service-config")


# --------------------------------------------------------------------------- account, product


class ExtensionForm(PageForm):
    def __init__(self, data: Any = None, *, account: Account) -> None:
        super().__init__(data, initial={"extension": account.extension or ""}, auto_id="ext-%s")
        self.fields["extension"] = Text(
            "Extension",
            help_text="A short number (1 to 8 digits) the customer's other users dial; unique "
            "within the customer, not one of its abbreviated numbers. Empty: none.",
            inputmode="numeric",
            maxlength="8",
        )


def _features_page(
    request: HttpRequest,
    *,
    title: str,
    crumbs: list[tuple[str, str]],
    own: dict[str, Any],
    effective: dict[str, Effective] | None,
    form: FeaturesForm | None = None,
    extension_form: ExtensionForm | None = None,
    intro: str,
    status: int = 200,
) -> HttpResponse:
    context = {
        "title": title,
        "crumbs": crumbs,
        "intro": intro,
        "form": form or FeaturesForm(own=own),
        "extension_form": extension_form,
        "rows": _effective_rows(effective) if effective is not None else None,
    }
    return render(request, "web/features/features_page.html", context, status=status)


def _customer_account(request: HttpRequest, customer_id: int, account_id: int) -> Any:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    account = get_account(actor=request.user, account_id=account_id)
    if account.customer_id != customer.pk:
        raise NotFound(f"account {account_id} not found", field="id")
    return customer, account


def _account_page(
    request: HttpRequest, customer: Customer, account: Account, **kwargs: Any
) -> HttpResponse:
    got = selectors.account_features(actor=request.user, account_id=account.pk)
    return _features_page(
        request,
        title=f"Account {account.identifier}: service configuration",
        crumbs=[
            (reverse("customer-edit", args=[customer.pk]), customer.name),
            (reverse("customer-accounts", args=[customer.pk]), "Accounts"),
        ],
        own=got.own,
        effective=got.effective,
        extension_form=kwargs.pop("extension_form", None) or ExtensionForm(account=account),
        intro="The account's own values override the customer's, which override the "
        "add-on products' (higher precedence first) and then the main product's. Inherit: "
        "the next level decides.",
        **kwargs,
    )


@page
@require_http_methods(["GET", "POST"])
def account_features(request: HttpRequest, customer_id: int, account_id: int) -> HttpResponse:
    customer, account = _customer_account(request, customer_id, account_id)
    if request.method == "GET":
        return _account_page(request, customer, account)
    own = selectors.account_features(actor=request.user, account_id=account.pk).own
    form = FeaturesForm(request.POST, own=own)
    try:
        services.set_account_features(
            actor=request.user,
            now=base.now(),
            account_id=account.pk,
            values=form.posted(),
            replace=True,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _account_page(request, customer, account, form=form, status=status)
    messages.success(request, f"Service configuration of account “{account.identifier}” saved.")
    return redirect("account-features", customer_id=customer.pk, account_id=account.pk)


@page
@require_POST
def account_extension(request: HttpRequest, customer_id: int, account_id: int) -> HttpResponse:
    customer, account = _customer_account(request, customer_id, account_id)
    form = ExtensionForm(request.POST, account=account)
    try:
        saved = services.update_account(
            actor=request.user,
            now=base.now(),
            account_id=account.pk,
            changes={"extension": form.posted().get("extension", "")},
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _account_page(request, customer, account, extension_form=form, status=status)
    if saved.extension:
        messages.success(request, f"Extension of “{saved.identifier}” set to {saved.extension}.")
    else:
        messages.success(request, f"Account “{saved.identifier}” has no extension.")
    return redirect("account-features", customer_id=customer.pk, account_id=account.pk)


def _product_page(request: HttpRequest, product: Any, **kwargs: Any) -> HttpResponse:
    return _features_page(
        request,
        title=f"Product {product.name}: service configuration defaults",
        crumbs=[
            (reverse("rating-products-list"), "Products"),
            (reverse("rating-products-edit", args=[product.pk]), product.name),
        ],
        own=selectors.product_features(actor=request.user, product_id=product.pk),
        effective=None,
        intro="Defaults for the accounts that have this product, used where neither the "
        "account nor its customer sets a value; an add-on product's values win over the "
        "main product's.",
        **kwargs,
    )


@page
@require_http_methods(["GET", "POST"])
def product_features(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_product(actor=request.user, product_id=product_id)
    if request.method == "GET":
        return _product_page(request, product)
    own = selectors.product_features(actor=request.user, product_id=product.pk)
    form = FeaturesForm(request.POST, own=own)
    try:
        services.set_product_features(
            actor=request.user,
            now=base.now(),
            product_id=product.pk,
            values=form.posted(),
            replace=True,
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return _product_page(request, product, form=form, status=status)
    messages.success(request, f"Service configuration defaults of “{product.name}” saved.")
    return redirect("product-features", product_id=product.pk)
