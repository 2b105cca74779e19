"""The admin pages (server-rendered). Every view parses the form, calls a service or a selector
with ``actor=request.user, now=timezone.now()`` and shows what came back: a saved object and
a message, or the service's error beside the input it names. No view applies a business rule.
``NotFound`` (including another reseller's object) is a 404 page; nothing is a 500.
"""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Callable, Iterable
from functools import cache, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import is_admin
from billcore.audit.models import AuditEntry
from billcore.classes.models import CustomerClass
from billcore.classes.selectors import assignable_classes, get_class, list_classes, usage_counts
from billcore.classes.services import (
    SIMPLE_FIELDS,
    copy_data,
    create_class,
    delete_class,
    get_default_class,
    update_class,
)
from billcore.customers.models import BalanceControl, Customer, CustomerType, Status
from billcore.customers.selectors import get_customer, list_customers
from billcore.customers.services import delete_customer, update_customer
from billcore.errors import BillcoreError, NotFound
from billcore.installation.models import BusinessModel, Currency, CustomField
from billcore.installation.services import (
    SETTINGS_FIELDS,
    add_currency,
    create_business_model,
    create_custom_field,
    delete_business_model,
    get_settings,
    remove_currency,
    update_business_model,
    update_settings,
)
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Action
from billcore.ledger.selectors import customer_transactions
from billcore.web.forms import (
    STATUS_FILTER_CHOICES,
    AdjustmentForm,
    BusinessModelForm,
    ClassForm,
    ClassOption,
    CurrencyForm,
    CustomerForm,
    CustomFieldForm,
    SettingsForm,
    class_initial,
    customer_initial,
)
from billcore.web.templatetags.billcore_web import format_money

PAGE_SIZE = 50
MAX_ID = 2**63 - 1

View = Callable[..., HttpResponse]

# CU-13 tabs that arrive with later releases: shown honestly, as a title and one line.
LATER_CUSTOMER_TABS = (
    "Subscriptions",
    "Measured Services",
    "DIDs",
    "Discounts",
    "Abbreviated Dialing",
    "Override Tariffs",
    "Quotas & Service Wallets",
    "Service Configuration",
    "Web Self-Care",
)


# --------------------------------------------------------------------------- plumbing


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "web/404.html", status=404)


def page(view: View) -> View:
    """Signed-in users only; a ``NotFound`` from a service or selector is the 404 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            return not_found(request)

    return login_required(wrapper)


def admin_page(view: View) -> View:
    """Administrators only; a reseller's user gets the same 404 as for a missing page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            return not_found(request)
        return view(request, *args, **kwargs)

    return page(wrapper)


def _now() -> Any:
    return timezone.now()


def _id(value: str | None) -> int | None:
    """A query-string id, or None when it is not one."""
    if value and value.isascii() and value.isdigit() and int(value) <= MAX_ID:
        return int(value)
    return None


def _query(request: HttpRequest, key: str, default: str = "") -> str:
    """A query-string value; NUL characters (which no database column takes) dropped."""
    return request.GET.get(key, default).replace("\x00", "")


def _paginate(request: HttpRequest, items: Any, *, param: str = "page") -> Page[Any]:
    return Paginator(items, PAGE_SIZE).get_page(_query(request, param))


def _fail(form: Any, exc: BillcoreError) -> int:
    """Show ``exc`` on ``form``; re-raise a NotFound (the 404 page)."""
    if isinstance(exc, NotFound):
        raise exc
    form.attach_error(exc)
    return exc.status


@cache
def _time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def home(request: HttpRequest) -> HttpResponse:
    return redirect("customer-list")


# --------------------------------------------------------------------------- customer classes


def _reseller_choices(actor: Any) -> list[tuple[Any, str]]:
    rows = list_customers(actor=actor, customer_type=CustomerType.RESELLER).values_list(
        "id", "name"
    )
    return list(rows)


def _class_form_options(actor: Any) -> dict[str, Any]:
    installation = get_settings()
    admin = is_admin(actor)
    return {
        "is_admin": admin,
        "allow_external_billing": installation.allow_external_billing,
        "show_financial_documents_page": installation.show_financial_documents_page,
        "currencies": [(c.code, f"{c.code} — {c.name}") for c in Currency.objects.all()],
        "business_models": list(BusinessModel.objects.values_list("id", "name")),
        "resellers": _reseller_choices(actor) if admin else [],
        "custom_fields": list(CustomField.objects.values_list("name", "label")),
    }


def _class_page(
    request: HttpRequest, form: ClassForm, cls: CustomerClass | None, *, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "cls": cls,
        "installation": get_settings(),
        "used_by": usage_counts([cls.pk]).get(cls.pk, 0) if cls else 0,
    }
    return render(request, "web/class_form.html", context, status=status)


@page
def class_list(request: HttpRequest) -> HttpResponse:
    """CC-01: Name, Currency, Archive xDRs, Invoices, Taxation, Description, Managed by."""
    search = _query(request, "q").strip()
    classes = list_classes(actor=request.user, search=search, order=_query(request, "order"))
    return render(
        request,
        "web/class_list.html",
        {"page": _paginate(request, classes), "q": search, "default_order": "name"},
    )


@page
@require_http_methods(["GET", "POST"])
def class_add(request: HttpRequest) -> HttpResponse:
    """CC-03: Save (back to the list), Save & Edit details, Save & Add a copy."""
    actor = request.user
    options = _class_form_options(actor)
    if request.method == "POST":
        form = ClassForm(request.POST, is_new=True, **options)
        try:
            cls = create_class(actor=actor, now=_now(), data=form.posted())
        except BillcoreError as exc:
            return _class_page(request, form, None, status=_fail(form, exc))
        messages.success(request, f"Customer class “{cls.name}” saved.")
        if "_continue" in request.POST:
            return redirect("class-edit", class_id=cls.pk)
        if "_addanother" in request.POST:
            return redirect(f"{reverse('class-add')}?copy_from={cls.pk}")
        return redirect("class-list")
    copy_from = request.GET.get("copy_from")  # only ever parsed by _id()
    if copy_from is not None:
        source_id = _id(copy_from)
        if source_id is None:
            return not_found(request)
        initial = class_initial(copy_data(get_class(actor=actor, class_id=source_id)))
    else:
        blank = CustomerClass()
        initial = class_initial({name: getattr(blank, name) for name in SIMPLE_FIELDS})
    return _class_page(request, ClassForm(initial=initial, is_new=True, **options), None)


@page
@require_http_methods(["GET", "POST"])
def class_edit(request: HttpRequest, class_id: int) -> HttpResponse:
    """All tabs of CC-22 in one form; the currency is shown, never posted (CC-06)."""
    actor = request.user
    cls = get_class(actor=actor, class_id=class_id)
    options = _class_form_options(actor)
    if request.method == "POST":
        form = ClassForm(request.POST, is_new=False, **options)
        try:
            cls = update_class(actor=actor, now=_now(), class_id=cls.pk, changes=form.posted())
        except BillcoreError as exc:
            return _class_page(request, form, cls, status=_fail(form, exc))
        messages.success(request, f"Customer class “{cls.name}” saved.")
        if "_save" in request.POST:
            return redirect("class-list")
        return redirect("class-edit", class_id=cls.pk)
    initial = class_initial({**copy_data(cls), "name": cls.name})
    return _class_page(request, ClassForm(initial=initial, is_new=False, **options), cls)


@page
@require_POST
def class_delete(request: HttpRequest, class_id: int) -> HttpResponse:
    """CC-02: the Default class and classes in use cannot be deleted (the service says)."""
    cls = get_class(actor=request.user, class_id=class_id)
    try:
        delete_class(actor=request.user, now=_now(), class_id=cls.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect("class-edit", class_id=cls.pk)
    messages.success(request, f"Customer class “{cls.name}” deleted.")
    return redirect("class-list")


# --------------------------------------------------------------------------- customers


def _class_options(classes: Iterable[CustomerClass]) -> list[ClassOption]:
    return [
        ClassOption(
            id=c.pk,
            name=c.name,
            currency=c.currency_id or "",
            mandatory=tuple(cf.name for cf in c.mandatory_custom_fields.all()),
        )
        for c in classes
    ]


def _customer_form(
    request: HttpRequest, customer: Customer | None, data: Any = None
) -> CustomerForm:
    actor = request.user
    admin = is_admin(actor)
    currency = customer.currency_id if customer else None
    classes = list(
        assignable_classes(actor=actor, currency=currency).prefetch_related(
            "mandatory_custom_fields"
        )
    )
    locked = customer is not None and all(c.pk != customer.customer_class_id for c in classes)
    if customer is not None and locked:
        classes = [customer.customer_class]
    if customer is None:
        initial: dict[str, Any] = {
            "customer_type": CustomerType.RETAIL,
            "balance_control": BalanceControl.POSTPAID,
            "billing_period": Customer._meta.get_field("billing_period").default,
            "time_zone": Customer._meta.get_field("time_zone").default,
        }
        default = get_default_class()
        if any(c.pk == default.pk for c in classes):
            initial["customer_class"] = default.pk
    else:
        initial = customer_initial(customer)
    return CustomerForm(
        data,
        initial=initial,
        is_new=customer is None,
        is_admin=admin,
        currencies=[(c.code, f"{c.code} — {c.name}") for c in Currency.objects.all()],
        classes=_class_options(classes),
        class_locked=locked,
        resellers=_reseller_choices(actor) if admin and customer is None else [],
        custom_fields=list(CustomField.objects.all()),
        time_zones=_time_zones(),
    )


def _adjustment_form(data: Any = None) -> AdjustmentForm:
    return AdjustmentForm(data, initial={"idempotency_key": secrets.token_urlsafe(24)})


def _customer_page(
    request: HttpRequest,
    customer: Customer,
    *,
    form: CustomerForm | None = None,
    adjust_form: AdjustmentForm | None = None,
    status: int = 200,
    **tab_forms: Any,
) -> HttpResponse:
    """The customer page with every tab filled in; ``tab_forms`` are bound forms of the tabs
    (temporary limit, fraud override) to show with their errors."""
    from billcore.web.views_customer_tabs import tab_context

    transactions = customer_transactions(actor=request.user, customer_id=customer.pk)
    context = {
        "customer": customer,
        "form": form or _customer_form(request, customer),
        "adjust_form": adjust_form or _adjustment_form(),
        "adjust_open": adjust_form is not None,
        "transactions": _paginate(request, transactions, param="tx_page"),
        "later_tabs": LATER_CUSTOMER_TABS,
        **tab_context(request, customer, **tab_forms),
    }
    return render(request, "web/customer_form.html", context, status=status)


@page
def customer_list(request: HttpRequest) -> HttpResponse:
    """CU-01 … CU-17: search, filters, sort, 50 a page; one query for the rows."""
    actor = request.user
    admin = is_admin(actor)

    def get(key: str) -> str:
        return _query(request, key)

    search = get("q").strip()
    filters: dict[str, Any] = {
        "search": search,
        "customer_class": _id(get("class")),
        "currency": get("currency") or None,
        "balance_control": get("balance_control") or None,
        "status": get("status") or None,
        "order": get("order"),
    }
    if admin:
        filters["reseller"] = _id(get("reseller"))
        filters["customer_type"] = get("customer_type") or None
    customers = list_customers(actor=actor, **filters)
    context = {
        "page": _paginate(request, customers),
        "q": search,
        "default_order": "name",
        "filter_classes": list_classes(actor=actor).values_list("id", "name"),
        "filter_currencies": Currency.objects.values_list("code", flat=True),
        "filter_resellers": _reseller_choices(actor) if admin else [],
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


@page
@require_http_methods(["GET", "POST"])
def customer_add(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _customer_form(request, None, request.POST)
        try:
            customer = create_customer(actor=request.user, now=_now(), data=form.posted())
        except BillcoreError as exc:
            status = _fail(form, exc)
            return render(request, "web/customer_form.html", {"form": form}, status=status)
        messages.success(request, f"Customer “{customer.name}” saved.")
        if "_continue" in request.POST:
            return redirect("customer-edit", customer_id=customer.pk)
        return redirect("customer-list")
    return render(request, "web/customer_form.html", {"form": _customer_form(request, None)})


@page
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-03, CU-13: header, Address Info, Additional Info, Custom Fields, Balance & Credits."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if request.method == "POST":
        form = _customer_form(request, customer, request.POST)
        try:
            saved = update_customer(
                actor=request.user, now=_now(), customer_id=customer.pk, changes=form.posted()
            )
        except BillcoreError as exc:
            status = _fail(form, exc)
            return _customer_page(request, customer, form=form, status=status)
        messages.success(request, f"Customer “{saved.name}” saved.")
        if "_save" in request.POST:
            return redirect("customer-list")
        return redirect("customer-edit", customer_id=saved.pk)
    return _customer_page(request, customer)


@page
@require_POST
def customer_adjust(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-12: one ledger transaction; the dialog's token makes a double submit post once."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = _adjustment_form(request.POST)
    try:
        data = form.posted()
        result = record_transaction(
            actor=request.user,
            now=_now(),
            customer_id=customer.pk,
            action=data.get("action"),
            amount=data.get("amount"),
            visible_comment=data.get("visible_comment", ""),
            internal_comment=data.get("internal_comment", ""),
            idempotency_key=data.get("idempotency_key") or None,
        )
    except BillcoreError as exc:
        status = _fail(form, exc)
        return _customer_page(request, customer, adjust_form=form, status=status)
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
    try:
        delete_customer(actor=request.user, now=_now(), customer_id=customer.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect("customer-edit", customer_id=customer.pk)
    messages.success(request, f"Customer “{customer.name}” deleted.")
    return redirect("customer-list")


# --------------------------------------------------------------------------- business models


@admin_page
def business_model_list(request: HttpRequest) -> HttpResponse:
    """CC-05: the catalogue the administrator maintains."""
    models = BusinessModel.objects.annotate(used_by=Count("customerclass")).order_by("name")
    return render(request, "web/business_model_list.html", {"models": models})


def _business_model_page(
    request: HttpRequest, form: BusinessModelForm, bm: BusinessModel | None, status: int = 200
) -> HttpResponse:
    return render(request, "web/business_model_form.html", {"form": form, "bm": bm}, status=status)


@admin_page
@require_http_methods(["GET", "POST"])
def business_model_add(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BusinessModelForm(request.POST)
        try:
            data = form.posted()
            bm = create_business_model(
                actor=request.user,
                now=_now(),
                name=data.get("name"),
                description=data.get("description", ""),
            )
        except BillcoreError as exc:
            return _business_model_page(request, form, None, _fail(form, exc))
        messages.success(request, f"Business model “{bm.name}” saved.")
        return redirect("business-model-list")
    return _business_model_page(request, BusinessModelForm(), None)


def _business_model(business_model_id: int) -> BusinessModel:
    bm = BusinessModel.objects.filter(pk=business_model_id).first()
    if bm is None:
        raise NotFound(f"business model {business_model_id} not found")
    return bm


@admin_page
@require_http_methods(["GET", "POST"])
def business_model_edit(request: HttpRequest, business_model_id: int) -> HttpResponse:
    bm = _business_model(business_model_id)
    if request.method == "POST":
        form = BusinessModelForm(request.POST)
        try:
            bm = update_business_model(
                actor=request.user,
                now=_now(),
                business_model_id=bm.pk,
                changes=form.posted(),
            )
        except BillcoreError as exc:
            return _business_model_page(request, form, bm, _fail(form, exc))
        messages.success(request, f"Business model “{bm.name}” saved.")
        return redirect("business-model-list")
    form = BusinessModelForm(initial={"name": bm.name, "description": bm.description})
    return _business_model_page(request, form, bm)


@admin_page
@require_POST
def business_model_delete(request: HttpRequest, business_model_id: int) -> HttpResponse:
    bm = _business_model(business_model_id)
    try:
        delete_business_model(actor=request.user, now=_now(), business_model_id=bm.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
        return redirect("business-model-edit", business_model_id=bm.pk)
    messages.success(request, f"Business model “{bm.name}” deleted.")
    return redirect("business-model-list")


# --------------------------------------------------------------------------- settings


def _settings_page(
    request: HttpRequest,
    *,
    form: SettingsForm | None = None,
    currency_form: CurrencyForm | None = None,
    custom_field_form: CustomFieldForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if form is None:
        installation = get_settings()
        initial = {name: getattr(installation, name) for name in SETTINGS_FIELDS}
        form = SettingsForm(initial=initial)
    context = {
        "form": form,
        "currency_form": currency_form or CurrencyForm(),
        "custom_field_form": custom_field_form or CustomFieldForm(),
        "currencies": Currency.objects.order_by("code"),
        "custom_fields": CustomField.objects.order_by("name"),
    }
    return render(request, "web/settings.html", context, status=status)


@admin_page
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SettingsForm(request.POST)
        try:
            update_settings(actor=request.user, now=_now(), changes=form.posted())
        except BillcoreError as exc:
            return _settings_page(request, form=form, status=_fail(form, exc))
        messages.success(request, "Installation settings saved.")
        return redirect("settings")
    return _settings_page(request)


@admin_page
@require_POST
def currency_add(request: HttpRequest) -> HttpResponse:
    form = CurrencyForm(request.POST)
    try:
        data = form.posted()
        currency = add_currency(
            actor=request.user, now=_now(), code=data["code"], decimals=data["decimals"]
        )
    except BillcoreError as exc:
        return _settings_page(request, currency_form=form, status=_fail(form, exc))
    messages.success(
        request, f"Currency {currency.code} ({currency.name}, {currency.decimals} decimals) added."
    )
    return redirect(reverse("settings") + "#currencies")


@admin_page
@require_POST
def currency_remove(request: HttpRequest, code: str) -> HttpResponse:
    if not (code.isascii() and code.isalpha()):
        return not_found(request)
    try:
        remove_currency(actor=request.user, now=_now(), code=code)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Currency {code} removed.")
    return redirect(reverse("settings") + "#currencies")


@admin_page
@require_POST
def custom_field_add(request: HttpRequest) -> HttpResponse:
    form = CustomFieldForm(request.POST)
    try:
        data = form.posted()
        cf = create_custom_field(
            actor=request.user,
            now=_now(),
            name=data.get("name"),
            label=data.get("label"),
            field_type=data.get("field_type", "text"),
            choices=data["choices"],
        )
    except BillcoreError as exc:
        return _settings_page(request, custom_field_form=form, status=_fail(form, exc))
    messages.success(request, f"Custom field “{cf.label}” added.")
    return redirect(reverse("settings") + "#custom-fields")


# --------------------------------------------------------------------------- audit


def _changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    before = entry.before or {}
    after = entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, before.get(k, ""), after.get(k, "")) for k in keys]


@admin_page
def audit_list(request: HttpRequest) -> HttpResponse:
    """Latest audit rows (who, when, what changed), filtered by object type."""
    object_type = _query(request, "type")
    entries: QuerySet[AuditEntry] = AuditEntry.objects.order_by("-id")
    if object_type:
        entries = entries.filter(object_type=object_type)
    page_obj = _paginate(request, entries)
    rows = [(entry, _changes(entry)) for entry in page_obj]
    types = AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True)
    context = {
        "page": page_obj,
        "rows": rows,
        "types": types.distinct(),
        "object_type": object_type,
    }
    return render(request, "web/audit_list.html", context)
