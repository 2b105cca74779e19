"""The installation pages (administrators only): business models (CC-05) and the installation
settings with its currencies and custom fields."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from billcore.accounts.access import is_admin
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
from billcore.web import base, confirm, exports
from billcore.web.base import admin_page, fail, not_found
from billcore.web.forms import (
    BusinessModelForm,
    CurrencyForm,
    CustomFieldForm,
    SettingsForm,
    clerk_text,
)

# --------------------------------------------------------------------------- business models


@admin_page
def business_model_list(request: HttpRequest) -> HttpResponse:
    """CC-05: the catalogue the administrator maintains."""
    models = BusinessModel.objects.annotate(used_by=Count("customerclass")).order_by("name")
    if exports.wanted(request):
        rows = ((m.pk, m.name, m.description, m.used_by) for m in exports.rows_of(models))
        header = ("id", "name", "description", "customer_classes")
        return exports.csv_response("business-models.csv", header, rows)
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
                now=base.now(),
                name=data.get("name"),
                description=data.get("description", ""),
            )
        except BillcoreError as exc:
            return _business_model_page(request, form, None, fail(form, exc))
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
                now=base.now(),
                business_model_id=bm.pk,
                changes=form.posted(),
            )
        except BillcoreError as exc:
            return _business_model_page(request, form, bm, fail(form, exc))
        messages.success(request, f"Business model “{bm.name}” saved.")
        return redirect("business-model-list")
    form = BusinessModelForm(initial={"name": bm.name, "description": bm.description})
    return _business_model_page(request, form, bm)


@admin_page
@require_POST
def business_model_delete(request: HttpRequest, business_model_id: int) -> HttpResponse:
    bm = _business_model(business_model_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Delete business model",
            question=f"Delete the business model “{bm.name}”? This cannot be undone.",
            button="Delete",
            back_url=reverse("business-model-edit", args=[bm.pk]),
        )
    try:
        delete_business_model(actor=request.user, now=base.now(), business_model_id=bm.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
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
            update_settings(actor=request.user, now=base.now(), changes=form.posted())
        except BillcoreError as exc:
            return _settings_page(request, form=form, status=fail(form, exc))
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
            actor=request.user, now=base.now(), code=data["code"], decimals=data["decimals"]
        )
    except BillcoreError as exc:
        return _settings_page(request, currency_form=form, status=fail(form, exc))
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
        remove_currency(actor=request.user, now=base.now(), code=code)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, clerk_text(exc.message))
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
            now=base.now(),
            name=data.get("name"),
            label=data.get("label"),
            field_type=data.get("field_type", "text"),
            choices=data["choices"],
        )
    except BillcoreError as exc:
        return _settings_page(request, custom_field_form=form, status=fail(form, exc))
    messages.success(request, f"Custom field “{cf.label}” added.")
    return redirect(reverse("settings") + "#custom-fields")


# --------------------------------------------------------------------------- sign-in


class SignInView(LoginView):
    """The sign-in page (``/login/``); an administrator signing in while the seller's legal
    name or From address is missing lands on Settings#seller to fill them in (issue 17 §6).
    A ``next`` given explicitly (a link followed before signing in) still wins: the page
    asked for is where the user goes, and every administrator page shows the banner."""

    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        asked = self.get_redirect_url()  # a safe ``next``, or ""
        if asked:
            return asked
        if is_admin(self.request.user) and get_settings().missing_seller_details():
            return reverse("settings") + "#seller"
        return super().get_success_url()
