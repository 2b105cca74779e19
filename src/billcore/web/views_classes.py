"""The customer class pages (CC-01 … CC-22): the list, add (with "Save & Add a copy"), the
class form with all its tabs, and delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import Actor, is_admin
from billcore.classes.models import CustomerClass
from billcore.classes.selectors import get_class, list_classes, usage_counts
from billcore.classes.services import (
    SIMPLE_FIELDS,
    copy_data,
    create_class,
    delete_class,
    update_class,
)
from billcore.errors import BillcoreError, NotFound
from billcore.installation.models import BusinessModel, Currency, CustomField
from billcore.installation.services import get_settings
from billcore.web import base, confirm, exports
from billcore.web.base import fail, not_found, page, paginate, query, query_id, reseller_choices
from billcore.web.forms import ClassForm, class_initial, clerk_text
from billcore.web.measured_page import MeasuredForm
from billcore.web.measured_page import class_context as measured_class_context


def class_form_options(actor: Actor) -> dict[str, Any]:
    installation = get_settings()
    admin = is_admin(actor)
    return {
        "is_admin": admin,
        "allow_external_billing": installation.allow_external_billing,
        "show_financial_documents_page": installation.show_financial_documents_page,
        "currencies": [(c.code, f"{c.code} — {c.name}") for c in Currency.objects.all()],
        "business_models": list(BusinessModel.objects.values_list("id", "name")),
        "resellers": reseller_choices(actor) if admin else [],
        "custom_fields": list(CustomField.objects.values_list("name", "label")),
    }


def class_page(
    request: HttpRequest,
    form: ClassForm,
    cls: CustomerClass | None,
    *,
    status: int = 200,
    measured_form: MeasuredForm | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "cls": cls,
        "installation": get_settings(),
        "used_by": usage_counts([cls.pk]).get(cls.pk, 0) if cls else 0,
        **measured_class_context(request, cls, form=measured_form),  # issue 14
    }
    return render(request, "web/class_form.html", context, status=status)


@page
def class_list(request: HttpRequest) -> HttpResponse:
    """CC-01: Name, Currency, Archive xDRs, Invoices, Taxation, Description, Managed by."""
    search = query(request, "q").strip()
    classes = list_classes(actor=request.user, search=search, order=query(request, "order"))
    if exports.wanted(request):
        header = (
            "id",
            "name",
            "currency",
            "statistics",
            "invoices",
            "taxation",
            "description",
            "managed_by",
        )
        rows = (
            (
                c.pk,
                c.name,
                c.currency_id,
                c.generate_statistics,
                c.generate_regular_invoices,
                c.taxation_method,
                c.description,
                c.managed_by.name if c.managed_by else "",
            )
            for c in exports.rows_of(classes)
        )
        return exports.csv_response("customer-classes.csv", header, rows)
    return render(
        request,
        "web/class_list.html",
        {"page": paginate(request, classes), "q": search, "default_order": "name"},
    )


@page
@require_http_methods(["GET", "POST"])
def class_add(request: HttpRequest) -> HttpResponse:
    """CC-03: Save (back to the list), Save & Edit details, Save & Add a copy."""
    actor = request.user
    options = class_form_options(actor)
    if request.method == "POST":
        form = ClassForm(request.POST, is_new=True, **options)
        try:
            cls = create_class(actor=actor, now=base.now(), data=form.posted())
        except BillcoreError as exc:
            return class_page(request, form, None, status=fail(form, exc))
        messages.success(request, f"Customer class “{cls.name}” saved.")
        if "_continue" in request.POST:
            return redirect("class-edit", class_id=cls.pk)
        if "_addanother" in request.POST:
            return redirect(f"{reverse('class-add')}?copy_from={cls.pk}")
        return redirect("class-list")
    copy_from = request.GET.get("copy_from")  # only ever parsed by query_id()
    if copy_from is not None:
        source_id = query_id(copy_from)
        if source_id is None:
            return not_found(request)
        initial = class_initial(copy_data(get_class(actor=actor, class_id=source_id)))
    else:
        blank = CustomerClass()
        initial = class_initial({name: getattr(blank, name) for name in SIMPLE_FIELDS})
    return class_page(request, ClassForm(initial=initial, is_new=True, **options), None)


@page
@require_http_methods(["GET", "POST"])
def class_edit(request: HttpRequest, class_id: int) -> HttpResponse:
    """All tabs of CC-22 in one form; the currency is shown, never posted (CC-06)."""
    actor = request.user
    cls = get_class(actor=actor, class_id=class_id)
    options = class_form_options(actor)
    if request.method == "POST":
        form = ClassForm(request.POST, is_new=False, **options)
        try:
            cls = update_class(actor=actor, now=base.now(), class_id=cls.pk, changes=form.posted())
        except BillcoreError as exc:
            return class_page(request, form, cls, status=fail(form, exc))
        messages.success(request, f"Customer class “{cls.name}” saved.")
        if "_save" in request.POST:
            return redirect("class-list")
        return redirect("class-edit", class_id=cls.pk)
    initial = class_initial({**copy_data(cls), "name": cls.name})
    return class_page(request, ClassForm(initial=initial, is_new=False, **options), cls)


@page
@require_POST
def class_delete(request: HttpRequest, class_id: int) -> HttpResponse:
    """CC-02: the Default class and classes in use cannot be deleted (the service says)."""
    cls = get_class(actor=request.user, class_id=class_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Delete customer class",
            question=f"Delete the customer class “{cls.name}”? This cannot be undone.",
            button="Delete",
            back_url=reverse("class-edit", args=[cls.pk]),
        )
    try:
        delete_class(actor=request.user, now=base.now(), class_id=cls.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
        return redirect("class-edit", class_id=cls.pk)
    messages.success(request, f"Customer class “{cls.name}” deleted.")
    return redirect("class-list")
